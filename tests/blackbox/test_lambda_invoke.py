"""Lambda data plane against the real binary: synchronous invoke (payload, errors, log
tail, versions, aliases, layers, Node.js), DryRun, throttling, function URLs, and the
asynchronous queue (retries with backoff, destinations). These run real functions with the
host's interpreters."""

from __future__ import annotations

import base64
import json
import time

import pytest
import requests

from helpers import ACCOUNT, NimbusServer, client, expect_error, new_bucket, unique_name
from lambda_fixtures.support import create_function, fixture_zip, handler_zip, make_role

pytestmark = pytest.mark.nimbus_only

ARN = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function"


def invoke_json(lam, name, payload, **kw):
    r = lam.invoke(FunctionName=name, Payload=json.dumps(payload).encode(), **kw)
    return r, json.loads(r["Payload"].read() or b"null")


def test_invoke_echo(lam, role):
    fn = create_function(lam, role, "echo.py", Environment={"Variables": {"GREETING": "hello"}},
                         MemorySize=256)
    r, body = invoke_json(lam, fn, {"a": 1}, LogType="Tail")
    assert r["StatusCode"] == 200
    assert "FunctionError" not in r
    assert r["ExecutedVersion"] == "$LATEST"
    assert body["event"] == {"a": 1}
    assert body["env"] == {"GREETING": "hello", "AWS_REGION": "us-east-1",
                           "AWS_LAMBDA_FUNCTION_NAME": fn, "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST"}
    assert body["function_arn"] == f"{ARN}:{fn}"
    assert body["memory"] in (256, "256")
    assert body["request_id"] == r["ResponseMetadata"]["RequestId"]
    log = base64.b64decode(r["LogResult"]).decode()
    assert "echo handler called" in log
    assert "END RequestId:" in log or "REPORT RequestId:" in log
    assert len(base64.b64decode(r["LogResult"])) <= 4096


def test_function_error_and_bad_payload(lam, role):
    fn = create_function(lam, role, "fail.py")
    r, body = invoke_json(lam, fn, {"n": 7})
    assert r["StatusCode"] == 200
    assert r["FunctionError"] == "Unhandled"
    assert body["errorType"] == "BoomError"
    assert body["errorMessage"] == "boom: 7"
    expect_error(lam.invoke, "InvalidRequestContentException", 400,
                 FunctionName=fn, Payload=b"{not json")
    expect_error(lam.invoke, "ResourceNotFoundException", 404,
                 f"Function not found: {ARN}:nope-{fn}", FunctionName=f"nope-{fn}")
    expect_error(lam.invoke, "RequestTooLargeException", 413,
                 FunctionName=fn, Payload=b'"' + b"x" * (6 * 1024 * 1024) + b'"')


def test_dry_run_and_event_status(lam, role):
    fn = create_function(lam, role, "echo.py")
    assert lam.invoke(FunctionName=fn, InvocationType="DryRun")["StatusCode"] == 204
    assert lam.invoke(FunctionName=fn, InvocationType="Event", Payload=b"{}")["StatusCode"] == 202


def test_versions_aliases_executed_version(lam, role):
    fn = create_function(lam, role, "echo.py")
    lam.publish_version(FunctionName=fn)
    lam.update_function_code(FunctionName=fn, ZipFile=handler_zip("fail.py"))
    lam.get_waiter("function_updated_v2").wait(FunctionName=fn)
    r, body = invoke_json(lam, fn, {"x": 1}, Qualifier="1")
    assert r["ExecutedVersion"] == "1" and "FunctionError" not in r
    assert body["function_arn"] == f"{ARN}:{fn}:1"
    r, _ = invoke_json(lam, fn, {"x": 1})
    assert r["FunctionError"] == "Unhandled"
    lam.publish_version(FunctionName=fn)
    lam.create_alias(FunctionName=fn, Name="live", FunctionVersion="1",
                     RoutingConfig={"AdditionalVersionWeights": {"2": 0.5}})
    seen = set()
    for _ in range(40):
        r, _ = invoke_json(lam, f"{fn}:live", {})
        seen.add(r["ExecutedVersion"])
        if seen == {"1", "2"}:
            break
    assert seen == {"1", "2"}, "weighted alias must route to both versions"


