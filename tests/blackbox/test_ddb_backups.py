"""DynamoDB on-demand backups (Create/Describe/List/Delete/RestoreTableFromBackup) and
point-in-time recovery (Update/DescribeContinuousBackups, RestoreTableToPointInTime)."""

import datetime as dt
import time

import helpers

expect = helpers.expect_ddb_error
ACCOUNT = helpers.ACCOUNT


def keys(ddb, table):
    return sorted(i["pk"]["S"] for i in helpers.scan_all(ddb, TableName=table))


def wait_backup(ddb, arn, timeout_s=30):
    deadline = time.monotonic() + timeout_s
    while True:
        d = ddb.describe_backup(BackupArn=arn)["BackupDescription"]
        if d["BackupDetails"]["BackupStatus"] == "AVAILABLE":
            return d
        assert time.monotonic() < deadline, d
        time.sleep(0.05)


def make_table(ddb, name):
    helpers.create_table(
        ddb, name, attrs={"g": "S"},
        GlobalSecondaryIndexes=[{
            "IndexName": "by_g", "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
            "Projection": {"ProjectionType": "KEYS_ONLY"}}])


def test_backup_and_restore(ddb, table_name, uniq):
    make_table(ddb, table_name)
    helpers.put_many(ddb, table_name, [
        {"pk": {"S": f"k{i:03}"}, "g": {"S": "x"}, "n": {"N": str(i)}} for i in range(120)])
    resp = ddb.create_backup(TableName=table_name, BackupName="nightly")["BackupDetails"]
    arn = resp["BackupArn"]
    assert resp["BackupStatus"] == "CREATING"
    assert resp["BackupType"] == "USER"
    assert arn.startswith(f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/{table_name}/backup/")
    ddb.put_item(TableName=table_name, Item={"pk": {"S": "after"}, "g": {"S": "x"}})
    ddb.delete_item(TableName=table_name, Key={"pk": {"S": "k000"}})

    d = wait_backup(ddb, arn)
    src = d["SourceTableDetails"]
    assert src["TableName"] == table_name and src["ItemCount"] == 120
    assert src["BillingMode"] == "PAY_PER_REQUEST"
    gsis = d["SourceTableFeatureDetails"]["GlobalSecondaryIndexes"]
    assert [g["IndexName"] for g in gsis] == ["by_g"]

    listed = ddb.list_backups(TableName=table_name)["BackupSummaries"]
    assert [b["BackupArn"] for b in listed] == [arn]
    assert listed[0]["BackupName"] == "nightly" and listed[0]["BackupStatus"] == "AVAILABLE"
    future = dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1)
    assert ddb.list_backups(TableName=table_name, TimeRangeLowerBound=future)["BackupSummaries"] == []
    assert ddb.list_backups(TableName=table_name, BackupType="SYSTEM")["BackupSummaries"] == []

    target = uniq("restored")
    r = ddb.restore_table_from_backup(TargetTableName=target, BackupArn=arn)["TableDescription"]
    assert r["TableStatus"] == "CREATING"
    assert r["RestoreSummary"]["SourceBackupArn"] == arn
    assert r["RestoreSummary"]["RestoreInProgress"] is True
    t = helpers.wait_active(ddb, target)
    assert t["RestoreSummary"]["RestoreInProgress"] is False
    assert t["ItemCount"] == 120
    assert t["GlobalSecondaryIndexes"][0]["ItemCount"] == 120
    got = keys(ddb, target)
    assert len(got) == 120 and "k000" in got and "after" not in got
    item = ddb.get_item(TableName=target, Key={"pk": {"S": "k007"}})["Item"]
    assert item["n"] == {"N": "7"}

    expect(ddb.restore_table_from_backup, "TableAlreadyExistsException",
           f"Table already exists: {target}", TargetTableName=target, BackupArn=arn)
    gone = ddb.delete_backup(BackupArn=arn)["BackupDescription"]["BackupDetails"]
    assert gone["BackupStatus"] == "DELETED"
    expect(ddb.describe_backup, "BackupNotFoundException", f"Backup not found: {arn}",
           BackupArn=arn)
    expect(ddb.restore_table_from_backup, "BackupNotFoundException", f"Backup not found: {arn}",
           TargetTableName=uniq("again"), BackupArn=arn)


def test_restore_with_overrides(ddb, table_name, uniq):
    make_table(ddb, table_name)
    ddb.put_item(TableName=table_name, Item={"pk": {"S": "a"}, "g": {"S": "x"}})
    arn = ddb.create_backup(TableName=table_name, BackupName="bkp")["BackupDetails"]["BackupArn"]
    wait_backup(ddb, arn)
    target = uniq("prov")
    ddb.restore_table_from_backup(
        TargetTableName=target, BackupArn=arn, BillingModeOverride="PROVISIONED",
        ProvisionedThroughputOverride={"ReadCapacityUnits": 3, "WriteCapacityUnits": 4},
        GlobalSecondaryIndexOverride=[])
    t = helpers.wait_active(ddb, target)
    assert t["ProvisionedThroughput"]["ReadCapacityUnits"] == 3
    assert "GlobalSecondaryIndexes" not in t
    assert keys(ddb, target) == ["a"]


