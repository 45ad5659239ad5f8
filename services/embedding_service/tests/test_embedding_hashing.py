from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
from embedding_service.providers.hashing import HashingProvider, features, tokenize


def cos(a, b):
    return float(a @ b)


def test_shape_and_unit_norm():
    vecs = HashingProvider(384).embed(["one text", "two texts here"])
    assert vecs.shape == (2, 384)
    assert vecs.dtype == np.float32
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0)


def test_dimension_is_configurable():
    provider = HashingProvider(64)
    assert provider.dimension == 64
    assert provider.embed(["x"]).shape == (1, 64)


def test_unigrams_and_bigrams_case_folded():
    assert tokenize("Hello, WORLD! été") == ["hello", "world", "été"]
    assert features("a b a") == {"u:a": 2, "u:b": 1, "b:a b": 1, "b:b a": 1}


def test_shared_words_score_higher_than_unrelated():
    p = HashingProvider(384)
    q, near, far = p.embed(
        [
            "deploy the embedding service on AWS",
            "the embedding service runs on AWS after deploy",
            "chocolate cake recipe with strawberries",
        ]
    )
    assert cos(q, near) > 0.4
    assert cos(q, near) > cos(q, far) + 0.3


def test_word_order_matters_through_bigrams():
    p = HashingProvider(384)
    a, b, c = p.embed(["new york city", "new york city", "city york new"])
    assert cos(a, b) > 0.999
    assert cos(a, c) < 0.99


def test_text_without_tokens_is_zero_not_nan():
    vec = HashingProvider(384).embed(["!!! ..."])[0]
    assert not np.isnan(vec).any()
    assert not vec.any()


def test_stable_across_processes():
    """str hash() is salted per process; the hashing trick must not depend on it."""
    code = (
        "import json;from embedding_service.providers.hashing import HashingProvider;"
        "print(json.dumps(HashingProvider(384).embed(['stable vectors please'])[0].tolist()))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    here = HashingProvider(384).embed(["stable vectors please"])[0]
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        cwd=os.path.dirname(os.path.dirname(__file__)),
        capture_output=True,
        text=True,
        check=True,
    )
    assert np.allclose(np.array(json.loads(out.stdout)), here)
