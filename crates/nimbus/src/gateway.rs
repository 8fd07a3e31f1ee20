//! One request, start to finish: bounded body, health, route, authenticate, dispatch,
//! and the headers every AWS response carries.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{HeaderValue, CONNECTION, CONTENT_LENGTH, CONTENT_TYPE};
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use nimbus_core::SharedClock;
use nimbus_iam::CredentialStore;
use nimbus_wire::sigv4::SigningKeyCache;
use nimbus_wire::{AwsError, AwsRequest, AwsResponse, Protocol};

use crate::auth::Authenticator;
use crate::errors;
use crate::health;
use crate::router::{self, ServiceId};
use crate::services::{ServiceState, Services};
use crate::store::StoreHandle;

/// The health endpoint.
pub const HEALTH_PATH: &str = "/_nimbus/health";
/// Body limit when no service could be told from the headers.
pub const GENERIC_MAX_BODY_BYTES: usize = 20 * 1024 * 1024;
/// DynamoDB refuses requests over 16 MB.
pub const DYNAMODB_MAX_BODY_BYTES: usize = 16 * 1024 * 1024;
/// Lambda: a CreateFunction with a 50 MB zip is a 69,905,067-byte JSON request (base64);
/// the service checks its own limits (6 MB invoke payloads, 50 MB packages) below this.
pub const LAMBDA_MAX_BODY_BYTES: usize = 70 * 1000 * 1000;
/// A client that stops sending its body mid-way gets an error instead of a hung request.
pub const BODY_READ_TIMEOUT_MS: u64 = 60_000;

static X_AMZN_REQUEST_ID: http::HeaderName = http::HeaderName::from_static("x-amzn-requestid");
static X_AMZ_REQUEST_ID: http::HeaderName = http::HeaderName::from_static("x-amz-request-id");
static X_AMZ_ID_2: http::HeaderName = http::HeaderName::from_static("x-amz-id-2");

/// Request ids: unique within a process (a counter) and across restarts (a random
/// seed), without a syscall per request.
pub struct RequestIds {
    seed: u64,
    counter: AtomicU64,
}

fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl RequestIds {
    pub fn new() -> Self {
        use std::hash::{BuildHasher, Hasher};
        // RandomState is seeded from the OS once per process: enough entropy for ids.
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default(),
        );
        h.write_u32(std::process::id());
        RequestIds {
            seed: h.finish(),
            counter: AtomicU64::new(0),
        }
    }

    /// A UUID-shaped id (`8-4-4-4-12` hex, version 4, RFC 4122 variant), like most AWS
    /// services use. Encoded by `uuid`'s hex encoder rather than `format!`: 40-60 ns
    /// against 250 ns per id in a loop; `format!` here was 1.5% of a GetItem's CPU.
    pub fn next(&self) -> String {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let a = splitmix64(self.seed ^ n);
        let b = splitmix64(a ^ self.seed.rotate_left(29) ^ n.rotate_left(7));
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&a.to_be_bytes());
        bytes[8..].copy_from_slice(&b.to_be_bytes());
        let id = uuid::Builder::from_random_bytes(bytes).into_uuid();
        let mut buf = [0u8; uuid::fmt::Hyphenated::LENGTH];
        id.hyphenated().encode_lower(&mut buf).to_string()
    }
}

impl Default for RequestIds {
    fn default() -> Self {
        Self::new()
    }
}

/// Everything a request handler needs; shared by all connections.
pub struct AppState {
    pub version: &'static str,
    pub started: Instant,
    pub loopback: bool,
    pub credentials: Arc<dyn CredentialStore>,
    pub key_cache: SigningKeyCache,
    pub clock: SharedClock,
    pub store: StoreHandle,
    pub services: Services,
    pub request_ids: RequestIds,
}

impl AppState {
    /// The SigV4 checker for a request arriving now (the gateway and the Lambda edge).
    pub fn authenticator(&self) -> Authenticator<'_> {
        Authenticator {
            credentials: self.credentials.as_ref(),
            key_cache: &self.key_cache,
            loopback: self.loopback,
            now_millis: self.clock.now_millis(),
        }
    }
}

fn max_body_bytes(service: Option<ServiceId>) -> usize {
    match service {
        Some(ServiceId::DynamoDb | ServiceId::DynamoDbStreams) => DYNAMODB_MAX_BODY_BYTES,
        Some(ServiceId::Lambda) => LAMBDA_MAX_BODY_BYTES,
        _ => GENERIC_MAX_BODY_BYTES,
    }
}

/// The protocol to answer in when no service was identified: JSON for JSON-looking
/// requests, the query protocol's XML otherwise.
fn guess_protocol(req: &AwsRequest) -> Protocol {
    let json = req.headers.contains_key("x-amz-target")
        || req
            .headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.contains("json"));
    if json {
        Protocol::AwsJson11
    } else {
        Protocol::Query
    }
}

/// Response bodies: whole (every service but S3) or streamed (S3).
pub type GatewayBody = http_body_util::Either<Full<Bytes>, s3s::Body>;

