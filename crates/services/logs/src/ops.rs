//! Log groups and streams: create, delete, describe; retention policies; tags.

use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;

use nimbus_core::RequestContext;
use nimbus_model::logs::*;
use nimbus_store::ReadTxn;

use crate::error::{LogsError, GROUP_EXISTS, STREAM_EXISTS};
use crate::keys;
use crate::records::{self, GroupMeta, StreamMeta};
use crate::Logs;

/// Retention values AWS accepts, in AWS's order (PutRetentionPolicy's error lists them).
pub const RETENTION_DAYS: [i32; 22] = [
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
];

/// DescribeLogGroups / DescribeLogStreams page size when `limit` is absent.
const DEFAULT_DESCRIBE_LIMIT: usize = 50;
/// Most records one describe call examines (pattern filters can skip many).
const DESCRIBE_SCAN_BUDGET: usize = 10_000;
/// Range read chunk.
const CHUNK: usize = 1_000;
/// AWS's limit of tags on one log group.
const MAX_TAGS: usize = 50;

pub fn group_arn(region: &str, account: &str, name: &str) -> String {
    format!("arn:aws:logs:{region}:{account}:log-group:{name}")
}

pub fn stream_arn(region: &str, account: &str, group: &str, stream: &str) -> String {
    format!("arn:aws:logs:{region}:{account}:log-group:{group}:log-stream:{stream}")
}

/// `logGroupName` or `logGroupIdentifier` (a name or an ARN, with or without `:*`).
pub fn resolve_group_name(
    ctx: &RequestContext,
    name: Option<String>,
    identifier: Option<String>,
) -> Result<String, LogsError> {
    match (name, identifier) {
        (Some(_), Some(_)) => Err(LogsError::invalid(
            "LogGroup name and LogGroup ARN are mutually exclusive parameters.",
        )),
        (Some(n), None) => Ok(n),
        (None, Some(id)) => group_name_from_identifier(ctx, &id),
        (None, None) => Err(LogsError::invalid(
            "Should provide either name or ARN of the log group.",
        )),
    }
}

/// A log group name from a name or a log-group ARN of this account and region.
pub fn group_name_from_identifier(ctx: &RequestContext, id: &str) -> Result<String, LogsError> {
    if !id.starts_with("arn:") {
        return Ok(id.to_string());
    }
    let parts: Vec<&str> = id.splitn(7, ':').collect();
    match parts.as_slice() {
        ["arn", _partition, "logs", region, account, "log-group", rest] => {
            if *region != ctx.region || *account != ctx.account_id {
                return Err(LogsError::group_not_found());
            }
            let name = rest.strip_suffix(":*").unwrap_or(rest);
            if name.is_empty() || name.contains(':') {
                return Err(LogsError::invalid(format!("Invalid ARN: {id}")));
            }
            Ok(name.to_string())
        }
        _ => Err(LogsError::invalid(format!("Invalid ARN: {id}"))),
    }
}

pub fn load_group(
    snap: &dyn ReadTxn,
    ctx: &RequestContext,
    name: &str,
) -> Result<GroupMeta, LogsError> {
    records::get_group(snap, &ctx.account_id, &ctx.region, name)?
        .ok_or_else(LogsError::group_not_found)
}

fn render_group(ctx: &RequestContext, g: &GroupMeta) -> LogGroup {
    let arn = group_arn(&ctx.region, &ctx.account_id, &g.name);
    LogGroup {
        log_group_name: Some(g.name.clone()),
        creation_time: Some(g.creation_time),
        retention_in_days: g.retention_days,
        metric_filter_count: Some(0),
        arn: Some(format!("{arn}:*")),
        stored_bytes: Some(g.stored_bytes.max(0)),
        kms_key_id: g.kms_key_id.clone(),
        log_group_class: Some(LogGroupClass::from(g.class.as_str())),
        log_group_arn: Some(arn),
        deletion_protection_enabled: g.deletion_protection.then_some(true),
        ..LogGroup::default()
    }
}

fn render_stream(ctx: &RequestContext, group: &str, s: &StreamMeta) -> LogStream {
    LogStream {
        log_stream_name: Some(s.name.clone()),
        creation_time: Some(s.creation_time),
        first_event_timestamp: s.first_event_ts,
        last_event_timestamp: s.last_event_ts,
        last_ingestion_time: s.last_ingestion_time,
        upload_sequence_token: (s.upload_seq > 0).then(|| format!("{:056}", s.upload_seq)),
        arn: Some(stream_arn(&ctx.region, &ctx.account_id, group, &s.name)),
        // AWS stopped reporting per-stream bytes in 2019: always 0.
        stored_bytes: Some(0),
    }
}

