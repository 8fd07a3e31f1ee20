"""Query and Scan: key conditions, order, paging, Select, indexes, filters, segments, the
1 MB page limit and the legacy parameters."""

import pytest

import helpers

N_ITEMS = 30


expect = helpers.expect_ddb_error


@pytest.fixture
def qtable(ddb, table_name):
    """pk (S) + sk (S) with an LSI on `lsk` (N) and a GSI on `g` (S) + `gsk` (N).
    Partition "a" holds N_ITEMS items with sk "000".."029"; partition "b" a few."""
    helpers.create_table(
        ddb, table_name, hash_key=("pk", "S"), range_key=("sk", "S"),
        attrs={"lsk": "N", "g": "S", "gsk": "N"},
        LocalSecondaryIndexes=[{
            "IndexName": "bylsk", "KeySchema": helpers.key_schema(("pk", "S"), ("lsk", "N")),
            "Projection": {"ProjectionType": "ALL"}}],
        GlobalSecondaryIndexes=[{
            "IndexName": "byg", "KeySchema": helpers.key_schema(("g", "S"), ("gsk", "N")),
            "Projection": {"ProjectionType": "KEYS_ONLY"}}],
    )
    items = []
    for i in range(N_ITEMS):
        items.append({"pk": {"S": "a"}, "sk": {"S": f"{i:03d}"}, "lsk": {"N": str(100 - i)},
                      "g": {"S": "even" if i % 2 == 0 else "odd"}, "gsk": {"N": str(i)},
                      "n": {"N": str(i)}, "pad": {"S": "x" * 50}})
    for i in range(3):
        items.append({"pk": {"S": "b"}, "sk": {"S": f"{i:03d}"}, "n": {"N": str(i)}})
    helpers.put_many(ddb, table_name, items)
    return table_name


def sks(items):
    return [i["sk"]["S"] for i in items]


def q(ddb, table, expr, values, **kw):
    return ddb.query(TableName=table, KeyConditionExpression=expr,
                     ExpressionAttributeValues=values, **kw)


def test_query_hash_only(ddb, qtable):
    r = q(ddb, qtable, "pk = :p", {":p": {"S": "a"}})
    assert sks(r["Items"]) == [f"{i:03d}" for i in range(N_ITEMS)]
    assert r["Count"] == N_ITEMS and r["ScannedCount"] == N_ITEMS
    assert "LastEvaluatedKey" not in r


@pytest.mark.parametrize("expr,values,expected", [
    ("pk = :p AND sk = :s", {":s": {"S": "005"}}, ["005"]),
    ("pk = :p AND begins_with(sk, :s)", {":s": {"S": "01"}}, [f"{i:03d}" for i in range(10, 20)]),
    ("pk = :p AND sk BETWEEN :lo AND :hi", {":lo": {"S": "003"}, ":hi": {"S": "006"}},
     ["003", "004", "005", "006"]),
    ("pk = :p AND sk < :s", {":s": {"S": "003"}}, ["000", "001", "002"]),
    ("pk = :p AND sk <= :s", {":s": {"S": "002"}}, ["000", "001", "002"]),
    ("pk = :p AND sk > :s", {":s": {"S": "027"}}, ["028", "029"]),
    ("pk = :p AND sk >= :s", {":s": {"S": "028"}}, ["028", "029"]),
    ("sk > :s AND pk = :p", {":s": {"S": "027"}}, ["028", "029"]),
    (":s < sk AND pk = :p", {":s": {"S": "027"}}, ["028", "029"]),
])
def test_query_sort_key_conditions(ddb, qtable, expr, values, expected):
    r = q(ddb, qtable, expr, {":p": {"S": "a"}, **values})
    assert sks(r["Items"]) == expected


def test_query_descending(ddb, qtable):
    r = q(ddb, qtable, "pk = :p", {":p": {"S": "a"}}, ScanIndexForward=False)
    assert sks(r["Items"]) == [f"{i:03d}" for i in reversed(range(N_ITEMS))]


def test_query_paging_with_limit(ddb, qtable):
    for forward in (True, False):
        items, pages = helpers.query_all(
            ddb, TableName=qtable, KeyConditionExpression="pk = :p",
            ExpressionAttributeValues={":p": {"S": "a"}}, Limit=7, ScanIndexForward=forward)
        expected = [f"{i:03d}" for i in range(N_ITEMS)]
        assert sks(items) == (expected if forward else expected[::-1])
        assert pages in (5, 6)  # 30/7: 5 pages, maybe one more empty page at the end


