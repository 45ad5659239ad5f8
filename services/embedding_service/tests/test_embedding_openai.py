"""OpenAI provider over an httpx MockTransport: no network, real retry/timeout logic."""

from __future__ import annotations

import json

import httpx
import numpy as np
import pytest
from embedding_service.errors import UpstreamError, UpstreamTimeout
from embedding_service.providers.openai import OpenAIProvider, backoff_seconds


def embedding_response(request: httpx.Request, dim: int = 8) -> httpx.Response:
    texts = json.loads(request.content)["input"]
    # Out of order on purpose: the API's `index` field is what ties a vector to its input.
    data = [
        {"object": "embedding", "index": i, "embedding": [float(i + 1)] * dim}
        for i in reversed(range(len(texts)))
    ]
    return httpx.Response(200, json={"object": "list", "data": data, "model": "m"})


class Recorder:
    def __init__(self, *responses):
        self.responses = list(responses)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        step = self.responses.pop(0) if len(self.responses) > 1 else self.responses[0]
        if isinstance(step, Exception):
            raise step
        if callable(step):
            return step(request)
        return step


def provider(handler, **kwargs) -> tuple[OpenAIProvider, list[float]]:
    sleeps: list[float] = []
    p = OpenAIProvider(
        api_key="sk-test",
        transport=httpx.MockTransport(handler),
        sleep=sleeps.append,
        **kwargs,
    )
    return p, sleeps


def test_request_shape_and_index_ordering():
    rec = Recorder(embedding_response)
    p, _ = provider(rec, model="text-embedding-3-small", base_url="https://api.example.test/v1")
    vecs = p.embed(["a", "b", "c"])
    assert vecs.shape == (3, 8)
    assert vecs[:, 0].tolist() == [1.0, 2.0, 3.0]
    req = rec.requests[0]
    assert str(req.url) == "https://api.example.test/v1/embeddings"
    assert req.headers["authorization"] == "Bearer sk-test"
    assert json.loads(req.content) == {"model": "text-embedding-3-small", "input": ["a", "b", "c"]}


def test_known_model_dimension_needs_no_probe():
    rec = Recorder(embedding_response)
    p, _ = provider(rec, model="text-embedding-3-large")
    p.load()
    assert p.dimension == 3072
    assert rec.requests == []


def test_unknown_model_is_probed_once_and_dimensions_parameter_is_sent():
    rec = Recorder(lambda r: embedding_response(r, dim=5))
    p, _ = provider(rec, model="custom-embedder")
    p.load()
    assert p.dimension == 5
    assert len(rec.requests) == 1
    q, _ = provider(Recorder(embedding_response), dimensions=8)
    assert q.dimension == 8
    q.embed(["x"])


def test_retries_429_then_succeeds_honouring_retry_after():
    rec = Recorder(
        httpx.Response(429, headers={"retry-after": "2"}, json={"error": {"message": "slow"}}),
        httpx.Response(503, json={"error": {"message": "busy"}}),
        embedding_response,
    )
    p, sleeps = provider(rec, max_retries=3)
    vecs = p.embed(["hello"])
    assert vecs.shape == (1, 8)
    assert len(rec.requests) == 3
    assert sleeps[0] == 2.0
    assert 0 <= sleeps[1] <= 1.0  # jittered exponential: attempt 1 -> up to 0.5 * 2


def test_gives_up_after_max_retries():
    rec = Recorder(httpx.Response(500, json={"error": {"message": "boom"}}))
    p, sleeps = provider(rec, max_retries=2)
    with pytest.raises(UpstreamError, match="answered 500"):
        p.embed(["x"])
    assert len(rec.requests) == 3
    assert len(sleeps) == 2


def test_client_errors_are_not_retried_and_do_not_echo_upstream_text():
    rec = Recorder(httpx.Response(401, json={"error": {"message": "Incorrect API key sk-t***"}}))
    p, sleeps = provider(rec)
    with pytest.raises(UpstreamError) as info:
        p.embed(["x"])
    assert len(rec.requests) == 1
    assert sleeps == []
    assert "sk-t" not in info.value.message


def test_timeout_is_an_upstream_timeout_error():
    rec = Recorder(httpx.ReadTimeout("read timed out"))
    p, sleeps = provider(rec, max_retries=3)
    with pytest.raises(UpstreamTimeout, match="timed out") as info:
        p.embed(["x"])
    assert info.value.status == 504
    assert len(rec.requests) == 1  # a slow backend is not hammered N more times
    assert sleeps == []


def test_connection_errors_are_retried():
    rec = Recorder(httpx.ConnectError("refused"), embedding_response)
    p, sleeps = provider(rec)
    assert p.embed(["x"]).shape == (1, 8)
    assert len(sleeps) == 1


def test_malformed_response_is_upstream_error():
    rec = Recorder(httpx.Response(200, json={"data": [{"index": 0}]}))
    p, _ = provider(rec)
    with pytest.raises(UpstreamError, match="unexpected"):
        p.embed(["x"])


def test_backoff_caps_retry_after_and_grows():
    assert backoff_seconds(0, "999") == 20.0
    assert backoff_seconds(0, "not-a-number") <= 0.5
    assert all(backoff_seconds(3, None) <= 4.0 for _ in range(50))


def test_openai_provider_through_the_api(make_client):
    p, _ = provider(Recorder(lambda r: embedding_response(r, dim=1536)))
    client = make_client(provider=p)
    body = client.post("/embed", json={"texts": ["a", "b"]}).json()
    assert body["provider"] == "openai"
    assert body["model"] == "text-embedding-3-small"
    assert np.array(body["vectors"]).shape == (2, 1536)
    failing, _ = provider(Recorder(httpx.ReadTimeout("slow")))
    failing.dimension = 1536
    slow = make_client(provider=failing, data_dir=client.app.state.settings.data_dir / "other")
    resp = slow.post("/embed", json={"texts": ["a"]})
    assert resp.status_code == 504
    assert resp.json()["error"]["type"] == "upstream_timeout"
