//! Contributor Insights: UpdateContributorInsights, DescribeContributorInsights and
//! ListContributorInsights.
//!
//! The setting of a table and of each of its GSIs is part of its metadata
//! (`TableMeta::insights`, `IndexMeta::insights`), changed in one transaction like every
//! other table change, so it goes away with the table or the index and survives restarts.
//! nimbus has no CloudWatch: the setting, its mode, its rule names and its last change are
//! kept and reported as AWS reports them, but no contributor data is gathered.
//!
//! AWS semantics kept (recorded against real DynamoDB): an effective change answers
//! `ENABLING` or `DISABLING`; enabling what is enabled in the same mode, or disabling what
//! is not enabled, is a no-op that answers the settled status; ENABLE without a mode means
//! `ACCESSED_AND_THROTTLED_KEYS`, also when the current mode is `THROTTLED_KEYS`; a
//! never-configured entry describes as `DISABLED` with nothing else; `LastUpdateDateTime`
//! and the mode stay after disabling; rule names end in the epoch milliseconds of the
//! enable that created them, and changing the mode keeps them; ListContributorInsights
//! lists every entry that is not `DISABLED`, a table before its GSIs.
//!
//! Difference from AWS: the transition settles at once (AWS takes about 1-16 s to reach
//! `ENABLED` and 2-3 s to reach `DISABLED`), as tables here are ACTIVE at once.

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use nimbus_core::RequestContext;
use nimbus_model::dynamodb as m;
use nimbus_store::ReadTxn;

use crate::error::DynamoDbError;
use crate::ops::catalog::{self, IndexKind, KeySchema, Status, TableMeta};
use crate::ops::layout;
use crate::ops::params;
use crate::ops::tables::{table_name_from, table_not_found};
use crate::ops::DynamoDb;

/// Default and largest `MaxResults` of ListContributorInsights.
pub const LIST_MAX_RESULTS: usize = 100;

/// Most tables one account-wide ListContributorInsights page looks through (bounded; the
/// default table quota is 2,500 per region).
const MAX_TABLES_LISTED: usize = 10_000;

const MODE_ALL: &str = "ACCESSED_AND_THROTTLED_KEYS";
const MODE_THROTTLED: &str = "THROTTLED_KEYS";
const MSG_INVALID_TOKEN: &str = "Invalid NextToken";

/// The Contributor Insights setting of a table or a GSI, once it has been enabled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InsightsMeta {
    pub enabled: bool,
    /// `ACCESSED_AND_THROTTLED_KEYS` or `THROTTLED_KEYS`.
    pub mode: String,
    /// The suffix of the rule names: epoch ms of the enable that created the rules.
    pub rules_ms: i64,
    /// `LastUpdateDateTime`: the last effective change, epoch ms.
    pub updated_ms: i64,
}

fn mode_of(s: &str) -> m::ContributorInsightsMode {
    m::ContributorInsightsMode::from(s.to_string())
}

fn index_not_found(index: &str, table: &str) -> DynamoDbError {
    DynamoDbError::ResourceNotFound(format!(
        "Requested resource not found: Index: {index} not found for table: {table}"
    ))
}

fn not_active(what: &str) -> DynamoDbError {
    DynamoDbError::Validation(format!(
        "Table or Index is not in a valid state to update Key Access Insights: {what} must be ACTIVE to enable ContributorInsights."
    ))
}

/// The setting `index` (or the table itself) has, with AWS's error for an index that is
/// not one of the table's GSIs (LSIs have no setting of their own).
fn setting<'a>(
    meta: &'a TableMeta,
    index: Option<&str>,
) -> Result<&'a Option<InsightsMeta>, DynamoDbError> {
    match index {
        None => Ok(&meta.insights),
        Some(name) => meta
            .index(name)
            .filter(|i| i.kind == IndexKind::Global)
            .map(|i| &i.insights)
            .ok_or_else(|| index_not_found(name, &meta.name)),
    }
}

