//! Key conditions of a Query: equality on the partition key and at most one condition on
//! the sort key, joined by AND. Built from a checked KeyConditionExpression (after the
//! request's unused-placeholder check, as AWS orders its errors) or from legacy
//! KeyConditions.

use std::cmp::Ordering;

use super::ast::{CmpOp, Condition, Operand, Path};
use crate::error::DynamoDbError;
use crate::keycodec::KeyType;
use crate::value::Value;

/// The key attributes of the table or index being queried.
#[derive(Debug, Clone, Copy)]
pub struct KeySchema<'s> {
    pub partition: (&'s str, KeyType),
    pub sort: Option<(&'s str, KeyType)>,
}

/// The condition on the sort key.
#[derive(Debug, Clone, PartialEq)]
pub enum SortCondition {
    Eq(Value),
    Lt(Value),
    Le(Value),
    Gt(Value),
    Ge(Value),
    Between(Value, Value),
    BeginsWith(Value),
}

impl SortCondition {
    /// Whether a sort key value satisfies the condition.
    pub fn matches(&self, v: &Value) -> bool {
        let cmp = |x: &Value| v.compare_scalar(x);
        match self {
            SortCondition::Eq(x) => cmp(x) == Some(Ordering::Equal),
            SortCondition::Lt(x) => cmp(x) == Some(Ordering::Less),
            SortCondition::Le(x) => matches!(cmp(x), Some(Ordering::Less | Ordering::Equal)),
            SortCondition::Gt(x) => cmp(x) == Some(Ordering::Greater),
            SortCondition::Ge(x) => matches!(cmp(x), Some(Ordering::Greater | Ordering::Equal)),
            SortCondition::Between(lo, hi) => {
                matches!(cmp(lo), Some(Ordering::Greater | Ordering::Equal))
                    && matches!(cmp(hi), Some(Ordering::Less | Ordering::Equal))
            }
            SortCondition::BeginsWith(p) => match (v, p) {
                (Value::S(s), Value::S(t)) => s.as_bytes().starts_with(t.as_bytes()),
                (Value::B(s), Value::B(t)) => s.starts_with(t),
                _ => false,
            },
        }
    }

    fn values(&self) -> Vec<&Value> {
        match self {
            SortCondition::Eq(x)
            | SortCondition::Lt(x)
            | SortCondition::Le(x)
            | SortCondition::Gt(x)
            | SortCondition::Ge(x)
            | SortCondition::BeginsWith(x) => vec![x],
            SortCondition::Between(a, b) => vec![a, b],
        }
    }
}

/// A Query's key condition.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyCondition {
    pub partition_name: String,
    pub partition_value: Value,
    pub sort: Option<(String, SortCondition)>,
}

fn invalid(msg: impl Into<String>) -> DynamoDbError {
    DynamoDbError::Validation(msg.into())
}

/// One simple condition on one attribute, before the schema is considered.
struct Part<'c> {
    path: &'c Path,
    cond: PartCond<'c>,
}

enum PartCond<'c> {
    Cmp(CmpOp, &'c Operand),
    Between(&'c Operand, &'c Operand),
    BeginsWith(&'c Operand),
}

fn flatten<'c>(c: &'c Condition, out: &mut Vec<&'c Condition>) -> Result<(), DynamoDbError> {
    let op = |name: &str| {
        invalid(format!(
            "Invalid operator used in KeyConditionExpression: {name}"
        ))
    };
    match c {
        Condition::And(a, b) => {
            flatten(a, out)?;
            flatten(b, out)
        }
        Condition::Or(..) => Err(op("OR")),
        Condition::Not(_) => Err(op("NOT")),
        Condition::In(..) => Err(op("IN")),
        Condition::Cmp(CmpOp::Ne, ..) => Err(op("<>")),
        Condition::AttributeExists(_) => Err(op("attribute_exists")),
        Condition::AttributeNotExists(_) => Err(op("attribute_not_exists")),
        Condition::AttributeType(..) => Err(op("attribute_type")),
        Condition::Contains(..) => Err(op("contains")),
        Condition::Cmp(..) | Condition::Between(..) | Condition::BeginsWith(..) => {
            out.push(c);
            Ok(())
        }
    }
}

fn nested(o: &Operand) -> bool {
    !matches!(o, Operand::Path(_) | Operand::Value(_))
}

