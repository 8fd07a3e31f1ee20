//! Background work that is too big for one transaction: purging a deleted table's (or
//! index's) data and backfilling a GSI created by UpdateTable.
//!
//! A job is a record in the store (`ddb/j/<id>`), written in the same transaction as the
//! change that needs it, so it survives a crash and resumes at startup. Each step is one
//! bounded transaction that also saves the job's progress; steps are idempotent.

use std::ops::Bound;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;

use nimbus_core::SharedClock;
use nimbus_store::{Db, WriteTxn};

use crate::error::DynamoDbError;
use crate::ops::catalog::{self, Status, TableCache};
use crate::ops::layout;
use crate::ops::write;

/// Entries read per range call inside a step.
const STEP_RANGE_LIMIT: usize = 100;
/// Range calls per step at most.
const STEP_MAX_RANGES: usize = 10;
/// A step stops reading once it has read this many bytes (keys + values), keeping each
/// transaction well under the store's per-transaction write limit.
const STEP_MAX_BYTES: usize = 4 * 1024 * 1024;
/// Jobs that run at the same time; the rest wait (they all share one writer anyway).
const MAX_CONCURRENT_JOBS: usize = 4;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Job {
    /// Delete every key under each prefix (first prefix first).
    Purge { prefixes: Vec<Vec<u8>> },
    /// Copy the table's existing items into a GSI, then mark it ACTIVE.
    Backfill {
        account: String,
        region: String,
        name: String,
        key_id: [u8; 16],
        index_id: u32,
        /// Last item key processed.
        cursor: Option<Vec<u8>>,
    },
    /// Copy a global table member's items into a new member (`replication::copy_step`),
    /// then mark it ACTIVE.
    ReplicaCopy {
        account: String,
        name: String,
        source_region: String,
        source_key_id: [u8; 16],
        target_region: String,
        target_key_id: [u8; 16],
        /// Last source item key copied.
        cursor: Option<Vec<u8>>,
    },
}

impl Job {
    fn to_bytes(&self) -> Result<Vec<u8>, DynamoDbError> {
        serde_json::to_vec(self)
            .map_err(|e| DynamoDbError::Internal(format!("cannot encode a job: {e}")))
    }

    fn from_bytes(b: &[u8]) -> Result<Job, DynamoDbError> {
        serde_json::from_slice(b)
            .map_err(|e| DynamoDbError::Internal(format!("stored job is corrupt: {e}")))
    }
}

/// Records a new job inside the caller's transaction; start it with `JobRunner::start`
/// after the transaction commits.
pub fn put_job(txn: &mut dyn WriteTxn, job: &Job) -> Result<[u8; 16], DynamoDbError> {
    let id = *uuid::Uuid::new_v4().as_bytes();
    txn.put(&layout::job_key(&id), &job.to_bytes()?)?;
    Ok(id)
}

/// Runs jobs on the Tokio runtime.
pub struct JobRunner {
    db: Db,
    cache: Arc<TableCache>,
    clock: SharedClock,
    running: AtomicUsize,
    permits: Arc<Semaphore>,
}

/// What one step did.
enum Step {
    More,
    Done,
    /// Finished and changed the metadata of this table (account, region, name).
    DoneChanged(String, String, String),
}

impl JobRunner {
    pub fn new(db: Db, cache: Arc<TableCache>, clock: SharedClock) -> Self {
        JobRunner {
            db,
            cache,
            clock,
            running: AtomicUsize::new(0),
            permits: Arc::new(Semaphore::new(MAX_CONCURRENT_JOBS)),
        }
    }

