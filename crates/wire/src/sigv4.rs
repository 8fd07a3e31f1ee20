//! AWS Signature Version 4: verifying signed requests (header and presigned
//! query-string forms) and signing them (for the load generator and tests).
//!
//! Verification runs in AWS's order, because the first failing check decides which error
//! the client sees:
//! 1. [`parse`]: is there a SigV4 `Authorization` header (or `X-Amz-Algorithm` query
//!    parameter), and does it have `Credential`, `SignedHeaders`, `Signature` and a date?
//! 2. [`validate`]: date format, 15-minute skew (or presigned expiry), `host` signed,
//!    algorithm, credential shape, credential scope (region, service, terminator, date).
//! 3. the caller looks up the access key (unknown key: `UnrecognizedClientException`);
//! 4. [`verify_signature`]: canonical request, string to sign, HMAC, constant-time compare.
//!
//! The gateway may stop after step 1 (an unknown key on a loopback bind is taken as root
//! without checking anything else).

mod canonical;
mod error;
mod key;
mod signer;
mod time;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::borrow::Cow;

pub use canonical::{
    canonical_query, canonical_request, canonical_uri, percent_decode, sha256_hex, string_to_sign,
    string_to_sign_parts, uri_encode, CanonicalInput, UriEncoding, EMPTY_SHA256,
};
pub use error::{SigV4Error, CORAL_SERVICE_PREFIX};
pub use key::{
    derive_signing_key, hmac_sha256, SigningKey, SigningKeyCache, DEFAULT_KEY_CACHE_CAPACITY,
};
pub use signer::{
    presign_query, sign_aws_request, sign_request, SignError, SigningCredentials, SigningOutput,
    SigningParams,
};
pub use time::AmzDate;

use crate::AwsRequest;

/// The only algorithm AWS accepts.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// The credential scope terminator.
pub const TERMINATOR: &str = "aws4_request";
/// AWS allows request time to differ from server time by at most 15 minutes.
pub const MAX_CLOCK_SKEW_SECS: i64 = 15 * 60;
/// A presigned URL lives at most 7 days.
pub const MAX_PRESIGNED_EXPIRES_SECS: i64 = 604_800;
/// `x-amz-content-sha256` value for S3 requests whose body is not signed.
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";
/// Prefix of `x-amz-content-sha256` values for aws-chunked uploads.
pub const STREAMING_PAYLOAD_PREFIX: &str = "STREAMING-";

pub const HEADER_AUTHORIZATION: &str = "authorization";
pub const HEADER_X_AMZ_DATE: &str = "x-amz-date";
pub const HEADER_DATE: &str = "date";
pub const HEADER_X_AMZ_SECURITY_TOKEN: &str = "x-amz-security-token";
pub const HEADER_X_AMZ_CONTENT_SHA256: &str = "x-amz-content-sha256";

pub const QUERY_ALGORITHM: &str = "X-Amz-Algorithm";
pub const QUERY_CREDENTIAL: &str = "X-Amz-Credential";
pub const QUERY_DATE: &str = "X-Amz-Date";
pub const QUERY_EXPIRES: &str = "X-Amz-Expires";
pub const QUERY_SIGNED_HEADERS: &str = "X-Amz-SignedHeaders";
pub const QUERY_SIGNATURE: &str = "X-Amz-Signature";
pub const QUERY_SECURITY_TOKEN: &str = "X-Amz-Security-Token";
pub const QUERY_CONTENT_SHA256: &str = "X-Amz-Content-Sha256";

/// Bound on the number of query parameters looked at when searching for presigned
/// parameters (invariant 4: a hostile query string must not cost unbounded work).
const MAX_QUERY_PARAMS_SCANNED: usize = 1_000;

/// Where the signature was carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthLocation {
    /// `Authorization` header.
    Header,
    /// Presigned URL (`X-Amz-*` query parameters).
    Query,
}

/// `date/region/service/aws4_request`. Borrows from the request where it can: this is
/// parsed on every request, so it allocates nothing on the common path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialScope<'a> {
    pub date: Cow<'a, str>,
    pub region: Cow<'a, str>,
    pub service: Cow<'a, str>,
    pub terminator: Cow<'a, str>,
}

