//! nimbus-model: the protocol layer generated from AWS's service models.
//!
//! One module per service (`dynamodb`, `dynamodbstreams`, `sts`, `iam`), each generated
//! by `tools/codegen` from `models/<service>/<version>/service-2.json` and committed:
//! - a Rust type per model shape (structures, string enums; lists and maps as aliases);
//! - `Operation`, the closed set of operations;
//! - a service trait (`DynamoDbApi`, ...) with one method per operation, defaulting to
//!   AWS's `NotImplementedException`;
//! - `dispatch`, which decodes a request, checks the model's constraints with AWS's exact
//!   `ValidationException` texts, calls the trait and encodes the answer or error;
//! - `errors`, constructors for the errors each service declares.
//!
//! [`runtime`] is the hand-written support the generated code stands on.
//!
//! Invariant: only this crate and nimbus-wire know JSON, XML and query strings; services
//! implement the traits over typed values.

pub mod runtime;

#[path = "generated/dynamodb.rs"]
pub mod dynamodb;
#[path = "generated/dynamodbstreams.rs"]
pub mod dynamodbstreams;
#[path = "generated/iam.rs"]
pub mod iam;
#[path = "generated/sts.rs"]
pub mod sts;

pub use runtime::encode_error;
