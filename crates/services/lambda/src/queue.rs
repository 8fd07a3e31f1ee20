//! The asynchronous invoke queue: durable events under `lambda/q/` ordered by due time,
//! a background loop that claims due events (moving each to a lease: its due time
//! becomes the lease's end, so a crash makes it due again — at least once), runs them
//! with bounded concurrency, retries failures with backoff (base, then twice the base),
//! honours MaximumRetryAttempts / MaximumEventAgeInSeconds and sends destination records
//! to Lambda destinations (as another queued event, in the same transaction that removes
//! the finished one).

use base64::Engine as _;
use bytes::Bytes;
use nimbus_functions::InvokeError;
use tokio::sync::watch;

use crate::error::Fail;
use crate::invoke::Resolved;
use crate::keys;
use crate::records::{self, QueuedEvent};
use crate::service::Lambda;
use crate::time::iso_millis_z;
use crate::validate;

/// AWS's defaults when a function has no event invoke config.
const DEFAULT_MAX_RETRIES: u32 = 2;
const DEFAULT_MAX_AGE_S: i64 = 21_600;
/// An in-flight event is leased this long past the function's timeout.
const LEASE_MARGIN_MS: i64 = 60_000;
/// Throttled or failing-to-start events back off up to this long between tries.
const MAX_THROTTLE_BACKOFF_MS: i64 = 300_000;
/// The garbage reaper runs at most this often.
const REAP_INTERVAL_MS: i64 = 1_000;

impl Lambda {
    /// Starts the queue loop (with the garbage reaper). It stops when `stop` turns true;
    /// in-flight invocations finish on their own tasks.
    pub fn start_background(
        &self,
        stop: watch::Receiver<bool>,
    ) -> Vec<tokio::task::JoinHandle<()>> {
        let me = self.clone();
        vec![tokio::spawn(async move { me.queue_loop(stop).await })]
    }

    async fn queue_loop(self, mut stop: watch::Receiver<bool>) {
        let poll = std::time::Duration::from_millis(self.inner.cfg.poll_interval_ms.max(10));
        let mut last_reap = 0i64;
        loop {
            if *stop.borrow() {
                return;
            }
            tokio::select! {
                _ = self.inner.queue_wake.notified() => {}
                _ = tokio::time::sleep(poll) => {}
                _ = stop.changed() => {}
            }
            if *stop.borrow() {
                return;
            }
            let now = self.now_ms();
            if now - last_reap >= REAP_INTERVAL_MS {
                last_reap = now;
                if let Err(e) = self.reap_garbage().await {
                    tracing::warn!(error = %e, "lambda blob reaper");
                }
            }
            if let Err(e) = self.dispatch_due().await {
                tracing::warn!(error = ?e, "lambda async queue");
            }
        }
    }

    /// Claims and starts every due event there is a free permit for. Returns how many
    /// were started.
    pub async fn dispatch_due(&self) -> Result<usize, Fail> {
        let free = self.inner.queue_permits.available_permits();
        if free == 0 {
            return Ok(0);
        }
        let now = self.now_ms();
        let snap = self.snapshot()?;
        let due_end = keys::queued(now + 1, "");
        let rows = snap.range(
            std::ops::Bound::Included(keys::QUEUE.as_bytes()),
            std::ops::Bound::Excluded(due_end.as_slice()),
            false,
            free,
        )?;
        drop(snap);
        let mut started = 0;
        for (key, raw) in rows {
            let Ok(ev) = serde_json::from_slice::<QueuedEvent>(&raw) else {
                let k = key.clone();
                self.inner.db.write(move |txn| txn.delete(&k)).await?;
                continue;
            };
            let Ok(permit) = self.inner.queue_permits.clone().try_acquire_owned() else {
                break;
            };
            let lease_key = keys::queued(now + 900_000 + LEASE_MARGIN_MS, &ev.id);
            let leased = QueuedEvent {
                leased: true,
                ..ev.clone()
            };
            let (k, lk, e2) = (key.clone(), lease_key.clone(), leased);
            let claimed = self
                .inner
                .db
                .write(move |txn| {
                    if txn.get(&k)?.is_none() {
                        return Ok::<_, nimbus_store::StoreError>(false);
                    }
                    txn.delete(&k)?;
                    records::put(txn, &lk, &e2)?;
                    Ok(true)
                })
                .await?;
            if !claimed {
                continue;
            }
            started += 1;
            let me = self.clone();
            tokio::spawn(async move {
                me.process(ev, lease_key).await;
                drop(permit);
                me.inner.queue_wake.notify_one();
            });
        }
        Ok(started)
    }

