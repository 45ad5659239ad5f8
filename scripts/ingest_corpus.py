#!/usr/bin/env python3
"""Load the sample corpus (services/corpus/*.md) into a running ragstack.

Each file becomes one document whose id is the file's stem and whose metadata
is {"source": <file name>, "title": <its first "# " heading>}. Ingestion is
idempotent on the service side, so running this again stores nothing new.

    # through the orchestrator, or straight to the embedding service:
    python3 scripts/ingest_corpus.py --url http://127.0.0.1:5000
    python3 scripts/ingest_corpus.py --url http://127.0.0.1:8000 --direct

Stdlib only: it runs on any host with Python 3.9+, no venv needed.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

CORPUS = Path(__file__).resolve().parent.parent / "services" / "corpus"
# While a service starts (or its upstream does), these mean "try again".
RETRYABLE = {502, 503, 504}


class IngestError(Exception):
    pass


def title_of(text: str, fallback: str) -> str:
    for line in text.splitlines():
        if line.startswith("# "):
            return line[2:].strip()
    return fallback


def load_documents(corpus: Path) -> list[dict]:
    files = sorted(corpus.glob("*.md"))
    if not files:
        raise IngestError(f"no *.md files in {corpus}")
    docs = []
    for path in files:
        text = path.read_text(encoding="utf-8")
        docs.append(
            {
                "id": path.stem,
                "text": text,
                "metadata": {"source": path.name, "title": title_of(text, path.stem)},
            }
        )
    return docs


def request(method: str, url: str, body: dict | None, timeout: float) -> tuple[int, dict | str]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)  # noqa: S310 - URL from the user
    req.add_header("Content-Type", "application/json")
    req.add_header("Accept", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310
            status, raw = resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    try:
        return status, json.loads(raw or b"{}")
    except ValueError:
        return status, raw.decode(errors="replace")[:500]


def call_with_retry(
    method: str, url: str, body: dict | None, deadline: float, timeout: float
) -> dict:
    """Retry connection errors and 502/503/504 until the deadline; fail fast on anything else."""
    last = "no attempt"
    delay = 1.0
    while True:
        try:
            status, payload = request(method, url, body, timeout)
            if 200 <= status < 300 and isinstance(payload, dict):
                return payload
            last = f"HTTP {status}: {payload}"
            if status not in RETRYABLE:
                raise IngestError(f"{method} {url} failed with {last}")
        except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
            last = f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}"
        if time.monotonic() + delay > deadline:
            raise IngestError(f"{method} {url} did not succeed in time; last error: {last}")
        time.sleep(delay)
        delay = min(delay * 1.5, 5.0)


def ingest(url: str, direct: bool, corpus: Path, wait: float, timeout: float) -> dict:
    base = url.rstrip("/")
    ready_url = f"{base}/ready" if direct else f"{base}/api/ready"
    docs_url = f"{base}/documents" if direct else f"{base}/api/documents"
    docs = load_documents(corpus)
    deadline = time.monotonic() + wait
    call_with_retry("GET", ready_url, None, deadline, timeout=10)
    totals = {"documents": 0, "chunks": 0, "upserted": 0, "unchanged": 0, "deleted": 0}
    for doc in docs:
        # One request per file keeps each body small and each failure precise.
        result = call_with_retry(
            "POST", docs_url, {"documents": [doc]}, time.monotonic() + wait, timeout
        )
        chunks = sum(d.get("chunks", 0) for d in result.get("documents", []))
        print(f"  {doc['id']}: {chunks} chunks ({doc['metadata']['title']})")
        totals["documents"] += 1
        totals["chunks"] += chunks
        totals["upserted"] += result.get("chunks_upserted", 0)
        totals["unchanged"] += result.get("chunks_unchanged", 0)
        totals["deleted"] += result.get("chunks_deleted", 0)
    return totals


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", default="http://127.0.0.1:5000", help="orchestrator (or service) URL")
    ap.add_argument(
        "--direct", action="store_true", help="--url is the embedding service: POST /documents"
    )
    ap.add_argument("--corpus", type=Path, default=CORPUS, help="folder of *.md files")
    ap.add_argument(
        "--wait", type=float, default=180, help="seconds to wait for the service to get ready"
    )
    ap.add_argument("--timeout", type=float, default=300, help="seconds per request")
    args = ap.parse_args(argv)
    print(f"ingesting {args.corpus} into {args.url}")
    try:
        totals = ingest(args.url, args.direct, args.corpus, args.wait, args.timeout)
    except IngestError as exc:
        print(f"ingest_corpus: error: {exc}", file=sys.stderr)
        return 1
    print(
        f"ingested {totals['documents']} documents, {totals['chunks']} chunks: "
        f"{totals['upserted']} upserted, {totals['unchanged']} unchanged, "
        f"{totals['deleted']} deleted"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
