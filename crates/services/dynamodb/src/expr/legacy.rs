//! The pre-expression ("legacy") parameters: Expected + ConditionalOperator,
//! QueryFilter/ScanFilter, KeyConditions, AttributeUpdates and AttributesToGet, validated
//! with AWS's messages and translated into the same checked forms expressions produce.
//!
//! Inputs are simple typed mirrors of the wire shapes, with attribute values already
//! converted; callers pass map entries in the order the request gave them.

use super::ast::{CmpOp, Condition, Operand, Path, Projection, Update, UpdateAction};
use super::keycond::{KeyCondition, KeySchema, SortCondition};
use crate::error::DynamoDbError;
use crate::value::{Value, ValueType};

const INVALID: &str = "One or more parameter values were invalid: ";

fn invalid(msg: impl AsRef<str>) -> DynamoDbError {
    DynamoDbError::Validation(format!("{INVALID}{}", msg.as_ref()))
}

/// A legacy comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ComparisonOperator {
    Eq,
    Ne,
    Le,
    Lt,
    Ge,
    Gt,
    NotNull,
    Null,
    Contains,
    NotContains,
    BeginsWith,
    In,
    Between,
}

impl ComparisonOperator {
    /// The wire name ("EQ", "NOT_NULL", ...). The wire layer has already rejected other
    /// strings with its enum constraint message.
    pub fn parse(s: &str) -> Option<ComparisonOperator> {
        use ComparisonOperator::*;
        Some(match s {
            "EQ" => Eq,
            "NE" => Ne,
            "LE" => Le,
            "LT" => Lt,
            "GE" => Ge,
            "GT" => Gt,
            "NOT_NULL" => NotNull,
            "NULL" => Null,
            "CONTAINS" => Contains,
            "NOT_CONTAINS" => NotContains,
            "BEGINS_WITH" => BeginsWith,
            "IN" => In,
            "BETWEEN" => Between,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        use ComparisonOperator::*;
        match self {
            Eq => "EQ",
            Ne => "NE",
            Le => "LE",
            Lt => "LT",
            Ge => "GE",
            Gt => "GT",
            NotNull => "NOT_NULL",
            Null => "NULL",
            Contains => "CONTAINS",
            NotContains => "NOT_CONTAINS",
            BeginsWith => "BEGINS_WITH",
            In => "IN",
            Between => "BETWEEN",
        }
    }

    fn arity_ok(self, n: usize) -> bool {
        use ComparisonOperator::*;
        match self {
            NotNull | Null => n == 0,
            In => n >= 1,
            Between => n == 2,
            _ => n == 1,
        }
    }

    fn type_ok(self, t: ValueType) -> bool {
        use ComparisonOperator::*;
        match self {
            // "EQ/NE are supported for all data types, including lists and maps."
            Eq | Ne | NotNull | Null => true,
            Le | Lt | Ge | Gt | In | Between | Contains | NotContains => t.is_scalar_key_type(),
            BeginsWith => matches!(t, ValueType::S | ValueType::B),
        }
    }
}

/// AND or OR between the entries of Expected/QueryFilter/ScanFilter (default AND).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ConditionalOperator {
    #[default]
    And,
    Or,
}

/// One entry of `Expected`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExpectedAttributeValue {
    pub value: Option<Value>,
    pub exists: Option<bool>,
    pub comparison_operator: Option<ComparisonOperator>,
    pub attribute_value_list: Option<Vec<Value>>,
}

/// One entry of `KeyConditions`, `QueryFilter` or `ScanFilter`.
#[derive(Debug, Clone, PartialEq)]
pub struct LegacyCondition {
    pub comparison_operator: ComparisonOperator,
    pub attribute_value_list: Vec<Value>,
}

/// The legacy update actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AttributeAction {
    #[default]
    Put,
    Add,
    Delete,
}

/// One entry of `AttributeUpdates`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AttributeValueUpdate {
    pub value: Option<Value>,
    /// `None` means PUT.
    pub action: Option<AttributeAction>,
}

