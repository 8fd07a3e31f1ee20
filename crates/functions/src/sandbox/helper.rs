//! `nimbus __sandbox`: the helper process between nimbus and a function's runtime.
//!
//! Two stages, because a process cannot both stay in the host's mount namespace (to
//! reach the host's Unix sockets for the proxies) and pivot into the sandbox's root:
//! - stage 1 (`nimbus __sandbox`, stdin = the control socket): reads [`Prepare`],
//!   unshares the pid/net/ipc/uts namespaces (its children are born in the new pid
//!   namespace; it joins the others itself), brings `lo` up, binds 127.0.0.1:9001,
//!   starts stage 2 and moves it into the cgroup, reports `warm`. Then (at once, or
//!   when a warm helper is taken from the pool) reads the [`HelperRequest`], binds
//!   nimbus's port, sends stage 2 its [`InitConfig`], reports `started` with the 9001
//!   listener attached (nimbus serves the Runtime API on it directly), proxies nimbus's
//!   port to the host's Unix socket, forwards stage 2's reports and the runtime's exit.
//!   It never enters the sandbox's mount namespace.
//! - stage 2 (`nimbus __sandbox init`, PID 1 of the new pid namespace, empty
//!   environment): waits for its configuration, builds the new root and pivots into
//!   it, sets rlimits, drops to an unprivileged user and execs the runtime, which thus
//!   is PID 1: when it dies the kernel kills every process left in the namespace.
//!
//! No `pre_exec`: every step runs in the process it concerns, and `Command::exec`
//! replaces stage 2 with the runtime.

use std::ffi::OsString;
use std::io::{BufRead, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream as StdUnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;

use nix::sched::CloneFlags;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};

use super::proto::{
    HelperRequest, InitConfig, Prepare, Report, Stage1Applied, Stage2Applied, MAX_LINE_BYTES,
};
use super::{mounts, netlink, SandboxSpec, HELPER_ARG};

/// The Runtime API port inside the network namespace (AWS's value).
pub(crate) const RUNTIME_API_PORT: u16 = 9001;
/// AWS runs functions as `sbx_user1051` (uid 993, gid 990).
const SANDBOX_UID: u32 = 993;
const SANDBOX_GID: u32 = 990;
/// Concurrent proxied connections per listener; the runtime uses one or two.
const MAX_PROXY_CONNECTIONS: usize = 256;

/// Exit codes of the helper itself (the runtime's own code is forwarded otherwise).
const EXIT_SETUP_FAILED: i32 = 125;
const EXIT_EXEC_FAILED: i32 = 127;

/// Entry of `nimbus __sandbox ...`. `args` are the process arguments, with or without
/// the program name and the `__sandbox` word (both are skipped when present). Must run
/// before any other thread exists: stage 1 unshares namespaces, which Linux refuses to
/// multi-threaded processes for the mount and user namespaces.
pub fn helper_main(args: &[String]) -> i32 {
    let rest: &[String] = if args.get(1).map(String::as_str) == Some(HELPER_ARG) {
        args.get(2..).unwrap_or(&[])
    } else if args.first().map(String::as_str) == Some(HELPER_ARG) {
        args.get(1..).unwrap_or(&[])
    } else {
        args
    };
    match rest.first().map(String::as_str) {
        None => stage1(),
        Some("init") => stage2(),
        Some(other) => {
            eprintln!("nimbus {HELPER_ARG}: unknown mode {other:?}");
            2
        }
    }
}

/// The control socket is the helper's stdin; a duplicate fd gives an owned stream
/// without unsafe code (and the duplicate is close-on-exec).
fn control_socket() -> std::io::Result<StdUnixStream> {
    let fd = std::io::stdin().as_fd().try_clone_to_owned()?;
    Ok(StdUnixStream::from(fd))
}

fn report_line(report: &Report) -> Vec<u8> {
    let mut line = serde_json::to_vec(report).unwrap_or_default();
    line.push(b'\n');
    line
}

fn send_report(mut stream: &StdUnixStream, report: &Report) {
    // The launcher may be gone; the helper then exits on its own (EOF on the socket).
    let _ = stream.write_all(&report_line(report));
}

