//! Hand-written support for the generated protocol layer.
//!
//! How the pieces fit:
//! - [`de`]: the [`de::Input`] abstraction every generated decoder is written against
//!   (implemented for JSON values in [`json`] and for query-parameter trees in
//!   [`query`]), and the [`de::Cx`] that carries the member path and the constraint
//!   violations found while decoding;
//! - [`validate`], [`render`]: AWS's constraint checks and its way of echoing values;
//! - [`json`], [`query`]: protocol codecs and response builders;
//! - [`encode_error`]: the AWS error envelope of every protocol.
//!
//! - [`rest_json`]: restJson routing (method + URI template), member binding to labels,
//!   query parameters, headers and the body (labels, query parameters and headers are read
//!   through the same [`de::Input`] trait as [`rest_json::TextInput`] string leaves), and
//!   responses with header/status/payload members. restXml would reuse the routing and
//!   text binding with an XML body input.

pub mod de;
pub mod json;
pub mod query;
pub mod render;
pub mod response;
pub mod rest_json;
pub mod time;
pub mod validate;

use bytes::Bytes;
use http::StatusCode;
use nimbus_wire::{AwsError, AwsResponse, Protocol};

pub use de::{Cx, DeError, Decode, Input, Pos};
pub use json::{JsonEncode, JsonWriter};
pub use query::{QueryValue, XmlEncode, XmlWriter};

/// Facts about a service that its codecs need; one `META` constant per generated module.
#[derive(Debug, Clone, Copy)]
pub struct ServiceMeta {
    /// `serviceId` from the model, e.g. `DynamoDB`.
    pub service_id: &'static str,
    pub protocol: Protocol,
    pub api_version: &'static str,
    /// awsJson: the `X-Amz-Target` prefix, e.g. `DynamoDB_20120810`.
    pub target_prefix: &'static str,
    /// query/restXml: the response namespace.
    pub xml_namespace: &'static str,
    /// awsJson: the namespace service errors are qualified with in `__type`.
    pub error_prefix: Option<&'static str>,
}

impl ServiceMeta {
    /// Fills in what a service-raised error leaves implicit: the `__type` namespace for
    /// JSON protocols, the XML namespace for the query protocol.
    pub fn qualify(&self, err: &AwsError) -> AwsError {
        let mut err = err.clone();
        if err.type_prefix.is_none() {
            err.type_prefix = match self.protocol {
                Protocol::Query | Protocol::RestXml => Some(self.xml_namespace.to_string()),
                _ => self.error_prefix.map(str::to_string),
            };
        }
        err
    }

    /// Encodes an error raised while handling a request for this service.
    pub fn error_response(&self, err: &AwsError, request_id: &str) -> AwsResponse {
        encode_error(self.protocol, &self.qualify(err), request_id)
    }
}

/// The default of every generated trait method: an AWS-shaped error saying nimbus does
/// not implement the operation yet.
pub fn not_implemented(meta: &ServiceMeta, operation: &str) -> AwsError {
    AwsError::new(
        StatusCode::NOT_IMPLEMENTED,
        "NotImplementedException",
        format!(
            "The operation {operation} of {} is not implemented by nimbus yet",
            meta.service_id
        ),
    )
}

/// awsJson: the error for a missing or unknown `X-Amz-Target`.
pub fn unknown_operation() -> AwsError {
    AwsError::new(StatusCode::BAD_REQUEST, "UnknownOperationException", "")
        .with_type_prefix("com.amazon.coral.service")
}

