//! nimbus-loadgen: many keep-alive HTTP/1.1 connections sending correctly SigV4-signed AWS
//! requests (DynamoDB awsJson, S3 GetObject/PutObject, Lambda Invoke), with a warmup, a
//! bounded run (time or request count) and latency quantiles. `--workload lambda-cold` times
//! the first Invoke of new functions instead; `--presign` prints a presigned S3 URL.
//!
//! It only ever talks to loopback addresses: it is a benchmark tool for this machine.

mod histogram;
mod lambda_cold;
mod replay;
mod sign;
mod workload;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use bytes::Bytes;
use clap::{Parser, ValueEnum};
use http::{HeaderMap, HeaderValue, Request};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use nimbus_wire::sigv4::{SigningKeyCache, DEFAULT_KEY_CACHE_CAPACITY};
use tokio::net::TcpStream;

use histogram::Histogram;
use sign::Signer;
use workload::{Req, Rng, Workload};

/// Upper bounds so that a typo cannot turn a benchmark into a runaway process.
const MAX_CONNECTIONS: usize = 4096;
const MAX_RUN: Duration = Duration::from_secs(600);
const MAX_CONNECT_FAILURES_IN_A_ROW: u32 = 100;
const RECONNECT_PAUSE: Duration = Duration::from_millis(10);
const TABLE_ACTIVE_TIMEOUT: Duration = Duration::from_secs(60);
/// Tries per preloaded key (a peer may close a keep-alive connection under our feet).
const PRELOAD_ATTEMPTS: u32 = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ClientKind {
    /// Requests signed once per run, replayed as raw bytes (about as light as wrk).
    Replay,
    /// hyper's HTTP/1.1 client, signing every request as an SDK does (heavier).
    Hyper,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum WorkloadKind {
    GetItem,
    PutItem,
    Raw,
    /// S3 GetObject of random keys of the key space (`--preload` puts them first).
    S3Get,
    /// S3 PutObject of `--object-size` bytes under random keys of the key space.
    S3Put,
    /// Lambda Invoke (RequestResponse) of `--function` with `--body` as the event.
    LambdaInvoke,
    /// `--cold-runs` times: create a function from `--zip`, time its first and second Invoke,
    /// delete it (one connection; not a load test).
    LambdaCold,
}

/// Upper bound of `--object-size` (the whole pool of a replay run is held in memory).
const MAX_OBJECT_SIZE: usize = 16 * 1024 * 1024;
/// Longest validity of a presigned URL (S3's limit: seven days).
const MAX_PRESIGN_EXPIRES_S: u64 = 7 * 24 * 3600;

/// Send signed AWS requests to a local endpoint and report throughput and latency.
#[derive(Debug, Parser)]
#[command(name = "nimbus-loadgen", version)]
struct Args {
    /// Endpoint URL; only loopback addresses are accepted.
    #[arg(long, default_value = "http://127.0.0.1:4566")]
    endpoint: String,
    /// Concurrent keep-alive connections (one request in flight on each).
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Measured run time, e.g. `10s`, `500ms` (default 10s unless --requests is given).
    #[arg(long, value_parser = parse_duration)]
    duration: Option<Duration>,
    /// Measure exactly this many requests instead of a duration.
    #[arg(long)]
    requests: Option<u64>,
    /// Unmeasured load before the measurement starts.
    #[arg(long, value_parser = parse_duration, default_value = "1s")]
    warmup: Duration,
    /// What to send.
    #[arg(long, value_enum, default_value = "get-item")]
    workload: WorkloadKind,
    /// DynamoDB table for get-item / put-item (key attribute `pk`, type S).
    #[arg(long, default_value = "loadgen")]
    table: String,
    /// Number of distinct keys (`k0000000000` ..).
    #[arg(long, default_value_t = 10_000)]
    key_space: u64,
    /// Bytes in the string attribute that put-item (and --preload) writes.
    #[arg(long, default_value_t = 100)]
    item_size: usize,
    /// Create the table (PAY_PER_REQUEST) first if it does not exist, and wait for ACTIVE.
    #[arg(long)]
    create_table: bool,
    /// Put every key of the key space before the run (so get-item finds items).
    #[arg(long)]
    preload: bool,
    /// raw mode: the X-Amz-Target header, e.g. `DynamoDB_20120810.ListTables`.
    #[arg(long)]
    target: Option<String>,
    /// raw mode: the request body; lambda-*: the event.
    #[arg(long, default_value = "{}")]
    body: String,
    /// raw mode: the Content-Type.
    #[arg(long, default_value = "application/x-amz-json-1.0")]
    content_type: String,
    /// lambda-invoke: the function (name or ARN); lambda-cold: the prefix of the names.
    #[arg(long, default_value = "loadgen")]
    function: String,
    /// lambda-cold and --create-function: the deployment package (.zip).
    #[arg(long)]
    zip: Option<std::path::PathBuf>,
    /// lambda-*: the runtime of created functions.
    #[arg(long, default_value = "provided.al2023")]
    runtime: String,
    /// lambda-*: the handler of created functions.
    #[arg(long, default_value = "bootstrap")]
    handler: String,
    /// lambda-*: the execution role ARN of created functions.
    #[arg(long, default_value = "arn:aws:iam::000000000000:role/loadgen")]
    role: String,
    /// lambda-*: create this IAM role first (Lambda's trust policy; an existing one is
    /// fine) and use it as --role.
    #[arg(long, value_name = "NAME")]
    create_role: Option<String>,
    /// lambda-invoke: create --function from --zip first (replacing one of that name)
    /// and wait until it is Active.
    #[arg(long)]
    create_function: bool,
    /// lambda-*: MemorySize of created functions.
    #[arg(long, default_value_t = 128)]
    memory: u32,
    /// lambda-cold: how many functions to create and time.
    #[arg(long, default_value_t = 20)]
    cold_runs: u32,
    /// SigV4 signing name (default: `s3` for the s3-* workloads and --presign, `lambda` for
    /// the lambda-* workloads, else `dynamodb`).
    #[arg(long)]
    service: Option<String>,
    /// s3-get / s3-put: the bucket (path-style requests `/{bucket}/{key}`).
    #[arg(long, default_value = "loadgen")]
    bucket: String,
    /// s3-put (and --preload for s3-get): bytes per object.
    #[arg(long, default_value_t = 4096)]
    object_size: usize,
    /// s3-*: create the bucket first (an existing bucket is fine).
    #[arg(long)]
    create_bucket: bool,
    /// Print a presigned S3 URL for `METHOD /bucket/key` (e.g. `GET /b/k`) and exit.
    #[arg(long, value_name = "METHOD PATH")]
    presign: Option<String>,
    /// --presign: validity in seconds.
    #[arg(long, default_value_t = 3600)]
    presign_expires: u64,
    #[arg(long, default_value = "us-east-1")]
    region: String,
    #[arg(long, default_value = "test", env = "AWS_ACCESS_KEY_ID")]
    access_key: String,
    #[arg(long, default_value = "test", env = "AWS_SECRET_ACCESS_KEY")]
    secret_key: String,
    /// How requests are sent (see `replay.rs` for why replay is the default).
    #[arg(long, value_enum, default_value = "replay")]
    client: ClientKind,
    /// replay: distinct pre-signed requests per run (keys drawn at random).
    #[arg(long, default_value_t = 8192)]
    pool: usize,
    /// Tokio worker threads of the generator itself.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Also print one machine-readable `RESULT {json}` line.
    #[arg(long)]
    json: bool,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .map_or((s, "s"), |i| (&s[..i], &s[i..]));
    let n: f64 = num.parse().map_err(|_| format!("bad duration: {s}"))?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" | "" => n,
        "m" => n * 60.0,
        _ => return Err(format!("bad duration unit in {s} (use ms, s or m)")),
    };
    if !(0.0..=MAX_RUN.as_secs_f64()).contains(&secs) {
        return Err(format!(
            "duration {s} out of range (max {}s)",
            MAX_RUN.as_secs()
        ));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// `http://host:port` -> socket address, refusing anything that is not loopback.
async fn resolve_loopback(endpoint: &str) -> Result<(SocketAddr, String)> {
    let rest = endpoint
        .strip_prefix("http://")
        .context("endpoint must start with http://")?;
    let authority = rest.split('/').next().unwrap_or(rest);
    let with_port = if authority
        .rsplit_once(':')
        .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
    {
        authority.to_string()
    } else {
        format!("{authority}:80")
    };
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host(with_port.as_str())
        .await
        .with_context(|| format!("resolving {authority}"))?
        .collect();
    let Some(first) = addrs.first().copied() else {
        bail!("{authority} resolves to nothing");
    };
    if !addrs.iter().all(|a| a.ip().is_loopback()) {
        bail!("refusing non-loopback endpoint {endpoint}: this tool only loads the local machine");
    }
    Ok((first, authority.to_string()))
}

struct Client {
    addr: SocketAddr,
    host: HeaderValue,
    signer: Signer,
    content_type: HeaderValue,
}

impl Client {
    /// The same endpoint, signing for another service (IAM setup of a Lambda run).
    fn with_service(&self, service: &str) -> Client {
        Client {
            addr: self.addr,
            host: self.host.clone(),
            signer: Signer {
                service: service.to_string(),
                ..self.signer.clone()
            },
            content_type: self.content_type.clone(),
        }
    }

    async fn connect(&self) -> Result<SendRequest<Full<Bytes>>> {
        let stream = TcpStream::connect(self.addr).await?;
        stream.set_nodelay(true)?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            // The connection ends when the sender is dropped or the server closes it.
            let _ = conn.await;
        });
        Ok(sender)
    }

    /// The signed headers of a request: awsJson (target, content type) or S3 REST (the body
    /// hash signed, as SDKs do over plain HTTP).
    fn signed_headers(&self, req: &Req, cache: &SigningKeyCache) -> Result<HeaderMap> {
        let mut headers = HeaderMap::with_capacity(8);
        headers.insert(http::header::HOST, self.host.clone());
        match &req.target {
            Some(target) => {
                headers.insert(http::header::CONTENT_TYPE, self.content_type.clone());
                headers.insert("x-amz-target", HeaderValue::from_str(target)?);
            }
            None if !req.body.is_empty() => {
                headers.insert(
                    http::header::CONTENT_TYPE,
                    HeaderValue::from_static(
                        req.content_type.unwrap_or("application/octet-stream"),
                    ),
                );
            }
            None => {}
        }
        self.signer
            .sign(req.method, &req.path, &mut headers, &req.body, cache)?;
        Ok(headers)
    }

    fn build(&self, req: &Req, cache: &SigningKeyCache) -> Result<Request<Full<Bytes>>> {
        let headers = self.signed_headers(req, cache)?;
        let mut out = Request::builder()
            .method(req.method)
            .uri(req.path.as_str())
            .body(Full::new(req.body.clone()))?;
        *out.headers_mut() = headers;
        Ok(out)
    }

    /// A signed request as raw HTTP/1.1 bytes (replay client).
    fn build_raw(&self, req: &Req, cache: &SigningKeyCache) -> Result<Bytes> {
        let headers = self.signed_headers(req, cache)?;
        let mut out = Request::builder()
            .method(req.method)
            .uri(req.path.as_str())
            .body(req.body.clone())?;
        *out.headers_mut() = headers;
        replay::render(&out)
    }
}

