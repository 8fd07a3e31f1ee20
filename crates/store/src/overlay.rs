//! Read-your-writes: pending writes layered over a base view.
//!
//! Inside a group-commit batch a job reads through three layers: its own pending writes,
//! then the writes of the batch's earlier successful jobs, then the engine transaction.
//! [`Layered`] stacks one layer of pending writes over any [`ReadTxn`]; [`JobTxn`] is the
//! [`WriteTxn`] a job's closure gets.

use std::cell::Cell;
use std::cmp::Ordering;
use std::ops::Bound;

use crate::engine::WriteSet;
use crate::{
    check_key, check_value, range_is_empty, Entry, ReadTxn, StoreError, WriteTxn, MAX_RANGE_LIMIT,
    MAX_TXN_WRITE_BYTES,
};

/// `writes` over `base`.
pub(crate) struct Layered<'a> {
    pub(crate) writes: &'a WriteSet,
    pub(crate) base: &'a dyn ReadTxn,
}

impl ReadTxn for Layered<'_> {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        match self.writes.get(key) {
            Some(pending) => Ok(pending.clone()),
            None => self.base.get(key),
        }
    }

    fn range(
        &self,
        start: Bound<&[u8]>,
        end: Bound<&[u8]>,
        reverse: bool,
        limit: usize,
    ) -> Result<Vec<Entry>, StoreError> {
        merged_range(self.writes, self.base, start, end, reverse, limit)
    }
}

/// The ordering of keys in the scan's direction.
fn dir_cmp(a: &[u8], b: &[u8], reverse: bool) -> Ordering {
    if reverse {
        b.cmp(a)
    } else {
        a.cmp(b)
    }
}

fn to_owned_bound(b: Bound<&[u8]>) -> Bound<Vec<u8>> {
    match b {
        Bound::Included(k) => Bound::Included(k.to_vec()),
        Bound::Excluded(k) => Bound::Excluded(k.to_vec()),
        Bound::Unbounded => Bound::Unbounded,
    }
}

fn as_ref_bound(b: &Bound<Vec<u8>>) -> Bound<&[u8]> {
    match b {
        Bound::Included(k) => Bound::Included(k.as_slice()),
        Bound::Excluded(k) => Bound::Excluded(k.as_slice()),
        Bound::Unbounded => Bound::Unbounded,
    }
}

/// A range over `base` with `writes` applied on top.
///
/// Each pending write can hide or replace at most one base entry, so asking the base for
/// `wanted + pending` entries is enough to fill the page, except when the base itself caps
/// the page; then we continue after the last base key seen. Every round consumes at least
/// one base entry, so the loop ends.
fn merged_range(
    writes: &WriteSet,
    base: &dyn ReadTxn,
    start: Bound<&[u8]>,
    end: Bound<&[u8]>,
    reverse: bool,
    limit: usize,
) -> Result<Vec<Entry>, StoreError> {
    let limit = limit.min(MAX_RANGE_LIMIT);
    if limit == 0 || range_is_empty(start, end) {
        return Ok(Vec::new());
    }
    let mut out: Vec<Entry> = Vec::new();
    let (mut lo, mut hi) = (to_owned_bound(start), to_owned_bound(end));
    loop {
        let (lo_ref, hi_ref) = (as_ref_bound(&lo), as_ref_bound(&hi));
        if range_is_empty(lo_ref, hi_ref) {
            return Ok(out);
        }
        let pending = writes.range::<[u8], _>((lo_ref, hi_ref));
        let pending: Vec<(&Vec<u8>, &Option<Vec<u8>>)> = if reverse {
            pending.rev().collect()
        } else {
            pending.collect()
        };
        let wanted = limit - out.len();
        let page_limit = wanted.saturating_add(pending.len()).min(MAX_RANGE_LIMIT);
        let page = base.range(lo_ref, hi_ref, reverse, page_limit)?;
        let exhausted = page.len() < page_limit;
        // Past the last base key we cannot know what the base holds: stop there this round.
        let edge: Option<Vec<u8>> = if exhausted {
            None
        } else {
            page.last().map(|(k, _)| k.clone())
        };

        let mut base_iter = page.into_iter().peekable();
        let mut pend_iter = pending
            .into_iter()
            .filter(|(k, _)| match &edge {
                Some(edge) => dir_cmp(k, edge, reverse) != Ordering::Greater,
                None => true,
            })
            .peekable();
        while out.len() < limit {
            let take_pending = match (base_iter.peek(), pend_iter.peek()) {
                (None, None) => break,
                (Some(_), None) => false,
                (None, Some(_)) => true,
                (Some((bk, _)), Some((pk, _))) => match dir_cmp(pk, bk, reverse) {
                    Ordering::Less => true,
                    // The pending write replaces (or deletes) the base entry.
                    Ordering::Equal => {
                        base_iter.next();
                        true
                    }
                    Ordering::Greater => false,
                },
            };
            if take_pending {
                if let Some((k, Some(v))) = pend_iter.next() {
                    out.push((k.clone(), v.clone()));
                }
            } else if let Some(entry) = base_iter.next() {
                out.push(entry);
            }
        }
        match edge {
            Some(edge) if out.len() < limit => {
                if reverse {
                    hi = Bound::Excluded(edge);
                } else {
                    lo = Bound::Excluded(edge);
                }
            }
            _ => return Ok(out),
        }
    }
}

