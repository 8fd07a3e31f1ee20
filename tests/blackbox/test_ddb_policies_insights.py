"""DynamoDB resource-based policies (Put/Get/DeleteResourcePolicy, CreateTable's
ResourcePolicy) and Contributor Insights (Update/Describe/ListContributorInsights): shapes,
revisions, statuses, rule names and AWS's exact errors, as recorded against real DynamoDB."""

import json
import time

import helpers

expect = helpers.expect_ddb_error

ACCOUNT = "000000000000"
PNF = "Resource-based policy not found for the provided ResourceArn: "
INVALID_DOC = "One or more parameter values were invalid: Invalid policy document: "


def table_arn(ddb, table):
    return ddb.describe_table(TableName=table)["Table"]["TableArn"]


def policy(action="dynamodb:GetItem", resource="*", effect="Allow", principal=None, **extra):
    st = {"Effect": effect, "Principal": principal or {"AWS": ACCOUNT},
          "Action": [action], "Resource": resource, **extra}
    return json.dumps({"Version": "2012-10-17", "Statement": [st]}, indent=2)


def body(resp):
    return {k: v for k, v in resp.items() if k != "ResponseMetadata"}


# --------------------------------------------------------------------------- policies


def test_policy_lifecycle_revisions_and_conditions(ddb, simple_table):
    arn = table_arn(ddb, simple_table)
    expect(ddb.get_resource_policy, "PolicyNotFoundException", PNF + arn, ResourceArn=arn)
    # Deleting when there is nothing to delete answers an empty body.
    assert body(ddb.delete_resource_policy(ResourceArn=arn)) == {}

    before_ms = int(time.time() * 1000)
    rev1 = ddb.put_resource_policy(ResourceArn=arn, Policy=policy())["RevisionId"]
    assert rev1.isdigit() and len(rev1) == 13 and int(rev1) >= before_ms - 5000
    got = ddb.get_resource_policy(ResourceArn=arn)
    assert got["RevisionId"] == rev1
    # Read back in AWS's canonical form: minified, one-element lists as scalars, the
    # account id as its root ARN.
    assert got["Policy"] == (
        '{"Version":"2012-10-17","Statement":[{"Effect":"Allow",'
        f'"Principal":{{"AWS":"arn:aws:iam::{ACCOUNT}:root"}},'
        '"Action":"dynamodb:GetItem","Resource":"*"}]}')
    # An equivalent document (whitespace, one-element list) is a no-op with the same id.
    assert ddb.put_resource_policy(ResourceArn=arn, Policy=got["Policy"])["RevisionId"] == rev1

    rev2 = ddb.put_resource_policy(ResourceArn=arn, Policy=policy("dynamodb:PutItem"),
                                   ExpectedRevisionId=rev1)["RevisionId"]
    assert int(rev2) > int(rev1)
    expect(ddb.put_resource_policy, "PolicyNotFoundException",
           PNF + f"Requested update for policy with revision id {rev1}, but the policy "
           f"associated to target table {simple_table} has revision id {rev2}.",
           ResourceArn=arn, Policy=policy("dynamodb:Query"), ExpectedRevisionId=rev1)
    expect(ddb.put_resource_policy, "PolicyNotFoundException",
           PNF + f"Requested policy update expecting none to be present for table "
           f"{simple_table}, but a policy exists with revision id {rev2}.",
           ResourceArn=arn, Policy=policy("dynamodb:Query"), ExpectedRevisionId="NO_POLICY")
    expect(ddb.delete_resource_policy, "PolicyNotFoundException",
           PNF + f"Requested update for policy with revision id unknown, but the policy "
           f"associated to target table {simple_table} has revision id {rev2}.",
           ResourceArn=arn, ExpectedRevisionId="unknown")
    # Nothing above changed the policy.
    assert ddb.get_resource_policy(ResourceArn=arn)["RevisionId"] == rev2

    assert ddb.delete_resource_policy(ResourceArn=arn, ExpectedRevisionId=rev2)["RevisionId"] == rev2
    expect(ddb.get_resource_policy, "PolicyNotFoundException", PNF + arn, ResourceArn=arn)
    rev3 = ddb.put_resource_policy(ResourceArn=arn, Policy=policy(),
                                   ExpectedRevisionId="NO_POLICY")["RevisionId"]
    assert int(rev3) > int(rev2)


