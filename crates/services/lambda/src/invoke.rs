//! The invoke path: resolve a function reference (name, ARN, qualifier, alias routing)
//! to a version, build its spec, run it on the engine, shape the answer as AWS does.
//! Asynchronous invocations are written to the durable queue ([`crate::queue`]).

use base64::Engine as _;
use bytes::Bytes;
use nimbus_core::RequestContext;
use nimbus_functions::{Invocation, InvokeError, InvokeOutcome};
use nimbus_store::ReadTxn;
use nimbus_wire::AwsError;

use crate::error::{self, Fail};
use crate::keys;
use crate::records::{self, AliasRecord, FunctionRecord, QueuedEvent, VersionConfig};
use crate::service::Lambda;
use crate::validate::{self, FunctionRef};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvocationKind {
    RequestResponse,
    Event,
    DryRun,
}

/// An Invoke call, as the API layer decodes it.
#[derive(Debug, Clone)]
pub struct InvokeRequest {
    pub function_name: String,
    pub qualifier: Option<String>,
    pub kind: InvocationKind,
    pub log_tail: bool,
    /// X-Amz-Client-Context as sent (base64 of JSON).
    pub client_context: Option<String>,
    pub payload: Bytes,
}

/// What Invoke answers.
#[derive(Debug, Clone, PartialEq)]
pub struct InvokeResult {
    /// 200 (RequestResponse), 202 (Event), 204 (DryRun).
    pub status: i32,
    pub function_error: Option<String>,
    pub log_result: Option<String>,
    pub payload: Bytes,
    pub executed_version: Option<String>,
}

/// A function version resolved for one call.
#[derive(Debug, Clone)]
pub(crate) struct Resolved {
    pub account_id: String,
    pub region: String,
    pub func: FunctionRecord,
    pub cfg: VersionConfig,
    /// The qualifier the caller named (alias, version, `$LATEST`), if any.
    pub qualifier: Option<String>,
    /// The ARN the caller invoked (qualified when a qualifier was named).
    pub invoked_arn: String,
}

/// Merges the qualifier in the name with the `Qualifier` parameter.
pub(crate) fn function_ref(name: &str, qualifier: Option<&str>) -> Result<FunctionRef, AwsError> {
    let Some(mut r) = validate::parse_function_ref(name) else {
        return Err(error::validation(format!(
            "1 validation error detected: Value '{name}' at 'functionName' failed to satisfy constraint: Member must satisfy regular expression pattern: (arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{{2}}(-gov)?-[a-z]+-\\d{{1}}:)?(\\d{{12}}:)?(function:)?([a-zA-Z0-9-_\\.]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?"
        )));
    };
    match (&r.qualifier, qualifier) {
        (Some(a), Some(b)) if a != b => return Err(error::invalid_parameter(
            "The derived qualifier from the function name does not match the specified qualifier.",
        )),
        (None, Some(b)) => r.qualifier = Some(b.to_string()),
        _ => {}
    }
    Ok(r)
}

impl Lambda {
    /// The account and region a reference lives in (an ARN may name them).
    pub(crate) fn scope(ctx: &RequestContext, r: &FunctionRef) -> (String, String) {
        (
            r.account_id
                .clone()
                .unwrap_or_else(|| ctx.account_id.clone()),
            r.region.clone().unwrap_or_else(|| ctx.region.clone()),
        )
    }

    pub(crate) fn load_function(
        snap: &(impl ReadTxn + ?Sized),
        account: &str,
        region: &str,
        name: &str,
    ) -> Result<FunctionRecord, Fail> {
        records::get(snap, &keys::function(account, region, name))?.ok_or_else(|| {
            error::function_not_found(&validate::function_arn(region, account, name)).into()
        })
    }

    /// `$LATEST`, a version number or an alias (the alias's primary version; routing is
    /// applied by [`Lambda::resolve_for_invoke`]).
    pub(crate) fn load_qualified(
        snap: &(impl ReadTxn + ?Sized),
        account: &str,
        region: &str,
        func: &FunctionRecord,
        qualifier: &str,
    ) -> Result<VersionConfig, Fail> {
        let not_found = || -> Fail {
            error::function_not_found(&format!(
                "{}:{qualifier}",
                validate::function_arn(region, account, &func.name)
            ))
            .into()
        };
        if qualifier == "$LATEST" {
            return Ok(func.latest.clone());
        }
        if let Ok(n) = qualifier.parse::<u64>() {
            return records::get(snap, &keys::version(account, region, &func.name, n))?
                .ok_or_else(not_found);
        }
        let alias: AliasRecord =
            records::get(snap, &keys::alias(account, region, &func.name, qualifier))?
                .ok_or_else(not_found)?;
        Self::load_qualified(snap, account, region, func, &alias.function_version)
    }

