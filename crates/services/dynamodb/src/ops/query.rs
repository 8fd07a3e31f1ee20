//! Query and Scan: one page of a table or a secondary index, read from one snapshot.
//!
//! A page ends when `Limit` items have been evaluated (before the filter, as DynamoDB
//! counts them), when the items read reach 1 MB, or when the range is exhausted. The
//! first two return `LastEvaluatedKey` (the key of the last item evaluated, with the
//! index key for index reads), without looking ahead, as DynamoDB does. The store is read
//! in bounded batches, so no request holds more than about one page in memory.
//!
//! Parallel Scan: item and index keys start with the partition hash
//! (`layout::partition_hash32`), so segment `s` of `TotalSegments` is one contiguous key
//! range (`layout::segment_range`) and a segment scan reads only its own items. Every
//! item is in exactly one segment, and the assignment never changes.

use std::ops::Bound;
use std::sync::Arc;

use nimbus_core::RequestContext;
use nimbus_model::dynamodb::*;
use nimbus_store::ReadTxn;

use crate::error::DynamoDbError;
use crate::expr::{self, legacy, Condition, ExprKind, ExpressionContext, KeyCondition};
use crate::keycodec::KeyType;
use crate::ops::capacity::{CapacityMode, Usage};
use crate::ops::catalog::{
    IndexKind, IndexMeta, KeySchema, Projection as IndexProjection, TableMeta,
};
use crate::ops::convert::item_into_attrs;
use crate::ops::items::key_names;
use crate::ops::layout;
use crate::ops::params;
use crate::ops::write::{self, PrimaryKey};
use crate::ops::DynamoDb;
use crate::size::{item_size, read_units_for_total, ReadMode};
use crate::value::Item;

/// Most bytes of items one page reads (DynamoDB's 1 MB).
pub const MAX_PAGE_BYTES: usize = 1024 * 1024;
/// Most store entries one range call returns: bounds the memory of a batch together
/// with the adaptive sizing in `next_batch`.
const MAX_BATCH_ENTRIES: usize = 256;

pub(crate) const MSG_START_KEY_INVALID: &str = "The provided starting key is invalid";
const MSG_CONSISTENT_GSI: &str = "Consistent reads are not supported on global secondary indexes";

/// What the request asked to return.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SelectKind {
    AllAttributes,
    AllProjected,
    Specific,
    Count,
}

/// AWS's rules for `Select` against the projection parameters (before the table is
/// known). `projection_param` names the projection parameter present, if any.
fn resolve_select(
    select: Option<&Select>,
    projection_param: Option<&str>,
    has_index: bool,
) -> Result<SelectKind, DynamoDbError> {
    let conflict = |what: &str| match projection_param {
        Some(p) => Err(DynamoDbError::Validation(format!(
            "Cannot specify the {p} when choosing to get {what}"
        ))),
        None => Ok(()),
    };
    match select {
        Some(Select::Count) => {
            conflict("only the Count")?;
            Ok(SelectKind::Count)
        }
        Some(Select::AllAttributes) => {
            conflict("ALL_ATTRIBUTES")?;
            Ok(SelectKind::AllAttributes)
        }
        Some(Select::AllProjectedAttributes) => {
            conflict("ALL_PROJECTED_ATTRIBUTES")?;
            if !has_index {
                return Err(DynamoDbError::validation(
                    "ALL_PROJECTED_ATTRIBUTES can be used only when Querying using an IndexName",
                ));
            }
            Ok(SelectKind::AllProjected)
        }
        Some(Select::SpecificAttributes) => {
            if projection_param.is_none() {
                return Err(DynamoDbError::validation(
                    "Must specify the AttributesToGet or ProjectionExpression when choosing to get SPECIFIC_ATTRIBUTES",
                ));
            }
            Ok(SelectKind::Specific)
        }
        _ => Ok(match (projection_param, has_index) {
            (Some(_), _) => SelectKind::Specific,
            (None, true) => SelectKind::AllProjected,
            (None, false) => SelectKind::AllAttributes,
        }),
    }
}

/// The exclusive start key, converted (its value errors carry the start-key prefix).
fn start_key(
    esk: Option<std::collections::HashMap<String, AttributeValue>>,
) -> Result<Option<Item>, DynamoDbError> {
    match esk {
        None => Ok(None),
        Some(map) => params::item(map).map(Some).map_err(|e| match e {
            DynamoDbError::Validation(m) => {
                DynamoDbError::Validation(format!("{MSG_START_KEY_INVALID}: {m}"))
            }
            other => other,
        }),
    }
}

/// The validated parts of a Query or Scan that do not depend on the key condition.
pub(crate) struct Plan {
    pub(crate) table: Arc<TableMeta>,
    pub(crate) index: Option<IndexMeta>,
    pub(crate) filter: Option<Condition>,
    pub(crate) projection: Option<expr::Projection>,
    pub(crate) count_only: bool,
    /// Index reads whose items must come from the table (LSI, attributes not projected).
    pub(crate) fetch_from_table: bool,
    pub(crate) limit: Option<usize>,
    pub(crate) read_mode: ReadMode,
    /// Attributes of LastEvaluatedKey: the table key, then the index key.
    pub(crate) start_key_names: Vec<String>,
}

/// One page's result.
#[derive(Debug, Default)]
pub(crate) struct Page {
    pub(crate) items: Vec<Item>,
    pub(crate) count: usize,
    pub(crate) scanned: usize,
    pub(crate) last_key: Option<Item>,
    pub(crate) table_bytes: usize,
    pub(crate) index_bytes: usize,
}

/// Looks up the index a request names, with AWS's errors.
pub(crate) fn find_index(table: &TableMeta, name: &str) -> Result<IndexMeta, DynamoDbError> {
    let index = table.index(name).ok_or_else(|| {
        DynamoDbError::Validation(format!(
            "The table does not have the specified index: {name}"
        ))
    })?;
    if index.is_backfilling() {
        return Err(DynamoDbError::Validation(format!(
            "Cannot read from backfilling global secondary index: {name}"
        )));
    }
    Ok(index.clone())
}

