"""The launch template's user data (cloudformation/ec2.yaml): on the Debian AMI with
ConnectionMode=ssm it installs AWS's SSM agent, and only a package whose signature verifies
against AWS's "SSM Agent" key, embedded in the template.

The script is taken from the template and rendered as CloudFormation renders Fn::Sub
(ssm_user_data.py), then:
- `bash -n`, and only the pseudo parameters are Fn::Sub variables;
- the embedded key is the file the role ships, and gpg reads it as AWS's documented key
  (fingerprint 1C5B 395C BE5E 74E2 F1CA  2159 2784 DBF3 88D1 9D46), usable, pinned by the script;
- the agent's part of the script (install_ssm_agent, which main runs first when
  INSTALL_SSM_AGENT=yes) runs for real with real gpg, against a local "bucket" (a fake curl
  serving files from a temp dir) and fake dpkg/systemctl that only record what they are asked:
  with the embedded key, a package signed by any other key is refused; with a throwaway key
  injected in place of AWS's (the script sourced, its variables set), a good
  signature installs and starts the agent, while a tampered package, a foreign, expired or
  unpinned key, or a missing signature is refused and nothing is installed. A control shows
  the same harness sees the install when the verification is replaced by `return 0`.

Locally instances run this user data through cloud-init (NoCloud), but with INSTALL_SSM_AGENT=no
(local runs use ssh): these tests and the template checks cover the agent's part
(docs/local-vs-aws.md); test_ec2_boot_script.py covers the rest of the script.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from cfn_eval import Evaluator, load_template, parameter_values
from gpg_kit import colon_records, new_key
from ssm_user_data import (
    DOCUMENTED_FINGERPRINT,
    DOCUMENTED_FINGERPRINT_HEX,
    KEY_UID,
    agent_url,
    embedded_key,
    key_file_text,
    pinned_fingerprint,
    rendered_script,
    script_source,
    sub_variables,
    user_data,
)

TEMPLATE = load_template()
VALID = {"CertificateArn": "arn:aws:acm:us-east-1:123456789012:certificate/0a1b", "AdminCidr": ""}
REGION = "eu-west-1"
URL = f"https://s3.{REGION}.amazonaws.com/amazon-ssm-{REGION}/latest/debian_amd64/amazon-ssm-agent.deb"
# EC2 refuses user data above 16 KB (before base64).
USER_DATA_LIMIT = 16 * 1024


def evaluator(**overrides: str) -> Evaluator:
    return Evaluator(TEMPLATE, parameter_values(TEMPLATE, {**VALID, **overrides}))


# ---------------------------------------------------------------- which hosts get it


@pytest.mark.parametrize(
    ("overrides", "installs"),
    [
        ({}, True),
        ({"InstanceType": "m6i.large", "AmiKind": "cpu"}, True),
        # The Deep Learning AMI ships the agent.
        ({"InstanceType": "g5.xlarge"}, False),
        ({"InstanceType": "t3.large", "AmiKind": "gpu"}, False),
        # ssh: no SSM connection, nothing to install.
        ({"ConnectionMode": "ssh", "AdminCidr": "203.0.113.0/24"}, False),
    ],
)
def test_only_ssm_hosts_on_the_debian_ami_get_the_installer(overrides, installs) -> None:
    ev = evaluator(**overrides)
    assert ev.condition("InstallSsmAgent") is installs
    assert ev.condition("InstallSsmAgent") is (
        ev.condition("UseSsm") and not ev.condition("UseGpuAmi")
    )
    # Every host runs the first-boot script; the condition only switches the agent's part.
    _source, variables = user_data()["Fn::Base64"]["Fn::Sub"]
    assert variables["InstallSsmAgent"]["Fn::If"][0] == "InstallSsmAgent"
    chosen = variables["InstallSsmAgent"]["Fn::If"][1 if installs else 2]
    assert chosen == ("yes" if installs else "no")
    assert 'if [ "$INSTALL_SSM_AGENT" = yes ]; then\n      install_ssm_agent' in script_source()


# ---------------------------------------------------------------- the script as rendered


def test_only_known_values_are_substituted() -> None:
    # A bash ${var} would be taken by Fn::Sub (and refused as an unknown variable).
    assert sub_variables(script_source()) == {
        "AWS::Region", "AWS::URLSuffix", "AWS::StackName", "EnvironmentName", "ReleaseBucket",
        "HealthCheckPath", "InstallSsmAgent", "TargetGroup",
    }  # fmt: skip


def test_rendered_script_is_valid_bash_and_small_enough(tmp_path) -> None:
    script = rendered_script(REGION)
    assert script.startswith("#!/bin/bash\n")
    assert len(script.encode()) <= USER_DATA_LIMIT
    path = tmp_path / "user-data.sh"
    path.write_text(script)
    checked = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr


@pytest.mark.parametrize(
    ("region", "suffix", "url"),
    [
        (REGION, "amazonaws.com", URL),
        (
            "cn-north-1",
            "amazonaws.com.cn",
            "https://s3.cn-north-1.amazonaws.com.cn/amazon-ssm-cn-north-1/latest/debian_amd64/"
            "amazon-ssm-agent.deb",
        ),
    ],
)
def test_package_comes_from_the_regional_bucket(region, suffix, url) -> None:
    assert agent_url(rendered_script(region, suffix)) == url


# ---------------------------------------------------------------- the key


def test_embedded_key_is_the_shipped_file() -> None:
    assert embedded_key(rendered_script()) + "\n" == key_file_text()


def test_embedded_key_is_awss_documented_ssm_agent_key(gnupg, tmp_path) -> None:
    key = tmp_path / "embedded.asc"
    key.write_text(embedded_key(rendered_script()) + "\n")
    shown = gnupg("--with-colons", "--show-keys", str(key)).stdout
    keys = colon_records(shown, "pub")
    assert len(keys) == 1, shown  # exactly one key: the script pins it and refuses any other
    assert [r[9] for r in colon_records(shown, "fpr")] == [DOCUMENTED_FINGERPRINT_HEX], shown
    assert [r[9] for r in colon_records(shown, "uid")] == [KEY_UID]
    # Usable: not revoked, not expired, can sign. AWS publishes the next key before this one
    # expires (2027-11-25): then update roles/ec2_stack/files/amazon-ssm-agent.gpg, the
    # template's SSM_AGENT_KEY and SSM_AGENT_KEY_FINGERPRINT, and DOCUMENTED_FINGERPRINT.
    assert keys[0][1] not in ("r", "e"), keys[0]
    assert not keys[0][6] or int(keys[0][6]) > time.time(), f"the key expired: {keys[0]}"
    assert "s" in keys[0][11].lower(), keys[0]
    human = gnupg("--show-keys", "--fingerprint", str(key)).stdout
    assert DOCUMENTED_FINGERPRINT.replace("  ", " ") in " ".join(human.split()), human


def test_script_pins_the_documented_fingerprint() -> None:
    assert pinned_fingerprint(rendered_script()) == DOCUMENTED_FINGERPRINT_HEX


# ---------------------------------------------------------------- running it


FAKE_TOOLS = {
    # curl ... --output FILE URL: serve the URL's file name from $FAKE_BUCKET, record the URL.
    "curl": """#!/bin/bash
