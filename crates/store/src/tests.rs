//! The conformance suite against every engine compiled in, plus a property test against a
//! `BTreeMap` model.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::ops::Bound;
use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use proptest::prelude::*;

use crate::testkit::{self, model_range};
use crate::{Db, Durability, EngineKind, Entry, StoreConfig, StoreError, WriteTxn};

fn open_in(dir: &Path, engine: EngineKind, durability: Durability) -> Db {
    Db::open(StoreConfig {
        engine,
        path: Some(dir.to_path_buf()),
        durability,
    })
    .expect("open")
}

/// Runs the conformance suite on stores in fresh temporary directories, removed at the end.
fn conformance_on_disk(engine: EngineKind, durability: Durability) {
    let dirs = RefCell::new(Vec::new());
    testkit::conformance_suite(|| {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = open_in(dir.path(), engine, durability);
        dirs.borrow_mut().push(dir);
        db
    });
}

#[test]
fn conformance_memory() {
    testkit::conformance_suite(Db::in_memory);
}

#[test]
fn conformance_redb() {
    conformance_on_disk(EngineKind::Redb, Durability::Fsync);
}

#[test]
fn conformance_redb_relaxed() {
    conformance_on_disk(EngineKind::Redb, Durability::Relaxed);
}

#[cfg(feature = "fjall")]
#[test]
fn conformance_fjall() {
    conformance_on_disk(EngineKind::Fjall, Durability::Fsync);
}

#[cfg(feature = "fjall")]
#[test]
fn conformance_fjall_relaxed() {
    conformance_on_disk(EngineKind::Fjall, Durability::Relaxed);
}

/// The fjall engine serves point reads from a cache of rows (`engine/row_cache.rs`). Under
/// concurrent commits, a snapshot must never read a value older than one already
/// acknowledged, and two keys always written together must read alike in one snapshot
/// (one of them may come from the cache and the other from fjall).
#[cfg(feature = "fjall")]
#[test]
fn fjall_point_reads_stay_exact_under_concurrent_commits() {
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use std::sync::Arc;

    const KEYS: u64 = 6;
    const WRITES_PER_WRITER: u64 = 1500;
    let dir = tempfile::tempdir().expect("tempdir");
    let db = open_in(dir.path(), EngineKind::Fjall, Durability::Relaxed);
    let acked: Arc<Vec<AtomicU64>> = Arc::new((0..KEYS * 2).map(|_| AtomicU64::new(0)).collect());
    let done = Arc::new(AtomicBool::new(false));
    let key = |k: u64| format!("row/{k}").into_bytes();
    let twin = |k: u64| format!("twin/{k}").into_bytes();
    let read = |snap: &dyn crate::ReadTxn, key: &[u8]| -> u64 {
        snap.get(key)
            .expect("get")
            .map_or(0, |v| u64::from_be_bytes(v.try_into().expect("8 bytes")))
    };

    // Two writers on disjoint keys, so that their jobs share batches.
    let writers: Vec<_> = (0..2u64)
        .map(|w| {
            let (db, acked) = (db.clone(), acked.clone());
            std::thread::spawn(move || {
                for i in 1..=WRITES_PER_WRITER {
                    let k = w * KEYS + i % KEYS;
                    let (a, b) = (key(k), twin(k));
                    db.write_blocking(move |t: &mut dyn WriteTxn| {
                        t.put(&a, &i.to_be_bytes())?;
                        t.put(&b, &i.to_be_bytes())?;
                        Ok::<_, StoreError>(())
                    })
                    .expect("write");
                    acked[k as usize].store(i, Ordering::SeqCst);
                }
            })
        })
        .collect();
    let readers: Vec<_> = (0..3u64)
        .map(|r| {
            let (db, acked, done) = (db.clone(), acked.clone(), done.clone());
            std::thread::spawn(move || {
                let mut reads = 0u64;
                while !done.load(Ordering::SeqCst) {
                    for k in 0..KEYS * 2 {
                        let floor = acked[k as usize].load(Ordering::SeqCst);
                        let snap = db.snapshot().expect("snapshot");
                        // Alternate which key is read first, so each comes from the cache
                        // in some reads and from fjall in others.
                        let (a, b) = if (reads + r).is_multiple_of(2) {
                            let a = read(snap.as_ref(), &key(k));
                            (a, read(snap.as_ref(), &twin(k)))
                        } else {
                            let b = read(snap.as_ref(), &twin(k));
                            (read(snap.as_ref(), &key(k)), b)
                        };
                        assert!(
                            a >= floor,
                            "key {k}: read {a} after {floor} was acknowledged"
                        );
                        assert_eq!(a, b, "key {k}: one snapshot saw two different writes");
                        // A second read in the same snapshot sees the same value.
                        assert_eq!(read(snap.as_ref(), &key(k)), a);
                        reads += 1;
                    }
                }
                reads
            })
        })
        .collect();
    for w in writers {
        w.join().expect("writer");
    }
    done.store(true, Ordering::SeqCst);
    let reads: u64 = readers.into_iter().map(|r| r.join().expect("reader")).sum();
    assert!(reads > 0);
    // And at the end every key reads its last write.
    let snap = db.snapshot().expect("snapshot");
    for k in 0..KEYS * 2 {
        let last = acked[k as usize].load(Ordering::SeqCst);
        assert_eq!(read(snap.as_ref(), &key(k)), last);
        assert_eq!(read(snap.as_ref(), &twin(k)), last);
    }
}

