//! Execution environments per function version: reuse, scale-out within the
//! concurrency limits, throttling, idle reaping, timeouts. Owner: H-runtime.
//!
//! An environment is one runtime process (in its sandbox), its Runtime API server and the
//! reader of its output. Environments are keyed by [`FunctionSpec::env_key`]; an idle one
//! is reused (most recently used first, the warmest); otherwise a new one starts if the
//! function's reserved concurrency and the account limit allow, else the invoke is
//! throttled. A timeout, a crash or an init failure kills the environment; idle ones are
//! stopped after `idle_timeout_ms`.

use std::collections::HashMap;
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use parking_lot::Mutex;
use tokio::sync::{mpsc, oneshot, watch};

use crate::engine::EngineConfig;
use crate::runtime_api::{self, InitEvent, Job, RuntimeApi, RuntimeReply};
use crate::runtimes::{Layout, ResolveError, RuntimeLaunch, Runtimes};
use crate::sandbox::{self, SandboxSpec};
use crate::{FunctionSpec, Invocation, InvokeError, InvokeOutcome, SharedLogSink};

/// LogType=Tail returns this much of the end of an invocation's log.
const TAIL_BYTES: usize = 4096;
/// A line longer than this is cut into several events (CloudWatch caps events at 256 KB).
const MAX_LINE_BYTES: usize = 256 * 1024;

/// How an environment's process ended.
#[derive(Debug, Clone, Copy, Default)]
pub struct ExitInfo {
    pub code: Option<i32>,
    pub signal: Option<i32>,
    pub oom_killed: bool,
}

impl ExitInfo {
    /// Go's `ProcessState.String()` wording, which AWS's messages use.
    fn describe(&self) -> String {
        match (self.code, self.signal) {
            (_, Some(9)) => "signal: killed".into(),
            (_, Some(15)) => "signal: terminated".into(),
            (_, Some(6)) => "signal: aborted".into(),
            (_, Some(11)) => "signal: segmentation fault".into(),
            (_, Some(s)) => format!("signal: {s}"),
            (Some(c), None) => format!("exit status {c}"),
            (None, None) => "exit status 1".into(),
        }
    }
}

/// A started runtime process, however it was launched.
pub(crate) struct Process {
    /// Host pid of the runtime (for Max Memory Used), when known.
    pub pid: Option<u32>,
    /// Read ends of the runtime's stdout/stderr (one merged pipe, or one each).
    pub outputs: Vec<OwnedFd>,
    /// Becomes `Some` when the process ended.
    pub exit: watch::Receiver<Option<ExitInfo>>,
    /// Kills the process (idempotent).
    pub kill: Box<dyn Fn() + Send + Sync>,
    /// Reads the peak memory in bytes, when the launcher can tell (cgroup).
    pub peak_memory: Option<crate::sandbox::MemoryProbe>,
}

/// How runtimes are started.
#[derive(Debug, Clone)]
pub(crate) enum Launcher {
    /// Unsandboxed, Runtime API on a loopback TCP port: this crate's tests when the
    /// helper is not available (`helper_exe` empty).
    Direct,
    /// `<helper_exe> __sandbox`: the sandbox (or its degraded mode).
    Sandbox(PathBuf),
}

struct LogTarget {
    account_id: String,
    region: String,
    group: String,
    stream: String,
}

#[derive(Default)]
struct PipeState {
    partial: Vec<u8>,
    eof: bool,
}

/// An environment's log: where lines go, and the current invocation's tail.
struct EnvLog {
    /// The current invocation's log, last [`TAIL_BYTES`] (None between invocations).
    tail: Mutex<Option<Vec<u8>>>,
    target: LogTarget,
    sink: SharedLogSink,
    pipes: Mutex<Vec<Arc<LogPipe>>>,
}

/// One output pipe of the runtime: read continuously by a task, and drained
/// synchronously at the end of each invocation so the handler's last lines land before
/// END and in the tail.
struct LogPipe {
    rx: tokio::net::unix::pipe::Receiver,
    state: Mutex<PipeState>,
    log: Weak<EnvLog>,
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn push_tail(tail: &mut Vec<u8>, bytes: &[u8]) {
    tail.extend_from_slice(bytes);
    if tail.len() > TAIL_BYTES {
        let cut = tail.len() - TAIL_BYTES;
        tail.drain(..cut);
    }
}

impl LogPipe {
    /// Reads what is available now; returns complete lines. Caller holds the state lock.
    fn read_available(
        &self,
        st: &mut PipeState,
        log: &EnvLog,
        final_flush: bool,
    ) -> Vec<(i64, String)> {
        let mut lines = Vec::new();
        let mut buf = [0u8; 16 * 1024];
        // Bounded: at most 64 reads (1 MiB) per call; the reader task comes back for more.
        for _ in 0..64 {
            match self.rx.try_read(&mut buf) {
                Ok(0) => {
                    st.eof = true;
                    break;
                }
                Ok(n) => {
                    let chunk = &buf[..n];
                    if let Some(t) = log.tail.lock().as_mut() {
                        push_tail(t, chunk);
                    }
                    st.partial.extend_from_slice(chunk);
                }
                Err(_) => break, // WouldBlock or a broken pipe: nothing more now
            }
        }
        let ts = now_ms();
        while let Some(pos) = st.partial.iter().position(|b| *b == b'\n') {
            let rest = st.partial.split_off(pos + 1);
            let mut line = std::mem::replace(&mut st.partial, rest);
            line.pop();
            lines.push((ts, String::from_utf8_lossy(&line).into_owned()));
        }
        if st.partial.len() > MAX_LINE_BYTES || ((final_flush || st.eof) && !st.partial.is_empty())
        {
            let line = std::mem::take(&mut st.partial);
            lines.push((ts, String::from_utf8_lossy(&line).into_owned()));
        }
        lines
    }

