"""ec2_stack on a stack CloudFormation left in a failed state: the run stops with the
command that recovers it, and nothing deletes, updates or retries the stack on its own.

moto cannot put a stack into ROLLBACK_COMPLETE, UPDATE_ROLLBACK_FAILED or DELETE_FAILED
(a failing resource makes CreateStack itself fail, and it has no failed rollback), so the
role talks here to a small CloudFormation endpoint that answers DescribeStacks with the
state under test and records every action it is asked for. The positive control is a
healthy stack: the same recorder sees the role go on to write (CreateChangeSet).
"""

from __future__ import annotations

import http.server
import threading
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest
from ansible_json import run_playbook_json

STACK = "ragstack-failed-state"
REGION = "eu-west-1"
XMLNS = "http://cloudformation.amazonaws.com/doc/2010-05-15/"
TEMPLATE = Path(__file__).resolve().parents[2] / "cloudformation" / "ec2.yaml"


class FakeCloudFormation(http.server.ThreadingHTTPServer):
    status = "CREATE_COMPLETE"
    actions: list[str]


class Handler(http.server.BaseHTTPRequestHandler):
    server: FakeCloudFormation

    def log_message(self, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode()
        action = urllib.parse.parse_qs(body).get("Action", ["?"])[0]
        self.server.actions.append(action)
        if action == "DescribeStacks":
            result = (
                "<Stacks><member>"
                f"<StackName>{STACK}</StackName>"
                f"<StackId>arn:aws:cloudformation:{REGION}:123456789012:stack/{STACK}/1</StackId>"
                f"<StackStatus>{self.server.status}</StackStatus>"
                "<CreationTime>2026-11-30T00:00:00Z</CreationTime>"
                "<Parameters/><Outputs/><Tags/>"
                "</member></Stacks>"
            )
        elif action == "GetTemplate":
            result = "<TemplateBody>{}</TemplateBody>"
        elif action == "ListChangeSets":
            result = "<Summaries/>"
        elif action == "CreateChangeSet":
            result = (
                f"<Id>arn:aws:cloudformation:{REGION}:123456789012:changeSet/c/1</Id>"
                f"<StackId>arn:aws:cloudformation:{REGION}:123456789012:stack/{STACK}/1</StackId>"
            )
        else:
            result = ""
        payload = (
            f'<{action}Response xmlns="{XMLNS}"><{action}Result>{result}</{action}Result>'
            f"<ResponseMetadata><RequestId>1</RequestId></ResponseMetadata></{action}Response>"
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/xml")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


@pytest.fixture
def cloudformation() -> Iterator[FakeCloudFormation]:
    server = FakeCloudFormation(("127.0.0.1", 0), Handler)
    server.actions = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()


PLAY = """
- name: ec2_stack against a stack in a given state
  hosts: localhost
  connection: local
  gather_facts: false
  module_defaults:
    group/amazon.aws.aws:
      endpoint_url: http://127.0.0.1:{port}
      region: {region}
      access_key: testing
      secret_key: testing
    group/ragstack.aws.aws:
      endpoint_url: http://127.0.0.1:{port}
      region: {region}
      access_key: testing
      secret_key: testing
  vars:
    ansible_python_interpreter: "{{{{ ansible_playbook_python }}}}"
    ragstack_env: dev
    ragstack_region: {region}
  tasks:
    - name: Apply the stack
      ansible.builtin.include_role:
        name: ragstack.aws.ec2_stack
      vars:
        ec2_stack_name: {stack}
        ec2_stack_template: {template}
        ec2_stack_parameters: {{EnvironmentName: dev}}
"""


def run_role(cloudformation: FakeCloudFormation, tmp_path: Path, status: str) -> str:
    cloudformation.status = status
    play = PLAY.format(
        port=cloudformation.server_address[1], region=REGION, stack=STACK, template=TEMPLATE
    )
    _, report = run_playbook_json(play, tmp_path)
    failed = [
        result.get("msg", "")
        for play in report.get("plays", [])
        for task in play["tasks"]
        for result in task["hosts"].values()
        if result.get("failed")
    ]
    return " ".join(" ".join(failed).split())


@pytest.mark.parametrize(
    ("status", "recovery"),
    [
        (
            "ROLLBACK_COMPLETE",
            f"aws cloudformation delete-stack --stack-name {STACK} --region {REGION}",
        ),
        (
            "UPDATE_ROLLBACK_FAILED",
            f"aws cloudformation continue-update-rollback --stack-name {STACK} --region {REGION}",
        ),
        ("DELETE_FAILED", "ansible-playbook playbooks/teardown.yml -e arch=ec2"),
        ("ROLLBACK_FAILED", "--retain-resources"),
    ],
)
def test_a_failed_stack_stops_the_run_with_its_recovery(
    cloudformation: FakeCloudFormation, tmp_path: Path, status: str, recovery: str
) -> None:
    message = run_role(cloudformation, tmp_path, status)
    assert f"Stack {STACK} is {status}" in message, message
    assert recovery in message, message
    assert "describe-stack-events" in message
    # Read, then stop: no delete, no update, no change set.
    assert set(cloudformation.actions) <= {"DescribeStacks", "GetTemplate"}, cloudformation.actions
    assert "DescribeStacks" in cloudformation.actions


def test_positive_control_a_healthy_stack_goes_on_to_write(
    cloudformation: FakeCloudFormation, tmp_path: Path
) -> None:
    run_role(cloudformation, tmp_path, "UPDATE_ROLLBACK_COMPLETE")
    assert "CreateChangeSet" in cloudformation.actions, cloudformation.actions
