"""DynamoDB items: Put/Get/Update/Delete, ReturnValues, conditions, types, numbers and limits."""

import pytest

import helpers

OPI = "One or more parameter values were invalid: "


expect = helpers.expect_ddb_error


ALL_TYPES = {
    "pk": {"S": "all"},
    "s": {"S": "héllo ✓"},
    "n": {"N": "-12.5"},
    "b": {"B": b"\x00\x01\xffbinary"},
    "t": {"BOOL": True},
    "f": {"BOOL": False},
    "z": {"NULL": True},
    "l": {"L": [{"S": "x"}, {"N": "1"}, {"L": []}, {"M": {}}]},
    "m": {"M": {"child": {"M": {"deep": {"S": "d"}}}, "k": {"N": "2"}}},
    "ss": {"SS": ["b", "a"]},
    "ns": {"NS": ["3", "1.5"]},
    "bs": {"BS": [b"\x01", b"\x02"]},
}


def normalize_sets(item):
    out = {}
    for k, v in item.items():
        (t, val), = v.items()
        out[k] = {t: sorted(val)} if t in ("SS", "NS", "BS") else v
    return out


def test_put_get_every_type(ddb, simple_table):
    assert "Attributes" not in ddb.put_item(TableName=simple_table, Item=ALL_TYPES)
    got = ddb.get_item(TableName=simple_table, Key={"pk": {"S": "all"}}, ConsistentRead=True)
    assert normalize_sets(got["Item"]) == normalize_sets(ALL_TYPES)


def test_get_missing_item_has_no_item_key(ddb, simple_table):
    got = ddb.get_item(TableName=simple_table, Key={"pk": {"S": "nope"}})
    assert "Item" not in got


def test_get_with_projection(ddb, simple_table):
    ddb.put_item(TableName=simple_table, Item=ALL_TYPES)
    got = ddb.get_item(TableName=simple_table, Key={"pk": {"S": "all"}},
                       ProjectionExpression="#s, m.child.deep, l[0], l[1]",
                       ExpressionAttributeNames={"#s": "s"})["Item"]
    assert got == {"s": {"S": "héllo ✓"},
                   "m": {"M": {"child": {"M": {"deep": {"S": "d"}}}}},
                   "l": {"L": [{"S": "x"}, {"N": "1"}]}}


def test_put_return_values(ddb, simple_table):
    item1 = {"pk": {"S": "k"}, "v": {"N": "1"}}
    item2 = {"pk": {"S": "k"}, "v": {"N": "2"}}
    r = ddb.put_item(TableName=simple_table, Item=item1, ReturnValues="ALL_OLD")
    assert "Attributes" not in r
    r = ddb.put_item(TableName=simple_table, Item=item2, ReturnValues="ALL_OLD")
    assert r["Attributes"] == item1
    expect(ddb.put_item, "ValidationException", "ReturnValues can only be ALL_OLD or NONE",
           TableName=simple_table, Item=item1, ReturnValues="ALL_NEW")


def test_delete_return_values(ddb, simple_table):
    item = {"pk": {"S": "d"}, "v": {"S": "x"}}
    ddb.put_item(TableName=simple_table, Item=item)
    r = ddb.delete_item(TableName=simple_table, Key={"pk": {"S": "d"}}, ReturnValues="ALL_OLD")
    assert r["Attributes"] == item
    r = ddb.delete_item(TableName=simple_table, Key={"pk": {"S": "d"}}, ReturnValues="ALL_OLD")
    assert "Attributes" not in r
    assert "Item" not in ddb.get_item(TableName=simple_table, Key={"pk": {"S": "d"}})


