//! Functions and versions: create, read, update, delete, list, publish.

use std::collections::BTreeMap;

use base64::Engine as _;
use bytes::Bytes;
use nimbus_core::RequestContext;
use nimbus_model::lambda as m;
use nimbus_store::WriteTxn;
use nimbus_wire::AwsError;

use crate::code;
use crate::error::{self, Fail, Result};
use crate::invoke::function_ref;
use crate::keys;
use crate::records::{
    self, AliasRecord, FunctionRecord, LayerRef, LayerVersionRecord, LoggingRec, VersionConfig,
    VpcRec,
};
use crate::service::{adopt, Lambda, StagedCode, MAX_SCAN};
use crate::time::lambda_timestamp;
use crate::validate;

/// How a configuration is reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shown {
    /// As stored (GetFunction, ListFunctions, ...).
    Settled,
    /// CreateFunction's answer: the function is still being created.
    Creating,
    /// Update answers: an update is in progress.
    Updating,
}

pub(crate) fn new_revision() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn to_btree(
    m: Option<std::collections::HashMap<String, String>>,
) -> Option<BTreeMap<String, String>> {
    m.map(|h| h.into_iter().collect())
}

fn request_entity_too_large(op: &str) -> AwsError {
    AwsError::new(
        http::StatusCode::PAYLOAD_TOO_LARGE,
        "RequestEntityTooLargeException",
        format!("Request must be smaller than 69905067 bytes for the {op} operation"),
    )
}

/// Read through an alias, AWS reports the alias's ARN (and the version it points at).
fn alias_arn_fix(
    c: &mut m::FunctionConfiguration,
    account: &str,
    region: &str,
    name: &str,
    qualifier: Option<&str>,
) {
    if let Some(q) = qualifier {
        if q != "$LATEST" && q.parse::<u64>().is_err() {
            c.function_arn = Some(format!(
                "{}:{q}",
                validate::function_arn(region, account, name)
            ));
        }
    }
}

impl Lambda {
    /// The model view of one configuration.
    pub(crate) fn config_view(
        &self,
        account: &str,
        region: &str,
        func: &FunctionRecord,
        cfg: &VersionConfig,
        qualified_arn: bool,
        shown: Shown,
    ) -> m::FunctionConfiguration {
        let base = validate::function_arn(region, account, &func.name);
        let arn = if qualified_arn || cfg.version != "$LATEST" {
            format!("{base}:{}", cfg.version)
        } else {
            base
        };
        let (state, state_reason, state_code, last_status, last_reason, last_code) = match shown {
            Shown::Settled => (
                m::State::Active,
                None,
                None,
                Some(m::LastUpdateStatus::Successful),
                None,
                None,
            ),
            Shown::Creating => (
                m::State::Pending,
                Some("The function is being created.".to_string()),
                Some(m::StateReasonCode::Creating),
                None,
                None,
                None,
            ),
            Shown::Updating => (
                m::State::Active,
                None,
                None,
                Some(m::LastUpdateStatus::InProgress),
                Some("The function is being created.".to_string()),
                Some(m::LastUpdateStatusReasonCode::from("Creating")),
            ),
        };
        m::FunctionConfiguration {
            function_name: Some(func.name.clone()),
            function_arn: Some(arn),
            runtime: cfg.runtime.as_deref().map(m::Runtime::from),
            role: Some(cfg.role.clone()),
            handler: cfg.handler.clone(),
            code_size: Some(cfg.code.size as i64),
            description: Some(cfg.description.clone()),
            timeout: Some(cfg.timeout_s as i32),
            memory_size: Some(cfg.memory_mb as i32),
            last_modified: Some(lambda_timestamp(cfg.last_modified_ms)),
            code_sha256: Some(cfg.code.sha256_b64()),
            version: Some(cfg.version.clone()),
            vpc_config: cfg.vpc.as_ref().map(|v| m::VpcConfigResponse {
                subnet_ids: Some(v.subnet_ids.clone()),
                security_group_ids: Some(v.security_group_ids.clone()),
                vpc_id: Some(String::new()),
                ipv6_allowed_for_dual_stack: v.ipv6_allowed_for_dual_stack,
            }),
            dead_letter_config: cfg
                .dead_letter_target
                .as_ref()
                .map(|t| m::DeadLetterConfig {
                    target_arn: Some(t.clone()),
                }),
            environment: cfg.environment.as_ref().map(|e| m::EnvironmentResponse {
                variables: Some(e.iter().map(|(k, v)| (k.clone(), v.clone())).collect()),
                error: None,
            }),
            kms_key_arn: cfg.kms_key_arn.clone(),
            tracing_config: Some(m::TracingConfigResponse {
                mode: Some(m::TracingMode::from(cfg.tracing_mode.as_str())),
            }),
            revision_id: Some(cfg.revision_id.clone()),
            layers: if cfg.layers.is_empty() {
                None
            } else {
                Some(
                    cfg.layers
                        .iter()
                        .map(|l| m::Layer {
                            arn: Some(l.arn.clone()),
                            code_size: Some(l.code.size as i64),
                            ..Default::default()
                        })
                        .collect(),
                )
            },
            state: Some(state),
            state_reason,
            state_reason_code: state_code,
            last_update_status: last_status,
            last_update_status_reason: last_reason,
            last_update_status_reason_code: last_code,
            package_type: Some(m::PackageType::from(cfg.package_type.as_str())),
            architectures: Some(
                cfg.architectures
                    .iter()
                    .map(|a| m::Architecture::from(a.as_str()))
                    .collect(),
            ),
            ephemeral_storage: Some(m::EphemeralStorage {
                size: cfg.ephemeral_mb as i32,
            }),
            snap_start: Some(m::SnapStartResponse {
                apply_on: Some(m::SnapStartApplyOn::from(
                    cfg.snap_start_apply_on.as_deref().unwrap_or("None"),
                )),
                optimization_status: Some(m::SnapStartOptimizationStatus::Off),
            }),
            runtime_version_config: cfg.runtime.as_ref().map(|r| m::RuntimeVersionConfig {
                runtime_version_arn: Some(format!(
                    "arn:aws:lambda:{region}::runtime:{}",
                    code::sha256_hex(r.as_bytes())
                )),
                error: None,
            }),
            logging_config: Some(m::LoggingConfig {
                log_format: Some(m::LogFormat::from(cfg.logging.log_format.as_str())),
                application_log_level: cfg
                    .logging
                    .application_log_level
                    .as_deref()
                    .map(m::ApplicationLogLevel::from),
                system_log_level: cfg
                    .logging
                    .system_log_level
                    .as_deref()
                    .map(m::SystemLogLevel::from),
                log_group: Some(cfg.logging.log_group.clone()),
            }),
            ..Default::default()
        }
    }

