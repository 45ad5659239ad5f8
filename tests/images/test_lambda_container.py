"""The Lambda image invoked as Lambda invokes it: the Runtime Interface Client in the image
talks to a Runtime API (lambda_runtime_api.py, bind-mounted read-only) inside the same
container, which has no network, a read-only root filesystem and only /tmp writable."""

from __future__ import annotations

import json
import math
import subprocess

import pytest
from dockerkit import HARDENING, MODEL, ROOT, Docker, docker
from http_api_events import http_api_event

pytestmark = pytest.mark.docker

LAMBDA = "ragstack/embedding-service:lambda"
RUNTIME_API = ROOT / "tests" / "images" / "lambda_runtime_api.py"
# Lambda's limit on a container image (uncompressed, all layers).
LAMBDA_IMAGE_LIMIT = 10 * 1024**3
DOCUMENTS = [
    {
        "id": "rollback-runbook",
        "text": "To roll back a failed deployment, redeploy the previous image tag and "
        "watch the health checks until every task is healthy again.",
        "metadata": {"topic": "operations"},
    },
    {
        "id": "pancakes",
        "text": "Whisk two eggs with a cup of flour and a cup of milk, then fry the "
        "batter in a buttered pan until golden.",
        "metadata": {"topic": "cooking"},
    },
]


# /embed first: it waits for the model the init phase started loading; /ready after it
# must then say ready.
EVENTS = [
    http_api_event("POST", "/embed", {"texts": ["How do I undo a bad release?", "pancakes"]}),
    http_api_event("GET", "/ready"),
    http_api_event("POST", "/documents", {"documents": DOCUMENTS}),
    http_api_event("POST", "/search", {"query": "how do I revert a broken deploy?", "k": 2}),
    http_api_event("POST", "/embed", {"texts": []}),
]


@pytest.fixture(scope="module")
def lambda_config() -> dict:
    proc = docker("image", "inspect", LAMBDA, check=False)
    if proc.returncode != 0:
        pytest.skip(f"{LAMBDA} not built (scripts/build_images.py --skip-model was used)")
    return json.loads(proc.stdout)[0]


@pytest.fixture(scope="module")
def invoked(dockerctl: Docker, lambda_config: dict) -> dict:
    """Every event through the image's own ENTRYPOINT + CMD, as Lambda runs them."""
    config = lambda_config["Config"]
    command = [*config["Entrypoint"], *config["Cmd"]]
    name = dockerctl.name("lambda")
    dockerctl.containers.append(name)
    argv = [
        "docker", "run", "-i", "--name", name, *HARDENING, "--network", "none",
        "-v", f"{RUNTIME_API}:/opt/runtime-api/lambda_runtime_api.py:ro",
        "--entrypoint", "python3", LAMBDA,
        "/opt/runtime-api/lambda_runtime_api.py", "--timeout", "240", "--", *command,
    ]  # fmt: skip
    proc = subprocess.run(
        argv, input=json.dumps(EVENTS), capture_output=True, text=True, timeout=300, check=False
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    result = json.loads(proc.stdout)
    print(
        f"\n{LAMBDA}: {len(EVENTS)} invocations in {result['seconds']:.1f}s "
        f"(first, with the model load: {result['invocations'][0]['seconds']:.1f}s), "
        f"runtime peak RSS {result['runtime_peak_rss_mb']} MB"
    )
    assert not result["timed_out"], proc.stderr[-4000:]
    assert result["init_error"] is None, result["init_error"]
    assert result["runtime_exited_early"] is None, proc.stderr[-4000:]
    result["stderr"] = proc.stderr
    return result


def response(result: dict, index: int) -> tuple[int, dict]:
    outcome = result["invocations"][index]
    assert outcome is not None, f"invocation {index} got no answer"
    assert "response" in outcome, outcome
    payload = outcome["response"]
    return payload["statusCode"], json.loads(payload["body"])


def cosine(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    return dot / (math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b)))


def test_image_is_the_model_image_under_the_runtime_client(lambda_config):
    config = lambda_config["Config"]
    assert config["Entrypoint"] == ["python3", "-m", "awslambdaric"]
    assert config["Cmd"] == ["lambda_handler.handler"]
    assert config["User"] == "10001:10001"
    env = dict(e.split("=", 1) for e in config["Env"])
    assert env["HF_HUB_OFFLINE"] == "1"
    assert env["EMBEDDING_PROVIDER"] == "local"
    assert env["DATA_DIR"].startswith("/tmp/")
    # Built FROM the model target: its layers are the start of this image's.
    model_layers = json.loads(docker("image", "inspect", MODEL).stdout)[0]["RootFS"]["Layers"]
    layers = lambda_config["RootFS"]["Layers"]
    assert layers[: len(model_layers)] == model_layers
    assert len(layers) > len(model_layers)


def test_image_fits_lambda(lambda_config):
    size = lambda_config["Size"]
    print(f"\n{LAMBDA}: {size / 1e9:.2f} GB of Lambda's {LAMBDA_IMAGE_LIMIT / 1e9:.2f} GB")
    assert size < LAMBDA_IMAGE_LIMIT


def test_runs_non_root_on_a_read_only_root(invoked):
    assert invoked["runtime_uid"] not in (None, 0)
    assert invoked["root_filesystem"] == "EROFS"
    assert invoked["command"] == ["python3", "-m", "awslambdaric", "lambda_handler.handler"]


def test_embed_uses_the_baked_in_model(invoked):
    status, body = response(invoked, 0)
    assert status == 200, body
    assert (body["provider"], body["model"], body["dimension"]) == (
        "local",
        "all-MiniLM-L6-v2",
        384,
    )
    assert len(body["vectors"]) == 2
    assert all(len(v) == 384 for v in body["vectors"])
    # Normalised sentence embeddings, not hashing noise: unit length, distinct texts apart.
    assert all(abs(math.sqrt(sum(x * x for x in v)) - 1) < 1e-3 for v in body["vectors"])
    assert cosine(*body["vectors"]) < 0.5


def test_ready_after_the_model_loaded(invoked):
    status, body = response(invoked, 1)
    assert status == 200, body
    assert body["status"] == "ready"
    assert (body["provider"], body["dimension"], body["store"]) == ("local", 384, "local")


def test_ingested_document_is_found(invoked):
    status, body = response(invoked, 2)
    assert status == 200, body
    assert {d["id"] for d in body["documents"]} == {"rollback-runbook", "pancakes"}
    assert body["chunks_upserted"] >= 2
    status, body = response(invoked, 3)
    assert status == 200, body
    assert body["model"] == "all-MiniLM-L6-v2"
    top = body["results"][0]
    assert top["document_id"] == "rollback-runbook", body
    assert top["score"] > body["results"][1]["score"]


def test_client_mistake_is_a_4xx_not_a_crash(invoked):
    status, body = response(invoked, 4)
    assert 400 <= status < 500, body
    assert body["error"]["type"] == "validation_error"
    assert "Traceback" not in invoked["stderr"]
