"""Presigned URLs used with plain HTTP clients, browser POST uploads with a signed policy,
and the checksums current SDKs send by default, all with AWS's exact errors.

Note: boto3's generate_presigned_url / generate_presigned_post with a custom endpoint and no
explicit signature_version produce SigV2 query auth (AWSAccessKeyId/Signature/Expires), so
that is what a new user's URLs look like; the SigV4 behaviour (X-Amz-Expires and its 7-day
limit, AWS's expiry and signature errors) is tested with signature_version="s3v4"."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import http.client
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
import zlib
from unittest import mock

import pytest
import requests

import helpers

EXPIRED_MSG = "Request has expired"
SIG_MISMATCH_PREFIX = ("The request signature we calculated does not match the signature "
                       "you provided.")
EXPIRES_TOO_LONG_MSG = ("X-Amz-Expires must be less than a week (in seconds) that is, the given "
                        "X-Amz-Expires must be less than 604800 seconds")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def presign(s3, op: str, params: dict, expires_s: int = 300, at: dt.datetime | None = None) -> str:
    """boto3's generate_presigned_url, optionally signed at a faked time `at` (naive UTC)."""
    if at is None:
        return s3.generate_presigned_url(op, Params=params, ExpiresIn=expires_s)
    with mock.patch("botocore.auth.get_current_datetime", return_value=at):
        return s3.generate_presigned_url(op, Params=params, ExpiresIn=expires_s)


def http_call(method: str, url: str, body: bytes | None = None,
              headers: dict | None = None) -> tuple[int, dict, bytes]:
    """One plain HTTP/1.1 request (no SDK, no signing): status, headers, body."""
    u = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=helpers.REQUEST_TIMEOUT_S)
    try:
        path = u.path + ("?" + u.query if u.query else "")
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def s3_error(body: bytes) -> dict:
    """Code, Message and the other children of an S3 XML <Error> document."""
    root = ET.fromstring(body)
    assert root.tag == "Error", body
    return {child.tag: (child.text or "") for child in root}


def tamper_signature(url: str) -> str:
    u = urllib.parse.urlsplit(url)
    q = urllib.parse.parse_qsl(u.query, keep_blank_values=True)
    out = []
    for k, v in q:
        if k == "X-Amz-Signature":
            v = v[:-1] + ("0" if v[-1] != "0" else "1")
        out.append((k, v))
    return urllib.parse.urlunsplit(u._replace(query=urllib.parse.urlencode(out)))


@pytest.fixture(scope="module")
def s3v4(endpoint):
    """A client that presigns with SigV4 (query-string X-Amz-* parameters)."""
    return helpers.client("s3", endpoint, signature_version="s3v4")


# --------------------------------------------------------------------------- presigned GET/PUT


def test_presigned_get_with_urllib(s3, s3v4, bucket):
    s3.put_object(Bucket=bucket, Key="report.csv", Body=b"a,b\n1,2\n", ContentType="text/csv")
    url = presign(s3v4, "get_object", {"Bucket": bucket, "Key": "report.csv"})
    assert "X-Amz-Signature=" in url and "X-Amz-Expires=300" in url
    with urllib.request.urlopen(url, timeout=helpers.REQUEST_TIMEOUT_S) as resp:
        assert resp.status == 200
        assert resp.read() == b"a,b\n1,2\n"
        assert resp.headers["Content-Type"] == "text/csv"
        assert resp.headers["ETag"] == '"%s"' % hashlib.md5(b"a,b\n1,2\n").hexdigest()


def test_presigned_get_with_response_overrides_and_range(s3, s3v4, bucket):
    s3.put_object(Bucket=bucket, Key="data.bin", Body=b"0123456789")
    url = presign(s3v4, "get_object", {
        "Bucket": bucket, "Key": "data.bin",
        "ResponseContentDisposition": 'attachment; filename="x.bin"',
        "ResponseContentType": "application/x-test",
    })
    status, headers, body = http_call("GET", url, headers={"Range": "bytes=2-5"})
    assert status == 206, body
    assert body == b"2345"
    assert headers["content-range"] == "bytes 2-5/10"
    assert headers["content-disposition"] == 'attachment; filename="x.bin"'
    assert headers["content-type"] == "application/x-test"