fn into_http(mut resp: AwsResponse, request_id: &str, close: bool) -> Response<GatewayBody> {
    if let Ok(v) = HeaderValue::from_str(request_id) {
        if !resp.headers.contains_key(&X_AMZN_REQUEST_ID) {
            resp.headers.insert(X_AMZN_REQUEST_ID.clone(), v.clone());
        }
        if !resp.headers.contains_key(&X_AMZ_REQUEST_ID) {
            resp.headers.insert(X_AMZ_REQUEST_ID.clone(), v);
        }
    }
    if close {
        // The rest of the body was not read, so the connection cannot be reused.
        resp.headers
            .insert(CONNECTION, HeaderValue::from_static("close"));
    }
    let mut out = Response::new(http_body_util::Either::Left(Full::new(resp.body)));
    *out.status_mut() = resp.status;
    *out.headers_mut() = resp.headers;
    // hyper adds `Date` and `Content-Length`.
    out
}

fn error_response(
    protocol: Protocol,
    service: Option<ServiceId>,
    err: AwsError,
    request_id: &str,
) -> AwsResponse {
    let err = match service {
        Some(s) => errors::for_service(s, protocol, err),
        None => err,
    };
    errors::encode(protocol, &err, request_id)
}

/// Reads the whole body, bounded by `limit` and by `BODY_READ_TIMEOUT_MS`.
///
/// Small bodies usually arrive with the head, so the first poll finishes the read; only
/// a body still in flight pays for a timer (arming and cancelling one per request shows
/// up in profiles of small requests).
async fn read_body(
    body: Incoming,
    limit: usize,
) -> Result<
    Result<http_body_util::Collected<Bytes>, Box<dyn std::error::Error + Send + Sync>>,
    tokio::time::error::Elapsed,
> {
    let mut collect = std::pin::pin!(Limited::new(body, limit).collect());
    let first = {
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        collect.as_mut().poll(&mut cx)
    };
    if let std::task::Poll::Ready(done) = first {
        return Ok(done);
    }
    // Polled again below with the real waker, which replaces the no-op one.
    tokio::time::timeout(Duration::from_millis(BODY_READ_TIMEOUT_MS), collect).await
}

/// Handles one HTTP request. Never fails: every problem becomes an AWS-shaped response.
pub async fn handle(
    state: Arc<AppState>,
    req: Request<Incoming>,
) -> Result<Response<GatewayBody>, std::convert::Infallible> {
    let started = Instant::now();
    let request_id = state.request_ids.next();
    let (mut parts, body) = req.into_parts();

    if parts.uri.path() == HEALTH_PATH
        && (parts.method == Method::GET || parts.method == Method::HEAD)
    {
        let resp = health::response(&state);
        tracing::debug!(method = %parts.method, path = HEALTH_PATH, status = 200, "request");
        return Ok(into_http(resp, &request_id, false));
    }

    let mut aws = AwsRequest {
        method: parts.method.clone(),
        path: parts.uri.path().to_string(),
        query: parts.uri.query().unwrap_or_default().to_string(),
        headers: std::mem::take(&mut parts.headers),
        body: Bytes::new(),
    };
    if let Some(route) = crate::lambda_edge::classify(&aws.method, &aws.path, &aws.headers) {
        let limit = crate::lambda_edge::URL_MAX_BODY_BYTES;
        let mut close = false;
        let resp = match read_body(body, limit).await {
            Ok(Ok(collected)) => {
                aws.body = collected.to_bytes();
                crate::lambda_edge::handle(&state, route, aws, &request_id).await
            }
            Ok(Err(_)) | Err(_) => {
                close = true;
                let mut headers = http::HeaderMap::new();
                headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
                AwsResponse {
                    status: StatusCode::PAYLOAD_TOO_LARGE,
                    headers,
                    body: Bytes::from_static(b"{\"Message\":\"Request must be smaller than 6291456 bytes for the InvokeFunction operation\"}"),
                }
            }
        };
        tracing::debug!(method = %parts.method, path = %parts.uri.path(), service = "lambda-edge", status = resp.status.as_u16(), "request");
        return Ok(into_http(resp, &request_id, close));
    }

    // Route on the headers first to pick the body limit; the body may add `Action=`.
    let header_route = router::route(&aws);
    // S3 streams its bodies: it is routed on the head alone and never collected here.
    let s3_route = match header_route {
        Some(ServiceId::S3) => true,
        None => crate::s3_edge::is_s3_default(&aws.method, &aws.headers),
        Some(_) => false,
    };
    if s3_route {
        parts.headers = aws.headers;
        return Ok(s3_response(&state, parts, body, &request_id, started).await);
    }
    let limit = max_body_bytes(header_route);
    let protocol_guess =
        header_route.map_or_else(|| guess_protocol(&aws), |s| s.protocol_for(&aws));

    let declared = aws
        .headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        let resp = error_response(
            protocol_guess,
            header_route,
            errors::too_large(limit),
            &request_id,
        );
        log_request(&aws, header_route, resp.status, started);
        return Ok(into_http(resp, &request_id, true));
    }
    let read = read_body(body, limit).await;
    match read {
        Ok(Ok(collected)) => aws.body = collected.to_bytes(),
        Ok(Err(e)) => {
            let err = if e
                .downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
            {
                errors::too_large(limit)
            } else {
                // The client went away or broke the framing; answer anyway.
                AwsError::new(
                    StatusCode::BAD_REQUEST,
                    "IncompleteBody",
                    format!("The request body could not be read: {e}"),
                )
            };
            let resp = error_response(protocol_guess, header_route, err, &request_id);
            log_request(&aws, header_route, resp.status, started);
            return Ok(into_http(resp, &request_id, true));
        }
        Err(_) => {
            let resp = error_response(
                protocol_guess,
                header_route,
                errors::body_timeout(),
                &request_id,
            );
            log_request(&aws, header_route, resp.status, started);
            return Ok(into_http(resp, &request_id, true));
        }
    }

    let resp = respond(&state, &aws, header_route, &request_id).await;
    log_request(
        &aws,
        header_route.or_else(|| router::route(&aws)),
        resp.status,
        started,
    );
    Ok(into_http(resp, &request_id, false))
}

