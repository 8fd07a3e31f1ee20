//! Who may call: s3s verifies signatures (header, presigned, chunked, POST policy) with
//! the secret from our credential store; this module supplies that secret, decides what
//! anonymous requests may do, and reads bucket names off virtual-host `Host` headers.

use std::sync::Arc;

use nimbus_iam::CredentialStore;
use s3s::access::{S3Access, S3AccessContext};
use s3s::auth::{S3Auth, SecretKey};
use s3s::host::{S3Host, VirtualHost};
use s3s::path::S3Path;
use s3s::{s3_error, S3Result};

use crate::{S3State, UnverifiedRoot};

/// Secrets for s3s's signature checks.
pub struct StoreAuth {
    pub credentials: Arc<dyn CredentialStore>,
    pub now_ms: Arc<dyn Fn() -> i64 + Send + Sync>,
}

#[async_trait::async_trait]
impl S3Auth for StoreAuth {
    async fn get_secret_key(&self, access_key: &str) -> S3Result<SecretKey> {
        let Some(cred) = self.credentials.lookup(access_key) else {
            return Err(s3_error!(
                InvalidAccessKeyId,
                "The AWS Access Key Id you provided does not exist in our records."
            ));
        };
        if !cred.active {
            return Err(s3_error!(
                InvalidAccessKeyId,
                "The AWS Access Key Id you provided does not exist in our records."
            ));
        }
        if cred
            .expires_at_millis
            .is_some_and(|exp| exp <= (self.now_ms)())
        {
            return Err(s3_error!(ExpiredToken, "The provided token has expired."));
        }
        Ok(SecretKey::from(cred.secret_access_key.as_str()))
    }
}

/// Signed requests pass (IAM policies are enforced in a later issue); requests the
/// gateway accepted as root on a loopback bind pass; anonymous requests may only read
/// objects and buckets whose ACL grants public read (or write, for writes).
pub struct Access {
    pub state: Arc<S3State>,
}

#[async_trait::async_trait]
impl S3Access for Access {
    async fn check(&self, cx: &mut S3AccessContext<'_>) -> S3Result<()> {
        if cx.credentials().is_some() || cx.extensions_mut().get::<UnverifiedRoot>().is_some() {
            return Ok(());
        }
        let path = match cx.s3_path() {
            S3Path::Root => S3Path::Root,
            S3Path::Bucket { bucket } => S3Path::Bucket {
                bucket: bucket.clone(),
            },
            S3Path::Object { bucket, key } => S3Path::Object {
                bucket: bucket.clone(),
                key: key.clone(),
            },
        };
        let write = !matches!(*cx.method(), http::Method::GET | http::Method::HEAD);
        if self.state.anonymous_allowed(&path, write).await {
            return Ok(());
        }
        Err(s3_error!(AccessDenied, "Access Denied"))
    }
}

/// Virtual-host addressing: `{bucket}.s3.{base}` and `{bucket}.s3.{region}.{base}` for
/// each configured base name (`localhost` and the operator's host names). Everything
/// else (an IP, `localhost`, `s3.localhost`) is path-style.
pub struct Hosts {
    pub bases: Vec<String>,
}

/// The `Host` header without its port.
pub fn strip_port(host: &str) -> &str {
    match host.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') && p.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    }
}

/// Splits `host` into (bucket, region) when it is a virtual-host S3 name under `base`.
pub fn virtual_bucket<'a>(host: &'a str, base: &str) -> Option<(&'a str, Option<&'a str>)> {
    let head = host.strip_suffix(base)?.strip_suffix('.')?;
    // head = "{bucket}.s3" or "{bucket}.s3.{region}" or "{bucket}.s3-{region}"
    if let Some(bucket) = head.strip_suffix(".s3") {
        return (!bucket.is_empty()).then_some((bucket, None));
    }
    let (front, region) = head.rsplit_once('.')?;
    let bucket = front.strip_suffix(".s3")?;
    (!bucket.is_empty()).then_some((bucket, Some(region)))
}

impl S3Host for Hosts {
    fn parse_host_header<'a>(&'a self, host: &'a str) -> S3Result<VirtualHost<'a>> {
        let host = strip_port(host);
        for base in &self.bases {
            if let Some((bucket, region)) = virtual_bucket(host, base) {
                let vh = VirtualHost::new(host).with_bucket(bucket);
                return Ok(match region {
                    Some(r) => vh.with_region(r),
                    None => vh,
                });
            }
        }
        Ok(VirtualHost::new(host))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn virtual_hosts() {
        assert_eq!(
            virtual_bucket("bk.s3.localhost", "localhost"),
            Some(("bk", None))
        );
        assert_eq!(
            virtual_bucket("my.bk.s3.eu-west-1.localhost", "localhost"),
            Some(("my.bk", Some("eu-west-1")))
        );
        assert_eq!(virtual_bucket("s3.localhost", "localhost"), None);
        assert_eq!(virtual_bucket("localhost", "localhost"), None);
        assert_eq!(virtual_bucket("bk.localhost", "localhost"), None);
        assert_eq!(strip_port("bk.s3.localhost:4566"), "bk.s3.localhost");
        assert_eq!(strip_port("[::1]"), "[::1]");
    }
}
