//! Layers, resource policies (AddPermission/RemovePermission/GetPolicy), event invoke
//! configurations and function URL configurations.

use nimbus_core::RequestContext;
use nimbus_model::lambda as m;
use nimbus_wire::AwsError;

use crate::aliases::paginate;
use crate::error::{self, Result};
use crate::functions::new_revision;
use crate::invoke::function_ref;
use crate::keys;
use crate::records::{
    self, CorsRec, EventInvokeConfigRecord, FunctionRecord, LayerVersionRecord, PolicyRecord,
    UrlConfigRecord, UrlIndex,
};
use crate::service::{adopt, Lambda, MAX_SCAN};
use crate::time::lambda_timestamp;
use crate::validate;

impl Lambda {
    // ------------------------------------------------------------------ layers

    fn layer_view(
        &self,
        account: &str,
        region: &str,
        l: &LayerVersionRecord,
    ) -> m::GetLayerVersionResponse {
        let layer_arn = validate::layer_arn(region, account, &l.layer_name);
        m::GetLayerVersionResponse {
            content: Some(m::LayerVersionContentOutput {
                location: Some(self.code_location(&l.code)),
                code_sha256: Some(l.code.sha256_b64()),
                code_size: Some(l.code.size as i64),
                ..Default::default()
            }),
            layer_version_arn: Some(format!("{layer_arn}:{}", l.version)),
            layer_arn: Some(layer_arn),
            description: Some(l.description.clone()),
            created_date: Some(lambda_timestamp(l.created_ms)),
            version: Some(l.version as i64),
            compatible_architectures: non_empty(&l.compatible_architectures).map(|v| {
                v.iter()
                    .map(|a| m::Architecture::from(a.as_str()))
                    .collect()
            }),
            compatible_runtimes: non_empty(&l.compatible_runtimes)
                .map(|v| v.iter().map(|a| m::Runtime::from(a.as_str())).collect()),
            license_info: l.license_info.clone(),
        }
    }

    fn layer_list_item(
        &self,
        account: &str,
        region: &str,
        l: &LayerVersionRecord,
    ) -> m::LayerVersionsListItem {
        let v = self.layer_view(account, region, l);
        m::LayerVersionsListItem {
            layer_version_arn: v.layer_version_arn,
            version: v.version,
            description: v.description,
            created_date: v.created_date,
            compatible_architectures: v.compatible_architectures,
            compatible_runtimes: v.compatible_runtimes,
            license_info: v.license_info,
        }
    }

    fn layer_scope(ctx: &RequestContext, name: &str) -> Result<(String, String, String)> {
        let (a, r, n) = validate::parse_layer_name(name)
            .ok_or_else(|| error::invalid_parameter(format!("Invalid layer name: {name}")))?;
        Ok((
            a.unwrap_or_else(|| ctx.account_id.clone()),
            r.unwrap_or_else(|| ctx.region.clone()),
            n,
        ))
    }

    pub(crate) async fn publish_layer_version_op(
        &self,
        ctx: &RequestContext,
        input: m::PublishLayerVersionRequest,
    ) -> Result<m::PublishLayerVersionResponse> {
        let (account, region, name) = Self::layer_scope(ctx, &input.layer_name)?;
        let zip = match (
            input.content.zip_file,
            input.content.s3_bucket,
            input.content.s3_key,
        ) {
            (Some(z), None, None) => {
                if z.len() as u64 > crate::code::MAX_ZIPPED_BYTES {
                    return Err(AwsError::new(
                        http::StatusCode::PAYLOAD_TOO_LARGE,
                        "RequestEntityTooLargeException",
                        "Request must be smaller than 69905067 bytes for the PublishLayerVersion operation",
                    )
                    .into());
                }
                bytes::Bytes::from(z)
            }
            (None, Some(b), Some(k)) => {
                self.fetch_s3_code(ctx, &b, &k, input.content.s3_object_version.as_deref())
                    .await?
            }
            _ => {
                return Err(
                    error::invalid_parameter("Please provide a source for layer content.").into(),
                )
            }
        };
        let staged = self.stage_zip(zip, false).await?;
        for r in input.compatible_runtimes.iter().flatten() {
            validate::runtime(r.as_str())?;
        }
        let now = self.now_ms();
        let rec_base = LayerVersionRecord {
            layer_name: name.clone(),
            version: 0,
            description: input.description.unwrap_or_default(),
            created_ms: now,
            compatible_runtimes: input
                .compatible_runtimes
                .unwrap_or_default()
                .iter()
                .map(|r| r.as_str().to_string())
                .collect(),
            compatible_architectures: input
                .compatible_architectures
                .unwrap_or_default()
                .iter()
                .map(|r| r.as_str().to_string())
                .collect(),
            license_info: input.license_info,
            code: staged.code.clone(),
        };
        let (acct, reg) = (account.clone(), region.clone());
        let res = self
            .inner
            .db
            .write(move |txn| {
                let ckey = keys::layer_counter(&acct, &reg, &rec_base.layer_name);
                let last = txn
                    .get(&ckey)?
                    .and_then(|b| <[u8; 8]>::try_from(b.as_slice()).ok())
                    .map(u64::from_be_bytes)
                    .unwrap_or(0);
                let mut rec = rec_base.clone();
                rec.version = last + 1;
                rec.code = adopt(txn, &rec_base.code)?;
                txn.put(&ckey, &rec.version.to_be_bytes())?;
                records::put(
                    txn,
                    &keys::layer_version(&acct, &reg, &rec.layer_name, rec.version),
                    &rec,
                )?;
                Ok::<_, nimbus_store::StoreError>(rec)
            })
            .await;
        let rec = match res {
            Ok(r) => r,
            Err(e) => {
                self.settle(std::slice::from_ref(&staged), &[]).await;
                return Err(e.into());
            }
        };
        self.settle(
            std::slice::from_ref(&staged),
            std::slice::from_ref(&rec.code.blob_id),
        )
        .await;
        let v = self.layer_view(&account, &region, &rec);
        Ok(m::PublishLayerVersionResponse {
            content: v.content,
            layer_arn: v.layer_arn,
            layer_version_arn: v.layer_version_arn,
            description: v.description,
            created_date: v.created_date,
            version: v.version,
            compatible_architectures: v.compatible_architectures,
            compatible_runtimes: v.compatible_runtimes,
            license_info: v.license_info,
        })
    }

