"""Role entry refuses bad input, naming the variable, before touching a host.

Runs the role in check mode against the controller itself (connection local):
argument specs and preflight asserts fail before any install task.
"""

import sys

from ansible_json import messages as task_messages
from ansible_json import run_playbook_json

CASES = {
    "bogus_mode": ({"nginx_tls_mode": "bogus"}, "nginx_tls_mode"),
    "bad_port": ({"nginx_tls_https_port": "not-a-port"}, "nginx_tls_https_port"),
    "letsencrypt_without_domain": (
        {"nginx_tls_mode": "letsencrypt", "nginx_tls_letsencrypt_email": "ops@example.com"},
        "needs nginx_tls_domain",
    ),
    "provided_without_key": (
        {"nginx_tls_mode": "provided", "nginx_tls_certificate": "x"},
        "needs nginx_tls_certificate and nginx_tls_private_key",
    ),
}

PLAY = """
- name: Role entry cases
  hosts: localhost
  gather_facts: true
  tasks:
{cases}
"""

CASE = """
    - name: Case {name}
      block:
        - name: Run the role
          ansible.builtin.include_role:
            name: ragstack.aws.nginx_tls
          vars: {vars}
        - name: Not refused
          ansible.builtin.debug:
            msg: "CASE {name} NOT REFUSED"
      rescue:
        - name: Refused
          ansible.builtin.debug:
            msg: "CASE {name} REFUSED: {{{{ ansible_failed_result.msg }}}}"
"""


def test_role_entry_refuses_bad_input(tmp_path):
    cases = "".join(CASE.format(name=name, vars=v) for name, (v, _) in CASES.items())
    _, report = run_playbook_json(
        PLAY.format(cases=cases),
        tmp_path,
        "-i",
        "localhost,",
        "-c",
        "local",
        "-e",
        f"ansible_python_interpreter={sys.executable}",
        "--check",
    )
    messages = {}
    for msg in task_messages(report, "localhost"):
        if msg.startswith("CASE "):
            name, _, rest = msg[5:].partition(" ")
            messages[name] = rest
    for name, (_, expected) in CASES.items():
        assert messages.get(name, "").startswith("REFUSED: "), (name, messages.get(name))
        assert expected in messages[name], (name, messages[name])
