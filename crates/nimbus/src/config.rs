//! Configuration: command line > environment (`NIMBUS_*`) > config file > defaults.
//!
//! clap merges the command line with the environment (so `--help` shows both); the
//! config file fills what neither set; [`resolve`] applies the defaults. Resolution is a
//! pure function of its inputs so the precedence is testable without touching the
//! process environment.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use clap::{Args, ValueEnum};
use nimbus_functions::sandbox::FunctionNetwork;
use nimbus_iam::Credential;
use serde::Deserialize;

pub const DEFAULT_BIND: &str = "127.0.0.1:4566";
/// Tokio worker threads: the target machine has two cores.
pub const DEFAULT_WORKER_THREADS: usize = 2;
/// Most credentials accepted from configuration (invariant 4).
const MAX_CONFIGURED_CREDENTIALS: usize = 1_000;
/// A config file larger than this is a mistake, not a config.
const MAX_CONFIG_FILE_BYTES: u64 = 1024 * 1024;

/// Durability of acknowledged writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SyncMode {
    /// Every acknowledged write is fsynced (group commit shares one fsync among writers).
    Fsync,
    /// No fsync per commit: a crash may lose about the last second. For throwaway runs.
    None,
}

/// DynamoDB's TTL sweeper interval: default, and the accepted range (10 ms to 1 day).
pub const DEFAULT_TTL_SWEEP_INTERVAL_MS: u64 = 1_000;
/// S3 lifecycle job interval (AWS: about daily; rules still fall due at midnight UTC).
pub const DEFAULT_S3_LIFECYCLE_INTERVAL_MS: u64 = 60_000;
const MIN_TTL_SWEEP_INTERVAL_MS: u64 = 10;
/// Lambda defaults: AWS's account concurrency; how long idle environments stay warm; the
/// delay before the first async retry (AWS waits about a minute, then two).
pub const DEFAULT_LAMBDA_CONCURRENCY: u32 = 1_000;
pub const DEFAULT_LAMBDA_IDLE_MS: u64 = 300_000;
pub const DEFAULT_LAMBDA_RETRY_DELAY_MS: u64 = 60_000;
const MAX_TTL_SWEEP_INTERVAL_MS: u64 = 86_400_000;

/// `nimbus up` options. Every one is optional here: unset ones come from the config
/// file or the defaults.
#[derive(Debug, Clone, Default, Args)]
pub struct UpArgs {
    /// Address and port to listen on [default: 127.0.0.1:4566]. On a non-loopback address
    /// unknown access keys are refused and configured credentials are required.
    #[arg(long, env = "NIMBUS_BIND", value_name = "ADDR:PORT")]
    pub bind: Option<SocketAddr>,

