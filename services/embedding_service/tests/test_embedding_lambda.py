"""lambda_handler with API Gateway HTTP API (payload v2) events, as Lambda would call it."""

from __future__ import annotations

import base64
import importlib
import json
import sys

import pytest


def http_api_event(method: str, path: str, body: dict | None = None) -> dict:
    raw = json.dumps(body) if body is not None else None
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {
            "host": "abc123.execute-api.eu-west-1.amazonaws.com",
            "content-type": "application/json",
            "user-agent": "pytest",
            **({"content-length": str(len(raw))} if raw else {}),
        },
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc123",
            "domainName": "abc123.execute-api.eu-west-1.amazonaws.com",
            "domainPrefix": "abc123",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "192.0.2.1",
                "userAgent": "pytest",
            },
            "requestId": "req-1",
            "routeKey": "$default",
            "stage": "$default",
            "time": "26/Nov/2026:10:00:00 +0000",
            "timeEpoch": 1795600000000,
        },
        "body": raw,
        "isBase64Encoded": False,
    }


class Context:
    function_name = "embedding-service"
    aws_request_id = "req-1"

    def get_remaining_time_in_millis(self) -> int:
        return 30000


def decode(resp: dict) -> dict:
    body = resp["body"]
    if resp.get("isBase64Encoded"):
        body = base64.b64decode(body).decode()
    return json.loads(body)


@pytest.fixture
def lambda_module(tmp_path, monkeypatch):
    monkeypatch.setenv("EMBEDDING_PROVIDER", "hashing")
    monkeypatch.setenv("VECTOR_STORE", "local")
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "lambda-data"))
    monkeypatch.delenv("MONGODB_URI", raising=False)
    monkeypatch.delenv("RAGSTACK_RELEASE", raising=False)
    sys.modules.pop("lambda_handler", None)
    module = importlib.import_module("lambda_handler")
    yield module
    sys.modules.pop("lambda_handler", None)


def test_health(lambda_module):
    resp = lambda_module.handler(http_api_event("GET", "/health"), Context())
    assert resp["statusCode"] == 200
    assert decode(resp) == {"status": "ok", "release": None}


def test_health_reports_the_release(tmp_path, monkeypatch):
    monkeypatch.setenv("EMBEDDING_PROVIDER", "hashing")
    monkeypatch.setenv("VECTOR_STORE", "local")
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "lambda-data"))
    monkeypatch.delenv("MONGODB_URI", raising=False)
    monkeypatch.setenv("RAGSTACK_RELEASE", "r-3f9a2c1d7e4b")
    sys.modules.pop("lambda_handler", None)
    try:
        module = importlib.import_module("lambda_handler")
        resp = module.handler(http_api_event("GET", "/health"), Context())
        assert resp["statusCode"] == 200
        assert decode(resp) == {"status": "ok", "release": "r-3f9a2c1d7e4b"}
    finally:
        sys.modules.pop("lambda_handler", None)


def test_embed_waits_for_model_then_answers(lambda_module):
    resp = lambda_module.handler(
        http_api_event("POST", "/embed", {"texts": ["hello lambda", "second"]}), Context()
    )
    assert resp["statusCode"] == 200, resp
    body = decode(resp)
    assert body["provider"] == "hashing"
    assert body["dimension"] == 384
    assert len(body["vectors"]) == 2
    # Mangum runs the lifespan per invocation: later calls must reuse the loaded runtime.
    again = lambda_module.handler(http_api_event("POST", "/embed", {"texts": ["x"]}), Context())
    assert again["statusCode"] == 200
    assert lambda_module.app.state.runtime.phase == "ready"


def test_validation_errors_keep_the_contract_shape(lambda_module):
    resp = lambda_module.handler(http_api_event("POST", "/embed", {"texts": []}), Context())
    assert resp["statusCode"] == 422
    assert decode(resp)["error"]["field"] == "texts"


def test_defaults_suit_a_zip_lambda(tmp_path, monkeypatch):
    monkeypatch.delenv("EMBEDDING_PROVIDER", raising=False)
    monkeypatch.delenv("DATA_DIR", raising=False)
    monkeypatch.delenv("MONGODB_URI", raising=False)
    monkeypatch.delenv("VECTOR_STORE", raising=False)
    sys.modules.pop("lambda_handler", None)
    try:
        module = importlib.import_module("lambda_handler")
        settings = module.app.state.settings
        assert settings.embedding_provider == "hashing"
        assert str(settings.data_dir) == "/tmp/embedding-data"
    finally:
        sys.modules.pop("lambda_handler", None)
