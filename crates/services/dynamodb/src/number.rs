//! DynamoDB's number type: an exact decimal with at most 38 significant digits and a
//! magnitude of zero or within [1e-130, 1e126).
//!
//! Representation: `coefficient * 10^exponent` with a sign, normalised so that the
//! coefficient has no trailing zeros (zero is `0 * 10^0`, never negative). Because the
//! form is canonical, derived equality and hashing are numeric equality ("1.50" == "1.5").
//! The coefficient fits a `u128` (10^38 - 1 < 2^127), so a `Number` is `Copy` and the hot
//! paths (parse, compare, print) never allocate beyond the output string.
//!
//! Arithmetic (`checked_add`, `checked_sub`) is exact: it works on decimal digits and
//! refuses results that would need more than 38 significant digits, as DynamoDB does;
//! there is no floating point anywhere.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

/// Most significant digits DynamoDB stores in a number.
pub const MAX_DIGITS: usize = 38;
/// Largest allowed adjusted exponent (exponent of the leading digit): 9.99..e125.
pub const MAX_ADJUSTED_EXPONENT: i64 = 125;
/// Smallest allowed adjusted exponent: 1e-130.
pub const MIN_ADJUSTED_EXPONENT: i64 = -130;

/// 10^0 ..= 10^38, all of which fit a u128.
const POW10: [u128; 39] = {
    let mut t = [0u128; 39];
    let mut i = 0;
    let mut v = 1u128;
    while i < 39 {
        t[i] = v;
        if i < 38 {
            v *= 10;
        }
        i += 1;
    }
    t
};

/// Why a string or a computation is not a DynamoDB number. `Display` is AWS's text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NumberError {
    /// The string is empty.
    #[error("The parameter cannot be converted to a numeric value")]
    Empty,
    /// The string is not a decimal number; carries the offending text.
    #[error("The parameter cannot be converted to a numeric value: {0}")]
    Invalid(String),
    #[error(
        "Number overflow. Attempting to store a number with magnitude larger than supported range"
    )]
    Overflow,
    #[error("Number underflow. Attempting to store a number with magnitude smaller than supported range")]
    Underflow,
    #[error("Attempting to store more than 38 significant digits in a Number")]
    Precision,
}

/// An exact DynamoDB number; see the module docs.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Number {
    negative: bool,
    /// No trailing zeros; 0 only for zero.
    coefficient: u128,
    /// Power of ten applied to `coefficient`; 0 for zero.
    exponent: i16,
}

fn digit_count(c: u128) -> usize {
    // Number of decimal digits of c (1 for 0).
    let mut n = 1;
    while n < POW10.len() && c >= POW10[n] {
        n += 1;
    }
    n
}

impl Number {
    pub const ZERO: Number = Number {
        negative: false,
        coefficient: 0,
        exponent: 0,
    };

    /// Parses DynamoDB's number syntax: `[+-]digits[.digits][e[+-]digits]` (also `.5`,
    /// `5.`). Errors are checked in AWS's order: syntax, overflow, underflow, precision.
    pub fn parse(text: &str) -> Result<Number, NumberError> {
        if text.is_empty() {
            return Err(NumberError::Empty);
        }
        let invalid = || NumberError::Invalid(text.to_string());
        let bytes = text.as_bytes();
        let mut i = 0;
        let mut negative = false;
        if let Some(&c) = bytes.first() {
            if c == b'-' || c == b'+' {
                negative = c == b'-';
                i = 1;
            }
        }
        let int_start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        let int_end = i;
        let mut frac_start = i;
        let mut frac_end = i;
        if i < bytes.len() && bytes[i] == b'.' {
            i += 1;
            frac_start = i;
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            frac_end = i;
        }
        if int_end == int_start && frac_end == frac_start {
            return Err(invalid());
        }
        // Exponent, saturated far outside the legal range so huge literals stay errors.
        let mut exp_literal: i64 = 0;
        if i < bytes.len() && (bytes[i] == b'e' || bytes[i] == b'E') {
            i += 1;
            let mut exp_negative = false;
            if i < bytes.len() && (bytes[i] == b'-' || bytes[i] == b'+') {
                exp_negative = bytes[i] == b'-';
                i += 1;
            }
            let start = i;
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                exp_literal = (exp_literal * 10 + i64::from(bytes[i] - b'0')).min(1_000_000_000);
                i += 1;
            }
            if i == start {
                return Err(invalid());
            }
            if exp_negative {
                exp_literal = -exp_literal;
            }
        }
        if i != bytes.len() {
            return Err(invalid());
        }

