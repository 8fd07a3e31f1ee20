//! The fjall engine's point-read cache: recently read rows (and absent keys), exact at all
//! times, so that a point read can skip fjall's memtable.
//!
//! Why: a GetItem's read is one memtable lookup, and in a busy process the skiplist's nodes
//! are out of the CPU cache: about 7% of a GetItem's CPU went to it. A hash lookup costs a
//! fraction of that.
//!
//! Why it is exact: the engine's single committer (the Db's writer thread) follows a
//! seqlock protocol around every commit:
//! 1. the generation becomes odd ([`RowCache::begin_commit`]);
//! 2. fjall applies the batch;
//! 3. every written key is removed from the cache, each under its shard's lock;
//! 4. the generation becomes even again ([`RowCache::end_commit`]).
//!
//! A view records the generation before and after it takes its fjall snapshot. It may use
//! the cache only if both were the same even number ([`RowCache::view_generation`]): then
//! its snapshot holds exactly the commits that had finished, all of their keys had been
//! removed, and no commit was under way.
//!
//! Under a shard's lock, both lookups and inserts also require that the generation still
//! equals the view's. Once any commit begins, no view from before it uses the cache. An
//! insert either sees that generation move, or takes the lock before that commit's
//! removal of the same key, which then removes it. So an entry always holds the latest
//! committed value of its key, and a view uses it only while that is also the value in
//! its own snapshot.
//!
//! This is safe only because this process is fjall's only writer (fjall locks its
//! directory), which is why the cache lives inside this engine and not in the Db: an engine
//! whose data other processes change (PostgreSQL) cannot have one.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

/// Shards: independent locks, so that readers on two cores rarely meet.
const SHARDS: usize = 16;
/// Most bytes (keys plus values) one shard keeps. When an insert would pass it, the shard
/// is emptied (cheap, and the hot rows come back on their next read).
const SHARD_BYTES: usize = 512 * 1024;
/// Rows larger than this are not cached: a few large items would evict many small ones.
const MAX_CACHED_ROW_BYTES: usize = 4 * 1024;
/// Per-entry bookkeeping counted against the budget (map slot, boxes).
const ENTRY_OVERHEAD: usize = 64;

type Value = Option<Box<[u8]>>;

#[derive(Default)]
struct Shard {
    rows: HashMap<Box<[u8]>, Value>,
    bytes: usize,
}

impl Shard {
    fn clear(&mut self) {
        self.rows.clear();
        self.bytes = 0;
    }

    fn insert(&mut self, key: &[u8], value: Value) {
        let added = cost(key, &value);
        if self.bytes + added > SHARD_BYTES {
            self.clear();
        }
        self.remove(key);
        self.rows.insert(Box::from(key), value);
        self.bytes += added;
    }

    fn remove(&mut self, key: &[u8]) {
        if let Some(old) = self.rows.remove(key) {
            self.bytes = self.bytes.saturating_sub(cost(key, &old));
        }
    }
}

pub(crate) struct RowCache {
    generation: AtomicU64,
    shards: [Mutex<Shard>; SHARDS],
    hasher: RandomState,
}

/// The generation a view may use the cache with, or `None` when it may not.
pub(crate) type ViewGeneration = Option<u64>;

fn cost(key: &[u8], value: &Value) -> usize {
    key.len() + value.as_ref().map_or(0, |v| v.len()) + ENTRY_OVERHEAD
}

impl RowCache {
    pub(crate) fn new() -> Self {
        RowCache {
            generation: AtomicU64::new(0),
            shards: std::array::from_fn(|_| Mutex::new(Shard::default())),
            hasher: RandomState::new(),
        }
    }

    fn shard(&self, key: &[u8]) -> MutexGuard<'_, Shard> {
        // In range: the modulus is the number of shards.
        let i = (self.hasher.hash_one(key) % SHARDS as u64) as usize;
        // Every change under this lock keeps the shard consistent before anything can
        // panic, so a poisoned lock is still usable.
        self.shards[i].lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Read on each side of taking a fjall snapshot (see [`RowCache::view_generation`]).
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// What a view may use the cache with, from the generations read `before` and `after`
    /// taking its snapshot: only if nothing was committing and nothing committed between.
    pub(crate) fn view_generation(before: u64, after: u64) -> ViewGeneration {
        (before == after && before.is_multiple_of(2)).then_some(before)
    }

    /// The cached row for `key` (`Some(None)`: known absent), if the view may use it.
    pub(crate) fn get(&self, view: ViewGeneration, key: &[u8]) -> Option<Option<Vec<u8>>> {
        let g = view?;
        let shard = self.shard(key);
        if self.generation() != g {
            return None;
        }
        shard.rows.get(key).map(|v| v.as_ref().map(|b| b.to_vec()))
    }

