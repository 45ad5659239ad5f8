#!/usr/bin/python
# Copyright: ragstack maintainers
# Apache License 2.0 (see galaxy.yml)

DOCUMENTATION = r"""
module: application_autoscaling_target
short_description: Register or deregister an Application Auto Scaling scalable target
description:
  - Registers a scalable target with O(min_capacity) and O(max_capacity), or deregisters it.
  - Exists because M(community.aws.application_autoscaling_policy) with O(state=absent) deletes the
    policy but leaves the scalable target registered.
version_added: 0.1.0
author: ragstack maintainers (!UNKNOWN)
options:
  service_namespace:
    description: Namespace, e.g. V(ecs).
    type: str
    required: true
  resource_id:
    description: E.g. C(service/<cluster>/<service>).
    type: str
    required: true
  scalable_dimension:
    description: E.g. V(ecs:service:DesiredCount).
    type: str
    required: true
  min_capacity:
    description: Minimum capacity (present).
    type: int
  max_capacity:
    description: Maximum capacity (present).
    type: int
  state:
    description: present or absent.
    type: str
    choices: [present, absent]
    default: present
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Deregister the service's scalable target
  ragstack.aws.application_autoscaling_target:
    service_namespace: ecs
    resource_id: service/ragstack-dev/ragstack-dev
    scalable_dimension: ecs:service:DesiredCount
    state: absent
"""

RETURN = r"""
target:
  description: The scalable target (empty when absent).
  returned: always
  type: dict
"""

try:
    import botocore
except ImportError:
    pass  # handled by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.ragstack.aws.plugins.module_utils.aws_client import aws_client


def main():
    module = AnsibleAWSModule(
        argument_spec={
            "service_namespace": {"type": "str", "required": True},
            "resource_id": {"type": "str", "required": True},
            "scalable_dimension": {"type": "str", "required": True},
            "min_capacity": {"type": "int"},
            "max_capacity": {"type": "int"},
            "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
        },
        required_if=[("state", "present", ["min_capacity", "max_capacity"])],
        supports_check_mode=True,
    )
    client = aws_client(module, "application-autoscaling")
    key = {
        "ServiceNamespace": module.params["service_namespace"],
        "ResourceId": module.params["resource_id"],
        "ScalableDimension": module.params["scalable_dimension"],
    }
    try:
        found = client.describe_scalable_targets(
            ServiceNamespace=key["ServiceNamespace"],
            ResourceIds=[key["ResourceId"]],
            ScalableDimension=key["ScalableDimension"],
        )["ScalableTargets"]
        current = found[0] if found else None
        changed = False
        if module.params["state"] == "absent":
            if current is not None:
                changed = True
                if not module.check_mode:
                    client.deregister_scalable_target(**key)
            module.exit_json(changed=changed, target={})
        wanted = (module.params["min_capacity"], module.params["max_capacity"])
        if current is None or (current["MinCapacity"], current["MaxCapacity"]) != wanted:
            changed = True
            if not module.check_mode:
                client.register_scalable_target(MinCapacity=wanted[0], MaxCapacity=wanted[1], **key)
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as err:
        module.fail_json_aws(err, msg=f"Managing scalable target {key['ResourceId']} failed")
    module.exit_json(
        changed=changed, target={**key, "MinCapacity": wanted[0], "MaxCapacity": wanted[1]}
    )


if __name__ == "__main__":
    main()
