//! What IAM and STS keep in the store, and where.
//!
//! Layout (every key under `iam/`; names that AWS compares case-insensitively are keyed
//! by their lowercase form and keep their spelling in the record):
//! - `iam/a/<account>/u/<user>`                user record
//! - `iam/a/<account>/r/<role>`                role record
//! - `iam/a/<account>/p/<policy name>`         managed policy (all its versions)
//! - `iam/a/<account>/up/<user>\0<name>`       inline user policy document
//! - `iam/a/<account>/rp/<role>\0<name>`       inline role policy document
//! - `iam/a/<account>/ua/<user>\0<arn>`        managed policy attached to a user
//! - `iam/a/<account>/ra/<role>\0<arn>`        managed policy attached to a role
//! - `iam/a/<account>/uk/<user>\0<key id>`     a user's access key (listing index)
//! - `iam/k/<key id>`                          access key (lookup by id, every request)
//! - `iam/s/<key id>`                          STS temporary credentials
//!
//! `\0` separates a parent name from a child so that one user's children never share a
//! prefix with another user's whose name extends the first (`bob` vs `bobby`).

use std::ops::Bound;

use nimbus_store::{ReadTxn, StoreError, WriteTxn, MAX_RANGE_LIMIT};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

pub const PREFIX: &str = "iam/";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TagRecord {
    pub key: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserRecord {
    pub name: String,
    pub user_id: String,
    pub path: String,
    /// Seconds since the epoch.
    pub create_date: f64,
    #[serde(default)]
    pub permissions_boundary: Option<String>,
    #[serde(default)]
    pub tags: Vec<TagRecord>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoleRecord {
    pub name: String,
    pub role_id: String,
    pub path: String,
    pub create_date: f64,
    /// As the client sent it (responses URL-encode it, as AWS does).
    pub assume_role_policy_document: String,
    #[serde(default)]
    pub description: Option<String>,
    pub max_session_duration: i32,
    #[serde(default)]
    pub permissions_boundary: Option<String>,
    #[serde(default)]
    pub tags: Vec<TagRecord>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PolicyVersionRecord {
    /// `v1`, `v2`, ...
    pub version_id: String,
    pub document: String,
    pub create_date: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PolicyRecord {
    pub name: String,
    pub policy_id: String,
    pub path: String,
    #[serde(default)]
    pub description: Option<String>,
    pub create_date: f64,
    pub update_date: f64,
    pub default_version_id: String,
    /// The number the next version gets (versions are never renumbered).
    pub next_version: u32,
    pub versions: Vec<PolicyVersionRecord>,
    pub attachment_count: i32,
    #[serde(default)]
    pub tags: Vec<TagRecord>,
}

/// A long-term access key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccessKeyRecord {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub account_id: String,
    /// The owning user; `None` for an account-root key.
    pub user_name: Option<String>,
    #[serde(default)]
    pub user_id: Option<String>,
    /// `Active` or `Inactive`.
    pub status: String,
    pub create_date: f64,
}

/// Who temporary credentials act as.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind")]
pub enum SessionPrincipal {
    Root,
    User {
        user_name: String,
        user_id: String,
    },
    AssumedRole {
        role_name: String,
        role_id: String,
        session_name: String,
    },
}

/// STS temporary credentials.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionRecord {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: String,
    pub account_id: String,
    pub principal: SessionPrincipal,
    /// Milliseconds since the epoch.
    pub expires_at_millis: i64,
    /// The long-term key they came from (GetSessionToken) or the caller's key (AssumeRole).
    #[serde(default)]
    pub source_access_key_id: Option<String>,
}

pub fn user_key(account: &str, name: &str) -> Vec<u8> {
    format!("iam/a/{account}/u/{}", name.to_lowercase()).into_bytes()
}

pub fn users_prefix(account: &str) -> Vec<u8> {
    format!("iam/a/{account}/u/").into_bytes()
}

pub fn role_key(account: &str, name: &str) -> Vec<u8> {
    format!("iam/a/{account}/r/{}", name.to_lowercase()).into_bytes()
}

pub fn roles_prefix(account: &str) -> Vec<u8> {
    format!("iam/a/{account}/r/").into_bytes()
}

pub fn policy_key(account: &str, name: &str) -> Vec<u8> {
    format!("iam/a/{account}/p/{}", name.to_lowercase()).into_bytes()
}

pub fn policies_prefix(account: &str) -> Vec<u8> {
    format!("iam/a/{account}/p/").into_bytes()
}

/// Which kind of principal a child record hangs off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    User,
    Role,
}

fn owner_tag(owner: Owner, what: char) -> String {
    match owner {
        Owner::User => format!("u{what}"),
        Owner::Role => format!("r{what}"),
    }
}

/// Prefix of an owner's inline policies (`p`), attachments (`a`) or keys (`k`).
pub fn child_prefix(account: &str, owner: Owner, what: char, owner_name: &str) -> Vec<u8> {
    format!(
        "iam/a/{account}/{}/{}\0",
        owner_tag(owner, what),
        owner_name.to_lowercase()
    )
    .into_bytes()
}

pub fn child_key(
    account: &str,
    owner: Owner,
    what: char,
    owner_name: &str,
    child: &str,
) -> Vec<u8> {
    let mut k = child_prefix(account, owner, what, owner_name);
    k.extend_from_slice(child.as_bytes());
    k
}

pub fn access_key_key(access_key_id: &str) -> Vec<u8> {
    format!("iam/k/{access_key_id}").into_bytes()
}

pub fn session_key(access_key_id: &str) -> Vec<u8> {
    format!("iam/s/{access_key_id}").into_bytes()
}

/// Reads and decodes a record.
pub fn get<T: DeserializeOwned>(
    txn: &(impl ReadTxn + ?Sized),
    key: &[u8],
) -> Result<Option<T>, StoreError> {
    match txn.get(key)? {
        Some(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
            StoreError::Corrupt(format!("iam record {}: {e}", String::from_utf8_lossy(key)))
        }),
        None => Ok(None),
    }
}

