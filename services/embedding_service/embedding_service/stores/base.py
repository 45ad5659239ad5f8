"""What every vector store offers the service."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

import numpy as np

Scalar = str | int | float | bool


@dataclass
class ChunkRecord:
    id: str
    document_id: str
    n: int
    text: str
    content_hash: str
    metadata: dict[str, Any] = field(default_factory=dict)
    vector: np.ndarray | None = None


@dataclass
class SearchHit:
    id: str
    document_id: str
    text: str
    score: float
    metadata: dict[str, Any]


class DimensionMismatch(RuntimeError):
    """Persisted vectors were made by a model of another width: mixing them would be garbage."""


class VectorStore(ABC):
    name = "base"

    @abstractmethod
    def open(self, dimension: int) -> None:
        """Connect/load and make sure the store can hold `dimension`-wide vectors."""

    @abstractmethod
    def ping(self) -> None:
        """Raise when the store cannot answer right now."""

    @abstractmethod
    def chunk_hashes(self, document_id: str) -> dict[str, str]:
        """chunk id -> content hash for one document's stored chunks."""

    @abstractmethod
    def write(self, upserts: list[ChunkRecord], delete_ids: list[str]) -> int:
        """Upsert records (by id) and delete ids in one go; returns how many were deleted."""

    @abstractmethod
    def delete_document(self, document_id: str) -> int:
        """Delete all chunks of a document; returns how many there were."""

    @abstractmethod
    def search(self, vector: np.ndarray, k: int, filters: dict[str, Scalar]) -> list[SearchHit]:
        """Top-k by cosine, score on Atlas's scale (1 + cosine) / 2, equality filters ANDed."""

    @abstractmethod
    def count(self) -> int:
        """Number of stored chunks."""

    def close(self) -> None:  # noqa: B027 - only stores with connections need it
        """Release connections."""


def metadata_path(key: str) -> str:
    """Filter key -> stored field: document_id is a top-level field, the rest live in metadata."""
    return "document_id" if key == "document_id" else f"metadata.{key}"
