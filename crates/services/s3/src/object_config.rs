//! Per-version object settings: tagging, ACLs, and GetObjectAttributes.
//!
//! Tagging and ACL changes rewrite one version record in place (same seq, same
//! version id, same blobs) in one transaction: they change no body and make no new
//! version, as in S3. Also the ACL and tag parsing that CreateMultipartUpload shares.

use nimbus_store::{ReadTxn, WriteTxn};
use s3s::dto::*;
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result};

use crate::error::{encode, Error};
use crate::keys;
use crate::listing::{etag, owned_bucket, owner, snapshot, timestamp, version_owner};
use crate::meta::{self, Acl, BucketMeta, Grant, ObjectVersion};
use crate::notify;
use crate::write;
use crate::{S3State, ALL_USERS, AUTHENTICATED_USERS};

/// The `LogDelivery` group grantee URI.
const LOG_DELIVERY: &str = "http://acs.amazonaws.com/groups/s3/LogDelivery";

pub(crate) const MAX_TAGS: usize = 10;
const MAX_TAG_KEY_CHARS: usize = 128;
const MAX_TAG_VALUE_CHARS: usize = 256;

fn err(code: S3ErrorCode, msg: &str) -> S3Error {
    S3Error::with_message(code, msg.to_string())
}

/// An error code s3s does not know, with its status (s3s would answer 500).
fn custom(code: &str, msg: &str) -> S3Error {
    let mut e = err(S3ErrorCode::Custom(code.to_string().into()), msg);
    e.set_status_code(http::StatusCode::BAD_REQUEST);
    e
}

// ---------------------------------------------------------------------------------
// Version resolution and rewriting
// ---------------------------------------------------------------------------------

/// The version an object-level request addresses: the current one (a delete marker
/// there means `NoSuchKey`) or the one named by `versionId`.
pub(crate) fn resolve_version(
    txn: &dyn ReadTxn,
    bucket: &str,
    key: &str,
    version_id: Option<&str>,
) -> Result<ObjectVersion, Error> {
    match version_id.filter(|v| !v.is_empty()) {
        None => match write::latest_version(txn, bucket, key)? {
            Some(v) if !v.delete_marker => Ok(v),
            _ => Err(Error::S3(crate::error::no_such_key())),
        },
        Some(vid) => {
            if vid != "null" && meta::seq_of_version_id(vid).is_none() {
                return Err(Error::S3(err(
                    S3ErrorCode::InvalidArgument,
                    "Invalid version id specified",
                )));
            }
            match write::get_version(txn, bucket, key, vid)? {
                Some(v) if v.delete_marker => {
                    let mut e = err(
                        S3ErrorCode::MethodNotAllowed,
                        "The specified method is not allowed against this resource.",
                    );
                    e.set_status_code(http::StatusCode::METHOD_NOT_ALLOWED);
                    Err(Error::S3(e))
                }
                Some(v) => Ok(v),
                None => Err(Error::S3(err(
                    S3ErrorCode::NoSuchVersion,
                    "The specified version does not exist.",
                ))),
            }
        }
    }
}

/// Writes `ver` back under its own key (same seq and version id): a metadata-only
/// change to one version.
pub(crate) fn rewrite_version(
    txn: &mut dyn WriteTxn,
    bucket: &str,
    ver: &ObjectVersion,
) -> Result<(), Error> {
    txn.put(&keys::version(bucket, &ver.key, ver.seq), &encode(ver))?;
    Ok(())
}

/// `Some(id)` for the `x-amz-version-id` response header (never for `null` in a
/// bucket that never had versioning, as S3).
fn shown_version_id(bucket: &BucketMeta, ver: &ObjectVersion) -> Option<String> {
    (bucket.versioning.is_some() || ver.version_id != "null").then(|| ver.version_id.clone())
}

// ---------------------------------------------------------------------------------
// Tags
// ---------------------------------------------------------------------------------

/// Checks a tag set against S3's limits.
pub(crate) fn validate_tags(tags: &[(String, String)]) -> S3Result<()> {
    if tags.len() > MAX_TAGS {
        return Err(custom(
            "BadRequest",
            "Object tags cannot be greater than 10",
        ));
    }
    let invalid = |m: &str| err(S3ErrorCode::InvalidTag, m);
    let mut seen = std::collections::BTreeSet::new();
    for (k, v) in tags {
        if k.is_empty() {
            return Err(invalid("The TagKey you have provided is invalid"));
        }
        if k.chars().count() > MAX_TAG_KEY_CHARS {
            return Err(invalid("The TagKey you have provided is too long, max 128"));
        }
        if v.chars().count() > MAX_TAG_VALUE_CHARS {
            return Err(invalid(
                "The TagValue you have provided is too long, max 256",
            ));
        }
        if k.starts_with("aws:") {
            return Err(invalid("Your TagKey cannot be prefixed with aws:"));
        }
        if !seen.insert(k.as_str()) {
            return Err(invalid("Cannot provide multiple Tags with the same key"));
        }
    }
    Ok(())
}

