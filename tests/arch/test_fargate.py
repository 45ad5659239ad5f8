"""arch=fargate against moto: converge, no-op re-run, ECR/ECS/ALB/autoscaling, bad sizes; the
task definition runs the release (images by the manifest's digests, RAGSTACK_RELEASE), a
re-run by release id builds and changes nothing, an unknown id is refused before any write."""

from __future__ import annotations

import json

import pytest
from conftest import (
    ENV,
    PREFIX,
    assert_converged,
    check_redeploy_by_id,
    check_teardown,
    check_ui_bucket_holds_the_bundle,
    check_unknown_release_refused,
    current_release,
    dumps,
    ecr_uri,
    moto_is_empty,
)
from test_lambda_image import local_image_id, local_registry

ACCOUNT = "123456789012"
REPOSITORIES = ["ragstack/embedding-service", "ragstack/orchestrator"]
SOURCES = {
    "ragstack/embedding-service": "ragstack/embedding-service:slim",
    "ragstack/orchestrator": "ragstack/orchestrator:latest",
}


def _containers(aws) -> dict[str, dict]:
    task = aws("ecs").describe_task_definition(taskDefinition=PREFIX)["taskDefinition"]
    return {c["name"]: c for c in task["containerDefinitions"]}


@pytest.fixture(scope="module")
def registry():
    """The local registry the run pushes to (moto has no registry API)."""
    with local_registry() as registry:
        yield registry


@pytest.fixture(scope="module")
def converged(reset_moto, run_playbook, registry):
    reset_moto()
    first = run_playbook("arch_fargate.yml", *registry.extra_vars)
    second = run_playbook("arch_fargate.yml", *registry.extra_vars)
    print(f"\narch=fargate first converge {first.seconds:.1f}s, re-run {second.seconds:.1f}s")
    return first, second


@pytest.fixture(scope="module")
def redeployed(converged, run_playbook, registry):
    """The same deployment again, given its release by id instead of the checkout."""
    first, _ = converged
    run = run_playbook(
        "arch_fargate.yml", *registry.extra_vars, "-e", f"ragstack_release={first.release_id}"
    )
    print(f"\narch=fargate re-run by release id {run.seconds:.1f}s")
    return run


@pytest.mark.parametrize(
    ("cpu", "memory", "message"),
    [
        (
            1024,
            1000,
            "With cpu=1024 memory must be one of 2048, 3072, 4096, 5120, 6144, 7168, 8192.",
        ),
        (256, 4096, "With cpu=256 memory must be one of 512, 1024, 2048."),
        (300, 1024, "cpu must be one of 256, 512, 1024, 2048, 4096, 8192, 16384."),
    ],
)
def test_unoffered_cpu_memory_is_refused_before_any_aws_call(
    reset_moto, run_playbook, aws, cpu, memory, message
):
    reset_moto()
    run = run_playbook(
        "arch_fargate.yml",
        "-e",
        f"fargate_service_cpu={cpu}",
        "-e",
        f"fargate_service_memory={memory}",
    )
    assert run.rc != 0
    assert f"Fargate does not offer cpu={cpu} with memory={memory} MiB." in run.text
    assert message in run.text
    assert "Nothing was sent to AWS." in run.text
    leftovers = moto_is_empty(aws)
    assert not any(leftovers.values()), dumps(leftovers)


def test_converges_and_rerun_changes_nothing(converged):
    assert_converged(*converged)


def test_release_is_built_once_and_recorded(converged, aws):
    first, second = converged
    manifest = current_release(aws)
    # The re-run built the same content: the same release, not a new one.
    assert first.release_id == second.release_id == manifest["id"]
    assert sorted(manifest["images"]) == REPOSITORIES
    assert sorted(manifest["artifacts"]) == ["ui"]


def test_task_definition_runs_the_release(converged, aws, registry):
    manifest = current_release(aws)
    containers = _containers(aws)
    repositories = {"embedding": REPOSITORIES[0], "orchestrator": REPOSITORIES[1]}
    for name, container in containers.items():
        repository = repositories[name]
        # The ECR URI by the digest the manifest records, which is the registry's own.
        assert container["image"] == ecr_uri(repository, manifest["images"][repository])
        tag = local_image_id(SOURCES[repository]).removeprefix("sha256:")[:12]
        assert manifest["images"][repository] == registry.manifest_digest(repository, tag)
        environment = {e["name"]: e["value"] for e in container["environment"]}
        assert environment["RAGSTACK_RELEASE"] == manifest["id"], name


def test_ui_bucket_holds_the_release_bundle(converged, aws):
    check_ui_bucket_holds_the_bundle(aws, current_release(aws))


def test_redeploy_by_release_id_builds_and_changes_nothing(converged, redeployed, aws):
    first, _ = converged
    check_redeploy_by_id(redeployed, first.release_id)
    assert current_release(aws)["id"] == first.release_id


