//! The restJson protocol (Lambda, later API Gateway, Scheduler, ...): the operation is
//! named by the HTTP method and the path; input members are bound to path labels, query
//! parameters, headers and a JSON body (or a raw payload); output members to headers,
//! the status code and a JSON body (or a raw payload).
//!
//! The generated module of a restJson service holds:
//! - `ROUTES`, one [`Route`] per operation, most specific first, matched by
//!   [`match_route`];
//! - per input structure an impl of [`RestDecode`] that pulls each member from its
//!   location (through [`TextInput`] for labels, query parameters and headers, through
//!   `serde_json::Value` for the body) and runs the same constraint checks as awsJson;
//! - per output structure an impl of [`RestEncode`];
//! - `ERRORS`, the [`ErrorSpec`] of each modeled error (its message key and the members
//!   it sends as headers), used by [`error_response`].

use std::collections::HashMap;

use base64::Engine as _;
use bytes::Bytes;
use http::header::{HeaderName, HeaderValue, CONTENT_TYPE};
use http::{HeaderMap, StatusCode};
use nimbus_wire::{AwsError, AwsRequest, AwsResponse};
use serde_json::Value;

use super::de::{Cx, DeError, Input, Pos};
use super::json::{JsonEncode, JsonWriter};

/// Most path segments a route match looks at; longer paths cannot match any model route
/// except through a greedy label, which takes the rest in one piece.
const MAX_SEGMENTS: usize = 64;
/// Most query parameters read from one request.
const MAX_QUERY_PARAMS: usize = 1_000;

