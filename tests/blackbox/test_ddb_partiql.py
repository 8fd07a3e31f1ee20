"""PartiQL: ExecuteStatement, BatchExecuteStatement and ExecuteTransaction through boto3."""

import pytest

import helpers

expect = helpers.expect_ddb_error
NWF = "Statement wasn't well formed, can't be processed: "


def S(v):
    return {"S": v}


def N(v):
    return {"N": str(v)}


def run(ddb, statement, params=None, **kwargs):
    if params is not None:
        kwargs["Parameters"] = params
    return ddb.execute_statement(Statement=statement, **kwargs)


def all_pages(ddb, statement, params=None, **kwargs):
    """Every item of a SELECT, following NextToken; also returns the number of pages."""
    items, pages, token = [], 0, None
    while True:
        extra = dict(kwargs)
        if token:
            extra["NextToken"] = token
        r = run(ddb, statement, params, **extra)
        items.extend(r["Items"])
        pages += 1
        token = r.get("NextToken")
        if not token:
            return items, pages
        assert pages < 100, "pagination does not end"


@pytest.fixture
def filled(ddb, table_name):
    """`pk` (S) + `sk` (N) table with a GSI on `g` (S, ALL): a/1..5, b/1..3."""
    helpers.create_table(
        ddb, table_name, hash_key=("pk", "S"), range_key=("sk", "N"), attrs={"g": "S"},
        GlobalSecondaryIndexes=[{
            "IndexName": "by_g",
            "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
            "Projection": {"ProjectionType": "ALL"},
        }],
    )
    for pk, n in (("a", 5), ("b", 3)):
        for i in range(1, n + 1):
            ddb.put_item(TableName=table_name, Item={
                "pk": S(pk), "sk": N(i), "v": N(i * 10), "g": S("odd" if i % 2 else "even"),
                "m": {"M": {"x": {"L": [N(i), S("y")]}}},
            })
    return table_name


# --------------------------------------------------------------------------- SELECT


def test_select_by_full_key(ddb, filled):
    r = run(ddb, f'SELECT * FROM "{filled}" WHERE pk = \'a\' AND sk = 3')
    assert len(r["Items"]) == 1
    assert r["Items"][0]["v"] == N(30)
    assert "NextToken" not in r
    r = run(ddb, f'SELECT * FROM "{filled}" WHERE pk = \'zz\' AND sk = 3')
    assert r["Items"] == []


def test_select_partition_with_sort_condition_and_order(ddb, filled):
    items, _ = all_pages(ddb, f'SELECT sk FROM "{filled}" WHERE pk = ? AND sk >= 2', [S("a")])
    assert [i["sk"]["N"] for i in items] == ["2", "3", "4", "5"]
    items, _ = all_pages(
        ddb, f'SELECT sk FROM "{filled}" WHERE pk = \'a\' AND sk BETWEEN 2 AND 4 ORDER BY sk DESC')
    assert [i["sk"]["N"] for i in items] == ["4", "3", "2"]
    items, _ = all_pages(
        ddb, f'SELECT pk, sk FROM "{filled}" WHERE pk IN [\'b\', \'a\'] AND sk = 1 ORDER BY pk DESC')
    assert [(i["pk"]["S"], i["sk"]["N"]) for i in items] == [("b", "1"), ("a", "1")]


def test_scan_with_filter_and_projection(ddb, filled):
    items, _ = all_pages(ddb, f'SELECT pk, sk, m.x[1] FROM "{filled}" WHERE v > 20 AND g = \'odd\'')
    got = sorted((i["pk"]["S"], int(i["sk"]["N"])) for i in items)
    assert got == [("a", 3), ("a", 5), ("b", 3)]
    # A nested path comes back under its last step.
    assert all(i["x[1]"] == S("y") and set(i) == {"pk", "sk", "x[1]"} for i in items)
    items, _ = all_pages(ddb, f'SELECT * FROM "{filled}" WHERE v IS MISSING OR begins_with(g, \'ev\')')
    assert sorted(int(i["sk"]["N"]) for i in items) == [2, 2, 4]
    items, _ = all_pages(ddb, f'SELECT * FROM "{filled}"')
    assert len(items) == 8


