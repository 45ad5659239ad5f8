"""Embedded store: numpy vectors + JSON metadata under DATA_DIR, exact cosine search.

Layout: `index.json` names the current `vectors-<token>.npy` and lists the chunks in row
order. A write saves a new .npy, then atomically replaces index.json (the commit point),
then removes the old .npy, so a crash at any moment leaves a consistent pair on disk.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from ..providers.base import l2_normalise
from .base import ChunkRecord, DimensionMismatch, Scalar, SearchHit, VectorStore

INDEX_FILE = "index.json"
FORMAT = 1


def _atomic_write(path: Path, write: Any) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _equal(stored: Any, wanted: Scalar) -> bool:
    # Like BSON $eq: true is not 1, but 1 equals 1.0.
    if isinstance(stored, bool) or isinstance(wanted, bool):
        return stored is wanted
    return stored == wanted


_MISSING = object()


def _field(record: dict[str, Any], key: str) -> Any:
    if key == "document_id":
        return record["document_id"]
    return record["metadata"].get(key, _MISSING)


class LocalStore(VectorStore):
    name = "local"

    def __init__(self, data_dir: str | Path) -> None:
        self.data_dir = Path(data_dir)
        self.dimension: int | None = None
        self._records: list[dict[str, Any]] = []
        self._rows: dict[str, int] = {}
        self._vectors = np.zeros((0, 0), dtype=np.float32)
        self._vectors_file: str | None = None
        self._lock = threading.RLock()

    # -- lifecycle -------------------------------------------------------------------------
    def open(self, dimension: int) -> None:
        with self._lock:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            self._load()
            if self._records and self.dimension != dimension:
                raise DimensionMismatch(
                    f"DATA_DIR {self.data_dir} holds {len(self._records)} chunks of dimension "
                    f"{self.dimension}, but the embedding provider produces dimension {dimension}; "
                    "point DATA_DIR at an empty directory or use the model that wrote it"
                )
            self.dimension = dimension
            if self._vectors.shape[1] != dimension:
                self._vectors = np.zeros((0, dimension), dtype=np.float32)

    def _load(self) -> None:
        index_path = self.data_dir / INDEX_FILE
        if not index_path.exists():
            return
        index = json.loads(index_path.read_text(encoding="utf-8"))
        if index.get("format") != FORMAT:
            raise RuntimeError(f"{index_path}: unsupported format {index.get('format')!r}")
        records = index["chunks"]
        dimension = int(index["dimension"])
        if records:
            vectors = np.load(self.data_dir / index["vectors_file"], allow_pickle=False)
            if vectors.shape != (len(records), dimension):
                raise RuntimeError(
                    f"{index_path}: {len(records)} chunks but vectors of shape {vectors.shape}"
                )
        else:
            vectors = np.zeros((0, dimension), dtype=np.float32)
        self._records = records
        self._rows = {r["id"]: i for i, r in enumerate(records)}
        self._vectors = vectors.astype(np.float32, copy=False)
        self._vectors_file = index.get("vectors_file")
        self.dimension = dimension
        self._remove_strays()

    def _remove_strays(self) -> None:
        # Leftovers of a write that crashed before or after its commit point.
        for path in self.data_dir.glob("vectors-*.npy"):
            if path.name != self._vectors_file:
                path.unlink(missing_ok=True)
        for path in self.data_dir.glob(".*.tmp"):
            path.unlink(missing_ok=True)

    def ping(self) -> None:
        if self.dimension is None:
            raise RuntimeError("local store not opened")
        if not os.access(self.data_dir, os.W_OK):
            raise RuntimeError(f"DATA_DIR {self.data_dir} is not writable")

    # -- persistence -----------------------------------------------------------------------
    def _persist(self, records: list[dict[str, Any]], vectors: np.ndarray) -> str | None:
        vectors_file = None
        if records:
            vectors_file = f"vectors-{uuid.uuid4().hex}.npy"
            _atomic_write(self.data_dir / vectors_file, lambda fh: np.save(fh, vectors))
        index = {
            "format": FORMAT,
            "dimension": self.dimension,
            "vectors_file": vectors_file,
            "chunks": records,
        }
        payload = json.dumps(index, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        _atomic_write(self.data_dir / INDEX_FILE, lambda fh: fh.write(payload))
        if self._vectors_file and self._vectors_file != vectors_file:
            (self.data_dir / self._vectors_file).unlink(missing_ok=True)
        return vectors_file

    # -- operations ------------------------------------------------------------------------
    def chunk_hashes(self, document_id: str) -> dict[str, str]:
        with self._lock:
            return {
                r["id"]: r["content_hash"] for r in self._records if r["document_id"] == document_id
            }

    def write(self, upserts: list[ChunkRecord], delete_ids: list[str]) -> int:
        with self._lock:
            if self.dimension is None:
                raise RuntimeError("local store not opened")
            drop = {i for i in delete_ids if i in self._rows}
            keep = [i for i, r in enumerate(self._records) if r["id"] not in drop]
            records = [self._records[i] for i in keep]
            vectors = [self._vectors[keep]]
            rows = {r["id"]: i for i, r in enumerate(records)}
            new_rows: list[np.ndarray] = []
            replaced: dict[int, np.ndarray] = {}
            for rec in upserts:
                if rec.vector is None or rec.vector.shape != (self.dimension,):
                    raise DimensionMismatch(f"chunk {rec.id}: vector does not match dimension")
                data = {
                    "id": rec.id,
                    "document_id": rec.document_id,
                    "n": rec.n,
                    "text": rec.text,
                    "content_hash": rec.content_hash,
                    "metadata": rec.metadata,
                }
                if rec.id in rows:
                    records[rows[rec.id]] = data
                    replaced[rows[rec.id]] = rec.vector
                else:
                    rows[rec.id] = len(records)
                    records.append(data)
                    new_rows.append(rec.vector)
            if new_rows:
                vectors.append(np.stack(new_rows))
            matrix = np.concatenate(vectors).astype(np.float32)
            for row, vec in replaced.items():
                matrix[row] = vec
            matrix = l2_normalise(matrix) if len(matrix) else matrix
            self._vectors_file = self._persist(records, matrix)
            self._records, self._rows, self._vectors = records, rows, matrix
            return len(drop)

    def delete_document(self, document_id: str) -> int:
        with self._lock:
            ids = [r["id"] for r in self._records if r["document_id"] == document_id]
            return self.write([], ids) if ids else 0

    def search(self, vector: np.ndarray, k: int, filters: dict[str, Scalar]) -> list[SearchHit]:
        with self._lock:
            if not self._records:
                return []
            rows = np.arange(len(self._records))
            if filters:
                rows = np.array(
                    [
                        i
                        for i, r in enumerate(self._records)
                        if all(_equal(_field(r, key), val) for key, val in filters.items())
                    ],
                    dtype=np.int64,
                )
                if rows.size == 0:
                    return []
            query = l2_normalise(np.asarray(vector, dtype=np.float32).reshape(1, -1))[0]
            cosines = self._vectors[rows] @ query
            top = np.argsort(-cosines, kind="stable")[:k]
            return [
                SearchHit(
                    id=self._records[rows[i]]["id"],
                    document_id=self._records[rows[i]]["document_id"],
                    text=self._records[rows[i]]["text"],
                    score=float((1.0 + cosines[i]) / 2.0),
                    metadata=self._records[rows[i]]["metadata"],
                )
                for i in top
            ]

    def count(self) -> int:
        with self._lock:
            return len(self._records)