/// Percent-decoding of a form-encoded component (`+` is a space).
fn form_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b.get(i).copied()? {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = s.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// Parses the `x-amz-tagging` header (`k1=v1&k2=v2`, URL-encoded) and validates it.
pub(crate) fn parse_tagging_header(header: &str) -> S3Result<Vec<(String, String)>> {
    let bad = || {
        err(
            S3ErrorCode::InvalidArgument,
            "The header 'x-amz-tagging' shall be encoded as UTF-8 then URLEncoded URL query parameters without tag name duplicates.",
        )
    };
    let mut tags = Vec::new();
    for pair in header.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let k = form_decode(k).ok_or_else(bad)?;
        let v = form_decode(v).ok_or_else(bad)?;
        if tags.iter().any(|(x, _): &(String, String)| *x == k) {
            return Err(bad());
        }
        tags.push((k, v));
    }
    validate_tags(&tags)?;
    Ok(tags)
}

fn tag_set(tags: &[(String, String)]) -> TagSet {
    tags.iter()
        .map(|(k, v)| Tag {
            key: Some(k.clone()),
            value: Some(v.clone()),
        })
        .collect()
}

pub async fn get_object_tagging(
    state: &S3State,
    req: S3Request<GetObjectTaggingInput>,
) -> S3Result<S3Response<GetObjectTaggingOutput>> {
    let caller = state.caller(&req);
    let input = req.input;
    let snap = snapshot(state)?;
    let bucket = owned_bucket(snap.as_ref(), &input.bucket, &caller)?;
    let ver = resolve_version(
        snap.as_ref(),
        &bucket.name,
        &input.key,
        input.version_id.as_deref(),
    )?;
    Ok(S3Response::new(GetObjectTaggingOutput {
        tag_set: tag_set(&ver.tags),
        version_id: shown_version_id(&bucket, &ver),
    }))
}

/// Replaces the tags of one version; returns the version id S3 shows.
#[allow(clippy::too_many_arguments)]
async fn set_tags(
    state: &S3State,
    caller: &Option<crate::Caller>,
    origin: notify::Origin,
    event: notify::EventName,
    bucket: String,
    key: String,
    version_id: Option<String>,
    tags: Vec<(String, String)>,
) -> S3Result<Option<String>> {
    owned_bucket(snapshot(state)?.as_ref(), &bucket, caller)?;
    let now_ms = state.clock.now_millis();
    let (shown, notified) = state
        .db
        .write(move |txn| -> Result<(Option<String>, usize), Error> {
            let b = write::require_bucket(txn, &bucket)?;
            let mut ver = resolve_version(txn, &bucket, &key, version_id.as_deref())?;
            ver.tags = tags.clone();
            rewrite_version(txn, &bucket, &ver)?;
            let object = notify::ObjectRef::changed(&ver);
            let notified = notify::record(txn, &b, event, &object, &origin, now_ms)?;
            Ok((shown_version_id(&b, &ver), notified))
        })
        .await?;
    state.notifications.after_commit(notified);
    Ok(shown)
}

pub async fn put_object_tagging(
    state: &S3State,
    req: S3Request<PutObjectTaggingInput>,
) -> S3Result<S3Response<PutObjectTaggingOutput>> {
    let caller = state.caller(&req);
    let origin = state.origin(&req, &caller);
    let input = req.input;
    let tags: Vec<(String, String)> = input
        .tagging
        .tag_set
        .iter()
        .map(|t| {
            (
                t.key.clone().unwrap_or_default(),
                t.value.clone().unwrap_or_default(),
            )
        })
        .collect();
    validate_tags(&tags)?;
    let version_id = set_tags(
        state,
        &caller,
        origin,
        notify::EventName::TaggingPut,
        input.bucket,
        input.key,
        input.version_id,
        tags,
    )
    .await?;
    Ok(S3Response::new(PutObjectTaggingOutput { version_id }))
}

pub async fn delete_object_tagging(
    state: &S3State,
    req: S3Request<DeleteObjectTaggingInput>,
) -> S3Result<S3Response<DeleteObjectTaggingOutput>> {
    let caller = state.caller(&req);
    let origin = state.origin(&req, &caller);
    let input = req.input;
    let version_id = set_tags(
        state,
        &caller,
        origin,
        notify::EventName::TaggingDelete,
        input.bucket,
        input.key,
        input.version_id,
        vec![],
    )
    .await?;
    let mut resp = S3Response::new(DeleteObjectTaggingOutput { version_id });
    resp.status = Some(http::StatusCode::NO_CONTENT);
    Ok(resp)
}

