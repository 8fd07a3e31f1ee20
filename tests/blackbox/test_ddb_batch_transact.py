"""BatchGetItem/BatchWriteItem limits and semantics; TransactWriteItems/TransactGetItems."""

import re
import threading

import botocore.exceptions
import pytest

import helpers


expect = helpers.expect_ddb_error


def key(i):
    return {"pk": {"S": f"k{i}"}}


# --------------------------------------------------------------------------- batches


def test_batch_write_then_get(ddb, simple_table, uniq):
    other = uniq("other")
    helpers.create_table(ddb, other)
    r = ddb.batch_write_item(RequestItems={
        simple_table: [{"PutRequest": {"Item": {**key(i), "v": {"N": str(i)}}}}
                       for i in range(20)],
        other: [{"PutRequest": {"Item": {**key(0), "o": {"BOOL": True}}}}],
    })
    assert r["UnprocessedItems"] == {}

    r = ddb.batch_get_item(RequestItems={
        simple_table: {"Keys": [key(i) for i in range(0, 25)], "ConsistentRead": True},
        other: {"Keys": [key(0)], "ProjectionExpression": "o"},
    })
    assert r["UnprocessedKeys"] == {}
    got = sorted(int(i["v"]["N"]) for i in r["Responses"][simple_table])
    assert got == list(range(20))  # the 5 missing keys are simply absent
    assert r["Responses"][other] == [{"o": {"BOOL": True}}]

    r = ddb.batch_write_item(RequestItems={
        simple_table: [{"DeleteRequest": {"Key": key(i)}} for i in range(10)]})
    assert r["UnprocessedItems"] == {}
    assert len(helpers.scan_all(ddb, TableName=simple_table)) == 10


def test_batch_get_more_than_100_keys_in_one_table(ddb, simple_table):
    err = expect(ddb.batch_get_item, "ValidationException",
                 RequestItems={simple_table: {"Keys": [key(i) for i in range(101)]}})
    msg = helpers.error_of(err)[1]
    assert msg.startswith("1 validation error detected: Value '"), msg
    assert msg.endswith(
        f"' at 'requestItems.{simple_table}.member.keys' failed to satisfy constraint: "
        "Member must have length less than or equal to 100"), msg


def test_batch_get_more_than_100_keys_across_tables(ddb, simple_table, uniq):
    other = uniq("other")
    helpers.create_table(ddb, other)
    expect(ddb.batch_get_item, "ValidationException",
           "Too many items requested for the BatchGetItem call",
           RequestItems={simple_table: {"Keys": [key(i) for i in range(51)]},
                         other: {"Keys": [key(i) for i in range(50)]}})


def test_batch_write_more_than_25_in_one_table(ddb, simple_table):
    err = expect(ddb.batch_write_item, "ValidationException", RequestItems={
        simple_table: [{"PutRequest": {"Item": key(i)}} for i in range(26)]})
    msg = helpers.error_of(err)[1]
    assert msg.startswith("1 validation error detected: Value '{"), msg
    assert msg.endswith(
        "' at 'requestItems' failed to satisfy constraint: Map value must satisfy constraint: "
        "[Member must have length less than or equal to 25, "
        "Member must have length greater than or equal to 1]"), msg


@pytest.mark.peer_differs  # dynalite does not count requests across tables
def test_batch_write_more_than_25_across_tables(ddb, simple_table, uniq):
    other = uniq("other")
    helpers.create_table(ddb, other)
    expect(ddb.batch_write_item, "ValidationException",
           "Too many items requested for the BatchWriteItem call", RequestItems={
               simple_table: [{"PutRequest": {"Item": key(i)}} for i in range(13)],
               other: [{"PutRequest": {"Item": key(i)}} for i in range(13)]})


def test_batch_duplicates(ddb, simple_table):
    expect(ddb.batch_get_item, "ValidationException",
           "Provided list of item keys contains duplicates",
           RequestItems={simple_table: {"Keys": [key(1), key(2), key(1)]}})
    expect(ddb.batch_write_item, "ValidationException",
           "Provided list of item keys contains duplicates", RequestItems={simple_table: [
               {"PutRequest": {"Item": key(1)}}, {"DeleteRequest": {"Key": key(1)}}]})


