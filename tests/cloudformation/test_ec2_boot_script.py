"""The launch template's first-boot script, run for real against the local AWS.

The script is rendered from cloudformation/ec2.yaml as CloudFormation renders it
(ssm_user_data.py), sourced and its main run as cloud-init runs it, with its AWS calls
going through python3-boto3's default chain (here the session's moto with the launcher's
fixes, which plays lifecycle hooks: a new instance is Pending:Wait until
CompleteLifecycleAction). Only the host-side tools are stand-ins that record what they are
asked: `cloud-init query` (the instance id), `ansible-playbook`, `curl` (the local /ready),
`apt-get`. Each case gets its own Auto Scaling group with the template's launch hook, its
own release bucket, pointer and host config.

- no release pointer (the env's first deploy): the hook gets CONTINUE at once, no play runs;
- a release: the manifest is checked against its id (computed here by Ansible's own
  to_json(sort_keys=true) | hash('sha256'), as roles/release names a release), the
  collection against the manifest's sha256, installed as ansible_collections/ragstack/aws,
  and ragstack.aws.hosts runs in pull mode with that release and the host config from SSM;
  /ready is checked, then CONTINUE (InService);
- a tampered collection, a manifest that does not match its id, or a failing play: no
  CONTINUE, ABANDON (the group takes the instance out), exit status non-zero.
The successful case is the positive control of the refusals (the same recorders see a play).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import subprocess
import sys
import tarfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from ssm_user_data import rendered_script

REPO_ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
REGION = "us-east-1"
ENV = "staging"
FAKES = {
    "cloud-init": '#!/bin/sh\n[ "$1 $2" = "query instance_id" ] && echo "$FAKE_INSTANCE_ID"\n',
    "ansible-playbook": (
        "#!/bin/sh\n"
        'printf "%s\\n" "$*" >>"$FAKE_LOG/ansible-playbook"\n'
        'printf "%s\\n" "$ANSIBLE_COLLECTIONS_PATH" >>"$FAKE_LOG/collections-path"\n'
        'exit "${FAKE_ANSIBLE_RC:-0}"\n'
    ),
    "curl": '#!/bin/sh\nprintf "%s\\n" "$*" >>"$FAKE_LOG/curl"\n',
    "apt-get": '#!/bin/sh\nprintf "%s\\n" "$*" >>"$FAKE_LOG/apt-get"\n',
    "logger": "#!/bin/sh\n",
}
HOST_CONFIG = {"nginx_tls_mode": "self_signed", "ragstack_region": REGION, "secrets_parameters": {}}


def release_id(images: dict[str, str], artifacts: dict[str, str]) -> str:
    """The id roles/release gives this content, computed by Ansible itself."""
    content = {"images": images, "artifacts": artifacts}
    done = subprocess.run(
        [
            str(VENV_BIN / "ansible"), "localhost", "-c", "local", "-i", "localhost,",
            "-m", "ansible.builtin.debug",
            "-a", "msg={{ content | to_json(sort_keys=true) | hash('sha256') }}",
            "-e", json.dumps({"content": content}),
        ],
        capture_output=True, text=True, check=True, env={**os.environ, "ANSIBLE_NOCOLOR": "1"},
    )  # fmt: skip
    (digest,) = re.findall(r"\bmsg: ([0-9a-f]{64})\b", done.stdout)
    return "r-" + digest[:12]


def collection_tarball() -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for name, text in (("galaxy.yml", "namespace: ragstack\nname: aws\n"),
                           ("playbooks/hosts.yml", "[]\n")):  # fmt: skip
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


@dataclass
class Boot:
    returncode: int
    stderr: str
    plays: list[str]
    curl: list[str]
    collections_path: list[str]
    boot_dir: Path


class World:
    """One instance Pending:Wait in a group with the template's hook, a release bucket,
    and the env's parameters."""

    def __init__(self, aws: Any, endpoint: str, root: Path, subnet: str, image: str) -> None:
        self.aws, self.endpoint, self.root = aws, endpoint, root
        suffix = uuid.uuid4().hex[:8]
        self.env = f"{ENV}{suffix}"
        self.bucket = f"releases-{suffix}"
        self.group = f"boot-{suffix}"
        aws("s3").create_bucket(Bucket=self.bucket)
        template = aws("ec2").create_launch_template(
            LaunchTemplateName=f"{self.group}-lt",
            LaunchTemplateData={"ImageId": image, "InstanceType": "t3.micro"},
        )["LaunchTemplate"]["LaunchTemplateId"]
        vpc = aws("ec2").describe_subnets(SubnetIds=[subnet])["Subnets"][0]["VpcId"]
        self.target_group = aws("elbv2").create_target_group(
            Name=self.group, Protocol="HTTPS", Port=443, VpcId=vpc, TargetType="instance"
        )["TargetGroups"][0]["TargetGroupArn"]
        autoscaling = aws("autoscaling")
        autoscaling.create_auto_scaling_group(
            AutoScalingGroupName=self.group,
            LaunchTemplate={"LaunchTemplateId": template, "Version": "1"},
            MinSize=0, MaxSize=2, DesiredCapacity=0, VPCZoneIdentifier=subnet,
            TargetGroupARNs=[self.target_group],
        )  # fmt: skip
        # The template's hook (test_ec2_self_configuring.py), then one instance launches.
        autoscaling.put_lifecycle_hook(
            AutoScalingGroupName=self.group, LifecycleHookName="ragstack-configure",
            LifecycleTransition="autoscaling:EC2_INSTANCE_LAUNCHING",
            HeartbeatTimeout=900, DefaultResult="ABANDON",
        )  # fmt: skip
        autoscaling.set_desired_capacity(AutoScalingGroupName=self.group, DesiredCapacity=1)
        (self.instance,) = self.states()
        assert self.states() == {self.instance: "Pending:Wait"}
        self.put_param(f"/ragstack/{self.env}/hosts/config", json.dumps(HOST_CONFIG))

    def states(self) -> dict[str, str]:
        (group,) = self.aws("autoscaling").describe_auto_scaling_groups(
            AutoScalingGroupNames=[self.group]
        )["AutoScalingGroups"]
        return {i["InstanceId"]: i["LifecycleState"] for i in group["Instances"]}

    def put_param(self, name: str, value: str) -> None:
        self.aws("ssm").put_parameter(Name=name, Value=value, Type="String", Overwrite=True)

    def publish(
        self, collection: bytes, served: bytes | None = None, tamper_id: bool = False
    ) -> str:
        """A release with this collection (the bucket may serve other bytes); its id."""
        sha = hashlib.sha256(collection).hexdigest()
        key = f"artifacts/collection/{sha}.tar.gz"
        images = {"ragstack/orchestrator": "sha256:" + "1" * 64}
        ident = release_id(images, {"collection": sha})
        manifest = {
            "id": ident,
            "images": {**images, "ragstack/embedding-service": "sha256:" + "2" * 64}
            if tamper_id
            else images,
            "artifacts": {"collection": {"bucket": self.bucket, "key": key, "sha256": sha}},
        }
        s3 = self.aws("s3")
        s3.put_object(
            Bucket=self.bucket, Key=key, Body=served if served is not None else collection
        )
        s3.put_object(Bucket=self.bucket, Key=f"releases/{ident}.json", Body=json.dumps(manifest))
        self.put_param(f"/ragstack/{self.env}/release/current", ident)
        return ident

    def other_group(self) -> str:
        """A target group this instance is not in: it never turns healthy there."""
        (tg,) = self.aws("elbv2").describe_target_groups(TargetGroupArns=[self.target_group])[
            "TargetGroups"
        ]
        return self.aws("elbv2").create_target_group(
            Name=f"{self.group}-other", Protocol="HTTPS", Port=443, VpcId=tg["VpcId"]
        )["TargetGroups"][0]["TargetGroupArn"]

    def boot(self, ansible_rc: int = 0, healthy_in: bool = True) -> Boot:
        bin_dir, log, boot_dir = self.root / "bin", self.root / "log", self.root / "boot"
        for directory in (bin_dir, log):
            directory.mkdir(exist_ok=True)
        for name, text in FAKES.items():
            (bin_dir / name).write_text(text)
            (bin_dir / name).chmod(0o755)
        script = self.root / "user-data.sh"
        script.write_text(
            rendered_script(
                REGION, "amazonaws.com", "no",
                **{
                    "EnvironmentName": self.env, "ReleaseBucket": self.bucket,
                    "TargetGroup": self.target_group if healthy_in else self.other_group(),
                },
            )
        )  # fmt: skip
        env = {
            "PATH": f"{bin_dir}:{VENV_BIN}:/usr/bin:/bin",
            "HOME": str(self.root),
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "FAKE_INSTANCE_ID": self.instance,
            "FAKE_LOG": str(log),
            "FAKE_ANSIBLE_RC": str(ansible_rc),
        }
        done = subprocess.run(
            # HEALTHY_SECONDS: a short wait for the target group's verdict.
            ["bash", "-c", 'source "$1"; BOOT_DIR=$2; HEALTHY_SECONDS=4; main', "user-data", script,
             boot_dir],
            capture_output=True, text=True, env=env, timeout=120, check=False,
        )  # fmt: skip

        def lines(name: str) -> list[str]:
            path = log / name
            return path.read_text().splitlines() if path.exists() else []

        return Boot(done.returncode, done.stderr, lines("ansible-playbook"), lines("curl"),
                    lines("collections-path"), boot_dir)  # fmt: skip

    def wait_state(self, wanted: set[str | None]) -> str | None:
        deadline = time.monotonic() + 15
        while (state := self.states().get(self.instance)) not in wanted:
            assert time.monotonic() < deadline, f"{self.instance}: {state}, wanted {wanted}"
            time.sleep(0.2)
        return state


