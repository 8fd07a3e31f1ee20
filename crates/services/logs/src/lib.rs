//! nimbus-logs: CloudWatch Logs over the store.
//!
//! - [`Logs`] implements the generated [`LogsApi`] (awsJson 1.1); serve it with
//!   [`dispatch`] (not the generated one: it turns the request layer's
//!   `ValidationException` into `InvalidParameterException`, as CloudWatch Logs answers).
//! - [`Logs::append_internal`] and [`LogWriter`] (from [`Logs::sink`]) take function output
//!   from the Lambda engine: groups and streams are created on first use, batches are
//!   written in one transaction, and the writer's queue is bounded (full → dropped, counted).
//! - [`Logs::start_background`] runs the sweeper: retention policies (through the clock)
//!   and the deletion of deleted groups' and streams' events in bounded chunks.
//!
//! The key layout is in [`keys`].

pub mod error;
mod events;
pub mod keys;
mod ops;
pub mod pattern;
pub mod records;
mod sweep;
mod writer;

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests;

use std::sync::Arc;

use nimbus_core::{RequestContext, SharedClock};
use nimbus_model::logs::*;
use nimbus_store::Db;
use nimbus_wire::{AwsError, AwsRequest, AwsResponse};

pub use error::LogsError;
pub use events::AppendBatch;
pub use sweep::SweepStats;
pub use writer::{LogWriter, WriterStats};

/// Tunables; the defaults are what nimbus runs with.
#[derive(Debug, Clone)]
pub struct LogsConfig {
    /// How often the sweeper applies retention and removes deleted groups' events.
    pub sweep_interval_ms: u64,
    /// Batches the [`LogWriter`] queue holds before it drops (and counts) new ones.
    pub writer_queue_batches: usize,
}

impl Default for LogsConfig {
    fn default() -> Self {
        LogsConfig {
            sweep_interval_ms: 60_000,
            writer_queue_batches: 8192,
        }
    }
}

/// The CloudWatch Logs service.
pub struct Logs {
    db: Db,
    clock: SharedClock,
    config: LogsConfig,
    stop: tokio::sync::watch::Sender<bool>,
    tasks: parking_lot::Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

impl std::fmt::Debug for Logs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Logs")
            .field("db", &self.db)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Logs {
    pub fn new(db: Db, clock: SharedClock) -> Arc<Logs> {
        Logs::with_config(db, clock, LogsConfig::default())
    }

    pub fn with_config(db: Db, clock: SharedClock, config: LogsConfig) -> Arc<Logs> {
        Arc::new(Logs {
            db,
            clock,
            config,
            stop: tokio::sync::watch::channel(false).0,
            tasks: parking_lot::Mutex::new(Vec::new()),
        })
    }

    pub fn now_millis(&self) -> i64 {
        self.clock.now_millis()
    }

    /// Starts the sweeper (retention, deleted groups and streams). Call inside a Tokio
    /// runtime, once.
    pub fn start_background(self: &Arc<Self>) {
        let me = self.clone();
        let mut stop = self.stop.subscribe();
        let interval = std::time::Duration::from_millis(self.config.sweep_interval_ms.max(10));
        let handle = tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(interval) => {}
                    _ = stop.changed() => break,
                }
                if *stop.borrow() {
                    break;
                }
                if let Err(e) = me.sweep_once().await {
                    tracing::warn!(error = %e, "logs sweep failed; retrying next interval");
                }
            }
        });
        self.tasks.lock().push(handle);
    }

    /// Stops the sweeper; waits at most `timeout_ms`. Returns whether it stopped in time.
    pub async fn stop_background(&self, timeout_ms: u64) -> bool {
        let _ = self.stop.send(true);
        let tasks: Vec<_> = std::mem::take(&mut *self.tasks.lock());
        tokio::time::timeout(std::time::Duration::from_millis(timeout_ms), async {
            for t in tasks {
                let _ = t.await;
            }
        })
        .await
        .is_ok()
    }
}

