//! Events: PutLogEvents, GetLogEvents, FilterLogEvents, and the internal append path.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::ops::Bound;
use std::sync::Arc;

use nimbus_core::RequestContext;
use nimbus_model::logs::*;
use nimbus_store::WriteTxn;

use crate::error::{LogsError, BAD_NEXT_TOKEN};
use crate::keys;
use crate::ops;
use crate::pattern;
use crate::records::{self, GroupMeta, StreamMeta};
use crate::Logs;

/// AWS's limit on a PutLogEvents batch: message bytes plus [`EVENT_OVERHEAD_BYTES`] each.
pub const MAX_BATCH_BYTES: usize = 1_048_576;
/// AWS counts 26 bytes per event on top of its message.
pub const EVENT_OVERHEAD_BYTES: usize = 26;
/// AWS's limit on one event (message + overhead).
pub const MAX_EVENT_BYTES: usize = 1_048_576;
/// Events older than this are rejected (`tooOldLogEventEndIndex`).
pub const MAX_AGE_MS: i64 = 14 * 86_400_000;
/// Events further in the future are rejected (`tooNewLogEventStartIndex`).
pub const MAX_FUTURE_MS: i64 = 2 * 3_600_000;
/// The accepted events of one batch may span at most this.
pub const MAX_SPAN_MS: i64 = 86_400_000;
/// GetLogEvents / FilterLogEvents: default and largest page, and the response-size cap.
pub const MAX_EVENTS_PER_PAGE: usize = 10_000;
pub const MAX_RESPONSE_BYTES: usize = 1_048_576;
/// Most group events one FilterLogEvents call examines; beyond, it returns a nextToken
/// (possibly with no events, as AWS does for long sparse searches).
pub const FILTER_SCAN_BUDGET: usize = 20_000;
const CHUNK: usize = 1_000;
/// Bounds the per-call cache of which streams are deleted.
const MAX_CACHED_STREAMS: usize = 10_000;

/// Writes `events` (sorted by time) to a stream and the group's index; updates both
/// records.
#[allow(clippy::too_many_arguments)]
fn write_events(
    txn: &mut dyn WriteTxn,
    account: &str,
    region: &str,
    group: &mut GroupMeta,
    old: Option<&StreamMeta>,
    stream: &mut StreamMeta,
    events: &[(i64, String)],
    now: i64,
) -> Result<(), LogsError> {
    let mut bytes: i64 = 0;
    for (ts, msg) in events {
        let seq = stream.next_seq;
        stream.next_seq += 1;
        txn.put(
            &keys::event(stream.id, *ts, seq),
            &records::event_value(now, msg),
        )?;
        txn.put(
            &keys::group_event(group.id, *ts, stream.id, seq),
            &records::group_event_value(now, &stream.name, msg),
        )?;
        bytes += i64::try_from(msg.len()).unwrap_or(i64::MAX);
        stream.first_event_ts = Some(stream.first_event_ts.map_or(*ts, |f| f.min(*ts)));
        stream.last_event_ts = Some(stream.last_event_ts.map_or(*ts, |l| l.max(*ts)));
    }
    if !events.is_empty() {
        stream.last_ingestion_time = Some(now);
        group.stored_bytes = group.stored_bytes.saturating_add(bytes);
        records::put_group(txn, account, region, group)?;
    }
    stream.upload_seq += 1;
    records::put_stream(txn, group.id, old, stream)
}

/// Which events of a time-sorted batch AWS would reject, and why.
#[derive(Debug, Default, PartialEq)]
struct Rejections {
    too_old_end: Option<usize>,
    expired_end: Option<usize>,
    too_new_start: Option<usize>,
}

impl Rejections {
    /// The accepted index range.
    fn accepted(&self, len: usize) -> std::ops::Range<usize> {
        let start = match (self.too_old_end, self.expired_end) {
            (None, None) => 0,
            (a, b) => a.max(b).map_or(0, |i| i + 1),
        };
        let end = self.too_new_start.unwrap_or(len).max(start);
        start..end
    }
}

