//! Deployment packages and layer archives: verify and measure a zip, and unpack it into
//! the content-addressed code cache (outside the data directory, which sandboxes must
//! never see):
//!
//! - `<cache>/code/<sha256 hex>/`: one unpacked package, shared by every function version
//!   with the same zip; mounted read-only at `/var/task`.
//! - `<cache>/opt/<sha256 of the layers' digests>/`: a function's layers unpacked in order
//!   into one tree (later layers overwrite earlier ones, as AWS merges `/opt`).
//! - `<cache>/tmp/<uuid>/`: unpacking in progress; published by one rename, so a
//!   directory under `code/` or `opt/` is always complete.
//!
//! The cache is a cache: the zips are in the blob store and a missing directory is
//! unpacked again on the next invoke.

use std::io::Read;
use std::path::{Component, Path, PathBuf};

use sha2::{Digest, Sha256};

/// Largest zip accepted in a request body (`ZipFile`), as AWS: 50 MB.
pub const MAX_ZIPPED_BYTES: u64 = 50 * 1024 * 1024;
/// Largest unzipped size of a function with all its layers, as AWS: 250 MB.
pub const MAX_UNZIPPED_BYTES: u64 = 262_144_000;
/// Most entries one archive may have (bounds the work of one unpack).
pub const MAX_ZIP_ENTRIES: usize = 200_000;
/// Longest symlink target we follow while unpacking.
const MAX_LINK_TARGET_BYTES: u64 = 4096;

#[derive(Debug, thiserror::Error)]
pub enum CodeError {
    /// Not a readable zip (AWS: "Could not unzip uploaded file...").
    #[error("could not unzip: {0}")]
    BadZip(String),
    /// Unpacked content beyond [`MAX_UNZIPPED_BYTES`].
    #[error("unzipped size {0} exceeds the limit")]
    TooLarge(u64),
    #[error("code cache I/O error: {0}")]
    Io(#[from] std::io::Error),
}

/// What a zip is, by content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageInfo {
    pub sha256_hex: String,
    pub size: u64,
    /// Sum of the entries' declared uncompressed sizes.
    pub unzipped_size: u64,
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Opens the archive and reads its directory: a zip that fails here would fail to unpack.
pub fn inspect(zip_bytes: &[u8]) -> Result<PackageInfo, CodeError> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip_bytes))
        .map_err(|e| CodeError::BadZip(e.to_string()))?;
    if archive.len() > MAX_ZIP_ENTRIES {
        return Err(CodeError::BadZip(format!(
            "{} entries (at most {MAX_ZIP_ENTRIES})",
            archive.len()
        )));
    }
    let mut unzipped: u64 = 0;
    for i in 0..archive.len() {
        let f = archive
            .by_index_raw(i)
            .map_err(|e| CodeError::BadZip(e.to_string()))?;
        unzipped = unzipped.saturating_add(f.size());
    }
    Ok(PackageInfo {
        sha256_hex: sha256_hex(zip_bytes),
        size: zip_bytes.len() as u64,
        unzipped_size: unzipped,
    })
}

/// The directory an unpacked package lives in.
pub fn code_dir(cache: &Path, sha256_hex: &str) -> PathBuf {
    cache.join("code").join(sha256_hex)
}

/// The directory a list of layers (by digest, in order) is merged into.
pub fn opt_dir(cache: &Path, layer_shas: &[&str]) -> PathBuf {
    let mut h = Sha256::new();
    for s in layer_shas {
        h.update(s.as_bytes());
        h.update(b"\n");
    }
    cache.join("opt").join(hex::encode(h.finalize()))
}

fn fresh_tmp(cache: &Path) -> Result<PathBuf, CodeError> {
    let tmp = cache
        .join("tmp")
        .join(uuid::Uuid::new_v4().simple().to_string());
    std::fs::create_dir_all(&tmp)?;
    Ok(tmp)
}

/// Moves a finished tree into place; if another unpack won the race, ours is dropped.
fn publish(tmp: &Path, dest: &Path) -> Result<(), CodeError> {
    if let Some(parent) = dest.parent() {
        std::fs::create_dir_all(parent)?;
    }
    match std::fs::rename(tmp, dest) {
        Ok(()) => Ok(()),
        Err(_) if dest.is_dir() => {
            let _ = std::fs::remove_dir_all(tmp);
            Ok(())
        }
        Err(e) => {
            let _ = std::fs::remove_dir_all(tmp);
            Err(e.into())
        }
    }
}

