//! TransactWriteItems and TransactGetItems.
//!
//! A write transaction is validated completely first (every action's values and
//! expressions, then tables and keys, then "one operation per item"), then runs as ONE
//! store transaction: every action reads its item and checks its condition; if any fails,
//! nothing is written and the answer is `TransactionCanceledException` with one reason per
//! action, in request order; otherwise every change is written.
//!
//! Concurrency: the store serializes write transactions (one writer applies them in
//! order), so two TransactWriteItems can never interleave and DynamoDB's
//! `TransactionConflict` cancellation reason never arises here; a transaction simply
//! sees the result of the one committed before it. Reads (TransactGetItems) use one
//! snapshot, so they see all of a transaction or none of it.
//!
//! Idempotency: with a `ClientRequestToken`, the transaction also stores the token with a
//! hash of the request and an expiry 10 minutes after completion, in the same store
//! transaction. A repeat with the same token and the same request within that window
//! succeeds without applying anything again; a different request gets
//! `IdempotentParameterMismatchException`. Cancelled transactions store nothing (they
//! changed nothing, so running them again is what the client wants). Each new token also
//! removes a few expired ones, so the records stay bounded by the request rate.

use std::collections::HashMap;
use std::sync::Arc;

use nimbus_core::RequestContext;
use nimbus_model::dynamodb::*;
use nimbus_store::WriteTxn;
use sha2::{Digest, Sha256};

use crate::error::{CancellationReason, DynamoDbError};
use crate::expr::{self, Condition, ExprKind, ExpressionContext};
use crate::keycodec::encode_bytes;
use crate::ops::capacity::{self, CapacityMode, UsageSet};
use crate::ops::catalog::TableMeta;
use crate::ops::convert::item_into_attrs;
use crate::ops::items::{key_names, Change, ItemWrite, WriteFailure, MSG_CONDITIONAL_CHECK_FAILED};
use crate::ops::params;
use crate::ops::write::{self, ChangeCtx, PrimaryKey};
use crate::ops::DynamoDb;
use crate::size::{self, item_size, ReadMode};
use crate::value::Item;

/// How long a ClientRequestToken is remembered after its transaction completed.
pub const TOKEN_TTL_MS: i64 = 10 * 60 * 1000;
/// Expired tokens removed per new token (bounds the work and the garbage).
const TOKEN_PURGE_PER_WRITE: usize = 16;
/// Largest total size of the items a transaction puts.
pub const MAX_TRANSACTION_ITEM_BYTES: usize = 4 * 1024 * 1024;

/// Token records and their expiry index; key layout in `layout`'s module doc.
use crate::ops::layout::{TOKEN_EXPIRY_PREFIX, TOKEN_PREFIX};

pub const MSG_MULTIPLE_OPERATIONS: &str =
    "Transaction request cannot include multiple operations on one item";
pub const MSG_IDEMPOTENT_MISMATCH: &str =
    "The request uses the same client token as a previous, but non-identical request.";

fn validation(msg: &str) -> DynamoDbError {
    DynamoDbError::validation(msg)
}

// ---------------------------------------------------------------------------------------
// Request hashing for idempotency

/// A canonical, unambiguous encoding of the request fed into SHA-256: every string is
/// length-prefixed, every optional member tagged, every map in key order.
struct Canon(Sha256);

impl Canon {
    fn tag(&mut self, t: u8) {
        self.0.update([t]);
    }

    fn bytes(&mut self, b: &[u8]) {
        self.0.update((b.len() as u64).to_be_bytes());
        self.0.update(b);
    }

    fn opt_str(&mut self, s: Option<&str>) {
        match s {
            None => self.tag(0),
            Some(s) => {
                self.tag(1);
                self.bytes(s.as_bytes());
            }
        }
    }

    fn strs(&mut self, v: &[String]) {
        self.0.update((v.len() as u64).to_be_bytes());
        for s in v {
            self.bytes(s.as_bytes());
        }
    }

    fn av(&mut self, v: &AttributeValue) {
        self.opt_str(v.s.as_deref());
        self.opt_str(v.n.as_deref());
        match &v.b {
            None => self.tag(0),
            Some(b) => {
                self.tag(1);
                self.bytes(b);
            }
        }
        for set in [&v.ss, &v.ns] {
            match set {
                None => self.tag(0),
                Some(s) => {
                    self.tag(1);
                    self.strs(s);
                }
            }
        }
        match &v.bs {
            None => self.tag(0),
            Some(bs) => {
                self.tag(1);
                self.0.update((bs.len() as u64).to_be_bytes());
                for b in bs {
                    self.bytes(b);
                }
            }
        }
        match &v.m {
            None => self.tag(0),
            Some(m) => {
                self.tag(1);
                self.av_map(m);
            }
        }
        match &v.l {
            None => self.tag(0),
            Some(l) => {
                self.tag(1);
                self.0.update((l.len() as u64).to_be_bytes());
                for e in l {
                    self.av(e);
                }
            }
        }
        for flag in [v.null, v.bool] {
            self.tag(match flag {
                None => 0,
                Some(false) => 1,
                Some(true) => 2,
            });
        }
    }

