//! DynamoDB attribute values and items, with AWS's validation rules and equality.
//!
//! Invariants of a `Value` built through `Value::from_parts` (the wire converter's entry):
//! sets are non-empty and duplicate-free, numbers are valid DynamoDB numbers, `Null` is
//! only ever "NULL: true". Equality follows DynamoDB: numbers compare numerically (the
//! `Number` type is canonical), sets compare as sets (order does not matter).

use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};

use crate::error::DynamoDbError;
use crate::number::{Number, NumberError};

/// A map attribute's contents.
pub type Map = HashMap<String, Value>;
/// An item: top-level attribute name to value.
pub type Item = HashMap<String, Value>;

/// Deepest nesting AWS accepts: a top-level attribute is level 1, each list or map adds
/// one level to its elements.
pub const MAX_NESTING_LEVELS: usize = 32;

pub const MSG_EMPTY: &str =
    "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes";
pub const MSG_MULTIPLE: &str = "Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes";
pub const MSG_NULL_FALSE: &str =
    "One or more parameter values were invalid: Null attribute value types must have the value of true";
pub const MSG_EMPTY_SS: &str =
    "One or more parameter values were invalid: An string set  may not be empty";
pub const MSG_EMPTY_NS: &str =
    "One or more parameter values were invalid: An number set  may not be empty";
pub const MSG_EMPTY_BS: &str =
    "One or more parameter values were invalid: Binary sets should not be empty";
pub const MSG_NS_DUPLICATES: &str = "Input collection contains duplicates";
pub const MSG_NESTING: &str = "Nesting Levels have exceeded supported limits: Attributes in the item have nested levels beyond supported limit";

/// A DynamoDB attribute value.
#[derive(Debug, Clone)]
pub enum Value {
    S(String),
    N(Number),
    B(Vec<u8>),
    Ss(Vec<String>),
    Ns(Vec<Number>),
    Bs(Vec<Vec<u8>>),
    M(Map),
    L(Vec<Value>),
    Null,
    Bool(bool),
}

/// The ten DynamoDB data types, named as on the wire ("S", "NS", "NULL", ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ValueType {
    S,
    N,
    B,
    Ss,
    Ns,
    Bs,
    M,
    L,
    Null,
    Bool,
}

impl ValueType {
    pub const ALL: [ValueType; 10] = [
        ValueType::S,
        ValueType::N,
        ValueType::B,
        ValueType::Ss,
        ValueType::Ns,
        ValueType::Bs,
        ValueType::M,
        ValueType::L,
        ValueType::Null,
        ValueType::Bool,
    ];

    /// The wire name: "S", "N", "B", "SS", "NS", "BS", "M", "L", "NULL", "BOOL".
    pub fn as_str(self) -> &'static str {
        match self {
            ValueType::S => "S",
            ValueType::N => "N",
            ValueType::B => "B",
            ValueType::Ss => "SS",
            ValueType::Ns => "NS",
            ValueType::Bs => "BS",
            ValueType::M => "M",
            ValueType::L => "L",
            ValueType::Null => "NULL",
            ValueType::Bool => "BOOL",
        }
    }

    /// Parses a wire name (case-sensitive, as AWS is).
    pub fn parse(name: &str) -> Option<ValueType> {
        ValueType::ALL.into_iter().find(|t| t.as_str() == name)
    }

    pub fn is_set(self) -> bool {
        matches!(self, ValueType::Ss | ValueType::Ns | ValueType::Bs)
    }

    /// S, N and B: the types a key attribute may have and `<`/`>` may compare.
    pub fn is_scalar_key_type(self) -> bool {
        matches!(self, ValueType::S | ValueType::N | ValueType::B)
    }
}

impl std::fmt::Display for ValueType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A validation failure of an attribute value. `Display` is AWS's message; callers that
/// need a context prefix (e.g. "ExpressionAttributeValues contains invalid value: ... for
/// key :v") take the text from `.0`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidValue(pub String);

impl From<InvalidValue> for DynamoDbError {
    fn from(e: InvalidValue) -> Self {
        DynamoDbError::Validation(e.0)
    }
}

