//! [`Db`]: the handle services hold.

use std::sync::Arc;

use parking_lot::RwLock;

use crate::config::{Durability, StoreConfig};
use crate::engine::{self, Engine};
use crate::writer::{Counters, Msg, Reply, TypedJob, Writer, QUEUE_CAPACITY};
use crate::{ReadTxn, StoreError, WriteTxn};

/// A store: cheap to clone (all clones share one engine and one writer thread).
#[derive(Clone)]
pub struct Db {
    inner: Arc<Inner>,
}

struct Inner {
    engine: Arc<dyn Engine>,
    durability: Durability,
    /// The writer's queue. `None` once closed: then nothing new can be queued, and the
    /// writer stops once the calls already in flight have been answered.
    tx: RwLock<Option<flume::Sender<Msg>>>,
    counters: Arc<Counters>,
    writer: parking_lot::Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl Drop for Inner {
    /// The last handle waits for the writer to finish and release the engine, so that the
    /// store can be reopened as soon as every handle is gone.
    fn drop(&mut self) {
        self.tx.get_mut().take();
        if let Some(handle) = self.writer.get_mut().take() {
            // A job closure holding the last handle is dropped on the writer thread itself.
            if handle.thread().id() != std::thread::current().id() {
                let _ = handle.join();
            }
        }
    }
}

/// Counters of the write path, for the health endpoint.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreStats {
    /// Engine commits that wrote something (one fsync each under `Durability::Fsync`).
    pub commits: u64,
    /// Write jobs answered (committed, failed or refused by a failed commit).
    pub jobs: u64,
    /// Jobs whose writes were discarded: the closure failed or panicked, or the commit failed.
    pub jobs_failed: u64,
    /// The largest batch so far, in jobs: above 1 means group commit shared a commit.
    pub max_batch_jobs: u64,
    /// Batches re-run because the engine reported a conflict.
    pub conflict_retries: u64,
    /// Commits the engine failed (every job of the batch got the error).
    pub commit_errors: u64,
    /// Explicit syncs (relaxed-durability checkpoints and close).
    pub syncs: u64,
    /// Jobs waiting in the queue right now.
    pub queued: u64,
}

impl Db {
    /// Opens the store `cfg` describes and starts its writer thread, with the engine's
    /// block cache at [`crate::DEFAULT_CACHE_BYTES`].
    pub fn open(cfg: StoreConfig) -> Result<Db, StoreError> {
        Db::open_with_cache(cfg, crate::DEFAULT_CACHE_BYTES)
    }

    /// [`Db::open`] with the engine's block cache capped at `cache_bytes` (the OS page cache
    /// still holds hot file pages; this is the engine's own decoded-page cache).
    pub fn open_with_cache(cfg: StoreConfig, cache_bytes: usize) -> Result<Db, StoreError> {
        let engine: Arc<dyn Engine> = Arc::from(engine::open(&cfg, cache_bytes)?);
        Db::start(engine, cfg.durability)
    }

    /// A fresh in-memory store (`--in-memory`, tests).
    pub fn in_memory() -> Db {
        match Db::open(StoreConfig::memory()) {
            Ok(db) => db,
            // Only a failure to start the writer thread gets here. Hand back a store that
            // reads fine and refuses writes with `Closed` rather than panicking.
            Err(_) => Db {
                inner: Arc::new(Inner {
                    engine: Arc::new(engine::memory_engine()),
                    durability: Durability::Fsync,
                    tx: RwLock::new(None),
                    counters: Arc::default(),
                    writer: parking_lot::Mutex::new(None),
                }),
            },
        }
    }

    fn start(engine: Arc<dyn Engine>, durability: Durability) -> Result<Db, StoreError> {
        let (tx, rx) = flume::bounded(QUEUE_CAPACITY);
        let counters = Arc::new(Counters::default());
        let writer = Writer {
            engine: engine.clone(),
            rx,
            durable: engine::is_durable(durability),
            counters: counters.clone(),
        };
        let handle = std::thread::Builder::new()
            .name(format!("nimbus-store-{}", engine.name()))
            .spawn(move || {
                crate::writer::mark_writer_thread();
                // `run` consumes the writer, so the engine is released before close() is
                // answered.
                if let Some((reply, result)) = writer.run() {
                    reply.send(result);
                }
            })
            .map_err(|e| StoreError::Io(format!("cannot start the store writer thread: {e}")))?;
        Ok(Db {
            inner: Arc::new(Inner {
                engine,
                durability,
                tx: RwLock::new(Some(tx)),
                counters,
                writer: parking_lot::Mutex::new(Some(handle)),
            }),
        })
    }