def test_update_return_values(ddb, simple_table):
    key = {"pk": {"S": "u"}}
    ddb.put_item(TableName=simple_table, Item={**key, "a": {"N": "1"}, "b": {"S": "keep"}})

    def upd(rv, val):
        return ddb.update_item(TableName=simple_table, Key=key, UpdateExpression="SET a = :v",
                               ExpressionAttributeValues={":v": {"N": val}}, ReturnValues=rv)

    assert "Attributes" not in upd("NONE", "2")
    assert upd("ALL_OLD", "3")["Attributes"] == {**key, "a": {"N": "2"}, "b": {"S": "keep"}}
    assert upd("UPDATED_OLD", "4")["Attributes"] == {"a": {"N": "3"}}
    assert upd("ALL_NEW", "5")["Attributes"] == {**key, "a": {"N": "5"}, "b": {"S": "keep"}}
    assert upd("UPDATED_NEW", "6")["Attributes"] == {"a": {"N": "6"}}


def test_update_creates_item(ddb, simple_table):
    r = ddb.update_item(TableName=simple_table, Key={"pk": {"S": "new"}},
                        UpdateExpression="SET a = :v",
                        ExpressionAttributeValues={":v": {"S": "x"}}, ReturnValues="ALL_NEW")
    assert r["Attributes"] == {"pk": {"S": "new"}, "a": {"S": "x"}}
    # An update with no expression creates the bare key.
    ddb.update_item(TableName=simple_table, Key={"pk": {"S": "bare"}})
    got = ddb.get_item(TableName=simple_table, Key={"pk": {"S": "bare"}})
    assert got["Item"] == {"pk": {"S": "bare"}}


# --------------------------------------------------------------------------- conditions


def test_condition_failure(ddb, simple_table):
    item = {"pk": {"S": "c"}, "v": {"N": "1"}}
    ddb.put_item(TableName=simple_table, Item=item, ConditionExpression="attribute_not_exists(pk)")
    expect(ddb.put_item, "ConditionalCheckFailedException", "The conditional request failed",
           TableName=simple_table, Item=item, ConditionExpression="attribute_not_exists(pk)")
    expect(ddb.update_item, "ConditionalCheckFailedException", "The conditional request failed",
           TableName=simple_table, Key={"pk": {"S": "c"}}, UpdateExpression="SET v = :n",
           ConditionExpression="v = :old",
           ExpressionAttributeValues={":n": {"N": "2"}, ":old": {"N": "5"}})
    expect(ddb.delete_item, "ConditionalCheckFailedException", "The conditional request failed",
           TableName=simple_table, Key={"pk": {"S": "c"}}, ConditionExpression="v > :x",
           ExpressionAttributeValues={":x": {"N": "1"}})
    assert ddb.get_item(TableName=simple_table, Key={"pk": {"S": "c"}})["Item"] == item


@pytest.mark.peer_differs  # ReturnValuesOnConditionCheckFailure (2023) is not in dynalite
def test_condition_failure_returns_old_item(ddb, simple_table):
    item = {"pk": {"S": "c"}, "v": {"N": "1"}}
    ddb.put_item(TableName=simple_table, Item=item)
    err = expect(ddb.put_item, "ConditionalCheckFailedException", "The conditional request failed",
                 TableName=simple_table, Item=item, ConditionExpression="attribute_not_exists(pk)",
                 ReturnValuesOnConditionCheckFailure="ALL_OLD")
    assert err.response["Item"] == item
    err = expect(ddb.update_item, "ConditionalCheckFailedException",
                 TableName=simple_table, Key={"pk": {"S": "c"}}, UpdateExpression="SET v = :n",
                 ConditionExpression="v = :n", ExpressionAttributeValues={":n": {"N": "9"}},
                 ReturnValuesOnConditionCheckFailure="ALL_OLD")
    assert err.response["Item"] == item
    err = expect(ddb.delete_item, "ConditionalCheckFailedException",
                 TableName=simple_table, Key={"pk": {"S": "c"}},
                 ConditionExpression="attribute_not_exists(v)",
                 ReturnValuesOnConditionCheckFailure="NONE")
    assert "Item" not in err.response


