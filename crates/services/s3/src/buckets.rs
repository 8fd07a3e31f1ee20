//! Buckets: create (name and location-constraint rules), head, delete, list, location,
//! versioning, tagging and the bucket ACL. Each change is one store transaction.

use std::ops::Bound;

use nimbus_store::ReadTxn;
use s3s::dto::*;
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result};

use crate::error::{encode, Error};
use crate::keys;
use crate::meta::{canonical_user_id, display_name, Acl, BucketMeta, Grant as MetaGrant};
use crate::write;
use crate::{Caller, S3State, ALL_USERS, AUTHENTICATED_USERS};

/// The region a request without a signed region (or with none) is served in.
pub const DEFAULT_REGION: &str = "us-east-1";

/// An S3 error with an explicit status (codes s3s does not know map to no status).
pub fn err(code: &str, msg: impl Into<String>, status: u16) -> S3Error {
    let code = S3ErrorCode::from_bytes(code.as_bytes()).unwrap_or(S3ErrorCode::InternalError);
    let mut e = S3Error::with_message(code, msg.into());
    if let Ok(s) = http::StatusCode::from_u16(status) {
        e.set_status_code(s);
    }
    e
}

pub fn access_denied() -> S3Error {
    err("AccessDenied", "Access Denied", 403)
}

/// The bucket, which the caller must own (another account's bucket is AccessDenied;
/// anonymous callers got past the access check through a public ACL).
pub fn require_owned(
    txn: &dyn ReadTxn,
    bucket: &str,
    caller: &Option<Caller>,
) -> Result<BucketMeta, Error> {
    let b = write::require_bucket(txn, bucket)?;
    if let Some(c) = caller {
        if c.account_id != b.account_id {
            return Err(Error::S3(access_denied()));
        }
    }
    Ok(b)
}

/// Whether `name` follows S3's general-purpose bucket naming rules.
pub fn valid_bucket_name(name: &str) -> bool {
    let b = name.as_bytes();
    if !(3..=63).contains(&b.len()) {
        return false;
    }
    if !b
        .iter()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'.' || *c == b'-')
    {
        return false;
    }
    let alnum = |c: Option<&u8>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if !alnum(b.first()) || !alnum(b.last()) {
        return false;
    }
    if name.contains("..") || name.contains(".-") || name.contains("-.") {
        return false;
    }
    // Not formatted like an IP address.
    let parts: Vec<&str> = name.split('.').collect();
    if parts.len() == 4
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|c| c.is_ascii_digit()))
    {
        return false;
    }
    const BAD_PREFIXES: [&str; 3] = ["xn--", "sthree-", "amzn-s3-demo-"];
    const BAD_SUFFIXES: [&str; 5] = ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"];
    if BAD_PREFIXES.iter().any(|p| name.starts_with(p)) {
        return false;
    }
    !BAD_SUFFIXES.iter().any(|s| name.ends_with(s))
}

fn invalid_bucket_name() -> S3Error {
    err(
        "InvalidBucketName",
        "The specified bucket is not valid.",
        400,
    )
}

/// The grants of a canned ACL (the owner's FULL_CONTROL is implied).
pub fn canned_grants(canned: &str) -> Option<Vec<MetaGrant>> {
    let group = |uri: &str, perm: &str| MetaGrant {
        grantee_type: "Group".into(),
        grantee: uri.into(),
        display_name: None,
        permission: perm.into(),
    };
    Some(match canned {
        "private" | "bucket-owner-full-control" | "bucket-owner-read" => vec![],
        "public-read" => vec![group(ALL_USERS, "READ")],
        "public-read-write" => vec![group(ALL_USERS, "READ"), group(ALL_USERS, "WRITE")],
        "authenticated-read" => vec![group(AUTHENTICATED_USERS, "READ")],
        "log-delivery-write" => vec![
            group("http://acs.amazonaws.com/groups/s3/LogDelivery", "WRITE"),
            group("http://acs.amazonaws.com/groups/s3/LogDelivery", "READ_ACP"),
        ],
        _ => return None,
    })
}

/// Parses one `x-amz-grant-*` header: `id="..", uri="..", emailAddress=".."`.
fn parse_grant_header(value: &str, permission: &str) -> S3Result<Vec<MetaGrant>> {
    let mut out = Vec::new();
    for item in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let Some((kind, v)) = item.split_once('=') else {
            return Err(err("InvalidArgument", "Invalid grant header", 400));
        };
        let v = v.trim().trim_matches('"').to_string();
        let grantee_type = match kind.trim().to_ascii_lowercase().as_str() {
            "id" => "CanonicalUser",
            "uri" => "Group",
            "emailaddress" => "AmazonCustomerByEmail",
            _ => return Err(err("InvalidArgument", "Invalid grant header", 400)),
        };
        out.push(MetaGrant {
            grantee_type: grantee_type.into(),
            grantee: v,
            display_name: None,
            permission: permission.into(),
        });
    }
    Ok(out)
}

