//! The real `nimbus` binary: command line, the exposure rule, SIGTERM, durability
//! across a restart.
#![allow(clippy::unwrap_used)]

mod support;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use support::*;

const BIN: &str = env!("CARGO_BIN_EXE_nimbus");

fn nimbus() -> Command {
    let mut c = Command::new(BIN);
    // Keep the developer's own config and credentials out of the test.
    c.env_remove("NIMBUS_CONFIG")
        .env_remove("NIMBUS_CREDENTIALS")
        .env_remove("NIMBUS_BIND")
        .env_remove("NIMBUS_DATA_DIR")
        .env_remove("NIMBUS_IN_MEMORY")
        .env_remove("NIMBUS_SYNC")
        .env("XDG_CONFIG_HOME", "/nonexistent-nimbus-test-config")
        .env("NIMBUS_LOG", "info");
    c
}

struct Running {
    child: Child,
    addr: SocketAddr,
    /// The rest of stderr, line by line.
    lines: mpsc::Receiver<String>,
}

fn spawn(args: &[&str]) -> Running {
    let mut child = nimbus()
        .args(["up", "--bind", "127.0.0.1:0"])
        .args(args)
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let addr = loop {
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("nimbus did not report its address");
        if let Some(rest) = line.split("listening on http://").nth(1) {
            break rest.split_whitespace().next().unwrap().parse().unwrap();
        }
    };
    Running {
        child,
        addr,
        lines: rx,
    }
}

impl Running {
    fn terminate(mut self) -> (std::process::ExitStatus, Vec<String>) {
        let ok = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(ok.success());
        let status = self.child.wait().unwrap();
        let rest: Vec<String> = self.lines.try_iter().collect();
        (status, rest)
    }
}

#[test]
fn version_and_help() {
    let out = nimbus().arg("--version").output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("nimbus "));
    let out = nimbus().args(["up", "--help"]).output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "--bind",
        "--data-dir",
        "--in-memory",
        "--sync",
        "--config",
        "NIMBUS_BIND",
    ] {
        assert!(help.contains(needle), "{needle} missing from:\n{help}");
    }
}

#[test]
fn refuses_to_expose_only_the_default_key() {
    let out = nimbus()
        .args(["up", "--bind", "0.0.0.0:0", "--in-memory"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("refusing to listen on 0.0.0.0:0"), "{err}");
    assert!(err.contains("NIMBUS_CREDENTIALS"), "{err}");
}

#[test]
fn bad_configuration_is_reported() {
    let out = nimbus()
        .args(["up", "--config", "/nonexistent/nimbus.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("cannot read config file /nonexistent/nimbus.toml"));
    let out = nimbus()
        .args(["up", "--sync", "sometimes"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn sigterm_exits_cleanly_and_data_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data_arg = data.to_str().unwrap().to_string();

    let first = spawn(&["--data-dir", &data_arg]);
    let a = first.addr;
    let health = send(a, &Request::new("GET", "/_nimbus/health"));
    assert_eq!(health.status, 200);
    assert_eq!(health.json()["store"]["path"], data_arg.as_str());
    let created = send(
        a,
        &query("Action=CreateUser&Version=2010-05-08&UserName=durable").sign(
            a,
            "test",
            "test",
            "iam",
            now(),
        ),
    );
    assert_eq!(created.status, 200, "{}", created.body);
    let (status, logs) = first.terminate();
    assert!(status.success(), "exit status {status:?}, logs: {logs:?}");
    assert!(
        logs.iter().any(|l| l.contains("nimbus stopped")),
        "{logs:?}"
    );
    assert!(data.is_dir(), "the data directory was created");

    let second = spawn(&["--data-dir", &data_arg]);
    let a = second.addr;
    let got = send(
        a,
        &query("Action=GetUser&Version=2010-05-08&UserName=durable").sign(
            a,
            "test",
            "test",
            "iam",
            now(),
        ),
    );
    assert_eq!(got.status, 200, "{}", got.body);
    assert!(
        got.body.contains("<UserName>durable</UserName>"),
        "{}",
        got.body
    );
    let (status, _) = second.terminate();
    assert!(status.success());
}

#[test]
fn in_memory_keeps_nothing() {
    let first = spawn(&["--in-memory"]);
    let a = first.addr;
    let health = send(a, &Request::new("GET", "/_nimbus/health"));
    assert_eq!(health.json()["store"]["engine"], "memory");
    let (status, _) = first.terminate();
    assert!(status.success());
}
