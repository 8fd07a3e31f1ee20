"""S3 objects through boto3: PutObject/GetObject/HeadObject/DeleteObject(s)/CopyObject,
ranges, conditions, metadata, checksums, versions and delete markers, POST uploads.
Error codes, statuses and messages are S3's."""

import base64
import datetime
import hashlib
import zlib

import botocore.exceptions
import pytest
import requests

import helpers
from helpers import expect_error, status_of


def body_of(resp) -> bytes:
    return resp["Body"].read()


def md5_etag(data: bytes) -> str:
    return '"' + hashlib.md5(data).hexdigest() + '"'


def pattern(n: int, seed: int = 0) -> bytes:
    return bytes((i * 31 + seed) % 251 for i in range(n))


# --------------------------------------------------------------------------- put / get


def test_put_get_small_and_large(s3, bucket):
    small = b"hello world"
    r = s3.put_object(Bucket=bucket, Key="small.txt", Body=small)
    assert r["ETag"] == md5_etag(small)
    assert "VersionId" not in r
    assert r["ServerSideEncryption"] == "AES256"
    big = pattern(3 * 1024 * 1024 + 17)
    r = s3.put_object(Bucket=bucket, Key="dir/big.bin", Body=big)
    assert r["ETag"] == md5_etag(big)

    got = s3.get_object(Bucket=bucket, Key="small.txt")
    assert body_of(got) == small
    assert got["ContentLength"] == len(small)
    assert got["ETag"] == md5_etag(small)
    assert got["AcceptRanges"] == "bytes"
    assert got["ContentType"] == "binary/octet-stream"
    assert isinstance(got["LastModified"], datetime.datetime)
    got = s3.get_object(Bucket=bucket, Key="dir/big.bin")
    assert got["ContentLength"] == len(big)
    assert body_of(got) == big


def test_empty_object_and_overwrite(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"")
    got = s3.get_object(Bucket=bucket, Key="k")
    assert body_of(got) == b""
    assert got["ETag"] == '"d41d8cd98f00b204e9800998ecf8427e"'
    s3.put_object(Bucket=bucket, Key="k", Body=b"second")
    assert body_of(s3.get_object(Bucket=bucket, Key="k")) == b"second"


def test_missing_key_and_bucket(s3, bucket):
    e = expect_error(s3.get_object, "NoSuchKey", 404, "The specified key does not exist.",
                     Bucket=bucket, Key="nope")
    assert e.response["Error"].get("Key", "nope") == "nope"
    expect_error(s3.get_object, "NoSuchBucket", 404, Bucket=bucket + "-missing", Key="x")
    expect_error(s3.put_object, "NoSuchBucket", 404, Bucket=bucket + "-missing", Key="x",
                 Body=b"x")
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        s3.head_object(Bucket=bucket, Key="nope")
    assert status_of(ei.value) == 404


def test_system_and_user_metadata(s3, bucket):
    s3.put_object(
        Bucket=bucket, Key="m", Body=b"x",
        ContentType="text/plain; charset=utf-8",
        ContentEncoding="identity",
        ContentLanguage="en",
        ContentDisposition='attachment; filename="m.txt"',
        CacheControl="max-age=60",
        Expires=datetime.datetime(2030, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc),
        WebsiteRedirectLocation="/other",
        Metadata={"Color": "blue", "n": "1"},
        StorageClass="STANDARD_IA",
        Tagging="a=1&b=two%20words",
    )
    h = s3.head_object(Bucket=bucket, Key="m")
    assert h["ContentType"] == "text/plain; charset=utf-8"
    assert h["ContentEncoding"] == "identity"
    assert h["ContentLanguage"] == "en"
    assert h["ContentDisposition"] == 'attachment; filename="m.txt"'
    assert h["CacheControl"] == "max-age=60"
    assert h["Expires"] == datetime.datetime(2030, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)
    assert h["WebsiteRedirectLocation"] == "/other"
    assert h["Metadata"] == {"color": "blue", "n": "1"}
    assert h["StorageClass"] == "STANDARD_IA"
    assert h["ContentLength"] == 1
    g = s3.get_object(Bucket=bucket, Key="m")
    assert g["TagCount"] == 2
    # STANDARD is not reported.
    s3.put_object(Bucket=bucket, Key="std", Body=b"x")
    assert "StorageClass" not in s3.head_object(Bucket=bucket, Key="std")


