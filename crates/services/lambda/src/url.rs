//! Function URLs: an HTTP request to `<url-id>` becomes AWS's payload-format-2.0 event,
//! the function's result becomes the HTTP response by AWS's rules (a JSON object with
//! `statusCode` is taken apart; anything else is a 200 `application/json` body).
//! AuthType `AWS_IAM` needs a SigV4-verified caller; `NONE` needs a resource policy that
//! lets `*` call `lambda:InvokeFunctionUrl`, as AWS enforces. CORS preflights are
//! answered here without invoking the function.

use base64::Engine as _;
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use nimbus_core::{Principal, PrincipalKind, RequestContext};
use nimbus_wire::{AwsRequest, AwsResponse};

use crate::records::{CorsRec, UrlConfigRecord};
use crate::service::Lambda;
use crate::time::clf_time;

/// Who calls a function URL, as the gateway established it.
#[derive(Debug, Clone)]
pub struct UrlCaller {
    pub source_ip: String,
    /// The SigV4-verified signer, `None` for unsigned requests.
    pub principal: Option<Principal>,
    /// The request id the gateway assigned.
    pub request_id: String,
}

fn json_response(status: StatusCode, body: &str, request_id: &str) -> AwsResponse {
    let mut headers = HeaderMap::new();
    headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Ok(v) = HeaderValue::from_str(request_id) {
        headers.insert("x-amzn-requestid", v);
    }
    AwsResponse {
        status,
        headers,
        body: Bytes::from(body.to_string()),
    }
}

fn forbidden(rid: &str) -> AwsResponse {
    json_response(StatusCode::FORBIDDEN, r#"{"Message":"Forbidden"}"#, rid)
}

/// Handles one request to a function URL. `req.path` is the path below the URL's root
/// (`/` for the root itself), `req.query` the raw query string.
pub async fn handle(
    lambda: &Lambda,
    url_id: &str,
    req: AwsRequest,
    caller: UrlCaller,
) -> AwsResponse {
    let rid = caller.request_id.clone();
    let (idx, cfg) = match lambda.url_lookup(url_id) {
        Ok(Some(v)) => v,
        Ok(None) => return forbidden(&rid),
        Err(_) => {
            return json_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                r#"{"Message":"Internal Server Error"}"#,
                &rid,
            )
        }
    };
    let origin = header_str(&req.headers, "origin");
    // CORS preflight: answered by Lambda, never reaching the function.
    if req.method == Method::OPTIONS
        && cfg.cors.is_some()
        && req.headers.contains_key("access-control-request-method")
    {
        let mut resp = json_response(StatusCode::OK, "", &rid);
        resp.body = Bytes::new();
        if let Some(c) = &cfg.cors {
            add_cors(&mut resp.headers, c, origin.as_deref(), true);
        }
        return resp;
    }
    match cfg.auth_type.as_str() {
        "AWS_IAM" if caller.principal.is_none() => return forbidden(&rid),
        "NONE"
            if !public_invoke_allowed(
                lambda,
                &idx.account_id,
                &idx.region,
                &idx.function,
                idx.qualifier.as_deref(),
            ) =>
        {
            return forbidden(&rid)
        }
        _ => {}
    }
    let now = lambda.now_ms();
    let event = build_event(url_id, &req, &caller, &cfg, &idx.account_id, now);
    let ctx = RequestContext {
        account_id: idx.account_id.clone(),
        region: idx.region.clone(),
        principal: caller
            .principal
            .clone()
            .unwrap_or_else(|| Principal::root(&idx.account_id, "anonymous")),
        request_id: rid.clone(),
    };
    let resolved = match lambda.resolve_for_invoke(&ctx, &idx.function, idx.qualifier.as_deref()) {
        Ok(r) => r,
        Err(_) => return forbidden(&rid),
    };
    let outcome = lambda
        .run(
            &resolved,
            rid.clone(),
            Bytes::from(event.to_string()),
            false,
            None,
        )
        .await;
    let mut resp = match outcome {
        Err(nimbus_functions::InvokeError::Throttled { .. }) => json_response(
            StatusCode::TOO_MANY_REQUESTS,
            r#"{"Message":"Rate Exceeded."}"#,
            &rid,
        ),
        Err(_) => json_response(
            StatusCode::BAD_GATEWAY,
            r#"{"Message":"Internal Server Error"}"#,
            &rid,
        ),
        Ok(o) if o.function_error.is_some() => json_response(
            StatusCode::BAD_GATEWAY,
            r#"{"Message":"Internal Server Error"}"#,
            &rid,
        ),
        Ok(o) => function_response(&o.payload, &rid),
    };
    if let Some(c) = &cfg.cors {
        add_cors(&mut resp.headers, c, origin.as_deref(), false);
    }
    resp
}