def test_layer_on_opt(lam, role):
    layer = unique_name("lyr")
    lv = lam.publish_layer_version(LayerName=layer,
                                   Content={"ZipFile": handler_zip("layermod.py", "python/layermod")})
    fn = create_function(lam, role, "uselayer.py", Layers=[lv["LayerVersionArn"]])
    _, body = invoke_json(lam, fn, {})
    assert body == {"from_layer": "layer-ok"}


def test_node_esm(lam, role):
    fn = create_function(lam, role, "index.mjs", runtime="nodejs20.x")
    r, body = invoke_json(lam, fn, {"k": "v"})
    assert "FunctionError" not in r, body
    assert body["event"] == {"k": "v"}
    assert body["node"].startswith("v20")


def test_reserved_concurrency_zero_throttles(lam, role):
    fn = create_function(lam, role, "echo.py")
    lam.put_function_concurrency(FunctionName=fn, ReservedConcurrentExecutions=0)
    err = expect_error(lam.invoke, "TooManyRequestsException", 429, "Rate Exceeded.",
                       FunctionName=fn, Payload=b"{}")
    assert err.response.get("Reason") == "ReservedFunctionConcurrentInvocationLimitExceeded"


def test_function_url(lam, role):
    fn = create_function(lam, role, "web.py")
    url = lam.create_function_url_config(
        FunctionName=fn, AuthType="NONE",
        Cors={"AllowOrigins": ["https://app.example"], "AllowMethods": ["POST"],
              "MaxAge": 60})["FunctionUrl"]
    # NONE without a public permission: forbidden, as AWS.
    r = requests.post(url + "x", data="hi", timeout=30)
    assert r.status_code == 403
    lam.add_permission(FunctionName=fn, StatementId="url", Action="lambda:InvokeFunctionUrl",
                       Principal="*", FunctionUrlAuthType="NONE")
    r = requests.post(url + "some/path?a=1&a=2&b=x", data="hello body",
                      headers={"Origin": "https://app.example"}, timeout=30)
    assert r.status_code == 201, r.text
    assert r.headers["content-type"] == "text/plain"
    assert r.headers["x-seen-path"] == "/some/path"
    assert r.headers["access-control-allow-origin"] == "https://app.example"
    assert "session=abc" in r.headers.get("set-cookie", "")
    body = r.json()
    assert body == {"query": {"a": "1,2", "b": "x"}, "body": "hello body", "method": "POST",
                    "version": "2.0"}
    # A result without statusCode is a 200 JSON body.
    r = requests.get(url + "plain", timeout=30)
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    assert r.json() == {"plain": True, "method": "GET"}
    # Preflight answered without the function.
    r = requests.options(url, headers={"Origin": "https://app.example",
                                       "Access-Control-Request-Method": "POST"}, timeout=30)
    assert r.status_code == 200
    assert r.headers["access-control-allow-methods"] == "POST"
    assert r.headers["access-control-max-age"] == "60"
    # AWS_IAM: unsigned requests are refused.
    lam.update_function_url_config(FunctionName=fn, AuthType="AWS_IAM")
    assert requests.get(url + "plain", timeout=30).status_code == 403


# --------------------------------------------------------------------------- async queue


@pytest.fixture(scope="module")
def fast_retry_endpoint(nimbus_bin, tmp_path_factory):
    """A nimbus whose async retries wait 100 ms / 200 ms instead of 1 / 2 minutes."""
    server = NimbusServer(nimbus_bin, data_dir=str(tmp_path_factory.mktemp("lambda-async")),
                          extra_args=["--lambda-retry-delay-ms", "100"])
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