        // Significant digits are the mantissa digits (integer then fraction) from the
        // first non-zero to the last non-zero.
        let digit_at = |k: usize| -> u8 {
            let int_len = int_end - int_start;
            if k < int_len {
                bytes[int_start + k] - b'0'
            } else {
                bytes[frac_start + (k - int_len)] - b'0'
            }
        };
        let int_len = int_end - int_start;
        let total = int_len + (frac_end - frac_start);
        let first = (0..total).find(|&k| digit_at(k) != 0);
        let Some(first) = first else {
            return Ok(Number::ZERO);
        };
        let last = (0..total)
            .rev()
            .find(|&k| digit_at(k) != 0)
            .unwrap_or(first);
        // Exponent of the leading significant digit.
        let adjusted = exp_literal + int_len as i64 - 1 - first as i64;
        if adjusted > MAX_ADJUSTED_EXPONENT {
            return Err(NumberError::Overflow);
        }
        if adjusted < MIN_ADJUSTED_EXPONENT {
            return Err(NumberError::Underflow);
        }
        let ndigits = last - first + 1;
        if ndigits > MAX_DIGITS {
            return Err(NumberError::Precision);
        }
        let mut coefficient: u128 = 0;
        for k in first..=last {
            coefficient = coefficient * 10 + u128::from(digit_at(k));
        }
        let exponent = adjusted - (ndigits as i64 - 1);
        Ok(Number {
            negative,
            coefficient,
            exponent: exponent as i16,
        })
    }

    /// Builds from an integer (used for `size()` results and counters).
    pub fn from_i64(v: i64) -> Number {
        Self::from_parts_unchecked(v < 0, u128::from(v.unsigned_abs()), 0)
    }

    /// Normalises `(-1)^neg * c * 10^e`. The caller guarantees `c < 10^38` and an exponent
    /// whose result is in range (used internally and by `from_i64`).
    fn from_parts_unchecked(negative: bool, mut c: u128, mut e: i64) -> Number {
        if c == 0 {
            return Number::ZERO;
        }
        while c.is_multiple_of(10) {
            c /= 10;
            e += 1;
        }
        Number {
            negative,
            coefficient: c,
            exponent: e as i16,
        }
    }

    pub fn is_zero(&self) -> bool {
        self.coefficient == 0
    }

    pub fn is_negative(&self) -> bool {
        self.negative
    }

    /// Number of significant digits (1 for zero).
    pub fn significant_digits(&self) -> usize {
        digit_count(self.coefficient)
    }

    /// Exponent of the leading digit (scientific notation); 0 for zero.
    pub fn adjusted_exponent(&self) -> i64 {
        if self.is_zero() {
            return 0;
        }
        i64::from(self.exponent) + self.significant_digits() as i64 - 1
    }

    /// The coefficient (no trailing zeros) and the power of ten applied to it.
    pub fn coefficient_and_exponent(&self) -> (u128, i64) {
        (self.coefficient, i64::from(self.exponent))
    }

    /// The value as an integer, when it is one and fits an i128.
    pub fn to_i128(&self) -> Option<i128> {
        if self.exponent < 0 {
            return None;
        }
        let scale = POW10.get(usize::try_from(self.exponent).ok()?)?;
        let magnitude = i128::try_from(self.coefficient.checked_mul(*scale)?).ok()?;
        Some(if self.negative { -magnitude } else { magnitude })
    }

    /// The integer part (truncated toward zero), saturated to i64. Used for TTL epochs.
    pub fn trunc_i64(&self) -> i64 {
        if self.is_zero() || self.adjusted_exponent() < 0 {
            return 0;
        }
        if self.adjusted_exponent() > 18 {
            return if self.negative { i64::MIN } else { i64::MAX };
        }
        let e = i64::from(self.exponent);
        let magnitude: u128 = if e >= 0 {
            self.coefficient * POW10[e as usize]
        } else {
            self.coefficient / POW10[(-e) as usize]
        };
        let m = i64::try_from(magnitude).unwrap_or(i64::MAX);
        if self.negative {
            -m
        } else {
            m
        }
    }

    pub fn negate(&self) -> Number {
        if self.is_zero() {
            return *self;
        }
        Number {
            negative: !self.negative,
            ..*self
        }
    }

    /// Exact `self + other`, with DynamoDB's limits on the result.
    pub fn checked_add(&self, other: &Number) -> Result<Number, NumberError> {
        if other.is_zero() {
            return Ok(*self);
        }
        if self.is_zero() {
            return Ok(*other);
        }
        let e_min = self.exponent.min(other.exponent);
        let shift_a = i64::from(self.exponent - e_min);
        let shift_b = i64::from(other.exponent - e_min);
        // With a shift of 40+ digits the exact result has more than 38 significant digits
        // whatever the signs: its lowest non-zero digit is the smaller operand's last one
        // and its leading digit is at least 39 places above (see tests).
        if shift_a.max(shift_b) > 39 {
            return Err(NumberError::Precision);
        }
        // Little-endian decimal digits; 38 digits shifted by at most 39, plus a carry.
        let mut a = [0u8; DIGIT_BUF];
        let mut b = [0u8; DIGIT_BUF];
        write_digits(self.coefficient, shift_a as usize, &mut a);
        write_digits(other.coefficient, shift_b as usize, &mut b);
        let (negative, digits) = if self.negative == other.negative {
            (self.negative, add_digits(&a, &b))
        } else {
            match cmp_digits(&a, &b) {
                Ordering::Equal => return Ok(Number::ZERO),
                Ordering::Greater => (self.negative, sub_digits(&a, &b)),
                Ordering::Less => (other.negative, sub_digits(&b, &a)),
            }
        };
        from_digits(negative, &digits, i64::from(e_min))
    }

    /// Exact `self - other`.
    pub fn checked_sub(&self, other: &Number) -> Result<Number, NumberError> {
        self.checked_add(&other.negate())
    }
}

