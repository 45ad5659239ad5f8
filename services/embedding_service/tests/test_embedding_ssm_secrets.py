"""Secrets named by `<VAR>_SSM_PARAMETER`: fetched once with decryption, never logged."""

from __future__ import annotations

import importlib
import logging
import sys

import boto3
import pytest
from embedding_service.config import ConfigError
from embedding_service.ssm_secrets import resolve_ssm_secrets
from moto import mock_aws
from test_embedding_lambda import Context, decode, http_api_event

CANARY = "sk-canary-ssm-0123456789abcdef"
PARAMETER = "/ragstack/test/openai_api_key"


class CountingClient:
    def __init__(self, values: dict[str, str]) -> None:
        self.values = values
        self.calls: list[dict] = []

    def get_parameter(self, **kwargs: object) -> dict:
        self.calls.append(kwargs)
        return {"Parameter": {"Name": kwargs["Name"], "Value": self.values[kwargs["Name"]]}}


class FailingClient:
    def get_parameter(self, **kwargs: object) -> dict:
        raise RuntimeError(f"AccessDeniedException on {kwargs['Name']}")


def test_fills_only_unset_vars_with_decryption_once():
    environ = {
        "OPENAI_API_KEY_SSM_PARAMETER": PARAMETER,
        "MONGODB_URI_SSM_PARAMETER": "/ragstack/test/mongodb_uri",
        "MONGODB_URI": "mongodb://explicit",
    }
    client = CountingClient({PARAMETER: CANARY})
    assert resolve_ssm_secrets(environ, client) == ["OPENAI_API_KEY"]
    assert environ["OPENAI_API_KEY"] == CANARY
    # An explicit value wins and costs no call; decryption is always asked for.
    assert environ["MONGODB_URI"] == "mongodb://explicit"
    assert client.calls == [{"Name": PARAMETER, "WithDecryption": True}]
    # Cached for the life of the process: a second resolution fetches nothing.
    assert resolve_ssm_secrets(environ, client) == []
    assert len(client.calls) == 1


def test_failure_names_the_parameter_not_a_value():
    environ = {"OPENAI_API_KEY_SSM_PARAMETER": PARAMETER}
    with pytest.raises(ConfigError) as raised:
        resolve_ssm_secrets(environ, FailingClient())
    message = str(raised.value)
    assert PARAMETER in message
    assert "OPENAI_API_KEY_SSM_PARAMETER" in message
    assert "AccessDeniedException" in message
    assert "OPENAI_API_KEY" not in environ


def test_nothing_named_needs_no_client():
    environ = {"EMBEDDING_PROVIDER": "hashing", "OPENAI_API_KEY_SSM_PARAMETER": " "}
    assert resolve_ssm_secrets(environ, FailingClient()) == []


@pytest.fixture
def ssm_parameter(monkeypatch):
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SSM", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        boto3.client("ssm").put_parameter(Name=PARAMETER, Value=CANARY, Type="SecureString")
        yield PARAMETER


def test_lambda_handler_resolves_at_cold_start(ssm_parameter, tmp_path, monkeypatch, caplog, capfd):
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("EMBEDDING_PROVIDER", "hashing")
    monkeypatch.setenv("VECTOR_STORE", "local")
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "lambda-data"))
    monkeypatch.delenv("MONGODB_URI", raising=False)
    monkeypatch.delenv("MONGODB_URI_SSM_PARAMETER", raising=False)
    # Set (then emptied) so monkeypatch removes what the resolver writes.
    monkeypatch.setenv("OPENAI_API_KEY", "")
    monkeypatch.setenv("OPENAI_API_KEY_SSM_PARAMETER", ssm_parameter)
    sys.modules.pop("lambda_handler", None)
    try:
        module = importlib.import_module("lambda_handler")
        assert module.app.state.settings.openai_api_key == CANARY
        resp = module.handler(http_api_event("POST", "/embed", {"texts": ["hi"]}), Context())
        assert resp["statusCode"] == 200, resp
        assert decode(resp)["provider"] == "hashing"
    finally:
        sys.modules.pop("lambda_handler", None)
    out, err = capfd.readouterr()
    logged = caplog.text + out + err
    assert CANARY not in logged
    assert f"resolved OPENAI_API_KEY from SSM parameter {ssm_parameter}" in caplog.text


def test_missing_parameter_stops_the_cold_start(ssm_parameter, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "")
    monkeypatch.setenv("OPENAI_API_KEY_SSM_PARAMETER", "/ragstack/test/absent")
    from embedding_service.config import load_settings

    with pytest.raises(ConfigError, match=r"cannot read SSM parameter '/ragstack/test/absent'"):
        load_settings(embedding_provider="hashing", vector_store="local")