// ---------------------------------------------------------------------------------
// ACLs
// ---------------------------------------------------------------------------------

/// Whether the bucket's object ownership lets ACLs be set: `BucketOwnerEnforced` (what
/// CreateBucket sets by default since April 2023) disables them; a bucket without
/// ownership controls behaves as `ObjectWriter`, as in S3.
pub(crate) fn acls_enabled(bucket: &BucketMeta) -> bool {
    bucket.ownership.as_deref() != Some("BucketOwnerEnforced")
}

fn acl_not_supported() -> S3Error {
    custom(
        "AccessControlListNotSupported",
        "The bucket does not allow ACLs",
    )
}

fn grant(grantee_type: &str, grantee: &str, permission: &str) -> Grant {
    Grant {
        grantee_type: grantee_type.to_string(),
        grantee: grantee.to_string(),
        display_name: None,
        permission: permission.to_string(),
    }
}

/// The ACL a canned ACL name stands for, on a bucket owned by `bucket_owner`.
pub(crate) fn canned_acl(name: &str, bucket_owner: &str) -> S3Result<Acl> {
    let owner_id = meta::canonical_user_id(bucket_owner);
    let grants = match name {
        "private" | "aws-exec-read" => vec![],
        "public-read" => vec![grant("Group", ALL_USERS, "READ")],
        "public-read-write" => vec![
            grant("Group", ALL_USERS, "READ"),
            grant("Group", ALL_USERS, "WRITE"),
        ],
        "authenticated-read" => vec![grant("Group", AUTHENTICATED_USERS, "READ")],
        "bucket-owner-read" => vec![grant("CanonicalUser", &owner_id, "READ")],
        "bucket-owner-full-control" => vec![grant("CanonicalUser", &owner_id, "FULL_CONTROL")],
        _ => {
            return Err(err(S3ErrorCode::InvalidArgument, ""));
        }
    };
    Ok(Acl {
        canned: Some(name.to_string()),
        grants,
    })
}

fn check_grantee(grantee_type: &str, value: &str) -> S3Result<()> {
    match grantee_type {
        "CanonicalUser" => {
            if value.is_empty() {
                return Err(err(S3ErrorCode::InvalidArgument, "Invalid id"));
            }
        }
        "Group" => {
            if value != ALL_USERS && value != AUTHENTICATED_USERS && value != LOG_DELIVERY {
                return Err(err(S3ErrorCode::InvalidArgument, "Invalid group uri"));
            }
        }
        "AmazonCustomerByEmail" => {
            // Accounts here have no e-mail addresses to resolve.
            return Err(err(
                S3ErrorCode::UnresolvableGrantByEmailAddress,
                "The e-mail address you provided does not match any account on record.",
            ));
        }
        _ => return Err(malformed_acl()),
    }
    Ok(())
}

fn malformed_acl() -> S3Error {
    err(
        S3ErrorCode::MalformedACLError,
        "The XML you provided was not well-formed or did not validate against our published schema",
    )
}

/// Grants from the `x-amz-grant-*` headers (`id="..", uri="..", emailAddress=".."`).
pub(crate) fn grants_from_headers(headers: &[(&str, Option<&String>)]) -> S3Result<Vec<Grant>> {
    let mut grants = Vec::new();
    for (permission, value) in headers {
        let Some(value) = value else { continue };
        for item in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (kind, v) = item.split_once('=').ok_or_else(|| {
                err(
                    S3ErrorCode::InvalidArgument,
                    "Argument format not recognized",
                )
            })?;
            let v = v.trim().trim_matches('"').to_string();
            let grantee_type = match kind.trim().to_ascii_lowercase().as_str() {
                "id" => "CanonicalUser",
                "uri" => "Group",
                "emailaddress" => "AmazonCustomerByEmail",
                _ => {
                    return Err(err(
                        S3ErrorCode::InvalidArgument,
                        "Argument format not recognized",
                    ))
                }
            };
            check_grantee(grantee_type, &v)?;
            grants.push(grant(grantee_type, &v, permission));
        }
    }
    Ok(grants)
}