/// The requests a replay run sends, signed now.
fn build_pool(client: &Client, load: &Workload, payload: &str, size: usize) -> Result<Vec<Bytes>> {
    replay::check_pool(size)?;
    let cache = SigningKeyCache::new(4);
    let mut rng = Rng::new(0x5EED);
    let mut pool = Vec::with_capacity(size);
    for _ in 0..size {
        let req = load.next(&mut rng, payload);
        pool.push(client.build_raw(&req, &cache)?);
    }
    Ok(pool)
}

/// One request on an open connection: (status, body).
async fn send(
    sender: &mut SendRequest<Full<Bytes>>,
    req: Request<Full<Bytes>>,
) -> Result<(u16, Bytes)> {
    sender.ready().await?;
    let resp = sender.send_request(req).await?;
    let status = resp.status().as_u16();
    let body = resp.into_body().collect().await?.to_bytes();
    Ok((status, body))
}

/// Sends one request on a fresh connection (setup steps).
async fn one_shot(client: &Client, req: &Req) -> Result<(u16, Bytes)> {
    let cache = SigningKeyCache::new(4);
    let mut sender = client.connect().await?;
    let req = client.build(req, &cache)?;
    send(&mut sender, req).await
}

fn json_req(target: &str, body: &str) -> Req {
    Req::json(target.to_string(), Bytes::from(body.to_string()))
}

