//! Expressions; see lib.rs.