fn check_tags(tags: &BTreeMap<String, String>) -> Result<(), LogsError> {
    if tags.len() > MAX_TAGS {
        return Err(LogsError::invalid(format!(
            "1 validation error detected: Value at 'tags' failed to satisfy constraint: Member must have length less than or equal to {MAX_TAGS}"
        )));
    }
    if tags.keys().any(|k| k.starts_with("aws:")) {
        return Err(LogsError::invalid("Tag keys cannot start with 'aws:'"));
    }
    Ok(())
}

pub fn new_group(id: u64, name: &str, now: i64) -> GroupMeta {
    GroupMeta {
        id,
        name: name.to_string(),
        creation_time: now,
        retention_days: None,
        kms_key_id: None,
        tags: BTreeMap::new(),
        class: "STANDARD".into(),
        stored_bytes: 0,
        deletion_protection: false,
    }
}

pub fn new_stream(id: u64, name: &str, now: i64) -> StreamMeta {
    StreamMeta {
        id,
        name: name.to_string(),
        creation_time: now,
        first_event_ts: None,
        last_event_ts: None,
        last_ingestion_time: None,
        upload_seq: 0,
        next_seq: 1,
    }
}

pub async fn create_log_group(
    logs: &Logs,
    ctx: &RequestContext,
    input: CreateLogGroupRequest,
) -> Result<(), LogsError> {
    let tags: BTreeMap<String, String> = input.tags.unwrap_or_default().into_iter().collect();
    check_tags(&tags)?;
    let now = logs.now_millis();
    let (account, region) = (ctx.account_id.clone(), ctx.region.clone());
    let name = input.log_group_name;
    let class = input
        .log_group_class
        .map_or_else(|| "STANDARD".to_string(), |c| c.as_str().to_string());
    let kms = input.kms_key_id;
    let protection = input.deletion_protection_enabled.unwrap_or(false);
    logs.db
        .write(move |txn| {
            if records::get_group(txn, &account, &region, &name)?.is_some() {
                return Err(LogsError::ResourceAlreadyExists(GROUP_EXISTS.into()));
            }
            let id = records::next_id(txn)?;
            let mut g = new_group(id, &name, now);
            g.tags = tags.clone();
            g.class = class.clone();
            g.kms_key_id = kms.clone();
            g.deletion_protection = protection;
            records::put_group(txn, &account, &region, &g)
        })
        .await
}

pub async fn delete_log_group(
    logs: &Logs,
    ctx: &RequestContext,
    input: DeleteLogGroupRequest,
) -> Result<(), LogsError> {
    let (account, region) = (ctx.account_id.clone(), ctx.region.clone());
    let name = input.log_group_name;
    logs.db
        .write(move |txn| {
            let g = records::get_group(txn, &account, &region, &name)?
                .ok_or_else(LogsError::group_not_found)?;
            if g.deletion_protection {
                return Err(LogsError::OperationAborted(
                    "Log group deletion is not allowed while deletion protection is enabled."
                        .into(),
                ));
            }
            txn.delete(&keys::group(&account, &region, &name))?;
            // The events, streams and indexes go in bounded chunks (the sweeper); the
            // group's id is never reused, so nothing of it is visible any more.
            txn.put(&keys::gc_group(g.id), b"")?;
            Ok::<(), LogsError>(())
        })
        .await?;
    // Reclaim promptly rather than at the next sweep; a failure is retried by the sweeper.
    if let Err(e) = crate::sweep::collect_garbage(logs, crate::sweep::CHUNKS_PER_TICK).await {
        tracing::warn!(error = %e, "logs: deleting a group's events failed; the sweeper retries");
    }
    Ok(())
}

