//! The canonical request, exactly as AWS builds it for SigV4:
//!
//! ```text
//! METHOD \n CANONICAL_URI \n CANONICAL_QUERY \n CANONICAL_HEADERS \n \n SIGNED_HEADERS \n PAYLOAD_HASH
//! ```
//!
//! The one service-dependent rule is the URI: S3 encodes each path segment once and
//! keeps the path as written; every other service normalises the path (dot segments,
//! repeated slashes) and encodes the already-encoded path a second time.

use http::HeaderMap;
use sha2::{Digest, Sha256};
use std::borrow::Cow;

/// SHA-256 of the empty string, the payload hash of every body-less request.
pub const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// How the canonical URI is formed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UriEncoding {
    /// Normalise the path, then percent-encode the raw path again (all services but S3).
    Double,
    /// Use each path segment percent-encoded once, no normalisation (S3).
    Single,
}

impl UriEncoding {
    /// The rule a service follows, by its signing name.
    pub fn for_service(service: &str) -> Self {
        match service {
            "s3" | "s3-object-lambda" | "s3-outposts" | "s3express" => UriEncoding::Single,
            _ => UriEncoding::Double,
        }
    }
}

/// Lowercase hex SHA-256.
pub fn sha256_hex(data: &[u8]) -> String {
    let mut out = String::with_capacity(64);
    push_sha256_hex(data, &mut out);
    out
}

/// Appends the lowercase hex SHA-256 of `data` to `out`. Every request hashes its payload
/// and its canonical request: encoded through a stack buffer, not char by char.
pub fn push_sha256_hex(data: &[u8], out: &mut String) {
    let mut hex_buf = [0u8; 64];
    // 32 bytes always fit 64 hex digits, and hex digits are ASCII.
    if hex::encode_to_slice(Sha256::digest(data), &mut hex_buf).is_ok() {
        if let Ok(text) = std::str::from_utf8(&hex_buf) {
            out.push_str(text);
        }
    }
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~')
}

const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";

/// AWS's URI encoding: every byte except `A-Z a-z 0-9 - _ . ~` becomes `%XX` (uppercase
/// hex); `/` is kept when `keep_slash`.
pub fn uri_encode(input: &[u8], keep_slash: bool, out: &mut String) {
    for &b in input {
        if is_unreserved(b) || (keep_slash && b == b'/') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX_UPPER[usize::from(b >> 4)]));
            out.push(char::from(HEX_UPPER[usize::from(b & 0x0f)]));
        }
    }
}

/// Decodes `%XX` escapes; `+` stays `+` (SigV4 clients encode spaces as `%20`). See
/// [`crate::percent::decode`].
pub fn percent_decode(input: &str) -> Vec<u8> {
    crate::percent::decode(input.as_bytes(), false)
}

/// RFC 3986 dot-segment removal plus collapsing of empty segments, as botocore does
/// before signing for every service but S3.
fn normalize_path(path: &str) -> String {
    if path.is_empty() {
        return "/".to_string();
    }
    let mut stack: Vec<&str> = Vec::new();
    for seg in path.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                stack.pop();
            }
            s => stack.push(s),
        }
    }
    let mut out = String::with_capacity(path.len());
    out.push('/');
    out.push_str(&stack.join("/"));
    if path.ends_with('/') && !stack.is_empty() {
        out.push('/');
    }
    out
}

/// The canonical URI of a raw (as received, still percent-encoded) request path.
pub fn canonical_uri(raw_path: &str, encoding: UriEncoding) -> String {
    let mut out = String::with_capacity(raw_path.len() + 8);
    push_canonical_uri(raw_path, encoding, &mut out);
    out
}

/// Whether the path is already its own canonical form under `encoding`: `/` (where JSON
/// and query APIs post), or for S3, which keeps the path as written, a path of unreserved
/// characters and slashes only.
fn is_plain_path(raw_path: &str, encoding: UriEncoding) -> bool {
    if raw_path == "/" {
        return true;
    }
    encoding == UriEncoding::Single
        && raw_path.starts_with('/')
        && raw_path.bytes().all(|b| is_unreserved(b) || b == b'/')
}

/// Appends the canonical URI of `raw_path` to `out`.
fn push_canonical_uri(raw_path: &str, encoding: UriEncoding, out: &mut String) {
    if is_plain_path(raw_path, encoding) {
        out.push_str(raw_path);
        return;
    }
    match encoding {
        UriEncoding::Double => {
            let normalized = normalize_path(raw_path);
            uri_encode(normalized.as_bytes(), true, out);
        }
        UriEncoding::Single => {
            if raw_path.is_empty() {
                out.push('/');
                return;
            }
            // Decode and re-encode each segment so that a client which left a reserved
            // character raw (`(`, `!`, ...) and one that escaped it sign the same thing,
            // while an escaped slash inside a key (`%2F`) stays escaped.
            for (i, seg) in raw_path.split('/').enumerate() {
                if i > 0 {
                    out.push('/');
                }
                uri_encode(&percent_decode(seg), false, out);
            }
        }
    }
}

