//! The writer thread and group commit.
//!
//! One thread per Db owns the write side of the engine. Callers send boxed jobs over a
//! bounded queue. The writer takes the first job, opens one engine transaction, and keeps
//! taking whatever else is queued (up to [`MAX_BATCH_JOBS`] jobs or [`MAX_BATCH_BYTES`]),
//! running each job to completion against its own overlay before the next: jobs are
//! serialised, so the batch is serializable. A job that returns `Ok` has its writes merged
//! into the batch; one that fails or panics is discarded. The batch then commits once (one
//! fsync for all of it) and only then is every job answered, so an acknowledged write is
//! durable and a failed commit fails every job of the batch.
//!
//! While a batch commits, new jobs queue up and form the next batch: under load the batch
//! size grows by itself with the fsync latency, with no timer.

use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::engine::{Engine, WriteSet};
use crate::overlay::{JobTxn, Layered};
use crate::{StoreError, WriteTxn};

/// Capacity of the job queue: when full, writers wait (backpressure) instead of queueing
/// without bound.
pub(crate) const QUEUE_CAPACITY: usize = 4096;
/// Most jobs in one batch: bounds the latency one commit adds to the jobs in it.
pub(crate) const MAX_BATCH_JOBS: usize = 512;
/// Stop adding jobs to a batch once its writes reach this many bytes: bounds its memory.
pub(crate) const MAX_BATCH_BYTES: usize = 16 * 1024 * 1024;
/// How often a batch is re-run when the engine reports a conflict before giving up.
pub(crate) const MAX_CONFLICT_RETRIES: u32 = 8;
/// Under relaxed durability, sync the engine at least this often while there are
/// unsynced commits (bounds what a crash loses, and lets redb reuse freed pages).
pub(crate) const RELAXED_SYNC_INTERVAL_MS: u64 = 1000;
/// Under relaxed durability, a batch smaller than this yields once to let more jobs in.
const RELAXED_YIELD_BELOW_JOBS: usize = 32;
/// After close, how long the writer keeps refusing calls that were already in flight.
const SHUTDOWN_DRAIN_MS: u64 = 5000;

thread_local! {
    static ON_WRITER_THREAD: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

pub(crate) fn mark_writer_thread() {
    ON_WRITER_THREAD.with(|f| f.set(true));
}

/// True on any store's writer thread, i.e. inside a write closure.
pub(crate) fn on_writer_thread() -> bool {
    ON_WRITER_THREAD.with(std::cell::Cell::get)
}

/// Where a job's answer goes: an async caller's oneshot, or a blocking caller's channel.
pub(crate) enum Reply<R> {
    Async(tokio::sync::oneshot::Sender<R>),
    Blocking(std::sync::mpsc::SyncSender<R>),
}

impl<R> Reply<R> {
    pub(crate) fn send(self, value: R) {
        // A caller that stopped waiting (a dropped future) no longer wants the answer; the
        // write itself stands.
        match self {
            Reply::Async(tx) => {
                let _ = tx.send(value);
            }
            Reply::Blocking(tx) => {
                let _ = tx.send(value);
            }
        }
    }
}

/// A type-erased write job.
pub(crate) trait Job: Send {
    /// Runs the closure once against `txn`; true if it returned `Ok` (its writes are kept).
    fn run(&mut self, txn: &mut dyn WriteTxn) -> bool;
    /// Answers the caller. `commit` is the outcome of the batch's commit.
    fn finish(self: Box<Self>, commit: Result<(), StoreError>);
}

pub(crate) struct TypedJob<T, E, F> {
    pub(crate) f: F,
    pub(crate) outcome: Option<Result<T, E>>,
    pub(crate) reply: Reply<Result<T, E>>,
}

impl<T, E, F> Job for TypedJob<T, E, F>
where
    F: FnMut(&mut dyn WriteTxn) -> Result<T, E> + Send,
    T: Send,
    E: From<StoreError> + Send,
{
    fn run(&mut self, txn: &mut dyn WriteTxn) -> bool {
        let f = &mut self.f;
        // A panicking closure must not take the writer (and every other caller) down.
        let outcome = match catch_unwind(AssertUnwindSafe(|| f(txn))) {
            Ok(result) => result,
            Err(payload) => Err(E::from(StoreError::Panicked(panic_message(&*payload)))),
        };
        let ok = outcome.is_ok();
        self.outcome = Some(outcome);
        ok
    }

    fn finish(self: Box<Self>, commit: Result<(), StoreError>) {
        let answer = match (self.outcome, commit) {
            // The job's own failure wins: its writes were discarded either way.
            (Some(Err(e)), _) => Err(e),
            (Some(Ok(value)), Ok(())) => Ok(value),
            (Some(Ok(_)), Err(e)) | (None, Err(e)) => Err(E::from(e)),
            (None, Ok(())) => Err(E::from(StoreError::Io(
                "internal error: write job was never run".into(),
            ))),
        };
        self.reply.send(answer);
    }
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_string()
    }
}

