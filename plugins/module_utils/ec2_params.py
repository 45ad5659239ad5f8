# Copyright: ragstack maintainers
# Apache License 2.0 (see galaxy.yml)
"""Preflight check of the parameters of ``cloudformation/ec2.yaml``.

CloudFormation enforces the template's cross-field constraints in its ``Rules``
section, but only when the stack is created or updated, and moto (the local AWS)
does not evaluate ``Rules`` at all. This module repeats those constraints as pure
Python so that a playbook can refuse bad parameters before calling CloudFormation
and so that tests against moto still exercise them. It also checks what
``Rules`` cannot express (CIDR containment, list lengths).

The only public entry point most callers need is :func:`validate_ec2_params`;
it returns a list of human-readable errors and an empty list when the
parameters are acceptable. Nothing here talks to AWS or imports Ansible.

The other preflight checks that need no AWS call live here too, so that they are
unit-tested as plain Python: :func:`template_parameter_errors` (a parameter set
against any template's own Parameters constraints), :func:`known_regions` (botocore's
partition data, no network), :func:`admin_cidr_prefix_error` (a CIDR broader than a
policy allows) and :func:`bounds_errors` (numeric ranges that argument_specs cannot
express, e.g. Lambda's memory).

``tests/cloudformation`` checks that :data:`GPU_FAMILIES` and :data:`DEFAULTS`
agree with the template, so change them together.
"""

from __future__ import annotations

import difflib
import ipaddress
import re
from collections.abc import Iterable, Mapping

# Instance families served by the GPU (Deep Learning) AMI. Must match the
# template's IsGpuFamily condition and GpuInstanceNeedsGpuAmi rule.
GPU_FAMILIES = frozenset({"g4dn", "g5", "g6", "p3"})

AMI_KINDS = ("auto", "cpu", "gpu")
ENVIRONMENTS = ("dev", "staging", "prod")
CONNECTION_MODES = ("ssh", "ssm")
VPC_MODES = ("create", "existing")

# Template defaults of the parameters this module reads. AdminCidr and
# CertificateArn have none on purpose: the caller must choose them.
DEFAULTS = {
    "EnvironmentName": "dev",
    "VpcMode": "create",
    "VpcCidr": "10.40.0.0/16",
    "PublicSubnet1Cidr": "10.40.0.0/24",
    "PublicSubnet2Cidr": "10.40.1.0/24",
    "PrivateSubnet1Cidr": "10.40.10.0/24",
    "PrivateSubnet2Cidr": "10.40.11.0/24",
    "ExistingVpcId": "",
    "ExistingPublicSubnetIds": "",
    "ExistingPrivateSubnetIds": "",
    "InstanceType": "t3.large",
    "AmiKind": "auto",
    "InstanceCount": 1,
    "ConnectionMode": "ssm",
    "KeyName": "",
}
REQUIRED = ("AdminCidr", "CertificateArn")

SUBNET_CIDR_KEYS = (
    "PublicSubnet1Cidr",
    "PublicSubnet2Cidr",
    "PrivateSubnet1Cidr",
    "PrivateSubnet2Cidr",
)
MIN_INSTANCES = 1
MAX_INSTANCES = 10
# An ALB refuses to be created with fewer than two subnets (in two AZs).
MIN_ALB_SUBNETS = 2

_CERTIFICATE_ARN = re.compile(
    r"^arn:aws[a-z-]*:acm:[a-z0-9-]+:[0-9]{12}:certificate/[0-9A-Za-z-]+$"
)
_VPC_ID = re.compile(r"^vpc-[0-9a-f]{8,17}$")
_SUBNET_ID = re.compile(r"^subnet-[0-9a-f]{8,17}$")


def instance_family(instance_type: str) -> str:
    """Return the family of an EC2 instance type (``g5.xlarge`` -> ``g5``)."""
    return str(instance_type).split(".", 1)[0]


def is_gpu_instance_type(instance_type: str) -> bool:
    """True when the instance type belongs to a family in :data:`GPU_FAMILIES`."""
    return instance_family(instance_type) in GPU_FAMILIES


