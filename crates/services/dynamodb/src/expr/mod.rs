//! DynamoDB expressions: parsing, checking and evaluating condition, filter, key-condition,
//! update and projection expressions, plus the legacy (pre-expression) parameters.
//!
//! Use per request:
//! 1. `ExpressionContext::new(names, values)`;
//! 2. parse each expression the request has, in AWS's order for the operation
//!    (`condition`, `update`, `projection`), each error already AWS's text;
//! 3. `finish()` for the unused-placeholder errors (they span all expressions);
//! 4. for a Query, `KeyCondition::from_condition` on the parsed key condition;
//! 5. evaluate: `Condition::evaluate(&item)`, `Update::apply(&item)`,
//!    `Projection::apply(&item)`.
//!
//! Architecture invariant: no I/O and no wire types here; values are `value::Value`s.

mod ast;
mod check;
mod eval;
mod keycond;
pub mod legacy;
mod projection;
mod reserved;
mod syntax;
mod update;

#[cfg(test)]
mod tests;

pub use ast::{
    CmpOp, Condition, Operand, Path, PathElem, Projection, SectionKind, Update, UpdateAction,
};
pub use check::{
    validate_names_map, validate_values_map_keys, ExprKind, ExpressionContext,
    MAX_EXPRESSION_BYTES, MAX_IN_OPERANDS, MAX_PATH_DEPTH,
};
pub use eval::{operand_value, resolve_path, size_of};
pub use keycond::{
    check_filter_has_no_keys, check_key_paths, check_update_keys, KeyCondition, KeySchema,
    SortCondition,
};
pub use reserved::is_reserved;
pub use update::{MSG_LEGACY_TYPE, MSG_UPDATE_MISSING, MSG_UPDATE_PATH, MSG_UPDATE_TYPE};
