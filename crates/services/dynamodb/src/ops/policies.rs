//! Resource-based policies: PutResourcePolicy, GetResourcePolicy, DeleteResourcePolicy,
//! and CreateTable's `ResourcePolicy`.
//!
//! A table has one policy slot, and each of its streams another (a stream ARN names its
//! own slot; the table's Get ignores it). Both live in the table's metadata
//! (`TableMeta::policy`, `TableMeta::stream_policies`), changed in one transaction like
//! every other table change, so they go with the table: a table re-created under the same
//! name starts without a policy.
//!
//! AWS semantics kept (recorded against real DynamoDB): the document is checked and stored
//! in AWS's canonical form (minified; `Version`, `Statement`, and in each statement `Sid`,
//! `Effect`, `Principal`, `Action`, `Resource`, `Condition` in that order; one-element
//! lists as scalars; an account id principal as its root ARN; `allow` as `Allow`; a
//! missing `Version` as `2008-10-17`), which is what Get returns. The RevisionId is the
//! epoch milliseconds of the change, always increasing; putting an equivalent document
//! again is a no-op that answers the same id. `ExpectedRevisionId` (or `NO_POLICY`) makes
//! a Put or Delete conditional, with PolicyNotFoundException when it does not hold.
//! Deleting when there is no policy answers an empty body.
//!
//! Differences from AWS: policies are stored, not enforced (IAM enforcement is a later
//! issue), so `ConfirmRemoveSelfResourceAccess` has nothing to protect and is accepted
//! as given; a change is visible at once (AWS's Get lags by 1-3 s) and there is no 15 s
//! cooldown between changes; principals are not checked against existing accounts.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use nimbus_core::RequestContext;
use nimbus_model::dynamodb as m;
use nimbus_store::ReadTxn;

use crate::error::DynamoDbError;
use crate::ops::catalog::{self, TableMeta};
use crate::ops::tables::table_not_found;
use crate::ops::DynamoDb;

/// Largest policy document, in bytes; whitespace counts.
pub const MAX_POLICY_BYTES: usize = 20_480;

/// `ExpectedRevisionId` meaning "only if there is no policy yet".
const NO_POLICY: &str = "NO_POLICY";

/// The version a document without `Version` is stored with.
const DEFAULT_VERSION: &str = "2008-10-17";

/// Actions that belong to streams, not tables: a table's policy may not name them.
const STREAM_ACTIONS: [&str; 4] = [
    "dynamodb:DescribeStream",
    "dynamodb:GetRecords",
    "dynamodb:GetShardIterator",
    "dynamodb:ListStreams",
];

/// A stored policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyMeta {
    /// The document in canonical form (what GetResourcePolicy returns).
    pub document: String,
    /// Whether the document gave `Version` itself: AWS treats a document without it and
    /// the same document with `"2008-10-17"` as different, though both read back alike.
    pub version_given: bool,
    /// Epoch ms of the change that stored it.
    pub revision_ms: i64,
}

impl PolicyMeta {
    fn revision(&self) -> String {
        self.revision_ms.to_string()
    }
}

/// The policy of one of a table's streams.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamPolicy {
    pub label: String,
    pub policy: PolicyMeta,
}

fn invalid(msg: impl std::fmt::Display) -> DynamoDbError {
    DynamoDbError::Validation(format!("One or more parameter values were invalid: {msg}"))
}

fn invalid_document(msg: impl std::fmt::Display) -> DynamoDbError {
    invalid(format!("Invalid policy document: {msg}"))
}

fn policy_not_found(detail: impl std::fmt::Display) -> DynamoDbError {
    DynamoDbError::PolicyNotFound(format!(
        "Resource-based policy not found for the provided ResourceArn: {detail}"
    ))
}

fn stream_not_found(label: &str, table: &str) -> DynamoDbError {
    DynamoDbError::ResourceNotFound(format!(
        "Requested resource not found: Stream: {label} not found for Table: {table}"
    ))
}

/// What a `ResourceArn` names.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    Table(String),
    Stream { table: String, label: String },
}

impl Target {
    fn table(&self) -> &str {
        match self {
            Target::Table(t) | Target::Stream { table: t, .. } => t,
        }
    }
}

