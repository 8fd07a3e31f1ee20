//! Key validation and the one function every item write goes through.
//!
//! `apply_item_change` writes or deletes an item, keeps every secondary index and the
//! table's counters exact, all inside the caller's transaction. Callers read the current
//! item in the same transaction (`read_item`) and pass it as `old`.

use nimbus_store::{ReadTxn, WriteTxn};

use crate::error::DynamoDbError;
use crate::keycodec::KeyType;
use crate::ops::catalog::{self, IndexMeta, KeyAttr, KeySchema, Projection, TableMeta};
use crate::ops::changes;
use crate::ops::layout::{self, Counters};
use crate::size::item_size;
use crate::value::{Item, Value};

/// Largest partition (hash) key value, in bytes (S and B; numbers are always small).
pub const MAX_HASH_KEY_BYTES: usize = 2048;
/// Largest sort (range) key value, in bytes.
pub const MAX_RANGE_KEY_BYTES: usize = 1024;

pub const MSG_KEY_SCHEMA_MISMATCH: &str = "The provided key element does not match the schema";
pub const MSG_HASH_KEY_TOO_LARGE: &str = "One or more parameter values were invalid: Size of hashkey has exceeded the maximum size limit of2048 bytes";
pub const MSG_RANGE_KEY_TOO_LARGE: &str = "One or more parameter values were invalid: Aggregated size of all range keys has exceeded the size limit of 1024 bytes";
/// The data-plane "no such table" message (control-plane operations add the table name).
pub const MSG_RESOURCE_NOT_FOUND: &str = "Requested resource not found";

/// Who made an item change: decides whether and how it appears in the table's stream
/// and whether replication forwards it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangeOrigin {
    /// A data-plane request (PutItem, UpdateItem, batch, transaction, PartiQL).
    User,
    /// The TTL sweeper: a stream REMOVE with the `dynamodb.amazonaws.com` identity.
    Ttl,
    /// A global-table replica applying a change made in `from_region` at `written_ms`.
    Replication {
        from_region: String,
        written_ms: i64,
    },
    /// A restore from a backup or a point in time: no stream record.
    Restore,
}

/// The context of one item change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeCtx {
    /// The clock's time of the change (`ApproximateCreationDateTime`, history, LWW).
    pub now_ms: i64,
    pub origin: ChangeOrigin,
}

impl ChangeCtx {
    /// A change made by a data-plane request at `now_ms`.
    pub fn user(now_ms: i64) -> Self {
        ChangeCtx {
            now_ms,
            origin: ChangeOrigin::User,
        }
    }
}

/// A table's primary key values, validated against its schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrimaryKey {
    pub hash: Value,
    pub range: Option<Value>,
}

impl PrimaryKey {
    /// The key as an item map (what `Key`/`LastEvaluatedKey` hold).
    pub fn to_item(&self, schema: &KeySchema) -> Item {
        let mut m = Item::with_capacity(2);
        m.insert(schema.hash.name.clone(), self.hash.clone());
        if let (Some(r), Some(v)) = (&schema.range, &self.range) {
            m.insert(r.name.clone(), v.clone());
        }
        m
    }

    /// The item's store key.
    pub fn store_key(&self, table: &TableMeta) -> Result<Vec<u8>, DynamoDbError> {
        layout::item_key(&table.key_id, &self.hash, self.range.as_ref())
    }
}

fn empty_key_message(v: &Value, attr: &str) -> Option<String> {
    let kind = match v {
        Value::S(s) if s.is_empty() => "string",
        Value::B(b) if b.is_empty() => "binary",
        _ => return None,
    };
    Some(format!(
        "One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty {kind} value. Key: {attr}"
    ))
}

fn key_value_len(v: &Value) -> usize {
    match v {
        Value::S(s) => s.len(),
        Value::B(b) => b.len(),
        _ => 0,
    }
}

