//! DynamoDB Streams over the event bus (`nimbus-events`).
//!
//! Each stream (a table's stream between enabling and disabling; re-enabling makes a new
//! stream with a new label and ARN) is one bus topic, `ddbstream/<table uuid hex>/<label>`.
//! `changes::record` appends one [`StoredRecord`] per real item change inside the
//! change's transaction, so the stream holds exactly the committed changes, in commit
//! order, with gap-free bus sequence numbers.
//!
//! Store keys of this module (besides the bus's own `bus/` keys):
//! - `ddb/s/` enc(account) enc(region) enc(table name) enc(label) -> [`StreamInfo`]
//!   (serde JSON): every stream that exists or existed in the last 24 hours, for
//!   ListStreams and DescribeStream of disabled streams and deleted tables. Written
//!   whenever table metadata with a stream is saved (`on_table_saved`).
//!
//! Shards are derived, not stored: shard `k` of a stream holds the records whose time
//! falls in `[created + k * period, created + (k + 1) * period)` (period 4 hours, as
//! AWS rolls shards over). Record times never decrease within a topic, so a shard's
//! sequence range is two binary searches, and a shard is closed once its period is over
//! or the stream is disabled. Periods without records have no shard, except the open
//! one. Its id is `shardId-<period start ms, 20 digits>-<8 hex>`, AWS's shape.
//!
//! Sequence numbers are `10^20 + bus seq` in decimal (21+ digits, increasing).
//! Iterators are `<stream arn>|1|<base64 of shard, position, issue time, check>`;
//! they expire 15 minutes after they were issued (on the service clock). Retention:
//! a background trimmer removes records older than 24 hours and forgets streams 24
//! hours after they were disabled or their table was deleted.

use std::collections::HashMap;
use std::time::Duration;

use base64::Engine as _;
use nimbus_core::RequestContext;
use nimbus_events::{self as events, BusError};
use nimbus_model::dynamodbstreams as sm;
use nimbus_store::{ReadTxn, WriteTxn};
use nimbus_wire::AwsError;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::DynamoDbError;
use crate::keycodec::encode_bytes;
use crate::ops::catalog::{self, KeySchema, TableMeta};
use crate::ops::layout;
use crate::ops::write::ChangeOrigin;
use crate::ops::{aws_error, DynamoDb};
use crate::value::{Item, Value};

/// Prefix of the stream registry.
pub const STREAM_REGISTRY_PREFIX: &[u8] = b"ddb/s/";
/// Prefix of every stream topic on the bus.
pub const TOPIC_PREFIX: &[u8] = b"ddbstream/";

/// `10^20`: added to bus sequence numbers so they print as AWS-like 21-digit decimals.
const SEQ_BASE: u128 = 100_000_000_000_000_000_000;
/// GetRecords returns at most 1 MB.
const GET_RECORDS_MAX_BYTES: usize = 1024 * 1024;
/// AWS's GetRecords Limit maximum (and default).
const GET_RECORDS_MAX_LIMIT: i32 = 1000;
/// DescribeStream and ListStreams return at most 100 entries per call.
const DESCRIBE_MAX_LIMIT: i32 = 100;
/// Most shards DescribeStream derives per call (bounds its work on long-lived streams).
const MAX_SHARDS_SCANNED: usize = 10_000;
/// Most records one trim transaction removes.
const TRIM_BATCH: usize = 1_000;
/// Most registry entries the trimmer reads per page.
const TRIM_PAGE: usize = 100;

/// Timing of streams; AWS's values by default.
#[derive(Debug, Clone)]
pub struct StreamsConfig {
    /// A shard rolls over after this long (AWS: about 4 hours).
    pub shard_period_ms: i64,
    /// Records and disabled streams are kept this long (AWS: 24 hours).
    pub retention_ms: i64,
    /// A shard iterator is valid this long (AWS: 15 minutes).
    pub iterator_ttl_ms: i64,
    /// How often the trimmer runs (real time).
    pub trim_interval_ms: u64,
}

impl Default for StreamsConfig {
    fn default() -> Self {
        StreamsConfig {
            shard_period_ms: 4 * 60 * 60 * 1000,
            retention_ms: 24 * 60 * 60 * 1000,
            iterator_ttl_ms: 15 * 60 * 1000,
            trim_interval_ms: 60_000,
        }
    }
}

impl From<BusError> for DynamoDbError {
    fn from(e: BusError) -> Self {
        match e {
            BusError::Store(s) => DynamoDbError::Store(s),
            other => DynamoDbError::Internal(format!("event bus: {other}")),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Topics and stored records

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The bus topic of one stream.
pub fn stream_topic(key_id: &[u8; 16], label: &str) -> Vec<u8> {
    let mut t = TOPIC_PREFIX.to_vec();
    t.extend_from_slice(hex(key_id).as_bytes());
    t.push(b'/');
    t.extend_from_slice(label.as_bytes());
    t
}

/// The topic stream records of `table` go to now (`None` while no stream is enabled).
pub fn current_topic(table: &TableMeta) -> Option<Vec<u8>> {
    table
        .stream
        .as_ref()
        .filter(|s| s.enabled)
        .map(|s| stream_topic(&table.key_id, &s.label))
}

/// `eventName`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    Insert,
    Modify,
    Remove,
}

impl EventKind {
    fn tag(self) -> u8 {
        match self {
            EventKind::Insert => 1,
            EventKind::Modify => 2,
            EventKind::Remove => 3,
        }
    }

    fn from_tag(t: u8) -> Option<EventKind> {
        match t {
            1 => Some(EventKind::Insert),
            2 => Some(EventKind::Modify),
            3 => Some(EventKind::Remove),
            _ => None,
        }
    }

    fn wire(self) -> sm::OperationType {
        match self {
            EventKind::Insert => sm::OperationType::Insert,
            EventKind::Modify => sm::OperationType::Modify,
            EventKind::Remove => sm::OperationType::Remove,
        }
    }
}

/// One stream record as stored on the bus (the payload of a bus record).
#[derive(Debug, Clone, PartialEq)]
pub struct StoredRecord {
    pub event: EventKind,
    pub keys: Item,
    pub new_image: Option<Item>,
    pub old_image: Option<Item>,
    /// `SizeBytes` for the stream's view type.
    pub size_bytes: i64,
    /// Who made the change (internal; only `Ttl` shows, as `userIdentity`).
    pub origin: ChangeOrigin,
}

const RECORD_FORMAT_VERSION: u8 = 1;

fn push_blob(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(&(b.len() as u32).to_be_bytes());
    out.extend_from_slice(b);
}

struct Cursor<'a> {
    buf: &'a [u8],
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], DynamoDbError> {
        if self.buf.len() < n {
            return Err(corrupt());
        }
        let (a, b) = self.buf.split_at(n);
        self.buf = b;
        Ok(a)
    }

    fn byte(&mut self) -> Result<u8, DynamoDbError> {
        Ok(self.take(1)?.first().copied().unwrap_or_default())
    }

    fn u64(&mut self) -> Result<u64, DynamoDbError> {
        let b: [u8; 8] = self.take(8)?.try_into().map_err(|_| corrupt())?;
        Ok(u64::from_be_bytes(b))
    }