const DIGIT_BUF: usize = 80;

fn write_digits(mut c: u128, shift: usize, out: &mut [u8; DIGIT_BUF]) {
    let mut i = shift;
    while c > 0 && i < DIGIT_BUF {
        out[i] = (c % 10) as u8;
        c /= 10;
        i += 1;
    }
}

fn add_digits(a: &[u8; DIGIT_BUF], b: &[u8; DIGIT_BUF]) -> [u8; DIGIT_BUF] {
    let mut out = [0u8; DIGIT_BUF];
    let mut carry = 0u8;
    for i in 0..DIGIT_BUF {
        let s = a[i] + b[i] + carry;
        out[i] = s % 10;
        carry = s / 10;
    }
    out
}

/// a - b for a > b.
fn sub_digits(a: &[u8; DIGIT_BUF], b: &[u8; DIGIT_BUF]) -> [u8; DIGIT_BUF] {
    let mut out = [0u8; DIGIT_BUF];
    let mut borrow = 0i8;
    for i in 0..DIGIT_BUF {
        let mut d = a[i] as i8 - b[i] as i8 - borrow;
        if d < 0 {
            d += 10;
            borrow = 1;
        } else {
            borrow = 0;
        }
        out[i] = d as u8;
    }
    out
}

fn cmp_digits(a: &[u8; DIGIT_BUF], b: &[u8; DIGIT_BUF]) -> Ordering {
    for i in (0..DIGIT_BUF).rev() {
        match a[i].cmp(&b[i]) {
            Ordering::Equal => continue,
            other => return other,
        }
    }
    Ordering::Equal
}

