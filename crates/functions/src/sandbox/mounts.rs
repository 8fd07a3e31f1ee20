//! The private root of a sandbox, built by stage 2 in its own mount namespace:
//!
//! ```text
//! /            tmpfs (read-only once built; only mount points)
//! /usr /etc    host, read-only;  /bin /sbin /lib /lib64: the host's symlinks, or ro binds
//! <host_ro>    host interpreter prefixes, read-only at the same path
//! /var/task    code, read-only (the working directory)
//! /opt         layers, read-only (empty when none)
//! /var/runtime bootstraps + SDK cache, read-only
//! /tmp         tmpfs of EphemeralStorage size, mode 1777
//! /proc        a new procfs (the pid namespace's processes only)
//! /dev         tmpfs with null zero full random urandom + fd/std* links
//! ```
//! Everything else of the host (data directory, /root, /home, /var, /sys) is absent.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Component, Path, PathBuf};

use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::{unshare, CloneFlags};

use super::proto::InitConfig;

/// Host directories every runtime needs (dynamic loader, libc, certificates, ...).
const SYSTEM_DIRS: [&str; 6] = ["usr", "etc", "bin", "sbin", "lib", "lib64"];
const DEVICES: [&str; 5] = ["null", "zero", "full", "random", "urandom"];

fn err(what: &str, path: &Path, e: impl std::fmt::Display) -> String {
    format!("{what} {}: {e}", path.display())
}

