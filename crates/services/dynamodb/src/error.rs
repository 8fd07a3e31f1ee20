//! DynamoDB errors, and the one place they become AWS error codes and statuses.

use http::StatusCode;
use nimbus_store::StoreError;
use nimbus_wire::AwsError;

/// Namespace DynamoDB qualifies `__type` with.
const DYNAMODB_NS: &str = "com.amazonaws.dynamodb.v20120810";
/// Namespace AWS's request-validation layer (Coral) uses for a few generic errors.
const CORAL_NS: &str = "com.amazon.coral.validate";

/// One entry of `TransactionCanceledException.CancellationReasons`.
#[derive(Debug, Clone, PartialEq)]
pub struct CancellationReason {
    /// `None`, `ConditionalCheckFailed`, `ItemCollectionSizeLimitExceeded`,
    /// `TransactionConflict`, `ProvisionedThroughputExceeded`, `ThrottlingError`,
    /// `ValidationError`.
    pub code: String,
    pub message: Option<String>,
    /// The item as it was, when `ReturnValuesOnConditionCheckFailure` is `ALL_OLD`.
    pub item: Option<crate::value::Item>,
}

#[derive(Debug, thiserror::Error)]
pub enum DynamoDbError {
    /// `ValidationException`; the message is AWS's exact text.
    #[error("{0}")]
    Validation(String),
    #[error("{0}")]
    ResourceNotFound(String),
    #[error("{0}")]
    ResourceInUse(String),
    /// `ConditionalCheckFailedException`; `item` is set when the request asked for
    /// `ReturnValuesOnConditionCheckFailure: ALL_OLD` and the item existed.
    #[error("The conditional request failed")]
    ConditionalCheckFailed { item: Option<crate::value::Item> },
    #[error("{message}")]
    TransactionCanceled {
        message: String,
        reasons: Vec<CancellationReason>,
    },
    #[error("{0}")]
    TransactionConflict(String),
    #[error("{0}")]
    TransactionInProgress(String),
    #[error("{0}")]
    IdempotentParameterMismatch(String),
    #[error("{0}")]
    LimitExceeded(String),
    #[error("{0}")]
    ItemCollectionSizeLimitExceeded(String),
    #[error("{0}")]
    ProvisionedThroughputExceeded(String),
    #[error("{0}")]
    BackupNotFound(String),
    #[error("{0}")]
    TableNotFound(String),
    #[error("{0}")]
    TableAlreadyExists(String),
    #[error("{0}")]
    TableInUse(String),
    /// `DuplicateItemException` (PartiQL INSERT of an existing key).
    #[error("{0}")]
    DuplicateItem(String),
    #[error("{0}")]
    BackupInUse(String),
    #[error("{0}")]
    ContinuousBackupsUnavailable(String),
    #[error("{0}")]
    PointInTimeRecoveryUnavailable(String),
    #[error("{0}")]
    InvalidRestoreTime(String),
    /// `PolicyNotFoundException`: no resource-based policy, or not the expected revision.
    #[error("{0}")]
    PolicyNotFound(String),
    /// `SerializationException`: the body is not the JSON shape the operation takes.
    #[error("{0}")]
    Serialization(String),
    #[error("{0}")]
    UnknownOperation(String),
    #[error("internal error: {0}")]
    Internal(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl DynamoDbError {
    /// Shorthand for the most common error.
    pub fn validation(msg: impl Into<String>) -> Self {
        Self::Validation(msg.into())
    }

    /// The AWS error code (the exception shape name).
    pub fn code(&self) -> &'static str {
        match self {
            Self::Validation(_) => "ValidationException",
            Self::ResourceNotFound(_) => "ResourceNotFoundException",
            Self::ResourceInUse(_) => "ResourceInUseException",
            Self::ConditionalCheckFailed { .. } => "ConditionalCheckFailedException",
            Self::TransactionCanceled { .. } => "TransactionCanceledException",
            Self::TransactionConflict(_) => "TransactionConflictException",
            Self::TransactionInProgress(_) => "TransactionInProgressException",
            Self::IdempotentParameterMismatch(_) => "IdempotentParameterMismatchException",
            Self::LimitExceeded(_) => "LimitExceededException",
            Self::ItemCollectionSizeLimitExceeded(_) => "ItemCollectionSizeLimitExceededException",
            Self::ProvisionedThroughputExceeded(_) => "ProvisionedThroughputExceededException",
            Self::BackupNotFound(_) => "BackupNotFoundException",
            Self::TableNotFound(_) => "TableNotFoundException",
            Self::TableAlreadyExists(_) => "TableAlreadyExistsException",
            Self::TableInUse(_) => "TableInUseException",
            Self::DuplicateItem(_) => "DuplicateItemException",
            Self::BackupInUse(_) => "BackupInUseException",
            Self::ContinuousBackupsUnavailable(_) => "ContinuousBackupsUnavailableException",
            Self::PointInTimeRecoveryUnavailable(_) => "PointInTimeRecoveryUnavailableException",
            Self::InvalidRestoreTime(_) => "InvalidRestoreTimeException",
            Self::PolicyNotFound(_) => "PolicyNotFoundException",
            Self::Serialization(_) => "SerializationException",
            Self::UnknownOperation(_) => "UnknownOperationException",
            Self::Internal(_) | Self::Store(_) => "InternalServerError",
        }
    }
}

/// Encodes an item for an error payload. Set by the `ops` layer, which owns the
/// conversion from `value::Item` to the wire's AttributeValue JSON.
pub type ItemToJson = fn(&crate::value::Item) -> serde_json::Value;

/// Turns a DynamoDB error into the AWS error envelope. `item_to_json` renders items that
/// some errors carry (`ConditionalCheckFailedException.Item`, cancellation reasons).
pub fn to_aws_error(err: &DynamoDbError, item_to_json: ItemToJson) -> AwsError {
    let (status, ns) = match err {
        DynamoDbError::Internal(_) | DynamoDbError::Store(_) => {
            (StatusCode::INTERNAL_SERVER_ERROR, DYNAMODB_NS)
        }
        // Validation and serialization errors come from AWS's request layer and are
        // qualified with its namespace, not DynamoDB's.
        DynamoDbError::Validation(_) => (StatusCode::BAD_REQUEST, CORAL_NS),
        DynamoDbError::Serialization(_) | DynamoDbError::UnknownOperation(_) => {
            (StatusCode::BAD_REQUEST, "com.amazon.coral.service")
        }
        _ => (StatusCode::BAD_REQUEST, DYNAMODB_NS),
    };
    let message = match err {
        // Never leak engine internals to the client; the log has them.
        DynamoDbError::Store(_) | DynamoDbError::Internal(_) => "Internal server error".to_string(),
        other => other.to_string(),
    };
    let mut aws = AwsError::new(status, err.code(), message).with_type_prefix(ns);
    match err {
        DynamoDbError::ConditionalCheckFailed { item: Some(item) } => {
            aws = aws.with_extra("Item", item_to_json(item));
        }
        DynamoDbError::TransactionCanceled { reasons, .. } => {
            let reasons = reasons
                .iter()
                .map(|r| {
                    let mut m = serde_json::Map::new();
                    if let Some(item) = &r.item {
                        m.insert("Item".into(), item_to_json(item));
                    }
                    m.insert("Code".into(), serde_json::Value::String(r.code.clone()));
                    if let Some(msg) = &r.message {
                        m.insert("Message".into(), serde_json::Value::String(msg.clone()));
                    }
                    serde_json::Value::Object(m)
                })
                .collect();
            aws = aws.with_extra("CancellationReasons", serde_json::Value::Array(reasons));
        }
        _ => {}
    }
    aws
}