fn from_digits(negative: bool, d: &[u8; DIGIT_BUF], exponent: i64) -> Result<Number, NumberError> {
    let Some(high) = (0..DIGIT_BUF).rev().find(|&i| d[i] != 0) else {
        return Ok(Number::ZERO);
    };
    let low = (0..DIGIT_BUF).find(|&i| d[i] != 0).unwrap_or(high);
    let adjusted = exponent + high as i64;
    if adjusted > MAX_ADJUSTED_EXPONENT {
        return Err(NumberError::Overflow);
    }
    if adjusted < MIN_ADJUSTED_EXPONENT {
        return Err(NumberError::Underflow);
    }
    if high - low + 1 > MAX_DIGITS {
        return Err(NumberError::Precision);
    }
    let mut c: u128 = 0;
    for i in (low..=high).rev() {
        c = c * 10 + u128::from(d[i]);
    }
    Ok(Number {
        negative,
        coefficient: c,
        exponent: (exponent + low as i64) as i16,
    })
}

impl FromStr for Number {
    type Err = NumberError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Number::parse(s)
    }
}

impl From<i64> for Number {
    fn from(v: i64) -> Self {
        Number::from_i64(v)
    }
}

impl Ord for Number {
    fn cmp(&self, other: &Self) -> Ordering {
        let sign = |n: &Number| -> i8 {
            if n.is_zero() {
                0
            } else if n.negative {
                -1
            } else {
                1
            }
        };
        let (sa, sb) = (sign(self), sign(other));
        if sa != sb || sa == 0 {
            return sa.cmp(&sb);
        }
        let magnitude = cmp_magnitude(self, other);
        if sa < 0 {
            magnitude.reverse()
        } else {
            magnitude
        }
    }
}

/// Compares |a| and |b| for non-zero a and b.
fn cmp_magnitude(a: &Number, b: &Number) -> Ordering {
    match a.adjusted_exponent().cmp(&b.adjusted_exponent()) {
        Ordering::Equal => {}
        other => return other,
    }
    // Same leading exponent: align both coefficients to the same digit count.
    let (na, nb) = (a.significant_digits(), b.significant_digits());
    let (ca, cb) = if na < nb {
        (a.coefficient * POW10[nb - na], b.coefficient)
    } else {
        (a.coefficient, b.coefficient * POW10[na - nb])
    };
    ca.cmp(&cb)
}

impl PartialOrd for Number {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// DynamoDB prints numbers in plain notation, without an exponent and without
/// insignificant zeros: "1e3" -> "1000", "1.50" -> "1.5", "-0" -> "0".
impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_zero() {
            return f.write_str("0");
        }
        if self.negative {
            f.write_str("-")?;
        }
        let digits = self.coefficient.to_string();
        let e = i64::from(self.exponent);
        if e >= 0 {
            f.write_str(&digits)?;
            for _ in 0..e {
                f.write_str("0")?;
            }
            return Ok(());
        }
        let point = digits.len() as i64 + e;
        if point > 0 {
            let (int, frac) = digits.split_at(point as usize);
            write!(f, "{int}.{frac}")
        } else {
            f.write_str("0.")?;
            for _ in 0..(-point) {
                f.write_str("0")?;
            }
            f.write_str(&digits)
        }
    }
}