/// The ACL a write request asks for (canned ACL or grant headers), checked against
/// the bucket's object ownership. `None` when it asks for none.
pub(crate) fn acl_from_request(
    bucket: &BucketMeta,
    canned: Option<&str>,
    grant_headers: &[(&str, Option<&String>)],
) -> S3Result<Option<Acl>> {
    let has_grants = grant_headers.iter().any(|(_, v)| v.is_some());
    if canned.is_some() && has_grants {
        return Err(err(
            S3ErrorCode::InvalidRequest,
            "Specifying both Canned ACLs and Header Grants is not allowed",
        ));
    }
    let acl = if let Some(c) = canned {
        canned_acl(c, &bucket.account_id)?
    } else if has_grants {
        Acl {
            canned: None,
            grants: grants_from_headers(grant_headers)?,
        }
    } else {
        return Ok(None);
    };
    // Under BucketOwnerEnforced only ACLs that give the owner everything are accepted.
    if !acls_enabled(bucket)
        && !matches!(
            acl.canned.as_deref(),
            Some("private") | Some("bucket-owner-full-control")
        )
    {
        return Err(acl_not_supported());
    }
    Ok(Some(acl))
}

/// A public ACL (grants to AllUsers or AuthenticatedUsers) on a bucket whose public
/// access block sets BlockPublicAcls is refused with AccessDenied, as in S3.
pub(crate) fn refuse_blocked_public_acl(
    txn: &dyn ReadTxn,
    bucket: &str,
    acl: Option<&Acl>,
) -> Result<(), Error> {
    let public = acl.is_some_and(|a| {
        a.grants
            .iter()
            .any(|g| g.grantee == ALL_USERS || g.grantee == AUTHENTICATED_USERS)
    });
    if public && crate::bucket_config::blocks_public_acls(txn, bucket)? {
        let mut e = err(S3ErrorCode::AccessDenied, "Access Denied");
        e.set_status_code(http::StatusCode::FORBIDDEN);
        return Err(Error::S3(e));
    }
    Ok(())
}

fn grant_dto(g: &Grant) -> s3s::dto::Grant {
    let (id, uri, email) = match g.grantee_type.as_str() {
        "CanonicalUser" => (Some(g.grantee.clone()), None, None),
        "Group" => (None, Some(g.grantee.clone()), None),
        _ => (None, None, Some(g.grantee.clone())),
    };
    let display_name = match g.grantee_type.as_str() {
        "CanonicalUser" => Some(g.display_name.clone().unwrap_or_else(|| "nimbus".into())),
        _ => None,
    };
    s3s::dto::Grant {
        grantee: Some(Grantee {
            display_name,
            email_address: email,
            id,
            type_: Type::from(g.grantee_type.clone()),
            uri,
        }),
        permission: Some(Permission::from(g.permission.clone())),
    }
}

/// The grants S3 shows for an ACL: the owner's FULL_CONTROL first, then the rest.
pub(crate) fn acl_grants(acl: &Option<Acl>, owner_account: &str) -> Grants {
    let mut out = vec![grant_dto(&Grant {
        grantee_type: "CanonicalUser".into(),
        grantee: meta::canonical_user_id(owner_account),
        display_name: Some(meta::display_name(owner_account)),
        permission: "FULL_CONTROL".into(),
    })];
    if let Some(acl) = acl {
        out.extend(acl.grants.iter().map(grant_dto));
    }
    out
}

pub async fn get_object_acl(
    state: &S3State,
    req: S3Request<GetObjectAclInput>,
) -> S3Result<S3Response<GetObjectAclOutput>> {
    let caller = state.caller(&req);
    let input = req.input;
    let snap = snapshot(state)?;
    let bucket = owned_bucket(snap.as_ref(), &input.bucket, &caller)?;
    let ver = resolve_version(
        snap.as_ref(),
        &bucket.name,
        &input.key,
        input.version_id.as_deref(),
    )?;
    let owner_account = version_owner(&ver, &bucket.account_id).to_string();
    Ok(S3Response::new(GetObjectAclOutput {
        grants: Some(acl_grants(&ver.acl, &owner_account)),
        owner: Some(owner(&owner_account)),
        request_charged: None,
    }))
}

fn acl_from_policy(policy: &AccessControlPolicy, owner_account: &str) -> S3Result<Acl> {
    let owner_id = meta::canonical_user_id(owner_account);
    let mut grants = Vec::new();
    for g in policy.grants.iter().flatten() {
        let (Some(grantee), Some(permission)) = (&g.grantee, &g.permission) else {
            return Err(malformed_acl());
        };
        let permission = permission.as_str();
        if !matches!(
            permission,
            "FULL_CONTROL" | "READ" | "WRITE" | "READ_ACP" | "WRITE_ACP"
        ) {
            return Err(malformed_acl());
        }
        let kind = grantee.type_.as_str();
        let value = match kind {
            "CanonicalUser" => grantee.id.clone().unwrap_or_default(),
            "Group" => grantee.uri.clone().unwrap_or_default(),
            "AmazonCustomerByEmail" => grantee.email_address.clone().unwrap_or_default(),
            _ => return Err(malformed_acl()),
        };
        check_grantee(kind, &value)?;
        // The owner's FULL_CONTROL is implicit; keep it out of the stored grants.
        if kind == "CanonicalUser" && value == owner_id && permission == "FULL_CONTROL" {
            continue;
        }
        grants.push(Grant {
            grantee_type: kind.to_string(),
            grantee: value,
            display_name: grantee.display_name.clone(),
            permission: permission.to_string(),
        });
    }
    Ok(Acl {
        canned: None,
        grants,
    })
}