/// Parses a policy's `ResourceArn`, with AWS's error for every other form.
fn parse_arn(arn: &str, ctx: &RequestContext) -> Result<Target, DynamoDbError> {
    let Some(rest) = arn.strip_prefix("arn:") else {
        return Err(invalid(format!("ARNs must start with 'arn:': {arn}")));
    };
    let not_dynamodb = || {
        invalid(format!(
            "Provided Arn is not a DynamoDB resource arn: {arn}"
        ))
    };
    let parts: Vec<&str> = rest.splitn(5, ':').collect();
    let [partition, service, region, account, resource] = parts.as_slice() else {
        return Err(not_dynamodb());
    };
    if *service != "dynamodb" {
        return Err(not_dynamodb());
    }
    if *partition != "aws" || *region != ctx.region {
        return Err(invalid(format!("Invalid resource Arn: {arn}")));
    }
    if *account != ctx.account_id {
        return Err(DynamoDbError::validation(
            "This action is only supported by accounts that match the resource owner\u{2019}s account.",
        ));
    }
    let Some(path) = resource.strip_prefix("table/") else {
        return Err(not_dynamodb());
    };
    let mut segments = path.split('/');
    let table = segments.next().unwrap_or_default();
    match (segments.next(), segments.next(), segments.next()) {
        _ if table.is_empty() => Err(not_dynamodb()),
        (None, _, _) => Ok(Target::Table(table.to_string())),
        (Some("stream"), Some(label), None) if !label.is_empty() => Ok(Target::Stream {
            table: table.to_string(),
            label: label.to_string(),
        }),
        (Some("index"), Some(_), None) => Err(invalid(format!(
            "Invalid resource arn provided, only table or stream is accepted. Provided resource arn: {arn}"
        ))),
        _ => Err(not_dynamodb()),
    }
}

// ---------------------------------------------------------------------------------------
// The document

/// A checked document: its canonical text and whether it gave `Version`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    pub canonical: String,
    pub version_given: bool,
}

/// One-element lists read back as the element.
fn unwrap_single(v: Value) -> Value {
    match v {
        Value::Array(mut a) if a.len() == 1 => a.pop().unwrap_or(Value::Null),
        other => other,
    }
}

/// An account id principal as its root ARN; lists deduplicated (an id and its root ARN
/// are one principal).
fn canonical_principal_list(v: Value) -> Value {
    let one = |s: String| {
        if s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit()) {
            format!("arn:aws:iam::{s}:root")
        } else {
            s
        }
    };
    let list = match v {
        Value::String(s) => return Value::String(one(s)),
        Value::Array(a) => a,
        other => return other,
    };
    let mut out: Vec<Value> = Vec::with_capacity(list.len());
    for item in list {
        let item = match item {
            Value::String(s) => Value::String(one(s)),
            other => other,
        };
        if !out.contains(&item) {
            out.push(item);
        }
    }
    unwrap_single(Value::Array(out))
}

fn canonical_principal(v: Value) -> Value {
    match v {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (k, canonical_principal_list(v)))
                .collect(),
        ),
        other => other,
    }
}

fn grants_everyone(principal: &Value) -> bool {
    match principal {
        Value::String(s) => s == "*",
        Value::Object(map) => map.get("AWS").is_some_and(|aws| match aws {
            Value::String(s) => s == "*",
            Value::Array(a) => a.iter().any(|x| x.as_str() == Some("*")),
            _ => false,
        }),
        _ => false,
    }
}