@pytest.mark.parametrize("expr,values,ok", [
    ("attribute_exists(s)", {}, True),
    ("attribute_not_exists(nothere)", {}, True),
    ("attribute_type(n, :t)", {":t": {"S": "N"}}, True),
    ("attribute_type(n, :t)", {":t": {"S": "S"}}, False),
    ("begins_with(s, :p)", {":p": {"S": "hé"}}, True),
    ("begins_with(s, :p)", {":p": {"S": "he"}}, False),
    ("contains(ss, :e)", {":e": {"S": "a"}}, True),
    ("contains(l, :e)", {":e": {"S": "x"}}, True),
    ("contains(s, :e)", {":e": {"S": "llo"}}, True),
    ("size(pk) = :n", {":n": {"N": "3"}}, True),
    ("size(l) > :n", {":n": {"N": "3"}}, True),
    ("n BETWEEN :a AND :b", {":a": {"N": "-13"}, ":b": {"N": "-12"}}, True),
    ("n IN (:a, :b)", {":a": {"N": "1"}, ":b": {"N": "-12.50"}}, True),
    ("n <> :a", {":a": {"N": "-12.5"}}, False),
    ("NOT (n < :a) OR s = :s", {":a": {"N": "0"}, ":s": {"S": "héllo ✓"}}, True),
    ("(n < :a AND t = :t) AND m.child.deep = :d",
     {":a": {"N": "0"}, ":t": {"BOOL": True}, ":d": {"S": "d"}}, True),
    ("l[1] = :one", {":one": {"N": "1"}}, True),
    ("nothere = :x", {":x": {"S": "x"}}, False),
    ("s < n", {}, False),  # different types never compare
])
def test_condition_functions(ddb, simple_table, expr, values, ok):
    ddb.put_item(TableName=simple_table, Item=ALL_TYPES)
    kwargs = dict(TableName=simple_table, Item=ALL_TYPES, ConditionExpression=expr)
    if values:
        kwargs["ExpressionAttributeValues"] = values
    if ok:
        ddb.put_item(**kwargs)
    else:
        expect(ddb.put_item, "ConditionalCheckFailedException", "The conditional request failed",
               **kwargs)


# --------------------------------------------------------------------------- keys


def test_key_type_mismatch(ddb, simple_table):
    expect(ddb.put_item, "ValidationException",
           OPI + "Type mismatch for key pk expected: S actual: N",
           TableName=simple_table, Item={"pk": {"N": "1"}})


def test_missing_key_in_item(ddb, simple_table):
    expect(ddb.put_item, "ValidationException", OPI + "Missing the key pk in the item",
           TableName=simple_table, Item={"other": {"S": "1"}})


def test_missing_range_key_in_item(ddb, range_table):
    expect(ddb.put_item, "ValidationException", OPI + "Missing the key sk in the item",
           TableName=range_table, Item={"pk": {"S": "1"}})


@pytest.mark.parametrize("key", [
    {"other": {"S": "x"}},
    {"pk": {"N": "1"}},
    {"pk": {"S": "x"}, "extra": {"S": "y"}},
    {},
])
def test_get_key_does_not_match_schema(ddb, simple_table, key):
    expect(ddb.get_item, "ValidationException",
           "The provided key element does not match the schema", TableName=simple_table, Key=key)


def test_get_missing_range_key(ddb, range_table):
    expect(ddb.get_item, "ValidationException",
           "The provided key element does not match the schema",
           TableName=range_table, Key={"pk": {"S": "x"}})


def test_empty_string_key_rejected(ddb, simple_table):
    expect(ddb.put_item, "ValidationException",
           "One or more parameter values are not valid. The AttributeValue for a key attribute "
           "cannot contain an empty string value. Key: pk",
           TableName=simple_table, Item={"pk": {"S": ""}})