    async fn process(&self, mut ev: QueuedEvent, lease_key: Vec<u8>) {
        let now = self.now_ms();
        let cfg = self
            .event_config_for(
                &ev.account_id,
                &ev.region,
                &ev.function,
                ev.qualifier.as_deref(),
            )
            .ok()
            .flatten();
        let max_retries = cfg
            .as_ref()
            .and_then(|c| c.maximum_retry_attempts)
            .map(|r| r.max(0) as u32)
            .unwrap_or(DEFAULT_MAX_RETRIES);
        let max_age_ms = cfg
            .as_ref()
            .and_then(|c| c.maximum_event_age_s)
            .map(i64::from)
            .unwrap_or(DEFAULT_MAX_AGE_S)
            * 1000;
        let on_success = cfg.as_ref().and_then(|c| c.on_success.clone());
        let on_failure = cfg.as_ref().and_then(|c| c.on_failure.clone());
        let payload = base64::engine::general_purpose::STANDARD
            .decode(&ev.payload_b64)
            .unwrap_or_default();

        if now - ev.enqueued_ms > max_age_ms {
            let record =
                destination_record(now, &ev, &payload, "EventAgeExceeded", None, None, None);
            self.finish(&lease_key, on_failure.as_deref(), record, &ev)
                .await;
            return;
        }
        let ctx = nimbus_core::RequestContext {
            account_id: ev.account_id.clone(),
            region: ev.region.clone(),
            principal: nimbus_core::Principal::root(&ev.account_id, "lambda.amazonaws.com"),
            request_id: ev.id.clone(),
        };
        let name = ev.function.clone();
        let resolved: Result<Resolved, Fail> =
            self.resolve_for_invoke(&ctx, &name, ev.qualifier.as_deref());
        let resolved = match resolved {
            Ok(r) => r,
            Err(_) => {
                // The function (or its qualifier) is gone: the event is dropped, as AWS.
                let k = lease_key.clone();
                let _ = self.inner.db.write(move |txn| txn.delete(&k)).await;
                return;
            }
        };
        let outcome = self
            .run(
                &resolved,
                ev.id.clone(),
                Bytes::from(payload.clone()),
                false,
                None,
            )
            .await;
        // Backoff counts from the end of the attempt, not its start.
        let now = self.now_ms();
        match outcome {
            Ok(o) if o.function_error.is_none() => {
                ev.attempts += 1;
                let record = destination_record(
                    self.now_ms(),
                    &ev,
                    &payload,
                    "Success",
                    Some(&resolved),
                    None,
                    Some(&o.payload),
                );
                self.finish(&lease_key, on_success.as_deref(), record, &ev)
                    .await;
            }
            Ok(o) => {
                ev.attempts += 1;
                let retries_done = ev.attempts.saturating_sub(1);
                if retries_done < max_retries {
                    // AWS: ~1 minute before the first retry, ~2 before the second.
                    let delay = self.inner.cfg.async_retry_base_delay_ms as i64
                        * (1i64 << retries_done.min(10));
                    self.reschedule(&lease_key, &ev, now + delay).await;
                } else {
                    let record = destination_record(
                        self.now_ms(),
                        &ev,
                        &payload,
                        "RetriesExhausted",
                        Some(&resolved),
                        o.function_error.as_deref(),
                        Some(&o.payload),
                    );
                    self.finish(&lease_key, on_failure.as_deref(), record, &ev)
                        .await;
                }
            }
            Err(e) => {
                // Throttles and start failures are retried (not counted as attempts)
                // until the event is too old.
                if !matches!(e, InvokeError::Throttled { .. }) {
                    tracing::warn!(function = %ev.function, error = %e, "async invoke could not start");
                }
                ev.throttles += 1;
                let delay = (self.inner.cfg.async_retry_base_delay_ms as i64
                    * (1i64 << ev.throttles.min(6)))
                .min(MAX_THROTTLE_BACKOFF_MS);
                self.reschedule(&lease_key, &ev, now + delay).await;
            }
        }
    }