    fn blob(&mut self) -> Result<&'a [u8], DynamoDbError> {
        let b: [u8; 4] = self.take(4)?.try_into().map_err(|_| corrupt())?;
        self.take(u32::from_be_bytes(b) as usize)
    }
}

fn corrupt() -> DynamoDbError {
    DynamoDbError::Internal("stored stream record is corrupt".into())
}

impl StoredRecord {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64);
        out.push(RECORD_FORMAT_VERSION);
        out.push(self.event.tag());
        match &self.origin {
            ChangeOrigin::User => out.push(0),
            ChangeOrigin::Ttl => out.push(1),
            ChangeOrigin::Replication {
                from_region,
                written_ms,
            } => {
                out.push(2);
                out.extend_from_slice(&written_ms.to_be_bytes());
                push_blob(&mut out, from_region.as_bytes());
            }
            ChangeOrigin::Restore => out.push(3),
        }
        out.extend_from_slice(&self.size_bytes.to_be_bytes());
        out.push(u8::from(self.new_image.is_some()) | (u8::from(self.old_image.is_some()) << 1));
        push_blob(&mut out, &layout::encode_item(&self.keys));
        if let Some(n) = &self.new_image {
            push_blob(&mut out, &layout::encode_item(n));
        }
        if let Some(o) = &self.old_image {
            push_blob(&mut out, &layout::encode_item(o));
        }
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<StoredRecord, DynamoDbError> {
        let mut c = Cursor { buf: bytes };
        if c.byte()? != RECORD_FORMAT_VERSION {
            return Err(corrupt());
        }
        let event = EventKind::from_tag(c.byte()?).ok_or_else(corrupt)?;
        let origin = match c.byte()? {
            0 => ChangeOrigin::User,
            1 => ChangeOrigin::Ttl,
            2 => {
                let written_ms = c.u64()? as i64;
                let from_region = String::from_utf8(c.blob()?.to_vec()).map_err(|_| corrupt())?;
                ChangeOrigin::Replication {
                    from_region,
                    written_ms,
                }
            }
            3 => ChangeOrigin::Restore,
            _ => return Err(corrupt()),
        };
        let size_bytes = c.u64()? as i64;
        let flags = c.byte()?;
        let keys = layout::decode_item(c.blob()?)?;
        let new_image = if flags & 1 != 0 {
            Some(layout::decode_item(c.blob()?)?)
        } else {
            None
        };
        let old_image = if flags & 2 != 0 {
            Some(layout::decode_item(c.blob()?)?)
        } else {
            None
        };
        Ok(StoredRecord {
            event,
            keys,
            new_image,
            old_image,
            size_bytes,
            origin,
        })
    }
}

/// What a view type shows: (new image, old image).
pub fn view_shows(view_type: &str) -> (bool, bool) {
    match view_type {
        "NEW_IMAGE" => (true, false),
        "OLD_IMAGE" => (false, true),
        "NEW_AND_OLD_IMAGES" => (true, true),
        _ => (false, false),
    }
}

// ---------------------------------------------------------------------------------------
// Registry

/// A stream as the registry remembers it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreamInfo {
    pub account_id: String,
    pub region: String,
    pub table_name: String,
    pub key_id: [u8; 16],
    pub label: String,
    pub view_type: String,
    pub key: KeySchema,
    pub created_ms: i64,
    /// When the stream was seen disabled (or its table gone); retention runs from here.
    #[serde(default)]
    pub disabled_ms: Option<i64>,
}

impl StreamInfo {
    fn from_table(t: &TableMeta, label: &str, view_type: &str, created_ms: i64) -> StreamInfo {
        StreamInfo {
            account_id: t.account_id.clone(),
            region: t.region.clone(),
            table_name: t.name.clone(),
            key_id: t.key_id,
            label: label.to_string(),
            view_type: view_type.to_string(),
            key: t.key.clone(),
            created_ms,
            disabled_ms: None,
        }
    }

    pub fn arn(&self) -> String {
        format!(
            "{}/stream/{}",
            catalog::table_arn(&self.region, &self.account_id, &self.table_name),
            self.label
        )
    }

    pub fn topic(&self) -> Vec<u8> {
        stream_topic(&self.key_id, &self.label)
    }

    fn to_bytes(&self) -> Result<Vec<u8>, DynamoDbError> {
        serde_json::to_vec(self)
            .map_err(|e| DynamoDbError::Internal(format!("cannot encode stream info: {e}")))
    }

    fn from_bytes(b: &[u8]) -> Result<StreamInfo, DynamoDbError> {
        serde_json::from_slice(b)
            .map_err(|e| DynamoDbError::Internal(format!("stored stream info is corrupt: {e}")))
    }
}

fn registry_prefix(account: &str, region: &str, table: Option<&str>) -> Vec<u8> {
    let mut k = STREAM_REGISTRY_PREFIX.to_vec();
    encode_bytes(account.as_bytes(), &mut k);
    encode_bytes(region.as_bytes(), &mut k);
    if let Some(t) = table {
        encode_bytes(t.as_bytes(), &mut k);
    }
    k
}

fn registry_key(account: &str, region: &str, table: &str, label: &str) -> Vec<u8> {
    let mut k = registry_prefix(account, region, Some(table));
    encode_bytes(label.as_bytes(), &mut k);
    k
}

fn load_info(
    txn: &dyn ReadTxn,
    account: &str,
    region: &str,
    table: &str,
    label: &str,
) -> Result<Option<StreamInfo>, DynamoDbError> {
    match txn.get(&registry_key(account, region, table, label))? {
        Some(b) => Ok(Some(StreamInfo::from_bytes(&b)?)),
        None => Ok(None),
    }
}

fn save_info(txn: &mut dyn WriteTxn, info: &StreamInfo) -> Result<(), DynamoDbError> {
    txn.put(
        &registry_key(
            &info.account_id,
            &info.region,
            &info.table_name,
            &info.label,
        ),
        &info.to_bytes()?,
    )?;
    Ok(())
}

/// The creation time a stream label encodes (`2025-11-26T16:00:00.000`, UTC).
fn label_ms(label: &str) -> Option<i64> {
    let secs = nimbus_model::runtime::time::parse_iso8601(&format!("{label}Z"))?;
    Some((secs * 1000.0).round() as i64)
}

/// Keeps the registry in step with a table's metadata; called in every transaction that
/// saves table metadata (`catalog::save_table`, CreateTable). A new enabled stream is
/// registered; a disabled one gets its `disabled_ms` from the trimmer's next pass.
pub fn on_table_saved(txn: &mut dyn WriteTxn, meta: &TableMeta) -> Result<(), DynamoDbError> {
    let Some(st) = meta.stream.as_ref().filter(|s| s.enabled) else {
        return Ok(());
    };
    if load_info(txn, &meta.account_id, &meta.region, &meta.name, &st.label)?.is_none() {
        let created_ms = label_ms(&st.label).unwrap_or(meta.created_ms);
        let info = StreamInfo::from_table(meta, &st.label, &st.view_type, created_ms);
        save_info(txn, &info)?;
    }
    Ok(())
}