fn names(v: &Value) -> Vec<&str> {
    match v {
        Value::String(s) => vec![s.as_str()],
        Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

/// Writes `map`'s members in `order` first, then the rest (in name order).
fn write_object(out: &mut String, mut map: Map<String, Value>, order: &[&str]) {
    out.push('{');
    let mut first = true;
    let mut member = |out: &mut String, k: &str, v: &Value| {
        if !first {
            out.push(',');
        }
        first = false;
        out.push_str(&Value::String(k.to_string()).to_string());
        out.push(':');
        out.push_str(&v.to_string());
    };
    for k in order {
        if let Some(v) = map.remove(*k) {
            member(out, k, &v);
        }
    }
    for (k, v) in &map {
        member(out, k, v);
    }
    out.push('}');
}

/// Checks a policy document as AWS does and returns its canonical form. `for_stream`:
/// the document is a stream's (table actions would be refused there by AWS too, but
/// only the table side's rule is known exactly, so only that one is checked).
pub fn check_document(policy: &str, for_stream: bool) -> Result<Document, DynamoDbError> {
    if policy.len() > MAX_POLICY_BYTES {
        return Err(invalid(format!(
            "Maximum policy size of {MAX_POLICY_BYTES} bytes exceeded"
        )));
    }
    let invalid_json = || invalid_document("This policy contains invalid Json");
    let Ok(Value::Object(mut top)) = serde_json::from_str::<Value>(policy) else {
        return Err(invalid_json());
    };
    let version_given = top.contains_key("Version");
    let version = top
        .remove("Version")
        .unwrap_or_else(|| Value::String(DEFAULT_VERSION.into()));
    let statements = match top.remove("Statement") {
        Some(Value::Array(a)) => a,
        Some(Value::Object(o)) => vec![Value::Object(o)],
        Some(Value::Null) | None => Vec::new(),
        Some(_) => return Err(invalid_json()),
    };
    if statements.is_empty() {
        return Err(invalid_document(
            "Could not parse the policy: Statement is empty!",
        ));
    }
    let mut sids: Vec<String> = Vec::new();
    let mut canonical_statements = Vec::with_capacity(statements.len());
    for statement in statements {
        let Value::Object(mut st) = statement else {
            return Err(invalid_json());
        };
        if !st.contains_key("Resource") && !st.contains_key("NotResource") {
            return Err(invalid_document("Missing required field Resource"));
        }
        if let Some(sid) = st.get("Sid").and_then(Value::as_str) {
            if sids.iter().any(|s| s == sid) {
                return Err(invalid_document(
                    "The Statement Ids in the policy are not unique",
                ));
            }
            sids.push(sid.to_string());
        }
        if let Some(Value::String(effect)) = st.get_mut("Effect") {
            if effect.eq_ignore_ascii_case("allow") {
                *effect = "Allow".into();
            } else if effect.eq_ignore_ascii_case("deny") {
                *effect = "Deny".into();
            }
        }
        let allows = st.get("Effect").and_then(Value::as_str) == Some("Allow");
        if allows && st.get("Principal").is_some_and(grants_everyone) {
            return Err(DynamoDbError::validation(
                "Resource-based policy grants unbounded access in one or more elements. Please revise the policy to ensure least-privilege form of access",
            ));
        }
        if !for_stream {
            let refused: Vec<String> = st
                .get("Action")
                .map(names)
                .unwrap_or_default()
                .into_iter()
                .filter(|a| STREAM_ACTIONS.iter().any(|s| s.eq_ignore_ascii_case(a)))
                .map(|a| format!("\"{a}\""))
                .collect();
            if !refused.is_empty() {
                return Err(invalid_document(format!(
                    "The following action names are invalid: {}",
                    refused.join(", ")
                )));
            }
        }
        for key in ["Principal", "NotPrincipal"] {
            if let Some(p) = st.remove(key) {
                st.insert(key.into(), canonical_principal(p));
            }
        }
        for key in ["Action", "NotAction", "Resource", "NotResource"] {
            if let Some(v) = st.remove(key) {
                st.insert(key.into(), unwrap_single(v));
            }
        }
        if let Some(condition) = st.remove("Condition") {
            let condition = match condition {
                Value::Object(ops) => Value::Object(
                    ops.into_iter()
                        .map(|(op, keys)| match keys {
                            Value::Object(k) => (
                                op,
                                Value::Object(
                                    k.into_iter().map(|(n, v)| (n, unwrap_single(v))).collect(),
                                ),
                            ),
                            other => (op, other),
                        })
                        .collect(),
                ),
                other => other,
            };
            st.insert("Condition".into(), condition);
        }
        canonical_statements.push(st);
    }
    let mut out = String::with_capacity(policy.len());
    out.push('{');
    out.push_str("\"Version\":");
    out.push_str(&version.to_string());
    for (k, v) in &top {
        out.push(',');
        out.push_str(&Value::String(k.clone()).to_string());
        out.push(':');
        out.push_str(&v.to_string());
    }
    out.push_str(",\"Statement\":[");
    for (i, st) in canonical_statements.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_object(
            &mut out,
            st,
            &[
                "Sid",
                "Effect",
                "Principal",
                "NotPrincipal",
                "Action",
                "NotAction",
                "Resource",
                "NotResource",
                "Condition",
            ],
        );
    }
    out.push_str("]}");
    Ok(Document {
        canonical: out,
        version_given,
    })
}

/// The policy CreateTable attaches (`ResourcePolicy`), stored with the creation time as
/// its revision.
pub fn initial_policy(policy: &str, created_ms: i64) -> Result<PolicyMeta, DynamoDbError> {
    let doc = check_document(policy, false)?;
    Ok(PolicyMeta {
        document: doc.canonical,
        version_given: doc.version_given,
        revision_ms: created_ms,
    })
}

// ---------------------------------------------------------------------------------------
// Operations

/// The slot `target` names in `meta`, after checking that a named stream exists.
fn slot<'a>(
    txn: &dyn ReadTxn,
    meta: &'a mut TableMeta,
    target: &Target,
) -> Result<Slot<'a>, DynamoDbError> {
    match target {
        Target::Table(_) => Ok(Slot::Table(&mut meta.policy)),
        Target::Stream { label, .. } => {
            if !crate::ops::streams::table_has_stream(txn, meta, label)? {
                return Err(stream_not_found(label, &meta.name));
            }
            Ok(Slot::Stream {
                policies: &mut meta.stream_policies,
                label: label.clone(),
            })
        }
    }
}