out= url=
while [ $# -gt 0 ]; do
  case $1 in
    --output) out=$2; shift 2 ;;
    --retry|--retry-delay|--proto) shift 2 ;;
    -*) shift ;;
    *) url=$1; shift ;;
  esac
done
echo "$url" >>"$FAKE_LOG/curl"
[ -f "$FAKE_BUCKET/$(basename "$url")" ] || { echo "curl: (22) 404 $url" >&2; exit 22; }
cp "$FAKE_BUCKET/$(basename "$url")" "$out"
""",
    # The agent is not installed yet; -i records the package's sha256 (what was installed).
    "dpkg": """#!/bin/bash
case $1 in
  -s) exit 1 ;;
  --print-architecture) echo amd64 ;;
  -i) sha256sum "$2" | cut -d' ' -f1 >>"$FAKE_LOG/dpkg-i" ;;
  *) exit 2 ;;
esac
""",
    "systemctl": '#!/bin/bash\necho "$*" >>"$FAKE_LOG/systemctl"\n',
    "logger": "#!/bin/sh\nexit 0\n",
    "apt-get": '#!/bin/bash\necho "$*" >>"$FAKE_LOG/apt-get"\nexit 1\n',
}
PACKAGE = b"!<arch>\nnot really amazon-ssm-agent, a test stand-in\n"


@dataclass
class Run:
    returncode: int
    stderr: str
    curl: list[str]
    installed: list[str]
    systemctl: list[str]
    apt_get: list[str]
    leftovers: list[str]


class Host:
    """A temp dir standing in for the instance: fake tools first on PATH, real bash and gpg."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.bin = root / "bin"
        self.bucket = root / "bucket"
        self.log = root / "log"
        self.tmp = root / "tmp"
        for directory in (self.bin, self.bucket, self.log, self.tmp):
            directory.mkdir()
        for name, text in FAKE_TOOLS.items():
            (self.bin / name).write_text(text)
            (self.bin / name).chmod(0o755)
        self.script = root / "user-data.sh"
        self.script.write_text(rendered_script(REGION))

    def publish(self, package: bytes, signature: bytes | None) -> None:
        (self.bucket / "amazon-ssm-agent.deb").write_bytes(package)
        if signature is not None:
            (self.bucket / "amazon-ssm-agent.deb.sig").write_bytes(signature)

    def run(self, key: str | None = None, fingerprint: str | None = None, prelude: str = "") -> Run:
        """As cloud-init runs it (no key given), or sourced with key/fingerprint injected."""
        env = {
            **os.environ,
            "PATH": f"{self.bin}:{os.environ['PATH']}",
            "TMPDIR": str(self.tmp),
            "FAKE_LOG": str(self.log),
            "FAKE_BUCKET": str(self.bucket),
        }
        if key is None:
            # The agent's part of the first boot, with the key the template embeds.
            argv = ["bash", "-c", 'source "$1"; install_ssm_agent', "user-data", str(self.script)]
        else:
            key_path = self.root / "injected.asc"
            key_path.write_text(key)
            argv = [
                "bash",
                "-c",
                'source "$1"; SSM_AGENT_KEY=$(cat "$2"); SSM_AGENT_KEY_FINGERPRINT=$3; '
                + prelude
                + "install_ssm_agent",
                "user-data",
                str(self.script),
                str(key_path),
                fingerprint or "",
            ]
        done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120)

        def lines(name: str) -> list[str]:
            path = self.log / name
            return path.read_text().splitlines() if path.exists() else []

        return Run(
            returncode=done.returncode,
            stderr=done.stderr,
            curl=lines("curl"),
            installed=lines("dpkg-i"),
            systemctl=lines("systemctl"),
            apt_get=lines("apt-get"),
            leftovers=sorted(p.name for p in self.tmp.iterdir()),
        )