pub async fn put_object_acl(
    state: &S3State,
    req: S3Request<PutObjectAclInput>,
) -> S3Result<S3Response<PutObjectAclOutput>> {
    let caller = state.caller(&req);
    let origin = state.origin(&req, &caller);
    let input = req.input;
    let grant_headers = [
        ("FULL_CONTROL", input.grant_full_control.as_ref()),
        ("READ", input.grant_read.as_ref()),
        ("READ_ACP", input.grant_read_acp.as_ref()),
        ("WRITE", input.grant_write.as_ref()),
        ("WRITE_ACP", input.grant_write_acp.as_ref()),
    ];
    let has_headers = input.acl.is_some() || grant_headers.iter().any(|(_, v)| v.is_some());
    if has_headers && input.access_control_policy.is_some() {
        return Err(err(
            S3ErrorCode::UnexpectedContent,
            "This request does not support content",
        ));
    }
    if !has_headers && input.access_control_policy.is_none() {
        return Err(err(
            S3ErrorCode::MissingSecurityHeader,
            "Your request was missing a required header",
        ));
    }
    let snap = snapshot(state)?;
    let bucket = owned_bucket(snap.as_ref(), &input.bucket, &caller)?;
    drop(snap);
    let acl = match &input.access_control_policy {
        Some(policy) => {
            let acl = acl_from_policy(policy, &bucket.account_id)?;
            if !acls_enabled(&bucket) && !acl.grants.is_empty() {
                return Err(acl_not_supported());
            }
            acl
        }
        None => acl_from_request(
            &bucket,
            input.acl.as_ref().map(|a| a.as_str()),
            &grant_headers,
        )?
        .unwrap_or_default(),
    };
    let (bucket_name, key, version_id) = (input.bucket, input.key, input.version_id);
    let now_ms = state.clock.now_millis();
    let notified = state
        .db
        .write(move |txn| -> Result<usize, Error> {
            let b = write::require_bucket(txn, &bucket_name)?;
            let mut ver = resolve_version(txn, &bucket_name, &key, version_id.as_deref())?;
            refuse_blocked_public_acl(txn, &bucket_name, Some(&acl))?;
            ver.acl = Some(acl.clone());
            rewrite_version(txn, &bucket_name, &ver)?;
            let object = notify::ObjectRef::changed(&ver);
            notify::record(txn, &b, notify::EventName::AclPut, &object, &origin, now_ms)
        })
        .await?;
    state.notifications.after_commit(notified);
    Ok(S3Response::new(PutObjectAclOutput {
        request_charged: None,
    }))
}

// ---------------------------------------------------------------------------------
// GetObjectAttributes
// ---------------------------------------------------------------------------------

/// A stored checksum as the `Checksum` DTO.
pub(crate) fn checksum_dto(c: &meta::Checksum) -> Checksum {
    let mut out = Checksum {
        checksum_type: Some(ChecksumType::from(c.kind.clone())),
        ..Default::default()
    };
    let v = Some(c.value.clone());
    match c.algorithm.as_str() {
        "CRC32" => out.checksum_crc32 = v,
        "CRC32C" => out.checksum_crc32c = v,
        "CRC64NVME" => out.checksum_crc64nvme = v,
        "SHA1" => out.checksum_sha1 = v,
        "SHA256" => out.checksum_sha256 = v,
        _ => {}
    }
    out
}

fn object_part_dto(p: &meta::ObjectPart, algorithm: Option<&str>) -> ObjectPart {
    let mut out = ObjectPart {
        part_number: i32::try_from(p.part_number).ok(),
        size: i64::try_from(p.size).ok(),
        ..Default::default()
    };
    if let (Some(alg), Some(v)) = (algorithm, p.checksum.clone()) {
        match alg {
            "CRC32" => out.checksum_crc32 = Some(v),
            "CRC32C" => out.checksum_crc32c = Some(v),
            "CRC64NVME" => out.checksum_crc64nvme = Some(v),
            "SHA1" => out.checksum_sha1 = Some(v),
            "SHA256" => out.checksum_sha256 = Some(v),
            _ => {}
        }
    }
    out
}

