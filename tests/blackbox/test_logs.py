"""CloudWatch Logs through boto3 and the AWS CLI (v1): groups, streams, PutLogEvents rules,
GetLogEvents tokens, FilterLogEvents patterns and paging, retention, tags, AWS's error
codes and messages.

The CLI v1 has no `aws logs tail` (that is a CLI v2 command); v2's `tail --follow` polls
FilterLogEvents with `startTime` and drops event ids it has seen, which
`test_cli_follow_like_tail` drives through `aws logs filter-log-events`."""

from __future__ import annotations

import json
import threading
import time

import pytest

import helpers


@pytest.fixture(scope="module")
def logs(endpoint):
    return helpers.client("logs", endpoint)


def now_ms() -> int:
    return int(time.time() * 1000)


@pytest.fixture
def group(logs, uniq):
    name = "/nimbus/test/" + uniq("g")
    logs.create_log_group(logGroupName=name)
    yield name
    try:
        logs.delete_log_group(logGroupName=name)
    except logs.exceptions.ResourceNotFoundException:
        pass


def put(logs, group, stream, events):
    return logs.put_log_events(
        logGroupName=group,
        logStreamName=stream,
        logEvents=[{"timestamp": t, "message": m} for t, m in events],
    )


def test_group_lifecycle_and_errors(logs, uniq):
    name = "/nimbus/life/" + uniq("g")
    logs.create_log_group(logGroupName=name, tags={"team": "core"})
    helpers.expect_error(logs.create_log_group, "ResourceAlreadyExistsException", 400,
                         "The specified log group already exists", logGroupName=name)
    got = logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"]
    assert len(got) == 1
    g = got[0]
    assert g["logGroupName"] == name
    assert g["arn"] == f"arn:aws:logs:{helpers.REGION}:{helpers.ACCOUNT}:log-group:{name}:*"
    assert g["storedBytes"] == 0
    assert abs(g["creationTime"] - now_ms()) < 60_000
    assert "retentionInDays" not in g
    assert logs.list_tags_log_group(logGroupName=name)["tags"] == {"team": "core"}
    logs.delete_log_group(logGroupName=name)
    helpers.expect_error(logs.delete_log_group, "ResourceNotFoundException", 400,
                         "The specified log group does not exist.", logGroupName=name)
    assert logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"] == []


def test_validation_errors_are_invalid_parameter(logs):
    err = helpers.expect_error(logs.create_log_group, "InvalidParameterException", 400,
                               logGroupName="bad name!")
    assert "at 'logGroupName' failed to satisfy constraint" in helpers.error_of(err)[1]
    helpers.expect_error(logs.create_log_group, "InvalidParameterException", 400,
                         logGroupName="x" * 513)


def test_describe_log_groups_pages_and_pattern(logs, uniq):
    base = "/nimbus/page/" + uniq("p") + "/"
    names = [f"{base}{i:02d}" for i in range(7)]
    for n in names:
        logs.create_log_group(logGroupName=n)
    try:
        pages = list(logs.get_paginator("describe_log_groups").paginate(
            logGroupNamePrefix=base, PaginationConfig={"PageSize": 3}))
        assert len(pages) == 3
        seen = [g["logGroupName"] for p in pages for g in p["logGroups"]]
        assert seen == names
        pat = logs.describe_log_groups(logGroupNamePattern=base.split("/")[3] + "/05")
        assert [g["logGroupName"] for g in pat["logGroups"]] == [names[5]]
        # With a pattern AWS returns only arn, creationTime and logGroupName.
        assert set(pat["logGroups"][0]) == {"arn", "creationTime", "logGroupName"}
        helpers.expect_error(logs.describe_log_groups, "InvalidParameterException", 400,
                             logGroupNamePrefix=base, logGroupNamePattern="x")
    finally:
        for n in names:
            logs.delete_log_group(logGroupName=n)