def test_presigned_get_missing_key_is_no_such_key(s3, s3v4, bucket):
    url = presign(s3v4, "get_object", {"Bucket": bucket, "Key": "nope"})
    status, _h, body = http_call("GET", url)
    assert status == 404
    err = s3_error(body)
    assert err["Code"] == "NoSuchKey"
    assert err["Message"] == "The specified key does not exist."


def test_presigned_put_with_http_client(s3, s3v4, bucket):
    url = presign(s3v4, "put_object", {"Bucket": bucket, "Key": "upload/photo.jpg"})
    payload = bytes(range(256)) * 64
    status, headers, body = http_call("PUT", url, body=payload)
    assert status == 200, body
    assert headers["etag"] == '"%s"' % hashlib.md5(payload).hexdigest()
    got = s3.get_object(Bucket=bucket, Key="upload/photo.jpg")
    assert got["Body"].read() == payload


def test_presigned_put_with_signed_content_type(s3, s3v4, bucket):
    url = presign(s3v4, "put_object", {"Bucket": bucket, "Key": "doc.json",
                                     "ContentType": "application/json"})
    status, _h, body = http_call("PUT", url, body=b"{}",
                                 headers={"Content-Type": "application/json"})
    assert status == 200, body
    assert s3.head_object(Bucket=bucket, Key="doc.json")["ContentType"] == "application/json"


@pytest.mark.nimbus_only
def test_presigned_put_with_other_content_type_than_signed_is_refused(s3, s3v4, bucket):
    url = presign(s3v4, "put_object", {"Bucket": bucket, "Key": "doc.json",
                                     "ContentType": "application/json"})
    status, _h, body = http_call("PUT", url, body=b"{}", headers={"Content-Type": "text/plain"})
    assert status == 403, body
    err = s3_error(body)
    assert err["Code"] == "SignatureDoesNotMatch"
    helpers.expect_error(s3.head_object, "404", 404, Bucket=bucket, Key="doc.json")


@pytest.mark.nimbus_only
def test_expired_presigned_url_is_access_denied(s3, s3v4, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"v")
    # Signed two hours ago, valid for one hour.
    url = presign(s3v4, "get_object", {"Bucket": bucket, "Key": "k"}, expires_s=3600,
                  at=utcnow() - dt.timedelta(hours=2))
    status, _h, body = http_call("GET", url)
    assert status == 403, body
    err = s3_error(body)
    assert err["Code"] == "AccessDenied"
    assert err["Message"] == EXPIRED_MSG
    # The same for a presigned PUT, and nothing is stored.
    url = presign(s3v4, "put_object", {"Bucket": bucket, "Key": "late"}, expires_s=60,
                  at=utcnow() - dt.timedelta(minutes=10))
    status, _h, body = http_call("PUT", url, body=b"too late")
    assert status == 403, body
    assert s3_error(body)["Code"] == "AccessDenied"
    helpers.expect_error(s3.head_object, "404", 404, Bucket=bucket, Key="late")


def test_presigned_url_still_valid_inside_its_window(s3, s3v4, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"v")
    url = presign(s3v4, "get_object", {"Bucket": bucket, "Key": "k"}, expires_s=3600,
                  at=utcnow() - dt.timedelta(minutes=30))
    status, _h, body = http_call("GET", url)
    assert (status, body) == (200, b"v")


@pytest.mark.nimbus_only
def test_tampered_presigned_signature_is_signature_does_not_match(s3, s3v4, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"v")
    url = tamper_signature(presign(s3v4, "get_object", {"Bucket": bucket, "Key": "k"}))
    status, _h, body = http_call("GET", url)
    assert status == 403, body
    err = s3_error(body)
    assert err["Code"] == "SignatureDoesNotMatch"
    assert err["Message"].startswith(SIG_MISMATCH_PREFIX), err["Message"]


@pytest.mark.nimbus_only
def test_presigned_url_for_another_key_does_not_match(s3, s3v4, bucket):
    s3.put_object(Bucket=bucket, Key="secret", Body=b"s")
    url = presign(s3v4, "get_object", {"Bucket": bucket, "Key": "public"})
    status, _h, body = http_call("GET", url.replace("/public?", "/secret?"))
    assert status == 403, body
    assert s3_error(body)["Code"] == "SignatureDoesNotMatch"


