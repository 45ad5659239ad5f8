"""Every client mistake gets a 4xx in the contract's error shape, naming the field."""

from __future__ import annotations

import json

import pytest

MAX_BATCH = 4


@pytest.fixture
def api(make_client):
    return make_client(max_batch=MAX_BATCH, max_body_bytes=4096)


CASES = [
    # (id, path, body, status, type, field)
    ("embed-missing-texts", "/embed", {}, 422, "validation_error", "texts"),
    ("embed-empty-list", "/embed", {"texts": []}, 422, "validation_error", "texts"),
    ("embed-empty-text", "/embed", {"texts": ["ok", ""]}, 422, "validation_error", "texts.1"),
    (
        "embed-blank-text",
        "/embed",
        {"texts": ["a", "b", "c", " \n"]},
        422,
        "validation_error",
        "texts.3",
    ),
    ("embed-non-string", "/embed", {"texts": ["ok", 7]}, 422, "validation_error", "texts.1"),
    ("embed-texts-not-list", "/embed", {"texts": "abc"}, 422, "validation_error", "texts"),
    (
        "embed-over-max-batch",
        "/embed",
        {"texts": ["t"] * (MAX_BATCH + 1)},
        413,
        "payload_too_large",
        "texts",
    ),
    ("embed-body-is-list", "/embed", ["a"], 422, "validation_error", "body"),
    ("docs-empty-list", "/documents", {"documents": []}, 422, "validation_error", "documents"),
    ("docs-missing", "/documents", {}, 422, "validation_error", "documents"),
    (
        "docs-empty-text",
        "/documents",
        {"documents": [{"text": ""}]},
        422,
        "validation_error",
        "documents.0.text",
    ),
    (
        "docs-missing-text",
        "/documents",
        {"documents": [{"text": "x"}, {"id": "b"}]},
        422,
        "validation_error",
        "documents.1.text",
    ),
    (
        "docs-blank-id",
        "/documents",
        {"documents": [{"id": " ", "text": "x"}]},
        422,
        "validation_error",
        "documents.0.id",
    ),
    (
        "docs-bad-metadata-key",
        "/documents",
        {"documents": [{"text": "x", "metadata": {"a.b": 1}}]},
        422,
        "validation_error",
        "documents.0.metadata",
    ),
    (
        "docs-metadata-not-object",
        "/documents",
        {"documents": [{"text": "x", "metadata": [1]}]},
        422,
        "validation_error",
        "documents.0.metadata",
    ),
    (
        "docs-over-max-batch",
        "/documents",
        {"documents": [{"text": f"t{i}"} for i in range(MAX_BATCH + 1)]},
        413,
        "payload_too_large",
        "documents",
    ),
    (
        "docs-duplicate-id",
        "/documents",
        {"documents": [{"id": "a", "text": "x"}, {"id": "a", "text": "y"}]},
        422,
        "validation_error",
        "documents.1.id",
    ),
    (
        "docs-duplicate-text",
        "/documents",
        {"documents": [{"text": "same"}, {"text": "same"}]},
        422,
        "validation_error",
        "documents.1.text",
    ),
    (
        "docs-chunk-size-small",
        "/documents",
        {"documents": [{"text": "x"}], "chunk_size": 5},
        422,
        "validation_error",
        "chunk_size",
    ),
    (
        "docs-overlap-negative",
        "/documents",
        {"documents": [{"text": "x"}], "chunk_overlap": -1},
        422,
        "validation_error",
        "chunk_overlap",
    ),
    (
        "docs-overlap-too-big",
        "/documents",
        {"documents": [{"text": "x"}], "chunk_size": 100, "chunk_overlap": 100},
        422,
        "validation_error",
        "chunk_overlap",
    ),
    ("search-empty-query", "/search", {"query": ""}, 422, "validation_error", "query"),
    ("search-missing-query", "/search", {"k": 3}, 422, "validation_error", "query"),
    ("search-k-zero", "/search", {"query": "q", "k": 0}, 422, "validation_error", "k"),
    ("search-k-too-big", "/search", {"query": "q", "k": 51}, 422, "validation_error", "k"),
    ("search-k-not-int", "/search", {"query": "q", "k": "many"}, 422, "validation_error", "k"),
    (
        "search-filter-nested",
        "/search",
        {"query": "q", "filter": {"tag": {"$ne": 1}}},
        422,
        "validation_error",
        "filter.tag",
    ),
    (
        "search-filter-null",
        "/search",
        {"query": "q", "filter": {"tag": None}},
        422,
        "validation_error",
        "filter.tag",
    ),
    (
        "search-filter-not-object",
        "/search",
        {"query": "q", "filter": ["tag"]},
        422,
        "validation_error",
        "filter",
    ),
]


