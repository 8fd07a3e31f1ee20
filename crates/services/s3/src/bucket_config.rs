//! Bucket configurations: CORS, policy, public access block, default encryption,
//! lifecycle, website, notification, ownership controls, transfer acceleration, request
//! payment and server access logging. Each lives under its own key
//! (`keys::bucket_config(bucket, kind)`) as the s3s DTO serialized to JSON (the DTOs
//! derive serde), so a large configuration is never rewritten with the bucket record.

use nimbus_store::{ReadTxn, WriteTxn};
use s3s::dto::*;
use s3s::{S3Error, S3Request, S3Response, S3Result};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::buckets::{err, require_owned};
use crate::error::{decode, encode, Error};
use crate::keys;
use crate::S3State;

pub const KIND_CORS: &str = "cors";
pub const KIND_POLICY: &str = "policy";
pub const KIND_PAB: &str = "public-access-block";
pub const KIND_ENCRYPTION: &str = "encryption";
pub const KIND_LIFECYCLE: &str = "lifecycle";
pub const KIND_WEBSITE: &str = "website";
pub const KIND_NOTIFICATION: &str = "notification";
pub const KIND_ACCELERATE: &str = "accelerate";
pub const KIND_REQUEST_PAYMENT: &str = "request-payment";
pub const KIND_LOGGING: &str = "logging";

/// Reads one stored configuration.
pub fn load<T: DeserializeOwned>(
    txn: &dyn ReadTxn,
    bucket: &str,
    kind: &str,
) -> Result<Option<T>, Error> {
    match txn.get(&keys::bucket_config(bucket, kind))? {
        Some(v) => Ok(Some(decode(kind, &v)?)),
        None => Ok(None),
    }
}

/// Whether the bucket's public access block refuses public ACLs.
pub fn blocks_public_acls(txn: &dyn ReadTxn, bucket: &str) -> Result<bool, Error> {
    let pab: Option<PublicAccessBlockConfiguration> = load(txn, bucket, KIND_PAB)?;
    Ok(pab.is_some_and(|p| p.block_public_acls == Some(true)))
}

/// Stores `value` as the bucket's `kind` configuration (one transaction, after checking
/// the bucket exists and is the caller's).
async fn store<T: Serialize + Clone + Send + Sync + 'static, I>(
    state: &S3State,
    req: &S3Request<I>,
    bucket: &str,
    kind: &'static str,
    value: T,
) -> S3Result<()> {
    let caller = state.caller(req);
    let bucket = bucket.to_string();
    state
        .db
        .write(move |txn| -> Result<(), Error> {
            require_owned(txn, &bucket, &caller)?;
            txn.put(&keys::bucket_config(&bucket, kind), &encode(&value))?;
            Ok(())
        })
        .await?;
    Ok(())
}

async fn remove<I>(
    state: &S3State,
    req: &S3Request<I>,
    bucket: &str,
    kind: &'static str,
) -> S3Result<()> {
    let caller = state.caller(req);
    let bucket = bucket.to_string();
    state
        .db
        .write(move |txn| -> Result<(), Error> {
            require_owned(txn, &bucket, &caller)?;
            txn.delete(&keys::bucket_config(&bucket, kind))?;
            Ok(())
        })
        .await?;
    Ok(())
}

fn fetch<T: DeserializeOwned, I>(
    state: &S3State,
    req: &S3Request<I>,
    bucket: &str,
    kind: &str,
) -> S3Result<Option<T>> {
    let caller = state.caller(req);
    let snap = state.db.snapshot().map_err(Error::from)?;
    require_owned(snap.as_ref(), bucket, &caller)?;
    Ok(load(snap.as_ref(), bucket, kind)?)
}

fn no_content<T>(out: T) -> S3Response<T> {
    S3Response::with_status(out, http::StatusCode::NO_CONTENT)
}

fn malformed_xml() -> S3Error {
    err(
        "MalformedXML",
        "The XML you provided was not well-formed or did not validate against our published schema",
        400,
    )
}

// ---------------------------------------------------------------- CORS

/// Most CORS rules a bucket may have.
pub const MAX_CORS_RULES: usize = 100;

fn validate_cors(c: &CORSConfiguration) -> S3Result<()> {
    if c.cors_rules.is_empty() || c.cors_rules.len() > MAX_CORS_RULES {
        return Err(malformed_xml());
    }
    for r in &c.cors_rules {
        if r.allowed_methods.is_empty() || r.allowed_origins.is_empty() {
            return Err(malformed_xml());
        }
        for m in &r.allowed_methods {
            if !matches!(m.as_str(), "GET" | "PUT" | "HEAD" | "POST" | "DELETE") {
                return Err(err(
                    "InvalidRequest",
                    format!(
                        "Found unsupported HTTP method in CORS config. Unsupported method is {m}"
                    ),
                    400,
                ));
            }
        }
        for o in &r.allowed_origins {
            if o.matches('*').count() > 1 {
                return Err(err(
                    "InvalidRequest",
                    format!("AllowedOrigin \"{o}\" can not have more than one wildcard."),
                    400,
                ));
            }
        }
        for h in r.allowed_headers.iter().flatten() {
            if h.matches('*').count() > 1 {
                return Err(err(
                    "InvalidRequest",
                    format!("AllowedHeader \"{h}\" can not have more than one wildcard."),
                    400,
                ));
            }
        }
        if r.id.as_ref().is_some_and(|id| id.chars().count() > 255) {
            return Err(err(
                "InvalidArgument",
                "ID length should not exceed allowed limit of 255",
                400,
            ));
        }
    }
    Ok(())
}

pub fn no_such_cors() -> S3Error {
    err(
        "NoSuchCORSConfiguration",
        "The CORS configuration does not exist",
        404,
    )
}

pub async fn get_bucket_cors(
    state: &S3State,
    req: S3Request<GetBucketCorsInput>,
) -> S3Result<S3Response<GetBucketCorsOutput>> {
    let c: CORSConfiguration =
        fetch(state, &req, &req.input.bucket, KIND_CORS)?.ok_or_else(no_such_cors)?;
    Ok(S3Response::new(GetBucketCorsOutput {
        cors_rules: Some(c.cors_rules),
    }))
}

