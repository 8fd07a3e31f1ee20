//! Multipart uploads.
//!
//! An upload is a record under `s3/u/{bucket}\0{key*}{upload_id}` holding the object's
//! template (metadata, tags, ACL, checksum algorithm). Each part is streamed through
//! [`body::store_body`] (inline in the store when small, otherwise a fsynced blob) and
//! recorded under `s3/p/{upload_id}/{n:05}` in one transaction with its inline bytes and
//! blob reference; re-uploading a part number discards the old part's body in that same
//! transaction. CompleteMultipartUpload validates and builds the object in ONE
//! transaction: the object's blobs are the parts' blobs in order (no copy), parts not
//! used are discarded, the upload and part records are deleted, and
//! [`write::put_version`] makes the version visible.

use std::ops::Bound;

use md5::{Digest, Md5};
use nimbus_store::{ReadTxn, WriteTxn};
use s3s::dto::*;
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result};

use crate::body::{self, Expect, StoredBody};
use crate::error::{decode, encode, Error};
use crate::keys;
use crate::listing::{
    etag, owned_bucket, owner, snapshot, timestamp, unquote, url_encode, url_encoding,
};
use crate::meta::{self, BlobRef, ObjectPart, ObjectVersion, Part, Upload};
use crate::notify;
use crate::object_config::{acl_from_request, parse_tagging_header, refuse_blocked_public_acl};
use crate::write;
use crate::S3State;

/// Largest part (and largest UploadPartCopy source range): 5 GiB.
pub const MAX_PART_BYTES: u64 = 5 * 1024 * 1024 * 1024;
/// Smallest part except the last: 5 MiB.
pub const MIN_PART_BYTES: u64 = 5 * 1024 * 1024;
/// Part numbers are 1..=10000.
pub const MAX_PART_NUMBER: u32 = 10_000;
/// Largest object: 5 TiB.
pub const MAX_OBJECT_BYTES: u64 = 5 * 1024 * 1024 * 1024 * 1024;
/// Longest upload id we accept (ours are 44 characters).
const MAX_UPLOAD_ID_BYTES: usize = 128;
/// S3's object key limit.
const MAX_KEY_BYTES: usize = 1024;
/// Rows per store read while paging parts or uploads.
const PAGE_ROWS: usize = 1000;
/// Most entries in one ListParts / ListMultipartUploads answer.
const MAX_LIST: usize = 1000;

fn err(code: S3ErrorCode, msg: &str) -> S3Error {
    S3Error::with_message(code, msg.to_string())
}

fn no_such_upload() -> S3Error {
    err(
        S3ErrorCode::NoSuchUpload,
        "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.",
    )
}

fn invalid_part() -> S3Error {
    err(
        S3ErrorCode::InvalidPart,
        "One or more of the specified parts could not be found.  The part may not have been uploaded, or the specified entity tag may not match the part's entity tag.",
    )
}

fn malformed_xml() -> S3Error {
    err(
        S3ErrorCode::MalformedXML,
        "The XML you provided was not well-formed or did not validate against our published schema",
    )
}

fn check_part_number(n: i32) -> S3Result<u32> {
    match u32::try_from(n) {
        Ok(p) if (1..=MAX_PART_NUMBER).contains(&p) => Ok(p),
        _ => Err(err(
            S3ErrorCode::InvalidArgument,
            "Part number must be an integer between 1 and 10000, inclusive",
        )),
    }
}

/// A fresh upload id: time-ordered (uploads of one key list in initiation order) and
/// unguessable, URL-safe.
fn new_upload_id(now_ms: i64) -> String {
    let ms = u64::try_from(now_ms).unwrap_or(0);
    format!("{ms:012x}{}", uuid::Uuid::new_v4().simple())
}

fn load_upload(
    txn: &dyn ReadTxn,
    bucket: &str,
    key: &str,
    upload_id: &str,
) -> Result<Upload, Error> {
    // Ids we hand out are 44 URL-safe characters; anything else names no upload (and
    // must not reach the store as an oversized key).
    if upload_id.is_empty()
        || upload_id.len() > MAX_UPLOAD_ID_BYTES
        || key.len() > MAX_KEY_BYTES
        || !upload_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(Error::S3(no_such_upload()));
    }
    match txn.get(&keys::upload(bucket, key, upload_id))? {
        Some(v) => decode("upload", &v),
        None => Err(Error::S3(no_such_upload())),
    }
}

fn load_part(txn: &dyn ReadTxn, upload_id: &str, n: u32) -> Result<Option<Part>, Error> {
    match txn.get(&keys::part(upload_id, n))? {
        Some(v) => Ok(Some(decode("part", &v)?)),
        None => Ok(None),
    }
}

/// Every part record of an upload, in part-number order, paged.
fn all_parts(txn: &dyn ReadTxn, upload_id: &str) -> Result<Vec<Part>, Error> {
    let lo = keys::parts_of_upload(upload_id);
    let hi = keys::prefix_end(&lo);
    let mut out = Vec::new();
    let mut start = lo;
    let mut incl = true;
    // At most 10,000 parts: 11 pages bound the loop.
    for _ in 0..=(MAX_PART_NUMBER as usize / PAGE_ROWS + 1) {
        let b = if incl {
            Bound::Included(start.as_slice())
        } else {
            Bound::Excluded(start.as_slice())
        };
        let rows = txn.range(b, Bound::Excluded(hi.as_slice()), false, PAGE_ROWS)?;
        let full = rows.len() == PAGE_ROWS;
        let mut last = None;
        for (k, v) in rows {
            out.push(decode::<Part>("part", &v)?);
            last = Some(k);
        }
        match last {
            Some(k) if full => {
                start = k;
                incl = false;
            }
            _ => break,
        }
    }
    Ok(out)
}

/// The trailing-header reader `store_body` calls once the body is read.
fn trailers_fn<T>(req: &S3Request<T>) -> impl Fn() -> Option<http::HeaderMap> + Send + Sync {
    let th = req.trailing_headers.clone();
    let ut = req.extensions.get::<crate::UnverifiedTrailers>().cloned();
    move || {
        if let Some(h) = th.as_ref().and_then(|t| t.take()) {
            return Some(h);
        }
        ut.as_ref().and_then(|u| u.0.lock().take())
    }
}

/// The checksum value sent in a header, if any: (algorithm, base64).
fn sent_checksum(
    crc32: &Option<String>,
    crc32c: &Option<String>,
    crc64nvme: &Option<String>,
    sha1: &Option<String>,
    sha256: &Option<String>,
) -> Option<(String, String)> {
    [
        ("CRC32", crc32),
        ("CRC32C", crc32c),
        ("CRC64NVME", crc64nvme),
        ("SHA1", sha1),
        ("SHA256", sha256),
    ]
    .into_iter()
    .find_map(|(a, v)| v.clone().map(|v| (a.to_string(), v)))
}

/// Writes `body` as part `n` of the upload (replacing an earlier part `n`), then makes
/// its blob durable under its final name. Returns the part.
async fn commit_part(
    state: &S3State,
    bucket: &str,
    key: &str,
    upload_id: &str,
    n: u32,
    stored: StoredBody,
) -> S3Result<Part> {
    let part = Part {
        part_number: n,
        size: stored.size,
        etag: stored.etag(),
        last_modified_ms: state.clock.now_millis(),
        blob: stored.blob.clone(),
        checksum: stored.checksum.clone(),
    };
    let (b, k, u, p, s) = (
        bucket.to_string(),
        key.to_string(),
        upload_id.to_string(),
        part.clone(),
        stored.clone(),
    );
    let res = state
        .db
        .write(move |txn| -> Result<(), Error> {
            write::require_bucket(txn, &b)?;
            load_upload(txn, &b, &k, &u)?;
            if let Some(old) = load_part(txn, &u, n)? {
                if old.blob.id != p.blob.id {
                    write::discard_blobs(txn, std::slice::from_ref(&old.blob))?;
                }
            }
            s.write_inline(txn)?;
            write::reference_blobs(txn, std::slice::from_ref(&p.blob))?;
            txn.put(&keys::part(&u, n), &encode(&p))?;
            Ok(())
        })
        .await;
    match res {
        Ok(()) => {
            stored.publish(state).await;
            Ok(part)
        }
        Err(e) => {
            stored.abandon(state).await;
            Err(e.into_s3())
        }
    }
}