pub fn describe_log_groups(
    logs: &Logs,
    ctx: &RequestContext,
    input: DescribeLogGroupsRequest,
) -> Result<DescribeLogGroupsResponse, LogsError> {
    if input.log_group_name_prefix.is_some() && input.log_group_name_pattern.is_some() {
        return Err(LogsError::invalid(
            "LogGroup name prefix and LogGroup name pattern are mutually exclusive parameters.",
        ));
    }
    let limit = input
        .limit
        .and_then(|l| usize::try_from(l).ok())
        .unwrap_or(DEFAULT_DESCRIBE_LIMIT)
        .clamp(1, DEFAULT_DESCRIBE_LIMIT);
    let base = keys::groups_of(&ctx.account_id, &ctx.region);
    let mut start = base.clone();
    if let Some(p) = &input.log_group_name_prefix {
        keys::push_escaped_prefix(&mut start, p);
    }
    let end = keys::prefix_end(&start);
    let mut lower = start.clone();
    let mut lower_excluded = false;
    if let Some(tok) = &input.next_token {
        let suffix =
            hex::decode(tok).map_err(|_| LogsError::invalid(crate::error::BAD_NEXT_TOKEN))?;
        let mut k = base.clone();
        k.extend_from_slice(&suffix);
        if k > lower {
            lower = k;
            lower_excluded = true;
        }
    }
    let wanted_ids: Option<Vec<String>> = input.log_group_identifiers.as_ref().map(|ids| {
        ids.iter()
            .filter_map(|id| group_name_from_identifier(ctx, id).ok())
            .collect()
    });
    let class = input
        .log_group_class
        .as_ref()
        .map(|c| c.as_str().to_string());
    let snap = logs.db.snapshot()?;
    let mut out = Vec::new();
    let mut scanned = 0usize;
    let mut last_key: Option<Vec<u8>> = None;
    let mut more = false;
    'scan: loop {
        let lo = if lower_excluded {
            Bound::Excluded(lower.as_slice())
        } else {
            Bound::Included(lower.as_slice())
        };
        let rows = snap.range(lo, Bound::Excluded(end.as_slice()), false, CHUNK)?;
        let n = rows.len();
        for (k, v) in rows {
            if out.len() == limit || scanned == DESCRIBE_SCAN_BUDGET {
                more = true;
                break 'scan;
            }
            scanned += 1;
            last_key = Some(k.clone());
            let g: GroupMeta = records::decode_json(&v, "group record")?;
            if let Some(p) = &input.log_group_name_pattern {
                if !g.name.contains(p.as_str()) {
                    continue;
                }
            }
            if let Some(ids) = &wanted_ids {
                if !ids.contains(&g.name) {
                    continue;
                }
            }
            if let Some(c) = &class {
                if &g.class != c {
                    continue;
                }
            }
            let mut rendered = render_group(ctx, &g);
            if input.log_group_name_pattern.is_some() {
                // AWS: with a pattern, only arn, creationTime and logGroupName come back.
                rendered = LogGroup {
                    log_group_name: rendered.log_group_name,
                    creation_time: rendered.creation_time,
                    arn: rendered.arn,
                    ..LogGroup::default()
                };
            }
            out.push(rendered);
        }
        if n < CHUNK {
            break;
        }
        match &last_key {
            Some(k) => {
                lower = k.clone();
                lower_excluded = true;
            }
            None => break,
        }
    }
    let next_token = if more {
        last_key.and_then(|k| k.get(base.len()..).map(hex::encode))
    } else {
        None
    };
    Ok(DescribeLogGroupsResponse {
        log_groups: Some(out),
        next_token,
    })
}

pub async fn create_log_stream(
    logs: &Logs,
    ctx: &RequestContext,
    input: CreateLogStreamRequest,
) -> Result<(), LogsError> {
    let now = logs.now_millis();
    let (account, region) = (ctx.account_id.clone(), ctx.region.clone());
    let (group, name) = (input.log_group_name, input.log_stream_name);
    logs.db
        .write(move |txn| {
            let g = records::get_group(txn, &account, &region, &group)?
                .ok_or_else(LogsError::group_not_found)?;
            if records::get_stream(txn, g.id, &name)?.is_some() {
                return Err(LogsError::ResourceAlreadyExists(STREAM_EXISTS.into()));
            }
            let id = records::next_id(txn)?;
            records::put_stream(txn, g.id, None, &new_stream(id, &name, now))
        })
        .await
}