    fn load_layer_version(
        &self,
        account: &str,
        region: &str,
        name: &str,
        version: i64,
    ) -> Result<LayerVersionRecord> {
        let snap = self.snapshot()?;
        let v = u64::try_from(version).unwrap_or(0);
        records::get(
            snap.as_ref(),
            &keys::layer_version(account, region, name, v),
        )?
        .ok_or_else(|| error::resource_missing().into())
    }

    pub(crate) fn get_layer_version_op(
        &self,
        ctx: &RequestContext,
        input: m::GetLayerVersionRequest,
    ) -> Result<m::GetLayerVersionResponse> {
        let (account, region, name) = Self::layer_scope(ctx, &input.layer_name)?;
        let l = self.load_layer_version(&account, &region, &name, input.version_number)?;
        Ok(self.layer_view(&account, &region, &l))
    }

    pub(crate) fn get_layer_version_by_arn_op(
        &self,
        input: m::GetLayerVersionByArnRequest,
    ) -> Result<m::GetLayerVersionResponse> {
        let (account, region, name, version) = validate::parse_layer_version_arn(&input.arn)
            .ok_or_else(|| {
                error::invalid_parameter(format!("Invalid layer version ARN: {}", input.arn))
            })?;
        let l = self.load_layer_version(&account, &region, &name, version as i64)?;
        Ok(self.layer_view(&account, &region, &l))
    }

    pub(crate) async fn delete_layer_version_op(
        &self,
        ctx: &RequestContext,
        input: m::DeleteLayerVersionRequest,
    ) -> Result<()> {
        let (account, region, name) = Self::layer_scope(ctx, &input.layer_name)?;
        let v = u64::try_from(input.version_number).unwrap_or(0);
        self.inner
            .db
            .write(move |txn| {
                let key = keys::layer_version(&account, &region, &name, v);
                if let Some(rec) = records::get::<LayerVersionRecord>(txn, &key)? {
                    records::code_ref_drop(txn, &rec.code)?;
                    txn.delete(&key)?;
                }
                Ok::<_, nimbus_store::StoreError>(())
            })
            .await?;
        Ok(())
    }

    fn all_layer_versions(
        &self,
        account: &str,
        region: &str,
        layer: Option<&str>,
    ) -> Result<Vec<LayerVersionRecord>> {
        let snap = self.snapshot()?;
        let prefix = match layer {
            Some(l) => keys::layer_versions_prefix(account, region, l),
            None => keys::layers_prefix(account, region),
        };
        Ok(
            records::scan_all::<LayerVersionRecord>(snap.as_ref(), &prefix, MAX_SCAN)?
                .into_iter()
                .map(|(_, l)| l)
                .collect(),
        )
    }

    pub(crate) fn list_layer_versions_op(
        &self,
        ctx: &RequestContext,
        input: m::ListLayerVersionsRequest,
    ) -> Result<m::ListLayerVersionsResponse> {
        let (account, region, name) = Self::layer_scope(ctx, &input.layer_name)?;
        let mut all = self.all_layer_versions(&account, &region, Some(&name))?;
        all.retain(|l| {
            matches_filters(l, &input.compatible_runtime, &input.compatible_architecture)
        });
        // Newest first, as AWS lists them.
        all.reverse();
        let items: Vec<(String, m::LayerVersionsListItem)> = all
            .iter()
            .map(|l| {
                (
                    format!("{:020}", u64::MAX - l.version),
                    self.layer_list_item(&account, &region, l),
                )
            })
            .collect();
        let (layer_versions, next_marker) =
            paginate(&items, input.marker.as_deref(), input.max_items);
        Ok(m::ListLayerVersionsResponse {
            next_marker,
            layer_versions: Some(layer_versions),
        })
    }

    pub(crate) fn list_layers_op(
        &self,
        ctx: &RequestContext,
        input: m::ListLayersRequest,
    ) -> Result<m::ListLayersResponse> {
        let (account, region) = (ctx.account_id.clone(), ctx.region.clone());
        let all = self.all_layer_versions(&account, &region, None)?;
        let mut latest: std::collections::BTreeMap<String, LayerVersionRecord> = Default::default();
        for l in all {
            if matches_filters(
                &l,
                &input.compatible_runtime,
                &input.compatible_architecture,
            ) {
                latest.insert(l.layer_name.clone(), l);
            }
        }
        let items: Vec<(String, m::LayersListItem)> = latest
            .iter()
            .map(|(n, l)| {
                (
                    n.clone(),
                    m::LayersListItem {
                        layer_name: Some(n.clone()),
                        layer_arn: Some(validate::layer_arn(&region, &account, n)),
                        latest_matching_version: Some(self.layer_list_item(&account, &region, l)),
                    },
                )
            })
            .collect();
        let (layers, next_marker) = paginate(&items, input.marker.as_deref(), input.max_items);
        Ok(m::ListLayersResponse {
            next_marker,
            layers: Some(layers),
        })
    }