impl fmt::Debug for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Number({self})")
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn n(s: &str) -> Number {
        Number::parse(s).unwrap()
    }

    #[test]
    fn canonical_output() {
        let cases = [
            ("0", "0"),
            ("-0", "0"),
            ("+0.000", "0"),
            ("00", "0"),
            ("1.50", "1.5"),
            ("1e3", "1000"),
            ("1E3", "1000"),
            ("1e+3", "1000"),
            ("0.00001", "0.00001"),
            ("1e-5", "0.00001"),
            ("-1.5e-1", "-0.15"),
            ("0123.4500", "123.45"),
            (".5", "0.5"),
            ("5.", "5"),
            ("+7", "7"),
            ("-99.1", "-99.1"),
            ("12345678901234567890123456789012345678", "12345678901234567890123456789012345678"),
            ("1000000000000000000000000000000000000000000000", "1000000000000000000000000000000000000000000000"),
            ("9.9999999999999999999999999999999999999e125", "999999999999999999999999999999999999990000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"),
        ];
        for (input, want) in cases {
            assert_eq!(n(input).to_string(), want, "input {input}");
        }
        assert_eq!(n("1e-130").to_string(), format!("0.{}1", "0".repeat(129)));
    }

    #[test]
    fn parse_errors() {
        let cases: &[(&str, NumberError)] = &[
            ("", NumberError::Empty),
            ("b", NumberError::Invalid("b".into())),
            ("1x", NumberError::Invalid("1x".into())),
            ("-", NumberError::Invalid("-".into())),
            (".", NumberError::Invalid(".".into())),
            ("1e", NumberError::Invalid("1e".into())),
            ("1e+", NumberError::Invalid("1e+".into())),
            (" 1", NumberError::Invalid(" 1".into())),
            ("1 ", NumberError::Invalid("1 ".into())),
            ("1.2.3", NumberError::Invalid("1.2.3".into())),
            ("--1", NumberError::Invalid("--1".into())),
            ("NaN", NumberError::Invalid("NaN".into())),
            ("Infinity", NumberError::Invalid("Infinity".into())),
            ("0x10", NumberError::Invalid("0x10".into())),
            ("1e126", NumberError::Overflow),
            ("-1e126", NumberError::Overflow),
            ("10e125", NumberError::Overflow),
            ("1e999999999999999999999", NumberError::Overflow),
            ("1e-131", NumberError::Underflow),
            ("-1e-131", NumberError::Underflow),
            ("0.1e-130", NumberError::Underflow),
            ("1e-99999999999999999999", NumberError::Underflow),
            (
                "123456789012345678901234567890123456789",
                NumberError::Precision,
            ),
            (
                "-1.23456789012345678901234567890123456789",
                NumberError::Precision,
            ),
        ];
        for (input, want) in cases {
            assert_eq!(Number::parse(input).as_ref(), Err(want), "input {input:?}");
        }
        // Zero is fine whatever its exponent.
        assert_eq!(n("0e999999"), Number::ZERO);
        assert!(Number::parse("1e125").is_ok());
        assert!(Number::parse("1e-130").is_ok());
    }

    #[test]
    fn messages_are_aws_text() {
        assert_eq!(
            NumberError::Invalid("1x".into()).to_string(),
            "The parameter cannot be converted to a numeric value: 1x"
        );
        assert_eq!(
            NumberError::Empty.to_string(),
            "The parameter cannot be converted to a numeric value"
        );
        assert_eq!(
            NumberError::Overflow.to_string(),
            "Number overflow. Attempting to store a number with magnitude larger than supported range"
        );
        assert_eq!(
            NumberError::Underflow.to_string(),
            "Number underflow. Attempting to store a number with magnitude smaller than supported range"
        );
        assert_eq!(
            NumberError::Precision.to_string(),
            "Attempting to store more than 38 significant digits in a Number"
        );
    }

    #[test]
    fn equality_is_numeric() {
        assert_eq!(n("1.50"), n("1.5"));
        assert_eq!(n("1e2"), n("100"));
        assert_eq!(n("-0"), n("0"));
        assert_ne!(n("1"), n("-1"));
    }

    #[test]
    fn ordering() {
        let sorted = [
            "-1e125", "-100", "-99.1", "-10", "-1.05", "-1", "-0.5", "-1e-130", "0", "1e-130",
            "0.5", "1", "1.05", "10", "99.1", "100", "1e125",
        ];
        for w in sorted.windows(2) {
            assert!(n(w[0]) < n(w[1]), "{} < {}", w[0], w[1]);
            assert!(n(w[1]) > n(w[0]));
        }
    }

    #[test]
    fn arithmetic() {
        let cases = [
            ("1", "2", "3"),
            ("0.1", "0.2", "0.3"),
            ("1.5", "-1.5", "0"),
            ("-5", "3", "-2"),
            ("3", "-5", "-2"),
            ("100", "0.01", "100.01"),
            ("99999999999999999999999999999999999999", "1", "100000000000000000000000000000000000000"),
            ("1e100", "1e100", "20000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"),
            ("0", "-7", "-7"),
            ("1e36", "1e-1", "1000000000000000000000000000000000000.1"),
        ];
        for (a, b, want) in cases {
            assert_eq!(
                n(a).checked_add(&n(b)).unwrap().to_string(),
                want,
                "{a} + {b}"
            );
        }
        assert_eq!(n("5").checked_sub(&n("7")).unwrap().to_string(), "-2");
        assert_eq!(n("-5").checked_sub(&n("-7")).unwrap().to_string(), "2");
    }

    #[test]
    fn arithmetic_errors() {
        // 39 significant digits.
        assert_eq!(n("1e38").checked_add(&n("1")), Err(NumberError::Precision));
        assert_eq!(n("1e39").checked_sub(&n("1")), Err(NumberError::Precision));
        // 38 nines is fine.
        assert_eq!(
            n("1e38").checked_sub(&n("1")).unwrap().to_string(),
            "9".repeat(38)
        );
        assert_eq!(
            n("1e100").checked_add(&n("1e-100")),
            Err(NumberError::Precision)
        );
        assert_eq!(
            n("1e100").checked_sub(&n("1e-100")),
            Err(NumberError::Precision)
        );
        assert_eq!(
            n("9.9999999999999999999999999999999999999e125").checked_add(&n("1e88")),
            Err(NumberError::Overflow)
        );
        assert_eq!(
            n("-9.9999999999999999999999999999999999999e125").checked_sub(&n("1e88")),
            Err(NumberError::Overflow)
        );
        // A cancellation that leaves 38 digits is fine: 1e39 - 1e1 = 999..990 (38 nines).
        assert_eq!(
            n("1e39").checked_sub(&n("10")).unwrap().to_string(),
            format!("{}0", "9".repeat(38))
        );
    }

    #[test]
    fn integer_views() {
        assert_eq!(n("1e3").to_i128(), Some(1000));
        assert_eq!(n("-12").to_i128(), Some(-12));
        assert_eq!(n("1.5").to_i128(), None);
        assert_eq!(n("1.5").trunc_i64(), 1);
        assert_eq!(n("-1.5").trunc_i64(), -1);
        assert_eq!(n("1e100").trunc_i64(), i64::MAX);
        assert_eq!(n("0.1").trunc_i64(), 0);
        assert_eq!(Number::from_i64(-4200).to_string(), "-4200");
        assert_eq!(Number::from_i64(i64::MIN).to_string(), i64::MIN.to_string());
    }

    fn small_decimal() -> impl Strategy<Value = (i64, i32)> {
        (-1_000_000_000_000i64..1_000_000_000_000, -10i32..10)
    }

    fn from_mantissa(m: i64, e: i32) -> Number {
        n(&format!("{m}e{e}"))
    }

    proptest! {
        #[test]
        fn display_round_trips((m, e) in small_decimal()) {
            let x = from_mantissa(m, e);
            prop_assert_eq!(n(&x.to_string()), x);
        }

        #[test]
        fn add_commutes_and_sub_inverts((m1, e1) in small_decimal(), (m2, e2) in small_decimal()) {
            let a = from_mantissa(m1, e1);
            let b = from_mantissa(m2, e2);
            let s = a.checked_add(&b).unwrap();
            prop_assert_eq!(s, b.checked_add(&a).unwrap());
            prop_assert_eq!(s.checked_sub(&b).unwrap(), a);
        }

        #[test]
        fn order_matches_integer_order(x in any::<i64>(), y in any::<i64>()) {
            prop_assert_eq!(Number::from_i64(x).cmp(&Number::from_i64(y)), x.cmp(&y));
            let s = Number::from_i64(x).checked_add(&Number::from_i64(y)).unwrap();
            prop_assert_eq!(s.to_string(), (i128::from(x) + i128::from(y)).to_string());
        }

        #[test]
        fn order_matches_scaled_order((m1, e1) in small_decimal(), (m2, e2) in small_decimal()) {
            // Compare m1*10^e1 with m2*10^e2 exactly via i128 after scaling to a common exponent.
            let a = from_mantissa(m1, e1);
            let b = from_mantissa(m2, e2);
            let e = e1.min(e2);
            let sa = i128::from(m1) * 10i128.pow((e1 - e) as u32).min(10i128.pow(25));
            let sb = i128::from(m2) * 10i128.pow((e2 - e) as u32).min(10i128.pow(25));
            if (e1 - e) <= 25 && (e2 - e) <= 25 {
                prop_assert_eq!(a.cmp(&b), sa.cmp(&sb));
            }
        }
    }
}
