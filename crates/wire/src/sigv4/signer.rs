//! Signing requests the way botocore does: used by the load generator and by tests that
//! need correctly signed requests.

use http::header::{HeaderName, HeaderValue};
use http::HeaderMap;
use std::borrow::Cow;

use super::canonical::{
    canonical_request, sha256_hex, string_to_sign, uri_encode, CanonicalInput, UriEncoding,
};
use super::key::{derive_signing_key, hmac_sha256, SigningKeyCache};
use super::time::AmzDate;
use super::{
    CredentialScope, ALGORITHM, HEADER_AUTHORIZATION, HEADER_X_AMZ_CONTENT_SHA256,
    HEADER_X_AMZ_DATE, HEADER_X_AMZ_SECURITY_TOKEN, QUERY_ALGORITHM, QUERY_CREDENTIAL, QUERY_DATE,
    QUERY_EXPIRES, QUERY_SECURITY_TOKEN, QUERY_SIGNATURE, QUERY_SIGNED_HEADERS, UNSIGNED_PAYLOAD,
};
use crate::AwsRequest;

/// Headers botocore never signs: proxies and HTTP stacks rewrite them.
const UNSIGNED_HEADERS: [&str; 6] = [
    "authorization",
    "expect",
    "transfer-encoding",
    "user-agent",
    "x-amzn-trace-id",
    "connection",
];

/// Credentials to sign with.
#[derive(Debug, Clone, Copy)]
pub struct SigningCredentials<'a> {
    pub access_key_id: &'a str,
    pub secret_access_key: &'a str,
    pub session_token: Option<&'a str>,
}

/// Everything a signature depends on besides the request itself.
#[derive(Debug, Clone, Copy)]
pub struct SigningParams<'a> {
    pub credentials: SigningCredentials<'a>,
    pub region: &'a str,
    /// Signing name, e.g. `dynamodb`, `sts`, `s3`.
    pub service: &'a str,
    pub time: AmzDate,
    /// S3 only: sign `UNSIGNED-PAYLOAD` instead of the body hash.
    pub unsigned_payload: bool,
}

/// Why a request could not be signed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignError {
    /// The `host` header must be present: it is always signed.
    #[error("the request has no Host header")]
    MissingHost,
    /// A computed header value is not a valid HTTP header value.
    #[error("invalid header value for {0}")]
    InvalidHeaderValue(&'static str),
}

/// The result of signing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningOutput {
    pub authorization: String,
    pub signature: String,
    pub canonical_request: String,
    pub string_to_sign: String,
}

fn header_value(value: &str, name: &'static str) -> Result<HeaderValue, SignError> {
    HeaderValue::from_str(value).map_err(|_| SignError::InvalidHeaderValue(name))
}

fn signature_hex(
    params: &SigningParams<'_>,
    scope: &CredentialScope,
    sts: &str,
    cache: Option<&SigningKeyCache>,
) -> String {
    let secret = params.credentials.secret_access_key;
    let key = match cache {
        Some(c) => c.get(secret, &scope.date, &scope.region, &scope.service),
        None => derive_signing_key(secret, &scope.date, &scope.region, &scope.service),
    };
    hex::encode(hmac_sha256(&key, sts.as_bytes()))
}

