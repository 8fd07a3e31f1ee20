//! The engine: the one object the Lambda service talks to. Owner: H-runtime.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use crate::pool::{Launcher, Pool};
use crate::{FunctionSpec, Invocation, InvokeError, InvokeOutcome, SharedLogSink};

/// Operator settings of the function engine.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Per-process working directory: Runtime API sockets, per-environment scratch
    /// (never inside the data directory, which sandboxes must not see).
    pub work_dir: PathBuf,
    /// Where boto3 (Python) and AWS SDK v3 (Node.js) are installed on first use; shared
    /// by every nimbus run of this user.
    pub runtime_cache_dir: PathBuf,
    /// The nimbus executable: sandboxes start as `<helper_exe> __sandbox ...`.
    pub helper_exe: PathBuf,
    /// nimbus's own TCP address: AWS_ENDPOINT_URL inside functions points here.
    pub nimbus_addr: SocketAddr,
    /// nimbus's gateway on a Unix socket, for sandboxes without the host network.
    pub nimbus_socket: Option<PathBuf>,
    /// Account concurrency limit (AWS default 1000).
    pub account_concurrency: u32,
    /// Idle environments are stopped after this long.
    pub idle_timeout_ms: u64,
    /// The init phase's own limit (AWS: 10 s).
    pub init_timeout_ms: u64,
    /// Paths a sandbox must never expose (the data directory).
    pub hidden_paths: Vec<PathBuf>,
}

/// Runs invocations in pooled execution environments.
pub struct Engine {
    pool: Arc<Pool>,
}

impl Engine {
    /// Creates the engine: writes the runtime bootstraps under `work_dir`. Runtimes start
    /// in the sandbox (`<helper_exe> __sandbox`); an empty `helper_exe` runs them directly,
    /// unsandboxed (this crate's own tests).
    ///
    /// Panics only if `work_dir` cannot be written; use [`Engine::try_new`] to handle it.
    pub fn new(cfg: EngineConfig, logs: SharedLogSink) -> Arc<Engine> {
        match Engine::try_new(cfg, logs) {
            Ok(e) => e,
            Err(e) => panic!("cannot create the function engine's work directory: {e}"),
        }
    }

    /// [`Engine::new`] that reports an unusable work directory.
    pub fn try_new(cfg: EngineConfig, logs: SharedLogSink) -> std::io::Result<Arc<Engine>> {
        let launcher = if cfg.helper_exe.as_os_str().is_empty() {
            Launcher::Direct
        } else {
            Launcher::Sandbox(cfg.helper_exe.clone())
        };
        Ok(Arc::new(Engine {
            pool: Pool::new(cfg, launcher, logs)?,
        }))
    }

    /// Runs one invocation: a warm environment of `spec.env_key()` if one is idle,
    /// else a new one (within the concurrency limits), else `Throttled`.
    pub async fn invoke(
        &self,
        spec: &Arc<FunctionSpec>,
        inv: Invocation,
    ) -> Result<InvokeOutcome, InvokeError> {
        self.pool.invoke(spec, inv).await
    }

    /// Stops the environments of a function (every version) after it was deleted or
    /// its code changed; in-flight invocations finish first.
    pub fn retire(&self, function_arn: &str) {
        self.pool.retire(function_arn);
    }

    /// Stops every environment (shutdown).
    pub async fn shutdown(&self) {
        self.pool.shutdown().await;
    }

    /// For `/_nimbus/health`: active sandbox protections, environment counts.
    pub fn health(&self) -> serde_json::Value {
        self.pool.health()
    }
}
