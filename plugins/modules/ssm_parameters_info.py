#!/usr/bin/python
# Copyright: ragstack maintainers
# Apache License 2.0 (see galaxy.yml)

DOCUMENTATION = r"""
module: ssm_parameters_info
short_description: List the SSM parameters under a path, with their values or names only
description:
  - Reads every parameter directly under O(path) (SecureString values decrypted) and
    returns them by short name; with O(values=false) only their names, and no value
    (SSM DescribeParameters), so a check of what exists never brings a secret to the controller.
  - Exists because the M(amazon.aws.ssm_parameter) lookup prints the values it returns
    at C(-vvvv), which C(no_log) cannot hide; a module's result is hidden by C(no_log)
    at every verbosity. Always use it with C(no_log=true) on the task.
  - A path with no parameters is not an error.
version_added: 0.1.0
author: ragstack maintainers (!UNKNOWN)
options:
  path:
    description: Parameter path, e.g. C(/ragstack/dev).
    type: str
    required: true
  names:
    description: Only these short names; all when empty.
    type: list
    elements: str
    default: []
  values:
    description:
      - V(false) lists the names only (DescribeParameters); nothing decrypted, no value returned.
    type: bool
    default: true
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Read the environment's secrets
  ragstack.aws.ssm_parameters_info:
    path: /ragstack/dev
  register: stored
  no_log: true

- name: Which secrets exist (names only, no value leaves SSM)
  ragstack.aws.ssm_parameters_info:
    path: /ragstack/dev
    values: false
  register: existing
"""

RETURN = r"""
parameters:
  description: Short name -> value of each parameter found; empty with O(values=false).
  returned: always
  type: dict
names:
  description: The short names found (safe to print).
  returned: always
  type: list
  elements: str
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
            "path": {"type": "str", "required": True},
            "names": {"type": "list", "elements": "str", "default": []},
            "values": {"type": "bool", "default": True},
        },
        supports_check_mode=True,
    )
    path = module.params["path"].rstrip("/") + "/"
    wanted = set(module.params["names"])
    client = aws_client(module, "ssm")
    try:
        if module.params["values"]:
            paginator = client.get_paginator("get_parameters_by_path")
            pages = paginator.paginate(Path=path, Recursive=False, WithDecryption=True)
        else:
            # Metadata only: DescribeParameters never returns a value.
            paginator = client.get_paginator("describe_parameters")
            pages = paginator.paginate(
                ParameterFilters=[
                    {"Key": "Path", "Option": "OneLevel", "Values": [path.rstrip("/")]}
                ]
            )
        found = pages.build_full_result().get("Parameters", [])
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as err:
        module.fail_json_aws(err, msg=f"Reading the SSM parameters under {path} failed")
    by_name = {parameter["Name"][len(path) :]: parameter.get("Value") for parameter in found}
    names = sorted(name for name in by_name if not wanted or name in wanted)
    parameters = {name: by_name[name] for name in names} if module.params["values"] else {}
    module.exit_json(changed=False, parameters=parameters, names=names)


if __name__ == "__main__":
    main()
