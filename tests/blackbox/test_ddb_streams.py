"""DynamoDB Streams through boto3's `dynamodbstreams` client: one record per real item
change from every write path (single-item writes, batches, transactions), view types,
iterator types, shards, enable/disable/re-enable, ListStreams and AWS's errors.
(PartiQL and TTL paths are tested in their own suites.)"""

import json
import time

import pytest

import helpers

pytestmark = pytest.mark.nimbus_only


@pytest.fixture(scope="module")
def streams(endpoint):
    return helpers.client("dynamodbstreams", endpoint)


def make_stream_table(ddb, name, view="NEW_AND_OLD_IMAGES", range_key=None):
    helpers.create_table(ddb, name, range_key=range_key,
                         StreamSpecification={"StreamEnabled": True, "StreamViewType": view})
    return ddb.describe_table(TableName=name)["Table"]["LatestStreamArn"]


def shards_of(streams, arn):
    return streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]


def read_all(streams, arn, iterator_type="TRIM_HORIZON", **kwargs):
    """Every record of every shard, in shard order; bounded."""
    out = []
    for shard in shards_of(streams, arn):
        it = streams.get_shard_iterator(StreamArn=arn, ShardId=shard["ShardId"],
                                        ShardIteratorType=iterator_type, **kwargs)["ShardIterator"]
        for _ in range(100):
            resp = streams.get_records(ShardIterator=it)
            out.extend(resp["Records"])
            it = resp.get("NextShardIterator")
            if not it or not resp["Records"]:
                break
    return out


def summary(records):
    return [(r["eventName"], r["dynamodb"]["Keys"]["pk"]["S"]) for r in records]