    /// Directory the data is kept in, created on first start
    /// [default: $XDG_DATA_HOME/nimbus, or ~/.local/share/nimbus].
    #[arg(long, env = "NIMBUS_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// Keep everything in memory: nothing is written to disk, everything is lost on exit.
    #[arg(
        long,
        env = "NIMBUS_IN_MEMORY",
        num_args = 0..=1,
        default_missing_value = "true",
        value_parser = clap::builder::BoolishValueParser::new(),
        value_name = "BOOL"
    )]
    pub in_memory: Option<bool>,

    /// When an acknowledged write is on disk: `fsync` (durable, the default) or `none`
    /// (a crash may lose the last second of writes).
    #[arg(long, env = "NIMBUS_SYNC", value_enum, value_name = "MODE")]
    pub sync: Option<SyncMode>,

    /// Config file (TOML) [default: $XDG_CONFIG_HOME/nimbus/config.toml or
    /// ~/.config/nimbus/config.toml, if present]. It may set `bind`, `data_dir`,
    /// `in_memory`, `sync` and `[[credentials]]` tables with `access_key_id`,
    /// `secret_access_key` and optional `account_id`.
    #[arg(long, env = "NIMBUS_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Extra credentials, `AKID:SECRET[:ACCOUNT_ID]` separated by commas. They add to
    /// those in the config file; the built-in `test`/`test` (account 000000000000)
    /// always exists.
    #[arg(
        long,
        env = "NIMBUS_CREDENTIALS",
        value_name = "LIST",
        hide_env_values = true
    )]
    pub credentials: Option<String>,

    /// Tokio worker threads [default: 2].
    #[arg(long, env = "NIMBUS_WORKER_THREADS", value_name = "N")]
    pub worker_threads: Option<usize>,

    /// How often DynamoDB looks for items whose TTL has passed, in milliseconds
    /// [default: 1000]. AWS deletes expired items within days; nimbus within about this.
    #[arg(long, env = "NIMBUS_TTL_SWEEP_INTERVAL_MS", value_name = "MS")]
    pub ttl_sweep_interval_ms: Option<u64>,

    /// Extra host names nimbus answers to, besides `localhost` (repeat the option, or
    /// separate names with commas). S3 takes `{bucket}.s3.{name}` as a virtual-hosted
    /// bucket and `{bucket}.s3-website.{name}` as a website endpoint; point a wildcard DNS
    /// name at nimbus to use them.
    #[arg(
        long = "host-name",
        env = "NIMBUS_HOST_NAMES",
        value_delimiter = ',',
        value_name = "NAME"
    )]
    pub host_names: Vec<String>,

    /// How often S3 applies bucket lifecycle rules, in milliseconds [default: 60000].
    /// AWS runs them about once a day; rules are due at midnight UTC as on AWS.
    #[arg(long, env = "NIMBUS_S3_LIFECYCLE_INTERVAL_MS", value_name = "MS")]
    pub s3_lifecycle_interval_ms: Option<u64>,

    /// Where the Python and Node.js runtimes' SDKs (boto3, AWS SDK v3) are installed on
    /// first use, shared by every nimbus of this user [default:
    /// $XDG_CACHE_HOME/nimbus/runtimes, else ~/.cache/nimbus/runtimes].
    #[arg(long, env = "NIMBUS_RUNTIME_CACHE_DIR", value_name = "DIR")]
    pub runtime_cache_dir: Option<PathBuf>,

    /// Lambda's account concurrency limit: invokes beyond it are throttled
    /// (TooManyRequestsException) [default: 1000, as AWS].
    #[arg(long, env = "NIMBUS_LAMBDA_CONCURRENCY", value_name = "N")]
    pub lambda_concurrency: Option<u32>,

    /// How long an idle Lambda execution environment stays warm, in milliseconds
    /// [default: 300000].
    #[arg(long, env = "NIMBUS_LAMBDA_IDLE_MS", value_name = "MS")]
    pub lambda_idle_ms: Option<u64>,

    /// Delay before the first retry of a failed asynchronous invocation, in milliseconds;
    /// the second waits twice as long [default: 60000, about what AWS waits].
    #[arg(long, env = "NIMBUS_LAMBDA_RETRY_DELAY_MS", value_name = "MS")]
    pub lambda_retry_delay_ms: Option<u64>,

    /// The network Lambda functions get: `isolated` (a namespace with loopback only, where
    /// the Runtime API and nimbus are reachable) or `host` (also outbound and host
    /// services) [default: isolated].
    #[arg(long, env = "NIMBUS_FUNCTION_NETWORK", value_parser = str::parse::<FunctionNetwork>, value_name = "MODE")]
    pub function_network: Option<FunctionNetwork>,
}

/// One `[[credentials]]` table of the config file.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileCredential {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub account_id: Option<String>,
}

/// The config file's contents.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub bind: Option<SocketAddr>,
    pub data_dir: Option<PathBuf>,
    pub in_memory: Option<bool>,
    pub sync: Option<SyncMode>,
    pub worker_threads: Option<usize>,
    pub ttl_sweep_interval_ms: Option<u64>,
    #[serde(default)]
    pub host_names: Vec<String>,
    pub s3_lifecycle_interval_ms: Option<u64>,
    pub runtime_cache_dir: Option<PathBuf>,
    pub lambda_concurrency: Option<u32>,
    pub lambda_idle_ms: Option<u64>,
    pub lambda_retry_delay_ms: Option<u64>,
    pub function_network: Option<FunctionNetwork>,
    #[serde(default)]
    pub credentials: Vec<FileCredential>,
}

