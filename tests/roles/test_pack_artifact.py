"""roles/release/files/pack_artifact.py: the same inputs give the same bytes, whatever the
files' times, so a release's id (a hash of its artifacts) only moves when content moves."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "roles" / "release" / "files" / "pack_artifact.py"


def pack(out: Path, source: Path, *extra: str) -> dict:
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--out-dir", str(out), "--name", "bundle",
         f"--add=ui={source / 'ui'}", f"--add=bin/tool.py={source / 'tool.py'}", *extra],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    report = json.loads(result.stdout)
    report["rc"] = result.returncode
    return report


def make_source(root: Path) -> Path:
    (root / "ui" / "assets").mkdir(parents=True)
    (root / "ui" / "index.html").write_text("<html></html>\n")
    (root / "ui" / "config.json").write_text("{}\n")
    (root / "ui" / "assets" / "app.js").write_text("console.log(1)\n")
    (root / "tool.py").write_text("print('x')\n")
    (root / "tool.py").chmod(0o755)
    return root


def test_same_content_same_bytes_whatever_the_times(tmp_path: Path) -> None:
    source = make_source(tmp_path / "src")
    first = pack(tmp_path / "out1", source)
    for path in source.rglob("*"):
        os.utime(path, (1_000_000_000, 1_000_000_000))
    second = pack(tmp_path / "out2", source)
    assert first["rc"] == second["rc"] == 0
    assert first["sha256"] == second["sha256"]
    assert Path(first["path"]).read_bytes() == Path(second["path"]).read_bytes()
    assert first["changed"] is True
    # Packed again into the same directory: the file is there already.
    assert pack(tmp_path / "out1", source)["changed"] is False


def test_a_changed_byte_is_a_new_artifact(tmp_path: Path) -> None:
    """Positive control for the test above: the hash does see content."""
    source = make_source(tmp_path / "src")
    before = pack(tmp_path / "out", source)
    (source / "ui" / "assets" / "app.js").write_text("console.log(2)\n")
    assert pack(tmp_path / "out", source)["sha256"] != before["sha256"]


def test_entries_are_normalised_and_excludes_apply(tmp_path: Path) -> None:
    source = make_source(tmp_path / "src")
    report = pack(tmp_path / "out", source, "--exclude=ui/config.json")
    with tarfile.open(report["path"]) as tar:
        members = {m.name: m for m in tar.getmembers()}
    assert sorted(n for n, m in members.items() if m.isfile()) == [
        "bin/tool.py",
        "ui/assets/app.js",
        "ui/index.html",
    ]
    assert all(m.mtime == 0 and m.uid == 0 and m.gid == 0 for m in members.values())
    assert members["bin/tool.py"].mode == 0o755
    assert members["ui/index.html"].mode == 0o644


def test_a_missing_source_is_refused(tmp_path: Path) -> None:
    source = make_source(tmp_path / "src")
    (source / "tool.py").unlink()
    report = pack(tmp_path / "out", source)
    assert report["rc"] == 1
    assert report["failed"] is True
    assert "tool.py does not exist" in report["msg"]
