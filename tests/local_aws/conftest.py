"""Fixtures of the launcher tests: plain moto_server next to the session's local AWS
(tests/moto_kit.py, which runs moto through the launcher)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import moto_kit
import pytest


@pytest.fixture(scope="module")
def plain_moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., object]]:
    """moto_server as released, without the launcher's fixes."""
    log_path = tmp_path_factory.mktemp("plain-moto") / "moto_server.log"
    plain = [str(Path(sys.executable).with_name("moto_server"))]
    with moto_kit.moto_server(log_path, launcher=plain) as endpoint:
        yield moto_kit.client_factory(endpoint)
