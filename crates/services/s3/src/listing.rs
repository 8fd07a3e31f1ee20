//! ListObjects (v1), ListObjectsV2 and ListObjectVersions over the `s3/v/` family.
//!
//! Versions of one key are adjacent in the store, newest first (see [`crate::keys`]), so
//! the current object of a key is the first row of its run. Scans read bounded pages
//! (`PAGE_ROWS`) from one snapshot, skip the older versions of a key in the page, and
//! jump past a whole common prefix with one seek (`keys::prefix_end` of the escaped
//! prefix) instead of reading every key beneath it.
//!
//! Also home of small DTO helpers the other MPU modules share (timestamps, owners,
//! ETags, S3's `encoding-type=url`).

use std::ops::Bound;

use base64::Engine;
use nimbus_store::ReadTxn;
use s3s::dto::*;
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result};

use crate::error::{decode, Error};
use crate::keys;
use crate::meta::{self, ObjectVersion};
use crate::write;
use crate::S3State;

/// Rows per store read while scanning.
const PAGE_ROWS: usize = 1000;
/// S3 never returns more than this many entries in one listing response.
pub(crate) const MAX_LIST_KEYS: usize = 1000;
/// Rows one request may examine before it answers with what it has (truncated), so a
/// bucket full of delete markers cannot make one request unbounded.
const SCAN_BUDGET_ROWS: usize = 200_000;

// ---------------------------------------------------------------------------------
// Shared DTO helpers
// ---------------------------------------------------------------------------------

/// An S3 timestamp from epoch milliseconds.
pub(crate) fn timestamp(ms: i64) -> Timestamp {
    let nanos = i128::from(ms) * 1_000_000;
    time::OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
        .into()
}

/// The owner S3 shows for an account.
pub(crate) fn owner(account_id: &str) -> Owner {
    Owner {
        display_name: Some(meta::display_name(account_id)),
        id: Some(meta::canonical_user_id(account_id)),
    }
}

/// A stored (quoted) ETag as the DTO wants it (the value without quotes).
pub(crate) fn etag(stored: &str) -> ETag {
    ETag::Strong(unquote(stored).to_string())
}

/// `"abc"` -> `abc`; anything else as is.
pub(crate) fn unquote(s: &str) -> &str {
    s.strip_prefix('"')
        .and_then(|x| x.strip_suffix('"'))
        .unwrap_or(s)
}

/// S3's `encoding-type=url`: form-style percent-encoding of UTF-8 that keeps
/// `A-Z a-z 0-9 - _ . / *`, turns a space into `+`, and escapes everything else
/// (botocore decodes it with `unquote_plus`).
pub(crate) fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'/' | b'*' => {
                out.push(char::from(b));
            }
            b' ' => out.push('+'),
            _ => {
                out.push('%');
                out.push_str(&format!("{b:02X}"));
            }
        }
    }
    out
}

/// Validates `encoding-type`; `Ok(true)` when it is `url`.
pub(crate) fn url_encoding(encoding_type: &Option<EncodingType>) -> S3Result<bool> {
    match encoding_type {
        None => Ok(false),
        Some(e) if e.as_str().eq_ignore_ascii_case("url") => Ok(true),
        Some(_) => Err(S3Error::with_message(
            S3ErrorCode::InvalidArgument,
            "Invalid Encoding Method specified in Request",
        )),
    }
}

fn enc(encode: bool, s: String) -> String {
    if encode {
        url_encode(&s)
    } else {
        s
    }
}

/// The account that owns a version (older records may not have it).
pub(crate) fn version_owner<'a>(ver: &'a ObjectVersion, bucket_owner: &'a str) -> &'a str {
    if ver.owner_account.is_empty() {
        bucket_owner
    } else {
        &ver.owner_account
    }
}

fn invalid_argument(msg: &str) -> S3Error {
    S3Error::with_message(S3ErrorCode::InvalidArgument, msg.to_string())
}

/// The bucket, which the caller must own: another account's bucket is AccessDenied. An
/// anonymous request only gets here through a public ACL (the access check), so it
/// passes.
pub(crate) fn owned_bucket(
    txn: &dyn ReadTxn,
    name: &str,
    caller: &Option<crate::Caller>,
) -> S3Result<meta::BucketMeta> {
    let b = write::require_bucket(txn, name)?;
    if let Some(c) = caller {
        if c.account_id != b.account_id {
            let mut e = S3Error::with_message(S3ErrorCode::AccessDenied, "Access Denied");
            e.set_status_code(http::StatusCode::FORBIDDEN);
            return Err(e);
        }
    }
    Ok(b)
}

/// A snapshot for reads, as an S3 error when the store is unavailable.
pub(crate) fn snapshot(state: &S3State) -> S3Result<Box<dyn ReadTxn + Send>> {
    state.db.snapshot().map_err(|e| Error::Store(e).into_s3())
}

// ---------------------------------------------------------------------------------
// The scans
// ---------------------------------------------------------------------------------

