//! What S3 stores about buckets, object versions and multipart uploads (JSON values
//! under the keys in [`crate::keys`]). Field names are short-lived internal format, but
//! every field has a serde default so that records written by an older nimbus still read.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A bucket. Its configurations (CORS, lifecycle, website, ...) live under their own
/// keys (`s3/bc/`), so that a large configuration is not rewritten with every change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BucketMeta {
    pub name: String,
    /// The owning account.
    pub account_id: String,
    pub region: String,
    pub created_ms: i64,
    /// `None` until versioning was ever configured; then `Enabled` or `Suspended`.
    #[serde(default)]
    pub versioning: Option<String>,
    /// `Enabled` when MFA delete was set (recorded only).
    #[serde(default)]
    pub mfa_delete: Option<String>,
    #[serde(default)]
    pub object_lock_enabled: bool,
    /// Object ownership (`BucketOwnerEnforced` by default, as AWS since April 2023).
    #[serde(default)]
    pub ownership: Option<String>,
    /// The bucket's canned ACL (`private` unless set).
    #[serde(default)]
    pub acl: Option<Acl>,
    #[serde(default)]
    pub tags: Vec<(String, String)>,
}

impl BucketMeta {
    pub fn versioning_enabled(&self) -> bool {
        self.versioning.as_deref() == Some("Enabled")
    }
}

/// An access control list: the owner always has FULL_CONTROL; `grants` are the others.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Acl {
    /// The canned ACL this came from, when it came from one (`private`, `public-read`, ...).
    #[serde(default)]
    pub canned: Option<String>,
    #[serde(default)]
    pub grants: Vec<Grant>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    /// `CanonicalUser`, `Group` or `AmazonCustomerByEmail`.
    pub grantee_type: String,
    /// Canonical user id, group URI or e-mail address.
    pub grantee: String,
    #[serde(default)]
    pub display_name: Option<String>,
    /// `FULL_CONTROL`, `READ`, `WRITE`, `READ_ACP`, `WRITE_ACP`.
    pub permission: String,
}

/// Where a body's bytes are: one or more blobs, read in order. A PutObject has one; a
/// completed multipart upload has one per part (no copy on completion).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobRef {
    pub id: String,
    pub size: u64,
    /// True when the bytes are in the store (`s3/d/{id}`) rather than the blob store.
    #[serde(default)]
    pub inline: bool,
}

/// A part of a completed multipart object, as GetObject?partNumber and
/// GetObjectAttributes need it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectPart {
    pub part_number: u32,
    pub size: u64,
    pub etag: String,
    #[serde(default)]
    pub checksum: Option<String>,
}

/// One version of an object, or a delete marker.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectVersion {
    pub key: String,
    /// The bucket's version sequence number (orders versions; see `keys`).
    pub seq: u64,
    /// `null` for unversioned writes, otherwise an opaque id (see [`version_id_for`]).
    pub version_id: String,
    #[serde(default)]
    pub delete_marker: bool,
    pub last_modified_ms: i64,
    #[serde(default)]
    pub size: u64,
    /// Quoted, as S3 returns it: `"<md5 hex>"` or `"<md5 of md5s>-<parts>"`.
    #[serde(default)]
    pub etag: String,
    #[serde(default)]
    pub blobs: Vec<BlobRef>,
    /// Set for completed multipart uploads.
    #[serde(default)]
    pub parts: Vec<ObjectPart>,
    /// System metadata as sent: content-type, content-encoding, content-language,
    /// content-disposition, cache-control, expires, website-redirect-location.
    #[serde(default)]
    pub system: BTreeMap<String, String>,
    /// `x-amz-meta-*` (names lower-cased, without the prefix).
    #[serde(default)]
    pub user: BTreeMap<String, String>,
    #[serde(default)]
    pub storage_class: Option<String>,
    /// Checksum algorithm (`CRC32`, `CRC32C`, `CRC64NVME`, `SHA1`, `SHA256`) and its
    /// base64 value, and whether it is FULL_OBJECT or COMPOSITE.
    #[serde(default)]
    pub checksum: Option<Checksum>,
    #[serde(default)]
    pub tags: Vec<(String, String)>,
    #[serde(default)]
    pub acl: Option<Acl>,
    /// The account that wrote it.
    #[serde(default)]
    pub owner_account: String,
    /// Server-side encryption reported (`AES256`).
    #[serde(default)]
    pub sse: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checksum {
    pub algorithm: String,
    pub value: String,
    /// `FULL_OBJECT` or `COMPOSITE`.
    pub kind: String,
}

/// A multipart upload in progress.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Upload {
    pub upload_id: String,
    pub key: String,
    pub initiated_ms: i64,
    /// The object-to-be's metadata (system, user, storage class, tags, ACL, checksum
    /// algorithm); `seq`, `size`, `etag`, `blobs` are filled in on completion.
    pub template: ObjectVersion,
    #[serde(default)]
    pub checksum_algorithm: Option<String>,
    #[serde(default)]
    pub checksum_type: Option<String>,
    pub owner_account: String,
}

/// One uploaded part.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Part {
    pub part_number: u32,
    pub size: u64,
    /// Quoted MD5 hex.
    pub etag: String,
    pub last_modified_ms: i64,
    pub blob: BlobRef,
    #[serde(default)]
    pub checksum: Option<Checksum>,
}

/// The version id S3 shows for `seq` in a versioned bucket: opaque, URL-safe, 32
/// characters, and decodable back to `seq` so that a version lookup is one store read.
pub fn version_id_for(seq: u64, salt: u64) -> String {
    format!("{seq:016x}{salt:016x}")
}

/// The seq inside a version id made by [`version_id_for`]; `None` for anything else
/// (including `null`).
pub fn seq_of_version_id(version_id: &str) -> Option<u64> {
    if version_id.len() != 32 || !version_id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u64::from_str_radix(version_id.get(..16)?, 16).ok()
}

/// The canonical user id S3 shows for an account (64 hex characters, stable).
pub fn canonical_user_id(account_id: &str) -> String {
    use md5::Digest;
    // Two MD5s of different inputs give 64 stable hex digits; not a secret.
    let a = md5::Md5::digest(format!("nimbus-canonical-user:{account_id}").as_bytes());
    let b = md5::Md5::digest(format!("{account_id}:nimbus-canonical-user").as_bytes());
    format!("{}{}", hex::encode(a), hex::encode(b))
}

/// The display name S3 shows for an account's canonical user.
pub fn display_name(_account_id: &str) -> String {
    "nimbus".to_string()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn version_ids_roundtrip() {
        let id = version_id_for(42, 0xdead_beef);
        assert_eq!(id.len(), 32);
        assert_eq!(seq_of_version_id(&id), Some(42));
        assert_eq!(seq_of_version_id("null"), None);
        assert_eq!(seq_of_version_id("zz"), None);
    }

    #[test]
    fn canonical_ids_are_stable_and_64_hex() {
        let a = canonical_user_id("000000000000");
        assert_eq!(a.len(), 64);
        assert_eq!(a, canonical_user_id("000000000000"));
        assert_ne!(a, canonical_user_id("111111111111"));
    }
}