fn classify(ts: &[i64], now: i64, retention_days: Option<i32>) -> Rejections {
    let too_old_before = now.saturating_sub(MAX_AGE_MS);
    let expired_before =
        retention_days.map(|d| now.saturating_sub(i64::from(d).saturating_mul(86_400_000)));
    let too_new_after = now.saturating_add(MAX_FUTURE_MS);
    let mut r = Rejections::default();
    for (i, &t) in ts.iter().enumerate() {
        if t > too_new_after {
            if r.too_new_start.is_none() {
                r.too_new_start = Some(i);
            }
        } else if expired_before.is_some_and(|e| t < e) {
            r.expired_end = Some(i);
        } else if t < too_old_before {
            r.too_old_end = Some(i);
        }
    }
    r
}

pub async fn put_log_events(
    logs: &Logs,
    ctx: &RequestContext,
    input: PutLogEventsRequest,
) -> Result<PutLogEventsResponse, LogsError> {
    let mut total = 0usize;
    for e in &input.log_events {
        let size = e.message.len() + EVENT_OVERHEAD_BYTES;
        if size > MAX_EVENT_BYTES {
            return Err(LogsError::invalid(format!(
                "Log event too large: {size} bytes exceeds limit of {MAX_EVENT_BYTES}"
            )));
        }
        total += size;
    }
    if total > MAX_BATCH_BYTES {
        return Err(LogsError::invalid(format!(
            "Upload too large: {total} bytes exceeds limit of {MAX_BATCH_BYTES}"
        )));
    }
    if input
        .log_events
        .windows(2)
        .any(|w| matches!(w, [a, b] if b.timestamp < a.timestamp))
    {
        return Err(LogsError::invalid(
            "Log events in a single PutLogEvents request must be in chronological order.",
        ));
    }
    let now = logs.now_millis();
    let events: Arc<Vec<(i64, String)>> = Arc::new(
        input
            .log_events
            .into_iter()
            .map(|e| (e.timestamp, e.message))
            .collect(),
    );
    let (account, region) = (ctx.account_id.clone(), ctx.region.clone());
    let (group, stream) = (input.log_group_name, input.log_stream_name);
    let (upload_seq, rejections) = logs
        .db
        .write(move |txn| {
            let mut g = records::get_group(txn, &account, &region, &group)?
                .ok_or_else(LogsError::group_not_found)?;
            let old = records::get_stream(txn, g.id, &stream)?
                .ok_or_else(LogsError::stream_not_found)?;
            let ts: Vec<i64> = events.iter().map(|(t, _)| *t).collect();
            let rej = classify(&ts, now, g.retention_days);
            let range = rej.accepted(events.len());
            let accepted = events.get(range).unwrap_or_default();
            if let (Some(first), Some(last)) = (accepted.first(), accepted.last()) {
                if last.0 - first.0 > MAX_SPAN_MS {
                    return Err(LogsError::invalid(
                        "The batch of log events in a single PutLogEvents request cannot span more than 24 hours.",
                    ));
                }
            }
            let mut s = old.clone();
            write_events(txn, &account, &region, &mut g, Some(&old), &mut s, accepted, now)?;
            Ok((s.upload_seq, rej))
        })
        .await?;
    let any_rejected = rejections != Rejections::default();
    let to_i32 = |i: Option<usize>| i.and_then(|i| i32::try_from(i).ok());
    Ok(PutLogEventsResponse {
        next_sequence_token: Some(format!("{upload_seq:056}")),
        rejected_log_events_info: any_rejected.then(|| RejectedLogEventsInfo {
            too_new_log_event_start_index: to_i32(rejections.too_new_start),
            too_old_log_event_end_index: to_i32(rejections.too_old_end),
            expired_log_event_end_index: to_i32(rejections.expired_end),
        }),
        rejected_entity_info: None,
    })
}

/// One batch of function output for [`Logs::append_batches`].
#[derive(Debug, Clone)]
pub struct AppendBatch {
    pub account: String,
    pub region: String,
    pub group: String,
    pub stream: String,
    pub lines: Vec<(i64, String)>,
}