// ---------------------------------------------------------------------------------------
// Stage 1
// ---------------------------------------------------------------------------------------

fn stage1() -> i32 {
    let ctl = match control_socket() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("nimbus {HELPER_ARG}: no control socket on stdin: {e}");
            return EXIT_SETUP_FAILED;
        }
    };
    // One reader for both lines: a cold launch sends them together.
    let mut reader = std::io::BufReader::new(&ctl);
    let prep: Prepare = match read_json(&mut reader) {
        Ok(Some(p)) => p,
        Ok(None) => return 0,
        Err(e) => {
            eprintln!("nimbus {HELPER_ARG}: bad request: {e}");
            return EXIT_SETUP_FAILED;
        }
    };
    let fail = |msg: String| {
        send_report(&ctl, &Report::Failed { error: msg.clone() });
        eprintln!("nimbus {HELPER_ARG}: {msg}");
        EXIT_SETUP_FAILED
    };

    let mut applied = Stage1Applied::default();
    if !prep.off {
        unshare_namespaces(&mut applied, prep.host_network);
    }
    if applied.uts_ns {
        if let Err(e) = nix::unistd::sethostname("localhost") {
            applied.warnings.push(format!("sethostname: {e}"));
        }
    }
    if applied.net_ns {
        if let Err(e) = netlink::loopback_up() {
            // Without lo nothing can listen inside: this environment cannot work.
            return fail(format!("cannot bring up lo in the network namespace: {e}"));
        }
    }
    let loopback = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let api_addr = SocketAddr::new(loopback, if applied.net_ns { RUNTIME_API_PORT } else { 0 });
    let api_listener = match std::net::TcpListener::bind(api_addr) {
        Ok(l) => l,
        Err(e) => {
            return fail(format!(
                "cannot listen on {api_addr} for the Runtime API: {e}"
            ))
        }
    };

    // Only now threads may exist: a current-thread runtime for the proxies and waits.
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(format!("cannot start the proxy runtime: {e}")),
    };
    let _entered = rt.enter();

    // Stage 2 starts now and waits for its configuration: in a warm helper, the exec,
    // the pid namespace's init and the (slow: an RCU grace period) cgroup move are
    // all done before the function is known.
    let mut init = None;
    if !prep.off {
        match spawn_init() {
            Ok((child, sock)) => {
                let pid = child.id().unwrap_or(0);
                if !prep.cgroup_dirs.is_empty() {
                    let errors: Vec<String> = prep
                        .cgroup_dirs
                        .iter()
                        .filter_map(|d| {
                            std::fs::write(d.join("cgroup.procs"), pid.to_string())
                                .err()
                                .map(|e| format!("cannot join cgroup {}: {e}", d.display()))
                        })
                        .collect();
                    applied.cgroup_joined = errors.is_empty();
                    applied.warnings.extend(errors);
                }
                init = Some((child, sock));
            }
            Err(e) => return fail(format!("cannot start the sandbox init: {e}")),
        }
    }
    send_report(&ctl, &Report::Warm {});

    let req: HelperRequest = match read_json(&mut reader) {
        Ok(Some(r)) => r,
        Ok(None) => {
            // nimbus dropped this warm helper (or exited): take stage 2 down (and reap
            // it: the cgroup cannot go before), clean up.
            if let Some((mut child, sock)) = init {
                drop(sock);
                let _ = child.start_kill();
                let _ = rt.block_on(child.wait());
            }
            remove_cgroups(&prep.cgroup_dirs);
            return 0;
        }
        Err(e) => return fail(format!("bad request: {e}")),
    };
    drop(reader);
    let spec = &req.spec;

    // nimbus from inside: in a network namespace, its port on 127.0.0.1 proxied to its
    // Unix socket; without one, its real address (loopback if it listens on all).
    let mut nimbus_listener = None;
    let endpoint = if applied.net_ns {
        match &spec.nimbus_socket {
            Some(sock) => {
                let addr = SocketAddr::new(loopback, spec.nimbus_addr.port());
                match std::net::TcpListener::bind(addr) {
                    Ok(l) => {
                        nimbus_listener = Some((l, sock.clone()));
                        Some(format!("http://{addr}"))
                    }
                    Err(e) => {
                        applied
                            .warnings
                            .push(format!("cannot listen on {addr} for nimbus: {e}"));
                        None
                    }
                }
            }
            None => None,
        }
    } else {
        let mut addr = spec.nimbus_addr;
        if addr.ip().is_unspecified() {
            addr.set_ip(if addr.is_ipv4() {
                loopback
            } else {
                IpAddr::V6(std::net::Ipv6Addr::LOCALHOST)
            });
        }
        Some(format!("http://{addr}"))
    };

    let api_local = api_listener.local_addr().unwrap_or(api_addr);
    let runtime_api = api_local.to_string();
    let mut env: Vec<(String, String)> = spec
        .env
        .iter()
        .filter(|(k, _)| {
            k != "AWS_LAMBDA_RUNTIME_API" && !(endpoint.is_some() && k == "AWS_ENDPOINT_URL")
        })
        .cloned()
        .collect();
    env.push(("AWS_LAMBDA_RUNTIME_API".to_string(), runtime_api.clone()));
    if let Some(url) = &endpoint {
        env.push(("AWS_ENDPOINT_URL".to_string(), url.clone()));
    }

    let runtime = match init {
        None => match direct_command(spec, env).spawn() {
            Ok(child) => Runtime {
                child,
                init_sock: None,
            },
            Err(e) => {
                let msg = format!("cannot start {:?}: {e}", spec.argv.first());
                send_report(&ctl, &Report::Failed { error: msg.clone() });
                eprintln!("nimbus {HELPER_ARG}: {msg}");
                return EXIT_EXEC_FAILED;
            }
        },
        Some((child, mut sock)) => {
            let cfg = init_config(&req, &prep, &applied, env);
            let mut line = serde_json::to_vec(&cfg).unwrap_or_default();
            line.push(b'\n');
            if let Err(e) = sock.write_all(&line) {
                return fail(format!("cannot configure the sandbox init: {e}"));
            }
            Runtime {
                child,
                init_sock: Some(sock),
            }
        }
    };
    rt.block_on(stage1_run(
        runtime,
        applied,
        ctl,
        api_listener,
        nimbus_listener,
        runtime_api,
    ))
}

