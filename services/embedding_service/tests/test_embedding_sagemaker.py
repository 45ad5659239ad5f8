"""SageMaker provider against botocore's Stubber: real request validation, no AWS."""

from __future__ import annotations

import io
import json

import boto3
import numpy as np
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber
from embedding_service.errors import UpstreamError
from embedding_service.providers.sagemaker import SageMakerProvider, parse_response


@pytest.fixture
def runtime_client():
    client = boto3.client(
        "sagemaker-runtime",
        region_name="eu-west-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    with Stubber(client) as stubber:
        yield client, stubber


def body(payload) -> StreamingBody:
    raw = json.dumps(payload).encode()
    return StreamingBody(io.BytesIO(raw), len(raw))


def expected_params(texts):
    return {
        "EndpointName": "embed-ep",
        "ContentType": "application/json",
        "Accept": "application/json",
        "Body": json.dumps({"inputs": texts}).encode(),
    }


def test_invoke_endpoint_and_parse_pooled_vectors(runtime_client):
    client, stubber = runtime_client
    stubber.add_response(
        "invoke_endpoint",
        {"Body": body([[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]]), "ContentType": "application/json"},
        expected_params(["a", "b"]),
    )
    p = SageMakerProvider("embed-ep", client=client, dimension=3)
    vecs = p.embed(["a", "b"])
    assert vecs.shape == (2, 3)
    assert np.allclose(vecs[1], [0.4, 0.5, 0.6])
    stubber.assert_no_pending_responses()


def test_load_probes_dimension(runtime_client):
    client, stubber = runtime_client
    stubber.add_response(
        "invoke_endpoint",
        {"Body": body({"embeddings": [[0.0] * 7]})},
        expected_params(["dimension probe"]),
    )
    p = SageMakerProvider("embed-ep", client=client)
    p.load()
    assert p.dimension == 7


def test_endpoint_error_is_upstream_error(runtime_client):
    client, stubber = runtime_client
    stubber.add_client_error(
        "invoke_endpoint",
        service_error_code="ModelError",
        service_message="boom",
        http_status_code=424,
    )
    p = SageMakerProvider("embed-ep", client=client, dimension=3)
    with pytest.raises(UpstreamError, match="ModelError") as info:
        p.embed(["a"])
    assert info.value.status == 502


def test_unparseable_body_is_upstream_error(runtime_client):
    client, stubber = runtime_client
    stubber.add_response("invoke_endpoint", {"Body": body({"something": "else"})})
    p = SageMakerProvider("embed-ep", client=client, dimension=3)
    with pytest.raises(UpstreamError, match="no embeddings"):
        p.embed(["a"])


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ([[1.0, 2.0], [3.0, 4.0]], [[1.0, 2.0], [3.0, 4.0]]),
        ({"embeddings": [[1.0, 2.0], [3.0, 4.0]]}, [[1.0, 2.0], [3.0, 4.0]]),
        ({"vectors": [[1.0, 2.0], [3.0, 4.0]]}, [[1.0, 2.0], [3.0, 4.0]]),
        ([{"embedding": [1.0, 2.0]}, {"embedding": [3.0, 4.0]}], [[1.0, 2.0], [3.0, 4.0]]),
        # token embeddings per text -> mean pooled
        ([[[1.0, 2.0], [3.0, 4.0]], [[5.0, 6.0], [7.0, 8.0]]], [[2.0, 3.0], [6.0, 7.0]]),
        ([[[[1.0, 1.0], [3.0, 3.0]]], [[[0.0, 2.0]]]], [[2.0, 2.0], [0.0, 2.0]]),
    ],
)
def test_parse_common_response_shapes(payload, expected):
    assert np.allclose(parse_response(payload, 2), expected)


def test_parse_single_flat_vector():
    assert parse_response({"embedding": [0.5, 0.5]}, 1).shape == (1, 2)


@pytest.mark.parametrize(
    "payload", [[[1.0, 2.0]], {"unknown": 1}, [], [[1.0, float("nan")], [1.0, 2.0]], "text"]
)
def test_parse_rejects_wrong_counts_and_garbage(payload):
    with pytest.raises(ValueError):  # noqa: PT011 - the message varies by shape
        parse_response(payload, 2)


def test_missing_endpoint_name_is_a_config_error():
    with pytest.raises(ValueError, match="SAGEMAKER_ENDPOINT_NAME"):
        SageMakerProvider("", client=object())
