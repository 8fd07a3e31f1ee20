"""Hostile and malformed input: AWS's error for each, never a 5xx, a hang or a crash."""

import json
import random

import pytest

import helpers

pytestmark = pytest.mark.filterwarnings("ignore")


def test_malformed_json(raw):
    r = raw("PutItem", b'{"TableName": "x", "Item": {')
    assert r.status == 400
    assert r.error_type == "SerializationException"


@pytest.mark.peer_differs  # dynalite (JavaScript) takes an array body for an object
def test_json_that_is_not_an_object(raw):
    for body in (b"[]", b"42", b'"str"'):
        r = raw("ListTables", body)
        assert r.status == 400, body
        assert r.error_type in ("SerializationException", "ValidationException"), (body, r.body)


@pytest.mark.parametrize("body,fragment", [
    ({"TableName": 5}, "NUMBER_VALUE cannot be converted to String"),
    ({"TableName": True}, "TRUE_VALUE cannot be converted to String"),
    ({"TableName": ["a"]}, "Unrecognized collection type class java.lang.String"),
    ({"TableName": {"a": 1}}, "Start of structure or map found where not expected"),
])
def test_wrong_member_types(raw, body, fragment):
    r = raw("DescribeTable", body)
    assert r.status == 400
    assert r.error_type == "SerializationException"
    assert fragment in r.message


def test_wrong_attribute_value_shape(raw, simple_table):
    r = raw("PutItem", {"TableName": simple_table, "Item": {"pk": {"S": 5}}})
    assert r.status == 400
    assert r.error_type == "SerializationException"


def test_missing_required_member(raw):
    r = raw("GetItem", {"Key": {"pk": {"S": "a"}}})
    assert r.status == 400
    assert r.error_type == "ValidationException"
    assert r.message == ("1 validation error detected: Value null at 'tableName' failed to "
                         "satisfy constraint: Member must not be null")


@pytest.mark.nimbus_only
def test_oversized_body(endpoint, simple_table):
    body = json.dumps({"TableName": simple_table,
                       "Item": {"pk": {"S": "big"}, "d": {"S": "x" * (17 * 1024 * 1024)}}})
    try:
        r = helpers.raw_json_request(endpoint, "PutItem", body, timeout_s=60)
    except Exception as e:  # noqa: BLE001 - a closed connection is an acceptable refusal
        import requests
        assert isinstance(e, requests.exceptions.ConnectionError), e
        return
    assert r.status in (400, 413), r.status
    if r.status == 400:
        assert r.error_type in ("ValidationException", "SerializationException")
    # The server is still there.
    assert helpers.raw_json_request(endpoint, "ListTables", {}).status == 200


@pytest.mark.nimbus_only  # this wedges dynalite's expression parser for minutes
def test_deeply_nested_parentheses(raw, simple_table):
    expr = "(" * 3000 + "attribute_exists(pk)" + ")" * 3000
    r = raw("PutItem", {"TableName": simple_table, "Item": {"pk": {"S": "a"}},
                        "ConditionExpression": expr})
    assert r.status == 400
    assert r.error_type == "ValidationException"
    assert r.message.startswith("Invalid ConditionExpression: "), r.message


@pytest.mark.peer_differs  # dynalite does not enforce the 32-level nesting limit
def test_deep_nesting_of_maps(raw, simple_table):
    value = {"S": "leaf"}
    for _ in range(40):
        value = {"M": {"m": value}}
    r = raw("PutItem", {"TableName": simple_table, "Item": {"pk": {"S": "a"}, "deep": value}})
    assert r.status == 400
    assert r.error_type == "ValidationException"
    assert "Nesting Levels have exceeded supported limits" in r.message


@pytest.mark.nimbus_only
def test_absurdly_deep_json(raw, simple_table):
    deep = '{"M": {"m": ' * 20000 + '{"S": "x"}' + "}}" * 20000
    body = '{"TableName": "%s", "Item": {"pk": {"S": "a"}, "d": %s}}' % (simple_table, deep)
    r = raw("PutItem", body)
    assert r.status == 400
    assert r.error_type in ("ValidationException", "SerializationException")


