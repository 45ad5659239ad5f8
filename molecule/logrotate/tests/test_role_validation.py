"""The role's `validate:` keeps a broken rule off the converged host.

Runs the role once more against the molecule instance with an application log
entry logrotate rejects (size unit "Q"); the template task must fail validation
and leave no file behind.
"""

from ansible_json import case_messages

BROKEN_RULE = "/etc/logrotate.d/ragstack-broken"

PLAY = """
- name: Broken rule
  hosts: molecule-logrotate
  gather_facts: true
  tasks:
    - name: Run the role with a rule logrotate rejects
      tags: [always]
      block:
        - name: Run the role
          ansible.builtin.include_role:
            name: ragstack.aws.logrotate
          tags: [always]
          vars:
            logrotate_app_logs:
              - name: ragstack-broken
                path: /var/log/ragstack-broken/*.log
                size: 50Q
        - name: Not refused
          ansible.builtin.debug:
            msg: "CASE NOT REFUSED"
      rescue:
        - name: Refused
          ansible.builtin.debug:
            msg: >-
              CASE REFUSED by {{ ansible_failed_task.name }}:
              {{ ansible_failed_result.results | selectattr('failed', 'defined')
                 | selectattr('failed') | map(attribute='msg') | join(' ') }}
    - name: Look for the rule file
      tags: [always]
      ansible.builtin.stat:
        path: /etc/logrotate.d/ragstack-broken
      register: broken_rule
    - name: Report
      tags: [always]
      ansible.builtin.debug:
        msg: "CASE FILE EXISTS {{ broken_rule.stat.exists }}"
"""


def test_broken_rule_fails_validation_and_is_not_installed(request, tmp_path):
    cases = case_messages(
        PLAY,
        tmp_path,
        request.config.getoption("ansible_inventory"),
        "logrotate_configure",
        "molecule-logrotate",
    )
    assert cases[0].startswith("CASE REFUSED by Write the application log rules:"), cases
    assert "failed to validate" in cases[0], cases
    assert cases[1] == "CASE FILE EXISTS False", cases
