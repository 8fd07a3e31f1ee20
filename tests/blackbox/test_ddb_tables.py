"""DynamoDB control plane: CreateTable/DescribeTable shapes, validation, ListTables paging,
UpdateTable (billing, throughput, GSIs, deletion protection), DeleteTable, tags, limits,
endpoints and the CLI waiters."""

import datetime as dt
import json
import re

import botocore.exceptions
import pytest

import helpers

ACCOUNT = helpers.ACCOUNT
UUID_RE = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def table_arn(name):
    return f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/{name}"


expect = helpers.expect_ddb_error


# --------------------------------------------------------------------------- CreateTable


def test_create_on_demand_table_shape(ddb, table_name):
    resp = helpers.create_table(ddb, table_name, hash_key=("pk", "S"), range_key=("sk", "N"),
                                wait=False)
    desc = resp["TableDescription"]
    assert desc["TableName"] == table_name
    assert desc["TableArn"] == table_arn(table_name)
    assert re.fullmatch(UUID_RE, desc["TableId"])  # (dynalite's TableId is not a valid UUID)
    assert desc["TableStatus"] in ("CREATING", "ACTIVE")
    assert desc["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"},
                                 {"AttributeName": "sk", "KeyType": "RANGE"}]
    assert sorted(desc["AttributeDefinitions"], key=lambda a: a["AttributeName"]) == [
        {"AttributeName": "pk", "AttributeType": "S"},
        {"AttributeName": "sk", "AttributeType": "N"}]
    assert desc["ItemCount"] == 0
    assert desc["TableSizeBytes"] == 0
    assert isinstance(desc["CreationDateTime"], dt.datetime)
    assert desc["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert desc["ProvisionedThroughput"] == {
        "NumberOfDecreasesToday": 0, "ReadCapacityUnits": 0, "WriteCapacityUnits": 0}

    t = helpers.wait_active(ddb, table_name)
    assert t["TableStatus"] == "ACTIVE"
    assert t["TableId"] == desc["TableId"]
    assert t["TableArn"] == desc["TableArn"]
    assert t["ItemCount"] == 0 and t["TableSizeBytes"] == 0
    assert t["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    now = dt.datetime.now(dt.timezone.utc)
    assert abs((now - t["CreationDateTime"]).total_seconds()) < 300


@pytest.mark.peer_differs  # dynalite predates DeletionProtectionEnabled and the PPR timestamp
def test_describe_reports_newer_fields(ddb, table_name):
    helpers.create_table(ddb, table_name)
    t = ddb.describe_table(TableName=table_name)["Table"]
    assert t["DeletionProtectionEnabled"] is False
    assert isinstance(t["BillingModeSummary"]["LastUpdateToPayPerRequestDateTime"], dt.datetime)
    assert "TableClassSummary" not in t or t["TableClassSummary"]["TableClass"] == "STANDARD"


def test_create_provisioned_with_lsi_and_gsi(ddb, table_name):
    helpers.create_table(
        ddb, table_name, hash_key=("pk", "S"), range_key=("sk", "S"),
        attrs={"lsk": "N", "gpk": "S", "gsk": "N"},
        ProvisionedThroughput={"ReadCapacityUnits": 5, "WriteCapacityUnits": 3},
        LocalSecondaryIndexes=[{
            "IndexName": "lsi1",
            "KeySchema": helpers.key_schema(("pk", "S"), ("lsk", "N")),
            "Projection": {"ProjectionType": "KEYS_ONLY"},
        }],
        GlobalSecondaryIndexes=[{
            "IndexName": "gsi1",
            "KeySchema": helpers.key_schema(("gpk", "S"), ("gsk", "N")),
            "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["extra"]},
            "ProvisionedThroughput": {"ReadCapacityUnits": 2, "WriteCapacityUnits": 1},
        }],
    )
    t = ddb.describe_table(TableName=table_name)["Table"]
    assert t["ProvisionedThroughput"]["ReadCapacityUnits"] == 5
    assert t["ProvisionedThroughput"]["WriteCapacityUnits"] == 3
    assert t["ProvisionedThroughput"]["NumberOfDecreasesToday"] == 0
    if "BillingModeSummary" in t:
        assert t["BillingModeSummary"]["BillingMode"] == "PROVISIONED"

    [lsi] = t["LocalSecondaryIndexes"]
    assert lsi["IndexName"] == "lsi1"
    assert lsi["IndexArn"] == table_arn(table_name) + "/index/lsi1"
    assert lsi["KeySchema"] == helpers.key_schema(("pk", "S"), ("lsk", "N"))
    assert lsi["Projection"] == {"ProjectionType": "KEYS_ONLY"}
    assert lsi["IndexSizeBytes"] == 0 and lsi["ItemCount"] == 0
    assert "IndexStatus" not in lsi  # LSIs have no status of their own

    [gsi] = t["GlobalSecondaryIndexes"]
    assert gsi["IndexName"] == "gsi1"
    assert gsi["IndexArn"] == table_arn(table_name) + "/index/gsi1"
    assert gsi["IndexStatus"] == "ACTIVE"
    assert gsi["KeySchema"] == helpers.key_schema(("gpk", "S"), ("gsk", "N"))
    assert gsi["Projection"] == {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["extra"]}
    assert gsi["ProvisionedThroughput"]["ReadCapacityUnits"] == 2
    assert gsi["ProvisionedThroughput"]["WriteCapacityUnits"] == 1
    assert gsi["ProvisionedThroughput"]["NumberOfDecreasesToday"] == 0
    assert gsi["IndexSizeBytes"] == 0 and gsi["ItemCount"] == 0


def test_on_demand_gsi_reports_zero_throughput(ddb, table_name):
    helpers.create_table(ddb, table_name, attrs={"g": "S"}, GlobalSecondaryIndexes=[{
        "IndexName": "byg", "KeySchema": helpers.key_schema(("g", "S")),
        "Projection": {"ProjectionType": "ALL"}}])
    [gsi] = ddb.describe_table(TableName=table_name)["Table"]["GlobalSecondaryIndexes"]
    assert gsi["ProvisionedThroughput"] == {
        "NumberOfDecreasesToday": 0, "ReadCapacityUnits": 0, "WriteCapacityUnits": 0}
    assert gsi["Projection"] == {"ProjectionType": "ALL"}


@pytest.mark.peer_differs  # dynalite ignores SSE, TableClass and DeletionProtection
def test_create_with_stream_sse_class_protection_tags(ddb, table_name):
    helpers.create_table(
        ddb, table_name,
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        SSESpecification={"Enabled": True, "SSEType": "KMS"},
        TableClass="STANDARD_INFREQUENT_ACCESS",
        DeletionProtectionEnabled=True,
        Tags=[{"Key": "team", "Value": "core"}, {"Key": "env", "Value": "test"}],
    )
    t = ddb.describe_table(TableName=table_name)["Table"]
    assert t["StreamSpecification"] == {"StreamEnabled": True,
                                        "StreamViewType": "NEW_AND_OLD_IMAGES"}
    label = t["LatestStreamLabel"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}", label), label
    assert t["LatestStreamArn"] == f"{table_arn(table_name)}/stream/{label}"
    assert t["SSEDescription"]["Status"] == "ENABLED"
    assert t["SSEDescription"]["SSEType"] == "KMS"
    assert t["SSEDescription"]["KMSMasterKeyArn"].startswith(f"arn:aws:kms:us-east-1:{ACCOUNT}:key/")
    assert t["TableClassSummary"]["TableClass"] == "STANDARD_INFREQUENT_ACCESS"
    assert t["DeletionProtectionEnabled"] is True
    tags = ddb.list_tags_of_resource(ResourceArn=t["TableArn"])["Tags"]
    assert sorted(tags, key=lambda x: x["Key"]) == [{"Key": "env", "Value": "test"},
                                                    {"Key": "team", "Value": "core"}]

    expect(ddb.delete_table, "ValidationException",
           "Resource cannot be deleted as it is currently protected against deletion. "
           "Disable deletion protection first.", TableName=table_name)
    ddb.update_table(TableName=table_name, DeletionProtectionEnabled=False)
    helpers.wait_active(ddb, table_name)
    assert ddb.describe_table(TableName=table_name)["Table"]["DeletionProtectionEnabled"] is False
    ddb.delete_table(TableName=table_name)
    helpers.wait_gone(ddb, table_name)


@pytest.mark.peer_differs  # dynalite has its own older text for CreateTable names
def test_create_table_name_too_short(ddb):
    expect(ddb.create_table, "ValidationException",
           "1 validation error detected: Value 'ab' at 'tableName' failed to satisfy "
           "constraint: Member must have length greater than or equal to 3",
           TableName="ab", BillingMode="PAY_PER_REQUEST",
           KeySchema=helpers.key_schema(("pk", "S")),
           AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}])


