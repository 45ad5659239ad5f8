"""The local AWS for every suite under tests/: moto on 127.0.0.1 (tests/conftest.py
registers its fixtures).

moto runs through tests/harness/moto_server.py, the launcher the local deploy uses too
(tests/harness/local_aws.py), so the tests see the same local AWS a user's `make deploy`
talks to, with the same named fidelity fixes (see that file).
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import boto3
import botocore.config
import pytest

# The launcher, its environment and the readiness probe are the local deploy's own.
from harness.local_aws import MOTO_ENV, MOTO_LAUNCHER, answers

REPO_ROOT = Path(__file__).resolve().parents[1]
MOTO_HOST = "127.0.0.1"
MOTO_START_TIMEOUT = 30.0
AWS_REGION = "us-east-1"
# moto's default account.
AWS_ACCOUNT_ID = "123456789012"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((MOTO_HOST, 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def moto_server(log_path: Path, launcher: list[str] | None = None) -> Iterator[str]:
    """Run a moto server on a free 127.0.0.1 port; yield its endpoint, stop it after.

    launcher defaults to the ragstack launcher; pass [<venv>/moto_server] for plain moto.
    """
    port = free_port()
    endpoint = f"http://{MOTO_HOST}:{port}"
    argv = [*(launcher or [sys.executable, str(MOTO_LAUNCHER)]), "-H", MOTO_HOST, "-p", str(port)]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            argv, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **MOTO_ENV}
        )
    try:
        deadline = time.monotonic() + MOTO_START_TIMEOUT
        while not answers(f"{endpoint}/moto-api/"):
            if process.poll() is not None:
                pytest.fail(f"moto exited with {process.returncode}: {log_path.read_text()}")
            if time.monotonic() > deadline:
                pytest.fail(f"moto did not answer on {endpoint} within {MOTO_START_TIMEOUT}s")
            time.sleep(0.2)
        yield endpoint
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def reset(endpoint: str) -> None:
    """Wipe all state in the moto server at endpoint."""
    request = urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")
    with contextlib.closing(urllib.request.urlopen(request, timeout=10)) as response:
        assert response.status == 200


def client_factory(endpoint: str) -> Callable[..., object]:
    """boto3 clients bound to endpoint, never to real AWS.

    Credentials are explicit so no profile, environment variable or instance
    metadata of the machine running the tests is ever consulted.
    """
    session = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=AWS_REGION
    )
    config = botocore.config.Config(retries={"max_attempts": 1})

    def make(service: str, region: str = AWS_REGION) -> object:
        return session.client(service, region_name=region, endpoint_url=endpoint, config=config)

    return make


@pytest.fixture(scope="session")
def moto_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of a moto server started for this test session (stopped at the end)."""
    with moto_server(tmp_path_factory.mktemp("moto") / "moto_server.log") as endpoint:
        yield endpoint


@pytest.fixture(scope="session")
def aws(moto_endpoint: str) -> Callable[..., object]:
    """boto3 client factory bound to the session's moto: aws("ecs"), aws("s3", "eu-west-1")."""
    return client_factory(moto_endpoint)
