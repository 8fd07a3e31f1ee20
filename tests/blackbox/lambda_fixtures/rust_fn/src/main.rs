//! A Lambda function on AWS's Rust runtime (`lambda_runtime`), as users deploy it to
//! `provided.al2023`: the test checks that nimbus's Runtime API, environment and error
//! payloads are what the official client expects.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use lambda_runtime::{service_fn, Diagnostic, Error, LambdaEvent};
use serde::Deserialize;
use serde_json::{json, Value};

/// Invocations this process has served: a warm environment keeps counting.
static INVOCATIONS: AtomicU64 = AtomicU64::new(0);

/// When this process started (ns since the epoch): tells one environment's process from
/// another's, which the pid cannot when each environment has its own pid namespace.
static STARTED_NS: OnceLock<u128> = OnceLock::new();

fn epoch_ns() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

/// A typed event, so that a payload of the wrong shape exercises the runtime's own
/// deserialization error rather than the handler's.
#[derive(Deserialize)]
struct Request {
    a: i64,
    b: i64,
    /// Return the crate's generic `Error` with this message (the usual `?`/`.into()` path).
    #[serde(default)]
    fail: Option<String>,
    /// Return a `Diagnostic` with this errorType (the crate's way to name an error).
    #[serde(default)]
    fail_typed: Option<String>,
}

async fn handler(event: LambdaEvent<Request>) -> Result<Value, Diagnostic> {
    let count = INVOCATIONS.fetch_add(1, Ordering::SeqCst) + 1;
    let (req, ctx) = event.into_parts();
    println!("rust handler called: request {}", ctx.request_id);
    if let Some(message) = req.fail {
        return Err(Error::from(message).into());
    }
    if let Some(error_type) = req.fail_typed {
        return Err(Diagnostic {
            error_type,
            error_message: format!("asked to fail with a={} b={}", req.a, req.b),
        });
    }
    let now_ms = u64::try_from(epoch_ns() / 1_000_000).unwrap_or(u64::MAX);
    Ok(json!({
        "sum": req.a.checked_add(req.b),
        "request_id": ctx.request_id,
        "function_name": std::env::var("AWS_LAMBDA_FUNCTION_NAME").ok(),
        "function_arn": ctx.invoked_function_arn,
        "memory_mb": ctx.env_config.memory,
        "remaining_ms": ctx.deadline.saturating_sub(now_ms),
        "started_ns": STARTED_NS.get().map(|ns| ns.to_string()),
        "pid": std::process::id(),
        "invocations": count,
    }))
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    STARTED_NS.get_or_init(epoch_ns);
    lambda_runtime::run(service_fn(handler)).await
}
