//! Runtime identifiers (python3.x, nodejsNN.x, provided.*) → how to start them on this
//! host; the embedded bootstraps; the boto3 / AWS SDK v3 cache. Owner: H-runtime.
//!
//! Managed runtimes run on the host's own interpreter of the matching version (found once,
//! then cached); nimbus's small bootstraps (`bootstrap/*`) are written into the runtime
//! directory that sandboxes see at `/var/runtime`. The SDK AWS bundles with each managed
//! runtime (boto3, AWS SDK for JavaScript v3) is installed on first use, pinned, into
//! `runtime_cache_dir`, and put on `PYTHONPATH` / `NODE_PATH` after `/var/task` and `/opt`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::Mutex;

use crate::FunctionSpec;

const PYTHON_BOOTSTRAP: &str = include_str!("bootstrap/python_bootstrap.py");
const NODE_BOOTSTRAP: &str = include_str!("bootstrap/node_bootstrap.js");
pub const PYTHON_BOOTSTRAP_FILE: &str = "python_bootstrap.py";
pub const NODE_BOOTSTRAP_FILE: &str = "node_bootstrap.cjs";
/// `NIMBUS_FUNCTION_SDK=off`: do not install boto3 / the AWS SDK v3 for functions.
pub const SDK_ENV: &str = "NIMBUS_FUNCTION_SDK";

/// boto3 pins: the newest release that supports the interpreter (boto3 1.44 needs 3.10+).
fn boto3_pin(minor: u32) -> &'static str {
    if minor <= 9 {
        "boto3==1.38.46"
    } else {
        "boto3==1.44.8"
    }
}

/// The AWS SDK v3 packages provided to Node.js functions (AWS bundles all clients; these
/// are the ones functions use most; a function that needs another packages it itself).
const NODE_SDK_PACKAGES: &[&str] = &[
    "@aws-sdk/client-s3@3.1175.0",
    "@aws-sdk/client-dynamodb@3.1169.0",
    "@aws-sdk/lib-dynamodb@3.1169.0",
    "@aws-sdk/client-lambda@3.1164.0",
    "@aws-sdk/client-sts@3.1174.0",
    "@aws-sdk/client-sqs@3.1175.0",
    "@aws-sdk/client-cloudwatch-logs@3.1169.0",
];
/// Bumped whenever [`NODE_SDK_PACKAGES`] changes: names the cache directory.
const NODE_SDK_SET: &str = "v3-2026-11-a";

/// How the runtime's paths look from inside the environment.
#[derive(Debug, Clone)]
pub struct Layout {
    pub task: String,
    pub opt: String,
    pub runtime: String,
}

impl Layout {
    /// Inside a sandbox with its own mount namespace: AWS's paths.
    pub fn sandboxed() -> Layout {
        Layout {
            task: "/var/task".into(),
            opt: "/opt".into(),
            runtime: "/var/runtime".into(),
        }
    }

    /// Without a mount namespace the program sees the host's paths.
    pub fn host(code_dir: &Path, opt_dir: Option<&Path>, runtime_dir: &Path) -> Layout {
        Layout {
            task: code_dir.display().to_string(),
            // A path that does not exist stands for the empty /opt.
            opt: opt_dir
                .map(|p| p.display().to_string())
                .unwrap_or_else(|| "/nonexistent-opt".into()),
            runtime: runtime_dir.display().to_string(),
        }
    }
}

/// How to start one function's runtime.
#[derive(Debug, Clone)]
pub struct RuntimeLaunch {
    pub argv: Vec<String>,
    /// Runtime-specific variables (PATH, LD_LIBRARY_PATH, PYTHONPATH / NODE_PATH,
    /// AWS_EXECUTION_ENV); the pool adds the rest.
    pub env: Vec<(String, String)>,
    /// Host paths the sandbox must expose read-only (interpreter prefix, SDK cache).
    pub host_ro_paths: Vec<PathBuf>,
}

