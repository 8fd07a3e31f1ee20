//! Table metadata: what a table is (keys, indexes, billing, streams, ...), how it is
//! stored, and the in-memory cache that keeps the hot path from decoding it per request.
//!
//! The store is the truth; the cache is invalidated (by generation) on every table change
//! this process makes. Stored metadata is serde JSON: it is small, read rarely (cache
//! misses and control-plane operations) and easy to evolve with `#[serde(default)]`.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::RwLock;
use serde::{Deserialize, Serialize};

use nimbus_store::{Db, ReadTxn, WriteTxn};

use crate::error::DynamoDbError;
use crate::keycodec::KeyType;
use crate::ops::layout;

/// One key attribute: name and scalar type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyAttr {
    pub name: String,
    #[serde(with = "key_type_serde")]
    pub ty: KeyType,
}

/// A table's or an index's key schema.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeySchema {
    pub hash: KeyAttr,
    pub range: Option<KeyAttr>,
}

impl KeySchema {
    /// The key attributes in schema order (hash first).
    pub fn attrs(&self) -> impl Iterator<Item = &KeyAttr> {
        std::iter::once(&self.hash).chain(self.range.as_ref())
    }

    /// True when `name` is one of this schema's key attributes.
    pub fn contains(&self, name: &str) -> bool {
        self.attrs().any(|a| a.name == name)
    }
}

/// Which attributes an index copies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Projection {
    All,
    KeysOnly,
    /// Non-key attributes copied in addition to the keys (in the order given).
    Include(Vec<String>),
}

impl Projection {
    /// `ALL`, `KEYS_ONLY`, `INCLUDE`.
    pub fn type_str(&self) -> &'static str {
        match self {
            Projection::All => "ALL",
            Projection::KeysOnly => "KEYS_ONLY",
            Projection::Include(_) => "INCLUDE",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum IndexKind {
    Local,
    Global,
}

/// `IndexStatus` (GSIs) and `TableStatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Status {
    Creating,
    Updating,
    Deleting,
    Active,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Creating => "CREATING",
            Status::Updating => "UPDATING",
            Status::Deleting => "DELETING",
            Status::Active => "ACTIVE",
        }
    }
}

/// Provisioned capacity with the bookkeeping DescribeTable reports.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Throughput {
    pub read_units: i64,
    pub write_units: i64,
    #[serde(default)]
    pub last_increase_ms: Option<i64>,
    #[serde(default)]
    pub last_decrease_ms: Option<i64>,
    #[serde(default)]
    pub decreases_today: i64,
}

/// `OnDemandThroughput` limits (-1 or absent means no limit).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OnDemandLimits {
    pub max_read_units: Option<i64>,
    pub max_write_units: Option<i64>,
}

/// A secondary index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexMeta {
    pub name: String,
    pub kind: IndexKind,
    pub key: KeySchema,
    pub projection: Projection,
    /// GSIs: CREATING while being backfilled, ACTIVE after. LSIs are always ACTIVE.
    pub status: Status,
    /// True while existing items are being copied into a GSI created by UpdateTable.
    #[serde(default)]
    pub backfilling: bool,
    /// GSIs of provisioned tables only.
    #[serde(default)]
    pub throughput: Option<Throughput>,
    #[serde(default)]
    pub on_demand: Option<OnDemandLimits>,
    /// Store-key id of this index within its table; never reused within a table, so
    /// entries of a deleted index cannot mix with a new index of the same name.
    pub index_id: u32,
    /// Contributor Insights of a GSI, once enabled (`insights`).
    #[serde(default)]
    pub insights: Option<crate::ops::insights::InsightsMeta>,
}

