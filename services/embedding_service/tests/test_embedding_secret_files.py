"""Secrets as files (`<VAR>_FILE`): the contract docker compose `secrets:` mounts rely on.

Every test that can see a secret value uses a canary and checks it never reaches an error
message, a log line, repr(settings) or the process's output.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from embedding_service import secret_files, ssm_secrets
from embedding_service.config import ConfigError, load_settings
from embedding_service.secret_files import SECRET_VARIABLES, read_secret_files
from embedding_service.ssm_secrets import resolve_ssm_secrets

SERVICE_DIR = Path(__file__).resolve().parents[1]
CANARY = "sk-canary-file-0123456789abcdef"
URI_CANARY = "mongodb+srv://canary-user:canary-pass-0123@cluster0.example.invalid/"
PREFIXES = ("EMBEDDING_", "MONGODB_", "VECTOR_", "OPENAI_", "SAGEMAKER_", "ATLAS_")


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    for name in list(os.environ):
        if name.startswith(PREFIXES):
            monkeypatch.delenv(name)
    monkeypatch.setenv("EMBEDDING_PROVIDER", "hashing")
    monkeypatch.setenv("VECTOR_STORE", "local")
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    return monkeypatch


def write(path: Path, content: str | bytes) -> Path:
    if isinstance(content, str):
        content = content.encode()
    path.write_bytes(content)
    path.chmod(0o600)
    return path


class FailingClient:
    """An SSM client that must not be used."""

    def __init__(self) -> None:
        self.calls = 0

    def get_parameter(self, **kwargs: object) -> dict:
        self.calls += 1
        raise AssertionError(f"SSM was asked for {kwargs['Name']}")


# --- the value: file content with one trailing newline stripped ---------------------------


@pytest.mark.parametrize(
    ("content", "value"),
    [
        (CANARY, CANARY),
        (f"{CANARY}\n", CANARY),
        (f"{CANARY}\r\n", CANARY),
        # Exactly one newline: the rest is content (and nothing else is trimmed).
        (f"{CANARY}\n\n", f"{CANARY}\n"),
        (f"{CANARY}\r\n\r\n", f"{CANARY}\r\n"),
        (f" {CANARY} \n", f" {CANARY} "),
        (f"{CANARY}\r", f"{CANARY}\r"),
    ],
)
def test_file_content_minus_one_trailing_newline_is_the_value(clean_env, tmp_path, content, value):
    clean_env.setenv("OPENAI_API_KEY_FILE", str(write(tmp_path / "openai_api_key", content)))
    assert load_settings().openai_api_key == value


def test_every_secret_takes_a_file(clean_env, tmp_path):
    assert set(SECRET_VARIABLES) == {"OPENAI_API_KEY", "MONGODB_URI"}
    clean_env.setenv("OPENAI_API_KEY_FILE", str(write(tmp_path / "key", f"{CANARY}\n")))
    clean_env.setenv("MONGODB_URI_FILE", str(write(tmp_path / "uri", f"{URI_CANARY}\n")))
    clean_env.delenv("VECTOR_STORE")
    settings = load_settings()
    assert settings.openai_api_key == CANARY
    assert settings.mongodb_uri == URI_CANARY
    # A URI from a file is a URI like any other: it selects the Atlas store.
    assert settings.store_name == "atlas"
    # The value goes to the settings only, never back into the environment.
    assert "OPENAI_API_KEY" not in os.environ
    assert "MONGODB_URI" not in os.environ


def test_the_openai_provider_gets_the_key_from_the_file(clean_env, tmp_path):
    from embedding_service.providers import build_provider

    clean_env.setenv("EMBEDDING_PROVIDER", "openai")
    clean_env.setenv("OPENAI_API_KEY_FILE", str(write(tmp_path / "key", f"{CANARY}\n")))
    provider = build_provider(load_settings())
    assert provider._client.headers["authorization"] == f"Bearer {CANARY}"


# --- both set: ambiguous, a startup error naming both --------------------------------------


@pytest.mark.parametrize("var", SECRET_VARIABLES)
def test_value_and_file_both_set_is_an_error_naming_both(clean_env, tmp_path, var):
    clean_env.setenv(var, CANARY)
    clean_env.setenv(f"{var}_FILE", str(write(tmp_path / "secret", f"{CANARY}-file\n")))
    with pytest.raises(ConfigError) as raised:
        load_settings()
    message = str(raised.value)
    assert f"both {var} and {var}_FILE are set" in message
    assert CANARY not in message


def test_empty_variables_count_as_unset(clean_env, tmp_path):
    # `VAR=` next to a file is not "both set" (compose renders unset variables this way) ...
    clean_env.setenv("OPENAI_API_KEY", "")
    clean_env.setenv("OPENAI_API_KEY_FILE", str(write(tmp_path / "key", CANARY)))
    assert load_settings().openai_api_key == CANARY
    # ... and `VAR_FILE=` reads nothing.
    clean_env.setenv("OPENAI_API_KEY_FILE", "")
    assert not load_settings().openai_api_key


# --- a file that cannot give a value: a startup error naming variable and path -------------


def test_missing_file(clean_env, tmp_path):
    path = tmp_path / "absent"
    clean_env.setenv("MONGODB_URI_FILE", str(path))
    with pytest.raises(ConfigError, match="no such file") as raised:
        load_settings()
    assert f"MONGODB_URI_FILE={path}" in str(raised.value)


@pytest.mark.parametrize("content", ["", "\n", "\r\n", "  \n"])
def test_empty_file(clean_env, tmp_path, content):
    path = write(tmp_path / "key", content)
    clean_env.setenv("OPENAI_API_KEY_FILE", str(path))
    with pytest.raises(ConfigError, match="the file is empty") as raised:
        load_settings()
    assert f"OPENAI_API_KEY_FILE={path}" in str(raised.value)


def test_directory_is_not_a_file(clean_env, tmp_path):
    clean_env.setenv("OPENAI_API_KEY_FILE", str(tmp_path))
    with pytest.raises(ConfigError, match="is a directory") as raised:
        load_settings()
    assert f"OPENAI_API_KEY_FILE={tmp_path}" in str(raised.value)


def test_unreadable_file(clean_env, tmp_path):
    # The same path as a 0000 file for a non-root user (the suite may run as root).
    path = write(tmp_path / "key", CANARY)
    real_open = Path.open

    def denied(self: Path, *args: object, **kwargs: object):
        if self == path:
            raise PermissionError(13, "Permission denied", str(self))
        return real_open(self, *args, **kwargs)

    clean_env.setattr(Path, "open", denied)
    clean_env.setenv("OPENAI_API_KEY_FILE", str(path))
    with pytest.raises(ConfigError) as raised:
        load_settings()
    message = str(raised.value)
    assert f"OPENAI_API_KEY_FILE={path}: cannot read the file (Permission denied)" in message


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (CANARY.encode() + b"\xff\xfe\n", "not UTF-8 text"),
        ((CANARY + "\n") * 5000, "larger than 65536 bytes"),
    ],
)
def test_file_errors_never_show_the_content(clean_env, tmp_path, content, needle):
    path = write(tmp_path / "key", content)
    clean_env.setenv("OPENAI_API_KEY_FILE", str(path))
    with pytest.raises(ConfigError, match=needle) as raised:
        load_settings()
    message = str(raised.value)
    assert f"OPENAI_API_KEY_FILE={path}" in message
    assert CANARY not in message
    assert "canary" not in message
    # No chained exception (a decode error quotes the bytes) either.
    assert raised.value.__cause__ is None
    assert raised.value.__context__ is None or raised.value.__suppress_context__


# --- no value in logs or repr --------------------------------------------------------------


def test_no_value_in_logs_or_repr(clean_env, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    key = write(tmp_path / "key", f"{CANARY}\n")
    uri = write(tmp_path / "uri", f"{URI_CANARY}\n")
    clean_env.setenv("OPENAI_API_KEY_FILE", str(key))
    clean_env.setenv("MONGODB_URI_FILE", str(uri))
    settings = load_settings()
    assert f"read OPENAI_API_KEY from file {key} (OPENAI_API_KEY_FILE)" in caplog.text
    assert f"read MONGODB_URI from file {uri} (MONGODB_URI_FILE)" in caplog.text
    for shown in (caplog.text, repr(settings), str(settings)):
        assert CANARY not in shown
        assert "canary-pass" not in shown


# --- against the SSM-name variables: a file is an explicit value, like <VAR> -------------


def test_file_wins_over_ssm_parameter_and_ssm_is_not_called(clean_env, tmp_path, caplog):
    caplog.set_level(logging.INFO)
    client = FailingClient()
    clean_env.setattr(ssm_secrets, "_client", lambda: client)
    clean_env.setenv("OPENAI_API_KEY_FILE", str(write(tmp_path / "key", f"{CANARY}\n")))
    clean_env.setenv("OPENAI_API_KEY_SSM_PARAMETER", "/ragstack/test/openai_api_key")
    assert load_settings().openai_api_key == CANARY
    assert client.calls == 0
    assert "OPENAI_API_KEY" not in os.environ
    assert "SSM parameter /ragstack/test/openai_api_key not read" in caplog.text


def test_ssm_resolver_skips_only_secrets_given_as_files():
    environ = {
        "OPENAI_API_KEY_SSM_PARAMETER": "/p/openai",
        "OPENAI_API_KEY_FILE": "/run/secrets/openai_api_key",
        "MONGODB_URI_SSM_PARAMETER": "/p/mongodb",
        "MONGODB_URI_FILE": "",
    }

    class Recording:
        def __init__(self) -> None:
            self.names: list[str] = []

        def get_parameter(self, **kwargs: object) -> dict:
            self.names.append(str(kwargs["Name"]))
            return {"Parameter": {"Value": "from-ssm"}}

    client = Recording()
    # An empty MONGODB_URI_FILE is unset: that secret still comes from SSM.
    assert resolve_ssm_secrets(environ, client) == ["MONGODB_URI"]
    assert client.names == ["/p/mongodb"]
    assert "OPENAI_API_KEY" not in environ


def test_a_broken_file_stops_startup_before_any_ssm_call(clean_env, tmp_path):
    client = FailingClient()
    clean_env.setattr(ssm_secrets, "_client", lambda: client)
    clean_env.setenv("OPENAI_API_KEY_FILE", str(tmp_path / "absent"))
    clean_env.setenv("MONGODB_URI_SSM_PARAMETER", "/ragstack/test/mongodb_uri")
    with pytest.raises(ConfigError, match="OPENAI_API_KEY_FILE"):
        load_settings()
    assert client.calls == 0


def test_ssm_parameter_alone_still_resolves(clean_env):
    class OneValue:
        def get_parameter(self, **kwargs: object) -> dict:
            return {"Parameter": {"Value": CANARY}}

    clean_env.setattr(ssm_secrets, "_client", OneValue)
    # Set (then emptied) so monkeypatch removes what the resolver writes.
    clean_env.setenv("OPENAI_API_KEY", "")
    clean_env.setenv("OPENAI_API_KEY_SSM_PARAMETER", "/ragstack/test/openai_api_key")
    assert load_settings().openai_api_key == CANARY


# --- rotation: every settings load reads the file again ------------------------------------


def test_a_new_settings_load_reads_the_rotated_file(clean_env, tmp_path):
    path = write(tmp_path / "key", "sk-before-rotation\n")
    clean_env.setenv("OPENAI_API_KEY_FILE", str(path))
    assert load_settings().openai_api_key == "sk-before-rotation"
    write(path, "sk-after-rotation\n")
    assert load_settings().openai_api_key == "sk-after-rotation"


def test_reader_reads_only_what_it_is_asked_for(tmp_path):
    # Unrelated *_FILE variables (AWS_CONFIG_FILE, SSL_CERT_FILE) are not secrets: not read.
    environ = {"AWS_CONFIG_FILE": str(tmp_path / "absent"), "SSL_CERT_FILE": "/nonexistent"}
    assert read_secret_files(environ) == {}
    assert secret_files.SUFFIX == "_FILE"


# --- the real process: startup errors and a restart after rotation -------------------------


def _service_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(PREFIXES)}
    env.update(
        {
            "VECTOR_STORE": "local",
            "DATA_DIR": str(tmp_path / "data"),
            "EMBEDDING_SERVICE_HOST": "127.0.0.1",
            "LOG_LEVEL": "debug",
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
        }
    )
    env.update(extra)
    return env


def _run_module(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "embedding_service"],
        cwd=SERVICE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_python_m_refuses_value_and_file_naming_both(tmp_path):
    key = write(tmp_path / "key", f"{CANARY}-file\n")
    proc = _run_module(
        _service_env(
            tmp_path,
            EMBEDDING_PROVIDER="openai",
            OPENAI_API_KEY=CANARY,
            OPENAI_API_KEY_FILE=str(key),
        )
    )
    assert proc.returncode == 2
    assert "both OPENAI_API_KEY and OPENAI_API_KEY_FILE are set" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert CANARY not in proc.stdout + proc.stderr


def test_python_m_refuses_a_missing_file_naming_variable_and_path(tmp_path):
    path = tmp_path / "secrets" / "mongodb_uri"
    proc = _run_module(_service_env(tmp_path, MONGODB_URI_FILE=str(path)))
    assert proc.returncode == 2
    assert f"MONGODB_URI_FILE={path}: no such file" in proc.stderr
    assert "Traceback" not in proc.stderr


class _FakeOpenAI(BaseHTTPRequestHandler):
    authorizations: list[str] = []  # noqa: RUF012

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).authorizations.append(self.headers.get("Authorization", ""))
        data = [{"index": i, "embedding": [0.5] * 1536} for i in range(len(body["input"]))]
        payload = json.dumps({"data": data, "model": body["model"]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: object) -> None:
        pass


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _embed_once(env: dict[str, str]) -> str:
    """Start the service, embed one text, stop it; return everything it printed."""
    port = _free_port()
    env = {**env, "EMBEDDING_SERVICE_PORT": str(port)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "embedding_service"],
        cwd=SERVICE_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/ready", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            assert time.monotonic() < deadline, "service did not become ready"
            time.sleep(0.1)
        resp = httpx.post(f"http://127.0.0.1:{port}/embed", json={"texts": ["hi"]}, timeout=10)
        assert resp.status_code == 200, resp.text
        assert resp.json()["provider"] == "openai"
    finally:
        proc.terminate()
        output, _ = proc.communicate(timeout=15)
    return output


def test_restart_picks_up_a_rotated_file_and_never_prints_it(tmp_path):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FakeOpenAI)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _FakeOpenAI.authorizations = []
    try:
        key = write(tmp_path / "openai_api_key", f"{CANARY}-v1\n")
        env = _service_env(
            tmp_path,
            EMBEDDING_PROVIDER="openai",
            OPENAI_BASE_URL=f"http://127.0.0.1:{server.server_port}/v1",
            OPENAI_API_KEY_FILE=str(key),
        )
        first = _embed_once(env)
        # Rotation: the host writes a new file, then restarts the container.
        write(key, f"{CANARY}-v2\r\n")
        second = _embed_once(env)
    finally:
        server.shutdown()
        server.server_close()
    assert _FakeOpenAI.authorizations == [f"Bearer {CANARY}-v1", f"Bearer {CANARY}-v2"]
    assert "Uvicorn running" in first + second, "the output was captured at debug level"
    assert CANARY not in first + second
