#!/usr/bin/env python3
"""Pack files and directories into a reproducible .tar.gz and report it as JSON.

    pack_artifact.py --out-dir .cache/release --name host-bundle \
        --add docker-compose.yml=services/docker-compose.yml --add ui=services/demo-ui/dist \
        --exclude ui/config.json

The same inputs give the same bytes (sorted entries, mtime 0, root-owned, modes
normalised to 0644/0755, gzip header without a time or name), so the artifact's
sha256 is its identity: a release that changed nothing keeps its id, and the S3
key named by that hash is uploaded once. Local work only: no AWS call.

Prints {"name", "path", "sha256", "bytes", "changed"}; the file is
<out-dir>/<name>-<sha256[:16]>.tar.gz, and the last KEEP of a name stay.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import os
import sys
import tarfile
from pathlib import Path

KEEP = 3
_SKIP_DIRS = {"__pycache__", "node_modules", ".pytest_cache"}


def _entries(adds: list[tuple[str, Path]], excludes: set[str]) -> list[tuple[str, Path]]:
    """(archive name, source path) for every file, sorted by archive name."""
    found: dict[str, Path] = {}
    for arcname, source in adds:
        if not source.exists():
            raise FileNotFoundError(
                f"{source} does not exist (wanted as {arcname} in the artifact)"
            )
        if source.is_file():
            found[arcname] = source
            continue
        for dirpath, dirnames, filenames in os.walk(source):
            dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS)
            for name in filenames:
                path = Path(dirpath, name)
                if name.endswith(".pyc"):
                    continue
                found[f"{arcname}/{path.relative_to(source).as_posix()}"] = path
    return sorted((name, path) for name, path in found.items() if name not in excludes)


def _tar_bytes(entries: list[tuple[str, Path]]) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        dirs_done: set[str] = set()
        for arcname, path in entries:
            # Parent directories first, each once, with fixed metadata.
            parts = arcname.split("/")[:-1]
            for depth in range(1, len(parts) + 1):
                directory = "/".join(parts[:depth])
                if directory in dirs_done:
                    continue
                dirs_done.add(directory)
                info = tarfile.TarInfo(directory)
                info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, 0
                tar.addfile(info)
            info = tarfile.TarInfo(arcname)
            data = path.read_bytes()
            info.size, info.mtime = len(data), 0
            info.mode = 0o755 if os.access(path, os.X_OK) else 0o644
            tar.addfile(info, io.BytesIO(data))
    packed = io.BytesIO()
    # filename="" and mtime=0: gzip's header would otherwise carry both.
    with gzip.GzipFile(filename="", mode="wb", fileobj=packed, mtime=0, compresslevel=9) as gz:
        gz.write(raw.getvalue())
    return packed.getvalue()


def _prune(out_dir: Path, name: str, keep: Path) -> None:
    olds = sorted(
        (p for p in out_dir.glob(f"{name}-*.tar.gz") if p != keep),
        key=lambda p: p.stat().st_mtime,
        reverse=True,
    )
    for old in olds[KEEP - 1 :]:
        old.unlink()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", required=True, type=Path)
    parser.add_argument("--name", required=True)
    parser.add_argument("--add", action="append", default=[], metavar="ARCNAME=PATH", required=True)
    parser.add_argument("--exclude", action="append", default=[], metavar="ARCNAME")
    args = parser.parse_args(argv)
    adds = []
    for spec in args.add:
        arcname, sep, source = spec.partition("=")
        if not sep or not arcname or not source:
            parser.error(f"--add {spec!r}: expected ARCNAME=PATH")
        adds.append((arcname.strip("/"), Path(source)))
    try:
        data = _tar_bytes(_entries(adds, set(args.exclude)))
    except FileNotFoundError as exc:
        print(json.dumps({"failed": True, "msg": str(exc)}))
        return 1
    sha256 = hashlib.sha256(data).hexdigest()
    args.out_dir.mkdir(parents=True, exist_ok=True)
    target = args.out_dir / f"{args.name}-{sha256[:16]}.tar.gz"
    changed = not target.exists()
    if changed:
        tmp = target.with_suffix(".tmp")
        tmp.write_bytes(data)
        tmp.replace(target)
    else:
        os.utime(target)
    _prune(args.out_dir, args.name, target)
    report = {
        "name": args.name,
        "path": str(target),
        "sha256": sha256,
        "bytes": len(data),
        "changed": changed,
    }
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
