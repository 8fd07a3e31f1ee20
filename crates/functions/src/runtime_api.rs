//! The Lambda Runtime API (2018-06-01) of one execution environment, served over HTTP/1.1
//! on the listener its sandbox bound at 127.0.0.1:9001 in the sandbox's network namespace
//! and handed over (or, for unsandboxed engine runs, a loopback TCP port). Owner: H-runtime.
//!
//! The pool hands invocations to the server through a bounded channel ([`Job`]); the
//! runtime's long-poll `GET /runtime/invocation/next` takes the next one, and its
//! `POST .../response` or `.../error` completes the job's oneshot. The first `/next` (or an
//! `/init/error`) ends the init phase ([`InitEvent`]). Status codes and error bodies are
//! those of AWS's own implementation (202 `{"status":"OK"}`, 400 `InvalidRequestID`,
//! 403 `InvalidStateTransition`, 413 `RequestEntityTooLarge`).

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use parking_lot::Mutex;
use tokio::sync::{mpsc, oneshot};

/// AWS's limit on a synchronous response, in bytes (6 MiB plus 100 bytes of framing slack,
/// as the Runtime Interface Emulator and the service's own error message say).
pub const MAX_RESPONSE_BYTES: usize = 6_291_556;

/// Error bodies a runtime reports are small; bound them anyway.
const MAX_ERROR_BYTES: usize = 1024 * 1024;

/// An oversized body is read and dropped up to this size before the 413 (beyond it the
/// connection is closed).
const MAX_DRAIN_BYTES: usize = 64 * 1024 * 1024;

/// Connections the runtime may hold open at once (it needs one or two; bound it).
const MAX_CONNECTIONS: usize = 64;

/// One invocation handed to the runtime.
#[derive(Debug)]
pub struct Job {
    pub request_id: String,
    pub invoked_function_arn: String,
    /// Epoch milliseconds (`Lambda-Runtime-Deadline-Ms`).
    pub deadline_ms: i64,
    pub payload: Bytes,
    pub client_context: Option<String>,
    pub cognito_identity: Option<String>,
    pub trace_id: Option<String>,
    pub reply: oneshot::Sender<RuntimeReply>,
}

/// How the runtime finished an invocation.
#[derive(Debug)]
pub enum RuntimeReply {
    Response(Bytes),
    /// `POST .../error`: the body as the runtime sent it (AWS passes it to the caller).
    Error {
        error_type: Option<String>,
        body: Bytes,
    },
    /// The response exceeded [`MAX_RESPONSE_BYTES`] (`Function.ResponseSizeTooLarge`).
    TooLarge {
        size: usize,
    },
}

/// How the init phase ended.
#[derive(Debug)]
pub enum InitEvent {
    /// The runtime asked for its first invocation.
    Ready,
    /// `POST /runtime/init/error`.
    Error {
        error_type: Option<String>,
        body: Bytes,
    },
}

struct Current {
    request_id: String,
    reply: oneshot::Sender<RuntimeReply>,
}

struct Shared {
    jobs: tokio::sync::Mutex<mpsc::Receiver<Job>>,
    current: Mutex<Option<Current>>,
    init: Mutex<Option<oneshot::Sender<InitEvent>>>,
}

/// The server of one environment. Dropping it stops accepting connections.
pub struct RuntimeApi {
    accept_task: tokio::task::JoinHandle<()>,
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.accept_task.abort();
    }
}

/// What the pool keeps of a server: where to send jobs, and how init ended.
pub struct RuntimeApiHandles {
    pub jobs: mpsc::Sender<Job>,
    pub init: oneshot::Receiver<InitEvent>,
}

impl RuntimeApi {
    /// Serves on the listener the sandbox hands over once its runtime starts (bound
    /// inside the sandbox's network namespace). If it never comes (the sandbox failed
    /// first), nothing is served and the pool sees the environment's exit.
    pub fn serve_passed(
        listener: tokio::sync::oneshot::Receiver<std::net::TcpListener>,
    ) -> (RuntimeApi, RuntimeApiHandles) {
        let (shared, handles) = new_shared();
        let accept_task = tokio::spawn(async move {
            let Ok(listener) = listener.await else {
                return;
            };
            let listener = match listener
                .set_nonblocking(true)
                .and_then(|()| tokio::net::TcpListener::from_std(listener))
            {
                Ok(l) => l,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot serve the Runtime API on the sandbox's listener");
                    return;
                }
            };
            accept_loop(listener, shared).await;
        });
        (RuntimeApi { accept_task }, handles)
    }

    /// Serves on a loopback TCP port (unsandboxed runs); returns the address.
    pub async fn bind_tcp() -> std::io::Result<(RuntimeApi, RuntimeApiHandles, std::net::SocketAddr)>
    {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let (shared, handles) = new_shared();
        let accept_task = tokio::spawn(accept_loop(listener, shared));
        Ok((RuntimeApi { accept_task }, handles, addr))
    }
}

async fn accept_loop(listener: tokio::net::TcpListener, shared: Arc<Shared>) {
    let limit = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            // EMFILE and the like: back off instead of spinning.
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            continue;
        };
        // The runtime's request/response ping-pong is latency bound.
        let _ = stream.set_nodelay(true);
        spawn_connection(stream, shared.clone(), limit.clone());
    }
}

