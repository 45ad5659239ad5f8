#!/usr/bin/env python3
"""Run ragstack locally on 127.0.0.1 from the images `make images` built,
load the sample corpus and ask it one question.

    make demo                       # or: python3 scripts/demo.py
    python3 scripts/demo.py --down  # stop it (the data volume stays; add -v to compose to drop it)

The API is on http://127.0.0.1:5000 (RAGSTACK_PORT). When the UI has been built
(services/demo-ui/dist), NGINX serves it on https://127.0.0.1:8443
(RAGSTACK_UI_PORT) with a throwaway self-signed certificate and proxies /api/
to the orchestrator, as the nginx_tls role does on a host.

Uses the model image (real sentence embeddings) when it was built, else the
slim one; EMBEDDING_IMAGE overrides. Secrets, if any, go in services/.env.
"""

from __future__ import annotations

import argparse
import json
import os
import ssl
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import ingest_corpus  # noqa: E402 - a sibling script, not a package

COMPOSE = [str(ROOT / "docker" / "compose"), "-f", str(ROOT / "services" / "docker-compose.yml")]
UI_DIST = ROOT / "services" / "demo-ui" / "dist"
UI_CONTAINER = "ragstack-demo-ui"
NETWORK = "ragstack_default"  # compose project "ragstack", default network
QUESTION = "How does ragstack roll back a failed update?"

NGINX_CONF = """\
server {
    listen 443 ssl;
    server_name localhost;
    ssl_certificate /tmp/tls.crt;
    ssl_certificate_key /tmp/tls.key;
    ssl_protocols TLSv1.2 TLSv1.3;
    root /srv/ui;
    location / { try_files $uri /index.html; }
    location /api/ {
        proxy_pass http://orchestrator:5000;
        proxy_set_header Host $host;
        proxy_set_header X-Forwarded-Proto https;
        proxy_read_timeout 300s;
    }
}
"""
# The certificate is made at container start and lives only in its /tmp.
UI_START = (
    "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 7"
    " -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1"
    " -keyout /tmp/tls.key -out /tmp/tls.crt 2>/dev/null"
    " && exec nginx -g 'daemon off;'"
)


def sh(*cmd: str, env: dict | None = None, quiet: bool = False) -> int:
    out = subprocess.DEVNULL if quiet else None
    return subprocess.run(cmd, cwd=ROOT, env=env, stdout=out, stderr=out, check=False).returncode  # noqa: S603


def start_ui(port: str) -> str | None:
    if not (UI_DIST / "index.html").exists():
        print("demo UI not built (services/demo-ui: npm run build); serving the API only")
        return None
    conf = ROOT / "build" / "demo" / "nginx.conf"
    conf.parent.mkdir(parents=True, exist_ok=True)
    conf.write_text(NGINX_CONF)
    sh("docker", "rm", "-f", UI_CONTAINER, quiet=True)
    rc = sh(
        "docker", "run", "-d", "--name", UI_CONTAINER, "--network", NETWORK,
        "-p", f"127.0.0.1:{port}:443",
        "-v", f"{UI_DIST}:/srv/ui:ro",
        "-v", f"{conf}:/etc/nginx/conf.d/ragstack.conf:ro",
        "ragstack-local/nginx:latest", "sh", "-c", UI_START,
        quiet=True,
    )  # fmt: skip
    if rc != 0:
        print("demo: could not start the UI container (make images builds ragstack-local/nginx)")
        return None
    url = f"https://127.0.0.1:{port}"
    insecure = ssl._create_unverified_context()  # noqa: S323 - our own self-signed demo cert
    for _ in range(30):
        try:
            with urllib.request.urlopen(f"{url}/api/ready", context=insecure, timeout=5):  # noqa: S310
                return url
        except OSError:
            time.sleep(1)
    print(f"demo: the UI at {url} did not answer; see `docker logs {UI_CONTAINER}`")
    return None


def ask(url: str) -> None:
    req = urllib.request.Request(  # noqa: S310 - our own loopback URL
        f"{url}/api/query",
        data=json.dumps({"question": QUESTION, "k": 3}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=120) as resp:  # noqa: S310
        result = json.load(resp)
    print(f"\nQ: {QUESTION}\nA ({result['mode']}): {result['answer']}\n")
    for source in result["sources"]:
        print(f"  source: {source['metadata'].get('source')} (score {source['score']:.3f})")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--down", action="store_true", help="stop the demo")
    args = ap.parse_args(argv)
    env = dict(os.environ)
    if args.down:
        sh("docker", "rm", "-f", UI_CONTAINER, quiet=True)
        return sh(*COMPOSE, "down", env=env)
    if (
        "EMBEDDING_IMAGE" not in env
        and sh("docker", "image", "inspect", "ragstack/embedding-service:model", quiet=True) == 0
    ):
        env["EMBEDDING_IMAGE"] = "ragstack/embedding-service:model"
    api = f"http://127.0.0.1:{env.setdefault('RAGSTACK_PORT', '5000')}"
    print(f"starting ragstack with {env.get('EMBEDDING_IMAGE', 'the slim embedding image')}")
    if sh(*COMPOSE, "up", "-d", "--wait", "--wait-timeout", "300", env=env) != 0:
        sh(*COMPOSE, "logs", "--tail", "40", env=env)
        print("demo: the stack did not become healthy (logs above)", file=sys.stderr)
        return 1
    if ingest_corpus.main(["--url", api]) != 0:
        return 1
    ask(api)
    ui = start_ui(env.get("RAGSTACK_UI_PORT", "8443"))
    print(f'\nragstack API: {api}/api/query  (POST {{"question": ...}})')
    if ui:
        print(f"ragstack UI:  {ui}/  (self-signed certificate: accept the browser's warning)")
    print("stop it with: python3 scripts/demo.py --down")
    return 0


if __name__ == "__main__":
    sys.exit(main())