fn header_str(h: &HeaderMap, name: &str) -> Option<String> {
    h.get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// NONE auth: a statement must let everyone invoke the URL.
fn public_invoke_allowed(
    lambda: &Lambda,
    account: &str,
    region: &str,
    function: &str,
    qualifier: Option<&str>,
) -> bool {
    let Ok(stmts) = lambda.policy_statements(account, region, function, qualifier) else {
        return false;
    };
    stmts.iter().any(|s| {
        let action = s["Action"].as_str().unwrap_or_default();
        let principal_all = s["Principal"] == "*" || s["Principal"]["AWS"] == "*";
        s["Effect"] == "Allow"
            && principal_all
            && matches!(action, "lambda:InvokeFunctionUrl" | "lambda:*" | "*")
    })
}

fn origin_allowed(c: &CorsRec, origin: &str) -> Option<String> {
    if c.allow_origins.iter().any(|o| o == "*") {
        return Some(if c.allow_credentials == Some(true) {
            origin.to_string()
        } else {
            "*".to_string()
        });
    }
    c.allow_origins
        .iter()
        .any(|o| o.eq_ignore_ascii_case(origin))
        .then(|| origin.to_string())
}

fn add_cors(h: &mut HeaderMap, c: &CorsRec, origin: Option<&str>, preflight: bool) {
    let Some(origin) = origin else { return };
    let Some(allowed) = origin_allowed(c, origin) else {
        return;
    };
    let mut set = |name: &'static str, value: String| {
        if let Ok(v) = HeaderValue::from_str(&value) {
            h.insert(HeaderName::from_static(name), v);
        }
    };
    set("access-control-allow-origin", allowed);
    if c.allow_credentials == Some(true) {
        set("access-control-allow-credentials", "true".into());
    }
    if preflight {
        if !c.allow_methods.is_empty() {
            set("access-control-allow-methods", c.allow_methods.join(","));
        }
        if !c.allow_headers.is_empty() {
            set("access-control-allow-headers", c.allow_headers.join(","));
        }
        if let Some(age) = c.max_age {
            set("access-control-max-age", age.to_string());
        }
    } else if !c.expose_headers.is_empty() {
        set("access-control-expose-headers", c.expose_headers.join(","));
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes.get(i) {
            Some(b'+') => {
                out.push(b' ');
                i += 1;
            }
            Some(b'%') => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok());
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 3;
                    }
                    None => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            Some(b) => {
                out.push(*b);
                i += 1;
            }
            None => break,
        }
    }
    String::from_utf8_lossy(&out).to_string()
}