def test_query_last_evaluated_key_shape(ddb, qtable):
    r = q(ddb, qtable, "pk = :p", {":p": {"S": "a"}}, Limit=2)
    assert r["LastEvaluatedKey"] == {"pk": {"S": "a"}, "sk": {"S": "001"}}
    r = q(ddb, qtable, "pk = :p", {":p": {"S": "a"}}, Limit=2, IndexName="bylsk")
    assert r["LastEvaluatedKey"] == {"pk": {"S": "a"}, "sk": {"S": "028"}, "lsk": {"N": "72"}}


def test_query_select_count(ddb, qtable):
    r = q(ddb, qtable, "pk = :p", {":p": {"S": "a"}}, Select="COUNT")
    assert r["Count"] == N_ITEMS and r["ScannedCount"] == N_ITEMS
    assert "Items" not in r


def test_query_filter_counts(ddb, qtable):
    r = q(ddb, qtable, "pk = :p", {":p": {"S": "a"}, ":min": {"N": "25"}},
          FilterExpression="n >= :min")
    assert sks(r["Items"]) == ["025", "026", "027", "028", "029"]
    assert r["Count"] == 5 and r["ScannedCount"] == N_ITEMS
    # Limit bounds the items read, before the filter.
    r = q(ddb, qtable, "pk = :p", {":p": {"S": "a"}, ":min": {"N": "25"}},
          FilterExpression="n >= :min", Limit=10)
    assert r["Count"] == 0 and r["ScannedCount"] == 10 and "LastEvaluatedKey" in r


def test_query_projection(ddb, qtable):
    r = q(ddb, qtable, "pk = :p AND sk = :s", {":p": {"S": "a"}, ":s": {"S": "001"}},
          ProjectionExpression="n, #g", ExpressionAttributeNames={"#g": "g"})
    assert r["Items"] == [{"n": {"N": "1"}, "g": {"S": "odd"}}]


def test_query_lsi(ddb, qtable):
    r = q(ddb, qtable, "pk = :p AND lsk > :x", {":p": {"S": "a"}, ":x": {"N": "97"}},
          IndexName="bylsk")
    # lsk = 100 - i, so ascending lsk is descending sk.
    assert sks(r["Items"]) == ["002", "001", "000"]
    assert r["Items"][0]["pad"] == {"S": "x" * 50}  # ALL projection


def test_query_gsi(ddb, qtable):
    r = q(ddb, qtable, "g = :g AND gsk BETWEEN :a AND :b",
          {":g": {"S": "odd"}, ":a": {"N": "3"}, ":b": {"N": "9"}}, IndexName="byg")
    assert [i["gsk"]["N"] for i in r["Items"]] == ["3", "5", "7", "9"]
    # KEYS_ONLY: table keys and index keys only.
    assert set(r["Items"][0]) == {"pk", "sk", "g", "gsk"}
    items, _ = helpers.query_all(ddb, TableName=qtable, IndexName="byg", Limit=4,
                                 KeyConditionExpression="g = :g",
                                 ExpressionAttributeValues={":g": {"S": "even"}})
    assert [int(i["gsk"]["N"]) for i in items] == list(range(0, N_ITEMS, 2))


def test_query_gsi_consistent_read_rejected(ddb, qtable):
    expect(ddb.query, "ValidationException",
           "Consistent reads are not supported on global secondary indexes",
           TableName=qtable, IndexName="byg", ConsistentRead=True,
           KeyConditionExpression="g = :g", ExpressionAttributeValues={":g": {"S": "odd"}})


def test_query_unknown_index(ddb, qtable):
    expect(ddb.query, "ValidationException",
           "The table does not have the specified index: nosuch",
           TableName=qtable, IndexName="nosuch",
           KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "a"}})


def test_query_condition_on_non_key(ddb, qtable):
    expect(ddb.query, "ValidationException", "Query condition missed key schema element: pk",
           TableName=qtable, KeyConditionExpression="n = :n",
           ExpressionAttributeValues={":n": {"N": "1"}})


def test_query_invalid_key_operator(ddb, qtable):
    expect(ddb.query, "ValidationException",
           "Invalid operator used in KeyConditionExpression: OR",
           TableName=qtable, KeyConditionExpression="pk = :p OR sk = :s",
           ExpressionAttributeValues={":p": {"S": "a"}, ":s": {"S": "1"}})