    /// The zip of a request: inline bytes or an S3 object.
    async fn code_bytes(
        &self,
        ctx: &RequestContext,
        zip: Option<Vec<u8>>,
        s3_bucket: Option<&str>,
        s3_key: Option<&str>,
        s3_version: Option<&str>,
        op: &str,
    ) -> Result<Bytes> {
        match (zip, s3_bucket, s3_key) {
            (Some(z), None, None) => {
                if z.len() as u64 > code::MAX_ZIPPED_BYTES {
                    return Err(request_entity_too_large(op).into());
                }
                Ok(Bytes::from(z))
            }
            (None, Some(b), Some(k)) => self.fetch_s3_code(ctx, b, k, s3_version).await,
            (None, None, None) => {
                Err(error::invalid_parameter("Please provide a source for function code.").into())
            }
            _ => Err(error::invalid_parameter(
                "Please do not provide other FunctionCode parameters when providing a ZipFile.",
            )
            .into()),
        }
    }

    /// Resolves layer version ARNs inside a transaction (adding a reference to each).
    fn adopt_layers(
        txn: &mut dyn WriteTxn,
        account: &str,
        region: &str,
        arns: &[String],
    ) -> std::result::Result<std::result::Result<Vec<LayerRef>, AwsError>, nimbus_store::StoreError>
    {
        let mut out = Vec::new();
        for arn in arns {
            let missing =
                || error::invalid_parameter(format!("Layer version {arn} does not exist."));
            let Some((acct, reg, name, version)) = validate::parse_layer_version_arn(arn) else {
                return Ok(Err(missing()));
            };
            if acct != account || reg != region {
                return Ok(Err(missing()));
            }
            let rec: Option<LayerVersionRecord> =
                records::get(txn, &keys::layer_version(&acct, &reg, &name, version))?;
            let Some(rec) = rec else {
                return Ok(Err(missing()));
            };
            let code = adopt(txn, &rec.code)?;
            out.push(LayerRef {
                arn: arn.clone(),
                code,
            });
        }
        Ok(Ok(out))
    }

