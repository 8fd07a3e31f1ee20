//! What Lambda stores (as JSON) and the small typed helpers to read and write it.
//! Where each record lives is documented in [`crate::keys`].

use std::collections::BTreeMap;
use std::ops::Bound;

use base64::Engine as _;
use nimbus_store::{ReadTxn, StoreError, WriteTxn};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::keys;

/// A zip in the blob store, by content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeRef {
    pub sha256_hex: String,
    pub blob_id: String,
    /// Zipped bytes (CodeSize).
    pub size: u64,
    /// Sum of the entries' uncompressed sizes (the 250 MB limit counts these).
    pub unzipped_size: u64,
}

impl CodeRef {
    /// CodeSha256 as AWS reports it: base64 of the SHA-256 digest.
    pub fn sha256_b64(&self) -> String {
        let raw = hex::decode(&self.sha256_hex).unwrap_or_default();
        base64::engine::general_purpose::STANDARD.encode(raw)
    }
}

/// A layer a function version uses: the layer version's ARN and its code (kept so the
/// function keeps working after the layer version is deleted, as in AWS).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerRef {
    pub arn: String,
    pub code: CodeRef,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoggingRec {
    /// `Text` or `JSON`.
    pub log_format: String,
    pub application_log_level: Option<String>,
    pub system_log_level: Option<String>,
    pub log_group: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct VpcRec {
    pub subnet_ids: Vec<String>,
    pub security_group_ids: Vec<String>,
    pub ipv6_allowed_for_dual_stack: Option<bool>,
}

/// The configuration of `$LATEST` or of one published version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VersionConfig {
    /// `$LATEST` or the version number.
    pub version: String,
    pub description: String,
    pub runtime: Option<String>,
    pub handler: Option<String>,
    pub role: String,
    pub timeout_s: u32,
    pub memory_mb: u32,
    pub ephemeral_mb: u32,
    /// `None`: the function has no Environment at all (AWS omits the member).
    pub environment: Option<BTreeMap<String, String>>,
    pub layers: Vec<LayerRef>,
    pub code: CodeRef,
    pub last_modified_ms: i64,
    pub revision_id: String,
    pub architectures: Vec<String>,
    pub tracing_mode: String,
    pub logging: LoggingRec,
    pub dead_letter_target: Option<String>,
    pub kms_key_arn: Option<String>,
    pub vpc: Option<VpcRec>,
    pub package_type: String,
    /// SnapStart `ApplyOn` (stored and reported; nimbus has no snapshots).
    pub snap_start_apply_on: Option<String>,
}

/// One function: everything that is not per version, and `$LATEST`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunctionRecord {
    pub name: String,
    pub created_ms: i64,
    pub tags: BTreeMap<String, String>,
    pub reserved_concurrency: Option<u32>,
    /// The highest version number ever published (never reused after deletion).
    pub last_version: u64,
    /// `$LATEST`'s revision when `last_version` was published: PublishVersion without
    /// changes since then answers that version instead of making a new one, as AWS.
    pub published_revision: Option<String>,
    pub latest: VersionConfig,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AliasRecord {
    pub name: String,
    pub function_version: String,
    pub description: String,
    /// AdditionalVersionWeights: version → weight (0..=1).
    pub routing: BTreeMap<String, f64>,
    pub revision_id: String,
}

/// A resource-based policy: the statements as AWS renders them (JSON text, members in
/// AWS's order: Sid, Effect, Principal, Action, Resource, Condition).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PolicyRecord {
    pub revision_id: String,
    pub statements: Vec<String>,
}

