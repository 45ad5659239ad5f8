#!/usr/bin/env python3
"""moto_server with the fidelity fixes the local AWS needs, then moto's own CLI.

Usage: moto_server.py [moto_server options]   (e.g. -H 127.0.0.1 -p 5001)

This is test harness, not collection code: the collection never knows it talks to moto.

Every fix is a named moto gap (moto 5.2): AWS does X, moto does Y, and without the
fix a converged deployment would not look converged against moto, or the production
template would need a local copy. Each one is covered by tests/local_aws/test_moto_server.py,
which also fails once moto closes the gap itself, so a fix never outlives its reason.

- ECS CreateService drops healthCheckGracePeriodSeconds and deploymentConfiguration
  (UpdateService keeps them). A service created with a circuit breaker would read
  back without one, and community.aws.ecs_service would update it on every re-run.
- SSM lacks the public AMI parameters cloudformation/ec2.yaml defaults to (Debian 13's
  and the GPU Deep Learning AMI's; moto only carries Amazon Linux's), and refuses to
  create names under /aws/. They resolve here to two of moto's own AMIs, so the stack
  is created from the production template, unchanged.

- CloudFormation's YAML loader reads the short form `!Condition Name` as
  {"Fn::Condition": Name}, which moto's condition evaluator does not know (it expects
  {"Condition": Name}, as AWS's own YAML parser produces): every condition built with
  `!And [!Condition A, ...]` is false. In cloudformation/ec2.yaml that dropped the
  launch template's KeyName (HasKeyName) and the NAT gateway (CreateNat).

- S3 bucket policies are evaluated without their Condition blocks (moto's IAM policy
  evaluation has no Condition support), so a Deny that AWS applies only when its
  condition holds denies every request. The collection's buckets carry the standard
  TLS-only statement (Deny when aws:SecureTransport is false): against moto it refused
  every object call. Every AWS SDK call is TLS; the local endpoint is plain HTTP only
  because it is the harness (docs/local-vs-aws.md). The fix drops exactly that
  statement when moto evaluates a bucket's policy; every other statement, conditional
  or not, is evaluated as moto does.

Stack updates through a change set (CreateChangeSet UPDATE + ExecuteChangeSet, what the
ec2_stack role does; tests/local_aws/test_moto_change_sets.py):

- ExecuteChangeSet updates the resources but not the stack: AWS re-evaluates the Outputs
  and records the change set's Parameters and Tags as the stack's; moto keeps the outputs
  it had evaluated (the ReleaseId output kept the previous release), keeps the parameters
  the next CreateChangeSet compares against (scaling back 2->1 read as "didn't contain
  changes") and ignores the Tags. A CREATE change set left the stack without outputs.
- CreateChangeSet diffs templates only: AWS lists a Modify for every resource that reads
  a changed parameter (Ref, Fn::Sub, an Fn::If condition), moto lists none (InstanceCount
  1->2 gave Changes: []), and applies only direct Refs to a parameter passed with a new
  string. The fix reads each resource with the old and the new parameters and conditions,
  for the listing and for the update alike; a Modify carries its PhysicalResourceId and
  Replacement (True when the name property changes, False for the types in
  REPLACING_PROPERTIES, else Conditional).
- AWS::AutoScaling::AutoScalingGroup updates replace the group in moto (every instance
  terminated, new ones launched); AWS updates it in place: a larger DesiredCapacity keeps
  the running instances and launches the difference, a smaller one terminates the
  surplus, a new launch template version leaves running instances alone. A new
  AutoScalingGroupName still replaces it. Rolling replacement (UpdatePolicy
  AutoScalingRollingUpdate) is autoscaling.py's.
- A resource moto has no CloudFormation update for (VPC, subnet, target group, log group,
  ...) is dropped from the stack when a change reaches it (a blank ListStackResources
  entry, Refs to it resolve to nothing, DeleteStack leaves it behind so re-creating the
  stack hits ResourceAlreadyExistsException on named resources). AWS updates or replaces
  it; the fix keeps it as it was, still the stack's.
- AWS::Logs::LogGroup is one of those: AWS updates RetentionInDays in place and replaces
  the group for a new LogGroupName; the fix does both.

- CreateChangeSet without ChangeSetType is an UPDATE of the existing stack on AWS (the
  API's documented default, and what amazon.aws.cloudformation sends: no type at all);
  moto defaults to CREATE and, for a name that exists, makes a second stack of that name
  whose change set adds every resource again (a second VPC, ALB, Auto Scaling group).
  AWS also refuses a CREATE change set for an existing stack (AlreadyExistsException).
  The fix defaults the type to UPDATE and refuses that CREATE.

The Auto Scaling group (lifecycle hooks, drain before terminate, replacement, rolling
updates with SignalResource) is autoscaling.py's, installed last; its own docstring lists
what it plays and tests/local_aws/test_autoscaling.py covers it.

With RAGSTACK_HARNESS_INSTANCES=1 the process also plays EC2's data plane
(instance_agent.py): every running instance gets a systemd container.
"""

