//! Why a request failed authentication, and how each protocol family reports it.
//!
//! The texts are AWS's own (observed from DynamoDB, STS and S3 responses); the order in
//! which checks run follows AWS too, see [`super::validate`].

use http::StatusCode;

use crate::{AwsError, Protocol};

/// `__type` namespace DynamoDB (and other Coral JSON services) use for auth errors.
pub const CORAL_SERVICE_PREFIX: &str = "com.amazon.coral.service";

/// A failed SigV4 authentication.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SigV4Error {
    /// No `Authorization: AWS4-...` header and no `X-Amz-Algorithm` query parameter.
    #[error("Request is missing Authentication Token")]
    MissingAuthenticationToken,

    /// The header lacks parameters, or a parameter is malformed; the message is AWS's.
    #[error("{0}")]
    Incomplete(String),

    /// `X-Amz-Date`/`Date` is not ISO-8601 basic format.
    #[error("Date must be in ISO-8601 'basic format'. Got '{0}'. See http://en.wikipedia.org/wiki/ISO_8601")]
    InvalidDate(String),

    /// The algorithm is not `AWS4-HMAC-SHA256`.
    #[error("Unsupported AWS 'algorithm': '{0}' (only AWS4-HMAC-SHA256 for now). ")]
    UnsupportedAlgorithm(String),

    /// The credential does not have five `/`-separated elements.
    #[error("Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '{0}'")]
    MalformedCredential(String),

    /// Region, service, terminator or date of the scope are wrong; AWS lists every
    /// problem in one message.
    #[error("{0}")]
    BadScope(String),

    /// `host` is not among the signed headers.
    #[error("'Host' must be a 'SignedHeader' in the AWS Authorization.")]
    HostNotSigned,

    /// Request time more than 15 minutes before now.
    #[error("Signature expired: {request_time} is now earlier than {limit} ({now} - 15 min.)")]
    Expired {
        request_time: String,
        limit: String,
        now: String,
    },

    /// Request time more than 15 minutes after now.
    #[error(
        "Signature not yet current: {request_time} is still later than {limit} ({now} + 15 min.)"
    )]
    NotYetCurrent {
        request_time: String,
        limit: String,
        now: String,
    },

    /// A presigned URL past `X-Amz-Date + X-Amz-Expires`.
    #[error("Request has expired")]
    PresignedExpired {
        expires_secs: u64,
        expiry: String,
        server_time: String,
    },

    /// Presigned URL with missing or malformed query parameters; message is S3's.
    #[error("{0}")]
    PresignedQuery(String),

    /// The access key id is not known.
    #[error("The security token included in the request is invalid.")]
    UnknownAccessKey { access_key_id: String },

    /// The session token does not belong to the access key, or is missing for
    /// temporary credentials, or present for long-term ones.
    #[error("The security token included in the request is invalid")]
    InvalidSecurityToken,

    /// Temporary credentials past their expiry.
    #[error("The security token included in the request is expired")]
    ExpiredToken,

    /// `x-amz-content-sha256` does not match the body.
    #[error("The provided 'x-amz-content-sha256' header does not match what was computed.")]
    ContentSha256Mismatch { claimed: String, computed: String },

    /// The signature is wrong. Carries what the server computed, because DynamoDB and S3
    /// tell the client.
    #[error("The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.")]
    SignatureMismatch {
        access_key_id: String,
        canonical_request: String,
        string_to_sign: String,
        signature_provided: String,
    },
}

impl SigV4Error {
    /// The AWS error for this failure in the given protocol family.
    ///
    /// - awsJson (DynamoDB, Logs, ...): `com.amazon.coral.service#...Exception`, HTTP 400.
    /// - restJson (Lambda, API Gateway, ...): same codes, HTTP 403.
    /// - query (STS, IAM, SQS, SNS): `SignatureDoesNotMatch`, `InvalidClientTokenId`,
    ///   `MissingAuthenticationToken`, `IncompleteSignature`, ...; HTTP 403 (400 for
    ///   malformed headers).
    /// - restXml (S3): S3's own codes (`SignatureDoesNotMatch`, `InvalidAccessKeyId`,
    ///   `RequestTimeTooSkewed`, `AccessDenied`, ...).
    pub fn to_aws_error(&self, protocol: Protocol) -> AwsError {
        match protocol {
            Protocol::AwsJson10 | Protocol::AwsJson11 => self.json_error(StatusCode::BAD_REQUEST),
            Protocol::RestJson => self.json_error(StatusCode::FORBIDDEN),
            Protocol::Query => self.query_error(),
            Protocol::RestXml => self.s3_error(),
        }
    }