@pytest.mark.peer_differs  # TableName also accepts ARNs now; a plain name is still checked
def test_describe_table_name_too_short(ddb):
    expect(ddb.describe_table, "ValidationException",
           "1 validation error detected: Value 'ab' at 'tableName' failed to satisfy "
           "constraint: Member must have length greater than or equal to 3",
           TableName="ab")


def test_get_item_table_name_bad_pattern(ddb):
    expect(ddb.get_item, "ValidationException",
           "1 validation error detected: Value 'a b;c' at 'tableName' failed to satisfy "
           "constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+",
           TableName="a b;c", Key={"pk": {"S": "x"}})


def test_create_key_not_in_attribute_definitions(ddb, table_name):
    expect(ddb.create_table, "ValidationException",
           "One or more parameter values were invalid: Some index key attributes are not "
           "defined in AttributeDefinitions. Keys: [pk], AttributeDefinitions: [other]",
           TableName=table_name, BillingMode="PAY_PER_REQUEST",
           KeySchema=helpers.key_schema(("pk", "S")),
           AttributeDefinitions=[{"AttributeName": "other", "AttributeType": "S"}])


def test_create_unused_attribute_definition(ddb, table_name):
    expect(ddb.create_table, "ValidationException",
           "One or more parameter values were invalid: Number of attributes in KeySchema does "
           "not exactly match number of attributes defined in AttributeDefinitions",
           TableName=table_name, BillingMode="PAY_PER_REQUEST",
           KeySchema=helpers.key_schema(("pk", "S")),
           AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                 {"AttributeName": "extra", "AttributeType": "S"}])