from __future__ import annotations

import os
import re
import sys
import time
from pathlib import Path
from typing import Any

# CreateService parameters moto parses but never stores, by moto attribute name.
ECS_CREATE_SERVICE_KEPT = {
    "healthCheckGracePeriodSeconds": "health_check_grace_period_seconds",
    "deploymentConfiguration": "deployment_configuration",
}

# The public parameters cloudformation/ec2.yaml names, and the moto AMI each resolves to
# (an Amazon Linux one for Debian's, an Ubuntu one for the Ubuntu-based GPU DLAMI's).
PUBLIC_AMI_PARAMETERS = {
    "/aws/service/debian/release/13/latest/amd64": "ami-04681a1dbd79675a5",
    "/aws/service/deeplearning/ami/x86_64/base-oss-nvidia-driver-gpu-ubuntu-22.04/latest/ami-id": (
        "ami-785db401"
    ),
}


def keep_ecs_create_service_parameters() -> None:
    from moto.ecs.responses import EC2ContainerServiceResponse

    create_service = EC2ContainerServiceResponse.create_service
    if getattr(create_service, "ragstack_fix", False):
        return

    def create_service_keeping_parameters(self: Any) -> Any:
        result = create_service(self)
        cluster = self.ecs_backend._get_cluster(self._get_param("cluster", "default"))
        service = self.ecs_backend.services[f"{cluster.name}:{self._get_param('serviceName')}"]
        # The response is serialised after this returns, from these attributes,
        # exactly as UpdateService does it.
        for parameter, attribute in ECS_CREATE_SERVICE_KEPT.items():
            value = self._get_param(parameter)
            if value is not None:
                setattr(service, attribute, value)
        return result

    create_service_keeping_parameters.ragstack_fix = True
    EC2ContainerServiceResponse.create_service = create_service_keeping_parameters


def publish_public_ami_parameters() -> None:
    from moto.ssm.models import Parameter, ParameterDict

    check = ParameterDict._check_loading_status
    if getattr(check, "ragstack_fix", False):
        return

    def check_loading_status_with_public_amis(self: ParameterDict, key: str) -> None:
        check(self, key)
        # Loaded like moto loads its Amazon Linux ones: on first read, once per region.
        if str(key or "").startswith("/aws/service/") and not getattr(
            self, "_ragstack_amis", False
        ):
            self._ragstack_amis = True
            for name, ami_id in PUBLIC_AMI_PARAMETERS.items():
                if not dict.get(self, name):
                    super(ParameterDict, self).__getitem__(name).append(
                        Parameter(
                            account_id=self.account_id,
                            name=name,
                            value=ami_id,
                            parameter_type="String",
                            description=None,
                            allowed_pattern=None,
                            keyid=None,
                            last_modified_date=time.time(),
                            version=1,
                            data_type="aws:ec2:image",
                        )
                    )

    check_loading_status_with_public_amis.ragstack_fix = True
    ParameterDict._check_loading_status = check_loading_status_with_public_amis


def read_yaml_condition_references() -> None:
    from moto.cloudformation import parsing

    parse_condition = parsing.parse_condition
    if getattr(parse_condition, "ragstack_fix", False):
        return

    def as_condition_reference(value: Any) -> Any:
        if isinstance(value, dict) and set(value) == {"Fn::Condition"}:
            return {"Condition": value["Fn::Condition"]}
        return value

    def parse_condition_reading_short_form(condition: Any, *args: Any) -> Any:
        if isinstance(condition, dict) and len(condition) == 1:
            ((operator, values),) = condition.items()
            if isinstance(values, list):
                condition = {operator: [as_condition_reference(v) for v in values]}
        return parse_condition(condition, *args)

    parse_condition_reading_short_form.ragstack_fix = True
    parsing.parse_condition = parse_condition_reading_short_form


