#!/usr/bin/python
# Copyright: ragstack maintainers
# Apache License 2.0 (see galaxy.yml)

DOCUMENTATION = r"""
module: lambda_image_function
short_description: A Lambda function run from a container image, updated only when it differs
description:
  - Creates, updates or deletes a Lambda function of package type C(Image).
  - Compares the function's configuration with the options and calls UpdateFunctionConfiguration
    only when something differs; compares the function's image URI (and architecture) and calls
    UpdateFunctionCode only when they differ; tags and untags only the difference.
  - Exists because M(amazon.aws.lambda) sends the image URI to UpdateFunctionCode on every run,
    which redeploys the function (cold starts) and reports a change each time.
  - With O(state=present), refuses an existing function of package type C(Zip); it is not converted.
version_added: 0.1.0
author: ragstack maintainers (!UNKNOWN)
options:
  name:
    description: Function name.
    type: str
    required: true
  state:
    description: Whether the function exists.
    type: str
    choices: [present, absent]
    default: present
  image_uri:
    description:
      - URI of the image in ECR (C(<account>.dkr.ecr.<region>.amazonaws.com/<repository>:<tag>)
        or C(@sha256:<digest>)).
      - Required with O(state=present).
    type: str
  role:
    description:
      - ARN of the execution role.
      - Required with O(state=present).
    type: str
  memory_size:
    description: Memory in MB.
    type: int
    default: 128
  timeout:
    description: Timeout in seconds.
    type: int
    default: 3
  description:
    description: Function description.
    type: str
    default: ""
  environment_variables:
    description: Environment of the function; V({}) for none. Values are sent as strings.
    type: dict
    default: {}
  architecture:
    description: Instruction set of the image.
    type: str
    choices: [x86_64, arm64]
    default: x86_64
  tags:
    description:
      - Tags of the function, exactly (others are removed); V(null) leaves the tags alone.
    type: dict
  wait_timeout:
    description: Seconds to wait for the function to become active or finish an update.
    type: int
    default: 300
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: The embedding service as a container image function
  ragstack.aws.lambda_image_function:
    name: ragstack-dev-embedding
    image_uri: "{{ ecr_images_uris['ragstack/embedding-service-lambda'] }}"
    role: arn:aws:iam::123456789012:role/ragstack-dev-embedding
    memory_size: 3008
    timeout: 30
    environment_variables:
      EMBEDDING_PROVIDER: local
    tags:
      project: ragstack

- name: Remove it
  ragstack.aws.lambda_image_function:
    name: ragstack-dev-embedding
    state: absent
"""

RETURN = r"""
configuration:
  description:
    - The function's configuration (GetFunction's C(Configuration), snake_cased; the environment
      variable names are kept as they are).
    - In check mode, the configuration before the change (empty when the function would be created).
  returned: state=present
  type: dict
code:
  description: GetFunction's C(Code) (repository_type, image_uri, resolved_image_uri), snake_cased.
  returned: state=present
  type: dict
image_uri:
  description: The image URI the function runs (the requested one in check mode).
  returned: state=present
  type: str
tags:
  description: Tags of the function.
  returned: state=present
  type: dict
updated:
  description: What was (or in check mode would be) done, among C(created), C(configuration),
    C(code), C(tags), C(deleted).
  returned: always
  type: list
  elements: str
"""

try:
    import botocore
except ImportError:
    pass  # handled by AnsibleAWSModule

from ansible.module_utils.common.dict_transformations import camel_dict_to_snake_dict
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.ragstack.aws.plugins.module_utils.aws_client import aws_client


def _get_function(client, name):
    try:
        return client.get_function(FunctionName=name)
    except botocore.exceptions.ClientError as err:
        if err.response["Error"]["Code"] == "ResourceNotFoundException":
            return None
        raise


