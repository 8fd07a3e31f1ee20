//! Where CloudWatch Logs keeps its state in the store. Every key starts with `logs/`; the
//! second segment names the family:
//!
//! | family | key | value |
//! |---|---|---|
//! | `id` | `logs/id` | the last id handed out to a group or stream (u64 BE) |
//! | `g`  | `logs/g/{account}/{region}/{group*}` | [`crate::records::GroupMeta`] (JSON) |
//! | `s`  | `logs/s/{gid}{stream*}` | [`crate::records::StreamMeta`] (JSON) |
//! | `l`  | `logs/l/{gid}{last_ts}{sid}` | the stream's name: streams of a group by last event time |
//! | `e`  | `logs/e/{sid}{ts}{seq}` | one event: ingestion time (i64 BE) + message |
//! | `x`  | `logs/x/{gid}{ts}{sid}{seq}` | the same event in group order: ingestion time (i64 BE), stream-name length (u16 BE), stream name, message |
//! | `gc` | `logs/gc/g/{gid}` / `logs/gc/s/{sid}` | a deleted group (empty) / stream (its gid): the sweeper deletes their events in bounded chunks |
//!
//! `{gid}`/`{sid}` are the u64 ids (BE) of a group / stream; ids are never reused, so a
//! re-created group or stream never sees the events of a deleted one, and deleting is one
//! small transaction however many events there are. `{ts}` is the event timestamp (epoch
//! ms, i64) with its sign bit flipped, big-endian, so byte order is time order; `{seq}` is
//! the event's number within its stream (u64 BE, from 1), which keeps events with equal
//! timestamps in arrival order. `{group*}`/`{stream*}` are names escaped so that byte order
//! is name order and no name is a prefix-collision of another: `0x00` becomes
//! `0x00 0xFF`, and the name ends with `0x00 0x01`.
//!
//! Reading one stream between two times is one bounded range over `e`; FilterLogEvents
//! over a whole group is one bounded range over `x` (no merge of per-stream ranges).
//! Retention deletes a prefix of each group's `x` range (and the matching `e` keys).

pub const NEXT_ID: &[u8] = b"logs/id";
pub const GROUP: &[u8] = b"logs/g/";
pub const STREAM: &[u8] = b"logs/s/";
pub const STREAM_BY_TIME: &[u8] = b"logs/l/";
pub const EVENT: &[u8] = b"logs/e/";
pub const GROUP_EVENT: &[u8] = b"logs/x/";
pub const GC_GROUP: &[u8] = b"logs/gc/g/";
pub const GC_STREAM: &[u8] = b"logs/gc/s/";

/// The escaped-name terminator; see the module docs.
const NAME_END: [u8; 2] = [0x00, 0x01];

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    let mut v = Vec::with_capacity(parts.iter().map(|p| p.len()).sum::<usize>() + 8);
    for p in parts {
        v.extend_from_slice(p);
    }
    v
}

/// Appends `name` escaped without its terminator (a prefix of every name starting so).
pub fn push_escaped_prefix(out: &mut Vec<u8>, name: &str) {
    for &b in name.as_bytes() {
        out.push(b);
        if b == 0 {
            out.push(0xFF);
        }
    }
}

/// Appends `name` escaped (order-preserving, prefix-free).
pub fn push_escaped(out: &mut Vec<u8>, name: &str) {
    push_escaped_prefix(out, name);
    out.extend_from_slice(&NAME_END);
}

/// Reads an escaped name from the start of `b`; returns it and the rest.
pub fn take_escaped(b: &[u8]) -> Option<(String, &[u8])> {
    let mut raw = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = *b.get(i)?;
        if c == 0 {
            match b.get(i + 1)? {
                0xFF => raw.push(0),
                0x01 => {
                    let name = String::from_utf8(raw).ok()?;
                    return Some((name, b.get(i + 2..)?));
                }
                _ => return None,
            }
            i += 2;
        } else {
            raw.push(c);
            i += 1;
        }
    }
    None
}

/// Time as a key component: sign bit flipped, big-endian, so byte order is time order.
pub fn ts_bytes(ts_ms: i64) -> [u8; 8] {
    ((ts_ms as u64) ^ (1 << 63)).to_be_bytes()
}

/// The inverse of [`ts_bytes`] on its sortable u64 form.
pub fn ts_from_sortable(sortable: u64) -> i64 {
    (sortable ^ (1 << 63)) as i64
}

pub fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    let arr: [u8; 8] = b.get(at..at + 8)?.try_into().ok()?;
    Some(u64::from_be_bytes(arr))
}

/// `logs/g/{account}/{region}/`: every group of one account in one region.
pub fn groups_of(account: &str, region: &str) -> Vec<u8> {
    cat(&[GROUP, account.as_bytes(), b"/", region.as_bytes(), b"/"])
}