/// The transaction a job's closure runs in: its pending writes over the batch's view.
pub(crate) struct JobTxn<'a> {
    pub(crate) writes: WriteSet,
    /// Bytes of keys and values pending, bounded by [`MAX_TXN_WRITE_BYTES`].
    pub(crate) write_bytes: usize,
    pub(crate) base: &'a dyn ReadTxn,
    /// Set when the engine reported a conflict: the whole batch must then be re-run, whatever
    /// the closure did with the error.
    pub(crate) conflicted: &'a Cell<bool>,
}

impl<'a> JobTxn<'a> {
    pub(crate) fn new(base: &'a dyn ReadTxn, conflicted: &'a Cell<bool>) -> Self {
        JobTxn {
            writes: WriteSet::new(),
            write_bytes: 0,
            base,
            conflicted,
        }
    }

    fn note<T>(&self, r: Result<T, StoreError>) -> Result<T, StoreError> {
        if matches!(r, Err(StoreError::Conflict)) {
            self.conflicted.set(true);
        }
        r
    }

    fn record(&mut self, key: &[u8], value: Option<&[u8]>) -> Result<(), StoreError> {
        let added = key.len() + value.map_or(0, <[u8]>::len);
        if self.write_bytes.saturating_add(added) > MAX_TXN_WRITE_BYTES {
            return Err(StoreError::Invalid(format!(
                "transaction writes more than {MAX_TXN_WRITE_BYTES} bytes"
            )));
        }
        // Overwriting a key within a transaction still counts both writes: a cheap,
        // conservative bound.
        self.write_bytes += added;
        self.writes.insert(key.to_vec(), value.map(<[u8]>::to_vec));
        Ok(())
    }
}

impl ReadTxn for JobTxn<'_> {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        match self.writes.get(key) {
            Some(pending) => Ok(pending.clone()),
            None => self.note(self.base.get(key)),
        }
    }

    fn range(
        &self,
        start: Bound<&[u8]>,
        end: Bound<&[u8]>,
        reverse: bool,
        limit: usize,
    ) -> Result<Vec<Entry>, StoreError> {
        self.note(merged_range(
            &self.writes,
            self.base,
            start,
            end,
            reverse,
            limit,
        ))
    }
}

impl WriteTxn for JobTxn<'_> {
    fn put(&mut self, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        check_key(key)?;
        check_value(value)?;
        self.record(key, Some(value))
    }

    fn delete(&mut self, key: &[u8]) -> Result<(), StoreError> {
        check_key(key)?;
        self.record(key, None)
    }
}
