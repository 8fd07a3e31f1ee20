"""S3 event notifications delivered to Lambda (LambdaFunctionConfigurations): an object
change that a rule matches (event type, prefix/suffix filter) invokes the function
asynchronously with S3's event document. The function (`recorder.py`) stores every event
it gets in another bucket, where the test reads them back."""

from __future__ import annotations

import hashlib
import json
import time

import pytest

from helpers import client, expect_error, new_bucket
from lambda_fixtures.support import create_function, make_role

pytestmark = pytest.mark.nimbus_only

DELIVERY_TIMEOUT_S = 60


def recorded_events(s3, bucket: str, want: int) -> list[dict]:
    """The event records the recorder stored, once there are at least `want`."""
    deadline = time.monotonic() + DELIVERY_TIMEOUT_S
    while True:
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
        if len(keys) >= want or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    records = []
    for k in keys:
        doc = json.loads(s3.get_object(Bucket=bucket, Key=k)["Body"].read())
        records.extend(doc["Records"])
    return records


def test_object_events_invoke_the_function(s3, lam, role):
    out = new_bucket(s3, "notify-out")
    src = new_bucket(s3, "notify-src")
    fn = create_function(lam, role, "recorder.py", Environment={"Variables": {"BUCKET": out}})
    lam.get_waiter("function_active_v2").wait(FunctionName=fn)
    arn = lam.get_function(FunctionName=fn)["Configuration"]["FunctionArn"]
    lam.add_permission(FunctionName=fn, StatementId="s3", Action="lambda:InvokeFunction",
                       Principal="s3.amazonaws.com", SourceArn=f"arn:aws:s3:::{src}")
    s3.put_bucket_notification_configuration(Bucket=src, NotificationConfiguration={
        "LambdaFunctionConfigurations": [
            {"Id": "uploads", "LambdaFunctionArn": arn, "Events": ["s3:ObjectCreated:*"],
             "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "in/"},
                                                {"Name": "suffix", "Value": ".txt"}]}}},
            {"Id": "removals", "LambdaFunctionArn": arn,
             "Events": ["s3:ObjectRemoved:Delete"]},
        ]})

    body = b"hello"
    s3.put_object(Bucket=src, Key="in/a b.txt", Body=body)
    s3.put_object(Bucket=src, Key="in/skip.png", Body=b"no: suffix")
    s3.put_object(Bucket=src, Key="other/c.txt", Body=b"no: prefix")
    s3.delete_object(Bucket=src, Key="in/a b.txt")
    s3.delete_object(Bucket=src, Key="never-existed.txt")  # nothing removed: no event

    records = recorded_events(s3, out, 2)
    by_name = {r["eventName"]: r for r in records}
    assert sorted(by_name) == ["ObjectCreated:Put", "ObjectRemoved:Delete"], records
    put = by_name["ObjectCreated:Put"]
    assert put["eventVersion"] == "2.1"
    assert put["eventSource"] == "aws:s3"
    assert put["awsRegion"] == "us-east-1"
    assert put["s3"]["configurationId"] == "uploads"
    assert put["s3"]["bucket"]["name"] == src
    assert put["s3"]["bucket"]["arn"] == f"arn:aws:s3:::{src}"
    obj = put["s3"]["object"]
    assert obj["key"] == "in/a+b.txt"  # form-encoded, as S3 sends it
    assert obj["size"] == len(body)
    assert obj["eTag"] == hashlib.md5(body).hexdigest()
    assert "versionId" not in obj  # the bucket is not versioned
    removed = by_name["ObjectRemoved:Delete"]
    assert removed["s3"]["configurationId"] == "removals"
    assert removed["s3"]["object"]["key"] == "in/a+b.txt"
    assert "size" not in removed["s3"]["object"]
    # The sequencer orders the events of one key.
    assert int(removed["s3"]["object"]["sequencer"], 16) > int(obj["sequencer"], 16)
    # Nothing else arrives: the filtered puts and the no-op delete made no event.
    time.sleep(2)
    assert len(recorded_events(s3, out, 2)) == 2