impl CredentialScope<'static> {
    pub fn new(date: &str, region: &str, service: &str) -> Self {
        Self {
            date: Cow::Owned(date.to_string()),
            region: Cow::Owned(region.to_string()),
            service: Cow::Owned(service.to_string()),
            terminator: Cow::Borrowed(TERMINATOR),
        }
    }
}

impl CredentialScope<'_> {
    /// The scope as it appears in the string to sign.
    pub fn as_scope_string(&self) -> String {
        format!(
            "{}/{}/{}/{}",
            self.date, self.region, self.service, self.terminator
        )
    }
}

/// What a SigV4 request claims, before any of it is checked. Borrows from the request
/// (presigned values are percent-decoded, so those are owned).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedAuth<'a> {
    pub location: AuthLocation,
    /// The raw `Authorization` header (for error messages); empty for presigned.
    pub raw_header: Cow<'a, str>,
    pub algorithm: Cow<'a, str>,
    /// The raw credential, `AKID/date/region/service/aws4_request`.
    pub credential: Cow<'a, str>,
    /// First element of the credential.
    pub access_key_id: Cow<'a, str>,
    /// `None` when the credential does not have exactly five elements.
    pub scope: Option<CredentialScope<'a>>,
    /// Lowercase header names in the order the client listed them.
    pub signed_headers: Vec<Cow<'a, str>>,
    /// Hex signature as sent.
    pub signature: Cow<'a, str>,
    /// The request time as written (`X-Amz-Date`, or `Date` when `date_from_http_header`).
    pub date: Cow<'a, str>,
    pub date_from_http_header: bool,
    pub security_token: Option<Cow<'a, str>>,
    /// Presigned only: `X-Amz-Expires` as written.
    pub expires: Option<Cow<'a, str>>,
    /// Presigned only: `X-Amz-Content-Sha256` from the query.
    pub query_content_sha256: Option<Cow<'a, str>>,
}

impl SignedAuth<'_> {
    /// Region of the credential scope, when the credential is well-formed.
    pub fn region(&self) -> Option<&str> {
        self.scope.as_ref().map(|s| s.region.as_ref())
    }

    /// Service (signing name) of the credential scope.
    pub fn service(&self) -> Option<&str> {
        self.scope.as_ref().map(|s| s.service.as_ref())
    }
}

/// Splits the credential into access key and scope; trailing slashes are ignored as
/// AWS does.
fn split_credential(credential: &str) -> (Cow<'_, str>, Option<CredentialScope<'_>>) {
    let trimmed = credential.trim_end_matches('/');
    let mut parts = trimmed.split('/');
    let access_key_id = Cow::Borrowed(parts.next().unwrap_or_default());
    let mut scope_parts = [""; 4];
    let mut n = 0;
    for part in parts {
        if let Some(slot) = scope_parts.get_mut(n) {
            *slot = part;
        }
        n += 1;
    }
    let scope = match (n, scope_parts) {
        (4, [date, region, service, terminator]) => Some(CredentialScope {
            date: Cow::Borrowed(date),
            region: Cow::Borrowed(region),
            service: Cow::Borrowed(service),
            terminator: Cow::Borrowed(terminator),
        }),
        _ => None,
    };
    (access_key_id, scope)
}

/// Owned copies for values that had to be decoded.
fn own_credential(credential: &str) -> (Cow<'static, str>, Option<CredentialScope<'static>>) {
    let (akid, scope) = split_credential(credential);
    let scope = scope.map(|s| CredentialScope {
        date: Cow::Owned(s.date.into_owned()),
        region: Cow::Owned(s.region.into_owned()),
        service: Cow::Owned(s.service.into_owned()),
        terminator: Cow::Owned(s.terminator.into_owned()),
    });
    (Cow::Owned(akid.into_owned()), scope)
}

fn header_str<'a>(req: &'a AwsRequest, name: &str) -> Option<&'a str> {
    req.headers.get(name).and_then(|v| v.to_str().ok())
}

