# Copyright: ragstack maintainers
# Apache License 2.0 (see galaxy.yml)
"""Jinja filters over plugins/module_utils/ec2_params.py, for the preflight role.

{{ params | ragstack.aws.ec2_params_errors }}   -> list of messages, [] when fine
{{ 'g5.xlarge' | ragstack.aws.ec2_ami_kind('auto') }} -> 'gpu'
{{ template_text | ragstack.aws.template_parameter_errors(params) }} -> the template's refusals
{{ 'ec2' | ragstack.aws.known_regions }}          -> every region botocore knows (no network)
{{ cidr | ragstack.aws.admin_cidr_prefix_error(16) }} -> '' or why the range is too broad
{{ values | ragstack.aws.bounds_errors(bounds) }} -> numeric bounds argument_specs cannot express
{{ value | ragstack.aws.close_matches(candidates) }} -> the likely intended values
{{ 'nginx_tls' | ragstack.aws.role_argument_spec(roles_dir) }} -> all its options
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import yaml
from ansible.errors import AnsibleFilterError
from ansible_collections.ragstack.aws.plugins.module_utils import ec2_params


def ec2_params_errors(params: Mapping[str, object]) -> list[str]:
    """The cloudformation/ec2.yaml Rules (and more), checked before any AWS call."""
    if not isinstance(params, Mapping):
        raise AnsibleFilterError(
            f"ec2_params_errors expects a mapping of template parameters, got {type(params)}"
        )
    return ec2_params.validate_ec2_params(dict(params))


def ec2_ami_kind(instance_type: str, ami_kind: str = "auto") -> str:
    """'cpu' or 'gpu': the AMI the template will launch for this instance type."""
    return ec2_params.resolve_ami_kind(str(instance_type), str(ami_kind))


class _TemplateLoader(yaml.SafeLoader):
    """CloudFormation YAML: short-form intrinsics (!Ref, !Sub, ...) read as plain values;
    only the Parameters section is used, which has none."""


def _any_tag(loader: yaml.SafeLoader, _suffix: str, node: yaml.Node) -> object:
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node)
    return loader.construct_mapping(node)


_TemplateLoader.add_multi_constructor("!", _any_tag)


def template_parameter_errors(
    template: str, params: Mapping[str, object], names: Mapping[str, str] | None = None
) -> list[str]:
    """Parameter values against the template's own Parameters constraints (YAML or JSON text)."""
    try:
        parsed = yaml.load(str(template), Loader=_TemplateLoader)  # noqa: S506 - SafeLoader subclass
    except yaml.YAMLError as exc:
        raise AnsibleFilterError(f"template_parameter_errors: not a template: {exc}") from exc
    if not isinstance(parsed, Mapping) or not isinstance(params, Mapping):
        raise AnsibleFilterError("template_parameter_errors expects template text and a mapping")
    return ec2_params.template_parameter_errors(
        parsed.get("Parameters") or {}, dict(params), dict(names or {})
    )


def known_regions(service: str = "ec2") -> list[str]:
    return ec2_params.known_regions(str(service))


def admin_cidr_prefix_error(admin_cidr: object, min_prefix: int = 16) -> str:
    return ec2_params.admin_cidr_prefix_error(admin_cidr, int(min_prefix))


def bounds_errors(values: Mapping[str, object], bounds: Mapping[str, Mapping]) -> list[str]:
    return ec2_params.bounds_errors(dict(values), dict(bounds))


def close_matches(value: object, candidates: list[str]) -> list[str]:
    return ec2_params.close_matches(value, candidates)


def _literal(value: object) -> bool:
    return value is not None and "{{" not in str(value) and "{%" not in str(value)


def role_argument_spec(role: str, roles_dir: str) -> dict[str, object]:
    """The options of every entry point of a role, for ansible.builtin.validate_argument_spec
    before the role runs: ``required`` and ``default`` dropped at the top level (the play
    may pass a value only when it includes the role, and the role's defaults fill the rest;
    a templated default would not convert), plus a valid example per option (the spec's
    or the role's literal default, else the first choice) for the refusal message."""
    name = str(role).rsplit(".", 1)[-1]
    path = Path(roles_dir) / name / "meta" / "argument_specs.yml"
    try:
        specs = yaml.safe_load(path.read_text())["argument_specs"]
    except (OSError, KeyError, TypeError, yaml.YAMLError) as exc:
        raise AnsibleFilterError(
            f"role_argument_spec: no argument specs for {role}: {exc}"
        ) from exc
    defaults_path = Path(roles_dir) / name / "defaults" / "main.yml"
    defaults = yaml.safe_load(defaults_path.read_text()) if defaults_path.exists() else None
    defaults = defaults if isinstance(defaults, Mapping) else {}
    options: dict[str, dict] = {}
    examples: dict[str, object] = {}
    for entry in specs.values():
        for option, spec in ((entry or {}).get("options") or {}).items():
            spec = dict(spec or {})
            default = spec.pop("default", None)
            spec.pop("required", None)
            options[option] = spec
            for candidate in (default, defaults.get(option), (spec.get("choices") or [None])[0]):
                if _literal(candidate) and option not in examples:
                    examples[option] = candidate
    return {"role": name, "options": options, "examples": examples}


class FilterModule:
    def filters(self) -> dict[str, object]:
        return {
            "ec2_params_errors": ec2_params_errors,
            "ec2_ami_kind": ec2_ami_kind,
            "template_parameter_errors": template_parameter_errors,
            "known_regions": known_regions,
            "admin_cidr_prefix_error": admin_cidr_prefix_error,
            "bounds_errors": bounds_errors,
            "close_matches": close_matches,
            "role_argument_spec": role_argument_spec,
        }
