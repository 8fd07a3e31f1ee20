//! nimbus-functions: runs functions. It holds the Lambda Runtime API server, the pool of
//! execution environments, the sandbox each environment runs in, and the bootstraps of the
//! managed runtimes (Python, Node.js). It knows nothing of the Lambda control-plane API:
//! the Lambda service (nimbus-lambda) resolves a function, version or alias to a
//! [`FunctionSpec`] and calls [`Engine::invoke`].
//!
//! Layers, top to bottom:
//! - [`engine`]: `Engine` — the public entry point; owns the pool and the log sink.
//! - [`pool`]: execution environments per function version: reuse warm ones, start new
//!   ones up to the concurrency limits, throttle beyond, reap idle ones, kill on timeout.
//! - [`runtime_api`]: one Runtime API server per environment (HTTP/1.1, accepting on the
//!   `127.0.0.1:9001` listener the sandbox bound in its network namespace and passed out).
//! - [`runtimes`]: runtime identifiers → how to start them (host interpreters, bootstraps,
//!   the boto3 / AWS SDK v3 cache).
//! - [`sandbox`]: namespaces, mounts, cgroup, rlimits; the `nimbus __sandbox` helper.

pub mod engine;
pub mod pool;
pub mod runtime_api;
pub mod runtimes;
pub mod sandbox;

use std::path::PathBuf;
use std::sync::Arc;

pub use engine::{Engine, EngineConfig};

/// Everything needed to start an execution environment for one function version.
/// Environments are keyed by [`FunctionSpec::env_key`]: a changed configuration or code
/// makes a new key, so old warm environments are never reused for it.
#[derive(Debug, Clone)]
pub struct FunctionSpec {
    /// Unqualified function ARN (`arn:aws:lambda:us-east-1:000000000000:function:f`).
    pub function_arn: String,
    pub function_name: String,
    /// `$LATEST` or a published version number.
    pub version: String,
    /// Changes whenever code or configuration of this version changes (the Lambda
    /// service uses its RevisionId).
    pub revision_id: String,
    /// `python3.12`, `nodejs20.x`, `provided.al2023`, ...
    pub runtime: String,
    /// `file.handler` (ignored by `provided` runtimes, passed as `_HANDLER`).
    pub handler: String,
    /// The unpacked deployment package, mounted read-only at `/var/task`.
    pub code_dir: PathBuf,
    /// The function's layers unpacked and merged in order (later layers win), mounted
    /// read-only at `/opt`. `None`: an empty `/opt`.
    pub opt_dir: Option<PathBuf>,
    pub memory_mb: u32,
    pub timeout_ms: u64,
    pub ephemeral_storage_mb: u32,
    /// The function's own environment variables (Environment.Variables).
    pub environment: Vec<(String, String)>,
    pub region: String,
    pub account_id: String,
    /// `/aws/lambda/<name>` unless the logging config names another group.
    pub log_group: String,
    /// Temporary credentials of the execution role (AWS_ACCESS_KEY_ID, ...).
    pub credentials: Option<Credentials>,
    /// ReservedConcurrentExecutions: `Some(0)` throttles every invoke.
    pub reserved_concurrency: Option<u32>,
}

impl FunctionSpec {
    /// The pool key: environments are shared only by identical specs.
    pub fn env_key(&self) -> String {
        format!(
            "{}:{}:{}",
            self.function_arn, self.version, self.revision_id
        )
    }
}

#[derive(Debug, Clone)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: String,
    /// Expiration, epoch milliseconds.
    pub expiration_ms: i64,
}

/// One invocation.
#[derive(Debug, Clone)]
pub struct Invocation {
    /// `Lambda-Runtime-Aws-Request-Id`.
    pub request_id: String,
    /// The ARN the caller invoked (qualified when a version or alias was named):
    /// `Lambda-Runtime-Invoked-Function-Arn`.
    pub invoked_function_arn: String,
    pub payload: bytes::Bytes,
    /// `Lambda-Runtime-Client-Context` (the decoded X-Amz-Client-Context JSON).
    pub client_context: Option<String>,
    /// `Lambda-Runtime-Cognito-Identity`.
    pub cognito_identity: Option<String>,
    /// `Lambda-Runtime-Trace-Id`.
    pub trace_id: Option<String>,
    /// Return the last 4 KB of the log (LogType=Tail).
    pub want_log_tail: bool,
}

/// What an invocation produced. A function error is a successful invoke (HTTP 200) with
/// `function_error` set, as in AWS.
#[derive(Debug, Clone)]
pub struct InvokeOutcome {
    pub payload: bytes::Bytes,
    /// `X-Amz-Function-Error`: `Unhandled` (AWS sends `Unhandled` for every error the
    /// runtime reports, timeouts and crashes included).
    pub function_error: Option<String>,
    /// The last 4 KB of this invocation's log, when asked for.
    pub log_tail: Option<Vec<u8>>,
    pub duration_ms: f64,
    pub billed_duration_ms: u64,
    pub init_duration_ms: Option<f64>,
    pub max_memory_used_mb: u64,
}

/// Why an invocation could not run at all (as opposed to running and failing).
#[derive(Debug, thiserror::Error)]
pub enum InvokeError {
    /// Concurrency limit reached: `TooManyRequestsException` (429). `reason` is AWS's
    /// `Reason` field (`ReservedFunctionConcurrentInvocationLimitExceeded`,
    /// `ConcurrentInvocationLimitExceeded`).
    #[error("Rate Exceeded.")]
    Throttled { reason: &'static str },
    /// The runtime cannot start on this host (missing interpreter, ...):
    /// AWS has no exact equivalent; the Lambda service maps it to
    /// `InvalidRuntimeException` (502) with this message.
    #[error("{0}")]
    RuntimeUnavailable(String),
    /// Nimbus failed to create the environment (sandbox, sockets): `ServiceException`.
    #[error("{0}")]
    Internal(String),
    /// nimbus is shutting down.
    #[error("the function engine is shutting down")]
    ShuttingDown,
}

/// Where function output goes: the binary wires this to CloudWatch Logs. Calls must not
/// block (the sink queues, bounded, and drops with a counter when full).
pub trait LogSink: Send + Sync + 'static {
    /// Appends `lines` (timestamp in epoch ms, message) to `group`/`stream`, creating both
    /// when missing.
    fn append(
        &self,
        account_id: &str,
        region: &str,
        group: &str,
        stream: &str,
        lines: Vec<(i64, String)>,
    );
}

/// A sink that drops everything (tests, or when logs are not wired).
#[derive(Debug, Default)]
pub struct NullLogSink;

impl LogSink for NullLogSink {
    fn append(&self, _: &str, _: &str, _: &str, _: &str, _: Vec<(i64, String)>) {}
}

pub type SharedLogSink = Arc<dyn LogSink>;
