"""Lambda control plane against the real binary: functions, versions, aliases, layers,
permissions, URL configs, event invoke configs, concurrency, tags, account settings.
Nothing here runs a function (see test_lambda_invoke.py)."""

from __future__ import annotations

import base64
import hashlib
import json

import pytest
import requests

from helpers import ACCOUNT, aws_cli, expect_error, unique_name
from lambda_fixtures.support import create_function, handler_zip

pytestmark = pytest.mark.nimbus_only

ARN = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function"


def test_create_get_list_delete(lam, role):
    zip_bytes = handler_zip("echo.py")
    name = unique_name("fn")
    created = lam.create_function(FunctionName=name, Runtime="python3.12", Role=role,
                                  Handler="index.handler", Code={"ZipFile": zip_bytes},
                                  Description="d", Timeout=10, MemorySize=256,
                                  Environment={"Variables": {"GREETING": "hi"}},
                                  Tags={"team": "a"})
    assert created["FunctionArn"] == f"{ARN}:{name}"
    assert created["State"] == "Pending"
    assert created["StateReasonCode"] == "Creating"
    assert created["CodeSize"] == len(zip_bytes)
    assert created["CodeSha256"] == base64.b64encode(hashlib.sha256(zip_bytes).digest()).decode()
    assert created["Version"] == "$LATEST"
    assert created["Timeout"] == 10 and created["MemorySize"] == 256
    assert created["Environment"] == {"Variables": {"GREETING": "hi"}}
    assert created["PackageType"] == "Zip"
    assert created["Architectures"] == ["x86_64"]
    assert created["EphemeralStorage"] == {"Size": 512}
    assert created["LoggingConfig"]["LogGroup"] == f"/aws/lambda/{name}"

    got = lam.get_function(FunctionName=name)
    assert got["Configuration"]["State"] == "Active"
    assert got["Configuration"]["LastUpdateStatus"] == "Successful"
    assert got["Tags"] == {"team": "a"}
    assert got["Code"]["RepositoryType"] == "S3"
    # Code.Location serves the package itself.
    r = requests.get(got["Code"]["Location"], timeout=10)
    assert r.status_code == 200
    assert r.content == zip_bytes

    by_arn = lam.get_function_configuration(FunctionName=f"{ARN}:{name}")
    assert by_arn["FunctionName"] == name

    names = [f["FunctionName"] for f in lam.list_functions(MaxItems=1000)["Functions"]]
    assert name in names

    expect_error(lam.create_function, "ResourceConflictException", 409,
                 f"Function already exist: {name}", FunctionName=name, Runtime="python3.12",
                 Role=role, Handler="index.handler", Code={"ZipFile": zip_bytes})

    lam.delete_function(FunctionName=name)
    expect_error(lam.get_function, "ResourceNotFoundException", 404,
                 f"Function not found: {ARN}:{name}", FunctionName=name)
    expect_error(lam.delete_function, "ResourceNotFoundException", 404,
                 f"Function not found: {ARN}:{name}", FunctionName=name)


def test_validation_messages(lam, role):
    z = handler_zip("echo.py")
    expect_error(lam.create_function, "InvalidParameterValueException", 400,
                 "The role defined for the function cannot be assumed by Lambda.",
                 FunctionName=unique_name("fn"), Runtime="python3.12",
                 Role=f"arn:aws:iam::{ACCOUNT}:role/does-not-exist", Handler="index.handler",
                 Code={"ZipFile": z})
    expect_error(lam.create_function, "InvalidParameterValueException", 400,
                 "Could not unzip uploaded file. Please check your file, then try to upload again.",
                 FunctionName=unique_name("fn"), Runtime="python3.12", Role=role,
                 Handler="index.handler", Code={"ZipFile": b"definitely not a zip"})
    err = expect_error(lam.create_function, "InvalidParameterValueException", 400,
                       FunctionName=unique_name("fn"), Runtime="python3.12", Role=role,
                       Handler="index.handler", Code={"ZipFile": z},
                       Environment={"Variables": {"AWS_REGION": "x"}})
    assert "Reserved keys used in this request: AWS_REGION" in err.response["Error"]["Message"]
    err = expect_error(lam.create_function, "InvalidParameterValueException", 400,
                       FunctionName=unique_name("fn"), Runtime="python3.12", Role=role,
                       Handler="index.handler", Code={"ZipFile": z},
                       Environment={"Variables": {"BIG": "x" * 5000}})
    assert "exceeded the 4KB limit" in err.response["Error"]["Message"]
    expect_error(lam.create_function, "ValidationException", 400,
                 "1 validation error detected: Value '901' at 'timeout' failed to satisfy "
                 "constraint: Member must have value less than or equal to 900",
                 FunctionName=unique_name("fn"), Runtime="python3.12", Role=role,
                 Handler="index.handler", Code={"ZipFile": z}, Timeout=901)
    expect_error(lam.create_function, "ValidationException", 400,
                 FunctionName=unique_name("fn"), Runtime="python3.12", Role=role,
                 Handler="index.handler", Code={"ZipFile": z}, MemorySize=10241)