def test_user_metadata_limit_is_2kb(s3, bucket):
    s3.put_object(Bucket=bucket, Key="ok", Body=b"x", Metadata={"k": "v" * 2000})
    expect_error(s3.put_object, "MetadataTooLarge", 400,
                 "Your metadata headers exceed the maximum allowed metadata size.",
                 Bucket=bucket, Key="big", Body=b"x", Metadata={"k": "v" * 2048})
    expect_error(s3.head_object, "404", 404, Bucket=bucket, Key="big")


def test_response_overrides(s3, bucket):
    s3.put_object(Bucket=bucket, Key="o", Body=b"x", ContentType="text/plain")
    g = s3.get_object(Bucket=bucket, Key="o", ResponseContentType="application/json",
                      ResponseContentDisposition="inline", ResponseCacheControl="no-cache",
                      ResponseContentLanguage="de", ResponseContentEncoding="gzip")
    assert g["ContentType"] == "application/json"
    assert g["ContentDisposition"] == "inline"
    assert g["CacheControl"] == "no-cache"
    assert g["ContentLanguage"] == "de"
    assert g["ContentEncoding"] == "gzip"


# --------------------------------------------------------------------------- ranges


def test_ranges(s3, bucket):
    data = pattern(100_000)
    s3.put_object(Bucket=bucket, Key="r", Body=data)
    g = s3.get_object(Bucket=bucket, Key="r", Range="bytes=10-19")
    assert g["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert g["ContentRange"] == "bytes 10-19/100000"
    assert g["ContentLength"] == 10
    assert body_of(g) == data[10:20]
    g = s3.get_object(Bucket=bucket, Key="r", Range="bytes=-100")
    assert body_of(g) == data[-100:]
    assert g["ContentRange"] == "bytes 99900-99999/100000"
    g = s3.get_object(Bucket=bucket, Key="r", Range="bytes=99990-")
    assert body_of(g) == data[99990:]
    # A last byte past the end is clamped.
    g = s3.get_object(Bucket=bucket, Key="r", Range="bytes=99998-200000")
    assert body_of(g) == data[99998:]
    expect_error(s3.get_object, "InvalidRange", 416, "The requested range is not satisfiable",
                 Bucket=bucket, Key="r", Range="bytes=100000-")
    # Ranges across a small (inline) body too.
    s3.put_object(Bucket=bucket, Key="s", Body=b"0123456789")
    assert body_of(s3.get_object(Bucket=bucket, Key="s", Range="bytes=3-5")) == b"345"


def test_part_number_on_a_simple_object(s3, bucket):
    s3.put_object(Bucket=bucket, Key="p", Body=b"abc")
    g = s3.get_object(Bucket=bucket, Key="p", PartNumber=1)
    assert body_of(g) == b"abc"
    expect_error(s3.get_object, "InvalidPartNumber", 416, Bucket=bucket, Key="p", PartNumber=2)


def test_part_number_on_a_multipart_object(s3, bucket):
    up = s3.create_multipart_upload(Bucket=bucket, Key="mp")
    p1, p2 = pattern(5 * 1024 * 1024, 1), pattern(1000, 2)
    e1 = s3.upload_part(Bucket=bucket, Key="mp", UploadId=up["UploadId"], PartNumber=1,
                        Body=p1)["ETag"]
    e2 = s3.upload_part(Bucket=bucket, Key="mp", UploadId=up["UploadId"], PartNumber=2,
                        Body=p2)["ETag"]
    s3.complete_multipart_upload(
        Bucket=bucket, Key="mp", UploadId=up["UploadId"],
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}]})
    g = s3.get_object(Bucket=bucket, Key="mp", PartNumber=2)
    assert body_of(g) == p2
    assert g["PartsCount"] == 2
    assert g["ContentRange"] == f"bytes {len(p1)}-{len(p1) + len(p2) - 1}/{len(p1) + len(p2)}"
    h = s3.head_object(Bucket=bucket, Key="mp", PartNumber=1)
    assert h["ContentLength"] == len(p1)
    assert h["PartsCount"] == 2
    assert body_of(s3.get_object(Bucket=bucket, Key="mp", Range="bytes=5242870-5242889")) == \
        (p1 + p2)[5242870:5242890]