pub async fn put_bucket_cors(
    state: &S3State,
    req: S3Request<PutBucketCorsInput>,
) -> S3Result<S3Response<PutBucketCorsOutput>> {
    validate_cors(&req.input.cors_configuration)?;
    let c = req.input.cors_configuration.clone();
    store(state, &req, &req.input.bucket, KIND_CORS, c).await?;
    Ok(S3Response::new(PutBucketCorsOutput::default()))
}

pub async fn delete_bucket_cors(
    state: &S3State,
    req: S3Request<DeleteBucketCorsInput>,
) -> S3Result<S3Response<DeleteBucketCorsOutput>> {
    remove(state, &req, &req.input.bucket, KIND_CORS).await?;
    Ok(no_content(DeleteBucketCorsOutput::default()))
}

// ---------------------------------------------------------------- policy

fn malformed_policy(msg: &str) -> S3Error {
    err("MalformedPolicy", msg, 400)
}

/// Checks a bucket policy the way S3 does before storing it: JSON, an object, with a
/// `Statement` whose entries have `Effect` Allow/Deny. Enforcement comes with IAM.
pub fn validate_policy(policy: &str) -> S3Result<serde_json::Value> {
    if !policy.trim_start().starts_with('{') {
        return Err(malformed_policy(
            "Policies must be valid JSON and the first byte must be '{'",
        ));
    }
    let v: serde_json::Value = serde_json::from_str(policy).map_err(|_| {
        malformed_policy("Policies must be valid JSON and the first byte must be '{'")
    })?;
    let Some(stmt) = v.get("Statement") else {
        return Err(malformed_policy("Missing required field Statement"));
    };
    let stmts: Vec<&serde_json::Value> = match stmt {
        serde_json::Value::Array(a) => a.iter().collect(),
        o @ serde_json::Value::Object(_) => vec![o],
        _ => return Err(malformed_policy("Missing required field Statement")),
    };
    if stmts.is_empty() {
        return Err(malformed_policy(
            "Could not parse the policy: Statement is empty!",
        ));
    }
    for s in stmts {
        match s.get("Effect").and_then(|e| e.as_str()) {
            Some("Allow") | Some("Deny") => {}
            Some(_) => return Err(malformed_policy("Invalid effect: must be Allow or Deny")),
            None => return Err(malformed_policy("Missing required field Effect")),
        }
        if s.get("Principal").is_none() && s.get("NotPrincipal").is_none() {
            return Err(malformed_policy("Missing required field Principal"));
        }
        if s.get("Action").is_none() && s.get("NotAction").is_none() {
            return Err(malformed_policy("Missing required field Action"));
        }
        if s.get("Resource").is_none() && s.get("NotResource").is_none() {
            return Err(malformed_policy("Missing required field Resource"));
        }
    }
    Ok(v)
}

/// Whether a policy grants anything to everyone (an Allow for `*` without conditions).
pub fn policy_is_public(v: &serde_json::Value) -> bool {
    let stmts: Vec<&serde_json::Value> = match v.get("Statement") {
        Some(serde_json::Value::Array(a)) => a.iter().collect(),
        Some(o) => vec![o],
        None => vec![],
    };
    stmts.iter().any(|s| {
        let allow = s.get("Effect").and_then(|e| e.as_str()) == Some("Allow");
        let everyone = match s.get("Principal") {
            Some(serde_json::Value::String(p)) => p == "*",
            Some(serde_json::Value::Object(o)) => o.get("AWS").is_some_and(|a| match a {
                serde_json::Value::String(p) => p == "*",
                serde_json::Value::Array(l) => l.iter().any(|p| p.as_str() == Some("*")),
                _ => false,
            }),
            _ => false,
        };
        allow && everyone && s.get("Condition").is_none()
    })
}

fn no_such_policy() -> S3Error {
    err(
        "NoSuchBucketPolicy",
        "The bucket policy does not exist",
        404,
    )
}

pub async fn get_bucket_policy(
    state: &S3State,
    req: S3Request<GetBucketPolicyInput>,
) -> S3Result<S3Response<GetBucketPolicyOutput>> {
    let p: String =
        fetch(state, &req, &req.input.bucket, KIND_POLICY)?.ok_or_else(no_such_policy)?;
    Ok(S3Response::new(GetBucketPolicyOutput { policy: Some(p) }))
}

pub async fn put_bucket_policy(
    state: &S3State,
    req: S3Request<PutBucketPolicyInput>,
) -> S3Result<S3Response<PutBucketPolicyOutput>> {
    let v = validate_policy(&req.input.policy)?;
    let public = policy_is_public(&v);
    let caller = state.caller(&req);
    let bucket = req.input.bucket.clone();
    let policy = req.input.policy.clone();
    state
        .db
        .write(move |txn| -> Result<(), Error> {
            require_owned(txn, &bucket, &caller)?;
            let pab: Option<PublicAccessBlockConfiguration> = load(txn, &bucket, KIND_PAB)?;
            if public && pab.is_some_and(|p| p.block_public_policy == Some(true)) {
                return Err(Error::S3(crate::buckets::access_denied()));
            }
            txn.put(&keys::bucket_config(&bucket, KIND_POLICY), &encode(&policy))?;
            Ok(())
        })
        .await?;
    Ok(no_content(PutBucketPolicyOutput::default()))
}

pub async fn delete_bucket_policy(
    state: &S3State,
    req: S3Request<DeleteBucketPolicyInput>,
) -> S3Result<S3Response<DeleteBucketPolicyOutput>> {
    remove(state, &req, &req.input.bucket, KIND_POLICY).await?;
    Ok(no_content(DeleteBucketPolicyOutput::default()))
}

pub async fn get_bucket_policy_status(
    state: &S3State,
    req: S3Request<GetBucketPolicyStatusInput>,
) -> S3Result<S3Response<GetBucketPolicyStatusOutput>> {
    let p: String =
        fetch(state, &req, &req.input.bucket, KIND_POLICY)?.ok_or_else(no_such_policy)?;
    let public = serde_json::from_str::<serde_json::Value>(&p)
        .map(|v| policy_is_public(&v))
        .unwrap_or(false);
    Ok(S3Response::new(GetBucketPolicyStatusOutput {
        policy_status: Some(PolicyStatus {
            is_public: Some(public),
        }),
    }))
}

// ---------------------------------------------------------------- public access block