def _is_tls_only_deny(statement: Any) -> bool:
    if not isinstance(statement, dict) or statement.get("Effect") != "Deny":
        return False
    condition = statement.get("Condition")
    if not isinstance(condition, dict) or set(condition) != {"Bool"}:
        return False
    values = condition["Bool"]
    if not isinstance(values, dict) or set(values) != {"aws:SecureTransport"}:
        return False
    wanted = values["aws:SecureTransport"]
    return [str(v).lower() for v in (wanted if isinstance(wanted, list) else [wanted])] == ["false"]


def evaluate_bucket_policies_over_tls() -> None:
    import json

    from moto.iam.access_control import IAMPolicy, PermissionResult
    from moto.s3.models import FakeBucket

    get_permission = FakeBucket.get_permission
    if getattr(get_permission, "ragstack_fix", False):
        return

    def get_permission_over_tls(self: Any, action: str, resource: str) -> Any:
        if self.policy is None:
            return PermissionResult.NEUTRAL
        policy = json.loads(self.policy)
        statements = policy.get("Statement", [])
        statements = statements if isinstance(statements, list) else [statements]
        kept = [statement for statement in statements if not _is_tls_only_deny(statement)]
        if not kept:
            return PermissionResult.NEUTRAL
        return IAMPolicy(json.dumps({**policy, "Statement": kept})).is_action_permitted(
            action, resource
        )

    get_permission_over_tls.ragstack_fix = True
    FakeBucket.get_permission = get_permission_over_tls


# --- CloudFormation change sets (UPDATE) ------------------------------------------------


def execute_change_set_refreshing_the_stack() -> None:
    from moto.cloudformation.models import CloudFormationBackend

    execute = CloudFormationBackend.execute_change_set
    if getattr(execute, "ragstack_fix", False):
        return

    def execute_change_set_refreshing(
        self: Any, change_set_name: str, stack_name: str | None = None
    ) -> None:
        execute(self, change_set_name, stack_name)
        change_set = self.describe_change_set(change_set_name)
        stack = self.stacks[change_set.stack_id]
        # moto has already set stack.template to the change set's; the outputs are
        # evaluated from the parsed template, against the updated resources and parameters,
        # as UpdateStack does it.
        stack._parse_template()
        stack.description = stack.template_dict.get("Description")
        stack.output_map = stack._create_output_map()
        if change_set.parameters:
            # What the next CreateChangeSet compares against ("didn't contain changes")
            # and what UsePreviousValue reads.
            stack.parameters = dict(change_set.parameters)
        if change_set.tags:
            # moto reads an absent Tags as {}: only a change set that names tags sets them.
            stack.tags = dict(change_set.tags)

    execute_change_set_refreshing.ragstack_fix = True
    CloudFormationBackend.execute_change_set = execute_change_set_refreshing


# Properties whose change replaces the resource, for the types whose other properties
# are all updated in place (the AWS resource reference's "Update requires: Replacement").
REPLACING_PROPERTIES = {
    "AWS::AutoScaling::AutoScalingGroup": {"AutoScalingGroupName"},
    "AWS::Logs::LogGroup": {"LogGroupName"},
}
_SUB_VARIABLE = re.compile(r"\$\{([^!}][^}]*)\}")


def _with_parameters(node: Any, parameters: dict[str, Any], conditions: Any) -> Any:
    """node with the parameter values and condition outcomes it uses filled in; references
    to resources (Ref, Fn::GetAtt, ${Resource.Attr}) stay as written."""
    if isinstance(node, list):
        return [_with_parameters(item, parameters, conditions) for item in node]
    if not isinstance(node, dict):
        return node
    if len(node) == 1:
        ((key, value),) = node.items()
        if key == "Ref" and isinstance(value, str) and value in parameters:
            return parameters[value]
        if key == "Fn::If" and isinstance(value, list) and len(value) == 3:
            branch = value[1] if conditions[value[0]] else value[2]
            return _with_parameters(branch, parameters, conditions)
        if key == "Fn::Sub":
            text, variables = (value, {}) if isinstance(value, str) else (value[0], value[1])

            def substitute(match: re.Match[str]) -> str:
                name = match.group(1)
                if name in parameters and name not in variables:
                    return str(parameters[name])
                return match.group(0)

            text = _SUB_VARIABLE.sub(substitute, text)
            if isinstance(value, str):
                return {key: text}
            return {key: [text, _with_parameters(variables, parameters, conditions)]}
    return {k: _with_parameters(v, parameters, conditions) for k, v in node.items()}


