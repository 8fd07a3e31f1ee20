//! Signing keys: `HMAC("AWS4"+secret, date) -> region -> service -> "aws4_request"`.
//!
//! Four HMACs per request are a measurable share of a small request's cost, and the key
//! only changes once a day per (secret, region, service), so verified keys are cached.

use std::collections::HashMap;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::sync::{Mutex, MutexGuard};

type HmacSha256 = Hmac<Sha256>;

/// A derived signing key.
pub type SigningKey = [u8; 32];

/// HMAC-SHA256 of `data` under `key`.
pub fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length, so this constructor cannot fail.
    let mut mac = match HmacSha256::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => return [0u8; 32],
    };
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// Derives the signing key from scratch.
pub fn derive_signing_key(secret: &str, date: &str, region: &str, service: &str) -> SigningKey {
    let mut k_secret = Vec::with_capacity(4 + secret.len());
    k_secret.extend_from_slice(b"AWS4");
    k_secret.extend_from_slice(secret.as_bytes());
    let k_date = hmac_sha256(&k_secret, date.as_bytes());
    let k_region = hmac_sha256(&k_date, region.as_bytes());
    let k_service = hmac_sha256(&k_region, service.as_bytes());
    hmac_sha256(&k_service, b"aws4_request")
}

/// `secret \0 date \0 region \0 service`; NUL cannot occur in any of the parts of a valid
/// scope.
type CacheKey = String;

/// `parts` joined by NUL in `buf`, or `None` when they do not fit.
fn join_into<'b>(parts: &[&str], buf: &'b mut [u8]) -> Option<&'b str> {
    let mut len = 0;
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            *buf.get_mut(len)? = 0;
            len += 1;
        }
        buf.get_mut(len..len + part.len())?
            .copy_from_slice(part.as_bytes());
        len += part.len();
    }
    // UTF-8 strings joined by NUL are UTF-8.
    std::str::from_utf8(buf.get(..len)?).ok()
}

/// A bounded cache of derived signing keys.
///
/// Bounded by `capacity` entries (invariant 4); when full it is cleared wholesale,
/// which is cheap and only costs one derivation per live key on the next requests
/// (a date change makes old entries useless anyway).
#[derive(Debug)]
pub struct SigningKeyCache {
    capacity: usize,
    map: Mutex<HashMap<CacheKey, SigningKey>>,
}

/// Enough for every (key, region, service) a single node sees in a day with room to spare.
pub const DEFAULT_KEY_CACHE_CAPACITY: usize = 1024;

impl Default for SigningKeyCache {
    fn default() -> Self {
        Self::new(DEFAULT_KEY_CACHE_CAPACITY)
    }
}

impl SigningKeyCache {
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            map: Mutex::new(HashMap::new()),
        }
    }

    /// The signing key for this scope, derived once and then served from the cache.
    fn lock(&self) -> MutexGuard<'_, HashMap<CacheKey, SigningKey>> {
        // A panic while holding this lock cannot leave the map inconsistent (every
        // operation is a single insert/get/clear), so a poisoned lock is still usable.
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn get(&self, secret: &str, date: &str, region: &str, service: &str) -> SigningKey {
        let parts = [secret, date, region, service];
        // The lookup key is joined on the stack when it fits (it nearly always does), so
        // a hit allocates nothing.
        let mut stack = [0u8; 160];
        let heap;
        let key: &str = match join_into(&parts, &mut stack) {
            Some(joined) => joined,
            None => {
                heap = parts.join("\0");
                &heap
            }
        };
        if let Some(k) = self.lock().get(key) {
            return *k;
        }
        // Derive outside the lock: two racing requests may both derive, which is harmless.
        let derived = derive_signing_key(secret, date, region, service);
        let mut map = self.lock();
        if map.len() >= self.capacity {
            map.clear();
        }
        map.insert(key.to_string(), derived);
        derived
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn derivation_matches_aws_documented_example() {
        // From the AWS General Reference "Examples of how to derive a signing key".
        let k = derive_signing_key(
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            "20120215",
            "us-east-1",
            "iam",
        );
        assert_eq!(
            hex::encode(k),
            "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"
        );
    }

    #[test]
    fn cache_is_bounded_and_consistent() {
        let c = SigningKeyCache::new(4);
        let first = c.get("s", "20260101", "us-east-1", "dynamodb");
        assert_eq!(
            first,
            derive_signing_key("s", "20260101", "us-east-1", "dynamodb")
        );
        assert_eq!(c.get("s", "20260101", "us-east-1", "dynamodb"), first);
        assert_eq!(c.len(), 1);
        for i in 0..10 {
            c.get("s", "20260101", &format!("r{i}"), "dynamodb");
            assert!(c.len() <= 4);
        }
        // Different secrets never share a key.
        assert_ne!(c.get("t", "20260101", "us-east-1", "dynamodb"), first);
    }

    #[test]
    fn scopes_too_long_for_the_stack_key_are_cached_too() {
        let c = SigningKeyCache::new(4);
        let secret = "s".repeat(200);
        let want = derive_signing_key(&secret, "20260101", "us-east-1", "dynamodb");
        assert_eq!(c.get(&secret, "20260101", "us-east-1", "dynamodb"), want);
        assert_eq!(c.get(&secret, "20260101", "us-east-1", "dynamodb"), want);
        assert_eq!(c.len(), 1);
        let mut buf = [0u8; 8];
        assert_eq!(join_into(&["ab", "c"], &mut buf), Some("ab\0c"));
        assert_eq!(join_into(&["abcd", "efgh"], &mut buf), None);
    }
}
