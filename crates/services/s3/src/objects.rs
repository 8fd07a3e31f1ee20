//! Objects: PutObject, GetObject, HeadObject, DeleteObject(s), CopyObject, PostObject.
//!
//! Every write is: body in ([`body::store_body`], durable before anything refers to
//! it) → ONE store transaction (bucket check, conditions, inline bytes, the version via
//! [`write::put_version`]) → publish the blob (or abandon it when the commit failed).
//! Reads take one snapshot for the version and its inline bytes, then stream.

use std::collections::BTreeMap;

use nimbus_store::ReadTxn;
use s3s::dto::*;
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result};

use crate::body::{self, Expect, StoredBody, MAX_PUT_BYTES};
use crate::buckets::{canned_grants, err, validate_tags};
use crate::error::{no_such_key, Error};
use crate::meta::{Acl, BucketMeta, Checksum, ObjectVersion};
use crate::notify;
use crate::{write, Caller, S3State, UnverifiedTrailers};

/// S3's limit on user-defined metadata: the UTF-8 bytes of every key and value.
pub const MAX_USER_METADATA_BYTES: usize = 2 * 1024;

/// DeleteObjects takes at most this many keys.
pub const MAX_DELETE_KEYS: usize = 1000;

/// Object tags per object.
const MAX_OBJECT_TAGS: usize = 10;

const DEFAULT_CONTENT_TYPE: &str = "binary/octet-stream";

// ---------------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------------

fn timestamp(ms: i64) -> Timestamp {
    let nanos = i128::from(ms) * 1_000_000;
    time::OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
        .into()
}

fn secs_of(t: &Timestamp) -> i64 {
    time::OffsetDateTime::from(t.clone()).unix_timestamp()
}

fn unquote(s: &str) -> &str {
    s.strip_prefix('"')
        .and_then(|x| x.strip_suffix('"'))
        .unwrap_or(s)
}

fn etag_dto(stored: &str) -> ETag {
    ETag::Strong(unquote(stored).to_string())
}

fn http_date(t: &Timestamp) -> Option<String> {
    let mut buf = Vec::new();
    t.format(TimestampFormat::HttpDate, &mut buf).ok()?;
    String::from_utf8(buf).ok()
}

fn precondition_failed() -> S3Error {
    S3Error::with_message(
        S3ErrorCode::PreconditionFailed,
        "At least one of the pre-conditions you specified did not hold",
    )
}

fn not_modified(ver: &ObjectVersion) -> S3Error {
    let mut e = S3Error::with_message(S3ErrorCode::NotModified, "Not Modified");
    let mut h = http::HeaderMap::new();
    if let Ok(v) = http::HeaderValue::from_str(&ver.etag) {
        h.insert(http::header::ETAG, v);
    }
    if let Some(d) = http_date(&timestamp(ver.last_modified_ms)) {
        if let Ok(v) = http::HeaderValue::from_str(&d) {
            h.insert(http::header::LAST_MODIFIED, v);
        }
    }
    e.set_headers(h);
    e
}

fn invalid_argument(msg: &str) -> S3Error {
    err("InvalidArgument", msg, 400)
}

fn invalid_request(msg: &str) -> S3Error {
    err("InvalidRequest", msg, 400)
}

fn invalid_version_id() -> S3Error {
    invalid_argument("Invalid version id specified")
}

fn no_such_version() -> S3Error {
    S3Error::with_message(
        S3ErrorCode::NoSuchVersion,
        "The specified version does not exist.",
    )
}

/// Whether a version id is one nimbus could have made (`null` or 32 hex digits).
fn well_formed_version_id(v: &str) -> bool {
    v == "null" || crate::meta::seq_of_version_id(v).is_some()
}

fn snapshot(state: &S3State) -> S3Result<Box<dyn ReadTxn + Send>> {
    state.db.snapshot().map_err(|e| Error::Store(e).into_s3())
}

/// The five checksum fields of an output, in the order crc32, crc32c, crc64nvme, sha1,
/// sha256.
type ChecksumFields = [Option<String>; 5];

fn checksum_fields(c: &Option<Checksum>) -> ChecksumFields {
    let mut out: ChecksumFields = Default::default();
    if let Some(c) = c {
        let i = match c.algorithm.as_str() {
            "CRC32" => 0,
            "CRC32C" => 1,
            "CRC64NVME" => 2,
            "SHA1" => 3,
            "SHA256" => 4,
            _ => return out,
        };
        if let Some(slot) = out.get_mut(i) {
            *slot = Some(c.value.clone());
        }
    }
    out
}

fn checksum_type(c: &Option<Checksum>) -> Option<ChecksumType> {
    c.as_ref().map(|c| ChecksumType::from(c.kind.clone()))
}

/// The version id to report: any id in a bucket that has (had) versioning, none in a
/// bucket that never had it.
fn reported_version_id(bucket: &BucketMeta, ver: &ObjectVersion) -> Option<String> {
    (bucket.versioning.is_some() || ver.version_id != "null").then(|| ver.version_id.clone())
}

/// The caller must own the bucket, unless anonymous (an anonymous request got past the
/// access check through a public ACL).
fn check_owner(bucket: &BucketMeta, caller: &Option<Caller>) -> Result<(), Error> {
    check_owner_account(&bucket.account_id, caller)
}

/// [`check_owner`] with only the owning account at hand.
fn check_owner_account(owner: &str, caller: &Option<Caller>) -> Result<(), Error> {
    match caller {
        Some(c) if c.account_id != owner => {
            Err(Error::S3(err("AccessDenied", "Access Denied", 403)))
        }
        _ => Ok(()),
    }
}

/// A closure returning the request's trailing headers once its body was read.
fn trailers_fn<T>(req: &S3Request<T>) -> impl Fn() -> Option<http::HeaderMap> + Send + Sync {
    let verified = req.trailing_headers.clone();
    let unverified = req.extensions.get::<UnverifiedTrailers>().cloned();
    move || {
        if let Some(h) = verified.as_ref().and_then(|t| t.take()) {
            return Some(h);
        }
        unverified.as_ref().and_then(|u| u.0.lock().take())
    }
}

/// Percent-encodes a key for a URL path (keeps `/` and the unreserved characters).
fn path_encode(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for &b in key.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Decodes `%XX` and `+` of a URL-encoded form value.
fn form_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b.get(i) {
            Some(b'+') => {
                out.push(b' ');
                i += 1;
            }
            Some(b'%') => {
                let hex = b
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(v) => {
                        out.push(v);
                        i += 3;
                    }
                    None => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            Some(&c) => {
                out.push(c);
                i += 1;
            }
            None => break,
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The `x-amz-tagging` header (`k1=v1&k2=v2`, URL-encoded).
fn parse_tagging(header: &Option<String>) -> S3Result<Vec<(String, String)>> {
    let Some(h) = header else {
        return Ok(Vec::new());
    };
    let mut tags = Vec::new();
    for pair in h.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        tags.push(Tag {
            key: Some(form_decode(k)),
            value: Some(form_decode(v)),
        });
    }
    validate_tags(&tags, MAX_OBJECT_TAGS, "Object")
}

fn user_metadata(meta: &Option<Metadata>) -> S3Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    let mut bytes = 0usize;
    if let Some(m) = meta {
        for (k, v) in m {
            bytes += k.len() + v.len();
            out.insert(k.to_ascii_lowercase(), v.clone());
        }
    }
    if bytes > MAX_USER_METADATA_BYTES {
        return Err(err(
            "MetadataTooLarge",
            "Your metadata headers exceed the maximum allowed metadata size.",
            400,
        ));
    }
    Ok(out)
}

fn object_acl(acl: &Option<ObjectCannedACL>) -> S3Result<Option<Acl>> {
    let Some(c) = acl else {
        return Ok(None);
    };
    let grants = canned_grants(c.as_str()).ok_or_else(|| invalid_argument("Invalid canned ACL"))?;
    Ok(Some(Acl {
        canned: Some(c.as_str().to_string()),
        grants,
    }))
}

fn storage_class(sc: &Option<StorageClass>) -> S3Result<Option<String>> {
    let Some(sc) = sc else {
        return Ok(None);
    };
    const KNOWN: [&str; 10] = [
        "STANDARD",
        "REDUCED_REDUNDANCY",
        "STANDARD_IA",
        "ONEZONE_IA",
        "INTELLIGENT_TIERING",
        "GLACIER",
        "DEEP_ARCHIVE",
        "GLACIER_IR",
        "OUTPOSTS",
        "EXPRESS_ONEZONE",
    ];
    if !KNOWN.contains(&sc.as_str()) {
        return Err(err(
            "InvalidStorageClass",
            "The storage class you specified is not valid",
            400,
        ));
    }
    Ok(Some(sc.as_str().to_string()))
}

fn sse(requested: &Option<ServerSideEncryption>) -> S3Result<String> {
    match requested.as_ref().map(ServerSideEncryption::as_str) {
        None | Some("AES256") => Ok("AES256".to_string()),
        // KMS is accepted and reported, but the bytes are stored as with SSE-S3.
        Some(s @ ("aws:kms" | "aws:kms:dsse")) => Ok(s.to_string()),
        Some(_) => Err(invalid_argument(
            "The encryption method specified is not supported",
        )),
    }
}

/// System metadata from request fields.
struct SystemMeta<'a> {
    content_type: &'a Option<String>,
    content_encoding: &'a Option<String>,
    content_language: &'a Option<String>,
    content_disposition: &'a Option<String>,
    cache_control: &'a Option<String>,
    expires: &'a Option<Timestamp>,
    website_redirect_location: &'a Option<String>,
}

