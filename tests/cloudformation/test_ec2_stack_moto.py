"""Create cloudformation/ec2.yaml stacks in a moto server and inspect what they built.

moto gaps met here (each is worked around or asserted elsewhere, never skipped):
- SSM: `/aws/service/...` names are reserved (PutParameter -> AccessDeniedException)
  and moto ships neither the Debian 13 nor the Deep Learning AMI public parameters.
  The tests publish the AMI ids under /ragstack-test/ami/* instead, pointing at AMIs
  from moto's default AMI list.
- CloudFormation: moto resolves the *Default* of every AWS::SSM::Parameter::Value<>
  parameter even when the caller overrides it, so the Default paths of CpuAmiId and
  GpuAmiId are rewritten to the seeded paths in the copy sent to moto (the real
  defaults are asserted in test_ec2_template.py).
- CloudFormation: moto ignores `Rules` (and AllowedPattern/AllowedValues); see
  TestMotoIgnoresRules: ec2_params.validate_ec2_params is the check that runs there.
- CloudFormation: inline SecurityGroupEgress and LoadBalancerAttributes are ignored
  and Fn::GetAtt LoadBalancer.CanonicalHostedZoneID is not implemented; those parts
  are asserted on the template in test_ec2_template.py.
- CloudFormation: AWS::IAM::Role ManagedPolicyArns are not attached (the inline
  Policies are); the three managed policy ARNs are asserted on the template.
- IAM: an inline policy created through CloudFormation is stored as the Python repr
  of the document, so GetRolePolicy returns a string that is not JSON; the tests
  parse it with ast.literal_eval (inline_policy below).
- CloudFormation: ListStackResources lists a blank entry (no logical id, no type) for
  each resource skipped by a false Condition; the tests filter those out.
- Auto Scaling: instances launched from a launch template do not get its
  MetadataOptions (moto reports HttpTokens=optional, hop limit 1), so IMDSv2 is
  asserted on the launch template data, which is what AWS applies.
- CloudFormation: AWS::S3::Bucket applies only BucketEncryption and Tags (no
  LifecycleConfiguration, PublicAccessBlockConfiguration, OwnershipControls) and
  AWS::S3::BucketPolicy is not implemented (a blank ListStackResources entry): the SSM
  transfer bucket's encryption is asserted here, the rest on the template
  (test_ec2_template.py); test_moto_gap_transfer_bucket_settings fails once moto applies them.
- CloudFormation: an Fn::If that yields AWS::NoValue inside an IAM policy's Statement list
  leaves a null statement (MalformedPolicyDocument); the template uses a conditional
  AWS::IAM::Policy instead (SsmTransferKmsAccess).
"""

from __future__ import annotations

import ast
import base64
import collections
import json
from pathlib import Path
from typing import Any

import pytest
from add_hosts_play import add_hosts
from ansible_collections.ragstack.aws.plugins.module_utils import ec2_params
from botocore.exceptions import ClientError
from cfn_eval import load_template
from ssm_user_data import rendered_script

CPU_AMI_PARAMETER = "/ragstack-test/ami/cpu"
GPU_AMI_PARAMETER = "/ragstack-test/ami/gpu"
STACK_NAME = "ragstack-test"
ADMIN_CIDR = "203.0.113.0/24"

CREATE_VPC_RESOURCES = {
    "AWS::EC2::VPC": 1,
    "AWS::EC2::Subnet": 4,
    "AWS::EC2::InternetGateway": 1,
    "AWS::EC2::VPCGatewayAttachment": 1,
    "AWS::EC2::NatGateway": 1,
    "AWS::EC2::EIP": 1,
    "AWS::EC2::RouteTable": 2,
    "AWS::EC2::Route": 2,
    "AWS::EC2::SubnetRouteTableAssociation": 4,
}
APP_RESOURCES = {
    "AWS::ElasticLoadBalancingV2::LoadBalancer": 1,
    "AWS::ElasticLoadBalancingV2::Listener": 2,
    "AWS::ElasticLoadBalancingV2::TargetGroup": 1,
    "AWS::EC2::LaunchTemplate": 1,
    "AWS::AutoScaling::AutoScalingGroup": 1,
    "AWS::EC2::SecurityGroup": 2,
    "AWS::EC2::SecurityGroupIngress": 1,
    "AWS::IAM::Role": 1,
    "AWS::IAM::InstanceProfile": 1,
    "AWS::Logs::LogGroup": 4,
}
# ConnectionMode=ssm: the transfer bucket and the role's access to it (moto does not list
# the AWS::S3::BucketPolicy, see the module docstring).
SSM_RESOURCES = {
    "AWS::S3::Bucket": 1,
    "AWS::IAM::Policy": 1,
}
RUNTIME_POLICY = "ragstack-runtime-config"
TRANSFER_POLICY = "ragstack-ssm-transfer"


