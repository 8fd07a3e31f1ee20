//! What confinement this host allows, for `/_nimbus/health` and loud warnings.
//!
//! Before any sandbox ran, [`protections`] answers from a side-effect-free look at the
//! host (euid, namespaces in /proc/self/ns, cgroup mounts); [`probe`] starts one real
//! sandbox to find out; after that, every sandbox's own reports (what the helper
//! actually applied) refresh the answer. Each missing protection is warned about once.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::OnceLock;
use std::time::Duration;

use parking_lot::Mutex;

use super::cgroup::{self, Cgroup, Version};
use super::proto::{Stage1Applied, Stage2Applied};
use super::{launch, network, sandbox_off, FunctionNetwork, SandboxSpec};

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Protections {
    /// `sandbox` (everything applied), `degraded` (some protection missing), or `off`
    /// (`NIMBUS_SANDBOX=off`).
    pub mode: String,
    /// `host` (looked at the host only), `observed` (reported by a real sandbox).
    pub source: String,
    /// All of the mount, pid, net, ipc and uts namespaces (net not counted when the
    /// operator chose the host's network).
    pub namespaces: bool,
    /// `isolated` (loopback only: the Runtime API and nimbus) or `host` (the operator's
    /// choice: `--function-network host`).
    pub network: String,
    /// Running unprivileged: the namespaces are nested in a user namespace.
    pub user_namespace: bool,
    pub mount: bool,
    pub pid: bool,
    pub net: bool,
    pub ipc: bool,
    pub uts: bool,
    /// `v1`, `v2`, or none.
    pub cgroup: Option<String>,
    pub memory_limit: bool,
    /// At most 1024 processes+threads per environment (pids cgroup).
    pub pids_limit: bool,
    /// RLIMIT_NOFILE 1024 and RLIMIT_CORE 0 (plus RLIMIT_NPROC 1024 without pids).
    pub rlimits: bool,
    /// The runtime runs as uid 993 (AWS's sbx_user1051), not root.
    pub unprivileged_user: bool,
    pub warnings: Vec<String>,
}

struct State {
    current: Option<Protections>,
    warned: BTreeSet<String>,
    cgroup_version: Option<Option<Version>>,
}

fn state() -> &'static Mutex<State> {
    static STATE: OnceLock<Mutex<State>> = OnceLock::new();
    STATE.get_or_init(|| {
        Mutex::new(State {
            current: None,
            warned: BTreeSet::new(),
            cgroup_version: None,
        })
    })
}

/// The protections sandboxes get on this host (cached; see the module doc).
pub fn protections() -> Protections {
    if let Some(p) = state().lock().current.clone() {
        return p;
    }
    let p = from_host();
    let mut st = state().lock();
    warn_missing(&mut st.warned, &p);
    st.current.get_or_insert(p).clone()
}

/// Runs one real sandbox (`true` in an empty /var/task) and returns what it applied.
/// `work_dir` holds its scratch directory. Call it at startup to warn early.
pub async fn probe(helper_exe: &Path, work_dir: &Path) -> Protections {
    let id = format!("probe-{}", uuid::Uuid::new_v4().simple());
    let scratch = work_dir.join(&id);
    let code = scratch.join("code");
    let _ = std::fs::create_dir_all(&code);
    let spec = SandboxSpec {
        id: id.clone(),
        argv: vec!["true".to_string()],
        env: vec![("PATH".to_string(), "/usr/bin:/bin".to_string())],
        code_dir: code,
        opt_dir: None,
        runtime_dir: None,
        host_ro_paths: Vec::new(),
        tmp_mb: 1,
        memory_mb: 64,
        nimbus_socket: None,
        nimbus_addr: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
        scratch_dir: scratch.join("env"),
    };
    match launch(helper_exe, &spec) {
        Ok(mut child) => {
            if tokio::time::timeout(Duration::from_secs(10), child.wait())
                .await
                .is_err()
            {
                child.kill();
            }
        }
        Err(e) => tracing::warn!(error = %e, "sandbox probe could not start the helper"),
    }
    let _ = std::fs::remove_dir_all(&scratch);
    protections()
}

fn from_host() -> Protections {
    if sandbox_off() {
        return off();
    }
    let root = nix::unistd::geteuid().is_root();
    let ns = |n: &str| Path::new("/proc/self/ns").join(n).exists();
    let userns = !root && ns("user");
    let can_ns = root || userns;
    let cg = if root { cgroup_version() } else { None };
    let mut p = Protections {
        source: "host".to_string(),
        user_namespace: userns,
        mount: can_ns && ns("mnt"),
        pid: can_ns && ns("pid"),
        net: can_ns && ns("net") && network() == FunctionNetwork::Isolated,
        ipc: can_ns && ns("ipc"),
        uts: can_ns && ns("uts"),
        cgroup: cg.map(|v| v.as_str().to_string()),
        memory_limit: cg.is_some(),
        pids_limit: cg.is_some(),
        rlimits: true,
        unprivileged_user: root,
        ..Protections::default()
    };
    finish(&mut p);
    p
}

