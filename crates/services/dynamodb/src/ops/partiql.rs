//! ExecuteStatement, BatchExecuteStatement and ExecuteTransaction: DynamoDB's PartiQL.
//!
//! Statements are parsed by `crate::partiql` and lowered onto the expression types, so
//! they run on the same machinery as the item API:
//! - SELECT becomes a key-range read through `query::read_page` (the pages, limits,
//!   capacity and index handling of Query and Scan): equality (or IN, or OR of
//!   equalities) on the partition key reads those partitions, with a sort-key condition
//!   narrowing the range; anything else scans. The whole WHERE clause is the filter.
//! - INSERT, UPDATE and DELETE become an `items::ItemWrite` with a condition (INSERT:
//!   the key must not exist; UPDATE: it must; extra WHERE terms: the condition), applied
//!   through `ItemWrite::apply` with `ChangeCtx::user`, so indexes, counters, stream
//!   records and PITR history follow every PartiQL write.
//!
//! `NextToken` binds the page to its statement and parameters (a digest), and carries the
//! partition being read and the last key evaluated.

use std::ops::Bound;
use std::sync::Arc;

use base64::Engine;
use nimbus_core::RequestContext;
use nimbus_model::dynamodb::*;
use sha2::{Digest, Sha256};

use crate::error::{CancellationReason, DynamoDbError};
use crate::expr::{self, CmpOp, Condition, Path};
use crate::keycodec::KeyType;
use crate::ops::capacity::{CapacityMode, Usage, UsageSet};
use crate::ops::catalog::{IndexKind, KeySchema, TableMeta};
use crate::ops::convert::{attr_into_value, item_into_attrs};
use crate::ops::items::{key_names, Change, ItemWrite, NewItem, WriteFailure};
use crate::ops::layout;
use crate::ops::query::{self, Page, Plan, Range, SelectKind, MAX_PAGE_BYTES};
use crate::ops::transact;
use crate::ops::write::{self, ChangeCtx, PrimaryKey};
use crate::ops::DynamoDb;
use crate::partiql::{self, Binder, Expr, PathExpr, Projection, Returning, Select, Statement};
use crate::size::{self, item_size, ReadMode};
use crate::value::{Item, Value};

pub const MSG_DUPLICATE_ITEM: &str = "Duplicate primary key exists in table";
pub const MSG_INCOMPLETE_KEY: &str =
    "Where clause does not contain a mandatory equality on all key attributes";
pub const MSG_MIXED_TRANSACTION: &str =
    "ExecuteTransaction API does not support both read and write operations in the same request.";
const MSG_INVALID_TOKEN: &str = "Invalid NextToken";
const MSG_CONSISTENT_GSI: &str =
    "Strongly consistent read is not supported on Global Secondary Indexes";
/// Most partitions one SELECT may read (`IN` lists, ORs of equalities).
pub const MAX_PARTITIONS: usize = 100;
const TOKEN_VERSION: u8 = 1;
const TOKEN_DIGEST_BYTES: usize = 16;

fn invalid(msg: impl Into<String>) -> DynamoDbError {
    DynamoDbError::Validation(msg.into())
}

/// Converts `Parameters` to values (AWS's attribute-value messages on bad input).
fn parameters(params: Option<Vec<AttributeValue>>) -> Result<Vec<Value>, DynamoDbError> {
    params
        .unwrap_or_default()
        .into_iter()
        .map(|p| attr_into_value(p).map_err(DynamoDbError::from))
        .collect()
}

// ---------------------------------------------------------------------------------------
// Keys from WHERE clauses

/// The message for a key value of the wrong type.
fn key_type_message(name: &str) -> String {
    format!("Key attribute's data type should match its data type in table's schema: Key {name}")
}

/// The full primary key a DML WHERE clause names by equality, and the other terms (the
/// condition). Every key attribute needs exactly one `key = value` term at the top level.
fn key_from_where<'e>(
    table: &TableMeta,
    where_: Option<&'e Expr>,
    b: &Binder<'_>,
) -> Result<(PrimaryKey, Vec<&'e Expr>), DynamoDbError> {
    let where_ = where_.ok_or_else(|| invalid(MSG_INCOMPLETE_KEY))?;
    let mut key = Item::with_capacity(2);
    let mut rest = Vec::new();
    for term in partiql_conjuncts(where_) {
        let mut used = false;
        for attr in table.key.attrs() {
            if let Some(v) = partiql_key_equality(term, &attr.name) {
                if key.contains_key(&attr.name) {
                    return Err(invalid(format!(
                        "Multiple conditions on same key {}. Only single item Update/Insert/Delete are supported",
                        attr.name
                    )));
                }
                let value = b.value(v, "root")?;
                if KeyType::of(&value) != Some(attr.ty) {
                    return Err(invalid(key_type_message(&attr.name)));
                }
                key.insert(attr.name.clone(), value);
                used = true;
                break;
            }
        }
        if !used {
            rest.push(term);
        }
    }
    if key.len() != table.key.attrs().count() {
        return Err(invalid(MSG_INCOMPLETE_KEY));
    }
    Ok((write::key_from_map(table, &key)?, rest))
}

fn partiql_conjuncts(e: &Expr) -> Vec<&Expr> {
    let mut out = Vec::new();
    let mut stack = vec![e];
    while let Some(x) = stack.pop() {
        match x {
            Expr::And(a, b) => {
                stack.push(b);
                stack.push(a);
            }
            other => out.push(other),
        }
    }
    out
}

/// `name = value` (either way round): the value side.
fn partiql_key_equality<'e>(e: &'e Expr, name: &str) -> Option<&'e Expr> {
    let Expr::Cmp(CmpOp::Eq, a, b) = e else {
        return None;
    };
    let is_key = |x: &Expr| matches!(x, Expr::Path(p) if p.is_top_level() && p.top() == name);
    let is_value = |x: &Expr| {
        matches!(
            x,
            Expr::Str(_) | Expr::Num(_) | Expr::Param(_) | Expr::Bool(_) | Expr::Null
        ) || matches!(x, Expr::List(_) | Expr::Struct(_) | Expr::Bag(_))
    };
    if is_key(a) && is_value(b) {
        Some(b)
    } else if is_key(b) && is_value(a) {
        Some(a)
    } else {
        None
    }
}

