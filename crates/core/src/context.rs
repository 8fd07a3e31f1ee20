//! Who is calling, in which account and region: decided by the wire layer from the
//! SigV4 credential scope, handed to every service operation.

/// What kind of identity signed the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrincipalKind {
    /// The account root (the built-in `test` key, or an unknown key on a loopback bind).
    Root,
    /// An IAM user's long-term access key.
    User { user_name: String, user_id: String },
    /// Temporary credentials of an assumed role.
    AssumedRole {
        role_name: String,
        session_name: String,
        role_id: String,
    },
}

/// The authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub account_id: String,
    pub access_key_id: String,
    pub kind: PrincipalKind,
}

impl Principal {
    pub fn root(account_id: &str, access_key_id: &str) -> Self {
        Self {
            account_id: account_id.to_string(),
            access_key_id: access_key_id.to_string(),
            kind: PrincipalKind::Root,
        }
    }

    /// The ARN STS `GetCallerIdentity` reports for this principal.
    pub fn arn(&self) -> String {
        match &self.kind {
            PrincipalKind::Root => format!("arn:aws:iam::{}:root", self.account_id),
            PrincipalKind::User { user_name, .. } => {
                format!("arn:aws:iam::{}:user/{}", self.account_id, user_name)
            }
            PrincipalKind::AssumedRole {
                role_name,
                session_name,
                ..
            } => format!(
                "arn:aws:sts::{}:assumed-role/{}/{}",
                self.account_id, role_name, session_name
            ),
        }
    }

    /// The `UserId` STS `GetCallerIdentity` reports.
    pub fn user_id(&self) -> String {
        match &self.kind {
            PrincipalKind::Root => self.account_id.clone(),
            PrincipalKind::User { user_id, .. } => user_id.clone(),
            PrincipalKind::AssumedRole {
                role_id,
                session_name,
                ..
            } => format!("{role_id}:{session_name}"),
        }
    }
}

/// Per-request facts every operation needs.
#[derive(Debug, Clone)]
pub struct RequestContext {
    pub account_id: String,
    pub region: String,
    pub principal: Principal,
    /// The `x-amzn-RequestId` / `x-amz-request-id` this request answers with.
    pub request_id: String,
}