/// The grants from the `x-amz-grant-*` headers, `None` when none was sent.
fn header_grants(
    full: &Option<String>,
    read: &Option<String>,
    read_acp: &Option<String>,
    write_: &Option<String>,
    write_acp: &Option<String>,
) -> S3Result<Option<Vec<MetaGrant>>> {
    let mut any = false;
    let mut out = Vec::new();
    for (v, p) in [
        (full, "FULL_CONTROL"),
        (read, "READ"),
        (read_acp, "READ_ACP"),
        (write_, "WRITE"),
        (write_acp, "WRITE_ACP"),
    ] {
        if let Some(v) = v {
            any = true;
            out.extend(parse_grant_header(v, p)?);
        }
    }
    Ok(any.then_some(out))
}

/// Whether the grants give anyone but `owner` any access (what BucketOwnerEnforced
/// forbids).
pub fn grants_beyond_owner(grants: &[MetaGrant], owner_account: &str) -> bool {
    let owner_id = canonical_user_id(owner_account);
    grants
        .iter()
        .any(|g| !(g.grantee_type == "CanonicalUser" && g.grantee == owner_id))
}

pub async fn create_bucket(
    state: &S3State,
    req: S3Request<CreateBucketInput>,
) -> S3Result<S3Response<CreateBucketOutput>> {
    let caller = state.caller(&req);
    let account = S3State::account_or_root(&caller);
    let region = crate::request_region(&req);
    let input = req.input;
    let name = input.bucket.clone();
    if !valid_bucket_name(&name) {
        return Err(invalid_bucket_name());
    }
    let constraint = input
        .create_bucket_configuration
        .as_ref()
        .and_then(|c| c.location_constraint.as_ref())
        .map(|c| c.as_str().to_string())
        .filter(|c| !c.is_empty());
    let bucket_region = match constraint.as_deref() {
        None => {
            if region != DEFAULT_REGION {
                return Err(err(
                    "IllegalLocationConstraintException",
                    "The unspecified location constraint is incompatible for the region specific endpoint this request was sent to.",
                    400,
                ));
            }
            DEFAULT_REGION.to_string()
        }
        Some(DEFAULT_REGION) => {
            return Err(err(
                "InvalidLocationConstraint",
                "The specified location-constraint is not valid",
                400,
            ))
        }
        Some(c) => {
            let c = if c == "EU" { "eu-west-1" } else { c };
            if c != region {
                return Err(err(
                    "IllegalLocationConstraintException",
                    format!("The {c} location constraint is incompatible for the region specific endpoint this request was sent to."),
                    400,
                ));
            }
            c.to_string()
        }
    };
    let ownership = input
        .object_ownership
        .as_ref()
        .map(|o| o.as_str().to_string())
        .unwrap_or_else(|| ObjectOwnership::BUCKET_OWNER_ENFORCED.to_string());
    if !matches!(
        ownership.as_str(),
        "BucketOwnerEnforced" | "BucketOwnerPreferred" | "ObjectWriter"
    ) {
        return Err(err(
            "InvalidArgument",
            "Invalid x-amz-object-ownership header",
            400,
        ));
    }
    let mut acl = Acl::default();
    if let Some(c) = &input.acl {
        acl.grants = canned_grants(c.as_str())
            .ok_or_else(|| err("InvalidArgument", "Invalid canned ACL", 400))?;
        acl.canned = Some(c.as_str().to_string());
    }
    if let Some(g) = header_grants(
        &input.grant_full_control,
        &input.grant_read,
        &input.grant_read_acp,
        &input.grant_write,
        &input.grant_write_acp,
    )? {
        if input.acl.is_some() {
            return Err(err(
                "InvalidRequest",
                "Specifying both Canned ACLs and Header Grants is not allowed",
                400,
            ));
        }
        acl.grants = g;
    }
    if ownership == "BucketOwnerEnforced" && grants_beyond_owner(&acl.grants, &account) {
        return Err(err(
            "InvalidBucketAclWithObjectOwnership",
            "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting",
            400,
        ));
    }
    let lock = input.object_lock_enabled_for_bucket.unwrap_or(false);
    let now_ms = state.clock.now_millis();
    let name2 = name.clone();
    state
        .db
        .write(move |txn| -> Result<(), Error> {
            if let Some(mut existing) = write::load_bucket(txn, &name2)? {
                if existing.account_id != account {
                    return Err(Error::S3(err(
                        "BucketAlreadyExists",
                        "The requested bucket name is not available. The bucket namespace is shared by all users of the system. Please select a different name and try again.",
                        409,
                    )));
                }
                if existing.region == DEFAULT_REGION && bucket_region == DEFAULT_REGION {
                    // Legacy us-east-1 behaviour: 200 and the ACL is reset.
                    existing.acl = Some(acl.clone());
                    txn.put(&keys::bucket(&name2), &encode(&existing))?;
                    return Ok(());
                }
                return Err(Error::S3(err(
                    "BucketAlreadyOwnedByYou",
                    "Your previous request to create the named bucket succeeded and you already own it.",
                    409,
                )));
            }
            let meta = BucketMeta {
                name: name2.clone(),
                account_id: account.clone(),
                region: bucket_region.clone(),
                created_ms: now_ms,
                // Object Lock needs versioning, and S3 enables it with the lock.
                versioning: lock.then(|| "Enabled".to_string()),
                mfa_delete: None,
                object_lock_enabled: lock,
                ownership: Some(ownership.clone()),
                acl: Some(acl.clone()),
                tags: vec![],
            };
            txn.put(&keys::bucket(&name2), &encode(&meta))?;
            // New buckets block public access by default (AWS, since April 2023).
            let pab = PublicAccessBlockConfiguration {
                block_public_acls: Some(true),
                block_public_policy: Some(true),
                ignore_public_acls: Some(true),
                restrict_public_buckets: Some(true),
            };
            txn.put(
                &keys::bucket_config(&name2, crate::bucket_config::KIND_PAB),
                &encode(&pab),
            )?;
            Ok(())
        })
        .await?;
    let output = CreateBucketOutput {
        location: Some(format!("/{name}")),
    };
    Ok(S3Response::new(output))
}

