//! Versions listing, PublishVersion, aliases, reserved concurrency, tags, account settings.

use std::collections::BTreeMap;

use nimbus_core::RequestContext;
use nimbus_model::lambda as m;
use nimbus_store::ReadTxn;
use nimbus_wire::AwsError;

use crate::error::{self, Result};
use crate::functions::{new_revision, Shown};
use crate::invoke::function_ref;
use crate::keys;
use crate::records::{self, AliasRecord, FunctionRecord, VersionConfig};
use crate::service::{Lambda, MAX_SCAN};
use crate::validate;

fn alias_view(
    region: &str,
    account: &str,
    function: &str,
    a: &AliasRecord,
) -> m::AliasConfiguration {
    m::AliasConfiguration {
        alias_arn: Some(format!(
            "{}:{}",
            validate::function_arn(region, account, function),
            a.name
        )),
        name: Some(a.name.clone()),
        function_version: Some(a.function_version.clone()),
        description: Some(a.description.clone()),
        routing_config: if a.routing.is_empty() {
            None
        } else {
            Some(m::AliasRoutingConfiguration {
                additional_version_weights: Some(
                    a.routing.iter().map(|(k, v)| (k.clone(), *v)).collect(),
                ),
            })
        },
        revision_id: Some(a.revision_id.clone()),
    }
}

/// Pages of a sorted list by an opaque marker (the last item's key, as a string).
fn page<T: Clone>(
    items: &[(String, T)],
    marker: Option<&str>,
    max: Option<i32>,
) -> (Vec<T>, Option<String>) {
    let max = max.unwrap_or(50).clamp(1, 10_000) as usize;
    let start = match marker {
        Some(mk) => items
            .iter()
            .position(|(k, _)| k.as_str() > mk)
            .unwrap_or(items.len()),
        None => 0,
    };
    let rest = items.get(start..).unwrap_or_default();
    let out: Vec<T> = rest.iter().take(max).map(|(_, v)| v.clone()).collect();
    let next = if rest.len() > max {
        rest.get(max - 1).map(|(k, _)| k.clone())
    } else {
        None
    };
    (out, next)
}

pub(crate) fn paginate<T: Clone>(
    items: &[(String, T)],
    marker: Option<&str>,
    max: Option<i32>,
) -> (Vec<T>, Option<String>) {
    page(items, marker, max)
}

impl Lambda {
    fn version_exists(
        snap: &(impl ReadTxn + ?Sized),
        account: &str,
        region: &str,
        function: &str,
        version: &str,
    ) -> std::result::Result<bool, nimbus_store::StoreError> {
        if version == "$LATEST" {
            return Ok(true);
        }
        match version.parse::<u64>() {
            Ok(n) => Ok(snap
                .get(&keys::version(account, region, function, n))?
                .is_some()),
            Err(_) => Ok(false),
        }
    }

    pub(crate) async fn publish_version_op(
        &self,
        ctx: &RequestContext,
        input: m::PublishVersionRequest,
    ) -> Result<m::FunctionConfiguration> {
        let r = function_ref(&input.function_name, None)?;
        let (account, region) = Self::scope(ctx, &r);
        let now = self.now_ms();
        let (acct, reg, fname) = (account.clone(), region.clone(), r.name.clone());
        let res = self
            .inner
            .db
            .write(move |txn| {
                let fkey = keys::function(&acct, &reg, &fname);
                let Some(mut func) = records::get::<FunctionRecord>(txn, &fkey)? else {
                    return Ok(Err(error::function_not_found(&validate::function_arn(
                        &reg, &acct, &fname,
                    ))));
                };
                if input
                    .revision_id
                    .as_ref()
                    .is_some_and(|r| *r != func.latest.revision_id)
                {
                    return Ok(Err(error::revision_mismatch()));
                }
                if let Some(sha) = &input.code_sha256 {
                    let current = func.latest.code.sha256_b64();
                    if *sha != current {
                        return Ok(Err(error::invalid_parameter(format!(
                            "CodeSHA256 ({sha}) is different from current CodeSHA256 in $LATEST ({current}). Please try again"
                        ))));
                    }
                }
                // Nothing changed since the last publish: that version is the answer.
                if func.last_version > 0
                    && func.published_revision.as_deref() == Some(func.latest.revision_id.as_str())
                {
                    let v: Option<VersionConfig> = records::get(
                        txn,
                        &keys::version(&acct, &reg, &fname, func.last_version),
                    )?;
                    if let Some(v) = v {
                        return Ok(Ok((func, v)));
                    }
                }
                let v = Self::publish_in_txn(txn, &acct, &reg, &mut func, input.description.clone(), now)?;
                records::put(txn, &fkey, &func)?;
                Ok::<_, nimbus_store::StoreError>(Ok((func, v)))
            })
            .await?;
        let (func, v) = res?;
        Ok(self.config_view(&account, &region, &func, &v, true, Shown::Settled))
    }

