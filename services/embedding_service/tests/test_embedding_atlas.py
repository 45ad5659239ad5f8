"""Atlas store: pure query/index builders, and the store against a recording fake collection."""

from __future__ import annotations

import numpy as np
import pytest
from embedding_service.errors import StoreUnavailable, ValidationFailed
from embedding_service.stores.atlas import (
    AtlasStore,
    build_filter,
    index_definition,
    num_candidates,
    search_pipeline,
)
from embedding_service.stores.base import ChunkRecord, DimensionMismatch
from pymongo import DeleteMany, ReplaceOne
from pymongo.errors import ServerSelectionTimeoutError

# -- pure builders -----------------------------------------------------------------------------


def test_index_definition():
    assert index_definition(384, ["source", "lang", "source"]) == {
        "fields": [
            {"type": "vector", "path": "embedding", "numDimensions": 384, "similarity": "cosine"},
            {"type": "filter", "path": "document_id"},
            {"type": "filter", "path": "metadata.source"},
            {"type": "filter", "path": "metadata.lang"},
        ]
    }


def test_index_definition_without_filter_fields_still_filters_by_document():
    fields = index_definition(1536)["fields"]
    assert fields[0]["numDimensions"] == 1536
    assert fields[1:] == [{"type": "filter", "path": "document_id"}]


def test_pipeline_without_filter():
    pipeline = search_pipeline("vector_index", np.array([0.5, -0.25], dtype=np.float32), 5)
    assert pipeline == [
        {
            "$vectorSearch": {
                "index": "vector_index",
                "path": "embedding",
                "queryVector": [0.5, -0.25],
                "numCandidates": 50,
                "limit": 5,
            }
        },
        {
            "$project": {
                "_id": 0,
                "id": "$_id",
                "document_id": 1,
                "text": 1,
                "metadata": 1,
                "score": {"$meta": "vectorSearchScore"},
            }
        },
    ]
    assert all(type(x) is float for x in pipeline[0]["$vectorSearch"]["queryVector"])


def test_pipeline_with_filters():
    one = search_pipeline("ix", [1.0], 3, {"source": "wiki"})[0]["$vectorSearch"]
    assert one["filter"] == {"metadata.source": {"$eq": "wiki"}}
    two = search_pipeline("ix", [1.0], 3, {"source": "wiki", "document_id": "d1"})[0]
    assert two["$vectorSearch"]["filter"] == {
        "$and": [{"metadata.source": {"$eq": "wiki"}}, {"document_id": {"$eq": "d1"}}]
    }
    assert build_filter({}) is None


@pytest.mark.parametrize(
    ("k", "cap", "expected"), [(5, 10000, 50), (50, 10000, 500), (50, 120, 120), (50, 10, 50)]
)
def test_num_candidates_is_ten_times_k_capped_never_below_k(k, cap, expected):
    assert num_candidates(k, cap) == expected
    stage = search_pipeline("ix", [1.0], k, cap=cap)[0]["$vectorSearch"]
    assert stage["numCandidates"] == expected
    assert stage["limit"] == k


# -- the store against a fake collection -------------------------------------------------------


class FakeResult:
    def __init__(self, deleted_count=0):
        self.deleted_count = deleted_count


class FakeDatabase:
    def __init__(self, collections, fail=False):
        self.collections = collections
        self.calls: list[tuple] = []
        self.fail = fail

    def list_collection_names(self, filter=None):
        self.calls.append(("list_collection_names", filter))
        return list(self.collections)

    def create_collection(self, name):
        self.calls.append(("create_collection", name))
        self.collections.append(name)

    def command(self, name):
        self.calls.append(("command", name))
        if self.fail:
            raise ServerSelectionTimeoutError("no servers")
        return {"ok": 1}