@pytest.fixture(scope="module")
def network(aws) -> tuple[str, str]:
    ec2 = aws("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.77.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.77.1.0/24", AvailabilityZone="us-east-1a")
    image = sorted(i["ImageId"] for i in ec2.describe_images(Owners=["amazon"])["Images"])[0]
    return subnet["Subnet"]["SubnetId"], image


@pytest.fixture
def world(aws, moto_endpoint, network, tmp_path) -> World:
    subnet, image = network
    return World(aws, moto_endpoint, tmp_path, subnet, image)


# The group takes an abandoned instance out (terminating, then gone from the group).
GONE = {None, "Terminating", "Terminating:Wait", "Terminating:Proceed", "Terminated"}


def test_before_the_first_release_the_host_joins_at_once(world: World) -> None:
    boot = world.boot()
    assert boot.returncode == 0, boot.stderr
    assert "no release deployed to" in boot.stderr
    assert boot.plays == []
    assert world.wait_state({"InService"}) == "InService"


def test_a_release_is_checked_installed_and_run_in_pull_mode(world: World) -> None:
    collection = collection_tarball()
    ident = world.publish(collection)
    boot = world.boot()
    assert boot.returncode == 0, boot.stderr
    (play,) = boot.plays
    assert play.startswith("ragstack.aws.hosts -i ")
    assert "-e hosts_pull=true" in play
    assert f"-e hosts_release_id={ident}" in play
    assert f"-e release_bucket={world.bucket}" in play
    # The collection the manifest names, installed where ansible looks first.
    (path,) = boot.collections_path
    installed = Path(path.split(":")[0]) / "ansible_collections" / "ragstack" / "aws"
    assert (installed / "galaxy.yml").read_text() == "namespace: ragstack\nname: aws\n"
    assert (installed / "playbooks" / "hosts.yml").exists()
    # The host config from SSM, as given to the play.
    assert json.loads((boot.boot_dir / "host-config.json").read_text()) == HOST_CONFIG
    inventory = (boot.boot_dir / "inventory").read_text()
    assert inventory.startswith("[ragstack_app]\nlocalhost ansible_connection=local")
    # Served locally before joining.
    assert any("https://127.0.0.1/api/ready" in call for call in boot.curl)
    assert "reported CONTINUE / SUCCESS" in boot.stderr
    assert world.wait_state({"InService"}) == "InService"
    # It signalled only once its target group listed it healthy.
    health = world.aws("elbv2").describe_target_health(TargetGroupArn=world.target_group)
    assert [
        (d["Target"]["Id"], d["TargetHealth"]["State"]) for d in health["TargetHealthDescriptions"]
    ] == [(world.instance, "healthy")]