fn read_json<T: serde::de::DeserializeOwned>(
    reader: &mut impl BufRead,
) -> Result<Option<T>, String> {
    let mut line = Vec::new();
    reader
        .take(MAX_LINE_BYTES as u64)
        .read_until(b'\n', &mut line)
        .map_err(|e| e.to_string())?;
    if line.is_empty() {
        return Ok(None);
    }
    serde_json::from_slice(&line)
        .map(Some)
        .map_err(|e| e.to_string())
}

/// Removes cgroup directories once their processes are gone (bounded retries).
fn remove_cgroups(dirs: &[PathBuf]) {
    for _ in 0..200 {
        if dirs
            .iter()
            .all(|d| !d.exists() || std::fs::remove_dir(d).is_ok())
        {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// The runtime's process (stage 2, or the program itself when the sandbox is off).
struct Runtime {
    child: tokio::process::Child,
    /// Stage 2's end of the report socket.
    init_sock: Option<StdUnixStream>,
}

/// `/proc/self/exe __sandbox init`, stdin = one end of a socket pair (configuration in,
/// reports out); empty environment; born in the new pid namespace (its PID 1).
fn spawn_init() -> std::io::Result<(tokio::process::Child, StdUnixStream)> {
    let (ours, theirs) = StdUnixStream::pair()?;
    let mut cmd = tokio::process::Command::new("/proc/self/exe");
    cmd.arg(HELPER_ARG)
        .arg("init")
        .env_clear()
        .stdin(Stdio::from(std::os::fd::OwnedFd::from(theirs)))
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit())
        .kill_on_drop(true);
    let child = cmd.spawn()?;
    Ok((child, ours))
}

/// Creates the namespaces (not the network one when the operator chose the host's
/// network); each one that fails is reported, the rest still apply.
fn unshare_namespaces(applied: &mut Stage1Applied, host_network: bool) {
    let root = nix::unistd::geteuid().is_root();
    if !root {
        match enter_user_namespace() {
            Ok(()) => applied.user_ns = true,
            Err(e) => {
                applied.warnings.push(format!(
                    "not root and no user namespace ({e}): no namespaces"
                ));
                return;
            }
        }
    }
    let net = if host_network {
        CloneFlags::empty()
    } else {
        CloneFlags::CLONE_NEWNET
    };
    let all = CloneFlags::CLONE_NEWPID | net | CloneFlags::CLONE_NEWIPC | CloneFlags::CLONE_NEWUTS;
    if nix::sched::unshare(all).is_ok() {
        applied.pid_ns = true;
        applied.net_ns = !host_network;
        applied.ipc_ns = true;
        applied.uts_ns = true;
        return;
    }
    // One at a time, to keep whatever the host allows.
    for (flag, slot, name) in [
        (CloneFlags::CLONE_NEWPID, &mut applied.pid_ns, "pid"),
        (net, &mut applied.net_ns, "network"),
        (CloneFlags::CLONE_NEWIPC, &mut applied.ipc_ns, "ipc"),
        (CloneFlags::CLONE_NEWUTS, &mut applied.uts_ns, "uts"),
    ] {
        if flag.is_empty() {
            continue;
        }
        match nix::sched::unshare(flag) {
            Ok(()) => *slot = true,
            Err(e) => applied
                .warnings
                .push(format!("cannot create a {name} namespace: {e}")),
        }
    }
}

/// Unprivileged hosts: a user namespace where we are root (mapped to our own uid), so
/// the other namespaces and the mounts become possible.
fn enter_user_namespace() -> Result<(), String> {
    let uid = nix::unistd::geteuid();
    let gid = nix::unistd::getegid();
    nix::sched::unshare(CloneFlags::CLONE_NEWUSER).map_err(|e| e.to_string())?;
    std::fs::write("/proc/self/setgroups", "deny").map_err(|e| format!("setgroups: {e}"))?;
    std::fs::write("/proc/self/uid_map", format!("0 {uid} 1"))
        .map_err(|e| format!("uid_map: {e}"))?;
    std::fs::write("/proc/self/gid_map", format!("0 {gid} 1"))
        .map_err(|e| format!("gid_map: {e}"))?;
    Ok(())
}

async fn stage1_run(
    runtime: Runtime,
    applied: Stage1Applied,
    ctl: StdUnixStream,
    api_listener: std::net::TcpListener,
    nimbus_listener: Option<(std::net::TcpListener, PathBuf)>,
    runtime_api: String,
) -> i32 {
    let Runtime {
        mut child,
        init_sock,
    } = runtime;
    // `started`, with the Runtime API listener for nimbus to accept on. Our copy closes
    // right after: the runtime's connections are nimbus's business from here on.
    let pid = child.id().and_then(|p| i32::try_from(p).ok()).unwrap_or(0);
    let started = report_line(&Report::Started {
        pid,
        applied,
        runtime_api,
    });
    if let Err(e) = super::fdpass::send_with_fd(&ctl, &started, api_listener.as_fd()) {
        eprintln!("nimbus {HELPER_ARG}: cannot hand over the Runtime API listener: {e}");
        let _ = child.start_kill();
        return EXIT_SETUP_FAILED;
    }
    drop(api_listener);
    let ctl_async = match ctl
        .set_nonblocking(true)
        .and_then(|()| tokio::net::UnixStream::from_std(ctl))
    {
        Ok(s) => s,
        Err(e) => {
            eprintln!("nimbus {HELPER_ARG}: control socket: {e}");
            let _ = child.start_kill();
            return EXIT_SETUP_FAILED;
        }
    };
    let (mut ctl_rd, mut ctl_wr) = ctl_async.into_split();
    let mut init_rd = init_sock.and_then(|s| {
        s.set_nonblocking(true).ok()?;
        tokio::net::UnixStream::from_std(s)
            .ok()
            .map(tokio::io::BufReader::new)
    });

    let mut proxies = Vec::new();
    if let Some((listener, target)) = nimbus_listener {
        let spawned = listener
            .set_nonblocking(true)
            .and_then(|()| tokio::net::TcpListener::from_std(listener));
        match spawned {
            Ok(l) => proxies.push(tokio::spawn(proxy(l, target))),
            Err(e) => eprintln!("nimbus {HELPER_ARG}: proxy listener: {e}"),
        }
    }

    let mut sigterm =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    let mut launcher_alive = true;
    let mut buf = [0u8; 256];
    let mut init_line = Vec::new();
    let status = loop {
        tokio::select! {
            status = child.wait() => break status,
            _ = async { match sigterm.as_mut() { Some(s) => { s.recv().await; } None => std::future::pending().await } } => {
                let _ = child.start_kill();
            }
            n = ctl_rd.read(&mut buf), if launcher_alive => {
                // EOF (or an error): nimbus is gone; nothing may outlive it.
                if matches!(n, Ok(0) | Err(_)) {
                    launcher_alive = false;
                    let _ = child.start_kill();
                }
            }
            // Stage 2's reports, forwarded; EOF once it exec'd the runtime.
            n = async {
                match init_rd.as_mut() {
                    Some(r) => r.take(MAX_LINE_BYTES as u64).read_until(b'\n', &mut init_line).await,
                    None => std::future::pending().await,
                }
            } => {
                match n {
                    Ok(n) if n > 0 => {
                        let _ = ctl_wr.write_all(&init_line).await;
                        init_line.clear();
                    }
                    _ => init_rd = None,
                }
            }
        }
    };
    for p in proxies {
        p.abort();
    }
    let (code, signal) = match &status {
        Ok(s) => {
            use std::os::unix::process::ExitStatusExt;
            (s.code(), s.signal())
        }
        Err(_) => (Some(EXIT_SETUP_FAILED), None),
    };
    let _ = ctl_wr
        .write_all(&report_line(&Report::Exit { code, signal }))
        .await;
    match (code, signal) {
        (Some(c), _) => c,
        (None, Some(s)) => 128 + s,
        (None, None) => EXIT_SETUP_FAILED,
    }
}

/// `NIMBUS_SANDBOX=off`: the runtime runs directly, paths rewritten to the host's.
fn direct_command(spec: &SandboxSpec, env: Vec<(String, String)>) -> tokio::process::Command {
    let map = PathMap::new(
        &spec.code_dir,
        spec.opt_dir.as_deref(),
        spec.runtime_dir.as_deref(),
        &spec.scratch_dir,
    );
    let argv: Vec<String> = spec.argv.iter().map(|a| map.rewrite(a)).collect();
    let env = map.rewrite_env(env, &host_fallback_dirs(&spec.scratch_dir));
    let program = argv.first().cloned().unwrap_or_default();
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(argv.iter().skip(1))
        .env_clear()
        .envs(env)
        .current_dir(&spec.code_dir)
        .stdin(Stdio::null())
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit())
        .kill_on_drop(true);
    cmd
}

fn init_config(
    req: &HelperRequest,
    prep: &Prepare,
    applied: &Stage1Applied,
    env: Vec<(String, String)>,
) -> InitConfig {
    let spec = &req.spec;
    let root = nix::unistd::geteuid().is_root();
    InitConfig {
        argv: spec.argv.clone(),
        env,
        // A private root needs the pid namespace too: the new /proc must not show
        // host processes.
        mount: applied.pid_ns,
        root_dir: spec.scratch_dir.join("root"),
        code_dir: spec.code_dir.clone(),
        opt_dir: spec.opt_dir.clone(),
        runtime_dir: spec.runtime_dir.clone(),
        host_ro_paths: spec.host_ro_paths.clone(),
        tmp_mb: spec.tmp_mb,
        scratch_dir: spec.scratch_dir.clone(),
        drop_to: (root && !applied.user_ns).then_some((SANDBOX_UID, SANDBOX_GID)),
        set_nproc: !(applied.cgroup_joined
            && prep.cgroup_dirs.iter().any(|d| d.join("pids.max").exists())),
    }
}

/// Proxies each TCP connection to a fresh connection on the Unix socket `target`.
async fn proxy(listener: tokio::net::TcpListener, target: PathBuf) {
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_PROXY_CONNECTIONS));
    loop {
        let (mut tcp, _) = match listener.accept().await {
            Ok(c) => c,
            Err(_) => {
                // EMFILE and friends: back off instead of spinning.
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                continue;
            }
        };
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            continue;
        };
        let target = target.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let _ = tcp.set_nodelay(true);
            if let Ok(mut unix) = tokio::net::UnixStream::connect(&target).await {
                let _ = tokio::io::copy_bidirectional(&mut tcp, &mut unix).await;
            }
        });
    }
}

