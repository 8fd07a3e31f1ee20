//! The sweeper: retention policies, and the events of deleted groups and streams. All work
//! is in bounded chunks, one transaction each, so a huge group never makes a huge
//! transaction and a tick never runs unbounded.

use std::ops::Bound;

use nimbus_store::WriteTxn;

use crate::error::LogsError;
use crate::keys;
use crate::records::{self, GroupMeta};
use crate::Logs;

/// Keys deleted per transaction.
pub const CHUNK_KEYS: usize = 1_000;
/// Chunks one tick (or one delete call) may run before yielding until the next tick.
pub const CHUNKS_PER_TICK: usize = 200;
/// Tombstones / groups listed per read.
const LIST_CHUNK: usize = 500;

/// What one sweep did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SweepStats {
    /// Events removed because of retention policies.
    pub expired_events: u64,
    /// Keys of deleted groups and streams removed.
    pub garbage_keys: u64,
    /// True when the chunk budget ran out before all work was done.
    pub budget_exhausted: bool,
}

impl Logs {
    /// One sweep: deleted groups and streams first, then retention. Bounded.
    pub async fn sweep_once(&self) -> Result<SweepStats, LogsError> {
        let mut stats = collect_garbage(self, CHUNKS_PER_TICK).await?;
        if !stats.budget_exhausted {
            let r = apply_retention(self, CHUNKS_PER_TICK).await?;
            stats.expired_events = r.expired_events;
            stats.budget_exhausted = r.budget_exhausted;
        }
        Ok(stats)
    }
}

/// Deletes up to [`CHUNK_KEYS`] keys in `[from, to)`; for each, `also` may name one more
/// key to delete. Returns how many range keys were deleted.
fn delete_chunk(
    txn: &mut dyn WriteTxn,
    from: &[u8],
    to: &[u8],
    also: impl Fn(&[u8]) -> Option<Vec<u8>>,
) -> Result<usize, LogsError> {
    let rows = txn.range(
        Bound::Included(from),
        Bound::Excluded(to),
        false,
        CHUNK_KEYS,
    )?;
    for (k, _) in &rows {
        txn.delete(k)?;
        if let Some(other) = also(k) {
            txn.delete(&other)?;
        }
    }
    Ok(rows.len())
}

pub async fn collect_garbage(logs: &Logs, mut budget: usize) -> Result<SweepStats, LogsError> {
    let mut stats = SweepStats::default();
    // Deleted groups: their group-ordered events (and the stream-ordered copies), stream
    // records and the by-time index.
    let tombs = {
        let snap = logs.db.snapshot()?;
        snap.range(
            Bound::Included(keys::GC_GROUP),
            Bound::Excluded(&keys::prefix_end(keys::GC_GROUP)),
            false,
            LIST_CHUNK,
        )?
    };
    for (tomb, _) in tombs {
        let Some(gid) = keys::u64_at(&tomb, keys::GC_GROUP.len()) else {
            continue;
        };
        let families = [
            keys::group_events_of(gid),
            keys::streams_of(gid),
            keys::streams_by_time_of(gid),
        ];
        for (i, prefix) in families.iter().enumerate() {
            loop {
                if budget == 0 {
                    stats.budget_exhausted = true;
                    return Ok(stats);
                }
                budget -= 1;
                let (from, to) = (prefix.clone(), keys::prefix_end(prefix));
                let is_events = i == 0;
                let n = logs
                    .db
                    .write(move |txn| {
                        delete_chunk(txn, &from, &to, |k| {
                            if !is_events {
                                return None;
                            }
                            let (ts, sid, seq) = keys::parse_group_event(k)?;
                            Some(keys::event(sid, ts, seq))
                        })
                    })
                    .await?;
                stats.garbage_keys += n as u64;
                if n < CHUNK_KEYS {
                    break;
                }
            }
        }
        logs.db
            .write(move |txn| txn.delete(&tomb).map_err(LogsError::from))
            .await?;
    }
    // Deleted streams: their events in both families.
    let tombs = {
        let snap = logs.db.snapshot()?;
        snap.range(
            Bound::Included(keys::GC_STREAM),
            Bound::Excluded(&keys::prefix_end(keys::GC_STREAM)),
            false,
            LIST_CHUNK,
        )?
    };
    for (tomb, gid) in tombs {
        let (Some(sid), Some(gid)) = (
            keys::u64_at(&tomb, keys::GC_STREAM.len()),
            keys::u64_at(&gid, 0),
        ) else {
            continue;
        };
        let prefix = keys::events_of(sid);
        loop {
            if budget == 0 {
                stats.budget_exhausted = true;
                return Ok(stats);
            }
            budget -= 1;
            let (from, to) = (prefix.clone(), keys::prefix_end(&prefix));
            let n = logs
                .db
                .write(move |txn| {
                    delete_chunk(txn, &from, &to, |k| {
                        let (ts, seq) = keys::parse_event(k)?;
                        Some(keys::group_event(gid, ts, sid, seq))
                    })
                })
                .await?;
            stats.garbage_keys += n as u64;
            if n < CHUNK_KEYS {
                break;
            }
        }
        logs.db
            .write(move |txn| txn.delete(&tomb).map_err(LogsError::from))
            .await?;
    }
    Ok(stats)
}