def test_every_write_path_leaves_exactly_one_record_per_real_change(ddb, streams, table_name):
    arn = make_stream_table(ddb, table_name)
    t = table_name
    ddb.put_item(TableName=t, Item={"pk": {"S": "a"}, "v": {"N": "1"}})
    ddb.put_item(TableName=t, Item={"pk": {"S": "a"}, "v": {"N": "1.0"}})  # identical: none
    ddb.update_item(TableName=t, Key={"pk": {"S": "a"}}, UpdateExpression="SET v = :v",
                    ExpressionAttributeValues={":v": {"N": "2"}})
    ddb.update_item(TableName=t, Key={"pk": {"S": "a"}}, UpdateExpression="SET v = :v",
                    ExpressionAttributeValues={":v": {"N": "2"}})  # no change: none
    ddb.delete_item(TableName=t, Key={"pk": {"S": "a"}})
    ddb.delete_item(TableName=t, Key={"pk": {"S": "a"}})  # missing: none
    # A failed condition writes nothing, so no record.
    with pytest.raises(Exception):
        ddb.put_item(TableName=t, Item={"pk": {"S": "c"}}, ConditionExpression="attribute_exists(pk)")
    ddb.batch_write_item(RequestItems={t: [
        {"PutRequest": {"Item": {"pk": {"S": "b1"}}}},
        {"PutRequest": {"Item": {"pk": {"S": "b2"}}}},
    ]})
    ddb.batch_write_item(RequestItems={t: [{"DeleteRequest": {"Key": {"pk": {"S": "b1"}}}}]})
    ddb.transact_write_items(TransactItems=[
        {"Put": {"TableName": t, "Item": {"pk": {"S": "x1"}, "n": {"S": "one"}}}},
        {"Update": {"TableName": t, "Key": {"pk": {"S": "b2"}}, "UpdateExpression": "SET n = :n",
                    "ExpressionAttributeValues": {":n": {"S": "two"}}}},
        {"Delete": {"TableName": t, "Key": {"pk": {"S": "nothing-here"}}}},
    ])
    # A cancelled transaction writes nothing.
    with pytest.raises(Exception):
        ddb.transact_write_items(TransactItems=[
            {"Put": {"TableName": t, "Item": {"pk": {"S": "never"}}}},
            {"ConditionCheck": {"TableName": t, "Key": {"pk": {"S": "missing"}},
                                "ConditionExpression": "attribute_exists(pk)"}},
        ])
    records = read_all(streams, arn)
    assert summary(records) == [
        ("INSERT", "a"), ("MODIFY", "a"), ("REMOVE", "a"),
        ("INSERT", "b1"), ("INSERT", "b2"), ("REMOVE", "b1"),
        ("INSERT", "x1"), ("MODIFY", "b2"),
    ]
    seqs = [int(r["dynamodb"]["SequenceNumber"]) for r in records]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert all(len(r["dynamodb"]["SequenceNumber"]) >= 21 for r in records)
    first = records[0]
    assert first["eventSource"] == "aws:dynamodb"
    assert first["eventVersion"] == "1.1"
    assert first["awsRegion"] == helpers.REGION
    assert len(first["eventID"]) == 32
    assert first["dynamodb"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    assert first["dynamodb"]["NewImage"] == {"pk": {"S": "a"}, "v": {"N": "1"}}
    assert "OldImage" not in first["dynamodb"]
    assert first["dynamodb"]["SizeBytes"] > 0
    assert "userIdentity" not in first
    created = first["dynamodb"]["ApproximateCreationDateTime"]
    assert abs(created.timestamp() - time.time()) < 120
    modify = records[1]["dynamodb"]
    assert modify["OldImage"]["v"] == {"N": "1"} and modify["NewImage"]["v"] == {"N": "2"}
    remove = records[2]["dynamodb"]
    assert remove["OldImage"]["v"] == {"N": "2"} and "NewImage" not in remove


@pytest.mark.parametrize("view,new,old", [
    ("KEYS_ONLY", False, False),
    ("NEW_IMAGE", True, False),
    ("OLD_IMAGE", False, True),
    ("NEW_AND_OLD_IMAGES", True, True),
])
def test_view_types(ddb, streams, uniq, view, new, old):
    t = uniq("view")
    arn = make_stream_table(ddb, t, view=view, range_key=("sk", "N"))
    key = {"pk": {"S": "k"}, "sk": {"N": "7"}}
    ddb.put_item(TableName=t, Item={**key, "a": {"S": "1"}})
    ddb.put_item(TableName=t, Item={**key, "a": {"S": "2"}})
    recs = read_all(streams, arn)
    assert [r["eventName"] for r in recs] == ["INSERT", "MODIFY"]
    m = recs[1]["dynamodb"]
    assert m["Keys"] == key
    assert m["StreamViewType"] == view
    assert ("NewImage" in m) == new
    assert ("OldImage" in m) == old
    if new:
        assert m["NewImage"]["a"] == {"S": "2"}
    if old:
        assert m["OldImage"]["a"] == {"S": "1"}
    keys_only = [r for r in recs if view == "KEYS_ONLY"]
    for r in keys_only:
        assert r["dynamodb"]["SizeBytes"] < 20


def test_describe_stream_and_describe_table(ddb, streams, table_name):
    arn = make_stream_table(ddb, table_name, view="KEYS_ONLY")
    table = ddb.describe_table(TableName=table_name)["Table"]
    assert table["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"}
    assert arn == f"{table['TableArn']}/stream/{table['LatestStreamLabel']}"
    d = streams.describe_stream(StreamArn=arn)["StreamDescription"]
    assert d["StreamArn"] == arn
    assert d["StreamLabel"] == table["LatestStreamLabel"]
    assert d["StreamStatus"] == "ENABLED"
    assert d["StreamViewType"] == "KEYS_ONLY"
    assert d["TableName"] == table_name
    assert d["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}]
    assert len(d["Shards"]) == 1
    shard = d["Shards"][0]
    assert shard["ShardId"].startswith("shardId-")
    assert 28 <= len(shard["ShardId"]) <= 65
    assert "StartingSequenceNumber" in shard["SequenceNumberRange"]
    assert "EndingSequenceNumber" not in shard["SequenceNumberRange"]
    assert "ParentShardId" not in shard


def test_iterator_types(ddb, streams, table_name):
    arn = make_stream_table(ddb, table_name)
    for i in range(5):
        ddb.put_item(TableName=table_name, Item={"pk": {"S": f"k{i}"}})
    shard = shards_of(streams, arn)[0]["ShardId"]

    def it(kind, **kw):
        return streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType=kind,
                                          **kw)["ShardIterator"]

    all_recs = streams.get_records(ShardIterator=it("TRIM_HORIZON"))["Records"]
    assert [r["dynamodb"]["Keys"]["pk"]["S"] for r in all_recs] == [f"k{i}" for i in range(5)]
    seq2 = all_recs[2]["dynamodb"]["SequenceNumber"]
    at = streams.get_records(ShardIterator=it("AT_SEQUENCE_NUMBER", SequenceNumber=seq2))["Records"]
    assert [r["dynamodb"]["SequenceNumber"] for r in at] == [
        r["dynamodb"]["SequenceNumber"] for r in all_recs[2:]]
    after = streams.get_records(ShardIterator=it("AFTER_SEQUENCE_NUMBER", SequenceNumber=seq2))
    assert [r["dynamodb"]["Keys"]["pk"]["S"] for r in after["Records"]] == ["k3", "k4"]
    # LATEST sees only what comes next; the open shard always hands back an iterator.
    latest = it("LATEST")
    resp = streams.get_records(ShardIterator=latest)
    assert resp["Records"] == [] and resp["NextShardIterator"]
    ddb.put_item(TableName=table_name, Item={"pk": {"S": "later"}})
    resp = streams.get_records(ShardIterator=resp["NextShardIterator"])
    assert summary(resp["Records"]) == [("INSERT", "later")]
    # Limit pages through the shard.
    page = streams.get_records(ShardIterator=it("TRIM_HORIZON"), Limit=2)
    assert len(page["Records"]) == 2
    page2 = streams.get_records(ShardIterator=page["NextShardIterator"], Limit=2)
    assert [r["dynamodb"]["Keys"]["pk"]["S"] for r in page2["Records"]] == ["k2", "k3"]


def test_disable_and_reenable_make_a_new_stream(ddb, streams, table_name):
    arn1 = make_stream_table(ddb, table_name, view="NEW_IMAGE")
    ddb.put_item(TableName=table_name, Item={"pk": {"S": "one"}})
    ddb.update_table(TableName=table_name, StreamSpecification={"StreamEnabled": False})
    helpers.wait_active(ddb, table_name)
    ddb.put_item(TableName=table_name, Item={"pk": {"S": "while-off"}})
    d = streams.describe_stream(StreamArn=arn1)["StreamDescription"]
    assert d["StreamStatus"] == "DISABLED"
    # The old stream stays readable; its shard is closed and drains to a null iterator.
    shard = d["Shards"][0]
    assert "EndingSequenceNumber" in shard["SequenceNumberRange"]
    it = streams.get_shard_iterator(StreamArn=arn1, ShardId=shard["ShardId"],
                                    ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    resp = streams.get_records(ShardIterator=it)
    assert summary(resp["Records"]) == [("INSERT", "one")]
    assert "NextShardIterator" not in resp
    time.sleep(0.002)  # a new label needs a new millisecond
    ddb.update_table(TableName=table_name,
                     StreamSpecification={"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"})
    helpers.wait_active(ddb, table_name)
    arn2 = ddb.describe_table(TableName=table_name)["Table"]["LatestStreamArn"]
    assert arn2 != arn1
    ddb.put_item(TableName=table_name, Item={"pk": {"S": "two"}})
    assert summary(read_all(streams, arn2)) == [("INSERT", "two")]
    listed = streams.list_streams(TableName=table_name)["Streams"]
    assert {s["StreamArn"] for s in listed} == {arn1, arn2}
    assert all(s["TableName"] == table_name for s in listed)


def test_list_streams_pagination(ddb, streams, uniq):
    names = [uniq("ls") for _ in range(3)]
    arns = {make_stream_table(ddb, n) for n in names}
    seen = []
    kwargs = {"Limit": 1}
    for _ in range(100):
        resp = streams.list_streams(**kwargs)
        assert len(resp["Streams"]) <= 1
        seen.extend(s["StreamArn"] for s in resp["Streams"])
        if "LastEvaluatedStreamArn" not in resp:
            break
        kwargs["ExclusiveStartStreamArn"] = resp["LastEvaluatedStreamArn"]
    assert arns <= set(seen)
    assert len(seen) == len(set(seen))


def test_errors(ddb, streams, table_name):
    arn = make_stream_table(ddb, table_name)
    bad_arn = arn.replace(table_name, "no-such-table")
    helpers.expect_ddb_error(streams.describe_stream, "ResourceNotFoundException",
                             f"Requested resource not found: Stream: {bad_arn} not found",
                             StreamArn=bad_arn)
    helpers.expect_ddb_error(streams.get_shard_iterator, "ResourceNotFoundException",
                             StreamArn=arn, ShardId="shardId-00000000000000000000-00000000",
                             ShardIteratorType="LATEST")
    shard = shards_of(streams, arn)[0]["ShardId"]
    helpers.expect_ddb_error(streams.get_shard_iterator, "ValidationException",
                             StreamArn=arn, ShardId=shard, ShardIteratorType="AT_SEQUENCE_NUMBER")
    helpers.expect_ddb_error(streams.get_records, "ValidationException",
                             ShardIterator="not-an-iterator")
    it = streams.get_shard_iterator(StreamArn=arn, ShardId=shard,
                                    ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    # A tampered iterator is refused, not trusted.
    helpers.expect_ddb_error(streams.get_records, "ValidationException",
                             ShardIterator=it[:-4] + ("AAAA" if not it.endswith("AAAA") else "BBBB"))
    helpers.expect_ddb_error(
        streams.get_records, "ValidationException",
        "1 validation error detected: Value '1001' at 'limit' failed to satisfy constraint: "
        "Member must have value less than or equal to 1000",
        ShardIterator=it, Limit=1001)
    helpers.expect_ddb_error(streams.get_records, "ValidationException",
                             ShardIterator=it, Limit=0)
    # A table without a stream has no LatestStreamArn; ListStreams of it is empty.
    helpers.create_table(ddb, table_name + "-plain")
    assert "LatestStreamArn" not in ddb.describe_table(TableName=table_name + "-plain")["Table"]
    assert streams.list_streams(TableName=table_name + "-plain")["Streams"] == []


def test_health_reports_the_event_bus(endpoint):
    status, body = helpers.health(endpoint)
    assert status == 200
    doc = json.loads(body)
    assert doc["services"]["streams.dynamodb"] == "running"
    assert "appends_attempted" in doc["events"]
    assert doc["events"]["running"] is True


def test_records_are_visible_right_after_the_write(ddb, streams, table_name):
    arn = make_stream_table(ddb, table_name)
    shard = shards_of(streams, arn)[0]["ShardId"]
    it = streams.get_shard_iterator(StreamArn=arn, ShardId=shard,
                                    ShardIteratorType="LATEST")["ShardIterator"]
    lat = []
    for i in range(20):
        ddb.put_item(TableName=table_name, Item={"pk": {"S": f"v{i}"}})
        t0 = time.perf_counter()
        resp = streams.get_records(ShardIterator=it)
        lat.append(time.perf_counter() - t0)
        assert summary(resp["Records"]) == [("INSERT", f"v{i}")]
        it = resp["NextShardIterator"]
    lat.sort()
    print(f"GetRecords after an acknowledged PutItem: p50 {lat[len(lat) // 2] * 1000:.2f} ms")
