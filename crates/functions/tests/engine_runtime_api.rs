//! The Runtime API server on its own, driven with raw HTTP/1.1: status codes, bodies and
//! headers as AWS's implementation answers them.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use bytes::Bytes;
use nimbus_functions::runtime_api::{InitEvent, Job, RuntimeApi, RuntimeReply};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;

struct Resp {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Resp {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

async fn call(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Resp {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    s.write_all(body).await.unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).await.unwrap();
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&raw[..end]).to_string();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .map(|l| {
            let (k, v) = l.split_once(':').unwrap();
            (k.trim().to_string(), v.trim().to_string())
        })
        .collect();
    Resp {
        status,
        headers,
        body: raw[end + 4..].to_vec(),
    }
}

fn job(id: &str) -> (Job, oneshot::Receiver<RuntimeReply>) {
    let (tx, rx) = oneshot::channel();
    (
        Job {
            request_id: id.to_string(),
            invoked_function_arn: "arn:aws:lambda:us-east-1:000000000000:function:f".into(),
            deadline_ms: 1_900_000_000_000,
            payload: Bytes::from_static(br#"{"k":1}"#),
            client_context: Some(r#"{"custom":{"a":"b"}}"#.into()),
            cognito_identity: None,
            trace_id: Some("Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1".into()),
            reply: tx,
        },
        rx,
    )
}

#[tokio::test]
async fn runtime_api_speaks_aws_status_codes() {
    let (_api, handles, addr) = RuntimeApi::bind_tcp().await.unwrap();
    let mut init = handles.init;

    // /next blocks until a job arrives; the first /next ends init.
    let next = tokio::spawn(async move {
        call(addr, "GET", "/2018-06-01/runtime/invocation/next", &[], b"").await
    });
    let ev = tokio::time::timeout(Duration::from_secs(5), &mut init)
        .await
        .unwrap()
        .unwrap();
    assert!(matches!(ev, InitEvent::Ready));
    let (j, rx) = job("req-1");
    handles.jobs.send(j).await.unwrap();
    let r = next.await.unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.body, br#"{"k":1}"#);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.header("lambda-runtime-aws-request-id"), Some("req-1"));
    assert_eq!(
        r.header("lambda-runtime-deadline-ms"),
        Some("1900000000000")
    );
    assert_eq!(
        r.header("lambda-runtime-invoked-function-arn"),
        Some("arn:aws:lambda:us-east-1:000000000000:function:f")
    );
    assert_eq!(
        r.header("lambda-runtime-trace-id"),
        Some("Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1")
    );
    assert_eq!(
        r.header("lambda-runtime-client-context"),
        Some(r#"{"custom":{"a":"b"}}"#)
    );
    assert_eq!(r.header("lambda-runtime-cognito-identity"), None);

    // A second /next before answering: 403.
    let r = call(addr, "GET", "/2018-06-01/runtime/invocation/next", &[], b"").await;
    assert_eq!(r.status, 403);
    assert_eq!(r.json()["errorType"], "InvalidStateTransition");

    // Wrong request id: 400 InvalidRequestID.
    let r = call(
        addr,
        "POST",
        "/2018-06-01/runtime/invocation/other/response",
        &[],
        b"{}",
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json(),
        serde_json::json!({"errorMessage": "Invalid request ID", "errorType": "InvalidRequestID"})
    );
    assert_eq!(r.header("content-type"), Some("application/json"));

    // The response: 202 {"status":"OK"}, delivered to the invoker.
    let r = call(
        addr,
        "POST",
        "/2018-06-01/runtime/invocation/req-1/response",
        &[],
        b"\"done\"",
    )
    .await;
    assert_eq!(r.status, 202);
    assert_eq!(r.json(), serde_json::json!({"status": "OK"}));
    match rx.await.unwrap() {
        RuntimeReply::Response(b) => assert_eq!(b.as_ref(), b"\"done\""),
        other => panic!("{other:?}"),
    }
    // Answering twice: the id is no longer current.
    let r = call(
        addr,
        "POST",
        "/2018-06-01/runtime/invocation/req-1/response",
        &[],
        b"1",
    )
    .await;
    assert_eq!(r.status, 400);

    // An error report keeps the runtime's body and type.
    let next = tokio::spawn(async move {
        call(addr, "GET", "/2018-06-01/runtime/invocation/next", &[], b"").await
    });
    let (j, rx) = job("req-2");
    handles.jobs.send(j).await.unwrap();
    assert_eq!(next.await.unwrap().status, 200);
    let body = br#"{"errorMessage":"boom","errorType":"ValueError","stackTrace":[]}"#;
    let r = call(
        addr,
        "POST",
        "/2018-06-01/runtime/invocation/req-2/error",
        &[("Lambda-Runtime-Function-Error-Type", "ValueError")],
        body,
    )
    .await;
    assert_eq!(r.status, 202);
    match rx.await.unwrap() {
        RuntimeReply::Error {
            error_type,
            body: b,
        } => {
            assert_eq!(error_type.as_deref(), Some("ValueError"));
            assert_eq!(b.as_ref(), body);
        }
        other => panic!("{other:?}"),
    }

    // Too large: 413 RequestEntityTooLarge, and the invoker learns the size.
    let next = tokio::spawn(async move {
        call(addr, "GET", "/2018-06-01/runtime/invocation/next", &[], b"").await
    });
    let (j, rx) = job("req-3");
    handles.jobs.send(j).await.unwrap();
    assert_eq!(next.await.unwrap().status, 200);
    let big = vec![b'x'; 6_291_557];
    let r = call(
        addr,
        "POST",
        "/2018-06-01/runtime/invocation/req-3/response",
        &[],
        &big,
    )
    .await;
    assert_eq!(r.status, 413);
    assert_eq!(
        r.json(),
        serde_json::json!({"errorMessage": "Exceeded maximum allowed payload size (6291556 bytes).", "errorType": "RequestEntityTooLarge"})
    );
    assert!(matches!(
        rx.await.unwrap(),
        RuntimeReply::TooLarge { size: 6_291_557 }
    ));

    // Init error after init: 403. Extensions: an honest refusal. Unknown paths: 404.
    let r = call(addr, "POST", "/2018-06-01/runtime/init/error", &[], b"{}").await;
    assert_eq!(r.status, 403);
    let r = call(
        addr,
        "POST",
        "/2020-01-01/extension/register",
        &[("Lambda-Extension-Name", "x")],
        b"{}",
    )
    .await;
    assert_eq!(r.status, 403);
    assert_eq!(r.json()["errorType"], "Extension.NotSupported");
    let r = call(addr, "GET", "/nope", &[], b"").await;
    assert_eq!(r.status, 404);
    assert_eq!(r.header("content-type"), Some("application/json"));
}

#[tokio::test]
async fn init_error_is_delivered_with_its_type() {
    let (_api, handles, addr) = RuntimeApi::bind_tcp().await.unwrap();
    let body = br#"{"errorMessage":"Unable to import module 'x': No module named 'x'","errorType":"Runtime.ImportModuleError","requestId":"","stackTrace":[]}"#;
    let r = call(
        addr,
        "POST",
        "/2018-06-01/runtime/init/error",
        &[(
            "Lambda-Runtime-Function-Error-Type",
            "Runtime.ImportModuleError",
        )],
        body,
    )
    .await;
    assert_eq!(r.status, 202);
    match handles.init.await.unwrap() {
        InitEvent::Error {
            error_type,
            body: b,
        } => {
            assert_eq!(error_type.as_deref(), Some("Runtime.ImportModuleError"));
            assert_eq!(b.as_ref(), body);
        }
        InitEvent::Ready => panic!("expected an init error"),
    }
}