def test_create_provisioned_without_throughput(ddb, table_name):
    expect(ddb.create_table, "ValidationException",
           "One or more parameter values were invalid: ReadCapacityUnits and "
           "WriteCapacityUnits must both be specified when BillingMode is PROVISIONED",
           TableName=table_name, BillingMode="PROVISIONED",
           KeySchema=helpers.key_schema(("pk", "S")),
           AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}])


def test_create_pay_per_request_with_throughput(ddb, table_name):
    expect(ddb.create_table, "ValidationException",
           "One or more parameter values were invalid: Neither ReadCapacityUnits nor "
           "WriteCapacityUnits can be specified when BillingMode is PAY_PER_REQUEST",
           TableName=table_name, BillingMode="PAY_PER_REQUEST",
           ProvisionedThroughput={"ReadCapacityUnits": 1, "WriteCapacityUnits": 1},
           KeySchema=helpers.key_schema(("pk", "S")),
           AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}])


def test_create_bad_key_type_enum(ddb, table_name):
    expect(ddb.create_table, "ValidationException",
           "1 validation error detected: Value 'X' at 'attributeDefinitions.1.member."
           "attributeType' failed to satisfy constraint: Member must satisfy enum value set: "
           "[B, N, S]",
           TableName=table_name, BillingMode="PAY_PER_REQUEST",
           KeySchema=helpers.key_schema(("pk", "S")),
           AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "X"}])


