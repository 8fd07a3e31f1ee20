//! Time to live: UpdateTimeToLive, DescribeTimeToLive and the background sweeper that
//! deletes expired items.
//!
//! Store keys (all under `ddb/`, see `layout` for the notation):
//! - `ddb/tl/` tid -> JSON `{account, region, name}`: the tables with TTL enabled, so a
//!   sweep visits only them. Written by UpdateTimeToLive in the same transaction as the
//!   metadata; an entry whose table is gone (or re-created, or has TTL off) is removed by
//!   the sweeper, so DeleteTable needs no hook.
//!
//! AWS semantics kept: the TTL attribute must hold a Number of epoch seconds; other types
//! are ignored; an item expires once that time is not after now, except that values more
//! than five years in the past are ignored (AWS's guard against milliseconds or garbage).
//! A TTL deletion goes through `write::apply_item_change` with `ChangeOrigin::Ttl`, so
//! indexes, counters, the stream (REMOVE by `dynamodb.amazonaws.com`) and the PITR history
//! see it like any delete.
//!
//! Differences from AWS: the change is effective at once (AWS also reports the settled
//! ENABLED/DISABLED status within a second or two, but enforces a ~1 hour cooldown between
//! two UpdateTimeToLive calls on a table; nimbus has no cooldown, so test suites can toggle
//! TTL freely) and expired items go within about a second instead of within days.

use std::collections::HashMap;
use std::ops::Bound;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use nimbus_core::RequestContext;
use nimbus_model::dynamodb as m;
use nimbus_store::{ReadTxn, StoreError, WriteTxn};

use crate::error::DynamoDbError;
use crate::number::Number;
use crate::ops::catalog::{self, TableMeta, TtlMeta};
use crate::ops::layout;
use crate::ops::tables::{table_name_from, table_not_found};
use crate::ops::write::{self, ChangeCtx, ChangeOrigin};
use crate::ops::DynamoDb;
use crate::value::{Item, Value};

/// Registry of TTL-enabled tables.
pub const TTL_TABLE_PREFIX: &[u8] = b"ddb/tl/";

/// Values further than this in the past are not treated as expiry times (AWS: five years).
pub const MAX_PAST_SECS: i64 = 5 * 365 * 24 * 3600;

/// Most TTL-enabled tables one sweep looks at (bounded; AWS's default table quota is
/// 2,500 per region).
const MAX_TABLES_PER_SWEEP: usize = 10_000;

fn registry_key(tid: &[u8; 16]) -> Vec<u8> {
    let mut k = TTL_TABLE_PREFIX.to_vec();
    k.extend_from_slice(tid);
    k
}

/// Who a registry entry points at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableRef {
    pub account: String,
    pub region: String,
    pub name: String,
}

impl TableRef {
    pub fn of(meta: &TableMeta) -> Self {
        TableRef {
            account: meta.account_id.clone(),
            region: meta.region.clone(),
            name: meta.name.clone(),
        }
    }

    pub fn to_bytes(&self) -> Result<Vec<u8>, DynamoDbError> {
        serde_json::to_vec(self)
            .map_err(|e| DynamoDbError::Internal(format!("cannot encode a table reference: {e}")))
    }

    pub fn from_bytes(b: &[u8]) -> Result<Self, DynamoDbError> {
        serde_json::from_slice(b)
            .map_err(|e| DynamoDbError::Internal(format!("stored table reference is corrupt: {e}")))
    }

    /// The table it names, when that is still the table with id `tid`.
    pub fn load(
        &self,
        txn: &dyn ReadTxn,
        tid: &[u8; 16],
    ) -> Result<Option<TableMeta>, DynamoDbError> {
        Ok(
            catalog::load_table(txn, &self.account, &self.region, &self.name)?
                .filter(|m| &m.key_id == tid),
        )
    }
}

/// A registry entry: table id and value.
pub type RegistryEntry = ([u8; 16], Vec<u8>);

