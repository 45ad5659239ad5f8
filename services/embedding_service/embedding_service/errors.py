"""The contract's error shape, `{"error": {"type", "message", "field"?}}`, for every failure."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger(__name__)


class ApiError(Exception):
    status = 400
    type = "bad_request"

    def __init__(self, message: str, field: str | None = None, status: int | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        if status is not None:
            self.status = status


class ValidationFailed(ApiError):
    status = 422
    type = "validation_error"


class InvalidJson(ApiError):
    status = 400
    type = "invalid_json"


class NotFound(ApiError):
    status = 404
    type = "not_found"


class PayloadTooLarge(ApiError):
    status = 413
    type = "payload_too_large"


class NotReady(ApiError):
    status = 503
    type = "not_ready"


class StoreUnavailable(ApiError):
    status = 503
    type = "store_unavailable"


class UpstreamError(ApiError):
    """The embedding backend (OpenAI, SageMaker) failed; not the client's fault, not a bug here."""

    status = 502
    type = "upstream_error"


class UpstreamTimeout(UpstreamError):
    status = 504
    type = "upstream_timeout"


def error_body(type_: str, message: str, field: str | None = None, **extra: Any) -> dict[str, Any]:
    err: dict[str, Any] = {"type": type_, "message": message}
    if field is not None:
        err["field"] = field
    err.update(extra)
    return {"error": err}


def error_response(
    status: int, type_: str, message: str, field: str | None = None, **extra: Any
) -> JSONResponse:
    return JSONResponse(error_body(type_, message, field, **extra), status_code=status)


def field_from_loc(loc: tuple[Any, ...] | list[Any]) -> str:
    """("body", "texts", 3) -> "texts.3"; the request part ("body", "query"...) is noise."""
    parts = list(loc)
    if parts and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:]
    return ".".join(str(p) for p in parts) or "body"


def _clean(msg: str) -> str:
    return msg.removeprefix("Value error, ").removeprefix("Assertion failed, ")


async def _api_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return error_response(exc.status, exc.type, exc.message, exc.field)


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    if any(e.get("type") == "json_invalid" for e in errors):
        return error_response(400, "invalid_json", "request body is not valid JSON", "body")
    details = [
        {"field": field_from_loc(e.get("loc", ())), "message": _clean(e["msg"])} for e in errors
    ]
    if not details:
        details = [{"field": "body", "message": "invalid request"}]
    first = details[0]
    return error_response(
        422, "validation_error", first["message"], first["field"], details=details
    )


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    types = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}
    message = exc.detail if isinstance(exc.detail, str) else "request failed"
    return JSONResponse(
        error_body(types.get(exc.status_code, "http_error"), message),
        status_code=exc.status_code,
        headers=getattr(exc, "headers", None),
    )


async def _unhandled(_: Request, exc: Exception) -> JSONResponse:
    # The trace goes to the log for operators, never to the client.
    log.error("unhandled error", exc_info=exc)
    return error_response(500, "internal_error", "internal error")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unhandled)
