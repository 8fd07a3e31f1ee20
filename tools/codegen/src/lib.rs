//! nimbus-codegen: turns the botocore service models under `models/` into the Rust
//! modules under `crates/model/src/generated/` (types, operation enum, service trait,
//! dispatcher, decoders with AWS's constraint checks, encoders).
//!
//! The generated files are committed; `tests/up_to_date.rs` regenerates them in memory
//! and fails when they differ, so a model or generator change cannot be forgotten.

pub mod gen;
pub mod model;
pub mod names;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};

/// What the generator needs to know about a service beyond its model.
pub struct ServiceSpec {
    /// `models/<model_dir>/service-2.json`.
    pub model_dir: &'static str,
    /// The module name under `nimbus_model`.
    pub module: &'static str,
    /// The service trait's name.
    pub trait_name: &'static str,
    /// awsJson: the namespace service errors are qualified with in `__type`.
    pub error_prefix: Option<&'static str>,
    /// The Java package of AWS's model classes, named in serialization errors and in
    /// echoed values (`com.amazonaws.dynamodb.v20120810.KeySchemaElement`).
    pub java_ns: &'static str,
    /// Shapes whose contents AWS does not constraint-check. DynamoDB validates
    /// `AttributeValue`s itself, with its own messages, after the request layer.
    pub unvalidated_roots: &'static [&'static str],
    /// Shapes AWS echoes as `class@hash` rather than field by field.
    pub identity_render: &'static [&'static str],
    /// `(shape, name_shape)`: values of `shape` are checked against its own rules when
    /// they are ARNs (start with `arn:`) and against `name_shape`'s rules otherwise.
    /// DynamoDB's `TableName` members accept a table ARN since 2023, yet a plain name
    /// still gets the 3..255 length and pattern checks.
    pub name_or_arn: Option<(&'static str, &'static str)>,
    /// Enums whose value set AWS prints in an order other than the model's, as
    /// observed on the wire.
    pub enum_order: &'static [(&'static str, &'static [&'static str])],
    /// `(shape, min)`: length minimums AWS enforces that the public model omits.
    pub min_overrides: &'static [(&'static str, i64)],
    /// restJson/restXml services: how the rest protocol layer words its errors.
    pub rest: Option<RestSpec>,
}

/// Facts about a rest-protocol service the model does not state.
pub struct RestSpec {
    /// Code of the error for a body that is not JSON or has a wrongly typed member.
    pub bad_body_code: &'static str,
    /// Prefix of that error's message.
    pub bad_body_prefix: &'static str,
    /// `Content-Type` of a blob payload in a response.
    pub blob_content_type: &'static str,
}

/// The services generated today.
pub const SERVICES: &[ServiceSpec] = &[
    ServiceSpec {
        model_dir: "dynamodb/2012-08-10",
        module: "dynamodb",
        trait_name: "DynamoDbApi",
        error_prefix: Some("com.amazonaws.dynamodb.v20120810"),
        java_ns: "com.amazonaws.dynamodb.v20120810",
        unvalidated_roots: &["AttributeValue"],
        identity_render: &["AttributeValue"],
        name_or_arn: Some(("TableArn", "TableName")),
        enum_order: &[
            ("ScalarAttributeType", &["B", "N", "S"]),
            (
                "StreamViewType",
                &["OLD_IMAGE", "KEYS_ONLY", "NEW_AND_OLD_IMAGES", "NEW_IMAGE"],
            ),
        ],
        // `Value '' at 'sSESpecification.kMSMasterKeyId' ... greater than or equal to 1`.
        min_overrides: &[("KMSMasterKeyId", 1)],
        rest: None,
    },
    ServiceSpec {
        model_dir: "dynamodbstreams/2012-08-10",
        module: "dynamodbstreams",
        trait_name: "DynamoDbStreamsApi",
        error_prefix: Some("com.amazonaws.dynamodb.v20120810"),
        java_ns: "com.amazonaws.dynamodb.v20120810",
        unvalidated_roots: &["AttributeValue"],
        identity_render: &["AttributeValue"],
        name_or_arn: None,
        enum_order: &[],
        min_overrides: &[],
        rest: None,
    },
    ServiceSpec {
        model_dir: "sts/2011-06-15",
        module: "sts",
        trait_name: "StsApi",
        error_prefix: None,
        java_ns: "com.amazonaws.sts",
        unvalidated_roots: &[],
        identity_render: &[],
        name_or_arn: None,
        enum_order: &[],
        min_overrides: &[],
        rest: None,
    },
    ServiceSpec {
        model_dir: "iam/2010-05-08",
        module: "iam",
        trait_name: "IamApi",
        error_prefix: None,
        java_ns: "com.amazonaws.iam",
        unvalidated_roots: &[],
        identity_render: &[],
        name_or_arn: None,
        enum_order: &[],
        min_overrides: &[],
        rest: None,
    },
    ServiceSpec {
        model_dir: "logs/2014-03-28",
        module: "logs",
        trait_name: "LogsApi",
        error_prefix: None,
        java_ns: "com.amazonaws.logs",
        unvalidated_roots: &[],
        identity_render: &[],
        name_or_arn: None,
        enum_order: &[],
        min_overrides: &[],
        rest: None,
    },
    ServiceSpec {
        model_dir: "lambda/2015-03-31",
        module: "lambda",
        trait_name: "LambdaApi",
        error_prefix: None,
        java_ns: "com.amazonaws.lambda",
        unvalidated_roots: &[],
        identity_render: &[],
        name_or_arn: None,
        enum_order: &[],
        min_overrides: &[],
        // Lambda answers a body it cannot read with `InvalidRequestContentException`
        // ("Could not parse request body into json: Unexpected character ..."), and
        // sends Invoke payloads as application/json.
        rest: Some(RestSpec {
            bad_body_code: "InvalidRequestContentException",
            bad_body_prefix: "Could not parse request body into json: ",
            blob_content_type: "application/json",
        }),
    },
];

