//! Lowering a parsed statement onto `crate::expr` with its parameters bound: WHERE
//! clauses become `Condition`s, SET/REMOVE clauses an `Update`, literals `Value`s.

use super::ast::*;
use super::malformed;
use super::parser::count_params;
use crate::error::DynamoDbError;
use crate::expr::{self, Condition, Operand, Path, PathElem, UpdateAction};
use crate::number::Number;
use crate::value::{Item, Value, ValueParts, ValueType};

pub const MSG_PARAMETER_COUNT: &str = "Number of parameters in request and statement don't match.";
const MSG_BOOLEAN_WHERE: &str =
    "WHERE clause must contain an expression that resolves to a boolean";
const MSG_BAG_TYPES: &str =
    "Unsupported data type in Bag. DynamoDB only supports either numbers or strings in bags";

fn invalid(msg: impl Into<String>) -> DynamoDbError {
    DynamoDbError::Validation(msg.into())
}

/// Binds a statement's `?` parameters (already converted to values) and lowers its parts.
pub struct Binder<'a> {
    params: &'a [Value],
}

impl<'a> Binder<'a> {
    /// Checks that there are enough parameters for the statement's `?`s. Extra
    /// parameters are ignored, as DynamoDB does.
    pub fn new(stmt: &Statement, params: &'a [Value]) -> Result<Binder<'a>, DynamoDbError> {
        if count_params(stmt) > params.len() {
            return Err(invalid(MSG_PARAMETER_COUNT));
        }
        Ok(Binder { params })
    }

    fn param(&self, i: usize) -> Result<&Value, DynamoDbError> {
        self.params
            .get(i)
            .ok_or_else(|| invalid(MSG_PARAMETER_COUNT))
    }

    /// A path of the expression language.
    pub fn path(&self, p: &PathExpr) -> Result<Path, DynamoDbError> {
        let elems = p
            .steps
            .iter()
            .map(|s| match s {
                PathStep::Attr(a) => {
                    if a.is_empty() {
                        Err(invalid("Path component cannot be an empty string"))
                    } else {
                        Ok(PathElem::Attr(a.clone()))
                    }
                }
                PathStep::Index(i) => Ok(PathElem::Index(*i)),
            })
            .collect::<Result<Vec<_>, _>>()?;
        Path::new(elems).ok_or_else(|| invalid("A path cannot start with a list index"))
    }

    /// The value of a literal (or parameter); `at` names where it is, for messages
    /// ("root", "root.x", "root[1]").
    pub fn value(&self, e: &Expr, at: &str) -> Result<Value, DynamoDbError> {
        match e {
            Expr::Str(s) => Ok(Value::S(s.clone())),
            Expr::Num(n) => Number::parse(n)
                .map(Value::N)
                .map_err(|err| invalid(format!("{err} under {at}"))),
            Expr::Bool(b) => Ok(Value::Bool(*b)),
            Expr::Null => Ok(Value::Null),
            Expr::Param(i) => Ok(self.param(*i)?.clone()),
            Expr::List(items) => {
                let mut out = Vec::with_capacity(items.len());
                for (i, x) in items.iter().enumerate() {
                    out.push(self.value(x, &format!("{at}[{i}]"))?);
                }
                Ok(Value::L(out))
            }
            Expr::Struct(fields) => {
                let mut m = Item::with_capacity(fields.len());
                for (k, v) in fields {
                    let key = match self.value(k, at)? {
                        Value::S(s) => s,
                        other => {
                            return Err(invalid(format!(
                                "Tuple keys must be of type String. Actual type: {} under {at}",
                                ion_type(&other)
                            )))
                        }
                    };
                    let inner = format!("{at}.{key}");
                    let val = self.value(v, &inner)?;
                    if m.insert(key.clone(), val).is_some() {
                        return Err(invalid(format!(
                            "Duplicate keys in tuple. Key: {key} under {at}"
                        )));
                    }
                }
                Ok(Value::M(m))
            }
            Expr::Bag(items) => self.bag(items, at),
            Expr::Missing => Err(invalid(format!(
                "Unsupported data type: MISSING under key {at}"
            ))),
            _ => Err(invalid(format!(
                "Unsupported data type: expression under key {at}"
            ))),
        }
    }

    fn bag(&self, items: &[Expr], at: &str) -> Result<Value, DynamoDbError> {
        if items.is_empty() {
            return Err(invalid("Empty bags are not supported"));
        }
        let mut strings = Vec::new();
        let mut numbers = Vec::new();
        for x in items {
            match x {
                Expr::Str(s) => strings.push(s.clone()),
                Expr::Num(n) => numbers.push(n.clone()),
                _ => return Err(invalid(MSG_BAG_TYPES)),
            }
        }
        let parts = match (strings.is_empty(), numbers.is_empty()) {
            (false, true) => ValueParts {
                ss: Some(strings),
                ..Default::default()
            },
            (true, false) => ValueParts {
                ns: Some(numbers),
                ..Default::default()
            },
            _ => return Err(invalid(MSG_BAG_TYPES)),
        };
        Value::from_parts(parts).map_err(|e| invalid(format!("{} under {at}", e.0)))
    }

    /// The item of an INSERT: a struct literal (or a map parameter).
    pub fn item(&self, e: &Expr) -> Result<Item, DynamoDbError> {
        match e {
            Expr::Struct(_) | Expr::Param(_) => match self.value(e, "root")? {
                Value::M(m) => Ok(m),
                _ => Err(invalid(MSG_ITEM_SYNTAX)),
            },
            _ => Err(invalid(MSG_ITEM_SYNTAX)),
        }
    }

    /// An operand of a condition.
    fn operand(&self, e: &Expr) -> Result<Operand, DynamoDbError> {
        match e {
            Expr::Path(p) => Ok(Operand::Path(self.path(p)?)),
            Expr::Call(name, args) if name == "size" => match args.as_slice() {
                [a] => Ok(Operand::Size(Box::new(self.operand(a)?))),
                _ => Err(invalid("Incorrect number of arguments for function: size")),
            },
            Expr::Missing => Err(invalid("MISSING must be compared using IS operator")),
            Expr::Call(name, _) => Err(invalid(format!("Unrecognized function: {name}"))),
            _ => Ok(Operand::Value(self.value(e, "root")?)),
        }
    }

    fn fn_path(&self, name: &str, e: &Expr) -> Result<Path, DynamoDbError> {
        match e {
            Expr::Path(p) => self.path(p),
            _ => Err(invalid(format!(
                "Invalid argument to function {name}: expected a document path"
            ))),
        }
    }

    /// A WHERE clause (or EXISTS condition).
    pub fn condition(&self, e: &Expr) -> Result<Condition, DynamoDbError> {
        Ok(match e {
            Expr::And(a, b) => {
                Condition::And(Box::new(self.condition(a)?), Box::new(self.condition(b)?))
            }
            Expr::Or(a, b) => {
                Condition::Or(Box::new(self.condition(a)?), Box::new(self.condition(b)?))
            }
            Expr::Not(a) => Condition::Not(Box::new(self.condition(a)?)),
            Expr::Cmp(op, a, b) => Condition::Cmp(*op, self.operand(a)?, self.operand(b)?),
            Expr::Between(a, lo, hi) => {
                Condition::Between(self.operand(a)?, self.operand(lo)?, self.operand(hi)?)
            }
            Expr::In(a, list) => {
                if !matches!(**a, Expr::Path(_)) || list.is_empty() {
                    return Err(invalid("IN operator must have a left hand argument of type Variable Reference and right hand argument of type Seq with at least one member"));
                }
                let ops = list
                    .iter()
                    .map(|x| self.operand(x))
                    .collect::<Result<Vec<_>, _>>()?;
                Condition::In(self.operand(a)?, ops)
            }
            Expr::Is { expr, not, kind } => {
                let Expr::Path(p) = &**expr else {
                    return Err(invalid(
                        "The left hand side argument to IS must be a Variable Reference, Literal, or Path",
                    ));
                };
                let path = self.path(p)?;
                let typed = |t: ValueType| {
                    Condition::AttributeType(
                        path.clone(),
                        Operand::Value(Value::S(t.as_str().to_string())),
                    )
                };
                let positive = match kind {
                    IsKind::Missing => Condition::AttributeNotExists(path.clone()),
                    // MISSING IS NULL is true in PartiQL.
                    IsKind::Null => Condition::Or(
                        Box::new(typed(ValueType::Null)),
                        Box::new(Condition::AttributeNotExists(path.clone())),
                    ),
                    IsKind::Boolean => typed(ValueType::Bool),
                    IsKind::String => typed(ValueType::S),
                    IsKind::Numeric => typed(ValueType::N),
                    IsKind::Blob => typed(ValueType::B),
                    IsKind::List => typed(ValueType::L),
                    IsKind::Struct => typed(ValueType::M),
                };
                match (kind, not) {
                    (IsKind::Missing, true) => Condition::AttributeExists(path),
                    (_, true) => Condition::Not(Box::new(positive)),
                    (_, false) => positive,
                }
            }
            Expr::Call(name, args) => self.function(name, args)?,
            Expr::Exists(_) => {
                return Err(invalid(
                    "EXISTS can only be used in ExecuteTransaction write requests.",
                ))
            }
            _ => return Err(invalid(MSG_BOOLEAN_WHERE)),
        })
    }

    fn function(&self, name: &str, args: &[Expr]) -> Result<Condition, DynamoDbError> {
        let arity = |n: usize| -> Result<(), DynamoDbError> {
            if args.len() == n {
                Ok(())
            } else {
                Err(invalid(format!(
                    "Incorrect number of arguments for function: {name}"
                )))
            }
        };
        Ok(match name {
            "begins_with" => {
                arity(2)?;
                Condition::BeginsWith(self.operand(&args[0])?, self.operand(&args[1])?)
            }
            "contains" => {
                arity(2)?;
                Condition::Contains(self.operand(&args[0])?, self.operand(&args[1])?)
            }
            "attribute_type" => {
                arity(2)?;
                let path = self.fn_path(name, &args[0])?;
                let t = self.operand(&args[1])?;
                if let Some(Value::S(s)) = t.as_value() {
                    if ValueType::parse(s).is_none() {
                        return Err(invalid(format!(
                            "Invalid attribute type name found; type: {s}, valid types: {{ B,NULL,SS,BOOL,L,BS,N,NS,S,M }}"
                        )));
                    }
                }
                Condition::AttributeType(path, t)
            }
            "attribute_exists" | "exists" => {
                arity(1)?;
                Condition::AttributeExists(self.fn_path(name, &args[0])?)
            }
            "attribute_not_exists" | "missing" => {
                arity(1)?;
                Condition::AttributeNotExists(self.fn_path(name, &args[0])?)
            }
            _ => return Err(invalid(format!("Unrecognized function: {name}"))),
        })
    }

    /// The SET/REMOVE clauses of an UPDATE as an expression-language update.
    pub fn update(&self, u: &super::ast::Update) -> Result<expr::Update, DynamoDbError> {
        let mut actions: Vec<(usize, UpdateAction)> = Vec::new();
        let mut clause = 0usize;
        for c in &u.clauses {
            for a in &c.actions {
                match a {
                    SetAction::Remove(p) => {
                        actions.push((clause, UpdateAction::Remove(self.path(p)?)))
                    }
                    SetAction::Set(p, v) => {
                        let path = self.path(p)?;
                        let action = self.set_action(path, v)?;
                        actions.push((clause, action));
                    }
                }
            }
            clause += 1;
        }
        let targets: Vec<Path> = actions.iter().map(|(_, a)| a.path().clone()).collect();
        check_overlaps(&targets)?;
        Ok(expr::Update {
            actions,
            clauses: clause,
            legacy: false,
        })
    }

    fn set_action(&self, path: Path, v: &Expr) -> Result<UpdateAction, DynamoDbError> {
        if let Expr::Call(name, args) = v {
            let op = match name.as_str() {
                "set_add" => Some(true),
                "set_delete" => Some(false),
                _ => None,
            };
            if let Some(add) = op {
                let label = if add { "ADD" } else { "DELETE" };
                let [first, second] = args.as_slice() else {
                    return Err(invalid(format!(
                        "SET_{label} must have exactly two arguments"
                    )));
                };
                let same =
                    matches!(first, Expr::Path(p) if self.path(p).ok().as_ref() == Some(&path));
                if !same {
                    return Err(invalid(format!(
                        "The first argument to SET_{label} must equal the assignment value"
                    )));
                }
                let value = self.value(second, "root")?;
                if !value.value_type().is_set() {
                    return Err(invalid(format!(
                        "The second argument to SET_{label} must be a value with type SET"
                    )));
                }
                return Ok(if add {
                    UpdateAction::Add(path, value)
                } else {
                    UpdateAction::Delete(path, value)
                });
            }
        }
        Ok(UpdateAction::Set(path, self.set_operand(v)?))
    }

    /// An operand on the right of `SET path =`.
    fn set_operand(&self, e: &Expr) -> Result<Operand, DynamoDbError> {
        match e {
            Expr::Path(p) => Ok(Operand::Path(self.path(p)?)),
            Expr::Arith { plus, a, b } => Ok(Operand::Arith {
                plus: *plus,
                a: Box::new(self.set_operand(a)?),
                b: Box::new(self.set_operand(b)?),
            }),
            Expr::Call(name, args) => match (name.as_str(), args.as_slice()) {
                ("list_append", [a, b]) => Ok(Operand::ListAppend(
                    Box::new(self.set_operand(a)?),
                    Box::new(self.set_operand(b)?),
                )),
                ("if_not_exists", [Expr::Path(p), b]) => Ok(Operand::IfNotExists(
                    self.path(p)?,
                    Box::new(self.set_operand(b)?),
                )),
                ("list_append" | "if_not_exists", _) => Err(invalid(format!(
                    "Incorrect number of arguments for function: {name}"
                ))),
                _ => Err(invalid(format!("Unrecognized function: {name}"))),
            },
            Expr::Cmp(..) | Expr::And(..) | Expr::Or(..) | Expr::Not(_) | Expr::Between(..) => Err(
                invalid("Unsupported operator in Update Expression. Operator: comparison"),
            ),
            Expr::Is { .. } => Err(invalid(
                "IS operator is not supported in update expressions",
            )),
            Expr::Missing => Err(malformed("MISSING is not a value")),
            _ => Ok(Operand::Value(self.value(e, "root")?)),
        }
    }
}

const MSG_ITEM_SYNTAX: &str = "Unsupported format in item expression. Please use struct format {...} to express item values for insert statement.";

fn ion_type(v: &Value) -> &'static str {
    match v {
        Value::S(_) => "STRING",
        Value::N(_) => "DECIMAL",
        Value::Bool(_) => "BOOL",
        Value::Null => "NULL",
        Value::L(_) => "LIST",
        Value::M(_) => "STRUCT",
        Value::B(_) => "BLOB",
        Value::Ss(_) | Value::Ns(_) | Value::Bs(_) => "BAG",
    }
}

/// Two targets of one update may not overlap (same wording as UpdateExpression).
fn check_overlaps(paths: &[Path]) -> Result<(), DynamoDbError> {
    for (j, later) in paths.iter().enumerate() {
        for earlier in paths.iter().take(j) {
            let mut clash = Some("overlap");
            for (x, y) in earlier.elems().iter().zip(later.elems().iter()) {
                match (x, y) {
                    (PathElem::Attr(p), PathElem::Attr(q)) if p == q => continue,
                    (PathElem::Index(p), PathElem::Index(q)) if p == q => continue,
                    (PathElem::Attr(_), PathElem::Index(_))
                    | (PathElem::Index(_), PathElem::Attr(_)) => clash = Some("conflict"),
                    _ => clash = None,
                }
                break;
            }
            if let Some(what) = clash {
                return Err(invalid(format!(
                    "Two document paths {what} with each other; must remove or rewrite one of these paths; path one: {earlier}, path two: {later}"
                )));
            }
        }
    }
    Ok(())
}
