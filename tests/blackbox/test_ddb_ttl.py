"""DynamoDB time to live: UpdateTimeToLive/DescribeTimeToLive with AWS's rules and messages,
and the background sweeper deleting expired items (numbers of epoch seconds only) within
seconds, indexes and counters included."""

import time

import helpers

expect = helpers.expect_ddb_error


def spec(enabled, attr="exp"):
    return {"Enabled": enabled, "AttributeName": attr}


def ttl_desc(ddb, table):
    return ddb.describe_time_to_live(TableName=table)["TimeToLiveDescription"]


def test_ttl_api_rules(ddb, simple_table):
    assert ttl_desc(ddb, simple_table) == {"TimeToLiveStatus": "DISABLED"}
    expect(ddb.update_time_to_live, "ValidationException", "TimeToLive is already disabled",
           TableName=simple_table, TimeToLiveSpecification=spec(False))
    resp = ddb.update_time_to_live(TableName=simple_table, TimeToLiveSpecification=spec(True))
    assert resp["TimeToLiveSpecification"] == spec(True)
    assert ttl_desc(ddb, simple_table) == {"TimeToLiveStatus": "ENABLED", "AttributeName": "exp"}
    expect(ddb.update_time_to_live, "ValidationException", "TimeToLive is already enabled",
           TableName=simple_table, TimeToLiveSpecification=spec(True))
    different = ("TimeToLive is active on a different AttributeName: "
                 "current AttributeName is exp")
    expect(ddb.update_time_to_live, "ValidationException", different,
           TableName=simple_table, TimeToLiveSpecification=spec(True, "other"))
    expect(ddb.update_time_to_live, "ValidationException", different,
           TableName=simple_table, TimeToLiveSpecification=spec(False, "other"))
    ddb.update_time_to_live(TableName=simple_table, TimeToLiveSpecification=spec(False))
    assert ttl_desc(ddb, simple_table) == {"TimeToLiveStatus": "DISABLED"}
    # The table's ARN is accepted as TableName too.
    arn = ddb.describe_table(TableName=simple_table)["Table"]["TableArn"]
    assert ttl_desc(ddb, arn)["TimeToLiveStatus"] == "DISABLED"


def test_ttl_validation_and_missing_table(ddb, simple_table):
    e = expect(ddb.update_time_to_live, "ValidationException", TableName=simple_table,
               TimeToLiveSpecification=spec(True, "a" * 256))
    assert "timeToLiveSpecification.attributeName" in helpers.error_of(e)[1]
    expect(ddb.update_time_to_live, "ResourceNotFoundException",
           "Requested resource not found: Table: nope-ttl not found",
           TableName="nope-ttl", TimeToLiveSpecification=spec(True))
    expect(ddb.describe_time_to_live, "ResourceNotFoundException",
           "Requested resource not found: Table: nope-ttl not found", TableName="nope-ttl")


def test_expired_items_disappear_within_seconds(ddb, table_name):
    helpers.create_table(
        ddb, table_name, attrs={"g": "S"},
        GlobalSecondaryIndexes=[{
            "IndexName": "by_g", "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
            "Projection": {"ProjectionType": "ALL"}}])
    ddb.update_time_to_live(TableName=table_name, TimeToLiveSpecification=spec(True))
    now = int(time.time())
    items = {
        "expired": {"N": str(now - 60)},
        "soon": {"N": str(now + 2)},
        "future": {"N": str(now + 3600)},
        "string": {"S": str(now - 60)},
        "ancient": {"N": str(now - 6 * 365 * 86400)},  # > 5 years ago: ignored, as AWS
    }
    for pk, exp in items.items():
        ddb.put_item(TableName=table_name, Item={"pk": {"S": pk}, "g": {"S": "x"}, "exp": exp})
    ddb.put_item(TableName=table_name, Item={"pk": {"S": "no-ttl"}, "g": {"S": "x"}})

    def keys():
        return sorted(i["pk"]["S"] for i in helpers.scan_all(ddb, TableName=table_name))

    deadline = time.monotonic() + 15
    while "expired" in keys() or "soon" in keys():
        assert time.monotonic() < deadline, f"items not expired in time: {keys()}"
        time.sleep(0.25)
    assert keys() == ["ancient", "future", "no-ttl", "string"]
    index_items = helpers.scan_all(ddb, TableName=table_name, IndexName="by_g")
    assert sorted(i["pk"]["S"] for i in index_items) == ["ancient", "future", "no-ttl", "string"]
    t = ddb.describe_table(TableName=table_name)["Table"]
    assert t["ItemCount"] == 4
    assert t["GlobalSecondaryIndexes"][0]["ItemCount"] == 4


def test_disabled_ttl_deletes_nothing(ddb, simple_table):
    now = int(time.time())
    ddb.put_item(TableName=simple_table, Item={"pk": {"S": "a"}, "exp": {"N": str(now - 10)}})
    time.sleep(2.5)  # longer than the sweep interval
    assert ddb.get_item(TableName=simple_table, Key={"pk": {"S": "a"}}).get("Item")
