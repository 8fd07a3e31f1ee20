"""S3 at the edge: routing, the loopback rule with S3's signature forms, virtual hosts and
error bodies. The operations themselves are tested in the other test_s3_*.py files."""

from __future__ import annotations

import hashlib
import urllib.parse

import boto3
import botocore.config
import botocore.exceptions
import pytest

import helpers

pytestmark = pytest.mark.nimbus_only

BODY = bytes(range(256)) * 400  # 100 KiB: past the inline limit, into the blob store


def s3_with(endpoint: str, key: tuple[str, str], **s3cfg):
    return boto3.session.Session().client(
        "s3",
        endpoint_url=endpoint,
        region_name=helpers.REGION,
        aws_access_key_id=key[0],
        aws_secret_access_key=key[1],
        config=botocore.config.Config(
            retries={"total_max_attempts": 1}, s3=s3cfg or None,
        ),
    )


@pytest.mark.parametrize("key", [helpers.ROOT_KEY, ("AKIADUMMYDUMMYDUMMY1", "anything")],
                         ids=["known-key", "unknown-key"])
@pytest.mark.parametrize("signing", ["default", "signed-payload"])
def test_put_get_roundtrip_with_sdk_default_and_signed_chunks(endpoint, s3, key, signing):
    """The SDK's default upload (aws-chunked with a CRC32 trailer) and a payload-signed
    one both store exactly the bytes sent, whether the key is verified (s3s checks every
    chunk signature) or unknown on loopback (the edge decodes the chunks itself)."""
    bucket = helpers.new_bucket(s3)
    cfg = {"payload_signing_enabled": True} if signing == "signed-payload" else {}
    client = s3_with(endpoint, key, **cfg)
    put = client.put_object(Bucket=bucket, Key="obj", Body=BODY, ChecksumAlgorithm="CRC32")
    assert put["ETag"] == '"%s"' % hashlib.md5(BODY).hexdigest()
    got = client.get_object(Bucket=bucket, Key="obj", ChecksumMode="ENABLED")
    assert got["Body"].read() == BODY
    assert got["ChecksumCRC32"] == put["ChecksumCRC32"]


def test_wrong_secret_for_known_key_is_refused_with_aws_message(endpoint):
    client = s3_with(endpoint, (helpers.ROOT_KEY[0], "not-the-secret"))
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        client.list_buckets()
    code, msg = helpers.error_of(ei.value)
    assert code == "SignatureDoesNotMatch"
    assert msg.startswith("The request signature we calculated does not match")
    assert helpers.status_of(ei.value) == 403


def test_unsigned_request_without_other_marks_is_s3s(endpoint):
    """Like s3.amazonaws.com: an anonymous path-style request is S3's, answered with S3's
    XML error, not another service's."""
    r = helpers.raw_request("GET", endpoint + "/", key=None)
    assert r.status == 403
    assert b"<Code>AccessDenied</Code>" in r.body
    assert b"<RequestId>" in r.body
    assert r.headers.get("x-amz-request-id")


def test_virtual_hosted_bucket_addressing(endpoint, s3):
    bucket = helpers.new_bucket(s3)
    s3.put_object(Bucket=bucket, Key="dir/a.txt", Body=b"virtual")
    port = urllib.parse.urlparse(endpoint).port
    for host in (f"{bucket}.s3.localhost:{port}", f"{bucket}.s3.us-east-1.localhost:{port}"):
        r = helpers.raw_request("GET", f"{endpoint}/dir/a.txt", service="s3", headers={
            "Host": host, "x-amz-content-sha256": hashlib.sha256(b"").hexdigest()})
        assert r.status == 200, (host, r.body)
        assert r.body == b"virtual"


def test_default_addressing_with_localhost_endpoint(endpoint, s3):
    """What a new user sets: AWS_ENDPOINT_URL=http://localhost:PORT and the SDK defaults."""
    bucket = helpers.new_bucket(s3)
    port = urllib.parse.urlparse(endpoint).port
    client = s3_with(f"http://localhost:{port}", helpers.ROOT_KEY)
    client.put_object(Bucket=bucket, Key="k", Body=b"v")
    assert client.get_object(Bucket=bucket, Key="k")["Body"].read() == b"v"
    names = [b["Name"] for b in client.list_buckets()["Buckets"]]
    assert bucket in names


def test_dynamodb_and_query_services_still_route_elsewhere(endpoint, ddb):
    """S3 being the default must not swallow JSON or query-protocol requests."""
    assert "TableNames" in ddb.list_tables(Limit=1)
    sts = helpers.client("sts", endpoint)
    assert sts.get_caller_identity()["Account"] == "000000000000"