def test_batch_missing_table(ddb, table_name):
    expect(ddb.batch_write_item, "ResourceNotFoundException", "Requested resource not found",
           RequestItems={table_name: [{"PutRequest": {"Item": key(1)}}]})
    expect(ddb.batch_get_item, "ResourceNotFoundException", "Requested resource not found",
           RequestItems={table_name: {"Keys": [key(1)]}})


def test_batch_write_bad_key_rejects_whole_batch(ddb, simple_table):
    expect(ddb.batch_write_item, "ValidationException",
           "The provided key element does not match the schema", RequestItems={simple_table: [
               {"PutRequest": {"Item": key(1)}},
               {"PutRequest": {"Item": {"pk": {"N": "5"}}}}]})
    assert "Item" not in ddb.get_item(TableName=simple_table, Key=key(1))


# --------------------------------------------------------------------------- transactions

pytestmark_tx = pytest.mark.peer_differs  # dynalite has no transactions


@pytestmark_tx
def test_transact_write_success(ddb, simple_table):
    ddb.put_item(TableName=simple_table, Item={**key(2), "v": {"N": "1"}})
    ddb.put_item(TableName=simple_table, Item={**key(3)})
    ddb.put_item(TableName=simple_table, Item={**key(4), "guard": {"S": "ok"}})
    ddb.transact_write_items(TransactItems=[
        {"Put": {"TableName": simple_table, "Item": {**key(1), "v": {"N": "10"}},
                 "ConditionExpression": "attribute_not_exists(pk)"}},
        {"Update": {"TableName": simple_table, "Key": key(2), "UpdateExpression": "ADD v :one",
                    "ExpressionAttributeValues": {":one": {"N": "1"}}}},
        {"Delete": {"TableName": simple_table, "Key": key(3)}},
        {"ConditionCheck": {"TableName": simple_table, "Key": key(4),
                            "ConditionExpression": "guard = :ok",
                            "ExpressionAttributeValues": {":ok": {"S": "ok"}}}},
    ])
    get = lambda k: ddb.get_item(TableName=simple_table, Key=k).get("Item")  # noqa: E731
    assert get(key(1)) == {**key(1), "v": {"N": "10"}}
    assert get(key(2)) == {**key(2), "v": {"N": "2"}}
    assert get(key(3)) is None