def test_update_publish_versions_aliases(lam, role):
    name = create_function(lam, role)
    upd = lam.update_function_configuration(FunctionName=name, Timeout=20,
                                            Environment={"Variables": {"AA": "1"}})
    assert upd["Timeout"] == 20
    assert upd["LastUpdateStatus"] == "InProgress"
    assert lam.get_function_configuration(FunctionName=name)["LastUpdateStatus"] == "Successful"

    v1 = lam.publish_version(FunctionName=name, Description="first")
    assert v1["Version"] == "1"
    assert v1["FunctionArn"] == f"{ARN}:{name}:1"
    assert v1["Description"] == "first"
    # Nothing changed since: the same version comes back.
    assert lam.publish_version(FunctionName=name)["Version"] == "1"

    new_zip = handler_zip("fail.py")
    uc = lam.update_function_code(FunctionName=name, ZipFile=new_zip, Publish=True)
    assert uc["Version"] == "2"
    assert uc["CodeSize"] == len(new_zip)
    versions = [v["Version"] for v in lam.list_versions_by_function(FunctionName=name)["Versions"]]
    assert versions == ["$LATEST", "1", "2"]

    # Revision ids guard concurrent updates.
    expect_error(lam.update_function_configuration, "PreconditionFailedException", 412,
                 FunctionName=name, Timeout=5, RevisionId="not-the-revision")

    alias = lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1",
                             RoutingConfig={"AdditionalVersionWeights": {"2": 0.25}})
    assert alias["AliasArn"] == f"{ARN}:{name}:live"
    assert alias["RoutingConfig"]["AdditionalVersionWeights"] == {"2": 0.25}
    expect_error(lam.create_alias, "ResourceConflictException", 409,
                 f"Alias already exists: {ARN}:{name}:live",
                 FunctionName=name, Name="live", FunctionVersion="1")
    expect_error(lam.create_alias, "ResourceNotFoundException", 404,
                 f"Function not found: {ARN}:{name}:9",
                 FunctionName=name, Name="other", FunctionVersion="9")
    upd_alias = lam.update_alias(FunctionName=name, Name="live", FunctionVersion="2",
                                 RoutingConfig={"AdditionalVersionWeights": {}})
    assert upd_alias["FunctionVersion"] == "2"
    assert lam.get_function_configuration(FunctionName=name, Qualifier="live")["Version"] == "2"
    assert [a["Name"] for a in lam.list_aliases(FunctionName=name)["Aliases"]] == ["live"]
    expect_error(lam.delete_function, "ResourceConflictException", 409,
                 FunctionName=name, Qualifier="2")
    expect_error(lam.get_alias, "ResourceNotFoundException", 404,
                 f"Cannot find alias arn: {ARN}:{name}:nope", FunctionName=name, Name="nope")

    lam.delete_function(FunctionName=name, Qualifier="1")
    versions = [v["Version"] for v in lam.list_versions_by_function(FunctionName=name)["Versions"]]
    assert versions == ["$LATEST", "2"]
    # Version numbers are not reused after a delete.
    lam.update_function_configuration(FunctionName=name, Timeout=7)
    assert lam.publish_version(FunctionName=name)["Version"] == "3"
    lam.delete_alias(FunctionName=name, Name="live")
    assert lam.list_aliases(FunctionName=name)["Aliases"] == []


def test_list_functions_pagination_and_all_versions(lam, role):
    prefix = unique_name("page")
    names = sorted(create_function(lam, role, name=f"{prefix}-{i}") for i in range(5))
    lam.publish_version(FunctionName=names[0])
    seen, marker = [], None
    while True:
        kw = {"MaxItems": 2}
        if marker:
            kw["Marker"] = marker
        page = lam.list_functions(**kw)
        assert len(page["Functions"]) <= 2
        seen += [f["FunctionName"] for f in page["Functions"]]
        marker = page.get("NextMarker")
        if not marker:
            break
    assert [n for n in seen if n.startswith(prefix)] == names
    everything = lam.list_functions(FunctionVersion="ALL", MaxItems=10000)["Functions"]
    mine = [(f["FunctionName"], f["Version"]) for f in everything if f["FunctionName"] == names[0]]
    assert mine == [(names[0], "$LATEST"), (names[0], "1")]


