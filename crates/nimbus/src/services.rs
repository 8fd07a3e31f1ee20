//! The services behind the gateway. The listener never waits for them: the store opens
//! in the background, and DynamoDB (with the event bus and its background work: stream
//! retention, TTL sweeper, replication) is created as soon as the store is open, not on
//! the first request, so background work runs even on an idle node. Adding a service is
//! one arm in [`Services::dispatch`] and one in [`Services::state`].

use std::sync::Arc;

use nimbus_blob::BlobStore;
use nimbus_core::{RequestContext, SharedClock};
use nimbus_dynamodb::ops::streams::StreamsConfig;
use nimbus_dynamodb::ops::DynamoDb;
use nimbus_functions::{Engine, EngineConfig};
use nimbus_iam::{CredentialStore, Iam, IamState, Sts};
use nimbus_lambda::Lambda;
use nimbus_logs::Logs;
use nimbus_s3::{S3Config, S3State};
use nimbus_wire::{AwsError, AwsRequest, AwsResponse};
use tokio::sync::OnceCell;

use crate::errors;
use crate::function_logs::FunctionLogs;
use crate::router::ServiceId;
use crate::s3_edge::S3Handle;
use crate::store::StoreHandle;

/// A service's state as the health endpoint reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceState {
    Running,
    /// Known to the router (requests get an AWS-shaped error), not served yet.
    Unavailable,
}

impl ServiceState {
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceState::Running => "running",
            ServiceState::Unavailable => "unavailable",
        }
    }
}

/// Every service instance nimbus runs.
pub struct Services {
    store: StoreHandle,
    clock: SharedClock,
    /// Shared with the task that creates DynamoDB once the store is open.
    dynamodb: Arc<OnceCell<DynamoDb>>,
    iam: OnceCell<IamState>,
    /// Shared with the task that creates S3 once the store is open.
    s3: Arc<OnceCell<Arc<S3Handle>>>,
    /// Turns true at shutdown: S3's background loops stop.
    s3_stop: tokio::sync::watch::Sender<bool>,
    s3_tasks: parking_lot::Mutex<Vec<tokio::task::JoinHandle<()>>>,
    /// CloudWatch Logs, created as soon as the store is open (its retention sweeper
    /// runs on an idle node too).
    logs: Arc<OnceCell<Arc<Logs>>>,
    /// Function output → CloudWatch Logs (attached once Logs exists).
    function_logs: Arc<FunctionLogs>,
    /// Runs functions; `None` when the options name no work directory (unit tests).
    engine: Option<Arc<Engine>>,
    /// Lambda, created as soon as the store is open (its async queue must run on an idle
    /// node too).
    lambda: Arc<OnceCell<Lambda>>,
    lambda_stop: tokio::sync::watch::Sender<bool>,
    lambda_tasks: Arc<parking_lot::Mutex<Vec<tokio::task::JoinHandle<()>>>>,
    streams: StreamsConfig,
    options: ServiceOptions,
}

/// Where and how functions run.
#[derive(Debug, Clone)]
pub struct FunctionOptions {
    /// The process's work directory (sockets, unpacked code; never the data directory).
    pub work_dir: std::path::PathBuf,
    pub runtime_cache_dir: std::path::PathBuf,
    /// nimbus's TCP address and its gateway's Unix socket (for sandboxes).
    pub nimbus_addr: std::net::SocketAddr,
    pub nimbus_socket: Option<std::path::PathBuf>,
    pub concurrency: u32,
    pub idle_ms: u64,
    pub retry_delay_ms: u64,
    /// How sandboxed functions reach the network.
    pub network: nimbus_functions::sandbox::FunctionNetwork,
    /// Paths sandboxes must never see (the data directory).
    pub hidden_paths: Vec<std::path::PathBuf>,
}