/// One segment of a request URI template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seg {
    /// A literal segment, compared with the percent-decoded request segment.
    Lit(&'static str),
    /// `{Name}`: one non-empty segment, percent-decoded.
    Label(&'static str),
    /// `{Name+}`: the rest of the path (one or more segments), percent-decoded.
    Greedy(&'static str),
}

/// An operation's HTTP binding, from `http.method` and `http.requestUri`.
#[derive(Debug, Clone, Copy)]
pub struct Route {
    pub method: &'static str,
    pub segments: &'static [Seg],
    /// Query literals of the template (`?List=ALL`, `?versioning`): the request must
    /// carry them (a `None` value means the key only has to be present).
    pub query: &'static [(&'static str, Option<&'static str>)],
    /// Index into the module's `Operation::ALL`.
    pub op: usize,
}

/// A matched route: the operation index and the decoded label values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matched {
    pub op: usize,
    pub labels: Vec<(&'static str, String)>,
}

fn decode_component(raw: &str, plus_as_space: bool) -> String {
    let bytes = nimbus_wire::percent::decode(raw.as_bytes(), plus_as_space);
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// Splits a raw query string into decoded pairs (`+` is a space, as AWS's REST front
/// ends read it).
pub fn parse_query(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .take(MAX_QUERY_PARAMS)
        .map(|pair| match pair.split_once('=') {
            Some((k, v)) => (decode_component(k, true), decode_component(v, true)),
            None => (decode_component(pair, true), String::new()),
        })
        .collect()
}

fn route_matches(
    route: &Route,
    segs: &[&str],
    query: &[(String, String)],
) -> Option<Vec<(&'static str, String)>> {
    for (key, want) in route.query {
        let found = query
            .iter()
            .any(|(k, v)| k == key && want.is_none_or(|w| v == w));
        if !found {
            return None;
        }
    }
    let mut labels = Vec::new();
    let mut i = 0;
    for seg in route.segments {
        match seg {
            Seg::Lit(lit) => {
                let raw = segs.get(i)?;
                if *raw != *lit && decode_component(raw, false) != *lit {
                    return None;
                }
                i += 1;
            }
            Seg::Label(name) => {
                let raw = segs.get(i)?;
                if raw.is_empty() {
                    return None;
                }
                labels.push((*name, decode_component(raw, false)));
                i += 1;
            }
            Seg::Greedy(name) => {
                let rest = segs.get(i..)?;
                if rest.is_empty() || rest.iter().all(|s| s.is_empty()) {
                    return None;
                }
                labels.push((*name, decode_component(&rest.join("/"), false)));
                i = segs.len();
            }
        }
    }
    (i == segs.len()).then_some(labels)
}

/// Finds the operation a request addresses. `routes` are tried in order (the generator
/// sorts them most specific first, so `GET /layers?find=LayerVersion` wins over
/// `GET /layers`). A single trailing slash is ignored.
pub fn match_route(routes: &[Route], req: &AwsRequest) -> Option<Matched> {
    let path = req.path.strip_prefix('/').unwrap_or(&req.path);
    let path = path.strip_suffix('/').unwrap_or(path);
    let segs: Vec<&str> = if path.is_empty() {
        Vec::new()
    } else {
        path.splitn(MAX_SEGMENTS + 1, '/').collect()
    };
    let query = parse_query(&req.query);
    let method = req.method.as_str();
    routes
        .iter()
        .filter(|r| r.method == method)
        .find_map(|r| route_matches(r, &segs, &query).map(|labels| Matched { op: r.op, labels }))
}

// ---------------------------------------------------------------- request side

/// A value taken from the path, the query string or a header (always text on the wire),
/// or a raw blob payload. It is read through [`Input`] like a JSON value, parsing the
/// text into the member's type.
#[derive(Debug, Clone, PartialEq)]
pub enum TextInput {
    One(String),
    /// A list-valued query parameter (`?tagKeys=a&tagKeys=b`).
    Many(Vec<String>),
    /// A map-valued query string or a prefixed header map.
    Map(Vec<(String, String)>),
    /// A blob payload: the raw body.
    Bytes(Vec<u8>),
}

fn text_type_error(what: &str, v: &str) -> DeError {
    DeError::new(format!("Could not convert '{v}' to {what}"))
}

impl TextInput {
    fn text(self, what: &str) -> Result<String, DeError> {
        match self {
            TextInput::One(s) => Ok(s),
            TextInput::Many(mut v) if !v.is_empty() => Ok(v.swap_remove(0)),
            TextInput::Bytes(b) => {
                String::from_utf8(b).map_err(|_| DeError::new(format!("Expected a {what} value")))
            }
            _ => Err(DeError::new(format!("Expected a {what} value"))),
        }
    }
}

impl Input for TextInput {
    type Fields = std::vec::IntoIter<(String, TextInput)>;
    type Elems = std::vec::IntoIter<TextInput>;
    type Entries = std::vec::IntoIter<(String, TextInput)>;

    fn is_null(&self) -> bool {
        false
    }

    fn structure(self, _pos: Pos, _class: &'static str) -> Result<Self::Fields, DeError> {
        Err(DeError::new("Unexpected field type"))
    }

    fn list(self, _pos: Pos, _flattened: bool) -> Result<Self::Elems, DeError> {
        match self {
            TextInput::Many(v) => Ok(v
                .into_iter()
                .map(TextInput::One)
                .collect::<Vec<_>>()
                .into_iter()),
            // A list in a header: comma-separated values.
            TextInput::One(s) => Ok(s
                .split(',')
                .map(|p| TextInput::One(p.trim().to_string()))
                .collect::<Vec<_>>()
                .into_iter()),
            _ => Err(DeError::new("Unexpected field type")),
        }
    }

    fn map(
        self,
        _pos: Pos,
        _class: &'static str,
        _flattened: bool,
    ) -> Result<Self::Entries, DeError> {
        match self {
            TextInput::Map(v) => Ok(v
                .into_iter()
                .map(|(k, v)| (k, TextInput::One(v)))
                .collect::<Vec<_>>()
                .into_iter()),
            _ => Err(DeError::new("Unexpected field type")),
        }
    }

    fn string(self) -> Result<String, DeError> {
        self.text("string")
    }

    fn boolean(self) -> Result<bool, DeError> {
        let s = self.text("boolean")?;
        if s.eq_ignore_ascii_case("true") {
            Ok(true)
        } else if s.eq_ignore_ascii_case("false") {
            Ok(false)
        } else {
            Err(text_type_error("Boolean", &s))
        }
    }

    fn integer(self) -> Result<i32, DeError> {
        let s = self.text("integer")?;
        s.trim()
            .parse::<i32>()
            .map_err(|_| text_type_error("Integer", &s))
    }

    fn long(self) -> Result<i64, DeError> {
        let s = self.text("long")?;
        s.trim()
            .parse::<i64>()
            .map_err(|_| text_type_error("Long", &s))
    }

    fn double(self) -> Result<f64, DeError> {
        let s = self.text("double")?;
        s.trim()
            .parse::<f64>()
            .map_err(|_| text_type_error("Double", &s))
    }

    fn blob(self) -> Result<Vec<u8>, DeError> {
        match self {
            TextInput::Bytes(b) => Ok(b),
            other => {
                let s = other.text("blob")?;
                base64::engine::general_purpose::STANDARD
                    .decode(s.trim())
                    .map_err(|_| text_type_error("Blob", &s))
            }
        }
    }

    /// Headers carry HTTP dates, query parameters ISO 8601; epoch seconds are accepted
    /// too (the `timestampFormat` trait can select them).
    fn timestamp(self) -> Result<f64, DeError> {
        let s = self.text("timestamp")?;
        let t = s.trim();
        t.parse::<f64>()
            .ok()
            .filter(|f| f.is_finite())
            .or_else(|| super::time::parse_iso8601(t))
            .or_else(|| super::time::parse_http_date(t))
            .ok_or_else(|| text_type_error("Timestamp", &s))
    }
}

/// How a service words the errors of the rest protocol layer.
#[derive(Debug, Clone, Copy)]
pub struct RestMeta {
    /// Code of the error for a body that is not JSON or has a wrongly typed member
    /// (Lambda: `InvalidRequestContentException`).
    pub bad_body_code: &'static str,
    /// Prefix of its message (Lambda: `Could not parse request body into json: `).
    pub bad_body_prefix: &'static str,
    /// Content type of a blob payload in a response.
    pub blob_content_type: &'static str,
}

/// The request as the generated decoders see it: labels from the route match, the
/// parsed query string, the headers and the body.
#[derive(Debug)]
pub struct RestRequest<'a> {
    labels: Vec<(&'static str, String)>,
    query: Vec<(String, String)>,
    headers: &'a HeaderMap,
    body: &'a [u8],
}

impl<'a> RestRequest<'a> {
    pub fn new(req: &'a AwsRequest, labels: Vec<(&'static str, String)>) -> Self {
        Self {
            labels,
            query: parse_query(&req.query),
            headers: &req.headers,
            body: &req.body,
        }
    }

    /// A path label.
    pub fn label(&mut self, name: &str) -> Option<TextInput> {
        let i = self.labels.iter().position(|(n, _)| *n == name)?;
        Some(TextInput::One(self.labels.swap_remove(i).1))
    }

    /// A scalar query parameter (the first, when repeated).
    pub fn query(&self, name: &str) -> Option<TextInput> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| TextInput::One(v.clone()))
    }

    /// A list-valued query parameter: every occurrence, in order.
    pub fn query_list(&self, name: &str) -> Option<TextInput> {
        let v: Vec<String> = self
            .query
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .collect();
        (!v.is_empty()).then_some(TextInput::Many(v))
    }

    /// A map-valued query string: every parameter not bound to another member.
    pub fn query_map(&self, bound: &[&str]) -> Option<TextInput> {
        let v: Vec<(String, String)> = self
            .query
            .iter()
            .filter(|(k, _)| !bound.contains(&k.as_str()))
            .cloned()
            .collect();
        (!v.is_empty()).then_some(TextInput::Map(v))
    }

    /// A header (the first value, when repeated).
    pub fn header(&self, name: &str) -> Option<TextInput> {
        let v = self.headers.get(name)?;
        Some(TextInput::One(
            String::from_utf8_lossy(v.as_bytes()).into_owned(),
        ))
    }

    /// Headers whose names start with `prefix` (case-insensitive), keyed by the rest of
    /// the name (lowercase, as HTTP/2 and the header map keep names).
    pub fn header_map(&self, prefix: &str) -> Option<TextInput> {
        let prefix = prefix.to_ascii_lowercase();
        let v: Vec<(String, String)> = self
            .headers
            .iter()
            .filter_map(|(k, v)| {
                let rest = k.as_str().strip_prefix(prefix.as_str())?;
                Some((
                    rest.to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                ))
            })
            .collect();
        (!v.is_empty()).then_some(TextInput::Map(v))
    }

    /// The raw body as a blob payload (absent when empty).
    pub fn raw_body(&self) -> Option<TextInput> {
        (!self.body.is_empty()).then(|| TextInput::Bytes(self.body.to_vec()))
    }

    /// The body as one JSON value (a structure payload); absent when empty.
    pub fn body_value(&self) -> Result<Option<Value>, DeError> {
        if self.body.iter().all(u8::is_ascii_whitespace) {
            return Ok(None);
        }
        serde_json::from_slice(self.body)
            .map(Some)
            .map_err(|e| DeError::new(e.to_string()))
    }

    /// The members of the JSON body (none when the body is empty).
    pub fn body_fields(&self) -> Result<serde_json::map::IntoIter, DeError> {
        match self.body_value()? {
            None => Ok(serde_json::Map::new().into_iter()),
            Some(v) => v.structure(Pos::Top, "class java.lang.Object"),
        }
    }
}