fn off() -> Protections {
    let mut p = Protections {
        source: "host".to_string(),
        ..Protections::default()
    };
    p.warnings.push(
        "NIMBUS_SANDBOX=off: functions run unconfined, as nimbus's user, with the host's \
         filesystem and network"
            .to_string(),
    );
    p.mode = "off".to_string();
    p.network = FunctionNetwork::Host.as_str().to_string();
    p
}

/// Sets `mode`, `namespaces`, `network` and the warning list from the flags.
fn finish(p: &mut Protections) {
    let host_network = network() == FunctionNetwork::Host;
    p.network = network().as_str().to_string();
    // The host's network by choice is configuration, not a missing protection.
    let net_ok = p.net || host_network;
    p.namespaces = p.mount && p.pid && net_ok && p.ipc && p.uts;
    let checks = [
        (
            p.mount,
            "no mount namespace: functions see the host's whole filesystem",
        ),
        (
            p.pid,
            "no pid namespace: functions see (and may signal) host processes",
        ),
        (
            net_ok,
            "no network namespace: functions share the host's network",
        ),
        (p.ipc, "no ipc namespace"),
        (p.uts, "no uts namespace"),
        (
            p.memory_limit,
            "no memory cgroup: MemorySize is not enforced",
        ),
        (
            p.pids_limit,
            "no pids cgroup: processes per environment are not capped",
        ),
        (p.rlimits, "rlimits could not be set"),
        (
            p.unprivileged_user || p.user_namespace,
            "functions run as root on the host",
        ),
    ];
    for (ok, msg) in checks {
        if !ok && !p.warnings.iter().any(|w| w == msg) {
            p.warnings.push(msg.to_string());
        }
    }
    let all = checks.iter().all(|(ok, _)| *ok);
    p.mode = if all { "sandbox" } else { "degraded" }.to_string();
}

fn warn_missing(warned: &mut BTreeSet<String>, p: &Protections) {
    for w in &p.warnings {
        if warned.insert(w.clone()) {
            tracing::warn!(protection = %w, "function sandbox protection missing");
        }
    }
}

/// The host's cgroup layout, detected once.
pub(crate) fn cgroup_version() -> Option<Version> {
    let mut st = state().lock();
    if let Some(v) = st.cgroup_version {
        return v;
    }
    let v = cgroup::detect();
    st.cgroup_version = Some(v);
    drop(st);
    if let Some(v) = v {
        if nix::unistd::geteuid().is_root() {
            cgroup::sweep_stale(v);
        }
    }
    v
}

/// Creates the environment's cgroup; a failure is warned about (once) and the
/// environment runs without one.
pub(crate) fn cgroup_for(id: &str, memory_mb: Option<u32>) -> Option<Cgroup> {
    if !nix::unistd::geteuid().is_root() {
        return None;
    }
    let version = cgroup_version()?;
    match Cgroup::create(version, id, memory_mb) {
        Ok(c) => Some(c),
        Err(e) => {
            let mut st = state().lock();
            if st.warned.insert(e.clone()) {
                tracing::warn!(error = %e, "function sandbox: no cgroup");
            }
            None
        }
    }
}

/// Records what one sandbox actually got.
pub(crate) fn observe(
    off_mode: bool,
    cg: Option<&Cgroup>,
    stage1: Option<&Stage1Applied>,
    stage2: Option<&Stage2Applied>,
) {
    let p = if off_mode {
        let mut p = off();
        p.source = "observed".to_string();
        p
    } else {
        let s1 = stage1.cloned().unwrap_or_default();
        let s2 = stage2.cloned().unwrap_or_default();
        let joined = s1.cgroup_joined;
        let mut p = Protections {
            source: "observed".to_string(),
            user_namespace: s1.user_ns,
            mount: s2.mount_ns,
            pid: s1.pid_ns,
            net: s1.net_ns,
            ipc: s1.ipc_ns,
            uts: s1.uts_ns,
            cgroup: cg
                .filter(|_| joined)
                .map(|c| c.version.as_str().to_string()),
            memory_limit: joined && cg.is_some_and(|c| c.memory_limited),
            pids_limit: joined && cg.is_some_and(|c| c.pids_limited),
            rlimits: s2.rlimits,
            unprivileged_user: s2.unprivileged_user,
            ..Protections::default()
        };
        p.warnings.extend(s1.warnings);
        p.warnings.extend(s2.warnings);
        if let Some(c) = cg {
            p.warnings.extend(c.warnings.iter().cloned());
        }
        finish(&mut p);
        p
    };
    let mut st = state().lock();
    warn_missing(&mut st.warned, &p);
    st.current = Some(p);
}
