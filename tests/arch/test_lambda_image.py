"""arch=lambda with lambda_app_embedding_package=image against moto and a real local registry:
the model image (ragstack/embedding-service:lambda) goes to an ECR repository, is pushed for
real to the registry standing in for ECR's (moto has no registry API), and the embedding
function is a PackageType Image function naming the ECR URI.

moto gaps, by name: ECR's registry API (docker push/pull; moto's ECR is control plane only,
so its DescribeImages never sees the pushed image) and Lambda Invoke of a PackageType Image
function (moto: "not yet supported"). The image itself is invoked as Lambda runs it in
tests/images/test_lambda_container.py.
"""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from conftest import PREFIX, check_teardown, code_sha256, current_release, ecr_uri
from harness import local_aws

IMAGE = "ragstack/embedding-service:lambda"
REPOSITORY = "ragstack/embedding-service-lambda"
MANIFEST_V2 = "application/vnd.docker.distribution.manifest.v2+json"
IMAGE_DEPLOY = "ragstack.aws.lambda_app : Deploy the embedding service function (container image)"


@dataclass
class LocalRegistry:
    """The harness's registry standing in for ECR's (tests/harness/local_aws.py), under a
    name and loopback port of the test's own."""

    name: str
    port: int

    @property
    def extra_vars(self) -> tuple[str, ...]:
        return ("-e", f"ecr_images_push_registry=127.0.0.1:{self.port}")

    def get(self, path: str, accept: str = "application/json") -> dict:
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}/v2/{path}")
        request.add_header("Accept", accept)
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def tags(self, repository: str) -> list[str]:
        return self.get(f"{repository}/tags/list").get("tags") or []

    def manifest_digest(self, repository: str, tag: str) -> str:
        """The registry's content address of the manifest tagged tag."""
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/v2/{repository}/manifests/{tag}", method="HEAD"
        )
        request.add_header("Accept", MANIFEST_V2)
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.headers["Docker-Content-Digest"]

    def config_digest(self, repository: str, tag: str) -> str:
        return self.get(f"{repository}/manifests/{tag}", MANIFEST_V2)["config"]["digest"]


