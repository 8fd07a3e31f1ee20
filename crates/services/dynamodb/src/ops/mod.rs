//! Operations; see lib.rs.
//!
//! `DynamoDb` is the service object: the store, the clock and the table-metadata cache.
//! Control-plane operations live in `tables` (and `tags`, `limits`); data-plane ones in
//! `items`, `batch`, `transact`, `query`. Shared building blocks: `convert` (wire <-> data
//! model), `catalog` (table metadata + cache), `layout` (store keys, item codec), `write`
//! (key validation, the one item-write path with index and counter maintenance).

pub mod backups;
pub mod batch;
pub mod capacity;
pub mod catalog;
pub mod changes;
pub mod convert;
pub mod insights;
pub mod items;
pub mod jobs;
pub mod layout;
pub mod limits;
pub mod params;
pub mod partiql;
pub mod pitr;
pub mod policies;
pub mod query;
pub mod replication;
pub mod streams;
pub mod tables;
pub mod tags;
pub mod transact;
pub mod ttl;
pub mod write;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use nimbus_core::{RequestContext, SharedClock};
use nimbus_model::dynamodb::*;
use nimbus_store::Db;
use nimbus_wire::AwsError;

use crate::error::{to_aws_error, DynamoDbError};
use catalog::{TableCache, TableMeta};

