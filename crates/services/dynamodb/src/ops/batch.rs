//! BatchGetItem and BatchWriteItem.
//!
//! BatchGetItem reads every key from one snapshot; keys whose items would take the
//! response over 16 MB come back in `UnprocessedKeys` (with their table's projection and
//! read settings) for the client to retry. BatchWriteItem validates the whole batch first
//! (any invalid request fails the batch, as in DynamoDB), then writes it in as few store
//! transactions as the store's transaction size allows; each item's write (with its index
//! entries) is atomic, and nothing is ever left unprocessed.

use std::collections::HashMap;
use std::sync::Arc;

use nimbus_core::RequestContext;
use nimbus_model::dynamodb::*;

use crate::error::DynamoDbError;
use crate::expr::{self, legacy, ExpressionContext};
use crate::ops::capacity::{self, CapacityMode, UsageSet};
use crate::ops::catalog::TableMeta;
use crate::ops::convert::item_into_attrs;
use crate::ops::items::{key_names, Change, ItemWrite};
use crate::ops::params;
use crate::ops::write::{self, ChangeCtx};
use crate::ops::DynamoDb;
use crate::size::{self, item_size, ReadMode};
use crate::value::Item;

/// Most keys one BatchGetItem may request, over all tables.
pub const MAX_BATCH_GET_KEYS: usize = 100;
/// Most put and delete requests one BatchWriteItem may carry, over all tables.
pub const MAX_BATCH_WRITE_REQUESTS: usize = 25;
/// Largest BatchGetItem response: items beyond it are returned as unprocessed keys.
pub const MAX_BATCH_GET_RESPONSE_BYTES: usize = 16 * 1024 * 1024;
/// Most bytes (items and index entries, estimated) one BatchWriteItem store transaction
/// writes; well under the store's per-transaction limit.
const MAX_WRITE_CHUNK_BYTES: usize = 16 * 1024 * 1024;

pub const MSG_DUPLICATE_KEYS: &str = "Provided list of item keys contains duplicates";

/// Entries of a wire map in name order (the map has lost the request's order; a fixed
/// order keeps errors and unprocessed keys deterministic).
fn sorted<V>(map: HashMap<String, V>) -> Vec<(String, V)> {
    let mut v: Vec<(String, V)> = map.into_iter().collect();
    v.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    v
}

/// One table's part of a BatchGetItem, validated.
struct GetTable {
    name: String,
    /// The keys as converted values and as sent (for UnprocessedKeys).
    keys: Vec<(Item, HashMap<String, AttributeValue>)>,
    projection: Option<expr::Projection>,
    consistent: bool,
    /// The request's settings without keys, echoed in UnprocessedKeys.
    template: KeysAndAttributes,
}