fn setting_mut<'a>(
    meta: &'a mut TableMeta,
    index: Option<&str>,
) -> Result<&'a mut Option<InsightsMeta>, DynamoDbError> {
    let table = meta.name.clone();
    match index {
        None => Ok(&mut meta.insights),
        Some(name) => meta
            .index_mut(name)
            .filter(|i| i.kind == IndexKind::Global)
            .map(|i| &mut i.insights)
            .ok_or_else(|| index_not_found(name, &table)),
    }
}

/// `DynamoDBContributorInsights-{PKC,PKT,SKC,SKT}-<table>[-<index>]-<ms>`: most accessed
/// and most throttled partition keys, and the same for whole keys when there is a sort
/// key; `THROTTLED_KEYS` has only the throttled ones.
fn rule_names(table: &str, index: Option<&str>, key: &KeySchema, s: &InsightsMeta) -> Vec<String> {
    let resource = match index {
        Some(i) => format!("{table}-{i}"),
        None => table.to_string(),
    };
    let mut kinds = vec!["PKC", "PKT"];
    if key.range.is_some() {
        kinds.extend(["SKC", "SKT"]);
    }
    kinds
        .into_iter()
        .filter(|k| s.mode != MODE_THROTTLED || k.ends_with('T'))
        .map(|k| format!("DynamoDBContributorInsights-{k}-{resource}-{}", s.rules_ms))
        .collect()
}

/// What an update does to `current`: the status to answer and the setting to store
/// (`None`: nothing changes).
fn plan(
    current: Option<&InsightsMeta>,
    enable: bool,
    mode: Option<&str>,
    now_ms: i64,
) -> (m::ContributorInsightsStatus, Option<InsightsMeta>) {
    use m::ContributorInsightsStatus as S;
    match (current, enable) {
        (Some(c), true) if c.enabled => {
            let mode = mode.unwrap_or(MODE_ALL);
            if c.mode == mode {
                (S::Enabled, None)
            } else {
                // A mode change re-enables the entry but keeps its rules' names.
                let next = InsightsMeta {
                    mode: mode.to_string(),
                    updated_ms: now_ms,
                    ..c.clone()
                };
                (S::Enabling, Some(next))
            }
        }
        (_, true) => {
            let next = InsightsMeta {
                enabled: true,
                mode: mode.unwrap_or(MODE_ALL).to_string(),
                rules_ms: now_ms,
                updated_ms: now_ms,
            };
            (S::Enabling, Some(next))
        }
        (Some(c), false) if c.enabled => {
            let next = InsightsMeta {
                enabled: false,
                updated_ms: now_ms,
                ..c.clone()
            };
            (S::Disabling, Some(next))
        }
        (_, false) => (S::Disabled, None),
    }
}