enum Slot<'a> {
    Table(&'a mut Option<PolicyMeta>),
    Stream {
        policies: &'a mut Vec<StreamPolicy>,
        label: String,
    },
}

impl Slot<'_> {
    fn get(&self) -> Option<&PolicyMeta> {
        match self {
            Slot::Table(p) => p.as_ref(),
            Slot::Stream { policies, label } => policies
                .iter()
                .find(|s| s.label == *label)
                .map(|s| &s.policy),
        }
    }

    fn set(&mut self, policy: Option<PolicyMeta>) {
        match self {
            Slot::Table(p) => **p = policy,
            Slot::Stream { policies, label } => {
                policies.retain(|s| s.label != *label);
                if let Some(policy) = policy {
                    policies.push(StreamPolicy {
                        label: label.clone(),
                        policy,
                    });
                }
            }
        }
    }
}

/// AWS's answer when `expected` (an `ExpectedRevisionId`) does not hold for `current`.
fn check_expected(
    expected: Option<&str>,
    current: Option<&PolicyMeta>,
    table: &str,
) -> Result<(), DynamoDbError> {
    match (expected, current) {
        (None, _) | (Some(NO_POLICY), None) => Ok(()),
        (Some(NO_POLICY), Some(c)) => Err(policy_not_found(format!(
            "Requested policy update expecting none to be present for table {table}, but a policy exists with revision id {}.",
            c.revision()
        ))),
        (Some(x), None) => Err(policy_not_found(format!(
            "Requested update for policy with revision id {x}, but table {table} has no associated policy."
        ))),
        (Some(x), Some(c)) if x != c.revision() => Err(policy_not_found(format!(
            "Requested update for policy with revision id {x}, but the policy associated to target table {table} has revision id {}.",
            c.revision()
        ))),
        (Some(_), Some(_)) => Ok(()),
    }
}

/// What a Put or Delete decides from the slot's current policy: its answer, and the slot's
/// new content when it changes (`Some(None)` empties it).
type Decision<T> = (T, Option<Option<PolicyMeta>>);

/// Changes the slot `target` names in one transaction: loads the table, checks the stream
/// and `expected` (an `ExpectedRevisionId`), lets `decide` pick the new content, and saves
/// the table if it changed.
async fn change_slot<T, F>(
    svc: &DynamoDb,
    ctx: &RequestContext,
    target: &Target,
    expected: Option<String>,
    decide: F,
) -> Result<T, DynamoDbError>
where
    F: Fn(Option<&PolicyMeta>) -> Decision<T> + Send + 'static,
    T: Send + 'static,
{
    let (account, region) = (ctx.account_id.clone(), ctx.region.clone());
    let target_in = target.clone();
    let answer = svc
        .db()
        .write(move |txn| {
            let name = target_in.table();
            let mut meta = catalog::load_table(txn, &account, &region, name)?
                .ok_or_else(|| table_not_found(name))?;
            let mut slot = slot(txn, &mut meta, &target_in)?;
            check_expected(expected.as_deref(), slot.get(), name)?;
            let (answer, next) = decide(slot.get());
            if let Some(next) = next {
                slot.set(next);
                meta.version += 1;
                catalog::save_table(txn, &meta)?;
            }
            Ok::<_, DynamoDbError>(answer)
        })
        .await?;
    svc.invalidate_table(&ctx.account_id, &ctx.region, target.table());
    Ok(answer)
}