    fn json_error(&self, status: StatusCode) -> AwsError {
        use SigV4Error::*;
        let (code, message) = match self {
            MissingAuthenticationToken => ("MissingAuthenticationTokenException", self.to_string()),
            Incomplete(_) | InvalidDate(_) | UnsupportedAlgorithm(_) | MalformedCredential(_)
            | PresignedQuery(_) => ("IncompleteSignatureException", self.to_string()),
            BadScope(_) | HostNotSigned | Expired { .. } | NotYetCurrent { .. } => {
                ("InvalidSignatureException", self.to_string())
            }
            PresignedExpired { .. } => ("InvalidSignatureException", "Signature expired".to_string()),
            UnknownAccessKey { .. } => ("UnrecognizedClientException", self.to_string()),
            InvalidSecurityToken => ("UnrecognizedClientException", self.to_string()),
            ExpiredToken => ("ExpiredTokenException", self.to_string()),
            ContentSha256Mismatch { .. } => ("InvalidSignatureException", self.to_string()),
            SignatureMismatch {
                canonical_request,
                string_to_sign,
                ..
            } => (
                "InvalidSignatureException",
                // DynamoDB tells the client what it should have signed.
                format!(
                    "{self}\n\nThe Canonical String for this request should have been\n'{canonical_request}'\n\nThe String-to-Sign should have been\n'{string_to_sign}'\n"
                ),
            ),
        };
        AwsError::new(status, code, message).with_type_prefix(CORAL_SERVICE_PREFIX)
    }

    fn query_error(&self) -> AwsError {
        use SigV4Error::*;
        let (status, code) = match self {
            MissingAuthenticationToken => (StatusCode::FORBIDDEN, "MissingAuthenticationToken"),
            Incomplete(_)
            | InvalidDate(_)
            | UnsupportedAlgorithm(_)
            | MalformedCredential(_)
            | PresignedQuery(_) => (StatusCode::BAD_REQUEST, "IncompleteSignature"),
            BadScope(_)
            | HostNotSigned
            | Expired { .. }
            | NotYetCurrent { .. }
            | PresignedExpired { .. }
            | ContentSha256Mismatch { .. }
            | SignatureMismatch { .. } => (StatusCode::FORBIDDEN, "SignatureDoesNotMatch"),
            UnknownAccessKey { .. } | InvalidSecurityToken => {
                (StatusCode::FORBIDDEN, "InvalidClientTokenId")
            }
            ExpiredToken => (StatusCode::FORBIDDEN, "ExpiredToken"),
        };
        let message = match self {
            // Query services do not echo the canonical request.
            PresignedExpired { .. } => "Signature expired".to_string(),
            UnknownAccessKey { .. } | InvalidSecurityToken => {
                "The security token included in the request is invalid.".to_string()
            }
            _ => self.to_string(),
        };
        AwsError::new(status, code, message)
    }