    /// At startup: events leased by the previous process (it died while running them)
    /// are due now rather than when their 16-minute lease would end. The embedded store
    /// has one owner process, so every lease found at startup is stale.
    pub async fn recover_leases(&self) -> Result<usize, Fail> {
        let snap = self.snapshot()?;
        let rows = records::scan_all::<QueuedEvent>(
            snap.as_ref(),
            keys::QUEUE.as_bytes(),
            crate::service::MAX_SCAN,
        )?;
        drop(snap);
        let now = self.now_ms();
        let mut n = 0;
        for (key, ev) in rows.into_iter().filter(|(_, ev)| ev.leased) {
            let due = keys::queued(now, &ev.id);
            let ev = QueuedEvent {
                leased: false,
                ..ev
            };
            self.inner
                .db
                .write(move |txn| {
                    if txn.get(&key)?.is_some() {
                        txn.delete(&key)?;
                        records::put(txn, &due, &ev)?;
                    }
                    Ok::<_, nimbus_store::StoreError>(())
                })
                .await?;
            n += 1;
        }
        if n > 0 {
            tracing::info!(
                events = n,
                "async invocations of the previous run are due again"
            );
        }
        Ok(n)
    }

    async fn reschedule(&self, lease_key: &[u8], ev: &QueuedEvent, due_ms: i64) {
        tracing::debug!(event = %ev.id, function = %ev.function, attempts = ev.attempts, due_ms, "async invoke rescheduled");
        let (lk, nk, e) = (lease_key.to_vec(), keys::queued(due_ms, &ev.id), ev.clone());
        if let Err(err) = self
            .inner
            .db
            .write(move |txn| {
                txn.delete(&lk)?;
                records::put(txn, &nk, &e)
            })
            .await
        {
            tracing::warn!(error = %err, "rescheduling an async invoke");
        }
    }

    /// Removes the finished event and, if there is a Lambda destination, queues the
    /// destination record for it, in one transaction.
    async fn finish(
        &self,
        lease_key: &[u8],
        destination: Option<&str>,
        record: serde_json::Value,
        ev: &QueuedEvent,
    ) {
        let now = self.now_ms();
        let dest_event = destination.and_then(|d| {
            let r = validate::parse_function_ref(d)?;
            if !d.starts_with("arn:aws:lambda:") {
                return None;
            }
            Some(QueuedEvent {
                id: uuid::Uuid::new_v4().to_string(),
                account_id: r.account_id.unwrap_or_else(|| ev.account_id.clone()),
                region: r.region.unwrap_or_else(|| ev.region.clone()),
                function: r.name,
                qualifier: r.qualifier,
                payload_b64: base64::engine::general_purpose::STANDARD.encode(record.to_string()),
                enqueued_ms: now,
                attempts: 0,
                throttles: 0,
                leased: false,
            })
        });
        if let (Some(d), None) = (destination, &dest_event) {
            tracing::warn!(
                destination = d,
                "async invoke destination type is not supported yet"
            );
        }
        tracing::debug!(
            event = %ev.id,
            function = %ev.function,
            attempts = ev.attempts,
            condition = %record["requestContext"]["condition"],
            destination = destination.unwrap_or("-"),
            "async invoke finished"
        );
        let lk = lease_key.to_vec();
        let had_dest = dest_event.is_some();
        if let Err(err) = self
            .inner
            .db
            .write(move |txn| {
                txn.delete(&lk)?;
                if let Some(d) = &dest_event {
                    records::put(txn, &keys::queued(now, &d.id), d)?;
                }
                Ok::<_, nimbus_store::StoreError>(())
            })
            .await
        {
            tracing::warn!(error = %err, "finishing an async invoke");
        }
        if had_dest {
            self.inner.queue_wake.notify_one();
        }
    }