pub async fn head_bucket(
    state: &S3State,
    req: S3Request<HeadBucketInput>,
) -> S3Result<S3Response<HeadBucketOutput>> {
    let caller = state.caller(&req);
    let snap = state.db.snapshot().map_err(Error::from)?;
    let b = match write::load_bucket(snap.as_ref(), &req.input.bucket)? {
        Some(b) => b,
        // HEAD answers carry no body; the status says it all.
        None => return Err(err("NoSuchBucket", "Not Found", 404)),
    };
    if caller
        .as_ref()
        .is_some_and(|c| c.account_id != b.account_id)
    {
        return Err(err("AccessDenied", "Forbidden", 403));
    }
    Ok(S3Response::new(HeadBucketOutput {
        bucket_region: Some(b.region),
        ..Default::default()
    }))
}

/// Whether any key lies under `prefix` (one-row scan).
fn any_under(txn: &dyn ReadTxn, prefix: &[u8]) -> Result<bool, Error> {
    let end = keys::prefix_end(prefix);
    let rows = txn.range(
        Bound::Included(prefix),
        Bound::Excluded(end.as_slice()),
        false,
        1,
    )?;
    Ok(!rows.is_empty())
}

pub async fn delete_bucket(
    state: &S3State,
    req: S3Request<DeleteBucketInput>,
) -> S3Result<S3Response<DeleteBucketOutput>> {
    let caller = state.caller(&req);
    let name = req.input.bucket.clone();
    state
        .db
        .write(move |txn| -> Result<(), Error> {
            require_owned(txn, &name, &caller)?;
            if any_under(txn, &keys::versions_of_bucket(&name))?
                || any_under(txn, &keys::uploads_of_bucket(&name))?
            {
                return Err(Error::S3(err(
                    "BucketNotEmpty",
                    "The bucket you tried to delete is not empty",
                    409,
                )));
            }
            let prefix = keys::bucket_config_prefix(&name);
            let end = keys::prefix_end(&prefix);
            // A bucket has a handful of configuration kinds; page anyway.
            loop {
                let rows = txn.range(
                    Bound::Included(prefix.as_slice()),
                    Bound::Excluded(end.as_slice()),
                    false,
                    1000,
                )?;
                if rows.is_empty() {
                    break;
                }
                for (k, _) in rows {
                    txn.delete(&k)?;
                }
            }
            // Null-version pointers only exist next to versions, which are gone; the
            // prefix is scanned to be safe against older records.
            let np = [keys::NULL_VERSION, name.as_bytes(), b"\0"].concat();
            let npe = keys::prefix_end(&np);
            loop {
                let rows = txn.range(
                    Bound::Included(np.as_slice()),
                    Bound::Excluded(npe.as_slice()),
                    false,
                    1000,
                )?;
                if rows.is_empty() {
                    break;
                }
                for (k, _) in rows {
                    txn.delete(&k)?;
                }
            }
            txn.delete(&keys::bucket_seq(&name))?;
            txn.delete(&keys::bucket(&name))?;
            Ok(())
        })
        .await?;
    state.owners.forget(&req.input.bucket);
    Ok(S3Response::with_status(
        DeleteBucketOutput {},
        http::StatusCode::NO_CONTENT,
    ))
}

