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

With RAGSTACK_HARNESS_INSTANCES=1 the process also plays EC2's data plane
(instance_agent.py): every running instance gets a systemd container.
"""

from __future__ import annotations

import os
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


def apply_fixes() -> None:
    keep_ecs_create_service_parameters()
    publish_public_ami_parameters()
    read_yaml_condition_references()
    evaluate_bucket_policies_over_tls()


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
    from moto.server import main as moto_main

    moto_main(argv)


if __name__ == "__main__":
    main(sys.argv[1:])
