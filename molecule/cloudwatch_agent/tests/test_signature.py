"""The role installs AWS's .deb only when its signature verifies against the pinned key.

Runs the role again on the config-only instance (nothing installed there) with
cloudwatch_agent_install: true against the stand-in download site prepare.yml serves on
that container's 127.0.0.1:8089, signed with prepare's throwaway key:

- the package with one byte changed, next to the original signature: refused;
- the good package, but the pinned key is another one (the signer's key sits in root's
  own keyring, so this also shows the role trusts only its private keyring): refused;
- the good package with a sha256 pin that does not match: refused;
- the good package in check mode: reported as a change, nothing downloaded or installed.

After each, amazon-cloudwatch-agent is not installed (the same check that sees the
installed package on the GPU host in test_cloudwatch_agent.py) and no private working
directory or keyring is left in /tmp.
"""

import json

from ansible_json import messages, run_playbook_json
from test_cloudwatch_agent import installed_agent_version, private_workdirs

testinfra_hosts = ["ansible://molecule-cloudwatch-agent"]
HOST = "molecule-cloudwatch-agent"
SERVED = "/srv/fake-aws"

PLAY = """
- name: Signature cases
  hosts: {host}
  gather_facts: true
  vars:
    ansible_pipelining: true
    cloudwatch_agent_environment: test
    cloudwatch_agent_retention_in_days: 14
  tasks:
    - name: Read the throwaway keys prepare served
      ansible.builtin.slurp:
        src: {served}/{{{{ item }}}}
      loop: [signer.asc, signer.fpr, other.asc, other.fpr]
      register: served
    - name: Keep them
      ansible.builtin.set_fact:
        keys: "{{{{ dict(served.results | map(attribute='item')
          | zip(served.results | map(attribute='content') | map('b64decode') | map('trim'))) }}}}"
{cases}
"""

CASE = """
    - name: Case {name}
      block:
        - name: Run the role
          ansible.builtin.include_role:
            name: ragstack.aws.cloudwatch_agent
          vars: {vars}
        - name: Not refused
          ansible.builtin.debug:
            msg: "CASE {name} NOT REFUSED"
      rescue:
        - name: Refused
          ansible.builtin.debug:
            msg: >-
              CASE {name} REFUSED by {{{{ ansible_failed_task.name }}}}:
              {{{{ ansible_failed_result.msg }}}}
"""

GOOD = {
    "cloudwatch_agent_install": True,
    "cloudwatch_agent_deb_version": "1.0.0-test",
    "cloudwatch_agent_deb_base_url": "http://127.0.0.1:8089",
    "cloudwatch_agent_gpg_key": "{{ keys['signer.asc'] }}",
    "cloudwatch_agent_gpg_fingerprint": "{{ keys['signer.fpr'] }}",
}

REFUSED = {
    "tampered": {"cloudwatch_agent_deb_base_url": "http://127.0.0.1:8089/tampered"},
    "other_key": {
        "cloudwatch_agent_gpg_key": "{{ keys['other.asc'] }}",
        "cloudwatch_agent_gpg_fingerprint": "{{ keys['other.fpr'] }}",
    },
    "sha256_mismatch": {"cloudwatch_agent_deb_sha256": "0" * 64},
}


def run_cases(request, tmp_path, cases, *args):
    play = PLAY.format(
        host=HOST,
        served=SERVED,
        cases="".join(
            CASE.format(name=name, vars=json.dumps({**GOOD, **extra}))
            for name, extra in cases.items()
        ),
    )
    inventory = request.config.getoption("ansible_inventory")
    result, report = run_playbook_json(play, tmp_path, "-i", inventory, *args, pipelining=True)
    found = {}
    for msg in messages(report, HOST):
        if msg.startswith("CASE "):
            name, _, rest = msg[5:].partition(" ")
            found[name] = rest
    return result, report, found


def test_bad_packages_are_refused_and_not_installed(request, tmp_path, host):
    _, _, found = run_cases(request, tmp_path, REFUSED)
    verify = "REFUSED by Refuse a package whose signature does not verify: "
    for name in ("tampered", "other_key"):
        assert found[name].startswith(verify), (name, found[name])
        assert "Refusing to install amazon-cloudwatch-agent 1.0.0-test" in found[name]
        assert "The package was not installed." in found[name]
    assert "BADSIG" in found["tampered"], found["tampered"]
    assert "NO_PUBKEY" in found["other_key"] or "ERRSIG" in found["other_key"], found
    assert found["sha256_mismatch"].startswith(
        "REFUSED by Refuse a package that differs from the sha256 pin: "
    ), found["sha256_mismatch"]
    assert "cloudwatch_agent_deb_sha256 pins " + "0" * 64 in found["sha256_mismatch"]
    # Nothing was installed and the private directories are gone.
    assert installed_agent_version(host) is None
    assert private_workdirs(host) == []


def test_tampered_package_is_still_one_dpkg_would_install(host):
    # So only the signature check stands between it and the host.
    tampered = f"{SERVED}/tampered/debian/amd64/1.0.0-test/amazon-cloudwatch-agent.deb"
    original = f"{SERVED}/debian/amd64/1.0.0-test/amazon-cloudwatch-agent.deb"
    assert host.run(f"dpkg-deb --info {tampered}").rc == 0
    assert host.run(f"cmp -s {original} {tampered}").rc == 1


def test_check_mode_reports_the_install_and_changes_nothing(request, tmp_path, host):
    _, report, found = run_cases(request, tmp_path, {"check_mode": {}}, "--check")
    assert found["check_mode"] == "NOT REFUSED", found
    pending = [
        task["hosts"][HOST]
        for task in report["plays"][0]["tasks"]
        if task["task"]["name"].endswith(
            "Report the pending install (check mode downloads nothing)"
        )
        and HOST in task["hosts"]
    ]
    assert pending, "the pending install was not reported"
    assert pending[0].get("changed") is True, pending
    assert "would download http://127.0.0.1:8089/debian/amd64/1.0.0-test/" in pending[0]["msg"]
    assert installed_agent_version(host) is None
    assert private_workdirs(host) == []