/// AWS's function URL event (payload format 2.0).
fn build_event(
    url_id: &str,
    req: &AwsRequest,
    caller: &UrlCaller,
    cfg: &UrlConfigRecord,
    account: &str,
    now_ms: i64,
) -> serde_json::Value {
    let mut headers = serde_json::Map::new();
    let mut cookies: Vec<String> = Vec::new();
    for name in req.headers.keys() {
        let values: Vec<String> = req
            .headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(str::to_string)
            .collect();
        if name.as_str() == "cookie" {
            for v in &values {
                cookies.extend(
                    v.split(';')
                        .map(|c| c.trim().to_string())
                        .filter(|c| !c.is_empty()),
                );
            }
            continue;
        }
        headers.insert(
            name.as_str().to_string(),
            serde_json::json!(values.join(",")),
        );
    }
    let mut query = serde_json::Map::new();
    for pair in req.query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let (k, v) = (percent_decode(k), percent_decode(v));
        match query.get_mut(&k) {
            Some(serde_json::Value::String(existing)) => {
                existing.push(',');
                existing.push_str(&v);
            }
            _ => {
                query.insert(k, serde_json::json!(v));
            }
        }
    }
    let (body, is_b64) = match std::str::from_utf8(&req.body) {
        Ok(s) => (s.to_string(), false),
        Err(_) => (
            base64::engine::general_purpose::STANDARD.encode(&req.body),
            true,
        ),
    };
    let host = header_str(&req.headers, "host").unwrap_or_default();
    let authorizer = match (&caller.principal, cfg.auth_type.as_str()) {
        (Some(p), "AWS_IAM") => serde_json::json!({
            "iam": {
                "accessKey": p.access_key_id,
                "accountId": p.account_id,
                "callerId": p.user_id(),
                "cognitoIdentity": null,
                "principalOrgId": null,
                "userArn": p.arn(),
                "userId": match &p.kind {
                    PrincipalKind::User { user_id, .. } => user_id.clone(),
                    _ => p.user_id(),
                },
            }
        }),
        _ => serde_json::Value::Null,
    };
    let mut request_context = serde_json::json!({
        "accountId": if cfg.auth_type == "AWS_IAM" { account.to_string() } else { "anonymous".to_string() },
        "apiId": url_id,
        "domainName": host,
        "domainPrefix": url_id,
        "http": {
            "method": req.method.as_str(),
            "path": req.path,
            "protocol": "HTTP/1.1",
            "sourceIp": caller.source_ip,
            "userAgent": header_str(&req.headers, "user-agent").unwrap_or_default(),
        },
        "requestId": caller.request_id,
        "routeKey": "$default",
        "stage": "$default",
        "time": clf_time(now_ms),
        "timeEpoch": now_ms,
    });
    if !authorizer.is_null() {
        if let Some(o) = request_context.as_object_mut() {
            o.insert("authorizer".into(), authorizer);
        }
    }
    let mut event = serde_json::json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": req.path,
        "rawQueryString": req.query,
        "headers": headers,
        "requestContext": request_context,
        "isBase64Encoded": is_b64,
    });
    if let Some(o) = event.as_object_mut() {
        if !cookies.is_empty() {
            o.insert("cookies".into(), serde_json::json!(cookies));
        }
        if !query.is_empty() {
            o.insert(
                "queryStringParameters".into(),
                serde_json::Value::Object(query),
            );
        }
        if !req.body.is_empty() {
            o.insert("body".into(), serde_json::json!(body));
        }
    }
    event
}

