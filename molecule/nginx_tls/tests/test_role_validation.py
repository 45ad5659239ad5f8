"""`nginx -t` keeps a broken nginx.conf off the converged host.

Runs the role once more against the self-signed instance with a value NGINX
rejects; the template task must fail validation, the live nginx.conf must stay
as it was and NGINX must keep serving.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import testinfra

ROOT = Path(__file__).resolve().parents[3]
INSTANCE = "molecule-nginx-tls"

PLAY = """
- name: Broken nginx.conf
  hosts: molecule-nginx-tls
  gather_facts: true
  tasks:
    - name: Run the role with a body size NGINX rejects
      tags: [always]
      block:
        - name: Run the role
          ansible.builtin.include_role:
            name: ragstack.aws.nginx_tls
          tags: [always]
          vars:
            nginx_tls_server_names: [localhost, ragstack.test]
            nginx_tls_rate_limit_rate: 5r/s
            nginx_tls_rate_limit_burst: 10
            nginx_tls_client_max_body_size: ten-megabytes
        - name: Not refused
          ansible.builtin.debug:
            msg: "CASE NOT REFUSED"
      rescue:
        - name: Refused
          ansible.builtin.debug:
            msg: "CASE REFUSED by {{ ansible_failed_task.name }}: {{ ansible_failed_result.msg }}"
"""


def test_broken_config_fails_validation_and_is_not_installed(request, tmp_path):
    host = testinfra.get_host(
        f"ansible://{INSTANCE}", ansible_inventory=request.config.getoption("ansible_inventory")
    )
    before = host.file("/etc/nginx/nginx.conf").sha256sum
    playbook = tmp_path / "broken.yml"
    playbook.write_text(PLAY)
    config = tmp_path / "ansible.cfg"
    config.write_text("[defaults]\n")
    env = dict(os.environ)
    env["ANSIBLE_CONFIG"] = str(config)
    env["ANSIBLE_COLLECTIONS_PATH"] = str(ROOT / ".collections")
    env["ANSIBLE_STDOUT_CALLBACK"] = "ansible.builtin.json"
    env["ANSIBLE_PIPELINING"] = "true"
    result = subprocess.run(
        [
            str(Path(sys.executable).with_name("ansible-playbook")),
            "-i",
            request.config.getoption("ansible_inventory"),
            # Packages are in place: the configure tag alone skips apt.
            "--tags",
            "nginx_tls_configure",
            str(playbook),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert result.stdout.startswith("{"), result.stdout + result.stderr
    messages = [
        str(task["hosts"].get(INSTANCE, {}).get("msg", ""))
        for task in json.loads(result.stdout)["plays"][0]["tasks"]
    ]
    cases = [m for m in messages if m.startswith("CASE ")]
    assert cases[0].startswith("CASE REFUSED by Render nginx.conf"), cases
    assert "failed to validate" in cases[0], cases
    assert host.file("/etc/nginx/nginx.conf").sha256sum == before
    assert host.service("nginx").is_running
    assert host.run("nginx -t").rc == 0