    /// Starts a recorded job (no-op outside a Tokio runtime; it resumes at next startup).
    pub fn start(self: &Arc<Self>, id: [u8; 16]) {
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            return;
        };
        self.running.fetch_add(1, Ordering::SeqCst);
        let me = self.clone();
        handle.spawn(async move {
            let _permit = me.permits.clone().acquire_owned().await;
            if let Err(e) = me.run(id).await {
                tracing::error!(error = %e, "dynamodb background job failed; it resumes at next start");
            }
            me.running.fetch_sub(1, Ordering::SeqCst);
        });
    }

    /// Starts every job recorded in the store.
    pub fn resume_all(self: &Arc<Self>) {
        let ids = match self.list_jobs() {
            Ok(ids) => ids,
            Err(e) => {
                tracing::error!(error = %e, "cannot list dynamodb background jobs");
                return;
            }
        };
        for id in ids {
            self.start(id);
        }
    }

    fn list_jobs(&self) -> Result<Vec<[u8; 16]>, DynamoDbError> {
        let snap = self.db.snapshot()?;
        let (lo, hi) = layout::prefix_range(layout::JOB_PREFIX);
        let mut ids = Vec::new();
        let mut start = lo;
        // Bounded: jobs are few; stop after a generous number of pages.
        for _ in 0..100 {
            let page = snap.range(
                layout::bound_ref(&start),
                layout::bound_ref(&hi),
                false,
                1000,
            )?;
            let n = page.len();
            for (k, _) in &page {
                if let Some(id) = k
                    .strip_prefix(layout::JOB_PREFIX)
                    .and_then(|r| <[u8; 16]>::try_from(r).ok())
                {
                    ids.push(id);
                }
            }
            match page.last() {
                Some((k, _)) if n == 1000 => start = Bound::Excluded(k.clone()),
                _ => break,
            }
        }
        Ok(ids)
    }

    /// Waits (polling) until no job runs, at most `timeout_ms`.
    pub async fn wait_idle(&self, timeout_ms: u64) -> bool {
        let step_ms = 2;
        let mut waited = 0;
        while self.running.load(Ordering::SeqCst) > 0 {
            if waited >= timeout_ms {
                return false;
            }
            tokio::time::sleep(std::time::Duration::from_millis(step_ms)).await;
            waited += step_ms;
        }
        true
    }

    async fn run(&self, id: [u8; 16]) -> Result<(), DynamoDbError> {
        loop {
            let now_ms = self.clock.now_millis();
            let step = self
                .db
                .write(move |txn| -> Result<Step, DynamoDbError> { run_step(txn, &id, now_ms) })
                .await?;
            match step {
                Step::More => tokio::task::yield_now().await,
                Step::Done => return Ok(()),
                Step::DoneChanged(account, region, name) => {
                    self.cache.invalidate(&account, &region, &name);
                    return Ok(());
                }
            }
        }
    }
}

