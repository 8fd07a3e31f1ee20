//! The process's working directory for things that must not live in the data directory
//! (function sandboxes may see them): the gateway's Unix socket that sandboxes reach
//! nimbus through, and each execution environment's scratch space and Runtime API socket.
//! It is short (Unix socket paths are limited to 108 bytes), private to this process and
//! removed at exit.
//!
//! A process killed with SIGKILL cannot remove its directory, so each directory holds a
//! lock file that its process keeps locked (`flock`) while it lives, and every start
//! removes the directories whose lock nobody holds. A lock, unlike a pid check, stays
//! right when another PID namespace shares the same /tmp: the kernel releases it when
//! the holder dies, whichever namespace it lived in.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;

/// Name of the lock file inside a work directory.
const LOCK_FILE: &str = ".lock";
/// A directory without a lock file may be one another process is creating right now; only
/// one older than this is treated as stale (a work directory from before lock files).
const UNLOCKED_GRACE: Duration = Duration::from_secs(60);

pub struct WorkDir {
    path: PathBuf,
    /// Held for the life of the process; the kernel drops the lock when it dies.
    _lock: Option<File>,
}

impl WorkDir {
    /// `<tmp>/nimbus-<port>-<pid>`, created fresh (a stale one of a dead process with the
    /// same pid is removed first).
    pub fn create(port: u16) -> anyhow::Result<WorkDir> {
        let root = std::env::temp_dir();
        let path = root.join(format!("nimbus-{port}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path)
            .with_context(|| format!("cannot create the work directory {}", path.display()))?;
        set_private(&path);
        let lock = lock_dir(&path);
        // In the background: a /tmp full of old directories must not delay start-up.
        let own = path.clone();
        let sweep = std::thread::Builder::new()
            .name("nimbus-sweep".into())
            .spawn(move || {
                let removed = sweep_stale(&root, &own);
                if removed > 0 {
                    tracing::info!(removed, root = %root.display(), "removed work directories of nimbus processes that are gone");
                }
            });
        if let Err(e) = sweep {
            tracing::warn!(error = %e, "cannot start the sweep of old work directories");
        }
        Ok(WorkDir { path, _lock: lock })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The gateway's Unix socket path.
    pub fn socket_path(&self) -> PathBuf {
        self.path.join("nimbus.sock")
    }

    /// Binds the gateway's Unix socket; `None` (with a warning) when the host refuses, in
    /// which case functions reach nimbus over TCP only.
    pub fn socket_listener(&self) -> Option<tokio::net::UnixListener> {
        let path = self.socket_path();
        let _ = std::fs::remove_file(&path);
        match tokio::net::UnixListener::bind(&path) {
            Ok(l) => Some(l),
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "cannot listen on the gateway's Unix socket; sandboxed functions will not reach nimbus");
                None
            }
        }
    }
}

/// Creates and locks `dir`'s lock file. Without it (the file system refuses locks) the
/// directory is only removed at a clean exit, as before lock files.
fn lock_dir(dir: &Path) -> Option<File> {
    let file = File::create(dir.join(LOCK_FILE)).ok()?;
    match file.try_lock() {
        Ok(()) => Some(file),
        Err(e) => {
            tracing::warn!(dir = %dir.display(), error = %e, "cannot lock the work directory; if nimbus is killed, a later start will not remove it");
            None
        }
    }
}

/// `nimbus-<port>-<pid>`, the names [`WorkDir::create`] makes.
fn is_work_dir_name(name: &str) -> bool {
    let Some(rest) = name.strip_prefix("nimbus-") else {
        return false;
    };
    let Some((port, pid)) = rest.split_once('-') else {
        return false;
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    digits(port) && digits(pid)
}

/// Whether the work directory `dir` belongs to no living process.
fn is_stale(dir: &Path) -> bool {
    match File::open(dir.join(LOCK_FILE)) {
        // Locked by its process while that lives. The lock taken here is released when
        // `file` drops, after the caller has removed the directory or not.
        Ok(file) => file.try_lock().is_ok(),
        // No lock file: being created right now, or made by a version without lock files,
        // which may still be running. Only an old one whose pid is gone is stale.
        Err(_) => {
            let old = std::fs::metadata(dir)
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age > UNLOCKED_GRACE);
            old && !pid_may_live(dir)
        }
    }
}

/// Whether the process named in a work directory's name may still run: its `/proc` entry
/// exists (a reused pid keeps the directory, which errs on the safe side), or the host
/// has no `/proc` to ask.
fn pid_may_live(dir: &Path) -> bool {
    let proc_root = Path::new("/proc");
    if !proc_root.join("self").exists() {
        return true;
    }
    dir.file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.rsplit_once('-'))
        .is_none_or(|(_, pid)| proc_root.join(pid).exists())
}

