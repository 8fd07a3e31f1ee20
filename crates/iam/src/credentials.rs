//! Who owns an access key: the lookup the gateway's SigV4 check runs on every request.
//!
//! Today: the built-in root key (`test`/`test`, account `000000000000`) and keys the
//! operator configures. Later the IAM service adds the access keys it creates and STS
//! the temporary credentials it issues, by implementing [`CredentialStore`] over the Db.

use std::collections::HashMap;
use std::sync::Arc;

use nimbus_core::{Principal, ROOT_ACCESS_KEY_ID, ROOT_ACCOUNT_ID, ROOT_SECRET_ACCESS_KEY};

/// A known access key and what it stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub account_id: String,
    pub principal: Principal,
    /// `false` for keys set `Inactive` (IAM `UpdateAccessKey`): they are known, so they are
    /// refused rather than taken as root on a loopback bind.
    pub active: bool,
    /// Temporary credentials: the session token requests must carry.
    pub session_token: Option<String>,
    /// Temporary credentials: when they stop working, in ms since the epoch.
    pub expires_at_millis: Option<i64>,
}

impl Credential {
    /// A long-term root key of `account_id`.
    pub fn root(access_key_id: &str, secret_access_key: &str, account_id: &str) -> Self {
        Credential {
            access_key_id: access_key_id.to_string(),
            secret_access_key: secret_access_key.to_string(),
            account_id: account_id.to_string(),
            principal: Principal::root(account_id, access_key_id),
            active: true,
            session_token: None,
            expires_at_millis: None,
        }
    }

    /// The built-in `test`/`test` root key.
    pub fn default_root() -> Self {
        Self::root(ROOT_ACCESS_KEY_ID, ROOT_SECRET_ACCESS_KEY, ROOT_ACCOUNT_ID)
    }
}

/// Looks up access keys. Implementations must be cheap: this runs on every request.
pub trait CredentialStore: Send + Sync + 'static {
    /// Shared, not copied: the lookup runs on every request.
    fn lookup(&self, access_key_id: &str) -> Option<Arc<Credential>>;
}

/// A fixed set of keys: the built-in root key plus configured ones.
#[derive(Debug, Clone)]
pub struct StaticCredentials {
    keys: HashMap<String, Arc<Credential>>,
}

impl Default for StaticCredentials {
    fn default() -> Self {
        Self::new(Vec::new())
    }
}

impl StaticCredentials {
    /// The built-in root key plus `extra` (a configured key with the id `test` replaces
    /// the built-in one).
    pub fn new(extra: Vec<Credential>) -> Self {
        let mut keys = HashMap::with_capacity(extra.len() + 1);
        let root = Credential::default_root();
        keys.insert(root.access_key_id.clone(), Arc::new(root));
        for c in extra {
            keys.insert(c.access_key_id.clone(), Arc::new(c));
        }
        StaticCredentials { keys }
    }

    /// True when the only key is the built-in `test`/`test` one: not safe to expose
    /// beyond loopback.
    pub fn only_default(&self) -> bool {
        self.keys.len() == 1
            && self
                .keys
                .get(ROOT_ACCESS_KEY_ID)
                .is_some_and(|c| c.secret_access_key == ROOT_SECRET_ACCESS_KEY)
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

impl CredentialStore for StaticCredentials {
    fn lookup(&self, access_key_id: &str) -> Option<Arc<Credential>> {
        self.keys.get(access_key_id).cloned()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use nimbus_core::PrincipalKind;

    #[test]
    fn root_key_always_exists() {
        let s = StaticCredentials::default();
        let c = s.lookup("test").unwrap();
        assert_eq!(c.secret_access_key, "test");
        assert_eq!(c.account_id, "000000000000");
        assert_eq!(c.principal.kind, PrincipalKind::Root);
        assert!(c.active);
        assert!(s.only_default());
        assert!(s.lookup("AKIDUNKNOWN").is_none());
    }

    #[test]
    fn configured_keys_are_found() {
        let s = StaticCredentials::new(vec![Credential::root("AKIA1", "s3cret", "123456789012")]);
        assert!(!s.only_default());
        assert_eq!(s.len(), 2);
        let c = s.lookup("AKIA1").unwrap();
        assert_eq!(c.account_id, "123456789012");
        assert_eq!(c.principal.arn(), "arn:aws:iam::123456789012:root");
    }

    #[test]
    fn replacing_the_test_secret_is_not_default() {
        let s = StaticCredentials::new(vec![Credential::root("test", "better", "000000000000")]);
        assert_eq!(s.len(), 1);
        assert!(!s.only_default());
    }
}