@pytest.mark.parametrize(
    ("path", "body", "status", "type_", "field"),
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
def test_bad_input(api, path, body, status, type_, field):
    resp = api.post(path, json=body)
    assert resp.status_code == status, resp.text
    error = resp.json()["error"]
    assert error["type"] == type_
    assert error["field"] == field
    assert error["message"]
    assert "Traceback" not in resp.text


def test_validation_error_lists_every_problem(api):
    resp = api.post("/embed", json={"texts": ["", "ok", " "]})
    assert resp.status_code == 422
    details = resp.json()["error"]["details"]
    assert [d["field"] for d in details] == ["texts.0", "texts.2"]


@pytest.mark.parametrize("raw", [b"{not json", b'{"texts": ["a"]', b"\xff\xfe"])
def test_malformed_json_is_400(api, raw):
    resp = api.post("/embed", content=raw, headers={"content-type": "application/json"})
    assert resp.status_code == 400
    assert resp.json()["error"]["type"] == "invalid_json"
    assert resp.json()["error"]["field"] == "body"


def test_empty_body_is_a_client_error(api):
    resp = api.post("/embed", content=b"", headers={"content-type": "application/json"})
    assert resp.status_code in (400, 422)
    assert resp.json()["error"]["field"] == "body"


def test_wrong_content_type_is_a_client_error(api):
    resp = api.post(
        "/embed", content=json.dumps({"texts": ["a"]}), headers={"content-type": "text/plain"}
    )
    assert 400 <= resp.status_code < 500
    assert "error" in resp.json()


def test_body_over_limit_by_content_length_is_413(api):
    resp = api.post("/embed", json={"texts": ["x" * 5000]})
    assert resp.status_code == 413
    assert resp.json()["error"] == {
        "type": "payload_too_large",
        "message": "request body exceeds MAX_BODY_BYTES=4096",
        "field": "body",
    }


def test_body_over_limit_without_content_length_is_413(api):
    """A chunked upload declares no length: the limit applies to the bytes received."""
    payload = json.dumps({"texts": ["y" * 5000]}).encode()

    def chunks():
        for i in range(0, len(payload), 1000):
            yield payload[i : i + 1000]

    resp = api.post("/embed", content=chunks(), headers={"content-type": "application/json"})
    assert "content-length" not in {k.lower() for k in resp.request.headers}
    assert resp.status_code == 413
    assert resp.json()["error"]["type"] == "payload_too_large"


def test_body_under_limit_streamed_is_accepted(api):
    payload = json.dumps({"texts": ["small"]}).encode()
    resp = api.post(
        "/embed",
        content=iter([payload[:5], payload[5:]]),
        headers={"content-type": "application/json"},
    )
    assert resp.status_code == 200


def test_lying_content_length_is_a_client_error(api):
    resp = api.post(
        "/embed",
        content=b'{"texts":["a"]}',
        headers={"content-type": "application/json", "content-length": "abc"},
    )
    assert resp.status_code == 400
    assert resp.json()["error"]["field"] == "body"


def test_unknown_route_and_method(api):
    missing = api.get("/nope")
    assert missing.status_code == 404
    assert missing.json()["error"]["type"] == "not_found"
    wrong = api.get("/embed")
    assert wrong.status_code == 405
    assert wrong.json()["error"]["type"] == "method_not_allowed"


def test_delete_unknown_document_is_404(api):
    resp = api.delete("/documents/never-seen")
    assert resp.status_code == 404
    assert resp.json()["error"] == {
        "type": "not_found",
        "message": "document 'never-seen' not found",
        "field": "id",
    }
