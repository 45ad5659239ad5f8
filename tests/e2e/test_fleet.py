"""Day 2 on the local default: the fleet changes under steady load and loses no request.

Steady /api/query traffic (tests/e2e/load.py SteadyLoad: paced, bounded, loopback only) runs
through 127.0.0.1:8443, the harness's load balancer standing in for the ALB, while:

1. `site.yml` scales the group 1 → 3 (a change set on InstanceCount);
2. one instance is terminated in the local AWS (through the Auto Scaling group, which drains
   it first, as AWS does) and its replacement configures itself from the launch template's
   user data and serves, with no controller run;
3. `site.yml` scales 3 → 1;
4. `site.yml` changes the instance type: a change set on the launch template, which the
   group rolls out by replacement (new host first, then the old one drains);
5. `site.yml --check --diff` on a pending change prints the change set and changes nothing.

Each step must lose 0 requests. These tests change the shared deployment, so the `fleet`
marker makes them run after every other e2e test (conftest.py), in file order.
The figures (seconds per step, replacement time to serve, requests sent and failed) are
printed and written to .cache/e2e-fleet.json for the issue's note.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from typing import Any

import load
import pytest
from conftest import PUBLIC_URL, REPO_ROOT, STACK_NAME, Deployment, playbook

# After test_self_configuring_host.py (fleet(1)), which needs the first deploy's host.
pytestmark = pytest.mark.fleet(2)

FIGURES = REPO_ROOT / ".cache" / "e2e-fleet.json"
RATE = 4.0  # requests per second: under NGINX's per-client 10 r/s on each host
INSTANCE_TYPE = "t3.large"  # inventories/local
NEW_INSTANCE_TYPE = "t3.xlarge"


def wait_until(what: str, predicate: Callable[[], Any], timeout: float, every: float = 2.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(every)


class Fleet:
    """The stack's group and target group as the local AWS reports them."""

    def __init__(self, aws) -> None:
        self.aws = aws
        outputs = {
            o["OutputKey"]: o["OutputValue"]
            for o in aws("cloudformation").describe_stacks(StackName=STACK_NAME)["Stacks"][0][
                "Outputs"
            ]
        }
        self.group = outputs["AutoScalingGroupName"]
        self.target_group = outputs["TargetGroupArn"]
        self.figures: dict[str, Any] = {}

    def members(self) -> dict[str, str]:
        """instance id -> lifecycle state."""
        group = self.aws("autoscaling").describe_auto_scaling_groups(
            AutoScalingGroupNames=[self.group]
        )["AutoScalingGroups"][0]
        return {i["InstanceId"]: i["LifecycleState"] for i in group["Instances"]}

    def in_service(self) -> set[str]:
        return {i for i, state in self.members().items() if state == "InService"}

    def healthy_targets(self) -> set[str]:
        described = self.aws("elbv2").describe_target_health(TargetGroupArn=self.target_group)
        return {
            d["Target"]["Id"]
            for d in described["TargetHealthDescriptions"]
            if d["TargetHealth"]["State"] == "healthy"
        }

    def instance_types(self, ids: set[str]) -> dict[str, str]:
        reservations = self.aws("ec2").describe_instances(InstanceIds=sorted(ids))["Reservations"]
        return {i["InstanceId"]: i["InstanceType"] for r in reservations for i in r["Instances"]}

    def settled(self, count: int) -> set[str] | None:
        """The serving set once exactly `count` hosts are in service and healthy, and no
        other instance of the group is left (draining or pending)."""
        members = self.members()
        serving = {i for i, state in members.items() if state == "InService"}
        if len(members) == count and len(serving) == count and self.healthy_targets() == serving:
            return serving
        return None

    def stack_status(self) -> str:
        return self.aws("cloudformation").describe_stacks(StackName=STACK_NAME)["Stacks"][0][
            "StackStatus"
        ]

    def record(self, step: str, **figures: Any) -> None:
        self.figures[step] = figures
        print(f"\n{step}: {json.dumps(figures)}")
        FIGURES.parent.mkdir(parents=True, exist_ok=True)
        FIGURES.write_text(json.dumps(self.figures, indent=2) + "\n")


def containers() -> set[str]:
    listed = subprocess.run(
        ["docker", "ps", "--filter", "label=ragstack.instance-id", "--format", "{{.Names}}"],
        capture_output=True,
        text=True,
        check=True,
    )
    return set(listed.stdout.split())