    /// `"memory"`, `"redb"` or `"fjall"`.
    pub fn engine_name(&self) -> &'static str {
        self.inner.engine.name()
    }

    pub fn durability(&self) -> Durability {
        self.inner.durability
    }

    /// A consistent read snapshot of committed (hence acknowledged) data. Holding one keeps
    /// old versions alive in the engine: drop it when done.
    pub fn snapshot(&self) -> Result<Box<dyn ReadTxn + Send>, StoreError> {
        self.inner.engine.snapshot()
    }

    fn sender(&self) -> Result<flume::Sender<Msg>, StoreError> {
        // A write from inside a write closure would wait for the writer, which is busy
        // running that closure: refuse it instead of deadlocking.
        if crate::writer::on_writer_thread() {
            return Err(StoreError::Invalid(
                "Db::write called from inside a write transaction".into(),
            ));
        }
        self.inner.tx.read().clone().ok_or(StoreError::Closed)
    }

    /// Runs `f` in one serializable write transaction and commits it durably (per
    /// [`Durability`]) before returning. If `f` returns `Err` the transaction's writes are
    /// discarded and the error returned; a panic in `f` is caught and returned as
    /// [`StoreError::Panicked`]. On an engine conflict `f` is re-run (bounded), so `f` must
    /// have no effects outside the transaction. `f` runs on the store's writer thread:
    /// keep it short, and never call the store's write methods from inside it.
    pub async fn write<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnMut(&mut dyn WriteTxn) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let tx = self.sender()?;
        let (reply, answer) = tokio::sync::oneshot::channel();
        let job = Box::new(TypedJob {
            f,
            outcome: None,
            reply: Reply::Async(reply),
        });
        // Waits while the queue is full: backpressure instead of unbounded memory.
        if tx.send_async(Msg::Job(job)).await.is_err() {
            return Err(E::from(StoreError::Closed));
        }
        drop(tx);
        answer
            .await
            .unwrap_or_else(|_| Err(E::from(StoreError::Closed)))
    }

    /// [`Db::write`] for callers outside an async runtime (tools, tests). Blocks the thread.
    pub fn write_blocking<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnMut(&mut dyn WriteTxn) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let tx = self.sender()?;
        let (reply, answer) = std::sync::mpsc::sync_channel(1);
        let job = Box::new(TypedJob {
            f,
            outcome: None,
            reply: Reply::Blocking(reply),
        });
        if tx.send(Msg::Job(job)).is_err() {
            return Err(E::from(StoreError::Closed));
        }
        drop(tx);
        answer
            .recv()
            .unwrap_or_else(|_| Err(E::from(StoreError::Closed)))
    }

    /// Finishes the writes queued so far, refuses new ones with [`StoreError::Closed`],
    /// makes everything durable (also under relaxed durability), and stops the writer
    /// thread. Snapshots keep working. The first call does the work; later calls return
    /// `Ok` at once.
    pub async fn close(&self) -> Result<(), StoreError> {
        let Some(tx) = self.inner.tx.write().take() else {
            return Ok(());
        };
        let (reply, answer) = tokio::sync::oneshot::channel();
        let sent = tx.send_async(Msg::Close(Reply::Async(reply))).await;
        // The writer stops once every sender is gone; ours goes now.
        drop(tx);
        if sent.is_err() {
            return Ok(());
        }
        answer.await.unwrap_or(Ok(()))
    }

    /// [`Db::close`] for callers outside an async runtime.
    pub fn close_blocking(&self) -> Result<(), StoreError> {
        let Some(tx) = self.inner.tx.write().take() else {
            return Ok(());
        };
        let (reply, answer) = std::sync::mpsc::sync_channel(1);
        let sent = tx.send(Msg::Close(Reply::Blocking(reply)));
        drop(tx);
        if sent.is_err() {
            return Ok(());
        }
        answer.recv().unwrap_or(Ok(()))
    }

    /// Counters of the write path.
    pub fn stats(&self) -> StoreStats {
        use std::sync::atomic::Ordering::Relaxed;
        let c = &self.inner.counters;
        StoreStats {
            commits: c.commits.load(Relaxed),
            jobs: c.jobs.load(Relaxed),
            jobs_failed: c.jobs_failed.load(Relaxed),
            max_batch_jobs: c.max_batch_jobs.load(Relaxed),
            conflict_retries: c.conflict_retries.load(Relaxed),
            commit_errors: c.commit_errors.load(Relaxed),
            syncs: c.syncs.load(Relaxed),
            queued: self
                .inner
                .tx
                .read()
                .as_ref()
                .map_or(0, |tx| tx.len() as u64),
        }
    }
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("engine", &self.engine_name())
            .field("durability", &self.inner.durability)
            .finish()
    }
}
