"""ragstack.aws.lambda_image_function against the session's moto, through ansible-playbook:
created, kept without a single update call, changed only in what differs, a zip function
refused, deleted.

moto 5.2 gaps, by name: GetFunction has no RevisionId, and UpdateFunctionCode leaves
LastModified as it was, so neither can show that an update call was made. What does show it
is PublishVersion, in moto as in AWS: it publishes a new version only when the code or
configuration changed since the last one, and returns that last one otherwise.
"""

from __future__ import annotations

import io
import json
import os
import uuid
import zipfile
from pathlib import Path

import pytest
from conftest import AWS_REGION, REPO_ROOT

ECR = f"123456789012.dkr.ecr.{AWS_REGION}.amazonaws.com/ragstack/embedding-service-lambda"
TRUST_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}


class ModuleRunner:
    """Runs the module once per call in a one-task playbook (through the arch tests' runner,
    which points ragstack_aws_endpoint_url at the session's moto) and returns its result."""

    def __init__(self, run_playbook, workdir: Path):
        self.run_playbook = run_playbook
        self.workdir = workdir
        self.calls = 0

    def __call__(self, args: dict, *flags: str) -> dict:
        self.calls += 1
        playbook = self.workdir / f"call{self.calls}.yml"
        result_file = self.workdir / f"result{self.calls}.json"
        module_args = {
            **args,
            "endpoint_url": "{{ ragstack_aws_endpoint_url }}",
            "access_key": "testing",
            "secret_key": "testing",
            "region": AWS_REGION,
        }
        play = [
            {
                "name": "Run ragstack.aws.lambda_image_function once",
                "hosts": "localhost",
                "connection": "local",
                "gather_facts": False,
                "tasks": [
                    {
                        "name": "The module",
                        "ragstack.aws.lambda_image_function": module_args,
                        "register": "result",
                        "ignore_errors": True,
                    },
                    {
                        "name": "Keep the result",
                        "ansible.builtin.copy": {
                            "content": "{{ result | to_json }}",
                            "dest": str(result_file),
                            "mode": "0600",
                        },
                        "check_mode": False,
                    },
                ],
            }
        ]
        playbook.write_text(json.dumps(play, indent=1))  # JSON is YAML
        # run_playbook runs playbooks/<name>: the way from there to this one.
        run = self.run_playbook(os.path.relpath(playbook, REPO_ROOT / "playbooks"), *flags)
        assert run.rc == 0, run.output[-6000:]
        return json.loads(result_file.read_text())


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context):\n    return {}\n")
    return buffer.getvalue()


@pytest.fixture
def names(aws):
    """A role for the functions, unique function names; everything removed afterwards."""
    suffix = uuid.uuid4().hex[:8]
    iam = aws("iam")
    role = iam.create_role(
        RoleName=f"lambda-image-function-test-{suffix}",
        AssumeRolePolicyDocument=json.dumps(TRUST_POLICY),
    )["Role"]
    names = {
        "role": role["Arn"],
        "image": f"lambda-image-function-test-{suffix}",
        "zip": f"lambda-zip-function-test-{suffix}",
    }
    yield names
    client = aws("lambda")
    existing = {f["FunctionName"] for f in client.list_functions()["Functions"]}
    for name in {names["image"], names["zip"]} & existing:
        client.delete_function(FunctionName=name)
    iam.delete_role(RoleName=role["RoleName"])


