//! Shared fixtures of the engine tests: an engine over a temp dir, a recording log sink,
//! functions written into temp dirs.
#![allow(dead_code, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use nimbus_functions::{Engine, EngineConfig, FunctionSpec, Invocation, LogSink};
use parking_lot::Mutex;

#[derive(Default)]
pub struct RecordingSink {
    pub lines: Mutex<Vec<(String, String, String)>>, // (group, stream, message)
}

impl LogSink for RecordingSink {
    fn append(&self, _a: &str, _r: &str, group: &str, stream: &str, lines: Vec<(i64, String)>) {
        let mut l = self.lines.lock();
        for (_, m) in lines {
            l.push((group.to_string(), stream.to_string(), m));
        }
    }
}

impl RecordingSink {
    pub fn messages(&self) -> Vec<String> {
        self.lines
            .lock()
            .iter()
            .map(|(_, _, m)| m.clone())
            .collect()
    }
}

pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub engine: Arc<Engine>,
    pub sink: Arc<RecordingSink>,
}

/// The shared SDK cache of every test run (installs happen once per machine).
pub fn cache_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("runtime-cache")
}

pub fn fixture_with(account_concurrency: u32, idle_timeout_ms: u64) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let sink = Arc::new(RecordingSink::default());
    let cfg = EngineConfig {
        work_dir: dir.path().join("work"),
        runtime_cache_dir: cache_dir(),
        helper_exe: PathBuf::from(env!("CARGO_BIN_EXE_sandbox-helper")),
        nimbus_addr: "127.0.0.1:4566".parse().unwrap(),
        nimbus_socket: None,
        account_concurrency,
        idle_timeout_ms,
        init_timeout_ms: 10_000,
        hidden_paths: vec![],
    };
    let engine = Engine::new(cfg, sink.clone());
    Fixture { dir, engine, sink }
}

pub fn fixture() -> Fixture {
    fixture_with(1000, 60_000)
}

/// Writes `files` into a fresh code directory.
pub fn code(fx: &Fixture, name: &str, files: &[(&str, &str)]) -> PathBuf {
    let d = fx.dir.path().join("code").join(name);
    for (rel, body) in files {
        let p = d.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, body).unwrap();
    }
    std::fs::create_dir_all(&d).unwrap();
    d
}

pub fn make_executable(p: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
}

pub fn spec(name: &str, runtime: &str, handler: &str, code_dir: PathBuf) -> FunctionSpec {
    FunctionSpec {
        function_arn: format!("arn:aws:lambda:us-east-1:000000000000:function:{name}"),
        function_name: name.to_string(),
        version: "$LATEST".to_string(),
        revision_id: "r1".to_string(),
        runtime: runtime.to_string(),
        handler: handler.to_string(),
        code_dir,
        opt_dir: None,
        memory_mb: 256,
        timeout_ms: 10_000,
        ephemeral_storage_mb: 512,
        environment: vec![],
        region: "us-east-1".to_string(),
        account_id: "000000000000".to_string(),
        log_group: format!("/aws/lambda/{name}"),
        credentials: None,
        reserved_concurrency: None,
    }
}

pub fn inv(payload: &str) -> Invocation {
    Invocation {
        request_id: uuid::Uuid::new_v4().to_string(),
        invoked_function_arn: "arn:aws:lambda:us-east-1:000000000000:function:f".to_string(),
        payload: Bytes::from(payload.to_string()),
        client_context: None,
        cognito_identity: None,
        trace_id: None,
        want_log_tail: false,
    }
}

pub fn json(b: &Bytes) -> serde_json::Value {
    serde_json::from_slice(b)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(b)))
}

pub fn have(cmd: &str) -> bool {
    std::process::Command::new(cmd)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}