@dataclass
class Signer:
    armored: str
    fingerprint: str
    sign: Callable[[bytes], bytes]


@pytest.fixture
def signer(gnupg, tmp_path) -> Callable[..., Signer]:
    """Throwaway signing keys: signer("name") or signer("name", expired=True)."""

    def make(name: str, expired: bool = False) -> Signer:
        # An expired key: made and used in 2020, valid for a day.
        faked_time = "20200101T000000" if expired else None
        when = ["--faked-system-time", faked_time] if faked_time else []
        key = new_key(gnupg, name, "ed25519", "sign", "1d" if expired else "never",
                      faked_time=faked_time)  # fmt: skip

        def sign(data: bytes) -> bytes:
            source = tmp_path / f"to-sign-{name}"
            source.write_bytes(data)
            target = source.with_suffix(".sig")
            target.unlink(missing_ok=True)
            gnupg(*when, "--local-user", key.fingerprint, "--output", str(target), "--detach-sign",
                  str(source))  # fmt: skip
            return target.read_bytes()

        return Signer(key.armored, key.fingerprint, sign)

    return make


@pytest.fixture
def host(tmp_path) -> Host:
    root = tmp_path / "host"
    root.mkdir()
    return Host(root)


def assert_refused(run: Run, *said: str) -> None:
    assert run.returncode != 0, run.stderr
    assert run.installed == [], "dpkg -i ran on a package that did not verify"
    assert run.systemctl == []
    assert "FAILED: refusing to install " + URL in run.stderr, run.stderr
    for text in said:
        assert text in run.stderr, run.stderr
    assert run.leftovers == [], "the script left files behind"