/// Whether `label` names one of `meta`'s streams: its current one, or an earlier one of
/// this same table (not of an earlier table that had its name).
pub fn table_has_stream(
    txn: &dyn ReadTxn,
    meta: &TableMeta,
    label: &str,
) -> Result<bool, DynamoDbError> {
    if meta.stream.as_ref().is_some_and(|s| s.label == label) {
        return Ok(true);
    }
    let info = load_info(txn, &meta.account_id, &meta.region, &meta.name, label)?;
    Ok(info.is_some_and(|i| i.key_id == meta.key_id))
}

/// True when `info` is its table's current, enabled stream.
fn is_current(txn: &dyn ReadTxn, info: &StreamInfo) -> Result<bool, DynamoDbError> {
    let table = catalog::load_table(txn, &info.account_id, &info.region, &info.table_name)?;
    Ok(table.is_some_and(|t| {
        t.key_id == info.key_id
            && t.stream
                .as_ref()
                .is_some_and(|s| s.enabled && s.label == info.label)
    }))
}

/// Parses `arn:aws:dynamodb:REGION:ACCOUNT:table/NAME/stream/LABEL`.
fn parse_stream_arn(arn: &str) -> Option<(&str, &str, &str, &str)> {
    let rest = arn.strip_prefix("arn:")?;
    let mut parts = rest.splitn(5, ':');
    let _partition = parts.next()?;
    if parts.next()? != "dynamodb" {
        return None;
    }
    let region = parts.next()?;
    let account = parts.next()?;
    let resource = parts.next()?.strip_prefix("table/")?;
    let (table, label) = resource.split_once("/stream/")?;
    if table.is_empty() || label.is_empty() || table.contains('/') {
        return None;
    }
    Some((region, account, table, label))
}

/// The stream an ARN names, if it exists (for this caller's account and region).
fn find_stream(
    txn: &dyn ReadTxn,
    ctx: &RequestContext,
    arn: &str,
) -> Result<Option<StreamInfo>, DynamoDbError> {
    let Some((region, account, table, label)) = parse_stream_arn(arn) else {
        return Ok(None);
    };
    if region != ctx.region || account != ctx.account_id {
        return Ok(None);
    }
    if let Some(info) = load_info(txn, account, region, table, label)? {
        return Ok(Some(info));
    }
    // An enabled stream set up by a path that saved the table without the registry hook
    // (once disabled, only the registry keeps a stream visible).
    let Some(t) = catalog::load_table(txn, account, region, table)? else {
        return Ok(None);
    };
    Ok(t.stream
        .as_ref()
        .filter(|s| s.enabled && s.label == label)
        .map(|s| {
            let created = label_ms(&s.label).unwrap_or(t.created_ms);
            StreamInfo::from_table(&t, &s.label, &s.view_type, created)
        }))
}

// ---------------------------------------------------------------------------------------
// Shards

#[derive(Debug, Clone, PartialEq, Eq)]
struct ShardView {
    index: u64,
    /// First sequence number of the shard (the next one to be written when empty).
    start_seq: u64,
    /// One past the last sequence number, when the shard is closed.
    end_excl: Option<u64>,
}

struct ShardCtx<'a> {
    txn: &'a dyn ReadTxn,
    info: &'a StreamInfo,
    topic: Vec<u8>,
    bounds: events::TopicBounds,
    period_ms: i64,
    /// The open shard's period, when the stream is current.
    open_index: Option<u64>,
}

impl<'a> ShardCtx<'a> {
    fn new(
        txn: &'a dyn ReadTxn,
        info: &'a StreamInfo,
        cfg: &StreamsConfig,
        now_ms: i64,
    ) -> Result<ShardCtx<'a>, DynamoDbError> {
        let topic = info.topic();
        let bounds = events::bounds(txn, &topic)?.unwrap_or(events::TopicBounds {
            first_seq: 1,
            next_seq: 1,
            last_at_ms: i64::MIN,
        });
        let period_ms = cfg.shard_period_ms.max(1);
        let open_index = if is_current(txn, info)? {
            Some(period_index(info.created_ms, period_ms, now_ms))
        } else {
            None
        };
        Ok(ShardCtx {
            txn,
            info,
            topic,
            bounds,
            period_ms,
            open_index,
        })
    }

    fn period_start(&self, index: u64) -> i64 {
        self.info
            .created_ms
            .saturating_add((index as i64).saturating_mul(self.period_ms))
    }

    fn shard_id(&self, index: u64) -> String {
        let mut h = Sha256::new();
        h.update(self.info.key_id);
        h.update(self.info.label.as_bytes());
        h.update(index.to_be_bytes());
        let digest = h.finalize();
        format!(
            "shardId-{:020}-{}",
            self.period_start(index).max(0),
            hex(digest.get(..4).unwrap_or_default())
        )
    }

    fn parse_shard_id(&self, id: &str) -> Option<u64> {
        let digits = id.strip_prefix("shardId-")?.get(..20)?;
        let start: i64 = digits.parse().ok()?;
        let offset = start.checked_sub(self.info.created_ms)?;
        if offset < 0 || offset % self.period_ms != 0 {
            return None;
        }
        let index = u64::try_from(offset / self.period_ms).ok()?;
        (self.shard_id(index) == id).then_some(index)
    }

    /// First sequence number at or after `at_ms`.
    fn seq_at(&self, at_ms: i64) -> Result<u64, DynamoDbError> {
        Ok(events::seek_time(self.txn, &self.topic, at_ms)?.unwrap_or(self.bounds.next_seq))
    }

    /// Shard `index`: its held sequence range `[lo, hi)`, and whether it is closed.
    fn shard(&self, index: u64) -> Result<(u64, u64, bool), DynamoDbError> {
        let lo = if index == 0 {
            self.bounds.first_seq
        } else {
            self.seq_at(self.period_start(index))?
        };
        let open = self.open_index.is_some_and(|o| index >= o);
        let hi = if open {
            self.bounds.next_seq
        } else {
            self.seq_at(self.period_start(index.saturating_add(1)))?
        };
        Ok((lo, hi.max(lo), !open))
    }

    /// Every shard, oldest first (bounded).
    fn all(&self) -> Result<Vec<ShardView>, DynamoDbError> {
        let mut out: Vec<ShardView> = Vec::new();
        let mut seq = self.bounds.first_seq;
        while seq < self.bounds.next_seq && out.len() < MAX_SHARDS_SCANNED {
            let Some(rec) = events::get(self.txn, &self.topic, seq)? else {
                break;
            };
            let index = period_index(self.info.created_ms, self.period_ms, rec.at_ms);
            if self.open_index.is_some_and(|o| index >= o) {
                break;
            }
            let next = self.seq_at(self.period_start(index.saturating_add(1)))?;
            out.push(ShardView {
                index,
                start_seq: seq,
                end_excl: Some(next.max(seq + 1)),
            });
            seq = next.max(seq + 1);
        }
        if let Some(open) = self.open_index {
            out.push(ShardView {
                index: open,
                start_seq: seq.min(self.bounds.next_seq),
                end_excl: None,
            });
        }
        Ok(out)
    }
}

fn period_index(created_ms: i64, period_ms: i64, at_ms: i64) -> u64 {
    let offset = at_ms.saturating_sub(created_ms).max(0);
    (offset / period_ms.max(1)) as u64
}