/// AWS's error for a key condition that does not constrain the key schema as a Query
/// needs: it names the partition key when the condition does not mention it, otherwise
/// the sort key (or the partition key again on a table without one).
fn missed_key(schema: &KeySchema<'_>, mentions_partition: bool) -> DynamoDbError {
    let name = match (schema.sort, mentions_partition) {
        (Some((sort, _)), true) => sort,
        _ => schema.partition.0,
    };
    invalid(format!("Query condition missed key schema element: {name}"))
}

fn to_part<'c>(
    c: &'c Condition,
    missed: &dyn Fn() -> DynamoDbError,
) -> Result<Part<'c>, DynamoDbError> {
    match c {
        Condition::Cmp(op, a, b) => {
            if nested(a) || nested(b) {
                return Err(invalid(
                    "KeyConditionExpressions cannot contain nested operations",
                ));
            }
            match (a, b) {
                (Operand::Path(_), Operand::Path(_)) => Err(invalid(
                    "Invalid condition in KeyConditionExpression: Multiple attribute names used in one condition",
                )),
                (Operand::Path(p), v) => Ok(Part {
                    path: p,
                    cond: PartCond::Cmp(*op, v),
                }),
                (v, Operand::Path(p)) => Ok(Part {
                    path: p,
                    cond: PartCond::Cmp(op.flipped(), v),
                }),
                _ => Err(invalid(
                    "Invalid condition in KeyConditionExpression: No key attribute specified",
                )),
            }
        }
        Condition::Between(a, lo, hi) => {
            if nested(a) || nested(lo) || nested(hi) {
                return Err(invalid(
                    "KeyConditionExpressions cannot contain nested operations",
                ));
            }
            let Operand::Path(p) = a else {
                return Err(invalid(
                    "Invalid condition in KeyConditionExpression: BETWEEN operator must have the key attribute as its first operand",
                ));
            };
            if matches!(lo, Operand::Path(_)) || matches!(hi, Operand::Path(_)) {
                return Err(invalid(
                    "Invalid condition in KeyConditionExpression: Multiple attribute names used in one condition",
                ));
            }
            Ok(Part {
                path: p,
                cond: PartCond::Between(lo, hi),
            })
        }
        Condition::BeginsWith(a, b) => {
            if nested(a) || nested(b) {
                return Err(invalid(
                    "KeyConditionExpressions cannot contain nested operations",
                ));
            }
            let Operand::Path(p) = a else {
                return Err(invalid(
                    "Invalid condition in KeyConditionExpression: begins_with operator must have the key attribute as its first operand",
                ));
            };
            if matches!(b, Operand::Path(_)) {
                return Err(invalid(
                    "Invalid condition in KeyConditionExpression: Multiple attribute names used in one condition",
                ));
            }
            Ok(Part {
                path: p,
                cond: PartCond::BeginsWith(b),
            })
        }
        _ => Err(missed()),
    }
}

fn value_of(o: &Operand, missed: &dyn Fn() -> DynamoDbError) -> Result<Value, DynamoDbError> {
    match o {
        Operand::Value(v) => Ok(v.clone()),
        _ => Err(missed()),
    }
}

fn check_key_value(name: &str, ty: KeyType, v: &Value) -> Result<(), DynamoDbError> {
    if KeyType::of(v) != Some(ty) {
        return Err(invalid(
            "One or more parameter values were invalid: Condition parameter type does not match schema type",
        ));
    }
    match v {
        Value::S(s) if s.is_empty() => Err(invalid(format!(
            "One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty string value. Key: {name}"
        ))),
        Value::B(b) if b.is_empty() => Err(invalid(format!(
            "One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty binary value. Key: {name}"
        ))),
        _ => Ok(()),
    }
}