fn system_metadata(m: SystemMeta<'_>) -> S3Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    let mut put = |k: &str, v: &Option<String>| {
        if let Some(v) = v {
            out.insert(k.to_string(), v.clone());
        }
    };
    put("content-type", m.content_type);
    put("content-encoding", m.content_encoding);
    put("content-language", m.content_language);
    put("content-disposition", m.content_disposition);
    put("cache-control", m.cache_control);
    if let Some(r) = m.website_redirect_location {
        if !(r.starts_with('/') || r.starts_with("http://") || r.starts_with("https://")) {
            return Err(invalid_argument(
                "The website redirect location must have a prefix of 'http://' or 'https://' or '/'.",
            ));
        }
        put("website-redirect-location", m.website_redirect_location);
    }
    if let Some(e) = m.expires.as_ref().and_then(http_date) {
        out.insert("expires".to_string(), e);
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------
// The shared write path
// ---------------------------------------------------------------------------------

/// Conditions of a conditional write.
#[derive(Clone, Default)]
struct WriteConditions {
    if_match: Option<ETagCondition>,
    if_none_match: Option<ETagCondition>,
}

fn check_write_conditions(
    txn: &dyn ReadTxn,
    bucket: &str,
    key: &str,
    c: &WriteConditions,
) -> Result<(), Error> {
    if c.if_match.is_none() && c.if_none_match.is_none() {
        return Ok(());
    }
    let current = write::latest_version(txn, bucket, key)?.filter(|v| !v.delete_marker);
    if let Some(m) = &c.if_match {
        let Some(cur) = &current else {
            return Err(Error::S3(no_such_key()));
        };
        if !etag_condition_matches(m, &cur.etag) {
            return Err(Error::S3(precondition_failed()));
        }
    }
    if let Some(m) = &c.if_none_match {
        if !m.is_any() {
            return Err(Error::S3(err(
                "NotImplemented",
                "A header you provided implies functionality that is not implemented",
                501,
            )));
        }
        if current.is_some() {
            return Err(Error::S3(precondition_failed()));
        }
    }
    Ok(())
}

fn etag_condition_matches(c: &ETagCondition, stored: &str) -> bool {
    match c {
        ETagCondition::Any => true,
        ETagCondition::ETag(e) => e.value() == unquote(stored),
    }
}

struct Committed {
    ver: ObjectVersion,
    bucket: BucketMeta,
    /// Notifications written with the change.
    notified: usize,
}

/// Commits `template` (body fields filled from `body`) as the newest version of `key`,
/// then publishes the body; abandons the body if the commit fails.
#[allow(clippy::too_many_arguments)]
async fn commit_object(
    state: &S3State,
    bucket: &str,
    caller: &Option<Caller>,
    mut template: ObjectVersion,
    body: StoredBody,
    conditions: WriteConditions,
    event: notify::EventName,
    origin: notify::Origin,
) -> S3Result<Committed> {
    template.size = body.size;
    template.etag = body.etag();
    template.blobs = vec![body.blob.clone()];
    template.parts = Vec::new();
    template.checksum = body.checksum.clone();
    template.last_modified_ms = state.clock.now_millis();
    let bucket_name = bucket.to_string();
    let caller2 = caller.clone();
    let body2 = body.clone();
    let res = state
        .db
        .write(move |txn| -> Result<Committed, Error> {
            let b = write::require_bucket(txn, &bucket_name)?;
            check_owner(&b, &caller2)?;
            check_write_conditions(txn, &bucket_name, &template.key, &conditions)?;
            body2.write_inline(txn)?;
            let mut ver = template.clone();
            write::put_version(txn, &b, &mut ver)?;
            let notified = notify::record(
                txn,
                &b,
                event,
                &notify::ObjectRef::written(&ver),
                &origin,
                ver.last_modified_ms,
            )?;
            Ok(Committed {
                ver,
                bucket: b,
                notified,
            })
        })
        .await;
    match res {
        Ok(c) => {
            body.publish(state).await;
            state.notifications.after_commit(c.notified);
            Ok(c)
        }
        Err(e) => {
            body.abandon(state).await;
            Err(e.into_s3())
        }
    }
}

/// Refuses early (before reading a byte of the body) what the commit would refuse anyway:
/// a missing bucket, another account's bucket. The owner comes from [`S3State::owners`]
/// when known; the commit reads the bucket again and decides.
fn precheck_bucket(state: &S3State, bucket: &str, caller: &Option<Caller>) -> S3Result<()> {
    let owner = match state.owners.get(bucket) {
        Some(owner) => owner,
        None => {
            let snap = snapshot(state)?;
            let b = write::require_bucket(snap.as_ref(), bucket)?;
            state.owners.remember(bucket, &b.account_id);
            b.account_id
        }
    };
    Ok(check_owner_account(&owner, caller)?)
}

// ---------------------------------------------------------------------------------
// PutObject / PostObject
// ---------------------------------------------------------------------------------

pub async fn put_object(
    state: &S3State,
    mut req: S3Request<PutObjectInput>,
) -> S3Result<S3Response<PutObjectOutput>> {
    let caller = state.caller(&req);
    let input = &mut req.input;
    if input.write_offset_bytes.is_some() {
        return Err(err(
            "NotImplemented",
            "A header you provided implies functionality that is not implemented",
            501,
        ));
    }
    let user = user_metadata(&input.metadata)?;
    let system = system_metadata(SystemMeta {
        content_type: &input.content_type,
        content_encoding: &input.content_encoding,
        content_language: &input.content_language,
        content_disposition: &input.content_disposition,
        cache_control: &input.cache_control,
        expires: &input.expires,
        website_redirect_location: &input.website_redirect_location,
    })?;
    let tags = parse_tagging(&input.tagging)?;
    let acl = object_acl(&input.acl)?;
    let storage = storage_class(&input.storage_class)?;
    let sse = sse(&input.server_side_encryption)?;
    precheck_bucket(state, &input.bucket, &caller)?;
    let conditions = WriteConditions {
        if_match: input.if_match.clone(),
        if_none_match: input.if_none_match.clone(),
    };
    if conditions.if_none_match.is_some() || conditions.if_match.is_some() {
        // Fail fast, before the body is read; the commit checks again.
        let snap = snapshot(state)?;
        check_write_conditions(snap.as_ref(), &input.bucket, &input.key, &conditions)?;
    }

    let mut expect = Expect::from_headers(&req.headers, MAX_PUT_BYTES);
    if expect.length.is_none() && !body::is_aws_chunked(&req.headers) {
        // No Content-Length header seen (s3s may have taken it from elsewhere).
        expect.length = req.input.content_length.and_then(|l| u64::try_from(l).ok());
    }
    if expect.checksum_algorithm.is_none() {
        expect.checksum_algorithm = req
            .input
            .checksum_algorithm
            .as_ref()
            .map(|a| a.as_str().to_string());
    }
    let tf = trailers_fn(&req);
    let body_stream = req.input.body.take();
    let body = body::store_body(state, body_stream, expect, &tf).await?;

    let input = &req.input;
    let template = ObjectVersion {
        key: input.key.clone(),
        system,
        user,
        storage_class: storage,
        tags,
        acl,
        owner_account: S3State::account_or_root(&caller),
        sse: Some(sse.clone()),
        ..Default::default()
    };
    let origin = state.origin(&req, &caller);
    let input = &req.input;
    let c = commit_object(
        state,
        &input.bucket,
        &caller,
        template,
        body,
        conditions,
        notify::EventName::Put,
        origin,
    )
    .await?;
    let [crc32, crc32c, crc64nvme, sha1, sha256] = checksum_fields(&c.ver.checksum);
    let out = PutObjectOutput {
        e_tag: Some(etag_dto(&c.ver.etag)),
        version_id: reported_version_id(&c.bucket, &c.ver),
        server_side_encryption: Some(ServerSideEncryption::from(sse)),
        checksum_crc32: crc32,
        checksum_crc32c: crc32c,
        checksum_crc64nvme: crc64nvme,
        checksum_sha1: sha1,
        checksum_sha256: sha256,
        checksum_type: checksum_type(&c.ver.checksum),
        ..Default::default()
    };
    Ok(S3Response::new(out))
}

pub async fn post_object(
    state: &S3State,
    mut req: S3Request<PostObjectInput>,
) -> S3Result<S3Response<PostObjectOutput>> {
    let caller = state.caller(&req);
    let input = &req.input;
    let user = user_metadata(&input.metadata)?;
    let system = system_metadata(SystemMeta {
        content_type: &input.content_type,
        content_encoding: &input.content_encoding,
        content_language: &input.content_language,
        content_disposition: &input.content_disposition,
        cache_control: &input.cache_control,
        expires: &input.expires,
        website_redirect_location: &input.website_redirect_location,
    })?;
    let tags = parse_tagging(&input.tagging)?;
    let acl = object_acl(&input.acl)?;
    let storage = storage_class(&input.storage_class)?;
    let sse = sse(&input.server_side_encryption)?;
    precheck_bucket(state, &input.bucket, &caller)?;
    let checksum_value = [
        ("CRC32", &input.checksum_crc32),
        ("CRC32C", &input.checksum_crc32c),
        ("CRC64NVME", &input.checksum_crc64nvme),
        ("SHA1", &input.checksum_sha1),
        ("SHA256", &input.checksum_sha256),
    ]
    .into_iter()
    .find_map(|(a, v)| v.clone().map(|v| (a.to_string(), v)));
    let expect = Expect {
        content_md5: input.content_md5.clone(),
        checksum_algorithm: input
            .checksum_algorithm
            .as_ref()
            .map(|a| a.as_str().to_string()),
        checksum_value,
        length: None,
        max_bytes: MAX_PUT_BYTES,
    };
    let conditions = WriteConditions {
        if_match: input.if_match.clone(),
        if_none_match: input.if_none_match.clone(),
    };
    let body_stream = req.input.body.take();
    let body = body::store_body(state, body_stream, expect, &|| None).await?;
    // `${filename}` in the key is the uploaded file's name (s3s has read the whole form
    // by now, so the gateway has seen the file part's headers).
    if req.input.key.contains("${filename}") {
        let name = req
            .extensions
            .get::<crate::PostFileName>()
            .and_then(|n| n.0.lock().clone())
            .unwrap_or_default();
        req.input.key = req.input.key.replace("${filename}", &name);
    }
    let input = &req.input;
    let template = ObjectVersion {
        key: input.key.clone(),
        system,
        user,
        storage_class: storage,
        tags,
        acl,
        owner_account: S3State::account_or_root(&caller),
        sse: Some(sse.clone()),
        ..Default::default()
    };
    let origin = state.origin(&req, &caller);
    let input = &req.input;
    let c = commit_object(
        state,
        &input.bucket,
        &caller,
        template,
        body,
        conditions,
        notify::EventName::Post,
        origin,
    )
    .await?;
    let [crc32, crc32c, crc64nvme, sha1, sha256] = checksum_fields(&c.ver.checksum);
    // s3s writes the status and (for 201) the XML; S3 also sends these headers.
    let mut headers = http::HeaderMap::new();
    if let Ok(v) = http::HeaderValue::from_str(&c.ver.etag) {
        headers.insert(http::header::ETAG, v);
    }
    let host = req
        .headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    let location = format!("http://{host}/{}/{}", input.bucket, path_encode(&input.key));
    if let Ok(v) = http::HeaderValue::from_str(&location) {
        headers.insert(http::header::LOCATION, v);
    }
    if let Some(v) = reported_version_id(&c.bucket, &c.ver) {
        if let Ok(v) = http::HeaderValue::from_str(&v) {
            headers.insert("x-amz-version-id", v);
        }
    }
    let mut resp = S3Response::new(PostObjectOutput {
        e_tag: Some(etag_dto(&c.ver.etag)),
        version_id: reported_version_id(&c.bucket, &c.ver),
        server_side_encryption: Some(ServerSideEncryption::from(sse)),
        checksum_crc32: crc32,
        checksum_crc32c: crc32c,
        checksum_crc64nvme: crc64nvme,
        checksum_sha1: sha1,
        checksum_sha256: sha256,
        checksum_type: checksum_type(&c.ver.checksum),
        ..Default::default()
    });
    resp.headers = headers;
    Ok(resp)
}

// ---------------------------------------------------------------------------------
// GetObject / HeadObject
// ---------------------------------------------------------------------------------

/// An error S3 answers for a key whose current version is a delete marker (404) or for
/// a version id that names one (405), with the delete-marker headers.
fn delete_marker_error(ver: &ObjectVersion, by_version_id: bool, bucket: &BucketMeta) -> S3Error {
    let mut e = if by_version_id {
        S3Error::with_message(
            S3ErrorCode::MethodNotAllowed,
            "The specified method is not allowed against this resource.",
        )
    } else {
        no_such_key()
    };
    let mut h = http::HeaderMap::new();
    h.insert(
        "x-amz-delete-marker",
        http::HeaderValue::from_static("true"),
    );
    if let Some(v) = reported_version_id(bucket, ver) {
        if let Ok(v) = http::HeaderValue::from_str(&v) {
            h.insert("x-amz-version-id", v);
        }
    }
    if by_version_id {
        h.insert(
            http::header::ALLOW,
            http::HeaderValue::from_static("DELETE"),
        );
        if let Some(d) = http_date(&timestamp(ver.last_modified_ms)) {
            if let Ok(v) = http::HeaderValue::from_str(&d) {
                h.insert(http::header::LAST_MODIFIED, v);
            }
        }
    }
    e.set_headers(h);
    e
}

/// Finds the version a read names (the newest, or `version_id`).
fn find_version(
    snap: &dyn ReadTxn,
    bucket: &str,
    key: &str,
    version_id: Option<&str>,
    caller: &Option<Caller>,
) -> S3Result<(BucketMeta, ObjectVersion)> {
    let b = write::require_bucket(snap, bucket)?;
    check_owner(&b, caller)?;
    match version_id {
        Some(v) => {
            if !well_formed_version_id(v) {
                return Err(invalid_version_id());
            }
            let ver = write::get_version(snap, bucket, key, v)?.ok_or_else(no_such_version)?;
            if ver.delete_marker {
                return Err(delete_marker_error(&ver, true, &b));
            }
            Ok((b, ver))
        }
        None => {
            let ver = write::latest_version(snap, bucket, key)?.ok_or_else(no_such_key)?;
            if ver.delete_marker {
                return Err(delete_marker_error(&ver, false, &b));
            }
            Ok((b, ver))
        }
    }
}

/// The read conditions, evaluated with S3's precedence: If-Match wins over
/// If-Unmodified-Since, If-None-Match over If-Modified-Since.
struct ReadConditions<'a> {
    if_match: &'a Option<ETagCondition>,
    if_none_match: &'a Option<ETagCondition>,
    if_modified_since: &'a Option<Timestamp>,
    if_unmodified_since: &'a Option<Timestamp>,
}

