//! S3 at the edge. Unlike the other services, S3 bodies are streamed, never collected:
//! the request goes to the s3s protocol layer with its body still on the socket, and
//! GetObject's body streams back out. This module decides which requests are S3's,
//! serves the website endpoint and CORS preflights, and implements the loopback rule
//! for S3 (an unknown access key is the account root, unchecked): s3s verifies every
//! signature it sees, so for such a request the signature is taken off and an
//! `aws-chunked` body is decoded here instead.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::header::{HeaderValue, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE, HOST};
use http::request::Parts;
use http::{Method, Request, Response, StatusCode, Uri};
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use nimbus_s3::{auth as s3auth, cors, website, S3State};
use nimbus_wire::aws_chunked::ChunkedDecoder;
use s3s::service::S3Service;

/// A body that stops sending for this long is abandoned (the upload fails; nothing
/// half-written becomes visible).
pub const BODY_IDLE_TIMEOUT_MS: u64 = 60_000;

/// The running S3 service: its state and the s3s service over it.
pub struct S3Handle {
    pub state: Arc<S3State>,
    pub service: S3Service,
}

/// Whether a request the router could not place is S3's. S3 is the endpoint's default,
/// as for AWS's own `s3.amazonaws.com`: unsigned path-style requests (browser form
/// uploads, public reads) carry no other mark. Query-protocol forms and awsJson targets
/// are never S3's.
pub fn is_s3_default(method: &Method, headers: &http::HeaderMap) -> bool {
    if headers.contains_key("x-amz-target") {
        return false;
    }
    let form = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
    !(*method == Method::POST && form)
}

/// The access key and scope region a request is signed with, if any (SigV4 header,
/// SigV4 query, SigV2 header, SigV2 query).
fn access_key_of(parts: &Parts) -> Option<(String, Option<String>)> {
    if let Some(auth) = parts
        .headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        if let Some(rest) = auth.strip_prefix("AWS4-HMAC-SHA256") {
            let cred = rest
                .split(',')
                .find_map(|p| p.trim().strip_prefix("Credential="))?;
            let mut it = cred.split('/');
            let key = it.next()?.to_string();
            let region = it.nth(1).map(str::to_string);
            return Some((key, region));
        }
        if let Some(rest) = auth.strip_prefix("AWS ") {
            let key = rest.split(':').next()?.trim().to_string();
            return Some((key, None));
        }
        return None;
    }
    let query = parts.uri.query()?;
    for pair in query.split('&') {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        if k == "X-Amz-Credential" {
            let v = pct(v);
            let mut it = v.split('/');
            let key = it.next()?.to_string();
            let region = it.nth(1).map(str::to_string);
            return Some((key, region));
        }
        if k == "AWSAccessKeyId" {
            return Some((pct(v), None));
        }
    }
    None
}

fn pct(s: &str) -> String {
    String::from_utf8_lossy(&nimbus_wire::percent::decode(s.as_bytes(), false)).into_owned()
}

/// Query parameters that carry a signature (taken off an unverified request).
const SIGNATURE_PARAMS: &[&str] = &[
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Date",
    "X-Amz-Expires",
    "X-Amz-SignedHeaders",
    "X-Amz-Signature",
    "X-Amz-Security-Token",
    "AWSAccessKeyId",
    "Signature",
    "Expires",
];

fn strip_signature(parts: &mut Parts) {
    parts.headers.remove(http::header::AUTHORIZATION);
    let Some(query) = parts.uri.query() else {
        return;
    };
    let kept: Vec<&str> = query
        .split('&')
        .filter(|p| {
            let k = p.split_once('=').map_or(*p, |(k, _)| k);
            !SIGNATURE_PARAMS.contains(&k)
        })
        .collect();
    let pq = if kept.is_empty() {
        parts.uri.path().to_string()
    } else {
        format!("{}?{}", parts.uri.path(), kept.join("&"))
    };
    let mut b = Uri::builder();
    if let Some(s) = parts.uri.scheme() {
        b = b.scheme(s.clone());
    }
    if let Some(a) = parts.uri.authority() {
        b = b.authority(a.clone());
    }
    if let Ok(uri) = b.path_and_query(pq).build() {
        parts.uri = uri;
    }
}

