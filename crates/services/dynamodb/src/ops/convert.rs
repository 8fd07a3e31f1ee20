//! The edge between the wire model's `AttributeValue` and the data model's `Value`.
//!
//! Wire -> model validates exactly as AWS does (through `Value::from_parts`), so every
//! operation that accepts items or keys gets AWS's messages. Model -> wire cannot fail.

use std::collections::HashMap;

use nimbus_model::dynamodb::AttributeValue;

use crate::error::DynamoDbError;
use crate::value::{InvalidValue, Item, Map, Value, ValueParts};

/// Converts one wire value (borrowed), children first.
pub fn attr_to_value(av: &AttributeValue) -> Result<Value, InvalidValue> {
    attr_into_value(av.clone())
}

/// Converts one wire value, consuming it (no copies of strings and blobs).
pub fn attr_into_value(av: AttributeValue) -> Result<Value, InvalidValue> {
    let m = match av.m {
        Some(m) => {
            let mut out = Map::with_capacity(m.len());
            for (k, v) in m {
                out.insert(k, attr_into_value(v)?);
            }
            Some(out)
        }
        None => None,
    };
    let l = match av.l {
        Some(l) => {
            let mut out = Vec::with_capacity(l.len());
            for v in l {
                out.push(attr_into_value(v)?);
            }
            Some(out)
        }
        None => None,
    };
    Value::from_parts(ValueParts {
        s: av.s,
        n: av.n,
        b: av.b,
        ss: av.ss,
        ns: av.ns,
        bs: av.bs,
        m,
        l,
        null: av.null,
        bool: av.bool,
    })
}

/// Converts a wire item or key map (consuming it). Errors are `ValidationException`s with
/// AWS's text.
pub fn attrs_into_item(map: HashMap<String, AttributeValue>) -> Result<Item, DynamoDbError> {
    let mut out = Item::with_capacity(map.len());
    for (k, v) in map {
        out.insert(k, attr_into_value(v)?);
    }
    Ok(out)
}

/// Converts a borrowed wire item or key map.
pub fn attrs_to_item(map: &HashMap<String, AttributeValue>) -> Result<Item, DynamoDbError> {
    let mut out = Item::with_capacity(map.len());
    for (k, v) in map {
        out.insert(k.clone(), attr_to_value(v)?);
    }
    Ok(out)
}

/// Converts a data-model value to the wire shape.
pub fn value_to_attr(v: &Value) -> AttributeValue {
    let mut av = AttributeValue::default();
    match v {
        Value::S(s) => av.s = Some(s.clone()),
        Value::N(n) => av.n = Some(n.to_string()),
        Value::B(b) => av.b = Some(b.clone()),
        Value::Ss(ss) => av.ss = Some(ss.clone()),
        Value::Ns(ns) => av.ns = Some(ns.iter().map(|n| n.to_string()).collect()),
        Value::Bs(bs) => av.bs = Some(bs.clone()),
        Value::M(m) => {
            av.m = Some(
                m.iter()
                    .map(|(k, v)| (k.clone(), value_to_attr(v)))
                    .collect(),
            )
        }
        Value::L(l) => av.l = Some(l.iter().map(value_to_attr).collect()),
        Value::Null => av.null = Some(true),
        Value::Bool(b) => av.bool = Some(*b),
    }
    av
}

/// Converts a data-model value to the wire shape, consuming it.
pub fn value_into_attr(v: Value) -> AttributeValue {
    let mut av = AttributeValue::default();
    match v {
        Value::S(s) => av.s = Some(s),
        Value::N(n) => av.n = Some(n.to_string()),
        Value::B(b) => av.b = Some(b),
        Value::Ss(ss) => av.ss = Some(ss),
        Value::Ns(ns) => av.ns = Some(ns.iter().map(|n| n.to_string()).collect()),
        Value::Bs(bs) => av.bs = Some(bs),
        Value::M(m) => {
            av.m = Some(
                m.into_iter()
                    .map(|(k, v)| (k, value_into_attr(v)))
                    .collect(),
            )
        }
        Value::L(l) => av.l = Some(l.into_iter().map(value_into_attr).collect()),
        Value::Null => av.null = Some(true),
        Value::Bool(b) => av.bool = Some(b),
    }
    av
}

/// A data-model item as a wire map.
pub fn item_to_attrs(item: &Item) -> HashMap<String, AttributeValue> {
    item.iter()
        .map(|(k, v)| (k.clone(), value_to_attr(v)))
        .collect()
}