/// The HTTP response for a function's result, by AWS's rules.
fn function_response(payload: &[u8], rid: &str) -> AwsResponse {
    let value: Option<serde_json::Value> = serde_json::from_slice(payload).ok();
    let structured = value
        .as_ref()
        .and_then(|v| v.as_object())
        .filter(|o| o.contains_key("statusCode"));
    let Some(o) = structured else {
        // Not a response object: the result itself is the JSON body.
        let body = match &value {
            Some(serde_json::Value::String(s)) => s.clone(),
            _ => String::from_utf8_lossy(payload).to_string(),
        };
        return json_response(StatusCode::OK, &body, rid);
    };
    let status = o
        .get("statusCode")
        .and_then(|s| {
            s.as_u64()
                .or_else(|| s.as_str().and_then(|t| t.parse().ok()))
        })
        .and_then(|s| u16::try_from(s).ok())
        .and_then(|s| StatusCode::from_u16(s).ok());
    let Some(status) = status else {
        return json_response(
            StatusCode::BAD_GATEWAY,
            r#"{"Message":"Internal Server Error"}"#,
            rid,
        );
    };
    let mut headers = HeaderMap::new();
    if let Some(h) = o.get("headers").and_then(|h| h.as_object()) {
        for (k, v) in h {
            let value = match v {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            if let (Ok(n), Ok(v)) = (
                HeaderName::from_bytes(k.as_bytes()),
                HeaderValue::from_str(&value),
            ) {
                headers.insert(n, v);
            }
        }
    }
    if let Some(c) = o.get("cookies").and_then(|c| c.as_array()) {
        for cookie in c.iter().filter_map(|c| c.as_str()) {
            if let Ok(v) = HeaderValue::from_str(cookie) {
                headers.append(http::header::SET_COOKIE, v);
            }
        }
    }
    if !headers.contains_key(http::header::CONTENT_TYPE) {
        headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
    }
    if let Ok(v) = HeaderValue::from_str(rid) {
        headers.insert("x-amzn-requestid", v);
    }
    let body = match o.get("body") {
        None | Some(serde_json::Value::Null) => Bytes::new(),
        Some(serde_json::Value::String(s)) => {
            if o.get("isBase64Encoded").and_then(|b| b.as_bool()) == Some(true) {
                match base64::engine::general_purpose::STANDARD.decode(s) {
                    Ok(b) => Bytes::from(b),
                    Err(_) => {
                        return json_response(
                            StatusCode::BAD_GATEWAY,
                            r#"{"Message":"Internal Server Error"}"#,
                            rid,
                        )
                    }
                }
            } else {
                Bytes::from(s.clone())
            }
        }
        Some(other) => Bytes::from(other.to_string()),
    };
    AwsResponse {
        status,
        headers,
        body,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn req(method: Method, path: &str, query: &str, body: &[u8]) -> AwsRequest {
        let mut headers = HeaderMap::new();
        headers.insert(
            "host",
            HeaderValue::from_static("abc.lambda-url.us-east-1.localhost"),
        );
        headers.insert("cookie", HeaderValue::from_static("a=1; b=2"));
        headers.append("x-multi", HeaderValue::from_static("one"));
        headers.append("x-multi", HeaderValue::from_static("two"));
        AwsRequest {
            method,
            path: path.to_string(),
            query: query.to_string(),
            headers,
            body: Bytes::copy_from_slice(body),
        }
    }

    #[test]
    fn event_has_the_2_0_shape() {
        let cfg = UrlConfigRecord {
            url_id: "abc".into(),
            qualifier: None,
            auth_type: "NONE".into(),
            cors: None,
            invoke_mode: "BUFFERED".into(),
            created_ms: 0,
            modified_ms: 0,
        };
        let caller = UrlCaller {
            source_ip: "127.0.0.1".into(),
            principal: None,
            request_id: "rid".into(),
        };
        let e = build_event(
            "abc",
            &req(Method::POST, "/p/q", "a=1&a=2&b=x%20y", b"hi"),
            &caller,
            &cfg,
            "000000000000",
            1_584_039_838_000,
        );
        assert_eq!(e["version"], "2.0");
        assert_eq!(e["rawPath"], "/p/q");
        assert_eq!(e["queryStringParameters"]["a"], "1,2");
        assert_eq!(e["queryStringParameters"]["b"], "x y");
        assert_eq!(e["cookies"], serde_json::json!(["a=1", "b=2"]));
        assert_eq!(e["headers"]["x-multi"], "one,two");
        assert_eq!(e["body"], "hi");
        assert_eq!(e["isBase64Encoded"], false);
        assert_eq!(e["requestContext"]["http"]["method"], "POST");
        assert_eq!(e["requestContext"]["accountId"], "anonymous");
        assert_eq!(e["requestContext"]["time"], "12/Mar/2020:19:03:58 +0000");
    }

    #[test]
    fn response_rules() {
        let r = function_response(
            br#"{"statusCode":201,"headers":{"x-a":"b"},"body":"made","cookies":["c=1"]}"#,
            "rid",
        );
        assert_eq!(r.status, StatusCode::CREATED);
        assert_eq!(r.body, Bytes::from_static(b"made"));
        assert_eq!(
            r.headers.get("x-a").and_then(|v| v.to_str().ok()),
            Some("b")
        );
        assert_eq!(
            r.headers.get("set-cookie").and_then(|v| v.to_str().ok()),
            Some("c=1")
        );
        let r = function_response(br#"{"hello":"world"}"#, "rid");
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.body, Bytes::from_static(br#"{"hello":"world"}"#));
        assert_eq!(
            r.headers.get("content-type").and_then(|v| v.to_str().ok()),
            Some("application/json")
        );
        let r = function_response(
            br#"{"statusCode":200,"body":"aGk=","isBase64Encoded":true}"#,
            "rid",
        );
        assert_eq!(r.body, Bytes::from_static(b"hi"));
    }
}
