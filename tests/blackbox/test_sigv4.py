"""SigV4 verification as AWS does it, with AWS's errors for DynamoDB (awsJson) and STS (query)."""

import datetime as dt
import re

import botocore.exceptions
import pytest

import helpers

SIG_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. "
    "Consult the service documentation for details."
)
STAMP = "%Y%m%dT%H%M%SZ"


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def parse_stamp(s: str) -> dt.datetime:
    return dt.datetime.strptime(s, STAMP)


def list_tables_raw(endpoint, **kw):
    return helpers.raw_json_request(endpoint, "ListTables", {"Limit": 1}, **kw)


@pytest.mark.nimbus_only
def test_root_test_test_is_verified_and_accepted(endpoint):
    r = list_tables_raw(endpoint, key=("test", "test"))
    assert r.status == 200, r.body
    assert "TableNames" in r.json


@pytest.mark.nimbus_only
def test_wrong_secret_dynamodb(endpoint):
    ddb = helpers.client("dynamodb", endpoint, key=("test", "not-the-secret"))
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        ddb.list_tables()
    code, msg = helpers.error_of(ei.value)
    assert code == "InvalidSignatureException"
    assert msg.startswith(SIG_MISMATCH), msg
    assert helpers.status_of(ei.value) == 400


@pytest.mark.nimbus_only
def test_wrong_secret_sts(endpoint):
    sts = helpers.client("sts", endpoint, key=("test", "not-the-secret"))
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        sts.get_caller_identity()
    code, msg = helpers.error_of(ei.value)
    assert code == "SignatureDoesNotMatch"
    assert msg.startswith(SIG_MISMATCH), msg
    assert helpers.status_of(ei.value) == 403


@pytest.mark.nimbus_only
def test_body_tampered_after_signing(endpoint):
    body = b'{"Limit": 1}'
    url = endpoint + "/"
    headers = helpers.sign("POST", url, body, {
        "Content-Type": "application/x-amz-json-1.0",
        "X-Amz-Target": "DynamoDB_20120810.ListTables",
    }, "dynamodb")
    r = helpers.raw_request("POST", url, b'{"Limit": 2}', headers, key=None)
    assert r.status == 400
    assert r.error_type == "InvalidSignatureException"
    assert r.message.startswith(SIG_MISMATCH)


@pytest.mark.nimbus_only
def test_signature_expired(endpoint):
    signed_at = utcnow() - dt.timedelta(minutes=20)
    r = list_tables_raw(endpoint, at=signed_at)
    assert r.status == 400
    assert r.error_type == "InvalidSignatureException"
    m = re.fullmatch(
        r"Signature expired: (\d{8}T\d{6}Z) is now earlier than (\d{8}T\d{6}Z) "
        r"\((\d{8}T\d{6}Z) - 15 min\.\)",
        r.message,
    )
    assert m, r.message
    assert m.group(1) == signed_at.strftime(STAMP)
    earliest, now = parse_stamp(m.group(2)), parse_stamp(m.group(3))
    assert now - earliest == dt.timedelta(minutes=15)
    assert abs((now - utcnow()).total_seconds()) < 60


@pytest.mark.nimbus_only
def test_signature_from_the_future(endpoint):
    signed_at = utcnow() + dt.timedelta(minutes=20)
    r = list_tables_raw(endpoint, at=signed_at)
    assert r.status == 400
    assert r.error_type == "InvalidSignatureException"
    m = re.fullmatch(
        r"Signature not yet current: (\d{8}T\d{6}Z) is still later than (\d{8}T\d{6}Z) "
        r"\((\d{8}T\d{6}Z) \+ 15 min\.\)",
        r.message,
    )
    assert m, r.message
    assert m.group(1) == signed_at.strftime(STAMP)
    latest, now = parse_stamp(m.group(2)), parse_stamp(m.group(3))
    assert latest - now == dt.timedelta(minutes=15)


@pytest.mark.nimbus_only
def test_skew_within_fifteen_minutes_is_fine(endpoint):
    for minutes in (-10, 10):
        r = list_tables_raw(endpoint, at=utcnow() + dt.timedelta(minutes=minutes))
        assert r.status == 200, (minutes, r.body)


def test_unsigned_request(endpoint):
    r = list_tables_raw(endpoint, key=None)
    assert r.status == 400
    assert r.error_type == "MissingAuthenticationTokenException"
    assert r.message == "Request is missing Authentication Token"


def test_authorization_missing_signature_parts(endpoint):
    auth = "AWS4-HMAC-SHA256 Credential=test/20240101/us-east-1/dynamodb/aws4_request"
    r = helpers.raw_json_request(endpoint, "ListTables", {}, key=None, headers={
        "Authorization": auth,
        "X-Amz-Date": utcnow().strftime(STAMP),
    })
    assert r.status == 400
    assert r.error_type == "IncompleteSignatureException"
    assert r.message == (
        "Authorization header requires 'Signature' parameter. "
        "Authorization header requires 'SignedHeaders' parameter. "
        f"Authorization={auth}"
    )


def test_authorization_without_date(endpoint):
    auth = ("AWS4-HMAC-SHA256 Credential=test/20240101/us-east-1/dynamodb/aws4_request, "
            "SignedHeaders=host, Signature=" + "0" * 64)
    r = helpers.raw_json_request(endpoint, "ListTables", {}, key=None,
                                 headers={"Authorization": auth})
    assert r.status == 400
    assert r.error_type == "IncompleteSignatureException"
    assert r.message == (
        "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. "
        f"Authorization={auth}"
    )


@pytest.mark.nimbus_only
def test_unknown_key_on_loopback_is_root(endpoint):
    ddb = helpers.client("dynamodb", endpoint, key=helpers.DUMMY_KEY)
    assert "TableNames" in ddb.list_tables(Limit=1)
    sts = helpers.client("sts", endpoint, key=helpers.DUMMY_KEY)
    ident = sts.get_caller_identity()
    assert ident["Account"] == helpers.ACCOUNT
    assert ident["Arn"] == f"arn:aws:iam::{helpers.ACCOUNT}:root"


@pytest.mark.nimbus_only
def test_unknown_key_signature_not_checked_on_loopback(endpoint):
    """LocalStack-style setups send anything; an unknown key's signature is not checked."""
    auth = ("AWS4-HMAC-SHA256 Credential=AKIDSOMETHINGUNKNOWN/20240101/us-east-1/dynamodb/"
            "aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, "
            "Signature=" + "0" * 64)
    r = helpers.raw_json_request(endpoint, "ListTables", {"Limit": 1}, key=None, headers={
        "Authorization": auth,
        "X-Amz-Date": utcnow().strftime(STAMP),
    })
    assert r.status == 200, r.body
