"""scripts/build_images.py and the local base images it makes."""

from __future__ import annotations

import subprocess
import sys

import pytest
from dockerkit import ROOT, docker, image_config

pytestmark = pytest.mark.docker

SCRIPT = str(ROOT / "scripts" / "build_images.py")
BASES = [
    "ragstack-local/debian13-minbase:latest",
    "ragstack-local/debian13-systemd:latest",
    "ragstack-local/python:latest",
    "ragstack-local/node:latest",
    "ragstack-local/compose:latest",
    "ragstack-local/nginx:latest",
]
LABEL = "org.ragstack.content-hash"


def build_images(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, SCRIPT, *args], capture_output=True, text=True, timeout=900, check=False
    )


def test_second_run_with_same_inputs_does_nothing() -> None:
    proc = build_images("--only", "base", "--skip-model")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    summary = proc.stdout.split("summary:", 1)[1]
    for image in BASES:
        line = next(line for line in summary.splitlines() if image in line)
        assert " cached " in line, line
    assert "docker build" not in proc.stdout
    assert "debootstrap" not in proc.stdout


@pytest.mark.parametrize("image", BASES)
def test_base_images_carry_their_content_hash(image: str) -> None:
    labels = image_config(image).get("Labels") or {}
    assert len(labels.get(LABEL, "")) == 64


def test_unknown_image_is_a_clear_error() -> None:
    proc = build_images("--only", "no-such-image")
    assert proc.returncode == 1
    assert "unknown image 'no-such-image'" in proc.stderr


def test_minbase_is_debian_13_with_http_sources_and_no_docs() -> None:
    out = docker(
        "run",
        "--rm",
        BASES[0],
        "sh",
        "-c",
        ". /etc/os-release; echo $VERSION_CODENAME;"
        " cat /etc/apt/sources.list.d/debian.sources;"
        " ls /usr/share/man | wc -l; ls /var/lib/apt/lists | wc -l",
    ).stdout.split("\n")
    assert out[0] == "trixie"
    sources = "\n".join(out[1:-3])
    assert "URIs: http://deb.debian.org/debian" in sources
    assert "https://" not in sources
    man_pages, apt_lists = out[-3], out[-2]
    assert man_pages == "0"
    assert apt_lists == "0"


def test_tools_in_the_images_trust_the_system_bundle() -> None:
    env = dict(e.split("=", 1) for e in image_config(BASES[0])["Env"])
    for name in ("PIP_CERT", "REQUESTS_CA_BUNDLE", "NODE_EXTRA_CA_CERTS", "SSL_CERT_FILE"):
        assert env[name] == "/etc/ssl/certs/ca-certificates.crt"


def test_images_have_what_they_promise() -> None:
    checks = {
        BASES[2]: "python3 -c 'import venv, ensurepip' && python3 -m pip --version",
        BASES[3]: "node -e 'fetch' && npm --version",
        BASES[4]: "docker compose version | grep -q 'version 2'",
        BASES[1]: "python3 -c 'import apt' && sudo --version && test -x /lib/systemd/systemd",
        BASES[5]: "nginx -t && openssl version",
    }
    for image, check in checks.items():
        proc = docker("run", "--rm", "--entrypoint", "sh", image, "-c", check, check=False)
        assert proc.returncode == 0, f"{image}: {check}: {proc.stderr}"


def test_systemd_image_boots_to_running_or_degraded() -> None:
    proc = build_images("--only", "debian13-systemd", "--verify")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "systemd boots: running" in proc.stdout or "systemd boots: degraded" in proc.stdout
    config = image_config(BASES[1])
    assert config["StopSignal"] == "SIGRTMIN+3"
    assert config["Cmd"] == ["/lib/systemd/systemd"]
