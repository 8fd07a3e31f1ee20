//! The services behind the gateway, created on first use (startup stays instant).
//! Adding a service is one arm in [`Services::dispatch`] and one in [`Services::state`].

use nimbus_core::{RequestContext, SharedClock};
use nimbus_dynamodb::ops::DynamoDb;
use nimbus_iam::{Iam, IamState, Sts};
use nimbus_wire::{AwsError, AwsRequest, AwsResponse};
use tokio::sync::OnceCell;

use crate::errors;
use crate::router::ServiceId;
use crate::store::StoreHandle;

/// A service's state as the health endpoint reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceState {
    Running,
    /// Known to the router (requests get an AWS-shaped error), not served yet.
    Unavailable,
}

impl ServiceState {
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceState::Running => "running",
            ServiceState::Unavailable => "unavailable",
        }
    }
}

/// Every service instance nimbus runs.
pub struct Services {
    store: StoreHandle,
    clock: SharedClock,
    dynamodb: OnceCell<DynamoDb>,
    iam: OnceCell<IamState>,
}

/// How long shutdown waits for DynamoDB background jobs (index backfills, table purges)
/// to reach a stopping point; unfinished ones resume on the next start.
const BACKGROUND_JOBS_GRACE_MS: u64 = 5_000;

impl Services {
    pub fn new(store: StoreHandle, clock: SharedClock) -> Self {
        Services {
            store,
            clock,
            dynamodb: OnceCell::new(),
            iam: OnceCell::new(),
        }
    }

    pub fn state(&self, service: ServiceId) -> ServiceState {
        match service {
            ServiceId::DynamoDb | ServiceId::Sts | ServiceId::Iam => ServiceState::Running,
            _ => ServiceState::Unavailable,
        }
    }

    fn store_unavailable(message: String) -> AwsError {
        let mut e = AwsError::new(
            http::StatusCode::SERVICE_UNAVAILABLE,
            "ServiceUnavailable",
            message,
        );
        e.sender_fault = false;
        e
    }

    async fn dynamodb(&self) -> Result<&DynamoDb, AwsError> {
        self.dynamodb
            .get_or_try_init(|| async {
                let db = self.store.db().await.map_err(Self::store_unavailable)?;
                Ok(DynamoDb::new(db, self.clock.clone()))
            })
            .await
    }

    async fn iam_state(&self) -> Result<&IamState, AwsError> {
        self.iam
            .get_or_try_init(|| async {
                let db = self.store.db().await.map_err(Self::store_unavailable)?;
                Ok(IamState::new(db, self.clock.clone()))
            })
            .await
    }

    /// Runs an authenticated request.
    pub async fn dispatch(
        &self,
        service: ServiceId,
        ctx: &RequestContext,
        req: &AwsRequest,
    ) -> AwsResponse {
        let protocol = service.protocol_for(req);
        let fail = |e: AwsError| {
            errors::encode(
                protocol,
                &errors::for_service(service, protocol, e),
                &ctx.request_id,
            )
        };
        match service {
            ServiceId::DynamoDb => match self.dynamodb().await {
                Ok(svc) => nimbus_model::dynamodb::dispatch(svc, ctx, req).await,
                Err(e) => fail(e),
            },
            ServiceId::Sts => match self.iam_state().await {
                Ok(state) => nimbus_model::sts::dispatch(&Sts::new(state.clone()), ctx, req).await,
                Err(e) => fail(e),
            },
            ServiceId::Iam => match self.iam_state().await {
                Ok(state) => nimbus_model::iam::dispatch(&Iam::new(state.clone()), ctx, req).await,
                Err(e) => fail(e),
            },
            other => fail(errors::service_unavailable(other)),
        }
    }

    /// Lets background work reach a stopping point before the store closes.
    pub async fn shutdown(&self) {
        if let Some(ddb) = self.dynamodb.get() {
            if !ddb.wait_for_background_jobs(BACKGROUND_JOBS_GRACE_MS).await {
                tracing::warn!("DynamoDB background jobs still running at shutdown; they resume on the next start");
            }
        }
    }
}
