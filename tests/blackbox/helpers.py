"""Shared helpers for the black-box tests: server process control, clients, raw signed
requests and small DynamoDB conveniences."""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from typing import Any
from unittest import mock

import boto3
import botocore.auth
import botocore.config
import botocore.exceptions
import pytest
import requests
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
REGION = "us-east-1"
ACCOUNT = "000000000000"
ROOT_KEY = ("test", "test")
# Any key nimbus does not know: accepted as root on a loopback bind.
DUMMY_KEY = ("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")

# Bounds so that nothing can hang the suite.
BOOT_TIMEOUT_S = float(os.environ.get("NIMBUS_TEST_BOOT_S", "20"))
REQUEST_TIMEOUT_S = 30
STOP_TIMEOUT_S = 15


def external_target() -> str | None:
    value = os.environ.get("NIMBUS_TEST_TARGET", "").strip()
    return value.rstrip("/") or None


def against_peer() -> bool:
    return external_target() is not None


def nimbus_bin() -> str:
    return os.environ.get("NIMBUS_BIN") or os.path.join(REPO_ROOT, "target", "debug", "nimbus")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def unique_name(base: str) -> str:
    clean = re.sub(r"[^a-zA-Z0-9_.-]", "_", base)[:40].strip("_") or "t"
    return f"{clean}-{uuid.uuid4().hex[:8]}"


# --------------------------------------------------------------------------- server process


class NimbusServer:
    """One nimbus process. Each start picks a fresh free port (so a restart after kill -9
    never races the old socket), waits for /_nimbus/health and fails with the server's
    output if it does not come up."""

    def __init__(self, bin_path: str, data_dir: str | None = None, in_memory: bool = False,
                 sync: str | None = None, extra_args: list[str] | None = None):
        self.bin_path = bin_path
        self.data_dir = data_dir
        self.in_memory = in_memory
        self.sync = sync
        self.extra_args = extra_args or []
        self.proc: subprocess.Popen | None = None
        self.port: int | None = None
        self.log_dir = tempfile.mkdtemp(prefix="nimbus-log-")
        self.starts = 0
        self.boot_ms: float | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def args(self) -> list[str]:
        args = [self.bin_path, "up", "--bind", f"127.0.0.1:{self.port}"]
        if self.in_memory:
            args.append("--in-memory")
        elif self.data_dir:
            args += ["--data-dir", self.data_dir]
        if self.sync:
            args += ["--sync", self.sync]
        return args + self.extra_args

    def start(self) -> "NimbusServer":
        # The data dir is not created here: nimbus must create it on first start.
        last_error = ""
        failures: list[str] = []
        for _attempt in range(3):  # a free port can be taken between probe and bind
            self.port = free_port()
            self.starts += 1
            out = open(self._log("stdout"), "wb")
            err = open(self._log("stderr"), "wb")
            # Hermetic: no NIMBUS_* settings or config file of the developer's leak in.
            env = {k: v for k, v in os.environ.items() if not k.startswith("NIMBUS_")}
            env["XDG_CONFIG_HOME"] = self.log_dir
            env["XDG_DATA_HOME"] = self.log_dir
            env.setdefault("RUST_BACKTRACE", "1")
            t0 = time.monotonic()
            self.proc = subprocess.Popen(self.args(), stdout=out, stderr=err,
                                         stdin=subprocess.DEVNULL, env=env)
            out.close()
            err.close()
            ok, last_error = self._wait_healthy(t0)
            if ok:
                self.boot_ms = (time.monotonic() - t0) * 1000
                return self
            if self.proc.poll() is None:
                self.kill()
            # A taken port is retried silently; any other failure is retried too (a
            # transient resource shortage on a busy CI host), but reported if it persists.
            if "in use" not in self.output().lower():
                failures.append(f"start {self.starts}: {last_error}\n{self.output(2000)}")
                time.sleep(0.5)
        raise RuntimeError(
            "\n".join(failures) + "\n" +
            f"nimbus did not become healthy ({last_error}).\n"
            f"command: {' '.join(self.args())}\n--- server output ---\n{self.output()}"
        )

    def _log(self, which: str) -> str:
        return os.path.join(self.log_dir, f"{which}.{self.starts}.log")

    def output(self, limit: int = 8000) -> str:
        text = ""
        for which in ("stderr", "stdout"):
            try:
                with open(self._log(which), "rb") as f:
                    data = f.read()
            except OSError:
                continue
            text += f"[{which}]\n" + data[-limit:].decode("utf-8", "replace") + "\n"
        return text

    def _wait_healthy(self, t0: float) -> tuple[bool, str]:
        last = "no answer"
        while time.monotonic() - t0 < BOOT_TIMEOUT_S:
            if self.proc is not None and self.proc.poll() is not None:
                return False, f"process exited with code {self.proc.returncode}"
            try:
                status, _body = health(self.url, timeout_s=0.5)
                if status == 200:
                    return True, ""
                last = f"health answered {status}"
            except OSError as e:
                last = str(e)
            time.sleep(0.005)
        return False, f"timed out after {BOOT_TIMEOUT_S}s: {last}"

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> int | None:
        """SIGTERM and wait; returns the exit code (SIGKILL after the timeout)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=timeout_s)
        return self.proc.returncode

    def kill(self) -> None:
        """SIGKILL: the crash in crash tests, and the cleanup everywhere else."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=STOP_TIMEOUT_S)