    fn check_layer_list(layers: &[String], code_unzipped: u64, layer_sizes: u64) -> Result<()> {
        if layers.len() > validate::MAX_LAYERS {
            return Err(error::invalid_parameter("Cannot reference more than 5 layers.").into());
        }
        let total = code_unzipped + layer_sizes;
        if total > code::MAX_UNZIPPED_BYTES {
            return Err(error::invalid_parameter(format!(
                "Function code combined with layers exceeds the maximum allowed size of {} bytes. The actual size is {total} bytes.",
                code::MAX_UNZIPPED_BYTES
            ))
            .into());
        }
        Ok(())
    }

    /// Unzipped sizes of the named layers (0 for ones that do not exist: the commit
    /// reports those).
    fn layer_sizes(&self, account: &str, region: &str, arns: &[String]) -> Result<u64> {
        let snap = self.snapshot()?;
        let mut total = 0;
        for arn in arns {
            if let Some((a, r, n, v)) = validate::parse_layer_version_arn(arn) {
                if a == account && r == region {
                    let rec: Option<LayerVersionRecord> =
                        records::get(snap.as_ref(), &keys::layer_version(&a, &r, &n, v))?;
                    total += rec.map(|l| l.code.unzipped_size).unwrap_or(0);
                }
            }
        }
        Ok(total)
    }

    pub(crate) async fn create_function_op(
        &self,
        ctx: &RequestContext,
        input: m::CreateFunctionRequest,
    ) -> Result<m::FunctionConfiguration> {
        let r = function_ref(&input.function_name, None)?;
        if r.qualifier.is_some() {
            return Err(error::invalid_parameter(
                "Current operation does not support versions other than $LATEST. Please set version to $LATEST or do not set a version in your request.",
            )
            .into());
        }
        let (account, region) = Self::scope(ctx, &r);
        let name = r.name;
        if input
            .package_type
            .as_ref()
            .is_some_and(|p| p.as_str() == "Image")
        {
            return Err(error::invalid_parameter(
                "nimbus runs Zip deployment packages only; container images are not supported.",
            )
            .into());
        }
        let (Some(runtime), Some(handler)) = (input.runtime.as_ref(), input.handler.as_ref())
        else {
            return Err(error::invalid_parameter(
                "Runtime and Handler are mandatory parameters for functions created with deployment packages.",
            )
            .into());
        };
        validate::runtime(runtime.as_str())?;
        let timeout_s = input.timeout.map(validate::timeout).transpose()?;
        let memory_mb = input.memory_size.map(validate::memory).transpose()?;
        let ephemeral_mb = input
            .ephemeral_storage
            .as_ref()
            .map(|e| validate::ephemeral(e.size))
            .transpose()?;
        let environment = to_btree(input.environment.and_then(|e| e.variables));
        if let Some(env) = &environment {
            validate::environment(env)?;
        }
        let tags: BTreeMap<String, String> = to_btree(input.tags).unwrap_or_default();
        if tags.len() > validate::MAX_TAGS {
            return Err(
                error::invalid_parameter("Number of tags exceeds resource tag limit.").into(),
            );
        }
        self.check_role(&input.role)?;
        let layers = input.layers.unwrap_or_default();
        let zip = self
            .code_bytes(
                ctx,
                input.code.zip_file,
                input.code.s3_bucket.as_deref(),
                input.code.s3_key.as_deref(),
                input.code.s3_object_version.as_deref(),
                "CreateFunction",
            )
            .await?;
        let staged = self.stage_zip(zip, true).await?;
        if let Err(e) = Self::check_layer_list(
            &layers,
            staged.code.unzipped_size,
            self.layer_sizes(&account, &region, &layers)?,
        ) {
            self.settle(std::slice::from_ref(&staged), &[]).await;
            return Err(e);
        }
        let now = self.now_ms();
        let logging = input.logging_config.as_ref();
        let cfg = VersionConfig {
            version: "$LATEST".into(),
            description: input.description.unwrap_or_default(),
            runtime: Some(runtime.as_str().to_string()),
            handler: Some(handler.clone()),
            role: input.role.clone(),
            timeout_s: timeout_s.unwrap_or(validate::DEFAULT_TIMEOUT_S),
            memory_mb: memory_mb.unwrap_or(validate::DEFAULT_MEMORY_MB),
            ephemeral_mb: ephemeral_mb.unwrap_or(validate::DEFAULT_EPHEMERAL_MB),
            environment,
            layers: Vec::new(),
            code: staged.code.clone(),
            last_modified_ms: now,
            revision_id: new_revision(),
            architectures: input
                .architectures
                .map(|a| a.iter().map(|x| x.as_str().to_string()).collect())
                .unwrap_or_else(|| vec!["x86_64".to_string()]),
            tracing_mode: input
                .tracing_config
                .and_then(|t| t.mode)
                .map(|m| m.as_str().to_string())
                .unwrap_or_else(|| "PassThrough".into()),
            logging: LoggingRec {
                log_format: logging
                    .and_then(|l| l.log_format.as_ref())
                    .map(|f| f.as_str().to_string())
                    .unwrap_or_else(|| "Text".into()),
                application_log_level: logging
                    .and_then(|l| l.application_log_level.as_ref())
                    .map(|f| f.as_str().to_string()),
                system_log_level: logging
                    .and_then(|l| l.system_log_level.as_ref())
                    .map(|f| f.as_str().to_string()),
                log_group: logging
                    .and_then(|l| l.log_group.clone())
                    .unwrap_or_else(|| format!("/aws/lambda/{name}")),
            },
            dead_letter_target: input.dead_letter_config.and_then(|d| d.target_arn),
            kms_key_arn: input.kms_key_arn,
            vpc: input.vpc_config.map(|v| VpcRec {
                subnet_ids: v.subnet_ids.unwrap_or_default(),
                security_group_ids: v.security_group_ids.unwrap_or_default(),
                ipv6_allowed_for_dual_stack: v.ipv6_allowed_for_dual_stack,
            }),
            package_type: "Zip".into(),
            snap_start_apply_on: input
                .snap_start
                .and_then(|s| s.apply_on)
                .map(|a| a.as_str().to_string()),
        };
        let publish = input.publish.unwrap_or(false);
        let (acct, reg, fname) = (account.clone(), region.clone(), name.clone());
        let staged_code = staged.code.clone();
        // Errors after the first write must abort the transaction (Err), not commit it.
        let result = self
            .inner
            .db
            .write(move |txn| {
                let fkey = keys::function(&acct, &reg, &fname);
                if txn.get(&fkey)?.is_some() {
                    return Err(Fail::Aws(error::resource_conflict(format!(
                        "Function already exist: {fname}"
                    ))));
                }
                let mut cfg = cfg.clone();
                cfg.code = adopt(txn, &staged_code)?;
                cfg.layers = Self::adopt_layers(txn, &acct, &reg, &layers)?.map_err(Fail::Aws)?;
                let mut func = FunctionRecord {
                    name: fname.clone(),
                    created_ms: now,
                    tags: tags.clone(),
                    reserved_concurrency: None,
                    last_version: 0,
                    published_revision: None,
                    latest: cfg.clone(),
                };
                let mut published = None;
                if publish {
                    let v = Self::publish_in_txn(txn, &acct, &reg, &mut func, None, now)?;
                    published = Some(v);
                }
                records::put(txn, &fkey, &func)?;
                Ok::<_, Fail>((func, published, cfg.code.blob_id.clone()))
            })
            .await;
        let (func, published, used_blob) = match result {
            Ok(v) => v,
            Err(e) => {
                self.settle(std::slice::from_ref(&staged), &[]).await;
                return Err(e);
            }
        };
        self.settle(std::slice::from_ref(&staged), &[used_blob])
            .await;
        let shown_cfg = published.as_ref().unwrap_or(&func.latest);
        Ok(self.config_view(&account, &region, &func, shown_cfg, false, Shown::Creating))
    }