/// CreateBucket (us-east-1 style, no body); a bucket that exists already is fine.
async fn create_bucket(client: &Client, bucket: &str) -> Result<()> {
    let req = Req {
        method: "PUT",
        path: format!("/{bucket}"),
        target: None,
        content_type: None,
        body: Bytes::new(),
    };
    let (status, resp) = one_shot(client, &req).await?;
    let text = String::from_utf8_lossy(&resp);
    if status == 200 || text.contains("BucketAlreadyOwnedByYou") {
        return Ok(());
    }
    bail!("CreateBucket failed: {status} {text}")
}

async fn create_table(client: &Client, table: &str) -> Result<()> {
    let body = serde_json::json!({
        "TableName": table,
        "BillingMode": "PAY_PER_REQUEST",
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
    })
    .to_string();
    let (status, resp) =
        one_shot(client, &json_req("DynamoDB_20120810.CreateTable", &body)).await?;
    if status != 200 && !String::from_utf8_lossy(&resp).contains("ResourceInUseException") {
        bail!(
            "CreateTable failed: {status} {}",
            String::from_utf8_lossy(&resp)
        );
    }
    let describe = serde_json::json!({ "TableName": table }).to_string();
    let deadline = Instant::now() + TABLE_ACTIVE_TIMEOUT;
    loop {
        let (status, resp) = one_shot(
            client,
            &json_req("DynamoDB_20120810.DescribeTable", &describe),
        )
        .await?;
        let doc: serde_json::Value = serde_json::from_slice(&resp).unwrap_or_default();
        if status == 200 && doc["Table"]["TableStatus"] == "ACTIVE" {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("table {table} not ACTIVE after {TABLE_ACTIVE_TIMEOUT:?}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// What preload writes: DynamoDB items into a table, or S3 objects into a bucket.
#[derive(Debug, Clone)]
enum PreloadTarget {
    Table(String),
    Bucket { bucket: String, body: Bytes },
}

impl PreloadTarget {
    fn request(&self, key: u64, payload: &str) -> Req {
        match self {
            PreloadTarget::Table(table) => Req::json(
                format!("{}.PutItem", workload::DYNAMODB_PREFIX),
                workload::put_item_body(table, key, payload),
            ),
            PreloadTarget::Bucket { bucket, body } => Req {
                method: "PUT",
                path: workload::object_path(bucket, key),
                target: None,
                content_type: None,
                body: body.clone(),
            },
        }
    }
}

/// Puts every key of the key space, spread over the connections.
async fn preload(
    client: Arc<Client>,
    target: PreloadTarget,
    key_space: u64,
    connections: usize,
    payload: &str,
) -> Result<()> {
    let workers = connections.clamp(1, 64) as u64;
    let mut handles = Vec::new();
    for w in 0..workers {
        let client = client.clone();
        let target = target.clone();
        let payload = payload.to_string();
        handles.push(tokio::spawn(async move {
            let cache = SigningKeyCache::new(4);
            let mut sender = client.connect().await?;
            let mut key = w;
            while key < key_space {
                // Some peers close the connection after a response: reconnect (bounded).
                let mut attempt = 0;
                let (status, resp) = loop {
                    attempt += 1;
                    if sender.is_closed() {
                        sender = client.connect().await?;
                    }
                    let req = client.build(&target.request(key, &payload), &cache)?;
                    match send(&mut sender, req).await {
                        Ok(r) => break r,
                        Err(e) if attempt >= PRELOAD_ATTEMPTS => return Err(e),
                        Err(_) => sender = client.connect().await?,
                    }
                };
                if status != 200 {
                    bail!(
                        "preload put failed: {status} {}",
                        String::from_utf8_lossy(&resp)
                    );
                }
                key += workers;
            }
            Ok::<(), anyhow::Error>(())
        }));
    }
    for h in handles {
        h.await.context("preload task")??;
    }
    Ok(())
}

struct Shared {
    measure_from: Instant,
    /// Duration mode: when to stop.
    deadline: Instant,
    /// Request-count mode: tickets left (measured requests only).
    tickets: Option<AtomicI64>,
    stop: AtomicBool,
}

#[derive(Default)]
struct WorkerResult {
    hist: Histogram,
    ok: u64,
    by_status: BTreeMap<u16, u64>,
    io_errors: u64,
    last_done: Option<Instant>,
}

/// What a connection loop needs from a client.
trait Session: Send {
    type Conn: Send;
    fn connect(&mut self) -> impl std::future::Future<Output = Result<Self::Conn>> + Send;
    /// Sends the next request; a status, or an error after which the connection is dropped.
    fn send(
        &mut self,
        conn: &mut Self::Conn,
    ) -> impl std::future::Future<Output = Result<u16>> + Send;
}

/// One connection's loop, whatever the client: checks the deadline and the request
/// budget, (re)connects with bounded retries, sends, and records status and latency.
async fn drive<S: Session>(shared: Arc<Shared>, mut session: S) -> WorkerResult {
    let mut out = WorkerResult::default();
    let mut conn: Option<S::Conn> = None;
    let mut connect_failures = 0u32;
    loop {
        if shared.stop.load(Ordering::Relaxed) {
            break;
        }
        let now = Instant::now();
        if now >= shared.deadline {
            break;
        }
        let measuring = now >= shared.measure_from;
        if measuring {
            if let Some(t) = &shared.tickets {
                if t.fetch_sub(1, Ordering::Relaxed) <= 0 {
                    shared.stop.store(true, Ordering::Relaxed);
                    break;
                }
            }
        }
        let c = match conn.as_mut() {
            Some(c) => c,
            None => match session.connect().await {
                Ok(c) => {
                    connect_failures = 0;
                    conn.insert(c)
                }
                Err(_) => {
                    out.io_errors += 1;
                    connect_failures += 1;
                    if connect_failures >= MAX_CONNECT_FAILURES_IN_A_ROW {
                        break;
                    }
                    tokio::time::sleep(RECONNECT_PAUSE).await;
                    continue;
                }
            },
        };
        let t0 = Instant::now();
        let result = session.send(c).await;
        let done = Instant::now();
        match result {
            Ok(status) => {
                if measuring && (shared.tickets.is_some() || done <= shared.deadline) {
                    out.hist
                        .record(u64::try_from((done - t0).as_micros()).unwrap_or(u64::MAX));
                    out.last_done = Some(done);
                    if (200..300).contains(&status) {
                        out.ok += 1;
                    } else {
                        *out.by_status.entry(status).or_default() += 1;
                    }
                }
            }
            Err(_) => {
                if measuring {
                    out.io_errors += 1;
                }
                conn = None; // reconnect
            }
        }
    }
    out
}

/// The hyper client: signs every request as an SDK does.
struct HyperSession {
    client: Arc<Client>,
    load: Arc<Workload>,
    payload: Arc<String>,
    cache: SigningKeyCache,
    rng: Rng,
}

impl Session for HyperSession {
    type Conn = SendRequest<Full<Bytes>>;

    async fn connect(&mut self) -> Result<Self::Conn> {
        self.client.connect().await
    }

    async fn send(&mut self, conn: &mut Self::Conn) -> Result<u16> {
        let req = self.load.next(&mut self.rng, &self.payload);
        let req = self.client.build(&req, &self.cache)?;
        Ok(send(conn, req).await?.0)
    }
}

/// The replay client: requests drawn at random from the pool signed before the run.
struct ReplaySession {
    addr: SocketAddr,
    pool: Arc<Vec<Bytes>>,
    rng: Rng,
}

impl Session for ReplaySession {
    type Conn = replay::Conn;

    async fn connect(&mut self) -> Result<Self::Conn> {
        Ok(replay::Conn::connect(self.addr).await?)
    }

    async fn send(&mut self, conn: &mut Self::Conn) -> Result<u16> {
        let idx = usize::try_from(self.rng.below(self.pool.len() as u64)).unwrap_or(0);
        let request = self.pool.get(idx).context("empty request pool")?;
        Ok(conn.round_trip(request).await?)
    }
}

fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

async fn run(args: Args) -> Result<()> {
    if args.connections == 0 || args.connections > MAX_CONNECTIONS {
        bail!("--connections must be 1..={MAX_CONNECTIONS}");
    }
    if args.object_size > MAX_OBJECT_SIZE {
        bail!("--object-size must be at most {MAX_OBJECT_SIZE}");
    }
    let s3_mode = matches!(args.workload, WorkloadKind::S3Get | WorkloadKind::S3Put)
        || args.presign.is_some();
    let lambda_mode = matches!(
        args.workload,
        WorkloadKind::LambdaInvoke | WorkloadKind::LambdaCold
    );
    let service = args.service.clone().unwrap_or_else(|| {
        if s3_mode {
            "s3"
        } else if lambda_mode {
            "lambda"
        } else {
            "dynamodb"
        }
        .to_string()
    });
    let (addr, authority) = resolve_loopback(&args.endpoint).await?;
    let signer = Signer {
        access_key: args.access_key.clone(),
        secret_key: args.secret_key.clone(),
        region: args.region.clone(),
        service,
    };
    if let Some(spec) = &args.presign {
        let (method, path) = spec
            .split_once(' ')
            .context("--presign wants `METHOD /path`, e.g. `GET /bucket/key`")?;
        if args.presign_expires == 0 || args.presign_expires > MAX_PRESIGN_EXPIRES_S {
            bail!("--presign-expires must be 1..={MAX_PRESIGN_EXPIRES_S}");
        }
        let query = signer.presign(method, path, &authority, args.presign_expires)?;
        println!("http://{authority}{path}?{query}");
        return Ok(());
    }
    let client = Arc::new(Client {
        addr,
        host: HeaderValue::from_str(&authority)?,
        signer,
        content_type: HeaderValue::from_str(&args.content_type)?,
    });
    let mut role = args.role.clone();
    if let Some(name) = &args.create_role {
        role = lambda_cold::create_role(&client, name).await?;
    }
    if args.workload == WorkloadKind::LambdaCold {
        return cold(&client, &args, &role).await;
    }
    if args.create_function {
        let spec = function_spec(&args, &role, 1)?;
        lambda_cold::create_function(&client, &spec, &args.function).await?;
    }
    let load = Arc::new(match args.workload {
        WorkloadKind::GetItem => Workload::GetItem {
            table: args.table.clone(),
            key_space: args.key_space,
        },
        WorkloadKind::PutItem => Workload::PutItem {
            table: args.table.clone(),
            key_space: args.key_space,
            item_size: args.item_size,
        },
        WorkloadKind::Raw => Workload::Raw {
            target: args
                .target
                .clone()
                .context("--workload raw needs --target")?,
            body: Bytes::from(args.body.clone()),
        },
        WorkloadKind::S3Get => Workload::S3Get {
            bucket: args.bucket.clone(),
            key_space: args.key_space,
        },
        WorkloadKind::S3Put => Workload::S3Put {
            bucket: args.bucket.clone(),
            key_space: args.key_space,
            body: workload::object_body(args.object_size),
        },
        WorkloadKind::LambdaInvoke => Workload::LambdaInvoke {
            function: args.function.clone(),
            event: Bytes::from(args.body.clone()),
        },
        // Handled above: it is not a load loop.
        WorkloadKind::LambdaCold => bail!("lambda-cold has no request loop"),
    });
    let payload = Arc::new(load.payload(args.item_size));

    if args.create_table {
        create_table(&client, &args.table).await?;
    }
    if args.create_bucket {
        create_bucket(&client, &args.bucket).await?;
    }
    if args.preload {
        let t0 = Instant::now();
        let target = if load.is_s3() {
            PreloadTarget::Bucket {
                bucket: args.bucket.clone(),
                body: workload::object_body(args.object_size),
            }
        } else {
            PreloadTarget::Table(args.table.clone())
        };
        preload(
            client.clone(),
            target,
            args.key_space,
            args.connections,
            &payload,
        )
        .await?;
        eprintln!(
            "preloaded {} keys in {:.2}s",
            args.key_space,
            t0.elapsed().as_secs_f64()
        );
    }

    let pool = match args.client {
        ClientKind::Replay => Some(Arc::new(build_pool(&client, &load, &payload, args.pool)?)),
        ClientKind::Hyper => None,
    };
    let start = Instant::now();
    let measure_from = start + args.warmup;
    let run_for = match (args.duration, args.requests) {
        (Some(d), _) => d,
        (None, Some(_)) => MAX_RUN,
        (None, None) => Duration::from_secs(10),
    };
    let shared = Arc::new(Shared {
        measure_from,
        deadline: measure_from + run_for,
        tickets: args
            .requests
            .map(|n| AtomicI64::new(i64::try_from(n).unwrap_or(i64::MAX))),
        stop: AtomicBool::new(false),
    });
    let mut handles = Vec::with_capacity(args.connections);
    for i in 0..args.connections {
        let seed = 0x9E37_79B9_7F4A_7C15 ^ (i as u64 + 1);
        handles.push(match &pool {
            Some(pool) => tokio::spawn(drive(
                shared.clone(),
                ReplaySession {
                    addr: client.addr,
                    pool: pool.clone(),
                    rng: Rng::new(seed),
                },
            )),
            None => tokio::spawn(drive(
                shared.clone(),
                HyperSession {
                    client: client.clone(),
                    load: load.clone(),
                    payload: payload.clone(),
                    cache: SigningKeyCache::new(DEFAULT_KEY_CACHE_CAPACITY.min(8)),
                    rng: Rng::new(seed),
                },
            )),
        });
    }
    let mut total = WorkerResult::default();
    for h in handles {
        let r = h.await.context("worker task")?;
        total.hist.merge(&r.hist);
        total.ok += r.ok;
        total.io_errors += r.io_errors;
        for (s, c) in r.by_status {
            *total.by_status.entry(s).or_default() += c;
        }
        total.last_done = match (total.last_done, r.last_done) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
    }
    let elapsed = if args.duration.is_some() || args.requests.is_none() {
        run_for.as_secs_f64()
    } else {
        total.last_done.map_or(0.0, |t| {
            t.saturating_duration_since(measure_from).as_secs_f64()
        })
    };
    let count = total.hist.count();
    let rps = if elapsed > 0.0 {
        count as f64 / elapsed
    } else {
        0.0
    };
    let errors: u64 = total.by_status.values().sum::<u64>() + total.io_errors;
    let (p50, p90, p99, max) = (
        total.hist.quantile_us(0.50),
        total.hist.quantile_us(0.90),
        total.hist.quantile_us(0.99),
        total.hist.max_us(),
    );

    println!("workload     {:?}", args.workload);
    println!("endpoint     {}", args.endpoint);
    println!("client       {:?}", args.client);
    println!("connections  {}", args.connections);
    println!("requests     {count} (ok {}, errors {errors})", total.ok);
    println!("duration_s   {elapsed:.2}");
    println!("req_per_s    {rps:.1}");
    println!(
        "latency_ms   p50 {:.3}  p90 {:.3}  p99 {:.3}  max {:.3}  mean {:.3}",
        ms(p50),
        ms(p90),
        ms(p99),
        ms(max),
        total.hist.mean_us() / 1000.0
    );
    let mut err_map = serde_json::Map::new();
    for (s, c) in &total.by_status {
        err_map.insert(s.to_string(), serde_json::json!(c));
    }
    if total.io_errors > 0 {
        err_map.insert("io".into(), serde_json::json!(total.io_errors));
    }
    if !err_map.is_empty() {
        let parts: Vec<String> = err_map.iter().map(|(k, v)| format!("{k}: {v}")).collect();
        println!("errors       {}", parts.join(", "));
    }
    if args.json {
        let doc = serde_json::json!({
            "workload": format!("{:?}", args.workload),
            "connections": args.connections,
            "requests": count,
            "ok": total.ok,
            "errors": err_map,
            "duration_s": elapsed,
            "rps": rps,
            "p50_ms": ms(p50), "p90_ms": ms(p90), "p99_ms": ms(p99), "max_ms": ms(max),
        });
        println!("RESULT {doc}");
    }
    Ok(())
}

/// What created functions look like (--zip, --runtime, --handler, --memory, --body).
fn function_spec(args: &Args, role: &str, runs: u32) -> Result<lambda_cold::ColdSpec> {
    let zip_path = args
        .zip
        .as_ref()
        .context("creating a function needs --zip")?;
    Ok(lambda_cold::ColdSpec {
        prefix: args.function.clone(),
        zip: std::fs::read(zip_path).with_context(|| format!("reading {}", zip_path.display()))?,
        runtime: args.runtime.clone(),
        handler: args.handler.clone(),
        role: role.to_string(),
        memory_mb: args.memory,
        runs,
        event: Bytes::from(args.body.clone()),
    })
}

/// `--workload lambda-cold`: first-Invoke latency of new functions.
async fn cold(client: &Client, args: &Args, role: &str) -> Result<()> {
    if args.cold_runs == 0 || args.cold_runs > 1000 {
        bail!("--cold-runs must be 1..=1000");
    }
    let spec = function_spec(args, role, args.cold_runs)?;
    let result = lambda_cold::run(client, &spec).await?;
    // Few samples: exact order statistics rather than the histogram's buckets.
    let summary = |samples: &[u64]| {
        let mut v = samples.to_vec();
        v.sort_unstable();
        let median = v.get(v.len() / 2).copied().unwrap_or(0);
        (
            median,
            v.first().copied().unwrap_or(0),
            v.last().copied().unwrap_or(0),
        )
    };
    let (cold_p50, cold_min, cold_max) = summary(&result.cold_us);
    let (warm_p50, _, _) = summary(&result.warm_us);
    println!("workload     LambdaCold ({})", args.runtime);
    println!("endpoint     {}", args.endpoint);
    println!("runs         {}", result.cold_us.len());
    println!(
        "cold_ms      p50 {:.3}  min {:.3}  max {:.3}",
        ms(cold_p50),
        ms(cold_min),
        ms(cold_max)
    );
    println!(
        "warm_ms      p50 {:.3}  (the second Invoke of each function)",
        ms(warm_p50)
    );
    if args.json {
        let doc = serde_json::json!({
            "workload": "LambdaCold",
            "runtime": args.runtime,
            "runs": result.cold_us.len(),
            "cold_p50_ms": ms(cold_p50), "cold_min_ms": ms(cold_min), "cold_max_ms": ms(cold_max),
            "warm_p50_ms": ms(warm_p50),
        });
        println!("RESULT {doc}");
    }
    Ok(())
}

fn main() -> Result<()> {
    let args = Args::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads.clamp(1, 64))
        .enable_all()
        .build()
        .context("building the tokio runtime")?;
    runtime.block_on(run(args))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("1m"), Ok(Duration::from_secs(60)));
        assert!(parse_duration("11m").is_err());
        assert!(parse_duration("x").is_err());
        assert!(parse_duration("5h").is_err());
    }

    #[tokio::test]
    async fn refuses_non_loopback() {
        assert!(resolve_loopback("http://127.0.0.1:4566").await.is_ok());
        assert!(resolve_loopback("http://10.1.2.3:4566").await.is_err());
        assert!(resolve_loopback("https://127.0.0.1:4566").await.is_err());
    }
}