impl AppendBatch {
    pub fn bytes(&self) -> usize {
        self.lines
            .iter()
            .map(|(_, m)| m.len() + EVENT_OVERHEAD_BYTES)
            .sum()
    }
}

/// Cuts `s` to at most `max` bytes on a character boundary.
fn truncate_utf8(s: &mut String, max: usize) {
    if s.len() <= max {
        return;
    }
    let mut cut = max;
    while cut > 0 && !s.is_char_boundary(cut) {
        cut -= 1;
    }
    s.truncate(cut);
}

impl Logs {
    /// Appends function output to `group`/`stream`, creating both when missing, in one
    /// transaction. Lines need not be sorted (they are, stably, by time); over-long lines
    /// are cut to AWS's event limit. No age checks: the engine's clock stamped them.
    pub async fn append_internal(
        &self,
        account: &str,
        region: &str,
        group: &str,
        stream: &str,
        lines: Vec<(i64, String)>,
    ) -> Result<(), LogsError> {
        self.append_batches(vec![AppendBatch {
            account: account.to_string(),
            region: region.to_string(),
            group: group.to_string(),
            stream: stream.to_string(),
            lines,
        }])
        .await
    }

    /// Several appends (any groups and streams) in one transaction.
    pub async fn append_batches(&self, mut batches: Vec<AppendBatch>) -> Result<(), LogsError> {
        for b in &mut batches {
            if b.group.is_empty()
                || b.group.len() > 512
                || b.stream.is_empty()
                || b.stream.len() > 512
            {
                return Err(LogsError::invalid(format!(
                    "invalid log group or stream name: {:?}/{:?}",
                    b.group, b.stream
                )));
            }
            b.lines.sort_by_key(|(ts, _)| *ts);
            for (_, m) in &mut b.lines {
                truncate_utf8(m, MAX_EVENT_BYTES - EVENT_OVERHEAD_BYTES);
            }
        }
        batches.retain(|b| !b.lines.is_empty());
        if batches.is_empty() {
            return Ok(());
        }
        let now = self.now_millis();
        let batches = Arc::new(batches);
        self.db
            .write(move |txn| {
                for b in batches.iter() {
                    let mut g = match records::get_group(txn, &b.account, &b.region, &b.group)? {
                        Some(g) => g,
                        None => {
                            let id = records::next_id(txn)?;
                            let g = ops::new_group(id, &b.group, now);
                            records::put_group(txn, &b.account, &b.region, &g)?;
                            g
                        }
                    };
                    let old = records::get_stream(txn, g.id, &b.stream)?;
                    let mut s = match &old {
                        Some(s) => s.clone(),
                        None => {
                            let id = records::next_id(txn)?;
                            ops::new_stream(id, &b.stream, now)
                        }
                    };
                    write_events(
                        txn,
                        &b.account,
                        &b.region,
                        &mut g,
                        old.as_ref(),
                        &mut s,
                        &b.lines,
                        now,
                    )?;
                }
                Ok(())
            })
            .await
    }
}

/// A GetLogEvents position: `f/` or `b/` and 56 digits (time, sequence, padding).
fn encode_position(dir: char, ts_sortable: u64, seq: u64) -> String {
    format!("{dir}/{ts_sortable:020}{seq:020}{:016}", 0)
}

fn decode_position(tok: &str) -> Result<(char, u64, u64), LogsError> {
    let bad = || LogsError::invalid(BAD_NEXT_TOKEN);
    let (dir, digits) = if let Some(d) = tok.strip_prefix("f/") {
        ('f', d)
    } else if let Some(d) = tok.strip_prefix("b/") {
        ('b', d)
    } else {
        return Err(bad());
    };
    if digits.len() != 56 || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return Err(bad());
    }
    let ts: u64 = digits
        .get(..20)
        .and_then(|d| d.parse().ok())
        .ok_or_else(bad)?;
    let seq: u64 = digits
        .get(20..40)
        .and_then(|d| d.parse().ok())
        .ok_or_else(bad)?;
    Ok((dir, ts, seq))
}