    /// Resolves for an invocation: an alias with AdditionalVersionWeights picks one of its
    /// versions at random by weight.
    pub(crate) fn resolve_for_invoke(
        &self,
        ctx: &RequestContext,
        name: &str,
        qualifier: Option<&str>,
    ) -> Result<Resolved, Fail> {
        let r = function_ref(name, qualifier)?;
        let (account, region) = Self::scope(ctx, &r);
        let snap = self.snapshot()?;
        let func = Self::load_function(snap.as_ref(), &account, &region, &r.name)?;
        let arn = validate::function_arn(&region, &account, &r.name);
        let (cfg, invoked_arn) = match &r.qualifier {
            None => (func.latest.clone(), arn),
            Some(q) => {
                let mut target = q.clone();
                if q != "$LATEST" && q.parse::<u64>().is_err() {
                    let alias: Option<AliasRecord> =
                        records::get(snap.as_ref(), &keys::alias(&account, &region, &r.name, q))?;
                    if let Some(a) = alias {
                        target = pick_weighted(&a);
                    }
                }
                let cfg = Self::load_qualified(snap.as_ref(), &account, &region, &func, &target)
                    .map_err(|_| error::function_not_found(&format!("{arn}:{q}")))?;
                (cfg, format!("{arn}:{q}"))
            }
        };
        Ok(Resolved {
            account_id: account,
            region,
            func,
            cfg,
            qualifier: r.qualifier,
            invoked_arn,
        })
    }

    /// Invoke (all three invocation types).
    pub async fn invoke(
        &self,
        ctx: &RequestContext,
        req: InvokeRequest,
    ) -> Result<InvokeResult, AwsError> {
        let limit = match req.kind {
            InvocationKind::Event => validate::MAX_ASYNC_PAYLOAD_BYTES,
            _ => validate::MAX_SYNC_PAYLOAD_BYTES,
        };
        if req.payload.len() > limit {
            return Err(error::request_too_large(format!(
                "Request must be smaller than {limit} bytes for the InvokeFunction operation"
            )));
        }
        check_json(&req.payload)?;
        let resolved =
            self.resolve_for_invoke(ctx, &req.function_name, req.qualifier.as_deref())?;
        match req.kind {
            InvocationKind::DryRun => Ok(InvokeResult {
                status: 204,
                function_error: None,
                log_result: None,
                payload: Bytes::new(),
                executed_version: None,
            }),
            InvocationKind::Event => {
                self.enqueue(
                    &resolved.account_id,
                    &resolved.region,
                    &resolved.func.name,
                    resolved.qualifier.clone(),
                    &req.payload,
                    ctx.request_id.clone(),
                )
                .await?;
                Ok(InvokeResult {
                    status: 202,
                    function_error: None,
                    log_result: None,
                    payload: Bytes::new(),
                    executed_version: None,
                })
            }
            InvocationKind::RequestResponse => {
                let client_context = req.client_context.as_deref().and_then(|c| {
                    base64::engine::general_purpose::STANDARD
                        .decode(c)
                        .ok()
                        .and_then(|b| String::from_utf8(b).ok())
                });
                let outcome = self
                    .run(
                        &resolved,
                        ctx.request_id.clone(),
                        req.payload,
                        req.log_tail,
                        client_context,
                    )
                    .await
                    .map_err(invoke_error)?;
                Ok(InvokeResult {
                    status: 200,
                    function_error: outcome.function_error.clone(),
                    log_result: if req.log_tail {
                        Some(Lambda::log_result(
                            outcome.log_tail.as_deref().unwrap_or_default(),
                        ))
                    } else {
                        None
                    },
                    payload: outcome.payload,
                    executed_version: Some(resolved.cfg.version.clone()),
                })
            }
        }
    }

