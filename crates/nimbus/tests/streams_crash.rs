//! kill -9 while writing to a table with a stream: after a restart the stream holds
//! exactly one record per acknowledged change, in order, and a record for the change
//! in flight at the kill only if that change was applied.
#![allow(clippy::unwrap_used)]

mod support;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::*;

const BIN: &str = env!("CARGO_BIN_EXE_nimbus");

const WRITERS: u32 = 4;
const LOAD_MS: u64 = 1_500;
const MIN_ACKED: usize = 100;

fn call(addr: SocketAddr, target: &str, body: &Value) -> Reply {
    let req = Request::new("POST", "/")
        .header("content-type", "application/x-amz-json-1.0")
        .header("x-amz-target", target)
        .body(body.to_string().as_bytes())
        .sign(addr, "test", "test", "dynamodb", now());
    send(addr, &req)
}

fn ddb(addr: SocketAddr, op: &str, body: Value) -> Value {
    let r = call(addr, &format!("DynamoDB_20120810.{op}"), &body);
    assert_eq!(r.status, 200, "{op}: {}", r.body);
    r.json()
}

fn streams(addr: SocketAddr, op: &str, body: Value) -> Value {
    let r = call(addr, &format!("DynamoDBStreams_20120810.{op}"), &body);
    assert_eq!(r.status, 200, "{op}: {}", r.body);
    r.json()
}

/// Operation `i` of a writer: even = insert item i/2, odd = modify it.
fn op_request(w: u32, i: u64) -> (String, Value) {
    let s = i / 2;
    let key = json!({"w": {"S": format!("w{w}")}, "s": {"N": s.to_string()}});
    if i.is_multiple_of(2) {
        let mut item = key.as_object().unwrap().clone();
        item.insert("v".into(), json!({"N": "0"}));
        (
            "PutItem".into(),
            json!({"TableName": "crash", "Item": item}),
        )
    } else {
        (
            "UpdateItem".into(),
            json!({"TableName": "crash", "Key": key, "UpdateExpression": "SET v = :v",
                   "ExpressionAttributeValues": {":v": {"N": "1"}}}),
        )
    }
}

fn expected_record(i: u64) -> (&'static str, u64) {
    (
        if i.is_multiple_of(2) {
            "INSERT"
        } else {
            "MODIFY"
        },
        i / 2,
    )
}

#[derive(Default)]
struct Progress {
    acked: Vec<u64>,
    in_flight: Option<u64>,
}

