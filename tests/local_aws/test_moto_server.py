"""The local AWS launcher (tests/harness/moto_server.py).

Each fix is tested twice: through the launcher the gap is closed (AWS's behaviour), and
through plain moto_server the gap is still there. When moto closes a gap itself the second
test fails, saying the fix can go.
"""

from __future__ import annotations

from collections.abc import Callable

import moto_kit
import pytest

CLUSTER = "fidelity"
DEPLOYMENT_CONFIGURATION = {
    "deploymentCircuitBreaker": {"enable": True, "rollback": True},
    "maximumPercent": 200,
    "minimumHealthyPercent": 100,
}
GRACE_SECONDS = 300


def _create_service(aws: Callable[..., object], name: str, **extra: object) -> dict:
    ecs = aws("ecs")
    cluster_arn = ecs.create_cluster(clusterName=CLUSTER)["cluster"]["clusterArn"]
    ecs.register_task_definition(
        family=name, containerDefinitions=[{"name": "app", "image": "app:1", "memory": 512}]
    )
    ecs.create_service(
        # An ARN, as community.aws passes it when given one: the fix must resolve it.
        cluster=cluster_arn,
        serviceName=name,
        taskDefinition=f"{name}:1",
        desiredCount=1,
        **extra,
    )
    (service,) = ecs.describe_services(cluster=CLUSTER, services=[name])["services"]
    return service


def test_create_service_keeps_grace_period_and_circuit_breaker(aws):
    service = _create_service(
        aws,
        "kept",
        healthCheckGracePeriodSeconds=GRACE_SECONDS,
        deploymentConfiguration=DEPLOYMENT_CONFIGURATION,
    )
    assert service["healthCheckGracePeriodSeconds"] == GRACE_SECONDS
    assert service["deploymentConfiguration"] == DEPLOYMENT_CONFIGURATION


def test_create_service_without_them_reads_back_without_them(aws):
    service = _create_service(aws, "bare")
    assert "healthCheckGracePeriodSeconds" not in service
    assert "deploymentConfiguration" not in service


def test_plain_moto_still_drops_them(plain_moto):
    service = _create_service(
        plain_moto,
        "dropped",
        healthCheckGracePeriodSeconds=GRACE_SECONDS,
        deploymentConfiguration=DEPLOYMENT_CONFIGURATION,
    )
    kept = {k for k in ("healthCheckGracePeriodSeconds", "deploymentConfiguration") if k in service}
    assert not kept, (
        f"moto now stores {sorted(kept)} on CreateService: remove the fix "
        "keep_ecs_create_service_parameters from tests/harness/moto_server.py"
    )


# --- public AMI parameters ------------------------------------------------------------

TEMPLATE_AMI_PARAMETERS = (
    "/aws/service/debian/release/13/latest/amd64",
    "/aws/service/deeplearning/ami/x86_64/base-oss-nvidia-driver-gpu-ubuntu-22.04/latest/ami-id",
)


def test_template_ami_parameters_resolve_to_moto_amis(aws):
    """The parameters cloudformation/ec2.yaml defaults to exist, each naming an AMI moto has."""
    template = (moto_kit.REPO_ROOT / "cloudformation/ec2.yaml").read_text()
    ssm, ec2 = aws("ssm"), aws("ec2")
    for name in TEMPLATE_AMI_PARAMETERS:
        assert f"Default: {name}" in template
        ami_id = ssm.get_parameter(Name=name)["Parameter"]["Value"]
        assert ec2.describe_images(ImageIds=[ami_id])["Images"], ami_id


def test_plain_moto_still_lacks_the_public_ami_parameters(plain_moto):
    missing = []
    for name in TEMPLATE_AMI_PARAMETERS:
        try:
            plain_moto("ssm").get_parameter(Name=name)
        except plain_moto("ssm").exceptions.ParameterNotFound:
            missing.append(name)
    assert missing == list(TEMPLATE_AMI_PARAMETERS), (
        f"moto now has {sorted(set(TEMPLATE_AMI_PARAMETERS) - set(missing))}: remove the fix "
        "publish_public_ami_parameters from tests/harness/moto_server.py"
    )


# --- !Condition in YAML ----------------------------------------------------------------

CONDITION_TEMPLATE = """
Parameters:
  Mode: {Type: String}
  Key: {Type: String, Default: ""}
Conditions:
  UseSsh: !Equals [!Ref Mode, ssh]
  HasKey: !And [!Condition UseSsh, !Not [!Equals [!Ref Key, ""]]]
Resources:
  Group:
    Type: AWS::Logs::LogGroup
Outputs:
  HasKey:
    Value: !If [HasKey, "true", "false"]
"""