pub async fn delete_log_stream(
    logs: &Logs,
    ctx: &RequestContext,
    input: DeleteLogStreamRequest,
) -> Result<(), LogsError> {
    let (account, region) = (ctx.account_id.clone(), ctx.region.clone());
    let (group, name) = (input.log_group_name, input.log_stream_name);
    logs.db
        .write(move |txn| {
            let g = records::get_group(txn, &account, &region, &group)?
                .ok_or_else(LogsError::group_not_found)?;
            let s =
                records::get_stream(txn, g.id, &name)?.ok_or_else(LogsError::stream_not_found)?;
            txn.delete(&keys::stream(g.id, &name))?;
            txn.delete(&keys::stream_by_time(
                g.id,
                s.last_event_ts.unwrap_or(0),
                s.id,
            ))?;
            txn.put(&keys::gc_stream(s.id), &g.id.to_be_bytes())?;
            Ok::<(), LogsError>(())
        })
        .await?;
    if let Err(e) = crate::sweep::collect_garbage(logs, crate::sweep::CHUNKS_PER_TICK).await {
        tracing::warn!(error = %e, "logs: deleting a stream's events failed; the sweeper retries");
    }
    Ok(())
}

pub fn describe_log_streams(
    logs: &Logs,
    ctx: &RequestContext,
    input: DescribeLogStreamsRequest,
) -> Result<DescribeLogStreamsResponse, LogsError> {
    let group = resolve_group_name(ctx, input.log_group_name, input.log_group_identifier)?;
    let by_time = matches!(input.order_by, Some(OrderBy::LastEventTime));
    if by_time && input.log_stream_name_prefix.is_some() {
        return Err(LogsError::invalid(
            "Cannot order by LastEventTime with a logStreamNamePrefix.",
        ));
    }
    let descending = input.descending.unwrap_or(false);
    let limit = input
        .limit
        .and_then(|l| usize::try_from(l).ok())
        .unwrap_or(DEFAULT_DESCRIBE_LIMIT)
        .clamp(1, DEFAULT_DESCRIBE_LIMIT);
    let snap = logs.db.snapshot()?;
    let g = load_group(snap.as_ref(), ctx, &group)?;
    let base = if by_time {
        keys::streams_by_time_of(g.id)
    } else {
        keys::streams_of(g.id)
    };
    let mut start = base.clone();
    if let Some(p) = &input.log_stream_name_prefix {
        keys::push_escaped_prefix(&mut start, p);
    }
    let end = keys::prefix_end(&start);
    let token_key = match &input.next_token {
        Some(tok) => {
            let suffix =
                hex::decode(tok).map_err(|_| LogsError::invalid(crate::error::BAD_NEXT_TOKEN))?;
            let mut k = base.clone();
            k.extend_from_slice(&suffix);
            Some(k)
        }
        None => None,
    };
    // Streams hold no filter beyond the range, so one read of limit+1 rows decides paging.
    let (lo, hi) = match (&token_key, descending) {
        (Some(t), false) if *t >= start => (
            Bound::Excluded(t.as_slice()),
            Bound::Excluded(end.as_slice()),
        ),
        (Some(t), true) if *t < end => (
            Bound::Included(start.as_slice()),
            Bound::Excluded(t.as_slice()),
        ),
        _ => (
            Bound::Included(start.as_slice()),
            Bound::Excluded(end.as_slice()),
        ),
    };
    let rows = snap.range(lo, hi, descending, limit + 1)?;
    let more = rows.len() > limit;
    let mut out = Vec::with_capacity(limit);
    let mut last_key = None;
    for (k, v) in rows.into_iter().take(limit) {
        let meta = if by_time {
            let name = String::from_utf8_lossy(&v).into_owned();
            records::get_stream(snap.as_ref(), g.id, &name)?
        } else {
            Some(records::decode_json::<StreamMeta>(&v, "stream record")?)
        };
        if let Some(s) = meta {
            out.push(render_stream(ctx, &g.name, &s));
        }
        last_key = Some(k);
    }
    let next_token = if more {
        last_key.and_then(|k| k.get(base.len()..).map(hex::encode))
    } else {
        None
    };
    Ok(DescribeLogStreamsResponse {
        log_streams: Some(out),
        next_token,
    })
}

/// Applies `f` to the group record in one transaction.
async fn update_group<F>(
    logs: &Logs,
    ctx: &RequestContext,
    name: String,
    f: F,
) -> Result<(), LogsError>
where
    F: Fn(&mut GroupMeta) -> Result<(), LogsError> + Send + 'static,
{
    let (account, region) = (ctx.account_id.clone(), ctx.region.clone());
    logs.db
        .write(move |txn| {
            let mut g = records::get_group(txn, &account, &region, &name)?
                .ok_or_else(LogsError::group_not_found)?;
            f(&mut g)?;
            records::put_group(txn, &account, &region, &g)
        })
        .await
}