impl From<NumberError> for InvalidValue {
    fn from(e: NumberError) -> Self {
        InvalidValue(e.to_string())
    }
}

/// The members of a wire `AttributeValue`, each optional, with nested `M`/`L` members
/// already converted (convert children first, then call `Value::from_parts`). `n`/`ns`
/// are the raw strings; `b`/`bs` are decoded bytes.
#[derive(Debug, Default, Clone)]
pub struct ValueParts {
    pub s: Option<String>,
    pub n: Option<String>,
    pub b: Option<Vec<u8>>,
    pub ss: Option<Vec<String>>,
    pub ns: Option<Vec<String>>,
    pub bs: Option<Vec<Vec<u8>>>,
    pub m: Option<Map>,
    pub l: Option<Vec<Value>>,
    pub null: Option<bool>,
    pub bool: Option<bool>,
}

impl Value {
    /// Validates the members of a wire `AttributeValue` the way AWS does and builds the
    /// value. Checks per member first (in wire member order), then "exactly one type".
    pub fn from_parts(parts: ValueParts) -> Result<Value, InvalidValue> {
        let count = [
            parts.s.is_some(),
            parts.n.is_some(),
            parts.b.is_some(),
            parts.ss.is_some(),
            parts.ns.is_some(),
            parts.bs.is_some(),
            parts.m.is_some(),
            parts.l.is_some(),
            parts.null.is_some(),
            parts.bool.is_some(),
        ]
        .iter()
        .filter(|p| **p)
        .count();
        if count == 0 {
            return Err(InvalidValue(MSG_EMPTY.into()));
        }
        let mut built: Option<Value> = None;
        if let Some(s) = parts.s {
            built = Some(Value::S(s));
        }
        if let Some(n) = parts.n {
            built = Some(Value::N(Number::parse(&n)?));
        }
        if let Some(b) = parts.b {
            built = Some(Value::B(b));
        }
        if let Some(ss) = parts.ss {
            built = Some(Value::Ss(validate_ss(ss)?));
        }
        if let Some(ns) = parts.ns {
            built = Some(Value::Ns(validate_ns(&ns)?));
        }
        if let Some(bs) = parts.bs {
            built = Some(Value::Bs(validate_bs(bs)?));
        }
        if let Some(m) = parts.m {
            built = Some(Value::M(m));
        }
        if let Some(l) = parts.l {
            built = Some(Value::L(l));
        }
        if let Some(null) = parts.null {
            if !null {
                return Err(InvalidValue(MSG_NULL_FALSE.into()));
            }
            built = Some(Value::Null);
        }
        if let Some(b) = parts.bool {
            built = Some(Value::Bool(b));
        }
        if count > 1 {
            return Err(InvalidValue(MSG_MULTIPLE.into()));
        }
        built.ok_or_else(|| InvalidValue(MSG_EMPTY.into()))
    }

    pub fn value_type(&self) -> ValueType {
        match self {
            Value::S(_) => ValueType::S,
            Value::N(_) => ValueType::N,
            Value::B(_) => ValueType::B,
            Value::Ss(_) => ValueType::Ss,
            Value::Ns(_) => ValueType::Ns,
            Value::Bs(_) => ValueType::Bs,
            Value::M(_) => ValueType::M,
            Value::L(_) => ValueType::L,
            Value::Null => ValueType::Null,
            Value::Bool(_) => ValueType::Bool,
        }
    }