fn reopen(engine: EngineKind, durability: Durability) {
    let dir = tempfile::tempdir().expect("tempdir");
    testkit::reopen_suite(|| open_in(dir.path(), engine, durability));
}

#[test]
fn reopen_redb() {
    reopen(EngineKind::Redb, Durability::Fsync);
}

/// Relaxed commits skip fsync, but a clean close still leaves everything on disk.
#[test]
fn reopen_redb_relaxed() {
    reopen(EngineKind::Redb, Durability::Relaxed);
}

#[cfg(feature = "fjall")]
#[test]
fn reopen_fjall() {
    reopen(EngineKind::Fjall, Durability::Fsync);
}

#[cfg(feature = "fjall")]
#[test]
fn reopen_fjall_relaxed() {
    reopen(EngineKind::Fjall, Durability::Relaxed);
}

/// Two Dbs on one directory would corrupt it: the second open must fail, and the directory
/// must be usable again once the first Db is closed and dropped.
fn locked_while_open(engine: EngineKind) {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = StoreConfig::on_disk(engine, dir.path());
    let db = Db::open(cfg.clone()).expect("open");
    let second = Db::open(cfg.clone());
    assert!(matches!(&second, Err(StoreError::Io(_))), "{second:?}");
    db.close_blocking().expect("close");
    drop(db);
    Db::open(cfg)
        .expect("reopen after close")
        .close_blocking()
        .expect("close");
}

#[test]
fn redb_is_locked_while_open() {
    locked_while_open(EngineKind::Redb);
}

#[cfg(feature = "fjall")]
#[test]
fn fjall_is_locked_while_open() {
    locked_while_open(EngineKind::Fjall);
}

/// Environment variable that turns [`crash_child`] into a writer that runs until killed.
const CRASH_DIR_ENV: &str = "NIMBUS_STORE_CRASH_CHILD_DIR";

