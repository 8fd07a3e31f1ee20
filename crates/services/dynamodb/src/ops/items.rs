//! PutItem, GetItem, UpdateItem, DeleteItem, and `ItemWrite`: the one way a single item
//! is conditionally written, shared with BatchWriteItem and TransactWriteItems.
//!
//! Every request is validated completely (parameters, values, expressions, in AWS's
//! order) before the table is looked up, then against the table's key schema, and only
//! then does one store transaction read the current item, check the condition, compute
//! the new item and write it with its index entries (`write::apply_item_change`).
//! Expressions are parsed once, outside the transaction; the transaction closure may be
//! re-run on a store conflict and has no effects outside the transaction.

use std::sync::Arc;

use nimbus_core::RequestContext;
use nimbus_model::dynamodb::*;
use nimbus_store::{ReadTxn, WriteTxn};

use crate::error::DynamoDbError;
use crate::expr::{self, legacy, Condition, ExprKind, ExpressionContext, Projection, Update};
use crate::ops::capacity::{self, CapacityMode, Usage};
use crate::ops::catalog::TableMeta;
use crate::ops::convert::item_into_attrs;
use crate::ops::params::{self, ReturnValues};
use crate::ops::write::{self, ChangeCtx, IndexKeyContext, PrimaryKey};
use crate::ops::DynamoDb;
use crate::size::{self, item_size, ReadMode};
use crate::value::Item;

/// The message of `ConditionalCheckFailedException` (and of a transaction's
/// `ConditionalCheckFailed` reason).
pub const MSG_CONDITIONAL_CHECK_FAILED: &str = "The conditional request failed";

/// The names of a table's key attributes.
pub(crate) fn key_names(table: &TableMeta) -> Vec<&str> {
    table.key.attrs().map(|a| a.name.as_str()).collect()
}

/// What a write does to its item once the current item is known.
#[derive(Debug, Clone)]
pub(crate) enum Change {
    /// Replace with this item (PutItem; the key is part of it).
    Put(Item),
    /// Apply to the current item, or to the bare key when there is none (UpdateItem).
    Update(Update),
    Delete,
    /// No change (TransactWriteItems ConditionCheck).
    Check,
}

/// One conditional single-item write, fully validated and ready to run in a transaction.
#[derive(Debug, Clone)]
pub(crate) struct ItemWrite {
    pub table: Arc<TableMeta>,
    pub key: PrimaryKey,
    pub condition: Option<Condition>,
    pub change: Change,
    /// `ReturnValuesOnConditionCheckFailure: ALL_OLD`.
    pub old_on_failure: bool,
}

/// Why a write did not happen (before anything was written).
#[derive(Debug)]
pub(crate) enum WriteFailure {
    /// The condition was false; carries the current item when the request asked for it.
    ConditionFailed(Option<Item>),
    /// The write is invalid for the current item (update expression errors, the item
    /// growing over 400 KB, a bad index key value produced by the update).
    Invalid(DynamoDbError),
}

impl WriteFailure {
    /// The error a single-item operation answers with.
    pub(crate) fn into_error(self) -> DynamoDbError {
        match self {
            WriteFailure::ConditionFailed(item) => DynamoDbError::ConditionalCheckFailed { item },
            WriteFailure::Invalid(e) => e,
        }
    }
}

/// The new item of an evaluated write.
#[derive(Debug)]
pub(crate) enum NewItem {
    /// The item stays as it is (ConditionCheck).
    Unchanged,
    /// The item is deleted.
    Deleted,
    /// The `Change::Put` item (kept there, not copied).
    Put,
    /// The result of an update.
    Updated(Item),
}

/// A write whose condition held and whose new item is known.
#[derive(Debug)]
pub(crate) struct Evaluated {
    pub old: Option<Item>,
    pub new: NewItem,
}

impl Evaluated {
    /// The item after the write (`None` when deleted; the old item when unchanged).
    pub(crate) fn new_item<'a>(&'a self, w: &'a ItemWrite) -> Option<&'a Item> {
        match (&self.new, &w.change) {
            (NewItem::Unchanged, _) => self.old.as_ref(),
            (NewItem::Deleted, _) => None,
            (NewItem::Put, Change::Put(item)) => Some(item),
            (NewItem::Put, _) => None,
            (NewItem::Updated(item), _) => Some(item),
        }
    }
}

