"""A provided.al2023 function built with AWS's official Rust runtime (the `lambda_runtime`
crate from crates.io), against the real binary: the package in lambda_fixtures/rust_fn is
compiled at test time, zipped as `bootstrap` and invoked. This checks that nimbus's Runtime
API, environment variables and error payloads are what the unmodified AWS client expects:
the request id it sees is the invoke's, the environment stays warm between invokes, and the
errors it posts come back as AWS's `Unhandled` function errors."""

from __future__ import annotations

import base64
import io
import json
import os
import subprocess
import zipfile

import pytest

from helpers import ACCOUNT, REPO_ROOT, client, unique_name
from lambda_fixtures.support import FIXTURES

# The first test also waits for the fixture's cargo build (about a minute from cold on two
# busy cores, bounded by BUILD_TIMEOUT_S), which the default 180 s per test cannot cover.
BUILD_TIMEOUT_S = 600
pytestmark = [pytest.mark.nimbus_only, pytest.mark.timeout(BUILD_TIMEOUT_S + 180)]

ARN = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function"
MANIFEST = os.path.join(FIXTURES, "rust_fn", "Cargo.toml")
TIMEOUT_S = 30
MEMORY_MB = 256


def fixture_target_dir() -> str:
    # Next to nimbus's own build (scripts/test builds into CARGO_TARGET_DIR or <repo>/target)
    # so that CI keeps one build cache; a directory of its own so the two never share a
    # Cargo.lock's resolution or fight over artifacts.
    base = os.environ.get("CARGO_TARGET_DIR") or os.path.join(REPO_ROOT, "target")
    return os.path.join(base, "lambda-fixtures")


@pytest.fixture(scope="module")
def bootstrap_zip() -> bytes:
    target_dir = fixture_target_dir()
    cmd = ["cargo", "build", "--locked", "--manifest-path", MANIFEST, "--target-dir", target_dir]
    try:
        done = subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True,
                              timeout=BUILD_TIMEOUT_S)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"{' '.join(cmd)} took more than {BUILD_TIMEOUT_S} s:\n"
                    f"{e.stdout or ''}{e.stderr or ''}", pytrace=False)
    if done.returncode != 0:
        pytest.fail(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stdout}{done.stderr}",
                    pytrace=False)
    with open(os.path.join(target_dir, "debug", "bootstrap"), "rb") as f:
        binary = f.read()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        info = zipfile.ZipInfo("bootstrap")
        # A regular file, rwxr-xr-x: what `zip` records for a built binary, and what the
        # runtime needs to execute /var/task/bootstrap.
        info.external_attr = 0o100755 << 16
        info.compress_type = zipfile.ZIP_DEFLATED
        z.writestr(info, binary)
    return buf.getvalue()


@pytest.fixture(scope="module")
def lam(endpoint):
    # Generous: the first invoke of a fresh function includes its cold start.
    return client("lambda", endpoint, read_timeout=120)


def create_rust_function(lam, role: str, zip_bytes: bytes) -> str:
    name = unique_name("rust-fn")
    lam.create_function(FunctionName=name, Runtime="provided.al2023", Role=role,
                        Handler="bootstrap", Code={"ZipFile": zip_bytes},
                        Timeout=TIMEOUT_S, MemorySize=MEMORY_MB)
    lam.get_waiter("function_active_v2").wait(FunctionName=name)
    return name


@pytest.fixture(scope="module")
def rust_fn(lam, role, bootstrap_zip) -> str:
    return create_rust_function(lam, role, bootstrap_zip)


def invoke(lam, fn: str, payload, **kw):
    r = lam.invoke(FunctionName=fn, Payload=json.dumps(payload).encode(), **kw)
    return r, json.loads(r["Payload"].read() or b"null")


def assert_unhandled(r, body) -> None:
    assert r["StatusCode"] == 200
    assert r["FunctionError"] == "Unhandled"
    assert r["ResponseMetadata"]["HTTPHeaders"]["x-amz-function-error"] == "Unhandled"
    # lambda_runtime's Diagnostic, serialized by the crate and passed through unchanged.
    assert set(body) == {"errorType", "errorMessage"}, body


def test_invoke_returns_sum_and_sees_the_invoke_context(lam, rust_fn):
    r, body = invoke(lam, rust_fn, {"a": 2, "b": 40}, LogType="Tail")
    assert r["StatusCode"] == 200
    assert "FunctionError" not in r
    assert r["ExecutedVersion"] == "$LATEST"
    assert body["sum"] == 42
    # The Lambda-Runtime-Aws-Request-Id the runtime read from /next is the invoke's request
    # id, as on AWS.
    request_id = r["ResponseMetadata"]["RequestId"]
    assert body["request_id"] == request_id
    assert body["function_name"] == rust_fn
    assert body["function_arn"] == f"{ARN}:{rust_fn}"
    assert body["memory_mb"] == MEMORY_MB
    # Lambda-Runtime-Deadline-Ms: in the future, within the function's timeout.
    assert 0 < body["remaining_ms"] <= TIMEOUT_S * 1000
    log = base64.b64decode(r["LogResult"]).decode()
    assert f"rust handler called: request {request_id}" in log
    assert f"REPORT RequestId: {request_id}" in log


def test_second_invoke_reuses_the_warm_environment(lam, role, bootstrap_zip):
    # A function of its own, so that its first invoke is certainly a cold start.
    fn = create_rust_function(lam, role, bootstrap_zip)
    _, first = invoke(lam, fn, {"a": -5, "b": 3})
    r2, second = invoke(lam, fn, {"a": 7, "b": 8})
    assert (first["sum"], second["sum"]) == (-2, 15)
    assert first["request_id"] != second["request_id"]
    assert second["request_id"] == r2["ResponseMetadata"]["RequestId"]
    # The same process (started once, before the first invoke) served one more invocation:
    # the runtime's /next loop kept going in the warm environment.
    assert first["invocations"] == 1
    assert second["invocations"] == 2
    assert first["started_ns"] is not None
    assert second["started_ns"] == first["started_ns"]
    assert second["pid"] == first["pid"]


def test_handler_error_is_unhandled_function_error(lam, rust_fn):
    # The usual path: a boxed `lambda_runtime::Error`, whose errorType the crate derives
    # from the Rust type name.
    r, body = invoke(lam, rust_fn, {"a": 1, "b": 2, "fail": "the sum is not wanted"})
    assert_unhandled(r, body)
    assert body["errorMessage"] == "the sum is not wanted"
    assert "Box<dyn" in body["errorType"] and "Error" in body["errorType"], body
    # An error is not a crash: the same function answers the next invoke.
    r, body = invoke(lam, rust_fn, {"a": 1, "b": 2})
    assert "FunctionError" not in r
    assert body["sum"] == 3


def test_handler_diagnostic_names_the_error_type(lam, rust_fn):
    r, body = invoke(lam, rust_fn, {"a": 1, "b": 2, "fail_typed": "SumError"})
    assert_unhandled(r, body)
    assert body == {"errorType": "SumError", "errorMessage": "asked to fail with a=1 b=2"}


def test_event_of_wrong_shape_is_the_runtimes_deserialize_error(lam, rust_fn):
    # The handler never runs: lambda_runtime itself fails to deserialize the event and
    # posts that error to /invocation/<id>/error.
    r, body = invoke(lam, rust_fn, {"a": "two", "b": 2})
    assert_unhandled(r, body)
    assert body["errorType"].endswith("DeserializeError"), body
    assert body["errorMessage"].startswith(
        "failed to deserialize the incoming data into the function's payload type: [a] "), body