def test_pagination_with_limit_and_next_token(ddb, filled):
    items, pages = all_pages(ddb, f'SELECT * FROM "{filled}"', Limit=3)
    assert len(items) == 8
    assert pages >= 3
    assert len({(i["pk"]["S"], i["sk"]["N"]) for i in items}) == 8
    # Limit counts items read, before the filter.
    r = run(ddb, f'SELECT * FROM "{filled}" WHERE pk = \'a\' AND v > 40', Limit=2)
    assert r["Items"] == [] and "NextToken" in r
    items, _ = all_pages(ddb, f'SELECT * FROM "{filled}" WHERE pk = \'a\' AND v > 40', Limit=2)
    assert [i["sk"]["N"] for i in items] == ["5"]
    # Across partitions.
    items, pages = all_pages(ddb, f'SELECT * FROM "{filled}" WHERE pk IN [\'a\', \'b\']', Limit=2)
    assert len(items) == 8 and pages >= 4


def test_next_token_errors(ddb, filled):
    r = run(ddb, f'SELECT * FROM "{filled}"', Limit=1)
    token = r["NextToken"]
    expect(run, "ValidationException", "The provided starting key is invalid", ddb=ddb,
           statement=f'SELECT pk FROM "{filled}"', NextToken=token)
    expect(run, "ValidationException", "Invalid NextToken", ddb=ddb,
           statement=f'SELECT * FROM "{filled}"', NextToken="bm90IGEgdG9rZW4=")


def test_select_on_index(ddb, filled):
    items, _ = all_pages(ddb, f'SELECT pk, sk FROM "{filled}"."by_g" WHERE g = \'even\'')
    assert sorted((i["pk"]["S"], int(i["sk"]["N"])) for i in items) == [("a", 2), ("a", 4), ("b", 2)]
    expect(run, "ValidationException",
           "Strongly consistent read is not supported on Global Secondary Indexes",
           ddb=ddb, statement=f'SELECT * FROM "{filled}"."by_g" WHERE g = \'even\'',
           ConsistentRead=True)
    expect(run, "ValidationException", "The table does not have the specified index: nope",
           ddb=ddb, statement=f'SELECT * FROM "{filled}"."nope"')


def test_consumed_capacity(ddb, filled):
    r = run(ddb, f'SELECT * FROM "{filled}" WHERE pk = \'a\' AND sk = 1',
            ReturnConsumedCapacity="TOTAL", ConsistentRead=True)
    assert r["ConsumedCapacity"]["TableName"] == filled
    assert r["ConsumedCapacity"]["CapacityUnits"] == 1.0
    r = run(ddb, f'INSERT INTO "{filled}" VALUE {{\'pk\': \'c\', \'sk\': 1}}',
            ReturnConsumedCapacity="TOTAL")
    assert r["ConsumedCapacity"]["CapacityUnits"] >= 1.0


# --------------------------------------------------------------------------- writes


def test_insert_and_duplicate(ddb, range_table):
    r = run(ddb, f'INSERT INTO "{range_table}" VALUE {{\'pk\': \'a\', \'sk\': 1, '
                 f'\'l\': [1, \'two\', true, null], \'ss\': <<\'x\', \'y\'>>, \'m\': {{\'k\': 2.5}}}}')
    assert r["Items"] == []
    item = ddb.get_item(TableName=range_table, Key={"pk": S("a"), "sk": N(1)})["Item"]
    assert item["l"] == {"L": [N(1), S("two"), {"BOOL": True}, {"NULL": True}]}
    assert sorted(item["ss"]["SS"]) == ["x", "y"]
    assert item["m"] == {"M": {"k": N(2.5)}}
    expect(run, "DuplicateItemException", "Duplicate primary key exists in table", ddb=ddb,
           statement=f'INSERT INTO "{range_table}" VALUE {{\'pk\': \'a\', \'sk\': 1}}')
    expect(run, "ValidationException",
           "Key attribute's data type should match its data type in table's schema: Key sk",
           ddb=ddb, statement=f'INSERT INTO "{range_table}" VALUE {{\'pk\': \'a\', \'sk\': \'1\'}}')


