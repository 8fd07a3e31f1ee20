//! What IAM and STS share: the store, the clock, the error plumbing and the lookups.

use nimbus_core::{PrincipalKind, RequestContext, SharedClock};
use nimbus_model::iam::errors;
use nimbus_store::{Db, StoreError};
use nimbus_wire::AwsError;

use crate::records::{self, RoleRecord, UserRecord};

/// Most records of one kind (users, roles, policies) one account may list; AWS's quotas
/// are lower (5,000 users, 1,000 roles by default), this bounds a listing's memory.
pub const MAX_LISTED_RECORDS: usize = 100_000;

/// A failure inside an operation: an AWS error for the client, or the store's.
#[derive(Debug)]
pub enum Fail {
    Aws(AwsError),
    Store(StoreError),
}

impl From<StoreError> for Fail {
    fn from(e: StoreError) -> Self {
        Fail::Store(e)
    }
}

impl From<AwsError> for Fail {
    fn from(e: AwsError) -> Self {
        Fail::Aws(e)
    }
}

impl Fail {
    pub fn into_aws(self) -> AwsError {
        match self {
            Fail::Aws(e) => e,
            Fail::Store(e) => {
                tracing::error!(error = %e, "iam store error");
                errors::service_failure_exception(
                    "The request processing has failed because of an unknown error, exception or failure.",
                )
            }
        }
    }
}

pub type Result<T> = std::result::Result<T, Fail>;

/// The state IAM and STS operate on.
#[derive(Clone)]
pub struct IamState {
    pub db: Db,
    pub clock: SharedClock,
}

impl IamState {
    pub fn new(db: Db, clock: SharedClock) -> Self {
        IamState { db, clock }
    }

    /// Now, in whole seconds (IAM reports dates without fractions).
    pub fn now_secs(&self) -> f64 {
        (self.clock.now_millis().div_euclid(1000)) as f64
    }

    pub fn now_millis(&self) -> i64 {
        self.clock.now_millis()
    }

    pub fn snapshot(&self) -> Result<Box<dyn nimbus_store::ReadTxn + Send>> {
        Ok(self.db.snapshot()?)
    }

    pub fn user(&self, account: &str, name: &str) -> Result<UserRecord> {
        let snap = self.snapshot()?;
        records::get(snap.as_ref(), &records::user_key(account, name))?
            .ok_or_else(|| Fail::Aws(no_such_user(name)))
    }

    pub fn role(&self, account: &str, name: &str) -> Result<RoleRecord> {
        let snap = self.snapshot()?;
        records::get(snap.as_ref(), &records::role_key(account, name))?
            .ok_or_else(|| Fail::Aws(no_such_role(name)))
    }
}

pub fn no_such_user(name: &str) -> AwsError {
    errors::no_such_entity_exception(format!("The user with name {name} cannot be found."))
}

pub fn no_such_role(name: &str) -> AwsError {
    errors::no_such_entity_exception(format!("The role with name {name} cannot be found."))
}

pub fn validation_error(message: impl Into<String>) -> AwsError {
    nimbus_model::runtime::query::sender_error("ValidationError", message)
}

pub fn user_arn(account: &str, path: &str, name: &str) -> String {
    format!("arn:aws:iam::{account}:user{path}{name}")
}

pub fn role_arn(account: &str, path: &str, name: &str) -> String {
    format!("arn:aws:iam::{account}:role{path}{name}")
}

pub fn policy_arn(account: &str, path: &str, name: &str) -> String {
    format!("arn:aws:iam::{account}:policy{path}{name}")
}

/// The user an operation without `UserName` acts on: the calling user; `None` for the
/// account root.
pub fn implicit_user(ctx: &RequestContext) -> std::result::Result<Option<String>, AwsError> {
    match &ctx.principal.kind {
        PrincipalKind::Root => Ok(None),
        PrincipalKind::User { user_name, .. } => Ok(Some(user_name.clone())),
        PrincipalKind::AssumedRole { .. } => Err(validation_error(
            "Must specify userName when calling with non-User credentials",
        )),
    }
}

/// Splits `arn:aws:iam::<account>:<kind><path><name>` into (account, path, name).
pub fn split_iam_arn<'a>(arn: &'a str, kind: &str) -> Option<(&'a str, &'a str, &'a str)> {
    let rest = arn.strip_prefix("arn:aws:iam::")?;
    let (account, resource) = rest.split_once(':')?;
    let path_and_name = resource.strip_prefix(kind)?;
    if !path_and_name.starts_with('/') {
        return None;
    }
    let (path, name) = path_and_name.rsplit_once('/')?;
    if name.is_empty() {
        return None;
    }
    // `path` lacks its trailing slash after rsplit_once.
    let path = path_and_name.get(..path.len() + 1)?;
    Some((account, path, name))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn arn_split() {
        assert_eq!(
            split_iam_arn("arn:aws:iam::123456789012:policy/my-pol", "policy"),
            Some(("123456789012", "/", "my-pol"))
        );
        assert_eq!(
            split_iam_arn("arn:aws:iam::123456789012:policy/a/b/my-pol", "policy"),
            Some(("123456789012", "/a/b/", "my-pol"))
        );
        assert_eq!(
            split_iam_arn(
                "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
                "policy"
            ),
            Some(("aws", "/service-role/", "AWSLambdaBasicExecutionRole"))
        );
        assert_eq!(split_iam_arn("arn:aws:iam::1:role/r", "policy"), None);
        assert_eq!(split_iam_arn("arn:aws:iam::1:policy/", "policy"), None);
        assert_eq!(split_iam_arn("nonsense", "policy"), None);
    }
}