def test_backup_errors(ddb, simple_table):
    expect(ddb.create_backup, "TableNotFoundException", "Table not found: nope-bk",
           TableName="nope-bk", BackupName="bkp")
    bogus = f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/{simple_table}/backup/01700000000000-deadbeef"
    expect(ddb.describe_backup, "BackupNotFoundException", f"Backup not found: {bogus}",
           BackupArn=bogus)
    expect(ddb.delete_backup, "BackupNotFoundException", f"Backup not found: {bogus}",
           BackupArn=bogus)


def test_continuous_backups_api(ddb, simple_table):
    d = ddb.describe_continuous_backups(TableName=simple_table)["ContinuousBackupsDescription"]
    assert d == {"ContinuousBackupsStatus": "ENABLED",
                 "PointInTimeRecoveryDescription": {"PointInTimeRecoveryStatus": "DISABLED"}}
    expect(ddb.update_continuous_backups, "ValidationException",
           "Invalid Request: Cannot specify RecoveryPeriodInDays when disabling "
           "point-in-time recovery.",
           TableName=simple_table,
           PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": False,
                                             "RecoveryPeriodInDays": 7})
    d = ddb.update_continuous_backups(
        TableName=simple_table,
        PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True},
    )["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"]
    assert d["PointInTimeRecoveryStatus"] == "ENABLED"
    assert d["RecoveryPeriodInDays"] == 35
    assert d["EarliestRestorableDateTime"] == d["LatestRestorableDateTime"]
    d = ddb.update_continuous_backups(
        TableName=simple_table,
        PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True,
                                          "RecoveryPeriodInDays": 7},
    )["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"]
    assert d["RecoveryPeriodInDays"] == 7
    expect(ddb.describe_continuous_backups, "TableNotFoundException", "Table not found: nope-pitr",
           TableName="nope-pitr")


def test_point_in_time_restore_between_two_writes(ddb, table_name, uniq):
    make_table(ddb, table_name)
    ddb.put_item(TableName=table_name, Item={"pk": {"S": "before"}, "g": {"S": "x"},
                                             "v": {"N": "1"}})
    expect(ddb.restore_table_to_point_in_time, "PointInTimeRecoveryUnavailableException",
           f"Point in time recovery is not enabled for table '{table_name}'",
           SourceTableName=table_name, TargetTableName=uniq("x"), UseLatestRestorableTime=True)
    d = ddb.update_continuous_backups(
        TableName=table_name,
        PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True},
    )["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"]
    enabled_at = d["EarliestRestorableDateTime"]
    time.sleep(0.05)
    # Writes after the restore point: undone by the restore.
    ddb.put_item(TableName=table_name, Item={"pk": {"S": "before"}, "g": {"S": "x"},
                                             "v": {"N": "2"}})
    ddb.put_item(TableName=table_name, Item={"pk": {"S": "after"}, "g": {"S": "x"}})
    # LatestRestorableDateTime trails now by five minutes (never before the enable time).
    d = ddb.describe_continuous_backups(TableName=table_name)[
        "ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"]
    assert d["LatestRestorableDateTime"] == enabled_at
    expect(ddb.restore_table_to_point_in_time, "InvalidRestoreTimeException",
           SourceTableName=table_name, TargetTableName=uniq("x"),
           RestoreDateTime=dt.datetime.now(dt.timezone.utc))

    target = uniq("pitr")
    r = ddb.restore_table_to_point_in_time(
        SourceTableName=table_name, TargetTableName=target, RestoreDateTime=enabled_at,
    )["TableDescription"]
    assert r["TableStatus"] == "CREATING"
    assert r["RestoreSummary"]["SourceTableArn"].endswith(f":table/{table_name}")
    assert r["RestoreSummary"]["RestoreDateTime"] == enabled_at
    t = helpers.wait_active(ddb, target)
    assert t["ItemCount"] == 1
    assert keys(ddb, target) == ["before"]
    item = ddb.get_item(TableName=target, Key={"pk": {"S": "before"}})["Item"]
    assert item["v"] == {"N": "1"}
    assert t["GlobalSecondaryIndexes"][0]["ItemCount"] == 1

    latest = uniq("latest")
    arn = ddb.describe_table(TableName=table_name)["Table"]["TableArn"]
    ddb.restore_table_to_point_in_time(SourceTableArn=arn, TargetTableName=latest,
                                       UseLatestRestorableTime=True)
    helpers.wait_active(ddb, latest)
    assert keys(ddb, latest) == ["before"]
    # The source keeps its current data.
    assert keys(ddb, table_name) == ["after", "before"]
