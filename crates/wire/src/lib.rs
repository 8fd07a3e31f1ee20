//! nimbus-wire: everything that knows how bytes look on the wire.
//!
//! Invariant: services never see HTTP, JSON, XML or SigV4; they get typed requests
//! (nimbus-model) and return typed results or errors that end up here as [`AwsError`].

pub mod aws_chunked;
pub mod percent;
pub mod sigv4;

use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode};

/// An HTTP request as the gateway hands it to a protocol decoder: the whole body is
/// already read (and bounded by the gateway's body limit).
#[derive(Debug, Clone)]
pub struct AwsRequest {
    pub method: Method,
    /// Raw (still percent-encoded) path.
    pub path: String,
    /// Raw query string without the `?`.
    pub query: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// A fully encoded response.
#[derive(Debug, Clone)]
pub struct AwsResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// The wire protocol family of a service, as named by the AWS service models'
/// `metadata.protocol`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// `json` with `jsonVersion` 1.0 (DynamoDB, DynamoDB Streams).
    AwsJson10,
    /// `json` with `jsonVersion` 1.1 (CloudWatch Logs, ...).
    AwsJson11,
    /// `rest-json` (Lambda, API Gateway, ...).
    RestJson,
    /// `rest-xml` (S3, CloudFront, ...).
    RestXml,
    /// `query` (IAM, STS, SQS, SNS, ...).
    Query,
}

/// An error as AWS reports it: a code (the exception shape name), a message, the HTTP
/// status, and for JSON protocols any extra members of the error shape.
#[derive(Debug, Clone, PartialEq)]
pub struct AwsError {
    /// The error code, e.g. `ResourceNotFoundException`.
    pub code: String,
    pub message: String,
    pub status: StatusCode,
    /// `true` for client faults (`Sender` in query-protocol errors).
    pub sender_fault: bool,
    /// For JSON protocols: the namespace the `__type` is qualified with, e.g.
    /// `com.amazonaws.dynamodb.v20120810`. `None` emits the bare code.
    pub type_prefix: Option<String>,
    /// Extra members of the error shape (JSON protocols), e.g. DynamoDB's `Item` on
    /// `ConditionalCheckFailedException` or `CancellationReasons`.
    pub extra: serde_json::Map<String, serde_json::Value>,
}

impl AwsError {
    pub fn new(status: StatusCode, code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            message: message.into(),
            sender_fault: status.is_client_error(),
            status,
            type_prefix: None,
            extra: serde_json::Map::new(),
        }
    }

    pub fn with_type_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.type_prefix = Some(prefix.into());
        self
    }

    pub fn with_extra(mut self, key: &str, value: serde_json::Value) -> Self {
        self.extra.insert(key.to_string(), value);
        self
    }
}