/// The DynamoDB service. Cheap to clone (shared state behind `Arc`s).
#[derive(Clone)]
pub struct DynamoDb {
    db: Db,
    clock: SharedClock,
    cache: Arc<TableCache>,
    jobs: Arc<jobs::JobRunner>,
    /// Set once unfinished background jobs found in the store have been resumed.
    resumed: Arc<AtomicBool>,
    /// The event bus stream records go to (shared with the rest of the process).
    bus: nimbus_events::Bus,
    streams: Arc<streams::StreamsConfig>,
    ttl: ttl::SweepConfig,
    /// Background loops (stream trimmer, ...) watch this to stop at shutdown.
    stop: Arc<tokio::sync::watch::Sender<bool>>,
    background: Arc<parking_lot::Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl DynamoDb {
    /// A service over `db`. Background work (table purges, index backfills) left
    /// unfinished by a previous process resumes as soon as a Tokio runtime is available.
    pub fn new(db: Db, clock: SharedClock) -> Self {
        let bus = nimbus_events::Bus::new(db.clone(), clock.clone());
        Self::with_bus(db, clock, bus)
    }

    /// A service whose stream records go to `bus` (the process's one bus).
    pub fn with_bus(db: Db, clock: SharedClock, bus: nimbus_events::Bus) -> Self {
        let cache = Arc::new(TableCache::new());
        let svc = DynamoDb {
            jobs: Arc::new(jobs::JobRunner::new(
                db.clone(),
                cache.clone(),
                clock.clone(),
            )),
            db,
            clock,
            cache,
            resumed: Arc::new(AtomicBool::new(false)),
            bus,
            streams: Arc::new(streams::StreamsConfig::default()),
            ttl: ttl::SweepConfig::default(),
            stop: Arc::new(tokio::sync::watch::channel(false).0),
            background: Arc::default(),
        };
        svc.ensure_jobs_resumed();
        svc
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Replaces the streams timing (shard period, retention, iterator lifetime); call
    /// before the service is shared.
    pub fn with_streams_config(mut self, cfg: streams::StreamsConfig) -> Self {
        self.streams = Arc::new(cfg);
        self
    }

    /// The TTL sweeper's settings (used by `start_background`).
    pub fn with_ttl_config(mut self, cfg: ttl::SweepConfig) -> Self {
        self.ttl = cfg;
        self
    }

    pub fn streams_config(&self) -> &streams::StreamsConfig {
        &self.streams
    }

    /// The event bus (stream topics, consumers such as the replicator).
    pub fn bus(&self) -> &nimbus_events::Bus {
        &self.bus
    }

    /// Wakes the bus's consumers; call after a committed write that may have appended
    /// stream records.
    pub fn notify_bus(&self) {
        self.bus.notify();
    }

    /// `notify_bus` when one of `tables` has an enabled stream (only those writes
    /// append records). Waking every consumer on every write costs each of them a pass
    /// (the replicator lists its topics with a store range read) for nothing; a stream
    /// enabled since `tables` was cached is still seen at the consumers' next poll.
    pub fn notify_bus_for<'a>(&self, tables: impl IntoIterator<Item = &'a TableMeta>) {
        if tables
            .into_iter()
            .any(|t| t.stream.as_ref().is_some_and(|s| s.enabled))
        {
            self.bus.notify();
        }
    }

    /// Flips to `true` when background work must stop (`stop_background`).
    pub fn shutdown_signal(&self) -> tokio::sync::watch::Receiver<bool> {
        self.stop.subscribe()
    }

    /// Lets `stop_background` wait for a background task.
    pub fn track_background(&self, task: tokio::task::JoinHandle<()>) {
        let mut list = self.background.lock();
        list.retain(|t| !t.is_finished());
        list.push(task);
    }

    /// Stops background loops and the bus's consumers and waits for them (bounded by
    /// `timeout_ms`, together with the background jobs). Returns whether all stopped.
    pub async fn stop_background(&self, timeout_ms: u64) -> bool {
        let _ = self.stop.send(true);
        let started = std::time::Instant::now();
        let bus_ok = self.bus.shutdown(timeout_ms).await;
        let tasks: Vec<tokio::task::JoinHandle<()>> = std::mem::take(&mut *self.background.lock());
        let left = timeout_ms.saturating_sub(started.elapsed().as_millis() as u64);
        let tasks_ok = tokio::time::timeout(std::time::Duration::from_millis(left), async {
            for t in tasks {
                let _ = t.await;
            }
        })
        .await
        .is_ok();
        bus_ok && tasks_ok
    }

    pub fn clock(&self) -> &SharedClock {
        &self.clock
    }

    pub fn now_millis(&self) -> i64 {
        self.clock.now_millis()
    }

    pub fn cache(&self) -> &TableCache {
        &self.cache
    }

    pub(crate) fn jobs(&self) -> &Arc<jobs::JobRunner> {
        &self.jobs
    }

    /// The table's metadata for a data-plane operation (cache first, then the store).
    /// Missing table: ResourceNotFoundException "Requested resource not found".
    pub fn table(&self, ctx: &RequestContext, name: &str) -> Result<Arc<TableMeta>, DynamoDbError> {
        self.find_table(ctx, name)?.ok_or_else(|| {
            DynamoDbError::ResourceNotFound(write::MSG_RESOURCE_NOT_FOUND.to_string())
        })
    }

    /// The table's metadata, `None` when it does not exist. `name` may also be the
    /// table's ARN (AWS accepts either in `TableName`).
    pub fn find_table(
        &self,
        ctx: &RequestContext,
        name: &str,
    ) -> Result<Option<Arc<TableMeta>>, DynamoDbError> {
        if name.starts_with("arn:") {
            return match tables::table_name_from(name, ctx) {
                Ok(n) => self
                    .cache
                    .get_or_load(&self.db, &ctx.account_id, &ctx.region, &n),
                // An ARN of another region or account, or not a table: no such table here.
                Err(_) => Ok(None),
            };
        }
        self.cache
            .get_or_load(&self.db, &ctx.account_id, &ctx.region, name)
    }

    /// Drops a table's cached metadata; call after every committed change to it.
    pub fn invalidate_table(&self, account: &str, region: &str, name: &str) {
        self.cache.invalidate(account, region, name);
    }

    /// Resumes background jobs once, when called inside a Tokio runtime.
    pub(crate) fn ensure_jobs_resumed(&self) {
        if self.resumed.load(Ordering::Acquire) {
            return;
        }
        if tokio::runtime::Handle::try_current().is_err() {
            return;
        }
        if self
            .resumed
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            self.jobs.resume_all();
        }
    }

    /// Starts the service's background work (TTL sweeper, PITR history trimmer, backup
    /// jobs left unfinished). Call once, inside a Tokio runtime.
    pub fn start_background(&self) {
        self.ensure_jobs_resumed();
        ttl::spawn_sweeper(self, self.ttl.clone());
        pitr::spawn_trimmer(self);
        backups::resume_jobs(self);
        streams::spawn_trimmer(self);
        replication::start_replicator(self);
        if let Err(e) = self.bus.start() {
            tracing::warn!(error = %e, "event bus consumers not started");
        }
    }