// ---------------------------------------------------------------------------------------
// Stage 2
// ---------------------------------------------------------------------------------------

fn stage2() -> i32 {
    // If stage 1 dies (killed by nimbus), so does the runtime and, as PID 1, its
    // whole pid namespace. Survives the exec below.
    let _ = nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL);
    let ctl = control_socket().ok();
    let fail = |msg: String, code: i32| {
        eprintln!("nimbus {HELPER_ARG} init: {msg}");
        if let Some(c) = &ctl {
            send_report(c, &Report::Failed { error: msg });
        }
        code
    };
    let Some(sock) = &ctl else {
        return fail("no configuration socket".to_string(), EXIT_SETUP_FAILED);
    };
    // Waits here while the helper is warm.
    let cfg: InitConfig = match read_json(&mut std::io::BufReader::new(sock)) {
        Ok(Some(c)) => c,
        // Stage 1 went away before the function was known: nothing to do.
        Ok(None) => return 0,
        Err(e) => return fail(format!("bad config: {e}"), EXIT_SETUP_FAILED),
    };

    let mut applied = Stage2Applied::default();
    let mut env = cfg.env.clone();
    let mut argv = cfg.argv.clone();
    let cwd: PathBuf;
    if cfg.mount {
        match mounts::enter_new_root(&cfg) {
            Ok(()) => {
                applied.mount_ns = true;
            }
            Err(e) => applied.warnings.push(format!("no private root: {e}")),
        }
    }
    if applied.mount_ns {
        cwd = PathBuf::from("/var/task");
    } else {
        // No private root: /var/task etc. do not exist; point at the host's copies.
        let map = PathMap::new(
            &cfg.code_dir,
            cfg.opt_dir.as_deref(),
            cfg.runtime_dir.as_deref(),
            &cfg.scratch_dir,
        );
        argv = argv.iter().map(|a| map.rewrite(a)).collect();
        env = map.rewrite_env(env, &host_fallback_dirs(&cfg.scratch_dir));
        cwd = cfg.code_dir.clone();
    }

    applied.rlimits = set_rlimits(cfg.set_nproc, &mut applied.warnings);

    // Privileges last: everything above needs root. Only inside the private root, whose
    // directories we created world-traversable (on the host, the runtime's files may sit
    // under root-only directories such as /root/.pyenv).
    if let (Some((uid, gid)), true) = (cfg.drop_to, applied.mount_ns) {
        let r = nix::unistd::setgroups(&[])
            .and_then(|()| nix::unistd::setgid(nix::unistd::Gid::from_raw(gid)))
            .and_then(|()| nix::unistd::setuid(nix::unistd::Uid::from_raw(uid)));
        match r {
            Ok(()) => applied.unprivileged_user = true,
            Err(e) => applied
                .warnings
                .push(format!("cannot drop to uid {uid}: {e}")),
        }
    }

    if let Some(c) = &ctl {
        send_report(c, &Report::Confined { applied });
    }
    let Some(program) = argv.first().cloned() else {
        return fail("empty argv".to_string(), EXIT_EXEC_FAILED);
    };
    let err = std::process::Command::new(&program)
        .args(argv.iter().skip(1))
        .env_clear()
        .envs(env)
        .current_dir(&cwd)
        .stdin(Stdio::null())
        .exec();
    let code = if err.kind() == std::io::ErrorKind::PermissionDenied {
        126
    } else {
        EXIT_EXEC_FAILED
    };
    fail(format!("cannot exec {program}: {err}"), code)
}