pub async fn batch_get_item(
    svc: &DynamoDb,
    ctx: &RequestContext,
    input: BatchGetItemInput,
) -> Result<BatchGetItemOutput, DynamoDbError> {
    let BatchGetItemInput {
        request_items,
        return_consumed_capacity,
    } = input;
    let mut total = 0usize;
    let mut tables: Vec<GetTable> = Vec::with_capacity(request_items.len());
    for (name, ka) in sorted(request_items) {
        let KeysAndAttributes {
            keys,
            attributes_to_get,
            consistent_read,
            projection_expression,
            expression_attribute_names: names,
        } = ka;
        params::check_expression_params(
            &[("AttributesToGet", attributes_to_get.is_some())],
            &[("ProjectionExpression", projection_expression.is_some())],
            &[],
            names.is_some(),
            false,
        )?;
        let mut converted: Vec<(Item, HashMap<String, AttributeValue>)> =
            Vec::with_capacity(keys.len());
        for key in keys {
            let item = params::item(key.clone())?;
            if converted.iter().any(|(k, _)| *k == item) {
                return Err(DynamoDbError::validation(MSG_DUPLICATE_KEYS));
            }
            converted.push((item, key));
            total += 1;
            if total > MAX_BATCH_GET_KEYS {
                return Err(DynamoDbError::validation(
                    "Too many items requested for the BatchGetItem call",
                ));
            }
        }
        let legacy_projection = match &attributes_to_get {
            Some(n) => Some(legacy::attributes_to_get_projection(n)?),
            None => None,
        };
        params::prepare_placeholders(names.as_ref(), None)?;
        let mut cx = ExpressionContext::new(names.as_ref(), None);
        let projection = match &projection_expression {
            Some(text) => Some(cx.projection(text)?),
            None => legacy_projection,
        };
        cx.finish()?;
        tables.push(GetTable {
            name,
            keys: converted,
            projection,
            consistent: consistent_read == Some(true),
            template: KeysAndAttributes {
                keys: Vec::new(),
                attributes_to_get,
                consistent_read,
                projection_expression,
                expression_attribute_names: names,
            },
        });
    }

    // Resolve every table and key before reading anything.
    let mut resolved: Vec<(Arc<TableMeta>, Vec<write::PrimaryKey>)> =
        Vec::with_capacity(tables.len());
    for t in &tables {
        let meta = svc.table(ctx, &t.name)?;
        let mut keys = Vec::with_capacity(t.keys.len());
        for (k, _) in &t.keys {
            keys.push(write::key_from_map(&meta, k)?);
        }
        if let Some(p) = &t.projection {
            expr::check_key_paths(p.paths(), &key_names(&meta))?;
        }
        resolved.push((meta, keys));
    }

    let mode = CapacityMode::from_request(return_consumed_capacity.as_ref());
    let mut usage = UsageSet::default();
    let mut responses: HashMap<String, Vec<HashMap<String, AttributeValue>>> = HashMap::new();
    let mut unprocessed: HashMap<String, KeysAndAttributes> = HashMap::new();
    let mut response_bytes = 0usize;
    let snapshot = svc.db().snapshot()?;
    for (t, (meta, keys)) in tables.into_iter().zip(resolved) {
        let out = responses.entry(t.name.clone()).or_default();
        let read_mode = if t.consistent {
            ReadMode::Strong
        } else {
            ReadMode::Eventual
        };
        for ((_, wire_key), key) in t.keys.into_iter().zip(keys) {
            let found = write::read_item(snapshot.as_ref(), &meta, &key)?;
            let size_read = found.as_ref().map_or(0, item_size);
            let projected = match (found, &t.projection) {
                (Some(item), Some(p)) => Some(p.apply(&item)),
                (found, _) => found,
            };
            let returned = projected.as_ref().map_or(0, item_size);
            if response_bytes + returned > MAX_BATCH_GET_RESPONSE_BYTES {
                unprocessed
                    .entry(t.name.clone())
                    .or_insert_with(|| t.template.clone())
                    .keys
                    .push(wire_key);
                continue;
            }
            response_bytes += returned;
            if mode.wanted() {
                usage.table(&t.name).read_item(size_read, read_mode);
            }
            if let Some(item) = projected {
                out.push(item_into_attrs(item));
            }
        }
    }
    drop(snapshot);
    Ok(BatchGetItemOutput {
        responses: Some(responses),
        unprocessed_keys: Some(unprocessed),
        consumed_capacity: usage.to_consumed(mode),
    })
}

/// Rewrites the item-key errors of a put inside a batch the way DynamoDB words them.
fn batch_key_error(e: DynamoDbError) -> DynamoDbError {
    match e {
        DynamoDbError::Validation(m)
            if m.contains("Missing the key") || m.contains("Type mismatch for key") =>
        {
            DynamoDbError::validation(write::MSG_KEY_SCHEMA_MISMATCH)
        }
        other => other,
    }
}

/// Rough bytes a write puts in the store (item plus one entry per index), for chunking.
fn write_estimate(w: &ItemWrite) -> usize {
    let item = match &w.change {
        Change::Put(item) => item_size(item),
        _ => 64,
    };
    (item + 64) * (1 + w.table.indexes.len())
}

