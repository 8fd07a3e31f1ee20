//! Owned by the data-model work; see lib.rs.