fn seq_string(seq: u64) -> String {
    (SEQ_BASE + u128::from(seq)).to_string()
}

fn parse_seq(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u128 = s.parse().ok()?;
    u64::try_from(n.checked_sub(SEQ_BASE)?).ok()
}

// ---------------------------------------------------------------------------------------
// Iterators

struct Iter {
    arn: String,
    shard: u64,
    position: u64,
    issued_ms: i64,
}

fn iter_check(arn: &str, body: &[u8]) -> [u8; 8] {
    let mut h = Sha256::new();
    h.update(b"nimbus-shard-iterator");
    h.update(arn.as_bytes());
    h.update(body);
    let d = h.finalize();
    let mut out = [0u8; 8];
    out.copy_from_slice(d.get(..8).unwrap_or(&[0u8; 8]));
    out
}

impl Iter {
    fn encode(&self) -> String {
        let mut body = Vec::with_capacity(32);
        body.extend_from_slice(&self.shard.to_be_bytes());
        body.extend_from_slice(&self.position.to_be_bytes());
        body.extend_from_slice(&self.issued_ms.to_be_bytes());
        let check = iter_check(&self.arn, &body);
        body.extend_from_slice(&check);
        format!(
            "{}|1|{}",
            self.arn,
            base64::engine::general_purpose::STANDARD.encode(body)
        )
    }

    fn decode(s: &str) -> Option<Iter> {
        let mut parts = s.rsplitn(3, '|');
        let token = parts.next()?;
        if parts.next()? != "1" {
            return None;
        }
        let arn = parts.next()?;
        let body = base64::engine::general_purpose::STANDARD
            .decode(token)
            .ok()?;
        if body.len() != 32 {
            return None;
        }
        let (data, check) = body.split_at(24);
        if iter_check(arn, data) != check {
            return None;
        }
        let n = |i: usize| -> Option<u64> {
            Some(u64::from_be_bytes(data.get(i..i + 8)?.try_into().ok()?))
        };
        Some(Iter {
            arn: arn.to_string(),
            shard: n(0)?,
            position: n(8)?,
            issued_ms: n(16)? as i64,
        })
    }
}

// ---------------------------------------------------------------------------------------
// Errors

fn validation(msg: impl Into<String>) -> AwsError {
    aws_error(&DynamoDbError::Validation(msg.into()))
}

fn stream_not_found(arn: &str) -> AwsError {
    sm::errors::resource_not_found_exception(format!(
        "Requested resource not found: Stream: {arn} not found"
    ))
}

fn shard_not_found() -> AwsError {
    sm::errors::resource_not_found_exception("Requested resource not found: Shard does not exist")
}

fn trimmed() -> AwsError {
    sm::errors::trimmed_data_access_exception("The data you are trying to access has been trimmed.")
}

fn internal(e: &DynamoDbError) -> AwsError {
    aws_error(e)
}

fn limit_error(field: &str, value: i32, max: i32) -> AwsError {
    validation(format!(
        "1 validation error detected: Value '{value}' at '{field}' failed to satisfy constraint: Member must have value less than or equal to {max}"
    ))
}

// ---------------------------------------------------------------------------------------
// The operations

fn view_type_out(v: &str) -> sm::StreamViewType {
    sm::StreamViewType::from(v)
}

fn key_schema_out(k: &KeySchema) -> Vec<sm::KeySchemaElement> {
    let mut out = vec![sm::KeySchemaElement {
        attribute_name: k.hash.name.clone(),
        key_type: sm::KeyType::Hash,
    }];
    if let Some(r) = &k.range {
        out.push(sm::KeySchemaElement {
            attribute_name: r.name.clone(),
            key_type: sm::KeyType::Range,
        });
    }
    out
}

pub async fn describe_stream(
    svc: &DynamoDb,
    ctx: &RequestContext,
    input: sm::DescribeStreamInput,
) -> Result<sm::DescribeStreamOutput, AwsError> {
    let limit = input.limit.unwrap_or(DESCRIBE_MAX_LIMIT);
    if limit > DESCRIBE_MAX_LIMIT {
        return Err(limit_error("limit", limit, DESCRIBE_MAX_LIMIT));
    }
    let snap = svc.db().snapshot().map_err(|e| internal(&e.into()))?;
    let info = find_stream(snap.as_ref(), ctx, &input.stream_arn)
        .map_err(|e| internal(&e))?
        .ok_or_else(|| stream_not_found(&input.stream_arn))?;
    let now = svc.now_millis();
    let sc =
        ShardCtx::new(snap.as_ref(), &info, svc.streams_config(), now).map_err(|e| internal(&e))?;
    let all = sc.all().map_err(|e| internal(&e))?;
    let ids: Vec<String> = all.iter().map(|s| sc.shard_id(s.index)).collect();
    let mut shards = Vec::new();
    for (i, s) in all.iter().enumerate() {
        shards.push(sm::Shard {
            shard_id: ids.get(i).cloned(),
            sequence_number_range: Some(sm::SequenceNumberRange {
                starting_sequence_number: Some(seq_string(s.start_seq)),
                ending_sequence_number: s
                    .end_excl
                    .map(|e| seq_string(e.saturating_sub(1).max(s.start_seq))),
            }),
            parent_shard_id: i.checked_sub(1).and_then(|p| ids.get(p).cloned()),
        });
    }
    // ShardFilter CHILD_SHARDS: the shards whose parent is the given shard.
    if let Some(filter) = &input.shard_filter {
        if filter.r#type.as_ref() == Some(&sm::ShardFilterType::ChildShards) {
            let parent = filter.shard_id.clone();
            shards.retain(|s| s.parent_shard_id == parent);
        }
    }
    if let Some(start) = &input.exclusive_start_shard_id {
        if let Some(pos) = shards
            .iter()
            .position(|s| s.shard_id.as_ref() == Some(start))
        {
            shards.drain(..=pos);
        }
    }
    let limit = usize::try_from(limit.max(1)).unwrap_or(1);
    let last_evaluated = if shards.len() > limit {
        shards.truncate(limit);
        shards.last().and_then(|s| s.shard_id.clone())
    } else {
        None
    };
    let status = if sc.open_index.is_some() {
        sm::StreamStatus::Enabled
    } else {
        sm::StreamStatus::Disabled
    };
    Ok(sm::DescribeStreamOutput {
        stream_description: Some(sm::StreamDescription {
            stream_arn: Some(info.arn()),
            stream_label: Some(info.label.clone()),
            stream_status: Some(status),
            stream_view_type: Some(view_type_out(&info.view_type)),
            creation_request_date_time: Some(info.created_ms as f64 / 1000.0),
            table_name: Some(info.table_name.clone()),
            key_schema: Some(key_schema_out(&info.key)),
            shards: Some(shards),
            last_evaluated_shard_id: last_evaluated,
        }),
    })
}

