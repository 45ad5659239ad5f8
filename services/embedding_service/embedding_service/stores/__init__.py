"""Store registry: VECTOR_STORE (or the presence of MONGODB_URI) -> a constructed store."""

from __future__ import annotations

from ..config import Settings
from .base import VectorStore


def build_store(settings: Settings) -> VectorStore:
    """Construction does no I/O; open() connects/loads once the provider knows its dimension."""
    if settings.store_name == "atlas":
        from .atlas import AtlasStore

        return AtlasStore(
            uri=settings.mongodb_uri,
            database=settings.mongodb_database,
            collection=settings.mongodb_collection,
            index_name=settings.atlas_index_name,
            filter_fields=settings.filter_fields,
            num_candidates_cap=settings.atlas_num_candidates_cap,
            timeout_ms=settings.atlas_timeout_ms,
        )
    from .local import LocalStore

    return LocalStore(settings.data_dir)


__all__ = ["VectorStore", "build_store"]
