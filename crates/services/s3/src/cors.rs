//! CORS: answers OPTIONS preflights from the bucket's CORS rules and decorates ordinary
//! responses whose `Origin` matches a rule. The first matching rule wins, as in S3.

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Response, StatusCode};
use s3s::dto::{CORSConfiguration, CORSRule};

use crate::bucket_config::{load, KIND_CORS};
use crate::write;
use crate::S3State;

const NOT_ALLOWED: &str = "This CORS request is not allowed. This is usually because the evalution of Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the resource's CORS spec.";

/// `pattern` (with at most one `*`) against `value`; case-insensitive when `fold`.
pub fn wildcard_match(pattern: &str, value: &str, fold: bool) -> bool {
    let (p, v) = if fold {
        (pattern.to_ascii_lowercase(), value.to_ascii_lowercase())
    } else {
        (pattern.to_string(), value.to_string())
    };
    match p.split_once('*') {
        None => p == v,
        Some((pre, suf)) => {
            v.len() >= pre.len() + suf.len() && v.starts_with(pre) && v.ends_with(suf)
        }
    }
}

fn origin_allowed(rule: &CORSRule, origin: &str) -> Option<bool> {
    // Some(true): matched by a bare `*` (answered with `*`).
    rule.allowed_origins
        .iter()
        .find(|o| wildcard_match(o, origin, false))
        .map(|o| o == "*")
}

fn method_allowed(rule: &CORSRule, method: &str) -> bool {
    rule.allowed_methods.iter().any(|m| m == method)
}

fn headers_allowed(rule: &CORSRule, requested: &[String]) -> bool {
    requested.iter().all(|h| {
        rule.allowed_headers
            .iter()
            .flatten()
            .any(|a| wildcard_match(a, h, true))
    })
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn insert(h: &mut HeaderMap, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        h.insert(name, v);
    }
}

