"""Shared helpers of the Lambda black-box tests: fixture zips, the execution role, a
function factory."""

from __future__ import annotations

import io
import json
import os
import zipfile

from helpers import unique_name

FIXTURES = os.path.dirname(os.path.abspath(__file__))

TRUST_POLICY = json.dumps({
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                   "Action": "sts:AssumeRole"}],
})


def fixture_zip(files: dict[str, str]) -> bytes:
    """A zip of fixture files: {name in zip: fixture file name}."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for arcname, fixture in files.items():
            with open(os.path.join(FIXTURES, fixture), "rb") as f:
                info = zipfile.ZipInfo(arcname)
                info.external_attr = 0o644 << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                z.writestr(info, f.read())
    return buf.getvalue()


def handler_zip(fixture: str, module: str = "index") -> bytes:
    """A package with one fixture as `<module>.py` (or `.mjs` for Node)."""
    ext = os.path.splitext(fixture)[1]
    return fixture_zip({f"{module}{ext}": fixture})


def make_role(iam) -> str:
    name = unique_name("lambda-role")
    return iam.create_role(RoleName=name, AssumeRolePolicyDocument=TRUST_POLICY)["Role"]["Arn"]


def create_function(lam, role: str, fixture: str = "echo.py", name: str | None = None,
                    runtime: str = "python3.11", **kwargs) -> str:
    name = name or unique_name("fn")
    lam.create_function(FunctionName=name, Runtime=runtime, Role=role,
                        Handler=kwargs.pop("Handler", "index.handler"),
                        Code={"ZipFile": kwargs.pop("zip", None) or handler_zip(fixture)},
                        **kwargs)
    return name