fn set_checksum_fields(
    c: &Option<meta::Checksum>,
    crc32: &mut Option<String>,
    crc32c: &mut Option<String>,
    crc64nvme: &mut Option<String>,
    sha1: &mut Option<String>,
    sha256: &mut Option<String>,
) {
    let Some(c) = c else { return };
    let v = Some(c.value.clone());
    match c.algorithm.as_str() {
        "CRC32" => *crc32 = v,
        "CRC32C" => *crc32c = v,
        "CRC64NVME" => *crc64nvme = v,
        "SHA1" => *sha1 = v,
        "SHA256" => *sha256 = v,
        _ => {}
    }
}

// ---------------------------------------------------------------------------------
// CreateMultipartUpload
// ---------------------------------------------------------------------------------

fn http_date(t: &Timestamp) -> Option<String> {
    let mut buf = Vec::new();
    t.format(s3s::dto::TimestampFormat::HttpDate, &mut buf)
        .ok()?;
    String::from_utf8(buf).ok()
}

pub async fn create_multipart_upload(
    state: &S3State,
    req: S3Request<CreateMultipartUploadInput>,
) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
    let caller = state.caller(&req);
    let input = req.input;
    let snap = snapshot(state)?;
    let bucket = owned_bucket(snap.as_ref(), &input.bucket, &caller)?;
    if input.key.len() > MAX_KEY_BYTES {
        return Err(err(S3ErrorCode::KeyTooLongError, "Your key is too long"));
    }
    let owner_account = caller
        .map(|c| c.account_id)
        .unwrap_or_else(|| bucket.account_id.clone());

    let checksum_algorithm = input
        .checksum_algorithm
        .as_ref()
        .map(|a| a.as_str().to_ascii_uppercase());
    if let Some(a) = &checksum_algorithm {
        if !matches!(
            a.as_str(),
            "CRC32" | "CRC32C" | "CRC64NVME" | "SHA1" | "SHA256"
        ) {
            return Err(err(
                S3ErrorCode::InvalidRequest,
                "Checksum algorithm provided is unsupported. Please try again with any of the valid types: [CRC32, CRC32C, CRC64NVME, SHA1, SHA256]",
            ));
        }
    }
    let checksum_type = match input.checksum_type.as_ref().map(|t| t.as_str().to_string()) {
        Some(t) if t == "FULL_OBJECT" || t == "COMPOSITE" => Some(t),
        Some(_) => {
            return Err(err(
                S3ErrorCode::InvalidRequest,
                "Value for x-amz-checksum-type header is invalid.",
            ))
        }
        None => None,
    };
    if checksum_type.is_some() && checksum_algorithm.is_none() {
        return Err(err(
            S3ErrorCode::InvalidRequest,
            "The x-amz-checksum-type header can only be used with the x-amz-checksum-algorithm header.",
        ));
    }
    // SHA checksums only combine as COMPOSITE; CRC64NVME only as FULL_OBJECT.
    let checksum_type =
        match (checksum_algorithm.as_deref(), checksum_type) {
            (None, _) => None,
            (Some("CRC64NVME"), Some(t)) if t == "COMPOSITE" => return Err(err(
                S3ErrorCode::InvalidRequest,
                "The COMPOSITE checksum type cannot be used with the crc64nvme checksum algorithm.",
            )),
            (Some("CRC64NVME"), _) => Some("FULL_OBJECT".to_string()),
            (Some(a @ ("SHA1" | "SHA256")), Some(t)) if t == "FULL_OBJECT" => {
                return Err(err(
                    S3ErrorCode::InvalidRequest,
                    &format!(
                    "The FULL_OBJECT checksum type cannot be used with the {} checksum algorithm.",
                    a.to_ascii_lowercase()
                ),
                ))
            }
            (Some(_), t) => Some(t.unwrap_or_else(|| "COMPOSITE".to_string())),
        };

    let tags = match &input.tagging {
        Some(h) => parse_tagging_header(h)?,
        None => vec![],
    };
    let acl = acl_from_request(
        &bucket,
        input.acl.as_ref().map(|a| a.as_str()),
        &[
            ("FULL_CONTROL", input.grant_full_control.as_ref()),
            ("READ", input.grant_read.as_ref()),
            ("READ_ACP", input.grant_read_acp.as_ref()),
            ("WRITE_ACP", input.grant_write_acp.as_ref()),
        ],
    )?;

    refuse_blocked_public_acl(snap.as_ref(), &bucket.name, acl.as_ref())?;
    drop(snap);

    let mut system = std::collections::BTreeMap::new();
    let mut put = |k: &str, v: Option<String>| {
        if let Some(v) = v {
            system.insert(k.to_string(), v);
        }
    };
    put(
        "content-type",
        input.content_type.as_ref().map(|c| c.to_string()),
    );
    put("content-encoding", input.content_encoding.clone());
    put("content-language", input.content_language.clone());
    put("content-disposition", input.content_disposition.clone());
    put("cache-control", input.cache_control.clone());
    put("expires", input.expires.as_ref().and_then(http_date));
    put(
        "website-redirect-location",
        input.website_redirect_location.clone(),
    );
    let user = input
        .metadata
        .clone()
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v))
        .collect();

    let now = state.clock.now_millis();
    let upload_id = new_upload_id(now);
    let upload = Upload {
        upload_id: upload_id.clone(),
        key: input.key.clone(),
        initiated_ms: now,
        template: ObjectVersion {
            key: input.key.clone(),
            system,
            user,
            storage_class: input
                .storage_class
                .as_ref()
                .map(|s| s.as_str().to_string())
                .filter(|s| s != "STANDARD"),
            tags,
            acl,
            owner_account: owner_account.clone(),
            sse: Some(
                input
                    .server_side_encryption
                    .as_ref()
                    .map_or_else(|| "AES256".to_string(), |s| s.as_str().to_string()),
            ),
            ..Default::default()
        },
        checksum_algorithm: checksum_algorithm.clone(),
        checksum_type: checksum_type.clone(),
        owner_account,
    };
    let (b, k, u) = (bucket.name.clone(), input.key.clone(), upload.clone());
    state
        .db
        .write(move |txn| -> Result<(), Error> {
            write::require_bucket(txn, &b)?;
            txn.put(&keys::upload(&b, &k, &u.upload_id), &encode(&u))?;
            Ok(())
        })
        .await?;
    Ok(S3Response::new(CreateMultipartUploadOutput {
        bucket: Some(bucket.name),
        key: Some(input.key),
        upload_id: Some(upload_id),
        checksum_algorithm: checksum_algorithm.map(ChecksumAlgorithm::from),
        checksum_type: checksum_type.map(ChecksumType::from),
        server_side_encryption: upload.template.sse.map(ServerSideEncryption::from),
        ..Default::default()
    }))
}

// ---------------------------------------------------------------------------------
// UploadPart / UploadPartCopy
// ---------------------------------------------------------------------------------

pub async fn upload_part(
    state: &S3State,
    req: S3Request<UploadPartInput>,
) -> S3Result<S3Response<UploadPartOutput>> {
    let trailers = trailers_fn(&req);
    let req_headers = req.headers.clone();
    let caller = state.caller(&req);
    let mut input = req.input;
    let snap = snapshot(state)?;
    owned_bucket(snap.as_ref(), &input.bucket, &caller)?;
    let upload = load_upload(snap.as_ref(), &input.bucket, &input.key, &input.upload_id)?;
    drop(snap);
    let n = check_part_number(input.part_number)?;

    let sent = sent_checksum(
        &input.checksum_crc32,
        &input.checksum_crc32c,
        &input.checksum_crc64nvme,
        &input.checksum_sha1,
        &input.checksum_sha256,
    );
    let requested = input
        .checksum_algorithm
        .as_ref()
        .map(|a| a.as_str().to_ascii_uppercase());
    if let (Some(want), Some(got)) = (
        &upload.checksum_algorithm,
        requested.as_ref().or(sent.as_ref().map(|(a, _)| a)),
    ) {
        if want != got {
            return Err(err(
                S3ErrorCode::InvalidRequest,
                &format!(
                    "Checksum Type mismatch occurred, expected checksum Type: {}, actual checksum Type: {}",
                    want.to_ascii_lowercase(),
                    got.to_ascii_lowercase()
                ),
            ));
        }
    }
    // The headers say most (trailer-announced algorithms, decoded lengths of
    // aws-chunked bodies); the parsed input fills in what s3s took out of them.
    let mut expect = Expect::from_headers(&req_headers, MAX_PART_BYTES);
    if expect.content_md5.is_none() {
        expect.content_md5 = input.content_md5.clone();
    }
    if expect.checksum_value.is_none() {
        expect.checksum_value = sent;
    }
    expect.checksum_algorithm = upload
        .checksum_algorithm
        .clone()
        .or(requested)
        .or(expect.checksum_algorithm);
    let stored = body::store_body(state, input.body.take(), expect, &trailers).await?;
    let part = commit_part(
        state,
        &input.bucket,
        &input.key,
        &input.upload_id,
        n,
        stored,
    )
    .await?;
    let mut out = UploadPartOutput {
        e_tag: Some(etag(&part.etag)),
        server_side_encryption: upload.template.sse.clone().map(ServerSideEncryption::from),
        ..Default::default()
    };
    set_checksum_fields(
        &part.checksum,
        &mut out.checksum_crc32,
        &mut out.checksum_crc32c,
        &mut out.checksum_crc64nvme,
        &mut out.checksum_sha1,
        &mut out.checksum_sha256,
    );
    Ok(S3Response::new(out))
}

