use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use nimbus_core::{ManualClock, SharedClock};
use nimbus_store::Db;
use parking_lot::Mutex;

use super::*;

fn put(db: &Db, topic: &'static [u8], at_ms: i64, payload: &'static [u8]) -> u64 {
    db.write_blocking(move |txn| append(txn, topic, at_ms, payload))
        .unwrap()
}

#[test]
fn sequence_numbers_increase_per_topic_and_reads_are_ordered() {
    let db = Db::in_memory();
    assert_eq!(put(&db, b"a", 10, b"a1"), 1);
    assert_eq!(put(&db, b"b", 10, b"b1"), 1);
    assert_eq!(put(&db, b"a", 11, b"a2"), 2);
    assert_eq!(put(&db, b"a", 12, b"a3"), 3);
    let snap = db.snapshot().unwrap();
    let recs = read(snap.as_ref(), b"a", 1, 100, usize::MAX).unwrap();
    let payloads: Vec<&[u8]> = recs.iter().map(|r| r.payload.as_slice()).collect();
    assert_eq!(payloads, vec![&b"a1"[..], b"a2", b"a3"]);
    assert_eq!(
        recs.iter().map(|r| r.seq).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    let b = bounds(snap.as_ref(), b"a").unwrap().unwrap();
    assert_eq!((b.first_seq, b.next_seq, b.last_seq()), (1, 4, Some(3)));
    assert_eq!(
        read(snap.as_ref(), b"a", 2, 1, usize::MAX).unwrap()[0].seq,
        2
    );
    assert!(bounds(snap.as_ref(), b"zz").unwrap().is_none());
    // Topic names that are prefixes of each other stay apart.
    drop(snap);
    put(&db, b"a\0x", 1, b"nul");
    let snap = db.snapshot().unwrap();
    assert_eq!(
        read(snap.as_ref(), b"a", 1, 100, usize::MAX).unwrap().len(),
        3
    );
    assert_eq!(
        read(snap.as_ref(), b"a\0x", 1, 100, usize::MAX)
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn rolled_back_appends_leave_nothing() {
    let db = Db::in_memory();
    put(&db, b"t", 1, b"one");
    let r: Result<(), BusError> = db.write_blocking(|txn| {
        append(txn, b"t", 2, b"lost")?;
        Err(BusError::Invalid("abort".into()))
    });
    assert!(r.is_err());
    assert_eq!(put(&db, b"t", 3, b"two"), 2);
    let snap = db.snapshot().unwrap();
    let recs = read(snap.as_ref(), b"t", 0, 10, usize::MAX).unwrap();
    assert_eq!(recs.len(), 2);
    assert_eq!(recs[1].payload, b"two");
}

#[test]
fn max_bytes_bounds_a_read_but_never_below_one_record() {
    let db = Db::in_memory();
    for _ in 0..5 {
        put(&db, b"t", 1, b"0123456789");
    }
    let snap = db.snapshot().unwrap();
    assert_eq!(read(snap.as_ref(), b"t", 1, 100, 25).unwrap().len(), 2);
    assert_eq!(read(snap.as_ref(), b"t", 1, 100, 1).unwrap().len(), 1);
    assert_eq!(read(snap.as_ref(), b"t", 1, 0, 100).unwrap().len(), 0);
    assert!(read(snap.as_ref(), b"t", 6, 10, 100).unwrap().is_empty());
}

#[test]
fn time_never_goes_backwards_and_seek_finds_the_first_at_or_after() {
    let db = Db::in_memory();
    put(&db, b"t", 100, b"1");
    put(&db, b"t", 90, b"2"); // stamped 100
    put(&db, b"t", 200, b"3");
    put(&db, b"t", 300, b"4");
    let snap = db.snapshot().unwrap();
    let recs = read(snap.as_ref(), b"t", 1, 10, usize::MAX).unwrap();
    assert_eq!(
        recs.iter().map(|r| r.at_ms).collect::<Vec<_>>(),
        vec![100, 100, 200, 300]
    );
    assert_eq!(seek_time(snap.as_ref(), b"t", 0).unwrap(), Some(1));
    assert_eq!(seek_time(snap.as_ref(), b"t", 101).unwrap(), Some(3));
    assert_eq!(seek_time(snap.as_ref(), b"t", 300).unwrap(), Some(4));
    assert_eq!(seek_time(snap.as_ref(), b"t", 301).unwrap(), Some(5));
    assert_eq!(seek_time(snap.as_ref(), b"none", 1).unwrap(), None);
}

#[test]
fn trims_remove_from_the_front_and_keep_numbering() {
    let db = Db::in_memory();
    for i in 0..10 {
        db.write_blocking(move |txn| append(txn, b"t", i * 10, b"x"))
            .unwrap();
    }
    // By age: records at 0, 10, 20 go.
    let n = db
        .write_blocking(|txn| trim_older_than(txn, b"t", 25, 100))
        .unwrap();
    assert_eq!(n, 3);
    // Bounded: at most 2 per call.
    let n = db
        .write_blocking(|txn| trim_before_seq(txn, b"t", 8, 2))
        .unwrap();
    assert_eq!(n, 2);
    let snap = db.snapshot().unwrap();
    let b = bounds(snap.as_ref(), b"t").unwrap().unwrap();
    assert_eq!((b.first_seq, b.next_seq), (6, 11));
    assert!(get(snap.as_ref(), b"t", 5).unwrap().is_none());
    assert_eq!(get(snap.as_ref(), b"t", 6).unwrap().unwrap().at_ms, 50);
    drop(snap);
    assert_eq!(put(&db, b"t", 1_000, b"y"), 11);
    // Delete in bounded steps.
    assert!(!db.write_blocking(|txn| delete_topic(txn, b"t", 4)).unwrap());
    let snap = db.snapshot().unwrap();
    assert_eq!(bounds(snap.as_ref(), b"t").unwrap().unwrap().first_seq, 10);
    drop(snap);
    assert!(db.write_blocking(|txn| delete_topic(txn, b"t", 4)).unwrap());
    let snap = db.snapshot().unwrap();
    assert!(bounds(snap.as_ref(), b"t").unwrap().is_none());
    assert!(read(snap.as_ref(), b"t", 0, 100, usize::MAX)
        .unwrap()
        .is_empty());
}

#[test]
fn topics_list_by_prefix() {
    let db = Db::in_memory();
    for t in [&b"ddb/x/1"[..], b"ddb/x/2", b"ddb/y/1", b"other"] {
        db.write_blocking(move |txn| append(txn, t, 1, b"p"))
            .unwrap();
    }
    let snap = db.snapshot().unwrap();
    let all = list_topics(snap.as_ref(), b"ddb/", None, 100).unwrap();
    assert_eq!(
        all,
        vec![
            b"ddb/x/1".to_vec(),
            b"ddb/x/2".to_vec(),
            b"ddb/y/1".to_vec()
        ]
    );
    let after = list_topics(snap.as_ref(), b"ddb/", Some(b"ddb/x/1"), 1).unwrap();
    assert_eq!(after, vec![b"ddb/x/2".to_vec()]);
    assert_eq!(list_topics(snap.as_ref(), b"", None, 100).unwrap().len(), 4);
}

#[test]
fn names_and_payloads_are_checked() {
    let db = Db::in_memory();
    let e = db
        .write_blocking(|txn| append(txn, b"", 1, b"x"))
        .unwrap_err();
    assert!(matches!(e, BusError::Invalid(_)));
    let big = vec![0u8; MAX_PAYLOAD_BYTES + 1];
    let e = db
        .write_blocking(move |txn| append(txn, b"t", 1, &big))
        .unwrap_err();
    assert!(matches!(e, BusError::Invalid(_)));
}

// ------------------------------------------------------------------ dispatcher

type Seen = Arc<Mutex<Vec<(Vec<u8>, u64, Vec<u8>)>>>;

fn recording_consumer(name: &str, topics: Vec<&'static [u8]>, seen: Seen) -> Consumer {
    Consumer::new(
        name,
        move || topics.iter().map(|t| t.to_vec()).collect(),
        move |recs: Vec<Record>| {
            let seen = seen.clone();
            async move {
                let mut s = seen.lock();
                for r in recs {
                    s.push((r.topic, r.seq, r.payload));
                }
                Ok(())
            }
        },
    )
}

fn fast_config() -> BusConfig {
    BusConfig {
        batch_max_records: 3,
        poll_interval_ms: 20,
        backoff_initial_ms: 100,
        backoff_max_ms: 400,
        ..BusConfig::default()
    }
}

async fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    for _ in 0..500 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test]
async fn delivers_in_order_per_topic_in_bounded_batches_and_resumes_from_the_cursor() {
    let db = Db::in_memory();
    let clock: SharedClock = Arc::new(ManualClock::new(1_000));
    for i in 0..7u8 {
        db.write(move |txn| append(txn, b"t1", 1_000, &[i]))
            .await
            .unwrap();
    }
    db.write(|txn| append(txn, b"t2", 1_000, b"x"))
        .await
        .unwrap();
    let seen: Seen = Arc::default();
    let bus = Bus::with_config(db.clone(), clock.clone(), fast_config());
    bus.register(recording_consumer("c", vec![b"t1", b"t2"], seen.clone()))
        .unwrap();
    assert!(matches!(
        bus.register(recording_consumer("c", vec![], seen.clone())),
        Err(BusError::DuplicateConsumer(_))
    ));
    bus.start().unwrap();
    wait_until("8 records", || seen.lock().len() == 8).await;
    let t1: Vec<u64> = seen
        .lock()
        .iter()
        .filter(|(t, _, _)| t == b"t1")
        .map(|(_, s, _)| *s)
        .collect();
    assert_eq!(t1, vec![1, 2, 3, 4, 5, 6, 7]);
    let m = bus.metrics();
    assert_eq!(m["consumers"]["c"]["delivered"], 8);
    // 7 records in batches of at most 3, plus one batch for t2.
    assert_eq!(m["consumers"]["c"]["batches"], 4);
    assert!(bus.shutdown(2_000).await);

    // "Restart": a new bus over the same store delivers only what came after.
    db.write(|txn| append(txn, b"t1", 1_000, b"new"))
        .await
        .unwrap();
    let seen2: Seen = Arc::default();
    let bus2 = Bus::with_config(db.clone(), clock, fast_config());
    bus2.register(recording_consumer("c", vec![b"t1", b"t2"], seen2.clone()))
        .unwrap();
    bus2.start().unwrap();
    bus2.notify();
    wait_until("the new record", || !seen2.lock().is_empty()).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        seen2.lock().clone(),
        vec![(b"t1".to_vec(), 8, b"new".to_vec())]
    );
    let snap = db.snapshot().unwrap();
    assert_eq!(cursor(snap.as_ref(), b"c", b"t1").unwrap(), Some(9));
    assert_eq!(cursor(snap.as_ref(), b"c", b"t2").unwrap(), Some(2));
    drop(snap);
    assert!(bus2.shutdown(2_000).await);
}

#[tokio::test]
async fn failures_are_retried_with_backoff_on_the_clock_and_other_topics_keep_flowing() {
    let db = Db::in_memory();
    let manual = Arc::new(ManualClock::new(10_000));
    let clock: SharedClock = manual.clone();
    db.write(|txn| append(txn, b"bad", 10_000, b"b1"))
        .await
        .unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let good_seen: Seen = Arc::default();
    let fail_until = 3; // the first 3 attempts on "bad" fail
    let bus = Bus::with_config(db.clone(), clock, fast_config());
    {
        let calls = calls.clone();
        let good_seen = good_seen.clone();
        bus.register(Consumer::new(
            "flaky",
            || vec![b"bad".to_vec(), b"good".to_vec()],
            move |recs: Vec<Record>| {
                let calls = calls.clone();
                let good_seen = good_seen.clone();
                async move {
                    if recs[0].topic == b"bad" {
                        let n = calls.fetch_add(1, Ordering::SeqCst) + 1;
                        if n <= fail_until {
                            return Err(format!("attempt {n} failed"));
                        }
                    } else {
                        good_seen
                            .lock()
                            .extend(recs.into_iter().map(|r| (r.topic, r.seq, r.payload)));
                    }
                    Ok(())
                }
            },
        ))
        .unwrap();
    }
    bus.start().unwrap();
    wait_until("first failure", || calls.load(Ordering::SeqCst) == 1).await;
    // The clock has not moved: no retry however long we wait in real time.
    db.write(|txn| append(txn, b"good", 10_000, b"g1"))
        .await
        .unwrap();
    bus.notify();
    wait_until("good topic delivered", || good_seen.lock().len() == 1).await;
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    // Backoff 100 ms, then 200 ms: moving the clock by 99 is not enough.
    manual.advance_millis(99);
    bus.notify();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    manual.advance_millis(1);
    wait_until("second attempt", || calls.load(Ordering::SeqCst) == 2).await;
    manual.advance_millis(150);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(calls.load(Ordering::SeqCst), 2, "second backoff is 200 ms");
    manual.advance_millis(50);
    wait_until("third attempt", || calls.load(Ordering::SeqCst) == 3).await;
    manual.advance_millis(10_000);
    wait_until("fourth attempt succeeds", || {
        calls.load(Ordering::SeqCst) == 4
    })
    .await;
    wait_until("cursor moved", || {
        let snap = db.snapshot().unwrap();
        cursor(snap.as_ref(), b"flaky", b"bad").unwrap() == Some(2)
    })
    .await;
    let m = bus.metrics();
    assert_eq!(m["consumers"]["flaky"]["failures"], 3);
    assert_eq!(m["consumers"]["flaky"]["retries"], 3);
    assert_eq!(m["consumers"]["flaky"]["last_error"], "attempt 3 failed");
    assert!(bus.shutdown(2_000).await);
}

#[test]
fn backoff_doubles_and_is_capped() {
    let c = fast_config();
    let v: Vec<i64> = (1..=5).map(|a| backoff(&c, a)).collect();
    assert_eq!(v, vec![100, 200, 400, 400, 400]);
    assert_eq!(backoff(&c, u32::MAX), 400);
}

fn backoff(c: &BusConfig, attempt: u32) -> i64 {
    dispatcher::backoff_ms_for_tests(c, attempt)
}

#[tokio::test]
async fn dynamic_topics_and_latest_start() {
    let db = Db::in_memory();
    let clock: SharedClock = Arc::new(ManualClock::new(0));
    db.write(|txn| append(txn, b"old", 0, b"before"))
        .await
        .unwrap();
    let topics: Arc<Mutex<Vec<Vec<u8>>>> = Arc::new(Mutex::new(vec![b"old".to_vec()]));
    let seen: Seen = Arc::default();
    let bus = Bus::with_config(db.clone(), clock, fast_config());
    {
        let topics = topics.clone();
        let seen = seen.clone();
        bus.register(
            Consumer::new(
                "latest",
                move || topics.lock().clone(),
                move |recs: Vec<Record>| {
                    let seen = seen.clone();
                    async move {
                        seen.lock()
                            .extend(recs.into_iter().map(|r| (r.topic, r.seq, r.payload)));
                        Ok(())
                    }
                },
            )
            .starting_at(StartPosition::Latest),
        )
        .unwrap();
    }
    bus.start().unwrap();
    wait_until("latest cursor saved", || {
        let snap = db.snapshot().unwrap();
        cursor(snap.as_ref(), b"latest", b"old").unwrap() == Some(2)
    })
    .await;
    db.write(|txn| append(txn, b"old", 0, b"after"))
        .await
        .unwrap();
    db.write(|txn| append(txn, b"new", 0, b"n1")).await.unwrap();
    topics.lock().push(b"new".to_vec());
    bus.notify();
    wait_until("after", || {
        seen.lock().iter().any(|(_, _, p)| p == b"after")
    })
    .await;
    assert!(!seen.lock().iter().any(|(_, _, p)| p == b"before"));
    assert!(bus.shutdown(2_000).await);
}
