"""Fixtures for the CloudFormation tests: the collection's Python on sys.path and the
shared local AWS (tests/moto_kit.py) under the names these tests use."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

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

from moto_kit import reset  # noqa: E402


@pytest.fixture(scope="session")
def aws_client(aws: Callable[..., object]) -> Callable[..., object]:
    """boto3 client factory bound to the session's moto: aws_client("cloudformation")."""
    return aws


@pytest.fixture(scope="session")
def reset_moto(moto_endpoint: str) -> Callable[[], None]:
    """Callable that wipes all state in the moto server (POST /moto-api/reset)."""

    return lambda: reset(moto_endpoint)