fn precondition_failed() -> S3Error {
    let mut e = err(
        S3ErrorCode::PreconditionFailed,
        "At least one of the pre-conditions you specified did not hold",
    );
    e.set_status_code(http::StatusCode::PRECONDITION_FAILED);
    e
}

fn etag_matches(cond: &ETagCondition, stored: &str) -> bool {
    match cond {
        ETagCondition::Any => true,
        ETagCondition::ETag(e) => e.value() == unquote(stored),
    }
}

/// `bytes=first-last` within an object of `size` bytes -> (offset, length).
fn parse_copy_range(range: &str, size: u64) -> S3Result<(u64, u64)> {
    let malformed = || {
        err(
            S3ErrorCode::InvalidArgument,
            "The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy",
        )
    };
    let spec = range.trim().strip_prefix("bytes=").ok_or_else(malformed)?;
    let (a, b) = spec.split_once('-').ok_or_else(malformed)?;
    let first: u64 = a.trim().parse().map_err(|_| malformed())?;
    let last: u64 = b.trim().parse().map_err(|_| malformed())?;
    if first > last {
        return Err(malformed());
    }
    if last >= size {
        return Err(err(
            S3ErrorCode::InvalidArgument,
            &format!("Range specified is not valid for source object of size: {size}"),
        ));
    }
    Ok((first, last - first + 1))
}

pub async fn upload_part_copy(
    state: &S3State,
    req: S3Request<UploadPartCopyInput>,
) -> S3Result<S3Response<UploadPartCopyOutput>> {
    let caller = state.caller(&req);
    let input = req.input;
    let (src_bucket, src_key, src_version) = match &input.copy_source {
        CopySource::Bucket {
            bucket,
            key,
            version_id,
        } => (
            bucket.to_string(),
            key.to_string(),
            version_id.as_ref().map(|v| v.to_string()),
        ),
        _ => {
            return Err(err(
                S3ErrorCode::NotImplemented,
                "Copying from an access point or outpost is not supported",
            ))
        }
    };
    let snap = snapshot(state)?;
    owned_bucket(snap.as_ref(), &input.bucket, &caller)?;
    let upload = load_upload(snap.as_ref(), &input.bucket, &input.key, &input.upload_id)?;
    let n = check_part_number(input.part_number)?;
    owned_bucket(snap.as_ref(), &src_bucket, &caller)?;
    let src = match &src_version {
        None => match write::latest_version(snap.as_ref(), &src_bucket, &src_key)? {
            Some(v) if !v.delete_marker => v,
            _ => return Err(crate::error::no_such_key()),
        },
        Some(vid) => match write::get_version(snap.as_ref(), &src_bucket, &src_key, vid)? {
            Some(v) if v.delete_marker => {
                return Err(err(
                    S3ErrorCode::InvalidRequest,
                    "The source of a copy request may not specifically refer to a delete marker by version id.",
                ))
            }
            Some(v) => v,
            None => {
                return Err(err(
                    S3ErrorCode::NoSuchVersion,
                    "The specified version does not exist.",
                ))
            }
        },
    };

    // Conditional copy, as S3 evaluates it: a matching If-Match overrides a failing
    // If-Unmodified-Since; a failing If-None-Match wins over If-Modified-Since.
    let modified = timestamp(src.last_modified_ms);
    let mut ok = true;
    if let Some(c) = &input.copy_source_if_match {
        ok &= etag_matches(c, &src.etag);
    } else if let Some(t) = &input.copy_source_if_unmodified_since {
        ok &= modified <= *t;
    }
    if let Some(c) = &input.copy_source_if_none_match {
        ok &= !etag_matches(c, &src.etag);
    } else if let Some(t) = &input.copy_source_if_modified_since {
        ok &= modified > *t;
    }
    if !ok {
        return Err(precondition_failed());
    }

    let (offset, len) = match &input.copy_source_range {
        Some(r) => parse_copy_range(r, src.size)?,
        None => (0, src.size),
    };
    if len > MAX_PART_BYTES {
        return Err(err(
            S3ErrorCode::InvalidRequest,
            "The specified copy source is larger than the maximum allowable size for a copy source: 5368709120",
        ));
    }
    // Inline source bodies come from the snapshot the version was read from.
    let stream = body::read_blobs_at(state, snap.as_ref(), &src.blobs, offset, len);
    drop(snap);
    let expect = Expect {
        checksum_algorithm: upload.checksum_algorithm.clone(),
        length: Some(len),
        max_bytes: MAX_PART_BYTES,
        ..Default::default()
    };
    let no_trailers = || None;
    let stored = body::store_body(state, Some(stream), expect, &no_trailers).await?;
    let part = commit_part(
        state,
        &input.bucket,
        &input.key,
        &input.upload_id,
        n,
        stored,
    )
    .await?;
    let mut result = CopyPartResult {
        e_tag: Some(etag(&part.etag)),
        last_modified: Some(timestamp(part.last_modified_ms)),
        ..Default::default()
    };
    set_checksum_fields(
        &part.checksum,
        &mut result.checksum_crc32,
        &mut result.checksum_crc32c,
        &mut result.checksum_crc64nvme,
        &mut result.checksum_sha1,
        &mut result.checksum_sha256,
    );
    Ok(S3Response::new(UploadPartCopyOutput {
        copy_part_result: Some(result),
        copy_source_version_id: (src.version_id != "null").then_some(src.version_id),
        server_side_encryption: upload.template.sse.map(ServerSideEncryption::from),
        ..Default::default()
    }))
}

// ---------------------------------------------------------------------------------
// CompleteMultipartUpload
// ---------------------------------------------------------------------------------

/// The checksum a client sent for one part in the completion request.
fn completed_part_checksum(p: &CompletedPart, algorithm: &str) -> Option<String> {
    match algorithm {
        "CRC32" => p.checksum_crc32.clone(),
        "CRC32C" => p.checksum_crc32c.clone(),
        "CRC64NVME" => p.checksum_crc64nvme.clone(),
        "SHA1" => p.checksum_sha1.clone(),
        "SHA256" => p.checksum_sha256.clone(),
        _ => None,
    }
}

/// The checksum of the concatenated binary part checksums, S3's COMPOSITE checksum
/// (`<base64>-<parts>`).
fn composite_checksum(algorithm: &str, part_values: &[String]) -> Option<String> {
    use base64::Engine;
    use s3s::crypto::Checksum as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut all = Vec::new();
    for v in part_values {
        all.extend(b64.decode(v).ok()?);
    }
    let digest: Vec<u8> = match algorithm {
        "CRC32" => s3s::crypto::Crc32::checksum(&all).to_vec(),
        "CRC32C" => s3s::crypto::Crc32c::checksum(&all).to_vec(),
        "SHA1" => s3s::crypto::Sha1::checksum(&all).as_ref().to_vec(),
        "SHA256" => s3s::crypto::Sha256::checksum(&all).as_ref().to_vec(),
        _ => return None,
    };
    Some(format!("{}-{}", b64.encode(digest), part_values.len()))
}

/// The multipart ETag: MD5 of the concatenated binary part MD5s, `-<parts>`.
fn multipart_etag(part_etags: &[String]) -> Result<String, Error> {
    let mut h = Md5::new();
    for e in part_etags {
        let raw = hex::decode(unquote(e)).map_err(|_| Error::Corrupt("part etag".into()))?;
        h.update(&raw);
    }
    Ok(format!(
        "\"{}-{}\"",
        hex::encode(h.finalize()),
        part_etags.len()
    ))
}