def test_policy_arn_forms_get_aws_errors(ddb, simple_table):
    arn = table_arn(ddb, simple_table)
    region = arn.split(":")[3]
    cases = [
        (simple_table, "ValidationException",
         f"One or more parameter values were invalid: ARNs must start with 'arn:': {simple_table}"),
        (arn + "-missing", "ResourceNotFoundException",
         f"Requested resource not found: Table: {simple_table}-missing not found"),
        (arn + "/index/by_x", "ValidationException",
         "One or more parameter values were invalid: Invalid resource arn provided, only table "
         f"or stream is accepted. Provided resource arn: {arn}/index/by_x"),
        (arn + "/backup/0170", "ValidationException",
         "One or more parameter values were invalid: Provided Arn is not a DynamoDB resource "
         f"arn: {arn}/backup/0170"),
        (arn.replace(f":{ACCOUNT}:", ":111122223333:"), "ValidationException",
         "This action is only supported by accounts that match the resource owner\u2019s account."),
        (arn.replace(f":{region}:", ":eu-west-3:"), "ValidationException",
         "One or more parameter values were invalid: Invalid resource Arn: "
         + arn.replace(f":{region}:", ":eu-west-3:")),
    ]
    for resource, code, message in cases:
        expect(ddb.get_resource_policy, code, message, ResourceArn=resource)
        expect(ddb.put_resource_policy, code, message, ResourceArn=resource, Policy=policy())
        expect(ddb.delete_resource_policy, code, message, ResourceArn=resource)


def test_policy_documents_are_checked(ddb, simple_table):
    arn = table_arn(ddb, simple_table)
    bad = [
        ("{not json", INVALID_DOC + "This policy contains invalid Json"),
        ("", INVALID_DOC + "This policy contains invalid Json"),
        ('{"Version":"2012-10-17","Statement":[]}',
         INVALID_DOC + "Could not parse the policy: Statement is empty!"),
        (json.dumps({"Statement": [{"Effect": "Allow", "Principal": {"AWS": ACCOUNT},
                                    "Action": "dynamodb:GetItem"}]}),
         INVALID_DOC + "Missing required field Resource"),
        (policy(principal={"AWS": "*"}),
         "Resource-based policy grants unbounded access in one or more elements. Please "
         "revise the policy to ensure least-privilege form of access"),
        (policy("dynamodb:GetRecords"),
         INVALID_DOC + 'The following action names are invalid: "dynamodb:GetRecords"'),
        (policy() + " " * 20480,
         "One or more parameter values were invalid: Maximum policy size of 20480 bytes exceeded"),
    ]
    for doc, message in bad:
        expect(ddb.put_resource_policy, "ValidationException", message, ResourceArn=arn,
               Policy=doc)
    expect(ddb.get_resource_policy, "PolicyNotFoundException", PNF + arn, ResourceArn=arn)


def test_stream_has_its_own_policy_slot(ddb, table_name):
    helpers.create_table(ddb, table_name, StreamSpecification={
        "StreamEnabled": True, "StreamViewType": "KEYS_ONLY"})
    arn = table_arn(ddb, table_name)
    stream_arn = ddb.describe_table(TableName=table_name)["Table"]["LatestStreamArn"]
    expect(ddb.get_resource_policy, "PolicyNotFoundException", PNF + stream_arn,
           ResourceArn=stream_arn)
    rev = ddb.put_resource_policy(ResourceArn=stream_arn, Policy=policy(
        "dynamodb:GetRecords", resource=stream_arn))["RevisionId"]
    assert ddb.get_resource_policy(ResourceArn=stream_arn)["RevisionId"] == rev
    expect(ddb.get_resource_policy, "PolicyNotFoundException", PNF + arn, ResourceArn=arn)
    bogus = arn + "/stream/2000-01-01T00:00:00.000"
    expect(ddb.get_resource_policy, "ResourceNotFoundException",
           f"Requested resource not found: Stream: 2000-01-01T00:00:00.000 not found for "
           f"Table: {table_name}", ResourceArn=bogus)
    assert ddb.delete_resource_policy(ResourceArn=stream_arn)["RevisionId"] == rev
    expect(ddb.get_resource_policy, "PolicyNotFoundException", PNF + stream_arn,
           ResourceArn=stream_arn)