pub async fn batch_write_item(
    svc: &DynamoDb,
    ctx: &RequestContext,
    input: BatchWriteItemInput,
) -> Result<BatchWriteItemOutput, DynamoDbError> {
    let BatchWriteItemInput {
        request_items,
        return_consumed_capacity,
        return_item_collection_metrics,
    } = input;
    let total: usize = request_items.values().map(Vec::len).sum();
    if total > MAX_BATCH_WRITE_REQUESTS {
        return Err(DynamoDbError::validation(
            "Too many items requested for the BatchWriteItem call",
        ));
    }
    enum Req {
        Put(Item),
        Delete(Item),
    }
    let mut tables: Vec<(String, Vec<Req>)> = Vec::with_capacity(request_items.len());
    for (name, requests) in sorted(request_items) {
        let mut reqs = Vec::with_capacity(requests.len());
        for r in requests {
            match (r.put_request, r.delete_request) {
                (Some(put), None) => {
                    let item = params::item(put.item)?;
                    size::check_item_size(&item).map_err(DynamoDbError::validation)?;
                    reqs.push(Req::Put(item));
                }
                (None, Some(delete)) => reqs.push(Req::Delete(params::item(delete.key)?)),
                _ => {
                    return Err(DynamoDbError::validation(
                        "Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes",
                    ))
                }
            }
        }
        tables.push((name, reqs));
    }

    let mut writes: Vec<ItemWrite> = Vec::with_capacity(total);
    for (name, reqs) in tables {
        let meta = svc.table(ctx, &name)?;
        let mut seen: Vec<Vec<u8>> = Vec::with_capacity(reqs.len());
        for r in reqs {
            let (key, change) = match r {
                Req::Put(item) => (
                    write::validate_item_for_put(&meta, &item).map_err(batch_key_error)?,
                    Change::Put(item),
                ),
                Req::Delete(key) => (write::key_from_map(&meta, &key)?, Change::Delete),
            };
            let store_key = key.store_key(&meta)?;
            if seen.contains(&store_key) {
                return Err(DynamoDbError::validation(MSG_DUPLICATE_KEYS));
            }
            seen.push(store_key);
            writes.push(ItemWrite {
                table: meta.clone(),
                key,
                condition: None,
                change,
                old_on_failure: false,
            });
        }
    }

    let mode = CapacityMode::from_request(return_consumed_capacity.as_ref());
    let metrics_wanted = capacity::metrics_wanted(return_item_collection_metrics.as_ref());
    let mut metrics: HashMap<String, Vec<ItemCollectionMetrics>> = HashMap::new();
    if metrics_wanted {
        for w in &writes {
            if let Some(m) = capacity::collection_metrics(&w.table, &w.key.hash) {
                metrics.entry(w.table.name.clone()).or_default().push(m);
            }
        }
    }
    let mut usage = UsageSet::default();
    // Chunks of writes, each one store transaction.
    let mut chunks: Vec<Vec<ItemWrite>> = Vec::new();
    let mut chunk_bytes = 0usize;
    for w in writes {
        let est = write_estimate(&w);
        match chunks.last_mut() {
            Some(c) if chunk_bytes + est <= MAX_WRITE_CHUNK_BYTES => {
                chunk_bytes += est;
                c.push(w);
            }
            _ => {
                chunk_bytes = est;
                chunks.push(vec![w]);
            }
        }
    }
    for chunk in chunks {
        let cx = ChangeCtx::user(svc.now_millis());
        let chunk_tables: Vec<Arc<TableMeta>> = chunk.iter().map(|w| w.table.clone()).collect();
        let part = svc
            .db()
            .write(move |txn| {
                let mut part = UsageSet::default();
                for w in &chunk {
                    let ev = match w.evaluate(txn)? {
                        Ok(ev) => ev,
                        // No conditions here; only a store-level failure can end up here.
                        Err(f) => return Err(f.into_error()),
                    };
                    w.apply(txn, &ev, &cx)?;
                    if mode.wanted() {
                        w.record_capacity(part.table(&w.table.name), &ev, false)?;
                    }
                }
                Ok(part)
            })
            .await?;
        svc.notify_bus_for(chunk_tables.iter().map(|t| &**t));
        usage.merge(part);
    }
    Ok(BatchWriteItemOutput {
        unprocessed_items: Some(HashMap::new()),
        item_collection_metrics: (metrics_wanted && !metrics.is_empty()).then_some(metrics),
        consumed_capacity: usage.to_consumed(mode),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::ops::items::test_support::*;

    fn put_req(pairs: &[(&str, AttributeValue)]) -> WriteRequest {
        WriteRequest {
            put_request: Some(PutRequest {
                item: av_map(pairs),
            }),
            delete_request: None,
        }
    }

    fn del_req(pairs: &[(&str, AttributeValue)]) -> WriteRequest {
        WriteRequest {
            put_request: None,
            delete_request: Some(DeleteRequest { key: av_map(pairs) }),
        }
    }

    fn write_input(table: &str, reqs: Vec<WriteRequest>) -> BatchWriteItemInput {
        let mut m = HashMap::new();
        m.insert(table.to_string(), reqs);
        BatchWriteItemInput {
            request_items: m,
            ..Default::default()
        }
    }

    fn get_input(table: &str, keys: Vec<HashMap<String, AttributeValue>>) -> BatchGetItemInput {
        let mut m = HashMap::new();
        m.insert(
            table.to_string(),
            KeysAndAttributes {
                keys,
                ..Default::default()
            },
        );
        BatchGetItemInput {
            request_items: m,
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn write_then_get() {
        let (svc, _) = service();
        create_table(&svc, "t1", schema(("pk", "S"), None), vec![]);
        let reqs = (0..10)
            .map(|i| put_req(&[("pk", s(&format!("k{i}"))), ("v", n(&i.to_string()))]))
            .collect();
        let mut input = write_input("t1", reqs);
        input.return_consumed_capacity = Some(ReturnConsumedCapacity::Total);
        let out = batch_write_item(&svc, &ctx(), input).await.unwrap();
        assert_eq!(out.unprocessed_items, Some(HashMap::new()));
        let c = out.consumed_capacity.unwrap();
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].capacity_units, Some(10.0));

        let out = batch_write_item(
            &svc,
            &ctx(),
            write_input("t1", vec![del_req(&[("pk", s("k0"))])]),
        )
        .await
        .unwrap();
        assert!(out.consumed_capacity.is_none());

        let mut input = get_input(
            "t1",
            vec![
                av_map(&[("pk", s("k0"))]),
                av_map(&[("pk", s("k1"))]),
                av_map(&[("pk", s("k2"))]),
            ],
        );
        input.return_consumed_capacity = Some(ReturnConsumedCapacity::Indexes);
        let out = batch_get_item(&svc, &ctx(), input).await.unwrap();
        let items = &out.responses.as_ref().unwrap()["t1"];
        assert_eq!(items.len(), 2);
        assert_eq!(out.unprocessed_keys, Some(HashMap::new()));
        let c = out.consumed_capacity.unwrap();
        // Three keys read eventually consistent (the missing one counts too).
        assert_eq!(c[0].capacity_units, Some(1.5));
        assert_eq!(c[0].table.as_ref().unwrap().read_capacity_units, Some(1.5));
    }

    #[tokio::test]
    async fn batch_errors() {
        let (svc, _) = service();
        create_table(&svc, "t1", schema(("pk", "S"), None), vec![]);
        let e = err(batch_get_item(
            &svc,
            &ctx(),
            get_input(
                "t1",
                vec![av_map(&[("pk", s("a"))]), av_map(&[("pk", s("a"))])],
            ),
        )
        .await);
        assert_eq!(e.1, MSG_DUPLICATE_KEYS);
        let e = err(batch_get_item(
            &svc,
            &ctx(),
            get_input(
                "t1",
                (0..101)
                    .map(|i| av_map(&[("pk", s(&i.to_string()))]))
                    .collect(),
            ),
        )
        .await);
        assert_eq!(e.1, "Too many items requested for the BatchGetItem call");
        let e = err(batch_get_item(
            &svc,
            &ctx(),
            get_input("nope", vec![av_map(&[("pk", s("a"))])]),
        )
        .await);
        assert_eq!(e.0, "ResourceNotFoundException");
        let e = err(batch_write_item(
            &svc,
            &ctx(),
            write_input(
                "t1",
                (0..26)
                    .map(|i| put_req(&[("pk", s(&i.to_string()))]))
                    .collect(),
            ),
        )
        .await);
        assert_eq!(e.1, "Too many items requested for the BatchWriteItem call");
        let e = err(batch_write_item(
            &svc,
            &ctx(),
            write_input(
                "t1",
                vec![put_req(&[("pk", s("a"))]), del_req(&[("pk", s("a"))])],
            ),
        )
        .await);
        assert_eq!(e.1, MSG_DUPLICATE_KEYS);
        let e = err(batch_write_item(
            &svc,
            &ctx(),
            write_input("t1", vec![put_req(&[("x", s("a"))])]),
        )
        .await);
        assert_eq!(e.1, "The provided key element does not match the schema");
        let e = err(batch_write_item(
            &svc,
            &ctx(),
            write_input(
                "t1",
                vec![WriteRequest {
                    put_request: None,
                    delete_request: None,
                }],
            ),
        )
        .await);
        assert_eq!(
            e.1,
            "Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes"
        );
        // A failed batch wrote nothing.
        let out = batch_get_item(
            &svc,
            &ctx(),
            get_input("t1", vec![av_map(&[("pk", s("a"))])]),
        )
        .await
        .unwrap();
        assert!(out.responses.unwrap()["t1"].is_empty());
    }

    #[tokio::test]
    async fn oversized_responses_leave_unprocessed_keys() {
        let (svc, _) = service();
        create_table(&svc, "t1", schema(("pk", "S"), None), vec![]);
        let blob = "x".repeat(390 * 1024);
        for chunk in 0..5 {
            let reqs = (0..10)
                .map(|i| put_req(&[("pk", s(&format!("k{}", chunk * 10 + i))), ("b", s(&blob))]))
                .collect();
            batch_write_item(&svc, &ctx(), write_input("t1", reqs))
                .await
                .unwrap();
        }
        let keys: Vec<_> = (0..50)
            .map(|i| av_map(&[("pk", s(&format!("k{i}")))]))
            .collect();
        let mut input = get_input("t1", keys);
        input
            .request_items
            .get_mut("t1")
            .unwrap()
            .projection_expression = Some("pk, b".into());
        let out = batch_get_item(&svc, &ctx(), input).await.unwrap();
        let got = out.responses.unwrap()["t1"].len();
        let left = &out.unprocessed_keys.unwrap()["t1"];
        // 16 MB holds 42 items of ~390 KB.
        assert_eq!(got, 42);
        assert_eq!(left.keys.len(), 8);
        assert_eq!(left.projection_expression.as_deref(), Some("pk, b"));
    }
}
