"""Durability: every acknowledged write survives kill -9; SIGTERM exits 0 after flushing;
--in-memory keeps nothing. Each test runs its own nimbus processes."""

import json
import os
import threading
import time

import botocore.exceptions
import pytest

import helpers

pytestmark = pytest.mark.nimbus_only

WRITERS = 8
LOAD_S = 2.0
MIN_ACKED = 400


def make_table(ddb, name="crash"):
    helpers.create_table(ddb, name, hash_key=("writer", "N"), range_key=("seq", "N"))
    return name


def test_kill_9_keeps_every_acknowledged_write(server_factory):
    srv = server_factory().start()
    ddb = helpers.client("dynamodb", srv.url)
    table = make_table(ddb)

    acked: list[list[int]] = [[] for _ in range(WRITERS)]
    stop = threading.Event()
    unexpected: list[str] = []

    def writer(w: int):
        c = helpers.client("dynamodb", srv.url, connect_timeout=2, read_timeout=10)
        seq = 0
        while not stop.is_set() and seq < 100_000:
            try:
                c.put_item(TableName=table, Item={"writer": {"N": str(w)}, "seq": {"N": str(seq)},
                                                  "payload": {"S": f"w{w}-s{seq}" * 8}})
            except botocore.exceptions.ClientError as e:
                unexpected.append(f"writer {w} seq {seq}: {e}")
                return
            except Exception:  # noqa: BLE001 - the server was killed under us: expected
                return
            acked[w].append(seq)
            seq += 1

    threads = [threading.Thread(target=writer, args=(w,), daemon=True) for w in range(WRITERS)]
    for t in threads:
        t.start()
    # Load for LOAD_S, and on a slow machine until a fair number of writes were acked
    # (bounded), so that the kill lands in the middle of real concurrent load.
    t0 = time.monotonic()
    while time.monotonic() - t0 < LOAD_S or (
            sum(len(a) for a in acked) < MIN_ACKED and time.monotonic() - t0 < 15):
        time.sleep(0.05)
    srv.kill()  # SIGKILL mid-load
    stop.set()
    for t in threads:
        t.join(timeout=30)
    assert unexpected == [], srv.output()
    total = sum(len(a) for a in acked)
    assert total > 0, "no write was acknowledged before the kill"

    srv.start()  # same data dir
    ddb = helpers.client("dynamodb", srv.url)
    missing = []
    for w in range(WRITERS):
        items, _ = helpers.query_all(ddb, TableName=table, ConsistentRead=True,
                                     KeyConditionExpression="writer = :w",
                                     ExpressionAttributeValues={":w": {"N": str(w)}})
        stored = {int(i["seq"]["N"]) for i in items}
        for seq in acked[w]:
            if seq not in stored:
                missing.append((w, seq))
        for i in items:
            s = int(i["seq"]["N"])
            assert i["payload"] == {"S": f"w{w}-s{s}" * 8}, "torn or mixed-up item"
        # Sequences are written in order by one writer, so what is stored has no holes
        # except possibly the one in-flight write at the kill.
        if stored:
            assert max(stored) <= (acked[w][-1] + 1 if acked[w] else 0)
    assert missing == [], f"{len(missing)} of {total} acknowledged writes lost: {missing[:10]}"


def test_sigterm_exits_zero_and_keeps_data(server_factory, uniq):
    srv = server_factory().start()
    ddb = helpers.client("dynamodb", srv.url)
    iam = helpers.client("iam", srv.url)
    table = make_table(ddb, "graceful")
    helpers.put_many(ddb, table, [{"writer": {"N": "1"}, "seq": {"N": str(i)}}
                                  for i in range(100)])
    user = uniq("durable")
    uid = iam.create_user(UserName=user)["User"]["UserId"]
    key = iam.create_access_key(UserName=user)["AccessKey"]

    assert srv.stop() == 0, srv.output()

    srv.start()
    ddb = helpers.client("dynamodb", srv.url)
    t = ddb.describe_table(TableName=table)["Table"]
    assert t["TableStatus"] == "ACTIVE"
    assert len(helpers.scan_all(ddb, TableName=table, ConsistentRead=True)) == 100
    iam = helpers.client("iam", srv.url)
    assert iam.get_user(UserName=user)["User"]["UserId"] == uid
    sts = helpers.client("sts", srv.url, key=(key["AccessKeyId"], key["SecretAccessKey"]))
    assert sts.get_caller_identity()["Arn"].endswith(f":user/{user}")
    assert srv.stop() == 0