pub async fn get_public_access_block(
    state: &S3State,
    req: S3Request<GetPublicAccessBlockInput>,
) -> S3Result<S3Response<GetPublicAccessBlockOutput>> {
    let p: PublicAccessBlockConfiguration = fetch(state, &req, &req.input.bucket, KIND_PAB)?
        .ok_or_else(|| {
            err(
                "NoSuchPublicAccessBlockConfiguration",
                "The public access block configuration was not found",
                404,
            )
        })?;
    Ok(S3Response::new(GetPublicAccessBlockOutput {
        public_access_block_configuration: Some(p),
    }))
}

pub async fn put_public_access_block(
    state: &S3State,
    req: S3Request<PutPublicAccessBlockInput>,
) -> S3Result<S3Response<PutPublicAccessBlockOutput>> {
    let c = req.input.public_access_block_configuration.clone();
    // S3 reports every flag, unset ones as false.
    let c = PublicAccessBlockConfiguration {
        block_public_acls: Some(c.block_public_acls.unwrap_or(false)),
        block_public_policy: Some(c.block_public_policy.unwrap_or(false)),
        ignore_public_acls: Some(c.ignore_public_acls.unwrap_or(false)),
        restrict_public_buckets: Some(c.restrict_public_buckets.unwrap_or(false)),
    };
    store(state, &req, &req.input.bucket, KIND_PAB, c).await?;
    Ok(S3Response::new(PutPublicAccessBlockOutput::default()))
}

pub async fn delete_public_access_block(
    state: &S3State,
    req: S3Request<DeletePublicAccessBlockInput>,
) -> S3Result<S3Response<DeletePublicAccessBlockOutput>> {
    remove(state, &req, &req.input.bucket, KIND_PAB).await?;
    Ok(no_content(DeletePublicAccessBlockOutput::default()))
}

// ---------------------------------------------------------------- encryption

/// SSE-S3, which every bucket has by default since January 2023.
fn default_encryption() -> ServerSideEncryptionConfiguration {
    ServerSideEncryptionConfiguration {
        rules: vec![ServerSideEncryptionRule {
            apply_server_side_encryption_by_default: Some(ServerSideEncryptionByDefault {
                kms_master_key_id: None,
                sse_algorithm: ServerSideEncryption::from_static(ServerSideEncryption::AES256),
            }),
            bucket_key_enabled: Some(false),
        }],
    }
}

pub async fn get_bucket_encryption(
    state: &S3State,
    req: S3Request<GetBucketEncryptionInput>,
) -> S3Result<S3Response<GetBucketEncryptionOutput>> {
    let c: Option<ServerSideEncryptionConfiguration> =
        fetch(state, &req, &req.input.bucket, KIND_ENCRYPTION)?;
    Ok(S3Response::new(GetBucketEncryptionOutput {
        server_side_encryption_configuration: Some(c.unwrap_or_else(default_encryption)),
    }))
}

pub async fn put_bucket_encryption(
    state: &S3State,
    req: S3Request<PutBucketEncryptionInput>,
) -> S3Result<S3Response<PutBucketEncryptionOutput>> {
    let c = req.input.server_side_encryption_configuration.clone();
    if c.rules.is_empty() {
        return Err(malformed_xml());
    }
    for r in &c.rules {
        if let Some(d) = &r.apply_server_side_encryption_by_default {
            match d.sse_algorithm.as_str() {
                "AES256" => {
                    if d.kms_master_key_id.is_some() {
                        return Err(err(
                            "InvalidArgument",
                            "a KMSMasterKeyID is not applicable if the default sse algorithm is not aws:kms or aws:kms:dsse",
                            400,
                        ));
                    }
                }
                "aws:kms" | "aws:kms:dsse" => {}
                _ => return Err(malformed_xml()),
            }
        }
    }
    store(state, &req, &req.input.bucket, KIND_ENCRYPTION, c).await?;
    Ok(S3Response::new(PutBucketEncryptionOutput::default()))
}

pub async fn delete_bucket_encryption(
    state: &S3State,
    req: S3Request<DeleteBucketEncryptionInput>,
) -> S3Result<S3Response<DeleteBucketEncryptionOutput>> {
    remove(state, &req, &req.input.bucket, KIND_ENCRYPTION).await?;
    Ok(no_content(DeleteBucketEncryptionOutput::default()))
}

// ---------------------------------------------------------------- lifecycle

fn invalid_argument(msg: impl Into<String>) -> S3Error {
    err("InvalidArgument", msg, 400)
}

fn is_midnight_utc(t: &Timestamp) -> bool {
    let t: time::OffsetDateTime = t.clone().into();
    let t = t.to_offset(time::UtcOffset::UTC);
    t.hour() == 0 && t.minute() == 0 && t.second() == 0 && t.nanosecond() == 0
}