def test_layers(lam, role):
    layer = unique_name("lyr")
    z = handler_zip("layermod.py", "python/layermod")
    v1 = lam.publish_layer_version(LayerName=layer, Content={"ZipFile": z},
                                   CompatibleRuntimes=["python3.11", "python3.12"],
                                   Description="one")
    assert v1["Version"] == 1
    assert v1["LayerVersionArn"] == f"arn:aws:lambda:us-east-1:{ACCOUNT}:layer:{layer}:1"
    assert v1["Content"]["CodeSize"] == len(z)
    v2 = lam.publish_layer_version(LayerName=layer, Content={"ZipFile": z})
    assert v2["Version"] == 2
    got = lam.get_layer_version(LayerName=layer, VersionNumber=1)
    assert got["Description"] == "one"
    assert requests.get(got["Content"]["Location"], timeout=10).content == z
    by_arn = lam.get_layer_version_by_arn(Arn=v1["LayerVersionArn"])
    assert by_arn["Version"] == 1
    versions = [v["Version"] for v in lam.list_layer_versions(LayerName=layer)["LayerVersions"]]
    assert versions == [2, 1]
    listed = {l["LayerName"]: l for l in lam.list_layers()["Layers"]}
    assert listed[layer]["LatestMatchingVersion"]["Version"] == 2

    fn = create_function(lam, role, "uselayer.py", Layers=[v1["LayerVersionArn"]])
    cfg = lam.get_function_configuration(FunctionName=fn)
    assert cfg["Layers"] == [{"Arn": v1["LayerVersionArn"], "CodeSize": len(z)}]
    missing = f"arn:aws:lambda:us-east-1:{ACCOUNT}:layer:{layer}:99"
    expect_error(lam.update_function_configuration, "InvalidParameterValueException", 400,
                 f"Layer version {missing} does not exist.", FunctionName=fn, Layers=[missing])

    lam.delete_layer_version(LayerName=layer, VersionNumber=1)
    expect_error(lam.get_layer_version, "ResourceNotFoundException", 404,
                 LayerName=layer, VersionNumber=1)
    # The function keeps its copy.
    assert lam.get_function_configuration(FunctionName=fn)["Layers"][0]["Arn"] == v1["LayerVersionArn"]


def test_permissions_and_policy(lam, role):
    fn = create_function(lam, role)
    st = json.loads(lam.add_permission(FunctionName=fn, StatementId="s3invoke",
                                       Action="lambda:InvokeFunction", Principal="s3.amazonaws.com",
                                       SourceArn="arn:aws:s3:::my-bucket",
                                       SourceAccount=ACCOUNT)["Statement"])
    assert st == {
        "Sid": "s3invoke", "Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"},
        "Action": "lambda:InvokeFunction", "Resource": f"{ARN}:{fn}",
        "Condition": {"StringEquals": {"AWS:SourceAccount": ACCOUNT},
                      "ArnLike": {"AWS:SourceArn": "arn:aws:s3:::my-bucket"}},
    }
    expect_error(lam.add_permission, "ResourceConflictException", 409,
                 "The statement id (sid) provided already exists. Please provide a new statement "
                 "id, or remove the existing statement.",
                 FunctionName=fn, StatementId="s3invoke", Action="lambda:InvokeFunction",
                 Principal="*")
    pol = lam.get_policy(FunctionName=fn)
    doc = json.loads(pol["Policy"])
    assert doc["Version"] == "2012-10-17"
    assert [s["Sid"] for s in doc["Statement"]] == ["s3invoke"]
    assert pol["RevisionId"]
    lam.remove_permission(FunctionName=fn, StatementId="s3invoke")
    expect_error(lam.get_policy, "ResourceNotFoundException", 404, FunctionName=fn)
    expect_error(lam.remove_permission, "ResourceNotFoundException", 404,
                 FunctionName=fn, StatementId="s3invoke")


def test_url_configs(lam, role):
    fn = create_function(lam, role)
    cfg = lam.create_function_url_config(FunctionName=fn, AuthType="NONE",
                                         Cors={"AllowOrigins": ["https://a.example"]})
    assert cfg["AuthType"] == "NONE"
    assert cfg["FunctionArn"] == f"{ARN}:{fn}"
    assert cfg["FunctionUrl"].startswith("http")
    assert cfg["Cors"]["AllowOrigins"] == ["https://a.example"]
    expect_error(lam.create_function_url_config, "ResourceConflictException", 409,
                 FunctionName=fn, AuthType="NONE")
    got = lam.get_function_url_config(FunctionName=fn)
    assert got["FunctionUrl"] == cfg["FunctionUrl"]
    upd = lam.update_function_url_config(FunctionName=fn, AuthType="AWS_IAM")
    assert upd["AuthType"] == "AWS_IAM"
    listed = lam.list_function_url_configs(FunctionName=fn)["FunctionUrlConfigs"]
    assert [c["FunctionUrl"] for c in listed] == [cfg["FunctionUrl"]]
    lam.delete_function_url_config(FunctionName=fn)
    expect_error(lam.get_function_url_config, "ResourceNotFoundException", 404, FunctionName=fn)


