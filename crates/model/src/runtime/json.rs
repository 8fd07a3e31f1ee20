//! JSON protocol support (awsJson 1.0/1.1 now, the payload of restJson later): decoding
//! from `serde_json::Value` with AWS's serialization-error texts, and a small writer the
//! generated encoders use.

use base64::Engine as _;
use bytes::Bytes;
use nimbus_wire::{AwsError, AwsResponse};
use serde_json::Value;

use super::de::{Cx, DeError, Decode, Input, Pos};
use super::ServiceMeta;

/// AWS's text when a scalar sits where a generic collection (a list inside a map, a map
/// inside a list) is expected: a Java reflection failure, reported verbatim.
const PARAMETERIZED_CAST: &str = "class sun.reflect.generics.reflectiveObjects.ParameterizedTypeImpl cannot be cast to class java.lang.Class (sun.reflect.generics.reflectiveObjects.ParameterizedTypeImpl and java.lang.Class are in module java.base of loader 'bootstrap')";
const OBJECT_NOT_EXPECTED: &str = "Start of structure or map found where not expected";

/// Jackson's name for the token a scalar value starts with.
fn token(v: &Value) -> &'static str {
    match v {
        Value::Bool(true) => "TRUE_VALUE",
        Value::Bool(false) => "FALSE_VALUE",
        Value::Number(n) if n.is_f64() => "DECIMAL_VALUE",
        Value::Number(_) => "NUMBER_VALUE",
        Value::String(_) => "STRING_VALUE",
        Value::Null => "VALUE_NULL",
        Value::Array(_) => "START_ARRAY",
        Value::Object(_) => "START_OBJECT",
    }
}

fn scalar_mismatch(v: &Value, java: &str) -> DeError {
    match v {
        Value::Array(_) => DeError::new(format!("Unrecognized collection type class java.{java}")),
        Value::Object(_) => DeError::new(OBJECT_NOT_EXPECTED),
        other => {
            let short = java.rsplit('.').next().unwrap_or(java);
            DeError::new(format!("{} cannot be converted to {short}", token(other)))
        }
    }
}

fn number_to_i64(n: &serde_json::Number) -> i64 {
    if let Some(i) = n.as_i64() {
        i
    } else if n.as_u64().is_some() {
        i64::MAX
    } else {
        // AWS truncates decimals given for integral members; `as` saturates.
        n.as_f64().map_or(0, |f| f.trunc() as i64)
    }
}

impl Input for Value {
    type Fields = serde_json::map::IntoIter;
    type Elems = std::vec::IntoIter<Value>;
    type Entries = serde_json::map::IntoIter;

    fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    fn structure(self, pos: Pos, class: &'static str) -> Result<Self::Fields, DeError> {
        match self {
            Value::Object(m) => Ok(m.into_iter()),
            Value::Array(_) => Err(DeError::new(format!(
                "Unrecognized collection type {class}"
            ))),
            _ if pos == Pos::Member => Err(DeError::new("Unexpected field type")),
            _ => Err(DeError::new("Unexpected value type in payload")),
        }
    }

    fn list(self, pos: Pos, _flattened: bool) -> Result<Self::Elems, DeError> {
        match self {
            Value::Array(a) => Ok(a.into_iter()),
            Value::Object(_) => Err(DeError::new(OBJECT_NOT_EXPECTED)),
            _ if pos == Pos::Element => Err(DeError::new(PARAMETERIZED_CAST)),
            _ => Err(DeError::new("Unexpected field type")),
        }
    }

    fn map(
        self,
        pos: Pos,
        class: &'static str,
        _flattened: bool,
    ) -> Result<Self::Entries, DeError> {
        match self {
            Value::Object(m) => Ok(m.into_iter()),
            Value::Array(_) => Err(DeError::new(format!(
                "Unrecognized collection type {class}"
            ))),
            _ if pos == Pos::Element => Err(DeError::new(PARAMETERIZED_CAST)),
            _ => Err(DeError::new("Unexpected field type")),
        }
    }