/// S3's lifecycle configuration rules (the subset that matters for what we execute).
pub fn validate_lifecycle(c: &BucketLifecycleConfiguration) -> S3Result<()> {
    if c.rules.is_empty() || c.rules.len() > 1000 {
        return Err(malformed_xml());
    }
    let mut ids: Vec<&str> = Vec::new();
    for r in &c.rules {
        if let Some(id) = &r.id {
            if id.chars().count() > 255 {
                return Err(invalid_argument(
                    "ID length should not exceed allowed limit of 255",
                ));
            }
            if ids.contains(&id.as_str()) {
                return Err(invalid_argument(
                    "Rule ID must be unique. Found same ID for more than one rule",
                ));
            }
            ids.push(id);
        }
        if !matches!(r.status.as_str(), "Enabled" | "Disabled") {
            return Err(malformed_xml());
        }
        if r.filter.is_some() && r.prefix.is_some() {
            return Err(malformed_xml());
        }
        let mut has_tags = false;
        if let Some(f) = &r.filter {
            let set = usize::from(f.prefix.is_some())
                + usize::from(f.tag.is_some())
                + usize::from(f.and.is_some())
                + usize::from(f.object_size_greater_than.is_some())
                + usize::from(f.object_size_less_than.is_some());
            if set > 1 {
                return Err(malformed_xml());
            }
            has_tags = f.tag.is_some()
                || f.and
                    .as_ref()
                    .is_some_and(|a| a.tags.as_ref().is_some_and(|t| !t.is_empty()));
        }
        let actions = usize::from(r.expiration.is_some())
            + usize::from(r.noncurrent_version_expiration.is_some())
            + usize::from(r.abort_incomplete_multipart_upload.is_some())
            + usize::from(r.transitions.as_ref().is_some_and(|t| !t.is_empty()))
            + usize::from(
                r.noncurrent_version_transitions
                    .as_ref()
                    .is_some_and(|t| !t.is_empty()),
            );
        if actions == 0 {
            return Err(err(
                "InvalidRequest",
                "At least one action needs to be specified in a rule",
                400,
            ));
        }
        if let Some(e) = &r.expiration {
            let n = usize::from(e.days.is_some())
                + usize::from(e.date.is_some())
                + usize::from(e.expired_object_delete_marker.is_some());
            if n != 1 {
                return Err(malformed_xml());
            }
            if e.days.is_some_and(|d| d <= 0) {
                return Err(invalid_argument(
                    "'Days' for Expiration action must be a positive integer",
                ));
            }
            if e.date.as_ref().is_some_and(|d| !is_midnight_utc(d)) {
                return Err(invalid_argument("'Date' must be at midnight GMT"));
            }
            if e.expired_object_delete_marker.is_some() && has_tags {
                return Err(invalid_argument(
                    "ExpiredObjectDeleteMarker cannot be specified with tags.",
                ));
            }
        }
        if let Some(n) = &r.noncurrent_version_expiration {
            match n.noncurrent_days {
                Some(d) if d > 0 => {}
                _ => {
                    return Err(invalid_argument(
                        "'NoncurrentDays' for NoncurrentVersionExpiration action must be a positive integer",
                    ))
                }
            }
            if n.newer_noncurrent_versions
                .is_some_and(|v| !(1..=100).contains(&v))
            {
                return Err(invalid_argument(
                    "'NewerNoncurrentVersions' for NoncurrentVersionExpiration action must be a positive integer up to 100",
                ));
            }
        }
        if let Some(a) = &r.abort_incomplete_multipart_upload {
            match a.days_after_initiation {
                Some(d) if d > 0 => {}
                _ => {
                    return Err(invalid_argument(
                        "'DaysAfterInitiation' for AbortIncompleteMultipartUpload action must be a positive integer",
                    ))
                }
            }
            if has_tags {
                return Err(invalid_argument(
                    "AbortIncompleteMultipartUpload cannot be specified with Tags.",
                ));
            }
        }
        for t in r.transitions.iter().flatten() {
            if t.days.is_some() == t.date.is_some() {
                return Err(malformed_xml());
            }
            if t.days.is_some_and(|d| d < 0) {
                return Err(invalid_argument(
                    "'Days' in Transition action must be nonnegative",
                ));
            }
            if t.storage_class.is_none() {
                return Err(malformed_xml());
            }
        }
    }
    Ok(())
}

pub async fn get_bucket_lifecycle_configuration(
    state: &S3State,
    req: S3Request<GetBucketLifecycleConfigurationInput>,
) -> S3Result<S3Response<GetBucketLifecycleConfigurationOutput>> {
    let c: BucketLifecycleConfiguration = fetch(state, &req, &req.input.bucket, KIND_LIFECYCLE)?
        .ok_or_else(|| {
            err(
                "NoSuchLifecycleConfiguration",
                "The lifecycle configuration does not exist",
                404,
            )
        })?;
    Ok(S3Response::new(GetBucketLifecycleConfigurationOutput {
        rules: Some(c.rules),
        transition_default_minimum_object_size: None,
    }))
}

pub async fn put_bucket_lifecycle_configuration(
    state: &S3State,
    req: S3Request<PutBucketLifecycleConfigurationInput>,
) -> S3Result<S3Response<PutBucketLifecycleConfigurationOutput>> {
    let Some(c) = req.input.lifecycle_configuration.clone() else {
        return Err(malformed_xml());
    };
    validate_lifecycle(&c)?;
    store(state, &req, &req.input.bucket, KIND_LIFECYCLE, c).await?;
    Ok(S3Response::new(
        PutBucketLifecycleConfigurationOutput::default(),
    ))
}

pub async fn delete_bucket_lifecycle(
    state: &S3State,
    req: S3Request<DeleteBucketLifecycleInput>,
) -> S3Result<S3Response<DeleteBucketLifecycleOutput>> {
    remove(state, &req, &req.input.bucket, KIND_LIFECYCLE).await?;
    Ok(no_content(DeleteBucketLifecycleOutput::default()))
}

// ---------------------------------------------------------------- website

pub fn no_such_website() -> S3Error {
    err(
        "NoSuchWebsiteConfiguration",
        "The specified bucket does not have a website configuration",
        404,
    )
}

fn validate_website(c: &WebsiteConfiguration) -> S3Result<()> {
    if let Some(r) = &c.redirect_all_requests_to {
        if c.index_document.is_some() || c.error_document.is_some() || c.routing_rules.is_some() {
            return Err(invalid_argument(
                "RedirectAllRequestsTo cannot be provided in conjunction with other Routing Rules.",
            ));
        }
        if r.host_name.is_empty() {
            return Err(malformed_xml());
        }
        if r.protocol
            .as_ref()
            .is_some_and(|p| !matches!(p.as_str(), "http" | "https"))
        {
            return Err(invalid_argument("Invalid protocol, protocol can be http or https. If not defined the protocol will be selected automatically."));
        }
        return Ok(());
    }
    let Some(i) = &c.index_document else {
        return Err(invalid_argument(
            "A value for IndexDocument Suffix must be provided if RedirectAllRequestsTo is empty",
        ));
    };
    if i.suffix.is_empty() || i.suffix.contains('/') {
        return Err(invalid_argument(
            "The IndexDocument Suffix is not well formed",
        ));
    }
    if c.error_document.as_ref().is_some_and(|e| e.key.is_empty()) {
        return Err(invalid_argument("The ErrorDocument Key is not well formed"));
    }
    let rules = c.routing_rules.as_deref().unwrap_or_default();
    if rules.len() > 50 {
        return Err(invalid_argument(
            "RoutingRules cannot contain more than 50 rules",
        ));
    }
    for r in rules {
        let rd = &r.redirect;
        if rd.replace_key_prefix_with.is_some() && rd.replace_key_with.is_some() {
            return Err(invalid_argument(
                "You can only define ReplaceKeyPrefix or ReplaceKey but not both.",
            ));
        }
        if let Some(code) = &rd.http_redirect_code {
            let ok = code
                .parse::<u16>()
                .is_ok_and(|c| (301..=399).contains(&c) && c != 304);
            if !ok {
                return Err(invalid_argument(format!(
                    "The provided HTTP redirect code ({code}) is not valid. Valid codes are 3XX except 300."
                )));
            }
        }
        if let Some(cond) = &r.condition {
            if cond.key_prefix_equals.is_none() && cond.http_error_code_returned_equals.is_none() {
                return Err(invalid_argument(
                    "Condition cannot be empty. To redirect all requests without a condition, the condition element shouldn't be present.",
                ));
            }
        }
    }
    Ok(())
}

