//! CreateTable, DescribeTable, ListTables, UpdateTable, DeleteTable.
//!
//! Tables become ACTIVE at once: CreateTable answers `CREATING` as AWS does, and the next
//! DescribeTable shows `ACTIVE`, so waiters pass immediately. Work that can be large runs
//! as background jobs (see `jobs`): purging a deleted table's items and backfilling a GSI
//! that UpdateTable creates (the index shows `CREATING` + `Backfilling` until done).

use std::ops::Bound;
use std::sync::Arc;

use nimbus_core::RequestContext;
use nimbus_model::dynamodb as m;
use nimbus_store::{ReadTxn, WriteTxn};

use crate::error::DynamoDbError;
use crate::keycodec::KeyType;
use crate::ops::catalog::{
    self, BillingMode, IndexKind, IndexMeta, KeyAttr, KeySchema, OnDemandLimits, Projection,
    SseMeta, Status, StreamMeta, TableMeta, Throughput,
};
use crate::ops::jobs::{self, Job};
use crate::ops::layout::{self, Counters};
use crate::ops::params;
use crate::ops::policies;
use crate::ops::replication;
use crate::ops::streams;
use crate::ops::tags;
use crate::ops::write::read_counters;
use crate::ops::DynamoDb;

/// Most local secondary indexes per table.
pub const MAX_LSI: usize = 5;
/// Most global secondary indexes per table.
pub const MAX_GSI: usize = 20;
/// Largest capacity-unit value AWS accepts in a request.
const MAX_CAPACITY_UNITS: i64 = 1_000_000_000_000;

fn invalid(msg: impl std::fmt::Display) -> DynamoDbError {
    DynamoDbError::Validation(format!("One or more parameter values were invalid: {msg}"))
}

/// The control-plane "no such table" error.
pub fn table_not_found(name: &str) -> DynamoDbError {
    DynamoDbError::ResourceNotFound(format!(
        "Requested resource not found: Table: {name} not found"
    ))
}

fn list_display<S: AsRef<str>>(items: &[S]) -> String {
    let inner: Vec<&str> = items.iter().map(AsRef::as_ref).collect();
    format!("[{}]", inner.join(", "))
}

fn null_member(field: &str) -> DynamoDbError {
    DynamoDbError::Validation(format!(
        "1 validation error detected: Value null at '{field}' failed to satisfy constraint: Member must not be null"
    ))
}

/// `2026-11-26T16:00:00.000`: a stream label from the clock.
pub fn stream_label(now_ms: i64) -> String {
    let iso = nimbus_model::runtime::time::format_iso8601(now_ms as f64 / 1000.0);
    let base = iso.trim_end_matches('Z');
    if base.contains('.') {
        base.to_string()
    } else {
        format!("{base}.000")
    }
}

fn secs(ms: i64) -> f64 {
    ms as f64 / 1000.0
}

// ---------------------------------------------------------------------------------------
// Parsing of the request shapes shared by CreateTable and UpdateTable

fn key_type_of(def: &m::AttributeDefinition) -> Result<KeyType, DynamoDbError> {
    KeyType::parse(def.attribute_type.as_str()).ok_or_else(|| {
        DynamoDbError::Validation(format!(
            "1 validation error detected: Value '{}' at 'attributeDefinitions.member.attributeType' failed to satisfy constraint: Member must satisfy enum value set: [B, N, S]",
            def.attribute_type.as_str()
        ))
    })
}

/// The checks AWS makes on any key schema (table or index), given the definitions.
fn check_key_elements(
    elems: &[m::KeySchemaElement],
    defs: &[m::AttributeDefinition],
) -> Result<(), DynamoDbError> {
    let keys: Vec<&str> = elems.iter().map(|e| e.attribute_name.as_str()).collect();
    if keys
        .iter()
        .any(|k| !defs.iter().any(|d| d.attribute_name == *k))
    {
        let dnames: Vec<&str> = defs.iter().map(|d| d.attribute_name.as_str()).collect();
        return Err(invalid(format!(
            "Some index key attributes are not defined in AttributeDefinitions. Keys: {}, AttributeDefinitions: {}",
            list_display(&keys),
            list_display(&dnames)
        )));
    }
    if keys.len() == 2 && keys[0] == keys[1] {
        return Err(DynamoDbError::validation(
            "Both the Hash Key and the Range Key element in the KeySchema have the same name",
        ));
    }
    if elems.first().map(|e| &e.key_type) != Some(&m::KeyType::Hash) {
        return Err(DynamoDbError::validation(
            "Invalid KeySchema: The first KeySchemaElement is not a HASH key type",
        ));
    }
    if let Some(second) = elems.get(1) {
        if second.key_type != m::KeyType::Range {
            return Err(DynamoDbError::validation(
                "Invalid KeySchema: The second KeySchemaElement is not a RANGE key type",
            ));
        }
    }
    Ok(())
}

/// A checked key schema with the types from the definitions.
fn to_schema(
    elems: &[m::KeySchemaElement],
    defs: &[m::AttributeDefinition],
) -> Result<KeySchema, DynamoDbError> {
    let attr = |name: &str| -> Result<KeyAttr, DynamoDbError> {
        let def = defs
            .iter()
            .find(|d| d.attribute_name == name)
            .ok_or_else(|| DynamoDbError::Internal("key attribute without definition".into()))?;
        Ok(KeyAttr {
            name: name.to_string(),
            ty: key_type_of(def)?,
        })
    };
    let hash = elems
        .first()
        .ok_or_else(|| null_member("keySchema"))
        .and_then(|e| attr(&e.attribute_name))?;
    let range = match elems.get(1) {
        Some(e) => Some(attr(&e.attribute_name)?),
        None => None,
    };
    Ok(KeySchema { hash, range })
}

fn parse_projection(p: &m::Projection) -> Result<Projection, DynamoDbError> {
    let Some(ty) = &p.projection_type else {
        return Err(invalid("Unknown ProjectionType: null"));
    };
    match (ty, &p.non_key_attributes) {
        (m::ProjectionType::Include, None) => Err(invalid(
            "ProjectionType is INCLUDE, but NonKeyAttributes is not specified",
        )),
        (m::ProjectionType::Include, Some(attrs)) => {
            for (i, a) in attrs.iter().enumerate() {
                if attrs[..i].contains(a) {
                    return Err(invalid(format!(
                        "Duplicate element in NonKeyAttributes: {a}"
                    )));
                }
            }
            Ok(Projection::Include(attrs.clone()))
        }
        (other, Some(_)) => Err(invalid(format!(
            "ProjectionType is {}, but NonKeyAttributes is specified",
            other.as_str()
        ))),
        (m::ProjectionType::All, None) => Ok(Projection::All),
        (m::ProjectionType::KeysOnly, None) => Ok(Projection::KeysOnly),
        (m::ProjectionType::Unknown(s), None) => {
            Err(invalid(format!("Unknown ProjectionType: {s}")))
        }
    }
}

fn check_units(pt: &m::ProvisionedThroughput) -> Result<(), DynamoDbError> {
    if pt.read_capacity_units > MAX_CAPACITY_UNITS {
        return Err(DynamoDbError::Validation(format!(
            "Given value {} for ReadCapacityUnits is out of bounds",
            pt.read_capacity_units
        )));
    }
    if pt.write_capacity_units > MAX_CAPACITY_UNITS {
        return Err(DynamoDbError::Validation(format!(
            "Given value {} for WriteCapacityUnits is out of bounds",
            pt.write_capacity_units
        )));
    }
    Ok(())
}

fn throughput_from(pt: &m::ProvisionedThroughput) -> Throughput {
    Throughput {
        read_units: pt.read_capacity_units,
        write_units: pt.write_capacity_units,
        ..Throughput::default()
    }
}

fn on_demand_from(
    od: Option<&m::OnDemandThroughput>,
    mode: BillingMode,
    index: Option<&str>,
) -> Result<Option<OnDemandLimits>, DynamoDbError> {
    let Some(od) = od else {
        return Ok(None);
    };
    let target = match index {
        Some(i) => format!("index : {i}"),
        None => "table".to_string(),
    };
    for (name, v) in [
        ("MaxReadRequestUnits", od.max_read_request_units),
        ("MaxWriteRequestUnits", od.max_write_request_units),
    ] {
        let Some(v) = v else { continue };
        if mode == BillingMode::Provisioned {
            return Err(invalid(format!(
                "{name} for OnDemandThroughput cannot be specified when the table BillingMode is PROVISIONED"
            )));
        }
        if v == 0 || v < -1 {
            return Err(invalid(format!(
                "Requested {name} for OnDemandThroughput for {target} is outside of valid range"
            )));
        }
    }
    Ok(Some(OnDemandLimits {
        max_read_units: od.max_read_request_units,
        max_write_units: od.max_write_request_units,
    }))
}

/// The ARN of the KMS key a table is encrypted with.
pub(crate) fn kms_key_arn(region: &str, account: &str, key_id: Option<&str>) -> String {
    match key_id {
        Some(k) if k.starts_with("arn:") => k.to_string(),
        Some(k) if k.starts_with("alias/") => format!("arn:aws:kms:{region}:{account}:{k}"),
        Some(k) => format!("arn:aws:kms:{region}:{account}:key/{k}"),
        None => {
            // The AWS managed key (alias/aws/dynamodb) has one fixed id per account and
            // region; derive a stable UUID-shaped id from them (FNV-1a, no crypto needed).
            let mut h: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
            for b in account.bytes().chain([b'/']).chain(region.bytes()) {
                h ^= u128::from(b);
                h = h.wrapping_mul(0x0000_0000_0100_0000_0000_0000_0000_013B);
            }
            let hex = format!("{h:032x}");
            format!(
                "arn:aws:kms:{region}:{account}:key/{}-{}-4{}-8{}-{}",
                &hex[0..8],
                &hex[8..12],
                &hex[13..16],
                &hex[17..20],
                &hex[20..32]
            )
        }
    }
}

/// SSESpecification -> the table's encryption (None: AWS owned key, the default).
fn parse_sse(
    spec: Option<&m::SSESpecification>,
    region: &str,
    account: &str,
) -> Result<Option<SseMeta>, DynamoDbError> {
    let Some(spec) = spec else {
        return Ok(None);
    };
    let enabled = spec.enabled.unwrap_or(false);
    if !enabled {
        if spec.sse_type.is_some() {
            return Err(invalid("SSEType can not be specified if Enabled is false"));
        }
        if spec.kms_master_key_id.is_some() {
            return Err(invalid(
                "KMSMasterKeyId can not be specified if Enabled is false",
            ));
        }
        return Ok(None);
    }
    if spec.sse_type == Some(m::SSEType::Aes256) {
        return Err(invalid("SSEType AES256 is not supported"));
    }
    Ok(Some(SseMeta {
        kms_key_arn: kms_key_arn(region, account, spec.kms_master_key_id.as_deref()),
    }))
}

