//! CloudWatch Logs errors, and the one place they become AWS error codes and statuses.

use http::StatusCode;
use nimbus_store::StoreError;
use nimbus_wire::AwsError;

/// AWS's message for a missing log group.
pub const GROUP_NOT_FOUND: &str = "The specified log group does not exist.";
/// AWS's message for a missing log stream.
pub const STREAM_NOT_FOUND: &str = "The specified log stream does not exist.";
/// AWS's message for an existing log group (no final period, as AWS writes it).
pub const GROUP_EXISTS: &str = "The specified log group already exists";
/// AWS's message for an existing log stream.
pub const STREAM_EXISTS: &str = "The specified log stream already exists";
/// AWS's message for a token it did not hand out.
pub const BAD_NEXT_TOKEN: &str = "The specified nextToken is invalid.";

#[derive(Debug, thiserror::Error)]
pub enum LogsError {
    /// `InvalidParameterException`; the message is AWS's exact text.
    #[error("{0}")]
    InvalidParameter(String),
    #[error("{0}")]
    ResourceNotFound(String),
    #[error("{0}")]
    ResourceAlreadyExists(String),
    #[error("{0}")]
    LimitExceeded(String),
    #[error("{0}")]
    OperationAborted(String),
    #[error("internal error: {0}")]
    Internal(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl LogsError {
    pub fn invalid(msg: impl Into<String>) -> Self {
        Self::InvalidParameter(msg.into())
    }

    pub fn group_not_found() -> Self {
        Self::ResourceNotFound(GROUP_NOT_FOUND.into())
    }

    pub fn stream_not_found() -> Self {
        Self::ResourceNotFound(STREAM_NOT_FOUND.into())
    }

    /// The AWS error code (the exception shape name).
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidParameter(_) => "InvalidParameterException",
            Self::ResourceNotFound(_) => "ResourceNotFoundException",
            Self::ResourceAlreadyExists(_) => "ResourceAlreadyExistsException",
            Self::LimitExceeded(_) => "LimitExceededException",
            Self::OperationAborted(_) => "OperationAbortedException",
            Self::Internal(_) | Self::Store(_) => "ServiceUnavailableException",
        }
    }

    /// AWS's error envelope. CloudWatch Logs sends bare `__type` codes (no namespace).
    pub fn to_aws(&self) -> AwsError {
        match self {
            Self::Internal(_) | Self::Store(_) => {
                // Never leak engine internals to the client; the log has them.
                tracing::error!(error = %self, "logs internal error");
                let mut e = AwsError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    self.code(),
                    "The service cannot complete the request.",
                );
                e.sender_fault = false;
                e
            }
            other => AwsError::new(StatusCode::BAD_REQUEST, other.code(), other.to_string()),
        }
    }
}

impl From<LogsError> for AwsError {
    fn from(e: LogsError) -> Self {
        e.to_aws()
    }
}
