"""Service settings, read from the environment (pydantic-settings)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROVIDERS = ("local", "openai", "sagemaker", "hashing")
STORES = ("local", "atlas")


class ConfigError(ValueError):
    """Settings that cannot work; raised before the service starts serving."""


class Settings(BaseSettings):
    # No env prefix: the variable names are the deployment contract (README, Ansible roles).
    model_config = SettingsConfigDict(env_file=None, extra="ignore", case_sensitive=False)

    embedding_service_host: str = "0.0.0.0"  # noqa: S104 - a container must listen beyond loopback
    embedding_service_port: int = Field(default=8000, ge=1, le=65535)
    log_level: str = "info"
    # Which release this process runs (`r-` + 12 hex chars), reported by /health; not a secret.
    ragstack_release: str | None = None

    embedding_provider: str = "local"
    embedding_model: str = "all-MiniLM-L6-v2"
    embedding_model_path: str | None = None
    embedding_device: str | None = None

    # Secrets: kept out of repr(), so a logged or printed Settings never shows them.
    openai_api_key: str | None = Field(default=None, repr=False)
    openai_base_url: str = "https://api.openai.com/v1"
    openai_embedding_model: str = "text-embedding-3-small"
    openai_embedding_dimensions: int | None = Field(default=None, ge=1)
    openai_timeout_seconds: float = Field(default=30.0, gt=0)
    openai_max_retries: int = Field(default=3, ge=0, le=10)

    sagemaker_endpoint_name: str | None = None
    sagemaker_embedding_dimension: int | None = Field(default=None, ge=1)
    sagemaker_timeout_seconds: float = Field(default=60.0, gt=0)
    aws_region: str | None = None
    aws_default_region: str | None = None

    hashing_dimension: int = Field(default=384, ge=8, le=65536)

    vector_store: str | None = None
    data_dir: Path = Path("data")
    mongodb_uri: str | None = Field(default=None, repr=False)
    mongodb_database: str = "ragstack"
    mongodb_collection: str = "chunks"
    atlas_index_name: str = "vector_index"
    atlas_filter_fields: str = ""
    atlas_num_candidates_cap: int = Field(default=10000, ge=1, le=10000)
    atlas_timeout_ms: int = Field(default=5000, ge=100)

    # Characters; 800 keeps a chunk inside all-MiniLM-L6-v2's 256-token window.
    chunk_size: int = Field(default=800, ge=20, le=100_000)
    chunk_overlap: int = Field(default=100, ge=0)
    embed_batch_size: int = Field(default=32, ge=1, le=2048)
    max_batch: int = Field(default=64, ge=1)
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)

    model_load_timeout_seconds: float = Field(default=300.0, gt=0)
    request_ready_timeout_seconds: float = Field(default=10.0, ge=0)
    store_retry_seconds: float = Field(default=5.0, gt=0)

    @model_validator(mode="after")
    def _check(self) -> Settings:
        self.embedding_provider = self.embedding_provider.strip().lower()
        if self.embedding_provider not in PROVIDERS:
            raise ConfigError(
                f"unknown EMBEDDING_PROVIDER {self.embedding_provider!r}; "
                f"expected one of: {', '.join(PROVIDERS)}"
            )
        if self.ragstack_release is not None:
            self.ragstack_release = self.ragstack_release.strip() or None
        if self.vector_store is not None:
            self.vector_store = self.vector_store.strip().lower() or None
        if self.vector_store is not None and self.vector_store not in STORES:
            raise ConfigError(
                f"unknown VECTOR_STORE {self.vector_store!r}; expected one of: {', '.join(STORES)}"
            )
        if self.store_name == "atlas" and not self.mongodb_uri:
            raise ConfigError(
                "VECTOR_STORE=atlas needs MONGODB_URI "
                "(or MONGODB_URI_FILE, MONGODB_URI_SSM_PARAMETER)"
            )
        if self.chunk_overlap >= self.chunk_size:
            raise ConfigError("CHUNK_OVERLAP must be smaller than CHUNK_SIZE")
        return self

    @property
    def store_name(self) -> str:
        # An Atlas URI is the signal that a cluster exists; without one, stay self-contained.
        if self.vector_store:
            return self.vector_store
        return "atlas" if self.mongodb_uri else "local"

    @property
    def region(self) -> str | None:
        return self.aws_region or self.aws_default_region

    @property
    def filter_fields(self) -> tuple[str, ...]:
        return tuple(f.strip() for f in self.atlas_filter_fields.split(",") if f.strip())


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment, with pydantic's errors turned into one clear ConfigError.

    Secrets come from `<VAR>`, `<VAR>_FILE` (read now, at every load, so a restart picks up a
    rotated file; both set is an error) or `<VAR>_SSM_PARAMETER` (fetched once: it lands in
    the environment, and only when neither `<VAR>` nor `<VAR>_FILE` is set), so a deployment
    never needs a secret value in its configuration. Keyword overrides win over all three.
    """
    from pydantic import ValidationError

    from .secret_files import read_secret_files
    from .ssm_secrets import resolve_ssm_secrets

    # Files first: an ambiguous or broken secret stops start-up before any network call.
    from_files = {var.lower(): value for var, value in read_secret_files().items()}
    resolve_ssm_secrets()
    try:
        return Settings(**{**from_files, **overrides})  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']).upper() or 'settings'}: "
            f"{err['msg'].removeprefix('Value error, ')}"
            for err in exc.errors()
        )
        raise ConfigError(f"invalid configuration: {problems}") from None
