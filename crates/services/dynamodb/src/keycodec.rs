//! Order-preserving byte encoding of key attribute values (S, N, B), for composite store
//! keys: for values `a`, `b` of one key type, `encode(a) < encode(b)` (bytewise) exactly
//! when `a < b` in DynamoDB's order, and every encoding is self-delimiting, so
//! `encode(h1) ++ encode(r1) < encode(h2) ++ encode(r2)` orders by (hash, range).
//!
//! Formats (no type tag: the table's key schema fixes each key's type):
//! - S and B: the bytes with each 0x00 escaped as 0x00 0xFF, then the terminator 0x00 0x01.
//!   The terminator sorts below any escaped 0x00 and any other byte, so a prefix sorts
//!   first.
//! - N: a sign byte (0x01 negative, 0x02 zero, 0x03 positive); for non-zero numbers the
//!   adjusted exponent (-130..=125 maps to 0..=255), then the significant digits in pairs
//!   (one byte per pair: 1 + 10*d1 + d2, a trailing odd digit paired with 0), then the
//!   terminator 0x00. Negative numbers store every byte after the sign complemented
//!   (255 - b), so larger magnitudes sort first and the terminator becomes 0xFF, which
//!   sorts after any complemented digit byte (at most 254).
//!   Numbers are canonical (no trailing zeros), so equal values encode identically.

use crate::number::{Number, MIN_ADJUSTED_EXPONENT};
use crate::value::{Value, ValueType};

const ESCAPE: u8 = 0xFF;
const TERMINATOR: u8 = 0x01;
const SIGN_NEGATIVE: u8 = 0x01;
const SIGN_ZERO: u8 = 0x02;
const SIGN_POSITIVE: u8 = 0x03;

/// The key attribute types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyType {
    S,
    N,
    B,
}

impl KeyType {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyType::S => "S",
            KeyType::N => "N",
            KeyType::B => "B",
        }
    }

    /// "S", "N" or "B" (a key schema's `AttributeType`).
    pub fn parse(s: &str) -> Option<KeyType> {
        match s {
            "S" => Some(KeyType::S),
            "N" => Some(KeyType::N),
            "B" => Some(KeyType::B),
            _ => None,
        }
    }

    pub fn value_type(self) -> ValueType {
        match self {
            KeyType::S => ValueType::S,
            KeyType::N => ValueType::N,
            KeyType::B => ValueType::B,
        }
    }

    /// The key type of a value, when it can be a key.
    pub fn of(v: &Value) -> Option<KeyType> {
        match v {
            Value::S(_) => Some(KeyType::S),
            Value::N(_) => Some(KeyType::N),
            Value::B(_) => Some(KeyType::B),
            _ => None,
        }
    }
}

/// Why bytes do not decode as a key value (only corrupt data can cause it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyDecodeError {
    #[error("key encoding truncated")]
    Truncated,
    #[error("invalid key encoding byte {0:#04x} at offset {1}")]
    InvalidByte(u8, usize),
    #[error("key string is not UTF-8")]
    NotUtf8,
    #[error("key value is not a scalar key type")]
    NotAKeyType,
}

/// Appends the encoding of a key value. `Err` for a value that cannot be a key (the
/// caller validated types against the schema, so this signals a bug, not bad input).
pub fn encode_key_value(v: &Value, out: &mut Vec<u8>) -> Result<(), KeyDecodeError> {
    match v {
        Value::S(s) => encode_bytes(s.as_bytes(), out),
        Value::B(b) => encode_bytes(b, out),
        Value::N(n) => encode_number(n, out),
        _ => return Err(KeyDecodeError::NotAKeyType),
    }
    Ok(())
}

/// The encoding of a key value in a fresh buffer.
pub fn encoded_key_value(v: &Value) -> Result<Vec<u8>, KeyDecodeError> {
    let mut out = Vec::with_capacity(encoded_len_hint(v));
    encode_key_value(v, &mut out)?;
    Ok(out)
}

fn encoded_len_hint(v: &Value) -> usize {
    match v {
        Value::S(s) => s.len() + 2,
        Value::B(b) => b.len() + 2,
        _ => 22,
    }
}

/// Escaped bytes plus terminator (also usable for any raw byte component of a store key).
pub fn encode_bytes(bytes: &[u8], out: &mut Vec<u8>) {
    out.reserve(bytes.len() + 2);
    for &b in bytes {
        out.push(b);
        if b == 0 {
            out.push(ESCAPE);
        }
    }
    out.push(0);
    out.push(TERMINATOR);
}

/// Decodes an `encode_bytes` component at the start of `input`; returns the bytes and the
/// number of input bytes consumed.
pub fn decode_bytes(input: &[u8]) -> Result<(Vec<u8>, usize), KeyDecodeError> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < input.len() {
        let b = input[i];
        if b != 0 {
            out.push(b);
            i += 1;
            continue;
        }
        match input.get(i + 1) {
            Some(&ESCAPE) => {
                out.push(0);
                i += 2;
            }
            Some(&TERMINATOR) => return Ok((out, i + 2)),
            Some(&other) => return Err(KeyDecodeError::InvalidByte(other, i + 1)),
            None => return Err(KeyDecodeError::Truncated),
        }
    }
    Err(KeyDecodeError::Truncated)
}