    pub(crate) fn list_versions_op(
        &self,
        ctx: &RequestContext,
        input: m::ListVersionsByFunctionRequest,
    ) -> Result<m::ListVersionsByFunctionResponse> {
        let r = function_ref(&input.function_name, None)?;
        let (account, region) = Self::scope(ctx, &r);
        let snap = self.snapshot()?;
        let func = Self::load_function(snap.as_ref(), &account, &region, &r.name)?;
        let mut items: Vec<(String, m::FunctionConfiguration)> = vec![(
            "0000000000".to_string(),
            self.config_view(&account, &region, &func, &func.latest, true, Shown::Settled),
        )];
        let versions: Vec<(Vec<u8>, VersionConfig)> = records::scan_all(
            snap.as_ref(),
            &keys::versions_prefix(&account, &region, &r.name),
            MAX_SCAN,
        )?;
        for (_, v) in versions {
            let key = format!("{:010}", v.version.parse::<u64>().unwrap_or(0));
            items.push((
                key,
                self.config_view(&account, &region, &func, &v, true, Shown::Settled),
            ));
        }
        let (versions, next_marker) = page(&items, input.marker.as_deref(), input.max_items);
        Ok(m::ListVersionsByFunctionResponse {
            next_marker,
            versions: Some(versions),
        })
    }

    fn check_routing(
        snap: &(impl ReadTxn + ?Sized),
        account: &str,
        region: &str,
        function: &str,
        primary: &str,
        routing: &BTreeMap<String, f64>,
    ) -> std::result::Result<std::result::Result<(), AwsError>, nimbus_store::StoreError> {
        if routing.is_empty() {
            return Ok(Ok(()));
        }
        if routing.len() > 1 {
            return Ok(Err(error::invalid_parameter(
                "Number of items in AdditionalVersionWeights cannot be greater than 1",
            )));
        }
        if primary == "$LATEST" || routing.contains_key("$LATEST") {
            return Ok(Err(error::invalid_parameter(
                "$LATEST is not supported for an alias pointing to more than 1 version",
            )));
        }
        for (v, w) in routing {
            if v == primary {
                return Ok(Err(error::invalid_parameter(
                    "Primary version and additional version must be different",
                )));
            }
            if !(0.0..=1.0).contains(w) {
                return Ok(Err(error::invalid_parameter(
                    "Weight must be between 0 and 1",
                )));
            }
            if !Self::version_exists(snap, account, region, function, v)? {
                return Ok(Err(error::function_not_found(&format!(
                    "{}:{v}",
                    validate::function_arn(region, account, function)
                ))));
            }
        }
        Ok(Ok(()))
    }

