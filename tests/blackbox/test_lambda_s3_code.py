"""Lambda packages from S3 (`Code.S3Bucket`/`S3Key`/`S3ObjectVersion`): read through nimbus's
own S3, with AWS's errors for a missing bucket or key."""

from __future__ import annotations

import json

from helpers import expect_error, new_bucket, unique_name
from lambda_fixtures.support import handler_zip


def invoke(lam, name, payload, **kw):
    r = lam.invoke(FunctionName=name, Payload=json.dumps(payload).encode(), **kw)
    return r, json.loads(r["Payload"].read())


def test_create_and_update_from_s3_with_versions(lam, role, s3):
    bucket = new_bucket(s3)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    v1 = s3.put_object(Bucket=bucket, Key="pkg/fn.zip", Body=handler_zip("echo.py"))["VersionId"]
    # A second version of the same key: a different package (it fails on every invoke).
    s3.put_object(Bucket=bucket, Key="pkg/fn.zip", Body=handler_zip("fail.py"))
    name = unique_name("s3fn")
    created = lam.create_function(FunctionName=name, Runtime="python3.11", Role=role,
                                  Handler="index.handler",
                                  Code={"S3Bucket": bucket, "S3Key": "pkg/fn.zip",
                                        "S3ObjectVersion": v1})
    assert created["CodeSize"] == len(handler_zip("echo.py"))
    lam.get_waiter("function_active_v2").wait(FunctionName=name)
    r, body = invoke(lam, name, {"from": "s3"})
    assert "FunctionError" not in r, body
    assert body["event"] == {"from": "s3"}

    # The latest version of the key is the failing handler: UpdateFunctionCode picks it.
    lam.update_function_code(FunctionName=name, S3Bucket=bucket, S3Key="pkg/fn.zip")
    lam.get_waiter("function_updated_v2").wait(FunctionName=name)
    r, body = invoke(lam, name, {})
    assert r.get("FunctionError") == "Unhandled", body


def test_missing_bucket_and_key(lam, role, s3):
    bucket = new_bucket(s3)
    common = dict(FunctionName=unique_name("s3fn"), Runtime="python3.11", Role=role,
                  Handler="index.handler")
    expect_error(lam.create_function, "InvalidParameterValueException", 400,
                 "Error occurred while GetObject. S3 Error Code: NoSuchKey. S3 Error Message: "
                 "The specified key does not exist.",
                 Code={"S3Bucket": bucket, "S3Key": "nope.zip"}, **common)
    expect_error(lam.create_function, "InvalidParameterValueException", 400,
                 "Error occurred while GetObject. S3 Error Code: NoSuchBucket. S3 Error Message: "
                 "The specified bucket does not exist",
                 Code={"S3Bucket": unique_name("nobucket").lower().replace("_", "-"),
                       "S3Key": "fn.zip"}, **common)
