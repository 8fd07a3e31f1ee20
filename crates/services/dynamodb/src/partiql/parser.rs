//! Recursive-descent parser for DynamoDB's PartiQL statements.
//!
//! Grammar (keywords case-insensitive):
//! ```text
//! statement := (select | insert | update | delete | EXISTS '(' select ')') [';']
//! select    := SELECT ('*' | path (',' path)*) FROM name ['.' name]
//!              [WHERE expr] [ORDER BY path [ASC|DESC] (',' ...)*]
//! insert    := INSERT INTO name VALUE expr
//! update    := UPDATE name (SET path '=' expr (',' ...)* | REMOVE path (',' ...)*)+
//!              [WHERE expr] [RETURNING (ALL|MODIFIED) (OLD|NEW) '*']
//! delete    := DELETE FROM name [WHERE expr] [RETURNING ...]
//! expr      := or;  or := and (OR and)*;  and := not (AND not)*;  not := NOT not | pred
//! pred      := sum [(=|<>|!=|<|<=|>|>=) sum | [NOT] BETWEEN sum AND sum
//!              | [NOT] IN (list | '(' expr, ... ')') | IS [NOT] type]
//! sum       := unary (('+'|'-') unary)*;  unary := '-' unary | primary
//! primary   := literal | '?' | path | name '(' args ')' | '(' expr ')' | list | struct
//!              | bag | EXISTS '(' select ')'
//! ```

use super::ast::*;
use super::lexer::{is_reserved, lex, Tok};
use super::malformed;
use crate::error::DynamoDbError;
use crate::expr::CmpOp;

/// AWS's limit on the statement text (the wire model also enforces it).
pub const MAX_STATEMENT_BYTES: usize = 8192;
/// Deepest nesting of expressions and literals the parser follows.
pub const MAX_NESTING_DEPTH: usize = 64;

const LEFTOVER: &str = "Unexpected token after expression";

