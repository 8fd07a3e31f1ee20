"""STS and IAM (query protocol): identities, users, roles, policies and access keys in
AWS's shapes and errors. Everything here needs nimbus itself."""

import datetime as dt
import json
import re

import pytest

import helpers

pytestmark = pytest.mark.nimbus_only

ACCOUNT = helpers.ACCOUNT
TRUST = {
    "Version": "2012-10-17",
    "Statement": [{
        "Effect": "Allow",
        "Principal": {"Service": "lambda.amazonaws.com"},
        "Action": "sts:AssumeRole",
    }],
}
POLICY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": "*"}],
}


expect_error = helpers.expect_error


def test_get_caller_identity_root(sts):
    ident = sts.get_caller_identity()
    assert ident["Account"] == ACCOUNT
    assert ident["Arn"] == f"arn:aws:iam::{ACCOUNT}:root"
    assert ident["UserId"] == ACCOUNT


def test_get_caller_identity_via_cli(endpoint):
    out = helpers.aws_cli(endpoint, "sts", "get-caller-identity")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["Account"] == ACCOUNT
    assert doc["Arn"] == f"arn:aws:iam::{ACCOUNT}:root"


def test_user_crud(iam, uniq):
    name = uniq("user")
    created = iam.create_user(UserName=name)["User"]
    assert created["UserName"] == name
    assert created["Path"] == "/"
    assert created["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/{name}"
    assert re.fullmatch(r"AIDA[A-Z0-9]{17}", created["UserId"]), created["UserId"]
    assert isinstance(created["CreateDate"], dt.datetime)

    got = iam.get_user(UserName=name)["User"]
    assert got["UserId"] == created["UserId"]
    assert got["Arn"] == created["Arn"]

    names = [u["UserName"] for u in iam.list_users(MaxItems=1000)["Users"]]
    assert name in names

    expect_error(iam.create_user, "EntityAlreadyExists", 409,
                 f"User with name {name} already exists.", UserName=name)

    iam.delete_user(UserName=name)
    expect_error(iam.get_user, "NoSuchEntity", 404,
                 f"The user with name {name} cannot be found.", UserName=name)
    expect_error(iam.delete_user, "NoSuchEntity", 404,
                 f"The user with name {name} cannot be found.", UserName=name)


def test_user_with_path(iam, uniq):
    name = uniq("pathuser")
    u = iam.create_user(UserName=name, Path="/team/")["User"]
    assert u["Path"] == "/team/"
    assert u["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/team/{name}"
    iam.delete_user(UserName=name)


def test_role_crud(iam, uniq):
    name = uniq("role")
    created = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST),
                              Description="for tests")["Role"]
    assert created["RoleName"] == name
    assert created["Path"] == "/"
    assert created["Arn"] == f"arn:aws:iam::{ACCOUNT}:role/{name}"
    assert re.fullmatch(r"AROA[A-Z0-9]{17}", created["RoleId"]), created["RoleId"]
    assert isinstance(created["CreateDate"], dt.datetime)

    got = iam.get_role(RoleName=name)["Role"]
    assert got["RoleId"] == created["RoleId"]
    # botocore URL-decodes and parses IAM policy documents.
    assert got["AssumeRolePolicyDocument"] == TRUST
    assert got.get("Description") == "for tests"

    assert name in [r["RoleName"] for r in iam.list_roles(MaxItems=1000)["Roles"]]
    expect_error(iam.create_role, "EntityAlreadyExists", 409,
                 f"Role with name {name} already exists.",
                 RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST))
    iam.delete_role(RoleName=name)
    expect_error(iam.get_role, "NoSuchEntity", 404,
                 f"The role with name {name} cannot be found.", RoleName=name)


def test_inline_policies(iam, uniq):
    user, role = uniq("u"), uniq("r")
    iam.create_user(UserName=user)
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(TRUST))

    iam.put_user_policy(UserName=user, PolicyName="p1", PolicyDocument=json.dumps(POLICY))
    got = iam.get_user_policy(UserName=user, PolicyName="p1")
    assert got["UserName"] == user and got["PolicyName"] == "p1"
    assert got["PolicyDocument"] == POLICY
    assert iam.list_user_policies(UserName=user)["PolicyNames"] == ["p1"]
    iam.delete_user_policy(UserName=user, PolicyName="p1")
    expect_error(iam.get_user_policy, "NoSuchEntity", 404,
                 "The user policy with name p1 cannot be found.", UserName=user, PolicyName="p1")

    iam.put_role_policy(RoleName=role, PolicyName="rp", PolicyDocument=json.dumps(POLICY))
    got = iam.get_role_policy(RoleName=role, PolicyName="rp")
    assert got["RoleName"] == role and got["PolicyDocument"] == POLICY
    assert iam.list_role_policies(RoleName=role)["PolicyNames"] == ["rp"]
    iam.delete_role_policy(RoleName=role, PolicyName="rp")
    expect_error(iam.get_role_policy, "NoSuchEntity", 404,
                 "The role policy with name rp cannot be found.", RoleName=role, PolicyName="rp")

    iam.delete_user(UserName=user)
    iam.delete_role(RoleName=role)


