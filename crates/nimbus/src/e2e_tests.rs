//! The gateway end to end, in process: a real listener on an ephemeral port, raw HTTP
//! over TCP, real SigV4 signatures.
#![allow(clippy::unwrap_used)]

#[path = "../tests/support/mod.rs"]
mod support;

use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use nimbus_core::SystemClock;
use nimbus_iam::{Credential, IamCredentialStore, StaticCredentials};
use nimbus_store::StoreConfig;
use nimbus_wire::sigv4::SigningKeyCache;
use support::*;

use crate::gateway::{AppState, RequestIds};
use crate::services::Services;
use crate::store::StoreHandle;

struct Server {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    done: tokio::task::JoinHandle<()>,
}

async fn start(loopback: bool) -> Server {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let store = StoreHandle::open_in_background(StoreConfig::memory());
    let creds = Arc::new(IamCredentialStore::new(StaticCredentials::new(vec![
        Credential::root("AKIAKNOWN", "known-secret", "111111111111"),
    ])));
    let clock: nimbus_core::SharedClock = Arc::new(SystemClock);
    let state = Arc::new(AppState {
        version: "test",
        started: std::time::Instant::now(),
        loopback,
        credentials: creds.clone(),
        key_cache: SigningKeyCache::default(),
        clock: clock.clone(),
        store: store.clone(),
        services: Services::new(store.clone(), clock, Default::default()),
        request_ids: RequestIds::new(),
    });
    creds.attach(store.db().await.unwrap());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let done = tokio::spawn(crate::server::serve(listener, state, async move {
        let _ = rx.await;
    }));
    Server {
        addr,
        stop: Some(tx),
        done,
    }
}

