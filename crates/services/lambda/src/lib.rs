//! nimbus-lambda: the Lambda control plane and invoke path.
//!
//! Bottom up: [`keys`] (store layout), [`records`] (what is stored), [`validate`] (limits
//! and names, AWS's messages), [`code`] (zips: verify, measure, unpack into the code
//! cache), [`service`] (the [`Lambda`] object: blob staging, role credentials, specs,
//! code download, recovery), [`error`] (AWS errors); the operations in [`functions`],
//! [`aliases`] (versions, aliases, concurrency, tags, account) and [`resources`] (layers,
//! policies, event invoke configs, URL configs); [`invoke`] (resolution, sync invoke),
//! [`queue`] (the durable async queue and destinations), [`url`] (function URLs) and
//! [`api`] (the generated `LambdaApi` trait).
//!
//! Invariants: every state change is one store transaction; zips live in the blob store
//! (content-addressed, reference-counted) and unpacked trees in the code cache outside
//! the data directory; nothing important lives only in memory (the caches of specs and
//! credentials are caches).

pub mod aliases;
pub mod api;
pub mod code;
pub mod error;
pub mod functions;
pub mod invoke;
pub mod keys;
pub mod queue;
pub mod records;
pub mod resources;
pub mod service;
pub mod time;
pub mod url;
pub mod validate;

pub use invoke::{InvocationKind, InvokeRequest, InvokeResult};
pub use resources::ServiceInvokeCheck;
pub use service::{CodeDownloadError, CodeObjectError, CodeObjects, Lambda, LambdaConfig};
pub use url::{handle as handle_url, UrlCaller};

/// Answers a Lambda API request (the generated rest-json dispatcher over [`Lambda`]).
pub async fn dispatch(
    lambda: &Lambda,
    ctx: &nimbus_core::RequestContext,
    req: &nimbus_wire::AwsRequest,
) -> nimbus_wire::AwsResponse {
    nimbus_model::lambda::dispatch(lambda, ctx, req).await
}
