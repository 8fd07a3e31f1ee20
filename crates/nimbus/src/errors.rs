//! Errors the gateway raises before any service runs (auth failures, unknown or
//! unavailable services, oversized bodies), encoded with the model runtime's envelopes.

use http::StatusCode;
use nimbus_wire::{AwsError, AwsResponse, Protocol};

use crate::router::ServiceId;

/// Encodes `err` as `protocol` does on the wire (the model runtime's envelopes).
pub fn encode(protocol: Protocol, err: &AwsError, request_id: &str) -> AwsResponse {
    nimbus_model::encode_error(protocol, err, request_id)
}

/// Qualifies an error for a service: query-protocol errors carry the service's XML
/// namespace; JSON errors keep the prefix they were raised with.
pub fn for_service(service: ServiceId, protocol: Protocol, err: AwsError) -> AwsError {
    if protocol == Protocol::Query && err.type_prefix.is_none() {
        let ns = service.info().xml_namespace;
        return err.with_type_prefix(ns);
    }
    err
}

/// A request for a service nimbus knows of but does not serve yet.
pub fn service_unavailable(service: ServiceId) -> AwsError {
    let message = format!(
        "Service '{}' is not available in this nimbus yet",
        service.name()
    );
    let err = AwsError::new(StatusCode::NOT_IMPLEMENTED, "NotImplemented", message);
    match service.info().protocol {
        Protocol::AwsJson10 | Protocol::AwsJson11 | Protocol::RestJson => {
            let mut e = err;
            e.code = "NotImplementedException".into();
            e
        }
        _ => err,
    }
}

/// A request nothing identifies a service for.
pub fn unknown_service() -> AwsError {
    AwsError::new(
        StatusCode::BAD_REQUEST,
        "UnknownService",
        "nimbus could not tell which AWS service this request is for: no known X-Amz-Target, SigV4 credential scope, Host, path or Action",
    )
}

/// A body over the limit.
pub fn too_large(limit_bytes: usize) -> AwsError {
    AwsError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "RequestEntityTooLarge",
        format!("Request payload size exceeds the limit of {limit_bytes} bytes"),
    )
}

/// A body that did not arrive in time.
pub fn body_timeout() -> AwsError {
    AwsError::new(
        StatusCode::REQUEST_TIMEOUT,
        "RequestTimeout",
        "Your socket connection to the server was not read from or written to within the timeout period.",
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn json_envelope() {
        let e = AwsError::new(
            StatusCode::BAD_REQUEST,
            "MissingAuthenticationTokenException",
            "Request is missing Authentication Token",
        )
        .with_type_prefix("com.amazon.coral.service");
        let r = encode(Protocol::AwsJson10, &e, "rid");
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert_eq!(r.headers["content-type"], "application/x-amz-json-1.0");
        let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(
            v["__type"],
            "com.amazon.coral.service#MissingAuthenticationTokenException"
        );
        assert_eq!(v["message"], "Request is missing Authentication Token");
    }

    #[test]
    fn query_envelope_escapes() {
        let e = for_service(
            ServiceId::Sts,
            Protocol::Query,
            AwsError::new(
                StatusCode::FORBIDDEN,
                "SignatureDoesNotMatch",
                "a <b> & 'c'",
            ),
        );
        let r = encode(Protocol::Query, &e, "rid");
        assert_eq!(
            std::str::from_utf8(&r.body).unwrap(),
            "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error><Type>Sender</Type><Code>SignatureDoesNotMatch</Code><Message>a &lt;b&gt; &amp; 'c'</Message></Error><RequestId>rid</RequestId></ErrorResponse>"
        );
        assert_eq!(r.status, StatusCode::FORBIDDEN);
    }

    #[test]
    fn unavailable_service_in_its_protocol() {
        let e = service_unavailable(ServiceId::Sqs);
        assert_eq!(e.code, "NotImplemented");
        assert!(e.message.contains("'sqs'"));
        let e = service_unavailable(ServiceId::Logs);
        assert_eq!(e.code, "NotImplementedException");
        assert_eq!(e.status, StatusCode::NOT_IMPLEMENTED);
    }
}