/// Serves one CloudWatch Logs request. Use this rather than
/// `nimbus_model::logs::dispatch`: CloudWatch Logs reports request validation failures
/// as `InvalidParameterException` (same message), not `ValidationException`.
pub async fn dispatch(logs: &Logs, ctx: &RequestContext, req: &AwsRequest) -> AwsResponse {
    let resp = nimbus_model::logs::dispatch(logs, ctx, req).await;
    if resp.status != http::StatusCode::BAD_REQUEST {
        return resp;
    }
    let Ok(body) = serde_json::from_slice::<serde_json::Value>(&resp.body) else {
        return resp;
    };
    let is_validation = body
        .get("__type")
        .and_then(|t| t.as_str())
        .is_some_and(|t| t.ends_with("ValidationException"));
    if !is_validation {
        return resp;
    }
    let message = body
        .get("message")
        .or_else(|| body.get("Message"))
        .and_then(|m| m.as_str())
        .unwrap_or_default();
    let err = LogsError::invalid(message).to_aws();
    nimbus_model::logs::META.error_response(&err, &ctx.request_id)
}

type R<T> = Result<T, AwsError>;

fn aws<T>(r: Result<T, LogsError>) -> R<T> {
    r.map_err(|e| e.to_aws())
}

impl LogsApi for Logs {
    async fn create_log_group(&self, ctx: &RequestContext, input: CreateLogGroupRequest) -> R<()> {
        aws(ops::create_log_group(self, ctx, input).await)
    }
    async fn delete_log_group(&self, ctx: &RequestContext, input: DeleteLogGroupRequest) -> R<()> {
        aws(ops::delete_log_group(self, ctx, input).await)
    }
    async fn describe_log_groups(
        &self,
        ctx: &RequestContext,
        input: DescribeLogGroupsRequest,
    ) -> R<DescribeLogGroupsResponse> {
        aws(ops::describe_log_groups(self, ctx, input))
    }
    async fn create_log_stream(
        &self,
        ctx: &RequestContext,
        input: CreateLogStreamRequest,
    ) -> R<()> {
        aws(ops::create_log_stream(self, ctx, input).await)
    }
    async fn delete_log_stream(
        &self,
        ctx: &RequestContext,
        input: DeleteLogStreamRequest,
    ) -> R<()> {
        aws(ops::delete_log_stream(self, ctx, input).await)
    }
    async fn describe_log_streams(
        &self,
        ctx: &RequestContext,
        input: DescribeLogStreamsRequest,
    ) -> R<DescribeLogStreamsResponse> {
        aws(ops::describe_log_streams(self, ctx, input))
    }
    async fn put_retention_policy(
        &self,
        ctx: &RequestContext,
        input: PutRetentionPolicyRequest,
    ) -> R<()> {
        aws(ops::put_retention_policy(self, ctx, input).await)
    }
    async fn delete_retention_policy(
        &self,
        ctx: &RequestContext,
        input: DeleteRetentionPolicyRequest,
    ) -> R<()> {
        aws(ops::delete_retention_policy(self, ctx, input).await)
    }
    async fn tag_resource(&self, ctx: &RequestContext, input: TagResourceRequest) -> R<()> {
        aws(ops::tag_resource(self, ctx, input).await)
    }
    async fn untag_resource(&self, ctx: &RequestContext, input: UntagResourceRequest) -> R<()> {
        aws(ops::untag_resource(self, ctx, input).await)
    }
    async fn list_tags_for_resource(
        &self,
        ctx: &RequestContext,
        input: ListTagsForResourceRequest,
    ) -> R<ListTagsForResourceResponse> {
        aws(ops::list_tags_for_resource(self, ctx, input))
    }
    async fn tag_log_group(&self, ctx: &RequestContext, input: TagLogGroupRequest) -> R<()> {
        aws(ops::tag_log_group(self, ctx, input).await)
    }
    async fn untag_log_group(&self, ctx: &RequestContext, input: UntagLogGroupRequest) -> R<()> {
        aws(ops::untag_log_group(self, ctx, input).await)
    }
    async fn list_tags_log_group(
        &self,
        ctx: &RequestContext,
        input: ListTagsLogGroupRequest,
    ) -> R<ListTagsLogGroupResponse> {
        aws(ops::list_tags_log_group(self, ctx, input))
    }
    async fn put_log_events(
        &self,
        ctx: &RequestContext,
        input: PutLogEventsRequest,
    ) -> R<PutLogEventsResponse> {
        aws(events::put_log_events(self, ctx, input).await)
    }
    async fn get_log_events(
        &self,
        ctx: &RequestContext,
        input: GetLogEventsRequest,
    ) -> R<GetLogEventsResponse> {
        aws(events::get_log_events(self, ctx, input))
    }
    async fn filter_log_events(
        &self,
        ctx: &RequestContext,
        input: FilterLogEventsRequest,
    ) -> R<FilterLogEventsResponse> {
        aws(events::filter_log_events(self, ctx, input))
    }
}
