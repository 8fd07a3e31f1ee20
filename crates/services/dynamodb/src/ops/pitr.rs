//! Point-in-time recovery (continuous backups): the change history, UpdateContinuousBackups,
//! DescribeContinuousBackups and RestoreTableToPointInTime.
//!
//! Store keys (all under `ddb/`, notation as in `layout`; `suffix` is an item's key
//! without `ddb/i/` tid, i.e. h32(enc(hash)) enc(hash) [enc(range)]):
//! - `ddb/ph/` tid be64(change_ms) suffix -> one history record (`HistoryRecord`): the
//!   item before and after a change, written by `record` in the change's transaction
//!   while the table has PITR on. Two changes of one item in the same millisecond share a
//!   record (first old image, last new image), which restores identically.
//! - `ddb/pr/` tid -> JSON `{account, region, name}`: tables that have (or had) history,
//!   so the trimmer finds them; it drops records older than the recovery window, and all
//!   of a table's history once the table is gone or PITR is off.
//!
//! Restore to time T: the state at T of every item is the old image of its first change
//! after T, or its current value when it did not change after T. The restore job (in
//! `backups`) copies the current items into the new table, then walks the history after
//! T newest-first and writes each record's old image: the oldest record after T is the
//! last one written, so it wins. Both phases are bounded, resumable transactions, and
//! neither needs a long-lived snapshot (see `backups` for why that is consistent).

use std::ops::Bound;
use std::time::Duration;

use nimbus_core::RequestContext;
use nimbus_model::dynamodb as m;
use nimbus_store::{StoreError, WriteTxn};

use crate::error::DynamoDbError;
use crate::ops::backups::{self, RestoreSource};
use crate::ops::catalog::{self, PitrMeta, TableMeta};
use crate::ops::layout;
use crate::ops::tables::table_name_from;
use crate::ops::ttl::{list_registry, TableRef};
use crate::ops::write::ChangeCtx;
use crate::ops::DynamoDb;
use crate::value::Item;

pub const HISTORY_PREFIX: &[u8] = b"ddb/ph/";
pub const PITR_TABLE_PREFIX: &[u8] = b"ddb/pr/";

/// `RecoveryPeriodInDays` when the request gives none (AWS's default and maximum).
pub const DEFAULT_RECOVERY_PERIOD_DAYS: u32 = 35;
/// AWS's LatestRestorableDateTime trails the present by five minutes.
pub const LATEST_RESTORABLE_LAG_MS: i64 = 5 * 60 * 1000;
const DAY_MS: i64 = 24 * 3600 * 1000;

/// Records deleted per trimming transaction.
const TRIM_BATCH: usize = 1000;
/// Pause between trimming passes.
const TRIM_INTERVAL_MS: u64 = 10_000;
const MAX_TABLES_PER_TRIM: usize = 10_000;
const HISTORY_FORMAT_VERSION: u8 = 1;

/// Prefix of one table's history.
pub fn history_prefix(tid: &[u8; 16]) -> Vec<u8> {
    let mut k = Vec::with_capacity(HISTORY_PREFIX.len() + 16 + 8);
    k.extend_from_slice(HISTORY_PREFIX);
    k.extend_from_slice(tid);
    k
}

/// First history key of changes made at `ms` or later.
pub fn history_at(tid: &[u8; 16], ms: i64) -> Vec<u8> {
    let mut k = history_prefix(tid);
    k.extend_from_slice(&(ms.max(0) as u64).to_be_bytes());
    k
}

fn registry_key(tid: &[u8; 16]) -> Vec<u8> {
    let mut k = PITR_TABLE_PREFIX.to_vec();
    k.extend_from_slice(tid);
    k
}

/// The item key of `item` without the table's item prefix.
pub fn item_suffix(table: &TableMeta, item: &Item) -> Result<Vec<u8>, DynamoDbError> {
    let missing = || DynamoDbError::Internal("history of an item without its key".into());
    let h = item.get(&table.key.hash.name).ok_or_else(missing)?;
    let r = match &table.key.range {
        Some(a) => Some(item.get(&a.name).ok_or_else(missing)?),
        None => None,
    };
    let key = layout::item_key(&table.key_id, h, r)?;
    let plen = layout::item_prefix(&table.key_id).len();
    Ok(key.get(plen..).unwrap_or_default().to_vec())
}

/// One change: the item before and after (either may be absent).
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryRecord {
    pub old: Option<Item>,
    pub new: Option<Item>,
}

/// Length marker of an absent image.
const ABSENT: u32 = u32::MAX;

fn push_image(out: &mut Vec<u8>, image: Option<&[u8]>) {
    match image {
        Some(b) => {
            out.extend_from_slice(&(b.len() as u32).to_be_bytes());
            out.extend_from_slice(b);
        }
        None => out.extend_from_slice(&ABSENT.to_be_bytes()),
    }
}

