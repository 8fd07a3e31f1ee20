//! [`Bus`]: runs consumers over topics. One Tokio task per consumer walks its topics,
//! reads a bounded batch after the consumer's durable cursor, awaits the handler and,
//! only once the handler succeeded, moves the cursor past the batch (at least once,
//! in order per topic). A failing topic is retried with capped exponential backoff
//! (measured on the bus's clock, so tests drive it with a `ManualClock`) while the
//! consumer's other topics keep flowing. The task sleeps until [`Bus::notify`] (called
//! after commits that appended) or a slow poll, whichever comes first.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use nimbus_core::SharedClock;
use nimbus_store::Db;
use parking_lot::Mutex;
use serde_json::{json, Map, Value};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use crate::{bounds, cursor, read, set_cursor, BusError, Record};

/// The topics a consumer follows right now (called before every pass, so topics may
/// come and go). Keep it cheap: it runs on the dispatcher task.
pub type TopicsFn = Arc<dyn Fn() -> Vec<Vec<u8>> + Send + Sync>;
pub type HandlerFuture = Pin<Box<dyn Future<Output = Result<(), String>> + Send>>;
/// Handles one batch (records of one topic, in order). `Err` means "not handled": the
/// same batch (possibly with more records) comes again after a backoff.
pub type Handler = Arc<dyn Fn(Vec<Record>) -> HandlerFuture + Send + Sync>;

/// Where a consumer starts in a topic it has no cursor for yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartPosition {
    /// The oldest record still held.
    Earliest,
    /// After the last record appended when the consumer first sees the topic.
    Latest,
}

/// A consumer: a unique name (its cursors are stored under it), its topics and its handler.
#[derive(Clone)]
pub struct Consumer {
    pub name: String,
    pub topics: TopicsFn,
    pub handler: Handler,
    pub start: StartPosition,
}

impl Consumer {
    /// A consumer starting at [`StartPosition::Earliest`].
    pub fn new<T, H, F>(name: impl Into<String>, topics: T, handler: H) -> Consumer
    where
        T: Fn() -> Vec<Vec<u8>> + Send + Sync + 'static,
        H: Fn(Vec<Record>) -> F + Send + Sync + 'static,
        F: Future<Output = Result<(), String>> + Send + 'static,
    {
        Consumer {
            name: name.into(),
            topics: Arc::new(topics),
            handler: Arc::new(move |records| Box::pin(handler(records))),
            start: StartPosition::Earliest,
        }
    }

    pub fn starting_at(mut self, start: StartPosition) -> Consumer {
        self.start = start;
        self
    }
}

/// Tuning of the dispatcher.
#[derive(Debug, Clone)]
pub struct BusConfig {
    /// Most records handed to one handler call.
    pub batch_max_records: usize,
    /// Most payload bytes in one batch (a single larger record still goes alone).
    pub batch_max_bytes: usize,
    /// How long an idle consumer sleeps when nobody calls `notify` (real time).
    pub poll_interval_ms: u64,
    /// First retry delay after a failed batch (bus clock).
    pub backoff_initial_ms: i64,
    /// Longest retry delay.
    pub backoff_max_ms: i64,
    /// Most topics one consumer follows; the rest are ignored (and logged) until the
    /// list shrinks.
    pub max_topics_per_consumer: usize,
}

impl Default for BusConfig {
    fn default() -> Self {
        BusConfig {
            batch_max_records: 100,
            batch_max_bytes: 1024 * 1024,
            poll_interval_ms: 1_000,
            backoff_initial_ms: 100,
            backoff_max_ms: 30_000,
            max_topics_per_consumer: 10_000,
        }
    }
}

#[derive(Default)]
struct Counters {
    delivered: AtomicU64,
    batches: AtomicU64,
    retries: AtomicU64,
    failures: AtomicU64,
    lag_records: AtomicU64,
    lag_ms: AtomicI64,
    topics: AtomicU64,
    last_error: Mutex<Option<String>>,
}

struct ConsumerState {
    consumer: Consumer,
    wake: Notify,
    counters: Counters,
}