fn new_shared() -> (Arc<Shared>, RuntimeApiHandles) {
    // Capacity 1: the pool hands an environment one invocation at a time.
    let (jobs_tx, jobs_rx) = mpsc::channel(1);
    let (init_tx, init_rx) = oneshot::channel();
    let shared = Arc::new(Shared {
        jobs: tokio::sync::Mutex::new(jobs_rx),
        current: Mutex::new(None),
        init: Mutex::new(Some(init_tx)),
    });
    (
        shared,
        RuntimeApiHandles {
            jobs: jobs_tx,
            init: init_rx,
        },
    )
}

fn spawn_connection<S>(stream: S, shared: Arc<Shared>, limit: Arc<tokio::sync::Semaphore>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let Ok(permit) = limit.try_acquire_owned() else {
        return; // over the bound: drop the connection
    };
    tokio::spawn(async move {
        let _permit = permit;
        let service = service_fn(move |req| {
            let shared = shared.clone();
            async move { Ok::<_, Infallible>(handle(&shared, req).await) }
        });
        let _ = http1::Builder::new()
            .keep_alive(true)
            .serve_connection(TokioIo::new(stream), service)
            .await;
    });
}

type Resp = Response<Full<Bytes>>;

fn json_response(status: StatusCode, body: Bytes) -> Resp {
    let mut resp = Response::new(Full::new(body));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

fn error_response(status: StatusCode, error_type: &str, message: &str) -> Resp {
    let body = serde_json::json!({ "errorMessage": message, "errorType": error_type });
    json_response(status, Bytes::from(body.to_string()))
}

fn accepted() -> Resp {
    json_response(
        StatusCode::ACCEPTED,
        Bytes::from_static(br#"{"status":"OK"}"#),
    )
}

fn invalid_request_id() -> Resp {
    error_response(
        StatusCode::BAD_REQUEST,
        "InvalidRequestID",
        "Invalid request ID",
    )
}

async fn handle(shared: &Shared, req: Request<Incoming>) -> Resp {
    let path = req.uri().path().to_owned();
    if let Some(rest) = path.strip_prefix("/2018-06-01/runtime/") {
        if rest == "invocation/next" {
            return if req.method() == Method::GET {
                next(shared).await
            } else {
                method_not_allowed()
            };
        }
        if rest == "init/error" {
            return if req.method() == Method::POST {
                init_error(shared, req).await
            } else {
                method_not_allowed()
            };
        }
        if let Some(tail) = rest.strip_prefix("invocation/") {
            if let Some((id, verb)) = tail.split_once('/') {
                if req.method() != Method::POST {
                    return method_not_allowed();
                }
                match verb {
                    "response" => return response(shared, id.to_owned(), req).await,
                    "error" => return invocation_error(shared, id.to_owned(), req).await,
                    _ => {}
                }
            }
        }
    }
    if path.starts_with("/2020-01-01/extension/")
        || path.starts_with("/2020-08-15/logs")
        || path.starts_with("/2022-07-01/telemetry")
    {
        // Honest: nimbus runs no extensions (yet). A runtime that probes for them sees a
        // clear refusal instead of a hang.
        return error_response(
            StatusCode::FORBIDDEN,
            "Extension.NotSupported",
            "The Extensions, Logs and Telemetry APIs are not supported by nimbus",
        );
    }
    error_response(StatusCode::NOT_FOUND, "NotFound", "Not Found")
}

fn method_not_allowed() -> Resp {
    error_response(
        StatusCode::METHOD_NOT_ALLOWED,
        "MethodNotAllowed",
        "Method Not Allowed",
    )
}

async fn next(shared: &Shared) -> Resp {
    // The first /next ends the init phase.
    if let Some(init) = shared.init.lock().take() {
        let _ = init.send(InitEvent::Ready);
    }
    if shared.current.lock().is_some() {
        return error_response(
            StatusCode::FORBIDDEN,
            "InvalidStateTransition",
            "State transition from Invoke to Ready failed for runtime. Error: the current invocation has no response yet",
        );
    }
    let job = {
        let mut jobs = shared.jobs.lock().await;
        jobs.recv().await
    };
    let Some(job) = job else {
        // The environment is shutting down; the runtime is about to be stopped.
        return error_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalServerError",
            "Internal Server Error",
        );
    };
    let mut resp = Response::new(Full::new(job.payload));
    let headers = resp.headers_mut();
    headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    let mut put = |name: &'static str, value: &str| {
        if !value.is_empty() {
            if let Ok(v) = HeaderValue::from_str(value) {
                headers.insert(name, v);
            }
        }
    };
    put("lambda-runtime-aws-request-id", &job.request_id);
    put("lambda-runtime-deadline-ms", &job.deadline_ms.to_string());
    put(
        "lambda-runtime-invoked-function-arn",
        &job.invoked_function_arn,
    );
    if let Some(v) = &job.trace_id {
        put("lambda-runtime-trace-id", v);
    }
    if let Some(v) = &job.client_context {
        put("lambda-runtime-client-context", v);
    }
    if let Some(v) = &job.cognito_identity {
        put("lambda-runtime-cognito-identity", v);
    }
    *shared.current.lock() = Some(Current {
        request_id: job.request_id,
        reply: job.reply,
    });
    resp
}

