"""Streaming: a 2 GiB object goes up (one PutObject, UNSIGNED-PAYLOAD, as SDKs send large
bodies) and comes back down while nimbus's resident memory stays under 100 MB, and the bytes
that come back are the bytes that went up.

The data is generated as a stream (1 MiB blocks, each stamped with its index so that a
reordered, repeated or dropped block changes the hash) and hashed on the fly: the test
itself never holds more than a block. The server under test is its own process (not the
shared session server), so its RSS is nimbus's alone; VmHWM (the kernel's peak RSS) is
checked as well as the sampled VmRSS, so a spike between two samples cannot hide.

Select it alone with `pytest tests/blackbox/test_s3_memory.py` (about a minute with a
debug build on 2 cores; most of that is the 4 GiB the two sides move).
"""

from __future__ import annotations

import hashlib
import http.client
import os
import threading
import time
import urllib.parse

import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

import helpers

MiB = 1024 * 1024
OBJECT_BYTES = 2 * 1024 * MiB
RSS_LIMIT_MB = 100
SAMPLE_EVERY_S = 0.02
# Generous bounds so that a stalled transfer fails instead of hanging the suite.
TRANSFER_TIMEOUT_S = 600


def signed_headers(method: str, url: str, extra: dict | None = None) -> dict:
    """SigV4 headers for S3 with UNSIGNED-PAYLOAD (botocore's signer; the body is never
    hashed, so it can be streamed)."""
    req = AWSRequest(method=method, url=url, data=b"", headers=dict(extra or {}))
    req.context["client_config"] = Config(s3={"payload_signing_enabled": False})
    S3SigV4Auth(Credentials(*helpers.ROOT_KEY), "s3", helpers.REGION).add_auth(req)
    headers = dict(req.headers.items())
    assert headers["X-Amz-Content-SHA256"] == "UNSIGNED-PAYLOAD"
    return headers


def blocks(total: int, seed: bytes):
    """`total` bytes in 1 MiB blocks: a random 1 MiB pattern, each block stamped with its
    index in its first 8 bytes."""
    index = 0
    sent = 0
    while sent < total:
        n = min(MiB, total - sent)
        block = index.to_bytes(8, "big") + seed[8:n] if n >= 8 else seed[:n]
        yield block
        sent += n
        index += 1


def status_kb(pid: int, field: str) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise AssertionError(f"{field} missing for pid {pid}")


class RssSampler:
    """Samples VmRSS of a process in a thread until stopped."""

    def __init__(self, pid: int):
        self.pid = pid
        self.max_kb = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            try:
                self.max_kb = max(self.max_kb, status_kb(self.pid, "VmRSS"))
                self.samples += 1
            except (OSError, AssertionError):
                return
            self._stop.wait(SAMPLE_EVERY_S)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=5)


def put_stream(url: str, total: int, seed: bytes) -> tuple[int, bytes, str]:
    """One streamed PUT; returns (status, body, sha256 of what was sent)."""
    u = urllib.parse.urlsplit(url)
    headers = signed_headers("PUT", url, {"Content-Length": str(total),
                                          "Content-Type": "application/octet-stream"})
    digest = hashlib.sha256()
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=TRANSFER_TIMEOUT_S)
    try:
        conn.putrequest("PUT", u.path, skip_host=True, skip_accept_encoding=True)
        conn.putheader("Host", u.netloc)
        for k, v in headers.items():
            conn.putheader(k, v)
        conn.endheaders()
        for block in blocks(total, seed):
            digest.update(block)
            conn.send(block)
        resp = conn.getresponse()
        return resp.status, resp.read(), digest.hexdigest()
    finally:
        conn.close()


def get_stream(url: str) -> tuple[int, int, str, bytes]:
    """One streamed GET; returns (status, bytes received, sha256, error body if any)."""
    u = urllib.parse.urlsplit(url)
    headers = signed_headers("GET", url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=TRANSFER_TIMEOUT_S)
    try:
        conn.request("GET", u.path, headers=headers)
        resp = conn.getresponse()
        if resp.status != 200:
            return resp.status, 0, "", resp.read()
        digest = hashlib.sha256()
        received = 0
        while True:
            block = resp.read(MiB)
            if not block:
                break
            digest.update(block)
            received += len(block)
        return resp.status, received, digest.hexdigest(), b""
    finally:
        conn.close()


@pytest.mark.nimbus_only
@pytest.mark.timeout(TRANSFER_TIMEOUT_S * 2)
def test_2gib_object_up_and_down_in_under_100mb_rss(server_factory, tmp_path):
    server = server_factory(data_dir=str(tmp_path / "data")).start()
    pid = server.proc.pid
    s3 = helpers.client("s3", server.url)
    s3.create_bucket(Bucket="memory")
    url = f"{server.url}/memory/two-gib.bin"
    seed = os.urandom(MiB)
    idle_kb = status_kb(pid, "VmRSS")

    t0 = time.monotonic()
    with RssSampler(pid) as up:
        status, body, sent_sha = put_stream(url, OBJECT_BYTES, seed)
    put_s = time.monotonic() - t0
    assert status == 200, body[:2000]

    head = s3.head_object(Bucket="memory", Key="two-gib.bin")
    assert head["ContentLength"] == OBJECT_BYTES

    t0 = time.monotonic()
    with RssSampler(pid) as down:
        status, received, got_sha, err = get_stream(url)
    get_s = time.monotonic() - t0
    assert status == 200, err[:2000]
    assert received == OBJECT_BYTES
    assert got_sha == sent_sha

    peak_kb = status_kb(pid, "VmHWM")
    report = (f"idle {idle_kb / 1024:.1f} MB; sampled max during PUT {up.max_kb / 1024:.1f} MB "
              f"({up.samples} samples), during GET {down.max_kb / 1024:.1f} MB "
              f"({down.samples} samples); VmHWM {peak_kb / 1024:.1f} MB; "
              f"PUT {OBJECT_BYTES / MiB / put_s:.0f} MiB/s, GET {OBJECT_BYTES / MiB / get_s:.0f} MiB/s")
    print(report)
    assert up.samples > 0 and down.samples > 0
    assert up.max_kb < RSS_LIMIT_MB * 1024, report
    assert down.max_kb < RSS_LIMIT_MB * 1024, report
    assert peak_kb < RSS_LIMIT_MB * 1024, report

    # The space comes back when the object goes.
    s3.delete_object(Bucket="memory", Key="two-gib.bin")
    helpers.expect_error(s3.head_object, "404", 404, Bucket="memory", Key="two-gib.bin")
