//! The cgroup of one environment, created and removed by the launcher (nimbus), joined
//! by the sandbox's init before the runtime runs.
//!
//! v1 (memory + pids controllers mounted separately): `/sys/fs/cgroup/<ctrl>/nimbus/<id>`.
//! v2 (unified hierarchy at /sys/fs/cgroup with the memory controller): the directory
//! `/sys/fs/cgroup/nimbus/<id>`. A host with only a controller-less v2 mount next to v1
//! controllers (hybrid) uses v1.

use std::fs;
use std::path::{Path, PathBuf};

const ROOT: &str = "/sys/fs/cgroup";
/// AWS caps processes + threads of an environment at 1024.
pub(crate) const PIDS_MAX: u32 = 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Version {
    V1,
    V2,
}

impl Version {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Version::V1 => "v1",
            Version::V2 => "v2",
        }
    }
}

/// Which cgroup layout this host has, if any usable (memory controller present).
pub(crate) fn detect() -> Option<Version> {
    let v2_controllers = fs::read_to_string(Path::new(ROOT).join("cgroup.controllers")).ok();
    if let Some(c) = v2_controllers {
        if c.split_whitespace().any(|w| w == "memory") {
            return Some(Version::V2);
        }
    }
    if Path::new(ROOT).join("memory/cgroup.procs").exists() {
        return Some(Version::V1);
    }
    None
}

/// Environments whose nimbus died before it could remove their cgroups leave empty
/// directories behind. Removes those that are empty and older than a minute (a fresh
/// one may be about to receive its process); rmdir refuses non-empty cgroups anyway.
pub(crate) fn sweep_stale(version: Version) {
    let parents: Vec<PathBuf> = match version {
        Version::V1 => ["memory", "pids"]
            .iter()
            .map(|c| Path::new(ROOT).join(c).join("nimbus"))
            .collect(),
        Version::V2 => vec![Path::new(ROOT).join("nimbus")],
    };
    let now = std::time::SystemTime::now();
    for parent in parents {
        let Ok(entries) = fs::read_dir(&parent) else {
            continue;
        };
        // Bounded: one pass over what exists now.
        for entry in entries.flatten().take(100_000) {
            let path = entry.path();
            let old = entry
                .metadata()
                .ok()
                .and_then(|m| m.modified().ok())
                .and_then(|t| now.duration_since(t).ok())
                .is_some_and(|age| age > std::time::Duration::from_secs(60));
            let empty =
                fs::read_to_string(path.join("cgroup.procs")).is_ok_and(|p| p.trim().is_empty());
            if path.is_dir() && old && empty {
                let _ = fs::remove_dir(&path);
            }
        }
    }
}

#[derive(Debug)]
pub(crate) struct Cgroup {
    pub version: Version,
    /// v1: the memory directory first, then pids (when mounted); v2: one directory.
    pub dirs: Vec<PathBuf>,
    pub memory_limited: bool,
    pub pids_limited: bool,
    /// Non-fatal failures (a missing controller, a limit the kernel refused).
    pub warnings: Vec<String>,
    /// The peak-memory file, opened on first use and re-read in place: every
    /// invocation's REPORT line reads it, and a path lookup and open per invocation
    /// showed up in profiles.
    peak_file: std::sync::OnceLock<Option<fs::File>>,
}

fn write(path: &Path, value: &str) -> std::io::Result<()> {
    fs::write(path, value)
}

impl Cgroup {
    /// Creates the environment's cgroup with its pids limit and, when known, its memory
    /// limit (a warm helper's cgroup gets it with the function).
    pub(crate) fn create(
        version: Version,
        id: &str,
        memory_mb: Option<u32>,
    ) -> Result<Cgroup, String> {
        let mut cg = Cgroup::create_dirs(version, id)?;
        if let Some(mb) = memory_mb {
            cg.set_memory_limit(mb);
        }
        Ok(cg)
    }

    /// Sets the memory limit to `memory_mb`. Where swap is accounted (v1 memsw, v2
    /// swap.max) it is capped too: otherwise the function could page out instead of
    /// hitting the limit.
    pub(crate) fn set_memory_limit(&mut self, memory_mb: u32) {
        let limit = (u64::from(memory_mb.max(1)) * 1024 * 1024).to_string();
        let Some(dir) = self.dirs.first().cloned() else {
            return;
        };
        let (file, swap_file, swap_value) = match self.version {
            Version::V1 => (
                "memory.limit_in_bytes",
                "memory.memsw.limit_in_bytes",
                limit.as_str(),
            ),
            Version::V2 => ("memory.max", "memory.swap.max", "0"),
        };
        // v1 refuses memsw below the memory limit and memory above memsw: a lower
        // limit goes memory first, a higher one memsw first. Trying both orders covers it.
        let swap = dir.join(swap_file);
        let has_swap = swap.exists();
        let mut ok = write(&dir.join(file), &limit).is_ok();
        if has_swap {
            let swap_ok = write(&swap, swap_value).is_ok();
            if !ok {
                ok = write(&dir.join(file), &limit).is_ok();
            }
            if !swap_ok && write(&swap, swap_value).is_err() {
                self.warnings.push(format!("{swap_file} refused"));
            }
        }
        self.memory_limited = ok;
        if !ok {
            self.warnings.push(format!("{file} refused"));
        }
    }

