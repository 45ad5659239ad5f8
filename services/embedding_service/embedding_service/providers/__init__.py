"""Provider registry: EMBEDDING_PROVIDER -> a constructed (not yet loaded) provider."""

from __future__ import annotations

from ..config import PROVIDERS, ConfigError, Settings
from .base import EmbeddingProvider


def build_provider(settings: Settings) -> EmbeddingProvider:
    """Cheap construction only (no weights, no network): heavy work happens in load()."""
    name = settings.embedding_provider
    try:
        if name == "hashing":
            from .hashing import HashingProvider

            return HashingProvider(settings.hashing_dimension)
        if name == "local":
            from .local import LocalProvider

            return LocalProvider(
                settings.embedding_model, settings.embedding_model_path, settings.embedding_device
            )
        if name == "openai":
            from .openai import OpenAIProvider

            return OpenAIProvider(
                api_key=settings.openai_api_key or "",
                model=settings.openai_embedding_model,
                base_url=settings.openai_base_url,
                timeout=settings.openai_timeout_seconds,
                max_retries=settings.openai_max_retries,
                dimensions=settings.openai_embedding_dimensions,
            )
        if name == "sagemaker":
            from .sagemaker import SageMakerProvider

            return SageMakerProvider(
                endpoint_name=settings.sagemaker_endpoint_name or "",
                region=settings.region,
                timeout=settings.sagemaker_timeout_seconds,
                dimension=settings.sagemaker_embedding_dimension,
            )
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    raise ConfigError(
        f"unknown EMBEDDING_PROVIDER {name!r}; expected one of: {', '.join(PROVIDERS)}"
    )


__all__ = ["PROVIDERS", "EmbeddingProvider", "build_provider"]