    /// Waits until no background job is running (tests, orderly shutdown). Bounded by
    /// `timeout_ms`; returns whether the jobs finished.
    pub async fn wait_for_background_jobs(&self, timeout_ms: u64) -> bool {
        self.jobs.wait_idle(timeout_ms).await
    }
}

/// Renders a DynamoDB error as AWS's error envelope.
pub fn aws_error(e: &DynamoDbError) -> AwsError {
    if let DynamoDbError::Store(err) = e {
        tracing::error!(error = %err, "dynamodb store error");
    } else if let DynamoDbError::Internal(msg) = e {
        tracing::error!(error = %msg, "dynamodb internal error");
    }
    to_aws_error(e, convert::item_to_json)
}

macro_rules! delegate {
    ($($method:ident => $path:path, $input:ty, $output:ty;)*) => {
        $(
            async fn $method(
                &self,
                ctx: &RequestContext,
                input: $input,
            ) -> Result<$output, AwsError> {
                self.ensure_jobs_resumed();
                $path(self, ctx, input).await.map_err(|e| aws_error(&e))
            }
        )*
    };
}

impl DynamoDbApi for DynamoDb {
    delegate! {
        put_item => items::put_item, PutItemInput, PutItemOutput;
        get_item => items::get_item, GetItemInput, GetItemOutput;
        update_item => items::update_item, UpdateItemInput, UpdateItemOutput;
        delete_item => items::delete_item, DeleteItemInput, DeleteItemOutput;
        batch_get_item => batch::batch_get_item, BatchGetItemInput, BatchGetItemOutput;
        batch_write_item => batch::batch_write_item, BatchWriteItemInput, BatchWriteItemOutput;
        transact_write_items => transact::transact_write_items, TransactWriteItemsInput, TransactWriteItemsOutput;
        transact_get_items => transact::transact_get_items, TransactGetItemsInput, TransactGetItemsOutput;
        query => query::query, QueryInput, QueryOutput;
        scan => query::scan, ScanInput, ScanOutput;
        create_table => tables::create_table, CreateTableInput, CreateTableOutput;
        describe_table => tables::describe_table, DescribeTableInput, DescribeTableOutput;
        list_tables => tables::list_tables, ListTablesInput, ListTablesOutput;
        update_table => tables::update_table, UpdateTableInput, UpdateTableOutput;
        delete_table => tables::delete_table, DeleteTableInput, DeleteTableOutput;
        tag_resource => tags::tag_resource, TagResourceInput, ();
        untag_resource => tags::untag_resource, UntagResourceInput, ();
        list_tags_of_resource => tags::list_tags_of_resource, ListTagsOfResourceInput, ListTagsOfResourceOutput;
        describe_limits => limits::describe_limits, DescribeLimitsInput, DescribeLimitsOutput;
        describe_endpoints => limits::describe_endpoints, DescribeEndpointsRequest, DescribeEndpointsResponse;
        execute_statement => partiql::execute_statement, ExecuteStatementInput, ExecuteStatementOutput;
        batch_execute_statement => partiql::batch_execute_statement, BatchExecuteStatementInput, BatchExecuteStatementOutput;
        execute_transaction => partiql::execute_transaction, ExecuteTransactionInput, ExecuteTransactionOutput;
        update_time_to_live => ttl::update_time_to_live, UpdateTimeToLiveInput, UpdateTimeToLiveOutput;
        describe_time_to_live => ttl::describe_time_to_live, DescribeTimeToLiveInput, DescribeTimeToLiveOutput;
        create_backup => backups::create_backup, CreateBackupInput, CreateBackupOutput;
        describe_backup => backups::describe_backup, DescribeBackupInput, DescribeBackupOutput;
        list_backups => backups::list_backups, ListBackupsInput, ListBackupsOutput;
        delete_backup => backups::delete_backup, DeleteBackupInput, DeleteBackupOutput;
        restore_table_from_backup => backups::restore_table_from_backup, RestoreTableFromBackupInput, RestoreTableFromBackupOutput;
        update_continuous_backups => pitr::update_continuous_backups, UpdateContinuousBackupsInput, UpdateContinuousBackupsOutput;
        describe_continuous_backups => pitr::describe_continuous_backups, DescribeContinuousBackupsInput, DescribeContinuousBackupsOutput;
        restore_table_to_point_in_time => pitr::restore_table_to_point_in_time, RestoreTableToPointInTimeInput, RestoreTableToPointInTimeOutput;
        update_contributor_insights => insights::update_contributor_insights, UpdateContributorInsightsInput, UpdateContributorInsightsOutput;
        describe_contributor_insights => insights::describe_contributor_insights, DescribeContributorInsightsInput, DescribeContributorInsightsOutput;
        list_contributor_insights => insights::list_contributor_insights, ListContributorInsightsInput, ListContributorInsightsOutput;
        put_resource_policy => policies::put_resource_policy, PutResourcePolicyInput, PutResourcePolicyOutput;
        get_resource_policy => policies::get_resource_policy, GetResourcePolicyInput, GetResourcePolicyOutput;
        delete_resource_policy => policies::delete_resource_policy, DeleteResourcePolicyInput, DeleteResourcePolicyOutput;
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::ops::tables::tests::{ctx, svc};
    use nimbus_wire::AwsRequest;

    async fn call(s: &DynamoDb, op: &str, body: &str) -> (u16, serde_json::Value) {
        let mut headers = http::HeaderMap::new();
        headers.insert(
            "x-amz-target",
            http::HeaderValue::from_str(&format!("DynamoDB_20120810.{op}")).unwrap(),
        );
        let req = AwsRequest {
            method: http::Method::POST,
            path: "/".into(),
            query: String::new(),
            headers,
            body: bytes::Bytes::from(body.to_string()),
        };
        let resp = dispatch(s, &ctx(), &req).await;
        (
            resp.status.as_u16(),
            serde_json::from_slice(&resp.body).unwrap(),
        )
    }

    #[tokio::test]
    async fn wire_round_trip() {
        let s = svc();
        let (st, body) = call(
            &s,
            "CreateTable",
            r#"{"TableName":"wire","AttributeDefinitions":[{"AttributeName":"pk","AttributeType":"S"}],
               "KeySchema":[{"AttributeName":"pk","KeyType":"HASH"}],
               "ProvisionedThroughput":{"ReadCapacityUnits":5,"WriteCapacityUnits":5}}"#,
        )
        .await;
        assert_eq!(st, 200, "{body}");
        let d = &body["TableDescription"];
        assert_eq!(d["TableStatus"], "CREATING");
        assert_eq!(d["ProvisionedThroughput"]["ReadCapacityUnits"], 5);
        assert_eq!(d["ProvisionedThroughput"]["NumberOfDecreasesToday"], 0);
        assert_eq!(d["KeySchema"][0]["KeyType"], "HASH");
        assert!(d["CreationDateTime"].is_number());
        assert!(d.get("BillingModeSummary").is_none());

        let (st, body) = call(&s, "DescribeTable", r#"{"TableName":"wire"}"#).await;
        assert_eq!(st, 200);
        assert_eq!(body["Table"]["TableStatus"], "ACTIVE");
        assert_eq!(body["Table"]["ItemCount"], 0);
        assert_eq!(body["Table"]["DeletionProtectionEnabled"], false);

        let (st, body) = call(&s, "DescribeTable", r#"{"TableName":"nope"}"#).await;
        assert_eq!(st, 400);
        assert_eq!(
            body["__type"],
            "com.amazonaws.dynamodb.v20120810#ResourceNotFoundException"
        );
        assert_eq!(
            body["message"],
            "Requested resource not found: Table: nope not found"
        );

        let (st, body) = call(
            &s,
            "UpdateTable",
            r#"{"TableName":"wire","ProvisionedThroughput":{"ReadCapacityUnits":5,"WriteCapacityUnits":5}}"#,
        )
        .await;
        assert_eq!(st, 400);
        assert_eq!(
            body["__type"],
            "com.amazon.coral.validate#ValidationException"
        );

        let (st, body) = call(&s, "ListTables", "{}").await;
        assert_eq!(st, 200);
        assert_eq!(body["TableNames"], serde_json::json!(["wire"]));

        let (st, body) = call(&s, "DescribeEndpoints", "{}").await;
        assert_eq!(st, 200);
        assert_eq!(
            body["Endpoints"][0]["Address"],
            "dynamodb.us-east-1.amazonaws.com"
        );

        let (st, body) = call(&s, "DeleteTable", r#"{"TableName":"wire"}"#).await;
        assert_eq!(st, 200);
        assert_eq!(body["TableDescription"]["TableStatus"], "DELETING");
        assert!(s.table(&ctx(), "wire").is_err());
    }
}
