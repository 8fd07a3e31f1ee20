//! nimbus-dynamodb: DynamoDB as AWS defines it.
//!
//! Layers inside this crate, bottom up:
//! - `number`, `value`, `size`, `keycodec`: the data model (no store, no wire);
//! - `expr`: parsing and evaluating condition/update/projection/key-condition
//!   expressions and the legacy parameters;
//! - `error`: the one place DynamoDB errors become AWS error codes;
//! - `ops`: the operations, over the store, one transaction per state change.
//!
//! Invariant: nothing here parses JSON request bodies; typed requests come from
//! nimbus-model and are converted into `value::Value`s at the edge of `ops`.

pub mod error;
pub mod expr;
pub mod keycodec;
pub mod number;
pub mod ops;
pub mod partiql;
pub mod size;
pub mod value;

pub use error::DynamoDbError;
