//! The Lambda service object: what it owns (store, blob store, engine, IAM/STS), its
//! operator settings, and the plumbing the operations share: staging zips into the blob
//! store, the code cache, role credentials, building a [`FunctionSpec`], code download
//! tokens, crash recovery and the garbage reaper.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;

use base64::Engine as _;
use bytes::Bytes;
use futures_util::StreamExt;
use hmac::{Hmac, Mac};
use nimbus_blob::BlobStore;
use nimbus_core::{Principal, RequestContext, SharedClock};
use nimbus_functions::{Credentials, Engine, FunctionSpec};
use nimbus_iam::{IamState, Sts};
use nimbus_model::sts::StsApi;
use nimbus_store::Db;
use nimbus_wire::AwsError;
use parking_lot::Mutex;
use sha2::Sha256;

use crate::code::{self, CodeError};
use crate::error::{self, Fail};
use crate::keys;
use crate::records::{self, CodeBlob, CodeRef, FunctionRecord, VersionConfig};
use crate::validate;

/// Operator settings of the Lambda service.
#[derive(Debug, Clone)]
pub struct LambdaConfig {
    /// Where packages and layers are unpacked (content-addressed). Must be outside the
    /// data directory: sandboxes mount these trees.
    pub code_cache_dir: PathBuf,
    /// How clients reach nimbus, e.g. `http://127.0.0.1:4566` (no trailing slash): the
    /// base of `Code.Location` and of path-style function URLs.
    pub public_base_url: String,
    /// The operator's host name for virtual-host function URLs
    /// (`http://<url-id>.lambda-url.<region>.<host>:<port>/`); `None`: path-style URLs.
    pub url_host: Option<String>,
    /// The port in virtual-host function URLs.
    pub port: u16,
    /// First retry of a failed asynchronous invocation waits this long, the second twice
    /// as long (AWS: about 1 and 2 minutes).
    pub async_retry_base_delay_ms: u64,
    /// Asynchronous invocations run at most this many at a time.
    pub async_concurrency: usize,
    /// How often the async queue and the garbage reaper look for work when not woken.
    pub poll_interval_ms: u64,
    /// How long a `Code.Location` URL stays valid (AWS: 10 minutes).
    pub code_url_ttl_ms: i64,
}

impl Default for LambdaConfig {
    fn default() -> Self {
        LambdaConfig {
            code_cache_dir: std::env::temp_dir().join("nimbus-lambda-code"),
            public_base_url: "http://127.0.0.1:4566".into(),
            url_host: None,
            port: 4566,
            async_retry_base_delay_ms: 60_000,
            async_concurrency: 16,
            poll_interval_ms: 200,
            code_url_ttl_ms: 600_000,
        }
    }
}

