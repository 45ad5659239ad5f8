"""The preflight checks that need no AWS call (plugins/module_utils/ec2_params.py and the
filters over it): template declarations, regions, admin CIDR breadth, bounds, role specs."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from ansible_collections.ragstack.aws.plugins.filter import ec2_params as filters
from ansible_collections.ragstack.aws.plugins.module_utils import ec2_params

REPO_ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = (REPO_ROOT / "cloudformation" / "ec2.yaml").read_text()
NAMES = {"InstanceType": "ragstack_instance_type", "InstanceCount": "ragstack_instance_count"}
PREFLIGHT_VARS = yaml.safe_load((REPO_ROOT / "roles/preflight/vars/main.yml").read_text())
ARCHES = yaml.safe_load((REPO_ROOT / "playbooks/vars/arches.yml").read_text())["ragstack_arches"]


def declared(params: dict) -> list[str]:
    return filters.template_parameter_errors(TEMPLATE, params, NAMES)


def test_valid_parameters_pass() -> None:
    assert declared({"InstanceType": "t3.large", "InstanceCount": "3", "AmiKind": "auto"}) == []


@pytest.mark.parametrize(
    ("params", "said"),
    [
        ({"InstanceType": "t9.bogus"}, "ragstack_instance_type='t9.bogus' is not one of"),
        ({"InstanceType": "g5.xlargee"}, "did you mean g5.xlarge"),
        ({"InstanceCount": "0"}, "ragstack_instance_count=0 must be between 1 and 10"),
        ({"InstanceCount": "11"}, "ragstack_instance_count=11 must be between 1 and 10"),
        ({"InstanceCount": "two"}, "is not a number"),
        ({"ReleaseId": "r-XYZ"}, "ReleaseId='r-XYZ' must be empty, or r- and 12"),
        ({"LogRetentionDays": "42"}, "LogRetentionDays='42' is not one of"),
        ({"NoSuchParameter": "x"}, "NoSuchParameter is not a parameter of the template"),
    ],
)
def test_template_declarations_refuse(params: dict, said: str) -> None:
    errors = declared(params)
    assert len(errors) == 1
    assert said in errors[0]


def test_template_refusal_names_the_variable_and_an_example() -> None:
    (error,) = declared({"InstanceType": "t9.bogus"})
    assert "e.g. ragstack_instance_type=t3.large" in error
    assert "(template parameter InstanceType)" in error


def test_known_regions_are_botocores() -> None:
    regions = ec2_params.known_regions()
    assert {"us-east-1", "eu-west-1", "cn-north-1", "us-gov-west-1"} <= set(regions)
    assert "mars-1" not in regions
    assert ec2_params.close_matches("eu-wst-1", regions)[0] == "eu-west-1"


@pytest.mark.parametrize(
    ("cidr", "broad"),
    [
        ("0.0.0.0/1", True),
        ("10.0.0.0/8", True),
        ("172.16.0.0/15", True),
        ("172.16.0.0/16", False),
        ("203.0.113.0/24", False),
        ("127.0.0.1/32", False),
        ("", False),
        ("not-a-cidr", False),
    ],
)
def test_admin_cidr_breadth(cidr: str, broad: bool) -> None:
    assert bool(ec2_params.admin_cidr_prefix_error(cidr)) is broad


BOUNDS = {k: v for role in PREFLIGHT_VARS["_preflight_bounds"].values() for k, v in role.items()}


@pytest.mark.parametrize(
    ("values", "said"),
    [
        ({"lambda_app_orchestrator_memory_mb": 20000}, "must be between 128 and 10240"),
        ({"lambda_app_embedding_memory_mb": "127"}, "must be between 128 and 10240"),
        ({"lambda_app_orchestrator_timeout": 31}, "must be between 1 and 30"),
        ({"lambda_app_embedding_timeout": 901}, "must be between 1 and 900"),
        ({"lambda_app_log_retention_days": 42}, "must be one of 1, 3, 5"),
        ({"lambda_app_embedding_reserved_concurrency": -2}, "must be between -1 and 1000"),
        ({"lambda_app_orchestrator_memory_mb": "lots"}, "is not a whole number"),
    ],
)
def test_bounds_refuse(values: dict, said: str) -> None:
    (error,) = ec2_params.bounds_errors(values, BOUNDS)
    assert said in error
    name = next(iter(values))
    assert f"e.g. {name}=" in error


def test_bounds_pass_at_the_edges() -> None:
    values = {
        "lambda_app_orchestrator_memory_mb": 10240,
        "lambda_app_embedding_memory_mb": 128,
        "lambda_app_orchestrator_timeout": 30,
        "lambda_app_log_retention_days": 3653,
    }
    assert ec2_params.bounds_errors(values, BOUNDS) == []


@pytest.mark.parametrize("role", sorted(PREFLIGHT_VARS["_preflight_bounds"]))
def test_role_defaults_and_examples_are_within_bounds(role: str) -> None:
    """The role defaults (what runs when nothing is set) and every example given in a
    message satisfy the bounds; the refusals above are the control."""
    defaults = yaml.safe_load((REPO_ROOT / "roles" / role / "defaults" / "main.yml").read_text())
    bounds = PREFLIGHT_VARS["_preflight_bounds"][role]
    assert set(bounds) <= set(defaults), "a bound names a variable the role does not have"
    assert ec2_params.bounds_errors({k: defaults[k] for k in bounds}, bounds) == []
    assert ec2_params.bounds_errors({k: b["example"] for k, b in bounds.items()}, bounds) == []


def test_role_argument_spec_drops_required_and_gives_examples() -> None:
    spec = filters.role_argument_spec("ragstack.aws.nginx_tls", str(REPO_ROOT / "roles"))
    assert spec["role"] == "nginx_tls"
    mode = spec["options"]["nginx_tls_mode"]
    assert mode["choices"] == ["self_signed", "provided", "letsencrypt"]
    assert "default" not in mode
    assert spec["examples"]["nginx_tls_mode"] == "self_signed"
    lambda_app = filters.role_argument_spec("lambda_app", str(REPO_ROOT / "roles"))
    assert "required" not in lambda_app["options"]["lambda_app_code"]
    # Every entry point's options: validate's and build's too.
    assert {"lambda_app_embedding_provisioned_concurrency", "lambda_app_services_dir"} <= set(
        lambda_app["options"]
    )


@pytest.mark.parametrize("arch", sorted(ARCHES))
def test_every_registered_role_has_argument_specs(arch: str) -> None:
    for role in ARCHES[arch]["roles"]:
        assert filters.role_argument_spec(role, str(REPO_ROOT / "roles"))["options"], role
