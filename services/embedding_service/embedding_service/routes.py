"""HTTP endpoints of the API contract. Handlers are sync: the work blocks, so it runs in
Starlette's thread pool and never stalls the event loop (or /health)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from .schemas import DocumentsRequest, EmbedRequest, SearchRequest
from .service import EmbeddingService

router = APIRouter()


def _service(request: Request) -> EmbeddingService:
    return request.app.state.service


@router.get("/health")
async def health(request: Request) -> dict[str, str | None]:
    # `release` is RAGSTACK_RELEASE as read at start-up with the other settings; null if unset.
    return {"status": "ok", "release": request.app.state.settings.ragstack_release}


@router.get("/ready")
def ready(request: Request) -> JSONResponse:
    service = _service(request)
    ok, reason = service.runtime.check()
    service.metrics.ready.set(1 if ok else 0)
    if not ok:
        return JSONResponse({"status": "not_ready", "reason": reason}, status_code=503)
    return JSONResponse(
        {
            "status": "ready",
            "provider": service.provider.name,
            "model": service.provider.model,
            "dimension": service.provider.dimension,
            "store": service.store.name,
        }
    )


@router.get("/metrics")
def metrics(request: Request) -> Response:
    service = _service(request)
    ok, _ = service.runtime.check()
    service.metrics.ready.set(1 if ok else 0)
    if ok:
        try:
            service.metrics.store_chunks.set(service.store.count())
        except Exception:  # noqa: BLE001, S110 - a scrape must not fail because the store hiccups
            pass
    return Response(service.metrics.render(), media_type=service.metrics.content_type)


@router.post("/embed")
def embed(body: EmbedRequest, request: Request) -> dict[str, Any]:
    return _service(request).embed(body.texts, body.provider)


@router.post("/documents")
def documents(body: DocumentsRequest, request: Request) -> dict[str, Any]:
    return _service(request).ingest(body)


@router.delete("/documents/{document_id:path}")
def delete_document(document_id: str, request: Request) -> dict[str, Any]:
    return _service(request).delete_document(document_id)


@router.post("/search")
def search(body: SearchRequest, request: Request) -> dict[str, Any]:
    return _service(request).search(body)
