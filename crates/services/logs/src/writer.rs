//! [`LogWriter`]: the non-blocking handle function output goes through. A bounded queue
//! (full → the batch is dropped and counted, so a chatty function never blocks the
//! engine or grows memory) and one task that writes what arrived within a short linger
//! in one transaction, batches of the same stream merged.
//!
//! Why linger: every invocation appends three or four small batches (START, output,
//! END, REPORT). Written as they come, a busy function costs a durable commit (an
//! fsync) per few invocations and a stream-record update per batch; gathered for
//! [`LINGER`], a thousand invocations share one commit. Function output is delivered
//! asynchronously in AWS too (seconds, not milliseconds); [`LogWriter::flush`] skips the
//! wait.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use crate::events::AppendBatch;
use crate::Logs;

/// Most batches one transaction takes.
const MAX_BATCHES_PER_TXN: usize = 4096;
/// How long the writer gathers batches after the first one before it commits.
pub const LINGER: Duration = Duration::from_millis(25);
/// Most event bytes one transaction takes (well under the store's transaction limit).
const MAX_BYTES_PER_TXN: usize = 8 * 1024 * 1024;

enum Msg {
    Batch(AppendBatch),
    Flush(oneshot::Sender<()>),
}

#[derive(Debug, Default)]
struct Counters {
    written_lines: AtomicU64,
    dropped_lines: AtomicU64,
    failed_lines: AtomicU64,
    transactions: AtomicU64,
}

/// Counters of a [`LogWriter`], for the health endpoint.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriterStats {
    pub written_lines: u64,
    /// Lines dropped because the queue was full (or the writer gone).
    pub dropped_lines: u64,
    /// Lines lost because their transaction failed.
    pub failed_lines: u64,
    pub transactions: u64,
}

/// A cloneable, non-blocking handle that appends to CloudWatch Logs in the background.
#[derive(Clone)]
pub struct LogWriter {
    tx: mpsc::Sender<Msg>,
    counters: Arc<Counters>,
}

impl std::fmt::Debug for LogWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogWriter")
            .field("stats", &self.stats())
            .finish()
    }
}

impl Logs {
    /// A [`LogWriter`] over this service. Spawns its task on the current Tokio runtime;
    /// outside one, every append is dropped and counted. The task ends when every clone
    /// of the writer is gone.
    pub fn sink(self: &Arc<Logs>) -> LogWriter {
        let (tx, rx) = mpsc::channel(self.config.writer_queue_batches.max(1));
        let counters = Arc::new(Counters::default());
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => {
                rt.spawn(run(self.clone(), rx, counters.clone()));
            }
            Err(_) => {
                tracing::warn!("logs: LogWriter created outside a Tokio runtime; function output will be dropped");
            }
        }
        LogWriter { tx, counters }
    }
}

impl LogWriter {
    /// Queues `lines` (epoch ms, message) for `group`/`stream`. Never blocks.
    pub fn append(
        &self,
        account_id: &str,
        region: &str,
        group: &str,
        stream: &str,
        lines: Vec<(i64, String)>,
    ) {
        if lines.is_empty() {
            return;
        }
        let n = lines.len() as u64;
        let batch = AppendBatch {
            account: account_id.to_string(),
            region: region.to_string(),
            group: group.to_string(),
            stream: stream.to_string(),
            lines,
        };
        if self.tx.try_send(Msg::Batch(batch)).is_err() {
            self.counters.dropped_lines.fetch_add(n, Ordering::Relaxed);
        }
    }

    /// Waits until everything queued before this call is written (tests, shutdown).
    /// Returns false when the writer task is gone.
    pub async fn flush(&self) -> bool {
        let (tx, rx) = oneshot::channel();
        if self.tx.send(Msg::Flush(tx)).await.is_err() {
            return false;
        }
        rx.await.is_ok()
    }

    pub fn stats(&self) -> WriterStats {
        let c = &self.counters;
        WriterStats {
            written_lines: c.written_lines.load(Ordering::Relaxed),
            dropped_lines: c.dropped_lines.load(Ordering::Relaxed),
            failed_lines: c.failed_lines.load(Ordering::Relaxed),
            transactions: c.transactions.load(Ordering::Relaxed),
        }
    }
}

async fn run(logs: Arc<Logs>, mut rx: mpsc::Receiver<Msg>, counters: Arc<Counters>) {
    let mut pending: Option<Msg> = None;
    loop {
        let first = match pending.take() {
            Some(m) => m,
            None => match rx.recv().await {
                Some(m) => m,
                None => break,
            },
        };
        // Sleep out the linger rather than wake for every batch that arrives meanwhile:
        // each append would otherwise wake this task (often on the other worker thread),
        // three or four times per invocation. A flush is answered without the wait.
        if !matches!(first, Msg::Flush(_)) {
            tokio::time::sleep(LINGER).await;
        }
        let mut gathered = Gathered::default();
        let mut next = Some(first);
        let mut closed = false;
        while let Some(msg) = next.take() {
            if let Some(overflow) = gathered.add(msg) {
                // Starts the next transaction.
                pending = Some(overflow);
                break;
            }
            next = match rx.try_recv() {
                Ok(m) => Some(m),
                Err(mpsc::error::TryRecvError::Disconnected) => {
                    closed = true;
                    None
                }
                Err(mpsc::error::TryRecvError::Empty) => None,
            };
        }
        let Gathered {
            batches,
            lines,
            waiters,
            ..
        } = gathered;
        if !batches.is_empty() {
            match logs.append_batches(batches).await {
                Ok(()) => {
                    counters.written_lines.fetch_add(lines, Ordering::Relaxed);
                    counters.transactions.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => {
                    counters.failed_lines.fetch_add(lines, Ordering::Relaxed);
                    tracing::warn!(error = %e, lines, "logs: writing function output failed");
                }
            }
        }
        for w in waiters {
            let _ = w.send(());
        }
        if closed && pending.is_none() {
            break;
        }
    }
}

/// What one transaction will write: batches merged per stream, and the flushes waiting
/// for it.
#[derive(Default)]
struct Gathered {
    batches: Vec<AppendBatch>,
    /// (account, region, group, stream) → index in `batches`.
    index: HashMap<(String, String, String, String), usize>,
    bytes: usize,
    lines: u64,
    merged: usize,
    waiters: Vec<oneshot::Sender<()>>,
}

impl Gathered {
    /// Takes `msg`, or gives it back when it belongs to the next transaction.
    fn add(&mut self, msg: Msg) -> Option<Msg> {
        let b = match msg {
            Msg::Flush(w) => {
                self.waiters.push(w);
                return None;
            }
            Msg::Batch(b) => b,
        };
        let size = b.bytes();
        if self.merged > 0
            && (self.merged == MAX_BATCHES_PER_TXN || self.bytes + size > MAX_BYTES_PER_TXN)
        {
            return Some(Msg::Batch(b));
        }
        self.bytes += size;
        self.merged += 1;
        self.lines += b.lines.len() as u64;
        let key = (
            b.account.clone(),
            b.region.clone(),
            b.group.clone(),
            b.stream.clone(),
        );
        match self.index.get(&key) {
            // The append sorts each stream's lines by time, so order of arrival is kept
            // for equal timestamps (a stable sort) and merging is a plain extend.
            Some(&i) => {
                if let Some(t) = self.batches.get_mut(i) {
                    t.lines.extend(b.lines);
                }
            }
            None => {
                self.index.insert(key, self.batches.len());
                self.batches.push(b);
            }
        }
        None
    }
}