class Deployment:
    """A stack created in moto, with the handles the tests need."""

    def __init__(self, aws_client: Any, params: dict[str, str], amis: dict[str, str]) -> None:
        self.aws = aws_client
        self.params = params
        self.amis = amis
        self.region = aws_client("ec2").meta.region_name
        self.account = aws_client("sts").get_caller_identity()["Account"]
        cfn = aws_client("cloudformation")
        stack = cfn.describe_stacks(StackName=STACK_NAME)["Stacks"][0]
        self.status = stack["StackStatus"]
        self.outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
        summaries = cfn.list_stack_resources(StackName=STACK_NAME)["StackResourceSummaries"]
        # moto lists a blank summary for every resource whose Condition is false.
        self.resources = {s["LogicalResourceId"]: s for s in summaries if s["LogicalResourceId"]}

    def physical_id(self, logical_id: str) -> str:
        return self.resources[logical_id]["PhysicalResourceId"]

    def type_counts(self) -> dict[str, int]:
        return dict(collections.Counter(s["ResourceType"] for s in self.resources.values()))

    def launch_template_data(self) -> dict[str, Any]:
        versions = self.aws("ec2").describe_launch_template_versions(
            LaunchTemplateId=self.physical_id("LaunchTemplate")
        )["LaunchTemplateVersions"]
        return versions[-1]["LaunchTemplateData"]

    def security_group(self, logical_id: str) -> dict[str, Any]:
        (group,) = (
            self.aws("ec2")
            .describe_security_groups(GroupIds=[self.physical_id(logical_id)])
            .get("SecurityGroups")
        )
        return group

    def role_policy_names(self) -> list[str]:
        role_name = self.physical_id("InstanceRole")
        return sorted(self.aws("iam").list_role_policies(RoleName=role_name)["PolicyNames"])

    def inline_policy(self, policy_name: str = RUNTIME_POLICY) -> dict[str, Any]:
        iam = self.aws("iam")
        role_name = self.physical_id("InstanceRole")
        document = iam.get_role_policy(RoleName=role_name, PolicyName=policy_name)["PolicyDocument"]
        if isinstance(document, str):
            # moto stores the CloudFormation document as a Python repr (see module docstring).
            document = ast.literal_eval(document)
        return document

    def transfer_buckets(self) -> list[str]:
        """Buckets tagged as this stack's SSM transfer bucket, whatever their name."""
        s3 = self.aws("s3")
        found = []
        for bucket in s3.list_buckets()["Buckets"]:
            try:
                tags = s3.get_bucket_tagging(Bucket=bucket["Name"])["TagSet"]
            except ClientError:
                continue
            tags = {tag["Key"]: tag["Value"] for tag in tags}
            if (
                tags.get("ragstack:stack") == STACK_NAME
                and tags.get("ragstack:role") == "ssm-transfer"
            ):
                found.append(bucket["Name"])
        return found

    def user_data(self) -> str | None:
        encoded = self.launch_template_data().get("UserData")
        return base64.b64decode(encoded).decode() if encoded else None

    def expected_user_data(self, install_ssm_agent: str) -> str:
        """The first-boot script as the tests render it, with this stack's values."""
        return rendered_script(
            self.region, "amazonaws.com", install_ssm_agent,
            **{
                "AWS::StackName": STACK_NAME,
                "EnvironmentName": self.params.get("EnvironmentName", "dev"),
                "ReleaseBucket": self.params.get("ReleaseBucket", ""),
                "HealthCheckPath": self.params.get("HealthCheckPath", "/api/ready"),
                "TargetGroup": self.physical_id("TargetGroup"),
            },
        )  # fmt: skip

    def auto_scaling_group(self) -> dict[str, Any]:
        (group,) = (
            self.aws("autoscaling")
            .describe_auto_scaling_groups(
                AutoScalingGroupNames=[self.outputs["AutoScalingGroupName"]]
            )
            .get("AutoScalingGroups")
        )
        return group

    def app_instances(self) -> list[dict[str, Any]]:
        """The hosts as the aws_ec2 inventory would find them: by tag, running."""
        key, value = self.outputs["InstanceTagFilter"].split("=", 1)
        reservations = self.aws("ec2").describe_instances(
            Filters=[
                {"Name": key, "Values": [value]},
                {"Name": "tag:ragstack:role", "Values": ["app"]},
                {"Name": "instance-state-name", "Values": ["running"]},
            ]
        )["Reservations"]
        return [i for r in reservations for i in r["Instances"]]