struct Inner {
    db: Db,
    clock: SharedClock,
    config: BusConfig,
    consumers: Mutex<Vec<Arc<ConsumerState>>>,
    started: AtomicBool,
    stopping: AtomicBool,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

/// The event bus of one store. Cheap to clone.
#[derive(Clone)]
pub struct Bus {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Bus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bus")
            .field("consumers", &self.inner.consumers.lock().len())
            .finish()
    }
}

impl Bus {
    pub fn new(db: Db, clock: SharedClock) -> Bus {
        Bus::with_config(db, clock, BusConfig::default())
    }

    pub fn with_config(db: Db, clock: SharedClock, config: BusConfig) -> Bus {
        Bus {
            inner: Arc::new(Inner {
                db,
                clock,
                config,
                consumers: Mutex::new(Vec::new()),
                started: AtomicBool::new(false),
                stopping: AtomicBool::new(false),
                tasks: Mutex::new(Vec::new()),
            }),
        }
    }

    pub fn db(&self) -> &Db {
        &self.inner.db
    }

    pub fn clock(&self) -> &SharedClock {
        &self.inner.clock
    }

    /// Adds a consumer; it runs at once if the bus was started, else on [`Bus::start`].
    pub fn register(&self, consumer: Consumer) -> Result<(), BusError> {
        crate::check_name("a consumer name", consumer.name.as_bytes())?;
        let state = {
            let mut list = self.inner.consumers.lock();
            if list.iter().any(|c| c.consumer.name == consumer.name) {
                return Err(BusError::DuplicateConsumer(consumer.name));
            }
            let state = Arc::new(ConsumerState {
                consumer,
                wake: Notify::new(),
                counters: Counters::default(),
            });
            list.push(state.clone());
            state
        };
        if self.inner.started.load(Ordering::Acquire) {
            self.spawn(state)?;
        }
        Ok(())
    }

    /// Starts the dispatcher tasks (once; later calls do nothing). Needs a Tokio runtime.
    pub fn start(&self) -> Result<(), BusError> {
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(BusError::NoRuntime);
        }
        if self
            .inner
            .started
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return Ok(());
        }
        let list: Vec<Arc<ConsumerState>> = self.inner.consumers.lock().clone();
        for state in list {
            self.spawn(state)?;
        }
        Ok(())
    }

    fn spawn(&self, state: Arc<ConsumerState>) -> Result<(), BusError> {
        let handle = tokio::runtime::Handle::try_current().map_err(|_| BusError::NoRuntime)?;
        let inner = self.inner.clone();
        let task = handle.spawn(run_consumer(inner, state));
        let mut tasks = self.inner.tasks.lock();
        tasks.retain(|t| !t.is_finished());
        tasks.push(task);
        Ok(())
    }

    /// Wakes every consumer: call after a commit that appended to a topic. Cheap; a
    /// wake-up with nothing new costs one snapshot read per topic.
    pub fn notify(&self) {
        for c in self.inner.consumers.lock().iter() {
            c.wake.notify_one();
        }
    }

    /// Stops the dispatcher tasks after their current batch; waits at most
    /// `timeout_ms`. Returns whether every task stopped. Undelivered records stay in
    /// their topics and are delivered after the next start.
    pub async fn shutdown(&self, timeout_ms: u64) -> bool {
        self.inner.stopping.store(true, Ordering::Release);
        self.notify();
        let tasks: Vec<JoinHandle<()>> = std::mem::take(&mut *self.inner.tasks.lock());
        let all = async {
            for t in tasks {
                let _ = t.await;
            }
        };
        tokio::time::timeout(Duration::from_millis(timeout_ms), all)
            .await
            .is_ok()
    }

    /// Counters for the health endpoint: appends attempted, and per consumer the records
    /// delivered, batches, retries, failures, lag (records and age of the oldest
    /// undelivered record at the last pass) and the last error.
    pub fn metrics(&self) -> Value {
        let mut consumers = Map::new();
        for c in self.inner.consumers.lock().iter() {
            let k = &c.counters;
            consumers.insert(
                c.consumer.name.clone(),
                json!({
                    "topics": k.topics.load(Ordering::Relaxed),
                    "delivered": k.delivered.load(Ordering::Relaxed),
                    "batches": k.batches.load(Ordering::Relaxed),
                    "retries": k.retries.load(Ordering::Relaxed),
                    "failures": k.failures.load(Ordering::Relaxed),
                    "lag_records": k.lag_records.load(Ordering::Relaxed),
                    "lag_ms": k.lag_ms.load(Ordering::Relaxed),
                    "last_error": k.last_error.lock().clone(),
                }),
            );
        }
        json!({
            "appends_attempted": crate::appends_attempted(),
            "running": self.inner.started.load(Ordering::Acquire)
                && !self.inner.stopping.load(Ordering::Acquire),
            "consumers": consumers,
        })
    }
}

