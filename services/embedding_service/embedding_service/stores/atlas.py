"""MongoDB Atlas Vector Search store (pymongo). Query and index shapes are pure functions."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from ..errors import StoreUnavailable, ValidationFailed
from .base import ChunkRecord, DimensionMismatch, Scalar, SearchHit, VectorStore, metadata_path

log = logging.getLogger(__name__)

VECTOR_PATH = "embedding"


def filter_paths(filter_fields: Sequence[str]) -> list[str]:
    """Indexed filter paths: document_id always, plus ATLAS_FILTER_FIELDS (metadata keys)."""
    paths: list[str] = []
    for key in ("document_id", *filter_fields):
        path = metadata_path(key)
        if path not in paths:
            paths.append(path)
    return paths


def index_definition(
    dimension: int, filter_fields: Sequence[str] = (), similarity: str = "cosine"
) -> dict[str, Any]:
    fields: list[dict[str, Any]] = [
        {
            "type": "vector",
            "path": VECTOR_PATH,
            "numDimensions": dimension,
            "similarity": similarity,
        }
    ]
    fields.extend({"type": "filter", "path": path} for path in filter_paths(filter_fields))
    return {"fields": fields}


def build_filter(filters: dict[str, Scalar]) -> dict[str, Any] | None:
    clauses = [{metadata_path(key): {"$eq": value}} for key, value in filters.items()]
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


def num_candidates(k: int, cap: int = 10000) -> int:
    # 10x oversampling is Atlas's guidance for recall; never below the limit it must fill.
    return max(min(k * 10, cap), k)


def search_pipeline(
    index_name: str,
    vector: Sequence[float],
    k: int,
    filters: dict[str, Scalar] | None = None,
    cap: int = 10000,
) -> list[dict[str, Any]]:
    stage: dict[str, Any] = {
        "index": index_name,
        "path": VECTOR_PATH,
        "queryVector": [float(x) for x in vector],
        "numCandidates": num_candidates(k, cap),
        "limit": k,
    }
    mongo_filter = build_filter(filters or {})
    if mongo_filter is not None:
        stage["filter"] = mongo_filter
    return [
        {"$vectorSearch": stage},
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


def indexed_dimension(index: dict[str, Any]) -> int | None:
    definition = index.get("latestDefinition") or index.get("definition") or {}
    for field in definition.get("fields", []):
        if field.get("type") == "vector":
            return int(field["numDimensions"])
    return None


def _field_set(fields: list[dict[str, Any]]) -> set[tuple[tuple[str, str], ...]]:
    # Atlas echoes definitions back with its own key order; compare content only.
    return {tuple(sorted((k, str(v)) for k, v in f.items())) for f in fields}


@contextmanager
def _mongo_errors(action: str) -> Iterator[None]:
    from pymongo.errors import PyMongoError

    try:
        yield
    except PyMongoError as exc:
        log.warning("atlas %s failed: %s", action, exc)
        raise StoreUnavailable(f"vector store unavailable during {action}") from exc


class AtlasStore(VectorStore):
    name = "atlas"

    def __init__(
        self,
        uri: str | None,
        database: str,
        collection: str,
        index_name: str = "vector_index",
        filter_fields: Sequence[str] = (),
        num_candidates_cap: int = 10000,
        timeout_ms: int = 5000,
        collection_obj: Any = None,
    ) -> None:
        self.index_name = index_name
        self.filter_fields = tuple(filter_fields)
        self.cap = num_candidates_cap
        self._db_name, self._coll_name = database, collection
        self._queryable = False
        self._client: Any = None
        if collection_obj is None:
            from pymongo import MongoClient

            # Lazy: MongoClient connects in the background, construction does no I/O.
            self._client = MongoClient(
                uri,
                serverSelectionTimeoutMS=timeout_ms,
                connectTimeoutMS=timeout_ms,
                appname="ragstack-embedding-service",
            )
            collection_obj = self._client[database][collection]
        self.collection = collection_obj

    def open(self, dimension: int) -> None:
        with _mongo_errors("open"):
            db = self.collection.database
            if self._coll_name not in db.list_collection_names(filter={"name": self._coll_name}):
                # Atlas refuses a search index on a collection that does not exist yet.
                db.create_collection(self._coll_name)
            self.ensure_index(dimension)

    def ensure_index(self, dimension: int) -> None:
        from pymongo.operations import SearchIndexModel

        wanted = index_definition(dimension, self.filter_fields)
        existing = list(self.collection.list_search_indexes(self.index_name))
        if not existing:
            log.info("creating Atlas vectorSearch index %s", self.index_name)
            self.collection.create_search_index(
                SearchIndexModel(definition=wanted, name=self.index_name, type="vectorSearch")
            )
            return
        have = indexed_dimension(existing[0])
        if have is not None and have != dimension:
            raise DimensionMismatch(
                f"Atlas index {self.index_name} has numDimensions {have}, but the embedding "
                f"provider produces {dimension}; drop the index or use the model that built it"
            )
        current = existing[0].get("latestDefinition") or {}
        if _field_set(current.get("fields", [])) != _field_set(wanted["fields"]):
            log.info("updating Atlas vectorSearch index %s filter fields", self.index_name)
            self.collection.update_search_index(self.index_name, wanted)

    def ping(self) -> None:
        with _mongo_errors("ping"):
            self.collection.database.command("ping")
            if not self._queryable:
                indexes = list(self.collection.list_search_indexes(self.index_name))
                status = indexes[0].get("status", "?") if indexes else "MISSING"
                if not (indexes and indexes[0].get("queryable")):
                    raise RuntimeError(f"Atlas index {self.index_name} not queryable ({status})")
                self._queryable = True

    def chunk_hashes(self, document_id: str) -> dict[str, str]:
        with _mongo_errors("read"):
            cursor = self.collection.find({"document_id": document_id}, {"content_hash": 1})
            return {doc["_id"]: doc.get("content_hash", "") for doc in cursor}

    def write(self, upserts: list[ChunkRecord], delete_ids: list[str]) -> int:
        from pymongo import DeleteMany, ReplaceOne

        ops: list[Any] = [
            ReplaceOne(
                {"_id": rec.id},
                {
                    "_id": rec.id,
                    "document_id": rec.document_id,
                    "n": rec.n,
                    "text": rec.text,
                    "content_hash": rec.content_hash,
                    "metadata": rec.metadata,
                    VECTOR_PATH: np.asarray(rec.vector, dtype=np.float64).tolist(),
                },
                upsert=True,
            )
            for rec in upserts
        ]
        if delete_ids:
            ops.append(DeleteMany({"_id": {"$in": list(delete_ids)}}))
        if not ops:
            return 0
        with _mongo_errors("write"):
            return int(self.collection.bulk_write(ops, ordered=True).deleted_count)

    def delete_document(self, document_id: str) -> int:
        with _mongo_errors("delete"):
            return int(self.collection.delete_many({"document_id": document_id}).deleted_count)

    def search(self, vector: np.ndarray, k: int, filters: dict[str, Scalar]) -> list[SearchHit]:
        allowed = {"document_id", *self.filter_fields}
        for key in filters:
            if key not in allowed:
                raise ValidationFailed(
                    f"{key!r} is not an indexed filter field (ATLAS_FILTER_FIELDS)",
                    field=f"filter.{key}",
                )
        pipeline = search_pipeline(self.index_name, vector, k, filters, self.cap)
        with _mongo_errors("search"):
            docs = list(self.collection.aggregate(pipeline))
        return [
            SearchHit(
                id=doc["id"],
                document_id=doc["document_id"],
                text=doc.get("text", ""),
                score=float(doc["score"]),
                metadata=doc.get("metadata") or {},
            )
            for doc in docs
        ]

    def count(self) -> int:
        with _mongo_errors("count"):
            return int(self.collection.estimated_document_count())

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