fn check_read_conditions(ver: &ObjectVersion, c: &ReadConditions<'_>, now_ms: i64) -> S3Result<()> {
    let modified_s = ver.last_modified_ms.div_euclid(1000);
    match c.if_match {
        Some(m) => {
            if !etag_condition_matches(m, &ver.etag) {
                return Err(precondition_failed());
            }
        }
        None => {
            if let Some(t) = c.if_unmodified_since {
                if modified_s > secs_of(t) {
                    return Err(precondition_failed());
                }
            }
        }
    }
    match c.if_none_match {
        Some(m) => {
            if etag_condition_matches(m, &ver.etag) {
                return Err(not_modified(ver));
            }
        }
        None => {
            if let Some(t) = c.if_modified_since {
                // A date in the future is ignored (as HTTP says).
                if modified_s <= secs_of(t) && secs_of(t) <= now_ms.div_euclid(1000) {
                    return Err(not_modified(ver));
                }
            }
        }
    }
    Ok(())
}

/// What part of the body a read returns.
struct Slice {
    offset: u64,
    len: u64,
    content_range: Option<String>,
    parts_count: Option<i32>,
}

fn select_slice(
    ver: &ObjectVersion,
    range: &Option<Range>,
    part_number: Option<i32>,
) -> S3Result<Slice> {
    let size = ver.size;
    if let Some(pn) = part_number {
        if range.is_some() {
            return Err(invalid_request(
                "Cannot specify both Range header and partNumber query parameter",
            ));
        }
        if !(1..=10_000).contains(&pn) {
            return Err(invalid_argument(
                "Part number must be an integer between 1 and 10000, inclusive",
            ));
        }
        if ver.parts.is_empty() {
            if pn != 1 {
                return Err(err(
                    "InvalidPartNumber",
                    "The requested partnumber is not satisfiable",
                    416,
                ));
            }
            return Ok(Slice {
                offset: 0,
                len: size,
                content_range: (size > 0).then(|| format!("bytes 0-{}/{size}", size - 1)),
                parts_count: None,
            });
        }
        let idx = usize::try_from(pn - 1).unwrap_or(usize::MAX);
        let Some(part) = ver.parts.get(idx) else {
            return Err(err(
                "InvalidPartNumber",
                "The requested partnumber is not satisfiable",
                416,
            ));
        };
        let offset: u64 = ver.parts.iter().take(idx).map(|p| p.size).sum();
        let len = part.size;
        return Ok(Slice {
            offset,
            len,
            content_range: (len > 0).then(|| format!("bytes {offset}-{}/{size}", offset + len - 1)),
            parts_count: i32::try_from(ver.parts.len()).ok(),
        });
    }
    match range {
        None => Ok(Slice {
            offset: 0,
            len: size,
            content_range: None,
            parts_count: None,
        }),
        Some(r) => match r.check(size) {
            Ok(rg) => Ok(Slice {
                offset: rg.start,
                len: rg.end - rg.start,
                content_range: Some(format!("bytes {}-{}/{size}", rg.start, rg.end - 1)),
                parts_count: None,
            }),
            Err(_) => {
                let mut e = S3Error::with_message(
                    S3ErrorCode::InvalidRange,
                    "The requested range is not satisfiable",
                );
                let mut h = http::HeaderMap::new();
                if let Ok(v) = http::HeaderValue::from_str(&format!("bytes */{size}")) {
                    h.insert(http::header::CONTENT_RANGE, v);
                }
                e.set_headers(h);
                Err(e)
            }
        },
    }
}

