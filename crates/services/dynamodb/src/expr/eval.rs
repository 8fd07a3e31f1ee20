//! Evaluating conditions against an item, with DynamoDB's semantics: a missing attribute
//! or operands of different types make a comparison false (never an error); `<>` is true
//! unless both sides exist and are equal.

use std::borrow::Cow;
use std::cmp::Ordering;

use super::ast::{CmpOp, Condition, Operand, Path, PathElem};
use crate::number::Number;
use crate::value::{Item, Value, ValueType};

/// The value at a document path, if the item has one there.
pub fn resolve_path<'i>(item: &'i Item, path: &Path) -> Option<&'i Value> {
    let mut elems = path.elems().iter();
    let Some(PathElem::Attr(top)) = elems.next() else {
        return None;
    };
    let mut cur = item.get(top)?;
    for e in elems {
        cur = match (e, cur) {
            (PathElem::Attr(k), Value::M(m)) => m.get(k)?,
            (PathElem::Index(i), Value::L(l)) => l.get(*i)?,
            _ => return None,
        };
    }
    Some(cur)
}

/// `size()` of a value: characters (UTF-16 units, as AWS's Java service counts them) of a
/// string, bytes of a binary, members of a set, list or map; none for other types.
pub fn size_of(v: &Value) -> Option<usize> {
    Some(match v {
        Value::S(s) => s.encode_utf16().count(),
        Value::B(b) => b.len(),
        Value::Ss(x) => x.len(),
        Value::Ns(x) => x.len(),
        Value::Bs(x) => x.len(),
        Value::L(x) => x.len(),
        Value::M(x) => x.len(),
        Value::N(_) | Value::Null | Value::Bool(_) => return None,
    })
}

/// The value of a condition operand for an item (`None`: no value, e.g. a missing path).
pub fn operand_value<'a>(o: &'a Operand, item: &'a Item) -> Option<Cow<'a, Value>> {
    match o {
        Operand::Path(p) => resolve_path(item, p).map(Cow::Borrowed),
        Operand::Value(v) => Some(Cow::Borrowed(v)),
        Operand::Size(inner) => {
            let v = operand_value(inner, item)?;
            let n = size_of(&v)?;
            Some(Cow::Owned(Value::N(Number::from_i64(
                i64::try_from(n).unwrap_or(i64::MAX),
            ))))
        }
        // Update-only operands never appear in a checked condition.
        Operand::IfNotExists(..) | Operand::ListAppend(..) | Operand::Arith { .. } => None,
    }
}

/// Whether `hay` contains `needle` as a contiguous run.
fn bytes_contain(hay: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || hay.windows(needle.len()).any(|w| w == needle)
}

fn contains(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::S(s), Value::S(t)) => s.contains(t.as_str()),
        (Value::B(s), Value::B(t)) => bytes_contain(s, t),
        (Value::Ss(set), Value::S(t)) => set.iter().any(|x| x == t),
        (Value::Ns(set), Value::N(t)) => set.iter().any(|x| x == t),
        (Value::Bs(set), Value::B(t)) => set.iter().any(|x| x == t),
        (Value::L(list), v) => list.iter().any(|x| x == v),
        _ => false,
    }
}

fn begins_with(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::S(s), Value::S(t)) => s.as_bytes().starts_with(t.as_bytes()),
        (Value::B(s), Value::B(t)) => s.starts_with(t),
        _ => false,
    }
}

impl Condition {
    /// Evaluates the condition against an item (an absent item is an empty one).
    pub fn evaluate(&self, item: &Item) -> bool {
        match self {
            Condition::And(a, b) => a.evaluate(item) && b.evaluate(item),
            Condition::Or(a, b) => a.evaluate(item) || b.evaluate(item),
            Condition::Not(a) => !a.evaluate(item),
            Condition::Cmp(op, a, b) => {
                let (va, vb) = (operand_value(a, item), operand_value(b, item));
                match op {
                    CmpOp::Eq => matches!((&va, &vb), (Some(x), Some(y)) if x == y),
                    CmpOp::Ne => !matches!((&va, &vb), (Some(x), Some(y)) if x == y),
                    _ => {
                        let ord = match (&va, &vb) {
                            (Some(x), Some(y)) => x.compare_scalar(y),
                            _ => None,
                        };
                        match ord {
                            None => false,
                            Some(o) => match op {
                                CmpOp::Lt => o == Ordering::Less,
                                CmpOp::Le => o != Ordering::Greater,
                                CmpOp::Gt => o == Ordering::Greater,
                                CmpOp::Ge => o != Ordering::Less,
                                CmpOp::Eq | CmpOp::Ne => false,
                            },
                        }
                    }
                }
            }
            Condition::Between(a, lo, hi) => {
                let (Some(v), Some(l), Some(h)) = (
                    operand_value(a, item),
                    operand_value(lo, item),
                    operand_value(hi, item),
                ) else {
                    return false;
                };
                matches!(l.compare_scalar(&v), Some(Ordering::Less | Ordering::Equal))
                    && matches!(v.compare_scalar(&h), Some(Ordering::Less | Ordering::Equal))
            }
            Condition::In(a, list) => {
                let Some(v) = operand_value(a, item) else {
                    return false;
                };
                list.iter()
                    .any(|o| operand_value(o, item).is_some_and(|x| *x == *v))
            }
            Condition::AttributeExists(p) => resolve_path(item, p).is_some(),
            Condition::AttributeNotExists(p) => resolve_path(item, p).is_none(),
            Condition::AttributeType(p, t) => {
                let Some(v) = resolve_path(item, p) else {
                    return false;
                };
                match operand_value(t, item).as_deref() {
                    Some(Value::S(name)) => ValueType::parse(name) == Some(v.value_type()),
                    _ => false,
                }
            }
            Condition::BeginsWith(a, b) => match (operand_value(a, item), operand_value(b, item)) {
                (Some(x), Some(y)) => begins_with(&x, &y),
                _ => false,
            },
            Condition::Contains(a, b) => match (operand_value(a, item), operand_value(b, item)) {
                (Some(x), Some(y)) => contains(&x, &y),
                _ => false,
            },
        }
    }
}