    fn string(self) -> Result<String, DeError> {
        match self {
            Value::String(s) => Ok(s),
            other => Err(scalar_mismatch(&other, "lang.String")),
        }
    }

    fn boolean(self) -> Result<bool, DeError> {
        match self {
            Value::Bool(b) => Ok(b),
            // Jackson coerces the textual booleans; anything else is a parser error.
            Value::String(s) if s.eq_ignore_ascii_case("true") => Ok(true),
            Value::String(s) if s.eq_ignore_ascii_case("false") => Ok(false),
            Value::String(_) => Err(DeError::new("Unexpected token received from parser")),
            other => Err(scalar_mismatch(&other, "lang.Boolean")),
        }
    }

    fn integer(self) -> Result<i32, DeError> {
        match &self {
            Value::Number(n) => {
                let v = number_to_i64(n);
                Ok(v.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32)
            }
            other => Err(scalar_mismatch(other, "lang.Integer")),
        }
    }

    fn long(self) -> Result<i64, DeError> {
        match &self {
            Value::Number(n) => Ok(number_to_i64(n)),
            other => Err(scalar_mismatch(other, "lang.Long")),
        }
    }

    fn double(self) -> Result<f64, DeError> {
        match &self {
            Value::Number(n) => Ok(n.as_f64().unwrap_or(0.0)),
            other => Err(scalar_mismatch(other, "lang.Double")),
        }
    }

    fn blob(self) -> Result<Vec<u8>, DeError> {
        match self {
            Value::String(s) => decode_base64(&s),
            Value::Array(_) => Err(DeError::new(
                "Unrecognized collection type class java.nio.ByteBuffer",
            )),
            Value::Object(_) => Err(DeError::new(OBJECT_NOT_EXPECTED)),
            _ => Err(DeError::new(
                "only base-64-encoded strings are convertible to bytes",
            )),
        }
    }

    fn timestamp(self) -> Result<f64, DeError> {
        match &self {
            Value::Number(n) => Ok(n.as_f64().unwrap_or(0.0)),
            Value::String(s) => s
                .parse::<f64>()
                .ok()
                .or_else(|| super::time::parse_iso8601(s))
                .ok_or_else(|| DeError::new("STRING_VALUE cannot be converted to Date")),
            other => Err(scalar_mismatch(other, "util.Date")),
        }
    }
}

/// Base64 as AWS's request layer checks it.
pub fn decode_base64(s: &str) -> Result<Vec<u8>, DeError> {
    if !s.len().is_multiple_of(4) {
        return Err(DeError::new(format!(
            "Base64 encoded length is expected a multiple of 4 bytes but found: {}",
            s.len()
        )));
    }
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .map_err(|_| DeError::new("Invalid last non-pad Base64 character dectected"))
}

/// A serialization error as the awsJson request layer reports it.
pub fn serialization_error(message: &str) -> AwsError {
    AwsError::new(
        http::StatusCode::BAD_REQUEST,
        "SerializationException",
        message,
    )
    .with_type_prefix("com.amazon.coral.service")
}

/// A validation error as the awsJson request layer reports it.
pub fn validation_error(message: String) -> AwsError {
    AwsError::new(
        http::StatusCode::BAD_REQUEST,
        "ValidationException",
        message,
    )
    .with_type_prefix("com.amazon.coral.validate")
}

/// Decodes and validates an awsJson request body into the operation's input.
pub fn decode_body<T: Decode>(body: &[u8]) -> Result<T, AwsError> {
    // Neither an empty nor a malformed body gets a message from AWS.
    if body.is_empty() {
        return Err(serialization_error(""));
    }
    let value: Value = serde_json::from_slice(body).map_err(|_| serialization_error(""))?;
    decode_value(value)
}

