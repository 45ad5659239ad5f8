from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from embedding_service.app import create_app
from embedding_service.config import ConfigError, Settings, load_settings

SERVICE_DIR = Path(__file__).resolve().parents[1]


@pytest.fixture
def clean_env(monkeypatch):
    for name in list(os.environ):
        if name.startswith(
            ("EMBEDDING_", "MONGODB_", "VECTOR_", "OPENAI_", "SAGEMAKER_", "ATLAS_")
        ):
            monkeypatch.delenv(name)
    for name in ("DATA_DIR", "CHUNK_SIZE", "CHUNK_OVERLAP", "MAX_BATCH", "MAX_BODY_BYTES"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_defaults(clean_env):
    s = Settings()
    assert s.embedding_provider == "local"
    assert s.embedding_model == "all-MiniLM-L6-v2"
    assert s.embedding_service_port == 8000
    assert s.embedding_service_host == "0.0.0.0"
    assert s.store_name == "local"
    assert (s.chunk_size, s.chunk_overlap, s.embed_batch_size) == (800, 100, 32)
    assert (s.max_batch, s.max_body_bytes) == (64, 1024 * 1024)


def test_env_is_read(clean_env):
    clean_env.setenv("EMBEDDING_PROVIDER", "Hashing")
    clean_env.setenv("CHUNK_SIZE", "300")
    clean_env.setenv("CHUNK_OVERLAP", "30")
    clean_env.setenv("ATLAS_FILTER_FIELDS", "source, lang,,")
    s = load_settings()
    assert s.embedding_provider == "hashing"
    assert (s.chunk_size, s.chunk_overlap) == (300, 30)
    assert s.filter_fields == ("source", "lang")


def test_store_defaults_to_atlas_only_with_a_uri(clean_env):
    assert load_settings().store_name == "local"
    clean_env.setenv("MONGODB_URI", "mongodb+srv://example.invalid")
    assert load_settings().store_name == "atlas"
    clean_env.setenv("VECTOR_STORE", "local")
    assert load_settings().store_name == "local"


def test_unknown_provider_is_a_clear_error(clean_env):
    clean_env.setenv("EMBEDDING_PROVIDER", "bogus")
    with pytest.raises(ConfigError) as info:
        create_app()
    message = str(info.value)
    assert "unknown EMBEDDING_PROVIDER 'bogus'" in message
    assert "local, openai, sagemaker, hashing" in message


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"VECTOR_STORE": "redis"}, "unknown VECTOR_STORE 'redis'"),
        ({"VECTOR_STORE": "atlas"}, "needs MONGODB_URI"),
        ({"CHUNK_SIZE": "100", "CHUNK_OVERLAP": "100"}, "CHUNK_OVERLAP must be smaller"),
        ({"EMBEDDING_SERVICE_PORT": "99999"}, "EMBEDDING_SERVICE_PORT"),
        ({"EMBEDDING_PROVIDER": "openai"}, "needs OPENAI_API_KEY"),
        (
            {"EMBEDDING_PROVIDER": "sagemaker", "AWS_REGION": "eu-west-1"},
            "needs SAGEMAKER_ENDPOINT_NAME",
        ),
    ],
)
def test_bad_settings_fail_at_startup(clean_env, env, needle):
    for key, value in env.items():
        clean_env.setenv(key, value)
    with pytest.raises(ConfigError, match=needle):
        create_app()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_python_m_refuses_unknown_provider(tmp_path):
    env = {**os.environ, "EMBEDDING_PROVIDER": "bogus", "DATA_DIR": str(tmp_path)}
    proc = subprocess.run(
        [sys.executable, "-m", "embedding_service"],
        cwd=SERVICE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "unknown EMBEDDING_PROVIDER 'bogus'" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_python_m_serves_on_configured_host_and_port(tmp_path):
    port = _free_port()
    env = {
        **os.environ,
        "EMBEDDING_PROVIDER": "hashing",
        "VECTOR_STORE": "local",
        "DATA_DIR": str(tmp_path),
        "EMBEDDING_SERVICE_HOST": "127.0.0.1",
        "EMBEDDING_SERVICE_PORT": str(port),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "embedding_service"],
        cwd=SERVICE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                resp = httpx.get(f"http://127.0.0.1:{port}/ready", timeout=1)
                if resp.status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            assert time.monotonic() < deadline, "service did not become ready"
            time.sleep(0.1)
        assert resp.json()["provider"] == "hashing"
        embed = httpx.post(f"http://127.0.0.1:{port}/embed", json={"texts": ["hi"]}, timeout=5)
        assert embed.json()["dimension"] == 384
    finally:
        proc.terminate()
        proc.wait(timeout=15)
