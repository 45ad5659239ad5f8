"""Fixtures for the sibling-architecture tests: the shared local AWS (tests/moto_kit.py:
a moto server of this session's on a free 127.0.0.1 port) and a runner for the arch
playbooks.

The playbooks run with the local inventory, pointed at this moto and at a private
harness directory, seeded after every reset as tests/harness/local_aws.py seeds the
local default (an ACM certificate and a key pair, what an account has before a deploy).
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import re
import subprocess
import sys
import tarfile
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
ACCOUNT = moto_kit.AWS_ACCOUNT_ID
# ragstack.aws.release: one bucket per account and region, a pointer per env.
RELEASE_BUCKET = f"ragstack-releases-{ACCOUNT}-{AWS_REGION}"
RELEASE_POINTER = f"/ragstack/{ENV}/release/current"
RELEASE_ID = re.compile(r"^r-[0-9a-f]{12}$")
# A well-formed id no build ever wrote.
UNKNOWN_RELEASE = "r-000000000000"
# Tasks that build or pack something locally: a run deploying a built release runs none.
BUILD_TASKS = (
    "ragstack.aws.ecr_images : Build each image from its service directory",
    "ragstack.aws.release : Pack the bundles",
    "ragstack.aws.lambda_app : Build the embedding service zip",
    "ragstack.aws.lambda_app : Build the orchestrator zip",
    "ragstack.aws.sagemaker_endpoint : Pack the model artifact",
    "ragstack.aws.release : Upload the artifacts by content hash",
    "ragstack.aws.ecr_images : Push each image",
)


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
    def ran_tasks(self) -> list[str]:
        """Names of the tasks that ran on a host (ok or changed, not skipped)."""
        ran, task = [], None
        for line in self.output.splitlines():
            if line.startswith("TASK ["):
                task = line[len("TASK [") : line.rindex("]")]
            elif line.startswith(("ok:", "changed:")) and task not in ran:
                ran.append(task)
        return ran

    @property
    def release_id(self) -> str:
        """The release the run's summary names."""
        match = re.search(r"""['"]release: (r-[0-9a-f]{12})['"]""", self.output)
        assert match, f"no release in the summary:\n{self.output[-3000:]}"
        return match.group(1)

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


def code_sha256(sha256_hex: str) -> str:
    """Lambda's CodeSha256 of a zip whose sha256 is sha256_hex: base64 of the digest."""
    return base64.b64encode(bytes.fromhex(sha256_hex)).decode()


def ecr_uri(repository: str, digest: str) -> str:
    return f"{ACCOUNT}.dkr.ecr.{AWS_REGION}.amazonaws.com/{repository}@{digest}"


def current_release(aws: Callable[[str], object]) -> dict:
    """The manifest /ragstack/<env>/release/current names (set after the run's health gate)."""
    release_id = aws("ssm").get_parameter(Name=RELEASE_POINTER)["Parameter"]["Value"]
    assert RELEASE_ID.match(release_id), release_id
    body = aws("s3").get_object(Bucket=RELEASE_BUCKET, Key=f"releases/{release_id}.json")["Body"]
    manifest = json.loads(body.read())
    assert manifest["id"] == release_id
    return manifest


def artifact_bytes(aws: Callable[[str], object], manifest: dict, name: str) -> bytes:
    """A release artifact as stored, checked against the manifest's hash and size."""
    ref = manifest["artifacts"][name]
    assert ref["bucket"] == RELEASE_BUCKET
    data = aws("s3").get_object(Bucket=ref["bucket"], Key=ref["key"])["Body"].read()
    assert hashlib.sha256(data).hexdigest() == ref["sha256"], name
    assert len(data) == ref["bytes"], name
    assert ref["key"].startswith(f"artifacts/{name}/{ref['sha256']}."), ref
    return data


def check_ui_bucket_holds_the_bundle(aws: Callable[[str], object], manifest: dict) -> None:
    """The UI bucket holds the release's UI bundle, byte for byte, and the run's config.json."""
    with tarfile.open(fileobj=io.BytesIO(artifact_bytes(aws, manifest, "ui"))) as tar:
        files = {
            member.name.removeprefix("ui/"): tar.extractfile(member).read()
            for member in tar.getmembers()
            if member.isfile()
        }
    assert "index.html" in files
    assert "config.json" not in files, "config.json is the deployment's, never the bundle's"
    s3 = aws("s3")
    (bucket,) = [
        b["Name"] for b in s3.list_buckets()["Buckets"] if b["Name"].startswith(f"{PREFIX}-ui-")
    ]
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]}
    assert keys == {*files, "config.json"}
    for name, content in files.items():
        assert s3.get_object(Bucket=bucket, Key=name)["Body"].read() == content, name


def aws_state(aws: Callable[[str], object]) -> dict[str, object]:
    """What a deploy writes, in a form that changes with any write (versions, revisions, etags)."""
    s3 = aws("s3")
    buckets = {}
    for bucket in s3.list_buckets()["Buckets"]:
        objects = s3.list_objects_v2(Bucket=bucket["Name"]).get("Contents", [])
        buckets[bucket["Name"]] = sorted((o["Key"], o["ETag"]) for o in objects)
    functions = aws("lambda").list_functions()["Functions"]
    stacks = aws("cloudformation").list_stacks()["StackSummaries"]
    return {
        "ssm": {p["Name"]: p["Version"] for p in aws("ssm").describe_parameters()["Parameters"]},
        "s3": buckets,
        "lambda": {
            f["FunctionName"]: (f["LastModified"], f["CodeSha256"], dumps(f.get("Environment")))
            for f in functions
        },
        "task_definitions": aws("ecs").list_task_definitions()["taskDefinitionArns"],
        "stacks": sorted(
            (s["StackName"], s["StackStatus"], str(s.get("LastUpdatedTime"))) for s in stacks
        ),
        "apis": sorted(a["ApiId"] for a in aws("apigatewayv2").get_apis()["Items"]),
        "iam_roles": sorted(r["RoleName"] for r in aws("iam").list_roles()["Roles"]),
        "ecr": sorted(
            r["repositoryName"] for r in aws("ecr").describe_repositories()["repositories"]
        ),
    }


def check_redeploy_by_id(run: Run, release_id: str) -> None:
    """A run given -e ragstack_release=<id> of what is deployed: builds, packs, uploads and
    pushes nothing, and changes nothing."""
    assert run.rc == 0, run.output[-6000:]
    assert run.release_id == release_id
    built = [task for task in BUILD_TASKS if task in run.ran_tasks]
    assert built == [], f"a run of a built release built {built}:\n{run.output[-6000:]}"
    assert "ragstack.aws.release : Read the manifest" in run.ran_tasks
    assert run.changed_tasks == [], f"changed {run.changed_tasks}:\n{run.output[-6000:]}"


def check_unknown_release_refused(
    run_playbook, aws, playbook: str, *extra: str, env: dict[str, str] | None = None
) -> None:
    """-e ragstack_release=<an id never built> stops, naming ragstack_release, before any write."""
    before = aws_state(aws)
    run = run_playbook(playbook, "-e", f"ragstack_release={UNKNOWN_RELEASE}", *extra, env=env)
    assert run.rc != 0
    assert f"Release {UNKNOWN_RELEASE} (ragstack_release) has no manifest" in run.text, run.output[
        -3000:
    ]
    assert f"s3://{RELEASE_BUCKET}/releases/{UNKNOWN_RELEASE}.json" in run.text
    assert run.changed_tasks == []
    assert not [task for task in BUILD_TASKS if task in run.ran_tasks]
    assert aws_state(aws) == before


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
