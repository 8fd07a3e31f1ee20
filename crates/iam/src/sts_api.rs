//! STS: who am I, session tokens, and assumed roles. Temporary credentials are stored
//! (`iam/s/<key id>`) so the gateway can verify requests signed with them.

use http::StatusCode;
use nimbus_core::{PrincipalKind, RequestContext};
use nimbus_model::sts::{self as m, StsApi};
use nimbus_wire::AwsError;

use crate::ids;
use crate::policy;
use crate::records::{self, RoleRecord, SessionPrincipal, SessionRecord};
use crate::service::{split_iam_arn, validation_error, Fail, IamState};

/// GetSessionToken's default lifetime: 12 hours.
pub const DEFAULT_SESSION_TOKEN_SECS: i32 = 43_200;
/// The account root's sessions last at most an hour (longer requests are cut to that).
pub const MAX_ROOT_SESSION_SECS: i32 = 3_600;
/// AssumeRole's default lifetime: 1 hour.
pub const DEFAULT_ASSUME_ROLE_SECS: i32 = 3_600;
/// Largest packed session policy, in characters, that PackedPolicySize is relative to.
const PACKED_POLICY_BUDGET_CHARS: usize = 2_048;

/// The STS service.
#[derive(Clone)]
pub struct Sts {
    state: IamState,
}

impl Sts {
    pub fn new(state: IamState) -> Self {
        Sts { state }
    }

    async fn issue(
        &self,
        account_id: String,
        principal: SessionPrincipal,
        duration_secs: i32,
        source_access_key_id: String,
    ) -> Result<m::Credentials, AwsError> {
        let now_secs = self.state.now_millis().div_euclid(1000);
        let expires_secs = now_secs + i64::from(duration_secs);
        let rec = SessionRecord {
            access_key_id: ids::temporary_access_key_id(),
            secret_access_key: ids::secret_access_key(),
            session_token: ids::session_token(),
            account_id,
            principal,
            expires_at_millis: expires_secs * 1000,
            source_access_key_id: Some(source_access_key_id),
        };
        let stored = rec.clone();
        self.state
            .db
            .write(move |txn| {
                records::put(txn, &records::session_key(&stored.access_key_id), &stored)?;
                Ok::<_, Fail>(())
            })
            .await
            .map_err(Fail::into_aws)?;
        Ok(m::Credentials {
            access_key_id: rec.access_key_id,
            secret_access_key: rec.secret_access_key,
            session_token: rec.session_token,
            expiration: expires_secs as f64,
        })
    }
}

fn access_denied(message: impl Into<String>) -> AwsError {
    AwsError::new(StatusCode::FORBIDDEN, "AccessDenied", message)
}

fn is_temporary(ctx: &RequestContext) -> bool {
    ctx.principal.access_key_id.starts_with("ASIA")
        || matches!(ctx.principal.kind, PrincipalKind::AssumedRole { .. })
}

impl StsApi for Sts {
    async fn get_caller_identity(
        &self,
        ctx: &RequestContext,
        _input: m::GetCallerIdentityRequest,
    ) -> Result<m::GetCallerIdentityResponse, AwsError> {
        Ok(m::GetCallerIdentityResponse {
            user_id: Some(ctx.principal.user_id()),
            account: Some(ctx.account_id.clone()),
            arn: Some(ctx.principal.arn()),
        })
    }

    async fn get_session_token(
        &self,
        ctx: &RequestContext,
        input: m::GetSessionTokenRequest,
    ) -> Result<m::GetSessionTokenResponse, AwsError> {
        if is_temporary(ctx) {
            return Err(access_denied(
                "Cannot call GetSessionToken with session credentials",
            ));
        }
        let mut duration = input.duration_seconds.unwrap_or(DEFAULT_SESSION_TOKEN_SECS);
        let principal = match &ctx.principal.kind {
            PrincipalKind::Root => {
                duration = duration.min(MAX_ROOT_SESSION_SECS);
                SessionPrincipal::Root
            }
            PrincipalKind::User { user_name, user_id } => SessionPrincipal::User {
                user_name: user_name.clone(),
                user_id: user_id.clone(),
            },
            PrincipalKind::AssumedRole { .. } => {
                return Err(access_denied(
                    "Cannot call GetSessionToken with session credentials",
                ))
            }
        };
        let credentials = self
            .issue(
                ctx.account_id.clone(),
                principal,
                duration,
                ctx.principal.access_key_id.clone(),
            )
            .await?;
        Ok(m::GetSessionTokenResponse {
            credentials: Some(credentials),
            ..Default::default()
        })
    }

    async fn assume_role(
        &self,
        ctx: &RequestContext,
        input: m::AssumeRoleRequest,
    ) -> Result<m::AssumeRoleResponse, AwsError> {
        let denied = || {
            access_denied(format!(
                "User: {} is not authorized to perform: sts:AssumeRole on resource: {}",
                ctx.principal.arn(),
                input.role_arn
            ))
        };
        let Some((account, _path, role_name)) = split_iam_arn(&input.role_arn, "role") else {
            return Err(validation_error(format!("{} is invalid", input.role_arn)));
        };
        let snap = self.state.snapshot().map_err(Fail::into_aws)?;
        let role: Option<RoleRecord> =
            records::get(snap.as_ref(), &records::role_key(account, role_name))
                .map_err(|e| Fail::Store(e).into_aws())?;
        drop(snap);
        // Trust policies are not evaluated yet; the role must exist.
        let role = role.filter(|r| r.name == role_name).ok_or_else(denied)?;
        let duration = input.duration_seconds.unwrap_or(DEFAULT_ASSUME_ROLE_SECS);
        if duration > role.max_session_duration {
            return Err(validation_error(
                "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
            ));
        }
        let packed_policy_size = match &input.policy {
            Some(doc) => {
                policy::validate(doc).map_err(|_| {
                    m::errors::malformed_policy_document_exception(
                        "The policy is not in the valid JSON format.",
                    )
                })?;
                let pct = policy::counted_chars(doc) * 100 / PACKED_POLICY_BUDGET_CHARS;
                if pct > 100 {
                    return Err(m::errors::packed_policy_too_large_exception(format!(
                        "Packed policy consumes {pct}% of allotted space, please use smaller policy for session."
                    )));
                }
                Some(i32::try_from(pct).unwrap_or(100))
            }
            None => None,
        };
        let credentials = self
            .issue(
                account.to_string(),
                SessionPrincipal::AssumedRole {
                    role_name: role.name.clone(),
                    role_id: role.role_id.clone(),
                    session_name: input.role_session_name.clone(),
                },
                duration,
                ctx.principal.access_key_id.clone(),
            )
            .await?;
        Ok(m::AssumeRoleResponse {
            credentials: Some(credentials),
            assumed_role_user: Some(m::AssumedRoleUser {
                assumed_role_id: format!("{}:{}", role.role_id, input.role_session_name),
                arn: format!(
                    "arn:aws:sts::{account}:assumed-role/{}/{}",
                    role.name, input.role_session_name
                ),
            }),
            packed_policy_size,
            source_identity: input.source_identity.clone(),
            ..Default::default()
        })
    }
}