def template_for_moto() -> dict[str, Any]:
    template = load_template()
    # moto resolves these Defaults even when the parameters are passed (see module docstring).
    template["Parameters"]["CpuAmiId"]["Default"] = CPU_AMI_PARAMETER
    template["Parameters"]["GpuAmiId"]["Default"] = GPU_AMI_PARAMETER
    return template


def seed(aws_client: Any) -> tuple[dict[str, str], str]:
    """Publish two AMI ids as SSM parameters and request an ACM certificate in moto."""
    images = aws_client("ec2").describe_images(Owners=["amazon"])["Images"]
    image_ids = sorted({image["ImageId"] for image in images})
    assert len(image_ids) >= 2, "moto's default AMI list is empty"
    amis = {"cpu": image_ids[0], "gpu": image_ids[1]}
    ssm = aws_client("ssm")
    for kind, name in (("cpu", CPU_AMI_PARAMETER), ("gpu", GPU_AMI_PARAMETER)):
        ssm.put_parameter(Name=name, Value=amis[kind], Type="String", DataType="aws:ec2:image")
    certificate = aws_client("acm").request_certificate(DomainName="ragstack.test")
    return amis, certificate["CertificateArn"]


def create_stack(
    aws_client: Any, reset_moto: Any, template: dict[str, Any], **overrides: str
) -> Deployment:
    reset_moto()
    amis, certificate_arn = seed(aws_client)
    params = {
        "CertificateArn": certificate_arn,
        "AdminCidr": "",
        "CpuAmiId": CPU_AMI_PARAMETER,
        "GpuAmiId": GPU_AMI_PARAMETER,
        "StackVersion": "1.2.3-test",
        **overrides,
    }
    # moto does not evaluate Rules, so the preflight check stands in for them.
    assert ec2_params.validate_ec2_params(params) == []
    aws_client("cloudformation").create_stack(
        StackName=STACK_NAME,
        TemplateBody=json.dumps(template),
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in params.items()],
        Capabilities=["CAPABILITY_IAM"],
    )
    return Deployment(aws_client, params, amis)


# ---------------------------------------------------------------- default stack: new VPC, SSM