/// The bucket a request addresses (virtual host first, then the first path segment).
fn bucket_of(parts: &Parts, bases: &[String]) -> Option<String> {
    let host = parts.headers.get(HOST).and_then(|v| v.to_str().ok());
    if let Some(host) = host {
        let host = s3auth::strip_port(host);
        for base in bases {
            if let Some((bucket, _)) = s3auth::virtual_bucket(host, base) {
                return Some(bucket.to_string());
            }
        }
    }
    let first = parts.uri.path().trim_start_matches('/').split('/').next()?;
    (!first.is_empty()).then(|| pct(first))
}

/// Serves one S3 request.
pub async fn handle(
    s3: &S3Handle,
    loopback: bool,
    mut parts: Parts,
    body: Incoming,
    request_id: &str,
) -> Response<s3s::Body> {
    let bases = &s3.state.config.host_names;
    let host = parts
        .headers
        .get(HOST)
        .and_then(|v| v.to_str().ok())
        .map(|h| s3auth::strip_port(h).to_string());

    if let Some(bucket) = host
        .as_deref()
        .and_then(|h| website::website_bucket(h, bases))
    {
        let bucket = bucket.to_string();
        return website::serve(
            &s3.state,
            &bucket,
            &parts.method,
            parts.uri.path(),
            &parts.headers,
        )
        .await;
    }

    let bucket = bucket_of(&parts, bases);
    let attributes_request = parts.method == Method::GET
        && parts.uri.query().is_some_and(|q| {
            q.split('&')
                .any(|p| p == "attributes" || p == "attributes=")
        });
    let form_post = parts.method == Method::POST
        && parts
            .headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.to_ascii_lowercase().starts_with("multipart/form-data"));
    if parts.method == Method::OPTIONS {
        if let Some(b) = &bucket {
            return cors::preflight(&s3.state, b, &parts.headers).await;
        }
    }
    let cors_headers = match (&bucket, parts.headers.contains_key(http::header::ORIGIN)) {
        (Some(b), true) => {
            cors::response_headers(&s3.state, b, &parts.method, &parts.headers).await
        }
        _ => None,
    };

    if let Some(msg) = presign_expiry_problem(&parts) {
        return s3_error(
            StatusCode::BAD_REQUEST,
            "AuthorizationQueryParametersError",
            msg,
            request_id,
        );
    }

    let mut unverified_trailers = None;
    let mut post_file_name = None;
    let key = access_key_of(&parts);
    let unknown_key = key
        .as_ref()
        .is_some_and(|(k, _)| s3.state.credentials.lookup(k).is_none());
    let body = IdleTimeout::new(body);
    let body_ended = body.ended_flag();
    let body: s3s::Body = if loopback && unknown_key {
        // The loopback rule: accept as root, unchecked (DESIGN.md §7).
        let region = key
            .and_then(|(_, r)| r)
            .filter(|r| nimbus_wire::sigv4::is_valid_region(r));
        strip_signature(&mut parts);
        parts.extensions.insert(nimbus_s3::UnverifiedRoot);
        if let Some(r) = region {
            parts.extensions.insert(nimbus_s3::ScopeRegion(r));
        }
        let streaming = parts
            .headers
            .get("x-amz-content-sha256")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("STREAMING-"));
        if streaming {
            let decoded_len = parts
                .headers
                .get("x-amz-decoded-content-length")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok());
            if let Some(n) = decoded_len {
                parts.headers.insert(CONTENT_LENGTH, HeaderValue::from(n));
            } else {
                parts.headers.remove(CONTENT_LENGTH);
            }
            drop_aws_chunked_encoding(&mut parts);
            let slot = nimbus_s3::UnverifiedTrailers::default();
            parts.extensions.insert(slot.clone());
            unverified_trailers = Some(slot.clone());
            s3s::Body::http_body(UnverifiedChunked::new(body, decoded_len, slot))
        } else {
            s3s::Body::http_body(body)
        }
    } else if form_post {
        let slot = nimbus_s3::PostFileName::default();
        parts.extensions.insert(slot.clone());
        post_file_name = Some(slot.clone());
        s3s::Body::http_body(FileNameSniffer::new(body, slot))
    } else {
        s3s::Body::http_body(body)
    };
    let _ = unverified_trailers;
    parts
        .extensions
        .insert(nimbus_s3::RequestId(request_id.to_string()));

    let req = Request::from_parts(parts, body);
    let mut resp = match s3.service.call(req).await {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = ?e, "S3 request failed inside the protocol layer");
            internal_error(request_id)
        }
    };
    if let Some(h) = cors_headers {
        resp.headers_mut().extend(h);
    }
    if !body_ended.load(std::sync::atomic::Ordering::Relaxed) {
        // hyper closes a connection whose request body was left unread; say so.
        resp.headers_mut()
            .insert(http::header::CONNECTION, HeaderValue::from_static("close"));
    }
    if attributes_request && resp.status() == StatusCode::OK {
        unquote_attributes_etag(&mut resp);
    }
    if let Some(slot) = post_file_name {
        let name = slot.0.lock().clone().unwrap_or_default();
        fix_post_response(&mut resp, &name);
    }
    if resp.status().is_client_error() || resp.status().is_server_error() {
        complete_error_body(&mut resp, request_id, form_post);
    }
    resp
}

