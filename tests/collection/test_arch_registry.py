"""One registry of architectures (playbooks/vars/arches.yml): every arch in it has its
playbook, every arch playbook is in it, and nothing else lists the arches."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
REGISTRY = yaml.safe_load((REPO_ROOT / "playbooks" / "vars" / "arches.yml").read_text())


def test_registry_and_arch_playbooks_agree() -> None:
    playbooks = {p.stem.removeprefix("arch_") for p in (REPO_ROOT / "playbooks").glob("arch_*.yml")}
    assert set(REGISTRY["ragstack_arches"]) == playbooks
    assert all(isinstance(v["teardown"], bool) for v in REGISTRY["ragstack_arches"].values())


def _listings(root: Path) -> list[str]:
    """Lines that spell out three or more arch names together: a second list of arches."""
    names = "|".join(REGISTRY["ragstack_arches"])
    listing = re.compile(rf"\[\s*'?({names})'?\s*(,\s*'?({names})'?\s*){{2,}}\]")
    hits = []
    for path in sorted(root.rglob("*.yml")):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if listing.search(line.split("#", 1)[0]):
                hits.append(f"{path}:{number}")
    return hits


def test_no_second_list_of_arches() -> None:
    assert _listings(REPO_ROOT / "roles") + _listings(REPO_ROOT / "playbooks") == []


def test_the_listing_scan_sees_a_list(tmp_path: Path) -> None:
    """Positive control: the scan finds a hand-written list of arches."""
    (tmp_path / "x.yml").write_text("arches: [fargate, lambda, sagemaker]\n")
    assert _listings(tmp_path)


# One registry of images too: roles/ecr_images/vars/catalogue.yml.
CATALOGUE = REPO_ROOT / "roles" / "ecr_images" / "vars" / "catalogue.yml"
IMAGE_ENTRY = re.compile(r"(repository|source):\s*ragstack/[a-z-]+")


def _image_entries(roots: list[Path]) -> list[str]:
    hits = []
    for root in roots:
        for path in sorted(root.rglob("*.yml")):
            if path == CATALOGUE:
                continue
            for number, line in enumerate(path.read_text().splitlines(), 1):
                if IMAGE_ENTRY.search(line.split("#", 1)[0]):
                    hits.append(f"{path}:{number}")
    return hits


def test_images_are_named_only_in_the_catalogue() -> None:
    catalogue = yaml.safe_load(CATALOGUE.read_text())["ecr_images_catalogue"]
    assert {"embedding-service", "orchestrator", "embedding-service-lambda"} <= set(catalogue)
    roots = [REPO_ROOT / d for d in ("roles", "playbooks", "inventories")]
    assert _image_entries(roots) == []


def test_the_image_scan_sees_an_entry(tmp_path: Path) -> None:
    """Positive control: the scan finds an image spelled out outside the catalogue."""
    (tmp_path / "x.yml").write_text("images:\n  - repository: ragstack/orchestrator\n")
    assert _image_entries([tmp_path])
