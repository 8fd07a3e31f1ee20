//! Global tables, version 2019.11.21: UpdateTable `ReplicaUpdates` (Create, Update,
//! Delete), the `Replicas` of DescribeTable, DeleteTable on a member, the copy of existing
//! items into a new replica, and last-writer-wins replication between members.
//!
//! A global table is a group of tables with the same name and account in several regions
//! of this one nimbus. Every member stores the whole group (`TableMeta::replicas`, itself
//! included, in creation order); a group change rewrites every member's metadata in one
//! transaction, so all regions always agree on who is in the group.
//!
//! Conflicts are settled per item by last writer wins. Each write to a member records a
//! stamp (`ddb/g/`, below): the write's time and the region it was first made in. A local
//! write is stamped `max(now, previous + 1)`, so it always beats what it overwrote (a
//! hybrid logical clock: the clock may stand still in tests). A replicated change is
//! applied only when its stamp is greater than the target's: (time, region name) compared
//! in that order, so every member takes the same decision and all converge. Deletes leave
//! a tombstone stamp so an older write arriving later cannot resurrect the item.
//!
//! Replication is state based: when a member's item changes, the replicator (see
//! `replicator`) reads that member's current item and stamp and applies them to every
//! other member. Only items whose stamp names the member's own region are forwarded, so
//! a replicated write is never sent on again (no loops), and replaying an event is
//! harmless (equal stamps are skipped).
//!
//! Store keys:
//! - `ddb/g/` tid h32(enc(hash)) enc(hash) [enc(range)] -> stamp: format byte 1,
//!   be64(written_ms), tombstone byte, region (UTF-8). The suffix after `ddb/g/` is the
//!   item's key after `ddb/i/`, so a table's stamps share its prefix and are purged
//!   with it.
//! - `ddb/gm/` tid -> JSON {account, region, name, topic}: one entry per member of a
//!   global table, written with the group change; the replicator follows these topics.

use nimbus_core::RequestContext;
use nimbus_model::dynamodb as m;
use nimbus_store::{ReadTxn, WriteTxn};

use crate::error::DynamoDbError;
use crate::ops::catalog::{
    self, BillingMode, IndexKind, ReplicaMeta, SseMeta, Status, StreamMeta, TableMeta,
};
use crate::ops::jobs::{self, Job};
use crate::ops::layout::{self, Counters};
use crate::ops::streams::{self, StoredRecord};
use crate::ops::tables::{self, Stats};
use crate::ops::write::{self, ChangeCtx, ChangeOrigin, PrimaryKey};
use crate::ops::DynamoDb;
use crate::value::Item;

/// `GlobalTableVersion` of every table with replicas.
pub const GLOBAL_TABLE_VERSION: &str = "2019.11.21";
/// Per-item last-writer-wins stamps of global-table members.
pub const STAMP_PREFIX: &[u8] = b"ddb/g/";
/// Registry of global-table members: what the replicator follows.
pub const MEMBER_PREFIX: &[u8] = b"ddb/gm/";
/// The replicator's consumer name on the event bus (its cursors are stored under it).
pub const CONSUMER: &str = "ddb-replicator";
/// Most members the replicator follows (AWS allows a few hundred global tables per
/// account and region; beyond this the rest wait).
const MAX_FOLLOWED: usize = 10_000;
const STAMP_FORMAT_VERSION: u8 = 1;
/// AWS refuses to remove a member that created another one less than this long ago.
pub const SOURCE_HOLD_MS: i64 = 24 * 60 * 60 * 1000;
/// Items (at most) copied into a new replica per transaction of the copy job.
const COPY_STEP_ITEMS: usize = 200;
/// Bytes (at most, roughly) copied per transaction of the copy job.
const COPY_STEP_BYTES: usize = 2 * 1024 * 1024;

/// The regions AWS offers global tables (version 2019.11.21) in; a replica elsewhere is
/// refused with AWS's "Region X is not supported" message.
pub const SUPPORTED_REGIONS: &[&str] = &[
    "af-south-1",
    "ap-east-1",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-south-1",
    "ap-south-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ap-southeast-5",
    "ap-southeast-7",
    "ca-central-1",
    "ca-west-1",
    "eu-central-1",
    "eu-central-2",
    "eu-north-1",
    "eu-south-1",
    "eu-south-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "il-central-1",
    "me-central-1",
    "me-south-1",
    "mx-central-1",
    "sa-east-1",
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
];

const MSG_ONLY_OPERATION: &str =
    "One or more parameter values were invalid: Replica modification must be the only operation in the request";
const MSG_NO_ACTIONS: &str =
    "There are no actions specified in the Replica Update Action of the request.";
const MSG_MIXED_ACTIONS: &str =
    "Update table operation with more than one type of replica actions not allowed.";
const MSG_MANY_CREATE_DELETE: &str =
    "Update table operation with more than one create or delete replica actions not allowed";
const MSG_LOCAL_REGION: &str = "Cannot add or delete the local region through ReplicaUpdates. Use CreateTable, DeleteTable, or UpdateTable as required.";
const MSG_SOURCE_HOLD: &str = "Replica cannot be deleted because it has acted as a source region for new replica(s) being added to the table in the last 24 hours.";
const MSG_IN_USE: &str = "The resource which you are attempting to change is in use.";
const MSG_NOT_AUTOSCALED: &str =
    "Table write capacity should either be Pay-Per-Request or AutoScaled.";
const MSG_STREAM_DISABLE: &str =
    "One or more parameter values were invalid: Disabling Stream is not allowed for a Global Table replica.";
const MSG_PROTECTED: &str = "Resource cannot be deleted as it is currently protected against deletion. Disable deletion protection first.";
/// nimbus's own text (AWS's is not documented): a replica's key changes through
/// SSESpecification in its own region.
const MSG_KMS_UPDATE: &str = "One or more parameter values were invalid: KMSMasterKeyId cannot be changed through ReplicaUpdates. Use SSESpecification in the replica's region";
/// nimbus's own text: a table encrypted with an AWS owned key has no per-replica key.
const MSG_KMS_OWNED: &str = "One or more parameter values were invalid: KMSMasterKeyId cannot be specified for a replica of a table encrypted with an AWS owned key";

fn region_unsupported(region: &str) -> DynamoDbError {
    DynamoDbError::Validation(format!(
        "Region {region} is not supported. The latest version of global tables are only supported in the following regions: [{}].",
        SUPPORTED_REGIONS.join(", ")
    ))
}

fn already_exists(name: &str) -> DynamoDbError {
    DynamoDbError::Validation(format!(
        "Failed to create a the new replica of table with name: \u{2018}{name}\u{2019} because one or more replicas already existed as tables."
    ))
}

fn not_members(regions: &[&str]) -> DynamoDbError {
    DynamoDbError::Validation(format!(
        "Update global table operation failed because one or more replicas were not part of the global table. Please retry the request without these replicas: [{}].",
        regions.join(", ")
    ))
}

// ---------------------------------------------------------------------------------------
// Last-writer-wins stamps

/// When and where an item's current state was first written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamp {
    pub written_ms: i64,
    /// The region the write was made in (not the one it was replicated to).
    pub region: String,
    /// The write deleted the item (a tombstone).
    pub deleted: bool,
}

impl Stamp {
    /// True when a change stamped `self` must replace state stamped `current`: later time
    /// wins, equal times go to the greater region name. Total and the same everywhere,
    /// so every member decides alike.
    pub fn beats(&self, current: Option<&Stamp>) -> bool {
        match current {
            None => true,
            Some(c) => (self.written_ms, self.region.as_str()) > (c.written_ms, c.region.as_str()),
        }
    }

    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(10 + self.region.len());
        out.push(STAMP_FORMAT_VERSION);
        out.extend_from_slice(&self.written_ms.to_be_bytes());
        out.push(u8::from(self.deleted));
        out.extend_from_slice(self.region.as_bytes());
        out
    }

    fn decode(b: &[u8]) -> Result<Stamp, DynamoDbError> {
        let corrupt = || DynamoDbError::Internal("stored replication stamp is corrupt".into());
        let (&version, rest) = b.split_first().ok_or_else(corrupt)?;
        if version != STAMP_FORMAT_VERSION || rest.len() < 9 {
            return Err(corrupt());
        }
        let (ms, rest) = rest.split_at(8);
        let written_ms = i64::from_be_bytes(ms.try_into().map_err(|_| corrupt())?);
        let (&deleted, region) = rest.split_first().ok_or_else(corrupt)?;
        Ok(Stamp {
            written_ms,
            region: String::from_utf8(region.to_vec()).map_err(|_| corrupt())?,
            deleted: deleted != 0,
        })
    }
}