fn owner_of(account: &str) -> Owner {
    Owner {
        display_name: Some(display_name(account)),
        id: Some(canonical_user_id(account)),
    }
}

fn timestamp_ms(ms: i64) -> Timestamp {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    Timestamp::from(t)
}

/// Most buckets ListBuckets returns in one page without max-buckets (AWS: 10,000).
const MAX_BUCKETS: usize = 10_000;

pub async fn list_buckets(
    state: &S3State,
    req: S3Request<ListBucketsInput>,
) -> S3Result<S3Response<ListBucketsOutput>> {
    let caller = state.caller(&req);
    let Some(caller) = caller else {
        return Err(access_denied());
    };
    let input = req.input;
    let max = match input.max_buckets {
        None => MAX_BUCKETS,
        Some(m) if (1..=10_000).contains(&m) => usize::try_from(m).unwrap_or(MAX_BUCKETS),
        Some(_) => {
            return Err(err(
                "InvalidArgument",
                "Argument max-buckets must be an integer between 1 and 10000",
                400,
            ))
        }
    };
    let paged = input.max_buckets.is_some();
    let prefix = input.prefix.clone().unwrap_or_default();
    // The continuation token is the last bucket name returned, hex-encoded (opaque).
    let after = match &input.continuation_token {
        Some(t) => Some(
            hex::decode(t)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| {
                    err(
                        "InvalidArgument",
                        "The continuation token provided is incorrect",
                        400,
                    )
                })?,
        ),
        None => None,
    };
    let snap = state.db.snapshot().map_err(Error::from)?;
    let start = match &after {
        Some(a) => {
            let mut k = keys::bucket(a);
            k.push(0);
            k
        }
        None => keys::bucket(&prefix),
    };
    let end = keys::prefix_end(&keys::bucket(&prefix));
    let mut out: Vec<Bucket> = Vec::new();
    let mut cursor = start;
    let mut more = false;
    'scan: loop {
        let rows = snap
            .range(
                Bound::Included(cursor.as_slice()),
                Bound::Excluded(end.as_slice()),
                false,
                1000,
            )
            .map_err(Error::from)?;
        let Some((last, _)) = rows.last() else {
            break;
        };
        let mut next = last.clone();
        next.push(0);
        for (_, v) in &rows {
            let b: BucketMeta = crate::error::decode("bucket", v)?;
            if b.account_id != caller.account_id {
                continue;
            }
            if input.bucket_region.as_ref().is_some_and(|r| *r != b.region) {
                continue;
            }
            if out.len() == max {
                more = true;
                break 'scan;
            }
            out.push(Bucket {
                bucket_region: Some(b.region.clone()),
                creation_date: Some(timestamp_ms(b.created_ms)),
                name: Some(b.name.clone()),
            });
        }
        cursor = next;
    }
    let token = (more && paged)
        .then(|| out.last().and_then(|b| b.name.clone()))
        .flatten()
        .map(|n| hex::encode(n.as_bytes()));
    Ok(S3Response::new(ListBucketsOutput {
        buckets: Some(out),
        continuation_token: token,
        owner: Some(owner_of(&caller.account_id)),
        prefix: input.prefix,
    }))
}

pub async fn get_bucket_location(
    state: &S3State,
    req: S3Request<GetBucketLocationInput>,
) -> S3Result<S3Response<GetBucketLocationOutput>> {
    let caller = state.caller(&req);
    let snap = state.db.snapshot().map_err(Error::from)?;
    let b = require_owned(snap.as_ref(), &req.input.bucket, &caller)?;
    // us-east-1 is reported as an empty (null) LocationConstraint.
    let lc = (b.region != DEFAULT_REGION).then(|| BucketLocationConstraint::from(b.region));
    Ok(S3Response::new(GetBucketLocationOutput {
        location_constraint: lc,
    }))
}