impl IndexMeta {
    /// True when reads of this index must be refused (GSI still being backfilled).
    pub fn is_backfilling(&self) -> bool {
        self.backfilling
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum BillingMode {
    Provisioned,
    PayPerRequest,
}

impl BillingMode {
    pub fn as_str(self) -> &'static str {
        match self {
            BillingMode::Provisioned => "PROVISIONED",
            BillingMode::PayPerRequest => "PAY_PER_REQUEST",
        }
    }
}

/// The table's stream, when one is or was enabled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamMeta {
    pub enabled: bool,
    /// `KEYS_ONLY`, `NEW_IMAGE`, `OLD_IMAGE`, `NEW_AND_OLD_IMAGES`.
    pub view_type: String,
    /// `2026-11-26T16:00:00.000`: the stream's creation time, part of its ARN.
    pub label: String,
}

/// Server-side encryption as configured by SSESpecification (KMS when enabled).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SseMeta {
    pub kms_key_arn: String,
}

/// Time to live settings (owned by the TTL operations).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TtlMeta {
    pub attribute: String,
    pub enabled: bool,
}

/// Point-in-time recovery (continuous backups), owned by `pitr` and `backups`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PitrMeta {
    /// When recovery was (last) enabled: the earliest restorable time.
    pub enabled_since_ms: i64,
    /// `RecoveryPeriodInDays` (1-35).
    pub recovery_period_days: u32,
}

/// How a table restored from a backup or a point in time came to be (`RestoreSummary`),
/// owned by `backups` and `pitr`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestoreMeta {
    pub source_backup_arn: Option<String>,
    pub source_table_arn: Option<String>,
    /// The point in time (or the backup's creation time) the data reflects.
    pub restore_ms: i64,
    pub in_progress: bool,
}

/// One replica of a global table (version 2019.11.21), owned by `replication`.
/// Every member table stores the whole group (itself included), in creation order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplicaMeta {
    pub region: String,
    /// `CREATING`, `ACTIVE`, `DELETING`, ...
    pub status: String,
    /// When this member joined the group (0 for the table the group grew from).
    #[serde(default)]
    pub created_ms: i64,
    /// The region whose UpdateTable created this member (AWS's 24-hour source rule).
    #[serde(default)]
    pub source_region: Option<String>,
    /// `ProvisionedThroughputOverride.ReadCapacityUnits`.
    #[serde(default)]
    pub read_units_override: Option<i64>,
    /// `OnDemandThroughputOverride.MaxReadRequestUnits`.
    #[serde(default)]
    pub max_read_units_override: Option<i64>,
    /// `TableClassOverride`.
    #[serde(default)]
    pub table_class_override: Option<String>,
    /// Per-index overrides: (index name, read units, max read request units).
    #[serde(default)]
    pub index_overrides: Vec<(String, Option<i64>, Option<i64>)>,
}

/// Everything that defines a table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableMeta {
    /// `TableId`: a v4 UUID, also the store-key prefix of the table's data.
    pub table_id: String,
    /// The UUID's 16 bytes (the prefix itself).
    pub key_id: [u8; 16],
    pub name: String,
    pub account_id: String,
    pub region: String,
    pub key: KeySchema,
    /// `AttributeDefinitions` as given (name, type), in request order.
    pub attribute_definitions: Vec<KeyAttr>,
    pub indexes: Vec<IndexMeta>,
    /// Next `index_id` to hand out.
    pub next_index_id: u32,
    pub billing_mode: BillingMode,
    /// Provisioned throughput (zeros for on-demand).
    pub throughput: Throughput,
    #[serde(default)]
    pub on_demand: Option<OnDemandLimits>,
    /// When the table last switched to PAY_PER_REQUEST.
    #[serde(default)]
    pub last_pay_per_request_ms: Option<i64>,
    #[serde(default)]
    pub stream: Option<StreamMeta>,
    #[serde(default)]
    pub sse: Option<SseMeta>,
    /// `STANDARD` or `STANDARD_INFREQUENT_ACCESS`.
    pub table_class: String,
    #[serde(default)]
    pub table_class_updated_ms: Option<i64>,
    #[serde(default)]
    pub deletion_protection: bool,
    /// Tags in insertion order; keys unique.
    #[serde(default)]
    pub tags: Vec<(String, String)>,
    #[serde(default)]
    pub ttl: Option<TtlMeta>,
    #[serde(default)]
    pub pitr: Option<PitrMeta>,
    /// Set on tables created by a restore.
    #[serde(default)]
    pub restore: Option<RestoreMeta>,
    /// Every region of the global table, this one included; empty for a plain table.
    #[serde(default)]
    pub replicas: Vec<ReplicaMeta>,
    /// Contributor Insights of the table, once enabled (`insights`).
    #[serde(default)]
    pub insights: Option<crate::ops::insights::InsightsMeta>,
    /// The table's resource-based policy (`policies`).
    #[serde(default)]
    pub policy: Option<crate::ops::policies::PolicyMeta>,
    /// Resource-based policies of the table's streams (`policies`).
    #[serde(default)]
    pub stream_policies: Vec<crate::ops::policies::StreamPolicy>,
    pub created_ms: i64,
    pub status: Status,
    /// Bumped on every change; also stored in the table's counters record so a write with
    /// a stale cached copy notices and reloads (see `write::apply_item_change`).
    pub version: u64,
}