fn split_signed_headers(s: &str) -> Vec<Cow<'_, str>> {
    s.split(';')
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .map(|h| {
            if h.bytes().any(|b| b.is_ascii_uppercase()) {
                Cow::Owned(h.to_ascii_lowercase())
            } else {
                Cow::Borrowed(h)
            }
        })
        .collect()
}

fn own_signed_headers(s: &str) -> Vec<Cow<'static, str>> {
    split_signed_headers(s)
        .into_iter()
        .map(|h| Cow::Owned(h.into_owned()))
        .collect()
}

/// Step 1: finds SigV4 authentication in the request.
///
/// `Ok(None)`: the request carries no SigV4 authentication at all (no `Authorization`
/// header starting with `AWS4-` and no `X-Amz-Algorithm`/`X-Amz-Credential`/
/// `X-Amz-Signature` query parameter); the caller decides whether that is allowed.
pub fn parse(req: &AwsRequest) -> Result<Option<SignedAuth<'_>>, SigV4Error> {
    if let Some(raw) = req.headers.get(HEADER_AUTHORIZATION) {
        let Ok(auth) = raw.to_str() else {
            // Not visible ASCII: AWS answers as for any header it cannot make sense of.
            let auth = String::from_utf8_lossy(raw.as_bytes()).into_owned();
            if !auth.trim_start().starts_with("AWS4-") {
                return Ok(None);
            }
            return parse_header(req, auth.trim()).map(|a| Some(into_owned(a)));
        };
        if !auth.trim_start().starts_with("AWS4-") {
            return Ok(None);
        }
        return parse_header(req, auth.trim()).map(Some);
    }
    parse_query(req)
}

