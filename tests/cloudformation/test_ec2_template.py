"""Static checks of cloudformation/ec2.yaml: what moto cannot show.

moto ignores Rules, inline SecurityGroupEgress and LoadBalancerAttributes, so those
are asserted on the template itself; Conditions are evaluated for every allowed
instance type rather than for the handful of stacks the moto tests create.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from typing import Any

import pytest
from ansible_collections.ragstack.aws.plugins.module_utils import ec2_params
from cfn_eval import Evaluator, load_template, parameter_values

TEMPLATE = load_template()
RESOURCES = TEMPLATE["Resources"]
VALID_PARAMS = {
    "CertificateArn": "arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-aaaa-bbbb",
    "AdminCidr": "",
}
INSTANCE_TYPES = TEMPLATE["Parameters"]["InstanceType"]["AllowedValues"]
GPU_TYPES = [t for t in INSTANCE_TYPES if t.split(".")[0] in ec2_params.GPU_FAMILIES]
CPU_TYPES = [t for t in INSTANCE_TYPES if t not in GPU_TYPES]


def evaluator(**overrides: str) -> Evaluator:
    return Evaluator(TEMPLATE, parameter_values(TEMPLATE, {**VALID_PARAMS, **overrides}))


def resources_of_type(resource_type: str) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in RESOURCES.items() if r["Type"] == resource_type}


def walk(node: Any) -> Iterator[Any]:
    yield node
    if isinstance(node, dict):
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)


def policy_documents() -> Iterator[tuple[str, dict[str, Any]]]:
    """Every IAM policy document the template defines, wherever it sits."""
    for name, resource in RESOURCES.items():
        for node in walk(resource.get("Properties", {})):
            if isinstance(node, dict) and "Statement" in node:
                yield name, node


# ---------------------------------------------------------------- parameters


def test_template_header() -> None:
    assert TEMPLATE["AWSTemplateFormatVersion"] == "2010-09-09"
    assert TEMPLATE["Description"]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("CpuAmiId", "/aws/service/debian/release/13/latest/amd64"),
        (
            "GpuAmiId",
            "/aws/service/deeplearning/ami/x86_64/base-oss-nvidia-driver-gpu-ubuntu-22.04/latest/ami-id",
        ),
    ],
)
def test_ami_parameters_are_typed_ssm_public_parameters(name: str, expected: str) -> None:
    spec = TEMPLATE["Parameters"][name]
    assert spec["Type"] == "AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>"
    assert spec["Default"] == expected


@pytest.mark.parametrize("name", ["AdminCidr", "CertificateArn"])
def test_security_relevant_parameters_have_no_default(name: str) -> None:
    assert "Default" not in TEMPLATE["Parameters"][name]
    assert name in ec2_params.REQUIRED


def test_parameter_basics() -> None:
    params = TEMPLATE["Parameters"]
    assert params["EnvironmentName"]["AllowedValues"] == ["dev", "staging", "prod"]
    assert params["InstanceType"]["Default"] == "t3.large"
    assert (
        params["InstanceCount"].items() >= {"Type": "Number", "MinValue": 1, "MaxValue": 10}.items()
    )
    assert params["ConnectionMode"]["Default"] == "ssm"
    assert params["HealthCheckPath"]["Default"] == "/api/ready"
    assert params["LogRetentionDays"]["Default"] == 30
    assert params["ExistingPublicSubnetIds"]["Type"] == "CommaDelimitedList"
    assert params["ExistingPrivateSubnetIds"]["Type"] == "CommaDelimitedList"
    families = {t.split(".")[0] for t in INSTANCE_TYPES}
    assert families >= {"t3", "m6i", "c6i", "g4dn", "g5", "g6", "p3"}


def test_module_defaults_match_template_defaults() -> None:
    for name, default in ec2_params.DEFAULTS.items():
        assert str(TEMPLATE["Parameters"][name]["Default"]) == str(default), name


@pytest.mark.parametrize(
    ("cidr", "allowed"),
    [
        ("203.0.113.0/24", True),
        ("198.51.100.7/32", True),
        ("", True),
        ("0.0.0.0/0", False),
        ("10.0.0.0/0", False),
        ("203.0.113.0/33", False),
        ("203.0.113.0", False),
        ("::/0", False),
    ],
)
def test_admin_cidr_pattern(cidr: str, allowed: bool) -> None:
    pattern = TEMPLATE["Parameters"]["AdminCidr"]["AllowedPattern"]
    assert bool(re.fullmatch(pattern, cidr)) is allowed


# ---------------------------------------------------------------- AMI selection


def test_gpu_families_agree_everywhere() -> None:
    """IsGpuFamily, the GpuInstanceNeedsGpuAmi rule and GPU_FAMILIES name the same types."""
    condition_families = {
        arg[1]
        for arg in TEMPLATE["Conditions"]["IsGpuFamily"]["Fn::Or"]
        for arg in [arg["Fn::Equals"]]
    }
    assert condition_families == set(ec2_params.GPU_FAMILIES)
    rule_types = TEMPLATE["Rules"]["GpuInstanceNeedsGpuAmi"]["RuleCondition"]["Fn::Contains"][0]
    assert sorted(rule_types) == sorted(GPU_TYPES)
    assert GPU_TYPES, "no GPU instance types allowed"
    assert CPU_TYPES, "no CPU instance types allowed"


@pytest.mark.parametrize(
    ("instance_type", "ami_kind"), list(itertools.product(INSTANCE_TYPES, ["auto", "cpu", "gpu"]))
)
def test_ami_choice_matches_module(instance_type: str, ami_kind: str) -> None:
    ev = evaluator(InstanceType=instance_type, AmiKind=ami_kind)
    expected_gpu = ec2_params.resolve_ami_kind(instance_type, ami_kind) == "gpu"
    assert ev.condition("UseGpuAmi") is expected_gpu
    data = RESOURCES["LaunchTemplate"]["Properties"]["LaunchTemplateData"]
    chosen = "GpuAmiId" if expected_gpu else "CpuAmiId"
    assert ev.value(data["ImageId"]) == TEMPLATE["Parameters"][chosen]["Default"]


@pytest.mark.parametrize("instance_type", GPU_TYPES)
def test_gpu_types_select_gpu_ami_in_auto_mode(instance_type: str) -> None:
    assert evaluator(InstanceType=instance_type).condition("UseGpuAmi") is True


@pytest.mark.parametrize("instance_type", CPU_TYPES)
def test_cpu_types_select_cpu_ami_in_auto_mode(instance_type: str) -> None:
    assert evaluator(InstanceType=instance_type).condition("UseGpuAmi") is False


def test_root_device_follows_ami() -> None:
    """Debian maps /dev/xvda, the Ubuntu DLAMI /dev/sda1; the wrong name adds a disk."""
    mapping = RESOURCES["LaunchTemplate"]["Properties"]["LaunchTemplateData"][
        "BlockDeviceMappings"
    ][0]
    cpu, gpu = evaluator(InstanceType="t3.large"), evaluator(InstanceType="g5.xlarge")
    assert cpu.value(mapping["DeviceName"]) == "/dev/xvda"
    assert gpu.value(mapping["DeviceName"]) == "/dev/sda1"
    assert cpu.value(mapping["Ebs"]["VolumeSize"]) == "40"
    assert gpu.value(mapping["Ebs"]["VolumeSize"]) == "100"


# ---------------------------------------------------------------- Rules vs. the module


RULE_CASES = [
    # (overrides, rule expected to fail)
    ({"InstanceType": "g5.xlarge", "AmiKind": "cpu"}, "GpuInstanceNeedsGpuAmi"),
    ({"InstanceType": "p3.2xlarge", "AmiKind": "cpu"}, "GpuInstanceNeedsGpuAmi"),
    ({"AdminCidr": "0.0.0.0/0"}, "AdminCidrNotOpen"),
    ({"AdminCidr": "0.0.0.0/0", "ConnectionMode": "ssh"}, "AdminCidrNotOpen"),
    ({"ConnectionMode": "ssh", "AdminCidr": ""}, "SshNeedsAdminCidr"),
    ({"KeyName": "ops"}, "KeyNameOnlyWithSsh"),
    ({"VpcMode": "existing"}, "ExistingVpcNeedsVpcId"),
]


@pytest.mark.parametrize(("overrides", "rule"), RULE_CASES)
def test_rule_refuses_and_module_agrees(overrides: dict[str, str], rule: str) -> None:
    failures = evaluator(**overrides).failed_rules()
    assert rule in failures
    assert all(description.strip() for description in failures[rule])
    assert ec2_params.validate_ec2_params({**VALID_PARAMS, **overrides})


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"InstanceType": "g5.xlarge"},
        {"InstanceType": "g6.xlarge", "AmiKind": "gpu"},
        {"InstanceType": "t3.large", "AmiKind": "gpu"},
        {"InstanceType": "m6i.large", "AmiKind": "cpu"},
        {"ConnectionMode": "ssh", "AdminCidr": "203.0.113.0/24", "KeyName": "ops"},
        {
            "VpcMode": "existing",
            "ExistingVpcId": "vpc-0123456789abcdef0",
            "ExistingPublicSubnetIds": "subnet-0123456789abcdef0,subnet-0123456789abcdef1",
            "ExistingPrivateSubnetIds": "subnet-0123456789abcdef2",
        },
    ],
)
def test_valid_parameters_pass_rules_and_module(overrides: dict[str, str]) -> None:
    assert evaluator(**overrides).failed_rules() == {}
    assert ec2_params.validate_ec2_params({**VALID_PARAMS, **overrides}) == []


def test_every_rule_is_exercised() -> None:
    assert {rule for _, rule in RULE_CASES} == set(TEMPLATE["Rules"])


# ---------------------------------------------------------------- network and security groups


def ingress_rules() -> Iterator[tuple[str, dict[str, Any]]]:
    for name, sg in resources_of_type("AWS::EC2::SecurityGroup").items():
        for rule in sg["Properties"].get("SecurityGroupIngress", []):
            yield name, rule
    for name, rule in resources_of_type("AWS::EC2::SecurityGroupIngress").items():
        yield name, rule["Properties"]


def covers(rule: dict[str, Any], port: int) -> bool:
    if str(rule["IpProtocol"]) == "-1":
        return True
    return int(rule["FromPort"]) <= port <= int(rule["ToPort"])


def test_only_the_alb_is_open_to_the_world_and_only_on_80_443() -> None:
    open_rules = [(n, r) for n, r in ingress_rules() if r.get("CidrIp") == "0.0.0.0/0"]
    assert {(n, r["FromPort"], r["ToPort"]) for n, r in open_rules} == {
        ("AlbSecurityGroup", 443, 443),
        ("AlbSecurityGroup", 80, 80),
    }
    assert not [r for _, r in ingress_rules() if "CidrIpv6" in r]


@pytest.mark.parametrize("port", [22, 5000, 8000, 27017])
def test_no_other_port_from_anywhere(port: int) -> None:
    assert not [
        (name, rule)
        for name, rule in ingress_rules()
        if covers(rule, port)
        and "SourceSecurityGroupId" not in rule
        and rule.get("CidrIp") != {"Ref": "AdminCidr"}
    ]


def test_services_ports_never_opened() -> None:
    assert not [(n, r) for n, r in ingress_rules() if covers(r, 5000) or covers(r, 8000)]


def test_instance_ingress_is_443_from_alb_and_conditional_ssh() -> None:
    to_instances = [
        (n, r) for n, r in ingress_rules() if r.get("GroupId") == {"Ref": "InstanceSecurityGroup"}
    ]
    assert sorted(n for n, _ in to_instances) == ["InstanceIngressFromAlb", "InstanceSshIngress"]
    alb = RESOURCES["InstanceIngressFromAlb"]["Properties"]
    assert (alb["FromPort"], alb["ToPort"], alb["SourceSecurityGroupId"]) == (
        443,
        443,
        {"Ref": "AlbSecurityGroup"},
    )
    ssh = RESOURCES["InstanceSshIngress"]
    assert ssh["Condition"] == "UseSsh"
    assert ssh["Properties"]["CidrIp"] == {"Ref": "AdminCidr"}
    assert (ssh["Properties"]["FromPort"], ssh["Properties"]["ToPort"]) == (22, 22)
    assert "SecurityGroupIngress" not in RESOURCES["InstanceSecurityGroup"]["Properties"]


def test_egress_is_restricted_with_reasons() -> None:
    """moto ignores inline SecurityGroupEgress (keeps allow-all), so this is template-only."""
    egress = RESOURCES["InstanceSecurityGroup"]["Properties"]["SecurityGroupEgress"]
    assert {(r["IpProtocol"], r["FromPort"], r["ToPort"]) for r in egress} == {
        ("tcp", 443, 443),
        ("tcp", 80, 80),
        ("tcp", 27017, 27017),
        ("udp", 53, 53),
        ("tcp", 53, 53),
    }
    assert all(r["Description"] for r in egress)
    assert [r for r in egress if r["FromPort"] == 53] == [
        r for r in egress if r.get("CidrIp") == {"Ref": "VpcCidr"}
    ]
    alb_egress = RESOURCES["AlbSecurityGroup"]["Properties"]["SecurityGroupEgress"]
    assert [(r["FromPort"], r["DestinationSecurityGroupId"]) for r in alb_egress] == [
        (443, {"Ref": "InstanceSecurityGroup"})
    ]
    for sg in resources_of_type("AWS::EC2::SecurityGroup").values():
        assert all(str(r["IpProtocol"]) != "-1" for r in sg["Properties"]["SecurityGroupEgress"])


def test_vpc_layout() -> None:
    subnets = resources_of_type("AWS::EC2::Subnet")
    assert len(subnets) == 4
    assert all(s["Condition"] == "CreateVpc" for s in subnets.values())
    azs = {
        name: s["Properties"]["AvailabilityZone"]["Fn::Select"][0] for name, s in subnets.items()
    }
    assert azs == {"PublicSubnet1": 0, "PublicSubnet2": 1, "PrivateSubnet1": 0, "PrivateSubnet2": 1}
    assert all(s["Properties"]["MapPublicIpOnLaunch"] is False for s in subnets.values())
    assert RESOURCES["NatGateway"]["Condition"] == "CreateNat"
    assert len(resources_of_type("AWS::EC2::NatGateway")) == 1
    assert evaluator(NatGatewayMode="none").condition("CreateNat") is False
    assert (
        evaluator(VpcMode="existing", ExistingVpcId="vpc-0123abcd").condition("CreateNat") is False
    )


# ---------------------------------------------------------------- load balancer


def test_alb_attributes() -> None:
    """moto's CloudFormation drops LoadBalancerAttributes, so they are checked here."""
    lb = RESOURCES["LoadBalancer"]["Properties"]
    assert lb["Scheme"] == "internet-facing"
    attributes = {a["Key"]: a["Value"] for a in lb["LoadBalancerAttributes"] if "Key" in a}
    assert attributes["routing.http.drop_invalid_header_fields.enabled"] == "true"
    deletion = attributes["deletion_protection.enabled"]
    assert evaluator(EnvironmentName="prod").value(deletion) == "true"
    assert evaluator(EnvironmentName="dev").value(deletion) == "false"
    assert evaluator(EnvironmentName="staging").value(deletion) == "false"
    access_logs = attributes["access_logs.s3.enabled"]
    assert evaluator().value(access_logs) == "false"
    assert evaluator(AlbAccessLogBucket="ragstack-logs").value(access_logs) == "true"