impl ItemWrite {
    /// Reads the current item in `txn`, checks the condition and computes the new item.
    /// Writes nothing. The outer error is a store failure; the inner one why the write
    /// must not happen.
    pub(crate) fn evaluate(
        &self,
        txn: &dyn ReadTxn,
    ) -> Result<Result<Evaluated, WriteFailure>, DynamoDbError> {
        let old = write::read_item(txn, &self.table, &self.key)?;
        if let Some(cond) = &self.condition {
            let holds = match &old {
                Some(o) => cond.evaluate(o),
                None => cond.evaluate(&Item::new()),
            };
            if !holds {
                let item = if self.old_on_failure { old } else { None };
                return Ok(Err(WriteFailure::ConditionFailed(item)));
            }
        }
        let new = match &self.change {
            Change::Put(_) => NewItem::Put,
            Change::Delete => NewItem::Deleted,
            Change::Check => NewItem::Unchanged,
            Change::Update(update) => {
                let applied = match &old {
                    Some(o) => update.apply(o),
                    None => update.apply(&self.key.to_item(&self.table.key)),
                };
                let new = match applied {
                    Ok(n) => n,
                    Err(e) => return Ok(Err(WriteFailure::Invalid(e))),
                };
                if item_size(&new) > size::MAX_ITEM_SIZE_BYTES {
                    return Ok(Err(WriteFailure::Invalid(DynamoDbError::validation(
                        size::MSG_UPDATE_TOO_LARGE,
                    ))));
                }
                if let Err(e) = crate::value::check_item_nesting(&new) {
                    return Ok(Err(WriteFailure::Invalid(e.into())));
                }
                if let Err(e) = write::check_index_keys(&self.table, &new, IndexKeyContext::Update)
                {
                    return Ok(Err(WriteFailure::Invalid(e)));
                }
                NewItem::Updated(new)
            }
        };
        Ok(Ok(Evaluated { old, new }))
    }

    /// Writes an evaluated change (item, index entries, counters).
    pub(crate) fn apply(
        &self,
        txn: &mut dyn WriteTxn,
        ev: &Evaluated,
        cx: &ChangeCtx,
    ) -> Result<(), DynamoDbError> {
        match &ev.new {
            NewItem::Unchanged => Ok(()),
            NewItem::Deleted if ev.old.is_none() => Ok(()),
            _ => write::apply_item_change(txn, &self.table, ev.old.as_ref(), ev.new_item(self), cx),
        }
    }

    /// Records the write's capacity (nothing for a ConditionCheck, which is a read).
    pub(crate) fn record_capacity(
        &self,
        usage: &mut Usage,
        ev: &Evaluated,
        transactional: bool,
    ) -> Result<(), DynamoDbError> {
        match &ev.new {
            NewItem::Unchanged => {
                let mode = if transactional {
                    ReadMode::Transactional
                } else {
                    ReadMode::Strong
                };
                usage.read_item(ev.old.as_ref().map_or(0, item_size), mode);
                Ok(())
            }
            _ => usage.write_change(
                &self.table,
                ev.old.as_ref(),
                ev.new_item(self),
                transactional,
            ),
        }
    }
}

/// Runs one `ItemWrite` in its own transaction; returns the old item, the new item of an
/// update, and the capacity used.
async fn run_single(
    svc: &DynamoDb,
    w: ItemWrite,
    mode: CapacityMode,
) -> Result<(Option<Item>, Option<Item>, Option<ConsumedCapacity>), DynamoDbError> {
    let cx = ChangeCtx::user(svc.now_millis());
    let table = w.table.clone();
    let out = svc
        .db()
        .write(move |txn| {
            let ev = match w.evaluate(txn)? {
                Ok(ev) => ev,
                Err(f) => return Err(f.into_error()),
            };
            w.apply(txn, &ev, &cx)?;
            let consumed = if mode.wanted() {
                let mut usage = Usage::new(&w.table.name);
                w.record_capacity(&mut usage, &ev, false)?;
                usage.to_consumed(mode)
            } else {
                None
            };
            let new = match ev.new {
                NewItem::Updated(item) => Some(item),
                _ => None,
            };
            Ok((ev.old, new, consumed))
        })
        .await;
    // Consumers of stream records (replication) may have something new.
    svc.notify_bus_for([&*table]);
    out
}

fn check_put_size(item: &Item) -> Result<(), DynamoDbError> {
    size::check_item_size(item).map_err(DynamoDbError::validation)
}

/// `ItemCollectionMetrics` when asked for and the table has local indexes.
fn metrics_for(wanted: bool, table: &TableMeta, key: &PrimaryKey) -> Option<ItemCollectionMetrics> {
    if wanted {
        capacity::collection_metrics(table, &key.hash)
    } else {
        None
    }
}

