"""Run ragstack.aws.ec2_stack `add_hosts` on localhost and read back the connection
variables each added host got (tests/cloudformation: the stack's outputs -> the connection)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ansible_json import messages, run_playbook_json

PLAY = """
- name: add_hosts cases
  hosts: localhost
  connection: local
  gather_facts: false
  module_defaults: {module_defaults}
  vars:
    # The AWS modules (the group's lifecycle states) need the venv's boto3.
    ansible_python_interpreter: "{{{{ ansible_playbook_python }}}}"
  tasks:
{cases}
"""
CASE = """
    - name: Case {name}
      block:
        - name: Add the hosts
          ansible.builtin.include_role:
            name: ragstack.aws.ec2_stack
            tasks_from: add_hosts
          vars: {vars}
        - name: Report the connection variables
          ansible.builtin.debug:
            msg: "CASE {name} {{{{ _report | to_json }}}}"
          vars:
            _id: {instance_id}
            _keys: {keys}
            _present: "{{{{ _keys | select('in', hostvars[_id]) | list }}}}"
            _report: "{{{{ dict(_present | zip(_present | map('extract', hostvars[_id]))) }}}}"
      rescue:
        - name: Refused
          ansible.builtin.debug:
            msg: "CASE {name} REFUSED: {{{{ ansible_failed_result.msg }}}}"
"""
KEYS = [
    "ansible_connection",
    "ansible_host",
    "ansible_user",
    "ansible_aws_ssm_region",
    "ansible_aws_ssm_bucket_name",
    "ansible_aws_ssm_bucket_sse_mode",
    "ansible_aws_ssm_bucket_sse_kms_key_id",
]


def add_hosts(
    tmp_path: Path,
    cases: dict[str, dict[str, Any]],
    region: str = "eu-west-1",
    endpoint: str | None = None,
) -> dict[str, Any]:
    """Run add_hosts once per case (its vars given); name -> the connection vars of the case's
    first instance, or "REFUSED: <msg>". A case without ec2_stack_instances adds one made-up
    t3.large instance, i-<case number>."""
    blocks = []
    for index, (name, variables) in enumerate(cases.items()):
        instances = variables.get("ec2_stack_instances") or [
            {
                "instance_id": f"i-{index:017x}",
                "instance_type": "t3.large",
                "private_ip_address": f"10.40.10.{index + 10}",
            }
        ]
        case_vars = {
            "ragstack_env": "dev",
            "ragstack_region": region,
            **variables,
            "ec2_stack_instances": instances,
        }
        blocks.append(
            CASE.format(
                name=name,
                vars=json.dumps(case_vars),
                instance_id=instances[0]["instance_id"],
                keys=json.dumps(KEYS),
            )
        )
    result, report = run_playbook_json(
        PLAY.format(
            cases="".join(blocks), module_defaults=json.dumps(_aws_defaults(endpoint, region))
        ),
        tmp_path,
        "-i",
        "localhost,",
    )
    found: dict[str, Any] = {}
    for msg in messages(report, "localhost"):
        if msg.startswith("CASE "):
            name, _, rest = msg[5:].partition(" ")
            found[name] = rest if rest.startswith("REFUSED: ") else json.loads(rest)
    assert set(found) == set(cases), (found, result.stderr)
    return found


def _aws_defaults(endpoint: str | None, region: str) -> dict[str, Any]:
    """With a stack in the local AWS, add_hosts reads its group's lifecycle states there."""
    if not endpoint:
        return {}
    values = {"endpoint_url": endpoint, "region": region}
    values.update(access_key="testing", secret_key="testing")
    return {"group/amazon.aws.aws": values}