    pub(crate) async fn create_alias_op(
        &self,
        ctx: &RequestContext,
        input: m::CreateAliasRequest,
    ) -> Result<m::AliasConfiguration> {
        let r = function_ref(&input.function_name, None)?;
        let (account, region) = Self::scope(ctx, &r);
        let routing: BTreeMap<String, f64> = input
            .routing_config
            .and_then(|c| c.additional_version_weights)
            .map(|w| w.into_iter().collect())
            .unwrap_or_default();
        let (acct, reg, fname) = (account.clone(), region.clone(), r.name.clone());
        let res = self
            .inner
            .db
            .write(move |txn| {
                let arn = validate::function_arn(&reg, &acct, &fname);
                if records::get::<FunctionRecord>(txn, &keys::function(&acct, &reg, &fname))?
                    .is_none()
                {
                    return Ok(Err(error::function_not_found(&arn)));
                }
                if !Self::version_exists(txn, &acct, &reg, &fname, &input.function_version)? {
                    return Ok(Err(error::function_not_found(&format!(
                        "{arn}:{}",
                        input.function_version
                    ))));
                }
                if let Err(e) = Self::check_routing(
                    txn,
                    &acct,
                    &reg,
                    &fname,
                    &input.function_version,
                    &routing,
                )? {
                    return Ok(Err(e));
                }
                let akey = keys::alias(&acct, &reg, &fname, &input.name);
                if txn.get(&akey)?.is_some() {
                    return Ok(Err(error::resource_conflict(format!(
                        "Alias already exists: {arn}:{}",
                        input.name
                    ))));
                }
                let rec = AliasRecord {
                    name: input.name.clone(),
                    function_version: input.function_version.clone(),
                    description: input.description.clone().unwrap_or_default(),
                    routing: routing.clone(),
                    revision_id: new_revision(),
                };
                records::put(txn, &akey, &rec)?;
                Ok::<_, nimbus_store::StoreError>(Ok(rec))
            })
            .await?;
        let rec = res?;
        Ok(alias_view(&region, &account, &r.name, &rec))
    }

    fn alias_missing(region: &str, account: &str, function: &str, alias: &str) -> AwsError {
        error::resource_not_found(format!(
            "Cannot find alias arn: {}:{alias}",
            validate::function_arn(region, account, function)
        ))
    }

    pub(crate) fn get_alias_op(
        &self,
        ctx: &RequestContext,
        input: m::GetAliasRequest,
    ) -> Result<m::AliasConfiguration> {
        let r = function_ref(&input.function_name, None)?;
        let (account, region) = Self::scope(ctx, &r);
        let snap = self.snapshot()?;
        Self::load_function(snap.as_ref(), &account, &region, &r.name)?;
        let rec: AliasRecord = records::get(
            snap.as_ref(),
            &keys::alias(&account, &region, &r.name, &input.name),
        )?
        .ok_or_else(|| Self::alias_missing(&region, &account, &r.name, &input.name))?;
        Ok(alias_view(&region, &account, &r.name, &rec))
    }

    pub(crate) async fn update_alias_op(
        &self,
        ctx: &RequestContext,
        input: m::UpdateAliasRequest,
    ) -> Result<m::AliasConfiguration> {
        let r = function_ref(&input.function_name, None)?;
        let (account, region) = Self::scope(ctx, &r);
        let (acct, reg, fname) = (account.clone(), region.clone(), r.name.clone());
        let res = self
            .inner
            .db
            .write(move |txn| {
                let arn = validate::function_arn(&reg, &acct, &fname);
                if records::get::<FunctionRecord>(txn, &keys::function(&acct, &reg, &fname))?
                    .is_none()
                {
                    return Ok(Err(error::function_not_found(&arn)));
                }
                let akey = keys::alias(&acct, &reg, &fname, &input.name);
                let Some(mut rec) = records::get::<AliasRecord>(txn, &akey)? else {
                    return Ok(Err(Self::alias_missing(&reg, &acct, &fname, &input.name)));
                };
                if input
                    .revision_id
                    .as_ref()
                    .is_some_and(|r| *r != rec.revision_id)
                {
                    return Ok(Err(error::revision_mismatch()));
                }
                if let Some(v) = &input.function_version {
                    if !Self::version_exists(txn, &acct, &reg, &fname, v)? {
                        return Ok(Err(error::function_not_found(&format!("{arn}:{v}"))));
                    }
                    rec.function_version = v.clone();
                }
                if let Some(d) = &input.description {
                    rec.description = d.clone();
                }
                if let Some(rc) = &input.routing_config {
                    rec.routing = rc
                        .additional_version_weights
                        .clone()
                        .map(|w| w.into_iter().collect())
                        .unwrap_or_default();
                }
                if let Err(e) = Self::check_routing(
                    txn,
                    &acct,
                    &reg,
                    &fname,
                    &rec.function_version,
                    &rec.routing,
                )? {
                    return Ok(Err(e));
                }
                rec.revision_id = new_revision();
                records::put(txn, &akey, &rec)?;
                Ok::<_, nimbus_store::StoreError>(Ok(rec))
            })
            .await?;
        let rec = res?;
        Ok(alias_view(&region, &account, &r.name, &rec))
    }