fn encode_number(n: &Number, out: &mut Vec<u8>) {
    if n.is_zero() {
        out.push(SIGN_ZERO);
        return;
    }
    let negative = n.is_negative();
    let flip = |b: u8| if negative { 255 - b } else { b };
    out.push(if negative {
        SIGN_NEGATIVE
    } else {
        SIGN_POSITIVE
    });
    // Range is guaranteed by Number: -130..=125 fits 0..=255 exactly.
    let exp_byte = (n.adjusted_exponent() - MIN_ADJUSTED_EXPONENT).clamp(0, 255) as u8;
    out.push(flip(exp_byte));
    let (coefficient, _) = n.coefficient_and_exponent();
    let digits = coefficient.to_string();
    let d = digits.as_bytes();
    let mut i = 0;
    while i < d.len() {
        let hi = d[i] - b'0';
        let lo = d.get(i + 1).map_or(0, |c| c - b'0');
        out.push(flip(1 + 10 * hi + lo));
        i += 2;
    }
    out.push(flip(0));
}

fn decode_number(input: &[u8]) -> Result<(Number, usize), KeyDecodeError> {
    let sign = *input.first().ok_or(KeyDecodeError::Truncated)?;
    let negative = match sign {
        SIGN_ZERO => return Ok((Number::ZERO, 1)),
        SIGN_NEGATIVE => true,
        SIGN_POSITIVE => false,
        other => return Err(KeyDecodeError::InvalidByte(other, 0)),
    };
    let unflip = |b: u8| if negative { 255 - b } else { b };
    let exp_byte = unflip(*input.get(1).ok_or(KeyDecodeError::Truncated)?);
    let adjusted = i64::from(exp_byte) + MIN_ADJUSTED_EXPONENT;
    let mut digits = String::with_capacity(40);
    let mut i = 2;
    loop {
        let raw = *input.get(i).ok_or(KeyDecodeError::Truncated)?;
        let b = unflip(raw);
        i += 1;
        if b == 0 {
            break;
        }
        if b > 100 || digits.len() >= 38 {
            return Err(KeyDecodeError::InvalidByte(raw, i - 1));
        }
        let pair = b - 1;
        digits.push(char::from(b'0' + pair / 10));
        digits.push(char::from(b'0' + pair % 10));
    }
    if digits.is_empty() {
        return Err(KeyDecodeError::Truncated);
    }
    // "d.ddd" then the exponent; Number::parse trims the padding zero.
    let text = format!(
        "{}{}.{}e{}",
        if negative { "-" } else { "" },
        &digits[..1],
        &digits[1..],
        adjusted
    );
    let n = Number::parse(&text).map_err(|_| KeyDecodeError::InvalidByte(sign, 0))?;
    Ok((n, i))
}