/// Response header values of a version after `response-*` overrides.
struct Presented {
    content_type: String,
    content_encoding: Option<String>,
    content_language: Option<String>,
    content_disposition: Option<String>,
    cache_control: Option<String>,
    expires: Option<Timestamp>,
    website_redirect_location: Option<String>,
    metadata: Option<Metadata>,
    storage_class: Option<StorageClass>,
}

struct Overrides<'a> {
    content_type: &'a Option<String>,
    content_encoding: &'a Option<String>,
    content_language: &'a Option<String>,
    content_disposition: &'a Option<String>,
    cache_control: &'a Option<String>,
    expires: &'a Option<Timestamp>,
}

impl Overrides<'_> {
    fn any(&self) -> bool {
        self.content_type.is_some()
            || self.content_encoding.is_some()
            || self.content_language.is_some()
            || self.content_disposition.is_some()
            || self.cache_control.is_some()
            || self.expires.is_some()
    }
}

fn present(ver: &ObjectVersion, o: Option<&Overrides<'_>>) -> Presented {
    let sys = |k: &str| ver.system.get(k).cloned();
    let pick =
        |over: Option<&Option<String>>, k: &str| over.and_then(|x| x.clone()).or_else(|| sys(k));
    let expires = match o.and_then(|o| o.expires.clone()) {
        Some(t) => Some(t),
        None => sys("expires").and_then(|s| Timestamp::parse(TimestampFormat::HttpDate, &s).ok()),
    };
    Presented {
        content_type: pick(o.map(|o| o.content_type), "content-type")
            .unwrap_or_else(|| DEFAULT_CONTENT_TYPE.to_string()),
        content_encoding: pick(o.map(|o| o.content_encoding), "content-encoding"),
        content_language: pick(o.map(|o| o.content_language), "content-language"),
        content_disposition: pick(o.map(|o| o.content_disposition), "content-disposition"),
        cache_control: pick(o.map(|o| o.cache_control), "cache-control"),
        expires,
        website_redirect_location: sys("website-redirect-location"),
        metadata: (!ver.user.is_empty()).then(|| {
            ver.user
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        }),
        storage_class: ver
            .storage_class
            .as_ref()
            .filter(|s| s.as_str() != "STANDARD")
            .map(|s| StorageClass::from(s.clone())),
    }
}

fn checksum_enabled(mode: &Option<ChecksumMode>) -> bool {
    mode.as_ref()
        .is_some_and(|m| m.as_str().eq_ignore_ascii_case("ENABLED"))
}

pub async fn get_object(
    state: &S3State,
    req: S3Request<GetObjectInput>,
) -> S3Result<S3Response<GetObjectOutput>> {
    let caller = state.caller(&req);
    let input = &req.input;
    let overrides = Overrides {
        content_type: &input.response_content_type,
        content_encoding: &input.response_content_encoding,
        content_language: &input.response_content_language,
        content_disposition: &input.response_content_disposition,
        cache_control: &input.response_cache_control,
        expires: &input.response_expires,
    };
    if overrides.any() && caller.is_none() {
        return Err(invalid_request(
            "Request specific response headers cannot be used for anonymous GET requests.",
        ));
    }
    let snap = snapshot(state)?;
    let (bucket, ver) = find_version(
        snap.as_ref(),
        &input.bucket,
        &input.key,
        input.version_id.as_deref(),
        &caller,
    )?;
    check_read_conditions(
        &ver,
        &ReadConditions {
            if_match: &input.if_match,
            if_none_match: &input.if_none_match,
            if_modified_since: &input.if_modified_since,
            if_unmodified_since: &input.if_unmodified_since,
        },
        state.clock.now_millis(),
    )?;
    let slice = select_slice(&ver, &input.range, input.part_number)?;
    let p = present(&ver, Some(&overrides));
    let whole = slice.offset == 0 && slice.len == ver.size;
    let [crc32, crc32c, crc64nvme, sha1, sha256] =
        if checksum_enabled(&input.checksum_mode) && whole {
            checksum_fields(&ver.checksum)
        } else {
            Default::default()
        };
    let body = body::read_blobs_at(state, snap.as_ref(), &ver.blobs, slice.offset, slice.len);
    let out = GetObjectOutput {
        body: Some(body),
        accept_ranges: Some("bytes".to_string()),
        content_length: i64::try_from(slice.len).ok(),
        content_range: slice.content_range,
        parts_count: slice.parts_count,
        content_type: Some(p.content_type),
        content_encoding: p.content_encoding,
        content_language: p.content_language,
        content_disposition: p.content_disposition,
        cache_control: p.cache_control,
        expires: p.expires,
        website_redirect_location: p.website_redirect_location,
        metadata: p.metadata,
        storage_class: p.storage_class,
        e_tag: Some(etag_dto(&ver.etag)),
        last_modified: Some(timestamp(ver.last_modified_ms)),
        version_id: reported_version_id(&bucket, &ver),
        server_side_encryption: ver.sse.clone().map(ServerSideEncryption::from),
        tag_count: (!ver.tags.is_empty()).then(|| i32::try_from(ver.tags.len()).unwrap_or(0)),
        checksum_type: if crc32.is_some()
            || crc32c.is_some()
            || crc64nvme.is_some()
            || sha1.is_some()
            || sha256.is_some()
        {
            checksum_type(&ver.checksum)
        } else {
            None
        },
        checksum_crc32: crc32,
        checksum_crc32c: crc32c,
        checksum_crc64nvme: crc64nvme,
        checksum_sha1: sha1,
        checksum_sha256: sha256,
        ..Default::default()
    };
    Ok(S3Response::new(out))
}

pub async fn head_object(
    state: &S3State,
    req: S3Request<HeadObjectInput>,
) -> S3Result<S3Response<HeadObjectOutput>> {
    let caller = state.caller(&req);
    let input = &req.input;
    let overrides = Overrides {
        content_type: &input.response_content_type,
        content_encoding: &input.response_content_encoding,
        content_language: &input.response_content_language,
        content_disposition: &input.response_content_disposition,
        cache_control: &input.response_cache_control,
        expires: &input.response_expires,
    };
    let snap = snapshot(state)?;
    let (bucket, ver) = find_version(
        snap.as_ref(),
        &input.bucket,
        &input.key,
        input.version_id.as_deref(),
        &caller,
    )?;
    check_read_conditions(
        &ver,
        &ReadConditions {
            if_match: &input.if_match,
            if_none_match: &input.if_none_match,
            if_modified_since: &input.if_modified_since,
            if_unmodified_since: &input.if_unmodified_since,
        },
        state.clock.now_millis(),
    )?;
    let slice = select_slice(&ver, &input.range, input.part_number)?;
    let p = present(&ver, Some(&overrides));
    let [crc32, crc32c, crc64nvme, sha1, sha256] =
        if checksum_enabled(&input.checksum_mode) && input.part_number.is_none() {
            checksum_fields(&ver.checksum)
        } else {
            Default::default()
        };
    let has_checksum = crc32.is_some()
        || crc32c.is_some()
        || crc64nvme.is_some()
        || sha1.is_some()
        || sha256.is_some();
    let mut resp = S3Response::new(HeadObjectOutput {
        accept_ranges: Some("bytes".to_string()),
        content_length: i64::try_from(slice.len).ok(),
        content_range: slice.content_range.clone(),
        parts_count: slice.parts_count,
        content_type: Some(p.content_type),
        content_encoding: p.content_encoding,
        content_language: p.content_language,
        content_disposition: p.content_disposition,
        cache_control: p.cache_control,
        expires: p.expires,
        website_redirect_location: p.website_redirect_location,
        metadata: p.metadata,
        storage_class: p.storage_class,
        e_tag: Some(etag_dto(&ver.etag)),
        last_modified: Some(timestamp(ver.last_modified_ms)),
        version_id: reported_version_id(&bucket, &ver),
        server_side_encryption: ver.sse.clone().map(ServerSideEncryption::from),
        checksum_type: if has_checksum {
            checksum_type(&ver.checksum)
        } else {
            None
        },
        checksum_crc32: crc32,
        checksum_crc32c: crc32c,
        checksum_crc64nvme: crc64nvme,
        checksum_sha1: sha1,
        checksum_sha256: sha256,
        ..Default::default()
    });
    if slice.content_range.is_some() {
        resp.status = Some(http::StatusCode::PARTIAL_CONTENT);
    }
    Ok(resp)
}