fn ro_bind(src: &Path, dst: &Path) -> Result<(), String> {
    mount(
        Some(src),
        dst,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .map_err(|e| err("bind", src, e))?;
    // A bind mount ignores MS_RDONLY on creation: it takes a remount.
    mount(
        None::<&str>,
        dst,
        None::<&str>,
        MsFlags::MS_BIND
            | MsFlags::MS_REMOUNT
            | MsFlags::MS_RDONLY
            | MsFlags::MS_NOSUID
            | MsFlags::MS_NODEV,
        None::<&str>,
    )
    .map_err(|e| err("remount read-only", dst, e))
}

/// `root` joined with an absolute host path, refusing `..` (a path must not climb out).
fn inside(root: &Path, host: &Path) -> Option<PathBuf> {
    let mut out = root.to_path_buf();
    for c in host.components() {
        match c {
            Component::RootDir | Component::CurDir => {}
            Component::Normal(n) => out.push(n),
            Component::ParentDir | Component::Prefix(_) => return None,
        }
    }
    Some(out)
}

/// Creates a mount point for `src` (a directory, or an empty file for a file).
fn mount_point(src: &Path, dst: &Path) -> Result<(), String> {
    if src.is_dir() {
        fs::create_dir_all(dst).map_err(|e| err("mkdir", dst, e))
    } else {
        if let Some(parent) = dst.parent() {
            fs::create_dir_all(parent).map_err(|e| err("mkdir", parent, e))?;
        }
        fs::write(dst, b"").map_err(|e| err("create", dst, e))
    }
}

/// Unshares the mount namespace, builds the tree under `cfg.root_dir`, pivots into it.
pub(crate) fn enter_new_root(cfg: &InitConfig) -> Result<(), String> {
    unshare(CloneFlags::CLONE_NEWNS).map_err(|e| format!("unshare mount namespace: {e}"))?;
    // Nothing we mount may propagate back to the host (systemd makes / shared).
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .map_err(|e| format!("make / private: {e}"))?;

    let root = &cfg.root_dir;
    fs::create_dir_all(root).map_err(|e| err("mkdir", root, e))?;
    mount(
        Some("tmpfs"),
        root,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        Some("size=1m,mode=0755"),
    )
    .map_err(|e| err("mount tmpfs", root, e))?;

    let mut covered: Vec<PathBuf> = Vec::new();
    for dir in SYSTEM_DIRS {
        let host = Path::new("/").join(dir);
        let dst = root.join(dir);
        match fs::symlink_metadata(&host) {
            Ok(m) if m.file_type().is_symlink() => {
                // Merged-/usr hosts: /bin -> usr/bin; the same link is enough.
                let target = fs::read_link(&host).map_err(|e| err("readlink", &host, e))?;
                symlink(&target, &dst).map_err(|e| err("symlink", &dst, e))?;
            }
            Ok(m) if m.is_dir() => {
                fs::create_dir_all(&dst).map_err(|e| err("mkdir", &dst, e))?;
                ro_bind(&host, &dst)?;
                covered.push(host);
            }
            _ => {}
        }
    }

    // The private /tmp comes before the host paths: a host path under /tmp (an SDK cache
    // or interpreter in a temp dir) is then bound inside it instead of being hidden by it.
    let tmp = root.join("tmp");
    fs::create_dir_all(&tmp).map_err(|e| err("mkdir", &tmp, e))?;
    mount(
        Some("tmpfs"),
        &tmp,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        Some(format!("size={}m,mode=1777", cfg.tmp_mb.max(1)).as_str()),
    )
    .map_err(|e| err("mount tmpfs", &tmp, e))?;

    for host in &cfg.host_ro_paths {
        // Resolve symlinks so /lib/x (-> /usr/lib/x) is recognized as already visible.
        let Ok(real) = fs::canonicalize(host) else {
            continue;
        };
        if covered.iter().any(|c| real.starts_with(c)) {
            continue;
        }
        let Some(dst) = inside(root, &real) else {
            continue;
        };
        mount_point(&real, &dst)?;
        ro_bind(&real, &dst)?;
        covered.push(real.clone());
        // The runtime may be named by its unresolved path (a pyenv shim's target).
        if real != *host {
            if let Some(link) = inside(root, host) {
                if !link.exists() {
                    if let Some(parent) = link.parent() {
                        let _ = fs::create_dir_all(parent);
                    }
                    let _ = symlink(&real, &link);
                }
            }
        }
    }

    let task = root.join("var/task");
    fs::create_dir_all(&task).map_err(|e| err("mkdir", &task, e))?;
    ro_bind(&cfg.code_dir, &task)?;

    let opt = root.join("opt");
    fs::create_dir_all(&opt).map_err(|e| err("mkdir", &opt, e))?;
    if let Some(o) = &cfg.opt_dir {
        ro_bind(o, &opt)?;
    }

    let rt = root.join("var/runtime");
    fs::create_dir_all(&rt).map_err(|e| err("mkdir", &rt, e))?;
    if let Some(r) = &cfg.runtime_dir {
        ro_bind(r, &rt)?;
    }

    let proc_dir = root.join("proc");
    fs::create_dir_all(&proc_dir).map_err(|e| err("mkdir", &proc_dir, e))?;
    mount(
        Some("proc"),
        &proc_dir,
        Some("proc"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        None::<&str>,
    )
    .map_err(|e| err("mount proc", &proc_dir, e))?;

    build_dev(&root.join("dev"))?;

    let old = root.join(".oldroot");
    fs::create_dir_all(&old).map_err(|e| err("mkdir", &old, e))?;
    nix::unistd::pivot_root(root, &old).map_err(|e| format!("pivot_root: {e}"))?;
    nix::unistd::chdir("/").map_err(|e| format!("chdir /: {e}"))?;
    umount2("/.oldroot", MntFlags::MNT_DETACH).map_err(|e| format!("detach old root: {e}"))?;
    let _ = fs::remove_dir("/.oldroot");
    // The root tmpfs only holds mount points: read-only, like AWS's root filesystem.
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        None::<&str>,
    )
    .map_err(|e| format!("remount / read-only: {e}"))?;
    Ok(())
}

fn build_dev(dev: &Path) -> Result<(), String> {
    fs::create_dir_all(dev).map_err(|e| err("mkdir", dev, e))?;
    mount(
        Some("tmpfs"),
        dev,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
        Some("size=64k,mode=0755"),
    )
    .map_err(|e| err("mount tmpfs", dev, e))?;
    for name in DEVICES {
        let host = Path::new("/dev").join(name);
        if !host.exists() {
            continue;
        }
        let dst = dev.join(name);
        fs::write(&dst, b"").map_err(|e| err("create", &dst, e))?;
        mount(
            Some(&host),
            &dst,
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .map_err(|e| err("bind", &host, e))?;
    }
    for (name, target) in [
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ] {
        let link = dev.join(name);
        symlink(target, &link).map_err(|e| err("symlink", &link, e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inside_refuses_parent_components() {
        assert_eq!(
            inside(Path::new("/r"), Path::new("/usr/lib/x")),
            Some(PathBuf::from("/r/usr/lib/x"))
        );
        assert_eq!(inside(Path::new("/r"), Path::new("/a/../etc")), None);
    }
}
