"""Unit tests of plugins/module_utils/ec2_params.py, the EC2 stack preflight check."""

from __future__ import annotations

import pytest
from ansible_collections.ragstack.aws.plugins.module_utils.ec2_params import (
    GPU_FAMILIES,
    instance_family,
    is_gpu_instance_type,
    resolve_ami_kind,
    validate_ec2_params,
)

CERTIFICATE_ARN = (
    "arn:aws:acm:eu-west-1:123456789012:certificate/0a1b2c3d-1111-2222-3333-444455556666"
)
BASE = {"CertificateArn": CERTIFICATE_ARN, "AdminCidr": ""}


def errors(**overrides: object) -> list[str]:
    return validate_ec2_params({**BASE, **overrides})


def single_error(**overrides: object) -> str:
    found = errors(**overrides)
    assert len(found) == 1, found
    return found[0]


def test_defaults_with_required_values_pass() -> None:
    assert errors() == []


@pytest.mark.parametrize("missing", ["AdminCidr", "CertificateArn"])
def test_parameters_without_default_are_required(missing: str) -> None:
    params = {k: v for k, v in BASE.items() if k != missing}
    assert validate_ec2_params(params) == [f"{missing} is required (the template has no default)."]


def test_none_counts_as_missing() -> None:
    assert validate_ec2_params({"CertificateArn": CERTIFICATE_ARN, "AdminCidr": None})


@pytest.mark.parametrize(
    ("instance_type", "family", "gpu"),
    [
        ("t3.large", "t3", False),
        ("m6i.xlarge", "m6i", False),
        ("c6i.large", "c6i", False),
        ("g4dn.xlarge", "g4dn", True),
        ("g5.2xlarge", "g5", True),
        ("g6.xlarge", "g6", True),
        ("p3.2xlarge", "p3", True),
    ],
)
def test_instance_family(instance_type: str, family: str, gpu: bool) -> None:
    assert instance_family(instance_type) == family
    assert is_gpu_instance_type(instance_type) is gpu


def test_gpu_families() -> None:
    assert frozenset({"g4dn", "g5", "g6", "p3"}) == GPU_FAMILIES


@pytest.mark.parametrize(
    ("instance_type", "ami_kind", "expected"),
    [
        ("t3.large", "auto", "cpu"),
        ("t3.large", "cpu", "cpu"),
        ("t3.large", "gpu", "gpu"),
        ("g5.xlarge", "auto", "gpu"),
        ("g5.xlarge", "gpu", "gpu"),
        ("g5.xlarge", "cpu", "cpu"),
        ("p3.2xlarge", "auto", "gpu"),
    ],
)
def test_resolve_ami_kind(instance_type: str, ami_kind: str, expected: str) -> None:
    assert resolve_ami_kind(instance_type, ami_kind) == expected


@pytest.mark.parametrize("instance_type", ["g4dn.xlarge", "g5.xlarge", "g6.4xlarge", "p3.8xlarge"])
def test_gpu_type_with_cpu_ami_is_refused(instance_type: str) -> None:
    message = single_error(InstanceType=instance_type, AmiKind="cpu")
    assert "AmiKind=cpu" in message
    assert instance_type in message


@pytest.mark.parametrize(
    ("instance_type", "ami_kind"),
    [("g5.xlarge", "auto"), ("g5.xlarge", "gpu"), ("t3.large", "gpu"), ("c6i.large", "cpu")],
)
def test_other_ami_combinations_pass(instance_type: str, ami_kind: str) -> None:
    assert errors(InstanceType=instance_type, AmiKind=ami_kind) == []


def test_unknown_ami_kind() -> None:
    assert "AmiKind='any'" in single_error(AmiKind="any")


@pytest.mark.parametrize("cidr", ["0.0.0.0/0", "10.0.0.0/0"])
@pytest.mark.parametrize("mode", ["ssh", "ssm"])
def test_admin_cidr_open_to_the_world_is_refused(cidr: str, mode: str) -> None:
    assert "must not be" in single_error(AdminCidr=cidr, ConnectionMode=mode)


@pytest.mark.parametrize(
    "cidr", ["203.0.113.0/33", "203.0.113.5/24", "not-a-cidr", "2001:db8::/32"]
)
def test_admin_cidr_must_be_a_canonical_ipv4_network(cidr: str) -> None:
    assert "not an IPv4 network" in single_error(AdminCidr=cidr, ConnectionMode="ssh")