fn check_key_size(v: &Value, is_hash: bool) -> Result<(), DynamoDbError> {
    if is_hash && key_value_len(v) > MAX_HASH_KEY_BYTES {
        return Err(DynamoDbError::validation(MSG_HASH_KEY_TOO_LARGE));
    }
    if !is_hash && key_value_len(v) > MAX_RANGE_KEY_BYTES {
        return Err(DynamoDbError::validation(MSG_RANGE_KEY_TOO_LARGE));
    }
    Ok(())
}

fn has_type(v: &Value, ty: KeyType) -> bool {
    KeyType::of(v) == Some(ty)
}

/// The primary key of an item being written (PutItem's `Item`), with AWS's messages:
/// missing key, type mismatch, empty string/binary, key size.
pub fn key_of_item(table: &TableMeta, item: &Item) -> Result<PrimaryKey, DynamoDbError> {
    let one = |attr: &KeyAttr, is_hash: bool| -> Result<Value, DynamoDbError> {
        let v = item.get(&attr.name).ok_or_else(|| {
            DynamoDbError::Validation(format!(
                "One or more parameter values were invalid: Missing the key {} in the item",
                attr.name
            ))
        })?;
        if !has_type(v, attr.ty) {
            return Err(DynamoDbError::Validation(format!(
                "One or more parameter values were invalid: Type mismatch for key {} expected: {} actual: {}",
                attr.name,
                attr.ty.as_str(),
                v.type_name()
            )));
        }
        if let Some(msg) = empty_key_message(v, &attr.name) {
            return Err(DynamoDbError::Validation(msg));
        }
        check_key_size(v, is_hash)?;
        Ok(v.clone())
    };
    let hash = one(&table.key.hash, true)?;
    let range = match &table.key.range {
        Some(r) => Some(one(r, false)?),
        None => None,
    };
    Ok(PrimaryKey { hash, range })
}

/// The primary key given as a `Key` parameter (GetItem, UpdateItem, DeleteItem, ...):
/// exactly the key attributes with the right types, else "The provided key element does
/// not match the schema"; empty values and sizes as for items.
pub fn key_from_map(table: &TableMeta, key: &Item) -> Result<PrimaryKey, DynamoDbError> {
    let want = 1 + usize::from(table.key.range.is_some());
    if key.len() != want {
        return Err(DynamoDbError::validation(MSG_KEY_SCHEMA_MISMATCH));
    }
    let one = |attr: &KeyAttr, is_hash: bool| -> Result<Value, DynamoDbError> {
        let v = key
            .get(&attr.name)
            .ok_or_else(|| DynamoDbError::validation(MSG_KEY_SCHEMA_MISMATCH))?;
        if !has_type(v, attr.ty) {
            return Err(DynamoDbError::validation(MSG_KEY_SCHEMA_MISMATCH));
        }
        if let Some(msg) = empty_key_message(v, &attr.name) {
            return Err(DynamoDbError::Validation(msg));
        }
        check_key_size(v, is_hash)?;
        Ok(v.clone())
    };
    let hash = one(&table.key.hash, true)?;
    let range = match &table.key.range {
        Some(r) => Some(one(r, false)?),
        None => None,
    };
    Ok(PrimaryKey { hash, range })
}

/// Which operation wrote the index key (AWS words the empty-value error differently).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexKeyContext {
    /// PutItem, BatchWriteItem, TransactWriteItems Put: the item was given whole.
    Put,
    /// UpdateItem / transactional Update: the update expression produced the value.
    Update,
}

/// Checks the item's secondary-index key attributes: an attribute that is present must
/// have the type AttributeDefinitions declares and must not be an empty string/binary.
/// (Absent index keys are fine: the item is then simply not in that index.)
pub fn check_index_keys(
    table: &TableMeta,
    item: &Item,
    ctx: IndexKeyContext,
) -> Result<(), DynamoDbError> {
    for index in &table.indexes {
        for attr in index.key.attrs() {
            let Some(v) = item.get(&attr.name) else {
                continue;
            };
            if !has_type(v, attr.ty) {
                return Err(DynamoDbError::Validation(format!(
                    "One or more parameter values were invalid: Type mismatch for Index Key {} Expected: {} Actual: {} IndexName: {}",
                    attr.name,
                    attr.ty.as_str(),
                    v.type_name(),
                    index.name
                )));
            }
            let kind = match v {
                Value::S(s) if s.is_empty() => "string",
                Value::B(b) if b.is_empty() => "binary",
                _ => continue,
            };
            return Err(DynamoDbError::Validation(match ctx {
                IndexKeyContext::Put => format!(
                    "One or more parameter values are not valid. A value specified for a secondary index key is not supported. The AttributeValue for a key attribute cannot contain an empty {kind} value. IndexName: {}, IndexKey: {}",
                    index.name, attr.name
                ),
                IndexKeyContext::Update => format!(
                    "One or more parameter values are not valid. The update expression attempted to update a secondary index key to a value that is not supported. The AttributeValue for a key attribute cannot contain an empty {kind} value."
                ),
            }));
        }
    }
    Ok(())
}

