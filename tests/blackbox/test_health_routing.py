"""The one port: health endpoint, and AWS-shaped answers for what is not there."""

import json

import botocore.exceptions
import pytest

import helpers


@pytest.mark.nimbus_only
def test_health_answers_json(endpoint):
    status, body = helpers.health(endpoint)
    assert status == 200
    doc = json.loads(body)
    assert isinstance(doc, dict)
    assert isinstance(doc.get("version"), str) and doc["version"]
    # Each service and its state: the services this issue brings must be listed.
    services = json.dumps(doc.get("services"))
    for name in ("dynamodb", "sts", "iam"):
        assert name in services, f"{name} missing from health: {doc}"


@pytest.mark.nimbus_only
def test_health_content_type(endpoint):
    r = helpers.raw_request("GET", endpoint + "/_nimbus/health", key=None)
    assert r.status == 200
    assert r.headers.get("Content-Type", "").startswith("application/json")


@pytest.mark.nimbus_only
def test_unknown_service_json_protocol_gets_aws_error(endpoint):
    """SQS speaks awsJson 1.0 in current botocore: the client must get an error it can
    parse, not a hang, an HTML page or a connection reset."""
    sqs = helpers.client("sqs", endpoint)
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        sqs.list_queues()
    code, _msg = helpers.error_of(ei.value)
    assert code, ei.value.response
    assert helpers.status_of(ei.value) in (400, 403, 404, 501)


@pytest.mark.nimbus_only
def test_unknown_service_query_protocol_gets_aws_error(endpoint):
    sns = helpers.client("sns", endpoint)
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        sns.list_topics()
    code, _msg = helpers.error_of(ei.value)
    assert code, ei.value.response
    assert helpers.status_of(ei.value) in (400, 403, 404, 501)


def test_unknown_dynamodb_operation(raw):
    r = raw("DynamoDB_20120810.NoSuchOperation", {})
    assert r.status == 400
    assert r.error_type == "UnknownOperationException"


def test_responses_carry_request_id(ddb):
    resp = ddb.list_tables(Limit=1)
    assert resp["ResponseMetadata"]["RequestId"]
