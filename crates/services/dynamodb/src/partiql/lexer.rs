//! Tokens of a PartiQL statement. Comments (`--` to the end of the line, `/* */`) are
//! skipped; anything the lexer cannot read is a syntax error with nothing after the
//! colon, as DynamoDB reports it.

use super::malformed;
use crate::error::DynamoDbError;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    /// A bare identifier or keyword, as written.
    Ident(String),
    /// A double-quoted identifier.
    Quoted(String),
    /// A single-quoted string literal.
    Str(String),
    Num(String),
    Param,
    LParen,
    RParen,
    LBracket,
    RBracket,
    LBrace,
    RBrace,
    BagOpen,
    BagClose,
    Comma,
    Dot,
    Colon,
    Star,
    Semi,
    Plus,
    Minus,
    Slash,
    Percent,
    Concat,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Tok {
    /// Whether this is the bare keyword `kw` (case-insensitive).
    pub(crate) fn is_kw(&self, kw: &str) -> bool {
        matches!(self, Tok::Ident(s) if s.eq_ignore_ascii_case(kw))
    }

    /// Whether this is an operator token (for "Unexpected operator").
    pub(crate) fn is_operator(&self) -> bool {
        matches!(
            self,
            Tok::Eq
                | Tok::Ne
                | Tok::Lt
                | Tok::Le
                | Tok::Gt
                | Tok::Ge
                | Tok::Plus
                | Tok::Slash
                | Tok::Percent
                | Tok::Concat
        ) || RESERVED_OPERATORS.iter().any(|k| self.is_kw(k))
    }
}

/// Keywords that are operators in PartiQL.
const RESERVED_OPERATORS: &[&str] = &["IS", "LIKE", "AND", "OR", "IN", "BETWEEN"];

/// Keywords that may not be used as bare identifiers.
pub(crate) const RESERVED: &[&str] = &[
    "SELECT",
    "FROM",
    "WHERE",
    "AND",
    "OR",
    "NOT",
    "IN",
    "BETWEEN",
    "IS",
    "LIKE",
    "MISSING",
    "NULL",
    "TRUE",
    "FALSE",
    "INSERT",
    "INTO",
    "VALUE",
    "VALUES",
    "UPDATE",
    "SET",
    "REMOVE",
    "DELETE",
    "RETURNING",
    "ORDER",
    "BY",
    "ASC",
    "DESC",
    "EXISTS",
    "LIMIT",
    "AS",
    "GROUP",
    "HAVING",
    "OFFSET",
    "JOIN",
    "UNION",
    "CASE",
    "WHEN",
    "THEN",
    "ELSE",
    "END",
    "CAST",
    "AT",
    "PIVOT",
    "UNPIVOT",
];

pub(crate) fn is_reserved(word: &str) -> bool {
    RESERVED.iter().any(|k| word.eq_ignore_ascii_case(k))
}

/// Splits `text` into tokens.
pub(crate) fn lex(text: &str) -> Result<Vec<Tok>, DynamoDbError> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0usize;
    while let Some(&c) = b.get(i) {
        match c {
            b' ' | b'\t' | b'\r' | b'\n' => i += 1,
            b'-' if b.get(i + 1) == Some(&b'-') => {
                while b.get(i).is_some_and(|&c| c != b'\n') {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                let Some(end) = text.get(i + 2..).and_then(|rest| rest.find("*/")) else {
                    return Err(malformed(""));
                };
                i += 2 + end + 2;
            }
            b'\'' | b'"' => {
                let (s, next) = quoted(text, i, c)?;
                out.push(if c == b'\'' {
                    Tok::Str(s)
                } else {
                    Tok::Quoted(s)
                });
                i = next;
            }
            b'0'..=b'9' => {
                let start = i;
                while b.get(i).is_some_and(u8::is_ascii_digit) {
                    i += 1;
                }
                if b.get(i) == Some(&b'.') && b.get(i + 1).is_some_and(u8::is_ascii_digit) {
                    i += 1;
                    while b.get(i).is_some_and(u8::is_ascii_digit) {
                        i += 1;
                    }
                }
                if matches!(b.get(i), Some(b'e' | b'E')) {
                    let mut j = i + 1;
                    if matches!(b.get(j), Some(b'+' | b'-')) {
                        j += 1;
                    }
                    if b.get(j).is_some_and(u8::is_ascii_digit) {
                        while b.get(j).is_some_and(u8::is_ascii_digit) {
                            j += 1;
                        }
                        i = j;
                    }
                }
                out.push(Tok::Num(text.get(start..i).unwrap_or_default().to_string()));
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let start = i;
                while b
                    .get(i)
                    .is_some_and(|&c| c.is_ascii_alphanumeric() || c == b'_' || c == b'$')
                {
                    i += 1;
                }
                out.push(Tok::Ident(
                    text.get(start..i).unwrap_or_default().to_string(),
                ));
            }
            _ => {
                let two = b.get(i + 1).copied();
                let (tok, len) = match (c, two) {
                    (b'<', Some(b'<')) => (Tok::BagOpen, 2),
                    (b'>', Some(b'>')) => (Tok::BagClose, 2),
                    (b'<', Some(b'>')) | (b'!', Some(b'=')) => (Tok::Ne, 2),
                    (b'<', Some(b'=')) => (Tok::Le, 2),
                    (b'>', Some(b'=')) => (Tok::Ge, 2),
                    (b'|', Some(b'|')) => (Tok::Concat, 2),
                    (b'<', _) => (Tok::Lt, 1),
                    (b'>', _) => (Tok::Gt, 1),
                    (b'=', _) => (Tok::Eq, 1),
                    (b'(', _) => (Tok::LParen, 1),
                    (b')', _) => (Tok::RParen, 1),
                    (b'[', _) => (Tok::LBracket, 1),
                    (b']', _) => (Tok::RBracket, 1),
                    (b'{', _) => (Tok::LBrace, 1),
                    (b'}', _) => (Tok::RBrace, 1),
                    (b',', _) => (Tok::Comma, 1),
                    (b'.', _) => (Tok::Dot, 1),
                    (b':', _) => (Tok::Colon, 1),
                    (b'*', _) => (Tok::Star, 1),
                    (b';', _) => (Tok::Semi, 1),
                    (b'+', _) => (Tok::Plus, 1),
                    (b'-', _) => (Tok::Minus, 1),
                    (b'/', _) => (Tok::Slash, 1),
                    (b'%', _) => (Tok::Percent, 1),
                    (b'?', _) => (Tok::Param, 1),
                    _ => return Err(malformed("")),
                };
                out.push(tok);
                i += len;
            }
        }
    }
    Ok(out)
}

/// A quoted string or identifier starting at `start`; a doubled quote is one quote.
/// Returns the text and the index after the closing quote.
fn quoted(text: &str, start: usize, q: u8) -> Result<(String, usize), DynamoDbError> {
    let b = text.as_bytes();
    let mut i = start + 1;
    let mut out = String::new();
    let mut run_start = i;
    loop {
        match b.get(i) {
            None => return Err(malformed("")),
            Some(&c) if c == q => {
                out.push_str(text.get(run_start..i).unwrap_or_default());
                if b.get(i + 1) == Some(&q) {
                    out.push(q as char);
                    i += 2;
                    run_start = i;
                } else {
                    return Ok((out, i + 1));
                }
            }
            Some(_) => i += 1,
        }
    }
}
