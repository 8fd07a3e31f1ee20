//! The conformance suite every engine must pass (enable the `testkit` feature to use it from
//! another crate's tests).
//!
//! ```ignore
//! nimbus_store::testkit::conformance_suite(|| Db::in_memory());
//! ```
//!
//! `make` must return a fresh, empty store on every call. [`reopen_suite`] additionally checks
//! persistence for engines that keep data on disk. Failures panic with a message naming the
//! check, like any test assertion.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::{Db, Entry, StoreError, MAX_KEY_BYTES, MAX_VALUE_BYTES};

/// Runs every check against stores made by `make`.
pub fn conformance_suite(make: impl Fn() -> Db) {
    basic_crud(&make());
    limits_are_enforced(&make());
    ranges_match_model(&make());
    range_paging(&make());
    read_your_writes(&make());
    err_discards_writes(&make());
    panicking_job_is_isolated(&make());
    concurrent_increments_are_serializable(&make());
    group_commit_batches(&make());
    snapshots_are_atomic(&make());
    close_refuses_writes(&make());
}

/// Write, close, reopen, read. `open` must open the same store every time.
pub fn reopen_suite(open: impl Fn() -> Db) {
    let db = open();
    let rt = runtime();
    rt.block_on(async {
        let mut tasks = Vec::new();
        for i in 0..64u32 {
            let db = db.clone();
            tasks.push(tokio::spawn(async move {
                db.write(move |tx| {
                    tx.put(format!("reopen/{i:03}").as_bytes(), &i.to_be_bytes())?;
                    tx.put(format!("idx/{i:03}").as_bytes(), b"")
                })
                .await
            }));
        }
        for t in tasks {
            let r: Result<(), StoreError> = t.await.expect("task");
            r.expect("write");
        }
    });
    put(&db, b"reopen/deleted", b"x");
    db.write_blocking(|tx| tx.delete(b"reopen/deleted"))
        .expect("delete");
    rt.block_on(db.close()).expect("close");
    drop(db);

    let db = open();
    let snap = db.snapshot().expect("snapshot");
    let all = snap
        .range(
            Bound::Included(b"reopen/"),
            Bound::Excluded(b"reopen0"),
            false,
            1000,
        )
        .expect("range");
    assert_eq!(all.len(), 64, "every acknowledged write survives a reopen");
    for (i, (k, v)) in all.iter().enumerate() {
        assert_eq!(k, format!("reopen/{i:03}").as_bytes());
        assert_eq!(v.as_slice(), &(i as u32).to_be_bytes());
    }
    assert_eq!(
        snap.get(b"reopen/deleted").expect("get"),
        None,
        "deletes persist"
    );
    assert_eq!(snap.get(b"idx/063").expect("get"), Some(Vec::new()));
    drop(snap);
    // The reopened store takes writes again.
    put(&db, b"reopen/after", b"1");
    assert_eq!(get(&db, b"reopen/after"), Some(b"1".to_vec()));
    db.close_blocking().expect("close");
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn put(db: &Db, key: &[u8], value: &[u8]) {
    let (k, v) = (key.to_vec(), value.to_vec());
    db.write_blocking(move |tx| tx.put(&k, &v))
        .expect("put commits");
}

fn get(db: &Db, key: &[u8]) -> Option<Vec<u8>> {
    db.snapshot().expect("snapshot").get(key).expect("get")
}

fn basic_crud(db: &Db) {
    assert_eq!(get(db, b"k1"), None, "a fresh store is empty");
    put(db, b"k1", b"v1");
    assert_eq!(get(db, b"k1"), Some(b"v1".to_vec()));
    put(db, b"k1", b"v2");
    assert_eq!(get(db, b"k1"), Some(b"v2".to_vec()), "put overwrites");
    put(db, b"empty", b"");
    assert_eq!(
        get(db, b"empty"),
        Some(Vec::new()),
        "empty values are values"
    );
    let binary: Vec<u8> = (0..=255u8).collect();
    put(db, &[0, 255, 0], &binary);
    assert_eq!(get(db, &[0, 255, 0]), Some(binary));

    let before = db.snapshot().expect("snapshot");
    db.write_blocking(|tx| tx.delete(b"k1")).expect("delete");
    assert_eq!(get(db, b"k1"), None, "delete removes");
    assert_eq!(
        before.get(b"k1").expect("get"),
        Some(b"v2".to_vec()),
        "an older snapshot keeps seeing its version"
    );
    db.write_blocking(|tx| tx.delete(b"never-there"))
        .expect("deleting a missing key is fine");
    assert!(!db.engine_name().is_empty());
}

fn limits_are_enforced(db: &Db) {
    let r = db.write_blocking(|tx| tx.put(b"", b"v"));
    assert!(matches!(r, Err(StoreError::Invalid(_))), "empty key: {r:?}");
    let r = db.write_blocking(|tx| tx.put(&vec![b'k'; MAX_KEY_BYTES + 1], b"v"));
    assert!(matches!(r, Err(StoreError::Invalid(_))), "long key: {r:?}");
    let r = db.write_blocking(|tx| tx.put(b"k", &vec![0; MAX_VALUE_BYTES + 1]));
    assert!(matches!(r, Err(StoreError::Invalid(_))), "big value: {r:?}");
    let r = db.write_blocking(|tx| tx.delete(b""));
    assert!(
        matches!(r, Err(StoreError::Invalid(_))),
        "empty key delete: {r:?}"
    );
    // The largest allowed key and value work.
    let long_key = vec![b'k'; MAX_KEY_BYTES];
    let r = db.write_blocking({
        let k = long_key.clone();
        move |tx| tx.put(&k, b"v")
    });
    assert!(r.is_ok(), "longest key: {r:?}");
    assert_eq!(get(db, &long_key), Some(b"v".to_vec()));
}

/// Every combination of bound kinds, both directions, several limits, against a model.
fn ranges_match_model(db: &Db) {
    let keys: Vec<Vec<u8>> = ["a", "b", "ba", "bb", "c", "d", "da", "e", "f", "g"]
        .iter()
        .map(|k| k.as_bytes().to_vec())
        .collect();
    let model: BTreeMap<Vec<u8>, Vec<u8>> = keys
        .iter()
        .map(|k| (k.clone(), [k.as_slice(), b"!"].concat()))
        .collect();
    let writes = model.clone();
    db.write_blocking(move |tx| {
        for (k, v) in &writes {
            tx.put(k, v)?;
        }
        Ok::<_, StoreError>(())
    })
    .expect("seed");
    let snap = db.snapshot().expect("snapshot");

    let probes: Vec<&[u8]> = vec![b"a", b"b", b"bc", b"d", b"g", b"0", b"z"];
    let mut bounds: Vec<Bound<&[u8]>> = vec![Bound::Unbounded];
    for p in &probes {
        bounds.push(Bound::Included(p));
        bounds.push(Bound::Excluded(p));
    }
    let mut checked = 0;
    for start in &bounds {
        for end in &bounds {
            for reverse in [false, true] {
                for limit in [0usize, 1, 3, 100] {
                    let got = snap.range(*start, *end, reverse, limit).expect("range");
                    let want = model_range(&model, *start, *end, reverse, limit);
                    assert_eq!(
                        got, want,
                        "range({start:?}, {end:?}, reverse={reverse}, limit={limit})"
                    );
                    checked += 1;
                }
            }
        }
    }
    assert_eq!(checked, 15 * 15 * 2 * 4);
}

/// The reference semantics of `ReadTxn::range`.
pub fn model_range(
    model: &BTreeMap<Vec<u8>, Vec<u8>>,
    start: Bound<&[u8]>,
    end: Bound<&[u8]>,
    reverse: bool,
    limit: usize,
) -> Vec<Entry> {
    let inside = |k: &[u8]| {
        let after_start = match start {
            Bound::Included(s) => k >= s,
            Bound::Excluded(s) => k > s,
            Bound::Unbounded => true,
        };
        let before_end = match end {
            Bound::Included(e) => k <= e,
            Bound::Excluded(e) => k < e,
            Bound::Unbounded => true,
        };
        after_start && before_end
    };
    let limit = limit.min(crate::MAX_RANGE_LIMIT);
    let iter = model.iter().filter(|(k, _)| inside(k));
    let pick = |(k, v): (&Vec<u8>, &Vec<u8>)| (k.clone(), v.clone());
    if reverse {
        iter.rev().take(limit).map(pick).collect()
    } else {
        iter.take(limit).map(pick).collect()
    }
}

/// Paging by "continue after the last key" visits every key once, both ways.
fn range_paging(db: &Db) {
    let n = 300u32;
    db.write_blocking(move |tx| {
        for i in 0..n {
            tx.put(format!("page/{i:05}").as_bytes(), &i.to_be_bytes())?;
        }
        Ok::<_, StoreError>(())
    })
    .expect("seed");
    let snap = db.snapshot().expect("snapshot");
    for reverse in [false, true] {
        let mut seen = Vec::new();
        let mut cursor: Option<Vec<u8>> = None;
        for _ in 0..1000 {
            let (start, end) = match (&cursor, reverse) {
                (None, _) => (
                    Bound::Included(&b"page/"[..]),
                    Bound::Excluded(&b"page0"[..]),
                ),
                (Some(c), false) => (
                    Bound::Excluded(c.as_slice()),
                    Bound::Excluded(&b"page0"[..]),
                ),
                (Some(c), true) => (
                    Bound::Included(&b"page/"[..]),
                    Bound::Excluded(c.as_slice()),
                ),
            };
            let page = snap.range(start, end, reverse, 7).expect("range");
            seen.extend(page.iter().map(|(k, _)| k.clone()));
            if page.len() < 7 {
                break;
            }
            cursor = page.last().map(|(k, _)| k.clone());
        }
        assert_eq!(seen.len(), n as usize, "reverse={reverse}");
        let mut sorted = seen.clone();
        sorted.sort();
        if reverse {
            sorted.reverse();
        }
        assert_eq!(seen, sorted, "pages come in order, reverse={reverse}");
    }
}

fn read_your_writes(db: &Db) {
    for i in 0..20u8 {
        put(db, &[b'r', i], &[i]);
    }
    let out = db
        .write_blocking(|tx| {
            let mut log = Vec::new();
            tx.put(b"ryw", b"1")?;
            log.push(tx.get(b"ryw")?);
            tx.put(b"ryw", b"2")?;
            log.push(tx.get(b"ryw")?);
            tx.delete(b"ryw")?;
            log.push(tx.get(b"ryw")?);
            // Hide most committed keys, replace one, add two.
            for i in 0..15u8 {
                tx.delete(&[b'r', i])?;
            }
            tx.put(&[b'r', 16], b"new")?;
            tx.put(&[b'r', 200], b"added")?;
            tx.put(&[b'r', 5, 5], b"between")?;
            let fwd = tx.range(Bound::Included(b"r"), Bound::Excluded(b"s"), false, 4)?;
            let rev = tx.range(Bound::Included(b"r"), Bound::Excluded(b"s"), true, 3)?;
            let all = tx.range(Bound::Unbounded, Bound::Unbounded, false, 1000)?;
            Ok::<_, StoreError>((log, fwd, rev, all))
        })
        .expect("txn");
    let (log, fwd, rev, all) = out;
    assert_eq!(log, vec![Some(b"1".to_vec()), Some(b"2".to_vec()), None]);
    let keys = |v: &[Entry]| v.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>();
    assert_eq!(
        keys(&fwd),
        vec![
            vec![b'r', 5, 5],
            vec![b'r', 15],
            vec![b'r', 16],
            vec![b'r', 17]
        ]
    );
    assert_eq!(fwd[2].1, b"new".to_vec());
    assert_eq!(
        keys(&rev),
        vec![vec![b'r', 200], vec![b'r', 19], vec![b'r', 18]]
    );
    assert!(!all.iter().any(|(k, _)| k == b"ryw"));
    // And it all committed as seen.
    assert_eq!(get(db, &[b'r', 3]), None);
    assert_eq!(get(db, &[b'r', 16]), Some(b"new".to_vec()));
    assert_eq!(get(db, &[b'r', 5, 5]), Some(b"between".to_vec()));
}

#[derive(Debug, PartialEq)]
enum AppError {
    Nope,
    Store(StoreError),
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        AppError::Store(e)
    }
}

