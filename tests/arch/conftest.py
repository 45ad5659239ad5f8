"""Fixtures for the sibling-architecture tests: the shared local AWS (tests/moto_kit.py:
a moto server of this session's on a free 127.0.0.1 port) and a runner for the arch
playbooks.

The playbooks run with the local inventory, pointed at this moto and at a private
harness directory, seeded after every reset as tests/harness/local_aws.py seeds the
local default (an ACM certificate and a key pair, what an account has before a deploy).
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import moto_kit
import pytest
from harness import local_aws

REPO_ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
AWS_REGION = moto_kit.AWS_REGION
ENV = "dev"
PREFIX = f"ragstack-{ENV}"
# The secret the runs store in SSM (the secrets role creates it from the environment).
FAKE_OPENAI_KEY = "sk-test-ragstack-arch-0123456789"
# moto knows only the layers published in it: a stand-in for the AWS Parameters and
# Secrets Lambda Extension (its AWS-published name), published after every reset.
EXTENSION_LAYER_NAME = "AWS-Parameters-and-Secrets-Lambda-Extension"
EXTENSION_LAYER_ARN = f"arn:aws:lambda:{AWS_REGION}:123456789012:layer:{EXTENSION_LAYER_NAME}:1"


@pytest.fixture(scope="session", autouse=True)
def _built_inputs() -> None:
    """The runs upload the built UI and tag the service images: both must exist."""
    if not (REPO_ROOT / "services/demo-ui/dist/index.html").is_file():
        pytest.fail("services/demo-ui/dist is not built: `cd services/demo-ui && npm run build`")
    images = ["ragstack/embedding-service:slim", "ragstack/orchestrator:latest"]
    missing = [
        image
        for image in images
        if subprocess.run(["docker", "image", "inspect", image], capture_output=True).returncode
    ]
    if missing:
        pytest.fail(f"missing local images {missing}: `make images`")


def _layer_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("extensions/README", "moto stand-in for the AWS extension layer\n")
    return buffer.getvalue()


@pytest.fixture(scope="session")
def local_aws_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("local-aws")


# What the harness seeds into a fresh moto; a run refused before any AWS call leaves
# exactly this and nothing more.
SEEDED: dict[str, str] = {}


@pytest.fixture(scope="session")
def reset_moto(
    moto_endpoint: str, aws: Callable[[str], object], local_aws_dir: Path
) -> Callable[[], None]:
    def reset() -> None:
        moto_kit.reset(moto_endpoint)
        SEEDED.update(local_aws.seed(moto_endpoint, local_aws_dir))
        layer = aws("lambda").publish_layer_version(
            LayerName=EXTENSION_LAYER_NAME, Content={"ZipFile": _layer_zip()}
        )
        assert layer["LayerVersionArn"] == EXTENSION_LAYER_ARN

    return reset


@dataclass
class Run:
    rc: int
    output: str
    seconds: float

    @property
    def text(self) -> str:
        """Output with whitespace collapsed: the yaml callback folds long messages."""
        return " ".join(self.output.split())

    @property
    def recap(self) -> dict[str, int]:
        match = re.search(r"^localhost\s+:\s+(.*)$", self.output, re.MULTILINE)
        assert match, f"no PLAY RECAP in:\n{self.output[-3000:]}"
        return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", match.group(1))}

    @property
    def changed_tasks(self) -> list[str]:
        """Names of the tasks that reported a change (default callback output)."""
        changed, task = [], None
        for line in self.output.splitlines():
            if line.startswith("TASK ["):
                task = line[len("TASK [") : line.rindex("]")]
            elif line.startswith("changed:") and task not in changed:
                changed.append(task)
        return changed


@pytest.fixture(scope="session")
def run_playbook(moto_endpoint: str, local_aws_dir: Path) -> Callable[..., Run]:
    def run(playbook: str, *extra: str, env: dict[str, str] | None = None) -> Run:
        argv = [
            str(VENV_BIN / "ansible-playbook"),
            f"playbooks/{playbook}",
            "-e",
            f"ragstack_aws_endpoint_url={moto_endpoint}",
            "-e",
            f"local_aws_dir={local_aws_dir}",
            "-e",
            f"lambda_app_secrets_extension_layer_arn={EXTENSION_LAYER_ARN}",
            *extra,
        ]
        environ = {
            **os.environ,
            "ANSIBLE_CONFIG": str(REPO_ROOT / "ansible.cfg"),
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_DEPRECATION_WARNINGS": "false",
            "PATH": f"{VENV_BIN}:{os.environ.get('PATH', '')}",
            "OPENAI_API_KEY": FAKE_OPENAI_KEY,
            **(env or {}),
        }
        started = time.monotonic()
        proc = subprocess.run(
            argv, cwd=REPO_ROOT, env=environ, capture_output=True, text=True, timeout=900
        )
        output = proc.stdout + proc.stderr
        return Run(proc.returncode, output, time.monotonic() - started)

    return run


def assert_converged(first: Run, second: Run) -> None:
    assert first.rc == 0, first.output[-6000:]
    assert first.recap["failed"] == 0
    assert second.rc == 0, second.output[-6000:]
    assert second.changed_tasks == [], (
        f"second run changed {second.changed_tasks}:\n{second.output[-6000:]}"
    )


def moto_is_empty(aws: Callable[[str], object]) -> dict[str, object]:
    """What a run that stopped before any AWS call added to the seeded moto: nothing at all."""
    certificates = aws("acm").list_certificates()["CertificateSummaryList"]
    return {
        "lambda": aws("lambda").list_functions()["Functions"],
        "s3": aws("s3").list_buckets()["Buckets"],
        "ssm": aws("ssm").describe_parameters()["Parameters"],
        "acm": [c for c in certificates if c["CertificateArn"] != SEEDED["certificate_arn"]],
        "iam": [
            r for r in aws("iam").list_roles()["Roles"] if r["RoleName"].startswith("ragstack")
        ],
        "ecs": aws("ecs").list_clusters()["clusterArns"],
        "ecr": aws("ecr").describe_repositories()["repositories"],
    }


def dumps(value: object) -> str:
    return json.dumps(value, indent=1, default=str)


def arch_leftovers(aws: Callable[[str], object], arch: str) -> dict[str, object]:
    """Every resource an arch creates, by the names the arch playbooks give them."""
    found: dict[str, object] = {
        "cloudfront": aws("cloudfront").list_distributions()["DistributionList"].get("Items", []),
        "oac": aws("cloudfront")
        .list_origin_access_controls()["OriginAccessControlList"]
        .get("Items", []),
        "ui_bucket": [
            b["Name"]
            for b in aws("s3").list_buckets()["Buckets"]
            if b["Name"].startswith(f"{PREFIX}-ui-")
        ],
        "iam_roles": [
            r["RoleName"]
            for r in aws("iam").list_roles()["Roles"]
            if r["RoleName"].startswith(PREFIX)
        ],
        "log_groups": [
            g["logGroupName"]
            for g in aws("logs").describe_log_groups()["logGroups"]
            if PREFIX in g["logGroupName"]
        ],
    }
    if arch in {"fargate", "lambda"}:
        found["repositories"] = aws("ecr").describe_repositories()["repositories"]
    if arch in {"lambda", "sagemaker"}:
        found["functions"] = aws("lambda").list_functions()["Functions"]
        found["apis"] = aws("apigatewayv2").get_apis()["Items"]
    if arch == "sagemaker":
        sagemaker = aws("sagemaker")
        found["endpoints"] = sagemaker.list_endpoints()["Endpoints"]
        found["endpoint_configs"] = sagemaker.list_endpoint_configs()["EndpointConfigs"]
        found["models"] = sagemaker.list_models()["Models"]
        found["stacks"] = [
            s["StackName"]
            for s in aws("cloudformation").list_stacks()["StackSummaries"]
            if s["StackStatus"] != "DELETE_COMPLETE"
        ]
    if arch == "fargate":
        ecs = aws("ecs")
        clusters = ecs.list_clusters()["clusterArns"]
        # A deleted cluster stays listed as INACTIVE (on AWS too).
        found["clusters"] = [
            c["clusterName"]
            for c in (ecs.describe_clusters(clusters=clusters)["clusters"] if clusters else [])
            if c["status"] == "ACTIVE"
        ]
        found["task_definitions"] = ecs.list_task_definitions(status="ACTIVE")["taskDefinitionArns"]
        elb = aws("elbv2")
        found["load_balancers"] = elb.describe_load_balancers()["LoadBalancers"]
        found["target_groups"] = elb.describe_target_groups()["TargetGroups"]
        found["vpcs"] = aws("ec2").describe_vpcs(
            Filters=[{"Name": "tag:Name", "Values": [PREFIX]}]
        )["Vpcs"]
        found["security_groups"] = aws("ec2").describe_security_groups(
            Filters=[{"Name": "group-name", "Values": [f"{PREFIX}-alb", f"{PREFIX}-tasks"]}]
        )["SecurityGroups"]
        found["scalable_targets"] = aws("application-autoscaling").describe_scalable_targets(
            ServiceNamespace="ecs"
        )["ScalableTargets"]
    return found


def check_teardown(
    run_playbook, aws, arch: str, *extra: str, not_created: frozenset[str] = frozenset()
) -> Run:
    """Refused without confirm (nothing removed), then removes every resource of the arch.

    not_created: kinds of arch_leftovers this variant of the arch does not create (the
    Lambda zip path has no ECR repository); every other kind must exist before teardown.
    """
    before = arch_leftovers(aws, arch)
    gaps = {k: v for k, v in before.items() if not v and k not in not_created}
    assert not gaps, f"converge left gaps before teardown: {dumps(before)}"
    refused = run_playbook("teardown.yml", "-e", f"arch={arch}")
    assert refused.rc != 0
    assert "Run again with `-e confirm=yes`. Nothing was sent to AWS." in refused.text
    assert arch_leftovers(aws, arch) == before
    run = run_playbook("teardown.yml", "-e", f"arch={arch}", "-e", "confirm=yes", *extra)
    assert run.rc == 0, run.output[-6000:]
    leftovers = arch_leftovers(aws, arch)
    assert not any(leftovers.values()), dumps(leftovers)
    return run