// ---------------------------------------------------------------------------------
// DeleteObject / DeleteObjects
// ---------------------------------------------------------------------------------

/// The outcome of deleting one key.
#[derive(Debug, Clone, Default, PartialEq)]
struct Deleted {
    /// A delete marker was created, or the version removed was one.
    delete_marker: bool,
    /// The version id to report (the marker's, or the one removed).
    version_id: Option<String>,
    /// Notifications written with the change.
    notified: usize,
}

/// Deletes inside the caller's transaction, as DeleteObject does.
fn delete_in_txn(
    txn: &mut dyn nimbus_store::WriteTxn,
    b: &BucketMeta,
    key: &str,
    version_id: Option<&str>,
    owner_account: &str,
    now_ms: i64,
    origin: &notify::Origin,
) -> Result<Deleted, Error> {
    // A removal is announced when something was removed (S3 sends nothing for a key
    // that did not exist).
    let announce_removal =
        |txn: &mut dyn nimbus_store::WriteTxn, removed: &ObjectVersion| -> Result<usize, Error> {
            let object = notify::ObjectRef {
                key,
                size: None,
                etag: None,
                version_id: Some(removed.version_id.as_str()),
                seq: None,
            };
            notify::record(txn, b, notify::EventName::Delete, &object, origin, now_ms)
        };
    match version_id {
        Some(v) => {
            if !well_formed_version_id(v) {
                return Err(Error::S3(invalid_version_id()));
            }
            let removed = write::delete_version(txn, &b.name, key, v)?;
            let notified = match &removed {
                Some(r) => announce_removal(txn, r)?,
                None => 0,
            };
            Ok(Deleted {
                delete_marker: removed.is_some_and(|r| r.delete_marker),
                version_id: Some(v.to_string()),
                notified,
            })
        }
        None => {
            if b.versioning.is_none() {
                let removed = write::delete_version(txn, &b.name, key, "null")?;
                let notified = match &removed {
                    Some(r) => announce_removal(txn, r)?,
                    None => 0,
                };
                return Ok(Deleted {
                    notified,
                    ..Deleted::default()
                });
            }
            // Enabled: a new marker; Suspended: a `null` marker replacing the null version.
            let mut marker = ObjectVersion {
                key: key.to_string(),
                delete_marker: true,
                last_modified_ms: now_ms,
                owner_account: owner_account.to_string(),
                ..Default::default()
            };
            write::put_version(txn, b, &mut marker)?;
            let notified = notify::record(
                txn,
                b,
                notify::EventName::DeleteMarkerCreated,
                &notify::ObjectRef::written(&marker),
                origin,
                now_ms,
            )?;
            Ok(Deleted {
                delete_marker: true,
                version_id: Some(marker.version_id),
                notified,
            })
        }
    }
}

pub async fn delete_object(
    state: &S3State,
    req: S3Request<DeleteObjectInput>,
) -> S3Result<S3Response<DeleteObjectOutput>> {
    let caller = state.caller(&req);
    let origin = state.origin(&req, &caller);
    let input = req.input;
    let owner = S3State::account_or_root(&caller);
    let now_ms = state.clock.now_millis();
    let if_match = input.if_match.clone();
    let d = state
        .db
        .write(move |txn| -> Result<Deleted, Error> {
            let b = write::require_bucket(txn, &input.bucket)?;
            check_owner(&b, &caller)?;
            if let Some(m) = &if_match {
                let cur = write::latest_version(txn, &input.bucket, &input.key)?
                    .filter(|v| !v.delete_marker)
                    .ok_or_else(|| Error::S3(no_such_key()))?;
                if !etag_condition_matches(m, &cur.etag) {
                    return Err(Error::S3(precondition_failed()));
                }
            }
            delete_in_txn(
                txn,
                &b,
                &input.key,
                input.version_id.as_deref(),
                &owner,
                now_ms,
                &origin,
            )
        })
        .await?;
    state.notifications.after_commit(d.notified);
    Ok(S3Response::new(DeleteObjectOutput {
        delete_marker: d.delete_marker.then_some(true),
        version_id: d.version_id,
        ..Default::default()
    }))
}

pub async fn delete_objects(
    state: &S3State,
    req: S3Request<DeleteObjectsInput>,
) -> S3Result<S3Response<DeleteObjectsOutput>> {
    let caller = state.caller(&req);
    let origin = state.origin(&req, &caller);
    let input = req.input;
    let objects = input.delete.objects;
    if objects.is_empty() || objects.len() > MAX_DELETE_KEYS {
        return Err(S3Error::with_message(
            S3ErrorCode::MalformedXML,
            "The XML you provided was not well-formed or did not validate against our published schema",
        ));
    }
    let quiet = input.delete.quiet.unwrap_or(false);
    let owner = S3State::account_or_root(&caller);
    let now_ms = state.clock.now_millis();
    let bucket = input.bucket;
    let idents: Vec<(String, Option<String>)> = objects
        .iter()
        .map(|o| (o.key.clone(), o.version_id.clone()))
        .collect();
    let results = state
        .db
        .write(move |txn| -> Result<Vec<Result<Deleted, S3Error>>, Error> {
            let b = write::require_bucket(txn, &bucket)?;
            check_owner(&b, &caller)?;
            let mut out = Vec::with_capacity(objects.len());
            for o in &objects {
                let r = delete_in_txn(
                    txn,
                    &b,
                    &o.key,
                    o.version_id.as_deref(),
                    &owner,
                    now_ms,
                    &origin,
                );
                match r {
                    Ok(d) => out.push(Ok(d)),
                    Err(Error::S3(e)) => out.push(Err(e)),
                    Err(other) => return Err(other),
                }
            }
            Ok(out)
        })
        .await?;
    state.notifications.after_commit(
        results
            .iter()
            .map(|r| r.as_ref().map_or(0, |d| d.notified))
            .sum(),
    );
    let mut deleted = Vec::new();
    let mut errors = Vec::new();
    for ((key, version_id), r) in idents.into_iter().zip(results) {
        match r {
            Ok(d) => {
                if quiet {
                    continue;
                }
                // For a new marker, S3 reports its id as DeleteMarkerVersionId; for a
                // removed version, the id asked for as VersionId.
                let (vid, marker_vid) = match (&version_id, d.delete_marker) {
                    (None, true) => (None, d.version_id.clone()),
                    (Some(_), true) => (version_id.clone(), version_id.clone()),
                    _ => (version_id.clone(), None),
                };
                deleted.push(DeletedObject {
                    key: Some(key),
                    version_id: vid,
                    delete_marker: d.delete_marker.then_some(true),
                    delete_marker_version_id: marker_vid,
                });
            }
            Err(e) => errors.push(s3s::dto::Error {
                code: Some(e.code().as_str().to_string()),
                key: Some(key),
                message: e.message().map(str::to_string),
                version_id,
            }),
        }
    }
    Ok(S3Response::new(DeleteObjectsOutput {
        deleted: Some(deleted),
        errors: (!errors.is_empty()).then_some(errors),
        ..Default::default()
    }))
}

// ---------------------------------------------------------------------------------
// CopyObject
// ---------------------------------------------------------------------------------

/// The largest source a CopyObject may copy (S3's limit; larger ones need
/// UploadPartCopy).
pub const MAX_COPY_SOURCE_BYTES: u64 = 5 * 1024 * 1024 * 1024;

/// The conditional copy headers, evaluated with S3's precedence (if-match wins over
/// if-unmodified-since, if-none-match over if-modified-since); every failure is 412.
fn check_copy_conditions(src: &ObjectVersion, input: &CopyObjectInput) -> S3Result<()> {
    let modified_s = src.last_modified_ms.div_euclid(1000);
    match &input.copy_source_if_match {
        Some(m) => {
            if !etag_condition_matches(m, &src.etag) {
                return Err(precondition_failed());
            }
        }
        None => {
            if let Some(t) = &input.copy_source_if_unmodified_since {
                if modified_s > secs_of(t) {
                    return Err(precondition_failed());
                }
            }
        }
    }
    match &input.copy_source_if_none_match {
        Some(m) => {
            if etag_condition_matches(m, &src.etag) {
                return Err(precondition_failed());
            }
        }
        None => {
            if let Some(t) = &input.copy_source_if_modified_since {
                if modified_s <= secs_of(t) {
                    return Err(precondition_failed());
                }
            }
        }
    }
    Ok(())
}

