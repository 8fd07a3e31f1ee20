//! The fjall engine: an LSM tree (`<data dir>/fjall/`), behind the `fjall` cargo feature.
//!
//! A commit appends one atomic batch to fjall's journal; a durable commit then fdatasyncs the
//! journal (once per group-commit batch). Relaxed commits hand the journal to the OS without
//! syncing, so they survive a process crash but not a power loss.

use std::ops::Bound;
use std::path::Path;
use std::sync::Arc;

use fjall::{Database, Keyspace, KeyspaceCreateOptions, PersistMode, Readable, Snapshot};

use super::row_cache::{RowCache, ViewGeneration};
use super::{Engine, EngineTxn, WriteSet, FJALL_MAX_JOURNAL_BYTES, FJALL_MEMTABLE_BYTES};
use crate::{range_is_empty, Entry, ReadTxn, StoreError, MAX_RANGE_LIMIT};

const DIR_NAME: &str = "fjall";
const KEYSPACE: &str = "kv";

pub(crate) struct FjallEngine {
    db: Database,
    kv: Keyspace,
    /// Point reads of recently read rows, exact (see `row_cache`).
    rows: Arc<RowCache>,
}

fn map_err(e: fjall::Error) -> StoreError {
    StoreError::Io(format!("fjall: {e}"))
}

impl FjallEngine {
    pub(crate) fn open(dir: &Path, cache_bytes: usize) -> Result<Self, StoreError> {
        let db = Database::builder(dir.join(DIR_NAME))
            .cache_size(cache_bytes as u64)
            // Two background threads, so that a memtable flush need not wait for a long
            // compaction: with one, a 4 MiB active memtable outgrew its size under sustained
            // writes (measured up to 67 MiB); with two it stayed under 17 MiB.
            .worker_threads(2)
            // Sealed memtables wait in memory until flushed; the journal cap is what bounds
            // them (writes stall beyond it). The library default is 512 MiB; 64 MiB is its
            // minimum.
            .max_journaling_size(FJALL_MAX_JOURNAL_BYTES)
            .open()
            .map_err(map_err)?;
        let kv = db
            .keyspace(KEYSPACE, || {
                KeyspaceCreateOptions::default().max_memtable_size(FJALL_MEMTABLE_BYTES)
            })
            .map_err(map_err)?;
        Ok(FjallEngine {
            db,
            kv,
            rows: Arc::new(RowCache::new()),
        })
    }

    fn view(&self) -> FjallSnapshot {
        let before = self.rows.generation();
        let snapshot = self.db.snapshot();
        let after = self.rows.generation();
        FjallSnapshot {
            snapshot,
            kv: self.kv.clone(),
            rows: self.rows.clone(),
            generation: RowCache::view_generation(before, after),
        }
    }
}

impl Engine for FjallEngine {
    fn name(&self) -> &'static str {
        "fjall"
    }

    fn snapshot(&self) -> Result<Box<dyn ReadTxn + Send>, StoreError> {
        Ok(Box::new(self.view()))
    }

    fn begin(&self) -> Result<Box<dyn EngineTxn + '_>, StoreError> {
        // The Db's writer is the only writer (fjall locks its directory), so a snapshot
        // taken now is what a write transaction would read.
        Ok(Box::new(FjallTxn {
            engine: self,
            view: self.view(),
        }))
    }

    fn sync(&self) -> Result<(), StoreError> {
        self.db.persist(PersistMode::SyncAll).map_err(map_err)
    }

    fn shutdown(&self) -> Result<(), StoreError> {
        self.sync()?;
        // Write the memtable out as a table: otherwise the next open replays the journal
        // into memory, which costs startup time and resident memory.
        self.kv.rotate_memtable_and_wait().map_err(map_err)?;
        self.sync()
    }
}

struct FjallSnapshot {
    snapshot: Snapshot,
    kv: Keyspace,
    rows: Arc<RowCache>,
    /// Whether (and with which generation) this view may use the row cache.
    generation: ViewGeneration,
}

impl ReadTxn for FjallSnapshot {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        if let Some(row) = self.rows.get(self.generation, key) {
            return Ok(row);
        }
        let row = self.snapshot.get(&self.kv, key).map_err(map_err)?;
        self.rows.insert(self.generation, key, row.as_deref());
        Ok(row.map(|v| v.to_vec()))
    }

    fn range(
        &self,
        start: Bound<&[u8]>,
        end: Bound<&[u8]>,
        reverse: bool,
        limit: usize,
    ) -> Result<Vec<Entry>, StoreError> {
        let limit = limit.min(MAX_RANGE_LIMIT);
        if limit == 0 || range_is_empty(start, end) {
            return Ok(Vec::new());
        }
        let iter = self.snapshot.range::<&[u8], _>(&self.kv, (start, end));
        let copy = |guard: fjall::Guard| {
            guard
                .into_inner()
                .map(|(k, v)| (k.to_vec(), v.to_vec()))
                .map_err(map_err)
        };
        if reverse {
            iter.rev().take(limit).map(copy).collect()
        } else {
            iter.take(limit).map(copy).collect()
        }
    }
}

struct FjallTxn<'a> {
    engine: &'a FjallEngine,
    view: FjallSnapshot,
}

impl ReadTxn for FjallTxn<'_> {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.view.get(key)
    }

    fn range(
        &self,
        start: Bound<&[u8]>,
        end: Bound<&[u8]>,
        reverse: bool,
        limit: usize,
    ) -> Result<Vec<Entry>, StoreError> {
        self.view.range(start, end, reverse, limit)
    }
}

impl EngineTxn for FjallTxn<'_> {
    fn commit(self: Box<Self>, writes: WriteSet, durable: bool) -> Result<(), StoreError> {
        let FjallTxn { engine, view } = *self;
        drop(view);
        if writes.is_empty() {
            return Ok(());
        }
        let mode = if durable {
            PersistMode::SyncData
        } else {
            PersistMode::Buffer
        };
        let mut batch = engine.db.batch().durability(Some(mode));
        for (key, value) in &writes {
            match value {
                Some(value) => batch.insert(&engine.kv, key.as_slice(), value.as_slice()),
                None => batch.remove(&engine.kv, key.as_slice()),
            }
        }
        // The row cache's commit protocol: no view uses the cache from here until every
        // written key is forgotten, whether or not the commit went through. A panic in
        // between leaves the generation odd, so the cache stays unused until the next
        // commit, which empties it first (`RowCache::begin_commit`).
        engine.rows.begin_commit();
        let committed = batch.commit().map_err(map_err);
        for key in writes.keys() {
            engine.rows.forget(key);
        }
        engine.rows.end_commit();
        committed
    }
}
