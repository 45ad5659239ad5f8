"""The collection tarball is what Galaxy users get: roles, playbooks, plugins,
the CloudFormation the playbooks deploy, and nothing of the services' build trees."""

import json
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
# The ansible-galaxy of the interpreter running pytest, not whatever PATH finds.
GALAXY = str(Path(sys.executable).with_name("ansible-galaxy"))
# What a user of the collection needs; anything else at the top level is a leak.
ALLOWED_TOP = {
    "roles",
    "playbooks",
    "plugins",
    "cloudformation",
    "meta",
    "README.md",
    "CHANGELOG.md",
    "requirements.yml",
    "MANIFEST.json",
    "FILES.json",
}
FORBIDDEN_PARTS = {"node_modules", ".venv", "__pycache__", "dist", "services", "molecule", ".git"}


@pytest.fixture(scope="module")
def tarball(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [GALAXY, "collection", "build", "--output-path", str(out), str(REPO)],
        check=True,
        capture_output=True,
        text=True,
    )
    built = list(out.glob("ragstack-aws-*.tar.gz"))
    assert len(built) == 1, built
    return built[0]


@pytest.fixture(scope="module")
def members(tarball):
    with tarfile.open(tarball) as tar:
        return [m.name for m in tar.getmembers()]


def test_version_matches_galaxy_yml(tarball):
    version = yaml.safe_load((REPO / "galaxy.yml").read_text())["version"]
    assert tarball.name == f"ragstack-aws-{version}.tar.gz"


def test_only_collection_content_at_top_level(members):
    top = {name.split("/", 1)[0] for name in members}
    assert top <= ALLOWED_TOP, f"unexpected top-level entries: {sorted(top - ALLOWED_TOP)}"
    assert {"roles", "meta", "MANIFEST.json"} <= top


def test_no_build_trees_or_caches(members):
    leaked = [n for n in members if FORBIDDEN_PARTS & set(Path(n).parts)]
    assert leaked == []


def test_manifest_declares_dependencies(tarball):
    with tarfile.open(tarball) as tar:
        manifest = json.load(tar.extractfile("MANIFEST.json"))
    info = manifest["collection_info"]
    assert (info["namespace"], info["name"]) == ("ragstack", "aws")
    assert {"amazon.aws", "community.aws", "community.docker", "community.crypto"} <= set(
        info["dependencies"]
    )


def test_every_role_in_repo_ships(members):
    roles = sorted(p.name for p in (REPO / "roles").iterdir() if (p / "tasks").is_dir())
    shipped = {n.split("/")[1] for n in members if n.startswith("roles/") and n.count("/") >= 2}
    assert set(roles) <= shipped


def test_installs_and_is_listed(tarball, tmp_path):
    subprocess.run(
        [
            GALAXY,
            "collection",
            "install",
            "--no-deps",
            "--force",
            "-p",
            str(tmp_path),
            str(tarball),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    installed = tmp_path / "ansible_collections" / "ragstack" / "aws"
    assert (installed / "meta" / "runtime.yml").is_file()
    runtime = yaml.safe_load((installed / "meta" / "runtime.yml").read_text())
    assert runtime["requires_ansible"] == ">=2.19.0"