struct Completion {
    version: ObjectVersion,
    checksum_algorithm: Option<String>,
}

#[allow(clippy::too_many_arguments)]
fn complete_in_txn(
    txn: &mut dyn WriteTxn,
    bucket_name: &str,
    key: &str,
    upload_id: &str,
    requested: &[CompletedPart],
    if_match: Option<&ETagCondition>,
    if_none_match: Option<&ETagCondition>,
    now_ms: i64,
) -> Result<Completion, Error> {
    let bucket = write::require_bucket(txn, bucket_name)?;
    let upload = load_upload(txn, bucket_name, key, upload_id)?;
    if requested.is_empty() {
        return Err(Error::S3(malformed_xml()));
    }
    // Conditional completion (If-None-Match: * / If-Match).
    let current = write::latest_version(txn, bucket_name, key)?.filter(|v| !v.delete_marker);
    if let Some(c) = if_none_match {
        if current.as_ref().is_some_and(|v| etag_matches(c, &v.etag)) {
            return Err(Error::S3(precondition_failed()));
        }
    }
    if let Some(c) = if_match {
        match &current {
            Some(v) if etag_matches(c, &v.etag) => {}
            Some(_) => return Err(Error::S3(precondition_failed())),
            None => return Err(Error::S3(crate::error::no_such_key())),
        }
    }

    let mut prev = 0u32;
    let mut chosen: Vec<Part> = Vec::with_capacity(requested.len());
    for cp in requested {
        let n = cp
            .part_number
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| Error::S3(malformed_xml()))?;
        if n <= prev {
            return Err(Error::S3(err(
                S3ErrorCode::InvalidPartOrder,
                "The list of parts was not in ascending order. Parts must be ordered by part number.",
            )));
        }
        prev = n;
        if n > MAX_PART_NUMBER {
            return Err(Error::S3(invalid_part()));
        }
        let part = load_part(txn, upload_id, n)?.ok_or_else(|| Error::S3(invalid_part()))?;
        let etag_ok = cp
            .e_tag
            .as_ref()
            .is_some_and(|e| e.value() == unquote(&part.etag));
        if !etag_ok {
            return Err(Error::S3(invalid_part()));
        }
        if let (Some(alg), Some(pc)) = (&upload.checksum_algorithm, &part.checksum) {
            if let Some(sent) = completed_part_checksum(cp, alg) {
                if sent != pc.value {
                    return Err(Error::S3(invalid_part()));
                }
            }
        }
        chosen.push(part);
    }
    let last_index = chosen.len() - 1;
    for (i, p) in chosen.iter().enumerate() {
        if i < last_index && p.size < MIN_PART_BYTES {
            return Err(Error::S3(err(
                S3ErrorCode::EntityTooSmall,
                "Your proposed upload is smaller than the minimum allowed object size.",
            )));
        }
    }
    let size: u64 = chosen.iter().map(|p| p.size).sum();
    if size > MAX_OBJECT_BYTES {
        return Err(Error::S3(err(
            S3ErrorCode::EntityTooLarge,
            "Your proposed upload exceeds the maximum allowed size",
        )));
    }
    let etags: Vec<String> = chosen.iter().map(|p| p.etag.clone()).collect();
    let checksum = match (&upload.checksum_algorithm, upload.checksum_type.as_deref()) {
        (Some(alg), Some("COMPOSITE")) => {
            let values: Option<Vec<String>> = chosen
                .iter()
                .map(|p| p.checksum.as_ref().map(|c| c.value.clone()))
                .collect();
            values
                .and_then(|v| composite_checksum(alg, &v))
                .map(|value| meta::Checksum {
                    algorithm: alg.clone(),
                    value,
                    kind: "COMPOSITE".into(),
                })
        }
        (Some(alg), Some("FULL_OBJECT")) => {
            full_object_checksum(alg, &chosen).map(|value| meta::Checksum {
                algorithm: alg.clone(),
                value,
                kind: "FULL_OBJECT".into(),
            })
        }
        _ => None,
    };

    // Everything checked: tear down the upload and build the object.
    let all = all_parts(txn, upload_id)?;
    let used: std::collections::BTreeSet<String> =
        chosen.iter().map(|p| p.blob.id.clone()).collect();
    let unused: Vec<BlobRef> = all
        .iter()
        .filter(|p| !used.contains(&p.blob.id))
        .map(|p| p.blob.clone())
        .collect();
    write::discard_blobs(txn, &unused)?;
    for p in &all {
        txn.delete(&keys::part(upload_id, p.part_number))?;
    }
    txn.delete(&keys::upload(bucket_name, key, upload_id))?;

    let mut ver = upload.template.clone();
    ver.key = key.to_string();
    ver.delete_marker = false;
    ver.last_modified_ms = now_ms;
    ver.size = size;
    ver.etag = multipart_etag(&etags)?;
    ver.blobs = chosen.iter().map(|p| p.blob.clone()).collect();
    ver.parts = chosen
        .iter()
        .map(|p| ObjectPart {
            part_number: p.part_number,
            size: p.size,
            etag: p.etag.clone(),
            checksum: p.checksum.as_ref().map(|c| c.value.clone()),
        })
        .collect();
    ver.checksum = checksum;
    if ver.owner_account.is_empty() {
        ver.owner_account = upload.owner_account.clone();
    }
    write::put_version(txn, &bucket, &mut ver)?;
    Ok(Completion {
        version: ver,
        checksum_algorithm: upload.checksum_algorithm,
    })
}

/// FULL_OBJECT CRC of the whole object from the part CRCs (CRC combination), as S3
/// reports it for FULL_OBJECT uploads. `None` if a part lacks its CRC.
fn full_object_checksum(algorithm: &str, parts: &[Part]) -> Option<String> {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    let width: usize = match algorithm {
        "CRC32" | "CRC32C" => 4,
        "CRC64NVME" => 8,
        _ => return None,
    };
    let mut acc: Option<u64> = None;
    for p in parts {
        let raw = b64.decode(&p.checksum.as_ref()?.value).ok()?;
        if raw.len() != width {
            return None;
        }
        let mut buf = [0u8; 8];
        buf.get_mut(8 - width..)?.copy_from_slice(&raw);
        let crc = u64::from_be_bytes(buf);
        acc = Some(match acc {
            None => crc,
            Some(a) => crc_combine(algorithm, a, crc, p.size)?,
        });
    }
    let v = acc?.to_be_bytes();
    Some(b64.encode(v.get(8 - width..)?))
}

/// CRC of `A ++ B` from CRC(A), CRC(B) and len(B), for the reflected CRCs S3 uses
/// (zlib's crc32_combine method: multiply by x^(8·len) modulo the polynomial).
fn crc_combine(algorithm: &str, crc_a: u64, crc_b: u64, len_b: u64) -> Option<u64> {
    // Reflected polynomials.
    let (poly, bits): (u64, u32) = match algorithm {
        "CRC32" => (0xEDB8_8320, 32),
        "CRC32C" => (0x82F6_3B78, 32),
        "CRC64NVME" => (0x9A6C_9329_AC4B_C9B5, 64),
        _ => return None,
    };
    let mask = if bits == 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    };
    // Multiply a(x)·b(x) mod p(x) in the reflected representation.
    let mul = |a: u64, mut b: u64| -> u64 {
        let top = 1u64 << (bits - 1);
        let mut m = top;
        let mut p = 0u64;
        let a = a & mask;
        b &= mask;
        loop {
            if a & m != 0 {
                p ^= b;
                if a & (m - 1) == 0 {
                    break;
                }
            }
            m >>= 1;
            if m == 0 {
                break;
            }
            b = if b & 1 != 0 { (b >> 1) ^ poly } else { b >> 1 };
        }
        p & mask
    };
    // x^(2^k) table built by squaring, starting from x^1 (reflected: top bit >> 1).
    let mut xpow = 1u64 << (bits - 2); // x^1
    let mut n = len_b.checked_mul(8)?; // multiply by x^(8·len)
    let mut acc = 1u64 << (bits - 1); // x^0
    while n != 0 {
        if n & 1 != 0 {
            acc = mul(xpow, acc);
        }
        xpow = mul(xpow, xpow);
        n >>= 1;
    }
    Some((mul(acc, crc_a) ^ crc_b) & mask)
}