/// Everything PutItem-like writes need: the primary key plus the index-key checks.
pub fn validate_item_for_put(table: &TableMeta, item: &Item) -> Result<PrimaryKey, DynamoDbError> {
    let key = key_of_item(table, item)?;
    check_index_keys(table, item, IndexKeyContext::Put)?;
    Ok(key)
}

/// Reads one item (from a snapshot or inside a write transaction).
pub fn read_item(
    txn: &dyn ReadTxn,
    table: &TableMeta,
    key: &PrimaryKey,
) -> Result<Option<Item>, DynamoDbError> {
    match txn.get(&key.store_key(table)?)? {
        Some(bytes) => Ok(Some(layout::decode_item(&bytes)?)),
        None => Ok(None),
    }
}

/// The index's key values in `item`, when the item belongs in the index (it has every
/// index key attribute, with the declared type).
fn index_key_values<'a>(
    index: &IndexMeta,
    item: &'a Item,
) -> Option<(&'a Value, Option<&'a Value>)> {
    let h = item.get(&index.key.hash.name)?;
    if !has_type(h, index.key.hash.ty) {
        return None;
    }
    let r = match &index.key.range {
        Some(attr) => {
            let v = item.get(&attr.name)?;
            if !has_type(v, attr.ty) {
                return None;
            }
            Some(v)
        }
        None => None,
    };
    Some((h, r))
}

/// The part of `item` an index stores: table keys, index keys, plus the projection.
pub fn project_for_index(table: &TableMeta, index: &IndexMeta, item: &Item) -> Item {
    match &index.projection {
        Projection::All => item.clone(),
        Projection::KeysOnly | Projection::Include(_) => {
            let mut out = Item::new();
            let mut copy = |name: &str| {
                if let Some(v) = item.get(name) {
                    out.insert(name.to_string(), v.clone());
                }
            };
            for a in table.key.attrs().chain(index.key.attrs()) {
                copy(&a.name);
            }
            if let Projection::Include(extra) = &index.projection {
                for name in extra {
                    copy(name);
                }
            }
            out
        }
    }
}

/// An item's index entry: store key and projected item; `None` when the item is not in
/// the index.
pub fn index_entry(
    table: &TableMeta,
    index: &IndexMeta,
    item: &Item,
) -> Result<Option<(Vec<u8>, Item)>, DynamoDbError> {
    let Some((ih, ir)) = index_key_values(index, item) else {
        return Ok(None);
    };
    let (th, tr) = table_key_values(table, item)?;
    let key = layout::index_entry_key(&table.key_id, index.index_id, ih, ir, th, tr)?;
    Ok(Some((key, project_for_index(table, index, item))))
}

fn table_key_values<'a>(
    table: &TableMeta,
    item: &'a Item,
) -> Result<(&'a Value, Option<&'a Value>), DynamoDbError> {
    let missing = || DynamoDbError::Internal("item written without its table key".into());
    let h = item.get(&table.key.hash.name).ok_or_else(missing)?;
    let r = match &table.key.range {
        Some(a) => Some(item.get(&a.name).ok_or_else(missing)?),
        None => None,
    };
    Ok((h, r))
}

