//! Applying a checked update to (a copy of) an item.
//!
//! Every value is computed from the item as it was before the update (so `SET a = b, b = a`
//! swaps). Errors come in AWS's order: a target whose parent exists but is the wrong kind
//! of container; then operand types anywhere; then, clause by clause from the last, targets
//! whose parent is missing and SET operands that refer to missing attributes; then numbers
//! out of range. List removals use positions from before the update, and writes past the
//! end of a list append, in index order.

use std::collections::HashMap;

use super::ast::{Operand, Path, PathElem, Projection, Update, UpdateAction};
use super::eval::{resolve_path, size_of};
use crate::error::DynamoDbError;
use crate::number::{Number, NumberError};
use crate::value::{Item, Value};

pub const MSG_UPDATE_TYPE: &str = "An operand in the update expression has an incorrect data type";
pub const MSG_UPDATE_MISSING: &str =
    "The provided expression refers to an attribute that does not exist in the item";
pub const MSG_UPDATE_PATH: &str =
    "The document path provided in the update expression is invalid for update";
/// Legacy AttributeUpdates' wording for a type mismatch.
pub const MSG_LEGACY_TYPE: &str = "Type mismatch for attribute to update";

enum Fail {
    Type,
    Missing,
    Number(NumberError),
}

fn validation(msg: &str) -> DynamoDbError {
    DynamoDbError::Validation(msg.to_string())
}

fn parent_of(path: &Path) -> Option<(&[PathElem], &PathElem)> {
    let (last, parent) = path.elems().split_last()?;
    if parent.is_empty() {
        return None;
    }
    Some((parent, last))
}

fn resolve_elems<'i>(item: &'i Item, elems: &[PathElem]) -> Option<&'i Value> {
    let (PathElem::Attr(top), rest) = elems.split_first()? else {
        return None;
    };
    let mut cur = item.get(top)?;
    for e in rest {
        cur = match (e, cur) {
            (PathElem::Attr(k), Value::M(m)) => m.get(k)?,
            (PathElem::Index(i), Value::L(l)) => l.get(*i)?,
            _ => return None,
        };
    }
    Some(cur)
}

fn resolve_elems_mut<'i>(item: &'i mut Item, elems: &[PathElem]) -> Option<&'i mut Value> {
    let (PathElem::Attr(top), rest) = elems.split_first()? else {
        return None;
    };
    let mut cur = item.get_mut(top)?;
    for e in rest {
        cur = match (e, cur) {
            (PathElem::Attr(k), Value::M(m)) => m.get_mut(k)?,
            (PathElem::Index(i), Value::L(l)) => l.get_mut(*i)?,
            _ => return None,
        };
    }
    Some(cur)
}

/// Whether the place a path names can be written: a top-level attribute always; otherwise
/// the parent must exist and be a map (before a name) or a list (before an index).
fn writable(item: &Item, path: &Path) -> bool {
    let Some((parent, last)) = parent_of(path) else {
        return true;
    };
    matches!(
        (resolve_elems(item, parent), last),
        (Some(Value::M(_)), PathElem::Attr(_)) | (Some(Value::L(_)), PathElem::Index(_))
    )
}

fn set_value(o: &Operand, item: &Item) -> Result<Value, Fail> {
    match o {
        Operand::Value(v) => Ok(v.clone()),
        Operand::Path(p) => resolve_path(item, p).cloned().ok_or(Fail::Missing),
        Operand::IfNotExists(p, b) => match resolve_path(item, p) {
            Some(v) => Ok(v.clone()),
            None => set_value(b, item),
        },
        Operand::ListAppend(a, b) => {
            let Value::L(mut x) = set_value(a, item)? else {
                return Err(Fail::Type);
            };
            let Value::L(y) = set_value(b, item)? else {
                return Err(Fail::Type);
            };
            x.extend(y);
            Ok(Value::L(x))
        }
        Operand::Arith { plus, a, b } => {
            let Value::N(x) = set_value(a, item)? else {
                return Err(Fail::Type);
            };
            let Value::N(y) = set_value(b, item)? else {
                return Err(Fail::Type);
            };
            let r = if *plus {
                x.checked_add(&y)
            } else {
                x.checked_sub(&y)
            };
            r.map(Value::N).map_err(Fail::Number)
        }
        Operand::Size(inner) => {
            let v = set_value(inner, item)?;
            let n = size_of(&v).ok_or(Fail::Type)?;
            Ok(Value::N(Number::from_i64(
                i64::try_from(n).unwrap_or(i64::MAX),
            )))
        }
    }
}

