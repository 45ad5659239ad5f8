#!/usr/bin/python
# Copyright: ragstack maintainers
# Apache License 2.0 (see galaxy.yml)

DOCUMENTATION = r"""
module: cloudformation_change_set
short_description: Execute a CloudFormation change set and wait for the stack
description:
  - Executes a change set created by M(amazon.aws.cloudformation) with
    O(amazon.aws.cloudformation#module:create_changeset=true) and waits until the stack
    update finishes.
  - On failure, reports the first resource that failed and its reason.
  - A change set with nothing to change is deleted and reported unchanged.
version_added: 0.1.0
author: ragstack maintainers (!UNKNOWN)
options:
  stack_name:
    description: Name of the stack.
    type: str
    required: true
  change_set_id:
    description: ARN (or name) of the change set.
    type: str
    required: true
  timeout:
    description: Seconds to wait for the stack.
    type: int
    default: 3600
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Propose the update
  amazon.aws.cloudformation:
    stack_name: ragstack-dev
    template_body: "{{ lookup('file', 'ec2.yaml') }}"
    create_changeset: true
  register: proposed

- name: Apply it
  ragstack.aws.cloudformation_change_set:
    stack_name: ragstack-dev
    change_set_id: "{{ proposed.change_set_id }}"
  when: proposed.change_set_id is defined
"""

RETURN = r"""
stack_status:
  description: Final status of the stack.
  returned: always
  type: str
  sample: UPDATE_COMPLETE
failed_resource:
  description: The first resource that failed (logical id, type, reason).
  returned: on failure
  type: dict
"""

import time

try:
    import botocore
except ImportError:
    pass  # handled by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.ragstack.aws.plugins.module_utils.aws_client import aws_client

_IN_PROGRESS = "_IN_PROGRESS"
_NO_CHANGES = ("didn't contain changes", "No updates are to be performed")


def _first_failure(client, stack_name, since):
    events = client.describe_stack_events(StackName=stack_name)["StackEvents"]
    failed = [
        e
        for e in reversed(events)
        if e["ResourceStatus"].endswith("_FAILED")
        and e["LogicalResourceId"] != stack_name
        and e["Timestamp"].timestamp() >= since
    ]
    if not failed:
        return None
    first = failed[0]
    return {
        "logical_resource_id": first["LogicalResourceId"],
        "resource_type": first.get("ResourceType"),
        "reason": first.get("ResourceStatusReason", "no reason given"),
    }


def main():
    module = AnsibleAWSModule(
        argument_spec={
            "stack_name": {"type": "str", "required": True},
            "change_set_id": {"type": "str", "required": True},
            "timeout": {"type": "int", "default": 3600},
        },
        supports_check_mode=True,
    )
    stack_name = module.params["stack_name"]
    change_set_id = module.params["change_set_id"]
    client = aws_client(module, "cloudformation")
    try:
        change_set = client.describe_change_set(ChangeSetName=change_set_id, StackName=stack_name)
        reason = change_set.get("StatusReason") or ""
        if change_set["Status"] == "FAILED" and any(text in reason for text in _NO_CHANGES):
            if not module.check_mode:
                client.delete_change_set(ChangeSetName=change_set_id, StackName=stack_name)
            module.exit_json(changed=False, stack_status="UNCHANGED", msg=reason)
        if change_set["Status"] == "FAILED":
            module.fail_json(msg=f"Change set {change_set_id} failed: {reason}")
        if module.check_mode:
            module.exit_json(changed=True, stack_status="CHANGE_SET_PENDING")
        started = time.time() - 1
        client.execute_change_set(ChangeSetName=change_set_id, StackName=stack_name)
        deadline = started + module.params["timeout"]
        while True:
            stack = client.describe_stacks(StackName=stack_name)["Stacks"][0]
            status = stack["StackStatus"]
            if not status.endswith(_IN_PROGRESS):
                break
            if time.time() > deadline:
                module.fail_json(msg=f"Stack {stack_name} still {status} after the timeout")
            time.sleep(5)
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as err:
        module.fail_json_aws(err, msg=f"Executing change set {change_set_id} failed")
    if status in ("UPDATE_COMPLETE", "CREATE_COMPLETE", "IMPORT_COMPLETE"):
        module.exit_json(changed=True, stack_status=status)
    failure = _first_failure(client, stack_name, started)
    detail = (
        f"first failed resource: {failure['logical_resource_id']} ({failure['resource_type']}): "
        f"{failure['reason']}"
        if failure
        else "no resource reported a failure"
    )
    module.fail_json(
        msg=f"Stack {stack_name} ended {status}; {detail}",
        stack_status=status,
        failed_resource=failure,
    )


if __name__ == "__main__":
    main()