/// Operator settings the services take from the configuration.
#[derive(Clone)]
pub struct ServiceOptions {
    /// DynamoDB's TTL sweeper interval.
    pub ttl_sweep_interval_ms: u64,
    /// Where S3 keeps object bodies; `None` keeps them in memory (`--in-memory`).
    pub blob_dir: Option<std::path::PathBuf>,
    /// Host names for virtual-host and website addressing besides `localhost`.
    pub host_names: Vec<String>,
    /// The keys S3's signature checks look secrets up in.
    pub credentials: Option<Arc<dyn CredentialStore>>,
    /// How often S3's lifecycle job runs.
    pub s3_lifecycle_interval_ms: u64,
    /// Lambda's engine settings; `None`: Lambda answers ServiceUnavailable.
    pub functions: Option<FunctionOptions>,
}

impl Default for ServiceOptions {
    fn default() -> Self {
        ServiceOptions {
            ttl_sweep_interval_ms: crate::config::DEFAULT_TTL_SWEEP_INTERVAL_MS,
            blob_dir: None,
            host_names: Vec::new(),
            credentials: None,
            s3_lifecycle_interval_ms: crate::config::DEFAULT_S3_LIFECYCLE_INTERVAL_MS,
            functions: None,
        }
    }
}

impl std::fmt::Debug for ServiceOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceOptions")
            .field("ttl_sweep_interval_ms", &self.ttl_sweep_interval_ms)
            .field("blob_dir", &self.blob_dir)
            .field("host_names", &self.host_names)
            .finish_non_exhaustive()
    }
}

/// The init phase's own limit (AWS: 10 s).
const INIT_TIMEOUT_MS: u64 = 10_000;

/// Everything needed to create Lambda once the store is open.
struct LambdaInit {
    cell: Arc<OnceCell<Lambda>>,
    engine: Arc<Engine>,
    functions: FunctionOptions,
    /// `<data>/lambda-blobs`; `None` keeps packages in memory (`--in-memory`). Lambda has
    /// its own blob directory: S3's crash recovery removes temporary blobs S3 does not
    /// know.
    blob_dir: Option<std::path::PathBuf>,
    host_names: Vec<String>,
    stop: tokio::sync::watch::Receiver<bool>,
    tasks: Arc<parking_lot::Mutex<Vec<tokio::task::JoinHandle<()>>>>,
    /// S3, for packages named by `Code.S3Bucket`/`S3Key`.
    s3: Arc<OnceCell<Arc<S3Handle>>>,
}

impl LambdaInit {
    async fn get(self, db: nimbus_store::Db, clock: SharedClock) -> Result<(), String> {
        let LambdaInit {
            cell,
            engine,
            functions,
            blob_dir,
            host_names,
            stop,
            tasks,
            s3,
        } = self;
        cell.get_or_try_init(|| async move {
            let blobs = match &blob_dir {
                Some(dir) => BlobStore::open(dir.clone()).map_err(|e| {
                    format!("cannot open Lambda's blob store at {}: {e}", dir.display())
                })?,
                None => BlobStore::in_memory(),
            };
            let port = functions.nimbus_addr.port();
            let host = match functions.nimbus_addr.ip() {
                ip if ip.is_unspecified() => "127.0.0.1".to_string(),
                std::net::IpAddr::V6(ip) => format!("[{ip}]"),
                ip => ip.to_string(),
            };
            let iam = IamState::new(db.clone(), clock.clone());
            let lambda = Lambda::new(
                db,
                Arc::new(blobs),
                clock,
                engine,
                iam,
                nimbus_lambda::LambdaConfig {
                    code_cache_dir: functions.work_dir.join("code"),
                    public_base_url: format!("http://{host}:{port}"),
                    url_host: host_names.first().cloned(),
                    port,
                    async_retry_base_delay_ms: functions.retry_delay_ms,
                    ..Default::default()
                },
            );
            lambda.set_code_objects(Arc::new(crate::lambda_code_s3::S3CodeObjects { s3 }));
            lambda.startup_recovery().await?;
            tasks.lock().extend(lambda.start_background(stop));
            Ok::<_, String>(lambda)
        })
        .await
        .map(|_| ())
    }
}