fn own(c: Cow<'_, str>) -> Cow<'static, str> {
    Cow::Owned(c.into_owned())
}

/// A `SignedAuth` that no longer borrows (the header had to be decoded lossily).
fn into_owned(a: SignedAuth<'_>) -> SignedAuth<'static> {
    SignedAuth {
        location: a.location,
        raw_header: own(a.raw_header),
        algorithm: own(a.algorithm),
        credential: own(a.credential),
        access_key_id: own(a.access_key_id),
        scope: a.scope.map(|s| CredentialScope {
            date: own(s.date),
            region: own(s.region),
            service: own(s.service),
            terminator: own(s.terminator),
        }),
        signed_headers: a.signed_headers.into_iter().map(own).collect(),
        signature: own(a.signature),
        date: own(a.date),
        date_from_http_header: a.date_from_http_header,
        security_token: a.security_token.map(own),
        expires: a.expires.map(own),
        query_content_sha256: a.query_content_sha256.map(own),
    }
}

fn parse_header<'a>(req: &'a AwsRequest, auth: &'a str) -> Result<SignedAuth<'a>, SigV4Error> {
    let (algorithm, rest) = match auth.split_once([' ', '\t']) {
        Some((a, r)) => (a, r),
        None => (auth, ""),
    };
    let mut credential = None;
    let mut signed_headers = None;
    let mut signature = None;
    for part in rest.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let Some((k, v)) = part.split_once('=') else {
            return Err(SigV4Error::Incomplete(format!(
                "'{part}' not a valid key=value pair (missing equal-sign) in Authorization header: '{auth}'."
            )));
        };
        match k.trim() {
            "Credential" => credential = Some(v.trim()),
            "SignedHeaders" => signed_headers = Some(v.trim()),
            "Signature" => signature = Some(v.trim()),
            // Unknown parameters are ignored, as AWS does.
            _ => {}
        }
    }
    let amz_date = header_str(req, HEADER_X_AMZ_DATE);
    let http_date = header_str(req, HEADER_DATE);

    let mut missing = String::new();
    for (name, value) in [
        ("Credential", credential),
        ("Signature", signature),
        ("SignedHeaders", signed_headers),
    ] {
        if value.is_none_or(str::is_empty) {
            missing.push_str(&format!(
                "Authorization header requires '{name}' parameter. "
            ));
        }
    }
    if amz_date.is_none() && http_date.is_none() {
        missing.push_str(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. ",
        );
    }
    if !missing.is_empty() {
        return Err(SigV4Error::Incomplete(format!(
            "{missing}Authorization={auth}"
        )));
    }

    let credential = credential.unwrap_or_default();
    let (access_key_id, scope) = split_credential(credential);
    let (date, date_from_http_header) = match amz_date {
        Some(d) => (d.trim(), false),
        None => (http_date.unwrap_or_default().trim(), true),
    };
    Ok(SignedAuth {
        location: AuthLocation::Header,
        raw_header: Cow::Borrowed(auth),
        algorithm: Cow::Borrowed(algorithm),
        credential: Cow::Borrowed(credential),
        access_key_id,
        scope,
        signed_headers: split_signed_headers(signed_headers.unwrap_or_default()),
        signature: Cow::Borrowed(signature.unwrap_or_default()),
        date: Cow::Borrowed(date),
        date_from_http_header,
        security_token: header_str(req, HEADER_X_AMZ_SECURITY_TOKEN).map(Cow::Borrowed),
        expires: None,
        query_content_sha256: None,
    })
}

fn parse_query(req: &AwsRequest) -> Result<Option<SignedAuth<'static>>, SigV4Error> {
    if req.query.is_empty() || !req.query.contains("X-Amz-") {
        return Ok(None);
    }
    let mut algorithm = None;
    let mut credential = None;
    let mut date = None;
    let mut expires = None;
    let mut signed_headers = None;
    let mut signature = None;
    let mut token = None;
    let mut content_sha = None;
    for part in req.query.split('&').take(MAX_QUERY_PARAMS_SCANNED) {
        let (k, v) = part.split_once('=').unwrap_or((part, ""));
        if !k.starts_with("X-Amz-") {
            continue;
        }
        let value = String::from_utf8_lossy(&percent_decode(v)).into_owned();
        match k {
            QUERY_ALGORITHM => algorithm = Some(value),
            QUERY_CREDENTIAL => credential = Some(value),
            QUERY_DATE => date = Some(value),
            QUERY_EXPIRES => expires = Some(value),
            QUERY_SIGNED_HEADERS => signed_headers = Some(value),
            QUERY_SIGNATURE => signature = Some(value),
            QUERY_SECURITY_TOKEN => token = Some(value),
            QUERY_CONTENT_SHA256 => content_sha = Some(value),
            _ => {}
        }
    }
    if algorithm.is_none() && credential.is_none() && signature.is_none() {
        return Ok(None);
    }
    let (
        Some(algorithm),
        Some(credential),
        Some(date),
        Some(expires),
        Some(signed_headers),
        Some(signature),
    ) = (
        algorithm,
        credential,
        date,
        expires,
        signed_headers,
        signature,
    )
    else {
        return Err(SigV4Error::PresignedQuery(
            "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.".to_string(),
        ));
    };
    let (access_key_id, scope) = own_credential(&credential);
    Ok(Some(SignedAuth {
        location: AuthLocation::Query,
        raw_header: Cow::Borrowed(""),
        algorithm: Cow::Owned(algorithm),
        access_key_id,
        scope,
        credential: Cow::Owned(credential),
        signed_headers: own_signed_headers(&signed_headers),
        signature: Cow::Owned(signature),
        date: Cow::Owned(date),
        date_from_http_header: false,
        security_token: token.map(Cow::Owned),
        expires: Some(Cow::Owned(expires)),
        query_content_sha256: content_sha.map(Cow::Owned),
    }))
}

/// What [`validate`] established.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Validated<'a> {
    /// The request time.
    pub time: AmzDate,
    pub scope: CredentialScope<'a>,
}

