//! The process's working directory for things that must not live in the data directory
//! (function sandboxes may see them): the gateway's Unix socket that sandboxes reach
//! nimbus through, and each execution environment's scratch space and Runtime API socket.
//! It is short (Unix socket paths are limited to 108 bytes), private to this process and
//! removed at exit.

use std::path::{Path, PathBuf};

use anyhow::Context;

pub struct WorkDir {
    path: PathBuf,
}

impl WorkDir {
    /// `<tmp>/nimbus-<port>-<pid>`, created fresh (a stale one of a dead process with the
    /// same pid is removed first).
    pub fn create(port: u16) -> anyhow::Result<WorkDir> {
        let path = std::env::temp_dir().join(format!("nimbus-{port}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path)
            .with_context(|| format!("cannot create the work directory {}", path.display()))?;
        set_private(&path);
        Ok(WorkDir { path })
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
