//! Identifiers and secrets in AWS's shapes: `AIDA…` user ids, `AROA…` role ids,
//! `ANPA…` policy ids, `AKIA…`/`ASIA…` access key ids, 40-character secrets and session
//! tokens, all from the OS's CSPRNG.

use base64::Engine as _;

/// AWS access key ids use base32-like uppercase letters and digits 2-7.
/// Unique ids (user, role, policy) use uppercase letters and digits; 32 of them so a
/// random byte maps onto the alphabet without bias.
const UPPER_ALNUM_32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ012345";
const KEY_ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const SECRET_ALPHABET: &[u8; 64] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    if getrandom::fill(&mut buf).is_err() {
        // No OS randomness is a broken host; fall back to hashing the time and a
        // process-wide counter rather than panicking. Ids stay unique, secrets weaker.
        use std::hash::{BuildHasher, Hasher};
        static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        for chunk in buf.chunks_mut(8) {
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u64(COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
            h.write_u128(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos())
                    .unwrap_or_default(),
            );
            let v = h.finish().to_le_bytes();
            for (dst, src) in chunk.iter_mut().zip(v.iter()) {
                *dst = *src;
            }
        }
    }
    buf
}

fn from_alphabet<const N: usize>(alphabet: &[u8]) -> String {
    // Each alphabet length divides 256, so `b % len` is unbiased.
    random_bytes::<N>()
        .iter()
        .map(|b| {
            char::from(
                alphabet
                    .get(usize::from(*b) % alphabet.len().max(1))
                    .copied()
                    .unwrap_or(b'A'),
            )
        })
        .collect()
}

/// `AIDA` + 17 characters: an IAM user's unique id.
pub fn user_id() -> String {
    format!("AIDA{}", from_alphabet::<17>(UPPER_ALNUM_32))
}

/// `AROA` + 17 characters: an IAM role's unique id.
pub fn role_id() -> String {
    format!("AROA{}", from_alphabet::<17>(UPPER_ALNUM_32))
}

/// `ANPA` + 17 characters: a managed policy's unique id.
pub fn policy_id() -> String {
    format!("ANPA{}", from_alphabet::<17>(UPPER_ALNUM_32))
}

/// `AKIA` + 16 characters: a long-term access key id.
pub fn access_key_id() -> String {
    format!("AKIA{}", from_alphabet::<16>(KEY_ALPHABET))
}

/// `ASIA` + 16 characters: a temporary access key id.
pub fn temporary_access_key_id() -> String {
    format!("ASIA{}", from_alphabet::<16>(KEY_ALPHABET))
}

/// 40 characters of `[A-Za-z0-9+/]`, as AWS secret access keys look.
pub fn secret_access_key() -> String {
    from_alphabet::<40>(SECRET_ALPHABET)
}

/// A session token: 96 random bytes, base64 (128 characters).
pub fn session_token() -> String {
    base64::engine::general_purpose::STANDARD.encode(random_bytes::<96>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        let u = user_id();
        assert!(u.starts_with("AIDA") && u.len() == 21, "{u}");
        assert!(role_id().starts_with("AROA"));
        assert!(policy_id().starts_with("ANPA"));
        let k = access_key_id();
        assert!(k.starts_with("AKIA") && k.len() == 20, "{k}");
        assert!(k
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()));
        assert!(temporary_access_key_id().starts_with("ASIA"));
        let s = secret_access_key();
        assert_eq!(s.len(), 40);
        assert!(session_token().len() >= 100);
        assert_ne!(secret_access_key(), secret_access_key());
        assert_ne!(access_key_id(), access_key_id());
    }
}