def test_streams_put_get(logs, group):
    logs.create_log_stream(logGroupName=group, logStreamName="s1")
    helpers.expect_error(logs.create_log_stream, "ResourceAlreadyExistsException", 400,
                         "The specified log stream already exists",
                         logGroupName=group, logStreamName="s1")
    helpers.expect_error(logs.create_log_stream, "ResourceNotFoundException", 400,
                         "The specified log group does not exist.",
                         logGroupName=group + "-none", logStreamName="s1")
    helpers.expect_error(put, "ResourceNotFoundException", 400,
                         "The specified log stream does not exist.",
                         logs=logs, group=group, stream="nope", events=[(now_ms(), "x")])
    t = now_ms() - 1000
    resp = put(logs, group, "s1", [(t + i, f"line {i}") for i in range(5)])
    assert len(resp["nextSequenceToken"]) == 56
    assert "rejectedLogEventsInfo" not in resp

    got = logs.get_log_events(logGroupName=group, logStreamName="s1", startFromHead=True)
    assert [e["message"] for e in got["events"]] == [f"line {i}" for i in range(5)]
    assert got["events"][0]["timestamp"] == t
    assert got["nextForwardToken"].startswith("f/")
    assert got["nextBackwardToken"].startswith("b/")
    # At the end of the stream the same forward token comes back.
    again = logs.get_log_events(logGroupName=group, logStreamName="s1",
                                nextToken=got["nextForwardToken"])
    assert again["events"] == []
    assert again["nextForwardToken"] == got["nextForwardToken"]
    # New events continue from that token.
    put(logs, group, "s1", [(t + 10, "later")])
    more = logs.get_log_events(logGroupName=group, logStreamName="s1",
                               nextToken=got["nextForwardToken"])
    assert [e["message"] for e in more["events"]] == ["later"]
    # The default reads the newest events; backward from there.
    tail = logs.get_log_events(logGroupName=group, logStreamName="s1", limit=2)
    assert [e["message"] for e in tail["events"]] == ["line 4", "later"]
    back = logs.get_log_events(logGroupName=group, logStreamName="s1", limit=2,
                               nextToken=tail["nextBackwardToken"])
    assert [e["message"] for e in back["events"]] == ["line 2", "line 3"]
    helpers.expect_error(logs.get_log_events, "InvalidParameterException", 400,
                         "The specified nextToken is invalid.",
                         logGroupName=group, logStreamName="s1", nextToken="garbage")

    s = logs.describe_log_streams(logGroupName=group)["logStreams"][0]
    assert s["logStreamName"] == "s1"
    assert s["firstEventTimestamp"] == t
    assert s["lastEventTimestamp"] == t + 10
    assert s["arn"].endswith(f":log-group:{group}:log-stream:s1")
    g = logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"][0]
    assert g["storedBytes"] > 0

    logs.delete_log_stream(logGroupName=group, logStreamName="s1")
    helpers.expect_error(logs.get_log_events, "ResourceNotFoundException", 400,
                         "The specified log stream does not exist.",
                         logGroupName=group, logStreamName="s1")


def test_put_log_events_rules(logs, group):
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    t = now_ms()
    helpers.expect_error(
        put, "InvalidParameterException", 400,
        "Log events in a single PutLogEvents request must be in chronological order.",
        logs=logs, group=group, stream="s", events=[(t, "b"), (t - 5, "a")])
    big = "x" * 600_000
    helpers.expect_error(
        put, "InvalidParameterException", 400,
        "Upload too large: 1200052 bytes exceeds limit of 1048576",
        logs=logs, group=group, stream="s", events=[(t, big), (t, big)])
    day = 86_400_000
    resp = put(logs, group, "s", [(t - 15 * day, "too old"), (t - 1, "ok"),
                                   (t + 3 * 3_600_000, "too new")])
    assert resp["rejectedLogEventsInfo"] == {"tooOldLogEventEndIndex": 0,
                                             "tooNewLogEventStartIndex": 2}
    got = logs.get_log_events(logGroupName=group, logStreamName="s", startFromHead=True)
    assert [e["message"] for e in got["events"]] == ["ok"]
    # Sequence tokens are accepted and ignored, as AWS does now.
    logs.put_log_events(logGroupName=group, logStreamName="s", sequenceToken="whatever",
                        logEvents=[{"timestamp": t, "message": "again"}])
    helpers.expect_error(logs.put_log_events, "InvalidParameterException", 400,
                         logGroupName=group, logStreamName="s", logEvents=[])