fn set_rlimits(set_nproc: bool, warnings: &mut Vec<String>) -> bool {
    use nix::sys::resource::{setrlimit, Resource};
    let mut ok = true;
    let mut limits = vec![
        (Resource::RLIMIT_NOFILE, 1024u64, "NOFILE"),
        (Resource::RLIMIT_CORE, 0, "CORE"),
    ];
    // Per-uid across all sandboxes (they share uid 993), so only when no pids cgroup
    // caps each environment at 1024 instead.
    if set_nproc {
        limits.push((Resource::RLIMIT_NPROC, 1024, "NPROC"));
    }
    for (res, value, name) in limits {
        if let Err(e) = setrlimit(res, value, value) {
            ok = false;
            warnings.push(format!("setrlimit {name}: {e}"));
        }
    }
    ok
}

/// Translates sandbox paths (/var/task, /opt, /var/runtime, /tmp) to host paths when
/// there is no private root, in arguments and in `:`-separated environment values.
struct PathMap {
    pairs: Vec<(&'static str, PathBuf)>,
}

impl PathMap {
    fn new(code: &Path, opt: Option<&Path>, runtime: Option<&Path>, scratch: &Path) -> PathMap {
        let mut pairs = vec![("/var/task", code.to_path_buf())];
        pairs.push((
            "/opt",
            opt.map(Path::to_path_buf)
                .unwrap_or_else(|| scratch.join("opt")),
        ));
        if let Some(r) = runtime {
            pairs.push(("/var/runtime", r.to_path_buf()));
        }
        PathMap { pairs }
    }