    fn av_map(&mut self, m: &HashMap<String, AttributeValue>) {
        let mut keys: Vec<&String> = m.keys().collect();
        keys.sort_unstable();
        self.0.update((keys.len() as u64).to_be_bytes());
        for k in keys {
            self.bytes(k.as_bytes());
            if let Some(v) = m.get(k) {
                self.av(v);
            }
        }
    }

    fn opt_av_map(&mut self, m: Option<&HashMap<String, AttributeValue>>) {
        match m {
            None => self.tag(0),
            Some(m) => {
                self.tag(1);
                self.av_map(m);
            }
        }
    }

    fn names(&mut self, m: Option<&HashMap<String, String>>) {
        match m {
            None => self.tag(0),
            Some(m) => {
                self.tag(1);
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort_unstable();
                self.0.update((keys.len() as u64).to_be_bytes());
                for k in keys {
                    self.bytes(k.as_bytes());
                    self.opt_str(m.get(k).map(String::as_str));
                }
            }
        }
    }

    fn common(
        &mut self,
        table: &str,
        condition: Option<&str>,
        names: Option<&HashMap<String, String>>,
        values: Option<&HashMap<String, AttributeValue>>,
        rvocf: Option<&ReturnValuesOnConditionCheckFailure>,
    ) {
        self.bytes(table.as_bytes());
        self.opt_str(condition);
        self.names(names);
        self.opt_av_map(values);
        self.opt_str(rvocf.map(|r| r.as_str()));
    }
}

/// SHA-256 of what makes two TransactWriteItems requests "the same request" for a
/// ClientRequestToken: the actions and ReturnItemCollectionMetrics (ReturnConsumedCapacity
/// only shapes the answer).
fn request_hash(
    items: &[TransactWriteItem],
    metrics: Option<&ReturnItemCollectionMetrics>,
) -> [u8; 32] {
    let mut c = Canon(Sha256::new());
    c.0.update((items.len() as u64).to_be_bytes());
    for it in items {
        if let Some(p) = &it.put {
            c.tag(1);
            c.av_map(&p.item);
            c.common(
                &p.table_name,
                p.condition_expression.as_deref(),
                p.expression_attribute_names.as_ref(),
                p.expression_attribute_values.as_ref(),
                p.return_values_on_condition_check_failure.as_ref(),
            );
        }
        if let Some(u) = &it.update {
            c.tag(2);
            c.av_map(&u.key);
            c.bytes(u.update_expression.as_bytes());
            c.common(
                &u.table_name,
                u.condition_expression.as_deref(),
                u.expression_attribute_names.as_ref(),
                u.expression_attribute_values.as_ref(),
                u.return_values_on_condition_check_failure.as_ref(),
            );
        }
        if let Some(d) = &it.delete {
            c.tag(3);
            c.av_map(&d.key);
            c.common(
                &d.table_name,
                d.condition_expression.as_deref(),
                d.expression_attribute_names.as_ref(),
                d.expression_attribute_values.as_ref(),
                d.return_values_on_condition_check_failure.as_ref(),
            );
        }
        if let Some(k) = &it.condition_check {
            c.tag(4);
            c.av_map(&k.key);
            c.common(
                &k.table_name,
                Some(&k.condition_expression),
                k.expression_attribute_names.as_ref(),
                k.expression_attribute_values.as_ref(),
                k.return_values_on_condition_check_failure.as_ref(),
            );
        }
        c.tag(0xFF);
    }
    c.opt_str(metrics.map(|m| m.as_str()));
    c.0.finalize().into()
}

/// The store key suffix that names one token.
pub(crate) fn token_suffix(account: &str, region: &str, token: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(account.len() + region.len() + token.len() + 8);
    encode_bytes(account.as_bytes(), &mut k);
    encode_bytes(region.as_bytes(), &mut k);
    encode_bytes(token.as_bytes(), &mut k);
    k
}

fn with_prefix(prefix: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let mut k = prefix.to_vec();
    for p in parts {
        k.extend_from_slice(p);
    }
    k
}

pub(crate) fn decode_token_record(bytes: &[u8]) -> Result<([u8; 32], i64), DynamoDbError> {
    let corrupt = || DynamoDbError::Internal("stored client token record is corrupt".into());
    let hash: [u8; 32] = bytes
        .get(..32)
        .and_then(|h| h.try_into().ok())
        .ok_or_else(corrupt)?;
    let expiry: [u8; 8] = bytes
        .get(32..40)
        .and_then(|e| e.try_into().ok())
        .ok_or_else(corrupt)?;
    Ok((hash, i64::from_be_bytes(expiry)))
}

fn expiry_bytes(ms: i64) -> [u8; 8] {
    // Expiries are positive epoch milliseconds; clamping keeps the big-endian order.
    (ms.max(0) as u64).to_be_bytes()
}