    // ------------------------------------------------------------------ policies

    /// The function (and qualifier) a policy call names; the qualified target must exist.
    fn policy_target(
        &self,
        ctx: &RequestContext,
        name: &str,
        qualifier: Option<&str>,
    ) -> Result<(String, String, String, Option<String>)> {
        let r = function_ref(name, qualifier)?;
        let (account, region) = Self::scope(ctx, &r);
        let snap = self.snapshot()?;
        let func = Self::load_function(snap.as_ref(), &account, &region, &r.name)?;
        if let Some(q) = &r.qualifier {
            Self::load_qualified(snap.as_ref(), &account, &region, &func, q)?;
        }
        Ok((account, region, r.name, r.qualifier))
    }

    pub(crate) async fn add_permission_op(
        &self,
        ctx: &RequestContext,
        input: m::AddPermissionRequest,
    ) -> Result<m::AddPermissionResponse> {
        let (account, region, name, qualifier) =
            self.policy_target(ctx, &input.function_name, input.qualifier.as_deref())?;
        let mut resource = validate::function_arn(&region, &account, &name);
        if let Some(q) = &qualifier {
            resource = format!("{resource}:{q}");
        }
        let statement = statement_json(&input, &resource);
        if statement.len() > MAX_POLICY_BYTES {
            return Err(error::invalid_parameter(
                "The final policy size is bigger than the limit.",
            )
            .into());
        }
        let stmt = statement.clone();
        let sid = input.statement_id.clone();
        let revision = input.revision_id.clone();
        let res = self
            .inner
            .db
            .write(move |txn| {
                let key = keys::policy(&account, &region, &name, qualifier.as_deref());
                let mut pol: PolicyRecord = records::get(txn, &key)?.unwrap_or(PolicyRecord {
                    revision_id: new_revision(),
                    statements: Vec::new(),
                });
                if revision.as_ref().is_some_and(|r| *r != pol.revision_id) {
                    return Ok(Err(error::revision_mismatch()));
                }
                if pol.parsed().iter().any(|s| s["Sid"] == sid.as_str()) {
                    return Ok(Err(error::resource_conflict(
                        "The statement id (sid) provided already exists. Please provide a new statement id, or remove the existing statement.",
                    )));
                }
                pol.statements.push(stmt.clone());
                pol.revision_id = new_revision();
                records::put(txn, &key, &pol)?;
                Ok::<_, nimbus_store::StoreError>(Ok(()))
            })
            .await?;
        res?;
        Ok(m::AddPermissionResponse {
            statement: Some(statement),
        })
    }

    pub(crate) async fn remove_permission_op(
        &self,
        ctx: &RequestContext,
        input: m::RemovePermissionRequest,
    ) -> Result<()> {
        let (account, region, name, qualifier) =
            self.policy_target(ctx, &input.function_name, input.qualifier.as_deref())?;
        let res = self
            .inner
            .db
            .write(move |txn| {
                let key = keys::policy(&account, &region, &name, qualifier.as_deref());
                let Some(mut pol) = records::get::<PolicyRecord>(txn, &key)? else {
                    return Ok(Err(error::resource_not_found(
                        "No policy is associated with the given resource.",
                    )));
                };
                if input
                    .revision_id
                    .as_ref()
                    .is_some_and(|r| *r != pol.revision_id)
                {
                    return Ok(Err(error::revision_mismatch()));
                }
                let before = pol.statements.len();
                pol.statements.retain(|s| {
                    serde_json::from_str::<serde_json::Value>(s)
                        .map(|v| v["Sid"] != input.statement_id.as_str())
                        .unwrap_or(true)
                });
                if pol.statements.len() == before {
                    return Ok(Err(error::resource_not_found(format!(
                        "Statement {} is not found in resource policy.",
                        input.statement_id
                    ))));
                }
                if pol.statements.is_empty() {
                    txn.delete(&key)?;
                } else {
                    pol.revision_id = new_revision();
                    records::put(txn, &key, &pol)?;
                }
                Ok::<_, nimbus_store::StoreError>(Ok(()))
            })
            .await?;
        res?;
        Ok(())
    }

    pub(crate) fn get_policy_op(
        &self,
        ctx: &RequestContext,
        input: m::GetPolicyRequest,
    ) -> Result<m::GetPolicyResponse> {
        let (account, region, name, qualifier) =
            self.policy_target(ctx, &input.function_name, input.qualifier.as_deref())?;
        let snap = self.snapshot()?;
        let pol: PolicyRecord = records::get(
            snap.as_ref(),
            &keys::policy(&account, &region, &name, qualifier.as_deref()),
        )?
        .ok_or_else(|| error::resource_not_found("The resource you requested does not exist."))?;
        let doc = format!(
            "{{\"Version\":\"2012-10-17\",\"Id\":\"default\",\"Statement\":[{}]}}",
            pol.statements.join(",")
        );
        Ok(m::GetPolicyResponse {
            policy: Some(doc),
            revision_id: Some(pol.revision_id),
        })
    }

    /// The statements of the policy on `qualifier` (or the function) — for the URL check.
    pub(crate) fn policy_statements(
        &self,
        account: &str,
        region: &str,
        function: &str,
        qualifier: Option<&str>,
    ) -> Result<Vec<serde_json::Value>> {
        let snap = self.snapshot()?;
        let pol: Option<PolicyRecord> = records::get(
            snap.as_ref(),
            &keys::policy(account, region, function, qualifier),
        )?;
        Ok(pol.map(|p| p.parsed()).unwrap_or_default())
    }