impl KeyCondition {
    /// Converts a checked KeyConditionExpression against the key schema, with AWS's
    /// errors for everything a key condition may not do.
    pub fn from_condition(
        c: &Condition,
        schema: &KeySchema<'_>,
    ) -> Result<KeyCondition, DynamoDbError> {
        let (pk_name, pk_type) = schema.partition;
        let mut mentions_partition = false;
        c.for_each_path(&mut |p| mentions_partition |= p.is_top_level() && p.top() == pk_name);
        let missed = || missed_key(schema, mentions_partition);
        let mut flat = Vec::new();
        flatten(c, &mut flat)?;
        let mut parts = Vec::with_capacity(flat.len());
        for c in flat {
            parts.push(to_part(c, &missed)?);
        }
        let is_key = |n: &str| n == pk_name || schema.sort.is_some_and(|(s, _)| s == n);
        for p in &parts {
            if !p.path.is_top_level() && is_key(p.path.top()) {
                return Err(invalid(format!(
                    "Key attributes must be scalars; list random access '[]' and map lookup '.' are not allowed: Key: {}",
                    p.path.top()
                )));
            }
        }
        for (i, p) in parts.iter().enumerate() {
            if parts[..i].iter().any(|q| q.path.top() == p.path.top()) {
                return Err(invalid(
                    "KeyConditionExpressions must only contain one condition per key",
                ));
            }
        }
        let pk = parts.iter().find(|p| p.path.top() == pk_name);
        let sk = schema
            .sort
            .and_then(|(s, _)| parts.iter().find(|p| p.path.top() == s));
        let extra = parts.len() - usize::from(pk.is_some()) - usize::from(sk.is_some());
        let Some(pk) = pk else {
            return Err(missed());
        };
        if extra > 0 || !pk.path.is_top_level() {
            return Err(missed());
        }
        let PartCond::Cmp(CmpOp::Eq, pv) = pk.cond else {
            return Err(invalid("Query key condition not supported"));
        };
        let partition_value = value_of(pv, &missed)?;
        check_key_value(pk_name, pk_type, &partition_value)?;
        let sort = match (sk, schema.sort) {
            (Some(sk), Some((sk_name, sk_type))) => {
                let cond = match sk.cond {
                    PartCond::Cmp(op, v) => {
                        let v = value_of(v, &missed)?;
                        match op {
                            CmpOp::Eq => SortCondition::Eq(v),
                            CmpOp::Lt => SortCondition::Lt(v),
                            CmpOp::Le => SortCondition::Le(v),
                            CmpOp::Gt => SortCondition::Gt(v),
                            CmpOp::Ge => SortCondition::Ge(v),
                            CmpOp::Ne => {
                                return Err(invalid(
                                    "Invalid operator used in KeyConditionExpression: <>",
                                ))
                            }
                        }
                    }
                    PartCond::Between(lo, hi) => {
                        SortCondition::Between(value_of(lo, &missed)?, value_of(hi, &missed)?)
                    }
                    PartCond::BeginsWith(p) => SortCondition::BeginsWith(value_of(p, &missed)?),
                };
                for v in cond.values() {
                    check_key_value(sk_name, sk_type, v)?;
                }
                Some((sk_name.to_string(), cond))
            }
            _ => None,
        };
        Ok(KeyCondition {
            partition_name: pk_name.to_string(),
            partition_value,
            sort,
        })
    }

    /// Whether an item's key values satisfy the condition.
    pub fn matches(&self, item: &crate::value::Item) -> bool {
        if item.get(&self.partition_name) != Some(&self.partition_value) {
            return false;
        }
        match &self.sort {
            None => true,
            Some((name, cond)) => item.get(name).is_some_and(|v| cond.matches(v)),
        }
    }
}

/// Rejects a nested path (`pk.x`, `pk[0]`) on a key attribute in a condition, filter or
/// projection ("Key attributes must be scalars ...").
pub fn check_key_paths<'p>(
    paths: impl IntoIterator<Item = &'p Path>,
    key_names: &[&str],
) -> Result<(), DynamoDbError> {
    for p in paths {
        if !p.is_top_level() && key_names.contains(&p.top()) {
            return Err(invalid(format!(
                "Key attributes must be scalars; list random access '[]' and map lookup '.' are not allowed: Key: {}",
                p.top()
            )));
        }
    }
    Ok(())
}

/// A Query's FilterExpression may not use the key attributes.
pub fn check_filter_has_no_keys(
    filter: &Condition,
    key_names: &[&str],
) -> Result<(), DynamoDbError> {
    let mut found: Option<String> = None;
    filter.for_each_path(&mut |p| {
        if found.is_none() && key_names.contains(&p.top()) {
            found = Some(p.top().to_string());
        }
    });
    match found {
        Some(name) => Err(invalid(format!(
            "Filter Expression can only contain non-primary key attributes: Primary key attribute: {name}"
        ))),
        None => Ok(()),
    }
}

/// UpdateExpression/AttributeUpdates may not write a key attribute.
pub fn check_update_keys(
    update: &super::ast::Update,
    key_names: &[&str],
) -> Result<(), DynamoDbError> {
    for t in update.top_level_targets() {
        if key_names.contains(&t) {
            return Err(invalid(format!(
                "One or more parameter values were invalid: Cannot update attribute {t}. This attribute is part of the key"
            )));
        }
    }
    Ok(())
}
