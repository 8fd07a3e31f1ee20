//! storebench: nimbus-store's engines on DynamoDB-shaped work, on this machine.
//!
//! `storebench` runs every engine, each in its own child process (so that memory readings
//! are the engine's own), and prints one table. `storebench --engine redb` runs one.
//! Options: `--seconds N` per timed phase (default 4), `--dir PATH` where the stores go
//! (default: a temporary directory under $TMPDIR). For profiling: `--only a|b` runs one write
//! phase, `--keep` keeps the store, `--open-rss DIR` opens a kept store and reports its RSS.
//!
//! Phases per engine:
//! (a) 128 concurrent writers, each transaction = read the old item, put a ~1 KB item and
//!     two small index entries; durable (acknowledged = fsynced) group commit;
//! (b) the same with relaxed durability (no fsync);
//! (c) point gets on 100k items, one snapshot per get, two reader threads;
//! (d) range scans of 100 items, one snapshot per scan, two reader threads;
//! and RSS right after opening an empty store and, in a fresh process, after reopening the
//! 100k-item store. "CPU µs/op" is the whole process's CPU time over the operations done.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use nimbus_store::{Db, Durability, EngineKind, StoreConfig, StoreError};

const WRITERS: usize = 128;
const ITEM_BYTES: usize = 1000;
const PRELOAD_ITEMS: u64 = 100_000;
const PRELOAD_PER_TXN: u64 = 500;
const SCAN_LEN: usize = 100;
const READER_THREADS: usize = 2;

struct Args {
    engine: Option<String>,
    seconds: u64,
    dir: Option<PathBuf>,
    /// Only the write phases, durable (`a`) or relaxed (`b`): for profiling the write path.
    only: Option<String>,
    /// Keep the store directory (printed) instead of deleting it.
    keep: bool,
    /// Open the existing store in DIR with `--engine`, print the RSS, close.
    open_rss: Option<PathBuf>,
}

fn parse_args() -> Result<Args> {
    let mut args = Args {
        engine: None,
        seconds: 4,
        dir: None,
        only: None,
        keep: false,
        open_rss: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--engine" => args.engine = Some(it.next().context("--engine NAME")?),
            "--seconds" => args.seconds = it.next().context("--seconds N")?.parse()?,
            "--keep" => args.keep = true,
            "--open-rss" => {
                args.open_rss = Some(PathBuf::from(it.next().context("--open-rss DIR")?))
            }
            "--only" => args.only = Some(it.next().context("--only a|b")?),
            "--dir" => args.dir = Some(PathBuf::from(it.next().context("--dir PATH")?)),
            other => bail!("unknown argument {other:?}"),
        }
    }
    Ok(args)
}

fn main() -> Result<()> {
    let args = parse_args()?;
    match &args.engine {
        Some(engine) if args.open_rss.is_some() => {
            let dir = args.open_rss.clone().unwrap_or_default();
            let before = proc_status_kb("VmRSS:");
            let db = open(engine.parse()?, &dir, Durability::Fsync)?;
            let after = proc_status_kb("VmRSS:");
            let snap = db.snapshot()?;
            let _ = snap.get(&item_key(12345))?;
            drop(snap);
            let threads = std::fs::read_dir("/proc/self/task").map_or(0, |d| d.count());
            let cpu0 = cpu_us();
            std::thread::sleep(Duration::from_secs(2));
            println!(
                "rss before {before} KB, after open {after} KB, after one get {} KB, \
                 {threads} threads, {} µs CPU in 2 s idle",
                proc_status_kb("VmRSS:"),
                cpu_us() - cpu0
            );
            db.close_blocking()?;
            Ok(())
        }
        Some(engine) => run_engine(engine.parse()?, &args),
        None => run_all(&args),
    }
}