    /// Makes version `last_version + 1` from `$LATEST` inside a transaction (adds the
    /// references of its code and layers) and returns it.
    pub(crate) fn publish_in_txn(
        txn: &mut dyn WriteTxn,
        account: &str,
        region: &str,
        func: &mut FunctionRecord,
        description: Option<String>,
        now: i64,
    ) -> std::result::Result<VersionConfig, nimbus_store::StoreError> {
        let n = func.last_version + 1;
        let mut v = func.latest.clone();
        v.version = n.to_string();
        if let Some(d) = description {
            v.description = d;
        }
        v.last_modified_ms = now;
        v.revision_id = new_revision();
        records::config_refs_add(txn, &v)?;
        records::put(txn, &keys::version(account, region, &func.name, n), &v)?;
        func.last_version = n;
        func.published_revision = Some(func.latest.revision_id.clone());
        Ok(v)
    }

    /// Reads a function and the configuration a qualifier names.
    pub(crate) fn read_qualified(
        &self,
        ctx: &RequestContext,
        name: &str,
        qualifier: Option<&str>,
    ) -> Result<(
        String,
        String,
        FunctionRecord,
        VersionConfig,
        Option<String>,
    )> {
        let r = function_ref(name, qualifier)?;
        let (account, region) = Self::scope(ctx, &r);
        let snap = self.snapshot()?;
        let func = Self::load_function(snap.as_ref(), &account, &region, &r.name)?;
        let cfg = match &r.qualifier {
            None => func.latest.clone(),
            Some(q) => Self::load_qualified(snap.as_ref(), &account, &region, &func, q)?,
        };
        Ok((account, region, func, cfg, r.qualifier))
    }