@pytest.mark.nimbus_only
def test_presigned_expires_over_seven_days_is_refused(s3, s3v4, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"v")
    url = presign(s3v4, "get_object", {"Bucket": bucket, "Key": "k"}, expires_s=604801)
    status, _h, body = http_call("GET", url)
    assert status == 400, body
    err = s3_error(body)
    assert err["Code"] == "AuthorizationQueryParametersError"
    # AWS's text (with or without the semicolon some of its front ends print).
    assert err["Message"].replace(";", "") == EXPIRES_TOO_LONG_MSG, err["Message"]
    # Exactly seven days is the maximum and is accepted.
    url = presign(s3v4, "get_object", {"Bucket": bucket, "Key": "k"}, expires_s=604800)
    status, _h, body = http_call("GET", url)
    assert (status, body) == (200, b"v")


# --------------------------------------------------------------------------- browser POST


def post_form(post: dict, data: bytes, filename: str = "hello.txt", extra: dict | None = None,
              content_type: str = "text/plain") -> requests.Response:
    """What a browser form sends: the policy fields, then the file last (S3 ignores fields
    after it)."""
    fields = dict(post["fields"])
    fields.update(extra or {})
    return requests.post(post["url"], data=fields,
                         files={"file": (filename, data, content_type)},
                         timeout=helpers.REQUEST_TIMEOUT_S)


def test_post_policy_upload(s3, s3v4, bucket):
    post = s3v4.generate_presigned_post(
        Bucket=bucket, Key="uploads/avatar.txt",
        Fields={"Content-Type": "text/plain", "x-amz-meta-user": "alice"},
        Conditions=[
            {"Content-Type": "text/plain"},
            {"x-amz-meta-user": "alice"},
            ["starts-with", "$key", "uploads/"],
            ["content-length-range", 1, 1024],
        ],
        ExpiresIn=300,
    )
    assert "policy" in post["fields"] and "x-amz-signature" in post["fields"]
    r = post_form(post, b"hello via a browser form")
    # The default success_action_status is 204, with the ETag and the Location.
    assert r.status_code == 204, r.text
    assert r.headers["ETag"] == '"%s"' % hashlib.md5(b"hello via a browser form").hexdigest()
    got = s3.get_object(Bucket=bucket, Key="uploads/avatar.txt")
    assert got["Body"].read() == b"hello via a browser form"
    assert got["ContentType"] == "text/plain"
    assert got["Metadata"] == {"user": "alice"}


def test_post_policy_success_action_status_201_and_filename_variable(s3, s3v4, bucket):
    post = s3v4.generate_presigned_post(
        Bucket=bucket, Key="incoming/${filename}",
        Fields={"success_action_status": "201"},
        Conditions=[["starts-with", "$key", "incoming/"], {"success_action_status": "201"}],
        ExpiresIn=300,
    )
    r = post_form(post, b"abc", filename="notes.md")
    assert r.status_code == 201, r.text
    doc = ET.fromstring(r.content)
    assert doc.tag == "PostResponse"
    values = {child.tag: child.text for child in doc}
    assert values["Bucket"] == bucket
    assert values["Key"] == "incoming/notes.md"
    assert values["ETag"] == '"%s"' % hashlib.md5(b"abc").hexdigest()
    assert values["Location"].endswith(f"/{bucket}/incoming/notes.md")
    assert s3.get_object(Bucket=bucket, Key="incoming/notes.md")["Body"].read() == b"abc"


@pytest.mark.nimbus_only
def test_post_policy_violated_condition_is_refused(s3, s3v4, bucket):
    post = s3v4.generate_presigned_post(
        Bucket=bucket, Key="uploads/a.txt",
        Conditions=[["starts-with", "$key", "uploads/"]],
        ExpiresIn=300,
    )
    # The form says another key than the policy allows.
    r = post_form(post, b"x", extra={"key": "elsewhere/a.txt"})
    assert r.status_code == 403, r.text
    err = s3_error(r.content)
    assert err["Code"] == "AccessDenied"
    assert err["Message"] == ('Invalid according to Policy: Policy Condition failed: '
                              '["starts-with", "$key", "uploads/"]'), err["Message"]
    helpers.expect_error(s3.head_object, "404", 404, Bucket=bucket, Key="elsewhere/a.txt")


