//! On-demand backups: CreateBackup, DescribeBackup, ListBackups, DeleteBackup,
//! RestoreTableFromBackup, and the restore machinery RestoreTableToPointInTime shares.
//!
//! Store keys (all under `ddb/`, notation as in `layout`; `bid` is a backup id: be64 of
//! its creation time in ms then 4 random bytes, shown in the ARN as
//! `<14-digit ms>-<8 hex digits>` like AWS's `01489602797149-73d8d5bc`):
//! - `ddb/bk/` enc(account) enc(region) bid -> backup record (`BackupRecord`, JSON; it
//!   holds the source table's metadata as of the backup). Listed per account and region
//!   in creation order, so ListBackups' TimeRange is a key range.
//! - `ddb/bd/` bid suffix -> the item, as `encode_item` bytes (`suffix` = the item's key
//!   without `ddb/i/` tid), so a restore writes items in key order under any table id.
//! - `ddb/bj/` job-id (16 bytes) -> a backup job (`Job`, JSON): a large backup being
//!   copied, a restore being written, a deleted backup's data being purged.
//!
//! Consistency: a small table (`INLINE_COPY_MAX_BYTES`) is copied in the CreateBackup
//! transaction itself. A larger one is copied from one store snapshot taken right after
//! the backup record commits, in bounded transactions; if the process stops before the
//! copy ends, the copy restarts at the next start from a fresh snapshot (the backup then
//! reflects the table at that restart; AWS has no FAILED state to report instead).
//! A restore is a job of bounded, idempotent steps (each reads the target item it
//! replaces), so it resumes exactly where it stopped. The target table shows CREATING
//! with `RestoreInProgress` until the last step, as AWS.

use std::ops::Bound;

use serde::{Deserialize, Serialize};

use nimbus_core::RequestContext;
use nimbus_model::dynamodb as m;
use nimbus_store::{Entry, ReadTxn, StoreError, WriteTxn};

use crate::error::DynamoDbError;
use crate::keycodec::encode_bytes;
use crate::ops::catalog::{
    self, BillingMode, IndexKind, Projection, RestoreMeta, Status, TableMeta,
};
use crate::ops::layout::{self, Counters};
use crate::ops::params;
use crate::ops::pitr;
use crate::ops::tables::{self, table_name_from, Stats};
use crate::ops::ttl;
use crate::ops::write::{self, ChangeCtx, ChangeOrigin};
use crate::ops::DynamoDb;

pub const BACKUP_PREFIX: &[u8] = b"ddb/bk/";
pub const BACKUP_DATA_PREFIX: &[u8] = b"ddb/bd/";
pub const BACKUP_JOB_PREFIX: &[u8] = b"ddb/bj/";

/// Tables up to this size are backed up inside the CreateBackup transaction.
pub const INLINE_COPY_MAX_BYTES: i64 = 1024 * 1024;
/// Entries per range read in a job step, and the byte budget of one step.
const STEP_ENTRIES: usize = 500;
const STEP_MAX_BYTES: usize = 4 * 1024 * 1024;
/// Steps a request runs itself before leaving the rest to a background task (so small
/// restores are ACTIVE by the time the response is read).
const INLINE_STEPS: usize = 8;
/// Default and largest `Limit` of ListBackups.
const LIST_BACKUPS_MAX: usize = 100;
/// Backups ListBackups reads at most per call (filters may skip many).
const LIST_SCAN_MAX: usize = 100_000;

const MSG_BACKUP_IN_USE: &str = "There is another ongoing conflicting backup control plane operation on the table. The backup is either being created, deleted or restored to a table.";

// ---------------------------------------------------------------------------------------
// Records and keys

/// A backup id: creation time and 4 random bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupId {
    pub created_ms: i64,
    pub rand: [u8; 4],
}

impl BackupId {
    fn new(created_ms: i64) -> Self {
        let u = uuid::Uuid::new_v4();
        let b = u.as_bytes();
        BackupId {
            created_ms,
            rand: [b[0], b[1], b[2], b[3]],
        }
    }

    fn bytes(&self) -> [u8; 12] {
        let mut out = [0u8; 12];
        out[..8].copy_from_slice(&(self.created_ms.max(0) as u64).to_be_bytes());
        out[8..].copy_from_slice(&self.rand);
        out
    }

    /// `01489602797149-73d8d5bc`.
    fn display(&self) -> String {
        let r = self.rand;
        format!(
            "{:014}-{:02x}{:02x}{:02x}{:02x}",
            self.created_ms, r[0], r[1], r[2], r[3]
        )
    }

    fn parse(s: &str) -> Option<Self> {
        let (ms, hex) = s.split_once('-')?;
        if ms.len() != 14 || hex.len() != 8 || !ms.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let created_ms = ms.parse().ok()?;
        let mut rand = [0u8; 4];
        for (i, r) in rand.iter_mut().enumerate() {
            *r = u8::from_str_radix(hex.get(i * 2..i * 2 + 2)?, 16).ok()?;
        }
        Some(BackupId { created_ms, rand })
    }
}

fn list_prefix(account: &str, region: &str) -> Vec<u8> {
    let mut k = BACKUP_PREFIX.to_vec();
    encode_bytes(account.as_bytes(), &mut k);
    encode_bytes(region.as_bytes(), &mut k);
    k
}

fn backup_key(account: &str, region: &str, id: &BackupId) -> Vec<u8> {
    let mut k = list_prefix(account, region);
    k.extend_from_slice(&id.bytes());
    k
}

fn data_prefix(id: &BackupId) -> Vec<u8> {
    let mut k = BACKUP_DATA_PREFIX.to_vec();
    k.extend_from_slice(&id.bytes());
    k
}

fn job_key(id: &[u8; 16]) -> Vec<u8> {
    let mut k = BACKUP_JOB_PREFIX.to_vec();
    k.extend_from_slice(id);
    k
}

/// A stored backup.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BackupRecord {
    pub id: BackupId,
    pub name: String,
    /// True once every item is copied (`AVAILABLE`); `CREATING` before.
    pub available: bool,
    pub size_bytes: i64,
    pub item_count: i64,
    /// The source table as it was when the backup was taken.
    pub table: TableMeta,
}

impl BackupRecord {
    pub fn arn(&self) -> String {
        format!("{}/backup/{}", self.table.arn(), self.id.display())
    }

    fn key(&self) -> Vec<u8> {
        backup_key(&self.table.account_id, &self.table.region, &self.id)
    }

    fn to_bytes(&self) -> Result<Vec<u8>, DynamoDbError> {
        serde_json::to_vec(self)
            .map_err(|e| DynamoDbError::Internal(format!("cannot encode a backup: {e}")))
    }

    fn from_bytes(b: &[u8]) -> Result<Self, DynamoDbError> {
        serde_json::from_slice(b)
            .map_err(|e| DynamoDbError::Internal(format!("stored backup is corrupt: {e}")))
    }
}