pub async fn get_bucket_versioning(
    state: &S3State,
    req: S3Request<GetBucketVersioningInput>,
) -> S3Result<S3Response<GetBucketVersioningOutput>> {
    let caller = state.caller(&req);
    let snap = state.db.snapshot().map_err(Error::from)?;
    let b = require_owned(snap.as_ref(), &req.input.bucket, &caller)?;
    Ok(S3Response::new(GetBucketVersioningOutput {
        mfa_delete: b.mfa_delete.map(MFADeleteStatus::from),
        status: b.versioning.map(BucketVersioningStatus::from),
    }))
}

fn malformed_xml() -> S3Error {
    err(
        "MalformedXML",
        "The XML you provided was not well-formed or did not validate against our published schema",
        400,
    )
}

pub async fn put_bucket_versioning(
    state: &S3State,
    req: S3Request<PutBucketVersioningInput>,
) -> S3Result<S3Response<PutBucketVersioningOutput>> {
    let caller = state.caller(&req);
    let name = req.input.bucket.clone();
    let conf = req.input.versioning_configuration;
    let status = conf.status.as_ref().map(|s| s.as_str().to_string());
    if let Some(s) = &status {
        if s != "Enabled" && s != "Suspended" {
            return Err(malformed_xml());
        }
    }
    let mfa = conf.mfa_delete.as_ref().map(|s| s.as_str().to_string());
    if let Some(m) = &mfa {
        if m != "Enabled" && m != "Disabled" {
            return Err(malformed_xml());
        }
    }
    state
        .db
        .write(move |txn| -> Result<(), Error> {
            let mut b = require_owned(txn, &name, &caller)?;
            if let Some(s) = &status {
                if b.object_lock_enabled && s == "Suspended" {
                    return Err(Error::S3(err(
                        "InvalidBucketState",
                        "An Object Lock configuration is present on this bucket, so the versioning state cannot be changed.",
                        409,
                    )));
                }
                b.versioning = Some(s.clone());
            }
            if let Some(m) = &mfa {
                b.mfa_delete = Some(m.clone());
            }
            txn.put(&keys::bucket(&name), &encode(&b))?;
            Ok(())
        })
        .await?;
    Ok(S3Response::new(PutBucketVersioningOutput {}))
}

/// Validates a tag set as S3 does for buckets (and objects): at most `max` tags,
/// unique keys, key 1..=128 and value ..=256 characters, no `aws:` prefix.
pub fn validate_tags(tags: &[Tag], max: usize, what: &str) -> S3Result<Vec<(String, String)>> {
    if tags.len() > max {
        return Err(err(
            "InvalidTag",
            format!("{what} tag count cannot be greater than {max}"),
            400,
        ));
    }
    let mut out: Vec<(String, String)> = Vec::with_capacity(tags.len());
    for t in tags {
        let k = t.key.clone().unwrap_or_default();
        let v = t.value.clone().unwrap_or_default();
        if k.is_empty() || k.chars().count() > 128 {
            return Err(err(
                "InvalidTag",
                "The TagKey you have provided is invalid",
                400,
            ));
        }
        if v.chars().count() > 256 {
            return Err(err(
                "InvalidTag",
                "The TagValue you have provided is invalid",
                400,
            ));
        }
        if k.to_ascii_lowercase().starts_with("aws:") {
            return Err(err(
                "InvalidTag",
                "Your TagKey cannot be prefixed with aws:",
                400,
            ));
        }
        if out.iter().any(|(ek, _)| *ek == k) {
            return Err(err(
                "InvalidTag",
                "Cannot provide multiple Tags with the same key",
                400,
            ));
        }
        out.push((k, v));
    }
    Ok(out)
}

pub async fn get_bucket_tagging(
    state: &S3State,
    req: S3Request<GetBucketTaggingInput>,
) -> S3Result<S3Response<GetBucketTaggingOutput>> {
    let caller = state.caller(&req);
    let snap = state.db.snapshot().map_err(Error::from)?;
    let b = require_owned(snap.as_ref(), &req.input.bucket, &caller)?;
    if b.tags.is_empty() {
        return Err(err("NoSuchTagSet", "The TagSet does not exist", 404));
    }
    let tag_set = b
        .tags
        .into_iter()
        .map(|(k, v)| Tag {
            key: Some(k),
            value: Some(v),
        })
        .collect();
    Ok(S3Response::new(GetBucketTaggingOutput { tag_set }))
}

