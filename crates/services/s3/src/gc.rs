//! Space reclamation and crash recovery for blob files.
//!
//! - The reaper: replaced and deleted bodies are marked `s3/gc/{id}` in the transaction
//!   that dropped them ([`crate::write::discard_blobs`]). The reaper deletes the file
//!   first and the mark second, so a crash in between only means deleting an already
//!   deleted file again (deletes are idempotent).
//! - Recovery (before serving): a file still in `tmp/` was either committed (its
//!   `s3/r/{id}` exists: the crash came between commit and publish) and is published, or
//!   never committed (the upload died) and is deleted. Nothing half-written is ever
//!   referenced, because the commit happens only after the file was fsynced.

use std::ops::Bound;
use std::sync::Arc;
use std::time::Duration;

use crate::error::Error;
use crate::keys;
use crate::S3State;

/// Garbage marks handled per store read.
const REAP_PAGE: usize = 256;
/// Pages per reaper pass: bounds one pass's work; the rest waits for the next one.
const REAP_PAGES_PER_PASS: usize = 64;
/// A tmp/ file untouched this long belongs to no live upload (a live one writes to it
/// continuously; a finished one is committed or abandoned within moments), so the reaper
/// settles it as recovery would: leaks from cancelled requests do not wait for a restart.
pub const STALE_TMP_AGE: Duration = Duration::from_secs(3600);
/// The stale-tmp sweep runs every this many reaper passes.
const SWEEP_EVERY_PASSES: u64 = 60;

pub async fn run_reaper(state: Arc<S3State>, mut stop: tokio::sync::watch::Receiver<bool>) {
    let interval = Duration::from_millis(state.config.reaper_interval_ms.max(10));
    let mut passes: u64 = 0;
    loop {
        if *stop.borrow() {
            return;
        }
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            changed = stop.changed() => {
                if changed.is_err() || *stop.borrow() {
                    return;
                }
            }
        }
        if let Err(e) = reap_once(&state).await {
            tracing::warn!(error = %e, "blob reaper pass failed");
        }
        passes += 1;
        if passes.is_multiple_of(SWEEP_EVERY_PASSES) {
            if let Err(e) = settle_tmp(&state, STALE_TMP_AGE).await {
                tracing::warn!(error = %e, "stale tmp sweep failed");
            }
        }
    }
}

/// One reaper pass: deletes the files of up to `REAP_PAGE * REAP_PAGES_PER_PASS`
/// garbage blobs. Returns how many were reclaimed.
pub async fn reap_once(state: &S3State) -> Result<usize, Error> {
    let end = keys::prefix_end(keys::GARBAGE);
    let mut after: Option<Vec<u8>> = None;
    let mut total = 0;
    for _ in 0..REAP_PAGES_PER_PASS {
        let snap = state.db.snapshot()?;
        let start = match &after {
            Some(k) => Bound::Excluded(k.as_slice()),
            None => Bound::Included(keys::GARBAGE),
        };
        let rows = snap.range(start, Bound::Excluded(end.as_slice()), false, REAP_PAGE)?;
        drop(snap);
        let Some((last, _)) = rows.last() else {
            break;
        };
        after = Some(last.clone());
        let mut done = Vec::with_capacity(rows.len());
        for (k, _) in &rows {
            let id = k.get(keys::GARBAGE.len()..).unwrap_or_default();
            let Ok(id) = std::str::from_utf8(id) else {
                done.push(k.clone());
                continue;
            };
            match state.blobs.delete(id).await {
                Ok(()) | Err(nimbus_blob::BlobError::InvalidId(_)) => done.push(k.clone()),
                Err(e) => tracing::warn!(error = %e, blob = id, "reaping a blob"),
            }
        }
        total += done.len();
        state
            .db
            .write(move |txn| -> Result<(), Error> {
                for k in &done {
                    txn.delete(k)?;
                }
                Ok(())
            })
            .await?;
        if rows.len() < REAP_PAGE {
            break;
        }
    }
    Ok(total)
}

/// Startup recovery of `tmp/`: publishes committed blobs, deletes the rest.
pub async fn recover(state: &S3State) -> Result<(), Error> {
    settle_tmp(state, Duration::ZERO).await.map(|_| ())
}