/// Whether an index stores the top-level attribute `name`.
fn index_projects(table: &TableMeta, index: &IndexMeta, name: &str) -> bool {
    match &index.projection {
        IndexProjection::All => true,
        IndexProjection::KeysOnly => table.key.contains(name) || index.key.contains(name),
        IndexProjection::Include(extra) => {
            table.key.contains(name) || index.key.contains(name) || extra.iter().any(|e| e == name)
        }
    }
}

/// Builds the plan once table and index are known: Select against the index projection,
/// projection paths on keys, consistent reads on GSIs.
#[allow(clippy::too_many_arguments)]
pub(crate) fn plan(
    table: Arc<TableMeta>,
    index: Option<IndexMeta>,
    select: SelectKind,
    filter: Option<Condition>,
    projection: Option<expr::Projection>,
    limit: Option<i32>,
    consistent_read: bool,
) -> Result<Plan, DynamoDbError> {
    if let Some(ix) = &index {
        if ix.kind == IndexKind::Global && consistent_read {
            return Err(DynamoDbError::validation(MSG_CONSISTENT_GSI));
        }
    }
    let table_keys = key_names(&table);
    if let Some(p) = &projection {
        expr::check_key_paths(p.paths(), &table_keys)?;
    }
    if let Some(f) = &filter {
        let mut paths: Vec<&expr::Path> = Vec::new();
        f.for_each_path(&mut |p| paths.push(p));
        expr::check_key_paths(paths, &table_keys)?;
    }
    drop(table_keys);
    let mut fetch_from_table = false;
    if let Some(ix) = &index {
        let not_all = !matches!(ix.projection, IndexProjection::All);
        if select == SelectKind::AllAttributes && not_all {
            if ix.kind == IndexKind::Global {
                return Err(DynamoDbError::Validation(format!(
                    "One or more parameter values were invalid: Select type ALL_ATTRIBUTES is not supported for global secondary index {} because its projection type is not ALL",
                    ix.name
                )));
            }
            fetch_from_table = true;
        }
        if let Some(p) = &projection {
            let mut missing: Vec<&str> = Vec::new();
            for top in p.top_level_names() {
                if !index_projects(&table, ix, top) && !missing.contains(&top) {
                    missing.push(top);
                }
            }
            if !missing.is_empty() {
                if ix.kind == IndexKind::Global {
                    return Err(DynamoDbError::Validation(format!(
                        "One or more parameter values were invalid: Global secondary index {} does not project [{}]",
                        ix.name,
                        missing.join(", ")
                    )));
                }
                fetch_from_table = true;
            }
        }
    }
    let mut start_key_names: Vec<String> = table.key.attrs().map(|a| a.name.clone()).collect();
    if let Some(ix) = &index {
        for a in ix.key.attrs() {
            if !start_key_names.contains(&a.name) {
                start_key_names.push(a.name.clone());
            }
        }
    }
    Ok(Plan {
        read_mode: if consistent_read {
            ReadMode::Strong
        } else {
            ReadMode::Eventual
        },
        limit: limit.map(|l| usize::try_from(l).unwrap_or(1).max(1)),
        count_only: select == SelectKind::Count,
        table,
        index,
        filter,
        projection,
        fetch_from_table,
        start_key_names,
    })
}

/// The key schema being read (the index's, or the table's).
fn target_schema(plan: &Plan) -> &KeySchema {
    match &plan.index {
        Some(ix) => &ix.key,
        None => &plan.table.key,
    }
}

/// Validates an ExclusiveStartKey's shape against the table and index keys. Returns the
/// table key it names. `strict_count_message` is the message when it has the wrong number
/// of attributes (Scan on a table words it differently).
pub(crate) fn check_start_key(
    plan: &Plan,
    esk: &Item,
    count_message: &str,
) -> Result<PrimaryKey, DynamoDbError> {
    if esk.len() != plan.start_key_names.len() {
        return Err(DynamoDbError::validation(count_message));
    }
    for attr in target_schema(plan).attrs() {
        let Some(v) = esk.get(&attr.name) else {
            return Err(DynamoDbError::validation(MSG_START_KEY_INVALID));
        };
        if KeyType::of(v) != Some(attr.ty) {
            return Err(DynamoDbError::validation(write::MSG_KEY_SCHEMA_MISMATCH));
        }
    }
    let mut table_key = Item::with_capacity(2);
    for a in plan.table.key.attrs() {
        if let Some(v) = esk.get(&a.name) {
            table_key.insert(a.name.clone(), v.clone());
        }
    }
    write::key_from_map(&plan.table, &table_key).map_err(|e| match e {
        DynamoDbError::Validation(m) => {
            DynamoDbError::Validation(format!("{MSG_START_KEY_INVALID}: {m}"))
        }
        other => other,
    })
}

/// The store key an ExclusiveStartKey stands for (item key, or index entry key).
pub(crate) fn start_store_key(
    plan: &Plan,
    esk: &Item,
    key: &PrimaryKey,
) -> Result<Vec<u8>, DynamoDbError> {
    match &plan.index {
        None => key.store_key(&plan.table),
        Some(ix) => {
            let missing = || DynamoDbError::validation(MSG_START_KEY_INVALID);
            let ih = esk.get(&ix.key.hash.name).ok_or_else(missing)?;
            let ir = match &ix.key.range {
                Some(r) => Some(esk.get(&r.name).ok_or_else(missing)?),
                None => None,
            };
            layout::index_entry_key(
                &plan.table.key_id,
                ix.index_id,
                ih,
                ir,
                &key.hash,
                key.range.as_ref(),
            )
        }
    }
}