/// Set union keeping the existing order, then new members in the operand's order.
fn set_union(cur: &Value, add: &Value) -> Option<Value> {
    Some(match (cur, add) {
        (Value::Ss(a), Value::Ss(b)) => {
            let mut out = a.clone();
            out.extend(b.iter().filter(|x| !a.contains(x)).cloned());
            Value::Ss(out)
        }
        (Value::Ns(a), Value::Ns(b)) => {
            let mut out = a.clone();
            out.extend(b.iter().filter(|x| !a.contains(x)).copied());
            Value::Ns(out)
        }
        (Value::Bs(a), Value::Bs(b)) => {
            let mut out = a.clone();
            out.extend(b.iter().filter(|x| !a.contains(x)).cloned());
            Value::Bs(out)
        }
        _ => return None,
    })
}

/// `cur` minus `del`; `None` when the types differ. An empty result means "remove".
fn set_minus(cur: &Value, del: &Value) -> Option<Value> {
    Some(match (cur, del) {
        (Value::Ss(a), Value::Ss(b)) => {
            Value::Ss(a.iter().filter(|x| !b.contains(x)).cloned().collect())
        }
        (Value::Ns(a), Value::Ns(b)) => {
            Value::Ns(a.iter().filter(|x| !b.contains(x)).copied().collect())
        }
        (Value::Bs(a), Value::Bs(b)) => {
            Value::Bs(a.iter().filter(|x| !b.contains(x)).cloned().collect())
        }
        _ => return None,
    })
}

fn is_empty_set(v: &Value) -> bool {
    match v {
        Value::Ss(s) => s.is_empty(),
        Value::Ns(s) => s.is_empty(),
        Value::Bs(s) => s.is_empty(),
        _ => false,
    }
}

/// Whether ADD of `add` onto an existing `cur` is type-correct.
fn add_compatible(cur: &Value, add: &Value) -> bool {
    matches!(
        (cur, add),
        (Value::N(_), Value::N(_))
            | (Value::Ss(_), Value::Ss(_))
            | (Value::Ns(_), Value::Ns(_))
            | (Value::Bs(_), Value::Bs(_))
            | (Value::L(_), Value::L(_))
    )
}

enum Write {
    Set(Value),
    Remove,
}

/// Pending writes into one list, keyed by the list's path.
type ListOps<'p> = Vec<(&'p [PathElem], Vec<(usize, Write)>)>;

impl Update {
    /// Applies the update to a copy of `item` (pass an empty item, plus the key, when the
    /// item does not exist yet) and returns the new item.
    pub fn apply(&self, item: &Item) -> Result<Item, DynamoDbError> {
        let type_msg = if self.legacy {
            MSG_LEGACY_TYPE
        } else {
            MSG_UPDATE_TYPE
        };
        // 1. A parent that exists but is not the container the path needs.
        for (_, a) in &self.actions {
            let p = a.path();
            if let Some((parent, _)) = parent_of(p) {
                if resolve_elems(item, parent).is_some() && !writable(item, p) {
                    return Err(validation(MSG_UPDATE_PATH));
                }
            }
        }
        // 2. Types everywhere; remember other failures per action.
        let mut computed: Vec<Option<Result<Value, Fail>>> = Vec::with_capacity(self.actions.len());
        for (_, a) in &self.actions {
            match a {
                UpdateAction::Set(_, o) => {
                    let r = set_value(o, item);
                    if matches!(r, Err(Fail::Type)) {
                        return Err(validation(type_msg));
                    }
                    computed.push(Some(r));
                }
                UpdateAction::Add(p, v) | UpdateAction::Delete(p, v) => {
                    let cur = if writable(item, p) {
                        resolve_path(item, p)
                    } else {
                        None
                    };
                    if let Some(cur) = cur {
                        let ok = match a {
                            UpdateAction::Add(..) => add_compatible(cur, v),
                            _ => cur.value_type() == v.value_type() && v.value_type().is_set(),
                        };
                        if !ok {
                            return Err(validation(type_msg));
                        }
                        if let (UpdateAction::Add(..), Value::N(x), Value::N(y)) = (a, cur, v) {
                            if let Err(e) = x.checked_add(y) {
                                return Err(DynamoDbError::Validation(e.to_string()));
                            }
                        }
                    }
                    computed.push(None);
                }
                UpdateAction::Remove(_) => computed.push(None),
            }
        }
        // 3. Clause by clause from the last: unwritable paths, then missing operands.
        for clause in (0..self.clauses).rev() {
            let in_clause = || {
                self.actions
                    .iter()
                    .zip(computed.iter())
                    .filter(move |((c, _), _)| *c == clause)
            };
            if in_clause().any(|((_, a), _)| !writable(item, a.path())) {
                return Err(validation(MSG_UPDATE_PATH));
            }
            if in_clause().any(|(_, r)| matches!(r, Some(Err(Fail::Missing)))) {
                return Err(validation(MSG_UPDATE_MISSING));
            }
        }
        // 4. Numbers out of range.
        for r in computed.iter().flatten() {
            if let Err(Fail::Number(e)) = r {
                return Err(DynamoDbError::Validation(e.to_string()));
            }
        }
        // 5. Every write, from the item as it was.
        let mut writes: Vec<(&Path, Write)> = Vec::with_capacity(self.actions.len());
        for ((_, a), r) in self.actions.iter().zip(computed) {
            match a {
                UpdateAction::Set(p, _) => {
                    if let Some(Ok(v)) = r {
                        writes.push((p, Write::Set(v)));
                    }
                }
                UpdateAction::Remove(p) => writes.push((p, Write::Remove)),
                UpdateAction::Add(p, v) => {
                    let next = match resolve_path(item, p) {
                        None => v.clone(),
                        Some(Value::N(x)) => match v {
                            Value::N(y) => Value::N(
                                x.checked_add(y)
                                    .map_err(|e| DynamoDbError::Validation(e.to_string()))?,
                            ),
                            _ => return Err(validation(type_msg)),
                        },
                        Some(Value::L(x)) => match v {
                            Value::L(y) => {
                                let mut out = x.clone();
                                out.extend(y.iter().cloned());
                                Value::L(out)
                            }
                            _ => return Err(validation(type_msg)),
                        },
                        Some(cur) => set_union(cur, v).ok_or_else(|| validation(type_msg))?,
                    };
                    writes.push((p, Write::Set(next)));
                }
                UpdateAction::Delete(p, v) => {
                    if let Some(cur) = resolve_path(item, p) {
                        let next = set_minus(cur, v).ok_or_else(|| validation(type_msg))?;
                        writes.push((
                            p,
                            if is_empty_set(&next) {
                                Write::Remove
                            } else {
                                Write::Set(next)
                            },
                        ));
                    }
                }
            }
        }
        Ok(apply_writes(item, writes))
    }