/// An input structure of a restJson operation.
pub trait RestDecode: Sized {
    fn decode_rest(req: &mut RestRequest<'_>, cx: &mut Cx) -> Result<Self, DeError>;
}

impl RestDecode for () {
    fn decode_rest(_req: &mut RestRequest<'_>, _cx: &mut Cx) -> Result<Self, DeError> {
        Ok(())
    }
}

/// The error for a request whose body (or a bound value) cannot be read as its type.
pub fn bad_request(meta: &RestMeta, detail: &str) -> AwsError {
    AwsError::new(
        StatusCode::BAD_REQUEST,
        meta.bad_body_code,
        format!("{}{detail}", meta.bad_body_prefix),
    )
}

/// AWS's `ValidationException` for constraint violations.
pub fn validation_error(message: String) -> AwsError {
    AwsError::new(StatusCode::BAD_REQUEST, "ValidationException", message)
}

/// Decodes and validates the input of a matched operation.
pub fn decode<T: RestDecode>(
    meta: &RestMeta,
    req: &AwsRequest,
    labels: Vec<(&'static str, String)>,
) -> Result<T, AwsError> {
    let mut rr = RestRequest::new(req, labels);
    let mut cx = Cx::new();
    let input = T::decode_rest(&mut rr, &mut cx).map_err(|e| bad_request(meta, &e.message))?;
    cx.finish().map_err(validation_error)?;
    Ok(input)
}

/// The error for a request no route matches: 404 `UnknownOperationException`, the
/// answer of AWS's REST front ends.
pub fn unknown_operation() -> AwsError {
    AwsError::new(StatusCode::NOT_FOUND, "UnknownOperationException", "")
}

// ---------------------------------------------------------------- response side

/// A response under construction: status, headers and body.
#[derive(Debug)]
pub struct RestOut {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Option<(Bytes, &'static str)>,
}

impl RestOut {
    pub fn new(status: StatusCode) -> Self {
        Self {
            status,
            headers: HeaderMap::new(),
            body: None,
        }
    }

    /// Sets the status from a `statusCode` member; out-of-range values are ignored.
    pub fn status(&mut self, code: i64) {
        if let Some(s) = u16::try_from(code)
            .ok()
            .and_then(|c| StatusCode::from_u16(c).ok())
        {
            self.status = s;
        }
    }

    /// Sets a header; values that are not valid header text are dropped.
    pub fn header(&mut self, name: &'static str, value: &str) {
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            self.headers.insert(n, v);
        }
    }

    pub fn header_int(&mut self, name: &'static str, value: i64) {
        self.header(name, &value.to_string());
    }

    pub fn header_bool(&mut self, name: &'static str, value: bool) {
        self.header(name, if value { "true" } else { "false" });
    }

    pub fn header_double(&mut self, name: &'static str, value: f64) {
        self.header(name, &super::render::double_text(value));
    }

    /// Timestamps in headers are HTTP dates.
    pub fn header_timestamp(&mut self, name: &'static str, secs: f64) {
        self.header(name, &super::time::format_http_date(secs));
    }

    /// A prefixed header map (`location: headers`).
    pub fn header_map(&mut self, prefix: &'static str, map: &HashMap<String, String>) {
        for (k, v) in map {
            if let (Ok(n), Ok(v)) = (
                HeaderName::from_bytes(format!("{prefix}{k}").as_bytes()),
                HeaderValue::from_str(v),
            ) {
                self.headers.append(n, v);
            }
        }
    }

    /// A blob payload: the raw body.
    pub fn blob_payload(&mut self, meta: &RestMeta, bytes: &[u8]) {
        self.body = Some((Bytes::copy_from_slice(bytes), meta.blob_content_type));
    }

    /// A JSON body (the non-located members, or a structure payload).
    pub fn json_body<T: JsonEncode + ?Sized>(&mut self, v: &T) {
        let mut w = JsonWriter::with_capacity(256);
        v.encode_json(&mut w);
        self.body = Some((Bytes::from(w.into_bytes()), "application/json"));
    }

    pub fn finish(self, request_id: &str) -> AwsResponse {
        let mut headers = self.headers;
        if let Ok(v) = HeaderValue::from_str(request_id) {
            headers.insert(HeaderName::from_static("x-amzn-requestid"), v);
        }
        let body = match self.body {
            // A 204 never has a body (HTTP forbids it).
            Some((body, ct)) if self.status != StatusCode::NO_CONTENT => {
                if !headers.contains_key(CONTENT_TYPE) {
                    headers.insert(CONTENT_TYPE, HeaderValue::from_static(ct));
                }
                body
            }
            _ => Bytes::new(),
        };
        AwsResponse {
            status: self.status,
            headers,
            body,
        }
    }
}

/// An output structure of a restJson operation.
pub trait RestEncode {
    fn encode_rest(&self, meta: &RestMeta, out: &mut RestOut);
}

/// Operations without an output shape answer with an empty body.
impl RestEncode for () {
    fn encode_rest(&self, _meta: &RestMeta, _out: &mut RestOut) {}
}

/// A successful response: `status` is the operation's `http.responseCode`, which a
/// `statusCode` member of the output may override.
pub fn respond<T: RestEncode + ?Sized>(
    meta: &RestMeta,
    out: &T,
    status: u16,
    request_id: &str,
) -> AwsResponse {
    let mut o = RestOut::new(StatusCode::from_u16(status).unwrap_or(StatusCode::OK));
    out.encode_rest(meta, &mut o);
    o.finish(request_id)
}

// ---------------------------------------------------------------- errors

/// How a modeled error is put on the wire.
#[derive(Debug, Clone, Copy)]
pub struct ErrorSpec {
    pub code: &'static str,
    /// The key of the message member in the body (`message` or `Message`, per model).
    pub message_key: &'static str,
    /// `(member, header)`: members sent as headers (`retryAfterSeconds` → `Retry-After`).
    pub headers: &'static [(&'static str, &'static str)],
}

/// Encodes an error the restJson way: status from the error, `x-amzn-ErrorType: <Code>`,
/// and a JSON body `{"Type":"User"|"Service","message":"..."}` plus the extra members
/// (`err.extra`). For a modeled error the message key is the model's spelling and
/// members the model binds to headers are sent as headers. `Type` is only added for
/// modeled errors (they all declare it) and when `err.extra` does not set it.
pub fn error_response(specs: &[ErrorSpec], err: &AwsError, request_id: &str) -> AwsResponse {
    let spec = specs.iter().find(|s| s.code == err.code);
    let mut out = RestOut::new(err.status);
    let mut w = JsonWriter::with_capacity(128);
    w.begin_object();
    if spec.is_some() && !err.extra.contains_key("Type") {
        w.key("Type");
        w.string(if err.sender_fault { "User" } else { "Service" });
    }
    let message_key = spec.map_or("message", |s| s.message_key);
    if !err.message.is_empty() || spec.is_some() {
        w.key(message_key);
        w.string(&err.message);
    }
    for (k, v) in &err.extra {
        // Keyed by member name (`retryAfterSeconds`) or by header (`Retry-After`, what
        // the encoded error shape carries).
        let header = spec.and_then(|s| {
            s.headers
                .iter()
                .find(|(m, h)| m == k || h.eq_ignore_ascii_case(k))
        });
        match (header, v) {
            (Some((_, h)), Value::String(s)) => out.header(h, s),
            (Some((_, h)), other) => out.header(h, &other.to_string()),
            (None, _) if k == message_key => {}
            (None, v) => {
                w.key(k);
                w.value(v);
            }
        }
    }
    w.end_object();
    out.body = Some((Bytes::from(w.into_bytes()), "application/json"));
    if let Ok(v) = HeaderValue::from_str(&err.code) {
        out.headers
            .insert(HeaderName::from_static("x-amzn-errortype"), v);
    }
    out.finish(request_id)
}

/// Moves the members of an encoded error structure into an [`AwsError`]: the message
/// member becomes the message, the rest become extras (used by the generated
/// `From<ErrorShape> for AwsError`).
pub fn error_from_shape<T: JsonEncode + ?Sized>(mut base: AwsError, shape: &T) -> AwsError {
    if let Value::Object(map) = super::json::to_value(shape) {
        for (k, v) in map {
            if k.eq_ignore_ascii_case("message") {
                if let Value::String(s) = v {
                    base.message = s;
                }
            } else {
                base.extra.insert(k, v);
            }
        }
    }
    base
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use http::Method;

    static ROUTES: &[Route] = &[
        Route {
            method: "GET",
            segments: &[Seg::Lit("2018-10-31"), Seg::Lit("layers")],
            query: &[("find", Some("LayerVersion"))],
            op: 0,
        },
        Route {
            method: "GET",
            segments: &[Seg::Lit("2018-10-31"), Seg::Lit("layers")],
            query: &[],
            op: 1,
        },
        Route {
            method: "POST",
            segments: &[
                Seg::Lit("2015-03-31"),
                Seg::Lit("functions"),
                Seg::Label("FunctionName"),
                Seg::Lit("invocations"),
            ],
            query: &[],
            op: 2,
        },
        Route {
            method: "GET",
            segments: &[Seg::Lit("objects"), Seg::Greedy("Key")],
            query: &[],
            op: 3,
        },
    ];

    fn req(method: Method, path: &str, query: &str) -> AwsRequest {
        AwsRequest {
            method,
            path: path.into(),
            query: query.into(),
            headers: HeaderMap::new(),
            body: Bytes::new(),
        }
    }

    #[test]
    fn routes_match_literals_labels_and_query_literals() {
        let m = match_route(
            ROUTES,
            &req(Method::GET, "/2018-10-31/layers", "find=LayerVersion&Arn=x"),
        );
        assert_eq!(m.unwrap().op, 0);
        let m = match_route(ROUTES, &req(Method::GET, "/2018-10-31/layers", ""));
        assert_eq!(m.unwrap().op, 1);
        let m = match_route(
            ROUTES,
            &req(
                Method::POST,
                "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A1%3Afunction%3Af/invocations",
                "",
            ),
        )
        .unwrap();
        assert_eq!(m.op, 2);
        assert_eq!(
            m.labels,
            vec![(
                "FunctionName",
                "arn:aws:lambda:us-east-1:1:function:f".to_string()
            )]
        );
        let m = match_route(ROUTES, &req(Method::GET, "/objects/a/b%20c", "")).unwrap();
        assert_eq!(m.labels, vec![("Key", "a/b c".to_string())]);
        assert!(match_route(ROUTES, &req(Method::GET, "/objects/", "")).is_none());
        assert!(match_route(
            ROUTES,
            &req(Method::GET, "/2015-03-31/functions/f/invocations", "")
        )
        .is_none());
        assert!(match_route(
            ROUTES,
            &req(Method::POST, "/2015-03-31/functions//invocations", "")
        )
        .is_none());
        assert!(match_route(
            ROUTES,
            &req(Method::POST, "/2015-03-31/functions/f/invocations/x", "")
        )
        .is_none());
    }

    #[test]
    fn text_inputs_parse_to_member_types() {
        assert_eq!(TextInput::One("42".into()).integer().unwrap(), 42);
        assert!(TextInput::One("4x".into()).integer().is_err());
        assert!(TextInput::One("TRUE".into()).boolean().unwrap());
        assert_eq!(
            TextInput::One("Sun, 06 Nov 1994 08:49:37 GMT".into())
                .timestamp()
                .unwrap(),
            784_111_777.0
        );
        assert_eq!(
            TextInput::One("1994-11-06T08:49:37Z".into())
                .timestamp()
                .unwrap(),
            784_111_777.0
        );
        let items: Vec<String> = TextInput::Many(vec!["a".into(), "b".into()])
            .list(Pos::Member, false)
            .unwrap()
            .map(|x| x.string().unwrap())
            .collect();
        assert_eq!(items, ["a", "b"]);
    }

    #[test]
    fn errors_carry_type_header_and_extras() {
        static SPECS: &[ErrorSpec] = &[
            ErrorSpec {
                code: "ResourceNotFoundException",
                message_key: "Message",
                headers: &[],
            },
            ErrorSpec {
                code: "TooManyRequestsException",
                message_key: "message",
                headers: &[("retryAfterSeconds", "Retry-After")],
            },
        ];
        let e = AwsError::new(
            StatusCode::NOT_FOUND,
            "ResourceNotFoundException",
            "Function not found: x",
        );
        let r = error_response(SPECS, &e, "rid");
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        assert_eq!(r.headers["x-amzn-errortype"], "ResourceNotFoundException");
        assert_eq!(r.headers["x-amzn-requestid"], "rid");
        assert_eq!(
            std::str::from_utf8(&r.body).unwrap(),
            r#"{"Type":"User","Message":"Function not found: x"}"#
        );
        let e = AwsError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "TooManyRequestsException",
            "Rate exceeded",
        )
        .with_extra(
            "Reason",
            Value::String("ReservedFunctionConcurrentInvocationLimitExceeded".into()),
        )
        .with_extra("retryAfterSeconds", Value::String("1".into()));
        let r = error_response(SPECS, &e, "rid");
        assert_eq!(r.headers["retry-after"], "1");
        assert_eq!(
            std::str::from_utf8(&r.body).unwrap(),
            r#"{"Type":"User","message":"Rate exceeded","Reason":"ReservedFunctionConcurrentInvocationLimitExceeded"}"#
        );
        let r = error_response(
            SPECS,
            &validation_error("1 validation error detected: x".into()),
            "rid",
        );
        assert_eq!(
            std::str::from_utf8(&r.body).unwrap(),
            r#"{"message":"1 validation error detected: x"}"#
        );
    }
}