/// Regions are checked for shape only: nimbus serves whatever region the client names
/// (custom names such as `local` included), but not garbage.
pub fn is_valid_region(region: &str) -> bool {
    !region.is_empty()
        && region.len() <= 64
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// Step 2: everything that can be checked without the secret key.
///
/// `expected_services` are the signing names the routed service accepts (e.g.
/// `["dynamodb"]` for DynamoDB and DynamoDB Streams); the first is named in the error.
pub fn validate<'a>(
    auth: &SignedAuth<'a>,
    now: AmzDate,
    expected_services: &[&str],
) -> Result<Validated<'a>, SigV4Error> {
    let presigned = auth.location == AuthLocation::Query;

    // 1. Date format.
    let time = if auth.date_from_http_header {
        AmzDate::parse_http_date(&auth.date)
    } else {
        AmzDate::parse_basic(&auth.date)
    };
    let time = match time {
        Some(t) => t,
        None if presigned => {
            return Err(SigV4Error::PresignedQuery(
                "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\""
                    .to_string(),
            ))
        }
        None => return Err(SigV4Error::InvalidDate(auth.date.to_string())),
    };

    // 2. Clock skew, or presigned expiry.
    let too_late_limit = now.plus_secs(MAX_CLOCK_SKEW_SECS);
    if time > too_late_limit {
        return Err(SigV4Error::NotYetCurrent {
            request_time: time.to_basic(),
            limit: too_late_limit.to_basic(),
            now: now.to_basic(),
        });
    }
    if presigned {
        let raw = auth.expires.as_deref().unwrap_or_default();
        let expires_secs: i64 = raw.parse().map_err(|_| {
            SigV4Error::PresignedQuery("X-Amz-Expires should be a number".to_string())
        })?;
        if expires_secs < 0 {
            return Err(SigV4Error::PresignedQuery(
                "X-Amz-Expires must be non-negative".to_string(),
            ));
        }
        if expires_secs > MAX_PRESIGNED_EXPIRES_SECS {
            return Err(SigV4Error::PresignedQuery(format!(
                "X-Amz-Expires must be less than a week (in seconds) that is; {MAX_PRESIGNED_EXPIRES_SECS} seconds"
            )));
        }
        let expiry = time.plus_secs(expires_secs);
        if now > expiry {
            return Err(SigV4Error::PresignedExpired {
                expires_secs: expires_secs.unsigned_abs(),
                expiry: expiry.to_iso8601(),
                server_time: now.to_iso8601(),
            });
        }
    } else {
        let too_early_limit = now.plus_secs(-MAX_CLOCK_SKEW_SECS);
        if time < too_early_limit {
            return Err(SigV4Error::Expired {
                request_time: time.to_basic(),
                limit: too_early_limit.to_basic(),
                now: now.to_basic(),
            });
        }
    }

    // 3. Host must be signed.
    if !auth.signed_headers.iter().any(|h| h == "host") {
        return Err(SigV4Error::HostNotSigned);
    }

    // 4. Algorithm.
    if auth.algorithm != ALGORITHM {
        if presigned {
            return Err(SigV4Error::PresignedQuery(
                "X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\"".to_string(),
            ));
        }
        return Err(SigV4Error::UnsupportedAlgorithm(auth.algorithm.to_string()));
    }

    // 5. Credential shape.
    let Some(scope) = auth.scope.clone() else {
        if presigned {
            return Err(SigV4Error::PresignedQuery(
                "Error parsing the X-Amz-Credential parameter; the Credential is mal-formed; expecting \"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request\".".to_string(),
            ));
        }
        return Err(SigV4Error::MalformedCredential(
            auth.credential.trim_end_matches('/').to_string(),
        ));
    };

    // 6. Scope contents: AWS reports every problem at once.
    let mut problems = Vec::new();
    if !is_valid_region(&scope.region) {
        problems.push(format!(
            "Credential should be scoped to a valid region, not '{}'.",
            scope.region
        ));
    }
    if !expected_services.is_empty() && !expected_services.contains(&scope.service.as_ref()) {
        problems.push(format!(
            "Credential should be scoped to correct service: '{}'.",
            expected_services.first().copied().unwrap_or_default()
        ));
    }
    if scope.terminator != TERMINATOR {
        problems.push(format!(
            "Credential should be scoped with a valid terminator: '{TERMINATOR}', not '{}'.",
            scope.terminator
        ));
    }
    if !time.is_date_stamp(&scope.date) {
        problems.push(format!(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{}' != '{}', from '{}'.",
            scope.date,
            time.date_stamp(),
            time.to_basic()
        ));
    }
    if !problems.is_empty() {
        return Err(SigV4Error::BadScope(problems.join(" ")));
    }
    Ok(Validated { time, scope })
}