/// Where a restore's items come from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum RestoreSource {
    Backup {
        id: BackupId,
        arn: String,
    },
    PointInTime {
        source_tid: [u8; 16],
        source_arn: String,
        restore_ms: i64,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RestorePhase {
    /// Copying the backup's (or the source table's current) items.
    Copy,
    /// Undoing the source's changes after the restore time, newest first (PITR only).
    Undo,
}

/// A background job of this module.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Job {
    /// Copy a large table into backup `id` (from an in-memory snapshot; see module doc).
    BackupCopy {
        account: String,
        region: String,
        id: BackupId,
        source_tid: [u8; 16],
    },
    /// Write a restored table.
    Restore {
        account: String,
        region: String,
        name: String,
        target_tid: [u8; 16],
        source: RestoreSource,
        phase: RestorePhase,
        /// Copy: last source key done. Undo: the history key to continue below.
        cursor: Option<Vec<u8>>,
    },
    /// Delete a deleted backup's items.
    PurgeData { id: BackupId },
}

impl Job {
    fn to_bytes(&self) -> Result<Vec<u8>, DynamoDbError> {
        serde_json::to_vec(self)
            .map_err(|e| DynamoDbError::Internal(format!("cannot encode a backup job: {e}")))
    }

    fn from_bytes(b: &[u8]) -> Result<Self, DynamoDbError> {
        serde_json::from_slice(b)
            .map_err(|e| DynamoDbError::Internal(format!("stored backup job is corrupt: {e}")))
    }
}

fn put_job(txn: &mut dyn WriteTxn, job: &Job) -> Result<[u8; 16], DynamoDbError> {
    let id = *uuid::Uuid::new_v4().as_bytes();
    txn.put(&job_key(&id), &job.to_bytes()?)?;
    Ok(id)
}

fn backup_not_found(arn: &str) -> DynamoDbError {
    DynamoDbError::BackupNotFound(format!("Backup not found: {arn}"))
}

fn table_not_found(name: &str) -> DynamoDbError {
    DynamoDbError::TableNotFound(format!("Table not found: {name}"))
}

/// The stored-record key of a backup ARN of this account and region.
fn key_of_arn(ctx: &RequestContext, arn: &str) -> Option<Vec<u8>> {
    let rest = arn.strip_prefix("arn:")?;
    let parts: Vec<&str> = rest.splitn(5, ':').collect();
    match parts.as_slice() {
        [_, "dynamodb", region, account, resource]
            if *region == ctx.region && *account == ctx.account_id =>
        {
            let (table, id) = resource.strip_prefix("table/")?.split_once("/backup/")?;
            if table.is_empty() {
                return None;
            }
            Some(backup_key(account, region, &BackupId::parse(id)?))
        }
        _ => None,
    }
}

fn load_backup(
    txn: &dyn ReadTxn,
    ctx: &RequestContext,
    arn: &str,
) -> Result<BackupRecord, DynamoDbError> {
    let key = key_of_arn(ctx, arn).ok_or_else(|| backup_not_found(arn))?;
    let raw = txn.get(&key)?.ok_or_else(|| backup_not_found(arn))?;
    let rec = BackupRecord::from_bytes(&raw)?;
    // The ARN names the table too: another table's name with this id is not this backup.
    if rec.arn() != arn {
        return Err(backup_not_found(arn));
    }
    Ok(rec)
}

// ---------------------------------------------------------------------------------------
// Descriptions

fn secs(ms: i64) -> f64 {
    ms as f64 / 1000.0
}

fn key_schema_out(k: &catalog::KeySchema) -> Vec<m::KeySchemaElement> {
    k.attrs()
        .enumerate()
        .map(|(i, a)| m::KeySchemaElement {
            attribute_name: a.name.clone(),
            key_type: if i == 0 {
                m::KeyType::Hash
            } else {
                m::KeyType::Range
            },
        })
        .collect()
}

fn projection_out(p: &Projection) -> m::Projection {
    m::Projection {
        projection_type: Some(m::ProjectionType::from(p.type_str())),
        non_key_attributes: match p {
            Projection::Include(a) => Some(a.clone()),
            _ => None,
        },
    }
}

fn throughput_out(t: Option<&catalog::Throughput>) -> m::ProvisionedThroughput {
    m::ProvisionedThroughput {
        read_capacity_units: t.map_or(0, |t| t.read_units),
        write_capacity_units: t.map_or(0, |t| t.write_units),
    }
}

fn on_demand_out(o: Option<&catalog::OnDemandLimits>) -> Option<m::OnDemandThroughput> {
    o.map(|o| m::OnDemandThroughput {
        max_read_request_units: o.max_read_units,
        max_write_request_units: o.max_write_units,
    })
}

fn details(rec: &BackupRecord, status: m::BackupStatus) -> m::BackupDetails {
    m::BackupDetails {
        backup_arn: rec.arn(),
        backup_name: rec.name.clone(),
        backup_size_bytes: Some(rec.size_bytes),
        backup_status: status,
        backup_type: m::BackupType::User,
        backup_creation_date_time: secs(rec.id.created_ms),
        backup_expiry_date_time: None,
    }
}

fn status_of(rec: &BackupRecord) -> m::BackupStatus {
    if rec.available {
        m::BackupStatus::Available
    } else {
        m::BackupStatus::Creating
    }
}

fn description(rec: &BackupRecord, status: m::BackupStatus) -> m::BackupDescription {
    let t = &rec.table;
    let provisioned = t.billing_mode == BillingMode::Provisioned;
    let lsis: Vec<m::LocalSecondaryIndexInfo> = t
        .indexes
        .iter()
        .filter(|i| i.kind == IndexKind::Local)
        .map(|i| m::LocalSecondaryIndexInfo {
            index_name: Some(i.name.clone()),
            key_schema: Some(key_schema_out(&i.key)),
            projection: Some(projection_out(&i.projection)),
        })
        .collect();
    let gsis: Vec<m::GlobalSecondaryIndexInfo> = t
        .indexes
        .iter()
        .filter(|i| i.kind == IndexKind::Global)
        .map(|i| m::GlobalSecondaryIndexInfo {
            index_name: Some(i.name.clone()),
            key_schema: Some(key_schema_out(&i.key)),
            projection: Some(projection_out(&i.projection)),
            provisioned_throughput: provisioned.then(|| throughput_out(i.throughput.as_ref())),
            on_demand_throughput: on_demand_out(i.on_demand.as_ref()),
        })
        .collect();
    m::BackupDescription {
        backup_details: Some(details(rec, status)),
        source_table_details: Some(m::SourceTableDetails {
            table_name: t.name.clone(),
            table_id: t.table_id.clone(),
            table_arn: Some(t.arn()),
            table_size_bytes: Some(rec.size_bytes),
            key_schema: key_schema_out(&t.key),
            table_creation_date_time: secs(t.created_ms),
            provisioned_throughput: throughput_out(provisioned.then_some(&t.throughput)),
            on_demand_throughput: on_demand_out(t.on_demand.as_ref()),
            item_count: Some(rec.item_count),
            billing_mode: Some(m::BillingMode::from(t.billing_mode.as_str())),
        }),
        source_table_feature_details: Some(m::SourceTableFeatureDetails {
            local_secondary_indexes: (!lsis.is_empty()).then_some(lsis),
            global_secondary_indexes: (!gsis.is_empty()).then_some(gsis),
            stream_description: t.stream.as_ref().filter(|s| s.enabled).map(|s| {
                m::StreamSpecification {
                    stream_enabled: true,
                    stream_view_type: Some(m::StreamViewType::from(s.view_type.as_str())),
                }
            }),
            time_to_live_description: t
                .ttl
                .as_ref()
                .filter(|x| x.enabled)
                .map(|_| ttl::describe(t)),
            sse_description: t.sse.as_ref().map(|s| m::SSEDescription {
                status: Some(m::SSEStatus::Enabled),
                sse_type: Some(m::SSEType::Kms),
                kms_master_key_arn: Some(s.kms_key_arn.clone()),
                inaccessible_encryption_date_time: None,
            }),
            vector_indexes: None,
        }),
    }
}

