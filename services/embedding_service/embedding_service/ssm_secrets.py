"""Secrets from SSM Parameter Store, resolved once per process before settings are built.

A deployment that must not put a secret in its configuration (Lambda's environment
is readable by anyone with lambda:GetFunctionConfiguration) sets
`<VAR>_SSM_PARAMETER=/ragstack/<env>/<name>` instead of `<VAR>`. The SecureString is
fetched with decryption at cold start and placed in `os.environ[<VAR>]`, so the
settings read it like any other variable and the execution environment keeps it
for its lifetime. An explicit `<VAR>` always wins (local runs, tests), and so does a
`<VAR>_FILE` for the secrets that take one (secret_files.py): the parameter is then not read.

Values are never logged; errors name the parameter, never its value.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from typing import Any

from .config import ConfigError
from .secret_files import SECRET_VARIABLES, is_set
from .secret_files import SUFFIX as FILE_SUFFIX

SUFFIX = "_SSM_PARAMETER"

log = logging.getLogger(__name__)


def _client() -> Any:
    # Imported here: only deployments that name a parameter need boto3 at all.
    import boto3

    # boto3 honours AWS_ENDPOINT_URL_SSM / AWS_ENDPOINT_URL (moto, VPC endpoints) by itself.
    return boto3.client("ssm")


@contextmanager
def _no_wire_logs() -> Iterator[None]:
    """botocore logs response bodies, decrypted values included, at DEBUG: not for these calls."""
    logger = logging.getLogger("botocore")
    previous = logger.level
    logger.setLevel(max(logging.INFO, logger.getEffectiveLevel()))
    try:
        yield
    finally:
        logger.setLevel(previous)


def resolve_ssm_secrets(
    environ: MutableMapping[str, str] | None = None, client: Any = None
) -> list[str]:
    """Fill each unset `<VAR>` named by a `<VAR>_SSM_PARAMETER`; return the VARs filled."""
    environ = os.environ if environ is None else environ
    wanted = {
        key.removesuffix(SUFFIX): name.strip()
        for key, name in environ.items()
        if key.endswith(SUFFIX) and key != SUFFIX and name.strip()
    }
    resolved = []
    for var, name in sorted(wanted.items()):
        if environ.get(var):
            continue
        if var in SECRET_VARIABLES and is_set(environ, f"{var}{FILE_SUFFIX}"):
            log.info("%s comes from %s%s: SSM parameter %s not read", var, var, FILE_SUFFIX, name)
            continue
        if client is None:
            client = _client()
        try:
            with _no_wire_logs():
                response = client.get_parameter(Name=name, WithDecryption=True)
            value = response["Parameter"]["Value"]
        except Exception as exc:  # noqa: BLE001 - any failure means the service cannot start
            # The exception's text comes from AWS and holds no value (the fetch failed).
            raise ConfigError(
                f"cannot read SSM parameter {name!r} for {var} ({var}{SUFFIX}): "
                f"{type(exc).__name__}: {exc}"
            ) from None
        environ[var] = value
        resolved.append(var)
        log.info("resolved %s from SSM parameter %s", var, name)
    return resolved
