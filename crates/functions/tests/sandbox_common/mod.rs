//! Shared by the sandbox test files: specs, a Runtime API stand-in, output collection.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]
use std::path::{Path, PathBuf};
use std::time::Duration;

use nimbus_functions::sandbox::{launch, ExitInfo, SandboxChild, SandboxSpec};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub const HELPER: &str = env!("CARGO_BIN_EXE_sandbox-helper");

/// A work area outside /tmp (a sandbox's /tmp is private, so a host /tmp path would
/// prove nothing) with a code dir.
pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub code_dir: PathBuf,
}

/// Answers every request on the Unix socket `socket` with `reply` as the body.
pub fn serve_http(socket: &Path, reply: &'static str) -> tokio::task::JoinHandle<()> {
    let listener = tokio::net::UnixListener::bind(socket).unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((s, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(answer(s, reply));
        }
    })
}

/// The Runtime API stand-in: answers every request on the listener the sandbox hands
/// over (bound inside its network namespace) with `reply`.
pub fn serve_runtime_api(
    child: &mut SandboxChild,
    reply: &'static str,
) -> tokio::task::JoinHandle<()> {
    let rx = child
        .runtime_api_listener
        .take()
        .expect("a Runtime API listener");
    tokio::spawn(async move {
        let Ok(listener) = rx.await else {
            return;
        };
        listener.set_nonblocking(true).unwrap();
        let listener = tokio::net::TcpListener::from_std(listener).unwrap();
        loop {
            let Ok((s, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(answer(s, reply));
        }
    })
}

async fn answer<S>(mut s: S, reply: &'static str)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    {
        let mut buf = vec![0u8; 4096];
        let mut got = Vec::new();
        while !got.windows(4).any(|w| w == b"\r\n\r\n") {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
        let resp = format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
            reply.len(),
            reply
        );
        let _ = s.write_all(resp.as_bytes()).await;
        let _ = s.shutdown().await;
    }
}

impl Fixture {
    pub fn new() -> Fixture {
        let base = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
        std::fs::create_dir_all(&base).unwrap();
        let dir = tempfile::Builder::new()
            .prefix("sbx-")
            .tempdir_in(&base)
            .unwrap();
        let code_dir = dir.path().join("code");
        std::fs::create_dir_all(&code_dir).unwrap();
        std::fs::write(code_dir.join("handler.txt"), "code file\n").unwrap();
        Fixture { dir, code_dir }
    }

    pub fn spec(&self, name: &str, script: &str) -> SandboxSpec {
        SandboxSpec {
            id: format!("test-{name}-{}", uuid::Uuid::new_v4().simple()),
            argv: vec!["/bin/bash".into(), "-c".into(), script.into()],
            env: vec![
                ("PATH".into(), "/usr/local/bin:/usr/bin:/bin".into()),
                ("LAMBDA_TASK_ROOT".into(), "/var/task".into()),
            ],
            code_dir: self.code_dir.clone(),
            opt_dir: None,
            runtime_dir: None,
            host_ro_paths: vec![],
            tmp_mb: 16,
            memory_mb: 128,
            nimbus_socket: None,
            nimbus_addr: "127.0.0.1:4566".parse().unwrap(),
            scratch_dir: self.dir.path().join(format!("scratch-{name}")),
        }
    }
}

pub struct Output {
    pub exit: ExitInfo,
    pub stdout: String,
    pub stderr: String,
    pub max_memory: Option<u64>,
}

pub async fn collect(mut child: SandboxChild) -> Output {
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let read_out = async {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s).await;
        s
    };
    let read_err = async {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s).await;
        s
    };
    let fut = async {
        let (stdout, stderr, exit) = tokio::join!(read_out, read_err, child.wait());
        (stdout, stderr, exit)
    };
    let (stdout, stderr, exit) = tokio::time::timeout(Duration::from_secs(30), fut)
        .await
        .expect("sandboxed program did not finish");
    Output {
        exit,
        stdout,
        stderr,
        max_memory: child.max_memory_used_bytes(),
    }
}

pub async fn run(spec: &SandboxSpec) -> Output {
    let mut child = launch(Path::new(HELPER), spec).expect("launch");
    let api = serve_runtime_api(&mut child, "hello-from-runtime-api");
    let out = collect(child).await;
    api.abort();
    out
}

/// Host pids whose command line contains `marker`.
pub fn host_pids_with(marker: &str) -> Vec<i32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        if let Ok(cmd) = std::fs::read(e.path().join("cmdline")) {
            if String::from_utf8_lossy(&cmd).contains(marker) {
                out.push(pid);
            }
        }
    }
    out
}

/// Like [`host_pids_with`], only `sleep` processes (bash subshells carry the marker in
/// their command line until they exec).
pub fn host_sleepers_with(marker: &str) -> Vec<i32> {
    host_pids_with(marker)
        .into_iter()
        .filter(|p| {
            std::fs::read_to_string(format!("/proc/{p}/comm")).is_ok_and(|c| c.trim() == "sleep")
        })
        .collect()
}