def health(url: str, timeout_s: float = 2.0) -> tuple[int, bytes]:
    host, port = url.replace("http://", "").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=timeout_s)
    try:
        conn.request("GET", "/_nimbus/health")
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


# --------------------------------------------------------------------------- clients


def client_config(**overrides) -> botocore.config.Config:
    cfg = dict(
        region_name=REGION,
        # One attempt: a retry would hide a wrong answer or double-apply a write.
        retries={"total_max_attempts": 1, "mode": "standard"},
        connect_timeout=5,
        read_timeout=REQUEST_TIMEOUT_S,
        # The server's validation is what we test, so the client must not pre-empt it.
        parameter_validation=False,
        max_pool_connections=32,
    )
    cfg.update(overrides)
    return botocore.config.Config(**cfg)


def client(service: str, endpoint: str, key: tuple[str, str] = ROOT_KEY, **config):
    return boto3.session.Session().client(
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=key[0],
        aws_secret_access_key=key[1],
        config=client_config(**config),
    )


def new_bucket(s3, base: str = "bk") -> str:
    """Creates an S3 bucket with a unique, S3-valid name and returns the name."""
    name = unique_name(base).lower().replace("_", "-")[:63]
    s3.create_bucket(Bucket=name)
    return name


def error_of(exc) -> tuple[str, str]:
    """(code, message) of a botocore ClientError."""
    err = exc.response.get("Error", {})
    return err.get("Code", ""), err.get("Message", "")


def status_of(exc) -> int:
    return exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)


# --------------------------------------------------------------------------- raw requests


@dataclass
class RawResponse:
    status: int
    headers: dict
    body: bytes

    @property
    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    @property
    def error_type(self) -> str:
        """The awsJson `__type` without its namespace, e.g. `ValidationException`."""
        doc = self.json
        if not isinstance(doc, dict):
            return ""
        t = str(doc.get("__type", ""))
        return t.rsplit("#", 1)[-1]

    @property
    def message(self) -> str:
        doc = self.json
        if not isinstance(doc, dict):
            return ""
        return str(doc.get("message", doc.get("Message", "")))


def expect_error(fn, code, status=None, message=None, **kwargs):
    """Calls `fn(**kwargs)` and asserts it fails with the AWS error `code`, and with the
    HTTP `status` and exact `message` where given. Returns the ClientError."""
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        fn(**kwargs)
    got_code, got_msg = error_of(ei.value)
    assert got_code == code, ei.value.response
    if status is not None:
        assert status_of(ei.value) == status
    if message is not None:
        assert got_msg == message
    return ei.value


def expect_ddb_error(fn, code, message=None, **kwargs):
    """`expect_error` for DynamoDB, whose client errors are all HTTP 400."""
    return expect_error(fn, code, 400, message, **kwargs)


def sign(method: str, url: str, body: bytes, headers: dict, service: str,
         key: tuple[str, str] = ROOT_KEY, at=None) -> dict:
    """SigV4-sign with botocore's signer; `at` (a naive UTC datetime) fakes the clock."""
    req = AWSRequest(method=method, url=url, data=body, headers=dict(headers))
    signer = botocore.auth.SigV4Auth(Credentials(key[0], key[1]), service, REGION)
    if at is None:
        signer.add_auth(req)
    else:
        with mock.patch("botocore.auth.get_current_datetime", return_value=at):
            signer.add_auth(req)
    return dict(req.headers.items())


_session = requests.Session()


def raw_request(method: str, url: str, body: bytes | str = b"", headers: dict | None = None,
                service: str = "dynamodb", key: tuple[str, str] | None = ROOT_KEY, at=None,
                timeout_s: float = REQUEST_TIMEOUT_S) -> RawResponse:
    if isinstance(body, str):
        body = body.encode()
    headers = dict(headers or {})
    if key is not None:
        headers = sign(method, url, body, headers, service, key=key, at=at)
    r = _session.request(method, url, data=body, headers=headers, timeout=timeout_s)
    return RawResponse(r.status_code, r.headers, r.content)  # case-insensitive headers


