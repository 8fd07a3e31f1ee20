//! The one place requests get signed: SigV4 from nimbus-wire, so the load generator signs
//! exactly the way the server verifies (and the way botocore signs).

use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use http::HeaderMap;
use nimbus_wire::sigv4::{
    presign_query, sign_request, AmzDate, SigningCredentials, SigningKeyCache, SigningParams,
};

/// Who signs and for what.
#[derive(Debug, Clone)]
pub struct Signer {
    pub access_key: String,
    pub secret_key: String,
    pub region: String,
    pub service: String,
}

impl Signer {
    fn now(&self) -> Result<AmzDate> {
        let now_secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .context("system clock before 1970")?
            .as_secs();
        Ok(AmzDate::from_epoch_secs(
            i64::try_from(now_secs).unwrap_or(i64::MAX),
        ))
    }

    /// The query string of a presigned URL for `method path` (S3: UNSIGNED-PAYLOAD, only
    /// `host` signed), valid for `expires_s` seconds from now.
    pub fn presign(&self, method: &str, path: &str, host: &str, expires_s: u64) -> Result<String> {
        let params = SigningParams {
            credentials: SigningCredentials {
                access_key_id: &self.access_key,
                secret_access_key: &self.secret_key,
                session_token: None,
            },
            region: &self.region,
            service: &self.service,
            time: self.now()?,
            unsigned_payload: true,
        };
        presign_query(method, path, "", host, &params, expires_s).context("presigning")
    }

    /// Adds `X-Amz-Date` and `Authorization` to `headers` (which must include `host`).
    /// `cache` holds derived signing keys so that a request costs two HMACs, as in an SDK.
    pub fn sign(
        &self,
        method: &str,
        path: &str,
        headers: &mut HeaderMap,
        body: &[u8],
        cache: &SigningKeyCache,
    ) -> Result<()> {
        let params = SigningParams {
            credentials: SigningCredentials {
                access_key_id: &self.access_key,
                secret_access_key: &self.secret_key,
                session_token: None,
            },
            region: &self.region,
            service: &self.service,
            time: self.now()?,
            unsigned_payload: false,
        };
        sign_request(method, path, "", headers, body, &params, Some(cache))
            .context("signing request")?;
        Ok(())
    }
}
