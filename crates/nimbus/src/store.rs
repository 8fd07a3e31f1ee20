//! The store, opened in the background so the listener (and the health endpoint) is up
//! at once; requests that need the store wait for it, bounded.

use std::path::PathBuf;
use std::time::Duration;

use nimbus_store::{Db, Durability, EngineKind, StoreConfig};
use tokio::sync::watch;

/// How long a request waits for the store to finish opening before it gets an error.
const STORE_WAIT_MS: u64 = 30_000;

#[derive(Debug, Clone)]
pub enum StoreState {
    Opening,
    Ready(Db),
    Failed(String),
}

/// Where the store lives, for health output.
#[derive(Debug, Clone)]
pub struct StoreDescription {
    pub engine: &'static str,
    pub durability: Durability,
    pub path: Option<PathBuf>,
}

/// A store that may still be opening.
#[derive(Debug, Clone)]
pub struct StoreHandle {
    pub description: StoreDescription,
    state: watch::Receiver<StoreState>,
}

impl StoreHandle {
    /// Starts opening the store described by `cfg` on a blocking thread.
    pub fn open_in_background(cfg: StoreConfig) -> Self {
        let description = StoreDescription {
            engine: cfg.engine.name(),
            durability: cfg.durability,
            path: cfg.path.clone(),
        };
        let (tx, rx) = watch::channel(StoreState::Opening);
        tokio::task::spawn_blocking(move || {
            let started = std::time::Instant::now();
            let state = match Db::open(cfg) {
                Ok(db) => {
                    tracing::debug!(
                        elapsed_ms = started.elapsed().as_millis() as u64,
                        "store open"
                    );
                    StoreState::Ready(db)
                }
                Err(e) => StoreState::Failed(e.to_string()),
            };
            // Nobody listening any more means nimbus is already stopping.
            let _ = tx.send(state);
        });
        StoreHandle {
            description,
            state: rx,
        }
    }

    pub fn current(&self) -> StoreState {
        self.state.borrow().clone()
    }

    /// The store, once open (waits at most [`STORE_WAIT_MS`]).
    pub async fn db(&self) -> Result<Db, String> {
        let mut rx = self.state.clone();
        let wait = rx.wait_for(|s| !matches!(s, StoreState::Opening));
        let result = match tokio::time::timeout(Duration::from_millis(STORE_WAIT_MS), wait).await {
            Ok(Ok(state)) => match &*state {
                StoreState::Ready(db) => Ok(db.clone()),
                StoreState::Failed(e) => Err(format!("the store failed to open: {e}")),
                StoreState::Opening => Err("the store is still opening".to_string()),
            },
            Ok(Err(_)) => Err("the store was never opened".to_string()),
            Err(_) => Err("the store is still opening".to_string()),
        };
        result
    }

    /// Resolves once opening has finished, with the failure if it failed.
    pub async fn opened(&self) -> Result<(), String> {
        let mut rx = self.state.clone();
        let result = match rx.wait_for(|s| !matches!(s, StoreState::Opening)).await {
            Ok(state) => match &*state {
                StoreState::Failed(e) => Err(e.clone()),
                _ => Ok(()),
            },
            Err(_) => Err("the store was never opened".to_string()),
        };
        result
    }

    /// Flushes and closes the store (waits for it to finish opening first).
    pub async fn close(&self) -> Result<(), String> {
        match self.opened().await {
            Ok(()) => {}
            // Nothing to close.
            Err(_) => return Ok(()),
        }
        let state = self.current();
        if let StoreState::Ready(db) = state {
            db.close().await.map_err(|e| e.to_string())?;
        }
        Ok(())
    }
}

/// The store configuration for a resolved nimbus configuration.
pub fn store_config(
    storage: &crate::config::Storage,
    sync: crate::config::SyncMode,
) -> StoreConfig {
    let durability = match sync {
        crate::config::SyncMode::Fsync => Durability::Fsync,
        crate::config::SyncMode::None => Durability::Relaxed,
    };
    match storage {
        crate::config::Storage::InMemory => StoreConfig {
            durability,
            ..StoreConfig::memory()
        },
        crate::config::Storage::Dir(dir) => StoreConfig {
            durability,
            ..StoreConfig::on_disk(EngineKind::default(), dir.clone())
        },
    }
}
