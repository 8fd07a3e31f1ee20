"""Global tables, version 2019.11.21, through the real binary: UpdateTable ReplicaUpdates
(Create, Update, Delete), Replicas in DescribeTable of every region, asynchronous
replication both ways (puts, updates, deletes), the replica's own stream, DeleteTable
rules, and AWS's validation messages.

Replication is asynchronous: every "visible in the other region" check polls with a
bounded timeout (REPLICATION_TIMEOUT_S) and fails past it."""

from __future__ import annotations

import time

import boto3
import pytest

import helpers
from helpers import expect_ddb_error

SOURCE = "us-east-1"
REPLICA = "eu-west-1"
REPLICATION_TIMEOUT_S = 10.0
POLL_S = 0.05


def regional(endpoint: str, service: str, region: str):
    return boto3.session.Session().client(
        service,
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id=helpers.ROOT_KEY[0],
        aws_secret_access_key=helpers.ROOT_KEY[1],
        config=helpers.client_config(region_name=region),
    )


@pytest.fixture(scope="module")
def east(endpoint):
    return regional(endpoint, "dynamodb", SOURCE)


@pytest.fixture(scope="module")
def west(endpoint):
    return regional(endpoint, "dynamodb", REPLICA)


@pytest.fixture(scope="module")
def west_streams(endpoint):
    return regional(endpoint, "dynamodbstreams", REPLICA)


