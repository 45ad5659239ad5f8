#!/usr/bin/env python3
"""Bounded, paced load on a local ragstack's /api/query; prints latency percentiles.

    .venv/bin/python tests/e2e/load.py --url https://127.0.0.1:8443 --requests 120 --rate 8

Loopback only (127.0.0.1 / localhost). The pace stays under nginx_tls's /api/ rate
limit (10 r/s, burst 20) so what is measured is the service, not the limiter's 429s.
Stdlib only.
"""

from __future__ import annotations

import argparse
import collections
import json
import ssl
import statistics
import sys
import threading
import time
import urllib.error
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


def _check_loopback(url: str) -> None:
    if urlsplit(url).hostname not in LOOPBACK:
        raise SystemExit(f"load.py only targets 127.0.0.1/localhost, not {url}")


def query(url: str, question: str, timeout: float, context: ssl.SSLContext) -> str | None:
    """One POST /api/query on a new connection; None when it answered with sources,
    else the kind of failure (exception class, HTTP status, or "no sources")."""
    request = urllib.request.Request(
        f"{url.rstrip('/')}/api/query",
        data=json.dumps({"question": question}).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout, context=context) as response:
            payload = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return f"HTTP {exc.code}"
    except Exception as exc:  # noqa: BLE001 - every failure is counted by kind
        return type(exc).__name__
    return None if payload.get("sources") else "no sources"


class SteadyLoad:
    """Paced /api/query traffic in the background while something else happens.

    `workers` threads each send one request at a time, together at about `rate` per second,
    until stop() or the hard bounds (`max_seconds`, and so at most rate * max_seconds
    requests) end it. Every request and every failure is counted by kind.
    """

    def __init__(
        self, url: str, rate: float = 4.0, workers: int = 2, max_seconds: float = 900.0,
        timeout: float = 30.0,
    ) -> None:  # fmt: skip
        _check_loopback(url)
        self.url, self.rate, self.workers = url, rate, workers
        self.max_seconds, self.timeout = max_seconds, timeout
        self.sent = 0
        self.failures: collections.Counter[str] = collections.Counter()
        self.latencies: list[float] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._started = 0.0
        self.seconds = 0.0

    def _worker(self, index: int) -> None:
        context = ssl._create_unverified_context()  # the local LB's certificate is self-made
        interval = self.workers / self.rate
        deadline = self._started + self.max_seconds
        due = self._started + index * interval / self.workers
        n = index
        while not self._stop.is_set() and time.monotonic() < deadline:
            delay = due - time.monotonic()
            if delay > 0 and self._stop.wait(delay):
                break
            due += interval
            t0 = time.monotonic()
            failure = query(self.url, QUESTIONS[n % len(QUESTIONS)], self.timeout, context)
            n += self.workers
            with self._lock:
                self.sent += 1
                if failure:
                    self.failures[failure] += 1
                else:
                    self.latencies.append((time.monotonic() - t0) * 1000)

    def __enter__(self) -> SteadyLoad:
        self._started = time.monotonic()
        for index in range(self.workers):
            thread = threading.Thread(target=self._worker, args=(index,), daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> dict:
        self._stop.set()
        for thread in self._threads:
            thread.join(self.timeout + 5)
        self.seconds = round(time.monotonic() - self._started, 1)
        return self.result()

    def result(self) -> dict:
        with self._lock:
            ok = sorted(self.latencies)
            return {
                "sent": self.sent,
                "ok": len(ok),
                "failed": sum(self.failures.values()),
                "failures": dict(self.failures),
                "seconds": self.seconds,
                "p50_ms": round(percentile(ok, 0.50), 1) if ok else None,
                "p95_ms": round(percentile(ok, 0.95), 1) if ok else None,
                "max_ms": round(ok[-1], 1) if ok else None,
            }


def run(url: str, requests: int, rate: float, timeout: float) -> dict:
    _check_loopback(url)
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
        t0 = time.perf_counter()
        failure = query(url, QUESTIONS[i % len(QUESTIONS)], timeout, context)
        if failure:
            errors[failure] = errors.get(failure, 0) + 1
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
