"""scripts/ingest_corpus.py against a stub server on 127.0.0.1 (no Docker)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest
from dockerkit import CORPUS, ROOT


class Stub(BaseHTTPRequestHandler):
    ready_failures = 0
    documents_status = 200
    seen: ClassVar[list[tuple[str, dict]]] = []

    def reply(self, status: int, body: dict) -> None:
        raw = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def do_GET(self) -> None:
        if type(self).ready_failures > 0:
            type(self).ready_failures -= 1
            self.reply(503, {"status": "not_ready", "reason": "loading"})
        else:
            self.reply(200, {"status": "ready"})

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.seen.append((self.path, body))
        if self.documents_status != 200:
            self.reply(self.documents_status, {"error": {"type": "validation_error"}})
            return
        docs = [{"id": d["id"], "chunks": 2} for d in body["documents"]]
        self.reply(200, {"documents": docs, "chunks_upserted": 2, "chunks_unchanged": 0})

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def stub() -> Iterator[tuple[str, type[Stub]]]:
    handler = type("StubHandler", (Stub,), {"seen": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler
    finally:
        server.shutdown()
        server.server_close()


def ingest(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "ingest_corpus.py"), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_posts_every_file_with_stable_id_and_metadata(stub) -> None:
    url, handler = stub
    handler.ready_failures = 2  # still starting: the script must wait, not fail
    proc = ingest("--url", url, "--wait", "20")
    assert proc.returncode == 0, proc.stderr
    files = sorted(CORPUS.glob("*.md"))
    assert [path for path, _ in handler.seen] == ["/api/documents"] * len(files)
    docs = [body["documents"][0] for _, body in handler.seen]
    assert [d["id"] for d in docs] == [f.stem for f in files]
    for doc, path in zip(docs, files, strict=True):
        assert doc["metadata"]["source"] == path.name
        assert doc["metadata"]["title"] == path.read_text().splitlines()[0].removeprefix("# ")
        assert doc["text"] == path.read_text()
    assert f"ingested {len(files)} documents" in proc.stdout


def test_direct_mode_posts_to_the_embedding_service_path(stub) -> None:
    url, handler = stub
    proc = ingest("--url", url, "--direct")
    assert proc.returncode == 0, proc.stderr
    assert {path for path, _ in handler.seen} == {"/documents"}


def test_client_error_fails_at_once_with_a_clear_message(stub) -> None:
    url, handler = stub
    handler.documents_status = 422
    proc = ingest("--url", url, "--wait", "30")
    assert proc.returncode == 1
    assert "HTTP 422" in proc.stderr
    assert len(handler.seen) == 1


def test_unreachable_service_fails_after_the_wait() -> None:
    with ThreadingHTTPServer(("127.0.0.1", 0), Stub) as server:
        port = server.server_address[1]  # closed again before the script runs
    proc = ingest("--url", f"http://127.0.0.1:{port}", "--wait", "2")
    assert proc.returncode == 1
    assert "did not succeed in time" in proc.stderr