pub fn get_log_events(
    logs: &Logs,
    ctx: &RequestContext,
    input: GetLogEventsRequest,
) -> Result<GetLogEventsResponse, LogsError> {
    let group = ops::resolve_group_name(ctx, input.log_group_name, input.log_group_identifier)?;
    let limit = input
        .limit
        .and_then(|l| usize::try_from(l).ok())
        .unwrap_or(MAX_EVENTS_PER_PAGE)
        .clamp(1, MAX_EVENTS_PER_PAGE);
    let token = input
        .next_token
        .as_deref()
        .map(decode_position)
        .transpose()?;
    let snap = logs.db.snapshot()?;
    let g = ops::load_group(snap.as_ref(), ctx, &group)?;
    let s = records::get_stream(snap.as_ref(), g.id, &input.log_stream_name)?
        .ok_or_else(LogsError::stream_not_found)?;
    let base = keys::events_of(s.id);
    let start = match input.start_time {
        Some(t) => keys::event_at(s.id, t),
        None => base.clone(),
    };
    // endTime is exclusive in GetLogEvents.
    let end = match input.end_time {
        Some(t) => keys::event_at(s.id, t),
        None => keys::prefix_end(&base),
    };
    let token_key = token.map(|(_, ts, seq)| {
        let mut k = base.clone();
        k.extend_from_slice(&ts.to_be_bytes());
        k.extend_from_slice(&seq.to_be_bytes());
        k
    });
    let forward = match token {
        Some((dir, _, _)) => dir == 'f',
        None => input.start_from_head.unwrap_or(false),
    };
    let rows = match (&token_key, forward) {
        (Some(t), true) => {
            let lo = if *t >= start {
                Bound::Excluded(t.as_slice())
            } else {
                Bound::Included(start.as_slice())
            };
            snap.range(lo, Bound::Excluded(end.as_slice()), false, limit)?
        }
        (Some(t), false) => {
            let hi = if *t < end {
                t.as_slice()
            } else {
                end.as_slice()
            };
            let mut r = snap.range(
                Bound::Included(start.as_slice()),
                Bound::Excluded(hi),
                true,
                limit,
            )?;
            r.reverse();
            r
        }
        (None, true) => snap.range(
            Bound::Included(start.as_slice()),
            Bound::Excluded(end.as_slice()),
            false,
            limit,
        )?,
        (None, false) => {
            let mut r = snap.range(
                Bound::Included(start.as_slice()),
                Bound::Excluded(end.as_slice()),
                true,
                limit,
            )?;
            r.reverse();
            r
        }
    };
    let mut events = Vec::with_capacity(rows.len());
    let mut positions = Vec::with_capacity(rows.len());
    let mut bytes = 0usize;
    // Reading backward, the events nearest the token matter: trim from the far end.
    let iter: Box<dyn Iterator<Item = &(Vec<u8>, Vec<u8>)>> = if forward {
        Box::new(rows.iter())
    } else {
        Box::new(rows.iter().rev())
    };
    for (k, v) in iter {
        let Some((ts, seq)) = keys::parse_event(k) else {
            continue;
        };
        let Some((ing, message)) = records::parse_event_value(v) else {
            continue;
        };
        bytes += message.len() + EVENT_OVERHEAD_BYTES;
        if bytes > MAX_RESPONSE_BYTES && !events.is_empty() {
            break;
        }
        positions.push((keys::u64_at(&keys::ts_bytes(ts), 0).unwrap_or(0), seq));
        events.push(OutputLogEvent {
            timestamp: Some(ts),
            message: Some(message),
            ingestion_time: Some(ing),
        });
    }
    if !forward {
        events.reverse();
        positions.reverse();
    }
    let (fwd, bwd) = match (positions.first(), positions.last()) {
        (Some(first), Some(last)) => (
            encode_position('f', last.0, last.1),
            encode_position('b', first.0, first.1),
        ),
        _ => match token {
            // At the end (or the beginning): AWS hands back the token it was given.
            Some((_, ts, seq)) => (encode_position('f', ts, seq), encode_position('b', ts, seq)),
            None => {
                let from = keys::u64_at(&keys::ts_bytes(input.start_time.unwrap_or(i64::MIN)), 0)
                    .unwrap_or(0);
                (encode_position('f', from, 0), encode_position('b', from, 0))
            }
        },
    };
    Ok(GetLogEventsResponse {
        events: Some(events),
        next_forward_token: Some(fwd),
        next_backward_token: Some(bwd),
    })
}