/// Deletes events older than each group's retention (AWS: "events older than the
/// retention period are deleted"), adjusting the group's stored bytes.
pub async fn apply_retention(logs: &Logs, mut budget: usize) -> Result<SweepStats, LogsError> {
    let mut stats = SweepStats::default();
    let now = logs.now_millis();
    let mut after: Option<Vec<u8>> = None;
    let end = keys::prefix_end(keys::GROUP);
    loop {
        let rows = {
            let snap = logs.db.snapshot()?;
            let lo = match &after {
                Some(k) => Bound::Excluded(k.as_slice()),
                None => Bound::Included(keys::GROUP),
            };
            snap.range(lo, Bound::Excluded(end.as_slice()), false, LIST_CHUNK)?
        };
        let n = rows.len();
        for (gkey, v) in rows {
            after = Some(gkey.clone());
            let g: GroupMeta = records::decode_json(&v, "group record")?;
            let Some(days) = g.retention_days else {
                continue;
            };
            let cutoff = now.saturating_sub(i64::from(days).saturating_mul(86_400_000));
            let (from, to) = (
                keys::group_events_of(g.id),
                keys::group_event_at(g.id, cutoff),
            );
            loop {
                if budget == 0 {
                    stats.budget_exhausted = true;
                    return Ok(stats);
                }
                budget -= 1;
                let (from, to, gkey) = (from.clone(), to.clone(), gkey.clone());
                let gid = g.id;
                let n = logs
                    .db
                    .write(move |txn| {
                        let rows = txn.range(
                            Bound::Included(from.as_slice()),
                            Bound::Excluded(to.as_slice()),
                            false,
                            CHUNK_KEYS,
                        )?;
                        let mut bytes: i64 = 0;
                        for (k, v) in &rows {
                            txn.delete(k)?;
                            if let Some((ts, sid, seq)) = keys::parse_group_event(k) {
                                txn.delete(&keys::event(sid, ts, seq))?;
                            }
                            if let Some((_, _, msg)) = records::parse_group_event_value(v) {
                                bytes += i64::try_from(msg.len()).unwrap_or(0);
                            }
                        }
                        if bytes > 0 {
                            // The group may have been deleted (or re-created) meanwhile.
                            if let Some(raw) = txn.get(&gkey)? {
                                let mut cur: GroupMeta =
                                    records::decode_json(&raw, "group record")?;
                                if cur.id == gid {
                                    cur.stored_bytes = (cur.stored_bytes - bytes).max(0);
                                    txn.put(&gkey, &records::encode_json(&cur)?)?;
                                }
                            }
                        }
                        Ok::<usize, LogsError>(rows.len())
                    })
                    .await?;
                stats.expired_events += n as u64;
                if n < CHUNK_KEYS {
                    break;
                }
            }
        }
        if n < LIST_CHUNK {
            break;
        }
    }
    Ok(stats)
}

/// True when `snap` holds no key under `prefix` (tests).
#[cfg(test)]
pub fn is_empty_under(snap: &dyn nimbus_store::ReadTxn, prefix: &[u8]) -> bool {
    snap.range(
        Bound::Included(prefix),
        Bound::Excluded(&keys::prefix_end(prefix)),
        false,
        1,
    )
    .map(|r| r.is_empty())
    .unwrap_or(false)
}