/// Why a runtime cannot start.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ResolveError {
    /// The host lacks what the runtime needs (`InvokeError::RuntimeUnavailable`).
    #[error("{0}")]
    Unavailable(String),
    /// A `provided` function without a bootstrap: AWS's `Runtime.InvalidEntrypoint`.
    #[error("Couldn't find valid bootstrap(s): [/var/task/bootstrap /opt/bootstrap]")]
    InvalidEntrypoint,
}

#[derive(Debug, Clone)]
struct Interpreter {
    path: PathBuf,
    /// Directory to expose read-only (None when it is under the sandbox's standard binds).
    prefix: Option<PathBuf>,
}

type SdkSlot = Arc<tokio::sync::Mutex<Option<Result<PathBuf, String>>>>;

/// Resolves runtimes; caches interpreter lookups and SDK installs.
pub struct Runtimes {
    runtime_dir: PathBuf,
    cache_dir: PathBuf,
    interpreters: Mutex<HashMap<String, Result<Interpreter, String>>>,
    sdks: Mutex<HashMap<String, SdkSlot>>,
    /// python3.X → the bootstrap compiled by that interpreter (a file in the runtime
    /// dir), or None when compiling failed and the source is run instead.
    bytecode: Mutex<HashMap<String, Option<String>>>,
}

impl Runtimes {
    /// Writes the bootstraps into `<work_dir>/runtime`.
    pub fn new(work_dir: &Path, cache_dir: &Path) -> std::io::Result<Runtimes> {
        let runtime_dir = work_dir.join("runtime");
        std::fs::create_dir_all(&runtime_dir)?;
        std::fs::write(runtime_dir.join(PYTHON_BOOTSTRAP_FILE), PYTHON_BOOTSTRAP)?;
        std::fs::write(runtime_dir.join(NODE_BOOTSTRAP_FILE), NODE_BOOTSTRAP)?;
        Ok(Runtimes {
            runtime_dir,
            cache_dir: cache_dir.to_path_buf(),
            interpreters: Mutex::new(HashMap::new()),
            bytecode: Mutex::new(HashMap::new()),
            sdks: Mutex::new(HashMap::new()),
        })
    }

    /// The directory sandboxes mount at `/var/runtime`.
    pub fn runtime_dir(&self) -> &Path {
        &self.runtime_dir
    }

    /// How to start `spec`'s runtime. May install the SDK (first use; slow).
    pub async fn resolve(
        &self,
        spec: &FunctionSpec,
        layout: &Layout,
    ) -> Result<RuntimeLaunch, ResolveError> {
        let rt = spec.runtime.as_str();
        if rt == "provided.al2023" || rt == "provided.al2" || rt == "provided" {
            return provided(spec, layout);
        }
        if let Some(minor) = rt
            .strip_prefix("python3.")
            .and_then(|m| m.parse::<u32>().ok())
        {
            if (9..=14).contains(&minor) {
                return self.python(spec, layout, minor).await;
            }
        }
        if let Some(major) = rt
            .strip_prefix("nodejs")
            .and_then(|m| m.strip_suffix(".x"))
            .and_then(|m| m.parse::<u32>().ok())
        {
            if (18..=24).contains(&major) && major % 2 == 0 {
                return self.node(spec, layout, major).await;
            }
        }
        Err(ResolveError::Unavailable(format!(
            "The runtime {rt} is not supported by nimbus (supported: provided.al2023, provided.al2, python3.9 to python3.14, nodejs18.x to nodejs24.x)"
        )))
    }

    /// The interpreter for `key`, looked up once (a blocking search, off the runtime).
    async fn interpreter<F>(&self, key: &str, find: F) -> Result<Interpreter, String>
    where
        F: FnOnce() -> Result<Interpreter, String> + Send + 'static,
    {
        if let Some(found) = self.interpreters.lock().get(key) {
            return found.clone();
        }
        let found = tokio::task::spawn_blocking(find)
            .await
            .map_err(|e| e.to_string())
            .and_then(|r| r);
        self.interpreters
            .lock()
            .insert(key.to_owned(), found.clone());
        found
    }