/// Not a test on its own: the child process of [`crash_test`]. Without the environment
/// variable it returns at once.
#[test]
fn crash_child() {
    let Ok(dir) = std::env::var(CRASH_DIR_ENV) else {
        return;
    };
    let engine: EngineKind = std::env::var("NIMBUS_STORE_CRASH_ENGINE")
        .expect("engine")
        .parse()
        .expect("engine name");
    let db = open_in(Path::new(&dir), engine, Durability::Fsync);
    let out = std::sync::Arc::new(std::sync::Mutex::new(std::io::stdout()));
    let threads: Vec<_> = (0..16u32)
        .map(|t| {
            let db = db.clone();
            let out = out.clone();
            std::thread::spawn(move || {
                // Bounded: the parent kills us long before this ends.
                for n in 0..100_000u32 {
                    let key = format!("crash/{t:02}/{n:06}");
                    let k = key.clone();
                    db.write_blocking(move |tx| tx.put(k.as_bytes(), b"acked"))
                        .expect("write");
                    let mut out = out.lock().expect("stdout");
                    use std::io::Write;
                    writeln!(out, "ack {key}").expect("print");
                    out.flush().expect("flush");
                }
            })
        })
        .collect();
    for t in threads {
        let _ = t.join();
    }
}

/// kill -9 while 16 writers are busy, reopen: every acknowledged write is there.
fn crash_test(engine: EngineKind) {
    use std::io::BufRead;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = std::process::Command::new(std::env::current_exe().expect("exe"))
        .args([
            "--exact",
            "tests::crash_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CRASH_DIR_ENV, dir.path())
        .env("NIMBUS_STORE_CRASH_ENGINE", engine.name())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn child");
    let stdout = child.stdout.take().expect("stdout");
    let reader = std::thread::spawn(move || {
        std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .filter_map(|l| l.strip_prefix("ack ").map(str::to_string))
            .collect::<Vec<_>>()
    });
    // Let it write for a while, then kill it without warning.
    let deadline = Instant::now() + Duration::from_millis(1500);
    while Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    child.kill().expect("kill -9");
    let _ = child.wait();
    let acked = reader.join().expect("reader");
    assert!(
        acked.len() > 50,
        "the child acknowledged writes: {}",
        acked.len()
    );

    let db = open_in(dir.path(), engine, Durability::Fsync);
    let snap = db.snapshot().expect("snapshot");
    let missing: Vec<&String> = acked
        .iter()
        .filter(|k| snap.get(k.as_bytes()).expect("get").is_none())
        .collect();
    assert!(
        missing.is_empty(),
        "{} acknowledged writes lost, e.g. {:?}",
        missing.len(),
        missing.first()
    );
    drop(snap);
    db.close_blocking().expect("close");
}

#[test]
fn crash_redb() {
    crash_test(EngineKind::Redb);
}

#[cfg(feature = "fjall")]
#[test]
fn crash_fjall() {
    crash_test(EngineKind::Fjall);
}

#[test]
fn config_errors_are_helpful() {
    let r = Db::open(StoreConfig {
        engine: EngineKind::Redb,
        path: None,
        durability: Durability::Fsync,
    });
    assert!(
        matches!(&r, Err(StoreError::Config(m)) if m.contains("data directory")),
        "{r:?}"
    );
    #[cfg(not(feature = "fjall"))]
    {
        let dir = tempfile::tempdir().expect("tempdir");
        let r = Db::open(StoreConfig::on_disk(EngineKind::Fjall, dir.path()));
        assert!(
            matches!(&r, Err(StoreError::Config(m)) if m.contains("--features fjall")),
            "{r:?}"
        );
    }
    assert_eq!(Db::in_memory().engine_name(), "memory");
}

#[test]
fn relaxed_durability_still_commits_and_syncs_on_close() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = open_in(dir.path(), EngineKind::Redb, Durability::Relaxed);
    assert_eq!(db.durability(), Durability::Relaxed);
    db.write_blocking(|tx| tx.put(b"k", b"v")).expect("put");
    assert_eq!(db.stats().commits, 1);
    db.close_blocking().expect("close");
    assert!(db.stats().syncs >= 1, "close syncs: {:?}", db.stats());
}

// ---- property test against a BTreeMap model ----

#[derive(Debug, Clone)]
enum B {
    Inc(Vec<u8>),
    Exc(Vec<u8>),
    Unb,
}

impl B {
    fn get(&self) -> Bound<&[u8]> {
        match self {
            B::Inc(k) => Bound::Included(k),
            B::Exc(k) => Bound::Excluded(k),
            B::Unb => Bound::Unbounded,
        }
    }
}

#[derive(Debug, Clone)]
enum Op {
    Put(Vec<u8>, Vec<u8>),
    Delete(Vec<u8>),
    Get(Vec<u8>),
    Range(B, B, bool, usize),
}

#[derive(Debug, Clone, PartialEq)]
enum Read {
    Get(Option<Vec<u8>>),
    Range(Vec<Entry>),
}

#[derive(Debug, Clone)]
struct Txn {
    ops: Vec<Op>,
    commit: bool,
}

#[derive(Debug, PartialEq)]
enum TxnErr {
    Abort(Vec<Read>),
    Store(StoreError),
}

impl From<StoreError> for TxnErr {
    fn from(e: StoreError) -> Self {
        TxnErr::Store(e)
    }
}

fn key() -> impl Strategy<Value = Vec<u8>> {
    // A tiny alphabet so that operations collide on the same keys.
    prop::collection::vec(prop::sample::select(vec![b'a', b'b', b'c']), 1..=3)
}

fn bound() -> impl Strategy<Value = B> {
    prop_oneof![key().prop_map(B::Inc), key().prop_map(B::Exc), Just(B::Unb)]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (key(), prop::collection::vec(any::<u8>(), 0..3)).prop_map(|(k, v)| Op::Put(k, v)),
        2 => key().prop_map(Op::Delete),
        1 => key().prop_map(Op::Get),
        2 => (bound(), bound(), any::<bool>(), 0usize..6).prop_map(|(s, e, r, l)| Op::Range(s, e, r, l)),
    ]
}