def test_ssh_needs_admin_cidr() -> None:
    assert "ConnectionMode=ssh needs AdminCidr" in single_error(ConnectionMode="ssh", AdminCidr="")


def test_ssh_with_admin_cidr_and_key_passes() -> None:
    assert errors(ConnectionMode="ssh", AdminCidr="198.51.100.7/32", KeyName="ops") == []


def test_key_name_refused_with_ssm() -> None:
    assert "KeyName" in single_error(KeyName="ops")


@pytest.mark.parametrize(
    ("key", "value"),
    [("EnvironmentName", "qa"), ("ConnectionMode", "telnet"), ("VpcMode", "shared")],
)
def test_enumerations(key: str, value: str) -> None:
    assert f"{key}={value!r}" in single_error(**{key: value})


@pytest.mark.parametrize(
    ("count", "ok"), [(1, True), ("10", True), (0, False), (11, False), ("x", False)]
)
def test_instance_count_bounds(count: object, ok: bool) -> None:
    assert (errors(InstanceCount=count) == []) is ok


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws:iam::123456789012:server-certificate/x",
        "arn:aws:acm:eu-west-1:12345:certificate/abc",
        "",
    ],
)
def test_certificate_arn_format(arn: str) -> None:
    assert "CertificateArn" in single_error(CertificateArn=arn)


def test_china_partition_certificate_passes() -> None:
    assert errors(CertificateArn="arn:aws-cn:acm:cn-north-1:123456789012:certificate/abc-123") == []


def test_subnet_outside_vpc_is_refused() -> None:
    message = single_error(PrivateSubnet2Cidr="10.41.0.0/24")
    assert "PrivateSubnet2Cidr=10.41.0.0/24 is not inside VpcCidr=10.40.0.0/16" in message


def test_overlapping_subnets_are_refused() -> None:
    message = single_error(PublicSubnet2Cidr="10.40.0.128/25")
    assert "overlaps" in message
    assert "PublicSubnet1Cidr" in message


def test_custom_vpc_layout_passes() -> None:
    assert (
        errors(
            VpcCidr="172.20.0.0/20",
            PublicSubnet1Cidr="172.20.0.0/24",
            PublicSubnet2Cidr="172.20.1.0/24",
            PrivateSubnet1Cidr="172.20.8.0/23",
            PrivateSubnet2Cidr="172.20.10.0/23",
        )
        == []
    )


def test_subnet_cidrs_are_ignored_for_existing_vpc() -> None:
    assert (
        errors(
            VpcMode="existing",
            PublicSubnet1Cidr="192.0.2.0/24",
            ExistingVpcId="vpc-0123456789abcdef0",
            ExistingPublicSubnetIds=["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"],
            ExistingPrivateSubnetIds="subnet-0123456789abcdef2",
        )
        == []
    )


def test_existing_vpc_needs_ids() -> None:
    found = errors(VpcMode="existing")
    assert len(found) == 3, found
    assert any("ExistingVpcId" in e for e in found)
    assert any("two ExistingPublicSubnetIds" in e for e in found)
    assert any("ExistingPrivateSubnetIds" in e for e in found)


def test_existing_vpc_needs_two_public_subnets() -> None:
    message = single_error(
        VpcMode="existing",
        ExistingVpcId="vpc-0123abcd",
        ExistingPublicSubnetIds="subnet-0123abcd,",
        ExistingPrivateSubnetIds="subnet-0123abce",
    )
    assert "at least two ExistingPublicSubnetIds" in message


def test_existing_vpc_ids_are_validated() -> None:
    found = errors(
        VpcMode="existing",
        ExistingVpcId="vpc-XYZ",
        ExistingPublicSubnetIds="subnet-0123abcd, sn-1",
        ExistingPrivateSubnetIds=["subnet-0123abce"],
    )
    assert sorted(found) == sorted(
        [
            "ExistingVpcId='vpc-XYZ' is not a VPC id (vpc-...).",
            "'sn-1' is not a subnet id (subnet-...).",
        ]
    )


def test_all_errors_are_reported_at_once() -> None:
    found = errors(
        InstanceType="g5.xlarge",
        AmiKind="cpu",
        AdminCidr="0.0.0.0/0",
        KeyName="ops",
        InstanceCount=0,
    )
    assert len(found) == 4, found