def _has_key(aws, stack: str, mode: str, key: str) -> str:
    cfn = aws("cloudformation")
    cfn.create_stack(
        StackName=stack,
        TemplateBody=CONDITION_TEMPLATE,
        Parameters=[
            {"ParameterKey": "Mode", "ParameterValue": mode},
            {"ParameterKey": "Key", "ParameterValue": key},
        ],
    )
    (stack_description,) = cfn.describe_stacks(StackName=stack)["Stacks"]
    return {o["OutputKey"]: o["OutputValue"] for o in stack_description["Outputs"]}["HasKey"]


@pytest.mark.parametrize(
    ("mode", "key", "expected"),
    [("ssh", "ops", "true"), ("ssh", "", "false"), ("ssm", "ops", "false")],
)
def test_yaml_condition_references_are_evaluated(aws, mode, key, expected):
    assert _has_key(aws, f"condition-{mode}-{key or 'none'}", mode, key) == expected


def test_plain_moto_still_misreads_yaml_condition_references(plain_moto):
    assert _has_key(plain_moto, "condition-plain", "ssh", "ops") == "false", (
        "moto now evaluates `!Condition` in YAML: remove the fix "
        "read_yaml_condition_references from tests/harness/moto_server.py"
    )


# --- bucket policy conditions -----------------------------------------------------------


def _statement(sid: str, bucket: str, condition: dict | None = None, action: str = "s3:*") -> dict:
    statement = {
        "Sid": sid,
        "Effect": "Deny",
        "Principal": "*",
        "Action": action,
        "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
    }
    if condition:
        statement["Condition"] = condition
    return statement


TLS_ONLY = {"Bool": {"aws:SecureTransport": "false"}}


def _head_status(aws, bucket: str, statements: list[dict]) -> int:
    import json

    s3 = aws("s3")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="artifacts/a.txt", Body=b"a")
    s3.put_bucket_policy(
        Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": statements})
    )
    try:
        s3.head_object(Bucket=bucket, Key="artifacts/a.txt")
    except s3.exceptions.ClientError as exc:
        return int(exc.response["Error"]["Code"])
    return 200


def test_tls_only_bucket_policy_allows_the_sdk(aws):
    """The TLS-only statement (release bucket, SSM transfer bucket) lets SDK calls through."""
    assert (
        _head_status(aws, "tls-only", [_statement("DenyInsecureTransport", "tls-only", TLS_ONLY)])
        == 200
    )


def test_unconditional_deny_still_denies(aws):
    """Positive control: the same check sees a Deny that holds, next to the TLS-only one."""
    statements = [
        _statement("DenyInsecureTransport", "denied", TLS_ONLY),
        _statement("DenyEverything", "denied"),
    ]
    assert _head_status(aws, "denied", statements) == 403


def test_plain_moto_still_ignores_policy_conditions(plain_moto):
    # A condition that never holds on AWS (no IAM user of that name makes SDK calls here):
    # AWS allows the call, moto (no Condition support) denies it.
    never = {"StringEquals": {"aws:username": "nobody-at-all"}}
    assert (
        _head_status(plain_moto, "conditions", [_statement("NeverApplies", "conditions", never)])
        == 403
    ), (
        "moto now evaluates bucket policy conditions: re-check evaluate_bucket_policies_over_tls "
        "in tests/harness/moto_server.py (it may only need to speak for the plain-HTTP harness)"
    )


# --- target group attributes from a template ----------------------------------------------

TARGET_GROUP_TEMPLATE = """
Resources:
  Vpc:
    Type: AWS::EC2::VPC
    Properties: {CidrBlock: 10.77.0.0/16}
  TargetGroup:
    Type: AWS::ElasticLoadBalancingV2::TargetGroup
    Properties:
      VpcId: !Ref Vpc
      Protocol: HTTPS
      Port: 443
      TargetGroupAttributes:
        - {Key: deregistration_delay.timeout_seconds, Value: "30"}
Outputs:
  TargetGroupArn:
    Value: !Ref TargetGroup
"""


def _deregistration_delay(aws, stack: str) -> str:
    cfn = aws("cloudformation")
    cfn.create_stack(StackName=stack, TemplateBody=TARGET_GROUP_TEMPLATE)
    (described,) = cfn.describe_stacks(StackName=stack)["Stacks"]
    arn = {o["OutputKey"]: o["OutputValue"] for o in described["Outputs"]}["TargetGroupArn"]
    attributes = aws("elbv2").describe_target_group_attributes(TargetGroupArn=arn)["Attributes"]
    return {a["Key"]: a["Value"] for a in attributes}["deregistration_delay.timeout_seconds"]


def test_target_group_attributes_from_the_template_apply(aws):
    assert _deregistration_delay(aws, "tg-attributes") == "30"


def test_plain_moto_still_ignores_target_group_attributes(plain_moto):
    assert _deregistration_delay(plain_moto, "tg-attributes-plain") == "300", (
        "moto now applies a template's TargetGroupAttributes: remove the fix "
        "apply_target_group_attributes_from_templates from tests/harness/moto_server.py"
    )
