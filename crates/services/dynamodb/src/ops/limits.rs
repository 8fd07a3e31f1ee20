//! DescribeLimits and DescribeEndpoints.

use nimbus_core::RequestContext;
use nimbus_model::dynamodb as m;

use crate::error::DynamoDbError;
use crate::ops::DynamoDb;

/// AWS's default per-account, per-region capacity quotas (provisioned mode).
pub const ACCOUNT_MAX_READ_CAPACITY_UNITS: i64 = 80_000;
pub const ACCOUNT_MAX_WRITE_CAPACITY_UNITS: i64 = 80_000;
pub const TABLE_MAX_READ_CAPACITY_UNITS: i64 = 40_000;
pub const TABLE_MAX_WRITE_CAPACITY_UNITS: i64 = 40_000;
/// How long clients may cache DescribeEndpoints' answer (AWS says a day).
pub const ENDPOINT_CACHE_PERIOD_MINUTES: i64 = 1440;

pub async fn describe_limits(
    _svc: &DynamoDb,
    _ctx: &RequestContext,
    _input: m::DescribeLimitsInput,
) -> Result<m::DescribeLimitsOutput, DynamoDbError> {
    Ok(m::DescribeLimitsOutput {
        account_max_read_capacity_units: Some(ACCOUNT_MAX_READ_CAPACITY_UNITS),
        account_max_write_capacity_units: Some(ACCOUNT_MAX_WRITE_CAPACITY_UNITS),
        table_max_read_capacity_units: Some(TABLE_MAX_READ_CAPACITY_UNITS),
        table_max_write_capacity_units: Some(TABLE_MAX_WRITE_CAPACITY_UNITS),
    })
}

/// The region's endpoint as AWS names it. Clients that honour endpoint discovery keep
/// using the endpoint they were configured with when it is overridden (as with nimbus).
pub async fn describe_endpoints(
    _svc: &DynamoDb,
    ctx: &RequestContext,
    _input: m::DescribeEndpointsRequest,
) -> Result<m::DescribeEndpointsResponse, DynamoDbError> {
    Ok(m::DescribeEndpointsResponse {
        endpoints: vec![m::Endpoint {
            address: format!("dynamodb.{}.amazonaws.com", ctx.region),
            cache_period_in_minutes: ENDPOINT_CACHE_PERIOD_MINUTES,
        }],
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::ops::tables::tests::{ctx, svc};

    #[tokio::test]
    async fn limits_and_endpoints() {
        let s = svc();
        let l = describe_limits(&s, &ctx(), m::DescribeLimitsInput::default())
            .await
            .unwrap();
        assert_eq!(l.account_max_read_capacity_units, Some(80_000));
        assert_eq!(l.table_max_write_capacity_units, Some(40_000));
        let e = describe_endpoints(&s, &ctx(), m::DescribeEndpointsRequest::default())
            .await
            .unwrap();
        assert_eq!(e.endpoints[0].address, "dynamodb.us-east-1.amazonaws.com");
        assert_eq!(e.endpoints[0].cache_period_in_minutes, 1440);
    }
}