def test_create_table_attaches_policy_and_recreation_drops_it(ddb, table_name):
    before_ms = int(time.time() * 1000)
    doc = policy("dynamodb:Query")
    created = helpers.create_table(ddb, table_name, ResourcePolicy=doc)
    assert "ResourcePolicy" not in json.dumps(created["TableDescription"], default=str)
    arn = table_arn(ddb, table_name)
    got = ddb.get_resource_policy(ResourceArn=arn)
    assert json.loads(got["Policy"])["Statement"][0]["Action"] == "dynamodb:Query"
    assert int(got["RevisionId"]) >= before_ms - 5000
    ddb.delete_table(TableName=table_name)
    helpers.wait_gone(ddb, table_name)
    expect(ddb.get_resource_policy, "ResourceNotFoundException",
           f"Requested resource not found: Table: {table_name} not found", ResourceArn=arn)
    helpers.create_table(ddb, table_name)
    expect(ddb.get_resource_policy, "PolicyNotFoundException", PNF + arn, ResourceArn=arn)
    # A bad document refuses the whole CreateTable.
    expect(ddb.create_table, "ValidationException",
           INVALID_DOC + "This policy contains invalid Json", TableName=table_name + "-x",
           KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
           AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
           BillingMode="PAY_PER_REQUEST", ResourcePolicy="{")
    expect(ddb.describe_table, "ResourceNotFoundException", TableName=table_name + "-x")


def test_policy_with_the_aws_cli(endpoint, ddb, simple_table):
    arn = table_arn(ddb, simple_table)
    put = helpers.aws_cli(endpoint, "dynamodb", "put-resource-policy", "--resource-arn", arn,
                          "--policy", policy())
    assert put.returncode == 0, put.stderr
    rev = json.loads(put.stdout)["RevisionId"]
    got = helpers.aws_cli(endpoint, "dynamodb", "get-resource-policy", "--resource-arn", arn)
    assert got.returncode == 0, got.stderr
    assert json.loads(got.stdout)["RevisionId"] == rev
    gone = helpers.aws_cli(endpoint, "dynamodb", "delete-resource-policy", "--resource-arn", arn)
    assert gone.returncode == 0 and json.loads(gone.stdout)["RevisionId"] == rev
    missing = helpers.aws_cli(endpoint, "dynamodb", "get-resource-policy", "--resource-arn", arn)
    assert missing.returncode != 0 and "PolicyNotFoundException" in missing.stderr


# --------------------------------------------------------------------------- insights


def describe_ci(ddb, table, index=None):
    kwargs = {"IndexName": index} if index else {}
    return body(ddb.describe_contributor_insights(TableName=table, **kwargs))


def update_ci(ddb, table, action, **kwargs):
    return body(ddb.update_contributor_insights(TableName=table,
                                                ContributorInsightsAction=action, **kwargs))