    /// Whether the AWS service `service` (e.g. `s3.amazonaws.com`) may invoke the
    /// function `function_arn` for the resource `source_arn` of `source_account`, by the
    /// function's resource policy: what S3 checks when a notification configuration names
    /// a function. `Err` when the ARN names no existing function.
    pub fn service_may_invoke(
        &self,
        function_arn: &str,
        service: &str,
        source_arn: &str,
        source_account: &str,
    ) -> std::result::Result<bool, ServiceInvokeCheck> {
        let r =
            validate::parse_function_ref(function_arn).ok_or(ServiceInvokeCheck::NoSuchFunction)?;
        let (Some(account), Some(region)) = (r.account_id.as_deref(), r.region.as_deref()) else {
            return Err(ServiceInvokeCheck::NoSuchFunction);
        };
        let snap = self
            .snapshot()
            .map_err(|_| ServiceInvokeCheck::Unavailable)?;
        let func: Option<crate::records::FunctionRecord> =
            records::get(snap.as_ref(), &keys::function(account, region, &r.name))
                .map_err(|_| ServiceInvokeCheck::Unavailable)?;
        if func.is_none() {
            return Err(ServiceInvokeCheck::NoSuchFunction);
        }
        let stmts = self
            .policy_statements(account, region, &r.name, r.qualifier.as_deref())
            .map_err(|_| ServiceInvokeCheck::Unavailable)?;
        Ok(stmts
            .iter()
            .any(|s| statement_allows_service(s, service, source_arn, source_account)))
    }

    // ------------------------------------------------------------------ event invoke config

    fn event_config_view(arn: &str, rec: &EventInvokeConfigRecord) -> m::FunctionEventInvokeConfig {
        let dest = |d: &Option<String>| d.clone();
        m::FunctionEventInvokeConfig {
            last_modified: Some(rec.last_modified_ms as f64 / 1000.0),
            function_arn: Some(arn.to_string()),
            maximum_retry_attempts: rec.maximum_retry_attempts,
            maximum_event_age_in_seconds: rec.maximum_event_age_s,
            destination_config: Some(m::DestinationConfig {
                on_success: Some(m::OnSuccess {
                    destination: dest(&rec.on_success),
                }),
                on_failure: Some(m::OnFailure {
                    destination: dest(&rec.on_failure),
                }),
            }),
        }
    }

    fn check_destination(d: &Option<String>) -> std::result::Result<(), AwsError> {
        if let Some(arn) = d {
            let ok = [
                "arn:aws:lambda:",
                "arn:aws:sqs:",
                "arn:aws:sns:",
                "arn:aws:events:",
                "arn:aws:s3:::",
            ]
            .iter()
            .any(|p| arn.starts_with(p));
            if !ok {
                return Err(error::invalid_parameter(format!(
                    "The destination ARN {arn} is invalid."
                )));
            }
        }
        Ok(())
    }

