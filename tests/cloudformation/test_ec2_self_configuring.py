"""cloudformation/ec2.yaml: what lets a host configure itself and join only once it serves.

- the Auto Scaling group's launch hook and rolling update policy (the interface the harness
  and the user data rely on: hook ragstack-configure, LAUNCHING, 900 s, ABANDON; one host at
  a time, new first, never below InstanceCount, waiting for the host's signal);
- the instance role's grants for the first boot, scoped to this env's parameters, its own
  group (by the group's stack tag) and its own stack;
- the first-boot script: every host gets it, under EC2's 16 KB, valid bash, shellcheck-clean,
  and the names it uses (hook, logical id, parameters) are the template's own.

The script's behaviour is run in test_ec2_boot_script.py; the SSM agent's part in
test_ec2_ssm_user_data.py.
"""

from __future__ import annotations

import shutil
import subprocess

import pytest
from cfn_eval import Evaluator, load_template, parameter_values
from ssm_user_data import rendered_script, script_source, user_data

TEMPLATE = load_template()
RESOURCES = TEMPLATE["Resources"]
VALID = {"CertificateArn": "arn:aws:acm:us-east-1:123456789012:certificate/0a1b", "AdminCidr": ""}
USER_DATA_LIMIT = 16 * 1024


def evaluator(**overrides: str) -> Evaluator:
    return Evaluator(TEMPLATE, parameter_values(TEMPLATE, {**VALID, **overrides}))


def statements() -> dict[str, dict]:
    policy = RESOURCES["InstanceRole"]["Properties"]["Policies"][0]["PolicyDocument"]
    return {s["Sid"]: s for s in policy["Statement"]}


def test_launch_hook_holds_new_hosts_until_they_serve() -> None:
    props = RESOURCES["AutoScalingGroup"]["Properties"]
    assert props["LifecycleHookSpecificationList"] == [
        {
            "LifecycleHookName": "ragstack-configure",
            "LifecycleTransition": "autoscaling:EC2_INSTANCE_LAUNCHING",
            "HeartbeatTimeout": 900,
            "DefaultResult": "ABANDON",
        }
    ]
    assert "HOOK=ragstack-configure\n" in script_source()


def test_rolling_update_adds_before_it_removes_and_waits_for_signals() -> None:
    group = RESOURCES["AutoScalingGroup"]
    rolling = group["UpdatePolicy"]["AutoScalingRollingUpdate"]
    assert rolling["MaxBatchSize"] == 1
    assert rolling["MinInstancesInService"] == {"Ref": "InstanceCount"}
    assert rolling["WaitOnResourceSignals"] is True
    assert rolling["PauseTime"] == "PT15M"
    # A host configures itself in minutes; the pause must cover the hook's heartbeat.
    assert 15 * 60 >= group["Properties"]["LifecycleHookSpecificationList"][0]["HeartbeatTimeout"]
    props = group["Properties"]
    assert props["MinSize"] == props["DesiredCapacity"] == {"Ref": "InstanceCount"}
    # Room for one extra host at the largest count, a constant (no arithmetic in CFN).
    assert props["MaxSize"] == TEMPLATE["Parameters"]["InstanceCount"]["MaxValue"] + 1
    # The signal names the group's logical id.
    assert 'LogicalResourceId="AutoScalingGroup"' in script_source()


def test_instance_role_completes_only_its_own_groups_hook() -> None:
    grant = statements()["CompleteOwnLifecycleAction"]
    assert grant["Action"] == "autoscaling:CompleteLifecycleAction"
    assert grant["Resource"] == {
        "Fn::Sub": "arn:${AWS::Partition}:autoscaling:${AWS::Region}:${AWS::AccountId}"
        ":autoScalingGroup:*:autoScalingGroupName/*"
    }
    # Scoped by the tag only this stack's group carries.
    assert grant["Condition"] == {
        "StringEquals": {"autoscaling:ResourceTag/ragstack:stack": {"Ref": "AWS::StackName"}}
    }
    tags = {t["Key"]: t["Value"] for t in RESOURCES["AutoScalingGroup"]["Properties"]["Tags"]}
    assert tags["ragstack:stack"] == {"Ref": "AWS::StackName"}
    # Finding the group: a read AWS authorises on no resource, alone in its statement.
    find = statements()["FindOwnGroup"]
    assert (find["Action"], find["Resource"]) == ("autoscaling:DescribeAutoScalingInstances", "*")
    # Its target group's verdict before it signals a rolling update: a read, alone too.
    health = statements()["CheckOwnTargetHealth"]
    assert (health["Action"], health["Resource"]) == (
        "elasticloadbalancing:DescribeTargetHealth",
        "*",
    )


def test_instance_role_signals_only_its_own_stack() -> None:
    grant = statements()["SignalOwnStack"]
    assert grant == {
        "Sid": "SignalOwnStack",
        "Effect": "Allow",
        "Action": "cloudformation:SignalResource",
        "Resource": {"Ref": "AWS::StackId"},
    }


def test_instance_role_reads_the_release_pointer_and_host_config_of_its_env_only() -> None:
    grant = statements()["ReadEnvironmentParameters"]
    assert "ssm:GetParameter" in grant["Action"]
    resource = grant["Resource"]["Fn::Sub"]
    assert resource.endswith(":parameter/ragstack/${EnvironmentName}/*")
    source = script_source()
    assert 'aws param "/ragstack/$ENV_NAME/release/current"' in source
    assert 'aws param "/ragstack/$ENV_NAME/hosts/config"' in source
    # The collection and manifest come from the prefixes ReleaseReadPolicy allows.
    assert '"releases/$release.json"' in source
    read = RESOURCES["ReleaseReadPolicy"]["Properties"]["PolicyDocument"]["Statement"][0]
    assert read["Action"] == "s3:GetObject"


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"ConnectionMode": "ssh", "AdminCidr": "203.0.113.0/24"},
        {"InstanceType": "g5.xlarge"},
    ],
)
def test_every_host_gets_the_first_boot_script(overrides) -> None:
    ev = evaluator(**overrides)
    # No condition around the user data: every host, whatever the mode, runs the script.
    node = user_data()
    assert set(node) == {"Fn::Base64"}
    _source, variables = node["Fn::Base64"]["Fn::Sub"]
    install = ev.value(variables["InstallSsmAgent"])
    assert install == ("yes" if ev.condition("InstallSsmAgent") else "no")


@pytest.mark.parametrize("install", ["yes", "no"])
def test_script_is_small_valid_bash_and_shellcheck_clean(tmp_path, install) -> None:
    script = rendered_script("eu-west-1", "amazonaws.com", install)
    assert script.startswith("#!/bin/bash\n")
    assert len(script.encode()) <= USER_DATA_LIMIT
    path = tmp_path / "user-data.sh"
    path.write_text(script)
    checked = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    shellcheck = shutil.which("shellcheck")
    assert shellcheck, "shellcheck is missing: apt-get install shellcheck (.ci/run installs it)"
    linted = subprocess.run([shellcheck, str(path)], capture_output=True, text=True)
    assert linted.returncode == 0, linted.stdout


def test_shellcheck_sees_a_planted_mistake(tmp_path) -> None:
    # Positive control: the same call fails on a script with a classic bug.
    path = tmp_path / "bad.sh"
    path.write_text(rendered_script() + "\nrm -rf $BOOT_DIR/$unset_name\n")
    linted = subprocess.run(["shellcheck", str(path)], capture_output=True, text=True)
    assert linted.returncode != 0
    assert "SC2086" in linted.stdout