/// Unpacks one package into `<cache>/code/<sha>/` unless it is already there.
/// Blocking: call from `spawn_blocking`.
pub fn ensure_code_dir(
    cache: &Path,
    sha256_hex: &str,
    zip_bytes: &[u8],
) -> Result<PathBuf, CodeError> {
    let dest = code_dir(cache, sha256_hex);
    if dest.is_dir() {
        return Ok(dest);
    }
    let tmp = fresh_tmp(cache)?;
    let mut budget = MAX_UNZIPPED_BYTES;
    if let Err(e) = unpack_into(zip_bytes, &tmp, &mut budget) {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(e);
    }
    publish(&tmp, &dest)?;
    Ok(dest)
}

/// Merges layers (in order; later ones overwrite) into one `/opt` tree unless it is
/// already there. `layers` are (sha, zip bytes). Blocking.
pub fn ensure_opt_dir(cache: &Path, layers: &[(String, Vec<u8>)]) -> Result<PathBuf, CodeError> {
    let shas: Vec<&str> = layers.iter().map(|(s, _)| s.as_str()).collect();
    let dest = opt_dir(cache, &shas);
    if dest.is_dir() {
        return Ok(dest);
    }
    let tmp = fresh_tmp(cache)?;
    let mut budget = MAX_UNZIPPED_BYTES;
    for (_, bytes) in layers {
        if let Err(e) = unpack_into(bytes, &tmp, &mut budget) {
            let _ = std::fs::remove_dir_all(&tmp);
            return Err(e);
        }
    }
    publish(&tmp, &dest)?;
    Ok(dest)
}

/// The entry's path made safe: relative, no `..`, no root (zip-slip).
fn safe_relative(name: &str) -> Option<PathBuf> {
    let p = Path::new(name);
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::Normal(s) => out.push(s),
            Component::CurDir => {}
            _ => return None,
        }
    }
    if out.as_os_str().is_empty() {
        None
    } else {
        Some(out)
    }
}

/// Whether a symlink at `rel` pointing to `target` stays inside the tree.
fn link_stays_inside(rel: &Path, target: &str) -> bool {
    let t = Path::new(target);
    if t.is_absolute() {
        return false;
    }
    let mut depth: i64 = rel.components().count() as i64 - 1;
    for c in t.components() {
        match c {
            Component::ParentDir => depth -= 1,
            Component::Normal(_) => depth += 1,
            Component::CurDir => {}
            _ => return false,
        }
        if depth < 0 {
            return false;
        }
    }
    true
}

fn remove_existing(path: &Path) -> std::io::Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => std::fs::remove_dir_all(path),
        Ok(_) => std::fs::remove_file(path),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// Unpacks `zip_bytes` into `dest`, charging real (not declared) sizes to `budget`.