class FakeCollection:
    """Records every pymongo call the store makes; returns canned answers."""

    def __init__(self, indexes=None, docs=None, collections=None, fail=False):
        self.database = FakeDatabase(collections if collections is not None else [], fail)
        self.indexes = indexes or []
        self.docs = docs or []
        self.calls: list[tuple] = []
        self.fail = fail

    def _record(self, *call):
        self.calls.append(call)
        if self.fail:
            raise ServerSelectionTimeoutError("no servers")

    def list_search_indexes(self, name=None):
        self._record("list_search_indexes", name)
        return iter(self.indexes)

    def create_search_index(self, model):
        self._record("create_search_index", model.document)
        return model.document["name"]

    def update_search_index(self, name, definition):
        self._record("update_search_index", name, definition)

    def find(self, flt, projection=None):
        self._record("find", flt, projection)
        return iter(self.docs)

    def bulk_write(self, ops, ordered=True):
        self._record("bulk_write", ops, ordered)
        return FakeResult(deleted_count=sum(1 for op in ops if isinstance(op, DeleteMany)))

    def delete_many(self, flt):
        self._record("delete_many", flt)
        return FakeResult(deleted_count=len(self.docs))

    def aggregate(self, pipeline):
        self._record("aggregate", pipeline)
        return iter(self.docs)

    def estimated_document_count(self):
        self._record("estimated_document_count")
        return len(self.docs)


def store_for(coll, **kwargs) -> AtlasStore:
    kwargs.setdefault("filter_fields", ("source",))
    return AtlasStore(None, "ragstack", "chunks", collection_obj=coll, **kwargs)


def test_open_creates_collection_and_vector_search_index():
    coll = FakeCollection()
    store_for(coll).open(384)
    assert ("create_collection", "chunks") in coll.database.calls
    created = [c for c in coll.calls if c[0] == "create_search_index"]
    assert created == [
        (
            "create_search_index",
            {
                "name": "vector_index",
                "type": "vectorSearch",
                "definition": index_definition(384, ["source"]),
            },
        )
    ]


def test_open_leaves_a_matching_index_alone():
    existing = {
        "name": "vector_index",
        "type": "vectorSearch",
        "queryable": True,
        # Atlas echoes the definition back with its own key order.
        "latestDefinition": {
            "fields": [
                {"path": "metadata.source", "type": "filter"},
                {"type": "filter", "path": "document_id"},
                {
                    "similarity": "cosine",
                    "numDimensions": 384,
                    "path": "embedding",
                    "type": "vector",
                },
            ]
        },
    }
    coll = FakeCollection(indexes=[existing], collections=["chunks"])
    store_for(coll).open(384)
    assert [c[0] for c in coll.calls] == ["list_search_indexes"]
    assert ("create_collection", "chunks") not in coll.database.calls


def test_open_updates_index_when_filter_fields_change():
    existing = {"name": "vector_index", "latestDefinition": index_definition(384, [])}
    coll = FakeCollection(indexes=[existing], collections=["chunks"])
    store_for(coll, filter_fields=("lang",)).open(384)
    assert ("update_search_index", "vector_index", index_definition(384, ["lang"])) in coll.calls


def test_open_refuses_an_index_of_another_dimension():
    existing = {"name": "vector_index", "latestDefinition": index_definition(1536, ["source"])}
    coll = FakeCollection(indexes=[existing], collections=["chunks"])
    with pytest.raises(DimensionMismatch, match=r"numDimensions 1536.*produces 384"):
        store_for(coll).open(384)


def test_ping_waits_for_a_queryable_index():
    building = {"name": "vector_index", "status": "BUILDING", "queryable": False}
    coll = FakeCollection(indexes=[building])
    store = store_for(coll)
    with pytest.raises(RuntimeError, match="not queryable \\(BUILDING\\)"):
        store.ping()
    coll.indexes = [{**building, "status": "READY", "queryable": True}]
    store.ping()
    store.ping()
    assert len([c for c in coll.calls if c[0] == "list_search_indexes"]) == 2  # cached once ready


