"""S3 listings through boto3: ListObjects (v1), ListObjectsV2 and ListObjectVersions with
prefixes, delimiters, common prefixes, pagination (markers and continuation tokens),
start-after, fetch-owner, encoding-type=url (boto3 asks for it on every listing and
decodes it), versions and delete markers. Error codes and messages are S3's."""

import helpers
from helpers import expect_error


def put_keys(s3, bucket, keys):
    for k in keys:
        s3.put_object(Bucket=bucket, Key=k, Body=k.encode())


KEYS = ["a/1", "a/2", "b", "c/x/y", "c/z", "d"]


def test_v2_prefix_delimiter_and_common_prefixes(s3, bucket):
    put_keys(s3, bucket, KEYS)
    r = s3.list_objects_v2(Bucket=bucket, Delimiter="/")
    assert [o["Key"] for o in r["Contents"]] == ["b", "d"]
    assert [p["Prefix"] for p in r["CommonPrefixes"]] == ["a/", "c/"]
    assert r["KeyCount"] == 4
    assert r["IsTruncated"] is False
    assert r["MaxKeys"] == 1000
    assert "Owner" not in r["Contents"][0]
    obj = r["Contents"][0]
    assert obj["Size"] == 1
    assert obj["StorageClass"] == "STANDARD"
    assert obj["ETag"].startswith('"') and obj["ETag"].endswith('"')

    r = s3.list_objects_v2(Bucket=bucket, Prefix="c/", Delimiter="/")
    assert [o["Key"] for o in r["Contents"]] == ["c/z"]
    assert [p["Prefix"] for p in r["CommonPrefixes"]] == ["c/x/"]
    assert r["Prefix"] == "c/"

    r = s3.list_objects_v2(Bucket=bucket, Prefix="a/")
    assert [o["Key"] for o in r["Contents"]] == ["a/1", "a/2"]
    r = s3.list_objects_v2(Bucket=bucket, Prefix="nothing")
    assert r["KeyCount"] == 0 and "Contents" not in r

    r = s3.list_objects_v2(Bucket=bucket, StartAfter="b")
    assert [o["Key"] for o in r["Contents"]] == ["c/x/y", "c/z", "d"]
    assert r["StartAfter"] == "b"

    r = s3.list_objects_v2(Bucket=bucket, FetchOwner=True, MaxKeys=1)
    assert r["Contents"][0]["Owner"]["ID"]
    assert r["IsTruncated"] is True


def test_v2_pagination_with_tokens_and_paginator(s3, bucket):
    keys = [f"k{i:03d}" for i in range(25)] + ["p/1", "p/2", "q/1"]
    put_keys(s3, bucket, keys)
    pages = list(s3.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Delimiter="/", PaginationConfig={"PageSize": 7}))
    got = [o["Key"] for p in pages for o in p.get("Contents", [])]
    prefixes = [c["Prefix"] for p in pages for c in p.get("CommonPrefixes", [])]
    assert got == [f"k{i:03d}" for i in range(25)]
    assert prefixes == ["p/", "q/"]
    assert len(pages) == 4
    assert all(p["KeyCount"] <= 7 for p in pages)
    assert pages[0]["NextContinuationToken"]
    assert pages[1]["ContinuationToken"] == pages[0]["NextContinuationToken"]
    assert "NextContinuationToken" not in pages[-1]
    expect_error(s3.list_objects_v2, "InvalidArgument", 400,
                 "The continuation token provided is incorrect",
                 Bucket=bucket, ContinuationToken="!!not-a-token")


def test_v1_markers(s3, bucket):
    put_keys(s3, bucket, KEYS)
    r = s3.list_objects(Bucket=bucket, MaxKeys=2)
    assert [o["Key"] for o in r["Contents"]] == ["a/1", "a/2"]
    assert r["IsTruncated"] is True
    assert "NextMarker" not in r  # only with a delimiter
    assert r["Contents"][0]["Owner"]["ID"]  # v1 always shows owners
    r = s3.list_objects(Bucket=bucket, Marker="a/2")
    assert [o["Key"] for o in r["Contents"]] == ["b", "c/x/y", "c/z", "d"]
    assert r["Marker"] == "a/2"
    r = s3.list_objects(Bucket=bucket, Delimiter="/", MaxKeys=2)
    assert r["NextMarker"] == "b"
    r = s3.list_objects(Bucket=bucket, Delimiter="/", MaxKeys=2, Marker=r["NextMarker"])
    assert [p["Prefix"] for p in r["CommonPrefixes"]] == ["c/"]
    assert [o["Key"] for o in r["Contents"]] == ["d"]
    assert r["IsTruncated"] is False
    pages = list(s3.get_paginator("list_objects").paginate(
        Bucket=bucket, PaginationConfig={"PageSize": 4}))
    assert [o["Key"] for p in pages for o in p["Contents"]] == KEYS


def test_url_encoding_round_trips_odd_keys(s3, bucket):
    odd = ["a b+c(1).txt", "dir one/é ü.bin", "x%2Fy", "q?&=#", "tab\there", "~tilde*star"]
    put_keys(s3, bucket, odd)
    r = s3.list_objects_v2(Bucket=bucket)  # botocore sends encoding-type=url and decodes
    assert sorted(o["Key"] for o in r["Contents"]) == sorted(odd)
    r = s3.list_objects_v2(Bucket=bucket, Delimiter=" ")
    assert sorted(p["Prefix"] for p in r["CommonPrefixes"]) == ["a ", "dir "]
    r = s3.list_objects(Bucket=bucket, Prefix="dir one/")
    assert [o["Key"] for o in r["Contents"]] == ["dir one/é ü.bin"]
    versions = s3.list_object_versions(Bucket=bucket)["Versions"]
    assert sorted(v["Key"] for v in versions) == sorted(odd)


