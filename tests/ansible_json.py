"""Run a playbook written by a test and read its result as one JSON document.

For tests that drive a role outside its molecule sequence (bad input, a broken config,
another secret source): the json stdout callback gives every task's result, and a bare
ansible.cfg keeps the repo's profile_tasks callback from interleaving with it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def run_playbook_json(
    play: str, tmp_path: Path, *args: str, pipelining: bool = False
) -> tuple[subprocess.CompletedProcess[str], dict]:
    """ansible-playbook <args> <play written to tmp_path>; the run and its JSON report."""
    playbook = tmp_path / "play.yml"
    playbook.write_text(play)
    config = tmp_path / "ansible.cfg"
    config.write_text("[defaults]\n")
    env = {
        **os.environ,
        "ANSIBLE_CONFIG": str(config),
        "ANSIBLE_COLLECTIONS_PATH": str(REPO_ROOT / ".collections"),
        "ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.json",
    }
    if pipelining:
        env["ANSIBLE_PIPELINING"] = "true"
    result = subprocess.run(
        [str(Path(sys.executable).with_name("ansible-playbook")), *args, str(playbook)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert result.stdout.startswith("{"), result.stdout + result.stderr
    return result, json.loads(result.stdout)


def messages(report: dict, host: str) -> list[str]:
    """The msg of every task of the first play on host, in order ("" when none)."""
    return [str(t["hosts"].get(host, {}).get("msg", "")) for t in report["plays"][0]["tasks"]]


def case_messages(play: str, tmp_path: Path, inventory: str, tags: str, host: str) -> list[str]:
    """Run play on a converged molecule instance with only `tags` (packages are in place,
    so a role's configure tag skips apt) and return its "CASE ..." messages, in order."""
    _, report = run_playbook_json(play, tmp_path, "-i", inventory, "--tags", tags, pipelining=True)
    return [m for m in messages(report, host) if m.startswith("CASE ")]
