//! Renders request values the way AWS echoes them in validation messages
//! (`Value '<rendered>' at ...`). AWS's request layer is Java, so values print as Java
//! prints them: lists `[a, b]`, maps `{k=v, k2=v2}`, structures
//! `KeySchemaElement(attributeName=a, keyType=HASH)`, absent members `null`, blobs as
//! the `ByteBuffer` that holds them, some shapes (DynamoDB's `AttributeValue`) as
//! `class@hash`.

use std::collections::HashMap;
use std::fmt::Write as _;

pub fn string(out: &mut String, v: &str) {
    out.push_str(v);
}

/// A required string member: the decoder leaves an absent one empty, and AWS echoes an
/// absent member as `null`.
pub fn required_string(out: &mut String, v: &str) {
    out.push_str(if v.is_empty() { "null" } else { v });
}

pub fn integer(out: &mut String, v: i64) {
    let _ = write!(out, "{v}");
}

pub fn boolean(out: &mut String, v: bool) {
    out.push_str(if v { "true" } else { "false" });
}

/// A double as Java's `Double.toString` prints it for ordinary magnitudes
/// (`1.0`, `0.5`, `1.0E10`).
pub fn double_text(v: f64) -> String {
    if v.is_nan() {
        return "NaN".to_string();
    }
    if v.is_infinite() {
        return if v > 0.0 { "Infinity" } else { "-Infinity" }.to_string();
    }
    let abs = v.abs();
    if abs != 0.0 && !(1e-3..1e7).contains(&abs) {
        // Java switches to computerized scientific notation outside [1e-3, 1e7).
        let s = format!("{v:e}");
        return match s.split_once('e') {
            Some((mantissa, exp)) if mantissa.contains('.') => format!("{mantissa}E{exp}"),
            Some((mantissa, exp)) => format!("{mantissa}.0E{exp}"),
            None => s,
        };
    }
    let s = format!("{v}");
    if s.contains('.') {
        s
    } else {
        format!("{s}.0")
    }
}

pub fn double(out: &mut String, v: f64) {
    out.push_str(&double_text(v));
}

/// A blob as the `java.nio.HeapByteBuffer` AWS holds it in.
pub fn blob(out: &mut String, v: &[u8]) {
    let _ = write!(
        out,
        "java.nio.HeapByteBuffer[pos=0 lim={} cap={}]",
        v.len(),
        v.len()
    );
}

/// A timestamp; AWS prints a `java.util.Date`. Rendered as ISO 8601, which is close
/// enough for the rare timestamp that has a constraint.
pub fn timestamp(out: &mut String, secs: f64) {
    out.push_str(&super::time::format_iso8601(secs));
}

pub fn optional<T>(out: &mut String, v: Option<&T>, f: impl FnOnce(&mut String, &T)) {
    match v {
        Some(v) => f(out, v),
        None => out.push_str("null"),
    }
}

pub fn list<T>(out: &mut String, v: &[T], mut f: impl FnMut(&mut String, &T)) {
    out.push('[');
    for (i, e) in v.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        f(out, e);
    }
    out.push(']');
}

pub fn map<T>(out: &mut String, v: &HashMap<String, T>, mut f: impl FnMut(&mut String, &T)) {
    out.push('{');
    for (i, (k, e)) in v.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(k);
        out.push('=');
        f(out, e);
    }
    out.push('}');
}

/// `class@hash`, the default `Object.toString` some AWS model classes keep. The hash is
/// derived from the rendered content so equal values print alike.
pub fn identity(out: &mut String, class: &str, content: &str) {
    // FNV-1a: a stable, dependency-free stand-in for Java's identity hash.
    let mut h: u32 = 0x811c_9dc5;
    for b in content.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    let _ = write!(out, "{class}@{h:x}");
}

/// Starts `Name(`; members follow via [`field`], then [`end_struct`].
pub fn begin_struct(out: &mut String, name: &str) {
    out.push_str(name);
    out.push('(');
}

/// Starts member `name=`; `first` suppresses the separator.
pub fn field(out: &mut String, name: &str, first: bool) {
    if !first {
        out.push_str(", ");
    }
    out.push_str(name);
    out.push('=');
}

pub fn end_struct(out: &mut String) {
    out.push(')');
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn doubles_print_like_java() {
        assert_eq!(double_text(1.0), "1.0");
        assert_eq!(double_text(0.5), "0.5");
        assert_eq!(double_text(1e10), "1.0E10");
        assert_eq!(double_text(-2.5e-5), "-2.5E-5");
    }

    #[test]
    fn collections_print_like_java() {
        let mut out = String::new();
        list(&mut out, &["a".to_string(), "b".to_string()], |o, s| {
            string(o, s)
        });
        assert_eq!(out, "[a, b]");
        let mut out = String::new();
        let m: HashMap<String, i64> = [("k".to_string(), 1)].into_iter().collect();
        map(&mut out, &m, |o, v| integer(o, *v));
        assert_eq!(out, "{k=1}");
    }
}
