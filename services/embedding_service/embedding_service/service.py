"""Embedding, idempotent document ingest and search, independent of HTTP."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from typing import Any

import numpy as np

from .chunking import chunk_text
from .config import PROVIDERS, Settings
from .errors import NotFound, PayloadTooLarge, ValidationFailed
from .metrics import Metrics
from .providers.base import EmbeddingProvider
from .runtime import Runtime
from .schemas import DocumentsRequest, SearchRequest
from .stores.base import ChunkRecord, VectorStore


def default_document_id(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def chunk_hash(model_key: str, text: str, metadata: dict[str, Any]) -> str:
    """What a stored chunk was made from: same hash -> same vector and payload, skip it."""
    material = json.dumps(
        {"model": model_key, "text": text, "metadata": metadata},
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(material.encode("utf-8")).hexdigest()


class EmbeddingService:
    def __init__(self, settings: Settings, runtime: Runtime, metrics: Metrics) -> None:
        self.settings = settings
        self.runtime = runtime
        self.metrics = metrics
        # Ingest is read-diff-write per document; serialise writers within this process.
        self._write_lock = threading.Lock()

    @property
    def provider(self) -> EmbeddingProvider:
        return self.runtime.provider

    @property
    def store(self) -> VectorStore:
        return self.runtime.store

    @property
    def model_key(self) -> str:
        return f"{self.provider.name}:{self.provider.model}"

    def _check_batch(self, count: int, field: str) -> None:
        if count > self.settings.max_batch:
            raise PayloadTooLarge(
                f"{count} items exceed MAX_BATCH={self.settings.max_batch}", field=field
            )

    def embed_texts(self, texts: list[str]) -> np.ndarray:
        self.runtime.require_ready()
        size = self.settings.embed_batch_size
        parts = [self.provider.embed(texts[i : i + size]) for i in range(0, len(texts), size)]
        self.metrics.embeddings.labels(self.provider.name).inc(len(texts))
        return np.concatenate(parts) if parts else np.zeros((0, self.provider.dimension or 0))

    def embed(self, texts: list[str], provider: str | None = None) -> dict[str, Any]:
        self._check_batch(len(texts), "texts")
        if provider is not None and provider != self.provider.name:
            if provider not in PROVIDERS:
                message = f"unknown provider {provider!r}; expected one of: {', '.join(PROVIDERS)}"
            else:
                message = (
                    f"provider {provider!r} is not enabled; "
                    f"this service runs {self.provider.name!r}"
                )
            raise ValidationFailed(message, field="provider")
        vectors = self.embed_texts(texts)
        return {
            "model": self.provider.model,
            "provider": self.provider.name,
            "dimension": int(vectors.shape[1]),
            "vectors": vectors.astype(np.float64).tolist(),
        }

    def ingest(self, req: DocumentsRequest) -> dict[str, Any]:
        self._check_batch(len(req.documents), "documents")
        size = req.chunk_size or self.settings.chunk_size
        overlap = req.chunk_overlap
        if overlap is None:
            # A caller who only shrinks chunk_size should not trip over the default overlap.
            overlap = min(self.settings.chunk_overlap, size // 2)
        if overlap >= size:
            raise ValidationFailed(
                f"chunk_overlap ({overlap}) must be smaller than chunk_size ({size})",
                field="chunk_overlap",
            )
        self.runtime.require_ready()
        seen: set[str] = set()
        plan: list[tuple[str, list[ChunkRecord]]] = []
        changed: list[ChunkRecord] = []
        stale: list[str] = []
        with self._write_lock:
            for i, doc in enumerate(req.documents):
                doc_id = doc.id if doc.id is not None else default_document_id(doc.text)
                if doc_id in seen:
                    raise ValidationFailed(
                        f"duplicate document id {doc_id!r} in this request",
                        field=f"documents.{i}.id" if doc.id is not None else f"documents.{i}.text",
                    )
                seen.add(doc_id)
                records = [
                    ChunkRecord(
                        id=f"{doc_id}:{n}",
                        document_id=doc_id,
                        n=n,
                        text=piece,
                        content_hash=chunk_hash(self.model_key, piece, doc.metadata),
                        metadata=doc.metadata,
                    )
                    for n, piece in enumerate(chunk_text(doc.text, size, overlap))
                ]
                stored = self.store.chunk_hashes(doc_id)
                changed.extend(r for r in records if stored.get(r.id) != r.content_hash)
                current = {r.id for r in records}
                stale.extend(cid for cid in stored if cid not in current)
                plan.append((doc_id, records))
            if changed:
                vectors = self.embed_texts([r.text for r in changed])
                for rec, vec in zip(changed, vectors, strict=True):
                    rec.vector = vec
            # One write per request: either the whole batch lands or none of it does.
            deleted = self.store.write(changed, stale) if changed or stale else 0
        total = sum(len(records) for _, records in plan)
        return {
            "documents": [{"id": doc_id, "chunks": len(records)} for doc_id, records in plan],
            "chunks_upserted": len(changed),
            "chunks_unchanged": total - len(changed),
            "chunks_deleted": deleted,
        }

    def delete_document(self, document_id: str) -> dict[str, Any]:
        self.runtime.require_ready()
        with self._write_lock:
            deleted = self.store.delete_document(document_id)
        if not deleted:
            raise NotFound(f"document {document_id!r} not found", field="id")
        return {"id": document_id, "deleted_chunks": deleted}

    def search(self, req: SearchRequest) -> dict[str, Any]:
        started = time.perf_counter()
        vector = self.embed_texts([req.query])[0]
        hits = self.store.search(vector, req.k, req.filter or {})
        return {
            "results": [
                {
                    "id": h.id,
                    "document_id": h.document_id,
                    "text": h.text,
                    "score": h.score,
                    "metadata": h.metadata,
                }
                for h in hits
            ],
            "model": self.provider.model,
            "took_ms": round((time.perf_counter() - started) * 1000.0, 3),
        }
