"""The embedded store: persistence across restarts, atomic files, dimension guard."""

from __future__ import annotations

import json

import numpy as np
import pytest
from embedding_service.stores.base import ChunkRecord, DimensionMismatch
from embedding_service.stores.local import INDEX_FILE, LocalStore


def rec(cid: str, vec, doc="d", text=None, metadata=None) -> ChunkRecord:
    return ChunkRecord(
        id=cid,
        document_id=doc,
        n=int(cid.rsplit(":", 1)[1]),
        text=text or f"text of {cid}",
        content_hash=f"hash-{cid}",
        metadata=metadata or {},
        vector=np.asarray(vec, dtype=np.float32),
    )


def test_survives_a_restart(tmp_path):
    store = LocalStore(tmp_path)
    store.open(3)
    store.write([rec("a:0", [1, 0, 0], "a", metadata={"k": "v"}), rec("b:0", [0, 1, 0], "b")], [])
    before = store.search(np.array([1.0, 0.1, 0.0]), 2, {})

    reopened = LocalStore(tmp_path)
    reopened.open(3)
    assert reopened.count() == 2
    after = reopened.search(np.array([1.0, 0.1, 0.0]), 2, {})
    assert [(h.id, h.metadata) for h in after] == [("a:0", {"k": "v"}), ("b:0", {})]
    assert [h.score for h in after] == pytest.approx([h.score for h in before])
    assert reopened.chunk_hashes("a") == {"a:0": "hash-a:0"}


def test_scores_follow_atlas_scale(tmp_path):
    store = LocalStore(tmp_path)
    store.open(2)
    store.write([rec("d:0", [1, 0]), rec("d:1", [-1, 0]), rec("d:2", [0, 3])], [])
    scores = {h.id: h.score for h in store.search(np.array([2.0, 0.0]), 3, {})}
    assert scores == pytest.approx({"d:0": 1.0, "d:2": 0.5, "d:1": 0.0})


def test_upsert_replaces_and_delete_removes(tmp_path):
    store = LocalStore(tmp_path)
    store.open(2)
    store.write([rec("d:0", [1, 0]), rec("d:1", [0, 1])], [])
    deleted = store.write([rec("d:0", [0, 1], text="new")], ["d:1", "not-there"])
    assert deleted == 1
    (hit,) = store.search(np.array([0.0, 1.0]), 5, {})
    assert (hit.id, hit.text, hit.score) == ("d:0", "new", pytest.approx(1.0))
    assert store.delete_document("d") == 1
    assert store.count() == 0
    reopened = LocalStore(tmp_path)
    reopened.open(2)
    assert reopened.count() == 0


def test_files_are_written_atomically_and_old_generations_removed(tmp_path):
    store = LocalStore(tmp_path)
    store.open(2)
    for i in range(3):
        store.write([rec(f"d:{i}", [1, i])], [])
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files[0] == INDEX_FILE
    assert len(files) == 2
    assert files[1].startswith("vectors-")
    assert files[1].endswith(".npy")
    index = json.loads((tmp_path / INDEX_FILE).read_text())
    assert index["vectors_file"] == files[1]
    assert index["dimension"] == 2
    assert [c["id"] for c in index["chunks"]] == ["d:0", "d:1", "d:2"]
    assert np.load(tmp_path / files[1]).shape == (3, 2)


def test_crash_leftovers_are_ignored_and_cleaned(tmp_path):
    store = LocalStore(tmp_path)
    store.open(2)
    store.write([rec("d:0", [1, 0])], [])
    # A writer that died after saving vectors but before committing index.json:
    np.save(tmp_path / "vectors-deadbeef.npy", np.zeros((5, 2), dtype=np.float32))
    (tmp_path / ".index.json.123.tmp").write_text("{partial")
    reopened = LocalStore(tmp_path)
    reopened.open(2)
    assert reopened.count() == 1
    assert not (tmp_path / "vectors-deadbeef.npy").exists()
    assert not (tmp_path / ".index.json.123.tmp").exists()


def test_failed_persist_keeps_memory_and_disk_consistent(tmp_path, monkeypatch):
    store = LocalStore(tmp_path)
    store.open(2)
    store.write([rec("d:0", [1, 0])], [])

    def boom(*_args, **_kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np, "save", boom)
    with pytest.raises(OSError, match="disk full"):
        store.write([rec("d:1", [0, 1])], [])
    assert store.count() == 1
    monkeypatch.undo()
    reopened = LocalStore(tmp_path)
    reopened.open(2)
    assert reopened.count() == 1
    assert not list(tmp_path.glob(".*.tmp"))


def test_dimension_mismatch_is_refused(tmp_path):
    store = LocalStore(tmp_path)
    store.open(3)
    store.write([rec("d:0", [1, 0, 0])], [])
    with pytest.raises(DimensionMismatch, match=r"dimension 3\b.*produces dimension 384"):
        LocalStore(tmp_path).open(384)
    with pytest.raises(DimensionMismatch):
        store.write([rec("d:1", [1, 0])], [])


def test_empty_store_adopts_a_new_dimension(tmp_path):
    store = LocalStore(tmp_path)
    store.open(3)
    store.write([rec("d:0", [1, 0, 0])], [])
    store.delete_document("d")
    other = LocalStore(tmp_path)
    other.open(5)
    other.write([rec("d:0", [1, 0, 0, 0, 0])], [])
    assert other.count() == 1


def test_app_restart_keeps_documents_and_stays_idempotent(make_client, data_dir):
    docs = {
        "documents": [{"id": "kept", "text": "persisted across restarts", "metadata": {"a": 1}}]
    }
    first = make_client()
    assert first.post("/documents", json=docs).json()["chunks_upserted"] == 1

    second = make_client()  # a new app and store on the same DATA_DIR
    hits = second.post("/search", json={"query": "persisted restarts"}).json()["results"]
    assert [(h["id"], h["metadata"]) for h in hits] == [("kept:0", {"a": 1})]
    again = second.post("/documents", json=docs).json()
    assert (again["chunks_upserted"], again["chunks_unchanged"]) == (0, 1)


def test_app_reports_dimension_mismatch_on_ready(make_client):
    make_client().post("/documents", json={"documents": [{"text": "384 wide"}]})
    client = make_client(hashing_dimension=128, ready=False)
    for _ in range(500):
        body = client.get("/ready").json()
        if "dimension" in body["reason"]:
            break
    assert client.get("/ready").status_code == 503
    assert "dimension 384" in body["reason"]
    assert "produces dimension 128" in body["reason"]