def test_insights_states_modes_and_rule_names(ddb, simple_table):
    assert describe_ci(ddb, simple_table) == {"TableName": simple_table,
                                               "ContributorInsightsStatus": "DISABLED"}
    # Disabling what was never enabled is a no-op.
    assert update_ci(ddb, simple_table, "DISABLE") == {
        "TableName": simple_table, "ContributorInsightsStatus": "DISABLED"}

    before_ms = int(time.time() * 1000)
    assert update_ci(ddb, simple_table, "ENABLE") == {
        "TableName": simple_table, "ContributorInsightsStatus": "ENABLING",
        "ContributorInsightsMode": "ACCESSED_AND_THROTTLED_KEYS"}
    d = describe_ci(ddb, simple_table)
    assert d["ContributorInsightsStatus"] == "ENABLED"
    assert d["ContributorInsightsMode"] == "ACCESSED_AND_THROTTLED_KEYS"
    rules = d["ContributorInsightsRuleList"]
    suffix = rules[0].rsplit("-", 1)[1]
    assert int(suffix) >= before_ms - 5000
    assert rules == [f"DynamoDBContributorInsights-PKC-{simple_table}-{suffix}",
                     f"DynamoDBContributorInsights-PKT-{simple_table}-{suffix}"]
    updated = d["LastUpdateDateTime"]

    # The same enable again: nothing changes.
    assert update_ci(ddb, simple_table, "ENABLE")["ContributorInsightsStatus"] == "ENABLED"
    assert describe_ci(ddb, simple_table)["LastUpdateDateTime"] == updated

    # Throttled keys only: the accessed-keys rule goes, the names stay.
    assert update_ci(ddb, simple_table, "ENABLE", ContributorInsightsMode="THROTTLED_KEYS")[
        "ContributorInsightsStatus"] == "ENABLING"
    d = describe_ci(ddb, simple_table)
    assert d["ContributorInsightsRuleList"] == [rules[1]]
    assert d["ContributorInsightsMode"] == "THROTTLED_KEYS"

    # DISABLE answers the entry's current mode, whatever mode it was sent with.
    assert update_ci(ddb, simple_table, "DISABLE",
                     ContributorInsightsMode="ACCESSED_AND_THROTTLED_KEYS") == {
        "TableName": simple_table, "ContributorInsightsStatus": "DISABLING",
        "ContributorInsightsMode": "THROTTLED_KEYS"}
    d = describe_ci(ddb, simple_table)
    assert d["ContributorInsightsStatus"] == "DISABLED"
    assert "ContributorInsightsRuleList" not in d
    assert d["ContributorInsightsMode"] == "THROTTLED_KEYS" and "LastUpdateDateTime" in d

    # Re-enabling without a mode means both kinds of keys, with new rule names.
    time.sleep(0.002)
    update_ci(ddb, simple_table, "ENABLE")
    d = describe_ci(ddb, simple_table)
    assert d["ContributorInsightsMode"] == "ACCESSED_AND_THROTTLED_KEYS"
    assert len(d["ContributorInsightsRuleList"]) == 2
    assert d["ContributorInsightsRuleList"][0] != rules[0]


def test_insights_on_indexes_and_errors(ddb, table_name):
    helpers.create_table(
        ddb, table_name, range_key=("sk", "N"), attrs={"g": "S", "l": "S"},
        GlobalSecondaryIndexes=[{"IndexName": "by_g",
                                 "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                                 "Projection": {"ProjectionType": "KEYS_ONLY"}}],
        LocalSecondaryIndexes=[{"IndexName": "by_l",
                                "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"},
                                              {"AttributeName": "l", "KeyType": "RANGE"}],
                                "Projection": {"ProjectionType": "KEYS_ONLY"}}])
    update_ci(ddb, table_name, "ENABLE")
    rules = describe_ci(ddb, table_name)["ContributorInsightsRuleList"]
    assert [r.split("-")[1] for r in rules] == ["PKC", "PKT", "SKC", "SKT"]
    assert update_ci(ddb, table_name, "ENABLE", IndexName="by_g") == {
        "TableName": table_name, "IndexName": "by_g", "ContributorInsightsStatus": "ENABLING",
        "ContributorInsightsMode": "ACCESSED_AND_THROTTLED_KEYS"}
    d = describe_ci(ddb, table_name, "by_g")
    assert d["IndexName"] == "by_g"
    suffix = d["ContributorInsightsRuleList"][0].rsplit("-", 1)[1]
    assert d["ContributorInsightsRuleList"] == [
        f"DynamoDBContributorInsights-PKC-{table_name}-by_g-{suffix}",
        f"DynamoDBContributorInsights-PKT-{table_name}-by_g-{suffix}"]

    for index in ("by_l", "nope"):
        msg = f"Requested resource not found: Index: {index} not found for table: {table_name}"
        expect(ddb.describe_contributor_insights, "ResourceNotFoundException", msg,
               TableName=table_name, IndexName=index)
        expect(ddb.update_contributor_insights, "ResourceNotFoundException", msg,
               TableName=table_name, IndexName=index, ContributorInsightsAction="ENABLE")
    missing = "Requested resource not found: Table: nope-ci not found"
    expect(ddb.describe_contributor_insights, "ResourceNotFoundException", missing,
           TableName="nope-ci")
    expect(ddb.update_contributor_insights, "ResourceNotFoundException", missing,
           TableName="nope-ci", ContributorInsightsAction="ENABLE")
    expect(ddb.list_contributor_insights, "ResourceNotFoundException", missing,
           TableName="nope-ci")
    expect(ddb.update_contributor_insights, "ValidationException",
           "1 validation error detected: Value 'MAYBE' at 'contributorInsightsAction' failed "
           "to satisfy constraint: Member must satisfy enum value set: [ENABLE, DISABLE]",
           TableName=table_name, ContributorInsightsAction="MAYBE")

    # Deleting the GSI takes its setting with it.
    ddb.update_table(TableName=table_name, GlobalSecondaryIndexUpdates=[
        {"Delete": {"IndexName": "by_g"}}])
    expect(ddb.describe_contributor_insights, "ResourceNotFoundException",
           f"Requested resource not found: Index: by_g not found for table: {table_name}",
           TableName=table_name, IndexName="by_g")