@pytest.mark.peer_differs  # dynalite answers ResourceInUseException with an empty message
def test_create_duplicate_table(ddb, simple_table):
    expect(ddb.create_table, "ResourceInUseException",
           f"Table already exists: {simple_table}",
           TableName=simple_table, BillingMode="PAY_PER_REQUEST",
           KeySchema=helpers.key_schema(("pk", "S")),
           AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}])


def test_create_duplicate_table_code(ddb, simple_table):
    expect(ddb.create_table, "ResourceInUseException",
           TableName=simple_table, BillingMode="PAY_PER_REQUEST",
           KeySchema=helpers.key_schema(("pk", "S")),
           AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}])


# --------------------------------------------------------------------------- not found


def test_describe_missing_table(ddb, table_name):
    expect(ddb.describe_table, "ResourceNotFoundException",
           f"Requested resource not found: Table: {table_name} not found", TableName=table_name)


def test_delete_missing_table(ddb, table_name):
    expect(ddb.delete_table, "ResourceNotFoundException",
           f"Requested resource not found: Table: {table_name} not found", TableName=table_name)


def test_item_ops_on_missing_table(ddb, table_name):
    key = {"pk": {"S": "a"}}
    for fn, kw in (
        (ddb.get_item, {"Key": key}),
        (ddb.put_item, {"Item": key}),
        (ddb.delete_item, {"Key": key}),
        (ddb.update_item, {"Key": key}),
        (ddb.scan, {}),
        (ddb.query, {"KeyConditionExpression": "pk = :v",
                     "ExpressionAttributeValues": {":v": {"S": "a"}}}),
    ):
        expect(fn, "ResourceNotFoundException", "Requested resource not found",
               TableName=table_name, **kw)


# --------------------------------------------------------------------------- ListTables


def test_list_tables_pagination(ddb, uniq):
    prefix = uniq("lt")
    names = sorted(f"{prefix}-{i}" for i in range(5))
    for n in names:
        helpers.create_table(ddb, n, wait=False)
    for n in names:
        helpers.wait_active(ddb, n)

    seen, start, pages = [], None, 0
    while True:
        kw = {"Limit": 2}
        if start:
            kw["ExclusiveStartTableName"] = start
        resp = ddb.list_tables(**kw)
        pages += 1
        assert len(resp["TableNames"]) <= 2
        seen += resp["TableNames"]
        if "LastEvaluatedTableName" not in resp:
            break
        assert resp["LastEvaluatedTableName"] == resp["TableNames"][-1]
        start = resp["LastEvaluatedTableName"]
        assert pages < 1000
    assert seen == sorted(seen), "ListTables must return names in order"
    assert len(seen) == len(set(seen))
    assert [n for n in seen if n.startswith(prefix)] == names

    # Starting after a name continues strictly after it.
    resp = ddb.list_tables(ExclusiveStartTableName=names[1], Limit=100)
    # Nothing else sorts between our uniquely-prefixed names.
    assert resp["TableNames"][:3] == names[2:]


def test_list_tables_limit_validation(ddb):
    expect(ddb.list_tables, "ValidationException",
           "1 validation error detected: Value '101' at 'limit' failed to satisfy constraint: "
           "Member must have value less than or equal to 100", Limit=101)
    expect(ddb.list_tables, "ValidationException",
           "1 validation error detected: Value '0' at 'limit' failed to satisfy constraint: "
           "Member must have value greater than or equal to 1", Limit=0)


# --------------------------------------------------------------------------- UpdateTable