/// Reads every (tid, value) under a registry prefix whose keys are prefix + 16-byte tid.
pub fn list_registry(
    snap: &dyn ReadTxn,
    prefix: &[u8],
    max: usize,
) -> Result<Vec<RegistryEntry>, DynamoDbError> {
    let (lo, hi) = layout::prefix_range(prefix);
    let mut start = lo;
    let mut out = Vec::new();
    let page_size = 1000;
    while out.len() < max {
        let page = snap.range(
            layout::bound_ref(&start),
            layout::bound_ref(&hi),
            false,
            page_size,
        )?;
        let n = page.len();
        for (k, v) in &page {
            if let Some(tid) = k
                .strip_prefix(prefix)
                .and_then(|r| <[u8; 16]>::try_from(r).ok())
            {
                out.push((tid, v.clone()));
            }
        }
        match page.last() {
            Some((k, _)) if n == page_size => start = Bound::Excluded(k.clone()),
            _ => break,
        }
    }
    out.truncate(max);
    Ok(out)
}

// ---------------------------------------------------------------------------------------
// UpdateTimeToLive / DescribeTimeToLive

fn different_attribute(current: &str) -> DynamoDbError {
    DynamoDbError::Validation(format!(
        "TimeToLive is active on a different AttributeName: current AttributeName is {current}"
    ))
}

/// Checks a TTL change against the current setting with AWS's messages.
fn plan_ttl(current: Option<&TtlMeta>, enable: bool, attribute: &str) -> Result<(), DynamoDbError> {
    match (current.filter(|t| t.enabled), enable) {
        (Some(t), true) if t.attribute == attribute => {
            Err(DynamoDbError::validation("TimeToLive is already enabled"))
        }
        (Some(t), true) => Err(different_attribute(&t.attribute)),
        (None, false) => Err(DynamoDbError::validation("TimeToLive is already disabled")),
        (Some(t), false) if t.attribute != attribute => Err(different_attribute(&t.attribute)),
        _ => Ok(()),
    }
}

pub async fn update_time_to_live(
    svc: &DynamoDb,
    ctx: &RequestContext,
    input: m::UpdateTimeToLiveInput,
) -> Result<m::UpdateTimeToLiveOutput, DynamoDbError> {
    let name = table_name_from(&input.table_name, ctx)?;
    let spec = input.time_to_live_specification;
    let (account, region) = (ctx.account_id.clone(), ctx.region.clone());
    let (enable, attribute) = (spec.enabled, spec.attribute_name.clone());
    let name_in = name.clone();
    svc.db()
        .write(move |txn| -> Result<Vec<String>, DynamoDbError> {
            let meta = catalog::load_table(txn, &account, &region, &name_in)?
                .ok_or_else(|| table_not_found(&name_in))?;
            plan_ttl(meta.ttl.as_ref(), enable, &attribute)?;
            let ttl = enable.then(|| TtlMeta {
                attribute: attribute.clone(),
                enabled: true,
            });
            // A global table's TTL setting is one setting of the group: every member
            // table changes in this same transaction.
            let others: Vec<String> = meta
                .replicas
                .iter()
                .filter(|r| r.region != region)
                .map(|r| r.region.clone())
                .collect();
            set_ttl(txn, meta, ttl.clone())?;
            for other in &others {
                if let Some(member) = catalog::load_table(txn, &account, other, &name_in)? {
                    set_ttl(txn, member, ttl.clone())?;
                }
            }
            Ok(others)
        })
        .await
        .map(|others| {
            for other in &others {
                svc.invalidate_table(&ctx.account_id, other, &name);
            }
        })?;
    svc.invalidate_table(&ctx.account_id, &ctx.region, &name);
    Ok(m::UpdateTimeToLiveOutput {
        time_to_live_specification: Some(spec),
    })
}