    /// The events queued or in flight, in due order (tests, inspection; at most `max`).
    pub fn queued_events(&self, max: usize) -> Vec<(i64, QueuedEvent)> {
        let Ok(snap) = self.snapshot() else {
            return Vec::new();
        };
        records::scan::<QueuedEvent>(snap.as_ref(), keys::QUEUE.as_bytes(), None, max)
            .unwrap_or_default()
            .into_iter()
            .map(|(k, e)| {
                let due = std::str::from_utf8(
                    k.get(keys::QUEUE.len()..keys::QUEUE.len() + 16)
                        .unwrap_or_default(),
                )
                .ok()
                .and_then(|d| d.parse().ok())
                .unwrap_or(0);
                (due, e)
            })
            .collect()
    }

    /// How many events are queued or in flight (health, tests).
    pub fn queue_depth(&self) -> usize {
        self.snapshot()
            .ok()
            .and_then(|s| records::keys_under(s.as_ref(), keys::QUEUE.as_bytes(), 100_000).ok())
            .map(|k| k.len())
            .unwrap_or(0)
    }
}

fn json_or_string(bytes: &[u8]) -> serde_json::Value {
    serde_json::from_slice(bytes)
        .unwrap_or_else(|_| serde_json::Value::String(String::from_utf8_lossy(bytes).to_string()))
}

/// AWS's destination record for an asynchronous invocation.
fn destination_record(
    now_ms: i64,
    ev: &QueuedEvent,
    request_payload: &[u8],
    condition: &str,
    resolved: Option<&Resolved>,
    function_error: Option<&str>,
    response: Option<&Bytes>,
) -> serde_json::Value {
    let function_arn = match resolved {
        Some(r) => format!(
            "{}:{}",
            validate::function_arn(&r.region, &r.account_id, &r.func.name),
            ev.qualifier.clone().unwrap_or_else(|| "$LATEST".into())
        ),
        None => format!(
            "{}:{}",
            validate::function_arn(&ev.region, &ev.account_id, &ev.function),
            ev.qualifier.clone().unwrap_or_else(|| "$LATEST".into())
        ),
    };
    let mut response_context = serde_json::json!({
        "statusCode": 200,
        "executedVersion": resolved.map(|r| r.cfg.version.clone()).unwrap_or_else(|| "$LATEST".into()),
    });
    if let (Some(fe), Some(o)) = (function_error, response_context.as_object_mut()) {
        o.insert("functionError".into(), serde_json::json!(fe));
    }
    let mut rec = serde_json::json!({
        "version": "1.0",
        "timestamp": iso_millis_z(now_ms),
        "requestContext": {
            "requestId": ev.id,
            "functionArn": function_arn,
            "condition": condition,
            "approximateInvokeCount": ev.attempts,
        },
        "requestPayload": json_or_string(request_payload),
    });
    if let Some(o) = rec.as_object_mut() {
        if resolved.is_some() {
            o.insert("responseContext".into(), response_context);
        }
        if let Some(r) = response {
            o.insert("responsePayload".into(), json_or_string(r));
        }
    }
    rec
}