/// Retry state of one failing topic.
struct Retry {
    due_ms: i64,
    attempt: u32,
}

enum Pass {
    /// Nothing to deliver.
    Idle { lag_records: u64 },
    /// A batch was delivered and the cursor moved.
    Delivered { lag_records: u64, lag_ms: i64 },
    /// The handler (or the cursor write) failed.
    Failed {
        lag_records: u64,
        lag_ms: i64,
        error: String,
    },
}

fn backoff_ms(config: &BusConfig, attempt: u32) -> i64 {
    let shift = attempt.saturating_sub(1).min(30);
    config
        .backoff_initial_ms
        .max(1)
        .saturating_mul(1i64 << shift)
        .min(config.backoff_max_ms.max(1))
}

async fn run_consumer(inner: Arc<Inner>, st: Arc<ConsumerState>) {
    let mut retries: HashMap<Vec<u8>, Retry> = HashMap::new();
    let name = st.consumer.name.clone();
    loop {
        if inner.stopping.load(Ordering::Acquire) {
            break;
        }
        let mut topics = (st.consumer.topics)();
        if topics.len() > inner.config.max_topics_per_consumer {
            tracing::warn!(
                consumer = %name,
                topics = topics.len(),
                "consumer follows more topics than allowed; the rest wait"
            );
            topics.truncate(inner.config.max_topics_per_consumer);
        }
        retries.retain(|t, _| topics.contains(t));
        st.counters
            .topics
            .store(topics.len() as u64, Ordering::Relaxed);
        let mut progressed = false;
        let mut next_due: Option<i64> = None;
        let mut lag_records = 0u64;
        let mut lag_ms = 0i64;
        for topic in &topics {
            if inner.stopping.load(Ordering::Acquire) {
                break;
            }
            let now = inner.clock.now_millis();
            let retrying = match retries.get(topic) {
                Some(r) if r.due_ms > now => {
                    next_due = Some(next_due.map_or(r.due_ms, |d| d.min(r.due_ms)));
                    continue;
                }
                Some(_) => true,
                None => false,
            };
            if retrying {
                st.counters.retries.fetch_add(1, Ordering::Relaxed);
            }
            match deliver_one(&inner, &st, topic).await {
                Pass::Idle { lag_records: l } => {
                    lag_records += l;
                    retries.remove(topic);
                }
                Pass::Delivered {
                    lag_records: l,
                    lag_ms: age,
                } => {
                    lag_records += l;
                    lag_ms = lag_ms.max(age);
                    retries.remove(topic);
                    progressed = true;
                }
                Pass::Failed {
                    lag_records: l,
                    lag_ms: age,
                    error,
                } => {
                    lag_records += l;
                    lag_ms = lag_ms.max(age);
                    st.counters.failures.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(consumer = %name, error = %error, "event delivery failed; will retry");
                    *st.counters.last_error.lock() = Some(error);
                    let attempt = retries
                        .get(topic)
                        .map_or(1, |r| r.attempt.saturating_add(1));
                    let due_ms = inner
                        .clock
                        .now_millis()
                        .saturating_add(backoff_ms(&inner.config, attempt));
                    next_due = Some(next_due.map_or(due_ms, |d| d.min(due_ms)));
                    retries.insert(topic.clone(), Retry { due_ms, attempt });
                }
            }
        }
        st.counters
            .lag_records
            .store(lag_records, Ordering::Relaxed);
        st.counters.lag_ms.store(lag_ms, Ordering::Relaxed);
        if progressed {
            // More may be waiting; give other tasks a turn first.
            tokio::task::yield_now().await;
            continue;
        }
        let mut sleep_ms = inner.config.poll_interval_ms.max(1);
        if let Some(due) = next_due {
            let until = due.saturating_sub(inner.clock.now_millis()).max(1);
            sleep_ms = sleep_ms.min(u64::try_from(until).unwrap_or(1));
        }
        tokio::select! {
            () = st.wake.notified() => {}
            () = tokio::time::sleep(Duration::from_millis(sleep_ms)) => {}
        }
    }
}