def resolve_ami_kind(instance_type: str, ami_kind: str = "auto") -> str:
    """Return ``"cpu"`` or ``"gpu"``: which AMI parameter the template will use.

    Mirrors the template's UseGpuAmi condition; it does not validate the
    combination (see :func:`validate_ec2_params` for that).
    """
    if ami_kind == "gpu":
        return "gpu"
    if ami_kind == "auto" and is_gpu_instance_type(instance_type):
        return "gpu"
    return "cpu"


def _as_list(value: object) -> list[str]:
    """A CommaDelimitedList value as CloudFormation sees it, minus empty items."""
    if value is None:
        return []
    items = value.split(",") if isinstance(value, str) else [str(v) for v in value]
    return [item.strip() for item in items if item.strip()]


def _network(value: str, name: str, errors: list[str]) -> ipaddress.IPv4Network | None:
    try:
        network = ipaddress.IPv4Network(value, strict=True)
    except ValueError as exc:
        errors.append(f"{name}={value!r} is not an IPv4 network in CIDR notation ({exc}).")
        return None
    return network


def _check_admin_cidr(params: Mapping[str, object], errors: list[str]) -> None:
    admin_cidr = str(params.get("AdminCidr") or "")
    ssh = params.get("ConnectionMode") == "ssh"
    if not admin_cidr:
        if ssh:
            errors.append(
                "ConnectionMode=ssh needs AdminCidr, the only range allowed to reach port 22."
            )
        return
    # Any /0 is the whole internet whatever its address part, so say that rather
    # than complain about host bits.
    try:
        world = ipaddress.IPv4Network(admin_cidr, strict=False).prefixlen == 0
    except ValueError:
        world = False
    if not world:
        _network(admin_cidr, "AdminCidr", errors)
    else:
        errors.append(
            f"AdminCidr must not be {admin_cidr} (the whole internet); "
            "give the address range the administrators connect from."
        )


def _check_instance(params: Mapping[str, object], errors: list[str]) -> None:
    instance_type = str(params.get("InstanceType"))
    ami_kind = params.get("AmiKind")
    if ami_kind not in AMI_KINDS:
        errors.append(f"AmiKind={ami_kind!r} must be one of {', '.join(AMI_KINDS)}.")
    elif ami_kind == "cpu" and is_gpu_instance_type(instance_type):
        errors.append(
            f"AmiKind=cpu cannot be used with the GPU instance type {instance_type}; "
            "the CPU AMI has no NVIDIA driver. Use auto or gpu."
        )
    try:
        count = int(str(params.get("InstanceCount")))
    except ValueError:
        errors.append(f"InstanceCount={params.get('InstanceCount')!r} is not a whole number.")
    else:
        if not MIN_INSTANCES <= count <= MAX_INSTANCES:
            errors.append(
                f"InstanceCount={count} must be between {MIN_INSTANCES} and {MAX_INSTANCES}."
            )


def _check_create_vpc(params: Mapping[str, object], errors: list[str]) -> None:
    vpc = _network(str(params.get("VpcCidr")), "VpcCidr", errors)
    subnets = {}
    for key in SUBNET_CIDR_KEYS:
        subnet = _network(str(params.get(key)), key, errors)
        if subnet is None:
            continue
        if vpc is not None and not subnet.subnet_of(vpc):
            errors.append(f"{key}={subnet} is not inside VpcCidr={vpc}.")
        subnets[key] = subnet
    keys = list(subnets)
    for i, first in enumerate(keys):
        for second in keys[i + 1 :]:
            if subnets[first].overlaps(subnets[second]):
                errors.append(f"{first}={subnets[first]} overlaps {second}={subnets[second]}.")


def _check_existing_vpc(params: Mapping[str, object], errors: list[str]) -> None:
    vpc_id = str(params.get("ExistingVpcId") or "")
    if not vpc_id:
        errors.append("VpcMode=existing needs ExistingVpcId.")
    elif not _VPC_ID.match(vpc_id):
        errors.append(f"ExistingVpcId={vpc_id!r} is not a VPC id (vpc-...).")
    public = _as_list(params.get("ExistingPublicSubnetIds"))
    private = _as_list(params.get("ExistingPrivateSubnetIds"))
    if len(public) < MIN_ALB_SUBNETS:
        errors.append(
            "VpcMode=existing needs at least two ExistingPublicSubnetIds (two AZs) for the ALB."
        )
    if not private:
        errors.append("VpcMode=existing needs ExistingPrivateSubnetIds for the hosts.")
    for subnet_id in public + private:
        if not _SUBNET_ID.match(subnet_id):
            errors.append(f"{subnet_id!r} is not a subnet id (subnet-...).")