def test_listeners() -> None:
    https = RESOURCES["HttpsListener"]["Properties"]
    assert (https["Protocol"], https["Port"]) == ("HTTPS", 443)
    assert https["SslPolicy"] == "ELBSecurityPolicy-TLS13-1-2-2021-06"
    assert https["Certificates"] == [{"CertificateArn": {"Ref": "CertificateArn"}}]
    http = RESOURCES["HttpListener"]["Properties"]
    assert (http["Protocol"], http["Port"]) == ("HTTP", 80)
    (action,) = http["DefaultActions"]
    assert action["Type"] == "redirect"
    assert action["RedirectConfig"]["Protocol"] == "HTTPS"
    assert action["RedirectConfig"]["StatusCode"] == "HTTP_301"


# ---------------------------------------------------------------- hosts


def test_launch_template_hardening() -> None:
    data = RESOURCES["LaunchTemplate"]["Properties"]["LaunchTemplateData"]
    assert data["MetadataOptions"]["HttpTokens"] == "required"
    assert data["MetadataOptions"]["HttpPutResponseHopLimit"] == 2
    assert data["Monitoring"] == {"Enabled": True}
    ebs = data["BlockDeviceMappings"][0]["Ebs"]
    assert (ebs["VolumeType"], ebs["Encrypted"]) == ("gp3", True)
    # One first-boot script for every host; the SSM agent's part only where it is needed
    # (test_ec2_ssm_user_data.py, test_ec2_boot_script.py).
    assert set(data["UserData"]) == {"Fn::Base64"}