def test_cannot_update_key_attribute(ddb, simple_table):
    expect(ddb.update_item, "ValidationException",
           OPI + "Cannot update attribute pk. This attribute is part of the key",
           TableName=simple_table, Key={"pk": {"S": "a"}}, UpdateExpression="SET pk = :v",
           ExpressionAttributeValues={":v": {"S": "b"}})


# --------------------------------------------------------------------------- types


def test_empty_string_and_binary_allowed_outside_keys(ddb, simple_table):
    item = {"pk": {"S": "e"}, "es": {"S": ""}, "eb": {"B": b""},
            "m": {"M": {"x": {"S": ""}}}, "l": {"L": [{"S": ""}]}}
    ddb.put_item(TableName=simple_table, Item=item)
    assert ddb.get_item(TableName=simple_table, Key={"pk": {"S": "e"}})["Item"] == item


@pytest.mark.parametrize("value,message", [
    ({"SS": []}, OPI + "An string set  may not be empty"),
    ({"NS": []}, OPI + "An number set  may not be empty"),
    ({"BS": []}, OPI + "Binary sets should not be empty"),
    ({"SS": ["a", "a"]}, OPI + "Input collection [a, a] contains duplicates."),
    ({}, "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes"),
    ({"S": "a", "N": "1"},
     "Supplied AttributeValue has more than one datatypes set, must contain exactly one of the "
     "supported datatypes"),
    ({"NULL": False}, OPI + "Null attribute value types must have the value of true"),
])
def test_invalid_attribute_values(ddb, simple_table, value, message):
    expect(ddb.put_item, "ValidationException", message,
           TableName=simple_table, Item={"pk": {"S": "v"}, "a": value})


def test_duplicate_number_set_rejected(ddb, simple_table):
    # "1" and "1.0" are the same number.
    expect(ddb.put_item, "ValidationException", TableName=simple_table,
           Item={"pk": {"S": "v"}, "a": {"NS": ["1", "1.0"]}})


# --------------------------------------------------------------------------- numbers


@pytest.mark.parametrize("given,stored", [
    ("1.50", "1.5"),
    ("0001", "1"),
    ("1E2", "100"),
    ("1.0e-3", "0.001"),
    ("12345678901234567890123456789012345678", "12345678901234567890123456789012345678"),
    ("0.12345678901234567890123456789012345678", "0.12345678901234567890123456789012345678"),
    ("1E125", "1" + "0" * 125),
    ("-1E-130", "-0." + "0" * 129 + "1"),
])
def test_number_normalisation(ddb, simple_table, given, stored):
    ddb.put_item(TableName=simple_table, Item={"pk": {"S": "n"}, "v": {"N": given}})
    got = ddb.get_item(TableName=simple_table, Key={"pk": {"S": "n"}})["Item"]["v"]
    assert got == {"N": stored}


def test_number_normalisation_via_resource(endpoint, simple_table):
    import boto3
    from decimal import Decimal
    table = boto3.resource("dynamodb", endpoint_url=endpoint, region_name="us-east-1",
                           aws_access_key_id="test", aws_secret_access_key="test",
                           config=helpers.client_config()).Table(simple_table)
    table.put_item(Item={"pk": "r", "v": Decimal("1.50")})
    assert table.get_item(Key={"pk": "r"})["Item"]["v"] == Decimal("1.5")
    assert str(table.get_item(Key={"pk": "r"})["Item"]["v"]) == "1.5"


@pytest.mark.parametrize("given,message", [
    ("123456789012345678901234567890123456789",
     "Attempting to store more than 38 significant digits in a Number"),
    ("1E126", "Number overflow. Attempting to store a number with magnitude larger than "
              "supported range"),
    ("1E-131", "Number underflow. Attempting to store a number with magnitude smaller than "
               "supported range"),
    ("abc", "The parameter cannot be converted to a numeric value: abc"),
])
def test_invalid_numbers(ddb, simple_table, given, message):
    expect(ddb.put_item, "ValidationException", message,
           TableName=simple_table, Item={"pk": {"S": "n"}, "v": {"N": given}})