    pub(crate) async fn delete_alias_op(
        &self,
        ctx: &RequestContext,
        input: m::DeleteAliasRequest,
    ) -> Result<()> {
        let r = function_ref(&input.function_name, None)?;
        let (account, region) = Self::scope(ctx, &r);
        let (acct, reg, fname) = (account.clone(), region.clone(), r.name.clone());
        let res = self
            .inner
            .db
            .write(move |txn| {
                if records::get::<FunctionRecord>(txn, &keys::function(&acct, &reg, &fname))?
                    .is_none()
                {
                    return Ok(Err(error::function_not_found(&validate::function_arn(
                        &reg, &acct, &fname,
                    ))));
                }
                txn.delete(&keys::alias(&acct, &reg, &fname, &input.name))?;
                let ukey = keys::url_config(&acct, &reg, &fname, Some(&input.name));
                if let Some(u) = records::get::<records::UrlConfigRecord>(txn, &ukey)? {
                    txn.delete(&keys::url_index(&u.url_id))?;
                    txn.delete(&ukey)?;
                }
                txn.delete(&keys::event_config(&acct, &reg, &fname, &input.name))?;
                txn.delete(&keys::policy(&acct, &reg, &fname, Some(&input.name)))?;
                Ok::<_, nimbus_store::StoreError>(Ok(()))
            })
            .await?;
        res?;
        Ok(())
    }

    pub(crate) fn list_aliases_op(
        &self,
        ctx: &RequestContext,
        input: m::ListAliasesRequest,
    ) -> Result<m::ListAliasesResponse> {
        let r = function_ref(&input.function_name, None)?;
        let (account, region) = Self::scope(ctx, &r);
        let snap = self.snapshot()?;
        Self::load_function(snap.as_ref(), &account, &region, &r.name)?;
        let all: Vec<(Vec<u8>, AliasRecord)> = records::scan_all(
            snap.as_ref(),
            &keys::aliases_prefix(&account, &region, &r.name),
            MAX_SCAN,
        )?;
        let items: Vec<(String, m::AliasConfiguration)> = all
            .into_iter()
            .filter(|(_, a)| {
                input
                    .function_version
                    .as_ref()
                    .is_none_or(|v| a.function_version == *v)
            })
            .map(|(_, a)| (a.name.clone(), alias_view(&region, &account, &r.name, &a)))
            .collect();
        let (aliases, next_marker) = page(&items, input.marker.as_deref(), input.max_items);
        Ok(m::ListAliasesResponse {
            next_marker,
            aliases: Some(aliases),
        })
    }

    // ------------------------------------------------------------------ concurrency