fn err_discards_writes(db: &Db) {
    put(db, b"keep", b"old");
    let r: Result<(), AppError> = db.write_blocking(|tx| {
        tx.put(b"keep", b"new")?;
        tx.put(b"discarded", b"x")?;
        tx.delete(b"keep")?;
        Err(AppError::Nope)
    });
    assert_eq!(r, Err(AppError::Nope), "the closure's own error comes back");
    assert_eq!(get(db, b"keep"), Some(b"old".to_vec()));
    assert_eq!(get(db, b"discarded"), None);
    // A store error propagated by the closure also discards.
    let r: Result<(), AppError> = db.write_blocking(|tx| {
        tx.put(b"discarded", b"x")?;
        tx.put(b"", b"bad")?;
        Ok(())
    });
    assert!(matches!(r, Err(AppError::Store(StoreError::Invalid(_)))));
    assert_eq!(get(db, b"discarded"), None);
}

fn panicking_job_is_isolated(db: &Db) {
    let rt = runtime();
    rt.block_on(async {
        let mut tasks = Vec::new();
        for i in 0..32u32 {
            let db = db.clone();
            tasks.push(tokio::spawn(async move {
                db.write(move |tx| {
                    tx.put(format!("p/{i:02}").as_bytes(), b"v")?;
                    if i % 8 == 3 {
                        panic!("job {i} panics on purpose");
                    }
                    Ok::<_, StoreError>(())
                })
                .await
            }));
        }
        for (i, t) in tasks.into_iter().enumerate() {
            let r = t.await.expect("the task itself never panics");
            if i % 8 == 3 {
                assert!(
                    matches!(r, Err(StoreError::Panicked(ref m)) if m.contains("on purpose")),
                    "{r:?}"
                );
            } else {
                assert_eq!(r, Ok(()));
            }
        }
    });
    for i in 0..32u32 {
        let want = (i % 8 != 3).then(|| b"v".to_vec());
        assert_eq!(get(db, format!("p/{i:02}").as_bytes()), want, "key {i}");
    }
    put(db, b"after-panic", b"ok");
    assert_eq!(get(db, b"after-panic"), Some(b"ok".to_vec()));

    // A write from inside a write closure is refused, not a deadlock.
    let inner = db.clone();
    let r = db.write_blocking(move |_tx| inner.write_blocking(|tx| tx.put(b"nested", b"x")));
    assert!(matches!(r, Err(StoreError::Invalid(_))), "{r:?}");
    assert_eq!(get(db, b"nested"), None);
}

