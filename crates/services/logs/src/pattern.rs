//! Filter patterns (FilterLogEvents `filterPattern`), the subset nimbus understands:
//!
//! - terms: `ERROR Exception` (every term), `"quoted phrase"`, `?ERROR ?WARN` (any of the
//!   `?` terms), `-DEBUG` (none of the `-` terms). Matching is case-sensitive substring
//!   matching, as AWS documents for unstructured events.
//! - JSON: `{ $.level = "ERROR" }`, `{ $.latency > 100 }`, `!=`, `<`, `<=`, `>=`, `&&`,
//!   `||`, parentheses, `*` wildcards in string values, `IS TRUE|FALSE|NULL`,
//!   `NOT EXISTS`, selectors like `$.a.b[0].c`. Events that are not JSON never match.
//!
//! Space-delimited patterns (`[ip, user, ...]`) and regular expressions (`%...%`) are
//! refused with InvalidParameterException rather than silently matching everything.

use serde_json::Value;

use crate::error::LogsError;

/// Bounds the parse of a hostile pattern: AWS caps patterns at 1024 characters anyway.
const MAX_PATTERN_BYTES: usize = 1024;
/// Nesting depth of parentheses in a JSON pattern.
const MAX_DEPTH: usize = 32;

#[derive(Debug, Clone, PartialEq)]
pub enum Pattern {
    All,
    Terms {
        all: Vec<String>,
        any: Vec<String>,
        none: Vec<String>,
    },
    Json(Expr),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Cmp(Vec<Step>, Op, Operand),
    Is(Vec<Step>, IsWhat),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    Key(String),
    Index(usize),
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    Str(String),
    Num(f64),
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum IsWhat {
    True,
    False,
    Null,
    NotExists,
}

fn invalid() -> LogsError {
    LogsError::invalid("Invalid filter pattern")
}

pub fn parse(src: &str) -> Result<Pattern, LogsError> {
    if src.len() > MAX_PATTERN_BYTES {
        return Err(LogsError::invalid(
            "1 validation error detected: Value at 'filterPattern' failed to satisfy constraint: Member must have length less than or equal to 1024",
        ));
    }
    let t = src.trim();
    if t.is_empty() || t == "\"\"" {
        return Ok(Pattern::All);
    }
    if t.starts_with('{') {
        let inner = t
            .strip_prefix('{')
            .and_then(|s| s.strip_suffix('}'))
            .ok_or_else(invalid)?;
        let mut p = JsonParser {
            s: inner.as_bytes(),
            i: 0,
            depth: 0,
        };
        let e = p.or()?;
        p.ws();
        if p.i != p.s.len() {
            return Err(invalid());
        }
        return Ok(Pattern::Json(e));
    }
    if t.starts_with('[') || t.starts_with('%') {
        return Err(LogsError::invalid(
            "nimbus supports term and JSON filter patterns; space-delimited and regular-expression patterns are not supported",
        ));
    }
    parse_terms(t)
}

fn parse_terms(t: &str) -> Result<Pattern, LogsError> {
    let (mut all, mut any, mut none) = (Vec::new(), Vec::new(), Vec::new());
    let chars: Vec<char> = t.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars.get(i).copied().unwrap_or(' ');
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let kind = match c {
            '?' => {
                i += 1;
                1
            }
            '-' => {
                i += 1;
                2
            }
            _ => 0,
        };
        let mut term = String::new();
        if chars.get(i) == Some(&'"') {
            i += 1;
            let mut closed = false;
            while let Some(&ch) = chars.get(i) {
                i += 1;
                match ch {
                    '\\' => {
                        if let Some(&next) = chars.get(i) {
                            term.push(next);
                            i += 1;
                        }
                    }
                    '"' => {
                        closed = true;
                        break;
                    }
                    other => term.push(other),
                }
            }
            if !closed {
                return Err(invalid());
            }
        } else {
            while let Some(&ch) = chars.get(i) {
                if ch.is_whitespace() {
                    break;
                }
                term.push(ch);
                i += 1;
            }
        }
        if term.is_empty() {
            continue;
        }
        match kind {
            1 => any.push(term),
            2 => none.push(term),
            _ => all.push(term),
        }
    }
    if all.is_empty() && any.is_empty() && none.is_empty() {
        return Ok(Pattern::All);
    }
    Ok(Pattern::Terms { all, any, none })
}

impl Pattern {
    pub fn matches(&self, message: &str) -> bool {
        match self {
            Pattern::All => true,
            Pattern::Terms { all, any, none } => {
                all.iter().all(|t| message.contains(t.as_str()))
                    && (any.is_empty() || any.iter().any(|t| message.contains(t.as_str())))
                    && !none.iter().any(|t| message.contains(t.as_str()))
            }
            Pattern::Json(e) => match serde_json::from_str::<Value>(message.trim()) {
                Ok(v) => eval(e, &v),
                Err(_) => false,
            },
        }
    }
}

fn select<'a>(v: &'a Value, path: &[Step]) -> Option<&'a Value> {
    let mut cur = v;
    for step in path {
        cur = match step {
            Step::Key(k) => cur.get(k.as_str())?,
            Step::Index(i) => cur.get(*i)?,
        };
    }
    Some(cur)
}