pub async fn get_bucket_website(
    state: &S3State,
    req: S3Request<GetBucketWebsiteInput>,
) -> S3Result<S3Response<GetBucketWebsiteOutput>> {
    let c: WebsiteConfiguration =
        fetch(state, &req, &req.input.bucket, KIND_WEBSITE)?.ok_or_else(no_such_website)?;
    Ok(S3Response::new(GetBucketWebsiteOutput {
        error_document: c.error_document,
        index_document: c.index_document,
        redirect_all_requests_to: c.redirect_all_requests_to,
        routing_rules: c.routing_rules,
    }))
}

pub async fn put_bucket_website(
    state: &S3State,
    req: S3Request<PutBucketWebsiteInput>,
) -> S3Result<S3Response<PutBucketWebsiteOutput>> {
    validate_website(&req.input.website_configuration)?;
    let c = req.input.website_configuration.clone();
    store(state, &req, &req.input.bucket, KIND_WEBSITE, c).await?;
    Ok(S3Response::new(PutBucketWebsiteOutput::default()))
}

pub async fn delete_bucket_website(
    state: &S3State,
    req: S3Request<DeleteBucketWebsiteInput>,
) -> S3Result<S3Response<DeleteBucketWebsiteOutput>> {
    remove(state, &req, &req.input.bucket, KIND_WEBSITE).await?;
    Ok(no_content(DeleteBucketWebsiteOutput::default()))
}

// ---------------------------------------------------------------- notification

pub async fn get_bucket_notification_configuration(
    state: &S3State,
    req: S3Request<GetBucketNotificationConfigurationInput>,
) -> S3Result<S3Response<GetBucketNotificationConfigurationOutput>> {
    let c: NotificationConfiguration =
        fetch(state, &req, &req.input.bucket, KIND_NOTIFICATION)?.unwrap_or_default();
    Ok(S3Response::new(GetBucketNotificationConfigurationOutput {
        event_bridge_configuration: c.event_bridge_configuration,
        lambda_function_configurations: c.lambda_function_configurations,
        queue_configurations: c.queue_configurations,
        topic_configurations: c.topic_configurations,
    }))
}

/// The event types a notification configuration may name.
const NOTIFICATION_EVENTS: &[&str] = &[
    "s3:ReducedRedundancyLostObject",
    "s3:ObjectCreated:*",
    "s3:ObjectCreated:Put",
    "s3:ObjectCreated:Post",
    "s3:ObjectCreated:Copy",
    "s3:ObjectCreated:CompleteMultipartUpload",
    "s3:ObjectRemoved:*",
    "s3:ObjectRemoved:Delete",
    "s3:ObjectRemoved:DeleteMarkerCreated",
    "s3:ObjectRestore:*",
    "s3:ObjectRestore:Post",
    "s3:ObjectRestore:Completed",
    "s3:ObjectRestore:Delete",
    "s3:Replication:*",
    "s3:Replication:OperationFailedReplication",
    "s3:Replication:OperationNotTracked",
    "s3:Replication:OperationMissedThreshold",
    "s3:Replication:OperationReplicatedAfterThreshold",
    "s3:LifecycleTransition",
    "s3:IntelligentTiering",
    "s3:ObjectAcl:Put",
    "s3:LifecycleExpiration:*",
    "s3:LifecycleExpiration:Delete",
    "s3:LifecycleExpiration:DeleteMarkerCreated",
    "s3:ObjectTagging:*",
    "s3:ObjectTagging:Put",
    "s3:ObjectTagging:Delete",
];

fn invalid_notification(msg: &str) -> S3Error {
    err("InvalidArgument", msg, 400)
}

/// One destination's events and key filter, as S3 validates them.
fn validate_notification_target(
    events: &[Event],
    filter: Option<&NotificationConfigurationFilter>,
) -> S3Result<()> {
    if events.is_empty() {
        return Err(malformed_xml());
    }
    if events
        .iter()
        .any(|e| !NOTIFICATION_EVENTS.contains(&AsRef::<str>::as_ref(e)))
    {
        return Err(invalid_notification(
            "The event is not supported for notifications",
        ));
    }
    let rules = filter
        .and_then(|f| f.key.as_ref())
        .and_then(|k| k.filter_rules.as_ref());
    let (mut prefixes, mut suffixes) = (0, 0);
    for r in rules.into_iter().flatten() {
        match r.name.as_ref().map(|n| n.as_str().to_ascii_lowercase()) {
            Some(n) if n == "prefix" => prefixes += 1,
            Some(n) if n == "suffix" => suffixes += 1,
            _ => {
                return Err(invalid_notification(
                    "filter rule name must be either prefix or suffix",
                ))
            }
        }
    }
    if prefixes > 1 {
        return Err(invalid_notification(
            "Cannot specify more than one prefix rule in a filter.",
        ));
    }
    if suffixes > 1 {
        return Err(invalid_notification(
            "Cannot specify more than one suffix rule in a filter.",
        ));
    }
    Ok(())
}

/// The prefix and suffix of a destination's key filter ("" when absent).
fn filter_affixes(filter: Option<&NotificationConfigurationFilter>) -> (String, String) {
    let (mut prefix, mut suffix) = (String::new(), String::new());
    let rules = filter
        .and_then(|f| f.key.as_ref())
        .and_then(|k| k.filter_rules.as_ref());
    for r in rules.into_iter().flatten() {
        let value = r.value.clone().unwrap_or_default();
        match r.name.as_ref().map(|n| n.as_str().to_ascii_lowercase()) {
            Some(n) if n == "prefix" => prefix = value,
            Some(n) if n == "suffix" => suffix = value,
            _ => {}
        }
    }
    (prefix, suffix)
}

/// Two event types share events (`s3:ObjectCreated:*` covers `s3:ObjectCreated:Put`).
fn events_overlap(a: &str, b: &str) -> bool {
    let covers = |wide: &str, narrow: &str| {
        wide.strip_suffix('*')
            .is_some_and(|stem| narrow.starts_with(stem))
    };
    a == b || covers(a, b) || covers(b, a)
}