    async fn python(
        &self,
        spec: &FunctionSpec,
        layout: &Layout,
        minor: u32,
    ) -> Result<RuntimeLaunch, ResolveError> {
        let name = format!("python3.{minor}");
        let interp = {
            let name = name.clone();
            self.interpreter(&name.clone(), move || find_python(&name))
                .await
                .map_err(ResolveError::Unavailable)?
        };
        let sdk = self
            .sdk(
                &format!("{name}/{}", boto3_pin(minor).replace("==", "-")),
                SdkKind::Python {
                    interpreter: interp.path.clone(),
                    pin: boto3_pin(minor),
                },
            )
            .await
            .map_err(ResolveError::Unavailable)?;
        let bin_dir = interp
            .path
            .parent()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        let Layout { task, opt, runtime } = layout;
        let mut host_ro_paths: Vec<PathBuf> = interp.prefix.iter().cloned().collect();
        host_ro_paths.push(sdk.clone());
        let script = self
            .python_bytecode(&name, &interp.path)
            .await
            .unwrap_or_else(|| PYTHON_BOOTSTRAP_FILE.to_string());
        Ok(RuntimeLaunch {
            argv: vec![
                interp.path.display().to_string(),
                // No user site-packages: AWS's interpreter has none either.
                "-s".into(),
                format!("{runtime}/{script}"),
            ],
            env: vec![
                ("AWS_EXECUTION_ENV".into(), format!("AWS_Lambda_{}", spec.runtime)),
                (
                    "PATH".into(),
                    format!("{bin_dir}:/usr/local/bin:/usr/bin/:/bin:{opt}/bin"),
                ),
                (
                    "LD_LIBRARY_PATH".into(),
                    format!("/lib64:/usr/lib64:{runtime}:{runtime}/lib:{task}:{task}/lib:{opt}/lib"),
                ),
                // AWS's sys.path order: the package, the layers, then the runtime's own
                // libraries (boto3).
                (
                    "PYTHONPATH".into(),
                    format!(
                        "{task}:{opt}/python/lib/python3.{minor}/site-packages:{opt}/python:{}:{runtime}",
                        sdk.display()
                    ),
                ),
            ],
            host_ro_paths,
        })
    }

    /// The bootstrap compiled once per interpreter (`python3.X` runs a .pyc given as its
    /// script): compiling the source took about 3.5 ms of every Python cold start here.
    /// A failure is logged and the source is run instead.
    async fn python_bytecode(&self, name: &str, interpreter: &Path) -> Option<String> {
        if let Some(hit) = self.bytecode.lock().get(name) {
            return hit.clone();
        }
        let file = format!("python_bootstrap.{name}.pyc");
        let compile = tokio::process::Command::new(interpreter)
            .args([
                "-s",
                "-c",
                // dfile: tracebacks name the bootstrap as the source would.
                "import py_compile, sys; py_compile.compile(sys.argv[1], cfile=sys.argv[2], dfile=sys.argv[3], doraise=True)",
            ])
            .arg(self.runtime_dir.join(PYTHON_BOOTSTRAP_FILE))
            .arg(self.runtime_dir.join(&file))
            .arg(format!("/var/runtime/{PYTHON_BOOTSTRAP_FILE}"))
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .output();
        let got = match tokio::time::timeout(std::time::Duration::from_secs(30), compile).await {
            Ok(Ok(out)) if out.status.success() => Some(file),
            Ok(Ok(out)) => {
                tracing::warn!(interpreter = %interpreter.display(), stderr = %String::from_utf8_lossy(&out.stderr), "cannot compile the Python bootstrap; running its source");
                None
            }
            Ok(Err(e)) => {
                tracing::warn!(interpreter = %interpreter.display(), error = %e, "cannot compile the Python bootstrap; running its source");
                None
            }
            Err(_) => {
                tracing::warn!(interpreter = %interpreter.display(), "compiling the Python bootstrap took over 30 s; running its source");
                None
            }
        };
        self.bytecode.lock().insert(name.to_string(), got.clone());
        got
    }

