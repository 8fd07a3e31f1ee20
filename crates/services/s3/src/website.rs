//! The website endpoint (`{bucket}.s3-website.{base}` and the regional forms): GET/HEAD
//! of objects with index documents, error documents, redirect-all and routing rules, and
//! S3's HTML error pages. Objects are served whatever their ACL (a local endpoint has no
//! anonymous internet to protect against; documented in docs/compatibility.md).

use http::{HeaderMap, HeaderValue, Method, Response, StatusCode};
use s3s::dto::{RoutingRule, WebsiteConfiguration};

use crate::bucket_config::{load, KIND_WEBSITE};
use crate::meta::ObjectVersion;
use crate::write;
use crate::S3State;

/// The bucket of a website-endpoint host (`{bucket}.s3-website.{base}`,
/// `{bucket}.s3-website-{region}.{base}`, `{bucket}.s3-website.{region}.{base}`); `host`
/// has no port.
pub fn website_bucket<'a>(host: &'a str, bases: &[String]) -> Option<&'a str> {
    const MARK: &str = ".s3-website";
    for base in bases {
        let Some(head) = host
            .strip_suffix(base.as_str())
            .and_then(|h| h.strip_suffix('.'))
        else {
            continue;
        };
        let Some(i) = head.rfind(MARK) else {
            continue;
        };
        let (bucket, rest) = (head.get(..i)?, head.get(i + MARK.len()..)?);
        let rest_ok = rest.is_empty()
            || ((rest.starts_with('-') || rest.starts_with('.'))
                && rest.len() > 1
                && !rest.get(1..).is_some_and(|r| r.contains('.')));
        if !bucket.is_empty() && rest_ok {
            return Some(bucket);
        }
    }
    None
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Percent-decodes a URL path (invalid escapes are kept as they are).
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let c = b.get(i).copied().unwrap_or(0);
        if c == b'%' {
            let hex = b
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok());
            if let Some(v) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(c);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Percent-encodes a key for a Location header (keeps `/`).
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for &c in s.as_bytes() {
        if c.is_ascii_alphanumeric() || b"-_.~/".contains(&c) {
            out.push(char::from(c));
        } else {
            out.push_str(&format!("%{c:02X}"));
        }
    }
    out
}

fn status_text(status: StatusCode) -> String {
    format!(
        "{} {}",
        status.as_u16(),
        status.canonical_reason().unwrap_or("Error")
    )
}

/// S3's website HTML error page.
fn error_page(status: StatusCode, method: &Method, items: &[(&str, &str)]) -> Response<s3s::Body> {
    let title = status_text(status);
    let mut list = String::new();
    for (k, v) in items {
        list.push_str(&format!("<li>{}: {}</li>\n", k, html_escape(v)));
    }
    let request_id = uuid::Uuid::new_v4().simple().to_string();
    list.push_str(&format!("<li>RequestId: {request_id}</li>\n"));
    let body = format!(
        "<html>\n<head><title>{title}</title></head>\n<body>\n<h1>{title}</h1>\n<ul>\n{list}</ul>\n<hr/>\n</body>\n</html>\n"
    );
    let len = body.len();
    let mut r = if *method == Method::HEAD {
        Response::new(s3s::Body::empty())
    } else {
        Response::new(s3s::Body::from(body))
    };
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(
        "content-type",
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    if let Ok(v) = HeaderValue::from_str(&len.to_string()) {
        h.insert("content-length", v);
    }
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        h.insert("x-amz-request-id", v);
    }
    r
}

fn redirect(status: StatusCode, location: &str) -> Response<s3s::Body> {
    let mut r = Response::new(s3s::Body::empty());
    *r.status_mut() = status;
    if let Ok(v) = HeaderValue::from_str(location) {
        r.headers_mut().insert("location", v);
    }
    r.headers_mut()
        .insert("content-length", HeaderValue::from_static("0"));
    r
}

/// The request's host (for redirects that keep it).
fn request_host(headers: &HeaderMap) -> String {
    headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost")
        .to_string()
}

/// The first routing rule for `key` (and, for the after-lookup pass, `error_code`).
fn find_rule<'a>(
    conf: &'a WebsiteConfiguration,
    key: &str,
    error_code: Option<u16>,
) -> Option<&'a RoutingRule> {
    conf.routing_rules.iter().flatten().find(|r| {
        let Some(c) = &r.condition else {
            // A rule without a condition applies to every request.
            return error_code.is_none();
        };
        let prefix_ok = c
            .key_prefix_equals
            .as_ref()
            .is_none_or(|p| key.starts_with(p.as_str()));
        let code_ok = match (&c.http_error_code_returned_equals, error_code) {
            (None, None) => true,
            (Some(want), Some(got)) => want.parse::<u16>().ok() == Some(got),
            _ => false,
        };
        prefix_ok && code_ok
    })
}

