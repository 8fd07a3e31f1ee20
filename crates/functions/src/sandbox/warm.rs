//! Warm helpers: a few `nimbus __sandbox` processes prepared ahead of any function —
//! namespaces created, `lo` up, the Runtime API port bound, stage 2 exec'd as the pid
//! namespace's init and already moved into a fresh cgroup — each waiting for its spec.
//! This takes the slow, function-independent steps off the cold start: moving a
//! process into a v1 memory cgroup alone waits for an RCU grace period (~10 ms here).
//!
//! `launch` takes a warm helper when one is ready (else starts one cold) and then
//! tops the pool up in the background. `NIMBUS_SANDBOX_WARM=<n>` sets the pool size
//! (default 2, 0 disables, at most 16). Warm helpers exit by themselves, removing
//! their cgroups, when nimbus exits (EOF on their control socket).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use parking_lot::Mutex;

use super::{spawn_helper, Spawned};

const DEFAULT_WARM: usize = 2;
const MAX_WARM: usize = 16;
/// A helper that is not prepared by then is discarded.
const WARM_TIMEOUT: Duration = Duration::from_secs(10);
/// The `warm` report is one short line.
const MAX_WARM_LINE: usize = 4096;

#[derive(Default)]
struct Pool {
    exe: Option<PathBuf>,
    ready: Vec<Spawned>,
    pending: usize,
    /// Bumped by `drain_warm`: helpers prepared for an older generation are discarded.
    generation: u64,
}

fn pool() -> &'static Mutex<Pool> {
    static POOL: OnceLock<Mutex<Pool>> = OnceLock::new();
    POOL.get_or_init(|| Mutex::new(Pool::default()))
}

fn target() -> usize {
    std::env::var("NIMBUS_SANDBOX_WARM")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(DEFAULT_WARM)
        .min(MAX_WARM)
}

/// A prepared helper for `exe`, if one is ready and still alive.
pub(crate) fn take(exe: &Path) -> Option<Spawned> {
    let mut p = pool().lock();
    if p.exe.as_deref() != Some(exe) {
        return None;
    }
    while let Some(mut s) = p.ready.pop() {
        if s.is_alive() {
            return Some(s);
        }
        s.discard();
    }
    None
}

/// Starts helpers in the background until `NIMBUS_SANDBOX_WARM` are ready or being
/// prepared. Needs a tokio runtime. The engine calls it at startup so that the first
/// cold start is fast too; `launch` calls it after taking one.
pub fn prewarm(helper_exe: &Path) {
    refill(helper_exe);
}

/// Warm helpers ready now.
pub fn warm_count() -> usize {
    pool().lock().ready.len()
}

/// Kills the warm helpers (shutdown, tests).
pub fn drain_warm() {
    let ready = {
        let mut p = pool().lock();
        p.generation += 1;
        std::mem::take(&mut p.ready)
    };
    for s in ready {
        s.discard();
    }
}

pub(crate) fn refill(exe: &Path) {
    let want = target();
    let (missing, generation) = {
        let mut p = pool().lock();
        if p.exe.as_deref() != Some(exe) {
            // Another executable (tests may use several): start over for this one.
            for s in std::mem::take(&mut p.ready) {
                s.discard();
            }
            p.exe = Some(exe.to_path_buf());
            p.generation += 1;
        }
        let have = p.ready.len() + p.pending;
        let missing = want.saturating_sub(have);
        p.pending += missing;
        (missing, p.generation)
    };
    for _ in 0..missing {
        let exe = exe.to_path_buf();
        tokio::spawn(async move {
            let prepared = prepare(exe.clone()).await;
            let mut p = pool().lock();
            p.pending = p.pending.saturating_sub(1);
            if let Some(s) = prepared {
                if p.generation == generation && p.exe.as_deref() == Some(exe.as_path()) {
                    p.ready.push(s);
                } else {
                    s.discard();
                }
            }
        });
    }
}

/// Starts one helper and waits (off the runtime's threads) for its `warm` report.
async fn prepare(exe: PathBuf) -> Option<Spawned> {
    let id = format!("warm-{}", uuid::Uuid::new_v4().simple());
    let s = match spawn_helper(&exe, false, &id, None) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "cannot start a warm sandbox helper");
            return None;
        }
    };
    let Some(ctl) = s.ctl.as_ref().and_then(|c| c.try_clone().ok()) else {
        s.discard();
        return None;
    };
    let ready = tokio::task::spawn_blocking(move || read_warm(ctl))
        .await
        .unwrap_or(false);
    if ready {
        Some(s)
    } else {
        s.discard();
        None
    }
}

/// Reads byte by byte up to the end of the `warm` line, so nothing after it is
/// consumed (the launch's report reader takes over the socket).
fn read_warm(mut ctl: std::os::unix::net::UnixStream) -> bool {
    if ctl.set_read_timeout(Some(WARM_TIMEOUT)).is_err() {
        return false;
    }
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    while line.len() < MAX_WARM_LINE {
        match ctl.read(&mut byte) {
            Ok(1) if byte[0] == b'\n' => break,
            Ok(1) => line.push(byte[0]),
            _ => return false,
        }
    }
    let _ = ctl.set_read_timeout(None);
    matches!(
        serde_json::from_slice::<super::proto::Report>(&line),
        Ok(super::proto::Report::Warm {})
    )
}
