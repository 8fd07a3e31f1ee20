//! The redb engine: a copy-on-write B-tree in one file (`<data dir>/store.redb`).
//!
//! Crash safety comes from redb's commit protocol (two commit slots, checksummed; a torn
//! commit falls back to the previous one). A durable commit ends with one fsync, which the
//! Db's group commit shares among every job of a batch. Non-durable commits
//! (`Durability::None`) are visible at once but only reach the file at the next durable
//! commit, which [`Engine::sync`] forces.

use std::ops::Bound;
use std::path::Path;

use redb::{ReadOnlyTable, ReadableDatabase, TableDefinition};

use super::{Engine, EngineTxn, WriteSet};
use crate::{range_is_empty, Entry, ReadTxn, StoreError, MAX_RANGE_LIMIT};

/// The whole keyspace is one table: services namespace their keys by prefix.
const KV: TableDefinition<&[u8], &[u8]> = TableDefinition::new("kv");

const FILE_NAME: &str = "store.redb";

type Guard = redb::AccessGuard<'static, &'static [u8]>;

pub(crate) struct RedbEngine {
    db: redb::Database,
}

impl RedbEngine {
    pub(crate) fn open(dir: &Path, cache_bytes: usize) -> Result<Self, StoreError> {
        let path = dir.join(FILE_NAME);
        let db = redb::Database::builder()
            .set_cache_size(cache_bytes)
            .create(&path)
            .map_err(|e| match e {
                redb::DatabaseError::DatabaseAlreadyOpen => StoreError::Io(format!(
                    "{} is already open (is another nimbus using this data directory?)",
                    path.display()
                )),
                other => map_err(other),
            })?;
        // Create the table up front so that snapshots of a fresh store can open it.
        let txn = db.begin_write().map_err(map_err)?;
        txn.open_table(KV).map_err(map_err)?;
        txn.commit().map_err(map_err)?;
        Ok(RedbEngine { db })
    }

    fn view(&self) -> Result<RedbSnapshot, StoreError> {
        let txn = self.db.begin_read().map_err(map_err)?;
        // The table keeps the read transaction alive on its own.
        let table = txn.open_table(KV).map_err(map_err)?;
        Ok(RedbSnapshot { table })
    }
}

fn map_err(e: impl Into<redb::Error>) -> StoreError {
    match e.into() {
        redb::Error::Corrupted(msg) => StoreError::Corrupt(msg),
        other => StoreError::Io(other.to_string()),
    }
}

impl Engine for RedbEngine {
    fn name(&self) -> &'static str {
        "redb"
    }

    fn snapshot(&self) -> Result<Box<dyn ReadTxn + Send>, StoreError> {
        Ok(Box::new(self.view()?))
    }

    fn begin(&self) -> Result<Box<dyn EngineTxn + '_>, StoreError> {
        // The Db's writer is this file's only writer (redb locks the file), so a read
        // snapshot taken now is exactly what a write transaction would read; the writes are
        // applied in one redb write transaction at commit.
        Ok(Box::new(RedbTxn {
            engine: self,
            view: self.view()?,
        }))
    }

    fn sync(&self) -> Result<(), StoreError> {
        // An empty durable commit persists every earlier non-durable one.
        let txn = self.db.begin_write().map_err(map_err)?;
        txn.commit().map_err(map_err)
    }
}

struct RedbSnapshot {
    table: ReadOnlyTable<&'static [u8], &'static [u8]>,
}

impl ReadTxn for RedbSnapshot {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .table
            .get(key)
            .map_err(map_err)?
            .map(|v| v.value().to_vec()))
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
        let iter = self.table.range::<&[u8]>((start, end)).map_err(map_err)?;
        let copy = |item: Result<(Guard, Guard), redb::StorageError>| {
            item.map(|(k, v)| (k.value().to_vec(), v.value().to_vec()))
                .map_err(map_err)
        };
        if reverse {
            iter.rev().take(limit).map(copy).collect()
        } else {
            iter.take(limit).map(copy).collect()
        }
    }
}

struct RedbTxn<'a> {
    engine: &'a RedbEngine,
    view: RedbSnapshot,
}

impl ReadTxn for RedbTxn<'_> {
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

impl EngineTxn for RedbTxn<'_> {
    fn commit(self: Box<Self>, writes: WriteSet, durable: bool) -> Result<(), StoreError> {
        let RedbTxn { engine, view } = *self;
        // Release our read snapshot so redb can reuse the pages this commit frees.
        drop(view);
        if writes.is_empty() {
            return Ok(());
        }
        let mut txn = engine.db.begin_write().map_err(map_err)?;
        if !durable {
            txn.set_durability(redb::Durability::None)
                .map_err(map_err)?;
        }
        {
            let mut table = txn.open_table(KV).map_err(map_err)?;
            for (key, value) in &writes {
                match value {
                    Some(value) => {
                        table
                            .insert(key.as_slice(), value.as_slice())
                            .map_err(map_err)?;
                    }
                    None => {
                        table.remove(key.as_slice()).map_err(map_err)?;
                    }
                }
            }
        }
        txn.commit().map_err(map_err)
    }
}