@pytest.mark.nimbus_only
def test_post_policy_content_length_range(s3, s3v4, bucket):
    post = s3v4.generate_presigned_post(
        Bucket=bucket, Key="small.bin",
        Conditions=[["content-length-range", 1, 10]],
        ExpiresIn=300,
    )
    r = post_form(post, b"x" * 11)
    assert r.status_code == 400, r.text
    err = s3_error(r.content)
    assert err["Code"] == "EntityTooLarge"
    # AWS answers "...maximum allowed size" (its error table says "...object size.").
    assert err["Message"].startswith("Your proposed upload exceeds the maximum allowed"), err
    helpers.expect_error(s3.head_object, "404", 404, Bucket=bucket, Key="small.bin")
    r = post_form(post, b"x" * 10)
    assert r.status_code == 204, r.text


@pytest.mark.nimbus_only
def test_post_policy_expired_and_tampered(s3, s3v4, bucket):
    post = s3v4.generate_presigned_post(Bucket=bucket, Key="late.txt", ExpiresIn=-60)
    r = post_form(post, b"x")
    assert r.status_code == 403, r.text
    err = s3_error(r.content)
    assert err["Code"] == "AccessDenied"
    assert err["Message"] == "Invalid according to Policy: Policy expired."

    post = s3v4.generate_presigned_post(Bucket=bucket, Key="t.txt", ExpiresIn=300)
    sig = post["fields"]["x-amz-signature"]
    post["fields"]["x-amz-signature"] = sig[:-1] + ("0" if sig[-1] != "0" else "1")
    r = post_form(post, b"x")
    assert r.status_code == 403, r.text
    assert s3_error(r.content)["Code"] == "SignatureDoesNotMatch"
    helpers.expect_error(s3.head_object, "404", 404, Bucket=bucket, Key="t.txt")


def test_sdk_default_presigned_urls_sigv2_get_put_and_post(s3, bucket):
    """What boto3 hands a new user by default here: SigV2 query auth and a SigV2 POST
    policy. Both must work unchanged."""
    url = presign(s3, "put_object", {"Bucket": bucket, "Key": "v2.txt"})
    assert "AWSAccessKeyId=" in url and "Signature=" in url and "Expires=" in url
    status, _h, body = http_call("PUT", url, body=b"signed the old way")
    assert status == 200, body
    url = presign(s3, "get_object", {"Bucket": bucket, "Key": "v2.txt"})
    status, _h, body = http_call("GET", url)
    assert (status, body) == (200, b"signed the old way")

    post = s3.generate_presigned_post(Bucket=bucket, Key="v2-post.txt", ExpiresIn=300)
    assert "signature" in post["fields"] and "AWSAccessKeyId" in post["fields"]
    r = post_form(post, b"posted the old way")
    assert r.status_code == 204, r.text
    assert s3.get_object(Bucket=bucket, Key="v2-post.txt")["Body"].read() == b"posted the old way"


@pytest.mark.nimbus_only
def test_sdk_default_presigned_sigv2_expired_and_tampered(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"v")
    url = presign(s3, "get_object", {"Bucket": bucket, "Key": "k"}, expires_s=-60)
    status, _h, body = http_call("GET", url)
    assert status == 403, body
    err = s3_error(body)
    assert err["Code"] == "AccessDenied"
    assert err["Message"] == EXPIRED_MSG

    url = presign(s3, "get_object", {"Bucket": bucket, "Key": "k"})
    u = urllib.parse.urlsplit(url)
    q = dict(urllib.parse.parse_qsl(u.query))
    q["Signature"] = base64.b64encode(b"\x00" * 20).decode()
    bad = urllib.parse.urlunsplit(u._replace(query=urllib.parse.urlencode(q)))
    status, _h, body = http_call("GET", bad)
    assert status == 403, body
    assert s3_error(body)["Code"] == "SignatureDoesNotMatch"


# --------------------------------------------------------------------------- checksums


def crc32_b64(data: bytes) -> str:
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


def _crc32c_table() -> list[int]:
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_CRC32C = _crc32c_table()