/// The stamp key of an item given its store key (`ddb/i/...`).
fn stamp_key(item_key: &[u8]) -> Vec<u8> {
    let suffix = item_key
        .get(layout::ITEM_PREFIX.len()..)
        .unwrap_or_default();
    let mut k = Vec::with_capacity(STAMP_PREFIX.len() + suffix.len());
    k.extend_from_slice(STAMP_PREFIX);
    k.extend_from_slice(suffix);
    k
}

/// Prefix of all stamps of a table (purged with the table).
pub fn table_stamp_prefix(tid: &[u8; 16]) -> Vec<u8> {
    let mut k = STAMP_PREFIX.to_vec();
    k.extend_from_slice(tid);
    k
}

fn read_stamp(txn: &dyn ReadTxn, item_key: &[u8]) -> Result<Option<Stamp>, DynamoDbError> {
    match txn.get(&stamp_key(item_key))? {
        Some(b) => Ok(Some(Stamp::decode(&b)?)),
        None => Ok(None),
    }
}

/// The stamp a local write made at `now_ms` gets when it replaces state stamped `prev`.
pub fn local_stamp(now_ms: i64, region: &str, prev: Option<&Stamp>, deleted: bool) -> Stamp {
    let floor = prev.map_or(i64::MIN, |p| p.written_ms.saturating_add(1));
    Stamp {
        written_ms: now_ms.max(floor),
        region: region.to_string(),
        deleted,
    }
}

/// Stamps a write made directly to a member (a request, TTL, a restore), inside the
/// write's transaction. Called by `write::apply_item_change` for tables with replicas.
/// Replicated writes are stamped by `apply_member_state` instead.
pub fn record(
    txn: &mut dyn WriteTxn,
    table: &TableMeta,
    old: Option<&Item>,
    new: Option<&Item>,
    cx: &ChangeCtx,
) -> Result<(), DynamoDbError> {
    if table.replicas.is_empty() || matches!(cx.origin, ChangeOrigin::Replication { .. }) {
        return Ok(());
    }
    let Some(any) = new.or(old) else {
        return Ok(());
    };
    let item_key = write::key_of_item(table, any)?.store_key(table)?;
    let prev = read_stamp(txn, &item_key)?;
    let stamp = local_stamp(cx.now_ms, &table.region, prev.as_ref(), new.is_none());
    txn.put(&stamp_key(&item_key), &stamp.encode())?;
    Ok(())
}

/// What applying one member's item state to another member did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    /// Written (or deleted); `lag_ms` is the time since the original write.
    Changed { lag_ms: i64 },
    /// The target already holds this state or a newer one.
    Older,
    /// The source's state was itself replicated there: its own region forwards it.
    NotLocal,
}

/// Applies `source`'s current state of the item `key` to `target`, when it wins there.
/// `only_local` skips state the source received from another member (the replicator);
/// the copy into a new replica takes everything.
pub fn apply_member_state(
    txn: &mut dyn WriteTxn,
    source: &TableMeta,
    target: &TableMeta,
    key: &PrimaryKey,
    now_ms: i64,
    only_local: bool,
) -> Result<Applied, DynamoDbError> {
    let skey = key.store_key(source)?;
    let item = write::read_item(txn, source, key)?;
    let stamp = match read_stamp(txn, &skey)? {
        Some(s) => s,
        // Written before the table joined a group: as old as can be.
        None => Stamp {
            written_ms: 0,
            region: source.region.clone(),
            deleted: item.is_none(),
        },
    };
    if only_local && stamp.region != source.region {
        return Ok(Applied::NotLocal);
    }
    let tkey = key.store_key(target)?;
    let current = read_stamp(txn, &tkey)?;
    if !stamp.beats(current.as_ref()) {
        return Ok(Applied::Older);
    }
    let old = write::read_item(txn, target, key)?;
    let cx = ChangeCtx {
        now_ms,
        origin: ChangeOrigin::Replication {
            from_region: stamp.region.clone(),
            written_ms: stamp.written_ms,
        },
    };
    write::apply_item_change(txn, target, old.as_ref(), item.as_ref(), &cx)?;
    txn.put(&stamp_key(&tkey), &stamp.encode())?;
    Ok(Applied::Changed {
        lag_ms: now_ms.saturating_sub(stamp.written_ms).max(0),
    })
}

// ---------------------------------------------------------------------------------------
// DescribeTable

/// `Replicas` of a member's description: the OTHER members, in creation order, as AWS
/// lists them; `None` for a table that is not global.
pub fn replicas_out(meta: &TableMeta) -> Option<Vec<m::ReplicaDescription>> {
    if meta.replicas.len() < 2 {
        return None;
    }
    Some(
        meta.replicas
            .iter()
            .filter(|r| r.region != meta.region)
            .map(|r| replica_out(meta, r))
            .collect(),
    )
}

/// `GlobalTableVersion`, for tables with replicas.
pub fn version_out(meta: &TableMeta) -> Option<String> {
    (meta.replicas.len() >= 2).then(|| GLOBAL_TABLE_VERSION.to_string())
}

fn replica_out(meta: &TableMeta, r: &ReplicaMeta) -> m::ReplicaDescription {
    let gsis: Vec<m::ReplicaGlobalSecondaryIndexDescription> = meta
        .indexes
        .iter()
        .filter(|i| i.kind == IndexKind::Global)
        .map(|i| {
            let o = r.index_overrides.iter().find(|(n, _, _)| *n == i.name);
            m::ReplicaGlobalSecondaryIndexDescription {
                index_name: Some(i.name.clone()),
                provisioned_throughput_override: o.and_then(|(_, rcu, _)| *rcu).map(|rcu| {
                    m::ProvisionedThroughputOverride {
                        read_capacity_units: Some(rcu),
                    }
                }),
                on_demand_throughput_override: o.and_then(|(_, _, max)| *max).map(|max| {
                    m::OnDemandThroughputOverride {
                        max_read_request_units: Some(max),
                    }
                }),
                warm_throughput: None,
            }
        })
        .collect();
    m::ReplicaDescription {
        region_name: Some(r.region.clone()),
        replica_status: Some(m::ReplicaStatus::from(r.status.as_str())),
        // The key is regional: the member's own ARN in its region.
        kms_master_key_id: meta.sse.as_ref().map(|s| {
            let key = s.kms_key_arn.rsplit(':').next().unwrap_or_default();
            format!("arn:aws:kms:{}:{}:{key}", r.region, meta.account_id)
        }),
        provisioned_throughput_override: r.read_units_override.map(|rcu| {
            m::ProvisionedThroughputOverride {
                read_capacity_units: Some(rcu),
            }
        }),
        on_demand_throughput_override: r.max_read_units_override.map(|max| {
            m::OnDemandThroughputOverride {
                max_read_request_units: Some(max),
            }
        }),
        global_secondary_indexes: (!gsis.is_empty()).then_some(gsis),
        replica_table_class_summary: r.table_class_override.as_ref().map(|c| {
            m::TableClassSummary {
                table_class: Some(m::TableClass::from(c.as_str())),
                last_update_date_time: None,
            }
        }),
        ..Default::default()
    }
}

// ---------------------------------------------------------------------------------------
// UpdateTable (other fields)