    /// Put (replace: `merge` false) or Update (merge) of an event invoke config.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn put_event_config_op(
        &self,
        ctx: &RequestContext,
        name: &str,
        qualifier: Option<&str>,
        retries: Option<i32>,
        age: Option<i32>,
        dest: Option<m::DestinationConfig>,
        merge: bool,
    ) -> Result<m::FunctionEventInvokeConfig> {
        let (account, region, fname, q) = self.policy_target(ctx, name, qualifier)?;
        let on_success = dest
            .as_ref()
            .and_then(|d| d.on_success.as_ref())
            .and_then(|o| o.destination.clone());
        let on_failure = dest
            .as_ref()
            .and_then(|d| d.on_failure.as_ref())
            .and_then(|o| o.destination.clone());
        Self::check_destination(&on_success)?;
        Self::check_destination(&on_failure)?;
        let qual = q.clone().unwrap_or_else(|| "$LATEST".to_string());
        let arn = format!(
            "{}:{qual}",
            validate::function_arn(&region, &account, &fname)
        );
        let now = self.now_ms();
        let dest_given = dest.is_some();
        let rec = self
            .inner
            .db
            .write(move |txn| {
                let key = keys::event_config(&account, &region, &fname, &qual);
                let old: Option<EventInvokeConfigRecord> = records::get(txn, &key)?;
                let rec = match (merge, old) {
                    (true, Some(o)) => EventInvokeConfigRecord {
                        maximum_retry_attempts: retries.or(o.maximum_retry_attempts),
                        maximum_event_age_s: age.or(o.maximum_event_age_s),
                        on_success: if dest_given {
                            on_success.clone()
                        } else {
                            o.on_success
                        },
                        on_failure: if dest_given {
                            on_failure.clone()
                        } else {
                            o.on_failure
                        },
                        last_modified_ms: now,
                    },
                    _ => EventInvokeConfigRecord {
                        maximum_retry_attempts: retries,
                        maximum_event_age_s: age,
                        on_success: on_success.clone(),
                        on_failure: on_failure.clone(),
                        last_modified_ms: now,
                    },
                };
                records::put(txn, &key, &rec)?;
                Ok::<_, nimbus_store::StoreError>(rec)
            })
            .await?;
        Ok(Self::event_config_view(&arn, &rec))
    }

    pub(crate) fn get_event_config_op(
        &self,
        ctx: &RequestContext,
        name: &str,
        qualifier: Option<&str>,
    ) -> Result<m::FunctionEventInvokeConfig> {
        let (account, region, fname, q) = self.policy_target(ctx, name, qualifier)?;
        let qual = q.unwrap_or_else(|| "$LATEST".to_string());
        let arn = format!(
            "{}:{qual}",
            validate::function_arn(&region, &account, &fname)
        );
        let snap = self.snapshot()?;
        let rec: EventInvokeConfigRecord = records::get(
            snap.as_ref(),
            &keys::event_config(&account, &region, &fname, &qual),
        )?
        .ok_or_else(|| {
            error::resource_not_found(format!(
                "The function {arn} doesn't have an EventInvokeConfig"
            ))
        })?;
        Ok(Self::event_config_view(&arn, &rec))
    }

    /// The config an async event of `qualifier` follows (None: AWS defaults).
    pub(crate) fn event_config_for(
        &self,
        account: &str,
        region: &str,
        function: &str,
        qualifier: Option<&str>,
    ) -> Result<Option<EventInvokeConfigRecord>> {
        let snap = self.snapshot()?;
        Ok(records::get(
            snap.as_ref(),
            &keys::event_config(account, region, function, qualifier.unwrap_or("$LATEST")),
        )?)
    }

    pub(crate) async fn delete_event_config_op(
        &self,
        ctx: &RequestContext,
        name: &str,
        qualifier: Option<&str>,
    ) -> Result<()> {
        let (account, region, fname, q) = self.policy_target(ctx, name, qualifier)?;
        let qual = q.unwrap_or_else(|| "$LATEST".to_string());
        let arn = format!(
            "{}:{qual}",
            validate::function_arn(&region, &account, &fname)
        );
        let res = self
            .inner
            .db
            .write(move |txn| {
                let key = keys::event_config(&account, &region, &fname, &qual);
                if txn.get(&key)?.is_none() {
                    return Ok(Err(error::resource_not_found(format!(
                        "The function {arn} doesn't have an EventInvokeConfig"
                    ))));
                }
                txn.delete(&key)?;
                Ok::<_, nimbus_store::StoreError>(Ok(()))
            })
            .await?;
        res?;
        Ok(())
    }

    pub(crate) fn list_event_configs_op(
        &self,
        ctx: &RequestContext,
        input: m::ListFunctionEventInvokeConfigsRequest,
    ) -> Result<m::ListFunctionEventInvokeConfigsResponse> {
        let (account, region, fname, _) = self.policy_target(ctx, &input.function_name, None)?;
        let snap = self.snapshot()?;
        let prefix = keys::event_configs_prefix(&account, &region, &fname);
        let all: Vec<(Vec<u8>, EventInvokeConfigRecord)> =
            records::scan_all(snap.as_ref(), &prefix, MAX_SCAN)?;
        let base = validate::function_arn(&region, &account, &fname);
        let items: Vec<(String, m::FunctionEventInvokeConfig)> = all
            .iter()
            .map(|(k, r)| {
                let q =
                    String::from_utf8_lossy(k.get(prefix.len()..).unwrap_or_default()).to_string();
                (
                    q.clone(),
                    Self::event_config_view(&format!("{base}:{q}"), r),
                )
            })
            .collect();
        let (configs, next_marker) = paginate(&items, input.marker.as_deref(), input.max_items);
        Ok(m::ListFunctionEventInvokeConfigsResponse {
            function_event_invoke_configs: Some(configs),
            next_marker,
        })
    }

    // ------------------------------------------------------------------ function URLs

    /// The public URL of a URL id.
    pub fn function_url(&self, url_id: &str, region: &str) -> String {
        let cfg = self.config();
        match &cfg.url_host {
            Some(host) => format!("http://{url_id}.lambda-url.{region}.{host}:{}/", cfg.port),
            None => format!(
                "{}/_nimbus/lambda-url/{url_id}/",
                cfg.public_base_url.trim_end_matches('/')
            ),
        }
    }

    fn url_target(
        &self,
        ctx: &RequestContext,
        name: &str,
        qualifier: Option<&str>,
    ) -> Result<(String, String, String, Option<String>)> {
        let (account, region, fname, q) = self.policy_target(ctx, name, qualifier)?;
        if let Some(q) = &q {
            if q != "$LATEST" && q.parse::<u64>().is_ok() {
                return Err(error::invalid_parameter(
                    "Function URLs can only be attached to $LATEST or an alias.",
                )
                .into());
            }
        }
        Ok((account, region, fname, q.filter(|q| q != "$LATEST")))
    }

    fn url_missing() -> AwsError {
        error::resource_not_found("The resource you requested does not exist.")
    }

    pub(crate) async fn create_url_config_op(
        &self,
        ctx: &RequestContext,
        input: m::CreateFunctionUrlConfigRequest,
    ) -> Result<m::CreateFunctionUrlConfigResponse> {
        let (account, region, fname, q) =
            self.url_target(ctx, &input.function_name, input.qualifier.as_deref())?;
        let mut arn = validate::function_arn(&region, &account, &fname);
        if let Some(q) = &q {
            arn = format!("{arn}:{q}");
        }
        let url_id: String = {
            // 32 lowercase alphanumerics, as AWS's url ids look.
            let a = uuid::Uuid::new_v4().simple().to_string();
            a.chars().take(32).collect()
        };
        let now = self.now_ms();
        let rec = UrlConfigRecord {
            url_id: url_id.clone(),
            qualifier: q.clone(),
            auth_type: input.auth_type.as_str().to_string(),
            cors: input.cors.map(cors_rec),
            invoke_mode: input
                .invoke_mode
                .map(|i| i.as_str().to_string())
                .unwrap_or_else(|| "BUFFERED".into()),
            created_ms: now,
            modified_ms: now,
        };
        let stored = rec.clone();
        let arn2 = arn.clone();
        let res = self
            .inner
            .db
            .write(move |txn| {
                let key = keys::url_config(&account, &region, &fname, q.as_deref());
                if txn.get(&key)?.is_some() {
                    return Ok(Err(error::resource_conflict(format!(
                        "Failed to create function url config for [functionArn = {arn2}]. Error message:  FunctionUrlConfig exists for this Lambda function"
                    ))));
                }
                records::put(txn, &key, &stored)?;
                records::put(
                    txn,
                    &keys::url_index(&stored.url_id),
                    &UrlIndex {
                        account_id: account.clone(),
                        region: region.clone(),
                        function: fname.clone(),
                        qualifier: q.clone(),
                    },
                )?;
                Ok::<_, nimbus_store::StoreError>(Ok(()))
            })
            .await?;
        res?;
        Ok(m::CreateFunctionUrlConfigResponse {
            function_url: self.function_url(&url_id, &ctx.region),
            function_arn: arn,
            auth_type: m::FunctionUrlAuthType::from(rec.auth_type.as_str()),
            cors: rec.cors.as_ref().map(cors_view),
            creation_time: lambda_timestamp(rec.created_ms),
            invoke_mode: Some(m::InvokeMode::from(rec.invoke_mode.as_str())),
        })
    }

    fn url_view(&self, arn: &str, region: &str, rec: &UrlConfigRecord) -> m::FunctionUrlConfig {
        m::FunctionUrlConfig {
            function_url: self.function_url(&rec.url_id, region),
            function_arn: arn.to_string(),
            creation_time: lambda_timestamp(rec.created_ms),
            last_modified_time: lambda_timestamp(rec.modified_ms),
            cors: rec.cors.as_ref().map(cors_view),
            auth_type: m::FunctionUrlAuthType::from(rec.auth_type.as_str()),
            invoke_mode: Some(m::InvokeMode::from(rec.invoke_mode.as_str())),
        }
    }

    pub(crate) fn get_url_config_op(
        &self,
        ctx: &RequestContext,
        input: m::GetFunctionUrlConfigRequest,
    ) -> Result<m::GetFunctionUrlConfigResponse> {
        let (account, region, fname, q) =
            self.url_target(ctx, &input.function_name, input.qualifier.as_deref())?;
        let snap = self.snapshot()?;
        let rec: UrlConfigRecord = records::get(
            snap.as_ref(),
            &keys::url_config(&account, &region, &fname, q.as_deref()),
        )?
        .ok_or_else(Self::url_missing)?;
        let mut arn = validate::function_arn(&region, &account, &fname);
        if let Some(q) = &q {
            arn = format!("{arn}:{q}");
        }
        let v = self.url_view(&arn, &region, &rec);
        Ok(m::GetFunctionUrlConfigResponse {
            function_url: v.function_url,
            function_arn: v.function_arn,
            auth_type: v.auth_type,
            cors: v.cors,
            creation_time: v.creation_time,
            last_modified_time: v.last_modified_time,
            invoke_mode: v.invoke_mode,
        })
    }

    pub(crate) async fn update_url_config_op(
        &self,
        ctx: &RequestContext,
        input: m::UpdateFunctionUrlConfigRequest,
    ) -> Result<m::UpdateFunctionUrlConfigResponse> {
        let (account, region, fname, q) =
            self.url_target(ctx, &input.function_name, input.qualifier.as_deref())?;
        let mut arn = validate::function_arn(&region, &account, &fname);
        if let Some(q) = &q {
            arn = format!("{arn}:{q}");
        }
        let now = self.now_ms();
        let reg = region.clone();
        let res = self
            .inner
            .db
            .write(move |txn| {
                let key = keys::url_config(&account, &reg, &fname, q.as_deref());
                let Some(mut rec) = records::get::<UrlConfigRecord>(txn, &key)? else {
                    return Ok(Err(Self::url_missing()));
                };
                if let Some(a) = &input.auth_type {
                    rec.auth_type = a.as_str().to_string();
                }
                if let Some(c) = &input.cors {
                    rec.cors = Some(cors_rec(c.clone()));
                }
                if let Some(i) = &input.invoke_mode {
                    rec.invoke_mode = i.as_str().to_string();
                }
                rec.modified_ms = now;
                records::put(txn, &key, &rec)?;
                Ok::<_, nimbus_store::StoreError>(Ok(rec))
            })
            .await?;
        let rec = res?;
        let v = self.url_view(&arn, &region, &rec);
        Ok(m::UpdateFunctionUrlConfigResponse {
            function_url: v.function_url,
            function_arn: v.function_arn,
            auth_type: v.auth_type,
            cors: v.cors,
            creation_time: v.creation_time,
            last_modified_time: v.last_modified_time,
            invoke_mode: v.invoke_mode,
        })
    }

    pub(crate) async fn delete_url_config_op(
        &self,
        ctx: &RequestContext,
        input: m::DeleteFunctionUrlConfigRequest,
    ) -> Result<()> {
        let (account, region, fname, q) =
            self.url_target(ctx, &input.function_name, input.qualifier.as_deref())?;
        let res = self
            .inner
            .db
            .write(move |txn| {
                let key = keys::url_config(&account, &region, &fname, q.as_deref());
                let Some(rec) = records::get::<UrlConfigRecord>(txn, &key)? else {
                    return Ok(Err(Self::url_missing()));
                };
                txn.delete(&keys::url_index(&rec.url_id))?;
                txn.delete(&key)?;
                Ok::<_, nimbus_store::StoreError>(Ok(()))
            })
            .await?;
        res?;
        Ok(())
    }

    pub(crate) fn list_url_configs_op(
        &self,
        ctx: &RequestContext,
        input: m::ListFunctionUrlConfigsRequest,
    ) -> Result<m::ListFunctionUrlConfigsResponse> {
        let (account, region, fname, _) = self.policy_target(ctx, &input.function_name, None)?;
        let snap = self.snapshot()?;
        let all: Vec<(Vec<u8>, UrlConfigRecord)> = records::scan_all(
            snap.as_ref(),
            &keys::url_configs_prefix(&account, &region, &fname),
            MAX_SCAN,
        )?;
        let base = validate::function_arn(&region, &account, &fname);
        let items: Vec<(String, m::FunctionUrlConfig)> = all
            .iter()
            .map(|(_, r)| {
                let arn = match &r.qualifier {
                    Some(q) => format!("{base}:{q}"),
                    None => base.clone(),
                };
                (r.url_id.clone(), self.url_view(&arn, &region, r))
            })
            .collect();
        let (configs, next_marker) = paginate(&items, input.marker.as_deref(), input.max_items);
        Ok(m::ListFunctionUrlConfigsResponse {
            function_url_configs: configs,
            next_marker,
        })
    }

    /// The URL config and function a URL id routes to.
    pub(crate) fn url_lookup(&self, url_id: &str) -> Result<Option<(UrlIndex, UrlConfigRecord)>> {
        let snap = self.snapshot()?;
        let Some(idx) = records::get::<UrlIndex>(snap.as_ref(), &keys::url_index(url_id))? else {
            return Ok(None);
        };
        let rec: Option<UrlConfigRecord> = records::get(
            snap.as_ref(),
            &keys::url_config(
                &idx.account_id,
                &idx.region,
                &idx.function,
                idx.qualifier.as_deref(),
            ),
        )?;
        let exists: Option<FunctionRecord> = records::get(
            snap.as_ref(),
            &keys::function(&idx.account_id, &idx.region, &idx.function),
        )?;
        Ok(match (rec, exists) {
            (Some(r), Some(_)) => Some((idx, r)),
            _ => None,
        })
    }
}