/// Removes the stale work directories in `root` other than `own`; returns how many.
fn sweep_stale(root: &Path, own: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(root) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let path = entry.path();
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        let name_matches = entry.file_name().to_str().is_some_and(is_work_dir_name);
        if !is_dir || !name_matches || path == own {
            continue;
        }
        if is_stale(&path) && std::fs::remove_dir_all(&path).is_ok() {
            removed += 1;
        }
    }
    removed
}

#[cfg(unix)]
fn set_private(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700));
}

#[cfg(not(unix))]
fn set_private(_: &Path) {}

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn work_dir(root: &Path, name: &str) -> PathBuf {
        let dir = root.join(name);
        std::fs::create_dir_all(dir.join("env-1")).unwrap();
        std::fs::write(dir.join("env-1").join("scratch"), b"x").unwrap();
        dir
    }

    #[test]
    fn names_are_recognised() {
        assert!(is_work_dir_name("nimbus-4566-1234"));
        assert!(!is_work_dir_name("nimbus-4566-"));
        assert!(!is_work_dir_name("nimbus-bench.abc123"));
        assert!(!is_work_dir_name("nimbus-4566-12x"));
        assert!(!is_work_dir_name("other-4566-1234"));
    }

    #[test]
    fn sweep_removes_unlocked_dirs_and_keeps_locked_and_fresh_ones() {
        let root = tempfile::tempdir().unwrap();
        let root = root.path();
        let own = work_dir(root, "nimbus-4566-1");
        let _own_lock = lock_dir(&own).unwrap();
        // A process that died: its lock file exists, nobody holds it.
        let dead = work_dir(root, "nimbus-4566-2");
        File::create(dead.join(LOCK_FILE)).unwrap();
        // A live process: it holds its lock (a separate open file, as another process's).
        let alive = work_dir(root, "nimbus-4567-3");
        let alive_lock = lock_dir(&alive).unwrap();
        // Being created right now: no lock file yet, just made.
        let fresh = work_dir(root, "nimbus-4568-4");
        // Not a work directory at all.
        let other = work_dir(root, "nimbus-data");

        assert_eq!(sweep_stale(root, &own), 1);
        assert!(!dead.exists());
        assert!(own.exists());
        assert!(alive.exists());
        assert!(fresh.exists());
        assert!(other.exists());

        // Once the live process is gone, its directory goes at the next start.
        drop(alive_lock);
        assert_eq!(sweep_stale(root, &own), 1);
        assert!(!alive.exists());
        assert!(own.exists());
    }

    #[test]
    fn an_old_directory_without_a_lock_file_is_stale() {
        let root = tempfile::tempdir().unwrap();
        let past = std::time::SystemTime::now() - UNLOCKED_GRACE - Duration::from_secs(5);
        // No process can have this pid (above Linux's pid_max).
        let old = work_dir(root.path(), "nimbus-4566-99999999");
        File::open(&old).unwrap().set_modified(past).unwrap();
        assert!(is_stale(&old));
        // Just as old, but its process (this one) is alive: an older nimbus still running.
        let running = work_dir(root.path(), &format!("nimbus-4566-{}", std::process::id()));
        File::open(&running).unwrap().set_modified(past).unwrap();
        assert!(!is_stale(&running));
        let fresh = work_dir(root.path(), "nimbus-4566-99999998");
        assert!(!is_stale(&fresh));
    }
}