    pub(crate) fn get_function_op(
        &self,
        ctx: &RequestContext,
        input: m::GetFunctionRequest,
    ) -> Result<m::GetFunctionResponse> {
        let (account, region, func, cfg, q) =
            self.read_qualified(ctx, &input.function_name, input.qualifier.as_deref())?;
        let mut configuration =
            self.config_view(&account, &region, &func, &cfg, q.is_some(), Shown::Settled);
        alias_arn_fix(
            &mut configuration,
            &account,
            &region,
            &func.name,
            q.as_deref(),
        );
        Ok(m::GetFunctionResponse {
            configuration: Some(configuration),
            code: Some(m::FunctionCodeLocation {
                repository_type: Some("S3".into()),
                location: Some(self.code_location(&cfg.code)),
                ..Default::default()
            }),
            tags: if func.tags.is_empty() {
                None
            } else {
                Some(
                    func.tags
                        .iter()
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect(),
                )
            },
            concurrency: func.reserved_concurrency.map(|c| m::Concurrency {
                reserved_concurrent_executions: Some(c as i32),
            }),
            ..Default::default()
        })
    }

    pub(crate) fn get_function_configuration_op(
        &self,
        ctx: &RequestContext,
        input: m::GetFunctionConfigurationRequest,
    ) -> Result<m::FunctionConfiguration> {
        let (account, region, func, cfg, q) =
            self.read_qualified(ctx, &input.function_name, input.qualifier.as_deref())?;
        let mut c = self.config_view(&account, &region, &func, &cfg, q.is_some(), Shown::Settled);
        alias_arn_fix(&mut c, &account, &region, &func.name, q.as_deref());
        Ok(c)
    }

    /// The unqualified function a control-plane call names (qualifiers refused).
    fn unqualified(&self, ctx: &RequestContext, name: &str) -> Result<(String, String, String)> {
        let r = function_ref(name, None)?;
        if r.qualifier.is_some() {
            return Err(error::invalid_parameter(
                "Current operation does not support versions other than $LATEST. Please set version to $LATEST or do not set a version in your request.",
            )
            .into());
        }
        let (a, reg) = Self::scope(ctx, &r);
        Ok((a, reg, r.name))
    }

    pub(crate) async fn update_function_code_op(
        &self,
        ctx: &RequestContext,
        input: m::UpdateFunctionCodeRequest,
    ) -> Result<m::FunctionConfiguration> {
        let (account, region, name) = self.unqualified(ctx, &input.function_name)?;
        {
            let snap = self.snapshot()?;
            Self::load_function(snap.as_ref(), &account, &region, &name)?;
        }
        if input.image_uri.is_some() {
            return Err(error::invalid_parameter(
                "nimbus runs Zip deployment packages only; container images are not supported.",
            )
            .into());
        }
        let zip = self
            .code_bytes(
                ctx,
                input.zip_file,
                input.s3_bucket.as_deref(),
                input.s3_key.as_deref(),
                input.s3_object_version.as_deref(),
                "UpdateFunctionCode",
            )
            .await?;
        let staged = self.stage_zip(zip, true).await?;
        let dry_run = input.dry_run.unwrap_or(false);
        let publish = input.publish.unwrap_or(false);
        let revision = input.revision_id.clone();
        let architectures: Option<Vec<String>> = input
            .architectures
            .map(|a| a.iter().map(|x| x.as_str().to_string()).collect());
        let now = self.now_ms();
        let (acct, reg, fname) = (account.clone(), region.clone(), name.clone());
        let staged_code = staged.code.clone();
        let result = self
            .inner
            .db
            .write(move |txn| {
                let fkey = keys::function(&acct, &reg, &fname);
                let Some(mut func) = records::get::<FunctionRecord>(txn, &fkey)? else {
                    return Ok(Err(error::function_not_found(&validate::function_arn(
                        &reg, &acct, &fname,
                    ))));
                };
                if revision
                    .as_ref()
                    .is_some_and(|r| *r != func.latest.revision_id)
                {
                    return Ok(Err(error::revision_mismatch()));
                }
                let layers_unzipped: u64 = func
                    .latest
                    .layers
                    .iter()
                    .map(|l| l.code.unzipped_size)
                    .sum();
                if let Err(Fail::Aws(e)) =
                    Self::check_layer_list(&[], staged_code.unzipped_size, layers_unzipped)
                {
                    return Ok(Err(e));
                }
                if dry_run {
                    let mut shown = func.latest.clone();
                    shown.code = staged_code.clone();
                    return Ok(Ok((func, shown, None, String::new())));
                }
                let old = func.latest.code.clone();
                func.latest.code = adopt(txn, &staged_code)?;
                records::code_ref_drop(txn, &old)?;
                if let Some(a) = &architectures {
                    func.latest.architectures = a.clone();
                }
                func.latest.last_modified_ms = now;
                func.latest.revision_id = new_revision();
                let published = if publish {
                    Some(Self::publish_in_txn(
                        txn, &acct, &reg, &mut func, None, now,
                    )?)
                } else {
                    None
                };
                records::put(txn, &fkey, &func)?;
                let used = func.latest.code.blob_id.clone();
                let shown = published.clone().unwrap_or_else(|| func.latest.clone());
                Ok::<_, nimbus_store::StoreError>(Ok((func, shown, published, used)))
            })
            .await;
        let staged_list: Vec<StagedCode> = vec![staged];
        match result {
            Ok(Ok((func, shown, _published, used))) => {
                self.settle(&staged_list, &[used]).await;
                Ok(self.config_view(&account, &region, &func, &shown, false, Shown::Updating))
            }
            Ok(Err(e)) => {
                self.settle(&staged_list, &[]).await;
                Err(e.into())
            }
            Err(e) => {
                self.settle(&staged_list, &[]).await;
                Err(e.into())
            }
        }
    }