/// The canonical query string: every parameter decoded, re-encoded the AWS way, sorted
/// by key then value. `exclude` names a parameter left out (`X-Amz-Signature` when
/// verifying a presigned URL).
pub fn canonical_query(raw_query: &str, exclude: Option<&str>) -> String {
    if raw_query.is_empty() {
        return String::new();
    }
    let mut pairs: Vec<(String, String)> = Vec::new();
    for part in raw_query.split('&') {
        if part.is_empty() {
            continue;
        }
        let (k, v) = part.split_once('=').unwrap_or((part, ""));
        let key = percent_decode(k);
        if let Some(ex) = exclude {
            if key == ex.as_bytes() {
                continue;
            }
        }
        let mut ek = String::with_capacity(k.len());
        uri_encode(&key, false, &mut ek);
        let mut ev = String::with_capacity(v.len());
        uri_encode(&percent_decode(v), false, &mut ev);
        pairs.push((ek, ev));
    }
    pairs.sort();
    let mut out = String::with_capacity(raw_query.len() + 8);
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(k);
        out.push('=');
        out.push_str(v);
    }
    out
}

/// Trims a header value and folds runs of spaces/tabs into one space.
fn push_trimmed(value: &[u8], out: &mut String) {
    // Almost every value is already trimmed and folded: copy it as it is.
    let plain = !value.is_empty()
        && !matches!(value.first(), Some(b' ' | b'\t'))
        && !matches!(value.last(), Some(b' ' | b'\t'))
        && !value.contains(&b'\t')
        && !value.windows(2).any(|w| w == b"  ");
    if plain {
        if let Ok(text) = std::str::from_utf8(value) {
            out.push_str(text);
            return;
        }
    }
    let text = String::from_utf8_lossy(value);
    let mut first = true;
    for word in text.split([' ', '\t']).filter(|w| !w.is_empty()) {
        if !first {
            out.push(' ');
        }
        out.push_str(word);
        first = false;
    }
}

/// `name:value\n` for each signed header (lowercase names, in the order given); the
/// values of a repeated header are joined with `,`.
pub fn canonical_headers<S: AsRef<str>>(headers: &HeaderMap, signed: &[S], out: &mut String) {
    for name in signed {
        let name = name.as_ref();
        out.push_str(name);
        out.push(':');
        let mut first = true;
        for v in headers.get_all(name) {
            if !first {
                out.push(',');
            }
            push_trimmed(v.as_bytes(), out);
            first = false;
        }
        out.push('\n');
    }
}

/// Everything the canonical request is built from.
#[derive(Debug, Clone, Copy)]
pub struct CanonicalInput<'a> {
    pub method: &'a str,
    pub raw_path: &'a str,
    pub raw_query: &'a str,
    /// Query parameter left out of the canonical query (presigned verification).
    pub exclude_query_param: Option<&'a str>,
    pub headers: &'a HeaderMap,
    /// Lowercase, `;`-separated as in the `SignedHeaders` parameter.
    pub signed_headers: &'a [Cow<'a, str>],
    pub payload_hash: &'a str,
    pub uri_encoding: UriEncoding,
}

/// Builds the canonical request text.
pub fn canonical_request(input: &CanonicalInput<'_>) -> String {
    // Typical SDK requests sign 4-8 headers: about 300-600 bytes, one allocation.
    let mut out = String::with_capacity(512 + input.raw_path.len() + input.raw_query.len());
    out.push_str(input.method);
    out.push('\n');
    push_canonical_uri(input.raw_path, input.uri_encoding, &mut out);
    out.push('\n');
    if !input.raw_query.is_empty() {
        out.push_str(&canonical_query(input.raw_query, input.exclude_query_param));
    }
    out.push('\n');
    canonical_headers(input.headers, input.signed_headers, &mut out);
    out.push('\n');
    for (i, h) in input.signed_headers.iter().enumerate() {
        if i > 0 {
            out.push(';');
        }
        out.push_str(h);
    }
    out.push('\n');
    out.push_str(input.payload_hash);
    out
}

/// `AWS4-HMAC-SHA256\n<time>\n<scope>\n<hex sha256(canonical request)>`.
pub fn string_to_sign(amz_date: &str, scope: &str, canonical_request: &str) -> String {
    string_to_sign_parts(amz_date, &[scope], canonical_request)
}

