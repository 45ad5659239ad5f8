"""roles/lambda_app/files/build_lambda_zip.py on a tiny Node service: content-addressed,
reproducible zips, a revert rebuilds nothing, and only the last KEEP builds stay."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = REPO_ROOT / "roles/lambda_app/files/build_lambda_zip.py"
KEEP = 3


@pytest.fixture
def service(tmp_path: Path) -> Path:
    source = tmp_path / "probe"
    (source / "src").mkdir(parents=True)
    (source / "package.json").write_text(json.dumps({"name": "probe", "version": "1.0.0"}))
    lock = {"name": "probe", "version": "1.0.0", "lockfileVersion": 3, "requires": True}
    lock["packages"] = {"": {"name": "probe", "version": "1.0.0"}}
    (source / "package-lock.json").write_text(json.dumps(lock))
    (source / "lambda_handler.js").write_text("exports.handler = require('./src/app');\n")
    return source


def _build(source: Path, out: Path, version: int) -> dict:
    (source / "src" / "app.js").write_text(f"module.exports = async () => ({version});\n")
    argv = [sys.executable, str(SCRIPT), "node", "--source", str(source), "--out-dir", str(out)]
    proc = subprocess.run(
        [*argv, "--name", "probe"], capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_content_addressed_reproducible_and_pruned(service: Path, tmp_path: Path):
    out = tmp_path / "out"
    first = _build(service, out, 1)
    assert first["changed"] is True
    digest = hashlib.sha256(Path(first["path"]).read_bytes()).hexdigest()
    Path(first["path"]).unlink()
    rebuilt = _build(service, out, 1)
    assert rebuilt["path"] == first["path"]
    assert hashlib.sha256(Path(rebuilt["path"]).read_bytes()).hexdigest() == digest

    builds = [rebuilt] + [_build(service, out, v) for v in range(2, 6)]
    assert all(b["changed"] for b in builds)
    kept = sorted(p.name for p in out.glob("probe-*.zip"))
    assert kept == sorted(Path(b["path"]).name for b in builds[-KEEP:])
    assert builds[-1]["pruned"] == [Path(builds[-1 - KEEP]["path"]).name]

    # A revert to a kept build rebuilds nothing and makes it the most recent.
    revert = _build(service, out, 3)
    assert (revert["changed"], revert["pruned"]) == (False, [])
    assert _build(service, out, 6)["pruned"] == [Path(builds[3]["path"]).name]
    assert Path(revert["path"]).exists()