/// Stores `ttl` as `meta`'s setting and keeps the sweeper's registry in step.
fn set_ttl(
    txn: &mut dyn WriteTxn,
    mut meta: TableMeta,
    ttl: Option<TtlMeta>,
) -> Result<(), DynamoDbError> {
    let enable = ttl.is_some();
    meta.ttl = ttl;
    meta.version += 1;
    catalog::save_table(txn, &meta)?;
    let rkey = registry_key(&meta.key_id);
    if enable {
        txn.put(&rkey, &TableRef::of(&meta).to_bytes()?)?;
    } else {
        txn.delete(&rkey)?;
    }
    Ok(())
}

/// The `TimeToLiveDescription` of a table (also used in backup descriptions).
pub fn describe(meta: &TableMeta) -> m::TimeToLiveDescription {
    match meta.ttl.as_ref().filter(|t| t.enabled) {
        Some(t) => m::TimeToLiveDescription {
            time_to_live_status: Some(m::TimeToLiveStatus::Enabled),
            attribute_name: Some(t.attribute.clone()),
        },
        None => m::TimeToLiveDescription {
            time_to_live_status: Some(m::TimeToLiveStatus::Disabled),
            attribute_name: None,
        },
    }
}

pub async fn describe_time_to_live(
    svc: &DynamoDb,
    ctx: &RequestContext,
    input: m::DescribeTimeToLiveInput,
) -> Result<m::DescribeTimeToLiveOutput, DynamoDbError> {
    let name = table_name_from(&input.table_name, ctx)?;
    let snap = svc.db().snapshot()?;
    let meta = catalog::load_table(snap.as_ref(), &ctx.account_id, &ctx.region, &name)?
        .ok_or_else(|| table_not_found(&name))?;
    Ok(m::DescribeTimeToLiveOutput {
        time_to_live_description: Some(describe(&meta)),
    })
}

// ---------------------------------------------------------------------------------------
// Expiry

/// `now_ms` as a Number of seconds (exact: milliseconds are three decimals).
fn seconds_number(ms: i64) -> Option<Number> {
    let sign = if ms < 0 { "-" } else { "" };
    let abs = ms.unsigned_abs();
    Number::parse(&format!("{sign}{}.{:03}", abs / 1000, abs % 1000)).ok()
}

/// The bounds within which a TTL value means "expired" at one instant.
#[derive(Debug, Clone)]
pub struct ExpiryWindow {
    oldest: Number,
    now: Number,
}

impl ExpiryWindow {
    pub fn at(now_ms: i64) -> Option<Self> {
        Some(ExpiryWindow {
            oldest: seconds_number(now_ms.saturating_sub(MAX_PAST_SECS.saturating_mul(1000)))?,
            now: seconds_number(now_ms)?,
        })
    }

    /// True when `item`'s `attribute` is a Number of epoch seconds in the window.
    pub fn is_expired(&self, item: &Item, attribute: &str) -> bool {
        match item.get(attribute) {
            Some(Value::N(n)) => *n <= self.now && *n >= self.oldest,
            _ => false,
        }
    }
}

/// Sweeper tuning.
#[derive(Debug, Clone)]
pub struct SweepConfig {
    /// Pause between sweeps that found nothing more to do.
    pub interval_ms: u64,
    /// Items deleted per transaction.
    pub delete_batch: usize,
    /// Items read per table per sweep; a larger table continues at the next sweep, which
    /// then follows at once instead of after `interval_ms`.
    pub scan_budget_items: usize,
}

impl Default for SweepConfig {
    fn default() -> Self {
        SweepConfig {
            interval_ms: 1000,
            delete_batch: 256,
            scan_budget_items: 20_000,
        }
    }
}

/// Where each table's scan stopped (by table id); in memory only: after a restart the
/// sweeper simply starts over.
#[derive(Debug, Default)]
pub struct SweepState {
    cursors: HashMap<[u8; 16], Vec<u8>>,
}

/// What one sweep did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SweepOutcome {
    pub deleted: usize,
    /// Some table was not scanned to its end (call again soon).
    pub more: bool,
}