fn txns() -> impl Strategy<Value = Vec<Txn>> {
    prop::collection::vec(
        (
            prop::collection::vec(op(), 0..10),
            prop::bool::weighted(0.7),
        )
            .prop_map(|(ops, commit)| Txn { ops, commit }),
        1..8,
    )
}

/// Runs `ops` against the model, returning what the reads must see.
fn model_apply(model: &mut BTreeMap<Vec<u8>, Vec<u8>>, ops: &[Op]) -> Vec<Read> {
    let mut reads = Vec::new();
    for op in ops {
        match op {
            Op::Put(k, v) => {
                model.insert(k.clone(), v.clone());
            }
            Op::Delete(k) => {
                model.remove(k);
            }
            Op::Get(k) => reads.push(Read::Get(model.get(k).cloned())),
            Op::Range(s, e, r, l) => {
                reads.push(Read::Range(model_range(model, s.get(), e.get(), *r, *l)));
            }
        }
    }
    reads
}

fn txn_closure(
    txn: Txn,
) -> impl FnMut(&mut dyn WriteTxn) -> Result<Vec<Read>, TxnErr> + Send + 'static {
    move |tx| {
        let mut reads = Vec::new();
        for op in &txn.ops {
            match op {
                Op::Put(k, v) => tx.put(k, v)?,
                Op::Delete(k) => tx.delete(k)?,
                Op::Get(k) => reads.push(Read::Get(tx.get(k)?)),
                Op::Range(s, e, r, l) => {
                    reads.push(Read::Range(tx.range(s.get(), e.get(), *r, *l)?))
                }
            }
        }
        if txn.commit {
            Ok(reads)
        } else {
            Err(TxnErr::Abort(reads))
        }
    }
}

fn check_snapshot(db: &Db, model: &BTreeMap<Vec<u8>, Vec<u8>>) -> Result<(), TestCaseError> {
    let snap = db
        .snapshot()
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    let all = snap
        .range(Bound::Unbounded, Bound::Unbounded, false, 1000)
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    let want: Vec<Entry> = model.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    prop_assert_eq!(all, want);
    Ok(())
}

