//! The messages between the launcher (nimbus) and the helper, one JSON object per line
//! on the control socket (the helper's stdin, a Unix socket pair).
//!
//! launcher → helper: a [`Prepare`] line, then (maybe much later: warm helpers wait in
//! a pool) a [`HelperRequest`] line.
//! helper (stage 1) → launcher: [`Report::Warm`] once namespaces, listener and the
//! waiting stage 2 exist; [`Report::Started`] once the runtime is being started;
//! [`Report::Confined`] (forwarded from stage 2, just before it execs the runtime) or
//! [`Report::Failed`]; [`Report::Exit`] when the runtime ended.
//! stage 1 → stage 2 (a socket pair, stage 2's stdin): one [`InitConfig`] line; stage 2
//! answers with `Confined` or `Failed` on the same socket.

use std::path::PathBuf;

use super::SandboxSpec;

/// Longest control line either side accepts (the spec carries environment variables,
/// which AWS caps at 4 KB, and a few paths).
pub(crate) const MAX_LINE_BYTES: usize = 1 << 20;

/// Everything that does not depend on the function: a helper prepares it ahead.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(crate) struct Prepare {
    /// `NIMBUS_SANDBOX=off`: no namespaces, no cgroup, no privilege drop; only the proxy.
    pub off: bool,
    /// The operator chose the host's network: no network namespace.
    #[serde(default)]
    pub host_network: bool,
    /// cgroup directories (one per v1 controller, or the one v2 directory) stage 2 is
    /// moved into before it runs anything; created by the launcher.
    pub cgroup_dirs: Vec<PathBuf>,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(crate) struct HelperRequest {
    pub spec: SandboxSpec,
}

/// What stage 1 (the helper process itself) managed to apply.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub(crate) struct Stage1Applied {
    pub user_ns: bool,
    pub pid_ns: bool,
    pub net_ns: bool,
    pub ipc_ns: bool,
    pub uts_ns: bool,
    pub cgroup_joined: bool,
    pub warnings: Vec<String>,
}

/// What stage 2 (the init of the namespaces, which becomes the runtime) applied.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub(crate) struct Stage2Applied {
    pub mount_ns: bool,
    pub rlimits: bool,
    pub unprivileged_user: bool,
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(tag = "ev", rename_all = "snake_case")]
pub(crate) enum Report {
    /// Prepared; waiting for the [`HelperRequest`].
    Warm {},
    /// The runtime's process (host pid) exists.
    Started {
        pid: i32,
        applied: Stage1Applied,
        runtime_api: String,
    },
    /// Stage 2 confined itself and is about to exec the runtime.
    Confined { applied: Stage2Applied },
    /// Stage 2 could not start the runtime.
    Failed { error: String },
    /// The runtime ended.
    Exit {
        code: Option<i32>,
        signal: Option<i32>,
    },
}

/// Stage 2's instructions, passed as one command-line argument (stage 1 execs
/// `<helper> __sandbox init <json>`); the runtime's environment is stage 2's own.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(crate) struct InitConfig {
    pub argv: Vec<String>,
    /// The runtime's environment (stage 2 itself runs with an empty one, so nothing
    /// like LD_PRELOAD from the function's configuration touches the privileged part).
    pub env: Vec<(String, String)>,
    /// Build the private mount tree (stage 1 created a pid namespace, or at least we
    /// are root): otherwise stage 2 only rewrites /var/task etc. to the host paths.
    pub mount: bool,
    pub root_dir: PathBuf,
    pub code_dir: PathBuf,
    pub opt_dir: Option<PathBuf>,
    pub runtime_dir: Option<PathBuf>,
    pub host_ro_paths: Vec<PathBuf>,
    pub tmp_mb: u32,
    /// Host fallbacks when no mount namespace: an empty dir for /opt, a dir for /tmp.
    pub scratch_dir: PathBuf,
    /// Drop to this uid/gid before exec (AWS runs functions as sbx_user1051).
    pub drop_to: Option<(u32, u32)>,
    /// Set RLIMIT_NPROC (only when no pids cgroup limits the environment).
    pub set_nproc: bool,
}
