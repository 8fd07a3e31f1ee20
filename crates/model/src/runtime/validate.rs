//! Constraint checks with AWS's exact wording. The generated code describes each
//! constrained shape with a static rule value and calls these checks while decoding.
//!
//! Wording (from AWS's Coral validation layer, as mirrored by dynalite and observed on
//! the wire):
//! - `Member must have length greater than or equal to N` / `less than or equal to N`
//!   (strings in UTF-16 code units, as Java counts; lists and maps by entry count);
//! - `Member must have value greater than or equal to N` / `less than or equal to N`;
//! - `Member must satisfy regular expression pattern: <the model's pattern>`;
//! - `Member must satisfy enum value set: [A, B]`;
//! - elements of a list or map that break their shape's constraints are reported once
//!   at the collection, listing every constraint of the element shape:
//!   `Member must satisfy constraint: [...]`, `Map keys must satisfy constraint: [...]`,
//!   `Map value must satisfy constraint: [...]`.

use std::sync::LazyLock;

use regex::Regex;

use super::de::Cx;
use super::render;

/// A `pattern` constraint: the model's (Java) pattern for messages, and the regex it
/// was translated to, compiled on first use. `None` means the pattern could not be
/// translated; the check is then skipped rather than rejecting valid input.
pub struct Pattern {
    pub source: &'static str,
    pub regex: LazyLock<Option<Matcher>>,
}

/// A compiled pattern: the linear-time `regex` engine when the pattern allows it, else
/// `fancy-regex` for the lookarounds some models use (Lambda's function names).
#[derive(Debug)]
pub enum Matcher {
    Plain(Regex),
    Fancy(fancy_regex::Regex),
}

impl Pattern {
    /// Whole-string match, as Java's `String.matches` does. A fancy match that hits its
    /// backtracking limit counts as a match: valid input is never rejected for it.
    pub fn matches(&self, value: &str) -> bool {
        match &*self.regex {
            Some(Matcher::Plain(re)) => re.is_match(value),
            Some(Matcher::Fancy(re)) => re.is_match(value).unwrap_or(true),
            None => true,
        }
    }
}

/// Compiles a translated pattern; used by the generated `LazyLock`s.
pub fn compile(translated: &str) -> Option<Matcher> {
    match Regex::new(translated) {
        Ok(re) => Some(Matcher::Plain(re)),
        Err(_) => fancy_regex::Regex::new(translated).ok().map(Matcher::Fancy),
    }
}

/// Constraints of a string shape.
pub struct StrRules {
    pub min: Option<u64>,
    pub max: Option<u64>,
    pub pattern: Option<&'static Pattern>,
    /// Sensitive shapes (passwords, secrets) are not echoed: `Value at 'x' ...`.
    pub sensitive: bool,
    /// Every constraint of the shape, as AWS lists them when an element of a collection
    /// breaks one: `[Member must have length less than or equal to 255, ...]`.
    pub summary: &'static str,
}

/// Constraints of an integer or long shape.
pub struct IntRules {
    pub min: Option<i64>,
    pub max: Option<i64>,
    pub summary: &'static str,
}

