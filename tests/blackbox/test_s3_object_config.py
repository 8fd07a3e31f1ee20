"""Object tagging, object ACLs and GetObjectAttributes through boto3. Error codes,
statuses and messages are S3's."""

import hashlib

from helpers import expect_error

MIB = 1024 * 1024


def tagset(n):
    return {"TagSet": [{"Key": f"k{i}", "Value": f"v{i}"} for i in range(n)]}


def tags_of(resp):
    return sorted((t["Key"], t["Value"]) for t in resp["TagSet"])


def test_tagging_put_get_delete(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", Tagging="a=1")
    assert tags_of(s3.get_object_tagging(Bucket=bucket, Key="k")) == [("a", "1")]
    s3.put_object_tagging(Bucket=bucket, Key="k", Tagging=tagset(10))
    assert len(s3.get_object_tagging(Bucket=bucket, Key="k")["TagSet"]) == 10
    assert s3.head_object(Bucket=bucket, Key="k")["ETag"] == '"' + hashlib.md5(b"x").hexdigest() + '"'
    r = s3.delete_object_tagging(Bucket=bucket, Key="k")
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert s3.get_object_tagging(Bucket=bucket, Key="k")["TagSet"] == []
    # Tags do not change the object.
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"x"


def test_tagging_limits(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    expect_error(s3.put_object_tagging, "BadRequest", 400, "Object tags cannot be greater than 10",
                 Bucket=bucket, Key="k", Tagging=tagset(11))
    expect_error(s3.put_object_tagging, "InvalidTag", 400,
                 "The TagKey you have provided is too long, max 128",
                 Bucket=bucket, Key="k", Tagging={"TagSet": [{"Key": "k" * 129, "Value": "v"}]})
    expect_error(s3.put_object_tagging, "InvalidTag", 400,
                 "The TagValue you have provided is too long, max 256",
                 Bucket=bucket, Key="k", Tagging={"TagSet": [{"Key": "k", "Value": "v" * 257}]})
    expect_error(s3.put_object_tagging, "InvalidTag", 400,
                 "Cannot provide multiple Tags with the same key",
                 Bucket=bucket, Key="k",
                 Tagging={"TagSet": [{"Key": "k", "Value": "1"}, {"Key": "k", "Value": "2"}]})
    s3.put_object_tagging(Bucket=bucket, Key="k",
                          Tagging={"TagSet": [{"Key": "k" * 128, "Value": "v" * 256}]})
    expect_error(s3.get_object_tagging, "NoSuchKey", 404, "The specified key does not exist.",
                 Bucket=bucket, Key="missing")
    expect_error(s3.put_object_tagging, "NoSuchKey", 404, Bucket=bucket, Key="missing",
                 Tagging=tagset(1))


def test_tagging_versions(s3, bucket):
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    v1 = s3.put_object(Bucket=bucket, Key="k", Body=b"1")["VersionId"]
    v2 = s3.put_object(Bucket=bucket, Key="k", Body=b"2")["VersionId"]
    r = s3.put_object_tagging(Bucket=bucket, Key="k", VersionId=v1, Tagging=tagset(1))
    assert r["VersionId"] == v1
    r = s3.get_object_tagging(Bucket=bucket, Key="k")
    assert r["VersionId"] == v2 and r["TagSet"] == []
    r = s3.get_object_tagging(Bucket=bucket, Key="k", VersionId=v1)
    assert tags_of(r) == [("k0", "v0")]
    # The tagged version is still the same, non-current version.
    versions = s3.list_object_versions(Bucket=bucket)["Versions"]
    assert [(v["VersionId"], v["IsLatest"]) for v in versions] == [(v2, True), (v1, False)]
    dm = s3.delete_object(Bucket=bucket, Key="k")["VersionId"]
    expect_error(s3.get_object_tagging, "NoSuchKey", 404, Bucket=bucket, Key="k")
    expect_error(s3.get_object_tagging, "MethodNotAllowed", 405, Bucket=bucket, Key="k",
                 VersionId=dm)
    expect_error(s3.get_object_tagging, "NoSuchVersion", 404,
                 "The specified version does not exist.", Bucket=bucket, Key="k",
                 VersionId="0000000000000fffffffffffffffffff")


def test_acls_with_bucket_owner_enforced(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    r = s3.get_object_acl(Bucket=bucket, Key="k")
    assert len(r["Grants"]) == 1
    assert r["Grants"][0]["Permission"] == "FULL_CONTROL"
    assert r["Grants"][0]["Grantee"]["ID"] == r["Owner"]["ID"]
    assert r["Grants"][0]["Grantee"]["Type"] == "CanonicalUser"
    expect_error(s3.put_object_acl, "AccessControlListNotSupported", 400,
                 "The bucket does not allow ACLs", Bucket=bucket, Key="k", ACL="public-read")
    s3.put_object_acl(Bucket=bucket, Key="k", ACL="bucket-owner-full-control")


def test_acls_canned_and_explicit(s3, bucket):
    s3.put_bucket_ownership_controls(
        Bucket=bucket, OwnershipControls={"Rules": [{"ObjectOwnership": "ObjectWriter"}]})
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    owner = s3.get_object_acl(Bucket=bucket, Key="k")["Owner"]
    # New buckets block public ACLs until the public access block is lifted.
    expect_error(s3.put_object_acl, "AccessDenied", 403, Bucket=bucket, Key="k",
                 ACL="public-read")
    s3.delete_public_access_block(Bucket=bucket)
    s3.put_object_acl(Bucket=bucket, Key="k", ACL="public-read")
    grants = s3.get_object_acl(Bucket=bucket, Key="k")["Grants"]
    assert [(g["Grantee"].get("URI"), g["Permission"]) for g in grants] == [
        (None, "FULL_CONTROL"), ("http://acs.amazonaws.com/groups/global/AllUsers", "READ")]
    s3.put_object_acl(Bucket=bucket, Key="k", ACL="authenticated-read")
    grants = s3.get_object_acl(Bucket=bucket, Key="k")["Grants"]
    assert grants[1]["Grantee"]["URI"].endswith("/AuthenticatedUsers")

    policy = {
        "Owner": owner,
        "Grants": [
            {"Grantee": {"Type": "CanonicalUser", "ID": owner["ID"]}, "Permission": "FULL_CONTROL"},
            {"Grantee": {"Type": "Group", "URI": "http://acs.amazonaws.com/groups/global/AllUsers"},
             "Permission": "READ_ACP"},
        ],
    }
    s3.put_object_acl(Bucket=bucket, Key="k", AccessControlPolicy=policy)
    grants = s3.get_object_acl(Bucket=bucket, Key="k")["Grants"]
    assert [g["Permission"] for g in grants] == ["FULL_CONTROL", "READ_ACP"]

    s3.put_object_acl(Bucket=bucket, Key="k",
                      GrantRead='uri="http://acs.amazonaws.com/groups/global/AllUsers"')
    grants = s3.get_object_acl(Bucket=bucket, Key="k")["Grants"]
    assert [g["Permission"] for g in grants] == ["FULL_CONTROL", "READ"]

    expect_error(s3.put_object_acl, "InvalidRequest", 400,
                 "Specifying both Canned ACLs and Header Grants is not allowed",
                 Bucket=bucket, Key="k", ACL="private",
                 GrantRead='uri="http://acs.amazonaws.com/groups/global/AllUsers"')
    bad = {"Owner": owner, "Grants": [
        {"Grantee": {"Type": "Group", "URI": "http://example.com/nope"}, "Permission": "READ"}]}
    expect_error(s3.put_object_acl, "InvalidArgument", 400, Bucket=bucket, Key="k",
                 AccessControlPolicy=bad)
    expect_error(s3.get_object_acl, "NoSuchKey", 404, Bucket=bucket, Key="missing")


def test_object_attributes(s3, bucket):
    s3.put_object(Bucket=bucket, Key="plain", Body=b"hello")
    r = s3.get_object_attributes(Bucket=bucket, Key="plain",
                                 ObjectAttributes=["ETag", "ObjectSize", "StorageClass"])
    assert r["ObjectSize"] == 5
    assert r["StorageClass"] == "STANDARD"
    # GetObjectAttributes is the one S3 answer with an unquoted ETag.
    assert r["ETag"] == hashlib.md5(b"hello").hexdigest()
    assert "ObjectParts" not in r
    assert "LastModified" in r

    parts = [b"a" * (5 * MIB), b"b" * (5 * MIB), b"c" * 10]
    uid = s3.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
    done = []
    for i, p in enumerate(parts, start=1):
        e = s3.upload_part(Bucket=bucket, Key="mp", UploadId=uid, PartNumber=i, Body=p)["ETag"]
        done.append({"PartNumber": i, "ETag": e})
    s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=uid,
                                 MultipartUpload={"Parts": done})
    r = s3.get_object_attributes(Bucket=bucket, Key="mp", MaxParts=2,
                                 ObjectAttributes=["ObjectParts", "ObjectSize"])
    op = r["ObjectParts"]
    assert op["TotalPartsCount"] == 3
    assert op["IsTruncated"] is True
    assert op["NextPartNumberMarker"] == 2
    assert [p["PartNumber"] for p in op["Parts"]] == [1, 2]
    assert op["Parts"][0]["Size"] == 5 * MIB
    assert r["ObjectSize"] == 10 * MIB + 10
    r = s3.get_object_attributes(Bucket=bucket, Key="mp", PartNumberMarker=2,
                                 ObjectAttributes=["ObjectParts"])
    assert [p["PartNumber"] for p in r["ObjectParts"]["Parts"]] == [3]
    expect_error(s3.get_object_attributes, "NoSuchKey", 404, Bucket=bucket, Key="missing",
                 ObjectAttributes=["ETag"])
