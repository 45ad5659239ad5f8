#!/usr/bin/python
# Copyright: ragstack maintainers
# Apache License 2.0 (see galaxy.yml)

DOCUMENTATION = r"""
module: ecs_cluster_settings
short_description: Container Insights setting of an existing ECS cluster
description:
  - Sets the C(containerInsights) cluster setting (UpdateCluster).
  - Exists because M(community.aws.ecs_cluster) has no cluster settings.
version_added: 0.1.0
author: ragstack maintainers (!UNKNOWN)
options:
  cluster:
    description: Cluster name or ARN.
    type: str
    required: true
  container_insights:
    description: Container Insights mode.
    type: str
    choices: [enabled, enhanced, disabled]
    default: enabled
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Container Insights on
  ragstack.aws.ecs_cluster_settings:
    cluster: ragstack-dev
    container_insights: enabled
"""

RETURN = r"""
settings:
  description: The cluster's settings after the call.
  returned: always
  type: list
  elements: dict
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
            "cluster": {"type": "str", "required": True},
            "container_insights": {
                "type": "str",
                "choices": ["enabled", "enhanced", "disabled"],
                "default": "enabled",
            },
        },
        supports_check_mode=True,
    )
    client = aws_client(module, "ecs")
    wanted = [{"name": "containerInsights", "value": module.params["container_insights"]}]
    try:
        clusters = client.describe_clusters(
            clusters=[module.params["cluster"]], include=["SETTINGS"]
        )
        if not clusters["clusters"]:
            module.fail_json(msg=f"ECS cluster {module.params['cluster']} does not exist")
        settings = clusters["clusters"][0].get("settings", [])
        current = {s["name"]: s["value"] for s in settings}
        changed = current.get("containerInsights") != module.params["container_insights"]
        if changed and not module.check_mode:
            settings = client.update_cluster(cluster=module.params["cluster"], settings=wanted)[
                "cluster"
            ].get("settings", wanted)
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as err:
        module.fail_json_aws(err, msg=f"Updating ECS cluster {module.params['cluster']} failed")
    module.exit_json(changed=changed, settings=settings)


if __name__ == "__main__":
    main()
