//! Round trips through the generated DynamoDB dispatcher: real request bytes in, the
//! exact AWS response bytes out.
#![allow(clippy::unwrap_used)]

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use nimbus_core::{Principal, RequestContext};
use nimbus_model::dynamodb::{
    self, AttributeValue, DynamoDbApi, GetItemInput, GetItemOutput, KeyType, PutItemInput,
    PutItemOutput,
};
use nimbus_wire::{AwsError, AwsRequest, AwsResponse};
use serde_json::{json, Value};

struct Svc;

impl DynamoDbApi for Svc {
    async fn get_item(
        &self,
        _ctx: &RequestContext,
        input: GetItemInput,
    ) -> Result<GetItemOutput, AwsError> {
        if input.table_name == "missing" {
            return Err(dynamodb::errors::resource_not_found_exception(
                "Requested resource not found",
            ));
        }
        // Echo the key back as the item, plus a number.
        let mut item = input.key.clone();
        item.insert(
            "n".into(),
            AttributeValue {
                n: Some("42".into()),
                ..Default::default()
            },
        );
        Ok(GetItemOutput {
            item: Some(item),
            ..Default::default()
        })
    }

    async fn put_item(
        &self,
        _ctx: &RequestContext,
        input: PutItemInput,
    ) -> Result<PutItemOutput, AwsError> {
        assert!(!input.item.is_empty());
        Ok(PutItemOutput::default())
    }
}

fn ctx() -> RequestContext {
    RequestContext {
        account_id: "000000000000".into(),
        region: "us-east-1".into(),
        principal: Principal::root("000000000000", "test"),
        request_id: "REQ1".into(),
    }
}

fn request(target: &str, body: &str) -> AwsRequest {
    let mut headers = HeaderMap::new();
    headers.insert("x-amz-target", HeaderValue::from_str(target).unwrap());
    headers.insert(
        "content-type",
        HeaderValue::from_static("application/x-amz-json-1.0"),
    );
    AwsRequest {
        method: Method::POST,
        path: "/".into(),
        query: String::new(),
        headers,
        body: Bytes::from(body.to_string()),
    }
}

fn call(target: &str, body: &str) -> AwsResponse {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(dynamodb::dispatch(&Svc, &ctx(), &request(target, body)))
}

fn body_json(resp: &AwsResponse) -> Value {
    serde_json::from_slice(&resp.body).unwrap()
}

fn assert_crc(resp: &AwsResponse) {
    let crc = resp.headers["x-amz-crc32"].to_str().unwrap();
    assert_eq!(crc, crc32fast::hash(&resp.body).to_string());
    assert_eq!(resp.headers["x-amzn-requestid"], "REQ1");
}

fn validation(target: &str, body: Value) -> String {
    let resp = call(target, &body.to_string());
    assert_eq!(resp.status, StatusCode::BAD_REQUEST, "{resp:?}");
    let v = body_json(&resp);
    assert_eq!(
        v["__type"], "com.amazon.coral.validate#ValidationException",
        "{v}"
    );
    v["message"].as_str().unwrap().to_string()
}

fn serialization(target: &str, body: &str) -> Value {
    let resp = call(target, body);
    assert_eq!(resp.status, StatusCode::BAD_REQUEST);
    let v = body_json(&resp);
    assert_eq!(
        v["__type"],
        "com.amazon.coral.service#SerializationException"
    );
    v
}

#[test]
fn get_item_round_trip() {
    let resp = call(
        "DynamoDB_20120810.GetItem",
        r#"{"TableName":"tbl","Key":{"pk":{"S":"a"}}}"#,
    );
    assert_eq!(resp.status, StatusCode::OK);
    assert_crc(&resp);
    assert_eq!(resp.headers["content-type"], "application/x-amz-json-1.0");
    assert_eq!(
        body_json(&resp),
        json!({"Item": {"pk": {"S": "a"}, "n": {"N": "42"}}})
    );
}