def test_managed_policy_lifecycle(iam, uniq):
    name, role = uniq("pol"), uniq("r")
    arn = f"arn:aws:iam::{ACCOUNT}:policy/{name}"
    pol = iam.create_policy(PolicyName=name, PolicyDocument=json.dumps(POLICY),
                            Description="d")["Policy"]
    assert pol["PolicyName"] == name
    assert pol["Arn"] == arn
    assert pol["Path"] == "/"
    assert pol["DefaultVersionId"] == "v1"
    assert pol["AttachmentCount"] == 0
    assert pol["IsAttachable"] is True
    assert re.fullmatch(r"ANPA[A-Z0-9]{17}", pol["PolicyId"]), pol["PolicyId"]

    version = iam.get_policy_version(PolicyArn=arn, VersionId="v1")["PolicyVersion"]
    assert version["Document"] == POLICY
    assert version["IsDefaultVersion"] is True

    expect_error(iam.create_policy, "EntityAlreadyExists", 409,
                 f"A policy called {name} already exists. Duplicate names are not allowed.",
                 PolicyName=name, PolicyDocument=json.dumps(POLICY))

    iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(TRUST))
    iam.attach_role_policy(RoleName=role, PolicyArn=arn)
    attached = iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]
    assert attached == [{"PolicyName": name, "PolicyArn": arn}]
    assert iam.get_policy(PolicyArn=arn)["Policy"]["AttachmentCount"] == 1
    listed = iam.list_policies(Scope="Local", MaxItems=1000)["Policies"]
    assert arn in [p["Arn"] for p in listed]

    iam.detach_role_policy(RoleName=role, PolicyArn=arn)
    assert iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"] == []
    iam.delete_policy(PolicyArn=arn)
    expect_error(iam.get_policy, "NoSuchEntity", 404, f"Policy {arn} was not found.",
                 PolicyArn=arn)
    iam.delete_role(RoleName=role)


def test_attach_user_policy(iam, uniq):
    name, user = uniq("pol"), uniq("u")
    arn = iam.create_policy(PolicyName=name, PolicyDocument=json.dumps(POLICY))["Policy"]["Arn"]
    iam.create_user(UserName=user)
    iam.attach_user_policy(UserName=user, PolicyArn=arn)
    assert iam.list_attached_user_policies(UserName=user)["AttachedPolicies"] == [
        {"PolicyName": name, "PolicyArn": arn}]
    iam.detach_user_policy(UserName=user, PolicyArn=arn)
    iam.delete_policy(PolicyArn=arn)
    iam.delete_user(UserName=user)


def test_access_keys_sign_as_the_user(endpoint, iam, uniq):
    user = uniq("keyuser")
    uid = iam.create_user(UserName=user)["User"]["UserId"]
    key = iam.create_access_key(UserName=user)["AccessKey"]
    assert key["UserName"] == user
    assert key["Status"] == "Active"
    assert re.fullmatch(r"AKIA[A-Z0-9]{16}", key["AccessKeyId"]), key["AccessKeyId"]
    assert len(key["SecretAccessKey"]) == 40
    assert isinstance(key["CreateDate"], dt.datetime)

    meta = iam.list_access_keys(UserName=user)["AccessKeyMetadata"]
    assert [(m["AccessKeyId"], m["Status"], m["UserName"]) for m in meta] == [
        (key["AccessKeyId"], "Active", user)]
    assert "SecretAccessKey" not in meta[0]

    creds = (key["AccessKeyId"], key["SecretAccessKey"])
    ident = helpers.client("sts", endpoint, key=creds).get_caller_identity()
    assert ident == {**ident, "Account": ACCOUNT, "UserId": uid,
                     "Arn": f"arn:aws:iam::{ACCOUNT}:user/{user}"}

    # A key nimbus knows is always verified, even on loopback.
    bad = helpers.client("sts", endpoint, key=(key["AccessKeyId"], "x" * 40))
    expect_error(bad.get_caller_identity, "SignatureDoesNotMatch", 403)
    bad_ddb = helpers.client("dynamodb", endpoint, key=(key["AccessKeyId"], "x" * 40))
    expect_error(bad_ddb.list_tables, "InvalidSignatureException", 400)

    # An inactive key is refused.
    iam.update_access_key(UserName=user, AccessKeyId=key["AccessKeyId"], Status="Inactive")
    inactive = helpers.client("sts", endpoint, key=creds)
    expect_error(inactive.get_caller_identity, "InvalidClientTokenId", 403)

    expect_error(iam.delete_user, "DeleteConflict", 409, UserName=user)
    iam.delete_access_key(UserName=user, AccessKeyId=key["AccessKeyId"])
    assert iam.list_access_keys(UserName=user)["AccessKeyMetadata"] == []
    iam.delete_user(UserName=user)