/// One listing result: an object (version) or a rolled-up common prefix.
#[derive(Debug, Clone)]
enum Item {
    Object(Box<ObjectVersion>),
    Prefix(String),
}

/// The common prefix `key` rolls up into, if any.
fn common_prefix<'k>(key: &'k str, prefix: &str, delimiter: Option<&str>) -> Option<&'k str> {
    let d = delimiter.filter(|d| !d.is_empty())?;
    let rest = key.get(prefix.len()..)?;
    let i = rest.find(d)?;
    key.get(..prefix.len() + i + d.len())
}

/// Where a scan resumes.
#[derive(Debug, Clone)]
enum After {
    /// From the start of the prefix.
    Start,
    /// After every version of this key.
    Key(String),
    /// After every key that starts with this (a common prefix already returned).
    Prefix(String),
}

impl After {
    /// From a user marker (`marker`, `start-after`, `key-marker`): a marker that is a
    /// common prefix under this request's prefix/delimiter resumes past the whole prefix.
    fn from_marker(marker: &str, prefix: &str, delimiter: Option<&str>) -> After {
        if marker.is_empty() {
            return After::Start;
        }
        if common_prefix(marker, prefix, delimiter) == Some(marker) {
            return After::Prefix(marker.to_string());
        }
        After::Key(marker.to_string())
    }

    fn start_key(&self, bucket: &str) -> Vec<u8> {
        match self {
            After::Start => Vec::new(),
            After::Key(k) => keys::prefix_end(&keys::versions_of_key(bucket, k)),
            After::Prefix(p) => keys::prefix_end(&keys::versions_with_key_prefix(bucket, p)),
        }
    }
}

struct Scan<'a> {
    snap: &'a dyn ReadTxn,
    bucket: &'a str,
    prefix: &'a str,
    delimiter: Option<&'a str>,
}

struct Page {
    items: Vec<Item>,
    truncated: bool,
    /// Set when the scan budget ran out: resume after this position.
    stopped_at: Option<After>,
}

