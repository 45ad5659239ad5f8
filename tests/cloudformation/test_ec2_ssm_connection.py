"""ragstack.aws.ec2_stack `add_hosts`: what the stack's outputs give the SSM connection.

With ConnectionMode=ssm every host gets community.aws.aws_ssm's transfer bucket from the
stack output SsmTransferBucket (ragstack_ssm_bucket only as an explicit fallback), uploads
SSE-KMS (ansible_aws_ssm_bucket_sse_mode=aws:kms) and, when the stack has a customer managed
key, ansible_aws_ssm_bucket_sse_kms_key_id; without any bucket the run is refused. ssh hosts
get none of it. The option names are the plugin's (amazon.aws.aws_ssm, which
community.aws.aws_ssm redirects to). Runs on localhost only; test_ec2_stack_moto.py feeds
the outputs of a real (moto) stack through the same play.
"""

from __future__ import annotations

from add_hosts_play import KEYS, add_hosts

REGION = "eu-west-1"
BUCKET = "ragstack-dev-ssmtransferbucket-1a2b3c4d5e6f"
CMK = "arn:aws:kms:eu-west-1:111122223333:key/0a1b2c3d-0000-1111-2222-333344445555"


def test_connection_vars_come_from_the_stack(tmp_path) -> None:
    found = add_hosts(
        tmp_path,
        {
            "ssm": {
                "ragstack_connection_mode": "ssm",
                "ec2_stack_outputs": {"SsmTransferBucket": BUCKET},
            },
            "ssm_cmk": {
                "ragstack_connection_mode": "ssm",
                "ec2_stack_outputs": {"SsmTransferBucket": BUCKET, "SsmTransferKmsKeyArn": CMK},
            },
            # The stack's bucket wins over an inventory value.
            "ssm_output_first": {
                "ragstack_connection_mode": "ssm",
                "ragstack_ssm_bucket": "my-own-bucket",
                "ec2_stack_outputs": {"SsmTransferBucket": BUCKET},
            },
            # A stack without the output (older template): the explicit value, else refused.
            "ssm_fallback": {
                "ragstack_connection_mode": "ssm",
                "ragstack_ssm_bucket": "my-own-bucket",
                "ec2_stack_outputs": {},
            },
            "ssm_no_bucket": {"ragstack_connection_mode": "ssm", "ec2_stack_outputs": {}},
            "ssh": {
                "ragstack_connection_mode": "ssh",
                "ragstack_ssm_bucket": "my-own-bucket",
                "ec2_stack_outputs": {},
            },
        },
    )
    ssm = {
        "ansible_connection": "community.aws.aws_ssm",
        "ansible_aws_ssm_region": REGION,
        "ansible_aws_ssm_bucket_name": BUCKET,
        "ansible_aws_ssm_bucket_sse_mode": "aws:kms",
    }
    assert found["ssm"] == {**ssm, "ansible_host": "i-00000000000000000"}
    assert found["ssm_cmk"] == {
        **ssm,
        "ansible_host": "i-00000000000000001",
        "ansible_aws_ssm_bucket_sse_kms_key_id": CMK,
    }
    assert found["ssm_output_first"]["ansible_aws_ssm_bucket_name"] == BUCKET
    assert found["ssm_fallback"]["ansible_aws_ssm_bucket_name"] == "my-own-bucket"
    assert found["ssm_fallback"]["ansible_aws_ssm_bucket_sse_mode"] == "aws:kms"
    assert found["ssm_no_bucket"].startswith("REFUSED: ragstack_connection_mode=ssm moves files")
    assert "SsmTransferBucket" in found["ssm_no_bucket"]
    assert found["ssh"] == {
        "ansible_connection": "ansible.builtin.ssh",
        "ansible_host": "10.40.10.15",
        "ansible_user": "admin",
        "ansible_aws_ssm_region": REGION,
    }


def test_option_names_are_the_plugins() -> None:
    """The variables add_hosts sets are options the installed connection plugin reads."""
    import ansible_collections.amazon.aws.plugins.connection.aws_ssm as plugin
    import yaml

    options = yaml.safe_load(plugin.DOCUMENTATION)["options"]
    variables = {v["name"] for option in options.values() for v in option.get("vars", [])}
    wanted = {k for k in KEYS if k.startswith("ansible_aws_ssm_")}
    assert wanted <= variables, wanted - variables
    assert options["bucket_sse_mode"]["choices"] == ["AES256", "aws:kms"]