/// Each transaction on its own: one job per batch.
fn run_serial(db: &Db, case: &[Txn]) -> Result<(), TestCaseError> {
    let mut model = BTreeMap::new();
    for txn in case {
        let mut pending = model.clone();
        let want = model_apply(&mut pending, &txn.ops);
        let got = db.write_blocking(txn_closure(txn.clone()));
        if txn.commit {
            prop_assert_eq!(got, Ok(want));
            model = pending;
        } else {
            prop_assert_eq!(got, Err(TxnErr::Abort(want)));
        }
        check_snapshot(db, &model)?;
    }
    Ok(())
}

/// All transactions of the case in one group-commit batch, in order: later jobs read
/// through the earlier jobs' writes (the batch layer), aborted jobs leave no trace.
fn run_batched(db: &Db, case: &[Txn]) -> Result<(), TestCaseError> {
    let (started_tx, started_rx) = mpsc::sync_channel::<()>(1);
    let (release_tx, release_rx) = mpsc::sync_channel::<()>(1);
    let blocker = {
        let db = db.clone();
        std::thread::spawn(move || {
            db.write_blocking(move |_tx| {
                let _ = started_tx.try_send(());
                let _ = release_rx.recv_timeout(Duration::from_secs(10));
                Ok::<_, StoreError>(())
            })
        })
    };
    started_rx
        .recv_timeout(Duration::from_secs(10))
        .map_err(|_| TestCaseError::fail("blocker did not start"))?;
    let mut threads = Vec::new();
    for (i, txn) in case.iter().enumerate() {
        let db2 = db.clone();
        let f = txn_closure(txn.clone());
        threads.push(std::thread::spawn(move || db2.write_blocking(f)));
        // Queue the jobs one at a time so that they run in the case's order.
        let deadline = Instant::now() + Duration::from_secs(10);
        while (db.stats().queued as usize) < i + 1 {
            prop_assert!(Instant::now() < deadline, "job {} never queued", i);
            std::thread::sleep(Duration::from_micros(50));
        }
    }
    let _ = release_tx.send(());
    prop_assert!(blocker.join().is_ok_and(|r| r.is_ok()));
    let mut model = BTreeMap::new();
    for (txn, thread) in case.iter().zip(threads) {
        let got = thread
            .join()
            .map_err(|_| TestCaseError::fail("writer thread panicked"))?;
        let mut pending = model.clone();
        let want = model_apply(&mut pending, &txn.ops);
        if txn.commit {
            prop_assert_eq!(got, Ok(want));
            model = pending;
        } else {
            prop_assert_eq!(got, Err(TxnErr::Abort(want)));
        }
    }
    check_snapshot(db, &model)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn model_memory_serial(case in txns()) {
        run_serial(&Db::in_memory(), &case)?;
    }

    #[test]
    fn model_memory_batched(case in txns()) {
        let db = Db::in_memory();
        run_batched(&db, &case)?;
        prop_assert!(db.stats().max_batch_jobs as usize >= case.len());
    }
}

proptest! {
    // Disk engines cost a file and a thread per case: fewer cases.
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn model_redb_serial(case in txns()) {
        let dir = tempfile::tempdir().expect("tempdir");
        run_serial(&open_in(dir.path(), EngineKind::Redb, Durability::Relaxed), &case)?;
    }

    #[test]
    fn model_redb_batched(case in txns()) {
        let dir = tempfile::tempdir().expect("tempdir");
        run_batched(&open_in(dir.path(), EngineKind::Redb, Durability::Fsync), &case)?;
    }
}

#[cfg(feature = "fjall")]
proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn model_fjall_serial(case in txns()) {
        let dir = tempfile::tempdir().expect("tempdir");
        run_serial(&open_in(dir.path(), EngineKind::Fjall, Durability::Relaxed), &case)?;
    }

    #[test]
    fn model_fjall_batched(case in txns()) {
        let dir = tempfile::tempdir().expect("tempdir");
        run_batched(&open_in(dir.path(), EngineKind::Fjall, Durability::Fsync), &case)?;
    }
}
