//! A throwaway Lambda-only server for poking the control plane with boto3 before the
//! binary wires the service (no auth: every request is the root of 000000000000 in
//! us-east-1; the role `arn:aws:iam::000000000000:role/dev-role` exists).
//! `cargo run -p nimbus-lambda --example lambda_dev_server -- 127.0.0.1:4599`
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use nimbus_blob::BlobStore;
use nimbus_core::{Principal, RequestContext, SharedClock, SystemClock};
use nimbus_functions::{Engine, EngineConfig, NullLogSink};
use nimbus_iam::records::{self as iam_records, RoleRecord};
use nimbus_iam::IamState;
use nimbus_lambda::{Lambda, LambdaConfig, UrlCaller};
use nimbus_store::Db;
use nimbus_wire::AwsRequest;

#[tokio::main]
async fn main() {
    let addr: std::net::SocketAddr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:4599".into())
        .parse()
        .unwrap();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    let dir = tempfile::tempdir().unwrap();
    let db = Db::in_memory();
    let clock: SharedClock = Arc::new(SystemClock);
    let iam = IamState::new(db.clone(), clock.clone());
    let role = RoleRecord {
        name: "dev-role".into(),
        role_id: "AROADEV".into(),
        path: "/".into(),
        create_date: 0.0,
        assume_role_policy_document: "{}".into(),
        description: None,
        max_session_duration: 3600,
        permissions_boundary: None,
        tags: vec![],
    };
    db.write(move |txn| {
        iam_records::put(
            txn,
            &iam_records::role_key("000000000000", "dev-role"),
            &role,
        )
    })
    .await
    .unwrap();
    let engine = Engine::new(
        EngineConfig {
            work_dir: dir.path().join("work"),
            runtime_cache_dir: std::env::var("NIMBUS_RUNTIME_CACHE_DIR")
                .map(Into::into)
                .unwrap_or_else(|_| dir.path().join("rt")),
            helper_exe: std::env::var("NIMBUS_HELPER")
                .unwrap_or_else(|_| "/bin/false".into())
                .into(),
            nimbus_addr: addr,
            nimbus_socket: None,
            account_concurrency: 1000,
            idle_timeout_ms: 60_000,
            init_timeout_ms: 10_000,
            hidden_paths: vec![],
        },
        Arc::new(NullLogSink),
    );
    let iam_api = nimbus_iam::Iam::new(iam.clone());
    let lambda = Lambda::new(
        db,
        Arc::new(BlobStore::in_memory()),
        clock,
        engine,
        iam,
        LambdaConfig {
            code_cache_dir: dir.path().join("code"),
            public_base_url: format!("http://{addr}"),
            port: addr.port(),
            async_retry_base_delay_ms: 100,
            ..LambdaConfig::default()
        },
    );
    let (_stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let _bg = lambda.start_background(stop_rx);
    let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
    eprintln!("lambda dev server on {addr}");
    loop {
        let (sock, peer) = listener.accept().await.unwrap();
        let lambda = lambda.clone();
        let iam_api = iam_api.clone();
        tokio::spawn(async move {
            let svc = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                let lambda = lambda.clone();
                let iam_api = iam_api.clone();
                async move {
                    let (parts, body) = req.into_parts();
                    let body = body
                        .collect()
                        .await
                        .map(|b| b.to_bytes())
                        .unwrap_or_default();
                    let path = parts.uri.path().to_string();
                    let areq = AwsRequest {
                        method: parts.method.clone(),
                        path: path.clone(),
                        query: parts.uri.query().unwrap_or("").to_string(),
                        headers: parts.headers.clone(),
                        body,
                    };
                    let rid = uuid::Uuid::new_v4().to_string();
                    let resp = if let Some(token) = path.strip_prefix("/_nimbus/lambda-code/") {
                        match lambda.code_download(token).await {
                            Ok(b) => nimbus_wire::AwsResponse {
                                status: http::StatusCode::OK,
                                headers: http::HeaderMap::new(),
                                body: b,
                            },
                            Err(_) => nimbus_wire::AwsResponse {
                                status: http::StatusCode::FORBIDDEN,
                                headers: http::HeaderMap::new(),
                                body: Bytes::new(),
                            },
                        }
                    } else if let Some(rest) = path.strip_prefix("/_nimbus/lambda-url/") {
                        let (id, sub) = rest.split_once('/').unwrap_or((rest, ""));
                        let mut r = areq.clone();
                        r.path = format!("/{sub}");
                        nimbus_lambda::handle_url(
                            &lambda,
                            id,
                            r,
                            UrlCaller {
                                source_ip: peer.ip().to_string(),
                                principal: None,
                                request_id: rid,
                            },
                        )
                        .await
                    } else if areq.body.starts_with(b"Action=") {
                        // IAM (query protocol), so tests can create roles.
                        let ctx = RequestContext {
                            account_id: "000000000000".into(),
                            region: "us-east-1".into(),
                            principal: Principal::root("000000000000", "test"),
                            request_id: rid,
                        };
                        nimbus_model::iam::dispatch(&iam_api, &ctx, &areq).await
                    } else {
                        let ctx = RequestContext {
                            account_id: "000000000000".into(),
                            region: "us-east-1".into(),
                            principal: Principal::root("000000000000", "test"),
                            request_id: rid,
                        };
                        nimbus_lambda::dispatch(&lambda, &ctx, &areq).await
                    };
                    let mut out = hyper::Response::new(Full::new(resp.body));
                    *out.status_mut() = resp.status;
                    *out.headers_mut() = resp.headers;
                    Ok::<_, std::convert::Infallible>(out)
                }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(sock), svc)
                .await;
        });
    }
}
