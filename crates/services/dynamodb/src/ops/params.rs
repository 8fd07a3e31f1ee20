//! Request parameters every data-plane operation shares, converted from the wire model
//! and checked with AWS's messages: which expression parameters may be combined,
//! ExpressionAttributeNames/Values, the legacy (pre-expression) parameters, ReturnValues.
//!
//! Order matters for which error a request gets; the operations call these in AWS's
//! order: parameter combinations, then the item/key values, then legacy parameters, then
//! placeholders and expressions (`expr::ExpressionContext`), then the table.

use std::collections::HashMap;

use nimbus_model::dynamodb as m;

use crate::error::DynamoDbError;
use crate::expr::legacy::{self, LegacyCondition};
use crate::expr::{self, Condition, Update};
use crate::ops::convert::{attr_into_value, attrs_into_item};
use crate::value::{Item, Value};

pub const MSG_NAMES_WITHOUT_EXPRESSIONS: &str =
    "ExpressionAttributeNames can only be specified when using expressions";

/// The page size of a List operation: `max` (its default and its cap) when not given,
/// else the request's value kept within 1..=`max` (the input validation refuses values
/// outside AWS's range before this runs).
pub fn page_size(requested: Option<i32>, max: usize) -> usize {
    requested
        .map_or(max, |n| usize::try_from(n).unwrap_or(1))
        .clamp(1, max)
}