/// Where a page reads.
pub(crate) struct Range {
    pub(crate) lo: Bound<Vec<u8>>,
    pub(crate) hi: Bound<Vec<u8>>,
    pub(crate) reverse: bool,
}

fn as_ref_bound(b: &Bound<Vec<u8>>) -> Bound<&[u8]> {
    match b {
        Bound::Included(k) => Bound::Included(k.as_slice()),
        Bound::Excluded(k) => Bound::Excluded(k.as_slice()),
        Bound::Unbounded => Bound::Unbounded,
    }
}

/// Entries to ask the store for next: what is left of the limit, and no more than the
/// rest of the 1 MB page at the average entry size seen so far.
fn next_batch(
    remaining_limit: Option<usize>,
    page_bytes: usize,
    seen: usize,
    seen_bytes: usize,
) -> usize {
    let by_limit = remaining_limit.unwrap_or(MAX_BATCH_ENTRIES);
    let by_size = match seen_bytes.checked_div(seen) {
        None => 16,
        Some(avg) => MAX_PAGE_BYTES.saturating_sub(page_bytes) / avg.max(1) + 1,
    };
    by_limit.min(by_size).clamp(1, MAX_BATCH_ENTRIES)
}

fn key_of(names: &[String], item: &Item) -> Item {
    let mut k = Item::with_capacity(names.len());
    for n in names {
        if let Some(v) = item.get(n) {
            k.insert(n.clone(), v.clone());
        }
    }
    k
}

/// Reads one page.
pub(crate) fn read_page(
    snapshot: &dyn ReadTxn,
    plan: &Plan,
    mut range: Range,
) -> Result<Page, DynamoDbError> {
    let mut page = Page::default();
    let mut seen = 0usize;
    let mut seen_bytes = 0usize;
    loop {
        let remaining = plan.limit.map(|l| l.saturating_sub(page.scanned));
        let page_bytes = page.index_bytes + page.table_bytes;
        let want = next_batch(remaining, page_bytes, seen, seen_bytes);
        let entries = snapshot.range(
            as_ref_bound(&range.lo),
            as_ref_bound(&range.hi),
            range.reverse,
            want,
        )?;
        let exhausted = entries.len() < want;
        for (key, value) in entries {
            seen += 1;
            seen_bytes += key.len() + value.len();
            if range.reverse {
                range.hi = Bound::Excluded(key);
            } else {
                range.lo = Bound::Excluded(key);
            }
            let stored = layout::decode_item(&value)?;
            page.scanned += 1;
            let size = item_size(&stored);
            if plan.index.is_some() {
                page.index_bytes += size;
            } else {
                page.table_bytes += size;
            }
            let last_key = key_of(&plan.start_key_names, &stored);
            let item = if plan.fetch_from_table {
                let pk = write::key_of_item(&plan.table, &stored)?;
                match write::read_item(snapshot, &plan.table, &pk)? {
                    Some(full) => {
                        page.table_bytes += item_size(&full);
                        full
                    }
                    // The index entry and the item change together; a missing item
                    // means the entry is stale, and DynamoDB would not return it.
                    None => stored,
                }
            } else {
                stored
            };
            let passes = plan.filter.as_ref().is_none_or(|f| f.evaluate(&item));
            if passes {
                page.count += 1;
                if !plan.count_only {
                    page.items.push(match &plan.projection {
                        Some(p) => p.apply(&item),
                        None => item,
                    });
                }
            }
            let limit_hit = plan.limit.is_some_and(|l| page.scanned >= l);
            if limit_hit || page.index_bytes + page.table_bytes >= MAX_PAGE_BYTES {
                page.last_key = Some(last_key);
                return Ok(page);
            }
        }
        if exhausted {
            return Ok(page);
        }
    }
}

/// The capacity a page consumed.
pub(crate) fn page_capacity(
    plan: &Plan,
    page: &Page,
    mode: CapacityMode,
) -> Option<ConsumedCapacity> {
    if !mode.wanted() {
        return None;
    }
    let mut usage = Usage::new(&plan.table.name);
    match &plan.index {
        None => usage
            .table_units()
            .add_read(read_units_for_total(page.table_bytes, plan.read_mode)),
        Some(ix) => {
            usage
                .index_units(ix)
                .add_read(read_units_for_total(page.index_bytes, plan.read_mode));
            if plan.fetch_from_table {
                usage
                    .table_units()
                    .add_read(read_units_for_total(page.table_bytes, plan.read_mode));
            }
        }
    }
    usage.to_consumed(mode)
}

/// The wire members of a page.
struct PageOut {
    items: Option<Vec<std::collections::HashMap<String, AttributeValue>>>,
    count: Option<i32>,
    scanned_count: Option<i32>,
    last_evaluated_key: Option<std::collections::HashMap<String, AttributeValue>>,
}

fn page_output(page: Page, count_only: bool) -> PageOut {
    PageOut {
        items: (!count_only).then(|| page.items.into_iter().map(item_into_attrs).collect()),
        count: Some(i32::try_from(page.count).unwrap_or(i32::MAX)),
        scanned_count: Some(i32::try_from(page.scanned).unwrap_or(i32::MAX)),
        last_evaluated_key: page.last_key.map(item_into_attrs),
    }
}

/// Converts the key condition's sort part for `layout::sort_key_range`.
pub(crate) fn layout_sort(c: &expr::SortCondition) -> layout::SortCondition<'_> {
    match c {
        expr::SortCondition::Eq(v) => layout::SortCondition::Eq(v),
        expr::SortCondition::Lt(v) => layout::SortCondition::Lt(v),
        expr::SortCondition::Le(v) => layout::SortCondition::Le(v),
        expr::SortCondition::Gt(v) => layout::SortCondition::Gt(v),
        expr::SortCondition::Ge(v) => layout::SortCondition::Ge(v),
        expr::SortCondition::Between(a, b) => layout::SortCondition::Between(a, b),
        expr::SortCondition::BeginsWith(v) => layout::SortCondition::BeginsWith(v),
    }
}

