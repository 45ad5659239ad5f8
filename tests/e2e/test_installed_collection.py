"""The built tarball deploys a release on its own, outside the checkout.

`ansible-galaxy collection build` → install into an empty collections path → run
`ansible-playbook ragstack.aws.site -e arch=ec2 -e ragstack_release=<id>` from an empty
directory whose ansible.cfg knows only that path. The roles then have nothing of the
checkout (no services/, no scripts/): everything the hosts get comes from the release.
Shares the session's deployment, so the installed collection redeploys the release the
checkout built, and must find nothing to change.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO_ROOT, VENV_BIN, Deployment, Run, moto_requests

GALAXY = str(Path(sys.executable).with_name("ansible-galaxy"))
PLAYBOOK = str(Path(sys.executable).with_name("ansible-playbook"))
POINTER = "/ragstack/dev/release/current"


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """An empty working directory with the collection installed from its tarball."""
    root = tmp_path_factory.mktemp("installed")
    dist, collections = root / "dist", root / "collections"
    subprocess.run(
        [GALAXY, "collection", "build", "--output-path", str(dist), str(REPO_ROOT)],
        check=True,
        capture_output=True,
    )
    (tarball,) = dist.glob("ragstack-aws-*.tar.gz")
    # --no-deps: amazon.aws, community.* come with the ansible package, as for most users.
    # From the empty directory, with no ansible.cfg: the checkout's would show the linked
    # ragstack.aws as installed already.
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    subprocess.run(
        [GALAXY, "collection", "install", "--no-deps", "-p", str(collections), str(tarball)],
        check=True,
        capture_output=True,
        cwd=root,
        env=env,
    )
    work = root / "work"
    work.mkdir()
    (work / "ansible.cfg").write_text(
        "[defaults]\n"
        f"collections_path = {collections}\n"
        f"inventory = {REPO_ROOT / 'inventories' / 'local'}\n"
        "interpreter_python = auto_silent\n"
        "callbacks_enabled = ansible.posix.profile_tasks\n"
        "stdout_callback = ansible.builtin.default\n"
        "callback_result_format = yaml\n"
        "[ssh_connection]\npipelining = true\n"
        "[inventory]\nenable_plugins = host_list, script, auto, yaml, ini, amazon.aws.aws_ec2\n"
    )
    return work


def _run(work: Path, *args: str) -> Run:
    import time

    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "ANSIBLE_"))}
    env.update({"ANSIBLE_CONFIG": str(work / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"})
    env["PATH"] = f"{VENV_BIN}:{env.get('PATH', '')}"
    started = time.monotonic()
    result = subprocess.run(
        [PLAYBOOK, "ragstack.aws.site", "-e", "arch=ec2", *args],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    return Run(result.returncode, result.stdout + result.stderr, time.monotonic() - started)


def test_installed_collection_has_no_checkout(installed: Path) -> None:
    root = installed.parent / "collections" / "ansible_collections" / "ragstack" / "aws"
    assert (root / "roles" / "release").is_dir()
    assert (root / "playbooks" / "site.yml").is_file()
    assert not (root / "services").exists()
    assert not (root / "scripts").exists()


def test_installed_collection_redeploys_the_release(
    deployment: Deployment, aws, installed: Path
) -> None:
    release_id = aws("ssm").get_parameter(Name=POINTER)["Parameter"]["Value"]
    run = _run(installed, "-e", f"ragstack_release={release_id}", "-vv")
    assert run.returncode == 0, run.output[-5000:]
    installed_roles = str(installed.parent / "collections" / "ansible_collections")
    # -vv prints each task's file: every one comes from the installed collection.
    task_paths = [
        line.split("task path:", 1)[1].strip()
        for line in run.output.splitlines()
        if "task path:" in line
    ]
    assert task_paths
    assert [p for p in task_paths if not p.startswith(installed_roles)] == []
    assert f"Release: {release_id}" in run.output
    recap = run.recap()
    print(f"\ninstalled collection, release {release_id}: {run.seconds:.0f}s, recap {recap}")
    hosts = {h: r for h, r in recap.items() if h in deployment.instance_ids}
    assert set(hosts) == set(deployment.instance_ids)
    assert all(r["changed"] == 0 and r["failed"] == 0 for r in recap.values()), recap


def test_installed_collection_without_a_release_asks_for_one(
    deployment: Deployment, installed: Path
) -> None:
    before = moto_requests()
    run = _run(installed)
    assert run.returncode != 0
    flat = " ".join(run.output.split())
    assert "has no services/ to build a release from" in flat, run.output[-3000:]
    assert "-e ragstack_release=r-3f9a2c1d7e4b" in flat
    assert moto_requests() == before, "the run talked to AWS before refusing"