/// Checks which expression parameters a request combines:
/// - legacy and expression parameters together ("Can not use both ...");
/// - ExpressionAttributeNames without any expression;
/// - ExpressionAttributeValues without any expression that takes values.
///
/// `non_expression`/`expression` list the operation's parameters in AWS's order with
/// whether each is present; `value_expressions` names the operation's expressions that
/// may use values (for that message, even when absent).
pub fn check_expression_params(
    non_expression: &[(&str, bool)],
    expression: &[(&str, bool)],
    value_expressions: &[&str],
    has_names: bool,
    has_values: bool,
) -> Result<(), DynamoDbError> {
    let any_expression = expression.iter().any(|(_, p)| *p);
    let any_non_expression = non_expression.iter().any(|(_, p)| *p);
    // The common request breaks none of the rules; decide that without allocating.
    let mixes = any_expression && any_non_expression;
    if !(has_names || has_values || mixes) {
        return Ok(());
    }
    let present = |list: &[(&str, bool)]| -> Vec<String> {
        list.iter()
            .filter(|(_, p)| *p)
            .map(|(n, _)| (*n).to_string())
            .collect()
    };
    let exprs = present(expression);
    let non = present(non_expression);
    let exprs_ref: Vec<&str> = exprs.iter().map(String::as_str).collect();
    let non_ref: Vec<&str> = non.iter().map(String::as_str).collect();
    if !exprs_ref.is_empty() {
        legacy::check_expression_params(&non_ref, &exprs_ref)?;
    }
    if has_names && exprs_ref.is_empty() {
        return Err(DynamoDbError::validation(MSG_NAMES_WITHOUT_EXPRESSIONS));
    }
    let value_exprs_present = expression
        .iter()
        .any(|(n, p)| *p && value_expressions.contains(n));
    if has_values && !value_expressions.is_empty() && !value_exprs_present {
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

/// Validates ExpressionAttributeNames, then the keys and values of
/// ExpressionAttributeValues (converted to data-model values), as AWS orders them.
pub fn prepare_placeholders(
    names: Option<&HashMap<String, String>>,
    values: Option<HashMap<String, m::AttributeValue>>,
) -> Result<Option<HashMap<String, Value>>, DynamoDbError> {
    if let Some(names) = names {
        expr::validate_names_map(names)?;
    }
    let Some(values) = values else {
        return Ok(None);
    };
    let mut keys: Vec<&String> = values.keys().collect();
    keys.sort_unstable();
    expr::validate_values_map_keys(keys.iter().map(|k| k.as_str()))?;
    // Convert in key order so that, of several invalid values, the same one is reported
    // every time.
    let mut entries: Vec<(String, m::AttributeValue)> = values.into_iter().collect();
    entries.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    let mut out = HashMap::with_capacity(entries.len());
    for (k, v) in entries {
        let v = attr_into_value(v).map_err(|e| {
            DynamoDbError::Validation(format!(
                "ExpressionAttributeValues contains invalid value: {} for key {k}",
                e.0
            ))
        })?;
        out.insert(k, v);
    }
    Ok(Some(out))
}

fn comparison_operator(
    op: &m::ComparisonOperator,
) -> Result<legacy::ComparisonOperator, DynamoDbError> {
    legacy::ComparisonOperator::parse(op.as_str()).ok_or_else(|| {
        DynamoDbError::Validation(format!(
            "1 validation error detected: Value '{}' at 'comparisonOperator' failed to satisfy constraint: Member must satisfy enum value set: {}",
            op.as_str(),
            m::ComparisonOperator::VALUE_SET
        ))
    })
}

/// `ConditionalOperator` (default AND).
pub fn conditional_operator(op: Option<&m::ConditionalOperator>) -> legacy::ConditionalOperator {
    match op {
        Some(m::ConditionalOperator::Or) => legacy::ConditionalOperator::Or,
        _ => legacy::ConditionalOperator::And,
    }
}

fn value_list(list: Option<Vec<m::AttributeValue>>) -> Result<Option<Vec<Value>>, DynamoDbError> {
    match list {
        None => Ok(None),
        Some(l) => {
            let mut out = Vec::with_capacity(l.len());
            for v in l {
                out.push(attr_into_value(v)?);
            }
            Ok(Some(out))
        }
    }
}

/// Entries of a wire map sorted by name: the request's own order is lost in the map, and
/// a fixed order keeps error messages deterministic.
fn sorted<V>(map: HashMap<String, V>) -> Vec<(String, V)> {
    let mut v: Vec<(String, V)> = map.into_iter().collect();
    v.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    v
}

/// Legacy `Expected` (+ `ConditionalOperator`) as a condition.
pub fn expected(
    expected: Option<HashMap<String, m::ExpectedAttributeValue>>,
    op: Option<&m::ConditionalOperator>,
) -> Result<Option<Condition>, DynamoDbError> {
    let Some(expected) = expected else {
        return Ok(None);
    };
    let mut converted = Vec::with_capacity(expected.len());
    for (name, e) in sorted(expected) {
        let comparison_operator = match &e.comparison_operator {
            Some(op) => Some(comparison_operator(op)?),
            None => None,
        };
        let value = match e.value {
            Some(v) => Some(attr_into_value(v)?),
            None => None,
        };
        converted.push((
            name,
            legacy::ExpectedAttributeValue {
                value,
                exists: e.exists,
                comparison_operator,
                attribute_value_list: value_list(e.attribute_value_list)?,
            },
        ));
    }
    legacy::expected_to_condition(
        converted.iter().map(|(n, e)| (n.as_str(), e)),
        conditional_operator(op),
    )
}

/// Legacy `KeyConditions`, `QueryFilter` or `ScanFilter` entries, converted.
pub fn legacy_conditions(
    conditions: HashMap<String, m::Condition>,
) -> Result<Vec<(String, LegacyCondition)>, DynamoDbError> {
    let mut out = Vec::with_capacity(conditions.len());
    for (name, c) in sorted(conditions) {
        out.push((
            name,
            LegacyCondition {
                comparison_operator: comparison_operator(&c.comparison_operator)?,
                attribute_value_list: value_list(c.attribute_value_list)?.unwrap_or_default(),
            },
        ));
    }
    Ok(out)
}

/// Legacy `QueryFilter`/`ScanFilter` (+ `ConditionalOperator`) as a condition.
pub fn filter(
    filter: Option<HashMap<String, m::Condition>>,
    op: Option<&m::ConditionalOperator>,
) -> Result<Option<Condition>, DynamoDbError> {
    let Some(filter) = filter else {
        return Ok(None);
    };
    let converted = legacy_conditions(filter)?;
    legacy::filter_to_condition(
        converted.iter().map(|(n, c)| (n.as_str(), c)),
        conditional_operator(op),
    )
}

/// Legacy `AttributeUpdates` as an update.
pub fn attribute_updates(
    updates: Option<HashMap<String, m::AttributeValueUpdate>>,
) -> Result<Option<Update>, DynamoDbError> {
    let Some(updates) = updates else {
        return Ok(None);
    };
    let mut converted = Vec::with_capacity(updates.len());
    for (name, u) in sorted(updates) {
        let action = match &u.action {
            None => None,
            Some(m::AttributeAction::Put) => Some(legacy::AttributeAction::Put),
            Some(m::AttributeAction::Add) => Some(legacy::AttributeAction::Add),
            Some(m::AttributeAction::Delete) => Some(legacy::AttributeAction::Delete),
            Some(m::AttributeAction::Unknown(s)) => {
                return Err(DynamoDbError::Validation(format!(
                    "1 validation error detected: Value '{s}' at 'attributeUpdates.{name}.member.action' failed to satisfy constraint: Member must satisfy enum value set: {}",
                    m::AttributeAction::VALUE_SET
                )))
            }
        };
        let value = match u.value {
            Some(v) => Some(attr_into_value(v)?),
            None => None,
        };
        converted.push((name, legacy::AttributeValueUpdate { value, action }));
    }
    legacy::attribute_updates_to_update(converted.iter().map(|(n, u)| (n.as_str(), u))).map(Some)
}

/// A wire item or key, converted (AWS's value messages) and checked for nesting depth.
pub fn item(map: HashMap<String, m::AttributeValue>) -> Result<Item, DynamoDbError> {
    let item = attrs_into_item(map)?;
    crate::value::check_item_nesting(&item)?;
    Ok(item)
}

/// `ReturnValues`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReturnValues {
    None,
    AllOld,
    UpdatedOld,
    AllNew,
    UpdatedNew,
}

impl ReturnValues {
    pub fn from_request(r: Option<&m::ReturnValue>) -> ReturnValues {
        match r {
            Some(m::ReturnValue::AllOld) => ReturnValues::AllOld,
            Some(m::ReturnValue::UpdatedOld) => ReturnValues::UpdatedOld,
            Some(m::ReturnValue::AllNew) => ReturnValues::AllNew,
            Some(m::ReturnValue::UpdatedNew) => ReturnValues::UpdatedNew,
            _ => ReturnValues::None,
        }
    }

    /// PutItem and DeleteItem take only NONE and ALL_OLD.
    pub fn check_put_or_delete(self) -> Result<(), DynamoDbError> {
        match self {
            ReturnValues::None | ReturnValues::AllOld => Ok(()),
            _ => Err(DynamoDbError::validation(
                "ReturnValues can only be ALL_OLD or NONE",
            )),
        }
    }
}

/// Whether `ReturnValuesOnConditionCheckFailure` is `ALL_OLD`.
pub fn old_on_failure(r: Option<&m::ReturnValuesOnConditionCheckFailure>) -> bool {
    matches!(r, Some(m::ReturnValuesOnConditionCheckFailure::AllOld))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn s(v: &str) -> m::AttributeValue {
        m::AttributeValue {
            s: Some(v.into()),
            ..Default::default()
        }
    }

    fn msg<T: std::fmt::Debug>(r: Result<T, DynamoDbError>) -> String {
        r.unwrap_err().to_string()
    }

    #[test]
    fn expression_parameter_combinations() {
        assert_eq!(
            msg(check_expression_params(
                &[("Expected", true)],
                &[("ConditionExpression", true)],
                &["ConditionExpression"],
                false,
                false
            )),
            "Can not use both expression and non-expression parameters in the same request: Non-expression parameters: {Expected} Expression parameters: {ConditionExpression}"
        );
        assert_eq!(
            msg(check_expression_params(
                &[("Expected", false)],
                &[("ConditionExpression", false)],
                &["ConditionExpression"],
                true,
                false
            )),
            MSG_NAMES_WITHOUT_EXPRESSIONS
        );
        assert_eq!(
            msg(check_expression_params(
                &[],
                &[("UpdateExpression", false), ("ConditionExpression", false)],
                &["UpdateExpression", "ConditionExpression"],
                false,
                true
            )),
            "ExpressionAttributeValues can only be specified when using expressions: UpdateExpression and ConditionExpression are null"
        );
        assert_eq!(
            msg(check_expression_params(
                &[],
                &[("ProjectionExpression", true), ("FilterExpression", false)],
                &["FilterExpression"],
                true,
                true
            )),
            "ExpressionAttributeValues can only be specified when using expressions: FilterExpression is null"
        );
        assert!(check_expression_params(
            &[("Expected", false)],
            &[("ConditionExpression", true)],
            &["ConditionExpression"],
            true,
            true
        )
        .is_ok());
    }

    #[test]
    fn placeholders_are_checked_in_order() {
        let mut names = HashMap::new();
        names.insert("bad".to_string(), "x".to_string());
        let mut values = HashMap::new();
        values.insert("nocolon".to_string(), s("v"));
        assert_eq!(
            msg(prepare_placeholders(Some(&names), Some(values.clone()))),
            "ExpressionAttributeNames contains invalid key: Syntax error; key: \"bad\""
        );
        assert_eq!(
            msg(prepare_placeholders(None, Some(values))),
            "ExpressionAttributeValues contains invalid key: Syntax error; key: \"nocolon\""
        );
        let mut values = HashMap::new();
        values.insert(":a".to_string(), m::AttributeValue::default());
        assert_eq!(
            msg(prepare_placeholders(None, Some(values))),
            "ExpressionAttributeValues contains invalid value: Supplied AttributeValue is empty, must contain exactly one of the supported datatypes for key :a"
        );
        let mut values = HashMap::new();
        values.insert(":a".to_string(), s("x"));
        let got = prepare_placeholders(None, Some(values)).unwrap().unwrap();
        assert_eq!(got[":a"], Value::s("x"));
        assert_eq!(
            msg(prepare_placeholders(None, Some(HashMap::new()))),
            "ExpressionAttributeValues must not be empty"
        );
    }

    #[test]
    fn legacy_parameters_convert() {
        let mut exp = HashMap::new();
        exp.insert(
            "a".to_string(),
            m::ExpectedAttributeValue {
                value: Some(s("1")),
                exists: Some(false),
                ..Default::default()
            },
        );
        assert_eq!(
            msg(expected(Some(exp), None)),
            "One or more parameter values were invalid: Value cannot be used when Exists is false for Attribute: a"
        );
        let mut exp = HashMap::new();
        exp.insert(
            "a".to_string(),
            m::ExpectedAttributeValue {
                value: Some(s("1")),
                ..Default::default()
            },
        );
        let c = expected(Some(exp), None).unwrap().unwrap();
        let mut it = Item::new();
        assert!(!c.evaluate(&it));
        it.insert("a".into(), Value::s("1"));
        assert!(c.evaluate(&it));

        let mut upd = HashMap::new();
        upd.insert(
            "x".to_string(),
            m::AttributeValueUpdate {
                value: None,
                action: Some(m::AttributeAction::Put),
            },
        );
        assert_eq!(
            msg(attribute_updates(Some(upd))),
            "One or more parameter values were invalid: Only DELETE action is allowed when no attribute value is specified"
        );
        assert_eq!(
            ReturnValues::from_request(Some(&m::ReturnValue::AllNew)),
            ReturnValues::AllNew
        );
        assert_eq!(
            msg(ReturnValues::AllNew.check_put_or_delete()),
            "ReturnValues can only be ALL_OLD or NONE"
        );
    }
}
