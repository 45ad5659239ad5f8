#!/usr/bin/env python3
"""/embed throughput over HTTP vs the same model in-process (texts/s, batch 32, local provider).

    python bench_embed.py --spawn                     # starts the service on 127.0.0.1
    python bench_embed.py --url http://127.0.0.1:8000 # against a running service

Not part of `make test`: numbers depend on the machine. Prints both rates and their ratio.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def corpus(n: int) -> list[str]:
    topics = ["deployment", "vector search", "embeddings", "latency", "security", "billing"]
    return [
        f"Note {i}: how {topics[i % len(topics)]} affects the RAG system in region {i % 5}, "
        f"with details about step {i % 13} and owner team {i % 7}."
        for i in range(n)
    ]


def batches(texts: list[str], size: int) -> list[list[str]]:
    return [texts[i : i + size] for i in range(0, len(texts), size)]


def timed(embed, texts: list[str], batch: int) -> float:
    embed(texts[:batch])  # warm-up
    started = time.perf_counter()
    for chunk in batches(texts, batch):
        embed(chunk)
    return len(texts) / (time.perf_counter() - started)


def http_embedder(client: httpx.Client):
    def embed(chunk: list[str]) -> None:
        client.post("/embed", json={"texts": chunk}).raise_for_status()

    return embed


def inprocess_embedder(model: str):
    from embedding_service.providers.local import LocalProvider

    provider = LocalProvider(model, os.environ.get("EMBEDDING_MODEL_PATH"))
    provider.load()
    return provider.embed


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def spawn(model: str, data_dir: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {
        **os.environ,
        "EMBEDDING_PROVIDER": "local",
        "EMBEDDING_MODEL": model,
        "VECTOR_STORE": "local",
        "DATA_DIR": data_dir,
        "EMBEDDING_SERVICE_HOST": "127.0.0.1",
        "EMBEDDING_SERVICE_PORT": str(port),
        "LOG_LEVEL": "warning",
        "HF_HUB_OFFLINE": "1",
    }
    proc = subprocess.Popen([sys.executable, "-m", "embedding_service"], cwd=HERE, env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/ready", timeout=2).status_code == 200:
                return proc, url
        except httpx.TransportError:
            pass
        if proc.poll() is not None:
            raise SystemExit("service exited during start-up")
        time.sleep(0.5)
    proc.terminate()
    raise SystemExit("service not ready after 180s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--spawn", action="store_true", help="start the service on 127.0.0.1")
    parser.add_argument("--texts", type=int, default=512)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--model", default="all-MiniLM-L6-v2")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    texts = corpus(args.texts)
    local_embed = inprocess_embedder(args.model)
    proc = None
    if args.spawn:
        import tempfile

        proc, args.url = spawn(args.model, tempfile.mkdtemp(prefix="bench-embed-"))
    http_rates: list[float] = []
    local_rates: list[float] = []
    try:
        ready = httpx.get(f"{args.url}/ready", timeout=5).json()
        if ready.get("provider") != "local":
            print(f"warning: service provider is {ready.get('provider')!r}, not 'local'")
        with httpx.Client(base_url=args.url, timeout=120) as client:
            # Interleaved rounds, so background load on a shared machine hits both sides alike.
            for _ in range(args.rounds):
                http_rates.append(timed(http_embedder(client), texts, args.batch))
                local_rates.append(timed(local_embed, texts, args.batch))
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=30)
    http_rate, local_rate = statistics.median(http_rates), statistics.median(local_rates)
    print(f"texts={len(texts)} batch={args.batch} model={args.model} rounds={args.rounds}")
    print(f"http /embed : {http_rate:8.1f} texts/s (median)")
    print(f"in-process  : {local_rate:8.1f} texts/s (median)")
    print(f"http/in-process ratio: {http_rate / local_rate:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