def wait_for_object(s3, bucket, prefix, timeout_s=90.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        got = s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
        if got:
            return json.loads(s3.get_object(Bucket=bucket, Key=got[0]["Key"])["Body"].read())
        time.sleep(0.3)
    raise AssertionError(f"no object under {prefix} in {timeout_s} s")


def test_async_retries_then_on_failure_destination(fast_retry_endpoint):
    ep = fast_retry_endpoint
    lam, s3 = client("lambda", ep), client("s3", ep)
    role = make_role(client("iam", ep))
    bucket = new_bucket(s3, "dest")
    recorder = create_function(lam, role, "recorder.py", Environment={"Variables": {"BUCKET": bucket}},
                               Timeout=30)
    flaky = create_function(lam, role, "flaky.py")
    lam.put_function_event_invoke_config(
        FunctionName=flaky, MaximumRetryAttempts=2,
        DestinationConfig={"OnFailure": {"Destination": f"{ARN}:{recorder}"}})
    r = lam.invoke(FunctionName=flaky, InvocationType="Event", Payload=b'{"job": 42}')
    assert r["StatusCode"] == 202
    request_id = r["ResponseMetadata"]["RequestId"]
    record = wait_for_object(s3, bucket, f"RetriesExhausted/{request_id}")
    assert record["version"] == "1.0"
    assert record["requestContext"] == {
        "requestId": request_id, "functionArn": f"{ARN}:{flaky}:$LATEST",
        "condition": "RetriesExhausted", "approximateInvokeCount": 3}
    assert record["requestPayload"] == {"job": 42}
    assert record["responseContext"]["functionError"] == "Unhandled"
    assert record["responseContext"]["executedVersion"] == "$LATEST"
    assert record["responsePayload"]["errorMessage"] == "always failing"


def test_async_on_success_destination(fast_retry_endpoint):
    ep = fast_retry_endpoint
    lam, s3 = client("lambda", ep), client("s3", ep)
    role = make_role(client("iam", ep))
    bucket = new_bucket(s3, "dest")
    recorder = create_function(lam, role, "recorder.py", Environment={"Variables": {"BUCKET": bucket}},
                               Timeout=30)
    echo = create_function(lam, role, "echo.py")
    lam.put_function_event_invoke_config(
        FunctionName=echo, DestinationConfig={"OnSuccess": {"Destination": f"{ARN}:{recorder}"}})
    r = lam.invoke(FunctionName=echo, InvocationType="Event", Payload=b'{"ok": true}')
    request_id = r["ResponseMetadata"]["RequestId"]
    record = wait_for_object(s3, bucket, f"Success/{request_id}")
    assert record["requestContext"]["condition"] == "Success"
    assert record["requestContext"]["approximateInvokeCount"] == 1
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST"}
    assert record["responsePayload"]["event"] == {"ok": True}


def test_async_zero_retries(fast_retry_endpoint):
    ep = fast_retry_endpoint
    lam, s3 = client("lambda", ep), client("s3", ep)
    role = make_role(client("iam", ep))
    bucket = new_bucket(s3, "dest")
    recorder = create_function(lam, role, "recorder.py", Environment={"Variables": {"BUCKET": bucket}},
                               Timeout=30)
    flaky = create_function(lam, role, "flaky.py")
    lam.put_function_event_invoke_config(
        FunctionName=flaky, MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination": f"{ARN}:{recorder}"}})
    r = lam.invoke(FunctionName=flaky, InvocationType="Event", Payload=b"{}")
    record = wait_for_object(s3, bucket, f"RetriesExhausted/{r['ResponseMetadata']['RequestId']}")
    assert record["requestContext"]["approximateInvokeCount"] == 1


def test_async_survives_restart(nimbus_bin, tmp_path_factory):
    """A queued event is durable: written before the 202, run after a restart."""
    data = str(tmp_path_factory.mktemp("lambda-durable"))
    server = NimbusServer(nimbus_bin, data_dir=data, extra_args=["--lambda-retry-delay-ms", "100"])
    server.start()
    try:
        lam, s3 = client("lambda", server.url), client("s3", server.url)
        role = make_role(client("iam", server.url))
        bucket = new_bucket(s3, "dest")
        recorder = create_function(lam, role, "recorder.py",
                                   Environment={"Variables": {"BUCKET": bucket}}, Timeout=30)
        # Reserved concurrency 0: the event stays queued (throttled) until it is lifted.
        lam.put_function_concurrency(FunctionName=recorder, ReservedConcurrentExecutions=0)
        payload = {"requestContext": {"condition": "Manual", "requestId": "durable-1"}}
        assert lam.invoke(FunctionName=recorder, InvocationType="Event",
                          Payload=json.dumps(payload).encode())["StatusCode"] == 202
        server.kill()
        server.start()
        lam, s3 = client("lambda", server.url), client("s3", server.url)
        lam.delete_function_concurrency(FunctionName=recorder)
        record = wait_for_object(s3, bucket, "Manual/durable-1")
        assert record == payload
    finally:
        server.stop()


def test_zip_with_directories(lam, role):
    """A package with a module in a subdirectory and the handler named by path."""
    z = fixture_zip({"pkg/__init__.py": "layermod.py", "app/main.py": "echo.py"})
    fn = create_function(lam, role, zip=z, Handler="app/main.handler")
    r, body = invoke_json(lam, fn, {"p": 1})
    assert "FunctionError" not in r, body
    assert body["event"] == {"p": 1}
