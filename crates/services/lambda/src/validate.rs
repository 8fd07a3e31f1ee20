//! Lambda's own checks (beyond the model's constraints, which the generated dispatcher
//! applies): limits, reserved names, name/ARN parsing, with AWS's messages.

use std::collections::BTreeMap;

use nimbus_wire::AwsError;

use crate::error::{invalid_parameter, value_constraint};

pub const MIN_TIMEOUT_S: i32 = 1;
pub const MAX_TIMEOUT_S: i32 = 900;
pub const MIN_MEMORY_MB: i32 = 128;
pub const MAX_MEMORY_MB: i32 = 10_240;
pub const MIN_EPHEMERAL_MB: i32 = 512;
pub const MAX_EPHEMERAL_MB: i32 = 10_240;
pub const DEFAULT_TIMEOUT_S: u32 = 3;
pub const DEFAULT_MEMORY_MB: u32 = 128;
pub const DEFAULT_EPHEMERAL_MB: u32 = 512;
/// All environment variables together, measured as AWS does (their JSON): 4 KB.
pub const MAX_ENV_BYTES: usize = 4096;
pub const MAX_LAYERS: usize = 5;
pub const MAX_TAGS: usize = 50;
/// Synchronous invoke payloads (request and response): 6 MB.
pub const MAX_SYNC_PAYLOAD_BYTES: usize = 6 * 1024 * 1024;
/// Asynchronous invoke payloads: 1 MB (raised from 256 KB in 2025).
pub const MAX_ASYNC_PAYLOAD_BYTES: usize = 1024 * 1024;
/// The account's concurrency (AWS default) and the part that can never be reserved.
pub const ACCOUNT_CONCURRENCY: u32 = 1000;
pub const MIN_UNRESERVED_CONCURRENCY: u32 = 100;

/// Variables the runtime sets itself; a function may not define them.
pub const RESERVED_ENV_KEYS: &[&str] = &[
    "_HANDLER",
    "_X_AMZN_TRACE_ID",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE",
    "AWS_LAMBDA_LOG_GROUP_NAME",
    "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_ACCESS_KEY",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_LAMBDA_RUNTIME_API",
    "LAMBDA_TASK_ROOT",
    "LAMBDA_RUNTIME_DIR",
];

/// Runtimes AWS still accepts for new functions and updates.
const SUPPORTED_RUNTIMES: &[&str] = &[
    "nodejs18.x",
    "nodejs20.x",
    "nodejs22.x",
    "nodejs24.x",
    "python3.9",
    "python3.10",
    "python3.11",
    "python3.12",
    "python3.13",
    "python3.14",
    "java8.al2",
    "java11",
    "java17",
    "java21",
    "java25",
    "dotnet8",
    "dotnet10",
    "ruby3.2",
    "ruby3.3",
    "ruby3.4",
    "provided.al2",
    "provided.al2023",
];

pub fn timeout(v: i32) -> Result<u32, AwsError> {
    if v < MIN_TIMEOUT_S {
        return Err(value_constraint(
            v,
            "timeout",
            "Member must have value greater than or equal to 1",
        ));
    }
    if v > MAX_TIMEOUT_S {
        return Err(value_constraint(
            v,
            "timeout",
            "Member must have value less than or equal to 900",
        ));
    }
    Ok(v as u32)
}

pub fn memory(v: i32) -> Result<u32, AwsError> {
    if v < MIN_MEMORY_MB {
        return Err(value_constraint(
            v,
            "memorySize",
            "Member must have value greater than or equal to 128",
        ));
    }
    if v > MAX_MEMORY_MB {
        return Err(value_constraint(
            v,
            "memorySize",
            "Member must have value less than or equal to 10240",
        ));
    }
    Ok(v as u32)
}

pub fn ephemeral(v: i32) -> Result<u32, AwsError> {
    if v < MIN_EPHEMERAL_MB {
        return Err(value_constraint(
            v,
            "ephemeralStorage.size",
            "Member must have value greater than or equal to 512",
        ));
    }
    if v > MAX_EPHEMERAL_MB {
        return Err(value_constraint(
            v,
            "ephemeralStorage.size",
            "Member must have value less than or equal to 10240",
        ));
    }
    Ok(v as u32)
}

/// AWS refuses deprecated runtimes for creates and updates, naming a replacement.
pub fn runtime(r: &str) -> Result<(), AwsError> {
    if SUPPORTED_RUNTIMES.contains(&r) {
        return Ok(());
    }
    let newest = if r.starts_with("python") {
        "python3.14"
    } else if r.starts_with("nodejs") {
        "nodejs24.x"
    } else if r.starts_with("java") {
        "java25"
    } else if r.starts_with("dotnet") {
        "dotnet10"
    } else if r.starts_with("ruby") {
        "ruby3.4"
    } else {
        "provided.al2023"
    };
    Err(invalid_parameter(format!(
        "The runtime parameter of {r} is no longer supported for creating or updating AWS Lambda functions. We recommend you use the new runtime ({newest}) while creating or updating functions."
    )))
}

pub fn environment(vars: &BTreeMap<String, String>) -> Result<(), AwsError> {
    let reserved: Vec<&str> = vars
        .keys()
        .filter(|k| RESERVED_ENV_KEYS.contains(&k.as_str()))
        .map(String::as_str)
        .collect();
    if !reserved.is_empty() {
        return Err(invalid_parameter(format!(
            "Lambda was unable to configure your environment variables because the environment variables you have provided contains reserved keys that are currently not supported for modification. Reserved keys used in this request: {}",
            reserved.join(", ")
        )));
    }
    let measured = serde_json::to_string(vars).unwrap_or_default();
    if measured.len() > MAX_ENV_BYTES {
        return Err(invalid_parameter(format!(
            "Lambda was unable to configure your environment variables because the environment variables you have provided exceeded the 4KB limit. String measured: {measured}"
        )));
    }
    Ok(())
}

