//! Where S3 keeps its state in the store. Every key starts with `s3/`; the second
//! segment names the family:
//!
//! | family | key | value |
//! |---|---|---|
//! | `b`  | `s3/b/{bucket}` | [`crate::meta::BucketMeta`] (JSON) |
//! | `bc` | `s3/bc/{bucket}/{kind}` | one bucket configuration (the s3s DTO as JSON; kinds in `bucket_config.rs`) |
//! | `bs` | `s3/bs/{bucket}` | the bucket's version sequence (u64 BE) |
//! | `v`  | `s3/v/{bucket}\0{key*}{!seq}` | [`crate::meta::ObjectVersion`] (JSON), newest first per key |
//! | `n`  | `s3/n/{bucket}\0{key*}` | seq of the key's `null` version (u64 BE) |
//! | `u`  | `s3/u/{bucket}\0{key*}{upload_id}` | [`crate::meta::Upload`] (JSON) |
//! | `p`  | `s3/p/{upload_id}/{part:05}` | [`crate::meta::Part`] (JSON) |
//! | `d`  | `s3/d/{blob_id}` | an inline body (small objects and parts) |
//! | `r`  | `s3/r/{blob_id}` | empty: the blob is referenced (crash recovery keeps it) |
//! | `gc` | `s3/gc/{blob_id}` | empty: the blob is garbage; the reaper deletes it |
//!
//! `{key*}` is the object key escaped so that byte order of store keys is the order S3
//! lists keys in (UTF-8 binary order) and no key is a prefix-collision of another:
//! `0x00` becomes `0x00 0xFF`, and the key ends with `0x00 0x01`. `{!seq}` is
//! `u64::MAX - seq` big-endian, so a key's newest version sorts first.

/// Prefix of every S3 key.
pub const ROOT: &[u8] = b"s3/";

pub const BUCKET: &[u8] = b"s3/b/";
pub const BUCKET_CONFIG: &[u8] = b"s3/bc/";
pub const BUCKET_SEQ: &[u8] = b"s3/bs/";
pub const VERSION: &[u8] = b"s3/v/";
pub const NULL_VERSION: &[u8] = b"s3/n/";
pub const UPLOAD: &[u8] = b"s3/u/";
pub const PART: &[u8] = b"s3/p/";
pub const INLINE: &[u8] = b"s3/d/";
pub const BLOB_REF: &[u8] = b"s3/r/";
pub const GARBAGE: &[u8] = b"s3/gc/";

/// The escaped-key terminator; see the module docs.
const KEY_END: [u8; 2] = [0x00, 0x01];

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    let mut v = Vec::with_capacity(parts.iter().map(|p| p.len()).sum());
    for p in parts {
        v.extend_from_slice(p);
    }
    v
}

pub fn bucket(bucket: &str) -> Vec<u8> {
    cat(&[BUCKET, bucket.as_bytes()])
}

pub fn bucket_config(bucket: &str, kind: &str) -> Vec<u8> {
    cat(&[BUCKET_CONFIG, bucket.as_bytes(), b"/", kind.as_bytes()])
}

/// Prefix of all of one bucket's configurations (for DeleteBucket).
pub fn bucket_config_prefix(bucket: &str) -> Vec<u8> {
    cat(&[BUCKET_CONFIG, bucket.as_bytes(), b"/"])
}

pub fn bucket_seq(bucket: &str) -> Vec<u8> {
    cat(&[BUCKET_SEQ, bucket.as_bytes()])
}

/// Appends `key` escaped (order-preserving, prefix-free).
pub fn push_escaped(out: &mut Vec<u8>, key: &str) {
    for &b in key.as_bytes() {
        out.push(b);
        if b == 0 {
            out.push(0xFF);
        }
    }
    out.extend_from_slice(&KEY_END);
}

/// Reads an escaped key from the start of `b`; returns it and the rest.
pub fn take_escaped(b: &[u8]) -> Option<(String, &[u8])> {
    let mut raw = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = *b.get(i)?;
        if c == 0 {
            match b.get(i + 1)? {
                0xFF => raw.push(0),
                0x01 => {
                    let key = String::from_utf8(raw).ok()?;
                    return Some((key, b.get(i + 2..)?));
                }
                _ => return None,
            }
            i += 2;
        } else {
            raw.push(c);
            i += 1;
        }
    }
    None
}

/// `s3/v/{bucket}\0`: every version of every key in the bucket.
pub fn versions_of_bucket(bucket: &str) -> Vec<u8> {
    cat(&[VERSION, bucket.as_bytes(), b"\0"])
}