impl Scan<'_> {
    fn bounds(&self, after: &After) -> (Vec<u8>, Vec<u8>) {
        let lo = keys::versions_with_key_prefix(self.bucket, self.prefix);
        let hi = keys::prefix_end(&lo);
        let from = after.start_key(self.bucket);
        (if from > lo { from } else { lo }, hi)
    }

    /// Current objects (newest version of each key that is not a delete marker) and
    /// common prefixes, at most `max` of them, in key order.
    fn current(&self, after: &After, max: usize) -> Result<Page, Error> {
        let base_len = keys::versions_of_bucket(self.bucket).len();
        let (mut start, hi) = self.bounds(after);
        let mut start_incl = true;
        let mut items = Vec::new();
        let mut last_key: Option<String> = None;
        let mut last_pos: Option<After> = None;
        let mut budget = SCAN_BUDGET_ROWS;
        loop {
            let lo_bound = if start_incl {
                Bound::Included(start.as_slice())
            } else {
                Bound::Excluded(start.as_slice())
            };
            let rows =
                self.snap
                    .range(lo_bound, Bound::Excluded(hi.as_slice()), false, PAGE_ROWS)?;
            let full = rows.len() == PAGE_ROWS;
            let mut seek: Option<Vec<u8>> = None;
            let mut last_row: Option<Vec<u8>> = None;
            for (k, v) in rows {
                let Some((key, _seq)) = k.get(base_len..).and_then(keys::parse_version_suffix)
                else {
                    return Err(Error::Corrupt("version key".into()));
                };
                if last_key.as_deref() == Some(key.as_str()) {
                    last_row = Some(k);
                    continue; // an older version of a key already decided
                }
                if budget == 0 {
                    if let Some(pos) = last_pos {
                        return Ok(Page {
                            truncated: true,
                            stopped_at: Some(pos),
                            items,
                        });
                    }
                }
                budget = budget.saturating_sub(1);
                let ver: ObjectVersion = decode("object version", &v)?;
                last_key = Some(key.clone());
                last_pos = Some(After::Key(key.clone()));
                last_row = Some(k);
                if ver.delete_marker {
                    continue;
                }
                if let Some(cp) = common_prefix(&key, self.prefix, self.delimiter) {
                    if items.len() >= max {
                        return Ok(Page {
                            items,
                            truncated: true,
                            stopped_at: None,
                        });
                    }
                    let cp = cp.to_string();
                    seek = Some(keys::prefix_end(&keys::versions_with_key_prefix(
                        self.bucket,
                        &cp,
                    )));
                    last_pos = Some(After::Prefix(cp.clone()));
                    items.push(Item::Prefix(cp));
                    break;
                }
                if items.len() >= max {
                    return Ok(Page {
                        items,
                        truncated: true,
                        stopped_at: None,
                    });
                }
                items.push(Item::Object(Box::new(ver)));
            }
            if let Some(s) = seek {
                start = s;
                start_incl = true;
                continue;
            }
            match last_row {
                Some(r) if full => {
                    start = r;
                    start_incl = false;
                }
                _ => {
                    return Ok(Page {
                        items,
                        truncated: false,
                        stopped_at: None,
                    })
                }
            }
        }
    }

    /// Every version and delete marker (newest first per key) and common prefixes, at
    /// most `max` entries, starting after `after` or after one version of a key.
    fn versions(
        &self,
        after: &After,
        after_version: Option<(String, u64)>,
        max: usize,
    ) -> Result<(Vec<(Item, bool)>, bool), Error> {
        let base_len = keys::versions_of_bucket(self.bucket).len();
        let (mut start, hi) = self.bounds(after);
        let mut start_incl = true;
        if let Some((k, seq)) = &after_version {
            let v = keys::version(self.bucket, k, *seq);
            if v >= start {
                start = v;
                start_incl = false;
            }
        }
        // The first key seen may continue mid-key: whether its first row is the latest
        // version needs a look at the key's newest row.
        let mut first_key_checked = after_version.is_none();
        let mut items: Vec<(Item, bool)> = Vec::new();
        let mut last_key: Option<String> = None;
        let mut budget = SCAN_BUDGET_ROWS;
        loop {
            let lo_bound = if start_incl {
                Bound::Included(start.as_slice())
            } else {
                Bound::Excluded(start.as_slice())
            };
            let rows =
                self.snap
                    .range(lo_bound, Bound::Excluded(hi.as_slice()), false, PAGE_ROWS)?;
            let full = rows.len() == PAGE_ROWS;
            let mut seek: Option<Vec<u8>> = None;
            let mut last_row: Option<Vec<u8>> = None;
            for (k, v) in rows {
                let Some((key, seq)) = k.get(base_len..).and_then(keys::parse_version_suffix)
                else {
                    return Err(Error::Corrupt("version key".into()));
                };
                budget = budget.saturating_sub(1);
                if budget == 0 && !items.is_empty() {
                    return Ok((items, true));
                }
                if let Some(cp) = common_prefix(&key, self.prefix, self.delimiter) {
                    if items.len() >= max {
                        return Ok((items, true));
                    }
                    let cp = cp.to_string();
                    seek = Some(keys::prefix_end(&keys::versions_with_key_prefix(
                        self.bucket,
                        &cp,
                    )));
                    items.push((Item::Prefix(cp), false));
                    break;
                }
                if items.len() >= max {
                    return Ok((items, true));
                }
                let is_latest = if last_key.as_deref() == Some(key.as_str()) {
                    false
                } else if !first_key_checked {
                    write::latest_version(self.snap, self.bucket, &key)?
                        .is_some_and(|l| l.seq == seq)
                } else {
                    true
                };
                first_key_checked = true;
                last_key = Some(key);
                let ver: ObjectVersion = decode("object version", &v)?;
                items.push((Item::Object(Box::new(ver)), is_latest));
                last_row = Some(k);
            }
            if let Some(s) = seek {
                start = s;
                start_incl = true;
                continue;
            }
            match last_row {
                Some(r) if full => {
                    start = r;
                    start_incl = false;
                }
                _ => return Ok((items, false)),
            }
        }
    }
}

fn max_keys(v: Option<i32>, negative_msg: &str) -> S3Result<usize> {
    match v {
        None => Ok(MAX_LIST_KEYS),
        Some(n) if n < 0 => Err(invalid_argument(negative_msg)),
        Some(n) => Ok(usize::try_from(n)
            .unwrap_or(MAX_LIST_KEYS)
            .min(MAX_LIST_KEYS)),
    }
}

fn object_dto(ver: &ObjectVersion, bucket_owner: &str, with_owner: bool, encode: bool) -> Object {
    Object {
        checksum_algorithm: ver
            .checksum
            .as_ref()
            .map(|c| vec![ChecksumAlgorithm::from(c.algorithm.clone())]),
        checksum_type: ver
            .checksum
            .as_ref()
            .map(|c| ChecksumType::from(c.kind.clone())),
        e_tag: Some(etag(&ver.etag)),
        key: Some(enc(encode, ver.key.clone())),
        last_modified: Some(timestamp(ver.last_modified_ms)),
        owner: with_owner.then(|| owner(version_owner(ver, bucket_owner))),
        restore_status: None,
        size: Some(i64::try_from(ver.size).unwrap_or(i64::MAX)),
        storage_class: Some(ObjectStorageClass::from(
            ver.storage_class
                .clone()
                .unwrap_or_else(|| "STANDARD".to_string()),
        )),
    }
}

/// Token format: base64url of `K<key>` (resume after the key) or `P<prefix>` (resume
/// past a common prefix). Opaque to clients, as S3's.
fn encode_token(after: &After) -> Option<String> {
    let raw = match after {
        After::Start => return None,
        After::Key(k) => format!("K{k}"),
        After::Prefix(p) => format!("P{p}"),
    };
    Some(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw))
}