pub fn group(account: &str, region: &str, name: &str) -> Vec<u8> {
    let mut k = groups_of(account, region);
    push_escaped(&mut k, name);
    k
}

/// `logs/s/{gid}`: every stream of a group, by name.
pub fn streams_of(gid: u64) -> Vec<u8> {
    cat(&[STREAM, &gid.to_be_bytes()])
}

pub fn stream(gid: u64, name: &str) -> Vec<u8> {
    let mut k = streams_of(gid);
    push_escaped(&mut k, name);
    k
}

/// `logs/l/{gid}`: every stream of a group, by last event time.
pub fn streams_by_time_of(gid: u64) -> Vec<u8> {
    cat(&[STREAM_BY_TIME, &gid.to_be_bytes()])
}

pub fn stream_by_time(gid: u64, last_ts: i64, sid: u64) -> Vec<u8> {
    cat(&[
        STREAM_BY_TIME,
        &gid.to_be_bytes(),
        &ts_bytes(last_ts),
        &sid.to_be_bytes(),
    ])
}

/// `logs/e/{sid}`: every event of a stream, in time order.
pub fn events_of(sid: u64) -> Vec<u8> {
    cat(&[EVENT, &sid.to_be_bytes()])
}

pub fn event(sid: u64, ts_ms: i64, seq: u64) -> Vec<u8> {
    cat(&[
        EVENT,
        &sid.to_be_bytes(),
        &ts_bytes(ts_ms),
        &seq.to_be_bytes(),
    ])
}

/// `logs/e/{sid}{ts}`: the first possible key of an event at `ts_ms`.
pub fn event_at(sid: u64, ts_ms: i64) -> Vec<u8> {
    cat(&[EVENT, &sid.to_be_bytes(), &ts_bytes(ts_ms)])
}

/// (ts, seq) of an `e` key.
pub fn parse_event(key: &[u8]) -> Option<(i64, u64)> {
    let base = EVENT.len() + 8;
    Some((ts_from_sortable(u64_at(key, base)?), u64_at(key, base + 8)?))
}

/// `logs/x/{gid}`: every event of a group, in time order.
pub fn group_events_of(gid: u64) -> Vec<u8> {
    cat(&[GROUP_EVENT, &gid.to_be_bytes()])
}

pub fn group_event(gid: u64, ts_ms: i64, sid: u64, seq: u64) -> Vec<u8> {
    cat(&[
        GROUP_EVENT,
        &gid.to_be_bytes(),
        &ts_bytes(ts_ms),
        &sid.to_be_bytes(),
        &seq.to_be_bytes(),
    ])
}

/// `logs/x/{gid}{ts}`: the first possible key of a group event at `ts_ms`.
pub fn group_event_at(gid: u64, ts_ms: i64) -> Vec<u8> {
    cat(&[GROUP_EVENT, &gid.to_be_bytes(), &ts_bytes(ts_ms)])
}

/// (ts, sid, seq) of an `x` key.
pub fn parse_group_event(key: &[u8]) -> Option<(i64, u64, u64)> {
    let base = GROUP_EVENT.len() + 8;
    Some((
        ts_from_sortable(u64_at(key, base)?),
        u64_at(key, base + 8)?,
        u64_at(key, base + 16)?,
    ))
}

pub fn gc_group(gid: u64) -> Vec<u8> {
    cat(&[GC_GROUP, &gid.to_be_bytes()])
}

pub fn gc_stream(sid: u64) -> Vec<u8> {
    cat(&[GC_STREAM, &sid.to_be_bytes()])
}

/// The smallest key greater than every key starting with `prefix`.
pub fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xFF {
            end.push(last + 1);
            return end;
        }
    }
    // All 0xFF (never for our prefixes): no upper bound short of the key limit.
    vec![0xFF; 9]
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn escaped_names_keep_order_and_round_trip() {
        let names = ["a", "a\0b", "a/b", "ab", "b"];
        let mut keys: Vec<Vec<u8>> = names.iter().map(|n| stream(7, n)).collect();
        let sorted = keys.clone();
        keys.sort();
        assert_eq!(keys, sorted);
        for n in names {
            let k = stream(7, n);
            let (back, rest) = take_escaped(&k[streams_of(7).len()..]).unwrap();
            assert_eq!(back, n);
            assert!(rest.is_empty());
        }
    }

    #[test]
    fn timestamps_sort_across_zero() {
        assert!(ts_bytes(-5) < ts_bytes(0));
        assert!(ts_bytes(0) < ts_bytes(1_700_000_000_000));
        let k = event(3, -42, 9);
        assert_eq!(parse_event(&k), Some((-42, 9)));
        let g = group_event(1, 1234, 3, 9);
        assert_eq!(parse_group_event(&g), Some((1234, 3, 9)));
    }
}
