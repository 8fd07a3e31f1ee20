//! The one place where failures inside S3 become S3 errors. Store transactions return
//! [`Error`] (so `?` works on both store and S3 errors inside a closure); handlers turn it
//! into an [`s3s::S3Error`] with [`Error::into_s3`] (or `?`, through `From`).

use nimbus_store::StoreError;
use s3s::{S3Error, S3ErrorCode};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("blob store: {0}")]
    Blob(#[from] nimbus_blob::BlobError),
    #[error("stored S3 record is corrupt: {0}")]
    Corrupt(String),
    /// Writing a notification to the event bus.
    #[error(transparent)]
    Bus(#[from] nimbus_events::BusError),
    /// An S3 error to answer with as is (NoSuchKey, PreconditionFailed, ...).
    #[error("{0}")]
    S3(#[from] S3Error),
}

impl Error {
    pub fn into_s3(self) -> S3Error {
        match self {
            Error::S3(e) => e,
            Error::Store(StoreError::Closed) => {
                let mut e = S3Error::with_message(
                    S3ErrorCode::ServiceUnavailable,
                    "Please reduce your request rate.",
                );
                e.set_status_code(http::StatusCode::SERVICE_UNAVAILABLE);
                e
            }
            other => {
                tracing::error!(error = %other, "S3 internal error");
                S3Error::with_message(
                    S3ErrorCode::InternalError,
                    "We encountered an internal error. Please try again.",
                )
            }
        }
    }
}

impl From<Error> for S3Error {
    fn from(e: Error) -> Self {
        e.into_s3()
    }
}

/// JSON decode of a stored record.
pub fn decode<T: serde::de::DeserializeOwned>(what: &str, bytes: &[u8]) -> Result<T, Error> {
    serde_json::from_slice(bytes).map_err(|e| Error::Corrupt(format!("{what}: {e}")))
}

pub fn encode<T: serde::Serialize>(value: &T) -> Vec<u8> {
    // Serializing plain structs of strings and numbers cannot fail.
    serde_json::to_vec(value).unwrap_or_default()
}

/// `NoSuchBucket` as S3 words it.
pub fn no_such_bucket(bucket: &str) -> S3Error {
    let _ = bucket;
    S3Error::with_message(
        S3ErrorCode::NoSuchBucket,
        "The specified bucket does not exist",
    )
}

/// `NoSuchKey` as S3 words it.
pub fn no_such_key() -> S3Error {
    S3Error::with_message(S3ErrorCode::NoSuchKey, "The specified key does not exist.")
}

/// S3's standard message for an error code, for errors raised without one (s3s's own
/// signature and protocol errors carry only a code; SDKs then show "Unknown").
pub fn default_message(code: &str) -> Option<&'static str> {
    Some(match code {
        "AccessDenied" => "Access Denied",
        "AuthorizationHeaderMalformed" => "The authorization header is malformed.",
        "BadDigest" => "The Content-MD5 you specified did not match what we received.",
        "EntityTooLarge" => "Your proposed upload exceeds the maximum allowed object size.",
        "ExpiredToken" => "The provided token has expired.",
        "IncompleteBody" => {
            "You did not provide the number of bytes specified by the Content-Length HTTP header"
        }
        "InternalError" => "We encountered an internal error. Please try again.",
        "InvalidAccessKeyId" => {
            "The AWS Access Key Id you provided does not exist in our records."
        }
        "InvalidArgument" => "Invalid Argument",
        "InvalidBucketName" => "The specified bucket is not valid.",
        "InvalidDigest" => "The Content-MD5 you specified is not valid.",
        "InvalidRange" => "The requested range is not satisfiable",
        "InvalidRequest" => "Invalid Request",
        "MalformedPOSTRequest" => {
            "The body of your POST request is not well-formed multipart/form-data."
        }
        "MalformedXML" => {
            "The XML you provided was not well-formed or did not validate against our published schema"
        }
        "MethodNotAllowed" => "The specified method is not allowed against this resource.",
        "MissingContentLength" => "You must provide the Content-Length HTTP header.",
        "MissingSecurityHeader" => "Your request is missing a required header.",
        "NoSuchBucket" => "The specified bucket does not exist",
        "NoSuchKey" => "The specified key does not exist.",
        "NoSuchUpload" => {
            "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed."
        }
        "NotImplemented" => "A header you provided implies functionality that is not implemented",
        "PreconditionFailed" => "At least one of the pre-conditions you specified did not hold",
        "RequestTimeTooSkewed" => {
            "The difference between the request time and the current time is too large."
        }
        "SignatureDoesNotMatch" => {
            "The request signature we calculated does not match the signature you provided. Check your key and signing method."
        }
        _ => return None,
    })
}