/// A FilterLogEvents position in the group's index: time, stream id, sequence.
fn encode_filter_token(ts_sortable: u64, sid: u64, seq: u64) -> String {
    format!("{ts_sortable:020}{sid:020}{seq:020}")
}

fn decode_filter_token(tok: &str) -> Result<(u64, u64, u64), LogsError> {
    let bad = || LogsError::invalid(BAD_NEXT_TOKEN);
    if tok.len() != 60 || !tok.bytes().all(|c| c.is_ascii_digit()) {
        return Err(bad());
    }
    let part = |r: std::ops::Range<usize>| tok.get(r).and_then(|d| d.parse::<u64>().ok());
    Ok((
        part(0..20).ok_or_else(bad)?,
        part(20..40).ok_or_else(bad)?,
        part(40..60).ok_or_else(bad)?,
    ))
}

pub fn filter_log_events(
    logs: &Logs,
    ctx: &RequestContext,
    input: FilterLogEventsRequest,
) -> Result<FilterLogEventsResponse, LogsError> {
    let group = ops::resolve_group_name(ctx, input.log_group_name, input.log_group_identifier)?;
    if input.log_stream_names.is_some() && input.log_stream_name_prefix.is_some() {
        return Err(LogsError::invalid(
            "logStreamNames and logStreamNamePrefix are mutually exclusive parameters.",
        ));
    }
    let pattern = pattern::parse(input.filter_pattern.as_deref().unwrap_or(""))?;
    let limit = input
        .limit
        .and_then(|l| usize::try_from(l).ok())
        .unwrap_or(MAX_EVENTS_PER_PAGE)
        .clamp(1, MAX_EVENTS_PER_PAGE);
    let names: Option<HashSet<String>> = input
        .log_stream_names
        .as_ref()
        .map(|n| n.iter().cloned().collect());
    let prefix = input.log_stream_name_prefix.clone();
    let token = input
        .next_token
        .as_deref()
        .map(decode_filter_token)
        .transpose()?;
    let snap = logs.db.snapshot()?;
    let g = ops::load_group(snap.as_ref(), ctx, &group)?;
    let base = keys::group_events_of(g.id);
    let start = match input.start_time {
        Some(t) => keys::group_event_at(g.id, t),
        None => base.clone(),
    };
    // endTime is inclusive in FilterLogEvents.
    let end = match input.end_time {
        Some(t) if t < i64::MAX => keys::group_event_at(g.id, t + 1),
        _ => keys::prefix_end(&base),
    };
    let mut lower = start.clone();
    let mut lower_excluded = false;
    if let Some((ts, sid, seq)) = token {
        let mut k = base.clone();
        k.extend_from_slice(&ts.to_be_bytes());
        k.extend_from_slice(&sid.to_be_bytes());
        k.extend_from_slice(&seq.to_be_bytes());
        if k >= lower {
            lower = k;
            lower_excluded = true;
        }
    }
    let mut events = Vec::new();
    let mut bytes = 0usize;
    let mut scanned = 0usize;
    let mut searched: BTreeSet<String> = BTreeSet::new();
    let mut dead: HashMap<u64, bool> = HashMap::new();
    // The position to continue from when the page ends early (None: range exhausted).
    let mut resume: Option<(u64, u64, u64)> = None;
    'scan: loop {
        let lo = if lower_excluded {
            Bound::Excluded(lower.as_slice())
        } else {
            Bound::Included(lower.as_slice())
        };
        let rows = snap.range(lo, Bound::Excluded(end.as_slice()), false, CHUNK)?;
        let n = rows.len();
        let mut last = None;
        for (k, v) in rows {
            if scanned == FILTER_SCAN_BUDGET || events.len() == limit {
                break 'scan;
            }
            let Some((ts, sid, seq)) = keys::parse_group_event(&k) else {
                continue;
            };
            let ts_s = keys::u64_at(&keys::ts_bytes(ts), 0).unwrap_or(0);
            scanned += 1;
            let Some((ing, stream, msg)) = records::parse_group_event_value(&v) else {
                continue;
            };
            // A deleted stream's events linger in the group index until the sweeper
            // removes them (its tombstone is there meanwhile): never show them.
            let deleted = match dead.get(&sid) {
                Some(d) => *d,
                None => {
                    let d = snap.get(&keys::gc_stream(sid))?.is_some();
                    if dead.len() < MAX_CACHED_STREAMS {
                        dead.insert(sid, d);
                    }
                    d
                }
            };
            if deleted {
                resume = Some((ts_s, sid, seq));
                last = Some(k);
                continue;
            }
            let stream_ok = match (&names, &prefix) {
                (Some(set), _) => set.contains(stream),
                (None, Some(p)) => stream.starts_with(p.as_str()),
                (None, None) => true,
            };
            if !stream_ok {
                resume = Some((ts_s, sid, seq));
                last = Some(k);
                continue;
            }
            searched.insert(stream.to_string());
            let message = String::from_utf8_lossy(msg).into_owned();
            if pattern.matches(&message) {
                let size = message.len() + EVENT_OVERHEAD_BYTES;
                if bytes + size > MAX_RESPONSE_BYTES && !events.is_empty() {
                    break 'scan;
                }
                bytes += size;
                events.push(FilteredLogEvent {
                    log_stream_name: Some(stream.to_string()),
                    timestamp: Some(ts),
                    message: Some(message),
                    ingestion_time: Some(ing),
                    event_id: Some(encode_filter_token(ts_s, sid, seq)),
                });
            }
            resume = Some((ts_s, sid, seq));
            last = Some(k);
        }
        if n < CHUNK {
            // Range exhausted: no next page.
            resume = None;
            break;
        }
        match last {
            Some(k) => {
                lower = k;
                lower_excluded = true;
            }
            None => {
                resume = None;
                break;
            }
        }
    }
    let next_token = resume.map(|(ts, sid, seq)| encode_filter_token(ts, sid, seq));
    let complete = next_token.is_none();
    let searched_log_streams = match &names {
        Some(set) => {
            let mut v: Vec<&String> = set.iter().collect();
            v.sort();
            v.into_iter().cloned().collect::<Vec<_>>()
        }
        None => searched.into_iter().collect(),
    }
    .into_iter()
    .map(|name| SearchedLogStream {
        log_stream_name: Some(name),
        searched_completely: Some(complete),
    })
    .collect();
    Ok(FilterLogEventsResponse {
        events: Some(events),
        searched_log_streams: Some(searched_log_streams),
        next_token,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn classification_follows_aws() {
        let now = 100 * 86_400_000;
        let old = now - MAX_AGE_MS - 1;
        let new = now + MAX_FUTURE_MS + 1;
        let r = classify(&[old, old, now, now, new], now, None);
        assert_eq!(r.too_old_end, Some(1));
        assert_eq!(r.too_new_start, Some(4));
        assert_eq!(r.accepted(5), 2..4);
        // With 1-day retention, an event 2 days old is expired, not too old.
        let r = classify(&[now - 2 * 86_400_000, now], now, Some(1));
        assert_eq!(r.expired_end, Some(0));
        assert_eq!(r.accepted(2), 1..2);
        let r = classify(&[new], now, None);
        assert_eq!(r.accepted(1), 0..0);
    }

    #[test]
    fn positions_round_trip() {
        let t = encode_position('f', 123, 45);
        assert_eq!(t.len(), 58);
        assert_eq!(decode_position(&t).unwrap(), ('f', 123, 45));
        assert!(decode_position("f/12").is_err());
        assert!(
            decode_position("x/00000000000000000000000000000000000000000000000000000000").is_err()
        );
        let f = encode_filter_token(1, 2, 3);
        assert_eq!(decode_filter_token(&f).unwrap(), (1, 2, 3));
        assert!(decode_filter_token("abc").is_err());
    }
}