# --------------------------------------------------------------------------- conditions


def test_conditional_reads(s3, bucket):
    r = s3.put_object(Bucket=bucket, Key="c", Body=b"data")
    etag = r["ETag"]
    past = datetime.datetime(2000, 1, 1, tzinfo=datetime.timezone.utc)
    future = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=1)
    assert body_of(s3.get_object(Bucket=bucket, Key="c", IfMatch=etag)) == b"data"
    expect_error(s3.get_object, "PreconditionFailed", 412,
                 "At least one of the pre-conditions you specified did not hold",
                 Bucket=bucket, Key="c", IfMatch='"0000"')
    expect_error(s3.get_object, "304", 304, Bucket=bucket, Key="c", IfNoneMatch=etag)
    assert body_of(s3.get_object(Bucket=bucket, Key="c", IfNoneMatch='"0000"')) == b"data"
    expect_error(s3.get_object, "PreconditionFailed", 412, Bucket=bucket, Key="c",
                 IfUnmodifiedSince=past)
    expect_error(s3.get_object, "304", 304, Bucket=bucket, Key="c",
                 IfModifiedSince=datetime.datetime.now(datetime.timezone.utc))
    assert body_of(s3.get_object(Bucket=bucket, Key="c", IfModifiedSince=past)) == b"data"
    # If-Match true wins over If-Unmodified-Since false.
    assert body_of(s3.get_object(Bucket=bucket, Key="c", IfMatch=etag,
                                 IfUnmodifiedSince=past)) == b"data"
    # If-None-Match false wins (304) even though If-Modified-Since is true.
    expect_error(s3.get_object, "304", 304, Bucket=bucket, Key="c", IfNoneMatch=etag,
                 IfModifiedSince=past)
    # HEAD: the same rules.
    expect_error(s3.head_object, "412", 412, Bucket=bucket, Key="c", IfMatch='"0000"')
    expect_error(s3.head_object, "304", 304, Bucket=bucket, Key="c", IfNoneMatch=etag)
    assert s3.head_object(Bucket=bucket, Key="c", IfUnmodifiedSince=future)["ETag"] == etag


def test_conditional_writes(s3, bucket):
    s3.put_object(Bucket=bucket, Key="w", Body=b"1", IfNoneMatch="*")
    expect_error(s3.put_object, "PreconditionFailed", 412, Bucket=bucket, Key="w", Body=b"2",
                 IfNoneMatch="*")
    assert body_of(s3.get_object(Bucket=bucket, Key="w")) == b"1"
    etag = s3.head_object(Bucket=bucket, Key="w")["ETag"]
    expect_error(s3.put_object, "PreconditionFailed", 412, Bucket=bucket, Key="w", Body=b"3",
                 IfMatch='"ffff"')
    s3.put_object(Bucket=bucket, Key="w", Body=b"4", IfMatch=etag)
    assert body_of(s3.get_object(Bucket=bucket, Key="w")) == b"4"
    expect_error(s3.put_object, "NoSuchKey", 404, Bucket=bucket, Key="absent", Body=b"x",
                 IfMatch=etag)


# --------------------------------------------------------------------------- integrity