fn unpack_into(zip_bytes: &[u8], dest: &Path, budget: &mut u64) -> Result<(), CodeError> {
    use std::os::unix::fs::PermissionsExt;
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip_bytes))
        .map_err(|e| CodeError::BadZip(e.to_string()))?;
    if archive.len() > MAX_ZIP_ENTRIES {
        return Err(CodeError::BadZip("too many entries".into()));
    }
    for i in 0..archive.len() {
        let mut entry = archive
            .by_index(i)
            .map_err(|e| CodeError::BadZip(e.to_string()))?;
        let name = match entry.name() {
            Ok(n) => n.to_string(),
            Err(e) => return Err(CodeError::BadZip(e.to_string())),
        };
        let Some(rel) = safe_relative(&name) else {
            // Entries that would escape the tree are skipped, never written.
            continue;
        };
        let path = dest.join(&rel);
        let mode = entry.unix_mode();
        if entry.is_dir() {
            std::fs::create_dir_all(&path)?;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))?;
            continue;
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let is_link = mode.is_some_and(|m| m & 0o170000 == 0o120000);
        if is_link {
            let mut target = String::new();
            (&mut entry)
                .take(MAX_LINK_TARGET_BYTES)
                .read_to_string(&mut target)
                .map_err(|e| CodeError::BadZip(e.to_string()))?;
            if link_stays_inside(&rel, &target) {
                remove_existing(&path)?;
                std::os::unix::fs::symlink(&target, &path)?;
            }
            continue;
        }
        remove_existing(&path)?;
        let mut out = std::fs::File::create(&path)?;
        // Read at most budget+1 bytes: a lying header cannot make us write more.
        let mut limited = (&mut entry).take(budget.saturating_add(1));
        let written =
            std::io::copy(&mut limited, &mut out).map_err(|e| CodeError::BadZip(e.to_string()))?;
        if written > *budget {
            return Err(CodeError::TooLarge(MAX_UNZIPPED_BYTES.saturating_add(1)));
        }
        *budget -= written;
        // Keep the package's permission bits (a `bootstrap` must stay executable) but
        // make every file readable: the runtime may not run as the file's owner.
        let perm = mode.map(|m| m & 0o777).unwrap_or(0o644) | 0o444;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(perm))?;
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
pub(crate) mod tests {
    use super::*;
    use std::io::Write;

    /// A zip of (name, content, unix mode) entries.
    pub fn make_zip(entries: &[(&str, &[u8], u32)]) -> Vec<u8> {
        let mut buf = std::io::Cursor::new(Vec::new());
        {
            let mut w = zip::ZipWriter::new(&mut buf);
            for (name, content, mode) in entries {
                let opts = zip::write::SimpleFileOptions::default()
                    .compression_method(zip::CompressionMethod::Deflated)
                    .unix_permissions(*mode);
                w.start_file(*name, opts).unwrap();
                w.write_all(content).unwrap();
            }
            w.finish().unwrap();
        }
        buf.into_inner()
    }

    #[test]
    fn inspects_and_unpacks_with_modes_and_no_escape() {
        let z = make_zip(&[
            ("index.py", b"def handler(e, c):\n    return e\n", 0o644),
            ("bootstrap", b"#!/bin/sh\n", 0o755),
            ("../evil", b"x", 0o644),
            ("lib/a.txt", b"aaa", 0o600),
        ]);
        let info = inspect(&z).unwrap();
        assert_eq!(info.size, z.len() as u64);
        assert_eq!(info.unzipped_size, 32 + 10 + 1 + 3);
        let dir = tempfile::tempdir().unwrap();
        let d = ensure_code_dir(dir.path(), &info.sha256_hex, &z).unwrap();
        use std::os::unix::fs::PermissionsExt;
        let m = std::fs::metadata(d.join("bootstrap"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(m & 0o777, 0o755);
        let m = std::fs::metadata(d.join("lib/a.txt"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(m & 0o777, 0o644);
        assert!(!dir.path().join("code/evil").exists());
        assert!(!dir.path().join("evil").exists());
        // Idempotent.
        assert_eq!(
            ensure_code_dir(dir.path(), &info.sha256_hex, &z).unwrap(),
            d
        );
    }

    #[test]
    fn rejects_garbage_and_merges_layers_in_order() {
        assert!(matches!(inspect(b"not a zip"), Err(CodeError::BadZip(_))));
        let a = make_zip(&[("python/x.py", b"A", 0o644), ("a.txt", b"a", 0o644)]);
        let b = make_zip(&[("python/x.py", b"B", 0o644)]);
        let dir = tempfile::tempdir().unwrap();
        let d = ensure_opt_dir(
            dir.path(),
            &[(sha256_hex(&a), a.clone()), (sha256_hex(&b), b.clone())],
        )
        .unwrap();
        assert_eq!(std::fs::read(d.join("python/x.py")).unwrap(), b"B");
        assert_eq!(std::fs::read(d.join("a.txt")).unwrap(), b"a");
    }

    #[test]
    fn symlinks_inside_only() {
        assert!(link_stays_inside(Path::new("a/b"), "c"));
        assert!(link_stays_inside(Path::new("a/b"), "../c"));
        assert!(!link_stays_inside(Path::new("a/b"), "../../c"));
        assert!(!link_stays_inside(Path::new("a"), "/etc/passwd"));
    }
}
