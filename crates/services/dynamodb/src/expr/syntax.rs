//! Tokens and the raw syntax tree of DynamoDB expressions, and the parser that builds it.
//!
//! Hand-written recursive descent: the grammar is small, and AWS's error texts depend on
//! exact token positions ("Syntax error; token: \"x\", near: \"a x b\"": the offending
//! token, and the source from the token before it to the token after it), which a
//! generated parser would make hard to reproduce. The raw tree borrows names from the
//! source text; placeholders are resolved by `check`.
//!
//! Where a `(` could open either a parenthesised condition or a parenthesised operand,
//! the parser tries the condition first, then the comparison, and reports the syntax
//! error of the attempt that read furthest, as AWS's parser does.

/// Deepest nesting of parentheses/NOT the parser follows. Bounds recursion (and stack
/// use) for hostile input; a 4 KB expression can otherwise nest ~2000 levels.
const MAX_NESTING: usize = 128;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tok {
    /// A name starting with a letter.
    Id,
    /// `#name`
    Name,
    /// `:value`
    Value,
    /// A list index literal.
    Int,
    And,
    Or,
    Not,
    Between,
    In,
    Set,
    Remove,
    Add,
    Delete,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    Dot,
    Plus,
    Minus,
    /// Any character the grammar does not use.
    Bad,
    Eof,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Token {
    pub kind: Tok,
    pub start: usize,
    pub end: usize,
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

fn keyword(word: &str) -> Option<Tok> {
    const KEYWORDS: [(&str, Tok); 9] = [
        ("AND", Tok::And),
        ("OR", Tok::Or),
        ("NOT", Tok::Not),
        ("BETWEEN", Tok::Between),
        ("IN", Tok::In),
        ("SET", Tok::Set),
        ("REMOVE", Tok::Remove),
        ("ADD", Tok::Add),
        ("DELETE", Tok::Delete),
    ];
    KEYWORDS
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(word))
        .map(|(_, t)| *t)
}

/// Splits an expression into tokens, ending with `Eof`.
pub(crate) fn tokenize(src: &str) -> Vec<Token> {
    let bytes = src.as_bytes();
    let mut toks = Vec::with_capacity(src.len() / 2 + 1);
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if matches!(c, b' ' | b'\t' | b'\n' | b'\r') {
            i += 1;
            continue;
        }
        let start = i;
        let kind = if c.is_ascii_alphabetic() {
            while i < bytes.len() && is_word_byte(bytes[i]) {
                i += 1;
            }
            keyword(&src[start..i]).unwrap_or(Tok::Id)
        } else if c == b'#' || c == b':' {
            i += 1;
            while i < bytes.len() && is_word_byte(bytes[i]) {
                i += 1;
            }
            if i == start + 1 {
                Tok::Bad
            } else if c == b'#' {
                Tok::Name
            } else {
                Tok::Value
            }
        } else if c.is_ascii_digit() {
            i += 1;
            // "0" stands alone; "01" is two tokens.
            if c != b'0' {
                while i < bytes.len() && bytes[i].is_ascii_digit() {
                    i += 1;
                }
            }
            Tok::Int
        } else {
            let next = bytes.get(i + 1).copied();
            let (kind, len) = match (c, next) {
                (b'<', Some(b'>')) => (Tok::Ne, 2),
                (b'<', Some(b'=')) => (Tok::Le, 2),
                (b'>', Some(b'=')) => (Tok::Ge, 2),
                (b'=', _) => (Tok::Eq, 1),
                (b'<', _) => (Tok::Lt, 1),
                (b'>', _) => (Tok::Gt, 1),
                (b'(', _) => (Tok::LParen, 1),
                (b')', _) => (Tok::RParen, 1),
                (b'[', _) => (Tok::LBracket, 1),
                (b']', _) => (Tok::RBracket, 1),
                (b',', _) => (Tok::Comma, 1),
                (b'.', _) => (Tok::Dot, 1),
                (b'+', _) => (Tok::Plus, 1),
                (b'-', _) => (Tok::Minus, 1),
                // One whole character, even when it is several UTF-8 bytes.
                _ => (Tok::Bad, src[i..].chars().next().map_or(1, char::len_utf8)),
            };
            i += len;
            kind
        };
        toks.push(Token {
            kind,
            start,
            end: i,
        });
    }
    toks.push(Token {
        kind: Tok::Eof,
        start: src.len(),
        end: src.len(),
    });
    toks
}

/// A parse failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ParseError {
    /// Index of the offending token.
    Syntax(usize),
    RedundantParens,
}

