"""Bad inputs are refused before any AWS write, with a message that names the variable
and gives a valid example (issue 10, section 4).

The counter is moto's own request recorder (/moto-api/recorder/, no harness change): it
keeps every request with its headers and body, so each one is classified by its API
action (X-Amz-Target, the query protocol's Action=, else the REST method). Reads such
as DescribeInstanceTypeOfferings are allowed before a refusal; writes are not. Only
the run's own requests count (amazon.aws's User-Agent says Ansible), not the harness's.

Positive control: with the same counter, a run whose inputs pass preflight makes write
calls (a stack create in its own stack name, from a template that fails at once, so the
session's deployment is left as it was).
"""

from __future__ import annotations

import base64
import json
import os
import re
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import LOCAL_AWS_DIR, MOTO_ENDPOINT, Deployment, playbook

_READ = re.compile(r"^(Describe|List|Get|Head|Search|Lookup|Check|Validate|Estimate)")


def _action(entry: dict) -> str:
    headers = {k.lower(): v for k, v in entry["headers"].items()}
    target = headers.get("x-amz-target", "")
    if target:
        return target.rsplit(".", 1)[-1]
    body = entry.get("body") or ""
    if entry.get("body_encoded"):
        body = base64.b64decode(body).decode(errors="replace")
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(entry["url"]).query)
    action = urllib.parse.parse_qs(body).get("Action") or query.get("Action")
    if action:
        return action[0]
    return f"{entry['method']} {urllib.parse.urlsplit(entry['url']).path}"


def _is_read(action: str) -> bool:
    return bool(_READ.match(action)) or action.split(" ", 1)[0] in {"GET", "HEAD"}


def _moto(path: str) -> str:
    request = urllib.request.Request(f"{MOTO_ENDPOINT}/moto-api/recorder/{path}", method="POST")
    if path == "download-recording":
        request = urllib.request.Request(f"{MOTO_ENDPOINT}/moto-api/recorder/{path}")
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.read().decode()


class Recorder:
    """The run's own AWS calls, as (reads, writes) lists of action names."""

    def reset(self) -> None:
        _moto("reset-recording")

    def calls(self) -> tuple[list[str], list[str]]:
        reads, writes = [], []
        for line in _moto("download-recording").splitlines():
            entry = json.loads(line)
            agent = {k.lower(): v for k, v in entry["headers"].items()}.get("user-agent", "")
            if "Ansible/" not in agent:
                continue
            action = _action(entry)
            (reads if _is_read(action) else writes).append(action)
        return reads, writes


@pytest.fixture(scope="module")
def recorder(deployment: Deployment) -> Iterator[Recorder]:
    _moto("start-recording")
    try:
        yield Recorder()
    finally:
        _moto("stop-recording")
        _moto("reset-recording")
        # The recording file lives in moto's working directory: leave nothing behind.
        pid = (LOCAL_AWS_DIR / "moto_server.pid").read_text().strip()
        recording = Path(os.readlink(f"/proc/{pid}/cwd")) / "moto_recording"
        recording.unlink(missing_ok=True)