pub async fn query(
    svc: &DynamoDb,
    ctx: &RequestContext,
    input: QueryInput,
) -> Result<QueryOutput, DynamoDbError> {
    let QueryInput {
        table_name,
        index_name,
        select,
        attributes_to_get,
        limit,
        consistent_read,
        key_conditions,
        query_filter,
        conditional_operator,
        scan_index_forward,
        exclusive_start_key,
        return_consumed_capacity,
        projection_expression,
        filter_expression,
        key_condition_expression,
        expression_attribute_names: names,
        expression_attribute_values: values,
    } = input;
    params::check_expression_params(
        &[
            ("AttributesToGet", attributes_to_get.is_some()),
            ("QueryFilter", query_filter.is_some()),
            ("ConditionalOperator", conditional_operator.is_some()),
            // KeyConditions may accompany the other expressions when there is no
            // KeyConditionExpression.
            (
                "KeyConditions",
                key_conditions.is_some() && key_condition_expression.is_some(),
            ),
        ],
        &[
            ("ProjectionExpression", projection_expression.is_some()),
            ("FilterExpression", filter_expression.is_some()),
            ("KeyConditionExpression", key_condition_expression.is_some()),
        ],
        &["FilterExpression", "KeyConditionExpression"],
        names.is_some(),
        values.is_some(),
    )?;
    let legacy_filter_names: Vec<String> = query_filter
        .as_ref()
        .map(|f| f.keys().cloned().collect())
        .unwrap_or_default();
    let legacy_filter = params::filter(query_filter, conditional_operator.as_ref())?;
    let legacy_projection = match &attributes_to_get {
        Some(n) => Some(legacy::attributes_to_get_projection(n)?),
        None => None,
    };
    let esk = start_key(exclusive_start_key)?;
    if key_conditions.is_none() && key_condition_expression.is_none() {
        return Err(DynamoDbError::validation(
            "Either the KeyConditions or KeyConditionExpression parameter must be specified in the request.",
        ));
    }
    let values = params::prepare_placeholders(names.as_ref(), values)?;
    let mut cx = ExpressionContext::new(names.as_ref(), values.as_ref());
    let key_condition = match &key_condition_expression {
        Some(text) => Some(cx.condition(ExprKind::KeyCondition, text)?),
        None => None,
    };
    let filter = match &filter_expression {
        Some(text) => Some(cx.condition(ExprKind::Filter, text)?),
        None => legacy_filter,
    };
    let projection = match &projection_expression {
        Some(text) => Some(cx.projection(text)?),
        None => legacy_projection,
    };
    cx.finish()?;
    let legacy_keys = match (key_condition.is_none(), key_conditions) {
        (true, Some(kc)) => {
            let converted = params::legacy_conditions(kc)?;
            if converted.is_empty() || converted.len() > 2 {
                return Err(DynamoDbError::validation(
                    "Conditions can be of length 1 or 2 only",
                ));
            }
            Some(converted)
        }
        _ => None,
    };
    let projection_param = if projection_expression.is_some() {
        Some("ProjectionExpression")
    } else if attributes_to_get.is_some() {
        Some("AttributesToGet")
    } else {
        None
    };
    let select = resolve_select(select.as_ref(), projection_param, index_name.is_some())?;

    let table = svc.table(ctx, &table_name)?;
    let index = match &index_name {
        Some(n) => Some(find_index(&table, n)?),
        None => None,
    };
    let consistent = consistent_read == Some(true);
    if index.as_ref().is_some_and(|i| i.kind == IndexKind::Global) && consistent {
        return Err(DynamoDbError::validation(MSG_CONSISTENT_GSI));
    }
    let schema = match &index {
        Some(ix) => ix.key.clone(),
        None => table.key.clone(),
    };
    let ks = expr::KeySchema {
        partition: (schema.hash.name.as_str(), schema.hash.ty),
        sort: schema.range.as_ref().map(|r| (r.name.as_str(), r.ty)),
    };
    let key_cond: KeyCondition = match (&key_condition, &legacy_keys) {
        (Some(c), _) => KeyCondition::from_condition(c, &ks)?,
        (None, Some(l)) => {
            legacy::key_conditions_to_key_condition(l.iter().map(|(n, c)| (n.as_str(), c)), &ks)?
        }
        (None, None) => {
            return Err(DynamoDbError::validation(
                "Either the KeyConditions or KeyConditionExpression parameter must be specified in the request.",
            ))
        }
    };
    // The filter may not touch the key being queried.
    let target_keys: Vec<&str> = schema.attrs().map(|a| a.name.as_str()).collect();
    if filter_expression.is_some() {
        if let Some(f) = &filter {
            expr::check_filter_has_no_keys(f, &target_keys)?;
        }
    } else if let Some(k) = legacy_filter_names
        .iter()
        .find(|n| target_keys.contains(&n.as_str()))
    {
        return Err(DynamoDbError::Validation(format!(
            "QueryFilter can only contain non-primary key attributes: Primary key attribute: {k}"
        )));
    }
    let plan = plan(table, index, select, filter, projection, limit, consistent)?;

    let prefix = match &plan.index {
        Some(ix) => layout::index_partition_prefix(
            &plan.table.key_id,
            ix.index_id,
            &key_cond.partition_value,
        )?,
        None => layout::item_partition_prefix(&plan.table.key_id, &key_cond.partition_value)?,
    };
    let (mut lo, mut hi) =
        layout::sort_key_range(&prefix, key_cond.sort.as_ref().map(|(_, c)| layout_sort(c)))?;
    let reverse = scan_index_forward == Some(false);
    if let Some(esk) = &esk {
        let table_key = check_start_key(&plan, esk, MSG_START_KEY_INVALID)?;
        let esk_hash = esk.get(&schema.hash.name);
        match &key_cond.sort {
            None => {
                if esk_hash != Some(&key_cond.partition_value) {
                    return Err(DynamoDbError::validation(
                        "The provided starting key is outside query boundaries based on provided conditions",
                    ));
                }
            }
            Some((sort_name, cond)) => {
                if !esk.get(sort_name).is_some_and(|v| cond.matches(v)) {
                    return Err(DynamoDbError::validation(
                        "The provided starting key does not match the range key predicate",
                    ));
                }
                if esk_hash != Some(&key_cond.partition_value) {
                    return Err(DynamoDbError::validation(
                        "The query can return at most one row and cannot be restarted",
                    ));
                }
            }
        }
        let start = start_store_key(&plan, esk, &table_key)?;
        if reverse {
            hi = Bound::Excluded(start);
        } else {
            lo = Bound::Excluded(start);
        }
    }
    let range = Range { lo, hi, reverse };
    let page = {
        let snapshot = svc.db().snapshot()?;
        read_page(snapshot.as_ref(), &plan, range)?
    };
    let mode = CapacityMode::from_request(return_consumed_capacity.as_ref());
    let consumed = page_capacity(&plan, &page, mode);
    let out = page_output(page, plan.count_only);
    Ok(QueryOutput {
        items: out.items,
        count: out.count,
        scanned_count: out.scanned_count,
        last_evaluated_key: out.last_evaluated_key,
        consumed_capacity: consumed,
    })
}