def wait_for(fn, what: str, timeout_s: float = REPLICATION_TIMEOUT_S):
    """Polls `fn` until it returns something truthy; fails after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = fn()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout_s}s waiting for {what}")
        time.sleep(POLL_S)


def replicas_of(client, name: str) -> dict[str, str]:
    table = client.describe_table(TableName=name)["Table"]
    return {r["RegionName"]: r["ReplicaStatus"] for r in table.get("Replicas", [])}


def add_replica(client, name: str, region: str = REPLICA) -> dict:
    out = client.update_table(TableName=name, ReplicaUpdates=[{"Create": {"RegionName": region}}])
    wait_for(lambda: replicas_of(client, name).get(region) == "ACTIVE", f"replica {region} ACTIVE")
    return out


def get(client, name: str, pk: str):
    return client.get_item(TableName=name, Key={"pk": {"S": pk}}, ConsistentRead=True).get("Item")


def table_exists(client, name: str) -> bool:
    try:
        client.describe_table(TableName=name)
        return True
    except client.exceptions.ResourceNotFoundException:
        return False


@pytest.fixture
def global_table(east, west, table_name):
    """A PAY_PER_REQUEST table in us-east-1 with a replica in eu-west-1."""
    helpers.create_table(east, table_name, hash_key=("pk", "S"))
    add_replica(east, table_name)
    yield table_name
    # Leaf first, as AWS requires: the replica, then the source.
    if table_exists(west, table_name):
        east.update_table(TableName=table_name, ReplicaUpdates=[{"Delete": {"RegionName": REPLICA}}])
    east.delete_table(TableName=table_name)


def test_create_replica_and_describe_in_both_regions(east, west, table_name):
    helpers.create_table(east, table_name, hash_key=("pk", "S"), range_key=("sk", "N"))
    east.put_item(TableName=table_name, Item={"pk": {"S": "before"}, "sk": {"N": "1"}, "v": {"S": "old"}})
    out = east.update_table(TableName=table_name, ReplicaUpdates=[{"Create": {"RegionName": REPLICA}}])
    desc = out["TableDescription"]
    assert desc["TableStatus"] == "UPDATING"
    assert desc["GlobalTableVersion"] == "2019.11.21"
    assert [r["RegionName"] for r in desc["Replicas"]] == [REPLICA]
    wait_for(lambda: replicas_of(east, table_name).get(REPLICA) == "ACTIVE", "replica ACTIVE")

    src = east.describe_table(TableName=table_name)["Table"]
    assert src["TableStatus"] == "ACTIVE"
    assert src["GlobalTableVersion"] == "2019.11.21"
    assert src["Replicas"] == [{"RegionName": REPLICA, "ReplicaStatus": "ACTIVE"}]
    # A table without a stream gets NEW_AND_OLD_IMAGES when it becomes global.
    assert src["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}

    rep = wait_for(lambda: west.describe_table(TableName=table_name)["Table"].get("TableStatus") == "ACTIVE"
                   and west.describe_table(TableName=table_name)["Table"], "replica table ACTIVE")
    assert rep["TableArn"] == f"arn:aws:dynamodb:{REPLICA}:{helpers.ACCOUNT}:table/{table_name}"
    assert rep["TableId"] != src["TableId"]
    assert rep["KeySchema"] == src["KeySchema"]
    assert rep["AttributeDefinitions"] == src["AttributeDefinitions"]
    assert rep["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert rep["GlobalTableVersion"] == "2019.11.21"
    assert rep["Replicas"] == [{"RegionName": SOURCE, "ReplicaStatus": "ACTIVE"}]
    assert rep["StreamSpecification"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    assert rep["LatestStreamArn"].startswith(f"arn:aws:dynamodb:{REPLICA}:")
    assert table_name in west.list_tables()["TableNames"]
    # Items that existed before the replica was added were copied.
    item = west.get_item(TableName=table_name, Key={"pk": {"S": "before"}, "sk": {"N": "1"}})["Item"]
    assert item["v"] == {"S": "old"}

    east.update_table(TableName=table_name, ReplicaUpdates=[{"Delete": {"RegionName": REPLICA}}])
    east.delete_table(TableName=table_name)


def test_writes_in_source_reach_replica(east, west, global_table):
    name = global_table
    east.put_item(TableName=name, Item={"pk": {"S": "a"}, "n": {"N": "1"}, "tags": {"SS": ["x", "y"]}})
    got = wait_for(lambda: get(west, name, "a"), "put replicated")
    assert got == {"pk": {"S": "a"}, "n": {"N": "1"}, "tags": {"SS": ["x", "y"]}}

    east.update_item(TableName=name, Key={"pk": {"S": "a"}}, UpdateExpression="SET n = n + :one REMOVE tags",
                     ExpressionAttributeValues={":one": {"N": "1"}})
    got = wait_for(lambda: (get(west, name, "a") or {}).get("n") == {"N": "2"} and get(west, name, "a"),
                   "update replicated")
    assert "tags" not in got

    east.delete_item(TableName=name, Key={"pk": {"S": "a"}})
    wait_for(lambda: get(west, name, "a") is None, "delete replicated")


def test_ttl_setting_is_one_for_the_group_and_expiry_replicates(east, west, global_table):
    name = global_table
    east.update_time_to_live(TableName=name, TimeToLiveSpecification={"Enabled": True,
                                                                      "AttributeName": "exp"})
    for client in (east, west):
        d = client.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
        assert d == {"TimeToLiveStatus": "ENABLED", "AttributeName": "exp"}
    # Expired in the replica's region: gone there and, through replication, here too.
    west.put_item(TableName=name, Item={"pk": {"S": "old"}, "exp": {"N": str(int(time.time()) - 60)}})
    east.put_item(TableName=name, Item={"pk": {"S": "keep"}, "exp": {"N": str(int(time.time()) + 3600)}})
    wait_for(lambda: get(west, name, "old") is None and get(east, name, "old") is None,
             "expired item removed in both regions")
    wait_for(lambda: get(west, name, "keep") is not None, "unexpired item replicated")
    # Disabling in the replica's region disables it for the whole group.
    west.update_time_to_live(TableName=name, TimeToLiveSpecification={"Enabled": False,
                                                                      "AttributeName": "exp"})
    for client in (east, west):
        d = client.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
        assert d == {"TimeToLiveStatus": "DISABLED"}


def test_writes_in_replica_reach_source(east, west, global_table):
    name = global_table
    west.put_item(TableName=name, Item={"pk": {"S": "w"}, "from": {"S": REPLICA}})
    assert wait_for(lambda: get(east, name, "w"), "put replicated back") == {
        "pk": {"S": "w"}, "from": {"S": REPLICA}}
    west.batch_write_item(RequestItems={name: [
        {"PutRequest": {"Item": {"pk": {"S": "b1"}}}},
        {"PutRequest": {"Item": {"pk": {"S": "b2"}}}},
    ]})
    wait_for(lambda: get(east, name, "b1") and get(east, name, "b2"), "batch replicated")
    west.transact_write_items(TransactItems=[
        {"Delete": {"TableName": name, "Key": {"pk": {"S": "b1"}}}},
        {"Update": {"TableName": name, "Key": {"pk": {"S": "b2"}}, "UpdateExpression": "SET x = :x",
                    "ExpressionAttributeValues": {":x": {"S": "t"}}}},
    ])
    wait_for(lambda: get(east, name, "b1") is None and (get(east, name, "b2") or {}).get("x") == {"S": "t"},
             "transaction replicated")
    # Counts agree once replication settled.
    east_keys = sorted(i["pk"]["S"] for i in helpers.scan_all(east, TableName=name, ConsistentRead=True))
    west_keys = sorted(i["pk"]["S"] for i in helpers.scan_all(west, TableName=name, ConsistentRead=True))
    assert east_keys == west_keys == ["b2", "w"]


def test_conflicting_writes_converge(east, west, global_table):
    name = global_table
    # Both regions write the same item back to back; whatever wins, both end equal.
    for i in range(20):
        east.put_item(TableName=name, Item={"pk": {"S": "c"}, "v": {"N": str(i)}, "r": {"S": SOURCE}})
        west.put_item(TableName=name, Item={"pk": {"S": "c"}, "v": {"N": str(i)}, "r": {"S": REPLICA}})
    wait_for(lambda: get(east, name, "c") == get(west, name, "c"), "both regions equal")
    # A write clearly later than all the others wins everywhere, whichever region made it.
    time.sleep(0.02)
    west.put_item(TableName=name, Item={"pk": {"S": "c"}, "v": {"S": "last"}, "r": {"S": REPLICA}})
    wait_for(lambda: get(east, name, "c") == get(west, name, "c") == {
        "pk": {"S": "c"}, "v": {"S": "last"}, "r": {"S": REPLICA}}, "last write everywhere")


def test_replica_stream_shows_replicated_writes(east, west, west_streams, global_table):
    name = global_table
    east.put_item(TableName=name, Item={"pk": {"S": "s1"}, "v": {"S": "one"}})
    east.update_item(TableName=name, Key={"pk": {"S": "s1"}}, UpdateExpression="SET v = :v",
                     ExpressionAttributeValues={":v": {"S": "two"}})
    east.delete_item(TableName=name, Key={"pk": {"S": "s1"}})
    arn = west.describe_table(TableName=name)["Table"]["LatestStreamArn"]

    def records():
        out = []
        shards = west_streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]
        for shard in shards:
            it = west_streams.get_shard_iterator(StreamArn=arn, ShardId=shard["ShardId"],
                                                 ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
            for _ in range(20):
                page = west_streams.get_records(ShardIterator=it)
                out.extend(page["Records"])
                it = page.get("NextShardIterator")
                if not it or not page["Records"]:
                    break
        mine = [r for r in out if r["dynamodb"]["Keys"]["pk"]["S"] == "s1"]
        return mine if [r["eventName"] for r in mine] == ["INSERT", "MODIFY", "REMOVE"] else None

    recs = wait_for(records, "INSERT, MODIFY, REMOVE in the replica's stream")
    assert recs[0]["dynamodb"]["NewImage"] == {"pk": {"S": "s1"}, "v": {"S": "one"}}
    assert recs[1]["dynamodb"]["OldImage"]["v"] == {"S": "one"}
    assert recs[1]["dynamodb"]["NewImage"]["v"] == {"S": "two"}
    assert recs[2]["dynamodb"]["OldImage"]["v"] == {"S": "two"}
    assert all(r["awsRegion"] == REPLICA for r in recs)


def test_replica_update_and_stream_rules(east, west, global_table):
    name = global_table
    east.update_table(TableName=name, ReplicaUpdates=[
        {"Update": {"RegionName": REPLICA, "TableClassOverride": "STANDARD_INFREQUENT_ACCESS"}}])
    rep = replicas_of(east, name)
    assert rep == {REPLICA: "ACTIVE"}
    desc = east.describe_table(TableName=name)["Table"]["Replicas"][0]
    assert desc["ReplicaTableClassSummary"]["TableClass"] == "STANDARD_INFREQUENT_ACCESS"
    assert west.describe_table(TableName=name)["Table"]["TableClassSummary"]["TableClass"] == \
        "STANDARD_INFREQUENT_ACCESS"
    expect_ddb_error(lambda: east.update_table(TableName=name, ReplicaUpdates=[
        {"Update": {"RegionName": REPLICA, "ProvisionedThroughputOverride": {"ReadCapacityUnits": 5}}}]),
        "ValidationException",
        "One or more parameter values were invalid: Neither ReadCapacityUnits nor WriteCapacityUnits can be "
        "specified when BillingMode is PAY_PER_REQUEST")
    # The stream of a global table stays on, in every region.
    for client in (east, west):
        expect_ddb_error(lambda: client.update_table(TableName=name, StreamSpecification={"StreamEnabled": False}),
                         "ValidationException",
                         "One or more parameter values were invalid: Disabling Stream is not allowed for a "
                         "Global Table replica.")
    # A second replica in the same region already exists.
    expect_ddb_error(lambda: east.update_table(TableName=name, ReplicaUpdates=[{"Create": {"RegionName": REPLICA}}]),
                     "ValidationException",
                     f"Failed to create a the new replica of table with name: \u2018{name}\u2019 because one or "
                     "more replicas already existed as tables.")


def test_replica_update_validation(east, west, table_name, uniq):
    helpers.create_table(east, table_name, hash_key=("pk", "S"))

    def upd(updates, **extra):
        return lambda: east.update_table(TableName=table_name, ReplicaUpdates=updates, **extra)

    expect_ddb_error(upd([{"Create": {"RegionName": SOURCE}}]), "ValidationException",
                     "Cannot add or delete the local region through ReplicaUpdates. Use CreateTable, "
                     "DeleteTable, or UpdateTable as required.")
    expect_ddb_error(upd([{"Delete": {"RegionName": SOURCE}}]), "ValidationException",
                     "Cannot add or delete the local region through ReplicaUpdates. Use CreateTable, "
                     "DeleteTable, or UpdateTable as required.")
    code, msg = helpers.error_of(pytest.raises(Exception, upd([{"Create": {"RegionName": "us-fake-1"}}])).value)
    assert code == "ValidationException"
    assert msg.startswith("Region us-fake-1 is not supported. The latest version of global tables are only "
                          "supported in the following regions: [")
    expect_ddb_error(upd([{"Create": {"RegionName": REPLICA}}], DeletionProtectionEnabled=True),
                     "ValidationException",
                     "One or more parameter values were invalid: Replica modification must be the only "
                     "operation in the request")
    expect_ddb_error(upd([{"Create": {"RegionName": REPLICA}}, {"Create": {"RegionName": "eu-west-2"}}]),
                     "ValidationException",
                     "Update table operation with more than one create or delete replica actions not allowed")
    expect_ddb_error(upd([{"Create": {"RegionName": REPLICA}, "Delete": {"RegionName": REPLICA}}]),
                     "ValidationException",
                     "Update table operation with more than one type of replica actions not allowed.")
    expect_ddb_error(upd([{"Update": {"RegionName": REPLICA}}]), "ValidationException",
                     "There are no actions specified in the Replica Update Action of the request.")
    expect_ddb_error(upd([{"Delete": {"RegionName": REPLICA}}]), "ValidationException",
                     "Update global table operation failed because one or more replicas were not part of the "
                     "global table. Please retry the request without these replicas: [eu-west-1].")
    # A table of the same name already in the target region.
    helpers.create_table(west, table_name, hash_key=("pk", "S"))
    expect_ddb_error(upd([{"Create": {"RegionName": REPLICA}}]), "ValidationException",
                     f"Failed to create a the new replica of table with name: \u2018{table_name}\u2019 because "
                     "one or more replicas already existed as tables.")
    west.delete_table(TableName=table_name)
    expect_ddb_error(lambda: east.update_table(TableName=uniq("missing"), ReplicaUpdates=[
        {"Create": {"RegionName": REPLICA}}]), "ResourceNotFoundException")
    # Provisioned tables need auto scaling, which nimbus does not have (AWS's rule).
    prov = uniq("prov")
    east.create_table(TableName=prov, AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                      KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                      ProvisionedThroughput={"ReadCapacityUnits": 5, "WriteCapacityUnits": 5})
    expect_ddb_error(lambda: east.update_table(TableName=prov, ReplicaUpdates=[
        {"Create": {"RegionName": REPLICA}}]), "ValidationException",
        "Table write capacity should either be Pay-Per-Request or AutoScaled.")
    # Nothing was created by the refused requests.
    assert not table_exists(west, table_name)
    assert "Replicas" not in east.describe_table(TableName=table_name)["Table"]
    east.delete_table(TableName=prov)
    east.delete_table(TableName=table_name)


def test_delete_rules_and_removing_the_replica(east, west, table_name):
    helpers.create_table(east, table_name, hash_key=("pk", "S"))
    add_replica(east, table_name)
    east.put_item(TableName=table_name, Item={"pk": {"S": "k"}})
    wait_for(lambda: get(west, table_name, "k"), "put replicated")
    # The source created a replica less than 24 hours ago: it cannot go first.
    expect_ddb_error(lambda: east.delete_table(TableName=table_name), "ValidationException",
                     "Replica cannot be deleted because it has acted as a source region for new replica(s) "
                     "being added to the table in the last 24 hours.")
    # Removing the replica deletes that region's table; the source is a plain table again.
    out = east.update_table(TableName=table_name, ReplicaUpdates=[{"Delete": {"RegionName": REPLICA}}])
    assert out["TableDescription"]["Replicas"] == [{"RegionName": REPLICA, "ReplicaStatus": "DELETING"}]
    wait_for(lambda: not table_exists(west, table_name), "replica table gone")
    src = east.describe_table(TableName=table_name)["Table"]
    assert "Replicas" not in src and "GlobalTableVersion" not in src
    # The stream AWS turned on stays on; now it may be disabled.
    assert src["StreamSpecification"]["StreamEnabled"] is True
    expect_ddb_error(lambda: east.update_table(TableName=table_name, ReplicaUpdates=[
        {"Delete": {"RegionName": REPLICA}}]), "ValidationException",
        "Update global table operation failed because one or more replicas were not part of the global table. "
        "Please retry the request without these replicas: [eu-west-1].")
    # Writes no longer travel.
    east.put_item(TableName=table_name, Item={"pk": {"S": "after"}})
    east.update_table(TableName=table_name, StreamSpecification={"StreamEnabled": False})
    # Re-adding works (the new replica starts from the source's items).
    add_replica(east, table_name)
    assert wait_for(lambda: get(west, table_name, "after"), "copied again") == {"pk": {"S": "after"}}
    # DeleteTable in the replica's region (it created nothing) removes it from the group.
    west.delete_table(TableName=table_name)
    wait_for(lambda: "Replicas" not in east.describe_table(TableName=table_name)["Table"], "group dissolved")
    east.delete_table(TableName=table_name)


def test_replication_lag_metric(endpoint, east, west, global_table):
    east.put_item(TableName=global_table, Item={"pk": {"S": "lag"}})
    wait_for(lambda: get(west, global_table, "lag"), "put replicated")
    status, body = helpers.health(endpoint)
    assert status == 200
    text = body.decode()
    assert "ddb-replicator" in text and "lag_ms" in text, text