def test_update_set_remove_and_arithmetic(ddb, range_table):
    ddb.put_item(TableName=range_table, Item={
        "pk": S("u"), "sk": N(1), "n": N(5), "gone": S("x"), "l": {"L": [N(1)]},
        "tags": {"SS": ["a"]}})
    r = run(ddb, f'UPDATE "{range_table}" SET n = n + 2 SET l = list_append(l, [2]) '
                 f'SET tags = set_add(tags, <<\'b\'>>) SET "new attr" = ? REMOVE gone '
                 f'WHERE pk = \'u\' AND sk = 1 RETURNING ALL NEW *', [S("hi")])
    item = r["Items"][0]
    assert item["n"] == N(7)
    assert item["l"] == {"L": [N(1), N(2)]}
    assert sorted(item["tags"]["SS"]) == ["a", "b"]
    assert item["new attr"] == S("hi")
    assert "gone" not in item
    r = run(ddb, f'UPDATE "{range_table}" SET n = n - 10 WHERE pk = \'u\' AND sk = 1 '
                 'RETURNING MODIFIED OLD *')
    assert r["Items"] == [{"n": N(7)}]
    r = run(ddb, f'UPDATE "{range_table}" SET tags = set_delete(tags, <<\'a\'>>) '
                 f'WHERE pk = \'u\' AND sk = 1')
    assert r["Items"] == []
    got = ddb.get_item(TableName=range_table, Key={"pk": S("u"), "sk": N(1)})["Item"]
    assert got["n"] == N(-3) and got["tags"] == {"SS": ["b"]}


def test_update_conditions(ddb, range_table):
    ddb.put_item(TableName=range_table, Item={"pk": S("c"), "sk": N(1), "v": N(1)})
    # UPDATE is not an upsert.
    expect(run, "ConditionalCheckFailedException", None, ddb=ddb,
           statement=f'UPDATE "{range_table}" SET v = 2 WHERE pk = \'nope\' AND sk = 1')
    assert "Item" not in ddb.get_item(TableName=range_table, Key={"pk": S("nope"), "sk": N(1)})
    # Extra WHERE terms are a condition; ALL_OLD returns the item on failure.
    err = expect(run, "ConditionalCheckFailedException", None, ddb=ddb,
                 statement=f'UPDATE "{range_table}" SET v = 2 WHERE pk = \'c\' AND sk = 1 AND v = 5',
                 ReturnValuesOnConditionCheckFailure="ALL_OLD")
    assert err.response["Item"]["v"] == N(1)
    run(ddb, f'UPDATE "{range_table}" SET v = 2 WHERE pk = \'c\' AND sk = 1 AND v = 1')
    assert ddb.get_item(TableName=range_table, Key={"pk": S("c"), "sk": N(1)})["Item"]["v"] == N(2)
    expect(run, "ValidationException",
           "Where clause does not contain a mandatory equality on all key attributes",
           ddb=ddb, statement=f'UPDATE "{range_table}" SET v = 3 WHERE pk = \'c\'')
    expect(run, "ValidationException",
           "One or more parameter values were invalid: Cannot update attribute sk. "
           "This attribute is part of the key",
           ddb=ddb, statement=f'UPDATE "{range_table}" SET sk = 3 WHERE pk = \'c\' AND sk = 1')


