"""The local default of the EC2 path, deployed once per test session.

`ansible-playbook playbooks/site.yml -e arch=ec2` with inventories/local, after the
test harness's `local_aws.py up` (what `make deploy` runs): moto on 127.0.0.1:5001,
playing EC2's data plane with one Debian 13 systemd container per instance, HTTPS on
127.0.0.1:8443. The session starts and ends with `local_aws.py down` so no container
or moto process is left behind.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import moto_kit
import pytest
from harness import local_aws

REPO_ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
MOTO_ENDPOINT = "http://127.0.0.1:5001"
PUBLIC_URL = "https://127.0.0.1:8443"
REGION = "us-east-1"
STACK_NAME = "ragstack-local-dev"
LOCAL_AWS_DIR = REPO_ROOT / ".cache" / "local-aws"
MOTO_LOG = LOCAL_AWS_DIR / "moto_server.log"
# Passed through the environment only; must never show up in output or files.
CANARY = "sk-ragstack-canary-4f1c9a77e2b04d1d"
REQUIRED_IMAGES = (
    "ragstack-local/ec2-host:latest",
    "ragstack-local/registry:latest",
    "ragstack/embedding-service:slim",
    "ragstack/orchestrator:latest",
)
_RECAP = re.compile(
    r"^(?P<host>\S+)\s+:\s+ok=(?P<ok>\d+)\s+changed=(?P<changed>\d+)\s+unreachable=(?P<unreachable>\d+)"
    r"\s+failed=(?P<failed>\d+)",
    re.MULTILINE,
)


@dataclasses.dataclass
class Run:
    returncode: int
    output: str
    seconds: float

    def recap(self) -> dict[str, dict[str, int]]:
        return {
            m["host"]: {k: int(m[k]) for k in ("ok", "changed", "unreachable", "failed")}
            for m in _RECAP.finditer(self.output)
        }


def playbook(name: str, *args: str, env: dict[str, str] | None = None, timeout: float = 900) -> Run:
    """Run playbooks/<name> from the checkout with the repo's ansible.cfg."""
    environ = {
        key: value
        for key, value in os.environ.items()
        # The runs must see only what a test gives them.
        if key not in {"OPENAI_API_KEY", "MONGODB_URI"} and not key.startswith("AWS_")
    }
    environ.update(
        {
            "ANSIBLE_CONFIG": str(REPO_ROOT / "ansible.cfg"),
            "ANSIBLE_FORCE_COLOR": "0",
            "ANSIBLE_NOCOLOR": "1",
            "PATH": f"{VENV_BIN}:{environ.get('PATH', '')}",
            **(env or {}),
        }
    )
    started = time.monotonic()
    result = subprocess.run(
        [str(VENV_BIN / "ansible-playbook"), f"playbooks/{name}", *args],
        cwd=REPO_ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return Run(result.returncode, result.stdout + result.stderr, time.monotonic() - started)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked `fleet` change the shared deployment's hosts (count, type, ids): they run
    after all the others, ordered by the marker's argument (`fleet(2)` after `fleet(1)`)."""

    def rank(item: pytest.Item) -> int:
        marker = item.get_closest_marker("fleet")
        return 0 if marker is None else 1 + (marker.args[0] if marker.args else 0)

    items.sort(key=rank)


def _docker(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=False)


def _check_prerequisites() -> None:
    missing = [image for image in REQUIRED_IMAGES if _docker("image", "inspect", image).returncode]
    if missing:
        pytest.fail(f"images missing: {', '.join(missing)}; run `make images` first")
    if not (REPO_ROOT / "services" / "demo-ui" / "dist" / "index.html").exists():
        pytest.fail("services/demo-ui/dist missing: `cd services/demo-ui && npm run build`")


@dataclasses.dataclass
class Deployment:
    first: Run
    instance_ids: list[str]


@pytest.fixture(scope="session")
def deployment() -> Iterator[Deployment]:
    """First deploy (with -vvv and the canary key in the environment); teardown at the end."""
    _check_prerequisites()
    local_aws.down(LOCAL_AWS_DIR)
    try:
        local_aws.up(LOCAL_AWS_DIR)
        first = playbook("site.yml", "-e", "arch=ec2", "-vvv", env={"OPENAI_API_KEY": CANARY})
        if first.returncode != 0:
            pytest.fail(f"first deploy failed (rc={first.returncode}):\n{first.output[-6000:]}")
        hosts = [h for h in first.recap() if h.startswith("i-")]
        print(f"\nfirst deploy: {first.seconds:.0f}s, hosts {hosts}")
        yield Deployment(first=first, instance_ids=hosts)
    finally:
        local_aws.down(LOCAL_AWS_DIR)


@pytest.fixture(scope="session")
def aws(deployment: Deployment):
    """boto3 clients on the moto server the run started (never real AWS)."""
    return moto_kit.client_factory(MOTO_ENDPOINT)


def moto_requests() -> int:
    """Requests moto has answered so far (werkzeug logs one line each)."""
    return len(re.findall(r'"(?:GET|POST|PUT|DELETE|HEAD) ', MOTO_LOG.read_text(errors="replace")))


def post_json(url: str, body: dict, timeout: float = 60) -> dict:
    import ssl
    import urllib.request

    context = ssl._create_unverified_context()  # self-signed on purpose: local nginx_tls
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=timeout, context=context) as response:
        return json.loads(response.read())
