"""What every embedding backend offers the service."""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np


class EmbeddingProvider(ABC):
    name: str = "base"

    def __init__(self, model: str) -> None:
        self.model = model
        self.dimension: int | None = None

    def load(self) -> None:  # noqa: B027 - most providers have nothing heavy to load
        """Heavy, blocking initialisation (weights, probes). Called once, off the event loop."""

    @abstractmethod
    def embed(self, texts: list[str]) -> np.ndarray:
        """One float32 row per text, shape (len(texts), dimension)."""

    def describe(self) -> dict[str, object]:
        return {"provider": self.name, "model": self.model, "dimension": self.dimension}


def as_matrix(rows: object, expected: int) -> np.ndarray:
    """Backend output -> (expected, dim) float32 matrix, or ValueError with the reason."""
    arr = np.asarray(rows, dtype=np.float32)
    if arr.ndim != 2 or arr.shape[0] != expected or arr.shape[1] == 0:
        raise ValueError(f"expected {expected} vectors, got array of shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError("backend returned non-finite values")
    return arr


def l2_normalise(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms == 0, 1.0, norms)