pub async fn list_streams(
    svc: &DynamoDb,
    ctx: &RequestContext,
    input: sm::ListStreamsInput,
) -> Result<sm::ListStreamsOutput, AwsError> {
    let limit = input.limit.unwrap_or(DESCRIBE_MAX_LIMIT);
    if limit > DESCRIBE_MAX_LIMIT {
        return Err(limit_error("limit", limit, DESCRIBE_MAX_LIMIT));
    }
    let limit = usize::try_from(limit.max(1)).unwrap_or(1);
    let snap = svc.db().snapshot().map_err(|e| internal(&e.into()))?;
    let table = match &input.table_name {
        Some(t) => Some(crate::ops::tables::table_name_from(t, ctx).map_err(|e| aws_error(&e))?),
        None => None,
    };
    let prefix = registry_prefix(&ctx.account_id, &ctx.region, table.as_deref());
    let start_key = match &input.exclusive_start_stream_arn {
        Some(arn) => match parse_stream_arn(arn) {
            Some((_, _, t, l)) => Some(registry_key(&ctx.account_id, &ctx.region, t, l)),
            None => return Err(validation(format!("Invalid StreamArn: {arn}"))),
        },
        None => None,
    };
    let end = layout::prefix_range(&prefix).1;
    let end_ref = match &end {
        std::ops::Bound::Excluded(e) => std::ops::Bound::Excluded(e.as_slice()),
        _ => std::ops::Bound::Unbounded,
    };
    let lower = match &start_key {
        Some(k) if k.as_slice() >= prefix.as_slice() => std::ops::Bound::Excluded(k.as_slice()),
        _ => std::ops::Bound::Included(prefix.as_slice()),
    };
    let entries = snap
        .range(lower, end_ref, false, limit + 1)
        .map_err(|e| internal(&e.into()))?;
    let more = entries.len() > limit;
    let mut streams = Vec::new();
    for (_, v) in entries.into_iter().take(limit) {
        let info = StreamInfo::from_bytes(&v).map_err(|e| internal(&e))?;
        streams.push(sm::Stream {
            stream_arn: Some(info.arn()),
            table_name: Some(info.table_name.clone()),
            stream_label: Some(info.label.clone()),
        });
    }
    // A current stream the registry does not know (saved by a path without the hook).
    if let (Some(t), None) = (&table, &input.exclusive_start_stream_arn) {
        if let Some(meta) = catalog::load_table(snap.as_ref(), &ctx.account_id, &ctx.region, t)
            .map_err(|e| internal(&e))?
        {
            if let Some(arn) = meta
                .stream_arn()
                .filter(|_| meta.stream.as_ref().is_some_and(|s| s.enabled))
            {
                if !streams
                    .iter()
                    .any(|s| s.stream_arn.as_deref() == Some(&arn))
                    && streams.len() < limit
                {
                    streams.push(sm::Stream {
                        stream_arn: Some(arn),
                        table_name: Some(meta.name.clone()),
                        stream_label: meta.stream.as_ref().map(|s| s.label.clone()),
                    });
                }
            }
        }
    }
    let last = if more {
        streams.last().and_then(|s| s.stream_arn.clone())
    } else {
        None
    };
    Ok(sm::ListStreamsOutput {
        streams: Some(streams),
        last_evaluated_stream_arn: last,
    })
}

pub async fn get_shard_iterator(
    svc: &DynamoDb,
    ctx: &RequestContext,
    input: sm::GetShardIteratorInput,
) -> Result<sm::GetShardIteratorOutput, AwsError> {
    let snap = svc.db().snapshot().map_err(|e| internal(&e.into()))?;
    let info = find_stream(snap.as_ref(), ctx, &input.stream_arn)
        .map_err(|e| internal(&e))?
        .ok_or_else(|| stream_not_found(&input.stream_arn))?;
    let now = svc.now_millis();
    let sc =
        ShardCtx::new(snap.as_ref(), &info, svc.streams_config(), now).map_err(|e| internal(&e))?;
    let index = sc
        .parse_shard_id(&input.shard_id)
        .ok_or_else(shard_not_found)?;
    let (lo, hi, closed) = sc.shard(index).map_err(|e| internal(&e))?;
    // A shard exists while it holds records, or is the open one.
    let exists = hi > lo || sc.open_index == Some(index);
    if !exists {
        // A shard whose records were all trimmed away, or a period that never had any.
        let trimmed_away = hi <= sc.bounds.first_seq && sc.bounds.first_seq > 1;
        return Err(if trimmed_away {
            trimmed()
        } else {
            shard_not_found()
        });
    }
    let seq_arg = |what: &str| -> Result<u64, AwsError> {
        let Some(s) = input.sequence_number.as_deref() else {
            return Err(validation(format!(
                "SequenceNumber is required for ShardIteratorType {what}"
            )));
        };
        let seq = parse_seq(s).ok_or_else(|| validation(format!("Invalid SequenceNumber: {s}")))?;
        if seq < sc.bounds.first_seq {
            return Err(trimmed());
        }
        if seq < lo || (closed && seq >= hi) || (!closed && seq >= sc.bounds.next_seq) {
            return Err(validation(format!(
                "Invalid SequenceNumber {s} for shard {}",
                input.shard_id
            )));
        }
        Ok(seq)
    };
    let position = match &input.shard_iterator_type {
        sm::ShardIteratorType::TrimHorizon => lo.max(sc.bounds.first_seq),
        sm::ShardIteratorType::Latest => {
            if closed {
                hi
            } else {
                sc.bounds.next_seq
            }
        }
        sm::ShardIteratorType::AtSequenceNumber => seq_arg("AT_SEQUENCE_NUMBER")?,
        sm::ShardIteratorType::AfterSequenceNumber => seq_arg("AFTER_SEQUENCE_NUMBER")? + 1,
        other => {
            return Err(validation(format!(
                "1 validation error detected: Value '{}' at 'shardIteratorType' failed to satisfy constraint: Member must satisfy enum value set: [TRIM_HORIZON, LATEST, AT_SEQUENCE_NUMBER, AFTER_SEQUENCE_NUMBER]",
                other.as_str()
            )))
        }
    };
    Ok(sm::GetShardIteratorOutput {
        shard_iterator: Some(
            Iter {
                arn: info.arn(),
                shard: index,
                position,
                issued_ms: now,
            }
            .encode(),
        ),
    })
}

fn attr_out(v: &Value) -> sm::AttributeValue {
    let mut av = sm::AttributeValue::default();
    match v {
        Value::S(s) => av.s = Some(s.clone()),
        Value::N(n) => av.n = Some(n.to_string()),
        Value::B(b) => av.b = Some(b.clone()),
        Value::Ss(ss) => av.ss = Some(ss.clone()),
        Value::Ns(ns) => av.ns = Some(ns.iter().map(|n| n.to_string()).collect()),
        Value::Bs(bs) => av.bs = Some(bs.clone()),
        Value::M(m) => av.m = Some(m.iter().map(|(k, v)| (k.clone(), attr_out(v))).collect()),
        Value::L(l) => av.l = Some(l.iter().map(attr_out).collect()),
        Value::Null => av.null = Some(true),
        Value::Bool(b) => av.bool = Some(*b),
    }
    av
}

fn item_out(item: &Item) -> HashMap<String, sm::AttributeValue> {
    item.iter().map(|(k, v)| (k.clone(), attr_out(v))).collect()
}

fn event_id(topic: &[u8], seq: u64) -> String {
    let mut h = Sha256::new();
    h.update(topic);
    h.update(seq.to_be_bytes());
    hex(h.finalize().get(..16).unwrap_or_default())
}

