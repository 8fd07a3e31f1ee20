//! Item sizes as DynamoDB computes them, the 400 KB limit, and capacity units.
//!
//! Sizes (AWS "Item sizes and formats"): an attribute is its name's UTF-8 bytes plus its
//! value; strings are UTF-8 bytes, binaries raw bytes; a number is 1 byte plus one byte
//! per pair of significant digits as stored in base 100 (so the digit alignment against
//! the decimal point matters), plus one for negatives; null and boolean 1 byte; lists and
//! maps 3 bytes plus 1 byte per element (plus the key's bytes for maps); sets the sum of
//! their members.

use crate::number::Number;
use crate::value::{Item, Value};

/// The maximum item size: 400 KB.
pub const MAX_ITEM_SIZE_BYTES: usize = 400 * 1024;
pub const MSG_ITEM_TOO_LARGE: &str = "Item size has exceeded the maximum allowed size";
/// UpdateItem's wording for the same limit.
pub const MSG_UPDATE_TOO_LARGE: &str = "Item size to update has exceeded the maximum allowed size";

/// One read capacity unit covers this many bytes of item.
pub const READ_UNIT_BYTES: usize = 4 * 1024;
/// One write capacity unit covers this many bytes of item.
pub const WRITE_UNIT_BYTES: usize = 1024;

/// Stored size of a number.
pub fn number_size(n: &Number) -> usize {
    if n.is_zero() {
        return 1;
    }
    let digits = n.significant_digits();
    let adjusted = n.adjusted_exponent();
    // Base-100 digits: the leading digit starts a pair when its exponent is odd; when it
    // is even it shares a pair with an implied leading zero.
    let leading_pad = usize::from(adjusted.rem_euclid(2) == 0);
    let centesimal = (digits + leading_pad).div_ceil(2);
    1 + centesimal + usize::from(n.is_negative())
}

/// Size of a value (without any attribute name).
pub fn value_size(v: &Value) -> usize {
    match v {
        Value::S(s) => s.len(),
        Value::N(n) => number_size(n),
        Value::B(b) => b.len(),
        Value::Ss(ss) => ss.iter().map(String::len).sum(),
        Value::Ns(ns) => ns.iter().map(number_size).sum(),
        Value::Bs(bs) => bs.iter().map(Vec::len).sum(),
        Value::Null | Value::Bool(_) => 1,
        Value::L(l) => 3 + l.iter().map(|e| 1 + value_size(e)).sum::<usize>(),
        Value::M(m) => {
            3 + m
                .iter()
                .map(|(k, e)| 1 + k.len() + value_size(e))
                .sum::<usize>()
        }
    }
}

/// Size of one attribute: name bytes plus value.
pub fn attribute_size(name: &str, v: &Value) -> usize {
    name.len() + value_size(v)
}

/// Size of an item.
pub fn item_size(item: &Item) -> usize {
    item.iter().map(|(k, v)| attribute_size(k, v)).sum()
}

/// `Err(message)` when the item is over 400 KB. PutItem-style message.
pub fn check_item_size(item: &Item) -> Result<(), &'static str> {
    if item_size(item) > MAX_ITEM_SIZE_BYTES {
        return Err(MSG_ITEM_TOO_LARGE);
    }
    Ok(())
}

/// How a read is charged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadMode {
    /// Half a unit per 4 KB.
    Eventual,
    /// One unit per 4 KB.
    Strong,
    /// Two units per 4 KB (TransactGetItems).
    Transactional,
}

impl ReadMode {
    fn factor(self) -> f64 {
        match self {
            ReadMode::Eventual => 0.5,
            ReadMode::Strong => 1.0,
            ReadMode::Transactional => 2.0,
        }
    }
}

/// Read units for one item of `size_bytes` (GetItem, each item of BatchGetItem): at least
/// one 4 KB unit even for a missing item or an empty one.
pub fn read_units_for_item(size_bytes: usize, mode: ReadMode) -> f64 {
    let units = size_bytes.div_ceil(READ_UNIT_BYTES).max(1);
    units as f64 * mode.factor()
}

/// Read units for a Query or Scan page: the sizes of all items read are summed first,
/// then rounded up to 4 KB (at least one unit, as AWS charges an empty page).
pub fn read_units_for_total(total_bytes: usize, mode: ReadMode) -> f64 {
    read_units_for_item(total_bytes, mode)
}