pub async fn put_resource_policy(
    svc: &DynamoDb,
    ctx: &RequestContext,
    input: m::PutResourcePolicyInput,
) -> Result<m::PutResourcePolicyOutput, DynamoDbError> {
    let target = parse_arn(&input.resource_arn, ctx)?;
    let doc = check_document(&input.policy, matches!(target, Target::Stream { .. }))?;
    let now_ms = svc.now_millis();
    let revision = change_slot(
        svc,
        ctx,
        &target,
        input.expected_revision_id,
        move |current| {
            if let Some(c) = current {
                if c.document == doc.canonical && c.version_given == doc.version_given {
                    return (c.revision(), None);
                }
            }
            // Revisions only grow, even within one millisecond.
            let revision_ms = current.map_or(now_ms, |c| now_ms.max(c.revision_ms + 1));
            let policy = PolicyMeta {
                document: doc.canonical.clone(),
                version_given: doc.version_given,
                revision_ms,
            };
            (policy.revision(), Some(Some(policy)))
        },
    )
    .await?;
    Ok(m::PutResourcePolicyOutput {
        revision_id: Some(revision),
    })
}

pub async fn get_resource_policy(
    svc: &DynamoDb,
    ctx: &RequestContext,
    input: m::GetResourcePolicyInput,
) -> Result<m::GetResourcePolicyOutput, DynamoDbError> {
    let arn = &input.resource_arn;
    let target = parse_arn(arn, ctx)?;
    let snap = svc.db().snapshot()?;
    let loaded = catalog::load_table(snap.as_ref(), &ctx.account_id, &ctx.region, target.table())?;
    let mut meta = match (loaded, &target) {
        (Some(meta), _) => meta,
        (None, Target::Table(name)) => return Err(table_not_found(name)),
        // A stream of a table that is gone has no policy.
        (None, Target::Stream { .. }) => return Err(policy_not_found(arn)),
    };
    let slot = slot(snap.as_ref(), &mut meta, &target)?;
    let policy = slot.get().ok_or_else(|| policy_not_found(arn))?;
    Ok(m::GetResourcePolicyOutput {
        policy: Some(policy.document.clone()),
        revision_id: Some(policy.revision()),
    })
}