def test_content_md5(s3, bucket):
    data = b"checked"
    good = base64.b64encode(hashlib.md5(data).digest()).decode()
    s3.put_object(Bucket=bucket, Key="md5", Body=data, ContentMD5=good)
    bad = base64.b64encode(hashlib.md5(b"other").digest()).decode()
    expect_error(s3.put_object, "BadDigest", 400,
                 "The Content-MD5 you specified did not match what we received.",
                 Bucket=bucket, Key="md5bad", Body=data, ContentMD5=bad)
    expect_error(s3.put_object, "InvalidDigest", 400,
                 "The Content-MD5 you specified was invalid.",
                 Bucket=bucket, Key="md5bad", Body=data, ContentMD5="notbase64!")
    expect_error(s3.head_object, "404", 404, Bucket=bucket, Key="md5bad")


def _crc_table(poly: int, width: int) -> list[int]:
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ poly if c & 1 else c >> 1
        table.append(c & ((1 << width) - 1))
    return table


_CRC32C = _crc_table(0x82F63B78, 32)
_CRC64NVME = _crc_table(0x9A6C9329AC4BC9B5, 64)


def _crc(data: bytes, table: list[int], width: int) -> bytes:
    mask = (1 << width) - 1
    c = mask
    for b in data:
        c = table[(c ^ b) & 0xFF] ^ (c >> 8)
    return (c ^ mask).to_bytes(width // 8, "big")


def crc32c(data: bytes) -> bytes:
    return _crc(data, _CRC32C, 32)


def crc64nvme(data: bytes) -> bytes:
    return _crc(data, _CRC64NVME, 64)


def test_crc_helpers_match_the_published_check_values():
    assert crc32c(b"123456789").hex() == "e3069283"
    assert crc64nvme(b"123456789").hex() == "ae8b14860a799888"


def b64(b: bytes) -> str:
    return base64.b64encode(b).decode()


@pytest.mark.parametrize("alg", ["CRC32", "SHA1", "SHA256"])
def test_checksum_algorithms_roundtrip(s3, bucket, alg):
    # botocore computes these without awscrt (sent as an aws-chunked trailer).
    data = pattern(200_000, 3)
    r = s3.put_object(Bucket=bucket, Key="ck", Body=data, ChecksumAlgorithm=alg)
    field = "Checksum" + alg
    want = {
        "CRC32": b64((zlib.crc32(data) & 0xFFFFFFFF).to_bytes(4, "big")),
        "SHA1": b64(hashlib.sha1(data).digest()),
        "SHA256": b64(hashlib.sha256(data).digest()),
    }[alg]
    assert r[field] == want
    h = s3.head_object(Bucket=bucket, Key="ck", ChecksumMode="ENABLED")
    assert h[field] == want
    g = s3.get_object(Bucket=bucket, Key="ck", ChecksumMode="ENABLED")
    assert g[field] == want
    assert body_of(g) == data
    # Without checksum mode, no checksum header.
    assert field not in s3.head_object(Bucket=bucket, Key="ck")


@pytest.mark.parametrize("alg,fn", [("crc32c", crc32c), ("crc64nvme", crc64nvme)])
def test_crc32c_and_crc64nvme_headers(endpoint, s3, bucket, alg, fn):
    # Sent as plain headers (this botocore needs awscrt to compute them itself).
    data = pattern(70_000, 4)
    url = f"{endpoint}/{bucket}/crc"

    def put(headers):
        h = {"x-amz-content-sha256": hashlib.sha256(data).hexdigest()}
        h.update(headers)
        return helpers.raw_request("PUT", url, data, h, service="s3")

    r = put({f"x-amz-checksum-{alg}": b64(fn(data))})
    assert r.status == 200, r.body
    assert r.headers.get(f"x-amz-checksum-{alg}") == b64(fn(data))
    r = put({f"x-amz-checksum-{alg}": b64(fn(b"other"))})
    assert r.status == 400
    assert b"<Code>BadDigest</Code>" in r.body
    assert f"The {alg.upper()} you specified did not match the calculated checksum.".encode() in r.body
    # Only the algorithm: the server computes it.
    r = put({"x-amz-sdk-checksum-algorithm": alg.upper()})
    assert r.status == 200, r.body
    h = helpers.raw_request("HEAD", url, b"", {"x-amz-checksum-mode": "ENABLED",
                                                "x-amz-content-sha256": hashlib.sha256(b"").hexdigest()},
                            service="s3")
    assert h.status == 200
    assert h.headers.get(f"x-amz-checksum-{alg}") == b64(fn(data))
    assert body_of(s3.get_object(Bucket=bucket, Key="crc")) == data


def test_wrong_checksum_value_is_bad_digest(s3, bucket):
    wrong = base64.b64encode(hashlib.sha256(b"other").digest()).decode()
    expect_error(s3.put_object, "BadDigest", 400,
                 "The SHA256 you specified did not match the calculated checksum.",
                 Bucket=bucket, Key="bad", Body=b"payload", ChecksumSHA256=wrong)
    expect_error(s3.head_object, "404", 404, Bucket=bucket, Key="bad")


def test_default_sdk_checksums_are_stored(s3, bucket):
    # Current SDKs send a CRC32 trailer by default: it must be verified and kept.
    data = pattern(100_000, 5)
    s3.put_object(Bucket=bucket, Key="dflt", Body=data)
    # botocore >= 1.36 sends a CRC32 trailer on every PutObject unless told otherwise.
    h = s3.head_object(Bucket=bucket, Key="dflt", ChecksumMode="ENABLED")
    assert h["ChecksumCRC32"] == base64.b64encode(
        (zlib.crc32(data) & 0xFFFFFFFF).to_bytes(4, "big")).decode()
    assert h["ChecksumType"] == "FULL_OBJECT"
    assert body_of(s3.get_object(Bucket=bucket, Key="dflt")) == data


# --------------------------------------------------------------------------- delete


def test_delete_object_unversioned(s3, bucket):
    s3.put_object(Bucket=bucket, Key="d", Body=b"x")
    r = s3.delete_object(Bucket=bucket, Key="d")
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert "DeleteMarker" not in r
    expect_error(s3.get_object, "NoSuchKey", 404, Bucket=bucket, Key="d")
    # Deleting a key that is not there succeeds.
    assert s3.delete_object(Bucket=bucket, Key="d")["ResponseMetadata"]["HTTPStatusCode"] == 204


def test_versions_and_delete_markers(s3, bucket):
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    v1 = s3.put_object(Bucket=bucket, Key="v", Body=b"one")["VersionId"]
    v2 = s3.put_object(Bucket=bucket, Key="v", Body=b"two")["VersionId"]
    assert v1 != v2 and v1 != "null"
    g = s3.get_object(Bucket=bucket, Key="v")
    assert body_of(g) == b"two" and g["VersionId"] == v2
    assert body_of(s3.get_object(Bucket=bucket, Key="v", VersionId=v1)) == b"one"

    d = s3.delete_object(Bucket=bucket, Key="v")
    assert d["DeleteMarker"] is True
    marker = d["VersionId"]
    e = expect_error(s3.get_object, "NoSuchKey", 404, Bucket=bucket, Key="v")
    assert e.response["ResponseMetadata"]["HTTPHeaders"].get("x-amz-delete-marker") == "true"
    assert e.response["ResponseMetadata"]["HTTPHeaders"].get("x-amz-version-id") == marker
    e = expect_error(s3.get_object, "MethodNotAllowed", 405, Bucket=bucket, Key="v",
                     VersionId=marker)
    assert e.response["ResponseMetadata"]["HTTPHeaders"].get("x-amz-delete-marker") == "true"
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        s3.head_object(Bucket=bucket, Key="v", VersionId=marker)
    assert status_of(ei.value) == 405
    expect_error(s3.get_object, "NoSuchVersion", 404, Bucket=bucket, Key="v",
                 VersionId="0" * 32)
    expect_error(s3.get_object, "InvalidArgument", 400, Bucket=bucket, Key="v",
                 VersionId="not-a-version")

    # Deleting the marker restores v2; deleting v2 for good restores v1.
    d = s3.delete_object(Bucket=bucket, Key="v", VersionId=marker)
    assert d["DeleteMarker"] is True and d["VersionId"] == marker
    assert body_of(s3.get_object(Bucket=bucket, Key="v")) == b"two"
    d = s3.delete_object(Bucket=bucket, Key="v", VersionId=v2)
    assert d["VersionId"] == v2 and "DeleteMarker" not in d
    assert body_of(s3.get_object(Bucket=bucket, Key="v")) == b"one"


def test_suspended_versioning_null_versions(s3, bucket):
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    v1 = s3.put_object(Bucket=bucket, Key="s", Body=b"one")["VersionId"]
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})
    r = s3.put_object(Bucket=bucket, Key="s", Body=b"two")
    assert r.get("VersionId") == "null"
    d = s3.delete_object(Bucket=bucket, Key="s")
    assert d["DeleteMarker"] is True and d["VersionId"] == "null"
    expect_error(s3.get_object, "NoSuchKey", 404, Bucket=bucket, Key="s")
    assert body_of(s3.get_object(Bucket=bucket, Key="s", VersionId=v1)) == b"one"


