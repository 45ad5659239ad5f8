"""Fixtures for the sibling-architecture tests: a moto server of their own on a free
127.0.0.1 port, boto3 clients bound to it, and a runner for the arch playbooks.

The playbooks run with the local inventory, pointed at this moto (so the run finds
it answering and does not start one) and at a private cache directory.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import botocore.config
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
AWS_REGION = "us-east-1"
ENV = "dev"
PREFIX = f"ragstack-{ENV}"
# The secret the runs store in SSM (the secrets role creates it from the environment).
FAKE_OPENAI_KEY = "sk-test-ragstack-arch-0123456789"
# local_instances' ACM import reports a change on every run (its idempotence, not
# ours): the only change a second run may show until that role is fixed.
KNOWN_RERUN_CHANGES = {
    "ragstack.aws.local_instances : Import it into moto's ACM",
    # moto gap (ECS DescribeServices enableExecuteCommand): moto returns null, not false,
    # and community.aws.ecs_service's comparison reads null != false as a change.
    "ragstack.aws.fargate_service : Create or update the service",
}


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return response.status == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


@pytest.fixture(scope="session")
def moto_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = _free_port()
    endpoint = f"http://127.0.0.1:{port}"
    log_path = tmp_path_factory.mktemp("moto") / "moto_server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(VENV_BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            # moto's ECS reports this many running tasks, so a deployment can complete
            # (steady state) instead of staying IN_PROGRESS forever.
            env={**os.environ, "MOTO_ECS_SERVICE_RUNNING": "2"},
        )
    try:
        deadline = time.monotonic() + 30
        while not _answers(f"{endpoint}/moto-api/"):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"moto_server did not start on {endpoint}: {log_path.read_text()}")
            time.sleep(0.2)
        yield endpoint
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture(scope="session")
def aws(moto_endpoint: str) -> Callable[[str], object]:
    """boto3 client factory bound to moto with explicit dummy credentials."""
    session = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=AWS_REGION
    )
    config = botocore.config.Config(retries={"max_attempts": 1})

    def make(service: str) -> object:
        return session.client(service, endpoint_url=moto_endpoint, config=config)

    return make


@pytest.fixture(scope="session")
def reset_moto(moto_endpoint: str) -> Callable[[], None]:
    def reset() -> None:
        request = urllib.request.Request(f"{moto_endpoint}/moto-api/reset", method="POST")
        with contextlib.closing(urllib.request.urlopen(request, timeout=10)) as response:
            assert response.status == 200

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

    def unexpected_changes(self) -> list[str]:
        return [
            t for t in self.changed_tasks if not any(t.startswith(k) for k in KNOWN_RERUN_CHANGES)
        ]


@pytest.fixture(scope="session")
def run_playbook(
    moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory
) -> Callable[..., Run]:
    cache_dir = tmp_path_factory.mktemp("local-aws")

    def run(playbook: str, *extra: str, env: dict[str, str] | None = None) -> Run:
        argv = [
            str(VENV_BIN / "ansible-playbook"),
            f"playbooks/{playbook}",
            "-e",
            f"ragstack_aws_endpoint_url={moto_endpoint}",
            "-e",
            f"local_instances_cache_dir={cache_dir}",
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
    assert second.unexpected_changes() == [], (
        f"second run changed {second.unexpected_changes()}:\n{second.output[-6000:]}"
    )


def moto_is_empty(aws: Callable[[str], object]) -> dict[str, object]:
    """What a run that stopped before any AWS call must have left: nothing at all."""
    return {
        "lambda": aws("lambda").list_functions()["Functions"],
        "s3": aws("s3").list_buckets()["Buckets"],
        "ssm": aws("ssm").describe_parameters()["Parameters"],
        "acm": aws("acm").list_certificates()["CertificateSummaryList"],
        "iam": [
            r for r in aws("iam").list_roles()["Roles"] if r["RoleName"].startswith("ragstack")
        ],
        "ecs": aws("ecs").list_clusters()["clusterArns"],
        "ecr": aws("ecr").describe_repositories()["repositories"],
    }


def dumps(value: object) -> str:
    return json.dumps(value, indent=1, default=str)