def validate_ec2_params(params: Mapping[str, object]) -> list[str]:
    """Check a ``cloudformation/ec2.yaml`` parameter set before creating the stack.

    ``params`` maps parameter names to the values that would be passed to
    CloudFormation; missing keys take the template defaults (:data:`DEFAULTS`),
    except the ones in :data:`REQUIRED`. CommaDelimitedList values may be given
    as a comma-separated string or as a list.

    Checks the template's ``Rules`` (GPU instance type with AmiKind=cpu,
    AdminCidr open to the world, ssh without AdminCidr, KeyName without ssh,
    existing VPC without an id) plus what CloudFormation only finds out halfway
    through a create: subnet CIDRs outside the VPC or overlapping, too few
    existing subnets, malformed ids and ARNs.

    Returns a list of error messages, empty when the parameters are fine.
    """
    merged = {**DEFAULTS, **{k: v for k, v in params.items() if v is not None}}
    errors: list[str] = [
        f"{key} is required (the template has no default)." for key in REQUIRED if key not in merged
    ]

    for key, allowed in (
        ("EnvironmentName", ENVIRONMENTS),
        ("ConnectionMode", CONNECTION_MODES),
        ("VpcMode", VPC_MODES),
    ):
        if merged[key] not in allowed:
            errors.append(f"{key}={merged[key]!r} must be one of {', '.join(allowed)}.")

    _check_instance(merged, errors)
    _check_admin_cidr(merged, errors)

    if merged["ConnectionMode"] == "ssm" and merged["KeyName"]:
        errors.append("KeyName is only used with ConnectionMode=ssh; leave it empty with ssm.")

    certificate_arn = merged.get("CertificateArn")
    if certificate_arn is not None and not _CERTIFICATE_ARN.match(str(certificate_arn)):
        errors.append(f"CertificateArn={certificate_arn!r} is not an ACM certificate ARN.")

    if merged["VpcMode"] == "create":
        _check_create_vpc(merged, errors)
    elif merged["VpcMode"] == "existing":
        _check_existing_vpc(merged, errors)
    return errors


# Broadest admin range accepted without ragstack_admin_cidr_allow_broad: a /16 is
# already 65536 addresses; anything broader is a typo or an open port in disguise.
ADMIN_CIDR_MIN_PREFIX = 16


def close_matches(value: object, candidates: Iterable[str], count: int = 3) -> list[str]:
    """The candidates closest to a mistyped value (``g5.xlargee`` -> ``g5.xlarge``)."""
    return difflib.get_close_matches(str(value), list(candidates), n=count, cutoff=0.75)