/// Runs each engine in a child process and prints the table.
fn run_all(args: &Args) -> Result<()> {
    let exe = std::env::current_exe()?;
    let mut rows = Vec::new();
    for engine in ["memory", "redb", "fjall"] {
        eprintln!("== {engine}");
        let mut cmd = Command::new(&exe);
        cmd.args([
            "--engine",
            engine,
            "--seconds",
            &args.seconds.to_string(),
            "--keep",
        ]);
        if let Some(dir) = &args.dir {
            cmd.arg("--dir").arg(dir);
        }
        let out = cmd.output()?;
        eprint!("{}", String::from_utf8_lossy(&out.stderr));
        if !out.status.success() {
            bail!("{engine} run failed");
        }
        let text = String::from_utf8(out.stdout)?;
        let line = text
            .lines()
            .find(|l| l.starts_with("RESULT "))
            .context("no RESULT line")?;
        let mut fields: BTreeMap<String, String> = line
            .split_whitespace()
            .skip(1)
            .filter_map(|kv| kv.split_once('=').map(|(k, v)| (k.into(), v.into())))
            .collect();
        // Idle RSS of a fresh process opening the store the run left behind.
        if let Some(dir) = fields.get("dir").cloned() {
            if engine != "memory" {
                let out = Command::new(&exe)
                    .args(["--engine", engine, "--open-rss", &dir])
                    .output()?;
                let text = String::from_utf8_lossy(&out.stdout);
                if let Some(kb) = text.split_whitespace().skip_while(|w| *w != "open").nth(1) {
                    fields.insert("rss_reopen_kb".into(), kb.to_string());
                }
            }
            let _ = std::fs::remove_dir_all(&dir);
        }
        rows.push((engine, fields));
    }
    let f = |m: &BTreeMap<String, String>, k: &str| m.get(k).cloned().unwrap_or_default();
    println!(
        "| engine | workload | ops/s | p50 µs | p99 µs | CPU µs/op | notes |\n|---|---|---:|---:|---:|---:|---|"
    );
    for (engine, m) in &rows {
        for (w, label) in [
            ("durable", "(a) put+2 idx, 128 writers, fsync"),
            ("relaxed", "(b) put+2 idx, 128 writers, no fsync"),
            ("get", "(c) point get, 100k items"),
            ("scan", "(d) range scan of 100"),
        ] {
            let notes = match w {
                "durable" | "relaxed" => {
                    format!("{} jobs/commit avg", f(m, &format!("{w}_jobs_per_commit")))
                }
                _ => String::new(),
            };
            println!(
                "| {engine} | {label} | {} | {} | {} | {} | {notes} |",
                f(m, &format!("{w}_ops")),
                f(m, &format!("{w}_p50")),
                f(m, &format!("{w}_p99")),
                f(m, &format!("{w}_cpu")),
            );
        }
    }
    println!("\n| engine | RSS empty store open | RSS reopen 100k items | RSS peak | disk after 100k + writes |\n|---|---:|---:|---:|---:|");
    for (engine, m) in &rows {
        println!(
            "| {engine} | {} KB | {} KB | {} KB | {} MB |",
            f(m, "rss_open_kb"),
            f(m, "rss_reopen_kb"),
            f(m, "rss_peak_kb"),
            f(m, "disk_mb"),
        );
    }
    Ok(())
}

fn proc_status_kb(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// CPU time (user + system) this process has used, in microseconds. Every process on this
/// machine shares two cores with other work, so CPU per operation is the steadier number.
fn cpu_us() -> u64 {
    let ticks_per_s = 100; // USER_HZ on Linux
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            // Fields after the parenthesised command name; utime and stime are 14 and 15.
            let rest = s.rsplit_once(')')?.1;
            let f: Vec<&str> = rest.split_whitespace().collect();
            let utime: u64 = f.get(11)?.parse().ok()?;
            let stime: u64 = f.get(12)?.parse().ok()?;
            Some((utime + stime) * 1_000_000 / ticks_per_s)
        })
        .unwrap_or(0)
}