def raw_json_request(endpoint: str, target: str, body, *, service: str = "dynamodb",
                     key: tuple[str, str] | None = ROOT_KEY, at=None, headers: dict | None = None,
                     content_type: str = "application/x-amz-json-1.0",
                     timeout_s: float = REQUEST_TIMEOUT_S) -> RawResponse:
    if not isinstance(body, (bytes, str)):
        body = json.dumps(body)
    h = {"Content-Type": content_type}
    if target:
        h["X-Amz-Target"] = target if "." in target else f"DynamoDB_20120810.{target}"
    h.update(headers or {})
    return raw_request("POST", endpoint + "/", body, h, service=service, key=key, at=at,
                       timeout_s=timeout_s)


# --------------------------------------------------------------------------- DynamoDB helpers


def key_schema(hash_key, range_key=None):
    ks = [{"AttributeName": hash_key[0], "KeyType": "HASH"}]
    if range_key:
        ks.append({"AttributeName": range_key[0], "KeyType": "RANGE"})
    return ks


def create_table(ddb, name: str, hash_key=("pk", "S"), range_key=None, attrs=None,
                 wait: bool = True, **kwargs) -> dict:
    """CreateTable (PAY_PER_REQUEST unless told otherwise) and wait until it and its GSIs
    are ACTIVE. `attrs` adds AttributeDefinitions for index keys."""
    defs = {hash_key[0]: hash_key[1]}
    if range_key:
        defs[range_key[0]] = range_key[1]
    for a, t in (attrs or {}).items():
        defs[a] = t
    params = dict(
        TableName=name,
        KeySchema=key_schema(hash_key, range_key),
        AttributeDefinitions=[{"AttributeName": a, "AttributeType": t} for a, t in defs.items()],
    )
    if "ProvisionedThroughput" not in kwargs:
        params["BillingMode"] = "PAY_PER_REQUEST"
    params.update(kwargs)
    resp = ddb.create_table(**params)
    if wait:
        wait_active(ddb, name)
    return resp


def wait_active(ddb, name: str, timeout_s: float = 30.0) -> dict:
    deadline = time.monotonic() + timeout_s
    while True:
        t = ddb.describe_table(TableName=name)["Table"]
        gsis = t.get("GlobalSecondaryIndexes", [])
        if t["TableStatus"] == "ACTIVE" and all(g.get("IndexStatus") == "ACTIVE" for g in gsis):
            return t
        if time.monotonic() > deadline:
            raise AssertionError(f"table {name} not ACTIVE after {timeout_s}s: {t}")
        time.sleep(0.02)


def wait_gone(ddb, name: str, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            ddb.describe_table(TableName=name)
        except ddb.exceptions.ResourceNotFoundException:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"table {name} still exists after {timeout_s}s")
        time.sleep(0.02)


def put_many(ddb, table: str, items: list[dict]) -> None:
    """BatchWriteItem in chunks of 25, re-sending UnprocessedItems (bounded)."""
    for i in range(0, len(items), 25):
        pending = {table: [{"PutRequest": {"Item": it}} for it in items[i:i + 25]]}
        for _ in range(50):
            resp = ddb.batch_write_item(RequestItems=pending)
            pending = resp.get("UnprocessedItems") or {}
            if not pending:
                break
        else:
            raise AssertionError("BatchWriteItem kept returning UnprocessedItems")


def scan_all(ddb, **kwargs) -> list[dict]:
    items, pages = [], 0
    while True:
        resp = ddb.scan(**kwargs)
        items += resp.get("Items", [])
        pages += 1
        assert pages < 10_000, "scan did not terminate"
        if "LastEvaluatedKey" not in resp:
            return items
        kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]


def query_all(ddb, **kwargs) -> tuple[list[dict], int]:
    items, pages = [], 0
    while True:
        resp = ddb.query(**kwargs)
        items += resp.get("Items", [])
        pages += 1
        assert pages < 10_000, "query did not terminate"
        if "LastEvaluatedKey" not in resp:
            return items, pages
        kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]


def aws_cli(endpoint: str, *args: str, key: tuple[str, str] = ROOT_KEY,
            timeout_s: float = 120) -> subprocess.CompletedProcess:
    """Run the AWS CLI (v1, from the test venv) against the endpoint."""
    aws = os.path.join(os.path.dirname(sys.executable), "aws")
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": tempfile.gettempdir(),
        "AWS_ACCESS_KEY_ID": key[0],
        "AWS_SECRET_ACCESS_KEY": key[1],
        "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_MAX_ATTEMPTS": "1",
        "AWS_PAGER": "",
    }
    cmd = [aws, "--endpoint-url", endpoint, "--output", "json", "--cli-read-timeout", "30",
           "--cli-connect-timeout", "5", *args]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout_s,
                          stdin=subprocess.DEVNULL)