/// s3s answers a browser POST (201 document, 303 redirect) with the form's key as sent
/// and an unquoted ETag; S3 shows the key the object was stored under (`${filename}`
/// replaced) and quotes the ETag.
fn fix_post_response(resp: &mut Response<s3s::Body>, name: &str) {
    if resp.status() == StatusCode::SEE_OTHER {
        let loc = resp
            .headers()
            .get(http::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        if let Some(loc) = loc {
            let enc: String = url_encode(name);
            let fixed = loc.replace("%24%7Bfilename%7D", &enc);
            if let Ok(v) = HeaderValue::from_str(&fixed) {
                resp.headers_mut().insert(http::header::LOCATION, v);
            }
        }
        return;
    }
    if resp.status() != StatusCode::CREATED {
        return;
    }
    let Some(text) = text_body(resp) else {
        return;
    };
    let mut fixed = text.replace("${filename}", &xml_escape(name));
    if let Some(etag) = between(&fixed, "<ETag>", "</ETag>") {
        if !etag.starts_with('"') && !etag.starts_with("&quot;") {
            let quoted = format!("<ETag>\"{etag}\"</ETag>");
            fixed = fixed.replace(&format!("<ETag>{etag}</ETag>"), &quoted);
        }
    }
    set_text_body(resp, fixed);
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// GetObjectAttributes is the one S3 answer whose ETag is unquoted; s3s's ETag type
/// always writes quotes.
fn unquote_attributes_etag(resp: &mut Response<s3s::Body>) {
    let Some(text) = text_body(resp) else {
        return;
    };
    let Some(etag) = between(&text, "<ETag>", "</ETag>") else {
        return;
    };
    let bare = etag
        .strip_prefix("&quot;")
        .and_then(|e| e.strip_suffix("&quot;"))
        .or_else(|| etag.strip_prefix('"').and_then(|e| e.strip_suffix('"')));
    let Some(bare) = bare else {
        return;
    };
    let fixed = text.replacen(
        &format!("<ETag>{etag}</ETag>"),
        &format!("<ETag>{bare}</ETag>"),
        1,
    );
    set_text_body(resp, fixed);
}

/// s3s words browser-POST policy failures its own way; S3 answers 403 AccessDenied with
/// "Invalid according to Policy: ..." and the failed condition in the policy's syntax.
fn post_policy_error(code: &str, message: &str) -> Option<String> {
    if code == "AccessDenied" && message == "Request has expired" {
        return Some("Invalid according to Policy: Policy expired.".to_string());
    }
    if code != "InvalidPolicyDocument" {
        return None;
    }
    // "Policy condition 'eq' for field 'F' failed: expected 'V', got '...'"
    // "Policy condition 'starts-with' for field 'F' failed: expected prefix 'V', got '...'"
    let rest = message.strip_prefix("Policy condition '")?;
    let (op, rest) = rest.split_once("' for field '")?;
    let (field, rest) = rest.split_once("' failed: expected ")?;
    let rest = rest.strip_prefix("prefix ").unwrap_or(rest);
    let value = rest.strip_prefix('\'')?.rsplit_once("', got '")?.0;
    Some(format!(
        "Invalid according to Policy: Policy Condition failed: [\"{op}\", \"${field}\", \"{value}\"]"
    ))
}

fn xml_unescape(s: &str) -> String {
    s.replace("&apos;", "'")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// XML text escaped as AWS's XML writers do (the model runtime's escaper).
fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    nimbus_model::runtime::query::escape_into(&mut out, s);
    out
}

/// A small response body that is already in memory, as text (the error and result
/// documents the fix-ups below rewrite); `None` for streamed or non-UTF-8 bodies.
fn text_body(resp: &Response<s3s::Body>) -> Option<String> {
    let bytes = resp.body().bytes()?;
    String::from_utf8(bytes.to_vec()).ok()
}

/// Replaces the body with `text`, keeping Content-Length true.
fn set_text_body(resp: &mut Response<s3s::Body>, text: String) {
    let len = text.len();
    *resp.body_mut() = s3s::Body::from(text);
    resp.headers_mut()
        .insert(CONTENT_LENGTH, HeaderValue::from(len));
}

fn between<'a>(text: &'a str, open: &str, close: &str) -> Option<&'a str> {
    text.split_once(open)
        .and_then(|(_, rest)| rest.split_once(close))
        .map(|(v, _)| v)
}