/// Decodes and validates an already parsed JSON value.
pub fn decode_value<T: Decode>(value: Value) -> Result<T, AwsError> {
    let mut cx = Cx::new();
    let input = T::decode(value, &mut cx).map_err(|e| serialization_error(&e.message))?;
    cx.finish().map_err(validation_error)?;
    Ok(input)
}

/// A structure the generated code can write as JSON.
pub trait JsonEncode {
    fn encode_json(&self, w: &mut JsonWriter);
}

/// Operations without an output shape answer `{}`.
impl JsonEncode for () {
    fn encode_json(&self, w: &mut JsonWriter) {
        w.begin_object();
        w.end_object();
    }
}

/// Encodes a value to JSON bytes.
pub fn to_bytes<T: JsonEncode + ?Sized>(v: &T) -> Vec<u8> {
    let mut w = JsonWriter::with_capacity(256);
    v.encode_json(&mut w);
    w.into_bytes()
}

/// Encodes a value to a `serde_json::Value` (for error payloads such as DynamoDB's
/// `ConditionalCheckFailedException.Item`).
pub fn to_value<T: JsonEncode + ?Sized>(v: &T) -> Value {
    serde_json::from_slice(&to_bytes(v)).unwrap_or(Value::Null)
}

/// A successful awsJson response.
pub fn respond<T: JsonEncode + ?Sized>(
    meta: &ServiceMeta,
    out: &T,
    request_id: &str,
) -> AwsResponse {
    let body = Bytes::from(to_bytes(out));
    super::response::json(meta.protocol, http::StatusCode::OK, body, request_id)
}

/// A streaming JSON writer: commas and colons are placed automatically.
#[derive(Debug, Default)]
pub struct JsonWriter {
    buf: Vec<u8>,
    need_comma: bool,
}

impl JsonWriter {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with_capacity(cap: usize) -> Self {
        Self {
            buf: Vec::with_capacity(cap),
            need_comma: false,
        }
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }

    fn sep(&mut self) {
        if self.need_comma {
            self.buf.push(b',');
        }
    }

    pub fn begin_object(&mut self) {
        self.sep();
        self.buf.push(b'{');
        self.need_comma = false;
    }

    pub fn end_object(&mut self) {
        self.buf.push(b'}');
        self.need_comma = true;
    }

    pub fn begin_array(&mut self) {
        self.sep();
        self.buf.push(b'[');
        self.need_comma = false;
    }

    pub fn end_array(&mut self) {
        self.buf.push(b']');
        self.need_comma = true;
    }

    /// An object key; the value written next belongs to it.
    pub fn key(&mut self, k: &str) {
        self.sep();
        write_escaped(&mut self.buf, k);
        self.buf.push(b':');
        self.need_comma = false;
    }

    pub fn string(&mut self, s: &str) {
        self.sep();
        write_escaped(&mut self.buf, s);
        self.need_comma = true;
    }

    pub fn boolean(&mut self, b: bool) {
        self.sep();
        self.buf
            .extend_from_slice(if b { b"true" } else { b"false" });
        self.need_comma = true;
    }

    pub fn integer(&mut self, v: i64) {
        self.sep();
        self.buf.extend_from_slice(v.to_string().as_bytes());
        self.need_comma = true;
    }

    /// A double or an epoch-seconds timestamp; always printed with a fraction or
    /// exponent so clients read it back as a float. Non-finite values become `null`.
    pub fn double(&mut self, v: f64) {
        self.sep();
        if v.is_finite() {
            self.buf.extend_from_slice(format!("{v:?}").as_bytes());
        } else {
            self.buf.extend_from_slice(b"null");
        }
        self.need_comma = true;
    }

    pub fn blob(&mut self, v: &[u8]) {
        self.sep();
        self.buf.push(b'"');
        let encoded = base64::engine::general_purpose::STANDARD.encode(v);
        self.buf.extend_from_slice(encoded.as_bytes());
        self.buf.push(b'"');
        self.need_comma = true;
    }