def test_delete_objects(s3, bucket):
    for k in ("a", "b", "c"):
        s3.put_object(Bucket=bucket, Key=k, Body=k.encode())
    r = s3.delete_objects(Bucket=bucket, Delete={"Objects": [
        {"Key": "a"}, {"Key": "b"}, {"Key": "missing"},
        {"Key": "c", "VersionId": "bogus"}]})
    assert sorted(d["Key"] for d in r["Deleted"]) == ["a", "b", "missing"]
    assert [(e["Key"], e["Code"]) for e in r["Errors"]] == [("c", "InvalidArgument")]
    expect_error(s3.get_object, "NoSuchKey", 404, Bucket=bucket, Key="a")
    assert body_of(s3.get_object(Bucket=bucket, Key="c")) == b"c"
    r = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "c"}], "Quiet": True})
    assert r.get("Deleted", []) == []
    assert r.get("Errors", []) == []
    expect_error(s3.get_object, "NoSuchKey", 404, Bucket=bucket, Key="c")


def test_delete_objects_limits(s3, bucket):
    objs = [{"Key": f"k{i}"} for i in range(1000)]
    r = s3.delete_objects(Bucket=bucket, Delete={"Objects": objs, "Quiet": True})
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 200
    objs.append({"Key": "one-too-many"})
    expect_error(s3.delete_objects, "MalformedXML", 400, Bucket=bucket,
                 Delete={"Objects": objs})