/// Reads a counters record; `None` when absent.
pub fn read_counters(txn: &dyn ReadTxn, key: &[u8]) -> Result<Option<Counters>, DynamoDbError> {
    match txn.get(key)? {
        Some(b) => Ok(Some(Counters::decode(&b)?)),
        None => Ok(None),
    }
}

fn adjust_counters(
    txn: &mut dyn WriteTxn,
    key: &[u8],
    count_delta: i64,
    size_delta: i64,
) -> Result<(), DynamoDbError> {
    if count_delta == 0 && size_delta == 0 {
        return Ok(());
    }
    let mut c = read_counters(txn, key)?.unwrap_or_default();
    c.item_count = c.item_count.saturating_add(count_delta).max(0);
    c.size_bytes = c.size_bytes.saturating_add(size_delta).max(0);
    txn.put(key, &c.encode())?;
    Ok(())
}

/// Writes (`new = Some`) or deletes (`new = None`) one item and maintains every index
/// entry and counter. `old` must be the item as currently stored (read in this same
/// transaction); `old` and `new` share the primary key. Fails with ResourceNotFound
/// ("Requested resource not found") when the table no longer exists.
///
/// If `table` is a stale cached copy (an index was added or removed since), the current
/// metadata is loaded from the transaction and used instead, so index maintenance always
/// matches the committed schema.
pub fn apply_item_change(
    txn: &mut dyn WriteTxn,
    table: &TableMeta,
    old: Option<&Item>,
    new: Option<&Item>,
    cx: &ChangeCtx,
) -> Result<(), DynamoDbError> {
    let counters_key = layout::table_counters_key(&table.key_id);
    let mut counters = read_counters(txn, &counters_key)?
        .ok_or_else(|| DynamoDbError::ResourceNotFound(MSG_RESOURCE_NOT_FOUND.into()))?;
    let fresh;
    let table = if counters.version == table.version {
        table
    } else {
        fresh = catalog::load_table(txn, &table.account_id, &table.region, &table.name)?
            .filter(|t| t.key_id == table.key_id)
            .ok_or_else(|| DynamoDbError::ResourceNotFound(MSG_RESOURCE_NOT_FOUND.into()))?;
        &fresh
    };
    let Some(any) = new.or(old) else {
        return Ok(());
    };
    let (th, tr) = table_key_values(table, any)?;
    let item_key = layout::item_key(&table.key_id, th, tr)?;
    match new {
        Some(n) => txn.put(&item_key, &layout::encode_item(n))?,
        None => {
            if old.is_some() {
                txn.delete(&item_key)?;
            }
        }
    }
    let old_size = old.map_or(0, |o| item_size(o) as i64);
    let new_size = new.map_or(0, |n| item_size(n) as i64);
    let count_delta = i64::from(new.is_some()) - i64::from(old.is_some());
    if count_delta != 0 || old_size != new_size {
        counters.item_count = counters.item_count.saturating_add(count_delta).max(0);
        counters.size_bytes = counters
            .size_bytes
            .saturating_add(new_size - old_size)
            .max(0);
        txn.put(&counters_key, &counters.encode())?;
    }
    // Stream records and the point-in-time history are part of the same transaction.
    changes::record(txn, table, old, new, cx)?;
    if !table.replicas.is_empty() {
        // Last-writer-wins stamp of a global table's item (see `replication`).
        crate::ops::replication::record(txn, table, old, new, cx)?;
    }
    for index in &table.indexes {
        let old_entry = match old {
            Some(o) => index_entry(table, index, o)?,
            None => None,
        };
        let new_entry = match new {
            Some(n) => index_entry(table, index, n)?,
            None => None,
        };
        if old_entry.is_none() && new_entry.is_none() {
            continue;
        }
        maintain_index(txn, table, index, old_entry, new_entry)?;
    }
    Ok(())
}