def test_update_billing_and_throughput(ddb, table_name):
    helpers.create_table(ddb, table_name,
                         ProvisionedThroughput={"ReadCapacityUnits": 1, "WriteCapacityUnits": 1})
    ddb.update_table(TableName=table_name,
                     ProvisionedThroughput={"ReadCapacityUnits": 7, "WriteCapacityUnits": 4})
    t = helpers.wait_active(ddb, table_name)
    assert t["ProvisionedThroughput"]["ReadCapacityUnits"] == 7
    assert t["ProvisionedThroughput"]["WriteCapacityUnits"] == 4

    ddb.update_table(TableName=table_name, BillingMode="PAY_PER_REQUEST")
    t = helpers.wait_active(ddb, table_name)
    assert t["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert t["ProvisionedThroughput"]["ReadCapacityUnits"] == 0
    assert t["ProvisionedThroughput"]["WriteCapacityUnits"] == 0


def test_update_table_missing(ddb, table_name):
    expect(ddb.update_table, "ResourceNotFoundException",
           TableName=table_name, BillingMode="PAY_PER_REQUEST")


@pytest.mark.peer_differs  # dynalite wants ProvisionedThroughput for a GSI on an on-demand table
def test_update_add_gsi_backfills_then_query_and_delete(ddb, table_name):
    helpers.create_table(ddb, table_name)
    items = [{"pk": {"S": f"p{i}"}, "color": {"S": "red" if i % 2 else "blue"},
              "n": {"N": str(i)}} for i in range(40)]
    items.append({"pk": {"S": "nocolor"}})  # not in the sparse index
    helpers.put_many(ddb, table_name, items)

    ddb.update_table(
        TableName=table_name,
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                              {"AttributeName": "color", "AttributeType": "S"}],
        GlobalSecondaryIndexUpdates=[{"Create": {
            "IndexName": "bycolor",
            "KeySchema": helpers.key_schema(("color", "S")),
            "Projection": {"ProjectionType": "ALL"},
        }}],
    )
    t = helpers.wait_active(ddb, table_name)
    [gsi] = t["GlobalSecondaryIndexes"]
    assert gsi["IndexName"] == "bycolor" and gsi["IndexStatus"] == "ACTIVE"
    assert gsi.get("Backfilling", False) is False

    got, _ = helpers.query_all(ddb, TableName=table_name, IndexName="bycolor",
                               KeyConditionExpression="color = :c",
                               ExpressionAttributeValues={":c": {"S": "red"}})
    assert sorted(int(i["n"]["N"]) for i in got) == list(range(1, 40, 2))
    # New writes land in the index too.
    ddb.put_item(TableName=table_name, Item={"pk": {"S": "late"}, "color": {"S": "red"},
                                             "n": {"N": "1000"}})
    got, _ = helpers.query_all(ddb, TableName=table_name, IndexName="bycolor",
                               KeyConditionExpression="color = :c",
                               ExpressionAttributeValues={":c": {"S": "red"}})
    assert len(got) == 21

    ddb.update_table(TableName=table_name,
                     GlobalSecondaryIndexUpdates=[{"Delete": {"IndexName": "bycolor"}}])
    t = helpers.wait_active(ddb, table_name)
    deadline_polls = 0
    while t.get("GlobalSecondaryIndexes"):
        deadline_polls += 1
        assert deadline_polls < 500, t
        t = helpers.wait_active(ddb, table_name)
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        ddb.query(TableName=table_name, IndexName="bycolor",
                  KeyConditionExpression="color = :c",
                  ExpressionAttributeValues={":c": {"S": "red"}})
    assert helpers.error_of(ei.value)[0] == "ValidationException"


# --------------------------------------------------------------------------- DeleteTable


def test_delete_table(ddb, table_name):
    helpers.create_table(ddb, table_name)
    ddb.put_item(TableName=table_name, Item={"pk": {"S": "a"}})
    desc = ddb.delete_table(TableName=table_name)["TableDescription"]
    assert desc["TableName"] == table_name
    assert desc["TableArn"] == table_arn(table_name)
    assert desc["TableStatus"] in ("DELETING", "ACTIVE")
    helpers.wait_gone(ddb, table_name)
    # A new table with the same name starts empty.
    helpers.create_table(ddb, table_name)
    assert ddb.scan(TableName=table_name)["Items"] == []


# --------------------------------------------------------------------------- tags