/// Decodes one key value of type `ty` at the start of `input`; returns it and the number
/// of bytes consumed, so composite keys decode component by component.
pub fn decode_key_value(ty: KeyType, input: &[u8]) -> Result<(Value, usize), KeyDecodeError> {
    match ty {
        KeyType::S => {
            let (bytes, used) = decode_bytes(input)?;
            let s = String::from_utf8(bytes).map_err(|_| KeyDecodeError::NotUtf8)?;
            Ok((Value::S(s), used))
        }
        KeyType::B => {
            let (bytes, used) = decode_bytes(input)?;
            Ok((Value::B(bytes), used))
        }
        KeyType::N => {
            let (n, used) = decode_number(input)?;
            Ok((Value::N(n), used))
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::cmp::Ordering;

    fn enc(v: &Value) -> Vec<u8> {
        encoded_key_value(v).unwrap()
    }

    fn num(s: &str) -> Value {
        Value::n(s).unwrap()
    }

    #[test]
    fn number_order_table() {
        let sorted = [
            "-9.9999999999999999999999999999999999999e125",
            "-1e125",
            "-101",
            "-100",
            "-99.1",
            "-10",
            "-1.05",
            "-1.0000000000000000000000000000000000001",
            "-1",
            "-0.5",
            "-1e-130",
            "0",
            "1e-130",
            "0.5",
            "1",
            "1.0000000000000000000000000000000000001",
            "1.05",
            "10",
            "99.1",
            "100",
            "101",
            "1e125",
            "9.9999999999999999999999999999999999999e125",
        ];
        for w in sorted.windows(2) {
            let (a, b) = (num(w[0]), num(w[1]));
            assert!(enc(&a) < enc(&b), "{} < {}", w[0], w[1]);
        }
        for s in sorted {
            let v = num(s);
            let e = enc(&v);
            assert_eq!(
                decode_key_value(KeyType::N, &e).unwrap(),
                (v, e.len()),
                "{s}"
            );
        }
    }

    #[test]
    fn bytes_order_and_escape() {
        let sorted: [&[u8]; 7] = [
            b"",
            b"\x00",
            b"\x00\x00",
            b"\x00\x01",
            b"a",
            b"a\x00",
            b"ab",
        ];
        for w in sorted.windows(2) {
            let (a, b) = (Value::B(w[0].to_vec()), Value::B(w[1].to_vec()));
            assert!(enc(&a) < enc(&b), "{:?} < {:?}", w[0], w[1]);
        }
        assert_eq!(enc(&Value::B(b"a\x00b".to_vec())), b"a\x00\xffb\x00\x01");
    }

    #[test]
    fn composite_keys_order_by_tuple() {
        let key = |h: &str, r: &str| {
            let mut out = Vec::new();
            encode_key_value(&Value::s(h), &mut out).unwrap();
            encode_key_value(&num(r), &mut out).unwrap();
            out
        };
        assert!(key("a", "5") < key("a", "10"));
        assert!(key("a", "99") < key("ab", "-5"));
        assert!(key("a", "-5") < key("a", "-4"));
        let k = key("h\u{0}x", "-12.5");
        let (h, used) = decode_key_value(KeyType::S, &k).unwrap();
        assert_eq!(h, Value::s("h\u{0}x"));
        let (r, used2) = decode_key_value(KeyType::N, &k[used..]).unwrap();
        assert_eq!(r, num("-12.5"));
        assert_eq!(used + used2, k.len());
    }

    #[test]
    fn decode_errors() {
        assert_eq!(
            decode_key_value(KeyType::S, b"abc"),
            Err(KeyDecodeError::Truncated)
        );
        assert_eq!(
            decode_key_value(KeyType::S, b"a\x00\x05"),
            Err(KeyDecodeError::InvalidByte(5, 2))
        );
        assert_eq!(
            decode_key_value(KeyType::S, b"\xff\x00\x01"),
            Err(KeyDecodeError::NotUtf8)
        );
        assert_eq!(
            decode_key_value(KeyType::N, b""),
            Err(KeyDecodeError::Truncated)
        );
        assert_eq!(
            decode_key_value(KeyType::N, b"\x09"),
            Err(KeyDecodeError::InvalidByte(9, 0))
        );
        assert_eq!(
            decode_key_value(KeyType::N, b"\x03\x80\x02"),
            Err(KeyDecodeError::Truncated)
        );
        assert!(encoded_key_value(&Value::Bool(true)).is_err());
    }

    fn arb_number() -> impl Strategy<Value = Value> {
        prop_oneof![
            (any::<i64>(), -140i32..140).prop_map(|(m, e)| Value::n(&format!("{m}e{e}"))),
            (any::<u128>(), any::<bool>(), -130i32..90).prop_map(|(m, neg, e)| {
                let m = m % 10u128.pow(38);
                Value::n(&format!("{}{m}e{e}", if neg { "-" } else { "" }))
            }),
        ]
        .prop_filter_map("in range", |r| r.ok())
    }

    proptest! {
        #[test]
        fn number_encoding_preserves_order(a in arb_number(), b in arb_number()) {
            let want = a.compare_scalar(&b).unwrap();
            prop_assert_eq!(enc(&a).cmp(&enc(&b)), want);
            let ea = enc(&a);
            prop_assert_eq!(decode_key_value(KeyType::N, &ea).unwrap(), (a, ea.len()));
        }

        #[test]
        fn string_encoding_preserves_order(a in "\\PC{0,12}|[\\x00-\\x02a]{0,6}", b in "\\PC{0,12}|[\\x00-\\x02a]{0,6}") {
            let (va, vb) = (Value::s(a), Value::s(b));
            prop_assert_eq!(enc(&va).cmp(&enc(&vb)), va.compare_scalar(&vb).unwrap());
            let ea = enc(&va);
            prop_assert_eq!(decode_key_value(KeyType::S, &ea).unwrap(), (va, ea.len()));
        }

        #[test]
        fn binary_composite_order(h1 in proptest::collection::vec(0u8..3, 0..6),
                                  h2 in proptest::collection::vec(0u8..3, 0..6),
                                  r1 in proptest::collection::vec(any::<u8>(), 0..6),
                                  r2 in proptest::collection::vec(any::<u8>(), 0..6)) {
            let mut k1 = Vec::new();
            encode_key_value(&Value::B(h1.clone()), &mut k1).unwrap();
            encode_key_value(&Value::B(r1.clone()), &mut k1).unwrap();
            let mut k2 = Vec::new();
            encode_key_value(&Value::B(h2.clone()), &mut k2).unwrap();
            encode_key_value(&Value::B(r2.clone()), &mut k2).unwrap();
            let want: Ordering = (h1, r1).cmp(&(h2, r2));
            prop_assert_eq!(k1.cmp(&k2), want);
        }
    }
}