/// One bounded pass over every TTL-enabled table.
pub async fn sweep_once(
    svc: &DynamoDb,
    cfg: &SweepConfig,
    state: &mut SweepState,
) -> Result<SweepOutcome, DynamoDbError> {
    let mut outcome = SweepOutcome::default();
    let snap = svc.db().snapshot()?;
    let entries = list_registry(snap.as_ref(), TTL_TABLE_PREFIX, MAX_TABLES_PER_SWEEP)?;
    let mut stale = Vec::new();
    let mut live = Vec::with_capacity(entries.len());
    for (tid, raw) in entries {
        let meta = TableRef::from_bytes(&raw)?.load(snap.as_ref(), &tid)?;
        match meta {
            Some(m) if m.ttl.as_ref().is_some_and(|t| t.enabled) => live.push(m),
            _ => stale.push(tid),
        }
    }
    state
        .cursors
        .retain(|tid, _| live.iter().any(|m| &m.key_id == tid));
    if !stale.is_empty() {
        remove_stale(svc, stale).await?;
    }
    let batch = cfg.delete_batch.max(1);
    let budget = cfg.scan_budget_items.max(1);
    for meta in live {
        let Some(attribute) = meta.ttl.as_ref().map(|t| t.attribute.clone()) else {
            continue;
        };
        let Some(window) = ExpiryWindow::at(svc.now_millis()) else {
            continue;
        };
        let (lo, hi) = layout::prefix_range(&layout::item_prefix(&meta.key_id));
        let mut start = match state.cursors.remove(&meta.key_id) {
            Some(c) => Bound::Excluded(c),
            None => lo,
        };
        let mut scanned = 0usize;
        let mut expired: Vec<Vec<u8>> = Vec::new();
        let mut finished = false;
        while scanned < budget {
            let limit = (budget - scanned).min(1000);
            let page = snap.range(
                layout::bound_ref(&start),
                layout::bound_ref(&hi),
                false,
                limit,
            )?;
            scanned += page.len();
            for (k, v) in &page {
                let item = layout::decode_item(v)?;
                if window.is_expired(&item, &attribute) {
                    expired.push(k.clone());
                }
            }
            if expired.len() >= batch {
                outcome.deleted += delete_expired(svc, &meta, std::mem::take(&mut expired)).await?;
            }
            match page.last() {
                Some((k, _)) if page.len() == limit => start = Bound::Excluded(k.clone()),
                _ => {
                    finished = true;
                    break;
                }
            }
        }
        if !expired.is_empty() {
            outcome.deleted += delete_expired(svc, &meta, expired).await?;
        }
        if !finished {
            if let Bound::Excluded(c) = start {
                state.cursors.insert(meta.key_id, c);
            }
            outcome.more = true;
        }
    }
    Ok(outcome)
}

/// Removes registry entries whose table is gone or has TTL off (re-checked in the txn).
async fn remove_stale(svc: &DynamoDb, tids: Vec<[u8; 16]>) -> Result<(), DynamoDbError> {
    svc.db()
        .write(move |txn| -> Result<(), DynamoDbError> {
            for tid in &tids {
                let key = registry_key(tid);
                let Some(raw) = txn.get(&key)? else {
                    continue;
                };
                let meta = TableRef::from_bytes(&raw)?.load(txn, tid)?;
                if !meta.is_some_and(|m| m.ttl.is_some_and(|t| t.enabled)) {
                    txn.delete(&key)?;
                }
            }
            Ok(())
        })
        .await
}

/// Deletes the items at `keys` that are still expired, in batches of one transaction
/// each. Returns how many were deleted.
async fn delete_expired(
    svc: &DynamoDb,
    meta: &TableMeta,
    keys: Vec<Vec<u8>>,
) -> Result<usize, DynamoDbError> {
    let now_ms = svc.now_millis();
    let meta = meta.clone();
    let deleted = svc
        .db()
        .write(move |txn| -> Result<usize, DynamoDbError> {
            delete_expired_in(txn, &meta, &keys, now_ms)
        })
        .await;
    match deleted {
        Ok(n) => {
            if n > 0 {
                // The deletes appended stream records: wake their consumers.
                svc.notify_bus();
            }
            Ok(n)
        }
        // The table was deleted since the sweep read it: nothing to expire any more.
        Err(DynamoDbError::ResourceNotFound(_)) => Ok(0),
        Err(e) => Err(e),
    }
}

