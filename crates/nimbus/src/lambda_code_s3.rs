//! `Code.S3Bucket` / `S3Key` for Lambda: reads the package through nimbus's own S3, as a
//! caller (the S3 service's typed operation, not its store keys), so S3's rules apply:
//! versions, delete markers, ACLs, the public access block.
//!
//! The read is made as the account root of nimbus's root account, the only principal the
//! S3 layer can name without a signature today; a package in a bucket of another account
//! is refused by S3's own access rules.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use nimbus_lambda::{CodeObjectError, CodeObjects};
use s3s::dto::GetObjectInput;
use s3s::{S3ErrorCode, S3Request};
use tokio::sync::OnceCell;

use crate::s3_edge::S3Handle;

pub struct S3CodeObjects {
    /// The S3 service, created at startup (shared with `Services`).
    pub s3: Arc<OnceCell<Arc<S3Handle>>>,
}

impl CodeObjects for S3CodeObjects {
    fn get_object(
        &self,
        _account_id: &str,
        region: &str,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
        max_bytes: u64,
    ) -> Pin<Box<dyn Future<Output = Result<Bytes, CodeObjectError>> + Send>> {
        let s3 = self.s3.clone();
        let (region, bucket, key) = (region.to_string(), bucket.to_string(), key.to_string());
        let version_id = version_id.map(str::to_string);
        Box::pin(async move {
            let Some(handle) = s3.get().cloned() else {
                return Err(CodeObjectError::Other("S3 is not available yet".into()));
            };
            read(&handle, &region, bucket, key, version_id, max_bytes).await
        })
    }
}

async fn read(
    handle: &S3Handle,
    region: &str,
    bucket: String,
    key: String,
    version_id: Option<String>,
    max_bytes: u64,
) -> Result<Bytes, CodeObjectError> {
    let uri = format!("/{bucket}")
        .parse::<http::Uri>()
        .map_err(|_| CodeObjectError::NoSuchBucket)?;
    let input = GetObjectInput::builder()
        .bucket(bucket)
        .key(key)
        .version_id(version_id)
        .build()
        .map_err(|e| CodeObjectError::Other(e.to_string()))?;
    let mut extensions = http::Extensions::new();
    extensions.insert(nimbus_s3::UnverifiedRoot);
    let req = S3Request {
        input,
        method: http::Method::GET,
        uri,
        headers: http::HeaderMap::new(),
        extensions,
        credentials: None,
        region: region.parse().ok(),
        service: Some("s3".into()),
        trailing_headers: None,
    };
    let out = match nimbus_s3::objects::get_object(&handle.state, req).await {
        Ok(resp) => resp.output,
        Err(e) => {
            return Err(match e.code() {
                S3ErrorCode::NoSuchBucket => CodeObjectError::NoSuchBucket,
                S3ErrorCode::NoSuchKey | S3ErrorCode::NoSuchVersion => CodeObjectError::NoSuchKey,
                other => CodeObjectError::Other(format!(
                    "{}: {}",
                    other.as_str(),
                    e.message().unwrap_or_default()
                )),
            })
        }
    };
    if out
        .content_length
        .is_some_and(|n| n < 0 || n as u64 > max_bytes)
    {
        return Err(CodeObjectError::TooLarge);
    }
    let Some(mut body) = out.body else {
        return Ok(Bytes::new());
    };
    let mut buf = BytesMut::new();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| CodeObjectError::Other(e.to_string()))?;
        if (buf.len() + chunk.len()) as u64 > max_bytes {
            return Err(CodeObjectError::TooLarge);
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.freeze())
}
