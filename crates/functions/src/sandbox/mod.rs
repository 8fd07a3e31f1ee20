//! The sandbox of one execution environment. Owner: H-sandbox.
//!
//! nimbus starts `<nimbus> __sandbox` (the helper, see `helper.rs`); it unshares
//! namespaces, builds the mount tree (code at /var/task, layers at /opt, a private
//! /tmp), joins the environment's cgroup, sets rlimits, drops privileges, binds the
//! Runtime API's 127.0.0.1:9001 inside and hands that listener to nimbus (`fdpass.rs`),
//! proxies nimbus's own port to nimbus's Unix socket, then starts the runtime. Where the host forbids a step it goes on without it, and
//! [`protections`] says what is active. A small pool of warm helpers (`warm.rs`) keeps
//! the function-independent steps off the cold start.
//!
//! Files: `mod.rs` launcher side (`launch`, `SandboxChild`), `helper.rs` the helper,
//! `mounts.rs` the new root, `cgroup.rs`, `netlink.rs` (lo up), `protections.rs`,
//! `warm.rs`, `proto.rs` (launcher/helper messages), `fdpass.rs` (SCM_RIGHTS).

mod cgroup;
mod fdpass;
mod helper;
mod mounts;
mod netlink;
mod protections;
mod proto;
mod warm;

pub use helper::helper_main;
pub use protections::{probe, protections, Protections};
pub use warm::{drain_warm, prewarm, warm_count};

use std::io::Write;
use std::net::SocketAddr;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use tokio::process::{ChildStderr, ChildStdout};
use tokio::sync::oneshot;

use proto::{HelperRequest, Report};

/// The first argument of the helper command: `nimbus __sandbox ...`.
pub const HELPER_ARG: &str = "__sandbox";

/// What to run and how to confine it.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct SandboxSpec {
    /// Unique per environment (cgroup name, scratch directory name).
    pub id: String,
    /// Program and arguments as seen inside the sandbox.
    pub argv: Vec<String>,
    /// The whole environment of the program; the helper adds AWS_LAMBDA_RUNTIME_API (and
    /// points AWS_ENDPOINT_URL at the address that reaches nimbus from inside).
    pub env: Vec<(String, String)>,
    /// Read-only at /var/task (the working directory).
    pub code_dir: PathBuf,
    /// Read-only at /opt (empty when `None`).
    pub opt_dir: Option<PathBuf>,
    /// Read-only at /var/runtime: bootstraps and the SDK cache.
    pub runtime_dir: Option<PathBuf>,
    /// Host paths visible read-only at the same path (interpreter prefixes).
    pub host_ro_paths: Vec<PathBuf>,
    /// Size of the private /tmp (EphemeralStorage).
    pub tmp_mb: u32,
    /// Memory limit (MemorySize).
    pub memory_mb: u32,
    /// nimbus's gateway as a Unix socket, for sandboxes without the host network.
    pub nimbus_socket: Option<PathBuf>,
    /// nimbus's TCP address.
    pub nimbus_addr: SocketAddr,
    /// Scratch space on the host for this environment (removed when it ends).
    pub scratch_dir: PathBuf,
}

/// How sandboxed functions reach the network, as the operator configures it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FunctionNetwork {
    /// A network namespace of their own with only loopback: the Runtime API and nimbus
    /// (127.0.0.1:<nimbus port>) are reachable, nothing else.
    #[default]
    Isolated,
    /// The host's network (outbound connections, services on the host), as a function
    /// outside a VPC has in AWS. Every other protection stays.
    Host,
}

impl FunctionNetwork {
    pub fn as_str(self) -> &'static str {
        match self {
            FunctionNetwork::Isolated => "isolated",
            FunctionNetwork::Host => "host",
        }
    }
}

impl std::str::FromStr for FunctionNetwork {
    type Err = String;

    /// The names `as_str` gives (the command line's `--function-network`).
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "isolated" => Ok(FunctionNetwork::Isolated),
            "host" => Ok(FunctionNetwork::Host),
            other => Err(format!(
                "{other:?} is not a function network (isolated, host)"
            )),
        }
    }
}