/// Gives an S3 error body the parts SDKs show and s3s leaves out when an error was
/// raised with a code only: S3's standard message for the code, and the request id.
fn complete_error_body(resp: &mut Response<s3s::Body>, request_id: &str, form_post: bool) {
    // Error documents are small; anything large is not one.
    if resp.body().bytes().is_none_or(|b| b.len() > 16 * 1024) {
        return;
    }
    let Some(text) = text_body(resp) else {
        return;
    };
    let Some(code) = between(&text, "<Code>", "</Code>") else {
        return;
    };
    if form_post {
        let message = between(&text, "<Message>", "</Message>").map(xml_unescape);
        if let Some(m) = message.and_then(|m| post_policy_error(code, &m)) {
            let fixed = s3_error(StatusCode::FORBIDDEN, "AccessDenied", &m, request_id);
            let (mut head, body) = fixed.into_parts();
            head.headers.extend(std::mem::take(resp.headers_mut()));
            head.headers.remove(CONTENT_LENGTH);
            *resp = Response::from_parts(head, body);
            return;
        }
    }
    let mut extra = String::new();
    if !text.contains("<Message>") {
        if let Some(m) = nimbus_s3::error::default_message(code) {
            extra.push_str("<Message>");
            extra.push_str(m);
            extra.push_str("</Message>");
        }
    }
    if !text.contains("<RequestId>") {
        extra.push_str("<RequestId>");
        extra.push_str(request_id);
        extra.push_str("</RequestId>");
    }
    if extra.is_empty() {
        return;
    }
    let Some(pos) = text.rfind("</Error>") else {
        return;
    };
    let mut out = String::with_capacity(text.len() + extra.len());
    out.push_str(&text[..pos]);
    out.push_str(&extra);
    out.push_str(&text[pos..]);
    set_text_body(resp, out);
}

/// `Content-Encoding: aws-chunked[, other]` loses its `aws-chunked` once decoded.
fn drop_aws_chunked_encoding(parts: &mut Parts) {
    let Some(v) = parts
        .headers
        .get(CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
    else {
        return;
    };
    let rest: Vec<&str> = v
        .split(',')
        .map(str::trim)
        .filter(|e| !e.eq_ignore_ascii_case("aws-chunked") && !e.is_empty())
        .collect();
    if rest.is_empty() {
        parts.headers.remove(CONTENT_ENCODING);
    } else if let Ok(h) = HeaderValue::from_str(&rest.join(", ")) {
        parts.headers.insert(CONTENT_ENCODING, h);
    }
}

/// Presigned URLs live at most 7 days (604800 s); S3 checks `X-Amz-Expires` before the
/// signature, with these messages.
fn presign_expiry_problem(parts: &Parts) -> Option<&'static str> {
    let query = parts.uri.query()?;
    let raw = query
        .split('&')
        .find_map(|p| p.strip_prefix("X-Amz-Expires="))?;
    match raw.parse::<i64>() {
        Err(_) => Some("X-Amz-Expires should be a number"),
        Ok(n) if n < 0 => Some("X-Amz-Expires must be non-negative"),
        Ok(n) if n > 604_800 => Some(
            "X-Amz-Expires must be less than a week (in seconds) that is, the given X-Amz-Expires must be less than 604800 seconds",
        ),
        Ok(_) => None,
    }
}