def test_delete(ddb, range_table):
    ddb.put_item(TableName=range_table, Item={"pk": S("d"), "sk": N(1), "v": N(1)})
    r = run(ddb, f'DELETE FROM "{range_table}" WHERE pk = \'d\' AND sk = 1 RETURNING ALL OLD *')
    assert r["Items"] == [{"pk": S("d"), "sk": N(1), "v": N(1)}]
    assert "Item" not in ddb.get_item(TableName=range_table, Key={"pk": S("d"), "sk": N(1)})
    # Deleting a missing item succeeds.
    assert run(ddb, f'DELETE FROM "{range_table}" WHERE pk = \'d\' AND sk = 1')["Items"] == []
    ddb.put_item(TableName=range_table, Item={"pk": S("d"), "sk": N(2), "v": N(1)})
    expect(run, "ConditionalCheckFailedException", None, ddb=ddb,
           statement=f'DELETE FROM "{range_table}" WHERE pk = \'d\' AND sk = 2 AND v = 9')
    expect(run, "ValidationException",
           "Invalid returning clause: RETURNING ALL NEW *. Only RETURNING ALL OLD * is allowed in DELETE statements.",
           ddb=ddb, statement=f'DELETE FROM "{range_table}" WHERE pk = \'d\' AND sk = 2 RETURNING ALL NEW *')
    expect(run, "ValidationException",
           "Where clause does not contain a mandatory equality on all key attributes",
           ddb=ddb, statement=f'DELETE FROM "{range_table}" WHERE pk = \'d\'')


def test_writes_maintain_indexes(ddb, filled):
    run(ddb, f'INSERT INTO "{filled}" VALUE {{\'pk\': \'z\', \'sk\': 1, \'g\': \'new\'}}')
    items, _ = all_pages(ddb, f'SELECT pk FROM "{filled}"."by_g" WHERE g = \'new\'')
    assert items == [{"pk": S("z")}]
    run(ddb, f'UPDATE "{filled}" SET g = \'newer\' WHERE pk = \'z\' AND sk = 1')
    assert all_pages(ddb, f'SELECT pk FROM "{filled}"."by_g" WHERE g = \'new\'')[0] == []
    run(ddb, f'DELETE FROM "{filled}" WHERE pk = \'z\' AND sk = 1')
    assert all_pages(ddb, f'SELECT pk FROM "{filled}"."by_g" WHERE g = \'newer\'')[0] == []
    assert ddb.describe_table(TableName=filled)["Table"]["ItemCount"] == 8


def test_parameters(ddb, range_table):
    run(ddb, f'INSERT INTO "{range_table}" VALUE {{\'pk\': ?, \'sk\': ?, \'b\': ?, \'m\': ?}}',
        [S("p"), N(1), {"B": b"\x00\x01"}, {"M": {"q": {"BOOL": False}}}])
    r = run(ddb, f'SELECT b, m FROM "{range_table}" WHERE pk = ? AND sk = ?', [S("p"), N(1)])
    assert r["Items"] == [{"b": {"B": b"\x00\x01"}, "m": {"M": {"q": {"BOOL": False}}}}]
    expect(run, "ValidationException",
           "Number of parameters in request and statement don't match.", ddb=ddb,
           statement=f'SELECT * FROM "{range_table}" WHERE pk = ? AND sk = ?', params=[S("p")])


def test_statement_errors(ddb, simple_table):
    expect(run, "ValidationException", NWF + "Unexpected token after expression", ddb=ddb,
           statement=f'SELECT * FROM "{simple_table}" WHERE pk = \'a\' foo')
    expect(run, "ValidationException", NWF + "Unexpected term", ddb=ddb,
           statement=f'SELECT * FROM "{simple_table}" WHERE')
    expect(run, "ValidationException", "Aliasing is not supported", ddb=ddb,
           statement=f'SELECT * FROM "{simple_table}" t')
    expect(run, "ValidationException", "Unsupported clause: LIMIT", ddb=ddb,
           statement=f'SELECT * FROM "{simple_table}" LIMIT 1')
    expect(run, "ResourceNotFoundException", "Requested resource not found", ddb=ddb,
           statement='SELECT * FROM "no-such-table-xyz"')
    expect(run, "ValidationException",
           "EXISTS can only be used in ExecuteTransaction write requests.", ddb=ddb,
           statement=f'EXISTS(SELECT * FROM "{simple_table}" WHERE pk = \'a\')')
    expect(run, "ValidationException", "Duplicate identifiers in select clause: x", ddb=ddb,
           statement=f'SELECT a.x, b.x FROM "{simple_table}"')
    # The wire model's length limit.
    err = expect(run, "ValidationException", None, ddb=ddb,
                 statement=f'SELECT * FROM "{simple_table}" WHERE pk = \'{"x" * 8200}\'')
    assert "8192" in helpers.error_of(err)[1]