impl ParseError {
    /// AWS's message (without the "Invalid XExpression: " prefix).
    pub(crate) fn message(&self, src: &str, toks: &[Token]) -> String {
        match self {
            ParseError::RedundantParens => "The expression has redundant parentheses;".into(),
            ParseError::Syntax(at) => {
                let at = (*at).min(toks.len().saturating_sub(1));
                let Some(tok) = toks.get(at) else {
                    return "Syntax error; token: \"<EOF>\", near: \"\"".into();
                };
                let text = if tok.kind == Tok::Eof {
                    "<EOF>"
                } else {
                    src.get(tok.start..tok.end).unwrap_or("")
                };
                let from = if at > 0 {
                    toks.get(at - 1).map_or(0, |t| t.start)
                } else {
                    0
                };
                let to = toks.get(at + 1).map_or(tok.end, |t| t.end);
                let near = src.get(from..to).unwrap_or("");
                format!("Syntax error; token: \"{text}\", near: \"{near}\"")
            }
        }
    }
}

/// One step of a raw document path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RawPart<'a> {
    /// A name written as is.
    Name(&'a str),
    /// `#placeholder`
    Placeholder(&'a str),
    /// `[digits]`, unchecked.
    Index(&'a str),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RawPath<'a> {
    pub parts: Vec<RawPart<'a>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RawCall<'a> {
    pub name: &'a str,
    pub args: Vec<RawOperand<'a>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RawOperand<'a> {
    Path(RawPath<'a>),
    /// `:placeholder`
    Value(&'a str),
    Call(RawCall<'a>),
    Paren(Box<RawOperand<'a>>),
    /// `a + b` / `a - b` (SET values only).
    Arith {
        plus: bool,
        a: Box<RawOperand<'a>>,
        b: Box<RawOperand<'a>>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl CmpOp {
    pub fn as_str(self) -> &'static str {
        match self {
            CmpOp::Eq => "=",
            CmpOp::Ne => "<>",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        }
    }

    /// The operator with its operands swapped (`a < b` is `b > a`).
    pub fn flipped(self) -> CmpOp {
        match self {
            CmpOp::Lt => CmpOp::Gt,
            CmpOp::Le => CmpOp::Ge,
            CmpOp::Gt => CmpOp::Lt,
            CmpOp::Ge => CmpOp::Le,
            other => other,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RawCond<'a> {
    Or(Box<RawCond<'a>>, Box<RawCond<'a>>),
    And(Box<RawCond<'a>>, Box<RawCond<'a>>),
    Not(Box<RawCond<'a>>),
    Paren(Box<RawCond<'a>>),
    Cmp(CmpOp, RawOperand<'a>, RawOperand<'a>),
    Between(RawOperand<'a>, RawOperand<'a>, RawOperand<'a>),
    In(RawOperand<'a>, Vec<RawOperand<'a>>),
    /// A function used as a condition (`begins_with(a, :v)`).
    Call(RawCall<'a>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SectionKind {
    Set,
    Remove,
    Add,
    Delete,
}

impl SectionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SectionKind::Set => "SET",
            SectionKind::Remove => "REMOVE",
            SectionKind::Add => "ADD",
            SectionKind::Delete => "DELETE",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RawAction<'a> {
    pub path: RawPath<'a>,
    /// SET: the value; ADD/DELETE: the `:value`; REMOVE: none.
    pub value: Option<RawOperand<'a>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RawClause<'a> {
    pub kind: SectionKind,
    pub actions: Vec<RawAction<'a>>,
}

struct Parser<'a, 't> {
    src: &'a str,
    toks: &'t [Token],
    pos: usize,
    depth: usize,
}

type PResult<T> = Result<T, ParseError>;

impl<'a> Parser<'a, '_> {
    fn peek(&self) -> Tok {
        self.peek_at(0)
    }

    fn peek_at(&self, k: usize) -> Tok {
        let i = (self.pos + k).min(self.toks.len().saturating_sub(1));
        self.toks.get(i).map_or(Tok::Eof, |t| t.kind)
    }

    fn text(&self, i: usize) -> &'a str {
        self.toks
            .get(i)
            .and_then(|t| self.src.get(t.start..t.end))
            .unwrap_or("")
    }

    fn fail<T>(&self) -> PResult<T> {
        Err(ParseError::Syntax(self.pos))
    }

    fn bump(&mut self) -> usize {
        let i = self.pos;
        if self.pos < self.toks.len().saturating_sub(1) {
            self.pos += 1;
        }
        i
    }

    fn expect(&mut self, kind: Tok) -> PResult<usize> {
        if self.peek() != kind {
            return self.fail();
        }
        Ok(self.bump())
    }

    fn end(&self) -> PResult<()> {
        if self.peek() != Tok::Eof {
            return self.fail();
        }
        Ok(())
    }

    fn enter(&mut self) -> PResult<()> {
        if self.depth >= MAX_NESTING {
            return self.fail();
        }
        self.depth += 1;
        Ok(())
    }

    fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    // ---- conditions ----

    fn condition(&mut self) -> PResult<RawCond<'a>> {
        let mut left = self.and_cond()?;
        while self.peek() == Tok::Or {
            self.bump();
            let right = self.and_cond()?;
            left = RawCond::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and_cond(&mut self) -> PResult<RawCond<'a>> {
        let mut left = self.not_cond()?;
        while self.peek() == Tok::And {
            self.bump();
            let right = self.not_cond()?;
            left = RawCond::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn not_cond(&mut self) -> PResult<RawCond<'a>> {
        if self.peek() == Tok::Not {
            self.bump();
            self.enter()?;
            let inner = self.not_cond();
            self.leave();
            return Ok(RawCond::Not(Box::new(inner?)));
        }
        self.primary()
    }

    fn primary(&mut self) -> PResult<RawCond<'a>> {
        if self.peek() != Tok::LParen {
            return self.comparison();
        }
        self.enter()?;
        let start = self.pos;
        let first = (|| {
            self.bump();
            let inner = self.condition()?;
            self.expect(Tok::RParen)?;
            if matches!(inner, RawCond::Paren(_)) {
                return Err(ParseError::RedundantParens);
            }
            Ok(RawCond::Paren(Box::new(inner)))
        })();
        let result = match first {
            Ok(c) => Ok(c),
            Err(ParseError::RedundantParens) => Err(ParseError::RedundantParens),
            Err(ParseError::Syntax(far1)) => {
                self.pos = start;
                match self.comparison() {
                    Ok(c) => Ok(c),
                    Err(ParseError::Syntax(far2)) => {
                        self.pos = start;
                        Err(ParseError::Syntax(far1.max(far2)))
                    }
                    Err(e) => Err(e),
                }
            }
        };
        self.leave();
        result
    }

    fn comparison(&mut self) -> PResult<RawCond<'a>> {
        let a = self.operand()?;
        let op = match self.peek() {
            Tok::Eq => Some(CmpOp::Eq),
            Tok::Ne => Some(CmpOp::Ne),
            Tok::Lt => Some(CmpOp::Lt),
            Tok::Le => Some(CmpOp::Le),
            Tok::Gt => Some(CmpOp::Gt),
            Tok::Ge => Some(CmpOp::Ge),
            _ => None,
        };
        if let Some(op) = op {
            self.bump();
            let b = self.operand()?;
            return Ok(RawCond::Cmp(op, a, b));
        }
        match self.peek() {
            Tok::Between => {
                self.bump();
                let lo = self.operand()?;
                self.expect(Tok::And)?;
                let hi = self.operand()?;
                Ok(RawCond::Between(a, lo, hi))
            }
            Tok::In => {
                self.bump();
                self.expect(Tok::LParen)?;
                let mut list = vec![self.operand()?];
                while self.peek() == Tok::Comma {
                    self.bump();
                    list.push(self.operand()?);
                }
                self.expect(Tok::RParen)?;
                Ok(RawCond::In(a, list))
            }
            _ => match a {
                RawOperand::Call(call) => Ok(RawCond::Call(call)),
                _ => self.fail(),
            },
        }
    }

    fn operand(&mut self) -> PResult<RawOperand<'a>> {
        match self.peek() {
            Tok::Value => {
                let i = self.bump();
                Ok(RawOperand::Value(self.text(i)))
            }
            Tok::LParen => {
                self.enter()?;
                self.bump();
                let inner = self.operand();
                let inner = inner.and_then(|inner| {
                    self.expect(Tok::RParen)?;
                    Ok(inner)
                });
                self.leave();
                let inner = inner?;
                if matches!(inner, RawOperand::Paren(_)) {
                    return Err(ParseError::RedundantParens);
                }
                Ok(RawOperand::Paren(Box::new(inner)))
            }
            Tok::Id if self.peek_at(1) == Tok::LParen => self.call().map(RawOperand::Call),
            Tok::Id | Tok::Name => self.path().map(RawOperand::Path),
            _ => self.fail(),
        }
    }

    fn call(&mut self) -> PResult<RawCall<'a>> {
        let name_tok = self.bump();
        self.expect(Tok::LParen)?;
        self.enter()?;
        let args = (|| {
            let mut args = vec![self.operand()?];
            while self.peek() == Tok::Comma {
                self.bump();
                args.push(self.operand()?);
            }
            self.expect(Tok::RParen)?;
            Ok(args)
        })();
        self.leave();
        Ok(RawCall {
            name: self.text(name_tok),
            args: args?,
        })
    }

    fn path(&mut self) -> PResult<RawPath<'a>> {
        let first = self.peek();
        if first != Tok::Id && first != Tok::Name {
            return self.fail();
        }
        let i = self.bump();
        let mut parts = Vec::with_capacity(2);
        parts.push(if first == Tok::Id {
            RawPart::Name(self.text(i))
        } else {
            RawPart::Placeholder(self.text(i))
        });
        loop {
            match self.peek() {
                Tok::Dot => {
                    self.bump();
                    match self.peek() {
                        Tok::Id => {
                            let i = self.bump();
                            parts.push(RawPart::Name(self.text(i)));
                        }
                        Tok::Name => {
                            let i = self.bump();
                            parts.push(RawPart::Placeholder(self.text(i)));
                        }
                        _ => return self.fail(),
                    }
                }
                Tok::LBracket => {
                    self.bump();
                    let i = self.expect(Tok::Int)?;
                    self.expect(Tok::RBracket)?;
                    parts.push(RawPart::Index(self.text(i)));
                }
                _ => break,
            }
        }
        Ok(RawPath { parts })
    }

    // ---- updates ----

    fn update(&mut self) -> PResult<Vec<RawClause<'a>>> {
        let mut clauses = Vec::new();
        loop {
            let kind = match self.peek() {
                Tok::Set => SectionKind::Set,
                Tok::Remove => SectionKind::Remove,
                Tok::Add => SectionKind::Add,
                Tok::Delete => SectionKind::Delete,
                _ => return self.fail(),
            };
            self.bump();
            let mut actions = vec![self.action(kind)?];
            while self.peek() == Tok::Comma {
                self.bump();
                actions.push(self.action(kind)?);
            }
            clauses.push(RawClause { kind, actions });
            if self.peek() == Tok::Eof {
                return Ok(clauses);
            }
        }
    }

    fn action(&mut self, kind: SectionKind) -> PResult<RawAction<'a>> {
        let path = self.path()?;
        match kind {
            SectionKind::Remove => Ok(RawAction { path, value: None }),
            SectionKind::Add | SectionKind::Delete => {
                let i = self.expect(Tok::Value)?;
                Ok(RawAction {
                    path,
                    value: Some(RawOperand::Value(self.text(i))),
                })
            }
            SectionKind::Set => {
                self.expect(Tok::Eq)?;
                let a = self.operand()?;
                let plus = match self.peek() {
                    Tok::Plus => true,
                    Tok::Minus => false,
                    _ => {
                        return Ok(RawAction {
                            path,
                            value: Some(a),
                        })
                    }
                };
                self.bump();
                let b = self.operand()?;
                Ok(RawAction {
                    path,
                    value: Some(RawOperand::Arith {
                        plus,
                        a: Box::new(a),
                        b: Box::new(b),
                    }),
                })
            }
        }
    }

    // ---- projections ----

    fn projection(&mut self) -> PResult<Vec<RawPath<'a>>> {
        let mut paths = vec![self.path()?];
        while self.peek() == Tok::Comma {
            self.bump();
            paths.push(self.path()?);
        }
        Ok(paths)
    }
}

/// Parses a condition (ConditionExpression, FilterExpression, KeyConditionExpression).
pub(crate) fn parse_condition<'a>(src: &'a str, toks: &[Token]) -> PResult<RawCond<'a>> {
    let mut p = Parser {
        src,
        toks,
        pos: 0,
        depth: 0,
    };
    let c = p.condition()?;
    p.end()?;
    Ok(c)
}

/// Parses an UpdateExpression into its clauses, in order.
pub(crate) fn parse_update<'a>(src: &'a str, toks: &[Token]) -> PResult<Vec<RawClause<'a>>> {
    let mut p = Parser {
        src,
        toks,
        pos: 0,
        depth: 0,
    };
    let u = p.update()?;
    p.end()?;
    Ok(u)
}

/// Parses a ProjectionExpression.
pub(crate) fn parse_projection<'a>(src: &'a str, toks: &[Token]) -> PResult<Vec<RawPath<'a>>> {
    let mut p = Parser {
        src,
        toks,
        pos: 0,
        depth: 0,
    };
    let paths = p.projection()?;
    p.end()?;
    Ok(paths)
}