/// An S3 XML error document (`message` is plain text; it is escaped here).
pub fn s3_error(
    status: StatusCode,
    code: &str,
    message: &str,
    request_id: &str,
) -> Response<s3s::Body> {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{}</Message><RequestId>{request_id}</RequestId></Error>",
        xml_escape(message)
    );
    let mut r = Response::new(s3s::Body::from(body));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/xml"));
    r
}

/// S3's `InternalError`, for the rare failure outside any operation.
pub fn internal_error(request_id: &str) -> Response<s3s::Body> {
    s3_error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "InternalError",
        "We encountered an internal error. Please try again.",
        request_id,
    )
}

/// S3's answer while the store is not open yet (or failed to open).
pub fn unavailable(request_id: &str) -> Response<s3s::Body> {
    s3_error(
        StatusCode::SERVICE_UNAVAILABLE,
        "ServiceUnavailable",
        "Please reduce your request rate.",
        request_id,
    )
}

/// A request body that fails when the client sends nothing for
/// [`BODY_IDLE_TIMEOUT_MS`], so a stalled upload cannot hold its connection and
/// temporary file forever.
///
/// It also records whether the body was read to its end: a response sent before that
/// (an error to an upload) must close the connection, or the client would send its next
/// request on a connection hyper is about to close.
pub struct IdleTimeout<B> {
    inner: B,
    sleep: Pin<Box<tokio::time::Sleep>>,
    ended: Arc<std::sync::atomic::AtomicBool>,
}

impl<B: Body> IdleTimeout<B> {
    pub fn new(inner: B) -> Self {
        let ended = Arc::new(std::sync::atomic::AtomicBool::new(inner.is_end_stream()));
        IdleTimeout {
            inner,
            sleep: Box::pin(tokio::time::sleep(Duration::from_millis(
                BODY_IDLE_TIMEOUT_MS,
            ))),
            ended,
        }
    }

    /// Turns true once the whole body has been read.
    pub fn ended_flag(&self) -> Arc<std::sync::atomic::AtomicBool> {
        self.ended.clone()
    }
}

#[derive(Debug, thiserror::Error)]
#[error("request body idle for {BODY_IDLE_TIMEOUT_MS} ms")]
pub struct BodyIdle;

impl<B> Body for IdleTimeout<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(r) => {
                let deadline =
                    tokio::time::Instant::now() + Duration::from_millis(BODY_IDLE_TIMEOUT_MS);
                this.sleep.as_mut().reset(deadline);
                if r.is_none() || this.inner.is_end_stream() {
                    this.ended.store(true, std::sync::atomic::Ordering::Relaxed);
                }
                Poll::Ready(r.map(|f| f.map_err(Into::into)))
            }
            Poll::Pending => match this.sleep.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Some(Err(Box::new(BodyIdle)))),
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

use std::future::Future as _;

/// Decodes an `aws-chunked` body without checking chunk signatures (see the module
/// docs); trailing headers land in the shared slot when the body ends.
pub struct UnverifiedChunked<B> {
    inner: B,
    decoder: ChunkedDecoder,
    decoded_len: Option<u64>,
    slot: nimbus_s3::UnverifiedTrailers,
    ended: bool,
}

impl<B> UnverifiedChunked<B> {
    pub fn new(inner: B, decoded_len: Option<u64>, slot: nimbus_s3::UnverifiedTrailers) -> Self {
        UnverifiedChunked {
            inner,
            decoder: ChunkedDecoder::new(),
            decoded_len,
            slot,
            ended: false,
        }
    }

    fn publish_trailers(&mut self) {
        let mut map = http::HeaderMap::new();
        for (k, v) in self.decoder.trailers() {
            if let (Ok(name), Ok(value)) = (
                http::HeaderName::from_bytes(k.as_bytes()),
                HeaderValue::from_str(v),
            ) {
                map.append(name, value);
            }
        }
        *self.slot.0.lock() = Some(map);
    }
}

