//! nimbus-store: one ordered byte keyspace with serializable transactions.
//!
//! Every service is a layer of keys over this (FoundationDB's layer idea): keys are
//! ordered bytes, a state change is one write transaction, reads see a consistent
//! snapshot. The trait is shaped so that a PostgreSQL-compatible engine can implement it:
//! a write transaction may fail with [`StoreError::Conflict`] and is then retried by
//! [`Db::write`], so write closures must be retryable (`FnMut`, no side effects outside
//! the transaction).
//!
//! Invariant: this crate knows nothing about services, JSON or HTTP.

use std::ops::Bound;
use std::sync::Arc;

/// Errors of the storage layer.
#[derive(Debug, thiserror::Error)]
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
}

/// A key/value pair as returned by range reads.
pub type Entry = (Vec<u8>, Vec<u8>);

/// Reads over one consistent snapshot.
pub trait ReadTxn {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;

    /// Up to `limit` entries with keys in `(start, end)`, ascending, or descending when
    /// `reverse`. Bounded by `limit` (invariant 4); callers page by continuing after the
    /// last key they saw.
    fn range(
        &self,
        start: Bound<&[u8]>,
        end: Bound<&[u8]>,
        reverse: bool,
        limit: usize,
    ) -> Result<Vec<Entry>, StoreError>;
}

/// A write transaction: reads see its own writes.
pub trait WriteTxn: ReadTxn {
    fn put(&mut self, key: &[u8], value: &[u8]) -> Result<(), StoreError>;
    fn delete(&mut self, key: &[u8]) -> Result<(), StoreError>;
}