/// Parses one statement.
pub fn parse(text: &str) -> Result<Statement, DynamoDbError> {
    if text.len() > MAX_STATEMENT_BYTES {
        return Err(DynamoDbError::validation(
            "1 validation error detected: Value at 'statement' failed to satisfy constraint: Member must have length less than or equal to 8192",
        ));
    }
    let toks = lex(text)?;
    let mut p = Parser {
        toks,
        pos: 0,
        depth: 0,
        params: 0,
    };
    let stmt = p.statement()?;
    if p.peek() == Some(&Tok::Semi) {
        p.pos += 1;
    }
    if p.peek().is_some() {
        return Err(malformed(LEFTOVER));
    }
    Ok(stmt)
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
    depth: usize,
    params: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn peek_at(&self, n: usize) -> Option<&Tok> {
        self.toks.get(self.pos + n)
    }

    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).cloned();
        if t.is_some() {
            self.pos += 1;
        }
        t
    }

    fn at_kw(&self, kw: &str) -> bool {
        self.peek().is_some_and(|t| t.is_kw(kw))
    }

    fn eat_kw(&mut self, kw: &str) -> bool {
        if self.at_kw(kw) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn eat(&mut self, t: &Tok) -> bool {
        if self.peek() == Some(t) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect_kw(&mut self, kw: &str) -> Result<(), DynamoDbError> {
        if self.eat_kw(kw) {
            Ok(())
        } else {
            Err(self.unexpected())
        }
    }

    fn expect(&mut self, t: &Tok, detail: &str) -> Result<(), DynamoDbError> {
        if self.eat(t) {
            Ok(())
        } else {
            Err(malformed(detail))
        }
    }

    /// The error for a token that cannot start what was expected.
    fn unexpected(&self) -> DynamoDbError {
        match self.peek() {
            None | Some(Tok::Semi) => malformed("Unexpected term"),
            Some(t) if t.is_operator() => malformed("Unexpected operator"),
            Some(Tok::Ident(s)) if is_reserved(s) => malformed("Unexpected keyword"),
            Some(_) => malformed("Unexpected token"),
        }
    }

    fn enter(&mut self) -> Result<(), DynamoDbError> {
        self.depth += 1;
        if self.depth > MAX_NESTING_DEPTH {
            return Err(malformed("Expression nesting is too deep"));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    fn statement(&mut self) -> Result<Statement, DynamoDbError> {
        match self.peek() {
            Some(t) if t.is_kw("SELECT") => Ok(Statement::Select(self.select()?)),
            Some(t) if t.is_kw("INSERT") => self.insert(),
            Some(t) if t.is_kw("UPDATE") => self.update(),
            Some(t) if t.is_kw("DELETE") => self.delete(),
            Some(t) if t.is_kw("EXISTS") => {
                self.pos += 1;
                self.expect(&Tok::LParen, "Expected left parenthesis")?;
                let s = self.select()?;
                self.expect(&Tok::RParen, "Expected right parenthesis")?;
                Ok(Statement::Exists(s))
            }
            Some(t) if t.is_kw("UPSERT") || t.is_kw("REPLACE") => {
                Err(malformed("Unsupported operation"))
            }
            None | Some(Tok::Semi) => Err(malformed("Unexpected term")),
            _ => Err(malformed("Expected data manipulation")),
        }
    }

    /// A table (or index) name: a quoted identifier or a bare non-reserved one.
    fn name(&mut self) -> Result<String, DynamoDbError> {
        match self.peek() {
            Some(Tok::Quoted(s)) => {
                let s = s.clone();
                self.pos += 1;
                Ok(s)
            }
            Some(Tok::Ident(s)) if !is_reserved(s) => {
                let s = s.clone();
                self.pos += 1;
                Ok(s)
            }
            _ => Err(malformed("Expected identifier for simple path")),
        }
    }

    /// Refuses an alias after a table name (`FROM "t" x`, `FROM "t" AS x`).
    fn no_alias(&self) -> Result<(), DynamoDbError> {
        match self.peek() {
            Some(Tok::Quoted(_)) => Err(DynamoDbError::validation("Aliasing is not supported")),
            Some(Tok::Ident(s)) if s.eq_ignore_ascii_case("AS") || !is_reserved(s) => {
                Err(DynamoDbError::validation("Aliasing is not supported"))
            }
            _ => Ok(()),
        }
    }

    fn select(&mut self) -> Result<Select, DynamoDbError> {
        self.expect_kw("SELECT")?;
        let projection = if self.eat(&Tok::Star) {
            if self.eat(&Tok::Comma) {
                return Err(DynamoDbError::validation(
                    "Other attributes should not be present in the projection when '*' is used.",
                ));
            }
            Projection::Star
        } else {
            let mut paths = Vec::new();
            loop {
                if self.eat(&Tok::Star) {
                    return Err(DynamoDbError::validation(
                        "Other attributes should not be present in the projection when '*' is used.",
                    ));
                }
                let e = self.expr()?;
                let Expr::Path(p) = e else {
                    return Err(DynamoDbError::validation(
                        "Unsupported operation: Projection of expressions other than attribute paths",
                    ));
                };
                if self.at_kw("AS") {
                    return Err(DynamoDbError::validation("Aliasing is not supported"));
                }
                paths.push(p);
                if !self.eat(&Tok::Comma) {
                    break;
                }
            }
            Projection::Paths(paths)
        };
        self.expect_kw("FROM")?;
        if matches!(self.peek(), None | Some(Tok::Semi)) {
            return Err(malformed("Unexpected term"));
        }
        let table = self.name()?;
        let index = if self.eat(&Tok::Dot) {
            Some(self.name()?)
        } else {
            None
        };
        if self.eat(&Tok::Dot) {
            return Err(DynamoDbError::validation(
                "A path may contain at most 2 components in the FROM clause",
            ));
        }
        self.no_alias()?;
        let where_ = self.where_clause()?;
        let mut order_by = Vec::new();
        if self.eat_kw("ORDER") {
            self.expect_kw("BY")?;
            loop {
                let path = self.path_only()?;
                let descending = if self.eat_kw("DESC") {
                    true
                } else {
                    self.eat_kw("ASC");
                    false
                };
                order_by.push(OrderBy { path, descending });
                if !self.eat(&Tok::Comma) {
                    break;
                }
            }
        }
        for clause in ["LIMIT", "OFFSET", "GROUP", "HAVING"] {
            if self.at_kw(clause) {
                return Err(DynamoDbError::Validation(format!(
                    "Unsupported clause: {clause}"
                )));
            }
        }
        Ok(Select {
            projection,
            table,
            index,
            where_,
            order_by,
        })
    }

    fn where_clause(&mut self) -> Result<Option<Expr>, DynamoDbError> {
        if self.eat_kw("WHERE") {
            Ok(Some(self.expr()?))
        } else {
            Ok(None)
        }
    }

    fn path_only(&mut self) -> Result<PathExpr, DynamoDbError> {
        match self.primary()? {
            Expr::Path(p) => Ok(p),
            _ => Err(malformed("Expected a path")),
        }
    }

    fn insert(&mut self) -> Result<Statement, DynamoDbError> {
        self.expect_kw("INSERT")?;
        self.expect_kw("INTO")?;
        let table = self.name()?;
        if self.at_kw("VALUES") || self.peek() == Some(&Tok::LParen) {
            return Err(DynamoDbError::validation(
                "Unsupported operation: Inserting multiple items in a single statement is not supported, use \"INSERT INTO tableName VALUE item\" instead",
            ));
        }
        if !self.eat_kw("VALUE") {
            return Err(malformed(LEFTOVER));
        }
        let value = self.expr()?;
        if self.at_kw("RETURNING") {
            return Err(DynamoDbError::validation(
                "RETURNING is not supported in INSERT",
            ));
        }
        Ok(Statement::Insert { table, value })
    }

    fn update(&mut self) -> Result<Statement, DynamoDbError> {
        self.expect_kw("UPDATE")?;
        let table = self.name()?;
        if self.eat(&Tok::Dot) {
            return Err(DynamoDbError::validation(
                "FROM clause may only contain a single table name in data manipulation statements",
            ));
        }
        self.no_alias()?;
        let mut clauses = Vec::new();
        loop {
            if self.eat_kw("SET") {
                let mut actions = Vec::new();
                loop {
                    let path = self.path_only()?;
                    self.expect(&Tok::Eq, "Expected equals sign")?;
                    let value = self.expr()?;
                    actions.push(SetAction::Set(path, value));
                    if !self.eat(&Tok::Comma) {
                        break;
                    }
                }
                clauses.push(UpdateClause { actions });
            } else if self.eat_kw("REMOVE") {
                let mut actions = Vec::new();
                loop {
                    actions.push(SetAction::Remove(self.path_only()?));
                    if !self.eat(&Tok::Comma) {
                        break;
                    }
                }
                clauses.push(UpdateClause { actions });
            } else {
                break;
            }
        }
        if clauses.is_empty() {
            return Err(self.unexpected());
        }
        let where_ = self.where_clause()?;
        let returning = self.returning()?;
        Ok(Statement::Update(Update {
            table,
            clauses,
            where_,
            returning,
        }))
    }

    fn delete(&mut self) -> Result<Statement, DynamoDbError> {
        self.expect_kw("DELETE")?;
        if !self.eat_kw("FROM") {
            return Err(malformed("Expected FROM after DELETE"));
        }
        let table = self.name()?;
        if self.eat(&Tok::Dot) {
            return Err(DynamoDbError::validation(
                "FROM clause may only contain a single table name in data manipulation statements",
            ));
        }
        self.no_alias()?;
        let where_ = self.where_clause()?;
        let returning = self.returning()?;
        Ok(Statement::Delete {
            table,
            where_,
            returning,
        })
    }

    fn returning(&mut self) -> Result<Option<Returning>, DynamoDbError> {
        if !self.eat_kw("RETURNING") {
            return Ok(None);
        }
        let all = if self.eat_kw("ALL") {
            true
        } else if self.eat_kw("MODIFIED") {
            false
        } else {
            return Err(self.unexpected());
        };
        let new = if self.eat_kw("NEW") {
            true
        } else if self.eat_kw("OLD") {
            false
        } else {
            return Err(self.unexpected());
        };
        if !self.eat(&Tok::Star) {
            return Err(DynamoDbError::validation(
                "Expected '*' after ( MODIFIED | ALL ) ( NEW | OLD ) in RETURNING clause",
            ));
        }
        if self.peek() == Some(&Tok::Comma) {
            return Err(DynamoDbError::validation(
                "Invalid syntax with multiple returning elements in RETURNING clause",
            ));
        }
        Ok(Some(match (all, new) {
            (true, false) => Returning::AllOld,
            (true, true) => Returning::AllNew,
            (false, false) => Returning::ModifiedOld,
            (false, true) => Returning::ModifiedNew,
        }))
    }

    // ----- expressions

    fn expr(&mut self) -> Result<Expr, DynamoDbError> {
        self.enter()?;
        let r = self.or();
        self.leave();
        r
    }

    fn infix_rhs(
        &mut self,
        f: fn(&mut Self) -> Result<Expr, DynamoDbError>,
    ) -> Result<Expr, DynamoDbError> {
        match self.peek() {
            None | Some(Tok::Semi) | Some(Tok::RParen) => Err(malformed(
                "Missing right-hand side expression of infix operator",
            )),
            _ => f(self),
        }
    }

    fn or(&mut self) -> Result<Expr, DynamoDbError> {
        let mut left = self.and()?;
        while self.eat_kw("OR") {
            let right = self.infix_rhs(Self::and)?;
            left = Expr::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, DynamoDbError> {
        let mut left = self.not()?;
        while self.eat_kw("AND") {
            let right = self.infix_rhs(Self::not)?;
            left = Expr::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn not(&mut self) -> Result<Expr, DynamoDbError> {
        if self.eat_kw("NOT") {
            self.enter()?;
            let inner = self.not();
            self.leave();
            return Ok(Expr::Not(Box::new(inner?)));
        }
        self.predicate()
    }

    fn predicate(&mut self) -> Result<Expr, DynamoDbError> {
        let left = self.sum()?;
        let op = match self.peek() {
            Some(Tok::Eq) => Some(CmpOp::Eq),
            Some(Tok::Ne) => Some(CmpOp::Ne),
            Some(Tok::Lt) => Some(CmpOp::Lt),
            Some(Tok::Le) => Some(CmpOp::Le),
            Some(Tok::Gt) => Some(CmpOp::Gt),
            Some(Tok::Ge) => Some(CmpOp::Ge),
            _ => None,
        };
        if let Some(op) = op {
            self.pos += 1;
            let right = self.sum()?;
            return Ok(Expr::Cmp(op, Box::new(left), Box::new(right)));
        }
        let negated = self.at_kw("NOT")
            && self
                .peek_at(1)
                .is_some_and(|t| t.is_kw("BETWEEN") || t.is_kw("IN") || t.is_kw("LIKE"));
        if negated {
            self.pos += 1;
        }
        let e = if self.eat_kw("BETWEEN") {
            let lo = self.sum()?;
            self.expect_kw("AND")?;
            let hi = self.sum()?;
            Expr::Between(Box::new(left), Box::new(lo), Box::new(hi))
        } else if self.eat_kw("IN") {
            let list = match self.peek() {
                Some(Tok::LBracket) | Some(Tok::LParen) => {
                    let close = if self.peek() == Some(&Tok::LBracket) {
                        Tok::RBracket
                    } else {
                        Tok::RParen
                    };
                    self.pos += 1;
                    self.items(&close)?
                }
                _ => {
                    return Err(DynamoDbError::validation(
                        "IN operator must have a left hand argument of type Variable Reference and right hand argument of type Seq with at least one member",
                    ))
                }
            };
            Expr::In(Box::new(left), list)
        } else if self.at_kw("LIKE") {
            return Err(DynamoDbError::validation(
                "Unsupported operator in Condition Expression. Operator: LIKE",
            ));
        } else if self.eat_kw("IS") {
            let not = self.eat_kw("NOT");
            let kind = self.type_name()?;
            return Ok(Expr::Is {
                expr: Box::new(left),
                not,
                kind,
            });
        } else {
            return Ok(left);
        };
        Ok(if negated { Expr::Not(Box::new(e)) } else { e })
    }

    fn type_name(&mut self) -> Result<IsKind, DynamoDbError> {
        let Some(Tok::Ident(word)) = self.peek().cloned() else {
            return Err(malformed("Expected type name"));
        };
        self.pos += 1;
        let upper = word.to_ascii_uppercase();
        Ok(match upper.as_str() {
            "MISSING" => IsKind::Missing,
            "NULL" => IsKind::Null,
            "BOOLEAN" | "BOOL" => IsKind::Boolean,
            "STRING" | "VARCHAR" | "CHAR" => IsKind::String,
            "NUMERIC" | "DECIMAL" | "INT" | "INTEGER" | "FLOAT" | "REAL" | "SMALLINT" => {
                IsKind::Numeric
            }
            "BLOB" => IsKind::Blob,
            "LIST" => IsKind::List,
            "STRUCT" | "TUPLE" => IsKind::Struct,
            "SEXP" | "BAG" | "CLOB" | "SYMBOL" | "TIMESTAMP" | "DATE" | "TIME" => {
                return Err(DynamoDbError::Validation(format!(
                    "Unsupported data type for IS operator: {upper}. Supported data types are [MISSING, NULL, BOOLEAN, BLOB, STRING, NUMERIC, STRUCT, TUPLE, LIST]"
                )))
            }
            _ => return Err(malformed("Expected type name")),
        })
    }

    fn sum(&mut self) -> Result<Expr, DynamoDbError> {
        let mut left = self.unary()?;
        loop {
            let plus = match self.peek() {
                Some(Tok::Plus) => true,
                Some(Tok::Minus) => false,
                _ => return Ok(left),
            };
            self.pos += 1;
            let right = self.infix_rhs(Self::unary)?;
            left = Expr::Arith {
                plus,
                a: Box::new(left),
                b: Box::new(right),
            };
        }
    }

    fn unary(&mut self) -> Result<Expr, DynamoDbError> {
        if self.peek() == Some(&Tok::Minus) {
            if let Some(Tok::Num(n)) = self.peek_at(1) {
                let n = format!("-{n}");
                self.pos += 2;
                return Ok(Expr::Num(n));
            }
            return Err(malformed("Unsupported unary minus"));
        }
        self.primary()
    }

    /// Comma-separated expressions up to `close` (already past the opener).
    fn items(&mut self, close: &Tok) -> Result<Vec<Expr>, DynamoDbError> {
        let mut out = Vec::new();
        if self.eat(close) {
            return Ok(out);
        }
        loop {
            out.push(self.expr()?);
            if self.eat(close) {
                return Ok(out);
            }
            if !self.eat(&Tok::Comma) {
                return Err(self.unexpected());
            }
        }
    }

    fn primary(&mut self) -> Result<Expr, DynamoDbError> {
        self.enter()?;
        let r = self.primary_inner();
        self.leave();
        r
    }

    fn primary_inner(&mut self) -> Result<Expr, DynamoDbError> {
        let Some(tok) = self.peek().cloned() else {
            return Err(malformed("Unexpected term"));
        };
        match tok {
            Tok::Str(s) => {
                self.pos += 1;
                Ok(Expr::Str(s))
            }
            Tok::Num(n) => {
                self.pos += 1;
                Ok(Expr::Num(n))
            }
            Tok::Param => {
                self.pos += 1;
                let i = self.params;
                self.params += 1;
                Ok(Expr::Param(i))
            }
            Tok::LParen => {
                self.pos += 1;
                let e = self.expr()?;
                self.expect(&Tok::RParen, "Expected right parenthesis")?;
                Ok(e)
            }
            Tok::LBracket => {
                self.pos += 1;
                Ok(Expr::List(self.items(&Tok::RBracket)?))
            }
            Tok::BagOpen => {
                self.pos += 1;
                Ok(Expr::Bag(self.items(&Tok::BagClose)?))
            }
            Tok::LBrace => {
                self.pos += 1;
                let mut fields = Vec::new();
                if self.eat(&Tok::RBrace) {
                    return Ok(Expr::Struct(fields));
                }
                loop {
                    let k = self.expr()?;
                    self.expect(&Tok::Colon, "Expected colon for struct")?;
                    let v = self.expr()?;
                    fields.push((k, v));
                    if self.eat(&Tok::RBrace) {
                        return Ok(Expr::Struct(fields));
                    }
                    if !self.eat(&Tok::Comma) {
                        return Err(self.unexpected());
                    }
                }
            }
            Tok::Quoted(name) => {
                self.pos += 1;
                self.path_rest(name)
            }
            Tok::Ident(word) => {
                let upper = word.to_ascii_uppercase();
                match upper.as_str() {
                    "TRUE" | "FALSE" => {
                        self.pos += 1;
                        Ok(Expr::Bool(upper == "TRUE"))
                    }
                    "NULL" => {
                        self.pos += 1;
                        Ok(Expr::Null)
                    }
                    "MISSING" => {
                        self.pos += 1;
                        Ok(Expr::Missing)
                    }
                    "EXISTS" => {
                        self.pos += 1;
                        self.expect(&Tok::LParen, "Expected left parenthesis")?;
                        let s = self.select()?;
                        self.expect(&Tok::RParen, "Expected right parenthesis")?;
                        Ok(Expr::Exists(Box::new(s)))
                    }
                    _ if self.peek_at(1) == Some(&Tok::LParen) && !is_reserved(&word) => {
                        self.pos += 2;
                        let args = self.items(&Tok::RParen)?;
                        Ok(Expr::Call(word.to_ascii_lowercase(), args))
                    }
                    _ if is_reserved(&word) => Err(self.unexpected()),
                    _ => {
                        self.pos += 1;
                        self.path_rest(word)
                    }
                }
            }
            _ => Err(self.unexpected()),
        }
    }

    /// The steps after a path's first name: `.name`, `."name"`, `[n]`, `['key']`.
    fn path_rest(&mut self, first: String) -> Result<Expr, DynamoDbError> {
        let mut steps = vec![PathStep::Attr(first)];
        loop {
            if self.eat(&Tok::Dot) {
                match self.next() {
                    Some(Tok::Ident(s)) | Some(Tok::Quoted(s)) => steps.push(PathStep::Attr(s)),
                    Some(Tok::Star) => {
                        return Err(DynamoDbError::validation(
                            "Unpivot path component like a.*.b are not supported",
                        ))
                    }
                    _ => return Err(malformed("Invalid path component")),
                }
            } else if self.eat(&Tok::LBracket) {
                match self.next() {
                    Some(Tok::Num(n)) => {
                        let i: usize = n.parse().map_err(|_| {
                            DynamoDbError::Validation(format!(
                                "List index is not within the allowable range; index: [{n}]"
                            ))
                        })?;
                        steps.push(PathStep::Index(i));
                    }
                    Some(Tok::Str(s)) => steps.push(PathStep::Attr(s)),
                    Some(Tok::Star) => {
                        return Err(DynamoDbError::validation(
                            "Wildcard path component like a[*].b are not supported",
                        ))
                    }
                    _ => return Err(malformed("Invalid path component")),
                }
                self.expect(&Tok::RBracket, "Expected right bracket")?;
            } else {
                break;
            }
            if steps.len() > crate::expr::MAX_PATH_DEPTH {
                return Err(malformed("Path is too deep"));
            }
        }
        Ok(Expr::Path(PathExpr { steps }))
    }
}

/// The number of `?` parameters in a statement (in the order they are bound).
pub(crate) fn count_params(stmt: &Statement) -> usize {
    fn e(x: &Expr) -> usize {
        match x {
            Expr::Param(_) => 1,
            Expr::Path(_)
            | Expr::Str(_)
            | Expr::Num(_)
            | Expr::Bool(_)
            | Expr::Null
            | Expr::Missing => 0,
            Expr::List(v) | Expr::Bag(v) | Expr::Call(_, v) => v.iter().map(e).sum(),
            Expr::Struct(v) => v.iter().map(|(k, x)| e(k) + e(x)).sum(),
            Expr::Cmp(_, a, b) | Expr::And(a, b) | Expr::Or(a, b) => e(a) + e(b),
            Expr::Arith { a, b, .. } => e(a) + e(b),
            Expr::Between(a, b, c) => e(a) + e(b) + e(c),
            Expr::In(a, v) => e(a) + v.iter().map(e).sum::<usize>(),
            Expr::Not(a) => e(a),
            Expr::Is { expr, .. } => e(expr),
            Expr::Exists(s) => sel(s),
        }
    }
    fn sel(s: &Select) -> usize {
        s.where_.as_ref().map_or(0, e)
    }
    match stmt {
        Statement::Select(s) | Statement::Exists(s) => sel(s),
        Statement::Insert { value, .. } => e(value),
        Statement::Update(u) => {
            let sets: usize = u
                .clauses
                .iter()
                .flat_map(|c| c.actions.iter())
                .map(|a| match a {
                    SetAction::Set(_, v) => e(v),
                    SetAction::Remove(_) => 0,
                })
                .sum();
            sets + u.where_.as_ref().map_or(0, e)
        }
        Statement::Delete { where_, .. } => where_.as_ref().map_or(0, e),
    }
}