    /// The wire type name ("S", "NS", "NULL", ...).
    pub fn type_name(&self) -> &'static str {
        self.value_type().as_str()
    }

    /// Levels of this value: 1 for a scalar or an empty list/map, 1 + the deepest element
    /// otherwise. Bounded recursion: values come from JSON whose depth the wire layer caps,
    /// and this stops descending once past the limit.
    pub fn nesting_levels(&self) -> usize {
        fn walk(v: &Value, level: usize) -> usize {
            if level > MAX_NESTING_LEVELS {
                return level;
            }
            match v {
                Value::M(m) => m
                    .values()
                    .map(|c| walk(c, level + 1))
                    .max()
                    .unwrap_or(level),
                Value::L(l) => l.iter().map(|c| walk(c, level + 1)).max().unwrap_or(level),
                _ => level,
            }
        }
        walk(self, 1)
    }

    /// Orders two values of the same scalar key type (S by UTF-8 bytes, N numerically, B
    /// by bytes), as comparisons and key ranges do. `None` for any other pair.
    pub fn compare_scalar(&self, other: &Value) -> Option<Ordering> {
        match (self, other) {
            (Value::S(a), Value::S(b)) => Some(a.as_bytes().cmp(b.as_bytes())),
            (Value::N(a), Value::N(b)) => Some(a.cmp(b)),
            (Value::B(a), Value::B(b)) => Some(a.as_slice().cmp(b.as_slice())),
            _ => None,
        }
    }

    pub fn as_s(&self) -> Option<&str> {
        match self {
            Value::S(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_n(&self) -> Option<&Number> {
        match self {
            Value::N(n) => Some(n),
            _ => None,
        }
    }

    pub fn as_b(&self) -> Option<&[u8]> {
        match self {
            Value::B(b) => Some(b),
            _ => None,
        }
    }

    /// A string value (test and call-site convenience).
    pub fn s(s: impl Into<String>) -> Value {
        Value::S(s.into())
    }

    /// A number value from text; panics-free: returns the parse error.
    pub fn n(text: &str) -> Result<Value, NumberError> {
        Number::parse(text).map(Value::N)
    }
}

/// Checks every top-level attribute of an item against the nesting limit.
pub fn check_item_nesting(item: &Item) -> Result<(), InvalidValue> {
    if item
        .values()
        .any(|v| v.nesting_levels() > MAX_NESTING_LEVELS)
    {
        return Err(InvalidValue(MSG_NESTING.into()));
    }
    Ok(())
}

/// `[a, b]` as AWS prints a collection in messages.
fn list_display<T: AsRef<str>>(items: &[T]) -> String {
    let mut out = String::from("[");
    for (i, s) in items.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(s.as_ref());
    }
    out.push(']');
    out
}

fn validate_ss(ss: Vec<String>) -> Result<Vec<String>, InvalidValue> {
    if ss.is_empty() {
        return Err(InvalidValue(MSG_EMPTY_SS.into()));
    }
    let mut seen: HashSet<&str> = HashSet::with_capacity(ss.len());
    if ss.iter().any(|s| !seen.insert(s.as_str())) {
        return Err(InvalidValue(format!(
            "One or more parameter values were invalid: Input collection {} contains duplicates.",
            list_display(&ss)
        )));
    }
    drop(seen);
    Ok(ss)
}

fn validate_ns(ns: &[String]) -> Result<Vec<Number>, InvalidValue> {
    if ns.is_empty() {
        return Err(InvalidValue(MSG_EMPTY_NS.into()));
    }
    let mut out = Vec::with_capacity(ns.len());
    for s in ns {
        out.push(Number::parse(s)?);
    }
    // Duplicates are numeric: "1" and "1.0" are the same member.
    let mut seen: HashSet<Number> = HashSet::with_capacity(out.len());
    if out.iter().any(|n| !seen.insert(*n)) {
        return Err(InvalidValue(MSG_NS_DUPLICATES.into()));
    }
    Ok(out)
}

fn validate_bs(bs: Vec<Vec<u8>>) -> Result<Vec<Vec<u8>>, InvalidValue> {
    use base64::Engine as _;
    if bs.is_empty() {
        return Err(InvalidValue(MSG_EMPTY_BS.into()));
    }
    let mut seen: HashSet<&[u8]> = HashSet::with_capacity(bs.len());
    if bs.iter().any(|b| !seen.insert(b.as_slice())) {
        let shown: Vec<String> = bs
            .iter()
            .map(|b| base64::engine::general_purpose::STANDARD.encode(b))
            .collect();
        // Sic: AWS omits the space before "of type BS".
        return Err(InvalidValue(format!(
            "One or more parameter values were invalid: Input collection {}of type BS contains duplicates.",
            list_display(&shown)
        )));
    }
    drop(seen);
    Ok(bs)
}

/// Set equality without allocation for the common small sets.
fn set_eq<T: PartialEq + Eq + std::hash::Hash>(a: &[T], b: &[T]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    if a.len() <= 16 {
        return a.iter().all(|x| b.contains(x));
    }
    let bs: HashSet<&T> = b.iter().collect();
    a.iter().all(|x| bs.contains(x))
}

impl PartialEq for Value {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Value::S(a), Value::S(b)) => a == b,
            (Value::N(a), Value::N(b)) => a == b,
            (Value::B(a), Value::B(b)) => a == b,
            (Value::Ss(a), Value::Ss(b)) => set_eq(a, b),
            (Value::Ns(a), Value::Ns(b)) => set_eq(a, b),
            (Value::Bs(a), Value::Bs(b)) => set_eq(a, b),
            (Value::M(a), Value::M(b)) => a == b,
            (Value::L(a), Value::L(b)) => a == b,
            (Value::Null, Value::Null) => true,
            (Value::Bool(a), Value::Bool(b)) => a == b,
            _ => false,
        }
    }
}