/// S3 refuses two destinations that one event could reach twice: a common event type
/// and key filters that can match the same key (one prefix starts the other, one suffix
/// ends the other).
fn refuse_overlaps(targets: &[(Vec<String>, String, String)]) -> S3Result<()> {
    for (i, (events_a, prefix_a, suffix_a)) in targets.iter().enumerate() {
        for (events_b, prefix_b, suffix_b) in targets.iter().skip(i + 1) {
            let common_event = events_a
                .iter()
                .any(|a| events_b.iter().any(|b| events_overlap(a, b)));
            let prefixes =
                prefix_a.starts_with(prefix_b.as_str()) || prefix_b.starts_with(prefix_a.as_str());
            let suffixes =
                suffix_a.ends_with(suffix_b.as_str()) || suffix_b.ends_with(suffix_a.as_str());
            if common_event && prefixes && suffixes {
                return Err(invalid_notification(
                    "Configurations overlap. Configurations on the same bucket cannot share a common event type.",
                ));
            }
        }
    }
    Ok(())
}

/// A configuration without an Id gets one, as S3 assigns it (GetBucketNotification
/// reports it, and events carry it as `configurationId`).
fn assign_id(id: &mut Option<String>) {
    if id.as_deref().is_none_or(str::is_empty) {
        use base64::Engine as _;
        let raw = uuid::Uuid::new_v4().to_string();
        *id = Some(base64::engine::general_purpose::STANDARD.encode(raw));
    }
}

pub async fn put_bucket_notification_configuration(
    state: &S3State,
    req: S3Request<PutBucketNotificationConfigurationInput>,
) -> S3Result<S3Response<PutBucketNotificationConfigurationOutput>> {
    let mut c = req.input.notification_configuration.clone();
    for t in c.lambda_function_configurations.iter().flatten() {
        validate_notification_target(&t.events, t.filter.as_ref())?;
    }
    for t in c.queue_configurations.iter().flatten() {
        validate_notification_target(&t.events, t.filter.as_ref())?;
    }
    for t in c.topic_configurations.iter().flatten() {
        validate_notification_target(&t.events, t.filter.as_ref())?;
    }
    let mut targets: Vec<(Vec<String>, String, String)> = Vec::new();
    let events = |events: &[Event]| -> Vec<String> {
        events
            .iter()
            .map(|e| AsRef::<str>::as_ref(e).to_string())
            .collect()
    };
    for t in c.lambda_function_configurations.iter().flatten() {
        let (p, x) = filter_affixes(t.filter.as_ref());
        targets.push((events(&t.events), p, x));
    }
    for t in c.queue_configurations.iter().flatten() {
        let (p, x) = filter_affixes(t.filter.as_ref());
        targets.push((events(&t.events), p, x));
    }
    for t in c.topic_configurations.iter().flatten() {
        let (p, x) = filter_affixes(t.filter.as_ref());
        targets.push((events(&t.events), p, x));
    }
    refuse_overlaps(&targets)?;
    for t in c.lambda_function_configurations.iter_mut().flatten() {
        assign_id(&mut t.id);
    }
    for t in c.queue_configurations.iter_mut().flatten() {
        assign_id(&mut t.id);
    }
    for t in c.topic_configurations.iter_mut().flatten() {
        assign_id(&mut t.id);
    }
    // Lambda destinations must exist and let S3 invoke them (checked against the bucket's
    // owner, so only for a bucket the caller may configure).
    if c.lambda_function_configurations
        .as_ref()
        .is_some_and(|l| !l.is_empty())
    {
        let owner = {
            let caller = state.caller(&req);
            let snap = state.db.snapshot().map_err(Error::from)?;
            require_owned(snap.as_ref(), &req.input.bucket, &caller)?.account_id
        };
        for t in c.lambda_function_configurations.iter().flatten() {
            if state
                .notifications
                .check_lambda(&t.lambda_function_arn, &req.input.bucket, &owner)
                .is_err()
            {
                return Err(invalid_notification(
                    "Unable to validate the following destination configurations",
                ));
            }
        }
    }
    let empty = c.event_bridge_configuration.is_none()
        && c.lambda_function_configurations
            .as_ref()
            .is_none_or(|l| l.is_empty())
        && c.queue_configurations.as_ref().is_none_or(|l| l.is_empty())
        && c.topic_configurations.as_ref().is_none_or(|l| l.is_empty());
    if empty {
        // An empty configuration turns notifications off.
        remove(state, &req, &req.input.bucket, KIND_NOTIFICATION).await?;
    } else {
        store(state, &req, &req.input.bucket, KIND_NOTIFICATION, c).await?;
    }
    Ok(S3Response::new(
        PutBucketNotificationConfigurationOutput::default(),
    ))
}

// ---------------------------------------------------------------- ownership controls

pub async fn get_bucket_ownership_controls(
    state: &S3State,
    req: S3Request<GetBucketOwnershipControlsInput>,
) -> S3Result<S3Response<GetBucketOwnershipControlsOutput>> {
    let caller = state.caller(&req);
    let snap = state.db.snapshot().map_err(Error::from)?;
    let b = require_owned(snap.as_ref(), &req.input.bucket, &caller)?;
    let Some(o) = b.ownership else {
        return Err(err(
            "OwnershipControlsNotFoundError",
            "The bucket ownership controls were not found",
            404,
        ));
    };
    Ok(S3Response::new(GetBucketOwnershipControlsOutput {
        ownership_controls: Some(OwnershipControls {
            rules: vec![OwnershipControlsRule {
                object_ownership: ObjectOwnership::from(o),
            }],
        }),
    }))
}

pub async fn put_bucket_ownership_controls(
    state: &S3State,
    req: S3Request<PutBucketOwnershipControlsInput>,
) -> S3Result<S3Response<PutBucketOwnershipControlsOutput>> {
    let rules = &req.input.ownership_controls.rules;
    let [rule] = rules.as_slice() else {
        return Err(malformed_xml());
    };
    let o = rule.object_ownership.as_str().to_string();
    if !matches!(
        o.as_str(),
        "BucketOwnerEnforced" | "BucketOwnerPreferred" | "ObjectWriter"
    ) {
        return Err(malformed_xml());
    }
    let caller = state.caller(&req);
    let bucket = req.input.bucket.clone();
    state
        .db
        .write(move |txn| -> Result<(), Error> {
            let mut b = require_owned(txn, &bucket, &caller)?;
            let acl_grants = b.acl.as_ref().map(|a| a.grants.as_slice()).unwrap_or(&[]);
            if o == "BucketOwnerEnforced"
                && crate::buckets::grants_beyond_owner(acl_grants, &b.account_id)
            {
                // ACLs granting others must be migrated before ACLs can be disabled.
                return Err(Error::S3(err(
                    "InvalidBucketAclWithObjectOwnership",
                    "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting",
                    400,
                )));
            }
            b.ownership = Some(o.clone());
            txn.put(&keys::bucket(&bucket), &encode(&b))?;
            Ok(())
        })
        .await?;
    Ok(S3Response::new(PutBucketOwnershipControlsOutput::default()))
}

