//! Every store key DynamoDB uses, in one place, and the binary codec of stored items.
//!
//! Key space (all under `ddb/`). Notation: `enc(x)` is `keycodec`'s order-preserving,
//! self-delimiting encoding; `tid` is the table's 16-byte UUID (`TableMeta::key_id`);
//! `iid` a 4-byte big-endian index id; `h32(x)` the 4-byte big-endian
//! `partition_hash32` of the encoded partition key `x`; `be64` an 8-byte big-endian
//! integer.
//! - `ddb/t/` enc(account) enc(region) enc(name)
//!   -> table metadata (`catalog`), listed in name order by ListTables.
//! - `ddb/i/` tid h32(enc(hash)) enc(hash) [enc(range)]
//!   -> item (`encode_item`).
//! - `ddb/x/` tid iid h32(enc(ihash)) enc(ihash) [enc(irange)] enc(hash) [enc(range)]
//!   -> projected item (`encode_item`) of a secondary index.
//! - `ddb/c/` tid      -> table counters (`Counters`).
//! - `ddb/c/` tid iid  -> index counters (`Counters`).
//! - `ddb/j/` job-id (16 bytes) -> background job: purge, index backfill (`jobs`).
//! - `ddb/r/` enc(account) enc(region) enc(client-token)
//!   -> TransactWriteItems idempotency record (`transact`): the request's 32-byte
//!   hash, then be64(expiry_ms).
//! - `ddb/e/` be64(expiry_ms) enc(account) enc(region) enc(client-token) -> empty:
//!   expiry index of those records, soonest first, so each write can remove a few
//!   expired records without scanning the rest (`transact`).
//!
//! Families owned by other modules (each documented where it is built):
//! - `ddb/s/`  stream registry: every stream of every table, for ListStreams and
//!   DescribeStream of disabled streams (`streams`); the records themselves are event-bus
//!   topics (`nimbus_events`, `bus/`).
//! - `ddb/tl/` tables with TTL enabled, visited by the sweeper (`ttl`).
//! - `ddb/ph/` PITR history (old and new image per change); `ddb/pr/` tables with PITR
//!   (`pitr`).
//! - `ddb/bk/` backup records; `ddb/bd/` backup items; `ddb/bj/` backup and restore jobs
//!   (`backups`).
//! - `ddb/g/` global-table last-writer-wins stamps; `ddb/gm/` global-table members
//!   followed by the replicator (`replication`).
//!
//! Every family ends with `/`, so no prefix is a prefix of another.
//!
//! Data is keyed by the table's UUID, not its name, so a table deleted and re-created
//! under the same name never sees the old table's items while they are being purged.
//! Index entries end with the table key: several items may share an index key.
//! Item and index-entry values begin with a format version byte that versions this
//! whole layout, keys included (`ITEM_FORMAT_VERSION`).
//!
//! Why the partition hash: it orders a table (or index) by partition hash, as DynamoDB
//! does, so parallel-Scan segment `s` of `n` is the one contiguous key range of hashes
//! `[ceil(s * 2^32 / n), ceil((s + 1) * 2^32 / n))` (`segment_range`) and a segment scan
//! reads only its own items. A partition still has one hash, so Query on a partition
//! stays one contiguous range. The hash is part of the key, so it must never change:
//! FNV-1a 32 over the partition key's `enc` bytes.

use std::ops::Bound;

use crate::error::DynamoDbError;
use crate::keycodec::{encode_bytes, encode_key_value};
use crate::number::Number;
use crate::value::{Item, Map, Value};

pub const TABLE_PREFIX: &[u8] = b"ddb/t/";
pub const ITEM_PREFIX: &[u8] = b"ddb/i/";
pub const INDEX_PREFIX: &[u8] = b"ddb/x/";
pub const COUNTER_PREFIX: &[u8] = b"ddb/c/";
pub const JOB_PREFIX: &[u8] = b"ddb/j/";
/// TransactWriteItems ClientRequestToken records (`transact`).
pub const TOKEN_PREFIX: &[u8] = b"ddb/r/";
/// Expiry index of the token records (`transact`).
pub const TOKEN_EXPIRY_PREFIX: &[u8] = b"ddb/e/";

/// Key of a table's metadata.
pub fn table_meta_key(account: &str, region: &str, name: &str) -> Vec<u8> {
    let mut k = table_list_prefix(account, region);
    encode_bytes(name.as_bytes(), &mut k);
    k
}

/// Prefix of all table metadata keys of one account and region (ListTables), sorted by
/// table name.
pub fn table_list_prefix(account: &str, region: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(TABLE_PREFIX.len() + account.len() + region.len() + 32);
    k.extend_from_slice(TABLE_PREFIX);
    encode_bytes(account.as_bytes(), &mut k);
    encode_bytes(region.as_bytes(), &mut k);
    k
}

