"""Every endpoint through the ASGI app: hashing provider, local store in a tmp DATA_DIR."""

from __future__ import annotations

import hashlib
import re
import shutil
import threading

import numpy as np
from embedding_service.errors import UpstreamError
from embedding_service.providers.hashing import HashingProvider

LONG_TEXT = " ".join(
    f"Sentence {i} talks about topic{i % 7} and the ragstack deployment on AWS." for i in range(40)
)


class CountingProvider(HashingProvider):
    def __init__(self) -> None:
        super().__init__(384)
        self.embedded: list[str] = []

    def embed(self, texts):
        self.embedded.extend(texts)
        return super().embed(texts)


class GatedProvider(HashingProvider):
    """Load blocks until the test opens the gate: start-up in slow motion."""

    def __init__(self) -> None:
        super().__init__(384)
        self.gate = threading.Event()

    def load(self) -> None:
        self.gate.wait(10)


class BrokenProvider(HashingProvider):
    def __init__(self, exc: Exception) -> None:
        super().__init__(384)
        self.exc = exc

    def embed(self, texts):
        raise self.exc


def metric(text: str, name: str, **labels: str) -> float:
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        if all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} {labels} not in metrics")


def ingest(client, docs, **extra):
    resp = client.post("/documents", json={"documents": docs, **extra})
    assert resp.status_code == 200, resp.text
    return resp.json()


# -- health / ready ----------------------------------------------------------------------------


def test_health_answers_while_model_still_loading(make_client, wait_ready):
    provider = GatedProvider()
    client = make_client(provider=provider, ready=False, request_ready_timeout_seconds=0)
    assert client.get("/health").json()["status"] == "ok"
    ready = client.get("/ready")
    assert ready.status_code == 503
    assert ready.json()["status"] == "not_ready"
    assert "loading" in ready.json()["reason"]
    busy = client.post("/embed", json={"texts": ["x"]})
    assert busy.status_code == 503
    assert busy.json()["error"]["type"] == "not_ready"
    provider.gate.set()
    assert wait_ready(client)["status"] == "ready"


def test_ready_reports_provider_model_dimension_store(client):
    body = client.get("/ready").json()
    assert body == {
        "status": "ready",
        "provider": "hashing",
        "model": "feature-hashing-384",
        "dimension": 384,
        "store": "local",
    }


def test_ready_503_when_model_fails_to_load(make_client):
    class FailingLoad(HashingProvider):
        def load(self) -> None:
            raise OSError("weights missing")

    client = make_client(provider=FailingLoad(384), ready=False, request_ready_timeout_seconds=0)
    for _ in range(200):
        body = client.get("/ready").json()
        if "failed" in body["reason"]:
            break
    assert client.get("/ready").status_code == 503
    assert body["reason"] == "model load failed: weights missing"


def test_ready_503_when_store_stops_answering(client, data_dir):
    shutil.rmtree(data_dir)
    resp = client.get("/ready")
    assert resp.status_code == 503
    assert "vector store not answering" in resp.json()["reason"]
    assert client.get("/health").status_code == 200


# -- /embed ------------------------------------------------------------------------------------


