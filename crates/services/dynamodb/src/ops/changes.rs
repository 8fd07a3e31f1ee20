//! What an item change leaves behind besides the item itself: the table's stream record
//! (on the event bus) and the point-in-time-recovery history. Called by
//! `write::apply_item_change`, inside the change's transaction, so a stream record
//! exists exactly when its change committed.

use nimbus_store::WriteTxn;

use crate::error::DynamoDbError;
use crate::ops::catalog::{StreamMeta, TableMeta};
use crate::ops::pitr;
use crate::ops::streams::{self, EventKind, StoredRecord};
use crate::ops::write::{ChangeCtx, ChangeOrigin};
use crate::size::item_size;
use crate::value::Item;

/// Records one item change (`old` -> `new`, either may be absent).
pub fn record(
    txn: &mut dyn WriteTxn,
    table: &TableMeta,
    old: Option<&Item>,
    new: Option<&Item>,
    cx: &ChangeCtx,
) -> Result<(), DynamoDbError> {
    if table.pitr.is_some() {
        pitr::record(txn, table, old, new, cx)?;
    }
    let Some(stream) = table.stream.as_ref().filter(|s| s.enabled) else {
        return Ok(());
    };
    let Some(rec) = stream_record(table, stream, old, new, cx) else {
        return Ok(());
    };
    let topic = streams::stream_topic(&table.key_id, &stream.label);
    nimbus_events::append(txn, &topic, cx.now_ms, &rec.encode())?;
    Ok(())
}