/// Where the data lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Storage {
    InMemory,
    Dir(PathBuf),
}

/// The resolved configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub bind: SocketAddr,
    pub storage: Storage,
    pub sync: SyncMode,
    pub worker_threads: usize,
    /// DynamoDB TTL sweeper interval.
    pub ttl_sweep_interval_ms: u64,
    /// Host names besides `localhost` (S3 virtual hosts and website endpoints).
    pub host_names: Vec<String>,
    /// How often S3's lifecycle job runs.
    pub s3_lifecycle_interval_ms: u64,
    /// Lambda runtimes' SDK cache.
    pub runtime_cache_dir: PathBuf,
    /// Lambda: account concurrency, idle time of warm environments, async retry delay.
    pub lambda_concurrency: u32,
    pub lambda_idle_ms: u64,
    pub lambda_retry_delay_ms: u64,
    /// The network sandboxed functions get.
    pub function_network: FunctionNetwork,
    /// Configured credentials (without the built-in root key).
    pub credentials: Vec<Credential>,
    /// The config file that was read, if any.
    pub config_file: Option<PathBuf>,
}

/// The process environment facts resolution needs (injected for tests).
#[derive(Debug, Clone, Default)]
pub struct Dirs {
    pub home: Option<PathBuf>,
    pub xdg_data_home: Option<PathBuf>,
    pub xdg_config_home: Option<PathBuf>,
    pub xdg_cache_home: Option<PathBuf>,
}

impl Dirs {
    pub fn from_env() -> Self {
        let non_empty = |k: &str| {
            std::env::var_os(k)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        Dirs {
            home: non_empty("HOME"),
            xdg_data_home: non_empty("XDG_DATA_HOME"),
            xdg_config_home: non_empty("XDG_CONFIG_HOME"),
            xdg_cache_home: non_empty("XDG_CACHE_HOME"),
        }
    }

    pub fn default_data_dir(&self) -> Option<PathBuf> {
        self.xdg_data_home
            .clone()
            .or_else(|| self.home.as_ref().map(|h| h.join(".local").join("share")))
            .map(|d| d.join("nimbus"))
    }

    pub fn default_cache_dir(&self) -> Option<PathBuf> {
        self.xdg_cache_home
            .clone()
            .or_else(|| self.home.as_ref().map(|h| h.join(".cache")))
            .map(|d| d.join("nimbus"))
    }

    pub fn default_config_file(&self) -> Option<PathBuf> {
        self.xdg_config_home
            .clone()
            .or_else(|| self.home.as_ref().map(|h| h.join(".config")))
            .map(|d| d.join("nimbus").join("config.toml"))
    }
}

/// Parses `AKID:SECRET[:ACCOUNT],...`.
pub fn parse_credentials_list(s: &str) -> anyhow::Result<Vec<Credential>> {
    let mut out = Vec::new();
    for (i, item) in s
        .split(',')
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .enumerate()
    {
        if i >= MAX_CONFIGURED_CREDENTIALS {
            bail!("more than {MAX_CONFIGURED_CREDENTIALS} credentials configured");
        }
        let mut parts = item.splitn(3, ':');
        let akid = parts.next().unwrap_or_default();
        let secret = parts.next().unwrap_or_default();
        let account = parts.next();
        out.push(make_credential(akid, secret, account).with_context(|| {
            format!(
                "NIMBUS_CREDENTIALS entry #{}: expected AKID:SECRET[:ACCOUNT_ID]",
                i + 1
            )
        })?);
    }
    Ok(out)
}

fn make_credential(akid: &str, secret: &str, account: Option<&str>) -> anyhow::Result<Credential> {
    if akid.is_empty() || akid.len() > 128 || !akid.bytes().all(|b| b.is_ascii_alphanumeric()) {
        bail!("access key id {akid:?} must be 1-128 letters and digits");
    }
    if secret.is_empty() || secret.len() > 128 {
        bail!("the secret access key of {akid} must be 1-128 characters");
    }
    let account = account.unwrap_or(nimbus_core::ROOT_ACCOUNT_ID);
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
        bail!("account id {account:?} of {akid} must be 12 digits");
    }
    Ok(Credential::root(akid, secret, account))
}