/// The deleting transaction: re-reads each item and deletes it only if it is still
/// expired under the table's current TTL attribute.
fn delete_expired_in(
    txn: &mut dyn WriteTxn,
    meta: &TableMeta,
    keys: &[Vec<u8>],
    now_ms: i64,
) -> Result<usize, DynamoDbError> {
    let current = catalog::load_table(txn, &meta.account_id, &meta.region, &meta.name)?
        .filter(|m| m.key_id == meta.key_id);
    let Some(current) = current else {
        return Ok(0);
    };
    let Some(attribute) = current
        .ttl
        .as_ref()
        .filter(|t| t.enabled)
        .map(|t| &t.attribute)
    else {
        return Ok(0);
    };
    let Some(window) = ExpiryWindow::at(now_ms) else {
        return Ok(0);
    };
    let cx = ChangeCtx {
        now_ms,
        origin: ChangeOrigin::Ttl,
    };
    let mut n = 0;
    for key in keys {
        let Some(raw) = txn.get(key)? else {
            continue;
        };
        let item = layout::decode_item(&raw)?;
        if !window.is_expired(&item, attribute) {
            continue;
        }
        write::apply_item_change(txn, &current, Some(&item), None, &cx)?;
        n += 1;
    }
    Ok(n)
}

/// Starts the sweeper on the current Tokio runtime (no-op outside one). It stops when
/// the store is closed.
pub fn spawn_sweeper(svc: &DynamoDb, cfg: SweepConfig) {
    let Ok(handle) = tokio::runtime::Handle::try_current() else {
        return;
    };
    let me = svc.clone();
    let mut stop = svc.shutdown_signal();
    let task = handle.spawn(async move {
        let svc = me;
        let mut state = SweepState::default();
        let every = Duration::from_millis(cfg.interval_ms.max(1));
        loop {
            let pause = match sweep_once(&svc, &cfg, &mut state).await {
                // More to scan: go on at once (still yielding between bounded sweeps).
                Ok(o) if o.more => Duration::ZERO,
                Ok(_) => every,
                Err(DynamoDbError::Store(StoreError::Closed)) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "dynamodb TTL sweep failed; retrying");
                    every
                }
            };
            tokio::select! {
                () = tokio::time::sleep(pause) => {}
                _ = stop.changed() => break,
            }
            if *stop.borrow() {
                break;
            }
        }
    });
    svc.track_background(task);
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) mod tests {
    use super::*;
    use crate::ops::tables::tests::ctx;
    use nimbus_core::ManualClock;
    use nimbus_store::Db;
    use std::sync::Arc;

    const T0_MS: i64 = 1_764_172_800_000;

    pub(crate) fn svc_with(clock: Arc<ManualClock>) -> DynamoDb {
        DynamoDb::new(Db::in_memory(), clock)
    }

    async fn create(s: &DynamoDb, name: &str) {
        create_with_gsi(s, name, m::ProjectionType::All).await;
    }

    /// An on-demand table keyed by `pk` (S) with a GSI `gi` on `g` (S).
    pub(crate) async fn create_with_gsi(s: &DynamoDb, name: &str, projection: m::ProjectionType) {
        let input = m::CreateTableInput {
            table_name: name.into(),
            attribute_definitions: Some(vec![
                m::AttributeDefinition {
                    attribute_name: "pk".into(),
                    attribute_type: m::ScalarAttributeType::S,
                },
                m::AttributeDefinition {
                    attribute_name: "g".into(),
                    attribute_type: m::ScalarAttributeType::S,
                },
            ]),
            key_schema: Some(vec![m::KeySchemaElement {
                attribute_name: "pk".into(),
                key_type: m::KeyType::Hash,
            }]),
            global_secondary_indexes: Some(vec![m::GlobalSecondaryIndex {
                index_name: "gi".into(),
                key_schema: vec![m::KeySchemaElement {
                    attribute_name: "g".into(),
                    key_type: m::KeyType::Hash,
                }],
                projection: m::Projection {
                    projection_type: Some(projection),
                    non_key_attributes: None,
                },
                ..Default::default()
            }]),
            billing_mode: Some(m::BillingMode::PayPerRequest),
            ..Default::default()
        };
        crate::ops::tables::create_table(s, &ctx(), input)
            .await
            .unwrap();
    }

    async fn put(s: &DynamoDb, name: &str, pk: &str, attrs: &[(&str, m::AttributeValue)]) {
        let mut item = HashMap::new();
        item.insert("pk".to_string(), sv(pk));
        item.insert("g".to_string(), sv("x"));
        for (k, v) in attrs {
            item.insert(k.to_string(), v.clone());
        }
        crate::ops::items::put_item(
            s,
            &ctx(),
            m::PutItemInput {
                table_name: name.into(),
                item,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    }

    async fn count(s: &DynamoDb, name: &str) -> (i64, i64) {
        let d = crate::ops::tables::describe_table(
            s,
            &ctx(),
            m::DescribeTableInput {
                table_name: name.into(),
            },
        )
        .await
        .unwrap()
        .table
        .unwrap();
        let gsi = d.global_secondary_indexes.unwrap()[0].item_count.unwrap();
        (d.item_count.unwrap(), gsi)
    }

    async fn ttl(s: &DynamoDb, name: &str, enabled: bool, attr: &str) -> Result<(), String> {
        update_time_to_live(
            s,
            &ctx(),
            m::UpdateTimeToLiveInput {
                table_name: name.into(),
                time_to_live_specification: m::TimeToLiveSpecification {
                    enabled,
                    attribute_name: attr.into(),
                },
            },
        )
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
    }

    pub(crate) fn n(v: &str) -> m::AttributeValue {
        m::AttributeValue {
            n: Some(v.into()),
            ..Default::default()
        }
    }

    pub(crate) fn sv(v: &str) -> m::AttributeValue {
        m::AttributeValue {
            s: Some(v.into()),
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn update_rules_and_describe() {
        let clock = Arc::new(ManualClock::new(T0_MS));
        let s = svc_with(clock);
        create(&s, "t").await;
        let desc = |s: DynamoDb| async move {
            describe_time_to_live(
                &s,
                &ctx(),
                m::DescribeTimeToLiveInput {
                    table_name: "t".into(),
                },
            )
            .await
            .unwrap()
            .time_to_live_description
            .unwrap()
        };
        let d = desc(s.clone()).await;
        assert_eq!(d.time_to_live_status, Some(m::TimeToLiveStatus::Disabled));
        assert_eq!(d.attribute_name, None);
        assert_eq!(
            ttl(&s, "t", false, "exp").await.unwrap_err(),
            "TimeToLive is already disabled"
        );
        ttl(&s, "t", true, "exp").await.unwrap();
        let d = desc(s.clone()).await;
        assert_eq!(d.time_to_live_status, Some(m::TimeToLiveStatus::Enabled));
        assert_eq!(d.attribute_name.as_deref(), Some("exp"));
        assert_eq!(
            ttl(&s, "t", true, "exp").await.unwrap_err(),
            "TimeToLive is already enabled"
        );
        assert_eq!(
            ttl(&s, "t", true, "other").await.unwrap_err(),
            "TimeToLive is active on a different AttributeName: current AttributeName is exp"
        );
        assert_eq!(
            ttl(&s, "t", false, "other").await.unwrap_err(),
            "TimeToLive is active on a different AttributeName: current AttributeName is exp"
        );
        ttl(&s, "t", false, "exp").await.unwrap();
        let d = desc(s.clone()).await;
        assert_eq!(d.time_to_live_status, Some(m::TimeToLiveStatus::Disabled));
        let e = ttl(&s, "nope", true, "exp").await.unwrap_err();
        assert_eq!(e, "Requested resource not found: Table: nope not found");
    }

    #[tokio::test]
    async fn sweeper_deletes_only_expired_numbers() {
        let clock = Arc::new(ManualClock::new(T0_MS));
        let s = svc_with(clock.clone());
        create(&s, "t").await;
        ttl(&s, "t", true, "exp").await.unwrap();
        let now_s = T0_MS / 1000;
        put(&s, "t", "past", &[("exp", n(&(now_s - 10).to_string()))]).await;
        put(&s, "t", "now", &[("exp", n(&now_s.to_string()))]).await;
        put(&s, "t", "future", &[("exp", n(&(now_s + 60).to_string()))]).await;
        put(&s, "t", "string", &[("exp", sv("1"))]).await;
        put(
            &s,
            "t",
            "ancient",
            &[("exp", n(&(now_s - MAX_PAST_SECS - 10).to_string()))],
        )
        .await;
        put(&s, "t", "none", &[]).await;
        put(&s, "t", "other", &[("other", n("1"))]).await;
        assert_eq!(count(&s, "t").await, (7, 7));
        let cfg = SweepConfig::default();
        let mut st = SweepState::default();
        let o = sweep_once(&s, &cfg, &mut st).await.unwrap();
        assert_eq!(
            o,
            SweepOutcome {
                deleted: 2,
                more: false
            }
        );
        assert_eq!(count(&s, "t").await, (5, 5));
        // Time passes: the future item expires, nothing else does.
        clock.advance_millis(61_000);
        let o = sweep_once(&s, &cfg, &mut st).await.unwrap();
        assert_eq!(o.deleted, 1);
        assert_eq!(count(&s, "t").await, (4, 4));
        // Disabled TTL: nothing is deleted any more and the registry entry goes.
        put(&s, "t", "late", &[("exp", n("1700000000"))]).await;
        ttl(&s, "t", false, "exp").await.unwrap();
        let o = sweep_once(&s, &cfg, &mut st).await.unwrap();
        assert_eq!(o.deleted, 0);
        let snap = s.db().snapshot().unwrap();
        assert!(list_registry(snap.as_ref(), TTL_TABLE_PREFIX, 10)
            .unwrap()
            .is_empty());
    }

    #[tokio::test]
    async fn sweeper_continues_large_tables_and_rechecks() {
        let clock = Arc::new(ManualClock::new(T0_MS));
        let s = svc_with(clock.clone());
        create(&s, "big").await;
        ttl(&s, "big", true, "exp").await.unwrap();
        let now_s = T0_MS / 1000;
        for i in 0..250 {
            let exp = if i % 2 == 0 { now_s - 1 } else { now_s + 1000 };
            put(&s, "big", &format!("k{i}"), &[("exp", n(&exp.to_string()))]).await;
        }
        let cfg = SweepConfig {
            interval_ms: 1,
            delete_batch: 7,
            scan_budget_items: 60,
        };
        let mut st = SweepState::default();
        let mut total = 0;
        let mut rounds = 0;
        loop {
            let o = sweep_once(&s, &cfg, &mut st).await.unwrap();
            total += o.deleted;
            rounds += 1;
            if !o.more {
                break;
            }
            assert!(rounds < 20);
        }
        assert!(
            rounds >= 5,
            "a bounded sweep needs several rounds ({rounds})"
        );
        assert_eq!(total, 125);
        assert_eq!(count(&s, "big").await, (125, 125));
        // The deleting transaction re-checks: an item renewed after being read stays.
        let meta = s.table(&ctx(), "big").unwrap();
        let key = layout::item_key(&meta.key_id, &Value::s("k1"), None).unwrap();
        let deleted = s
            .db()
            .write(move |txn| -> Result<usize, DynamoDbError> {
                delete_expired_in(txn, &meta, std::slice::from_ref(&key), T0_MS)
            })
            .await
            .unwrap();
        assert_eq!(deleted, 0);
    }
}
