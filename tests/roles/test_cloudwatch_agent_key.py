"""ragstack.aws.cloudwatch_agent: the signing key it ships, and the input checks that run
on the controller before anything is created (tasks/inputs.yml).

- gpg reads the shipped files/amazon-cloudwatch-agent.gpg as the one key AWS documents
  ("Verifying the signature of the CloudWatch agent package"), fingerprint
  9376 16F3 450B 7D80 6CBD 9725 D581 6730 3B78 9C72, and the role pins that fingerprint.
- files/openpgp_fingerprints.py (what inputs.yml runs on the controller, no gpg there)
  agrees with gpg on that key and on fresh keys, and rejects altered or truncated keys.
- The inputs entry point on localhost, no facts: the shipped defaults pass, each bad
  input is refused naming the variable.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from ansible_json import messages, run_playbook_json
from gpg_kit import colon_records, new_key

ROLE = Path(__file__).resolve().parents[2] / "roles" / "cloudwatch_agent"
SHIPPED_KEY = ROLE / "files" / "amazon-cloudwatch-agent.gpg"
FINGERPRINTS = ROLE / "files" / "openpgp_fingerprints.py"
# As printed in AWS's documentation of the CloudWatch agent package signature.
DOCUMENTED = "9376 16F3 450B 7D80 6CBD 9725 D581 6730 3B78 9C72"
DOCUMENTED_HEX = DOCUMENTED.replace(" ", "")
END = "-----END PGP PUBLIC KEY BLOCK-----"


def fingerprints_py(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(FINGERPRINTS), *args],
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def test_shipped_key_is_the_documented_aws_key(gnupg):
    shown = gnupg("--with-colons", "--show-keys", str(SHIPPED_KEY)).stdout
    keys = colon_records(shown, "pub")
    assert len(keys) == 1, shown  # exactly one key: the keyring the role builds holds only it
    fprs = [record[9] for record in colon_records(shown, "fpr")]
    assert fprs == [DOCUMENTED_HEX], shown
    assert [record[9] for record in colon_records(shown, "uid")] == ["Amazon CloudWatch Agent"]
    # The key is usable (not revoked, not expired) and can sign.
    assert keys[0][1] not in ("r", "e"), keys[0]
    assert "s" in keys[0][11].lower(), keys[0]


def test_role_pins_the_documented_fingerprint():
    defaults = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
    assert defaults["cloudwatch_agent_gpg_fingerprint"] == DOCUMENTED
    assert defaults["cloudwatch_agent_gpg_key"] == ""  # "" = the shipped key
    specs = yaml.safe_load((ROLE / "meta" / "argument_specs.yml").read_text())["argument_specs"]
    for entry in ("main", "inputs"):
        assert specs[entry]["options"]["cloudwatch_agent_gpg_fingerprint"]["default"] == DOCUMENTED


def test_fingerprint_script_agrees_with_gpg(gnupg):
    assert fingerprints_py(stdin=SHIPPED_KEY.read_text()).stdout.split() == [DOCUMENTED_HEX]
    for algo in ("ed25519", "rsa2048"):
        key = new_key(gnupg, algo, algo)
        expected = [key.fingerprint]
        assert fingerprints_py(stdin=key.armored).stdout.split() == expected, algo
        encoded = base64.b64encode(key.armored.encode()).decode()
        reported = json.loads(fingerprints_py("--json", encoded).stdout)
        assert reported == {"fingerprints": expected, "error": ""}


def altered(text: str) -> str:
    """The shipped key with one base64 character of the key material changed."""
    lines = text.splitlines()
    index = next(i for i, line in enumerate(lines) if line.startswith("mQEN"))
    line = lines[index]
    lines[index] = line[:20] + ("A" if line[20] != "A" else "B") + line[21:]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    ("name", "text", "reason"),
    [
        ("altered", altered(SHIPPED_KEY.read_text()), "CRC24"),
        (
            "truncated",
            "\n".join([*SHIPPED_KEY.read_text().splitlines()[:6], END]),
            "truncated",
        ),
        ("not_a_key", "hello", "not an armored OpenPGP public key"),
        ("no_end", SHIPPED_KEY.read_text().replace(END, ""), "END"),
    ],
)
def test_fingerprint_script_rejects_bad_keys(name, text, reason):
    result = fingerprints_py(stdin=text)
    assert result.returncode == 1, (name, result.stdout)
    assert result.stdout == ""
    assert reason in result.stderr, (name, result.stderr)
    reported = json.loads(
        fingerprints_py("--json", base64.b64encode(text.encode()).decode()).stdout
    )
    assert reported["fingerprints"] == []
    assert reason in reported["error"]


# --- tasks/inputs.yml on localhost ------------------------------------------------------

PLAY = """
- name: Input cases
  hosts: localhost
  gather_facts: false
  tasks:
{cases}
"""

CASE = """
    - name: Case {name}
      block:
        - name: Check the inputs
          ansible.builtin.include_role:
            name: ragstack.aws.cloudwatch_agent
            tasks_from: inputs
          vars: {vars}
        - name: Not refused
          ansible.builtin.debug:
            msg: "CASE {name} PASSED"
      rescue:
        - name: Refused
          ansible.builtin.debug:
            msg: "CASE {name} REFUSED: {{{{ ansible_failed_result.msg }}}}"