    fn drain(&self, log: &EnvLog) {
        let lines = {
            let mut st = self.state.lock();
            self.read_available(&mut st, log, true)
        };
        log.emit(lines);
    }

    async fn run(self: Arc<Self>) {
        loop {
            if self.rx.readable().await.is_err() {
                return;
            }
            let Some(log) = self.log.upgrade() else {
                return;
            };
            let (lines, eof) = {
                let mut st = self.state.lock();
                let lines = self.read_available(&mut st, &log, false);
                (lines, st.eof)
            };
            log.emit(lines);
            if eof {
                return;
            }
        }
    }
}

impl EnvLog {
    fn emit(&self, lines: Vec<(i64, String)>) {
        if !lines.is_empty() {
            let t = &self.target;
            self.sink
                .append(&t.account_id, &t.region, &t.group, &t.stream, lines);
        }
    }

    /// Platform lines (START, END, REPORT, ...): to the sink and the tail.
    fn platform(&self, lines: &[String]) {
        let ts = now_ms();
        if let Some(t) = self.tail.lock().as_mut() {
            for l in lines {
                push_tail(t, l.as_bytes());
                push_tail(t, b"\n");
            }
        }
        self.emit(lines.iter().map(|l| (ts, l.clone())).collect());
    }

    /// Everything the runtime wrote so far, to the sink.
    fn drain(&self) {
        let pipes = self.pipes.lock().clone();
        for p in pipes {
            p.drain(self);
        }
    }

    /// Starts collecting the invocation's tail; keeps what a cold start collected (the
    /// init phase's output belongs to the first invocation's tail, as in AWS).
    fn start_tail(&self, want: bool) {
        let mut t = self.tail.lock();
        if !want {
            *t = None;
        } else if t.is_none() {
            *t = Some(Vec::new());
        }
    }

    fn take_tail(&self) -> Option<Vec<u8>> {
        self.tail.lock().take()
    }
}

/// One execution environment.
struct Env {
    key: String,
    function_arn: String,
    jobs: mpsc::Sender<Job>,
    exit: watch::Receiver<Option<ExitInfo>>,
    process: Process,
    log: Arc<EnvLog>,
    /// The retire epoch of its function when it started; a later retire drops it.
    epoch: u64,
    idle_since: Mutex<Instant>,
    /// Reported on the first invocation only, as AWS does.
    init_duration_ms: Mutex<Option<f64>>,
    dir: PathBuf,
    _api: RuntimeApi,
}

impl Drop for Env {
    fn drop(&mut self) {
        (self.process.kill)();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Env {
    fn max_memory_mb(&self) -> u64 {
        if let Some(bytes) = self
            .process
            .peak_memory
            .as_ref()
            .and_then(|p| p.max_memory_used_bytes())
        {
            return bytes.div_ceil(1024 * 1024);
        }
        // VmHWM: the peak resident set of the runtime process.
        let Some(pid) = self.process.pid else {
            return 0;
        };
        let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
            return 0;
        };
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map(|kb| kb.div_ceil(1024))
            .unwrap_or(0)
    }
}

#[derive(Default)]
struct PoolState {
    idle: HashMap<String, Vec<Arc<Env>>>,
    busy_by_function: HashMap<String, u32>,
    busy_total: u32,
    alive: u32,
    epochs: HashMap<String, u64>,
    shutting_down: bool,
}

#[derive(Default)]
struct Counters {
    invocations: AtomicU64,
    cold_starts: AtomicU64,
    warm_starts: AtomicU64,
    throttles: AtomicU64,
    timeouts: AtomicU64,
    crashes: AtomicU64,
    init_errors: AtomicU64,
    reaped: AtomicU64,
}

pub(crate) struct Pool {
    cfg: EngineConfig,
    launcher: Launcher,
    logs: SharedLogSink,
    runtimes: Runtimes,
    state: Mutex<PoolState>,
    counters: Counters,
    reaper_started: AtomicBool,
}

/// Holds one unit of concurrency; released on drop (even if the invoke is abandoned).
struct Slot {
    pool: Arc<Pool>,
    function_arn: String,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut st = self.pool.state.lock();
        st.busy_total = st.busy_total.saturating_sub(1);
        if let Some(n) = st.busy_by_function.get_mut(&self.function_arn) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                st.busy_by_function.remove(&self.function_arn);
            }
        }
    }
}

/// Counts an environment as alive for as long as it exists.
struct AliveGuard(Weak<Pool>);
impl Drop for AliveGuard {
    fn drop(&mut self) {
        if let Some(p) = self.0.upgrade() {
            let mut st = p.state.lock();
            st.alive = st.alive.saturating_sub(1);
        }
    }
}

fn iso_now() -> String {
    // RFC 3339 with milliseconds, UTC (the timeout log line's timestamp).
    let ms = now_ms();
    let secs = ms.div_euclid(1000);
    let (y, mo, d) = civil_from_days(secs.div_euclid(86_400));
    let sod = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        sod / 3600,
        (sod / 60) % 60,
        sod % 60,
        ms.rem_euclid(1000)
    )
}

/// Days since 1970-01-01 → (year, month, day) (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// `YYYY/MM/DD/[$LATEST]<32 hex>`, as AWS names an environment's log stream.
fn stream_name(version: &str, env_id: &str) -> String {
    let (y, m, d) = civil_from_days(now_ms().div_euclid(1000).div_euclid(86_400));
    format!("{y:04}/{m:02}/{d:02}/[{version}]{env_id}")
}

