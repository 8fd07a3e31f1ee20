//! Decoding support shared by every protocol: the [`Input`] abstraction the generated
//! decoders are written against, and the [`Cx`] that tracks the member path and collects
//! constraint violations while a request is decoded.
//!
//! Why decoding and validation are one pass: AWS reports a missing required member as
//! `Value null at 'x' failed to satisfy constraint: Member must not be null`, yet the typed
//! struct keeps required members as plain `T`. Only the decoder knows the member was
//! absent, so it records the violation right there, and checks the other constraints of
//! the member in the same place, in model member order.

use std::fmt::Write as _;

/// Where a value sits in the request. AWS's request layer words type mismatches
/// differently for a structure member, a list element or map value, and the body itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pos {
    /// The request body itself.
    Top,
    /// A member of a structure.
    Member,
    /// A list element or a map value (a "type parameter" position in AWS's Java model).
    Element,
}

/// A value of the wrong type (or malformed scalar): the request is rejected before any
/// constraint is checked. For awsJson this becomes `SerializationException`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeError {
    pub message: String,
}

impl DeError {
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }
}

/// Most violations AWS lists in one message.
pub const MAX_REPORTED_VIOLATIONS: usize = 10;
/// Violations kept while decoding; bounds memory on hostile input (AWS reports at most
/// [`MAX_REPORTED_VIOLATIONS`] anyway).
const MAX_KEPT_VIOLATIONS: usize = 64;
/// Deepest member path tracked; deeper values still decode (the JSON parser bounds depth)
/// but their path is cut, which only affects the text of an error.
const MAX_PATH_DEPTH: usize = 64;

#[derive(Debug, Clone)]
enum Seg {
    Member(&'static str),
    /// A list element, 0-based; rendered 1-based followed by `.member` as AWS does.
    Index(usize),
    /// A map value, rendered `key.member`.
    Key(String),
}

/// Decoding context: the path of the value being decoded and the violations so far.
#[derive(Debug, Default)]
pub struct Cx {
    path: Vec<Seg>,
    overflow_depth: usize,
    violations: Vec<String>,
}

impl Cx {
    pub fn new() -> Self {
        Self::default()
    }

    fn push(&mut self, seg: Seg) {
        if self.path.len() >= MAX_PATH_DEPTH {
            self.overflow_depth += 1;
        } else {
            self.path.push(seg);
        }
    }

    /// Enters a structure member; `name` is the lowerCamel wire name.
    pub fn enter(&mut self, name: &'static str) {
        self.push(Seg::Member(name));
    }

    /// Enters list element `index` (0-based).
    pub fn enter_index(&mut self, index: usize) {
        self.push(Seg::Index(index));
    }

    /// Enters the value of map entry `key`.
    pub fn enter_key(&mut self, key: &str) {
        self.push(Seg::Key(key.to_string()));
    }

    pub fn leave(&mut self) {
        if self.overflow_depth > 0 {
            self.overflow_depth -= 1;
        } else {
            self.path.pop();
        }
    }

    /// Position in the violation list; a container's own violations are inserted here
    /// after its elements are decoded, so they come before the elements' violations.
    pub fn mark(&self) -> usize {
        self.violations.len()
    }

    /// True when no violation was recorded yet (lets decoders skip work on error paths).
    pub fn is_clean(&self) -> bool {
        self.violations.is_empty()
    }

    /// The current path as AWS prints it, e.g. `keySchema.1.member.keyType`.
    pub fn path_string(&self) -> String {
        let mut out = String::new();
        for seg in &self.path {
            if !out.is_empty() {
                out.push('.');
            }
            match seg {
                Seg::Member(name) => out.push_str(name),
                Seg::Index(i) => {
                    let _ = write!(out, "{}.member", i + 1);
                }
                Seg::Key(k) => {
                    out.push_str(k);
                    out.push_str(".member");
                }
            }
        }
        out
    }

    /// Records `Value <value> at '<path>' failed to satisfy constraint: <constraint>`,
    /// inserted at `at` (see [`Cx::mark`]). `value` is the rendered value, `None` for null.
    pub fn violation_at(&mut self, at: usize, value: Option<&str>, constraint: &str) {
        if self.violations.len() >= MAX_KEPT_VIOLATIONS {
            return;
        }
        let path = self.path_string();
        let text = match value {
            Some(v) => {
                format!("Value '{v}' at '{path}' failed to satisfy constraint: {constraint}")
            }
            None => format!("Value null at '{path}' failed to satisfy constraint: {constraint}"),
        };
        let at = at.min(self.violations.len());
        self.violations.insert(at, text);
    }