/// One bounded step of a job, in one transaction.
fn run_step(txn: &mut dyn WriteTxn, id: &[u8; 16], now_ms: i64) -> Result<Step, DynamoDbError> {
    let jkey = layout::job_key(id);
    let Some(raw) = txn.get(&jkey)? else {
        return Ok(Step::Done);
    };
    match Job::from_bytes(&raw)? {
        Job::Purge { mut prefixes } => {
            let Some(prefix) = prefixes.first().cloned() else {
                txn.delete(&jkey)?;
                return Ok(Step::Done);
            };
            let (lo, hi) = layout::prefix_range(&prefix);
            let mut bytes = 0usize;
            let mut exhausted = false;
            for _ in 0..STEP_MAX_RANGES {
                let page = txn.range(
                    layout::bound_ref(&lo),
                    layout::bound_ref(&hi),
                    false,
                    STEP_RANGE_LIMIT,
                )?;
                let n = page.len();
                for (k, v) in page {
                    bytes += k.len() + v.len();
                    txn.delete(&k)?;
                }
                if n < STEP_RANGE_LIMIT {
                    exhausted = true;
                    break;
                }
                if bytes >= STEP_MAX_BYTES {
                    break;
                }
            }
            if exhausted {
                prefixes.remove(0);
                if prefixes.is_empty() {
                    txn.delete(&jkey)?;
                    return Ok(Step::Done);
                }
                txn.put(&jkey, &Job::Purge { prefixes }.to_bytes()?)?;
            }
            Ok(Step::More)
        }
        Job::Backfill {
            account,
            region,
            name,
            key_id,
            index_id,
            cursor,
        } => {
            let meta =
                catalog::load_table(txn, &account, &region, &name)?.filter(|m| m.key_id == key_id);
            let Some(mut meta) = meta else {
                // The table is gone; its purge removes whatever the backfill wrote.
                txn.delete(&jkey)?;
                return Ok(Step::Done);
            };
            let Some(index) = meta
                .indexes
                .iter()
                .find(|i| i.index_id == index_id)
                .cloned()
            else {
                txn.delete(&jkey)?;
                return Ok(Step::Done);
            };
            let prefix = layout::item_prefix(&key_id);
            let (lo, hi) = layout::prefix_range(&prefix);
            let mut start = match cursor {
                Some(c) => Bound::Excluded(c),
                None => lo,
            };
            let mut bytes = 0usize;
            let mut exhausted = false;
            let mut last: Option<Vec<u8>> = None;
            for _ in 0..STEP_MAX_RANGES {
                let page = txn.range(
                    layout::bound_ref(&start),
                    layout::bound_ref(&hi),
                    false,
                    STEP_RANGE_LIMIT,
                )?;
                let n = page.len();
                for (k, v) in &page {
                    bytes += k.len() + v.len();
                    let item = layout::decode_item(v)?;
                    write::backfill_item(txn, &meta, &index, &item)?;
                }
                if let Some((k, _)) = page.last() {
                    last = Some(k.clone());
                    start = Bound::Excluded(k.clone());
                }
                if n < STEP_RANGE_LIMIT {
                    exhausted = true;
                    break;
                }
                if bytes >= STEP_MAX_BYTES {
                    break;
                }
            }
            if exhausted {
                if let Some(ix) = meta.indexes.iter_mut().find(|i| i.index_id == index_id) {
                    ix.backfilling = false;
                    ix.status = Status::Active;
                }
                if meta.indexes.iter().all(|i| i.status == Status::Active)
                    && meta.status == Status::Updating
                {
                    meta.status = Status::Active;
                }
                meta.version += 1;
                catalog::save_table(txn, &meta)?;
                txn.delete(&jkey)?;
                return Ok(Step::DoneChanged(account, region, name));
            }
            let job = Job::Backfill {
                account,
                region,
                name,
                key_id,
                index_id,
                cursor: last,
            };
            txn.put(&jkey, &job.to_bytes()?)?;
            Ok(Step::More)
        }
        Job::ReplicaCopy {
            account,
            name,
            source_region,
            source_key_id,
            target_region,
            target_key_id,
            cursor,
        } => {
            let next = crate::ops::replication::copy_step(
                txn,
                &account,
                &name,
                &source_region,
                &source_key_id,
                &target_region,
                &target_key_id,
                cursor,
                now_ms,
            )?;
            let Some(cursor) = next else {
                txn.delete(&jkey)?;
                return Ok(Step::DoneChanged(account, target_region, name));
            };
            let job = Job::ReplicaCopy {
                account,
                name,
                source_region,
                source_key_id,
                target_region,
                target_key_id,
                cursor: Some(cursor),
            };
            txn.put(&jkey, &job.to_bytes()?)?;
            Ok(Step::More)
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::ops::DynamoDb;
    use nimbus_core::ManualClock;

    fn count_under(db: &Db, prefix: &[u8]) -> usize {
        let snap = db.snapshot().unwrap();
        let (lo, hi) = layout::prefix_range(prefix);
        snap.range(
            layout::bound_ref(&lo),
            layout::bound_ref(&hi),
            false,
            10_000,
        )
        .unwrap()
        .len()
    }

    #[tokio::test]
    async fn recorded_jobs_resume_on_a_new_service() {
        let db = Db::in_memory();
        let prefix = b"ddb/i/zzzzzzzzzzzzzzzz".to_vec();
        let p = prefix.clone();
        // 1,234 keys and a purge job recorded but never started (as after a crash).
        db.write_blocking(move |txn| -> Result<(), DynamoDbError> {
            for i in 0..1_234u32 {
                let mut k = p.clone();
                k.extend_from_slice(&i.to_be_bytes());
                txn.put(&k, b"v")?;
            }
            put_job(
                txn,
                &Job::Purge {
                    prefixes: vec![p.clone()],
                },
            )?;
            Ok(())
        })
        .unwrap();
        assert_eq!(count_under(&db, &prefix), 1_234);
        let svc = DynamoDb::new(db.clone(), Arc::new(ManualClock::new(0)));
        assert!(svc.wait_for_background_jobs(10_000).await);
        assert_eq!(count_under(&db, &prefix), 0);
        assert_eq!(count_under(&db, layout::JOB_PREFIX), 0);
    }

    #[test]
    fn job_records_round_trip() {
        let j = Job::Backfill {
            account: "a".into(),
            region: "r".into(),
            name: "t".into(),
            key_id: [1; 16],
            index_id: 3,
            cursor: Some(vec![0, 255]),
        };
        assert_eq!(Job::from_bytes(&j.to_bytes().unwrap()).unwrap(), j);
        assert!(Job::from_bytes(b"{").is_err());
    }
}