/// The payload hash the client must have signed.
fn payload_hash(
    req: &AwsRequest,
    auth: &SignedAuth<'_>,
    uri: UriEncoding,
) -> Result<String, SigV4Error> {
    let s3 = uri == UriEncoding::Single;
    if !s3 {
        // Every service but S3 signs the body itself; an `x-amz-content-sha256` header, if
        // any, is just another header.
        return Ok(sha256_hex(&req.body));
    }
    let claimed = match auth.location {
        AuthLocation::Query => auth
            .query_content_sha256
            .as_deref()
            .map(str::to_string)
            .or_else(|| header_str(req, HEADER_X_AMZ_CONTENT_SHA256).map(str::to_string)),
        AuthLocation::Header => header_str(req, HEADER_X_AMZ_CONTENT_SHA256).map(str::to_string),
    };
    match claimed {
        None if auth.location == AuthLocation::Query => Ok(UNSIGNED_PAYLOAD.to_string()),
        None => Ok(sha256_hex(&req.body)),
        Some(v) if v == UNSIGNED_PAYLOAD || v.starts_with(STREAMING_PAYLOAD_PREFIX) => Ok(v),
        Some(v) => {
            let computed = sha256_hex(&req.body);
            if v.eq_ignore_ascii_case(&computed) {
                Ok(v)
            } else {
                Err(SigV4Error::ContentSha256Mismatch {
                    claimed: v,
                    computed,
                })
            }
        }
    }
}

/// Step 4: recomputes the signature with `secret` and compares in constant time.
pub fn verify_signature(
    req: &AwsRequest,
    auth: &SignedAuth<'_>,
    validated: &Validated<'_>,
    secret: &str,
    cache: &SigningKeyCache,
) -> Result<(), SigV4Error> {
    let uri_encoding = UriEncoding::for_service(&validated.scope.service);
    let payload = payload_hash(req, auth, uri_encoding)?;
    let canonical = canonical_request(&CanonicalInput {
        method: req.method.as_str(),
        raw_path: &req.path,
        raw_query: &req.query,
        exclude_query_param: (auth.location == AuthLocation::Query).then_some(QUERY_SIGNATURE),
        headers: &req.headers,
        signed_headers: &auth.signed_headers,
        payload_hash: &payload,
        uri_encoding,
    });
    // The string to sign carries the time as the client wrote it in X-Amz-Date; a `Date`
    // header is converted to basic format.
    let time_text: Cow<'_, str> = if auth.date_from_http_header {
        Cow::Owned(validated.time.to_basic())
    } else {
        Cow::Borrowed(&auth.date)
    };
    let scope = &validated.scope;
    let sts = string_to_sign_parts(
        &time_text,
        &[
            &scope.date,
            &scope.region,
            &scope.service,
            &scope.terminator,
        ],
        &canonical,
    );
    let key = cache.get(
        secret,
        &validated.scope.date,
        &validated.scope.region,
        &validated.scope.service,
    );
    let mut provided = [0u8; 32];
    let decoded = hex::decode_to_slice(auth.signature.as_bytes(), &mut provided).is_ok();
    let ok = match Hmac::<Sha256>::new_from_slice(&key) {
        Ok(mut mac) => {
            mac.update(sts.as_bytes());
            // `verify_slice` compares in constant time.
            decoded && mac.verify_slice(&provided).is_ok()
        }
        Err(_) => false,
    };
    if ok {
        Ok(())
    } else {
        Err(SigV4Error::SignatureMismatch {
            access_key_id: auth.access_key_id.to_string(),
            canonical_request: canonical,
            string_to_sign: sts,
            signature_provided: auth.signature.to_string(),
        })
    }
}

#[cfg(test)]
mod tests;