/// The stream record AWS would write for this change, `None` when it writes none: a
/// restore, a put of an identical item, a delete of a missing item.
pub fn stream_record(
    table: &TableMeta,
    stream: &StreamMeta,
    old: Option<&Item>,
    new: Option<&Item>,
    cx: &ChangeCtx,
) -> Option<StoredRecord> {
    if cx.origin == ChangeOrigin::Restore {
        return None;
    }
    let event = match (old, new) {
        (None, None) => return None,
        (None, Some(_)) => EventKind::Insert,
        (Some(_), None) => EventKind::Remove,
        // Equality is DynamoDB's (numbers numerically, sets unordered), as AWS compares
        // the stored items.
        (Some(o), Some(n)) if o == n => return None,
        (Some(_), Some(_)) => EventKind::Modify,
    };
    let any = new.or(old)?;
    let mut keys = Item::with_capacity(2);
    for attr in table.key.attrs() {
        if let Some(v) = any.get(&attr.name) {
            keys.insert(attr.name.clone(), v.clone());
        }
    }
    let (show_new, show_old) = streams::view_shows(&stream.view_type);
    // A global table's replicator needs the new image whatever the view type; what the
    // view type does not show is stored but never returned by GetRecords.
    let replicated = !table.replicas.is_empty();
    let new_image = new.filter(|_| show_new || replicated).cloned();
    let old_image = old.filter(|_| show_old || replicated).cloned();
    let size_bytes = item_size(&keys)
        + new.filter(|_| show_new).map_or(0, item_size)
        + old.filter(|_| show_old).map_or(0, item_size);
    Some(StoredRecord {
        event,
        keys,
        new_image,
        old_image,
        size_bytes: size_bytes as i64,
        origin: cx.origin.clone(),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::number::Number;
    use crate::ops::catalog::tests::sample_table;
    use crate::value::Value;

    fn item(pairs: &[(&str, Value)]) -> Item {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    fn s(x: &str) -> Value {
        Value::S(x.into())
    }

    fn n(x: &str) -> Value {
        Value::N(Number::parse(x).unwrap())
    }

    fn stream(view: &str) -> StreamMeta {
        StreamMeta {
            enabled: true,
            view_type: view.into(),
            label: "2025-11-26T16:00:00.000".into(),
        }
    }

    /// An item of `sample_table`, whatever its key schema is.
    fn row(extra: &[(&str, Value)]) -> Item {
        let t = sample_table();
        let mut it = Item::new();
        for a in t.key.attrs() {
            let v = match a.ty {
                crate::keycodec::KeyType::S => s("k"),
                crate::keycodec::KeyType::N => n("1"),
                crate::keycodec::KeyType::B => Value::B(vec![1]),
            };
            it.insert(a.name.clone(), v);
        }
        it.extend(item(extra));
        it
    }

    #[test]
    fn identical_put_and_missing_delete_make_no_record() {
        let t = sample_table();
        let st = stream("NEW_AND_OLD_IMAGES");
        let cx = ChangeCtx::user(1);
        let a = row(&[
            ("x", n("1.0")),
            ("s", Value::Ss(vec!["a".into(), "b".into()])),
        ]);
        // Same values, numbers written differently, set in another order: identical.
        let b = row(&[
            ("x", n("1")),
            ("s", Value::Ss(vec!["b".into(), "a".into()])),
        ]);
        assert!(stream_record(&t, &st, Some(&a), Some(&b), &cx).is_none());
        assert!(stream_record(&t, &st, None, None, &cx).is_none());
        let c = row(&[("x", n("2"))]);
        let r = stream_record(&t, &st, Some(&a), Some(&c), &cx).unwrap();
        assert_eq!(r.event, EventKind::Modify);
    }

    #[test]
    fn images_follow_the_view_type() {
        let t = sample_table();
        let cx = ChangeCtx::user(1);
        let old = row(&[("v", s("old"))]);
        let new = row(&[("v", s("new"))]);
        let keys = row(&[]);
        let cases = [
            ("KEYS_ONLY", false, false),
            ("NEW_IMAGE", true, false),
            ("OLD_IMAGE", false, true),
            ("NEW_AND_OLD_IMAGES", true, true),
        ];
        for (view, has_new, has_old) in cases {
            let r = stream_record(&t, &stream(view), Some(&old), Some(&new), &cx).unwrap();
            assert_eq!(r.event, EventKind::Modify, "{view}");
            assert_eq!(r.keys, keys, "{view}");
            assert_eq!(r.new_image.as_ref(), has_new.then_some(&new), "{view}");
            assert_eq!(r.old_image.as_ref(), has_old.then_some(&old), "{view}");
            let want = item_size(&keys)
                + if has_new { item_size(&new) } else { 0 }
                + if has_old { item_size(&old) } else { 0 };
            assert_eq!(r.size_bytes, want as i64, "{view}");
        }
    }

    #[test]
    fn insert_remove_ttl_restore_and_replication() {
        let mut t = sample_table();
        let st = stream("NEW_AND_OLD_IMAGES");
        let it = row(&[("v", s("x"))]);
        let r = stream_record(&t, &st, None, Some(&it), &ChangeCtx::user(5)).unwrap();
        assert_eq!(r.event, EventKind::Insert);
        assert_eq!(r.new_image.as_ref(), Some(&it));
        assert!(r.old_image.is_none());
        let ttl = ChangeCtx {
            now_ms: 5,
            origin: ChangeOrigin::Ttl,
        };
        let r = stream_record(&t, &st, Some(&it), None, &ttl).unwrap();
        assert_eq!(r.event, EventKind::Remove);
        assert_eq!(r.origin, ChangeOrigin::Ttl);
        assert_eq!(r.old_image.as_ref(), Some(&it));
        let restore = ChangeCtx {
            now_ms: 5,
            origin: ChangeOrigin::Restore,
        };
        assert!(stream_record(&t, &st, None, Some(&it), &restore).is_none());
        // A replica keeps images for the replicator even when the view hides them,
        // and the origin survives the round trip through the stored encoding.
        t.replicas.push(crate::ops::catalog::ReplicaMeta {
            region: "eu-west-1".into(),
            status: "ACTIVE".into(),
            ..Default::default()
        });
        let repl = ChangeCtx {
            now_ms: 5,
            origin: ChangeOrigin::Replication {
                from_region: "eu-west-1".into(),
                written_ms: 4,
            },
        };
        let r = stream_record(&t, &stream("KEYS_ONLY"), None, Some(&it), &repl).unwrap();
        assert_eq!(r.new_image.as_ref(), Some(&it));
        assert_eq!(r.size_bytes, item_size(&row(&[])) as i64);
        let back = StoredRecord::decode(&r.encode()).unwrap();
        assert_eq!(back, r);
    }

    #[tokio::test]
    async fn records_are_written_in_the_change_transaction_only_when_enabled() {
        let db = nimbus_store::Db::in_memory();
        let mut t = sample_table();
        t.stream = Some(stream("NEW_IMAGE"));
        let topic = streams::current_topic(&t).unwrap();
        let it = row(&[("v", s("x"))]);
        let (t2, it2) = (t.clone(), it.clone());
        db.write(move |txn| record(txn, &t2, None, Some(&it2), &ChangeCtx::user(7)))
            .await
            .unwrap();
        // Identical put: nothing appended.
        let (t2, it2) = (t.clone(), it.clone());
        db.write(move |txn| record(txn, &t2, Some(&it2), Some(&it2), &ChangeCtx::user(8)))
            .await
            .unwrap();
        // A failed transaction leaves nothing either.
        let (t2, it2) = (t.clone(), it.clone());
        let failed: Result<(), DynamoDbError> = db
            .write(move |txn| {
                record(txn, &t2, Some(&it2), None, &ChangeCtx::user(9))?;
                Err(DynamoDbError::Internal("abort".into()))
            })
            .await;
        assert!(failed.is_err());
        // Disabled stream: nothing.
        let mut off = t.clone();
        off.stream.as_mut().unwrap().enabled = false;
        let it2 = it.clone();
        db.write(move |txn| record(txn, &off, Some(&it2), None, &ChangeCtx::user(10)))
            .await
            .unwrap();
        let snap = db.snapshot().unwrap();
        let recs = nimbus_events::read(snap.as_ref(), &topic, 1, 100, usize::MAX).unwrap();
        assert_eq!(recs.len(), 1);
        assert_eq!(recs[0].at_ms, 7);
        let stored = StoredRecord::decode(&recs[0].payload).unwrap();
        assert_eq!(stored.event, EventKind::Insert);
        assert_eq!(stored.new_image, Some(it));
    }
}
