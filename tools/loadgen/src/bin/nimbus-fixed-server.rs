//! nimbus-fixed-server: the ceiling a benchmark of nimbus runs against. A bare hyper
//! HTTP/1.1 server on nimbus's runtime setup (tokio, 2 worker threads, keep-alive,
//! TCP_NODELAY) that reads each request's body and answers every request with the same
//! GetItem-shaped JSON response and DynamoDB's response headers, doing nothing else: no
//! routing, no signature check, no storage.
//!
//! Why: bench/dynamodb.sh compares nimbus with dynalite. This server shows, on the same
//! machine and with the same generator, how fast any server built on this stack can be, so
//! the ratio nimbus reaches can be read against the ratio that is possible at all.
//!
//! It only binds loopback addresses.

use std::convert::Infallible;
use std::net::SocketAddr;

use anyhow::{bail, Context, Result};
use bytes::Bytes;
use http::{HeaderValue, Response};
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;

/// A request-id-sized value, as nimbus sends in `x-amzn-RequestId`.
const REQUEST_ID: &str = "NIMBUSFIXEDSERVER0000000000000000000000000000000000";

const USAGE: &str = "usage: nimbus-fixed-server --bind 127.0.0.1:PORT";

fn parse_args() -> Result<SocketAddr> {
    let mut args = std::env::args().skip(1);
    let mut bind = None;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--bind" => bind = args.next(),
            "--help" | "-h" => {
                println!("{USAGE}");
                std::process::exit(0)
            }
            other => bail!("unknown argument {other}\n{USAGE}"),
        }
    }
    let Some(bind) = bind else {
        bail!("--bind is required\n{USAGE}")
    };
    let addr: SocketAddr = bind.parse().with_context(|| format!("bad --bind {bind}"))?;
    if !addr.ip().is_loopback() {
        bail!("--bind must be a loopback address");
    }
    Ok(addr)
}

/// The GetItem response of a 100-byte item, as nimbus answers the benchmark's GetItem.
fn body() -> Bytes {
    let item = format!(
        r#"{{"Item":{{"pk":{{"S":"k0000000042"}},"v":{{"S":"{}"}}}}}}"#,
        "x".repeat(100)
    );
    Bytes::from(item)
}

fn main() -> Result<()> {
    let addr = parse_args()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the runtime")?;
    runtime.block_on(serve(addr))
}

async fn serve(addr: SocketAddr) -> Result<()> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    let body = body();
    let crc = HeaderValue::from(crc32fast::hash(&body));
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("cannot watch SIGTERM")?;
    loop {
        let (stream, _) = tokio::select! {
            a = listener.accept() => match a {
                Ok(a) => a,
                Err(_) => continue,
            },
            _ = term.recv() => return Ok(()),
        };
        let _ = stream.set_nodelay(true);
        let (body, crc) = (body.clone(), crc.clone());
        tokio::spawn(async move {
            let service = service_fn(move |req: http::Request<hyper::body::Incoming>| {
                let (body, crc) = (body.clone(), crc.clone());
                async move {
                    // Read the request as a real server must.
                    let _ = req.into_body().collect().await;
                    let mut resp = Response::new(Full::new(body));
                    let h = resp.headers_mut();
                    h.insert(
                        http::header::CONTENT_TYPE,
                        HeaderValue::from_static("application/x-amz-json-1.0"),
                    );
                    h.insert("x-amzn-requestid", HeaderValue::from_static(REQUEST_ID));
                    h.insert("x-amz-crc32", crc);
                    Ok::<_, Infallible>(resp)
                }
            });
            let _ = http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