static NETWORK: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Sets how sandboxes started from now on reach the network (process-wide: helpers are
/// prepared ahead of any function). Call it before [`prewarm`].
pub fn set_network(network: FunctionNetwork) {
    NETWORK.store(network == FunctionNetwork::Host, Ordering::Relaxed);
}

/// The current [`FunctionNetwork`].
pub fn network() -> FunctionNetwork {
    if NETWORK.load(Ordering::Relaxed) {
        FunctionNetwork::Host
    } else {
        FunctionNetwork::Isolated
    }
}

/// `NIMBUS_SANDBOX=off` disables every protection (tests, development hosts); the
/// helper still runs the Runtime API proxy.
pub const SANDBOX_ENV: &str = "NIMBUS_SANDBOX";

/// After its control socket closed, the helper is reaped within this many 1 ms polls
/// (it closes the socket as it exits).
const REAP_ATTEMPTS: u32 = 2000;
/// An unused helper gets this many 5 ms polls to stop by itself after its control
/// socket closed.
const HELPER_STOP_POLLS: u32 = 400;
/// Attempts (1 ms apart) to remove a cgroup whose processes are still being reaped.
const CGROUP_REMOVE_ATTEMPTS: u32 = 500;
/// At most this many control messages are parsed from a helper (it sends five).
const MAX_REPORTS: usize = 64;

pub(crate) fn sandbox_off() -> bool {
    std::env::var(SANDBOX_ENV).is_ok_and(|v| v.eq_ignore_ascii_case("off"))
}

/// How the runtime ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct ExitInfo {
    /// Exit code when it exited.
    pub code: Option<i32>,
    /// Signal number when a signal killed it.
    pub signal: Option<i32>,
    /// The kernel's OOM killer killed a process of the environment (memory limit).
    pub oom_killed: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("cannot start the sandbox helper {exe}: {source}")]
    Spawn {
        exe: String,
        #[source]
        source: std::io::Error,
    },
    #[error("sandbox setup failed: {0}")]
    Setup(String),
}

#[derive(Debug, Default)]
struct Shared {
    /// Host pid of the runtime (the pid namespace's init when there is one).
    runtime_pid: Option<i32>,
    pid_ns: bool,
    exit: Option<(Option<i32>, Option<i32>)>,
    failed: Option<String>,
    runtime_api: Option<String>,
    /// When stage 2 reported it was about to exec the runtime.
    confined_after: Option<Duration>,
}

/// Kills an environment from anywhere (cloneable; the engine's timeout task keeps one).
#[derive(Debug, Clone)]
pub struct Killer {
    helper_pid: i32,
    shared: Arc<Mutex<Shared>>,
    cgroup: Option<Arc<cgroup::Cgroup>>,
    /// Set once the helper is reaped: its pid may be reused after that.
    reaped: Arc<AtomicBool>,
}

impl Killer {
    /// SIGKILLs every process of the environment: the pid namespace's init (the kernel
    /// then kills the rest of the namespace), the helper's process group, and whatever
    /// is in the cgroup. Idempotent.
    pub fn kill(&self) {
        use nix::sys::signal::{kill, killpg, Signal};
        use nix::unistd::Pid;
        let (runtime_pid, pid_ns) = {
            let s = self.shared.lock();
            (s.runtime_pid, s.pid_ns)
        };
        if !self.reaped.load(Ordering::Acquire) {
            if let Some(pid) = runtime_pid.filter(|p| *p > 0) {
                let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            }
            let _ = killpg(Pid::from_raw(self.helper_pid), Signal::SIGKILL);
        } else if !pid_ns {
            // Without a pid namespace, grandchildren can outlive the helper in its
            // process group (a group id stays reserved while it has members).
            let _ = killpg(Pid::from_raw(self.helper_pid), Signal::SIGKILL);
        }
        if let Some(cg) = &self.cgroup {
            cg.kill_all();
        }
    }
}

