//! Owned by the data-model work; see lib.rs.
pub type Item = std::collections::HashMap<String, Value>; #[derive(Debug, Clone, PartialEq)] pub enum Value { Null(bool) }