    pub(crate) async fn put_concurrency_op(
        &self,
        ctx: &RequestContext,
        input: m::PutFunctionConcurrencyRequest,
    ) -> Result<m::Concurrency> {
        let r = function_ref(&input.function_name, None)?;
        let (account, region) = Self::scope(ctx, &r);
        let wanted = input.reserved_concurrent_executions;
        if wanted < 0 {
            return Err(error::value_constraint(
                wanted,
                "reservedConcurrentExecutions",
                "Member must have value greater than or equal to 0",
            )
            .into());
        }
        let wanted = wanted as u32;
        let (acct, reg, fname) = (account.clone(), region.clone(), r.name.clone());
        let res = self
            .inner
            .db
            .write(move |txn| {
                let fkey = keys::function(&acct, &reg, &fname);
                let Some(mut func) = records::get::<FunctionRecord>(txn, &fkey)? else {
                    return Ok(Err(error::function_not_found(&validate::function_arn(
                        &reg, &acct, &fname,
                    ))));
                };
                let others: Vec<(Vec<u8>, FunctionRecord)> =
                    records::scan_all(txn, &keys::functions_prefix(&acct, &reg), MAX_SCAN)?;
                let reserved_elsewhere: u32 = others
                    .iter()
                    .filter(|(_, f)| f.name != fname)
                    .filter_map(|(_, f)| f.reserved_concurrency)
                    .sum();
                if reserved_elsewhere + wanted
                    > validate::ACCOUNT_CONCURRENCY - validate::MIN_UNRESERVED_CONCURRENCY
                {
                    return Ok(Err(error::invalid_parameter(format!(
                        "Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [{}].",
                        validate::MIN_UNRESERVED_CONCURRENCY
                    ))));
                }
                func.reserved_concurrency = Some(wanted);
                records::put(txn, &fkey, &func)?;
                Ok::<_, nimbus_store::StoreError>(Ok(()))
            })
            .await?;
        res?;
        Ok(m::Concurrency {
            reserved_concurrent_executions: Some(wanted as i32),
        })
    }

    pub(crate) fn get_concurrency_op(
        &self,
        ctx: &RequestContext,
        input: m::GetFunctionConcurrencyRequest,
    ) -> Result<m::GetFunctionConcurrencyResponse> {
        let r = function_ref(&input.function_name, None)?;
        let (account, region) = Self::scope(ctx, &r);
        let snap = self.snapshot()?;
        let func = Self::load_function(snap.as_ref(), &account, &region, &r.name)?;
        Ok(m::GetFunctionConcurrencyResponse {
            reserved_concurrent_executions: func.reserved_concurrency.map(|c| c as i32),
        })
    }

    pub(crate) async fn delete_concurrency_op(
        &self,
        ctx: &RequestContext,
        input: m::DeleteFunctionConcurrencyRequest,
    ) -> Result<()> {
        let r = function_ref(&input.function_name, None)?;
        let (account, region) = Self::scope(ctx, &r);
        let (acct, reg, fname) = (account, region, r.name);
        let res = self
            .inner
            .db
            .write(move |txn| {
                let fkey = keys::function(&acct, &reg, &fname);
                let Some(mut func) = records::get::<FunctionRecord>(txn, &fkey)? else {
                    return Ok(Err(error::function_not_found(&validate::function_arn(
                        &reg, &acct, &fname,
                    ))));
                };
                func.reserved_concurrency = None;
                records::put(txn, &fkey, &func)?;
                Ok::<_, nimbus_store::StoreError>(Ok(()))
            })
            .await?;
        res?;
        Ok(())
    }

    // ------------------------------------------------------------------ tags

    /// The function a taggable ARN names.
    fn tag_target(&self, resource: &str) -> Result<(String, String, String)> {
        match validate::parse_function_ref(resource) {
            Some(r) if r.qualifier.is_none() && r.account_id.is_some() && r.region.is_some() => {
                Ok((
                    r.account_id.unwrap_or_default(),
                    r.region.unwrap_or_default(),
                    r.name,
                ))
            }
            _ => Err(error::invalid_parameter(format!("Invalid resource ARN: {resource}")).into()),
        }
    }