pub async fn put_bucket_tagging(
    state: &S3State,
    req: S3Request<PutBucketTaggingInput>,
) -> S3Result<S3Response<PutBucketTaggingOutput>> {
    let caller = state.caller(&req);
    let name = req.input.bucket.clone();
    let tags = validate_tags(&req.input.tagging.tag_set, 50, "Bucket")?;
    state
        .db
        .write(move |txn| -> Result<(), Error> {
            let mut b = require_owned(txn, &name, &caller)?;
            b.tags = tags.clone();
            txn.put(&keys::bucket(&name), &encode(&b))?;
            Ok(())
        })
        .await?;
    Ok(S3Response::with_status(
        PutBucketTaggingOutput::default(),
        http::StatusCode::NO_CONTENT,
    ))
}

pub async fn delete_bucket_tagging(
    state: &S3State,
    req: S3Request<DeleteBucketTaggingInput>,
) -> S3Result<S3Response<DeleteBucketTaggingOutput>> {
    let caller = state.caller(&req);
    let name = req.input.bucket.clone();
    state
        .db
        .write(move |txn| -> Result<(), Error> {
            let mut b = require_owned(txn, &name, &caller)?;
            b.tags.clear();
            txn.put(&keys::bucket(&name), &encode(&b))?;
            Ok(())
        })
        .await?;
    Ok(S3Response::with_status(
        DeleteBucketTaggingOutput::default(),
        http::StatusCode::NO_CONTENT,
    ))
}

/// The S3 grant list for an owner plus stored grants.
pub fn acl_grants(owner_account: &str, acl: &Option<Acl>) -> Vec<Grant> {
    let mut out = vec![Grant {
        grantee: Some(Grantee {
            display_name: Some(display_name(owner_account)),
            email_address: None,
            id: Some(canonical_user_id(owner_account)),
            type_: Type::from_static(Type::CANONICAL_USER),
            uri: None,
        }),
        permission: Some(Permission::from_static(Permission::FULL_CONTROL)),
    }];
    let owner_id = canonical_user_id(owner_account);
    for g in acl.iter().flat_map(|a| a.grants.iter()) {
        if g.grantee_type == "CanonicalUser"
            && g.grantee == owner_id
            && g.permission == "FULL_CONTROL"
        {
            continue;
        }
        out.push(Grant {
            grantee: Some(grantee_of(g)),
            permission: Some(Permission::from(g.permission.clone())),
        });
    }
    out
}

/// A stored grant's grantee as the S3 DTO (the id, URI or e-mail by its type).
pub(crate) fn grantee_of(g: &MetaGrant) -> Grantee {
    let (id, uri, email) = match g.grantee_type.as_str() {
        "CanonicalUser" => (Some(g.grantee.clone()), None, None),
        "Group" => (None, Some(g.grantee.clone()), None),
        _ => (None, None, Some(g.grantee.clone())),
    };
    Grantee {
        display_name: g.display_name.clone(),
        email_address: email,
        id,
        type_: Type::from(g.grantee_type.clone()),
        uri,
    }
}

pub async fn get_bucket_acl(
    state: &S3State,
    req: S3Request<GetBucketAclInput>,
) -> S3Result<S3Response<GetBucketAclOutput>> {
    let caller = state.caller(&req);
    let snap = state.db.snapshot().map_err(Error::from)?;
    let b = require_owned(snap.as_ref(), &req.input.bucket, &caller)?;
    Ok(S3Response::new(GetBucketAclOutput {
        grants: Some(acl_grants(&b.account_id, &b.acl)),
        owner: Some(owner_of(&b.account_id)),
    }))
}

/// The grants of an `AccessControlPolicy` body.
fn policy_grants(policy: &AccessControlPolicy) -> S3Result<Vec<MetaGrant>> {
    let mut out = Vec::new();
    for g in policy.grants.iter().flatten() {
        let (Some(grantee), Some(perm)) = (&g.grantee, &g.permission) else {
            return Err(malformed_xml());
        };
        if !matches!(
            perm.as_str(),
            "FULL_CONTROL" | "READ" | "WRITE" | "READ_ACP" | "WRITE_ACP"
        ) {
            return Err(malformed_xml());
        }
        let (ty, who) = match grantee.type_.as_str() {
            "CanonicalUser" => ("CanonicalUser", grantee.id.clone()),
            "Group" => ("Group", grantee.uri.clone()),
            "AmazonCustomerByEmail" => ("AmazonCustomerByEmail", grantee.email_address.clone()),
            _ => return Err(malformed_xml()),
        };
        let Some(who) = who else {
            return Err(malformed_xml());
        };
        out.push(MetaGrant {
            grantee_type: ty.into(),
            grantee: who,
            display_name: grantee.display_name.clone(),
            permission: perm.as_str().to_string(),
        });
    }
    Ok(out)
}