def _scalar(value: object) -> str:
    """A parameter value as CloudFormation receives it (every value is a string)."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    return str(value)


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _declared_errors(name: str, text: str, declared: Mapping[str, object]) -> list[str]:
    """What CloudFormation itself would refuse for one value; ``name`` is what the user set."""
    default = declared.get("Default")
    example = (
        f"; e.g. {name}={_scalar(default)} (the template's default)"
        if default not in (None, "")
        else ""
    )
    errors = []
    allowed = declared.get("AllowedValues")
    if allowed is not None and text not in [_scalar(v) for v in allowed]:
        near = close_matches(text, [_scalar(v) for v in allowed])
        hint = f"; did you mean {' or '.join(near)}?" if near else ""
        errors.append(
            f"{name}={text!r} is not one of the template's AllowedValues "
            f"({', '.join(_scalar(v) for v in allowed)}){hint}{example}."
        )
    pattern = declared.get("AllowedPattern")
    if pattern is not None and re.fullmatch(str(pattern), text) is None:
        what = declared.get("ConstraintDescription") or f"match {pattern}"
        errors.append(f"{name}={text!r} must be {what}{example}.")
    if declared.get("Type") == "Number":
        number = _number(text)
        low, high = declared.get("MinValue"), declared.get("MaxValue")
        if number is None:
            errors.append(f"{name}={text!r} is not a number{example}.")
        elif (low is not None and number < float(low)) or (
            high is not None and number > float(high)
        ):
            errors.append(f"{name}={text} must be between {low} and {high}{example}.")
    if declared.get("MinLength") is not None and len(text) < int(declared["MinLength"]):
        errors.append(f"{name} must be at least {declared['MinLength']} characters{example}.")
    if declared.get("MaxLength") is not None and len(text) > int(declared["MaxLength"]):
        errors.append(f"{name} must be at most {declared['MaxLength']} characters{example}.")
    return errors


def template_parameter_errors(
    declared: Mapping[str, Mapping[str, object]],
    params: Mapping[str, object],
    names: Mapping[str, str] | None = None,
) -> list[str]:
    """Check parameter values against a template's ``Parameters`` section.

    ``declared`` is the template's Parameters mapping; ``params`` what the run would
    pass; ``names`` maps a parameter to the variable that sets it, so a message names
    what the user typed (``ragstack_instance_type='t9.bogus' (InstanceType) ...``).
    Returns CloudFormation's own refusals (an undeclared name, AllowedValues,
    AllowedPattern, Number with MinValue/MaxValue, Min/MaxLength) before the stack
    call, with the template's default as a valid example. moto checks none of them,
    and on AWS they fail only once the change set is requested.
    """
    names = names or {}
    errors = []
    for parameter, value in params.items():
        if parameter not in declared:
            errors.append(
                f"{parameter} is not a parameter of the template ({', '.join(sorted(declared))})."
            )
        elif value is not None:
            shown = f"{names[parameter]}" if parameter in names else parameter
            found = _declared_errors(shown, _scalar(value), declared[parameter] or {})
            if parameter in names:
                found = [f"{error[:-1]} (template parameter {parameter})." for error in found]
            errors.extend(found)
    return errors


def known_regions(service: str = "ec2") -> list[str]:
    """Every region of every AWS partition botocore knows that offers ``service``.

    Read from botocore's bundled endpoint data: no network, no credentials, so an
    impossible region (``mars-1``) is refused before the first request, which would
    otherwise go to ec2.mars-1.amazonaws.com (or, with an endpoint override, reach
    the endpoint under a region that does not exist).
    """
    # Imported here: the other checks need no boto (unit tests, the template tests).
    import botocore.session

    session = botocore.session.get_session()
    regions: set[str] = set()
    for partition in session.get_available_partitions():
        regions.update(session.get_available_regions(service, partition_name=partition))
    return sorted(regions)


def admin_cidr_prefix_error(admin_cidr: object, min_prefix: int = ADMIN_CIDR_MIN_PREFIX) -> str:
    """A message when ``admin_cidr`` is broader than ``/min_prefix``, else ``""``.

    Empty and malformed values are not this check's business (ssm mode needs none;
    :func:`validate_ec2_params` reports a malformed one).
    """
    text = str(admin_cidr or "")
    try:
        network = ipaddress.IPv4Network(text, strict=False)
    except ValueError:
        return ""
    if not text or network.prefixlen >= min_prefix:
        return ""
    return (
        f"{text} is a /{network.prefixlen}: {network.num_addresses} addresses, broader than "
        f"a /{min_prefix}"
    )


def bounds_errors(
    values: Mapping[str, object], bounds: Mapping[str, Mapping[str, object]]
) -> list[str]:
    """Check variables against numeric bounds or allowed values.

    ``bounds`` maps a variable name to ``{min, max}`` or ``{one_of}``, with ``example``
    (a valid value) and ``why`` (whose limit it is). Only names present in ``values``
    are checked: a variable the run does not set keeps its role default, which the
    unit tests hold to the same bounds.
    """
    errors = []
    for name, bound in bounds.items():
        if name not in values or values[name] is None:
            continue
        value = values[name]
        example = f"; e.g. {name}={bound['example']}" if "example" in bound else ""
        why = f" ({bound['why']})" if bound.get("why") else ""
        try:
            number = int(str(value).strip())
        except ValueError:
            errors.append(f"{name}={value!r} is not a whole number{example}.")
            continue
        if "one_of" in bound and number not in [int(v) for v in bound["one_of"]]:
            allowed = ", ".join(str(v) for v in bound["one_of"])
            errors.append(f"{name}={number} must be one of {allowed}{why}{example}.")
        low, high = bound.get("min"), bound.get("max")
        if (low is not None and number < int(low)) or (high is not None and number > int(high)):
            errors.append(f"{name}={number} must be between {low} and {high}{why}{example}.")
    return errors
