//! The query protocol (IAM, STS, later SQS/SNS): form-encoded parameters in, XML out.
//!
//! Parameters are flattened member paths (`Tags.member.1.Key=k`); they are first folded
//! into a tree ([`QueryValue`]), which the generated decoders read through [`Input`].

use std::collections::BTreeMap;

use base64::Engine as _;
use bytes::Bytes;
use nimbus_wire::{AwsError, AwsRequest, AwsResponse};

use super::de::{Cx, DeError, Decode, Input, Pos};
use super::ServiceMeta;

/// Most parameters one request may carry; AWS's own query services cap the request
/// size, this bounds the tree built from it.
const MAX_PARAMS: usize = 10_000;
/// Deepest dotted key accepted (`A.member.1.B.member.2.C` ...).
const MAX_KEY_DEPTH: usize = 32;

/// A node of the parameter tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueryValue {
    Leaf(String),
    Node(BTreeMap<String, QueryValue>),
}

impl Default for QueryValue {
    fn default() -> Self {
        QueryValue::Node(BTreeMap::new())
    }
}

/// Decodes one `application/x-www-form-urlencoded` component (`+` is a space).
pub fn form_decode(s: &[u8]) -> String {
    let out = nimbus_wire::percent::decode(s, true);
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// Splits a form body or query string into decoded pairs.
pub fn parse_form(s: &[u8]) -> Vec<(String, String)> {
    s.split(|&b| b == b'&')
        .filter(|p| !p.is_empty())
        .take(MAX_PARAMS)
        .map(|pair| match pair.iter().position(|&b| b == b'=') {
            Some(i) => (form_decode(&pair[..i]), form_decode(&pair[i + 1..])),
            None => (form_decode(pair), String::new()),
        })
        .collect()
}

impl QueryValue {
    /// Folds flat `A.B.1.C=v` pairs into a tree. A later pair wins over an earlier one.
    pub fn from_pairs(pairs: impl IntoIterator<Item = (String, String)>) -> Self {
        let mut root = BTreeMap::new();
        for (key, value) in pairs {
            let parts: Vec<&str> = key.split('.').collect();
            if parts.len() > MAX_KEY_DEPTH || parts.iter().any(|p| p.is_empty()) {
                continue;
            }
            insert(&mut root, &parts, value);
        }
        QueryValue::Node(root)
    }

    fn get(&self, key: &str) -> Option<&QueryValue> {
        match self {
            QueryValue::Node(m) => m.get(key),
            QueryValue::Leaf(_) => None,
        }
    }

    /// The leaf at a top-level key (e.g. `Action`).
    pub fn leaf(&self, key: &str) -> Option<&str> {
        match self.get(key) {
            Some(QueryValue::Leaf(s)) => Some(s),
            _ => None,
        }
    }
}

fn insert(node: &mut BTreeMap<String, QueryValue>, parts: &[&str], value: String) {
    let Some((first, rest)) = parts.split_first() else {
        return;
    };
    if rest.is_empty() {
        node.insert((*first).to_string(), QueryValue::Leaf(value));
        return;
    }
    let child = node.entry((*first).to_string()).or_default();
    if let QueryValue::Leaf(_) = child {
        *child = QueryValue::default();
    }
    if let QueryValue::Node(m) = child {
        insert(m, rest, value);
    }
}

/// Children with 1-based numeric keys, in numeric order.
fn numbered(node: BTreeMap<String, QueryValue>) -> Vec<(usize, QueryValue)> {
    let mut items: Vec<(usize, QueryValue)> = node
        .into_iter()
        .filter_map(|(k, v)| k.parse::<usize>().ok().filter(|i| *i >= 1).map(|i| (i, v)))
        .collect();
    items.sort_by_key(|(i, _)| *i);
    items
}

fn leaf_text(v: QueryValue, what: &str) -> Result<String, DeError> {
    match v {
        QueryValue::Leaf(s) => Ok(s),
        QueryValue::Node(_) => Err(DeError::new(format!("Expected a {what} value"))),
    }
}

impl Input for QueryValue {
    type Fields = std::collections::btree_map::IntoIter<String, QueryValue>;
    type Elems = std::vec::IntoIter<QueryValue>;
    type Entries = std::vec::IntoIter<(String, QueryValue)>;

    fn is_null(&self) -> bool {
        false
    }

    fn structure(self, _pos: Pos, _class: &'static str) -> Result<Self::Fields, DeError> {
        match self {
            QueryValue::Node(m) => Ok(m.into_iter()),
            // `Param=` with no members is an empty structure.
            QueryValue::Leaf(_) => Ok(BTreeMap::new().into_iter()),
        }
    }

    fn list(self, _pos: Pos, flattened: bool) -> Result<Self::Elems, DeError> {
        let node = match self {
            QueryValue::Node(m) => m,
            // `Param=` is how the query protocol sends an empty list.
            QueryValue::Leaf(_) => return Ok(Vec::new().into_iter()),
        };
        let items = if flattened {
            numbered(node)
        } else {
            match node.into_iter().find(|(k, _)| k == "member") {
                Some((_, QueryValue::Node(m))) => numbered(m),
                _ => Vec::new(),
            }
        };
        Ok(items
            .into_iter()
            .map(|(_, v)| v)
            .collect::<Vec<_>>()
            .into_iter())
    }

    fn map(
        self,
        _pos: Pos,
        _class: &'static str,
        flattened: bool,
    ) -> Result<Self::Entries, DeError> {
        let node = match self {
            QueryValue::Node(m) => m,
            QueryValue::Leaf(_) => return Ok(Vec::new().into_iter()),
        };
        let entries = if flattened {
            numbered(node)
        } else {
            match node.into_iter().find(|(k, _)| k == "entry") {
                Some((_, QueryValue::Node(m))) => numbered(m),
                _ => Vec::new(),
            }
        };
        let mut out = Vec::with_capacity(entries.len());
        for (_, e) in entries {
            if let QueryValue::Node(mut m) = e {
                if let Some(QueryValue::Leaf(k)) = m.remove("key") {
                    let v = m.remove("value").unwrap_or(QueryValue::Leaf(String::new()));
                    out.push((k, v));
                }
            }
        }
        Ok(out.into_iter())
    }

    fn string(self) -> Result<String, DeError> {
        leaf_text(self, "string")
    }

    fn boolean(self) -> Result<bool, DeError> {
        let s = leaf_text(self, "boolean")?;
        if s.eq_ignore_ascii_case("true") {
            Ok(true)
        } else if s.eq_ignore_ascii_case("false") {
            Ok(false)
        } else {
            Err(DeError::new(format!("Invalid boolean value '{s}'")))
        }
    }

    fn integer(self) -> Result<i32, DeError> {
        let s = leaf_text(self, "integer")?;
        s.trim()
            .parse()
            .map_err(|_| DeError::new(format!("Invalid integer value '{s}'")))
    }

    fn long(self) -> Result<i64, DeError> {
        let s = leaf_text(self, "long")?;
        s.trim()
            .parse()
            .map_err(|_| DeError::new(format!("Invalid long value '{s}'")))
    }

    fn double(self) -> Result<f64, DeError> {
        let s = leaf_text(self, "double")?;
        s.trim()
            .parse()
            .map_err(|_| DeError::new(format!("Invalid double value '{s}'")))
    }

    fn blob(self) -> Result<Vec<u8>, DeError> {
        let s = leaf_text(self, "blob")?;
        base64::engine::general_purpose::STANDARD
            .decode(s.trim())
            .map_err(|_| DeError::new("Invalid base64 value"))
    }

    fn timestamp(self) -> Result<f64, DeError> {
        let s = leaf_text(self, "timestamp")?;
        s.parse::<f64>()
            .ok()
            .or_else(|| super::time::parse_iso8601(&s))
            .ok_or_else(|| DeError::new(format!("Invalid timestamp value '{s}'")))
    }
}

/// The parameters of a query request: the query string, then the form body (whose
/// values win), as AWS merges them.
pub fn request_params(req: &AwsRequest) -> QueryValue {
    let mut pairs = parse_form(req.query.as_bytes());
    pairs.extend(parse_form(&req.body));
    QueryValue::from_pairs(pairs)
}

/// A query-protocol client error (`<Type>Sender</Type>`).
pub fn sender_error(code: &str, message: impl Into<String>) -> AwsError {
    AwsError::new(http::StatusCode::BAD_REQUEST, code, message)
}

/// Decodes and validates the operation input from the parameter tree.
pub fn decode_params<T: Decode>(params: QueryValue) -> Result<T, AwsError> {
    let mut cx = Cx::new();
    let input =
        T::decode(params, &mut cx).map_err(|e| sender_error("ValidationError", e.message))?;
    cx.finish()
        .map_err(|msg| sender_error("ValidationError", msg))?;
    Ok(input)
}

/// A structure the generated code can write as XML members.
pub trait XmlEncode {
    fn encode_xml(&self, w: &mut XmlWriter);
}

impl XmlEncode for () {
    fn encode_xml(&self, _w: &mut XmlWriter) {}
}

/// A successful query response:
/// `<OpResponse xmlns=".."><OpResult>..</OpResult><ResponseMetadata>..</ResponseMetadata></OpResponse>`.
/// `result` is `None` for operations without an output shape.
pub fn respond<T: XmlEncode + ?Sized>(
    meta: &ServiceMeta,
    operation: &str,
    result: Option<(&str, &T)>,
    request_id: &str,
) -> AwsResponse {
    let mut w = XmlWriter::with_capacity(512);
    let response_tag = format!("{operation}Response");
    w.start_with_ns(&response_tag, meta.xml_namespace);
    if let Some((wrapper, out)) = result {
        w.start(wrapper);
        out.encode_xml(&mut w);
        w.end(wrapper);
    }
    w.start("ResponseMetadata");
    w.element("RequestId", request_id);
    w.end("ResponseMetadata");
    w.end(&response_tag);
    super::response::xml(
        http::StatusCode::OK,
        Bytes::from(w.into_string()),
        request_id,
    )
}

/// A small XML writer for response bodies.
#[derive(Debug, Default)]
pub struct XmlWriter {
    buf: String,
}

impl XmlWriter {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with_capacity(cap: usize) -> Self {
        Self {
            buf: String::with_capacity(cap),
        }
    }

    pub fn into_string(self) -> String {
        self.buf
    }

    pub fn declaration(&mut self) {
        self.buf
            .push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    }

    pub fn start(&mut self, name: &str) {
        self.buf.push('<');
        self.buf.push_str(name);
        self.buf.push('>');
    }

    pub fn start_with_ns(&mut self, name: &str, ns: &str) {
        self.buf.push('<');
        self.buf.push_str(name);
        if !ns.is_empty() {
            self.buf.push_str(" xmlns=\"");
            escape_attr_into(&mut self.buf, ns);
            self.buf.push('"');
        }
        self.buf.push('>');
    }

    pub fn end(&mut self, name: &str) {
        self.buf.push_str("</");
        self.buf.push_str(name);
        self.buf.push('>');
    }

    pub fn text(&mut self, s: &str) {
        escape_into(&mut self.buf, s);
    }

    /// `<name>text</name>`.
    pub fn element(&mut self, name: &str, text: &str) {
        self.start(name);
        self.text(text);
        self.end(name);
    }

    pub fn boolean(&mut self, name: &str, v: bool) {
        self.element(name, if v { "true" } else { "false" });
    }

    pub fn integer(&mut self, name: &str, v: i64) {
        self.element(name, &v.to_string());
    }

    pub fn double(&mut self, name: &str, v: f64) {
        self.element(name, &format!("{v:?}"));
    }

    pub fn timestamp(&mut self, name: &str, secs: f64) {
        self.element(name, &super::time::format_iso8601(secs));
    }

    pub fn blob(&mut self, name: &str, v: &[u8]) {
        self.element(name, &base64::engine::general_purpose::STANDARD.encode(v));
    }
}

/// Escapes XML text the way AWS's XML writers do: only `&`, `<`, `>` (and a carriage
/// return, which a parser would otherwise normalise away). Quotes stay literal in text.
pub fn escape_into(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
}

/// Escapes an attribute value (double-quoted).
pub fn escape_attr_into(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '"' => out.push_str("&quot;"),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn form_pairs_fold_into_a_tree() {
        let pairs = parse_form(b"Action=CreateUser&UserName=bob%2Bx&Tags.member.2.Key=b&Tags.member.1.Key=a+b&Tags.member.10.Key=z");
        let tree = QueryValue::from_pairs(pairs);
        assert_eq!(tree.leaf("Action"), Some("CreateUser"));
        assert_eq!(tree.leaf("UserName"), Some("bob+x"));
        let tags = tree.get("Tags").cloned().unwrap();
        let keys: Vec<String> = tags
            .list(Pos::Member, false)
            .unwrap()
            .map(|t| {
                t.get("Key")
                    .and_then(|k| match k {
                        QueryValue::Leaf(s) => Some(s.clone()),
                        QueryValue::Node(_) => None,
                    })
                    .unwrap()
            })
            .collect();
        assert_eq!(keys, ["a b", "b", "z"]);
    }

    #[test]
    fn maps_read_entries() {
        let tree = QueryValue::from_pairs(parse_form(
            b"M.entry.1.key=k1&M.entry.1.value=v1&M.entry.2.key=k2&M.entry.2.value=v2",
        ));
        let m = tree.get("M").cloned().unwrap();
        let entries: Vec<(String, String)> = m
            .map(Pos::Member, "", false)
            .unwrap()
            .map(|(k, v)| (k, v.string().unwrap()))
            .collect();
        assert_eq!(
            entries,
            [
                ("k1".to_string(), "v1".to_string()),
                ("k2".to_string(), "v2".to_string())
            ]
        );
    }

    #[test]
    fn xml_escapes() {
        let mut w = XmlWriter::new();
        w.element("A", "<&>\"'");
        assert_eq!(w.into_string(), "<A>&lt;&amp;&gt;\"'</A>");
    }
}
