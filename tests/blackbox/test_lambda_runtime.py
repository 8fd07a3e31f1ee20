"""Lambda runtimes end to end against the real binary: what a function's code sees and can
do. Python with boto3 reaching nimbus with no endpoint configuration, Node.js CommonJS and
the AWS SDK v3 of the runtime, AWS's error payloads (unhandled error, timeout, process exit,
out of memory), parallel environments, CloudWatch Logs output, the sandbox seen from inside,
and a provided.al2023 function running AWS's unmodified awslambdaric.

The module runs its own nimbus with a data directory outside /tmp, so that "the function
cannot see the data directory" is not trivially true because of the private /tmp."""

from __future__ import annotations

import base64
import io
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import zipfile

import boto3
import pytest

from helpers import ACCOUNT, REPO_ROOT, NimbusServer, aws_cli, client, create_table, health, unique_name
from lambda_fixtures.support import FIXTURES, create_function, fixture_zip, make_role

pytestmark = pytest.mark.nimbus_only

ARN = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function"
UUID_RE = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


# --------------------------------------------------------------------------- fixtures


class Rt:
    """The module's server: its URL, data dir, clients and an execution role."""

    def __init__(self, server: NimbusServer, data_dir: str):
        self.server = server
        self.url = server.url
        self.data_dir = data_dir
        # Invokes may wait for a first SDK install (npm) inside the pytest timeout.
        self.lam = client("lambda", self.url, read_timeout=170)
        self.ddb = client("dynamodb", self.url)
        self.s3 = client("s3", self.url)
        self.logs = client("logs", self.url)
        self.iam = client("iam", self.url)
        self.role = make_role(self.iam)
        self.role_name = self.role.rsplit("/", 1)[-1]

    def invoke(self, fn: str, payload, **kw):
        r = self.lam.invoke(FunctionName=fn, Payload=json.dumps(payload).encode(), **kw)
        raw = r["Payload"].read()
        return r, json.loads(raw or b"null")

    def sandbox(self) -> dict:
        status, body = health(self.url)
        assert status == 200
        return json.loads(body)["functions"]["sandbox"]


@pytest.fixture(scope="module")
def rt(nimbus_bin):
    # /var/tmp, not /tmp: the sandbox's /tmp is a private tmpfs, which would hide a data
    # dir under /tmp even without the mount namespace doing its job on the rest.
    base = tempfile.mkdtemp(prefix="nimbus-bbrt-", dir="/var/tmp")
    data_dir = os.path.join(base, "data")
    server = NimbusServer(nimbus_bin, data_dir=data_dir)
    server.start()
    try:
        yield Rt(server, data_dir)
    finally:
        server.stop()
        shutil.rmtree(base, ignore_errors=True)