/// A function reference as the API accepts it: a name, a partial ARN
/// (`123456789012:function:f`) or a full ARN, each optionally with `:qualifier`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionRef {
    pub name: String,
    pub qualifier: Option<String>,
    pub account_id: Option<String>,
    pub region: Option<String>,
}

fn is_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 140
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn is_qualifier(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'$')
}

pub fn parse_function_ref(s: &str) -> Option<FunctionRef> {
    let parts: Vec<&str> = s.split(':').collect();
    let (account, region, rest): (Option<&str>, Option<&str>, &[&str]) = match parts.as_slice() {
        ["arn", _partition, "lambda", region, account, "function", rest @ ..] => {
            (Some(*account), Some(*region), rest)
        }
        [account, "function", rest @ ..]
            if account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit()) =>
        {
            (Some(*account), None, rest)
        }
        rest => (None, None, rest),
    };
    let (name, qualifier) = match rest {
        [name] => (*name, None),
        [name, q] => (*name, Some(*q)),
        _ => return None,
    };
    if !is_name(name) || qualifier.is_some_and(|q| !is_qualifier(q)) {
        return None;
    }
    Some(FunctionRef {
        name: name.to_string(),
        qualifier: qualifier.map(str::to_string),
        account_id: account.map(str::to_string),
        region: region.map(str::to_string),
    })
}

/// A layer version ARN: (account, region, layer name, version).
pub fn parse_layer_version_arn(arn: &str) -> Option<(String, String, String, u64)> {
    match arn.split(':').collect::<Vec<_>>().as_slice() {
        ["arn", _p, "lambda", region, account, "layer", name, version] if is_name(name) => Some((
            account.to_string(),
            region.to_string(),
            name.to_string(),
            version.parse().ok()?,
        )),
        _ => None,
    }
}

/// A layer name or layer ARN (without version): (account, region, name).
pub fn parse_layer_name(s: &str) -> Option<(Option<String>, Option<String>, String)> {
    match s.split(':').collect::<Vec<_>>().as_slice() {
        [name] if is_name(name) => Some((None, None, name.to_string())),
        ["arn", _p, "lambda", region, account, "layer", name] if is_name(name) => Some((
            Some(account.to_string()),
            Some(region.to_string()),
            name.to_string(),
        )),
        _ => None,
    }
}

/// `arn:aws:iam::<account>:role/<path/>name` → (account, role name).
pub fn parse_role_arn(arn: &str) -> Option<(String, String)> {
    let rest = arn.strip_prefix("arn:")?;
    let (_partition, rest) = rest.split_once(':')?;
    let rest = rest.strip_prefix("iam::")?;
    let (account, resource) = rest.split_once(':')?;
    let path_and_name = resource.strip_prefix("role/")?;
    let name = path_and_name.rsplit('/').next()?;
    if account.len() != 12 || name.is_empty() {
        return None;
    }
    Some((account.to_string(), name.to_string()))
}

pub fn function_arn(region: &str, account: &str, name: &str) -> String {
    format!("arn:aws:lambda:{region}:{account}:function:{name}")
}

pub fn layer_arn(region: &str, account: &str, name: &str) -> String {
    format!("arn:aws:lambda:{region}:{account}:layer:{name}")
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_function_reference_form() {
        let r = parse_function_ref("f").unwrap();
        assert_eq!((r.name.as_str(), r.qualifier), ("f", None));
        let r = parse_function_ref("f:live").unwrap();
        assert_eq!(r.qualifier.as_deref(), Some("live"));
        let r = parse_function_ref("123456789012:function:f:3").unwrap();
        assert_eq!(r.account_id.as_deref(), Some("123456789012"));
        assert_eq!(r.qualifier.as_deref(), Some("3"));
        let r =
            parse_function_ref("arn:aws:lambda:us-east-1:000000000000:function:f:$LATEST").unwrap();
        assert_eq!(r.region.as_deref(), Some("us-east-1"));
        assert_eq!(r.qualifier.as_deref(), Some("$LATEST"));
        assert!(parse_function_ref("a:b:c").is_none());
        assert!(parse_function_ref("f/x").is_none());
    }

    #[test]
    fn env_limits_and_reserved_keys() {
        let mut v = BTreeMap::new();
        v.insert("AWS_REGION".to_string(), "x".to_string());
        let e = environment(&v).unwrap_err();
        assert!(e
            .message
            .ends_with("Reserved keys used in this request: AWS_REGION"));
        let mut v = BTreeMap::new();
        v.insert("BIG".to_string(), "x".repeat(4100));
        let e = environment(&v).unwrap_err();
        assert!(e.message.contains("exceeded the 4KB limit"));
        assert_eq!(timeout(901).unwrap_err().message, "1 validation error detected: Value '901' at 'timeout' failed to satisfy constraint: Member must have value less than or equal to 900");
    }

    #[test]
    fn role_and_layer_arns() {
        assert_eq!(
            parse_role_arn("arn:aws:iam::000000000000:role/service/r1"),
            Some(("000000000000".into(), "r1".into()))
        );
        assert!(parse_role_arn("arn:aws:iam::000000000000:user/u").is_none());
        assert_eq!(
            parse_layer_version_arn("arn:aws:lambda:us-east-1:000000000000:layer:l:3"),
            Some(("000000000000".into(), "us-east-1".into(), "l".into(), 3))
        );
    }
}
