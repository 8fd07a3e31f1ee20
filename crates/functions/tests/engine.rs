//! Engine tests with real Python and Node.js handlers (host python3.11, node 20), run
//! through the sandbox helper. The SDK install is off here (`engine_sdk.rs` tests it).
#![allow(clippy::unwrap_used)]

mod engine_common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use engine_common::*;
use nimbus_functions::InvokeError;

fn no_sdk() {
    // Once: setenv racing with other threads' getenv is undefined behaviour in libc.
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| std::env::set_var("NIMBUS_FUNCTION_SDK", "off"));
}

const PY_OK: &str = r#"
import os, logging, decimal
logging.basicConfig(level=logging.DEBUG, format="%(message)s")  # a no-op on AWS
logger = logging.getLogger()
logger.setLevel(logging.INFO)
COUNT = 0
def handler(event, context):
    global COUNT
    COUNT += 1
    print("hello from the handler")
    logger.info("via logging")
    return {
        "echo": event,
        "count": COUNT,
        "pid": os.getpid(),
        "function_name": context.function_name,
        "memory": context.memory_limit_in_mb,
        "request_id": context.aws_request_id,
        "arn": context.invoked_function_arn,
        "remaining_ok": 0 < context.get_remaining_time_in_millis() <= 10000,
        "dec": decimal.Decimal("1.5"),
        "env": {k: os.environ.get(k) for k in ["AWS_LAMBDA_FUNCTION_NAME", "AWS_REGION", "_HANDLER", "TZ", "MY_VAR", "AWS_EXECUTION_ENV", "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME", "AWS_ENDPOINT_URL"]},
    }
"#;