def test_query_requires_key_condition(ddb, qtable):
    expect(ddb.query, "ValidationException",
           "Either the KeyConditions or KeyConditionExpression parameter must be specified in "
           "the request.", TableName=qtable)


def test_query_legacy_key_conditions_and_query_filter(ddb, qtable):
    r = ddb.query(TableName=qtable, KeyConditions={
        "pk": {"ComparisonOperator": "EQ", "AttributeValueList": [{"S": "a"}]},
        "sk": {"ComparisonOperator": "GT", "AttributeValueList": [{"S": "020"}]},
    }, QueryFilter={"n": {"ComparisonOperator": "LE", "AttributeValueList": [{"N": "23"}]}},
        AttributesToGet=["sk", "n"])
    assert r["Items"] == [{"sk": {"S": f"{i:03d}"}, "n": {"N": str(i)}} for i in (21, 22, 23)]
    assert r["ScannedCount"] == 9


# --------------------------------------------------------------------------- Scan


def test_scan_everything_with_paging(ddb, qtable):
    items = helpers.scan_all(ddb, TableName=qtable, Limit=4)
    keys = sorted((i["pk"]["S"], i["sk"]["S"]) for i in items)
    assert len(keys) == N_ITEMS + 3 and len(set(keys)) == len(keys)


def test_scan_filter(ddb, qtable):
    items = helpers.scan_all(ddb, TableName=qtable, FilterExpression="g = :g AND n < :n",
                             ExpressionAttributeValues={":g": {"S": "odd"}, ":n": {"N": "6"}})
    assert sorted(sks(items)) == ["001", "003", "005"]


def test_scan_legacy_filter(ddb, qtable):
    r = ddb.scan(TableName=qtable, ScanFilter={
        "pk": {"ComparisonOperator": "EQ", "AttributeValueList": [{"S": "b"}]}},
        Select="COUNT")
    assert r["Count"] == 3 and r["ScannedCount"] == N_ITEMS + 3


def test_parallel_scan_covers_everything_once(ddb, qtable):
    seen = []
    for segment in range(4):
        seen += helpers.scan_all(ddb, TableName=qtable, Segment=segment, TotalSegments=4,
                                 Limit=5)
    keys = [(i["pk"]["S"], i["sk"]["S"]) for i in seen]
    assert len(keys) == N_ITEMS + 3
    assert len(set(keys)) == len(keys)


def test_scan_segment_validation(ddb, qtable):
    expect(ddb.scan, "ValidationException",
           "The Segment parameter is zero-based and must be less than parameter TotalSegments: "
           "Segment: 4 is not less than TotalSegments: 4", TableName=qtable, Segment=4, TotalSegments=4)
    expect(ddb.scan, "ValidationException",
           "The TotalSegments parameter is required but was not present in the request when "
           "Segment parameter is present", TableName=qtable, Segment=1)


def test_scan_gsi(ddb, qtable):
    items = helpers.scan_all(ddb, TableName=qtable, IndexName="byg")
    assert len(items) == N_ITEMS  # partition "b" items have no `g`: sparse index


@pytest.mark.peer_differs  # dynalite lets a consistent Scan through on a GSI
def test_scan_gsi_consistent_read_rejected(ddb, qtable):
    expect(ddb.scan, "ValidationException",
           "Consistent reads are not supported on global secondary indexes",
           TableName=qtable, IndexName="byg", ConsistentRead=True)


def test_one_megabyte_pages(ddb, table_name):
    helpers.create_table(ddb, table_name)
    blob = "z" * (100 * 1024)
    n = 30  # ~3 MB in all
    helpers.put_many(ddb, table_name, [{"pk": {"S": f"big{i:02d}"}, "d": {"S": blob}}
                                       for i in range(n)])
    seen, pages, kwargs = [], 0, {"TableName": table_name}
    while True:
        r = ddb.scan(**kwargs)
        pages += 1
        # A page stops once it reaches 1 MB of data.
        assert len(r["Items"]) <= 11, len(r["Items"])
        seen += [i["pk"]["S"] for i in r["Items"]]
        if "LastEvaluatedKey" not in r:
            break
        kwargs["ExclusiveStartKey"] = r["LastEvaluatedKey"]
        assert pages < 50
    assert pages >= 3
    assert sorted(seen) == [f"big{i:02d}" for i in range(n)]

    r = ddb.scan(TableName=table_name, Select="COUNT")
    assert "LastEvaluatedKey" in r and r["ScannedCount"] <= 11
