"""Roles take artifacts by reference (a release's digests, S3 keys, hashes), never a checkout path.

An installed collection has no services/, scripts/ or .cache/ next to its playbooks, so a
role that reaches for `playbook_dir | dirname` works only from a checkout. The playbooks may
name the checkout once, at their edge (`ragstack_source_dir`, for a build), and pass it to the
one role that builds; no role defaults to it or reads it on its own.
"""

from __future__ import annotations

import re
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
CHECKOUT_PATH = re.compile(r"\bplaybook_dir\b|\binventory_dir\b")
SUFFIXES = {".yml", ".yaml", ".j2", ".py"}


def checkout_references(root: Path) -> list[str]:
    found = []
    for path in sorted(root.rglob("*")):
        if path.suffix not in SUFFIXES or not path.is_file():
            continue
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            code = line.split("#", 1)[0] if path.suffix != ".j2" else line
            if CHECKOUT_PATH.search(code):
                found.append(f"{path.relative_to(REPO_ROOT)}:{number}: {line.strip()}")
    return found


def test_no_role_reads_the_checkout() -> None:
    assert checkout_references(REPO_ROOT / "roles") == []


def test_the_scanner_sees_a_checkout_path(tmp_path: Path) -> None:
    """Positive control: the same scan finds one where there is one (playbooks name it once)."""
    assert any("ragstack_source_dir" in hit for hit in checkout_references(REPO_ROOT / "playbooks"))


def test_only_the_build_receives_the_checkout() -> None:
    """The checkout reaches roles only as release_source_dir (the release role builds)."""
    users = sorted(
        str(path.relative_to(REPO_ROOT))
        for path in (REPO_ROOT / "playbooks").rglob("*.yml")
        if "ragstack_source_dir" in path.read_text()
    )
    for name in users:
        text = (REPO_ROOT / name).read_text()
        uses = re.findall(r"^\s*(\w+):\s*\"\{\{\s*ragstack_source_dir\s*\}\}\"", text, re.M)
        assert set(uses) <= {"release_source_dir", "ragstack_source_dir"}, (name, uses)