// ---------------------------------------------------------------------------------------
// CreateBackup

/// Copies every item of `table` into backup `id` inside `txn` (small tables only).
fn copy_items_in(
    txn: &mut dyn WriteTxn,
    table: &TableMeta,
    id: &BackupId,
) -> Result<(), DynamoDbError> {
    let prefix = layout::item_prefix(&table.key_id);
    let (lo, hi) = layout::prefix_range(&prefix);
    let dprefix = data_prefix(id);
    let mut start = lo;
    // Bounded by INLINE_COPY_MAX_BYTES of items (checked by the caller) + a safety cap.
    for _ in 0..10_000 {
        let page = txn.range(
            layout::bound_ref(&start),
            layout::bound_ref(&hi),
            false,
            STEP_ENTRIES,
        )?;
        for (k, v) in &page {
            let mut dk = dprefix.clone();
            dk.extend_from_slice(k.get(prefix.len()..).unwrap_or_default());
            txn.put(&dk, v)?;
        }
        match page.last() {
            Some((k, _)) if page.len() == STEP_ENTRIES => start = Bound::Excluded(k.clone()),
            _ => return Ok(()),
        }
    }
    Ok(())
}

pub async fn create_backup(
    svc: &DynamoDb,
    ctx: &RequestContext,
    input: m::CreateBackupInput,
) -> Result<m::CreateBackupOutput, DynamoDbError> {
    let name =
        table_name_from(&input.table_name, ctx).map_err(|_| table_not_found(&input.table_name))?;
    let id = BackupId::new(svc.now_millis());
    let (account, region, name_in, backup_name) = (
        ctx.account_id.clone(),
        ctx.region.clone(),
        name.clone(),
        input.backup_name.clone(),
    );
    let (rec, job) = svc
        .db()
        .write(
            move |txn| -> Result<(BackupRecord, Option<[u8; 16]>), DynamoDbError> {
                let table = catalog::load_table(txn, &account, &region, &name_in)?
                    .ok_or_else(|| table_not_found(&name_in))?;
                let stats = Stats::read(txn, &table)?;
                let mut rec = BackupRecord {
                    id,
                    name: backup_name.clone(),
                    available: false,
                    size_bytes: stats.table.size_bytes,
                    item_count: stats.table.item_count,
                    table: table.clone(),
                };
                let job = if stats.table.size_bytes <= INLINE_COPY_MAX_BYTES {
                    copy_items_in(txn, &table, &id)?;
                    rec.available = true;
                    None
                } else {
                    Some(put_job(
                        txn,
                        &Job::BackupCopy {
                            account: account.clone(),
                            region: region.clone(),
                            id,
                            source_tid: table.key_id,
                        },
                    )?)
                };
                txn.put(&rec.key(), &rec.to_bytes()?)?;
                Ok((rec, job))
            },
        )
        .await?;
    if let Some(job) = job {
        // Taken right after the record committed: the copy is this instant's table.
        let snap = svc.db().snapshot()?;
        spawn_backup_copy(svc, job, Some(snap));
    }
    // AWS answers CREATING; a small backup is AVAILABLE by the next call.
    Ok(m::CreateBackupOutput {
        backup_details: Some(details(&rec, m::BackupStatus::Creating)),
    })
}

// ---------------------------------------------------------------------------------------
// DescribeBackup, ListBackups, DeleteBackup

pub async fn describe_backup(
    svc: &DynamoDb,
    ctx: &RequestContext,
    input: m::DescribeBackupInput,
) -> Result<m::DescribeBackupOutput, DynamoDbError> {
    let snap = svc.db().snapshot()?;
    let rec = load_backup(snap.as_ref(), ctx, &input.backup_arn)?;
    Ok(m::DescribeBackupOutput {
        backup_description: Some(description(&rec, status_of(&rec))),
    })
}

fn ms_of(secs: f64) -> i64 {
    (secs * 1000.0).round() as i64
}

pub async fn list_backups(
    svc: &DynamoDb,
    ctx: &RequestContext,
    input: m::ListBackupsInput,
) -> Result<m::ListBackupsOutput, DynamoDbError> {
    let limit = params::page_size(input.limit, LIST_BACKUPS_MAX);
    // Only user backups exist here (no SYSTEM backups of deleted tables, no AWS Backup).
    let want_user = matches!(
        input.backup_type,
        None | Some(m::BackupTypeFilter::User) | Some(m::BackupTypeFilter::All)
    );
    let table = input
        .table_name
        .as_ref()
        .map(|t| table_name_from(t, ctx).unwrap_or_else(|_| t.clone()));
    let prefix = list_prefix(&ctx.account_id, &ctx.region);
    let (lo, hi) = layout::prefix_range(&prefix);
    let at = |ms: i64| {
        let mut k = prefix.clone();
        k.extend_from_slice(&(ms.max(0) as u64).to_be_bytes());
        k
    };
    // TimeRangeLowerBound is inclusive, TimeRangeUpperBound exclusive.
    let mut start = match input.time_range_lower_bound {
        Some(t) => Bound::Included(at(ms_of(t))),
        None => lo,
    };
    let end = match input.time_range_upper_bound {
        Some(t) => Bound::Excluded(at(ms_of(t))),
        None => hi,
    };
    if let Some(arn) = &input.exclusive_start_backup_arn {
        if let Some(k) = key_of_arn(ctx, arn) {
            let after = Bound::Excluded(k.clone());
            let later = match &start {
                Bound::Included(s) | Bound::Excluded(s) => k >= *s,
                Bound::Unbounded => true,
            };
            if later {
                start = after;
            }
        }
    }
    let mut out = Vec::new();
    let mut more = false;
    if want_user {
        let snap = svc.db().snapshot()?;
        let mut scanned = 0;
        'pages: while scanned < LIST_SCAN_MAX {
            let page = snap.range(
                layout::bound_ref(&start),
                layout::bound_ref(&end),
                false,
                1000,
            )?;
            scanned += page.len();
            for (_, v) in &page {
                let rec = BackupRecord::from_bytes(v)?;
                if table.as_ref().is_some_and(|t| *t != rec.table.name) {
                    continue;
                }
                if out.len() == limit {
                    more = true;
                    break 'pages;
                }
                out.push(rec);
            }
            match page.last() {
                Some((k, _)) if page.len() == 1000 => start = Bound::Excluded(k.clone()),
                _ => break,
            }
        }
    }
    let last = if more {
        out.last().map(BackupRecord::arn)
    } else {
        None
    };
    Ok(m::ListBackupsOutput {
        backup_summaries: Some(
            out.iter()
                .map(|r| m::BackupSummary {
                    table_name: Some(r.table.name.clone()),
                    table_id: Some(r.table.table_id.clone()),
                    table_arn: Some(r.table.arn()),
                    backup_arn: Some(r.arn()),
                    backup_name: Some(r.name.clone()),
                    backup_creation_date_time: Some(secs(r.id.created_ms)),
                    backup_expiry_date_time: None,
                    backup_status: Some(status_of(r)),
                    backup_type: Some(m::BackupType::User),
                    backup_size_bytes: Some(r.size_bytes),
                })
                .collect(),
        ),
        last_evaluated_backup_arn: last,
    })
}