fn wildcard_eq(pattern: &str, text: &str) -> bool {
    if !pattern.contains('*') {
        return pattern == text;
    }
    let parts: Vec<&str> = pattern.split('*').collect();
    let mut rest = text;
    for (n, part) in parts.iter().enumerate() {
        if n == 0 {
            match rest.strip_prefix(part) {
                Some(r) => rest = r,
                None => return false,
            }
        } else if n == parts.len() - 1 {
            return rest.ends_with(part);
        } else if let Some(pos) = rest.find(part) {
            rest = rest.get(pos + part.len()..).unwrap_or("");
        } else {
            return false;
        }
    }
    true
}

fn eval(e: &Expr, v: &Value) -> bool {
    match e {
        Expr::And(a, b) => eval(a, v) && eval(b, v),
        Expr::Or(a, b) => eval(a, v) || eval(b, v),
        Expr::Is(path, what) => {
            let got = select(v, path);
            match what {
                IsWhat::True => got == Some(&Value::Bool(true)),
                IsWhat::False => got == Some(&Value::Bool(false)),
                IsWhat::Null => got == Some(&Value::Null),
                IsWhat::NotExists => got.is_none(),
            }
        }
        Expr::Cmp(path, op, operand) => {
            let Some(got) = select(v, path) else {
                return false;
            };
            match operand {
                Operand::Num(n) => {
                    let Some(x) = got.as_f64() else {
                        return false;
                    };
                    match op {
                        Op::Eq => x == *n,
                        Op::Ne => x != *n,
                        Op::Lt => x < *n,
                        Op::Le => x <= *n,
                        Op::Gt => x > *n,
                        Op::Ge => x >= *n,
                    }
                }
                Operand::Str(s) => {
                    let text = match got {
                        Value::String(t) => t.clone(),
                        Value::Number(n) => n.to_string(),
                        Value::Bool(b) => b.to_string(),
                        _ => return false,
                    };
                    match op {
                        Op::Eq => wildcard_eq(s, &text),
                        Op::Ne => !wildcard_eq(s, &text),
                        // Ordering applies to numbers only.
                        _ => false,
                    }
                }
            }
        }
    }
}

struct JsonParser<'a> {
    s: &'a [u8],
    i: usize,
    depth: usize,
}