"""

OTHER_FPR = "0123456789ABCDEF0123456789ABCDEF01234567"

CASES = {
    # None: must pass; else a text the refusal must contain.
    "defaults": ({}, None),
    "loopback_http_mirror": ({"cloudwatch_agent_deb_base_url": "http://127.0.0.1:8089/"}, None),
    "ipv6_loopback_mirror": ({"cloudwatch_agent_deb_base_url": "http://[::1]:8089"}, None),
    "lookalike_loopback": (
        {"cloudwatch_agent_deb_base_url": "http://127.0.0.1.example.com/"},
        "cloudwatch_agent_deb_base_url",
    ),
    "sha256_pin": ({"cloudwatch_agent_deb_sha256": "AB" * 32}, None),
    "fingerprint_lower_case": ({"cloudwatch_agent_gpg_fingerprint": DOCUMENTED_HEX.lower()}, None),
    "install_false_checks_nothing": (
        {"cloudwatch_agent_install": False, "cloudwatch_agent_deb_version": "latest"},
        None,
    ),
    "latest": ({"cloudwatch_agent_deb_version": "latest"}, "cloudwatch_agent_deb_version"),
    "empty_version": ({"cloudwatch_agent_deb_version": ""}, "cloudwatch_agent_deb_version"),
    "path_in_version": (
        {"cloudwatch_agent_deb_version": "1.2/../x"},
        "cloudwatch_agent_deb_version",
    ),
    "short_sha256": ({"cloudwatch_agent_deb_sha256": "abc"}, "cloudwatch_agent_deb_sha256"),
    "plain_http": (
        {"cloudwatch_agent_deb_base_url": "http://mirror.example.com"},
        "cloudwatch_agent_deb_base_url must be an https:// URL",
    ),
    "ftp": ({"cloudwatch_agent_deb_base_url": "ftp://x"}, "cloudwatch_agent_deb_base_url"),
    "bad_fingerprint": ({"cloudwatch_agent_gpg_fingerprint": "3B789C72"}, "40 hex digits"),
    "other_fingerprint": (
        {"cloudwatch_agent_gpg_fingerprint": OTHER_FPR},
        f"holds {DOCUMENTED_HEX}, but cloudwatch_agent_gpg_fingerprint pins exactly one key, "
        + OTHER_FPR,
    ),
    "altered_key": (
        {"cloudwatch_agent_gpg_key": altered(SHIPPED_KEY.read_text())},
        "(cloudwatch_agent_gpg_key) does not parse: armored OpenPGP public key fails its CRC24",
    ),
    "not_a_key": ({"cloudwatch_agent_gpg_key": "hello"}, "does not parse"),
}


def test_inputs_entry_point_on_localhost(tmp_path):
    cases = "".join(CASE.format(name=name, vars=json.dumps(v)) for name, (v, _) in CASES.items())
    _, report = run_playbook_json(
        PLAY.format(cases=cases),
        tmp_path,
        "-i",
        "localhost,",
        "-c",
        "local",
        "-e",
        f"ansible_python_interpreter={sys.executable}",
    )
    found = {}
    for msg in messages(report, "localhost"):
        if msg.startswith("CASE "):
            name, _, rest = msg[5:].partition(" ")
            found[name] = rest
    assert set(found) == set(CASES), found
    for name, (_, expected) in CASES.items():
        if expected is None:
            assert found[name] == "PASSED", (name, found[name])
        else:
            assert found[name].startswith("REFUSED: "), (name, found[name])
            assert expected in found[name], (name, found[name])


def test_inputs_entry_point_only_asserts():
    # Nothing in it may touch a host: every task is an assert (templated on the controller).
    tasks = yaml.safe_load((ROLE / "tasks" / "inputs.yml").read_text())
    assert tasks
    for task in tasks:
        modules = [key for key in task if key.startswith("ansible.")]
        assert modules == ["ansible.builtin.assert"], task["name"]


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_aws_inventories_pass_the_inputs_checks_as_shipped(tmp_path, env):
    # What a deploy against a real account runs first: no operator edit needed.
    inventory = ROLE.parents[1] / "inventories" / "aws" / env / "hosts.yml"
    _, report = run_playbook_json(
        PLAY.format(cases=CASE.format(name=env, vars="{}")), tmp_path, "-i", str(inventory)
    )
    found = [m for m in messages(report, "localhost") if m.startswith("CASE ")]
    assert found == [f"CASE {env} PASSED"], found
