//! nimbus-core: the vocabulary every layer shares and nothing that does I/O.
//!
//! Invariant: this crate knows nothing about HTTP, JSON, XML or the store.

pub mod clock;
pub mod context;

pub use clock::{Clock, ManualClock, SharedClock, SystemClock};
pub use context::{Principal, PrincipalKind, RequestContext};

/// The account that the root credentials (`test`/`test`) belong to.
pub const ROOT_ACCOUNT_ID: &str = "000000000000";
/// Access key id of the built-in root credentials.
pub const ROOT_ACCESS_KEY_ID: &str = "test";
/// Secret of the built-in root credentials.
pub const ROOT_SECRET_ACCESS_KEY: &str = "test";
/// Region used when a request carries no credential scope (unsigned requests).
pub const DEFAULT_REGION: &str = "us-east-1";