/// [`string_to_sign`] with the scope given as its `/`-separated parts, so that a verifier
/// need not join them into a string first.
pub fn string_to_sign_parts(amz_date: &str, scope: &[&str], canonical_request: &str) -> String {
    let scope_len: usize = scope.iter().map(|p| p.len() + 1).sum();
    let mut out = String::with_capacity(super::ALGORITHM.len() + amz_date.len() + scope_len + 67);
    out.push_str(super::ALGORITHM);
    out.push('\n');
    out.push_str(amz_date);
    out.push('\n');
    for (i, part) in scope.iter().enumerate() {
        if i > 0 {
            out.push('/');
        }
        out.push_str(part);
    }
    out.push('\n');
    push_sha256_hex(canonical_request.as_bytes(), &mut out);
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn double_encoding_normalises_and_reencodes() {
        let d = UriEncoding::Double;
        assert_eq!(canonical_uri("", d), "/");
        assert_eq!(canonical_uri("/", d), "/");
        assert_eq!(canonical_uri("/example/..", d), "/");
        assert_eq!(canonical_uri("/example1/example2/../..", d), "/");
        assert_eq!(canonical_uri("/./", d), "/");
        assert_eq!(canonical_uri("/example/", d), "/example/");
        assert_eq!(canonical_uri("//example//", d), "/example/");
        assert_eq!(
            canonical_uri(
                "/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
                d
            ),
            "/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
        );
        // An already-encoded space is encoded again.
        assert_eq!(canonical_uri("/example%20space/", d), "/example%2520space/");
        assert_eq!(canonical_uri("/ሴ", d), "/%E1%88%B4");
    }

    #[test]
    fn single_encoding_keeps_path() {
        let s = UriEncoding::Single;
        assert_eq!(canonical_uri("/bucket/a//b/../c", s), "/bucket/a//b/../c");
        assert_eq!(canonical_uri("/bucket/my%20key", s), "/bucket/my%20key");
        assert_eq!(canonical_uri("/bucket/a(b)", s), "/bucket/a%28b%29");
        assert_eq!(canonical_uri("/bucket/a%2Fb", s), "/bucket/a%2Fb");
        assert_eq!(canonical_uri("/bucket/a%2fb", s), "/bucket/a%2Fb");
        assert_eq!(canonical_uri("", s), "/");
    }

    #[test]
    fn query_is_sorted_and_reencoded() {
        assert_eq!(canonical_query("", None), "");
        assert_eq!(
            canonical_query("Param2=value2&Param1=value1", None),
            "Param1=value1&Param2=value2"
        );
        assert_eq!(
            canonical_query("Param1=value2&Param1=Value1", None),
            "Param1=Value1&Param1=value2"
        );
        assert_eq!(canonical_query("-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz=-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", None),
            "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz=-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz");
        assert_eq!(canonical_query("%E1%88%B4=bar", None), "%E1%88%B4=bar");
        assert_eq!(canonical_query("a=b c&flag", None), "a=b%20c&flag=");
        assert_eq!(canonical_query("a=%2f", None), "a=%2F");
        assert_eq!(canonical_query("a=x+y", None), "a=x%2By");
        assert_eq!(
            canonical_query("X-Amz-Signature=abc&X-Amz-Date=1", Some("X-Amz-Signature")),
            "X-Amz-Date=1"
        );
    }

    #[test]
    fn header_values_are_trimmed_and_folded() {
        let mut h = HeaderMap::new();
        h.insert("my-header1", "  value1  ".parse().unwrap());
        h.append("my-header1", "a   b\t c".parse().unwrap());
        h.insert("host", "example.amazonaws.com".parse().unwrap());
        let mut out = String::new();
        canonical_headers(
            &h,
            &["host".to_string(), "my-header1".to_string()],
            &mut out,
        );
        assert_eq!(out, "host:example.amazonaws.com\nmy-header1:value1,a b c\n");
    }

    #[test]
    fn plain_inputs_take_the_fast_paths_with_the_same_results() {
        // The copy-through paths must agree with the general ones they skip.
        for path in ["/", "/bucket/key-1.txt", "/bucket/a//b/", "/b/~x_y.z"] {
            let mut general = String::new();
            for (i, seg) in path.split('/').enumerate() {
                if i > 0 {
                    general.push('/');
                }
                uri_encode(&percent_decode(seg), false, &mut general);
            }
            assert_eq!(canonical_uri(path, UriEncoding::Single), general);
        }
        assert!(!is_plain_path("/a b", UriEncoding::Single));
        assert!(!is_plain_path("/a/b", UriEncoding::Double));
        assert_eq!(canonical_uri("/a/./b", UriEncoding::Double), "/a/b");
        let mut h = HeaderMap::new();
        h.insert("a", "plain value".parse().unwrap());
        h.insert("b", "two  spaces".parse().unwrap());
        h.insert("c", "tab\there".parse().unwrap());
        h.insert("d", "".parse().unwrap());
        let mut out = String::new();
        canonical_headers(&h, &["a", "b", "c", "d"], &mut out);
        assert_eq!(out, "a:plain value\nb:two spaces\nc:tab here\nd:\n");
    }

    #[test]
    fn string_to_sign_parts_joins_the_scope() {
        assert_eq!(
            string_to_sign_parts("T", &["d", "r", "s", "aws4_request"], "x"),
            string_to_sign("T", "d/r/s/aws4_request", "x")
        );
        let mut out = String::from("p:");
        push_sha256_hex(b"", &mut out);
        assert_eq!(out, format!("p:{EMPTY_SHA256}"));
    }

    #[test]
    fn percent_decode_keeps_broken_escapes() {
        assert_eq!(percent_decode("%41%4a%zz%4"), b"AJ%zz%4".to_vec());
    }

    #[test]
    fn empty_hash_constant_is_right() {
        assert_eq!(sha256_hex(b""), EMPTY_SHA256);
    }
}