pub async fn put_retention_policy(
    logs: &Logs,
    ctx: &RequestContext,
    input: PutRetentionPolicyRequest,
) -> Result<(), LogsError> {
    let days = input.retention_in_days;
    if !RETENTION_DAYS.contains(&days) {
        let set: Vec<String> = RETENTION_DAYS.iter().map(i32::to_string).collect();
        return Err(LogsError::invalid(format!(
            "1 validation error detected: Value '{days}' at 'retentionInDays' failed to satisfy constraint: Member must satisfy enum value set: [{}]",
            set.join(", ")
        )));
    }
    update_group(logs, ctx, input.log_group_name, move |g| {
        g.retention_days = Some(days);
        Ok(())
    })
    .await
}

pub async fn delete_retention_policy(
    logs: &Logs,
    ctx: &RequestContext,
    input: DeleteRetentionPolicyRequest,
) -> Result<(), LogsError> {
    update_group(logs, ctx, input.log_group_name, |g| {
        g.retention_days = None;
        Ok(())
    })
    .await
}

/// The group an ARN of TagResource & co. names (only log groups carry tags here).
fn group_from_arn(ctx: &RequestContext, arn: &str) -> Result<String, LogsError> {
    let parts: Vec<&str> = arn.splitn(7, ':').collect();
    match parts.as_slice() {
        ["arn", _, "logs", region, account, "log-group", rest] => {
            if *region != ctx.region || *account != ctx.account_id {
                return Err(LogsError::ResourceNotFound(
                    "The specified resource does not exist.".into(),
                ));
            }
            let name = rest.strip_suffix(":*").unwrap_or(rest);
            Ok(name.to_string())
        }
        ["arn", _, "logs", ..] => Err(LogsError::ResourceNotFound(
            "The specified resource does not exist.".into(),
        )),
        _ => Err(LogsError::invalid(format!("Invalid ARN: {arn}"))),
    }
}

fn merge_tags(g: &mut GroupMeta, tags: &HashMap<String, String>) -> Result<(), LogsError> {
    let mut next = g.tags.clone();
    next.extend(tags.iter().map(|(k, v)| (k.clone(), v.clone())));
    check_tags(&next)?;
    g.tags = next;
    Ok(())
}

pub async fn tag_resource(
    logs: &Logs,
    ctx: &RequestContext,
    input: TagResourceRequest,
) -> Result<(), LogsError> {
    let name = group_from_arn(ctx, &input.resource_arn)?;
    let tags = input.tags;
    update_group(logs, ctx, name, move |g| merge_tags(g, &tags)).await
}

pub async fn untag_resource(
    logs: &Logs,
    ctx: &RequestContext,
    input: UntagResourceRequest,
) -> Result<(), LogsError> {
    let name = group_from_arn(ctx, &input.resource_arn)?;
    let keys = input.tag_keys;
    update_group(logs, ctx, name, move |g| {
        for k in &keys {
            g.tags.remove(k);
        }
        Ok(())
    })
    .await
}

pub fn list_tags_for_resource(
    logs: &Logs,
    ctx: &RequestContext,
    input: ListTagsForResourceRequest,
) -> Result<ListTagsForResourceResponse, LogsError> {
    let name = group_from_arn(ctx, &input.resource_arn)?;
    let snap = logs.db.snapshot()?;
    let g = load_group(snap.as_ref(), ctx, &name)?;
    Ok(ListTagsForResourceResponse {
        tags: Some(g.tags.into_iter().collect()),
    })
}

pub async fn tag_log_group(
    logs: &Logs,
    ctx: &RequestContext,
    input: TagLogGroupRequest,
) -> Result<(), LogsError> {
    let tags = input.tags;
    update_group(logs, ctx, input.log_group_name, move |g| {
        merge_tags(g, &tags)
    })
    .await
}

pub async fn untag_log_group(
    logs: &Logs,
    ctx: &RequestContext,
    input: UntagLogGroupRequest,
) -> Result<(), LogsError> {
    let keys = input.tags;
    update_group(logs, ctx, input.log_group_name, move |g| {
        for k in &keys {
            g.tags.remove(k);
        }
        Ok(())
    })
    .await
}

pub fn list_tags_log_group(
    logs: &Logs,
    ctx: &RequestContext,
    input: ListTagsLogGroupRequest,
) -> Result<ListTagsLogGroupResponse, LogsError> {
    let snap = logs.db.snapshot()?;
    let g = load_group(snap.as_ref(), ctx, &input.log_group_name)?;
    Ok(ListTagsLogGroupResponse {
        tags: Some(g.tags.into_iter().collect()),
    })
}
