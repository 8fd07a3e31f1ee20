//! Percent-decoding, shared by SigV4 canonicalisation and the query protocol's form
//! bodies, which differ only in what `+` means.

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Decodes `%XX` escapes. A `%` not followed by two hex digits is kept literally (AWS does
/// the same rather than rejecting the request at this stage). With `plus_as_space` a `+`
/// becomes a space (`application/x-www-form-urlencoded`); otherwise it stays `+` (SigV4
/// clients encode spaces as `%20`).
pub fn decode(input: &[u8], plus_as_space: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while let Some(&c) = input.get(i) {
        if c == b'%' {
            let hi = input.get(i + 1).copied().and_then(hex_val);
            let lo = input.get(i + 2).copied().and_then(hex_val);
            if let (Some(hi), Some(lo)) = (hi, lo) {
                out.push(hi << 4 | lo);
                i += 3;
                continue;
            }
        }
        out.push(if plus_as_space && c == b'+' { b' ' } else { c });
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::decode;

    #[test]
    fn escapes_plus_and_broken_escapes() {
        assert_eq!(decode(b"a%20b+c", false), b"a b+c");
        assert_eq!(decode(b"a%20b+c", true), b"a b c");
        assert_eq!(decode(b"100%", true), b"100%");
        assert_eq!(decode(b"%zz%4", false), b"%zz%4");
        assert_eq!(decode(b"%e2%82%AC", false), "\u{20ac}".as_bytes());
    }
}