def test_a_host_its_target_group_never_finds_healthy_signals_failure(world: World) -> None:
    """The same boot, but the target group it asks about never lists it: it joins (CONTINUE),
    and a rolling update would get FAILURE, not an old host taken out. The case above is
    the control: the same wait sees `healthy` and signals SUCCESS."""
    world.publish(collection_tarball())
    started = time.monotonic()
    boot = world.boot(healthy_in=False)
    assert boot.returncode == 0, boot.stderr
    assert time.monotonic() - started >= 4
    assert "is not healthy in its target group after 4s" in boot.stderr
    assert "reported CONTINUE / FAILURE" in boot.stderr
    assert "reported CONTINUE / SUCCESS" not in boot.stderr


def test_a_tampered_collection_is_refused_and_the_host_abandoned(world: World) -> None:
    collection = collection_tarball()
    world.publish(collection, served=collection + b"tampered")
    boot = world.boot()
    assert boot.returncode != 0
    assert "has sha256" in boot.stderr
    assert boot.plays == []
    assert "reported ABANDON / FAILURE" in boot.stderr
    assert world.wait_state(GONE) in GONE


def test_a_manifest_that_is_not_its_release_is_refused(world: World) -> None:
    world.publish(collection_tarball(), tamper_id=True)
    boot = world.boot()
    assert boot.returncode != 0
    assert "does not match its release id" in boot.stderr
    assert boot.plays == []
    assert world.wait_state(GONE) in GONE


def test_a_failing_play_abandons_the_host(world: World) -> None:
    world.publish(collection_tarball())
    boot = world.boot(ansible_rc=2)
    assert boot.returncode != 0
    assert len(boot.plays) == 1
    assert boot.curl == []  # never checked /ready, never joined
    assert "reported ABANDON / FAILURE" in boot.stderr
    assert world.wait_state(GONE) in GONE