/// The store-key prefix under which the escaped form of every object key that starts
/// with `prefix` lies (the escaped key without its terminator).
pub fn versions_with_key_prefix(bucket: &str, prefix: &str) -> Vec<u8> {
    let mut v = versions_of_bucket(bucket);
    for &b in prefix.as_bytes() {
        v.push(b);
        if b == 0 {
            v.push(0xFF);
        }
    }
    v
}

/// `s3/v/{bucket}\0{key*}`: every version of one key, newest first.
pub fn versions_of_key(bucket: &str, key: &str) -> Vec<u8> {
    let mut v = versions_of_bucket(bucket);
    push_escaped(&mut v, key);
    v
}

pub fn version(bucket: &str, key: &str, seq: u64) -> Vec<u8> {
    let mut v = versions_of_key(bucket, key);
    v.extend_from_slice(&(u64::MAX - seq).to_be_bytes());
    v
}

/// Splits a `v` key (after the bucket prefix `versions_of_bucket(bucket)`) into the
/// object key and the version seq.
pub fn parse_version_suffix(rest: &[u8]) -> Option<(String, u64)> {
    let (key, tail) = take_escaped(rest)?;
    let inv: [u8; 8] = tail.try_into().ok()?;
    Some((key, u64::MAX - u64::from_be_bytes(inv)))
}

pub fn null_version(bucket: &str, key: &str) -> Vec<u8> {
    let mut v = cat(&[NULL_VERSION, bucket.as_bytes(), b"\0"]);
    push_escaped(&mut v, key);
    v
}

pub fn uploads_of_bucket(bucket: &str) -> Vec<u8> {
    cat(&[UPLOAD, bucket.as_bytes(), b"\0"])
}

pub fn upload(bucket: &str, key: &str, upload_id: &str) -> Vec<u8> {
    let mut v = uploads_of_bucket(bucket);
    push_escaped(&mut v, key);
    v.extend_from_slice(upload_id.as_bytes());
    v
}

pub fn parts_of_upload(upload_id: &str) -> Vec<u8> {
    cat(&[PART, upload_id.as_bytes(), b"/"])
}

pub fn part(upload_id: &str, part_number: u32) -> Vec<u8> {
    let mut v = parts_of_upload(upload_id);
    v.extend_from_slice(format!("{part_number:05}").as_bytes());
    v
}

pub fn inline(blob_id: &str) -> Vec<u8> {
    cat(&[INLINE, blob_id.as_bytes()])
}

pub fn blob_ref(blob_id: &str) -> Vec<u8> {
    cat(&[BLOB_REF, blob_id.as_bytes()])
}

pub fn garbage(blob_id: &str) -> Vec<u8> {
    cat(&[GARBAGE, blob_id.as_bytes()])
}

/// The smallest key greater than every key starting with `prefix`.
pub fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xFF {
            end.push(last + 1);
            return end;
        }
    }
    // All 0xFF: nothing is greater with this prefix; the family root's end works.
    vec![0xFF; prefix.len() + 1]
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn escaped_keys_roundtrip_and_keep_order() {
        let keys = ["", "a", "a\0", "a\0b", "a/b", "ab", "b", "\u{e9}"];
        let mut enc: Vec<Vec<u8>> = keys
            .iter()
            .map(|k| {
                let mut v = Vec::new();
                push_escaped(&mut v, k);
                v
            })
            .collect();
        for (k, e) in keys.iter().zip(&enc) {
            let (back, rest) = take_escaped(e).unwrap();
            assert_eq!(&back, k);
            assert!(rest.is_empty());
        }
        let before = enc.clone();
        enc.sort();
        assert_eq!(before, enc, "escaped order must equal key order");
    }

    #[test]
    fn versions_sort_newest_first() {
        let a = version("bk", "k", 5);
        let b = version("bk", "k", 6);
        assert!(b < a);
        let rest = &b[versions_of_bucket("bk").len()..];
        assert_eq!(parse_version_suffix(rest), Some(("k".to_string(), 6)));
        // A longer key never interleaves with a shorter key's versions.
        let c = version("bk", "k0", 1);
        assert!(c > a && c > b);
    }

    #[test]
    fn prefix_end_is_past_the_prefix() {
        assert_eq!(prefix_end(b"ab"), b"ac".to_vec());
        assert_eq!(prefix_end(b"a\xff"), b"b".to_vec());
    }
}
