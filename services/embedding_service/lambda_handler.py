"""AWS Lambda entry point: the same FastAPI app behind API Gateway / a function URL.

Zip-packaged functions cannot carry torch, so the default provider here is `hashing`;
set EMBEDDING_PROVIDER=openai|sagemaker (or use a container image for `local`).
The model loads on a background thread at init; requests wait at most
REQUEST_READY_TIMEOUT_SECONDS for it, then get a 503 instead of hanging the invocation.

Secrets arrive as SSM parameter names (OPENAI_API_KEY_SSM_PARAMETER,
MONGODB_URI_SSM_PARAMETER), never as values: create_app() -> load_settings()
fetches them once here, at cold start, and the execution environment keeps them.
"""

from __future__ import annotations

import os

from mangum import Mangum

# Lambda's only writable path is /tmp: the local store (when no MONGODB_URI) lives there.
os.environ.setdefault("DATA_DIR", "/tmp/embedding-data")  # noqa: S108
os.environ.setdefault("EMBEDDING_PROVIDER", "hashing")

from embedding_service.app import create_app  # after the env defaults above, on purpose

app = create_app()
handler = Mangum(app, lifespan="auto")
