"""The launcher's CloudFormation update fixes (tests/harness/moto_server.py): a stack updated
through a change set (CreateChangeSet type UPDATE + ExecuteChangeSet, what the ec2_stack
role does) behaves as on AWS.

As in test_moto_server.py, each fix is tested through the launcher (AWS's behaviour) and
through plain moto_server (the gap is still there; the failure message names the fix that
can go). The launcher side runs on a moto of its own (module-scoped): the production stack
test resets it, as tests/cloudformation does.
"""

from __future__ import annotations

import copy
import json
import sys
from collections.abc import Callable, Iterator
from typing import Any

import moto_kit
import pytest

# The production template's helpers (tests/cloudformation is not on the suite's path).
sys.path.insert(0, str(moto_kit.REPO_ROOT / "tests" / "cloudformation"))
from test_ec2_stack_moto import STACK_NAME, create_stack, template_for_moto

Aws = Callable[..., Any]

TEMPLATE: dict[str, Any] = {
    "Parameters": {
        "ImageId": {"Type": "String"},
        "Count": {"Type": "Number", "Default": 1},
        "Release": {"Type": "String", "Default": "r-000000000001"},
        "Label": {"Type": "String", "Default": "a"},
        "Env": {"Type": "String", "Default": "dev"},
        "Retention": {"Type": "Number", "Default": 1},
        "InstanceType": {"Type": "String", "Default": "t3.micro"},
        "TemplateVersion": {"Type": "String", "Default": "1"},
        "Tier": {"Type": "String", "Default": "standard"},
    },
    # On a String parameter: moto compares a Number parameter's Ref as a number, so
    # !Equals [!Ref Count, "1"] never holds there (AWS's Ref yields the string).
    "Conditions": {"Premium": {"Fn::Equals": [{"Ref": "Tier"}, "premium"]}},
    "Resources": {
        "Vpc": {
            "Type": "AWS::EC2::VPC",
            "Properties": {
                "CidrBlock": "10.0.0.0/16",
                # A type moto cannot update (no update_from_cloudformation_json).
                "Tags": [{"Key": "label", "Value": {"Fn::Sub": "vpc-${Label}"}}],
            },
        },
        "Subnet": {
            "Type": "AWS::EC2::Subnet",
            "Properties": {
                "VpcId": {"Ref": "Vpc"},
                "CidrBlock": "10.0.0.0/24",
                "AvailabilityZone": "us-east-1a",
            },
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
        # No UpdatePolicy: a launch template change leaves the running instances alone.
        "Group": {
            "Type": "AWS::AutoScaling::AutoScalingGroup",
            "Properties": {
                "VPCZoneIdentifier": [{"Ref": "Subnet"}],
                "LaunchTemplate": {
                    "LaunchTemplateId": {"Ref": "LaunchTemplate"},
                    "Version": {"Ref": "TemplateVersion"},
                },
                "MinSize": {"Ref": "Count"},
                "MaxSize": {"Ref": "Count"},
                "DesiredCapacity": {"Ref": "Count"},
                "Tags": [{"Key": "role", "Value": "app", "PropagateAtLaunch": True}],
            },
        },
        "Logs": {
            "Type": "AWS::Logs::LogGroup",
            "Properties": {
                "LogGroupName": {"Fn::Sub": "/fidelity/${AWS::StackName}/${Env}"},
                "RetentionInDays": {"Ref": "Retention"},
            },
        },
        # Reads Tier only through the Premium condition.
        "Queue": {
            "Type": "AWS::SQS::Queue",
            "Properties": {
                "Tags": [{"Key": "size", "Value": {"Fn::If": ["Premium", "big", "small"]}}]
            },
        },
    },
    "Outputs": {"Release": {"Value": {"Ref": "Release"}}},
}


@pytest.fixture(scope="module")
def aws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Aws]:
    """The launcher's moto, this module's own (the production stack test resets it)."""
    log_path = tmp_path_factory.mktemp("change-sets") / "moto_server.log"
    with moto_kit.moto_server(log_path) as endpoint:
        factory = moto_kit.client_factory(endpoint)
        factory.endpoint = endpoint
        yield factory


def _parameters(values: dict[str, Any]) -> list[dict[str, str]]:
    return [{"ParameterKey": k, "ParameterValue": str(v)} for k, v in values.items()]


