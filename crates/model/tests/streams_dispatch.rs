//! The DynamoDB Streams dispatcher: its own target prefix, types and validation.
#![allow(clippy::unwrap_used)]

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use nimbus_core::{Principal, RequestContext};
use nimbus_model::dynamodbstreams::{
    self, AttributeValue, DynamoDbStreamsApi, GetRecordsInput, GetRecordsOutput, OperationType,
    Record, StreamRecord,
};
use nimbus_wire::{AwsError, AwsRequest, AwsResponse};
use serde_json::{json, Value};

struct Streams;

impl DynamoDbStreamsApi for Streams {
    async fn get_records(
        &self,
        _ctx: &RequestContext,
        input: GetRecordsInput,
    ) -> Result<GetRecordsOutput, AwsError> {
        let keys = [(
            "pk".to_string(),
            AttributeValue {
                s: Some("a".into()),
                ..Default::default()
            },
        )]
        .into_iter()
        .collect();
        Ok(GetRecordsOutput {
            records: Some(vec![Record {
                event_id: Some("e1".into()),
                event_name: Some(OperationType::Insert),
                dynamodb: Some(StreamRecord {
                    approximate_creation_date_time: Some(1_700_000_000.5),
                    keys: Some(keys),
                    sequence_number: Some("100".into()),
                    ..Default::default()
                }),
                ..Default::default()
            }]),
            next_shard_iterator: Some(input.shard_iterator),
        })
    }
}

fn call(target: &str, body: Value) -> AwsResponse {
    let mut headers = HeaderMap::new();
    headers.insert("x-amz-target", HeaderValue::from_str(target).unwrap());
    let req = AwsRequest {
        method: Method::POST,
        path: "/".into(),
        query: String::new(),
        headers,
        body: Bytes::from(body.to_string()),
    };
    let ctx = RequestContext {
        account_id: "000000000000".into(),
        region: "us-east-1".into(),
        principal: Principal::root("000000000000", "test"),
        request_id: "R".into(),
    };
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(dynamodbstreams::dispatch(&Streams, &ctx, &req))
}

#[test]
fn get_records_round_trip() {
    let resp = call(
        "DynamoDBStreams_20120810.GetRecords",
        json!({"ShardIterator": "it-1", "Limit": 10}),
    );
    assert_eq!(resp.status, StatusCode::OK);
    let v: Value = serde_json::from_slice(&resp.body).unwrap();
    assert_eq!(
        v,
        json!({
            "Records": [{
                "eventID": "e1",
                "eventName": "INSERT",
                "dynamodb": {
                    "ApproximateCreationDateTime": 1_700_000_000.5,
                    "Keys": {"pk": {"S": "a"}},
                    "SequenceNumber": "100"
                }
            }],
            "NextShardIterator": "it-1"
        })
    );
}

#[test]
fn streams_validation_and_targets() {
    let resp = call(
        "DynamoDBStreams_20120810.GetRecords",
        json!({"ShardIterator": "it-1", "Limit": 0}),
    );
    assert_eq!(resp.status, StatusCode::BAD_REQUEST);
    let v: Value = serde_json::from_slice(&resp.body).unwrap();
    assert_eq!(
        v["message"],
        "1 validation error detected: Value '0' at 'limit' failed to satisfy constraint: Member \
         must have value greater than or equal to 1"
    );
    // The DynamoDB prefix is not this service's.
    let resp = call(
        "DynamoDB_20120810.GetRecords",
        json!({"ShardIterator": "x"}),
    );
    let v: Value = serde_json::from_slice(&resp.body).unwrap();
    assert_eq!(
        v["__type"],
        "com.amazon.coral.service#UnknownOperationException"
    );
}