fn non_empty(v: &[String]) -> Option<&[String]> {
    if v.is_empty() {
        None
    } else {
        Some(v)
    }
}

fn matches_filters(
    l: &LayerVersionRecord,
    runtime: &Option<m::Runtime>,
    arch: &Option<m::Architecture>,
) -> bool {
    runtime
        .as_ref()
        .is_none_or(|r| l.compatible_runtimes.iter().any(|x| x == r.as_str()))
        && arch
            .as_ref()
            .is_none_or(|a| l.compatible_architectures.iter().any(|x| x == a.as_str()))
}

fn cors_rec(c: m::Cors) -> CorsRec {
    CorsRec {
        allow_credentials: c.allow_credentials,
        allow_headers: c.allow_headers.unwrap_or_default(),
        allow_methods: c.allow_methods.unwrap_or_default(),
        allow_origins: c.allow_origins.unwrap_or_default(),
        expose_headers: c.expose_headers.unwrap_or_default(),
        max_age: c.max_age,
    }
}

fn cors_view(c: &CorsRec) -> m::Cors {
    let opt = |v: &Vec<String>| if v.is_empty() { None } else { Some(v.clone()) };
    m::Cors {
        allow_credentials: c.allow_credentials,
        allow_headers: opt(&c.allow_headers),
        allow_methods: opt(&c.allow_methods),
        allow_origins: opt(&c.allow_origins),
        expose_headers: opt(&c.expose_headers),
        max_age: c.max_age,
    }
}