pub(crate) enum Msg {
    Job(Box<dyn Job>),
    /// Finish everything queued before this, sync, stop.
    Close(Reply<Result<(), StoreError>>),
}

/// Counters for the health endpoint and for tests that prove batching happened.
#[derive(Default)]
pub(crate) struct Counters {
    pub(crate) commits: AtomicU64,
    pub(crate) jobs: AtomicU64,
    pub(crate) jobs_failed: AtomicU64,
    pub(crate) max_batch_jobs: AtomicU64,
    pub(crate) conflict_retries: AtomicU64,
    pub(crate) commit_errors: AtomicU64,
    pub(crate) syncs: AtomicU64,
}

pub(crate) type CloseReply = (Reply<Result<(), StoreError>>, Result<(), StoreError>);

/// What one try at a batch did.
struct BatchOutcome {
    /// Jobs whose closure failed or panicked (their writes were discarded).
    discarded: u64,
    /// Whether anything was written (an empty batch commits nothing).
    wrote: bool,
}

pub(crate) struct Writer {
    pub(crate) engine: Arc<dyn Engine>,
    pub(crate) rx: flume::Receiver<Msg>,
    pub(crate) durable: bool,
    pub(crate) counters: Arc<Counters>,
}

impl Writer {
    /// The thread's body. Returns the close request and its answer, to be sent once the
    /// thread has let go of the engine (so a reopen right after `close()` finds the files
    /// unlocked).
    pub(crate) fn run(self) -> Option<CloseReply> {
        // Relaxed mode only: when the oldest unsynced commit happened.
        let mut unsynced_since: Option<Instant> = None;
        let sync_interval = Duration::from_millis(RELAXED_SYNC_INTERVAL_MS);
        loop {
            let msg = match unsynced_since {
                Some(since) => {
                    let wait = sync_interval.saturating_sub(since.elapsed());
                    match self.rx.recv_timeout(wait) {
                        Ok(msg) => Some(msg),
                        Err(flume::RecvTimeoutError::Timeout) => {
                            self.sync_quietly();
                            unsynced_since = None;
                            continue;
                        }
                        Err(flume::RecvTimeoutError::Disconnected) => None,
                    }
                }
                None => self.rx.recv().ok(),
            };
            let close = match msg {
                // Every Db handle is gone: flush and stop.
                None => {
                    let _ = self.engine.shutdown();
                    return None;
                }
                Some(Msg::Close(reply)) => Some(reply),
                Some(Msg::Job(job)) => {
                    let close = self.run_batch(job);
                    if !self.durable {
                        let since = *unsynced_since.get_or_insert_with(Instant::now);
                        if since.elapsed() >= sync_interval {
                            self.sync_quietly();
                            unsynced_since = None;
                        }
                    }
                    close
                }
            };
            if let Some(reply) = close {
                return Some((reply, self.shutdown()));
            }
        }
    }