def test_tag_untag_list(ddb, simple_table):
    arn = table_arn(simple_table)
    assert ddb.list_tags_of_resource(ResourceArn=arn)["Tags"] == []
    ddb.tag_resource(ResourceArn=arn, Tags=[{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}])
    ddb.tag_resource(ResourceArn=arn, Tags=[{"Key": "a", "Value": "3"}])
    tags = sorted(ddb.list_tags_of_resource(ResourceArn=arn)["Tags"], key=lambda t: t["Key"])
    assert tags == [{"Key": "a", "Value": "3"}, {"Key": "b", "Value": "2"}]
    ddb.untag_resource(ResourceArn=arn, TagKeys=["a"])
    assert ddb.list_tags_of_resource(ResourceArn=arn)["Tags"] == [{"Key": "b", "Value": "2"}]


def test_tags_of_missing_table(ddb, table_name):
    expect(ddb.list_tags_of_resource, "ResourceNotFoundException",
           ResourceArn=table_arn(table_name))


# --------------------------------------------------------------------------- limits, endpoints


@pytest.mark.peer_differs  # not in dynalite
def test_describe_limits(ddb):
    limits = ddb.describe_limits()
    assert {k: limits[k] for k in (
        "AccountMaxReadCapacityUnits", "AccountMaxWriteCapacityUnits",
        "TableMaxReadCapacityUnits", "TableMaxWriteCapacityUnits")} == {
        "AccountMaxReadCapacityUnits": 80000, "AccountMaxWriteCapacityUnits": 80000,
        "TableMaxReadCapacityUnits": 40000, "TableMaxWriteCapacityUnits": 40000}


@pytest.mark.peer_differs  # not in dynalite
def test_describe_endpoints(ddb):
    [ep] = ddb.describe_endpoints()["Endpoints"]
    assert ep["CachePeriodInMinutes"] == 1440
    assert isinstance(ep["Address"], str) and ep["Address"]


# --------------------------------------------------------------------------- AWS CLI


def test_cli_create_wait_describe_delete_wait(endpoint, table_name):
    out = helpers.aws_cli(
        endpoint, "dynamodb", "create-table", "--table-name", table_name,
        "--attribute-definitions", "AttributeName=pk,AttributeType=S",
        "--key-schema", "AttributeName=pk,KeyType=HASH",
        "--billing-mode", "PAY_PER_REQUEST")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["TableDescription"]["TableName"] == table_name

    out = helpers.aws_cli(endpoint, "dynamodb", "wait", "table-exists", "--table-name", table_name)
    assert out.returncode == 0, out.stderr

    out = helpers.aws_cli(endpoint, "dynamodb", "put-item", "--table-name", table_name,
                          "--item", '{"pk": {"S": "k"}, "v": {"N": "1.50"}}')
    assert out.returncode == 0, out.stderr
    out = helpers.aws_cli(endpoint, "dynamodb", "get-item", "--table-name", table_name,
                          "--key", '{"pk": {"S": "k"}}')
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["Item"] == {"pk": {"S": "k"}, "v": {"N": "1.5"}}

    out = helpers.aws_cli(endpoint, "dynamodb", "describe-table", "--table-name", table_name)
    assert json.loads(out.stdout)["Table"]["TableStatus"] == "ACTIVE"

    out = helpers.aws_cli(endpoint, "dynamodb", "delete-table", "--table-name", table_name)
    assert out.returncode == 0, out.stderr
    out = helpers.aws_cli(endpoint, "dynamodb", "wait", "table-not-exists",
                          "--table-name", table_name)
    assert out.returncode == 0, out.stderr


def test_cli_reports_aws_error(endpoint, table_name):
    out = helpers.aws_cli(endpoint, "dynamodb", "describe-table", "--table-name", table_name)
    assert out.returncode == 255  # AWS CLI v1's code for a service error (v2 uses 254)
    assert "ResourceNotFoundException" in out.stderr
    assert f"Requested resource not found: Table: {table_name} not found" in out.stderr