    fn create_dirs(version: Version, id: &str) -> Result<Cgroup, String> {
        let mut warnings = Vec::new();
        match version {
            Version::V1 => {
                let mem = Path::new(ROOT).join("memory/nimbus").join(id);
                fs::create_dir_all(&mem)
                    .map_err(|e| format!("cannot create cgroup {}: {e}", mem.display()))?;
                let mut cg = Cgroup {
                    version,
                    dirs: vec![mem.clone()],
                    memory_limited: false,
                    pids_limited: false,
                    warnings: Vec::new(),
                    peak_file: std::sync::OnceLock::new(),
                };
                let pids_root = Path::new(ROOT).join("pids");
                if pids_root.join("cgroup.procs").exists() {
                    let pids = pids_root.join("nimbus").join(id);
                    match fs::create_dir_all(&pids) {
                        Ok(()) => {
                            match write(&pids.join("pids.max"), &PIDS_MAX.to_string()) {
                                Ok(()) => cg.pids_limited = true,
                                Err(e) => warnings.push(format!("pids.max refused: {e}")),
                            }
                            cg.dirs.push(pids);
                        }
                        Err(e) => warnings.push(format!("cannot create pids cgroup: {e}")),
                    }
                }
                cg.warnings = warnings;
                Ok(cg)
            }
            Version::V2 => {
                let parent = Path::new(ROOT).join("nimbus");
                fs::create_dir_all(&parent)
                    .map_err(|e| format!("cannot create cgroup {}: {e}", parent.display()))?;
                // Controllers must be delegated down each level before a child can use
                // them; "already enabled" is fine, so errors only surface as a missing limit.
                let _ = write(
                    &Path::new(ROOT).join("cgroup.subtree_control"),
                    "+memory +pids",
                );
                let _ = write(&parent.join("cgroup.subtree_control"), "+memory +pids");
                let dir = parent.join(id);
                fs::create_dir_all(&dir)
                    .map_err(|e| format!("cannot create cgroup {}: {e}", dir.display()))?;
                let mut cg = Cgroup {
                    version,
                    dirs: vec![dir.clone()],
                    memory_limited: false,
                    pids_limited: false,
                    warnings: Vec::new(),
                    peak_file: std::sync::OnceLock::new(),
                };
                match write(&dir.join("pids.max"), &PIDS_MAX.to_string()) {
                    Ok(()) => cg.pids_limited = true,
                    Err(e) => warnings.push(format!("pids.max refused: {e}")),
                }
                cg.warnings = warnings;
                Ok(cg)
            }
        }
    }

    fn memory_dir(&self) -> Option<&PathBuf> {
        self.dirs.first()
    }

    /// Peak memory use of the environment so far.
    pub(crate) fn peak_bytes(&self) -> Option<u64> {
        use std::os::unix::fs::FileExt;
        let file = self
            .peak_file
            .get_or_init(|| {
                let name = match self.version {
                    Version::V1 => "memory.max_usage_in_bytes",
                    Version::V2 => "memory.peak",
                };
                fs::File::open(self.memory_dir()?.join(name)).ok()
            })
            .as_ref()?;
        // A cgroup file regenerates its content on every read from offset 0.
        let mut buf = [0u8; 32];
        let n = file.read_at(&mut buf, 0).ok()?;
        std::str::from_utf8(buf.get(..n)?).ok()?.trim().parse().ok()
    }

    /// Whether the kernel's OOM killer killed a process of this cgroup.
    pub(crate) fn oom_killed(&self) -> bool {
        let Some(dir) = self.memory_dir() else {
            return false;
        };
        let (file, key) = match self.version {
            Version::V1 => ("memory.oom_control", "oom_kill"),
            Version::V2 => ("memory.events", "oom_kill"),
        };
        let Ok(text) = fs::read_to_string(dir.join(file)) else {
            return false;
        };
        text.lines().any(|line| {
            let mut parts = line.split_whitespace();
            parts.next() == Some(key)
                && parts
                    .next()
                    .and_then(|n| n.parse::<u64>().ok())
                    .is_some_and(|n| n > 0)
        })
    }

    /// Pids (host namespace) of every process in the cgroup.
    pub(crate) fn pids(&self) -> Vec<i32> {
        let mut out = Vec::new();
        for dir in &self.dirs {
            if let Ok(text) = fs::read_to_string(dir.join("cgroup.procs")) {
                out.extend(text.lines().filter_map(|l| l.trim().parse::<i32>().ok()));
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    /// SIGKILLs every process in the cgroup; v2 has a one-shot `cgroup.kill`.
    pub(crate) fn kill_all(&self) {
        if self.version == Version::V2 {
            if let Some(dir) = self.dirs.first() {
                if write(&dir.join("cgroup.kill"), "1").is_ok() {
                    return;
                }
            }
        }
        // A fork racing the scan is caught by the next pass; bounded because the pid
        // namespace's init dies first in the normal case and takes the rest with it.
        for _ in 0..8 {
            let pids = self.pids();
            if pids.is_empty() {
                return;
            }
            for pid in pids {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
        }
    }

    /// Removes the cgroup directories; fails while processes remain (they may still be
    /// exiting after SIGKILL), so callers retry.
    pub(crate) fn try_remove(&self) -> bool {
        let mut all = true;
        for dir in &self.dirs {
            if dir.exists() && fs::remove_dir(dir).is_err() {
                all = false;
            }
        }
        all
    }
}