    async fn node(
        &self,
        spec: &FunctionSpec,
        layout: &Layout,
        major: u32,
    ) -> Result<RuntimeLaunch, ResolveError> {
        let key = format!("node{major}");
        let interp = self
            .interpreter(&key, move || find_node(major))
            .await
            .map_err(ResolveError::Unavailable)?;
        let sdk = self
            .sdk(
                &format!("nodejs/aws-sdk-{NODE_SDK_SET}"),
                SdkKind::Node {
                    node: interp.path.clone(),
                },
            )
            .await
            .map_err(ResolveError::Unavailable)?;
        let bin_dir = interp
            .path
            .parent()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        let Layout { task, opt, runtime } = layout;
        let mut host_ro_paths: Vec<PathBuf> = interp.prefix.iter().cloned().collect();
        host_ro_paths.push(sdk.clone());
        Ok(RuntimeLaunch {
            argv: vec![
                interp.path.display().to_string(),
                format!("{runtime}/{NODE_BOOTSTRAP_FILE}"),
            ],
            env: vec![
                ("AWS_EXECUTION_ENV".into(), format!("AWS_Lambda_{}", spec.runtime)),
                (
                    "PATH".into(),
                    format!("{bin_dir}:/usr/local/bin:/usr/bin/:/bin:{opt}/bin"),
                ),
                (
                    "LD_LIBRARY_PATH".into(),
                    format!("/lib64:/usr/lib64:{runtime}:{runtime}/lib:{task}:{task}/lib:{opt}/lib"),
                ),
                (
                    "NODE_PATH".into(),
                    format!(
                        "{opt}/nodejs/node{major}/node_modules:{opt}/nodejs/node_modules:{}/node_modules:{runtime}:{task}",
                        sdk.display()
                    ),
                ),
            ],
            host_ro_paths,
        })
    }

    /// Installs an SDK once (per process: a mutex; across processes: a lock file and an
    /// atomic rename of the finished directory). `NIMBUS_FUNCTION_SDK=off` skips it
    /// (offline hosts, tests): functions then see only what they package themselves.
    async fn sdk(&self, rel: &str, kind: SdkKind) -> Result<PathBuf, String> {
        if std::env::var(SDK_ENV).is_ok_and(|v| v.eq_ignore_ascii_case("off")) {
            // An empty directory keeps the paths the same shape.
            let dir = self.runtime_dir.join("no-sdk");
            std::fs::create_dir_all(&dir)
                .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
            return Ok(dir);
        }
        let slot = self.sdks.lock().entry(rel.to_owned()).or_default().clone();
        let mut slot = slot.lock().await;
        if let Some(done) = slot.as_ref() {
            return done.clone();
        }
        let dir = self.cache_dir.join(rel);
        let result = tokio::task::spawn_blocking(move || install_sdk(&dir, &kind))
            .await
            .map_err(|e| e.to_string())
            .and_then(|r| r);
        // Failures are not cached: the next invoke retries (the network may be back).
        if result.is_ok() {
            *slot = Some(result.clone());
        }
        result
    }
}

fn provided(spec: &FunctionSpec, layout: &Layout) -> Result<RuntimeLaunch, ResolveError> {
    let argv = if spec.code_dir.join("bootstrap").is_file() {
        format!("{}/bootstrap", layout.task)
    } else if spec
        .opt_dir
        .as_ref()
        .is_some_and(|o| o.join("bootstrap").is_file())
    {
        format!("{}/bootstrap", layout.opt)
    } else {
        return Err(ResolveError::InvalidEntrypoint);
    };
    let Layout { task, opt, .. } = layout;
    Ok(RuntimeLaunch {
        argv: vec![argv],
        env: vec![
            (
                "PATH".into(),
                format!("/usr/local/bin:/usr/bin/:/bin:{opt}/bin"),
            ),
            (
                "LD_LIBRARY_PATH".into(),
                format!("/lib64:/usr/lib64:{task}:{task}/lib:{opt}/lib"),
            ),
        ],
        host_ro_paths: Vec::new(),
    })
}

enum SdkKind {
    Python {
        interpreter: PathBuf,
        pin: &'static str,
    },
    Node {
        node: PathBuf,
    },
}