/// Checks an UpdateTable that does not touch replicas against the table's group: the
/// stream of a global table cannot be disabled.
pub fn check_table_update(
    current: &TableMeta,
    input: &m::UpdateTableInput,
) -> Result<(), DynamoDbError> {
    if current.replicas.len() >= 2
        && input
            .stream_specification
            .as_ref()
            .is_some_and(|s| !s.stream_enabled)
    {
        return Err(DynamoDbError::validation(MSG_STREAM_DISABLE));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// UpdateTable ReplicaUpdates

/// One validated replica action.
#[derive(Debug, Clone, PartialEq)]
enum Action {
    Create(m::CreateReplicationGroupMemberAction),
    Update(m::UpdateReplicationGroupMemberAction),
    Delete(String),
}

/// Checks the request's shape in AWS's order (before anything about the table) and
/// returns its one create/delete, or its updates.
fn parse_actions(input: &m::UpdateTableInput, local: &str) -> Result<Vec<Action>, DynamoDbError> {
    let others = [
        input.provisioned_throughput.is_some(),
        input.billing_mode.is_some(),
        input.stream_specification.is_some(),
        input.global_secondary_index_updates.is_some(),
        input.sse_specification.is_some(),
        input.deletion_protection_enabled.is_some(),
        input.on_demand_throughput.is_some(),
        input.warm_throughput.is_some(),
        input.table_class.is_some(),
        input.global_table_witness_updates.is_some(),
    ];
    if others.iter().any(|o| *o) {
        return Err(DynamoDbError::validation(MSG_ONLY_OPERATION));
    }
    if input.multi_region_consistency == Some(m::MultiRegionConsistency::Strong) {
        return Err(DynamoDbError::validation(
            "One or more parameter values were invalid: Multi-Region strong consistency is not supported by this endpoint",
        ));
    }
    let updates = input.replica_updates.as_deref().unwrap_or_default();
    let mut actions = Vec::with_capacity(updates.len());
    let mut kinds = [false; 3];
    for u in updates {
        let n = [
            u.create.is_some(),
            u.update.is_some(),
            u.delete.is_some(),
            u.disassociate.is_some(),
        ]
        .iter()
        .filter(|x| **x)
        .count();
        if n == 0 {
            return Err(DynamoDbError::validation(MSG_NO_ACTIONS));
        }
        if n > 1 {
            return Err(DynamoDbError::validation(MSG_MIXED_ACTIONS));
        }
        if u.disassociate.is_some() {
            return Err(DynamoDbError::validation(
                "One or more parameter values were invalid: Multi-account global tables are not supported by this endpoint",
            ));
        }
        if let Some(c) = &u.create {
            kinds[0] = true;
            actions.push(Action::Create(c.clone()));
        }
        if let Some(up) = &u.update {
            let any = up.kms_master_key_id.is_some()
                || up.provisioned_throughput_override.is_some()
                || up.on_demand_throughput_override.is_some()
                || up.global_secondary_indexes.is_some()
                || up.table_class_override.is_some();
            if !any {
                return Err(DynamoDbError::validation(MSG_NO_ACTIONS));
            }
            kinds[1] = true;
            actions.push(Action::Update(up.clone()));
        }
        if let Some(d) = &u.delete {
            kinds[2] = true;
            actions.push(Action::Delete(d.region_name.clone()));
        }
    }
    if kinds.iter().filter(|k| **k).count() > 1 {
        return Err(DynamoDbError::validation(MSG_MIXED_ACTIONS));
    }
    // Two identical actions for one region count once (AWS de-duplicates them).
    actions.dedup();
    let creates_or_deletes: Vec<&str> = actions
        .iter()
        .filter_map(|a| match a {
            Action::Create(c) => Some(c.region_name.as_str()),
            Action::Delete(r) => Some(r.as_str()),
            Action::Update(_) => None,
        })
        .collect();
    if creates_or_deletes.len() > 1 {
        return Err(DynamoDbError::validation(MSG_MANY_CREATE_DELETE));
    }
    for a in &actions {
        let region = match a {
            Action::Create(c) => c.region_name.as_str(),
            Action::Update(u) => u.region_name.as_str(),
            Action::Delete(r) => r.as_str(),
        };
        if !matches!(a, Action::Update(_)) && region == local {
            return Err(DynamoDbError::validation(MSG_LOCAL_REGION));
        }
        if !SUPPORTED_REGIONS.contains(&region) {
            return Err(region_unsupported(region));
        }
    }
    Ok(actions)
}

/// What a replica change did, for the response and the work after the commit.
struct Outcome {
    source: TableMeta,
    stats: Stats,
    /// Members whose metadata changed (their caches are dropped).
    touched: Vec<String>,
    jobs: Vec<[u8; 16]>,
    /// A member removed by this request (shown DELETING in the response).
    removed: Option<ReplicaMeta>,
}

/// UpdateTable with `ReplicaUpdates` (called by `tables::update_table`).
pub async fn update_replicas(
    svc: &DynamoDb,
    ctx: &RequestContext,
    name: &str,
    input: &m::UpdateTableInput,
) -> Result<m::UpdateTableOutput, DynamoDbError> {
    let actions = parse_actions(input, &ctx.region)?;
    let now_ms = svc.now_millis();
    let (account, region, name) = (ctx.account_id.clone(), ctx.region.clone(), name.to_string());
    let out = svc
        .db()
        .write(move |txn| -> Result<Outcome, DynamoDbError> {
            change_group(txn, &account, &region, &name, &actions, now_ms)
        })
        .await?;
    for r in &out.touched {
        svc.invalidate_table(&out.source.account_id, r, &out.source.name);
    }
    for id in &out.jobs {
        svc.jobs().start(*id);
    }
    let mut desc = tables::describe(&out.source, &out.stats);
    desc.table_status = Some(m::TableStatus::Updating);
    if let Some(gone) = &out.removed {
        let mut r = replica_out(&out.source, gone);
        r.replica_status = Some(m::ReplicaStatus::Deleting);
        desc.replicas.get_or_insert_with(Vec::new).push(r);
        desc.global_table_version = Some(GLOBAL_TABLE_VERSION.to_string());
    }
    Ok(m::UpdateTableOutput {
        table_description: Some(desc),
    })
}

/// The group of `source` (itself alone when it is not global yet).
fn group_of(source: &TableMeta) -> Vec<ReplicaMeta> {
    if source.replicas.is_empty() {
        vec![ReplicaMeta {
            region: source.region.clone(),
            status: "ACTIVE".into(),
            ..ReplicaMeta::default()
        }]
    } else {
        source.replicas.clone()
    }
}

/// Loads every member of `group` except `skip` (a missing member is an internal error:
/// groups are changed only in whole).
fn load_members(
    txn: &dyn ReadTxn,
    account: &str,
    name: &str,
    group: &[ReplicaMeta],
    skip: &str,
) -> Result<Vec<TableMeta>, DynamoDbError> {
    let mut out = Vec::with_capacity(group.len());
    for r in group.iter().filter(|r| r.region != skip) {
        match catalog::load_table(txn, account, &r.region, name)? {
            Some(t) => out.push(t),
            None => {
                return Err(DynamoDbError::Internal(format!(
                    "global table {name}: member in {} is missing",
                    r.region
                )))
            }
        }
    }
    Ok(out)
}

/// Writes `group` into `meta` (a group of one is no group) and saves it.
fn save_with_group(
    txn: &mut dyn WriteTxn,
    meta: &mut TableMeta,
    group: &[ReplicaMeta],
) -> Result<(), DynamoDbError> {
    meta.replicas = if group.len() >= 2 {
        group.to_vec()
    } else {
        Vec::new()
    };
    meta.version += 1;
    catalog::save_table(txn, meta)?;
    register_member(txn, meta)
}

/// Key of a member's registry entry (the replicator's list of tables to follow).
fn member_key(key_id: &[u8; 16]) -> Vec<u8> {
    let mut k = MEMBER_PREFIX.to_vec();
    k.extend_from_slice(key_id);
    k
}

/// Writes (table with replicas) or removes (plain table) `meta`'s registry entry: its
/// coordinates and the stream topic the replicator follows.
fn register_member(txn: &mut dyn WriteTxn, meta: &TableMeta) -> Result<(), DynamoDbError> {
    let key = member_key(&meta.key_id);
    match streams::current_topic(meta).filter(|_| !meta.replicas.is_empty()) {
        Some(topic) => {
            let entry = Member {
                account: meta.account_id.clone(),
                region: meta.region.clone(),
                name: meta.name.clone(),
                topic,
            };
            let bytes = serde_json::to_vec(&entry).map_err(|e| {
                DynamoDbError::Internal(format!("cannot encode a replication entry: {e}"))
            })?;
            txn.put(&key, &bytes)?;
        }
        None => txn.delete(&key)?,
    }
    Ok(())
}

fn change_group(
    txn: &mut dyn WriteTxn,
    account: &str,
    region: &str,
    name: &str,
    actions: &[Action],
    now_ms: i64,
) -> Result<Outcome, DynamoDbError> {
    let mut source = catalog::load_table(txn, account, region, name)?
        .ok_or_else(|| tables::table_not_found(name))?;
    let mut group = group_of(&source);
    if source.status != Status::Active || group.iter().any(|r| r.status != "ACTIVE") {
        return Err(DynamoDbError::ResourceInUse(MSG_IN_USE.into()));
    }
    let mut touched = vec![source.region.clone()];
    let mut jobs_out = Vec::new();
    let mut removed = None;
    let Some(first) = actions.first() else {
        return Err(DynamoDbError::validation(MSG_NO_ACTIONS));
    };
    match first {
        Action::Create(c) => {
            let target = c.region_name.as_str();
            if group.iter().any(|r| r.region == target)
                || catalog::load_table(txn, account, target, name)?.is_some()
            {
                return Err(already_exists(name));
            }
            if source.billing_mode == BillingMode::Provisioned {
                return Err(DynamoDbError::validation(MSG_NOT_AUTOSCALED));
            }
            let mut others = load_members(txn, account, name, &group, region)?;
            let entry = new_member_entry(&source, c, now_ms)?;
            // A global table streams every change; the stream is turned on if it is not.
            if !source.stream.as_ref().is_some_and(|s| s.enabled) {
                source.stream = Some(StreamMeta {
                    enabled: true,
                    view_type: "NEW_AND_OLD_IMAGES".into(),
                    label: tables::stream_label(now_ms),
                });
            }
            let mut replica = replica_table(&source, c, &entry, now_ms)?;
            group.push(entry);
            save_with_group(txn, &mut source, &group)?;
            for o in others.iter_mut() {
                save_with_group(txn, o, &group)?;
                touched.push(o.region.clone());
            }
            replica.replicas = group.clone();
            txn.put(
                &layout::table_meta_key(account, target, name),
                &replica.to_bytes()?,
            )?;
            register_member(txn, &replica)?;
            // The copy carries the source's state so far: the replicator starts after
            // the records already in the source's stream.
            if let Some(topic) = streams::current_topic(&source) {
                let next = nimbus_events::bounds(txn, &topic)?.map_or(1, |b| b.next_seq);
                if nimbus_events::cursor(txn, CONSUMER.as_bytes(), &topic)?.is_none() {
                    nimbus_events::set_cursor(txn, CONSUMER.as_bytes(), &topic, next)?;
                }
            }
            txn.put(
                &layout::table_counters_key(&replica.key_id),
                &Counters {
                    version: replica.version,
                    ..Counters::default()
                }
                .encode(),
            )?;
            touched.push(target.to_string());
            jobs_out.push(jobs::put_job(
                txn,
                &Job::ReplicaCopy {
                    account: account.to_string(),
                    name: name.to_string(),
                    source_region: source.region.clone(),
                    source_key_id: source.key_id,
                    target_region: target.to_string(),
                    target_key_id: replica.key_id,
                    cursor: None,
                },
            )?);
        }
        Action::Delete(target) => {
            let Some(pos) = group.iter().position(|r| r.region == *target) else {
                return Err(not_members(&[target.as_str()]));
            };
            check_source_hold(&group, target, now_ms)?;
            let victim = catalog::load_table(txn, account, target, name)?.ok_or_else(|| {
                DynamoDbError::Internal(format!(
                    "global table {name}: member in {target} is missing"
                ))
            })?;
            if victim.deletion_protection {
                return Err(DynamoDbError::validation(MSG_PROTECTED));
            }
            removed = Some(group.remove(pos));
            jobs_out.push(delete_member_table(txn, &victim)?);
            touched.push(target.clone());
            let mut others = load_members(txn, account, name, &group, region)?;
            save_with_group(txn, &mut source, &group)?;
            for o in others.iter_mut() {
                save_with_group(txn, o, &group)?;
                touched.push(o.region.clone());
            }
        }
        Action::Update(_) => {
            for a in actions {
                let Action::Update(u) = a else { continue };
                let Some(entry) = group.iter_mut().find(|r| r.region == u.region_name) else {
                    return Err(not_members(&[u.region_name.as_str()]));
                };
                apply_overrides(&source, entry, u)?;
            }
            let mut others = load_members(txn, account, name, &group, region)?;
            for o in others.iter_mut().chain(std::iter::once(&mut source)) {
                if let Some(class) = group
                    .iter()
                    .find(|r| r.region == o.region)
                    .and_then(|r| r.table_class_override.clone())
                {
                    if class != o.table_class {
                        o.table_class = class;
                        o.table_class_updated_ms = Some(now_ms);
                    }
                }
            }
            save_with_group(txn, &mut source, &group)?;
            for o in others.iter_mut() {
                save_with_group(txn, o, &group)?;
                touched.push(o.region.clone());
            }
        }
    }
    let stats = Stats::read(txn, &source)?;
    Ok(Outcome {
        source,
        stats,
        touched,
        jobs: jobs_out,
        removed,
    })
}

/// AWS's rule: a member that created another member less than 24 hours ago stays.
fn check_source_hold(
    group: &[ReplicaMeta],
    leaving: &str,
    now_ms: i64,
) -> Result<(), DynamoDbError> {
    let holds = group.iter().any(|r| {
        r.region != leaving
            && r.source_region.as_deref() == Some(leaving)
            && now_ms.saturating_sub(r.created_ms) < SOURCE_HOLD_MS
    });
    if holds {
        return Err(DynamoDbError::validation(MSG_SOURCE_HOLD));
    }
    Ok(())
}

fn check_override_units(v: i64) -> Result<(), DynamoDbError> {
    if v < 1 {
        return Err(DynamoDbError::Validation(format!(
            "1 validation error detected: Value '{v}' at 'replicaUpdates.1.member.provisionedThroughputOverride.readCapacityUnits' failed to satisfy constraint: Member must have value greater than or equal to 1"
        )));
    }
    Ok(())
}

/// The group entry of a new member.
fn new_member_entry(
    source: &TableMeta,
    c: &m::CreateReplicationGroupMemberAction,
    now_ms: i64,
) -> Result<ReplicaMeta, DynamoDbError> {
    let read_units_override = c
        .provisioned_throughput_override
        .as_ref()
        .and_then(|p| p.read_capacity_units);
    if let Some(v) = read_units_override {
        check_override_units(v)?;
    }
    let table_class_override = match &c.table_class_override {
        Some(class) if !class.is_known() => {
            return Err(DynamoDbError::validation(
                "Invalid table-class parameter provided. Please try again with a valid table-class value: [STANDARD, STANDARD_INFREQUENT_ACCESS].",
            ))
        }
        Some(class) => Some(class.as_str().to_string()),
        None => None,
    };
    if c.kms_master_key_id.is_some() && source.sse.is_none() {
        return Err(DynamoDbError::validation(MSG_KMS_OWNED));
    }
    Ok(ReplicaMeta {
        region: c.region_name.clone(),
        status: "CREATING".into(),
        created_ms: now_ms,
        source_region: Some(source.region.clone()),
        read_units_override,
        max_read_units_override: c
            .on_demand_throughput_override
            .as_ref()
            .and_then(|o| o.max_read_request_units),
        table_class_override,
        // Overrides of unknown indexes are accepted and ignored, as AWS does.
        index_overrides: c
            .global_secondary_indexes
            .as_deref()
            .unwrap_or_default()
            .iter()
            .filter(|g| source.index(&g.index_name).is_some())
            .map(|g| {
                (
                    g.index_name.clone(),
                    g.provisioned_throughput_override
                        .as_ref()
                        .and_then(|p| p.read_capacity_units),
                    g.on_demand_throughput_override
                        .as_ref()
                        .and_then(|o| o.max_read_request_units),
                )
            })
            .collect(),
    })
}

/// Applies a ReplicaUpdates Update to a member's group entry.
fn apply_overrides(
    source: &TableMeta,
    entry: &mut ReplicaMeta,
    u: &m::UpdateReplicationGroupMemberAction,
) -> Result<(), DynamoDbError> {
    if u.kms_master_key_id.is_some() {
        return Err(DynamoDbError::validation(MSG_KMS_UPDATE));
    }
    if let Some(p) = &u.provisioned_throughput_override {
        if source.billing_mode == BillingMode::PayPerRequest {
            return Err(DynamoDbError::validation(
                "One or more parameter values were invalid: Neither ReadCapacityUnits nor WriteCapacityUnits can be specified when BillingMode is PAY_PER_REQUEST",
            ));
        }
        if let Some(v) = p.read_capacity_units {
            check_override_units(v)?;
        }
        entry.read_units_override = p.read_capacity_units;
    }
    if let Some(o) = &u.on_demand_throughput_override {
        entry.max_read_units_override = o.max_read_request_units;
    }
    if let Some(class) = &u.table_class_override {
        if !class.is_known() {
            return Err(DynamoDbError::validation(
                "Invalid table-class parameter provided. Please try again with a valid table-class value: [STANDARD, STANDARD_INFREQUENT_ACCESS].",
            ));
        }
        entry.table_class_override = Some(class.as_str().to_string());
    }
    for g in u.global_secondary_indexes.as_deref().unwrap_or_default() {
        if source.index(&g.index_name).is_none() {
            continue;
        }
        let rcu = g
            .provisioned_throughput_override
            .as_ref()
            .and_then(|p| p.read_capacity_units);
        let max = g
            .on_demand_throughput_override
            .as_ref()
            .and_then(|o| o.max_read_request_units);
        match entry
            .index_overrides
            .iter_mut()
            .find(|(n, _, _)| *n == g.index_name)
        {
            Some(o) => {
                o.1 = rcu.or(o.1);
                o.2 = max.or(o.2);
            }
            None => entry.index_overrides.push((g.index_name.clone(), rcu, max)),
        }
    }
    Ok(())
}

/// The new member's table: the source's schema, indexes and settings (TTL included, as
/// AWS replicates it), its own id, stream and counters; regional settings (tags, PITR,
/// deletion protection) start fresh.
fn replica_table(
    source: &TableMeta,
    c: &m::CreateReplicationGroupMemberAction,
    entry: &ReplicaMeta,
    now_ms: i64,
) -> Result<TableMeta, DynamoDbError> {
    let uuid = uuid::Uuid::new_v4();
    let region = c.region_name.clone();
    let mut indexes = source.indexes.clone();
    for i in indexes.iter_mut() {
        // The copy maintains every index as it writes; there is nothing to backfill.
        i.backfilling = false;
        i.status = Status::Active;
        // Contributor Insights is a setting of each replica.
        i.insights = None;
    }
    let sse = source.sse.as_ref().map(|_| SseMeta {
        kms_key_arn: tables::kms_key_arn(
            &region,
            &source.account_id,
            c.kms_master_key_id.as_deref(),
        ),
    });
    let stream = source.stream.as_ref().map(|s| StreamMeta {
        enabled: true,
        view_type: s.view_type.clone(),
        label: tables::stream_label(now_ms),
    });
    Ok(TableMeta {
        table_id: uuid.to_string(),
        key_id: *uuid.as_bytes(),
        region,
        indexes,
        stream,
        sse,
        table_class: entry
            .table_class_override
            .clone()
            .unwrap_or_else(|| source.table_class.clone()),
        table_class_updated_ms: entry.table_class_override.as_ref().map(|_| now_ms),
        deletion_protection: false,
        tags: Vec::new(),
        pitr: None,
        // Each replica has its own Contributor Insights and resource-based policies.
        insights: None,
        policy: None,
        stream_policies: Vec::new(),
        created_ms: now_ms,
        status: Status::Creating,
        version: 1,
        ..source.clone()
    })
}

/// Deletes a member's table inside the caller's transaction (metadata and counters now,
/// data by a purge job, stamps included); returns the job to start after the commit.
fn delete_member_table(
    txn: &mut dyn WriteTxn,
    meta: &TableMeta,
) -> Result<[u8; 16], DynamoDbError> {
    txn.delete(&layout::table_meta_key(
        &meta.account_id,
        &meta.region,
        &meta.name,
    ))?;
    txn.delete(&layout::table_counters_key(&meta.key_id))?;
    for i in &meta.indexes {
        txn.delete(&layout::index_counters_key(&meta.key_id, i.index_id))?;
    }
    txn.delete(&member_key(&meta.key_id))?;
    jobs::put_job(
        txn,
        &Job::Purge {
            prefixes: vec![
                layout::item_prefix(&meta.key_id),
                layout::table_index_prefix(&meta.key_id),
                table_stamp_prefix(&meta.key_id),
            ],
        },
    )
}

// ---------------------------------------------------------------------------------------
// DeleteTable

/// What DeleteTable of a member must also do.
#[derive(Debug, Default)]
pub struct LeaveGroup {
    /// More prefixes for the purge job (the member's stamps).
    pub purge_prefixes: Vec<Vec<u8>>,
    /// Regions whose member metadata changed (drop their cache entries).
    pub regions: Vec<String>,
}

/// DeleteTable of a table with replicas, inside its transaction: AWS's 24-hour source
/// rule, then the other members forget it (a group of one is a plain table again).
pub fn on_delete_table(
    txn: &mut dyn WriteTxn,
    meta: &TableMeta,
    now_ms: i64,
) -> Result<LeaveGroup, DynamoDbError> {
    if meta.replicas.is_empty() {
        return Ok(LeaveGroup::default());
    }
    check_source_hold(&meta.replicas, &meta.region, now_ms)?;
    txn.delete(&member_key(&meta.key_id))?;
    let group: Vec<ReplicaMeta> = meta
        .replicas
        .iter()
        .filter(|r| r.region != meta.region)
        .cloned()
        .collect();
    let mut out = LeaveGroup {
        purge_prefixes: vec![table_stamp_prefix(&meta.key_id)],
        regions: Vec::new(),
    };
    for r in &group {
        // A member already gone (deleted in its own region meanwhile) is skipped.
        if let Some(mut other) = catalog::load_table(txn, &meta.account_id, &r.region, &meta.name)?
        {
            save_with_group(txn, &mut other, &group)?;
            out.regions.push(r.region.clone());
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------
// Copying existing items into a new replica (a background job, see `jobs`)

/// One bounded step of copying `source`'s items into the new member `target`. Returns
/// the cursor to continue from, or `None` when finished (the member is then ACTIVE in
/// every member's group).
#[allow(clippy::too_many_arguments)]
pub fn copy_step(
    txn: &mut dyn WriteTxn,
    account: &str,
    name: &str,
    source_region: &str,
    source_key_id: &[u8; 16],
    target_region: &str,
    target_key_id: &[u8; 16],
    cursor: Option<Vec<u8>>,
    now_ms: i64,
) -> Result<Option<Vec<u8>>, DynamoDbError> {
    let source = catalog::load_table(txn, account, source_region, name)?
        .filter(|t| t.key_id == *source_key_id);
    let target = catalog::load_table(txn, account, target_region, name)?
        .filter(|t| t.key_id == *target_key_id);
    let (Some(source), Some(target)) = (source, target) else {
        // Either side was deleted meanwhile: nothing left to copy.
        return Ok(None);
    };
    let prefix = layout::item_prefix(&source.key_id);
    let (lo, hi) = layout::prefix_range(&prefix);
    let start = match &cursor {
        Some(c) => std::ops::Bound::Excluded(c.clone()),
        None => lo,
    };
    let page = txn.range(
        layout::bound_ref(&start),
        layout::bound_ref(&hi),
        false,
        COPY_STEP_ITEMS,
    )?;
    let mut bytes = 0usize;
    let mut last = None;
    let n = page.len();
    for (k, v) in page {
        bytes += k.len() + v.len();
        let item = layout::decode_item(&v)?;
        let key = write::key_of_item(&source, &item)?;
        apply_member_state(txn, &source, &target, &key, now_ms, false)?;
        last = Some(k);
        if bytes >= COPY_STEP_BYTES {
            break;
        }
    }
    if n == COPY_STEP_ITEMS || bytes >= COPY_STEP_BYTES {
        if let Some(k) = last {
            return Ok(Some(k));
        }
    }
    finish_copy(txn, &target)?;
    Ok(None)
}

/// Marks a copied member ACTIVE (its table and its entry in every member's group).
fn finish_copy(txn: &mut dyn WriteTxn, target: &TableMeta) -> Result<(), DynamoDbError> {
    let mut group = target.replicas.clone();
    for r in group.iter_mut().filter(|r| r.region == target.region) {
        r.status = "ACTIVE".into();
    }
    let mut members = load_members(txn, &target.account_id, &target.name, &group, "")?;
    for mut meta in members.drain(..) {
        if meta.region == target.region {
            meta.status = Status::Active;
        }
        save_with_group(txn, &mut meta, &group)?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// The replicator: an event-bus consumer over the stream topics of every member

/// A member's registry entry.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct Member {
    account: String,
    region: String,
    name: String,
    topic: Vec<u8>,
}

/// What the replicator has done since the process started (the lag itself is the bus's
/// `lag_ms` of the `ddb-replicator` consumer).
#[derive(Debug, Default)]
pub struct ReplicatorStats {
    /// Item states written into another member.
    pub applied: std::sync::atomic::AtomicU64,
    /// States skipped because the target held the same or a newer one.
    pub skipped: std::sync::atomic::AtomicU64,
    /// Time from the original write to its application, for the last one applied.
    pub last_lag_ms: std::sync::atomic::AtomicI64,
    /// Largest such lag seen.
    pub max_lag_ms: std::sync::atomic::AtomicI64,
}

impl ReplicatorStats {
    pub fn to_json(&self) -> serde_json::Value {
        use std::sync::atomic::Ordering::Relaxed;
        serde_json::json!({
            "applied": self.applied.load(Relaxed),
            "skipped": self.skipped.load(Relaxed),
            "last_lag_ms": self.last_lag_ms.load(Relaxed),
            "max_lag_ms": self.max_lag_ms.load(Relaxed),
        })
    }
}

/// The topics of every member (read on each pass of the bus; a bounded range read).
fn followed_topics(svc: &DynamoDb) -> Vec<Vec<u8>> {
    let read = || -> Result<Vec<Vec<u8>>, DynamoDbError> {
        let snap = svc.db().snapshot()?;
        let (lo, hi) = layout::prefix_range(MEMBER_PREFIX);
        let page = snap.range(
            layout::bound_ref(&lo),
            layout::bound_ref(&hi),
            false,
            MAX_FOLLOWED,
        )?;
        Ok(page
            .iter()
            .filter_map(|(_, v)| serde_json::from_slice::<Member>(v).ok())
            .map(|m| m.topic)
            .collect())
    };
    read().unwrap_or_else(|e| {
        tracing::warn!(error = %e, "replicator cannot list global tables");
        Vec::new()
    })
}

/// The table id in a stream topic (`ddbstream/<32 hex>/<label>`).
fn topic_key_id(topic: &[u8]) -> Option<[u8; 16]> {
    let hex = topic.strip_prefix(streams::TOPIC_PREFIX)?.get(..32)?;
    let mut out = [0u8; 16];
    for (i, pair) in hex.chunks(2).enumerate() {
        let s = std::str::from_utf8(pair).ok()?;
        *out.get_mut(i)? = u8::from_str_radix(s, 16).ok()?;
    }
    Some(out)
}

/// What one batch did.
#[derive(Debug, Default, Clone, Copy)]
struct BatchResult {
    applied: u64,
    skipped: u64,
    max_lag_ms: i64,
}

/// One change a member made, as its stream record tells it.
#[derive(Debug, Clone)]
struct Change {
    keys: Item,
    /// The item after the change (`None`: deleted).
    new_image: Option<Item>,
    at_ms: i64,
}

/// Applies one batch of a member's changes to every other member, in one transaction.
///
/// Every change is replayed in order, so the targets' streams show each one as AWS's
/// do; but only the last change of an item that is still the member's current state is
/// applied with the member's exact stamp (read from the store): that is the state the
/// members converge on. Earlier changes are applied on the way only where that final
/// state will win, and carry no stamp.
fn replicate_batch(
    txn: &mut dyn WriteTxn,
    key_id: &[u8; 16],
    changes: &[Change],
    now_ms: i64,
) -> Result<BatchResult, DynamoDbError> {
    let mut out = BatchResult::default();
    let Some(raw) = txn.get(&member_key(key_id))? else {
        // No longer a member (its replicas were removed): nothing to forward.
        return Ok(out);
    };
    let member: Member = serde_json::from_slice(&raw)
        .map_err(|e| DynamoDbError::Internal(format!("replication entry is corrupt: {e}")))?;
    let Some(source) = catalog::load_table(txn, &member.account, &member.region, &member.name)?
        .filter(|t| t.key_id == *key_id)
    else {
        return Ok(out);
    };
    let mut targets = Vec::with_capacity(source.replicas.len());
    for r in source.replicas.iter().filter(|r| r.region != source.region) {
        if let Some(t) = catalog::load_table(txn, &source.account_id, &r.region, &source.name)? {
            targets.push(t);
        }
    }
    let mut keys = Vec::with_capacity(changes.len());
    for c in changes {
        let key = write::key_from_map(&source, &c.keys)?;
        let skey = key.store_key(&source)?;
        keys.push((key, skey));
    }
    for (i, (c, (key, skey))) in changes.iter().zip(&keys).enumerate() {
        let last = !keys.iter().skip(i + 1).any(|(_, k)| k == skey);
        let current = write::read_item(txn, &source, key)?;
        let stamp = read_stamp(txn, skey)?.unwrap_or_else(|| Stamp {
            written_ms: 0,
            region: source.region.clone(),
            deleted: current.is_none(),
        });
        // The member's current state, when this change made it and nothing since did.
        let is_final = last && stamp.region == source.region && current == c.new_image;
        for t in &targets {
            let tkey = key.store_key(t)?;
            if !stamp.beats(read_stamp(txn, &tkey)?.as_ref()) {
                out.skipped += 1;
                continue;
            }
            if is_final {
                if let Applied::Changed { lag_ms } =
                    apply_member_state(txn, &source, t, key, now_ms, true)?
                {
                    out.applied += 1;
                    out.max_lag_ms = out.max_lag_ms.max(lag_ms);
                }
                continue;
            }
            let old = write::read_item(txn, t, key)?;
            let cx = ChangeCtx {
                now_ms,
                origin: ChangeOrigin::Replication {
                    from_region: source.region.clone(),
                    written_ms: c.at_ms,
                },
            };
            write::apply_item_change(txn, t, old.as_ref(), c.new_image.as_ref(), &cx)?;
            out.applied += 1;
            out.max_lag_ms = out.max_lag_ms.max(now_ms.saturating_sub(c.at_ms).max(0));
        }
    }
    Ok(out)
}

/// Handles one batch of a topic for the bus.
async fn handle(
    svc: DynamoDb,
    stats: std::sync::Arc<ReplicatorStats>,
    records: Vec<nimbus_events::Record>,
) -> Result<(), String> {
    use std::sync::atomic::Ordering::Relaxed;
    let Some(key_id) = records.first().and_then(|r| topic_key_id(&r.topic)) else {
        return Ok(());
    };
    let mut changes = Vec::with_capacity(records.len());
    for r in &records {
        let rec = StoredRecord::decode(&r.payload).map_err(|e| e.to_string())?;
        // The replicator's own writes are not sent on (no loops).
        if matches!(rec.origin, ChangeOrigin::Replication { .. }) {
            continue;
        }
        changes.push(Change {
            keys: rec.keys,
            new_image: rec.new_image,
            at_ms: r.at_ms,
        });
    }
    if changes.is_empty() {
        return Ok(());
    }
    let now_ms = svc.now_millis();
    let changes = std::sync::Arc::new(changes);
    let result = svc
        .db()
        .write(move |txn| -> Result<BatchResult, DynamoDbError> {
            replicate_batch(txn, &key_id, &changes, now_ms)
        })
        .await
        .map_err(|e| e.to_string())?;
    if result.applied > 0 {
        // The targets' streams got records.
        svc.notify_bus();
        stats.last_lag_ms.store(result.max_lag_ms, Relaxed);
        stats.max_lag_ms.fetch_max(result.max_lag_ms, Relaxed);
    }
    stats.applied.fetch_add(result.applied, Relaxed);
    stats.skipped.fetch_add(result.skipped, Relaxed);
    Ok(())
}

/// Registers the replicator on the service's bus (called once by `start_background`).
pub fn start_replicator(svc: &DynamoDb) -> std::sync::Arc<ReplicatorStats> {
    let stats = std::sync::Arc::new(ReplicatorStats::default());
    let (for_topics, for_handler, stats_h) = (svc.clone(), svc.clone(), stats.clone());
    let consumer = nimbus_events::Consumer::new(
        CONSUMER,
        move || followed_topics(&for_topics),
        move |records| handle(for_handler.clone(), stats_h.clone(), records),
    );
    if let Err(e) = svc.bus().register(consumer) {
        tracing::warn!(error = %e, "global table replicator not started");
    }
    stats
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn stamp(ms: i64, region: &str) -> Stamp {
        Stamp {
            written_ms: ms,
            region: region.into(),
            deleted: false,
        }
    }

    #[test]
    fn later_write_wins_and_ties_go_to_the_greater_region() {
        assert!(stamp(10, "eu-west-1").beats(None));
        assert!(stamp(11, "eu-west-1").beats(Some(&stamp(10, "us-east-1"))));
        assert!(!stamp(10, "eu-west-1").beats(Some(&stamp(11, "eu-west-1"))));
        // Same millisecond: the region name decides, the same way on both sides.
        assert!(stamp(10, "us-east-1").beats(Some(&stamp(10, "eu-west-1"))));
        assert!(!stamp(10, "eu-west-1").beats(Some(&stamp(10, "us-east-1"))));
        // Equal stamps never re-apply (replays are harmless).
        assert!(!stamp(10, "us-east-1").beats(Some(&stamp(10, "us-east-1"))));
        // A tombstone orders like any write.
        let mut del = stamp(12, "eu-west-1");
        del.deleted = true;
        assert!(del.beats(Some(&stamp(11, "us-east-1"))));
        assert!(!stamp(11, "us-east-1").beats(Some(&del)));
    }

    #[test]
    fn local_writes_always_beat_what_they_overwrite() {
        // The clock stands still (or was behind): the stamp moves past the previous one.
        let prev = stamp(100, "us-east-1");
        let s = local_stamp(100, "eu-west-1", Some(&prev), false);
        assert_eq!(s.written_ms, 101);
        assert!(s.beats(Some(&prev)));
        let s = local_stamp(50, "eu-west-1", Some(&prev), true);
        assert_eq!(s.written_ms, 101);
        assert!(s.deleted);
        assert_eq!(
            local_stamp(500, "eu-west-1", Some(&prev), false).written_ms,
            500
        );
        assert_eq!(local_stamp(7, "eu-west-1", None, false).written_ms, 7);
    }

    #[test]
    fn stamps_round_trip_and_reject_garbage() {
        let mut s = stamp(-5, "ap-southeast-2");
        s.deleted = true;
        assert_eq!(Stamp::decode(&s.encode()).unwrap(), s);
        assert!(Stamp::decode(&[]).is_err());
        assert!(Stamp::decode(&[2, 0, 0, 0, 0, 0, 0, 0, 0, 0]).is_err());
        assert!(Stamp::decode(&[1, 0, 0]).is_err());
    }

    #[test]
    fn stamp_keys_follow_item_keys() {
        let tid = [7u8; 16];
        let ik = layout::item_key(&tid, &crate::value::Value::S("k".into()), None).unwrap();
        let sk = stamp_key(&ik);
        assert!(sk.starts_with(&table_stamp_prefix(&tid)));
        assert_eq!(&sk[STAMP_PREFIX.len()..], &ik[layout::ITEM_PREFIX.len()..]);
    }

    fn upd(list: Vec<m::ReplicationGroupUpdate>) -> m::UpdateTableInput {
        m::UpdateTableInput {
            table_name: "t".into(),
            replica_updates: Some(list),
            ..Default::default()
        }
    }

    fn create(region: &str) -> m::ReplicationGroupUpdate {
        m::ReplicationGroupUpdate {
            create: Some(m::CreateReplicationGroupMemberAction {
                region_name: region.into(),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn delete(region: &str) -> m::ReplicationGroupUpdate {
        m::ReplicationGroupUpdate {
            delete: Some(m::DeleteReplicationGroupMemberAction {
                region_name: region.into(),
            }),
            ..Default::default()
        }
    }

    fn err(input: m::UpdateTableInput) -> String {
        parse_actions(&input, "us-east-1").unwrap_err().to_string()
    }

    #[test]
    fn replica_update_validation() {
        let mut x = upd(vec![create("eu-west-1")]);
        x.deletion_protection_enabled = Some(true);
        assert_eq!(err(x), MSG_ONLY_OPERATION);
        let mut x = upd(vec![create("eu-west-1")]);
        x.stream_specification = Some(m::StreamSpecification {
            stream_enabled: true,
            stream_view_type: Some(m::StreamViewType::NewAndOldImages),
        });
        assert_eq!(err(x), MSG_ONLY_OPERATION);
        assert_eq!(
            err(upd(vec![m::ReplicationGroupUpdate::default()])),
            MSG_NO_ACTIONS
        );
        let mut both = create("eu-west-1");
        both.delete = delete("eu-west-1").delete;
        assert_eq!(err(upd(vec![both])), MSG_MIXED_ACTIONS);
        assert_eq!(
            err(upd(vec![create("eu-west-1"), delete("eu-west-2")])),
            MSG_MIXED_ACTIONS
        );
        assert_eq!(
            err(upd(vec![create("eu-west-1"), create("eu-west-2")])),
            MSG_MANY_CREATE_DELETE
        );
        assert_eq!(
            err(upd(vec![delete("eu-west-1"), delete("eu-west-2")])),
            MSG_MANY_CREATE_DELETE
        );
        // Two identical creates are one.
        assert_eq!(
            parse_actions(
                &upd(vec![create("eu-west-1"), create("eu-west-1")]),
                "us-east-1"
            )
            .unwrap()
            .len(),
            1
        );
        assert_eq!(err(upd(vec![create("us-east-1")])), MSG_LOCAL_REGION);
        assert_eq!(err(upd(vec![delete("us-east-1")])), MSG_LOCAL_REGION);
        assert!(err(upd(vec![create("us-fake-1")]))
            .starts_with("Region us-fake-1 is not supported. The latest version of global tables are only supported in the following regions: ["));
        assert!(
            err(upd(vec![create("EU-WEST-1")])).starts_with("Region EU-WEST-1 is not supported.")
        );
        let only_region = m::ReplicationGroupUpdate {
            update: Some(m::UpdateReplicationGroupMemberAction {
                region_name: "eu-west-1".into(),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(err(upd(vec![only_region])), MSG_NO_ACTIONS);
        assert!(parse_actions(&upd(vec![create("eu-west-1")]), "us-east-1").is_ok());
    }

    #[test]
    fn source_hold_lasts_a_day() {
        let group = vec![
            ReplicaMeta {
                region: "us-east-1".into(),
                status: "ACTIVE".into(),
                ..Default::default()
            },
            ReplicaMeta {
                region: "eu-west-1".into(),
                status: "ACTIVE".into(),
                created_ms: 1_000,
                source_region: Some("us-east-1".into()),
                ..Default::default()
            },
        ];
        assert_eq!(
            check_source_hold(&group, "us-east-1", 1_000 + SOURCE_HOLD_MS - 1)
                .unwrap_err()
                .to_string(),
            MSG_SOURCE_HOLD
        );
        assert!(check_source_hold(&group, "us-east-1", 1_000 + SOURCE_HOLD_MS).is_ok());
        // The replica itself created nothing: it may go at once.
        assert!(check_source_hold(&group, "eu-west-1", 1_000).is_ok());
    }

    // --- through the service -------------------------------------------------------

    use crate::ops::tables::tests::{ctx, simple};
    use crate::value::Value;
    use nimbus_core::ManualClock;
    use nimbus_store::Db;
    use std::sync::Arc;

    fn ctx_in(region: &str) -> RequestContext {
        let mut c = ctx();
        c.region = region.into();
        c
    }

    fn item(pk: &str, v: &str) -> Item {
        let mut i = Item::new();
        i.insert("pk".into(), Value::s(pk));
        i.insert("sk".into(), Value::n("1").unwrap());
        i.insert("v".into(), Value::s(v));
        i
    }

    /// A user write (put or delete) in `region` at the clock's time.
    fn write_in(s: &DynamoDb, region: &str, key: &str, value: Option<&str>, now_ms: i64) {
        let meta = s.table(&ctx_in(region), "g").unwrap();
        let new = value.map(|v| item(key, v));
        let k = item(key, "");
        s.db()
            .write_blocking(move |txn| -> Result<(), DynamoDbError> {
                let pk = write::key_of_item(&meta, &k)?;
                let old = write::read_item(txn, &meta, &pk)?;
                write::apply_item_change(
                    txn,
                    &meta,
                    old.as_ref(),
                    new.as_ref(),
                    &ChangeCtx::user(now_ms),
                )
            })
            .unwrap();
    }

    fn read_in(s: &DynamoDb, region: &str, key: &str) -> Option<String> {
        let meta = s.table(&ctx_in(region), "g").unwrap();
        let snap = s.db().snapshot().unwrap();
        let pk = write::key_of_item(&meta, &item(key, "")).unwrap();
        write::read_item(snap.as_ref(), &meta, &pk)
            .unwrap()
            .map(|i| match i.get("v") {
                Some(Value::S(v)) => v.clone(),
                _ => String::new(),
            })
    }

    /// Runs the replicator's batch for `key` written in `region`.
    fn replicate(s: &DynamoDb, region: &str, key: &str, now_ms: i64) -> BatchResult {
        let meta = s.table(&ctx_in(region), "g").unwrap();
        let mut k = Item::new();
        k.insert("pk".into(), Value::s(key));
        k.insert("sk".into(), Value::n("1").unwrap());
        // As the item's latest stream record would say.
        let snap = s.db().snapshot().unwrap();
        let pk = write::key_of_item(&meta, &k).unwrap();
        let new_image = write::read_item(snap.as_ref(), &meta, &pk).unwrap();
        let changes = vec![Change {
            keys: k,
            new_image,
            at_ms: now_ms,
        }];
        s.db()
            .write_blocking(move |txn| replicate_batch(txn, &meta.key_id, &changes, now_ms))
            .unwrap()
    }

    #[tokio::test]
    async fn create_copy_replicate_and_resolve_conflicts() {
        let clock = Arc::new(ManualClock::new(1_000_000));
        let s = DynamoDb::new(Db::in_memory(), clock.clone());
        tables::create_table(&s, &ctx(), simple("g")).await.unwrap();
        write_in(&s, "us-east-1", "old", Some("before"), 1_000_000);

        let input = m::UpdateTableInput {
            table_name: "g".into(),
            replica_updates: Some(vec![create("eu-west-1")]),
            ..Default::default()
        };
        let out = update_replicas(&s, &ctx(), "g", &input).await.unwrap();
        let desc = out.table_description.unwrap();
        assert_eq!(
            desc.global_table_version.as_deref(),
            Some(GLOBAL_TABLE_VERSION)
        );
        assert!(s.wait_for_background_jobs(10_000).await);

        let east = s.table(&ctx(), "g").unwrap();
        let west = s.table(&ctx_in("eu-west-1"), "g").unwrap();
        assert_eq!(west.status, Status::Active);
        assert_ne!(west.key_id, east.key_id);
        assert_eq!(west.key, east.key);
        assert!(east
            .stream
            .as_ref()
            .is_some_and(|st| st.enabled && st.view_type == "NEW_AND_OLD_IMAGES"));
        let regions: Vec<(&str, &str)> = east
            .replicas
            .iter()
            .map(|r| (r.region.as_str(), r.status.as_str()))
            .collect();
        assert_eq!(
            regions,
            vec![("us-east-1", "ACTIVE"), ("eu-west-1", "ACTIVE")]
        );
        assert_eq!(west.replicas, east.replicas);
        // Each region describes the other.
        let d = replicas_out(&west).unwrap();
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].region_name.as_deref(), Some("us-east-1"));
        // The item that existed before was copied.
        assert_eq!(read_in(&s, "eu-west-1", "old").as_deref(), Some("before"));

        // A write in the source reaches the replica; replaying it changes nothing.
        write_in(&s, "us-east-1", "a", Some("east"), 1_000_100);
        let r = replicate(&s, "us-east-1", "a", 1_000_150);
        assert_eq!((r.applied, r.max_lag_ms), (1, 50));
        assert_eq!(read_in(&s, "eu-west-1", "a").as_deref(), Some("east"));
        assert_eq!(replicate(&s, "us-east-1", "a", 1_000_160).applied, 0);
        // The replica's copy is not sent back (its stamp names us-east-1).
        let back = replicate(&s, "eu-west-1", "a", 1_000_170);
        assert_eq!((back.applied, back.skipped), (0, 1));

        // Conflict: both regions write "c" before either is replicated; the later wins.
        write_in(&s, "eu-west-1", "c", Some("west-early"), 1_000_200);
        write_in(&s, "us-east-1", "c", Some("east-late"), 1_000_300);
        replicate(&s, "eu-west-1", "c", 1_000_400);
        replicate(&s, "us-east-1", "c", 1_000_400);
        assert_eq!(read_in(&s, "us-east-1", "c").as_deref(), Some("east-late"));
        assert_eq!(read_in(&s, "eu-west-1", "c").as_deref(), Some("east-late"));

        // Same millisecond: the greater region name (us-east-1) wins on both sides.
        write_in(&s, "eu-west-1", "t", Some("west"), 1_000_500);
        write_in(&s, "us-east-1", "t", Some("east"), 1_000_500);
        replicate(&s, "us-east-1", "t", 1_000_600);
        replicate(&s, "eu-west-1", "t", 1_000_600);
        assert_eq!(read_in(&s, "us-east-1", "t").as_deref(), Some("east"));
        assert_eq!(read_in(&s, "eu-west-1", "t").as_deref(), Some("east"));

        // A delete is replicated, and an older write arriving later does not resurrect.
        write_in(&s, "eu-west-1", "d", Some("west-old"), 1_000_700);
        write_in(&s, "us-east-1", "d", Some("east"), 1_000_800);
        write_in(&s, "us-east-1", "d", None, 1_000_800);
        replicate(&s, "us-east-1", "d", 1_000_900);
        replicate(&s, "eu-west-1", "d", 1_000_900);
        assert_eq!(read_in(&s, "us-east-1", "d"), None);
        assert_eq!(read_in(&s, "eu-west-1", "d"), None);

        // A batch of several changes to one item replays each one on the replica.
        write_in(&s, "us-east-1", "m", Some("one"), 1_001_000);
        write_in(&s, "us-east-1", "m", Some("two"), 1_001_001);
        let mut k = Item::new();
        k.insert("pk".into(), Value::s("m"));
        k.insert("sk".into(), Value::n("1").unwrap());
        let changes = vec![
            Change {
                keys: k.clone(),
                new_image: Some(item("m", "one")),
                at_ms: 1_001_000,
            },
            Change {
                keys: k,
                new_image: Some(item("m", "two")),
                at_ms: 1_001_001,
            },
        ];
        let key_id = east.key_id;
        let r = s
            .db()
            .write_blocking(move |txn| replicate_batch(txn, &key_id, &changes, 1_001_010))
            .unwrap();
        assert_eq!(r.applied, 2);
        assert_eq!(read_in(&s, "eu-west-1", "m").as_deref(), Some("two"));
        // The final state carries the source's stamp: replaying the batch is a no-op.
        assert_eq!(replicate(&s, "us-east-1", "m", 1_001_020).applied, 0);

        // DeleteTable of the source within 24 hours is refused; the replica may go.
        let del = tables::delete_table(
            &s,
            &ctx(),
            m::DeleteTableInput {
                table_name: "g".into(),
            },
        )
        .await
        .unwrap_err();
        assert_eq!(del.to_string(), MSG_SOURCE_HOLD);
        let input = m::UpdateTableInput {
            table_name: "g".into(),
            replica_updates: Some(vec![delete("eu-west-1")]),
            ..Default::default()
        };
        update_replicas(&s, &ctx(), "g", &input).await.unwrap();
        assert!(s.wait_for_background_jobs(10_000).await);
        assert!(s.find_table(&ctx_in("eu-west-1"), "g").unwrap().is_none());
        let east = s.table(&ctx(), "g").unwrap();
        assert!(east.replicas.is_empty());
        assert!(replicas_out(&east).is_none());
        // The replica's data, stamps and registry entry are gone.
        let snap = s.db().snapshot().unwrap();
        for prefix in [
            layout::item_prefix(&west.key_id),
            table_stamp_prefix(&west.key_id),
            member_key(&west.key_id),
            member_key(&east.key_id),
        ] {
            let (lo, hi) = layout::prefix_range(&prefix);
            let left = snap
                .range(layout::bound_ref(&lo), layout::bound_ref(&hi), false, 10)
                .unwrap();
            assert!(left.is_empty(), "keys left under {prefix:?}");
        }
    }

    #[test]
    fn topics_name_their_table() {
        let tid = [0xab; 16];
        let topic = streams::stream_topic(&tid, "2026-01-01T00:00:00.000");
        assert_eq!(topic_key_id(&topic), Some(tid));
        assert_eq!(topic_key_id(b"ddbstream/zz"), None);
        assert_eq!(
            topic_key_id(b"other/abababababababababababababababab/x"),
            None
        );
    }
}
