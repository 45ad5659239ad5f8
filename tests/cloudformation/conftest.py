"""Fixtures for the CloudFormation tests: a moto server on 127.0.0.1 and boto3 clients for it.

Nothing here is specific to tests/cloudformation, so the moto fixtures can move to a
shared tests/conftest.py unchanged when other suites need them.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import boto3
import botocore.config
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]

# `make setup` links the checkout as .collections/ansible_collections/ragstack/aws, so the
# collection's Python is imported by the same name Ansible uses.
_COLLECTIONS_PATH = REPO_ROOT / ".collections"
if not (_COLLECTIONS_PATH / "ansible_collections" / "ragstack" / "aws").exists():
    raise RuntimeError(
        f"{_COLLECTIONS_PATH}/ansible_collections/ragstack/aws missing: run `make setup`"
    )
if str(_COLLECTIONS_PATH) not in sys.path:
    sys.path.insert(0, str(_COLLECTIONS_PATH))

MOTO_HOST = "127.0.0.1"
MOTO_START_TIMEOUT = 30.0
AWS_REGION = "us-east-1"
# moto's default account.
AWS_ACCOUNT_ID = "123456789012"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((MOTO_HOST, 0))
        return sock.getsockname()[1]


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return response.status == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


@pytest.fixture(scope="session")
def moto_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of a moto server started for this test session (killed at the end)."""
    moto_server = Path(sys.executable).with_name("moto_server")
    if not moto_server.exists():
        pytest.fail(f"{moto_server} not found: moto[server] must be installed in the test venv")
    port = _free_port()
    endpoint = f"http://{MOTO_HOST}:{port}"
    log_path = tmp_path_factory.mktemp("moto") / "moto_server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(moto_server), "-H", MOTO_HOST, "-p", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + MOTO_START_TIMEOUT
        while not _answers(f"{endpoint}/moto-api/"):
            if process.poll() is not None:
                pytest.fail(f"moto_server exited with {process.returncode}: {log_path.read_text()}")
            if time.monotonic() > deadline:
                pytest.fail(
                    f"moto_server did not answer on {endpoint} within {MOTO_START_TIMEOUT}s"
                )
            time.sleep(0.2)
        yield endpoint
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture(scope="session")
def aws_client(moto_endpoint: str) -> Callable[..., object]:
    """Factory for boto3 clients bound to the moto server, never to real AWS.

    Credentials are explicit so no profile, environment variable or instance
    metadata from the machine running the tests is ever consulted.
    """
    session = boto3.session.Session(
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name=AWS_REGION,
    )
    config = botocore.config.Config(retries={"max_attempts": 1})

    def make(service: str, region: str = AWS_REGION) -> object:
        return session.client(
            service, region_name=region, endpoint_url=moto_endpoint, config=config
        )

    return make


@pytest.fixture(scope="session")
def reset_moto(moto_endpoint: str) -> Callable[[], None]:
    """Callable that wipes all state in the moto server (POST /moto-api/reset)."""

    def reset() -> None:
        request = urllib.request.Request(f"{moto_endpoint}/moto-api/reset", method="POST")
        with contextlib.closing(urllib.request.urlopen(request, timeout=10)) as response:
            assert response.status == 200

    return reset