def test_raw_encoding_type_url_response(endpoint, s3, bucket):
    s3.put_object(Bucket=bucket, Key="a b/é(1)", Body=b"x")

    def get(query):
        r = helpers.raw_request("GET", f"{endpoint}/{bucket}?{query}", service="s3",
                                headers={"x-amz-content-sha256": "UNSIGNED-PAYLOAD"})
        return r.status, r.body.decode()

    status, text = get("list-type=2&encoding-type=url&delimiter=%2F")
    assert status == 200, text
    assert "<Prefix>a+b/</Prefix>" in text
    assert "<EncodingType>url</EncodingType>" in text
    status, text = get("list-type=2&encoding-type=url")
    assert "<Key>a+b/%C3%A9%281%29</Key>" in text
    status, text = get("list-type=2")
    assert "<Key>a b/é(1)</Key>" in text
    status, text = get("list-type=2&encoding-type=bogus")
    assert status == 400
    assert "Invalid Encoding Method specified in Request" in text


def test_errors(s3, bucket):
    expect_error(s3.list_objects_v2, "NoSuchBucket", 404, "The specified bucket does not exist",
                 Bucket=bucket + "-nope")
    expect_error(s3.list_objects, "NoSuchBucket", 404, Bucket=bucket + "-nope")
    expect_error(s3.list_object_versions, "NoSuchBucket", 404, Bucket=bucket + "-nope")
    expect_error(s3.list_objects_v2, "InvalidArgument", 400,
                 "Argument maxKeys must be an integer between 0 and 2147483647",
                 Bucket=bucket, MaxKeys=-1)
    expect_error(s3.list_object_versions, "InvalidArgument", 400,
                 "A version-id marker cannot be specified without a key marker.",
                 Bucket=bucket, VersionIdMarker="abc")


def test_versions_and_delete_markers(s3, bucket):
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    a1 = s3.put_object(Bucket=bucket, Key="a", Body=b"1")["VersionId"]
    a2 = s3.put_object(Bucket=bucket, Key="a", Body=b"22")["VersionId"]
    b1 = s3.put_object(Bucket=bucket, Key="b", Body=b"3")["VersionId"]
    bm = s3.delete_object(Bucket=bucket, Key="b")["VersionId"]
    s3.put_object(Bucket=bucket, Key="dir/c", Body=b"4")

    # Current listings hide b (its newest version is a delete marker).
    r = s3.list_objects_v2(Bucket=bucket, Delimiter="/")
    assert [o["Key"] for o in r["Contents"]] == ["a"]
    assert [p["Prefix"] for p in r["CommonPrefixes"]] == ["dir/"]

    r = s3.list_object_versions(Bucket=bucket)
    versions = [(v["Key"], v["VersionId"], v["IsLatest"]) for v in r["Versions"]]
    assert versions[:3] == [("a", a2, True), ("a", a1, False), ("b", b1, False)]
    assert r["Versions"][0]["Size"] == 2
    assert [(m["Key"], m["VersionId"], m["IsLatest"]) for m in r["DeleteMarkers"]] == [
        ("b", bm, True)]
    assert r["DeleteMarkers"][0]["Owner"]["ID"]

    r = s3.list_object_versions(Bucket=bucket, Delimiter="/")
    assert [p["Prefix"] for p in r["CommonPrefixes"]] == ["dir/"]
    assert all(v["Key"] != "dir/c" for v in r["Versions"])

    # One entry per page, resumed with key and version-id markers.
    walked = []
    kwargs = {}
    for _ in range(20):
        r = s3.list_object_versions(Bucket=bucket, MaxKeys=1, **kwargs)
        walked += [v["VersionId"] for v in r.get("Versions", [])]
        walked += [m["VersionId"] for m in r.get("DeleteMarkers", [])]
        if not r["IsTruncated"]:
            break
        kwargs = {"KeyMarker": r["NextKeyMarker"], "VersionIdMarker": r["NextVersionIdMarker"]}
    assert walked[:4] == [a2, a1, bm, b1]
    assert len(walked) == 5

    r = s3.list_object_versions(Bucket=bucket, KeyMarker="a")
    assert [v["Key"] for v in r["Versions"]] == ["b", "dir/c"]


def test_unversioned_bucket_versions_are_null(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    r = s3.list_object_versions(Bucket=bucket)
    assert [(v["Key"], v["VersionId"], v["IsLatest"]) for v in r["Versions"]] == [("k", "null", True)]


def test_cli_ls_recursive(endpoint, s3, bucket):
    put_keys(s3, bucket, KEYS)
    out = helpers.aws_cli(endpoint, "s3", "ls", f"s3://{bucket}/").stdout
    assert "PRE a/" in out and "PRE c/" in out
    out = helpers.aws_cli(endpoint, "s3", "ls", "--recursive", f"s3://{bucket}/").stdout
    for k in KEYS:
        assert k in out