impl TableMeta {
    /// `arn:aws:dynamodb:REGION:ACCOUNT:table/NAME`.
    pub fn arn(&self) -> String {
        table_arn(&self.region, &self.account_id, &self.name)
    }

    /// The index named `name`.
    pub fn index(&self, name: &str) -> Option<&IndexMeta> {
        self.indexes.iter().find(|i| i.name == name)
    }

    pub fn index_mut(&mut self, name: &str) -> Option<&mut IndexMeta> {
        self.indexes.iter_mut().find(|i| i.name == name)
    }

    /// `IndexArn`: the table ARN + `/index/NAME`.
    pub fn index_arn(&self, index: &str) -> String {
        format!("{}/index/{}", self.arn(), index)
    }

    /// The declared type of an attribute, when it is in AttributeDefinitions.
    pub fn attribute_type(&self, name: &str) -> Option<KeyType> {
        self.attribute_definitions
            .iter()
            .find(|a| a.name == name)
            .map(|a| a.ty)
    }

    /// `LatestStreamArn`, when the table has (or had) a stream.
    pub fn stream_arn(&self) -> Option<String> {
        self.stream
            .as_ref()
            .map(|s| format!("{}/stream/{}", self.arn(), s.label))
    }

    /// Serialized form for the store.
    pub fn to_bytes(&self) -> Result<Vec<u8>, DynamoDbError> {
        let mut out = vec![META_FORMAT_VERSION];
        serde_json::to_writer(&mut out, self)
            .map_err(|e| DynamoDbError::Internal(format!("cannot encode table metadata: {e}")))?;
        Ok(out)
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<TableMeta, DynamoDbError> {
        match bytes.split_first() {
            Some((&META_FORMAT_VERSION, body)) => serde_json::from_slice(body).map_err(|e| {
                DynamoDbError::Internal(format!("stored table metadata is corrupt: {e}"))
            }),
            _ => Err(DynamoDbError::Internal(
                "stored table metadata has an unknown format".into(),
            )),
        }
    }
}

const META_FORMAT_VERSION: u8 = 1;

/// `arn:aws:dynamodb:REGION:ACCOUNT:table/NAME`.
pub fn table_arn(region: &str, account: &str, name: &str) -> String {
    format!("arn:aws:dynamodb:{region}:{account}:table/{name}")
}

/// Reads a table's metadata from the store (no cache).
pub fn load_table(
    txn: &dyn ReadTxn,
    account: &str,
    region: &str,
    name: &str,
) -> Result<Option<TableMeta>, DynamoDbError> {
    match txn.get(&layout::table_meta_key(account, region, name))? {
        Some(bytes) => Ok(Some(TableMeta::from_bytes(&bytes)?)),
        None => Ok(None),
    }
}

/// Writes a table's metadata and mirrors its version into the counters record (which
/// every item write reads, so writers holding an older copy notice the change). The caller
/// bumps `meta.version` first. The counters record must exist (created by CreateTable).
pub fn save_table(txn: &mut dyn WriteTxn, meta: &TableMeta) -> Result<(), DynamoDbError> {
    txn.put(
        &layout::table_meta_key(&meta.account_id, &meta.region, &meta.name),
        &meta.to_bytes()?,
    )?;
    let ckey = layout::table_counters_key(&meta.key_id);
    let mut counters = match txn.get(&ckey)? {
        Some(b) => layout::Counters::decode(&b)?,
        None => layout::Counters::default(),
    };
    counters.version = meta.version;
    txn.put(&ckey, &counters.encode())?;
    // A newly enabled stream joins the stream registry in the same transaction.
    crate::ops::streams::on_table_saved(txn, meta)?;
    Ok(())
}

/// Most tables the cache holds; beyond this it is cleared (simple and bounded; the
/// default account limit is 2,500 tables per region).
pub const CACHE_CAPACITY: usize = 4096;

/// Bounded cache of table metadata keyed by (account, region, name).
///
/// Nested maps so that a lookup borrows the request's strings instead of allocating a key.
///
/// Races: a reader that loads metadata from a snapshot taken before a table change must
/// not put that stale copy back after the change invalidated the entry. Each change bumps
/// `generation`; a loader records the generation before reading the store and inserts only
/// if it has not moved.
#[derive(Default)]
pub struct TableCache {
    inner: RwLock<CacheInner>,
}

type NameMap = HashMap<String, Arc<TableMeta>>;

#[derive(Default)]
struct CacheInner {
    generation: u64,
    len: usize,
    /// account -> region -> name -> metadata.
    tables: HashMap<String, HashMap<String, NameMap>>,
}

impl TableCache {
    pub fn new() -> Self {
        Self::default()
    }

