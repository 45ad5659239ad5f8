"""Session fixtures for the image tests. Everything they create is removed at
teardown, whether the tests pass or fail."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest
from dockerkit import ORCHESTRATOR, SLIM, Container, Docker, docker, image_config


@pytest.fixture(scope="session")
def dockerctl() -> Iterator[Docker]:
    if shutil.which("docker") is None or docker("info", check=False).returncode != 0:
        pytest.fail("the image tests need a running Docker engine (`docker info` fails)")
    ctl = Docker()
    try:
        yield ctl
    finally:
        ctl.cleanup()


@pytest.fixture(scope="session")
def stack(dockerctl: Docker) -> dict[str, Container]:
    """The slim embedding service and the orchestrator on a user-defined network;
    only the test process, on 127.0.0.1, can reach their published ports."""
    image_config(SLIM)
    image_config(ORCHESTRATOR)
    net = dockerctl.network()
    data = dockerctl.volume("embedding-data")
    embedding = dockerctl.run(
        "embedding",
        SLIM,
        "--network",
        net,
        "--network-alias",
        "embedding",
        "-v",
        f"{data}:/data",
        "-e",
        "DATA_DIR=/data",
        "--health-interval",
        "2s",
        container_port=8000,
    )
    orchestrator = dockerctl.run(
        "orchestrator",
        ORCHESTRATOR,
        "--network",
        net,
        "-e",
        "EMBEDDING_SERVICE_URL=http://embedding:8000",
        "--health-interval",
        "2s",
        container_port=5000,
    )
    embedding.wait_http("/ready")
    orchestrator.wait_http("/api/ready")
    return {"embedding": embedding, "orchestrator": orchestrator}