/// Reads the config file: the explicit one must exist; the default one may not.
pub fn load_file(
    explicit: Option<&Path>,
    dirs: &Dirs,
) -> anyhow::Result<Option<(PathBuf, FileConfig)>> {
    let (path, must_exist) = match explicit {
        Some(p) => (p.to_path_buf(), true),
        None => match dirs.default_config_file() {
            Some(p) => (p, false),
            None => return Ok(None),
        },
    };
    let meta = match std::fs::metadata(&path) {
        Ok(m) => m,
        Err(e) if !must_exist && e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(e).with_context(|| format!("cannot read config file {}", path.display()))
        }
    };
    if meta.len() > MAX_CONFIG_FILE_BYTES {
        bail!(
            "config file {} is larger than {MAX_CONFIG_FILE_BYTES} bytes",
            path.display()
        );
    }
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read config file {}", path.display()))?;
    let parsed = parse_file(&text).with_context(|| format!("in config file {}", path.display()))?;
    Ok(Some((path, parsed)))
}

pub fn parse_file(text: &str) -> anyhow::Result<FileConfig> {
    Ok(toml::from_str(text)?)
}

/// Applies precedence: `args` (command line, else environment) > `file` > defaults.
pub fn resolve(
    args: &UpArgs,
    file: Option<(PathBuf, FileConfig)>,
    dirs: &Dirs,
) -> anyhow::Result<Config> {
    let (config_file, file) = match file {
        Some((p, f)) => (Some(p), f),
        None => (None, FileConfig::default()),
    };
    let bind = match args.bind.or(file.bind) {
        Some(b) => b,
        None => DEFAULT_BIND.parse().context("default bind address")?,
    };
    let in_memory = args.in_memory.or(file.in_memory).unwrap_or(false);
    let storage = if in_memory {
        Storage::InMemory
    } else {
        match args.data_dir.clone().or(file.data_dir).or_else(|| dirs.default_data_dir()) {
            Some(d) => Storage::Dir(d),
            None => bail!("cannot choose a data directory: neither HOME nor XDG_DATA_HOME is set; pass --data-dir DIR (or NIMBUS_DATA_DIR) or --in-memory"),
        }
    };
    let sync = args.sync.or(file.sync).unwrap_or(SyncMode::Fsync);
    let worker_threads = args
        .worker_threads
        .or(file.worker_threads)
        .unwrap_or(DEFAULT_WORKER_THREADS)
        .clamp(1, 256);

    if file.credentials.len() > MAX_CONFIGURED_CREDENTIALS {
        bail!("more than {MAX_CONFIGURED_CREDENTIALS} credentials configured");
    }
    let mut credentials = Vec::new();
    for (i, c) in file.credentials.iter().enumerate() {
        credentials.push(
            make_credential(
                &c.access_key_id,
                &c.secret_access_key,
                c.account_id.as_deref(),
            )
            .with_context(|| format!("[[credentials]] entry #{}", i + 1))?,
        );
    }
    if let Some(list) = &args.credentials {
        // Environment/command-line entries win over the file's for the same key id.
        for c in parse_credentials_list(list)? {
            credentials.retain(|x: &Credential| x.access_key_id != c.access_key_id);
            credentials.push(c);
        }
    }

    let ttl_sweep_interval_ms = args
        .ttl_sweep_interval_ms
        .or(file.ttl_sweep_interval_ms)
        .unwrap_or(DEFAULT_TTL_SWEEP_INTERVAL_MS);
    if !(MIN_TTL_SWEEP_INTERVAL_MS..=MAX_TTL_SWEEP_INTERVAL_MS).contains(&ttl_sweep_interval_ms) {
        bail!(
            "ttl sweep interval must be {MIN_TTL_SWEEP_INTERVAL_MS}..={MAX_TTL_SWEEP_INTERVAL_MS} ms, not {ttl_sweep_interval_ms}"
        );
    }

    let host_names: Vec<String> = if args.host_names.is_empty() {
        file.host_names
    } else {
        args.host_names.clone()
    }
    .into_iter()
    .map(|h| h.trim().trim_end_matches('.').to_ascii_lowercase())
    .filter(|h| !h.is_empty())
    .collect();
    for h in &host_names {
        let ok = h
            .split('.')
            .all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
        if !ok {
            bail!("host name {h:?} is not a DNS name (labels of letters, digits and hyphens)");
        }
    }

    let s3_lifecycle_interval_ms = args
        .s3_lifecycle_interval_ms
        .or(file.s3_lifecycle_interval_ms)
        .unwrap_or(DEFAULT_S3_LIFECYCLE_INTERVAL_MS);
    if !(MIN_TTL_SWEEP_INTERVAL_MS..=MAX_TTL_SWEEP_INTERVAL_MS).contains(&s3_lifecycle_interval_ms)
    {
        bail!(
            "S3 lifecycle interval must be {MIN_TTL_SWEEP_INTERVAL_MS}..={MAX_TTL_SWEEP_INTERVAL_MS} ms, not {s3_lifecycle_interval_ms}"
        );
    }

    let runtime_cache_dir = args
        .runtime_cache_dir
        .clone()
        .or(file.runtime_cache_dir)
        .or_else(|| dirs.default_cache_dir().map(|d| d.join("runtimes")))
        .unwrap_or_else(|| std::env::temp_dir().join("nimbus-runtimes"));
    let lambda_concurrency = args
        .lambda_concurrency
        .or(file.lambda_concurrency)
        .unwrap_or(DEFAULT_LAMBDA_CONCURRENCY);
    if lambda_concurrency == 0 {
        bail!("lambda concurrency must be at least 1");
    }
    let lambda_idle_ms = args
        .lambda_idle_ms
        .or(file.lambda_idle_ms)
        .unwrap_or(DEFAULT_LAMBDA_IDLE_MS);
    let lambda_retry_delay_ms = args
        .lambda_retry_delay_ms
        .or(file.lambda_retry_delay_ms)
        .unwrap_or(DEFAULT_LAMBDA_RETRY_DELAY_MS);
    for (name, v) in [
        ("lambda idle time", lambda_idle_ms),
        ("lambda retry delay", lambda_retry_delay_ms),
    ] {
        if !(MIN_TTL_SWEEP_INTERVAL_MS..=MAX_TTL_SWEEP_INTERVAL_MS).contains(&v) {
            bail!("{name} must be {MIN_TTL_SWEEP_INTERVAL_MS}..={MAX_TTL_SWEEP_INTERVAL_MS} ms, not {v}");
        }
    }

    Ok(Config {
        bind,
        storage,
        sync,
        worker_threads,
        ttl_sweep_interval_ms,
        host_names,
        s3_lifecycle_interval_ms,
        runtime_cache_dir,
        lambda_concurrency,
        lambda_idle_ms,
        lambda_retry_delay_ms,
        function_network: args
            .function_network
            .or(file.function_network)
            .unwrap_or_default(),
        credentials,
        config_file,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn dirs() -> Dirs {
        Dirs {
            home: Some("/home/u".into()),
            xdg_data_home: None,
            xdg_config_home: None,
            xdg_cache_home: None,
        }
    }

    #[test]
    fn defaults() {
        let c = resolve(&UpArgs::default(), None, &dirs()).unwrap();
        assert_eq!(c.bind, "127.0.0.1:4566".parse().unwrap());
        assert_eq!(
            c.storage,
            Storage::Dir("/home/u/.local/share/nimbus".into())
        );
        assert_eq!(c.sync, SyncMode::Fsync);
        assert_eq!(c.worker_threads, 2);
        assert!(c.credentials.is_empty());
        assert_eq!(c.config_file, None);
        assert_eq!(
            c.runtime_cache_dir,
            PathBuf::from("/home/u/.cache/nimbus/runtimes")
        );
        assert_eq!(c.lambda_concurrency, DEFAULT_LAMBDA_CONCURRENCY);
        assert_eq!(c.function_network, FunctionNetwork::Isolated);
    }

    #[test]
    fn xdg_dirs_win_over_home() {
        let d = Dirs {
            home: Some("/home/u".into()),
            xdg_data_home: Some("/xdg/data".into()),
            xdg_config_home: Some("/xdg/config".into()),
            xdg_cache_home: Some("/xdg/cache".into()),
        };
        assert_eq!(d.default_data_dir(), Some("/xdg/data/nimbus".into()));
        assert_eq!(d.default_cache_dir(), Some("/xdg/cache/nimbus".into()));
        assert_eq!(
            d.default_config_file(),
            Some("/xdg/config/nimbus/config.toml".into())
        );
        assert_eq!(
            dirs().default_config_file(),
            Some("/home/u/.config/nimbus/config.toml".into())
        );
        let none = Dirs::default();
        assert!(resolve(&UpArgs::default(), None, &none).is_err());
        // ... unless nothing on disk is needed.
        let args = UpArgs {
            in_memory: Some(true),
            ..Default::default()
        };
        assert_eq!(
            resolve(&args, None, &none).unwrap().storage,
            Storage::InMemory
        );
    }

    #[test]
    fn args_beat_file_beat_defaults() {
        let file = parse_file(
            r#"
            bind = "0.0.0.0:9000"
            data_dir = "/from/file"
            sync = "none"
            worker_threads = 4
            function_network = "host"
            "#,
        )
        .unwrap();
        let from_file = resolve(
            &UpArgs::default(),
            Some(("/f.toml".into(), file.clone())),
            &dirs(),
        )
        .unwrap();
        assert_eq!(from_file.bind, "0.0.0.0:9000".parse().unwrap());
        assert_eq!(from_file.storage, Storage::Dir("/from/file".into()));
        assert_eq!(from_file.sync, SyncMode::None);
        assert_eq!(from_file.worker_threads, 4);
        assert_eq!(from_file.function_network, FunctionNetwork::Host);
        assert_eq!(from_file.config_file, Some("/f.toml".into()));

        let args = UpArgs {
            bind: Some("127.0.0.1:1234".parse().unwrap()),
            data_dir: Some("/from/args".into()),
            sync: Some(SyncMode::Fsync),
            function_network: Some(FunctionNetwork::Isolated),
            ..Default::default()
        };
        let c = resolve(&args, Some(("/f.toml".into(), file.clone())), &dirs()).unwrap();
        assert_eq!(c.function_network, FunctionNetwork::Isolated);
        assert_eq!(c.bind, "127.0.0.1:1234".parse().unwrap());
        assert_eq!(c.storage, Storage::Dir("/from/args".into()));
        assert_eq!(c.sync, SyncMode::Fsync);
        assert_eq!(c.worker_threads, 4);

        // in_memory from the file beats the data dir from the file.
        let mem_file = parse_file("in_memory = true\ndata_dir = \"/x\"").unwrap();
        let c = resolve(
            &UpArgs::default(),
            Some(("/f".into(), mem_file.clone())),
            &dirs(),
        )
        .unwrap();
        assert_eq!(c.storage, Storage::InMemory);
        // ... and an explicit `--in-memory=false` beats the file.
        let args = UpArgs {
            in_memory: Some(false),
            ..Default::default()
        };
        let c = resolve(&args, Some(("/f".into(), mem_file)), &dirs()).unwrap();
        assert_eq!(c.storage, Storage::Dir("/x".into()));
    }

    #[test]
    fn ttl_sweep_interval_resolves_and_is_bounded() {
        let none = resolve(&UpArgs::default(), None, &dirs()).unwrap();
        assert_eq!(none.ttl_sweep_interval_ms, DEFAULT_TTL_SWEEP_INTERVAL_MS);
        let file = parse_file("ttl_sweep_interval_ms = 250").unwrap();
        let c = resolve(
            &UpArgs::default(),
            Some(("/f".into(), file.clone())),
            &dirs(),
        )
        .unwrap();
        assert_eq!(c.ttl_sweep_interval_ms, 250);
        let args = UpArgs {
            ttl_sweep_interval_ms: Some(50),
            ..Default::default()
        };
        let c = resolve(&args, Some(("/f".into(), file)), &dirs()).unwrap();
        assert_eq!(c.ttl_sweep_interval_ms, 50);
        let zero = UpArgs {
            ttl_sweep_interval_ms: Some(0),
            ..Default::default()
        };
        assert!(resolve(&zero, None, &dirs()).is_err());
    }

    #[test]
    fn credentials_from_file_and_list() {
        let file = parse_file(
            r#"
            [[credentials]]
            access_key_id = "AKIAFILE"
            secret_access_key = "filesecret"
            account_id = "111111111111"

            [[credentials]]
            access_key_id = "AKIASHARED"
            secret_access_key = "old"
            "#,
        )
        .unwrap();
        let args = UpArgs {
            credentials: Some("AKIAENV:envsecret, AKIASHARED:new:222222222222".into()),
            ..Default::default()
        };
        let c = resolve(&args, Some(("/f".into(), file)), &dirs()).unwrap();
        let find = |k: &str| c.credentials.iter().find(|x| x.access_key_id == k).unwrap();
        assert_eq!(c.credentials.len(), 3);
        assert_eq!(find("AKIAFILE").account_id, "111111111111");
        assert_eq!(find("AKIAENV").account_id, "000000000000");
        assert_eq!(find("AKIAENV").secret_access_key, "envsecret");
        assert_eq!(find("AKIASHARED").secret_access_key, "new");
        assert_eq!(find("AKIASHARED").account_id, "222222222222");
    }

    #[test]
    fn bad_input_is_reported() {
        assert!(parse_credentials_list("AKIA").is_err());
        assert!(parse_credentials_list("AKIA:").is_err());
        assert!(parse_credentials_list("AKIA:s:123").is_err());
        assert!(parse_credentials_list("AK IA:s").is_err());
        // Secrets may contain ':' only in the account position, which then fails loudly.
        assert!(parse_credentials_list("AKIA:s:ecret").is_err());
        assert!(parse_credentials_list("").unwrap().is_empty());
        assert!(parse_file("bind = 5").is_err());
        assert!(parse_file("unknown_key = 1").is_err());
        assert!(parse_file("sync = \"sometimes\"").is_err());
        assert!(parse_file("[[credentials]]\naccess_key_id = \"A\"").is_err());
    }

    #[test]
    fn explicit_config_file_must_exist_default_may_not() {
        let dir = tempfile::tempdir().unwrap();
        let d = Dirs {
            home: None,
            xdg_data_home: None,
            xdg_config_home: Some(dir.path().to_path_buf()),
            xdg_cache_home: None,
        };
        assert!(load_file(None, &d).unwrap().is_none());
        assert!(load_file(Some(&dir.path().join("missing.toml")), &d).is_err());
        std::fs::create_dir_all(dir.path().join("nimbus")).unwrap();
        std::fs::write(dir.path().join("nimbus/config.toml"), "sync = \"none\"\n").unwrap();
        let (path, f) = load_file(None, &d).unwrap().unwrap();
        assert_eq!(path, dir.path().join("nimbus/config.toml"));
        assert_eq!(f.sync, Some(SyncMode::None));
    }
}