def test_sigterm_during_load_finishes_in_flight(server_factory):
    srv = server_factory().start()
    ddb = helpers.client("dynamodb", srv.url)
    table = make_table(ddb, "inflight")
    acked: list[int] = []

    def writer():
        c = helpers.client("dynamodb", srv.url, connect_timeout=2, read_timeout=10)
        for seq in range(100_000):
            try:
                c.put_item(TableName=table, Item={"writer": {"N": "0"}, "seq": {"N": str(seq)}})
            except Exception:  # noqa: BLE001 - the server is going away
                return
            acked.append(seq)

    t = threading.Thread(target=writer, daemon=True)
    t.start()
    time.sleep(0.5)
    code = srv.stop()
    t.join(timeout=30)
    assert code == 0, srv.output()
    srv.start()
    ddb = helpers.client("dynamodb", srv.url)
    stored = {int(i["seq"]["N"]) for i in helpers.scan_all(ddb, TableName=table,
                                                             ConsistentRead=True)}
    assert set(acked) <= stored


def test_in_memory_keeps_nothing(server_factory, tmp_path):
    srv = server_factory(data_dir=None, in_memory=True).start()
    ddb = helpers.client("dynamodb", srv.url)
    make_table(ddb, "ephemeral")
    ddb.put_item(TableName="ephemeral", Item={"writer": {"N": "1"}, "seq": {"N": "1"}})
    assert srv.stop() == 0
    srv.start()
    ddb = helpers.client("dynamodb", srv.url)
    assert "ephemeral" not in ddb.list_tables()["TableNames"]


def test_in_memory_session_server_works(ddb_mem, table_name):
    helpers.create_table(ddb_mem, table_name)
    ddb_mem.put_item(TableName=table_name, Item={"pk": {"S": "a"}, "v": {"N": "1.50"}})
    got = ddb_mem.get_item(TableName=table_name, Key={"pk": {"S": "a"}})["Item"]
    assert got == {"pk": {"S": "a"}, "v": {"N": "1.5"}}


def test_data_dir_is_created(server_factory, tmp_path):
    data = tmp_path / "nested" / "dir"
    srv = server_factory(data_dir=str(data)).start()
    assert data.is_dir()
    # The store opens in the background after the listener answers: give it a moment.
    deadline = time.monotonic() + 10
    while not any(os.scandir(data)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert any(os.scandir(data)), "nothing written to the data dir"
    status, body = helpers.health(srv.url)
    assert status == 200 and json.loads(body)


def _work_dir(srv) -> str:
    # Rust's std::env::temp_dir(): $TMPDIR, else /tmp.
    return os.path.join(os.environ.get("TMPDIR") or "/tmp", f"nimbus-{srv.port}-{srv.proc.pid}")


def test_next_start_removes_the_work_directory_of_a_killed_process(server_factory, tmp_path):
    killed = server_factory(data_dir=str(tmp_path / "a")).start()
    killed_dir = _work_dir(killed)
    assert os.path.isdir(killed_dir)
    killed.kill()  # SIGKILL: the process cannot clean up after itself
    assert os.path.isdir(killed_dir), "nothing but the next start should remove it"

    alive = server_factory(data_dir=str(tmp_path / "b")).start()
    deadline = time.monotonic() + 10
    while os.path.exists(killed_dir) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not os.path.exists(killed_dir)
    # The running process's own directory is left alone, and removed at its clean exit.
    alive_dir = _work_dir(alive)
    assert os.path.isdir(alive_dir)
    assert alive.stop() == 0
    assert not os.path.exists(alive_dir)