pub async fn delete_bucket_ownership_controls(
    state: &S3State,
    req: S3Request<DeleteBucketOwnershipControlsInput>,
) -> S3Result<S3Response<DeleteBucketOwnershipControlsOutput>> {
    let caller = state.caller(&req);
    let bucket = req.input.bucket.clone();
    state
        .db
        .write(move |txn| -> Result<(), Error> {
            let mut b = require_owned(txn, &bucket, &caller)?;
            b.ownership = None;
            txn.put(&keys::bucket(&bucket), &encode(&b))?;
            Ok(())
        })
        .await?;
    Ok(no_content(DeleteBucketOwnershipControlsOutput::default()))
}

// ---------------------------------------------------------------- transfer acceleration
//
// Recorded and reported: nimbus has no edge network to accelerate through, and the
// accelerate endpoint (`bucket.s3-accelerate.amazonaws.com`) is not served.

pub async fn get_bucket_accelerate_configuration(
    state: &S3State,
    req: S3Request<GetBucketAccelerateConfigurationInput>,
) -> S3Result<S3Response<GetBucketAccelerateConfigurationOutput>> {
    let c: Option<AccelerateConfiguration> =
        fetch(state, &req, &req.input.bucket, KIND_ACCELERATE)?;
    // Never configured: an empty AccelerateConfiguration, as AWS answers.
    Ok(S3Response::new(GetBucketAccelerateConfigurationOutput {
        request_charged: None,
        status: c.and_then(|c| c.status),
    }))
}

pub async fn put_bucket_accelerate_configuration(
    state: &S3State,
    req: S3Request<PutBucketAccelerateConfigurationInput>,
) -> S3Result<S3Response<PutBucketAccelerateConfigurationOutput>> {
    let c = req.input.accelerate_configuration.clone();
    let valid = c.status.as_ref().is_some_and(|s| {
        matches!(
            s.as_str(),
            BucketAccelerateStatus::ENABLED | BucketAccelerateStatus::SUSPENDED
        )
    });
    if !valid {
        return Err(malformed_xml());
    }
    if req.input.bucket.contains('.') {
        return Err(err(
            "InvalidRequest",
            "S3 Transfer Acceleration is not supported for buckets with periods (.) in their names",
            400,
        ));
    }
    store(state, &req, &req.input.bucket, KIND_ACCELERATE, c).await?;
    Ok(S3Response::new(
        PutBucketAccelerateConfigurationOutput::default(),
    ))
}

// ---------------------------------------------------------------- request payment
//
// Recorded and reported; nobody is billed, so requests need no `x-amz-request-payer`.

pub async fn get_bucket_request_payment(
    state: &S3State,
    req: S3Request<GetBucketRequestPaymentInput>,
) -> S3Result<S3Response<GetBucketRequestPaymentOutput>> {
    let c: Option<RequestPaymentConfiguration> =
        fetch(state, &req, &req.input.bucket, KIND_REQUEST_PAYMENT)?;
    let payer = c
        .map(|c| c.payer)
        .unwrap_or_else(|| Payer::from_static(Payer::BUCKET_OWNER));
    Ok(S3Response::new(GetBucketRequestPaymentOutput {
        payer: Some(payer),
    }))
}

pub async fn put_bucket_request_payment(
    state: &S3State,
    req: S3Request<PutBucketRequestPaymentInput>,
) -> S3Result<S3Response<PutBucketRequestPaymentOutput>> {
    let c = req.input.request_payment_configuration.clone();
    if !matches!(c.payer.as_str(), Payer::BUCKET_OWNER | Payer::REQUESTER) {
        return Err(malformed_xml());
    }
    if c.payer.as_str() == Payer::BUCKET_OWNER {
        // The default: nothing to keep.
        remove(state, &req, &req.input.bucket, KIND_REQUEST_PAYMENT).await?;
    } else {
        store(state, &req, &req.input.bucket, KIND_REQUEST_PAYMENT, c).await?;
    }
    Ok(S3Response::new(PutBucketRequestPaymentOutput::default()))
}

// ---------------------------------------------------------------- server access logging
//
// Validated and recorded as AWS does; access log records are not written (yet).

/// A bucket's `LoggingEnabled` as stored (the s3s DTO has no serde derive).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct StoredLogging {
    target_bucket: String,
    target_prefix: String,
    #[serde(default)]
    target_grants: Vec<crate::meta::Grant>,
    /// `SimplePrefix`, or `PartitionedPrefix` with its date source (`EventTime`,
    /// `DeliveryTime`); `None` when not given.
    #[serde(default)]
    key_format: Option<String>,
    #[serde(default)]
    partition_date_source: Option<String>,
}

const SIMPLE_PREFIX: &str = "SimplePrefix";
const PARTITIONED_PREFIX: &str = "PartitionedPrefix";