def test_delete_objects_versioned_makes_markers(s3, bucket):
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    v = s3.put_object(Bucket=bucket, Key="x", Body=b"x")["VersionId"]
    r = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "x"}]})
    d = r["Deleted"][0]
    assert d["DeleteMarker"] is True and d["DeleteMarkerVersionId"]
    assert body_of(s3.get_object(Bucket=bucket, Key="x", VersionId=v)) == b"x"


# --------------------------------------------------------------------------- copy


def test_copy_object(s3, bucket):
    data = pattern(300_000, 9)
    src = s3.put_object(Bucket=bucket, Key="src", Body=data, ContentType="image/png",
                        Metadata={"a": "1"}, Tagging="t=1")
    r = s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "src"})
    assert r["CopyObjectResult"]["ETag"] == src["ETag"]
    assert isinstance(r["CopyObjectResult"]["LastModified"], datetime.datetime)
    g = s3.get_object(Bucket=bucket, Key="dst")
    assert body_of(g) == data
    assert g["ContentType"] == "image/png"
    assert g["Metadata"] == {"a": "1"}
    assert g["TagCount"] == 1

    # REPLACE takes the request's metadata; tagging REPLACE the request's tags.
    s3.copy_object(Bucket=bucket, Key="dst2", CopySource=f"{bucket}/src",
                   MetadataDirective="REPLACE", ContentType="text/plain",
                   Metadata={"b": "2"}, TaggingDirective="REPLACE", Tagging="x=1&y=2")
    g = s3.get_object(Bucket=bucket, Key="dst2")
    assert g["ContentType"] == "text/plain"
    assert g["Metadata"] == {"b": "2"}
    assert g["TagCount"] == 2

    # Across buckets, and a small (inline) source.
    other = helpers.new_bucket(s3)
    s3.put_object(Bucket=bucket, Key="tiny", Body=b"tiny")
    s3.copy_object(Bucket=other, Key="t2", CopySource={"Bucket": bucket, "Key": "tiny"})
    assert body_of(s3.get_object(Bucket=other, Key="t2")) == b"tiny"

    expect_error(s3.copy_object, "NoSuchKey", 404, Bucket=bucket, Key="z",
                 CopySource={"Bucket": bucket, "Key": "absent"})
    expect_error(s3.copy_object, "NoSuchBucket", 404, Bucket=bucket, Key="z",
                 CopySource={"Bucket": bucket + "-nope", "Key": "src"})