def test_versioned_bucket_events_carry_version_ids(s3, lam, role):
    out = new_bucket(s3, "notify-out")
    src = new_bucket(s3, "notify-src")
    s3.put_bucket_versioning(Bucket=src, VersioningConfiguration={"Status": "Enabled"})
    fn = create_function(lam, role, "recorder.py", Environment={"Variables": {"BUCKET": out}})
    lam.get_waiter("function_active_v2").wait(FunctionName=fn)
    arn = lam.get_function(FunctionName=fn)["Configuration"]["FunctionArn"]
    # Any s3.amazonaws.com permission of this account will do (no SourceArn).
    lam.add_permission(FunctionName=fn, StatementId="s3", Action="lambda:InvokeFunction",
                       Principal="s3.amazonaws.com", SourceAccount="000000000000")
    s3.put_bucket_notification_configuration(Bucket=src, NotificationConfiguration={
        "LambdaFunctionConfigurations": [
            {"LambdaFunctionArn": arn, "Events": ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"]},
        ]})
    v = s3.put_object(Bucket=src, Key="k", Body=b"v1")["VersionId"]
    marker = s3.delete_object(Bucket=src, Key="k")["VersionId"]
    records = recorded_events(s3, out, 2)
    by_name = {r["eventName"]: r["s3"]["object"] for r in records}
    assert by_name["ObjectCreated:Put"]["versionId"] == v
    assert by_name["ObjectRemoved:DeleteMarkerCreated"]["versionId"] == marker


def test_configurations_are_validated_as_s3_does(s3, lam, role):
    src = new_bucket(s3, "notify-src")
    fn = create_function(lam, role, "echo.py")
    lam.get_waiter("function_active_v2").wait(FunctionName=fn)
    arn = lam.get_function(FunctionName=fn)["Configuration"]["FunctionArn"]

    def put(**target):
        return s3.put_bucket_notification_configuration(
            Bucket=src, NotificationConfiguration={"LambdaFunctionConfigurations": [target]})

    unable = "Unable to validate the following destination configurations"
    # No permission for S3 yet.
    expect_error(put, "InvalidArgument", 400, unable,
                 LambdaFunctionArn=arn, Events=["s3:ObjectCreated:*"])
    # A permission for another bucket does not do either.
    lam.add_permission(FunctionName=fn, StatementId="other", Action="lambda:InvokeFunction",
                       Principal="s3.amazonaws.com", SourceArn="arn:aws:s3:::someone-else")
    expect_error(put, "InvalidArgument", 400, unable,
                 LambdaFunctionArn=arn, Events=["s3:ObjectCreated:*"])
    lam.add_permission(FunctionName=fn, StatementId="mine", Action="lambda:InvokeFunction",
                       Principal="s3.amazonaws.com", SourceArn=f"arn:aws:s3:::{src}")
    # A function that does not exist.
    expect_error(put, "InvalidArgument", 400, unable,
                 LambdaFunctionArn=arn + "-gone", Events=["s3:ObjectCreated:*"])
    expect_error(put, "InvalidArgument", 400, "The event is not supported for notifications",
                 LambdaFunctionArn=arn, Events=["s3:ObjectCreated:Everything"])
    expect_error(put, "InvalidArgument", 400,
                 "filter rule name must be either prefix or suffix",
                 LambdaFunctionArn=arn, Events=["s3:ObjectCreated:*"],
                 Filter={"Key": {"FilterRules": [{"Name": "middle", "Value": "x"}]}})
    expect_error(put, "InvalidArgument", 400,
                 "Cannot specify more than one prefix rule in a filter.",
                 LambdaFunctionArn=arn, Events=["s3:ObjectCreated:*"],
                 Filter={"Key": {"FilterRules": [{"Name": "prefix", "Value": "a"},
                                                 {"Name": "Prefix", "Value": "b"}]}})
    # Two destinations one event could reach twice.
    expect_error(s3.put_bucket_notification_configuration, "InvalidArgument", 400,
                 "Configurations overlap. Configurations on the same bucket cannot share a "
                 "common event type.",
                 Bucket=src, NotificationConfiguration={"LambdaFunctionConfigurations": [
                     {"LambdaFunctionArn": arn, "Events": ["s3:ObjectCreated:*"]},
                     {"LambdaFunctionArn": arn, "Events": ["s3:ObjectCreated:Put"],
                      "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "a/"}]}}},
                 ]})
    # Valid now; S3 gives a configuration without an Id one of its own.
    put(LambdaFunctionArn=arn, Events=["s3:ObjectCreated:*"])
    got = s3.get_bucket_notification_configuration(Bucket=src)["LambdaFunctionConfigurations"]
    assert len(got) == 1 and got[0]["LambdaFunctionArn"] == arn
    assert got[0]["Id"]


def test_copy_and_multipart_completion_are_creations(s3, lam, role):
    out = new_bucket(s3, "notify-out")
    src = new_bucket(s3, "notify-src")
    fn = create_function(lam, role, "recorder.py", Environment={"Variables": {"BUCKET": out}})
    lam.get_waiter("function_active_v2").wait(FunctionName=fn)
    arn = lam.get_function(FunctionName=fn)["Configuration"]["FunctionArn"]
    lam.add_permission(FunctionName=fn, StatementId="s3", Action="lambda:InvokeFunction",
                       Principal="s3.amazonaws.com", SourceArn=f"arn:aws:s3:::{src}")
    s3.put_object(Bucket=src, Key="seed", Body=b"seed")  # before the configuration: no event
    s3.put_bucket_notification_configuration(Bucket=src, NotificationConfiguration={
        "LambdaFunctionConfigurations": [
            {"LambdaFunctionArn": arn,
             "Events": ["s3:ObjectCreated:Copy", "s3:ObjectCreated:CompleteMultipartUpload"]},
        ]})
    s3.copy_object(Bucket=src, Key="copied", CopySource={"Bucket": src, "Key": "seed"})
    up = s3.create_multipart_upload(Bucket=src, Key="big")["UploadId"]
    part = s3.upload_part(Bucket=src, Key="big", UploadId=up, PartNumber=1, Body=b"x" * 10)
    s3.complete_multipart_upload(Bucket=src, Key="big", UploadId=up, MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]})
    s3.put_object(Bucket=src, Key="plain", Body=b"not a copy")  # Put is not configured
    records = recorded_events(s3, out, 2)
    got = sorted((r["eventName"], r["s3"]["object"]["key"]) for r in records)
    assert got == [("ObjectCreated:CompleteMultipartUpload", "big"),
                   ("ObjectCreated:Copy", "copied")]
    big = next(r for r in records if r["s3"]["object"]["key"] == "big")["s3"]["object"]
    assert big["size"] == 10 and big["eTag"].endswith("-1")