    pub(crate) async fn update_function_configuration_op(
        &self,
        ctx: &RequestContext,
        input: m::UpdateFunctionConfigurationRequest,
    ) -> Result<m::FunctionConfiguration> {
        let (account, region, name) = self.unqualified(ctx, &input.function_name)?;
        if let Some(r) = &input.runtime {
            validate::runtime(r.as_str())?;
        }
        let timeout_s = input.timeout.map(validate::timeout).transpose()?;
        let memory_mb = input.memory_size.map(validate::memory).transpose()?;
        let ephemeral_mb = input
            .ephemeral_storage
            .as_ref()
            .map(|e| validate::ephemeral(e.size))
            .transpose()?;
        let environment: Option<BTreeMap<String, String>> = input.environment.as_ref().map(|e| {
            e.variables
                .clone()
                .unwrap_or_default()
                .into_iter()
                .collect()
        });
        if let Some(env) = &environment {
            validate::environment(env)?;
        }
        if let Some(role) = &input.role {
            self.check_role(role)?;
        }
        if let Some(layers) = &input.layers {
            let snap = self.snapshot()?;
            let func = Self::load_function(snap.as_ref(), &account, &region, &name)?;
            drop(snap);
            Self::check_layer_list(
                layers,
                func.latest.code.unzipped_size,
                self.layer_sizes(&account, &region, layers)?,
            )?;
        }
        let now = self.now_ms();
        let (acct, reg, fname) = (account.clone(), region.clone(), name.clone());
        let result = self
            .inner
            .db
            .write(move |txn| {
                let fkey = keys::function(&acct, &reg, &fname);
                let Some(mut func) = records::get::<FunctionRecord>(txn, &fkey)? else {
                    return Err(Fail::Aws(error::function_not_found(
                        &validate::function_arn(&reg, &acct, &fname),
                    )));
                };
                if input
                    .revision_id
                    .as_ref()
                    .is_some_and(|r| *r != func.latest.revision_id)
                {
                    return Err(Fail::Aws(error::revision_mismatch()));
                }
                let c = &mut func.latest;
                if let Some(v) = &input.role {
                    c.role = v.clone();
                }
                if let Some(v) = &input.handler {
                    c.handler = Some(v.clone());
                }
                if let Some(v) = &input.description {
                    c.description = v.clone();
                }
                if let Some(v) = timeout_s {
                    c.timeout_s = v;
                }
                if let Some(v) = memory_mb {
                    c.memory_mb = v;
                }
                if let Some(v) = ephemeral_mb {
                    c.ephemeral_mb = v;
                }
                if let Some(v) = &environment {
                    c.environment = Some(v.clone());
                }
                if let Some(v) = &input.runtime {
                    c.runtime = Some(v.as_str().to_string());
                }
                if let Some(v) = &input.dead_letter_config {
                    c.dead_letter_target = v.target_arn.clone().filter(|t| !t.is_empty());
                }
                if let Some(v) = &input.kms_key_arn {
                    c.kms_key_arn = Some(v.clone()).filter(|k| !k.is_empty());
                }
                if let Some(v) = input.tracing_config.as_ref().and_then(|t| t.mode.as_ref()) {
                    c.tracing_mode = v.as_str().to_string();
                }
                if let Some(v) = &input.vpc_config {
                    c.vpc = Some(VpcRec {
                        subnet_ids: v.subnet_ids.clone().unwrap_or_default(),
                        security_group_ids: v.security_group_ids.clone().unwrap_or_default(),
                        ipv6_allowed_for_dual_stack: v.ipv6_allowed_for_dual_stack,
                    });
                }
                if let Some(v) = &input.snap_start {
                    c.snap_start_apply_on = v.apply_on.as_ref().map(|a| a.as_str().to_string());
                }
                if let Some(l) = &input.logging_config {
                    if let Some(f) = &l.log_format {
                        c.logging.log_format = f.as_str().to_string();
                    }
                    if let Some(v) = &l.application_log_level {
                        c.logging.application_log_level = Some(v.as_str().to_string());
                    }
                    if let Some(v) = &l.system_log_level {
                        c.logging.system_log_level = Some(v.as_str().to_string());
                    }
                    if let Some(g) = &l.log_group {
                        c.logging.log_group = g.clone();
                    }
                }
                if let Some(layers) = &input.layers {
                    // An unknown layer after others were adopted must abort the
                    // transaction: the error travels as Err.
                    let new_layers =
                        Self::adopt_layers(txn, &acct, &reg, layers)?.map_err(Fail::Aws)?;
                    let old = std::mem::replace(&mut func.latest.layers, new_layers);
                    for l in &old {
                        records::code_ref_drop(txn, &l.code)?;
                    }
                }
                func.latest.last_modified_ms = now;
                func.latest.revision_id = new_revision();
                records::put(txn, &fkey, &func)?;
                Ok::<_, Fail>(func)
            })
            .await;
        let func = result?;
        Ok(self.config_view(
            &account,
            &region,
            &func,
            &func.latest,
            false,
            Shown::Updating,
        ))
    }

