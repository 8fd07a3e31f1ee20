//! What the store holds: group and stream records (JSON) and event values (binary).

use std::collections::BTreeMap;

use nimbus_store::{ReadTxn, StoreError, WriteTxn};
use serde::{Deserialize, Serialize};

use crate::error::LogsError;
use crate::keys;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupMeta {
    pub id: u64,
    pub name: String,
    pub creation_time: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention_days: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key_id: Option<String>,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// `STANDARD`, `INFREQUENT_ACCESS` or `DELIVERY`.
    pub class: String,
    /// Sum of the message bytes of the events stored (AWS reports compressed bytes; nimbus
    /// stores uncompressed).
    #[serde(default)]
    pub stored_bytes: i64,
    #[serde(default)]
    pub deletion_protection: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreamMeta {
    pub id: u64,
    pub name: String,
    pub creation_time: i64,
    #[serde(default)]
    pub first_event_ts: Option<i64>,
    #[serde(default)]
    pub last_event_ts: Option<i64>,
    #[serde(default)]
    pub last_ingestion_time: Option<i64>,
    /// Counts PutLogEvents calls: the (ignored) sequence token AWS still returns.
    #[serde(default)]
    pub upload_seq: u64,
    /// The number the next event gets.
    pub next_seq: u64,
}

/// One stored event as reads return it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent {
    pub ts: i64,
    pub seq: u64,
    pub ingestion_time: i64,
    pub message: String,
}

fn corrupt(what: &str) -> LogsError {
    LogsError::Store(StoreError::Corrupt(format!("logs: bad {what}")))
}

pub fn decode_json<T: for<'de> Deserialize<'de>>(bytes: &[u8], what: &str) -> Result<T, LogsError> {
    serde_json::from_slice(bytes).map_err(|_| corrupt(what))
}

pub fn encode_json<T: Serialize>(v: &T) -> Result<Vec<u8>, LogsError> {
    serde_json::to_vec(v).map_err(|e| LogsError::Internal(format!("encode: {e}")))
}

/// Hands out the next group/stream id.
pub fn next_id(txn: &mut dyn WriteTxn) -> Result<u64, LogsError> {
    let last = match txn.get(keys::NEXT_ID)? {
        Some(v) => keys::u64_at(&v, 0).ok_or_else(|| corrupt("id counter"))?,
        None => 0,
    };
    let id = last + 1;
    txn.put(keys::NEXT_ID, &id.to_be_bytes())?;
    Ok(id)
}

pub fn get_group(
    txn: &dyn ReadTxn,
    account: &str,
    region: &str,
    name: &str,
) -> Result<Option<GroupMeta>, LogsError> {
    match txn.get(&keys::group(account, region, name))? {
        Some(v) => Ok(Some(decode_json(&v, "group record")?)),
        None => Ok(None),
    }
}

pub fn put_group(
    txn: &mut dyn WriteTxn,
    account: &str,
    region: &str,
    g: &GroupMeta,
) -> Result<(), LogsError> {
    txn.put(&keys::group(account, region, &g.name), &encode_json(g)?)?;
    Ok(())
}

pub fn get_stream(
    txn: &dyn ReadTxn,
    gid: u64,
    name: &str,
) -> Result<Option<StreamMeta>, LogsError> {
    match txn.get(&keys::stream(gid, name))? {
        Some(v) => Ok(Some(decode_json(&v, "stream record")?)),
        None => Ok(None),
    }
}

/// Writes a stream record and keeps its entry in the by-last-event-time index current
/// (`old` is the record as it was, `None` for a new stream).
pub fn put_stream(
    txn: &mut dyn WriteTxn,
    gid: u64,
    old: Option<&StreamMeta>,
    s: &StreamMeta,
) -> Result<(), LogsError> {
    let old_ts = old.map(|o| o.last_event_ts.unwrap_or(0));
    let new_ts = s.last_event_ts.unwrap_or(0);
    if old_ts != Some(new_ts) {
        if let Some(ts) = old_ts {
            txn.delete(&keys::stream_by_time(gid, ts, s.id))?;
        }
        txn.put(&keys::stream_by_time(gid, new_ts, s.id), s.name.as_bytes())?;
    }
    txn.put(&keys::stream(gid, &s.name), &encode_json(s)?)?;
    Ok(())
}

/// The `e` value: ingestion time, message.
pub fn event_value(ingestion_time: i64, message: &str) -> Vec<u8> {
    let mut v = Vec::with_capacity(8 + message.len());
    v.extend_from_slice(&ingestion_time.to_be_bytes());
    v.extend_from_slice(message.as_bytes());
    v
}

pub fn parse_event_value(v: &[u8]) -> Option<(i64, String)> {
    let ing = keys::u64_at(v, 0)? as i64;
    let msg = String::from_utf8_lossy(v.get(8..)?).into_owned();
    Some((ing, msg))
}

/// The `x` value: ingestion time, stream name, message.
pub fn group_event_value(ingestion_time: i64, stream: &str, message: &str) -> Vec<u8> {
    let mut v = Vec::with_capacity(10 + stream.len() + message.len());
    v.extend_from_slice(&ingestion_time.to_be_bytes());
    // Stream names are at most 512 bytes (validated), so they fit in u16.
    let len = u16::try_from(stream.len()).unwrap_or(u16::MAX);
    v.extend_from_slice(&len.to_be_bytes());
    v.extend_from_slice(
        stream
            .as_bytes()
            .get(..usize::from(len))
            .unwrap_or_default(),
    );
    v.extend_from_slice(message.as_bytes());
    v
}

/// (ingestion time, stream name, message) of an `x` value.
pub fn parse_group_event_value(v: &[u8]) -> Option<(i64, &str, &[u8])> {
    let ing = keys::u64_at(v, 0)? as i64;
    let len_bytes: [u8; 2] = v.get(8..10)?.try_into().ok()?;
    let len = usize::from(u16::from_be_bytes(len_bytes));
    let name = std::str::from_utf8(v.get(10..10 + len)?).ok()?;
    Some((ing, name, v.get(10 + len..)?))
}