def test_key_name_only_with_ssh() -> None:
    key_name = RESOURCES["LaunchTemplate"]["Properties"]["LaunchTemplateData"]["KeyName"]
    assert key_name["Fn::If"][0] == "HasKeyName"
    assert evaluator(KeyName="ops").condition("HasKeyName") is False
    assert (
        evaluator(ConnectionMode="ssh", AdminCidr="203.0.113.0/24", KeyName="ops").condition(
            "HasKeyName"
        )
        is True
    )


def test_auto_scaling_group() -> None:
    asg = RESOURCES["AutoScalingGroup"]
    props = asg["Properties"]
    assert props["HealthCheckType"] == "ELB"
    count = {"Ref": "InstanceCount"}
    assert (props["MinSize"], props["DesiredCapacity"]) == (count, count)
    assert props["TargetGroupARNs"] == [{"Ref": "TargetGroup"}]
    tags = {t["Key"]: t for t in props["Tags"]}
    assert tags["ragstack:role"]["Value"] == "app"
    assert tags["ragstack:stack"]["Value"] == {"Ref": "AWS::StackName"}
    assert tags["ragstack:env"]["Value"] == {"Ref": "EnvironmentName"}
    assert all(t["PropagateAtLaunch"] is True for t in tags.values())
    # MaxSize and the rolling update: test_ec2_self_configuring.py.