/// A data-model item as a wire map, consuming it.
pub fn item_into_attrs(item: Item) -> HashMap<String, AttributeValue> {
    item.into_iter()
        .map(|(k, v)| (k, value_into_attr(v)))
        .collect()
}

/// One value as AWS's AttributeValue JSON (`{"S": "x"}`, blobs base64).
pub fn value_to_json(v: &Value) -> serde_json::Value {
    use base64::Engine as _;
    use serde_json::Value as J;
    let b64 = |b: &[u8]| J::String(base64::engine::general_purpose::STANDARD.encode(b));
    let (tag, body) = match v {
        Value::S(s) => ("S", J::String(s.clone())),
        Value::N(n) => ("N", J::String(n.to_string())),
        Value::B(b) => ("B", b64(b)),
        Value::Ss(ss) => ("SS", J::Array(ss.iter().cloned().map(J::String).collect())),
        Value::Ns(ns) => (
            "NS",
            J::Array(ns.iter().map(|n| J::String(n.to_string())).collect()),
        ),
        Value::Bs(bs) => ("BS", J::Array(bs.iter().map(|b| b64(b)).collect())),
        Value::M(m) => ("M", item_to_json(m)),
        Value::L(l) => ("L", J::Array(l.iter().map(value_to_json).collect())),
        Value::Null => ("NULL", J::Bool(true)),
        Value::Bool(b) => ("BOOL", J::Bool(*b)),
    };
    let mut obj = serde_json::Map::with_capacity(1);
    obj.insert(tag.to_string(), body);
    J::Object(obj)
}

/// An item as AWS's JSON item map; matches `error::ItemToJson` (for error payloads).
pub fn item_to_json(item: &Item) -> serde_json::Value {
    let mut obj = serde_json::Map::with_capacity(item.len());
    for (k, v) in item {
        obj.insert(k.clone(), value_to_json(v));
    }
    serde_json::Value::Object(obj)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn av_s(s: &str) -> AttributeValue {
        AttributeValue {
            s: Some(s.into()),
            ..Default::default()
        }
    }

    #[test]
    fn round_trip_all_types() {
        let mut inner = HashMap::new();
        inner.insert("x".to_string(), av_s("y"));
        let mut wire = HashMap::new();
        wire.insert("s".to_string(), av_s("a"));
        wire.insert(
            "n".to_string(),
            AttributeValue {
                n: Some("1.50".into()),
                ..Default::default()
            },
        );
        wire.insert(
            "b".to_string(),
            AttributeValue {
                b: Some(vec![0, 1]),
                ..Default::default()
            },
        );
        wire.insert(
            "ns".to_string(),
            AttributeValue {
                ns: Some(vec!["1".into(), "2".into()]),
                ..Default::default()
            },
        );
        wire.insert(
            "m".to_string(),
            AttributeValue {
                m: Some(inner),
                ..Default::default()
            },
        );
        wire.insert(
            "l".to_string(),
            AttributeValue {
                l: Some(vec![
                    av_s("z"),
                    AttributeValue {
                        null: Some(true),
                        ..Default::default()
                    },
                ]),
                ..Default::default()
            },
        );
        let item = attrs_to_item(&wire).unwrap();
        assert_eq!(item["n"], Value::n("1.5").unwrap());
        let back = item_to_attrs(&item);
        // Numbers come back canonical.
        assert_eq!(back["n"].n.as_deref(), Some("1.5"));
        assert_eq!(back["m"], wire["m"]);
        assert_eq!(back["l"], wire["l"]);
        let again = attrs_into_item(back).unwrap();
        assert_eq!(again, item);
    }

    #[test]
    fn invalid_values_are_aws_errors() {
        let mut wire = HashMap::new();
        wire.insert(
            "a".to_string(),
            AttributeValue {
                l: Some(vec![AttributeValue::default()]),
                ..Default::default()
            },
        );
        let err = attrs_into_item(wire).unwrap_err();
        assert_eq!(err.code(), "ValidationException");
        assert_eq!(
            err.to_string(),
            "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes"
        );
    }

    #[test]
    fn json_shape() {
        let mut item = Item::new();
        item.insert("b".into(), Value::B(b"hi".to_vec()));
        item.insert("t".into(), Value::Bool(true));
        item.insert("n".into(), Value::n("10").unwrap());
        let j = item_to_json(&item);
        assert_eq!(
            j,
            serde_json::json!({"b": {"B": "aGk="}, "t": {"BOOL": true}, "n": {"N": "10"}})
        );
        // Same bytes as the wire encoder produces.
        let via_model = nimbus_model::runtime::json::to_value(&value_to_attr(&item["b"]));
        assert_eq!(via_model, j["b"]);
    }
}
