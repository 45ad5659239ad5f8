#!/usr/bin/python
# Copyright: ragstack maintainers
# Apache License 2.0 (see galaxy.yml)

DOCUMENTATION = r"""
module: ec2_instance_type_offerings_info
short_description: List the EC2 instance types offered in a region (or its zones)
description:
  - Reads EC2 DescribeInstanceTypeOfferings, a read-only call, so a run can refuse an
    instance type its region does not offer (a typo such as C(g5.xlargee), or a type the
    region lacks) before it creates anything.
  - amazon.aws has no module for this call.
version_added: 0.1.0
author: ragstack maintainers (!UNKNOWN)
options:
  location_type:
    description: Where the offering is listed; V(region) answers "can this region run it at all".
    type: str
    choices: [region, availability-zone, availability-zone-id]
    default: region
  instance_types:
    description: Only these types (an unknown name is not offered); all offered types when empty.
    type: list
    elements: str
    default: []
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Read every instance type the region offers
  ragstack.aws.ec2_instance_type_offerings_info:
    region: eu-west-1
  register: offered

- name: Refuse a type the region does not offer
  ansible.builtin.assert:
    that: "'g5.xlarge' in offered.instance_types"
"""

RETURN = r"""
instance_types:
  description: The offered instance types (of O(instance_types) when given), sorted, each once.
  returned: always
  type: list
  elements: str
  sample: [g5.xlarge, t3.large]
missing:
  description: The types of O(instance_types) that are not offered.
  returned: always
  type: list
  elements: str
offerings:
  description: The offerings as EC2 returns them (C(instance_type), C(location_type), C(location)).
  returned: always
  type: list
  elements: dict
"""

try:
    import botocore
except ImportError:
    pass  # handled by AnsibleAWSModule

from ansible.module_utils.common.dict_transformations import camel_dict_to_snake_dict
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.ragstack.aws.plugins.module_utils.aws_client import aws_client


def main():
    module = AnsibleAWSModule(
        argument_spec={
            "location_type": {
                "type": "str",
                "choices": ["region", "availability-zone", "availability-zone-id"],
                "default": "region",
            },
            "instance_types": {"type": "list", "elements": "str", "default": []},
        },
        supports_check_mode=True,
    )
    wanted = module.params["instance_types"]
    request = {"LocationType": module.params["location_type"]}
    if wanted:
        request["Filters"] = [{"Name": "instance-type", "Values": wanted}]
    client = aws_client(module, "ec2")
    try:
        paginator = client.get_paginator("describe_instance_type_offerings")
        found = paginator.paginate(**request).build_full_result().get("InstanceTypeOfferings", [])
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as err:
        module.fail_json_aws(err, msg="Reading the EC2 instance type offerings failed")
    offered = sorted({offering["InstanceType"] for offering in found})
    module.exit_json(
        changed=False,
        instance_types=offered,
        missing=[name for name in wanted if name not in offered],
        offerings=[camel_dict_to_snake_dict(offering) for offering in found],
    )


if __name__ == "__main__":
    main()
