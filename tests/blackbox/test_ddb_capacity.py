"""ReturnConsumedCapacity: the capacity-unit arithmetic of on-demand tables.
Writes: 1 WCU per started 1 KB. Reads: 1 RCU per started 4 KB, halved when eventually
consistent."""

import pytest

import helpers


def check(cc: dict, table: str, units: float, kind: str, **extra) -> None:
    """CapacityUnits is exact. AWS may also report the same total split by kind
    (ReadCapacityUnits / WriteCapacityUnits); if present it must be the right kind and agree."""
    want = {"TableName": table, "CapacityUnits": units, **extra}
    other = "ReadCapacityUnits" if kind == "WriteCapacityUnits" else "WriteCapacityUnits"
    assert other not in cc, cc
    if kind in cc:
        assert cc[kind] == units, cc
        want[kind] = units
    for part in ("Table",):
        if part in want and kind in cc.get(part, {}):
            want[part] = {**want[part], kind: want[part]["CapacityUnits"]}
    for idx in want.get("GlobalSecondaryIndexes", {}):
        got_idx = cc.get("GlobalSecondaryIndexes", {}).get(idx, {})
        if kind in got_idx:
            want["GlobalSecondaryIndexes"][idx] = {
                **want["GlobalSecondaryIndexes"][idx],
                kind: want["GlobalSecondaryIndexes"][idx]["CapacityUnits"]}
    assert cc == want


W, R = "WriteCapacityUnits", "ReadCapacityUnits"


def item_of_size(pk: str, total_bytes: int) -> dict:
    """An item whose DynamoDB size is exactly total_bytes ("pk" + value + "d" + value)."""
    overhead = len("pk") + len(pk) + len("d")
    return {"pk": {"S": pk}, "d": {"S": "x" * (total_bytes - overhead)}}


@pytest.mark.parametrize("size,wcu", [(10, 1.0), (1024, 1.0), (1025, 2.0), (1536, 2.0),
                                      (3 * 1024 + 1, 4.0)])
def test_put_item_wcu(ddb, simple_table, size, wcu):
    r = ddb.put_item(TableName=simple_table, Item=item_of_size("p", size),
                     ReturnConsumedCapacity="TOTAL")
    check(r["ConsumedCapacity"], simple_table, wcu, W)


def test_put_item_indexes_without_index(ddb, simple_table):
    r = ddb.put_item(TableName=simple_table, Item=item_of_size("p", 1536),
                     ReturnConsumedCapacity="INDEXES")
    check(r["ConsumedCapacity"], simple_table, 2.0, W, Table={"CapacityUnits": 2.0})


def test_put_item_none_by_default(ddb, simple_table):
    r = ddb.put_item(TableName=simple_table, Item=item_of_size("p", 100))
    assert "ConsumedCapacity" not in r


@pytest.mark.parametrize("size,consistent,rcu", [
    (100, False, 0.5), (100, True, 1.0),
    (4096, False, 0.5), (4097, False, 1.0), (5 * 1024, True, 2.0),
])
def test_get_item_rcu(ddb, simple_table, size, consistent, rcu):
    ddb.put_item(TableName=simple_table, Item=item_of_size("g", size))
    r = ddb.get_item(TableName=simple_table, Key={"pk": {"S": "g"}}, ConsistentRead=consistent,
                     ReturnConsumedCapacity="TOTAL")
    check(r["ConsumedCapacity"], simple_table, rcu, R)


def test_get_missing_item_still_costs(ddb, simple_table):
    r = ddb.get_item(TableName=simple_table, Key={"pk": {"S": "none"}},
                     ReturnConsumedCapacity="TOTAL")
    check(r["ConsumedCapacity"], simple_table, 0.5, R)


def test_update_uses_larger_of_old_and_new(ddb, simple_table):
    ddb.put_item(TableName=simple_table, Item=item_of_size("u", 2500))
    r = ddb.update_item(TableName=simple_table, Key={"pk": {"S": "u"}},
                        UpdateExpression="REMOVE d", ReturnConsumedCapacity="TOTAL")
    assert r["ConsumedCapacity"]["CapacityUnits"] == 3.0


def test_delete_item_wcu(ddb, simple_table):
    ddb.put_item(TableName=simple_table, Item=item_of_size("d", 1500))
    r = ddb.delete_item(TableName=simple_table, Key={"pk": {"S": "d"}},
                        ReturnConsumedCapacity="TOTAL")
    assert r["ConsumedCapacity"]["CapacityUnits"] == 2.0
    r = ddb.delete_item(TableName=simple_table, Key={"pk": {"S": "d"}},
                        ReturnConsumedCapacity="TOTAL")
    assert r["ConsumedCapacity"]["CapacityUnits"] == 1.0


@pytest.mark.peer_differs  # dynalite does not charge index writes
def test_put_item_with_gsi_indexes(ddb, table_name):
    helpers.create_table(ddb, table_name, attrs={"g": "S"}, GlobalSecondaryIndexes=[{
        "IndexName": "byg", "KeySchema": helpers.key_schema(("g", "S")),
        "Projection": {"ProjectionType": "KEYS_ONLY"}}])
    r = ddb.put_item(TableName=table_name, Item={"pk": {"S": "a"}, "g": {"S": "x"}},
                     ReturnConsumedCapacity="INDEXES")
    check(r["ConsumedCapacity"], table_name, 2.0, W, Table={"CapacityUnits": 1.0},
          GlobalSecondaryIndexes={"byg": {"CapacityUnits": 1.0}})
    # An item outside the sparse index costs only the table write.
    r = ddb.put_item(TableName=table_name, Item={"pk": {"S": "b"}},
                     ReturnConsumedCapacity="INDEXES")
    check(r["ConsumedCapacity"], table_name, 1.0, W, Table={"CapacityUnits": 1.0})


def test_query_rcu_sums_item_sizes(ddb, range_table):
    # 10 items of ~1 KB: 10 KB read in one query = 3 x 4 KB units, halved = 1.5.
    for i in range(10):
        item = {"pk": {"S": "q"}, "sk": {"N": str(i)}, "d": {"S": "y" * 1000}}
        ddb.put_item(TableName=range_table, Item=item)
    r = ddb.query(TableName=range_table, KeyConditionExpression="pk = :p",
                  ExpressionAttributeValues={":p": {"S": "q"}}, ReturnConsumedCapacity="TOTAL")
    assert r["Count"] == 10
    check(r["ConsumedCapacity"], range_table, 1.5, R)


def test_batch_write_consumed_capacity(ddb, simple_table):
    r = ddb.batch_write_item(RequestItems={simple_table: [
        {"PutRequest": {"Item": item_of_size(f"b{i}", 1536)}} for i in range(3)]},
        ReturnConsumedCapacity="TOTAL")
    [cc] = r["ConsumedCapacity"]
    check(cc, simple_table, 6.0, W)