fn install_sdk(dir: &Path, kind: &SdkKind) -> Result<PathBuf, String> {
    if dir.join(".complete").exists() {
        return Ok(dir.to_path_buf());
    }
    let parent = dir
        .parent()
        .ok_or_else(|| format!("bad SDK cache path {}", dir.display()))?;
    std::fs::create_dir_all(parent)
        .map_err(|e| format!("cannot create the runtime cache {}: {e}", parent.display()))?;
    let lock_path = dir.with_extension("lock");
    let lock = std::fs::File::create(&lock_path)
        .map_err(|e| format!("cannot create {}: {e}", lock_path.display()))?;
    // Another nimbus may be installing the same SDK: wait for it.
    lock.lock()
        .map_err(|e| format!("cannot lock {}: {e}", lock_path.display()))?;
    if dir.join(".complete").exists() {
        return Ok(dir.to_path_buf());
    }
    let tmp = dir.with_extension(format!("tmp{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).map_err(|e| format!("cannot create {}: {e}", tmp.display()))?;
    let mut cmd = match kind {
        SdkKind::Python { interpreter, pin } => {
            tracing::warn!(
                "installing {pin} into {} (first use of {})",
                dir.display(),
                interpreter.display()
            );
            let mut c = std::process::Command::new(interpreter);
            c.args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
            ])
            .args(["--no-warn-script-location", "--target"])
            .arg(&tmp)
            .arg(pin);
            c
        }
        SdkKind::Node { node } => {
            tracing::warn!(
                "installing the AWS SDK for JavaScript v3 into {} (first use of Node.js)",
                dir.display()
            );
            let npm = node
                .parent()
                .map(|b| b.join("npm"))
                .filter(|p| p.exists())
                .unwrap_or_else(|| PathBuf::from("npm"));
            let mut c = std::process::Command::new(npm);
            c.args([
                "install",
                "--no-audit",
                "--no-fund",
                "--omit=dev",
                "--silent",
                "--prefix",
            ])
            .arg(&tmp)
            .args(NODE_SDK_PACKAGES);
            c
        }
    };
    let out = cmd
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| format!("cannot run the SDK installer: {e}"))?;
    if !out.status.success() {
        let _ = std::fs::remove_dir_all(&tmp);
        let what = match kind {
            SdkKind::Python { pin, .. } => (*pin).to_string(),
            SdkKind::Node { .. } => "the AWS SDK for JavaScript v3".to_string(),
        };
        let stderr = String::from_utf8_lossy(&out.stderr);
        let tail: String = stderr
            .chars()
            .rev()
            .take(600)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        return Err(format!(
            "installing {what} into {} failed ({}): {}",
            dir.display(),
            out.status,
            tail.trim()
        ));
    }
    std::fs::write(tmp.join(".complete"), b"")
        .map_err(|e| format!("cannot write {}: {e}", tmp.display()))?;
    let _ = std::fs::remove_dir_all(dir);
    std::fs::rename(&tmp, dir).map_err(|e| format!("cannot move {}: {e}", tmp.display()))?;
    tracing::info!("installed the function SDK into {}", dir.display());
    Ok(dir.to_path_buf())
}

/// Directories the sandbox binds anyway: an interpreter under them needs no extra bind.
fn under_standard_dirs(p: &Path) -> bool {
    ["/usr", "/bin", "/lib", "/lib64", "/sbin"]
        .iter()
        .any(|d| p.starts_with(d))
}

fn interpreter_from(path: &Path) -> Option<Interpreter> {
    if path.components().any(|c| c.as_os_str() == "shims") {
        return None; // pyenv/nodenv shims need their manager at run time
    }
    let real = std::fs::canonicalize(path).ok()?;
    if !real.is_file() {
        return None;
    }
    // <prefix>/bin/<exe>: expose the whole prefix (stdlib, site-packages).
    let prefix = real.parent().and_then(Path::parent).map(Path::to_path_buf);
    let prefix = prefix.filter(|p| !under_standard_dirs(p) && p != Path::new("/"));
    // Keep the path as found (e.g. python3.12 symlink name); the prefix covers the target.
    Some(Interpreter {
        path: if under_standard_dirs(&real) || prefix.is_some() {
            real
        } else {
            path.to_path_buf()
        },
        prefix,
    })
}