pub async fn delete_backup(
    svc: &DynamoDb,
    ctx: &RequestContext,
    input: m::DeleteBackupInput,
) -> Result<m::DeleteBackupOutput, DynamoDbError> {
    let ctx_in = ctx.clone();
    let arn = input.backup_arn.clone();
    let (rec, job) = svc
        .db()
        .write(
            move |txn| -> Result<(BackupRecord, [u8; 16]), DynamoDbError> {
                let rec = load_backup(txn, &ctx_in, &arn)?;
                if !rec.available {
                    return Err(DynamoDbError::BackupInUse(MSG_BACKUP_IN_USE.into()));
                }
                txn.delete(&rec.key())?;
                let job = put_job(txn, &Job::PurgeData { id: rec.id })?;
                Ok((rec, job))
            },
        )
        .await?;
    spawn_job(svc, job);
    Ok(m::DeleteBackupOutput {
        backup_description: Some(description(&rec, m::BackupStatus::Deleted)),
    })
}

// ---------------------------------------------------------------------------------------
// Restores

/// The `*Override` members of a restore request.
#[derive(Debug, Default)]
pub struct Overrides {
    pub billing_mode: Option<m::BillingMode>,
    pub gsis: Option<Vec<m::GlobalSecondaryIndex>>,
    pub lsis: Option<Vec<m::LocalSecondaryIndex>>,
    pub throughput: Option<m::ProvisionedThroughput>,
    pub on_demand: Option<m::OnDemandThroughput>,
    pub sse: Option<m::SSESpecification>,
}

/// The CreateTable request that re-creates `src` under `target` with `o` applied; it goes
/// through CreateTable's own validation.
fn create_input(src: &TableMeta, target: &str, o: Overrides) -> m::CreateTableInput {
    let billing = o
        .billing_mode
        .unwrap_or_else(|| m::BillingMode::from(src.billing_mode.as_str()));
    let provisioned = billing != m::BillingMode::PayPerRequest;
    let src_provisioned = src.billing_mode == BillingMode::Provisioned;
    let gsis = o.gsis.unwrap_or_else(|| {
        src.indexes
            .iter()
            .filter(|i| i.kind == IndexKind::Global)
            .map(|i| m::GlobalSecondaryIndex {
                index_name: i.name.clone(),
                key_schema: key_schema_out(&i.key),
                projection: projection_out(&i.projection),
                provisioned_throughput: if provisioned {
                    Some(match (&i.throughput, src_provisioned) {
                        (Some(t), true) => throughput_out(Some(t)),
                        // Switching to provisioned without overrides: the table's units.
                        _ => o.throughput.clone().unwrap_or_else(|| throughput_out(None)),
                    })
                } else {
                    None
                },
                on_demand_throughput: if provisioned {
                    None
                } else {
                    on_demand_out(i.on_demand.as_ref())
                },
                warm_throughput: None,
            })
            .collect()
    });
    let lsis = o.lsis.unwrap_or_else(|| {
        src.indexes
            .iter()
            .filter(|i| i.kind == IndexKind::Local)
            .map(|i| m::LocalSecondaryIndex {
                index_name: i.name.clone(),
                key_schema: key_schema_out(&i.key),
                projection: projection_out(&i.projection),
            })
            .collect()
    });
    // Only the attributes the new key schemas use (CreateTable refuses extra ones).
    let used = |name: &str| {
        src.key.contains(name)
            || gsis
                .iter()
                .any(|g| g.key_schema.iter().any(|k| k.attribute_name == name))
            || lsis
                .iter()
                .any(|l| l.key_schema.iter().any(|k| k.attribute_name == name))
    };
    let defs = src
        .attribute_definitions
        .iter()
        .filter(|a| used(&a.name))
        .map(|a| m::AttributeDefinition {
            attribute_name: a.name.clone(),
            attribute_type: m::ScalarAttributeType::from(a.ty.as_str()),
        })
        .collect();
    let throughput = if provisioned {
        Some(o.throughput.unwrap_or_else(|| {
            throughput_out(if src_provisioned {
                Some(&src.throughput)
            } else {
                None
            })
        }))
    } else {
        o.throughput
    };
    let sse = o.sse.or_else(|| {
        src.sse.as_ref().map(|s| m::SSESpecification {
            enabled: Some(true),
            sse_type: Some(m::SSEType::Kms),
            kms_master_key_id: Some(s.kms_key_arn.clone()),
        })
    });
    m::CreateTableInput {
        attribute_definitions: Some(defs),
        table_name: target.to_string(),
        key_schema: Some(key_schema_out(&src.key)),
        local_secondary_indexes: (!lsis.is_empty()).then_some(lsis),
        global_secondary_indexes: (!gsis.is_empty()).then_some(gsis),
        billing_mode: Some(billing),
        provisioned_throughput: throughput,
        sse_specification: sse,
        table_class: Some(m::TableClass::from(src.table_class.as_str())),
        on_demand_throughput: if provisioned {
            None
        } else {
            o.on_demand
                .or_else(|| on_demand_out(src.on_demand.as_ref()))
        },
        ..Default::default()
    }
}

