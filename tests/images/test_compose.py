"""services/docker-compose.yml: what it promises on paper, then the real stack.

Compose v2 comes from docker/compose: the host's `docker compose` plugin when
there is one, else Debian 13's compose in ragstack-local/compose:latest."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator

import pytest
from dockerkit import CORPUS, ROOT, free_port, http

pytestmark = pytest.mark.docker

COMPOSE_FILE = ROOT / "services" / "docker-compose.yml"


def compose(*args: str, env: dict | None = None, timeout: float = 300):
    return subprocess.run(
        [str(ROOT / "docker" / "compose"), "-f", str(COMPOSE_FILE), *args],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture(scope="module")
def config() -> dict:
    proc = compose("config", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_compose_file_validates(config: dict) -> None:
    assert set(config["services"]) == {"embedding", "orchestrator"}


def test_only_the_orchestrator_is_published_and_only_on_loopback(config: dict) -> None:
    assert not config["services"]["embedding"].get("ports")
    ports = config["services"]["orchestrator"]["ports"]
    assert [(p["host_ip"], p["target"]) for p in ports] == [("127.0.0.1", 5000)]


def test_services_are_hardened(config: dict) -> None:
    for name, svc in config["services"].items():
        assert svc["read_only"] is True, name
        assert "no-new-privileges:true" in svc["security_opt"], name
        assert svc["cap_drop"] == ["ALL"], name
        assert svc["restart"] == "unless-stopped", name
        assert svc["logging"]["driver"] == "json-file", name
        assert {"max-size", "max-file"} <= set(svc["logging"]["options"]), name
        assert "curl" not in " ".join(svc["healthcheck"]["test"]), name


def test_orchestrator_waits_for_a_healthy_embedding_service(config: dict) -> None:
    orch = config["services"]["orchestrator"]
    assert orch["depends_on"]["embedding"]["condition"] == "service_healthy"
    assert orch["environment"]["EMBEDDING_SERVICE_URL"] == "http://embedding:8000"
    embedding = config["services"]["embedding"]
    assert [(v["source"], v["target"]) for v in embedding["volumes"]] == [
        ("embedding-data", "/data")
    ]


def test_image_overrides_come_from_the_environment() -> None:
    proc = compose(
        "config",
        "--format",
        "json",
        env={"EMBEDDING_IMAGE": "example/emb:1", "ORCHESTRATOR_IMAGE": "example/orch:2"},
    )
    assert proc.returncode == 0, proc.stderr
    services = json.loads(proc.stdout)["services"]
    assert services["embedding"]["image"] == "example/emb:1"
    assert services["orchestrator"]["image"] == "example/orch:2"


def test_release_reaches_both_services() -> None:
    proc = compose("config", "--format", "json", env={"RAGSTACK_RELEASE": "r-3f9a2c1d7e4b"})
    assert proc.returncode == 0, proc.stderr
    for name, svc in json.loads(proc.stdout)["services"].items():
        assert svc["environment"]["RAGSTACK_RELEASE"] == "r-3f9a2c1d7e4b", name


def test_release_is_empty_when_unset(config: dict) -> None:
    if os.environ.get("RAGSTACK_RELEASE") or (COMPOSE_FILE.parent / ".env").exists():
        pytest.skip("RAGSTACK_RELEASE may be set here or in services/.env")
    for name, svc in config["services"].items():
        assert svc["environment"]["RAGSTACK_RELEASE"] == "", name


@pytest.fixture(scope="module")
def compose_stack() -> Iterator[str]:
    port = free_port()
    project = f"rs-test-{uuid.uuid4().hex[:8]}"
    env = {"RAGSTACK_PORT": str(port)}
    try:
        proc = compose("-p", project, "up", "-d", "--wait", "--wait-timeout", "240", env=env)
        if proc.returncode != 0:
            logs = compose("-p", project, "logs", "--no-color", "--tail", "60", env=env)
            pytest.fail(f"compose up --wait failed:\n{proc.stderr}\n{logs.stdout}{logs.stderr}")
        yield f"http://127.0.0.1:{port}"
    finally:
        compose("-p", project, "down", "-v", "--remove-orphans", env=env, timeout=180)


def test_compose_up_brings_a_working_stack(compose_stack: str) -> None:
    status, body = http("GET", compose_stack + "/api/ready")
    assert status == 200, body
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "ingest_corpus.py"), "--url", compose_stack],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    status, body = http(
        "POST", compose_stack + "/api/query", {"question": "How are secrets handled?", "k": 3}
    )
    assert status == 200, body
    sources = body["sources"]
    assert sources
    assert {s["metadata"]["source"] for s in sources} <= {p.name for p in CORPUS.glob("*.md")}