    /// The cached metadata, if present.
    pub fn get(&self, account: &str, region: &str, name: &str) -> Option<Arc<TableMeta>> {
        let inner = self.inner.read();
        inner.tables.get(account)?.get(region)?.get(name).cloned()
    }

    /// The generation to pass to `insert` after loading from the store.
    pub fn generation(&self) -> u64 {
        self.inner.read().generation
    }

    /// Caches `meta` unless a table change happened since `generation` was read.
    pub fn insert(&self, generation: u64, meta: Arc<TableMeta>) {
        let mut inner = self.inner.write();
        if inner.generation != generation {
            return;
        }
        if inner.len >= CACHE_CAPACITY {
            inner.tables.clear();
            inner.len = 0;
        }
        let previous = inner
            .tables
            .entry(meta.account_id.clone())
            .or_default()
            .entry(meta.region.clone())
            .or_default()
            .insert(meta.name.clone(), meta);
        if previous.is_none() {
            inner.len += 1;
        }
    }

    /// Drops a table's entry (call after every committed change to it).
    pub fn invalidate(&self, account: &str, region: &str, name: &str) {
        let mut inner = self.inner.write();
        inner.generation += 1;
        let removed = inner
            .tables
            .get_mut(account)
            .and_then(|r| r.get_mut(region))
            .and_then(|n| n.remove(name));
        if removed.is_some() {
            inner.len = inner.len.saturating_sub(1);
        }
    }

    /// Gets from the cache, or loads from a fresh snapshot of `db` and caches. The
    /// generation is read before the snapshot is taken, so a change that commits after the
    /// snapshot always invalidates what this call would insert.
    pub fn get_or_load(
        &self,
        db: &Db,
        account: &str,
        region: &str,
        name: &str,
    ) -> Result<Option<Arc<TableMeta>>, DynamoDbError> {
        if let Some(m) = self.get(account, region, name) {
            return Ok(Some(m));
        }
        let generation = self.generation();
        let snapshot = db.snapshot()?;
        match load_table(snapshot.as_ref(), account, region, name)? {
            Some(meta) => {
                let meta = Arc::new(meta);
                self.insert(generation, meta.clone());
                Ok(Some(meta))
            }
            None => Ok(None),
        }
    }
}

mod key_type_serde {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::keycodec::KeyType;