fn error_doc(error_type: &str, message: &str) -> Bytes {
    Bytes::from(serde_json::json!({ "errorType": error_type, "errorMessage": message }).to_string())
}

/// AWS's variables, in override order: defaults the function may override, then the
/// function's own, then the reserved ones (which it may not).
fn environment(
    cfg: &EngineConfig,
    spec: &FunctionSpec,
    launch: &RuntimeLaunch,
    layout: &Layout,
    stream: &str,
) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = vec![
        ("LANG".into(), "en_US.UTF-8".into()),
        ("TZ".into(), ":UTC".into()),
        // The sandbox user has no passwd entry, and Node's os.homedir() (which the AWS
        // SDK v3's config loader calls) throws without HOME; on AWS the user has a home.
        ("HOME".into(), "/tmp".into()),
        (
            "AWS_ENDPOINT_URL".into(),
            format!("http://127.0.0.1:{}", cfg.nimbus_addr.port()),
        ),
    ];
    let reserved_launch: Vec<&(String, String)> = launch
        .env
        .iter()
        .filter(|(k, _)| k == "AWS_EXECUTION_ENV")
        .collect();
    env.extend(
        launch
            .env
            .iter()
            .filter(|(k, _)| k != "AWS_EXECUTION_ENV")
            .cloned(),
    );
    const RESERVED: &[&str] = &[
        "_HANDLER",
        "_X_AMZN_TRACE_ID",
        "AWS_DEFAULT_REGION",
        "AWS_REGION",
        "AWS_EXECUTION_ENV",
        "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        "AWS_LAMBDA_FUNCTION_VERSION",
        "AWS_LAMBDA_INITIALIZATION_TYPE",
        "AWS_LAMBDA_LOG_GROUP_NAME",
        "AWS_LAMBDA_LOG_STREAM_NAME",
        "AWS_ACCESS_KEY",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_LAMBDA_RUNTIME_API",
        "LAMBDA_TASK_ROOT",
        "LAMBDA_RUNTIME_DIR",
    ];
    env.extend(
        spec.environment
            .iter()
            .filter(|(k, _)| !RESERVED.contains(&k.as_str()))
            .cloned(),
    );
    env.extend([
        ("_HANDLER".into(), spec.handler.clone()),
        ("AWS_REGION".into(), spec.region.clone()),
        ("AWS_DEFAULT_REGION".into(), spec.region.clone()),
        (
            "AWS_LAMBDA_FUNCTION_NAME".into(),
            spec.function_name.clone(),
        ),
        (
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE".into(),
            spec.memory_mb.to_string(),
        ),
        ("AWS_LAMBDA_FUNCTION_VERSION".into(), spec.version.clone()),
        ("AWS_LAMBDA_INITIALIZATION_TYPE".into(), "on-demand".into()),
        ("AWS_LAMBDA_LOG_GROUP_NAME".into(), spec.log_group.clone()),
        ("AWS_LAMBDA_LOG_STREAM_NAME".into(), stream.to_owned()),
        ("LAMBDA_TASK_ROOT".into(), layout.task.clone()),
        ("LAMBDA_RUNTIME_DIR".into(), layout.runtime.clone()),
    ]);
    env.extend(reserved_launch.into_iter().cloned());
    if let Some(c) = &spec.credentials {
        env.extend([
            ("AWS_ACCESS_KEY_ID".into(), c.access_key_id.clone()),
            ("AWS_SECRET_ACCESS_KEY".into(), c.secret_access_key.clone()),
            ("AWS_SESSION_TOKEN".into(), c.session_token.clone()),
        ]);
    }
    // Last one wins; keep each name once, at the position of its last setting.
    let mut seen = std::collections::HashSet::new();
    let mut out: Vec<(String, String)> = env
        .into_iter()
        .rev()
        .filter(|(k, _)| seen.insert(k.clone()))
        .collect();
    out.reverse();
    out
}

/// The invocation's outcome before the pool decides the environment's fate.
enum Ending {
    /// The environment stays usable.
    Keep(InvokeOutcome),
    /// The environment must be stopped.
    Kill(InvokeOutcome),
}

impl Pool {
    pub(crate) fn new(
        cfg: EngineConfig,
        launcher: Launcher,
        logs: SharedLogSink,
    ) -> std::io::Result<Arc<Pool>> {
        std::fs::create_dir_all(cfg.work_dir.join("env"))?;
        let runtimes = Runtimes::new(&cfg.work_dir, &cfg.runtime_cache_dir)?;
        Ok(Arc::new(Pool {
            cfg,
            launcher,
            logs,
            runtimes,
            state: Mutex::new(PoolState::default()),
            counters: Counters::default(),
            reaper_started: AtomicBool::new(false),
        }))
    }

