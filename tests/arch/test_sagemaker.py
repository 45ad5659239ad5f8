"""arch=sagemaker against moto: the endpoint stack, the Lambda wiring, teardown with data."""

from __future__ import annotations

import ast
import json
import tarfile

import pytest
from conftest import ENV, PREFIX, REPO_ROOT, assert_converged, check_teardown, dumps

ACCOUNT = "123456789012"
STACK = f"{PREFIX}-sagemaker"
ARTIFACT_BUCKET = f"{PREFIX}-models-{ACCOUNT}"


@pytest.fixture(scope="module")
def converged(reset_moto, run_playbook):
    reset_moto()
    first = run_playbook("arch_sagemaker.yml")
    second = run_playbook("arch_sagemaker.yml")
    print(f"\narch=sagemaker first converge {first.seconds:.1f}s, re-run {second.seconds:.1f}s")
    return first, second


def _outputs(aws) -> dict[str, str]:
    stack = aws("cloudformation").describe_stacks(StackName=STACK)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}


def test_converges_and_rerun_changes_nothing(converged):
    assert_converged(*converged)
    _, second = converged
    # The stack is not re-sent when template and parameters are unchanged.
    assert "Create or update the model, endpoint configuration and endpoint] ***" in second.output
    assert second.recap["changed"] == 0 or second.unexpected_changes() == []


def test_model_artifact_is_content_addressed_in_a_private_bucket(converged, aws):
    s3 = aws("s3")
    (key,) = [o["Key"] for o in s3.list_objects_v2(Bucket=ARTIFACT_BUCKET)["Contents"]]
    assert key.startswith("models/all-MiniLM-L6-v2-")
    assert key.endswith(".tar.gz")
    local = REPO_ROOT / ".cache/sagemaker" / key.split("/")[-1]
    with tarfile.open(local) as tar:
        names = set(tar.getnames())
        assert {"config.json", "model.safetensors", "tokenizer.json", "code/inference.py"} <= names
        assert {m.mtime for m in tar.getmembers()} == {0}
    block = s3.get_public_access_block(Bucket=ARTIFACT_BUCKET)["PublicAccessBlockConfiguration"]
    assert all(block.values())
    assert s3.get_bucket_versioning(Bucket=ARTIFACT_BUCKET)["Status"] == "Enabled"
    rules = s3.get_bucket_encryption(Bucket=ARTIFACT_BUCKET)["ServerSideEncryptionConfiguration"]
    assert rules["Rules"][0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"


def test_endpoint_model_and_config(converged, aws):
    sagemaker = aws("sagemaker")
    outputs = _outputs(aws)
    endpoint = sagemaker.describe_endpoint(EndpointName=outputs["EndpointName"])
    config = sagemaker.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
    assert config["KmsKeyId"].startswith("arn:aws:kms:")
    (variant,) = config["ProductionVariants"]
    assert (variant["InstanceType"], variant["InitialInstanceCount"]) == ("ml.m5.large", 1)
    model = sagemaker.describe_model(ModelName=variant["ModelName"])
    container = model["PrimaryContainer"]
    assert container["ModelDataUrl"].startswith(f"s3://{ARTIFACT_BUCKET}/models/all-MiniLM-L6-v2-")
    assert "huggingface-pytorch-inference" in container["Image"]
    assert container["Environment"]["HF_TASK"] == "feature-extraction"
    role = model["ExecutionRoleArn"].split("/")[-1]
    (policy_name,) = aws("iam").list_role_policies(RoleName=role)["PolicyNames"]
    document = aws("iam").get_role_policy(RoleName=role, PolicyName=policy_name)["PolicyDocument"]
    # moto gap (IAM GetRolePolicy of a CloudFormation-created role): moto returns the
    # document as the string repr of a Python dict, neither a dict nor JSON.
    document = ast.literal_eval(document) if isinstance(document, str) else document
    (read,) = [s for s in document["Statement"] if s["Sid"] == "ReadTheArtifact"]
    assert (
        read["Resource"]
        == f"arn:aws:s3:::{ARTIFACT_BUCKET}/{container['ModelDataUrl'].split('/', 3)[3]}"
    )
    # moto gap (CloudFormation AWS::SageMaker::Endpoint EndpointName): moto's
    # CloudFormation ignores the property and generates a name, so the run reads
    # the name from the stack output (as it must on AWS too) instead of assuming it.
    assert (
        outputs["EndpointName"].startswith(STACK)
        or outputs["EndpointName"] == f"{PREFIX}-embedding"
    )


def test_embedding_function_uses_the_endpoint(converged, aws):
    outputs = _outputs(aws)
    function = aws("lambda").get_function(FunctionName=f"{PREFIX}-embedding")["Configuration"]
    variables = function["Environment"]["Variables"]
    assert variables["EMBEDDING_PROVIDER"] == "sagemaker"
    assert variables["SAGEMAKER_ENDPOINT_NAME"] == outputs["EndpointName"]
    assert variables["SAGEMAKER_EMBEDDING_DIMENSION"] == "384"
    iam = aws("iam")
    document = iam.get_role_policy(
        RoleName=f"{PREFIX}-embedding", PolicyName=f"{PREFIX}-embedding-least-privilege"
    )["PolicyDocument"]
    (invoke,) = [s for s in document["Statement"] if s["Action"] == ["sagemaker:InvokeEndpoint"]]
    assert invoke["Resource"] == (
        f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:endpoint/{outputs['EndpointName'].lower()}"
    )
    # The orchestrator gets no SageMaker permission.
    orchestrator = iam.get_role_policy(
        RoleName=f"{PREFIX}-orchestrator", PolicyName=f"{PREFIX}-orchestrator-least-privilege"
    )["PolicyDocument"]
    assert "sagemaker" not in json.dumps(orchestrator)


def test_teardown_with_data_removes_secrets_and_artifacts(converged, run_playbook, aws):
    check_teardown(run_playbook, aws, "sagemaker", "-e", "teardown_data=true")
    parameters = [p["Name"] for p in aws("ssm").describe_parameters()["Parameters"]]
    assert not [p for p in parameters if p.startswith(f"/ragstack/{ENV}/")], dumps(parameters)
    buckets = [b["Name"] for b in aws("s3").list_buckets()["Buckets"]]
    assert ARTIFACT_BUCKET not in buckets


def test_teardown_refuses_an_unknown_arch(run_playbook, aws):
    for arch, hint in (("nope", ""), ("ec2", "make teardown-local")):
        run = run_playbook("teardown.yml", "-e", f"arch={arch}", "-e", "confirm=yes")
        assert run.rc != 0
        assert f"arch={arch}: teardown.yml removes one of fargate, lambda, sagemaker" in run.text
        assert hint in run.text
        assert "Nothing was sent to AWS." in run.text