/// One attempt at one topic: read after the cursor, hand the batch over, move the cursor.
async fn deliver_one(inner: &Arc<Inner>, st: &Arc<ConsumerState>, topic: &[u8]) -> Pass {
    let consumer = st.consumer.name.as_bytes();
    let failed = |error: String| Pass::Failed {
        lag_records: 0,
        lag_ms: 0,
        error,
    };
    // Read under one snapshot, dropped before awaiting the handler.
    let (batch, lag_records, from_seq) = {
        let snap = match inner.db.snapshot() {
            Ok(s) => s,
            Err(e) => return failed(e.to_string()),
        };
        let b = match bounds(snap.as_ref(), topic) {
            Ok(Some(b)) => b,
            Ok(None) => return Pass::Idle { lag_records: 0 },
            Err(e) => return failed(e.to_string()),
        };
        let mut from = match cursor(snap.as_ref(), consumer, topic) {
            Ok(Some(c)) => c,
            Ok(None) => match st.consumer.start {
                StartPosition::Earliest => b.first_seq,
                StartPosition::Latest => b.next_seq,
            },
            Err(e) => return failed(e.to_string()),
        };
        // Records trimmed before they were delivered are gone; continue after them.
        from = from.max(b.first_seq);
        let lag = b.next_seq.saturating_sub(from);
        let batch = match read(
            snap.as_ref(),
            topic,
            from,
            inner.config.batch_max_records,
            inner.config.batch_max_bytes,
        ) {
            Ok(r) => r,
            Err(e) => return failed(e.to_string()),
        };
        (batch, lag, from)
    };
    let Some(last) = batch.last().map(|r| r.seq) else {
        // Persist a Latest start so records appended from now on are delivered.
        if st.consumer.start == StartPosition::Latest {
            let (c, t) = (consumer.to_vec(), topic.to_vec());
            let _ = inner
                .db
                .write(move |txn| -> Result<(), BusError> {
                    if cursor(txn, &c, &t)?.is_none() {
                        set_cursor(txn, &c, &t, from_seq)?;
                    }
                    Ok(())
                })
                .await;
        }
        return Pass::Idle { lag_records };
    };
    let age_ms = batch.first().map_or(0, |r| {
        inner.clock.now_millis().saturating_sub(r.at_ms).max(0)
    });
    let n = batch.len() as u64;
    // The handler runs as its own task so that a panic in it is a failed delivery, not
    // a dead dispatcher.
    let fut = (st.consumer.handler)(batch);
    let outcome = match tokio::spawn(fut).await {
        Ok(r) => r,
        Err(e) => Err(format!("handler panicked: {e}")),
    };
    if let Err(error) = outcome {
        return Pass::Failed {
            lag_records,
            lag_ms: age_ms,
            error,
        };
    }
    let (c, t) = (consumer.to_vec(), topic.to_vec());
    let moved = inner
        .db
        .write(move |txn| -> Result<(), BusError> {
            // Never move a cursor backwards (e.g. after a concurrent manual set_cursor).
            let cur = cursor(txn, &c, &t)?.unwrap_or(0);
            if cur < last + 1 {
                set_cursor(txn, &c, &t, last + 1)?;
            }
            Ok(())
        })
        .await;
    match moved {
        Ok(()) => {
            st.counters.delivered.fetch_add(n, Ordering::Relaxed);
            st.counters.batches.fetch_add(1, Ordering::Relaxed);
            Pass::Delivered {
                lag_records: lag_records.saturating_sub(n),
                lag_ms: age_ms,
            }
        }
        // The batch was handled but the cursor did not move: it is delivered again
        // (at least once).
        Err(e) => Pass::Failed {
            lag_records,
            lag_ms: age_ms,
            error: format!("cannot save the cursor: {e}"),
        },
    }
}

#[cfg(test)]
pub(crate) fn backoff_ms_for_tests(config: &BusConfig, attempt: u32) -> i64 {
    backoff_ms(config, attempt)
}
