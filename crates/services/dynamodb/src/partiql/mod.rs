//! DynamoDB's PartiQL dialect: lexing, parsing and lowering statements onto the
//! expression types of `crate::expr`, so that statements are evaluated by the same
//! code as ConditionExpression, UpdateExpression and FilterExpression.
//!
//! Use per statement:
//! 1. `parse(text)` gives a `Statement` (syntax only; errors are AWS's "Statement wasn't
//!    well formed, can't be processed: ..." messages);
//! 2. `Binder::new(&statement, params)` checks the number of `?` against `Parameters`;
//! 3. the binder lowers WHERE clauses (`condition`), SET/REMOVE clauses (`update`) and
//!    value literals (`value`, `item`) with the parameters bound.
//!
//! The parser is hand-written recursive descent. Recursion is bounded by
//! `MAX_NESTING_DEPTH` and the input by `MAX_STATEMENT_BYTES` (AWS's 8192 characters),
//! so no input can exhaust the stack or the heap.
//!
//! Architecture invariant: no I/O and no wire types here; the `ops::partiql` module
//! converts `Parameters` to `value::Value`s and plans the reads and writes.

mod ast;
mod lexer;
mod lower;
mod parser;

#[cfg(test)]
mod tests;

pub use ast::{
    Expr, IsKind, OrderBy, PathExpr, PathStep, Projection, Returning, Select, SetAction, Statement,
    Update, UpdateClause,
};
pub use lower::{Binder, MSG_PARAMETER_COUNT};
pub use parser::{parse, MAX_NESTING_DEPTH, MAX_STATEMENT_BYTES};

/// The prefix of every syntax error.
pub const MSG_NOT_WELL_FORMED: &str = "Statement wasn't well formed, can't be processed: ";

/// A syntax error: AWS's envelope with `detail` after the colon.
pub(crate) fn malformed(detail: &str) -> crate::error::DynamoDbError {
    crate::error::DynamoDbError::Validation(format!("{MSG_NOT_WELL_FORMED}{detail}"))
}