pub async fn delete_resource_policy(
    svc: &DynamoDb,
    ctx: &RequestContext,
    input: m::DeleteResourcePolicyInput,
) -> Result<m::DeleteResourcePolicyOutput, DynamoDbError> {
    let target = parse_arn(&input.resource_arn, ctx)?;
    // Deleting when there is nothing to delete answers an empty body, as AWS.
    let removed = change_slot(
        svc,
        ctx,
        &target,
        input.expected_revision_id,
        |current| match current {
            Some(c) => (Some(c.revision()), Some(None)),
            None => (None, None),
        },
    )
    .await?;
    Ok(m::DeleteResourcePolicyOutput {
        revision_id: removed,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn ctx() -> RequestContext {
        crate::ops::tables::tests::ctx()
    }

    #[test]
    fn arns_are_parsed_with_aws_errors() {
        let c = ctx();
        let base = format!("arn:aws:dynamodb:{}:{}:table/t", c.region, c.account_id);
        assert_eq!(parse_arn(&base, &c).unwrap(), Target::Table("t".into()));
        assert_eq!(
            parse_arn(&format!("{base}/stream/2026-01-01T00:00:00.000"), &c).unwrap(),
            Target::Stream {
                table: "t".into(),
                label: "2026-01-01T00:00:00.000".into()
            }
        );
        let msg = |arn: &str| parse_arn(arn, &c).unwrap_err().to_string();
        assert_eq!(
            msg("t"),
            "One or more parameter values were invalid: ARNs must start with 'arn:': t"
        );
        let index = format!("{base}/index/i");
        assert_eq!(
            msg(&index),
            format!("One or more parameter values were invalid: Invalid resource arn provided, only table or stream is accepted. Provided resource arn: {index}")
        );
        let backup = format!("{base}/backup/0170");
        assert_eq!(
            msg(&backup),
            format!("One or more parameter values were invalid: Provided Arn is not a DynamoDB resource arn: {backup}")
        );
        let other_region = format!("arn:aws:dynamodb:eu-west-9:{}:table/t", c.account_id);
        assert_eq!(
            msg(&other_region),
            format!(
                "One or more parameter values were invalid: Invalid resource Arn: {other_region}"
            )
        );
        assert_eq!(
            msg(&format!("arn:aws:dynamodb:{}:111122223333:table/t", c.region)),
            "This action is only supported by accounts that match the resource owner\u{2019}s account."
        );
    }

    #[test]
    fn documents_read_back_in_canonical_form() {
        let doc = r#"{
            "Statement": {"Effect": "allow", "Resource": ["arn:aws:dynamodb:us-east-1:000000000000:table/t"],
                          "Action": ["dynamodb:GetItem"], "Sid": "Read",
                          "Principal": {"AWS": ["000000000000", "arn:aws:iam::000000000000:root"]},
                          "Condition": {"StringEquals": {"aws:username": ["bob"]}}}
        }"#;
        let d = check_document(doc, false).unwrap();
        assert!(!d.version_given);
        assert_eq!(
            d.canonical,
            r#"{"Version":"2008-10-17","Statement":[{"Sid":"Read","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:root"},"Action":"dynamodb:GetItem","Resource":"arn:aws:dynamodb:us-east-1:000000000000:table/t","Condition":{"StringEquals":{"aws:username":"bob"}}}]}"#
        );
        // Already canonical: read back byte for byte.
        let again = check_document(&d.canonical, false).unwrap();
        assert_eq!(again.canonical, d.canonical);
        assert!(again.version_given);
    }

    #[test]
    fn bad_documents_get_aws_errors() {
        let msg = |doc: &str| check_document(doc, false).unwrap_err().to_string();
        let p = "One or more parameter values were invalid: Invalid policy document: ";
        assert_eq!(
            msg("{not json"),
            format!("{p}This policy contains invalid Json")
        );
        assert_eq!(msg(""), format!("{p}This policy contains invalid Json"));
        assert_eq!(
            msg(r#"{"Version":"2012-10-17","Statement":[]}"#),
            format!("{p}Could not parse the policy: Statement is empty!")
        );
        assert_eq!(
            msg(
                r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":"000000000000"},"Action":"dynamodb:GetItem"}]}"#
            ),
            format!("{p}Missing required field Resource")
        );
        assert_eq!(
            msg(
                r#"{"Statement":[{"Sid":"a","Effect":"Deny","Principal":"*","Action":"dynamodb:GetItem","Resource":"*"},{"Sid":"a","Effect":"Deny","Principal":"*","Action":"dynamodb:PutItem","Resource":"*"}]}"#
            ),
            format!("{p}The Statement Ids in the policy are not unique")
        );
        assert_eq!(
            msg(r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"dynamodb:GetItem","Resource":"*"}]}"#),
            "Resource-based policy grants unbounded access in one or more elements. Please revise the policy to ensure least-privilege form of access"
        );
        assert_eq!(
            msg(r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":"000000000000"},"Action":["dynamodb:GetRecords","dynamodb:DescribeStream"],"Resource":"*"}]}"#),
            format!("{p}The following action names are invalid: \"dynamodb:GetRecords\", \"dynamodb:DescribeStream\"")
        );
        let big = format!(
            r#"{{"Statement":[{{"Effect":"Deny","Principal":"*","Action":"dynamodb:GetItem","Resource":"*"}}]{}}}"#,
            " ".repeat(MAX_POLICY_BYTES)
        );
        assert_eq!(
            msg(&big),
            "One or more parameter values were invalid: Maximum policy size of 20480 bytes exceeded"
        );
        // A Deny to everyone is fine.
        assert!(check_document(
            r#"{"Statement":[{"Effect":"Deny","Principal":"*","Action":"dynamodb:DeleteTable","Resource":"*"}]}"#,
            false
        )
        .is_ok());
    }
}
