"""Secrets delivered as files: `<VAR>_FILE=/run/secrets/<name>`, read once per settings load.

On EC2 a systemd unit on the host reads the SSM parameters with the instance role, writes
them to tmpfs (0600), and docker compose mounts them into the container as `secrets:` files,
so a secret is never in `docker inspect` or the container's environment. The service reads:

- the file's content, with one trailing newline (``\\n`` or ``\\r\\n``) stripped, as the value;
- at settings load, so "rotate" is "write a new file, restart the container".

Both `<VAR>` and `<VAR>_FILE` set is a startup error (which one would a rotation change?).
A `_FILE` that is missing, unreadable, not UTF-8, too large or empty is a startup error
naming the variable and the path. Errors and logs never carry the content.

The value is handed to the settings directly, never written back into `os.environ`: the
environment stays free of it (child processes, a later load that must see only the file).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path

from .config import ConfigError

SUFFIX = "_FILE"
# Every secret the service takes. Only these read a `_FILE`: a generic `*_FILE` would catch
# unrelated variables (AWS_CONFIG_FILE, SSL_CERT_FILE) that name files for other reasons.
SECRET_VARIABLES = ("OPENAI_API_KEY", "MONGODB_URI")
# An API key or a connection string is far below this; a bigger file is a wrong path.
MAX_BYTES = 64 * 1024

log = logging.getLogger(__name__)


def is_set(environ: Mapping[str, str], name: str) -> bool:
    """Set means non-empty, as for every other setting (`VAR=` is unset)."""
    return bool(environ.get(name, "").strip())


def strip_one_newline(text: str) -> str:
    if text.endswith("\r\n"):
        return text[:-2]
    if text.endswith("\n"):
        return text[:-1]
    return text


def read_secret_file(var: str, path: str) -> str:
    where = f"{var}{SUFFIX}={path}"
    try:
        with Path(path).open("rb") as handle:
            raw = handle.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise ConfigError(f"{where}: no such file") from None
    except IsADirectoryError:
        raise ConfigError(f"{where}: is a directory, not a file") from None
    except OSError as exc:
        # strerror only ("Permission denied"): never the exception's text beyond that.
        raise ConfigError(
            f"{where}: cannot read the file ({exc.strerror or type(exc).__name__})"
        ) from None
    if len(raw) > MAX_BYTES:
        raise ConfigError(f"{where}: larger than {MAX_BYTES} bytes, not a secret file")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        # The decode error quotes the offending byte: not repeated here.
        raise ConfigError(f"{where}: not UTF-8 text") from None
    value = strip_one_newline(text)
    if not value.strip():
        raise ConfigError(f"{where}: the file is empty (or only whitespace)")
    return value


def read_secret_files(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """`{VAR: value}` for each secret given as `<VAR>_FILE`; ConfigError on any ambiguity."""
    environ = os.environ if environ is None else environ
    values = {}
    for var in SECRET_VARIABLES:
        file_var = f"{var}{SUFFIX}"
        if not is_set(environ, file_var):
            continue
        if is_set(environ, var):
            raise ConfigError(
                f"both {var} and {file_var} are set; set only one "
                f"(the value, or the file that holds it)"
            )
        path = environ[file_var]
        values[var] = read_secret_file(var, path)
        log.info("read %s from file %s (%s)", var, path, file_var)
    return values
