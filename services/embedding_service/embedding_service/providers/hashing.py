"""Lexical fallback: signed feature hashing of unigrams and bigrams.

No model, no network, no dependency beyond numpy. It matches shared words, not meaning,
so it is for smoke tests and the slim image's out-of-the-box run, not for real retrieval.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import re
from collections import Counter

import numpy as np

from .base import EmbeddingProvider, l2_normalise

_TOKEN = re.compile(r"\w+", re.UNICODE)


def tokenize(text: str) -> list[str]:
    return _TOKEN.findall(text.casefold())


def features(text: str) -> Counter[str]:
    tokens = tokenize(text)
    feats: Counter[str] = Counter(f"u:{t}" for t in tokens)
    feats.update(f"b:{a} {b}" for a, b in itertools.pairwise(tokens))
    return feats


def _bucket(feature: str, dimension: int) -> tuple[int, float]:
    # blake2b, not hash(): Python salts str hashes per process and vectors must be stable.
    digest = hashlib.blake2b(feature.encode("utf-8"), digest_size=8).digest()
    value = int.from_bytes(digest, "little")
    return (value >> 1) % dimension, (1.0 if value & 1 else -1.0)


def hash_vector(text: str, dimension: int) -> np.ndarray:
    vec = np.zeros(dimension, dtype=np.float32)
    for feat, count in features(text).items():
        index, sign = _bucket(feat, dimension)
        # Sublinear term frequency so one repeated word does not dominate.
        vec[index] += sign * (1.0 + math.log(count))
    return vec


class HashingProvider(EmbeddingProvider):
    name = "hashing"

    def __init__(self, dimension: int = 384) -> None:
        super().__init__(model=f"feature-hashing-{dimension}")
        self.dimension = dimension

    def embed(self, texts: list[str]) -> np.ndarray:
        assert self.dimension is not None
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return l2_normalise(np.stack([hash_vector(t, self.dimension) for t in texts]))