/// Waits for a service's stopped background loops, each for at most the grace period.
async fn join_bounded(tasks: Vec<tokio::task::JoinHandle<()>>, service: &str) {
    for t in tasks {
        let grace = std::time::Duration::from_millis(BACKGROUND_JOBS_GRACE_MS);
        if tokio::time::timeout(grace, t).await.is_err() {
            tracing::warn!("a {service} background loop did not stop in time");
        }
    }
}

/// How long shutdown waits for DynamoDB background jobs (index backfills, table purges)
/// to reach a stopping point; unfinished ones resume on the next start.
const BACKGROUND_JOBS_GRACE_MS: u64 = 5_000;

/// Environment variable: DynamoDB Streams shard rollover period in milliseconds (AWS:
/// about 4 hours). For tests that want to see shards roll over.
pub const ENV_STREAM_SHARD_PERIOD_MS: &str = "NIMBUS_DDB_STREAM_SHARD_PERIOD_MS";

/// The streams timing: AWS's, with the shard period from the environment if set.
fn streams_config_from_env() -> StreamsConfig {
    let mut cfg = StreamsConfig::default();
    if let Some(ms) = std::env::var(ENV_STREAM_SHARD_PERIOD_MS)
        .ok()
        .and_then(|v| v.trim().parse::<i64>().ok())
        .filter(|ms| *ms >= 1_000)
    {
        cfg.shard_period_ms = ms;
    }
    cfg
}