// ---------------------------------------------------------------------------------------
// CreateTable

/// Validates a CreateTable request in AWS's order and builds the table's metadata.
pub(crate) fn build_table(
    ctx: &RequestContext,
    input: &m::CreateTableInput,
    now_ms: i64,
) -> Result<TableMeta, DynamoDbError> {
    let defs = input
        .attribute_definitions
        .as_deref()
        .ok_or_else(|| null_member("attributeDefinitions"))?;
    let elems = input
        .key_schema
        .as_deref()
        .ok_or_else(|| null_member("keySchema"))?;
    let mode = match &input.billing_mode {
        Some(m::BillingMode::PayPerRequest) => BillingMode::PayPerRequest,
        _ => BillingMode::Provisioned,
    };
    let throughput = match (mode, &input.provisioned_throughput) {
        (BillingMode::PayPerRequest, Some(_)) => {
            return Err(invalid(
                "Neither ReadCapacityUnits nor WriteCapacityUnits can be specified when BillingMode is PAY_PER_REQUEST",
            ))
        }
        (BillingMode::PayPerRequest, None) => Throughput::default(),
        (BillingMode::Provisioned, None) => {
            return Err(invalid(
                "ReadCapacityUnits and WriteCapacityUnits must both be specified when BillingMode is PROVISIONED",
            ))
        }
        (BillingMode::Provisioned, Some(pt)) => {
            check_units(pt)?;
            throughput_from(pt)
        }
    };
    for (i, d) in defs.iter().enumerate() {
        key_type_of(d)?;
        if defs[..i]
            .iter()
            .any(|p| p.attribute_name == d.attribute_name)
        {
            return Err(DynamoDbError::Validation(format!(
                "Attribute Name is duplicated: {}",
                d.attribute_name
            )));
        }
    }
    if elems.len() > defs.len() {
        return Err(DynamoDbError::validation(
            "Invalid KeySchema: Some index key attribute have no definition",
        ));
    }
    check_key_elements(elems, defs)?;
    let key = to_schema(elems, defs)?;

    let lsis = input.local_secondary_indexes.as_deref();
    let gsis = input.global_secondary_indexes.as_deref();
    let mut indexes: Vec<IndexMeta> = Vec::new();
    let mut next_index_id: u32 = 1;
    if let Some(lsis) = lsis {
        if lsis.is_empty() {
            return Err(invalid("List of LocalSecondaryIndexes is empty"));
        }
        if key.range.is_none() {
            return Err(invalid(
                "Table KeySchema does not have a range key, which is required when specifying a LocalSecondaryIndex",
            ));
        }
        for lsi in lsis {
            check_key_elements(&lsi.key_schema, defs)?;
            if lsi.key_schema.len() != 2 {
                return Err(invalid(format!(
                    "Index KeySchema does not have a range key for index: {}",
                    lsi.index_name
                )));
            }
            let ikey = to_schema(&lsi.key_schema, defs)?;
            if ikey.hash.name != key.hash.name {
                return Err(invalid(format!(
                    "Index KeySchema does not have the same leading hash key as table KeySchema for index: {}. index hash key: {}, table hash key: {}",
                    lsi.index_name, ikey.hash.name, key.hash.name
                )));
            }
            let projection = parse_projection(&lsi.projection)?;
            if indexes.iter().any(|i| i.name == lsi.index_name) {
                return Err(invalid(format!("Duplicate index name: {}", lsi.index_name)));
            }
            indexes.push(IndexMeta {
                name: lsi.index_name.clone(),
                kind: IndexKind::Local,
                key: ikey,
                projection,
                status: Status::Active,
                backfilling: false,
                throughput: None,
                on_demand: None,
                index_id: next_index_id,
                insights: None,
            });
            next_index_id += 1;
        }
        if lsis.len() > MAX_LSI {
            return Err(invalid(format!(
                "Number of LocalSecondaryIndexes exceeds per-table limit of {MAX_LSI}"
            )));
        }
    }
    if let Some(gsis) = gsis {
        if gsis.is_empty() {
            return Err(invalid("List of GlobalSecondaryIndexes is empty"));
        }
        for gsi in gsis {
            check_key_elements(&gsi.key_schema, defs)?;
            let ikey = to_schema(&gsi.key_schema, defs)?;
            let projection = parse_projection(&gsi.projection)?;
            let gthroughput = match (mode, &gsi.provisioned_throughput) {
                (BillingMode::PayPerRequest, Some(_)) => {
                    return Err(invalid(format!(
                        "ProvisionedThroughput should not be specified for index: {} when BillingMode is PAY_PER_REQUEST",
                        gsi.index_name
                    )))
                }
                (BillingMode::PayPerRequest, None) => None,
                (BillingMode::Provisioned, None) => {
                    return Err(invalid(format!(
                        "ProvisionedThroughput is not specified for index: {}",
                        gsi.index_name
                    )))
                }
                (BillingMode::Provisioned, Some(pt)) => {
                    check_units(pt)?;
                    Some(throughput_from(pt))
                }
            };
            let on_demand = on_demand_from(
                gsi.on_demand_throughput.as_ref(),
                mode,
                Some(&gsi.index_name),
            )?;
            if indexes.iter().any(|i| i.name == gsi.index_name) {
                return Err(invalid(format!("Duplicate index name: {}", gsi.index_name)));
            }
            indexes.push(IndexMeta {
                name: gsi.index_name.clone(),
                kind: IndexKind::Global,
                key: ikey,
                projection,
                status: Status::Active,
                backfilling: false,
                throughput: gthroughput,
                on_demand,
                index_id: next_index_id,
                insights: None,
            });
            next_index_id += 1;
        }
        if gsis.len() > MAX_GSI {
            return Err(invalid(format!(
                "GlobalSecondaryIndex count exceeds the per-table limit of {MAX_GSI}"
            )));
        }
    }
    // Every definition must be used by some key.
    let mut used: Vec<&str> = Vec::new();
    for a in key
        .attrs()
        .chain(indexes.iter().flat_map(|i| i.key.attrs()))
    {
        if !used.contains(&a.name.as_str()) {
            used.push(&a.name);
        }
    }
    if defs.len() > used.len() {
        if indexes.is_empty() {
            return Err(invalid(
                "Number of attributes in KeySchema does not exactly match number of attributes defined in AttributeDefinitions",
            ));
        }
        let dnames: Vec<&str> = defs.iter().map(|d| d.attribute_name.as_str()).collect();
        return Err(invalid(format!(
            "Some AttributeDefinitions are not used. AttributeDefinitions: {}, keys used: {}",
            list_display(&dnames),
            list_display(&used)
        )));
    }
    let stream = match &input.stream_specification {
        Some(s) if s.stream_enabled => {
            let Some(view) = &s.stream_view_type else {
                return Err(invalid(
                    "Table is being created with a stream enabled, UpdateViewType is required",
                ));
            };
            Some(StreamMeta {
                enabled: true,
                view_type: view.as_str().to_string(),
                label: stream_label(now_ms),
            })
        }
        Some(s) => {
            if s.stream_view_type.is_some() {
                return Err(invalid(
                    "Table is being created with a stream disabled, UpdateViewType should not be specified",
                ));
            }
            None
        }
        None => None,
    };
    let sse = parse_sse(
        input.sse_specification.as_ref(),
        &ctx.region,
        &ctx.account_id,
    )?;
    let on_demand = on_demand_from(input.on_demand_throughput.as_ref(), mode, None)?;
    let tag_list = match &input.tags {
        Some(t) => tags::validate_new_tags(t, 0)?,
        None => Vec::new(),
    };
    let uuid = uuid::Uuid::new_v4();
    Ok(TableMeta {
        table_id: uuid.to_string(),
        key_id: *uuid.as_bytes(),
        name: input.table_name.clone(),
        account_id: ctx.account_id.clone(),
        region: ctx.region.clone(),
        key,
        attribute_definitions: defs
            .iter()
            .map(|d| {
                Ok(KeyAttr {
                    name: d.attribute_name.clone(),
                    ty: key_type_of(d)?,
                })
            })
            .collect::<Result<_, DynamoDbError>>()?,
        indexes,
        next_index_id,
        billing_mode: mode,
        throughput,
        on_demand,
        last_pay_per_request_ms: (mode == BillingMode::PayPerRequest).then_some(now_ms),
        stream,
        sse,
        table_class: input
            .table_class
            .as_ref()
            .map_or("STANDARD", |c| c.as_str())
            .to_string(),
        table_class_updated_ms: input.table_class.as_ref().map(|_| now_ms),
        deletion_protection: input.deletion_protection_enabled.unwrap_or(false),
        tags: tag_list,
        ttl: None,
        pitr: None,
        restore: None,
        replicas: Vec::new(),
        insights: None,
        policy: input
            .resource_policy
            .as_deref()
            .map(|p| policies::initial_policy(p, now_ms))
            .transpose()?,
        stream_policies: Vec::new(),
        created_ms: now_ms,
        status: Status::Active,
        version: 1,
    })
}