/// Why [`Lambda::service_may_invoke`] could not answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceInvokeCheck {
    NoSuchFunction,
    /// The store could not be read.
    Unavailable,
}

/// One policy statement allows `service` to invoke for `source_arn`/`source_account`:
/// Allow, the service (or `*`) as principal, an invoke action, and its SourceArn /
/// SourceAccount conditions (the ones AddPermission writes) satisfied.
fn statement_allows_service(
    s: &serde_json::Value,
    service: &str,
    source_arn: &str,
    source_account: &str,
) -> bool {
    let principal_ok = s["Principal"] == "*"
        || s["Principal"]["Service"] == service
        || s["Principal"]["Service"]
            .as_array()
            .is_some_and(|a| a.iter().any(|p| p == service));
    let action_ok = matches!(
        s["Action"].as_str().unwrap_or_default(),
        "lambda:InvokeFunction" | "lambda:*" | "*"
    );
    if s["Effect"] != "Allow" || !principal_ok || !action_ok {
        return false;
    }
    let Some(conditions) = s["Condition"].as_object() else {
        return true;
    };
    conditions.iter().all(|(op, keys)| {
        keys.as_object().is_none_or(|keys| {
            keys.iter().all(|(key, want)| {
                let want = want.as_str().unwrap_or_default();
                match key.to_ascii_lowercase().as_str() {
                    "aws:sourcearn" if op.starts_with("Arn") || op.starts_with("String") => {
                        if op.ends_with("Like") {
                            glob_match(want, source_arn)
                        } else {
                            want == source_arn
                        }
                    }
                    "aws:sourceaccount" => want == source_account,
                    // Conditions on other keys (event source tokens, organisations) are
                    // not about a service's invocation: they do not block it here.
                    _ => true,
                }
            })
        })
    })
}

