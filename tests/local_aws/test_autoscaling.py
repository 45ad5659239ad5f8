"""The local AWS plays the Auto Scaling group (tests/harness/autoscaling.py): lifecycle hooks,
drain before terminate, replacement, rolling updates with SignalResource.

Each behaviour is asserted through the launcher, and its gap through plain moto_server (the
failure message names the patch that can go once moto plays it). The launcher runs on a moto
of this module, with one test-only addition: a target's health can be set from a file, as
the local load balancer sets the health it measures (DescribeTargetHealth reads it).
Deregistration delays, heartbeat timeouts and pause times are seconds here, from the group's
own target group and template, so the module runs in well under a minute.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import moto_kit
import pytest
from botocore.exceptions import ClientError

Aws = Callable[..., Any]
HARNESS = moto_kit.REPO_ROOT / "tests" / "harness"
# The launcher's own main, after one addition: DescribeTargetHealth reports the states
# written to a JSON file ({instance id: state}) for targets moto would call healthy.
LAUNCHER_WITH_HEALTH = """
import json, sys
sys.path.insert(0, {harness!r})
import moto_server
moto_server.apply_fixes()
from moto.elbv2.models import ELBv2Backend
describe = ELBv2Backend.describe_target_health
def describe_with_written_health(self, target_group_arn, targets):
    statuses = describe(self, target_group_arn, targets)
    try:
        with open({path!r}) as written:
            wanted = json.load(written)
    except (OSError, ValueError):
        wanted = {{}}
    for status in statuses:
        if status.status == "healthy" and status.instance_id in wanted:
            status.status = wanted[status.instance_id]
    return statuses