fn maintain_index(
    txn: &mut dyn WriteTxn,
    table: &TableMeta,
    index: &IndexMeta,
    old_entry: Option<(Vec<u8>, Item)>,
    new_entry: Option<(Vec<u8>, Item)>,
) -> Result<(), DynamoDbError> {
    let ckey = layout::index_counters_key(&table.key_id, index.index_id);
    // While a GSI is being backfilled, entries for items the backfill has not reached yet
    // do not exist: check before counting a removal, and count an addition only when the
    // entry is new, so the counters stay exact whichever side gets there first.
    let mut count_delta = 0i64;
    let mut size_delta = 0i64;
    if let Some((ok, oitem)) = &old_entry {
        let same_key = new_entry.as_ref().is_some_and(|(nk, _)| nk == ok);
        if same_key {
            if let Some((_, nitem)) = &new_entry {
                if nitem == oitem && !index.backfilling {
                    return Ok(());
                }
            }
        }
        let existed = if index.backfilling {
            txn.get(ok)?.is_some()
        } else {
            true
        };
        if existed {
            count_delta -= 1;
            size_delta -= item_size(oitem) as i64;
            if !same_key {
                txn.delete(ok)?;
            }
        }
    }
    if let Some((nk, nitem)) = &new_entry {
        if index.backfilling {
            let same_key = old_entry.as_ref().is_some_and(|(ok, _)| ok == nk);
            // When the old entry was at this key its removal was already counted above
            // (if it existed); otherwise a backfill may have written this entry already.
            if !same_key {
                if let Some(prev) = txn.get(nk)? {
                    let prev = layout::decode_item(&prev)?;
                    count_delta -= 1;
                    size_delta -= item_size(&prev) as i64;
                }
            }
        }
        txn.put(nk, &layout::encode_item(nitem))?;
        count_delta += 1;
        size_delta += item_size(nitem) as i64;
    }
    adjust_counters(txn, &ckey, count_delta, size_delta)
}