pub async fn complete_multipart_upload(
    state: &S3State,
    req: S3Request<CompleteMultipartUploadInput>,
) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
    let host = req
        .headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost")
        .to_string();
    let caller = state.caller(&req);
    let origin = state.origin(&req, &caller);
    let input = req.input;
    owned_bucket(snapshot(state)?.as_ref(), &input.bucket, &caller)?;
    let requested: Vec<CompletedPart> = input
        .multipart_upload
        .as_ref()
        .and_then(|m| m.parts.clone())
        .unwrap_or_default();
    if requested.len() > MAX_PART_NUMBER as usize {
        return Err(malformed_xml());
    }
    let (b, k, u) = (
        input.bucket.clone(),
        input.key.clone(),
        input.upload_id.clone(),
    );
    let (if_match, if_none_match) = (input.if_match.clone(), input.if_none_match.clone());
    let now = state.clock.now_millis();
    let (done, notified) = state
        .db
        .write(move |txn| -> Result<(Completion, usize), Error> {
            let done = complete_in_txn(
                txn,
                &b,
                &k,
                &u,
                &requested,
                if_match.as_ref(),
                if_none_match.as_ref(),
                now,
            )?;
            let bucket = write::require_bucket(txn, &b)?;
            let notified = notify::record(
                txn,
                &bucket,
                notify::EventName::CompleteMultipartUpload,
                &notify::ObjectRef::written(&done.version),
                &origin,
                now,
            )?;
            Ok((done, notified))
        })
        .await?;
    state.notifications.after_commit(notified);
    let ver = done.version;
    let mut out = CompleteMultipartUploadOutput {
        bucket: Some(input.bucket.clone()),
        key: Some(input.key.clone()),
        e_tag: Some(etag(&ver.etag)),
        location: Some(format!(
            "http://{host}/{}/{}",
            input.bucket,
            url_encode(&input.key)
        )),
        version_id: (ver.version_id != "null").then(|| ver.version_id.clone()),
        server_side_encryption: ver.sse.clone().map(ServerSideEncryption::from),
        checksum_type: ver
            .checksum
            .as_ref()
            .map(|c| ChecksumType::from(c.kind.clone())),
        ..Default::default()
    };
    let _ = done.checksum_algorithm;
    set_checksum_fields(
        &ver.checksum,
        &mut out.checksum_crc32,
        &mut out.checksum_crc32c,
        &mut out.checksum_crc64nvme,
        &mut out.checksum_sha1,
        &mut out.checksum_sha256,
    );
    Ok(S3Response::new(out))
}

// ---------------------------------------------------------------------------------
// AbortMultipartUpload, ListParts, ListMultipartUploads
// ---------------------------------------------------------------------------------

pub async fn abort_multipart_upload(
    state: &S3State,
    req: S3Request<AbortMultipartUploadInput>,
) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
    let caller = state.caller(&req);
    let input = req.input;
    owned_bucket(snapshot(state)?.as_ref(), &input.bucket, &caller)?;
    let (b, k, u) = (input.bucket, input.key, input.upload_id);
    state
        .db
        .write(move |txn| -> Result<(), Error> {
            write::require_bucket(txn, &b)?;
            load_upload(txn, &b, &k, &u)?;
            let parts = all_parts(txn, &u)?;
            let blobs: Vec<BlobRef> = parts.iter().map(|p| p.blob.clone()).collect();
            write::discard_blobs(txn, &blobs)?;
            for p in &parts {
                txn.delete(&keys::part(&u, p.part_number))?;
            }
            txn.delete(&keys::upload(&b, &k, &u))?;
            Ok(())
        })
        .await?;
    let mut resp = S3Response::new(AbortMultipartUploadOutput::default());
    resp.status = Some(http::StatusCode::NO_CONTENT);
    Ok(resp)
}

pub async fn list_parts(
    state: &S3State,
    req: S3Request<ListPartsInput>,
) -> S3Result<S3Response<ListPartsOutput>> {
    let caller = state.caller(&req);
    let input = req.input;
    let max = match input.max_parts {
        Some(n) if n < 0 => {
            return Err(err(
                S3ErrorCode::InvalidArgument,
                "Argument max-parts must be an integer between 0 and 2147483647",
            ))
        }
        Some(n) => usize::try_from(n).unwrap_or(MAX_LIST).min(MAX_LIST),
        None => MAX_LIST,
    };
    let marker = match input.part_number_marker {
        Some(n) if n < 0 => {
            return Err(err(
                S3ErrorCode::InvalidArgument,
                "Argument part-number-marker must be an integer between 0 and 2147483647",
            ))
        }
        Some(n) => u32::try_from(n).unwrap_or(0).min(MAX_PART_NUMBER),
        None => 0,
    };
    let snap = snapshot(state)?;
    owned_bucket(snap.as_ref(), &input.bucket, &caller)?;
    let upload = load_upload(snap.as_ref(), &input.bucket, &input.key, &input.upload_id)?;
    let hi = keys::prefix_end(&keys::parts_of_upload(&input.upload_id));
    let start = keys::part(&input.upload_id, marker);
    let rows = snap
        .range(
            Bound::Excluded(start.as_slice()),
            Bound::Excluded(hi.as_slice()),
            false,
            max + 1,
        )
        .map_err(|e| Error::Store(e).into_s3())?;
    let truncated = rows.len() > max;
    let mut parts = Vec::new();
    for (_, v) in rows.into_iter().take(max) {
        let p: Part = decode("part", &v)?;
        let mut dto = s3s::dto::Part {
            e_tag: Some(etag(&p.etag)),
            last_modified: Some(timestamp(p.last_modified_ms)),
            part_number: i32::try_from(p.part_number).ok(),
            size: i64::try_from(p.size).ok(),
            ..Default::default()
        };
        set_checksum_fields(
            &p.checksum,
            &mut dto.checksum_crc32,
            &mut dto.checksum_crc32c,
            &mut dto.checksum_crc64nvme,
            &mut dto.checksum_sha1,
            &mut dto.checksum_sha256,
        );
        parts.push(dto);
    }
    let next = parts.last().and_then(|p| p.part_number);
    let who = owner(&upload.owner_account);
    Ok(S3Response::new(ListPartsOutput {
        bucket: Some(input.bucket),
        key: Some(input.key),
        upload_id: Some(input.upload_id),
        checksum_algorithm: upload
            .checksum_algorithm
            .clone()
            .map(ChecksumAlgorithm::from),
        checksum_type: upload.checksum_type.clone().map(ChecksumType::from),
        initiator: Some(Initiator {
            display_name: who.display_name.clone(),
            id: who.id.clone(),
        }),
        owner: Some(who),
        is_truncated: Some(truncated),
        max_parts: i32::try_from(max).ok(),
        part_number_marker: i32::try_from(marker).ok(),
        next_part_number_marker: next,
        parts: (!parts.is_empty()).then_some(parts),
        storage_class: Some(StorageClass::from(
            upload
                .template
                .storage_class
                .clone()
                .unwrap_or_else(|| "STANDARD".into()),
        )),
        ..Default::default()
    }))
}

/// `s3/u/{bucket}\0{escaped prefix}` (without the key terminator).
fn uploads_with_key_prefix(bucket: &str, prefix: &str) -> Vec<u8> {
    let mut v = keys::uploads_of_bucket(bucket);
    for &b in prefix.as_bytes() {
        v.push(b);
        if b == 0 {
            v.push(0xFF);
        }
    }
    v
}

fn uploads_of_key(bucket: &str, key: &str) -> Vec<u8> {
    let mut v = keys::uploads_of_bucket(bucket);
    keys::push_escaped(&mut v, key);
    v
}

