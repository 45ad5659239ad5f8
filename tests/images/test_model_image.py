"""The model image embeds with the weights baked into it: no network at all."""

from __future__ import annotations

import json
import math
import time

import pytest
from dockerkit import MODEL, Docker, docker

pytestmark = pytest.mark.docker

# Runs inside the container: the only way in when it has no network.
CLIENT = """
import json, sys, urllib.request
req = urllib.request.Request("http://127.0.0.1:8000" + sys.argv[1], method=sys.argv[2])
if len(sys.argv) > 3:
    req.data = sys.argv[3].encode()
    req.add_header("Content-Type", "application/json")
with urllib.request.urlopen(req, timeout=60) as resp:
    print(resp.read().decode())
"""

TEXTS = [
    "How do I roll back a failed deployment?",
    "Rolling back a release to the previous version of the images.",
    "The recipe needs two eggs and a cup of flour.",
]


def cosine(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    return dot / (math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b)))


@pytest.fixture(scope="module")
def offline_model(dockerctl: Docker):
    if docker("image", "inspect", MODEL, check=False).returncode != 0:
        pytest.skip(f"{MODEL} not built (scripts/build_images.py --skip-model was used)")
    container = dockerctl.run("model", MODEL, "--network", "none")
    deadline = time.monotonic() + 300
    last = ""
    while time.monotonic() < deadline:
        if not container.state().get("Running"):
            container.fail("exited before it was ready")
        proc = container.exec("python3", "-c", CLIENT, "/ready", "GET", timeout=30)
        if proc.returncode == 0:
            return container
        last = proc.stderr.strip().splitlines()[-1:] or proc.stdout
        time.sleep(2)
    container.fail(f"/ready never answered 200 (last: {last})")
    return None


def call(container, path: str, method: str = "GET", body: dict | None = None) -> dict:
    args = [json.dumps(body)] if body is not None else []
    proc = container.exec("python3", "-c", CLIENT, path, method, *args, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_model_image_has_no_network(offline_model) -> None:
    proc = offline_model.exec("cat", "/sys/class/net/eth0/address")
    assert proc.returncode != 0, "the container has an eth0: --network none did not apply"


def test_model_image_is_ready_with_local_provider(offline_model) -> None:
    ready = call(offline_model, "/ready")
    assert ready["status"] == "ready"
    assert ready["provider"] == "local"
    assert ready["dimension"] == 384


def test_model_image_embeds_384_dim_semantic_vectors(offline_model) -> None:
    body = call(offline_model, "/embed", "POST", {"texts": TEXTS})
    assert body["dimension"] == 384
    vectors = body["vectors"]
    assert len(vectors) == len(TEXTS)
    assert all(len(v) == 384 for v in vectors)
    # A real sentence embedding puts the paraphrase nearer than the recipe;
    # the two share almost no words, so a lexical fallback would not.
    assert cosine(vectors[0], vectors[1]) > cosine(vectors[0], vectors[2]) + 0.2