/// A running sandbox. Take `stdout`/`stderr` to read the function's output; `wait`
/// reaps it and removes its cgroup and scratch directory (dropping it kills it first).
///
/// The helper is a `std` child (not tokio's): warm helpers are started before the
/// runtime that will use them is known, and tokio I/O objects are bound to the runtime
/// that created them. Its exit is seen as EOF on the control socket.
pub struct SandboxChild {
    pub stdout: Option<ChildStdout>,
    pub stderr: Option<ChildStderr>,
    /// The Runtime API listener the helper bound where the runtime looks for it
    /// (127.0.0.1:9001 in the sandbox's network namespace), once the helper started the
    /// runtime: serve the Runtime API on it. Dropped unsent if the helper fails first.
    pub runtime_api_listener: Option<oneshot::Receiver<std::net::TcpListener>>,
    child: Option<std::process::Child>,
    killer: Killer,
    reader: Option<tokio::task::JoinHandle<()>>,
    scratch_dir: PathBuf,
    memory: MemoryProbe,
    exit: Option<ExitInfo>,
    cleaned: bool,
}

/// Reads an environment's peak memory (Max Memory Used in every REPORT line) directly,
/// from whichever task asks: going through the task that waits on the child cost two task
/// hand-offs per invocation.
#[derive(Clone)]
pub struct MemoryProbe {
    cgroup: Option<Arc<cgroup::Cgroup>>,
    /// The final reading, taken by [`SandboxChild::wait`] just before it removes the
    /// cgroup (whose files then read as errors).
    last: Arc<std::sync::OnceLock<Option<u64>>>,
}

impl MemoryProbe {
    pub fn max_memory_used_bytes(&self) -> Option<u64> {
        match self.last.get() {
            Some(last) => *last,
            None => self.read_cgroup(),
        }
    }

    fn read_cgroup(&self) -> Option<u64> {
        self.cgroup.as_ref().and_then(|c| c.peak_bytes())
    }
}

impl std::fmt::Debug for SandboxChild {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SandboxChild")
            .field("helper_pid", &self.killer.helper_pid)
            .field("exit", &self.exit)
            .finish_non_exhaustive()
    }
}

impl SandboxChild {
    /// Host pid of the helper process.
    pub fn pid(&self) -> i32 {
        self.killer.helper_pid
    }

    pub fn killer(&self) -> Killer {
        self.killer.clone()
    }

    /// Kills every process of the environment (see [`Killer::kill`]); `wait` still
    /// reaps and cleans up.
    pub fn kill(&self) {
        self.killer.kill();
    }

    /// Peak memory of the environment (cgroup), when a cgroup exists. Still answers
    /// after `wait` (the value is read before the cgroup is removed).
    pub fn max_memory_used_bytes(&self) -> Option<u64> {
        self.memory.max_memory_used_bytes()
    }

    /// A handle that reads the peak memory from any task, while another task owns the
    /// child and waits on it.
    pub fn memory_probe(&self) -> MemoryProbe {
        self.memory.clone()
    }

    /// The helper's error when it could not start the runtime (bad exec, setup).
    pub fn setup_error(&self) -> Option<String> {
        self.killer.shared.lock().failed.clone()
    }

    /// The address the runtime got as AWS_LAMBDA_RUNTIME_API (once the helper started).
    pub fn runtime_api(&self) -> Option<String> {
        self.killer.shared.lock().runtime_api.clone()
    }

    /// Time from `launch` until the sandbox init was about to exec the runtime.
    pub fn confined_after(&self) -> Option<Duration> {
        self.killer.shared.lock().confined_after
    }