/// Rejects mixing expression and non-expression parameters. Pass the names of the
/// parameters present, in AWS's order for the operation (e.g. `["Expected"]` and
/// `["ConditionExpression"]`). KeyConditions may accompany expressions when there is no
/// KeyConditionExpression; leave it out of `non_expression` in that case.
pub fn check_expression_params(
    non_expression: &[&str],
    expression: &[&str],
) -> Result<(), DynamoDbError> {
    if !non_expression.is_empty() && !expression.is_empty() {
        return Err(DynamoDbError::Validation(format!(
            "Can not use both expression and non-expression parameters in the same request: Non-expression parameters: {{{}}} Expression parameters: {{{}}}",
            non_expression.join(", "),
            expression.join(", ")
        )));
    }
    Ok(())
}

/// ExpressionAttributeNames/Values sent without the expressions that use them.
/// `value_expressions`: the operation's expression parameters that take values (all of
/// its expressions but ProjectionExpression), in AWS's order, e.g. `["UpdateExpression",
/// "ConditionExpression"]`; `present`: the expression parameters the request has.
pub fn check_placeholder_maps_allowed(
    value_expressions: &[&str],
    present: &[&str],
    has_names: bool,
    has_values: bool,
) -> Result<(), DynamoDbError> {
    if has_names && present.is_empty() {
        return Err(DynamoDbError::validation(
            "ExpressionAttributeNames can only be specified when using expressions",
        ));
    }
    if has_values
        && !value_expressions.is_empty()
        && !value_expressions.iter().any(|e| present.contains(e))
    {
        let verb = if value_expressions.len() > 1 {
            "are"
        } else {
            "is"
        };
        return Err(DynamoDbError::Validation(format!(
            "ExpressionAttributeValues can only be specified when using expressions: {} {verb} null",
            value_expressions.join(" and ")
        )));
    }
    Ok(())
}

fn same_type(list: &[Value]) -> Result<(), DynamoDbError> {
    if let Some(first) = list.first() {
        if list.iter().any(|v| v.value_type() != first.value_type()) {
            return Err(invalid(
                "AttributeValues inside AttributeValueList must be of same type",
            ));
        }
    }
    Ok(())
}

fn between_order(op: ComparisonOperator, list: &[Value]) -> Result<(), DynamoDbError> {
    if op == ComparisonOperator::Between {
        if let [lo, hi] = list {
            if lo.compare_scalar(hi) == Some(std::cmp::Ordering::Greater) {
                return Err(DynamoDbError::validation(
                    "The BETWEEN condition was provided a range where the lower bound is greater than the upper bound",
                ));
            }
        }
    }
    Ok(())
}

fn check_condition(op: ComparisonOperator, list: &[Value]) -> Result<(), DynamoDbError> {
    if !op.arity_ok(list.len()) {
        return Err(invalid(format!(
            "Invalid number of argument(s) for the {} ComparisonOperator",
            op.as_str()
        )));
    }
    same_type(list)?;
    if let Some(v) = list.iter().find(|v| !op.type_ok(v.value_type())) {
        return Err(invalid(format!(
            "ComparisonOperator {} is not valid for {} AttributeValue type",
            op.as_str(),
            v.type_name()
        )));
    }
    between_order(op, list)
}

/// The condition one comparison operator expresses on an attribute.
fn comparison(name: &str, op: ComparisonOperator, list: &[Value]) -> Condition {
    use ComparisonOperator as C;
    let path = || Path::attr(name);
    let attr = || Operand::Path(Path::attr(name));
    let val = |i: usize| Operand::Value(list.get(i).cloned().unwrap_or(Value::Null));
    match op {
        C::Eq => Condition::Cmp(CmpOp::Eq, attr(), val(0)),
        C::Ne => Condition::Cmp(CmpOp::Ne, attr(), val(0)),
        C::Le => Condition::Cmp(CmpOp::Le, attr(), val(0)),
        C::Lt => Condition::Cmp(CmpOp::Lt, attr(), val(0)),
        C::Ge => Condition::Cmp(CmpOp::Ge, attr(), val(0)),
        C::Gt => Condition::Cmp(CmpOp::Gt, attr(), val(0)),
        C::NotNull => Condition::AttributeExists(path()),
        C::Null => Condition::AttributeNotExists(path()),
        C::Contains => Condition::Contains(attr(), val(0)),
        C::NotContains => Condition::Not(Box::new(Condition::Contains(attr(), val(0)))),
        C::BeginsWith => Condition::BeginsWith(attr(), val(0)),
        C::In => Condition::In(attr(), list.iter().cloned().map(Operand::Value).collect()),
        C::Between => Condition::Between(attr(), val(0), val(1)),
    }
}

