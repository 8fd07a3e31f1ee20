//! nimbus-events: the transactional event bus (DESIGN.md §3, the outbox).
//!
//! A **topic** is a durable, ordered log named by a byte string. A service appends to a
//! topic *inside its own store transaction* ([`append`]), so a record exists if and only
//! if the change it describes committed: no change is lost, none is invented. Readers
//! pull ranges ([`read`]) from a snapshot; a [`Bus`] runs **consumers** (a name, a
//! dynamic list of topics and an async handler) that get every record at least once, in
//! order per topic, with a durable cursor per (consumer, topic) so delivery resumes where
//! it stopped after a crash.
//!
//! Key space (all under `bus/`). `esc(t)` is `t` with every `0x00` byte written as
//! `0x00 0xFF`, followed by the terminator `0x00 0x01`: order-preserving and
//! self-delimiting, and `esc(p)` without its terminator is a prefix of `esc(t)` whenever
//! `p` is a prefix of `t` (so topics list by name prefix). `be64` is a big-endian u64.
//! - `bus/h/` esc(topic) -> head: version byte, be64 next_seq, be64 first_seq,
//!   be64 last_at_ms (two's complement). One per topic; every append reads and rewrites
//!   it, which is what makes sequence numbers strictly increasing without gaps.
//! - `bus/r/` esc(topic) be64(seq) -> record: version byte, be64 at_ms, payload.
//!   Records `first_seq..next_seq` exist (trimming only ever removes from the front).
//! - `bus/c/` esc(consumer) esc(topic) -> cursor: version byte, be64 next seq to deliver.
//!
//! Invariants: sequence numbers start at 1 and increase by exactly 1 per append within a
//! topic; `at_ms` never decreases within a topic (an append earlier than the previous
//! one is stamped with the previous time), so time seeks are binary searches; every
//! read and every trim is bounded by the caller's limit.

mod dispatcher;

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests;

use std::ops::Bound;
use std::sync::atomic::{AtomicU64, Ordering};

use nimbus_store::{ReadTxn, StoreError, WriteTxn};

pub use dispatcher::{Bus, BusConfig, Consumer, Handler, HandlerFuture, StartPosition, TopicsFn};

pub const HEAD_PREFIX: &[u8] = b"bus/h/";
pub const RECORD_PREFIX: &[u8] = b"bus/r/";
pub const CURSOR_PREFIX: &[u8] = b"bus/c/";

/// Longest topic or consumer name, in bytes (keys must stay well under the store's
/// key limit).
pub const MAX_NAME_BYTES: usize = 1024;
/// Largest record payload. A DynamoDB stream record holds at most two 400 KB images.
pub const MAX_PAYLOAD_BYTES: usize = 2 * 1024 * 1024;
/// Most records one [`read`] returns, whatever the caller asks.
pub const MAX_READ_RECORDS: usize = 10_000;

const HEAD_VERSION: u8 = 1;
const RECORD_VERSION: u8 = 1;
const CURSOR_VERSION: u8 = 1;

/// Appends attempted inside transactions since the process started (including ones in
/// transactions that later rolled back or were retried): a rate indicator for metrics,
/// not a count of committed records (the heads hold those).
static APPENDS: AtomicU64 = AtomicU64::new(0);

/// Errors of the event bus.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BusError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A topic or consumer name is empty or too long, or a payload too large.
    #[error("invalid event bus request: {0}")]
    Invalid(String),
    /// Stored bus data could not be decoded.
    #[error("stored event bus data is corrupt: {0}")]
    Corrupt(String),
    /// A consumer with this name is already registered.
    #[error("a consumer named {0:?} is already registered")]
    DuplicateConsumer(String),
    /// The bus needs a Tokio runtime to run consumers.
    #[error("the event bus needs a Tokio runtime")]
    NoRuntime,
}

/// One record of a topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub topic: Vec<u8>,
    pub seq: u64,
    /// The time given to [`append`] (raised to the previous record's when earlier).
    pub at_ms: i64,
    pub payload: Vec<u8>,
}