async fn s3_response(
    state: &AppState,
    parts: http::request::Parts,
    body: Incoming,
    request_id: &str,
    started: Instant,
) -> Response<GatewayBody> {
    let method = parts.method.clone();
    let path = parts.uri.path().to_string();
    let mut resp = match state.services.s3().await {
        Ok(s3) => crate::s3_edge::handle(&s3, state.loopback, parts, body, request_id).await,
        Err(e) => {
            tracing::warn!(error = %e, "S3 is unavailable");
            crate::s3_edge::unavailable(request_id)
        }
    };
    if let Ok(v) = HeaderValue::from_str(request_id) {
        let h = resp.headers_mut();
        if !h.contains_key(&X_AMZ_REQUEST_ID) {
            h.insert(X_AMZ_REQUEST_ID.clone(), v.clone());
        }
        h.entry(X_AMZ_ID_2.clone()).or_insert(v);
    }
    tracing::debug!(
        method = %method,
        path = %path,
        service = "s3",
        status = resp.status().as_u16(),
        elapsed_us = started.elapsed().as_micros() as u64,
        "request"
    );
    resp.map(http_body_util::Either::Right)
}

/// Routing, auth and dispatch of a request whose body has been read.
pub async fn respond(
    state: &AppState,
    aws: &AwsRequest,
    header_route: Option<ServiceId>,
    request_id: &str,
) -> AwsResponse {
    let Some(service) = header_route.or_else(|| router::route(aws)) else {
        return error_response(
            guess_protocol(aws),
            None,
            errors::unknown_service(),
            request_id,
        );
    };
    let protocol = service.protocol_for(aws);
    if state.services.state(service) != ServiceState::Running {
        return error_response(
            protocol,
            Some(service),
            errors::service_unavailable(service),
            request_id,
        );
    }
    // Store-backed keys (IAM, STS) are only known once the store is open; wait for it
    // (instant afterwards) so such a key is never mistaken for an unknown one.
    let _ = state.store.opened().await;
    let ctx = match state.authenticator().authenticate(aws, service, request_id) {
        Ok(ctx) => ctx,
        Err(e) => {
            tracing::debug!(error = %e, "authentication failed");
            return error_response(
                protocol,
                Some(service),
                e.to_aws_error(protocol),
                request_id,
            );
        }
    };
    state.services.dispatch(service, &ctx, aws).await
}

fn log_request(aws: &AwsRequest, service: Option<ServiceId>, status: StatusCode, started: Instant) {
    tracing::debug!(
        method = %aws.method,
        path = %aws.path,
        service = service.map_or("-", ServiceId::name),
        target = aws.headers.get("x-amz-target").and_then(|v| v.to_str().ok()).unwrap_or("-"),
        status = status.as_u16(),
        elapsed_us = started.elapsed().as_micros() as u64,
        "request"
    );
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn request_ids_are_unique_and_uuid_shaped() {
        let ids = RequestIds::new();
        let mut seen = HashSet::new();
        for _ in 0..10_000 {
            let id = ids.next();
            assert_eq!(id.len(), 36, "{id}");
            let groups: Vec<&str> = id.split('-').collect();
            assert_eq!(
                groups.iter().map(|g| g.len()).collect::<Vec<_>>(),
                vec![8, 4, 4, 4, 12]
            );
            assert!(id
                .bytes()
                .all(|b| b == b'-' || b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
            // Version 4, RFC 4122 variant: what uuid parsers expect of a random id.
            assert!(groups[2].starts_with('4'), "{id}");
            assert!(groups[3].starts_with(['8', '9', 'a', 'b']), "{id}");
            assert!(seen.insert(id));
        }
        // Another process (seed) gives other ids.
        assert_ne!(RequestIds::new().next(), RequestIds::new().next());
    }

    #[test]
    fn body_limits() {
        assert_eq!(max_body_bytes(Some(ServiceId::DynamoDb)), 16 * 1024 * 1024);
        assert_eq!(max_body_bytes(None), 20 * 1024 * 1024);
    }
}