pub async fn create_table(
    svc: &DynamoDb,
    ctx: &RequestContext,
    input: m::CreateTableInput,
) -> Result<m::CreateTableOutput, DynamoDbError> {
    let meta = build_table(ctx, &input, svc.now_millis())?;
    let stored = meta.clone();
    svc.db()
        .write(move |txn| -> Result<(), DynamoDbError> {
            let key = layout::table_meta_key(&stored.account_id, &stored.region, &stored.name);
            if txn.get(&key)?.is_some() {
                return Err(DynamoDbError::ResourceInUse(format!(
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
            streams::on_table_saved(txn, &stored)?;
            Ok(())
        })
        .await?;
    svc.invalidate_table(&meta.account_id, &meta.region, &meta.name);
    let mut desc = describe(&meta, &Stats::default());
    // AWS answers CREATING (indexes too); the table is usable as soon as this returns.
    desc.table_status = Some(m::TableStatus::Creating);
    for g in desc.global_secondary_indexes.iter_mut().flatten() {
        g.index_status = Some(m::IndexStatus::Creating);
    }
    Ok(m::CreateTableOutput {
        table_description: Some(desc),
    })
}

// ---------------------------------------------------------------------------------------
// DescribeTable

/// Item counts and sizes of a table and its indexes (by index id).
#[derive(Debug, Default, Clone)]
pub struct Stats {
    pub table: Counters,
    pub indexes: Vec<(u32, Counters)>,
}

impl Stats {
    /// Reads the counters of `meta` from a snapshot or transaction.
    pub fn read(txn: &dyn ReadTxn, meta: &TableMeta) -> Result<Stats, DynamoDbError> {
        let table =
            read_counters(txn, &layout::table_counters_key(&meta.key_id))?.unwrap_or_default();
        let mut indexes = Vec::with_capacity(meta.indexes.len());
        for i in &meta.indexes {
            let c = read_counters(txn, &layout::index_counters_key(&meta.key_id, i.index_id))?
                .unwrap_or_default();
            indexes.push((i.index_id, c));
        }
        Ok(Stats { table, indexes })
    }

    fn index(&self, id: u32) -> Counters {
        self.indexes
            .iter()
            .find(|(i, _)| *i == id)
            .map(|(_, c)| *c)
            .unwrap_or_default()
    }
}

fn key_schema_out(k: &KeySchema) -> Vec<m::KeySchemaElement> {
    let mut v = vec![m::KeySchemaElement {
        attribute_name: k.hash.name.clone(),
        key_type: m::KeyType::Hash,
    }];
    if let Some(r) = &k.range {
        v.push(m::KeySchemaElement {
            attribute_name: r.name.clone(),
            key_type: m::KeyType::Range,
        });
    }
    v
}

fn projection_out(p: &Projection) -> m::Projection {
    match p {
        Projection::All => m::Projection {
            projection_type: Some(m::ProjectionType::All),
            non_key_attributes: None,
        },
        Projection::KeysOnly => m::Projection {
            projection_type: Some(m::ProjectionType::KeysOnly),
            non_key_attributes: None,
        },
        Projection::Include(a) => m::Projection {
            projection_type: Some(m::ProjectionType::Include),
            non_key_attributes: Some(a.clone()),
        },
    }
}

fn throughput_out(t: Option<&Throughput>) -> m::ProvisionedThroughputDescription {
    match t {
        Some(t) => m::ProvisionedThroughputDescription {
            last_increase_date_time: t.last_increase_ms.map(secs),
            last_decrease_date_time: t.last_decrease_ms.map(secs),
            number_of_decreases_today: Some(t.decreases_today),
            read_capacity_units: Some(t.read_units),
            write_capacity_units: Some(t.write_units),
        },
        None => m::ProvisionedThroughputDescription {
            number_of_decreases_today: Some(0),
            read_capacity_units: Some(0),
            write_capacity_units: Some(0),
            ..Default::default()
        },
    }
}

fn on_demand_out(mode: BillingMode, o: Option<&OnDemandLimits>) -> Option<m::OnDemandThroughput> {
    if mode != BillingMode::PayPerRequest {
        return None;
    }
    Some(m::OnDemandThroughput {
        max_read_request_units: Some(o.and_then(|o| o.max_read_units).unwrap_or(-1)),
        max_write_request_units: Some(o.and_then(|o| o.max_write_units).unwrap_or(-1)),
    })
}

fn status_out(s: Status) -> m::TableStatus {
    m::TableStatus::from(s.as_str())
}

fn gsi_out(meta: &TableMeta, i: &IndexMeta, stats: &Stats) -> m::GlobalSecondaryIndexDescription {
    let c = stats.index(i.index_id);
    m::GlobalSecondaryIndexDescription {
        index_name: Some(i.name.clone()),
        key_schema: Some(key_schema_out(&i.key)),
        projection: Some(projection_out(&i.projection)),
        index_status: Some(m::IndexStatus::from(i.status.as_str())),
        backfilling: i.backfilling.then_some(true),
        provisioned_throughput: Some(throughput_out(
            if meta.billing_mode == BillingMode::Provisioned {
                i.throughput.as_ref()
            } else {
                None
            },
        )),
        index_size_bytes: Some(c.size_bytes),
        item_count: Some(c.item_count),
        index_arn: Some(meta.index_arn(&i.name)),
        on_demand_throughput: on_demand_out(meta.billing_mode, i.on_demand.as_ref()),
        warm_throughput: None,
    }
}

/// The TableDescription of `meta` (status as stored; callers override for responses).
pub fn describe(meta: &TableMeta, stats: &Stats) -> m::TableDescription {
    let lsis: Vec<m::LocalSecondaryIndexDescription> = meta
        .indexes
        .iter()
        .filter(|i| i.kind == IndexKind::Local)
        .map(|i| {
            let c = stats.index(i.index_id);
            m::LocalSecondaryIndexDescription {
                index_name: Some(i.name.clone()),
                key_schema: Some(key_schema_out(&i.key)),
                projection: Some(projection_out(&i.projection)),
                index_size_bytes: Some(c.size_bytes),
                item_count: Some(c.item_count),
                index_arn: Some(meta.index_arn(&i.name)),
            }
        })
        .collect();
    let gsis: Vec<m::GlobalSecondaryIndexDescription> = meta
        .indexes
        .iter()
        .filter(|i| i.kind == IndexKind::Global)
        .map(|i| gsi_out(meta, i, stats))
        .collect();
    let billing_summary = match meta.billing_mode {
        BillingMode::PayPerRequest => Some(m::BillingModeSummary {
            billing_mode: Some(m::BillingMode::PayPerRequest),
            last_update_to_pay_per_request_date_time: meta
                .last_pay_per_request_ms
                .map(secs)
                .or(Some(secs(meta.created_ms))),
        }),
        // Shown for provisioned tables once they have been on demand.
        BillingMode::Provisioned => meta.last_pay_per_request_ms.map(|t| m::BillingModeSummary {
            billing_mode: Some(m::BillingMode::Provisioned),
            last_update_to_pay_per_request_date_time: Some(secs(t)),
        }),
    };
    let stream = meta.stream.as_ref();
    m::TableDescription {
        attribute_definitions: Some(
            meta.attribute_definitions
                .iter()
                .map(|a| m::AttributeDefinition {
                    attribute_name: a.name.clone(),
                    attribute_type: m::ScalarAttributeType::from(a.ty.as_str()),
                })
                .collect(),
        ),
        table_name: Some(meta.name.clone()),
        key_schema: Some(key_schema_out(&meta.key)),
        table_status: Some(status_out(meta.status)),
        creation_date_time: Some(secs(meta.created_ms)),
        provisioned_throughput: Some(throughput_out(
            (meta.billing_mode == BillingMode::Provisioned).then_some(&meta.throughput),
        )),
        table_size_bytes: Some(stats.table.size_bytes),
        item_count: Some(stats.table.item_count),
        table_arn: Some(meta.arn()),
        table_id: Some(meta.table_id.clone()),
        billing_mode_summary: billing_summary,
        local_secondary_indexes: (!lsis.is_empty()).then_some(lsis),
        global_secondary_indexes: (!gsis.is_empty()).then_some(gsis),
        stream_specification: stream
            .filter(|s| s.enabled)
            .map(|s| m::StreamSpecification {
                stream_enabled: true,
                stream_view_type: Some(m::StreamViewType::from(s.view_type.as_str())),
            }),
        latest_stream_label: stream.map(|s| s.label.clone()),
        latest_stream_arn: meta.stream_arn(),
        sse_description: meta.sse.as_ref().map(|s| m::SSEDescription {
            status: Some(m::SSEStatus::Enabled),
            sse_type: Some(m::SSEType::Kms),
            kms_master_key_arn: Some(s.kms_key_arn.clone()),
            inaccessible_encryption_date_time: None,
        }),
        table_class_summary: meta.table_class_updated_ms.map(|t| m::TableClassSummary {
            table_class: Some(m::TableClass::from(meta.table_class.as_str())),
            last_update_date_time: (t != meta.created_ms).then_some(secs(t)),
        }),
        deletion_protection_enabled: Some(meta.deletion_protection),
        on_demand_throughput: on_demand_out(meta.billing_mode, meta.on_demand.as_ref()),
        replicas: replication::replicas_out(meta),
        global_table_version: replication::version_out(meta),
        restore_summary: meta.restore.as_ref().map(|r| m::RestoreSummary {
            source_backup_arn: r.source_backup_arn.clone(),
            source_table_arn: r.source_table_arn.clone(),
            restore_date_time: secs(r.restore_ms),
            restore_in_progress: r.in_progress,
        }),
        ..Default::default()
    }
}

/// Loads a table (uncached) and its counters from one snapshot.
fn load_with_stats(
    svc: &DynamoDb,
    ctx: &RequestContext,
    name: &str,
) -> Result<Option<(TableMeta, Stats)>, DynamoDbError> {
    let snap = svc.db().snapshot()?;
    let Some(meta) = catalog::load_table(snap.as_ref(), &ctx.account_id, &ctx.region, name)? else {
        return Ok(None);
    };
    let stats = Stats::read(snap.as_ref(), &meta)?;
    Ok(Some((meta, stats)))
}

pub async fn describe_table(
    svc: &DynamoDb,
    ctx: &RequestContext,
    input: m::DescribeTableInput,
) -> Result<m::DescribeTableOutput, DynamoDbError> {
    let name = table_name_from(&input.table_name, ctx)?;
    let (meta, stats) = load_with_stats(svc, ctx, &name)?.ok_or_else(|| table_not_found(&name))?;
    Ok(m::DescribeTableOutput {
        table: Some(describe(&meta, &stats)),
    })
}

/// `TableName` may be a name or (since 2024) the table's ARN.
pub fn table_name_from(name_or_arn: &str, ctx: &RequestContext) -> Result<String, DynamoDbError> {
    let Some(rest) = name_or_arn.strip_prefix("arn:") else {
        return Ok(name_or_arn.to_string());
    };
    // arn:aws:dynamodb:REGION:ACCOUNT:table/NAME
    let parts: Vec<&str> = rest.splitn(5, ':').collect();
    match parts.as_slice() {
        [_, "dynamodb", region, account, resource]
            if *region == ctx.region && *account == ctx.account_id =>
        {
            match resource.strip_prefix("table/") {
                Some(n) if !n.is_empty() && !n.contains('/') => Ok(n.to_string()),
                _ => Err(table_not_found(name_or_arn)),
            }
        }
        _ => Err(table_not_found(name_or_arn)),
    }
}

// ---------------------------------------------------------------------------------------
// ListTables

/// Default and largest `Limit` of ListTables.
pub const LIST_TABLES_MAX: usize = 100;

pub async fn list_tables(
    svc: &DynamoDb,
    ctx: &RequestContext,
    input: m::ListTablesInput,
) -> Result<m::ListTablesOutput, DynamoDbError> {
    let limit = params::page_size(input.limit, LIST_TABLES_MAX);
    let prefix = layout::table_list_prefix(&ctx.account_id, &ctx.region);
    let (lo, hi) = layout::prefix_range(&prefix);
    let start = match &input.exclusive_start_table_name {
        Some(n) => Bound::Excluded(layout::table_meta_key(&ctx.account_id, &ctx.region, n)),
        None => lo,
    };
    let snap = svc.db().snapshot()?;
    // One extra entry tells whether there are more.
    let page = snap.range(
        layout::bound_ref(&start),
        layout::bound_ref(&hi),
        false,
        limit + 1,
    )?;
    let mut names: Vec<String> = page
        .iter()
        .filter_map(|(k, _)| layout::table_name_from_meta_key(&prefix, k))
        .collect();
    let more = names.len() > limit;
    names.truncate(limit);
    Ok(m::ListTablesOutput {
        last_evaluated_table_name: if more { names.last().cloned() } else { None },
        table_names: Some(names),
    })
}

// ---------------------------------------------------------------------------------------
// DeleteTable

pub async fn delete_table(
    svc: &DynamoDb,
    ctx: &RequestContext,
    input: m::DeleteTableInput,
) -> Result<m::DeleteTableOutput, DynamoDbError> {
    let name = table_name_from(&input.table_name, ctx)?;
    let (account, region) = (ctx.account_id.clone(), ctx.region.clone());
    let name_in = name.clone();
    let now_ms = svc.now_millis();
    let (meta, stats, job, left) = svc
        .db()
        .write(move |txn| -> Result<(TableMeta, Stats, [u8; 16], replication::LeaveGroup), DynamoDbError> {
            let meta = catalog::load_table(txn, &account, &region, &name_in)?
                .ok_or_else(|| table_not_found(&name_in))?;
            if meta.deletion_protection {
                return Err(DynamoDbError::validation(
                    "Resource cannot be deleted as it is currently protected against deletion. Disable deletion protection first.",
                ));
            }
            let stats = Stats::read(txn, &meta)?;
            let left = replication::on_delete_table(txn, &meta, now_ms)?;
            txn.delete(&layout::table_meta_key(&account, &region, &name_in))?;
            txn.delete(&layout::table_counters_key(&meta.key_id))?;
            for i in &meta.indexes {
                txn.delete(&layout::index_counters_key(&meta.key_id, i.index_id))?;
            }
            let mut prefixes = vec![
                layout::item_prefix(&meta.key_id),
                layout::table_index_prefix(&meta.key_id),
            ];
            prefixes.extend(left.purge_prefixes.iter().cloned());
            let job = jobs::put_job(txn, &Job::Purge { prefixes })?;
            Ok((meta, stats, job, left))
        })
        .await?;
    svc.invalidate_table(&meta.account_id, &meta.region, &meta.name);
    for r in &left.regions {
        svc.invalidate_table(&meta.account_id, r, &meta.name);
    }
    svc.jobs().start(job);
    let mut desc = describe(&meta, &stats);
    desc.table_status = Some(m::TableStatus::Deleting);
    Ok(m::DeleteTableOutput {
        table_description: Some(desc),
    })
}

// ---------------------------------------------------------------------------------------
// UpdateTable

/// What an UpdateTable changed, besides the metadata itself.
struct UpdatePlan {
    meta: TableMeta,
    /// GSIs removed by this request (reported as DELETING).
    deleted: Vec<IndexMeta>,
    jobs: Vec<[u8; 16]>,
    /// True when only deletion protection changed (the table stays ACTIVE).
    protection_only: bool,
}

const MSG_UPDATE_NOTHING: &str = "At least one of ProvisionedThroughput, BillingMode, UpdateStreamEnabled, GlobalSecondaryIndexUpdates, SSESpecification, ReplicaUpdates, MultiAccountReplicaReady, ReplicaTransitRoleArn, MultiRegionConsistency, DeletionProtectionEnabled, OnDemandThroughput, WarmThroughput or TableClass is required";
const MSG_ONE_INDEX_AT_A_TIME: &str =
    "Subscriber limit exceeded: Only 1 online index can be created or deleted simultaneously per table";

fn throughput_unchanged(
    what: &str,
    cur: &Throughput,
    req: &m::ProvisionedThroughput,
) -> DynamoDbError {
    DynamoDbError::Validation(format!(
        "The provisioned throughput for the {what} will not change. The requested value equals the current value. Current ReadCapacityUnits provisioned for the {what}: {}. Requested ReadCapacityUnits: {}. Current WriteCapacityUnits provisioned for the {what}: {}. Requested WriteCapacityUnits: {}. Refer to the Amazon DynamoDB Developer Guide for current limits and how to request higher limits.",
        cur.read_units, req.read_capacity_units, cur.write_units, req.write_capacity_units
    ))
}

/// Applies new provisioned values, keeping AWS's increase/decrease bookkeeping.
fn change_throughput(t: &mut Throughput, req: &m::ProvisionedThroughput, now_ms: i64) {
    let up = req.read_capacity_units > t.read_units || req.write_capacity_units > t.write_units;
    let down = req.read_capacity_units < t.read_units || req.write_capacity_units < t.write_units;
    if up {
        t.last_increase_ms = Some(now_ms);
    }
    if down {
        // Decreases are counted per UTC day.
        let same_day = t
            .last_decrease_ms
            .is_some_and(|d| d.div_euclid(86_400_000) == now_ms.div_euclid(86_400_000));
        t.decreases_today = if same_day { t.decreases_today + 1 } else { 1 };
        t.last_decrease_ms = Some(now_ms);
    }
    t.read_units = req.read_capacity_units;
    t.write_units = req.write_capacity_units;
}

fn plan_update(
    txn: &mut dyn WriteTxn,
    current: &TableMeta,
    input: &m::UpdateTableInput,
    now_ms: i64,
) -> Result<UpdatePlan, DynamoDbError> {
    let gsi_updates = input.global_secondary_index_updates.as_deref();
    let has_gsi_updates = gsi_updates.is_some_and(|u| !u.is_empty());
    let requested = [
        input.provisioned_throughput.is_some(),
        input.billing_mode.is_some(),
        input.stream_specification.is_some(),
        has_gsi_updates,
        input.sse_specification.is_some(),
        input.replica_updates.is_some(),
        input.multi_region_consistency.is_some(),
        input.deletion_protection_enabled.is_some(),
        input.on_demand_throughput.is_some(),
        input.warm_throughput.is_some(),
        input.table_class.is_some(),
    ];
    let count = requested.iter().filter(|r| **r).count();
    if count == 0 {
        if gsi_updates.is_some() {
            return Err(invalid("List of GlobalSecondaryIndexUpdates is empty"));
        }
        return Err(DynamoDbError::validation(MSG_UPDATE_NOTHING));
    }
    if input.sse_specification.is_some() && count > 1 {
        return Err(invalid(
            "Server-Side Encryption modification must be the only operation in the request",
        ));
    }
    if input.table_class.is_some() && count > 1 {
        return Err(invalid(
            "TableClass modification must be the only operation in the request",
        ));
    }
    if input.deletion_protection_enabled.is_some() && count > 1 {
        return Err(invalid(
            "DeletionProtection modification must be the only operation in the request",
        ));
    }
    if input.multi_region_consistency.is_some() {
        return Err(invalid(
            "Global table replicas are not supported by this endpoint",
        ));
    }
    replication::check_table_update(current, input)?;
    if gsi_updates.is_some_and(|u| u.is_empty()) {
        return Err(invalid("List of GlobalSecondaryIndexUpdates is empty"));
    }

    let mut meta = current.clone();
    let mut deleted = Vec::new();
    let mut job_list: Vec<Job> = Vec::new();

    // Shape of the index updates first (AWS validates the request before the table).
    let mut names_seen: Vec<&str> = Vec::new();
    let mut creates_or_deletes = 0usize;
    for u in gsi_updates.unwrap_or(&[]) {
        let n = [u.update.is_some(), u.create.is_some(), u.delete.is_some()]
            .iter()
            .filter(|x| **x)
            .count();
        if n == 0 {
            return Err(invalid(
                "One of GlobalSecondaryIndexUpdate.Update, GlobalSecondaryIndexUpdate.Create, GlobalSecondaryIndexUpdate.Delete must not be null",
            ));
        }
        if n > 1 {
            return Err(invalid(
                "Only one global secondary index action is allowed per GlobalSecondaryIndexUpdate object",
            ));
        }
        let name = u
            .update
            .as_ref()
            .map(|x| x.index_name.as_str())
            .or(u.create.as_ref().map(|x| x.index_name.as_str()))
            .or(u.delete.as_ref().map(|x| x.index_name.as_str()))
            .unwrap_or_default();
        if names_seen.contains(&name) {
            return Err(invalid(format!(
                "Only one global secondary index update per index is allowed simultaneously. Index: {name}"
            )));
        }
        names_seen.push(name);
        if u.create.is_some() || u.delete.is_some() {
            creates_or_deletes += 1;
        }
    }
    if creates_or_deletes > 0 && input.stream_specification.is_some() {
        return Err(invalid(
            "You cannot create or delete index while changing stream status",
        ));
    }
    if creates_or_deletes > 0 && input.provisioned_throughput.is_some() {
        return Err(invalid(
            "You cannot create or delete index while updating table IOPS",
        ));
    }
    if input.stream_specification.is_some() && input.provisioned_throughput.is_some() {
        return Err(invalid(
            "You cannot modify stream status while updating table IOPS",
        ));
    }
    if creates_or_deletes > 1
        || (creates_or_deletes > 0 && meta.indexes.iter().any(|i| i.backfilling))
    {
        return Err(DynamoDbError::LimitExceeded(MSG_ONE_INDEX_AT_A_TIME.into()));
    }

    // Billing mode and table throughput.
    let target_mode = match &input.billing_mode {
        Some(m::BillingMode::PayPerRequest) => BillingMode::PayPerRequest,
        Some(_) => BillingMode::Provisioned,
        None => meta.billing_mode,
    };
    match (target_mode, &input.provisioned_throughput) {
        (BillingMode::PayPerRequest, Some(_)) => {
            return Err(invalid(
                "Neither ReadCapacityUnits nor WriteCapacityUnits can be specified when BillingMode is PAY_PER_REQUEST",
            ))
        }
        (BillingMode::Provisioned, None) if meta.billing_mode == BillingMode::PayPerRequest => {
            return Err(invalid(
                "ProvisionedThroughput must be specified when BillingMode is PROVISIONED",
            ))
        }
        (BillingMode::Provisioned, Some(pt)) => {
            check_units(pt)?;
            if meta.billing_mode == BillingMode::Provisioned
                && pt.read_capacity_units == meta.throughput.read_units
                && pt.write_capacity_units == meta.throughput.write_units
            {
                return Err(throughput_unchanged("table", &meta.throughput, pt));
            }
            if meta.billing_mode == BillingMode::PayPerRequest {
                meta.throughput = throughput_from(pt);
            } else {
                change_throughput(&mut meta.throughput, pt, now_ms);
            }
        }
        _ => {}
    }
    if target_mode != meta.billing_mode {
        match target_mode {
            BillingMode::PayPerRequest => {
                meta.throughput = Throughput::default();
                meta.last_pay_per_request_ms = Some(now_ms);
                for i in meta.indexes.iter_mut() {
                    i.throughput = None;
                }
            }
            BillingMode::Provisioned => {
                meta.on_demand = None;
                // Every GSI needs capacity too, given in this same request.
                for i in meta.indexes.iter().filter(|i| i.kind == IndexKind::Global) {
                    let given = gsi_updates.unwrap_or(&[]).iter().any(|u| {
                        u.update.as_ref().is_some_and(|x| {
                            x.index_name == i.name && x.provisioned_throughput.is_some()
                        }) || u.delete.as_ref().is_some_and(|x| x.index_name == i.name)
                    });
                    if !given {
                        return Err(invalid(format!(
                            "ProvisionedThroughput must be specified for index: {}",
                            i.name
                        )));
                    }
                }
            }
        }
        meta.billing_mode = target_mode;
    }
    if let Some(od) = &input.on_demand_throughput {
        meta.on_demand = on_demand_from(Some(od), meta.billing_mode, None)?;
    }

    // Index updates.
    for u in gsi_updates.unwrap_or(&[]) {
        if let Some(up) = &u.update {
            let Some(idx) = meta.indexes.iter().position(|i| i.name == up.index_name) else {
                return Err(DynamoDbError::ResourceNotFound(format!(
                    "Requested resource not found: Index: {} not found",
                    up.index_name
                )));
            };
            if meta.indexes[idx].kind != IndexKind::Global {
                return Err(DynamoDbError::Validation(format!(
                    "Cannot update an index that is not a GlobalSecondaryIndex: {}",
                    up.index_name
                )));
            }
            if let Some(pt) = &up.provisioned_throughput {
                if meta.billing_mode == BillingMode::PayPerRequest {
                    return Err(invalid(format!(
                        "The only Updates for index: {} when TableThroughputMode is PAY_PER_REQUEST can be to OnDemandThroughput, WarmThroughput",
                        up.index_name
                    )));
                }
                if pt.read_capacity_units > MAX_CAPACITY_UNITS
                    || pt.write_capacity_units > MAX_CAPACITY_UNITS
                {
                    return Err(DynamoDbError::validation(
                        "This operation cannot be performed with given input values. Please contact DynamoDB service team for more info: Action Blocked: IndexUpdate",
                    ));
                }
                let index = &mut meta.indexes[idx];
                match &mut index.throughput {
                    Some(t) if current.billing_mode == BillingMode::Provisioned => {
                        if t.read_units == pt.read_capacity_units
                            && t.write_units == pt.write_capacity_units
                        {
                            return Err(throughput_unchanged(
                                &format!("index {}", up.index_name),
                                t,
                                pt,
                            ));
                        }
                        change_throughput(t, pt, now_ms);
                    }
                    _ => index.throughput = Some(throughput_from(pt)),
                }
            }
            if let Some(od) = &up.on_demand_throughput {
                let limits = on_demand_from(Some(od), meta.billing_mode, Some(&up.index_name))?;
                meta.indexes[idx].on_demand = limits;
            }
        }
        if let Some(del) = &u.delete {
            let Some(idx) = meta.indexes.iter().position(|i| i.name == del.index_name) else {
                return Err(DynamoDbError::ResourceNotFound(format!(
                    "Requested resource not found: Index: {} not found",
                    del.index_name
                )));
            };
            if meta.indexes[idx].kind != IndexKind::Global {
                return Err(DynamoDbError::Validation(format!(
                    "Cannot delete an index that is not a GlobalSecondaryIndex: {}",
                    del.index_name
                )));
            }
            let gone = meta.indexes.remove(idx);
            txn.delete(&layout::index_counters_key(&meta.key_id, gone.index_id))?;
            job_list.push(Job::Purge {
                prefixes: vec![layout::index_prefix(&meta.key_id, gone.index_id)],
            });
            deleted.push(gone);
        }
        if let Some(cr) = &u.create {
            if meta.indexes.iter().any(|i| i.name == cr.index_name) {
                return Err(DynamoDbError::validation(
                    "Attempting to create an index which already exists",
                ));
            }
            let Some(defs) = input.attribute_definitions.as_deref() else {
                return Err(invalid(format!(
                    "AttributeDefinitions is not specified for index: {}",
                    cr.index_name
                )));
            };
            for d in defs {
                let ty = key_type_of(d)?;
                if let Some(existing) = meta.attribute_type(&d.attribute_name) {
                    if existing != ty {
                        return Err(invalid(format!(
                            "Cannot change the type of attribute {} from {} to {}",
                            d.attribute_name,
                            existing.as_str(),
                            ty.as_str()
                        )));
                    }
                }
            }
            check_key_elements(&cr.key_schema, defs)?;
            let ikey = to_schema(&cr.key_schema, defs)?;
            let projection = parse_projection(&cr.projection)?;
            let throughput = match (meta.billing_mode, &cr.provisioned_throughput) {
                (BillingMode::PayPerRequest, Some(_)) => {
                    return Err(invalid(format!(
                        "Neither ReadCapacityUnits nor WriteCapacityUnits can be specified for index: {} when BillingMode is PAY_PER_REQUEST",
                        cr.index_name
                    )))
                }
                (BillingMode::Provisioned, None) => {
                    return Err(invalid(format!(
                        "ProvisionedThroughput must be specified for index: {}",
                        cr.index_name
                    )))
                }
                (BillingMode::Provisioned, Some(pt)) => {
                    check_units(pt)?;
                    Some(throughput_from(pt))
                }
                (BillingMode::PayPerRequest, None) => None,
            };
            let on_demand = on_demand_from(
                cr.on_demand_throughput.as_ref(),
                meta.billing_mode,
                Some(&cr.index_name),
            )?;
            let gsi_count = meta
                .indexes
                .iter()
                .filter(|i| i.kind == IndexKind::Global)
                .count();
            if gsi_count >= MAX_GSI {
                return Err(DynamoDbError::LimitExceeded(format!(
                    "GlobalSecondaryIndex count exceeds the per-table limit of {MAX_GSI}"
                )));
            }
            for a in ikey.attrs() {
                if meta.attribute_type(&a.name).is_none() {
                    meta.attribute_definitions.push(a.clone());
                }
            }
            let index_id = meta.next_index_id;
            meta.next_index_id += 1;
            meta.indexes.push(IndexMeta {
                name: cr.index_name.clone(),
                kind: IndexKind::Global,
                key: ikey,
                projection,
                status: Status::Creating,
                backfilling: true,
                throughput,
                on_demand,
                index_id,
                insights: None,
            });
            job_list.push(Job::Backfill {
                account: meta.account_id.clone(),
                region: meta.region.clone(),
                name: meta.name.clone(),
                key_id: meta.key_id,
                index_id,
                cursor: None,
            });
        }
    }
    if !deleted.is_empty() {
        // Definitions only the removed index used go with it, as in AWS.
        let keep: Vec<String> = meta
            .key
            .attrs()
            .chain(meta.indexes.iter().flat_map(|i| i.key.attrs()))
            .map(|a| a.name.clone())
            .collect();
        meta.attribute_definitions
            .retain(|d| keep.contains(&d.name));
    }

    // Streams.
    if let Some(s) = &input.stream_specification {
        let enabled_now = meta.stream.as_ref().is_some_and(|x| x.enabled);
        if s.stream_enabled {
            let Some(view) = &s.stream_view_type else {
                return Err(invalid(
                    "If stream is being enabled then UpdateViewType is required",
                ));
            };
            if enabled_now {
                return Err(DynamoDbError::Validation(format!(
                    "Table already has an enabled stream: TableName: {}",
                    meta.name
                )));
            }
            meta.stream = Some(StreamMeta {
                enabled: true,
                view_type: view.as_str().to_string(),
                label: stream_label(now_ms),
            });
        } else {
            if s.stream_view_type.is_some() {
                return Err(invalid(
                    "If stream is being disabled, then UpdateViewType must not be specified",
                ));
            }
            if !enabled_now {
                return Err(DynamoDbError::Validation(format!(
                    "Table has no stream to disable: TableName: {}",
                    meta.name
                )));
            }
            if let Some(st) = meta.stream.as_mut() {
                st.enabled = false;
            }
        }
    }

    // Encryption.
    if let Some(spec) = &input.sse_specification {
        let next = parse_sse(Some(spec), &meta.region, &meta.account_id)?;
        match (&meta.sse, &next) {
            (None, None) => return Err(invalid("Table is already encrypted by default")),
            (Some(a), Some(b)) if a == b => {
                return Err(invalid(
                    "Table is already encrypted with given KMSMasterKeyId. Use KMSMasterKeyId parameter if you want to change Master Key",
                ))
            }
            _ => meta.sse = next,
        }
    }
    if let Some(class) = &input.table_class {
        if !class.is_known() {
            return Err(DynamoDbError::validation(
                "Invalid table-class parameter provided. Please try again with a valid table-class value: [STANDARD, STANDARD_INFREQUENT_ACCESS].",
            ));
        }
        meta.table_class = class.as_str().to_string();
        meta.table_class_updated_ms = Some(now_ms);
    }
    if let Some(p) = input.deletion_protection_enabled {
        meta.deletion_protection = p;
    }
    meta.version += 1;
    let protection_only = count == 1 && input.deletion_protection_enabled.is_some();
    let mut ids = Vec::with_capacity(job_list.len());
    for j in &job_list {
        ids.push(jobs::put_job(txn, j)?);
    }
    Ok(UpdatePlan {
        meta,
        deleted,
        jobs: ids,
        protection_only,
    })
}

pub async fn update_table(
    svc: &DynamoDb,
    ctx: &RequestContext,
    input: m::UpdateTableInput,
) -> Result<m::UpdateTableOutput, DynamoDbError> {
    let name = table_name_from(&input.table_name, ctx)?;
    if input.replica_updates.is_some() {
        return replication::update_replicas(svc, ctx, &name, &input).await;
    }
    let (account, region) = (ctx.account_id.clone(), ctx.region.clone());
    let now_ms = svc.now_millis();
    let name_in = name.clone();
    let input = Arc::new(input);
    let plan = svc
        .db()
        .write(move |txn| -> Result<(UpdatePlan, Stats), DynamoDbError> {
            let current = catalog::load_table(txn, &account, &region, &name_in)?
                .ok_or_else(|| table_not_found(&name_in))?;
            let plan = plan_update(txn, &current, &input, now_ms)?;
            catalog::save_table(txn, &plan.meta)?;
            let stats = Stats::read(txn, &plan.meta)?;
            Ok((plan, stats))
        })
        .await;
    let (plan, stats) = plan?;
    svc.invalidate_table(&plan.meta.account_id, &plan.meta.region, &plan.meta.name);
    for id in &plan.jobs {
        svc.jobs().start(*id);
    }
    let mut desc = describe(&plan.meta, &stats);
    if !plan.protection_only {
        desc.table_status = Some(m::TableStatus::Updating);
    }
    if !plan.deleted.is_empty() {
        let gsis = desc.global_secondary_indexes.get_or_insert_with(Vec::new);
        for d in &plan.deleted {
            let mut g = gsi_out(&plan.meta, d, &Stats::default());
            g.index_status = Some(m::IndexStatus::Deleting);
            gsis.push(g);
        }
    }
    Ok(m::UpdateTableOutput {
        table_description: Some(desc),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) mod tests {
    use super::*;
    use crate::ops::convert::attrs_into_item;
    use crate::ops::write;
    use nimbus_core::{ManualClock, Principal};
    use nimbus_store::Db;
    use std::collections::HashMap;

    pub fn ctx() -> RequestContext {
        RequestContext {
            account_id: "000000000000".into(),
            region: "us-east-1".into(),
            principal: Principal::root("000000000000", "test"),
            request_id: "req".into(),
        }
    }

    pub fn svc() -> DynamoDb {
        DynamoDb::new(
            Db::in_memory(),
            Arc::new(ManualClock::new(1_764_172_800_000)),
        )
    }

    fn def(n: &str, t: &str) -> m::AttributeDefinition {
        m::AttributeDefinition {
            attribute_name: n.into(),
            attribute_type: m::ScalarAttributeType::from(t),
        }
    }

    fn ks(h: &str, r: Option<&str>) -> Vec<m::KeySchemaElement> {
        let mut v = vec![m::KeySchemaElement {
            attribute_name: h.into(),
            key_type: m::KeyType::Hash,
        }];
        if let Some(r) = r {
            v.push(m::KeySchemaElement {
                attribute_name: r.into(),
                key_type: m::KeyType::Range,
            });
        }
        v
    }

    fn proj(t: &str) -> m::Projection {
        m::Projection {
            projection_type: Some(m::ProjectionType::from(t)),
            non_key_attributes: None,
        }
    }

    fn pt(r: i64, w: i64) -> m::ProvisionedThroughput {
        m::ProvisionedThroughput {
            read_capacity_units: r,
            write_capacity_units: w,
        }
    }

    /// PAY_PER_REQUEST table `name` with hash pk (S) and range sk (N).
    pub fn simple(name: &str) -> m::CreateTableInput {
        m::CreateTableInput {
            table_name: name.into(),
            attribute_definitions: Some(vec![def("pk", "S"), def("sk", "N")]),
            key_schema: Some(ks("pk", Some("sk"))),
            billing_mode: Some(m::BillingMode::PayPerRequest),
            ..Default::default()
        }
    }

    fn gsi(name: &str, h: &str, r: Option<&str>) -> m::GlobalSecondaryIndex {
        m::GlobalSecondaryIndex {
            index_name: name.into(),
            key_schema: ks(h, r),
            projection: proj("ALL"),
            ..Default::default()
        }
    }

    fn create_err(input: m::CreateTableInput) -> String {
        let e = build_table(&ctx(), &input, 0).unwrap_err();
        assert_eq!(e.code(), "ValidationException", "{e}");
        e.to_string()
    }

    #[test]
    fn create_validation_messages() {
        let mut i = simple("t");
        i.attribute_definitions = Some(vec![def("pk", "S"), def("sk", "N"), def("x", "S")]);
        assert_eq!(
            create_err(i),
            "One or more parameter values were invalid: Number of attributes in KeySchema does not exactly match number of attributes defined in AttributeDefinitions"
        );
        let mut i = simple("t");
        i.attribute_definitions = Some(vec![
            def("pk", "S"),
            def("sk", "N"),
            def("x", "S"),
            def("g", "S"),
        ]);
        i.global_secondary_indexes = Some(vec![gsi("gsi1", "g", None)]);
        assert_eq!(
            create_err(i),
            "One or more parameter values were invalid: Some AttributeDefinitions are not used. AttributeDefinitions: [pk, sk, x, g], keys used: [pk, sk, g]"
        );
        let mut i = simple("t");
        i.attribute_definitions = Some(vec![def("pk", "S")]);
        assert_eq!(
            create_err(i),
            "Invalid KeySchema: Some index key attribute have no definition"
        );
        let mut i = simple("t");
        i.attribute_definitions = Some(vec![def("pk", "S"), def("zz", "N")]);
        assert_eq!(
            create_err(i),
            "One or more parameter values were invalid: Some index key attributes are not defined in AttributeDefinitions. Keys: [pk, sk], AttributeDefinitions: [pk, zz]"
        );
        let mut i = simple("t");
        i.key_schema = Some(ks("pk", Some("pk")));
        assert_eq!(
            create_err(i),
            "Both the Hash Key and the Range Key element in the KeySchema have the same name"
        );
        let mut i = simple("t");
        i.key_schema = Some(vec![
            m::KeySchemaElement {
                attribute_name: "sk".into(),
                key_type: m::KeyType::Range,
            },
            m::KeySchemaElement {
                attribute_name: "pk".into(),
                key_type: m::KeyType::Hash,
            },
        ]);
        assert_eq!(
            create_err(i),
            "Invalid KeySchema: The first KeySchemaElement is not a HASH key type"
        );
        let mut i = simple("t");
        i.provisioned_throughput = Some(pt(1, 1));
        assert_eq!(
            create_err(i),
            "One or more parameter values were invalid: Neither ReadCapacityUnits nor WriteCapacityUnits can be specified when BillingMode is PAY_PER_REQUEST"
        );
        let mut i = simple("t");
        i.billing_mode = None;
        assert_eq!(
            create_err(i),
            "One or more parameter values were invalid: ReadCapacityUnits and WriteCapacityUnits must both be specified when BillingMode is PROVISIONED"
        );
        let mut i = simple("t");
        i.billing_mode = None;
        i.provisioned_throughput = Some(pt(1, 1));
        i.attribute_definitions = Some(vec![def("pk", "S"), def("sk", "N"), def("g", "S")]);
        i.global_secondary_indexes = Some(vec![gsi("gsi1", "g", None)]);
        assert_eq!(
            create_err(i),
            "One or more parameter values were invalid: ProvisionedThroughput is not specified for index: gsi1"
        );
        // LSI rules.
        let lsi = |name: &str, h: &str, r: Option<&str>| m::LocalSecondaryIndex {
            index_name: name.into(),
            key_schema: ks(h, r),
            projection: proj("KEYS_ONLY"),
        };
        let mut i = simple("t");
        i.attribute_definitions = Some(vec![def("pk", "S"), def("sk", "N"), def("l", "S")]);
        i.local_secondary_indexes = Some(vec![lsi("lsi1", "l", Some("sk"))]);
        assert_eq!(
            create_err(i),
            "One or more parameter values were invalid: Index KeySchema does not have the same leading hash key as table KeySchema for index: lsi1. index hash key: l, table hash key: pk"
        );
        let mut i = simple("t");
        i.attribute_definitions = Some(vec![def("pk", "S"), def("sk", "N"), def("l", "S")]);
        i.local_secondary_indexes = Some(vec![lsi("lsi1", "pk", None)]);
        assert_eq!(
            create_err(i),
            "One or more parameter values were invalid: Index KeySchema does not have a range key for index: lsi1"
        );
        let mut i = simple("t");
        i.attribute_definitions = Some(vec![def("pk", "S"), def("l", "S")]);
        i.key_schema = Some(ks("pk", None));
        i.local_secondary_indexes = Some(vec![lsi("lsi1", "pk", Some("l"))]);
        assert_eq!(
            create_err(i),
            "One or more parameter values were invalid: Table KeySchema does not have a range key, which is required when specifying a LocalSecondaryIndex"
        );
        let mut i = simple("t");
        i.attribute_definitions = Some(vec![def("pk", "S"), def("sk", "N"), def("l", "S")]);
        i.local_secondary_indexes = Some(
            (0..6)
                .map(|n| lsi(&format!("lsi{n}"), "pk", Some("l")))
                .collect(),
        );
        assert_eq!(
            create_err(i),
            "One or more parameter values were invalid: Number of LocalSecondaryIndexes exceeds per-table limit of 5"
        );
        let mut i = simple("t");
        i.attribute_definitions = Some(vec![def("pk", "S"), def("sk", "N"), def("g", "S")]);
        i.global_secondary_indexes = Some(
            (0..21)
                .map(|n| gsi(&format!("gsi{n}"), "g", None))
                .collect(),
        );
        assert_eq!(
            create_err(i),
            "One or more parameter values were invalid: GlobalSecondaryIndex count exceeds the per-table limit of 20"
        );
        let mut i = simple("t");
        i.attribute_definitions = Some(vec![def("pk", "S"), def("sk", "N"), def("g", "S")]);
        i.global_secondary_indexes = Some(vec![gsi("dup", "g", None), gsi("dup", "g", None)]);
        assert_eq!(
            create_err(i),
            "One or more parameter values were invalid: Duplicate index name: dup"
        );
        let mut i = simple("t");
        i.attribute_definitions = Some(vec![def("pk", "S"), def("sk", "N"), def("g", "S")]);
        let mut g = gsi("gsi1", "g", None);
        g.projection.non_key_attributes = Some(vec!["a".into()]);
        i.global_secondary_indexes = Some(vec![g]);
        assert_eq!(
            create_err(i),
            "One or more parameter values were invalid: ProjectionType is ALL, but NonKeyAttributes is specified"
        );
        let mut i = simple("t");
        i.stream_specification = Some(m::StreamSpecification {
            stream_enabled: true,
            stream_view_type: None,
        });
        assert_eq!(
            create_err(i),
            "One or more parameter values were invalid: Table is being created with a stream enabled, UpdateViewType is required"
        );
    }

    async fn describe_of(s: &DynamoDb, name: &str) -> m::TableDescription {
        describe_table(
            s,
            &ctx(),
            m::DescribeTableInput {
                table_name: name.into(),
            },
        )
        .await
        .unwrap()
        .table
        .unwrap()
    }

    #[tokio::test]
    async fn create_describe_list_delete() {
        let s = svc();
        let mut input = simple("orders");
        input.attribute_definitions = Some(vec![def("pk", "S"), def("sk", "N"), def("g", "S")]);
        input.global_secondary_indexes = Some(vec![gsi("by_g", "g", Some("sk"))]);
        input.stream_specification = Some(m::StreamSpecification {
            stream_enabled: true,
            stream_view_type: Some(m::StreamViewType::NewAndOldImages),
        });
        input.sse_specification = Some(m::SSESpecification {
            enabled: Some(true),
            ..Default::default()
        });
        input.tags = Some(vec![m::Tag {
            key: "env".into(),
            value: "dev".into(),
        }]);
        let out = create_table(&s, &ctx(), input.clone()).await.unwrap();
        let d = out.table_description.unwrap();
        assert_eq!(d.table_status, Some(m::TableStatus::Creating));
        assert_eq!(
            d.table_arn.as_deref(),
            Some("arn:aws:dynamodb:us-east-1:000000000000:table/orders")
        );
        assert_eq!(
            d.latest_stream_arn.as_deref(),
            Some("arn:aws:dynamodb:us-east-1:000000000000:table/orders/stream/2025-11-26T16:00:00.000")
        );
        assert_eq!(
            d.latest_stream_label.as_deref(),
            Some("2025-11-26T16:00:00.000")
        );
        let sse = d.sse_description.unwrap();
        assert_eq!(sse.status, Some(m::SSEStatus::Enabled));
        assert!(sse
            .kms_master_key_arn
            .unwrap()
            .starts_with("arn:aws:kms:us-east-1:000000000000:key/"));
        assert_eq!(
            d.global_secondary_indexes.unwrap()[0].index_status,
            Some(m::IndexStatus::Creating)
        );

        let err = create_table(&s, &ctx(), input).await.unwrap_err();
        assert_eq!(err.code(), "ResourceInUseException");
        assert_eq!(err.to_string(), "Table already exists: orders");

        let d = describe_of(&s, "orders").await;
        assert_eq!(d.table_status, Some(m::TableStatus::Active));
        assert_eq!(d.item_count, Some(0));
        assert_eq!(
            d.billing_mode_summary.unwrap().billing_mode,
            Some(m::BillingMode::PayPerRequest)
        );
        let p = d.provisioned_throughput.unwrap();
        assert_eq!(
            (
                p.read_capacity_units,
                p.write_capacity_units,
                p.number_of_decreases_today
            ),
            (Some(0), Some(0), Some(0))
        );
        let g = &d.global_secondary_indexes.unwrap()[0];
        assert_eq!(g.index_status, Some(m::IndexStatus::Active));
        assert_eq!(
            g.index_arn.as_deref(),
            Some("arn:aws:dynamodb:us-east-1:000000000000:table/orders/index/by_g")
        );
        // Same table by ARN.
        let by_arn = describe_of(&s, "arn:aws:dynamodb:us-east-1:000000000000:table/orders").await;
        assert_eq!(by_arn.table_id, d.table_id);

        // Items count through the shared write path.
        let meta = s.table(&ctx(), "orders").unwrap();
        let m2 = meta.clone();
        s.db()
            .write(move |txn| -> Result<(), DynamoDbError> {
                for n in 0..3 {
                    let mut it = HashMap::new();
                    it.insert(
                        "pk".to_string(),
                        crate::ops::convert::value_to_attr(&crate::value::Value::s("a")),
                    );
                    it.insert(
                        "sk".to_string(),
                        crate::ops::convert::value_to_attr(
                            &crate::value::Value::n(&n.to_string()).unwrap(),
                        ),
                    );
                    it.insert(
                        "g".to_string(),
                        crate::ops::convert::value_to_attr(&crate::value::Value::s("x")),
                    );
                    let item = attrs_into_item(it)?;
                    write::apply_item_change(
                        txn,
                        &m2,
                        None,
                        Some(&item),
                        &write::ChangeCtx::user(0),
                    )?;
                }
                Ok(())
            })
            .await
            .unwrap();
        let d = describe_of(&s, "orders").await;
        assert_eq!(d.item_count, Some(3));
        assert!(d.table_size_bytes.unwrap() > 0);
        assert_eq!(d.global_secondary_indexes.unwrap()[0].item_count, Some(3));

        for n in ["b", "a", "c"] {
            create_table(&s, &ctx(), simple(n)).await.unwrap();
        }
        let l = list_tables(&s, &ctx(), m::ListTablesInput::default())
            .await
            .unwrap();
        assert_eq!(l.table_names.unwrap(), vec!["a", "b", "c", "orders"]);
        assert_eq!(l.last_evaluated_table_name, None);
        let l = list_tables(
            &s,
            &ctx(),
            m::ListTablesInput {
                limit: Some(2),
                exclusive_start_table_name: None,
            },
        )
        .await
        .unwrap();
        assert_eq!(l.table_names.unwrap(), vec!["a", "b"]);
        assert_eq!(l.last_evaluated_table_name.as_deref(), Some("b"));
        let l = list_tables(
            &s,
            &ctx(),
            m::ListTablesInput {
                limit: Some(2),
                exclusive_start_table_name: Some("b".into()),
            },
        )
        .await
        .unwrap();
        assert_eq!(l.table_names.unwrap(), vec!["c", "orders"]);
        assert_eq!(l.last_evaluated_table_name, None);
        // Another region sees nothing.
        let mut other = ctx();
        other.region = "eu-west-1".into();
        let l = list_tables(&s, &other, m::ListTablesInput::default())
            .await
            .unwrap();
        assert!(l.table_names.unwrap().is_empty());

        let out = delete_table(
            &s,
            &ctx(),
            m::DeleteTableInput {
                table_name: "orders".into(),
            },
        )
        .await
        .unwrap();
        let d = out.table_description.unwrap();
        assert_eq!(d.table_status, Some(m::TableStatus::Deleting));
        assert_eq!(d.item_count, Some(3));
        let e = describe_table(
            &s,
            &ctx(),
            m::DescribeTableInput {
                table_name: "orders".into(),
            },
        )
        .await
        .unwrap_err();
        assert_eq!(e.code(), "ResourceNotFoundException");
        assert_eq!(
            e.to_string(),
            "Requested resource not found: Table: orders not found"
        );
        assert_eq!(
            s.table(&ctx(), "orders").unwrap_err().to_string(),
            "Requested resource not found"
        );
        assert!(s.wait_for_background_jobs(5_000).await);
        // Items and index entries are gone from the store.
        let snap = s.db().snapshot().unwrap();
        for p in [
            layout::item_prefix(&meta.key_id),
            layout::table_index_prefix(&meta.key_id),
        ] {
            let (lo, hi) = layout::prefix_range(&p);
            assert!(snap
                .range(layout::bound_ref(&lo), layout::bound_ref(&hi), false, 10)
                .unwrap()
                .is_empty());
        }
        let e = delete_table(
            &s,
            &ctx(),
            m::DeleteTableInput {
                table_name: "orders".into(),
            },
        )
        .await
        .unwrap_err();
        assert_eq!(e.code(), "ResourceNotFoundException");
    }

    #[tokio::test]
    async fn deletion_protection() {
        let s = svc();
        let mut i = simple("p");
        i.deletion_protection_enabled = Some(true);
        create_table(&s, &ctx(), i).await.unwrap();
        let e = delete_table(
            &s,
            &ctx(),
            m::DeleteTableInput {
                table_name: "p".into(),
            },
        )
        .await
        .unwrap_err();
        assert_eq!(e.code(), "ValidationException");
        assert_eq!(e.to_string(), "Resource cannot be deleted as it is currently protected against deletion. Disable deletion protection first.");
        let out = update_table(
            &s,
            &ctx(),
            m::UpdateTableInput {
                table_name: "p".into(),
                deletion_protection_enabled: Some(false),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        assert_eq!(
            out.table_description.unwrap().deletion_protection_enabled,
            Some(false)
        );
        delete_table(
            &s,
            &ctx(),
            m::DeleteTableInput {
                table_name: "p".into(),
            },
        )
        .await
        .unwrap();
    }

    #[tokio::test]
    async fn update_throughput_and_billing() {
        let s = svc();
        let mut i = simple("t");
        i.billing_mode = None;
        i.provisioned_throughput = Some(pt(5, 5));
        create_table(&s, &ctx(), i).await.unwrap();
        let upd =
            |p: Option<m::ProvisionedThroughput>, b: Option<m::BillingMode>| m::UpdateTableInput {
                table_name: "t".into(),
                provisioned_throughput: p,
                billing_mode: b,
                ..Default::default()
            };
        let e = update_table(&s, &ctx(), upd(Some(pt(5, 5)), None))
            .await
            .unwrap_err();
        assert_eq!(e.to_string(), "The provisioned throughput for the table will not change. The requested value equals the current value. Current ReadCapacityUnits provisioned for the table: 5. Requested ReadCapacityUnits: 5. Current WriteCapacityUnits provisioned for the table: 5. Requested WriteCapacityUnits: 5. Refer to the Amazon DynamoDB Developer Guide for current limits and how to request higher limits.");
        let e = update_table(&s, &ctx(), upd(None, None)).await.unwrap_err();
        assert_eq!(e.to_string(), MSG_UPDATE_NOTHING);
        let out = update_table(&s, &ctx(), upd(Some(pt(3, 10)), None))
            .await
            .unwrap();
        let d = out.table_description.unwrap();
        assert_eq!(d.table_status, Some(m::TableStatus::Updating));
        let p = d.provisioned_throughput.unwrap();
        assert_eq!(
            (p.read_capacity_units, p.write_capacity_units),
            (Some(3), Some(10))
        );
        assert_eq!(p.number_of_decreases_today, Some(1));
        assert!(p.last_increase_date_time.is_some() && p.last_decrease_date_time.is_some());
        assert_eq!(
            describe_of(&s, "t").await.table_status,
            Some(m::TableStatus::Active)
        );

        let e = update_table(
            &s,
            &ctx(),
            upd(Some(pt(1, 1)), Some(m::BillingMode::PayPerRequest)),
        )
        .await
        .unwrap_err();
        assert_eq!(e.to_string(), "One or more parameter values were invalid: Neither ReadCapacityUnits nor WriteCapacityUnits can be specified when BillingMode is PAY_PER_REQUEST");
        update_table(&s, &ctx(), upd(None, Some(m::BillingMode::PayPerRequest)))
            .await
            .unwrap();
        let d = describe_of(&s, "t").await;
        assert_eq!(
            d.billing_mode_summary.unwrap().billing_mode,
            Some(m::BillingMode::PayPerRequest)
        );
        assert_eq!(
            d.provisioned_throughput.unwrap().read_capacity_units,
            Some(0)
        );
        let e = update_table(&s, &ctx(), upd(None, Some(m::BillingMode::Provisioned)))
            .await
            .unwrap_err();
        assert_eq!(e.to_string(), "One or more parameter values were invalid: ProvisionedThroughput must be specified when BillingMode is PROVISIONED");
        update_table(
            &s,
            &ctx(),
            upd(Some(pt(7, 8)), Some(m::BillingMode::Provisioned)),
        )
        .await
        .unwrap();
        let d = describe_of(&s, "t").await;
        assert_eq!(
            d.provisioned_throughput.unwrap().read_capacity_units,
            Some(7)
        );
        assert_eq!(
            d.billing_mode_summary.unwrap().billing_mode,
            Some(m::BillingMode::Provisioned)
        );
    }

    #[tokio::test]
    async fn streams_update() {
        let s = svc();
        create_table(&s, &ctx(), simple("t")).await.unwrap();
        let upd = |enabled: bool, view: Option<m::StreamViewType>| m::UpdateTableInput {
            table_name: "t".into(),
            stream_specification: Some(m::StreamSpecification {
                stream_enabled: enabled,
                stream_view_type: view,
            }),
            ..Default::default()
        };
        let e = update_table(&s, &ctx(), upd(false, None))
            .await
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "Table has no stream to disable: TableName: t"
        );
        let e = update_table(&s, &ctx(), upd(true, None)).await.unwrap_err();
        assert_eq!(e.to_string(), "One or more parameter values were invalid: If stream is being enabled then UpdateViewType is required");
        update_table(&s, &ctx(), upd(true, Some(m::StreamViewType::KeysOnly)))
            .await
            .unwrap();
        let d = describe_of(&s, "t").await;
        assert_eq!(
            d.stream_specification.unwrap().stream_view_type,
            Some(m::StreamViewType::KeysOnly)
        );
        let e = update_table(&s, &ctx(), upd(true, Some(m::StreamViewType::KeysOnly)))
            .await
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "Table already has an enabled stream: TableName: t"
        );
        update_table(&s, &ctx(), upd(false, None)).await.unwrap();
        let d = describe_of(&s, "t").await;
        assert!(d.stream_specification.is_none());
        assert!(d.latest_stream_arn.is_some());
    }

    fn put_items(s: &DynamoDb, name: &str, n: usize) {
        let meta = s.table(&ctx(), name).unwrap();
        s.db()
            .write_blocking(move |txn| -> Result<(), DynamoDbError> {
                for k in 0..n {
                    let mut item = crate::value::Item::new();
                    item.insert("pk".into(), crate::value::Value::s(format!("p{k}")));
                    item.insert("sk".into(), crate::value::Value::n("1").unwrap());
                    if k % 2 == 0 {
                        item.insert("g".into(), crate::value::Value::s(format!("g{}", k % 7)));
                    }
                    write::apply_item_change(
                        txn,
                        &meta,
                        None,
                        Some(&item),
                        &write::ChangeCtx::user(0),
                    )?;
                }
                Ok(())
            })
            .unwrap();
    }

    #[tokio::test]
    async fn gsi_create_backfills_and_delete_purges() {
        let s = svc();
        create_table(&s, &ctx(), simple("t")).await.unwrap();
        put_items(&s, "t", 2_500);
        let create = m::UpdateTableInput {
            table_name: "t".into(),
            attribute_definitions: Some(vec![def("g", "S")]),
            global_secondary_index_updates: Some(vec![m::GlobalSecondaryIndexUpdate {
                create: Some(m::CreateGlobalSecondaryIndexAction {
                    index_name: "gi".into(),
                    key_schema: ks("g", None),
                    projection: proj("KEYS_ONLY"),
                    ..Default::default()
                }),
                ..Default::default()
            }]),
            ..Default::default()
        };
        let out = update_table(&s, &ctx(), create.clone()).await.unwrap();
        let g = &out
            .table_description
            .unwrap()
            .global_secondary_indexes
            .unwrap()[0];
        assert_eq!(g.index_status, Some(m::IndexStatus::Creating));
        assert_eq!(g.backfilling, Some(true));
        // A second create while the first is backfilling is refused (or, if the backfill
        // already finished, the name exists).
        let e = update_table(&s, &ctx(), create.clone()).await.unwrap_err();
        assert!(
            e.code() == "LimitExceededException"
                || e.to_string() == "Attempting to create an index which already exists",
            "{e}"
        );
        assert!(s.wait_for_background_jobs(10_000).await);
        let d = describe_of(&s, "t").await;
        let g = &d.global_secondary_indexes.unwrap()[0];
        assert_eq!(g.index_status, Some(m::IndexStatus::Active));
        assert_eq!(g.backfilling, None);
        assert_eq!(g.item_count, Some(1_250));
        assert_eq!(d.item_count, Some(2_500));
        let names: Vec<String> = d
            .attribute_definitions
            .unwrap()
            .into_iter()
            .map(|a| a.attribute_name)
            .collect();
        assert_eq!(names, vec!["pk", "sk", "g"]);

        let e = update_table(&s, &ctx(), create).await.unwrap_err();
        assert_eq!(
            e.to_string(),
            "Attempting to create an index which already exists"
        );

        let out = update_table(
            &s,
            &ctx(),
            m::UpdateTableInput {
                table_name: "t".into(),
                global_secondary_index_updates: Some(vec![m::GlobalSecondaryIndexUpdate {
                    delete: Some(m::DeleteGlobalSecondaryIndexAction {
                        index_name: "gi".into(),
                    }),
                    ..Default::default()
                }]),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        let g = &out
            .table_description
            .unwrap()
            .global_secondary_indexes
            .unwrap()[0];
        assert_eq!(g.index_status, Some(m::IndexStatus::Deleting));
        assert!(s.wait_for_background_jobs(10_000).await);
        let d = describe_of(&s, "t").await;
        assert!(d.global_secondary_indexes.is_none());
        assert_eq!(d.attribute_definitions.unwrap().len(), 2);
        let meta = s.table(&ctx(), "t").unwrap();
        let snap = s.db().snapshot().unwrap();
        let (lo, hi) = layout::prefix_range(&layout::table_index_prefix(&meta.key_id));
        assert!(snap
            .range(layout::bound_ref(&lo), layout::bound_ref(&hi), false, 10)
            .unwrap()
            .is_empty());
    }

    #[tokio::test]
    async fn gsi_update_validation() {
        let s = svc();
        create_table(&s, &ctx(), simple("t")).await.unwrap();
        let two = m::UpdateTableInput {
            table_name: "t".into(),
            attribute_definitions: Some(vec![def("g", "S"), def("h", "S")]),
            global_secondary_index_updates: Some(vec![
                m::GlobalSecondaryIndexUpdate {
                    create: Some(m::CreateGlobalSecondaryIndexAction {
                        index_name: "g1".into(),
                        key_schema: ks("g", None),
                        projection: proj("ALL"),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
                m::GlobalSecondaryIndexUpdate {
                    create: Some(m::CreateGlobalSecondaryIndexAction {
                        index_name: "g2".into(),
                        key_schema: ks("h", None),
                        projection: proj("ALL"),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
            ]),
            ..Default::default()
        };
        let e = update_table(&s, &ctx(), two).await.unwrap_err();
        assert_eq!(e.code(), "LimitExceededException");
        let missing_defs = m::UpdateTableInput {
            table_name: "t".into(),
            global_secondary_index_updates: Some(vec![m::GlobalSecondaryIndexUpdate {
                create: Some(m::CreateGlobalSecondaryIndexAction {
                    index_name: "g1".into(),
                    key_schema: ks("g", None),
                    projection: proj("ALL"),
                    provisioned_throughput: Some(pt(1, 1)),
                    ..Default::default()
                }),
                ..Default::default()
            }]),
            ..Default::default()
        };
        let e = update_table(&s, &ctx(), missing_defs.clone())
            .await
            .unwrap_err();
        assert_eq!(e.to_string(), "One or more parameter values were invalid: AttributeDefinitions is not specified for index: g1");
        let mut with_defs = missing_defs;
        with_defs.attribute_definitions = Some(vec![def("g", "S")]);
        let e = update_table(&s, &ctx(), with_defs).await.unwrap_err();
        assert_eq!(e.to_string(), "One or more parameter values were invalid: Neither ReadCapacityUnits nor WriteCapacityUnits can be specified for index: g1 when BillingMode is PAY_PER_REQUEST");
        let e = update_table(
            &s,
            &ctx(),
            m::UpdateTableInput {
                table_name: "t".into(),
                global_secondary_index_updates: Some(vec![m::GlobalSecondaryIndexUpdate {
                    delete: Some(m::DeleteGlobalSecondaryIndexAction {
                        index_name: "nope".into(),
                    }),
                    ..Default::default()
                }]),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
        assert_eq!(e.code(), "ResourceNotFoundException");
        let e = update_table(
            &s,
            &ctx(),
            m::UpdateTableInput {
                table_name: "missing".into(),
                deletion_protection_enabled: Some(true),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "Requested resource not found: Table: missing not found"
        );
    }

    #[test]
    fn labels_and_names() {
        assert_eq!(stream_label(1_764_172_800_000), "2025-11-26T16:00:00.000");
        assert_eq!(stream_label(1_764_172_800_123), "2025-11-26T16:00:00.123");
        let c = ctx();
        assert_eq!(table_name_from("t1", &c).unwrap(), "t1");
        assert_eq!(
            table_name_from("arn:aws:dynamodb:us-east-1:000000000000:table/t1", &c).unwrap(),
            "t1"
        );
        assert!(table_name_from("arn:aws:dynamodb:us-west-2:000000000000:table/t1", &c).is_err());
        assert_eq!(
            kms_key_arn("us-east-1", "1", Some("alias/x")),
            "arn:aws:kms:us-east-1:1:alias/x"
        );
        assert_eq!(kms_key_arn("r", "a", None), kms_key_arn("r", "a", None));
        assert_ne!(kms_key_arn("r", "a", None), kms_key_arn("r", "b", None));
    }
}
