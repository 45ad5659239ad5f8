"""Request bodies. Limits that depend on settings (MAX_BATCH) are checked in the service."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, Field


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty or whitespace")
    return value


def _doc_id(value: str | None) -> str | None:
    if value is None:
        return None
    if not value.strip():
        raise ValueError("must not be empty or whitespace")
    if len(value) > 512:
        raise ValueError("must be at most 512 characters")
    return value


def _metadata(value: dict[str, Any]) -> dict[str, Any]:
    for key in value:
        # MongoDB field-name rules, so a document valid here is storable in Atlas too.
        if not key or key.startswith("$") or "." in key:
            raise ValueError(f"metadata key {key!r} must be non-empty, without '.' or leading '$'")
    return value


def _scalar(value: Any) -> Any:
    if value is None or isinstance(value, dict | list):
        raise ValueError("filter values must be a string, number or boolean")
    return value


Text = Annotated[str, AfterValidator(_not_blank)]


class EmbedRequest(BaseModel):
    texts: list[Text] = Field(min_length=1)
    provider: str | None = None


class DocumentIn(BaseModel):
    id: Annotated[str | None, AfterValidator(_doc_id)] = None
    text: Text
    metadata: Annotated[dict[str, Any], AfterValidator(_metadata)] = Field(default_factory=dict)


class DocumentsRequest(BaseModel):
    documents: list[DocumentIn] = Field(min_length=1)
    chunk_size: int | None = Field(default=None, ge=20, le=100_000)
    chunk_overlap: int | None = Field(default=None, ge=0)


class SearchRequest(BaseModel):
    query: Text
    k: int = Field(default=5, ge=1, le=50)
    filter: dict[str, Annotated[Any, AfterValidator(_scalar)]] | None = None