/// IAM's `*` (any run) and `?` (one character) wildcards.
fn glob_match(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti, mut star, mut mark) = (0usize, 0usize, None::<usize>, 0usize);
    while ti < t.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some(pi);
                mark = ti;
                pi += 1;
            }
            Some(c) if *c == '?' || Some(c) == t.get(ti) => {
                pi += 1;
                ti += 1;
            }
            _ => match star {
                Some(sp) => {
                    pi = sp + 1;
                    mark += 1;
                    ti = mark;
                }
                None => return false,
            },
        }
    }
    p.get(pi..)
        .is_some_and(|rest| rest.iter().all(|c| *c == '*'))
}

/// AWS's limit on a function's resource policy.
const MAX_POLICY_BYTES: usize = 20 * 1024;

/// A policy statement as AWS renders it from AddPermission (members in AWS's order).
fn statement_json(input: &m::AddPermissionRequest, resource: &str) -> String {
    let p = input.principal.as_str();
    let principal = if p == "*" {
        serde_json::json!("*")
    } else if p.ends_with(".amazonaws.com") || p.ends_with(".amazon.com") {
        serde_json::json!({ "Service": p })
    } else if p.len() == 12 && p.bytes().all(|b| b.is_ascii_digit()) {
        serde_json::json!({ "AWS": format!("arn:aws:iam::{p}:root") })
    } else {
        serde_json::json!({ "AWS": p })
    };
    let js = |v: &str| serde_json::Value::String(v.to_string()).to_string();
    let mut conditions: Vec<String> = Vec::new();
    let mut string_equals: Vec<String> = Vec::new();
    if let Some(a) = &input.source_account {
        string_equals.push(format!("\"AWS:SourceAccount\":{}", js(a)));
    }
    if let Some(t) = &input.event_source_token {
        string_equals.push(format!("\"lambda:EventSourceToken\":{}", js(t)));
    }
    if let Some(t) = &input.function_url_auth_type {
        string_equals.push(format!("\"lambda:FunctionUrlAuthType\":{}", js(t.as_str())));
    }
    if let Some(o) = &input.principal_org_id {
        string_equals.push(format!("\"aws:PrincipalOrgID\":{}", js(o)));
    }
    if !string_equals.is_empty() {
        conditions.push(format!("\"StringEquals\":{{{}}}", string_equals.join(",")));
    }
    if let Some(s) = &input.source_arn {
        conditions.push(format!("\"ArnLike\":{{\"AWS:SourceArn\":{}}}", js(s)));
    }
    if input.invoked_via_function_url == Some(true) {
        conditions.push("\"Bool\":{\"lambda:InvokedViaFunctionUrl\":\"true\"}".to_string());
    }
    let mut out = format!(
        "{{\"Sid\":{},\"Effect\":\"Allow\",\"Principal\":{},\"Action\":{},\"Resource\":{}",
        js(&input.statement_id),
        principal,
        js(&input.action),
        js(resource)
    );
    if !conditions.is_empty() {
        out.push_str(&format!(",\"Condition\":{{{}}}", conditions.join(",")));
    }
    out.push('}');
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod service_invoke_tests {
    use super::*;

    fn stmt(v: &str) -> serde_json::Value {
        serde_json::from_str(v).unwrap()
    }

    #[test]
    fn service_statements_and_their_conditions() {
        let arn = "arn:aws:s3:::photos";
        let allows =
            |s: &str| statement_allows_service(&stmt(s), "s3.amazonaws.com", arn, "000000000000");
        assert!(allows(
            r#"{"Effect":"Allow","Principal":{"Service":"s3.amazonaws.com"},"Action":"lambda:InvokeFunction"}"#
        ));
        assert!(allows(
            r#"{"Effect":"Allow","Principal":"*","Action":"lambda:*"}"#
        ));
        assert!(!allows(
            r#"{"Effect":"Allow","Principal":{"Service":"sns.amazonaws.com"},"Action":"lambda:InvokeFunction"}"#
        ));
        assert!(!allows(
            r#"{"Effect":"Allow","Principal":{"Service":"s3.amazonaws.com"},"Action":"lambda:GetFunction"}"#
        ));
        assert!(!allows(
            r#"{"Effect":"Deny","Principal":{"Service":"s3.amazonaws.com"},"Action":"lambda:InvokeFunction"}"#
        ));
        assert!(allows(
            r#"{"Effect":"Allow","Principal":{"Service":"s3.amazonaws.com"},"Action":"lambda:InvokeFunction","Condition":{"ArnLike":{"AWS:SourceArn":"arn:aws:s3:::pho*"}}}"#
        ));
        assert!(!allows(
            r#"{"Effect":"Allow","Principal":{"Service":"s3.amazonaws.com"},"Action":"lambda:InvokeFunction","Condition":{"ArnLike":{"AWS:SourceArn":"arn:aws:s3:::other"}}}"#
        ));
        assert!(allows(
            r#"{"Effect":"Allow","Principal":{"Service":"s3.amazonaws.com"},"Action":"lambda:InvokeFunction","Condition":{"StringEquals":{"AWS:SourceAccount":"000000000000"}}}"#
        ));
        assert!(!allows(
            r#"{"Effect":"Allow","Principal":{"Service":"s3.amazonaws.com"},"Action":"lambda:InvokeFunction","Condition":{"StringEquals":{"AWS:SourceAccount":"111111111111"}}}"#
        ));
    }

    #[test]
    fn globs() {
        assert!(glob_match("arn:aws:s3:::*", "arn:aws:s3:::b"));
        assert!(glob_match("a?c", "abc"));
        assert!(glob_match("*", ""));
        assert!(!glob_match("a*d", "abc"));
        assert!(glob_match("a*b*c", "axxbyyc"));
    }
}