def test_copy_onto_itself(s3, bucket):
    s3.put_object(Bucket=bucket, Key="self", Body=b"me", ContentType="text/plain",
                  Metadata={"old": "1"})
    expect_error(
        s3.copy_object, "InvalidRequest", 400,
        "This copy request is illegal because it is trying to copy an object to itself "
        "without changing the object's metadata, storage class, website redirect location "
        "or encryption attributes.",
        Bucket=bucket, Key="self", CopySource={"Bucket": bucket, "Key": "self"})
    s3.copy_object(Bucket=bucket, Key="self", CopySource={"Bucket": bucket, "Key": "self"},
                   MetadataDirective="REPLACE", Metadata={"new": "2"},
                   ContentType="application/json")
    h = s3.head_object(Bucket=bucket, Key="self")
    assert h["Metadata"] == {"new": "2"}
    assert h["ContentType"] == "application/json"
    assert body_of(s3.get_object(Bucket=bucket, Key="self")) == b"me"
    # Changing the storage class is a change too.
    s3.copy_object(Bucket=bucket, Key="self", CopySource={"Bucket": bucket, "Key": "self"},
                   StorageClass="STANDARD_IA")
    assert s3.head_object(Bucket=bucket, Key="self")["StorageClass"] == "STANDARD_IA"


def test_conditional_copy(s3, bucket):
    etag = s3.put_object(Bucket=bucket, Key="cc", Body=b"x")["ETag"]
    src = {"Bucket": bucket, "Key": "cc"}
    past = datetime.datetime(2000, 1, 1, tzinfo=datetime.timezone.utc)
    s3.copy_object(Bucket=bucket, Key="c1", CopySource=src, CopySourceIfMatch=etag)
    expect_error(s3.copy_object, "PreconditionFailed", 412, Bucket=bucket, Key="c2",
                 CopySource=src, CopySourceIfMatch='"0"')
    expect_error(s3.copy_object, "PreconditionFailed", 412, Bucket=bucket, Key="c2",
                 CopySource=src, CopySourceIfNoneMatch=etag)
    expect_error(s3.copy_object, "PreconditionFailed", 412, Bucket=bucket, Key="c2",
                 CopySource=src, CopySourceIfUnmodifiedSince=past)
    s3.copy_object(Bucket=bucket, Key="c3", CopySource=src, CopySourceIfModifiedSince=past)
    expect_error(s3.head_object, "404", 404, Bucket=bucket, Key="c2")


def test_copy_a_specific_version(s3, bucket):
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    v1 = s3.put_object(Bucket=bucket, Key="cv", Body=b"old")["VersionId"]
    s3.put_object(Bucket=bucket, Key="cv", Body=b"new")
    r = s3.copy_object(Bucket=bucket, Key="restored",
                       CopySource={"Bucket": bucket, "Key": "cv", "VersionId": v1})
    assert r["CopySourceVersionId"] == v1
    assert r["VersionId"]
    assert body_of(s3.get_object(Bucket=bucket, Key="restored")) == b"old"