/// Creates the restore's target table (CREATING, RestoreInProgress) and its job, runs a
/// few steps at once and the rest in the background. Returns the target's description
/// as AWS answers the restore request.
pub async fn start_restore(
    svc: &DynamoDb,
    ctx: &RequestContext,
    target: &str,
    source: &TableMeta,
    overrides: Overrides,
    from: RestoreSource,
) -> Result<m::TableDescription, DynamoDbError> {
    let now_ms = svc.now_millis();
    let input = create_input(source, target, overrides);
    let mut meta = tables::build_table(ctx, &input, now_ms)?;
    meta.status = Status::Creating;
    meta.restore = Some(match &from {
        RestoreSource::Backup { id, arn } => RestoreMeta {
            source_backup_arn: Some(arn.clone()),
            source_table_arn: Some(source.arn()),
            restore_ms: id.created_ms,
            in_progress: true,
        },
        RestoreSource::PointInTime {
            source_arn,
            restore_ms,
            ..
        } => RestoreMeta {
            source_backup_arn: None,
            source_table_arn: Some(source_arn.clone()),
            restore_ms: *restore_ms,
            in_progress: true,
        },
    });
    let stored = meta.clone();
    let job = svc
        .db()
        .write(move |txn| -> Result<[u8; 16], DynamoDbError> {
            let key = layout::table_meta_key(&stored.account_id, &stored.region, &stored.name);
            if txn.get(&key)?.is_some() {
                return Err(DynamoDbError::TableAlreadyExists(format!(
                    "Table already exists: {}",
                    stored.name
                )));
            }
            txn.put(&key, &stored.to_bytes()?)?;
            txn.put(
                &layout::table_counters_key(&stored.key_id),
                &Counters {
                    version: stored.version,
                    ..Counters::default()
                }
                .encode(),
            )?;
            put_job(
                txn,
                &Job::Restore {
                    account: stored.account_id.clone(),
                    region: stored.region.clone(),
                    name: stored.name.clone(),
                    target_tid: stored.key_id,
                    source: from.clone(),
                    phase: RestorePhase::Copy,
                    cursor: None,
                },
            )
        })
        .await?;
    svc.invalidate_table(&meta.account_id, &meta.region, &meta.name);
    if !run_steps(svc, job, INLINE_STEPS).await? {
        spawn_job(svc, job);
    }
    Ok(tables::describe(&meta, &Stats::default()))
}

pub async fn restore_table_from_backup(
    svc: &DynamoDb,
    ctx: &RequestContext,
    input: m::RestoreTableFromBackupInput,
) -> Result<m::RestoreTableFromBackupOutput, DynamoDbError> {
    let snap = svc.db().snapshot()?;
    let rec = load_backup(snap.as_ref(), ctx, &input.backup_arn)?;
    drop(snap);
    if !rec.available {
        return Err(DynamoDbError::BackupInUse(MSG_BACKUP_IN_USE.into()));
    }
    let overrides = Overrides {
        billing_mode: input.billing_mode_override,
        gsis: input.global_secondary_index_override,
        lsis: input.local_secondary_index_override,
        throughput: input.provisioned_throughput_override,
        on_demand: input.on_demand_throughput_override,
        sse: input.sse_specification_override,
    };
    let desc = start_restore(
        svc,
        ctx,
        &input.target_table_name,
        &rec.table,
        overrides,
        RestoreSource::Backup {
            id: rec.id,
            arn: rec.arn(),
        },
    )
    .await?;
    Ok(m::RestoreTableFromBackupOutput {
        table_description: Some(desc),
    })
}

// ---------------------------------------------------------------------------------------
// Jobs

/// What one step did.
enum Step {
    More,
    Done,
    /// Finished and changed this table's metadata (account, region, name).
    DoneChanged(String, String, String),
}

/// Runs up to `max_steps` steps of a store-driven job (Restore, PurgeData); true when it
/// finished.
async fn run_steps(svc: &DynamoDb, id: [u8; 16], max_steps: usize) -> Result<bool, DynamoDbError> {
    for _ in 0..max_steps {
        let now_ms = svc.now_millis();
        let step = svc
            .db()
            .write(move |txn| -> Result<Step, DynamoDbError> { run_step(txn, &id, now_ms) })
            .await?;
        match step {
            Step::More => tokio::task::yield_now().await,
            Step::Done => return Ok(true),
            Step::DoneChanged(account, region, name) => {
                svc.invalidate_table(&account, &region, &name);
                return Ok(true);
            }
        }
    }
    Ok(false)
}

/// Runs a store-driven job to its end in the background (no-op outside a runtime: it
/// resumes at the next start).
fn spawn_job(svc: &DynamoDb, id: [u8; 16]) {
    let Ok(handle) = tokio::runtime::Handle::try_current() else {
        return;
    };
    let svc = svc.clone();
    handle.spawn(async move {
        loop {
            match run_steps(&svc, id, 64).await {
                Ok(true) => return,
                Ok(false) => {}
                Err(DynamoDbError::Store(StoreError::Closed)) => return,
                Err(e) => {
                    tracing::error!(error = %e, "dynamodb backup job failed; it resumes at next start");
                    return;
                }
            }
        }
    });
}

/// Reads a bounded page of `(key, value)` after `start` (entries and bytes bounded).
fn read_page(
    txn: &dyn ReadTxn,
    start: &Bound<Vec<u8>>,
    end: &Bound<Vec<u8>>,
    reverse: bool,
) -> Result<(Vec<Entry>, bool), DynamoDbError> {
    let page = if reverse {
        txn.range(
            layout::bound_ref(end),
            layout::bound_ref(start),
            true,
            STEP_ENTRIES,
        )?
    } else {
        txn.range(
            layout::bound_ref(start),
            layout::bound_ref(end),
            false,
            STEP_ENTRIES,
        )?
    };
    let exhausted = page.len() < STEP_ENTRIES;
    let mut bytes = 0;
    let mut out = Vec::with_capacity(page.len());
    for e in page {
        bytes += e.0.len() + e.1.len();
        out.push(e);
        if bytes >= STEP_MAX_BYTES {
            return Ok((out, false));
        }
    }
    Ok((out, exhausted))
}