def test_add_tenth_ten_times_is_exactly_one(ddb, simple_table):
    key = {"pk": {"S": "sum"}}
    for _ in range(10):
        ddb.update_item(TableName=simple_table, Key=key, UpdateExpression="ADD v :d",
                        ExpressionAttributeValues={":d": {"N": "0.1"}})
    assert ddb.get_item(TableName=simple_table, Key=key)["Item"]["v"] == {"N": "1"}


def test_big_number_arithmetic_is_exact(ddb, simple_table):
    key = {"pk": {"S": "big"}}
    ddb.put_item(TableName=simple_table, Item={**key, "v": {"N": "9" * 38},
                                               "w": {"N": "0.1"}})
    r = ddb.update_item(TableName=simple_table, Key=key,
                        UpdateExpression="SET v = v + :one, w = w - :big",
                        ExpressionAttributeValues={":one": {"N": "1"},
                                                   ":big": {"N": "1" + "0" * 20}},
                        ReturnValues="UPDATED_NEW")
    assert r["Attributes"]["v"] == {"N": "1" + "0" * 38}
    assert r["Attributes"]["w"] == {"N": "-" + "9" * 20 + ".9"}
    r = ddb.update_item(TableName=simple_table, Key=key, UpdateExpression="SET x = :a + :b",
                        ExpressionAttributeValues={
                            ":a": {"N": "12345678901234567890123456789012345678"},
                            ":b": {"N": "-12345678901234567890123456789012345677"}},
                        ReturnValues="UPDATED_NEW")
    assert r["Attributes"]["x"] == {"N": "1"}


# --------------------------------------------------------------------------- size limits


def test_item_size_limit_is_400_kib(ddb, simple_table):
    # Size = UTF-8 length of attribute names plus values: "pk"(2) + "k"(1) + "d"(1) + value.
    limit = 400 * 1024
    fits = "x" * (limit - 4)
    ddb.put_item(TableName=simple_table, Item={"pk": {"S": "k"}, "d": {"S": fits}})
    got = ddb.get_item(TableName=simple_table, Key={"pk": {"S": "k"}})["Item"]
    assert len(got["d"]["S"]) == limit - 4
    expect(ddb.put_item, "ValidationException", "Item size has exceeded the maximum allowed size",
           TableName=simple_table, Item={"pk": {"S": "k"}, "d": {"S": fits + "x"}})


def test_update_beyond_item_size_limit(ddb, simple_table):
    key = {"pk": {"S": "grow"}}
    ddb.put_item(TableName=simple_table, Item={**key, "a": {"S": "x" * 300_000}})
    expect(ddb.update_item, "ValidationException",
           "Item size to update has exceeded the maximum allowed size",
           TableName=simple_table, Key=key, UpdateExpression="SET b = :v",
           ExpressionAttributeValues={":v": {"S": "y" * 200_000}})


def test_hash_key_size_limit(ddb, simple_table):
    ddb.put_item(TableName=simple_table, Item={"pk": {"S": "h" * 2048}})
    expect(ddb.put_item, "ValidationException",
           OPI + "Size of hashkey has exceeded the maximum size limit of2048 bytes",
           TableName=simple_table, Item={"pk": {"S": "h" * 2049}})


def test_range_key_size_limit(ddb, table_name):
    helpers.create_table(ddb, table_name, hash_key=("pk", "S"), range_key=("sk", "S"))
    ddb.put_item(TableName=table_name, Item={"pk": {"S": "a"}, "sk": {"S": "r" * 1024}})
    expect(ddb.put_item, "ValidationException",
           OPI + "Aggregated size of all range keys has exceeded the size limit of 1024 bytes",
           TableName=table_name, Item={"pk": {"S": "a"}, "sk": {"S": "r" * 1025}})