def test_describe_log_streams_order(logs, group):
    t = now_ms() - 10_000
    for i, name in enumerate(["b", "c", "a"]):
        logs.create_log_stream(logGroupName=group, logStreamName=name)
        put(logs, group, name, [(t + i, name)])
    by_name = logs.describe_log_streams(logGroupName=group)["logStreams"]
    assert [s["logStreamName"] for s in by_name] == ["a", "b", "c"]
    pages = list(logs.get_paginator("describe_log_streams").paginate(
        logGroupName=group, orderBy="LastEventTime", descending=True,
        PaginationConfig={"PageSize": 2}))
    assert [s["logStreamName"] for p in pages for s in p["logStreams"]] == ["a", "c", "b"]
    assert len(pages) == 2
    helpers.expect_error(logs.describe_log_streams, "InvalidParameterException", 400,
                         "Cannot order by LastEventTime with a logStreamNamePrefix.",
                         logGroupName=group, orderBy="LastEventTime", logStreamNamePrefix="a")
    helpers.expect_error(logs.describe_log_streams, "ResourceNotFoundException", 400,
                         "The specified log group does not exist.",
                         logGroupName=group + "-none")


def test_filter_log_events(logs, group):
    t = now_ms() - 60_000
    for s in ["web-1", "web-2", "db"]:
        logs.create_log_stream(logGroupName=group, logStreamName=s)
    put(logs, group, "web-1", [(t, "INFO start"), (t + 20, "ERROR boom")])
    put(logs, group, "web-2", [(t + 10, "WARN disk full"), (t + 30, "ERROR timeout")])
    put(logs, group, "db", [(t + 15, json.dumps({"level": "ERROR", "ms": 900}))])

    def msgs(**kw):
        r = logs.filter_log_events(logGroupName=group, **kw)
        return [e["message"] for e in r["events"]]

    everything = logs.filter_log_events(logGroupName=group)
    assert [e["logStreamName"] for e in everything["events"]] == \
        ["web-1", "web-2", "db", "web-1", "web-2"]
    assert all(e["eventId"] for e in everything["events"])
    assert "nextToken" not in everything
    assert msgs(filterPattern="ERROR -timeout") == ['{"level": "ERROR", "ms": 900}', "ERROR boom"]
    assert msgs(filterPattern='"disk full"') == ["WARN disk full"]
    assert msgs(filterPattern="?INFO ?WARN") == ["INFO start", "WARN disk full"]
    assert msgs(filterPattern='{ $.level = "ERROR" && $.ms > 500 }') == \
        ['{"level": "ERROR", "ms": 900}']
    assert msgs(logStreamNamePrefix="web", filterPattern="ERROR") == ["ERROR boom", "ERROR timeout"]
    assert msgs(logStreamNames=["db", "web-2"]) == \
        ["WARN disk full", '{"level": "ERROR", "ms": 900}', "ERROR timeout"]
    assert msgs(startTime=t + 10, endTime=t + 20) == \
        ["WARN disk full", '{"level": "ERROR", "ms": 900}', "ERROR boom"]
    pages = list(logs.get_paginator("filter_log_events").paginate(
        logGroupName=group, PaginationConfig={"PageSize": 2}))
    assert [e["message"] for p in pages for e in p["events"]] == \
        [e["message"] for e in everything["events"]]
    assert len(pages) >= 3
    helpers.expect_error(logs.filter_log_events, "ResourceNotFoundException", 400,
                         "The specified log group does not exist.",
                         logGroupName=group + "-none")


def test_retention_policy(logs, group):
    err = helpers.expect_error(logs.put_retention_policy, "InvalidParameterException", 400,
                               logGroupName=group, retentionInDays=2)
    assert "Member must satisfy enum value set: [1, 3, 5, 7, 14, 30," in helpers.error_of(err)[1]
    logs.put_retention_policy(logGroupName=group, retentionInDays=7)
    g = logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"][0]
    assert g["retentionInDays"] == 7
    # Events older than the retention period are rejected as expired.
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    t = now_ms()
    resp = put(logs, group, "s", [(t - 8 * 86_400_000, "expired"), (t, "kept")])
    assert resp["rejectedLogEventsInfo"] == {"expiredLogEventEndIndex": 0}
    logs.delete_retention_policy(logGroupName=group)
    g = logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"][0]
    assert "retentionInDays" not in g
    helpers.expect_error(logs.put_retention_policy, "ResourceNotFoundException", 400,
                         "The specified log group does not exist.",
                         logGroupName=group + "-none", retentionInDays=1)