impl PolicyRecord {
    /// The statements parsed (for matching by Sid, or evaluating).
    pub fn parsed(&self) -> Vec<serde_json::Value> {
        self.statements
            .iter()
            .filter_map(|s| serde_json::from_str(s).ok())
            .collect()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventInvokeConfigRecord {
    pub maximum_retry_attempts: Option<i32>,
    pub maximum_event_age_s: Option<i32>,
    pub on_success: Option<String>,
    pub on_failure: Option<String>,
    pub last_modified_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct CorsRec {
    pub allow_credentials: Option<bool>,
    pub allow_headers: Vec<String>,
    pub allow_methods: Vec<String>,
    pub allow_origins: Vec<String>,
    pub expose_headers: Vec<String>,
    pub max_age: Option<i32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UrlConfigRecord {
    pub url_id: String,
    pub qualifier: Option<String>,
    /// `NONE` or `AWS_IAM`.
    pub auth_type: String,
    pub cors: Option<CorsRec>,
    /// `BUFFERED` or `RESPONSE_STREAM`.
    pub invoke_mode: String,
    pub created_ms: i64,
    pub modified_ms: i64,
}

/// Which function (and qualifier) a URL id routes to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UrlIndex {
    pub account_id: String,
    pub region: String,
    pub function: String,
    pub qualifier: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerVersionRecord {
    pub layer_name: String,
    pub version: u64,
    pub description: String,
    pub created_ms: i64,
    pub compatible_runtimes: Vec<String>,
    pub compatible_architectures: Vec<String>,
    pub license_info: Option<String>,
    pub code: CodeRef,
}

/// A zip in the blob store, shared by every version and layer version with the same
/// content. When `refs` drops to 0 the record goes and the blob is marked garbage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeBlob {
    pub blob_id: String,
    pub size: u64,
    pub unzipped_size: u64,
    pub refs: u64,
}

/// One asynchronous invocation waiting in the queue (or in flight: an in-flight event's
/// due time is its lease's end, so a crash makes it due again: at least once).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueuedEvent {
    /// The request id the caller got (and the runtime sees, on every attempt).
    pub id: String,
    pub account_id: String,
    pub region: String,
    pub function: String,
    pub qualifier: Option<String>,
    pub payload_b64: String,
    pub enqueued_ms: i64,
    /// Invocations made so far (approximateInvokeCount).
    pub attempts: u32,
    /// Throttled tries (retried until the event is too old; they do not count as attempts).
    #[serde(default)]
    pub throttles: u32,
    /// True in the copy stored under a lease key while a process runs the event: at
    /// startup such an event belongs to a process that is gone and is due at once.
    #[serde(default)]
    pub leased: bool,
}

pub fn get<T: DeserializeOwned>(
    txn: &(impl ReadTxn + ?Sized),
    key: &[u8],
) -> Result<Option<T>, StoreError> {
    match txn.get(key)? {
        None => Ok(None),
        Some(raw) => serde_json::from_slice(&raw)
            .map(Some)
            .map_err(|e| StoreError::Corrupt(format!("lambda record: {e}"))),
    }
}

pub fn put<T: Serialize>(
    txn: &mut (impl WriteTxn + ?Sized),
    key: &[u8],
    value: &T,
) -> Result<(), StoreError> {
    let raw = serde_json::to_vec(value)
        .map_err(|e| StoreError::Invalid(format!("encoding a lambda record: {e}")))?;
    txn.put(key, &raw)
}

/// Up to `limit` records under `prefix` whose keys come after `after` (exclusive).
pub fn scan<T: DeserializeOwned>(
    txn: &(impl ReadTxn + ?Sized),
    prefix: &[u8],
    after: Option<&[u8]>,
    limit: usize,
) -> Result<Vec<(Vec<u8>, T)>, StoreError> {
    let end = keys::prefix_end(prefix);
    let start = match after {
        Some(a) => Bound::Excluded(a),
        None => Bound::Included(prefix),
    };
    let rows = txn.range(
        start,
        Bound::Excluded(&end),
        false,
        limit.min(nimbus_store::MAX_RANGE_LIMIT),
    )?;
    rows.into_iter()
        .map(|(k, v)| {
            serde_json::from_slice(&v)
                .map(|t| (k, t))
                .map_err(|e| StoreError::Corrupt(format!("lambda record: {e}")))
        })
        .collect()
}

/// Every record under `prefix`, up to `max` (callers bound what they load).
pub fn scan_all<T: DeserializeOwned>(
    txn: &(impl ReadTxn + ?Sized),
    prefix: &[u8],
    max: usize,
) -> Result<Vec<(Vec<u8>, T)>, StoreError> {
    let mut out: Vec<(Vec<u8>, T)> = Vec::new();
    loop {
        let after = out.last().map(|(k, _)| k.clone());
        let page = scan(txn, prefix, after.as_deref(), 1000)?;
        let n = page.len();
        out.extend(page);
        if n < 1000 || out.len() >= max {
            out.truncate(max);
            return Ok(out);
        }
    }
}

/// Every key under `prefix` (bounded by `max`), for deletions.
pub fn keys_under(
    txn: &(impl ReadTxn + ?Sized),
    prefix: &[u8],
    max: usize,
) -> Result<Vec<Vec<u8>>, StoreError> {
    let end = keys::prefix_end(prefix);
    let mut out: Vec<Vec<u8>> = Vec::new();
    loop {
        let start = match out.last() {
            Some(k) => Bound::Excluded(k.as_slice()),
            None => Bound::Included(prefix),
        };
        let rows = txn.range(start, Bound::Excluded(&end), false, 1000)?;
        let n = rows.len();
        out.extend(rows.into_iter().map(|(k, _)| k));
        if n < 1000 || out.len() >= max {
            out.truncate(max);
            return Ok(out);
        }
    }
}

/// Adds one reference to a code blob (creating its record).
pub fn code_ref_add(txn: &mut (impl WriteTxn + ?Sized), code: &CodeRef) -> Result<(), StoreError> {
    let key = keys::code_blob(&code.sha256_hex);
    let mut rec: CodeBlob = get(txn, &key)?.unwrap_or(CodeBlob {
        blob_id: code.blob_id.clone(),
        size: code.size,
        unzipped_size: code.unzipped_size,
        refs: 0,
    });
    rec.refs += 1;
    put(txn, &key, &rec)
}

/// Drops one reference; the last one marks the blob garbage.
pub fn code_ref_drop(txn: &mut (impl WriteTxn + ?Sized), code: &CodeRef) -> Result<(), StoreError> {
    let key = keys::code_blob(&code.sha256_hex);
    let Some(mut rec) = get::<CodeBlob>(txn, &key)? else {
        return Ok(());
    };
    rec.refs = rec.refs.saturating_sub(1);
    if rec.refs == 0 {
        txn.delete(&key)?;
        txn.put(&keys::garbage(&rec.blob_id), code.sha256_hex.as_bytes())?;
        Ok(())
    } else {
        put(txn, &key, &rec)
    }
}

/// Drops the references of a version configuration (its code and its layers).
pub fn config_refs_drop(
    txn: &mut (impl WriteTxn + ?Sized),
    cfg: &VersionConfig,
) -> Result<(), StoreError> {
    code_ref_drop(txn, &cfg.code)?;
    for l in &cfg.layers {
        code_ref_drop(txn, &l.code)?;
    }
    Ok(())
}

pub fn config_refs_add(
    txn: &mut (impl WriteTxn + ?Sized),
    cfg: &VersionConfig,
) -> Result<(), StoreError> {
    code_ref_add(txn, &cfg.code)?;
    for l in &cfg.layers {
        code_ref_add(txn, &l.code)?;
    }
    Ok(())
}