/// Encodes `err` as `protocol` does on the wire. Used by the dispatchers and by the
/// gateway for errors raised before dispatch (signature failures and the like).
///
/// - awsJson: `{"__type":"<prefix>#<Code>","message":"..."}` plus `err.extra`, with
///   `x-amzn-RequestId` and `x-amz-crc32`. An empty message is left out, as AWS does for
///   `UnknownOperationException` and bodies that are not JSON. `SerializationException`
///   spells its key `Message`, as AWS's request layer does.
/// - query: `<ErrorResponse xmlns="<type_prefix>"><Error><Type>Sender|Receiver</Type>
///   <Code/><Message/></Error><RequestId/></ErrorResponse>`; set `type_prefix` to the
///   service's XML namespace (see [`ServiceMeta::qualify`]).
/// - restJson: `{"message":"..."}` plus `err.extra`, with `x-amzn-ErrorType: <Code>` (a
///   service's modeled errors get their exact form from its generated `error_response`);
///   restXml: S3's `<Error>` document.
pub fn encode_error(protocol: Protocol, err: &AwsError, request_id: &str) -> AwsResponse {
    match protocol {
        // No `__type` on the wire for restJson: the code travels in `x-amzn-ErrorType`.
        Protocol::RestJson => rest_json::error_response(&[], err, request_id),
        Protocol::AwsJson10 | Protocol::AwsJson11 => {
            let mut w = JsonWriter::with_capacity(128);
            w.begin_object();
            w.key("__type");
            match &err.type_prefix {
                Some(p) if !p.is_empty() => w.string(&format!("{p}#{}", err.code)),
                _ => w.string(&err.code),
            }
            if !err.message.is_empty() {
                w.key(if err.code == "SerializationException" {
                    "Message"
                } else {
                    "message"
                });
                w.string(&err.message);
            }
            for (k, v) in &err.extra {
                w.key(k);
                w.value(v);
            }
            w.end_object();
            let body = Bytes::from(w.into_bytes());
            response::json(protocol, err.status, body, request_id)
        }
        Protocol::Query => {
            let mut w = XmlWriter::with_capacity(256);
            w.start_with_ns("ErrorResponse", err.type_prefix.as_deref().unwrap_or(""));
            w.start("Error");
            w.element(
                "Type",
                if err.sender_fault {
                    "Sender"
                } else {
                    "Receiver"
                },
            );
            w.element("Code", &err.code);
            w.element("Message", &err.message);
            w.end("Error");
            w.element("RequestId", request_id);
            w.end("ErrorResponse");
            response::xml(err.status, Bytes::from(w.into_string()), request_id)
        }
        Protocol::RestXml => {
            let mut w = XmlWriter::with_capacity(256);
            w.declaration();
            w.start("Error");
            w.element("Code", &err.code);
            w.element("Message", &err.message);
            for (k, v) in &err.extra {
                match v {
                    serde_json::Value::String(s) => w.element(k, s),
                    other => w.element(k, &other.to_string()),
                }
            }
            w.element("RequestId", request_id);
            w.end("Error");
            response::rest_xml(err.status, Bytes::from(w.into_string()), request_id)
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn json_error_envelope_has_crc_and_request_id() {
        let err = AwsError::new(
            StatusCode::BAD_REQUEST,
            "ResourceNotFoundException",
            "Requested resource not found",
        )
        .with_type_prefix("com.amazonaws.dynamodb.v20120810");
        let resp = encode_error(Protocol::AwsJson10, &err, "RID");
        let body = std::str::from_utf8(&resp.body).unwrap();
        assert_eq!(
            body,
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#ResourceNotFoundException","message":"Requested resource not found"}"#
        );
        assert_eq!(resp.status, StatusCode::BAD_REQUEST);
        assert_eq!(resp.headers["x-amzn-requestid"], "RID");
        assert_eq!(
            resp.headers["x-amz-crc32"].to_str().unwrap(),
            crc32fast::hash(body.as_bytes()).to_string()
        );
        assert_eq!(resp.headers["content-type"], "application/x-amz-json-1.0");
    }

    #[test]
    fn query_error_envelope() {
        let err = AwsError::new(
            StatusCode::NOT_FOUND,
            "NoSuchEntity",
            "The user with name bob cannot be found.",
        )
        .with_type_prefix("https://iam.amazonaws.com/doc/2010-05-08/");
        let resp = encode_error(Protocol::Query, &err, "RID");
        assert_eq!(
            std::str::from_utf8(&resp.body).unwrap(),
            "<ErrorResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><Error><Type>Sender</Type>\
             <Code>NoSuchEntity</Code><Message>The user with name bob cannot be found.</Message></Error>\
             <RequestId>RID</RequestId></ErrorResponse>"
        );
        assert_eq!(resp.status, StatusCode::NOT_FOUND);
    }

    #[test]
    fn rest_json_gateway_errors_name_the_code_in_a_header() {
        let err = AwsError::new(
            StatusCode::FORBIDDEN,
            "InvalidSignatureException",
            "The request signature we calculated does not match the signature you provided.",
        )
        .with_type_prefix("com.amazon.coral.service");
        let resp = encode_error(Protocol::RestJson, &err, "RID");
        assert_eq!(resp.status, StatusCode::FORBIDDEN);
        assert_eq!(
            resp.headers["x-amzn-errortype"],
            "InvalidSignatureException"
        );
        assert_eq!(resp.headers["x-amzn-requestid"], "RID");
        assert_eq!(resp.headers["content-type"], "application/json");
        assert_eq!(
            std::str::from_utf8(&resp.body).unwrap(),
            r#"{"message":"The request signature we calculated does not match the signature you provided."}"#
        );
    }

    #[test]
    fn serialization_errors_spell_message_capitalized_and_may_omit_it() {
        let resp = encode_error(
            Protocol::AwsJson10,
            &json::serialization_error("Unexpected field type"),
            "r",
        );
        assert_eq!(
            std::str::from_utf8(&resp.body).unwrap(),
            r#"{"__type":"com.amazon.coral.service#SerializationException","Message":"Unexpected field type"}"#
        );
        let resp = encode_error(Protocol::AwsJson10, &unknown_operation(), "r");
        assert_eq!(
            std::str::from_utf8(&resp.body).unwrap(),
            r#"{"__type":"com.amazon.coral.service#UnknownOperationException"}"#
        );
    }
}