#[tokio::test]
async fn python_handler_result_context_env_and_warm_reuse() {
    no_sdk();
    let fx = fixture();
    let dir = code(&fx, "py", &[("app.py", PY_OK)]);
    let mut s = spec("pyok", "python3.11", "app.handler", dir);
    s.environment = vec![
        ("MY_VAR".into(), "mine".into()),
        ("AWS_REGION".into(), "eu-west-9".into()), // reserved: ignored
    ];
    let s = Arc::new(s);
    let mut first = inv(r#"{"x": 1}"#);
    first.want_log_tail = true;
    let rid = first.request_id.clone();
    let out = fx.engine.invoke(&s, first).await.unwrap();
    assert_eq!(
        out.function_error,
        None,
        "{}",
        String::from_utf8_lossy(&out.payload)
    );
    let v = json(&out.payload);
    assert_eq!(v["echo"]["x"], 1);
    assert_eq!(v["count"], 1);
    assert_eq!(v["function_name"], "pyok");
    assert_eq!(v["memory"], "256");
    assert_eq!(v["request_id"], rid.as_str());
    assert_eq!(v["arn"], "arn:aws:lambda:us-east-1:000000000000:function:f");
    assert_eq!(v["remaining_ok"], true);
    assert_eq!(v["dec"], 1.5);
    assert_eq!(v["env"]["AWS_LAMBDA_FUNCTION_NAME"], "pyok");
    assert_eq!(v["env"]["AWS_REGION"], "us-east-1");
    assert_eq!(v["env"]["_HANDLER"], "app.handler");
    assert_eq!(v["env"]["TZ"], ":UTC");
    assert_eq!(v["env"]["MY_VAR"], "mine");
    assert_eq!(v["env"]["AWS_EXECUTION_ENV"], "AWS_Lambda_python3.11");
    assert_eq!(v["env"]["AWS_LAMBDA_LOG_GROUP_NAME"], "/aws/lambda/pyok");
    let stream = v["env"]["AWS_LAMBDA_LOG_STREAM_NAME"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        stream.contains("/[$LATEST]") && stream.len() == "2026/11/26/[$LATEST]".len() + 32,
        "{stream}"
    );
    assert!(v["env"]["AWS_ENDPOINT_URL"]
        .as_str()
        .unwrap()
        .starts_with("http://127.0.0.1:"));
    assert!(out.init_duration_ms.is_some());
    let tail = String::from_utf8(out.log_tail.clone().unwrap()).unwrap();
    assert!(
        tail.contains(&format!("START RequestId: {rid} Version: $LATEST")),
        "{tail}"
    );
    assert!(tail.contains("hello from the handler"), "{tail}");
    // AWS's log format for the logging module, one handler only (basicConfig no-op).
    assert!(tail.contains(&format!("Z\t{rid}\tvia logging\n")), "{tail}");
    assert!(tail.contains("[INFO]\t20"), "{tail}");
    assert_eq!(tail.matches("via logging").count(), 1, "{tail}");
    assert!(tail.contains(&format!("END RequestId: {rid}")), "{tail}");
    assert!(
        tail.contains(&format!("REPORT RequestId: {rid}\tDuration: ")),
        "{tail}"
    );
    assert!(tail.contains("\tInit Duration: "), "{tail}");

    // Warm: same process, module state kept, no init duration.
    let out2 = fx.engine.invoke(&s, inv(r#"{"x": 2}"#)).await.unwrap();
    let v2 = json(&out2.payload);
    assert_eq!(v2["count"], 2);
    assert_eq!(v2["pid"], v["pid"]);
    assert!(out2.init_duration_ms.is_none());
    assert!(out2.log_tail.is_none());

    // The log went to the function's group and this environment's stream.
    let lines = fx.sink.lines.lock().clone();
    assert!(lines
        .iter()
        .all(|(g, st, _)| g == "/aws/lambda/pyok" && *st == stream));
    let msgs: Vec<&String> = lines.iter().map(|(_, _, m)| m).collect();
    assert_eq!(
        msgs.iter()
            .filter(|m| m.starts_with("START RequestId:"))
            .count(),
        2
    );
    assert_eq!(
        msgs.iter()
            .filter(|m| m.starts_with("REPORT RequestId:"))
            .count(),
        2
    );
    let h = fx.engine.health();
    assert_eq!(h["cold_starts"], 1);
    assert_eq!(h["warm_starts"], 1);
    fx.engine.shutdown().await;
}

#[tokio::test]
async fn python_errors_have_aws_shapes() {
    no_sdk();
    let fx = fixture();
    let dir = code(
        &fx,
        "pyerr",
        &[
            (
                "app.py",
                "def handler(event, context):\n    raise ValueError('boom')\n",
            ),
            ("broken.py", "import not_a_module_xyz\n"),
        ],
    );
    let s = Arc::new(spec("pyerr", "python3.11", "app.handler", dir.clone()));
    let i = inv("{}");
    let rid = i.request_id.clone();
    let out = fx.engine.invoke(&s, i).await.unwrap();
    assert_eq!(out.function_error.as_deref(), Some("Unhandled"));
    let v = json(&out.payload);
    assert_eq!(v["errorType"], "ValueError");
    assert_eq!(v["errorMessage"], "boom");
    assert_eq!(v["requestId"], rid.as_str());
    let st = v["stackTrace"].as_array().unwrap();
    assert!(
        !st.is_empty() && st[0].as_str().unwrap().contains("app.py"),
        "{v}"
    );

    // Import error: an init error, AWS's message.
    let s2 = Arc::new(spec("pyimp", "python3.11", "broken.handler", dir.clone()));
    let mut i = inv("{}");
    i.want_log_tail = true;
    let out = fx.engine.invoke(&s2, i).await.unwrap();
    assert_eq!(out.function_error.as_deref(), Some("Unhandled"));
    // The init phase's output is part of the first invocation's tail.
    let tail = String::from_utf8(out.log_tail.clone().unwrap()).unwrap();
    assert!(
        tail.contains("[ERROR] Runtime.ImportModuleError: Unable to import module 'broken'"),
        "{tail}"
    );
    assert!(tail.contains("INIT_REPORT Init Duration: "), "{tail}");
    let v = json(&out.payload);
    assert_eq!(v["errorType"], "Runtime.ImportModuleError");
    assert_eq!(
        v["errorMessage"],
        "Unable to import module 'broken': No module named 'not_a_module_xyz'"
    );
    let s3 = Arc::new(spec("pymissing", "python3.11", "nope.handler", dir.clone()));
    let v = json(&fx.engine.invoke(&s3, inv("{}")).await.unwrap().payload);
    assert_eq!(
        v["errorMessage"],
        "Unable to import module 'nope': No module named 'nope'"
    );

    // Handler missing on the module.
    let s4 = Arc::new(spec("pynohandler", "python3.11", "app.other", dir));
    let v = json(&fx.engine.invoke(&s4, inv("{}")).await.unwrap().payload);
    assert_eq!(v["errorType"], "Runtime.HandlerNotFound");
    assert_eq!(v["errorMessage"], "Handler 'other' missing on module 'app'");
    fx.engine.shutdown().await;
}

#[tokio::test]
async fn timeout_kills_the_environment_and_exit_is_reported() {
    no_sdk();
    let fx = fixture();
    let dir = code(
        &fx,
        "pyslow",
        &[(
            "app.py",
            "import time, os, uuid\nTOKEN = uuid.uuid4().hex\ndef handler(event, context):\n    if event.get('exit'):\n        os._exit(3)\n    time.sleep(event.get('sleep', 0))\n    return TOKEN\n",
        )],
    );
    let mut s = spec("pyslow", "python3.11", "app.handler", dir);
    s.timeout_ms = 1000;
    let s = Arc::new(s);
    let pid = json(&fx.engine.invoke(&s, inv("{}")).await.unwrap().payload);
    // The handler would sleep 30 s: an answer well before that is the timeout's.
    let i = inv(r#"{"sleep": 30}"#);
    let rid = i.request_id.clone();
    let t = Instant::now();
    let out = fx.engine.invoke(&s, i).await.unwrap();
    assert!(t.elapsed() < Duration::from_secs(20), "{:?}", t.elapsed());
    assert_eq!(out.function_error.as_deref(), Some("Unhandled"));
    let v = json(&out.payload);
    assert_eq!(v["errorType"], "Sandbox.Timedout");
    assert_eq!(
        v["errorMessage"],
        format!("RequestId: {rid} Error: Task timed out after 1.00 seconds")
    );
    assert!(fx
        .sink
        .messages()
        .iter()
        .any(|m| m.ends_with(&format!("{rid} Task timed out after 1.00 seconds"))));
    // The next invoke gets a fresh environment.
    let out = fx.engine.invoke(&s, inv("{}")).await.unwrap();
    assert!(out.init_duration_ms.is_some());
    assert_ne!(json(&out.payload), pid);

    let i = inv(r#"{"exit": true}"#);
    let rid = i.request_id.clone();
    let out = fx.engine.invoke(&s, i).await.unwrap();
    let v = json(&out.payload);
    assert_eq!(v["errorType"], "Runtime.ExitError");
    assert_eq!(
        v["errorMessage"],
        format!("RequestId: {rid} Error: Runtime exited with error: exit status 3")
    );
    let out = fx.engine.invoke(&s, inv("{}")).await.unwrap();
    assert_eq!(out.function_error, None);
    assert_eq!(fx.engine.health()["timeouts"], 1);
    assert_eq!(fx.engine.health()["crashes"], 1);
    fx.engine.shutdown().await;
}

#[tokio::test]
async fn parallel_invokes_scale_out_and_reserved_concurrency_throttles() {
    no_sdk();
    let fx = fixture();
    let dir = code(
        &fx,
        "pysleep",
        &[(
            "app.py",
            "import time\ndef handler(event, context):\n    time.sleep(event['sleep'])\n    return 'done'\n",
        )],
    );
    let s = Arc::new(spec("pysleep", "python3.11", "app.handler", dir.clone()));
    // Concurrent invokes each need their own environment: n idle environments afterwards
    // prove the sleeps overlapped (the pool reuses an idle one whenever there is one), with
    // no wall-clock bound to flake on a loaded machine.
    let n = 4;
    let mut tasks = Vec::new();
    for _ in 0..n {
        let e = fx.engine.clone();
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            e.invoke(&s, inv(r#"{"sleep": 2.0}"#)).await
        }));
    }
    for t in tasks {
        let out = t.await.unwrap().unwrap();
        assert_eq!(out.payload.as_ref(), br#""done""#);
    }
    assert_eq!(fx.engine.health()["environments"]["idle"], n);

    let mut r = spec("pyreserved", "python3.11", "app.handler", dir);
    r.reserved_concurrency = Some(1);
    let r = Arc::new(r);
    let e = fx.engine.clone();
    let r2 = r.clone();
    let busy = tokio::spawn(async move { e.invoke(&r2, inv(r#"{"sleep": 1.0}"#)).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    match fx.engine.invoke(&r, inv(r#"{"sleep": 0}"#)).await {
        Err(InvokeError::Throttled { reason }) => {
            assert_eq!(reason, "ReservedFunctionConcurrentInvocationLimitExceeded")
        }
        other => panic!("expected a throttle, got {other:?}"),
    }
    busy.await.unwrap().unwrap();
    // The slot is free again.
    fx.engine.invoke(&r, inv(r#"{"sleep": 0}"#)).await.unwrap();
    let mut z = (*r).clone();
    z.reserved_concurrency = Some(0);
    assert!(matches!(
        fx.engine.invoke(&Arc::new(z), inv("{}")).await,
        Err(InvokeError::Throttled { .. })
    ));
    fx.engine.shutdown().await;
}

#[tokio::test]
async fn account_limit_throttles() {
    no_sdk();
    let fx = fixture_with(1, 60_000);
    let dir = code(
        &fx,
        "pyacct",
        &[(
            "app.py",
            "import time\ndef handler(event, context):\n    time.sleep(event['sleep'])\n    return 1\n",
        )],
    );
    let s = Arc::new(spec("pyacct", "python3.11", "app.handler", dir));
    let e = fx.engine.clone();
    let s2 = s.clone();
    let busy = tokio::spawn(async move { e.invoke(&s2, inv(r#"{"sleep": 1.0}"#)).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    match fx.engine.invoke(&s, inv(r#"{"sleep": 0}"#)).await {
        Err(InvokeError::Throttled { reason }) => {
            assert_eq!(reason, "ConcurrentInvocationLimitExceeded")
        }
        other => panic!("expected a throttle, got {other:?}"),
    }
    busy.await.unwrap().unwrap();
    fx.engine.shutdown().await;
}

#[tokio::test]
async fn idle_environments_are_reaped_and_retire_stops_them() {
    no_sdk();
    let fx = fixture_with(1000, 300);
    let dir = code(
        &fx,
        "pyidle",
        &[("app.py", "def handler(event, context):\n    return 1\n")],
    );
    let s = Arc::new(spec("pyidle", "python3.11", "app.handler", dir));
    fx.engine.invoke(&s, inv("{}")).await.unwrap();
    assert_eq!(fx.engine.health()["environments"]["idle"], 1);
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(fx.engine.health()["environments"]["idle"], 0);
    assert_eq!(fx.engine.health()["reaped"], 1);
    fx.engine.invoke(&s, inv("{}")).await.unwrap();
    assert_eq!(fx.engine.health()["environments"]["idle"], 1);
    fx.engine.retire(&s.function_arn);
    assert_eq!(fx.engine.health()["environments"]["idle"], 0);
    let out = fx.engine.invoke(&s, inv("{}")).await.unwrap();
    assert!(out.init_duration_ms.is_some());
    fx.engine.shutdown().await;
}

#[tokio::test]
async fn missing_interpreter_is_runtime_unavailable() {
    no_sdk();
    let fx = fixture();
    let dir = code(&fx, "py", &[("app.py", "")]);
    // No host has Python 3.14 here except by chance; check the message when it is absent.
    if have("python3.14")
        || std::path::Path::new("/root/.pyenv/versions")
            .read_dir()
            .is_ok_and(|mut d| {
                d.any(|e| e.is_ok_and(|e| e.file_name().to_string_lossy().starts_with("3.14")))
            })
    {
        return;
    }
    let s = Arc::new(spec("py314", "python3.14", "app.handler", dir));
    match fx.engine.invoke(&s, inv("{}")).await {
        Err(InvokeError::RuntimeUnavailable(m)) => {
            assert!(
                m.starts_with("python3.14 is not installed on this host"),
                "{m}"
            )
        }
        other => panic!("expected RuntimeUnavailable, got {other:?}"),
    }
}

#[tokio::test]
async fn provided_runtime_and_missing_bootstrap() {
    no_sdk();
    let fx = fixture();
    // A custom runtime: a bootstrap executable speaking the Runtime API itself.
    let bootstrap = r#"#!/usr/bin/python3
import http.client, json, os
host, port = os.environ["AWS_LAMBDA_RUNTIME_API"].rsplit(":", 1)
c = http.client.HTTPConnection(host, int(port))
while True:
    c.request("GET", "/2018-06-01/runtime/invocation/next")
    r = c.getresponse(); body = r.read()
    rid = r.getheader("Lambda-Runtime-Aws-Request-Id")
    assert r.getheader("Content-Type") == "application/json"
    deadline = int(r.getheader("Lambda-Runtime-Deadline-Ms"))
    out = json.dumps({"got": json.loads(body), "handler": os.environ["_HANDLER"], "deadline": deadline > 0}).encode()
    c.request("POST", "/2018-06-01/runtime/invocation/%s/response" % rid, body=out)
    r = c.getresponse(); r.read()
    assert r.status == 202, r.status
"#;
    let dir = code(&fx, "prov", &[("bootstrap", bootstrap)]);
    make_executable(&dir.join("bootstrap"));
    let s = Arc::new(spec("prov", "provided.al2023", "whatever.handler", dir));
    let out = fx.engine.invoke(&s, inv(r#"{"a": "b"}"#)).await.unwrap();
    assert_eq!(
        out.function_error,
        None,
        "{}",
        String::from_utf8_lossy(&out.payload)
    );
    let v = json(&out.payload);
    assert_eq!(v["got"]["a"], "b");
    assert_eq!(v["handler"], "whatever.handler");
    assert_eq!(v["deadline"], true);

    let empty = code(&fx, "prov-empty", &[("README", "no bootstrap")]);
    let s = Arc::new(spec("prov2", "provided.al2", "h", empty));
    let i = inv("{}");
    let rid = i.request_id.clone();
    let out = fx.engine.invoke(&s, i).await.unwrap();
    let v = json(&out.payload);
    assert_eq!(v["errorType"], "Runtime.InvalidEntrypoint");
    assert_eq!(
        v["errorMessage"],
        format!("RequestId: {rid} Error: Couldn't find valid bootstrap(s): [/var/task/bootstrap /opt/bootstrap]")
    );
    fx.engine.shutdown().await;
}

#[tokio::test]
async fn oversized_response_is_refused_as_aws_does() {
    no_sdk();
    let fx = fixture();
    let dir = code(
        &fx,
        "pybig",
        &[(
            "app.py",
            "def handler(event, context):\n    return 'x' * (7 * 1024 * 1024)\n",
        )],
    );
    let s = Arc::new(spec("pybig", "python3.11", "app.handler", dir));
    let out = fx.engine.invoke(&s, inv("{}")).await.unwrap();
    assert_eq!(out.function_error.as_deref(), Some("Unhandled"));
    let v = json(&out.payload);
    assert_eq!(v["errorType"], "Function.ResponseSizeTooLarge");
    assert!(v["errorMessage"]
        .as_str()
        .unwrap()
        .ends_with("exceeded maximum allowed payload size (6291556 bytes)."));
    fx.engine.shutdown().await;
}

#[tokio::test]
async fn node_handlers_commonjs_esm_callback_and_errors() {
    no_sdk();
    if !have("node") {
        eprintln!("node is not installed: skipping the Node.js cases");
        return;
    }
    let major = String::from_utf8(
        std::process::Command::new("node")
            .arg("--version")
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap()
    .trim()
    .trim_start_matches('v')
    .split('.')
    .next()
    .unwrap()
    .to_string();
    let rt = format!("nodejs{major}.x");
    let fx = fixture();
    let dir = code(
        &fx,
        "node",
        &[
            (
                "index.js",
                "let n = 0;\nexports.handler = async (event, context) => { n++; console.log('hi', event.x); return { x: event.x, n, name: context.functionName, id: context.awsRequestId, left: context.getRemainingTimeInMillis() > 0 }; };\nexports.cb = (event, context, callback) => { setTimeout(() => callback(null, 'called back'), 10); };\nexports.bad = async () => { throw new TypeError('nope'); };\n",
            ),
            ("esm/app.mjs", "export const handler = async (event) => ({ esm: true, v: event.v });\n"),
        ],
    );
    let s = Arc::new(spec("nodecjs", &rt, "index.handler", dir.clone()));
    let i = inv(r#"{"x": 7}"#);
    let rid = i.request_id.clone();
    let out = fx.engine.invoke(&s, i).await.unwrap();
    assert_eq!(
        out.function_error,
        None,
        "{}",
        String::from_utf8_lossy(&out.payload)
    );
    let v = json(&out.payload);
    assert_eq!(v["x"], 7);
    assert_eq!(v["n"], 1);
    assert_eq!(v["name"], "nodecjs");
    assert_eq!(v["id"], rid.as_str());
    assert_eq!(v["left"], true);
    let v = json(
        &fx.engine
            .invoke(&s, inv(r#"{"x": 8}"#))
            .await
            .unwrap()
            .payload,
    );
    assert_eq!(v["n"], 2);
    assert!(fx
        .sink
        .messages()
        .iter()
        .any(|m| m.ends_with(&format!("\t{rid}\tINFO\thi 7"))));

    let s = Arc::new(spec("nodecb", &rt, "index.cb", dir.clone()));
    let out = fx.engine.invoke(&s, inv("{}")).await.unwrap();
    assert_eq!(out.payload.as_ref(), br#""called back""#);

    let s = Arc::new(spec("nodeesm", &rt, "esm/app.handler", dir.clone()));
    let v = json(
        &fx.engine
            .invoke(&s, inv(r#"{"v": 3}"#))
            .await
            .unwrap()
            .payload,
    );
    assert_eq!(v["esm"], true);
    assert_eq!(v["v"], 3);

    let s = Arc::new(spec("nodebad", &rt, "index.bad", dir.clone()));
    let out = fx.engine.invoke(&s, inv("{}")).await.unwrap();
    assert_eq!(out.function_error.as_deref(), Some("Unhandled"));
    let v = json(&out.payload);
    assert_eq!(v["errorType"], "TypeError");
    assert_eq!(v["errorMessage"], "nope");
    assert!(v["trace"].as_array().unwrap()[0]
        .as_str()
        .unwrap()
        .starts_with("TypeError: nope"));

    let s = Arc::new(spec("nodemissing", &rt, "index.nothere", dir.clone()));
    let v = json(&fx.engine.invoke(&s, inv("{}")).await.unwrap().payload);
    assert_eq!(v["errorType"], "Runtime.HandlerNotFound");
    assert_eq!(
        v["errorMessage"],
        "index.nothere is undefined or not exported"
    );

    let s = Arc::new(spec("nodenomod", &rt, "nomod.handler", dir));
    let v = json(&fx.engine.invoke(&s, inv("{}")).await.unwrap().payload);
    assert_eq!(v["errorType"], "Runtime.ImportModuleError");
    assert!(
        v["errorMessage"]
            .as_str()
            .unwrap()
            .starts_with("Error: Cannot find module 'nomod'"),
        "{v}"
    );
    fx.engine.shutdown().await;
}

#[tokio::test]
async fn memory_limit_gives_out_of_memory() {
    no_sdk();
    let fx = fixture();
    let dir = code(
        &fx,
        "pyoom",
        &[(
            "app.py",
            "def handler(event, context):\n    blocks = []\n    for _ in range(64):\n        blocks.append(bytearray(16 * 1024 * 1024))\n    return len(blocks)\n",
        )],
    );
    let mut s = spec("pyoom", "python3.11", "app.handler", dir);
    s.memory_mb = 128;
    let s = Arc::new(s);
    let protections = nimbus_functions::sandbox::protections();
    let i = inv("{}");
    let rid = i.request_id.clone();
    let out = fx.engine.invoke(&s, i).await.unwrap();
    if !protections.memory_limit {
        // This host gives sandboxes no memory cgroup: the 1 GiB allocation succeeds.
        eprintln!("no memory limit on this host ({protections:?}); OOM not testable");
        return;
    }
    assert_eq!(out.function_error.as_deref(), Some("Unhandled"));
    let v = json(&out.payload);
    assert_eq!(v["errorType"], "Runtime.OutOfMemory", "{v}");
    assert_eq!(
        v["errorMessage"],
        format!("RequestId: {rid} Error: Runtime exited with error: signal: killed")
    );
    assert!(out.max_memory_used_mb >= 100, "{}", out.max_memory_used_mb);
    fx.engine.shutdown().await;
}
