//! The transactional core every object write shares: version numbering, the `null`
//! version rule, and turning replaced bodies into garbage, all inside the caller's one
//! store transaction (so an object appears, changes or disappears atomically with its
//! blob references).

use nimbus_store::{ReadTxn, WriteTxn};
use std::ops::Bound;

use crate::error::{decode, encode, Error};
use crate::keys;
use crate::meta::{seq_of_version_id, version_id_for, BlobRef, BucketMeta, ObjectVersion};

/// Reads a bucket's record.
pub fn load_bucket(txn: &dyn ReadTxn, bucket: &str) -> Result<Option<BucketMeta>, Error> {
    match txn.get(&keys::bucket(bucket))? {
        Some(v) => Ok(Some(decode("bucket", &v)?)),
        None => Ok(None),
    }
}

/// The bucket's record, or `NoSuchBucket`.
pub fn require_bucket(txn: &dyn ReadTxn, bucket: &str) -> Result<BucketMeta, Error> {
    load_bucket(txn, bucket)?.ok_or_else(|| Error::S3(crate::error::no_such_bucket(bucket)))
}

/// Takes the bucket's next version sequence number.
pub fn next_seq(txn: &mut dyn WriteTxn, bucket: &str) -> Result<u64, Error> {
    let k = keys::bucket_seq(bucket);
    let cur = match txn.get(&k)? {
        Some(v) => u64::from_be_bytes(
            v.as_slice()
                .try_into()
                .map_err(|_| Error::Corrupt("bucket seq".into()))?,
        ),
        None => 0,
    };
    let next = cur + 1;
    txn.put(&k, &next.to_be_bytes())?;
    Ok(next)
}

/// A random salt for version ids.
fn salt() -> u64 {
    let b = uuid::Uuid::new_v4().into_bytes();
    let mut s = [0u8; 8];
    s.copy_from_slice(&b[..8]);
    u64::from_be_bytes(s)
}

/// The newest version of `key` (possibly a delete marker).
pub fn latest_version(
    txn: &dyn ReadTxn,
    bucket: &str,
    key: &str,
) -> Result<Option<ObjectVersion>, Error> {
    let prefix = keys::versions_of_key(bucket, key);
    let end = keys::prefix_end(&prefix);
    let rows = txn.range(
        Bound::Included(prefix.as_slice()),
        Bound::Excluded(end.as_slice()),
        false,
        1,
    )?;
    match rows.first() {
        Some((_, v)) => Ok(Some(decode("object version", v)?)),
        None => Ok(None),
    }
}

/// A specific version: `null` or an id made by [`version_id_for`]. `None` when it does
/// not exist (including malformed ids).
pub fn get_version(
    txn: &dyn ReadTxn,
    bucket: &str,
    key: &str,
    version_id: &str,
) -> Result<Option<ObjectVersion>, Error> {
    let seq = if version_id == "null" {
        match null_version_seq(txn, bucket, key)? {
            Some(seq) => seq,
            None => return Ok(None),
        }
    } else {
        match seq_of_version_id(version_id) {
            Some(s) => s,
            None => return Ok(None),
        }
    };
    match txn.get(&keys::version(bucket, key, seq))? {
        Some(v) => {
            let ver: ObjectVersion = decode("object version", &v)?;
            Ok((ver.version_id == version_id).then_some(ver))
        }
        None => Ok(None),
    }
}

/// Marks the blobs of a removed version (or part) as garbage, in the same transaction.
/// Inline bodies are deleted at once; blob-store files are deleted by the reaper after
/// the commit (deleting a file inside a transaction that may still fail would lose data).
pub fn discard_blobs(txn: &mut dyn WriteTxn, blobs: &[BlobRef]) -> Result<(), Error> {
    for b in blobs {
        if b.inline {
            txn.delete(&keys::inline(&b.id))?;
        } else {
            txn.delete(&keys::blob_ref(&b.id))?;
            txn.put(&keys::garbage(&b.id), b"")?;
        }
    }
    Ok(())
}

/// Records that `blobs` are referenced (so crash recovery keeps their files).
pub fn reference_blobs(txn: &mut dyn WriteTxn, blobs: &[BlobRef]) -> Result<(), Error> {
    for b in blobs.iter().filter(|b| !b.inline) {
        txn.put(&keys::blob_ref(&b.id), b"")?;
    }
    Ok(())
}

/// What replacing a key's `null` version needs from its record. Decoding only this (the
/// rest of the record, metadata maps and all, is skipped) keeps an overwrite's commit on
/// the store's single writer thread short.
#[derive(serde::Deserialize)]
struct NullVersionHead {
    seq: u64,
    version_id: String,
    #[serde(default)]
    blobs: Vec<BlobRef>,
}

