#!/usr/bin/env python3
"""Bounded, paced load on a local ragstack's /api/query; prints latency percentiles.

    .venv/bin/python tests/e2e/load.py --url https://127.0.0.1:8443 --requests 120 --rate 8

Loopback only (127.0.0.1 / localhost). The pace stays under nginx_tls's /api/ rate
limit (10 r/s, burst 20) so what is measured is the service, not the limiter's 429s.
Stdlib only.
"""

from __future__ import annotations

import argparse
import json
import ssl
import statistics
import sys
import time
import urllib.request
from urllib.parse import urlsplit

LOOPBACK = {"127.0.0.1", "localhost"}
QUESTIONS = (
    "How does ragstack keep secrets out of the logs?",
    "How do rolling updates work?",
    "What does the GPU support need?",
    "How is TLS configured?",
)


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of an already sorted list."""
    index = max(0, min(len(sorted_values) - 1, round(fraction * len(sorted_values)) - 1))
    return sorted_values[index]


def run(url: str, requests: int, rate: float, timeout: float) -> dict:
    if urlsplit(url).hostname not in LOOPBACK:
        raise SystemExit(f"load.py only targets 127.0.0.1/localhost, not {url}")
    # The local deployment's certificate is self-signed.
    context = ssl._create_unverified_context()
    latencies: list[float] = []
    errors: dict[str, int] = {}
    interval = 1.0 / rate
    started = time.perf_counter()
    for i in range(requests):
        due = started + i * interval
        delay = due - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        body = json.dumps({"question": QUESTIONS[i % len(QUESTIONS)]}).encode()
        request = urllib.request.Request(
            f"{url.rstrip('/')}/api/query",
            data=body,
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        t0 = time.perf_counter()
        try:
            with urllib.request.urlopen(request, timeout=timeout, context=context) as response:
                payload = json.loads(response.read())
            if not payload.get("sources"):
                errors["no sources"] = errors.get("no sources", 0) + 1
                continue
        except Exception as exc:  # noqa: BLE001 - every failure is counted by kind
            kind = type(exc).__name__
            errors[kind] = errors.get(kind, 0) + 1
            continue
        latencies.append((time.perf_counter() - t0) * 1000)
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "requests": requests,
        "ok": len(latencies),
        "errors": errors,
        "seconds": round(elapsed, 2),
        "p50_ms": round(percentile(latencies, 0.50), 1) if latencies else None,
        "p95_ms": round(percentile(latencies, 0.95), 1) if latencies else None,
        "max_ms": round(latencies[-1], 1) if latencies else None,
        "mean_ms": round(statistics.fmean(latencies), 1) if latencies else None,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="https://127.0.0.1:8443")
    parser.add_argument("--requests", type=int, default=120)
    parser.add_argument("--rate", type=float, default=8.0, help="requests per second")
    parser.add_argument("--timeout", type=float, default=30.0)
    args = parser.parse_args(argv)
    result = run(args.url, args.requests, args.rate, args.timeout)
    print(json.dumps(result))
    return 0 if result["ok"] == result["requests"] else 1


if __name__ == "__main__":
    sys.exit(main())