/// The headers of a matched rule.
fn rule_headers(rule: &CORSRule, origin: &str, star: bool) -> HeaderMap {
    let mut h = HeaderMap::new();
    if star {
        insert(&mut h, "access-control-allow-origin", "*");
    } else {
        insert(&mut h, "access-control-allow-origin", origin);
        insert(&mut h, "access-control-allow-credentials", "true");
    }
    insert(
        &mut h,
        "access-control-allow-methods",
        &rule.allowed_methods.join(", "),
    );
    if let Some(e) = rule.expose_headers.as_ref().filter(|e| !e.is_empty()) {
        insert(&mut h, "access-control-expose-headers", &e.join(", "));
    }
    if let Some(age) = rule.max_age_seconds {
        insert(&mut h, "access-control-max-age", &age.to_string());
    }
    insert(
        &mut h,
        "vary",
        "Origin, Access-Control-Request-Headers, Access-Control-Request-Method",
    );
    h
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn error_response(
    status: StatusCode,
    code: &str,
    message: &str,
    extra: &str,
) -> Response<s3s::Body> {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{}</Code><Message>{}</Message>{extra}<RequestId>{}</RequestId></Error>",
        xml_escape(code),
        xml_escape(message),
        uuid::Uuid::new_v4().simple()
    );
    let mut r = Response::new(s3s::Body::from(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut()
        .insert("content-type", HeaderValue::from_static("application/xml"));
    r
}

fn load_cors(state: &S3State, bucket: &str) -> Result<Option<Option<CORSConfiguration>>, ()> {
    let snap = state.db.snapshot().map_err(|_| ())?;
    let Some(_) = write::load_bucket(snap.as_ref(), bucket).map_err(|_| ())? else {
        return Ok(None);
    };
    load(snap.as_ref(), bucket, KIND_CORS)
        .map(Some)
        .map_err(|_| ())
}

/// Answers an OPTIONS preflight for `bucket` from its CORS rules.
pub async fn preflight(state: &S3State, bucket: &str, headers: &HeaderMap) -> Response<s3s::Body> {
    let Some(origin) = header_str(headers, "origin") else {
        return error_response(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "Insufficient information. Origin request header needed.",
            "",
        );
    };
    let Some(method) = header_str(headers, "access-control-request-method") else {
        return error_response(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "Invalid Access-Control-Request-Method: null",
            "",
        );
    };
    let requested: Vec<String> = header_str(headers, "access-control-request-headers")
        .unwrap_or("")
        .split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    let conf = match load_cors(state, bucket) {
        Err(()) => {
            return error_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalError",
                "We encountered an internal error. Please try again.",
                "",
            )
        }
        Ok(None) => {
            return error_response(
                StatusCode::NOT_FOUND,
                "NoSuchBucket",
                "The specified bucket does not exist",
                &format!("<BucketName>{}</BucketName>", xml_escape(bucket)),
            )
        }
        Ok(Some(None)) => {
            return error_response(
                StatusCode::FORBIDDEN,
                "CORSResponse",
                "CORS is not enabled for this bucket.",
                "<Method>OPTIONS</Method><ResourceType>BUCKET</ResourceType>",
            )
        }
        Ok(Some(Some(c))) => c,
    };
    for rule in &conf.cors_rules {
        let Some(star) = origin_allowed(rule, origin) else {
            continue;
        };
        if !method_allowed(rule, method) || !headers_allowed(rule, &requested) {
            continue;
        }
        let mut h = rule_headers(rule, origin, star);
        if !requested.is_empty() {
            insert(
                &mut h,
                "access-control-allow-headers",
                &requested
                    .iter()
                    .map(|s| s.to_ascii_lowercase())
                    .collect::<Vec<_>>()
                    .join(", "),
            );
        }
        let mut r = Response::new(s3s::Body::empty());
        *r.status_mut() = StatusCode::OK;
        r.headers_mut().extend(h);
        return r;
    }
    error_response(
        StatusCode::FORBIDDEN,
        "CORSResponse",
        NOT_ALLOWED,
        "<Method>OPTIONS</Method><ResourceType>OBJECT</ResourceType>",
    )
}

/// The CORS headers to add to an ordinary response for `bucket`, when the request's
/// `Origin` matches one of its rules.
pub async fn response_headers(
    state: &S3State,
    bucket: &str,
    method: &Method,
    headers: &HeaderMap,
) -> Option<HeaderMap> {
    let origin = header_str(headers, "origin")?;
    let conf = load_cors(state, bucket).ok()??.or(None)?;
    conf.cors_rules.iter().find_map(|rule| {
        let star = origin_allowed(rule, origin)?;
        method_allowed(rule, method.as_str()).then(|| rule_headers(rule, origin, star))
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::bucket_config::put_raw;
    use crate::error::{encode, Error};
    use crate::keys;
    use crate::meta::BucketMeta;
    use nimbus_core::ManualClock;
    use std::sync::Arc;

    #[test]
    fn wildcards() {
        assert!(wildcard_match("*", "http://x", false));
        assert!(wildcard_match(
            "http://*.example.com",
            "http://a.example.com",
            false
        ));
        assert!(!wildcard_match(
            "http://*.example.com",
            "http://example.org",
            false
        ));
        assert!(wildcard_match("x-amz-*", "X-Amz-Date", true));
        assert!(!wildcard_match("ab*ba", "aba", false));
    }

    fn state_with(conf: Option<CORSConfiguration>) -> Arc<S3State> {
        let state = S3State::for_tests(Arc::new(ManualClock::new(0)));
        state
            .db
            .write_blocking(move |t| -> Result<(), Error> {
                let b = BucketMeta {
                    name: "bk".into(),
                    account_id: "000000000000".into(),
                    region: "us-east-1".into(),
                    created_ms: 0,
                    versioning: None,
                    mfa_delete: None,
                    object_lock_enabled: false,
                    ownership: None,
                    acl: None,
                    tags: vec![],
                };
                t.put(&keys::bucket("bk"), &encode(&b))?;
                if let Some(c) = &conf {
                    put_raw(t, "bk", KIND_CORS, c)?;
                }
                Ok(())
            })
            .unwrap();
        state
    }

    fn conf() -> CORSConfiguration {
        CORSConfiguration {
            cors_rules: vec![CORSRule {
                allowed_headers: Some(vec!["x-amz-*".into(), "content-type".into()]),
                allowed_methods: vec!["GET".into(), "PUT".into()],
                allowed_origins: vec!["https://*.example.com".into()],
                expose_headers: Some(vec!["ETag".into()]),
                id: None,
                max_age_seconds: Some(600),
            }],
        }
    }

    fn req(origin: &str, method: &str, hdrs: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("origin", HeaderValue::from_str(origin).unwrap());
        h.insert(
            "access-control-request-method",
            HeaderValue::from_str(method).unwrap(),
        );
        if let Some(x) = hdrs {
            h.insert(
                "access-control-request-headers",
                HeaderValue::from_str(x).unwrap(),
            );
        }
        h
    }

    #[tokio::test]
    async fn preflight_matches_rules() {
        let state = state_with(Some(conf()));
        let r = preflight(
            &state,
            "bk",
            &req(
                "https://app.example.com",
                "PUT",
                Some("Content-Type, X-Amz-Date"),
            ),
        )
        .await;
        assert_eq!(r.status(), StatusCode::OK);
        let h = r.headers();
        assert_eq!(h["access-control-allow-origin"], "https://app.example.com");
        assert_eq!(h["access-control-allow-methods"], "GET, PUT");
        assert_eq!(
            h["access-control-allow-headers"],
            "content-type, x-amz-date"
        );
        assert_eq!(h["access-control-max-age"], "600");
        assert_eq!(h["access-control-expose-headers"], "ETag");
        // Wrong method, origin or header: 403.
        for hm in [
            req("https://app.example.com", "DELETE", None),
            req("https://evil.org", "GET", None),
            req("https://app.example.com", "GET", Some("authorization")),
        ] {
            let r = preflight(&state, "bk", &hm).await;
            assert_eq!(r.status(), StatusCode::FORBIDDEN);
        }
    }

    #[tokio::test]
    async fn preflight_without_config_or_bucket() {
        let state = state_with(None);
        let r = preflight(&state, "bk", &req("https://a", "GET", None)).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        let r = preflight(&state, "nope", &req("https://a", "GET", None)).await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        let r = preflight(&state, "bk", &HeaderMap::new()).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    }

    #[tokio::test]
    async fn response_headers_for_matching_origin() {
        let state = state_with(Some(conf()));
        let mut h = HeaderMap::new();
        h.insert("origin", HeaderValue::from_static("https://a.example.com"));
        let out = response_headers(&state, "bk", &Method::GET, &h)
            .await
            .unwrap();
        assert_eq!(out["access-control-allow-origin"], "https://a.example.com");
        assert!(response_headers(&state, "bk", &Method::DELETE, &h)
            .await
            .is_none());
        assert!(
            response_headers(&state, "bk", &Method::GET, &HeaderMap::new())
                .await
                .is_none()
        );
    }
}