def test_unknown_release_is_refused_before_any_write(converged, run_playbook, aws, registry):
    check_unknown_release_refused(run_playbook, aws, "arch_fargate.yml", *registry.extra_vars)


def test_ecr_repositories_and_pushed_images(converged, aws, registry):
    ecr = aws("ecr")
    repositories = {r["repositoryName"]: r for r in ecr.describe_repositories()["repositories"]}
    assert sorted(repositories) == REPOSITORIES
    images = {c["name"]: c["image"] for c in _containers(aws).values()}
    for name, repository in repositories.items():
        assert repository["imageScanningConfiguration"] == {"scanOnPush": True}
        assert repository["imageTagMutability"] == "IMMUTABLE"
        rules = json.loads(ecr.get_lifecycle_policy(repositoryName=name)["lifecyclePolicyText"])[
            "rules"
        ]
        assert {r["selection"]["tagStatus"] for r in rules} == {"untagged", "any"}
        # Pushed for real to the local registry standing in for ECR's (moto gap: ECR's
        # registry API), under the same repository path; the task definition names it by
        # the digest the registry gave that push.
        image_id = local_image_id(SOURCES[name])
        tag = image_id.removeprefix("sha256:")[:12]
        assert registry.tags(name) == [tag]
        assert registry.config_digest(name, tag) == image_id
        digest = registry.manifest_digest(name, tag)
        assert f"{repository['repositoryUri']}@{digest}" in images.values()
    push = "ragstack.aws.ecr_images : Push each image"
    first, second = converged
    assert push in first.changed_tasks
    assert push not in second.changed_tasks


def test_task_definition(converged, aws):
    ecs = aws("ecs")
    task = ecs.describe_task_definition(taskDefinition=PREFIX)["taskDefinition"]
    assert task["networkMode"] == "awsvpc"
    assert task["requiresCompatibilities"] == ["FARGATE"]
    assert (task["cpu"], task["memory"]) == ("1024", "3072")
    assert task["executionRoleArn"].endswith(f":role/{PREFIX}-ecs-execution")
    containers = {c["name"]: c for c in task["containerDefinitions"]}
    assert set(containers) == {"embedding", "orchestrator"}
    for container in containers.values():
        assert container["user"] == "10001:10001"
        assert container["readonlyRootFilesystem"] is True
        assert container["healthCheck"]["command"][0] == "CMD"
        assert container["logConfiguration"]["options"]["awslogs-group"] == f"/ecs/{PREFIX}"
        names = {e["name"] for e in container["environment"]}
        assert not names & {"OPENAI_API_KEY", "MONGODB_URI"}, names
        assert ".dkr.ecr." in container["image"]
    # The embedding service writes /data and /tmp: task volumes, not the root filesystem.
    mounts = {m["containerPath"] for m in containers["embedding"]["mountPoints"]}
    assert mounts == {"/data", "/tmp"}
    assert containers["embedding"]["healthCheck"]["startPeriod"] >= 60
    # The OpenAI key exists in SSM (the run stored it): referenced by ARN, never a value.
    assert containers["orchestrator"]["secrets"] == [
        {
            "name": "OPENAI_API_KEY",
            "valueFrom": f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/ragstack/{ENV}/openai_api_key",
        }
    ]
    # No MONGODB_URI parameter exists, so none is referenced (the task would not start).
    assert containers["embedding"]["secrets"] == []
    assert containers["orchestrator"]["dependsOn"] == [
        {"containerName": "embedding", "condition": "HEALTHY"}
    ]


def test_execution_role_reads_only_its_parameters(converged, aws):
    iam = aws("iam")
    role = f"{PREFIX}-ecs-execution"
    assert iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"] == []
    document = iam.get_role_policy(RoleName=role, PolicyName=f"{role}-least-privilege")[
        "PolicyDocument"
    ]
    ssm = [s for s in document["Statement"] if "ssm:GetParameters" in s["Action"]]
    assert ssm == [
        {
            "Effect": "Allow",
            "Action": ["ssm:GetParameters"],
            "Resource": [
                f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/ragstack/{ENV}/openai_api_key"
            ],
        }
    ]
    kms = [s for s in document["Statement"] if "kms:Decrypt" in s["Action"]]
    assert kms[0]["Condition"] == {
        "StringEquals": {"kms:ViaService": "ssm.us-east-1.amazonaws.com"}
    }
    resources = json.dumps(document)
    assert '"ssm:*"' not in resources
    assert '"ecr:*"' not in resources


