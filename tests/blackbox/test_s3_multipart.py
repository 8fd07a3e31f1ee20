"""S3 multipart uploads through boto3: Create/UploadPart/UploadPartCopy/Complete/Abort,
ListParts, ListMultipartUploads, the multipart ETag and part-size rules, checksums with
the SDK's defaults (s3transfer asks for CRC32). Error codes, statuses and messages are S3's."""

import base64
import hashlib
import io
import zlib

import boto3.s3.transfer
import pytest

from helpers import expect_error

MIB = 1024 * 1024
NO_SUCH_UPLOAD = (
    "The specified upload does not exist. The upload ID may be invalid, "
    "or the upload may have been aborted or completed."
)


def pattern(n: int, seed: int = 0) -> bytes:
    block = bytes((i * 31 + seed) % 251 for i in range(65536))
    return (block * (n // len(block) + 1))[:n]


def multipart_etag(parts: list[bytes]) -> str:
    digests = b"".join(hashlib.md5(p).digest() for p in parts)
    return f'"{hashlib.md5(digests).hexdigest()}-{len(parts)}"'


def upload(s3, bucket, key, parts: list[bytes], **create_args):
    uid = s3.create_multipart_upload(Bucket=bucket, Key=key, **create_args)["UploadId"]
    done = []
    for i, p in enumerate(parts, start=1):
        r = s3.upload_part(Bucket=bucket, Key=key, UploadId=uid, PartNumber=i, Body=p)
        done.append({"PartNumber": i, "ETag": r["ETag"]})
    return uid, done


def test_multipart_by_size_etag_and_content(s3, bucket):
    parts = [pattern(5 * MIB, 1), pattern(5 * MIB, 2), pattern(1234, 3)]
    uid, done = upload(s3, bucket, "big.bin", parts, ContentType="application/x-test",
                       Metadata={"color": "blue"})
    r = s3.complete_multipart_upload(Bucket=bucket, Key="big.bin", UploadId=uid,
                                     MultipartUpload={"Parts": done})
    assert r["ETag"] == multipart_etag(parts)
    assert r["Bucket"] == bucket and r["Key"] == "big.bin"
    assert r["Location"].endswith(f"/{bucket}/big.bin")
    assert "VersionId" not in r
    got = s3.get_object(Bucket=bucket, Key="big.bin")
    body = got["Body"].read()
    assert body == b"".join(parts)
    assert got["ETag"] == multipart_etag(parts)
    assert got["ContentType"] == "application/x-test"
    assert got["Metadata"] == {"color": "blue"}
    head = s3.head_object(Bucket=bucket, Key="big.bin")
    assert head["ContentLength"] == sum(len(p) for p in parts)
    # A range across the part boundary.
    rng = s3.get_object(Bucket=bucket, Key="big.bin", Range=f"bytes={5 * MIB - 3}-{5 * MIB + 2}")
    assert rng["Body"].read() == b"".join(parts)[5 * MIB - 3:5 * MIB + 3]
    # The upload is gone once completed.
    expect_error(s3.list_parts, "NoSuchUpload", 404, NO_SUCH_UPLOAD, Bucket=bucket,
                 Key="big.bin", UploadId=uid)


def test_part_size_and_order_rules(s3, bucket):
    uid, done = upload(s3, bucket, "k", [b"a" * 1024, b"b" * 1024])
    expect_error(s3.complete_multipart_upload, "EntityTooSmall", 400,
                 "Your proposed upload is smaller than the minimum allowed object size.",
                 Bucket=bucket, Key="k", UploadId=uid, MultipartUpload={"Parts": done})
    expect_error(s3.complete_multipart_upload, "InvalidPartOrder", 400,
                 "The list of parts was not in ascending order. Parts must be ordered by part number.",
                 Bucket=bucket, Key="k", UploadId=uid,
                 MultipartUpload={"Parts": list(reversed(done))})
    wrong = [{"PartNumber": 1, "ETag": done[1]["ETag"]}]
    expect_error(s3.complete_multipart_upload, "InvalidPart", 400, Bucket=bucket, Key="k",
                 UploadId=uid, MultipartUpload={"Parts": wrong})
    missing = [done[0], {"PartNumber": 7, "ETag": done[1]["ETag"]}]
    expect_error(s3.complete_multipart_upload, "InvalidPart", 400, Bucket=bucket, Key="k",
                 UploadId=uid, MultipartUpload={"Parts": missing})
    # The last part may be small: completing with part 2 alone works.
    r = s3.complete_multipart_upload(Bucket=bucket, Key="k", UploadId=uid,
                                     MultipartUpload={"Parts": [done[1]]})
    assert r["ETag"] == multipart_etag([b"b" * 1024])
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"b" * 1024


def test_upload_part_errors(s3, bucket):
    expect_error(s3.upload_part, "NoSuchUpload", 404, NO_SUCH_UPLOAD, Bucket=bucket, Key="k",
                 UploadId="nope", PartNumber=1, Body=b"x")
    uid = s3.create_multipart_upload(Bucket=bucket, Key="k")["UploadId"]
    expect_error(s3.upload_part, "InvalidArgument", 400,
                 "Part number must be an integer between 1 and 10000, inclusive",
                 Bucket=bucket, Key="k", UploadId=uid, PartNumber=10001, Body=b"x")
    expect_error(s3.create_multipart_upload, "NoSuchBucket", 404, Bucket=bucket + "-missing",
                 Key="k")
    expect_error(s3.abort_multipart_upload, "NoSuchUpload", 404, Bucket=bucket, Key="k",
                 UploadId="nope")


def test_reupload_part_abort_and_list_parts(s3, bucket):
    uid = s3.create_multipart_upload(Bucket=bucket, Key="k")["UploadId"]
    s3.upload_part(Bucket=bucket, Key="k", UploadId=uid, PartNumber=1, Body=b"old" * 100)
    e1 = s3.upload_part(Bucket=bucket, Key="k", UploadId=uid, PartNumber=1, Body=b"new")["ETag"]
    for n in (2, 3):
        s3.upload_part(Bucket=bucket, Key="k", UploadId=uid, PartNumber=n, Body=b"p%d" % n)
    page = s3.list_parts(Bucket=bucket, Key="k", UploadId=uid, MaxParts=2)
    assert [p["PartNumber"] for p in page["Parts"]] == [1, 2]
    assert page["Parts"][0]["ETag"] == e1
    assert page["Parts"][0]["Size"] == 3
    assert page["IsTruncated"] is True
    assert page["NextPartNumberMarker"] == 2
    assert page["StorageClass"] == "STANDARD"
    assert page["Owner"]["ID"] == page["Initiator"]["ID"]
    rest = s3.list_parts(Bucket=bucket, Key="k", UploadId=uid, PartNumberMarker=2)
    assert [p["PartNumber"] for p in rest["Parts"]] == [3]
    assert rest["IsTruncated"] is False

    ups = s3.list_multipart_uploads(Bucket=bucket)["Uploads"]
    assert [(u["Key"], u["UploadId"]) for u in ups] == [("k", uid)]
    assert s3.abort_multipart_upload(Bucket=bucket, Key="k", UploadId=uid)[
        "ResponseMetadata"]["HTTPStatusCode"] == 204
    assert "Uploads" not in s3.list_multipart_uploads(Bucket=bucket)
    expect_error(s3.list_parts, "NoSuchUpload", 404, Bucket=bucket, Key="k", UploadId=uid)
    expect_error(s3.head_object, "404", 404, Bucket=bucket, Key="k")


def test_list_multipart_uploads_pagination_and_delimiter(s3, bucket):
    ids = {}
    for key in ["a", "a", "dir/x", "dir/y", "z"]:
        ids.setdefault(key, []).append(
            s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"])
    r = s3.list_multipart_uploads(Bucket=bucket, Delimiter="/")
    assert [u["Key"] for u in r["Uploads"]] == ["a", "a", "z"]
    assert [p["Prefix"] for p in r["CommonPrefixes"]] == ["dir/"]
    seen = []
    kwargs = {}
    for _ in range(10):
        r = s3.list_multipart_uploads(Bucket=bucket, MaxUploads=2, **kwargs)
        seen += [(u["Key"], u["UploadId"]) for u in r.get("Uploads", [])]
        if not r["IsTruncated"]:
            break
        kwargs = {"KeyMarker": r["NextKeyMarker"], "UploadIdMarker": r["NextUploadIdMarker"]}
    # Uploads of one key list in initiation order (ids of one millisecond by id).
    assert sorted(seen[:2]) == sorted(("a", u) for u in ids["a"])
    assert seen[2:] == [("dir/x", ids["dir/x"][0]), ("dir/y", ids["dir/y"][0]),
                        ("z", ids["z"][0])]
    r = s3.list_multipart_uploads(Bucket=bucket, Prefix="dir/")
    assert [u["Key"] for u in r["Uploads"]] == ["dir/x", "dir/y"]


def test_upload_part_copy_with_range_and_conditions(s3, bucket):
    src = pattern(6 * MIB, 9)
    s3.put_object(Bucket=bucket, Key="src", Body=src)
    src_etag = s3.head_object(Bucket=bucket, Key="src")["ETag"]
    uid = s3.create_multipart_upload(Bucket=bucket, Key="dst")["UploadId"]
    c1 = s3.upload_part_copy(Bucket=bucket, Key="dst", UploadId=uid, PartNumber=1,
                             CopySource={"Bucket": bucket, "Key": "src"},
                             CopySourceRange=f"bytes=0-{5 * MIB - 1}",
                             CopySourceIfMatch=src_etag)
    c2 = s3.upload_part_copy(Bucket=bucket, Key="dst", UploadId=uid, PartNumber=2,
                             CopySource=f"{bucket}/src",
                             CopySourceRange=f"bytes={5 * MIB}-{6 * MIB - 1}")
    expect_error(s3.upload_part_copy, "InvalidArgument", 400,
                 f"Range specified is not valid for source object of size: {6 * MIB}",
                 Bucket=bucket, Key="dst", UploadId=uid, PartNumber=3,
                 CopySource={"Bucket": bucket, "Key": "src"},
                 CopySourceRange=f"bytes=0-{6 * MIB}")
    expect_error(s3.upload_part_copy, "PreconditionFailed", 412, Bucket=bucket, Key="dst",
                 UploadId=uid, PartNumber=3, CopySource={"Bucket": bucket, "Key": "src"},
                 CopySourceIfNoneMatch=src_etag)
    expect_error(s3.upload_part_copy, "NoSuchKey", 404, Bucket=bucket, Key="dst",
                 UploadId=uid, PartNumber=3, CopySource={"Bucket": bucket, "Key": "nope"})
    assert c1["CopyPartResult"]["ETag"] == '"' + hashlib.md5(src[:5 * MIB]).hexdigest() + '"'
    parts = [{"PartNumber": 1, "ETag": c1["CopyPartResult"]["ETag"]},
             {"PartNumber": 2, "ETag": c2["CopyPartResult"]["ETag"]}]
    r = s3.complete_multipart_upload(Bucket=bucket, Key="dst", UploadId=uid,
                                     MultipartUpload={"Parts": parts})
    assert r["ETag"] == multipart_etag([src[:5 * MIB], src[5 * MIB:]])
    assert s3.get_object(Bucket=bucket, Key="dst")["Body"].read() == src


def test_versioned_completion_returns_a_version(s3, bucket):
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket=bucket, Key="k", Body=b"v1")
    uid, done = upload(s3, bucket, "k", [b"v2"])
    r = s3.complete_multipart_upload(Bucket=bucket, Key="k", UploadId=uid,
                                     MultipartUpload={"Parts": done})
    assert r["VersionId"]
    versions = s3.list_object_versions(Bucket=bucket)["Versions"]
    assert len(versions) == 2
    latest = [v for v in versions if v["IsLatest"]]
    assert latest[0]["VersionId"] == r["VersionId"]
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"v2"


def test_composite_crc32_checksum(s3, bucket):
    parts = [pattern(5 * MIB, 4), b"tail"]
    uid = s3.create_multipart_upload(Bucket=bucket, Key="c", ChecksumAlgorithm="CRC32")
    assert uid["ChecksumAlgorithm"] == "CRC32"
    uid = uid["UploadId"]
    done = []
    for i, p in enumerate(parts, start=1):
        r = s3.upload_part(Bucket=bucket, Key="c", UploadId=uid, PartNumber=i, Body=p,
                           ChecksumAlgorithm="CRC32")
        want = base64.b64encode(zlib.crc32(p).to_bytes(4, "big")).decode()
        assert r["ChecksumCRC32"] == want
        done.append({"PartNumber": i, "ETag": r["ETag"], "ChecksumCRC32": want})
    r = s3.complete_multipart_upload(Bucket=bucket, Key="c", UploadId=uid,
                                     MultipartUpload={"Parts": done})
    cat = b"".join(base64.b64decode(d["ChecksumCRC32"]) for d in done)
    composite = base64.b64encode(zlib.crc32(cat).to_bytes(4, "big")).decode() + "-2"
    assert r["ChecksumCRC32"] == composite
    attrs = s3.get_object_attributes(Bucket=bucket, Key="c",
                                     ObjectAttributes=["Checksum", "ObjectParts", "ObjectSize"])
    assert attrs["Checksum"]["ChecksumCRC32"] == composite
    assert attrs["ObjectParts"]["TotalPartsCount"] == 2
    assert attrs["ObjectSize"] == 5 * MIB + 4


def test_full_object_crc32_checksum(s3, bucket):
    parts = [pattern(5 * MIB, 5), b"end"]
    uid = s3.create_multipart_upload(Bucket=bucket, Key="f", ChecksumAlgorithm="CRC32",
                                     ChecksumType="FULL_OBJECT")["UploadId"]
    done = []
    for i, p in enumerate(parts, start=1):
        r = s3.upload_part(Bucket=bucket, Key="f", UploadId=uid, PartNumber=i, Body=p,
                           ChecksumAlgorithm="CRC32")
        done.append({"PartNumber": i, "ETag": r["ETag"], "ChecksumCRC32": r["ChecksumCRC32"]})
    r = s3.complete_multipart_upload(Bucket=bucket, Key="f", UploadId=uid,
                                     MultipartUpload={"Parts": done})
    whole = zlib.crc32(b"".join(parts)).to_bytes(4, "big")
    assert r["ChecksumCRC32"] == base64.b64encode(whole).decode()
    assert r["ChecksumType"] == "FULL_OBJECT"


def test_s3transfer_multipart_with_sdk_default_checksums(s3, bucket):
    data = pattern(13 * MIB, 7)
    config = boto3.s3.transfer.TransferConfig(multipart_threshold=5 * MIB,
                                              multipart_chunksize=5 * MIB, max_concurrency=2)
    s3.upload_fileobj(io.BytesIO(data), bucket, "t.bin", Config=config)
    head = s3.head_object(Bucket=bucket, Key="t.bin")
    assert head["ContentLength"] == len(data)
    assert head["ETag"].endswith('-3"')
    out = io.BytesIO()
    s3.download_fileobj(bucket, "t.bin", out, Config=config)
    assert out.getvalue() == data
    assert "Uploads" not in s3.list_multipart_uploads(Bucket=bucket)


@pytest.mark.parametrize("acl", ["public-read"])
def test_create_with_acl_follows_object_ownership(s3, bucket, acl):
    # New buckets enforce bucket-owner ownership: ACLs other than the owner's are refused.
    expect_error(s3.create_multipart_upload, "AccessControlListNotSupported", 400,
                 Bucket=bucket, Key="k", ACL=acl)
    s3.put_bucket_ownership_controls(
        Bucket=bucket, OwnershipControls={"Rules": [{"ObjectOwnership": "ObjectWriter"}]})
    s3.delete_public_access_block(Bucket=bucket)
    uid, done = upload(s3, bucket, "k", [b"x"], ACL=acl, Tagging="a=1&b=two%20words")
    s3.complete_multipart_upload(Bucket=bucket, Key="k", UploadId=uid,
                                 MultipartUpload={"Parts": done})
    tags = s3.get_object_tagging(Bucket=bucket, Key="k")["TagSet"]
    assert sorted((t["Key"], t["Value"]) for t in tags) == [("a", "1"), ("b", "two words")]
    grants = s3.get_object_acl(Bucket=bucket, Key="k")["Grants"]
    assert any(g["Grantee"].get("URI", "").endswith("/AllUsers") and g["Permission"] == "READ"
               for g in grants)