impl<B> Body for UnverifiedChunked<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        loop {
            if this.ended {
                return Poll::Ready(None);
            }
            match this.decoder.next_data() {
                Ok(Some(d)) => return Poll::Ready(Some(Ok(Frame::data(d)))),
                Ok(None) => {}
                Err(e) => return Poll::Ready(Some(Err(Box::new(e)))),
            }
            if this.decoder.is_done() {
                this.ended = true;
                this.publish_trailers();
                return Poll::Ready(None);
            }
            match Pin::new(&mut this.inner).poll_frame(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e.into()))),
                Poll::Ready(Some(Ok(frame))) => {
                    if let Ok(data) = frame.into_data() {
                        this.decoder.push(&data);
                    }
                }
                Poll::Ready(None) => {
                    this.ended = true;
                    if let Err(e) = this.decoder.finish() {
                        return Poll::Ready(Some(Err(Box::new(e))));
                    }
                    this.publish_trailers();
                    return Poll::Ready(None);
                }
            }
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self.decoded_len {
            Some(n) => SizeHint::with_exact(n),
            None => SizeHint::default(),
        }
    }
}

/// Longest stretch of a form kept to find the `file` field's `filename="..."`.
const SNIFF_CARRY_BYTES: usize = 4096;

/// Passes a browser POST form through unchanged while picking the `file` field's file
/// name out of its part headers (for `${filename}` in the key).
pub struct FileNameSniffer<B> {
    inner: B,
    carry: Vec<u8>,
    slot: nimbus_s3::PostFileName,
    found: bool,
}

impl<B> FileNameSniffer<B> {
    pub fn new(inner: B, slot: nimbus_s3::PostFileName) -> Self {
        FileNameSniffer {
            inner,
            carry: Vec::new(),
            slot,
            found: false,
        }
    }

    fn scan(&mut self, data: &[u8]) {
        if self.found {
            return;
        }
        self.carry.extend_from_slice(data);
        if let Some(name) = file_field_name(&self.carry) {
            *self.slot.0.lock() = Some(name);
            self.found = true;
            self.carry = Vec::new();
            return;
        }
        if self.carry.len() > SNIFF_CARRY_BYTES {
            let cut = self.carry.len() - SNIFF_CARRY_BYTES;
            self.carry.drain(..cut);
        }
    }
}

/// The file name in a `Content-Disposition: form-data; name="file"; filename="..."` line
/// of `buf`, without any directory part (old browsers sent full paths).
fn file_field_name(buf: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(buf);
    for line in text.split("\r\n") {
        let lower = line.to_ascii_lowercase();
        if !lower.starts_with("content-disposition:") || !lower.contains("name=\"file\"") {
            continue;
        }
        let start = lower.find("filename=\"")? + "filename=\"".len();
        let rest = line.get(start..)?;
        let end = rest.find('"')?;
        let name = rest.get(..end)?;
        let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
        return Some(base.to_string());
    }
    None
}

