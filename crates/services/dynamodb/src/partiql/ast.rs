//! The syntax tree of a PartiQL statement, before parameters are bound.

use crate::expr::CmpOp;

/// One step of a document path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathStep {
    /// An attribute name or map key (`a`, `"a b"`, `.b`).
    Attr(String),
    /// A list index (`[3]`).
    Index(usize),
}

/// A document path such as `a.b[3]`; always starts with an attribute name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathExpr {
    pub steps: Vec<PathStep>,
}

impl PathExpr {
    /// The top-level attribute the path starts at.
    pub fn top(&self) -> &str {
        match self.steps.first() {
            Some(PathStep::Attr(a)) => a,
            _ => "",
        }
    }

    pub fn is_top_level(&self) -> bool {
        self.steps.len() == 1
    }

    /// The name a projected value is returned under: the last step, with any list
    /// indexes that follow the last name (`m.k[1]` -> `k[1]`), as DynamoDB names it.
    pub fn output_name(&self) -> String {
        let last_name = self
            .steps
            .iter()
            .rposition(|s| matches!(s, PathStep::Attr(_)))
            .unwrap_or(0);
        let mut out = String::new();
        for s in self.steps.iter().skip(last_name) {
            match s {
                PathStep::Attr(a) => out.push_str(a),
                PathStep::Index(i) => {
                    out.push('[');
                    out.push_str(&i.to_string());
                    out.push(']');
                }
            }
        }
        out
    }
}

/// The IS operator's right-hand side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IsKind {
    Missing,
    Null,
    Boolean,
    String,
    Numeric,
    Blob,
    List,
    Struct,
}

/// An expression: a condition, a value, or an operand.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Path(PathExpr),
    /// A string literal.
    Str(String),
    /// A number literal, as written (checked when bound).
    Num(String),
    Bool(bool),
    Null,
    Missing,
    /// The n-th `?` of the statement (0-based).
    Param(usize),
    /// `[a, b]`
    List(Vec<Expr>),
    /// `{'k': v, ...}`; keys are expressions so that a wrong key type is reported when
    /// bound, with AWS's message.
    Struct(Vec<(Expr, Expr)>),
    /// `<<a, b>>`
    Bag(Vec<Expr>),
    Cmp(CmpOp, Box<Expr>, Box<Expr>),
    Between(Box<Expr>, Box<Expr>, Box<Expr>),
    In(Box<Expr>, Vec<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Is {
        expr: Box<Expr>,
        not: bool,
        kind: IsKind,
    },
    /// `a + b` (`plus`) or `a - b`.
    Arith {
        plus: bool,
        a: Box<Expr>,
        b: Box<Expr>,
    },
    /// A function call; `name` is lower-cased.
    Call(String, Vec<Expr>),
    /// `EXISTS(SELECT ...)` (a condition check in ExecuteTransaction).
    Exists(Box<Select>),
}

/// The projection of a SELECT.
#[derive(Debug, Clone, PartialEq)]
pub enum Projection {
    Star,
    Paths(Vec<PathExpr>),
}

/// `ORDER BY key [ASC|DESC]`.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderBy {
    pub path: PathExpr,
    pub descending: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Select {
    pub projection: Projection,
    pub table: String,
    pub index: Option<String>,
    pub where_: Option<Expr>,
    pub order_by: Vec<OrderBy>,
}

/// One action of an UPDATE.
#[derive(Debug, Clone, PartialEq)]
pub enum SetAction {
    Set(PathExpr, Expr),
    Remove(PathExpr),
}

/// A SET or REMOVE clause with its actions.
#[derive(Debug, Clone, PartialEq)]
pub struct UpdateClause {
    pub actions: Vec<SetAction>,
}

/// `RETURNING (ALL|MODIFIED) (OLD|NEW) *`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Returning {
    AllOld,
    ModifiedOld,
    AllNew,
    ModifiedNew,
}

impl Returning {
    /// As written in the statement (for messages).
    pub fn as_sql(self) -> &'static str {
        match self {
            Returning::AllOld => "ALL OLD *",
            Returning::ModifiedOld => "MODIFIED OLD *",
            Returning::AllNew => "ALL NEW *",
            Returning::ModifiedNew => "MODIFIED NEW *",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Update {
    pub table: String,
    pub clauses: Vec<UpdateClause>,
    pub where_: Option<Expr>,
    pub returning: Option<Returning>,
}

/// A parsed statement, with the number of `?` parameters it has.
#[derive(Debug, Clone, PartialEq)]
pub enum Statement {
    Select(Select),
    Insert {
        table: String,
        value: Expr,
    },
    Update(Update),
    Delete {
        table: String,
        where_: Option<Expr>,
        returning: Option<Returning>,
    },
    /// `EXISTS(SELECT ...)` on its own: a condition check (ExecuteTransaction only).
    Exists(Select),
}

impl Statement {
    pub fn is_read(&self) -> bool {
        matches!(self, Statement::Select(_))
    }

    /// The table the statement reads or writes.
    pub fn table(&self) -> &str {
        match self {
            Statement::Select(s) | Statement::Exists(s) => &s.table,
            Statement::Insert { table, .. } | Statement::Delete { table, .. } => table,
            Statement::Update(u) => &u.table,
        }
    }
}
