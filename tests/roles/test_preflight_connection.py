"""ragstack.aws.preflight, entry point `connection`: an SSM connection is refused on the
controller, before any AWS write, when AWS's Session Manager plugin is missing; with the
plugin (and in ssh mode without it) the same play passes. The transfer bucket is not asked
for: the stack creates it (cloudformation/ec2.yaml SsmTransferBucket; tests/cloudformation).
Runs on localhost only."""

from __future__ import annotations

import pytest
from ansible_json import messages, run_playbook_json

PLAY = """
- hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - ansible.builtin.include_role:
        name: ragstack.aws.preflight
        tasks_from: connection
"""
BASE = ["-e", "ragstack_env=dev", "-e", '{"preflight_stack_parameters": {}}']
PRESENT = "true"  # /usr/bin/true: a command that exists stands in for the plugin
MISSING = "ragstack-no-such-session-manager-plugin"


def run(tmp_path, *extra: str):
    result, report = run_playbook_json(PLAY, tmp_path, *BASE, *extra)
    return result, " ".join(" ".join(messages(report, "localhost")).split())


@pytest.mark.parametrize(
    ("extra", "ok", "said"),
    [
        pytest.param(
            ["-e", f"preflight_session_manager_plugin={MISSING}"],
            False,
            f"{MISSING} is not on the PATH",
            id="no-plugin",
        ),
        pytest.param(
            [
                "-e",
                "ragstack_connection_mode=ssm",
                "-e",
                f"preflight_session_manager_plugin={MISSING}",
            ],
            False,
            f"{MISSING} is not on the PATH",
            id="no-plugin-explicit-ssm",
        ),
        # No ragstack_ssm_bucket anywhere: the plugin is all the controller needs.
        pytest.param(
            ["-e", f"preflight_session_manager_plugin={PRESENT}"],
            True,
            "",
            id="plugin-present",
        ),
        pytest.param(
            [
                "-e",
                "ragstack_connection_mode=ssh",
                "-e",
                f"preflight_session_manager_plugin={MISSING}",
            ],
            True,
            "",
            id="ssh-needs-no-plugin",
        ),
    ],
)
def test_ssm_connection_needs_the_plugin(tmp_path, extra, ok, said):
    result, text = run(tmp_path, *extra)
    assert (result.returncode == 0) is ok, text
    if not ok:
        assert "ragstack_connection_mode=ssm needs AWS's Session Manager plugin" in text
        assert said in text
        assert "ragstack_ssm_bucket" not in text
