"""OpenAI embeddings API over plain httpx: explicit timeouts, bounded retries with backoff."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable

import httpx
import numpy as np

from ..errors import UpstreamError, UpstreamTimeout
from .base import EmbeddingProvider, as_matrix

log = logging.getLogger(__name__)

KNOWN_DIMENSIONS = {
    "text-embedding-3-small": 1536,
    "text-embedding-3-large": 3072,
    "text-embedding-ada-002": 1536,
}
RETRY_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504})
MAX_BACKOFF_SECONDS = 20.0


def backoff_seconds(attempt: int, retry_after: str | None, base: float = 0.5) -> float:
    """Retry-After when the server sends one (capped), else exponential with full jitter."""
    if retry_after:
        try:
            return min(max(float(retry_after), 0.0), MAX_BACKOFF_SECONDS)
        except ValueError:
            pass
    return random.uniform(0, min(base * 2**attempt, MAX_BACKOFF_SECONDS))  # noqa: S311


class OpenAIProvider(EmbeddingProvider):
    name = "openai"

    def __init__(
        self,
        api_key: str,
        model: str = "text-embedding-3-small",
        base_url: str = "https://api.openai.com/v1",
        timeout: float = 30.0,
        max_retries: int = 3,
        dimensions: int | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not api_key:
            raise ValueError(
                "EMBEDDING_PROVIDER=openai needs OPENAI_API_KEY "
                "(or OPENAI_API_KEY_FILE, OPENAI_API_KEY_SSM_PARAMETER)"
            )
        super().__init__(model=model)
        self._requested_dimensions = dimensions
        self.dimension = dimensions or KNOWN_DIMENSIONS.get(model)
        self.max_retries = max_retries
        self._sleep = sleep
        self._client = httpx.Client(
            base_url=base_url.rstrip("/") + "/",
            headers={"Authorization": f"Bearer {api_key}"},
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            transport=transport,
        )

    def load(self) -> None:
        if self.dimension is None:
            # A model we have no table entry for: one probe call tells us its width.
            self.dimension = int(self.embed(["dimension probe"]).shape[1])

    def _post(self, payload: dict[str, object]) -> httpx.Response:
        attempt = 0
        while True:
            try:
                resp = self._client.post("embeddings", json=payload)
            except httpx.TimeoutException as exc:
                # Not retried: a slow backend times N retries would hold the caller far too long.
                raise UpstreamTimeout(f"OpenAI embeddings request timed out: {exc}") from exc
            except httpx.TransportError as exc:
                if attempt >= self.max_retries:
                    raise UpstreamError(f"OpenAI embeddings request failed: {exc}") from exc
                delay = backoff_seconds(attempt, None)
            else:
                if resp.status_code < 400:
                    return resp
                if resp.status_code not in RETRY_STATUS or attempt >= self.max_retries:
                    # The upstream text can echo request details: log it, keep the client's short.
                    log.warning("OpenAI %d: %s", resp.status_code, _error_text(resp))
                    raise UpstreamError(f"OpenAI embeddings API answered {resp.status_code}")
                delay = backoff_seconds(attempt, resp.headers.get("retry-after"))
            attempt += 1
            log.warning("OpenAI embeddings retry %d/%d in %.2fs", attempt, self.max_retries, delay)
            self._sleep(delay)

    def embed(self, texts: list[str]) -> np.ndarray:
        payload: dict[str, object] = {"model": self.model, "input": texts}
        if self._requested_dimensions:
            payload["dimensions"] = self._requested_dimensions
        resp = self._post(payload)
        try:
            data = sorted(resp.json()["data"], key=lambda item: item["index"])
            return as_matrix([item["embedding"] for item in data], len(texts))
        except (ValueError, KeyError, TypeError) as exc:
            raise UpstreamError(f"unexpected OpenAI embeddings response: {exc}") from exc

    def close(self) -> None:
        self._client.close()


def _error_text(resp: httpx.Response) -> str:
    try:
        return str(resp.json()["error"]["message"])[:300]
    except (ValueError, KeyError, TypeError):
        return resp.text[:300]