fn apply_rule(rule: &RoutingRule, key: &str, headers: &HeaderMap) -> Response<s3s::Body> {
    let rd = &rule.redirect;
    let proto = rd.protocol.as_ref().map_or("http", |p| p.as_str());
    let host = rd
        .host_name
        .clone()
        .unwrap_or_else(|| request_host(headers));
    let new_key = if let Some(k) = &rd.replace_key_with {
        k.clone()
    } else if let Some(p) = &rd.replace_key_prefix_with {
        let matched = rule
            .condition
            .as_ref()
            .and_then(|c| c.key_prefix_equals.clone())
            .unwrap_or_default();
        format!("{p}{}", key.get(matched.len()..).unwrap_or(""))
    } else {
        key.to_string()
    };
    let code = rd
        .http_redirect_code
        .as_ref()
        .and_then(|c| c.parse::<u16>().ok())
        .and_then(|c| StatusCode::from_u16(c).ok())
        .unwrap_or(StatusCode::MOVED_PERMANENTLY);
    redirect(
        code,
        &format!("{proto}://{host}/{}", percent_encode(&new_key)),
    )
}

/// The newest version of `key` unless it is missing or a delete marker.
fn lookup(state: &S3State, bucket: &str, key: &str) -> Result<Option<ObjectVersion>, ()> {
    if key.is_empty() {
        return Ok(None);
    }
    let snap = state.db.snapshot().map_err(|_| ())?;
    Ok(write::latest_version(snap.as_ref(), bucket, key)
        .map_err(|_| ())?
        .filter(|v| !v.delete_marker))
}

fn object_response(
    state: &S3State,
    ver: &ObjectVersion,
    method: &Method,
    status: StatusCode,
) -> Response<s3s::Body> {
    let body = if *method == Method::HEAD {
        s3s::Body::empty()
    } else {
        s3s::Body::from(crate::body::read_blobs(state, &ver.blobs, 0, ver.size))
    };
    let mut r = Response::new(body);
    *r.status_mut() = status;
    let h = r.headers_mut();
    let mut set = |name: &'static str, v: &str| {
        if let Ok(v) = HeaderValue::from_str(v) {
            h.insert(name, v);
        }
    };
    set(
        "content-type",
        ver.system
            .get("content-type")
            .map_or("binary/octet-stream", String::as_str),
    );
    set("content-length", &ver.size.to_string());
    set("etag", &ver.etag);
    for name in [
        "cache-control",
        "content-encoding",
        "content-language",
        "content-disposition",
        "expires",
    ] {
        if let Some(v) = ver.system.get(name) {
            if let Ok(v) = HeaderValue::from_str(v) {
                h.insert(name, v);
            }
        }
    }
    let lm = time::OffsetDateTime::from_unix_timestamp_nanos(
        i128::from(ver.last_modified_ms) * 1_000_000,
    )
    .ok()
    .and_then(|t| {
        t.format(&time::format_description::well_known::Rfc2822)
            .ok()
    });
    if let Some(lm) = lm {
        // HTTP dates say GMT; RFC 2822 formatting says +0000.
        if let Ok(v) = HeaderValue::from_str(&lm.replace("+0000", "GMT")) {
            h.insert("last-modified", v);
        }
    }
    r
}

fn internal_error(method: &Method) -> Response<s3s::Body> {
    error_page(
        StatusCode::INTERNAL_SERVER_ERROR,
        method,
        &[
            ("Code", "InternalError"),
            (
                "Message",
                "We encountered an internal error. Please try again.",
            ),
        ],
    )
}

