//! The credential store the gateway uses: configured keys first, then the access keys
//! IAM created and the temporary credentials STS issued (read from the store).

use std::sync::Arc;
use std::sync::OnceLock;

use nimbus_core::{Principal, PrincipalKind};
use nimbus_store::Db;

use crate::credentials::{Credential, CredentialStore, StaticCredentials};
use crate::records::{self, AccessKeyRecord, SessionPrincipal, SessionRecord};

/// Static keys plus the store's keys once the store is attached.
pub struct IamCredentialStore {
    statics: StaticCredentials,
    db: OnceLock<Db>,
}

impl IamCredentialStore {
    pub fn new(statics: StaticCredentials) -> Self {
        IamCredentialStore {
            statics,
            db: OnceLock::new(),
        }
    }

    /// Starts looking up store-backed keys (call once the store is open).
    pub fn attach(&self, db: Db) {
        let _ = self.db.set(db);
    }

    pub fn statics(&self) -> &StaticCredentials {
        &self.statics
    }

    fn lookup_in_store(&self, access_key_id: &str) -> Option<Credential> {
        let db = self.db.get()?;
        let snap = match db.snapshot() {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "credential lookup failed");
                return None;
            }
        };
        if access_key_id.starts_with("ASIA") {
            let s: SessionRecord =
                records::get(snap.as_ref(), &records::session_key(access_key_id))
                    .ok()
                    .flatten()?;
            let kind = match s.principal {
                SessionPrincipal::Root => PrincipalKind::Root,
                SessionPrincipal::User { user_name, user_id } => {
                    PrincipalKind::User { user_name, user_id }
                }
                SessionPrincipal::AssumedRole {
                    role_name,
                    role_id,
                    session_name,
                } => PrincipalKind::AssumedRole {
                    role_name,
                    session_name,
                    role_id,
                },
            };
            return Some(Credential {
                access_key_id: s.access_key_id.clone(),
                secret_access_key: s.secret_access_key,
                account_id: s.account_id.clone(),
                principal: Principal {
                    account_id: s.account_id,
                    access_key_id: s.access_key_id,
                    kind,
                },
                active: true,
                session_token: Some(s.session_token),
                expires_at_millis: Some(s.expires_at_millis),
            });
        }
        let k: AccessKeyRecord =
            records::get(snap.as_ref(), &records::access_key_key(access_key_id))
                .ok()
                .flatten()?;
        let kind = match (k.user_name, k.user_id) {
            (Some(user_name), Some(user_id)) => PrincipalKind::User { user_name, user_id },
            (Some(user_name), None) => PrincipalKind::User {
                user_id: user_name.clone(),
                user_name,
            },
            (None, _) => PrincipalKind::Root,
        };
        Some(Credential {
            access_key_id: k.access_key_id.clone(),
            secret_access_key: k.secret_access_key,
            account_id: k.account_id.clone(),
            principal: Principal {
                account_id: k.account_id,
                access_key_id: k.access_key_id,
                kind,
            },
            active: k.status == "Active",
            session_token: None,
            expires_at_millis: None,
        })
    }
}

impl CredentialStore for IamCredentialStore {
    fn lookup(&self, access_key_id: &str) -> Option<Arc<Credential>> {
        self.statics
            .lookup(access_key_id)
            .or_else(|| self.lookup_in_store(access_key_id).map(Arc::new))
    }
}