/// Read-modify-write from many concurrent writers loses no update: jobs in one batch see
/// the writes of the jobs before them.
fn concurrent_increments_are_serializable(db: &Db) {
    let rt = runtime();
    let writers = 200u64;
    rt.block_on(async {
        let mut tasks = Vec::new();
        for _ in 0..writers {
            let db = db.clone();
            tasks.push(tokio::spawn(async move {
                db.write(|tx| {
                    let n = match tx.get(b"counter")? {
                        Some(v) => u64::from_be_bytes(v.try_into().expect("8 bytes")),
                        None => 0,
                    };
                    tx.put(b"counter", &(n + 1).to_be_bytes())
                })
                .await
            }));
        }
        for t in tasks {
            t.await.expect("task").expect("increment");
        }
    });
    let v = get(db, b"counter").expect("counter exists");
    assert_eq!(v, writers.to_be_bytes().to_vec(), "no lost update");
}

/// Many concurrent writers share commits. A first job holds the writer until the others
/// are queued, so the next batch provably holds many jobs.
fn group_commit_batches(db: &Db) {
    let rt = runtime();
    let before = db.stats();
    let others = 200usize;
    rt.block_on(async {
        let (started_tx, started_rx) = std::sync::mpsc::sync_channel::<()>(1);
        let (release_tx, release_rx) = std::sync::mpsc::sync_channel::<()>(1);
        let blocker = {
            let db = db.clone();
            tokio::spawn(async move {
                db.write(move |tx| {
                    let _ = started_tx.try_send(());
                    // Bounded wait: the test fails rather than hangs.
                    let _ = release_rx.recv_timeout(Duration::from_secs(10));
                    tx.put(b"gc/blocker", b"1")
                })
                .await
            })
        };
        tokio::task::spawn_blocking(move || started_rx.recv_timeout(Duration::from_secs(10)))
            .await
            .expect("join")
            .expect("the blocking job started");
        let done = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for i in 0..others {
            let db = db.clone();
            let done = done.clone();
            tasks.push(tokio::spawn(async move {
                let r = db
                    .write(move |tx| {
                        tx.put(format!("gc/{i:04}").as_bytes(), b"item")?;
                        tx.put(format!("gc-idx/{i:04}").as_bytes(), b"")
                    })
                    .await;
                done.fetch_add(1, Ordering::Relaxed);
                r
            }));
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while (db.stats().queued as usize) < others && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        assert_eq!(db.stats().queued as usize, others, "all writers queued");
        assert_eq!(
            done.load(Ordering::Relaxed),
            0,
            "nothing acknowledged before commit"
        );
        release_tx.send(()).expect("release");
        blocker.await.expect("task").expect("blocker commits");
        for t in tasks {
            let r: Result<(), StoreError> = t.await.expect("task");
            r.expect("write commits");
        }
    });
    let after = db.stats();
    let jobs = after.jobs - before.jobs;
    let commits = after.commits - before.commits;
    assert_eq!(jobs, others as u64 + 1);
    assert!(
        after.max_batch_jobs >= 100,
        "queued writers shared a batch: {after:?}"
    );
    assert!(commits <= 3, "{jobs} jobs in {commits} commits: {after:?}");
    let snap = db.snapshot().expect("snapshot");
    let items = snap
        .range(
            Bound::Included(b"gc/"),
            Bound::Excluded(b"gc0"),
            false,
            10_000,
        )
        .expect("range");
    assert_eq!(
        items.len(),
        others + 1,
        "every acknowledged write is visible"
    );
}

/// A snapshot never sees half a transaction.
fn snapshots_are_atomic(db: &Db) {
    let rt = runtime();
    rt.block_on(async {
        let writer = {
            let db = db.clone();
            tokio::spawn(async move {
                for i in 0..200u32 {
                    db.write(move |tx| {
                        tx.put(b"atomic/a", &i.to_be_bytes())?;
                        tx.put(b"atomic/b", &i.to_be_bytes())
                    })
                    .await?;
                }
                Ok::<_, StoreError>(())
            })
        };
        let mut reads = 0u32;
        while !writer.is_finished() && reads < 100_000 {
            let snap = db.snapshot().expect("snapshot");
            let a = snap.get(b"atomic/a").expect("get");
            let b = snap.get(b"atomic/b").expect("get");
            assert_eq!(a, b, "both keys come from the same commit");
            reads += 1;
            tokio::task::yield_now().await;
        }
        writer.await.expect("task").expect("writes");
    });
}

fn close_refuses_writes(db: &Db) {
    put(db, b"before-close", b"1");
    let rt = runtime();
    rt.block_on(db.close()).expect("close");
    rt.block_on(db.close()).expect("closing twice is fine");
    let r = db.write_blocking(|tx| tx.put(b"after-close", b"1"));
    assert_eq!(r, Err(StoreError::Closed));
    let r: Result<(), StoreError> = rt.block_on(db.write(|tx| tx.put(b"after-close", b"1")));
    assert_eq!(r, Err(StoreError::Closed));
    assert_eq!(
        get(db, b"before-close"),
        Some(b"1".to_vec()),
        "reads still work"
    );
    assert_eq!(get(db, b"after-close"), None);
}