fn search_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    for d in ["/usr/local/bin", "/usr/bin", "/bin"] {
        dirs.push(PathBuf::from(d));
    }
    dirs
}

/// Version-manager prefixes (pyenv, nvm), newest version last.
fn manager_versions(root: &Path, starts_with: &str) -> Vec<PathBuf> {
    let Ok(rd) = std::fs::read_dir(root) else {
        return Vec::new();
    };
    let mut v: Vec<PathBuf> = rd
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with(starts_with))
        .map(|e| e.path())
        .collect();
    v.sort();
    v
}

fn home_dirs() -> Vec<PathBuf> {
    let mut v = Vec::new();
    if let Some(h) = std::env::var_os("HOME") {
        v.push(PathBuf::from(h));
    }
    v.push(PathBuf::from("/root"));
    v
}

fn find_python(name: &str) -> Result<Interpreter, String> {
    let Some(ver) = name.strip_prefix("python") else {
        return Err(format!("{name} is not a Python runtime"));
    };
    for dir in search_dirs() {
        if let Some(i) = interpreter_from(&dir.join(name)) {
            return Ok(i);
        }
    }
    let mut roots: Vec<PathBuf> = Vec::new();
    if let Some(r) = std::env::var_os("PYENV_ROOT") {
        roots.push(PathBuf::from(r).join("versions"));
    }
    for h in home_dirs() {
        roots.push(h.join(".pyenv/versions"));
    }
    for root in &roots {
        // 3.12.1, 3.12.7: prefer the newest patch release.
        for prefix in manager_versions(root, &format!("{ver}.")).iter().rev() {
            if let Some(i) = interpreter_from(&prefix.join("bin").join(name)) {
                return Ok(i);
            }
        }
    }
    Err(format!(
        "{name} is not installed on this host: no {name} executable on PATH, in /usr/bin, /usr/local/bin or a pyenv prefix (~/.pyenv/versions/{ver}.*); install Python {ver} to run this function"
    ))
}

fn node_major(path: &Path) -> Option<u32> {
    let out = std::process::Command::new(path)
        .arg("--version")
        .stdin(std::process::Stdio::null())
        .output()
        .ok()?;
    let s = String::from_utf8_lossy(&out.stdout);
    s.trim().strip_prefix('v')?.split('.').next()?.parse().ok()
}

fn find_node(major: u32) -> Result<Interpreter, String> {
    let mut candidates: Vec<PathBuf> = Vec::new();
    for dir in search_dirs() {
        candidates.push(dir.join(format!("node{major}")));
        candidates.push(dir.join("node"));
    }
    for h in home_dirs() {
        for prefix in manager_versions(&h.join(".nvm/versions/node"), &format!("v{major}."))
            .iter()
            .rev()
        {
            candidates.push(prefix.join("bin/node"));
        }
    }
    let mut seen: Vec<PathBuf> = Vec::new();
    let mut found_versions: Vec<String> = Vec::new();
    for c in candidates {
        let Some(i) = interpreter_from(&c) else {
            continue;
        };
        if seen.contains(&i.path) {
            continue;
        }
        seen.push(i.path.clone());
        match node_major(&i.path) {
            Some(m) if m == major => return Ok(i),
            Some(m) => found_versions.push(format!("{} is Node.js {m}", i.path.display())),
            None => {}
        }
    }
    let found = if found_versions.is_empty() {
        String::new()
    } else {
        format!(" (found: {})", found_versions.join(", "))
    };
    Err(format!(
        "nodejs{major}.x is not installed on this host: no Node.js {major} executable (node{major} or node on PATH, /usr/bin, /usr/local/bin or ~/.nvm/versions/node/v{major}.*){found}; install Node.js {major} to run this function"
    ))
}