    /// Runs one invocation of a resolved version on the engine.
    pub(crate) async fn run(
        &self,
        resolved: &Resolved,
        request_id: String,
        payload: Bytes,
        log_tail: bool,
        client_context: Option<String>,
    ) -> Result<InvokeOutcome, InvokeError> {
        let spec = self
            .spec_for(
                &resolved.account_id,
                &resolved.region,
                &resolved.func,
                &resolved.cfg,
            )
            .await
            .map_err(|e| InvokeError::Internal(e.message))?;
        let payload = if payload.is_empty() {
            // AWS hands the function `{}` when the caller sent no payload.
            Bytes::from_static(b"{}")
        } else {
            payload
        };
        let mut outcome = self
            .inner
            .engine
            .invoke(
                &spec,
                Invocation {
                    request_id,
                    invoked_function_arn: resolved.invoked_arn.clone(),
                    payload,
                    client_context,
                    cognito_identity: None,
                    trace_id: None,
                    want_log_tail: log_tail,
                },
            )
            .await?;
        if outcome.payload.len() > validate::MAX_SYNC_PAYLOAD_BYTES {
            let size = outcome.payload.len();
            outcome.function_error = Some("Unhandled".into());
            outcome.payload = Bytes::from(
                serde_json::json!({
                    "errorMessage": format!("Response payload size ({size} bytes) exceeded maximum allowed payload size ({} bytes).", validate::MAX_SYNC_PAYLOAD_BYTES),
                    "errorType": "Function.ResponseSizeTooLarge"
                })
                .to_string(),
            );
        }
        Ok(outcome)
    }

    /// Writes one asynchronous invocation to the queue (one transaction) and wakes the
    /// queue's worker.
    pub(crate) async fn enqueue(
        &self,
        account_id: &str,
        region: &str,
        function: &str,
        qualifier: Option<String>,
        payload: &[u8],
        id: String,
    ) -> Result<(), Fail> {
        let now = self.now_ms();
        let ev = QueuedEvent {
            id,
            account_id: account_id.to_string(),
            region: region.to_string(),
            function: function.to_string(),
            qualifier,
            payload_b64: base64::engine::general_purpose::STANDARD.encode(payload),
            enqueued_ms: now,
            attempts: 0,
            throttles: 0,
            leased: false,
        };
        let key = keys::queued(now, &ev.id);
        self.inner
            .db
            .write(move |txn| records::put(txn, &key, &ev))
            .await?;
        self.inner.queue_wake.notify_one();
        Ok(())
    }
}

/// AWS refuses payloads that are not JSON.
fn check_json(payload: &[u8]) -> Result<(), AwsError> {
    if payload.is_empty() {
        return Ok(());
    }
    serde_json::from_slice::<serde::de::IgnoredAny>(payload)
        .map(|_| ())
        .map_err(|e| {
            error::invalid_request_content(format!(
                "Could not parse request body into json: Could not parse payload into json: {e}"
            ))
        })
}

/// Picks the alias's version or one of its additional versions, by weight.
fn pick_weighted(alias: &AliasRecord) -> String {
    if alias.routing.is_empty() {
        return alias.function_version.clone();
    }
    let r = random_unit();
    let mut acc = 0.0;
    for (version, weight) in &alias.routing {
        acc += weight;
        if r < acc {
            return version.clone();
        }
    }
    alias.function_version.clone()
}

/// A uniform number in [0, 1) from the OS's randomness (uuid v4).
pub(crate) fn random_unit() -> f64 {
    let b = uuid::Uuid::new_v4().as_u128();
    ((b >> 75) as f64) / ((1u64 << 53) as f64)
}

/// Why an invocation could not run, as AWS answers.
pub(crate) fn invoke_error(e: InvokeError) -> AwsError {
    match e {
        InvokeError::Throttled { reason } => error::too_many_requests(reason),
        InvokeError::RuntimeUnavailable(m) => error::invalid_runtime(m),
        InvokeError::Internal(m) => error::service_exception(m),
        InvokeError::ShuttingDown => error::service_exception("nimbus is shutting down"),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn qualifier_merge_and_weights() {
        assert_eq!(
            function_ref("f:1", Some("1")).unwrap().qualifier.as_deref(),
            Some("1")
        );
        assert!(function_ref("f:1", Some("2")).is_err());
        assert_eq!(
            function_ref("f", Some("live"))
                .unwrap()
                .qualifier
                .as_deref(),
            Some("live")
        );
        let mut routing = BTreeMap::new();
        routing.insert("2".to_string(), 0.3);
        let a = AliasRecord {
            name: "live".into(),
            function_version: "1".into(),
            description: String::new(),
            routing,
            revision_id: "r".into(),
        };
        let n = 4000;
        let twos = (0..n).filter(|_| pick_weighted(&a) == "2").count();
        let share = twos as f64 / n as f64;
        assert!((0.25..0.35).contains(&share), "share {share}");
        for _ in 0..1000 {
            let u = random_unit();
            assert!((0.0..1.0).contains(&u));
        }
    }
}