pub async fn get_object_attributes(
    state: &S3State,
    req: S3Request<GetObjectAttributesInput>,
) -> S3Result<S3Response<GetObjectAttributesOutput>> {
    let caller = state.caller(&req);
    let input = req.input;
    // SDKs send one comma-separated x-amz-object-attributes header.
    let wants = |a: &str| {
        input
            .object_attributes
            .iter()
            .flat_map(|x| x.as_str().split(','))
            .any(|x| x.trim() == a)
    };
    let max_parts = match input.max_parts {
        Some(n) if n < 0 => {
            return Err(err(
                S3ErrorCode::InvalidArgument,
                "Argument max-parts must be an integer between 0 and 2147483647",
            ))
        }
        Some(n) => usize::try_from(n).unwrap_or(1000).min(1000),
        None => 1000,
    };
    let marker = match input.part_number_marker {
        Some(n) if n < 0 => {
            return Err(err(
                S3ErrorCode::InvalidArgument,
                "Argument part-number-marker must be an integer between 0 and 2147483647",
            ))
        }
        Some(n) => u32::try_from(n).unwrap_or(0),
        None => 0,
    };
    let snap = snapshot(state)?;
    let bucket = owned_bucket(snap.as_ref(), &input.bucket, &caller)?;
    let ver = resolve_version(
        snap.as_ref(),
        &bucket.name,
        &input.key,
        input.version_id.as_deref(),
    )?;
    let mut out = GetObjectAttributesOutput {
        last_modified: Some(timestamp(ver.last_modified_ms)),
        version_id: shown_version_id(&bucket, &ver),
        ..Default::default()
    };
    if wants(ObjectAttributes::ETAG) {
        out.e_tag = Some(etag(&ver.etag));
    }
    if wants(ObjectAttributes::CHECKSUM) {
        out.checksum = ver.checksum.as_ref().map(checksum_dto);
    }
    if wants(ObjectAttributes::OBJECT_SIZE) {
        out.object_size = i64::try_from(ver.size).ok();
    }
    if wants(ObjectAttributes::STORAGE_CLASS) {
        out.storage_class = Some(StorageClass::from(
            ver.storage_class
                .clone()
                .unwrap_or_else(|| "STANDARD".to_string()),
        ));
    }
    if wants(ObjectAttributes::OBJECT_PARTS) && !ver.parts.is_empty() {
        let algorithm = ver.checksum.as_ref().map(|c| c.algorithm.as_str());
        let after: Vec<&meta::ObjectPart> = ver
            .parts
            .iter()
            .filter(|p| p.part_number > marker)
            .collect();
        let truncated = after.len() > max_parts;
        let shown: Vec<ObjectPart> = after
            .iter()
            .take(max_parts)
            .map(|p| object_part_dto(p, algorithm))
            .collect();
        let next = shown.last().and_then(|p| p.part_number);
        out.object_parts = Some(GetObjectAttributesParts {
            is_truncated: Some(truncated),
            max_parts: i32::try_from(max_parts).ok(),
            next_part_number_marker: next,
            part_number_marker: i32::try_from(marker).ok(),
            parts: Some(shown),
            total_parts_count: i32::try_from(ver.parts.len()).ok(),
        });
    }
    Ok(S3Response::new(out))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::listing::testutil::*;

    fn tags(n: usize) -> Tagging {
        Tagging {
            tag_set: (0..n)
                .map(|i| Tag {
                    key: Some(format!("k{i}")),
                    value: Some(format!("v{i}")),
                })
                .collect(),
        }
    }

    async fn put_tags(
        st: &S3State,
        key: &str,
        t: Tagging,
        version_id: Option<String>,
    ) -> S3Result<PutObjectTaggingOutput> {
        let mut b = PutObjectTaggingInput::builder();
        b.set_bucket("bk".into());
        b.set_key(key.into());
        b.set_tagging(t);
        b.set_version_id(version_id);
        Ok(put_object_tagging(st, req(b.build().unwrap()))
            .await?
            .output)
    }

    async fn get_tags(
        st: &S3State,
        key: &str,
        version_id: Option<String>,
    ) -> S3Result<GetObjectTaggingOutput> {
        Ok(get_object_tagging(
            st,
            req(GetObjectTaggingInput {
                bucket: "bk".into(),
                key: key.into(),
                version_id,
                ..Default::default()
            }),
        )
        .await?
        .output)
    }

    #[tokio::test]
    async fn tagging_per_version_and_limits() {
        let st = state();
        bucket(&st, "bk", Some("Enabled"), None).await;
        let v1 = put(&st, "bk", "k", false).await;
        let v2 = put(&st, "bk", "k", false).await;
        let out = put_tags(&st, "k", tags(2), None).await.unwrap();
        assert_eq!(out.version_id.as_deref(), Some(v2.version_id.as_str()));
        put_tags(&st, "k", tags(1), Some(v1.version_id.clone()))
            .await
            .unwrap();
        assert_eq!(get_tags(&st, "k", None).await.unwrap().tag_set.len(), 2);
        let old = get_tags(&st, "k", Some(v1.version_id.clone()))
            .await
            .unwrap();
        assert_eq!(old.tag_set.len(), 1);
        assert_eq!(old.version_id.as_deref(), Some(v1.version_id.as_str()));

        let e = put_tags(&st, "k", tags(11), None).await.unwrap_err();
        assert_eq!(e.code().as_str(), "BadRequest");
        assert_eq!(e.status_code(), Some(http::StatusCode::BAD_REQUEST));
        let long = Tagging {
            tag_set: vec![Tag {
                key: Some("x".repeat(129)),
                value: Some("v".into()),
            }],
        };
        let e = put_tags(&st, "k", long, None).await.unwrap_err();
        assert_eq!(*e.code(), S3ErrorCode::InvalidTag);
        let e = put_tags(&st, "missing", tags(1), None).await.unwrap_err();
        assert_eq!(*e.code(), S3ErrorCode::NoSuchKey);
        let e = get_tags(&st, "k", Some("0000000000000063ffffffffffffffff".into()))
            .await
            .unwrap_err();
        assert_eq!(*e.code(), S3ErrorCode::NoSuchVersion);

        delete_object_tagging(
            &st,
            req(DeleteObjectTaggingInput {
                bucket: "bk".into(),
                key: "k".into(),
                ..Default::default()
            }),
        )
        .await
        .unwrap();
        assert!(get_tags(&st, "k", None).await.unwrap().tag_set.is_empty());
        // The rewrite kept the version itself.
        let snap = st.db.snapshot().unwrap();
        let cur = write::latest_version(snap.as_ref(), "bk", "k")
            .unwrap()
            .unwrap();
        assert_eq!(cur.version_id, v2.version_id);
        assert_eq!(cur.seq, v2.seq);

        assert_eq!(
            parse_tagging_header("a=1&b=x%20y+z").unwrap(),
            vec![("a".into(), "1".into()), ("b".into(), "x y z".into())]
        );
        assert!(parse_tagging_header("a=1&a=2").is_err());
    }

    async fn put_acl(
        st: &S3State,
        bucket: &str,
        canned: Option<&str>,
        policy: Option<AccessControlPolicy>,
    ) -> S3Result<()> {
        put_object_acl(
            st,
            req(PutObjectAclInput {
                bucket: bucket.into(),
                key: "k".into(),
                acl: canned.map(|c| ObjectCannedACL::from(c.to_string())),
                access_control_policy: policy,
                ..Default::default()
            }),
        )
        .await
        .map(|_| ())
    }

    async fn get_acl(st: &S3State, bucket: &str) -> GetObjectAclOutput {
        get_object_acl(
            st,
            req(GetObjectAclInput {
                bucket: bucket.into(),
                key: "k".into(),
                ..Default::default()
            }),
        )
        .await
        .unwrap()
        .output
    }

    #[tokio::test]
    async fn acls_follow_object_ownership() {
        let st = state();
        bucket(&st, "enforced", None, Some("BucketOwnerEnforced")).await;
        bucket(&st, "writer", None, Some("ObjectWriter")).await;
        put(&st, "enforced", "k", false).await;
        put(&st, "writer", "k", false).await;

        let e = put_acl(&st, "enforced", Some("public-read"), None)
            .await
            .unwrap_err();
        assert_eq!(e.code().as_str(), "AccessControlListNotSupported");
        put_acl(&st, "enforced", Some("bucket-owner-full-control"), None)
            .await
            .unwrap();
        let got = get_acl(&st, "enforced").await;
        assert_eq!(
            got.grants.unwrap().len(),
            2,
            "owner FULL_CONTROL + bucket owner grant"
        );

        put_acl(&st, "writer", Some("public-read"), None)
            .await
            .unwrap();
        let got = get_acl(&st, "writer").await;
        let grants = got.grants.unwrap();
        assert_eq!(grants.len(), 2);
        assert_eq!(
            grants[0].permission.as_ref().unwrap().as_str(),
            "FULL_CONTROL"
        );
        assert_eq!(
            grants[1].grantee.as_ref().unwrap().uri.as_deref(),
            Some(ALL_USERS)
        );
        assert_eq!(
            got.owner.unwrap().id,
            Some(meta::canonical_user_id(ACCOUNT))
        );

        // An explicit policy replaces the ACL.
        let policy = AccessControlPolicy {
            owner: Some(owner(ACCOUNT)),
            grants: Some(vec![s3s::dto::Grant {
                grantee: Some(Grantee {
                    display_name: None,
                    email_address: None,
                    id: None,
                    type_: Type::from("Group".to_string()),
                    uri: Some(AUTHENTICATED_USERS.into()),
                }),
                permission: Some(Permission::from("READ_ACP".to_string())),
            }]),
        };
        put_acl(&st, "writer", None, Some(policy.clone()))
            .await
            .unwrap();
        let grants = get_acl(&st, "writer").await.grants.unwrap();
        assert_eq!(grants.len(), 2);
        assert_eq!(grants[1].permission.as_ref().unwrap().as_str(), "READ_ACP");
        let e = put_acl(&st, "writer", Some("private"), Some(policy))
            .await
            .unwrap_err();
        assert_eq!(*e.code(), S3ErrorCode::UnexpectedContent);

        let bad = AccessControlPolicy {
            owner: None,
            grants: Some(vec![s3s::dto::Grant {
                grantee: Some(Grantee {
                    display_name: None,
                    email_address: None,
                    id: None,
                    type_: Type::from("Group".to_string()),
                    uri: Some("http://example.com/x".into()),
                }),
                permission: Some(Permission::from("READ".to_string())),
            }]),
        };
        let e = put_acl(&st, "writer", None, Some(bad)).await.unwrap_err();
        assert_eq!(*e.code(), S3ErrorCode::InvalidArgument);

        let g = grants_from_headers(&[("READ", Some(&format!("uri=\"{ALL_USERS}\", id=\"abc\"")))])
            .unwrap();
        assert_eq!(g.len(), 2);
        assert_eq!(g[1].grantee_type, "CanonicalUser");
    }

    #[tokio::test]
    async fn object_attributes_with_parts() {
        let st = state();
        bucket(&st, "bk", None, None).await;
        put(&st, "bk", "plain", false).await;
        // A multipart-shaped version with three parts and a checksum.
        st.db
            .write(|t| -> Result<(), Error> {
                let bm = write::require_bucket(t, "bk")?;
                let mut v = ObjectVersion {
                    key: "mp".into(),
                    size: 30,
                    etag: "\"abc-3\"".into(),
                    parts: (1..=3)
                        .map(|n| meta::ObjectPart {
                            part_number: n,
                            size: 10,
                            etag: "\"x\"".into(),
                            checksum: Some(format!("c{n}")),
                        })
                        .collect(),
                    checksum: Some(meta::Checksum {
                        algorithm: "CRC32".into(),
                        value: "AAAAAA==-3".into(),
                        kind: "COMPOSITE".into(),
                    }),
                    ..Default::default()
                };
                write::put_version(t, &bm, &mut v)?;
                Ok(())
            })
            .await
            .unwrap();
        let attrs = |key: &str, marker: Option<i32>| {
            let input = GetObjectAttributesInput {
                bucket: "bk".into(),
                key: key.into(),
                object_attributes: [
                    "ETag",
                    "Checksum",
                    "ObjectParts",
                    "StorageClass",
                    "ObjectSize",
                ]
                .iter()
                .map(|a| ObjectAttributes::from(a.to_string()))
                .collect(),
                max_parts: Some(2),
                part_number_marker: marker,
                ..Default::default()
            };
            let st = st.clone();
            async move {
                get_object_attributes(&st, req(input))
                    .await
                    .map(|r| r.output)
            }
        };
        let o = attrs("mp", None).await.unwrap();
        assert_eq!(o.e_tag.unwrap().value(), "abc-3");
        assert_eq!(o.object_size, Some(30));
        assert_eq!(o.storage_class.unwrap().as_str(), "STANDARD");
        assert_eq!(
            o.checksum.unwrap().checksum_crc32.as_deref(),
            Some("AAAAAA==-3")
        );
        let parts = o.object_parts.unwrap();
        assert_eq!(parts.total_parts_count, Some(3));
        assert_eq!(parts.is_truncated, Some(true));
        assert_eq!(parts.next_part_number_marker, Some(2));
        assert_eq!(
            parts.parts.as_ref().unwrap()[1].checksum_crc32.as_deref(),
            Some("c2")
        );
        let o = attrs("mp", Some(2)).await.unwrap();
        let parts = o.object_parts.unwrap();
        assert_eq!(parts.parts.unwrap().len(), 1);
        assert_eq!(parts.is_truncated, Some(false));
        let o = attrs("plain", None).await.unwrap();
        assert!(o.object_parts.is_none());
        assert!(o.checksum.is_none());
        let e = attrs("missing", None).await.unwrap_err();
        assert_eq!(*e.code(), S3ErrorCode::NoSuchKey);
    }
}