def crc32c_b64(data: bytes) -> str:
    """CRC-32C (Castagnoli), as S3 encodes it: big-endian, base64 (pure Python: botocore
    needs awscrt for this one, and the test venv does not have it)."""
    c = 0xFFFFFFFF
    for byte in data:
        c = _CRC32C[(c ^ byte) & 0xFF] ^ (c >> 8)
    return base64.b64encode((c ^ 0xFFFFFFFF).to_bytes(4, "big")).decode()


def test_crc32c_reference_value():
    # RFC 3720's check value for "123456789" is 0xE3069283.
    assert crc32c_b64(b"123456789") == base64.b64encode(bytes.fromhex("e3069283")).decode()


def test_sdk_default_put_sends_crc32_which_is_stored_and_returned(s3, bucket):
    data = b"checksummed by default " * 100
    sent = {}

    def capture(request, **_):
        sent.update({k.lower(): v for k, v in request.headers.items()})

    s3.meta.events.register("before-send.s3.PutObject", capture)
    try:
        put = s3.put_object(Bucket=bucket, Key="crc", Body=data)
    finally:
        s3.meta.events.unregister("before-send.s3.PutObject", capture)
    # What the current SDK does by default (request_checksum_calculation=when_supported).
    want = crc32_b64(data)
    got_header = sent.get("x-amz-checksum-crc32")
    if isinstance(got_header, bytes):
        got_header = got_header.decode()
    assert got_header == want, sent
    assert put["ChecksumCRC32"] == want

    head = s3.head_object(Bucket=bucket, Key="crc", ChecksumMode="ENABLED")
    assert head["ChecksumCRC32"] == want
    got = s3.get_object(Bucket=bucket, Key="crc", ChecksumMode="ENABLED")
    assert got["ChecksumCRC32"] == want
    assert got["Body"].read() == data
    # Without ChecksumMode the checksum is not part of the response.
    assert "ChecksumCRC32" not in s3.head_object(Bucket=bucket, Key="crc")
    attrs = s3.get_object_attributes(Bucket=bucket, Key="crc", ObjectAttributes=["Checksum"])
    assert attrs["Checksum"]["ChecksumCRC32"] == want


def test_explicit_sha256_checksum(s3, bucket):
    data = b"sha256 me"
    want = base64.b64encode(hashlib.sha256(data).digest()).decode()
    put = s3.put_object(Bucket=bucket, Key="sha", Body=data, ChecksumAlgorithm="SHA256")
    assert put["ChecksumSHA256"] == want
    head = s3.head_object(Bucket=bucket, Key="sha", ChecksumMode="ENABLED")
    assert head["ChecksumSHA256"] == want
    assert "ChecksumCRC32" not in head


def test_explicit_crc32c_checksum_value(s3, bucket):
    data = b"castagnoli" * 1000
    want = crc32c_b64(data)
    put = s3.put_object(Bucket=bucket, Key="c", Body=data, ChecksumCRC32C=want)
    assert put["ChecksumCRC32C"] == want
    got = s3.get_object(Bucket=bucket, Key="c", ChecksumMode="ENABLED")
    assert got["ChecksumCRC32C"] == want
    assert got["Body"].read() == data


def test_wrong_checksum_is_bad_digest_and_nothing_is_stored(s3, bucket):
    data = b"the real bytes"
    helpers.expect_error(s3.put_object, "BadDigest", 400, Bucket=bucket, Key="bad",
                         Body=data, ChecksumCRC32C=crc32c_b64(b"other bytes"))
    helpers.expect_error(s3.put_object, "BadDigest", 400, Bucket=bucket, Key="bad",
                         Body=data, ChecksumSHA256=base64.b64encode(
                             hashlib.sha256(b"other").digest()).decode())
    helpers.expect_error(s3.head_object, "404", 404, Bucket=bucket, Key="bad")


def test_presigned_put_with_checksum_header(s3, s3v4, bucket):
    """A browser PUT through a presigned URL may add a checksum header of its own."""
    data = b"browser bytes"
    url = presign(s3v4, "put_object", {"Bucket": bucket, "Key": "b"})
    status, _h, body = http_call("PUT", url, body=data,
                                 headers={"x-amz-checksum-crc32": crc32_b64(data)})
    assert status == 200, body
    head = s3.head_object(Bucket=bucket, Key="b", ChecksumMode="ENABLED")
    assert head["ChecksumCRC32"] == crc32_b64(data)