def zip_entries(entries: dict[str, tuple[bytes, int]]) -> bytes:
    """A zip from {name: (content, unix mode)}."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, (data, mode) in entries.items():
            info = zipfile.ZipInfo(name)
            info.external_attr = mode << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, data)
    return buf.getvalue()


def read_fixture(name: str) -> bytes:
    with open(os.path.join(FIXTURES, name), "rb") as f:
        return f.read()


# --------------------------------------------------------------------------- 1. Python + boto3


def test_python_boto3_writes_dynamodb_without_endpoint_config(rt, tmp_path):
    """AWS's deployment-package walkthrough, done with the AWS CLI: zip
    lambda_function.py, create-function --zip-file fileb://, wait, invoke --payload
    fileb://, read the output file. The handler's boto3 has no endpoint configuration."""
    table = unique_name("rt-ddb")
    create_table(rt.ddb, table, hash_key=("pk", "S"))
    # As the docs: the role gets a policy for the table (nimbus does not enforce it yet).
    rt.iam.put_role_policy(RoleName=rt.role_name, PolicyName=unique_name("ddb"), PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["dynamodb:PutItem", "dynamodb:GetItem"],
                       "Resource": f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/{table}"}]}))
    package = tmp_path / "my_deployment_package.zip"
    package.write_bytes(fixture_zip({"lambda_function.py": "rt_ddb_writer.py"}))
    fn = unique_name("rt-ddb-fn")

    created = aws_cli(rt.url, "lambda", "create-function", "--function-name", fn,
                      "--runtime", "python3.11", "--handler", "lambda_function.lambda_handler",
                      "--role", rt.role, "--zip-file", f"fileb://{package}")
    assert created.returncode == 0, created.stderr
    assert json.loads(created.stdout)["FunctionArn"] == f"{ARN}:{fn}"
    waited = aws_cli(rt.url, "lambda", "wait", "function-active-v2", "--function-name", fn)
    assert waited.returncode == 0, waited.stderr

    event = tmp_path / "event.json"
    event.write_text(json.dumps({"table": table, "pk": "from-lambda"}))
    out = tmp_path / "response.json"
    invoked = aws_cli(rt.url, "lambda", "invoke", "--function-name", fn,
                      "--payload", f"fileb://{event}", str(out))
    assert invoked.returncode == 0, invoked.stderr
    meta = json.loads(invoked.stdout)
    assert meta["StatusCode"] == 200
    assert "FunctionError" not in meta, out.read_text()
    assert meta["ExecutedVersion"] == "$LATEST"
    body = json.loads(out.read_text())
    assert body["stored"] == "from-lambda"
    # The role's session, named after the function, as AWS does.
    assert body["caller_arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/{rt.role_name}/{fn}"

    item = rt.ddb.get_item(TableName=table, Key={"pk": {"S": "from-lambda"}},
                           ConsistentRead=True).get("Item")
    assert item is not None, "the function's write is not in the table"
    assert item["written_by"] == {"S": fn}
    assert item["request_id"] == {"S": body["request_id"]}
    assert re.fullmatch(UUID_RE, body["request_id"])
    assert re.fullmatch(r"\d+\.\d+\.\d+", item["boto3"]["S"])


# --------------------------------------------------------------------------- 2. Node.js


def test_node_commonjs_handler(rt):
    fn = create_function(rt.lam, rt.role, runtime="nodejs20.x", Timeout=5,
                         zip=fixture_zip({"index.js": "rt_node_calc.js"}))
    r, body = rt.invoke(fn, {"n": 90, "values": [1, 2, 3.5], "word": "nimbus"})
    assert r["StatusCode"] == 200
    assert "FunctionError" not in r, body
    assert body["fib"] == "2880067194370816120"
    assert body["sum"] == 6.5
    assert body["upper"] == "NIMBUS"
    assert body["node"].startswith("v20.")
    assert body["moduleType"] == "object", "index.js must load as CommonJS"
    assert body["requestId"] == r["ResponseMetadata"]["RequestId"]
    assert body["functionName"] == fn
    assert 0 < body["remainingMs"] <= 5000
    # An exception in the Node handler: AWS's Node shape (errorType, errorMessage, trace).
    r, body = rt.invoke(fn, {"n": "not-a-number"})
    assert r["FunctionError"] == "Unhandled"
    assert set(body) == {"errorType", "errorMessage", "trace"}
    assert body["errorType"] == "TypeError"
    assert "toString" in body["errorMessage"]
    assert body["trace"][0].startswith("TypeError: ")
    assert any("/var/task/index.js" in line for line in body["trace"]), body["trace"]


def test_node_sdk_v3_from_runtime(rt):
    """@aws-sdk/client-dynamodb and client-s3 are the runtime's (not packaged), with no
    endpoint or credentials configuration, as on AWS."""
    table = unique_name("rt-node")
    create_table(rt.ddb, table, hash_key=("pk", "S"))
    bucket = unique_name("rt-node").lower()
    rt.s3.create_bucket(Bucket=bucket)
    fn = create_function(rt.lam, rt.role, runtime="nodejs20.x", Timeout=150,
                         zip=fixture_zip({"index.js": "rt_node_sdk.js"}))
    r, body = rt.invoke(fn, {"table": table, "pk": "node-1", "bucket": bucket}, LogType="Tail")
    log = base64.b64decode(r.get("LogResult", "")).decode()
    assert "FunctionError" not in r, f"{body}\n--- log tail ---\n{log}"
    assert body == {"item": {"pk": {"S": "node-1"}, "from": {"S": "node-sdk"}}, "body": "from node"}
    item = rt.ddb.get_item(TableName=table, Key={"pk": {"S": "node-1"}}, ConsistentRead=True)
    assert item["Item"]["from"] == {"S": "node-sdk"}
    assert rt.s3.get_object(Bucket=bucket, Key="node-1")["Body"].read() == b"from node"


# --------------------------------------------------------------------------- 3. errors


@pytest.fixture(scope="module")
def behave_fn(rt):
    """One function for the error cases: 1 s timeout, 128 MB."""
    return create_function(rt.lam, rt.role, Timeout=1, MemorySize=128,
                           zip=fixture_zip({"index.py": "rt_behave.py"}))


def assert_healthy(rt, fn):
    r, body = rt.invoke(fn, {})
    assert "FunctionError" not in r, body
    assert body["ok"] is True
    return body


def test_unhandled_error_payload(rt, behave_fn):
    r, body = rt.invoke(behave_fn, {"do": "raise", "n": 41})
    assert r["StatusCode"] == 200
    assert r["FunctionError"] == "Unhandled"
    assert r["ResponseMetadata"]["HTTPHeaders"]["x-amz-function-error"] == "Unhandled"
    assert set(body) == {"errorMessage", "errorType", "requestId", "stackTrace"}
    assert body["errorMessage"] == "bad value 41"
    assert body["errorType"] == "ValidationProblem"
    assert body["requestId"] == r["ResponseMetadata"]["RequestId"]
    # Python's runtime: one "  File ..., line N, in fn\n    code\n" string per frame.
    assert isinstance(body["stackTrace"], list) and len(body["stackTrace"]) == 2
    assert body["stackTrace"][0].startswith('  File "/var/task/index.py", line ')
    assert "in handler" in body["stackTrace"][0]
    assert "in level_two" in body["stackTrace"][1]
    assert_healthy(rt, behave_fn)


def test_timeout_payload(rt, behave_fn):
    t0 = time.monotonic()
    r, body = rt.invoke(behave_fn, {"do": "sleep", "seconds": 30}, LogType="Tail")
    elapsed = time.monotonic() - t0
    request_id = r["ResponseMetadata"]["RequestId"]
    assert r["FunctionError"] == "Unhandled"
    # AWS today: errorType Sandbox.Timedout and this message (older runtimes put a
    # timestamp first; the "Task timed out after 1.00 seconds" text is the same).
    assert body == {"errorType": "Sandbox.Timedout",
                    "errorMessage": f"RequestId: {request_id} Error: Task timed out after 1.00 seconds"}
    # The handler would sleep 30 s; ending well before that (and not before the 1 s
    # timeout) is the timeout's doing.
    assert 0.9 <= elapsed < 20, f"the invoke must end at the timeout, took {elapsed:.2f} s"
    log = base64.b64decode(r["LogResult"]).decode()
    assert re.search(rf"^\d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{{3}}Z {request_id} Task timed out after 1\.00 seconds$",
                     log, re.M), log
    assert_healthy(rt, behave_fn)


def test_process_exit_is_runtime_exit_error(rt, behave_fn):
    before = assert_healthy(rt, behave_fn)
    r, body = rt.invoke(behave_fn, {"do": "exit", "code": 3})
    request_id = r["ResponseMetadata"]["RequestId"]
    assert r["FunctionError"] == "Unhandled"
    assert body == {"errorType": "Runtime.ExitError",
                    "errorMessage": f"RequestId: {request_id} Error: Runtime exited with error: exit status 3"}
    after = assert_healthy(rt, behave_fn)
    assert after["env_id"] != before["env_id"], "a dead environment must be replaced"


def test_out_of_memory(rt, behave_fn):
    sandbox = rt.sandbox()
    r, body = rt.invoke(behave_fn, {"do": "alloc", "mb": 400})
    if sandbox.get("memory_limit"):
        request_id = r["ResponseMetadata"]["RequestId"]
        assert r["FunctionError"] == "Unhandled"
        assert body == {"errorType": "Runtime.OutOfMemory",
                        "errorMessage": f"RequestId: {request_id} Error: Runtime exited with error: signal: killed"}
    else:
        # Degraded: nothing enforces MemorySize, and health says so.
        assert "FunctionError" not in r, body
        assert body == {"allocated_mb": 400}
    assert_healthy(rt, behave_fn)
    r, body = rt.invoke(behave_fn, {"do": "alloc", "mb": 20})
    assert body == {"allocated_mb": 20}, "an allocation well under the limit must work"


def test_marshal_handler_and_import_errors(rt, behave_fn):
    r, body = rt.invoke(behave_fn, {"do": "marshal"})
    assert r["FunctionError"] == "Unhandled"
    assert body == {"errorMessage": "Unable to marshal response: Object of type set is not JSON serializable",
                    "errorType": "Runtime.MarshalError",
                    "requestId": r["ResponseMetadata"]["RequestId"], "stackTrace": []}
    assert_healthy(rt, behave_fn)

    missing = create_function(rt.lam, rt.role, Handler="index.nope",
                              zip=fixture_zip({"index.py": "rt_behave.py"}))
    r, body = rt.invoke(missing, {})
    assert r["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Runtime.HandlerNotFound"
    assert body["errorMessage"] == "Handler 'nope' missing on module 'index'"

    broken = create_function(rt.lam, rt.role, zip=fixture_zip({"index.py": "rt_import_error.py"}))
    for _ in range(2):  # an init error repeats on the next invoke (a fresh init each time)
        r, body = rt.invoke(broken, {}, LogType="Tail")
        assert r["FunctionError"] == "Unhandled"
        # AWS's Python runtime: init errors carry an empty requestId.
        assert body == {"errorMessage": "Unable to import module 'index': No module named "
                                        "'module_that_does_not_exist'",
                        "errorType": "Runtime.ImportModuleError", "requestId": "", "stackTrace": []}
    log = base64.b64decode(r["LogResult"]).decode()
    assert "[ERROR] Runtime.ImportModuleError: Unable to import module 'index'" in log, log


# --------------------------------------------------------------------------- 4. concurrency


def test_parallel_invokes_use_parallel_environments(rt):
    fn = create_function(rt.lam, rt.role, Timeout=10, zip=fixture_zip({"index.py": "rt_behave.py"}))
    results: list = [None] * 5
    errors: list = []

    def one(i):
        try:
            results[i] = rt.invoke(fn, {"do": "sleep", "seconds": 1})
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(repr(e))

    threads = [threading.Thread(target=one, args=(i,)) for i in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    for r, body in results:
        assert "FunctionError" not in r, body
        assert body["slept"] == 1
    assert len({body["env_id"] for _, body in results}) == 5, "each concurrent invoke needs its own environment"
    assert len({body["request_id"] for _, body in results}) == 5
    # The sleeps overlapped in time.
    latest_start = max(body["start"] for _, body in results)
    earliest_end = min(body["end"] for _, body in results)
    assert latest_start < earliest_end


# --------------------------------------------------------------------------- 5. logs


def test_invoke_output_in_cloudwatch_logs(rt):
    fn = create_function(rt.lam, rt.role, MemorySize=192, zip=fixture_zip({"index.py": "rt_behave.py"}))
    marker = unique_name("marker")
    r, body = rt.invoke(fn, {"marker": marker})
    assert "FunctionError" not in r, body
    request_id = r["ResponseMetadata"]["RequestId"]
    group = f"/aws/lambda/{fn}"

    messages: list[str] = []
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            events = rt.logs.filter_log_events(logGroupName=group)["events"]
        except rt.logs.exceptions.ResourceNotFoundException:
            events = []
        messages = [e["message"].rstrip("\n") for e in events]
        if any(m.startswith(f"REPORT RequestId: {request_id}") for m in messages):
            break
        time.sleep(0.2)
    text = "\n".join(messages)
    assert f"START RequestId: {request_id} Version: $LATEST" in messages, text
    assert f"behave: None {marker}" in messages, text
    assert f"END RequestId: {request_id}" in messages, text
    report = next((m for m in messages if m.startswith(f"REPORT RequestId: {request_id}")), None)
    assert report is not None, text
    m = re.fullmatch(
        rf"REPORT RequestId: {request_id}\tDuration: (\d+\.\d\d) ms\tBilled Duration: (\d+) ms\t"
        r"Memory Size: 192 MB\tMax Memory Used: (\d+) MB(\tInit Duration: \d+\.\d\d ms)?\t?", report)
    assert m, report
    duration_ms, billed_ms, used_mb = float(m.group(1)), int(m.group(2)), int(m.group(3))
    assert billed_ms >= duration_ms and billed_ms - duration_ms <= 1.0
    assert 1 <= used_mb <= 192
    # START, the line, END, REPORT in that order, in one stream named as AWS does.
    order = [messages.index(f"START RequestId: {request_id} Version: $LATEST"),
             messages.index(f"behave: None {marker}"),
             messages.index(f"END RequestId: {request_id}"), messages.index(report)]
    assert order == sorted(order), text
    streams = rt.logs.describe_log_streams(logGroupName=group)["logStreams"]
    assert len(streams) == 1
    assert re.fullmatch(r"\d{4}/\d\d/\d\d/\[\$LATEST\][0-9a-f]{32}", streams[0]["logStreamName"])


# --------------------------------------------------------------------------- 6. sandbox


def probe(rt, fn, **event):
    event.setdefault("data_dir", rt.data_dir)
    r, body = rt.invoke(fn, event)
    assert "FunctionError" not in r, body
    return body


def test_sandbox_from_inside(rt):
    sandbox = rt.sandbox()
    zip_bytes = fixture_zip({"index.py": "rt_sandbox_probe.py"})
    fn_a = create_function(rt.lam, rt.role, zip=zip_bytes, MemorySize=256)
    fn_b = create_function(rt.lam, rt.role, zip=zip_bytes)
    tmp_name = unique_name("private")
    # A host service on loopback the function must not reach (nimbus itself it must).
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    host_port = listener.getsockname()[1]
    nimbus_port = rt.server.port
    host_paths = [rt.data_dir, os.path.dirname(rt.data_dir), REPO_ROOT, rt.server.bin_path]
    try:
        a = probe(rt, fn_a, tmp_write=tmp_name, tmp_text="only-a", host_paths=host_paths,
                  ports=[host_port, nimbus_port])
    finally:
        listener.close()
    b = probe(rt, fn_b, tmp_read=tmp_name, host_paths=host_paths)
    a2 = probe(rt, fn_a, tmp_read=tmp_name)

    # The environment AWS documents, the same in every mode.
    env = a["env"]
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == fn_a
    assert env["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "us-east-1"
    assert env["LAMBDA_TASK_ROOT"] == "/var/task"
    assert env["LAMBDA_RUNTIME_DIR"] == "/var/runtime"
    assert env["AWS_EXECUTION_ENV"] == "AWS_Lambda_python3.11"
    assert env["_HANDLER"] == "index.handler"
    assert env["AWS_LAMBDA_LOG_GROUP_NAME"] == f"/aws/lambda/{fn_a}"
    assert re.fullmatch(r"\d{4}/\d\d/\d\d/\[\$LATEST\][0-9a-f]{32}", env["AWS_LAMBDA_LOG_STREAM_NAME"])
    assert re.fullmatch(r"127\.0\.0\.1:\d+", env["AWS_LAMBDA_RUNTIME_API"])
    # Temporary credentials of the role (STS session keys), not the caller's.
    assert re.fullmatch(r"ASIA[A-Z0-9]{16}", env["AWS_ACCESS_KEY_ID"]), env["AWS_ACCESS_KEY_ID"]
    assert env["AWS_SECRET_ACCESS_KEY"] and env["AWS_SESSION_TOKEN"]
    # Valid: they are the role's session, named after the function.
    assert boto3_caller(rt.url, env) == f"arn:aws:sts::{ACCOUNT}:assumed-role/{rt.role_name}/{fn_a}"
    assert a["cwd"] == "/var/task"
    assert a["connect"][str(nimbus_port)] == {"ok": True, "value": "connected"}
    if sandbox.get("rlimits"):
        assert a["nofile"] == [1024, 1024]

    if sandbox["mode"] == "sandbox":
        assert env["AWS_LAMBDA_RUNTIME_API"] == "127.0.0.1:9001"
        # Nimbus's data dir, its parent, the repository and the binary: not there.
        assert a["data_dir_exists"] is False
        assert a["data_dir_list"]["ok"] is False and a["data_dir_list"]["errno"] == 2
        assert a["paths_exist"] == {p: False for p in host_paths}, a["paths_exist"]
        # Only the environment's own processes: the runtime is PID 1 of its namespace.
        assert a["my_pid"] == 1
        assert len(a["pids"]) <= 3 and max(a["pids"]) < 100, a["pids"]
        assert len([p for p in os.listdir("/proc") if p.isdigit()]) > 3  # the host has more
        assert a["proc1_cmdline"]["ok"] and "python" in a["proc1_cmdline"]["value"][0]
        # /var/task is read-only (EROFS).
        assert a["write_task"] == {"ok": False, "error": "OSError", "errno": 30}
        assert "written-by-function" not in a["task_listing"]
        assert a["task_listing"] == ["index.py"]
        # /tmp is private to the environment: A sees its file on its next (warm) invoke, B
        # and the host never see it.
        assert a["tmp_write"]["ok"], a["tmp_write"]
        assert a2["tmp_read"] == {"ok": True, "value": "only-a"}
        assert b["tmp_read"]["ok"] is False and b["tmp_read"]["errno"] == 2, b["tmp_read"]
        assert not os.path.exists(os.path.join("/tmp", tmp_name))
        # Network namespace: only lo, and the host's other loopback services are not there.
        assert a["interfaces"] == ["lo"]
        assert a["connect"][str(host_port)]["ok"] is False, a["connect"]
        assert a["connect"][str(host_port)]["errno"] == 111  # ECONNREFUSED: nothing listens inside
        # Not root inside.
        if sandbox.get("unprivileged_user"):
            assert a["uid"] != 0
    else:
        # Degraded mode: the facts must match what health admits, never silently pass.
        assert sandbox.get("warnings"), "a degraded sandbox must say why in health"
        if not sandbox.get("mount"):
            assert a["data_dir_exists"] is True, "without a mount namespace the data dir is visible"
        if not sandbox.get("pid"):
            assert a["my_pid"] != 1 and len(a["pids"]) > 3
        assert a["write_task"]["ok"] is False or not sandbox.get("mount")
        if not sandbox.get("net"):
            assert a["connect"][str(host_port)]["ok"] is True, "without a net namespace loopback is shared"


def test_process_limit_as_aws(rt):
    """AWS Lambda allows 1,024 processes/threads per environment (and NOFILE 1024). nimbus
    enforces the tasks limit with the pids cgroup (an RLIMIT_NPROC would count every
    environment of the shared sandbox uid), so the effect is what is checked."""
    sandbox = rt.sandbox()
    fn = create_function(rt.lam, rt.role, MemorySize=512, Timeout=30,
                         zip=fixture_zip({"index.py": "rt_behave.py"}))
    r, body = rt.invoke(fn, {"do": "threads", "max": 1500})
    assert "FunctionError" not in r, body
    if sandbox.get("pids_limit"):
        assert body["refused"] is not None, body
        # The runtime's own threads count too.
        assert 1000 <= body["started"] < 1024, body
    else:
        assert body == {"started": 1500, "refused": None}
    assert_healthy(rt, fn)


def boto3_caller(url: str, env: dict) -> str:
    """GetCallerIdentity with the function's own environment credentials, from outside."""
    sts = boto3.session.Session().client(
        "sts", endpoint_url=url, region_name="us-east-1",
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=env["AWS_SESSION_TOKEN"])
    return sts.get_caller_identity()["Arn"]


# --------------------------------------------------------------------------- 7. awslambdaric


SYSTEM_PYTHON = "/usr/bin/python3"


@pytest.fixture(scope="module")
def ric_package(tmp_path_factory) -> tuple[str, str]:
    """awslambdaric pip-installed (wheels only: nothing compiled) for the host's system
    Python, which the bootstrap runs: the sandbox binds /usr read-only, so /usr/bin/python3
    exists inside; a pyenv interpreter of a python runtime would not be bound for a
    provided function."""
    if not os.access(SYSTEM_PYTHON, os.X_OK):
        pytest.fail(f"{SYSTEM_PYTHON} is missing: the provided.al2023 test needs a system Python")
    ver = subprocess.run([SYSTEM_PYTHON, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                         capture_output=True, text=True, timeout=30, check=True).stdout.strip()
    pkg = str(tmp_path_factory.mktemp("ric-pkg"))
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         "--target", pkg, "--only-binary=:all:", "--python-version", ver, "awslambdaric"],
        capture_output=True, text=True, timeout=150)
    assert done.returncode == 0, f"pip could not install a wheel of awslambdaric for {ver}:\n{done.stderr}"
    full = subprocess.run([SYSTEM_PYTHON, "-c", "import sys; print(sys.version.split()[0])"],
                          capture_output=True, text=True, timeout=30, check=True).stdout.strip()
    return pkg, full


def test_provided_al2023_with_unmodified_awslambdaric(rt, ric_package):
    pkg_dir, system_python_version = ric_package
    entries: dict[str, tuple[bytes, int]] = {}
    for root, dirs, files in os.walk(pkg_dir):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        for name in files:
            path = os.path.join(root, name)
            with open(path, "rb") as f:
                entries[os.path.relpath(path, pkg_dir)] = (f.read(), os.stat(path).st_mode & 0o777)
    assert any(n.startswith("runtime_client") and n.endswith(".so") for n in entries), \
        "the awslambdaric wheel brings its native runtime client"
    entries["bootstrap"] = (read_fixture("rt_ric_bootstrap.sh"), 0o755)
    entries["handler.py"] = (read_fixture("rt_ric_handler.py"), 0o644)
    fn = create_function(rt.lam, rt.role, runtime="provided.al2023", Handler="handler.fn",
                         Timeout=30, zip=zip_entries(entries))

    for i in range(2):  # cold, then warm: the client keeps polling /next
        r, body = rt.invoke(fn, {"i": i})
        assert "FunctionError" not in r, body
        assert body["event"] == {"i": i}
        assert body["request_id"] == r["ResponseMetadata"]["RequestId"]
        assert body["function_name"] == fn
        assert body["ric_module"] == "/var/task/awslambdaric/__init__.py"
        assert body["python"] == system_python_version, "the bootstrap's /usr/bin/python3 ran it"

    r, body = rt.invoke(fn, {"fail": "x"})
    assert r["FunctionError"] == "Unhandled"
    assert body["errorType"] == "LookupError"
    assert body["errorMessage"] == "ric failure x"
    assert body["requestId"] == r["ResponseMetadata"]["RequestId"]
    assert isinstance(body["stackTrace"], list) and body["stackTrace"]