def test_embed_returns_normalised_vectors(client):
    resp = client.post("/embed", json={"texts": ["hello world", "another text", "hello world"]})
    assert resp.status_code == 200
    body = resp.json()
    assert body["model"] == "feature-hashing-384"
    assert body["provider"] == "hashing"
    assert body["dimension"] == 384
    vectors = np.array(body["vectors"])
    assert vectors.shape == (3, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert np.allclose(vectors[0], vectors[2])
    assert not np.allclose(vectors[0], vectors[1])


def test_embed_accepts_its_own_provider_name_and_refuses_others(client):
    assert client.post("/embed", json={"texts": ["a"], "provider": "hashing"}).status_code == 200
    other = client.post("/embed", json={"texts": ["a"], "provider": "openai"})
    assert other.status_code == 422
    assert other.json()["error"]["field"] == "provider"
    assert "not enabled" in other.json()["error"]["message"]
    bogus = client.post("/embed", json={"texts": ["a"], "provider": "bogus"})
    assert bogus.status_code == 422
    assert bogus.json()["error"]["field"] == "provider"
    assert "unknown provider 'bogus'" in bogus.json()["error"]["message"]


def test_embed_batches_by_embed_batch_size(make_client):
    provider = CountingProvider()
    calls = []
    original = provider.embed
    provider.embed = lambda texts: calls.append(len(texts)) or original(texts)
    client = make_client(provider=provider, embed_batch_size=4)
    resp = client.post("/embed", json={"texts": [f"t{i}" for i in range(10)]})
    assert resp.status_code == 200
    assert calls == [4, 4, 2]
    assert len(resp.json()["vectors"]) == 10


# -- /documents --------------------------------------------------------------------------------


def test_ingest_default_id_is_sha256_and_chunk_ids_are_numbered(client, data_dir):
    body = ingest(client, [{"text": LONG_TEXT}], chunk_size=300, chunk_overlap=50)
    doc_id = hashlib.sha256(LONG_TEXT.encode()).hexdigest()
    assert body["documents"][0]["id"] == doc_id
    n = body["documents"][0]["chunks"]
    assert n > 5
    assert body["chunks_upserted"] == n
    assert body["chunks_unchanged"] == 0
    assert body["chunks_deleted"] == 0
    hits = client.post("/search", json={"query": "topic3 ragstack", "k": 50}).json()["results"]
    assert {h["id"] for h in hits} == {f"{doc_id}:{i}" for i in range(n)}
    assert all(len(h["text"]) <= 300 for h in hits)


def test_chunking_defaults_come_from_settings(make_client):
    client = make_client(chunk_size=200, chunk_overlap=0)
    body = ingest(client, [{"id": "d", "text": LONG_TEXT}])
    assert body["documents"][0]["chunks"] >= len(LONG_TEXT) // 200


def test_reingest_is_idempotent_and_embeds_nothing(make_client):
    provider = CountingProvider()
    client = make_client(provider=provider)
    docs = [{"id": "doc-1", "text": LONG_TEXT, "metadata": {"source": "a"}}, {"text": "short one"}]
    first = ingest(client, docs, chunk_size=300, chunk_overlap=30)
    embedded = len(provider.embedded)
    assert first["chunks_upserted"] == embedded > 0
    second = ingest(client, docs, chunk_size=300, chunk_overlap=30)
    assert second["chunks_upserted"] == 0
    assert second["chunks_unchanged"] == first["chunks_upserted"]
    assert second["chunks_deleted"] == 0
    assert second["documents"] == first["documents"]
    assert len(provider.embedded) == embedded  # nothing went to the model
    scrape = client.get("/metrics").text
    assert metric(scrape, "embedding_embeddings_computed_total", provider="hashing") == embedded


def test_only_changed_chunks_are_reembedded(make_client):
    provider = CountingProvider()
    client = make_client(provider=provider)
    text = " ".join(["alpha"] * 60 + ["omega"] * 60)
    ingest(client, [{"id": "d", "text": text}], chunk_size=100, chunk_overlap=0)
    provider.embedded.clear()
    changed = text[:-5] + "delta"
    body = ingest(client, [{"id": "d", "text": changed}], chunk_size=100, chunk_overlap=0)
    assert body["chunks_upserted"] == 1
    assert body["chunks_unchanged"] == body["documents"][0]["chunks"] - 1
    assert len(provider.embedded) == 1
    assert provider.embedded[0].endswith("delta")


def test_metadata_change_updates_chunks(client):
    ingest(client, [{"id": "d", "text": "metadata moves", "metadata": {"v": 1}}])
    body = ingest(client, [{"id": "d", "text": "metadata moves", "metadata": {"v": 2}}])
    assert body["chunks_upserted"] == 1
    hit = client.post("/search", json={"query": "metadata moves"}).json()["results"][0]
    assert hit["metadata"] == {"v": 2}


def test_shrinking_a_document_deletes_stale_chunks(client):
    big = ingest(client, [{"id": "d", "text": LONG_TEXT}], chunk_size=200, chunk_overlap=0)
    n_big = big["documents"][0]["chunks"]
    small = ingest(client, [{"id": "d", "text": LONG_TEXT[:350]}], chunk_size=200, chunk_overlap=0)
    n_small = small["documents"][0]["chunks"]
    assert n_small == 2
    assert small["chunks_deleted"] == n_big - n_small
    hits = client.post("/search", json={"query": "topic", "k": 50}).json()["results"]
    assert sorted(h["id"] for h in hits) == ["d:0", "d:1"]
    scrape = client.get("/metrics").text
    assert metric(scrape, "embedding_store_chunks") == 2


# -- DELETE /documents/{id} --------------------------------------------------------------------


def test_delete_document(client):
    ingest(client, [{"id": "keep", "text": "kept text"}, {"id": "a/b:c", "text": "gone text"}])
    resp = client.delete("/documents/a/b:c")
    assert resp.status_code == 200
    assert resp.json() == {"id": "a/b:c", "deleted_chunks": 1}
    hits = client.post("/search", json={"query": "gone text", "k": 10}).json()["results"]
    assert [h["document_id"] for h in hits] == ["keep"]
    again = client.delete("/documents/a/b:c")
    assert again.status_code == 404
    assert again.json()["error"]["type"] == "not_found"


# -- /search -----------------------------------------------------------------------------------


def test_search_ranks_lexical_match_first_and_respects_k(client):
    ingest(
        client,
        [
            {"id": "cats", "text": "Cats purr and chase mice around the house."},
            {"id": "aws", "text": "Deploy the service to AWS with CloudFormation stacks."},
            {"id": "rust", "text": "Rust has a borrow checker and zero-cost abstractions."},
        ],
    )
    resp = client.post("/search", json={"query": "deploy to AWS with CloudFormation", "k": 2})
    assert resp.status_code == 200
    body = resp.json()
    assert body["model"] == "feature-hashing-384"
    assert body["took_ms"] >= 0
    assert body["results"][0]["document_id"] == "aws"
    assert len(body["results"]) == 2
    scores = [r["score"] for r in body["results"]]
    assert scores == sorted(scores, reverse=True)
    assert all(0.0 <= s <= 1.0 for s in scores)
    assert set(body["results"][0]) == {"id", "document_id", "text", "score", "metadata"}


def test_search_metadata_equality_filter(client):
    ingest(
        client,
        [
            {"id": "en", "text": "shared words here", "metadata": {"lang": "en", "draft": True}},
            {"id": "de", "text": "shared words here too", "metadata": {"lang": "de", "draft": 1}},
            {"id": "none", "text": "shared words without metadata"},
        ],
    )

    def ids(flt):
        resp = client.post("/search", json={"query": "shared words", "k": 10, "filter": flt})
        assert resp.status_code == 200
        return sorted(r["document_id"] for r in resp.json()["results"])

    assert ids({"lang": "de"}) == ["de"]
    assert ids({"lang": "en", "draft": True}) == ["en"]
    assert ids({"draft": 1}) == ["de"]  # true is not 1, as in MongoDB
    assert ids({"document_id": "none"}) == ["none"]
    assert ids({"lang": "fr"}) == []
    assert ids({}) == ["de", "en", "none"]


def test_search_on_empty_store(client):
    resp = client.post("/search", json={"query": "anything"})
    assert resp.status_code == 200
    assert resp.json()["results"] == []


# -- metrics and failures ----------------------------------------------------------------------


def test_metrics_count_requests_by_route_and_status(client):
    client.post("/embed", json={"texts": ["a"]})
    client.post("/embed", json={"texts": []})
    client.delete("/documents/missing")
    resp = client.get("/metrics")
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/plain")
    text = resp.text
    assert metric(text, "embedding_http_requests_total", route="/embed", status="200") == 1
    assert metric(text, "embedding_http_requests_total", route="/embed", status="422") == 1
    assert (
        metric(
            text,
            "embedding_http_requests_total",
            route="/documents/{document_id:path}",
            method="DELETE",
            status="404",
        )
        == 1
    )
    assert metric(text, "embedding_http_request_duration_seconds_count", route="/embed") >= 1
    assert metric(text, "embedding_ready") == 1
    assert metric(text, "embedding_store_chunks") == 0


def test_unhandled_error_is_a_bare_500(make_client):
    client = make_client(provider=BrokenProvider(RuntimeError("secret internals /etc/passwd")))
    resp = client.post("/embed", json={"texts": ["x"]})
    assert resp.status_code == 500
    assert resp.json() == {"error": {"type": "internal_error", "message": "internal error"}}
    assert "secret" not in resp.text
    assert "Traceback" not in resp.text


def test_upstream_failure_is_502(make_client):
    client = make_client(provider=BrokenProvider(UpstreamError("OpenAI answered 503")))
    resp = client.post("/search", json={"query": "x"})
    assert resp.status_code == 502
    assert resp.json()["error"]["type"] == "upstream_error"


def test_openapi_lists_contract_routes(client):
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/health", "/ready", "/embed", "/documents", "/search", "/metrics"):
        assert path in paths
    assert any(re.fullmatch(r"/documents/\{document_id(:path)?\}", p) for p in paths)


def test_small_chunk_size_alone_caps_the_default_overlap(client):
    body = ingest(client, [{"id": "d", "text": LONG_TEXT}], chunk_size=40)
    assert body["documents"][0]["chunks"] > len(LONG_TEXT) // 40
    hits = client.post("/search", json={"query": "topic", "k": 50}).json()["results"]
    assert all(len(h["text"]) <= 40 for h in hits)