def test_target_group_health_check() -> None:
    tg = RESOURCES["TargetGroup"]["Properties"]
    assert (tg["Protocol"], tg["Port"], tg["HealthCheckProtocol"]) == ("HTTPS", 443, "HTTPS")
    assert tg["HealthCheckPath"] == {"Ref": "HealthCheckPath"}
    assert tg["Matcher"] == {"HttpCode": "200"}


# ---------------------------------------------------------------- IAM


# Read-only calls AWS authorises on no resource (IAM's "Resource types" column is empty for
# them): the only Allow that may name Resource "*", each alone in its statement.
NO_RESOURCE_LEVEL_ACTIONS = {
    "autoscaling:DescribeAutoScalingInstances",
    "elasticloadbalancing:DescribeTargetHealth",
}


def test_policies_have_no_wildcard_actions() -> None:
    """No Allow has a wildcard action or resource (except the read-only calls AWS has no
    resource for); only a Deny may cover s3:* (the transfer bucket's TLS-only policy, which
    must refuse every action)."""
    documents = list(policy_documents())
    assert len(documents) >= 2, "expected the trust policy and the inline policy"
    denies = []
    for name, document in documents:
        statements = document["Statement"]
        for statement in statements if isinstance(statements, list) else [statements]:
            assert "NotAction" not in statement, name
            assert "NotResource" not in statement, name
            assert "NotPrincipal" not in statement, name
            if statement.get("Resource") == "*":
                assert statement["Effect"] == "Allow", name
                assert statement["Action"] in NO_RESOURCE_LEVEL_ACTIONS, name
            if statement["Effect"] == "Deny":
                denies.append((name, statement["Sid"]))
                continue
            assert statement["Effect"] == "Allow", name
            actions = statement["Action"]
            for action in actions if isinstance(actions, list) else [actions]:
                assert "*" not in action, f"{name}: wildcard action {action}"
    assert denies == [("SsmTransferBucketPolicy", "DenyInsecureTransport")]