fn dir_size(path: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(path) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_size(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

/// A fast deterministic mixer: spreads keys the way hashed partition keys spread.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

fn item_key(i: u64) -> Vec<u8> {
    format!("t/{i:08}").into_bytes()
}

/// p50 and p99 in microseconds, from latencies in nanoseconds.
fn percentiles(mut lat_ns: Vec<u64>) -> (f64, f64) {
    if lat_ns.is_empty() {
        return (0.0, 0.0);
    }
    lat_ns.sort_unstable();
    let at = |q: f64| lat_ns[((lat_ns.len() - 1) as f64 * q) as usize] as f64 / 1000.0;
    (at(0.50), at(0.99))
}

fn open(engine: EngineKind, dir: &Path, durability: Durability) -> Result<Db> {
    let cfg = match engine {
        EngineKind::Memory => StoreConfig::memory(),
        _ => StoreConfig::on_disk(engine, dir),
    };
    Ok(Db::open(StoreConfig { durability, ..cfg })?)
}

fn run_engine(engine: EngineKind, args: &Args) -> Result<()> {
    let tmp = match &args.dir {
        Some(d) => tempfile::tempdir_in(d)?,
        None => tempfile::tempdir()?,
    };
    let dir = if args.keep {
        tmp.keep()
    } else {
        tmp.path().to_path_buf()
    };
    eprintln!("store directory: {}", dir.display());
    let phase = Duration::from_secs(args.seconds);
    let mut out: Vec<(String, String)> = Vec::new();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;

    let db = open(engine, &dir, Durability::Fsync)?;
    out.push(("rss_open_kb".into(), proc_status_kb("VmRSS:").to_string()));
    if args.only.as_deref() == Some("b") {
        drop(db);
        let db = open(engine, &dir, Durability::Relaxed)?;
        let (ops, p50, p99, per_commit, cpu) = rt.block_on(writers(&db, phase))?;
        eprintln!("(b) relaxed: {ops:.0} ops/s p50 {p50:.1} µs p99 {p99:.1} µs, {per_commit:.1} jobs/commit, {cpu:.1} µs CPU/op, RSS now {} KB", proc_status_kb("VmRSS:"));
        return Ok(rt.block_on(db.close())?);
    }

    // (a) durable writers
    let (ops, p50, p99, per_commit, cpu) = rt.block_on(writers(&db, phase))?;
    eprintln!("(a) durable: {ops:.0} ops/s p50 {p50:.1} µs p99 {p99:.1} µs, {per_commit:.1} jobs/commit, {cpu:.1} µs CPU/op, RSS now {} KB", proc_status_kb("VmRSS:"));
    out.extend(kv("durable", ops, p50, p99, per_commit, cpu));
    rt.block_on(db.close())?;
    drop(db);
    if args.only.is_some() {
        return Ok(());
    }

    // (b) relaxed writers (the memory engine starts empty again: it has no files)
    let db = open(engine, &dir, Durability::Relaxed)?;
    let (ops, p50, p99, per_commit, cpu) = rt.block_on(writers(&db, phase))?;
    eprintln!("(b) relaxed: {ops:.0} ops/s p50 {p50:.1} µs p99 {p99:.1} µs, {per_commit:.1} jobs/commit, {cpu:.1} µs CPU/op, RSS now {} KB", proc_status_kb("VmRSS:"));
    out.extend(kv("relaxed", ops, p50, p99, per_commit, cpu));

    // Preload 100k items for the read phases.
    let t = Instant::now();
    let item: Arc<[u8]> = vec![b'x'; ITEM_BYTES].into();
    for chunk in 0..PRELOAD_ITEMS / PRELOAD_PER_TXN {
        let item = item.clone();
        db.write_blocking(move |tx| {
            for i in chunk * PRELOAD_PER_TXN..(chunk + 1) * PRELOAD_PER_TXN {
                tx.put(&item_key(i), &item)?;
            }
            Ok::<_, StoreError>(())
        })?;
    }
    eprintln!(
        "preload: {} items in {:?}, RSS now {} KB",
        PRELOAD_ITEMS,
        t.elapsed(),
        proc_status_kb("VmRSS:")
    );
    rt.block_on(db.close())?;
    drop(db);

    // (c) and (d) on a durable reopen: what nimbus runs in production.
    let db = open(engine, &dir, Durability::Fsync)?;
    if engine == EngineKind::Memory {
        // Nothing survived the close; load again so the readers have data.
        for chunk in 0..PRELOAD_ITEMS / PRELOAD_PER_TXN {
            let item = item.clone();
            db.write_blocking(move |tx| {
                for i in chunk * PRELOAD_PER_TXN..(chunk + 1) * PRELOAD_PER_TXN {
                    tx.put(&item_key(i), &item)?;
                }
                Ok::<_, StoreError>(())
            })?;
        }
    }

    let (ops, p50, p99, cpu) = readers(&db, phase, |snap, rng| {
        let i = rng % PRELOAD_ITEMS;
        let v = snap.get(&item_key(i))?;
        if v.map(|v| v.len()) != Some(ITEM_BYTES) {
            return Err(StoreError::Corrupt(format!("item {i} missing")));
        }
        Ok(())
    })?;
    eprintln!("(c) get: {ops:.0} ops/s p50 {p50:.1} µs p99 {p99:.1} µs, {cpu:.1} µs CPU/op");
    out.extend(kv("get", ops, p50, p99, 0.0, cpu));

    let (ops, p50, p99, cpu) = readers(&db, phase, |snap, rng| {
        let i = rng % (PRELOAD_ITEMS - SCAN_LEN as u64);
        let start = item_key(i);
        let page = snap.range(
            Bound::Included(&start),
            Bound::Excluded(b"t0"),
            rng & 1 == 1,
            SCAN_LEN,
        )?;
        if page.len() != SCAN_LEN && rng & 1 == 0 {
            return Err(StoreError::Corrupt(format!("scan at {i} short")));
        }
        Ok(())
    })?;
    eprintln!("(d) scan: {ops:.0} ops/s p50 {p50:.1} µs p99 {p99:.1} µs, {cpu:.1} µs CPU/op");
    out.extend(kv("scan", ops, p50, p99, 0.0, cpu));
    rt.block_on(db.close())?;
    drop(db);

    out.push(("rss_peak_kb".into(), proc_status_kb("VmHWM:").to_string()));
    out.push((
        "disk_mb".into(),
        format!("{:.1}", dir_size(&dir) as f64 / 1e6),
    ));
    out.push(("dir".into(), dir.display().to_string()));
    let line: Vec<String> = out.iter().map(|(k, v)| format!("{k}={v}")).collect();
    println!("RESULT engine={} {}", engine, line.join(" "));
    Ok(())
}

fn kv(
    prefix: &str,
    ops: f64,
    p50: f64,
    p99: f64,
    per_commit: f64,
    cpu: f64,
) -> Vec<(String, String)> {
    vec![
        (format!("{prefix}_cpu"), format!("{cpu:.1}")),
        (format!("{prefix}_ops"), format!("{ops:.0}")),
        (format!("{prefix}_p50"), format!("{p50:.1}")),
        (format!("{prefix}_p99"), format!("{p99:.1}")),
        (
            format!("{prefix}_jobs_per_commit"),
            format!("{per_commit:.1}"),
        ),
    ]
}

/// WRITERS tasks, each writing DynamoDB-shaped transactions back to back for `phase`.
async fn writers(db: &Db, phase: Duration) -> Result<(f64, f64, f64, f64, f64)> {
    let before = db.stats();
    let cpu0 = cpu_us();
    let item: Arc<[u8]> = vec![b'i'; ITEM_BYTES].into();
    let start = Instant::now();
    let deadline = start + phase;
    let mut tasks = Vec::new();
    for w in 0..WRITERS as u64 {
        let db = db.clone();
        let item = item.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut n: u64 = 0;
            while Instant::now() < deadline {
                let pk = mix((w << 40) | n);
                n += 1;
                let item = item.clone();
                let t = Instant::now();
                db.write(move |tx| {
                    let key = [b"w/".as_slice(), &pk.to_be_bytes()].concat();
                    // PutItem reads the old item to maintain its index entries.
                    if let Some(old) = tx.get(&key)? {
                        tx.delete(&[b"g1/".as_slice(), old.get(..8).unwrap_or_default()].concat())?;
                    }
                    tx.put(&key, &item)?;
                    tx.put(
                        &[b"g1/".as_slice(), &(pk % 997).to_be_bytes(), &key].concat(),
                        b"",
                    )?;
                    tx.put(
                        &[b"g2/".as_slice(), &(pk >> 3).to_be_bytes(), &key].concat(),
                        b"",
                    )?;
                    Ok::<_, StoreError>(())
                })
                .await?;
                lat.push(t.elapsed().as_nanos().min(u64::MAX as u128) as u64);
            }
            Ok::<_, StoreError>(lat)
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await??);
    }
    let secs = start.elapsed().as_secs_f64();
    let after = db.stats();
    let commits = (after.commits - before.commits).max(1);
    let per_commit = (after.jobs - before.jobs) as f64 / commits as f64;
    let ops = all.len() as f64 / secs;
    let cpu_per_op = (cpu_us() - cpu0) as f64 / all.len().max(1) as f64;
    let (p50, p99) = percentiles(all);
    Ok((ops, p50, p99, per_commit, cpu_per_op))
}

/// READER_THREADS threads calling `op` on a fresh snapshot each time, for `phase`.
fn readers(
    db: &Db,
    phase: Duration,
    op: fn(&dyn nimbus_store::ReadTxn, u64) -> Result<(), StoreError>,
) -> Result<(f64, f64, f64, f64)> {
    let start = Instant::now();
    let cpu0 = cpu_us();
    let deadline = start + phase;
    let threads: Vec<_> = (0..READER_THREADS as u64)
        .map(|t| {
            let db = db.clone();
            std::thread::spawn(move || -> Result<Vec<u64>, StoreError> {
                let mut lat = Vec::new();
                let mut n = 0u64;
                while Instant::now() < deadline {
                    let rng = mix((t << 48) | n);
                    n += 1;
                    let t0 = Instant::now();
                    let snap = db.snapshot()?;
                    op(&*snap, rng)?;
                    drop(snap);
                    lat.push(t0.elapsed().as_nanos().min(u64::MAX as u128) as u64);
                }
                Ok(lat)
            })
        })
        .collect();
    let mut all = Vec::new();
    for t in threads {
        let lat = t.join().map_err(|_| anyhow::anyhow!("reader panicked"))??;
        all.extend(lat);
    }
    let ops = all.len() as f64 / start.elapsed().as_secs_f64();
    let cpu_per_op = (cpu_us() - cpu0) as f64 / all.len().max(1) as f64;
    let (p50, p99) = percentiles(all);
    Ok((ops, p50, p99, cpu_per_op))
}
