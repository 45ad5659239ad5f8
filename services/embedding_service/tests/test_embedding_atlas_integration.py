"""Against a real Atlas cluster. Runs only with MONGODB_URI; there is no local stand-in for
`$vectorSearch` (mongod without Atlas Search rejects it), so without one it is skipped."""

from __future__ import annotations

import os
import time
import uuid

import numpy as np
import pytest
from embedding_service.stores.atlas import AtlasStore
from embedding_service.stores.base import ChunkRecord

pytestmark = [
    pytest.mark.atlas,
    pytest.mark.skipif(
        not os.environ.get("MONGODB_URI"),
        reason="MONGODB_URI not set: needs a MongoDB Atlas cluster with Vector Search",
    ),
]

DIM = 8


def vec(i: int) -> np.ndarray:
    v = np.zeros(DIM, dtype=np.float32)
    v[i % DIM] = 1.0
    return v


@pytest.fixture
def store():
    name = f"test_chunks_{uuid.uuid4().hex[:8]}"
    s = AtlasStore(
        os.environ["MONGODB_URI"],
        os.environ.get("MONGODB_DATABASE", "ragstack_test"),
        name,
        index_name=f"ix_{name}",
        filter_fields=("lang",),
    )
    try:
        yield s
    finally:
        s.collection.drop()
        s.close()


def test_index_search_filter_delete_roundtrip(store):
    store.open(DIM)
    deadline = time.monotonic() + 300
    while True:
        try:
            store.ping()
            break
        except RuntimeError:
            assert time.monotonic() < deadline, "search index never became queryable"
            time.sleep(5)
    records = [
        ChunkRecord(
            f"d{i}:0", f"d{i}", 0, f"text {i}", f"h{i}", {"lang": "en" if i % 2 else "de"}, vec(i)
        )
        for i in range(4)
    ]
    assert store.write(records, []) == 0
    assert store.chunk_hashes("d1") == {"d1:0": "h1"}
    # Atlas indexes asynchronously: poll until the new vectors are searchable.
    for _ in range(60):
        hits = store.search(vec(1), 2, {})
        if hits and hits[0].id == "d1:0":
            break
        time.sleep(2)
    assert hits[0].id == "d1:0"
    assert hits[0].score == pytest.approx(1.0, abs=1e-3)
    filtered = store.search(vec(1), 4, {"lang": "de"})
    assert {h.document_id for h in filtered} <= {"d0", "d2"}
    assert store.delete_document("d1") == 1
    assert store.chunk_hashes("d1") == {}