/// Serves a website-endpoint request (GET/HEAD) for `bucket`.
pub async fn serve(
    state: &S3State,
    bucket: &str,
    method: &Method,
    path: &str,
    headers: &HeaderMap,
) -> Response<s3s::Body> {
    if *method != Method::GET && *method != Method::HEAD {
        return error_page(
            StatusCode::METHOD_NOT_ALLOWED,
            method,
            &[
                ("Code", "MethodNotAllowed"),
                (
                    "Message",
                    "The specified method is not allowed against this resource.",
                ),
                ("Method", method.as_str()),
                ("ResourceType", "OBJECT"),
            ],
        );
    }
    let conf: Option<WebsiteConfiguration> = {
        let Ok(snap) = state.db.snapshot() else {
            return internal_error(method);
        };
        match write::load_bucket(snap.as_ref(), bucket) {
            Err(_) => return internal_error(method),
            Ok(None) => {
                return error_page(
                    StatusCode::NOT_FOUND,
                    method,
                    &[
                        ("Code", "NoSuchBucket"),
                        ("Message", "The specified bucket does not exist"),
                        ("BucketName", bucket),
                    ],
                )
            }
            Ok(Some(_)) => {}
        }
        match load(snap.as_ref(), bucket, KIND_WEBSITE) {
            Ok(c) => c,
            Err(_) => return internal_error(method),
        }
    };
    let Some(conf) = conf else {
        return error_page(
            StatusCode::NOT_FOUND,
            method,
            &[
                ("Code", "NoSuchWebsiteConfiguration"),
                (
                    "Message",
                    "The specified bucket does not have a website configuration",
                ),
                ("BucketName", bucket),
            ],
        );
    };
    let path = path.split('?').next().unwrap_or("");
    let raw_key = percent_decode(path.strip_prefix('/').unwrap_or(path));
    if let Some(all) = &conf.redirect_all_requests_to {
        let proto = all.protocol.as_ref().map_or("http", |p| p.as_str());
        return redirect(
            StatusCode::MOVED_PERMANENTLY,
            &format!("{proto}://{}/{}", all.host_name, percent_encode(&raw_key)),
        );
    }
    // Rules without an error-code condition redirect before any lookup.
    if let Some(rule) = find_rule(&conf, &raw_key, None) {
        return apply_rule(rule, &raw_key, headers);
    }
    let suffix = conf
        .index_document
        .as_ref()
        .map(|i| i.suffix.clone())
        .unwrap_or_default();
    let key = if raw_key.is_empty() || raw_key.ends_with('/') {
        format!("{raw_key}{suffix}")
    } else {
        raw_key.clone()
    };
    match lookup(state, bucket, &key) {
        Err(()) => return internal_error(method),
        Ok(Some(ver)) => {
            if let Some(loc) = ver.system.get("website-redirect-location") {
                return redirect(StatusCode::MOVED_PERMANENTLY, loc);
            }
            return object_response(state, &ver, method, StatusCode::OK);
        }
        Ok(None) => {}
    }
    // `dir` with an index document at `dir/{suffix}`: S3 redirects to `dir/`.
    if !raw_key.is_empty() && !raw_key.ends_with('/') && !suffix.is_empty() {
        if let Ok(Some(_)) = lookup(state, bucket, &format!("{raw_key}/{suffix}")) {
            return redirect(
                StatusCode::FOUND,
                &format!("/{}/", percent_encode(&raw_key)),
            );
        }
    }
    if let Some(rule) = find_rule(&conf, &raw_key, Some(404)) {
        return apply_rule(rule, &raw_key, headers);
    }
    if let Some(ed) = &conf.error_document {
        if let Ok(Some(ver)) = lookup(state, bucket, &ed.key) {
            return object_response(state, &ver, method, StatusCode::NOT_FOUND);
        }
    }
    error_page(
        StatusCode::NOT_FOUND,
        method,
        &[
            ("Code", "NoSuchKey"),
            ("Message", "The specified key does not exist."),
            ("Key", &key),
        ],
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::bucket_config::put_raw;
    use crate::error::{encode, Error};
    use crate::keys;
    use crate::meta::{BlobRef, BucketMeta};
    use nimbus_core::ManualClock;
    use s3s::dto::{
        Condition, ErrorDocument, IndexDocument, Protocol, Redirect, RedirectAllRequestsTo,
    };
    use std::sync::Arc;

    #[test]
    fn website_hosts() {
        let bases = vec!["localhost".to_string(), "cloud.test".to_string()];
        assert_eq!(
            website_bucket("bk.s3-website.localhost", &bases),
            Some("bk")
        );
        assert_eq!(
            website_bucket("my.bk.s3-website-us-east-1.localhost", &bases),
            Some("my.bk")
        );
        assert_eq!(
            website_bucket("bk.s3-website.eu-west-1.cloud.test", &bases),
            Some("bk")
        );
        assert_eq!(website_bucket("bk.s3.localhost", &bases), None);
        assert_eq!(website_bucket("s3-website.localhost", &bases), None);
        assert_eq!(website_bucket("bk.s3-website.a.b.localhost", &bases), None);
        assert_eq!(website_bucket("localhost", &bases), None);
    }

    fn state_with(conf: Option<WebsiteConfiguration>) -> Arc<S3State> {
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
                    put_raw(t, "bk", KIND_WEBSITE, c)?;
                }
                for (k, body, redirect) in [
                    ("index.html", "home", None),
                    ("docs/index.html", "docs", None),
                    ("err.html", "oops", None),
                    ("moved", "", Some("/index.html")),
                ] {
                    let id = format!("blob-{k}");
                    t.put(&keys::inline(&id), body.as_bytes())?;
                    let mut v = ObjectVersion {
                        key: k.into(),
                        size: body.len() as u64,
                        etag: "\"e\"".into(),
                        blobs: vec![BlobRef {
                            id,
                            size: body.len() as u64,
                            inline: true,
                        }],
                        ..Default::default()
                    };
                    v.system.insert("content-type".into(), "text/html".into());
                    if let Some(r) = redirect {
                        v.system
                            .insert("website-redirect-location".into(), r.into());
                    }
                    write::put_version(t, &b, &mut v)?;
                }
                Ok(())
            })
            .unwrap();
        state
    }

    fn conf() -> WebsiteConfiguration {
        WebsiteConfiguration {
            error_document: Some(ErrorDocument {
                key: "err.html".into(),
            }),
            index_document: Some(IndexDocument {
                suffix: "index.html".into(),
            }),
            redirect_all_requests_to: None,
            routing_rules: Some(vec![
                RoutingRule {
                    condition: Some(Condition {
                        http_error_code_returned_equals: None,
                        key_prefix_equals: Some("old/".into()),
                    }),
                    redirect: Redirect {
                        host_name: None,
                        http_redirect_code: None,
                        protocol: None,
                        replace_key_prefix_with: Some("new/".into()),
                        replace_key_with: None,
                    },
                },
                RoutingRule {
                    condition: Some(Condition {
                        http_error_code_returned_equals: Some("404".into()),
                        key_prefix_equals: Some("gone/".into()),
                    }),
                    redirect: Redirect {
                        host_name: Some("example.com".into()),
                        http_redirect_code: Some("302".into()),
                        protocol: Some(Protocol::from_static(Protocol::HTTPS)),
                        replace_key_prefix_with: None,
                        replace_key_with: Some("404.html".into()),
                    },
                },
            ]),
        }
    }

    fn host() -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            "host",
            HeaderValue::from_static("bk.s3-website.localhost:4566"),
        );
        h
    }

    #[tokio::test]
    async fn statuses_and_redirects() {
        let state = state_with(Some(conf()));
        let g = Method::GET;
        let r = serve(&state, "bk", &g, "/", &host()).await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()["content-type"], "text/html");
        let r = serve(&state, "bk", &g, "/docs/", &host()).await;
        assert_eq!(r.status(), StatusCode::OK);
        let r = serve(&state, "bk", &g, "/docs", &host()).await;
        assert_eq!(r.status(), StatusCode::FOUND);
        assert_eq!(r.headers()["location"], "/docs/");
        let r = serve(&state, "bk", &g, "/missing", &host()).await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        assert_eq!(r.headers()["content-type"], "text/html");
        let r = serve(&state, "bk", &g, "/moved", &host()).await;
        assert_eq!(r.status(), StatusCode::MOVED_PERMANENTLY);
        assert_eq!(r.headers()["location"], "/index.html");
        let r = serve(&state, "bk", &g, "/old/a.html", &host()).await;
        assert_eq!(r.status(), StatusCode::MOVED_PERMANENTLY);
        assert_eq!(
            r.headers()["location"],
            "http://bk.s3-website.localhost:4566/new/a.html"
        );
        let r = serve(&state, "bk", &g, "/gone/x", &host()).await;
        assert_eq!(r.status(), StatusCode::FOUND);
        assert_eq!(r.headers()["location"], "https://example.com/404.html");
        let r = serve(&state, "bk", &Method::POST, "/", &host()).await;
        assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
        let r = serve(&state, "nope", &g, "/", &host()).await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
    }

    #[tokio::test]
    async fn no_configuration_and_redirect_all() {
        let state = state_with(None);
        let r = serve(&state, "bk", &Method::GET, "/", &host()).await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        let state = state_with(Some(WebsiteConfiguration {
            redirect_all_requests_to: Some(RedirectAllRequestsTo {
                host_name: "example.org".into(),
                protocol: Some(Protocol::from_static(Protocol::HTTPS)),
            }),
            ..Default::default()
        }));
        let r = serve(&state, "bk", &Method::GET, "/a%20b", &host()).await;
        assert_eq!(r.status(), StatusCode::MOVED_PERMANENTLY);
        assert_eq!(r.headers()["location"], "https://example.org/a%20b");
    }
}
