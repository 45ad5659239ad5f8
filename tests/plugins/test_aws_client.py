"""plugins/module_utils/aws_client.py: every call of a module's client retries on
throttling, through amazon.aws's own retry wrapper, and nothing else is retried."""

from __future__ import annotations

import boto3
import botocore.exceptions
import pytest
from ansible_collections.amazon.aws.plugins.module_utils.retries import RetryingBotoClientWrapper
from ansible_collections.ragstack.aws.plugins.module_utils.aws_client import aws_client
from botocore.stub import Stubber

CLUSTER = "ragstack-dev"


class FakeModule:
    """The one AnsibleAWSModule method aws_client uses, over a stubbed botocore client."""

    def __init__(self, client):
        self._client = client
        self.services: list[str] = []

    def client(self, service, retry_decorator=None):
        self.services.append(service)
        return RetryingBotoClientWrapper(self._client, retry_decorator)


@pytest.fixture
def ecs():
    client = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    ).client("ecs")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def _describe(stubber: Stubber) -> None:
    stubber.add_response(
        "describe_clusters",
        {"clusters": [{"clusterName": CLUSTER}], "failures": []},
        {"clusters": [CLUSTER]},
    )


@pytest.mark.parametrize(
    "code", ["ThrottlingException", "TooManyRequestsException", "ResourceConflictException"]
)
def test_retries_throttling_and_update_in_progress(ecs, code):
    client, stubber = ecs
    stubber.add_client_error("describe_clusters", service_error_code=code, http_status_code=400)
    stubber.add_client_error("describe_clusters", service_error_code=code, http_status_code=400)
    _describe(stubber)
    module = FakeModule(client)
    wrapped = aws_client(module, "ecs", delay=0)
    answer = wrapped.describe_clusters(clusters=[CLUSTER])
    assert answer["clusters"][0]["clusterName"] == CLUSTER
    assert module.services == ["ecs"]


def test_does_not_retry_other_errors(ecs):
    client, stubber = ecs
    stubber.add_client_error(
        "describe_clusters", service_error_code="AccessDeniedException", http_status_code=400
    )
    _describe(stubber)  # would answer a retry; must stay pending
    wrapped = aws_client(FakeModule(client), "ecs", delay=0)
    with pytest.raises(botocore.exceptions.ClientError, match="AccessDeniedException"):
        wrapped.describe_clusters(clusters=[CLUSTER])
    # Consume the response left for a retry that must not have happened.
    assert client.describe_clusters(clusters=[CLUSTER])["clusters"][0]["clusterName"] == CLUSTER


def test_gives_up_after_its_tries(ecs):
    """amazon.aws counts `retries` as tries: three throttled answers use them all up."""
    client, stubber = ecs
    for _ in range(3):
        stubber.add_client_error(
            "describe_clusters", service_error_code="ThrottlingException", http_status_code=400
        )
    wrapped = aws_client(FakeModule(client), "ecs", retries=3, delay=0)
    with pytest.raises(botocore.exceptions.ClientError, match="ThrottlingException"):
        wrapped.describe_clusters(clusters=[CLUSTER])


def test_paginators_and_waiters_are_not_wrapped(ecs):
    client, _ = ecs
    wrapped = aws_client(FakeModule(client), "ecs", delay=0)
    assert wrapped.can_paginate("list_clusters") is True
    assert type(wrapped.get_paginator("list_clusters")).__name__ == "ECS.Paginator.ListClusters"