fn decode_token(token: &str) -> S3Result<After> {
    let bad = || invalid_argument("The continuation token provided is incorrect");
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .map_err(|_| bad())?;
    let raw = String::from_utf8(raw).map_err(|_| bad())?;
    match raw.split_at_checked(1) {
        Some(("K", k)) => Ok(After::Key(k.to_string())),
        Some(("P", p)) => Ok(After::Prefix(p.to_string())),
        _ => Err(bad()),
    }
}

fn position_after(item: &Item) -> After {
    match item {
        Item::Object(v) => After::Key(v.key.clone()),
        Item::Prefix(p) => After::Prefix(p.clone()),
    }
}

struct Listed {
    contents: Vec<Object>,
    prefixes: Vec<CommonPrefix>,
    truncated: bool,
    next: Option<After>,
    /// Text of the last item (key or prefix), for v1's NextMarker.
    last: Option<String>,
}

fn split_items(page: Page, bucket_owner: &str, with_owner: bool, encode: bool) -> Listed {
    let next = if page.truncated {
        page.stopped_at
            .clone()
            .or_else(|| page.items.last().map(position_after))
    } else {
        None
    };
    let last = page.items.last().map(|i| match i {
        Item::Object(v) => v.key.clone(),
        Item::Prefix(p) => p.clone(),
    });
    let mut contents = Vec::new();
    let mut prefixes = Vec::new();
    for item in page.items {
        match item {
            Item::Object(v) => contents.push(object_dto(&v, bucket_owner, with_owner, encode)),
            Item::Prefix(p) => prefixes.push(CommonPrefix {
                prefix: Some(enc(encode, p)),
            }),
        }
    }
    Listed {
        contents,
        prefixes,
        truncated: page.truncated,
        next,
        last,
    }
}

// ---------------------------------------------------------------------------------
// The operations
// ---------------------------------------------------------------------------------

pub async fn list_objects(
    state: &S3State,
    req: S3Request<ListObjectsInput>,
) -> S3Result<S3Response<ListObjectsOutput>> {
    let caller = state.caller(&req);
    let input = req.input;
    let encode = url_encoding(&input.encoding_type)?;
    let max = max_keys(
        input.max_keys,
        "Argument maxKeys must be an integer between 0 and 2147483647",
    )?;
    let snap = snapshot(state)?;
    let bucket = owned_bucket(snap.as_ref(), &input.bucket, &caller)?;
    let prefix = input.prefix.clone().unwrap_or_default();
    let delimiter = input.delimiter.clone().filter(|d| !d.is_empty());
    let marker = input.marker.clone().unwrap_or_default();
    let scan = Scan {
        snap: snap.as_ref(),
        bucket: &bucket.name,
        prefix: &prefix,
        delimiter: delimiter.as_deref(),
    };
    let after = After::from_marker(&marker, &prefix, delimiter.as_deref());
    let page = if max == 0 {
        Page {
            items: vec![],
            truncated: false,
            stopped_at: None,
        }
    } else {
        scan.current(&after, max)?
    };
    let budget_stop = page.stopped_at.is_some();
    let listed = split_items(page, &bucket.account_id, true, encode);
    // S3 sends NextMarker only with a delimiter (without one, clients resume from the
    // last key); a scan that stopped on its budget must say where it stopped.
    let next_marker = if listed.truncated && (delimiter.is_some() || budget_stop) {
        match &listed.next {
            Some(After::Key(k)) | Some(After::Prefix(k)) => Some(enc(encode, k.clone())),
            _ => listed.last.clone().map(|l| enc(encode, l)),
        }
    } else {
        None
    };
    let output = ListObjectsOutput {
        name: Some(bucket.name.clone()),
        prefix: Some(prefix),
        marker: Some(enc(encode, marker)),
        max_keys: Some(i32::try_from(max).unwrap_or(1000)),
        is_truncated: Some(listed.truncated),
        contents: (!listed.contents.is_empty()).then_some(listed.contents),
        common_prefixes: (!listed.prefixes.is_empty()).then_some(listed.prefixes),
        delimiter: delimiter.map(|d| enc(encode, d)),
        next_marker,
        encoding_type: encode.then(|| EncodingType::from("url".to_string())),
        request_charged: None,
    };
    Ok(S3Response::new(output))
}