/// Adds one existing item to a GSI being backfilled (idempotent; counts only new entries).
pub fn backfill_item(
    txn: &mut dyn WriteTxn,
    table: &TableMeta,
    index: &IndexMeta,
    item: &Item,
) -> Result<(), DynamoDbError> {
    let Some((key, projected)) = index_entry(table, index, item)? else {
        return Ok(());
    };
    if txn.get(&key)?.is_some() {
        // A write since the backfill started already put the current entry.
        return Ok(());
    }
    txn.put(&key, &layout::encode_item(&projected))?;
    adjust_counters(
        txn,
        &layout::index_counters_key(&table.key_id, index.index_id),
        1,
        item_size(&projected) as i64,
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::ops::catalog::tests::sample_table;
    use crate::ops::catalog::{IndexKind, Status};
    use nimbus_store::Db;
    use std::ops::Bound;

    fn item(pairs: &[(&str, Value)]) -> Item {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    fn n(s: &str) -> Value {
        Value::n(s).unwrap()
    }

    fn err(r: Result<PrimaryKey, DynamoDbError>) -> String {
        r.unwrap_err().to_string()
    }

    #[test]
    fn item_key_messages() {
        let t = sample_table();
        assert_eq!(
            err(key_of_item(&t, &item(&[("sk", n("1"))]))),
            "One or more parameter values were invalid: Missing the key pk in the item"
        );
        assert_eq!(
            err(key_of_item(&t, &item(&[("pk", n("1")), ("sk", n("1"))]))),
            "One or more parameter values were invalid: Type mismatch for key pk expected: S actual: N"
        );
        assert_eq!(
            err(key_of_item(&t, &item(&[("pk", Value::s("")), ("sk", n("1"))]))),
            "One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty string value. Key: pk"
        );
        assert_eq!(
            err(key_of_item(
                &t,
                &item(&[("pk", Value::s("a".repeat(2049))), ("sk", n("1"))])
            )),
            MSG_HASH_KEY_TOO_LARGE
        );
        assert!(key_of_item(
            &t,
            &item(&[("pk", Value::s("a".repeat(2048))), ("sk", n("1"))])
        )
        .is_ok());
        let mut t2 = sample_table();
        t2.key.range = Some(KeyAttr {
            name: "sk".into(),
            ty: KeyType::B,
        });
        assert_eq!(
            err(key_of_item(
                &t2,
                &item(&[("pk", Value::s("a")), ("sk", Value::B(vec![1; 1025]))])
            )),
            MSG_RANGE_KEY_TOO_LARGE
        );
        assert_eq!(
            err(key_of_item(&t2, &item(&[("pk", Value::s("a")), ("sk", Value::B(vec![]))]))),
            "One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty binary value. Key: sk"
        );
        let k = key_of_item(
            &t,
            &item(&[("pk", Value::s("a")), ("sk", n("2")), ("x", Value::Null)]),
        )
        .unwrap();
        assert_eq!(
            k.to_item(&t.key),
            item(&[("pk", Value::s("a")), ("sk", n("2"))])
        );
    }

    #[test]
    fn key_map_messages() {
        let t = sample_table();
        for bad in [
            item(&[("pk", Value::s("a"))]),
            item(&[("pk", Value::s("a")), ("sk", n("1")), ("x", n("1"))]),
            item(&[("pk", Value::s("a")), ("zz", n("1"))]),
            item(&[("pk", Value::s("a")), ("sk", Value::s("1"))]),
        ] {
            assert_eq!(err(key_from_map(&t, &bad)), MSG_KEY_SCHEMA_MISMATCH);
        }
        assert_eq!(
            err(key_from_map(&t, &item(&[("pk", Value::s("")), ("sk", n("1"))]))),
            "One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty string value. Key: pk"
        );
        assert!(key_from_map(&t, &item(&[("pk", Value::s("a")), ("sk", n("1"))])).is_ok());
    }

    #[test]
    fn index_key_messages() {
        let t = sample_table();
        let base = [("pk", Value::s("a")), ("sk", n("1"))];
        let mut it = item(&base);
        it.insert("gpk".into(), n("5"));
        assert_eq!(
            check_index_keys(&t, &it, IndexKeyContext::Put).unwrap_err().to_string(),
            "One or more parameter values were invalid: Type mismatch for Index Key gpk Expected: S Actual: N IndexName: gsi1"
        );
        it.insert("gpk".into(), Value::s(""));
        assert_eq!(
            check_index_keys(&t, &it, IndexKeyContext::Put).unwrap_err().to_string(),
            "One or more parameter values are not valid. A value specified for a secondary index key is not supported. The AttributeValue for a key attribute cannot contain an empty string value. IndexName: gsi1, IndexKey: gpk"
        );
        assert_eq!(
            check_index_keys(&t, &it, IndexKeyContext::Update).unwrap_err().to_string(),
            "One or more parameter values are not valid. The update expression attempted to update a secondary index key to a value that is not supported. The AttributeValue for a key attribute cannot contain an empty string value."
        );
        it.insert("gpk".into(), Value::s("g"));
        assert!(check_index_keys(&t, &it, IndexKeyContext::Put).is_ok());
        assert!(check_index_keys(&t, &item(&base), IndexKeyContext::Put).is_ok());
    }

    /// Creates the table's counters record as CreateTable does.
    fn setup(db: &Db, t: &TableMeta) {
        let meta = t.clone();
        db.write_blocking(move |txn| -> Result<(), DynamoDbError> {
            txn.put(
                &layout::table_meta_key(&meta.account_id, &meta.region, &meta.name),
                &meta.to_bytes()?,
            )?;
            txn.put(
                &layout::table_counters_key(&meta.key_id),
                &Counters {
                    version: meta.version,
                    ..Default::default()
                }
                .encode(),
            )?;
            Ok(())
        })
        .unwrap();
    }

    fn put(db: &Db, t: &TableMeta, new: Item) {
        let t = t.clone();
        db.write_blocking(move |txn| -> Result<(), DynamoDbError> {
            let key = key_of_item(&t, &new)?;
            let old = read_item(txn, &t, &key)?;
            apply_item_change(txn, &t, old.as_ref(), Some(&new), &ChangeCtx::user(0))
        })
        .unwrap();
    }

    fn delete(db: &Db, t: &TableMeta, key: Item) {
        let t = t.clone();
        db.write_blocking(move |txn| -> Result<(), DynamoDbError> {
            let key = key_from_map(&t, &key)?;
            let old = read_item(txn, &t, &key)?;
            apply_item_change(txn, &t, old.as_ref(), None, &ChangeCtx::user(0))
        })
        .unwrap();
    }

    fn counters(db: &Db, key: &[u8]) -> Counters {
        let snap = db.snapshot().unwrap();
        read_counters(snap.as_ref(), key)
            .unwrap()
            .unwrap_or_default()
    }

    fn index_items(db: &Db, t: &TableMeta, index_id: u32) -> Vec<Item> {
        let snap = db.snapshot().unwrap();
        let p = layout::index_prefix(&t.key_id, index_id);
        let (lo, hi) = layout::prefix_range(&p);
        snap.range(
            match &lo {
                Bound::Included(x) => Bound::Included(x.as_slice()),
                _ => Bound::Unbounded,
            },
            match &hi {
                Bound::Excluded(x) => Bound::Excluded(x.as_slice()),
                _ => Bound::Unbounded,
            },
            false,
            1000,
        )
        .unwrap()
        .into_iter()
        .map(|(_, v)| layout::decode_item(&v).unwrap())
        .collect()
    }

    #[test]
    fn writes_maintain_items_indexes_and_counters() {
        let db = Db::in_memory();
        let t = sample_table();
        setup(&db, &t);
        let a1 = item(&[
            ("pk", Value::s("a")),
            ("sk", n("1")),
            ("gpk", Value::s("g1")),
            ("x", Value::s("big")),
        ]);
        put(&db, &t, a1.clone());
        let c = counters(&db, &layout::table_counters_key(&t.key_id));
        assert_eq!(c.item_count, 1);
        assert_eq!(c.size_bytes, item_size(&a1) as i64);
        // KEYS_ONLY projection: table keys and index key only.
        let entries = index_items(&db, &t, 1);
        assert_eq!(
            entries,
            vec![item(&[
                ("pk", Value::s("a")),
                ("sk", n("1")),
                ("gpk", Value::s("g1"))
            ])]
        );
        let ic = counters(&db, &layout::index_counters_key(&t.key_id, 1));
        assert_eq!(ic.item_count, 1);
        assert_eq!(ic.size_bytes, item_size(&entries[0]) as i64);

        // Moving the index key moves the entry; an item without it leaves the index.
        let a1b = item(&[
            ("pk", Value::s("a")),
            ("sk", n("1")),
            ("gpk", Value::s("g2")),
        ]);
        put(&db, &t, a1b.clone());
        let entries = index_items(&db, &t, 1);
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0]["gpk"], Value::s("g2"));
        let a2 = item(&[("pk", Value::s("a")), ("sk", n("2"))]);
        put(&db, &t, a2.clone());
        assert_eq!(index_items(&db, &t, 1).len(), 1);
        let c = counters(&db, &layout::table_counters_key(&t.key_id));
        assert_eq!(c.item_count, 2);
        assert_eq!(c.size_bytes, (item_size(&a1b) + item_size(&a2)) as i64);
        // Wrong-typed index key: not in the index (validation refuses it on the API path).
        let a3 = item(&[("pk", Value::s("a")), ("sk", n("3")), ("gpk", n("1"))]);
        put(&db, &t, a3);
        assert_eq!(index_items(&db, &t, 1).len(), 1);

        delete(&db, &t, item(&[("pk", Value::s("a")), ("sk", n("1"))]));
        delete(&db, &t, item(&[("pk", Value::s("a")), ("sk", n("3"))]));
        assert!(index_items(&db, &t, 1).is_empty());
        let ic = counters(&db, &layout::index_counters_key(&t.key_id, 1));
        assert_eq!((ic.item_count, ic.size_bytes), (0, 0));
        let c = counters(&db, &layout::table_counters_key(&t.key_id));
        assert_eq!((c.item_count, c.size_bytes), (1, item_size(&a2) as i64));
        // Deleting a missing item changes nothing.
        delete(&db, &t, item(&[("pk", Value::s("zz")), ("sk", n("3"))]));
        assert_eq!(counters(&db, &layout::table_counters_key(&t.key_id)), c);
        let snap = db.snapshot().unwrap();
        let got = read_item(
            snap.as_ref(),
            &t,
            &PrimaryKey {
                hash: Value::s("a"),
                range: Some(n("2")),
            },
        )
        .unwrap();
        assert_eq!(got, Some(a2));
    }

    #[test]
    fn stale_metadata_is_replaced_by_the_stored_one() {
        let db = Db::in_memory();
        let stale = sample_table();
        let mut current = stale.clone();
        current.version = 2;
        current.indexes.push(IndexMeta {
            name: "lsi1".into(),
            kind: IndexKind::Local,
            key: KeySchema {
                hash: stale.key.hash.clone(),
                range: Some(KeyAttr {
                    name: "lr".into(),
                    ty: KeyType::S,
                }),
            },
            projection: Projection::Include(vec!["inc".into()]),
            status: Status::Active,
            backfilling: false,
            throughput: None,
            on_demand: None,
            index_id: 2,
            insights: None,
        });
        setup(&db, &current);
        put(
            &db,
            &stale,
            item(&[
                ("pk", Value::s("a")),
                ("sk", n("1")),
                ("lr", Value::s("r")),
                ("inc", n("1")),
                ("no", n("2")),
            ]),
        );
        assert_eq!(
            index_items(&db, &current, 2),
            vec![item(&[
                ("pk", Value::s("a")),
                ("sk", n("1")),
                ("lr", Value::s("r")),
                ("inc", n("1"))
            ])]
        );
    }

    #[test]
    fn missing_table_is_not_found() {
        let db = Db::in_memory();
        let t = sample_table();
        let t2 = t.clone();
        let e = db
            .write_blocking(move |txn| {
                apply_item_change(
                    txn,
                    &t2,
                    None,
                    Some(&item(&[("pk", Value::s("a")), ("sk", n("1"))])),
                    &ChangeCtx::user(0),
                )
            })
            .unwrap_err();
        assert_eq!(e.code(), "ResourceNotFoundException");
        assert_eq!(e.to_string(), "Requested resource not found");
    }

    #[test]
    fn backfill_and_concurrent_writes_count_exactly() {
        let db = Db::in_memory();
        let mut t = sample_table();
        t.indexes[0].backfilling = true;
        t.indexes[0].status = Status::Creating;
        setup(&db, &t);
        let i1 = item(&[
            ("pk", Value::s("a")),
            ("sk", n("1")),
            ("gpk", Value::s("g")),
        ]);
        let i2 = item(&[
            ("pk", Value::s("a")),
            ("sk", n("2")),
            ("gpk", Value::s("h")),
        ]);
        // Write i1 with index maintenance, then the backfill visits it again: one entry.
        put(&db, &t, i1.clone());
        // Simulate an item stored before the index existed: write it without the index.
        let mut no_index = t.clone();
        no_index.indexes.clear();
        let i2c = i2.clone();
        db.write_blocking(move |txn| -> Result<(), DynamoDbError> {
            // Bypass the version check by writing with the same version.
            apply_item_change(txn, &no_index, None, Some(&i2c), &ChangeCtx::user(0))
        })
        .unwrap();
        assert_eq!(index_items(&db, &t, 1).len(), 1);
        // Updating i2 (whose entry does not exist yet) must not decrement below truth.
        let i2b = item(&[
            ("pk", Value::s("a")),
            ("sk", n("2")),
            ("gpk", Value::s("k")),
        ]);
        put(&db, &t, i2b.clone());
        let tb = t.clone();
        let (i1c, i2bc) = (i1.clone(), i2b.clone());
        db.write_blocking(move |txn| -> Result<(), DynamoDbError> {
            backfill_item(txn, &tb, &tb.indexes[0], &i1c)?;
            backfill_item(txn, &tb, &tb.indexes[0], &i2bc)
        })
        .unwrap();
        let entries = index_items(&db, &t, 1);
        assert_eq!(entries.len(), 2);
        let ic = counters(&db, &layout::index_counters_key(&t.key_id, 1));
        let want: i64 = entries.iter().map(|e| item_size(e) as i64).sum();
        assert_eq!((ic.item_count, ic.size_bytes), (2, want));
    }
}