/// The table name of a key under `table_list_prefix` (for ListTables).
pub fn table_name_from_meta_key(prefix: &[u8], key: &[u8]) -> Option<String> {
    let rest = key.strip_prefix(prefix)?;
    let (bytes, _) = crate::keycodec::decode_bytes(rest).ok()?;
    String::from_utf8(bytes).ok()
}

/// Prefix of all items of a table (Scan, purge).
pub fn item_prefix(tid: &[u8; 16]) -> Vec<u8> {
    let mut k = Vec::with_capacity(ITEM_PREFIX.len() + 16 + 64);
    k.extend_from_slice(ITEM_PREFIX);
    k.extend_from_slice(tid);
    k
}

fn key_err(e: crate::keycodec::KeyDecodeError) -> DynamoDbError {
    // Only non-key values reach here, which validation refuses earlier.
    DynamoDbError::Internal(format!("key attribute cannot be encoded: {e}"))
}

/// Appends enc(value) to a key.
pub fn push_key_value(k: &mut Vec<u8>, v: &Value) -> Result<(), DynamoDbError> {
    encode_key_value(v, k).map_err(key_err)
}

/// Bytes of the partition hash that follows a table's item prefix or an index prefix.
pub const PARTITION_HASH_BYTES: usize = 4;

/// FNV-1a (32 bits) of a partition key's encoded bytes: the stable hash that orders
/// items and index entries, and so assigns them to parallel-scan segments. Stored in
/// keys: it must never change.
pub fn partition_hash32(encoded_partition_key: &[u8]) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in encoded_partition_key {
        h ^= u32::from(*b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

/// The segment (of `total`, at least 1) a partition hash falls in; the inverse of
/// `segment_range`.
pub fn segment_of(hash: u32, total: u32) -> u32 {
    ((u64::from(hash) * u64::from(total.max(1))) >> 32) as u32
}

/// The first partition hash of segment `segment` of `total`: ceil(segment * 2^32 / total).
/// `None` past the end of the hash space (segment == total).
fn segment_start(segment: u32, total: u32) -> Option<u32> {
    let total = u64::from(total.max(1));
    let start = (u64::from(segment) << 32).div_ceil(total);
    u32::try_from(start).ok()
}

/// Store bounds of parallel-scan segment `segment` of `total` under `prefix` (a table's
/// `item_prefix` or an `index_prefix`): the keys whose partition hash falls in the
/// segment, one contiguous range. `None` when `segment >= total`.
pub fn segment_range(prefix: &[u8], segment: u32, total: u32) -> Option<KeyRange> {
    let at = |h: u32| {
        let mut k = Vec::with_capacity(prefix.len() + PARTITION_HASH_BYTES);
        k.extend_from_slice(prefix);
        k.extend_from_slice(&h.to_be_bytes());
        k
    };
    let lo = Bound::Included(at(segment_start(segment, total)?));
    let hi = match segment
        .checked_add(1)
        .and_then(|next| segment_start(next, total))
    {
        Some(h) => Bound::Excluded(at(h)),
        // The last segment runs to the end of the prefix.
        None => prefix_range(prefix).1,
    };
    Some((lo, hi))
}

/// The partition hash stored in `key` right after `prefix` (`None` when the key is not
/// under the prefix or too short).
pub fn key_partition_hash(prefix: &[u8], key: &[u8]) -> Option<u32> {
    let rest = key.strip_prefix(prefix)?;
    let bytes: [u8; PARTITION_HASH_BYTES] = rest.get(..PARTITION_HASH_BYTES)?.try_into().ok()?;
    Some(u32::from_be_bytes(bytes))
}

/// Appends h32(enc(partition)) enc(partition): the start of every key of a partition.
fn push_partition(k: &mut Vec<u8>, partition: &Value) -> Result<(), DynamoDbError> {
    let mut encoded = Vec::with_capacity(32);
    encode_key_value(partition, &mut encoded).map_err(key_err)?;
    k.extend_from_slice(&partition_hash32(&encoded).to_be_bytes());
    k.extend_from_slice(&encoded);
    Ok(())
}

/// Key of one item.
pub fn item_key(
    tid: &[u8; 16],
    hash: &Value,
    range: Option<&Value>,
) -> Result<Vec<u8>, DynamoDbError> {
    let mut k = item_prefix(tid);
    push_partition(&mut k, hash)?;
    if let Some(r) = range {
        push_key_value(&mut k, r)?;
    }
    Ok(k)
}

/// Prefix of one partition of a table (Query on the table).
pub fn item_partition_prefix(tid: &[u8; 16], hash: &Value) -> Result<Vec<u8>, DynamoDbError> {
    item_key(tid, hash, None)
}

/// Prefix of all entries of one index.
pub fn index_prefix(tid: &[u8; 16], index_id: u32) -> Vec<u8> {
    let mut k = Vec::with_capacity(INDEX_PREFIX.len() + 20 + 64);
    k.extend_from_slice(INDEX_PREFIX);
    k.extend_from_slice(tid);
    k.extend_from_slice(&index_id.to_be_bytes());
    k
}

/// Prefix of all index entries of a table (purge).
pub fn table_index_prefix(tid: &[u8; 16]) -> Vec<u8> {
    let mut k = Vec::with_capacity(INDEX_PREFIX.len() + 16);
    k.extend_from_slice(INDEX_PREFIX);
    k.extend_from_slice(tid);
    k
}

/// Prefix of one partition of an index (Query on an index).
pub fn index_partition_prefix(
    tid: &[u8; 16],
    index_id: u32,
    index_hash: &Value,
) -> Result<Vec<u8>, DynamoDbError> {
    let mut k = index_prefix(tid, index_id);
    push_partition(&mut k, index_hash)?;
    Ok(k)
}

/// Key of one index entry: index key, then the table key for uniqueness.
pub fn index_entry_key(
    tid: &[u8; 16],
    index_id: u32,
    index_hash: &Value,
    index_range: Option<&Value>,
    hash: &Value,
    range: Option<&Value>,
) -> Result<Vec<u8>, DynamoDbError> {
    let mut k = index_partition_prefix(tid, index_id, index_hash)?;
    if let Some(r) = index_range {
        push_key_value(&mut k, r)?;
    }
    push_key_value(&mut k, hash)?;
    if let Some(r) = range {
        push_key_value(&mut k, r)?;
    }
    Ok(k)
}

/// Key of a table's counters.
pub fn table_counters_key(tid: &[u8; 16]) -> Vec<u8> {
    let mut k = Vec::with_capacity(COUNTER_PREFIX.len() + 16);
    k.extend_from_slice(COUNTER_PREFIX);
    k.extend_from_slice(tid);
    k
}

/// Key of an index's counters.
pub fn index_counters_key(tid: &[u8; 16], index_id: u32) -> Vec<u8> {
    let mut k = table_counters_key(tid);
    k.extend_from_slice(&index_id.to_be_bytes());
    k
}

/// Key of a background job.
pub fn job_key(job_id: &[u8; 16]) -> Vec<u8> {
    let mut k = JOB_PREFIX.to_vec();
    k.extend_from_slice(job_id);
    k
}

/// The smallest key greater than every key starting with `prefix` (`None` when no such
/// key exists, i.e. the prefix is all 0xFF).
pub fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xFF {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

/// Owned store range bounds; borrow them for `ReadTxn::range` with `bound_ref`.
pub type KeyRange = (Bound<Vec<u8>>, Bound<Vec<u8>>);

/// Borrows owned bounds for `ReadTxn::range`.
pub fn bound_ref(b: &Bound<Vec<u8>>) -> Bound<&[u8]> {
    match b {
        Bound::Included(x) => Bound::Included(x.as_slice()),
        Bound::Excluded(x) => Bound::Excluded(x.as_slice()),
        Bound::Unbounded => Bound::Unbounded,
    }
}

/// Range bounds covering every key that starts with `prefix`.
pub fn prefix_range(prefix: &[u8]) -> KeyRange {
    (
        Bound::Included(prefix.to_vec()),
        match prefix_end(prefix) {
            Some(e) => Bound::Excluded(e),
            None => Bound::Unbounded,
        },
    )
}

/// A condition on the sort key of a partition (the KeyConditionExpression's second part).
#[derive(Debug, Clone, Copy)]
pub enum SortCondition<'a> {
    Eq(&'a Value),
    Lt(&'a Value),
    Le(&'a Value),
    Gt(&'a Value),
    Ge(&'a Value),
    /// Inclusive on both ends; the caller has checked low <= high.
    Between(&'a Value, &'a Value),
    /// S or B prefix.
    BeginsWith(&'a Value),
}

/// Store bounds for the keys of one partition (`partition_prefix` from
/// `item_partition_prefix` / `index_partition_prefix`) whose sort key satisfies `cond`.
/// Works for item keys and index entries alike, since everything after the sort key
/// (the table key of an index entry) only extends the encoded sort key.
pub fn sort_key_range(
    partition_prefix: &[u8],
    cond: Option<SortCondition<'_>>,
) -> Result<KeyRange, DynamoDbError> {
    let with = |v: &Value| -> Result<Vec<u8>, DynamoDbError> {
        let mut k = partition_prefix.to_vec();
        push_key_value(&mut k, v)?;
        Ok(k)
    };
    // Everything starting with `k`: from k inclusive to prefix_end(k) exclusive.
    let upper_after = |k: Vec<u8>| match prefix_end(&k) {
        Some(e) => Bound::Excluded(e),
        None => Bound::Unbounded,
    };
    let (all_lo, all_hi) = prefix_range(partition_prefix);
    Ok(match cond {
        None => (all_lo, all_hi),
        Some(SortCondition::Eq(v)) => {
            let k = with(v)?;
            (Bound::Included(k.clone()), upper_after(k))
        }
        Some(SortCondition::Lt(v)) => (all_lo, Bound::Excluded(with(v)?)),
        Some(SortCondition::Le(v)) => (all_lo, upper_after(with(v)?)),
        Some(SortCondition::Gt(v)) => (upper_after_as_lower(with(v)?), all_hi),
        Some(SortCondition::Ge(v)) => (Bound::Included(with(v)?), all_hi),
        Some(SortCondition::Between(lo, hi)) => {
            (Bound::Included(with(lo)?), upper_after(with(hi)?))
        }
        Some(SortCondition::BeginsWith(v)) => {
            let mut k = partition_prefix.to_vec();
            let raw: &[u8] = match v {
                Value::S(s) => s.as_bytes(),
                Value::B(b) => b,
                _ => {
                    return Err(DynamoDbError::Internal(
                        "begins_with on a non S/B key".into(),
                    ))
                }
            };
            // The escaped bytes without the terminator: every encoding of a value that
            // starts with `raw` starts with these bytes.
            encode_bytes(raw, &mut k);
            k.truncate(k.len().saturating_sub(2));
            (Bound::Included(k.clone()), upper_after(k))
        }
    })
}

/// Lower bound "strictly after every key starting with k".
fn upper_after_as_lower(k: Vec<u8>) -> Bound<Vec<u8>> {
    match prefix_end(&k) {
        Some(e) => Bound::Included(e),
        // Nothing sorts after an all-0xFF prefix; an excluded bound on it is empty enough.
        None => Bound::Excluded(k),
    }
}

// ---------------------------------------------------------------------------------------
// Counters

/// Per-table (and per-index) statistics, kept exact in the same transaction as each write.
/// For a table, `version` mirrors `TableMeta::version`; index counters keep it at 0.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    pub version: u64,
    pub item_count: i64,
    pub size_bytes: i64,
}

impl Counters {
    pub fn encode(&self) -> [u8; 24] {
        let mut out = [0u8; 24];
        out[..8].copy_from_slice(&self.version.to_be_bytes());
        out[8..16].copy_from_slice(&self.item_count.to_be_bytes());
        out[16..].copy_from_slice(&self.size_bytes.to_be_bytes());
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<Counters, DynamoDbError> {
        let arr: &[u8; 24] = bytes
            .try_into()
            .map_err(|_| DynamoDbError::Internal("stored counters are corrupt".into()))?;
        let mut v = [0u8; 8];
        v.copy_from_slice(&arr[..8]);
        let version = u64::from_be_bytes(v);
        v.copy_from_slice(&arr[8..16]);
        let item_count = i64::from_be_bytes(v);
        v.copy_from_slice(&arr[16..]);
        let size_bytes = i64::from_be_bytes(v);
        Ok(Counters {
            version,
            item_count,
            size_bytes,
        })
    }
}

// ---------------------------------------------------------------------------------------
// Item codec

/// Format version of stored items and index entries; the first byte of every encoded
/// item. It versions the data layout as a whole, keys included: 2 added the partition
/// hash to item and index keys (the value encoding is unchanged from 1), so a store
/// written with the old keys is refused as corrupt instead of being misread.
const ITEM_FORMAT_VERSION: u8 = 2;

const T_S: u8 = 0;
const T_N: u8 = 1;
const T_B: u8 = 2;
const T_SS: u8 = 3;
const T_NS: u8 = 4;
const T_BS: u8 = 5;
const T_M: u8 = 6;
const T_L: u8 = 7;
const T_NULL: u8 = 8;
const T_FALSE: u8 = 9;
const T_TRUE: u8 = 10;

/// Deepest nesting the decoder follows (items are at most 32 levels deep).
const MAX_DECODE_DEPTH: usize = 40;

/// Encodes an item compactly: version byte, attribute count, then (name, value) pairs;
/// values are a type tag and a length-prefixed body; numbers are sign, coefficient and
/// exponent as varints.
pub fn encode_item(item: &Item) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    out.push(ITEM_FORMAT_VERSION);
    encode_map(item, &mut out);
    out
}

fn put_varint(out: &mut Vec<u8>, mut v: u128) {
    loop {
        let b = (v & 0x7F) as u8;
        v >>= 7;
        if v == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

fn put_len(out: &mut Vec<u8>, n: usize) {
    put_varint(out, n as u128);
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_len(out, b.len());
    out.extend_from_slice(b);
}

fn put_number(out: &mut Vec<u8>, n: &Number) {
    let (coefficient, exponent) = n.coefficient_and_exponent();
    out.push(u8::from(n.is_negative()));
    put_varint(out, coefficient);
    // Zigzag so small negative exponents stay one byte.
    let zz = ((exponent << 1) ^ (exponent >> 63)) as u64;
    put_varint(out, u128::from(zz));
}

fn encode_map(m: &Map, out: &mut Vec<u8>) {
    put_len(out, m.len());
    for (k, v) in m {
        put_bytes(out, k.as_bytes());
        encode_value(v, out);
    }
}

fn encode_value(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::S(s) => {
            out.push(T_S);
            put_bytes(out, s.as_bytes());
        }
        Value::N(n) => {
            out.push(T_N);
            put_number(out, n);
        }
        Value::B(b) => {
            out.push(T_B);
            put_bytes(out, b);
        }
        Value::Ss(ss) => {
            out.push(T_SS);
            put_len(out, ss.len());
            for s in ss {
                put_bytes(out, s.as_bytes());
            }
        }
        Value::Ns(ns) => {
            out.push(T_NS);
            put_len(out, ns.len());
            for n in ns {
                put_number(out, n);
            }
        }
        Value::Bs(bs) => {
            out.push(T_BS);
            put_len(out, bs.len());
            for b in bs {
                put_bytes(out, b);
            }
        }
        Value::M(m) => {
            out.push(T_M);
            encode_map(m, out);
        }
        Value::L(l) => {
            out.push(T_L);
            put_len(out, l.len());
            for e in l {
                encode_value(e, out);
            }
        }
        Value::Null => out.push(T_NULL),
        Value::Bool(false) => out.push(T_FALSE),
        Value::Bool(true) => out.push(T_TRUE),
    }
}

fn corrupt(what: &str) -> DynamoDbError {
    DynamoDbError::Internal(format!("stored item is corrupt: {what}"))
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn byte(&mut self) -> Result<u8, DynamoDbError> {
        let b = *self.buf.get(self.pos).ok_or_else(|| corrupt("truncated"))?;
        self.pos += 1;
        Ok(b)
    }

    fn varint(&mut self) -> Result<u128, DynamoDbError> {
        let mut v: u128 = 0;
        for shift in (0..128).step_by(7) {
            let b = self.byte()?;
            v |= u128::from(b & 0x7F) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(corrupt("varint too long"))
    }

    fn len(&mut self) -> Result<usize, DynamoDbError> {
        let n = usize::try_from(self.varint()?).map_err(|_| corrupt("length"))?;
        // A length can never exceed what is left; checking here bounds allocations.
        if n > self.buf.len().saturating_sub(self.pos) {
            return Err(corrupt("length beyond end"));
        }
        Ok(n)
    }

    fn bytes(&mut self) -> Result<&'a [u8], DynamoDbError> {
        let n = self.len()?;
        let s = self
            .buf
            .get(self.pos..self.pos + n)
            .ok_or_else(|| corrupt("truncated"))?;
        self.pos += n;
        Ok(s)
    }

    fn string(&mut self) -> Result<String, DynamoDbError> {
        let b = self.bytes()?;
        std::str::from_utf8(b)
            .map(str::to_string)
            .map_err(|_| corrupt("string is not UTF-8"))
    }

    fn number(&mut self) -> Result<Number, DynamoDbError> {
        let negative = self.byte()? != 0;
        let coefficient = self.varint()?;
        let zz = u64::try_from(self.varint()?).map_err(|_| corrupt("exponent"))?;
        let exponent = ((zz >> 1) as i64) ^ -((zz & 1) as i64);
        if coefficient == 0 {
            return Ok(Number::ZERO);
        }
        let text = format!(
            "{}{}e{}",
            if negative { "-" } else { "" },
            coefficient,
            exponent
        );
        Number::parse(&text).map_err(|_| corrupt("number"))
    }

    fn map(&mut self, depth: usize) -> Result<Map, DynamoDbError> {
        let n = self.len()?;
        let mut m = Map::with_capacity(n);
        for _ in 0..n {
            let k = self.string()?;
            let v = self.value(depth)?;
            m.insert(k, v);
        }
        Ok(m)
    }

    fn value(&mut self, depth: usize) -> Result<Value, DynamoDbError> {
        if depth > MAX_DECODE_DEPTH {
            return Err(corrupt("nesting too deep"));
        }
        Ok(match self.byte()? {
            T_S => Value::S(self.string()?),
            T_N => Value::N(self.number()?),
            T_B => Value::B(self.bytes()?.to_vec()),
            T_SS => {
                let n = self.len()?;
                let mut v = Vec::with_capacity(n);
                for _ in 0..n {
                    v.push(self.string()?);
                }
                Value::Ss(v)
            }
            T_NS => {
                let n = self.len()?;
                let mut v = Vec::with_capacity(n);
                for _ in 0..n {
                    v.push(self.number()?);
                }
                Value::Ns(v)
            }
            T_BS => {
                let n = self.len()?;
                let mut v = Vec::with_capacity(n);
                for _ in 0..n {
                    v.push(self.bytes()?.to_vec());
                }
                Value::Bs(v)
            }
            T_M => Value::M(self.map(depth + 1)?),
            T_L => {
                let n = self.len()?;
                let mut v = Vec::with_capacity(n);
                for _ in 0..n {
                    v.push(self.value(depth + 1)?);
                }
                Value::L(v)
            }
            T_NULL => Value::Null,
            T_FALSE => Value::Bool(false),
            T_TRUE => Value::Bool(true),
            other => return Err(corrupt(&format!("unknown type tag {other}"))),
        })
    }
}

/// Decodes an `encode_item` buffer.
pub fn decode_item(bytes: &[u8]) -> Result<Item, DynamoDbError> {
    let mut r = Reader { buf: bytes, pos: 0 };
    match r.byte()? {
        ITEM_FORMAT_VERSION => {}
        v => return Err(corrupt(&format!("unknown format version {v}"))),
    }
    let item = r.map(0)?;
    if r.pos != bytes.len() {
        return Err(corrupt("trailing bytes"));
    }
    Ok(item)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn num(s: &str) -> Value {
        Value::n(s).unwrap()
    }

    fn sample_item() -> Item {
        let mut inner = Map::new();
        inner.insert(
            "deep".into(),
            Value::L(vec![Value::Null, Value::Bool(true)]),
        );
        let mut item = Item::new();
        item.insert("s".into(), Value::s("héllo"));
        item.insert("e".into(), Value::s(""));
        item.insert("n0".into(), num("0"));
        item.insert("n1".into(), num("-123.456e-100"));
        item.insert(
            "n2".into(),
            num("9.9999999999999999999999999999999999999e125"),
        );
        item.insert("n3".into(), num("1e-130"));
        item.insert("b".into(), Value::B(vec![0, 255, 1]));
        item.insert("ss".into(), Value::Ss(vec!["a".into(), "b".into()]));
        item.insert("ns".into(), Value::Ns(vec![Number::from_i64(-5)]));
        item.insert("bs".into(), Value::Bs(vec![vec![], vec![1]]));
        item.insert("m".into(), Value::M(inner));
        item.insert("f".into(), Value::Bool(false));
        item
    }

    #[test]
    fn item_codec_round_trips() {
        let item = sample_item();
        let bytes = encode_item(&item);
        assert_eq!(bytes[0], ITEM_FORMAT_VERSION);
        assert_eq!(decode_item(&bytes).unwrap(), item);
        assert_eq!(
            decode_item(&encode_item(&Item::new())).unwrap(),
            Item::new()
        );
    }

    #[test]
    fn item_codec_rejects_garbage() {
        let bytes = encode_item(&sample_item());
        for cut in 0..bytes.len() {
            assert!(decode_item(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let mut bad = bytes.clone();
        bad[0] = 99;
        assert!(decode_item(&bad).is_err());
        let mut trailing = bytes;
        trailing.push(0);
        assert!(decode_item(&trailing).is_err());
        // Huge declared length must not allocate.
        assert!(decode_item(&[ITEM_FORMAT_VERSION, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F]).is_err());
        // An empty item as the pre-partition-hash layout (version 1) wrote it.
        assert!(decode_item(&[ITEM_FORMAT_VERSION, 0]).is_ok());
        assert!(decode_item(&[1, 0]).is_err());
    }

    fn arb_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            ".{0,8}".prop_map(Value::S),
            (any::<i64>(), -20i32..20).prop_map(|(c, e)| num(&format!("{c}e{e}"))),
            proptest::collection::vec(any::<u8>(), 0..8).prop_map(Value::B),
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            proptest::collection::hash_set(".{0,4}", 1..4)
                .prop_map(|s| Value::Ss(s.into_iter().collect())),
        ];
        leaf.prop_recursive(4, 32, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::L),
                proptest::collection::hash_map(".{0,4}", inner, 0..4).prop_map(Value::M),
            ]
        })
    }

    proptest! {
        #[test]
        fn item_codec_property(m in proptest::collection::hash_map(".{0,6}", arb_value(), 0..6)) {
            let bytes = encode_item(&m);
            prop_assert_eq!(decode_item(&bytes).unwrap(), m);
        }
    }

    #[test]
    fn item_keys_sort_by_partition_hash_then_range() {
        let tid = [3u8; 16];
        let k = |h: &str, r: &str| item_key(&tid, &Value::s(h), Some(&num(r))).unwrap();
        let h =
            |p: &str| partition_hash32(&crate::keycodec::encoded_key_value(&Value::s(p)).unwrap());
        // Partitions in hash order, each partition's items in sort-key order.
        let mut parts = ["a", "ab", "b"];
        parts.sort_by_key(|p| h(p));
        let mut want = Vec::new();
        for p in parts {
            for r in ["-1", "2", "10"] {
                want.push(k(p, r));
            }
        }
        let mut keys = want.clone();
        keys.reverse();
        keys.sort();
        assert_eq!(keys, want);
        // The hash sits right after the table prefix.
        assert_eq!(
            key_partition_hash(&item_prefix(&tid), &k("a", "1")),
            Some(h("a"))
        );
        // A partition prefix covers exactly its partition.
        let p = item_partition_prefix(&tid, &Value::s("a")).unwrap();
        assert!(k("a", "5").starts_with(&p));
        assert!(!k("ab", "5").starts_with(&p));
        // Index entries carry the hash of the index partition key.
        let e = index_entry_key(&tid, 7, &Value::s("g"), None, &Value::s("a"), None).unwrap();
        assert_eq!(key_partition_hash(&index_prefix(&tid, 7), &e), Some(h("g")));
    }

    #[test]
    fn partition_hash_is_fnv1a_32() {
        // Reference values of FNV-1a 32: the hash is stored in keys and must not drift.
        assert_eq!(partition_hash32(b""), 0x811c_9dc5);
        assert_eq!(partition_hash32(b"a"), 0xe40c_292c);
        assert_eq!(partition_hash32(b"foobar"), 0xbf9c_f968);
    }

    #[test]
    fn segments_partition_the_hash_space() {
        assert_eq!(segment_of(0, 4), 0);
        assert_eq!(segment_of(u32::MAX, 4), 3);
        assert_eq!(segment_of(u32::MAX, 1_000_000), 999_999);
        assert_eq!(segment_of(1 << 31, 2), 1);
        let prefix = item_prefix(&[5u8; 16]);
        let key = |h: u32| {
            let mut k = prefix.clone();
            k.extend_from_slice(&h.to_be_bytes());
            // A partition key after the hash, as in a real item key.
            k.extend_from_slice(b"\x01x\x00\x00");
            k
        };
        for total in [1u32, 2, 3, 7, 10, 1000, 999_999, 1_000_000] {
            assert!(segment_range(&prefix, total, total).is_none());
            // Hashes at and around every boundary tried here, plus the extremes.
            let mut probes = vec![0u32, 1, u32::MAX - 1, u32::MAX];
            for s in [0, 1, total / 2, total.saturating_sub(1)] {
                if let Some(b) = segment_start(s, total) {
                    probes.extend([b.saturating_sub(1), b, b.saturating_add(1)]);
                }
            }
            for hash in probes {
                let owner = segment_of(hash, total);
                assert!(owner < total);
                for s in [owner.saturating_sub(1), owner, owner + 1] {
                    let Some(r) = segment_range(&prefix, s, total) else {
                        continue;
                    };
                    assert_eq!(
                        in_range(&r, &key(hash)),
                        s == owner,
                        "hash {hash} segment {s} of {total}"
                    );
                }
            }
        }
        // The last segment reaches the end of the prefix, and no further.
        let r = segment_range(&prefix, 3, 4).unwrap();
        assert!(in_range(&r, &key(u32::MAX)));
        assert!(!in_range(&r, &item_prefix(&[6u8; 16])));
        let r = segment_range(&prefix, 0, 4).unwrap();
        assert!(!in_range(&r, &prefix[..prefix.len() - 1]));
    }

    fn in_range(b: &KeyRange, k: &[u8]) -> bool {
        let lo = match &b.0 {
            Bound::Included(x) => k >= x.as_slice(),
            Bound::Excluded(x) => k > x.as_slice(),
            Bound::Unbounded => true,
        };
        let hi = match &b.1 {
            Bound::Included(x) => k <= x.as_slice(),
            Bound::Excluded(x) => k < x.as_slice(),
            Bound::Unbounded => true,
        };
        lo && hi
    }

    #[test]
    fn sort_conditions_select_the_right_keys() {
        let tid = [9u8; 16];
        let p = index_partition_prefix(&tid, 1, &Value::s("h")).unwrap();
        // Index entries: sort key then a table key suffix.
        let entry = |r: &str| {
            index_entry_key(
                &tid,
                1,
                &Value::s("h"),
                Some(&Value::s(r)),
                &Value::s("t"),
                None,
            )
            .unwrap()
        };
        let other_partition = index_entry_key(
            &tid,
            1,
            &Value::s("i"),
            Some(&Value::s("a")),
            &Value::s("t"),
            None,
        )
        .unwrap();
        let sorts = ["", "a", "a\0", "ab", "abc", "b", "b\u{1}"];
        let check = |cond: Option<SortCondition<'_>>, want: &[&str]| {
            let r = sort_key_range(&p, cond).unwrap();
            let got: Vec<&str> = sorts
                .iter()
                .copied()
                .filter(|s| in_range(&r, &entry(s)))
                .collect();
            assert_eq!(got, want, "{cond:?}");
            assert!(!in_range(&r, &other_partition));
        };
        let a = Value::s("a");
        let ab = Value::s("ab");
        let b = Value::s("b");
        check(None, &sorts);
        check(Some(SortCondition::Eq(&ab)), &["ab"]);
        check(Some(SortCondition::Lt(&ab)), &["", "a", "a\0"]);
        check(Some(SortCondition::Le(&ab)), &["", "a", "a\0", "ab"]);
        check(Some(SortCondition::Gt(&ab)), &["abc", "b", "b\u{1}"]);
        check(Some(SortCondition::Ge(&ab)), &["ab", "abc", "b", "b\u{1}"]);
        check(
            Some(SortCondition::Between(&a, &b)),
            &["a", "a\0", "ab", "abc", "b"],
        );
        check(
            Some(SortCondition::BeginsWith(&a)),
            &["a", "a\0", "ab", "abc"],
        );
        check(Some(SortCondition::BeginsWith(&ab)), &["ab", "abc"]);
        let nul = Value::s("a\0");
        check(Some(SortCondition::BeginsWith(&nul)), &["a\0"]);
    }

    #[test]
    fn numeric_sort_ranges() {
        let tid = [1u8; 16];
        let p = item_partition_prefix(&tid, &Value::s("h")).unwrap();
        let key = |n: &str| item_key(&tid, &Value::s("h"), Some(&num(n))).unwrap();
        let ns = ["-10", "-1.5", "0", "1", "2", "10", "100"];
        let two = num("2");
        let r = sort_key_range(&p, Some(SortCondition::Gt(&two))).unwrap();
        let got: Vec<&str> = ns
            .iter()
            .copied()
            .filter(|n| in_range(&r, &key(n)))
            .collect();
        assert_eq!(got, vec!["10", "100"]);
        let r = sort_key_range(&p, Some(SortCondition::Le(&two))).unwrap();
        let got: Vec<&str> = ns
            .iter()
            .copied()
            .filter(|n| in_range(&r, &key(n)))
            .collect();
        assert_eq!(got, vec!["-10", "-1.5", "0", "1", "2"]);
    }

    #[test]
    fn table_keys_list_in_name_order() {
        let p = table_list_prefix("000000000000", "us-east-1");
        let a = table_meta_key("000000000000", "us-east-1", "a");
        let b = table_meta_key("000000000000", "us-east-1", "a-b");
        let c = table_meta_key("000000000000", "us-east-1", "b");
        assert!(a < b && b < c);
        assert_eq!(table_name_from_meta_key(&p, &b).as_deref(), Some("a-b"));
        // Another region's keys are outside the prefix.
        assert!(!table_meta_key("000000000000", "us-east-2", "a").starts_with(&p));
    }

    #[test]
    fn counters_round_trip() {
        let c = Counters {
            version: 7,
            item_count: 3,
            size_bytes: -1,
        };
        assert_eq!(Counters::decode(&c.encode()).unwrap(), c);
        assert!(Counters::decode(&[0; 5]).is_err());
        assert_eq!(prefix_end(&[1, 0xFF]), Some(vec![2]));
        assert_eq!(prefix_end(&[0xFF, 0xFF]), None);
    }
}