/// Reads a deployment package from S3 for `Code.S3Bucket`/`S3Key` (the binary wires it to
/// nimbus's own S3, reading as the calling account).
pub trait CodeObjects: Send + Sync + 'static {
    fn get_object(
        &self,
        account_id: &str,
        region: &str,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
        max_bytes: u64,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<Bytes, CodeObjectError>> + Send>>;
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeObjectError {
    NoSuchBucket,
    NoSuchKey,
    /// Larger than `max_bytes`.
    TooLarge,
    Other(String),
}

/// Why a code download failed (the binary answers 403 / 404 / 500).
#[derive(Debug, thiserror::Error)]
pub enum CodeDownloadError {
    #[error("the URL is invalid or has expired")]
    Forbidden,
    #[error("the code no longer exists")]
    NotFound,
    #[error("{0}")]
    Internal(String),
}

pub(crate) struct CachedCreds {
    pub creds: Credentials,
}

pub(crate) struct Inner {
    pub db: Db,
    pub blobs: Arc<BlobStore>,
    pub clock: SharedClock,
    pub engine: Arc<Engine>,
    pub iam: IamState,
    pub cfg: LambdaConfig,
    pub code_objects: Mutex<Option<Arc<dyn CodeObjects>>>,
    /// Role credentials per (account, role, function); refreshed before they expire.
    pub creds: Mutex<HashMap<String, CachedCreds>>,
    /// Built specs per env key (rebuilt when credentials near expiry).
    pub specs: Mutex<HashMap<String, Arc<FunctionSpec>>>,
    /// Signs `Code.Location` tokens (per process: URLs die with it, as AWS's expire).
    pub code_secret: [u8; 32],
    pub queue_wake: tokio::sync::Notify,
    /// Async events currently being invoked (bounded by `async_concurrency`).
    pub queue_permits: Arc<tokio::sync::Semaphore>,
}

/// The Lambda service. Cheap to clone.
#[derive(Clone)]
pub struct Lambda {
    pub(crate) inner: Arc<Inner>,
}

/// Most entries the in-memory caches hold before they are cleared (bounded memory).
const MAX_CACHE_ENTRIES: usize = 10_000;
/// Credentials are renewed when they have less than this left.
const CREDS_RENEW_MARGIN_MS: i64 = 5 * 60 * 1000;
/// Most functions / versions one listing or deletion touches.
pub(crate) const MAX_SCAN: usize = 100_000;

/// A zip written to the blob store (or found there) and not yet referenced by a commit.
#[derive(Debug, Clone)]
pub(crate) struct StagedCode {
    pub code: CodeRef,
    /// A blob this request wrote: published if the commit adopted it, else deleted.
    pub fresh_blob: Option<String>,
}

impl Lambda {
    pub fn new(
        db: Db,
        blobs: Arc<BlobStore>,
        clock: SharedClock,
        engine: Arc<Engine>,
        iam: IamState,
        cfg: LambdaConfig,
    ) -> Lambda {
        let mut secret = [0u8; 32];
        secret[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
        secret[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
        let permits = cfg.async_concurrency.max(1);
        Lambda {
            inner: Arc::new(Inner {
                db,
                blobs,
                clock,
                engine,
                iam,
                cfg,
                code_objects: Mutex::new(None),
                creds: Mutex::new(HashMap::new()),
                specs: Mutex::new(HashMap::new()),
                code_secret: secret,
                queue_wake: tokio::sync::Notify::new(),
                queue_permits: Arc::new(tokio::sync::Semaphore::new(permits)),
            }),
        }
    }

    /// Wires `Code.S3Bucket`/`S3Key` to an S3 reader.
    pub fn set_code_objects(&self, source: Arc<dyn CodeObjects>) {
        *self.inner.code_objects.lock() = Some(source);
    }

    pub fn config(&self) -> &LambdaConfig {
        &self.inner.cfg
    }

    pub(crate) fn now_ms(&self) -> i64 {
        self.inner.clock.now_millis()
    }

    pub(crate) fn snapshot(&self) -> Result<Box<dyn nimbus_store::ReadTxn + Send>, Fail> {
        Ok(self.inner.db.snapshot()?)
    }

    // ------------------------------------------------------------------ code staging

    /// Checks a zip, unpacks it into the code cache (`unpack`: function code; layers are
    /// unpacked when a function uses them) and makes sure the blob store has it.
    pub(crate) async fn stage_zip(&self, zip: Bytes, unpack: bool) -> Result<StagedCode, Fail> {
        let cache = self.inner.cfg.code_cache_dir.clone();
        let z = zip.clone();
        let info = tokio::task::spawn_blocking(move || -> Result<code::PackageInfo, CodeError> {
            let info = code::inspect(&z)?;
            if info.unzipped_size > code::MAX_UNZIPPED_BYTES {
                return Err(CodeError::TooLarge(info.unzipped_size));
            }
            if unpack {
                code::ensure_code_dir(&cache, &info.sha256_hex, &z)?;
            }
            Ok(info)
        })
        .await
        .map_err(|e| error::service_exception(e.to_string()))?
        .map_err(code_error)?;
        let snap = self.snapshot()?;
        let existing: Option<CodeBlob> =
            records::get(snap.as_ref(), &keys::code_blob(&info.sha256_hex))?;
        drop(snap);
        if let Some(rec) = existing {
            // Known content whose blob is still there: no second copy.
            if self.inner.blobs.exists(&rec.blob_id).await.unwrap_or(false) {
                return Ok(StagedCode {
                    code: CodeRef {
                        sha256_hex: info.sha256_hex,
                        blob_id: rec.blob_id,
                        size: info.size,
                        unzipped_size: info.unzipped_size,
                    },
                    fresh_blob: None,
                });
            }
        }
        let mut w = self
            .inner
            .blobs
            .writer()
            .map_err(|e| error::service_exception(e.to_string()))?;
        let id = w.id().to_string();
        if let Err(e) = w.write(&zip).await {
            w.abort().await;
            return Err(error::service_exception(e.to_string()).into());
        }
        w.finish()
            .await
            .map_err(|e| error::service_exception(e.to_string()))?;
        Ok(StagedCode {
            code: CodeRef {
                sha256_hex: info.sha256_hex,
                blob_id: id.clone(),
                size: info.size,
                unzipped_size: info.unzipped_size,
            },
            fresh_blob: Some(id),
        })
    }

    /// After the commit (or its failure): publish a fresh blob the store now references,
    /// delete one it does not.
    pub(crate) async fn settle(&self, staged: &[StagedCode], adopted: &[String]) {
        for s in staged {
            let Some(id) = &s.fresh_blob else { continue };
            let res = if adopted.contains(id) {
                self.inner.blobs.publish(id).await
            } else {
                self.inner.blobs.delete(id).await
            };
            if let Err(e) = res {
                tracing::warn!(error = %e, blob = %id, "settling a lambda code blob");
            }
        }
    }

    /// Reads a package from S3 through the wired reader.
    pub(crate) async fn fetch_s3_code(
        &self,
        ctx: &RequestContext,
        bucket: &str,
        key: &str,
        version: Option<&str>,
    ) -> Result<Bytes, Fail> {
        let Some(src) = self.inner.code_objects.lock().clone() else {
            return Err(error::invalid_parameter(
                "Error occurred while GetObject. S3 Error Code: ServiceUnavailable. S3 Error Message: S3 is not available to Lambda on this node",
            )
            .into());
        };
        // The S3 object may be up to the unzipped limit (AWS has no smaller S3 limit).
        match src
            .get_object(&ctx.account_id, &ctx.region, bucket, key, version, code::MAX_UNZIPPED_BYTES)
            .await
        {
            Ok(b) => Ok(b),
            Err(CodeObjectError::NoSuchBucket) => Err(error::invalid_parameter(
                "Error occurred while GetObject. S3 Error Code: NoSuchBucket. S3 Error Message: The specified bucket does not exist",
            )
            .into()),
            Err(CodeObjectError::NoSuchKey) => Err(error::invalid_parameter(
                "Error occurred while GetObject. S3 Error Code: NoSuchKey. S3 Error Message: The specified key does not exist.",
            )
            .into()),
            Err(CodeObjectError::TooLarge) => Err(error::invalid_parameter(format!(
                "Unzipped size must be smaller than {} bytes",
                code::MAX_UNZIPPED_BYTES
            ))
            .into()),
            Err(CodeObjectError::Other(m)) => Err(error::service_exception(m).into()),
        }
    }

    /// A whole blob's bytes (zips are at most 250 MB; read in bounded chunks).
    pub(crate) async fn read_blob(&self, blob_id: &str) -> Result<Vec<u8>, String> {
        let mut stream = self
            .inner
            .blobs
            .read(blob_id, 0, code::MAX_UNZIPPED_BYTES)
            .await
            .map_err(|e| e.to_string())?;
        let mut out = Vec::new();
        while let Some(chunk) = stream.next().await {
            out.extend_from_slice(&chunk.map_err(|e| e.to_string())?);
        }
        Ok(out)
    }

    // ------------------------------------------------------------------ roles

    /// The role must exist in IAM (AWS: Lambda must be able to assume it).
    pub(crate) fn check_role(&self, role_arn: &str) -> Result<(), AwsError> {
        let Some((account, name)) = validate::parse_role_arn(role_arn) else {
            return Err(error::role_cannot_be_assumed());
        };
        match self.inner.iam.role(&account, &name) {
            Ok(_) => Ok(()),
            Err(_) => Err(error::role_cannot_be_assumed()),
        }
    }

    /// Temporary credentials of the function's role, as Lambda gets them from STS.
    async fn role_credentials(
        &self,
        account_id: &str,
        region: &str,
        function: &str,
        role_arn: &str,
    ) -> Option<Credentials> {
        let cache_key = format!("{account_id}|{role_arn}|{function}");
        let now = self.now_ms();
        if let Some(c) = self.inner.creds.lock().get(&cache_key) {
            if c.creds.expiration_ms - now > CREDS_RENEW_MARGIN_MS {
                return Some(c.creds.clone());
            }
        }
        let (role_account, role_name) = validate::parse_role_arn(role_arn)?;
        let duration = self
            .inner
            .iam
            .role(&role_account, &role_name)
            .ok()
            .map(|r| r.max_session_duration)
            .unwrap_or(3600);
        let ctx = RequestContext {
            account_id: account_id.to_string(),
            region: region.to_string(),
            principal: Principal::root(account_id, "lambda.amazonaws.com"),
            request_id: uuid::Uuid::new_v4().to_string(),
        };
        let sts = Sts::new(self.inner.iam.clone());
        let req = nimbus_model::sts::AssumeRoleRequest {
            role_arn: role_arn.to_string(),
            role_session_name: function.chars().take(64).collect(),
            duration_seconds: Some(duration),
            ..Default::default()
        };
        match sts.assume_role(&ctx, req).await {
            Ok(resp) => {
                let c = resp.credentials?;
                let creds = Credentials {
                    access_key_id: c.access_key_id,
                    secret_access_key: c.secret_access_key,
                    session_token: c.session_token,
                    expiration_ms: (c.expiration * 1000.0) as i64,
                };
                let mut cache = self.inner.creds.lock();
                if cache.len() >= MAX_CACHE_ENTRIES {
                    cache.clear();
                }
                cache.insert(
                    cache_key,
                    CachedCreds {
                        creds: creds.clone(),
                    },
                );
                Some(creds)
            }
            Err(e) => {
                tracing::warn!(role = role_arn, error = %e.message, "assuming a function's role failed");
                None
            }
        }
    }

    // ------------------------------------------------------------------ specs

    /// The spec the engine runs `cfg` of `func` with: code unpacked, layers merged,
    /// credentials fresh.
    pub(crate) async fn spec_for(
        &self,
        account_id: &str,
        region: &str,
        func: &FunctionRecord,
        cfg: &VersionConfig,
    ) -> Result<Arc<FunctionSpec>, AwsError> {
        let arn = validate::function_arn(region, account_id, &func.name);
        let cache_key = format!(
            "{arn}:{}:{}:{:?}",
            cfg.version, cfg.revision_id, func.reserved_concurrency
        );
        let now = self.now_ms();
        if let Some(s) = self.inner.specs.lock().get(&cache_key) {
            let fresh = s
                .credentials
                .as_ref()
                .is_none_or(|c| c.expiration_ms - now > CREDS_RENEW_MARGIN_MS);
            if fresh && s.code_dir.is_dir() && s.opt_dir.as_ref().is_none_or(|d| d.is_dir()) {
                return Ok(s.clone());
            }
        }
        let code_dir = self.ensure_code(&cfg.code).await?;
        let opt_dir = if cfg.layers.is_empty() {
            None
        } else {
            Some(self.ensure_layers(cfg).await?)
        };
        let credentials = self
            .role_credentials(account_id, region, &func.name, &cfg.role)
            .await;
        let spec = Arc::new(FunctionSpec {
            function_arn: arn,
            function_name: func.name.clone(),
            version: cfg.version.clone(),
            revision_id: cfg.revision_id.clone(),
            runtime: cfg
                .runtime
                .clone()
                .unwrap_or_else(|| "provided.al2023".into()),
            handler: cfg.handler.clone().unwrap_or_default(),
            code_dir,
            opt_dir,
            memory_mb: cfg.memory_mb,
            timeout_ms: u64::from(cfg.timeout_s) * 1000,
            ephemeral_storage_mb: cfg.ephemeral_mb,
            environment: cfg
                .environment
                .as_ref()
                .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .unwrap_or_default(),
            region: region.to_string(),
            account_id: account_id.to_string(),
            log_group: cfg.logging.log_group.clone(),
            credentials,
            reserved_concurrency: func.reserved_concurrency,
        });
        let mut specs = self.inner.specs.lock();
        if specs.len() >= MAX_CACHE_ENTRIES {
            specs.clear();
        }
        specs.insert(cache_key, spec.clone());
        Ok(spec)
    }

    async fn ensure_code(&self, code: &CodeRef) -> Result<PathBuf, AwsError> {
        let dir = code::code_dir(&self.inner.cfg.code_cache_dir, &code.sha256_hex);
        if dir.is_dir() {
            return Ok(dir);
        }
        let bytes = self
            .read_blob(&code.blob_id)
            .await
            .map_err(|e| error::service_exception(format!("reading the function code: {e}")))?;
        let cache = self.inner.cfg.code_cache_dir.clone();
        let sha = code.sha256_hex.clone();
        tokio::task::spawn_blocking(move || code::ensure_code_dir(&cache, &sha, &bytes))
            .await
            .map_err(|e| error::service_exception(e.to_string()))?
            .map_err(|e| error::service_exception(format!("unpacking the function code: {e}")))
    }

    async fn ensure_layers(&self, cfg: &VersionConfig) -> Result<PathBuf, AwsError> {
        let shas: Vec<&str> = cfg
            .layers
            .iter()
            .map(|l| l.code.sha256_hex.as_str())
            .collect();
        let dir = code::opt_dir(&self.inner.cfg.code_cache_dir, &shas);
        if dir.is_dir() {
            return Ok(dir);
        }
        let mut zips = Vec::with_capacity(cfg.layers.len());
        for l in &cfg.layers {
            let bytes = self
                .read_blob(&l.code.blob_id)
                .await
                .map_err(|e| error::service_exception(format!("reading layer {}: {e}", l.arn)))?;
            zips.push((l.code.sha256_hex.clone(), bytes));
        }
        let cache = self.inner.cfg.code_cache_dir.clone();
        tokio::task::spawn_blocking(move || code::ensure_opt_dir(&cache, &zips))
            .await
            .map_err(|e| error::service_exception(e.to_string()))?
            .map_err(|e| error::service_exception(format!("unpacking layers: {e}")))
    }

    /// Forget cached specs of a function (its environments are retired by the engine).
    pub(crate) fn forget_function(&self, function_arn: &str) {
        let prefix = format!("{function_arn}:");
        self.inner
            .specs
            .lock()
            .retain(|k, _| !k.starts_with(&prefix));
        self.inner.engine.retire(function_arn);
    }

    // ------------------------------------------------------------------ code download

    fn sign(&self, payload: &str) -> String {
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&self.inner.code_secret) else {
            return String::new();
        };
        mac.update(payload.as_bytes());
        hex::encode(mac.finalize().into_bytes())
            .chars()
            .take(32)
            .collect()
    }

    /// `Code.Location` / `Content.Location` for a zip: a URL under nimbus valid for
    /// [`LambdaConfig::code_url_ttl_ms`].
    pub(crate) fn code_location(&self, code: &CodeRef) -> String {
        let expires_s = (self.now_ms() + self.inner.cfg.code_url_ttl_ms) / 1000;
        let payload = format!("{}.{}.{expires_s}", code.sha256_hex, code.blob_id);
        let sig = self.sign(&payload);
        format!(
            "{}/_nimbus/lambda-code/{payload}.{sig}",
            self.inner.cfg.public_base_url.trim_end_matches('/')
        )
    }

    /// The zip a `Code.Location` token names (the binary serves
    /// `GET /_nimbus/lambda-code/<token>` with it as `application/zip`).
    pub async fn code_download(&self, token: &str) -> Result<Bytes, CodeDownloadError> {
        let mut parts = token.rsplitn(2, '.');
        let (Some(sig), Some(payload)) = (parts.next(), parts.next()) else {
            return Err(CodeDownloadError::Forbidden);
        };
        if self.sign(payload) != sig {
            return Err(CodeDownloadError::Forbidden);
        }
        let fields: Vec<&str> = payload.split('.').collect();
        let [_sha, blob_id, expires_s] = fields.as_slice() else {
            return Err(CodeDownloadError::Forbidden);
        };
        let expires_s: i64 = expires_s
            .parse()
            .map_err(|_| CodeDownloadError::Forbidden)?;
        if self.now_ms() / 1000 > expires_s {
            return Err(CodeDownloadError::Forbidden);
        }
        match self.read_blob(blob_id).await {
            Ok(b) => Ok(Bytes::from(b)),
            Err(e) if e.contains("no such blob") => Err(CodeDownloadError::NotFound),
            Err(e) => Err(CodeDownloadError::Internal(e)),
        }
    }

    // ------------------------------------------------------------------ recovery & gc

    /// At startup: publish tmp blobs the store references (a crash between commit and
    /// publish), delete the others. Lambda must have its own blob store directory: S3's
    /// recovery would otherwise remove Lambda's unpublished blobs and vice versa.
    pub async fn startup_recovery(&self) -> Result<(), String> {
        self.recover_leases()
            .await
            .map_err(|e| format!("async queue recovery failed: {e:?}"))?;
        let tmp = self
            .inner
            .blobs
            .list_tmp()
            .await
            .map_err(|e| e.to_string())?;
        if tmp.is_empty() {
            return Ok(());
        }
        let snap = self
            .snapshot()
            .map_err(|_| "store snapshot failed".to_string())?;
        let referenced: HashSet<String> =
            records::scan_all::<CodeBlob>(snap.as_ref(), keys::CODE_BLOB.as_bytes(), MAX_SCAN)
                .map_err(|e| e.to_string())?
                .into_iter()
                .map(|(_, r)| r.blob_id)
                .collect();
        drop(snap);
        for name in tmp {
            let res = if referenced.contains(&name) {
                self.inner.blobs.publish(&name).await
            } else {
                self.inner.blobs.abandon_tmp(&name).await
            };
            if let Err(e) = res {
                tracing::warn!(error = %e, blob = %name, "lambda blob recovery");
            }
        }
        Ok(())
    }

    /// Deletes unreferenced blobs. Each mark is claimed in a transaction that re-checks
    /// that no code record points at the blob (content uploaded again adopts the blob and
    /// removes the mark), then the file goes. A crash between the two leaks one file.
    pub(crate) async fn reap_garbage(&self) -> Result<usize, String> {
        let snap = self
            .snapshot()
            .map_err(|_| "store snapshot failed".to_string())?;
        let marks = records::keys_under(snap.as_ref(), keys::GARBAGE.as_bytes(), 1000)
            .map_err(|e| e.to_string())?;
        drop(snap);
        let mut n = 0;
        for key in marks {
            let id = String::from_utf8_lossy(key.get(keys::GARBAGE.len()..).unwrap_or_default())
                .to_string();
            let k = key.clone();
            let blob = id.clone();
            let claimed = self
                .inner
                .db
                .write(move |txn| {
                    let Some(sha) = txn.get(&k)? else {
                        return Ok::<_, nimbus_store::StoreError>(false);
                    };
                    txn.delete(&k)?;
                    let sha = String::from_utf8_lossy(&sha).to_string();
                    let rec: Option<CodeBlob> = records::get(txn, &keys::code_blob(&sha))?;
                    Ok(rec.is_none_or(|r| r.blob_id != blob))
                })
                .await
                .map_err(|e| e.to_string())?;
            if claimed {
                self.inner
                    .blobs
                    .delete(&id)
                    .await
                    .map_err(|e| e.to_string())?;
                n += 1;
            }
        }
        Ok(n)
    }

    /// The account's code storage (GetAccountSettings) and function count.
    pub(crate) fn account_usage(&self, account_id: &str, region: &str) -> Result<(i64, i64), Fail> {
        let snap = self.snapshot()?;
        let funcs: Vec<(Vec<u8>, FunctionRecord)> = records::scan_all(
            snap.as_ref(),
            &keys::functions_prefix(account_id, region),
            MAX_SCAN,
        )?;
        let mut total: i64 = 0;
        for (_, f) in &funcs {
            total += f.latest.code.size as i64;
            let versions: Vec<(Vec<u8>, VersionConfig)> = records::scan_all(
                snap.as_ref(),
                &keys::versions_prefix(account_id, region, &f.name),
                MAX_SCAN,
            )?;
            total += versions
                .iter()
                .map(|(_, v)| v.code.size as i64)
                .sum::<i64>();
        }
        let layers: Vec<(Vec<u8>, records::LayerVersionRecord)> = records::scan_all(
            snap.as_ref(),
            &keys::layers_prefix(account_id, region),
            MAX_SCAN,
        )?;
        total += layers.iter().map(|(_, l)| l.code.size as i64).sum::<i64>();
        Ok((total, funcs.len() as i64))
    }

    /// Base64 of the last 4 KB of a log tail (X-Amz-Log-Result).
    pub(crate) fn log_result(tail: &[u8]) -> String {
        let start = tail.len().saturating_sub(4096);
        base64::engine::general_purpose::STANDARD.encode(tail.get(start..).unwrap_or_default())
    }
}

/// A zip that cannot be used, as AWS words it.
pub(crate) fn code_error(e: CodeError) -> Fail {
    match e {
        CodeError::BadZip(_) => error::invalid_parameter(
            "Could not unzip uploaded file. Please check your file, then try to upload again.",
        )
        .into(),
        CodeError::TooLarge(_) => error::invalid_parameter(format!(
            "Unzipped size must be smaller than {} bytes",
            code::MAX_UNZIPPED_BYTES
        ))
        .into(),
        CodeError::Io(e) => error::service_exception(format!("code cache: {e}")).into(),
    }
}

/// Adds one reference to staged code inside a transaction and returns the reference to
/// store (the blob already known for this content wins over a freshly written one).
pub(crate) fn adopt(
    txn: &mut dyn nimbus_store::WriteTxn,
    code: &CodeRef,
) -> Result<CodeRef, nimbus_store::StoreError> {
    let key = keys::code_blob(&code.sha256_hex);
    match records::get::<CodeBlob>(txn, &key)? {
        Some(mut rec) => {
            rec.refs += 1;
            records::put(txn, &key, &rec)?;
            // The blob may have been marked garbage and be waiting for the reaper.
            txn.delete(&keys::garbage(&rec.blob_id))?;
            Ok(CodeRef {
                blob_id: rec.blob_id,
                ..code.clone()
            })
        }
        None => {
            txn.delete(&keys::garbage(&code.blob_id))?;
            records::put(
                txn,
                &key,
                &CodeBlob {
                    blob_id: code.blob_id.clone(),
                    size: code.size,
                    unzipped_size: code.unzipped_size,
                    refs: 1,
                },
            )?;
            Ok(code.clone())
        }
    }
}
