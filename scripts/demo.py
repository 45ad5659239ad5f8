#!/usr/bin/env python3
"""Run ragstack locally on 127.0.0.1 from the images `make images` built,
load the sample corpus and ask it one question.

    make demo                    # or: python3 scripts/demo.py
    RAGSTACK_PORT=5050 make demo # another port
    docker/compose -f services/docker-compose.yml down      # stop (add -v to drop the data)

Uses the model image (real sentence embeddings) when it was built, else the
slim one; EMBEDDING_IMAGE overrides. Secrets, if any, go in services/.env.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import ingest_corpus  # noqa: E402 - a sibling script, not a package

COMPOSE = [str(ROOT / "docker" / "compose"), "-f", str(ROOT / "services" / "docker-compose.yml")]
QUESTION = "How does ragstack roll back a failed update?"


def image_exists(name: str) -> bool:
    probe = ["docker", "image", "inspect", name]
    return subprocess.run(probe, capture_output=True, check=False).returncode == 0  # noqa: S603


def main() -> int:
    env = dict(os.environ)
    if "EMBEDDING_IMAGE" not in env and image_exists("ragstack/embedding-service:model"):
        env["EMBEDDING_IMAGE"] = "ragstack/embedding-service:model"
    port = env.setdefault("RAGSTACK_PORT", "5000")
    url = f"http://127.0.0.1:{port}"
    print(f"starting ragstack with {env.get('EMBEDDING_IMAGE', 'the slim embedding image')}")
    up = [*COMPOSE, "up", "-d", "--wait", "--wait-timeout", "300"]
    if subprocess.run(up, cwd=ROOT, env=env, check=False).returncode != 0:  # noqa: S603
        subprocess.run([*COMPOSE, "logs", "--tail", "40"], cwd=ROOT, env=env, check=False)  # noqa: S603
        print("demo: the stack did not become healthy (logs above)", file=sys.stderr)
        return 1
    if ingest_corpus.main(["--url", url]) != 0:
        return 1
    req = urllib.request.Request(  # noqa: S310 - our own loopback URL
        f"{url}/api/query",
        data=json.dumps({"question": QUESTION, "k": 3}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=120) as resp:  # noqa: S310
        result = json.load(resp)
    print(f"\nQ: {QUESTION}\nA ({result['mode']}): {result['answer']}\n")
    for source in result["sources"]:
        print(f"  source: {source['metadata'].get('source')} (score {source['score']:.3f})")
    print(f'\nragstack API: {url}/api/query  (POST {{"question": ...}})')
    print("stop it with: docker/compose -f services/docker-compose.yml down")
    return 0


if __name__ == "__main__":
    sys.exit(main())