pub async fn list_objects_v2(
    state: &S3State,
    req: S3Request<ListObjectsV2Input>,
) -> S3Result<S3Response<ListObjectsV2Output>> {
    let caller = state.caller(&req);
    let input = req.input;
    let encode = url_encoding(&input.encoding_type)?;
    let max = max_keys(
        input.max_keys,
        "Argument maxKeys must be an integer between 0 and 2147483647",
    )?;
    let after_token = match &input.continuation_token {
        Some(t) => Some(decode_token(t)?),
        None => None,
    };
    let snap = snapshot(state)?;
    let bucket = owned_bucket(snap.as_ref(), &input.bucket, &caller)?;
    let prefix = input.prefix.clone().unwrap_or_default();
    let delimiter = input.delimiter.clone().filter(|d| !d.is_empty());
    let start_after = input.start_after.clone().filter(|s| !s.is_empty());
    let after = match (&after_token, &start_after) {
        (Some(a), _) => a.clone(),
        (None, Some(s)) => After::Key(s.clone()),
        (None, None) => After::Start,
    };
    let scan = Scan {
        snap: snap.as_ref(),
        bucket: &bucket.name,
        prefix: &prefix,
        delimiter: delimiter.as_deref(),
    };
    let page = if max == 0 {
        Page {
            items: vec![],
            truncated: false,
            stopped_at: None,
        }
    } else {
        scan.current(&after, max)?
    };
    let listed = split_items(
        page,
        &bucket.account_id,
        input.fetch_owner.unwrap_or(false),
        encode,
    );
    let key_count = listed.contents.len() + listed.prefixes.len();
    let output = ListObjectsV2Output {
        name: Some(bucket.name.clone()),
        prefix: Some(enc(encode, prefix)),
        max_keys: Some(i32::try_from(max).unwrap_or(1000)),
        key_count: Some(i32::try_from(key_count).unwrap_or(i32::MAX)),
        continuation_token: input.continuation_token.clone(),
        is_truncated: Some(listed.truncated),
        next_continuation_token: listed.next.as_ref().and_then(encode_token),
        contents: (!listed.contents.is_empty()).then_some(listed.contents),
        common_prefixes: (!listed.prefixes.is_empty()).then_some(listed.prefixes),
        delimiter: delimiter.map(|d| enc(encode, d)),
        encoding_type: encode.then(|| EncodingType::from("url".to_string())),
        start_after: start_after.map(|s| enc(encode, s)),
        request_charged: None,
    };
    Ok(S3Response::new(output))
}

pub async fn list_object_versions(
    state: &S3State,
    req: S3Request<ListObjectVersionsInput>,
) -> S3Result<S3Response<ListObjectVersionsOutput>> {
    let caller = state.caller(&req);
    let input = req.input;
    let encode = url_encoding(&input.encoding_type)?;
    let max = max_keys(input.max_keys, "max-keys cannot be negative")?;
    let key_marker = input.key_marker.clone().filter(|k| !k.is_empty());
    let version_marker = input.version_id_marker.clone().filter(|v| !v.is_empty());
    if version_marker.is_some() && key_marker.is_none() {
        return Err(invalid_argument(
            "A version-id marker cannot be specified without a key marker.",
        ));
    }
    let snap = snapshot(state)?;
    let bucket = owned_bucket(snap.as_ref(), &input.bucket, &caller)?;
    let prefix = input.prefix.clone().unwrap_or_default();
    let delimiter = input.delimiter.clone().filter(|d| !d.is_empty());
    let mut after = match &key_marker {
        Some(k) => After::from_marker(k, &prefix, delimiter.as_deref()),
        None => After::Start,
    };
    let mut after_version = None;
    if let (Some(k), Some(vm)) = (&key_marker, &version_marker) {
        let seq = if vm == "null" {
            write::get_version(snap.as_ref(), &bucket.name, k, "null")?.map(|v| v.seq)
        } else {
            meta::seq_of_version_id(vm)
        };
        match seq {
            Some(s) => {
                // Resume inside the key: its versions older than the marker follow.
                after = After::Start;
                after_version = Some((k.clone(), s));
            }
            None => {
                return Err(invalid_argument("Invalid version id specified"));
            }
        }
    }
    let scan = Scan {
        snap: snap.as_ref(),
        bucket: &bucket.name,
        prefix: &prefix,
        delimiter: delimiter.as_deref(),
    };
    let (items, truncated) = if max == 0 {
        (vec![], false)
    } else {
        scan.versions(&after, after_version, max)?
    };
    let (mut next_key, mut next_version) = (None, None);
    if truncated {
        match items.last() {
            Some((Item::Object(v), _)) => {
                next_key = Some(enc(encode, v.key.clone()));
                next_version = Some(v.version_id.clone());
            }
            Some((Item::Prefix(p), _)) => next_key = Some(enc(encode, p.clone())),
            None => {}
        }
    }
    let mut versions = Vec::new();
    let mut markers = Vec::new();
    let mut prefixes = Vec::new();
    for (item, is_latest) in items {
        match item {
            Item::Prefix(p) => prefixes.push(CommonPrefix {
                prefix: Some(enc(encode, p)),
            }),
            Item::Object(v) if v.delete_marker => markers.push(DeleteMarkerEntry {
                is_latest: Some(is_latest),
                key: Some(enc(encode, v.key.clone())),
                last_modified: Some(timestamp(v.last_modified_ms)),
                owner: Some(owner(version_owner(&v, &bucket.account_id))),
                version_id: Some(v.version_id.clone()),
            }),
            Item::Object(v) => versions.push(s3s::dto::ObjectVersion {
                checksum_algorithm: v
                    .checksum
                    .as_ref()
                    .map(|c| vec![ChecksumAlgorithm::from(c.algorithm.clone())]),
                checksum_type: v
                    .checksum
                    .as_ref()
                    .map(|c| ChecksumType::from(c.kind.clone())),
                e_tag: Some(etag(&v.etag)),
                is_latest: Some(is_latest),
                key: Some(enc(encode, v.key.clone())),
                last_modified: Some(timestamp(v.last_modified_ms)),
                owner: Some(owner(version_owner(&v, &bucket.account_id))),
                restore_status: None,
                size: Some(i64::try_from(v.size).unwrap_or(i64::MAX)),
                storage_class: Some(ObjectVersionStorageClass::from(
                    v.storage_class
                        .clone()
                        .unwrap_or_else(|| "STANDARD".to_string()),
                )),
                version_id: Some(v.version_id.clone()),
            }),
        }
    }
    let output = ListObjectVersionsOutput {
        common_prefixes: (!prefixes.is_empty()).then_some(prefixes),
        delete_markers: (!markers.is_empty()).then_some(markers),
        delimiter: delimiter.map(|d| enc(encode, d)),
        encoding_type: encode.then(|| EncodingType::from("url".to_string())),
        is_truncated: Some(truncated),
        key_marker: Some(enc(encode, key_marker.unwrap_or_default())),
        max_keys: Some(i32::try_from(max).unwrap_or(1000)),
        name: Some(bucket.name.clone()),
        next_key_marker: next_key,
        next_version_id_marker: next_version,
        prefix: Some(enc(encode, prefix)),
        request_charged: None,
        version_id_marker: Some(version_marker.unwrap_or_default()),
        versions: (!versions.is_empty()).then_some(versions),
    };
    Ok(S3Response::new(output))
}