/// Write units for writing (or deleting) an item of `size_bytes`: 1 KB units, at least
/// one; transactional writes cost double. For updates and overwrites AWS charges the larger
/// of the old and new item, which the caller passes.
pub fn write_units(size_bytes: usize, transactional: bool) -> f64 {
    let units = size_bytes.div_ceil(WRITE_UNIT_BYTES).max(1) as f64;
    if transactional {
        units * 2.0
    } else {
        units
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::value::Map;

    fn n(s: &str) -> Value {
        Value::n(s).unwrap()
    }

    #[test]
    fn number_sizes() {
        // Expected values from base-100 storage: 1 exponent byte + centesimal digits
        // (+1 for negatives); these agree with dynalite's measurements against AWS.
        let cases = [
            ("0", 1),
            ("1", 2),
            ("9", 2),
            ("10", 2),
            ("11", 2),
            ("111", 3),
            ("99", 2),
            ("100", 2),
            ("101", 3),
            ("123", 3),
            ("1234", 3),
            ("12345", 4),
            ("0.1", 2),
            ("0.01", 2),
            ("0.12", 2),
            ("0.123", 3),
            ("1.5", 3),
            ("-1", 3),
            ("-1.5", 4),
            ("12345678901234567890123456789012345678", 20),
            ("1e125", 2),
            ("1e-130", 2),
        ];
        for (s, want) in cases {
            let v = Number::parse(s).unwrap();
            assert_eq!(number_size(&v), want, "{s}");
        }
    }

    #[test]
    fn value_sizes() {
        assert_eq!(value_size(&Value::s("abc")), 3);
        assert_eq!(value_size(&Value::s("é")), 2, "UTF-8 bytes");
        assert_eq!(value_size(&Value::s("😀")), 4);
        assert_eq!(value_size(&Value::B(vec![1, 2, 3, 4])), 4);
        assert_eq!(value_size(&Value::Null), 1);
        assert_eq!(value_size(&Value::Bool(true)), 1);
        assert_eq!(value_size(&Value::Ss(vec!["ab".into(), "c".into()])), 3);
        assert_eq!(
            value_size(&Value::Ns(vec![
                Number::parse("1").unwrap(),
                Number::parse("123").unwrap()
            ])),
            5
        );
        assert_eq!(value_size(&Value::L(vec![])), 3);
        assert_eq!(value_size(&Value::M(Map::new())), 3);
        assert_eq!(
            value_size(&Value::L(vec![Value::s("ab"), n("1")])),
            3 + 3 + 3
        );
        let mut m = Map::new();
        m.insert("key".into(), Value::s("vv"));
        assert_eq!(value_size(&Value::M(m)), 3 + 1 + 3 + 2);
    }

    #[test]
    fn item_sizes_and_limit() {
        let mut item = Item::new();
        item.insert("pk".into(), Value::s("abc"));
        item.insert("n".into(), n("12"));
        assert_eq!(item_size(&item), 2 + 3 + 1 + 2);
        // Exactly 400 KB is allowed, one more byte is not.
        let mut big = Item::new();
        big.insert("a".into(), Value::s("x".repeat(MAX_ITEM_SIZE_BYTES - 1)));
        assert_eq!(item_size(&big), MAX_ITEM_SIZE_BYTES);
        assert!(check_item_size(&big).is_ok());
        big.insert("a".into(), Value::s("x".repeat(MAX_ITEM_SIZE_BYTES)));
        assert_eq!(check_item_size(&big), Err(MSG_ITEM_TOO_LARGE));
    }

    #[test]
    fn capacity_units() {
        assert_eq!(read_units_for_item(0, ReadMode::Eventual), 0.5);
        assert_eq!(read_units_for_item(1, ReadMode::Strong), 1.0);
        assert_eq!(read_units_for_item(4096, ReadMode::Strong), 1.0);
        assert_eq!(read_units_for_item(4097, ReadMode::Strong), 2.0);
        assert_eq!(read_units_for_item(4097, ReadMode::Eventual), 1.0);
        assert_eq!(read_units_for_item(4097, ReadMode::Transactional), 4.0);
        assert_eq!(read_units_for_total(10_000, ReadMode::Eventual), 1.5);
        assert_eq!(write_units(0, false), 1.0);
        assert_eq!(write_units(1024, false), 1.0);
        assert_eq!(write_units(1025, false), 2.0);
        assert_eq!(write_units(1025, true), 4.0);
    }
}