ELBv2Backend.describe_target_health = describe_with_written_health
moto_server.main(sys.argv[1:])
"""
SUBNET_CIDR = "10.1.0.0/24"


@pytest.fixture(scope="module")
def health_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("health") / "health.json"


@pytest.fixture(scope="module")
def aws(tmp_path_factory: pytest.TempPathFactory, health_file: Path) -> Iterator[Aws]:
    log_path = tmp_path_factory.mktemp("autoscaling") / "moto_server.log"
    code = LAUNCHER_WITH_HEALTH.format(harness=str(HARNESS), path=str(health_file))
    with moto_kit.moto_server(log_path, launcher=[sys.executable, "-c", code]) as endpoint:
        yield moto_kit.client_factory(endpoint)


def _wait(what: str, check: Callable[[], Any], timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.2)


def _image_id(aws: Aws) -> str:
    return sorted(i["ImageId"] for i in aws("ec2").describe_images(Owners=["amazon"])["Images"])[0]


def _network(aws: Aws) -> tuple[str, str]:
    ec2 = aws("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock=SUBNET_CIDR, AvailabilityZone="us-east-1a")
    return vpc, subnet["Subnet"]["SubnetId"]


def _target_group(aws: Aws, vpc: str, name: str, delay: int) -> str:
    elbv2 = aws("elbv2")
    arn = elbv2.create_target_group(Name=name, Protocol="HTTPS", Port=443, VpcId=vpc)[
        "TargetGroups"
    ][0]["TargetGroupArn"]
    elbv2.modify_target_group_attributes(
        TargetGroupArn=arn,
        Attributes=[{"Key": "deregistration_delay.timeout_seconds", "Value": str(delay)}],
    )
    return arn


def _group_api(
    aws: Aws,
    name: str,
    target_group: str | None = None,
    desired: int = 0,
    **extra: Any,
) -> tuple[str, str]:
    """A group made through the API; (group name, launch template id)."""
    vpc_subnet = extra.pop("subnet")
    template = aws("ec2").create_launch_template(
        LaunchTemplateName=f"{name}-lt",
        LaunchTemplateData={"ImageId": _image_id(aws), "InstanceType": "t3.micro"},
    )["LaunchTemplate"]["LaunchTemplateId"]
    aws("autoscaling").create_auto_scaling_group(
        AutoScalingGroupName=name,
        LaunchTemplate={"LaunchTemplateId": template, "Version": "1"},
        MinSize=0,
        MaxSize=5,
        DesiredCapacity=desired,
        VPCZoneIdentifier=vpc_subnet,
        TargetGroupARNs=[target_group] if target_group else [],
        **extra,
    )
    return name, template


def _instances(aws: Aws, group: str) -> dict[str, dict[str, Any]]:
    (found,) = aws("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=[group])[
        "AutoScalingGroups"
    ]
    return {i["InstanceId"]: i for i in found["Instances"]}


def _states(aws: Aws, group: str) -> dict[str, str]:
    return {i: s["LifecycleState"] for i, s in _instances(aws, group).items()}


def _registered(aws: Aws, target_group: str) -> set[str]:
    described = aws("elbv2").describe_target_health(TargetGroupArn=target_group)
    return {
        d["Target"]["Id"]
        for d in described["TargetHealthDescriptions"]
        if d["TargetHealth"]["State"] not in ("unused", "draining")
    }


def _ec2_state(aws: Aws, instance_id: str) -> str:
    (reservation,) = aws("ec2").describe_instances(InstanceIds=[instance_id])["Reservations"]
    return reservation["Instances"][0]["State"]["Name"]


def _in_service(aws: Aws, group: str) -> set[str]:
    return {i for i, s in _states(aws, group).items() if s == "InService"}


def _complete(aws: Aws, group: str, instance_id: str, result: str = "CONTINUE") -> None:
    aws("autoscaling").complete_lifecycle_action(
        LifecycleHookName="ragstack-configure",
        AutoScalingGroupName=group,
        InstanceId=instance_id,
        LifecycleActionResult=result,
    )


# --- 1. lifecycle hooks -------------------------------------------------------------------


def test_launching_instance_waits_for_its_lifecycle_action(aws: Aws) -> None:
    vpc, subnet = _network(aws)
    target_group = _target_group(aws, vpc, "hooked", delay=0)
    group, _ = _group_api(aws, "hooked", target_group, subnet=subnet)
    aws("autoscaling").put_lifecycle_hook(
        LifecycleHookName="ragstack-configure",
        AutoScalingGroupName=group,
        LifecycleTransition="autoscaling:EC2_INSTANCE_LAUNCHING",
        HeartbeatTimeout=600,
        DefaultResult="ABANDON",
    )
    aws("autoscaling").set_desired_capacity(AutoScalingGroupName=group, DesiredCapacity=1)
    ((instance, state),) = _states(aws, group).items()
    assert state == "Pending:Wait"
    assert _ec2_state(aws, instance) == "running", "the host boots while it waits"
    assert _registered(aws, target_group) == set(), "no traffic before the action completes"
    (described,) = aws("autoscaling").describe_auto_scaling_instances(InstanceIds=[instance])[
        "AutoScalingInstances"
    ]
    assert described["LifecycleState"] == "Pending:Wait"
    assert described["LaunchTemplate"]["Version"] == "1"

    _complete(aws, group, instance)
    assert _states(aws, group) == {instance: "InService"}
    assert _registered(aws, target_group) == {instance}
    with pytest.raises(ClientError, match="No active Lifecycle Action"):
        _complete(aws, group, instance)

    # Positive control: the same check sees a registration where no hook holds it back.
    free, _ = _group_api(aws, "unhooked", target_group, desired=1, subnet=subnet)
    ((other, other_state),) = _states(aws, free).items()
    assert other_state == "InService"
    assert _registered(aws, target_group) == {instance, other}


def test_abandon_and_heartbeat_timeout_replace_the_instance(aws: Aws) -> None:
    _, subnet = _network(aws)
    group, _ = _group_api(aws, "abandoned", subnet=subnet)
    aws("autoscaling").put_lifecycle_hook(
        LifecycleHookName="ragstack-configure",
        AutoScalingGroupName=group,
        LifecycleTransition="autoscaling:EC2_INSTANCE_LAUNCHING",
        HeartbeatTimeout=2,
        DefaultResult="ABANDON",
    )
    aws("autoscaling").set_desired_capacity(AutoScalingGroupName=group, DesiredCapacity=1)
    (first,) = _states(aws, group)
    _complete(aws, group, first, "ABANDON")
    assert _ec2_state(aws, first) == "terminated"
    ((second, state),) = _states(aws, group).items()
    assert second != first, "ABANDON: replaced at once"
    assert state == "Pending:Wait"

    # No action within HeartbeatTimeout: DefaultResult (ABANDON) terminates and replaces it.
    time.sleep(1.0)
    assert second in _states(aws, group), "not before the heartbeat timeout"
    _wait("the heartbeat timeout", lambda: second not in _states(aws, group), timeout=6)
    assert _ec2_state(aws, second) == "terminated"
    assert len(_states(aws, group)) == 1

    # DefaultResult CONTINUE puts it in service.
    aws("autoscaling").put_lifecycle_hook(
        LifecycleHookName="ragstack-configure",
        AutoScalingGroupName=group,
        LifecycleTransition="autoscaling:EC2_INSTANCE_LAUNCHING",
        HeartbeatTimeout=1,
        DefaultResult="CONTINUE",
    )
    aws("autoscaling").set_desired_capacity(AutoScalingGroupName=group, DesiredCapacity=2)
    _wait("CONTINUE by default", lambda: len(_in_service(aws, group)) == 2, timeout=6)


def test_plain_moto_has_no_lifecycle_actions(plain_moto: Aws) -> None:
    _, subnet = _network(plain_moto)
    group, _ = _group_api(plain_moto, "plain-hooked", subnet=subnet)
    plain_moto("autoscaling").put_lifecycle_hook(
        LifecycleHookName="ragstack-configure",
        AutoScalingGroupName=group,
        LifecycleTransition="autoscaling:EC2_INSTANCE_LAUNCHING",
        HeartbeatTimeout=600,
    )
    plain_moto("autoscaling").set_desired_capacity(AutoScalingGroupName=group, DesiredCapacity=1)
    assert set(_states(plain_moto, group).values()) == {"InService"}, (
        "moto now holds a launching instance in Pending:Wait: the lifecycle hook patch in "
        "tests/harness/autoscaling.py may go"
    )


# --- 2. drain before terminate ------------------------------------------------------------


def test_scale_in_drains_the_oldest_launch_template_version_first(aws: Aws) -> None:
    vpc, subnet = _network(aws)
    target_group = _target_group(aws, vpc, "draining", delay=3)
    group, template = _group_api(aws, "draining", target_group, subnet=subnet)
    autoscaling = aws("autoscaling")
    aws("ec2").create_launch_template_version(
        LaunchTemplateId=template,
        SourceVersion="1",
        LaunchTemplateData={"InstanceType": "t3.small"},
    )
    # Version 2 first, then a newer instance from the older version 1.
    autoscaling.update_auto_scaling_group(
        AutoScalingGroupName=group,
        LaunchTemplate={"LaunchTemplateId": template, "Version": "2"},
        DesiredCapacity=1,
    )
    (on_v2,) = _states(aws, group)
    autoscaling.update_auto_scaling_group(
        AutoScalingGroupName=group,
        LaunchTemplate={"LaunchTemplateId": template, "Version": "1"},
        DesiredCapacity=2,
    )
    (on_v1,) = set(_states(aws, group)) - {on_v2}
    assert _instances(aws, group)[on_v1]["LaunchTemplate"]["Version"] == "1"
    assert _instances(aws, group)[on_v2]["LaunchTemplate"]["Version"] == "2"
    assert _registered(aws, target_group) == {on_v1, on_v2}

    started = time.monotonic()
    autoscaling.set_desired_capacity(AutoScalingGroupName=group, DesiredCapacity=1)
    assert _states(aws, group) == {on_v1: "Terminating", on_v2: "InService"}, (
        "the older launch template version goes first, though its instance is the newer"
    )
    assert _registered(aws, target_group) == {on_v2}, "deregistered at once"
    assert _ec2_state(aws, on_v1) == "running", "still serving its in-flight requests"
    _wait("the drained instance to go", lambda: on_v1 not in _states(aws, group), timeout=8)
    elapsed = time.monotonic() - started
    assert elapsed >= 2.5, f"terminated after {elapsed:.1f}s, before the 3s deregistration delay"
    assert _ec2_state(aws, on_v1) == "terminated"

    # TerminateInstanceInAutoScalingGroup: drained too; the replacement launches at once.
    activity = autoscaling.terminate_instance_in_auto_scaling_group(
        InstanceId=on_v2, ShouldDecrementDesiredCapacity=False
    )
    assert activity["Activity"]["AutoScalingGroupName"] == group
    states = _states(aws, group)
    assert states.pop(on_v2) == "Terminating"
    assert list(states.values()) == ["InService"], "replaced at once"
    assert _ec2_state(aws, on_v2) == "running"
    assert on_v2 not in _registered(aws, target_group)
    _wait("the drained instance to go", lambda: on_v2 not in _states(aws, group), timeout=8)

    # With the decrement, nothing replaces it.
    (last,) = _states(aws, group)
    autoscaling.terminate_instance_in_auto_scaling_group(
        InstanceId=last, ShouldDecrementDesiredCapacity=True
    )
    assert _states(aws, group) == {last: "Terminating"}
    _wait("the group to be empty", lambda: not _states(aws, group), timeout=8)


def test_plain_moto_terminates_without_draining(plain_moto: Aws) -> None:
    vpc, subnet = _network(plain_moto)
    target_group = _target_group(plain_moto, vpc, "plain-draining", delay=300)
    group, _ = _group_api(plain_moto, "plain-draining", target_group, desired=2, subnet=subnet)
    before = set(_states(plain_moto, group))
    plain_moto("autoscaling").set_desired_capacity(AutoScalingGroupName=group, DesiredCapacity=1)
    (gone,) = before - set(_states(plain_moto, group))
    assert _ec2_state(plain_moto, gone) == "terminated", (
        "moto now keeps a scaled-in instance for the deregistration delay: the drain patch "
        "in tests/harness/autoscaling.py may go"
    )
    assert "Terminating" not in _states(plain_moto, group).values()


# --- 3. replacement -----------------------------------------------------------------------


def test_an_instance_terminated_in_ec2_is_replaced_unless_suspended(aws: Aws) -> None:
    _, subnet = _network(aws)
    group, _ = _group_api(aws, "healing", desired=1, subnet=subnet)
    autoscaling = aws("autoscaling")
    (first,) = _states(aws, group)
    aws("ec2").terminate_instances(InstanceIds=[first])
    (second,) = _wait(
        "a replacement", lambda: [i for i in _in_service(aws, group) if i != first], timeout=5
    )
    assert first not in _states(aws, group)

    autoscaling.suspend_processes(AutoScalingGroupName=group, ScalingProcesses=["ReplaceUnhealthy"])
    aws("ec2").terminate_instances(InstanceIds=[second])
    time.sleep(3)
    assert set(_states(aws, group)) == {second}, "not replaced while ReplaceUnhealthy is suspended"
    assert _instances(aws, group)[second]["HealthStatus"] == "Unhealthy"
    autoscaling.resume_processes(AutoScalingGroupName=group, ScalingProcesses=["ReplaceUnhealthy"])
    _wait(
        "a replacement once resumed",
        lambda: (states := _states(aws, group)) and second not in states and len(states) == 1,
        timeout=5,
    )


def test_an_instance_unhealthy_in_its_target_group_is_replaced(aws: Aws, health_file: Path) -> None:
    vpc, subnet = _network(aws)
    target_group = _target_group(aws, vpc, "elb-health", delay=1)
    group, _ = _group_api(
        aws,
        "elb-health",
        target_group,
        desired=2,
        subnet=subnet,
        HealthCheckType="ELB",
        HealthCheckGracePeriod=1,
    )
    autoscaling = aws("autoscaling")
    sick, kept = sorted(_states(aws, group))
    autoscaling.suspend_processes(AutoScalingGroupName=group, ScalingProcesses=["ReplaceUnhealthy"])
    health_file.write_text(json.dumps({sick: "unhealthy"}))
    try:
        _wait(
            "the health check to see it",
            lambda: _instances(aws, group)[sick]["HealthStatus"] == "Unhealthy",
            timeout=5,
        )
        assert _states(aws, group) == {sick: "InService", kept: "InService"}, "suspended"
        autoscaling.resume_processes(AutoScalingGroupName=group)
        _wait("the unhealthy one to go", lambda: sick not in _states(aws, group), timeout=8)
        assert len(_in_service(aws, group)) == 2
        assert kept in _states(aws, group)
    finally:
        health_file.write_text("{}")


def test_plain_moto_replaces_even_when_suspended(plain_moto: Aws) -> None:
    _, subnet = _network(plain_moto)
    group, _ = _group_api(plain_moto, "plain-healing", desired=1, subnet=subnet)
    plain_moto("autoscaling").suspend_processes(AutoScalingGroupName=group)
    (first,) = _states(plain_moto, group)
    plain_moto("ec2").terminate_instances(InstanceIds=[first])
    assert len(_states(plain_moto, group)) == 1
    assert first not in _states(plain_moto, group), (
        "moto now honours SuspendProcesses when an instance is terminated in EC2: the "
        "replacement patch in tests/harness/autoscaling.py may go"
    )


# --- 4. rolling updates -------------------------------------------------------------------

ROLLING_TEMPLATE: dict[str, Any] = {
    "Parameters": {
        "ImageId": {"Type": "String"},
        "InstanceType": {"Type": "String", "Default": "t3.micro"},
        "Count": {"Type": "Number", "Default": 2},
        "MaxSize": {"Type": "Number", "Default": 3},
        "PauseTime": {"Type": "String", "Default": "PT20S"},
    },
    "Resources": {
        "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.2.0.0/16"}},
        "Subnet": {
            "Type": "AWS::EC2::Subnet",
            "Properties": {
                "VpcId": {"Ref": "Vpc"},
                "CidrBlock": "10.2.0.0/24",
                "AvailabilityZone": "us-east-1a",
            },
        },
        "TargetGroup": {
            "Type": "AWS::ElasticLoadBalancingV2::TargetGroup",
            "Properties": {"Port": 443, "Protocol": "HTTPS", "VpcId": {"Ref": "Vpc"}},
        },
        "LaunchTemplate": {
            "Type": "AWS::EC2::LaunchTemplate",
            "Properties": {
                "LaunchTemplateData": {
                    "ImageId": {"Ref": "ImageId"},
                    "InstanceType": {"Ref": "InstanceType"},
                }
            },
        },
        # As cloudformation/ec2.yaml: the hook, the version by GetAtt, new hosts first.
        "AutoScalingGroup": {
            "Type": "AWS::AutoScaling::AutoScalingGroup",
            "UpdatePolicy": {
                "AutoScalingRollingUpdate": {
                    "MaxBatchSize": 1,
                    "MinInstancesInService": {"Ref": "Count"},
                    "WaitOnResourceSignals": True,
                    "PauseTime": {"Ref": "PauseTime"},
                }
            },
            "Properties": {
                "VPCZoneIdentifier": [{"Ref": "Subnet"}],
                "LaunchTemplate": {
                    "LaunchTemplateId": {"Ref": "LaunchTemplate"},
                    "Version": {"Fn::GetAtt": ["LaunchTemplate", "LatestVersionNumber"]},
                },
                "MinSize": {"Ref": "Count"},
                "MaxSize": {"Ref": "MaxSize"},
                "DesiredCapacity": {"Ref": "Count"},
                "TargetGroupARNs": [{"Ref": "TargetGroup"}],
                "LifecycleHookSpecificationList": [
                    {
                        "LifecycleHookName": "ragstack-configure",
                        "LifecycleTransition": "autoscaling:EC2_INSTANCE_LAUNCHING",
                        "HeartbeatTimeout": 600,
                        "DefaultResult": "ABANDON",
                    }
                ],
            },
        },
    },
    "Outputs": {"InstanceType": {"Value": {"Ref": "InstanceType"}}},
}


def _stack_resources(aws: Aws, stack: str) -> dict[str, str]:
    summaries = aws("cloudformation").list_stack_resources(StackName=stack)
    return {
        s["LogicalResourceId"]: s["PhysicalResourceId"] for s in summaries["StackResourceSummaries"]
    }


def _stack_status(aws: Aws, stack: str) -> str:
    return aws("cloudformation").describe_stacks(StackName=stack)["Stacks"][0]["StackStatus"]


def _instance_types(aws: Aws, ids: set[str]) -> dict[str, str]:
    reservations = aws("ec2").describe_instances(InstanceIds=sorted(ids))["Reservations"]
    return {i["InstanceId"]: i["InstanceType"] for r in reservations for i in r["Instances"]}


def _change_instance_type(
    aws: Aws, stack: str, image_id: str, instance_type: str, pause: str
) -> None:
    """What the ec2_stack role does: an untyped change set, executed."""
    cfn = aws("cloudformation")
    change_set = cfn.create_change_set(
        StackName=stack,
        ChangeSetName=f"to-{instance_type.replace('.', '-')}",
        TemplateBody=json.dumps(ROLLING_TEMPLATE),
        Parameters=[
            {"ParameterKey": "ImageId", "ParameterValue": image_id},
            {"ParameterKey": "InstanceType", "ParameterValue": instance_type},
            {"ParameterKey": "PauseTime", "ParameterValue": pause},
        ],
    )
    cfn.execute_change_set(ChangeSetName=change_set["Id"])


def _play_hosts(
    aws: Aws, stack: str, group: str, target_group: str, fail: set[str] | None = None
) -> dict[str, Any]:
    """Play the hosts' bootstrap until the stack settles: every Pending:Wait instance completes
    its lifecycle action and signals (FAILURE for the ones in fail); sample the fleet."""
    seen: dict[str, Any] = {
        "min_in_service": 99,
        "max_instances": 0,
        "statuses": set(),
        "signalled": [],
    }
    cfn = aws("cloudformation")
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline:
        status = _stack_status(aws, stack)
        seen["statuses"].add(status)
        states = _states(aws, group)
        in_service = {i for i, s in states.items() if s == "InService"}
        seen["min_in_service"] = min(
            seen["min_in_service"], len(in_service & _registered(aws, target_group))
        )
        # Terminating ones are draining, out of the target group: not capacity.
        live = [i for i, s in states.items() if s != "Terminating"]
        seen["max_instances"] = max(seen["max_instances"], len(live))
        if status.endswith("_COMPLETE") or status.endswith("_FAILED"):
            seen["final"] = status
            return seen
        for instance, state in states.items():
            if state == "Pending:Wait" and instance not in seen["signalled"]:
                seen["signalled"].append(instance)
                failing = bool(fail)
                if failing:
                    fail.clear()
                else:
                    _complete(aws, group, instance)
                cfn.signal_resource(
                    StackName=stack,
                    LogicalResourceId="AutoScalingGroup",
                    UniqueId=instance,
                    Status="FAILURE" if failing else "SUCCESS",
                )
        time.sleep(0.2)
    pytest.fail(f"the stack did not settle: {seen}")


def test_rolling_update_replaces_hosts_one_by_one_on_signals(aws: Aws) -> None:
    stack, image_id = "rolling", _image_id(aws)
    cfn = aws("cloudformation")
    cfn.create_stack(
        StackName=stack,
        TemplateBody=json.dumps(ROLLING_TEMPLATE),
        Parameters=[{"ParameterKey": "ImageId", "ParameterValue": image_id}],
    )
    resources = _stack_resources(aws, stack)
    group, target_group = resources["AutoScalingGroup"], resources["TargetGroup"]
    aws("elbv2").modify_target_group_attributes(
        TargetGroupArn=target_group,
        Attributes=[{"Key": "deregistration_delay.timeout_seconds", "Value": "1"}],
    )
    first = _states(aws, group)
    assert len(first) == 2
    assert set(first.values()) == {"Pending:Wait"}, "hooked from the template"
    for instance in first:
        _complete(aws, group, instance)
    with pytest.raises(ClientError, match="can not be signaled"):
        cfn.signal_resource(
            StackName=stack, LogicalResourceId="AutoScalingGroup", UniqueId="i-x", Status="SUCCESS"
        )

    _change_instance_type(aws, stack, image_id, "t3.small", "PT20S")
    assert _stack_status(aws, stack) == "UPDATE_IN_PROGRESS", "until the hosts are replaced"
    seen = _play_hosts(aws, stack, group, target_group)
    assert seen["final"] == "UPDATE_COMPLETE"
    assert seen["min_in_service"] >= 2, f"capacity dipped during the update: {seen}"
    assert seen["max_instances"] <= 3, f"more than one extra host at a time: {seen}"
    assert len(seen["signalled"]) == 2
    _wait("the old hosts to drain away", lambda: set(_states(aws, group)) == set(seen["signalled"]))
    assert set(_instance_types(aws, set(seen["signalled"])).values()) == {"t3.small"}
    assert set(_instance_types(aws, set(first)).values()) == {"t3.micro"}
    assert {_ec2_state(aws, i) for i in first} == {"terminated"}
    assert _registered(aws, target_group) == set(seen["signalled"])

    # A FAILURE signal rolls the stack back: the hosts of the failed update drain away,
    # the previous instance type and parameters are the stack's again.
    kept = set(seen["signalled"])
    _change_instance_type(aws, stack, image_id, "t3.medium", "PT20S")
    seen = _play_hosts(aws, stack, group, target_group, fail={"first"})
    assert seen["final"] == "UPDATE_ROLLBACK_COMPLETE", seen
    assert seen["min_in_service"] >= 2
    (described,) = cfn.describe_stacks(StackName=stack)["Stacks"]
    parameters = {p["ParameterKey"]: p["ParameterValue"] for p in described["Parameters"]}
    assert parameters["InstanceType"] == "t3.small"
    _wait("the failed host to go", lambda: set(_states(aws, group)) == kept)
    assert _ec2_state(aws, seen["signalled"][0]) == "terminated"
    events = [
        e["ResourceStatus"] for e in cfn.describe_stack_events(StackName=stack)["StackEvents"]
    ]
    assert "UPDATE_ROLLBACK_COMPLETE" in events


def test_rolling_update_times_out_without_signals(aws: Aws) -> None:
    stack, image_id = "rolling-timeout", _image_id(aws)
    cfn = aws("cloudformation")
    cfn.create_stack(
        StackName=stack,
        TemplateBody=json.dumps(ROLLING_TEMPLATE),
        Parameters=[
            {"ParameterKey": "ImageId", "ParameterValue": image_id},
            {"ParameterKey": "Count", "ParameterValue": "1"},
            {"ParameterKey": "MaxSize", "ParameterValue": "2"},
        ],
    )
    group = _stack_resources(aws, stack)["AutoScalingGroup"]
    (first,) = _states(aws, group)
    _complete(aws, group, first)
    started = time.monotonic()
    _change_instance_type(aws, stack, image_id, "t3.small", "PT2S")
    # No host signals: PauseTime ends the wait, and the update rolls back.
    _wait(
        "the rollback",
        lambda: _stack_status(aws, stack) == "UPDATE_ROLLBACK_COMPLETE",
        timeout=10,
    )
    assert time.monotonic() - started >= 1.5
    _wait("the unsignalled host to go", lambda: set(_states(aws, group)) == {first})


def test_plain_moto_has_no_signal_resource(plain_moto: Aws) -> None:
    stack = "plain-rolling"
    plain_moto("cloudformation").create_stack(
        StackName=stack,
        TemplateBody=json.dumps(ROLLING_TEMPLATE),
        Parameters=[{"ParameterKey": "ImageId", "ParameterValue": _image_id(plain_moto)}],
    )
    # moto answers an action it lacks with a 500 (ResponseParserError here).
    with pytest.raises(Exception) as refused:  # noqa: PT011 - any refusal will do
        plain_moto("cloudformation").signal_resource(
            StackName=stack, LogicalResourceId="AutoScalingGroup", UniqueId="i-x", Status="SUCCESS"
        )
    assert "can not be signaled" not in str(refused.value), (
        "moto now answers SignalResource: the launcher's SignalResource in "
        "tests/harness/autoscaling.py may go"
    )