    /// Writes an arbitrary JSON value (error extras, documents).
    pub fn value(&mut self, v: &Value) {
        self.sep();
        // Writing to a Vec cannot fail.
        let _ = serde_json::to_writer(&mut self.buf, v);
        self.need_comma = true;
    }
}

/// Bytes that JSON strings must escape: `"`, `\\` and control characters.
const fn needs_escape_table() -> [bool; 256] {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = true;
        i += 1;
    }
    t[b'"' as usize] = true;
    t[b'\\' as usize] = true;
    t
}
static NEEDS_ESCAPE: [bool; 256] = needs_escape_table();

fn write_escaped(buf: &mut Vec<u8>, s: &str) {
    buf.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    // Copy unescaped runs in one go; most strings have no byte to escape at all.
    while let Some(off) = bytes[start..]
        .iter()
        .position(|&b| NEEDS_ESCAPE[usize::from(b)])
    {
        let i = start + off;
        buf.extend_from_slice(&bytes[start..i]);
        match bytes[i] {
            b'"' => buf.extend_from_slice(b"\\\""),
            b'\\' => buf.extend_from_slice(b"\\\\"),
            b'\n' => buf.extend_from_slice(b"\\n"),
            b'\r' => buf.extend_from_slice(b"\\r"),
            b'\t' => buf.extend_from_slice(b"\\t"),
            b => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                buf.extend_from_slice(b"\\u00");
                buf.push(HEX[usize::from(b >> 4)]);
                buf.push(HEX[usize::from(b & 0xf)]);
            }
        }
        start = i + 1;
    }
    buf.extend_from_slice(&bytes[start..]);
    buf.push(b'"');
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn writer_places_commas() {
        let mut w = JsonWriter::new();
        w.begin_object();
        w.key("a");
        w.string("x\"y\n\u{1}");
        w.key("b");
        w.begin_array();
        w.integer(1);
        w.double(2.0);
        w.boolean(true);
        w.end_array();
        w.key("c");
        w.begin_object();
        w.end_object();
        w.end_object();
        let text = String::from_utf8(w.into_bytes()).unwrap();
        assert_eq!(text, r#"{"a":"x\"y\n\u0001","b":[1,2.0,true],"c":{}}"#);
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["a"], json!("x\"y\n\u{1}"));
    }

    #[test]
    fn scalar_mismatches_word_like_aws() {
        assert_eq!(
            json!(23).string().unwrap_err().message,
            "NUMBER_VALUE cannot be converted to String"
        );
        assert_eq!(
            json!(34.56).string().unwrap_err().message,
            "DECIMAL_VALUE cannot be converted to String"
        );
        assert_eq!(
            json!(true).string().unwrap_err().message,
            "TRUE_VALUE cannot be converted to String"
        );
        assert_eq!(
            json!([]).string().unwrap_err().message,
            "Unrecognized collection type class java.lang.String"
        );
        assert_eq!(
            json!({}).string().unwrap_err().message,
            "Start of structure or map found where not expected"
        );
        assert_eq!(
            json!("23").long().unwrap_err().message,
            "STRING_VALUE cannot be converted to Long"
        );
        assert_eq!(
            json!("23").boolean().unwrap_err().message,
            "Unexpected token received from parser"
        );
        assert_eq!(
            json!(23).boolean().unwrap_err().message,
            "NUMBER_VALUE cannot be converted to Boolean"
        );
        assert_eq!(
            json!(true).blob().unwrap_err().message,
            "only base-64-encoded strings are convertible to bytes"
        );
        assert_eq!(
            json!("23456").blob().unwrap_err().message,
            "Base64 encoded length is expected a multiple of 4 bytes but found: 5"
        );
        assert_eq!(
            json!("=+/=").blob().unwrap_err().message,
            "Invalid last non-pad Base64 character dectected"
        );
        assert_eq!(json!(2_147_483_648_i64).integer().unwrap(), i32::MAX);
        assert_eq!(json!(3.9).long().unwrap(), 3);
    }
}