impl Services {
    /// Creates the services; inside a Tokio runtime, DynamoDB and its background work
    /// start as soon as the store is open.
    pub fn new(store: StoreHandle, clock: SharedClock, options: ServiceOptions) -> Self {
        let function_logs = Arc::new(FunctionLogs::default());
        let engine = options.functions.as_ref().and_then(|f| {
            let helper_exe = std::env::current_exe().unwrap_or_default();
            let cfg = EngineConfig {
                work_dir: f.work_dir.join("env"),
                runtime_cache_dir: f.runtime_cache_dir.clone(),
                helper_exe: helper_exe.clone(),
                nimbus_addr: f.nimbus_addr,
                nimbus_socket: f.nimbus_socket.clone(),
                account_concurrency: f.concurrency,
                idle_timeout_ms: f.idle_ms,
                init_timeout_ms: INIT_TIMEOUT_MS,
                hidden_paths: f.hidden_paths.clone(),
            };
            match Engine::try_new(cfg, function_logs.clone()) {
                Ok(engine) => {
                    // Before any helper exists: warm helpers are prepared with it.
                    nimbus_functions::sandbox::set_network(f.network);
                    if tokio::runtime::Handle::try_current().is_ok() {
                        // Sandboxes ready before the first invoke: a cold start then only
                        // hands the function to an already confined helper.
                        nimbus_functions::sandbox::prewarm(&helper_exe);
                    }
                    Some(engine)
                }
                Err(e) => {
                    tracing::error!(error = %e, "cannot create the function engine; Lambda is unavailable");
                    None
                }
            }
        });
        let services = Services {
            store,
            clock,
            dynamodb: Arc::new(OnceCell::new()),
            iam: OnceCell::new(),
            s3: Arc::new(OnceCell::new()),
            s3_stop: tokio::sync::watch::channel(false).0,
            s3_tasks: parking_lot::Mutex::new(Vec::new()),
            logs: Arc::new(OnceCell::new()),
            function_logs,
            engine,
            lambda: Arc::new(OnceCell::new()),
            lambda_stop: tokio::sync::watch::channel(false).0,
            lambda_tasks: Arc::new(parking_lot::Mutex::new(Vec::new())),
            streams: streams_config_from_env(),
            options,
        };
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            let (store, clock, cell, cfg, options) = (
                services.store.clone(),
                services.clock.clone(),
                services.dynamodb.clone(),
                services.streams.clone(),
                services.options.clone(),
            );
            let logs = services.logs.clone();
            let function_logs = services.function_logs.clone();
            let lambda_init = services.lambda_init();
            let lambda_cell = services.lambda.clone();
            let has_engine = services.engine.is_some();
            rt.spawn(async move {
                // A store that fails to open stops nimbus elsewhere; nothing to do here.
                if let Ok(db) = store.db().await {
                    let _ = logs
                        .get_or_try_init(|| async {
                            Ok::<_, ()>(Self::make_logs(db.clone(), clock.clone(), &function_logs))
                        })
                        .await;
                    if let Some(init) = lambda_init {
                        if let Err(e) = init.get(db.clone(), clock.clone()).await {
                            tracing::error!(error = %e, "Lambda did not start");
                        }
                    }
                    let ddb = cell
                        .get_or_try_init(|| async {
                            Ok::<_, ()>(Self::make_dynamodb(db, clock, cfg, &options))
                        })
                        .await;
                    // S3 notifications go through DynamoDB's bus (the process's one).
                    if let (Ok(ddb), true) = (ddb, has_engine) {
                        crate::s3_notifications::start(ddb.bus(), lambda_cell, ddb.db());
                    }
                }
            });
        }
        services
    }

    /// S3 over `db`: opens the blob store, runs crash recovery, starts the background
    /// loops (blob reaper, lifecycle).
    async fn make_s3(&self, db: nimbus_store::Db) -> Result<Arc<S3Handle>, String> {
        let blobs = match &self.options.blob_dir {
            Some(dir) => BlobStore::open(dir.clone())
                .map_err(|e| format!("cannot open the blob store at {}: {e}", dir.display()))?,
            None => BlobStore::in_memory(),
        };
        let mut host_names = vec!["localhost".to_string()];
        host_names.extend(self.options.host_names.iter().cloned());
        let credentials = self
            .options
            .credentials
            .clone()
            .unwrap_or_else(|| Arc::new(nimbus_iam::StaticCredentials::default()));
        let notifications = nimbus_s3::NotificationHooks::default();
        // Lambda destinations are checked against Lambda itself, as S3 does, and
        // delivered by the consumer `s3_notifications` runs. Without Lambda (no function
        // engine) configurations are stored unchecked and nothing is delivered.
        if self.engine.is_some() {
            let ddb = self.dynamodb.clone();
            notifications.set_wake(Arc::new(move || {
                if let Some(d) = ddb.get() {
                    d.notify_bus();
                }
            }));
            let lambda = self.lambda.clone();
            notifications.set_lambda_check(Arc::new(move |arn, bucket, owner| {
                crate::s3_notifications::check_destination(lambda.get(), arn, bucket, owner)
            }));
        }
        let state = Arc::new(S3State {
            notifications,
            db,
            blobs: Arc::new(blobs),
            clock: self.clock.clone(),
            credentials,
            config: S3Config {
                host_names,
                lifecycle_interval_ms: self.options.s3_lifecycle_interval_ms,
                ..S3Config::default()
            },
            owners: Default::default(),
        });
        nimbus_s3::startup_recovery(&state)
            .await
            .map_err(|e| format!("S3 crash recovery failed: {e}"))?;
        let tasks = nimbus_s3::start_background(&state, self.s3_stop.subscribe());
        self.s3_tasks.lock().extend(tasks);
        let service = nimbus_s3::service(state.clone());
        Ok(Arc::new(S3Handle { state, service }))
    }

    /// The S3 service, created on first use (after the store opened).
    pub async fn s3(&self) -> Result<Arc<S3Handle>, String> {
        self.s3
            .get_or_try_init(|| async {
                let db = self.store.db().await?;
                self.make_s3(db).await
            })
            .await
            .cloned()
    }

    /// DynamoDB over `db` with its background work started. It creates the process's
    /// event bus (`DynamoDb::bus`); later services share that one.
    fn make_dynamodb(
        db: nimbus_store::Db,
        clock: SharedClock,
        cfg: StreamsConfig,
        options: &ServiceOptions,
    ) -> DynamoDb {
        let ttl = nimbus_dynamodb::ops::ttl::SweepConfig {
            interval_ms: options.ttl_sweep_interval_ms,
            ..Default::default()
        };
        let svc = DynamoDb::new(db, clock)
            .with_streams_config(cfg)
            .with_ttl_config(ttl);
        svc.start_background();
        svc
    }

    fn make_logs(
        db: nimbus_store::Db,
        clock: SharedClock,
        function_logs: &FunctionLogs,
    ) -> Arc<Logs> {
        let logs = Logs::new(db, clock);
        logs.start_background();
        function_logs.attach(logs.sink());
        logs
    }

    async fn logs(&self) -> Result<&Arc<Logs>, AwsError> {
        self.logs
            .get_or_try_init(|| async {
                let db = self.store.db().await.map_err(Self::store_unavailable)?;
                Ok(Self::make_logs(db, self.clock.clone(), &self.function_logs))
            })
            .await
    }

    /// What creating Lambda needs, detached from `self` so the startup task can own it.
    fn lambda_init(&self) -> Option<LambdaInit> {
        let engine = self.engine.clone()?;
        let functions = self.options.functions.clone()?;
        Some(LambdaInit {
            cell: self.lambda.clone(),
            engine,
            functions,
            blob_dir: self
                .options
                .blob_dir
                .as_ref()
                .and_then(|d| d.parent().map(|p| p.join("lambda-blobs"))),
            host_names: self.options.host_names.clone(),
            stop: self.lambda_stop.subscribe(),
            tasks: self.lambda_tasks.clone(),
            s3: self.s3.clone(),
        })
    }

    async fn lambda(&self) -> Result<&Lambda, AwsError> {
        if let Some(lambda) = self.lambda.get() {
            return Ok(lambda);
        }
        let Some(init) = self.lambda_init() else {
            return Err(errors::service_unavailable(ServiceId::Lambda));
        };
        let db = self.store.db().await.map_err(Self::store_unavailable)?;
        init.get(db, self.clock.clone())
            .await
            .map_err(Self::store_unavailable)?;
        self.lambda
            .get()
            .ok_or_else(|| errors::service_unavailable(ServiceId::Lambda))
    }

    /// Lambda, if it is running (the gateway's function-URL and code-download routes).
    pub async fn lambda_service(&self) -> Option<&Lambda> {
        self.lambda().await.ok()
    }

    /// The function engine's health report (`None` without an engine).
    pub fn functions_health(&self) -> Option<serde_json::Value> {
        let engine = self.engine.as_ref()?;
        let mut v = engine.health();
        if let (Some(lambda), Some(obj)) = (self.lambda.get(), v.as_object_mut()) {
            obj.insert("async_queue_depth".into(), lambda.queue_depth().into());
        }
        Some(v)
    }

    /// The event bus's counters (`None` until the store is open).
    pub fn bus_metrics(&self) -> Option<serde_json::Value> {
        self.dynamodb.get().map(|d| d.bus().metrics())
    }

    pub fn state(&self, service: ServiceId) -> ServiceState {
        match service {
            ServiceId::DynamoDb
            | ServiceId::DynamoDbStreams
            | ServiceId::Sts
            | ServiceId::Iam
            | ServiceId::S3
            | ServiceId::Logs => ServiceState::Running,
            ServiceId::Lambda if self.engine.is_some() => ServiceState::Running,
            _ => ServiceState::Unavailable,
        }
    }

    fn store_unavailable(message: String) -> AwsError {
        let mut e = AwsError::new(
            http::StatusCode::SERVICE_UNAVAILABLE,
            "ServiceUnavailable",
            message,
        );
        e.sender_fault = false;
        e
    }

    async fn dynamodb(&self) -> Result<&DynamoDb, AwsError> {
        self.dynamodb
            .get_or_try_init(|| async {
                let db = self.store.db().await.map_err(Self::store_unavailable)?;
                Ok(Self::make_dynamodb(
                    db,
                    self.clock.clone(),
                    self.streams.clone(),
                    &self.options,
                ))
            })
            .await
    }

    async fn iam_state(&self) -> Result<&IamState, AwsError> {
        self.iam
            .get_or_try_init(|| async {
                let db = self.store.db().await.map_err(Self::store_unavailable)?;
                Ok(IamState::new(db, self.clock.clone()))
            })
            .await
    }

    /// Runs an authenticated request.
    pub async fn dispatch(
        &self,
        service: ServiceId,
        ctx: &RequestContext,
        req: &AwsRequest,
    ) -> AwsResponse {
        let protocol = service.protocol_for(req);
        let fail = |e: AwsError| {
            errors::encode(
                protocol,
                &errors::for_service(service, protocol, e),
                &ctx.request_id,
            )
        };
        match service {
            ServiceId::DynamoDb => match self.dynamodb().await {
                Ok(svc) => nimbus_model::dynamodb::dispatch(svc, ctx, req).await,
                Err(e) => fail(e),
            },
            ServiceId::DynamoDbStreams => match self.dynamodb().await {
                Ok(svc) => nimbus_model::dynamodbstreams::dispatch(svc, ctx, req).await,
                Err(e) => fail(e),
            },
            ServiceId::Sts => match self.iam_state().await {
                Ok(state) => nimbus_model::sts::dispatch(&Sts::new(state.clone()), ctx, req).await,
                Err(e) => fail(e),
            },
            ServiceId::Iam => match self.iam_state().await {
                Ok(state) => nimbus_model::iam::dispatch(&Iam::new(state.clone()), ctx, req).await,
                Err(e) => fail(e),
            },
            ServiceId::Lambda => match self.lambda().await {
                Ok(lambda) => nimbus_lambda::dispatch(lambda, ctx, req).await,
                Err(e) => fail(e),
            },
            ServiceId::Logs => match self.logs().await {
                Ok(logs) => nimbus_logs::dispatch(logs, ctx, req).await,
                Err(e) => fail(e),
            },
            other => fail(errors::service_unavailable(other)),
        }
    }

    /// Lets background work reach a stopping point before the store closes.
    pub async fn shutdown(&self) {
        let _ = self.lambda_stop.send(true);
        let tasks = std::mem::take(&mut *self.lambda_tasks.lock());
        join_bounded(tasks, "Lambda").await;
        if let Some(engine) = &self.engine {
            engine.shutdown().await;
            nimbus_functions::sandbox::drain_warm();
        }
        if let Some(w) = self.function_logs.writer() {
            // Function output queued before the stop reaches the store before it closes.
            let _ = tokio::time::timeout(
                std::time::Duration::from_millis(BACKGROUND_JOBS_GRACE_MS),
                w.flush(),
            )
            .await;
        }
        let _ = self.s3_stop.send(true);
        let tasks = std::mem::take(&mut *self.s3_tasks.lock());
        join_bounded(tasks, "S3").await;
        if let Some(logs) = self.logs.get() {
            if !logs.stop_background(BACKGROUND_JOBS_GRACE_MS).await {
                tracing::warn!("the CloudWatch Logs sweeper did not stop in time");
            }
        }
        if let Some(ddb) = self.dynamodb.get() {
            if !ddb.stop_background(BACKGROUND_JOBS_GRACE_MS).await {
                tracing::warn!(
                    "DynamoDB background loops or event consumers still running at shutdown"
                );
            }
            if !ddb.wait_for_background_jobs(BACKGROUND_JOBS_GRACE_MS).await {
                tracing::warn!("DynamoDB background jobs still running at shutdown; they resume on the next start");
            }
        }
    }
}