    /// The targets as a projection: applied to the old or new item it gives what
    /// ReturnValues UPDATED_OLD / UPDATED_NEW return.
    pub fn targets_projection(&self) -> Projection {
        Projection::from_paths(self.actions.iter().map(|(_, a)| a.path().clone()).collect())
    }
}

fn apply_writes(item: &Item, writes: Vec<(&Path, Write)>) -> Item {
    let mut out = item.clone();
    // Writes into lists wait until the map writes are done, so list positions stay those
    // of the original item while paths are resolved.
    let mut list_ops: HashMap<&[PathElem], Vec<(usize, Write)>> = HashMap::new();
    for (path, w) in writes {
        let Some((parent, last)) = parent_of(path) else {
            match w {
                Write::Set(v) => {
                    out.insert(path.top().to_string(), v);
                }
                Write::Remove => {
                    out.remove(path.top());
                }
            }
            continue;
        };
        match last {
            PathElem::Attr(k) => {
                if let Some(Value::M(m)) = resolve_elems_mut(&mut out, parent) {
                    match w {
                        Write::Set(v) => {
                            m.insert(k.clone(), v);
                        }
                        Write::Remove => {
                            m.remove(k);
                        }
                    }
                }
            }
            PathElem::Index(i) => list_ops.entry(parent).or_default().push((*i, w)),
        }
    }
    // Deeper lists first: changing a nested list never moves its ancestors' elements.
    let mut groups: ListOps<'_> = list_ops.into_iter().collect();
    groups.sort_by_key(|(parent, _)| std::cmp::Reverse(parent.len()));
    for (parent, ops) in groups {
        let Some(Value::L(list)) = resolve_elems_mut(&mut out, parent) else {
            continue;
        };
        let old_len = list.len();
        let mut removed = vec![false; old_len];
        let mut appended: Vec<(usize, Value)> = Vec::new();
        for (i, w) in ops {
            match w {
                Write::Remove => {
                    if let Some(r) = removed.get_mut(i) {
                        *r = true;
                    }
                }
                Write::Set(v) => {
                    if let Some(slot) = list.get_mut(i) {
                        *slot = v;
                    } else {
                        appended.push((i, v));
                    }
                }
            }
        }
        appended.sort_by_key(|(i, _)| *i);
        let old = std::mem::take(list);
        *list = old
            .into_iter()
            .zip(removed)
            .filter_map(|(v, r)| (!r).then_some(v))
            .chain(appended.into_iter().map(|(_, v)| v))
            .collect();
    }
    out
}