def test_write_upserts_and_deletes_in_one_bulk():
    coll = FakeCollection()
    rec = ChunkRecord(
        id="d:0",
        document_id="d",
        n=0,
        text="hello",
        content_hash="h",
        metadata={"source": "x"},
        vector=np.array([0.5, 0.25], dtype=np.float32),
    )
    deleted = store_for(coll).write([rec], ["d:1", "d:2"])
    assert deleted == 1  # the fake counts DeleteMany ops
    ((_, ops, ordered),) = coll.calls
    assert ordered is True
    assert ops == [
        ReplaceOne(
            {"_id": "d:0"},
            {
                "_id": "d:0",
                "document_id": "d",
                "n": 0,
                "text": "hello",
                "content_hash": "h",
                "metadata": {"source": "x"},
                "embedding": [0.5, 0.25],
            },
            upsert=True,
        ),
        DeleteMany({"_id": {"$in": ["d:1", "d:2"]}}),
    ]


def test_chunk_hashes_and_delete_and_count():
    coll = FakeCollection(
        docs=[{"_id": "d:0", "content_hash": "a"}, {"_id": "d:1", "content_hash": "b"}]
    )
    store = store_for(coll)
    assert store.chunk_hashes("d") == {"d:0": "a", "d:1": "b"}
    assert ("find", {"document_id": "d"}, {"content_hash": 1}) in coll.calls
    assert store.delete_document("d") == 2
    assert ("delete_many", {"document_id": "d"}) in coll.calls
    assert store.count() == 2


def test_search_runs_the_pipeline_and_maps_hits():
    docs = [
        {"id": "d:0", "document_id": "d", "text": "t", "metadata": {"source": "x"}, "score": 0.91}
    ]
    coll = FakeCollection(docs=docs)
    hits = store_for(coll, num_candidates_cap=30).search(np.array([1.0, 0.0]), 4, {"source": "x"})
    assert [(h.id, h.document_id, h.text, h.score, h.metadata) for h in hits] == [
        ("d:0", "d", "t", 0.91, {"source": "x"})
    ]
    ((name, pipeline),) = coll.calls
    assert name == "aggregate"
    assert pipeline == search_pipeline("vector_index", [1.0, 0.0], 4, {"source": "x"}, 30)


def test_search_refuses_unindexed_filter_fields():
    coll = FakeCollection()
    with pytest.raises(ValidationFailed) as info:
        store_for(coll).search(np.array([1.0]), 3, {"colour": "red"})
    assert info.value.field == "filter.colour"
    assert "ATLAS_FILTER_FIELDS" in info.value.message
    assert coll.calls == []


def test_mongo_errors_become_store_unavailable():
    coll = FakeCollection(fail=True)
    store = store_for(coll)
    with pytest.raises(StoreUnavailable) as info:
        store.search(np.array([1.0]), 3, {})
    assert info.value.status == 503
    with pytest.raises(StoreUnavailable):
        store.ping()


def test_atlas_store_behind_the_api(make_client):
    docs = [{"id": "d:0", "document_id": "d", "text": "found", "metadata": {}, "score": 0.8}]
    coll = FakeCollection(
        docs=docs,
        indexes=[
            {
                "name": "vector_index",
                "queryable": True,
                "latestDefinition": index_definition(384, []),
            }
        ],
    )
    client = make_client(store=store_for(coll, filter_fields=()))
    assert client.get("/ready").json()["store"] == "atlas"
    resp = client.post("/search", json={"query": "q", "k": 2, "filter": {"colour": "red"}})
    assert resp.status_code == 422
    assert resp.json()["error"]["field"] == "filter.colour"
    resp = client.post("/search", json={"query": "q", "k": 2})
    assert resp.json()["results"][0]["text"] == "found"
    coll.fail = True
    down = client.post("/search", json={"query": "q"})
    assert down.status_code == 503
    assert down.json()["error"]["type"] == "store_unavailable"
