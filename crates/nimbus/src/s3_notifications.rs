//! Delivers S3 event notifications to Lambda. S3 writes each notification to the event
//! bus topic `nimbus_s3::notify::TOPIC` in the transaction of the change it describes;
//! this consumer turns every record into an asynchronous Invoke of its function (the
//! invocation then lives in Lambda's durable queue, with its retries and destinations),
//! as S3 does. Delivery is at least once: a batch that fails part-way comes again.

use std::sync::Arc;

use bytes::Bytes;
use nimbus_core::{Principal, RequestContext};
use nimbus_events::{Bus, Consumer, Record};
use nimbus_lambda::invoke::{InvocationKind, InvokeRequest};
use nimbus_lambda::Lambda;
use nimbus_s3::notify::{Delivery, TOPIC};
use nimbus_s3::DestinationProblem;
use nimbus_store::Db;
use tokio::sync::OnceCell;

/// The consumer's name (its cursor is stored under it).
pub const CONSUMER: &str = "s3-notifications";

/// Whether S3 may deliver to the function `arn` for `bucket` of `owner`: it exists and
/// its resource policy lets `s3.amazonaws.com` invoke it (PutBucketNotificationConfiguration
/// refuses the configuration otherwise).
pub fn check_destination(
    lambda: Option<&Lambda>,
    arn: &str,
    bucket: &str,
    owner: &str,
) -> Result<(), DestinationProblem> {
    let Some(lambda) = lambda else {
        return Err(DestinationProblem::NoSuchFunction);
    };
    match lambda.service_may_invoke(
        arn,
        "s3.amazonaws.com",
        &format!("arn:aws:s3:::{bucket}"),
        owner,
    ) {
        Ok(true) => Ok(()),
        Ok(false) => Err(DestinationProblem::NotAuthorized),
        Err(_) => Err(DestinationProblem::NoSuchFunction),
    }
}

/// Most delivered records removed from the topic per transaction.
const TRIM_BATCH: usize = 1_000;

/// Registers the consumer on the process's bus. `lambda` is filled once Lambda started;
/// if it never is (its start failed), notifications are dropped with a warning.
pub fn start(bus: &Bus, lambda: Arc<OnceCell<Lambda>>, db: &Db) {
    let db = db.clone();
    let consumer = Consumer::new(
        CONSUMER,
        || vec![TOPIC.to_vec()],
        move |records| deliver(lambda.clone(), db.clone(), records),
    );
    if let Err(e) = bus.register(consumer) {
        tracing::warn!(error = %e, "S3 notifications to Lambda are not delivered");
    }
}

async fn deliver(
    lambda: Arc<OnceCell<Lambda>>,
    db: Db,
    records: Vec<Record>,
) -> Result<(), String> {
    let Some(last) = records.last().map(|r| r.seq) else {
        return Ok(());
    };
    match lambda.get() {
        Some(lambda) => invoke_all(lambda, records).await?,
        None => tracing::warn!(
            count = records.len(),
            "Lambda is not running: S3 notifications dropped"
        ),
    }
    // Delivered records are not needed again (a crash before the cursor moves finds
    // them gone and carries on from the next one).
    db.write(move |txn| nimbus_events::trim_before_seq(txn, TOPIC, last + 1, TRIM_BATCH))
        .await
        .map_err(|e| format!("trimming delivered S3 notifications: {e}"))?;
    Ok(())
}

async fn invoke_all(lambda: &Lambda, records: Vec<Record>) -> Result<(), String> {
    for r in records {
        let d: Delivery = match serde_json::from_slice(&r.payload) {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!(seq = r.seq, error = %e, "skipping an unreadable S3 notification");
                continue;
            }
        };
        // arn:aws:lambda:{region}:{account}:function:{name}[:{qualifier}]
        let parts: Vec<&str> = d.function_arn.split(':').collect();
        let (Some(region), Some(account)) = (parts.get(3), parts.get(4)) else {
            tracing::warn!(arn = %d.function_arn, "S3 notification to a malformed function ARN dropped");
            continue;
        };
        let ctx = RequestContext {
            account_id: (*account).to_string(),
            region: (*region).to_string(),
            principal: Principal::root(account, ""),
            request_id: uuid::Uuid::new_v4().to_string(),
        };
        let payload = match serde_json::to_vec(&d.event) {
            Ok(p) => Bytes::from(p),
            Err(e) => {
                tracing::warn!(error = %e, "S3 notification not encodable; dropped");
                continue;
            }
        };
        let req = InvokeRequest {
            function_name: d.function_arn.clone(),
            qualifier: None,
            kind: InvocationKind::Event,
            log_tail: false,
            client_context: None,
            payload,
        };
        match lambda.invoke(&ctx, req).await {
            Ok(_) => {}
            // The function is gone, or refuses the event: S3 drops the notification.
            Err(e) if e.sender_fault => {
                tracing::warn!(arn = %d.function_arn, code = %e.code, message = %e.message,
                    "S3 notification not delivered");
            }
            // Lambda could not take it now (store busy, shutting down): the batch comes
            // again.
            Err(e) => return Err(format!("{}: {}", e.code, e.message)),
        }
    }
    Ok(())
}