def host_release(instance_id: str) -> str:
    """The release the host's own NGINX serves, asked from inside the instance."""
    probe = (
        "import json, ssl, urllib.request; "
        "c = ssl._create_unverified_context(); "
        "print(json.load(urllib.request.urlopen('https://127.0.0.1/api/health', context=c, "
        "timeout=10)).get('release', ''))"
    )
    done = subprocess.run(
        ["docker", "exec", instance_id, "python3", "-c", probe],
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout.strip()


@pytest.fixture(scope="module")
def fleet(deployment: Deployment, aws) -> Fleet:
    fleet = Fleet(aws)
    wait_until("the deployment to serve from one healthy host", lambda: fleet.settled(1), 300)
    return fleet


def deploy_under_load(fleet: Fleet, step: str, *extra: str, settle: int) -> tuple[dict, float]:
    """Run site.yml under steady load; wait until the fleet has settled at `settle` hosts."""
    started = time.monotonic()
    with load.SteadyLoad(PUBLIC_URL, rate=RATE) as traffic:
        run = playbook("site.yml", "-e", "arch=ec2", *extra, timeout=1500)
        assert run.returncode == 0, run.output[-6000:]
        deployed = time.monotonic() - started
        wait_until(f"{settle} healthy hosts", lambda: fleet.settled(settle), 600)
        # A little traffic after the change too: the new set serves.
        time.sleep(5)
    result = traffic.result()
    fleet.record(
        step,
        playbook_seconds=round(run.seconds, 1),
        settled_seconds=round(time.monotonic() - started, 1),
        deployed_seconds=round(deployed, 1),
        **result,
    )
    return result, run.seconds


def test_the_load_counter_sees_failed_requests() -> None:
    """Positive control: the same counter counts requests that fail (a port nothing serves)."""
    with load.SteadyLoad("https://127.0.0.1:9", rate=10, workers=1, timeout=2) as traffic:
        time.sleep(1.5)
    result = traffic.result()
    assert result["sent"] >= 5
    assert result["failed"] == result["sent"], result
    assert result["ok"] == 0, result


def test_scale_out_1_to_3_loses_no_request(fleet: Fleet) -> None:
    before = fleet.in_service()
    result, _ = deploy_under_load(fleet, "scale 1->3", "-e", "ragstack_instance_count=3", settle=3)
    assert result["failed"] == 0, result
    assert result["ok"] >= 20, result
    serving = fleet.settled(3)
    assert serving
    assert before < serving
    assert containers() >= serving


def test_a_terminated_instance_is_replaced_and_serves_without_the_controller(
    fleet: Fleet, aws
) -> None:
    serving = fleet.settled(3)
    assert serving
    victim = sorted(serving)[0]
    release = host_release(sorted(serving - {victim})[0])
    assert release.startswith("r-"), release
    started = time.monotonic()
    with load.SteadyLoad(PUBLIC_URL, rate=RATE) as traffic:
        aws("autoscaling").terminate_instance_in_auto_scaling_group(
            InstanceId=victim, ShouldDecrementDesiredCapacity=False
        )
        new = wait_until(
            "a replacement instance",
            lambda: set(fleet.members()) - serving,
            120,
        )
        launched = time.monotonic() - started
        settled = wait_until("the replacement to serve", lambda: fleet.settled(3), 900)
        served = time.monotonic() - started
        time.sleep(5)
    result = traffic.result()
    fleet.record(
        "terminate one of 3",
        replacement_launched_seconds=round(launched, 1),
        replacement_serving_seconds=round(served, 1),
        **result,
    )
    assert victim not in settled
    (replacement,) = new
    assert replacement in settled
    # Configured by its own user data, for the env's current release: no playbook ran.
    assert host_release(replacement) == release
    assert victim not in containers()
    assert result["failed"] == 0, result


def test_scale_in_3_to_1_loses_no_request(fleet: Fleet) -> None:
    result, _ = deploy_under_load(fleet, "scale 3->1", "-e", "ragstack_instance_count=1", settle=1)
    assert result["failed"] == 0, result
    assert result["ok"] >= 10, result
    serving = fleet.settled(1)
    assert serving
    # The instances that left took their containers with them.
    wait_until("the drained hosts' containers to go", lambda: containers() == serving, 120)


def test_instance_type_change_rolls_through_a_change_set(fleet: Fleet) -> None:
    before = fleet.settled(1)
    assert before
    assert set(fleet.instance_types(before).values()) == {INSTANCE_TYPE}
    result, _ = deploy_under_load(
        fleet, "instance type change", "-e", f"ragstack_instance_type={NEW_INSTANCE_TYPE}", settle=1
    )
    assert result["failed"] == 0, result
    after = fleet.settled(1)
    assert after
    assert after.isdisjoint(before), "the host was not replaced"
    assert set(fleet.instance_types(after).values()) == {NEW_INSTANCE_TYPE}
    assert fleet.stack_status() == "UPDATE_COMPLETE"


def test_check_diff_shows_a_pending_change_and_changes_nothing(fleet: Fleet, aws) -> None:
    before = fleet.settled(1)
    assert before
    cfn = aws("cloudformation")
    parameters = {
        p["ParameterKey"]: p["ParameterValue"]
        for p in cfn.describe_stacks(StackName=STACK_NAME)["Stacks"][0]["Parameters"]
    }
    with load.SteadyLoad(PUBLIC_URL, rate=RATE) as traffic:
        check = playbook(
            "site.yml",
            "-e",
            "arch=ec2",
            "-e",
            f"ragstack_instance_type={INSTANCE_TYPE}",
            "--check",
            "--diff",
        )
    result = traffic.result()
    fleet.record("check --diff", playbook_seconds=round(check.seconds, 1), **result)
    assert check.returncode == 0, check.output[-6000:]
    text = " ".join(check.output.split())
    # The change set's resource changes, as CloudFormation would apply them.
    assert "Modify AWS::EC2::LaunchTemplate LaunchTemplate" in text, check.output[-6000:]
    # ... and nothing happened: same parameters, same host, no change set left behind.
    after = {
        p["ParameterKey"]: p["ParameterValue"]
        for p in cfn.describe_stacks(StackName=STACK_NAME)["Stacks"][0]["Parameters"]
    }
    assert after == parameters
    assert after["InstanceType"] == NEW_INSTANCE_TYPE
    assert fleet.settled(1) == before
    pending = cfn.list_change_sets(StackName=STACK_NAME)["Summaries"]
    assert [c for c in pending if c.get("ExecutionStatus") == "AVAILABLE"] == []
    assert result["failed"] == 0, result