fn combine(parts: Vec<Condition>, op: ConditionalOperator) -> Option<Condition> {
    parts.into_iter().reduce(|a, b| match op {
        ConditionalOperator::And => Condition::And(Box::new(a), Box::new(b)),
        ConditionalOperator::Or => Condition::Or(Box::new(a), Box::new(b)),
    })
}

/// Validates `Expected` and turns it into a condition (`None` when empty).
pub fn expected_to_condition<'e>(
    expected: impl IntoIterator<Item = (&'e str, &'e ExpectedAttributeValue)>,
    op: ConditionalOperator,
) -> Result<Option<Condition>, DynamoDbError> {
    let mut parts = Vec::new();
    for (name, e) in expected {
        if e.attribute_value_list.is_some() && e.value.is_some() {
            return Err(invalid(format!(
                "Value and AttributeValueList cannot be used together for Attribute: {name}"
            )));
        }
        if let Some(cmp) = e.comparison_operator {
            if e.exists.is_some() {
                return Err(invalid(format!(
                    "Exists and ComparisonOperator cannot be used together for Attribute: {name}"
                )));
            }
            let list: Vec<Value> = match (&e.attribute_value_list, &e.value) {
                (Some(l), _) => l.clone(),
                (None, Some(v)) => vec![v.clone()],
                (None, None) => {
                    if !matches!(cmp, ComparisonOperator::Null | ComparisonOperator::NotNull) {
                        return Err(invalid(format!(
                            "Value or AttributeValueList must be used with ComparisonOperator: {} for Attribute: {name}",
                            cmp.as_str()
                        )));
                    }
                    Vec::new()
                }
            };
            check_condition(cmp, &list)?;
            parts.push(comparison(name, cmp, &list));
        } else if e.attribute_value_list.is_some() {
            return Err(invalid(format!(
                "AttributeValueList can only be used with a ComparisonOperator for Attribute: {name}"
            )));
        } else {
            let exists = e.exists.unwrap_or(true);
            match (&e.value, exists) {
                (None, true) => {
                    let shown = match e.exists {
                        None => "null",
                        Some(_) => "true",
                    };
                    return Err(invalid(format!(
                        "Value must be provided when Exists is {shown} for Attribute: {name}"
                    )));
                }
                (Some(_), false) => {
                    return Err(invalid(format!(
                        "Value cannot be used when Exists is false for Attribute: {name}"
                    )));
                }
                (Some(v), true) => parts.push(Condition::Cmp(
                    CmpOp::Eq,
                    Operand::Path(Path::attr(name)),
                    Operand::Value(v.clone()),
                )),
                (None, false) => parts.push(Condition::AttributeNotExists(Path::attr(name))),
            }
        }
    }
    Ok(combine(parts, op))
}

/// Validates a QueryFilter or ScanFilter and turns it into a condition.
pub fn filter_to_condition<'e>(
    filter: impl IntoIterator<Item = (&'e str, &'e LegacyCondition)>,
    op: ConditionalOperator,
) -> Result<Option<Condition>, DynamoDbError> {
    let mut parts = Vec::new();
    for (name, c) in filter {
        check_condition(c.comparison_operator, &c.attribute_value_list)?;
        parts.push(comparison(
            name,
            c.comparison_operator,
            &c.attribute_value_list,
        ));
    }
    Ok(combine(parts, op))
}