pub async fn copy_object(
    state: &S3State,
    req: S3Request<CopyObjectInput>,
) -> S3Result<S3Response<CopyObjectOutput>> {
    let caller = state.caller(&req);
    let input = &req.input;
    let (src_bucket, src_key, src_version) = match &input.copy_source {
        CopySource::Bucket {
            bucket,
            key,
            version_id,
        } => (
            bucket.to_string(),
            key.to_string(),
            version_id.as_deref().map(str::to_string),
        ),
        _ => {
            return Err(invalid_argument(
                "Copy Source must mention the source bucket and key: sourcebucket/sourcekey",
            ))
        }
    };
    let replace_meta = match input
        .metadata_directive
        .as_ref()
        .map(MetadataDirective::as_str)
    {
        None | Some("COPY") => false,
        Some("REPLACE") => true,
        Some(_) => return Err(invalid_argument("Unknown metadata directive.")),
    };
    let replace_tags = match input
        .tagging_directive
        .as_ref()
        .map(TaggingDirective::as_str)
    {
        None | Some("COPY") => false,
        Some("REPLACE") => true,
        Some(_) => return Err(invalid_argument("Unknown tagging directive.")),
    };
    let new_storage = storage_class(&input.storage_class)?;
    let sse_alg = sse(&input.server_side_encryption)?;
    let acl = object_acl(&input.acl)?;
    precheck_bucket(state, &input.bucket, &caller)?;

    let snap = snapshot(state)?;
    let src_b = write::require_bucket(snap.as_ref(), &src_bucket)?;
    check_owner(&src_b, &caller)?;
    let src = match &src_version {
        Some(v) => {
            if !well_formed_version_id(v) {
                return Err(invalid_version_id());
            }
            let ver = write::get_version(snap.as_ref(), &src_bucket, &src_key, v)?
                .ok_or_else(no_such_version)?;
            if ver.delete_marker {
                return Err(invalid_request(
                    "The source of a copy request may not specifically refer to a delete marker by version id.",
                ));
            }
            ver
        }
        None => write::latest_version(snap.as_ref(), &src_bucket, &src_key)?
            .filter(|v| !v.delete_marker)
            .ok_or_else(no_such_key)?,
    };
    check_copy_conditions(&src, input)?;
    if src.size > MAX_COPY_SOURCE_BYTES {
        return Err(invalid_request(&format!(
            "The specified copy source is larger than the maximum allowable size for a copy source: {MAX_COPY_SOURCE_BYTES}"
        )));
    }
    let same_object = src_bucket == input.bucket && src_key == input.key;
    let is_current = src_version.is_none()
        || write::latest_version(snap.as_ref(), &src_bucket, &src_key)?
            .is_some_and(|l| Some(&l.version_id) == src_version.as_ref());
    if same_object
        && is_current
        && !replace_meta
        && new_storage.is_none()
        && input.website_redirect_location.is_none()
        && input.server_side_encryption.is_none()
    {
        return Err(invalid_request(
            "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.",
        ));
    }

    let (system, user) = if replace_meta {
        (
            system_metadata(SystemMeta {
                content_type: &input.content_type,
                content_encoding: &input.content_encoding,
                content_language: &input.content_language,
                content_disposition: &input.content_disposition,
                cache_control: &input.cache_control,
                expires: &input.expires,
                website_redirect_location: &input.website_redirect_location,
            })?,
            user_metadata(&input.metadata)?,
        )
    } else {
        let mut system = src.system.clone();
        // The redirect is not copied unless given again (it belongs to the request).
        system.remove("website-redirect-location");
        if let Some(r) = &input.website_redirect_location {
            system.insert("website-redirect-location".to_string(), r.clone());
        }
        (system, src.user.clone())
    };
    let tags = if replace_tags {
        parse_tagging(&input.tagging)?
    } else {
        src.tags.clone()
    };

    // The bytes are copied into a new body (a new blob per version keeps GC simple);
    // the checksum is the one asked for, else the source's algorithm recomputed over the
    // whole object.
    let checksum_algorithm = input
        .checksum_algorithm
        .as_ref()
        .map(|a| a.as_str().to_string())
        .or_else(|| src.checksum.as_ref().map(|c| c.algorithm.clone()));
    let stream = body::read_blobs_at(state, snap.as_ref(), &src.blobs, 0, src.size);
    drop(snap);
    let expect = Expect {
        checksum_algorithm,
        length: Some(src.size),
        max_bytes: MAX_COPY_SOURCE_BYTES,
        ..Default::default()
    };
    let body = body::store_body(state, Some(stream), expect, &|| None).await?;
    if body.size != src.size {
        body.abandon(state).await;
        return Err(Error::Corrupt("copy source changed size while copying".into()).into_s3());
    }
    let template = ObjectVersion {
        key: input.key.clone(),
        system,
        user,
        storage_class: new_storage,
        tags,
        acl,
        owner_account: S3State::account_or_root(&caller),
        sse: Some(sse_alg.clone()),
        ..Default::default()
    };
    let c = commit_object(
        state,
        &input.bucket,
        &caller,
        template,
        body,
        WriteConditions::default(),
        notify::EventName::Copy,
        state.origin(&req, &caller),
    )
    .await?;
    let [crc32, crc32c, crc64nvme, sha1, sha256] = checksum_fields(&c.ver.checksum);
    Ok(S3Response::new(CopyObjectOutput {
        copy_object_result: Some(CopyObjectResult {
            e_tag: Some(etag_dto(&c.ver.etag)),
            last_modified: Some(timestamp(c.ver.last_modified_ms)),
            checksum_type: checksum_type(&c.ver.checksum),
            checksum_crc32: crc32,
            checksum_crc32c: crc32c,
            checksum_crc64nvme: crc64nvme,
            checksum_sha1: sha1,
            checksum_sha256: sha256,
        }),
        copy_source_version_id: reported_version_id(&src_b, &src),
        version_id: reported_version_id(&c.bucket, &c.ver),
        server_side_encryption: Some(ServerSideEncryption::from(sse_alg)),
        ..Default::default()
    }))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::keys;
    use crate::UnverifiedRoot;
    use bytes::Bytes;
    use futures::StreamExt;
    use nimbus_core::ManualClock;
    use std::sync::Arc;

    const T0: i64 = 1_700_000_000_000;

    fn req<T>(input: T) -> S3Request<T> {
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

    fn setup() -> (Arc<S3State>, Arc<ManualClock>) {
        let clock = Arc::new(ManualClock::new(T0));
        (S3State::for_tests(clock.clone()), clock)
    }

    async fn make_bucket(st: &S3State, name: &str, versioning: Option<&str>) {
        let b = BucketMeta {
            name: name.to_string(),
            account_id: nimbus_core::ROOT_ACCOUNT_ID.to_string(),
            region: "us-east-1".into(),
            created_ms: T0,
            versioning: versioning.map(str::to_string),
            mfa_delete: None,
            object_lock_enabled: false,
            ownership: None,
            acl: None,
            tags: vec![],
        };
        st.db
            .write(move |t| -> Result<(), Error> {
                t.put(&keys::bucket(&b.name), &crate::error::encode(&b))?;
                Ok(())
            })
            .await
            .unwrap();
    }

    fn blob(data: &[u8]) -> Option<StreamingBlob> {
        let chunks: Vec<Result<Bytes, std::io::Error>> = data
            .chunks(50_000)
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .collect();
        Some(StreamingBlob::wrap(futures::stream::iter(chunks)))
    }

    async fn put(st: &S3State, bucket: &str, key: &str, data: &[u8]) -> PutObjectOutput {
        let input = PutObjectInput::builder()
            .bucket(bucket.into())
            .key(key.into())
            .body(blob(data))
            .build()
            .unwrap();
        put_object(st, req(input)).await.unwrap().output
    }

    fn get_input(bucket: &str, key: &str) -> GetObjectInput {
        GetObjectInput::builder()
            .bucket(bucket.into())
            .key(key.into())
            .build()
            .unwrap()
    }

    async fn get_with(st: &S3State, input: GetObjectInput) -> S3Result<(GetObjectOutput, Vec<u8>)> {
        let mut out = get_object(st, req(input)).await?.output;
        let mut data = Vec::new();
        if let Some(mut b) = out.body.take() {
            while let Some(c) = b.next().await {
                data.extend_from_slice(&c.unwrap());
            }
        }
        Ok((out, data))
    }

    async fn get(st: &S3State, bucket: &str, key: &str) -> S3Result<(GetObjectOutput, Vec<u8>)> {
        get_with(st, get_input(bucket, key)).await
    }

    fn pattern(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 7 % 251) as u8).collect()
    }

    #[tokio::test]
    async fn upload_prechecks_use_known_owners_and_the_commit_decides() {
        let (st, _) = setup();
        let input = |bucket: &str| {
            PutObjectInput::builder()
                .bucket(bucket.into())
                .key("k".into())
                .body(blob(b"data"))
                .build()
                .unwrap()
        };
        // A missing bucket is not remembered: once it exists, uploads go through.
        let e = put_object(&st, req(input("later"))).await.unwrap_err();
        assert_eq!(e.code(), &S3ErrorCode::NoSuchBucket);
        assert_eq!(st.owners.get("later"), None);
        make_bucket(&st, "later", None).await;
        put(&st, "later", "k", b"one").await;
        assert_eq!(
            st.owners.get("later").as_deref(),
            Some(nimbus_core::ROOT_ACCOUNT_ID)
        );
        // The bucket goes away behind the cache's back (another node): the precheck
        // passes on the remembered owner, the commit refuses, nothing is written.
        st.db
            .write(|t| -> Result<(), Error> {
                t.delete(&keys::bucket("later"))?;
                Ok(())
            })
            .await
            .unwrap();
        let e = put_object(&st, req(input("later"))).await.unwrap_err();
        assert_eq!(e.code(), &S3ErrorCode::NoSuchBucket);
        // Another account's bucket (the caller here is the root account) is refused
        // before the body is read, from the remembered owner alone.
        st.owners.remember("theirs", "111111111111");
        let e = put_object(&st, req(input("theirs"))).await.unwrap_err();
        assert_eq!(e.code(), &S3ErrorCode::AccessDenied);
    }

    #[tokio::test]
    async fn put_then_get_small_and_large_objects() {
        let (st, _) = setup();
        make_bucket(&st, "bk", None).await;
        let out = put(&st, "bk", "small", b"hello world").await;
        assert_eq!(
            out.e_tag,
            Some(ETag::Strong("5eb63bbbe01eeed093cb22bb8f5acdc3".into()))
        );
        assert_eq!(out.version_id, None);
        let (o, data) = get(&st, "bk", "small").await.unwrap();
        assert_eq!(data, b"hello world");
        assert_eq!(o.content_length, Some(11));
        assert_eq!(o.content_type.as_deref(), Some("binary/octet-stream"));
        assert_eq!(o.last_modified, Some(timestamp(T0)));

        let big = pattern(300_000);
        put(&st, "bk", "big", &big).await;
        let (o, data) = get(&st, "bk", "big").await.unwrap();
        assert_eq!(data, big);
        assert_eq!(o.content_length, Some(300_000));

        let e = get(&st, "bk", "nope").await.unwrap_err();
        assert_eq!(*e.code(), S3ErrorCode::NoSuchKey);
        let e = get(&st, "nobucket", "x").await.unwrap_err();
        assert_eq!(*e.code(), S3ErrorCode::NoSuchBucket);
    }

    #[tokio::test]
    async fn overwrite_marks_old_blob_garbage_and_reaper_reclaims_it() {
        let (st, _) = setup();
        make_bucket(&st, "bk", None).await;
        put(&st, "bk", "k", &pattern(100_000)).await;
        let snap = st.db.snapshot().unwrap();
        let v1 = write::latest_version(snap.as_ref(), "bk", "k")
            .unwrap()
            .unwrap();
        drop(snap);
        put(&st, "bk", "k", b"new").await;
        let old_id = v1.blobs[0].id.clone();
        assert!(st.blobs.exists(&old_id).await.unwrap());
        assert_eq!(crate::gc::reap_once(&st).await.unwrap(), 1);
        assert!(!st.blobs.exists(&old_id).await.unwrap());
        assert_eq!(get(&st, "bk", "k").await.unwrap().1, b"new");
    }

    #[tokio::test]
    async fn metadata_and_system_headers_roundtrip() {
        let (st, _) = setup();
        make_bucket(&st, "bk", None).await;
        let mut meta = Metadata::new();
        meta.insert("Color".into(), "blue".into());
        let input = PutObjectInput::builder()
            .bucket("bk".into())
            .key("k".into())
            .body(blob(b"x"))
            .content_type(Some("text/plain".into()))
            .cache_control(Some("max-age=60".into()))
            .content_disposition(Some("attachment".into()))
            .metadata(Some(meta))
            .storage_class(Some(StorageClass::from_static("STANDARD_IA")))
            .tagging(Some("a=1&b=two%20words".into()))
            .build()
            .unwrap();
        put_object(&st, req(input)).await.unwrap();
        let (o, _) = get(&st, "bk", "k").await.unwrap();
        assert_eq!(o.content_type.as_deref(), Some("text/plain"));
        assert_eq!(o.cache_control.as_deref(), Some("max-age=60"));
        assert_eq!(o.content_disposition.as_deref(), Some("attachment"));
        assert_eq!(
            o.metadata.unwrap().get("color").map(String::as_str),
            Some("blue")
        );
        assert_eq!(o.storage_class.unwrap().as_str(), "STANDARD_IA");
        assert_eq!(o.tag_count, Some(2));

        let mut input = get_input("bk", "k");
        input.response_content_type = Some("application/json".into());
        let (o, _) = get_with(&st, input).await.unwrap();
        assert_eq!(o.content_type.as_deref(), Some("application/json"));

        let mut big = Metadata::new();
        big.insert("k".into(), "v".repeat(2048));
        let input = PutObjectInput::builder()
            .bucket("bk".into())
            .key("k2".into())
            .metadata(Some(big))
            .build()
            .unwrap();
        let e = put_object(&st, req(input)).await.unwrap_err();
        assert_eq!(e.code().as_str(), "MetadataTooLarge");
    }

    #[tokio::test]
    async fn ranges_and_conditions() {
        let (st, clock) = setup();
        make_bucket(&st, "bk", None).await;
        let data = pattern(100_000);
        let etag = put(&st, "bk", "k", &data).await.e_tag.unwrap();
        clock.advance_millis(10_000);

        let mut i = get_input("bk", "k");
        i.range = Some(Range::Int {
            first: 10,
            last: Some(19),
        });
        let (o, d) = get_with(&st, i).await.unwrap();
        assert_eq!(d, data[10..20]);
        assert_eq!(o.content_range.as_deref(), Some("bytes 10-19/100000"));
        assert_eq!(o.content_length, Some(10));

        let mut i = get_input("bk", "k");
        i.range = Some(Range::Suffix { length: 5 });
        assert_eq!(get_with(&st, i).await.unwrap().1, data[99_995..]);
        let mut i = get_input("bk", "k");
        i.range = Some(Range::Int {
            first: 99_990,
            last: None,
        });
        assert_eq!(get_with(&st, i).await.unwrap().1, data[99_990..]);
        let mut i = get_input("bk", "k");
        i.range = Some(Range::Int {
            first: 100_000,
            last: None,
        });
        let e = get_with(&st, i).await.unwrap_err();
        assert_eq!(*e.code(), S3ErrorCode::InvalidRange);
        assert_eq!(
            e.status_code(),
            Some(http::StatusCode::RANGE_NOT_SATISFIABLE)
        );

        let mut i = get_input("bk", "k");
        i.if_none_match = Some(ETagCondition::ETag(etag.clone()));
        assert_eq!(
            *get_with(&st, i).await.unwrap_err().code(),
            S3ErrorCode::NotModified
        );
        let mut i = get_input("bk", "k");
        i.if_match = Some(ETagCondition::ETag(ETag::Strong("other".into())));
        assert_eq!(
            *get_with(&st, i).await.unwrap_err().code(),
            S3ErrorCode::PreconditionFailed
        );
        // If-Match true wins over a failing If-Unmodified-Since.
        let mut i = get_input("bk", "k");
        i.if_match = Some(ETagCondition::ETag(etag.clone()));
        i.if_unmodified_since = Some(timestamp(T0 - 100_000));
        assert!(get_with(&st, i).await.is_ok());
        let mut i = get_input("bk", "k");
        i.if_unmodified_since = Some(timestamp(T0 - 100_000));
        assert_eq!(
            *get_with(&st, i).await.unwrap_err().code(),
            S3ErrorCode::PreconditionFailed
        );
        let mut i = get_input("bk", "k");
        i.if_modified_since = Some(timestamp(T0 + 1000));
        assert_eq!(
            *get_with(&st, i).await.unwrap_err().code(),
            S3ErrorCode::NotModified
        );
        let mut i = get_input("bk", "k");
        i.if_modified_since = Some(timestamp(T0 - 100_000));
        assert!(get_with(&st, i).await.is_ok());
    }

    #[tokio::test]
    async fn conditional_writes() {
        let (st, _) = setup();
        make_bucket(&st, "bk", None).await;
        let mk = |key: &str, inm: Option<ETagCondition>, im: Option<ETagCondition>| {
            PutObjectInput::builder()
                .bucket("bk".into())
                .key(key.into())
                .body(blob(b"v"))
                .if_none_match(inm)
                .if_match(im)
                .build()
                .unwrap()
        };
        put_object(&st, req(mk("k", Some(ETagCondition::Any), None)))
            .await
            .unwrap();
        let e = put_object(&st, req(mk("k", Some(ETagCondition::Any), None)))
            .await
            .unwrap_err();
        assert_eq!(*e.code(), S3ErrorCode::PreconditionFailed);
        let e = put_object(
            &st,
            req(mk(
                "k",
                None,
                Some(ETagCondition::ETag(ETag::Strong("zz".into()))),
            )),
        )
        .await
        .unwrap_err();
        assert_eq!(*e.code(), S3ErrorCode::PreconditionFailed);
        let e = put_object(&st, req(mk("missing", None, Some(ETagCondition::Any))))
            .await
            .unwrap_err();
        assert_eq!(*e.code(), S3ErrorCode::NoSuchKey);
        put_object(
            &st,
            req(mk(
                "k",
                None,
                Some(ETagCondition::ETag(ETag::Strong(
                    "9e3669d19b675bd57058fd4664205d2a".into(),
                ))),
            )),
        )
        .await
        .unwrap();
    }

    fn del(bucket: &str, key: &str, version_id: Option<&str>) -> DeleteObjectInput {
        DeleteObjectInput::builder()
            .bucket(bucket.into())
            .key(key.into())
            .version_id(version_id.map(str::to_string))
            .build()
            .unwrap()
    }

    #[tokio::test]
    async fn versioned_deletes_make_markers_and_versions_stay_readable() {
        let (st, _) = setup();
        make_bucket(&st, "bk", Some("Enabled")).await;
        let v1 = put(&st, "bk", "k", b"one").await.version_id.unwrap();
        let v2 = put(&st, "bk", "k", b"two").await.version_id.unwrap();
        assert_ne!(v1, v2);
        let d = delete_object(&st, req(del("bk", "k", None)))
            .await
            .unwrap()
            .output;
        assert_eq!(d.delete_marker, Some(true));
        let marker = d.version_id.unwrap();

        let e = get(&st, "bk", "k").await.unwrap_err();
        assert_eq!(*e.code(), S3ErrorCode::NoSuchKey);
        let mut i = get_input("bk", "k");
        i.version_id = Some(v1.clone());
        assert_eq!(get_with(&st, i).await.unwrap().1, b"one");
        let mut i = get_input("bk", "k");
        i.version_id = Some(marker.clone());
        let e = get_with(&st, i).await.unwrap_err();
        assert_eq!(*e.code(), S3ErrorCode::MethodNotAllowed);
        let mut i = get_input("bk", "k");
        i.version_id = Some("bogus".into());
        assert_eq!(
            get_with(&st, i).await.unwrap_err().code().as_str(),
            "InvalidArgument"
        );
        let mut i = get_input("bk", "k");
        i.version_id = Some(crate::meta::version_id_for(999, 1));
        assert_eq!(
            *get_with(&st, i).await.unwrap_err().code(),
            S3ErrorCode::NoSuchVersion
        );

        // Removing the marker brings v2 back.
        let d = delete_object(&st, req(del("bk", "k", Some(&marker))))
            .await
            .unwrap()
            .output;
        assert_eq!(d.delete_marker, Some(true));
        assert_eq!(get(&st, "bk", "k").await.unwrap().1, b"two");
        delete_object(&st, req(del("bk", "k", Some(&v2))))
            .await
            .unwrap();
        assert_eq!(get(&st, "bk", "k").await.unwrap().1, b"one");
    }

    #[tokio::test]
    async fn suspended_and_unversioned_deletes() {
        let (st, _) = setup();
        make_bucket(&st, "plain", None).await;
        put(&st, "plain", "k", b"x").await;
        let d = delete_object(&st, req(del("plain", "k", None)))
            .await
            .unwrap()
            .output;
        assert_eq!(d.delete_marker, None);
        assert_eq!(d.version_id, None);
        assert!(get(&st, "plain", "k").await.is_err());
        // Deleting what is not there is fine.
        delete_object(&st, req(del("plain", "k", None)))
            .await
            .unwrap();

        make_bucket(&st, "susp", Some("Suspended")).await;
        put(&st, "susp", "k", b"x").await;
        let d = delete_object(&st, req(del("susp", "k", None)))
            .await
            .unwrap()
            .output;
        assert_eq!(d.delete_marker, Some(true));
        assert_eq!(d.version_id.as_deref(), Some("null"));
    }

    #[tokio::test]
    async fn delete_objects_reports_per_key_and_quiet() {
        let (st, _) = setup();
        make_bucket(&st, "bk", None).await;
        put(&st, "bk", "a", b"1").await;
        put(&st, "bk", "b", b"2").await;
        let ids = |keys: &[(&str, Option<&str>)]| -> Vec<ObjectIdentifier> {
            keys.iter()
                .map(|(k, v)| ObjectIdentifier {
                    key: (*k).to_string(),
                    version_id: v.map(str::to_string),
                    e_tag: None,
                    last_modified_time: None,
                    size: None,
                })
                .collect()
        };
        let input = DeleteObjectsInput::builder()
            .bucket("bk".into())
            .delete(Delete {
                objects: ids(&[("a", None), ("b", None), ("c", Some("bad"))]),
                quiet: None,
            })
            .build()
            .unwrap();
        let out = delete_objects(&st, req(input)).await.unwrap().output;
        assert_eq!(out.deleted.unwrap().len(), 2);
        let errs = out.errors.unwrap();
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].key.as_deref(), Some("c"));
        assert!(get(&st, "bk", "a").await.is_err());

        let input = DeleteObjectsInput::builder()
            .bucket("bk".into())
            .delete(Delete {
                objects: ids(&[("x", None)]),
                quiet: Some(true),
            })
            .build()
            .unwrap();
        let out = delete_objects(&st, req(input)).await.unwrap().output;
        assert!(out.deleted.unwrap_or_default().is_empty());

        let many: Vec<(String, Option<&str>)> =
            (0..1001).map(|i| (format!("k{i}"), None)).collect();
        let refs: Vec<(&str, Option<&str>)> = many.iter().map(|(k, v)| (k.as_str(), *v)).collect();
        let input = DeleteObjectsInput::builder()
            .bucket("bk".into())
            .delete(Delete {
                objects: ids(&refs),
                quiet: None,
            })
            .build()
            .unwrap();
        let e = delete_objects(&st, req(input)).await.unwrap_err();
        assert_eq!(*e.code(), S3ErrorCode::MalformedXML);
    }

    fn copy_input(src: &str, bucket: &str, key: &str) -> CopyObjectInput {
        CopyObjectInput::builder()
            .bucket(bucket.into())
            .key(key.into())
            .copy_source(CopySource::parse(src).unwrap())
            .build()
            .unwrap()
    }

    #[tokio::test]
    async fn copy_object_copies_bytes_and_metadata() {
        let (st, _) = setup();
        make_bucket(&st, "bkt", None).await;
        let data = pattern(200_000);
        let mut meta = Metadata::new();
        meta.insert("a".into(), "1".into());
        let input = PutObjectInput::builder()
            .bucket("bkt".into())
            .key("src".into())
            .body(blob(&data))
            .content_type(Some("image/png".into()))
            .metadata(Some(meta))
            .build()
            .unwrap();
        let src_etag = put_object(&st, req(input)).await.unwrap().output.e_tag;
        let out = copy_object(&st, req(copy_input("bkt/src", "bkt", "dst")))
            .await
            .unwrap()
            .output;
        assert_eq!(out.copy_object_result.unwrap().e_tag, src_etag);
        let (o, d) = get(&st, "bkt", "dst").await.unwrap();
        assert_eq!(d, data);
        assert_eq!(o.content_type.as_deref(), Some("image/png"));
        assert_eq!(o.metadata.unwrap().get("a").map(String::as_str), Some("1"));

        // Copy onto itself without REPLACE is illegal; with REPLACE it changes metadata.
        let e = copy_object(&st, req(copy_input("bkt/src", "bkt", "src")))
            .await
            .unwrap_err();
        assert_eq!(e.code().as_str(), "InvalidRequest");
        let mut i = copy_input("bkt/src", "bkt", "src");
        i.metadata_directive = Some(MetadataDirective::from_static("REPLACE"));
        i.content_type = Some("text/plain".into());
        copy_object(&st, req(i)).await.unwrap();
        let (o, d) = get(&st, "bkt", "src").await.unwrap();
        assert_eq!(o.content_type.as_deref(), Some("text/plain"));
        assert!(o.metadata.is_none());
        assert_eq!(d, data);

        let mut i = copy_input("bkt/src", "bkt", "d2");
        i.copy_source_if_match = Some(ETagCondition::ETag(ETag::Strong("nope".into())));
        assert_eq!(
            *copy_object(&st, req(i)).await.unwrap_err().code(),
            S3ErrorCode::PreconditionFailed
        );
        let e = copy_object(&st, req(copy_input("bkt/missing", "bkt", "d3")))
            .await
            .unwrap_err();
        assert_eq!(*e.code(), S3ErrorCode::NoSuchKey);
    }

    #[tokio::test]
    async fn content_md5_mismatch_stores_nothing() {
        let (st, _) = setup();
        make_bucket(&st, "bk", None).await;
        let mut r = req(PutObjectInput::builder()
            .bucket("bk".into())
            .key("k".into())
            .body(blob(b"data"))
            .build()
            .unwrap());
        r.headers
            .insert("content-md5", "1B2M2Y8AsgTpgAmY7PhCfg==".parse().unwrap());
        let e = put_object(&st, r).await.unwrap_err();
        assert_eq!(*e.code(), S3ErrorCode::BadDigest);
        assert_eq!(
            *get(&st, "bk", "k").await.unwrap_err().code(),
            S3ErrorCode::NoSuchKey
        );
    }
}