pub async fn scan(
    svc: &DynamoDb,
    ctx: &RequestContext,
    input: ScanInput,
) -> Result<ScanOutput, DynamoDbError> {
    let ScanInput {
        table_name,
        index_name,
        attributes_to_get,
        limit,
        select,
        scan_filter,
        conditional_operator,
        exclusive_start_key,
        return_consumed_capacity,
        total_segments,
        segment,
        projection_expression,
        filter_expression,
        expression_attribute_names: names,
        expression_attribute_values: values,
        consistent_read,
    } = input;
    params::check_expression_params(
        &[
            ("AttributesToGet", attributes_to_get.is_some()),
            ("ScanFilter", scan_filter.is_some()),
            ("ConditionalOperator", conditional_operator.is_some()),
        ],
        &[
            ("ProjectionExpression", projection_expression.is_some()),
            ("FilterExpression", filter_expression.is_some()),
        ],
        &["FilterExpression"],
        names.is_some(),
        values.is_some(),
    )?;
    let legacy_projection = match &attributes_to_get {
        Some(n) => Some(legacy::attributes_to_get_projection(n)?),
        None => None,
    };
    let legacy_filter = params::filter(scan_filter, conditional_operator.as_ref())?;
    let esk = start_key(exclusive_start_key)?;
    let segments = match (segment, total_segments) {
        (Some(_), None) => {
            return Err(DynamoDbError::validation(
                "The TotalSegments parameter is required but was not present in the request when Segment parameter is present",
            ))
        }
        (None, Some(_)) => {
            return Err(DynamoDbError::validation(
                "The Segment parameter is required but was not present in the request when parameter TotalSegments is present",
            ))
        }
        (Some(s), Some(t)) => {
            if s >= t {
                return Err(DynamoDbError::Validation(format!(
                    "The Segment parameter is zero-based and must be less than parameter TotalSegments: Segment: {s} is not less than TotalSegments: {t}"
                )));
            }
            let s = u32::try_from(s).unwrap_or(0);
            let t = u32::try_from(t).unwrap_or(1).max(1);
            (t > 1).then_some((s, t))
        }
        (None, None) => None,
    };
    let values = params::prepare_placeholders(names.as_ref(), values)?;
    let mut cx = ExpressionContext::new(names.as_ref(), values.as_ref());
    let filter = match &filter_expression {
        Some(text) => Some(cx.condition(ExprKind::Filter, text)?),
        None => legacy_filter,
    };
    let projection = match &projection_expression {
        Some(text) => Some(cx.projection(text)?),
        None => legacy_projection,
    };
    cx.finish()?;
    let projection_param = if projection_expression.is_some() {
        Some("ProjectionExpression")
    } else if attributes_to_get.is_some() {
        Some("AttributesToGet")
    } else {
        None
    };
    let select = resolve_select(select.as_ref(), projection_param, index_name.is_some())?;

    let table = svc.table(ctx, &table_name)?;
    let index = match &index_name {
        Some(n) => {
            if esk.is_some() && table.index(n).is_none() {
                return Err(DynamoDbError::validation(MSG_START_KEY_INVALID));
            }
            Some(find_index(&table, n)?)
        }
        None => None,
    };
    let consistent = consistent_read == Some(true);
    let plan = plan(table, index, select, filter, projection, limit, consistent)?;
    let prefix = match &plan.index {
        Some(ix) => layout::index_prefix(&plan.table.key_id, ix.index_id),
        None => layout::item_prefix(&plan.table.key_id),
    };
    let (mut lo, hi) = match segments {
        Some((s, t)) => layout::segment_range(&prefix, s, t).ok_or_else(|| {
            DynamoDbError::Internal(format!("segment {s} of {t} has no key range"))
        })?,
        None => layout::prefix_range(&prefix),
    };
    if let Some(esk) = &esk {
        let count_message = if plan.index.is_some() {
            MSG_START_KEY_INVALID.to_string()
        } else {
            format!(
                "{MSG_START_KEY_INVALID}: {}",
                write::MSG_KEY_SCHEMA_MISMATCH
            )
        };
        let table_key = check_start_key(&plan, esk, &count_message)?;
        let start = start_store_key(&plan, esk, &table_key)?;
        if let Some((s, t)) = segments {
            // Resuming one segment from a key of another would skip or repeat items.
            let hash = layout::key_partition_hash(&prefix, &start).ok_or_else(|| {
                DynamoDbError::Internal("start key lacks a partition hash".into())
            })?;
            if layout::segment_of(hash, t) != s {
                return Err(DynamoDbError::Validation(format!(
                    "{MSG_START_KEY_INVALID}: Invalid ExclusiveStartKey. Please use ExclusiveStartKey with correct Segment. TotalSegments: {t} Segment: {s}"
                )));
            }
        }
        lo = Bound::Excluded(start);
    }
    let range = Range {
        lo,
        hi,
        reverse: false,
    };
    let page = {
        let snapshot = svc.db().snapshot()?;
        read_page(snapshot.as_ref(), &plan, range)?
    };
    let mode = CapacityMode::from_request(return_consumed_capacity.as_ref());
    let consumed = page_capacity(&plan, &page, mode);
    let out = page_output(page, plan.count_only);
    Ok(ScanOutput {
        items: out.items,
        count: out.count,
        scanned_count: out.scanned_count,
        last_evaluated_key: out.last_evaluated_key,
        consumed_capacity: consumed,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::ops::catalog::Projection as IP;
    use crate::ops::items::put_item;
    use crate::ops::items::test_support::*;

    async fn put(svc: &DynamoDb, table: &str, item: &[(&str, AttributeValue)]) {
        put_item(
            svc,
            &ctx(),
            PutItemInput {
                table_name: table.into(),
                item: av_map(item),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    }

    /// Table `t` (pk S, sk N) with items a/1..=5 and b/1, a GSI on g (KEYS_ONLY) and an
    /// LSI on l (KEYS_ONLY).
    async fn setup() -> DynamoDb {
        let (svc, _) = service();
        create_table(
            &svc,
            "t",
            schema(("pk", "S"), Some(("sk", "N"))),
            vec![
                index(
                    "gsi",
                    IndexKind::Global,
                    schema(("g", "S"), None),
                    IP::KeysOnly,
                ),
                index(
                    "lsi",
                    IndexKind::Local,
                    schema(("pk", "S"), Some(("l", "S"))),
                    IP::KeysOnly,
                ),
            ],
        );
        for i in 1..=5 {
            put(
                &svc,
                "t",
                &[
                    ("pk", s("a")),
                    ("sk", n(&i.to_string())),
                    ("g", s(if i % 2 == 0 { "even" } else { "odd" })),
                    ("l", s(&format!("l{}", 6 - i))),
                    ("v", n(&(i * 10).to_string())),
                ],
            )
            .await;
        }
        put(&svc, "t", &[("pk", s("b")), ("sk", n("1")), ("v", n("0"))]).await;
        svc
    }

    fn q(kce: &str, values: &[(&str, AttributeValue)]) -> QueryInput {
        QueryInput {
            table_name: "t".into(),
            key_condition_expression: Some(kce.into()),
            expression_attribute_values: Some(av_map(values)),
            ..Default::default()
        }
    }

    fn sks(out: &QueryOutput) -> Vec<String> {
        out.items
            .as_ref()
            .unwrap()
            .iter()
            .map(|i| i["sk"].n.clone().unwrap())
            .collect()
    }

    #[tokio::test]
    async fn query_ranges_order_and_pagination() {
        let svc = setup().await;
        let out = query(&svc, &ctx(), q("pk = :p", &[(":p", s("a"))]))
            .await
            .unwrap();
        assert_eq!(sks(&out), ["1", "2", "3", "4", "5"]);
        assert_eq!((out.count, out.scanned_count), (Some(5), Some(5)));
        assert!(out.last_evaluated_key.is_none());
        let out = query(
            &svc,
            &ctx(),
            q(
                "pk = :p AND sk BETWEEN :a AND :b",
                &[(":p", s("a")), (":a", n("2")), (":b", n("4"))],
            ),
        )
        .await
        .unwrap();
        assert_eq!(sks(&out), ["2", "3", "4"]);
        let mut req = q("pk = :p AND sk > :a", &[(":p", s("a")), (":a", n("1"))]);
        req.scan_index_forward = Some(false);
        req.limit = Some(2);
        let out = query(&svc, &ctx(), req.clone()).await.unwrap();
        assert_eq!(sks(&out), ["5", "4"]);
        let lek = out.last_evaluated_key.unwrap();
        assert_eq!(lek, av_map(&[("pk", s("a")), ("sk", n("4"))]));
        req.exclusive_start_key = Some(lek);
        let out = query(&svc, &ctx(), req.clone()).await.unwrap();
        assert_eq!(sks(&out), ["3", "2"]);
        req.exclusive_start_key = out.last_evaluated_key;
        let out = query(&svc, &ctx(), req).await.unwrap();
        assert!(out.items.unwrap().is_empty());
        assert!(out.last_evaluated_key.is_none());
    }

    #[tokio::test]
    async fn query_filter_limit_count_and_select() {
        let svc = setup().await;
        let mut req = q("pk = :p", &[(":p", s("a")), (":v", n("20"))]);
        req.filter_expression = Some("v > :v".into());
        req.limit = Some(3);
        let out = query(&svc, &ctx(), req.clone()).await.unwrap();
        // Limit counts items evaluated, before the filter.
        assert_eq!((out.count, out.scanned_count), (Some(1), Some(3)));
        assert_eq!(sks(&out), ["3"]);
        assert!(out.last_evaluated_key.is_some());
        req.select = Some(Select::Count);
        req.limit = None;
        let out = query(&svc, &ctx(), req).await.unwrap();
        assert!(out.items.is_none());
        assert_eq!((out.count, out.scanned_count), (Some(3), Some(5)));

        let mut req = q("pk = :p", &[(":p", s("a"))]);
        req.projection_expression = Some("v".into());
        req.select = Some(Select::Count);
        let e = err(query(&svc, &ctx(), req.clone()).await);
        assert_eq!(
            e.1,
            "Cannot specify the ProjectionExpression when choosing to get only the Count"
        );
        req.select = Some(Select::AllProjectedAttributes);
        let e = err(query(&svc, &ctx(), req.clone()).await);
        assert_eq!(
            e.1,
            "Cannot specify the ProjectionExpression when choosing to get ALL_PROJECTED_ATTRIBUTES"
        );
        req.projection_expression = None;
        let e = err(query(&svc, &ctx(), req.clone()).await);
        assert_eq!(
            e.1,
            "ALL_PROJECTED_ATTRIBUTES can be used only when Querying using an IndexName"
        );
        req.select = Some(Select::SpecificAttributes);
        let e = err(query(&svc, &ctx(), req).await);
        assert_eq!(e.1, "Must specify the AttributesToGet or ProjectionExpression when choosing to get SPECIFIC_ATTRIBUTES");
        let mut req = q("pk = :p", &[(":p", s("a")), (":v", n("1"))]);
        req.filter_expression = Some("sk > :v".into());
        let e = err(query(&svc, &ctx(), req).await);
        assert_eq!(e.1, "Filter Expression can only contain non-primary key attributes: Primary key attribute: sk");
    }

    #[tokio::test]
    async fn query_key_condition_errors() {
        let svc = setup().await;
        let e = err(query(&svc, &ctx(), q("sk = :p", &[(":p", n("1"))])).await);
        assert_eq!(e.1, "Query condition missed key schema element: pk");
        let e = err(query(&svc, &ctx(), q("pk > :p", &[(":p", s("a"))])).await);
        assert_eq!(e.1, "Query key condition not supported");
        let e = err(query(
            &svc,
            &ctx(),
            QueryInput {
                table_name: "t".into(),
                ..Default::default()
            },
        )
        .await);
        assert_eq!(e.1, "Either the KeyConditions or KeyConditionExpression parameter must be specified in the request.");
        let mut req = q("pk = :p", &[(":p", s("a"))]);
        req.index_name = Some("nope".into());
        let e = err(query(&svc, &ctx(), req).await);
        assert_eq!(e.1, "The table does not have the specified index: nope");
        let mut req = q("g = :g", &[(":g", s("odd"))]);
        req.index_name = Some("gsi".into());
        req.consistent_read = Some(true);
        let e = err(query(&svc, &ctx(), req).await);
        assert_eq!(
            e.1,
            "Consistent reads are not supported on global secondary indexes"
        );
        let mut req = q("pk = :p AND sk > :s", &[(":p", s("a")), (":s", n("3"))]);
        req.exclusive_start_key = Some(av_map(&[("pk", s("a")), ("sk", n("1"))]));
        let e = err(query(&svc, &ctx(), req.clone()).await);
        assert_eq!(
            e.1,
            "The provided starting key does not match the range key predicate"
        );
        req.exclusive_start_key = Some(av_map(&[("pk", s("a"))]));
        let e = err(query(&svc, &ctx(), req.clone()).await);
        assert_eq!(e.1, "The provided starting key is invalid");
        req.exclusive_start_key = Some(av_map(&[("pk", s("b")), ("sk", n("4"))]));
        let e = err(query(&svc, &ctx(), req).await);
        assert_eq!(
            e.1,
            "The query can return at most one row and cannot be restarted"
        );
        let mut req = q("pk = :p", &[(":p", s("a"))]);
        req.exclusive_start_key = Some(av_map(&[("pk", s("b")), ("sk", n("4"))]));
        let e = err(query(&svc, &ctx(), req).await);
        assert_eq!(
            e.1,
            "The provided starting key is outside query boundaries based on provided conditions"
        );
        // Legacy KeyConditions.
        let mut kc = HashMap::new();
        kc.insert(
            "pk".to_string(),
            nimbus_model::dynamodb::Condition {
                comparison_operator: ComparisonOperator::Eq,
                attribute_value_list: Some(vec![s("b")]),
            },
        );
        let out = query(
            &svc,
            &ctx(),
            QueryInput {
                table_name: "t".into(),
                key_conditions: Some(kc),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        assert_eq!(out.count, Some(1));
    }

    #[tokio::test]
    async fn index_queries() {
        let svc = setup().await;
        let mut req = q("g = :g", &[(":g", s("odd"))]);
        req.index_name = Some("gsi".into());
        req.limit = Some(2);
        req.return_consumed_capacity = Some(ReturnConsumedCapacity::Indexes);
        let out = query(&svc, &ctx(), req.clone()).await.unwrap();
        let items = out.items.clone().unwrap();
        assert_eq!(items.len(), 2);
        // KEYS_ONLY: table key and index key only.
        assert_eq!(items[0].len(), 3);
        let lek = out.last_evaluated_key.unwrap();
        assert_eq!(lek.len(), 3);
        assert!(lek.contains_key("g"));
        let c = out.consumed_capacity.unwrap();
        assert_eq!(c.capacity_units, Some(0.5));
        assert_eq!(
            c.global_secondary_indexes.unwrap()["gsi"].capacity_units,
            Some(0.5)
        );
        req.exclusive_start_key = Some(lek);
        let out = query(&svc, &ctx(), req.clone()).await.unwrap();
        assert_eq!(out.items.unwrap().len(), 1);
        req.exclusive_start_key = None;
        req.select = Some(Select::AllAttributes);
        let e = err(query(&svc, &ctx(), req.clone()).await);
        assert_eq!(
            e.1,
            "One or more parameter values were invalid: Select type ALL_ATTRIBUTES is not supported for global secondary index gsi because its projection type is not ALL"
        );
        req.select = None;
        req.projection_expression = Some("v".into());
        let e = err(query(&svc, &ctx(), req).await);
        assert_eq!(
            e.1,
            "One or more parameter values were invalid: Global secondary index gsi does not project [v]"
        );
        // LSI with ALL_ATTRIBUTES fetches from the table, in index order.
        let mut req = q("pk = :p AND l >= :l", &[(":p", s("a")), (":l", s("l2"))]);
        req.index_name = Some("lsi".into());
        req.select = Some(Select::AllAttributes);
        let out = query(&svc, &ctx(), req).await.unwrap();
        assert_eq!(sks(&out), ["4", "3", "2", "1"]);
        assert!(out.items.unwrap()[0].contains_key("v"));
    }

    #[tokio::test]
    async fn scans_and_segments() {
        let svc = setup().await;
        let out = scan(
            &svc,
            &ctx(),
            ScanInput {
                table_name: "t".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        assert_eq!(out.count, Some(6));
        // Every item in exactly one segment.
        for total in [1, 2, 3, 7] {
            let mut seen = Vec::new();
            for seg in 0..total {
                let mut esk = None;
                loop {
                    let out = scan(
                        &svc,
                        &ctx(),
                        ScanInput {
                            table_name: "t".into(),
                            segment: Some(seg),
                            total_segments: Some(total),
                            limit: Some(2),
                            exclusive_start_key: esk.take(),
                            ..Default::default()
                        },
                    )
                    .await
                    .unwrap();
                    for it in out.items.unwrap() {
                        seen.push((it["pk"].s.clone().unwrap(), it["sk"].n.clone().unwrap()));
                    }
                    match out.last_evaluated_key {
                        Some(k) => esk = Some(k),
                        None => break,
                    }
                }
            }
            seen.sort();
            seen.dedup();
            assert_eq!(seen.len(), 6, "total {total}");
        }
        // Each segment reads only its own key range: without a Limit, the items scanned
        // by all segments add up to the table exactly.
        let mut scanned = 0;
        for seg in 0..3 {
            let out = scan(
                &svc,
                &ctx(),
                ScanInput {
                    table_name: "t".into(),
                    segment: Some(seg),
                    total_segments: Some(3),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
            assert_eq!(out.count, out.scanned_count);
            scanned += out.scanned_count.unwrap();
        }
        assert_eq!(scanned, 6);
        // An ExclusiveStartKey must belong to the segment being scanned.
        let esk = av_map(&[("pk", s("a")), ("sk", n("2"))]);
        let encoded = crate::keycodec::encoded_key_value(&crate::value::Value::s("a")).unwrap();
        let owner = layout::segment_of(layout::partition_hash32(&encoded), 2);
        let seg_scan = |seg: u32| ScanInput {
            table_name: "t".into(),
            segment: Some(i32::try_from(seg).unwrap()),
            total_segments: Some(2),
            exclusive_start_key: Some(esk.clone()),
            ..Default::default()
        };
        let out = scan(&svc, &ctx(), seg_scan(owner)).await.unwrap();
        // Items a/3..=5, and b/1 when it shares the segment.
        assert!(out.count.unwrap() >= 3);
        let e = err(scan(&svc, &ctx(), seg_scan(1 - owner)).await);
        assert_eq!(
            e.1,
            format!(
                "The provided starting key is invalid: Invalid ExclusiveStartKey. Please use ExclusiveStartKey with correct Segment. TotalSegments: 2 Segment: {}",
                1 - owner
            )
        );
        let e = err(scan(
            &svc,
            &ctx(),
            ScanInput {
                table_name: "t".into(),
                segment: Some(3),
                total_segments: Some(3),
                ..Default::default()
            },
        )
        .await);
        assert_eq!(
            e.1,
            "The Segment parameter is zero-based and must be less than parameter TotalSegments: Segment: 3 is not less than TotalSegments: 3"
        );
        let e = err(scan(
            &svc,
            &ctx(),
            ScanInput {
                table_name: "t".into(),
                segment: Some(0),
                ..Default::default()
            },
        )
        .await);
        assert_eq!(
            e.1,
            "The TotalSegments parameter is required but was not present in the request when Segment parameter is present"
        );
        let e = err(scan(
            &svc,
            &ctx(),
            ScanInput {
                table_name: "t".into(),
                exclusive_start_key: Some(av_map(&[("pk", s("a"))])),
                ..Default::default()
            },
        )
        .await);
        assert_eq!(e.1, "The provided starting key is invalid: The provided key element does not match the schema");
        // Scan of the GSI: only items that have the index key.
        let out = scan(
            &svc,
            &ctx(),
            ScanInput {
                table_name: "t".into(),
                index_name: Some("gsi".into()),
                filter_expression: Some("g = :g".into()),
                expression_attribute_values: Some(av_map(&[(":g", s("even"))])),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        assert_eq!((out.count, out.scanned_count), (Some(2), Some(5)));
    }

    #[tokio::test]
    async fn pages_stop_at_one_megabyte() {
        let (svc, _) = service();
        create_table(&svc, "big", schema(("pk", "S"), Some(("sk", "N"))), vec![]);
        let blob = "x".repeat(300 * 1024);
        for i in 0..5 {
            put(
                &svc,
                "big",
                &[("pk", s("p")), ("sk", n(&i.to_string())), ("b", s(&blob))],
            )
            .await;
        }
        let mut req = QueryInput {
            table_name: "big".into(),
            key_condition_expression: Some("pk = :p".into()),
            expression_attribute_values: Some(av_map(&[(":p", s("p"))])),
            return_consumed_capacity: Some(ReturnConsumedCapacity::Total),
            ..Default::default()
        };
        let out = query(&svc, &ctx(), req.clone()).await.unwrap();
        // 4 items of ~300 KB cross 1 MB.
        assert_eq!(out.count, Some(4));
        let lek = out.last_evaluated_key.clone().unwrap();
        assert_eq!(lek["sk"], n("3"));
        // Items read: 307,207 + 3 x 307,208 bytes = 1,228,831 -> 301 units of 4 KB,
        // halved for an eventually consistent read.
        assert_eq!(out.consumed_capacity.unwrap().capacity_units, Some(150.5));
        req.exclusive_start_key = Some(lek);
        let out = query(&svc, &ctx(), req).await.unwrap();
        assert_eq!(out.count, Some(1));
        assert!(out.last_evaluated_key.is_none());
    }
}
