# Copyright: ragstack maintainers
# Apache License 2.0 (see galaxy.yml)
"""Jinja filters over plugins/module_utils/ec2_params.py, for the preflight role.

{{ params | ragstack.aws.ec2_params_errors }}   -> list of messages, [] when fine
{{ 'g5.xlarge' | ragstack.aws.ec2_ami_kind('auto') }} -> 'gpu'
"""

from __future__ import annotations

from collections.abc import Mapping

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


class FilterModule:
    def filters(self) -> dict[str, object]:
        return {"ec2_params_errors": ec2_params_errors, "ec2_ami_kind": ec2_ami_kind}