    pub fn serialize<S: Serializer>(t: &KeyType, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(t.as_str())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<KeyType, D::Error> {
        let s = String::deserialize(d)?;
        KeyType::parse(&s).ok_or_else(|| serde::de::Error::custom(format!("bad key type {s}")))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) mod tests {
    use super::*;

    /// A table with hash `pk` (S), range `sk` (N) and one GSI `gsi1` on `gpk` (S).
    pub fn sample_table() -> TableMeta {
        TableMeta {
            table_id: "0f2a3b4c-0000-4000-8000-000000000001".into(),
            key_id: [7; 16],
            name: "t1".into(),
            account_id: "000000000000".into(),
            region: "us-east-1".into(),
            key: KeySchema {
                hash: KeyAttr {
                    name: "pk".into(),
                    ty: KeyType::S,
                },
                range: Some(KeyAttr {
                    name: "sk".into(),
                    ty: KeyType::N,
                }),
            },
            attribute_definitions: vec![
                KeyAttr {
                    name: "pk".into(),
                    ty: KeyType::S,
                },
                KeyAttr {
                    name: "sk".into(),
                    ty: KeyType::N,
                },
                KeyAttr {
                    name: "gpk".into(),
                    ty: KeyType::S,
                },
            ],
            indexes: vec![IndexMeta {
                name: "gsi1".into(),
                kind: IndexKind::Global,
                key: KeySchema {
                    hash: KeyAttr {
                        name: "gpk".into(),
                        ty: KeyType::S,
                    },
                    range: None,
                },
                projection: Projection::KeysOnly,
                status: Status::Active,
                backfilling: false,
                throughput: None,
                on_demand: None,
                index_id: 1,
                insights: None,
            }],
            next_index_id: 2,
            billing_mode: BillingMode::PayPerRequest,
            throughput: Throughput::default(),
            on_demand: None,
            last_pay_per_request_ms: None,
            stream: None,
            sse: None,
            table_class: "STANDARD".into(),
            table_class_updated_ms: None,
            deletion_protection: false,
            tags: vec![],
            ttl: None,
            pitr: None,
            restore: None,
            replicas: Vec::new(),
            insights: None,
            policy: None,
            stream_policies: Vec::new(),
            created_ms: 1_700_000_000_000,
            status: Status::Active,
            version: 1,
        }
    }

    #[test]
    fn meta_round_trips() {
        let t = sample_table();
        let bytes = t.to_bytes().unwrap();
        assert_eq!(TableMeta::from_bytes(&bytes).unwrap(), t);
        assert!(TableMeta::from_bytes(&[9, b'{']).is_err());
        assert!(TableMeta::from_bytes(&[]).is_err());
        assert_eq!(t.arn(), "arn:aws:dynamodb:us-east-1:000000000000:table/t1");
        assert_eq!(
            t.index_arn("gsi1"),
            "arn:aws:dynamodb:us-east-1:000000000000:table/t1/index/gsi1"
        );
        assert!(t.index("gsi1").is_some());
        assert!(t.index("nope").is_none());
        assert_eq!(t.attribute_type("gpk"), Some(KeyType::S));
    }

    #[test]
    fn cache_refuses_stale_insert() {
        let cache = TableCache::new();
        let t = Arc::new(sample_table());
        let g = cache.generation();
        cache.invalidate("000000000000", "us-east-1", "t1");
        cache.insert(g, t.clone());
        assert!(cache.get("000000000000", "us-east-1", "t1").is_none());
        let g = cache.generation();
        cache.insert(g, t);
        assert!(cache.get("000000000000", "us-east-1", "t1").is_some());
        cache.invalidate("000000000000", "us-east-1", "t1");
        assert!(cache.get("000000000000", "us-east-1", "t1").is_none());
    }
}
