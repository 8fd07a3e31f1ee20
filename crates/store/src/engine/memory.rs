//! The in-memory engine (`--in-memory`, and most unit tests).
//!
//! A persistent (structurally shared) B-tree: a snapshot is an O(1) clone of the root, and a
//! commit copies only the paths it changes while snapshots still hold the old ones. Keys and
//! values are `Arc<[u8]>` so that copying a node copies pointers, not bytes.

use std::ops::Bound;
use std::sync::Arc;

use imbl::OrdMap;
use parking_lot::RwLock;

use super::{Engine, EngineTxn, WriteSet};
use crate::{range_is_empty, Entry, ReadTxn, StoreError, MAX_RANGE_LIMIT};

type Map = OrdMap<Arc<[u8]>, Arc<[u8]>>;

pub(crate) struct MemoryEngine {
    map: RwLock<Map>,
}

impl MemoryEngine {
    pub(crate) fn new() -> Self {
        MemoryEngine {
            map: RwLock::new(Map::new()),
        }
    }

    fn view(&self) -> MemSnapshot {
        MemSnapshot {
            map: self.map.read().clone(),
        }
    }
}

impl Engine for MemoryEngine {
    fn name(&self) -> &'static str {
        "memory"
    }

    fn snapshot(&self) -> Result<Box<dyn ReadTxn + Send>, StoreError> {
        Ok(Box::new(self.view()))
    }

    fn begin(&self) -> Result<Box<dyn EngineTxn + '_>, StoreError> {
        Ok(Box::new(MemTxn {
            engine: self,
            view: self.view(),
        }))
    }

    fn sync(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

struct MemSnapshot {
    map: Map,
}

impl ReadTxn for MemSnapshot {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.map.get(key).map(|v| v.to_vec()))
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
        let iter = self.map.range::<_, [u8]>((start, end));
        let copy = |(k, v): (&Arc<[u8]>, &Arc<[u8]>)| (k.to_vec(), v.to_vec());
        Ok(if reverse {
            iter.rev().take(limit).map(copy).collect()
        } else {
            iter.take(limit).map(copy).collect()
        })
    }
}

struct MemTxn<'a> {
    engine: &'a MemoryEngine,
    view: MemSnapshot,
}

impl ReadTxn for MemTxn<'_> {
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

impl EngineTxn for MemTxn<'_> {
    fn commit(self: Box<Self>, writes: WriteSet, _durable: bool) -> Result<(), StoreError> {
        let MemTxn { engine, view } = *self;
        // Drop our own view first so that, when no reader holds a snapshot, the map is
        // changed in place instead of copied path by path.
        drop(view);
        // Holding the write lock for the whole apply makes the batch atomic to readers.
        let mut map = engine.map.write();
        for (key, value) in writes {
            match value {
                Some(value) => {
                    map.insert(Arc::from(key), Arc::from(value));
                }
                None => {
                    map.remove(key.as_slice());
                }
            }
        }
        Ok(())
    }
}