impl<B> Body for FileNameSniffer<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(d) = frame.data_ref() {
                    let d = d.clone();
                    this.scan(&d);
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e.into()))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn parts(method: Method, uri: &str, headers: &[(&str, &str)]) -> Parts {
        let mut b = Request::builder().method(method).uri(uri);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(()).unwrap().into_parts().0
    }

    #[test]
    fn access_keys_from_every_signature_form() {
        let p = parts(Method::GET, "/b/k", &[("authorization", "AWS4-HMAC-SHA256 Credential=AKID/20261126/eu-west-1/s3/aws4_request, SignedHeaders=host, Signature=00")]);
        assert_eq!(
            access_key_of(&p),
            Some(("AKID".into(), Some("eu-west-1".into())))
        );
        let p = parts(Method::GET, "/b/k?X-Amz-Credential=AK2%2F20261126%2Fus-west-2%2Fs3%2Faws4_request&X-Amz-Signature=00", &[]);
        assert_eq!(
            access_key_of(&p),
            Some(("AK2".into(), Some("us-west-2".into())))
        );
        let p = parts(Method::GET, "/b/k", &[("authorization", "AWS AK3:sig")]);
        assert_eq!(access_key_of(&p), Some(("AK3".into(), None)));
        let p = parts(
            Method::GET,
            "/b/k?AWSAccessKeyId=AK4&Signature=x&Expires=1",
            &[],
        );
        assert_eq!(access_key_of(&p), Some(("AK4".into(), None)));
        assert_eq!(access_key_of(&parts(Method::GET, "/b/k", &[])), None);
    }

    #[test]
    fn post_policy_errors_in_s3_words() {
        assert_eq!(
            post_policy_error("InvalidPolicyDocument", "Policy condition 'starts-with' for field 'key' failed: expected prefix 'uploads/', got 'elsewhere/a.txt'").as_deref(),
            Some("Invalid according to Policy: Policy Condition failed: [\"starts-with\", \"$key\", \"uploads/\"]")
        );
        assert_eq!(
            post_policy_error("InvalidPolicyDocument", "Policy condition 'eq' for field 'acl' failed: expected 'private', got 'public-read'").as_deref(),
            Some("Invalid according to Policy: Policy Condition failed: [\"eq\", \"$acl\", \"private\"]")
        );
        assert_eq!(
            post_policy_error("AccessDenied", "Request has expired").as_deref(),
            Some("Invalid according to Policy: Policy expired.")
        );
        assert_eq!(post_policy_error("NoSuchKey", "x"), None);
    }

    #[test]
    fn file_names_from_form_parts() {
        let form = b"--b\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\nx/${filename}\r\n--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"C:\\docs\\notes.md\"\r\nContent-Type: text/plain\r\n\r\nhello\r\n--b--\r\n";
        assert_eq!(file_field_name(form).as_deref(), Some("notes.md"));
        assert_eq!(
            file_field_name(b"Content-Disposition: form-data; name=\"key\"; filename=\"no\""),
            None
        );
        // Split anywhere, the sniffer still finds it.
        for cut in [1, 10, 60, 100, form.len() - 1] {
            let slot = nimbus_s3::PostFileName::default();
            let mut s = FileNameSniffer::new((), slot.clone());
            s.scan(&form[..cut]);
            s.scan(&form[cut..]);
            assert_eq!(slot.0.lock().as_deref(), Some("notes.md"), "cut {cut}");
        }
    }

    #[test]
    fn presign_expiry_limits() {
        let p = |q: &str| parts(Method::GET, &format!("/b/k?{q}"), &[]);
        assert_eq!(presign_expiry_problem(&p("X-Amz-Expires=604800")), None);
        assert!(presign_expiry_problem(&p("X-Amz-Expires=604801"))
            .is_some_and(|m| m.contains("less than a week")));
        assert!(presign_expiry_problem(&p("X-Amz-Expires=-1")).is_some());
        assert!(presign_expiry_problem(&p("X-Amz-Expires=x")).is_some());
        assert_eq!(presign_expiry_problem(&p("versionId=1")), None);
    }

    #[test]
    fn stripping_keeps_other_query_parameters() {
        let mut p = parts(Method::GET, "/b/k?versionId=v1&X-Amz-Signature=00&X-Amz-Credential=a&response-content-type=text%2Fplain", &[("authorization", "x")]);
        strip_signature(&mut p);
        assert!(p.headers.get("authorization").is_none());
        assert_eq!(
            p.uri.query(),
            Some("versionId=v1&response-content-type=text%2Fplain")
        );
        let mut p = parts(Method::GET, "/b/k?X-Amz-Signature=00", &[]);
        strip_signature(&mut p);
        assert_eq!(p.uri.query(), None);
        assert_eq!(p.uri.path(), "/b/k");
    }

    #[test]
    fn s3_is_the_default_except_for_forms_and_targets() {
        let d = |p: Parts| is_s3_default(&p.method, &p.headers);
        assert!(d(parts(Method::GET, "/", &[])));
        assert!(d(parts(
            Method::POST,
            "/bk",
            &[("content-type", "multipart/form-data; boundary=x")]
        )));
        assert!(!d(parts(
            Method::POST,
            "/",
            &[("content-type", "application/x-www-form-urlencoded")]
        )));
        assert!(!d(parts(
            Method::POST,
            "/",
            &[("x-amz-target", "DynamoDB_20120810.ListTables")]
        )));
    }

    #[test]
    fn content_encoding_loses_aws_chunked_only() {
        let mut p = parts(
            Method::PUT,
            "/b/k",
            &[("content-encoding", "aws-chunked, gzip")],
        );
        drop_aws_chunked_encoding(&mut p);
        assert_eq!(p.headers.get("content-encoding").unwrap(), "gzip");
        let mut p = parts(Method::PUT, "/b/k", &[("content-encoding", "aws-chunked")]);
        drop_aws_chunked_encoding(&mut p);
        assert!(p.headers.get("content-encoding").is_none());
    }
}