pub async fn update_contributor_insights(
    svc: &DynamoDb,
    ctx: &RequestContext,
    input: m::UpdateContributorInsightsInput,
) -> Result<m::UpdateContributorInsightsOutput, DynamoDbError> {
    let name = table_name_from(&input.table_name, ctx)?;
    let enable = match input.contributor_insights_action {
        m::ContributorInsightsAction::Enable => true,
        m::ContributorInsightsAction::Disable => false,
        // Refused by the input validation before this runs.
        m::ContributorInsightsAction::Unknown(v) => {
            return Err(DynamoDbError::Validation(format!(
                "Invalid ContributorInsightsAction: {v}"
            )))
        }
    };
    let mode = input
        .contributor_insights_mode
        .as_ref()
        .map(|m| m.as_str().to_string());
    let index = input.index_name.clone();
    let (account, region) = (ctx.account_id.clone(), ctx.region.clone());
    let name_in = name.clone();
    let now_ms = svc.now_millis();
    let (status, mode) = svc
        .db()
        .write(move |txn| {
            let mut meta = catalog::load_table(txn, &account, &region, &name_in)?
                .ok_or_else(|| table_not_found(&name_in))?;
            let index = index.as_deref();
            let current = setting(&meta, index)?.clone();
            if enable {
                if meta.status != Status::Active {
                    return Err(not_active("TableStatus"));
                }
                if let Some(i) = index.and_then(|i| meta.index(i)) {
                    if i.status != Status::Active || i.is_backfilling() {
                        return Err(not_active("IndexStatus"));
                    }
                }
            }
            let (status, next) = plan(current.as_ref(), enable, mode.as_deref(), now_ms);
            // The answer carries the entry's mode: the new one, or the current one for a
            // no-op or a DISABLE (whatever mode that request named).
            let mode = next.as_ref().or(current.as_ref()).map(|s| s.mode.clone());
            if let Some(next) = next {
                *setting_mut(&mut meta, index)? = Some(next);
                meta.version += 1;
                catalog::save_table(txn, &meta)?;
            }
            Ok::<_, DynamoDbError>((status, mode))
        })
        .await?;
    svc.invalidate_table(&ctx.account_id, &ctx.region, &name);
    Ok(m::UpdateContributorInsightsOutput {
        table_name: Some(name),
        index_name: input.index_name,
        contributor_insights_status: Some(status),
        contributor_insights_mode: mode.as_deref().map(mode_of),
    })
}

pub async fn describe_contributor_insights(
    svc: &DynamoDb,
    ctx: &RequestContext,
    input: m::DescribeContributorInsightsInput,
) -> Result<m::DescribeContributorInsightsOutput, DynamoDbError> {
    let name = table_name_from(&input.table_name, ctx)?;
    let snap = svc.db().snapshot()?;
    let meta = catalog::load_table(snap.as_ref(), &ctx.account_id, &ctx.region, &name)?
        .ok_or_else(|| table_not_found(&name))?;
    let index = input.index_name.as_deref();
    let current = setting(&meta, index)?;
    let mut out = m::DescribeContributorInsightsOutput {
        table_name: Some(name.clone()),
        index_name: input.index_name.clone(),
        contributor_insights_status: Some(m::ContributorInsightsStatus::Disabled),
        ..Default::default()
    };
    if let Some(s) = current {
        if s.enabled {
            let key = match index.and_then(|i| meta.index(i)) {
                Some(i) => &i.key,
                None => &meta.key,
            };
            out.contributor_insights_status = Some(m::ContributorInsightsStatus::Enabled);
            out.contributor_insights_rule_list = Some(rule_names(&name, index, key, s));
        }
        out.last_update_date_time = Some(s.updated_ms as f64 / 1000.0);
        out.contributor_insights_mode = Some(mode_of(&s.mode));
    }
    Ok(out)
}

/// Where a ListContributorInsights page starts: the table and (for a GSI) the index of its
/// first entry. Entries are ordered by table name, then the table itself before its GSIs
/// in name order, so a token still places the page after its entry has been disabled.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
struct Resume {
    table: String,
    index: Option<String>,
}

fn encode_token(r: &Resume) -> Result<String, DynamoDbError> {
    let json = serde_json::to_vec(r).map_err(|e| DynamoDbError::Internal(e.to_string()))?;
    Ok(base64::engine::general_purpose::STANDARD.encode(json))
}

fn decode_token(token: &str) -> Result<Resume, DynamoDbError> {
    base64::engine::general_purpose::STANDARD
        .decode(token)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(|| DynamoDbError::validation(MSG_INVALID_TOKEN))
}