pub async fn put_item(
    svc: &DynamoDb,
    ctx: &RequestContext,
    input: PutItemInput,
) -> Result<PutItemOutput, DynamoDbError> {
    let PutItemInput {
        table_name,
        item,
        expected,
        return_values,
        return_consumed_capacity,
        return_item_collection_metrics,
        conditional_operator,
        condition_expression,
        expression_attribute_names: names,
        expression_attribute_values: values,
        return_values_on_condition_check_failure,
    } = input;
    params::check_expression_params(
        &[("Expected", expected.is_some())],
        &[("ConditionExpression", condition_expression.is_some())],
        &["ConditionExpression"],
        names.is_some(),
        values.is_some(),
    )?;
    let item = params::item(item)?;
    let legacy_condition = params::expected(expected, conditional_operator.as_ref())?;
    let return_values = ReturnValues::from_request(return_values.as_ref());
    return_values.check_put_or_delete()?;
    check_put_size(&item)?;
    let values = params::prepare_placeholders(names.as_ref(), values)?;
    let mut cx = ExpressionContext::new(names.as_ref(), values.as_ref());
    let condition = match &condition_expression {
        Some(text) => Some(cx.condition(ExprKind::Condition, text)?),
        None => legacy_condition,
    };
    cx.finish()?;

    let table = svc.table(ctx, &table_name)?;
    let key = write::validate_item_for_put(&table, &item)?;
    let metrics = metrics_for(
        capacity::metrics_wanted(return_item_collection_metrics.as_ref()),
        &table,
        &key,
    );
    let mode = CapacityMode::from_request(return_consumed_capacity.as_ref());
    let w = ItemWrite {
        table,
        key,
        condition,
        change: Change::Put(item),
        old_on_failure: params::old_on_failure(return_values_on_condition_check_failure.as_ref()),
    };
    let (old, _, consumed) = run_single(svc, w, mode).await?;
    Ok(PutItemOutput {
        attributes: match (return_values, old) {
            (ReturnValues::AllOld, Some(old)) => Some(item_into_attrs(old)),
            _ => None,
        },
        consumed_capacity: consumed,
        item_collection_metrics: metrics,
    })
}

pub async fn get_item(
    svc: &DynamoDb,
    ctx: &RequestContext,
    input: GetItemInput,
) -> Result<GetItemOutput, DynamoDbError> {
    let GetItemInput {
        table_name,
        key,
        attributes_to_get,
        consistent_read,
        return_consumed_capacity,
        projection_expression,
        expression_attribute_names: names,
    } = input;
    params::check_expression_params(
        &[("AttributesToGet", attributes_to_get.is_some())],
        &[("ProjectionExpression", projection_expression.is_some())],
        &[],
        names.is_some(),
        false,
    )?;
    let key = params::item(key)?;
    let legacy_projection = match &attributes_to_get {
        Some(names) => Some(legacy::attributes_to_get_projection(names)?),
        None => None,
    };
    params::prepare_placeholders(names.as_ref(), None)?;
    let mut cx = ExpressionContext::new(names.as_ref(), None);
    let projection = match &projection_expression {
        Some(text) => Some(cx.projection(text)?),
        None => legacy_projection,
    };
    cx.finish()?;

    let table = svc.table(ctx, &table_name)?;
    let key = write::key_from_map(&table, &key)?;
    if let Some(p) = &projection {
        expr::check_key_paths(p.paths(), &key_names(&table))?;
    }
    let item = {
        let snapshot = svc.db().snapshot()?;
        write::read_item(snapshot.as_ref(), &table, &key)?
    };
    let mode = CapacityMode::from_request(return_consumed_capacity.as_ref());
    let consumed = if mode.wanted() {
        let mut usage = Usage::new(&table.name);
        let read_mode = if consistent_read == Some(true) {
            ReadMode::Strong
        } else {
            ReadMode::Eventual
        };
        usage.read_item(item.as_ref().map_or(0, item_size), read_mode);
        usage.to_consumed(mode)
    } else {
        None
    };
    Ok(GetItemOutput {
        // An existing item is returned even when the projection leaves nothing of it
        // (`"Item": {}`), as DynamoDB does.
        item: item.map(|it| match &projection {
            Some(p) => item_into_attrs(p.apply(&it)),
            None => item_into_attrs(it),
        }),
        consumed_capacity: consumed,
    })
}