#[test]
fn service_errors_are_qualified() {
    let resp = call(
        "DynamoDB_20120810.GetItem",
        r#"{"TableName":"missing","Key":{"pk":{"S":"a"}}}"#,
    );
    assert_eq!(resp.status, StatusCode::BAD_REQUEST);
    assert_crc(&resp);
    assert_eq!(
        std::str::from_utf8(&resp.body).unwrap(),
        r#"{"__type":"com.amazonaws.dynamodb.v20120810#ResourceNotFoundException","message":"Requested resource not found"}"#
    );
}

#[test]
fn unknown_and_missing_targets() {
    for target in [
        "DynamoDB_20120810.Nope",
        "Other_20120810.GetItem",
        "garbage",
    ] {
        let resp = call(target, "{}");
        assert_eq!(resp.status, StatusCode::BAD_REQUEST);
        assert_eq!(
            std::str::from_utf8(&resp.body).unwrap(),
            r#"{"__type":"com.amazon.coral.service#UnknownOperationException"}"#
        );
    }
}

#[test]
fn unimplemented_operations_say_so() {
    let resp = call("DynamoDB_20120810.ListBackups", "{}");
    assert_eq!(resp.status, StatusCode::NOT_IMPLEMENTED);
    let v = body_json(&resp);
    assert_eq!(
        v["__type"],
        "com.amazonaws.dynamodb.v20120810#NotImplementedException"
    );
}

#[test]
fn not_json_is_a_serialization_error() {
    let v = serialization("DynamoDB_20120810.GetItem", "{not json");
    assert_eq!(
        v,
        json!({"__type": "com.amazon.coral.service#SerializationException"})
    );
}