/// The listed entries of one table, in list order: every entry that is not `DISABLED`.
fn entries(meta: &TableMeta) -> Vec<(Resume, m::ContributorInsightsSummary)> {
    let entry = |index: Option<&str>, s: &InsightsMeta| {
        let at = Resume {
            table: meta.name.clone(),
            index: index.map(str::to_string),
        };
        let summary = m::ContributorInsightsSummary {
            table_name: Some(meta.name.clone()),
            index_name: index.map(str::to_string),
            contributor_insights_status: Some(m::ContributorInsightsStatus::Enabled),
            contributor_insights_mode: Some(mode_of(&s.mode)),
        };
        (at, summary)
    };
    let mut out = Vec::new();
    if let Some(s) = meta.insights.as_ref().filter(|s| s.enabled) {
        out.push(entry(None, s));
    }
    let mut gsis: Vec<_> = meta
        .indexes
        .iter()
        .filter_map(|i| Some((i.name.as_str(), i.insights.as_ref().filter(|s| s.enabled)?)))
        .collect();
    gsis.sort_by(|a, b| a.0.cmp(b.0));
    out.extend(gsis.into_iter().map(|(name, s)| entry(Some(name), s)));
    out
}

/// Tables of the account and region in name order, from `resume`'s table on, a chunk at a
/// time, until `want` entries at or after `resume` are found. Also says whether the scan
/// stopped at [`MAX_TABLES_LISTED`] with tables left (then the page ends after the last
/// table read, as AWS's own pages may end short of MaxResults).
fn tables_from(
    snap: &dyn ReadTxn,
    ctx: &RequestContext,
    resume: Option<&Resume>,
    want: usize,
) -> Result<(Vec<TableMeta>, bool), DynamoDbError> {
    const CHUNK: usize = 100;
    let prefix = layout::table_list_prefix(&ctx.account_id, &ctx.region);
    let (lo, hi) = layout::prefix_range(&prefix);
    let mut start = match resume {
        Some(r) => std::ops::Bound::Included(layout::table_meta_key(
            &ctx.account_id,
            &ctx.region,
            &r.table,
        )),
        None => lo,
    };
    let mut out = Vec::new();
    let mut found = 0;
    loop {
        let chunk = snap.range(
            layout::bound_ref(&start),
            layout::bound_ref(&hi),
            false,
            CHUNK,
        )?;
        let Some((last, _)) = chunk.last() else { break };
        start = std::ops::Bound::Excluded(last.clone());
        for (_, value) in &chunk {
            let meta = TableMeta::from_bytes(value)?;
            found += entries(&meta)
                .iter()
                .filter(|(at, _)| resume.is_none_or(|r| at >= r))
                .count();
            out.push(meta);
        }
        if found >= want || chunk.len() < CHUNK {
            break;
        }
        if out.len() >= MAX_TABLES_LISTED {
            return Ok((out, true));
        }
    }
    Ok((out, false))
}

/// A token that resumes after every entry of `table` (index names are ASCII, so none
/// sorts after this one).
fn after_table(table: &str) -> Resume {
    Resume {
        table: table.to_string(),
        index: Some("\u{10FFFF}".to_string()),
    }
}