/// The conjunction of `terms` (None when empty).
fn and_all(b: &Binder<'_>, terms: &[&Expr]) -> Result<Option<Condition>, DynamoDbError> {
    let mut out: Option<Condition> = None;
    for t in terms {
        let c = b.condition(t)?;
        out = Some(match out {
            None => c,
            Some(prev) => Condition::And(Box::new(prev), Box::new(c)),
        });
    }
    Ok(out)
}

fn exists(table: &TableMeta) -> Condition {
    Condition::AttributeExists(Path::attr(table.key.hash.name.clone()))
}

fn not_exists(table: &TableMeta) -> Condition {
    Condition::AttributeNotExists(Path::attr(table.key.hash.name.clone()))
}

// ---------------------------------------------------------------------------------------
// Writes

/// What kind of write a statement is (for errors and RETURNING).
#[derive(Debug, Clone)]
enum WriteKind {
    Insert,
    Update {
        returning: Option<Returning>,
        targets: expr::Projection,
    },
    Delete {
        returning: bool,
    },
    Check,
}

struct PlannedWrite {
    w: ItemWrite,
    kind: WriteKind,
}

/// Checks an INSERT item's key attributes with PartiQL's messages.
fn check_insert_keys(table: &TableMeta, item: &Item) -> Result<(), DynamoDbError> {
    for attr in table.key.attrs() {
        match item.get(&attr.name) {
            None => {
                return Err(invalid(format!(
                    "One or more parameter values were invalid: Missing the key {} in the item",
                    attr.name
                )))
            }
            Some(v) if KeyType::of(v) != Some(attr.ty) => {
                return Err(invalid(key_type_message(&attr.name)))
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// Plans a write statement against its table; `in_transaction` allows EXISTS and
/// refuses RETURNING.
fn plan_write(
    svc: &DynamoDb,
    ctx: &RequestContext,
    stmt: &Statement,
    b: &Binder<'_>,
    old_on_failure: bool,
    in_transaction: bool,
) -> Result<PlannedWrite, DynamoDbError> {
    match stmt {
        Statement::Insert { table, value } => {
            let item = b.item(value)?;
            let table = svc.table(ctx, table)?;
            check_insert_keys(&table, &item)?;
            size::check_item_size(&item).map_err(invalid)?;
            crate::value::check_item_nesting(&item)?;
            let key = write::validate_item_for_put(&table, &item)?;
            let condition = Some(not_exists(&table));
            Ok(PlannedWrite {
                w: ItemWrite {
                    table,
                    key,
                    condition,
                    change: Change::Put(item),
                    old_on_failure: false,
                },
                kind: WriteKind::Insert,
            })
        }
        Statement::Update(u) => {
            if in_transaction && u.returning.is_some() {
                return Err(invalid("RETURNING is not supported in transactions"));
            }
            let update = b.update(u)?;
            let table = svc.table(ctx, &u.table)?;
            let (key, rest) = key_from_where(&table, u.where_.as_ref(), b)?;
            let names = key_names(&table);
            expr::check_update_keys(&update, &names)?;
            let mut paths: Vec<&expr::Path> = Vec::new();
            update.for_each_path(&mut |p| paths.push(p));
            expr::check_key_paths(paths, &names)?;
            drop(names);
            // UPDATE is not an upsert: the item must exist, then the other terms hold.
            let condition = match and_all(b, &rest)? {
                None => exists(&table),
                Some(c) => Condition::And(Box::new(exists(&table)), Box::new(c)),
            };
            let targets = update.targets_projection();
            Ok(PlannedWrite {
                w: ItemWrite {
                    table,
                    key,
                    condition: Some(condition),
                    change: Change::Update(update),
                    old_on_failure,
                },
                kind: WriteKind::Update {
                    returning: u.returning,
                    targets,
                },
            })
        }
        Statement::Delete {
            table,
            where_,
            returning,
        } => {
            if let Some(r) = returning {
                if in_transaction {
                    return Err(invalid("RETURNING is not supported in transactions"));
                }
                if *r != Returning::AllOld {
                    return Err(invalid(format!(
                        "Invalid returning clause: RETURNING {}. Only RETURNING ALL OLD * is allowed in DELETE statements.",
                        r.as_sql()
                    )));
                }
            }
            let table = svc.table(ctx, table)?;
            let (key, rest) = key_from_where(&table, where_.as_ref(), b)?;
            // Deleting a missing item succeeds; the other terms only bind an existing one.
            let condition = and_all(b, &rest)?
                .map(|c| Condition::Or(Box::new(not_exists(&table)), Box::new(c)));
            Ok(PlannedWrite {
                w: ItemWrite {
                    table,
                    key,
                    condition,
                    change: Change::Delete,
                    old_on_failure,
                },
                kind: WriteKind::Delete {
                    returning: returning.is_some(),
                },
            })
        }
        Statement::Exists(sel) => {
            if !in_transaction {
                return Err(invalid(
                    "EXISTS can only be used in ExecuteTransaction write requests.",
                ));
            }
            if sel.index.is_some() {
                return Err(invalid(
                    "Operations on indices are not supported in transactions",
                ));
            }
            let table = svc.table(ctx, &sel.table)?;
            let (key, rest) =
                key_from_where(&table, sel.where_.as_ref(), b).map_err(|e| match e {
                    DynamoDbError::Validation(m) if m == MSG_INCOMPLETE_KEY => invalid(
                        "EXISTS() must contain a single item read with additional condition",
                    ),
                    other => other,
                })?;
            let condition = match and_all(b, &rest)? {
                None => exists(&table),
                Some(c) => Condition::And(Box::new(exists(&table)), Box::new(c)),
            };
            Ok(PlannedWrite {
                w: ItemWrite {
                    table,
                    key,
                    condition: Some(condition),
                    change: Change::Check,
                    old_on_failure,
                },
                kind: WriteKind::Check,
            })
        }
        Statement::Select(_) => Err(DynamoDbError::Internal(
            "a SELECT planned as a write".into(),
        )),
    }
}

/// The error a single (non-transactional) write fails with.
fn write_failure(kind: &WriteKind, f: WriteFailure) -> DynamoDbError {
    match (kind, f) {
        (WriteKind::Insert, WriteFailure::ConditionFailed(_)) => {
            DynamoDbError::DuplicateItem(MSG_DUPLICATE_ITEM.into())
        }
        (_, f) => f.into_error(),
    }
}

/// The result of one write.
struct WriteResult {
    old: Option<Item>,
    new: Option<Item>,
    usage: Usage,
}

/// Runs one planned write in its own store transaction.
async fn run_write(svc: &DynamoDb, pw: PlannedWrite) -> Result<WriteResult, DynamoDbError> {
    let cx = ChangeCtx::user(svc.now_millis());
    let PlannedWrite { w, kind } = pw;
    let table = w.table.clone();
    let out = svc
        .db()
        .write(move |txn| {
            let ev = match w.evaluate(txn)? {
                Ok(ev) => ev,
                Err(f) => return Err(write_failure(&kind, f)),
            };
            w.apply(txn, &ev, &cx)?;
            let mut usage = Usage::new(&w.table.name);
            w.record_capacity(&mut usage, &ev, false)?;
            let new = match ev.new {
                NewItem::Updated(item) => Some(item),
                _ => None,
            };
            Ok(WriteResult {
                old: ev.old,
                new,
                usage,
            })
        })
        .await;
    svc.notify_bus_for([&*table]);
    out
}

/// The `Items` a write answers with: empty, or the RETURNING item.
fn returned_items(kind: &WriteKind, r: &WriteResult) -> Vec<Item> {
    let item = match kind {
        WriteKind::Update {
            returning: Some(ret),
            targets,
        } => match ret {
            Returning::AllOld => r.old.clone(),
            Returning::AllNew => r.new.clone(),
            Returning::ModifiedOld => r.old.as_ref().map(|o| targets.apply(o)),
            Returning::ModifiedNew => r.new.as_ref().map(|n| targets.apply(n)),
        },
        WriteKind::Delete { returning: true } => r.old.clone(),
        _ => None,
    };
    item.filter(|i| !i.is_empty()).into_iter().collect()
}

// ---------------------------------------------------------------------------------------
// Reads

/// A planned SELECT.
struct ReadPlan {
    plan: Plan,
    /// The partitions to read, in order; `None`: scan.
    partitions: Option<Vec<Value>>,
    /// Name and condition on the sort key of the target, narrowing each partition.
    sort: Option<SortTerm>,
    reverse: bool,
    /// The projected paths (output names checked unique); `None`: every attribute.
    paths: Option<Vec<(expr::Path, String)>>,
}

#[derive(Debug, Clone)]
enum SortTerm {
    Eq(Value),
    Lt(Value),
    Le(Value),
    Gt(Value),
    Ge(Value),
    Between(Value, Value),
    BeginsWith(Value),
}

impl SortTerm {
    fn as_layout(&self) -> layout::SortCondition<'_> {
        match self {
            SortTerm::Eq(v) => layout::SortCondition::Eq(v),
            SortTerm::Lt(v) => layout::SortCondition::Lt(v),
            SortTerm::Le(v) => layout::SortCondition::Le(v),
            SortTerm::Gt(v) => layout::SortCondition::Gt(v),
            SortTerm::Ge(v) => layout::SortCondition::Ge(v),
            SortTerm::Between(a, b) => layout::SortCondition::Between(a, b),
            SortTerm::BeginsWith(v) => layout::SortCondition::BeginsWith(v),
        }
    }
}

fn is_key_path(e: &Expr, name: &str) -> bool {
    matches!(e, Expr::Path(p) if p.is_top_level() && p.top() == name)
}

fn is_literal(e: &Expr) -> bool {
    matches!(e, Expr::Str(_) | Expr::Num(_) | Expr::Param(_))
}

/// A superset of the partition-key values of the items `e` can match, when `e` pins the
/// partition key by equality, IN, or ORs of those.
fn partition_values(
    e: &Expr,
    name: &str,
    b: &Binder<'_>,
) -> Result<Option<Vec<Value>>, DynamoDbError> {
    Ok(match e {
        Expr::Cmp(CmpOp::Eq, _, _) => match partiql_key_equality(e, name) {
            Some(v) if is_literal(v) => Some(vec![b.value(v, "root")?]),
            _ => None,
        },
        Expr::In(a, list) if is_key_path(a, name) && list.iter().all(is_literal) => Some(
            list.iter()
                .map(|x| b.value(x, "root"))
                .collect::<Result<Vec<_>, _>>()?,
        ),
        // Either side's set bounds the conjunction.
        Expr::And(x, y) => match partition_values(x, name, b)? {
            Some(v) => Some(v),
            None => partition_values(y, name, b)?,
        },
        Expr::Or(x, y) => match (partition_values(x, name, b)?, partition_values(y, name, b)?) {
            (Some(mut v), Some(w)) => {
                v.extend(w);
                Some(v)
            }
            _ => None,
        },
        _ => None,
    })
}

/// A range condition on the sort key among the top-level terms, if one has the key's type.
fn sort_term(
    terms: &[&Expr],
    name: &str,
    ty: KeyType,
    b: &Binder<'_>,
) -> Result<Option<SortTerm>, DynamoDbError> {
    let typed = |v: Value| (KeyType::of(&v) == Some(ty)).then_some(v);
    for t in terms {
        let found = match t {
            Expr::Cmp(op, l, r) if is_key_path(l, name) && is_literal(r) => {
                typed(b.value(r, "root")?).map(|v| (*op, v))
            }
            Expr::Cmp(op, l, r) if is_key_path(r, name) && is_literal(l) => {
                let flipped = match op {
                    CmpOp::Lt => CmpOp::Gt,
                    CmpOp::Le => CmpOp::Ge,
                    CmpOp::Gt => CmpOp::Lt,
                    CmpOp::Ge => CmpOp::Le,
                    other => *other,
                };
                typed(b.value(l, "root")?).map(|v| (flipped, v))
            }
            Expr::Between(x, lo, hi)
                if is_key_path(x, name) && is_literal(lo) && is_literal(hi) =>
            {
                if let (Some(l), Some(h)) =
                    (typed(b.value(lo, "root")?), typed(b.value(hi, "root")?))
                {
                    if l.compare_scalar(&h) != Some(std::cmp::Ordering::Greater) {
                        return Ok(Some(SortTerm::Between(l, h)));
                    }
                }
                None
            }
            Expr::Call(f, args) if f == "begins_with" && ty != KeyType::N => {
                match args.as_slice() {
                    [x, v] if is_key_path(x, name) && is_literal(v) => {
                        if let Some(v) = typed(b.value(v, "root")?) {
                            return Ok(Some(SortTerm::BeginsWith(v)));
                        }
                        None
                    }
                    _ => None,
                }
            }
            _ => None,
        };
        if let Some((op, v)) = found {
            return Ok(Some(match op {
                CmpOp::Eq => SortTerm::Eq(v),
                CmpOp::Lt => SortTerm::Lt(v),
                CmpOp::Le => SortTerm::Le(v),
                CmpOp::Gt => SortTerm::Gt(v),
                CmpOp::Ge => SortTerm::Ge(v),
                CmpOp::Ne => continue,
            }));
        }
    }
    Ok(None)
}

/// Projected paths with their output names (unique, as DynamoDB requires).
fn projected_paths(
    paths: &[PathExpr],
    b: &Binder<'_>,
) -> Result<Vec<(expr::Path, String)>, DynamoDbError> {
    let mut out: Vec<(expr::Path, String)> = Vec::with_capacity(paths.len());
    for p in paths {
        let name = p.output_name();
        if out.iter().any(|(_, n)| *n == name) {
            return Err(invalid(format!(
                "Duplicate identifiers in select clause: {name}"
            )));
        }
        out.push((b.path(p)?, name));
    }
    Ok(out)
}

fn plan_select(
    svc: &DynamoDb,
    ctx: &RequestContext,
    sel: &Select,
    b: &Binder<'_>,
    limit: Option<i32>,
    consistent: bool,
) -> Result<ReadPlan, DynamoDbError> {
    let filter = match &sel.where_ {
        Some(w) => Some(b.condition(w)?),
        None => None,
    };
    let paths = match &sel.projection {
        Projection::Star => None,
        Projection::Paths(p) => Some(projected_paths(p, b)?),
    };
    let table = svc.table(ctx, &sel.table)?;
    let index = match &sel.index {
        Some(n) => Some(query::find_index(&table, n)?),
        None => None,
    };
    if consistent && index.as_ref().is_some_and(|i| i.kind == IndexKind::Global) {
        return Err(invalid(MSG_CONSISTENT_GSI));
    }
    let (select, projection) = match &paths {
        None if index.is_some() => (SelectKind::AllProjected, None),
        None => (SelectKind::AllAttributes, None),
        Some(p) => (
            SelectKind::Specific,
            Some(expr::Projection::from_paths(
                p.iter().map(|(x, _)| x.clone()).collect(),
            )),
        ),
    };
    let schema: KeySchema = match &index {
        Some(ix) => ix.key.clone(),
        None => table.key.clone(),
    };
    let mut plan = query::plan(table, index, select, filter, projection, limit, consistent)?;
    // The projection was checked against the index; items are projected with
    // PartiQL's naming after the read.
    plan.projection = None;

    let hash = &schema.hash;
    let mut partitions = match &sel.where_ {
        Some(w) => partition_values(w, &hash.name, b)?,
        None => None,
    };
    if let Some(parts) = &mut partitions {
        // Values of another type match no item; duplicates would read twice.
        let mut unique: Vec<Value> = Vec::with_capacity(parts.len());
        for v in parts.drain(..) {
            if KeyType::of(&v) == Some(hash.ty) && !unique.contains(&v) {
                unique.push(v);
            }
        }
        if unique.len() > MAX_PARTITIONS {
            return Err(invalid(
                "Too many decomposed read operations for a given query.",
            ));
        }
        *parts = unique;
    }
    let sort = match (&partitions, &schema.range, &sel.where_) {
        (Some(_), Some(r), Some(w)) => sort_term(&partiql_conjuncts(w), &r.name, r.ty, b)?,
        _ => None,
    };
    let mut reverse = false;
    if !sel.order_by.is_empty() {
        if sel.where_.is_none() {
            return Err(invalid(
                "Must have WHERE clause in the statement when using ORDER BY clause.",
            ));
        }
        let Some(parts) = &mut partitions else {
            return Err(invalid("Must have at least one non-optional hash key condition in WHERE clause when using ORDER BY clause."));
        };
        let mut by_hash = false;
        for o in &sel.order_by {
            let name = o.path.top();
            if !o.path.is_top_level() || !schema.contains(name) {
                return Err(invalid(format!(
                    "Variable reference {name} in ORDER BY clause must be part of the primary key"
                )));
            }
            if name == hash.name {
                by_hash = true;
                parts.sort_by(|x, y| {
                    let ord = x.compare_scalar(y).unwrap_or(std::cmp::Ordering::Equal);
                    if o.descending {
                        ord.reverse()
                    } else {
                        ord
                    }
                });
            } else {
                reverse = o.descending;
            }
        }
        if parts.len() > 1 && !by_hash {
            return Err(invalid("Must have hash key in ORDER BY clause when more than one hash key condition specified in WHERE clause."));
        }
    }
    Ok(ReadPlan {
        plan,
        partitions,
        sort,
        reverse,
        paths,
    })
}

/// Projects an item with PartiQL's naming: each path's value under its last name.
fn project(paths: &Option<Vec<(expr::Path, String)>>, item: Item) -> Item {
    match paths {
        None => item,
        Some(paths) => {
            let mut out = Item::with_capacity(paths.len());
            for (p, name) in paths {
                if let Some(v) = expr::resolve_path(&item, p) {
                    out.insert(name.clone(), v.clone());
                }
            }
            out
        }
    }
}

/// Where a page resumes.
struct Resume {
    partition: usize,
    key: Option<Item>,
}

/// Digest binding a NextToken to its statement and parameters.
fn statement_digest(statement: &str, params: &[Value]) -> [u8; TOKEN_DIGEST_BYTES] {
    let mut h = Sha256::new();
    h.update((statement.len() as u64).to_be_bytes());
    h.update(statement.as_bytes());
    for p in params {
        hash_value(&mut h, p);
    }
    let full: [u8; 32] = h.finalize().into();
    let mut out = [0u8; TOKEN_DIGEST_BYTES];
    out.copy_from_slice(&full[..TOKEN_DIGEST_BYTES]);
    out
}

/// Feeds a value into a hash canonically (map keys sorted, lengths prefixed).
fn hash_value(h: &mut Sha256, v: &Value) {
    fn bytes(h: &mut Sha256, b: &[u8]) {
        h.update((b.len() as u64).to_be_bytes());
        h.update(b);
    }
    h.update([v.value_type() as u8]);
    match v {
        Value::S(s) => bytes(h, s.as_bytes()),
        Value::N(n) => bytes(h, n.to_string().as_bytes()),
        Value::B(b) => bytes(h, b),
        Value::Ss(x) => {
            h.update((x.len() as u64).to_be_bytes());
            x.iter().for_each(|s| bytes(h, s.as_bytes()));
        }
        Value::Ns(x) => {
            h.update((x.len() as u64).to_be_bytes());
            x.iter().for_each(|n| bytes(h, n.to_string().as_bytes()));
        }
        Value::Bs(x) => {
            h.update((x.len() as u64).to_be_bytes());
            x.iter().for_each(|b| bytes(h, b));
        }
        Value::L(x) => {
            h.update((x.len() as u64).to_be_bytes());
            x.iter().for_each(|e| hash_value(h, e));
        }
        Value::M(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            h.update((keys.len() as u64).to_be_bytes());
            for k in keys {
                bytes(h, k.as_bytes());
                if let Some(e) = m.get(k) {
                    hash_value(h, e);
                }
            }
        }
        Value::Null => {}
        Value::Bool(b) => h.update([u8::from(*b)]),
    }
}

fn encode_token(digest: &[u8; TOKEN_DIGEST_BYTES], resume: &Resume) -> String {
    let mut raw = Vec::with_capacity(64);
    raw.push(TOKEN_VERSION);
    raw.extend_from_slice(digest);
    raw.extend_from_slice(
        &u32::try_from(resume.partition)
            .unwrap_or(u32::MAX)
            .to_be_bytes(),
    );
    match &resume.key {
        None => raw.push(0),
        Some(k) => {
            raw.push(1);
            raw.extend_from_slice(&layout::encode_item(k));
        }
    }
    base64::engine::general_purpose::STANDARD.encode(raw)
}

fn decode_token(token: &str, digest: &[u8; TOKEN_DIGEST_BYTES]) -> Result<Resume, DynamoDbError> {
    let bad = || invalid(MSG_INVALID_TOKEN);
    let raw = base64::engine::general_purpose::STANDARD
        .decode(token)
        .map_err(|_| bad())?;
    if raw.first() != Some(&TOKEN_VERSION) {
        return Err(bad());
    }
    let stored = raw.get(1..1 + TOKEN_DIGEST_BYTES).ok_or_else(bad)?;
    let rest = raw.get(1 + TOKEN_DIGEST_BYTES..).ok_or_else(bad)?;
    let part: [u8; 4] = rest
        .get(..4)
        .and_then(|p| p.try_into().ok())
        .ok_or_else(bad)?;
    let key = match rest.get(4) {
        Some(0) => None,
        Some(1) => Some(layout::decode_item(rest.get(5..).ok_or_else(bad)?).map_err(|_| bad())?),
        _ => return Err(bad()),
    };
    // A well-formed token of another statement (or other parameters).
    if stored != digest.as_slice() {
        return Err(invalid(query::MSG_START_KEY_INVALID));
    }
    Ok(Resume {
        partition: u32::from_be_bytes(part) as usize,
        key,
    })
}

/// The store key of a resume key, checked against the plan.
fn resume_bound(plan: &Plan, key: &Item) -> Result<Vec<u8>, DynamoDbError> {
    let table_key = query::check_start_key(plan, key, query::MSG_START_KEY_INVALID)?;
    query::start_store_key(plan, key, &table_key)
}

/// One page of a SELECT.
struct SelectPage {
    items: Vec<Item>,
    resume: Option<Resume>,
    /// The summed bytes read (for capacity).
    totals: Page,
}

fn read_select(
    snapshot: &dyn nimbus_store::ReadTxn,
    rp: &mut ReadPlan,
    resume: Option<Resume>,
) -> Result<SelectPage, DynamoDbError> {
    let mut totals = Page::default();
    let mut items = Vec::new();
    let table_id = rp.plan.table.key_id;
    let Some(parts) = rp.partitions.clone() else {
        let prefix = match &rp.plan.index {
            Some(ix) => layout::index_prefix(&table_id, ix.index_id),
            None => layout::item_prefix(&table_id),
        };
        let (mut lo, hi) = layout::prefix_range(&prefix);
        if let Some(k) = resume.and_then(|r| r.key) {
            lo = Bound::Excluded(resume_bound(&rp.plan, &k)?);
        }
        let page = query::read_page(
            snapshot,
            &rp.plan,
            Range {
                lo,
                hi,
                reverse: false,
            },
        )?;
        let next = page.last_key.clone().map(|k| Resume {
            partition: 0,
            key: Some(k),
        });
        totals.table_bytes = page.table_bytes;
        totals.index_bytes = page.index_bytes;
        totals.scanned = page.scanned;
        items.extend(page.items);
        return Ok(SelectPage {
            items,
            resume: next,
            totals,
        });
    };
    let (mut i, mut key) = match resume {
        Some(r) => (r.partition, r.key),
        None => (0, None),
    };
    if i > parts.len() {
        return Err(invalid(MSG_INVALID_TOKEN));
    }
    let limit = rp.plan.limit;
    let mut next = None;
    while let Some(pv) = parts.get(i) {
        let prefix = match &rp.plan.index {
            Some(ix) => layout::index_partition_prefix(&table_id, ix.index_id, pv)?,
            None => layout::item_partition_prefix(&table_id, pv)?,
        };
        let (mut lo, mut hi) =
            layout::sort_key_range(&prefix, rp.sort.as_ref().map(SortTerm::as_layout))?;
        if let Some(k) = key.take() {
            let start = resume_bound(&rp.plan, &k)?;
            if rp.reverse {
                hi = Bound::Excluded(start);
            } else {
                lo = Bound::Excluded(start);
            }
        }
        rp.plan.limit = limit.map(|l| l.saturating_sub(totals.scanned).max(1));
        let page = query::read_page(
            snapshot,
            &rp.plan,
            Range {
                lo,
                hi,
                reverse: rp.reverse,
            },
        )?;
        totals.table_bytes += page.table_bytes;
        totals.index_bytes += page.index_bytes;
        totals.scanned += page.scanned;
        items.extend(page.items);
        if let Some(k) = page.last_key {
            next = Some(Resume {
                partition: i,
                key: Some(k),
            });
            break;
        }
        i += 1;
        let full = totals.table_bytes + totals.index_bytes >= MAX_PAGE_BYTES
            || limit.is_some_and(|l| totals.scanned >= l);
        if full && i < parts.len() {
            next = Some(Resume {
                partition: i,
                key: None,
            });
            break;
        }
    }
    rp.plan.limit = limit;
    Ok(SelectPage {
        items,
        resume: next,
        totals,
    })
}

async fn execute_select(
    svc: &DynamoDb,
    ctx: &RequestContext,
    sel: &Select,
    b: &Binder<'_>,
    digest: [u8; TOKEN_DIGEST_BYTES],
    input: (Option<i32>, bool, Option<String>, CapacityMode),
) -> Result<ExecuteStatementOutput, DynamoDbError> {
    let (limit, consistent, next_token, mode) = input;
    let resume = match &next_token {
        Some(t) => Some(decode_token(t, &digest)?),
        None => None,
    };
    let mut rp = plan_select(svc, ctx, sel, b, limit, consistent)?;
    let page = {
        let snapshot = svc.db().snapshot()?;
        read_select(snapshot.as_ref(), &mut rp, resume)?
    };
    let consumed = query::page_capacity(&rp.plan, &page.totals, mode);
    let last_evaluated_key = page
        .resume
        .as_ref()
        .and_then(|r| r.key.clone())
        .map(item_into_attrs);
    let next_token = page.resume.as_ref().map(|r| encode_token(&digest, r));
    let items = page
        .items
        .into_iter()
        .map(|it| item_into_attrs(project(&rp.paths, it)))
        .collect();
    Ok(ExecuteStatementOutput {
        items: Some(items),
        next_token,
        consumed_capacity: consumed,
        last_evaluated_key,
    })
}

/// A single-item SELECT (BatchExecuteStatement, ExecuteTransaction): the table, the key
/// and the projection. The WHERE clause must name the full primary key.
struct KeyRead {
    table: Arc<TableMeta>,
    key: PrimaryKey,
    filter: Option<Condition>,
    paths: Option<Vec<(expr::Path, String)>>,
}

fn plan_key_read(
    svc: &DynamoDb,
    ctx: &RequestContext,
    sel: &Select,
    b: &Binder<'_>,
    index_message: &str,
) -> Result<KeyRead, DynamoDbError> {
    let paths = match &sel.projection {
        Projection::Star => None,
        Projection::Paths(p) => Some(projected_paths(p, b)?),
    };
    if sel.index.is_some() {
        return Err(invalid(index_message));
    }
    let table = svc.table(ctx, &sel.table)?;
    let (key, rest) = key_from_where(&table, sel.where_.as_ref(), b)?;
    let filter = and_all(b, &rest)?;
    Ok(KeyRead {
        table,
        key,
        filter,
        paths,
    })
}

/// Reads a key read's item from `snapshot`: the projected item, and the bytes read.
fn read_key(
    snapshot: &dyn nimbus_store::ReadTxn,
    r: &KeyRead,
) -> Result<(Option<Item>, usize), DynamoDbError> {
    let item = write::read_item(snapshot, &r.table, &r.key)?;
    let bytes = item.as_ref().map_or(0, item_size);
    let item = item
        .filter(|it| r.filter.as_ref().is_none_or(|f| f.evaluate(it)))
        .map(|it| project(&r.paths, it));
    Ok((item, bytes))
}

// ---------------------------------------------------------------------------------------
// ExecuteStatement

pub async fn execute_statement(
    svc: &DynamoDb,
    ctx: &RequestContext,
    input: ExecuteStatementInput,
) -> Result<ExecuteStatementOutput, DynamoDbError> {
    let ExecuteStatementInput {
        statement,
        parameters: params,
        consistent_read,
        next_token,
        return_consumed_capacity,
        limit,
        return_values_on_condition_check_failure,
    } = input;
    let stmt = partiql::parse(&statement)?;
    let params = parameters(params)?;
    let b = Binder::new(&stmt, &params)?;
    let mode = CapacityMode::from_request(return_consumed_capacity.as_ref());
    if let Statement::Select(sel) = &stmt {
        let digest = statement_digest(&statement, &params);
        return execute_select(
            svc,
            ctx,
            sel,
            &b,
            digest,
            (limit, consistent_read == Some(true), next_token, mode),
        )
        .await;
    }
    let old_on_failure =
        crate::ops::params::old_on_failure(return_values_on_condition_check_failure.as_ref());
    let pw = plan_write(svc, ctx, &stmt, &b, old_on_failure, false)?;
    let kind = pw.kind.clone();
    let r = run_write(svc, pw).await?;
    let items = returned_items(&kind, &r)
        .into_iter()
        .map(item_into_attrs)
        .collect();
    Ok(ExecuteStatementOutput {
        items: Some(items),
        next_token: None,
        consumed_capacity: r.usage.to_consumed(mode),
        last_evaluated_key: None,
    })
}

// ---------------------------------------------------------------------------------------
// BatchExecuteStatement

/// The `Code` of a statement's error in a batch.
fn batch_code(e: &DynamoDbError) -> BatchStatementErrorCodeEnum {
    match e {
        DynamoDbError::Validation(_) => BatchStatementErrorCodeEnum::ValidationError,
        DynamoDbError::ConditionalCheckFailed { .. } => {
            BatchStatementErrorCodeEnum::ConditionalCheckFailed
        }
        DynamoDbError::DuplicateItem(_) => BatchStatementErrorCodeEnum::DuplicateItem,
        DynamoDbError::ResourceNotFound(_) => BatchStatementErrorCodeEnum::ResourceNotFound,
        DynamoDbError::TransactionConflict(_) => BatchStatementErrorCodeEnum::TransactionConflict,
        DynamoDbError::ItemCollectionSizeLimitExceeded(_) => {
            BatchStatementErrorCodeEnum::ItemCollectionSizeLimitExceeded
        }
        DynamoDbError::ProvisionedThroughputExceeded(_) => {
            BatchStatementErrorCodeEnum::ProvisionedThroughputExceeded
        }
        _ => BatchStatementErrorCodeEnum::InternalServerError,
    }
}

fn batch_error(e: DynamoDbError) -> BatchStatementResponse {
    if matches!(e, DynamoDbError::Store(_) | DynamoDbError::Internal(_)) {
        tracing::error!(error = %e, "dynamodb batch statement failed");
    }
    let code = batch_code(&e);
    let item = match &e {
        DynamoDbError::ConditionalCheckFailed { item: Some(i) } => Some(item_into_attrs(i.clone())),
        _ => None,
    };
    let message = match &e {
        DynamoDbError::Store(_) | DynamoDbError::Internal(_) => "Internal server error".into(),
        other => other.to_string(),
    };
    BatchStatementResponse {
        error: Some(BatchStatementError {
            code: Some(code),
            message: Some(message),
            item,
        }),
        table_name: None,
        item: None,
    }
}

pub async fn batch_execute_statement(
    svc: &DynamoDb,
    ctx: &RequestContext,
    input: BatchExecuteStatementInput,
) -> Result<BatchExecuteStatementOutput, DynamoDbError> {
    let BatchExecuteStatementInput {
        statements,
        return_consumed_capacity,
    } = input;
    let mode = CapacityMode::from_request(return_consumed_capacity.as_ref());
    // Parse everything first: the batch is reads only or writes only.
    let parsed: Vec<_> = statements
        .into_iter()
        .map(|s| {
            let stmt = partiql::parse(&s.statement);
            (stmt, s)
        })
        .collect();
    let reads = parsed
        .iter()
        .filter(|(s, _)| matches!(s, Ok(st) if st.is_read()))
        .count();
    let writes = parsed
        .iter()
        .filter(|(s, _)| matches!(s, Ok(st) if !st.is_read()))
        .count();
    if reads > 0 && writes > 0 {
        return Err(invalid(
            "Batch statements must all be reads or all be writes; mixing SELECT with INSERT, UPDATE or DELETE is not supported",
        ));
    }
    let mut usage = UsageSet::default();
    let mut responses = Vec::with_capacity(parsed.len());
    if reads > 0 {
        // Every read sees one snapshot; nothing here awaits while it is held.
        let snapshot = svc.db().snapshot()?;
        for (stmt, req) in parsed {
            let result = (|| {
                let stmt = stmt?;
                let Statement::Select(sel) = &stmt else {
                    return Err(DynamoDbError::Internal("a write in a read batch".into()));
                };
                let params = parameters(req.parameters)?;
                let b = Binder::new(&stmt, &params)?;
                let r = plan_key_read(
                    svc,
                    ctx,
                    sel,
                    &b,
                    "This operation is not supported on an index",
                )?;
                let (item, bytes) = read_key(snapshot.as_ref(), &r)?;
                let read_mode = if req.consistent_read == Some(true) {
                    ReadMode::Strong
                } else {
                    ReadMode::Eventual
                };
                usage.table(&r.table.name).read_item(bytes, read_mode);
                Ok(BatchStatementResponse {
                    error: None,
                    table_name: Some(r.table.name.clone()),
                    item: item.map(item_into_attrs),
                })
            })();
            responses.push(result.unwrap_or_else(batch_error));
        }
    } else {
        for (stmt, req) in parsed {
            let result = async {
                let stmt = stmt?;
                let params = parameters(req.parameters)?;
                let b = Binder::new(&stmt, &params)?;
                let old_on_failure = crate::ops::params::old_on_failure(
                    req.return_values_on_condition_check_failure.as_ref(),
                );
                let pw = plan_write(svc, ctx, &stmt, &b, old_on_failure, false)?;
                let name = pw.w.table.name.clone();
                let r = run_write(svc, pw).await?;
                usage.table(&name).absorb(r.usage);
                Ok::<_, DynamoDbError>(BatchStatementResponse {
                    error: None,
                    table_name: Some(name),
                    item: None,
                })
            }
            .await;
            responses.push(result.unwrap_or_else(batch_error));
        }
    }
    Ok(BatchExecuteStatementOutput {
        responses: Some(responses),
        consumed_capacity: usage.to_consumed(mode),
    })
}

// ---------------------------------------------------------------------------------------
// ExecuteTransaction

/// Request-level errors of one statement name its position, as DynamoDB does.
fn in_statement(i: usize, e: DynamoDbError) -> DynamoDbError {
    match e {
        DynamoDbError::Validation(m) => {
            DynamoDbError::Validation(format!("Validation failed in TransactStatements[{i}]: {m}"))
        }
        other => other,
    }
}

/// The hash that makes two ExecuteTransaction requests "the same" for a token.
fn transaction_hash(stmts: &[(String, Vec<Value>, bool)]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update((stmts.len() as u64).to_be_bytes());
    for (text, params, old) in stmts {
        h.update((text.len() as u64).to_be_bytes());
        h.update(text.as_bytes());
        h.update((params.len() as u64).to_be_bytes());
        for p in params {
            hash_value(&mut h, p);
        }
        h.update([u8::from(*old)]);
    }
    h.finalize().into()
}

fn cancellation_reason(
    kind: &WriteKind,
    r: &Result<crate::ops::items::Evaluated, WriteFailure>,
) -> CancellationReason {
    let reason = |code: &str, message: Option<String>, item: Option<Item>| CancellationReason {
        code: code.into(),
        message,
        item,
    };
    match (kind, r) {
        (_, Ok(_)) => reason("None", None, None),
        (WriteKind::Insert, Err(WriteFailure::ConditionFailed(_))) => {
            reason("DuplicateItem", Some(MSG_DUPLICATE_ITEM.into()), None)
        }
        (_, Err(WriteFailure::ConditionFailed(item))) => reason(
            "ConditionalCheckFailed",
            Some(crate::ops::items::MSG_CONDITIONAL_CHECK_FAILED.into()),
            item.clone(),
        ),
        (_, Err(WriteFailure::Invalid(e))) => reason("ValidationError", Some(e.to_string()), None),
    }
}

enum TxOutcome {
    Applied(UsageSet),
    Replayed,
}

pub async fn execute_transaction(
    svc: &DynamoDb,
    ctx: &RequestContext,
    input: ExecuteTransactionInput,
) -> Result<ExecuteTransactionOutput, DynamoDbError> {
    let ExecuteTransactionInput {
        transact_statements,
        client_request_token,
        return_consumed_capacity,
    } = input;
    let mode = CapacityMode::from_request(return_consumed_capacity.as_ref());
    let mut parsed = Vec::with_capacity(transact_statements.len());
    let mut canonical = Vec::with_capacity(transact_statements.len());
    for (i, s) in transact_statements.into_iter().enumerate() {
        let stmt = partiql::parse(&s.statement).map_err(|e| in_statement(i, e))?;
        let params = parameters(s.parameters).map_err(|e| in_statement(i, e))?;
        let old_on_failure =
            crate::ops::params::old_on_failure(s.return_values_on_condition_check_failure.as_ref());
        canonical.push((s.statement, params.clone(), old_on_failure));
        parsed.push((stmt, params, old_on_failure));
    }
    let reads = parsed.iter().filter(|(s, _, _)| s.is_read()).count();
    if reads > 0 && reads < parsed.len() {
        return Err(invalid(MSG_MIXED_TRANSACTION));
    }
    if reads > 0 {
        let mut plans = Vec::with_capacity(parsed.len());
        for (i, (stmt, params, _)) in parsed.iter().enumerate() {
            let Statement::Select(sel) = stmt else {
                return Err(invalid(MSG_MIXED_TRANSACTION));
            };
            let plan = Binder::new(stmt, params)
                .and_then(|b| {
                    plan_key_read(
                        svc,
                        ctx,
                        sel,
                        &b,
                        "Reads on indices are not supported within transactions.",
                    )
                })
                .map_err(|e| match e {
                    DynamoDbError::Validation(m) if m == MSG_INCOMPLETE_KEY => invalid("Select statements within ExecuteTransaction must specify the primary key in the where clause."),
                    other => other,
                })
                .map_err(|e| in_statement(i, e))?;
            plans.push(plan);
        }
        let snapshot = svc.db().snapshot()?;
        let mut usage = UsageSet::default();
        let mut responses = Vec::with_capacity(plans.len());
        for r in &plans {
            let (item, bytes) = read_key(snapshot.as_ref(), r)?;
            usage
                .table(&r.table.name)
                .read_item(bytes, ReadMode::Transactional);
            responses.push(ItemResponse {
                item: item.map(item_into_attrs),
            });
        }
        return Ok(ExecuteTransactionOutput {
            responses: Some(responses),
            consumed_capacity: usage.to_consumed(mode),
        });
    }

    let mut writes: Vec<PlannedWrite> = Vec::with_capacity(parsed.len());
    let mut targets: Vec<([u8; 16], Vec<u8>)> = Vec::with_capacity(parsed.len());
    for (i, (stmt, params, old_on_failure)) in parsed.iter().enumerate() {
        let pw = Binder::new(stmt, params)
            .and_then(|b| plan_write(svc, ctx, stmt, &b, *old_on_failure, true))
            .map_err(|e| in_statement(i, e))?;
        let target = (pw.w.table.key_id, pw.w.key.store_key(&pw.w.table)?);
        if targets.contains(&target) {
            return Err(invalid(transact::MSG_MULTIPLE_OPERATIONS));
        }
        targets.push(target);
        writes.push(pw);
    }
    let put_bytes: usize = writes
        .iter()
        .map(|pw| match &pw.w.change {
            Change::Put(item) => item_size(item),
            _ => 0,
        })
        .sum();
    if put_bytes > transact::MAX_TRANSACTION_ITEM_BYTES {
        return Err(invalid(
            "Transaction request size has exceeded the maximum allowed size of 4 MB",
        ));
    }
    // ExecuteTransaction tokens live beside TransactWriteItems' ones, in their own
    // namespace, so the two APIs never see each other's tokens.
    let token = client_request_token.map(|t| {
        (
            transact::token_suffix(&ctx.account_id, &ctx.region, &format!("partiql/{t}")),
            transaction_hash(&canonical),
        )
    });
    let now_ms = svc.now_millis();
    let cx = ChangeCtx::user(now_ms);
    let written_tables: Vec<Arc<TableMeta>> = writes.iter().map(|pw| pw.w.table.clone()).collect();
    let outcome = svc
        .db()
        .write(move |txn| {
            if let Some((suffix, hash)) = &token {
                if let Some(rec) = txn.get(&[layout::TOKEN_PREFIX, suffix.as_slice()].concat())? {
                    let (stored, expiry) = transact::decode_token_record(&rec)?;
                    if expiry > now_ms {
                        if stored == *hash {
                            return Ok(TxOutcome::Replayed);
                        }
                        return Err(DynamoDbError::IdempotentParameterMismatch(
                            transact::MSG_IDEMPOTENT_MISMATCH.into(),
                        ));
                    }
                }
            }
            let mut evaluated = Vec::with_capacity(writes.len());
            for pw in &writes {
                evaluated.push(pw.w.evaluate(txn)?);
            }
            if evaluated.iter().any(Result::is_err) {
                let reasons: Vec<CancellationReason> = writes
                    .iter()
                    .zip(evaluated.iter())
                    .map(|(pw, r)| cancellation_reason(&pw.kind, r))
                    .collect();
                let codes: Vec<&str> = reasons.iter().map(|r| r.code.as_str()).collect();
                return Err(DynamoDbError::TransactionCanceled {
                    message: format!(
                        "Transaction cancelled, please refer cancellation reasons for specific reasons [{}]",
                        codes.join(", ")
                    ),
                    reasons,
                });
            }
            let mut usage = UsageSet::default();
            for (pw, ev) in writes.iter().zip(evaluated) {
                let Ok(ev) = ev else { continue };
                pw.w.apply(txn, &ev, &cx)?;
                pw.w.record_capacity(usage.table(&pw.w.table.name), &ev, true)?;
            }
            if let Some((suffix, hash)) = &token {
                transact::remember_token(txn, suffix, hash, now_ms)?;
            }
            Ok(TxOutcome::Applied(usage))
        })
        .await?;
    svc.notify_bus_for(written_tables.iter().map(|t| &**t));
    let usage = match outcome {
        TxOutcome::Applied(u) => u,
        TxOutcome::Replayed => UsageSet::default(),
    };
    Ok(ExecuteTransactionOutput {
        responses: None,
        consumed_capacity: usage.to_consumed(mode),
    })
}