/// version, then per image a be32 length (u32::MAX: absent) and `encode_item` bytes.
fn encode_record(old: Option<&[u8]>, new: Option<&[u8]>) -> Vec<u8> {
    let mut out =
        Vec::with_capacity(1 + 8 + old.map_or(0, <[u8]>::len) + new.map_or(0, <[u8]>::len));
    out.push(HISTORY_FORMAT_VERSION);
    push_image(&mut out, old);
    push_image(&mut out, new);
    out
}

/// The raw old and new images of a stored record.
type Images<'a> = (Option<&'a [u8]>, Option<&'a [u8]>);

/// The raw images of a stored record.
fn split_record(b: &[u8]) -> Result<Images<'_>, DynamoDbError> {
    let corrupt = || DynamoDbError::Internal("stored history record is corrupt".into());
    let rest = match b.split_first() {
        Some((&HISTORY_FORMAT_VERSION, rest)) => rest,
        _ => return Err(corrupt()),
    };
    let take = |r: &[u8]| -> Result<(Option<std::ops::Range<usize>>, usize), DynamoDbError> {
        let len: [u8; 4] = r
            .get(..4)
            .ok_or_else(corrupt)?
            .try_into()
            .map_err(|_| corrupt())?;
        let len = u32::from_be_bytes(len);
        if len == ABSENT {
            return Ok((None, 4));
        }
        let end = 4 + len as usize;
        if end > r.len() {
            return Err(corrupt());
        }
        Ok((Some(4..end), end))
    };
    let (old, used) = take(rest)?;
    let after = rest.get(used..).ok_or_else(corrupt)?;
    let (new, _) = take(after)?;
    Ok((
        old.and_then(|r| rest.get(r)),
        new.and_then(|r| after.get(r)),
    ))
}

pub fn decode_record(b: &[u8]) -> Result<HistoryRecord, DynamoDbError> {
    let (old, new) = split_record(b)?;
    Ok(HistoryRecord {
        old: old.map(layout::decode_item).transpose()?,
        new: new.map(layout::decode_item).transpose()?,
    })
}

/// Appends one change to `table`'s history (called by `changes::record` while the table
/// has PITR on, inside the change's transaction).
pub fn record(
    txn: &mut dyn WriteTxn,
    table: &TableMeta,
    old: Option<&Item>,
    new: Option<&Item>,
    cx: &ChangeCtx,
) -> Result<(), DynamoDbError> {
    let Some(any) = new.or(old) else {
        return Ok(());
    };
    let mut key = history_at(&table.key_id, cx.now_ms);
    key.extend_from_slice(&item_suffix(table, any)?);
    let new_bytes = new.map(layout::encode_item);
    let value = match txn.get(&key)? {
        // A second change of this item in the same millisecond: keep the first old image.
        Some(existing) => {
            let (first_old, _) = split_record(&existing)?;
            encode_record(first_old, new_bytes.as_deref())
        }
        None => {
            let old_bytes = old.map(layout::encode_item);
            encode_record(old_bytes.as_deref(), new_bytes.as_deref())
        }
    };
    txn.put(&key, &value).map_err(DynamoDbError::from)
}

// ---------------------------------------------------------------------------------------
// The recovery window

/// `EarliestRestorableDateTime` in ms.
pub fn earliest_ms(p: &PitrMeta, now_ms: i64) -> i64 {
    let window = i64::from(p.recovery_period_days).saturating_mul(DAY_MS);
    p.enabled_since_ms.max(now_ms.saturating_sub(window))
}

/// `LatestRestorableDateTime` in ms.
pub fn latest_ms(p: &PitrMeta, now_ms: i64) -> i64 {
    p.enabled_since_ms
        .max(now_ms.saturating_sub(LATEST_RESTORABLE_LAG_MS))
}

fn secs(ms: i64) -> f64 {
    ms as f64 / 1000.0
}

/// The `ContinuousBackupsDescription` of a table.
pub fn describe(meta: &TableMeta, now_ms: i64) -> m::ContinuousBackupsDescription {
    let pitr = match &meta.pitr {
        Some(p) => m::PointInTimeRecoveryDescription {
            point_in_time_recovery_status: Some(m::PointInTimeRecoveryStatus::Enabled),
            recovery_period_in_days: Some(p.recovery_period_days as i32),
            earliest_restorable_date_time: Some(secs(earliest_ms(p, now_ms))),
            latest_restorable_date_time: Some(secs(latest_ms(p, now_ms))),
        },
        None => m::PointInTimeRecoveryDescription {
            point_in_time_recovery_status: Some(m::PointInTimeRecoveryStatus::Disabled),
            ..Default::default()
        },
    };
    m::ContinuousBackupsDescription {
        // Continuous backups (the backup service) are always on for an active table;
        // PITR is the part a caller switches.
        continuous_backups_status: m::ContinuousBackupsStatus::Enabled,
        point_in_time_recovery_description: Some(pitr),
    }
}

