"""Fixtures for the CloudFormation tests: the shared local AWS (tests/moto_kit.py) under
the names these tests use."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from moto_kit import reset


@pytest.fixture(scope="session")
def aws_client(aws: Callable[..., object]) -> Callable[..., object]:
    """boto3 client factory bound to the session's moto: aws_client("cloudformation")."""
    return aws


@pytest.fixture(scope="session")
def reset_moto(moto_endpoint: str) -> Callable[[], None]:
    """Callable that wipes all state in the moto server (POST /moto-api/reset)."""
    return lambda: reset(moto_endpoint)
