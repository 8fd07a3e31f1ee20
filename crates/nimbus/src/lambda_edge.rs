//! Lambda's routes that are not the Lambda API: function URLs and `Code.Location`
//! downloads. Both are plain HTTP (a function URL with AuthType NONE is public; a code
//! location carries its own signed, expiring token), so they are answered before the
//! gateway's SigV4 check.
//!
//! - `/_nimbus/lambda-code/<token>`: the deployment package of GetFunction's
//!   `Code.Location`.
//! - `/_nimbus/lambda-url/<url-id>/<path>`: a function URL without name resolution
//!   (Python's and Node's resolvers do not resolve `*.localhost`); the function sees
//!   `/<path>` as its `rawPath`.
//! - Host `<url-id>.lambda-url.<region>.<host>`: the AWS form, where the operator points
//!   a wildcard name at nimbus.

use bytes::Bytes;
use http::header::{HeaderValue, CONTENT_TYPE, HOST};
use http::{HeaderMap, Method, StatusCode};
use nimbus_lambda::{CodeDownloadError, UrlCaller};
use nimbus_wire::{AwsRequest, AwsResponse};

use crate::gateway::AppState;
use crate::router::ServiceId;

pub const CODE_PREFIX: &str = "/_nimbus/lambda-code/";
pub const URL_PREFIX: &str = "/_nimbus/lambda-url/";
/// A function URL request is at most 6 MB, as AWS's invoke payload.
pub const URL_MAX_BODY_BYTES: usize = 6 * 1024 * 1024;

#[derive(Debug, PartialEq, Eq)]
pub enum Route {
    Code { token: String },
    Url { url_id: String, path: String },
}

/// Which of the two routes a request is for, from its method, path and Host alone.
pub fn classify(method: &Method, path: &str, headers: &HeaderMap) -> Option<Route> {
    if let Some(token) = path.strip_prefix(CODE_PREFIX) {
        if *method == Method::GET || *method == Method::HEAD {
            return Some(Route::Code {
                token: token.to_string(),
            });
        }
        return None;
    }
    if let Some(rest) = path.strip_prefix(URL_PREFIX) {
        let (id, below) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        if id.is_empty() {
            return None;
        }
        return Some(Route::Url {
            url_id: id.to_ascii_lowercase(),
            path: below.to_string(),
        });
    }
    let host = headers.get(HOST)?.to_str().ok()?;
    let name = host.rsplit_once(':').map_or(host, |(h, port)| {
        if port.bytes().all(|b| b.is_ascii_digit()) {
            h
        } else {
            host
        }
    });
    let mut labels = name.split('.');
    let id = labels.next()?;
    if labels.next()?.eq_ignore_ascii_case("lambda-url")
        && labels.next().is_some()
        && !id.is_empty()
    {
        return Some(Route::Url {
            url_id: id.to_ascii_lowercase(),
            path: path.to_string(),
        });
    }
    None
}

fn plain(status: StatusCode, content_type: &'static str, body: Bytes) -> AwsResponse {
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    AwsResponse {
        status,
        headers,
        body,
    }
}

fn message(status: StatusCode, text: &str) -> AwsResponse {
    plain(
        status,
        "application/json",
        Bytes::from(serde_json::json!({ "Message": text }).to_string()),
    )
}

/// Answers a request `classify` recognised; the body has been read.
pub async fn handle(
    state: &AppState,
    route: Route,
    req: AwsRequest,
    request_id: &str,
) -> AwsResponse {
    let Some(lambda) = state.services.lambda_service().await else {
        return message(StatusCode::SERVICE_UNAVAILABLE, "Lambda is not available");
    };
    match route {
        Route::Code { token } => match lambda.code_download(&token).await {
            Ok(zip) => plain(StatusCode::OK, "application/zip", zip),
            Err(CodeDownloadError::Forbidden) => message(StatusCode::FORBIDDEN, "Forbidden"),
            Err(CodeDownloadError::NotFound) => message(StatusCode::NOT_FOUND, "Not Found"),
            Err(CodeDownloadError::Internal(e)) => {
                tracing::warn!(error = %e, "code download failed");
                message(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
            }
        },
        Route::Url { url_id, path } => {
            // A signature is checked only when one is present: NONE URLs are public, and
            // an AWS_IAM URL refuses a request without a verified signer itself.
            let signed = req.headers.contains_key(http::header::AUTHORIZATION)
                || req.query.contains("X-Amz-Signature=");
            let principal = if signed {
                let _ = state.store.opened().await;
                state
                    .authenticator()
                    .authenticate(&req, ServiceId::Lambda, request_id)
                    .ok()
                    .map(|ctx| ctx.principal)
            } else {
                None
            };
            let req = AwsRequest { path, ..req };
            let caller = UrlCaller {
                source_ip: "127.0.0.1".to_string(),
                principal,
                request_id: request_id.to_string(),
            };
            nimbus_lambda::handle_url(lambda, &url_id, req, caller).await
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn host(h: &str) -> HeaderMap {
        let mut m = HeaderMap::new();
        m.insert(HOST, HeaderValue::from_str(h).unwrap());
        m
    }

    #[test]
    fn routes() {
        let none = HeaderMap::new();
        assert_eq!(
            classify(&Method::GET, "/_nimbus/lambda-code/abc.def", &none),
            Some(Route::Code {
                token: "abc.def".into()
            })
        );
        assert_eq!(
            classify(&Method::PUT, "/_nimbus/lambda-code/abc", &none),
            None
        );
        assert_eq!(
            classify(&Method::POST, "/_nimbus/lambda-url/AbC123/x/y", &none),
            Some(Route::Url {
                url_id: "abc123".into(),
                path: "/x/y".into()
            })
        );
        assert_eq!(
            classify(&Method::GET, "/_nimbus/lambda-url/abc", &none),
            Some(Route::Url {
                url_id: "abc".into(),
                path: "/".into()
            })
        );
        assert_eq!(classify(&Method::GET, "/_nimbus/lambda-url/", &none), None);
        assert_eq!(
            classify(
                &Method::GET,
                "/p",
                &host("xyz.lambda-url.us-east-1.example.test:4566")
            ),
            Some(Route::Url {
                url_id: "xyz".into(),
                path: "/p".into()
            })
        );
        assert_eq!(
            classify(&Method::GET, "/p", &host("bucket.s3.localhost:4566")),
            None
        );
        assert_eq!(
            classify(&Method::GET, "/2015-03-31/functions", &host("localhost")),
            None
        );
    }
}