    pub(crate) async fn tag_resource_op(&self, input: m::TagResourceRequest) -> Result<()> {
        let (acct, reg, fname) = self.tag_target(&input.resource)?;
        let res = self
            .inner
            .db
            .write(move |txn| {
                let fkey = keys::function(&acct, &reg, &fname);
                let Some(mut func) = records::get::<FunctionRecord>(txn, &fkey)? else {
                    return Ok(Err(error::function_not_found(&validate::function_arn(
                        &reg, &acct, &fname,
                    ))));
                };
                for (k, v) in &input.tags {
                    func.tags.insert(k.clone(), v.clone());
                }
                if func.tags.len() > validate::MAX_TAGS {
                    return Ok(Err(error::invalid_parameter(
                        "Number of tags exceeds resource tag limit.",
                    )));
                }
                records::put(txn, &fkey, &func)?;
                Ok::<_, nimbus_store::StoreError>(Ok(()))
            })
            .await?;
        res?;
        Ok(())
    }

    pub(crate) async fn untag_resource_op(&self, input: m::UntagResourceRequest) -> Result<()> {
        let (acct, reg, fname) = self.tag_target(&input.resource)?;
        let res = self
            .inner
            .db
            .write(move |txn| {
                let fkey = keys::function(&acct, &reg, &fname);
                let Some(mut func) = records::get::<FunctionRecord>(txn, &fkey)? else {
                    return Ok(Err(error::function_not_found(&validate::function_arn(
                        &reg, &acct, &fname,
                    ))));
                };
                for k in &input.tag_keys {
                    func.tags.remove(k);
                }
                records::put(txn, &fkey, &func)?;
                Ok::<_, nimbus_store::StoreError>(Ok(()))
            })
            .await?;
        res?;
        Ok(())
    }

    pub(crate) fn list_tags_op(&self, input: m::ListTagsRequest) -> Result<m::ListTagsResponse> {
        let (acct, reg, fname) = self.tag_target(&input.resource)?;
        let snap = self.snapshot()?;
        let func = Self::load_function(snap.as_ref(), &acct, &reg, &fname)?;
        Ok(m::ListTagsResponse {
            tags: Some(func.tags.into_iter().collect()),
        })
    }

    pub(crate) fn account_settings_op(
        &self,
        ctx: &RequestContext,
    ) -> Result<m::GetAccountSettingsResponse> {
        let (total, count) = self.account_usage(&ctx.account_id, &ctx.region)?;
        let snap = self.snapshot()?;
        let funcs: Vec<(Vec<u8>, FunctionRecord)> = records::scan_all(
            snap.as_ref(),
            &keys::functions_prefix(&ctx.account_id, &ctx.region),
            MAX_SCAN,
        )?;
        let reserved: u32 = funcs
            .iter()
            .filter_map(|(_, f)| f.reserved_concurrency)
            .sum();
        Ok(m::GetAccountSettingsResponse {
            account_limit: Some(m::AccountLimit {
                total_code_size: Some(80_530_636_800),
                code_size_unzipped: Some(crate::code::MAX_UNZIPPED_BYTES as i64),
                code_size_zipped: Some(crate::code::MAX_ZIPPED_BYTES as i64),
                concurrent_executions: Some(validate::ACCOUNT_CONCURRENCY as i32),
                unreserved_concurrent_executions: Some(
                    validate::ACCOUNT_CONCURRENCY.saturating_sub(reserved) as i32,
                ),
            }),
            account_usage: Some(m::AccountUsage {
                total_code_size: Some(total),
                function_count: Some(count),
            }),
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn pages_by_marker() {
        let items: Vec<(String, i32)> = (0..5).map(|i| (format!("k{i}"), i)).collect();
        let (p1, m1) = page(&items, None, Some(2));
        assert_eq!(p1, vec![0, 1]);
        let (p2, m2) = page(&items, m1.as_deref(), Some(2));
        assert_eq!(p2, vec![2, 3]);
        let (p3, m3) = page(&items, m2.as_deref(), Some(2));
        assert_eq!(p3, vec![4]);
        assert!(m3.is_none());
    }
}