def test_tag_and_acl_changes(s3, lam, role):
    out = new_bucket(s3, "notify-out")
    src = new_bucket(s3, "notify-src")
    fn = create_function(lam, role, "recorder.py", Environment={"Variables": {"BUCKET": out}})
    lam.get_waiter("function_active_v2").wait(FunctionName=fn)
    arn = lam.get_function(FunctionName=fn)["Configuration"]["FunctionArn"]
    lam.add_permission(FunctionName=fn, StatementId="s3", Action="lambda:InvokeFunction",
                       Principal="s3.amazonaws.com", SourceArn=f"arn:aws:s3:::{src}")
    put = s3.put_object(Bucket=src, Key="doc", Body=b"tagged")
    s3.put_bucket_notification_configuration(Bucket=src, NotificationConfiguration={
        "LambdaFunctionConfigurations": [
            {"LambdaFunctionArn": arn,
             "Events": ["s3:ObjectTagging:*", "s3:ObjectAcl:Put"]},
        ]})
    s3.put_object_tagging(Bucket=src, Key="doc",
                          Tagging={"TagSet": [{"Key": "k", "Value": "v"}]})
    s3.delete_object_tagging(Bucket=src, Key="doc")
    s3.put_object_acl(Bucket=src, Key="doc", ACL="private")
    records = recorded_events(s3, out, 3)
    got = sorted(r["eventName"] for r in records)
    assert got == ["ObjectAcl:Put", "ObjectTagging:Delete", "ObjectTagging:Put"]
    for r in records:
        obj = r["s3"]["object"]
        assert obj["key"] == "doc"
        assert obj["eTag"] == put["ETag"].strip('"')
        assert "size" not in obj


def test_lifecycle_expiration_events(server_factory):
    srv = server_factory(extra_args=["--s3-lifecycle-interval-ms", "300"]).start()
    s3, lam = client("s3", srv.url), client("lambda", srv.url)
    logs = client("logs", srv.url)
    src = new_bucket(s3, "notify-src")
    fn = create_function(lam, make_role(client("iam", srv.url)), "print_event.py")
    lam.get_waiter("function_active_v2").wait(FunctionName=fn)
    arn = lam.get_function(FunctionName=fn)["Configuration"]["FunctionArn"]
    lam.add_permission(FunctionName=fn, StatementId="s3", Action="lambda:InvokeFunction",
                       Principal="s3.amazonaws.com", SourceArn=f"arn:aws:s3:::{src}")
    s3.put_bucket_notification_configuration(Bucket=src, NotificationConfiguration={
        "LambdaFunctionConfigurations": [
            {"LambdaFunctionArn": arn, "Events": ["s3:LifecycleExpiration:*"]}]})
    s3.put_object(Bucket=src, Key="tmp/old", Body=b"old")  # ObjectCreated: not configured
    s3.put_bucket_lifecycle_configuration(Bucket=src, LifecycleConfiguration={"Rules": [
        {"ID": "old", "Filter": {"Prefix": "tmp/"}, "Status": "Enabled",
         "Expiration": {"Date": "2020-01-01T00:00:00Z"}}]})
    deadline = time.monotonic() + DELIVERY_TIMEOUT_S
    events = []
    while not events and time.monotonic() < deadline:
        time.sleep(0.3)
        try:
            got = logs.filter_log_events(logGroupName=f"/aws/lambda/{fn}")["events"]
        except logs.exceptions.ResourceNotFoundException:
            continue
        events = [json.loads(e["message"].split("EVENT ", 1)[1])
                  for e in got if e["message"].startswith("EVENT ")]
    assert events, "no lifecycle event arrived"
    record = events[0]["Records"][0]
    assert record["eventName"] == "LifecycleExpiration:Delete"
    assert record["s3"]["object"]["key"] == "tmp/old"
    assert record["userIdentity"]["principalId"] == "s3.amazonaws.com"