/// Signs a request in place: adds `X-Amz-Date`, `X-Amz-Security-Token` (temporary
/// credentials), `X-Amz-Content-Sha256` (S3) and `Authorization`. Every header already
/// present (except the few botocore leaves out) is signed; `host` must be among them.
pub fn sign_request(
    method: &str,
    raw_path: &str,
    raw_query: &str,
    headers: &mut HeaderMap,
    body: &[u8],
    params: &SigningParams<'_>,
    cache: Option<&SigningKeyCache>,
) -> Result<SigningOutput, SignError> {
    if !headers.contains_key(http::header::HOST) {
        return Err(SignError::MissingHost);
    }
    let uri_encoding = UriEncoding::for_service(params.service);
    let amz_date = params.time.to_basic();
    headers.remove(HEADER_AUTHORIZATION);
    headers.insert(HEADER_X_AMZ_DATE, header_value(&amz_date, "x-amz-date")?);
    if let Some(token) = params.credentials.session_token {
        headers.insert(
            HEADER_X_AMZ_SECURITY_TOKEN,
            header_value(token, "x-amz-security-token")?,
        );
    }
    let payload = if params.unsigned_payload && uri_encoding == UriEncoding::Single {
        UNSIGNED_PAYLOAD.to_string()
    } else {
        sha256_hex(body)
    };
    if uri_encoding == UriEncoding::Single {
        headers.insert(
            HEADER_X_AMZ_CONTENT_SHA256,
            header_value(&payload, "x-amz-content-sha256")?,
        );
    }

    let mut signed: Vec<Cow<str>> = headers
        .keys()
        .map(HeaderName::as_str)
        .filter(|n| !UNSIGNED_HEADERS.contains(n))
        .map(|n| Cow::Owned(n.to_string()))
        .collect();
    signed.sort();
    signed.dedup();

    let scope = CredentialScope::new(&params.time.date_stamp(), params.region, params.service);
    let canonical = canonical_request(&CanonicalInput {
        method,
        raw_path,
        raw_query,
        exclude_query_param: None,
        headers,
        signed_headers: &signed,
        payload_hash: &payload,
        uri_encoding,
    });
    let sts = string_to_sign(&amz_date, &scope.as_scope_string(), &canonical);
    let signature = signature_hex(params, &scope, &sts, cache);
    let authorization = format!(
        "{ALGORITHM} Credential={}/{}, SignedHeaders={}, Signature={signature}",
        params.credentials.access_key_id,
        scope.as_scope_string(),
        signed.join(";")
    );
    headers.insert(
        HEADER_AUTHORIZATION,
        header_value(&authorization, "authorization")?,
    );
    Ok(SigningOutput {
        authorization,
        signature,
        canonical_request: canonical,
        string_to_sign: sts,
    })
}

/// Signs an [`AwsRequest`] in place (its headers must include `host`).
pub fn sign_aws_request(
    req: &mut AwsRequest,
    params: &SigningParams<'_>,
    cache: Option<&SigningKeyCache>,
) -> Result<SigningOutput, SignError> {
    let method = req.method.as_str().to_string();
    sign_request(
        &method,
        &req.path,
        &req.query,
        &mut req.headers,
        &req.body,
        params,
        cache,
    )
}

fn push_param(out: &mut String, key: &str, value: &str) {
    if !out.is_empty() {
        out.push('&');
    }
    uri_encode(key.as_bytes(), false, out);
    out.push('=');
    uri_encode(value.as_bytes(), false, out);
}

/// Builds a presigned URL's query string (the existing `raw_query` plus the `X-Amz-*`
/// parameters and the signature). Only `host` is signed, as the SDKs do. S3 signs
/// `UNSIGNED-PAYLOAD`; other services sign the hash of an empty body.
pub fn presign_query(
    method: &str,
    raw_path: &str,
    raw_query: &str,
    host: &str,
    params: &SigningParams<'_>,
    expires_secs: u64,
) -> Result<String, SignError> {
    let uri_encoding = UriEncoding::for_service(params.service);
    let scope = CredentialScope::new(&params.time.date_stamp(), params.region, params.service);
    let mut query = raw_query.to_string();
    push_param(&mut query, QUERY_ALGORITHM, ALGORITHM);
    push_param(
        &mut query,
        QUERY_CREDENTIAL,
        &format!(
            "{}/{}",
            params.credentials.access_key_id,
            scope.as_scope_string()
        ),
    );
    push_param(&mut query, QUERY_DATE, &params.time.to_basic());
    push_param(&mut query, QUERY_EXPIRES, &expires_secs.to_string());
    if let Some(token) = params.credentials.session_token {
        push_param(&mut query, QUERY_SECURITY_TOKEN, token);
    }
    push_param(&mut query, QUERY_SIGNED_HEADERS, "host");

    let mut headers = HeaderMap::new();
    headers.insert(http::header::HOST, header_value(host, "host")?);
    let payload = if uri_encoding == UriEncoding::Single {
        UNSIGNED_PAYLOAD.to_string()
    } else {
        sha256_hex(b"")
    };
    let canonical = canonical_request(&CanonicalInput {
        method,
        raw_path,
        raw_query: &query,
        exclude_query_param: None,
        headers: &headers,
        signed_headers: &[Cow::Borrowed("host")],
        payload_hash: &payload,
        uri_encoding,
    });
    let sts = string_to_sign(
        &params.time.to_basic(),
        &scope.as_scope_string(),
        &canonical,
    );
    let signature = signature_hex(params, &scope, &sts, None);
    push_param(&mut query, QUERY_SIGNATURE, &signature);
    Ok(query)
}