/// Validates `KeyConditions` against the key schema and builds the key condition.
pub fn key_conditions_to_key_condition<'e>(
    conditions: impl IntoIterator<Item = (&'e str, &'e LegacyCondition)>,
    schema: &KeySchema<'_>,
) -> Result<KeyCondition, DynamoDbError> {
    let conditions: Vec<(&str, &LegacyCondition)> = conditions.into_iter().collect();
    for (_, c) in &conditions {
        check_condition(c.comparison_operator, &c.attribute_value_list)?;
    }
    let count = conditions.len();
    let find = |n: &str| conditions.iter().find(|(k, _)| *k == n).map(|(_, c)| *c);
    let mut keys = vec![(schema.partition, true)];
    if let Some(s) = schema.sort {
        keys.push((s, false));
    }
    let mut pk_value = None;
    let mut sort = None;
    for ((name, ty), is_hash) in keys {
        if is_hash && schema.sort.is_none() && count > 1 {
            return Err(DynamoDbError::validation(
                "Query key condition not supported",
            ));
        }
        let Some(c) = find(name) else {
            if is_hash || count > 1 {
                return Err(DynamoDbError::Validation(format!(
                    "Query condition missed key schema element: {name}"
                )));
            }
            continue;
        };
        use ComparisonOperator as C;
        let op = c.comparison_operator;
        if matches!(
            op,
            C::Null | C::NotNull | C::Ne | C::Contains | C::NotContains | C::In
        ) {
            return Err(DynamoDbError::validation(
                "Attempted conditional constraint is not an indexable operation",
            ));
        }
        if c.attribute_value_list
            .iter()
            .any(|v| v.value_type() != ty.value_type())
        {
            return Err(invalid(
                "Condition parameter type does not match schema type",
            ));
        }
        if is_hash && op != C::Eq {
            return Err(DynamoDbError::validation(
                "Query key condition not supported",
            ));
        }
        let list = &c.attribute_value_list;
        let first = list.first().cloned().unwrap_or(Value::Null);
        if is_hash {
            pk_value = Some(first);
        } else {
            let cond = match op {
                C::Eq => SortCondition::Eq(first),
                C::Lt => SortCondition::Lt(first),
                C::Le => SortCondition::Le(first),
                C::Gt => SortCondition::Gt(first),
                C::Ge => SortCondition::Ge(first),
                C::BeginsWith => SortCondition::BeginsWith(first),
                C::Between => {
                    SortCondition::Between(first, list.get(1).cloned().unwrap_or(Value::Null))
                }
                _ => {
                    return Err(DynamoDbError::validation(
                        "Attempted conditional constraint is not an indexable operation",
                    ))
                }
            };
            sort = Some((name.to_string(), cond));
        }
    }
    let partition_value = pk_value.ok_or_else(|| {
        DynamoDbError::Validation(format!(
            "Query condition missed key schema element: {}",
            schema.partition.0
        ))
    })?;
    Ok(KeyCondition {
        partition_name: schema.partition.0.to_string(),
        partition_value,
        sort,
    })
}

/// Validates `AttributeUpdates` and turns it into an update.
pub fn attribute_updates_to_update<'e>(
    updates: impl IntoIterator<Item = (&'e str, &'e AttributeValueUpdate)>,
) -> Result<Update, DynamoDbError> {
    let mut actions = Vec::new();
    for (name, u) in updates {
        let action = u.action.unwrap_or_default();
        let path = Path::attr(name);
        match (&u.value, action) {
            (None, AttributeAction::Delete) => actions.push(UpdateAction::Remove(path)),
            (None, _) => {
                return Err(invalid(
                    "Only DELETE action is allowed when no attribute value is specified",
                ))
            }
            (Some(v), AttributeAction::Put) => {
                actions.push(UpdateAction::Set(path, Operand::Value(v.clone())))
            }
            (Some(v), AttributeAction::Delete) => {
                if !v.value_type().is_set() {
                    return Err(invalid(format!(
                        "DELETE action with value is not supported for the type {}",
                        v.type_name()
                    )));
                }
                actions.push(UpdateAction::Delete(path, v.clone()));
            }
            (Some(v), AttributeAction::Add) => {
                if !matches!(
                    v.value_type(),
                    ValueType::L | ValueType::Ss | ValueType::Ns | ValueType::Bs | ValueType::N
                ) {
                    return Err(invalid(format!(
                        "ADD action is not supported for the type {}",
                        v.type_name()
                    )));
                }
                actions.push(UpdateAction::Add(path, v.clone()));
            }
        }
    }
    Ok(Update::from_actions(actions))
}

/// Validates `AttributesToGet` (no duplicates) and turns it into a projection.
pub fn attributes_to_get_projection(names: &[String]) -> Result<Projection, DynamoDbError> {
    for (i, n) in names.iter().enumerate() {
        if names[..i].contains(n) {
            return Err(invalid(format!("Duplicate value in attribute name: {n}")));
        }
    }
    Ok(Projection::from_paths(
        names.iter().map(|n| Path::attr(n.as_str())).collect(),
    ))
}
