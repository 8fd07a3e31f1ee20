//! How a [`crate::Db`] is opened: which engine, where, how durable.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use crate::StoreError;

/// When an acknowledged write is on stable storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// An acknowledged write has been fsynced (many writers share one fsync: group commit).
    #[default]
    Fsync,
    /// `--sync=none`: commits do not fsync; a crash may lose about the last second of
    /// acknowledged writes (the writer syncs about once a second and on a clean close).
    /// For throwaway runs.
    Relaxed,
}

impl FromStr for Durability {
    type Err = StoreError;

    /// Accepts the `--sync` spellings: `fsync`/`full`/`durable` and `none`/`relaxed`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "fsync" | "full" | "durable" => Ok(Durability::Fsync),
            "none" | "relaxed" | "off" => Ok(Durability::Relaxed),
            other => Err(StoreError::Config(format!(
                "unknown sync mode {other:?}: expected \"fsync\" or \"none\""
            ))),
        }
    }
}

impl fmt::Display for Durability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Durability::Fsync => "fsync",
            Durability::Relaxed => "none",
        })
    }
}

/// The storage engines nimbus knows. Every engine is named even when compiled out, so a
/// configuration naming it gets an error that says how to get it (Garage's habit).
///
/// The default is fjall when compiled in (the `fjall` feature, on by default), else redb;
/// docs/store-engine.md records the benchmark behind that choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EngineKind {
    /// Everything in memory (`--in-memory`); nothing survives the process.
    Memory,
    /// redb, a copy-on-write B-tree in one file: always built; the fallback engine.
    #[cfg_attr(not(feature = "fjall"), default)]
    Redb,
    /// fjall, an LSM tree with a write-ahead journal: the default embedded engine, in builds
    /// with the `fjall` cargo feature (on by default).
    #[cfg_attr(feature = "fjall", default)]
    Fjall,
}

impl EngineKind {
    /// The engine's name as configuration spells it.
    pub fn name(self) -> &'static str {
        match self {
            EngineKind::Memory => "memory",
            EngineKind::Redb => "redb",
            EngineKind::Fjall => "fjall",
        }
    }

    /// Whether this build contains the engine.
    pub fn is_available(self) -> bool {
        match self {
            EngineKind::Memory | EngineKind::Redb => true,
            EngineKind::Fjall => cfg!(feature = "fjall"),
        }
    }

    /// Whether the engine keeps its data in files (and so needs a path).
    pub fn is_persistent(self) -> bool {
        !matches!(self, EngineKind::Memory)
    }
}

impl FromStr for EngineKind {
    type Err = StoreError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "memory" | "mem" | "in-memory" => Ok(EngineKind::Memory),
            "redb" => Ok(EngineKind::Redb),
            "fjall" => Ok(EngineKind::Fjall),
            other => Err(StoreError::Config(format!(
                "unknown storage engine {other:?}: expected \"fjall\", \"redb\" or \"memory\""
            ))),
        }
    }
}

impl fmt::Display for EngineKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How to open a [`crate::Db`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StoreConfig {
    pub engine: EngineKind,
    /// The directory the engine keeps its files in (created if missing). Required by
    /// persistent engines, ignored by `Memory`.
    pub path: Option<PathBuf>,
    pub durability: Durability,
}

impl StoreConfig {
    /// The in-memory engine (`--in-memory`).
    pub fn memory() -> Self {
        StoreConfig {
            engine: EngineKind::Memory,
            path: None,
            durability: Durability::Fsync,
        }
    }

    /// A persistent engine keeping its files in `dir`, durable by default.
    pub fn on_disk(engine: EngineKind, dir: impl Into<PathBuf>) -> Self {
        StoreConfig {
            engine,
            path: Some(dir.into()),
            durability: Durability::Fsync,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_engine_and_sync_names() {
        assert_eq!("redb".parse::<EngineKind>().ok(), Some(EngineKind::Redb));
        assert_eq!(
            "Memory".parse::<EngineKind>().ok(),
            Some(EngineKind::Memory)
        );
        assert_eq!("fjall".parse::<EngineKind>().ok(), Some(EngineKind::Fjall));
        assert!("rocksdb".parse::<EngineKind>().is_err());
        assert_eq!("none".parse::<Durability>().ok(), Some(Durability::Relaxed));
        assert_eq!("fsync".parse::<Durability>().ok(), Some(Durability::Fsync));
        assert!("sometimes".parse::<Durability>().is_err());
        assert_eq!(Durability::default(), Durability::Fsync);
        assert_eq!(EngineKind::Redb.to_string(), "redb");
    }

    #[test]
    fn default_engine_is_the_benchmarked_choice() {
        let want = if cfg!(feature = "fjall") {
            EngineKind::Fjall
        } else {
            EngineKind::Redb
        };
        assert_eq!(EngineKind::default(), want);
        assert!(EngineKind::default().is_available());
        assert!(EngineKind::default().is_persistent());
    }
}