pub async fn update_item(
    svc: &DynamoDb,
    ctx: &RequestContext,
    input: UpdateItemInput,
) -> Result<UpdateItemOutput, DynamoDbError> {
    let UpdateItemInput {
        table_name,
        key,
        attribute_updates,
        expected,
        conditional_operator,
        return_values,
        return_consumed_capacity,
        return_item_collection_metrics,
        update_expression,
        condition_expression,
        expression_attribute_names: names,
        expression_attribute_values: values,
        return_values_on_condition_check_failure,
    } = input;
    params::check_expression_params(
        &[
            ("AttributeUpdates", attribute_updates.is_some()),
            ("Expected", expected.is_some()),
        ],
        &[
            ("UpdateExpression", update_expression.is_some()),
            ("ConditionExpression", condition_expression.is_some()),
        ],
        &["UpdateExpression", "ConditionExpression"],
        names.is_some(),
        values.is_some(),
    )?;
    let key = params::item(key)?;
    let legacy_update = params::attribute_updates(attribute_updates)?;
    let legacy_condition = params::expected(expected, conditional_operator.as_ref())?;
    let values = params::prepare_placeholders(names.as_ref(), values)?;
    let mut cx = ExpressionContext::new(names.as_ref(), values.as_ref());
    let update = match &update_expression {
        Some(text) => Some(cx.update(text)?),
        None => legacy_update,
    };
    let condition = match &condition_expression {
        Some(text) => Some(cx.condition(ExprKind::Condition, text)?),
        None => legacy_condition,
    };
    cx.finish()?;
    let return_values = ReturnValues::from_request(return_values.as_ref());

    let table = svc.table(ctx, &table_name)?;
    let key = write::key_from_map(&table, &key)?;
    // Without any update the item still gets created with its key, as DynamoDB does.
    let update = update.unwrap_or_else(|| Update::from_actions(Vec::new()));
    let names_of_keys = key_names(&table);
    expr::check_update_keys(&update, &names_of_keys)?;
    let mut paths: Vec<&expr::Path> = Vec::new();
    update.for_each_path(&mut |p| paths.push(p));
    expr::check_key_paths(paths, &names_of_keys)?;
    drop(names_of_keys);
    let targets: Option<Projection> = matches!(
        return_values,
        ReturnValues::UpdatedOld | ReturnValues::UpdatedNew
    )
    .then(|| update.targets_projection());
    let metrics = metrics_for(
        capacity::metrics_wanted(return_item_collection_metrics.as_ref()),
        &table,
        &key,
    );
    let mode = CapacityMode::from_request(return_consumed_capacity.as_ref());
    let w = ItemWrite {
        table,
        key,
        condition,
        change: Change::Update(update),
        old_on_failure: params::old_on_failure(return_values_on_condition_check_failure.as_ref()),
    };
    let (old, new, consumed) = run_single(svc, w, mode).await?;
    let attributes = match return_values {
        ReturnValues::None => None,
        ReturnValues::AllOld => old,
        ReturnValues::AllNew => new,
        ReturnValues::UpdatedOld => match (&targets, old) {
            (Some(t), Some(old)) => Some(t.apply(&old)),
            _ => None,
        },
        ReturnValues::UpdatedNew => match (&targets, new) {
            (Some(t), Some(new)) => Some(t.apply(&new)),
            _ => None,
        },
    };
    Ok(UpdateItemOutput {
        attributes: attributes.filter(|a| !a.is_empty()).map(item_into_attrs),
        consumed_capacity: consumed,
        item_collection_metrics: metrics,
    })
}

pub async fn delete_item(
    svc: &DynamoDb,
    ctx: &RequestContext,
    input: DeleteItemInput,
) -> Result<DeleteItemOutput, DynamoDbError> {
    let DeleteItemInput {
        table_name,
        key,
        expected,
        conditional_operator,
        return_values,
        return_consumed_capacity,
        return_item_collection_metrics,
        condition_expression,
        expression_attribute_names: names,
        expression_attribute_values: values,
        return_values_on_condition_check_failure,
    } = input;
    params::check_expression_params(
        &[("Expected", expected.is_some())],
        &[("ConditionExpression", condition_expression.is_some())],
        &["ConditionExpression"],
        names.is_some(),
        values.is_some(),
    )?;
    let key = params::item(key)?;
    let legacy_condition = params::expected(expected, conditional_operator.as_ref())?;
    let return_values = ReturnValues::from_request(return_values.as_ref());
    return_values.check_put_or_delete()?;
    let values = params::prepare_placeholders(names.as_ref(), values)?;
    let mut cx = ExpressionContext::new(names.as_ref(), values.as_ref());
    let condition = match &condition_expression {
        Some(text) => Some(cx.condition(ExprKind::Condition, text)?),
        None => legacy_condition,
    };
    cx.finish()?;

    let table = svc.table(ctx, &table_name)?;
    let key = write::key_from_map(&table, &key)?;
    let metrics = metrics_for(
        capacity::metrics_wanted(return_item_collection_metrics.as_ref()),
        &table,
        &key,
    );
    let mode = CapacityMode::from_request(return_consumed_capacity.as_ref());
    let w = ItemWrite {
        table,
        key,
        condition,
        change: Change::Delete,
        old_on_failure: params::old_on_failure(return_values_on_condition_check_failure.as_ref()),
    };
    let (old, _, consumed) = run_single(svc, w, mode).await?;
    Ok(DeleteItemOutput {
        attributes: match (return_values, old) {
            (ReturnValues::AllOld, Some(old)) => Some(item_into_attrs(old)),
            _ => None,
        },
        consumed_capacity: consumed,
        item_collection_metrics: metrics,
    })
}

