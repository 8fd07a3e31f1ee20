//! The engine seam: what a storage engine must provide to sit under a [`crate::Db`].
//!
//! The trait is deliberately narrow so that a client/server SQL engine (PostgreSQL,
//! CockroachDB, YugabyteDB: one `kv(key bytea primary key, value bytea)` table) can
//! implement it later:
//! - keys are ordered bytes, compared as unsigned bytes (`bytea` order, `COLLATE "C"`);
//! - a write transaction is: serializable reads, then one atomic apply of a write set at
//!   commit (`BEGIN ISOLATION LEVEL SERIALIZABLE; SELECT ...; INSERT .. ON CONFLICT ..;
//!   DELETE ..; COMMIT`). Any step may fail with [`StoreError::Conflict`] (SQLSTATE 40001);
//!   the Db then discards the transaction and re-runs its closures;
//! - nothing is cached across transactions: every transaction and snapshot asks the engine,
//!   so other processes may own and change the same data (an engine that alone owns its
//!   data may cache inside itself, exactly: the fjall engine's `row_cache`);
//! - the Db serialises its own write transactions (one writer thread), but an engine must
//!   not rely on that for correctness across processes.

use std::collections::BTreeMap;
use std::path::Path;

use crate::config::{Durability, EngineKind, StoreConfig};
use crate::{ReadTxn, StoreError};

#[cfg(feature = "fjall")]
mod fjall;
mod memory;
mod redb;
#[cfg(feature = "fjall")]
mod row_cache;

/// Pending writes of a transaction, ordered like the keyspace: `None` is a delete.
pub(crate) type WriteSet = BTreeMap<Vec<u8>, Option<Vec<u8>>>;

/// A storage engine. Shared between the Db's readers (snapshots) and its writer thread.
pub(crate) trait Engine: Send + Sync + 'static {
    fn name(&self) -> &'static str;

    /// A consistent read-only view of committed data. Implementations clamp `limit` to
    /// [`crate::MAX_RANGE_LIMIT`] and treat inverted ranges as empty.
    fn snapshot(&self) -> Result<Box<dyn ReadTxn + Send>, StoreError>;

    /// Starts a write transaction. Its reads see committed data as of its start (and, for a
    /// serializable engine, register what was read for conflict detection). Dropping the
    /// returned value aborts it.
    fn begin(&self) -> Result<Box<dyn EngineTxn + '_>, StoreError>;

    /// Makes every commit so far durable. Called on close and, under relaxed durability,
    /// about once a second.
    fn sync(&self) -> Result<(), StoreError>;

    /// Called once when the Db closes (or its last handle goes): make everything durable and
    /// leave the files so that the next open is quick and small.
    fn shutdown(&self) -> Result<(), StoreError> {
        self.sync()
    }
}

/// An open engine write transaction.
pub(crate) trait EngineTxn: ReadTxn {
    /// Applies `writes` atomically and commits. With `durable`, returns only once the commit
    /// is on stable storage. May fail with [`StoreError::Conflict`].
    fn commit(self: Box<Self>, writes: WriteSet, durable: bool) -> Result<(), StoreError>;
}

/// Opens the engine `cfg` names, or says why it cannot.
pub(crate) fn open(cfg: &StoreConfig, cache_bytes: usize) -> Result<Box<dyn Engine>, StoreError> {
    if !cfg.engine.is_available() {
        return Err(StoreError::Config(format!(
            "storage engine \"{}\" is not compiled into this build (build nimbus with its \
             default features or `--features {}`, or choose \"redb\" or \"memory\")",
            cfg.engine.name(),
            cfg.engine.name()
        )));
    }
    if cfg.engine == EngineKind::Memory {
        return Ok(Box::new(memory::MemoryEngine::new()));
    }
    let dir = cfg.path.as_deref().ok_or_else(|| {
        StoreError::Config(format!(
            "storage engine \"{}\" keeps its data on disk and needs a data directory",
            cfg.engine.name()
        ))
    })?;
    create_dir(dir)?;
    match cfg.engine {
        EngineKind::Redb => Ok(Box::new(redb::RedbEngine::open(dir, cache_bytes)?)),
        #[cfg(feature = "fjall")]
        EngineKind::Fjall => Ok(Box::new(fjall::FjallEngine::open(dir, cache_bytes)?)),
        // Unreachable: availability was checked above. Kept as an error, not a panic.
        _ => Err(StoreError::Config(format!(
            "storage engine \"{}\" is not available",
            cfg.engine.name()
        ))),
    }
}

/// The in-memory engine, for callers that cannot fail.
pub(crate) fn memory_engine() -> impl Engine {
    memory::MemoryEngine::new()
}

fn create_dir(dir: &Path) -> Result<(), StoreError> {
    std::fs::create_dir_all(dir).map_err(|e| {
        StoreError::Io(format!(
            "cannot create data directory {}: {e}",
            dir.display()
        ))
    })
}

/// Whether `durability` asks commits to reach stable storage.
pub(crate) fn is_durable(durability: Durability) -> bool {
    matches!(durability, Durability::Fsync)
}

/// fjall's write buffer per keyspace (its library default is 64 MiB). It fills only as
/// data is written, so it does not change idle RSS (16.8 MB with 4 MiB or 16 MiB here).
/// Under sustained writes a bigger one means fewer flushes and compactions and fewer
/// tables for a point read to look through: with 4 KiB PutObjects at 64 connections,
/// alternating runs of one binary put nimbus's CPU per request at 159-185 µs with 16 MiB
/// against 220-240 µs with 4 MiB, for about 25 MB more RSS under that load. Fixed when the
/// store is created.
#[cfg(feature = "fjall")]
pub(crate) const FJALL_MEMTABLE_BYTES: u64 = 16 * 1024 * 1024;
/// Cap on fjall's journals, hence on data waiting in memory to be flushed.
#[cfg(feature = "fjall")]
pub(crate) const FJALL_MAX_JOURNAL_BYTES: u64 = 64 * 1024 * 1024;