impl JsonParser<'_> {
    fn ws(&mut self) {
        while self.s.get(self.i).is_some_and(|c| c.is_ascii_whitespace()) {
            self.i += 1;
        }
    }

    fn eat(&mut self, tok: &str) -> bool {
        self.ws();
        if self.s.get(self.i..self.i + tok.len()) == Some(tok.as_bytes()) {
            self.i += tok.len();
            true
        } else {
            false
        }
    }

    fn eat_word(&mut self, word: &str) -> bool {
        self.ws();
        let end = self.i + word.len();
        match self.s.get(self.i..end) {
            Some(w) if w.eq_ignore_ascii_case(word.as_bytes()) => {
                if self.s.get(end).is_some_and(|c| c.is_ascii_alphanumeric()) {
                    return false;
                }
                self.i = end;
                true
            }
            _ => false,
        }
    }

    fn or(&mut self) -> Result<Expr, LogsError> {
        let mut left = self.and()?;
        while self.eat("||") {
            let right = self.and()?;
            left = Expr::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, LogsError> {
        let mut left = self.unary()?;
        while self.eat("&&") {
            let right = self.unary()?;
            left = Expr::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Expr, LogsError> {
        if self.eat("(") {
            self.depth += 1;
            if self.depth > MAX_DEPTH {
                return Err(invalid());
            }
            let e = self.or()?;
            if !self.eat(")") {
                return Err(invalid());
            }
            self.depth -= 1;
            return Ok(e);
        }
        let path = self.selector()?;
        if self.eat_word("IS") {
            let what = if self.eat_word("TRUE") {
                IsWhat::True
            } else if self.eat_word("FALSE") {
                IsWhat::False
            } else if self.eat_word("NULL") {
                IsWhat::Null
            } else {
                return Err(invalid());
            };
            return Ok(Expr::Is(path, what));
        }
        if self.eat_word("NOT") {
            if self.eat_word("EXISTS") {
                return Ok(Expr::Is(path, IsWhat::NotExists));
            }
            return Err(invalid());
        }
        let op = if self.eat("!=") {
            Op::Ne
        } else if self.eat("<=") {
            Op::Le
        } else if self.eat(">=") {
            Op::Ge
        } else if self.eat("=") {
            Op::Eq
        } else if self.eat("<") {
            Op::Lt
        } else if self.eat(">") {
            Op::Gt
        } else {
            return Err(invalid());
        };
        let operand = self.operand()?;
        if matches!(op, Op::Lt | Op::Le | Op::Gt | Op::Ge) && !matches!(operand, Operand::Num(_)) {
            return Err(invalid());
        }
        Ok(Expr::Cmp(path, op, operand))
    }

    fn selector(&mut self) -> Result<Vec<Step>, LogsError> {
        self.ws();
        if self.s.get(self.i) != Some(&b'$') {
            return Err(invalid());
        }
        self.i += 1;
        let mut path = Vec::new();
        loop {
            match self.s.get(self.i) {
                Some(b'.') => {
                    self.i += 1;
                    let start = self.i;
                    while self.s.get(self.i).is_some_and(|c| {
                        c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'@' | b'$')
                    }) {
                        self.i += 1;
                    }
                    let key = std::str::from_utf8(self.s.get(start..self.i).unwrap_or_default())
                        .map_err(|_| invalid())?;
                    if key.is_empty() {
                        return Err(invalid());
                    }
                    path.push(Step::Key(key.to_string()));
                }
                Some(b'[') => {
                    self.i += 1;
                    let start = self.i;
                    while self.s.get(self.i).is_some_and(u8::is_ascii_digit) {
                        self.i += 1;
                    }
                    let n: usize =
                        std::str::from_utf8(self.s.get(start..self.i).unwrap_or_default())
                            .ok()
                            .and_then(|d| d.parse().ok())
                            .ok_or_else(invalid)?;
                    if self.s.get(self.i) != Some(&b']') {
                        return Err(invalid());
                    }
                    self.i += 1;
                    path.push(Step::Index(n));
                }
                _ => break,
            }
        }
        if path.is_empty() {
            return Err(invalid());
        }
        Ok(path)
    }

    fn operand(&mut self) -> Result<Operand, LogsError> {
        self.ws();
        if self.s.get(self.i) == Some(&b'"') {
            self.i += 1;
            let mut out = Vec::new();
            loop {
                match self.s.get(self.i) {
                    None => return Err(invalid()),
                    Some(b'\\') => {
                        if let Some(&c) = self.s.get(self.i + 1) {
                            out.push(c);
                        }
                        self.i += 2;
                    }
                    Some(b'"') => {
                        self.i += 1;
                        break;
                    }
                    Some(&c) => {
                        out.push(c);
                        self.i += 1;
                    }
                }
            }
            return String::from_utf8(out)
                .map(Operand::Str)
                .map_err(|_| invalid());
        }
        let start = self.i;
        while self
            .s
            .get(self.i)
            .is_some_and(|c| !c.is_ascii_whitespace() && !matches!(c, b')' | b'&' | b'|'))
        {
            self.i += 1;
        }
        let raw = std::str::from_utf8(self.s.get(start..self.i).unwrap_or_default())
            .map_err(|_| invalid())?;
        if raw.is_empty() {
            return Err(invalid());
        }
        match raw.parse::<f64>() {
            Ok(n) if n.is_finite() => Ok(Operand::Num(n)),
            _ => Ok(Operand::Str(raw.to_string())),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn m(p: &str, msg: &str) -> bool {
        parse(p).unwrap().matches(msg)
    }

    #[test]
    fn terms() {
        assert!(m("", "anything"));
        assert!(m("ERROR", "an ERROR here"));
        assert!(!m("ERROR", "an error here"));
        assert!(m("ERROR Exception", "ERROR: NullPointerException"));
        assert!(!m("ERROR Exception", "ERROR: nothing"));
        assert!(m("\"disk full\"", "WARN disk full on /"));
        assert!(!m("\"disk full\"", "disk is full"));
        assert!(m("?ERROR ?WARN", "WARN low"));
        assert!(!m("?ERROR ?WARN", "INFO fine"));
        assert!(m("ERROR -timeout", "ERROR crash"));
        assert!(!m("ERROR -timeout", "ERROR timeout"));
    }

    #[test]
    fn json() {
        let msg = r#"{"level":"ERROR","latency":250,"user":{"id":"u-1","tags":["a","b"]},"ok":false,"x":null}"#;
        assert!(m(r#"{ $.level = "ERROR" }"#, msg));
        assert!(m("{ $.level = ERR* }", msg));
        assert!(!m(r#"{ $.level = "INFO" }"#, msg));
        assert!(m("{ $.latency > 100 }", msg));
        assert!(!m("{ $.latency < 100 }", msg));
        assert!(m(r#"{ $.user.id = "u-1" && $.latency >= 250 }"#, msg));
        assert!(m(r#"{ ($.level = "INFO") || $.user.tags[1] = "b" }"#, msg));
        assert!(m("{ $.ok IS FALSE }", msg));
        assert!(m("{ $.x IS NULL }", msg));
        assert!(m("{ $.missing NOT EXISTS }", msg));
        assert!(m(r#"{ $.level != "INFO" }"#, msg));
        assert!(!m(r#"{ $.level = "ERROR" }"#, "plain text"));
    }

    #[test]
    fn bad_patterns_are_refused() {
        assert!(parse("{ $.a = }").is_err());
        assert!(parse("{ level = 1 }").is_err());
        assert!(parse("{ $.a > \"x\" }").is_err());
        assert!(parse("\"unclosed").is_err());
        assert!(parse("[ip, user]").is_err());
        let deep = format!("{{ {}$.a = 1{} }}", "(".repeat(100), ")".repeat(100));
        assert!(parse(&deep).is_err());
    }
}
