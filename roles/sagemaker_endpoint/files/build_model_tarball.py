#!/usr/bin/env python3
"""Pack a model directory into a reproducible model.tar.gz for SageMaker; print JSON.

    build_model_tarball.py --model-dir DIR --out-dir .cache/sagemaker --name all-MiniLM-L6-v2 \
        [--code inference.py]

--code files go under code/ in the archive, where SageMaker's inference toolkits look
for the handler (model_fn, predict_fn) that replaces their default.

Same files, same bytes: sorted entries, zeroed owners and times, a gzip header
without a timestamp. The name carries a hash of the content, so the S3 key is
content-addressed and an unchanged model is neither rebuilt nor re-uploaded.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import sys
import tarfile
from pathlib import Path

_SKIP = {".gitattributes", "README.md"}


def _files(root: Path, code: list[Path]) -> list[tuple[Path, str]]:
    """(file, name in the archive), in archive order."""
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith((".", "__")))
        found.extend(
            (path, str(path.relative_to(root)))
            for path in (Path(dirpath, n) for n in sorted(filenames) if n not in _SKIP)
        )
    found.extend((path, f"code/{path.name}") for path in sorted(code))
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", type=Path, required=True)
    parser.add_argument("--out-dir", type=Path, required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--code", type=Path, action="append", default=[])
    args = parser.parse_args()
    files = _files(args.model_dir, args.code)
    if not any(name == "config.json" for _, name in files):
        parser.error(f"{args.model_dir} has no config.json: not a transformers model directory")
    sha = hashlib.sha256()
    for path, name in files:
        sha.update(name.encode() + b"\0")
        with path.open("rb") as handle:
            for block in iter(lambda h=handle: h.read(1 << 20), b""):
                sha.update(block)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    target = args.out_dir / f"{args.name}-{sha.hexdigest()[:16]}.tar.gz"
    changed = not target.exists()
    if changed:
        tmp = target.with_suffix(".tmp")
        with tmp.open("wb") as raw:
            with gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, compresslevel=6) as zipped:
                with tarfile.open(fileobj=zipped, mode="w", format=tarfile.PAX_FORMAT) as tar:
                    for path, name in files:
                        info = tar.gettarinfo(str(path), arcname=name)
                        info.uid = info.gid = 0
                        info.uname = info.gname = ""
                        info.mtime = 0
                        info.mode = 0o644
                        with path.open("rb") as handle:
                            tar.addfile(info, handle)
        tmp.replace(target)
    result = {
        "path": str(target.resolve()),
        "name": target.name,
        "bytes": target.stat().st_size,
        "changed": changed,
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