/// Stores a token record and its expiry entry, and removes a few expired tokens.
pub(crate) fn remember_token(
    txn: &mut dyn WriteTxn,
    suffix: &[u8],
    hash: &[u8; 32],
    now_ms: i64,
) -> Result<(), DynamoDbError> {
    let expiry = now_ms.saturating_add(TOKEN_TTL_MS);
    let mut record = Vec::with_capacity(40);
    record.extend_from_slice(hash);
    record.extend_from_slice(&expiry.to_be_bytes());
    txn.put(&with_prefix(TOKEN_PREFIX, &[suffix]), &record)?;
    txn.put(
        &with_prefix(TOKEN_EXPIRY_PREFIX, &[&expiry_bytes(expiry), suffix]),
        &[],
    )?;
    let lo = TOKEN_EXPIRY_PREFIX.to_vec();
    let hi = with_prefix(TOKEN_EXPIRY_PREFIX, &[&expiry_bytes(now_ms)]);
    let expired = txn.range(
        std::ops::Bound::Included(lo.as_slice()),
        std::ops::Bound::Excluded(hi.as_slice()),
        false,
        TOKEN_PURGE_PER_WRITE,
    )?;
    for (key, _) in expired {
        txn.delete(&key)?;
        let Some(old_suffix) = key.get(TOKEN_EXPIRY_PREFIX.len() + 8..) else {
            continue;
        };
        let record_key = with_prefix(TOKEN_PREFIX, &[old_suffix]);
        // The token may have been used again since; only drop the record this entry
        // stands for.
        if let Some(rec) = txn.get(&record_key)? {
            let (_, exp) = decode_token_record(&rec)?;
            if exp <= now_ms {
                txn.delete(&record_key)?;
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// TransactWriteItems

/// One action, validated without its table.
enum Action {
    Put(Item),
    Update(Item, expr::Update),
    Delete(Item),
    Check(Item),
}

struct Pending {
    table_name: String,
    action: Action,
    condition: Option<Condition>,
    old_on_failure: bool,
}

/// Validates one action's expressions against its own names and values.
fn action_expressions(
    names: Option<&HashMap<String, String>>,
    values: Option<HashMap<String, AttributeValue>>,
    update: Option<&str>,
    condition: Option<&str>,
) -> Result<(Option<expr::Update>, Option<Condition>), DynamoDbError> {
    let mut value_exprs: Vec<&str> = Vec::new();
    if update.is_some() {
        value_exprs.push("UpdateExpression");
    }
    value_exprs.push("ConditionExpression");
    params::check_expression_params(
        &[],
        &[
            ("UpdateExpression", update.is_some()),
            ("ConditionExpression", condition.is_some()),
        ],
        &value_exprs,
        names.is_some(),
        values.is_some(),
    )?;
    let values = params::prepare_placeholders(names, values)?;
    let mut cx = ExpressionContext::new(names, values.as_ref());
    let update = match update {
        Some(text) => Some(cx.update(text)?),
        None => None,
    };
    let condition = match condition {
        Some(text) => Some(cx.condition(ExprKind::Condition, text)?),
        None => None,
    };
    cx.finish()?;
    Ok((update, condition))
}

fn validate_action(item: TransactWriteItem) -> Result<Pending, DynamoDbError> {
    let TransactWriteItem {
        condition_check,
        put,
        delete,
        update,
    } = item;
    let count = [
        condition_check.is_some(),
        put.is_some(),
        delete.is_some(),
        update.is_some(),
    ]
    .iter()
    .filter(|p| **p)
    .count();
    if count == 0 {
        return Err(validation(
            "Invalid Request: TransactWriteRequest should contain Delete or Put or Update request",
        ));
    }
    if count > 1 {
        return Err(validation(
            "TransactItems can only contain one of Check, Put, Update or Delete",
        ));
    }
    if let Some(p) = put {
        let item = params::item(p.item)?;
        size::check_item_size(&item).map_err(DynamoDbError::validation)?;
        let (_, condition) = action_expressions(
            p.expression_attribute_names.as_ref(),
            p.expression_attribute_values,
            None,
            p.condition_expression.as_deref(),
        )?;
        return Ok(Pending {
            table_name: p.table_name,
            action: Action::Put(item),
            condition,
            old_on_failure: params::old_on_failure(
                p.return_values_on_condition_check_failure.as_ref(),
            ),
        });
    }
    if let Some(u) = update {
        let key = params::item(u.key)?;
        let (update, condition) = action_expressions(
            u.expression_attribute_names.as_ref(),
            u.expression_attribute_values,
            Some(&u.update_expression),
            u.condition_expression.as_deref(),
        )?;
        let update = update.unwrap_or_else(|| expr::Update::from_actions(Vec::new()));
        return Ok(Pending {
            table_name: u.table_name,
            action: Action::Update(key, update),
            condition,
            old_on_failure: params::old_on_failure(
                u.return_values_on_condition_check_failure.as_ref(),
            ),
        });
    }
    if let Some(d) = delete {
        let key = params::item(d.key)?;
        let (_, condition) = action_expressions(
            d.expression_attribute_names.as_ref(),
            d.expression_attribute_values,
            None,
            d.condition_expression.as_deref(),
        )?;
        return Ok(Pending {
            table_name: d.table_name,
            action: Action::Delete(key),
            condition,
            old_on_failure: params::old_on_failure(
                d.return_values_on_condition_check_failure.as_ref(),
            ),
        });
    }
    match condition_check {
        Some(c) => {
            let key = params::item(c.key)?;
            let (_, condition) = action_expressions(
                c.expression_attribute_names.as_ref(),
                c.expression_attribute_values,
                None,
                Some(&c.condition_expression),
            )?;
            Ok(Pending {
                table_name: c.table_name,
                action: Action::Check(key),
                condition,
                old_on_failure: params::old_on_failure(
                    c.return_values_on_condition_check_failure.as_ref(),
                ),
            })
        }
        None => Err(validation(
            "Invalid Request: TransactWriteRequest should contain Delete or Put or Update request",
        )),
    }
}

/// Table lookups of one request, each table loaded once.
struct Tables<'s> {
    svc: &'s DynamoDb,
    ctx: &'s RequestContext,
    loaded: Vec<Arc<TableMeta>>,
}

impl<'s> Tables<'s> {
    fn get(&mut self, name: &str) -> Result<Arc<TableMeta>, DynamoDbError> {
        if let Some(t) = self.loaded.iter().find(|t| t.name == name) {
            return Ok(t.clone());
        }
        let t = self.svc.table(self.ctx, name)?;
        self.loaded.push(t.clone());
        Ok(t)
    }
}

fn key_error(e: DynamoDbError) -> DynamoDbError {
    match e {
        DynamoDbError::Validation(m)
            if m.contains("Missing the key") || m.contains("Type mismatch for key") =>
        {
            DynamoDbError::validation(write::MSG_KEY_SCHEMA_MISMATCH)
        }
        other => other,
    }
}

fn resolve(pending: Pending, tables: &mut Tables<'_>) -> Result<ItemWrite, DynamoDbError> {
    let table = tables.get(&pending.table_name)?;
    let (key, change): (PrimaryKey, Change) = match pending.action {
        Action::Put(item) => (
            write::validate_item_for_put(&table, &item).map_err(key_error)?,
            Change::Put(item),
        ),
        Action::Update(key, update) => {
            let key = write::key_from_map(&table, &key)?;
            let names = key_names(&table);
            expr::check_update_keys(&update, &names)?;
            let mut paths: Vec<&expr::Path> = Vec::new();
            update.for_each_path(&mut |p| paths.push(p));
            expr::check_key_paths(paths, &names)?;
            (key, Change::Update(update))
        }
        Action::Delete(key) => (write::key_from_map(&table, &key)?, Change::Delete),
        Action::Check(key) => (write::key_from_map(&table, &key)?, Change::Check),
    };
    Ok(ItemWrite {
        table,
        key,
        condition: pending.condition,
        change,
        old_on_failure: pending.old_on_failure,
    })
}

/// `Transaction cancelled, please refer cancellation reasons for specific reasons [..]`.
fn cancelled(reasons: Vec<CancellationReason>) -> DynamoDbError {
    let codes: Vec<&str> = reasons.iter().map(|r| r.code.as_str()).collect();
    DynamoDbError::TransactionCanceled {
        message: format!(
            "Transaction cancelled, please refer cancellation reasons for specific reasons [{}]",
            codes.join(", ")
        ),
        reasons,
    }
}

fn reason(r: &Result<crate::ops::items::Evaluated, WriteFailure>) -> CancellationReason {
    match r {
        Ok(_) => CancellationReason {
            code: "None".into(),
            message: None,
            item: None,
        },
        Err(WriteFailure::ConditionFailed(item)) => CancellationReason {
            code: "ConditionalCheckFailed".into(),
            message: Some(MSG_CONDITIONAL_CHECK_FAILED.into()),
            item: item.clone(),
        },
        Err(WriteFailure::Invalid(e)) => CancellationReason {
            code: "ValidationError".into(),
            message: Some(e.to_string()),
            item: None,
        },
    }
}

enum Outcome {
    Applied(UsageSet),
    /// The token was seen with this request before: nothing was applied again.
    Replayed,
}

pub async fn transact_write_items(
    svc: &DynamoDb,
    ctx: &RequestContext,
    input: TransactWriteItemsInput,
) -> Result<TransactWriteItemsOutput, DynamoDbError> {
    let TransactWriteItemsInput {
        transact_items,
        return_consumed_capacity,
        return_item_collection_metrics,
        client_request_token,
    } = input;
    let token = client_request_token.map(|t| {
        (
            token_suffix(&ctx.account_id, &ctx.region, &t),
            request_hash(&transact_items, return_item_collection_metrics.as_ref()),
        )
    });
    let mut pending = Vec::with_capacity(transact_items.len());
    let mut put_bytes = 0usize;
    for item in transact_items {
        let p = validate_action(item)?;
        if let Action::Put(item) = &p.action {
            put_bytes += item_size(item);
        }
        pending.push(p);
    }
    if put_bytes > MAX_TRANSACTION_ITEM_BYTES {
        return Err(validation(
            "Transaction request size has exceeded the maximum allowed size of 4 MB",
        ));
    }
    let mut tables = Tables {
        svc,
        ctx,
        loaded: Vec::new(),
    };
    let mut writes: Vec<ItemWrite> = Vec::with_capacity(pending.len());
    let mut targets: Vec<([u8; 16], Vec<u8>)> = Vec::with_capacity(pending.len());
    for p in pending {
        let w = resolve(p, &mut tables)?;
        let target = (w.table.key_id, w.key.store_key(&w.table)?);
        if targets.contains(&target) {
            return Err(validation(MSG_MULTIPLE_OPERATIONS));
        }
        targets.push(target);
        writes.push(w);
    }
    drop(tables);

    let mode = CapacityMode::from_request(return_consumed_capacity.as_ref());
    let metrics_wanted = capacity::metrics_wanted(return_item_collection_metrics.as_ref());
    let mut metrics: HashMap<String, Vec<ItemCollectionMetrics>> = HashMap::new();
    if metrics_wanted {
        for w in writes.iter().filter(|w| !matches!(w.change, Change::Check)) {
            if let Some(m) = capacity::collection_metrics(&w.table, &w.key.hash) {
                metrics.entry(w.table.name.clone()).or_default().push(m);
            }
        }
    }
    let now_ms = svc.now_millis();
    let cx = ChangeCtx::user(now_ms);
    let written_tables: Vec<Arc<TableMeta>> = writes.iter().map(|w| w.table.clone()).collect();
    // What a replayed request reports reading; kept only when it can be needed.
    let replay_keys: Vec<(Arc<TableMeta>, PrimaryKey)> = if token.is_some() && mode.wanted() {
        writes
            .iter()
            .map(|w| (w.table.clone(), w.key.clone()))
            .collect()
    } else {
        Vec::new()
    };
    let outcome = svc
        .db()
        .write(move |txn| {
            if let Some((suffix, hash)) = &token {
                if let Some(rec) = txn.get(&with_prefix(TOKEN_PREFIX, &[suffix]))? {
                    let (stored, expiry) = decode_token_record(&rec)?;
                    if expiry > now_ms {
                        if stored == *hash {
                            return Ok(Outcome::Replayed);
                        }
                        return Err(DynamoDbError::IdempotentParameterMismatch(
                            MSG_IDEMPOTENT_MISMATCH.into(),
                        ));
                    }
                }
            }
            let mut evaluated = Vec::with_capacity(writes.len());
            for w in &writes {
                evaluated.push(w.evaluate(txn)?);
            }
            if evaluated.iter().any(Result::is_err) {
                return Err(cancelled(evaluated.iter().map(reason).collect()));
            }
            let mut usage = UsageSet::default();
            for (w, ev) in writes.iter().zip(evaluated) {
                let Ok(ev) = ev else { continue };
                w.apply(txn, &ev, &cx)?;
                if mode.wanted() {
                    w.record_capacity(usage.table(&w.table.name), &ev, true)?;
                }
            }
            if let Some((suffix, hash)) = &token {
                remember_token(txn, suffix, hash, now_ms)?;
            }
            Ok(Outcome::Applied(usage))
        })
        .await?;
    svc.notify_bus_for(written_tables.iter().map(|t| &**t));
    let usage = match outcome {
        Outcome::Applied(usage) => usage,
        Outcome::Replayed => replay_usage(svc, &replay_keys, mode)?,
    };
    Ok(TransactWriteItemsOutput {
        consumed_capacity: usage.to_consumed(mode),
        item_collection_metrics: (metrics_wanted && !metrics.is_empty()).then_some(metrics),
    })
}

/// A repeated request applies nothing; like DynamoDB it reports the read capacity of
/// reading the items.
fn replay_usage(
    svc: &DynamoDb,
    keys: &[(Arc<TableMeta>, PrimaryKey)],
    mode: CapacityMode,
) -> Result<UsageSet, DynamoDbError> {
    let mut usage = UsageSet::default();
    if !mode.wanted() {
        return Ok(usage);
    }
    let snapshot = svc.db().snapshot()?;
    for (table, key) in keys {
        let found = write::read_item(snapshot.as_ref(), table, key)?;
        usage
            .table(&table.name)
            .read_item(found.as_ref().map_or(0, item_size), ReadMode::Strong);
    }
    Ok(usage)
}

// ---------------------------------------------------------------------------------------
// TransactGetItems

pub async fn transact_get_items(
    svc: &DynamoDb,
    ctx: &RequestContext,
    input: TransactGetItemsInput,
) -> Result<TransactGetItemsOutput, DynamoDbError> {
    let TransactGetItemsInput {
        transact_items,
        return_consumed_capacity,
    } = input;
    let mut gets: Vec<(String, Item, Option<expr::Projection>)> =
        Vec::with_capacity(transact_items.len());
    for TransactGetItem { get } in transact_items {
        let Get {
            key,
            table_name,
            projection_expression,
            expression_attribute_names: names,
        } = get;
        params::check_expression_params(
            &[],
            &[("ProjectionExpression", projection_expression.is_some())],
            &[],
            names.is_some(),
            false,
        )?;
        let key = params::item(key)?;
        params::prepare_placeholders(names.as_ref(), None)?;
        let mut cx = ExpressionContext::new(names.as_ref(), None);
        let projection = match &projection_expression {
            Some(text) => Some(cx.projection(text)?),
            None => None,
        };
        cx.finish()?;
        gets.push((table_name, key, projection));
    }
    let mut tables = Tables {
        svc,
        ctx,
        loaded: Vec::new(),
    };
    let mut resolved: Vec<(Arc<TableMeta>, PrimaryKey, Option<expr::Projection>)> =
        Vec::with_capacity(gets.len());
    let mut targets: Vec<([u8; 16], Vec<u8>)> = Vec::with_capacity(gets.len());
    for (table_name, key, projection) in gets {
        let table = tables.get(&table_name)?;
        let key = write::key_from_map(&table, &key)?;
        if let Some(p) = &projection {
            expr::check_key_paths(p.paths(), &key_names(&table))?;
        }
        let target = (table.key_id, key.store_key(&table)?);
        if targets.contains(&target) {
            return Err(validation(MSG_MULTIPLE_OPERATIONS));
        }
        targets.push(target);
        resolved.push((table, key, projection));
    }
    drop(tables);
    let mode = CapacityMode::from_request(return_consumed_capacity.as_ref());
    let mut usage = UsageSet::default();
    let mut responses = Vec::with_capacity(resolved.len());
    {
        let snapshot = svc.db().snapshot()?;
        for (table, key, projection) in &resolved {
            let found = write::read_item(snapshot.as_ref(), table, key)?;
            if mode.wanted() {
                usage
                    .table(&table.name)
                    .read_item(found.as_ref().map_or(0, item_size), ReadMode::Transactional);
            }
            responses.push(ItemResponse {
                item: found.map(|it| match projection {
                    Some(p) => item_into_attrs(p.apply(&it)),
                    None => item_into_attrs(it),
                }),
            });
        }
    }
    Ok(TransactGetItemsOutput {
        consumed_capacity: usage.to_consumed(mode),
        responses: Some(responses),
    })
}

/// Reads a token record (tests and diagnostics).
#[cfg(test)]
fn token_record(
    txn: &dyn nimbus_store::ReadTxn,
    account: &str,
    region: &str,
    token: &str,
) -> Option<([u8; 32], i64)> {
    let key = with_prefix(TOKEN_PREFIX, &[&token_suffix(account, region, token)]);
    txn.get(&key)
        .ok()
        .flatten()
        .and_then(|r| decode_token_record(&r).ok())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::ops::items::test_support::*;
    use crate::ops::items::{get_item, put_item};

    fn put_action(
        table: &str,
        item: &[(&str, AttributeValue)],
        cond: Option<&str>,
    ) -> TransactWriteItem {
        TransactWriteItem {
            put: Some(Put {
                item: av_map(item),
                table_name: table.into(),
                condition_expression: cond.map(Into::into),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn update_action(
        table: &str,
        key: &[(&str, AttributeValue)],
        expr: &str,
        values: &[(&str, AttributeValue)],
    ) -> TransactWriteItem {
        TransactWriteItem {
            update: Some(Update {
                key: av_map(key),
                update_expression: expr.into(),
                table_name: table.into(),
                expression_attribute_values: (!values.is_empty()).then(|| av_map(values)),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn check_action(
        table: &str,
        key: &[(&str, AttributeValue)],
        cond: &str,
        old: bool,
    ) -> TransactWriteItem {
        TransactWriteItem {
            condition_check: Some(ConditionCheck {
                key: av_map(key),
                table_name: table.into(),
                condition_expression: cond.into(),
                return_values_on_condition_check_failure: old
                    .then_some(ReturnValuesOnConditionCheckFailure::AllOld),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn twi(items: Vec<TransactWriteItem>) -> TransactWriteItemsInput {
        TransactWriteItemsInput {
            transact_items: items,
            ..Default::default()
        }
    }

    async fn get_v(svc: &DynamoDb, pk: &str) -> Option<AttributeValue> {
        get_item(
            svc,
            &ctx(),
            GetItemInput {
                table_name: "t1".into(),
                key: av_map(&[("pk", s(pk))]),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .item
        .and_then(|i| i.get("v").cloned())
    }

    async fn setup() -> DynamoDb {
        let (svc, _) = service();
        create_table(&svc, "t1", schema(("pk", "S"), None), vec![]);
        put_item(
            &svc,
            &ctx(),
            PutItemInput {
                table_name: "t1".into(),
                item: av_map(&[("pk", s("a")), ("v", n("1"))]),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        svc
    }

    #[tokio::test]
    async fn all_or_nothing_with_reasons_in_order() {
        let svc = setup().await;
        let e = transact_write_items(
            &svc,
            &ctx(),
            twi(vec![
                put_action("t1", &[("pk", s("b")), ("v", n("2"))], None),
                check_action("t1", &[("pk", s("a"))], "attribute_not_exists(pk)", true),
                update_action(
                    "t1",
                    &[("pk", s("c"))],
                    "SET v = nothere + :one",
                    &[(":one", n("1"))],
                ),
            ]),
        )
        .await
        .unwrap_err();
        match e {
            DynamoDbError::TransactionCanceled { message, reasons } => {
                assert_eq!(
                    message,
                    "Transaction cancelled, please refer cancellation reasons for specific reasons [None, ConditionalCheckFailed, ValidationError]"
                );
                assert_eq!(reasons[0].code, "None");
                assert!(reasons[0].message.is_none());
                assert_eq!(
                    reasons[1].message.as_deref(),
                    Some("The conditional request failed")
                );
                assert_eq!(
                    reasons[1].item.as_ref().unwrap()["v"],
                    crate::value::Value::n("1").unwrap()
                );
                assert_eq!(
                    reasons[2].message.as_deref(),
                    Some("The provided expression refers to an attribute that does not exist in the item")
                );
            }
            other => panic!("{other:?}"),
        }
        assert!(get_v(&svc, "b").await.is_none());
        // All conditions hold: everything is applied.
        let out = transact_write_items(
            &svc,
            &ctx(),
            TransactWriteItemsInput {
                return_consumed_capacity: Some(ReturnConsumedCapacity::Total),
                ..twi(vec![
                    put_action(
                        "t1",
                        &[("pk", s("b")), ("v", n("2"))],
                        Some("attribute_not_exists(pk)"),
                    ),
                    check_action("t1", &[("pk", s("a"))], "attribute_exists(pk)", false),
                    update_action("t1", &[("pk", s("c"))], "SET v = :one", &[(":one", n("1"))]),
                ])
            },
        )
        .await
        .unwrap();
        assert_eq!(get_v(&svc, "b").await, Some(n("2")));
        assert_eq!(get_v(&svc, "c").await, Some(n("1")));
        let c = &out.consumed_capacity.unwrap()[0];
        // Two transactional writes (2 each) and one transactional read (2).
        assert_eq!(c.write_capacity_units, Some(4.0));
        assert_eq!(c.read_capacity_units, Some(2.0));
        assert_eq!(c.capacity_units, Some(6.0));
    }

    #[tokio::test]
    async fn request_validation() {
        let svc = setup().await;
        let e = err(transact_write_items(
            &svc,
            &ctx(),
            twi(vec![
                put_action("t1", &[("pk", s("a"))], None),
                check_action("t1", &[("pk", s("a"))], "attribute_exists(pk)", false),
            ]),
        )
        .await);
        assert_eq!(
            e,
            ("ValidationException".into(), MSG_MULTIPLE_OPERATIONS.into())
        );
        let mut both = put_action("t1", &[("pk", s("z"))], None);
        both.delete = Some(Delete {
            key: av_map(&[("pk", s("z"))]),
            table_name: "t1".into(),
            ..Default::default()
        });
        let e = err(transact_write_items(&svc, &ctx(), twi(vec![both])).await);
        assert_eq!(
            e.1,
            "TransactItems can only contain one of Check, Put, Update or Delete"
        );
        let e =
            err(transact_write_items(&svc, &ctx(), twi(vec![TransactWriteItem::default()])).await);
        assert_eq!(
            e.1,
            "Invalid Request: TransactWriteRequest should contain Delete or Put or Update request"
        );
        let e = err(transact_write_items(
            &svc,
            &ctx(),
            twi(vec![put_action("nope", &[("pk", s("a"))], None)]),
        )
        .await);
        assert_eq!(e.0, "ResourceNotFoundException");
        let e = err(transact_write_items(
            &svc,
            &ctx(),
            twi(vec![update_action(
                "t1",
                &[("pk", s("a"))],
                "SET pk = :x",
                &[(":x", s("b"))],
            )]),
        )
        .await);
        assert_eq!(
            e.1,
            "One or more parameter values were invalid: Cannot update attribute pk. This attribute is part of the key"
        );
        let e = err(transact_write_items(
            &svc,
            &ctx(),
            twi(vec![update_action(
                "t1",
                &[("pk", s("a"))],
                "SET v = :x",
                &[(":x", s("b")), (":y", s("c"))],
            )]),
        )
        .await);
        assert_eq!(
            e.1,
            "Value provided in ExpressionAttributeValues unused in expressions: keys: {:y}"
        );
    }

    #[tokio::test]
    async fn client_request_token_is_idempotent_for_ten_minutes() {
        let (svc, clock) = service();
        create_table(&svc, "t1", schema(("pk", "S"), None), vec![]);
        let req = |v: &str| TransactWriteItemsInput {
            client_request_token: Some("tok-1".into()),
            ..twi(vec![update_action(
                "t1",
                &[("pk", s("a"))],
                "ADD v :x",
                &[(":x", n(v))],
            )])
        };
        transact_write_items(&svc, &ctx(), req("1")).await.unwrap();
        // Same token and request: not applied again.
        transact_write_items(&svc, &ctx(), req("1")).await.unwrap();
        assert_eq!(get_v(&svc, "a").await, Some(n("1")));
        let e = err(transact_write_items(&svc, &ctx(), req("2")).await);
        assert_eq!(
            e,
            (
                "IdempotentParameterMismatchException".into(),
                MSG_IDEMPOTENT_MISMATCH.into()
            )
        );
        {
            let snap = svc.db().snapshot().unwrap();
            let (_, expiry) =
                token_record(snap.as_ref(), "000000000000", "us-east-1", "tok-1").unwrap();
            assert_eq!(expiry, 1_700_000_000_000 + TOKEN_TTL_MS);
        }
        // After 10 minutes the token is new again.
        clock.advance_millis(TOKEN_TTL_MS + 1);
        transact_write_items(&svc, &ctx(), req("1")).await.unwrap();
        assert_eq!(get_v(&svc, "a").await, Some(n("2")));
        // A later token purges the expired record of the first use... which was
        // replaced; the record now expires 10 minutes after the second use.
        clock.advance_millis(TOKEN_TTL_MS + 1);
        transact_write_items(
            &svc,
            &ctx(),
            TransactWriteItemsInput {
                client_request_token: Some("tok-2".into()),
                ..twi(vec![put_action("t1", &[("pk", s("z"))], None)])
            },
        )
        .await
        .unwrap();
        let snap = svc.db().snapshot().unwrap();
        assert!(token_record(snap.as_ref(), "000000000000", "us-east-1", "tok-1").is_none());
        assert!(token_record(snap.as_ref(), "000000000000", "us-east-1", "tok-2").is_some());
        // Hashes ignore map order but see every value.
        let a = twi(vec![put_action(
            "t1",
            &[("pk", s("a")), ("x", n("1"))],
            None,
        )]);
        let b = twi(vec![put_action(
            "t1",
            &[("x", n("1")), ("pk", s("a"))],
            None,
        )]);
        let c = twi(vec![put_action(
            "t1",
            &[("pk", s("a")), ("x", n("2"))],
            None,
        )]);
        assert_eq!(
            request_hash(&a.transact_items, None),
            request_hash(&b.transact_items, None)
        );
        assert_ne!(
            request_hash(&a.transact_items, None),
            request_hash(&c.transact_items, None)
        );
    }

    /// The store serializes write transactions: of many concurrent transactions that all
    /// create the same item, exactly one succeeds and the others see its result.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_transactions_serialize() {
        let (svc, _) = service();
        create_table(&svc, "t1", schema(("pk", "S"), None), vec![]);
        let mut handles = Vec::new();
        for i in 0..16 {
            let svc = svc.clone();
            handles.push(tokio::spawn(async move {
                transact_write_items(
                    &svc,
                    &ctx(),
                    twi(vec![
                        put_action(
                            "t1",
                            &[("pk", s("only")), ("v", n(&i.to_string()))],
                            Some("attribute_not_exists(pk)"),
                        ),
                        update_action(
                            "t1",
                            &[("pk", s("counter"))],
                            "ADD v :one",
                            &[(":one", n("1"))],
                        ),
                    ]),
                )
                .await
            }));
        }
        let mut ok = 0;
        for h in handles {
            match h.await.unwrap() {
                Ok(_) => ok += 1,
                Err(DynamoDbError::TransactionCanceled { reasons, .. }) => {
                    let codes: Vec<&str> = reasons.iter().map(|r| r.code.as_str()).collect();
                    assert_eq!(codes, ["ConditionalCheckFailed", "None"]);
                }
                Err(e) => panic!("{e:?}"),
            }
        }
        assert_eq!(ok, 1);
        assert_eq!(get_v(&svc, "counter").await, Some(n("1")));
    }

    #[tokio::test]
    async fn transact_get_items_reads_one_snapshot() {
        let svc = setup().await;
        let get = |pk: &str, proj: Option<&str>| TransactGetItem {
            get: Get {
                key: av_map(&[("pk", s(pk))]),
                table_name: "t1".into(),
                projection_expression: proj.map(Into::into),
                expression_attribute_names: None,
            },
        };
        let out = transact_get_items(
            &svc,
            &ctx(),
            TransactGetItemsInput {
                transact_items: vec![get("a", Some("v")), get("missing", None)],
                return_consumed_capacity: Some(ReturnConsumedCapacity::Indexes),
            },
        )
        .await
        .unwrap();
        let r = out.responses.unwrap();
        assert_eq!(r[0].item, Some(av_map(&[("v", n("1"))])));
        assert!(r[1].item.is_none());
        let c = &out.consumed_capacity.unwrap()[0];
        assert_eq!(c.capacity_units, Some(4.0));
        assert_eq!(c.table.as_ref().unwrap().read_capacity_units, Some(4.0));
        let e = err(transact_get_items(
            &svc,
            &ctx(),
            TransactGetItemsInput {
                transact_items: vec![get("a", None), get("a", None)],
                return_consumed_capacity: None,
            },
        )
        .await);
        assert_eq!(e.1, MSG_MULTIPLE_OPERATIONS);
    }
}