fn run_step(txn: &mut dyn WriteTxn, id: &[u8; 16], now_ms: i64) -> Result<Step, DynamoDbError> {
    let jkey = job_key(id);
    let Some(raw) = txn.get(&jkey)? else {
        return Ok(Step::Done);
    };
    match Job::from_bytes(&raw)? {
        // Driven by `spawn_backup_copy` (it needs its snapshot), never by steps.
        Job::BackupCopy { .. } => Ok(Step::Done),
        Job::PurgeData { id: bid } => {
            let (lo, hi) = layout::prefix_range(&data_prefix(&bid));
            let (page, exhausted) = read_page(txn, &lo, &hi, false)?;
            for (k, _) in &page {
                txn.delete(k)?;
            }
            if exhausted {
                txn.delete(&jkey)?;
                return Ok(Step::Done);
            }
            Ok(Step::More)
        }
        Job::Restore {
            account,
            region,
            name,
            target_tid,
            source,
            phase,
            cursor,
        } => {
            let target = catalog::load_table(txn, &account, &region, &name)?
                .filter(|m| m.key_id == target_tid);
            let Some(mut target) = target else {
                // The target was deleted meanwhile; its purge removes what was written.
                txn.delete(&jkey)?;
                return Ok(Step::Done);
            };
            let cx = ChangeCtx {
                now_ms,
                origin: ChangeOrigin::Restore,
            };
            let target_prefix = layout::item_prefix(&target_tid);
            let (next_phase, next_cursor, finished) = match phase {
                RestorePhase::Copy => {
                    let prefix = match &source {
                        RestoreSource::Backup { id, .. } => data_prefix(id),
                        RestoreSource::PointInTime { source_tid, .. } => {
                            layout::item_prefix(source_tid)
                        }
                    };
                    let (lo, hi) = layout::prefix_range(&prefix);
                    let start = match cursor {
                        Some(c) => Bound::Excluded(c),
                        None => lo,
                    };
                    let (page, exhausted) = read_page(txn, &start, &hi, false)?;
                    for (k, v) in &page {
                        let item = layout::decode_item(v)?;
                        let mut tk = target_prefix.clone();
                        tk.extend_from_slice(k.get(prefix.len()..).unwrap_or_default());
                        let old = txn.get(&tk)?.map(|b| layout::decode_item(&b)).transpose()?;
                        write::apply_item_change(txn, &target, old.as_ref(), Some(&item), &cx)?;
                    }
                    let last = page.last().map(|(k, _)| k.clone());
                    match (exhausted, &source) {
                        (false, _) => (RestorePhase::Copy, last, false),
                        (true, RestoreSource::PointInTime { source_tid, .. }) => {
                            // Undo from the newest record that exists now (see pitr).
                            let (hlo, hhi) =
                                layout::prefix_range(&pitr::history_prefix(source_tid));
                            let newest = txn.range(
                                layout::bound_ref(&hlo),
                                layout::bound_ref(&hhi),
                                true,
                                1,
                            )?;
                            match newest.first() {
                                Some((k, _)) => {
                                    let mut upper = k.clone();
                                    // Just past the newest key, so the walk includes it.
                                    upper.push(0);
                                    (RestorePhase::Undo, Some(upper), false)
                                }
                                None => (RestorePhase::Undo, None, true),
                            }
                        }
                        (true, RestoreSource::Backup { .. }) => (RestorePhase::Copy, None, true),
                    }
                }
                RestorePhase::Undo => {
                    let RestoreSource::PointInTime {
                        source_tid,
                        restore_ms,
                        ..
                    } = &source
                    else {
                        return Err(DynamoDbError::Internal(
                            "undo phase of a backup restore".into(),
                        ));
                    };
                    let Some(upper) = cursor else {
                        return Err(DynamoDbError::Internal(
                            "undo phase without a cursor".into(),
                        ));
                    };
                    let lower =
                        Bound::Included(pitr::history_at(source_tid, restore_ms.saturating_add(1)));
                    let hprefix_len = pitr::history_prefix(source_tid).len() + 8;
                    let (page, exhausted) = read_page(txn, &Bound::Excluded(upper), &lower, true)?;
                    for (k, v) in &page {
                        let rec = pitr::decode_record(v)?;
                        let mut tk = target_prefix.clone();
                        tk.extend_from_slice(k.get(hprefix_len..).unwrap_or_default());
                        let current = txn.get(&tk)?.map(|b| layout::decode_item(&b)).transpose()?;
                        if current == rec.old {
                            continue;
                        }
                        write::apply_item_change(
                            txn,
                            &target,
                            current.as_ref(),
                            rec.old.as_ref(),
                            &cx,
                        )?;
                    }
                    match page.last() {
                        Some((k, _)) if !exhausted => (RestorePhase::Undo, Some(k.clone()), false),
                        _ => (RestorePhase::Undo, None, true),
                    }
                }
            };
            if finished {
                target.status = Status::Active;
                if let Some(r) = target.restore.as_mut() {
                    r.in_progress = false;
                }
                target.version += 1;
                catalog::save_table(txn, &target)?;
                txn.delete(&jkey)?;
                return Ok(Step::DoneChanged(account, region, name));
            }
            let job = Job::Restore {
                account,
                region,
                name,
                target_tid,
                source,
                phase: next_phase,
                cursor: next_cursor,
            };
            txn.put(&jkey, &job.to_bytes()?)?;
            Ok(Step::More)
        }
    }
}

/// Copies a large table into a backup from `snap` (or, when resuming after a restart,
/// from a fresh snapshot after discarding what the interrupted copy wrote).
fn spawn_backup_copy(svc: &DynamoDb, job: [u8; 16], snap: Option<Box<dyn ReadTxn + Send>>) {
    let Ok(handle) = tokio::runtime::Handle::try_current() else {
        return;
    };
    let svc = svc.clone();
    handle.spawn(async move {
        match backup_copy(&svc, job, snap).await {
            Ok(()) | Err(DynamoDbError::Store(StoreError::Closed)) => {}
            Err(e) => tracing::error!(error = %e, "dynamodb backup copy failed; it restarts at next start"),
        }
    });
}

enum CopyNext {
    More,
    Stop,
    Purge([u8; 16]),
}

async fn backup_copy(
    svc: &DynamoDb,
    job: [u8; 16],
    snap: Option<Box<dyn ReadTxn + Send>>,
) -> Result<(), DynamoDbError> {
    let jkey = job_key(&job);
    let Some(raw) = svc.db().snapshot()?.get(&jkey)? else {
        return Ok(());
    };
    let Job::BackupCopy {
        account,
        region,
        id,
        source_tid,
    } = Job::from_bytes(&raw)?
    else {
        return Ok(());
    };
    let snap = match snap {
        Some(s) => s,
        None => {
            // Resumed: drop the partial copy, then start over from the table as it is now.
            let (lo, hi) = layout::prefix_range(&data_prefix(&id));
            loop {
                let (lo, hi) = (lo.clone(), hi.clone());
                let exhausted = svc
                    .db()
                    .write(move |txn| -> Result<bool, DynamoDbError> {
                        let (page, exhausted) = read_page(txn, &lo, &hi, false)?;
                        for (k, _) in &page {
                            txn.delete(k)?;
                        }
                        Ok(exhausted)
                    })
                    .await?;
                if exhausted {
                    break;
                }
            }
            svc.db().snapshot()?
        }
    };
    let prefix = layout::item_prefix(&source_tid);
    let dprefix = data_prefix(&id);
    let (lo, hi) = layout::prefix_range(&prefix);
    let bkey = backup_key(&account, &region, &id);
    let mut start = lo;
    loop {
        let (page, exhausted) = read_page(snap.as_ref(), &start, &hi, false)?;
        if let Some((k, _)) = page.last() {
            start = Bound::Excluded(k.clone());
        }
        let entries: Vec<(Vec<u8>, Vec<u8>)> = page
            .into_iter()
            .map(|(k, v)| {
                let mut dk = dprefix.clone();
                dk.extend_from_slice(k.get(prefix.len()..).unwrap_or_default());
                (dk, v)
            })
            .collect();
        let (jkey, bkey) = (jkey.clone(), bkey.clone());
        let next = svc
            .db()
            .write(move |txn| -> Result<CopyNext, DynamoDbError> {
                if txn.get(&jkey)?.is_none() {
                    return Ok(CopyNext::Stop);
                }
                let Some(raw) = txn.get(&bkey)? else {
                    // The backup record is gone: leave nothing behind.
                    txn.delete(&jkey)?;
                    return Ok(CopyNext::Purge(put_job(txn, &Job::PurgeData { id })?));
                };
                for (k, v) in &entries {
                    txn.put(k, v)?;
                }
                if exhausted {
                    let mut rec = BackupRecord::from_bytes(&raw)?;
                    rec.available = true;
                    txn.put(&bkey, &rec.to_bytes()?)?;
                    txn.delete(&jkey)?;
                    return Ok(CopyNext::Stop);
                }
                Ok(CopyNext::More)
            })
            .await?;
        match next {
            CopyNext::More => {}
            CopyNext::Stop => return Ok(()),
            CopyNext::Purge(purge) => {
                spawn_job(svc, purge);
                return Ok(());
            }
        }
        tokio::task::yield_now().await;
    }
}