def test_image_function_created_kept_updated_refused_deleted(run_playbook, aws, names, tmp_path):
    run = ModuleRunner(run_playbook, tmp_path)
    client = aws("lambda")
    name = names["image"]
    args = {
        "name": name,
        "image_uri": f"{ECR}:aaaaaaaaaaaa",
        "role": names["role"],
        "memory_size": 2048,
        "timeout": 30,
        "description": "module test",
        "environment_variables": {"EMBEDDING_PROVIDER": "local", "DATA_DIR": "/tmp/data"},
        "tags": {"project": "ragstack", "env": "test"},
    }

    def function() -> dict:
        return client.get_function(FunctionName=name)

    def existing() -> set[str]:
        return {f["FunctionName"] for f in client.list_functions()["Functions"]}

    # 1. Check mode, function absent: a change is reported, nothing is created.
    checked = run(args, "--check")
    assert checked["changed"] is True
    assert checked["updated"] == ["created"]
    assert checked["image_uri"] == args["image_uri"]
    assert name not in existing()

    # 2. Created: an image function running the URI, published as version 1.
    created = run(args)
    assert created["changed"] is True, created
    assert created["updated"] == ["created"]
    first = function()
    configuration = first["Configuration"]
    assert configuration["PackageType"] == "Image"
    assert first["Code"]["ImageUri"] == args["image_uri"]
    assert created["image_uri"] == args["image_uri"]
    assert configuration["State"] == "Active"
    assert configuration["MemorySize"] == 2048
    assert configuration["Timeout"] == 30
    assert configuration["Role"] == names["role"]
    assert configuration["Architectures"] == ["x86_64"]
    assert configuration["Environment"]["Variables"] == args["environment_variables"]
    assert first["Tags"] == args["tags"]
    assert created["configuration"]["package_type"] == "Image"
    # Environment variable names come back as they are, not snake_cased.
    assert created["configuration"]["environment"]["variables"] == args["environment_variables"]
    versions = [
        v["Version"] for v in client.list_versions_by_function(FunctionName=name)["Versions"]
    ]
    assert versions == ["$LATEST", "1"]

    # 3. Check mode on the converged function: nothing to do.
    checked = run(args, "--check")
    assert checked["changed"] is False, checked
    assert checked["updated"] == []

    # 4. Applied again: no change, and no update call reached moto.
    again = run(args)
    assert again["changed"] is False, again
    assert again["updated"] == []
    second = function()
    keep = ("LastModified", "RevisionId", "CodeSha256", "MemorySize", "Environment")
    assert {k: second["Configuration"].get(k) for k in keep} == {
        k: configuration.get(k) for k in keep
    }
    assert second["Code"] == first["Code"]
    # The call that would show an update (see the docstring): version 1 is still the latest.
    assert client.publish_version(FunctionName=name)["Version"] == "1"

    # 5. A new image: the code is updated, the configuration is not.
    new_image = {**args, "image_uri": f"{ECR}:bbbbbbbbbbbb"}
    updated = run(new_image)
    assert updated["changed"] is True
    assert updated["updated"] == ["code"]
    assert updated["image_uri"] == new_image["image_uri"]
    third = function()
    assert third["Code"]["ImageUri"] == new_image["image_uri"]
    assert third["Configuration"]["CodeSha256"] != configuration["CodeSha256"]
    assert third["Configuration"]["MemorySize"] == 2048
    # The detector of step 4 sees an update: a new version is published.
    assert client.publish_version(FunctionName=name)["Version"] == "2"

    # 6. Memory only: the configuration is updated, the code is not.
    more_memory = {**new_image, "memory_size": 3008}
    updated = run(more_memory)
    assert updated["changed"] is True
    assert updated["updated"] == ["configuration"]
    fourth = function()
    assert fourth["Configuration"]["MemorySize"] == 3008
    assert fourth["Code"] == third["Code"]
    assert fourth["Configuration"]["CodeSha256"] == third["Configuration"]["CodeSha256"]
    assert run(more_memory)["changed"] is False

    # 7. Tags: only the difference is tagged and untagged.
    retagged = {**more_memory, "tags": {"project": "ragstack", "owner": "tests"}}
    updated = run(retagged)
    assert updated["changed"] is True
    assert updated["updated"] == ["tags"]
    assert (
        client.list_tags(Resource=fourth["Configuration"]["FunctionArn"])["Tags"]
        == (retagged["tags"])
    )
    assert run(retagged)["changed"] is False

    # 8. An existing zip function is refused, untouched.
    client.create_function(
        FunctionName=names["zip"],
        Runtime="python3.12",
        Role=names["role"],
        Handler="handler.handler",
        Code={"ZipFile": _zip()},
    )
    zip_before = client.get_function(FunctionName=names["zip"])
    refused = run({**args, "name": names["zip"]})
    assert refused["failed"] is True
    assert "exists with PackageType Zip" in refused["msg"], refused
    zip_after = client.get_function(FunctionName=names["zip"])
    assert zip_after["Configuration"] == zip_before["Configuration"]

    # 9. Deleted (check mode first: reported, not done), then absent stays absent.
    absent = {"name": name, "state": "absent"}
    checked = run(absent, "--check")
    assert checked["changed"] is True
    assert name in existing()
    deleted = run(absent)
    assert deleted["changed"] is True
    assert deleted["updated"] == ["deleted"]
    assert name not in existing()
    assert run(absent)["changed"] is False