pub async fn list_contributor_insights(
    svc: &DynamoDb,
    ctx: &RequestContext,
    input: m::ListContributorInsightsInput,
) -> Result<m::ListContributorInsightsOutput, DynamoDbError> {
    let limit = params::page_size(input.max_results, LIST_MAX_RESULTS);
    let resume = input.next_token.as_deref().map(decode_token).transpose()?;
    let snap = svc.db().snapshot()?;
    let (tables, truncated) = match &input.table_name {
        Some(t) => {
            let name = table_name_from(t, ctx)?;
            let meta = catalog::load_table(snap.as_ref(), &ctx.account_id, &ctx.region, &name)?
                .ok_or_else(|| table_not_found(&name))?;
            (vec![meta], false)
        }
        // One entry more than the page tells whether there is a next page.
        None => tables_from(snap.as_ref(), ctx, resume.as_ref(), limit + 1)?,
    };
    let mut rest = tables
        .iter()
        .flat_map(entries)
        .filter(|(at, _)| resume.as_ref().is_none_or(|r| at >= r));
    let page: Vec<_> = rest.by_ref().take(limit).map(|(_, s)| s).collect();
    let next = match rest.next() {
        Some((at, _)) => Some(at),
        None if truncated => tables.last().map(|t| after_table(&t.name)),
        None => None,
    };
    let next = next.as_ref().map(encode_token).transpose()?;
    Ok(m::ListContributorInsightsOutput {
        contributor_insights_summaries: Some(page),
        next_token: next,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use m::ContributorInsightsStatus as S;

    fn enabled(mode: &str) -> InsightsMeta {
        InsightsMeta {
            enabled: true,
            mode: mode.into(),
            rules_ms: 100,
            updated_ms: 100,
        }
    }

    #[test]
    fn updates_follow_aws_transitions() {
        // Never configured.
        assert_eq!(plan(None, false, None, 5), (S::Disabled, None));
        let (s, next) = plan(None, true, None, 5);
        assert_eq!(s, S::Enabling);
        assert_eq!(
            next,
            Some(InsightsMeta {
                enabled: true,
                mode: MODE_ALL.into(),
                rules_ms: 5,
                updated_ms: 5
            })
        );
        // Same mode again: a no-op; a new mode keeps the rules' suffix.
        let on = enabled(MODE_ALL);
        assert_eq!(plan(Some(&on), true, Some(MODE_ALL), 7), (S::Enabled, None));
        let (s, next) = plan(Some(&on), true, Some(MODE_THROTTLED), 7);
        assert_eq!(
            (s, next.as_ref().map(|n| (n.rules_ms, n.updated_ms))),
            (S::Enabling, Some((100, 7)))
        );
        // An omitted mode switches a throttled-only entry back to both kinds.
        let throttled = enabled(MODE_THROTTLED);
        assert_eq!(
            plan(Some(&throttled), true, None, 9).1.unwrap().mode,
            MODE_ALL
        );
        // Disabling keeps the mode; disabling again is a no-op; re-enabling renames.
        let (s, off) = plan(Some(&throttled), false, Some(MODE_ALL), 11);
        let off = off.unwrap();
        assert_eq!(
            (s, off.enabled, off.mode.as_str()),
            (S::Disabling, false, MODE_THROTTLED)
        );
        assert_eq!(plan(Some(&off), false, None, 12), (S::Disabled, None));
        assert_eq!(plan(Some(&off), true, None, 13).1.unwrap().rules_ms, 13);
    }

    #[test]
    fn a_token_after_a_table_resumes_at_the_next_table() {
        let at = |t: &str, i: Option<&str>| Resume {
            table: t.into(),
            index: i.map(str::to_string),
        };
        let after = after_table("t");
        assert!(after > at("t", None));
        assert!(after > at("t", Some("zz.index-name_99")));
        assert!(after < at("t0", None));
        assert!(after < at("u", None));
        assert_eq!(decode_token(&encode_token(&after).unwrap()).unwrap(), after);
        assert!(decode_token("not a token").is_err());
    }

    #[test]
    fn rule_names_follow_the_key_schema_and_mode() {
        use crate::keycodec::KeyType;
        use crate::ops::catalog::KeyAttr;
        let attr = |n: &str| KeyAttr {
            name: n.into(),
            ty: KeyType::S,
        };
        let hash_only = KeySchema {
            hash: attr("pk"),
            range: None,
        };
        let both = KeySchema {
            hash: attr("pk"),
            range: Some(attr("sk")),
        };
        assert_eq!(
            rule_names("t", None, &hash_only, &enabled(MODE_ALL)),
            [
                "DynamoDBContributorInsights-PKC-t-100",
                "DynamoDBContributorInsights-PKT-t-100"
            ]
        );
        assert_eq!(
            rule_names("t", Some("g"), &both, &enabled(MODE_THROTTLED)),
            [
                "DynamoDBContributorInsights-PKT-t-g-100",
                "DynamoDBContributorInsights-SKT-t-g-100"
            ]
        );
    }
}