pub async fn list_multipart_uploads(
    state: &S3State,
    req: S3Request<ListMultipartUploadsInput>,
) -> S3Result<S3Response<ListMultipartUploadsOutput>> {
    let caller = state.caller(&req);
    let input = req.input;
    let encode_url = url_encoding(&input.encoding_type)?;
    let enc = |s: String| if encode_url { url_encode(&s) } else { s };
    let max = match input.max_uploads {
        Some(n) if n < 0 => {
            return Err(err(
                S3ErrorCode::InvalidArgument,
                "Argument max-uploads must be an integer between 0 and 2147483647",
            ))
        }
        Some(n) => usize::try_from(n).unwrap_or(MAX_LIST).min(MAX_LIST),
        None => MAX_LIST,
    };
    let snap = snapshot(state)?;
    let bucket = owned_bucket(snap.as_ref(), &input.bucket, &caller)?;
    let prefix = input.prefix.clone().unwrap_or_default();
    let delimiter = input.delimiter.clone().filter(|d| !d.is_empty());
    let key_marker = input.key_marker.clone().filter(|k| !k.is_empty());
    let upload_marker = input.upload_id_marker.clone().filter(|u| !u.is_empty());

    let lo = uploads_with_key_prefix(&bucket.name, &prefix);
    let hi = keys::prefix_end(&lo);
    let mut start = lo.clone();
    let mut incl = true;
    if let Some(km) = &key_marker {
        let s = match &upload_marker {
            // After that upload of the key: later uploads of the same key follow.
            Some(um) => {
                incl = false;
                keys::upload(&bucket.name, km, um)
            }
            None => keys::prefix_end(&uploads_of_key(&bucket.name, km)),
        };
        if s > start {
            start = s;
        } else {
            incl = true;
        }
    }
    let base_len = keys::uploads_of_bucket(&bucket.name).len();
    let mut uploads: Vec<MultipartUpload> = Vec::new();
    let mut prefixes: Vec<String> = Vec::new();
    let mut last: Option<(String, Option<String>)> = None;
    let mut truncated = false;
    let mut budget = 200_000usize;
    // max-uploads=0 lists nothing.
    let mut scanning = max > 0;
    'scan: while scanning {
        let b = if incl {
            Bound::Included(start.as_slice())
        } else {
            Bound::Excluded(start.as_slice())
        };
        let rows = snap
            .range(b, Bound::Excluded(hi.as_slice()), false, PAGE_ROWS)
            .map_err(|e| Error::Store(e).into_s3())?;
        let full = rows.len() == PAGE_ROWS;
        let mut last_row = None;
        for (k, v) in rows {
            budget = budget.saturating_sub(1);
            let Some((key, _)) = k.get(base_len..).and_then(keys::take_escaped) else {
                return Err(Error::Corrupt("upload key".into()).into_s3());
            };
            if uploads.len() + prefixes.len() >= max || budget == 0 {
                truncated = true;
                break 'scan;
            }
            if let Some(d) = &delimiter {
                if let Some(i) = key.get(prefix.len()..).and_then(|r| r.find(d.as_str())) {
                    let cp = key
                        .get(..prefix.len() + i + d.len())
                        .unwrap_or(&key)
                        .to_string();
                    start = keys::prefix_end(&uploads_with_key_prefix(&bucket.name, &cp));
                    incl = true;
                    last = Some((cp.clone(), None));
                    prefixes.push(cp);
                    continue 'scan;
                }
            }
            let up: Upload = decode("upload", &v)?;
            let who = owner(&up.owner_account);
            last = Some((key.clone(), Some(up.upload_id.clone())));
            uploads.push(MultipartUpload {
                checksum_algorithm: up.checksum_algorithm.clone().map(ChecksumAlgorithm::from),
                checksum_type: up.checksum_type.clone().map(ChecksumType::from),
                initiated: Some(timestamp(up.initiated_ms)),
                initiator: Some(Initiator {
                    display_name: who.display_name.clone(),
                    id: who.id.clone(),
                }),
                key: Some(enc(key)),
                owner: Some(who),
                storage_class: Some(StorageClass::from(
                    up.template
                        .storage_class
                        .clone()
                        .unwrap_or_else(|| "STANDARD".into()),
                )),
                upload_id: Some(up.upload_id.clone()),
            });
            last_row = Some(k);
        }
        match last_row {
            Some(k) if full => {
                start = k;
                incl = false;
            }
            _ => scanning = false,
        }
    }
    let (next_key, next_upload) = match (&last, truncated) {
        (Some((k, u)), true) => (Some(enc(k.clone())), u.clone()),
        _ => (None, None),
    };
    Ok(S3Response::new(ListMultipartUploadsOutput {
        bucket: Some(bucket.name.clone()),
        common_prefixes: (!prefixes.is_empty()).then(|| {
            prefixes
                .into_iter()
                .map(|p| CommonPrefix {
                    prefix: Some(enc(p)),
                })
                .collect()
        }),
        delimiter: delimiter.map(&enc),
        encoding_type: encode_url.then(|| EncodingType::from("url".to_string())),
        is_truncated: Some(truncated),
        key_marker: Some(enc(key_marker.unwrap_or_default())),
        max_uploads: i32::try_from(max).ok(),
        next_key_marker: next_key,
        next_upload_id_marker: next_upload,
        prefix: Some(enc(prefix)),
        upload_id_marker: Some(upload_marker.unwrap_or_default()),
        uploads: (!uploads.is_empty()).then_some(uploads),
        request_charged: None,
    }))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::listing::testutil::*;
    use bytes::Bytes;
    use futures::StreamExt;

    fn blob(data: Vec<u8>) -> StreamingBlob {
        let chunks: Vec<Result<Bytes, std::io::Error>> = data
            .chunks(64 * 1024)
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .collect();
        StreamingBlob::wrap(futures::stream::iter(chunks))
    }

    async fn collect(mut s: StreamingBlob) -> Vec<u8> {
        let mut out = vec![];
        while let Some(c) = s.next().await {
            out.extend_from_slice(&c.unwrap());
        }
        out
    }

    async fn create(st: &S3State, key: &str, alg: Option<&str>) -> String {
        create_multipart_upload(
            st,
            req(CreateMultipartUploadInput {
                bucket: "bk".into(),
                key: key.into(),
                checksum_algorithm: alg.map(|a| ChecksumAlgorithm::from(a.to_string())),
                ..Default::default()
            }),
        )
        .await
        .unwrap()
        .output
        .upload_id
        .unwrap()
    }

    async fn part(
        st: &S3State,
        key: &str,
        id: &str,
        n: i32,
        data: Vec<u8>,
    ) -> S3Result<UploadPartOutput> {
        let len = data.len() as i64;
        let mut r = req(UploadPartInput {
            bucket: "bk".into(),
            key: key.into(),
            upload_id: id.into(),
            part_number: n,
            content_length: Some(len),
            body: Some(blob(data)),
            ..Default::default()
        });
        r.headers.insert("content-length", len.into());
        Ok(upload_part(st, r).await?.output)
    }

    async fn complete(
        st: &S3State,
        key: &str,
        id: &str,
        parts: &[(i32, &ETag)],
    ) -> S3Result<CompleteMultipartUploadOutput> {
        let parts = parts
            .iter()
            .map(|(n, e)| CompletedPart {
                part_number: Some(*n),
                e_tag: Some((*e).clone()),
                ..Default::default()
            })
            .collect();
        Ok(complete_multipart_upload(
            st,
            req(CompleteMultipartUploadInput {
                bucket: "bk".into(),
                key: key.into(),
                upload_id: id.into(),
                multipart_upload: Some(CompletedMultipartUpload { parts: Some(parts) }),
                ..Default::default()
            }),
        )
        .await?
        .output)
    }

    fn md5_of(b: &[u8]) -> [u8; 16] {
        Md5::digest(b).into()
    }

    #[tokio::test]
    async fn complete_builds_the_object_from_part_blobs_with_s3s_etag() {
        let st = state();
        bucket(&st, "bk", None, None).await;
        let id = create(&st, "big", None).await;
        let p1: Vec<u8> = (0..MIN_PART_BYTES as usize)
            .map(|i| (i % 251) as u8)
            .collect();
        let p2 = b"tail".to_vec();
        let p3 = vec![7u8; 100];
        let e1 = part(&st, "big", &id, 1, p1.clone())
            .await
            .unwrap()
            .e_tag
            .unwrap();
        let e2 = part(&st, "big", &id, 2, p2.clone())
            .await
            .unwrap()
            .e_tag
            .unwrap();
        let e3 = part(&st, "big", &id, 3, p3).await.unwrap().e_tag.unwrap();
        assert_eq!(e2.value(), hex::encode(md5_of(b"tail")));

        // Part 3 is left out: its body becomes garbage.
        let out = complete(&st, "big", &id, &[(1, &e1), (2, &e2)])
            .await
            .unwrap();
        let mut cat = md5_of(&p1).to_vec();
        cat.extend(md5_of(&p2));
        let want = format!("{}-2", hex::encode(md5_of(&cat)));
        assert_eq!(out.e_tag.unwrap().value(), want);
        assert_eq!(out.version_id, None);
        assert!(out.location.unwrap().ends_with("/bk/big"));

        let snap = st.db.snapshot().unwrap();
        let ver = write::latest_version(snap.as_ref(), "bk", "big")
            .unwrap()
            .unwrap();
        assert_eq!(ver.size, (p1.len() + p2.len()) as u64);
        assert_eq!(ver.blobs.len(), 2);
        assert_eq!(ver.parts.len(), 2);
        let mut whole = p1.clone();
        whole.extend_from_slice(&p2);
        assert_eq!(
            collect(body::read_blobs(&st, &ver.blobs, 0, ver.size)).await,
            whole
        );
        // The upload and its parts are gone; the unused part is garbage.
        assert!(snap.get(&keys::upload("bk", "big", &id)).unwrap().is_none());
        assert!(snap.get(&keys::part(&id, 1)).unwrap().is_none());
        assert!(snap.get(&keys::part(&id, 3)).unwrap().is_none());
        drop(snap);
        let e = complete(&st, "big", &id, &[(1, &e1), (2, &e2)])
            .await
            .unwrap_err();
        assert_eq!(*e.code(), S3ErrorCode::NoSuchUpload);
        let _ = e3;
    }

    #[tokio::test]
    async fn completion_rules() {
        let st = state();
        bucket(&st, "bk", None, None).await;
        let id = create(&st, "k", None).await;
        let e1 = part(&st, "k", &id, 1, vec![1; 10])
            .await
            .unwrap()
            .e_tag
            .unwrap();
        let e2 = part(&st, "k", &id, 2, vec![2; 10])
            .await
            .unwrap()
            .e_tag
            .unwrap();
        let e = complete(&st, "k", &id, &[(2, &e2), (1, &e1)])
            .await
            .unwrap_err();
        assert_eq!(*e.code(), S3ErrorCode::InvalidPartOrder);
        let e = complete(&st, "k", &id, &[(1, &e2)]).await.unwrap_err();
        assert_eq!(*e.code(), S3ErrorCode::InvalidPart);
        let e = complete(&st, "k", &id, &[(1, &e1), (5, &e1)])
            .await
            .unwrap_err();
        assert_eq!(*e.code(), S3ErrorCode::InvalidPart);
        let e = complete(&st, "k", &id, &[(1, &e1), (2, &e2)])
            .await
            .unwrap_err();
        assert_eq!(*e.code(), S3ErrorCode::EntityTooSmall);
        let e = complete(&st, "k", &id, &[]).await.unwrap_err();
        assert_eq!(*e.code(), S3ErrorCode::MalformedXML);
        // A single small part is fine (the last part has no minimum).
        let out = complete(&st, "k", &id, &[(2, &e2)]).await.unwrap();
        assert!(out.e_tag.unwrap().value().ends_with("-1"));

        let e = part(&st, "k", "nope", 1, vec![1]).await.unwrap_err();
        assert_eq!(*e.code(), S3ErrorCode::NoSuchUpload);
        let id = create(&st, "k", None).await;
        for n in [0, 10_001] {
            let e = part(&st, "k", &id, n, vec![1]).await.unwrap_err();
            assert_eq!(*e.code(), S3ErrorCode::InvalidArgument);
            assert_eq!(
                e.message(),
                Some("Part number must be an integer between 1 and 10000, inclusive")
            );
        }
    }

    #[tokio::test]
    async fn reupload_replaces_and_abort_discards() {
        let st = state();
        bucket(&st, "bk", None, None).await;
        let id = create(&st, "k", None).await;
        part(&st, "k", &id, 1, vec![1; 100_000]).await.unwrap();
        let old = {
            let snap = st.db.snapshot().unwrap();
            load_part(snap.as_ref(), &id, 1).unwrap().unwrap()
        };
        assert!(!old.blob.inline);
        let e = part(&st, "k", &id, 1, vec![2; 100_000])
            .await
            .unwrap()
            .e_tag
            .unwrap();
        part(&st, "k", &id, 2, vec![3; 10]).await.unwrap();
        let snap = st.db.snapshot().unwrap();
        assert!(snap.get(&keys::garbage(&old.blob.id)).unwrap().is_some());
        let cur = load_part(snap.as_ref(), &id, 1).unwrap().unwrap();
        assert_eq!(cur.etag, format!("\"{}\"", e.value()));
        drop(snap);

        let lp = list_parts(
            &st,
            req(ListPartsInput {
                bucket: "bk".into(),
                key: "k".into(),
                upload_id: id.clone(),
                max_parts: Some(1),
                ..Default::default()
            }),
        )
        .await
        .unwrap()
        .output;
        assert_eq!(lp.is_truncated, Some(true));
        assert_eq!(lp.next_part_number_marker, Some(1));
        assert_eq!(lp.parts.unwrap().len(), 1);
        let lp = list_parts(
            &st,
            req(ListPartsInput {
                bucket: "bk".into(),
                key: "k".into(),
                upload_id: id.clone(),
                part_number_marker: Some(1),
                ..Default::default()
            }),
        )
        .await
        .unwrap()
        .output;
        assert_eq!(lp.is_truncated, Some(false));
        assert_eq!(lp.parts.unwrap()[0].part_number, Some(2));

        abort_multipart_upload(
            &st,
            req(AbortMultipartUploadInput {
                bucket: "bk".into(),
                key: "k".into(),
                upload_id: id.clone(),
                ..Default::default()
            }),
        )
        .await
        .unwrap();
        let snap = st.db.snapshot().unwrap();
        assert!(snap.get(&keys::garbage(&cur.blob.id)).unwrap().is_some());
        assert!(snap.get(&keys::part(&id, 2)).unwrap().is_none());
        drop(snap);
        let e = abort_multipart_upload(
            &st,
            req(AbortMultipartUploadInput {
                bucket: "bk".into(),
                key: "k".into(),
                upload_id: id,
                ..Default::default()
            }),
        )
        .await
        .unwrap_err();
        assert_eq!(*e.code(), S3ErrorCode::NoSuchUpload);
    }

    #[tokio::test]
    async fn list_multipart_uploads_with_prefix_delimiter_and_markers() {
        let st = state();
        bucket(&st, "bk", None, None).await;
        let mut a = [create(&st, "a", None).await, create(&st, "a", None).await];
        // The test clock stands still: two uploads in one millisecond order by id.
        a.sort();
        let (a1, a2) = (a[0].clone(), a[1].clone());
        create(&st, "d/1", None).await;
        create(&st, "d/2", None).await;
        create(&st, "e", None).await;
        let list = |f: fn(&mut ListMultipartUploadsInput)| {
            let mut input = ListMultipartUploadsInput {
                bucket: "bk".into(),
                ..Default::default()
            };
            f(&mut input);
            let st = st.clone();
            async move {
                list_multipart_uploads(&st, req(input))
                    .await
                    .unwrap()
                    .output
            }
        };
        let o = list(|i| i.delimiter = Some("/".into())).await;
        let keys: Vec<_> = o
            .uploads
            .unwrap()
            .into_iter()
            .filter_map(|u| u.key)
            .collect();
        assert_eq!(keys, vec!["a", "a", "e"]);
        assert_eq!(o.common_prefixes.unwrap()[0].prefix.as_deref(), Some("d/"));
        let o = list(|i| i.max_uploads = Some(1)).await;
        assert_eq!(o.is_truncated, Some(true));
        assert_eq!(o.next_key_marker.as_deref(), Some("a"));
        assert_eq!(o.next_upload_id_marker.as_deref(), Some(a1.as_str()));
        let mut input = ListMultipartUploadsInput {
            bucket: "bk".into(),
            key_marker: Some("a".into()),
            upload_id_marker: Some(a1.clone()),
            max_uploads: Some(1),
            ..Default::default()
        };
        let o = list_multipart_uploads(&st, req(input.clone()))
            .await
            .unwrap()
            .output;
        assert_eq!(
            o.uploads.unwrap()[0].upload_id.as_deref(),
            Some(a2.as_str())
        );
        input.upload_id_marker = None;
        input.max_uploads = None;
        let o = list_multipart_uploads(&st, req(input))
            .await
            .unwrap()
            .output;
        let keys: Vec<_> = o
            .uploads
            .unwrap()
            .into_iter()
            .filter_map(|u| u.key)
            .collect();
        assert_eq!(keys, vec!["d/1", "d/2", "e"]);
        let o = list(|i| i.prefix = Some("d/".into())).await;
        assert_eq!(o.uploads.unwrap().len(), 2);
    }

    #[tokio::test]
    async fn composite_and_full_object_checksums() {
        use s3s::crypto::Checksum as _;
        let st = state();
        bucket(&st, "bk", Some("Enabled"), None).await;
        let id = create(&st, "c", Some("CRC32")).await;
        let p1 = vec![9u8; MIN_PART_BYTES as usize];
        let p2 = b"end".to_vec();
        let o1 = part(&st, "c", &id, 1, p1.clone()).await.unwrap();
        let o2 = part(&st, "c", &id, 2, p2.clone()).await.unwrap();
        let c1 = o1.checksum_crc32.clone().unwrap();
        let c2 = o2.checksum_crc32.clone().unwrap();
        let out = complete(
            &st,
            "c",
            &id,
            &[(1, &o1.e_tag.unwrap()), (2, &o2.e_tag.unwrap())],
        )
        .await
        .unwrap();
        assert!(out.version_id.is_some());
        use base64::Engine;
        let b64 = base64::engine::general_purpose::STANDARD;
        let mut cat = b64.decode(&c1).unwrap();
        cat.extend(b64.decode(&c2).unwrap());
        let want = format!("{}-2", b64.encode(s3s::crypto::Crc32::checksum(&cat)));
        assert_eq!(out.checksum_crc32.as_deref(), Some(want.as_str()));
        assert_eq!(
            out.checksum_type.as_ref().map(|t| t.as_str()),
            Some("COMPOSITE")
        );

        // CRC combination equals the CRC of the whole.
        let mut whole = p1.clone();
        whole.extend_from_slice(&p2);
        for (alg, full) in [
            (
                "CRC32",
                u64::from(u32::from_be_bytes(s3s::crypto::Crc32::checksum(&whole))),
            ),
            (
                "CRC32C",
                u64::from(u32::from_be_bytes(s3s::crypto::Crc32c::checksum(&whole))),
            ),
            (
                "CRC64NVME",
                u64::from_be_bytes(s3s::crypto::Crc64Nvme::checksum(&whole)),
            ),
        ] {
            let crc = |d: &[u8]| match alg {
                "CRC32" => u64::from(u32::from_be_bytes(s3s::crypto::Crc32::checksum(d))),
                "CRC32C" => u64::from(u32::from_be_bytes(s3s::crypto::Crc32c::checksum(d))),
                _ => u64::from_be_bytes(s3s::crypto::Crc64Nvme::checksum(d)),
            };
            let got = crc_combine(alg, crc(&p1), crc(&p2), p2.len() as u64).unwrap();
            assert_eq!(got, full, "{alg}");
        }

        // A wrong part checksum in the completion request is an InvalidPart.
        let id = create(&st, "c2", Some("CRC32")).await;
        let o1 = part(&st, "c2", &id, 1, b"x".to_vec()).await.unwrap();
        let e = complete_multipart_upload(
            &st,
            req(CompleteMultipartUploadInput {
                bucket: "bk".into(),
                key: "c2".into(),
                upload_id: id,
                multipart_upload: Some(CompletedMultipartUpload {
                    parts: Some(vec![CompletedPart {
                        part_number: Some(1),
                        e_tag: o1.e_tag,
                        checksum_crc32: Some("AAAAAA==".into()),
                        ..Default::default()
                    }]),
                }),
                ..Default::default()
            }),
        )
        .await
        .unwrap_err();
        assert_eq!(*e.code(), S3ErrorCode::InvalidPart);
    }

    #[tokio::test]
    async fn ten_thousand_parts_complete_in_one_transaction() {
        let st = state();
        bucket(&st, "bk", None, None).await;
        let id = create(&st, "huge", None).await;
        // Part records as UploadPart leaves them (the bodies are not read by Complete).
        let id2 = id.clone();
        st.db
            .write(move |t| -> Result<(), Error> {
                for n in 1..=MAX_PART_NUMBER {
                    let p = Part {
                        part_number: n,
                        size: MIN_PART_BYTES,
                        etag: format!("\"{:032x}\"", n),
                        last_modified_ms: 0,
                        blob: BlobRef {
                            id: format!("blob{n:05}"),
                            size: MIN_PART_BYTES,
                            inline: false,
                        },
                        checksum: None,
                    };
                    t.put(&keys::part(&id2, n), &encode(&p))?;
                    t.put(&keys::blob_ref(&p.blob.id), b"")?;
                }
                Ok(())
            })
            .await
            .unwrap();
        let etags: Vec<ETag> = (1..=MAX_PART_NUMBER)
            .map(|n| ETag::Strong(format!("{n:032x}")))
            .collect();
        let parts: Vec<(i32, &ETag)> = etags
            .iter()
            .enumerate()
            .map(|(i, e)| (i as i32 + 1, e))
            .collect();
        let out = complete(&st, "huge", &id, &parts).await.unwrap();
        assert!(out.e_tag.unwrap().value().ends_with("-10000"));
        let snap = st.db.snapshot().unwrap();
        let ver = write::latest_version(snap.as_ref(), "bk", "huge")
            .unwrap()
            .unwrap();
        assert_eq!(ver.size, MIN_PART_BYTES * 10_000);
        assert_eq!(ver.blobs.len(), 10_000);
        assert_eq!(ver.blobs[9_999].id, "blob10000");
        assert!(snap.get(&keys::part(&id, 10_000)).unwrap().is_none());
        // A part number past the limit is refused before any body is read.
        let id = create(&st, "huge", None).await;
        let e = part(&st, "huge", &id, 10_001, vec![]).await.unwrap_err();
        assert_eq!(*e.code(), S3ErrorCode::InvalidArgument);
    }

    #[tokio::test]
    async fn upload_part_copy_copies_a_range() {
        let st = state();
        bucket(&st, "bk", None, None).await;
        // A source object made by a one-part upload.
        let src: Vec<u8> = (0..200_000u32).map(|i| (i % 199) as u8).collect();
        let id = create(&st, "src", None).await;
        let e = part(&st, "src", &id, 1, src.clone())
            .await
            .unwrap()
            .e_tag
            .unwrap();
        complete(&st, "src", &id, &[(1, &e)]).await.unwrap();

        let id = create(&st, "dst", None).await;
        let copy = |range: Option<&str>, if_match: Option<&str>| {
            let mut b = UploadPartCopyInput::builder();
            b.set_bucket("bk".into());
            b.set_key("dst".into());
            b.set_upload_id(id.clone());
            b.set_part_number(1);
            b.set_copy_source(CopySource::Bucket {
                bucket: "bk".into(),
                key: "src".into(),
                version_id: None,
            });
            b.set_copy_source_range(range.map(str::to_string));
            b.set_copy_source_if_match(
                if_match.map(|m| ETagCondition::ETag(ETag::Strong(m.into()))),
            );
            let input = b.build().unwrap();
            let st = st.clone();
            async move { upload_part_copy(&st, req(input)).await.map(|r| r.output) }
        };
        let out = copy(Some("bytes=10-99999"), None).await.unwrap();
        let etag = out.copy_part_result.unwrap().e_tag.unwrap();
        assert_eq!(etag.value(), hex::encode(md5_of(&src[10..100_000])));
        let e = copy(Some("bytes=0-200000"), None).await.unwrap_err();
        assert_eq!(*e.code(), S3ErrorCode::InvalidArgument);
        assert_eq!(
            e.message(),
            Some("Range specified is not valid for source object of size: 200000")
        );
        let e = copy(Some("0-5"), None).await.unwrap_err();
        assert_eq!(*e.code(), S3ErrorCode::InvalidArgument);
        let e = copy(None, Some("abc")).await.unwrap_err();
        assert_eq!(*e.code(), S3ErrorCode::PreconditionFailed);
        let out = complete(&st, "dst", &id, &[(1, &etag)]).await.unwrap();
        assert!(out.e_tag.unwrap().value().ends_with("-1"));
        let snap = st.db.snapshot().unwrap();
        let ver = write::latest_version(snap.as_ref(), "bk", "dst")
            .unwrap()
            .unwrap();
        assert_eq!(
            collect(body::read_blobs(&st, &ver.blobs, 0, ver.size)).await,
            src[10..100_000]
        );
    }
}
