"""A SageMaker real-time endpoint (HF inference toolkit / TEI style) via sagemaker-runtime."""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from ..errors import UpstreamError, UpstreamTimeout
from .base import EmbeddingProvider, as_matrix

_WRAPPER_KEYS = ("embeddings", "vectors", "embedding", "outputs", "predictions", "data")


def _depth(value: Any) -> int:
    depth = 0
    while isinstance(value, list) and value:
        depth += 1
        value = value[0]
    return depth


def parse_response(payload: Any, expected: int) -> np.ndarray:
    """Vectors from the response shapes endpoints commonly return:
    [[f]] pooled; [[[f]]] token embeddings (mean-pooled here); [[[[f]]]] the same with a
    batch-of-one wrapper; [f] for a single text; {"embeddings"|"vectors"|...: any of those};
    OpenAI-style [{"embedding": [f]}]."""
    if isinstance(payload, dict):
        for key in _WRAPPER_KEYS:
            if key in payload:
                return parse_response(payload[key], expected)
        raise ValueError(f"no embeddings in response object with keys {sorted(payload)[:10]}")
    if isinstance(payload, list) and payload and isinstance(payload[0], dict):
        return parse_response([item.get("embedding") for item in payload], expected)
    depth = _depth(payload)
    if depth == 1 and expected == 1:
        return as_matrix([payload], 1)
    if depth == 2:
        return as_matrix(payload, expected)
    if depth == 3:
        return as_matrix(
            [np.asarray(tokens, dtype=np.float32).mean(axis=0) for tokens in payload], expected
        )
    if depth == 4:
        return parse_response([item[0] for item in payload], expected)
    raise ValueError(f"unrecognised embedding response (nesting depth {depth})")


class SageMakerProvider(EmbeddingProvider):
    name = "sagemaker"

    def __init__(
        self,
        endpoint_name: str,
        region: str | None = None,
        timeout: float = 60.0,
        dimension: int | None = None,
        client: Any = None,
    ) -> None:
        if not endpoint_name:
            raise ValueError("EMBEDDING_PROVIDER=sagemaker needs SAGEMAKER_ENDPOINT_NAME")
        super().__init__(model=endpoint_name)
        self.endpoint_name = endpoint_name
        self.dimension = dimension
        if client is None:
            import boto3
            from botocore.config import Config
            from botocore.exceptions import NoRegionError

            try:
                client = boto3.client(
                    "sagemaker-runtime",
                    region_name=region,
                    config=Config(
                        connect_timeout=10,
                        read_timeout=timeout,
                        retries={"max_attempts": 3, "mode": "standard"},
                    ),
                )
            except NoRegionError as exc:
                raise ValueError("EMBEDDING_PROVIDER=sagemaker needs AWS_REGION") from exc
        self._client = client

    def load(self) -> None:
        if self.dimension is None:
            self.dimension = int(self.embed(["dimension probe"]).shape[1])

    def embed(self, texts: list[str]) -> np.ndarray:
        from botocore.exceptions import BotoCoreError, ClientError, ReadTimeoutError

        try:
            resp = self._client.invoke_endpoint(
                EndpointName=self.endpoint_name,
                ContentType="application/json",
                Accept="application/json",
                Body=json.dumps({"inputs": texts}).encode("utf-8"),
            )
            raw = resp["Body"].read()
        except ReadTimeoutError as exc:
            raise UpstreamTimeout(f"SageMaker endpoint {self.endpoint_name} timed out") from exc
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "ClientError")
            raise UpstreamError(f"SageMaker endpoint {self.endpoint_name} failed: {code}") from exc
        except BotoCoreError as exc:
            raise UpstreamError(f"SageMaker endpoint {self.endpoint_name} failed: {exc}") from exc
        try:
            return parse_response(json.loads(raw), len(texts))
        except ValueError as exc:
            raise UpstreamError(f"SageMaker endpoint {self.endpoint_name}: {exc}") from exc