/// Test helpers shared by the data-plane modules: a service over an in-memory store and
/// tables created the way CreateTable stores them.
#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) mod test_support {
    use std::collections::HashMap;
    use std::sync::Arc;

    use nimbus_core::{ManualClock, Principal, RequestContext};
    use nimbus_model::dynamodb::AttributeValue;
    use nimbus_store::Db;

    use crate::error::DynamoDbError;
    use crate::keycodec::KeyType;
    use crate::ops::catalog::{
        self, BillingMode, IndexKind, IndexMeta, KeyAttr, KeySchema, Projection, Status, TableMeta,
        Throughput,
    };
    use crate::ops::layout::{self, Counters};
    use crate::ops::DynamoDb;

    pub fn ctx() -> RequestContext {
        RequestContext {
            account_id: "000000000000".into(),
            region: "us-east-1".into(),
            principal: Principal::root("000000000000", "test"),
            request_id: "req".into(),
        }
    }

    pub fn service() -> (DynamoDb, Arc<ManualClock>) {
        let clock = Arc::new(ManualClock::new(1_700_000_000_000));
        (DynamoDb::new(Db::in_memory(), clock.clone()), clock)
    }

    fn attr(name: &str, ty: KeyType) -> KeyAttr {
        KeyAttr {
            name: name.into(),
            ty,
        }
    }

    /// A key schema from `("name", "S")` pairs (hash first).
    pub fn schema(hash: (&str, &str), range: Option<(&str, &str)>) -> KeySchema {
        KeySchema {
            hash: attr(hash.0, KeyType::parse(hash.1).unwrap()),
            range: range.map(|(n, t)| attr(n, KeyType::parse(t).unwrap())),
        }
    }

    pub fn index(name: &str, kind: IndexKind, key: KeySchema, projection: Projection) -> IndexMeta {
        IndexMeta {
            name: name.into(),
            kind,
            key,
            projection,
            status: Status::Active,
            backfilling: false,
            throughput: None,
            on_demand: None,
            index_id: 0,
            insights: None,
        }
    }

    /// Stores a table's metadata and counters as CreateTable does.
    pub fn create_table(
        svc: &DynamoDb,
        name: &str,
        key: KeySchema,
        mut indexes: Vec<IndexMeta>,
    ) -> TableMeta {
        let mut defs: Vec<KeyAttr> = Vec::new();
        for a in key
            .attrs()
            .chain(indexes.iter().flat_map(|i| i.key.attrs()))
        {
            if !defs.iter().any(|d| d.name == a.name) {
                defs.push(a.clone());
            }
        }
        for (i, idx) in indexes.iter_mut().enumerate() {
            idx.index_id = i as u32 + 1;
        }
        let mut key_id = [0u8; 16];
        for (i, b) in name.bytes().enumerate().take(16) {
            key_id[i] = b;
        }
        key_id[15] ^= 0x5a;
        let meta = TableMeta {
            table_id: format!("00000000-0000-4000-8000-{:012}", name.len()),
            key_id,
            name: name.into(),
            account_id: "000000000000".into(),
            region: "us-east-1".into(),
            key,
            attribute_definitions: defs,
            next_index_id: indexes.len() as u32 + 1,
            indexes,
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
        };
        let m = meta.clone();
        svc.db()
            .write_blocking(move |txn| -> Result<(), DynamoDbError> {
                txn.put(
                    &layout::table_counters_key(&m.key_id),
                    &Counters {
                        version: m.version,
                        ..Default::default()
                    }
                    .encode(),
                )?;
                catalog::save_table(txn, &m)
            })
            .unwrap();
        meta
    }

    pub fn s(v: &str) -> AttributeValue {
        AttributeValue {
            s: Some(v.into()),
            ..Default::default()
        }
    }

    pub fn n(v: &str) -> AttributeValue {
        AttributeValue {
            n: Some(v.into()),
            ..Default::default()
        }
    }

    pub fn av_map(pairs: &[(&str, AttributeValue)]) -> HashMap<String, AttributeValue> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    pub fn names(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// The error's code and message.
    pub fn err<T: std::fmt::Debug>(r: Result<T, DynamoDbError>) -> (String, String) {
        let e = r.unwrap_err();
        (e.code().to_string(), e.to_string())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::test_support::*;
    use super::*;
    use crate::ops::catalog::{IndexKind, Projection as IndexProjection};

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

    async fn get(
        svc: &DynamoDb,
        table: &str,
        key: &[(&str, AttributeValue)],
    ) -> Option<HashMap<String, AttributeValue>> {
        get_item(
            svc,
            &ctx(),
            GetItemInput {
                table_name: table.into(),
                key: av_map(key),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .item
    }

    use std::collections::HashMap;

    #[tokio::test]
    async fn put_get_delete_round_trip() {
        let (svc, _) = service();
        create_table(&svc, "t1", schema(("pk", "S"), Some(("sk", "N"))), vec![]);
        put(
            &svc,
            "t1",
            &[("pk", s("a")), ("sk", n("1.50")), ("v", s("x"))],
        )
        .await;
        let got = get(&svc, "t1", &[("pk", s("a")), ("sk", n("1.5"))])
            .await
            .unwrap();
        assert_eq!(got["v"], s("x"));
        assert_eq!(got["sk"], n("1.5"));
        assert!(get(&svc, "t1", &[("pk", s("a")), ("sk", n("2"))])
            .await
            .is_none());

        let out = delete_item(
            &svc,
            &ctx(),
            DeleteItemInput {
                table_name: "t1".into(),
                key: av_map(&[("pk", s("a")), ("sk", n("1.5"))]),
                return_values: Some(ReturnValue::AllOld),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        assert_eq!(out.attributes.unwrap()["v"], s("x"));
        assert!(get(&svc, "t1", &[("pk", s("a")), ("sk", n("1.5"))])
            .await
            .is_none());
    }

    #[tokio::test]
    async fn validation_messages() {
        let (svc, _) = service();
        create_table(&svc, "t1", schema(("pk", "S"), None), vec![]);
        let e = err(put_item(
            &svc,
            &ctx(),
            PutItemInput {
                table_name: "nope".into(),
                item: av_map(&[("pk", s("a"))]),
                ..Default::default()
            },
        )
        .await);
        assert_eq!(
            e,
            (
                "ResourceNotFoundException".into(),
                "Requested resource not found".into()
            )
        );
        let e = err(put_item(
            &svc,
            &ctx(),
            PutItemInput {
                table_name: "t1".into(),
                item: av_map(&[("x", s("a"))]),
                ..Default::default()
            },
        )
        .await);
        assert_eq!(
            e.1,
            "One or more parameter values were invalid: Missing the key pk in the item"
        );
        let e = err(put_item(
            &svc,
            &ctx(),
            PutItemInput {
                table_name: "t1".into(),
                item: av_map(&[("pk", s("a"))]),
                return_values: Some(ReturnValue::AllNew),
                ..Default::default()
            },
        )
        .await);
        assert_eq!(e.1, "ReturnValues can only be ALL_OLD or NONE");
        let e = err(put_item(
            &svc,
            &ctx(),
            PutItemInput {
                table_name: "t1".into(),
                item: av_map(&[("pk", s("a")), ("big", s(&"x".repeat(400 * 1024)))]),
                ..Default::default()
            },
        )
        .await);
        assert_eq!(e.1, "Item size has exceeded the maximum allowed size");
        let e = err(get_item(
            &svc,
            &ctx(),
            GetItemInput {
                table_name: "t1".into(),
                key: av_map(&[("pk", n("1"))]),
                ..Default::default()
            },
        )
        .await);
        assert_eq!(e.1, "The provided key element does not match the schema");
        let e = err(get_item(
            &svc,
            &ctx(),
            GetItemInput {
                table_name: "t1".into(),
                key: av_map(&[("pk", s("a"))]),
                expression_attribute_names: Some(names(&[("#a", "a")])),
                ..Default::default()
            },
        )
        .await);
        assert_eq!(
            e.1,
            "ExpressionAttributeNames can only be specified when using expressions"
        );
        let e = err(put_item(
            &svc,
            &ctx(),
            PutItemInput {
                table_name: "t1".into(),
                item: av_map(&[("pk", s("a"))]),
                condition_expression: Some("attribute_exists(#a)".into()),
                expression_attribute_names: Some(names(&[("#a", "a"), ("#b", "b")])),
                ..Default::default()
            },
        )
        .await);
        assert_eq!(
            e.1,
            "Value provided in ExpressionAttributeNames unused in expressions: keys: {#b}"
        );
    }

    #[tokio::test]
    async fn conditions_and_return_values_on_failure() {
        let (svc, _) = service();
        create_table(&svc, "t1", schema(("pk", "S"), None), vec![]);
        put(&svc, "t1", &[("pk", s("a")), ("v", n("1"))]).await;
        let cond_put = |rv: Option<ReturnValuesOnConditionCheckFailure>| PutItemInput {
            table_name: "t1".into(),
            item: av_map(&[("pk", s("a")), ("v", n("2"))]),
            condition_expression: Some("attribute_not_exists(pk)".into()),
            return_values_on_condition_check_failure: rv,
            ..Default::default()
        };
        match put_item(&svc, &ctx(), cond_put(None)).await.unwrap_err() {
            DynamoDbError::ConditionalCheckFailed { item } => assert!(item.is_none()),
            e => panic!("{e:?}"),
        }
        match put_item(
            &svc,
            &ctx(),
            cond_put(Some(ReturnValuesOnConditionCheckFailure::AllOld)),
        )
        .await
        .unwrap_err()
        {
            DynamoDbError::ConditionalCheckFailed { item } => {
                assert_eq!(item.unwrap()["v"], crate::value::Value::n("1").unwrap())
            }
            e => panic!("{e:?}"),
        }
        // Legacy Expected on a missing attribute passes.
        let mut expected = HashMap::new();
        expected.insert(
            "w".to_string(),
            ExpectedAttributeValue {
                exists: Some(false),
                ..Default::default()
            },
        );
        put_item(
            &svc,
            &ctx(),
            PutItemInput {
                table_name: "t1".into(),
                item: av_map(&[("pk", s("a")), ("v", n("3"))]),
                expected: Some(expected),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        assert_eq!(
            get(&svc, "t1", &[("pk", s("a"))]).await.unwrap()["v"],
            n("3")
        );
        // DeleteItem with a false condition deletes nothing.
        let e = err(delete_item(
            &svc,
            &ctx(),
            DeleteItemInput {
                table_name: "t1".into(),
                key: av_map(&[("pk", s("a"))]),
                condition_expression: Some("v = :x".into()),
                expression_attribute_values: Some(av_map(&[(":x", n("9"))])),
                ..Default::default()
            },
        )
        .await);
        assert_eq!(
            e,
            (
                "ConditionalCheckFailedException".into(),
                "The conditional request failed".into()
            )
        );
        assert!(get(&svc, "t1", &[("pk", s("a"))]).await.is_some());
    }

    fn update(
        expr: &str,
        values: &[(&str, AttributeValue)],
        rv: Option<ReturnValue>,
    ) -> UpdateItemInput {
        UpdateItemInput {
            table_name: "t1".into(),
            key: av_map(&[("pk", s("a"))]),
            update_expression: Some(expr.into()),
            expression_attribute_values: (!values.is_empty()).then(|| av_map(values)),
            return_values: rv,
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn update_item_return_values_and_errors() {
        let (svc, _) = service();
        create_table(&svc, "t1", schema(("pk", "S"), None), vec![]);
        // Creates the item.
        let out = update_item(
            &svc,
            &ctx(),
            update(
                "SET a = :one, b = :one",
                &[(":one", n("1"))],
                Some(ReturnValue::AllNew),
            ),
        )
        .await
        .unwrap();
        let attrs = out.attributes.unwrap();
        assert_eq!(attrs.len(), 3);
        assert_eq!(attrs["pk"], s("a"));
        let out = update_item(
            &svc,
            &ctx(),
            update(
                "ADD a :one",
                &[(":one", n("1"))],
                Some(ReturnValue::UpdatedOld),
            ),
        )
        .await
        .unwrap();
        assert_eq!(out.attributes.unwrap(), av_map(&[("a", n("1"))]));
        let out = update_item(
            &svc,
            &ctx(),
            update(
                "SET a = a + :one",
                &[(":one", n("1"))],
                Some(ReturnValue::UpdatedNew),
            ),
        )
        .await
        .unwrap();
        assert_eq!(out.attributes.unwrap(), av_map(&[("a", n("3"))]));
        let out = update_item(
            &svc,
            &ctx(),
            update("REMOVE b", &[], Some(ReturnValue::AllOld)),
        )
        .await
        .unwrap();
        assert_eq!(out.attributes.unwrap()["b"], n("1"));
        // UPDATED_NEW of a removal returns nothing.
        let out = update_item(
            &svc,
            &ctx(),
            update("REMOVE zz", &[], Some(ReturnValue::UpdatedNew)),
        )
        .await
        .unwrap();
        assert!(out.attributes.is_none());

        let e = err(update_item(
            &svc,
            &ctx(),
            update("SET pk = :one", &[(":one", n("1"))], None),
        )
        .await);
        assert_eq!(
            e.1,
            "One or more parameter values were invalid: Cannot update attribute pk. This attribute is part of the key"
        );
        let e = err(update_item(
            &svc,
            &ctx(),
            update("SET c = nope + :one", &[(":one", n("1"))], None),
        )
        .await);
        assert_eq!(
            e.1,
            "The provided expression refers to an attribute that does not exist in the item"
        );
        let e = err(update_item(
            &svc,
            &ctx(),
            update("SET big = :v", &[(":v", s(&"x".repeat(400 * 1024)))], None),
        )
        .await);
        assert_eq!(
            e.1,
            "Item size to update has exceeded the maximum allowed size"
        );
        let e = err(update_item(
            &svc,
            &ctx(),
            UpdateItemInput {
                table_name: "t1".into(),
                key: av_map(&[("pk", s("a"))]),
                expression_attribute_values: Some(av_map(&[(":one", n("1"))])),
                ..Default::default()
            },
        )
        .await);
        assert_eq!(
            e.1,
            "ExpressionAttributeValues can only be specified when using expressions: UpdateExpression and ConditionExpression are null"
        );
        // Legacy AttributeUpdates.
        let mut updates = HashMap::new();
        updates.insert(
            "a".to_string(),
            AttributeValueUpdate {
                value: Some(n("10")),
                action: Some(AttributeAction::Add),
            },
        );
        let out = update_item(
            &svc,
            &ctx(),
            UpdateItemInput {
                table_name: "t1".into(),
                key: av_map(&[("pk", s("a"))]),
                attribute_updates: Some(updates),
                return_values: Some(ReturnValue::UpdatedNew),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        assert_eq!(out.attributes.unwrap(), av_map(&[("a", n("13"))]));
    }

    #[tokio::test]
    async fn capacity_and_collection_metrics() {
        let (svc, _) = service();
        let lsi = index(
            "lsi",
            IndexKind::Local,
            schema(("pk", "S"), Some(("l", "S"))),
            IndexProjection::All,
        );
        create_table(
            &svc,
            "t1",
            schema(("pk", "S"), Some(("sk", "S"))),
            vec![lsi],
        );
        let out = put_item(
            &svc,
            &ctx(),
            PutItemInput {
                table_name: "t1".into(),
                item: av_map(&[
                    ("pk", s("a")),
                    ("sk", s("1")),
                    ("l", s("x")),
                    ("big", s(&"y".repeat(1500))),
                ]),
                return_consumed_capacity: Some(ReturnConsumedCapacity::Indexes),
                return_item_collection_metrics: Some(ReturnItemCollectionMetrics::Size),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        let c = out.consumed_capacity.unwrap();
        // 2 KB item: 2 units on the table, 2 on the LSI (ALL projection).
        assert_eq!(c.capacity_units, Some(4.0));
        assert_eq!(c.write_capacity_units, Some(4.0));
        assert_eq!(c.table.unwrap().write_capacity_units, Some(2.0));
        assert_eq!(
            c.local_secondary_indexes.unwrap()["lsi"].capacity_units,
            Some(2.0)
        );
        let m = out.item_collection_metrics.unwrap();
        assert_eq!(m.item_collection_key.unwrap()["pk"], s("a"));
        let out = get_item(
            &svc,
            &ctx(),
            GetItemInput {
                table_name: "t1".into(),
                key: av_map(&[("pk", s("a")), ("sk", s("1"))]),
                return_consumed_capacity: Some(ReturnConsumedCapacity::Total),
                consistent_read: Some(true),
                projection_expression: Some("nothing".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        assert_eq!(out.item, Some(HashMap::new()));
        let c = out.consumed_capacity.unwrap();
        assert_eq!(
            (c.capacity_units, c.read_capacity_units),
            (Some(1.0), Some(1.0))
        );
    }

    #[tokio::test]
    async fn projections_on_get() {
        let (svc, _) = service();
        create_table(&svc, "t1", schema(("pk", "S"), None), vec![]);
        put(&svc, "t1", &[("pk", s("a")), ("x", s("1")), ("y", s("2"))]).await;
        let out = get_item(
            &svc,
            &ctx(),
            GetItemInput {
                table_name: "t1".into(),
                key: av_map(&[("pk", s("a"))]),
                attributes_to_get: Some(vec!["x".into(), "zz".into()]),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        assert_eq!(out.item.unwrap(), av_map(&[("x", s("1"))]));
        let e = err(get_item(
            &svc,
            &ctx(),
            GetItemInput {
                table_name: "t1".into(),
                key: av_map(&[("pk", s("a"))]),
                projection_expression: Some("pk.nested".into()),
                ..Default::default()
            },
        )
        .await);
        assert_eq!(
            e.1,
            "Key attributes must be scalars; list random access '[]' and map lookup '.' are not allowed: Key: pk"
        );
    }
}
