"""The local AWS launcher (roles/local_instances/files/moto_server.py).

Each fix is tested twice: through the launcher the gap is closed (AWS's behaviour), and
through plain moto_server the gap is still there. When moto closes a gap itself the second
test fails, saying the fix can go.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import moto_kit
import pytest

CLUSTER = "fidelity"
DEPLOYMENT_CONFIGURATION = {
    "deploymentCircuitBreaker": {"enable": True, "rollback": True},
    "maximumPercent": 200,
    "minimumHealthyPercent": 100,
}
GRACE_SECONDS = 300


@pytest.fixture(scope="module")
def plain_moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., object]]:
    """moto_server as released, without the launcher's fixes."""
    log_path = tmp_path_factory.mktemp("plain-moto") / "moto_server.log"
    plain = [str(Path(sys.executable).with_name("moto_server"))]
    with moto_kit.moto_server(log_path, launcher=plain) as endpoint:
        yield moto_kit.client_factory(endpoint)


def _create_service(aws: Callable[..., object], name: str, **extra: object) -> dict:
    ecs = aws("ecs")
    cluster_arn = ecs.create_cluster(clusterName=CLUSTER)["cluster"]["clusterArn"]
    ecs.register_task_definition(
        family=name, containerDefinitions=[{"name": "app", "image": "app:1", "memory": 512}]
    )
    ecs.create_service(
        # An ARN, as community.aws passes it when given one: the fix must resolve it.
        cluster=cluster_arn,
        serviceName=name,
        taskDefinition=f"{name}:1",
        desiredCount=1,
        **extra,
    )
    (service,) = ecs.describe_services(cluster=CLUSTER, services=[name])["services"]
    return service


def test_create_service_keeps_grace_period_and_circuit_breaker(aws):
    service = _create_service(
        aws,
        "kept",
        healthCheckGracePeriodSeconds=GRACE_SECONDS,
        deploymentConfiguration=DEPLOYMENT_CONFIGURATION,
    )
    assert service["healthCheckGracePeriodSeconds"] == GRACE_SECONDS
    assert service["deploymentConfiguration"] == DEPLOYMENT_CONFIGURATION


def test_create_service_without_them_reads_back_without_them(aws):
    service = _create_service(aws, "bare")
    assert "healthCheckGracePeriodSeconds" not in service
    assert "deploymentConfiguration" not in service


def test_plain_moto_still_drops_them(plain_moto):
    service = _create_service(
        plain_moto,
        "dropped",
        healthCheckGracePeriodSeconds=GRACE_SECONDS,
        deploymentConfiguration=DEPLOYMENT_CONFIGURATION,
    )
    kept = {k for k in ("healthCheckGracePeriodSeconds", "deploymentConfiguration") if k in service}
    assert not kept, (
        f"moto now stores {sorted(kept)} on CreateService: remove the fix "
        "keep_ecs_create_service_parameters from roles/local_instances/files/moto_server.py"
    )
