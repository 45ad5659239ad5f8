"""Pull mode on the local default: a host the Auto Scaling group adds configures itself.

After the shared first deploy (push), the group's desired capacity goes up by one, as a
scale-out or a replacement does, and nothing else runs on the controller: no playbook, no
SSH. The new instance's container boots, cloud-init runs the launch template's user data
from its NoCloud seed (the same script EC2 runs), which installs ansible from the Debian
archive, reads the env's release pointer and host config from the local AWS, checks the
release's collection against the manifest, runs the host play on itself, and only once it
serves tells its lifecycle hook CONTINUE. The test then checks it serves https on its own
443 the release the first host runs (same release id, same image ids), that it was held out
of the target group until then, and that the host config carries no secret. The added
instance is taken out again at the end (the shared deployment keeps its hosts).

The boot -> /ready time is printed and written to .cache/e2e-self-configuring-host.json.
"""

from __future__ import annotations

import json
import subprocess
import time

import pytest
from conftest import CANARY, REPO_ROOT, STACK_NAME, Deployment

pytestmark = pytest.mark.fleet(1)

FIGURES = REPO_ROOT / ".cache" / "e2e-self-configuring-host.json"
# apt (ansible, boto3), the host play (docker, nginx, the images, the app) and /ready.
SERVE_TIMEOUT = 900


def _exec(instance_id: str, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["docker", "exec", instance_id, *argv], capture_output=True, text=True, check=False
    )


def _ready(instance_id: str) -> bool:
    """/api/ready through the host's own nginx on its 443 (what the target group checks)."""
    done = _exec(
        instance_id, "curl", "-sk", "-o", "/dev/null", "-w", "%{http_code}",
        "https://127.0.0.1/api/ready",
    )  # fmt: skip
    return done.stdout.strip() == "200"


def _lifecycle(aws, group: str) -> dict[str, str]:
    found = aws("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=[group])
    return {
        i["InstanceId"]: i["LifecycleState"] for i in found["AutoScalingGroups"][0]["Instances"]
    }


def _registered(aws, target_group: str) -> set[str]:
    health = aws("elbv2").describe_target_health(TargetGroupArn=target_group)
    return {t["Target"]["Id"] for t in health["TargetHealthDescriptions"]}


def test_an_added_host_configures_itself_and_serves_without_the_controller(
    deployment: Deployment, aws
) -> None:
    outputs = {
        o["OutputKey"]: o["OutputValue"]
        for o in aws("cloudformation").describe_stacks(StackName=STACK_NAME)["Stacks"][0]["Outputs"]
    }
    group, target_group = outputs["AutoScalingGroupName"], outputs["TargetGroupArn"]

    # The host config the push path wrote: the host roles' settings, secret names only.
    config_text = aws("ssm").get_parameter(Name="/ragstack/dev/hosts/config")["Parameter"]["Value"]
    config = json.loads(config_text)
    assert config["nginx_tls_mode"] == "self_signed"
    assert config["ragstack_region"] == "us-east-1"
    assert "app_release" not in config
    assert "app_orchestrator_image" not in config
    assert CANARY not in config_text
    assert set(config["secrets_parameters"].values()) <= {
        p["Name"] for p in aws("ssm").describe_parameters()["Parameters"]
    }
    release = aws("ssm").get_parameter(Name="/ragstack/dev/release/current")["Parameter"]["Value"]

    before = set(_lifecycle(aws, group))
    capacity = aws("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=[group])[
        "AutoScalingGroups"
    ][0]["DesiredCapacity"]
    aws("autoscaling").set_desired_capacity(
        AutoScalingGroupName=group, DesiredCapacity=capacity + 1
    )
    started = time.monotonic()
    new = ""
    try:
        while not new and time.monotonic() - started < 120:
            new = next(iter(set(_lifecycle(aws, group)) - before), "")
            time.sleep(1)
        assert new, "the group launched no instance"
        # Its container exists once the instance agent has seen it running.
        while _exec(new, "true").returncode and time.monotonic() - started < 120:
            time.sleep(1)
        booted = time.monotonic()

        # Held out of the target group while it configures itself (positive control of
        # the registration check below: the same call lists it once it is InService).
        held = []
        while not _ready(new):
            assert time.monotonic() - booted < SERVE_TIMEOUT, (
                f"{new} does not serve after {SERVE_TIMEOUT}s:\n"
                + _exec(new, "tail", "-n", "60", "/var/log/cloud-init-output.log").stdout
            )
            held.append((_lifecycle(aws, group).get(new), new in _registered(aws, target_group)))
            time.sleep(5)
        serving = time.monotonic() - booted
        assert held, "the host served before it was ever observed configuring"
        waiting = held[:-1]  # the last look may already see it joined
        assert all(state == "Pending:Wait" for state, _ in waiting), held
        assert not any(registered for _, registered in waiting), held

        # The boot finished (cloud-init done), reported CONTINUE, and the group put it in service.
        status = _exec(new, "cloud-init", "status", "--wait")
        assert status.returncode == 0, status.stdout + status.stderr
        journal = _exec(new, "journalctl", "-t", "ragstack-boot", "--no-pager", "-o", "cat").stdout
        assert "reported CONTINUE / SUCCESS" in journal, journal
        deadline = time.monotonic() + 60
        while _lifecycle(aws, group).get(new) != "InService" and time.monotonic() < deadline:
            time.sleep(1)
        assert _lifecycle(aws, group)[new] == "InService"
        assert new in _registered(aws, target_group)

        # The same release as the pushed host, down to the image ids.
        records = {
            host: json.loads(_exec(host, "cat", "/opt/ragstack/releases/current.json").stdout)
            for host in (new, deployment.instance_ids[0])
        }
        assert records[new]["release"] == release == records[deployment.instance_ids[0]]["release"]
        assert records[new]["images"] == records[deployment.instance_ids[0]]["images"]

        print(f"\nself-configuring host {new}: serves /api/ready {serving:.0f}s after boot")
        FIGURES.parent.mkdir(parents=True, exist_ok=True)
        FIGURES.write_text(
            json.dumps({"instance": new, "boot_to_ready_seconds": round(serving)}) + "\n"
        )
    finally:
        if new:
            aws("autoscaling").terminate_instance_in_auto_scaling_group(
                InstanceId=new, ShouldDecrementDesiredCapacity=True
            )
        else:
            aws("autoscaling").set_desired_capacity(
                AutoScalingGroupName=group, DesiredCapacity=capacity
            )
