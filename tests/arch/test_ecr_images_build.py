"""roles/ecr_images, entry point `build`: images built from their service directory with
community.docker; an unchanged context gives the same image id (so the same ECR tag),
a changed one a new id. No AWS call, no registry: a throwaway context on the local base."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
BASE = "ragstack-local/debian13-minbase:latest"


def _image_id(name: str) -> str:
    return subprocess.run(
        ["docker", "image", "inspect", "-f", "{{.Id}}", name],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


@pytest.fixture
def service(tmp_path: Path):
    context = tmp_path / "services" / "probe"
    context.mkdir(parents=True)
    (context / "Dockerfile").write_text(
        "ARG BASE_IMAGE=debian:trixie-slim\nFROM ${BASE_IMAGE} AS app\nCOPY version /version\n"
    )
    (context / "version").write_text("1\n")
    name = f"ragstack-test/ecr-build-{uuid.uuid4().hex[:8]}:latest"
    role_vars = {
        "ecr_images_images": [
            {"repository": "ragstack/probe", "source": name, "context": "probe", "target": "app"}
        ],
        "ecr_images_services_dir": str(tmp_path / "services"),
        # The Dockerfile's default base is out of reach here: the argument must be passed.
        "ecr_images_base_images": {name: BASE},
    }
    task = {
        "ansible.builtin.include_role": {"name": "ragstack.aws.ecr_images", "tasks_from": "build"},
        "vars": role_vars,
    }
    playbook = tmp_path / "build.yml"
    playbook.write_text(
        json.dumps(
            [{"hosts": "localhost", "connection": "local", "gather_facts": False, "tasks": [task]}]
        )
    )
    environ = {
        **os.environ,
        "ANSIBLE_CONFIG": str(REPO_ROOT / "ansible.cfg"),
        "ANSIBLE_NOCOLOR": "1",
    }

    def build() -> dict[str, int]:
        proc = subprocess.run(
            [str(VENV_BIN / "ansible-playbook"), str(playbook)],
            cwd=REPO_ROOT,
            env=environ,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
        recap = re.search(r"^localhost\s+:\s+(.*)$", proc.stdout, re.MULTILINE)
        return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", recap.group(1))}

    yield context, name, build
    subprocess.run(["docker", "image", "rm", "-f", name], capture_output=True)


def test_builds_then_reuses_then_rebuilds_on_change(service):
    context, name, build = service
    assert build()["changed"] == 1
    first = _image_id(name)
    assert build()["changed"] == 0
    assert _image_id(name) == first
    (context / "version").write_text("2\n")
    assert build()["changed"] == 1
    assert _image_id(name) != first
    parent_layers = subprocess.run(
        ["docker", "image", "inspect", "-f", "{{json .RootFS.Layers}}", BASE],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    layers = subprocess.run(
        ["docker", "image", "inspect", "-f", "{{json .RootFS.Layers}}", name],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert json.loads(layers)[: len(json.loads(parent_layers))] == json.loads(parent_layers)