def _parameter_views(
    resource_map: Any, template: dict[str, Any], parameters: dict[str, Any] | None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Each resource the stack keeps (same logical id, present before and after), as it
    reads with the stack's parameters and with the new ones."""
    from moto.cloudformation.parsing import ResourceMap

    new_map = ResourceMap(
        resource_map.stack_id,
        resource_map["AWS::StackName"],
        # As ResourceMap.update: no parameters given keeps the stack's.
        parameters or resource_map.input_parameters,
        resource_map.tags,
        region_name=resource_map._region_name,
        account_id=resource_map._account_id,
        template=template,
        cross_stack_resources=resource_map.cross_stack_resources,
    )
    new_map.load_mapping()
    new_map.load_parameters()
    new_map.load_conditions()
    old_resources = resource_map._resource_json_map
    old_views, new_views = {}, {}
    for name, new_json in template.get("Resources", {}).items():
        old_json = old_resources.get(name)
        if old_json is None or old_json.get("Type") != new_json.get("Type"):
            continue
        old_condition, new_condition = old_json.get("Condition"), new_json.get("Condition")
        if old_condition and not resource_map.lazy_condition_map[old_condition]:
            continue
        if new_condition and not new_map.lazy_condition_map[new_condition]:
            continue
        strip = {"Condition", "DependsOn", "Metadata", "DeletionPolicy", "UpdateReplacePolicy"}
        old_views[name] = _with_parameters(
            {k: v for k, v in old_json.items() if k not in strip},
            resource_map.resolved_parameters,
            resource_map.lazy_condition_map,
        )
        new_views[name] = _with_parameters(
            {k: v for k, v in new_json.items() if k not in strip},
            new_map.resolved_parameters,
            new_map.lazy_condition_map,
        )
    return old_views, new_views


def _replacement(resource_type: str, old: dict[str, Any], new: dict[str, Any]) -> str:
    from moto.cloudformation.parsing import resource_name_property_from_type

    old_properties, new_properties = old.get("Properties") or {}, new.get("Properties") or {}
    changed = {
        name
        for name in set(old_properties) | set(new_properties)
        if old_properties.get(name) != new_properties.get(name)
    }
    replacing = set(REPLACING_PROPERTIES.get(resource_type, ()))
    name_property = resource_name_property_from_type(resource_type)
    if name_property:
        replacing.add(name_property)
    if changed & replacing:
        return "True"
    return "False" if resource_type in REPLACING_PROPERTIES else "Conditional"


def list_parameter_changes_in_change_sets() -> None:
    from moto.cloudformation.models import Change, ChangeSet
    from moto.cloudformation.parsing import ResourceMap

    build_resource_diff = ResourceMap.build_resource_diff
    if getattr(build_resource_diff, "ragstack_fix", False):
        return
    diff = ChangeSet.diff

    def build_resource_diff_reading_parameters(
        self: Any, other_template: dict[str, Any], parameters: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        # moto's own parameter pass (a direct Ref to a passed parameter whose raw string
        # differs) is replaced: a resource is modified when it reads differently with the
        # new parameters, through Ref, Fn::Sub or an Fn::If condition.
        names = build_resource_diff(self, other_template, None)
        old_views, new_views = _parameter_views(self, other_template, parameters)
        for name, view in new_views.items():
            if view != old_views[name] and name not in names["Modify"]:
                names["Modify"].append(name)
        return names

    def diff_with_parameters(self: Any) -> list[Any]:
        if self.change_set_type != "UPDATE":
            return diff(self)
        resource_map = self.stack.resource_map
        names = resource_map.build_resource_diff(self.template_dict, self.parameters)
        old_views, new_views = _parameter_views(resource_map, self.template_dict, self.parameters)
        changes = []
        for action in ("Add", "Modify", "Remove"):
            for name in names[action]:
                source = resource_map._resource_json_map if action == "Remove" else None
                resource_type = (source or self.template_dict["Resources"])[name]["Type"]
                change = Change(action, name, resource_type)
                if action != "Add":
                    resource = resource_map._parsed_resources.get(name)
                    change.physical_resource_id = getattr(resource, "physical_resource_id", None)
                if action == "Modify":
                    old = old_views.get(name, resource_map._resource_json_map[name])
                    new = new_views.get(name, self.template_dict["Resources"][name])
                    change.replacement = _replacement(resource_type, old, new)
                changes.append(change)
        return changes

    build_resource_diff_reading_parameters.ragstack_fix = True
    diff_with_parameters.ragstack_fix = True
    ResourceMap.build_resource_diff = build_resource_diff_reading_parameters
    ChangeSet.diff = diff_with_parameters


def update_auto_scaling_groups_in_place() -> None:
    from moto.autoscaling.models import FakeAutoScalingGroup, autoscaling_backends

    replace = FakeAutoScalingGroup.update_from_cloudformation_json
    if getattr(replace, "ragstack_fix", False):
        return

    def as_int(value: Any) -> int | None:
        return None if value is None else int(value)

    def update_in_place(
        cls: Any,
        original_resource: Any,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> Any:
        backend = autoscaling_backends[account_id][region_name]
        properties = cloudformation_json["Properties"]
        wanted_name = properties.get("AutoScalingGroupName")
        name = getattr(original_resource, "name", None)
        if name not in backend.autoscaling_groups or (wanted_name and wanted_name != name):
            # A new name is a replacement on AWS too.
            return replace(
                original_resource, new_resource_name, cloudformation_json, account_id, region_name
            )
        group = backend.update_auto_scaling_group(
            name=name,
            availability_zones=properties.get("AvailabilityZones", []),
            desired_capacity=as_int(properties.get("DesiredCapacity")),
            max_size=as_int(properties.get("MaxSize")),
            min_size=as_int(properties.get("MinSize")),
            launch_config_name=properties.get("LaunchConfigurationName"),
            launch_template=properties.get("LaunchTemplate", {}),
            vpc_zone_identifier=",".join(properties.get("VPCZoneIdentifier", [])) or None,
            health_check_period=as_int(properties.get("HealthCheckGracePeriod")),
            health_check_type=properties.get("HealthCheckType"),
            new_instances_protected_from_scale_in=properties.get(
                "NewInstancesProtectedFromScaleIn"
            ),
            mixed_instances_policy=properties.get("MixedInstancesPolicy") or None,
        )
        if properties.get("Cooldown") is not None:
            group.default_cooldown = as_int(properties["Cooldown"])
        group.termination_policies = properties.get("TerminationPolicies") or ["Default"]
        wanted_target_groups = properties.get("TargetGroupARNs", [])
        removed = [arn for arn in group.target_group_arns if arn not in wanted_target_groups]
        if removed:
            backend.detach_load_balancer_target_groups(name, removed)
        added = [arn for arn in wanted_target_groups if arn not in group.target_group_arns]
        if added:
            backend.attach_load_balancer_target_groups(name, added)
        # Replaced as a whole (the setter fills ResourceId/ResourceType); instances
        # launched from now on get the new propagated tags, running ones keep theirs.
        group.tags = [dict(tag) for tag in properties.get("Tags", [])]
        return group

    update_in_place.ragstack_fix = True
    FakeAutoScalingGroup.update_from_cloudformation_json = classmethod(update_in_place)


def keep_resources_moto_cannot_update() -> None:
    from moto.cloudformation import parsing

    update = parsing.parse_and_update_resource
    if getattr(update, "ragstack_fix", False):
        return

    def parse_and_update_keeping(
        logical_id: str, resource_json: Any, resources_map: Any, *args: Any, **kwargs: Any
    ) -> Any:
        updated = update(logical_id, resource_json, resources_map, *args, **kwargs)
        if updated is None:
            # No update support for this type in moto: the resource stays as it was,
            # still the stack's (listed, Ref-able, deleted with the stack).
            return resources_map._parsed_resources.get(logical_id)
        return updated

    parse_and_update_keeping.ragstack_fix = True
    parsing.parse_and_update_resource = parse_and_update_keeping


def update_log_groups_in_place() -> None:
    from moto.logs.models import LogGroup, logs_backends

    if getattr(LogGroup.update_from_cloudformation_json, "ragstack_fix", False):
        return

    def update_in_place(
        cls: Any,
        original_resource: Any,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> Any:
        backend = logs_backends[account_id][region_name]
        properties = cloudformation_json["Properties"]
        name = getattr(original_resource, "name", None)
        wanted_name = properties.get("LogGroupName")
        if name not in backend.groups or (wanted_name and wanted_name != name):
            # A new name is a replacement on AWS: the new group first, then the old one goes.
            group = cls.create_from_cloudformation_json(
                wanted_name or new_resource_name, cloudformation_json, account_id, region_name
            )
            if name in backend.groups:
                backend.delete_log_group(name)
            return group
        retention = properties.get("RetentionInDays")
        if retention is None:
            backend.delete_retention_policy(name)
        else:
            backend.put_retention_policy(name, int(retention))
        return backend.groups[name]

    update_in_place.ragstack_fix = True
    LogGroup.update_from_cloudformation_json = classmethod(update_in_place)


def default_change_sets_to_update() -> None:
    from moto.cloudformation.exceptions import AlreadyExistsException
    from moto.cloudformation.models import CloudFormationBackend
    from moto.cloudformation.responses import CloudFormationResponse

    respond = CloudFormationResponse.create_change_set
    if getattr(respond, "ragstack_fix", False):
        return
    create = CloudFormationBackend.create_change_set

    def create_change_set_defaulting_to_update(self: Any) -> Any:
        get_param = self._get_param

        def get_param_with_aws_default(name: str, default: Any = None) -> Any:
            if name == "ChangeSetType":
                return get_param(name, None) or "UPDATE"
            return get_param(name, default)

        # An instance attribute: this request only.
        self._get_param = get_param_with_aws_default
        return respond(self)

    def create_change_set_refusing_a_second_stack(
        self: Any, stack_name: str, *args: Any, **kwargs: Any
    ) -> Any:
        change_set_type = kwargs.get("change_set_type", args[4] if len(args) > 4 else None)
        if change_set_type == "CREATE" and any(
            stack.name == stack_name
            and stack.status not in ("REVIEW_IN_PROGRESS", "DELETE_COMPLETE")
            for stack in self.stacks.values()
        ):
            raise AlreadyExistsException(f"Stack [{stack_name}] already exists")
        return create(self, stack_name, *args, **kwargs)

    create_change_set_defaulting_to_update.ragstack_fix = True
    create_change_set_refusing_a_second_stack.ragstack_fix = True
    CloudFormationResponse.create_change_set = create_change_set_defaulting_to_update
    CloudFormationBackend.create_change_set = create_change_set_refusing_a_second_stack


def apply_target_group_attributes_from_templates() -> None:
    """moto's CloudFormation creates a target group without its TargetGroupAttributes:
    deregistration_delay.timeout_seconds stays 300 (the stack says 30), so every drain the
    harness plays (load balancer, Auto Scaling group) would take ten times AWS's."""
    from moto.elbv2.models import FakeTargetGroup, elbv2_backends

    create = FakeTargetGroup.create_from_cloudformation_json
    if getattr(create, "ragstack_fix", False):
        return

    def create_with_attributes(
        cls: Any,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> Any:
        target_group = create.__func__(
            cls, resource_name, cloudformation_json, account_id, region_name, **kwargs
        )
        attributes = cloudformation_json.get("Properties", {}).get("TargetGroupAttributes") or []
        if attributes:
            elbv2_backends[account_id][region_name].modify_target_group_attributes(
                target_group.arn, {a["Key"]: str(a["Value"]) for a in attributes}
            )
        return target_group

    create_with_attributes.ragstack_fix = True
    FakeTargetGroup.create_from_cloudformation_json = classmethod(create_with_attributes)


def apply_fixes() -> None:
    keep_ecs_create_service_parameters()
    publish_public_ami_parameters()
    read_yaml_condition_references()
    evaluate_bucket_policies_over_tls()
    execute_change_set_refreshing_the_stack()
    list_parameter_changes_in_change_sets()
    update_auto_scaling_groups_in_place()
    keep_resources_moto_cannot_update()
    update_log_groups_in_place()
    default_change_sets_to_update()
    apply_target_group_attributes_from_templates()
    # Last: it wraps the group update and ExecuteChangeSet fixes above.
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import autoscaling

    autoscaling.install()


def _port(argv: list[str]) -> int:
    for flag in ("-p", "--port"):
        if flag in argv:
            return int(argv[argv.index(flag) + 1])
    return 5000


def main(argv: list[str]) -> None:
    apply_fixes()
    if os.environ.get("RAGSTACK_HARNESS_INSTANCES") == "1":
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        import instance_agent

        instance_agent.start_in_background(_port(argv))
    if lb_port := os.environ.get("RAGSTACK_HARNESS_LB_PORT"):
        # The stack's ALB, played by HAProxy on 127.0.0.1:lb_port (load_balancer.py).
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        import load_balancer

        load_balancer.start_in_background(_port(argv), int(lb_port))
    from moto.server import main as moto_main

    moto_main(argv)


if __name__ == "__main__":
    main(sys.argv[1:])