def test_inline_policy_scope() -> None:
    role = RESOURCES["InstanceRole"]["Properties"]
    assert [arn["Fn::Sub"] for arn in role["ManagedPolicyArns"]] == [
        "arn:${AWS::Partition}:iam::aws:policy/AmazonSSMManagedInstanceCore",
        "arn:${AWS::Partition}:iam::aws:policy/CloudWatchAgentServerPolicy",
        "arn:${AWS::Partition}:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly",
    ]
    (policy,) = role["Policies"]
    statements = {s["Sid"]: s for s in policy["PolicyDocument"]["Statement"]}
    ssm = statements["ReadEnvironmentParameters"]
    assert sorted(ssm["Action"]) == [
        "ssm:GetParameter",
        "ssm:GetParameters",
        "ssm:GetParametersByPath",
    ]
    assert ssm["Resource"]["Fn::Sub"].endswith(":parameter/ragstack/${EnvironmentName}/*")
    secrets = statements["ReadEnvironmentSecrets"]
    assert secrets["Action"] == "secretsmanager:GetSecretValue"
    assert secrets["Resource"]["Fn::Sub"].endswith(":secret:ragstack/${EnvironmentName}/*")
    kms = statements["DecryptThroughSsmAndSecretsManager"]
    assert kms["Action"] == "kms:Decrypt"
    via = kms["Condition"]["StringEquals"]["kms:ViaService"]
    assert [v["Fn::Sub"].split(".")[0] for v in via] == ["ssm", "secretsmanager"]