/// A topic's extent. Records `first_seq..next_seq` exist; the topic is empty when the
/// two are equal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TopicBounds {
    pub first_seq: u64,
    pub next_seq: u64,
    /// Time of the last record appended (`i64::MIN` before the first).
    pub last_at_ms: i64,
}

impl TopicBounds {
    pub fn is_empty(&self) -> bool {
        self.first_seq >= self.next_seq
    }

    /// The last record's sequence number, `None` when nothing is left.
    pub fn last_seq(&self) -> Option<u64> {
        (!self.is_empty()).then(|| self.next_seq - 1)
    }

    /// Records currently held.
    pub fn len(&self) -> u64 {
        self.next_seq.saturating_sub(self.first_seq)
    }

    fn encode(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(25);
        v.push(HEAD_VERSION);
        v.extend_from_slice(&self.next_seq.to_be_bytes());
        v.extend_from_slice(&self.first_seq.to_be_bytes());
        v.extend_from_slice(&self.last_at_ms.to_be_bytes());
        v
    }

    fn decode(b: &[u8]) -> Result<TopicBounds, BusError> {
        match b.split_first() {
            Some((&HEAD_VERSION, rest)) if rest.len() == 24 => Ok(TopicBounds {
                next_seq: be_u64(&rest[0..8])?,
                first_seq: be_u64(&rest[8..16])?,
                last_at_ms: be_u64(&rest[16..24])? as i64,
            }),
            _ => Err(BusError::Corrupt("topic head".into())),
        }
    }
}

fn be_u64(b: &[u8]) -> Result<u64, BusError> {
    let arr: [u8; 8] = b
        .try_into()
        .map_err(|_| BusError::Corrupt("short integer".into()))?;
    Ok(u64::from_be_bytes(arr))
}

fn check_name(what: &str, name: &[u8]) -> Result<(), BusError> {
    if name.is_empty() || name.len() > MAX_NAME_BYTES {
        return Err(BusError::Invalid(format!(
            "{what} must be 1 to {MAX_NAME_BYTES} bytes, got {}",
            name.len()
        )));
    }
    Ok(())
}

/// Appends esc(name) without the terminator.
fn push_escaped(out: &mut Vec<u8>, name: &[u8]) {
    for &b in name {
        out.push(b);
        if b == 0 {
            out.push(0xFF);
        }
    }
}

fn push_name(out: &mut Vec<u8>, name: &[u8]) {
    push_escaped(out, name);
    out.extend_from_slice(&[0x00, 0x01]);
}

/// Decodes one esc(name) from the front of `b`: the name and the rest.
fn take_name(b: &[u8]) -> Option<(Vec<u8>, &[u8])> {
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == 0 {
            match b.get(i + 1)? {
                0xFF => out.push(0),
                0x01 => return Some((out, &b[i + 2..])),
                _ => return None,
            }
            i += 2;
        } else {
            out.push(c);
            i += 1;
        }
    }
    None
}

fn head_key(topic: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(HEAD_PREFIX.len() + topic.len() + 2);
    k.extend_from_slice(HEAD_PREFIX);
    push_name(&mut k, topic);
    k
}

fn record_prefix(topic: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(RECORD_PREFIX.len() + topic.len() + 10);
    k.extend_from_slice(RECORD_PREFIX);
    push_name(&mut k, topic);
    k
}