fn current_matches(shared: &Shared, id: &str) -> bool {
    shared
        .current
        .lock()
        .as_ref()
        .is_some_and(|c| c.request_id == id)
}

fn take_current(shared: &Shared, id: &str) -> Option<Current> {
    let mut cur = shared.current.lock();
    if cur.as_ref().is_some_and(|c| c.request_id == id) {
        cur.take()
    } else {
        None
    }
}

/// Reads a body up to `limit` bytes: `Err(Some(n))` when larger (n = its size), `Err(None)`
/// when the connection broke. An oversized body is still read (and dropped), up to
/// [`MAX_DRAIN_BYTES`], so the runtime gets the 413 instead of a reset connection.
async fn read_body(req: Request<Incoming>, limit: usize) -> Result<Bytes, Option<usize>> {
    let mut body = req.into_body();
    let mut buf = bytes::BytesMut::new();
    let mut total = 0usize;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| None)?;
        if let Ok(data) = frame.into_data() {
            total = total.saturating_add(data.len());
            if total <= limit {
                buf.extend_from_slice(&data);
            } else {
                buf = bytes::BytesMut::new();
                if total > MAX_DRAIN_BYTES {
                    return Err(Some(total));
                }
            }
        }
    }
    if total > limit {
        Err(Some(total))
    } else {
        Ok(buf.freeze())
    }
}

fn truncated() -> Resp {
    error_response(
        StatusCode::BAD_REQUEST,
        "TruncatedHTTPRequest",
        "HTTP request detected as truncated",
    )
}

async fn response(shared: &Shared, id: String, req: Request<Incoming>) -> Resp {
    if !current_matches(shared, &id) {
        return invalid_request_id();
    }
    match read_body(req, MAX_RESPONSE_BYTES).await {
        Ok(body) => {
            let Some(cur) = take_current(shared, &id) else {
                return invalid_request_id();
            };
            let _ = cur.reply.send(RuntimeReply::Response(body));
            accepted()
        }
        Err(Some(size)) => {
            let Some(cur) = take_current(shared, &id) else {
                return invalid_request_id();
            };
            let _ = cur.reply.send(RuntimeReply::TooLarge { size });
            error_response(
                StatusCode::PAYLOAD_TOO_LARGE,
                "RequestEntityTooLarge",
                &format!("Exceeded maximum allowed payload size ({MAX_RESPONSE_BYTES} bytes)."),
            )
        }
        Err(None) => truncated(),
    }
}

fn error_type_header(req: &Request<Incoming>) -> Option<String> {
    req.headers()
        .get("lambda-runtime-function-error-type")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

async fn invocation_error(shared: &Shared, id: String, req: Request<Incoming>) -> Resp {
    if !current_matches(shared, &id) {
        return invalid_request_id();
    }
    let error_type = error_type_header(&req);
    let body = match read_body(req, MAX_ERROR_BYTES).await {
        Ok(b) => b,
        Err(Some(_)) => {
            return error_response(
                StatusCode::PAYLOAD_TOO_LARGE,
                "RequestEntityTooLarge",
                &format!("Exceeded maximum allowed payload size ({MAX_ERROR_BYTES} bytes)."),
            )
        }
        Err(None) => return truncated(),
    };
    let Some(cur) = take_current(shared, &id) else {
        return invalid_request_id();
    };
    let _ = cur.reply.send(RuntimeReply::Error { error_type, body });
    accepted()
}

async fn init_error(shared: &Shared, req: Request<Incoming>) -> Resp {
    let error_type = error_type_header(&req);
    let body = match read_body(req, MAX_ERROR_BYTES).await {
        Ok(b) => b,
        Err(Some(_)) => {
            return error_response(
                StatusCode::PAYLOAD_TOO_LARGE,
                "RequestEntityTooLarge",
                &format!("Exceeded maximum allowed payload size ({MAX_ERROR_BYTES} bytes)."),
            )
        }
        Err(None) => return truncated(),
    };
    let Some(init) = shared.init.lock().take() else {
        return error_response(
            StatusCode::FORBIDDEN,
            "InvalidStateTransition",
            "State transition from Ready to InitError failed for runtime. Error: the init phase is over",
        );
    };
    let _ = init.send(InitEvent::Error { error_type, body });
    accepted()
}

/// The body AWS returns to the caller for a function error: the runtime's own JSON when it
/// sent one, else a document built from the error-type header.
pub fn function_error_body(error_type: Option<&str>, body: &Bytes) -> Bytes {
    if !body.is_empty() && serde_json::from_slice::<serde_json::Value>(body).is_ok() {
        return body.clone();
    }
    let msg = String::from_utf8_lossy(body);
    let doc = serde_json::json!({
        "errorMessage": msg,
        "errorType": error_type.unwrap_or("Runtime.Unknown"),
    });
    Bytes::from(doc.to_string())
}
