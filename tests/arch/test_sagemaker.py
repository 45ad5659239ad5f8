"""arch=sagemaker against moto: the endpoint stack, the Lambda wiring, teardown with data; the
model, the functions and the UI are the release's (re-run by its id: nothing built or changed)."""

from __future__ import annotations

import ast
import io
import json
import tarfile

import pytest
from conftest import (
    ENV,
    PREFIX,
    RELEASE_BUCKET,
    artifact_bytes,
    assert_converged,
    check_redeploy_by_id,
    check_teardown,
    check_ui_bucket_holds_the_bundle,
    check_unknown_release_refused,
    code_sha256,
    current_release,
    dumps,
)

ACCOUNT = "123456789012"
STACK = f"{PREFIX}-sagemaker"
# Where earlier versions uploaded the model; now it stays in the release bucket.
ARTIFACT_BUCKET = f"{PREFIX}-models-{ACCOUNT}"


@pytest.fixture(scope="module")
def converged(reset_moto, run_playbook):
    """A deploy that builds the release from the checkout, then the same release by its id."""
    reset_moto()
    first = run_playbook("arch_sagemaker.yml")
    assert first.rc == 0, first.output[-6000:]
    second = run_playbook("arch_sagemaker.yml", "-e", f"ragstack_release={first.release_id}")
    print(f"\narch=sagemaker first converge {first.seconds:.1f}s, by id {second.seconds:.1f}s")
    return first, second


def _outputs(aws) -> dict[str, str]:
    stack = aws("cloudformation").describe_stacks(StackName=STACK)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}


def test_converges_and_rerun_changes_nothing(converged):
    assert_converged(*converged)
    _, second = converged
    # The stack is not re-sent when template and parameters are unchanged.
    assert "Create or update the model, endpoint configuration and endpoint] ***" in second.output
    assert second.recap["changed"] == 0


def test_rerun_by_release_id_builds_and_changes_nothing(converged, aws):
    first, second = converged
    check_redeploy_by_id(second, first.release_id)
    manifest = current_release(aws)
    assert manifest["id"] == first.release_id
    assert manifest["images"] == {}
    assert sorted(manifest["artifacts"]) == [
        "lambda-embedding",
        "lambda-orchestrator",
        "sagemaker-model",
        "ui",
    ]


def test_unknown_release_is_refused_before_any_write(converged, run_playbook, aws):
    check_unknown_release_refused(run_playbook, aws, "arch_sagemaker.yml")


def test_model_artifact_is_content_addressed_in_a_private_bucket(converged, aws):
    manifest = current_release(aws)
    ref = manifest["artifacts"]["sagemaker-model"]
    # The release's object, named by its sha256: a new model is a new key (and a new
    # SageMaker model); an unchanged one is never uploaded again (no versions needed).
    assert ref["key"] == f"artifacts/sagemaker-model/{ref['sha256']}.tar.gz"
    with tarfile.open(fileobj=io.BytesIO(artifact_bytes(aws, manifest, "sagemaker-model"))) as tar:
        names = set(tar.getnames())
        assert {"config.json", "model.safetensors", "tokenizer.json", "code/inference.py"} <= names
        assert {m.mtime for m in tar.getmembers()} == {0}
    s3 = aws("s3")
    block = s3.get_public_access_block(Bucket=RELEASE_BUCKET)["PublicAccessBlockConfiguration"]
    assert all(block.values())
    rules = s3.get_bucket_encryption(Bucket=RELEASE_BUCKET)["ServerSideEncryptionConfiguration"]
    assert rules["Rules"][0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    # Nothing is copied to a bucket of the role's own any more.
    assert ARTIFACT_BUCKET not in {b["Name"] for b in s3.list_buckets()["Buckets"]}


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
    # The release's model artifact, by its content-addressed key.
    ref = current_release(aws)["artifacts"]["sagemaker-model"]
    assert container["ModelDataUrl"] == f"s3://{RELEASE_BUCKET}/{ref['key']}"
    assert "huggingface-pytorch-inference" in container["Image"]
    assert container["Environment"]["HF_TASK"] == "feature-extraction"
    role = model["ExecutionRoleArn"].split("/")[-1]
    (policy_name,) = aws("iam").list_role_policies(RoleName=role)["PolicyNames"]
    document = aws("iam").get_role_policy(RoleName=role, PolicyName=policy_name)["PolicyDocument"]
    # moto gap (IAM GetRolePolicy of a CloudFormation-created role): moto returns the
    # document as the string repr of a Python dict, neither a dict nor JSON.
    document = ast.literal_eval(document) if isinstance(document, str) else document
    (read,) = [s for s in document["Statement"] if s["Sid"] == "ReadTheArtifact"]
    assert read["Resource"] == f"arn:aws:s3:::{RELEASE_BUCKET}/{ref['key']}"
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


def test_functions_and_ui_are_the_release(converged, aws):
    manifest = current_release(aws)
    for key in ("embedding", "orchestrator"):
        configuration = aws("lambda").get_function_configuration(FunctionName=f"{PREFIX}-{key}")
        ref = manifest["artifacts"][f"lambda-{key}"]
        assert configuration["CodeSha256"] == code_sha256(ref["sha256"])
        assert configuration["Environment"]["Variables"]["RAGSTACK_RELEASE"] == manifest["id"]
    check_ui_bucket_holds_the_bundle(aws, manifest)


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