@pytestmark_tx
def test_transact_write_cancellation_reasons_in_order(ddb, simple_table):
    ddb.put_item(TableName=simple_table, Item={**key(2), "v": {"N": "1"}})
    err = expect(ddb.transact_write_items, "TransactionCanceledException",
                 "Transaction cancelled, please refer cancellation reasons for specific reasons "
                 "[None, ConditionalCheckFailed]",
                 TransactItems=[
                     {"Put": {"TableName": simple_table, "Item": key(1)}},
                     {"Update": {"TableName": simple_table, "Key": key(2),
                                 "UpdateExpression": "SET v = :two",
                                 "ConditionExpression": "v = :five",
                                 "ExpressionAttributeValues": {":two": {"N": "2"},
                                                               ":five": {"N": "5"}},
                                 "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}},
                 ])
    reasons = err.response["CancellationReasons"]
    assert reasons[0] == {"Code": "None"}
    assert reasons[1]["Code"] == "ConditionalCheckFailed"
    assert reasons[1]["Message"] == "The conditional request failed"
    assert reasons[1]["Item"] == {**key(2), "v": {"N": "1"}}
    # Nothing was applied.
    assert "Item" not in ddb.get_item(TableName=simple_table, Key=key(1))
    assert ddb.get_item(TableName=simple_table, Key=key(2))["Item"]["v"] == {"N": "1"}


@pytestmark_tx
def test_transact_write_idempotency(ddb, simple_table):
    items = [{"Update": {"TableName": simple_table, "Key": key(1), "UpdateExpression": "ADD v :one",
                         "ExpressionAttributeValues": {":one": {"N": "1"}}}}]
    token = "tok-" + helpers.unique_name("x")
    ddb.transact_write_items(TransactItems=items, ClientRequestToken=token)
    ddb.transact_write_items(TransactItems=items, ClientRequestToken=token)
    assert ddb.get_item(TableName=simple_table, Key=key(1))["Item"]["v"] == {"N": "1"}

    other = [{"Update": {**items[0]["Update"],
                         "ExpressionAttributeValues": {":one": {"N": "2"}}}}]
    expect(ddb.transact_write_items, "IdempotentParameterMismatchException",
           TransactItems=other, ClientRequestToken=token)
    assert ddb.get_item(TableName=simple_table, Key=key(1))["Item"]["v"] == {"N": "1"}


@pytestmark_tx
def test_transact_same_item_twice(ddb, simple_table):
    expect(ddb.transact_write_items, "ValidationException",
           "Transaction request cannot include multiple operations on one item",
           TransactItems=[{"Put": {"TableName": simple_table, "Item": key(1)}},
                          {"Delete": {"TableName": simple_table, "Key": key(1)}}])


@pytestmark_tx
def test_transact_too_many_actions(ddb, simple_table):
    err = expect(ddb.transact_write_items, "ValidationException", TransactItems=[
        {"Put": {"TableName": simple_table, "Item": key(i)}} for i in range(101)])
    msg = helpers.error_of(err)[1]
    assert re.fullmatch(
        r"1 validation error detected: Value '.*' at 'transactItems' failed to satisfy "
        r"constraint: Member must have length less than or equal to 100", msg, re.S), msg


@pytestmark_tx
def test_transact_missing_table(ddb, table_name):
    expect(ddb.transact_write_items, "ResourceNotFoundException", "Requested resource not found",
           TransactItems=[{"Put": {"TableName": table_name, "Item": key(1)}}])


@pytestmark_tx
def test_transact_get(ddb, simple_table):
    ddb.put_item(TableName=simple_table, Item={**key(1), "a": {"S": "x"}, "b": {"S": "y"}})
    ddb.put_item(TableName=simple_table, Item={**key(3), "a": {"S": "z"}})
    r = ddb.transact_get_items(TransactItems=[
        {"Get": {"TableName": simple_table, "Key": key(3)}},
        {"Get": {"TableName": simple_table, "Key": key(2)}},
        {"Get": {"TableName": simple_table, "Key": key(1), "ProjectionExpression": "b"}},
    ])
    assert r["Responses"] == [{"Item": {**key(3), "a": {"S": "z"}}}, {},
                              {"Item": {"b": {"S": "y"}}}]


@pytestmark_tx
def test_concurrent_transactions_are_serializable(endpoint, simple_table):
    """Two counters moved together by many concurrent transactions stay equal; losers get
    TransactionCanceledException (TransactionConflict) or succeed after, never a torn write."""
    ddb = helpers.client("dynamodb", endpoint)
    ddb.put_item(TableName=simple_table, Item={**key("a"), "c": {"N": "0"}})
    ddb.put_item(TableName=simple_table, Item={**key("b"), "c": {"N": "0"}})
    ok, conflicts, other = [0], [0], []
    lock = threading.Lock()

    def worker():
        c = helpers.client("dynamodb", endpoint)
        for _ in range(25):
            try:
                c.transact_write_items(TransactItems=[
                    {"Update": {"TableName": simple_table, "Key": key(k), "UpdateExpression":
                                "ADD c :one", "ExpressionAttributeValues": {":one": {"N": "1"}}}}
                    for k in ("a", "b")])
                with lock:
                    ok[0] += 1
            except botocore.exceptions.ClientError as e:
                code = helpers.error_of(e)[0]
                with lock:
                    if code == "TransactionCanceledException":
                        conflicts[0] += 1
                    else:
                        other.append(code)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert other == []
    a = ddb.get_item(TableName=simple_table, Key=key("a"), ConsistentRead=True)["Item"]["c"]
    b = ddb.get_item(TableName=simple_table, Key=key("b"), ConsistentRead=True)["Item"]["c"]
    assert a == b == {"N": str(ok[0])}
    assert ok[0] + conflicts[0] == 100