class TestDefaultStack:
    """VpcMode=create, ConnectionMode=ssm, t3.large, one host."""

    @pytest.fixture(scope="class")
    @classmethod
    def stack(cls, aws_client: Any, reset_moto: Any) -> Deployment:
        return create_stack(aws_client, reset_moto, template_for_moto())

    def test_create_complete(self, stack: Deployment) -> None:
        assert stack.status == "CREATE_COMPLETE"

    def test_expected_resources(self, stack: Deployment) -> None:
        assert stack.type_counts() == {**CREATE_VPC_RESOURCES, **APP_RESOURCES, **SSM_RESOURCES}
        assert "InstanceSshIngress" not in stack.resources

    def test_outputs(self, stack: Deployment) -> None:
        out = stack.outputs
        assert out["Url"] == f"https://{out['AlbDnsName']}"
        assert out["AlbDnsName"].endswith(".elb.amazonaws.com")
        assert out["StackVersion"] == "1.2.3-test"
        assert out["AutoScalingGroupName"] == stack.physical_id("AutoScalingGroup")
        assert out["TargetGroupArn"] == stack.physical_id("TargetGroup")
        assert out["InstanceSecurityGroupId"] == stack.physical_id("InstanceSecurityGroup")
        assert out["VpcId"] == stack.physical_id("Vpc")
        assert out["LogGroupPrefix"] == "/ragstack/dev"
        assert out["ConnectionMode"] == "ssm"
        assert out["InstanceTagFilter"] == f"tag:ragstack:stack={STACK_NAME}"

    def test_subnets_span_two_azs(self, stack: Deployment) -> None:
        ids = [
            stack.physical_id(f"{kind}Subnet{n}") for kind in ("Public", "Private") for n in (1, 2)
        ]
        subnets = stack.aws("ec2").describe_subnets(SubnetIds=ids)["Subnets"]
        by_id = {s["SubnetId"]: s for s in subnets}
        assert {s["VpcId"] for s in subnets} == {stack.outputs["VpcId"]}
        assert sorted(s["CidrBlock"] for s in subnets) == sorted(
            ["10.40.0.0/24", "10.40.1.0/24", "10.40.10.0/24", "10.40.11.0/24"]
        )
        assert by_id[ids[0]]["AvailabilityZone"] != by_id[ids[1]]["AvailabilityZone"]
        assert by_id[ids[2]]["AvailabilityZone"] != by_id[ids[3]]["AvailabilityZone"]
        assert not any(s["MapPublicIpOnLaunch"] for s in subnets)

    def test_private_subnets_route_through_nat(self, stack: Deployment) -> None:
        tables = stack.aws("ec2").describe_route_tables(
            RouteTableIds=[
                stack.physical_id("PrivateRouteTable"),
                stack.physical_id("PublicRouteTable"),
            ]
        )["RouteTables"]
        routes = {t["RouteTableId"]: t["Routes"] for t in tables}
        private_default = [
            r
            for r in routes[stack.physical_id("PrivateRouteTable")]
            if r.get("DestinationCidrBlock") == "0.0.0.0/0"
        ]
        assert [r.get("NatGatewayId") for r in private_default] == [stack.physical_id("NatGateway")]
        public_default = [
            r
            for r in routes[stack.physical_id("PublicRouteTable")]
            if r.get("DestinationCidrBlock") == "0.0.0.0/0"
        ]
        assert [r.get("GatewayId") for r in public_default] == [
            stack.physical_id("InternetGateway")
        ]

    def test_launch_template(self, stack: Deployment) -> None:
        data = stack.launch_template_data()
        assert data["ImageId"] == stack.amis["cpu"]
        assert data["InstanceType"] == "t3.large"
        assert data["MetadataOptions"]["HttpTokens"] == "required"
        assert data["MetadataOptions"]["HttpPutResponseHopLimit"] == 2
        assert data["Monitoring"] == {"Enabled": True}
        (mapping,) = data["BlockDeviceMappings"]
        assert mapping["DeviceName"] == "/dev/xvda"
        assert mapping["Ebs"]["VolumeType"] == "gp3"
        assert mapping["Ebs"]["Encrypted"] is True
        assert mapping["Ebs"]["VolumeSize"] == 40
        assert data["SecurityGroupIds"] == [stack.physical_id("InstanceSecurityGroup")]
        assert data["IamInstanceProfile"]["Arn"].endswith(
            f":instance-profile/{stack.physical_id('InstanceProfile')}"
        )
        assert "KeyName" not in data

    def test_instance_security_group(self, stack: Deployment) -> None:
        group = stack.security_group("InstanceSecurityGroup")
        alb_group_id = stack.physical_id("AlbSecurityGroup")
        (rule,) = group["IpPermissions"]
        assert (rule["IpProtocol"], rule["FromPort"], rule["ToPort"]) == ("tcp", 443, 443)
        assert [pair["GroupId"] for pair in rule["UserIdGroupPairs"]] == [alb_group_id]
        assert rule["IpRanges"] == []
        assert rule["Ipv6Ranges"] == []

    def test_alb_security_group(self, stack: Deployment) -> None:
        group = stack.security_group("AlbSecurityGroup")
        open_ports = sorted(
            rule["FromPort"]
            for rule in group["IpPermissions"]
            if {"CidrIp": "0.0.0.0/0"} in [{"CidrIp": r["CidrIp"]} for r in rule["IpRanges"]]
        )
        assert open_ports == [80, 443]
        assert group["VpcId"] == stack.outputs["VpcId"]

    @pytest.mark.parametrize("port", [22, 5000, 8000])
    def test_port_not_reachable_from_anywhere(self, stack: Deployment, port: int) -> None:
        groups = stack.aws("ec2").describe_security_groups()["SecurityGroups"]
        for group in groups:
            for rule in group["IpPermissions"]:
                if rule["IpProtocol"] == "-1" or rule["FromPort"] <= port <= rule["ToPort"]:
                    assert not rule["IpRanges"], (group["GroupId"], rule)
                    assert not rule["Ipv6Ranges"], (group["GroupId"], rule)

    def test_load_balancer(self, stack: Deployment) -> None:
        elb = stack.aws("elbv2")
        (lb,) = elb.describe_load_balancers(LoadBalancerArns=[stack.physical_id("LoadBalancer")])[
            "LoadBalancers"
        ]
        assert lb["Scheme"] == "internet-facing"
        assert lb["Type"] == "application"
        assert lb["DNSName"] == stack.outputs["AlbDnsName"]
        assert lb["SecurityGroups"] == [stack.physical_id("AlbSecurityGroup")]
        assert sorted(az["SubnetId"] for az in lb["AvailabilityZones"]) == sorted(
            [stack.physical_id("PublicSubnet1"), stack.physical_id("PublicSubnet2")]
        )

    def test_listeners(self, stack: Deployment) -> None:
        listeners = stack.aws("elbv2").describe_listeners(
            LoadBalancerArn=stack.physical_id("LoadBalancer")
        )["Listeners"]
        by_port = {listener["Port"]: listener for listener in listeners}
        assert sorted(by_port) == [80, 443]
        https = by_port[443]
        assert https["Protocol"] == "HTTPS"
        assert https["SslPolicy"] == "ELBSecurityPolicy-TLS13-1-2-2021-06"
        assert [c["CertificateArn"] for c in https["Certificates"]] == [
            stack.params["CertificateArn"]
        ]
        assert https["DefaultActions"][0]["Type"] == "forward"
        assert https["DefaultActions"][0]["TargetGroupArn"] == stack.outputs["TargetGroupArn"]
        http = by_port[80]
        assert http["Protocol"] == "HTTP"
        redirect = http["DefaultActions"][0]
        assert redirect["Type"] == "redirect"
        assert redirect["RedirectConfig"]["Protocol"] == "HTTPS"
        assert redirect["RedirectConfig"]["Port"] == "443"
        assert redirect["RedirectConfig"]["StatusCode"] == "HTTP_301"

    def test_target_group(self, stack: Deployment) -> None:
        (tg,) = stack.aws("elbv2").describe_target_groups(
            TargetGroupArns=[stack.outputs["TargetGroupArn"]]
        )["TargetGroups"]
        assert (tg["Protocol"], tg["Port"]) == ("HTTPS", 443)
        assert tg["HealthCheckProtocol"] == "HTTPS"
        assert tg["HealthCheckPath"] == "/api/ready"
        assert tg["Matcher"] == {"HttpCode": "200"}
        assert tg["VpcId"] == stack.outputs["VpcId"]

    def test_auto_scaling_group(self, stack: Deployment) -> None:
        group = stack.auto_scaling_group()
        # MaxSize: room for the rolling update's extra host (test_ec2_self_configuring.py).
        assert (group["MinSize"], group["MaxSize"], group["DesiredCapacity"]) == (1, 11, 1)
        assert group["HealthCheckType"] == "ELB"
        assert group["HealthCheckGracePeriod"] == 1800
        assert group["TargetGroupARNs"] == [stack.outputs["TargetGroupArn"]]
        assert group["LaunchTemplate"]["LaunchTemplateId"] == stack.physical_id("LaunchTemplate")
        assert sorted(group["VPCZoneIdentifier"].split(",")) == sorted(
            [stack.physical_id("PrivateSubnet1"), stack.physical_id("PrivateSubnet2")]
        )
        tags = {t["Key"]: (t["Value"], t["PropagateAtLaunch"]) for t in group["Tags"]}
        assert tags["ragstack:stack"] == (STACK_NAME, True)
        assert tags["ragstack:env"] == ("dev", True)
        assert tags["ragstack:role"] == ("app", True)

    def test_hosts_are_found_by_tag_in_private_subnets(self, stack: Deployment) -> None:
        instances = stack.app_instances()
        assert len(instances) == 1
        (instance,) = instances
        assert instance["SubnetId"] in {
            stack.physical_id("PrivateSubnet1"),
            stack.physical_id("PrivateSubnet2"),
        }
        assert instance["ImageId"] == stack.amis["cpu"]
        assert "PublicIpAddress" not in instance
        tags = {t["Key"]: t["Value"] for t in instance["Tags"]}
        assert tags["aws:autoscaling:groupName"] == stack.outputs["AutoScalingGroupName"]
        assert tags["ragstack:env"] == "dev"

    def test_hosts_are_registered_in_the_target_group_on_443(self, stack: Deployment) -> None:
        health = stack.aws("elbv2").describe_target_health(
            TargetGroupArn=stack.outputs["TargetGroupArn"]
        )
        targets = [
            (d["Target"]["Id"], d["Target"]["Port"]) for d in health["TargetHealthDescriptions"]
        ]
        # Only once configured: the launch hook keeps a new host out until its first boot
        # says CONTINUE (here said for it; test_ec2_boot_script.py runs the script).
        assert targets == []
        for instance in stack.app_instances():
            stack.aws("autoscaling").complete_lifecycle_action(
                AutoScalingGroupName=stack.outputs["AutoScalingGroupName"],
                LifecycleHookName="ragstack-configure",
                InstanceId=instance["InstanceId"],
                LifecycleActionResult="CONTINUE",
            )
        health = stack.aws("elbv2").describe_target_health(
            TargetGroupArn=stack.outputs["TargetGroupArn"]
        )
        targets = [
            (d["Target"]["Id"], d["Target"]["Port"]) for d in health["TargetHealthDescriptions"]
        ]
        assert targets == [(i["InstanceId"], 443) for i in stack.app_instances()]

    def test_instance_role(self, stack: Deployment) -> None:
        iam = stack.aws("iam")
        role_name = stack.physical_id("InstanceRole")
        # ManagedPolicyArns: ignored by moto, asserted in test_ec2_template.py.
        document = stack.inline_policy()
        statements = {s["Sid"]: s for s in document["Statement"]}
        prefix = f"{stack.region}:{stack.account}"
        assert statements["ReadEnvironmentParameters"]["Resource"] == (
            f"arn:aws:ssm:{prefix}:parameter/ragstack/dev/*"
        )
        assert statements["ReadEnvironmentSecrets"]["Resource"] == (
            f"arn:aws:secretsmanager:{prefix}:secret:ragstack/dev/*"
        )
        assert statements["DecryptThroughSsmAndSecretsManager"]["Resource"] == (
            f"arn:aws:kms:{prefix}:key/*"
        )
        via = statements["DecryptThroughSsmAndSecretsManager"]["Condition"]["StringEquals"][
            "kms:ViaService"
        ]
        assert via == [
            f"ssm.{stack.region}.amazonaws.com",
            f"secretsmanager.{stack.region}.amazonaws.com",
        ]
        for statement in document["Statement"]:
            actions = (
                statement["Action"]
                if isinstance(statement["Action"], list)
                else [statement["Action"]]
            )
            assert all("*" not in action for action in actions), statement
        (profile,) = iam.list_instance_profiles_for_role(RoleName=role_name)["InstanceProfiles"]
        assert profile["InstanceProfileName"] == stack.physical_id("InstanceProfile")

    # ------------------------------------------------ the SSM connection's transfer bucket

    def test_transfer_bucket_is_created_encrypted_with_kms(self, stack: Deployment) -> None:
        bucket = stack.outputs["SsmTransferBucket"]
        assert bucket == stack.physical_id("SsmTransferBucket")
        assert stack.transfer_buckets() == [bucket]  # the lookup TestSshStack finds nothing with
        s3 = stack.aws("s3")
        (rule,) = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"][
            "Rules"
        ]
        # aws:kms with the account's aws/s3 key: no customer managed key given.
        assert rule["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "aws:kms"}
        assert s3.get_bucket_versioning(Bucket=bucket).get("Status") != "Enabled"
        assert "SsmTransferKmsKeyArn" not in stack.outputs

    def test_instance_role_may_use_only_the_transfer_objects(self, stack: Deployment) -> None:
        assert stack.role_policy_names() == [RUNTIME_POLICY, TRANSFER_POLICY]
        (statement,) = stack.inline_policy(TRANSFER_POLICY)["Statement"]
        assert statement["Effect"] == "Allow"
        assert sorted(statement["Action"]) == ["s3:DeleteObject", "s3:GetObject", "s3:PutObject"]
        assert statement["Resource"] == f"arn:aws:s3:::{stack.outputs['SsmTransferBucket']}/*"
        runtime = json.dumps(stack.inline_policy(RUNTIME_POLICY))
        assert "s3:" not in runtime

    def test_moto_gap_transfer_bucket_settings(self, stack: Deployment) -> None:
        """moto's CloudFormation drops the lifecycle rule, the public access block, the
        ownership controls and the TLS-only bucket policy (asserted on the template in
        test_ec2_template.py). When this fails, moto applies one: assert it here instead."""
        s3 = stack.aws("s3")
        bucket = stack.outputs["SsmTransferBucket"]
        for call, missing in (
            (s3.get_bucket_lifecycle_configuration, "NoSuchLifecycleConfiguration"),
            (s3.get_public_access_block, "NoSuchPublicAccessBlockConfiguration"),
            (s3.get_bucket_ownership_controls, "OwnershipControlsNotFoundError"),
            (s3.get_bucket_policy, "NoSuchBucketPolicy"),
        ):
            with pytest.raises(ClientError) as raised:
                call(Bucket=bucket)
            assert raised.value.response["Error"]["Code"] == missing, call

    def test_add_hosts_hands_the_stack_bucket_to_the_ssm_connection(
        self, stack: Deployment, tmp_path: Path, moto_endpoint: str
    ) -> None:
        # The role's add_hosts entry point with this stack's outputs and instances, as the
        # main entry point publishes them (ec2_stack_outputs, ec2_instance_info's fields).
        instances = [
            {
                "instance_id": i["InstanceId"],
                "instance_type": i["InstanceType"],
                "private_ip_address": i["PrivateIpAddress"],
            }
            for i in stack.app_instances()
        ]
        found = add_hosts(
            tmp_path,
            {
                "stack": {
                    "ragstack_connection_mode": "ssm",
                    "ec2_stack_outputs": stack.outputs,
                    "ec2_stack_instances": instances,
                }
            },
            region=stack.region,
            endpoint=moto_endpoint,
        )
        assert found["stack"] == {
            "ansible_connection": "community.aws.aws_ssm",
            "ansible_host": instances[0]["instance_id"],
            "ansible_aws_ssm_region": stack.region,
            "ansible_aws_ssm_bucket_name": stack.outputs["SsmTransferBucket"],
            "ansible_aws_ssm_bucket_sse_mode": "aws:kms",
        }

    def test_user_data_installs_the_ssm_agent(self, stack: Deployment) -> None:
        # What moto rendered (Fn::Sub, Fn::Base64) is what the tests render and run
        # (test_ec2_ssm_user_data.py).
        assert stack.user_data() == stack.expected_user_data("yes")

    def test_log_groups(self, stack: Deployment) -> None:
        groups = stack.aws("logs").describe_log_groups(logGroupNamePrefix="/ragstack/dev/")[
            "logGroups"
        ]
        assert sorted(g["logGroupName"] for g in groups) == [
            "/ragstack/dev/app",
            "/ragstack/dev/docker",
            "/ragstack/dev/nginx/access",
            "/ragstack/dev/nginx/error",
        ]
        assert {g["retentionInDays"] for g in groups} == {30}


# ---------------------------------------------------------------- SSH mode, two hosts


class TestSshStack:
    @pytest.fixture(scope="class")
    @classmethod
    def stack(cls, aws_client: Any, reset_moto: Any) -> Deployment:
        return create_stack(
            aws_client,
            reset_moto,
            template_for_moto(),
            EnvironmentName="staging",
            ConnectionMode="ssh",
            AdminCidr=ADMIN_CIDR,
            KeyName="ragstack-admin",
            InstanceCount="2",
            LogRetentionDays="90",
        )

    def test_create_complete(self, stack: Deployment) -> None:
        assert stack.status == "CREATE_COMPLETE"
        counts = stack.type_counts()
        assert counts["AWS::EC2::SecurityGroupIngress"] == 2
        assert "InstanceSshIngress" in stack.resources

    def test_no_transfer_bucket_and_no_agent_installer(self, stack: Deployment) -> None:
        # The same lookup finds the bucket in the ssm stack (TestDefaultStack).
        assert stack.transfer_buckets() == []
        assert stack.aws("s3").list_buckets()["Buckets"] == []
        assert "SsmTransferBucket" not in stack.outputs
        assert not {"SsmTransferBucket", "SsmTransferBucketAccess"} & set(stack.resources)
        assert stack.role_policy_names() == [RUNTIME_POLICY]
        # The first-boot script still configures the host; no agent to install.
        assert stack.user_data() == stack.expected_user_data("no")

    def test_ssh_only_from_admin_cidr(self, stack: Deployment) -> None:
        group = stack.security_group("InstanceSecurityGroup")
        rules = {rule["FromPort"]: rule for rule in group["IpPermissions"]}
        assert sorted(rules) == [22, 443]
        assert [r["CidrIp"] for r in rules[22]["IpRanges"]] == [ADMIN_CIDR]
        assert rules[22]["UserIdGroupPairs"] == []
        assert rules[443]["IpRanges"] == []
        alb = stack.security_group("AlbSecurityGroup")
        assert all(rule["FromPort"] != 22 for rule in alb["IpPermissions"])

    def test_key_pair_and_size(self, stack: Deployment) -> None:
        assert stack.launch_template_data()["KeyName"] == "ragstack-admin"
        group = stack.auto_scaling_group()
        assert (group["MinSize"], group["MaxSize"], group["DesiredCapacity"]) == (2, 11, 2)
        assert len(stack.app_instances()) == 2
        assert stack.outputs["ConnectionMode"] == "ssh"

    def test_environment_scoping(self, stack: Deployment) -> None:
        assert stack.outputs["LogGroupPrefix"] == "/ragstack/staging"
        groups = stack.aws("logs").describe_log_groups(logGroupNamePrefix="/ragstack/staging/")[
            "logGroups"
        ]
        assert len(groups) == 4
        assert {g["retentionInDays"] for g in groups} == {90}
        document = stack.inline_policy()
        resources = [s["Resource"] for s in document["Statement"] if s["Sid"].startswith("Read")]
        assert len(resources) == 2
        assert all(r.endswith("ragstack/staging/*") for r in resources), resources


# ---------------------------------------------------------------- GPU instance type


class TestGpuStack:
    @pytest.fixture(scope="class")
    @classmethod
    def stack(cls, aws_client: Any, reset_moto: Any) -> Deployment:
        return create_stack(aws_client, reset_moto, template_for_moto(), InstanceType="g5.xlarge")

    def test_gpu_ami_and_root_volume(self, stack: Deployment) -> None:
        assert stack.status == "CREATE_COMPLETE"
        data = stack.launch_template_data()
        assert data["InstanceType"] == "g5.xlarge"
        assert data["ImageId"] == stack.amis["gpu"]
        assert data["ImageId"] != stack.amis["cpu"]
        (mapping,) = data["BlockDeviceMappings"]
        assert mapping["DeviceName"] == "/dev/sda1"
        assert mapping["Ebs"]["VolumeSize"] == 100
        (instance,) = stack.app_instances()
        assert instance["ImageId"] == stack.amis["gpu"]

    def test_ssm_without_agent_installer(self, stack: Deployment) -> None:
        # The Deep Learning AMI ships the SSM agent: the bucket, but no installer.
        assert stack.transfer_buckets() == [stack.outputs["SsmTransferBucket"]]
        assert stack.user_data() == stack.expected_user_data("no")


# ---------------------------------------------------------------- existing VPC


class TestExistingVpcStack:
    @pytest.fixture(scope="class")
    @classmethod
    def stack(cls, aws_client: Any, reset_moto: Any) -> tuple[Deployment, dict[str, Any]]:
        reset_moto()
        ec2 = aws_client("ec2")
        region = ec2.meta.region_name
        vpc_id = ec2.create_vpc(CidrBlock="10.50.0.0/16")["Vpc"]["VpcId"]
        layout = {"vpc": vpc_id, "public": [], "private": []}
        for kind, third_octet, az in (
            ("public", 0, "a"),
            ("public", 1, "b"),
            ("private", 10, "a"),
            ("private", 11, "b"),
        ):
            subnet = ec2.create_subnet(
                VpcId=vpc_id,
                CidrBlock=f"10.50.{third_octet}.0/24",
                AvailabilityZone=f"{region}{az}",
            )
            layout[kind].append(subnet["Subnet"]["SubnetId"])
        # create_stack resets moto again; keep the network by seeding without a reset.
        deployment = create_stack(
            aws_client,
            lambda: None,
            template_for_moto(),
            VpcMode="existing",
            VpcCidr="10.50.0.0/16",
            ExistingVpcId=vpc_id,
            ExistingPublicSubnetIds=",".join(layout["public"]),
            ExistingPrivateSubnetIds=",".join(layout["private"]),
        )
        return deployment, layout

    def test_no_network_resources_created(self, stack: tuple[Deployment, dict[str, Any]]) -> None:
        deployment, _ = stack
        assert deployment.status == "CREATE_COMPLETE"
        assert deployment.type_counts() == {**APP_RESOURCES, **SSM_RESOURCES}

    def test_uses_the_given_vpc_and_subnets(self, stack: tuple[Deployment, dict[str, Any]]) -> None:
        deployment, layout = stack
        assert deployment.outputs["VpcId"] == layout["vpc"]
        assert deployment.security_group("InstanceSecurityGroup")["VpcId"] == layout["vpc"]
        assert deployment.security_group("AlbSecurityGroup")["VpcId"] == layout["vpc"]
        (lb,) = deployment.aws("elbv2").describe_load_balancers(
            LoadBalancerArns=[deployment.physical_id("LoadBalancer")]
        )["LoadBalancers"]
        assert sorted(az["SubnetId"] for az in lb["AvailabilityZones"]) == sorted(layout["public"])
        group = deployment.auto_scaling_group()
        assert sorted(group["VPCZoneIdentifier"].split(",")) == sorted(layout["private"])
        (instance,) = deployment.app_instances()
        assert instance["SubnetId"] in layout["private"]


# ---------------------------------------------------------------- Rules in moto


class TestMotoIgnoresRules:
    """moto's CloudFormation does not evaluate `Rules`: parameter sets that AWS refuses
    at CreateStack are accepted. Asserted so that the day moto starts evaluating them
    this test fails and can be turned into a check of moto's refusal; until then the
    preflight module is the check that protects local runs."""

    @pytest.mark.parametrize(
        "overrides",
        [
            {"InstanceType": "g5.xlarge", "AmiKind": "cpu"},
            {"ConnectionMode": "ssh", "AdminCidr": "0.0.0.0/0"},
        ],
    )
    def test_refused_parameters_are_accepted_by_moto_but_not_by_preflight(
        self, aws_client: Any, reset_moto: Any, overrides: dict[str, str]
    ) -> None:
        reset_moto()
        _, certificate_arn = seed(aws_client)
        full = template_for_moto()
        # Parameters and Rules of the real template; one trivial resource so the
        # stack is valid without building the whole environment.
        template = {
            "AWSTemplateFormatVersion": full["AWSTemplateFormatVersion"],
            "Parameters": full["Parameters"],
            "Rules": full["Rules"],
            "Resources": {"Placeholder": {"Type": "AWS::SNS::Topic"}},
        }
        params = {"CertificateArn": certificate_arn, "AdminCidr": "", **overrides}
        cfn = aws_client("cloudformation")
        cfn.create_stack(
            StackName="ragstack-rules",
            TemplateBody=json.dumps(template),
            Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in params.items()],
        )
        status = cfn.describe_stacks(StackName="ragstack-rules")["Stacks"][0]["StackStatus"]
        assert status == "CREATE_COMPLETE", "moto now evaluates Rules: assert its refusal instead"
        assert ec2_params.validate_ec2_params(params)