    fn rewrite_one(&self, s: &str) -> String {
        for (prefix, host) in &self.pairs {
            if let Some(rest) = s.strip_prefix(prefix) {
                if rest.is_empty() || rest.starts_with('/') {
                    let mut out = OsString::from(host.as_os_str());
                    out.push(rest);
                    return out.to_string_lossy().into_owned();
                }
            }
        }
        s.to_string()
    }

    fn rewrite(&self, s: &str) -> String {
        s.split(':')
            .map(|part| self.rewrite_one(part))
            .collect::<Vec<_>>()
            .join(":")
    }

    /// Rewrites every value, and points TMPDIR at a private directory: without a
    /// private root, /tmp is the host's.
    fn rewrite_env(&self, env: Vec<(String, String)>, tmp_dir: &Path) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = env
            .into_iter()
            .filter(|(k, _)| k != "TMPDIR")
            .map(|(k, v)| {
                let v = self.rewrite(&v);
                (k, v)
            })
            .collect();
        out.push(("TMPDIR".to_string(), tmp_dir.to_string_lossy().into_owned()));
        out
    }
}

/// Creates the host-side stand-ins for /opt (when no layers) and /tmp.
fn host_fallback_dirs(scratch: &Path) -> PathBuf {
    let tmp = scratch.join("tmp");
    let _ = std::fs::create_dir_all(scratch.join("opt"));
    let _ = std::fs::create_dir_all(&tmp);
    tmp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_map_rewrites_prefixes_only() {
        let m = PathMap::new(
            Path::new("/h/code"),
            None,
            Some(Path::new("/h/rt")),
            Path::new("/h/s"),
        );
        assert_eq!(m.rewrite("/var/task/bootstrap"), "/h/code/bootstrap");
        assert_eq!(m.rewrite("/var/task"), "/h/code");
        assert_eq!(m.rewrite("/var/taskx"), "/var/taskx");
        assert_eq!(
            m.rewrite("/var/runtime:/var/task:/opt/python"),
            "/h/rt:/h/code:/h/s/opt/python"
        );
        assert_eq!(m.rewrite("index.handler"), "index.handler");
    }

    #[test]
    fn helper_args_accept_full_or_stripped() {
        assert_eq!(
            helper_main(&["x".into(), HELPER_ARG.into(), "bogus".into()]),
            2
        );
        assert_eq!(helper_main(&[HELPER_ARG.into(), "bogus".into()]), 2);
        assert_eq!(helper_main(&["bogus".into()]), 2);
    }
}
