"""`python -m embedding_service`: uvicorn on EMBEDDING_SERVICE_HOST:EMBEDDING_SERVICE_PORT."""

from __future__ import annotations

import logging
import sys

import uvicorn

from .app import create_app
from .config import ConfigError, load_settings


def main() -> int:
    try:
        settings = load_settings()
        app = create_app(settings)
    except ConfigError as exc:
        print(f"embedding-service: configuration error: {exc}", file=sys.stderr)
        return 2
    level = settings.log_level.lower()
    logging.basicConfig(
        level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    uvicorn.run(
        app,
        host=settings.embedding_service_host,
        port=settings.embedding_service_port,
        log_level=level,
        proxy_headers=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
