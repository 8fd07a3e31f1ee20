//! Building encoded responses: headers every protocol sets.

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue, CONTENT_TYPE};
use http::{HeaderMap, StatusCode};
use nimbus_wire::{AwsResponse, Protocol};

static X_AMZN_REQUEST_ID: HeaderName = HeaderName::from_static("x-amzn-requestid");
static X_AMZ_REQUEST_ID: HeaderName = HeaderName::from_static("x-amz-request-id");
static X_AMZ_CRC32: HeaderName = HeaderName::from_static("x-amz-crc32");

fn request_id_value(request_id: &str) -> HeaderValue {
    HeaderValue::from_str(request_id).unwrap_or_else(|_| HeaderValue::from_static("invalid"))
}

/// The `Content-Type` of a JSON protocol.
pub fn json_content_type(protocol: Protocol) -> HeaderValue {
    match protocol {
        Protocol::AwsJson11 => HeaderValue::from_static("application/x-amz-json-1.1"),
        Protocol::RestJson => HeaderValue::from_static("application/json"),
        _ => HeaderValue::from_static("application/x-amz-json-1.0"),
    }
}

/// A JSON response with `x-amzn-RequestId` and `x-amz-crc32`. The checksum is what
/// DynamoDB sends (botocore verifies it when present and retries on a mismatch); other
/// JSON services' clients ignore it, so it is sent for every JSON protocol.
pub fn json(protocol: Protocol, status: StatusCode, body: Bytes, request_id: &str) -> AwsResponse {
    let mut headers = HeaderMap::with_capacity(4);
    headers.insert(CONTENT_TYPE, json_content_type(protocol));
    headers.insert(X_AMZN_REQUEST_ID.clone(), request_id_value(request_id));
    let crc = crc32fast::hash(&body);
    headers.insert(X_AMZ_CRC32.clone(), HeaderValue::from(crc));
    AwsResponse {
        status,
        headers,
        body,
    }
}

/// An XML response (query protocol).
pub fn xml(status: StatusCode, body: Bytes, request_id: &str) -> AwsResponse {
    let mut headers = HeaderMap::with_capacity(3);
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/xml"));
    headers.insert(X_AMZN_REQUEST_ID.clone(), request_id_value(request_id));
    AwsResponse {
        status,
        headers,
        body,
    }
}

/// A rest-xml response (S3 names its request id header differently).
pub fn rest_xml(status: StatusCode, body: Bytes, request_id: &str) -> AwsResponse {
    let mut headers = HeaderMap::with_capacity(3);
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/xml"));
    headers.insert(X_AMZ_REQUEST_ID.clone(), request_id_value(request_id));
    AwsResponse {
        status,
        headers,
        body,
    }
}
