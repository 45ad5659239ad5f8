"""ASGI application factory. `embedding_service.app:app` is built lazily on first access,
so importing this module (tests, tooling) reads no environment and loads nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from . import __version__
from .config import Settings, load_settings
from .errors import install_error_handlers
from .metrics import Metrics
from .middleware import BodyLimitMiddleware, MetricsMiddleware
from .providers import EmbeddingProvider, build_provider
from .routes import router
from .runtime import Runtime
from .service import EmbeddingService
from .stores import VectorStore, build_store


def create_app(
    settings: Settings | None = None,
    provider: EmbeddingProvider | None = None,
    store: VectorStore | None = None,
) -> FastAPI:
    """Fails fast (ConfigError) on settings that cannot work, e.g. an unknown provider."""
    settings = settings or load_settings()
    runtime = Runtime(
        settings, provider or build_provider(settings), store or build_store(settings)
    )
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # Returns at once: the model loads in the background so /health answers immediately.
        runtime.start()
        yield

    app = FastAPI(title="ragstack embedding service", version=__version__, lifespan=lifespan)
    app.state.settings = settings
    app.state.runtime = runtime
    app.state.service = EmbeddingService(settings, runtime, metrics)
    install_error_handlers(app)
    app.include_router(router)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    # Added last = outermost, so 413s from the body limit are counted too.
    app.add_middleware(MetricsMiddleware, metrics=metrics, routes=router.routes)
    return app


_app: FastAPI | None = None


def __getattr__(name: str) -> Any:
    global _app
    if name == "app":
        if _app is None:
            _app = create_app()
        return _app
    raise AttributeError(name)