fn table_not_found(name: &str) -> DynamoDbError {
    DynamoDbError::TableNotFound(format!("Table not found: {name}"))
}

pub async fn describe_continuous_backups(
    svc: &DynamoDb,
    ctx: &RequestContext,
    input: m::DescribeContinuousBackupsInput,
) -> Result<m::DescribeContinuousBackupsOutput, DynamoDbError> {
    let name =
        table_name_from(&input.table_name, ctx).map_err(|_| table_not_found(&input.table_name))?;
    let snap = svc.db().snapshot()?;
    let meta = catalog::load_table(snap.as_ref(), &ctx.account_id, &ctx.region, &name)?
        .ok_or_else(|| table_not_found(&name))?;
    Ok(m::DescribeContinuousBackupsOutput {
        continuous_backups_description: Some(describe(&meta, svc.now_millis())),
    })
}

pub async fn update_continuous_backups(
    svc: &DynamoDb,
    ctx: &RequestContext,
    input: m::UpdateContinuousBackupsInput,
) -> Result<m::UpdateContinuousBackupsOutput, DynamoDbError> {
    let name =
        table_name_from(&input.table_name, ctx).map_err(|_| table_not_found(&input.table_name))?;
    let spec = input.point_in_time_recovery_specification;
    let enable = spec.point_in_time_recovery_enabled;
    if !enable && spec.recovery_period_in_days.is_some() {
        return Err(DynamoDbError::validation(
            "Invalid Request: Cannot specify RecoveryPeriodInDays when disabling point-in-time recovery.",
        ));
    }
    let days = spec
        .recovery_period_in_days
        .map(|d| u32::try_from(d).unwrap_or(DEFAULT_RECOVERY_PERIOD_DAYS));
    let now_ms = svc.now_millis();
    let (account, region, name_in) = (ctx.account_id.clone(), ctx.region.clone(), name.clone());
    let meta = svc
        .db()
        .write(move |txn| -> Result<TableMeta, DynamoDbError> {
            let mut meta = catalog::load_table(txn, &account, &region, &name_in)?
                .ok_or_else(|| table_not_found(&name_in))?;
            let before = meta.pitr.clone();
            meta.pitr = match (&meta.pitr, enable) {
                (_, false) => None,
                // Enabling again is accepted and keeps the history; a period changes in place.
                (Some(p), true) => Some(PitrMeta {
                    enabled_since_ms: p.enabled_since_ms,
                    recovery_period_days: days.unwrap_or(p.recovery_period_days),
                }),
                (None, true) => Some(PitrMeta {
                    enabled_since_ms: now_ms,
                    recovery_period_days: days.unwrap_or(DEFAULT_RECOVERY_PERIOD_DAYS),
                }),
            };
            if meta.pitr != before {
                meta.version += 1;
                catalog::save_table(txn, &meta)?;
            }
            if meta.pitr.is_some() {
                txn.put(
                    &registry_key(&meta.key_id),
                    &TableRef::of(&meta).to_bytes()?,
                )?;
            }
            Ok(meta)
        })
        .await?;
    svc.invalidate_table(&ctx.account_id, &ctx.region, &name);
    Ok(m::UpdateContinuousBackupsOutput {
        continuous_backups_description: Some(describe(&meta, now_ms)),
    })
}

// ---------------------------------------------------------------------------------------
// RestoreTableToPointInTime