/// Settles every tmp/ file untouched for `min_age`: published when the store references
/// it, deleted otherwise. Returns (published, removed).
pub async fn settle_tmp(state: &S3State, min_age: Duration) -> Result<(usize, usize), Error> {
    let names = if min_age.is_zero() {
        state.blobs.list_tmp().await?
    } else {
        state.blobs.list_stale_tmp(min_age).await?
    };
    let (mut published, mut removed) = (0usize, 0usize);
    for name in names {
        let referenced = {
            let snap = state.db.snapshot()?;
            snap.get(&keys::blob_ref(&name))?.is_some()
        };
        // One odd file must not keep the server from starting: log and go on.
        if referenced {
            match state.blobs.publish(&name).await {
                Ok(()) => published += 1,
                Err(e) => tracing::warn!(error = %e, blob = %name, "recovery: publishing"),
            }
        } else {
            match state.blobs.abandon_tmp(&name).await {
                Ok(()) => removed += 1,
                Err(e) => tracing::warn!(error = %e, file = %name, "recovery: removing"),
            }
        }
    }
    if published + removed > 0 {
        tracing::info!(published, removed, "S3 blob recovery");
    }
    Ok((published, removed))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::meta::BlobRef;
    use nimbus_blob::BlobStore;
    use nimbus_core::ManualClock;

    fn disk_state(dir: &std::path::Path) -> S3State {
        let base = S3State::for_tests(Arc::new(ManualClock::new(0)));
        S3State {
            notifications: crate::NotificationHooks::default(),
            owners: Default::default(),
            db: base.db.clone(),
            blobs: Arc::new(BlobStore::open(dir).unwrap()),
            clock: base.clock.clone(),
            credentials: base.credentials.clone(),
            config: base.config.clone(),
        }
    }

    async fn blob(state: &S3State, data: &[u8]) -> String {
        let mut w = state.blobs.writer().unwrap();
        let id = w.id().to_string();
        w.write(data).await.unwrap();
        w.finish().await.unwrap();
        id
    }

    #[tokio::test]
    async fn recovery_publishes_committed_and_deletes_uncommitted_tmp_blobs() {
        let dir = tempfile::tempdir().unwrap();
        let st = disk_state(dir.path());
        let committed = blob(&st, b"committed").await;
        let orphan = blob(&st, b"orphan").await;
        let c2 = committed.clone();
        st.db
            .write(move |t| {
                crate::write::reference_blobs(
                    t,
                    &[BlobRef {
                        id: c2.clone(),
                        size: 9,
                        inline: false,
                    }],
                )
            })
            .await
            .unwrap();
        recover(&st).await.unwrap();
        assert!(st.blobs.list_tmp().await.unwrap().is_empty());
        assert!(st.blobs.exists(&committed).await.unwrap());
        assert!(!st.blobs.exists(&orphan).await.unwrap());
        assert!(dir
            .path()
            .join("data")
            .join(&committed[..2])
            .join(&committed)
            .exists());
    }

    #[tokio::test]
    async fn reaper_deletes_garbage_files_then_marks_in_pages() {
        let dir = tempfile::tempdir().unwrap();
        let st = disk_state(dir.path());
        let mut ids = Vec::new();
        for i in 0..(REAP_PAGE + 10) {
            let id = blob(&st, format!("b{i}").as_bytes()).await;
            st.blobs.publish(&id).await.unwrap();
            ids.push(id);
        }
        let keep = blob(&st, b"keep").await;
        let refs: Vec<BlobRef> = ids
            .iter()
            .map(|id| BlobRef {
                id: id.clone(),
                size: 2,
                inline: false,
            })
            .collect();
        st.db
            .write(move |t| crate::write::discard_blobs(t, &refs))
            .await
            .unwrap();
        assert_eq!(reap_once(&st).await.unwrap(), ids.len());
        for id in &ids {
            assert!(!st.blobs.exists(id).await.unwrap());
        }
        assert!(st.blobs.exists(&keep).await.unwrap());
        let snap = st.db.snapshot().unwrap();
        let end = keys::prefix_end(keys::GARBAGE);
        let left = snap
            .range(
                Bound::Included(keys::GARBAGE),
                Bound::Excluded(end.as_slice()),
                false,
                10,
            )
            .unwrap();
        assert!(left.is_empty());
        assert_eq!(reap_once(&st).await.unwrap(), 0);
    }

    #[tokio::test]
    async fn stale_sweep_leaves_fresh_tmp_files_alone() {
        let dir = tempfile::tempdir().unwrap();
        let st = disk_state(dir.path());
        let fresh = blob(&st, b"uncommitted, but a commit may be on its way").await;
        assert_eq!(settle_tmp(&st, STALE_TMP_AGE).await.unwrap(), (0, 0));
        assert!(st.blobs.exists(&fresh).await.unwrap());
        assert_eq!(settle_tmp(&st, Duration::ZERO).await.unwrap(), (0, 1));
        assert!(!st.blobs.exists(&fresh).await.unwrap());
    }

    #[tokio::test]
    async fn reaper_loop_stops_when_told() {
        let st = Arc::new(disk_state(tempfile::tempdir().unwrap().path()));
        let (tx, rx) = tokio::sync::watch::channel(false);
        let h = tokio::spawn(run_reaper(st, rx));
        tx.send(true).unwrap();
        tokio::time::timeout(Duration::from_secs(5), h)
            .await
            .unwrap()
            .unwrap();
    }
}