def _image_id(aws: Aws) -> str:
    return sorted(i["ImageId"] for i in aws("ec2").describe_images(Owners=["amazon"])["Images"])[0]


def _create(
    aws: Aws, stack: str, template: dict[str, Any] | None = None, **parameters: Any
) -> dict[str, Any]:
    parameters = {"ImageId": _image_id(aws), **parameters}
    aws("cloudformation").create_stack(
        StackName=stack,
        TemplateBody=json.dumps(template or TEMPLATE),
        Parameters=_parameters(parameters),
    )
    # Read back, as the role does after every apply: moto evaluates an output on its first
    # read and keeps that value.
    assert _outputs(aws("cloudformation").describe_stacks(StackName=stack)["Stacks"][0])
    return parameters


def _propose(
    aws: Aws,
    stack: str,
    parameters: dict[str, Any],
    template: dict[str, Any] | None = None,
    tags: dict[str, str] | None = None,
) -> dict[str, Any]:
    """CreateChangeSet UPDATE, named (so that plain moto isolates each gap; an untyped
    change set, what amazon.aws.cloudformation sends, is tested below); its description."""
    cfn = aws("cloudformation")
    name = f"cs-{len(cfn.list_change_sets(StackName=stack)['Summaries'])}"
    extra = {"Tags": [{"Key": k, "Value": v} for k, v in tags.items()]} if tags else {}
    change_set = cfn.create_change_set(
        StackName=stack,
        ChangeSetName=name,
        ChangeSetType="UPDATE",
        TemplateBody=json.dumps(template or TEMPLATE),
        Parameters=_parameters(parameters),
        Capabilities=["CAPABILITY_IAM"],
        **extra,
    )
    return cfn.describe_change_set(ChangeSetName=change_set["Id"])


def _execute(aws: Aws, change_set: dict[str, Any]) -> dict[str, Any]:
    cfn = aws("cloudformation")
    cfn.execute_change_set(ChangeSetName=change_set["ChangeSetId"])
    (stack,) = cfn.describe_stacks(StackName=change_set["StackName"])["Stacks"]
    return stack