pub async fn restore_table_to_point_in_time(
    svc: &DynamoDb,
    ctx: &RequestContext,
    input: m::RestoreTableToPointInTimeInput,
) -> Result<m::RestoreTableToPointInTimeOutput, DynamoDbError> {
    let source = match (&input.source_table_name, &input.source_table_arn) {
        (Some(n), _) => n.clone(),
        (None, Some(arn)) => table_name_from(arn, ctx).map_err(|_| table_not_found(arn))?,
        (None, None) => {
            return Err(DynamoDbError::validation(
                "Either SourceTableArn or SourceTableName must be specified",
            ))
        }
    };
    let use_latest = input.use_latest_restorable_time.unwrap_or(false);
    if use_latest && input.restore_date_time.is_some() {
        return Err(DynamoDbError::validation(
            "Only one of RestoreDateTime or UseLatestRestorableTime can be specified",
        ));
    }
    let snap = svc.db().snapshot()?;
    let meta = catalog::load_table(snap.as_ref(), &ctx.account_id, &ctx.region, &source)?
        .ok_or_else(|| table_not_found(&source))?;
    drop(snap);
    let Some(p) = &meta.pitr else {
        return Err(DynamoDbError::PointInTimeRecoveryUnavailable(format!(
            "Point in time recovery is not enabled for table '{source}'"
        )));
    };
    let now_ms = svc.now_millis();
    let (earliest, latest) = (earliest_ms(p, now_ms), latest_ms(p, now_ms));
    let restore_ms = if use_latest {
        latest
    } else {
        let t = input.restore_date_time.ok_or_else(|| {
            DynamoDbError::validation(
                "RestoreDateTime must be specified when UseLatestRestorableTime is not true",
            )
        })?;
        (t * 1000.0).round() as i64
    };
    if restore_ms < earliest || restore_ms > latest {
        return Err(DynamoDbError::InvalidRestoreTime(format!(
            "RestoreDateTime must be between EarliestRestorableDateTime ({}) and LatestRestorableDateTime ({})",
            nimbus_model::runtime::time::format_iso8601(secs(earliest)),
            nimbus_model::runtime::time::format_iso8601(secs(latest)),
        )));
    }
    let overrides = backups::Overrides {
        billing_mode: input.billing_mode_override,
        gsis: input.global_secondary_index_override,
        lsis: input.local_secondary_index_override,
        throughput: input.provisioned_throughput_override,
        on_demand: input.on_demand_throughput_override,
        sse: input.sse_specification_override,
    };
    let desc = backups::start_restore(
        svc,
        ctx,
        &input.target_table_name,
        &meta,
        overrides,
        RestoreSource::PointInTime {
            source_tid: meta.key_id,
            source_arn: meta.arn(),
            restore_ms,
        },
    )
    .await?;
    Ok(m::RestoreTableToPointInTimeOutput {
        table_description: Some(desc),
    })
}

// ---------------------------------------------------------------------------------------
// Trimming

/// One bounded trimming pass: drops history outside every table's window, and all the
/// history of tables that are gone or have PITR off. Returns the records deleted.
pub async fn trim_once(svc: &DynamoDb) -> Result<usize, DynamoDbError> {
    let snap = svc.db().snapshot()?;
    let entries = list_registry(snap.as_ref(), PITR_TABLE_PREFIX, MAX_TABLES_PER_TRIM)?;
    drop(snap);
    let mut deleted = 0;
    for (tid, _) in entries {
        let now_ms = svc.now_millis();
        // Each table is trimmed in bounded transactions until nothing is left to drop.
        for _ in 0..10_000 {
            let n = svc
                .db()
                .write(move |txn| -> Result<usize, DynamoDbError> { trim_step(txn, &tid, now_ms) })
                .await?;
            deleted += n;
            if n < TRIM_BATCH {
                break;
            }
        }
    }
    Ok(deleted)
}

fn trim_step(txn: &mut dyn WriteTxn, tid: &[u8; 16], now_ms: i64) -> Result<usize, DynamoDbError> {
    let rkey = registry_key(tid);
    let Some(raw) = txn.get(&rkey)? else {
        return Ok(0);
    };
    let meta = TableRef::from_bytes(&raw)?.load(txn, tid)?;
    let prefix = history_prefix(tid);
    let (lo, hi) = layout::prefix_range(&prefix);
    let upper = match meta.as_ref().and_then(|m| m.pitr.as_ref()) {
        Some(p) => Bound::Excluded(history_at(tid, earliest_ms(p, now_ms))),
        None => hi,
    };
    let page = txn.range(
        layout::bound_ref(&lo),
        layout::bound_ref(&upper),
        false,
        TRIM_BATCH,
    )?;
    for (k, _) in &page {
        txn.delete(k)?;
    }
    if page.len() < TRIM_BATCH && meta.as_ref().and_then(|m| m.pitr.as_ref()).is_none() {
        // Everything of a table without PITR is gone: forget the table.
        txn.delete(&rkey)?;
    }
    Ok(page.len())
}

/// Starts the history trimmer on the current Tokio runtime (no-op outside one).
pub fn spawn_trimmer(svc: &DynamoDb) {
    let Ok(handle) = tokio::runtime::Handle::try_current() else {
        return;
    };
    let me = svc.clone();
    let mut stop = svc.shutdown_signal();
    let task = handle.spawn(async move {
        let svc = me;
        loop {
            match trim_once(&svc).await {
                Ok(_) => {}
                Err(DynamoDbError::Store(StoreError::Closed)) => break,
                Err(e) => tracing::warn!(error = %e, "dynamodb PITR history trim failed; retrying"),
            }
            tokio::select! {
                () = tokio::time::sleep(Duration::from_millis(TRIM_INTERVAL_MS)) => {}
                _ = stop.changed() => break,
            }
            if *stop.borrow() {
                break;
            }
        }
    });
    svc.track_background(task);
}
