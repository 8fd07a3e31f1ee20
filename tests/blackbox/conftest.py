"""Black-box harness: start the real `nimbus` binary and drive it with boto3 and the AWS CLI.

Environment knobs:
  NIMBUS_BIN          path of the nimbus binary (default: <repo>/target/debug/nimbus).
  NIMBUS_TEST_TARGET  URL of an endpoint that is already running (e.g. dynalite, to check our
                      expectations against a peer). No server is started then, and tests
                      marked `nimbus_only` are deselected (not skipped): they need nimbus
                      itself (health, IAM/STS, signature checks, crash tests, ...).
  NIMBUS_TEST_BOOT_S  how long to wait for /_nimbus/health (default 20 s).
"""

from __future__ import annotations

import os

import pytest

import helpers
from helpers import NimbusServer
from lambda_fixtures.support import make_role

REPO_ROOT = helpers.REPO_ROOT


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "nimbus_only: needs the nimbus binary itself (deselected when NIMBUS_TEST_TARGET is set)",
    )
    config.addinivalue_line(
        "markers",
        "peer_differs: dynalite is known to differ from current AWS here (deselected against a "
        "peer); a comment on the test says how",
    )


def pytest_collection_modifyitems(config, items):
    if not helpers.external_target():
        return
    keep, drop = [], []
    for item in items:
        if item.get_closest_marker("nimbus_only") or item.get_closest_marker("peer_differs"):
            drop.append(item)
        else:
            keep.append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.fixture(scope="session")
def nimbus_bin() -> str:
    path = helpers.nimbus_bin()
    if not os.path.isfile(path) or not os.access(path, os.X_OK):
        pytest.fail(
            f"nimbus binary not found at {path}: build it (cargo build -p nimbus) or set NIMBUS_BIN",
            pytrace=False,
        )
    return path


@pytest.fixture(scope="session")
def endpoint(request, tmp_path_factory) -> str:
    """The endpoint every ordinary test talks to: a durable nimbus with a temp data dir."""
    target = helpers.external_target()
    if target:
        yield target
        return
    bin_path = request.getfixturevalue("nimbus_bin")
    server = NimbusServer(bin_path, data_dir=str(tmp_path_factory.mktemp("nimbus-data")))
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture(scope="session")
def mem_endpoint(nimbus_bin) -> str:
    """A second nimbus started with --in-memory."""
    server = NimbusServer(nimbus_bin, in_memory=True)
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def server_factory(nimbus_bin, tmp_path):
    """Start extra nimbus processes inside one test (crash and restart tests); all are
    killed when the test ends."""
    started: list[NimbusServer] = []

    def make(**kwargs) -> NimbusServer:
        kwargs.setdefault("data_dir", str(tmp_path / "data"))
        srv = NimbusServer(nimbus_bin, **kwargs)
        started.append(srv)
        return srv

    yield make
    for srv in started:
        srv.kill()


@pytest.fixture(scope="session")
def ddb(endpoint):
    return helpers.client("dynamodb", endpoint)


@pytest.fixture(scope="session")
def ddb_mem(mem_endpoint):
    return helpers.client("dynamodb", mem_endpoint)


@pytest.fixture(scope="session")
def sts(endpoint):
    return helpers.client("sts", endpoint)


@pytest.fixture(scope="session")
def iam(endpoint):
    return helpers.client("iam", endpoint)


@pytest.fixture(scope="session")
def lam(endpoint):
    return helpers.client("lambda", endpoint)


@pytest.fixture(scope="module")
def role(iam) -> str:
    """An execution role for the module's functions (CreateFunction requires one)."""
    return make_role(iam)


@pytest.fixture
def table_name(request) -> str:
    """A table name unique to this test (tests share one server)."""
    return helpers.unique_name(request.node.name)


@pytest.fixture
def uniq(request):
    """Make more unique names inside one test."""

    def make(prefix: str = "") -> str:
        return helpers.unique_name(prefix or request.node.name)

    return make


@pytest.fixture
def simple_table(ddb, table_name):
    """A PAY_PER_REQUEST table with a string hash key `pk` only."""
    helpers.create_table(ddb, table_name, hash_key=("pk", "S"))
    return table_name


@pytest.fixture
def range_table(ddb, table_name):
    """A PAY_PER_REQUEST table with `pk` (S) hash and `sk` (N) range key."""
    helpers.create_table(ddb, table_name, hash_key=("pk", "S"), range_key=("sk", "N"))
    return table_name


@pytest.fixture
def raw(endpoint):
    """Send a signed awsJson request with an arbitrary body; returns helpers.RawResponse."""

    def send(target: str, body, **kwargs):
        return helpers.raw_json_request(endpoint, target, body, **kwargs)

    return send



@pytest.fixture(scope="session")
def s3(endpoint):
    """boto3 S3 with the SDK defaults a new user has (path-style is what botocore picks for
    an endpoint URL like http://127.0.0.1:port)."""
    return helpers.client("s3", endpoint)


@pytest.fixture
def bucket(s3) -> str:
    """A fresh, empty bucket for one test."""
    return helpers.new_bucket(s3)
