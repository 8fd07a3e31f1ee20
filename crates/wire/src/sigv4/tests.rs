#![allow(clippy::unwrap_used)]
//! SigV4 tests: AWS's published test-suite vectors (signing and verifying), botocore-shaped
//! round trips, and every validation error in AWS's order.

use super::*;
use bytes::Bytes;
use http::{HeaderMap, Method};

const SUITE_AKID: &str = "AKIDEXAMPLE";
const SUITE_SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const SUITE_TIME: &str = "20150830T123600Z";

fn request(
    method: &str,
    path: &str,
    query: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> AwsRequest {
    let mut h = HeaderMap::new();
    for (k, v) in headers {
        h.append(
            http::header::HeaderName::from_bytes(k.to_ascii_lowercase().as_bytes()).unwrap(),
            v.parse().unwrap(),
        );
    }
    AwsRequest {
        method: Method::from_bytes(method.as_bytes()).unwrap(),
        path: path.to_string(),
        query: query.to_string(),
        headers: h,
        body: Bytes::copy_from_slice(body),
    }
}

fn suite_params(service: &'static str) -> SigningParams<'static> {
    SigningParams {
        credentials: SigningCredentials {
            access_key_id: SUITE_AKID,
            secret_access_key: SUITE_SECRET,
            session_token: None,
        },
        region: "us-east-1",
        service,
        time: AmzDate::parse_basic(SUITE_TIME).unwrap(),
        unsigned_payload: false,
    }
}

/// Signs a suite request and checks the signature, then verifies it as the server would.
fn check_vector(
    method: &str,
    path: &str,
    query: &str,
    extra: &[(&str, &str)],
    body: &[u8],
    expected: &str,
) {
    let mut headers = vec![("host", "example.amazonaws.com")];
    headers.extend_from_slice(extra);
    let mut req = request(method, path, query, &headers, body);
    let out = sign_aws_request(&mut req, &suite_params("service"), None).unwrap();
    assert_eq!(
        out.signature, expected,
        "signature for {method} {path}?{query}\n{}",
        out.canonical_request
    );

    let auth = parse(&req).unwrap().unwrap();
    let now = AmzDate::parse_basic(SUITE_TIME).unwrap();
    let validated = validate(&auth, now, &["service"]).unwrap();
    verify_signature(
        &req,
        &auth,
        &validated,
        SUITE_SECRET,
        &SigningKeyCache::default(),
    )
    .unwrap();
}

#[test]
fn aws_suite_get_vanilla() {
    check_vector(
        "GET",
        "/",
        "",
        &[],
        b"",
        "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
    );
}

#[test]
fn aws_suite_get_vanilla_query_order_key_case() {
    check_vector(
        "GET",
        "/",
        "Param2=value2&Param1=value1",
        &[],
        b"",
        "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500",
    );
}

#[test]
fn aws_suite_get_unreserved() {
    check_vector(
        "GET",
        "/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
        "",
        &[],
        b"",
        "07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f",
    );
}

#[test]
fn aws_suite_get_header_value_trim() {
    check_vector(
        "GET",
        "/",
        "",
        &[("My-Header1", " value1"), ("My-Header2", " \"a   b   c\"")],
        b"",
        "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736",
    );
}

#[test]
fn aws_suite_get_header_value_order() {
    check_vector(
        "GET",
        "/",
        "",
        &[
            ("My-Header1", "value4"),
            ("My-Header1", "value1"),
            ("My-Header1", "value3"),
            ("My-Header1", "value2"),
        ],
        b"",
        "08c7e5a9acfcfeb3ab6b2185e75ce8b1deb5e634ec47601a50643f830c755c01",
    );
}

#[test]
fn aws_suite_post_vanilla() {
    check_vector(
        "POST",
        "/",
        "",
        &[],
        b"",
        "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b",
    );
}

#[test]
fn aws_suite_post_vanilla_query() {
    check_vector(
        "POST",
        "/",
        "Param1=value1",
        &[],
        b"",
        "28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11",
    );
}

#[test]
fn aws_suite_post_header_key_case() {
    check_vector(
        "POST",
        "/",
        "",
        &[("MY-HEADER1", "value1")],
        b"",
        "c5410059b04c1ee005303aed430f6e6645f61f4dc9e1461ec8f8916fdf18852c",
    );
}

#[test]
fn aws_suite_post_x_www_form_urlencoded() {
    check_vector(
        "POST",
        "/",
        "",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        b"Param1=value1",
        "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a",
    );
}

#[test]
fn aws_suite_get_relative_normalized() {
    // Same canonical URI as get-vanilla, so the same signature.
    check_vector(
        "GET",
        "/example/..",
        "",
        &[],
        b"",
        "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
    );
}

/// The S3 documentation's "GET Object" example (header auth, single URI encoding,
/// `x-amz-content-sha256`).
#[test]
fn s3_docs_get_object_header_example() {
    let req = request(
        "GET",
        "/test.txt",
        "",
        &[
            ("Host", "examplebucket.s3.amazonaws.com"),
            ("Range", "bytes=0-9"),
            ("x-amz-content-sha256", EMPTY_SHA256),
            ("x-amz-date", "20130524T000000Z"),
            (
                "Authorization",
                "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
            ),
        ],
        b"",
    );
    let auth = parse(&req).unwrap().unwrap();
    let now = AmzDate::parse_basic("20130524T000500Z").unwrap();
    let v = validate(&auth, now, &["s3"]).unwrap();
    verify_signature(
        &req,
        &auth,
        &v,
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        &SigningKeyCache::default(),
    )
    .unwrap();
}

/// The S3 documentation's presigned URL example.
#[test]
fn s3_docs_presigned_url_example() {
    let params = SigningParams {
        credentials: SigningCredentials {
            access_key_id: "AKIAIOSFODNN7EXAMPLE",
            secret_access_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            session_token: None,
        },
        region: "us-east-1",
        service: "s3",
        time: AmzDate::parse_basic("20130524T000000Z").unwrap(),
        unsigned_payload: true,
    };
    let query = presign_query(
        "GET",
        "/test.txt",
        "",
        "examplebucket.s3.amazonaws.com",
        &params,
        86_400,
    )
    .unwrap();
    assert!(
        query.ends_with(
            "X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
        ),
        "{query}"
    );

    let req = request(
        "GET",
        "/test.txt",
        &query,
        &[("Host", "examplebucket.s3.amazonaws.com")],
        b"",
    );
    let auth = parse(&req).unwrap().unwrap();
    assert_eq!(auth.location, AuthLocation::Query);
    assert_eq!(auth.access_key_id, "AKIAIOSFODNN7EXAMPLE");
    let secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    let cache = SigningKeyCache::default();

    // Valid an hour later.
    let now = AmzDate::parse_basic("20130524T010000Z").unwrap();
    let v = validate(&auth, now, &["s3"]).unwrap();
    verify_signature(&req, &auth, &v, secret, &cache).unwrap();

    // Expired after a day.
    let later = AmzDate::parse_basic("20130525T000001Z").unwrap();
    match validate(&auth, later, &["s3"]) {
        Err(SigV4Error::PresignedExpired { expires_secs, .. }) => assert_eq!(expires_secs, 86_400),
        other => panic!("{other:?}"),
    }

    // A changed path breaks the signature.
    let mut tampered = req.clone();
    tampered.path = "/other.txt".into();
    assert!(matches!(
        verify_signature(&tampered, &auth, &v, secret, &cache),
        Err(SigV4Error::SignatureMismatch { .. })
    ));
}

#[test]
fn presigned_limits() {
    let base = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKID%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-SignedHeaders=host&X-Amz-Signature=00";
    let now = AmzDate::parse_basic("20130524T000000Z").unwrap();
    let check = |expires: &str| {
        let req = request(
            "GET",
            "/b/k",
            &format!("{base}&X-Amz-Expires={expires}"),
            &[("host", "h")],
            b"",
        );
        let auth = parse(&req).unwrap().unwrap();
        validate(&auth, now, &["s3"]).map(|_| ())
    };
    assert!(check("604800").is_ok());
    assert_eq!(
        check("604801").unwrap_err(),
        SigV4Error::PresignedQuery(
            "X-Amz-Expires must be less than a week (in seconds) that is; 604800 seconds".into()
        )
    );
    assert_eq!(
        check("abc").unwrap_err(),
        SigV4Error::PresignedQuery("X-Amz-Expires should be a number".into())
    );
    assert_eq!(
        check("-1").unwrap_err(),
        SigV4Error::PresignedQuery("X-Amz-Expires must be non-negative".into())
    );

    let req = request(
        "GET",
        "/b/k",
        "X-Amz-Algorithm=AWS4-HMAC-SHA256",
        &[("host", "h")],
        b"",
    );
    assert!(
        matches!(parse(&req), Err(SigV4Error::PresignedQuery(m)) if m.starts_with("Query-string authentication version 4 requires"))
    );
}

fn botocore_dynamodb_request(body: &[u8]) -> AwsRequest {
    request(
        "POST",
        "/",
        "",
        &[
            ("Host", "localhost:4566"),
            ("Content-Type", "application/x-amz-json-1.0"),
            ("X-Amz-Target", "DynamoDB_20120810.ListTables"),
            ("User-Agent", "Boto3/1.35.0 md/Botocore#1.35.0"),
            ("Content-Length", &body.len().to_string()),
        ],
        body,
    )
}

fn sign_at(req: &mut AwsRequest, service: &'static str, time: &str, secret: &'static str) {
    let mut params = suite_params(service);
    params.credentials.secret_access_key = secret;
    params.time = AmzDate::parse_basic(time).unwrap();
    sign_aws_request(req, &params, None).unwrap();
}

#[test]
fn round_trip_botocore_shaped_dynamodb() {
    let mut req = botocore_dynamodb_request(b"{}");
    sign_at(&mut req, "dynamodb", "20261126T000000Z", "secret");
    let auth = parse(&req).unwrap().unwrap();
    // botocore-like: user-agent is not signed.
    assert_eq!(
        auth.signed_headers,
        vec![
            "content-length",
            "content-type",
            "host",
            "x-amz-date",
            "x-amz-target"
        ]
    );
    assert_eq!(auth.region(), Some("us-east-1"));
    assert_eq!(auth.service(), Some("dynamodb"));
    let now = AmzDate::parse_basic("20261126T000100Z").unwrap();
    let v = validate(&auth, now, &["dynamodb"]).unwrap();
    let cache = SigningKeyCache::default();
    verify_signature(&req, &auth, &v, "secret", &cache).unwrap();
    // Served from the cache the second time; same answer.
    verify_signature(&req, &auth, &v, "secret", &cache).unwrap();
    assert_eq!(cache.len(), 1);

    // Wrong secret.
    let err = verify_signature(&req, &auth, &v, "other", &cache).unwrap_err();
    let SigV4Error::SignatureMismatch {
        canonical_request,
        string_to_sign,
        ..
    } = err
    else {
        panic!("{err:?}")
    };
    assert!(canonical_request.starts_with("POST\n/\n\ncontent-length:2\n"));
    assert!(string_to_sign.starts_with(
        "AWS4-HMAC-SHA256\n20261126T000000Z\n20261126/us-east-1/dynamodb/aws4_request\n"
    ));

    // Changed body.
    let mut tampered = req.clone();
    tampered.body = Bytes::from_static(b"{ }");
    assert!(verify_signature(&tampered, &auth, &v, "secret", &cache).is_err());

    // Changed signed header.
    let mut tampered = req.clone();
    tampered.headers.insert(
        "x-amz-target",
        "DynamoDB_20120810.DeleteTable".parse().unwrap(),
    );
    assert!(verify_signature(&tampered, &auth, &v, "secret", &cache).is_err());

    // An unsigned header may change freely.
    let mut tampered = req.clone();
    tampered
        .headers
        .insert("user-agent", "other".parse().unwrap());
    assert!(verify_signature(&tampered, &auth, &v, "secret", &cache).is_ok());
}

#[test]
fn round_trip_with_session_token_and_query_service() {
    let mut req = request(
        "POST",
        "/",
        "",
        &[
            ("Host", "localhost:4566"),
            (
                "Content-Type",
                "application/x-www-form-urlencoded; charset=utf-8",
            ),
        ],
        b"Action=GetCallerIdentity&Version=2011-06-15",
    );
    let mut params = suite_params("sts");
    params.credentials.session_token = Some("FQoGZXIvYXdzE//token+/=");
    params.time = AmzDate::parse_basic("20261126T000000Z").unwrap();
    sign_aws_request(&mut req, &params, None).unwrap();
    let auth = parse(&req).unwrap().unwrap();
    assert_eq!(
        auth.security_token.as_deref(),
        Some("FQoGZXIvYXdzE//token+/=")
    );
    assert!(auth
        .signed_headers
        .iter()
        .any(|h| h == "x-amz-security-token"));
    let v = validate(
        &auth,
        AmzDate::parse_basic("20261126T000000Z").unwrap(),
        &["sts"],
    )
    .unwrap();
    verify_signature(&req, &auth, &v, SUITE_SECRET, &SigningKeyCache::default()).unwrap();
}

#[test]
fn round_trip_encoded_path_and_query_for_both_uri_rules() {
    for service in ["lambda", "s3"] {
        let mut req = request(
            "GET",
            "/2015-03-31/functions/my%20fn/a%2Fb",
            "Marker=a%2Fb&MaxItems=10&empty",
            &[("Host", "localhost:4566")],
            b"",
        );
        sign_at(&mut req, service, "20261126T000000Z", "s");
        let auth = parse(&req).unwrap().unwrap();
        let v = validate(
            &auth,
            AmzDate::parse_basic("20261126T000000Z").unwrap(),
            &[service],
        )
        .unwrap();
        verify_signature(&req, &auth, &v, "s", &SigningKeyCache::default()).unwrap();
    }
}

#[test]
fn date_header_instead_of_x_amz_date() {
    // Sign with X-Amz-Date, then move the time into a Date header: the server must use it.
    let mut req = botocore_dynamodb_request(b"{}");
    sign_at(&mut req, "dynamodb", "20261126T000000Z", "s");
    let auth_header = req
        .headers
        .get("authorization")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    let auth = parse(&req).unwrap().unwrap();
    assert!(!auth.date_from_http_header);

    let mut req2 = req.clone();
    req2.headers.remove("x-amz-date");
    req2.headers
        .insert("date", "Thu, 26 Nov 2026 00:00:00 GMT".parse().unwrap());
    let auth2 = parse(&req2).unwrap().unwrap();
    assert!(auth2.date_from_http_header);
    assert_eq!(auth2.raw_header, auth_header);
    let v = validate(
        &auth2,
        AmzDate::parse_basic("20261126T000000Z").unwrap(),
        &["dynamodb"],
    )
    .unwrap();
    assert_eq!(v.time.to_basic(), "20261126T000000Z");
}

fn with_auth(auth: &str, extra: &[(&str, &str)]) -> AwsRequest {
    let mut headers = vec![("host", "localhost:4566"), ("authorization", auth)];
    headers.extend_from_slice(extra);
    request("POST", "/", "", &headers, b"{}")
}

const GOOD_AUTH: &str = "AWS4-HMAC-SHA256 Credential=AKID/20261126/us-east-1/dynamodb/aws4_request, SignedHeaders=host;x-amz-date, Signature=abcd";

#[test]
fn unsigned_and_non_sigv4_requests_are_not_authenticated() {
    let req = request("POST", "/", "", &[("host", "h")], b"");
    assert_eq!(parse(&req).unwrap(), None);
    let req = with_auth("AWS AKID:signature", &[]);
    assert_eq!(parse(&req).unwrap(), None);
    let req = request("GET", "/", "X-Amz-Foo=1", &[("host", "h")], b"");
    assert_eq!(parse(&req).unwrap(), None);
}

#[test]
fn incomplete_header_lists_everything_missing() {
    let auth = "AWS4-HMAC-SHA256 Signature=b";
    let err = parse(&with_auth(auth, &[])).unwrap_err();
    assert_eq!(
        err,
        SigV4Error::Incomplete(format!(
            "Authorization header requires 'Credential' parameter. Authorization header requires 'SignedHeaders' parameter. Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. Authorization={auth}"
        ))
    );
    let err = parse(&with_auth(
        "AWS4-HMAC-SHA256 Signature=b, Credential, SignedHeaders=x",
        &[],
    ))
    .unwrap_err();
    assert_eq!(
        err,
        SigV4Error::Incomplete("'Credential' not a valid key=value pair (missing equal-sign) in Authorization header: 'AWS4-HMAC-SHA256 Signature=b, Credential, SignedHeaders=x'.".into())
    );
}

#[test]
fn validation_errors_in_aws_order() {
    let now = AmzDate::parse_basic("20261126T001500Z").unwrap();
    let run = |auth: &str, date: &str| {
        let req = with_auth(auth, &[("x-amz-date", date)]);
        validate(&parse(&req).unwrap().unwrap(), now, &["dynamodb"]).map(|_| ())
    };
    assert!(run(GOOD_AUTH, "20261126T001000Z").is_ok());

    assert_eq!(
        run(GOOD_AUTH, "201").unwrap_err(),
        SigV4Error::InvalidDate("201".into())
    );
    assert_eq!(
        run(GOOD_AUTH, "201").unwrap_err().to_string(),
        "Date must be in ISO-8601 'basic format'. Got '201'. See http://en.wikipedia.org/wiki/ISO_8601"
    );
    assert_eq!(
        run(GOOD_AUTH, "20261125T235959Z").unwrap_err().to_string(),
        "Signature expired: 20261125T235959Z is now earlier than 20261126T000000Z (20261126T001500Z - 15 min.)"
    );
    // Exactly 15 minutes is still fine.
    assert!(run(GOOD_AUTH, "20261126T000000Z").is_ok());
    assert!(run(GOOD_AUTH, "20261126T003000Z").is_ok());
    assert_eq!(
        run(GOOD_AUTH, "20261126T003001Z").unwrap_err().to_string(),
        "Signature not yet current: 20261126T003001Z is still later than 20261126T003000Z (20261126T001500Z + 15 min.)"
    );
    assert_eq!(
        run("AWS4-HMAC-SHA256 Credential=AKID/20261126/us-east-1/dynamodb/aws4_request, SignedHeaders=x-amz-date, Signature=abcd", "20261126T001000Z").unwrap_err(),
        SigV4Error::HostNotSigned
    );
    assert_eq!(
        run("AWS4-HMAC-SHA25 Credential=AKID/20261126/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=abcd", "20261126T001000Z").unwrap_err().to_string(),
        "Unsupported AWS 'algorithm': 'AWS4-HMAC-SHA25' (only AWS4-HMAC-SHA256 for now). "
    );
    assert_eq!(
        run("AWS4-HMAC-SHA256 Credential=a/b/c/d, SignedHeaders=host, Signature=abcd", "20261126T001000Z").unwrap_err().to_string(),
        "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got 'a/b/c/d'"
    );
    // Trailing slashes are ignored.
    assert!(run("AWS4-HMAC-SHA256 Credential=AKID/20261126/us-east-1/dynamodb/aws4_request/, SignedHeaders=host, Signature=abcd", "20261126T001000Z").is_ok());
    assert_eq!(
        run("AWS4-HMAC-SHA256 Credential=a/b/C!/d/e, SignedHeaders=host, Signature=abcd", "20261126T001000Z").unwrap_err().to_string(),
        "Credential should be scoped to a valid region, not 'C!'. Credential should be scoped to correct service: 'dynamodb'. Credential should be scoped with a valid terminator: 'aws4_request', not 'e'. Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: 'b' != '20261126', from '20261126T001000Z'."
    );
}

#[test]
fn error_mapping_covers_protocols() {
    let e = SigV4Error::HostNotSigned.to_aws_error(crate::Protocol::AwsJson10);
    assert_eq!(e.code, "InvalidSignatureException");
    assert_eq!(
        e.message,
        "'Host' must be a 'SignedHeader' in the AWS Authorization."
    );
    let e = SigV4Error::HostNotSigned.to_aws_error(crate::Protocol::Query);
    assert_eq!(e.code, "SignatureDoesNotMatch");
    assert_eq!(e.status, http::StatusCode::FORBIDDEN);
}

#[test]
fn s3_content_sha256_must_match_body() {
    let mut req = request("PUT", "/b/k", "", &[("Host", "localhost:4566")], b"hello");
    sign_at(&mut req, "s3", "20261126T000000Z", "s");
    let auth = parse(&req).unwrap().unwrap();
    let v = validate(
        &auth,
        AmzDate::parse_basic("20261126T000000Z").unwrap(),
        &["s3"],
    )
    .unwrap();
    verify_signature(&req, &auth, &v, "s", &SigningKeyCache::default()).unwrap();
    let mut tampered = req.clone();
    tampered.body = Bytes::from_static(b"HELLO");
    assert!(matches!(
        verify_signature(&tampered, &auth, &v, "s", &SigningKeyCache::default()),
        Err(SigV4Error::ContentSha256Mismatch { .. })
    ));

    // UNSIGNED-PAYLOAD lets the body vary.
    let mut req = request("PUT", "/b/k", "", &[("Host", "localhost:4566")], b"hello");
    let mut params = suite_params("s3");
    params.unsigned_payload = true;
    sign_aws_request(&mut req, &params, None).unwrap();
    req.body = Bytes::from_static(b"anything");
    let auth = parse(&req).unwrap().unwrap();
    let v = validate(&auth, params.time, &["s3"]).unwrap();
    verify_signature(&req, &auth, &v, SUITE_SECRET, &SigningKeyCache::default()).unwrap();
}

#[test]
fn malformed_signatures_never_panic() {
    let now = AmzDate::parse_basic("20261126T000000Z").unwrap();
    for sig in ["", "zz", "abcd", &"0".repeat(64), &"é".repeat(40)] {
        let auth = format!("AWS4-HMAC-SHA256 Credential=AKID/20261126/us-east-1/dynamodb/aws4_request, SignedHeaders=host;x-amz-date, Signature={sig}");
        let req = with_auth(&auth, &[("x-amz-date", "20261126T000000Z")]);
        if let Ok(Some(a)) = parse(&req) {
            let v = validate(&a, now, &["dynamodb"]).unwrap();
            assert!(verify_signature(&req, &a, &v, "s", &SigningKeyCache::default()).is_err());
        }
    }
}