# --------------------------------------------------------------------------- batches


def test_batch_execute_mixed_success_and_failure(ddb, simple_table):
    ddb.put_item(TableName=simple_table, Item={"pk": S("exists"), "v": N(1)})
    r = ddb.batch_execute_statement(Statements=[
        {"Statement": f'INSERT INTO "{simple_table}" VALUE {{\'pk\': \'new\'}}'},
        {"Statement": f'INSERT INTO "{simple_table}" VALUE {{\'pk\': \'exists\'}}'},
        {"Statement": f'UPDATE "{simple_table}" SET v = 2 WHERE pk = ?', "Parameters": [S("exists")]},
        {"Statement": f'UPDATE "{simple_table}" SET v = 2 WHERE pk = \'missing\''},
        {"Statement": f'SLECT * FROM "{simple_table}"'},
        {"Statement": f'DELETE FROM "{simple_table}" WHERE pk = \'new\''},
    ])["Responses"]
    assert len(r) == 6
    assert "Error" not in r[0] and r[0]["TableName"] == simple_table
    assert r[1]["Error"] == {"Code": "DuplicateItem",
                             "Message": "Duplicate primary key exists in table"}
    assert "Error" not in r[2]
    assert r[3]["Error"]["Code"] == "ConditionalCheckFailed"
    assert r[4]["Error"] == {"Code": "ValidationError",
                             "Message": NWF + "Expected data manipulation"}
    assert "Error" not in r[5]
    assert ddb.get_item(TableName=simple_table, Key={"pk": S("exists")})["Item"]["v"] == N(2)
    assert "Item" not in ddb.get_item(TableName=simple_table, Key={"pk": S("new")})


def test_batch_reads(ddb, simple_table):
    ddb.put_item(TableName=simple_table, Item={"pk": S("r1"), "v": N(1), "w": N(2)})
    r = ddb.batch_execute_statement(Statements=[
        {"Statement": f'SELECT v FROM "{simple_table}" WHERE pk = \'r1\''},
        {"Statement": f'SELECT * FROM "{simple_table}" WHERE pk = \'nothing\''},
        {"Statement": f'SELECT * FROM "{simple_table}" WHERE v = 1'},
    ], ReturnConsumedCapacity="TOTAL")["Responses"]
    assert r[0] == {"TableName": simple_table, "Item": {"v": N(1)}}
    assert r[1] == {"TableName": simple_table}
    assert r[2]["Error"] == {
        "Code": "ValidationError",
        "Message": "Where clause does not contain a mandatory equality on all key attributes"}
    expect(ddb.batch_execute_statement, "ValidationException", None, Statements=[
        {"Statement": f'SELECT * FROM "{simple_table}" WHERE pk = \'r1\''},
        {"Statement": f'DELETE FROM "{simple_table}" WHERE pk = \'r1\''},
    ])
    err = expect(ddb.batch_execute_statement, "ValidationException", None,
                 Statements=[{"Statement": f'DELETE FROM "{simple_table}" WHERE pk = \'x\''}] * 26)
    assert "25" in helpers.error_of(err)[1]


# --------------------------------------------------------------------------- transactions


def test_transaction_success(ddb, simple_table):
    ddb.put_item(TableName=simple_table, Item={"pk": S("t1"), "v": N(1)})
    ddb.put_item(TableName=simple_table, Item={"pk": S("t2"), "v": N(1)})
    ddb.put_item(TableName=simple_table, Item={"pk": S("t4"), "v": N(4)})
    r = ddb.execute_transaction(TransactStatements=[
        {"Statement": f'INSERT INTO "{simple_table}" VALUE {{\'pk\': \'t3\', \'v\': 3}}'},
        {"Statement": f'UPDATE "{simple_table}" SET v = v + 1 WHERE pk = ?', "Parameters": [S("t1")]},
        {"Statement": f'DELETE FROM "{simple_table}" WHERE pk = \'t2\''},
        {"Statement": f'EXISTS(SELECT * FROM "{simple_table}" WHERE pk = \'t4\' AND v = 4)'},
    ], ReturnConsumedCapacity="TOTAL")
    assert r["ConsumedCapacity"][0]["TableName"] == simple_table
    r = ddb.execute_transaction(TransactStatements=[
        {"Statement": f'SELECT * FROM "{simple_table}" WHERE pk = \'t{i}\''} for i in (1, 2, 3)])
    assert [x.get("Item") for x in r["Responses"]] == [
        {"pk": S("t1"), "v": N(2)}, None, {"pk": S("t3"), "v": N(3)}]