    pub(crate) async fn delete_function_op(
        &self,
        ctx: &RequestContext,
        input: m::DeleteFunctionRequest,
    ) -> Result<m::DeleteFunctionResponse> {
        let r = function_ref(&input.function_name, input.qualifier.as_deref())?;
        let (account, region) = Self::scope(ctx, &r);
        let name = r.name.clone();
        let arn = validate::function_arn(&region, &account, &name);
        let qualifier = r.qualifier.clone();
        let (acct, reg, fname, arn2) = (account.clone(), region.clone(), name.clone(), arn.clone());
        let res = self
            .inner
            .db
            .write(move |txn| {
                let fkey = keys::function(&acct, &reg, &fname);
                let Some(func) = records::get::<FunctionRecord>(txn, &fkey)? else {
                    return Ok(Err(error::function_not_found(&arn2)));
                };
                match &qualifier {
                    Some(q) if q == "$LATEST" => {
                        return Ok(Err(error::invalid_parameter(
                            "$LATEST version cannot be deleted without deleting the function.",
                        )))
                    }
                    Some(q) => {
                        let Ok(n) = q.parse::<u64>() else {
                            return Ok(Err(error::invalid_parameter(
                                "Deletion of aliases is not supported.",
                            )));
                        };
                        let vkey = keys::version(&acct, &reg, &fname, n);
                        let Some(v) = records::get::<VersionConfig>(txn, &vkey)? else {
                            return Ok(Err(error::function_not_found(&format!("{arn2}:{q}"))));
                        };
                        let aliases: Vec<(Vec<u8>, AliasRecord)> = records::scan_all(
                            txn,
                            &keys::aliases_prefix(&acct, &reg, &fname),
                            MAX_SCAN,
                        )?;
                        let using: Vec<String> = aliases
                            .iter()
                            .filter(|(_, a)| a.function_version == *q || a.routing.contains_key(q))
                            .map(|(_, a)| a.name.clone())
                            .collect();
                        if !using.is_empty() {
                            return Ok(Err(error::resource_conflict(format!(
                                "Unable to delete version because the following aliases reference it: [{}]",
                                using.join(", ")
                            ))));
                        }
                        records::config_refs_drop(txn, &v)?;
                        txn.delete(&vkey)?;
                        txn.delete(&keys::policy(&acct, &reg, &fname, Some(q)))?;
                        txn.delete(&keys::event_config(&acct, &reg, &fname, q))?;
                    }
                    None => {
                        records::config_refs_drop(txn, &func.latest)?;
                        let versions: Vec<(Vec<u8>, VersionConfig)> = records::scan_all(
                            txn,
                            &keys::versions_prefix(&acct, &reg, &fname),
                            MAX_SCAN,
                        )?;
                        for (k, v) in versions {
                            records::config_refs_drop(txn, &v)?;
                            txn.delete(&k)?;
                        }
                        let urls: Vec<(Vec<u8>, records::UrlConfigRecord)> = records::scan_all(
                            txn,
                            &keys::url_configs_prefix(&acct, &reg, &fname),
                            MAX_SCAN,
                        )?;
                        for (k, u) in urls {
                            txn.delete(&keys::url_index(&u.url_id))?;
                            txn.delete(&k)?;
                        }
                        for prefix in [
                            keys::aliases_prefix(&acct, &reg, &fname),
                            keys::policies_prefix(&acct, &reg, &fname),
                            keys::event_configs_prefix(&acct, &reg, &fname),
                        ] {
                            for k in records::keys_under(txn, &prefix, MAX_SCAN)? {
                                txn.delete(&k)?;
                            }
                        }
                        txn.delete(&fkey)?;
                    }
                }
                Ok::<_, nimbus_store::StoreError>(Ok(()))
            })
            .await?;
        res?;
        if r.qualifier.is_none() {
            self.forget_function(&arn);
        }
        Ok(m::DeleteFunctionResponse {
            status_code: Some(204),
        })
    }