    fn sync_quietly(&self) {
        // Nobody is waiting on this sync; a failure shows up again at the next durable
        // commit or at close, which do report it.
        if self.engine.sync().is_ok() {
            self.counters.syncs.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Syncs, then refuses whatever raced in after the close request until every sender is
    /// gone (close() drops the Db's sender, so only calls already in flight remain), and
    /// says how the sync went.
    fn shutdown(&self) -> Result<(), StoreError> {
        let synced = self.engine.shutdown();
        if synced.is_ok() {
            self.counters.syncs.fetch_add(1, Ordering::Relaxed);
        }
        let deadline = Instant::now() + Duration::from_millis(SHUTDOWN_DRAIN_MS);
        while let Ok(msg) = self.rx.recv_deadline(deadline) {
            match msg {
                Msg::Job(job) => job.finish(Err(StoreError::Closed)),
                Msg::Close(other) => other.send(synced.clone()),
            }
        }
        synced
    }

    /// Runs one batch that starts with `first`. Returns a close request met while
    /// collecting the batch, to be handled after it.
    fn run_batch(&self, first: Box<dyn Job>) -> Option<Reply<Result<(), StoreError>>> {
        let mut jobs: Vec<Box<dyn Job>> = vec![first];
        let mut close = None;
        let mut collecting = true;
        let mut attempt: u32 = 0;
        loop {
            let outcome = catch_unwind(AssertUnwindSafe(|| {
                self.attempt_batch(&mut jobs, &mut collecting, &mut close)
            }));
            let result = match outcome {
                Ok(result) => result,
                // The engine itself panicked: fail this batch, keep serving.
                Err(payload) => Err(StoreError::Io(format!(
                    "storage engine panicked: {}",
                    panic_message(&*payload)
                ))),
            };
            if matches!(result, Err(StoreError::Conflict)) && attempt < MAX_CONFLICT_RETRIES {
                attempt += 1;
                self.counters
                    .conflict_retries
                    .fetch_add(1, Ordering::Relaxed);
                continue;
            }
            self.answer(jobs, result);
            return close;
        }
    }

    /// One try at running and committing the batch. While `collecting`, it also pulls
    /// queued jobs into the batch (only on the first try: a retry re-runs the same jobs).
    fn attempt_batch(
        &self,
        jobs: &mut Vec<Box<dyn Job>>,
        collecting: &mut bool,
        close: &mut Option<Reply<Result<(), StoreError>>>,
    ) -> Result<BatchOutcome, StoreError> {
        let txn = self.engine.begin()?;
        let conflicted = Cell::new(false);
        let mut batch = WriteSet::new();
        let mut batch_bytes: usize = 0;
        let mut next = 0;
        let mut discarded: u64 = 0;
        let mut yielded = 0u32;
        loop {
            if next == jobs.len() {
                if !*collecting || jobs.len() >= MAX_BATCH_JOBS || batch_bytes >= MAX_BATCH_BYTES {
                    break;
                }
                match self.rx.try_recv() {
                    Ok(Msg::Job(job)) => jobs.push(job),
                    Ok(Msg::Close(reply)) => {
                        *close = Some(reply);
                        *collecting = false;
                        break;
                    }
                    // Without an fsync to wait for, nothing makes jobs pile up while a
                    // batch commits, and batches of one or two jobs cost a commit and a
                    // wake-up each. Give the request threads one scheduling slot to queue
                    // more before committing (under durable commits the fsync does this).
                    Err(_)
                        if !self.durable
                            && yielded < 1
                            && jobs.len() < RELAXED_YIELD_BELOW_JOBS =>
                    {
                        yielded += 1;
                        std::thread::yield_now();
                        continue;
                    }
                    Err(_) => break,
                }
            }
            let Some(job) = jobs.get_mut(next) else { break };
            next += 1;
            let (keep, writes, bytes) = {
                let base = Layered {
                    writes: &batch,
                    base: &*txn,
                };
                let mut view = JobTxn::new(&base, &conflicted);
                let keep = job.run(&mut view);
                (keep, view.writes, view.write_bytes)
            };
            if conflicted.get() {
                return Err(StoreError::Conflict);
            }
            if keep {
                batch_bytes = batch_bytes.saturating_add(bytes);
                batch.extend(writes);
            } else {
                discarded += 1;
            }
        }
        // Later retries must not pull in new jobs: the batch's membership is fixed now.
        *collecting = false;
        let wrote = !batch.is_empty();
        txn.commit(batch, self.durable)?;
        Ok(BatchOutcome { discarded, wrote })
    }

    fn answer(&self, jobs: Vec<Box<dyn Job>>, result: Result<BatchOutcome, StoreError>) {
        let n = jobs.len() as u64;
        let c = &self.counters;
        c.jobs.fetch_add(n, Ordering::Relaxed);
        c.max_batch_jobs.fetch_max(n, Ordering::Relaxed);
        let commit = match result {
            Ok(outcome) => {
                if outcome.wrote {
                    c.commits.fetch_add(1, Ordering::Relaxed);
                }
                c.jobs_failed
                    .fetch_add(outcome.discarded, Ordering::Relaxed);
                Ok(())
            }
            Err(e) => {
                c.commit_errors.fetch_add(1, Ordering::Relaxed);
                c.jobs_failed.fetch_add(n, Ordering::Relaxed);
                Err(e)
            }
        };
        for job in jobs {
            job.finish(commit.clone());
        }
    }
}
