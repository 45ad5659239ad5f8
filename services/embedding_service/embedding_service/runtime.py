"""Background start-up: load the model, then open the store, without blocking /health."""

from __future__ import annotations

import logging
import threading
import time

from .config import Settings
from .errors import NotReady
from .providers.base import EmbeddingProvider
from .stores.base import DimensionMismatch, VectorStore

log = logging.getLogger(__name__)


class Runtime:
    def __init__(self, settings: Settings, provider: EmbeddingProvider, store: VectorStore):
        self.settings = settings
        self.provider = provider
        self.store = store
        self.phase = "idle"
        self.reason = "not started"
        self._ready = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._started_at = 0.0
        self._start_lock = threading.Lock()

    def start(self) -> None:
        """Idempotent: Mangum runs the ASGI lifespan on every Lambda invocation."""
        with self._start_lock:
            if self._thread is not None:
                return
            self._started_at = time.monotonic()
            self.phase, self.reason = "loading", "loading embedding model"
            # A daemon thread, not an asyncio task: loads block, and under Mangum each
            # invocation has its own short-lived event loop.
            self._thread = threading.Thread(target=self._load, name="model-loader", daemon=True)
            self._thread.start()

    def _load(self) -> None:
        try:
            self.provider.load()
        except Exception as exc:
            log.exception("embedding model failed to load")
            self.phase, self.reason = "failed", f"model load failed: {exc}"
            return
        dimension = self.provider.dimension
        assert dimension is not None
        self.reason = "opening vector store"
        while not self._stop.is_set():
            try:
                self.store.open(dimension)
                break
            except DimensionMismatch as exc:
                log.error("%s", exc)
                self.phase, self.reason = "failed", str(exc)
                return
            except Exception as exc:  # noqa: BLE001 - any failure here is retried, not fatal
                # Atlas briefly unreachable at boot must not need a restart to recover.
                log.warning("vector store not available yet: %s", exc)
                self.reason = f"vector store unavailable: {exc}"
                self._stop.wait(self.settings.store_retry_seconds)
        else:
            return
        self.phase, self.reason = "ready", "ready"
        self._ready.set()
        log.info("ready: %s", self.provider.describe())

    def stop(self) -> None:
        self._stop.set()

    def check(self) -> tuple[bool, str]:
        """(ready, reason) for /ready: model loaded and the store answering now."""
        if not self._ready.is_set():
            elapsed = time.monotonic() - self._started_at
            limit = self.settings.model_load_timeout_seconds
            if self.phase == "loading" and elapsed > limit:
                return False, f"model load exceeded {limit:g}s ({self.reason})"
            return False, self.reason
        try:
            self.store.ping()
        except Exception as exc:  # noqa: BLE001 - /ready reports why, whatever it was
            return False, f"vector store not answering: {exc}"
        return True, "ready"

    def require_ready(self) -> None:
        """Requests that arrive during start-up wait briefly (a Lambda cold start) instead of
        failing at once; past REQUEST_READY_TIMEOUT_SECONDS they get a 503."""
        if self._ready.is_set():
            return
        if self.phase in ("loading", "idle"):
            self._ready.wait(self.settings.request_ready_timeout_seconds)
        if not self._ready.is_set():
            raise NotReady(f"service not ready: {self.reason}")