def test_transaction_cancellation_is_all_or_nothing(ddb, simple_table):
    ddb.put_item(TableName=simple_table, Item={"pk": S("c1"), "v": N(1)})
    ddb.put_item(TableName=simple_table, Item={"pk": S("c2"), "v": N(1)})
    err = expect(ddb.execute_transaction, "TransactionCanceledException", None, TransactStatements=[
        {"Statement": f'INSERT INTO "{simple_table}" VALUE {{\'pk\': \'c-new\'}}'},
        {"Statement": f'INSERT INTO "{simple_table}" VALUE {{\'pk\': \'c1\'}}'},
        {"Statement": f'UPDATE "{simple_table}" SET v = 5 WHERE pk = \'c-missing\''},
        {"Statement": f'EXISTS(SELECT * FROM "{simple_table}" WHERE pk = \'c2\' AND v = 2)'},
    ])
    reasons = err.response["CancellationReasons"]
    assert [x["Code"] for x in reasons] == [
        "None", "DuplicateItem", "ConditionalCheckFailed", "ConditionalCheckFailed"]
    assert helpers.error_of(err)[1] == (
        "Transaction cancelled, please refer cancellation reasons for specific reasons "
        "[None, DuplicateItem, ConditionalCheckFailed, ConditionalCheckFailed]")
    assert "Item" not in ddb.get_item(TableName=simple_table, Key={"pk": S("c-new")})


def test_transaction_validation(ddb, simple_table):
    expect(ddb.execute_transaction, "ValidationException",
           "ExecuteTransaction API does not support both read and write operations in the same request.",
           TransactStatements=[
               {"Statement": f'SELECT * FROM "{simple_table}" WHERE pk = \'a\''},
               {"Statement": f'DELETE FROM "{simple_table}" WHERE pk = \'b\''}])
    expect(ddb.execute_transaction, "ValidationException",
           "Validation failed in TransactStatements[1]: " + NWF + "Unexpected term",
           TransactStatements=[
               {"Statement": f'DELETE FROM "{simple_table}" WHERE pk = \'b\''},
               {"Statement": f'SELECT * FROM "{simple_table}" WHERE'}])
    expect(ddb.execute_transaction, "ValidationException",
           "Transaction request cannot include multiple operations on one item",
           TransactStatements=[
               {"Statement": f'DELETE FROM "{simple_table}" WHERE pk = \'b\''},
               {"Statement": f'UPDATE "{simple_table}" SET v = 1 WHERE pk = \'b\''}])
    expect(ddb.execute_transaction, "ValidationException", None, TransactStatements=[
        {"Statement": f'DELETE FROM "{simple_table}" WHERE pk = \'k{i}\''} for i in range(101)])


def test_transaction_client_request_token(ddb, simple_table):
    ddb.put_item(TableName=simple_table, Item={"pk": S("tok"), "v": N(0)})
    stmts = [{"Statement": f'UPDATE "{simple_table}" SET v = v + 1 WHERE pk = \'tok\''}]
    ddb.execute_transaction(TransactStatements=stmts, ClientRequestToken="partiql-token-1")
    ddb.execute_transaction(TransactStatements=stmts, ClientRequestToken="partiql-token-1")
    assert ddb.get_item(TableName=simple_table, Key={"pk": S("tok")})["Item"]["v"] == N(1)
    expect(ddb.execute_transaction, "IdempotentParameterMismatchException", None,
           TransactStatements=[{"Statement": f'UPDATE "{simple_table}" SET v = 7 WHERE pk = \'tok\''}],
           ClientRequestToken="partiql-token-1")
