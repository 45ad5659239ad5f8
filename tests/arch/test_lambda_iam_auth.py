"""Lambda path: the embedding routes take only SigV4-signed calls, and the orchestrator signs.

moto cannot show this: its apigatewayv2 is control plane only. It stores a route's
AuthorizationType (test_lambda.py asserts AWS_IAM there), but serves no route: its URL
map (moto.apigatewayv2.urls.url_bases) is apigateway.<region>.amazonaws.com/v2/... only,
so nothing is ever invoked through an HTTP API there and IAM authorization is never
enforced (test_moto_http_api_has_no_data_plane keeps that claim honest).

So this module starts, on 127.0.0.1, a small HTTP API emulator (run from this same file,
in a process of its own) that does what API Gateway does for the role's embedding routes:
  - routes and their authorization type come from roles/lambda_app (vars/main.yml,
    tasks/api.yml), not from a copy here;
  - on an AWS_IAM route it recomputes the SigV4 signature with botocore's SigV4Auth for
    the known fake credentials (payload hashed from the body received) and answers 403
    {"message":"Forbidden"} to a missing or wrong one;
  - it turns the request into an API Gateway HTTP API payload 2.0 event and calls the real
    embedding Lambda handler (services/embedding_service/lambda_handler.py, Mangum)
    in-process, EMBEDDING_PROVIDER=hashing, DATA_DIR in a tmp dir.
Then the real orchestrator (node src/server.js, EMBEDDING_SERVICE_AUTH=aws_iam, fake
credentials) ingests and answers through it. No moto, no Docker.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
import yaml
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

REPO_ROOT = Path(__file__).resolve().parents[2]
# The emulator process runs this file as a script: give it what pytest's pythonpath gives.
if str(REPO_ROOT / "tests") not in sys.path:
    sys.path.insert(0, str(REPO_ROOT / "tests"))
from http_api_events import http_api_event  # noqa: E402
from moto_kit import free_port  # noqa: E402

REGION = "us-east-1"
ACCESS_KEY = "ASIAFAKEORCHESTRATOR"
# Fake credentials: only the emulator knows them.
SECRET_KEY = "fake-orchestrator-secret-key"
SESSION_TOKEN = "fake-session-token/for+the=orchestrator"
# API Gateway refuses a signature older (or newer) than this.
MAX_SKEW = datetime.timedelta(minutes=15)
FORBIDDEN = {"message": "Forbidden"}
AUTH_HEADER = re.compile(
    r"AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<day>\d{8})/(?P<region>[^/]+)/"
    r"(?P<service>[^/]+)/aws4_request, SignedHeaders=(?P<signed>[a-z0-9;-]+), "
    r"Signature=(?P<signature>[0-9a-f]{64})$"
)
DOCUMENT = {
    "id": "lighthouse-notes",
    "text": (
        "The lighthouse of Port Ragstack flashes green every nine seconds. "
        "Its keeper signs the logbook with a quill before each shift."
    ),
    "metadata": {"source": "iam-auth-test"},
}


# ---------------------------------------------------------------- the emulator


def role_routes() -> list[tuple[str, str, str]]:
    """(method, path template, authorization type) of the embedding routes, from the role."""
    role = REPO_ROOT / "roles/lambda_app"
    role_vars = yaml.safe_load((role / "vars/main.yml").read_text())
    (api_task,) = yaml.safe_load((role / "tasks/api.yml").read_text())
    (group,) = [
        g
        for g in api_task["vars"]["_lambda_app_routes"]
        if "_lambda_app_embedding_routes" in str(g["route_keys"])
    ]
    # The converged value: main.yml passes the steady state once the orchestrator signs.
    assert group["authorization_type"] == "{{ _lambda_app_embedding_authorization }}"
    authorization = role_vars["_lambda_app_embedding_routes_authorization"]
    keys = role_vars["_lambda_app_embedding_routes"]
    return [(*key.split(" ", 1), authorization) for key in keys]


def _template_regex(template: str) -> re.Pattern[str]:
    return re.compile("^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template)) + "$")


def verify_sigv4(method, raw_path, raw_query, headers, body, credentials, region) -> str | None:
    """Why API Gateway would refuse this request on an AWS_IAM route, or None if it passes.

    headers: lower-case name -> value. The signature is recomputed by botocore's SigV4Auth.
    """
    match = AUTH_HEADER.match(headers.get("authorization", ""))
    if not match:
        return "no SigV4 Authorization header"
    if match["key"] != credentials.access_key:
        return f"unknown access key {match['key']}"
    if (match["region"], match["service"]) != (region, "execute-api"):
        return f"scope {match['region']}/{match['service']} is not {region}/execute-api"
    signed = match["signed"].split(";")
    if not {"host", "x-amz-date"} <= set(signed) or any(h not in headers for h in signed):
        return f"signed headers {signed} miss host/x-amz-date or a header sent"
    amz_date = headers["x-amz-date"]
    try:
        when = datetime.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.UTC)
    except ValueError:
        return f"bad x-amz-date {amz_date!r}"
    if abs(datetime.datetime.now(datetime.UTC) - when) > MAX_SKEW or match["day"] != amz_date[:8]:
        return "signature expired or dated elsewhere"
    if credentials.token and (
        "x-amz-security-token" not in signed
        or headers.get("x-amz-security-token") != credentials.token
    ):
        return "session token missing, unsigned or wrong"
    # The payload hash is the body's, whatever a header claims.
    if headers.get("x-amz-content-sha256", hashlib.sha256(body).hexdigest()) != (
        hashlib.sha256(body).hexdigest()
    ):
        return "x-amz-content-sha256 does not match the body"
    url = f"http://{headers['host']}{raw_path}" + (f"?{raw_query}" if raw_query else "")
    request = AWSRequest(
        method=method, url=url, headers={h: headers[h] for h in signed}, data=body or None
    )
    request.context["timestamp"] = amz_date
    auth = SigV4Auth(credentials, "execute-api", region)
    if auth.signed_headers(auth.headers_to_sign(request)) != match["signed"]:
        return "signed header list is not canonical"
    expected = auth.signature(
        auth.string_to_sign(request, auth.canonical_request(request)), request
    )
    if not hmac.compare_digest(expected, match["signature"]):
        return "signature mismatch"
    return None


class _LambdaContext:
    function_name = "ragstack-dev-embedding"
    aws_request_id = "emulated"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 30000


def serve() -> None:
    """The emulator process: prints its port, then serves until killed."""
    sys.path.insert(0, str(REPO_ROOT / "services/embedding_service"))
    import lambda_handler  # reads EMBEDDING_PROVIDER/DATA_DIR at import

    routes = [(m, t, a, _template_regex(t)) for m, t, a in role_routes()]
    credentials = Credentials(ACCESS_KEY, SECRET_KEY, SESSION_TOKEN)
    log_path = Path(os.environ["EMULATOR_LOG"])

    class Handler(BaseHTTPRequestHandler):
        def _answer(self, status: int, body: bytes, headers: dict[str, str]) -> None:
            self.send_response(status)
            for name, value in headers.items():
                if name.lower() not in {"content-length", "connection"}:
                    self.send_header(name, value)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _handle(self) -> None:
            raw_path, _, raw_query = self.path.partition("?")
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            headers = {
                name.lower(): ",".join(self.headers.get_all(name)) for name in set(self.headers)
            }
            entry = {"method": self.command, "path": raw_path}
            found = [
                (t, a, m.groupdict())
                for method, t, a, regex in routes
                if method == self.command and (m := regex.match(raw_path))
            ]
            if not found:
                status, payload, out_headers = 404, {"message": "Not Found"}, {}
            else:
                template, authorization, params = found[0]
                refused = None
                if authorization == "AWS_IAM":
                    refused = verify_sigv4(
                        self.command, raw_path, raw_query, headers, body, credentials, REGION
                    )
                entry.update(route=f"{self.command} {template}", auth=authorization)
                if refused:
                    entry["refused"] = refused
                    status, payload, out_headers = 403, FORBIDDEN, {}
                else:
                    caller = ACCESS_KEY if authorization == "AWS_IAM" else None
                    event = http_api_event(
                        self.command,
                        raw_path,
                        body,
                        route_key=f"{self.command} {template}",
                        raw_query=raw_query,
                        headers=headers,
                        path_parameters=params,
                        iam_caller=caller,
                    )
                    result = lambda_handler.handler(event, _LambdaContext())
                    status = result["statusCode"]
                    out_headers = result.get("headers") or {}
                    raw = result.get("body") or ""
                    payload = (
                        base64.b64decode(raw) if result.get("isBase64Encoded") else raw.encode()
                    )
            entry["status"] = status
            with log_path.open("a") as log:
                log.write(json.dumps(entry) + "\n")
            if isinstance(payload, dict):
                payload = json.dumps(payload).encode()
                out_headers = {"content-type": "application/json"}
            self._answer(status, payload, out_headers)

        do_GET = do_POST = do_DELETE = do_PUT = _handle

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    print(f"listening {server.server_address[1]}", flush=True)
    # Nobody reads stdout past that line: the service's own output goes to stderr.
    os.dup2(2, 1)
    server.serve_forever()


# ---------------------------------------------------------------- fixtures


def _stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    workdir = tmp_path_factory.mktemp("http-api-emulator")
    log_path = workdir / "requests.jsonl"
    log_path.touch()
    env = {
        **os.environ,
        "EMBEDDING_PROVIDER": "hashing",
        "DATA_DIR": str(workdir / "data"),
        "EMULATOR_LOG": str(log_path),
    }
    for name in ("MONGODB_URI", "OPENAI_API_KEY", "AWS_ENDPOINT_URL"):
        env.pop(name, None)
    process = subprocess.Popen(
        [sys.executable, __file__, "serve"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=(workdir / "stderr.log").open("wb"),
        text=True,
    )
    try:
        line = process.stdout.readline()
        if not line.startswith("listening "):
            pytest.fail(f"emulator did not start: {(workdir / 'stderr.log').read_text()}")
        url = f"http://127.0.0.1:{int(line.split()[1])}"

        def requests() -> list[dict]:
            return [json.loads(x) for x in log_path.read_text().splitlines()]

        yield {"url": url, "requests": requests}
    finally:
        _stop(process)


def _start_orchestrator(emulator_url: str, secret_key: str, log: Path) -> tuple:
    port = free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AWS_", "OPENAI_", "EMBEDDING_"))
    }
    env.update(
        PORT=str(port),
        EMBEDDING_SERVICE_URL=emulator_url,
        EMBEDDING_SERVICE_AUTH="aws_iam",
        AWS_ACCESS_KEY_ID=ACCESS_KEY,
        AWS_SECRET_ACCESS_KEY=secret_key,
        AWS_SESSION_TOKEN=SESSION_TOKEN,
        AWS_REGION=REGION,
        LOG_REQUESTS="false",
        UPSTREAM_TIMEOUT_MS="20000",
    )
    process = subprocess.Popen(
        ["node", "src/server.js"],
        cwd=REPO_ROOT / "services/orchestrator",
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if _call("GET", f"{url}/api/health")[0] == 200:
                return process, url
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            _stop(process)
            pytest.fail(f"orchestrator did not start: {log.read_text()}")
        time.sleep(0.2)


@pytest.fixture(scope="module")
def orchestrator(emulator, tmp_path_factory) -> Iterator[str]:
    log = tmp_path_factory.mktemp("orchestrator") / "out.log"
    process, url = _start_orchestrator(emulator["url"], SECRET_KEY, log)
    yield url
    _stop(process)


@pytest.fixture(scope="module")
def wrong_key_orchestrator(emulator, tmp_path_factory) -> Iterator[str]:
    log = tmp_path_factory.mktemp("orchestrator-wrong-key") / "out.log"
    process, url = _start_orchestrator(emulator["url"], "not-the-secret-key", log)
    yield url
    _stop(process)


def _call(method: str, url: str, body: bytes | None = None, headers: dict | None = None):
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"null")


def _post_json(url: str, payload: dict) -> tuple[int, object]:
    return _call("POST", url, json.dumps(payload).encode(), {"content-type": "application/json"})


def _botocore_signed(method: str, url: str, body: bytes, *, content_sha256: bool) -> dict:
    """Headers of a request signed as an AWS SDK (botocore) caller would sign it."""
    headers = {"content-type": "application/json"}
    if content_sha256:
        headers["x-amz-content-sha256"] = hashlib.sha256(body).hexdigest()
    request = AWSRequest(method=method, url=url, data=body, headers=headers)
    SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY, SESSION_TOKEN), "execute-api", REGION).add_auth(
        request
    )
    return dict(request.headers.items())


# ---------------------------------------------------------------- tests


def test_moto_http_api_has_no_data_plane():
    """Why the emulator exists: moto routes only the apigatewayv2 control plane."""
    from moto.apigatewayv2.urls import url_bases

    assert url_bases, "moto's apigatewayv2 lists its URL bases"
    assert not any("execute-api" in base for base in url_bases), url_bases


def test_role_marks_every_embedding_route_aws_iam():
    routes = role_routes()
    assert {(m, p) for m, p, _ in routes} >= {
        ("POST", "/search"),
        ("POST", "/documents"),
        ("GET", "/ready"),
        ("POST", "/embed"),
    }
    assert {a for _, _, a in routes} == {"AWS_IAM"}


def test_unsigned_requests_are_forbidden(emulator):
    status, body = _post_json(f"{emulator['url']}/search", {"query": "lighthouse"})
    assert (status, body) == (403, FORBIDDEN)
    status, body = _post_json(f"{emulator['url']}/documents", {"documents": [{"text": "spam"}]})
    assert (status, body) == (403, FORBIDDEN)
    assert _call("GET", f"{emulator['url']}/health") == (403, FORBIDDEN)
    refused = [r for r in emulator["requests"]() if r["path"] == "/search"]
    assert refused[-1]["refused"] == "no SigV4 Authorization header"


@pytest.mark.parametrize("content_sha256", [True, False], ids=["with-sha256-header", "without"])
def test_botocore_signed_request_passes_and_tampered_body_fails(emulator, content_sha256):
    url = f"{emulator['url']}/search"
    body = json.dumps({"query": "lighthouse", "k": 2}).encode()
    headers = _botocore_signed("POST", url, body, content_sha256=content_sha256)
    status, answer = _call("POST", url, body, headers)
    assert status == 200, answer
    assert isinstance(answer["results"], list)
    tampered = json.dumps({"query": "lighthouse", "k": 9}).encode()
    assert len(tampered) == len(body)
    assert _call("POST", url, tampered, headers) == (403, FORBIDDEN)
    refusal = emulator["requests"]()[-1]["refused"]
    assert refusal == (
        "x-amz-content-sha256 does not match the body" if content_sha256 else "signature mismatch"
    )


def test_orchestrator_signs_ingest_query_and_ready(orchestrator, emulator):
    status, body = _post_json(f"{orchestrator}/api/documents", {"documents": [DOCUMENT]})
    assert status == 200, body
    assert body["documents"] == [{"id": DOCUMENT["id"], "chunks": body["documents"][0]["chunks"]}]
    assert body["chunks_upserted"] + body["chunks_unchanged"] >= 1

    status, body = _post_json(
        f"{orchestrator}/api/query", {"question": "How often does the lighthouse flash?"}
    )
    assert status == 200, body
    assert body["mode"] == "extractive"
    assert body["sources"], body
    assert {s["document_id"] for s in body["sources"]} == {DOCUMENT["id"]}
    assert "nine seconds" in body["answer"]

    status, body = _call("GET", f"{orchestrator}/api/ready")
    assert status == 200, body
    assert body["embedding"]["status"] == "ready"

    # Every call went through the AWS_IAM check, with the orchestrator's key.
    seen = {
        r["route"]: r
        for r in emulator["requests"]()
        if r.get("auth") == "AWS_IAM" and "refused" not in r
    }
    for route in ("POST /documents", "POST /search", "GET /ready"):
        assert seen[route]["status"] == 200, seen


def test_orchestrator_with_a_wrong_secret_key_gets_403_and_answers_502(
    wrong_key_orchestrator, emulator
):
    status, body = _post_json(
        f"{wrong_key_orchestrator}/api/query", {"question": "How often does it flash?"}
    )
    assert status == 502, body
    assert body["error"]["type"] == "upstream_error"
    assert "/search returned HTTP 403: Forbidden" in body["error"]["message"]
    last = emulator["requests"]()[-1]
    assert (last["route"], last["status"], last["refused"]) == (
        "POST /search",
        403,
        "signature mismatch",
    )
    status, body = _post_json(f"{wrong_key_orchestrator}/api/documents", {"documents": [DOCUMENT]})
    assert status == 502, body
    assert body["error"]["type"] == "upstream_error"


if __name__ == "__main__" and sys.argv[1:] == ["serve"]:
    serve()
