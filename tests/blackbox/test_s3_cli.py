"""S3 through the AWS CLI (v1) as a new user drives it: `aws s3 mb/cp/sync/ls/rm/rb`,
multipart by size (the CLI splits uploads at its 8 MB threshold and downloads large objects
with parallel ranged GETs), `s3api head-object`, and the default addressing of boto3 and the
CLI for an endpoint URL `http://localhost:PORT` (botocore picks path-style for a custom
endpoint, so no `*.localhost` name has to resolve)."""

from __future__ import annotations

import hashlib
import json
import os
import time
import re


import helpers

MiB = 1024 * 1024
# The CLI's default multipart_threshold and multipart_chunksize are both 8 MiB.
CLI_CHUNK = 8 * MiB
BIG = 20 * MiB  # 3 parts: 8 + 8 + 4 MiB


def cli(endpoint, *args, ok=True):
    if args[:2] in (("s3", "cp"), ("s3", "sync")):
        # Progress lines ("Completed 1 KiB/...") go to stdout even without a terminal.
        args = (*args, "--no-progress")
    out = helpers.aws_cli(endpoint, *args)
    if ok:
        assert out.returncode == 0, f"aws {' '.join(args)} failed:\n{out.stdout}\n{out.stderr}"
    return out


def bucket_name(uniq) -> str:
    return uniq("cli").lower().replace("_", "-")[:63]


def sha256_file(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(MiB), b""):
            h.update(block)
    return h.hexdigest()


def write_random(path, size: int) -> str:
    """Writes `size` random bytes (in 1 MiB blocks) and returns their sha256."""
    h = hashlib.sha256()
    with open(path, "wb") as f:
        left = size
        while left:
            block = os.urandom(min(MiB, left))
            h.update(block)
            f.write(block)
            left -= len(block)
    return h.hexdigest()