def test_service_circuit_breaker_and_autoscaling(converged, aws):
    ecs = aws("ecs")
    cluster = ecs.describe_clusters(clusters=[PREFIX], include=["SETTINGS"])["clusters"][0]
    assert {"name": "containerInsights", "value": "enabled"} in cluster["settings"]
    service = ecs.describe_services(cluster=PREFIX, services=[PREFIX])["services"][0]
    assert service["launchType"] == "FARGATE"
    assert service["deploymentConfiguration"] == {
        "deploymentCircuitBreaker": {"enable": True, "rollback": True},
        "maximumPercent": 200,
        "minimumHealthyPercent": 100,
    }
    assert service["healthCheckGracePeriodSeconds"] >= 120
    network = service["networkConfiguration"]["awsvpcConfiguration"]
    assert len(network["subnets"]) == 2
    assert service["loadBalancers"][0]["containerName"] == "orchestrator"
    assert service["loadBalancers"][0]["containerPort"] == 5000
    assert service["deployments"][0]["rolloutState"] == "COMPLETED"
    scaling = aws("application-autoscaling")
    (target,) = scaling.describe_scalable_targets(ServiceNamespace="ecs")["ScalableTargets"]
    assert target["ResourceId"] == f"service/{PREFIX}/{PREFIX}"
    assert (target["MinCapacity"], target["MaxCapacity"]) == (2, 6)
    (policy,) = scaling.describe_scaling_policies(ServiceNamespace="ecs")["ScalingPolicies"]
    assert policy["PolicyType"] == "TargetTrackingScaling"
    configuration = policy["TargetTrackingScalingPolicyConfiguration"]
    assert configuration["PredefinedMetricSpecification"]["PredefinedMetricType"] == (
        "ECSServiceAverageCPUUtilization"
    )


def test_alb_https_only(converged, aws):
    elb = aws("elbv2")
    (lb,) = elb.describe_load_balancers(Names=[PREFIX])["LoadBalancers"]
    listeners = {
        listener["Port"]: listener
        for listener in elb.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"]
    }
    assert listeners[443]["Protocol"] == "HTTPS"
    assert listeners[443]["SslPolicy"].startswith("ELBSecurityPolicy-TLS13-1-2")
    assert listeners[443]["Certificates"][0]["CertificateArn"].startswith("arn:aws:acm:")
    assert listeners[443]["DefaultActions"][0]["Type"] == "forward"
    assert listeners[80]["DefaultActions"][0]["Type"] == "redirect"
    assert listeners[80]["DefaultActions"][0]["RedirectConfig"]["Protocol"] == "HTTPS"
    (group,) = elb.describe_target_groups(Names=[f"{PREFIX}-orch"])["TargetGroups"]
    assert (group["TargetType"], group["Port"], group["HealthCheckPath"]) == (
        "ip",
        5000,
        "/api/ready",
    )
    # moto gap (ELBv2 attribute routing.http.drop_invalid_header_fields.enabled): moto
    # does not know it, so the local run leaves it unset; on AWS the role sets it true.
    attributes = elb.describe_load_balancer_attributes(LoadBalancerArn=lb["LoadBalancerArn"])
    keys = {a["Key"] for a in attributes["Attributes"]}
    assert "routing.http.drop_invalid_header_fields.enabled" not in keys
    # Only the ALB reaches the tasks, and only on the orchestrator port.
    ec2 = aws("ec2")
    (tasks_sg,) = ec2.describe_security_groups(
        Filters=[{"Name": "group-name", "Values": [f"{PREFIX}-tasks"]}]
    )["SecurityGroups"]
    (rule,) = tasks_sg["IpPermissions"]
    assert (rule["FromPort"], rule["ToPort"]) == (5000, 5000)
    assert rule["IpRanges"] == []
    assert len(rule["UserIdGroupPairs"]) == 1


def test_log_group_retention_and_ui(converged, aws):
    groups = {g["logGroupName"]: g for g in aws("logs").describe_log_groups()["logGroups"]}
    assert groups[f"/ecs/{PREFIX}"]["retentionInDays"] == 30
    s3 = aws("s3")
    (bucket,) = [
        b["Name"] for b in s3.list_buckets()["Buckets"] if b["Name"].startswith(f"{PREFIX}-ui-")
    ]
    config = json.loads(s3.get_object(Bucket=bucket, Key="config.json")["Body"].read())
    (lb,) = aws("elbv2").describe_load_balancers(Names=[PREFIX])["LoadBalancers"]
    assert config == {"apiBaseUrl": f"https://{lb['DNSName']}"}


# Last in this module: it removes what the tests above inspect.
def test_teardown_removes_the_arch_and_keeps_secrets(converged, run_playbook, aws):
    check_teardown(run_playbook, aws, "fargate")
    # Data stays unless -e teardown_data=true.
    names = [p["Name"] for p in aws("ssm").describe_parameters()["Parameters"]]
    assert f"/ragstack/{ENV}/openai_api_key" in names