# ---------------------------------------------------------------- SSM connection: transfer bucket
# moto's CloudFormation applies only the bucket's encryption and tags and has no
# AWS::S3::BucketPolicy (test_ec2_stack_moto.py names the gap), so the rest is checked here.

SSM_TRANSFER_RESOURCES = ("SsmTransferBucket", "SsmTransferBucketPolicy", "SsmTransferBucketAccess")
SSH = {"ConnectionMode": "ssh", "AdminCidr": "203.0.113.0/24"}
CMK = "arn:aws:kms:us-east-1:123456789012:key/0a1b2c3d-0000-1111-2222-333344445555"


def test_transfer_bucket_exists_only_in_ssm_mode() -> None:
    for name in SSM_TRANSFER_RESOURCES:
        assert RESOURCES[name]["Condition"] == "UseSsm", name
    assert RESOURCES["SsmTransferKmsAccess"]["Condition"] == "HasSsmTransferKmsKey"
    assert evaluator().condition("UseSsm") is True
    assert evaluator(**SSH).condition("UseSsm") is False
    assert evaluator().condition("HasSsmTransferKmsKey") is False
    assert evaluator(SsmTransferKmsKeyArn=CMK).condition("HasSsmTransferKmsKey") is True
    assert evaluator(**SSH, SsmTransferKmsKeyArn=CMK).condition("HasSsmTransferKmsKey") is False
    outputs = TEMPLATE["Outputs"]
    assert outputs["SsmTransferBucket"]["Condition"] == "UseSsm"
    assert outputs["SsmTransferBucket"]["Value"] == {"Ref": "SsmTransferBucket"}
    assert outputs["SsmTransferKmsKeyArn"]["Condition"] == "HasSsmTransferKmsKey"
    assert outputs["SsmTransferKmsKeyArn"]["Value"] == {"Ref": "SsmTransferKmsKeyArn"}


@pytest.mark.parametrize(("value", "allowed"), [("", True), (CMK, True), ("alias/aws/s3", False)])
def test_transfer_kms_key_parameter(value: str, allowed: bool) -> None:
    spec = TEMPLATE["Parameters"]["SsmTransferKmsKeyArn"]
    assert spec["Default"] == ""
    assert bool(re.fullmatch(spec["AllowedPattern"], value)) is allowed


