//! Which account owns a bucket, as last read from the store: lets an upload refuse early
//! (a missing bucket, another account's bucket) without a store read and a record decode
//! per request. The point read of a bucket record that sits in an older table was about
//! 4% of nimbus's CPU per 4 KiB PutObject.
//!
//! Only a hint: the commit transaction reads the bucket again and decides. So an entry is
//! never invalidated for correctness: a deleted bucket still known here lets the body be
//! read and then fails the commit with `NoSuchBucket`, as a delete racing the upload
//! would. Only buckets that exist are kept (a miss always reads the store), and the map
//! is bounded: it is cleared when full.

use std::collections::HashMap;

use parking_lot::Mutex;

/// Most buckets remembered; past this the map starts over.
const MAX_ENTRIES: usize = 4096;

#[derive(Default)]
pub struct BucketOwners {
    by_name: Mutex<HashMap<String, String>>,
}

impl BucketOwners {
    /// The owning account of `bucket`, if known.
    pub fn get(&self, bucket: &str) -> Option<String> {
        self.by_name.lock().get(bucket).cloned()
    }

    /// Remembers that `bucket` exists and belongs to `account_id`.
    pub fn remember(&self, bucket: &str, account_id: &str) {
        let mut map = self.by_name.lock();
        if map.len() >= MAX_ENTRIES && !map.contains_key(bucket) {
            map.clear();
        }
        map.insert(bucket.to_string(), account_id.to_string());
    }

    /// Forgets `bucket` (it was deleted): a later upload reads the store again.
    pub fn forget(&self, bucket: &str) {
        self.by_name.lock().remove(bucket);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_forgets_and_stays_bounded() {
        let o = BucketOwners::default();
        assert_eq!(o.get("b"), None);
        o.remember("b", "111111111111");
        assert_eq!(o.get("b").as_deref(), Some("111111111111"));
        o.forget("b");
        assert_eq!(o.get("b"), None);
        for i in 0..MAX_ENTRIES + 10 {
            o.remember(&format!("b{i}"), "1");
        }
        assert!(o.by_name.lock().len() <= MAX_ENTRIES);
        // The newest entry survives the clear that made room for it.
        assert!(o.get(&format!("b{}", MAX_ENTRIES + 9)).is_some());
    }
}