@contextlib.contextmanager
def local_registry() -> Iterator[LocalRegistry]:
    """Removes the registry container and its data volume afterwards, whatever happened."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    registry = LocalRegistry(f"ragstack-test-registry-{uuid.uuid4().hex[:8]}", port)
    try:
        local_aws.start_registry(registry.name, registry.port)
        yield registry
    finally:
        local_aws.stop_registry(registry.name)


def local_image_id(image: str) -> str:
    return subprocess.run(
        ["docker", "image", "inspect", "--format", "{{.Id}}", image],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip


@pytest.fixture(scope="module")
def registry() -> Iterator[LocalRegistry]:
    if subprocess.run(["docker", "image", "inspect", IMAGE], capture_output=True).returncode:
        pytest.fail(f"{IMAGE} is not built: `make images` (scripts/build_images.py)")
    with local_registry() as registry:
        yield registry


def embedding_function(aws) -> dict:
    """What a run deploys into the embedding function (not timestamps or revision ids)."""
    function = aws("lambda").get_function(FunctionName=f"{PREFIX}-embedding")
    keep = ("PackageType", "CodeSha256", "Role", "MemorySize", "Timeout", "Environment")
    return {
        "Code": function["Code"],
        **{k: function["Configuration"].get(k) for k in keep},
    }


@pytest.fixture(scope="module")
def converged(reset_moto, run_playbook, registry, aws):
    reset_moto()
    extra = ("-e", "lambda_app_embedding_package=image", *registry.extra_vars)
    first = run_playbook("arch_lambda.yml", *extra)
    after_first = embedding_function(aws) if first.rc == 0 else None
    second = run_playbook("arch_lambda.yml", *extra)
    print(
        f"\narch=lambda (image) first converge {first.seconds:.1f}s, re-run {second.seconds:.1f}s"
    )
    after_second = embedding_function(aws) if second.rc == 0 else None
    return first, second, after_first, after_second


def test_converges_and_rerun_changes_nothing(converged):
    first, second, after_first, after_second = converged
    assert first.rc == 0, first.output[-6000:]
    assert second.rc == 0, second.output[-6000:]
    # ragstack.aws.lambda_image_function leaves the image function alone when nothing
    # differs (amazon.aws.lambda re-sent its image URI to UpdateFunctionCode every run).
    assert IMAGE_DEPLOY in first.changed_tasks
    assert f"TASK [{IMAGE_DEPLOY}]" in second.output
    assert second.changed_tasks == [], (
        f"second run changed {second.changed_tasks}:\n{second.output[-6000:]}"
    )
    assert after_second == after_first


def test_ecr_repository_scans_on_push_with_lifecycle(converged, aws):
    ecr = aws("ecr")
    (repository,) = ecr.describe_repositories(repositoryNames=[REPOSITORY])["repositories"]
    assert repository["imageScanningConfiguration"] == {"scanOnPush": True}
    assert repository["imageTagMutability"] == "IMMUTABLE"
    policy = json.loads(ecr.get_lifecycle_policy(repositoryName=REPOSITORY)["lifecyclePolicyText"])
    assert {r["selection"]["tagStatus"] for r in policy["rules"]} == {"untagged", "any"}
    # moto gap (ECR registry API): the push went to the local registry, so moto's ECR
    # knows the repository but holds no image.
    assert ecr.describe_images(repositoryName=REPOSITORY)["imageDetails"] == []


def test_registry_holds_the_local_image(converged, registry):
    image_id = local_image_id(IMAGE)
    tag = image_id.removeprefix("sha256:")[:12]
    assert registry.tags(REPOSITORY) == [tag]
    # The manifest's config digest is the image id: the registry holds exactly this build.
    assert registry.config_digest(REPOSITORY, tag) == image_id
    # Pushed once; the re-run finds every layer there and reports no change.
    first, second, *_ = converged
    push = "ragstack.aws.ecr_images : Push each image"
    assert push in first.changed_tasks
    assert f"TASK [{push}]" in second.output
    assert push not in second.changed_tasks


def test_function_is_the_pushed_image(converged, aws, registry):
    (repository,) = aws("ecr").describe_repositories(repositoryNames=[REPOSITORY])["repositories"]
    tag = local_image_id(IMAGE).removeprefix("sha256:")[:12]
    function = aws("lambda").get_function(FunctionName=f"{PREFIX}-embedding")
    configuration = function["Configuration"]
    assert configuration["PackageType"] == "Image"
    # The ECR URI (what AWS pulls), not the local registry's address, by the pushed digest.
    digest = registry.manifest_digest(REPOSITORY, tag)
    assert function["Code"]["ImageUri"] == f"{repository['repositoryUri']}@{digest}"
    assert function["Code"]["RepositoryType"] == "ECR"
    assert "Runtime" not in configuration
    assert "Handler" not in configuration
    # The image's own provider, the baked-in model, not the zip's hashing default.
    assert configuration["Environment"]["Variables"]["EMBEDDING_PROVIDER"] == "local"
    # The orchestrator stays a zip.
    orchestrator = aws("lambda").get_function(FunctionName=f"{PREFIX}-orchestrator")
    assert orchestrator["Configuration"]["PackageType"] == "Zip"
    # Both run the release: the image by the manifest's digest, the zip the manifest names.
    manifest = current_release(aws)
    first, second, *_ = converged
    assert first.release_id == second.release_id == manifest["id"]
    assert manifest["images"] == {REPOSITORY: digest}
    assert function["Code"]["ImageUri"] == ecr_uri(REPOSITORY, digest)
    assert sorted(manifest["artifacts"]) == ["lambda-orchestrator", "ui"]
    assert orchestrator["Configuration"]["CodeSha256"] == code_sha256(
        manifest["artifacts"]["lambda-orchestrator"]["sha256"]
    )
    for each in (configuration, orchestrator["Configuration"]):
        assert each["Environment"]["Variables"]["RAGSTACK_RELEASE"] == manifest["id"]


# Last in this module: it removes what the tests above inspect.
def test_teardown_removes_the_image_repository(converged, run_playbook, aws):
    check_teardown(run_playbook, aws, "lambda")
    assert REPOSITORY not in {
        r["repositoryName"] for r in aws("ecr").describe_repositories()["repositories"]
    }