impl Server {
    /// Runs blocking client code off the runtime's threads.
    async fn client<T: Send + 'static>(
        &self,
        f: impl FnOnce(SocketAddr) -> T + Send + 'static,
    ) -> T {
        let addr = self.addr;
        tokio::task::spawn_blocking(move || f(addr)).await.unwrap()
    }

    async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        tokio::time::timeout(Duration::from_secs(15), self.done)
            .await
            .unwrap()
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_common_headers() {
    let srv = start(true).await;
    let r = srv
        .client(|a| send(a, &Request::new("GET", "/_nimbus/health")))
        .await;
    assert_eq!(r.status, 200);
    let v = r.json();
    assert_eq!(v["version"], "test");
    assert_eq!(v["services"]["dynamodb"], "running");
    assert_eq!(v["services"]["sts"], "running");
    assert_eq!(v["services"]["iam"], "running");
    assert_eq!(v["services"]["sqs"], "unavailable");
    assert_eq!(v["store"]["engine"], "memory");
    assert_eq!(v["store"]["state"], "ready");
    let rid = r.header("x-amzn-requestid").unwrap().to_string();
    assert_eq!(r.header("x-amz-request-id"), Some(rid.as_str()));
    assert!(r.header("date").unwrap().ends_with(" GMT"));
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_and_unavailable_services_answer_in_their_protocol() {
    let srv = start(true).await;
    let (nothing, sqs, kinesis) = srv
        .client(|a| {
            (
                send(a, &Request::new("GET", "/")),
                send(a, &query("Action=SendMessage&QueueUrl=x")),
                send(
                    a,
                    &Request::new("POST", "/")
                        .header("x-amz-target", "Kinesis_20131202.PutRecord")
                        .header("content-type", "application/x-amz-json-1.1")
                        .body(b"{}"),
                ),
            )
        })
        .await;
    // A request with no service marks at all is S3's (as on s3.amazonaws.com): an
    // anonymous ListBuckets, refused in S3's XML.
    assert_eq!(nothing.status, 403);
    assert!(
        nothing.body.contains("<Code>AccessDenied</Code>"),
        "{}",
        nothing.body
    );
    assert_eq!(sqs.status, 501);
    assert!(
        sqs.body
            .starts_with("<ErrorResponse xmlns=\"http://queue.amazonaws.com/doc/2012-11-05/\">"),
        "{}",
        sqs.body
    );
    assert!(
        sqs.body
            .contains("Service 'sqs' is not available in this nimbus yet"),
        "{}",
        sqs.body
    );
    assert_eq!(kinesis.status, 501);
    assert_eq!(
        kinesis.header("content-type"),
        Some("application/x-amz-json-1.1")
    );
    assert_eq!(kinesis.json()["__type"], "NotImplementedException");
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamodb_auth_errors() {
    let srv = start(true).await;
    let replies = srv
        .client(|a| {
            let unsigned = send(a, &dynamodb("ListTables", "{}"));
            let ok = send(
                a,
                &dynamodb("ListTables", "{}").sign(a, "test", "test", "dynamodb", now()),
            );
            let dummy = send(
                a,
                &dynamodb("ListTables", "{}").sign(a, "AKIADUMMY", "x", "dynamodb", now()),
            );
            let wrong = send(
                a,
                &dynamodb("ListTables", "{}").sign(a, "AKIAKNOWN", "wrong", "dynamodb", now()),
            );
            let old = now().plus_secs(-3600);
            let expired = send(
                a,
                &dynamodb("ListTables", "{}").sign(a, "AKIAKNOWN", "known-secret", "dynamodb", old),
            );
            let wrong_service = send(
                a,
                &dynamodb("ListTables", "{}").sign(a, "AKIAKNOWN", "known-secret", "sts", now()),
            );
            vec![unsigned, ok, dummy, wrong, expired, wrong_service]
        })
        .await;
    let [unsigned, ok, dummy, wrong, expired, wrong_service] =
        <[Reply; 6]>::try_from(replies).unwrap();
    assert_eq!(unsigned.status, 400);
    assert_eq!(
        unsigned.json()["__type"],
        "com.amazon.coral.service#MissingAuthenticationTokenException"
    );
    assert_eq!(
        unsigned.json()["message"],
        "Request is missing Authentication Token"
    );
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(ok.json()["TableNames"], serde_json::json!([]));
    assert_eq!(
        dummy.status, 200,
        "unknown keys are root on loopback: {}",
        dummy.body
    );
    assert_eq!(wrong.status, 400);
    assert_eq!(
        wrong.json()["__type"],
        "com.amazon.coral.service#InvalidSignatureException"
    );
    assert!(wrong.json()["message"]
        .as_str()
        .unwrap()
        .contains("The Canonical String for this request should have been"));
    assert_eq!(expired.status, 400);
    assert!(
        expired.json()["message"]
            .as_str()
            .unwrap()
            .starts_with("Signature expired: "),
        "{}",
        expired.body
    );
    assert_eq!(
        wrong_service.json()["message"],
        "Credential should be scoped to correct service: 'dynamodb'."
    );
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_loopback_refuses_unknown_keys() {
    let srv = start(false).await;
    let (dummy, known) = srv
        .client(|a| {
            (
                send(
                    a,
                    &dynamodb("ListTables", "{}").sign(a, "AKIADUMMY", "x", "dynamodb", now()),
                ),
                send(
                    a,
                    &query("Action=GetCallerIdentity&Version=2011-06-15").sign(
                        a,
                        "AKIAKNOWN",
                        "known-secret",
                        "sts",
                        now(),
                    ),
                ),
            )
        })
        .await;
    assert_eq!(dummy.status, 400);
    assert_eq!(
        dummy.json()["__type"],
        "com.amazon.coral.service#UnrecognizedClientException"
    );
    assert_eq!(
        dummy.json()["message"],
        "The security token included in the request is invalid."
    );
    assert_eq!(known.status, 200, "{}", known.body);
    assert!(
        known.body.contains("<Account>111111111111</Account>"),
        "{}",
        known.body
    );
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_auth_errors_and_iam_keys() {
    let srv = start(false).await;
    let body = srv
        .client(|a| {
            let wrong = send(a, &query("Action=GetCallerIdentity&Version=2011-06-15").sign(a, "AKIAKNOWN", "bad", "sts", now()));
            assert_eq!(wrong.status, 403);
            assert!(wrong.body.starts_with("<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error><Type>Sender</Type><Code>SignatureDoesNotMatch</Code>"), "{}", wrong.body);
            let unsigned = send(a, &query("Action=ListUsers&Version=2010-05-08"));
            assert_eq!(unsigned.status, 403);
            assert!(unsigned.body.contains("<Code>MissingAuthenticationToken</Code>"), "{}", unsigned.body);

            // A key IAM creates is verified like any other, and names its user.
            let created = send(a, &query("Action=CreateUser&Version=2010-05-08&UserName=bob").sign(a, "AKIAKNOWN", "known-secret", "iam", now()));
            assert_eq!(created.status, 200, "{}", created.body);
            let key = send(a, &query("Action=CreateAccessKey&Version=2010-05-08&UserName=bob").sign(a, "AKIAKNOWN", "known-secret", "iam", now()));
            assert_eq!(key.status, 200, "{}", key.body);
            key.body
        })
        .await;
    let between = |s: &str, a: &str, b: &str| {
        s.split(a)
            .nth(1)
            .unwrap()
            .split(b)
            .next()
            .unwrap()
            .to_string()
    };
    let akid = between(&body, "<AccessKeyId>", "</AccessKeyId>");
    let secret = between(&body, "<SecretAccessKey>", "</SecretAccessKey>");
    let (me, bad) = srv
        .client(move |a| {
            (
                send(
                    a,
                    &query("Action=GetCallerIdentity&Version=2011-06-15").sign(
                        a,
                        &akid,
                        &secret,
                        "sts",
                        now(),
                    ),
                ),
                send(
                    a,
                    &query("Action=GetCallerIdentity&Version=2011-06-15").sign(
                        a,
                        &akid,
                        "nope",
                        "sts",
                        now(),
                    ),
                ),
            )
        })
        .await;
    assert_eq!(me.status, 200, "{}", me.body);
    assert!(
        me.body
            .contains("<Arn>arn:aws:iam::111111111111:user/bob</Arn>"),
        "{}",
        me.body
    );
    assert_eq!(bad.status, 403);
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_bodies_get_413() {
    let srv = start(true).await;
    let r = srv
        .client(|a| {
            let mut s = connect(a);
            s.write_all(b"POST / HTTP/1.1\r\nhost: x\r\nx-amz-target: DynamoDB_20120810.PutItem\r\ncontent-length: 16777217\r\n\r\n").unwrap();
            read_reply(&mut s)
        })
        .await;
    assert_eq!(r.status, 413);
    assert_eq!(r.header("connection"), Some("close"));
    assert!(r.body.contains("RequestEntityTooLarge"), "{}", r.body);
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_alive_and_graceful_shutdown_finishes_in_flight_requests() {
    let srv = start(true).await;
    let addr = srv.addr;
    // Two requests on one connection, then a third whose body arrives after shutdown
    // has begun: it must still be answered.
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<()>();
    let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
    let client = tokio::task::spawn_blocking(move || {
        let mut s = connect(addr);
        for _ in 0..2 {
            s.write_all(&Request::new("GET", "/_nimbus/health").to_bytes(addr))
                .unwrap();
            assert_eq!(read_reply(&mut s).status, 200);
        }
        let req = dynamodb("ListTables", "{}")
            .sign(addr, "test", "test", "dynamodb", now())
            .to_bytes(addr);
        let (head, tail) = req.split_at(req.len() - 1);
        s.write_all(head).unwrap();
        ready_tx.send(()).unwrap();
        go_rx.recv().unwrap();
        s.write_all(tail).unwrap();
        read_reply(&mut s)
    });
    tokio::task::spawn_blocking(move || ready_rx.recv().unwrap())
        .await
        .unwrap();
    // Give the server a moment to start reading the partial request.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut srv = srv;
    let _ = srv.stop.take().unwrap().send(());
    tokio::time::sleep(Duration::from_millis(100)).await;
    // New connections are refused once shutdown has begun.
    assert!(std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(500)).is_err());
    go_tx.send(()).unwrap();
    let last = client.await.unwrap();
    assert_eq!(last.status, 200, "{}", last.body);
    tokio::time::timeout(Duration::from_secs(15), srv.done)
        .await
        .unwrap()
        .unwrap();
}