#[test]
fn kill_9_keeps_exactly_one_stream_record_per_acknowledged_change() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data").to_str().unwrap().to_string();
    let (mut child, addr) = spawn_on_loopback(BIN, &data);
    ddb(
        addr,
        "CreateTable",
        json!({"TableName": "crash", "BillingMode": "PAY_PER_REQUEST",
               "AttributeDefinitions": [{"AttributeName": "w", "AttributeType": "S"},
                                        {"AttributeName": "s", "AttributeType": "N"}],
               "KeySchema": [{"AttributeName": "w", "KeyType": "HASH"},
                             {"AttributeName": "s", "KeyType": "RANGE"}],
               "StreamSpecification": {"StreamEnabled": true, "StreamViewType": "NEW_AND_OLD_IMAGES"}}),
    );

    // The writers: one operation at a time each; a reply other than 200 is a bug, a
    // broken connection is the kill.
    let progress: Vec<Arc<Mutex<Progress>>> = (0..WRITERS).map(|_| Arc::default()).collect();
    let stop = Arc::new(AtomicBool::new(false));
    let unexpected = Arc::new(Mutex::new(Vec::<String>::new()));
    let quiet = std::panic::take_hook();
    // The writers' client panics when the server dies under it; keep that out of the log.
    std::panic::set_hook(Box::new(|_| {}));
    let threads: Vec<_> = (0..WRITERS)
        .map(|w| {
            let (p, stop, unexpected) = (
                progress[w as usize].clone(),
                stop.clone(),
                unexpected.clone(),
            );
            std::thread::spawn(move || {
                let mut i = 0u64;
                while !stop.load(Ordering::Relaxed) && i < 100_000 {
                    let (op, body) = op_request(w, i);
                    p.lock().unwrap().in_flight = Some(i);
                    let target = format!("DynamoDB_20120810.{op}");
                    let reply = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        call(addr, &target, &body)
                    }));
                    match reply {
                        Ok(r) if r.status == 200 => {
                            let mut g = p.lock().unwrap();
                            g.acked.push(i);
                            g.in_flight = None;
                        }
                        Ok(r) => {
                            unexpected
                                .lock()
                                .unwrap()
                                .push(format!("w{w} op {i}: {} {}", r.status, r.body));
                            return;
                        }
                        Err(_) => return,
                    }
                    i += 1;
                }
            })
        })
        .collect();
    let t0 = Instant::now();
    loop {
        std::thread::sleep(Duration::from_millis(20));
        let acked: usize = progress.iter().map(|p| p.lock().unwrap().acked.len()).sum();
        let elapsed = t0.elapsed().as_millis() as u64;
        if (elapsed >= LOAD_MS && acked >= MIN_ACKED) || elapsed > 20_000 {
            break;
        }
    }
    child.kill().unwrap(); // SIGKILL mid-load
    child.wait().unwrap();
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        let _ = t.join();
    }
    std::panic::set_hook(quiet);
    assert!(
        unexpected.lock().unwrap().is_empty(),
        "{:?}",
        unexpected.lock().unwrap()
    );
    let total_acked: usize = progress.iter().map(|p| p.lock().unwrap().acked.len()).sum();
    assert!(
        total_acked >= MIN_ACKED,
        "only {total_acked} writes acknowledged"
    );

    // Restart and read the whole stream.
    let (mut child, addr) = spawn_on_loopback(BIN, &data);
    let arn = ddb(addr, "DescribeTable", json!({"TableName": "crash"}))["Table"]["LatestStreamArn"]
        .as_str()
        .unwrap()
        .to_string();
    let desc = streams(addr, "DescribeStream", json!({"StreamArn": arn}));
    let shards = desc["StreamDescription"]["Shards"]
        .as_array()
        .unwrap()
        .clone();
    let mut records = Vec::new();
    for shard in &shards {
        let mut it = streams(
            addr,
            "GetShardIterator",
            json!({"StreamArn": arn, "ShardId": shard["ShardId"], "ShardIteratorType": "TRIM_HORIZON"}),
        )["ShardIterator"]
            .clone();
        for _ in 0..10_000 {
            let page = streams(addr, "GetRecords", json!({"ShardIterator": it}));
            let recs = page["Records"].as_array().unwrap().clone();
            let done = recs.is_empty();
            records.extend(recs);
            match page.get("NextShardIterator") {
                Some(next) if !done => it = next.clone(),
                _ => break,
            }
        }
    }
    // Sequence numbers strictly increase.
    let seqs: Vec<u128> = records
        .iter()
        .map(|r| {
            r["dynamodb"]["SequenceNumber"]
                .as_str()
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect();
    assert!(seqs.windows(2).all(|p| p[0] < p[1]), "{seqs:?}");

    for w in 0..WRITERS {
        let p = progress[w as usize].lock().unwrap();
        let wname = format!("w{w}");
        let got: Vec<(String, u64)> = records
            .iter()
            .filter(|r| r["dynamodb"]["Keys"]["w"]["S"] == wname.as_str())
            .map(|r| {
                (
                    r["eventName"].as_str().unwrap().to_string(),
                    r["dynamodb"]["Keys"]["s"]["N"]
                        .as_str()
                        .unwrap()
                        .parse()
                        .unwrap(),
                )
            })
            .collect();
        let want: Vec<(String, u64)> = p
            .acked
            .iter()
            .map(|&i| {
                let (e, s) = expected_record(i);
                (e.to_string(), s)
            })
            .collect();
        assert!(
            got.len() >= want.len(),
            "w{w}: lost records: {} < {}",
            got.len(),
            want.len()
        );
        assert_eq!(
            &got[..want.len()],
            &want[..],
            "w{w}: acknowledged changes in order"
        );
        let extra = &got[want.len()..];
        // The change in flight at the kill: a record only if it was applied.
        let item = ddb(
            addr,
            "GetItem",
            json!({"TableName": "crash", "ConsistentRead": true,
                   "Key": {"w": {"S": wname}, "s": {"N": p.in_flight.map_or(u64::MAX / 4, |i| i / 2).to_string()}}}),
        );
        match p.in_flight {
            None => assert!(extra.is_empty(), "w{w}: {extra:?}"),
            Some(i) => {
                let applied = if i.is_multiple_of(2) {
                    item.get("Item").is_some()
                } else {
                    item["Item"]["v"]["N"] == "1"
                };
                if applied {
                    let (e, s) = expected_record(i);
                    assert_eq!(
                        extra,
                        &[(e.to_string(), s)][..],
                        "w{w}: applied in-flight change"
                    );
                } else {
                    assert!(
                        extra.is_empty(),
                        "w{w}: record for an unapplied change: {extra:?}"
                    );
                }
            }
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
}