def test_tags(logs, group):
    arn = f"arn:aws:logs:{helpers.REGION}:{helpers.ACCOUNT}:log-group:{group}"
    logs.tag_resource(resourceArn=arn, tags={"a": "1", "b": "2"})
    assert logs.list_tags_for_resource(resourceArn=arn)["tags"] == {"a": "1", "b": "2"}
    logs.untag_resource(resourceArn=arn, tagKeys=["a"])
    assert logs.list_tags_for_resource(resourceArn=arn)["tags"] == {"b": "2"}
    logs.tag_log_group(logGroupName=group, tags={"c": "3"})
    assert logs.list_tags_log_group(logGroupName=group)["tags"] == {"b": "2", "c": "3"}
    helpers.expect_error(logs.list_tags_for_resource, "ResourceNotFoundException", 400,
                         resourceArn=arn + "-none")


def cli(endpoint, *args):
    out = helpers.aws_cli(endpoint, "logs", *args)
    assert out.returncode == 0, f"aws logs {' '.join(args)} failed:\n{out.stdout}\n{out.stderr}"
    return json.loads(out.stdout) if out.stdout.strip() else None


def test_cli_roundtrip(endpoint, uniq):
    group = "/nimbus/cli/" + uniq("g")
    cli(endpoint, "create-log-group", "--log-group-name", group)
    dup = helpers.aws_cli(endpoint, "logs", "create-log-group", "--log-group-name", group)
    assert dup.returncode != 0
    assert "ResourceAlreadyExistsException" in dup.stderr
    cli(endpoint, "create-log-stream", "--log-group-name", group, "--log-stream-name", "s")
    t = now_ms()
    put_out = cli(endpoint, "put-log-events", "--log-group-name", group, "--log-stream-name", "s",
                  "--log-events", f"timestamp={t},message=hello world",
                  f"timestamp={t + 1},message=ERROR bad thing")
    assert "nextSequenceToken" in put_out
    got = cli(endpoint, "get-log-events", "--log-group-name", group, "--log-stream-name", "s",
              "--start-from-head")
    assert [e["message"] for e in got["events"]] == ["hello world", "ERROR bad thing"]
    found = cli(endpoint, "filter-log-events", "--log-group-name", group,
                "--filter-pattern", "ERROR")
    assert [e["message"] for e in found["events"]] == ["ERROR bad thing"]
    desc = cli(endpoint, "describe-log-streams", "--log-group-name", group)
    assert desc["logStreams"][0]["logStreamName"] == "s"
    cli(endpoint, "put-retention-policy", "--log-group-name", group, "--retention-in-days", "14")
    groups = cli(endpoint, "describe-log-groups", "--log-group-name-prefix", group)
    assert groups["logGroups"][0]["retentionInDays"] == 14
    cli(endpoint, "delete-log-group", "--log-group-name", group)
    gone = helpers.aws_cli(endpoint, "logs", "delete-log-group", "--log-group-name", group)
    assert gone.returncode != 0 and "ResourceNotFoundException" in gone.stderr


def test_cli_follow_like_tail(endpoint, logs, group):
    """What `aws logs tail --follow` (CLI v2) does: FilterLogEvents from a start time,
    polled, keeping the event ids it has printed. Events written while polling show up
    exactly once."""
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    start = now_ms() - 1000
    put(logs, group, "s", [(start, "before follow")])
    stop = threading.Event()

    def writer():
        for i in range(5):
            if stop.is_set():
                return
            put(logs, group, "s", [(now_ms(), f"live {i}")])
            time.sleep(0.3)

    th = threading.Thread(target=writer)
    th.start()
    seen_ids: set[str] = set()
    printed: list[str] = []
    deadline = time.time() + 30
    try:
        while time.time() < deadline and len(printed) < 6:
            out = cli(endpoint, "filter-log-events", "--log-group-name", group,
                      "--start-time", str(start), "--interleaved")
            for e in out["events"]:
                if e["eventId"] not in seen_ids:
                    seen_ids.add(e["eventId"])
                    printed.append(e["message"])
                    start = max(start, e["timestamp"])
            time.sleep(0.2)
    finally:
        stop.set()
        th.join(timeout=10)
    assert printed == ["before follow"] + [f"live {i}" for i in range(5)]