impl Eq for Value {}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn num(s: &str) -> Number {
        Number::parse(s).unwrap()
    }

    fn err(parts: ValueParts) -> String {
        Value::from_parts(parts).unwrap_err().0
    }

    #[test]
    fn from_parts_builds_each_type() {
        let v = Value::from_parts(ValueParts {
            n: Some("1.50".into()),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(v, Value::N(num("1.5")));
        let v = Value::from_parts(ValueParts {
            ns: Some(vec!["1".into(), "2e0".into()]),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(v, Value::Ns(vec![num("2"), num("1")]));
        let v = Value::from_parts(ValueParts {
            null: Some(true),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(v, Value::Null);
        let v = Value::from_parts(ValueParts {
            bool: Some(false),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(v, Value::Bool(false));
        let v = Value::from_parts(ValueParts {
            s: Some(String::new()),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(v, Value::s(""));
    }

    #[test]
    fn from_parts_errors_are_aws_text() {
        let cases: Vec<(ValueParts, &str)> = vec![
            (ValueParts::default(), "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes"),
            (
                ValueParts { s: Some("a".into()), n: Some("1".into()), ..Default::default() },
                "Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes",
            ),
            (
                ValueParts { s: Some("a".into()), n: Some("b".into()), ..Default::default() },
                "The parameter cannot be converted to a numeric value: b",
            ),
            (
                ValueParts { s: Some("a".into()), n: Some(String::new()), ..Default::default() },
                "The parameter cannot be converted to a numeric value",
            ),
            (
                ValueParts { null: Some(false), ..Default::default() },
                "One or more parameter values were invalid: Null attribute value types must have the value of true",
            ),
            (
                ValueParts { ss: Some(vec![]), ..Default::default() },
                "One or more parameter values were invalid: An string set  may not be empty",
            ),
            (
                ValueParts { ns: Some(vec![]), ..Default::default() },
                "One or more parameter values were invalid: An number set  may not be empty",
            ),
            (
                ValueParts { bs: Some(vec![]), ..Default::default() },
                "One or more parameter values were invalid: Binary sets should not be empty",
            ),
            (
                ValueParts { ss: Some(vec!["a".into(), "a".into()]), ..Default::default() },
                "One or more parameter values were invalid: Input collection [a, a] contains duplicates.",
            ),
            (
                ValueParts { bs: Some(vec![b"b".to_vec(), b"b".to_vec()]), ..Default::default() },
                "One or more parameter values were invalid: Input collection [Yg==, Yg==]of type BS contains duplicates.",
            ),
            (
                ValueParts { ns: Some(vec!["1".into(), "1.0".into()]), ..Default::default() },
                "Input collection contains duplicates",
            ),
            (
                ValueParts { ns: Some(vec!["1".into(), "b".into(), "a".into()]), ..Default::default() },
                "The parameter cannot be converted to a numeric value: b",
            ),
            (
                ValueParts { ns: Some(vec!["1".into(), String::new()]), ..Default::default() },
                "The parameter cannot be converted to a numeric value",
            ),
            (
                ValueParts { n: Some("1e126".into()), ..Default::default() },
                "Number overflow. Attempting to store a number with magnitude larger than supported range",
            ),
        ];
        for (parts, want) in cases {
            let dbg = format!("{parts:?}");
            assert_eq!(err(parts), want, "{dbg}");
        }
    }

    #[test]
    fn invalid_value_becomes_validation_error() {
        let e: DynamoDbError = InvalidValue("x".into()).into();
        assert_eq!(e.code(), "ValidationException");
        assert_eq!(e.to_string(), "x");
    }

    #[test]
    fn type_names() {
        for t in ValueType::ALL {
            assert_eq!(ValueType::parse(t.as_str()), Some(t));
        }
        assert_eq!(ValueType::parse("ss"), None);
        assert_eq!(Value::Null.type_name(), "NULL");
        assert_eq!(Value::Bool(true).type_name(), "BOOL");
        assert_eq!(Value::Ss(vec!["a".into()]).type_name(), "SS");
        assert_eq!(Value::M(Map::new()).type_name(), "M");
    }

    #[test]
    fn equality_semantics() {
        assert_eq!(
            Value::Ss(vec!["a".into(), "b".into()]),
            Value::Ss(vec!["b".into(), "a".into()])
        );
        assert_ne!(
            Value::Ss(vec!["a".into(), "b".into()]),
            Value::Ss(vec!["a".into()])
        );
        assert_ne!(Value::Ss(vec!["1".into()]), Value::Ns(vec![num("1")]));
        assert_eq!(Value::N(num("1e2")), Value::N(num("100")));
        assert_ne!(Value::s("1"), Value::N(num("1")));
        // Lists are ordered.
        assert_ne!(
            Value::L(vec![Value::s("a"), Value::s("b")]),
            Value::L(vec![Value::s("b"), Value::s("a")])
        );
        let big_a: Vec<String> = (0..100).map(|i| i.to_string()).collect();
        let mut big_b = big_a.clone();
        big_b.reverse();
        assert_eq!(Value::Ss(big_a.clone()), Value::Ss(big_b));
        let mut big_c = big_a.clone();
        big_c[5] = "x".into();
        assert_ne!(Value::Ss(big_a), Value::Ss(big_c));
        let mut m1 = Map::new();
        m1.insert("a".into(), Value::Ns(vec![num("1"), num("2")]));
        let mut m2 = Map::new();
        m2.insert("a".into(), Value::Ns(vec![num("2.0"), num("1")]));
        assert_eq!(Value::M(m1), Value::M(m2));
    }

    fn nest(levels: usize) -> Value {
        let mut v = Value::s("x");
        for i in 1..levels {
            v = if i % 2 == 0 {
                Value::L(vec![v])
            } else {
                let mut m = Map::new();
                m.insert("k".into(), v);
                Value::M(m)
            };
        }
        v
    }

    #[test]
    fn nesting_limit() {
        assert_eq!(Value::s("a").nesting_levels(), 1);
        assert_eq!(nest(5).nesting_levels(), 5);
        let mut item = Item::new();
        item.insert("a".into(), nest(32));
        assert!(check_item_nesting(&item).is_ok());
        item.insert("b".into(), nest(33));
        assert_eq!(check_item_nesting(&item).unwrap_err().0, MSG_NESTING);
    }

    #[test]
    fn scalar_comparison() {
        assert_eq!(
            Value::s("a").compare_scalar(&Value::s("b")),
            Some(Ordering::Less)
        );
        // Strings order by UTF-8 bytes, not UTF-16 code units.
        assert_eq!(
            Value::s("\u{ffff}").compare_scalar(&Value::s("\u{10000}")),
            Some(Ordering::Less)
        );
        assert_eq!(
            Value::N(num("10")).compare_scalar(&Value::N(num("9"))),
            Some(Ordering::Greater)
        );
        assert_eq!(
            Value::B(vec![0xff]).compare_scalar(&Value::B(vec![0x00, 0x01])),
            Some(Ordering::Greater)
        );
        assert_eq!(Value::s("1").compare_scalar(&Value::N(num("1"))), None);
        assert_eq!(Value::Bool(true).compare_scalar(&Value::Bool(true)), None);
    }
}