def _wait(client, module, waiter, name):
    delay = 2
    attempts = max(1, module.params["wait_timeout"] // delay)
    client.get_waiter(waiter).wait(
        FunctionName=name, WaiterConfig={"Delay": delay, "MaxAttempts": attempts}
    )


def _wanted_configuration(params):
    return {
        "Role": params["role"],
        "MemorySize": params["memory_size"],
        "Timeout": params["timeout"],
        "Description": params["description"],
        "Environment": {
            "Variables": {k: str(v) for k, v in (params["environment_variables"] or {}).items()}
        },
    }


def _configuration_changes(current, wanted):
    """The keys of UpdateFunctionConfiguration whose value differs from the function's."""
    have = {
        "Role": current.get("Role"),
        "MemorySize": current.get("MemorySize"),
        "Timeout": current.get("Timeout"),
        "Description": current.get("Description", ""),
        "Environment": {"Variables": (current.get("Environment") or {}).get("Variables") or {}},
    }
    return {key: value for key, value in wanted.items() if have[key] != value}


def _create(client, module):
    params = module.params
    if module.check_mode:
        return ["created"]
    kwargs = {
        "FunctionName": params["name"],
        "PackageType": "Image",
        "Code": {"ImageUri": params["image_uri"]},
        "Architectures": [params["architecture"]],
        "Publish": True,
        **_wanted_configuration(params),
    }
    if params["tags"]:
        kwargs["Tags"] = {k: str(v) for k, v in params["tags"].items()}
    client.create_function(**kwargs)
    _wait(client, module, "function_active_v2", params["name"])
    return ["created"]


def _tag_changes(current, wanted):
    if wanted is None:
        return {}, []
    # aws: tags belong to AWS (CloudFormation and the like); never ours to remove.
    current = {k: v for k, v in current.items() if not k.startswith("aws:")}
    add = {k: str(v) for k, v in wanted.items() if current.get(k) != str(v)}
    remove = sorted(set(current) - set(wanted))
    return add, remove


def _update(client, module, function):
    params = module.params
    name = params["name"]
    configuration = function["Configuration"]
    updated = []
    config_changes = _configuration_changes(configuration, _wanted_configuration(params))
    code_differs = function.get("Code", {}).get("ImageUri") != params["image_uri"] or (
        configuration.get("Architectures") or ["x86_64"]
    ) != [params["architecture"]]
    add_tags, remove_tags = _tag_changes(function.get("Tags") or {}, params["tags"])
    if config_changes:
        updated.append("configuration")
    if code_differs:
        updated.append("code")
    if add_tags or remove_tags:
        updated.append("tags")
    if module.check_mode or not updated:
        return updated
    if config_changes or code_differs:
        # A previous update still being applied would make the next one conflict.
        _wait(client, module, "function_updated_v2", name)
    if config_changes:
        client.update_function_configuration(FunctionName=name, **config_changes)
        _wait(client, module, "function_updated_v2", name)
    if code_differs:
        # The architecture is a parameter of UpdateFunctionCode, not of the configuration.
        # moto 5.2 gap (UpdateFunctionCode Architectures): moto ignores it and keeps the
        # function's architecture; AWS applies it.
        client.update_function_code(
            FunctionName=name,
            ImageUri=params["image_uri"],
            Architectures=[params["architecture"]],
        )
        _wait(client, module, "function_updated_v2", name)
    arn = configuration["FunctionArn"]
    if add_tags:
        client.tag_resource(Resource=arn, Tags=add_tags)
    if remove_tags:
        client.untag_resource(Resource=arn, TagKeys=remove_tags)
    return updated


def _result(function, image_uri):
    """function is None in check mode when it would be created."""
    function = function or {"Configuration": {}, "Code": {}}
    configuration = camel_dict_to_snake_dict(function["Configuration"])
    if "Environment" in function["Configuration"]:
        # Variable names are the function's, not to be snake_cased.
        configuration["environment"]["variables"] = function["Configuration"]["Environment"].get(
            "Variables", {}
        )
    return {
        "configuration": configuration,
        "code": camel_dict_to_snake_dict(function["Code"]),
        "image_uri": image_uri,
        "tags": function.get("Tags") or {},
    }


def _present(client, module):
    params = module.params
    function = _get_function(client, params["name"])
    if function is None:
        updated = _create(client, module)
    else:
        package_type = function["Configuration"].get("PackageType", "Zip")
        if package_type != "Image":
            module.fail_json(
                msg=(
                    f"Lambda function {params['name']} exists with PackageType {package_type}: "
                    "a function's package type cannot be changed. Delete it (state=absent) or "
                    "deploy it with amazon.aws.lambda."
                )
            )
        updated = _update(client, module, function)
    if module.check_mode:
        return updated, _result(function, params["image_uri"])
    if updated:
        function = _get_function(client, params["name"])
    return updated, _result(function, function["Code"]["ImageUri"])


def _absent(client, module):
    name = module.params["name"]
    if _get_function(client, name) is None:
        return []
    if not module.check_mode:
        client.delete_function(FunctionName=name)
    return ["deleted"]


def main():
    module = AnsibleAWSModule(
        argument_spec={
            "name": {"type": "str", "required": True},
            "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
            "image_uri": {"type": "str"},
            "role": {"type": "str"},
            "memory_size": {"type": "int", "default": 128},
            "timeout": {"type": "int", "default": 3},
            "description": {"type": "str", "default": ""},
            "environment_variables": {"type": "dict", "default": {}},
            "architecture": {"type": "str", "choices": ["x86_64", "arm64"], "default": "x86_64"},
            "tags": {"type": "dict"},
            "wait_timeout": {"type": "int", "default": 300},
        },
        required_if=[("state", "present", ["image_uri", "role"])],
        supports_check_mode=True,
    )
    client = aws_client(module, "lambda")
    name = module.params["name"]
    try:
        if module.params["state"] == "absent":
            updated, result = _absent(client, module), {}
        else:
            updated, result = _present(client, module)
    except botocore.exceptions.WaiterError as err:
        module.fail_json_aws(err, msg=f"Waiting for Lambda function {name} failed")
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as err:
        module.fail_json_aws(err, msg=f"Deploying Lambda function {name} failed")
    module.exit_json(changed=bool(updated), updated=updated, **result)


if __name__ == "__main__":
    main()