    pub(crate) fn list_functions_op(
        &self,
        ctx: &RequestContext,
        input: m::ListFunctionsRequest,
    ) -> Result<m::ListFunctionsResponse> {
        let all = input
            .function_version
            .as_ref()
            .is_some_and(|v| v.as_str() == "ALL");
        let max = input.max_items.unwrap_or(50).clamp(1, 10_000) as usize;
        // Marker: base64 of "<function name>/<entries of it already returned>".
        let resume: Option<(String, usize)> = match &input.marker {
            None => None,
            Some(mk) => {
                let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(mk)
                    .ok()
                    .and_then(|b| String::from_utf8(b).ok())
                    .and_then(|s| {
                        let (n, i) = s.rsplit_once('/')?;
                        Some((n.to_string(), i.parse().ok()?))
                    });
                Some(raw.ok_or_else(|| error::invalid_parameter("Invalid marker"))?)
            }
        };
        let (account, region) = (ctx.account_id.clone(), ctx.region.clone());
        let snap = self.snapshot()?;
        let prefix = keys::functions_prefix(&account, &region);
        let mut out = Vec::new();
        let mut next: Option<(String, usize)> = None;
        let mut cursor: Option<Vec<u8>> = None;
        let mut first = true;
        'outer: loop {
            let page: Vec<(Vec<u8>, FunctionRecord)> = match (&resume, first) {
                (Some((name, _)), true) => {
                    // The marker's function itself may have entries left.
                    let k = keys::function(&account, &region, name);
                    let mut p = Vec::new();
                    if let Some(f) = records::get::<FunctionRecord>(snap.as_ref(), &k)? {
                        p.push((k.clone(), f));
                    }
                    p.extend(records::scan(snap.as_ref(), &prefix, Some(&k), 100)?);
                    p
                }
                _ => records::scan(snap.as_ref(), &prefix, cursor.as_deref(), 100)?,
            };
            first = false;
            if page.is_empty() {
                break;
            }
            for (k, f) in &page {
                cursor = Some(k.clone());
                let mut entries = vec![(f.latest.clone(), all)];
                if all {
                    let versions: Vec<(Vec<u8>, VersionConfig)> = records::scan_all(
                        snap.as_ref(),
                        &keys::versions_prefix(&account, &region, &f.name),
                        MAX_SCAN,
                    )?;
                    entries.extend(versions.into_iter().map(|(_, v)| (v, true)));
                }
                let skip = match &resume {
                    Some((n, skip)) if *n == f.name => *skip,
                    _ => 0,
                };
                for (i, (cfg, qualified)) in entries.iter().enumerate().skip(skip) {
                    if out.len() == max {
                        next = Some((f.name.clone(), i));
                        break 'outer;
                    }
                    out.push(self.config_view(
                        &account,
                        &region,
                        f,
                        cfg,
                        *qualified,
                        Shown::Settled,
                    ));
                }
            }
        }
        let next_marker = next.map(|(n, i)| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{n}/{i}"))
        });
        Ok(m::ListFunctionsResponse {
            next_marker,
            functions: Some(out),
        })
    }
}