    fn start_reaper(self: &Arc<Self>) {
        if self.reaper_started.swap(true, Ordering::Relaxed) {
            return;
        }
        let weak = Arc::downgrade(self);
        let idle = Duration::from_millis(self.cfg.idle_timeout_ms.max(1));
        let every = (idle / 4).clamp(Duration::from_millis(50), Duration::from_secs(5));
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                let Some(pool) = weak.upgrade() else { return };
                let now = Instant::now();
                let dropped: Vec<Arc<Env>> = {
                    let mut st = pool.state.lock();
                    if st.shutting_down {
                        return;
                    }
                    let mut dropped = Vec::new();
                    for list in st.idle.values_mut() {
                        let (old, keep): (Vec<_>, Vec<_>) = list
                            .drain(..)
                            .partition(|e| now.duration_since(*e.idle_since.lock()) >= idle);
                        *list = keep;
                        dropped.extend(old);
                    }
                    st.idle.retain(|_, l| !l.is_empty());
                    dropped
                };
                pool.counters
                    .reaped
                    .fetch_add(dropped.len() as u64, Ordering::Relaxed);
                drop(dropped); // kills the processes, outside the lock
            }
        });
    }

    /// Runs one invocation. The work runs in its own task so that an abandoned caller
    /// (client gone) does not leave an environment half-used.
    pub(crate) async fn invoke(
        self: &Arc<Self>,
        spec: &Arc<FunctionSpec>,
        inv: Invocation,
    ) -> Result<InvokeOutcome, InvokeError> {
        self.start_reaper();
        let (slot, warm) = self.admit(spec)?;
        let pool = self.clone();
        let spec = spec.clone();
        tokio::spawn(async move { pool.run(slot, warm, spec, inv).await })
            .await
            .map_err(|e| InvokeError::Internal(format!("invocation task failed: {e}")))?
    }

    fn admit(
        self: &Arc<Self>,
        spec: &FunctionSpec,
    ) -> Result<(Slot, Option<Arc<Env>>), InvokeError> {
        let key = spec.env_key();
        let mut st = self.state.lock();
        if st.shutting_down {
            return Err(InvokeError::ShuttingDown);
        }
        let busy_fn = st
            .busy_by_function
            .get(&spec.function_arn)
            .copied()
            .unwrap_or(0);
        if let Some(reserved) = spec.reserved_concurrency {
            if busy_fn >= reserved {
                self.counters.throttles.fetch_add(1, Ordering::Relaxed);
                return Err(InvokeError::Throttled {
                    reason: "ReservedFunctionConcurrentInvocationLimitExceeded",
                });
            }
        }
        if st.busy_total >= self.cfg.account_concurrency {
            self.counters.throttles.fetch_add(1, Ordering::Relaxed);
            return Err(InvokeError::Throttled {
                reason: "ConcurrentInvocationLimitExceeded",
            });
        }
        st.busy_total += 1;
        *st.busy_by_function
            .entry(spec.function_arn.clone())
            .or_insert(0) += 1;
        let warm = st.idle.get_mut(&key).and_then(|l| l.pop());
        if st.idle.get(&key).is_some_and(|l| l.is_empty()) {
            st.idle.remove(&key);
        }
        drop(st);
        Ok((
            Slot {
                pool: self.clone(),
                function_arn: spec.function_arn.clone(),
            },
            warm,
        ))
    }

    async fn run(
        self: Arc<Self>,
        slot: Slot,
        warm: Option<Arc<Env>>,
        spec: Arc<FunctionSpec>,
        inv: Invocation,
    ) -> Result<InvokeOutcome, InvokeError> {
        self.counters.invocations.fetch_add(1, Ordering::Relaxed);
        let (env, invoke_start) = match warm {
            Some(env) if env.exit.borrow().is_none() => {
                self.counters.warm_starts.fetch_add(1, Ordering::Relaxed);
                (env, Instant::now())
            }
            _ => {
                self.counters.cold_starts.fetch_add(1, Ordering::Relaxed);
                match self.cold_start(&spec, &inv).await? {
                    Ok(env) => (env, Instant::now()),
                    Err(outcome) => return Ok(outcome),
                }
            }
        };
        let ending = self.run_job(&env, &spec, inv, invoke_start).await;
        drop(slot);
        match ending {
            Ending::Keep(outcome) => {
                self.release(env);
                Ok(outcome)
            }
            Ending::Kill(outcome) => {
                (env.process.kill)();
                Ok(outcome)
            }
        }
    }

    /// Puts an environment back in the idle list (unless its function was retired).
    fn release(&self, env: Arc<Env>) {
        *env.idle_since.lock() = Instant::now();
        let mut st = self.state.lock();
        let epoch = st.epochs.get(&env.function_arn).copied().unwrap_or(0);
        if st.shutting_down || epoch != env.epoch || env.exit.borrow().is_some() {
            drop(st);
            drop(env);
            return;
        }
        st.idle.entry(env.key.clone()).or_default().push(env);
    }

    /// Starts an environment and waits for its init phase. `Ok(Err(outcome))`: init
    /// failed, and the outcome is the error AWS returns for it.
    async fn cold_start(
        self: &Arc<Self>,
        spec: &Arc<FunctionSpec>,
        inv: &Invocation,
    ) -> Result<Result<Arc<Env>, InvokeOutcome>, InvokeError> {
        let layout_sandboxed = matches!(self.launcher, Launcher::Sandbox(_));
        let env_id = uuid::Uuid::new_v4().simple().to_string();
        let dir = self.cfg.work_dir.join("env").join(&env_id);
        std::fs::create_dir_all(&dir)
            .map_err(|e| InvokeError::Internal(format!("cannot create {}: {e}", dir.display())))?;
        let layout = if layout_sandboxed {
            Layout::sandboxed()
        } else {
            Layout::host(
                &spec.code_dir,
                spec.opt_dir.as_deref(),
                self.runtimes.runtime_dir(),
            )
        };
        let stream = stream_name(&spec.version, &env_id);
        let target = LogTarget {
            account_id: spec.account_id.clone(),
            region: spec.region.clone(),
            group: spec.log_group.clone(),
            stream: stream.clone(),
        };
        let launch = match self.runtimes.resolve(spec, &layout).await {
            Ok(l) => l,
            Err(ResolveError::Unavailable(msg)) => {
                let _ = std::fs::remove_dir_all(&dir);
                return Err(InvokeError::RuntimeUnavailable(msg));
            }
            Err(e @ ResolveError::InvalidEntrypoint) => {
                let _ = std::fs::remove_dir_all(&dir);
                self.counters.init_errors.fetch_add(1, Ordering::Relaxed);
                let msg = format!("RequestId: {} Error: {e}", inv.request_id);
                let lines = vec![
                    format!("INIT_REPORT Init Duration: 0.00 ms\tPhase: init\tStatus: error\tError Type: Runtime.InvalidEntrypoint"),
                    format!("START RequestId: {} Version: {}", inv.request_id, spec.version),
                    format!("{msg}\nRuntime.InvalidEntrypoint"),
                    format!("END RequestId: {}", inv.request_id),
                    format!("REPORT RequestId: {}\tDuration: 0.00 ms\tBilled Duration: 0 ms\tMemory Size: {} MB\tMax Memory Used: 0 MB\tStatus: error\tError Type: Runtime.InvalidEntrypoint", inv.request_id, spec.memory_mb),
                ];
                let tail = inv.want_log_tail.then(|| {
                    let mut t = Vec::new();
                    for l in &lines {
                        push_tail(&mut t, l.as_bytes());
                        push_tail(&mut t, b"\n");
                    }
                    t
                });
                let ts = now_ms();
                self.logs.append(
                    &target.account_id,
                    &target.region,
                    &target.group,
                    &target.stream,
                    lines.into_iter().map(|l| (ts, l)).collect(),
                );
                return Ok(Err(InvokeOutcome {
                    payload: error_doc("Runtime.InvalidEntrypoint", &msg),
                    function_error: Some("Unhandled".into()),
                    log_tail: tail,
                    duration_ms: 0.0,
                    billed_duration_ms: 0,
                    init_duration_ms: None,
                    max_memory_used_mb: 0,
                }));
            }
        };
        let env_vars = environment(&self.cfg, spec, &launch, &layout, &stream);
        let init_start = Instant::now();
        let (api, handles, process) = match &self.launcher {
            Launcher::Direct => self.launch_direct(spec, &launch, env_vars, &dir).await?,
            Launcher::Sandbox(helper) => {
                self.launch_sandbox(helper, spec, &launch, env_vars, &dir, &env_id)
                    .await?
            }
        };
        let log = Arc::new(EnvLog {
            tail: Mutex::new(inv.want_log_tail.then(Vec::new)),
            target,
            sink: self.logs.clone(),
            pipes: Mutex::new(Vec::new()),
        });
        for fd in &process.outputs {
            let fd = fd.try_clone().map_err(|e| {
                InvokeError::Internal(format!("cannot read the runtime's output: {e}"))
            })?;
            let rx = tokio::net::unix::pipe::Receiver::from_owned_fd(fd).map_err(|e| {
                InvokeError::Internal(format!("cannot read the runtime's output: {e}"))
            })?;
            let pipe = Arc::new(LogPipe {
                rx,
                state: Mutex::new(PipeState::default()),
                log: Arc::downgrade(&log),
            });
            log.pipes.lock().push(pipe.clone());
            tokio::spawn(pipe.run());
        }
        let epoch = {
            let mut st = self.state.lock();
            st.alive += 1;
            st.epochs.get(&spec.function_arn).copied().unwrap_or(0)
        };
        let alive = AliveGuard(Arc::downgrade(self));
        let env = Arc::new(Env {
            key: spec.env_key(),
            function_arn: spec.function_arn.clone(),
            jobs: handles.jobs,
            exit: process.exit.clone(),
            process,
            log,
            epoch,
            idle_since: Mutex::new(Instant::now()),
            init_duration_ms: Mutex::new(None),
            dir,
            _api: api,
        });
        // The guard lives as long as the environment's exit watcher task below.
        let mut exit = env.exit.clone();
        tokio::spawn(async move {
            let _alive = alive;
            while exit.borrow().is_none() {
                if exit.changed().await.is_err() {
                    break;
                }
            }
        });

        // The init phase: the first /next, an /init/error, an exit, or the init limit.
        let init_limit = Duration::from_millis(self.cfg.init_timeout_ms);
        let mut init_rx = handles.init;
        let mut exit = env.exit.clone();
        let mut timed_out_once = false;
        let init_deadline = tokio::time::Instant::now() + init_limit;
        // After the init limit AWS retries init within the invocation's own timeout; the
        // runtime here simply keeps going until that second deadline.
        let second_deadline = init_deadline + Duration::from_millis(spec.timeout_ms);
        let event = loop {
            let deadline = if timed_out_once {
                second_deadline
            } else {
                init_deadline
            };
            tokio::select! {
                ev = &mut init_rx => break InitOutcome::Event(ev.ok()),
                _ = wait_exit(&mut exit) => break InitOutcome::Exited,
                _ = tokio::time::sleep_until(deadline) => {
                    if timed_out_once {
                        break InitOutcome::TimedOut;
                    }
                    timed_out_once = true;
                    env.log.platform(&[format!(
                        "INIT_REPORT Init Duration: {:.2} ms\tPhase: init\tStatus: timeout",
                        init_start.elapsed().as_secs_f64() * 1000.0
                    )]);
                }
            }
        };
        let init_ms = init_start.elapsed().as_secs_f64() * 1000.0;
        match event {
            InitOutcome::Event(Some(InitEvent::Ready)) => {
                *env.init_duration_ms.lock() = Some(init_ms);
                Ok(Ok(env))
            }
            InitOutcome::Event(Some(InitEvent::Error { error_type, body })) => {
                self.counters.init_errors.fetch_add(1, Ordering::Relaxed);
                let etype = error_type.unwrap_or_else(|| "Runtime.Unknown".into());
                let payload = runtime_api::function_error_body(Some(&etype), &body);
                Ok(Err(self
                    .init_failure(&env, spec, inv, init_ms, payload, &etype, "error")
                    .await))
            }
            InitOutcome::Event(None) | InitOutcome::Exited => {
                self.counters.init_errors.fetch_add(1, Ordering::Relaxed);
                let info = env.exit.borrow().unwrap_or_default();
                let (etype, msg) = exit_error(&info, &inv.request_id);
                Ok(Err(self
                    .init_failure(
                        &env,
                        spec,
                        inv,
                        init_ms,
                        error_doc(etype, &msg),
                        etype,
                        "error",
                    )
                    .await))
            }
            InitOutcome::TimedOut => {
                self.counters.timeouts.fetch_add(1, Ordering::Relaxed);
                let secs = spec.timeout_ms as f64 / 1000.0;
                let payload = error_doc(
                    "Sandbox.Timedout",
                    &format!(
                        "RequestId: {} Error: Task timed out after {secs:.2} seconds",
                        inv.request_id
                    ),
                );
                Ok(Err(self
                    .init_failure(
                        &env,
                        spec,
                        inv,
                        init_ms,
                        payload,
                        "Sandbox.Timedout",
                        "timeout",
                    )
                    .await))
            }
        }
    }

    /// The invocation's log and outcome when init failed (the environment is dropped).
    #[allow(clippy::too_many_arguments)]
    async fn init_failure(
        &self,
        env: &Arc<Env>,
        spec: &FunctionSpec,
        inv: &Invocation,
        init_ms: f64,
        payload: Bytes,
        error_type: &str,
        status: &str,
    ) -> InvokeOutcome {
        (env.process.kill)();
        env.log.start_tail(inv.want_log_tail);
        env.log.drain();
        let id = &inv.request_id;
        let mem = env.max_memory_mb();
        let dur = init_ms;
        env.log.platform(&[
            format!("INIT_REPORT Init Duration: {init_ms:.2} ms\tPhase: init\tStatus: {status}\tError Type: {error_type}"),
            format!("START RequestId: {id} Version: {}", spec.version),
            format!("END RequestId: {id}"),
            format!(
                "REPORT RequestId: {id}\tDuration: {dur:.2} ms\tBilled Duration: {} ms\tMemory Size: {} MB\tMax Memory Used: {mem} MB\tStatus: {status}\tError Type: {error_type}",
                dur.ceil() as u64,
                spec.memory_mb
            ),
        ]);
        let tail = env.log.take_tail();
        InvokeOutcome {
            payload,
            function_error: Some("Unhandled".into()),
            log_tail: tail,
            duration_ms: dur,
            billed_duration_ms: dur.ceil() as u64,
            init_duration_ms: Some(init_ms),
            max_memory_used_mb: mem,
        }
    }

    async fn run_job(
        &self,
        env: &Arc<Env>,
        spec: &FunctionSpec,
        inv: Invocation,
        start: Instant,
    ) -> Ending {
        let id = inv.request_id.clone();
        let want_tail = inv.want_log_tail;
        env.log.start_tail(want_tail);
        env.log
            .platform(&[format!("START RequestId: {id} Version: {}", spec.version)]);
        let deadline_ms = now_ms() + spec.timeout_ms as i64;
        let (tx, rx) = oneshot::channel();
        let job = Job {
            request_id: inv.request_id,
            invoked_function_arn: inv.invoked_function_arn,
            deadline_ms,
            payload: inv.payload,
            client_context: inv.client_context,
            cognito_identity: inv.cognito_identity,
            trace_id: inv.trace_id,
            reply: tx,
        };
        let mut exit = env.exit.clone();
        let timeout = tokio::time::sleep(Duration::from_millis(spec.timeout_ms));
        enum Got {
            Reply(Option<RuntimeReply>),
            Exit,
            Timeout,
        }
        let got = if env.jobs.try_send(job).is_err() {
            // The server is gone (environment stopping): treat as an exit.
            Got::Exit
        } else {
            tokio::select! {
                r = rx => Got::Reply(r.ok()),
                _ = wait_exit(&mut exit) => Got::Exit,
                _ = timeout => Got::Timeout,
            }
        };
        let duration_ms = start.elapsed().as_secs_f64() * 1000.0;
        let init_duration = env.init_duration_ms.lock().take();
        let (payload, function_error, status, kill) = match got {
            Got::Reply(Some(RuntimeReply::Response(body))) => (body, None, None, false),
            Got::Reply(Some(RuntimeReply::Error { error_type, body })) => (
                runtime_api::function_error_body(error_type.as_deref(), &body),
                Some(()),
                None,
                false,
            ),
            Got::Reply(Some(RuntimeReply::TooLarge { size })) => (
                error_doc(
                    "Function.ResponseSizeTooLarge",
                    &format!(
                        "Response payload size ({size} bytes) exceeded maximum allowed payload size ({} bytes).",
                        runtime_api::MAX_RESPONSE_BYTES
                    ),
                ),
                Some(()),
                None,
                false,
            ),
            Got::Reply(None) | Got::Exit => {
                // The runtime may be exiting right now: give the exit status a moment.
                let _ = tokio::time::timeout(Duration::from_millis(100), wait_exit(&mut exit)).await;
                self.counters.crashes.fetch_add(1, Ordering::Relaxed);
                let info = env.exit.borrow().unwrap_or_default();
                let (etype, msg) = exit_error(&info, &id);
                (
                    error_doc(etype, &msg),
                    Some(()),
                    Some(("error", etype, Some(format!("{msg}\n{etype}")))),
                    true,
                )
            }
            Got::Timeout => {
                self.counters.timeouts.fetch_add(1, Ordering::Relaxed);
                let secs = spec.timeout_ms as f64 / 1000.0;
                let msg = format!("Task timed out after {secs:.2} seconds");
                (
                    error_doc("Sandbox.Timedout", &format!("RequestId: {id} Error: {msg}")),
                    Some(()),
                    Some(("timeout", "Sandbox.Timedout", Some(format!("{} {id} {msg}", iso_now())))),
                    true,
                )
            }
        };
        if kill {
            (env.process.kill)();
        }
        env.log.drain();
        let mem = env.max_memory_mb();
        let billed = duration_ms.ceil().max(1.0) as u64;
        let mut report = format!(
            "REPORT RequestId: {id}\tDuration: {duration_ms:.2} ms\tBilled Duration: {billed} ms\tMemory Size: {} MB\tMax Memory Used: {mem} MB",
            spec.memory_mb
        );
        if let Some(init) = init_duration {
            report.push_str(&format!("\tInit Duration: {init:.2} ms"));
        }
        let mut lines = Vec::with_capacity(3);
        if let Some((status, etype, line)) = &status {
            if let Some(l) = line {
                lines.push(l.clone());
            }
            report.push_str(&format!("\tStatus: {status}"));
            if *status == "error" {
                report.push_str(&format!("\tError Type: {etype}"));
            }
        }
        lines.push(format!("END RequestId: {id}"));
        lines.push(report);
        env.log.platform(&lines);
        let log_tail = env.log.take_tail();
        let outcome = InvokeOutcome {
            payload,
            function_error: function_error.map(|()| "Unhandled".to_string()),
            log_tail,
            duration_ms,
            billed_duration_ms: billed,
            init_duration_ms: init_duration,
            max_memory_used_mb: mem,
        };
        if kill {
            Ending::Kill(outcome)
        } else {
            Ending::Keep(outcome)
        }
    }

    async fn launch_direct(
        &self,
        spec: &FunctionSpec,
        launch: &RuntimeLaunch,
        mut env: Vec<(String, String)>,
        dir: &std::path::Path,
    ) -> Result<(RuntimeApi, runtime_api::RuntimeApiHandles, Process), InvokeError> {
        let internal =
            |what: &str, e: std::io::Error| InvokeError::Internal(format!("{what}: {e}"));
        let (api, handles, addr) = RuntimeApi::bind_tcp()
            .await
            .map_err(|e| internal("cannot start the Runtime API", e))?;
        env.push(("AWS_LAMBDA_RUNTIME_API".into(), addr.to_string()));
        let (reader, writer) = std::io::pipe().map_err(|e| internal("pipe", e))?;
        let writer2 = writer.try_clone().map_err(|e| internal("pipe", e))?;
        let program = launch.argv.first().cloned().unwrap_or_default();
        let tmp = dir.join("tmp");
        let _ = std::fs::create_dir_all(&tmp);
        let mut cmd = tokio::process::Command::new(&program);
        cmd.args(launch.argv.iter().skip(1))
            .env_clear()
            .envs(env)
            .env("TMPDIR", &tmp)
            .current_dir(&spec.code_dir)
            .stdin(std::process::Stdio::null())
            .stdout(writer)
            .stderr(writer2)
            .kill_on_drop(true);
        let mut child = cmd
            .spawn()
            .map_err(|e| internal(&format!("cannot start {program}"), e))?;
        let pid = child.id();
        let (exit_tx, exit_rx) = watch::channel(None);
        let (kill_tx, kill_rx) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let status = tokio::select! {
                s = child.wait() => s,
                _ = kill_rx => {
                    let _ = child.start_kill();
                    child.wait().await
                }
            };
            let info = match status {
                Ok(s) => {
                    use std::os::unix::process::ExitStatusExt;
                    ExitInfo {
                        code: s.code(),
                        signal: s.signal(),
                        oom_killed: false,
                    }
                }
                Err(_) => ExitInfo::default(),
            };
            let _ = exit_tx.send(Some(info));
        });
        let kill_tx = Mutex::new(Some(kill_tx));
        Ok((
            api,
            handles,
            Process {
                pid,
                outputs: vec![OwnedFd::from(reader)],
                exit: exit_rx,
                kill: Box::new(move || {
                    if let Some(tx) = kill_tx.lock().take() {
                        let _ = tx.send(());
                    }
                }),
                peak_memory: None,
            },
        ))
    }

    async fn launch_sandbox(
        &self,
        helper: &std::path::Path,
        spec: &FunctionSpec,
        launch: &RuntimeLaunch,
        env: Vec<(String, String)>,
        dir: &std::path::Path,
        env_id: &str,
    ) -> Result<(RuntimeApi, runtime_api::RuntimeApiHandles, Process), InvokeError> {
        let sspec = SandboxSpec {
            id: env_id.to_owned(),
            argv: launch.argv.clone(),
            env,
            code_dir: spec.code_dir.clone(),
            opt_dir: spec.opt_dir.clone(),
            runtime_dir: Some(self.runtimes.runtime_dir().to_path_buf()),
            host_ro_paths: launch.host_ro_paths.clone(),
            tmp_mb: spec.ephemeral_storage_mb,
            memory_mb: spec.memory_mb,
            nimbus_socket: self.cfg.nimbus_socket.clone(),
            nimbus_addr: self.cfg.nimbus_addr,
            scratch_dir: dir.join("sandbox"),
        };
        let mut child = sandbox::launch(helper, &sspec)
            .map_err(|e| InvokeError::Internal(format!("cannot start the sandbox: {e}")))?;
        let listener = child.runtime_api_listener.take().ok_or_else(|| {
            InvokeError::Internal("the sandbox has no Runtime API listener".to_string())
        })?;
        let (api, handles) = RuntimeApi::serve_passed(listener);
        let mut outputs = Vec::with_capacity(2);
        if let Some(out) = child.stdout.take() {
            outputs.push(out.into_owned_fd().map_err(|e| {
                InvokeError::Internal(format!("cannot read the runtime's output: {e}"))
            })?);
        }
        if let Some(err) = child.stderr.take() {
            outputs.push(err.into_owned_fd().map_err(|e| {
                InvokeError::Internal(format!("cannot read the runtime's output: {e}"))
            })?);
        }
        let killer = child.killer();
        let (exit_tx, exit_rx) = watch::channel(None);
        // Bounded: one probe per invocation, and invocations of an environment are serial.
        let memory = child.memory_probe();
        tokio::spawn(async move {
            let info = child.wait().await;
            let _ = exit_tx.send(Some(ExitInfo {
                code: info.code,
                signal: info.signal,
                oom_killed: info.oom_killed,
            }));
        });
        Ok((
            api,
            handles,
            Process {
                pid: None,
                outputs,
                exit: exit_rx,
                kill: Box::new(move || killer.kill()),
                peak_memory: Some(memory),
            },
        ))
    }

    /// Stops the environments of `function_arn`; busy ones stop when their invocation ends.
    pub(crate) fn retire(&self, function_arn: &str) {
        let prefix = format!("{function_arn}:");
        let dropped: Vec<Arc<Env>> = {
            let mut st = self.state.lock();
            *st.epochs.entry(function_arn.to_owned()).or_insert(0) += 1;
            let keys: Vec<String> = st
                .idle
                .keys()
                .filter(|k| k.starts_with(&prefix))
                .cloned()
                .collect();
            keys.iter()
                .filter_map(|k| st.idle.remove(k))
                .flatten()
                .collect()
        };
        drop(dropped);
    }

    pub(crate) async fn shutdown(&self) {
        let dropped: Vec<Arc<Env>> = {
            let mut st = self.state.lock();
            st.shutting_down = true;
            st.idle.drain().flat_map(|(_, v)| v).collect()
        };
        drop(dropped);
        // Busy environments end with their invocation (release() drops them); wait a
        // little for in-flight work, bounded.
        for _ in 0..50 {
            if self.state.lock().busy_total == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub(crate) fn health(&self) -> serde_json::Value {
        let st = self.state.lock();
        let idle: usize = st.idle.values().map(Vec::len).sum();
        let c = &self.counters;
        let r = |a: &AtomicU64| a.load(Ordering::Relaxed);
        serde_json::json!({
            "environments": { "alive": st.alive, "idle": idle, "busy": st.busy_total },
            "account_concurrency": self.cfg.account_concurrency,
            "invocations": r(&c.invocations),
            "cold_starts": r(&c.cold_starts),
            "warm_starts": r(&c.warm_starts),
            "throttles": r(&c.throttles),
            "timeouts": r(&c.timeouts),
            "crashes": r(&c.crashes),
            "init_errors": r(&c.init_errors),
            "reaped": r(&c.reaped),
            "sandbox": match self.launcher {
                Launcher::Direct => serde_json::json!({ "mode": "direct (unsandboxed)" }),
                Launcher::Sandbox(_) => serde_json::to_value(sandbox::protections())
                    .unwrap_or(serde_json::Value::Null),
            },
        })
    }
}

enum InitOutcome {
    Event(Option<InitEvent>),
    Exited,
    TimedOut,
}

async fn wait_exit(exit: &mut watch::Receiver<Option<ExitInfo>>) {
    while exit.borrow().is_none() {
        if exit.changed().await.is_err() {
            // The watcher is gone without a status: never resolve (the other branches
            // decide).
            std::future::pending::<()>().await;
        }
    }
}

/// AWS's error for a runtime that exited: `Runtime.ExitError`, or `Runtime.OutOfMemory`
/// when the memory limit killed it.
fn exit_error(info: &ExitInfo, request_id: &str) -> (&'static str, String) {
    let etype = if info.oom_killed {
        "Runtime.OutOfMemory"
    } else {
        "Runtime.ExitError"
    };
    (
        etype,
        format!(
            "RequestId: {request_id} Error: Runtime exited with error: {}",
            info.describe()
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_783), (2026, 11, 26));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }

    #[test]
    fn exit_descriptions_match_go_wording() {
        let e = ExitInfo {
            code: Some(1),
            signal: None,
            oom_killed: false,
        };
        assert_eq!(e.describe(), "exit status 1");
        let k = ExitInfo {
            code: None,
            signal: Some(9),
            oom_killed: true,
        };
        assert_eq!(k.describe(), "signal: killed");
        let (t, m) = exit_error(&k, "abc");
        assert_eq!(t, "Runtime.OutOfMemory");
        assert_eq!(
            m,
            "RequestId: abc Error: Runtime exited with error: signal: killed"
        );
    }

    #[test]
    fn tail_keeps_the_last_4k() {
        let mut t = Vec::new();
        push_tail(&mut t, &[b'a'; 5000]);
        push_tail(&mut t, b"end");
        assert_eq!(t.len(), TAIL_BYTES);
        assert!(t.ends_with(b"aend"));
    }
}