def _update(aws: Aws, stack: str, parameters: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    return _execute(aws, _propose(aws, stack, parameters, **kwargs))


def _modified(change_set: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        c["ResourceChange"]["LogicalResourceId"]: c["ResourceChange"]
        for c in change_set["Changes"]
        if c["ResourceChange"]["Action"] == "Modify"
    }


def _outputs(stack: dict[str, Any]) -> dict[str, str]:
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def _stack_parameters(stack: dict[str, Any]) -> dict[str, str]:
    return {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}


def _resources(aws: Aws, stack: str) -> dict[str, str]:
    summaries = aws("cloudformation").list_stack_resources(StackName=stack)[
        "StackResourceSummaries"
    ]
    return {s["LogicalResourceId"]: s["PhysicalResourceId"] for s in summaries}


def _group(aws: Aws, stack: str) -> dict[str, Any]:
    name = _resources(aws, stack)["Group"]
    (group,) = aws("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=[name])[
        "AutoScalingGroups"
    ]
    return group


def _running(aws: Aws, instance_ids: list[str]) -> set[str]:
    reservations = aws("ec2").describe_instances(InstanceIds=instance_ids)["Reservations"]
    return {
        i["InstanceId"]
        for r in reservations
        for i in r["Instances"]
        if i["State"]["Name"] == "running"
    }


def _group_instances(aws: Aws, stack: str) -> set[str]:
    return {i["InstanceId"] for i in _group(aws, stack)["Instances"]}


# --- ExecuteChangeSet refreshes the stack -----------------------------------------------


def test_execute_change_set_refreshes_outputs_parameters_and_tags(aws):
    parameters = _create(aws, "refresh", Release="r-ff2a0bcfcaeb")
    parameters["Release"] = "r-000000000002"
    stack = _update(aws, "refresh", parameters, tags={"ragstack:release": "r-000000000002"})
    assert stack["StackStatus"] == "UPDATE_COMPLETE"
    assert _outputs(stack)["Release"] == "r-000000000002"
    assert _stack_parameters(stack)["Release"] == "r-000000000002"
    assert {t["Key"]: t["Value"] for t in stack["Tags"]} == {"ragstack:release": "r-000000000002"}
    # The stack now holds the change set's parameters: proposing them again changes nothing.
    again = _propose(aws, "refresh", parameters)
    assert again["Status"] == "FAILED"
    assert "didn't contain changes" in again["StatusReason"]


def test_execute_create_change_set_gives_the_stack_its_outputs(aws):
    cfn = aws("cloudformation")
    parameters = {"ImageId": _image_id(aws), "Release": "r-00000000000c"}
    change_set = cfn.create_change_set(
        StackName="created",
        ChangeSetName="create",
        ChangeSetType="CREATE",
        TemplateBody=json.dumps(TEMPLATE),
        Parameters=_parameters(parameters),
    )
    stack = _execute(aws, cfn.describe_change_set(ChangeSetName=change_set["Id"]))
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    assert _outputs(stack) == {"Release": "r-00000000000c"}


def test_plain_moto_still_keeps_the_old_outputs(plain_moto):
    parameters = _create(plain_moto, "refresh-plain", Release="r-ff2a0bcfcaeb")
    parameters["Release"] = "r-000000000002"
    stack = _update(plain_moto, "refresh-plain", parameters)
    assert _stack_parameters(stack)["Release"] == "r-000000000002"
    assert _outputs(stack)["Release"] == "r-ff2a0bcfcaeb", (
        "moto now refreshes the outputs on ExecuteChangeSet: remove the fix "
        "execute_change_set_refreshing_the_stack from tests/harness/moto_server.py "
        "(if it also records the change set's parameters and tags)"
    )


# --- CreateChangeSet lists parameter changes --------------------------------------------


def test_change_set_lists_resources_a_parameter_change_reaches(aws):
    parameters = _create(aws, "listing")
    change_set = _propose(
        aws, "listing", {**parameters, "Count": 2, "Label": "b", "Env": "prod", "Tier": "premium"}
    )
    assert change_set["Status"] == "CREATE_COMPLETE"
    modified = _modified(change_set)
    # Ref (Group), Fn::Sub (Vpc, Logs), Fn::If condition (Queue); nothing else.
    assert sorted(modified) == ["Group", "Logs", "Queue", "Vpc"]
    assert modified["Group"]["ResourceType"] == "AWS::AutoScaling::AutoScalingGroup"
    assert modified["Group"]["Replacement"] == "False"
    assert modified["Group"]["PhysicalResourceId"] == _resources(aws, "listing")["Group"]
    # A new LogGroupName is a new log group.
    assert modified["Logs"]["Replacement"] == "True"
    assert len(change_set["Changes"]) == 4


def test_change_set_without_changes_lists_nothing(aws):
    parameters = _create(aws, "unchanged")
    change_set = _propose(aws, "unchanged", parameters)
    assert change_set["Status"] == "FAILED"
    assert change_set["Changes"] == []
    # A parameter only an output reads: nothing to modify, but a change all the same.
    change_set = _propose(aws, "unchanged", {**parameters, "Release": "r-000000000009"})
    assert change_set["Status"] == "CREATE_COMPLETE"
    assert change_set["Changes"] == []


def test_plain_moto_still_lists_no_parameter_changes(plain_moto):
    parameters = _create(plain_moto, "listing-plain")
    change_set = _propose(plain_moto, "listing-plain", {**parameters, "Count": 2})
    assert change_set["Changes"] == [], (
        "moto now lists parameter-driven changes in a change set: remove the fix "
        "list_parameter_changes_in_change_sets from tests/harness/moto_server.py"
    )


# --- Auto Scaling groups are updated in place -------------------------------------------


def test_auto_scaling_group_is_updated_in_place(aws):
    parameters = _create(aws, "scaling")
    group_name = _group(aws, "scaling")["AutoScalingGroupName"]
    (first,) = _group_instances(aws, "scaling")

    parameters["Count"] = 2
    assert _update(aws, "scaling", parameters)["StackStatus"] == "UPDATE_COMPLETE"
    group = _group(aws, "scaling")
    assert group["AutoScalingGroupName"] == group_name
    assert (group["MinSize"], group["MaxSize"], group["DesiredCapacity"]) == (2, 2, 2)
    scaled_out = _group_instances(aws, "scaling")
    assert first in scaled_out
    assert len(scaled_out) == 2
    assert _running(aws, sorted(scaled_out)) == scaled_out

    parameters["Count"] = 1
    _update(aws, "scaling", parameters)
    (kept,) = _group_instances(aws, "scaling")
    assert kept in scaled_out
    assert _running(aws, sorted(scaled_out)) == {kept}

    # A new launch template version: the running instance stays (no UpdatePolicy).
    parameters.update(InstanceType="t3.small", TemplateVersion="2")
    change_set = _propose(aws, "scaling", parameters)
    assert sorted(_modified(change_set)) == ["Group", "LaunchTemplate"]
    _execute(aws, change_set)
    group = _group(aws, "scaling")
    assert group["LaunchTemplate"]["Version"] == "2"
    assert _group_instances(aws, "scaling") == {kept}
    assert _running(aws, [kept]) == {kept}
    assert group["AutoScalingGroupName"] == group_name


def test_plain_moto_still_replaces_the_group(plain_moto):
    parameters = _create(plain_moto, "scaling-plain")
    (first,) = _group_instances(plain_moto, "scaling-plain")
    _update(plain_moto, "scaling-plain", {**parameters, "Count": 2})
    assert not _running(plain_moto, [first]), (
        "moto now keeps the running instances when an AutoScalingGroup is updated: remove "
        "the fix update_auto_scaling_groups_in_place from tests/harness/moto_server.py"
    )


# --- resources moto cannot update stay the stack's --------------------------------------


def test_resource_without_update_support_stays_in_the_stack(aws):
    parameters = _create(aws, "keeping")
    vpc = _resources(aws, "keeping")["Vpc"]
    stack = _update(aws, "keeping", {**parameters, "Label": "b"})
    assert stack["StackStatus"] == "UPDATE_COMPLETE"
    assert _resources(aws, "keeping")["Vpc"] == vpc
    assert "" not in _resources(aws, "keeping")


def test_plain_moto_still_drops_them(plain_moto):
    # A direct Ref: the only parameter change plain moto applies.
    template = copy.deepcopy(TEMPLATE)
    template["Resources"]["Vpc"]["Properties"]["Tags"][0]["Value"] = {"Ref": "Label"}
    parameters = _create(plain_moto, "keeping-plain", template)
    _update(plain_moto, "keeping-plain", {**parameters, "Label": "b"}, template=template)
    assert "Vpc" not in _resources(plain_moto, "keeping-plain"), (
        "moto now keeps a resource it cannot update in the stack: remove the fix "
        "keep_resources_moto_cannot_update from tests/harness/moto_server.py"
    )


# --- log groups are updated in place ----------------------------------------------------


def _log_group(aws: Aws, name: str) -> dict[str, Any]:
    (group,) = aws("logs").describe_log_groups(logGroupNamePrefix=name)["logGroups"]
    return group


def test_log_group_retention_is_updated_in_place(aws):
    parameters = _create(aws, "logs")
    before = _log_group(aws, "/fidelity/logs/dev")
    _update(aws, "logs", {**parameters, "Retention": 3})
    after = _log_group(aws, "/fidelity/logs/dev")
    assert after["retentionInDays"] == 3
    assert after["creationTime"] == before["creationTime"]
    assert _resources(aws, "logs")["Logs"] == "/fidelity/logs/dev"
    # A new name replaces the group.
    _update(aws, "logs", {**parameters, "Retention": 3, "Env": "prod"})
    assert _resources(aws, "logs")["Logs"] == "/fidelity/logs/prod"
    assert _log_group(aws, "/fidelity/logs/prod")["retentionInDays"] == 3
    assert not aws("logs").describe_log_groups(logGroupNamePrefix="/fidelity/logs/dev")["logGroups"]


def test_plain_moto_still_leaves_the_retention(plain_moto):
    parameters = _create(plain_moto, "logs-plain")
    _update(plain_moto, "logs-plain", {**parameters, "Retention": 3})
    assert _log_group(plain_moto, "/fidelity/logs-plain/dev")["retentionInDays"] == 1, (
        "moto now updates a log group's retention through CloudFormation: remove the fix "
        "update_log_groups_in_place from tests/harness/moto_server.py"
    )


# --- the production template ------------------------------------------------------------


def test_production_stack_is_updated_in_place(aws):
    """cloudformation/ec2.yaml, created as tests/cloudformation does, then updated as the
    ec2_stack role does: the playbook's parameters only (never the resolved AMI ids
    DescribeStacks shows, never the NoEcho CertificateArn read back)."""
    template = template_for_moto()
    deployment = create_stack(
        aws, lambda: moto_kit.reset(aws.endpoint), template, ReleaseId="r-ff2a0bcfcaeb"
    )
    assert deployment.status == "CREATE_COMPLETE"
    parameters = dict(deployment.params)
    cfn = aws("cloudformation")

    def update(**changes: str) -> tuple[dict[str, Any], dict[str, Any]]:
        parameters.update(changes)
        change_set = _propose(
            aws,
            STACK_NAME,
            parameters,
            template,
            tags={"ragstack:release": parameters["ReleaseId"]},
        )
        return change_set, _execute(aws, change_set)

    def log_groups() -> dict[str, int]:
        groups = aws("logs").describe_log_groups(logGroupNamePrefix="/ragstack/")["logGroups"]
        return {g["logGroupName"]: g["creationTime"] for g in groups}

    resources, groups = _resources(aws, STACK_NAME), log_groups()
    assert len(groups) == 4
    (first,) = {i["InstanceId"] for i in deployment.app_instances()}

    change_set, stack = update(InstanceCount="2")
    assert sorted(_modified(change_set)) == ["AutoScalingGroup"]
    assert stack["StackStatus"] == "UPDATE_COMPLETE"
    scaled_out = {i["InstanceId"] for i in deployment.app_instances()}
    assert first in scaled_out
    assert len(scaled_out) == 2
    assert _resources(aws, STACK_NAME) == resources
    assert log_groups() == groups

    change_set, stack = update(InstanceCount="1")
    assert sorted(_modified(change_set)) == ["AutoScalingGroup"]
    assert stack["StackStatus"] == "UPDATE_COMPLETE"
    (kept,) = {i["InstanceId"] for i in deployment.app_instances()}
    assert kept in scaled_out

    change_set, stack = update(ReleaseId="r-000000000001")
    assert change_set["Status"] == "CREATE_COMPLETE"
    assert change_set["Changes"] == []
    assert stack["StackStatus"] == "UPDATE_COMPLETE"
    assert _outputs(stack)["ReleaseId"] == "r-000000000001"
    assert {t["Key"]: t["Value"] for t in stack["Tags"]}["ragstack:release"] == "r-000000000001"
    assert {i["InstanceId"] for i in deployment.app_instances()} == {kept}
    assert _resources(aws, STACK_NAME) == resources
    assert log_groups() == groups
    assert cfn.describe_stacks(StackName=STACK_NAME)["Stacks"][0]["StackStatus"] == (
        "UPDATE_COMPLETE"
    )


# --- ChangeSetType's default -------------------------------------------------------------


def _untyped_change_set(aws: Aws, stack: str) -> tuple[str, list[str]]:
    """A change set with no ChangeSetType on an existing stack: (stack status, actions)."""
    parameters = _create(aws, stack)
    cfn = aws("cloudformation")
    created = cfn.create_change_set(
        StackName=stack,
        ChangeSetName="untyped",
        TemplateBody=json.dumps(TEMPLATE),
        Parameters=_parameters({**parameters, "Release": "r-000000000002"}),
    )
    change_set = cfn.describe_change_set(ChangeSetName=created["Id"])
    stacks = [s for s in cfn.list_stacks()["StackSummaries"] if s["StackName"] == stack]
    actions = [c["ResourceChange"]["Action"] for c in change_set["Changes"]]
    return ",".join(sorted(s["StackStatus"] for s in stacks)), actions


def test_untyped_change_set_updates_the_existing_stack(aws):
    statuses, actions = _untyped_change_set(aws, "untyped")
    assert statuses == "CREATE_COMPLETE"  # one stack of that name, not a second
    assert "Add" not in actions


def test_create_change_set_for_an_existing_stack_is_refused(aws):
    parameters = _create(aws, "typed-create")
    cfn = aws("cloudformation")
    with pytest.raises(cfn.exceptions.AlreadyExistsException):
        cfn.create_change_set(
            StackName="typed-create",
            ChangeSetName="again",
            ChangeSetType="CREATE",
            TemplateBody=json.dumps(TEMPLATE),
            Parameters=_parameters(parameters),
        )


def test_plain_moto_still_defaults_change_sets_to_create(plain_moto):
    statuses, actions = _untyped_change_set(plain_moto, "untyped-plain")
    message = (
        "moto now defaults ChangeSetType to UPDATE: remove the fix "
        "default_change_sets_to_update from tests/harness/moto_server.py"
    )
    assert "REVIEW_IN_PROGRESS" in statuses, message
    assert set(actions) == {"Add"}, message