def test_transfer_bucket_keeps_nothing() -> None:
    """SSE-KMS, versioning never enabled, everything expires after a day, no public access,
    no ACLs (bucket owner enforced); the name is CloudFormation's (unique per stack)."""
    props = RESOURCES["SsmTransferBucket"]["Properties"]
    assert "BucketName" not in props
    (encryption,) = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    default = encryption["ServerSideEncryptionByDefault"]
    assert default["SSEAlgorithm"] == "aws:kms"
    assert default["KMSMasterKeyID"] == {
        "Fn::If": ["HasSsmTransferKmsKey", {"Ref": "SsmTransferKmsKeyArn"}, {"Ref": "AWS::NoValue"}]
    }
    assert "VersioningConfiguration" not in props
    (rule,) = props["LifecycleConfiguration"]["Rules"]
    assert rule["Status"] == "Enabled"
    assert rule["ExpirationInDays"] == 1
    assert rule["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 1}
    assert not {"Prefix", "Filter", "TagFilters"} & set(rule), "the rule must cover every object"
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert props["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}


def test_transfer_bucket_refuses_anything_but_tls() -> None:
    policy = RESOURCES["SsmTransferBucketPolicy"]["Properties"]
    assert policy["Bucket"] == {"Ref": "SsmTransferBucket"}
    (statement,) = policy["PolicyDocument"]["Statement"]
    assert statement == {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [
            {"Fn::Sub": "arn:${AWS::Partition}:s3:::${SsmTransferBucket}"},
            {"Fn::Sub": "arn:${AWS::Partition}:s3:::${SsmTransferBucket}/*"},
        ],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


def test_instance_role_may_use_only_the_transfer_objects() -> None:
    access = RESOURCES["SsmTransferBucketAccess"]["Properties"]
    assert access["Roles"] == [{"Ref": "InstanceRole"}]
    (statement,) = access["PolicyDocument"]["Statement"]
    assert statement["Effect"] == "Allow"
    assert sorted(statement["Action"]) == ["s3:DeleteObject", "s3:GetObject", "s3:PutObject"]
    assert statement["Resource"] == {"Fn::Sub": "arn:${AWS::Partition}:s3:::${SsmTransferBucket}/*"}
    # No other Allow in the template grants anything of S3.
    s3_grants = [
        (name, s.get("Sid"))
        for name, document in policy_documents()
        for s in document["Statement"]
        if s["Effect"] == "Allow"
        and any(
            a.startswith("s3:")
            for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])
        )
    ]
    assert sorted(s3_grants) == [
        ("ReleaseReadPolicy", "ReadReleaseArtifacts"),
        ("SsmTransferBucketAccess", "SsmTransferObjects"),
    ]
    kms = RESOURCES["SsmTransferKmsAccess"]["Properties"]
    assert kms["Roles"] == [{"Ref": "InstanceRole"}]
    (statement,) = kms["PolicyDocument"]["Statement"]
    assert sorted(statement["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey"]
    assert statement["Resource"] == {"Ref": "SsmTransferKmsKeyArn"}
    assert statement["Condition"] == {
        "StringEquals": {"kms:ViaService": {"Fn::Sub": "s3.${AWS::Region}.${AWS::URLSuffix}"}}
    }


def test_instance_role_reads_only_the_release_prefixes() -> None:
    """Hosts fetch their release's bundle themselves: read-only, two prefixes, one bucket."""
    release = RESOURCES["ReleaseReadPolicy"]
    assert release["Condition"] == "HasReleaseBucket"
    assert release["Properties"]["Roles"] == [{"Ref": "InstanceRole"}]
    (statement,) = release["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Effect"] == "Allow"
    assert statement["Action"] == "s3:GetObject"
    assert statement["Resource"] == [
        {"Fn::Sub": "arn:${AWS::Partition}:s3:::${ReleaseBucket}/artifacts/*"},
        {"Fn::Sub": "arn:${AWS::Partition}:s3:::${ReleaseBucket}/releases/*"},
    ]
    assert TEMPLATE["Conditions"]["HasReleaseBucket"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "ReleaseBucket"}, ""]}]
    }


def test_release_id_parameter_and_output() -> None:
    parameter = TEMPLATE["Parameters"]["ReleaseId"]
    assert parameter["Default"] == ""
    assert re.fullmatch(parameter["AllowedPattern"], "r-3f9a2c1d7e4b")
    assert re.fullmatch(parameter["AllowedPattern"], "")
    assert not re.fullmatch(parameter["AllowedPattern"], "latest")
    assert TEMPLATE["Outputs"]["ReleaseId"]["Value"] == {"Ref": "ReleaseId"}


# ---------------------------------------------------------------- logs, outputs, suppressions


def test_log_groups() -> None:
    groups = resources_of_type("AWS::Logs::LogGroup")
    names = sorted(g["Properties"]["LogGroupName"]["Fn::Sub"] for g in groups.values())
    assert names == [
        "/ragstack/${EnvironmentName}/app",
        "/ragstack/${EnvironmentName}/docker",
        "/ragstack/${EnvironmentName}/nginx/access",
        "/ragstack/${EnvironmentName}/nginx/error",
    ]
    for group in groups.values():
        assert group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
        assert group["Properties"]["KmsKeyId"]["Fn::If"][0] == "HasLogKmsKey"


def test_outputs() -> None:
    assert set(TEMPLATE["Outputs"]) >= {
        "Url",
        "AlbDnsName",
        "AutoScalingGroupName",
        "InstanceTagFilter",
        "StackVersion",
        "TargetGroupArn",
        "InstanceSecurityGroupId",
        "LogGroupPrefix",
        "SsmTransferBucket",
    }
    assert TEMPLATE["Outputs"]["Url"]["Value"] == {"Fn::Sub": "https://${LoadBalancer.DNSName}"}


def test_every_checkov_suppression_has_a_reason() -> None:
    skips = [
        (name, skip)
        for name, resource in RESOURCES.items()
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", [])
    ]
    assert {skip["id"] for _, skip in skips} == {
        "CKV_AWS_260",
        "CKV_AWS_91",
        # The SSM transfer bucket: no versioning on purpose, no access log bucket.
        "CKV_AWS_21",
        "CKV_AWS_18",
    }
    assert all(len(skip["comment"]) > 30 for _, skip in skips)