/// Constraints of a double shape; bounds are pre-rendered the way Java prints doubles.
pub struct DoubleRules {
    pub min: Option<(f64, &'static str)>,
    pub max: Option<(f64, &'static str)>,
    pub summary: &'static str,
}

/// Size constraints of a list, map or blob.
pub struct LenRules {
    pub min: Option<u64>,
    pub max: Option<u64>,
    pub summary: &'static str,
}

/// Whether a collection size satisfies its rules (for collection elements).
pub fn len_ok(rules: &LenRules, len: usize) -> bool {
    let len = len as u64;
    rules.min.is_none_or(|m| len >= m) && rules.max.is_none_or(|m| len <= m)
}

/// Length of a string as Java counts it (UTF-16 code units).
pub fn java_len(s: &str) -> u64 {
    if s.is_ascii() {
        s.len() as u64
    } else {
        s.encode_utf16().count() as u64
    }
}

/// Checks a string member, recording one violation per broken constraint: the pattern
/// first, then the length, the order AWS's request layer reports them in.
pub fn check_str(cx: &mut Cx, rules: &StrRules, value: &str) {
    check_pattern(cx, rules, value);
    check_str_len(cx, rules, value);
}

/// Like [`check_str`] with the length reported before the pattern, as DynamoDB does for
/// its table-name-or-ARN members (checked by its own code rather than the model's).
pub fn check_str_length_first(cx: &mut Cx, rules: &StrRules, value: &str) {
    check_str_len(cx, rules, value);
    check_pattern(cx, rules, value);
}

fn str_violation(cx: &mut Cx, rules: &StrRules, value: &str, constraint: &str) {
    if rules.sensitive {
        cx.violation_hidden(constraint);
    } else {
        cx.violation(Some(value), constraint);
    }
}

fn check_pattern(cx: &mut Cx, rules: &StrRules, value: &str) {
    if let Some(p) = rules.pattern {
        if !p.matches(value) {
            str_violation(
                cx,
                rules,
                value,
                &format!(
                    "Member must satisfy regular expression pattern: {}",
                    p.source
                ),
            );
        }
    }
}

fn check_str_len(cx: &mut Cx, rules: &StrRules, value: &str) {
    let len = java_len(value);
    if let Some(min) = rules.min {
        if len < min {
            str_violation(
                cx,
                rules,
                value,
                &format!("Member must have length greater than or equal to {min}"),
            );
        }
    }
    if let Some(max) = rules.max {
        if len > max {
            str_violation(
                cx,
                rules,
                value,
                &format!("Member must have length less than or equal to {max}"),
            );
        }
    }
}

/// Whether a string satisfies all of its shape's constraints (for collection elements).
pub fn str_ok(rules: &StrRules, value: &str) -> bool {
    let len = java_len(value);
    rules.min.is_none_or(|m| len >= m)
        && rules.max.is_none_or(|m| len <= m)
        && rules.pattern.is_none_or(|p| p.matches(value))
}

/// Checks an integer or long member.
pub fn check_int(cx: &mut Cx, rules: &IntRules, value: i64) {
    if let Some(min) = rules.min {
        if value < min {
            cx.violation(
                Some(&value.to_string()),
                &format!("Member must have value greater than or equal to {min}"),
            );
        }
    }
    if let Some(max) = rules.max {
        if value > max {
            cx.violation(
                Some(&value.to_string()),
                &format!("Member must have value less than or equal to {max}"),
            );
        }
    }
}

pub fn int_ok(rules: &IntRules, value: i64) -> bool {
    rules.min.is_none_or(|m| value >= m) && rules.max.is_none_or(|m| value <= m)
}

/// Checks a double member.
pub fn check_double(cx: &mut Cx, rules: &DoubleRules, value: f64) {
    if let Some((min, text)) = rules.min {
        if value < min {
            cx.violation(
                Some(&render::double_text(value)),
                &format!("Member must have value greater than or equal to {text}"),
            );
        }
    }
    if let Some((max, text)) = rules.max {
        if value > max {
            cx.violation(
                Some(&render::double_text(value)),
                &format!("Member must have value less than or equal to {text}"),
            );
        }
    }
}

pub fn double_ok(rules: &DoubleRules, value: f64) -> bool {
    rules.min.is_none_or(|(m, _)| value >= m) && rules.max.is_none_or(|(m, _)| value <= m)
}

/// Checks the size of a list, map or blob. `render` renders the whole value, and is
/// only called when a constraint is broken. The violation goes to `at` (see
/// [`Cx::mark`]) so a container is reported before its elements.
pub fn check_len(
    cx: &mut Cx,
    at: usize,
    rules: &LenRules,
    len: usize,
    render: impl FnOnce(&mut String),
) {
    let len = len as u64;
    let too_short = rules.min.is_some_and(|m| len < m);
    let too_long = rules.max.is_some_and(|m| len > m);
    if !too_short && !too_long {
        return;
    }
    let mut text = String::new();
    render(&mut text);
    // A collection cannot be both too short and too long; report the one that applies.
    if let (true, Some(min)) = (too_short, rules.min) {
        cx.violation_at(
            at,
            Some(&text),
            &format!("Member must have length greater than or equal to {min}"),
        );
    }
    if let (true, Some(max)) = (too_long, rules.max) {
        cx.violation_at(
            at,
            Some(&text),
            &format!("Member must have length less than or equal to {max}"),
        );
    }
}

/// Checks that an enum value is one of the model's values. `values` is the rendered
/// set, e.g. `[HASH, RANGE]`.
pub fn check_enum(cx: &mut Cx, known: bool, value: &str, values: &str) {
    if !known {
        cx.violation(
            Some(value),
            &format!("Member must satisfy enum value set: {values}"),
        );
    }
}

/// Which part of a collection broke its element constraints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ElemKind {
    /// List elements: `Member must satisfy constraint: [...]`.
    ListMember,
    /// Map keys: `Map keys must satisfy constraint: [...]`.
    MapKeys,
    /// Map values: `Map value must satisfy constraint: [...]`.
    MapValues,
}

/// Records that some element of a collection breaks its shape's constraints.
pub fn elements_violation(
    cx: &mut Cx,
    at: usize,
    kind: ElemKind,
    summary: &str,
    render: impl FnOnce(&mut String),
) {
    let mut text = String::new();
    render(&mut text);
    let lead = match kind {
        ElemKind::ListMember => "Member must satisfy constraint: ",
        ElemKind::MapKeys => "Map keys must satisfy constraint: ",
        ElemKind::MapValues => "Map value must satisfy constraint: ",
    };
    cx.violation_at(at, Some(&text), &format!("{lead}{summary}"));
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    static NAME_PATTERN: Pattern = Pattern {
        source: "[a-zA-Z0-9_.-]+",
        regex: LazyLock::new(|| compile("^(?:[a-zA-Z0-9_.-]+)$")),
    };
    static TABLE_NAME: StrRules = StrRules {
        min: Some(3),
        max: Some(255),
        pattern: Some(&NAME_PATTERN),
        sensitive: false,
        summary: "",
    };
    static PASSWORD: StrRules = StrRules {
        min: Some(1),
        max: None,
        pattern: None,
        sensitive: true,
        summary: "",
    };

    #[test]
    fn string_rules_word_like_aws() {
        let mut cx = Cx::new();
        cx.enter("tableName");
        check_str(&mut cx, &TABLE_NAME, "ab");
        assert_eq!(
            cx.finish().unwrap_err(),
            "1 validation error detected: Value 'ab' at 'tableName' failed to satisfy \
             constraint: Member must have length greater than or equal to 3"
        );

        let mut cx = Cx::new();
        cx.enter("tableName");
        check_str(&mut cx, &TABLE_NAME, "a;");
        assert_eq!(
            cx.finish().unwrap_err(),
            "2 validation errors detected: Value 'a;' at 'tableName' failed to satisfy \
             constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+; \
             Value 'a;' at 'tableName' failed to satisfy constraint: Member must have length \
             greater than or equal to 3"
        );

        let mut cx = Cx::new();
        cx.enter("tableName");
        check_str_length_first(&mut cx, &TABLE_NAME, "");
        assert_eq!(
            cx.finish().unwrap_err(),
            "2 validation errors detected: Value '' at 'tableName' failed to satisfy \
             constraint: Member must have length greater than or equal to 3; Value '' at \
             'tableName' failed to satisfy constraint: Member must satisfy regular expression \
             pattern: [a-zA-Z0-9_.-]+"
        );
    }

    #[test]
    fn sensitive_values_are_not_echoed() {
        let mut cx = Cx::new();
        cx.enter("newPassword");
        check_str(&mut cx, &PASSWORD, "");
        assert_eq!(
            cx.finish().unwrap_err(),
            "1 validation error detected: Value at 'newPassword' failed to satisfy constraint: \
             Member must have length greater than or equal to 1"
        );
    }

    #[test]
    fn java_length_counts_utf16_units() {
        assert_eq!(java_len("abc"), 3);
        assert_eq!(java_len("é"), 1);
        assert_eq!(java_len("😀"), 2);
    }

    #[test]
    fn numeric_ranges() {
        let rules = IntRules {
            min: Some(1),
            max: Some(100),
            summary: "",
        };
        let mut cx = Cx::new();
        cx.enter("limit");
        check_int(&mut cx, &rules, 2_147_483_647);
        assert_eq!(
            cx.finish().unwrap_err(),
            "1 validation error detected: Value '2147483647' at 'limit' failed to satisfy \
             constraint: Member must have value less than or equal to 100"
        );
        assert!(int_ok(&rules, 1));
        assert!(!int_ok(&rules, 0));
    }
}