/// Encodes and writes a record.
pub fn put<T: Serialize>(
    txn: &mut (impl WriteTxn + ?Sized),
    key: &[u8],
    value: &T,
) -> Result<(), StoreError> {
    let bytes =
        serde_json::to_vec(value).map_err(|e| StoreError::Invalid(format!("iam record: {e}")))?;
    txn.put(key, &bytes)
}

/// The end bound of a prefix scan: the prefix with its last byte incremented.
fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < u8::MAX {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

/// Up to `limit` entries under `prefix` whose key (after the prefix) is greater than
/// `after`. Returns `(suffix, value)` pairs.
pub fn scan(
    txn: &(impl ReadTxn + ?Sized),
    prefix: &[u8],
    after: Option<&str>,
    limit: usize,
) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
    let start_key;
    let start = match after {
        Some(a) => {
            let mut k = prefix.to_vec();
            k.extend_from_slice(a.as_bytes());
            start_key = k;
            Bound::Excluded(start_key.as_slice())
        }
        None => Bound::Included(prefix),
    };
    let end_key = prefix_end(prefix);
    let end = match &end_key {
        Some(e) => Bound::Excluded(e.as_slice()),
        None => Bound::Unbounded,
    };
    let rows = txn.range(start, end, false, limit.min(MAX_RANGE_LIMIT))?;
    Ok(rows
        .into_iter()
        .map(|(k, v)| {
            let suffix = k.get(prefix.len()..).unwrap_or_default();
            (String::from_utf8_lossy(suffix).into_owned(), v)
        })
        .collect())
}

/// Whether anything exists under `prefix`.
pub fn any_under(txn: &(impl ReadTxn + ?Sized), prefix: &[u8]) -> Result<bool, StoreError> {
    Ok(!scan(txn, prefix, None, 1)?.is_empty())
}

/// Every entry under `prefix`, paging through the store (bounded by `max`).
pub fn scan_all(
    txn: &(impl ReadTxn + ?Sized),
    prefix: &[u8],
    max: usize,
) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
    let mut out: Vec<(String, Vec<u8>)> = Vec::new();
    loop {
        let after = out.last().map(|(k, _)| k.clone());
        let page = scan(
            txn,
            prefix,
            after.as_deref(),
            MAX_RANGE_LIMIT.min(max.saturating_sub(out.len()).max(1)),
        )?;
        let done = page.len() < MAX_RANGE_LIMIT;
        out.extend(page);
        if done || out.len() >= max {
            out.truncate(max);
            return Ok(out);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn prefix_end_increments() {
        assert_eq!(prefix_end(b"ab"), Some(b"ac".to_vec()));
        assert_eq!(prefix_end(b"a\xff"), Some(b"b".to_vec()));
        assert_eq!(prefix_end(b"\xff\xff"), None);
    }

    #[test]
    fn child_keys_do_not_collide_across_owners() {
        let bob = child_prefix("1", Owner::User, 'p', "bob");
        let bobby = child_key("1", Owner::User, 'p', "bobby", "x");
        assert!(!bobby.starts_with(&bob));
        assert!(user_key("1", "Bob") == user_key("1", "bob"));
    }

    #[test]
    fn scan_pages_and_bounds() {
        let db = nimbus_store::Db::in_memory();
        db.write_blocking(|t| {
            for i in 0..25 {
                put(t, format!("iam/x/{i:03}").as_bytes(), &i)?;
            }
            put(t, b"iam/y/000", &0)?;
            Ok::<_, StoreError>(())
        })
        .unwrap();
        let snap = db.snapshot().unwrap();
        let page = scan(snap.as_ref(), b"iam/x/", None, 10).unwrap();
        assert_eq!(page.len(), 10);
        assert_eq!(page[0].0, "000");
        let next = scan(snap.as_ref(), b"iam/x/", Some("009"), 100).unwrap();
        assert_eq!(next.len(), 15);
        assert_eq!(next[0].0, "010");
        assert_eq!(scan_all(snap.as_ref(), b"iam/x/", 1000).unwrap().len(), 25);
        assert_eq!(scan_all(snap.as_ref(), b"iam/x/", 7).unwrap().len(), 7);
        assert!(any_under(snap.as_ref(), b"iam/y/").unwrap());
        assert!(!any_under(snap.as_ref(), b"iam/z/").unwrap());
        let v: Option<i32> = get(snap.as_ref(), b"iam/x/003").unwrap();
        assert_eq!(v, Some(3));
    }
}