@pytest.mark.peer_differs  # dynalite does not enforce the 4 KB expression limit
def test_long_expression(raw, simple_table):
    expr = " AND ".join(["attribute_exists(pk)"] * 400)  # > 4 KB
    r = raw("PutItem", {"TableName": simple_table, "Item": {"pk": {"S": "a"}},
                        "ConditionExpression": expr})
    assert r.status == 400
    assert r.error_type == "ValidationException"


OPS = ["PutItem", "GetItem", "UpdateItem", "DeleteItem", "Query", "Scan", "BatchGetItem",
       "BatchWriteItem", "CreateTable", "DescribeTable", "UpdateTable", "ListTables",
       "TransactWriteItems", "TransactGetItems", "DeleteTable", "TagResource"]
FIELDS = ["TableName", "Item", "Key", "KeyConditionExpression", "UpdateExpression",
          "ConditionExpression", "FilterExpression", "ProjectionExpression",
          "ExpressionAttributeNames", "ExpressionAttributeValues", "Limit", "ExclusiveStartKey",
          "RequestItems", "TransactItems", "KeySchema", "AttributeDefinitions", "ReturnValues",
          "Segment", "TotalSegments", "Select", "IndexName", "BillingMode", "ScanIndexForward"]
EXPR_BITS = ["#a", ":v", "a.b[1]", "SET", "REMOVE", "ADD", "DELETE", "=", "<>", "(", ")", ",",
             "AND", "OR", "NOT", "BETWEEN", "IN", "size(", "begins_with(", "if_not_exists(",
             "list_append(", "[", "]", "+", "-", "attribute_exists(", "\u0000", "💥", "9" * 50]


def random_value(rng: random.Random, depth: int = 0, table: str = "t"):
    kind = rng.randrange(12 if depth < 4 else 7)
    if kind == 0:
        return rng.choice([None, True, False])
    if kind == 1:
        return rng.choice([0, -1, 1, 2**63, 1e308, -0.5, 10**40])
    if kind == 2:
        return "".join(rng.choice(EXPR_BITS) + " " for _ in range(rng.randrange(8)))
    if kind == 3:
        return rng.choice(["", table, "x" * 300, "ab", "a b", "ÿ"])
    if kind == 4:
        return {rng.choice(["S", "N", "B", "SS", "NS", "BS", "M", "L", "NULL", "BOOL"]):
                rng.choice(["1", "", "abc", [], ["1", "1"], {}, True, None, "-1e999"])}
    if kind == 5:
        return {"pk": {"S": rng.choice(["", "k", "x" * 3000])}}
    if kind == 6:
        return rng.choice([[], {}, "SET", "ALL_NEW"])
    if kind in (7, 8):
        return [random_value(rng, depth + 1, table) for _ in range(rng.randrange(4))]
    return {rng.choice(FIELDS + ["#a", ":v", "pk", table]): random_value(rng, depth + 1, table)
            for _ in range(rng.randrange(4))}


def test_fuzzish_bodies_never_5xx(raw, simple_table):
    rng = random.Random(20240601)
    failures = []
    for case in range(300):
        op = rng.choice(OPS)
        body = {f: random_value(rng, table=simple_table)
                for f in rng.sample(FIELDS, rng.randrange(1, 6))}
        if rng.random() < 0.7:
            body["TableName"] = simple_table
        text = json.dumps(body)
        if rng.random() < 0.1:  # truncated or corrupted JSON
            cut = rng.randrange(len(text))
            text = text[:cut] + rng.choice(["", "\x00", "}", "\ud800".encode("utf-8",
                                                                                "surrogatepass")
                                            .decode("latin-1")])
        r = raw(op, text)
        if r.status >= 500:
            failures.append((case, op, text[:300], r.status, r.body[:300]))
        elif r.status >= 400:
            if not r.error_type:
                failures.append((case, op, text[:300], r.status, "no __type", r.body[:300]))
    assert failures == []