EC2 = ["-e", "arch=ec2"]
GPU_CPU_AMI = "ragstack_ami_kind=cpu"
# (extra args, message; "none": no request at all, "reads": reads only)
CASES = [
    pytest.param(["-e", "arch=ec3"], "arch=ec3 is not a ragstack architecture", "none", id="arch"),
    pytest.param([], "arch=(unset) is not a ragstack architecture", "none", id="arch-missing"),
    pytest.param(
        [*EC2, "-e", "ragstack_region="], "ragstack_region is not set", "none", id="region-empty"
    ),
    pytest.param(
        [*EC2, "-e", "ragstack_region=mars-1"],
        "ragstack_region=mars-1 is not an AWS region. Pass one of",
        "none",
        id="region-mars",
    ),
    pytest.param(
        [*EC2, "-e", "ragstack_admin_cidr=0.0.0.0/0"],
        "ragstack_admin_cidr=0.0.0.0/0 would open SSH to the whole internet",
        "none",
        id="admin-cidr-world",
    ),
    pytest.param(
        [*EC2, "-e", "ragstack_connection_mode=ssh", "-e", "ragstack_admin_cidr=0.0.0.0/1"],
        "ragstack_admin_cidr=0.0.0.0/1 is a /1",
        "none",
        id="admin-cidr-broad",
    ),
    pytest.param(
        [*EC2, "-e", "ragstack_instance_type=t9.bogus"],
        "ragstack_instance_type='t9.bogus' is not one of the template's AllowedValues",
        "none",
        id="type-bogus",
    ),
    pytest.param(
        [*EC2, "-e", "ragstack_instance_type=g5.xlargee"],
        "did you mean g5.xlarge",
        "none",
        id="type-typo",
    ),
    # In the template's list, but not offered in the region (moto's offerings, a read).
    pytest.param(
        [*EC2, "-e", "ragstack_instance_type=p3.8xlarge"],
        "ragstack_instance_type=p3.8xlarge is not offered in us-east-1",
        "reads",
        id="type-not-offered",
    ),
    pytest.param(
        [*EC2, "-e", "ragstack_instance_count=0"],
        "ragstack_instance_count=0 must be between 1 and 10; e.g. ragstack_instance_count=1",
        "none",
        id="count-0",
    ),
    pytest.param(
        [*EC2, "-e", "ragstack_instance_count=11"],
        "ragstack_instance_count=11 must be between 1 and 10",
        "none",
        id="count-11",
    ),
    pytest.param(
        [*EC2, "-e", "nginx_tls_mode=http"],
        "value of nginx_tls_mode must be one of: self_signed, provided, letsencrypt, got: http"
        " (valid e.g. nginx_tls_mode=self_signed)",
        "none",
        id="tls-mode",
    ),
    pytest.param(
        ["-e", "arch=lambda", "-e", "lambda_app_orchestrator_memory_mb=20000"],
        "lambda_app_orchestrator_memory_mb=20000 must be between 128 and 10240",
        "none",
        id="lambda-memory",
    ),
    pytest.param(
        ["-e", "arch=lambda", "-e", "lambda_app_orchestrator_timeout=31"],
        "lambda_app_orchestrator_timeout=31 must be between 1 and 30",
        "none",
        id="lambda-timeout",
    ),
    pytest.param(
        [*EC2, "-e", "ragstack_instance_type=g5.xlarge", "-e", GPU_CPU_AMI],
        "AmiKind=cpu cannot be used with the GPU instance type g5.xlarge",
        "none",
        id="gpu-with-cpu-ami",
    ),
    pytest.param(
        [
            *EC2,
            "-e",
            "ragstack_connection_mode=ssm",
            "-e",
            "ragstack_key_name=",
            "-e",
            "ragstack_admin_cidr=",
            "-e",
            "preflight_session_manager_plugin=ragstack-no-such-plugin",
        ],
        "ragstack_connection_mode=ssm needs AWS's Session Manager plugin",
        "none",
        id="ssm-without-plugin",
    ),
]


@pytest.mark.parametrize(("extra", "message", "allowed"), CASES)
def test_bad_input_is_refused_before_any_write(
    recorder: Recorder, extra: list[str], message: str, allowed: str
) -> None:
    recorder.reset()
    run = playbook("site.yml", *extra)
    assert run.returncode != 0
    assert message in " ".join(run.output.split())
    reads, writes = recorder.calls()
    assert writes == [], f"the run wrote to AWS before refusing its input: {writes}"
    if allowed == "none":
        # No call at all (the reads-allowed cases below show the recorder sees reads).
        assert reads == [], f"the run talked to AWS before refusing its input: {reads}"
    else:
        # The recorder saw this run: the read that refused it.
        assert "DescribeInstanceTypeOfferings" in reads


def test_control_a_valid_run_writes(recorder: Recorder, tmp_path: Path) -> None:
    """Positive control: valid inputs get past preflight and the same counter sees writes."""
    broken = tmp_path / "broken.json"
    names = ["EnvironmentName", "StackVersion", "InstanceType", "AmiKind", "InstanceCount"]
    names += [
        "ConnectionMode",
        "AdminCidr",
        "KeyName",
        "CertificateArn",
        "ReleaseId",
        "ReleaseBucket",
    ]
    broken.write_text(
        json.dumps(
            {
                "Parameters": {name: {"Type": "String", "Default": ""} for name in names},
                "Resources": {
                    "AppSubnet": {
                        "Type": "AWS::EC2::Subnet",
                        "Properties": {"VpcId": "vpc-0000dead", "CidrBlock": "10.0.0.0/24"},
                    }
                },
            }
        )
    )
    recorder.reset()
    run = playbook(
        "site.yml",
        *EC2,
        "-e",
        f"ec2_stack_template={broken}",
        "-e",
        "ragstack_stack_name=ragstack-e2e-write-control",
    )
    assert run.returncode != 0
    assert "Stack ragstack-e2e-write-control did not apply" in " ".join(run.output.split())
    reads, writes = recorder.calls()
    assert "DescribeInstanceTypeOfferings" in reads
    assert writes, "a run past preflight made no write: the counter would miss one"
    assert {"CreateStack", "CreateChangeSet"} & set(writes), writes