    /// Records a violation of a sensitive member, whose value AWS does not echo:
    /// `Value at '<path>' failed to satisfy constraint: <constraint>`.
    pub fn violation_hidden(&mut self, constraint: &str) {
        if self.violations.len() >= MAX_KEPT_VIOLATIONS {
            return;
        }
        let path = self.path_string();
        self.violations.push(format!(
            "Value at '{path}' failed to satisfy constraint: {constraint}"
        ));
    }

    /// Records a violation at the end of the list.
    pub fn violation(&mut self, value: Option<&str>, constraint: &str) {
        let at = self.violations.len();
        self.violation_at(at, value, constraint);
    }

    /// Records that the current (required) member is absent.
    pub fn missing(&mut self) {
        self.violation(None, "Member must not be null");
    }

    /// The violations recorded so far, in report order.
    pub fn violations(&self) -> &[String] {
        &self.violations
    }

    /// `Ok` when nothing was violated, else AWS's message:
    /// `N validation error(s) detected: a; b`.
    pub fn finish(self) -> Result<(), String> {
        if self.violations.is_empty() {
            return Ok(());
        }
        Err(validation_message(&self.violations))
    }
}

/// Formats AWS's multi-violation message from individual violation texts.
pub fn validation_message(violations: &[String]) -> String {
    let shown = &violations[..violations.len().min(MAX_REPORTED_VIOLATIONS)];
    let n = shown.len();
    format!(
        "{n} validation error{} detected: {}",
        if n == 1 { "" } else { "s" },
        shown.join("; ")
    )
}

/// A decoded-but-untyped request value (a JSON value, a query-string tree, ...). The
/// generated decoders are generic over it, so one decoder serves every protocol.
pub trait Input: Sized {
    /// The members of a structure, in wire order.
    type Fields: Iterator<Item = (String, Self)>;
    /// The elements of a list.
    type Elems: Iterator<Item = Self>;
    /// The entries of a map.
    type Entries: Iterator<Item = (String, Self)>;

    /// An explicit null (JSON `null`); treated as absent.
    fn is_null(&self) -> bool;

    /// Opens a structure. `class` completes AWS's "Unrecognized collection type ..." text,
    /// e.g. `class com.amazonaws.dynamodb.v20120810.KeySchemaElement`.
    fn structure(self, pos: Pos, class: &'static str) -> Result<Self::Fields, DeError>;
    /// Opens a list. `flattened` only matters for the query protocol.
    fn list(self, pos: Pos, flattened: bool) -> Result<Self::Elems, DeError>;
    /// Opens a map. `class` is e.g. `java.util.Map<java.lang.String, java.lang.String>`.
    fn map(self, pos: Pos, class: &'static str, flattened: bool) -> Result<Self::Entries, DeError>;

    fn string(self) -> Result<String, DeError>;
    fn boolean(self) -> Result<bool, DeError>;
    fn integer(self) -> Result<i32, DeError>;
    fn long(self) -> Result<i64, DeError>;
    fn double(self) -> Result<f64, DeError>;
    fn blob(self) -> Result<Vec<u8>, DeError>;
    /// Seconds since the epoch.
    fn timestamp(self) -> Result<f64, DeError>;
}

/// A top-level input structure that can be decoded from any [`Input`].
pub trait Decode: Sized {
    fn decode<I: Input>(input: I, cx: &mut Cx) -> Result<Self, DeError>;
}

/// The empty input of an operation that has no input shape.
impl Decode for () {
    fn decode<I: Input>(_input: I, _cx: &mut Cx) -> Result<Self, DeError> {
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn path_renders_like_aws() {
        let mut cx = Cx::new();
        cx.enter("keySchema");
        cx.enter_index(0);
        cx.enter("keyType");
        assert_eq!(cx.path_string(), "keySchema.1.member.keyType");
        cx.leave();
        cx.leave();
        cx.leave();
        cx.enter("requestItems");
        cx.enter_key("tbl");
        cx.enter("keys");
        assert_eq!(cx.path_string(), "requestItems.tbl.member.keys");
    }

    #[test]
    fn message_counts_and_caps_at_ten() {
        let mut cx = Cx::new();
        cx.enter("a");
        for _ in 0..12 {
            cx.missing();
        }
        let msg = cx.finish().unwrap_err();
        assert!(msg.starts_with("10 validation errors detected: Value null at 'a'"));
        assert_eq!(msg.matches("; ").count(), 9);
    }

    #[test]
    fn insertion_at_mark_orders_container_first() {
        let mut cx = Cx::new();
        cx.enter("x");
        let mark = cx.mark();
        cx.violation(Some("child"), "c");
        cx.violation_at(mark, Some("parent"), "p");
        assert_eq!(
            cx.finish().unwrap_err(),
            "2 validation errors detected: Value 'parent' at 'x' failed to satisfy constraint: p; \
             Value 'child' at 'x' failed to satisfy constraint: c"
        );
    }
}