# --------------------------------------------------------------------------- POST


def test_post_object_upload(s3, bucket):
    post = s3.generate_presigned_post(Bucket=bucket, Key="posted/hello.txt",
                                      Fields={"Content-Type": "text/plain"},
                                      Conditions=[{"Content-Type": "text/plain"}])
    r = requests.post(post["url"], data=post["fields"],
                      files={"file": ("hello.txt", b"posted body")}, timeout=30)
    assert r.status_code == 204, r.text
    g = s3.get_object(Bucket=bucket, Key="posted/hello.txt")
    assert body_of(g) == b"posted body"
    assert g["ContentType"] == "text/plain"
    assert g["ETag"] == md5_etag(b"posted body")

    post = s3.generate_presigned_post(Bucket=bucket, Key="p201",
                                      Fields={"success_action_status": "201"},
                                      Conditions=[{"success_action_status": "201"}])
    r = requests.post(post["url"], data=post["fields"], files={"file": ("f", b"x")},
                      timeout=30)
    assert r.status_code == 201, r.text
    assert b"<ETag>" in r.content


# --------------------------------------------------------------------------- limits


def test_put_over_5gb_is_entity_too_large_before_the_body_is_sent(endpoint, s3, bucket):
    # Declare a 5 GB + 1 body and send none of it: S3 answers from the headers alone.
    import socket
    import urllib.parse

    u = urllib.parse.urlparse(endpoint)
    path = f"/{bucket}/huge"
    headers = helpers.sign("PUT", endpoint + path, b"",
                           {"x-amz-content-sha256": "UNSIGNED-PAYLOAD"}, "s3")
    lines = [f"PUT {path} HTTP/1.1", f"Host: {u.netloc}"]
    lines += [f"{k}: {v}" for k, v in headers.items() if k.lower() != "host"]
    lines.append(f"Content-Length: {5 * 1024 ** 3 + 1}")
    with socket.create_connection((u.hostname, u.port), timeout=30) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        reply = b""
        while b"</Error>" not in reply:
            chunk = sock.recv(65536)
            if not chunk:
                break
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 400"), reply[:200]
    assert b"<Code>EntityTooLarge</Code>" in reply
    expect_error(s3.head_object, "404", 404, Bucket=bucket, Key="huge")


# --------------------------------------------------------------------------- space


def _blob_files(data_dir: str) -> set[str]:
    """Published and tmp blob files under the blob store (dirs named data/ and tmp/ side
    by side), by name."""
    import os

    out = set()
    for root, dirs, files in os.walk(data_dir):
        if "data" in dirs and "tmp" in dirs:
            for sub, _, names in os.walk(root):
                if os.path.basename(os.path.dirname(sub)) == "data" or \
                        os.path.basename(sub) == "tmp":
                    out.update(names)
    return out


def test_overwritten_and_deleted_bodies_are_reclaimed(server_factory):
    import time

    srv = server_factory().start()
    s3 = helpers.client("s3", srv.url)
    b = helpers.new_bucket(s3)
    s3.put_object(Bucket=b, Key="k", Body=pattern(300_000, 1))
    s3.put_object(Bucket=b, Key="gone", Body=pattern(300_000, 2))
    first = _blob_files(srv.data_dir)
    assert len(first) == 2, first
    s3.put_object(Bucket=b, Key="k", Body=pattern(300_000, 3))
    s3.delete_object(Bucket=b, Key="gone")
    deadline = time.time() + 15
    while time.time() < deadline:
        now = _blob_files(srv.data_dir)
        if len(now) == 1:
            break
        time.sleep(0.2)
    now = _blob_files(srv.data_dir)
    assert len(now) == 1 and not (now & first), (first, now)
    assert body_of(s3.get_object(Bucket=b, Key="k")) == pattern(300_000, 3)
