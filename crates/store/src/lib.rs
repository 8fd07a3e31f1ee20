//! nimbus-store: one ordered byte keyspace with serializable transactions.
//!
//! Every service is a layer of keys over this (FoundationDB's layer idea): keys are
//! ordered bytes, a state change is one write transaction, reads see a consistent
//! snapshot. The trait is shaped so that a PostgreSQL-compatible engine can implement it:
//! a write transaction may fail with [`StoreError::Conflict`] and is then retried by
//! [`Db::write`], so write closures must be retryable (`FnMut`, no side effects outside
//! the transaction).
//!
//! Writes go through one writer thread per [`Db`] that runs many callers' closures inside
//! one engine transaction and commits them with one fsync (group commit). Engines: fjall
//! (the default embedded engine, cargo feature `fjall`, on by default), redb (always built)
//! and memory (`--in-memory`). `docs/store-engine.md` has the design, the durability model and
//! the benchmark behind the choice of engine.
//!
//! Invariant: this crate knows nothing about services, JSON or HTTP.

mod config;
mod db;
mod engine;
mod overlay;
mod writer;

#[cfg(any(test, feature = "testkit"))]
#[allow(clippy::unwrap_used, clippy::expect_used)]
pub mod testkit;

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests;

use std::ops::Bound;

pub use config::{Durability, EngineKind, StoreConfig};
pub use db::{Db, StoreStats};

/// Most entries one `range` call returns, whatever `limit` asks for: a read must not be
/// able to pull an unbounded amount into memory. Callers page with `limit <= MAX_RANGE_LIMIT`
/// (then "fewer than `limit` entries" means the range is exhausted).
pub const MAX_RANGE_LIMIT: usize = 10_000;

/// Longest key accepted. DynamoDB's largest key (2 KB partition + 1 KB sort key) plus a
/// table prefix fits with room to spare; the LSM engine cannot store keys over 64 KiB.
pub const MAX_KEY_BYTES: usize = 8 * 1024;

/// Largest value accepted. Big payloads (object bodies, packages) belong in the blob store;
/// a DynamoDB item is at most 400 KB.
pub const MAX_VALUE_BYTES: usize = 8 * 1024 * 1024;

/// The engine's block cache unless configured otherwise. Small on purpose: nimbus's idle RSS
/// target is 12 MB (engine defaults are 32 MiB to 1 GiB), and the OS page cache keeps hot
/// file pages in memory anyway.
pub const DEFAULT_CACHE_BYTES: usize = 8 * 1024 * 1024;

/// Most bytes (keys + values) one write transaction may write. DynamoDB's largest
/// transaction is 4 MB of items plus their index entries; this bounds a batch's memory.
pub const MAX_TXN_WRITE_BYTES: usize = 64 * 1024 * 1024;

/// Errors of the storage layer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// Another transaction changed what this one read; retrying may succeed.
    #[error("transaction conflict")]
    Conflict,
    /// The engine failed to read or write its files.
    #[error("storage I/O error: {0}")]
    Io(String),
    /// Stored data could not be decoded.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// The store is shutting down and takes no more writes.
    #[error("store is closed")]
    Closed,
    /// The caller broke a limit of the store (key or value size, transaction size).
    #[error("invalid store request: {0}")]
    Invalid(String),
    /// The store cannot be opened as configured (engine compiled out, missing path, ...).
    #[error("store configuration error: {0}")]
    Config(String),
    /// The transaction closure panicked; its writes were discarded, other writers were not
    /// affected.
    #[error("transaction closure panicked: {0}")]
    Panicked(String),
}

/// A key/value pair as returned by range reads.
pub type Entry = (Vec<u8>, Vec<u8>);

/// Reads over one consistent snapshot.
pub trait ReadTxn {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;

    /// Up to `limit` entries with keys in `(start, end)`, ascending, or descending when
    /// `reverse`. Bounded by `limit` (invariant 4) and by [`MAX_RANGE_LIMIT`]; callers page by
    /// continuing after the last key they saw. A range whose start lies after its end is
    /// empty (never a panic).
    fn range(
        &self,
        start: Bound<&[u8]>,
        end: Bound<&[u8]>,
        reverse: bool,
        limit: usize,
    ) -> Result<Vec<Entry>, StoreError>;
}

/// A write transaction: reads see its own writes.
///
/// Keys must be 1..=[`MAX_KEY_BYTES`] bytes and values at most [`MAX_VALUE_BYTES`];
/// violations return [`StoreError::Invalid`] (which the closure may propagate).
pub trait WriteTxn: ReadTxn {
    fn put(&mut self, key: &[u8], value: &[u8]) -> Result<(), StoreError>;
    fn delete(&mut self, key: &[u8]) -> Result<(), StoreError>;
}

/// Checks a key against the store's limits (empty keys are refused because the LSM engine
/// cannot store them and an empty key is always a caller bug).
pub(crate) fn check_key(key: &[u8]) -> Result<(), StoreError> {
    if key.is_empty() {
        return Err(StoreError::Invalid("key must not be empty".into()));
    }
    if key.len() > MAX_KEY_BYTES {
        return Err(StoreError::Invalid(format!(
            "key of {} bytes exceeds the limit of {MAX_KEY_BYTES} bytes",
            key.len()
        )));
    }
    Ok(())
}

pub(crate) fn check_value(value: &[u8]) -> Result<(), StoreError> {
    if value.len() > MAX_VALUE_BYTES {
        return Err(StoreError::Invalid(format!(
            "value of {} bytes exceeds the limit of {MAX_VALUE_BYTES} bytes",
            value.len()
        )));
    }
    Ok(())
}

/// True when no key can lie in `(start, end)`. Ordered maps panic on such ranges, so every
/// engine checks this first.
pub(crate) fn range_is_empty(start: Bound<&[u8]>, end: Bound<&[u8]>) -> bool {
    match (start, end) {
        (Bound::Included(s), Bound::Included(e)) => s > e,
        (Bound::Included(s), Bound::Excluded(e))
        | (Bound::Excluded(s), Bound::Included(e))
        | (Bound::Excluded(s), Bound::Excluded(e)) => s >= e,
        _ => false,
    }
}