def test_event_invoke_config(lam, role):
    fn = create_function(lam, role)
    dest = create_function(lam, role)
    put = lam.put_function_event_invoke_config(
        FunctionName=fn, MaximumRetryAttempts=1,
        DestinationConfig={"OnFailure": {"Destination": f"{ARN}:{dest}"}})
    assert put["FunctionArn"] == f"{ARN}:{fn}:$LATEST"
    assert put["MaximumRetryAttempts"] == 1
    upd = lam.update_function_event_invoke_config(FunctionName=fn, MaximumEventAgeInSeconds=300)
    assert upd["MaximumRetryAttempts"] == 1 and upd["MaximumEventAgeInSeconds"] == 300
    assert upd["DestinationConfig"]["OnFailure"]["Destination"] == f"{ARN}:{dest}"
    listed = lam.list_function_event_invoke_configs(FunctionName=fn)["FunctionEventInvokeConfigs"]
    assert len(listed) == 1
    lam.delete_function_event_invoke_config(FunctionName=fn)
    expect_error(lam.get_function_event_invoke_config, "ResourceNotFoundException", 404,
                 f"The function {ARN}:{fn}:$LATEST doesn't have an EventInvokeConfig",
                 FunctionName=fn)


def test_concurrency_tags_account(lam, role):
    fn = create_function(lam, role)
    assert "ReservedConcurrentExecutions" not in lam.get_function_concurrency(FunctionName=fn)
    put = lam.put_function_concurrency(FunctionName=fn, ReservedConcurrentExecutions=5)
    assert put["ReservedConcurrentExecutions"] == 5
    assert lam.get_function_concurrency(FunctionName=fn)["ReservedConcurrentExecutions"] == 5
    assert lam.get_function(FunctionName=fn)["Concurrency"] == {"ReservedConcurrentExecutions": 5}
    err = expect_error(lam.put_function_concurrency, "InvalidParameterValueException", 400,
                       FunctionName=fn, ReservedConcurrentExecutions=950)
    assert "minimum value of [100]" in err.response["Error"]["Message"]
    settings = lam.get_account_settings()
    assert settings["AccountLimit"]["ConcurrentExecutions"] == 1000
    assert settings["AccountLimit"]["CodeSizeZipped"] == 52428800
    assert settings["AccountLimit"]["CodeSizeUnzipped"] == 262144000
    assert settings["AccountLimit"]["UnreservedConcurrentExecutions"] <= 995
    assert settings["AccountUsage"]["FunctionCount"] >= 1
    lam.delete_function_concurrency(FunctionName=fn)
    assert "ReservedConcurrentExecutions" not in lam.get_function_concurrency(FunctionName=fn)

    arn = f"{ARN}:{fn}"
    lam.tag_resource(Resource=arn, Tags={"a": "1", "b": "2"})
    assert lam.list_tags(Resource=arn)["Tags"] == {"a": "1", "b": "2"}
    lam.untag_resource(Resource=arn, TagKeys=["a"])
    assert lam.list_tags(Resource=arn)["Tags"] == {"b": "2"}


def test_cli_create_and_waiters(endpoint, role, tmp_path):
    """The AWS CLI's create-function and its waiters (function-active-v2,
    function-updated-v2) work unchanged."""
    name = unique_name("cli")
    zpath = tmp_path / "f.zip"
    zpath.write_bytes(handler_zip("echo.py"))
    r = aws_cli(endpoint, "lambda", "create-function", "--function-name", name,
                "--runtime", "python3.12", "--role", role, "--handler", "index.handler",
                "--zip-file", f"fileb://{zpath}")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["State"] == "Pending"
    r = aws_cli(endpoint, "lambda", "wait", "function-active-v2", "--function-name", name)
    assert r.returncode == 0, r.stderr
    r = aws_cli(endpoint, "lambda", "update-function-configuration", "--function-name", name,
                "--memory-size", "512")
    assert r.returncode == 0, r.stderr
    r = aws_cli(endpoint, "lambda", "wait", "function-updated-v2", "--function-name", name)
    assert r.returncode == 0, r.stderr
    r = aws_cli(endpoint, "lambda", "get-function-configuration", "--function-name", name)
    assert json.loads(r.stdout)["MemorySize"] == 512