def ls_keys(stdout: str) -> list[str]:
    """The key column of `aws s3 ls` object lines (`date time size key`)."""
    keys = []
    for line in stdout.splitlines():
        m = re.match(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d +\d+ (.+)$", line)
        if m:
            keys.append(m.group(1))
    return keys


def ls_prefixes(stdout: str) -> list[str]:
    return [m.group(1) for m in re.finditer(r"^ +PRE (.+)$", stdout, re.M)]


def test_mb_cp_small_up_and_down(endpoint, uniq, tmp_path, s3):
    b = bucket_name(uniq)
    out = cli(endpoint, "s3", "mb", f"s3://{b}")
    assert out.stdout.strip() == f"make_bucket: {b}"
    s3.head_bucket(Bucket=b)

    src = tmp_path / "hello.txt"
    src.write_bytes(b"hello from the aws cli\n")
    out = cli(endpoint, "s3", "cp", str(src), f"s3://{b}/docs/hello.txt")
    # The CLI prints the local path relative to its working directory.
    assert re.fullmatch(rf"upload: \S*hello\.txt to s3://{b}/docs/hello\.txt\n", out.stdout)

    # The object is there with the bytes, the size and the plain MD5 ETag of a single PUT.
    got = s3.get_object(Bucket=b, Key="docs/hello.txt")
    assert got["Body"].read() == b"hello from the aws cli\n"
    assert got["ContentLength"] == len(b"hello from the aws cli\n")
    assert got["ETag"] == '"%s"' % hashlib.md5(b"hello from the aws cli\n").hexdigest()
    # The CLI guesses the Content-Type from the extension.
    assert got["ContentType"] == "text/plain"

    dst = tmp_path / "back.txt"
    out = cli(endpoint, "s3", "cp", f"s3://{b}/docs/hello.txt", str(dst))
    assert re.fullmatch(rf"download: s3://{b}/docs/hello\.txt to \S*back\.txt\n", out.stdout)
    assert dst.read_bytes() == b"hello from the aws cli\n"

    # Server-side copy, then stdout streaming (`-` as the destination).
    cli(endpoint, "s3", "cp", f"s3://{b}/docs/hello.txt", f"s3://{b}/copy.txt")
    out = cli(endpoint, "s3", "cp", f"s3://{b}/copy.txt", "-")
    assert out.stdout == "hello from the aws cli\n"


def test_cp_large_file_is_multipart_and_round_trips(endpoint, uniq, tmp_path, s3):
    b = bucket_name(uniq)
    cli(endpoint, "s3", "mb", f"s3://{b}")
    src = tmp_path / "big.bin"
    digest = write_random(src, BIG)

    cli(endpoint, "s3", "cp", str(src), f"s3://{b}/big.bin")
    head = json.loads(cli(endpoint, "s3api", "head-object", "--bucket", b,
                          "--key", "big.bin").stdout)
    assert head["ContentLength"] == BIG
    # A multipart ETag: MD5 of the parts' MD5s, a dash, the part count.
    parts = -(-BIG // CLI_CHUNK)
    md5s = b""
    with open(src, "rb") as f:
        for _ in range(parts):
            md5s += hashlib.md5(f.read(CLI_CHUNK)).digest()
    assert head["ETag"] == '"%s-%d"' % (hashlib.md5(md5s).hexdigest(), parts)

    # Download: the CLI fetches large objects with parallel ranged GETs.
    dst = tmp_path / "big.back"
    cli(endpoint, "s3", "cp", f"s3://{b}/big.bin", str(dst))
    assert os.path.getsize(dst) == BIG
    assert sha256_file(dst) == digest


def test_sync_up_and_down_second_sync_copies_nothing(endpoint, uniq, tmp_path):
    b = bucket_name(uniq)
    cli(endpoint, "s3", "mb", f"s3://{b}")
    local = tmp_path / "site"
    (local / "css").mkdir(parents=True)
    (local / "img" / "icons").mkdir(parents=True)
    files = {
        "index.html": b"<h1>hi</h1>",
        "css/site.css": b"body{}",
        "img/icons/a.svg": b"<svg/>",
        "img/icons/b.svg": b"<svg></svg>",
        "empty.txt": b"",
    }
    # S3 reports LastModified in whole seconds and the CLI re-uploads a local file that is
    # newer than its object: files written in the same second as the upload would race.
    # Real files are older than their upload; say so.
    past = time.time() - 60
    for rel, data in files.items():
        (local / rel).write_bytes(data)
        os.utime(local / rel, (past, past))

    out = cli(endpoint, "s3", "sync", str(local), f"s3://{b}/site")
    uploaded = sorted(re.findall(r"^upload: .* to s3://[^/]+/(.+)$", out.stdout, re.M))
    assert uploaded == sorted(f"site/{k}" for k in files)

    # Nothing changed: nothing to copy.
    out = cli(endpoint, "s3", "sync", str(local), f"s3://{b}/site")
    assert out.stdout.strip() == ""

    # A change in size is copied, and only that file.
    (local / "css" / "site.css").write_bytes(b"body{color:red}")
    os.utime(local / "css" / "site.css", (past, past))
    out = cli(endpoint, "s3", "sync", str(local), f"s3://{b}/site")
    assert re.findall(r"^upload: .* to s3://[^/]+/(.+)$", out.stdout, re.M) == ["site/css/site.css"]

    # Down into an empty directory, then again: nothing.
    down = tmp_path / "down"
    out = cli(endpoint, "s3", "sync", f"s3://{b}/site", str(down))
    downloaded = sorted(re.findall(r"^download: s3://[^/]+/site/(\S+) to ", out.stdout, re.M))
    assert downloaded == sorted(files)
    for rel, data in files.items():
        want = b"body{color:red}" if rel == "css/site.css" else data
        assert (down / rel).read_bytes() == want, rel
    out = cli(endpoint, "s3", "sync", f"s3://{b}/site", str(down))
    assert out.stdout.strip() == ""

    # --delete removes remote objects that are gone locally.
    os.remove(local / "img" / "icons" / "b.svg")
    out = cli(endpoint, "s3", "sync", str(local), f"s3://{b}/site", "--delete")
    assert re.findall(r"^delete: s3://[^/]+/(.+)$", out.stdout, re.M) == ["site/img/icons/b.svg"]


def test_ls_buckets_prefixes_and_recursive(endpoint, uniq, tmp_path):
    b = bucket_name(uniq)
    cli(endpoint, "s3", "mb", f"s3://{b}")
    f = tmp_path / "f"
    f.write_bytes(b"12345")
    for key in ("top.txt", "a/one.txt", "a/two.txt", "a/deep/three.txt", "b/four.txt"):
        cli(endpoint, "s3", "cp", str(f), f"s3://{b}/{key}")

    out = cli(endpoint, "s3", "ls")
    assert re.search(rf"^\d{{4}}-\d\d-\d\d \d\d:\d\d:\d\d {re.escape(b)}$", out.stdout, re.M), out.stdout

    out = cli(endpoint, "s3", "ls", f"s3://{b}")
    assert ls_prefixes(out.stdout) == ["a/", "b/"]
    assert ls_keys(out.stdout) == ["top.txt"]
    assert re.search(r" 5 top\.txt$", out.stdout, re.M)

    out = cli(endpoint, "s3", "ls", f"s3://{b}/a/")
    assert ls_prefixes(out.stdout) == ["deep/"]
    assert ls_keys(out.stdout) == ["one.txt", "two.txt"]

    out = cli(endpoint, "s3", "ls", f"s3://{b}", "--recursive")
    assert ls_keys(out.stdout) == ["a/deep/three.txt", "a/one.txt", "a/two.txt", "b/four.txt",
                                   "top.txt"]
    out = cli(endpoint, "s3", "ls", f"s3://{b}", "--recursive", "--summarize")
    assert "Total Objects: 5" in out.stdout
    assert "Total Size: 25" in out.stdout

    # A prefix that matches nothing: the CLI exits 1 with no output.
    out = cli(endpoint, "s3", "ls", f"s3://{b}/nothing-here/", ok=False)
    assert out.returncode == 1
    assert out.stdout.strip() == ""


def test_rm_single_and_recursive(endpoint, uniq, tmp_path, s3):
    b = bucket_name(uniq)
    cli(endpoint, "s3", "mb", f"s3://{b}")
    f = tmp_path / "f"
    f.write_bytes(b"x")
    keys = ["keep.txt", "logs/1.log", "logs/2.log", "logs/old/3.log"]
    for key in keys:
        cli(endpoint, "s3", "cp", str(f), f"s3://{b}/{key}")

    out = cli(endpoint, "s3", "rm", f"s3://{b}/logs/1.log")
    assert out.stdout.strip() == f"delete: s3://{b}/logs/1.log"
    helpers.expect_error(s3.head_object, "404", 404, Bucket=b, Key="logs/1.log")

    out = cli(endpoint, "s3", "rm", f"s3://{b}/logs/", "--recursive")
    assert sorted(re.findall(r"^delete: s3://[^/]+/(.+)$", out.stdout, re.M)) == [
        "logs/2.log", "logs/old/3.log"]
    listed = s3.list_objects_v2(Bucket=b)
    assert [o["Key"] for o in listed.get("Contents", [])] == ["keep.txt"]


def test_rb_refuses_non_empty_bucket_and_force_empties_it(endpoint, uniq, tmp_path, s3):
    b = bucket_name(uniq)
    cli(endpoint, "s3", "mb", f"s3://{b}")
    f = tmp_path / "f"
    f.write_bytes(b"x")
    for i in range(3):
        cli(endpoint, "s3", "cp", str(f), f"s3://{b}/k{i}")

    out = cli(endpoint, "s3", "rb", f"s3://{b}", ok=False)
    assert out.returncode != 0
    assert "BucketNotEmpty" in out.stderr
    assert "The bucket you tried to delete is not empty" in out.stderr
    s3.head_bucket(Bucket=b)

    out = cli(endpoint, "s3", "rb", f"s3://{b}", "--force")
    assert f"remove_bucket: {b}" in out.stdout
    helpers.expect_error(s3.head_bucket, "404", 404, Bucket=b)

    # An empty bucket goes without --force.
    b2 = bucket_name(uniq)
    cli(endpoint, "s3", "mb", f"s3://{b2}")
    out = cli(endpoint, "s3", "rb", f"s3://{b2}")
    assert out.stdout.strip() == f"remove_bucket: {b2}"


def test_mb_existing_bucket_in_us_east_1(endpoint, uniq, tmp_path, s3):
    b = bucket_name(uniq)
    cli(endpoint, "s3", "mb", f"s3://{b}")
    f = tmp_path / "f"
    f.write_bytes(b"kept")
    cli(endpoint, "s3", "cp", str(f), f"s3://{b}/f")
    # us-east-1 keeps S3's legacy answer for re-creating a bucket you own: 200 OK (every
    # other region answers BucketAlreadyOwnedByYou). The contents are untouched.
    out = cli(endpoint, "s3", "mb", f"s3://{b}")
    assert out.stdout.strip() == f"make_bucket: {b}"
    assert s3.get_object(Bucket=b, Key="f")["Body"].read() == b"kept"


def test_s3api_head_object_shape(endpoint, uniq, tmp_path):
    b = bucket_name(uniq)
    cli(endpoint, "s3", "mb", f"s3://{b}")
    f = tmp_path / "data.json"
    f.write_bytes(b'{"a": 1}')
    cli(endpoint, "s3api", "put-object", "--bucket", b, "--key", "data.json", "--body", str(f),
        "--content-type", "application/json", "--metadata", "owner=me,purpose=test")
    head = json.loads(cli(endpoint, "s3api", "head-object", "--bucket", b,
                          "--key", "data.json").stdout)
    assert head["ContentLength"] == 8
    assert head["ContentType"] == "application/json"
    assert head["ETag"] == '"%s"' % hashlib.md5(b'{"a": 1}').hexdigest()
    assert head["Metadata"] == {"owner": "me", "purpose": "test"}
    assert "LastModified" in head
    assert head.get("AcceptRanges") == "bytes"

    out = cli(endpoint, "s3api", "head-object", "--bucket", b, "--key", "missing", ok=False)
    assert out.returncode != 0
    # HEAD has no body: the CLI can only report the status.
    assert "(404)" in out.stderr and "Not Found" in out.stderr


def localhost(endpoint: str) -> str:
    return endpoint.replace("127.0.0.1", "localhost")


def test_boto3_default_addressing_with_localhost_endpoint(endpoint, uniq):
    """A new user sets endpoint_url=http://localhost:PORT and changes nothing else."""
    url = localhost(endpoint)
    assert "localhost" in url
    s3 = helpers.client("s3", url)
    sent = []
    s3.meta.events.register("before-send.s3", lambda request, **_: sent.append(request.url))
    b = bucket_name(uniq)
    s3.create_bucket(Bucket=b)
    s3.put_object(Bucket=b, Key="dir/a b+c.txt", Body=b"payload")
    assert s3.get_object(Bucket=b, Key="dir/a b+c.txt")["Body"].read() == b"payload"
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=b)["Contents"]]
    assert keys == ["dir/a b+c.txt"]
    # botocore chose path-style: the bucket is in the path, the host stays `localhost`.
    assert sent and all(u.startswith(f"{url}/{b}") for u in sent), sent


def test_cli_default_addressing_with_localhost_endpoint(endpoint, uniq, tmp_path):
    url = localhost(endpoint)
    b = bucket_name(uniq)
    out = helpers.aws_cli(url, "s3", "mb", f"s3://{b}", "--debug")
    assert out.returncode == 0, out.stderr[-4000:]
    # The CLI's debug log shows the URL it sent: path-style on localhost.
    assert f"{url}/{b}" in out.stderr
    f = tmp_path / "x.txt"
    f.write_bytes(b"via localhost")
    assert helpers.aws_cli(url, "s3", "cp", str(f), f"s3://{b}/x.txt").returncode == 0
    out = helpers.aws_cli(url, "s3", "cp", f"s3://{b}/x.txt", "-")
    assert out.returncode == 0 and out.stdout == "via localhost"
    out = helpers.aws_cli(url, "s3", "ls", f"s3://{b}")
    assert ls_keys(out.stdout) == ["x.txt"]
