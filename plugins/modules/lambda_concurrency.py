#!/usr/bin/python
# Copyright: ragstack maintainers
# Apache License 2.0 (see galaxy.yml)

DOCUMENTATION = r"""
module: lambda_concurrency
short_description: Reserved and provisioned concurrency of a Lambda function
description:
  - Sets (or removes, with V(-1)) the reserved concurrency of a function.
  - With O(provisioned) above 0, publishes a version when the code changed since the alias
    O(alias) was last pointed, points the alias at it and sets its provisioned concurrency;
    with 0, removes any provisioned concurrency of the alias.
  - Exists because M(amazon.aws.lambda) manages neither.
version_added: 0.1.0
author: ragstack maintainers (!UNKNOWN)
options:
  function_name:
    description: Function name.
    type: str
    required: true
  reserved:
    description: Reserved concurrent executions; V(-1) removes the reservation.
    type: int
    default: -1
  provisioned:
    description: Provisioned concurrent executions on O(alias); V(0) for none.
    type: int
    default: 0
  alias:
    description: Alias that carries the provisioned concurrency.
    type: str
    default: live
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: At most 10 concurrent embedding invocations, 2 kept warm
  ragstack.aws.lambda_concurrency:
    function_name: ragstack-dev-embedding
    reserved: 10
    provisioned: 2
"""

RETURN = r"""
reserved:
  description: Reserved concurrency now (-1 = unreserved).
  returned: always
  type: int
provisioned:
  description: Provisioned concurrency requested on the alias.
  returned: always
  type: int
"""

try:
    import botocore
except ImportError:
    pass  # handled by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.ragstack.aws.plugins.module_utils.aws_client import aws_client


def _reserved(client, module):
    name = module.params["function_name"]
    wanted = module.params["reserved"]
    current = client.get_function_concurrency(FunctionName=name).get("ReservedConcurrentExecutions")
    current = -1 if current is None else current
    if current == wanted:
        return False
    if not module.check_mode:
        if wanted < 0:
            client.delete_function_concurrency(FunctionName=name)
        else:
            client.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=wanted)
    return True


def _alias(client, name, alias):
    try:
        return client.get_alias(FunctionName=name, Name=alias)
    except botocore.exceptions.ClientError as err:
        if err.response["Error"]["Code"] == "ResourceNotFoundException":
            return None
        raise


def _provisioned(client, module):
    name, alias = module.params["function_name"], module.params["alias"]
    wanted = module.params["provisioned"]
    current_alias = _alias(client, name, alias)
    if wanted == 0:
        if current_alias is None:
            return False
        try:
            client.get_provisioned_concurrency_config(FunctionName=name, Qualifier=alias)
        except botocore.exceptions.ClientError as err:
            if err.response["Error"]["Code"] == "ProvisionedConcurrencyConfigNotFoundException":
                return False
            raise
        if not module.check_mode:
            client.delete_provisioned_concurrency_config(FunctionName=name, Qualifier=alias)
        return True
    changed = False
    latest_sha = client.get_function_configuration(FunctionName=name)["CodeSha256"]
    version = current_alias["FunctionVersion"] if current_alias else None
    version_sha = (
        client.get_function_configuration(FunctionName=name, Qualifier=version)["CodeSha256"]
        if version
        else None
    )
    if version_sha != latest_sha:
        changed = True
        if module.check_mode:
            return True
        version = client.publish_version(FunctionName=name)["Version"]
        if current_alias:
            client.update_alias(FunctionName=name, Name=alias, FunctionVersion=version)
        else:
            client.create_alias(FunctionName=name, Name=alias, FunctionVersion=version)
    try:
        current = client.get_provisioned_concurrency_config(FunctionName=name, Qualifier=alias)
        current = current.get("RequestedProvisionedConcurrentExecutions")
    except botocore.exceptions.ClientError as err:
        if err.response["Error"]["Code"] != "ProvisionedConcurrencyConfigNotFoundException":
            raise
        current = None
    if current != wanted:
        changed = True
        if not module.check_mode:
            client.put_provisioned_concurrency_config(
                FunctionName=name, Qualifier=alias, ProvisionedConcurrentExecutions=wanted
            )
    return changed


def main():
    module = AnsibleAWSModule(
        argument_spec={
            "function_name": {"type": "str", "required": True},
            "reserved": {"type": "int", "default": -1},
            "provisioned": {"type": "int", "default": 0},
            "alias": {"type": "str", "default": "live"},
        },
        supports_check_mode=True,
    )
    client = aws_client(module, "lambda")
    try:
        changed = _reserved(client, module)
        changed = _provisioned(client, module) or changed
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as err:
        module.fail_json_aws(
            err, msg=f"Setting the concurrency of {module.params['function_name']} failed"
        )
    module.exit_json(
        changed=changed,
        reserved=module.params["reserved"],
        provisioned=module.params["provisioned"],
    )


if __name__ == "__main__":
    main()