    /// Waits for the runtime to end, then removes the environment's cgroup and scratch
    /// directory. Cancel-safe; later calls return the same result.
    pub async fn wait(&mut self) -> ExitInfo {
        if let Some(e) = self.exit {
            return e;
        }
        // The report reader ends at EOF: the helper exited (or is exiting).
        if let Some(reader) = self.reader.as_mut() {
            let _ = reader.await;
            self.reader = None;
        }
        let mut status = None;
        for attempt in 0..REAP_ATTEMPTS {
            match self.child.as_mut().map(|c| c.try_wait()) {
                Some(Ok(Some(s))) => {
                    status = Some(s);
                    break;
                }
                Some(Ok(None)) => {
                    // Closed its socket without exiting (should not happen): stop it.
                    if attempt == REAP_ATTEMPTS / 2 {
                        self.killer.kill();
                    }
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                Some(Err(_)) | None => break,
            }
        }
        self.killer.reaped.store(true, Ordering::Release);
        let reported = self.killer.shared.lock().exit;
        let (code, signal) = match (reported, status) {
            (Some(r), _) => r,
            (None, Some(s)) => {
                use std::os::unix::process::ExitStatusExt;
                (s.code(), s.signal())
            }
            (None, None) => (None, None),
        };
        let oom_killed = self.killer.cgroup.as_ref().is_some_and(|c| c.oom_killed());
        let info = ExitInfo {
            code,
            signal,
            oom_killed,
        };
        self.exit = Some(info);
        // Leftovers (degraded mode grandchildren) die with the environment.
        self.killer.kill();
        let _ = self.memory.last.set(self.memory.read_cgroup());
        if let Some(cg) = self.killer.cgroup.clone() {
            for _ in 0..CGROUP_REMOVE_ATTEMPTS {
                if cg.try_remove() {
                    break;
                }
                cg.kill_all();
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
        let _ = std::fs::remove_dir_all(&self.scratch_dir);
        self.cleaned = true;
        info
    }
}

impl Drop for SandboxChild {
    fn drop(&mut self) {
        if self.cleaned {
            return;
        }
        self.killer.kill();
        let cgroup = self.killer.cgroup.clone();
        let scratch = self.scratch_dir.clone();
        let child = self.child.take();
        // The processes die asynchronously; a short-lived thread reaps the helper and
        // removes what they leave (Drop cannot await).
        let _ = std::thread::Builder::new()
            .name("sandbox-cleanup".to_string())
            .spawn(move || {
                if let Some(mut c) = child {
                    let _ = c.wait();
                }
                if let Some(cg) = cgroup {
                    for _ in 0..CGROUP_REMOVE_ATTEMPTS {
                        if cg.try_remove() {
                            break;
                        }
                        cg.kill_all();
                        std::thread::sleep(Duration::from_millis(2));
                    }
                }
                let _ = std::fs::remove_dir_all(&scratch);
            });
    }
}

/// A started helper that has been sent its [`proto::Prepare`] line. Dropping it
/// unused (pool drained, or the preparing task cancelled) kills the helper, reaps it
/// and removes its cgroup; `launch` takes the parts out first.
pub(crate) struct Spawned {
    pub child: Option<std::process::Child>,
    pub ctl: Option<std::os::unix::net::UnixStream>,
    pub cgroup: Option<cgroup::Cgroup>,
    pub helper_pid: i32,
}

impl Spawned {
    pub(crate) fn discard(self) {
        drop(self);
    }

    pub(crate) fn is_alive(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }
}

impl Drop for Spawned {
    /// Closing the control socket is the helper's signal to stop: it kills stage 2,
    /// removes its cgroup and exits, even if nimbus exits right after. The thread
    /// reaps it, and kills it and cleans up itself if it does not stop.
    fn drop(&mut self) {
        let child = self.child.take();
        let cgroup = self.cgroup.take();
        drop(self.ctl.take());
        if child.is_none() && cgroup.is_none() {
            return;
        }
        let helper_pid = self.helper_pid;
        let _ = std::thread::Builder::new()
            .name("sandbox-cleanup".to_string())
            .spawn(move || {
                if let Some(mut c) = child {
                    let mut exited = false;
                    for _ in 0..HELPER_STOP_POLLS {
                        if !matches!(c.try_wait(), Ok(None)) {
                            exited = true;
                            break;
                        }
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    if !exited {
                        let _ = nix::sys::signal::killpg(
                            nix::unistd::Pid::from_raw(helper_pid),
                            nix::sys::signal::Signal::SIGKILL,
                        );
                        let _ = c.wait();
                    }
                }
                if let Some(cg) = cgroup {
                    for _ in 0..CGROUP_REMOVE_ATTEMPTS {
                        cg.kill_all();
                        if cg.try_remove() {
                            break;
                        }
                        std::thread::sleep(Duration::from_millis(2));
                    }
                }
            });
    }
}

fn send_line<T: serde::Serialize>(
    mut stream: &std::os::unix::net::UnixStream,
    value: &T,
) -> Result<(), SandboxError> {
    let mut line = serde_json::to_vec(value).map_err(|e| SandboxError::Setup(e.to_string()))?;
    line.push(b'\n');
    // Far below a socket buffer, so this blocking write completes at once.
    stream
        .write_all(&line)
        .map_err(|e| SandboxError::Setup(format!("cannot talk to the sandbox helper: {e}")))
}

/// Starts `<helper_exe> __sandbox` with a fresh cgroup and sends it [`proto::Prepare`].
pub(crate) fn spawn_helper(
    helper_exe: &Path,
    off: bool,
    cgroup_id: &str,
    memory_mb: Option<u32>,
) -> Result<Spawned, SandboxError> {
    use std::os::unix::process::CommandExt;
    let cgroup = if off {
        None
    } else {
        protections::cgroup_for(cgroup_id, memory_mb)
    };
    let prep = proto::Prepare {
        off,
        host_network: network() == FunctionNetwork::Host,
        cgroup_dirs: cgroup.as_ref().map(|c| c.dirs.clone()).unwrap_or_default(),
    };
    let mut s = Spawned {
        child: None,
        ctl: None,
        cgroup,
        helper_pid: 0,
    };
    let (ours, theirs) = std::os::unix::net::UnixStream::pair()
        .map_err(|e| SandboxError::Setup(format!("socketpair: {e}")))?;
    let mut cmd = std::process::Command::new(helper_exe);
    cmd.arg(HELPER_ARG)
        .stdin(Stdio::from(OwnedFd::from(theirs)))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own process group: kill() reaches unconfined descendants too.
        .process_group(0);
    let spawned = cmd.spawn();
    // Our copy of the helper's end must close, or we would never see its EOF.
    drop(cmd);
    let child = spawned.map_err(|source| SandboxError::Spawn {
        exe: helper_exe.display().to_string(),
        source,
    })?;
    s.helper_pid = i32::try_from(child.id()).unwrap_or(0);
    s.child = Some(child);
    send_line(&ours, &prep)?;
    s.ctl = Some(ours);
    Ok(s)
}

/// Starts a sandbox for `spec`: a warm helper from the pool when one is ready, else a
/// new one. Must be called inside a tokio runtime. The function's stdout/stderr are
/// piped to [`SandboxChild::stdout`]/`stderr`, its stdin is /dev/null.
pub fn launch(helper_exe: &Path, spec: &SandboxSpec) -> Result<SandboxChild, SandboxError> {
    let started = Instant::now();
    let off = sandbox_off();
    std::fs::create_dir_all(&spec.scratch_dir).map_err(|e| {
        SandboxError::Setup(format!(
            "cannot create scratch dir {}: {e}",
            spec.scratch_dir.display()
        ))
    })?;
    let warm = if off { None } else { warm::take(helper_exe) };
    let mut s = match warm {
        Some(mut w) => {
            if let Some(cg) = w.cgroup.as_mut() {
                cg.set_memory_limit(spec.memory_mb);
            }
            w
        }
        None => spawn_helper(helper_exe, off, &spec.id, Some(spec.memory_mb))?,
    };
    if !off {
        warm::refill(helper_exe);
    }
    let setup = |e: std::io::Error| SandboxError::Setup(format!("sandbox helper pipes: {e}"));
    let mut child = s
        .child
        .take()
        .ok_or_else(|| SandboxError::Setup("helper already used".to_string()))?;
    let cgroup = s.cgroup.take().map(Arc::new);
    let shared = Arc::new(Mutex::new(Shared::default()));
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let (listener_tx, listener_rx) = oneshot::channel();
    let mut sandbox = SandboxChild {
        stdout: None,
        stderr: None,
        runtime_api_listener: Some(listener_rx),
        child: Some(child),
        killer: Killer {
            helper_pid: s.helper_pid,
            shared: shared.clone(),
            cgroup: cgroup.clone(),
            reaped: Arc::new(AtomicBool::new(false)),
        },
        reader: None,
        scratch_dir: spec.scratch_dir.clone(),
        memory: MemoryProbe {
            cgroup: cgroup.clone(),
            last: Arc::new(std::sync::OnceLock::new()),
        },
        exit: None,
        cleaned: false,
    };
    // From here on, an error drops `sandbox`: that kills the helper and removes its
    // cgroup and scratch directory.
    sandbox.stdout = stdout
        .map(ChildStdout::from_std)
        .transpose()
        .map_err(setup)?;
    sandbox.stderr = stderr
        .map(ChildStderr::from_std)
        .transpose()
        .map_err(setup)?;
    let ctl = s
        .ctl
        .take()
        .ok_or_else(|| SandboxError::Setup("helper has no control socket".to_string()))?;
    send_line(&ctl, &HelperRequest { spec: spec.clone() })?;
    let ctl = ctl
        .set_nonblocking(true)
        .and_then(|()| tokio::net::UnixStream::from_std(ctl))
        .map_err(|e| SandboxError::Setup(format!("control socket: {e}")))?;
    sandbox.reader = Some(tokio::spawn(read_reports(
        ctl,
        shared,
        cgroup,
        off,
        started,
        listener_tx,
    )));
    Ok(sandbox)
}

/// Reads the helper's reports until it closes the socket (it exited). The `started`
/// report carries the Runtime API listener (SCM_RIGHTS), which goes to `listener_tx`.
async fn read_reports(
    stream: tokio::net::UnixStream,
    shared: Arc<Mutex<Shared>>,
    cgroup: Option<Arc<cgroup::Cgroup>>,
    off: bool,
    started: Instant,
    listener_tx: oneshot::Sender<std::net::TcpListener>,
) {
    let mut listener_tx = Some(listener_tx);
    let mut pending: Vec<u8> = Vec::new();
    let mut buf = vec![0u8; 4096];
    let mut line = Vec::new();
    let mut stage1 = None;
    let mut stage2 = None;
    let mut recorded = false;
    let mut count = 0usize;
    // Until EOF, which is how `wait` learns that the helper exited.
    loop {
        let Some(end) = pending.iter().position(|b| *b == b'\n') else {
            let (n, fds) = match fdpass::recv_with_fds(&stream, &mut buf).await {
                Ok((n, fds)) if n > 0 => (n, fds),
                _ => break,
            };
            for fd in fds {
                // The first descriptor is the listener; any other is closed here.
                if let Some(tx) = listener_tx.take() {
                    let _ = tx.send(std::net::TcpListener::from(fd));
                }
            }
            pending.extend_from_slice(buf.get(..n).unwrap_or_default());
            if pending.len() > proto::MAX_LINE_BYTES {
                // A line longer than the protocol allows: drop it, keep reading.
                pending.clear();
            }
            continue;
        };
        line.clear();
        line.extend(pending.drain(..=end));
        count += 1;
        if count > MAX_REPORTS {
            continue;
        }
        let Ok(report) = serde_json::from_slice::<Report>(&line) else {
            tracing::warn!("sandbox helper sent an unreadable report");
            continue;
        };
        match report {
            Report::Started {
                pid,
                applied,
                runtime_api,
            } => {
                let mut s = shared.lock();
                s.runtime_pid = Some(pid);
                s.pid_ns = applied.pid_ns;
                s.runtime_api = Some(runtime_api);
                stage1 = Some(applied);
            }
            Report::Confined { applied } => {
                shared.lock().confined_after = Some(started.elapsed());
                stage2 = Some(applied);
            }
            Report::Failed { error } => {
                tracing::warn!(error = %error, "sandbox helper could not start the runtime");
                shared.lock().failed = Some(error);
            }
            Report::Exit { code, signal } => {
                shared.lock().exit = Some((code, signal));
            }
            Report::Warm {} => {}
        }
        if !recorded && stage1.is_some() && (off || stage2.is_some()) {
            recorded = true;
            protections::observe(off, cgroup.as_deref(), stage1.as_ref(), stage2.as_ref());
        }
    }
    if !recorded && stage1.is_some() {
        protections::observe(off, cgroup.as_deref(), stage1.as_ref(), stage2.as_ref());
    }
}
