"""ragstack embedding service: embeddings, chunked document ingest and vector search."""

__version__ = "0.1.0"
