"""The slim embedding image and the orchestrator image, run the way compose runs
them: non-root, read-only, healthy, and answering real queries from the corpus."""

from __future__ import annotations

import subprocess
import sys

import pytest
from dockerkit import (
    CORPUS,
    ORCHESTRATOR,
    ROOT,
    SLIM,
    Container,
    Docker,
    docker,
    http,
    image_config,
)

pytestmark = pytest.mark.docker

CORPUS_FILES = {p.name for p in CORPUS.glob("*.md")}


def ingest(url: str, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "ingest_corpus.py"), "--url", url, *extra],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@pytest.fixture(scope="module")
def ingested(stack: dict[str, Container]) -> str:
    proc = ingest(stack["orchestrator"].url)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


@pytest.mark.parametrize("image", [SLIM, ORCHESTRATOR])
def test_image_runs_as_non_root(image: str) -> None:
    user = image_config(image).get("User", "")
    assert user, f"{image} has no USER: it would run as root"
    assert user.split(":")[0] not in ("root", "0")
    uid = docker("run", "--rm", "--entrypoint", "id", image, "-u").stdout.strip()
    assert uid.isdigit()
    assert int(uid) != 0


@pytest.mark.parametrize("image", [SLIM, ORCHESTRATOR])
def test_image_has_healthcheck_without_curl(image: str) -> None:
    check = image_config(image).get("Healthcheck") or {}
    assert check.get("Test"), f"{image} defines no HEALTHCHECK"
    assert "curl" not in " ".join(check["Test"])


def test_both_containers_become_healthy(stack: dict[str, Container]) -> None:
    for container in stack.values():
        container.wait_healthy(timeout=90)


def test_ready_endpoints(stack: dict[str, Container]) -> None:
    status, ready = http("GET", stack["embedding"].url + "/ready")
    assert status == 200
    assert ready["status"] == "ready"
    assert ready["store"] == "local"
    assert isinstance(ready["dimension"], int)
    assert ready["dimension"] > 0
    status, body = http("GET", stack["orchestrator"].url + "/api/ready")
    assert status == 200, body


def test_corpus_ingest_through_orchestrator(ingested: str) -> None:
    assert f"ingested {len(CORPUS_FILES)} documents" in ingested


def test_reingest_changes_nothing(stack: dict[str, Container], ingested: str) -> None:
    proc = ingest(stack["orchestrator"].url)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert " 0 upserted" in proc.stdout
    assert " 0 deleted" in proc.stdout


def test_query_answers_from_the_corpus(stack: dict[str, Container], ingested: str) -> None:
    status, body = http(
        "POST",
        stack["orchestrator"].url + "/api/query",
        {"question": "How do rolling updates and rollback work?", "k": 3},
    )
    assert status == 200, body
    assert body["answer"].strip()
    assert body["mode"] == "extractive"  # no OPENAI_API_KEY in this container
    sources = body["sources"]
    assert 0 < len(sources) <= 3
    assert {s["metadata"]["source"] for s in sources} <= CORPUS_FILES
    assert "rolling-updates" in {s["document_id"] for s in sources}
    assert body["timings"]["total_ms"] >= 0


def test_bad_request_is_a_json_4xx(stack: dict[str, Container]) -> None:
    status, body = http("POST", stack["orchestrator"].url + "/api/query", {"question": ""})
    assert 400 <= status < 500
    assert "error" in body


def test_local_store_survives_a_new_container(dockerctl: Docker) -> None:
    volume = dockerctl.volume("persist")
    args = ("-v", f"{volume}:/data", "-e", "DATA_DIR=/data")
    first = dockerctl.run("persist-1", SLIM, *args, container_port=8000)
    first.wait_http("/ready")
    proc = ingest(first.url, "--direct")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    dockerctl.remove_container(first.name)

    second = dockerctl.run("persist-2", SLIM, *args, container_port=8000)
    second.wait_http("/ready")
    status, body = http("POST", second.url + "/search", {"query": "TLS certificates", "k": 5})
    assert status == 200, body
    assert body["results"], "the new container sees an empty store"
    assert {r["metadata"]["source"] for r in body["results"]} <= CORPUS_FILES
    assert "tls" in {r["document_id"] for r in body["results"]}