    fn s3_error(&self) -> AwsError {
        use SigV4Error::*;
        let forbidden = StatusCode::FORBIDDEN;
        let bad = StatusCode::BAD_REQUEST;
        match self {
            MissingAuthenticationToken => AwsError::new(forbidden, "AccessDenied", "Access Denied"),
            Incomplete(_) | InvalidDate(_) | UnsupportedAlgorithm(_) | MalformedCredential(_)
            | BadScope(_) | HostNotSigned => {
                AwsError::new(bad, "AuthorizationHeaderMalformed", format!("The authorization header is malformed; {self}"))
            }
            PresignedQuery(_) => AwsError::new(bad, "AuthorizationQueryParametersError", self.to_string()),
            Expired { request_time, now, .. } | NotYetCurrent { request_time, now, .. } => AwsError::new(
                forbidden,
                "RequestTimeTooSkewed",
                "The difference between the request time and the current time is too large.",
            )
            .with_extra("RequestTime", serde_json::Value::String(request_time.clone()))
            .with_extra("ServerTime", serde_json::Value::String(now.clone()))
            .with_extra("MaxAllowedSkewMilliseconds", serde_json::Value::String("900000".into())),
            PresignedExpired {
                expires_secs,
                expiry,
                server_time,
            } => AwsError::new(forbidden, "AccessDenied", "Request has expired")
                .with_extra("X-Amz-Expires", serde_json::Value::String(expires_secs.to_string()))
                .with_extra("Expires", serde_json::Value::String(expiry.clone()))
                .with_extra("ServerTime", serde_json::Value::String(server_time.clone())),
            UnknownAccessKey { access_key_id } => AwsError::new(
                forbidden,
                "InvalidAccessKeyId",
                "The AWS Access Key Id you provided does not exist in our records.",
            )
            .with_extra("AWSAccessKeyId", serde_json::Value::String(access_key_id.clone())),
            InvalidSecurityToken => AwsError::new(
                bad,
                "InvalidToken",
                "The provided token is malformed or otherwise invalid.",
            ),
            ExpiredToken => AwsError::new(bad, "ExpiredToken", "The provided token has expired."),
            ContentSha256Mismatch { claimed, computed } => AwsError::new(
                bad,
                "XAmzContentSHA256Mismatch",
                "The provided 'x-amz-content-sha256' header does not match what was computed.",
            )
            .with_extra("ClientComputedContentSHA256", serde_json::Value::String(claimed.clone()))
            .with_extra("S3ComputedContentSHA256", serde_json::Value::String(computed.clone())),
            SignatureMismatch {
                access_key_id,
                canonical_request,
                string_to_sign,
                signature_provided,
            } => AwsError::new(
                forbidden,
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
            )
            .with_extra("AWSAccessKeyId", serde_json::Value::String(access_key_id.clone()))
            .with_extra("StringToSign", serde_json::Value::String(string_to_sign.clone()))
            .with_extra("SignatureProvided", serde_json::Value::String(signature_provided.clone()))
            .with_extra("CanonicalRequest", serde_json::Value::String(canonical_request.clone())),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn dynamodb_texts() {
        let e = SigV4Error::MissingAuthenticationToken.to_aws_error(Protocol::AwsJson10);
        assert_eq!(e.code, "MissingAuthenticationTokenException");
        assert_eq!(e.message, "Request is missing Authentication Token");
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
        assert_eq!(e.type_prefix.as_deref(), Some(CORAL_SERVICE_PREFIX));

        let e = SigV4Error::UnknownAccessKey {
            access_key_id: "AKID".into(),
        }
        .to_aws_error(Protocol::AwsJson10);
        assert_eq!(e.code, "UnrecognizedClientException");
        assert_eq!(
            e.message,
            "The security token included in the request is invalid."
        );

        let e = SigV4Error::Expired {
            request_time: "20261126T000000Z".into(),
            limit: "20261126T000500Z".into(),
            now: "20261126T002000Z".into(),
        }
        .to_aws_error(Protocol::AwsJson10);
        assert_eq!(e.code, "InvalidSignatureException");
        assert_eq!(
            e.message,
            "Signature expired: 20261126T000000Z is now earlier than 20261126T000500Z (20261126T002000Z - 15 min.)"
        );

        let e = SigV4Error::SignatureMismatch {
            access_key_id: "AKID".into(),
            canonical_request: "CR".into(),
            string_to_sign: "STS".into(),
            signature_provided: "x".into(),
        }
        .to_aws_error(Protocol::AwsJson10);
        assert_eq!(e.message, "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.\n\nThe Canonical String for this request should have been\n'CR'\n\nThe String-to-Sign should have been\n'STS'\n");
    }

    #[test]
    fn query_texts() {
        let e = SigV4Error::MissingAuthenticationToken.to_aws_error(Protocol::Query);
        assert_eq!(
            (e.code.as_str(), e.status),
            ("MissingAuthenticationToken", StatusCode::FORBIDDEN)
        );
        let e = SigV4Error::UnknownAccessKey {
            access_key_id: "A".into(),
        }
        .to_aws_error(Protocol::Query);
        assert_eq!(e.code, "InvalidClientTokenId");
        assert_eq!(
            e.message,
            "The security token included in the request is invalid."
        );
        let e = SigV4Error::SignatureMismatch {
            access_key_id: "A".into(),
            canonical_request: "CR".into(),
            string_to_sign: "STS".into(),
            signature_provided: "x".into(),
        }
        .to_aws_error(Protocol::Query);
        assert_eq!(e.code, "SignatureDoesNotMatch");
        assert!(!e.message.contains("Canonical"));
        let e = SigV4Error::Incomplete("x".into()).to_aws_error(Protocol::Query);
        assert_eq!(
            (e.code.as_str(), e.status),
            ("IncompleteSignature", StatusCode::BAD_REQUEST)
        );
        assert!(e.sender_fault);
    }

    #[test]
    fn s3_texts() {
        let e = SigV4Error::UnknownAccessKey {
            access_key_id: "A".into(),
        }
        .to_aws_error(Protocol::RestXml);
        assert_eq!(e.code, "InvalidAccessKeyId");
        assert_eq!(
            e.extra.get("AWSAccessKeyId"),
            Some(&serde_json::Value::String("A".into()))
        );
    }
}