fn record_out(info: &StreamInfo, rec: &events::Record) -> Result<sm::Record, DynamoDbError> {
    let stored = StoredRecord::decode(&rec.payload)?;
    let (show_new, show_old) = view_shows(&info.view_type);
    Ok(sm::Record {
        event_id: Some(event_id(&rec.topic, rec.seq)),
        event_name: Some(stored.event.wire()),
        event_version: Some("1.1".into()),
        event_source: Some("aws:dynamodb".into()),
        aws_region: Some(info.region.clone()),
        dynamodb: Some(sm::StreamRecord {
            // AWS rounds down to the second.
            approximate_creation_date_time: Some(rec.at_ms.div_euclid(1000) as f64),
            keys: Some(item_out(&stored.keys)),
            new_image: stored.new_image.as_ref().filter(|_| show_new).map(item_out),
            old_image: stored.old_image.as_ref().filter(|_| show_old).map(item_out),
            sequence_number: Some(seq_string(rec.seq)),
            size_bytes: Some(stored.size_bytes),
            stream_view_type: Some(view_type_out(&info.view_type)),
        }),
        user_identity: match stored.origin {
            ChangeOrigin::Ttl => Some(sm::Identity {
                principal_id: Some("dynamodb.amazonaws.com".into()),
                r#type: Some("Service".into()),
            }),
            _ => None,
        },
    })
}

pub async fn get_records(
    svc: &DynamoDb,
    ctx: &RequestContext,
    input: sm::GetRecordsInput,
) -> Result<sm::GetRecordsOutput, AwsError> {
    let limit = input.limit.unwrap_or(GET_RECORDS_MAX_LIMIT);
    if limit > GET_RECORDS_MAX_LIMIT {
        return Err(limit_error("limit", limit, GET_RECORDS_MAX_LIMIT));
    }
    let it =
        Iter::decode(&input.shard_iterator).ok_or_else(|| validation("Invalid ShardIterator"))?;
    let now = svc.now_millis();
    let cfg = svc.streams_config();
    if now.saturating_sub(it.issued_ms) > cfg.iterator_ttl_ms {
        return Err(sm::errors::expired_iterator_exception(
            "Iterator expired. The iterator was created at time ".to_string()
                + &iso(it.issued_ms)
                + " while right now it is "
                + &iso(now)
                + " which is further in the future than the tolerated delay of "
                + &cfg.iterator_ttl_ms.to_string()
                + " milliseconds.",
        ));
    }
    let snap = svc.db().snapshot().map_err(|e| internal(&e.into()))?;
    let info = find_stream(snap.as_ref(), ctx, &it.arn)
        .map_err(|e| internal(&e))?
        .ok_or_else(|| stream_not_found(&it.arn))?;
    let sc = ShardCtx::new(snap.as_ref(), &info, cfg, now).map_err(|e| internal(&e))?;
    let (lo, hi, closed) = sc.shard(it.shard).map_err(|e| internal(&e))?;
    let from = it.position.max(lo);
    // Records this iterator still had to read were trimmed away.
    if it.position < sc.bounds.first_seq && it.position < hi {
        return Err(trimmed());
    }
    let want = usize::try_from(limit.max(1)).unwrap_or(1);
    let mut records = Vec::new();
    let mut next = from;
    if from < hi {
        let batch = events::read(
            snap.as_ref(),
            &sc.topic,
            from,
            want.min(usize::try_from(hi - from).unwrap_or(usize::MAX)),
            GET_RECORDS_MAX_BYTES,
        )
        .map_err(|e| internal(&e.into()))?;
        for rec in &batch {
            if rec.seq >= hi {
                break;
            }
            records.push(record_out(&info, rec).map_err(|e| internal(&e))?);
            next = rec.seq + 1;
        }
    }
    let next_iterator = if closed && next >= hi {
        None
    } else {
        Some(
            Iter {
                arn: it.arn.clone(),
                shard: it.shard,
                position: next,
                issued_ms: now,
            }
            .encode(),
        )
    };
    Ok(sm::GetRecordsOutput {
        records: Some(records),
        next_shard_iterator: next_iterator,
    })
}

fn iso(ms: i64) -> String {
    nimbus_model::runtime::time::format_iso8601(ms as f64 / 1000.0)
}

impl sm::DynamoDbStreamsApi for DynamoDb {
    async fn describe_stream(
        &self,
        ctx: &RequestContext,
        input: sm::DescribeStreamInput,
    ) -> Result<sm::DescribeStreamOutput, AwsError> {
        describe_stream(self, ctx, input).await
    }

    async fn get_records(
        &self,
        ctx: &RequestContext,
        input: sm::GetRecordsInput,
    ) -> Result<sm::GetRecordsOutput, AwsError> {
        get_records(self, ctx, input).await
    }

    async fn get_shard_iterator(
        &self,
        ctx: &RequestContext,
        input: sm::GetShardIteratorInput,
    ) -> Result<sm::GetShardIteratorOutput, AwsError> {
        get_shard_iterator(self, ctx, input).await
    }

    async fn list_streams(
        &self,
        ctx: &RequestContext,
        input: sm::ListStreamsInput,
    ) -> Result<sm::ListStreamsOutput, AwsError> {
        list_streams(self, ctx, input).await
    }
}

// ---------------------------------------------------------------------------------------
// Retention

/// One pass of the retention trimmer: removes records older than the retention from
/// every stream, and forgets streams (registry entry and topic) once they have been
/// disabled (or their table deleted) for longer than the retention. Bounded per
/// transaction; returns the number of records removed.
pub async fn trim_once(svc: &DynamoDb) -> Result<u64, DynamoDbError> {
    let cfg = svc.streams_config().clone();
    let mut removed = 0u64;
    let mut after: Option<Vec<u8>> = None;
    let end = layout::prefix_range(STREAM_REGISTRY_PREFIX).1;
    loop {
        let page: Vec<(Vec<u8>, Vec<u8>)> = {
            let snap = svc.db().snapshot()?;
            let lower = match &after {
                Some(k) => std::ops::Bound::Excluded(k.as_slice()),
                None => std::ops::Bound::Included(STREAM_REGISTRY_PREFIX),
            };
            let upper = match &end {
                std::ops::Bound::Excluded(e) => std::ops::Bound::Excluded(e.as_slice()),
                _ => std::ops::Bound::Unbounded,
            };
            snap.range(lower, upper, false, TRIM_PAGE)?
        };
        let n = page.len();
        for (key, value) in page {
            let info = StreamInfo::from_bytes(&value)?;
            let now = svc.now_millis();
            let cutoff = now.saturating_sub(cfg.retention_ms);
            let topic = info.topic();
            // Trim by age, one bounded transaction at a time.
            loop {
                let t = topic.clone();
                let n = svc
                    .db()
                    .write(move |txn| -> Result<u64, DynamoDbError> {
                        Ok(events::trim_older_than(txn, &t, cutoff, TRIM_BATCH)?)
                    })
                    .await?;
                removed += n;
                if (n as usize) < TRIM_BATCH {
                    break;
                }
            }
            let current = {
                let snap = svc.db().snapshot()?;
                is_current(snap.as_ref(), &info)?
            };
            if current {
                continue;
            }
            match info.disabled_ms {
                None => {
                    let mut i = info.clone();
                    i.disabled_ms = Some(now);
                    svc.db().write(move |txn| save_info(txn, &i)).await?;
                }
                Some(d) if now.saturating_sub(d) > cfg.retention_ms => loop {
                    let (t, k) = (topic.clone(), key.clone());
                    let done = svc
                        .db()
                        .write(move |txn| -> Result<bool, DynamoDbError> {
                            let gone = events::delete_topic(txn, &t, TRIM_BATCH)?;
                            if gone {
                                txn.delete(&k)?;
                            }
                            Ok(gone)
                        })
                        .await?;
                    if done {
                        break;
                    }
                },
                Some(_) => {}
            }
            after = Some(key);
        }
        if n < TRIM_PAGE {
            break;
        }
    }
    Ok(removed)
}