/// Writes `ver` as the newest version of `ver.key`, assigning `seq` and `version_id`
/// (a fresh id when the bucket's versioning is `Enabled`, `null` otherwise, replacing
/// the key's previous `null` version). Returns the blobs of the version it replaced, if
/// any (already marked as garbage).
pub fn put_version(
    txn: &mut dyn WriteTxn,
    bucket: &BucketMeta,
    ver: &mut ObjectVersion,
) -> Result<Option<Vec<BlobRef>>, Error> {
    let seq = next_seq(txn, &bucket.name)?;
    ver.seq = seq;
    let mut replaced = None;
    if bucket.versioning_enabled() {
        ver.version_id = version_id_for(seq, salt());
    } else {
        ver.version_id = "null".to_string();
        let nk = keys::null_version(&bucket.name, &ver.key);
        if let Some(old) = null_version_head(txn, &bucket.name, &ver.key)? {
            txn.delete(&keys::version(&bucket.name, &ver.key, old.seq))?;
            discard_blobs(txn, &old.blobs)?;
            replaced = Some(old.blobs);
        }
        txn.put(&nk, &seq.to_be_bytes())?;
    }
    reference_blobs(txn, &ver.blobs)?;
    txn.put(&keys::version(&bucket.name, &ver.key, seq), &encode(ver))?;
    Ok(replaced)
}

/// The sequence number the key's `null`-version pointer names, if it has one.
fn null_version_seq(txn: &dyn ReadTxn, bucket: &str, key: &str) -> Result<Option<u64>, Error> {
    match txn.get(&keys::null_version(bucket, key))? {
        Some(v) => Ok(Some(u64::from_be_bytes(
            v.as_slice()
                .try_into()
                .map_err(|_| Error::Corrupt("null version".into()))?,
        ))),
        None => Ok(None),
    }
}

/// The key's `null` version (as [`get_version`] with `null` finds it), partly decoded.
fn null_version_head(
    txn: &dyn ReadTxn,
    bucket: &str,
    key: &str,
) -> Result<Option<NullVersionHead>, Error> {
    let Some(seq) = null_version_seq(txn, bucket, key)? else {
        return Ok(None);
    };
    match txn.get(&keys::version(bucket, key, seq))? {
        Some(v) => {
            let head: NullVersionHead = decode("object version", &v)?;
            Ok((head.version_id == "null").then_some(head))
        }
        None => Ok(None),
    }
}

/// Removes one version for good (DeleteObject with a versionId, lifecycle expiry,
/// unversioned deletes). Returns it, or `None` if it did not exist.
pub fn delete_version(
    txn: &mut dyn WriteTxn,
    bucket: &str,
    key: &str,
    version_id: &str,
) -> Result<Option<ObjectVersion>, Error> {
    let Some(old) = get_version(txn, bucket, key, version_id)? else {
        return Ok(None);
    };
    txn.delete(&keys::version(bucket, key, old.seq))?;
    if old.version_id == "null" {
        txn.delete(&keys::null_version(bucket, key))?;
    }
    discard_blobs(txn, &old.blobs)?;
    Ok(Some(old))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use nimbus_store::Db;

    fn bucket(versioning: Option<&str>) -> BucketMeta {
        BucketMeta {
            name: "bk".into(),
            account_id: "000000000000".into(),
            region: "us-east-1".into(),
            created_ms: 0,
            versioning: versioning.map(str::to_string),
            mfa_delete: None,
            object_lock_enabled: false,
            ownership: None,
            acl: None,
            tags: vec![],
        }
    }

    fn ver(key: &str, blob: &str) -> ObjectVersion {
        ObjectVersion {
            key: key.into(),
            blobs: vec![BlobRef {
                id: blob.into(),
                size: 1,
                inline: false,
            }],
            ..Default::default()
        }
    }

    #[test]
    fn unversioned_put_replaces_the_null_version_and_discards_its_blob() {
        let db = Db::in_memory();
        let b = bucket(None);
        db.write_blocking(move |t| -> Result<(), Error> {
            let mut v1 = ver("k", "blob1");
            assert!(put_version(t, &b, &mut v1)?.is_none());
            let mut v2 = ver("k", "blob2");
            let old = put_version(t, &b, &mut v2)?.expect("replaced");
            assert_eq!(old[0].id, "blob1");
            assert!(t.get(&keys::garbage("blob1"))?.is_some());
            assert!(t.get(&keys::blob_ref("blob2"))?.is_some());
            let latest = latest_version(t, "bk", "k")?.expect("latest");
            assert_eq!(latest.version_id, "null");
            assert_eq!(latest.blobs[0].id, "blob2");
            Ok(())
        })
        .unwrap();
    }

    #[test]
    fn versioned_puts_keep_every_version_newest_first() {
        let db = Db::in_memory();
        let b = bucket(Some("Enabled"));
        db.write_blocking(move |t| -> Result<(), Error> {
            let mut v1 = ver("k", "blob1");
            put_version(t, &b, &mut v1)?;
            let mut v2 = ver("k", "blob2");
            assert!(put_version(t, &b, &mut v2)?.is_none());
            assert_ne!(v1.version_id, v2.version_id);
            assert_eq!(
                latest_version(t, "bk", "k")?.unwrap().version_id,
                v2.version_id
            );
            let got = get_version(t, "bk", "k", &v1.version_id)?.unwrap();
            assert_eq!(got.blobs[0].id, "blob1");
            assert!(delete_version(t, "bk", "k", &v2.version_id)?.is_some());
            assert_eq!(
                latest_version(t, "bk", "k")?.unwrap().version_id,
                v1.version_id
            );
            assert!(get_version(t, "bk", "k", "null")?.is_none());
            Ok(())
        })
        .unwrap();
    }
}
