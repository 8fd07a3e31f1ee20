//! Operations; see lib.rs.