fn record_key(topic: &[u8], seq: u64) -> Vec<u8> {
    let mut k = record_prefix(topic);
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

fn cursor_key(consumer: &[u8], topic: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(CURSOR_PREFIX.len() + consumer.len() + topic.len() + 4);
    k.extend_from_slice(CURSOR_PREFIX);
    push_name(&mut k, consumer);
    push_name(&mut k, topic);
    k
}

/// The first key after every key that starts with `prefix`.
fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xFF {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

fn decode_record(topic: &[u8], seq: u64, v: &[u8]) -> Result<Record, BusError> {
    match v.split_first() {
        Some((&RECORD_VERSION, rest)) if rest.len() >= 8 => Ok(Record {
            topic: topic.to_vec(),
            seq,
            at_ms: be_u64(&rest[..8])? as i64,
            payload: rest[8..].to_vec(),
        }),
        _ => Err(BusError::Corrupt(format!("record {seq}"))),
    }
}

fn seq_of_record_key(prefix_len: usize, key: &[u8]) -> Result<u64, BusError> {
    key.get(prefix_len..)
        .ok_or_else(|| BusError::Corrupt("record key".into()))
        .and_then(be_u64)
}

/// Appends `payload` to `topic` inside `txn` and returns its sequence number (1 for
/// the first record of a topic, then +1 per append). The record exists exactly when
/// `txn` commits. `at_ms` is the caller's clock time; it is raised to the previous
/// record's time when earlier, so time never goes backwards within a topic.
pub fn append(
    txn: &mut dyn WriteTxn,
    topic: &[u8],
    at_ms: i64,
    payload: &[u8],
) -> Result<u64, BusError> {
    check_name("a topic name", topic)?;
    if payload.len() > MAX_PAYLOAD_BYTES {
        return Err(BusError::Invalid(format!(
            "a record payload must be at most {MAX_PAYLOAD_BYTES} bytes, got {}",
            payload.len()
        )));
    }
    let hk = head_key(topic);
    let mut head = match txn.get(&hk)? {
        Some(b) => TopicBounds::decode(&b)?,
        None => TopicBounds {
            first_seq: 1,
            next_seq: 1,
            last_at_ms: i64::MIN,
        },
    };
    let seq = head.next_seq;
    let at = at_ms.max(head.last_at_ms);
    let mut value = Vec::with_capacity(9 + payload.len());
    value.push(RECORD_VERSION);
    value.extend_from_slice(&at.to_be_bytes());
    value.extend_from_slice(payload);
    txn.put(&record_key(topic, seq), &value)?;
    head.next_seq = seq + 1;
    head.last_at_ms = at;
    txn.put(&hk, &head.encode())?;
    APPENDS.fetch_add(1, Ordering::Relaxed);
    Ok(seq)
}

/// The topic's bounds, `None` when it was never appended to (or was deleted).
pub fn bounds(txn: &dyn ReadTxn, topic: &[u8]) -> Result<Option<TopicBounds>, BusError> {
    check_name("a topic name", topic)?;
    match txn.get(&head_key(topic))? {
        Some(b) => Ok(Some(TopicBounds::decode(&b)?)),
        None => Ok(None),
    }
}

/// Up to `limit` records (at most [`MAX_READ_RECORDS`]) from `from_seq` on, in order,
/// stopping once `max_bytes` of payload are collected (but always returning at least
/// one record when one exists, so a reader can never get stuck on a large record).
pub fn read(
    txn: &dyn ReadTxn,
    topic: &[u8],
    from_seq: u64,
    limit: usize,
    max_bytes: usize,
) -> Result<Vec<Record>, BusError> {
    check_name("a topic name", topic)?;
    let limit = limit.min(MAX_READ_RECORDS);
    if limit == 0 {
        return Ok(Vec::new());
    }
    let prefix = record_prefix(topic);
    let start = record_key(topic, from_seq);
    let end = prefix_end(&prefix);
    let end_bound = match &end {
        Some(e) => Bound::Excluded(e.as_slice()),
        None => Bound::Unbounded,
    };
    // Page through the store in chunks so `max_bytes` can stop the read early without
    // first loading `limit` large values.
    let chunk = limit.min(256);
    let mut out = Vec::new();
    let mut bytes = 0usize;
    let mut next_start = start;
    let mut first = true;
    while out.len() < limit {
        let lower = if first {
            Bound::Included(next_start.as_slice())
        } else {
            Bound::Excluded(next_start.as_slice())
        };
        let want = chunk.min(limit - out.len());
        let entries = txn.range(lower, end_bound, false, want)?;
        let n = entries.len();
        for (k, v) in entries {
            let seq = seq_of_record_key(prefix.len(), &k)?;
            let rec = decode_record(topic, seq, &v)?;
            if !out.is_empty() && bytes + rec.payload.len() > max_bytes {
                return Ok(out);
            }
            bytes += rec.payload.len();
            out.push(rec);
            next_start = k;
        }
        first = false;
        if n < want {
            break;
        }
    }
    Ok(out)
}

/// The record `seq` of `topic`, when it exists.
pub fn get(txn: &dyn ReadTxn, topic: &[u8], seq: u64) -> Result<Option<Record>, BusError> {
    check_name("a topic name", topic)?;
    match txn.get(&record_key(topic, seq))? {
        Some(v) => Ok(Some(decode_record(topic, seq, &v)?)),
        None => Ok(None),
    }
}

/// The first sequence number whose record's time is `>= at_ms` (`next_seq` when none
/// is, `None` when the topic does not exist). A binary search: times never decrease
/// within a topic.
pub fn seek_time(txn: &dyn ReadTxn, topic: &[u8], at_ms: i64) -> Result<Option<u64>, BusError> {
    let Some(b) = bounds(txn, topic)? else {
        return Ok(None);
    };
    let (mut lo, mut hi) = (b.first_seq, b.next_seq);
    // Invariant: records before `lo` are earlier than `at_ms`; records from `hi` on are not.
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        let rec = get(txn, topic, mid)?
            .ok_or_else(|| BusError::Corrupt(format!("record {mid} missing inside the topic")))?;
        if rec.at_ms < at_ms {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    Ok(Some(lo))
}

fn trim_front(
    txn: &mut dyn WriteTxn,
    topic: &[u8],
    max_records: usize,
    mut keep: impl FnMut(&Record) -> bool,
) -> Result<u64, BusError> {
    let Some(mut head) = bounds(txn, topic)? else {
        return Ok(0);
    };
    let max_records = max_records.min(MAX_READ_RECORDS);
    let mut removed = 0u64;
    while (removed as usize) < max_records && !head.is_empty() {
        let Some(rec) = get(txn, topic, head.first_seq)? else {
            return Err(BusError::Corrupt(format!(
                "record {} missing inside the topic",
                head.first_seq
            )));
        };
        if keep(&rec) {
            break;
        }
        txn.delete(&record_key(topic, rec.seq))?;
        head.first_seq += 1;
        removed += 1;
    }
    if removed > 0 {
        txn.put(&head_key(topic), &head.encode())?;
    }
    Ok(removed)
}

/// Removes records with a sequence number below `seq`, at most `max_records` of them;
/// returns how many were removed (call again while it returns `max_records`).
pub fn trim_before_seq(
    txn: &mut dyn WriteTxn,
    topic: &[u8],
    seq: u64,
    max_records: usize,
) -> Result<u64, BusError> {
    trim_front(txn, topic, max_records, |r| r.seq >= seq)
}

/// Removes records older than `cutoff_ms` (time `< cutoff_ms`), at most `max_records`.
pub fn trim_older_than(
    txn: &mut dyn WriteTxn,
    topic: &[u8],
    cutoff_ms: i64,
    max_records: usize,
) -> Result<u64, BusError> {
    trim_front(txn, topic, max_records, |r| r.at_ms >= cutoff_ms)
}

/// Deletes up to `max_records` of the topic's records and, once none are left, its
/// head. Returns true when the topic is gone. Sequence numbers restart at 1 if the
/// topic is appended to again afterwards.
pub fn delete_topic(
    txn: &mut dyn WriteTxn,
    topic: &[u8],
    max_records: usize,
) -> Result<bool, BusError> {
    check_name("a topic name", topic)?;
    let prefix = record_prefix(topic);
    let end = prefix_end(&prefix);
    let end_bound = match &end {
        Some(e) => Bound::Excluded(e.as_slice()),
        None => Bound::Unbounded,
    };
    let want = max_records.clamp(1, MAX_READ_RECORDS);
    let entries = txn.range(Bound::Included(prefix.as_slice()), end_bound, false, want)?;
    let n = entries.len();
    for (k, _) in entries {
        txn.delete(&k)?;
    }
    if n < want {
        txn.delete(&head_key(topic))?;
        return Ok(true);
    }
    // Keep the head consistent with what is left.
    if let Some(mut head) = bounds(txn, topic)? {
        let rest = txn.range(Bound::Included(prefix.as_slice()), end_bound, false, 1)?;
        match rest.first() {
            Some((k, _)) => head.first_seq = seq_of_record_key(prefix.len(), k)?,
            None => head.first_seq = head.next_seq,
        }
        txn.put(&head_key(topic), &head.encode())?;
    }
    Ok(false)
}

/// Topic names that start with `prefix`, in order, after `start_after` (exclusive),
/// at most `limit` of them.
pub fn list_topics(
    txn: &dyn ReadTxn,
    prefix: &[u8],
    start_after: Option<&[u8]>,
    limit: usize,
) -> Result<Vec<Vec<u8>>, BusError> {
    let mut p = HEAD_PREFIX.to_vec();
    push_escaped(&mut p, prefix);
    let end = prefix_end(&p);
    let end_bound = match &end {
        Some(e) => Bound::Excluded(e.as_slice()),
        None => Bound::Unbounded,
    };
    let after_key = start_after.map(head_key);
    let lower = match &after_key {
        Some(k) if k.as_slice() >= p.as_slice() => Bound::Excluded(k.as_slice()),
        _ => Bound::Included(p.as_slice()),
    };
    let entries = txn.range(lower, end_bound, false, limit.min(MAX_READ_RECORDS))?;
    let mut out = Vec::with_capacity(entries.len());
    for (k, _) in entries {
        let rest = k
            .get(HEAD_PREFIX.len()..)
            .ok_or_else(|| BusError::Corrupt("head key".into()))?;
        let (name, _) = take_name(rest).ok_or_else(|| BusError::Corrupt("head key".into()))?;
        out.push(name);
    }
    Ok(out)
}

/// A consumer's durable position in a topic: the next sequence number to deliver.
pub fn cursor(txn: &dyn ReadTxn, consumer: &[u8], topic: &[u8]) -> Result<Option<u64>, BusError> {
    check_name("a consumer name", consumer)?;
    check_name("a topic name", topic)?;
    match txn.get(&cursor_key(consumer, topic))? {
        Some(v) => match v.split_first() {
            Some((&CURSOR_VERSION, rest)) => Ok(Some(be_u64(rest)?)),
            _ => Err(BusError::Corrupt("cursor".into())),
        },
        None => Ok(None),
    }
}

/// Sets a consumer's position (e.g. to a topic's `next_seq` in the same transaction that
/// sets up the consumer's target, so it starts with what comes next).
pub fn set_cursor(
    txn: &mut dyn WriteTxn,
    consumer: &[u8],
    topic: &[u8],
    next_seq: u64,
) -> Result<(), BusError> {
    check_name("a consumer name", consumer)?;
    check_name("a topic name", topic)?;
    let mut v = Vec::with_capacity(9);
    v.push(CURSOR_VERSION);
    v.extend_from_slice(&next_seq.to_be_bytes());
    txn.put(&cursor_key(consumer, topic), &v)?;
    Ok(())
}

/// Forgets a consumer's position in a topic.
pub fn delete_cursor(
    txn: &mut dyn WriteTxn,
    consumer: &[u8],
    topic: &[u8],
) -> Result<(), BusError> {
    check_name("a consumer name", consumer)?;
    check_name("a topic name", topic)?;
    txn.delete(&cursor_key(consumer, topic))?;
    Ok(())
}

/// Appends attempted since the process started (see [`APPENDS`]).
pub fn appends_attempted() -> u64 {
    APPENDS.load(Ordering::Relaxed)
}
