//! The one place Lambda's failures become AWS errors: codes, HTTP statuses and messages as
//! AWS sends them (the rest-json codec adds Lambda's `"Type": "User"`/`"Service"`).

use http::StatusCode;
use nimbus_store::StoreError;
use nimbus_wire::AwsError;

/// A failure inside an operation: an AWS error for the client, or the store's.
#[derive(Debug)]
pub enum Fail {
    Aws(AwsError),
    Store(StoreError),
}

impl From<StoreError> for Fail {
    fn from(e: StoreError) -> Self {
        Fail::Store(e)
    }
}

impl From<AwsError> for Fail {
    fn from(e: AwsError) -> Self {
        Fail::Aws(e)
    }
}

impl From<Fail> for AwsError {
    fn from(f: Fail) -> Self {
        match f {
            Fail::Aws(e) => e,
            Fail::Store(e) => {
                tracing::error!(error = %e, "lambda store error");
                service_exception(format!("Internal error: {e}"))
            }
        }
    }
}

pub type Result<T> = std::result::Result<T, Fail>;

/// A modeled client error (the codec adds `"Type": "User"` and the model's message key).
fn user(status: StatusCode, code: &str, message: impl Into<String>) -> AwsError {
    nimbus_model::lambda::META.qualify(&AwsError::new(status, code, message))
}

pub fn resource_not_found(message: impl Into<String>) -> AwsError {
    user(StatusCode::NOT_FOUND, "ResourceNotFoundException", message)
}

pub fn resource_conflict(message: impl Into<String>) -> AwsError {
    user(StatusCode::CONFLICT, "ResourceConflictException", message)
}

pub fn invalid_parameter(message: impl Into<String>) -> AwsError {
    user(
        StatusCode::BAD_REQUEST,
        "InvalidParameterValueException",
        message,
    )
}

pub fn invalid_request_content(message: impl Into<String>) -> AwsError {
    user(
        StatusCode::BAD_REQUEST,
        "InvalidRequestContentException",
        message,
    )
}

pub fn validation(message: impl Into<String>) -> AwsError {
    AwsError::new(StatusCode::BAD_REQUEST, "ValidationException", message)
}

pub fn precondition_failed(message: impl Into<String>) -> AwsError {
    user(
        StatusCode::PRECONDITION_FAILED,
        "PreconditionFailedException",
        message,
    )
}

pub fn request_too_large(message: impl Into<String>) -> AwsError {
    user(
        StatusCode::PAYLOAD_TOO_LARGE,
        "RequestTooLargeException",
        message,
    )
}

pub fn code_storage_exceeded(message: impl Into<String>) -> AwsError {
    user(
        StatusCode::BAD_REQUEST,
        "CodeStorageExceededException",
        message,
    )
}

pub fn too_many_requests(reason: &str) -> AwsError {
    user(
        StatusCode::TOO_MANY_REQUESTS,
        "TooManyRequestsException",
        "Rate Exceeded.",
    )
    .with_extra("Reason", serde_json::json!(reason))
}

pub fn invalid_runtime(message: impl Into<String>) -> AwsError {
    user(StatusCode::BAD_GATEWAY, "InvalidRuntimeException", message)
}

pub fn service_exception(message: impl Into<String>) -> AwsError {
    nimbus_model::lambda::errors::service_exception(message)
}

pub fn access_denied(message: impl Into<String>) -> AwsError {
    user(StatusCode::FORBIDDEN, "AccessDeniedException", message)
}

/// `Function not found: <arn>` (the ARN is qualified when a qualifier was named).
pub fn function_not_found(arn: &str) -> AwsError {
    resource_not_found(format!("Function not found: {arn}"))
}

/// The generic not-found of layers, policies, URL configs, ...
pub fn resource_missing() -> AwsError {
    resource_not_found("The resource you requested does not exist.")
}

pub fn role_cannot_be_assumed() -> AwsError {
    invalid_parameter("The role defined for the function cannot be assumed by Lambda.")
}

pub fn revision_mismatch() -> AwsError {
    precondition_failed(
        "The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id",
    )
}

/// `1 validation error detected: Value '901' at 'timeout' failed to satisfy constraint: ...`
pub fn value_constraint(value: impl std::fmt::Display, member: &str, constraint: &str) -> AwsError {
    validation(format!(
        "1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: {constraint}"
    ))
}