#[test]
fn type_errors_are_serialization_errors() {
    let v = serialization(
        "DynamoDB_20120810.GetItem",
        r#"{"TableName":23,"Key":{"pk":{"S":"a"}}}"#,
    );
    assert_eq!(v["Message"], "NUMBER_VALUE cannot be converted to String");
    let v = serialization("DynamoDB_20120810.CreateTable", r#"{"KeySchema":"x"}"#);
    assert_eq!(v["Message"], "Unexpected field type");
    let v = serialization("DynamoDB_20120810.CreateTable", r#"{"KeySchema":["x"]}"#);
    assert_eq!(v["Message"], "Unexpected value type in payload");
    let v = serialization(
        "DynamoDB_20120810.CreateTable",
        r#"{"ProvisionedThroughput":[]}"#,
    );
    assert_eq!(
        v["Message"],
        "Unrecognized collection type class com.amazonaws.dynamodb.v20120810.ProvisionedThroughput"
    );
    let v = serialization("DynamoDB_20120810.GetItem", r#"{"Key":[]}"#);
    assert_eq!(
        v["Message"],
        "Unrecognized collection type java.util.Map<java.lang.String, com.amazonaws.dynamodb.v20120810.AttributeValue>"
    );
    let v = serialization(
        "DynamoDB_20120810.GetItem",
        r#"{"TableName":"abc","Key":{"a":{"S":true}}}"#,
    );
    assert_eq!(v["Message"], "TRUE_VALUE cannot be converted to String");
    let v = serialization(
        "DynamoDB_20120810.GetItem",
        r#"{"TableName":"abc","Key":{"a":{"B":"abc"}}}"#,
    );
    assert_eq!(
        v["Message"],
        "Base64 encoded length is expected a multiple of 4 bytes but found: 3"
    );
}

#[test]
fn table_name_checks() {
    assert_eq!(
        validation(
            "DynamoDB_20120810.DescribeTable",
            json!({"TableName": "ab"})
        ),
        "1 validation error detected: Value 'ab' at 'tableName' failed to satisfy constraint: \
         Member must have length greater than or equal to 3"
    );
    assert_eq!(
        validation("DynamoDB_20120810.DescribeTable", json!({})),
        "1 validation error detected: Value null at 'tableName' failed to satisfy constraint: \
         Member must not be null"
    );
    assert_eq!(
        validation(
            "DynamoDB_20120810.DescribeTable",
            json!({"TableName": "abc;"})
        ),
        "1 validation error detected: Value 'abc;' at 'tableName' failed to satisfy constraint: \
         Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+"
    );
    // ARNs are checked as ARNs, not as names.
    let resp = call(
        "DynamoDB_20120810.GetItem",
        r#"{"TableName":"arn:aws:dynamodb:us-east-1:000000000000:table/t","Key":{"pk":{"S":"a"}}}"#,
    );
    assert_eq!(resp.status, StatusCode::OK);
}

#[test]
fn list_limits_and_nested_paths() {
    let msg = validation(
        "DynamoDB_20120810.ListTables",
        json!({"Limit": 2_147_483_647_i64, "ExclusiveStartTableName": "89hls;;f;d"}),
    );
    assert_eq!(
        msg,
        "2 validation errors detected: Value '89hls;;f;d' at 'exclusiveStartTableName' failed to \
         satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+; \
         Value '2147483647' at 'limit' failed to satisfy constraint: Member must have value less \
         than or equal to 100"
    );

    // The model dropped KeySchema's maximum of 2 (multi-attribute keys), so only the
    // elements are checked here; the rendering of a list of structures is checked with
    // an empty list below.
    let msg = validation(
        "DynamoDB_20120810.CreateTable",
        json!({
            "TableName": "abc",
            "AttributeDefinitions": [],
            "KeySchema": [{"KeyType": "HASH"}, {"AttributeName": "a"}, {"KeyType": "Woop", "AttributeName": "a"}],
            "BillingMode": "PAY_PER_REQUEST"
        }),
    );
    assert_eq!(
        msg,
        "3 validation errors detected: Value null at 'keySchema.1.member.attributeName' failed to \
         satisfy constraint: Member must not be null; Value null at 'keySchema.2.member.keyType' \
         failed to satisfy constraint: Member must not be null; Value 'Woop' at \
         'keySchema.3.member.keyType' failed to satisfy constraint: Member must satisfy enum value \
         set: [HASH, RANGE]"
    );
    let msg = validation(
        "DynamoDB_20120810.CreateTable",
        json!({"TableName": "abc", "KeySchema": [], "AttributeDefinitions": [{"AttributeName": "a"}]}),
    );
    assert_eq!(
        msg,
        "2 validation errors detected: Value '[]' at 'keySchema' failed to satisfy constraint: \
         Member must have length greater than or equal to 1; Value null at \
         'attributeDefinitions.1.member.attributeType' failed to satisfy constraint: Member must \
         not be null"
    );
    let msg = validation(
        "DynamoDB_20120810.UpdateTable",
        json!({"TableName": "abc", "GlobalSecondaryIndexUpdates": [
            {"Create": {"IndexName": "ix", "KeySchema": [{"AttributeName": "a", "KeyType": "HASH"}],
                        "Projection": {"ProjectionType": "ALL"}}}
        ]}),
    );
    assert_eq!(
        msg,
        "1 validation error detected: Value 'ix' at \
         'globalSecondaryIndexUpdates.1.member.create.indexName' failed to satisfy constraint: \
         Member must have length greater than or equal to 3"
    );
}

#[test]
fn provisioned_throughput_ranges() {
    let msg = validation(
        "DynamoDB_20120810.CreateTable",
        json!({
            "TableName": "abc",
            "AttributeDefinitions": [{"AttributeName": "a", "AttributeType": "S"}],
            "KeySchema": [{"AttributeName": "a", "KeyType": "HASH"}],
            "ProvisionedThroughput": {"ReadCapacityUnits": -1, "WriteCapacityUnits": 0}
        }),
    );
    assert_eq!(
        msg,
        "2 validation errors detected: Value '0' at 'provisionedThroughput.writeCapacityUnits' \
         failed to satisfy constraint: Member must have value greater than or equal to 1; Value \
         '-1' at 'provisionedThroughput.readCapacityUnits' failed to satisfy constraint: Member \
         must have value greater than or equal to 1"
    );
}

#[test]
fn map_keys_and_values_are_reported_at_the_map() {
    let msg = validation(
        "DynamoDB_20120810.BatchWriteItem",
        json!({"RequestItems": {"a": []}}),
    );
    assert_eq!(
        msg,
        "2 validation errors detected: Value '{a=[]}' at 'requestItems' failed to satisfy \
         constraint: Map value must satisfy constraint: [Member must have length less than or \
         equal to 25, Member must have length greater than or equal to 1]; Value '{a=[]}' at \
         'requestItems' failed to satisfy constraint: Map keys must satisfy constraint: [Member \
         must have length less than or equal to 255, Member must have length greater than or \
         equal to 3, Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+]"
    );
    let msg = validation(
        "DynamoDB_20120810.BatchWriteItem",
        json!({"RequestItems": {}}),
    );
    assert_eq!(
        msg,
        "1 validation error detected: Value '{}' at 'requestItems' failed to satisfy constraint: \
         Member must have length greater than or equal to 1"
    );
}

#[test]
fn attribute_values_are_not_constraint_checked_and_echo_as_identity() {
    // An empty AttributeValue passes the request layer; DynamoDB itself rejects it later.
    let resp = call(
        "DynamoDB_20120810.PutItem",
        r#"{"TableName":"abc","Item":{"a":{}}}"#,
    );
    assert_eq!(resp.status, StatusCode::OK);
    let msg = validation(
        "DynamoDB_20120810.PutItem",
        json!({"TableName": "ab", "Item": {"a": {"S": "x"}}, "ReturnValues": "NOPE"}),
    );
    assert_eq!(
        msg,
        "2 validation errors detected: Value 'NOPE' at 'returnValues' failed to satisfy \
         constraint: Member must satisfy enum value set: [NONE, ALL_OLD, UPDATED_OLD, ALL_NEW, \
         UPDATED_NEW]; Value 'ab' at 'tableName' failed to satisfy constraint: Member must have \
         length greater than or equal to 3"
    );
}

/// Messages as DynamoDB itself answers them (captured from the service): member order,
/// constraint order, enum value order and paths must all match.
#[test]
fn messages_observed_from_aws() {
    let cases = [
        (
            "DescribeTable",
            json!({"TableName": ""}),
            "2 validation errors detected: Value '' at 'tableName' failed to satisfy constraint: \
             Member must have length greater than or equal to 3; Value '' at 'tableName' failed \
             to satisfy constraint: Member must satisfy regular expression pattern: \
             [a-zA-Z0-9_.-]+",
        ),
        (
            "ListTables",
            json!({"ExclusiveStartTableName": ""}),
            "2 validation errors detected: Value '' at 'exclusiveStartTableName' failed to \
             satisfy constraint: Member must satisfy regular expression pattern: \
             [a-zA-Z0-9_.-]+; Value '' at 'exclusiveStartTableName' failed to satisfy \
             constraint: Member must have length greater than or equal to 3",
        ),
        (
            "ListTables",
            json!({"Limit": 0}),
            "1 validation error detected: Value '0' at 'limit' failed to satisfy constraint: \
             Member must have value greater than or equal to 1",
        ),
        (
            "CreateTable",
            json!({"TableName": "abc", "AttributeDefinitions": [{}], "KeySchema": [{"AttributeName": "a", "KeyType": "HASH"}]}),
            "2 validation errors detected: Value null at \
             'attributeDefinitions.1.member.attributeType' failed to satisfy constraint: Member \
             must not be null; Value null at 'attributeDefinitions.1.member.attributeName' failed \
             to satisfy constraint: Member must not be null",
        ),
        (
            "CreateTable",
            json!({"TableName": "abc", "KeySchema": [{}]}),
            "2 validation errors detected: Value null at 'keySchema.1.member.attributeName' \
             failed to satisfy constraint: Member must not be null; Value null at \
             'keySchema.1.member.keyType' failed to satisfy constraint: Member must not be null",
        ),
        (
            "CreateTable",
            json!({"TableName": "abc", "BillingMode": ""}),
            "1 validation error detected: Value '' at 'billingMode' failed to satisfy \
             constraint: Member must satisfy enum value set: [PROVISIONED, PAY_PER_REQUEST]",
        ),
        (
            "CreateTable",
            json!({"TableName": "abc", "StreamSpecification": {"StreamEnabled": true, "StreamViewType": ""}}),
            "1 validation error detected: Value '' at 'streamSpecification.streamViewType' \
             failed to satisfy constraint: Member must satisfy enum value set: [OLD_IMAGE, \
             KEYS_ONLY, NEW_AND_OLD_IMAGES, NEW_IMAGE]",
        ),
        (
            "CreateTable",
            json!({"TableName": "abc", "SSESpecification": {"KMSMasterKeyId": ""}}),
            "1 validation error detected: Value '' at 'sSESpecification.kMSMasterKeyId' failed \
             to satisfy constraint: Member must have length greater than or equal to 1",
        ),
        (
            "UpdateTable",
            json!({"TableName": "abc", "AttributeDefinitions": [{"AttributeName": "a", "AttributeType": ""}]}),
            "1 validation error detected: Value '' at \
             'attributeDefinitions.1.member.attributeType' failed to satisfy constraint: Member \
             must satisfy enum value set: [B, N, S]",
        ),
        (
            "UpdateTable",
            json!({"TableName": "abc", "GlobalSecondaryIndexUpdates": [{"Update": {"IndexName": "gsi1", "ProvisionedThroughput": {}}}]}),
            "2 validation errors detected: Value null at \
             'globalSecondaryIndexUpdates.1.member.update.provisionedThroughput.writeCapacityUnits' \
             failed to satisfy constraint: Member must not be null; Value null at \
             'globalSecondaryIndexUpdates.1.member.update.provisionedThroughput.readCapacityUnits' \
             failed to satisfy constraint: Member must not be null",
        ),
        (
            "UpdateTimeToLive",
            json!({"TableName": "abc", "TimeToLiveSpecification": {}}),
            "2 validation errors detected: Value null at 'timeToLiveSpecification.attributeName' \
             failed to satisfy constraint: Member must not be null; Value null at \
             'timeToLiveSpecification.enabled' failed to satisfy constraint: Member must not be \
             null",
        ),
        (
            "UpdateContinuousBackups",
            json!({"TableName": "abc", "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": true, "RecoveryPeriodInDays": -1}}),
            "1 validation error detected: Value '-1' at \
             'pointInTimeRecoverySpecification.recoveryPeriodInDays' failed to satisfy \
             constraint: Member must have value greater than or equal to 1",
        ),
        (
            "CreateBackup",
            json!({"TableName": "abc", "BackupName": ""}),
            "2 validation errors detected: Value '' at 'backupName' failed to satisfy \
             constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+; Value \
             '' at 'backupName' failed to satisfy constraint: Member must have length greater \
             than or equal to 3",
        ),
    ];
    for (op, body, expected) in cases {
        assert_eq!(
            validation(&format!("DynamoDB_20120810.{op}"), body),
            expected,
            "{op}"
        );
    }
}

#[test]
fn typed_values_decode() {
    let input: PutItemInput = nimbus_model::runtime::json::decode_value(json!({
        "TableName": "abc",
        "Item": {
            "b": {"B": "AAEC"},
            "l": {"L": [{"N": "1"}, {"BOOL": true}, {"NULL": true}]},
            "m": {"M": {"x": {"SS": ["a", "b"]}}}
        }
    }))
    .unwrap();
    assert_eq!(input.item["b"].b.as_deref(), Some(&[0u8, 1, 2][..]));
    assert_eq!(input.item["l"].l.as_ref().unwrap().len(), 3);
    assert_eq!(
        input.item["m"].m.as_ref().unwrap()["x"].ss.as_deref(),
        Some(&["a".to_string(), "b".to_string()][..])
    );
    assert_eq!(KeyType::from("HASH"), KeyType::Hash);
    assert_eq!(KeyType::from("x").as_str(), "x");
}