def test_list_insights_pages_table_before_indexes(ddb, table_name, uniq):
    helpers.create_table(
        ddb, table_name, attrs={"g": "S"},
        GlobalSecondaryIndexes=[{"IndexName": name,
                                 "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                                 "Projection": {"ProjectionType": "KEYS_ONLY"}}
                                for name in ("zz_g", "aa_g")])
    assert body(ddb.list_contributor_insights(TableName=table_name)) == {
        "ContributorInsightsSummaries": []}
    for index in (None, "zz_g", "aa_g"):
        update_ci(ddb, table_name, "ENABLE", **({"IndexName": index} if index else {}))
    entry = {"TableName": table_name, "ContributorInsightsStatus": "ENABLED",
             "ContributorInsightsMode": "ACCESSED_AND_THROTTLED_KEYS"}
    everything = ddb.list_contributor_insights(TableName=table_name)
    assert everything["ContributorInsightsSummaries"] == [
        entry, {**entry, "IndexName": "aa_g"}, {**entry, "IndexName": "zz_g"}]
    assert "NextToken" not in everything

    pages, token = [], None
    while True:
        kwargs = {"NextToken": token} if token else {}
        page = ddb.list_contributor_insights(TableName=table_name, MaxResults=2, **kwargs)
        pages.append(page["ContributorInsightsSummaries"])
        token = page.get("NextToken")
        if not token:
            break
    assert [len(p) for p in pages] == [2, 1]
    assert sum(pages, []) == everything["ContributorInsightsSummaries"]

    # The account-wide list holds this table's entries in the same order; a second table's
    # disabled entry is not listed.
    other = uniq("ci-other")
    helpers.create_table(ddb, other)
    update_ci(ddb, other, "ENABLE")
    update_ci(ddb, other, "DISABLE")
    listed, token = [], None
    for _ in range(1000):
        kwargs = {"NextToken": token} if token else {}
        page = ddb.list_contributor_insights(MaxResults=3, **kwargs)
        listed += page["ContributorInsightsSummaries"]
        token = page.get("NextToken")
        if not token:
            break
    assert token is None
    assert [e for e in listed if e["TableName"] == table_name] == \
        everything["ContributorInsightsSummaries"]
    assert not [e for e in listed if e["TableName"] == other]
    expect(ddb.list_contributor_insights, "ValidationException",
           "1 validation error detected: Value '101' at 'maxResults' failed to satisfy "
           "constraint: Member must have value less than or equal to 100", MaxResults=101)


def test_policies_and_insights_survive_a_restart(server_factory, uniq):
    srv = server_factory().start()
    ddb = helpers.client("dynamodb", srv.url)
    name = uniq("keep")
    helpers.create_table(ddb, name)
    arn = table_arn(ddb, name)
    rev = ddb.put_resource_policy(ResourceArn=arn, Policy=policy())["RevisionId"]
    update_ci(ddb, name, "ENABLE", ContributorInsightsMode="THROTTLED_KEYS")
    rules = describe_ci(ddb, name)["ContributorInsightsRuleList"]
    srv.kill()
    srv = server_factory().start()
    ddb = helpers.client("dynamodb", srv.url)
    assert ddb.get_resource_policy(ResourceArn=arn)["RevisionId"] == rev
    d = describe_ci(ddb, name)
    assert d["ContributorInsightsRuleList"] == rules
    assert d["ContributorInsightsMode"] == "THROTTLED_KEYS"