impl StoredLogging {
    fn from_dto(l: &LoggingEnabled) -> S3Result<Self> {
        let mut grants = Vec::new();
        for g in l.target_grants.iter().flatten() {
            let (Some(grantee), Some(permission)) = (&g.grantee, &g.permission) else {
                return Err(malformed_xml());
            };
            if !matches!(
                permission.as_str(),
                BucketLogsPermission::FULL_CONTROL
                    | BucketLogsPermission::READ
                    | BucketLogsPermission::WRITE
            ) {
                return Err(malformed_xml());
            }
            let value = match grantee.type_.as_str() {
                Type::CANONICAL_USER => grantee.id.clone(),
                Type::GROUP => grantee.uri.clone(),
                Type::AMAZON_CUSTOMER_BY_EMAIL => grantee.email_address.clone(),
                _ => None,
            };
            let Some(value) = value else {
                return Err(malformed_xml());
            };
            grants.push(crate::meta::Grant {
                grantee_type: grantee.type_.as_str().to_string(),
                grantee: value,
                display_name: grantee.display_name.clone(),
                permission: permission.as_str().to_string(),
            });
        }
        let (key_format, partition_date_source) = match &l.target_object_key_format {
            None => (None, None),
            Some(f) => match (&f.partitioned_prefix, &f.simple_prefix) {
                (Some(p), None) => {
                    let source = p.partition_date_source.as_ref().map(|s| s.as_str());
                    if source.is_some_and(|s| {
                        !matches!(
                            s,
                            PartitionDateSource::EVENT_TIME | PartitionDateSource::DELIVERY_TIME
                        )
                    }) {
                        return Err(malformed_xml());
                    }
                    (
                        Some(PARTITIONED_PREFIX.to_string()),
                        source.map(str::to_string),
                    )
                }
                (None, Some(_)) => (Some(SIMPLE_PREFIX.to_string()), None),
                // Exactly one of the two.
                _ => return Err(malformed_xml()),
            },
        };
        Ok(Self {
            target_bucket: l.target_bucket.clone(),
            target_prefix: l.target_prefix.clone(),
            target_grants: grants,
            key_format,
            partition_date_source,
        })
    }

    fn to_dto(&self) -> LoggingEnabled {
        let grants: Vec<TargetGrant> = self
            .target_grants
            .iter()
            .map(|g| TargetGrant {
                grantee: Some(crate::buckets::grantee_of(g)),
                permission: Some(BucketLogsPermission::from(g.permission.clone())),
            })
            .collect();
        let target_object_key_format = match self.key_format.as_deref() {
            Some(PARTITIONED_PREFIX) => Some(TargetObjectKeyFormat {
                partitioned_prefix: Some(PartitionedPrefix {
                    partition_date_source: self
                        .partition_date_source
                        .clone()
                        .map(PartitionDateSource::from),
                }),
                simple_prefix: None,
            }),
            Some(_) => Some(TargetObjectKeyFormat {
                partitioned_prefix: None,
                simple_prefix: Some(SimplePrefix::default()),
            }),
            None => None,
        };
        LoggingEnabled {
            target_bucket: self.target_bucket.clone(),
            target_grants: (!grants.is_empty()).then_some(grants),
            target_object_key_format,
            target_prefix: self.target_prefix.clone(),
        }
    }
}

pub async fn get_bucket_logging(
    state: &S3State,
    req: S3Request<GetBucketLoggingInput>,
) -> S3Result<S3Response<GetBucketLoggingOutput>> {
    let c: Option<StoredLogging> = fetch(state, &req, &req.input.bucket, KIND_LOGGING)?;
    Ok(S3Response::new(GetBucketLoggingOutput {
        logging_enabled: c.map(|c| c.to_dto()),
    }))
}

pub async fn put_bucket_logging(
    state: &S3State,
    req: S3Request<PutBucketLoggingInput>,
) -> S3Result<S3Response<PutBucketLoggingOutput>> {
    let Some(enabled) = req.input.bucket_logging_status.logging_enabled.clone() else {
        // An empty BucketLoggingStatus turns logging off.
        remove(state, &req, &req.input.bucket, KIND_LOGGING).await?;
        return Ok(S3Response::new(PutBucketLoggingOutput::default()));
    };
    if enabled.target_bucket.is_empty() {
        return Err(malformed_xml());
    }
    let stored = StoredLogging::from_dto(&enabled)?;
    let caller = state.caller(&req);
    let bucket = req.input.bucket.clone();
    state
        .db
        .write(move |txn| -> Result<(), Error> {
            let source = require_owned(txn, &bucket, &caller)?;
            let Some(target) = crate::write::load_bucket(txn, &stored.target_bucket)? else {
                return Err(Error::S3(err(
                    "InvalidTargetBucketForLogging",
                    "The target bucket for logging does not exist",
                    400,
                )));
            };
            if target.account_id != source.account_id {
                return Err(Error::S3(err(
                    "InvalidTargetBucketForLogging",
                    "The owner for the bucket to be logged and the target bucket must be the same.",
                    400,
                )));
            }
            if target.region != source.region {
                return Err(Error::S3(err(
                    "CrossLocationLoggingProhibitted",
                    "Cross S3 location logging not allowed. ",
                    403,
                )));
            }
            txn.put(
                &keys::bucket_config(&bucket, KIND_LOGGING),
                &encode(&stored),
            )?;
            Ok(())
        })
        .await?;
    Ok(S3Response::new(PutBucketLoggingOutput::default()))
}

/// Writes a configuration directly (tests and the lifecycle job's fixtures).
pub fn put_raw<T: Serialize>(
    txn: &mut dyn WriteTxn,
    bucket: &str,
    kind: &str,
    value: &T,
) -> Result<(), Error> {
    txn.put(&keys::bucket_config(bucket, kind), &encode(value))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(events: &[&str], prefix: &str, suffix: &str) -> (Vec<String>, String, String) {
        (
            events.iter().map(|e| (*e).to_string()).collect(),
            prefix.to_string(),
            suffix.to_string(),
        )
    }

    #[test]
    fn overlapping_notification_targets() {
        assert!(events_overlap("s3:ObjectCreated:*", "s3:ObjectCreated:Put"));
        assert!(!events_overlap(
            "s3:ObjectCreated:*",
            "s3:ObjectRemoved:Delete"
        ));
        assert!(!events_overlap(
            "s3:ObjectCreated:Put",
            "s3:ObjectCreated:Copy"
        ));
        let created = ["s3:ObjectCreated:*"];
        // Same events, filters that can match one key: refused.
        assert!(refuse_overlaps(&[target(&created, "", ""), target(&created, "in/", "")]).is_err());
        assert!(refuse_overlaps(&[
            target(&created, "in/", ".jpg"),
            target(&["s3:ObjectCreated:Put"], "in/photos/", "")
        ])
        .is_err());
        // Disjoint prefixes, disjoint suffixes, or different events: accepted.
        assert!(refuse_overlaps(&[target(&created, "a/", ""), target(&created, "b/", "")]).is_ok());
        assert!(
            refuse_overlaps(&[target(&created, "", ".jpg"), target(&created, "", ".png")]).is_ok()
        );
        assert!(refuse_overlaps(&[
            target(&created, "", ""),
            target(&["s3:ObjectRemoved:*"], "", "")
        ])
        .is_ok());
    }
}