/// Test helpers the MPU modules share: a state, buckets, versions, requests.
#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) mod testutil {
    use std::sync::Arc;

    use s3s::S3Request;

    use crate::error::{encode, Error};
    use crate::meta::{BucketMeta, ObjectVersion};
    use crate::{keys, write, S3State, UnverifiedRoot};

    pub const ACCOUNT: &str = "000000000000";

    pub fn state() -> Arc<S3State> {
        S3State::for_tests(Arc::new(nimbus_core::ManualClock::new(1_700_000_000_000)))
    }

    pub fn req<T>(input: T) -> S3Request<T> {
        let mut extensions = http::Extensions::new();
        extensions.insert(UnverifiedRoot);
        S3Request {
            input,
            method: http::Method::GET,
            uri: http::Uri::from_static("/"),
            headers: http::HeaderMap::new(),
            extensions,
            credentials: None,
            region: None,
            service: None,
            trailing_headers: None,
        }
    }

    pub async fn bucket(
        state: &S3State,
        name: &str,
        versioning: Option<&str>,
        ownership: Option<&str>,
    ) {
        let meta = BucketMeta {
            name: name.into(),
            account_id: ACCOUNT.into(),
            region: "us-east-1".into(),
            created_ms: 0,
            versioning: versioning.map(str::to_string),
            mfa_delete: None,
            object_lock_enabled: false,
            ownership: ownership.map(str::to_string),
            acl: None,
            tags: vec![],
        };
        state
            .db
            .write(move |t| -> Result<(), Error> {
                t.put(&keys::bucket(&meta.name), &encode(&meta))?;
                Ok(())
            })
            .await
            .unwrap();
    }

    /// Writes a body-less version (or a delete marker) of `key`.
    pub async fn put(
        state: &S3State,
        bucket: &str,
        key: &str,
        delete_marker: bool,
    ) -> ObjectVersion {
        let (b, k) = (bucket.to_string(), key.to_string());
        state
            .db
            .write(move |t| -> Result<ObjectVersion, Error> {
                let bm = write::require_bucket(t, &b)?;
                let mut v = ObjectVersion {
                    key: k.clone(),
                    delete_marker,
                    etag: if delete_marker {
                        String::new()
                    } else {
                        "\"d41d8cd98f00b204e9800998ecf8427e\"".into()
                    },
                    owner_account: ACCOUNT.into(),
                    last_modified_ms: 1_700_000_000_000,
                    ..Default::default()
                };
                write::put_version(t, &bm, &mut v)?;
                Ok(v)
            })
            .await
            .unwrap()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::testutil::*;
    use super::*;

    async fn v2(
        state: &S3State,
        f: impl FnOnce(&mut ListObjectsV2Input),
    ) -> S3Result<ListObjectsV2Output> {
        let mut input = ListObjectsV2Input {
            bucket: "bk".into(),
            ..Default::default()
        };
        f(&mut input);
        Ok(list_objects_v2(state, req(input)).await?.output)
    }

    fn keys_of(o: &ListObjectsV2Output) -> Vec<String> {
        o.contents
            .iter()
            .flatten()
            .filter_map(|c| c.key.clone())
            .collect()
    }

    fn prefixes_of(o: &Option<CommonPrefixList>) -> Vec<String> {
        o.iter()
            .flatten()
            .filter_map(|c| c.prefix.clone())
            .collect()
    }

    #[tokio::test]
    async fn v2_delimiter_prefixes_and_pagination() {
        let st = state();
        bucket(&st, "bk", None, None).await;
        for k in ["a/1", "a/2", "b", "c/x/y", "c/z", "d"] {
            put(&st, "bk", k, false).await;
        }
        let o = v2(&st, |i| i.delimiter = Some("/".into())).await.unwrap();
        assert_eq!(keys_of(&o), vec!["b", "d"]);
        assert_eq!(prefixes_of(&o.common_prefixes), vec!["a/", "c/"]);
        assert_eq!(o.key_count, Some(4));
        assert_eq!(o.is_truncated, Some(false));

        let o = v2(&st, |i| {
            i.prefix = Some("c/".into());
            i.delimiter = Some("/".into());
        })
        .await
        .unwrap();
        assert_eq!(keys_of(&o), vec!["c/z"]);
        assert_eq!(prefixes_of(&o.common_prefixes), vec!["c/x/"]);

        // Pages of two, resumed with the continuation token, see everything once.
        let mut seen = vec![];
        let mut token = None;
        for _ in 0..10 {
            let t = token.clone();
            let o = v2(&st, |i| {
                i.delimiter = Some("/".into());
                i.max_keys = Some(2);
                i.continuation_token = t;
            })
            .await
            .unwrap();
            seen.extend(keys_of(&o));
            seen.extend(prefixes_of(&o.common_prefixes));
            if o.is_truncated != Some(true) {
                assert!(o.next_continuation_token.is_none());
                break;
            }
            token = o.next_continuation_token.clone();
            assert!(token.is_some());
        }
        seen.sort();
        assert_eq!(seen, vec!["a/", "b", "c/", "d"]);

        let o = v2(&st, |i| i.start_after = Some("b".into())).await.unwrap();
        assert_eq!(keys_of(&o), vec!["c/x/y", "c/z", "d"]);
        assert_eq!(o.start_after.as_deref(), Some("b"));
    }

    #[tokio::test]
    async fn delete_markers_hide_keys_and_versions_show_everything() {
        let st = state();
        bucket(&st, "bk", Some("Enabled"), None).await;
        let a1 = put(&st, "bk", "a", false).await;
        let a2 = put(&st, "bk", "a", false).await;
        put(&st, "bk", "b", false).await;
        let bm = put(&st, "bk", "b", true).await;
        put(&st, "bk", "dir/x", true).await;
        let o = v2(&st, |i| i.delimiter = Some("/".into())).await.unwrap();
        assert_eq!(keys_of(&o), vec!["a"]);
        assert!(
            o.common_prefixes.is_none(),
            "a prefix of only delete markers is not listed"
        );

        let out = list_object_versions(
            &st,
            req(ListObjectVersionsInput {
                bucket: "bk".into(),
                ..Default::default()
            }),
        )
        .await
        .unwrap()
        .output;
        let versions = out.versions.unwrap();
        let ids: Vec<(String, String, bool)> = versions
            .iter()
            .map(|v| {
                (
                    v.key.clone().unwrap(),
                    v.version_id.clone().unwrap(),
                    v.is_latest.unwrap(),
                )
            })
            .collect();
        assert_eq!(ids[0], ("a".into(), a2.version_id.clone(), true));
        assert_eq!(ids[1], ("a".into(), a1.version_id.clone(), false));
        assert!(!ids[2].2, "b's object is not latest under its marker");
        let markers = out.delete_markers.unwrap();
        assert_eq!(markers.len(), 2);
        assert_eq!(
            markers[0].version_id.as_deref(),
            Some(bm.version_id.as_str())
        );
        assert_eq!(markers[0].is_latest, Some(true));

        // Paging one entry at a time with key/version markers walks the same list.
        let mut walked = vec![];
        let (mut km, mut vm) = (None, None);
        for _ in 0..20 {
            let out = list_object_versions(
                &st,
                req(ListObjectVersionsInput {
                    bucket: "bk".into(),
                    max_keys: Some(1),
                    key_marker: km.clone(),
                    version_id_marker: vm.clone(),
                    ..Default::default()
                }),
            )
            .await
            .unwrap()
            .output;
            for v in out.versions.iter().flatten() {
                walked.push((v.version_id.clone().unwrap(), v.is_latest.unwrap()));
            }
            for m in out.delete_markers.iter().flatten() {
                walked.push((m.version_id.clone().unwrap(), m.is_latest.unwrap()));
            }
            if out.is_truncated != Some(true) {
                break;
            }
            km = out.next_key_marker.clone();
            vm = out.next_version_id_marker.clone();
        }
        assert_eq!(walked.len(), 5);
        assert_eq!(walked[1], (a1.version_id.clone(), false));
        assert_eq!(walked[2], (bm.version_id.clone(), true));

        let e = list_object_versions(
            &st,
            req(ListObjectVersionsInput {
                bucket: "bk".into(),
                version_id_marker: Some("x".into()),
                ..Default::default()
            }),
        )
        .await
        .unwrap_err();
        assert_eq!(*e.code(), S3ErrorCode::InvalidArgument);
    }

    #[tokio::test]
    async fn url_encoding_and_errors() {
        let st = state();
        bucket(&st, "bk", None, None).await;
        put(&st, "bk", "a b+c(1)/é.txt", false).await;
        let o = v2(&st, |i| {
            i.encoding_type = Some(EncodingType::from("url".to_string()))
        })
        .await
        .unwrap();
        assert_eq!(keys_of(&o), vec!["a+b%2Bc%281%29/%C3%A9.txt"]);
        assert_eq!(url_encode("x~y z"), "x%7Ey+z");

        let e = v2(&st, |i| i.continuation_token = Some("!!".into()))
            .await
            .unwrap_err();
        assert_eq!(*e.code(), S3ErrorCode::InvalidArgument);
        assert_eq!(
            e.message(),
            Some("The continuation token provided is incorrect")
        );
        let e = v2(&st, |i| i.max_keys = Some(-1)).await.unwrap_err();
        assert_eq!(*e.code(), S3ErrorCode::InvalidArgument);
        let e = v2(&st, |i| i.bucket = "nope".into()).await.unwrap_err();
        assert_eq!(*e.code(), S3ErrorCode::NoSuchBucket);
        let e = v2(&st, |i| {
            i.encoding_type = Some(EncodingType::from("xml".to_string()))
        })
        .await
        .unwrap_err();
        assert_eq!(
            e.message(),
            Some("Invalid Encoding Method specified in Request")
        );
    }

    #[tokio::test]
    async fn v1_next_marker_only_with_delimiter() {
        let st = state();
        bucket(&st, "bk", None, None).await;
        for k in ["a", "b/1", "b/2", "c"] {
            put(&st, "bk", k, false).await;
        }
        let list = |max: i32, delim: Option<&str>, marker: Option<&str>| {
            let input = ListObjectsInput {
                bucket: "bk".into(),
                max_keys: Some(max),
                delimiter: delim.map(str::to_string),
                marker: marker.map(str::to_string),
                ..Default::default()
            };
            let st = st.clone();
            async move { list_objects(&st, req(input)).await.unwrap().output }
        };
        let o = list(1, None, None).await;
        assert_eq!(o.is_truncated, Some(true));
        assert!(o.next_marker.is_none());
        assert!(
            o.contents.unwrap()[0].owner.is_some(),
            "v1 always shows the owner"
        );
        let o = list(2, Some("/"), None).await;
        assert_eq!(o.next_marker.as_deref(), Some("b/"));
        let o = list(2, Some("/"), Some("b/")).await;
        let keys: Vec<_> = o
            .contents
            .unwrap()
            .into_iter()
            .filter_map(|c| c.key)
            .collect();
        assert_eq!(keys, vec!["c"]);
        assert_eq!(o.is_truncated, Some(false));
    }

    #[tokio::test]
    async fn scans_cross_store_pages_and_skip_old_versions() {
        let st = state();
        bucket(&st, "bk", Some("Enabled"), None).await;
        // One key with more versions than a store page, then many keys.
        let st2 = st.clone();
        st.db
            .write(move |t| -> Result<(), Error> {
                let bm = write::require_bucket(t, "bk")?;
                for _ in 0..(PAGE_ROWS + 50) {
                    let mut v = ObjectVersion {
                        key: "a".into(),
                        ..Default::default()
                    };
                    write::put_version(t, &bm, &mut v)?;
                }
                for i in 0..2500 {
                    let mut v = ObjectVersion {
                        key: format!("k{i:05}"),
                        ..Default::default()
                    };
                    write::put_version(t, &bm, &mut v)?;
                }
                Ok(())
            })
            .await
            .unwrap();
        let o = v2(&st2, |_| {}).await.unwrap();
        assert_eq!(o.key_count, Some(1000));
        assert_eq!(o.is_truncated, Some(true));
        let keys = keys_of(&o);
        assert_eq!(keys[0], "a");
        assert_eq!(keys[1], "k00000");
        let mut total = keys.len();
        let mut token = o.next_continuation_token;
        while let Some(t) = token {
            let o = v2(&st2, |i| i.continuation_token = Some(t)).await.unwrap();
            total += keys_of(&o).len();
            token = o.next_continuation_token;
        }
        assert_eq!(total, 2501);
    }
}