/// Whether any grant is to everyone or every authenticated user.
pub fn grants_public(grants: &[MetaGrant]) -> bool {
    grants
        .iter()
        .any(|g| g.grantee == ALL_USERS || g.grantee == AUTHENTICATED_USERS)
}

pub async fn put_bucket_acl(
    state: &S3State,
    req: S3Request<PutBucketAclInput>,
) -> S3Result<S3Response<PutBucketAclOutput>> {
    let caller = state.caller(&req);
    let input = req.input;
    let name = input.bucket.clone();
    let hg = header_grants(
        &input.grant_full_control,
        &input.grant_read,
        &input.grant_read_acp,
        &input.grant_write,
        &input.grant_write_acp,
    )?;
    let sources = usize::from(input.acl.is_some())
        + usize::from(hg.is_some())
        + usize::from(input.access_control_policy.is_some());
    if sources > 1 && input.acl.is_some() && hg.is_some() {
        return Err(err(
            "InvalidRequest",
            "Specifying both Canned ACLs and Header Grants is not allowed",
            400,
        ));
    }
    let acl = if let Some(c) = &input.acl {
        Acl {
            canned: Some(c.as_str().to_string()),
            grants: canned_grants(c.as_str())
                .ok_or_else(|| err("InvalidArgument", "Invalid canned ACL", 400))?,
        }
    } else if let Some(g) = hg {
        Acl {
            canned: None,
            grants: g,
        }
    } else if let Some(p) = &input.access_control_policy {
        Acl {
            canned: None,
            grants: policy_grants(p)?,
        }
    } else {
        return Err(err(
            "MissingSecurityHeader",
            "Your request was missing a required header",
            400,
        ));
    };
    state
        .db
        .write(move |txn| -> Result<(), Error> {
            let mut b = require_owned(txn, &name, &caller)?;
            if b.ownership.as_deref() == Some("BucketOwnerEnforced")
                && grants_beyond_owner(&acl.grants, &b.account_id)
            {
                return Err(Error::S3(err(
                    "AccessControlListNotSupported",
                    "The bucket does not allow ACLs",
                    400,
                )));
            }
            if grants_public(&acl.grants) && crate::bucket_config::blocks_public_acls(txn, &name)? {
                return Err(Error::S3(access_denied()));
            }
            b.acl = Some(acl.clone());
            txn.put(&keys::bucket(&name), &encode(&b))?;
            Ok(())
        })
        .await?;
    Ok(S3Response::new(PutBucketAclOutput::default()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    use crate::UnverifiedRoot;
    use nimbus_core::ManualClock;
    use std::sync::Arc;

    fn req<T>(input: T, region: Option<&str>) -> S3Request<T> {
        let mut extensions = http::Extensions::new();
        extensions.insert(UnverifiedRoot);
        S3Request {
            input,
            method: http::Method::PUT,
            uri: http::Uri::from_static("/"),
            headers: http::HeaderMap::new(),
            extensions,
            credentials: None,
            region: region.and_then(|r| r.parse().ok()),
            service: None,
            trailing_headers: None,
        }
    }

    fn create(name: &str) -> CreateBucketInput {
        CreateBucketInput {
            bucket: name.into(),
            ..Default::default()
        }
    }

    fn code(e: &S3Error) -> String {
        e.code().as_str().to_string()
    }

    #[tokio::test]
    async fn create_rules_and_ownership() {
        let state = S3State::for_tests(Arc::new(ManualClock::new(1_000)));
        create_bucket(&state, req(create("mine"), None))
            .await
            .unwrap();
        // Owner re-creating in us-east-1: 200.
        create_bucket(&state, req(create("mine"), None))
            .await
            .unwrap();
        // A bucket of another account: BucketAlreadyExists.
        let other = BucketMeta {
            name: "theirs".into(),
            account_id: "111111111111".into(),
            region: "us-east-1".into(),
            created_ms: 0,
            versioning: None,
            mfa_delete: None,
            object_lock_enabled: false,
            ownership: None,
            acl: None,
            tags: vec![],
        };
        state
            .db
            .write_blocking(move |t| -> Result<(), Error> {
                t.put(&keys::bucket("theirs"), &encode(&other))?;
                Ok(())
            })
            .unwrap();
        let e = create_bucket(&state, req(create("theirs"), None))
            .await
            .unwrap_err();
        assert_eq!(code(&e), "BucketAlreadyExists");
        assert_eq!(e.status_code(), Some(http::StatusCode::CONFLICT));
        // Their bucket is AccessDenied to us, not NoSuchBucket.
        let e = get_bucket_versioning(
            &state,
            req(
                GetBucketVersioningInput {
                    bucket: "theirs".into(),
                    ..Default::default()
                },
                None,
            ),
        )
        .await
        .unwrap_err();
        assert_eq!(code(&e), "AccessDenied");
        // A regional bucket: the owner re-creating gets BucketAlreadyOwnedByYou.
        let mut eu = create("eu-bucket");
        eu.create_bucket_configuration = Some(CreateBucketConfiguration {
            location_constraint: Some(BucketLocationConstraint::from_static("EU")),
            ..Default::default()
        });
        create_bucket(&state, req(eu.clone(), Some("eu-west-1")))
            .await
            .unwrap();
        let e = create_bucket(&state, req(eu, Some("eu-west-1")))
            .await
            .unwrap_err();
        assert_eq!(code(&e), "BucketAlreadyOwnedByYou");
        let e = create_bucket(&state, req(create("no-constraint"), Some("eu-west-1")))
            .await
            .unwrap_err();
        assert_eq!(code(&e), "IllegalLocationConstraintException");
        let loc = get_bucket_location(
            &state,
            req(
                GetBucketLocationInput {
                    bucket: "eu-bucket".into(),
                    ..Default::default()
                },
                None,
            ),
        )
        .await
        .unwrap();
        assert_eq!(
            loc.output
                .location_constraint
                .map(|l| l.as_str().to_string()),
            Some("eu-west-1".to_string())
        );
    }

    #[tokio::test]
    async fn delete_needs_an_empty_bucket_and_removes_configs() {
        let state = S3State::for_tests(Arc::new(ManualClock::new(1_000)));
        create_bucket(&state, req(create("bkt"), None))
            .await
            .unwrap();
        state
            .db
            .write_blocking(move |t| -> Result<(), Error> {
                let b = write::require_bucket(t, "bkt")?;
                let mut v = crate::meta::ObjectVersion {
                    key: "k".into(),
                    ..Default::default()
                };
                write::put_version(t, &b, &mut v)?;
                Ok(())
            })
            .unwrap();
        let del = || {
            req(
                DeleteBucketInput {
                    bucket: "bkt".into(),
                    ..Default::default()
                },
                None,
            )
        };
        let e = delete_bucket(&state, del()).await.unwrap_err();
        assert_eq!(code(&e), "BucketNotEmpty");
        state
            .db
            .write_blocking(move |t| -> Result<(), Error> {
                write::delete_version(t, "bkt", "k", "null")?;
                Ok(())
            })
            .unwrap();
        delete_bucket(&state, del()).await.unwrap();
        let snap = state.db.snapshot().unwrap();
        assert!(snap.get(&keys::bucket("bkt")).unwrap().is_none());
        assert!(snap
            .get(&keys::bucket_config("bkt", crate::bucket_config::KIND_PAB))
            .unwrap()
            .is_none());
        assert!(snap.get(&keys::bucket_seq("bkt")).unwrap().is_none());
    }

    #[test]
    fn bucket_names() {
        for ok in ["abc", "my-bucket.example", "a1b2", "x".repeat(63).as_str()] {
            assert!(valid_bucket_name(ok), "{ok}");
        }
        for bad in [
            "ab",
            "ABC",
            "-abc",
            "abc-",
            "a..b",
            "a_b",
            "192.168.1.1",
            "xn--abc",
            "abc-s3alias",
            "abc--ol-s3",
            "sthree-abc",
            "a.-b",
            "x".repeat(64).as_str(),
        ] {
            assert!(!valid_bucket_name(bad), "{bad}");
        }
    }

    #[test]
    fn grant_headers() {
        let g = parse_grant_header(
            "id=\"abc\", uri=\"http://acs.amazonaws.com/groups/global/AllUsers\"",
            "READ",
        )
        .unwrap();
        assert_eq!(g.len(), 2);
        assert_eq!(g[0].grantee_type, "CanonicalUser");
        assert_eq!(g[1].grantee, ALL_USERS);
        assert!(parse_grant_header("bogus", "READ").is_err());
    }
}