/// The repository root (two levels above this crate).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

pub fn model_path(root: &Path, spec: &ServiceSpec) -> PathBuf {
    root.join("models")
        .join(spec.model_dir)
        .join("service-2.json")
}

pub fn output_path(root: &Path, spec: &ServiceSpec) -> PathBuf {
    root.join("crates/model/src/generated")
        .join(format!("{}.rs", spec.module))
}

/// Generates one service's module, formatted.
pub fn generate(root: &Path, spec: &ServiceSpec) -> Result<String> {
    let path = model_path(root, spec);
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let mut model: model::Model =
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    patch_model(spec, &mut model)?;
    let source = format!("models/{}/service-2.json", spec.model_dir);
    let mut g = gen::Gen::new(spec, &model)?;
    let code = g.generate_code(&source)?;
    rustfmt(&code)
}

/// Applies the spec's corrections of the public model (constraints AWS enforces that
/// the published model leaves out).
fn patch_model(spec: &ServiceSpec, model: &mut model::Model) -> Result<()> {
    for (shape, min) in spec.min_overrides {
        let s = model
            .shapes
            .get_mut(*shape)
            .with_context(|| format!("min override for unknown shape {shape}"))?;
        s.min = Some(serde_json::Number::from(*min));
    }
    Ok(())
}

/// The model patterns of a service that could not be translated to `regex` syntax.
pub fn skipped_patterns(root: &Path, spec: &ServiceSpec) -> Result<Vec<String>> {
    let path = model_path(root, spec);
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let mut model: model::Model = serde_json::from_str(&text)?;
    patch_model(spec, &mut model)?;
    let mut g = gen::Gen::new(spec, &model)?;
    let _ = g.generate_code("")?;
    Ok(g.skipped_patterns)
}

/// Formats code with the toolchain's rustfmt (edition 2021, default style).
pub fn rustfmt(code: &str) -> Result<String> {
    let mut child = Command::new(std::env::var("RUSTFMT").unwrap_or_else(|_| "rustfmt".into()))
        .args(["--edition", "2021", "--emit", "stdout", "--quiet"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("running rustfmt (install it with `rustup component add rustfmt`)")?;
    let mut stdin = child.stdin.take().context("rustfmt stdin")?;
    let input = code.to_string();
    // Write from a thread: rustfmt may fill its stdout pipe before reading all input.
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = child.wait_with_output().context("waiting for rustfmt")?;
    writer
        .join()
        .map_err(|_| anyhow::anyhow!("rustfmt writer thread panicked"))?
        .context("writing to rustfmt")?;
    if !out.status.success() {
        bail!("rustfmt failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    String::from_utf8(out.stdout).context("rustfmt output is not UTF-8")
}
