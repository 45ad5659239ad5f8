"""Helpers for the image tests: containers, networks and volumes that are
removed at teardown, and readiness waits that show the container's logs
when they give up."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "services" / "corpus"
# What services/docker-compose.yml applies; the images must work under it.
HARDENING = (
    "--read-only",
    "--tmpfs",
    "/tmp",
    "--cap-drop",
    "ALL",
    "--security-opt",
    "no-new-privileges",
)
SLIM = os.environ.get("RAGSTACK_TEST_SLIM_IMAGE", "ragstack/embedding-service:slim")
MODEL = "ragstack/embedding-service:model"
ORCHESTRATOR = "ragstack/orchestrator:latest"


def docker(*args: str, check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        ["docker", *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)} failed: {proc.stderr.strip()}")
    return proc


def image_config(image: str) -> dict:
    proc = docker("image", "inspect", image, check=False)
    if proc.returncode != 0:
        pytest.fail(f"{image} is not built: run `make images` (scripts/build_images.py)")
    return json.loads(proc.stdout)[0]["Config"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(method: str, url: str, body: dict | None = None, timeout: float = 30) -> tuple[int, dict]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        try:
            return exc.code, json.loads(raw or b"{}")
        except ValueError:
            return exc.code, {"raw": raw.decode(errors="replace")}


@dataclass
class Container:
    name: str
    port: int | None = None  # the host port on 127.0.0.1, when published

    @property
    def url(self) -> str:
        assert self.port, f"{self.name} has no published port"
        return f"http://127.0.0.1:{self.port}"

    def logs(self) -> str:
        proc = docker("logs", "--tail", "80", self.name, check=False)
        return proc.stdout + proc.stderr

    def state(self) -> dict:
        return json.loads(docker("inspect", "--format", "{{json .State}}", self.name).stdout)

    def fail(self, why: str) -> None:
        logs = self.logs()
        print(f"--- docker logs {self.name} ---\n{logs}")
        pytest.fail(f"{self.name}: {why}\n--- docker logs {self.name} ---\n{logs}")

    def wait_http(self, path: str, timeout: float = 120) -> dict:
        """Poll path on the published port until it answers 200."""
        deadline = time.monotonic() + timeout
        last = "no answer"
        while time.monotonic() < deadline:
            if not self.state().get("Running"):
                self.fail(f"exited while waiting for {path}")
            try:
                status, body = http("GET", self.url + path, timeout=5)
                if status == 200:
                    return body
                last = f"HTTP {status} {body}"
            except (OSError, ValueError) as exc:
                last = repr(exc)
            time.sleep(1)
        self.fail(f"{path} not 200 after {timeout:.0f}s (last: {last})")
        raise AssertionError  # unreachable: fail() raises

    def wait_healthy(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        status = "unknown"
        while time.monotonic() < deadline:
            health = self.state().get("Health") or {}
            status = health.get("Status", "none")
            if status == "healthy":
                return
            time.sleep(1)
        self.fail(f"health status {status!r} after {timeout:.0f}s")

    def exec(self, *cmd: str, timeout: float = 60) -> subprocess.CompletedProcess:
        return docker("exec", self.name, *cmd, check=False, timeout=timeout)


class Docker:
    """Creates named resources and removes every one of them at teardown."""

    def __init__(self) -> None:
        self.prefix = f"rs-test-{uuid.uuid4().hex[:8]}"
        self.containers: list[str] = []
        self.volumes: list[str] = []
        self.networks: list[str] = []

    def name(self, what: str) -> str:
        return f"{self.prefix}-{what}"

    def network(self, what: str = "net") -> str:
        name = self.name(what)
        docker("network", "create", name)
        self.networks.append(name)
        return name

    def volume(self, what: str) -> str:
        name = self.name(what)
        docker("volume", "create", name)
        self.volumes.append(name)
        return name

    def run(
        self,
        what: str,
        image: str,
        *args: str,
        container_port: int | None = None,
        command: tuple[str, ...] = (),
    ) -> Container:
        name = self.name(what)
        port = free_port() if container_port else None
        argv = ["run", "-d", "--name", name, *HARDENING]
        if port:
            argv += ["-p", f"127.0.0.1:{port}:{container_port}"]
        self.containers.append(name)
        docker(*argv, *args, image, *command)
        return Container(name, port)

    def remove_container(self, name: str) -> None:
        docker("rm", "-f", "-v", name, check=False)

    def cleanup(self) -> None:
        for name in reversed(self.containers):
            self.remove_container(name)
        for name in self.volumes:
            docker("volume", "rm", "-f", name, check=False)
        for name in self.networks:
            docker("network", "rm", name, check=False)
