//! nimbus-iam: credentials and principals, IAM and STS.
//!
//! - [`credentials`]: the [`CredentialStore`] trait the gateway's SigV4 check asks for
//!   secrets, and the configured keys;
//! - [`store_credentials`]: the store-backed credential store (IAM access keys, STS
//!   temporary credentials);
//! - [`Iam`], [`Sts`]: the services, implementing the generated `IamApi`/`StsApi`;
//! - [`records`]: what is stored under the `iam/` key prefix, and where.
//!
//! Invariant: knows nothing about HTTP or SigV4 framing; IAM is global (one namespace per
//! account, whatever the region), STS answers in any region.

pub mod credentials;
pub mod iam_api;
pub mod ids;
pub mod policy;
pub mod records;
pub mod service;
pub mod store_credentials;
pub mod sts_api;

pub use credentials::{Credential, CredentialStore, StaticCredentials};
pub use iam_api::Iam;
pub use service::IamState;
pub use store_credentials::IamCredentialStore;
pub use sts_api::Sts;