def test_as_cloud_init_runs_it_a_package_signed_by_another_key_is_refused(host, signer) -> None:
    stranger = signer("stranger")
    host.publish(PACKAGE, stranger.sign(PACKAGE))
    run = host.run()
    assert_refused(run, "NO_PUBKEY", DOCUMENTED_FINGERPRINT_HEX)
    assert run.curl == [URL, URL + ".sig"]
    assert run.apt_get == []  # curl and gpg are there: nothing to install first


def test_a_good_signature_by_the_pinned_key_installs_and_starts_the_agent(host, signer) -> None:
    aws = signer("aws")
    host.publish(PACKAGE, aws.sign(PACKAGE))
    run = host.run(aws.armored, aws.fingerprint)
    assert run.returncode == 0, run.stderr
    assert run.curl == [URL, URL + ".sig"]
    # What dpkg installed is the package that was downloaded and verified.
    assert run.installed == [hashlib.sha256(PACKAGE).hexdigest()]
    assert run.systemctl == [
        "enable amazon-ssm-agent",
        "restart amazon-ssm-agent",
        "is-active --quiet amazon-ssm-agent",
    ]
    assert f"signature of {URL} verified (key {aws.fingerprint})" in run.stderr
    assert run.leftovers == []


def test_a_tampered_package_is_refused(host, signer) -> None:
    aws = signer("aws")
    host.publish(PACKAGE + b"tampered", aws.sign(PACKAGE))
    assert_refused(host.run(aws.armored, aws.fingerprint), "BADSIG")


def test_a_good_signature_by_an_unpinned_key_is_refused(host, signer) -> None:
    # The key file holds a key that made a good signature, but not the pinned fingerprint.
    aws, other = signer("aws"), signer("other")
    host.publish(PACKAGE, other.sign(PACKAGE))
    run = host.run(other.armored, aws.fingerprint)
    assert_refused(run, f"instead of exactly the pinned key {aws.fingerprint}")


def test_a_second_key_next_to_the_pinned_one_is_refused(host, signer) -> None:
    aws, other = signer("aws"), signer("other")
    host.publish(PACKAGE, aws.sign(PACKAGE))
    run = host.run(aws.armored + other.armored, aws.fingerprint)
    assert_refused(run, "instead of exactly the pinned key")


def test_an_expired_key_is_refused(host, signer) -> None:
    old = signer("old", expired=True)
    host.publish(PACKAGE, old.sign(PACKAGE))
    assert_refused(host.run(old.armored, old.fingerprint), "EXPKEYSIG")


def test_a_missing_signature_is_refused(host, signer) -> None:
    aws = signer("aws")
    host.publish(PACKAGE, None)
    run = host.run(aws.armored, aws.fingerprint)
    assert run.returncode != 0
    assert run.installed == []
    assert f"FAILED: cannot download {URL}.sig" in run.stderr


def test_control_without_verification_the_harness_sees_the_install(host, signer) -> None:
    # The refusals above are the verification's doing: replaced by `return 0`, the same
    # tampered package reaches dpkg.
    aws = signer("aws")
    host.publish(PACKAGE + b"tampered", aws.sign(PACKAGE))
    run = host.run(aws.armored, aws.fingerprint, prelude="verify_signature() { return 0; }; ")
    assert run.returncode == 0, run.stderr
    assert len(run.installed) == 1
