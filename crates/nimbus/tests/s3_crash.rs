//! kill -9 in the middle of S3 uploads: after a restart every acknowledged object is
//! intact, the object whose upload was cut off is not visible at all, and the blob
//! store's tmp/ holds no leftovers.
#![allow(clippy::unwrap_used)]

mod support;

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use support::*;

const BIN: &str = env!("CARGO_BIN_EXE_nimbus");

const BUCKET: &str = "crash-bucket";
const OBJECTS: usize = 40;
/// The upload cut off by the kill: declared this long, only part of it is sent.
const BIG_BYTES: usize = 16 * 1024 * 1024;
const BIG_SENT_BYTES: usize = 4 * 1024 * 1024;

fn s3(addr: SocketAddr, method: &str, path: &str, body: &[u8]) -> Reply {
    let req = Request::new(method, path)
        .header("x-amz-content-sha256", "UNSIGNED-PAYLOAD")
        .body(body)
        .sign(addr, "test", "test", "s3", now());
    send(addr, &req)
}

/// Printable content (the test client reads bodies as text) unique to object `i`.
fn content(i: usize) -> Vec<u8> {
    // Alternate small (inline in the store) and large (blob file) bodies.
    let len = if i.is_multiple_of(2) {
        1_000 + i
    } else {
        150_000 + i * 1_000
    };
    let seed = format!("object-{i}:");
    seed.bytes().cycle().take(len).collect()
}

/// Every `tmp` directory under the data dir that sits next to a `data` directory (the
/// blob store's layout).
fn blob_tmp_dirs(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                if p.file_name().is_some_and(|n| n == "tmp") && d.join("data").is_dir() {
                    out.push(p.clone());
                }
                stack.push(p);
            }
        }
    }
    out
}

fn tmp_files(root: &Path) -> usize {
    blob_tmp_dirs(root)
        .iter()
        .map(|d| std::fs::read_dir(d).map(|r| r.count()).unwrap_or(0))
        .sum()
}

#[test]
fn kill_9_mid_upload_leaves_acknowledged_objects_intact_and_no_partial_object() {
    let dir = tempfile::tempdir().unwrap();
    let data_path = dir.path().join("data");
    let data = data_path.to_str().unwrap().to_string();
    let (mut child, addr) = spawn_on_loopback(BIN, &data);

    let r = s3(addr, "PUT", &format!("/{BUCKET}"), b"");
    assert_eq!(r.status, 200, "CreateBucket: {}", r.body);
    for i in 0..OBJECTS {
        let r = s3(addr, "PUT", &format!("/{BUCKET}/obj-{i}"), &content(i));
        assert_eq!(r.status, 200, "PutObject {i}: {}", r.body);
    }
    // An overwrite: the acknowledged second body must win.
    let r = s3(addr, "PUT", &format!("/{BUCKET}/obj-0"), &content(1000));
    assert_eq!(r.status, 200, "overwrite: {}", r.body);

    // The upload that the kill cuts off: headers for BIG_BYTES, then part of the body.
    let big_req = Request::new("PUT", &format!("/{BUCKET}/big"))
        .header("x-amz-content-sha256", "UNSIGNED-PAYLOAD")
        .sign(addr, "test", "test", "s3", now());
    let mut head = format!("PUT {} HTTP/1.1\r\nhost: {addr}\r\n", big_req.path).into_bytes();
    for (k, v) in &big_req.headers {
        head.extend_from_slice(format!("{k}: {v}\r\n").as_bytes());
    }
    head.extend_from_slice(format!("content-length: {BIG_BYTES}\r\n\r\n").as_bytes());
    let mut conn = connect(addr);
    conn.write_all(&head).unwrap();
    let chunk = vec![b'z'; 64 * 1024];
    let mut sent = 0;
    while sent < BIG_SENT_BYTES {
        conn.write_all(&chunk).unwrap();
        sent += chunk.len();
    }
    conn.flush().unwrap();
    // Wait until the partial body is on disk in tmp/, so that recovery has work to do.
    let deadline = Instant::now() + Duration::from_secs(20);
    while tmp_files(&data_path) == 0 {
        assert!(
            Instant::now() < deadline,
            "the cut-off upload never reached tmp/ (blob dirs: {:?})",
            blob_tmp_dirs(&data_path)
        );
        std::thread::sleep(Duration::from_millis(20));
    }

    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    drop(conn);
    assert!(
        tmp_files(&data_path) > 0,
        "the kill left no tmp file to recover"
    );

    let (mut child, addr) = spawn_on_loopback(BIN, &data);
    // S3 (and its recovery) starts with the first S3 request.
    let r = s3(addr, "HEAD", &format!("/{BUCKET}"), b"");
    assert_eq!(r.status, 200);
    assert_eq!(tmp_files(&data_path), 0, "startup recovery must clean tmp/");
    for i in 0..OBJECTS {
        let r = s3(addr, "GET", &format!("/{BUCKET}/obj-{i}"), b"");
        assert_eq!(r.status, 200, "GetObject {i} after restart: {}", r.body);
        let want = if i == 0 { content(1000) } else { content(i) };
        assert_eq!(r.body.len(), want.len(), "object {i} length");
        assert!(
            r.body.as_bytes() == want.as_slice(),
            "object {i} content differs"
        );
    }
    let r = s3(addr, "GET", &format!("/{BUCKET}/big"), b"");
    assert_eq!(
        r.status, 404,
        "the cut-off upload must not be visible: {}",
        r.status
    );
    assert!(r.body.contains("NoSuchKey"), "{}", r.body);

    // The store still works after recovery.
    let r = s3(addr, "PUT", &format!("/{BUCKET}/after"), &content(7));
    assert_eq!(r.status, 200, "{}", r.body);
    let r = s3(addr, "GET", &format!("/{BUCKET}/after"), b"");
    assert_eq!(r.body.as_bytes(), content(7).as_slice());

    child.kill().unwrap();
    child.wait().unwrap();
}