/// Resumes every backup job recorded in the store (call once at startup, inside a Tokio
/// runtime). Safe to call again: a job already finished is simply gone.
pub fn resume_jobs(svc: &DynamoDb) {
    let ids = match list_jobs(svc) {
        Ok(ids) => ids,
        Err(e) => {
            tracing::error!(error = %e, "cannot list dynamodb backup jobs");
            return;
        }
    };
    for (id, job) in ids {
        match job {
            Job::BackupCopy { .. } => spawn_backup_copy(svc, id, None),
            _ => spawn_job(svc, id),
        }
    }
}

fn list_jobs(svc: &DynamoDb) -> Result<Vec<([u8; 16], Job)>, DynamoDbError> {
    let snap = svc.db().snapshot()?;
    let mut out = Vec::new();
    for (id, raw) in ttl::list_registry(snap.as_ref(), BACKUP_JOB_PREFIX, 10_000)? {
        out.push((id, Job::from_bytes(&raw)?));
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::ops::tables::tests::ctx;
    use crate::ops::ttl::tests::{n, sv};
    use nimbus_core::{Clock, ManualClock};
    use nimbus_store::Db;
    use std::collections::HashMap;
    use std::sync::Arc;

    const T0_MS: i64 = 1_764_172_800_000;

    fn svc(clock: Arc<ManualClock>) -> DynamoDb {
        DynamoDb::new(Db::in_memory(), clock)
    }

    async fn create(s: &DynamoDb, name: &str) {
        crate::ops::ttl::tests::create_with_gsi(s, name, m::ProjectionType::KeysOnly).await;
    }

    async fn put(s: &DynamoDb, table: &str, pk: &str, v: &str) {
        let mut item = HashMap::new();
        item.insert("pk".to_string(), sv(pk));
        item.insert("g".to_string(), sv("x"));
        item.insert("v".to_string(), n(v));
        crate::ops::items::put_item(
            s,
            &ctx(),
            m::PutItemInput {
                table_name: table.into(),
                item,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    }

    async fn del(s: &DynamoDb, table: &str, pk: &str) {
        let mut key = HashMap::new();
        key.insert("pk".to_string(), sv(pk));
        crate::ops::items::delete_item(
            s,
            &ctx(),
            m::DeleteItemInput {
                table_name: table.into(),
                key,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    }

    /// pk -> v of every item, and the (table, index) item counts.
    async fn contents(s: &DynamoDb, table: &str) -> (Vec<(String, String)>, i64, i64) {
        let out = crate::ops::query::scan(
            s,
            &ctx(),
            m::ScanInput {
                table_name: table.into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        let mut rows: Vec<(String, String)> = out
            .items
            .unwrap_or_default()
            .into_iter()
            .map(|i| (i["pk"].s.clone().unwrap(), i["v"].n.clone().unwrap()))
            .collect();
        rows.sort();
        let d = tables::describe_table(
            s,
            &ctx(),
            m::DescribeTableInput {
                table_name: table.into(),
            },
        )
        .await
        .unwrap()
        .table
        .unwrap();
        let gsi = d
            .global_secondary_indexes
            .map_or(-1, |g| g[0].item_count.unwrap());
        (rows, d.item_count.unwrap(), gsi)
    }

    fn rows(r: &[(&str, &str)]) -> Vec<(String, String)> {
        r.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    async fn enable_pitr(s: &DynamoDb, table: &str) -> m::ContinuousBackupsDescription {
        pitr::update_continuous_backups(
            s,
            &ctx(),
            m::UpdateContinuousBackupsInput {
                table_name: table.into(),
                point_in_time_recovery_specification: m::PointInTimeRecoverySpecification {
                    point_in_time_recovery_enabled: true,
                    recovery_period_in_days: None,
                },
            },
        )
        .await
        .unwrap()
        .continuous_backups_description
        .unwrap()
    }

    async fn pitr_restore(s: &DynamoDb, target: &str, at_ms: i64) -> Result<(), DynamoDbError> {
        pitr::restore_table_to_point_in_time(
            s,
            &ctx(),
            m::RestoreTableToPointInTimeInput {
                source_table_name: Some("src".into()),
                target_table_name: target.into(),
                restore_date_time: Some(at_ms as f64 / 1000.0),
                ..Default::default()
            },
        )
        .await
        .map(|_| ())
    }

    #[tokio::test]
    async fn point_in_time_restore_undoes_later_changes() {
        let clock = Arc::new(ManualClock::new(T0_MS));
        let s = svc(clock.clone());
        create(&s, "src").await;
        put(&s, "src", "a", "1").await; // before PITR: part of every restore
        let d = enable_pitr(&s, "src").await;
        let p = d.point_in_time_recovery_description.unwrap();
        assert_eq!(p.recovery_period_in_days, Some(35));
        assert_eq!(p.earliest_restorable_date_time, Some(T0_MS as f64 / 1000.0));
        clock.advance_millis(1000);
        put(&s, "src", "b", "1").await; // T0+1s
        put(&s, "src", "b", "2").await; // same ms: one merged record
        clock.advance_millis(1000);
        let t_mid = clock.now_millis(); // T0+2s: a=1, b=2
        clock.advance_millis(1000);
        put(&s, "src", "a", "9").await; // T0+3s
        del(&s, "src", "b").await;
        put(&s, "src", "c", "3").await;
        clock.advance_millis(1000);
        put(&s, "src", "a", "10").await; // T0+4s
                                         // Latest restorable trails now by five minutes.
        assert!(matches!(
            pitr_restore(&s, "early", t_mid).await,
            Err(DynamoDbError::InvalidRestoreTime(_))
        ));
        clock.advance_millis(LATEST_LAG_FOR_TESTS);
        pitr_restore(&s, "mid", t_mid).await.unwrap();
        assert_eq!(
            contents(&s, "mid").await,
            (rows(&[("a", "1"), ("b", "2")]), 2, 2)
        );
        pitr_restore(&s, "start", T0_MS).await.unwrap();
        assert_eq!(contents(&s, "start").await, (rows(&[("a", "1")]), 1, 1));
        pitr_restore(&s, "late", T0_MS + 3000).await.unwrap();
        assert_eq!(
            contents(&s, "late").await,
            (rows(&[("a", "9"), ("c", "3")]), 2, 2)
        );
        let d = tables::describe_table(
            &s,
            &ctx(),
            m::DescribeTableInput {
                table_name: "mid".into(),
            },
        )
        .await
        .unwrap()
        .table
        .unwrap();
        assert_eq!(d.table_status, Some(m::TableStatus::Active));
        let r = d.restore_summary.unwrap();
        assert!(!r.restore_in_progress);
        assert_eq!(r.restore_date_time, t_mid as f64 / 1000.0);
        assert!(r.source_table_arn.unwrap().ends_with(":table/src"));
        // Errors: before the window, an existing target, a table without PITR.
        assert!(matches!(
            pitr_restore(&s, "x", T0_MS - 1).await,
            Err(DynamoDbError::InvalidRestoreTime(_))
        ));
        assert!(matches!(
            pitr_restore(&s, "mid", t_mid).await,
            Err(DynamoDbError::TableAlreadyExists(m)) if m == "Table already exists: mid"
        ));
        // The source is unchanged by all this.
        assert_eq!(
            contents(&s, "src").await.0,
            rows(&[("a", "10"), ("c", "3")])
        );
    }

    const LATEST_LAG_FOR_TESTS: i64 = pitr::LATEST_RESTORABLE_LAG_MS;

    #[tokio::test]
    async fn history_is_trimmed_and_dropped_with_pitr_off() {
        let clock = Arc::new(ManualClock::new(T0_MS));
        let s = svc(clock.clone());
        create(&s, "src").await;
        enable_pitr(&s, "src").await;
        for i in 0..5 {
            put(&s, "src", &format!("k{i}"), "1").await;
        }
        let count = |s: &DynamoDb| {
            let snap = s.db().snapshot().unwrap();
            let (lo, hi) = layout::prefix_range(pitr::HISTORY_PREFIX);
            snap.range(layout::bound_ref(&lo), layout::bound_ref(&hi), false, 1000)
                .unwrap()
                .len()
        };
        assert_eq!(count(&s), 5);
        assert_eq!(pitr::trim_once(&s).await.unwrap(), 0);
        clock.advance_millis(36 * 24 * 3600 * 1000);
        put(&s, "src", "new", "1").await;
        assert_eq!(pitr::trim_once(&s).await.unwrap(), 5);
        assert_eq!(count(&s), 1);
        let off = pitr::update_continuous_backups(
            &s,
            &ctx(),
            m::UpdateContinuousBackupsInput {
                table_name: "src".into(),
                point_in_time_recovery_specification: m::PointInTimeRecoverySpecification {
                    point_in_time_recovery_enabled: false,
                    recovery_period_in_days: None,
                },
            },
        )
        .await
        .unwrap();
        let p = off
            .continuous_backups_description
            .unwrap()
            .point_in_time_recovery_description
            .unwrap();
        assert_eq!(
            p.point_in_time_recovery_status,
            Some(m::PointInTimeRecoveryStatus::Disabled)
        );
        put(&s, "src", "unrecorded", "1").await;
        assert_eq!(pitr::trim_once(&s).await.unwrap(), 1);
        assert_eq!(count(&s), 0);
        assert!(matches!(
            pitr_restore(&s, "x", clock.now_millis()).await,
            Err(DynamoDbError::PointInTimeRecoveryUnavailable(_))
        ));
    }

    #[tokio::test]
    async fn backup_and_restore_with_overrides() {
        let clock = Arc::new(ManualClock::new(T0_MS));
        let s = svc(clock.clone());
        create(&s, "src").await;
        for i in 0..1200 {
            put(&s, "src", &format!("k{i:04}"), &i.to_string()).await;
        }
        let out = create_backup(
            &s,
            &ctx(),
            m::CreateBackupInput {
                table_name: "src".into(),
                backup_name: "b1".into(),
            },
        )
        .await
        .unwrap()
        .backup_details
        .unwrap();
        assert_eq!(out.backup_status, m::BackupStatus::Creating);
        let arn = out.backup_arn.clone();
        assert!(arn.starts_with(
            "arn:aws:dynamodb:us-east-1:000000000000:table/src/backup/01764172800000-"
        ));
        // Changes after the backup are not in it.
        put(&s, "src", "after", "1").await;
        let d = describe_backup(
            &s,
            &ctx(),
            m::DescribeBackupInput {
                backup_arn: arn.clone(),
            },
        )
        .await
        .unwrap()
        .backup_description
        .unwrap();
        assert_eq!(
            d.backup_details.unwrap().backup_status,
            m::BackupStatus::Available
        );
        assert_eq!(d.source_table_details.unwrap().item_count, Some(1200));
        let r = restore_table_from_backup(
            &s,
            &ctx(),
            m::RestoreTableFromBackupInput {
                target_table_name: "copy".into(),
                backup_arn: arn.clone(),
                global_secondary_index_override: Some(vec![]),
                billing_mode_override: Some(m::BillingMode::Provisioned),
                provisioned_throughput_override: Some(m::ProvisionedThroughput {
                    read_capacity_units: 3,
                    write_capacity_units: 4,
                }),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .table_description
        .unwrap();
        assert_eq!(r.table_status, Some(m::TableStatus::Creating));
        assert!(r.restore_summary.unwrap().restore_in_progress);
        let (rows, count, gsi) = contents(&s, "copy").await;
        assert_eq!(rows.len(), 1200);
        assert_eq!((count, gsi), (1200, -1));
        assert!(!rows.iter().any(|(k, _)| k == "after"));
        let t = s.table(&ctx(), "copy").unwrap();
        assert_eq!(t.billing_mode, BillingMode::Provisioned);
        assert_eq!(t.throughput.read_units, 3);
        // ListBackups: filters and pagination (in creation order).
        clock.advance_millis(1000);
        create_backup(
            &s,
            &ctx(),
            m::CreateBackupInput {
                table_name: "copy".into(),
                backup_name: "b2".into(),
            },
        )
        .await
        .unwrap();
        let all = list_backups(&s, &ctx(), m::ListBackupsInput::default())
            .await
            .unwrap();
        assert_eq!(all.backup_summaries.unwrap().len(), 2);
        let page = list_backups(
            &s,
            &ctx(),
            m::ListBackupsInput {
                limit: Some(1),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        assert_eq!(
            page.last_evaluated_backup_arn.as_deref(),
            Some(arn.as_str())
        );
        let next = list_backups(
            &s,
            &ctx(),
            m::ListBackupsInput {
                exclusive_start_backup_arn: Some(arn.clone()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        let next = next.backup_summaries.unwrap();
        assert_eq!(next.len(), 1);
        assert_eq!(next[0].table_name.as_deref(), Some("copy"));
        let by_table = list_backups(
            &s,
            &ctx(),
            m::ListBackupsInput {
                table_name: Some("src".into()),
                backup_type: Some(m::BackupTypeFilter::System),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        assert!(by_table.backup_summaries.unwrap().is_empty());
        // DeleteBackup, then it is gone along with its data.
        let gone = delete_backup(
            &s,
            &ctx(),
            m::DeleteBackupInput {
                backup_arn: arn.clone(),
            },
        )
        .await
        .unwrap();
        assert_eq!(
            gone.backup_description
                .unwrap()
                .backup_details
                .unwrap()
                .backup_status,
            m::BackupStatus::Deleted
        );
        let e = describe_backup(
            &s,
            &ctx(),
            m::DescribeBackupInput {
                backup_arn: arn.clone(),
            },
        )
        .await
        .unwrap_err();
        assert_eq!(e.to_string(), format!("Backup not found: {arn}"));
        for _ in 0..200 {
            let snap = s.db().snapshot().unwrap();
            let (lo, hi) = layout::prefix_range(BACKUP_JOB_PREFIX);
            if snap
                .range(layout::bound_ref(&lo), layout::bound_ref(&hi), false, 10)
                .unwrap()
                .is_empty()
            {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    }
}
