"""ragstack.aws.ec2_stack `host_config`: the settings a new host configures itself with.

The entry point runs against the session's local AWS and the parameter it writes is read
back: the host roles' argument_spec options the run defines are there with their values
(templated), the per-release ones and those marked no_log are not, the play's own values are
added. The no_log canary's absence is checked by the same lookup that finds it in an option
without no_log (positive control).
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from ansible_json import run_playbook_json

REPO_ROOT = Path(__file__).resolve().parents[2]
CANARY = "host-config-canary-7f1e"
PARAMETER = "/ragstack/hostcfg/hosts/config"
PLAY = """
- name: host_config
  hosts: localhost
  connection: local
  gather_facts: false
  module_defaults:
    group/community.aws.aws: {defaults}
  vars:
    ansible_python_interpreter: "{{{{ ansible_playbook_python }}}}"
  tasks:
    - name: Write the host config
      ansible.builtin.include_role:
        name: ragstack.aws.ec2_stack
        tasks_from: host_config
      vars: {variables}
"""


def write_host_config(tmp_path: Path, endpoint: str, variables: dict) -> dict:
    defaults = {
        "endpoint_url": endpoint, "region": "us-east-1",
        "access_key": "testing", "secret_key": "testing",
    }  # fmt: skip
    result, _report = run_playbook_json(
        PLAY.format(defaults=json.dumps(defaults), variables=json.dumps(variables)),
        tmp_path, "-i", "localhost,",
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:]
    return variables


def test_host_config_is_the_host_roles_defined_options_without_secrets(
    tmp_path, moto_endpoint, aws
) -> None:
    write_host_config(
        tmp_path,
        moto_endpoint,
        {
            "ragstack_env": "hostcfg",
            "nginx_tls_mode": "provided",
            # no_log in nginx_tls's argument_specs: a secret, never written.
            "nginx_tls_private_key": CANARY,
            # Not no_log: the control that the same canary would be seen.
            "nginx_tls_domain": CANARY + ".example.org",
            "docker_users": ["admin"],
            "cloudwatch_agent_environment": "{{ ragstack_env }}",
            # Per release: the host reads it from the release it runs.
            "app_release": {"id": "r-000000000000"},
            "ec2_stack_host_config_vars": {
                "ragstack_region": "us-east-1",
                "secrets_parameters": {},
            },
        },
    )
    text = aws("ssm").get_parameter(Name=PARAMETER)["Parameter"]["Value"]
    config = json.loads(text)
    assert config["nginx_tls_mode"] == "provided"
    assert config["docker_users"] == ["admin"]
    assert config["cloudwatch_agent_environment"] == "hostcfg"  # templated on the controller
    assert config["ragstack_region"] == "us-east-1"
    assert config["secrets_parameters"] == {}
    assert "app_release" not in config
    assert "nginx_tls_private_key" not in config
    assert config["nginx_tls_domain"] == CANARY + ".example.org"  # positive control
    assert text.count(CANARY) == 1
    # Every key is an option of a host role's argument_specs, or a play-level value.
    options = set()
    for role in ("docker", "nvidia_gpu", "nginx_tls", "logrotate", "cloudwatch_agent", "app"):
        spec = yaml.safe_load(
            (REPO_ROOT / "roles" / role / "meta" / "argument_specs.yml").read_text()
        )
        options |= set(spec["argument_specs"]["main"]["options"])
    assert set(config) - options == {"ragstack_region", "secrets_parameters"}