    /// Remembers what the view read for `key`, if the view is still current.
    pub(crate) fn insert(&self, view: ViewGeneration, key: &[u8], value: Option<&[u8]>) {
        let Some(g) = view else { return };
        // Unlocked first look: a view that is already stale (say, during a durable commit's
        // fsync) skips the copies below. The check under the lock is the one that counts.
        if key.len() + value.map_or(0, <[u8]>::len) > MAX_CACHED_ROW_BYTES || self.generation() != g
        {
            return;
        }
        let value: Value = value.map(Box::from);
        let mut shard = self.shard(key);
        if self.generation() != g {
            return;
        }
        shard.insert(key, value);
    }

    /// Step 1 of a commit: from now on no view uses or fills the cache.
    ///
    /// If the previous commit never finished (it panicked between steps 1 and 4), the
    /// generation is still odd and some of its keys may not have been forgotten: the
    /// generation moves to the next odd number (never through an even one, which views
    /// would take as "no commit under way") and the whole cache is emptied.
    pub(crate) fn begin_commit(&self) {
        let step = |g: u64| Some(if g.is_multiple_of(2) { g + 1 } else { g + 2 });
        let before = match self
            .generation
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, step)
        {
            Ok(g) | Err(g) => g,
        };
        if !before.is_multiple_of(2) {
            for shard in &self.shards {
                shard.lock().unwrap_or_else(|p| p.into_inner()).clear();
            }
        }
    }

    /// Step 3 of a commit, once fjall has applied it (or failed to): forget `key`.
    pub(crate) fn forget(&self, key: &[u8]) {
        self.shard(key).remove(key);
    }

    /// Step 4 of a commit.
    pub(crate) fn end_commit(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    #[cfg(test)]
    fn bytes(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(|p| p.into_inner()).bytes)
            .sum()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn view(c: &RowCache) -> ViewGeneration {
        let g = c.generation();
        RowCache::view_generation(g, c.generation())
    }

    #[test]
    fn a_current_view_reads_what_it_cached() {
        let c = RowCache::new();
        let v = view(&c);
        assert_eq!(c.get(v, b"k"), None);
        c.insert(v, b"k", Some(b"one"));
        c.insert(v, b"gone", None);
        assert_eq!(c.get(v, b"k"), Some(Some(b"one".to_vec())));
        assert_eq!(c.get(v, b"gone"), Some(None));
    }

    #[test]
    fn a_commit_invalidates_older_views_and_the_keys_it_wrote() {
        let c = RowCache::new();
        let old = view(&c);
        c.insert(old, b"k", Some(b"one"));
        c.insert(old, b"other", Some(b"two"));
        c.begin_commit();
        // While committing, nobody uses or fills the cache.
        assert_eq!(view(&c), None);
        assert_eq!(c.get(old, b"k"), None);
        c.insert(old, b"late", Some(b"x"));
        c.forget(b"k");
        c.end_commit();
        // The view from before the commit stays out.
        assert_eq!(c.get(old, b"other"), None);
        c.insert(old, b"k", Some(b"stale"));
        let new = view(&c);
        assert_eq!(c.get(new, b"k"), None, "the written key was forgotten");
        assert_eq!(c.get(new, b"late"), None, "nothing was inserted mid-commit");
        assert_eq!(c.get(new, b"other"), Some(Some(b"two".to_vec())));
    }

    #[test]
    fn a_commit_that_never_finished_empties_the_cache_at_the_next_one() {
        let c = RowCache::new();
        let v = view(&c);
        c.insert(v, b"k", Some(b"old"));
        // A commit that panicked after fjall applied it, before forgetting `k`.
        c.begin_commit();
        assert_eq!(view(&c), None);
        // The next commit starts from an odd generation: it stays odd and forgets all.
        c.begin_commit();
        assert_eq!(view(&c), None);
        c.end_commit();
        let v = view(&c);
        assert!(v.is_some());
        assert_eq!(c.get(v, b"k"), None, "the unforgotten row was dropped");
        assert_eq!(c.bytes(), 0);
    }

    #[test]
    fn a_view_across_a_snapshot_that_raced_a_commit_is_refused() {
        assert_eq!(RowCache::view_generation(2, 2), Some(2));
        assert_eq!(RowCache::view_generation(2, 4), None);
        assert_eq!(RowCache::view_generation(3, 3), None);
    }

    #[test]
    fn the_cache_stays_within_its_budget() {
        let c = RowCache::new();
        let v = view(&c);
        let value = vec![7u8; 1000];
        for i in 0..10_000u32 {
            c.insert(v, &i.to_be_bytes(), Some(&value));
        }
        assert!(c.bytes() <= SHARDS * SHARD_BYTES, "{}", c.bytes());
        // Large rows are not cached at all.
        c.insert(v, b"big", Some(&vec![0u8; MAX_CACHED_ROW_BYTES + 1]));
        assert_eq!(c.get(v, b"big"), None);
        // Replacing an entry does not leak budget.
        let c = RowCache::new();
        let v = view(&c);
        for _ in 0..1000 {
            c.insert(v, b"same", Some(&value));
        }
        assert_eq!(c.bytes(), cost(b"same", &Some(value.into_boxed_slice())));
    }
}
