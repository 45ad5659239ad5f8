"""`nginx -t` keeps a broken nginx.conf off the converged host.

Runs the role once more against the self-signed instance with a value NGINX
rejects; the template task must fail validation, the live nginx.conf must stay
as it was and NGINX must keep serving.
"""

import testinfra
from ansible_json import case_messages

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
    inventory = request.config.getoption("ansible_inventory")
    cases = case_messages(PLAY, tmp_path, inventory, "nginx_tls_configure", INSTANCE)
    assert cases[0].startswith("CASE REFUSED by Render nginx.conf"), cases
    assert "failed to validate" in cases[0], cases
    assert host.file("/etc/nginx/nginx.conf").sha256sum == before
    assert host.service("nginx").is_running
    assert host.run("nginx -t").rc == 0
