#!/usr/bin/env python3
"""Build a Lambda deployment zip, reproducibly, and report its sizes as JSON.

    build_lambda_zip.py python --source services/embedding_service --out-dir .cache/lambda ...
    build_lambda_zip.py node --source services/orchestrator --out-dir .cache/lambda

The zip's name carries a hash of every input (sources, requirements, platform,
runtime), so an unchanged service is not rebuilt, and entries have fixed
timestamps and modes, so an unchanged zip has the same CodeSha256 and Lambda
reports no change. Only local work happens here: no AWS call. The last KEEP zips of
a name stay (a revert rebuilds nothing); older ones are removed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

_EPOCH = (1980, 1, 1, 0, 0, 0)
_SKIP_DIRS = {"__pycache__", "tests", "test", ".pytest_cache", "node_modules"}
KEEP = 3


def _files(root: Path) -> list[Path]:
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS)
        found.extend(Path(dirpath, name) for name in sorted(filenames) if not name.endswith(".pyc"))
    return found


def _digest(root: Path, paths: list[Path], extra: list[str]) -> str:
    sha = hashlib.sha256("\0".join(extra).encode())
    for path in sorted(paths):
        sha.update(str(path.relative_to(root)).encode())
        sha.update(path.read_bytes())
    return sha.hexdigest()[:16]


def _write_zip(staging: Path, target: Path) -> int:
    """Deterministic zip of staging; returns the unzipped size in bytes."""
    unzipped = 0
    tmp = target.with_suffix(".tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for dirpath, dirnames, filenames in os.walk(staging):
            dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
            for name in sorted(filenames):
                path = Path(dirpath, name)
                info = zipfile.ZipInfo(str(path.relative_to(staging)), _EPOCH)
                info.external_attr = (0o100755 if os.access(path, os.X_OK) else 0o100644) << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                data = path.read_bytes()
                unzipped += len(data)
                archive.writestr(info, data)
    tmp.replace(target)
    return unzipped


def _unzipped_size(target: Path) -> int:
    with zipfile.ZipFile(target) as archive:
        return sum(info.file_size for info in archive.infolist())


def _python(args: argparse.Namespace, staging: Path) -> None:
    requirements = staging / "requirements-lambda.txt"
    excluded = {name.lower() for name in args.exclude}
    kept = [
        line
        for line in (args.source / "requirements.txt").read_text().splitlines()
        if line.strip()
        and not line.startswith("#")
        and line.split("[")[0].split(">")[0].split("=")[0].split("<")[0].strip().lower()
        not in excluded
    ]
    requirements.write_text("\n".join(kept) + "\n")
    subprocess.run(  # noqa: S603 - fixed argv, inputs are paths and versions
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-compile",
            "--target",
            str(staging),
            "--platform",
            args.platform,
            "--implementation",
            "cp",
            "--python-version",
            args.python_version,
            "--only-binary=:all:",
            "-r",
            str(requirements),
        ],
        check=True,
        stdout=sys.stderr,
    )
    requirements.unlink()
    shutil.copytree(
        args.source / "embedding_service",
        staging / "embedding_service",
        ignore=shutil.ignore_patterns(*_SKIP_DIRS, "*.pyc"),
    )
    shutil.copy2(args.source / "lambda_handler.py", staging / "lambda_handler.py")


def _node(args: argparse.Namespace, staging: Path) -> None:
    for name in ("package.json", "package-lock.json", "lambda_handler.js"):
        shutil.copy2(args.source / name, staging / name)
    shutil.copytree(args.source / "src", staging / "src")
    npm_ci = ["npm", "ci", "--omit=dev", "--ignore-scripts", "--no-audit", "--no-fund"]
    subprocess.run(  # noqa: S603
        [*npm_ci, "--loglevel=error"],
        cwd=staging,
        check=True,
        stdout=sys.stderr,
    )
    for lock in ("package-lock.json", "node_modules/.package-lock.json"):
        (staging / lock).unlink(missing_ok=True)


def _prune(target: Path) -> list[str]:
    """Remove all but the KEEP most recently used zips named like target; return their names."""
    name = target.name.rsplit("-", 1)[0]
    builds = sorted(
        target.parent.glob(f"{name}-" + "?" * 16 + ".zip"),
        key=lambda p: p.stat().st_mtime,
        reverse=True,
    )
    stale = [p for p in builds[KEEP:] if p != target]
    for path in stale:
        path.unlink()
    return [p.name for p in stale]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=["python", "node"])
    parser.add_argument("--source", type=Path, required=True)
    parser.add_argument("--out-dir", type=Path, required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--platform", default="manylinux2014_x86_64")
    parser.add_argument("--python-version", default="3.12")
    parser.add_argument("--exclude", action="append", default=[])
    args = parser.parse_args()

    if args.kind == "python":
        inputs = [
            *_files(args.source / "embedding_service"),
            args.source / "requirements.txt",
            args.source / "lambda_handler.py",
        ]
        extra = [args.kind, args.platform, args.python_version, *sorted(args.exclude)]
    else:
        inputs = [
            *_files(args.source / "src"),
            args.source / "package.json",
            args.source / "package-lock.json",
            args.source / "lambda_handler.js",
        ]
        extra = [args.kind]
    args.out_dir.mkdir(parents=True, exist_ok=True)
    target = args.out_dir / f"{args.name}-{_digest(args.source, inputs, extra)}.zip"
    changed = not target.exists()
    if changed:
        with tempfile.TemporaryDirectory(dir=args.out_dir) as tmp:
            staging = Path(tmp)
            (_python if args.kind == "python" else _node)(args, staging)
            unzipped = _write_zip(staging, target)
    else:
        unzipped = _unzipped_size(target)
        target.touch()  # used now: the most recent one for _prune
    pruned = _prune(target)
    print(
        json.dumps(
            {
                "path": str(target.resolve()),
                "zipped_bytes": target.stat().st_size,
                "unzipped_bytes": unzipped,
                "changed": changed,
                "pruned": pruned,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