/// Starts the retention trimmer (called once from `DynamoDb::start_background`).
pub fn spawn_trimmer(svc: &DynamoDb) {
    let Ok(handle) = tokio::runtime::Handle::try_current() else {
        return;
    };
    let runner = svc.clone();
    let mut stop = svc.shutdown_signal();
    let task = handle.spawn(async move {
        let svc = runner;
        let every = Duration::from_millis(svc.streams_config().trim_interval_ms.max(10));
        loop {
            if let Err(e) = trim_once(&svc).await {
                tracing::warn!(error = %e, "stream retention trim failed; retrying later");
            }
            tokio::select! {
                () = tokio::time::sleep(every) => {}
                _ = stop.changed() => break,
            }
            if *stop.borrow() {
                break;
            }
        }
    });
    svc.track_background(task);
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::ops::tables::tests::ctx;
    use nimbus_core::ManualClock;
    use nimbus_store::Db;
    use nimbus_wire::AwsRequest;
    use serde_json::{json, Value as Json};
    use std::sync::Arc;

    const T0: i64 = 1_764_172_800_000;

    fn service(period_ms: i64) -> (DynamoDb, Arc<ManualClock>) {
        let clock = Arc::new(ManualClock::new(T0));
        let svc =
            DynamoDb::new(Db::in_memory(), clock.clone()).with_streams_config(StreamsConfig {
                shard_period_ms: period_ms,
                ..StreamsConfig::default()
            });
        (svc, clock)
    }

    async fn call(svc: &DynamoDb, target: &str, op: &str, body: Json) -> (u16, Json) {
        let mut headers = http::HeaderMap::new();
        headers.insert(
            "x-amz-target",
            http::HeaderValue::from_str(&format!("{target}.{op}")).unwrap(),
        );
        let req = AwsRequest {
            method: http::Method::POST,
            path: "/".into(),
            query: String::new(),
            headers,
            body: bytes::Bytes::from(body.to_string()),
        };
        let resp = if target.starts_with("DynamoDBStreams") {
            sm::dispatch(svc, &ctx(), &req).await
        } else {
            nimbus_model::dynamodb::dispatch(svc, &ctx(), &req).await
        };
        (
            resp.status.as_u16(),
            serde_json::from_slice(&resp.body).unwrap(),
        )
    }

    async fn ddb(svc: &DynamoDb, op: &str, body: Json) -> Json {
        let (st, b) = call(svc, "DynamoDB_20120810", op, body).await;
        assert_eq!(st, 200, "{op}: {b}");
        b
    }

    async fn streams(svc: &DynamoDb, op: &str, body: Json) -> (u16, Json) {
        call(svc, "DynamoDBStreams_20120810", op, body).await
    }

    async fn setup(svc: &DynamoDb) -> String {
        let d = ddb(
            svc,
            "CreateTable",
            json!({"TableName": "tbl",
                "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
                "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
                "BillingMode": "PAY_PER_REQUEST",
                "StreamSpecification": {"StreamEnabled": true, "StreamViewType": "NEW_IMAGE"}}),
        )
        .await;
        d["TableDescription"]["LatestStreamArn"]
            .as_str()
            .unwrap()
            .to_string()
    }

    async fn put(svc: &DynamoDb, pk: &str) {
        ddb(
            svc,
            "PutItem",
            json!({"TableName": "tbl", "Item": {"pk": {"S": pk}}}),
        )
        .await;
    }

    async fn shards(svc: &DynamoDb, arn: &str) -> Vec<Json> {
        let (st, d) = streams(svc, "DescribeStream", json!({"StreamArn": arn})).await;
        assert_eq!(st, 200, "{d}");
        d["StreamDescription"]["Shards"].as_array().unwrap().clone()
    }

    async fn iterator(svc: &DynamoDb, arn: &str, shard: &str, kind: &str) -> String {
        let (st, b) = streams(
            svc,
            "GetShardIterator",
            json!({"StreamArn": arn, "ShardId": shard, "ShardIteratorType": kind}),
        )
        .await;
        assert_eq!(st, 200, "{b}");
        b["ShardIterator"].as_str().unwrap().to_string()
    }

    fn keys(b: &Json) -> Vec<String> {
        b["Records"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                r["dynamodb"]["Keys"]["pk"]["S"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect()
    }

    #[tokio::test]
    async fn iterators_expire_after_15_minutes_on_the_clock() {
        let (svc, clock) = service(StreamsConfig::default().shard_period_ms);
        let arn = setup(&svc).await;
        put(&svc, "a").await;
        let shard = shards(&svc, &arn).await[0]["ShardId"]
            .as_str()
            .unwrap()
            .to_string();
        let it = iterator(&svc, &arn, &shard, "TRIM_HORIZON").await;
        clock.advance_millis(15 * 60 * 1000);
        let (st, b) = streams(&svc, "GetRecords", json!({"ShardIterator": it})).await;
        assert_eq!(st, 200, "exactly 15 minutes is still valid: {b}");
        assert_eq!(keys(&b), vec!["a"]);
        // The next iterator is fresh; the old one expires a millisecond later.
        let next = b["NextShardIterator"].as_str().unwrap().to_string();
        clock.advance_millis(1);
        let (st, b) = streams(&svc, "GetRecords", json!({"ShardIterator": it})).await;
        assert_eq!(st, 400);
        assert_eq!(
            b["__type"],
            "com.amazonaws.dynamodb.v20120810#ExpiredIteratorException"
        );
        let (st, _) = streams(&svc, "GetRecords", json!({"ShardIterator": next})).await;
        assert_eq!(st, 200);
    }

    #[tokio::test]
    async fn shards_roll_over_after_the_period_with_parents_and_closed_ranges() {
        let (svc, clock) = service(60_000);
        let arn = setup(&svc).await;
        put(&svc, "a").await;
        put(&svc, "b").await;
        let first = shards(&svc, &arn).await;
        assert_eq!(first.len(), 1);
        let s0 = first[0]["ShardId"].as_str().unwrap().to_string();
        let open_it = iterator(&svc, &arn, &s0, "TRIM_HORIZON").await;
        clock.advance_millis(61_000);
        put(&svc, "c").await;
        let all = shards(&svc, &arn).await;
        assert_eq!(all.len(), 2, "{all:?}");
        assert_eq!(all[0]["ShardId"], s0.as_str());
        let r0 = &all[0]["SequenceNumberRange"];
        let start0: u128 = r0["StartingSequenceNumber"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        let end0: u128 = r0["EndingSequenceNumber"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(end0 - start0, 1, "two records in the first shard");
        assert_eq!(all[1]["ParentShardId"], s0.as_str());
        assert!(all[1]["SequenceNumberRange"]
            .get("EndingSequenceNumber")
            .is_none());
        // The iterator taken while the shard was open drains it, then ends.
        let (_, b) = streams(&svc, "GetRecords", json!({"ShardIterator": open_it})).await;
        assert_eq!(keys(&b), vec!["a", "b"]);
        assert!(b.get("NextShardIterator").is_none(), "{b}");
        let s1 = all[1]["ShardId"].as_str().unwrap();
        let it = iterator(&svc, &arn, s1, "TRIM_HORIZON").await;
        let (_, b) = streams(&svc, "GetRecords", json!({"ShardIterator": it})).await;
        assert_eq!(keys(&b), vec!["c"]);
        // Paging and the child filter.
        let (_, d) = streams(
            &svc,
            "DescribeStream",
            json!({"StreamArn": arn, "Limit": 1}),
        )
        .await;
        assert_eq!(d["StreamDescription"]["LastEvaluatedShardId"], s0.as_str());
        let (_, d) = streams(
            &svc,
            "DescribeStream",
            json!({"StreamArn": arn, "ExclusiveStartShardId": s0}),
        )
        .await;
        assert_eq!(d["StreamDescription"]["Shards"][0]["ShardId"], s1);
        let (_, d) = streams(
            &svc,
            "DescribeStream",
            json!({"StreamArn": arn, "ShardFilter": {"Type": "CHILD_SHARDS", "ShardId": s0}}),
        )
        .await;
        assert_eq!(
            d["StreamDescription"]["Shards"].as_array().unwrap().len(),
            1
        );
        assert_eq!(d["StreamDescription"]["Shards"][0]["ShardId"], s1);
    }

    #[tokio::test]
    async fn retention_trims_records_and_forgets_disabled_streams() {
        let (svc, clock) = service(StreamsConfig::default().shard_period_ms);
        let arn = setup(&svc).await;
        put(&svc, "old").await;
        let shard = shards(&svc, &arn).await[0]["ShardId"]
            .as_str()
            .unwrap()
            .to_string();
        let (_, b) = streams(
            &svc,
            "GetRecords",
            json!({"ShardIterator": iterator(&svc, &arn, &shard, "TRIM_HORIZON").await}),
        )
        .await;
        let old_seq = b["Records"][0]["dynamodb"]["SequenceNumber"]
            .as_str()
            .unwrap()
            .to_string();
        clock.advance_millis(12 * 60 * 60 * 1000);
        put(&svc, "young").await;
        let stale = iterator(&svc, &arn, &shard, "TRIM_HORIZON").await;
        clock.advance_millis(12 * 60 * 60 * 1000 + 1);
        assert_eq!(trim_once(&svc).await.unwrap(), 1);
        let (st, b) = streams(
            &svc,
            "GetShardIterator",
            json!({"StreamArn": arn, "ShardId": shard, "ShardIteratorType": "AT_SEQUENCE_NUMBER",
                   "SequenceNumber": old_seq}),
        )
        .await;
        assert_eq!(st, 400);
        assert_eq!(
            b["__type"],
            "com.amazonaws.dynamodb.v20120810#TrimmedDataAccessException"
        );
        // An iterator positioned before the trim point fails the same way
        // (it is still within its 15 minutes: the clock moved, so take a fresh one).
        let _ = stale;
        let fresh = Iter {
            arn: arn.clone(),
            shard: 0,
            position: 1,
            issued_ms: svc.now_millis(),
        }
        .encode();
        let (st, b) = streams(&svc, "GetRecords", json!({"ShardIterator": fresh})).await;
        assert_eq!(st, 400, "{b}");
        assert_eq!(
            b["__type"],
            "com.amazonaws.dynamodb.v20120810#TrimmedDataAccessException"
        );
        // The old shard is gone with its records; the young record's shard (closed by
        // now) and the open one are left.
        let left = shards(&svc, &arn).await;
        assert_eq!(left.len(), 2, "{left:?}");
        assert_ne!(left[0]["ShardId"], shard.as_str());
        let cur = left[0]["ShardId"].as_str().unwrap().to_string();
        let (_, b) = streams(
            &svc,
            "GetRecords",
            json!({"ShardIterator": iterator(&svc, &arn, &cur, "TRIM_HORIZON").await}),
        )
        .await;
        assert_eq!(keys(&b), vec!["young"]);

        // Disable: readable for 24 hours from when the trimmer saw it disabled, then gone.
        ddb(
            &svc,
            "UpdateTable",
            json!({"TableName": "tbl", "StreamSpecification": {"StreamEnabled": false}}),
        )
        .await;
        trim_once(&svc).await.unwrap();
        clock.advance_millis(24 * 60 * 60 * 1000);
        trim_once(&svc).await.unwrap();
        let (st, d) = streams(&svc, "DescribeStream", json!({"StreamArn": arn})).await;
        assert_eq!(st, 200);
        assert_eq!(d["StreamDescription"]["StreamStatus"], "DISABLED");
        clock.advance_millis(1);
        trim_once(&svc).await.unwrap();
        let (st, d) = streams(&svc, "DescribeStream", json!({"StreamArn": arn})).await;
        assert_eq!(st, 400, "{d}");
        let (_, l) = streams(&svc, "ListStreams", json!({})).await;
        assert_eq!(l["Streams"], json!([]));
        let snap = svc.db().snapshot().unwrap();
        let topic =
            crate::ops::catalog::load_table(snap.as_ref(), "000000000000", "us-east-1", "tbl")
                .unwrap()
                .map(|t| stream_topic(&t.key_id, t.stream.as_ref().unwrap().label.as_str()))
                .unwrap();
        assert!(events::bounds(snap.as_ref(), &topic).unwrap().is_none());
    }

    #[test]
    fn sequence_numbers_and_iterators_round_trip() {
        assert_eq!(seq_string(1), "100000000000000000001");
        assert_eq!(parse_seq("100000000000000000001"), Some(1));
        assert_eq!(parse_seq("99"), None);
        assert_eq!(parse_seq("1e5"), None);
        assert!(seq_string(41) > seq_string(40));
        let it = Iter {
            arn: "arn:aws:dynamodb:us-east-1:000000000000:table/t/stream/2025-11-26T16:00:00.000"
                .into(),
            shard: 3,
            position: 17,
            issued_ms: T0,
        };
        let s = it.encode();
        let back = Iter::decode(&s).unwrap();
        assert_eq!(
            (back.arn, back.shard, back.position, back.issued_ms),
            (it.arn, 3, 17, T0)
        );
        assert!(Iter::decode(&s.replace("table/t/", "table/u/")).is_none());
        assert!(Iter::decode("garbage").is_none());
        assert_eq!(label_ms("2025-11-26T16:00:00.123"), Some(1_764_172_800_123));
    }
}
