"""`ansible-test sanity` on what the collection ships as code: plugins/ and meta/ (`make sanity`).

    python tests/collection/ansible_test_sanity.py [extra ansible-test sanity arguments]

ansible-test wants the collection at .../ansible_collections/ragstack/aws, not under a git
work tree that ignores it (it lists files with git) and not through the .collections
symlink (it resolves the working directory). So this copies the collection's own files
(git's view of plugins/, meta/, galaxy.yml and tests/sanity/, untracked ones included) into
a temporary ansible_collections tree, links the collections they import (amazon.aws, as
installed in this venv) beside it, and runs `ansible-test sanity --local` there.

Python versions: the tests of controller code (pylint, validate-modules, ansible-doc, ...)
run on this interpreter; compile and import run on every Python that ansible-core supports
and that this machine has (pyenv's, where PATH has none), and the controller versions
(3.11-3.13 for ansible-core 2.19) are required.

No docker, and the network only for PyPI: ansible-test installs each test's pinned
requirements into virtual environments of its own (kept under build/sanity-home, so later
runs reuse them). It bootstraps pip in them with a get-pip script it would download from
outside PyPI; the script written here instead installs the same pip release from PyPI over
the interpreter's bundled one (ensurepip).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import ansible_collections  # the namespace package of the ansible bundle's collections
import ansible_test
import yaml

try:
    from ansible_test._internal import constants as ansible_test_constants
except ImportError:  # its layout is ansible-test's own business
    ansible_test_constants = None

REPO = Path(__file__).resolve().parents[2]
NAMESPACE, NAME = "ragstack", "aws"
# What ansible-test checks: the code the collection ships, its runtime metadata, and the
# collection's sanity ignore file. The roles and playbooks have ansible-lint (`make lint`).
SHIPPED = ["plugins", "meta", "galaxy.yml", "tests/sanity"]
SANITY_HOME = REPO / "build" / "sanity-home"
ANSIBLE_TEST_ROOT = Path(ansible_test.__file__).parent
# ansible-core 2.19; read from ansible-test itself below when it can tell.
CONTROLLER_PYTHONS = ("3.11", "3.12", "3.13")
ALL_PYTHONS = ("3.8", "3.9", "3.10", *CONTROLLER_PYTHONS)

GET_PIP = '''\
"""Stands in for ansible-test's get-pip download: the same pip release, from PyPI.

Written by tests/collection/ansible_test_sanity.py. Called with pip install's arguments.
"""
import subprocess
import sys

arguments = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
subprocess.check_call([sys.executable, "-m", "ensurepip", "--default-pip"])
subprocess.check_call([sys.executable, "-m", "pip", "install", *arguments])
'''


def python_versions() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(controller versions, all versions) as this ansible-test knows them."""
    controller = getattr(ansible_test_constants, "CONTROLLER_PYTHON_VERSIONS", None)
    supported = getattr(ansible_test_constants, "SUPPORTED_PYTHON_VERSIONS", None)
    if controller and supported:
        return tuple(controller), tuple(supported)
    return CONTROLLER_PYTHONS, ALL_PYTHONS


def find_python(version: str) -> str | None:
    """A working pythonX.Y: PATH's, else the newest pyenv build (pyenv's shims run only the
    versions made global, so each candidate is asked for its version)."""
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    builds = sorted(
        pyenv.glob(f"{version}.*/bin/python{version}"),
        key=lambda p: [int(n) for n in re.findall(r"\d+", p.parts[-3])],
        reverse=True,
    )
    for candidate in [shutil.which(f"python{version}"), *map(str, builds)]:
        if not candidate:
            continue
        answer = subprocess.run(
            [candidate, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            check=False,
        )
        if answer.returncode == 0 and answer.stdout.strip() == version:
            return candidate
    return None


def shipped_files() -> list[str]:
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", *SHIPPED],
        cwd=REPO,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split("\0")
    return sorted(p for p in listed if p and (REPO / p).is_file())


def dependencies() -> dict[str, Path]:
    """Each galaxy.yml dependency installed beside this interpreter's ansible: name -> dir."""
    wanted = yaml.safe_load((REPO / "galaxy.yml").read_text()).get("dependencies") or {}
    found = {}
    for name in wanted:
        namespace, collection = name.split(".")
        for root in ansible_collections.__path__:
            path = Path(root) / namespace / collection
            if (path / "MANIFEST.json").is_file() or (path / "galaxy.yml").is_file():
                found[name] = path
                break
    return found


def pip_version() -> str:
    source = (ANSIBLE_TEST_ROOT / "_internal" / "python_requirements.py").read_text()
    match = re.search(r"pip='([\d.]+)'", source)
    return match.group(1) if match else "24.2"


def main(argv: list[str]) -> int:
    controller, supported = python_versions()
    interpreters = {v: find_python(v) for v in supported}
    missing = [v for v in controller if not interpreters[v]]
    if missing:
        print(f"sanity: no Python {', '.join(missing)} (ansible-core's controller versions)")
        return 2

    SANITY_HOME.mkdir(parents=True, exist_ok=True)
    cache = SANITY_HOME / ".ansible" / "test" / "cache"
    cache.mkdir(parents=True, exist_ok=True)
    get_pip = cache / f"get_pip_{pip_version().replace('.', '_')}.py"
    if not get_pip.is_file() or get_pip.read_text() != GET_PIP:
        get_pip.write_text(GET_PIP)
    # Only the interpreters, not their pip or python3, go on PATH.
    pythons = SANITY_HOME / "bin"
    shutil.rmtree(pythons, ignore_errors=True)
    pythons.mkdir()
    for version, path in interpreters.items():
        if path:
            (pythons / f"python{version}").symlink_to(path)

    with tempfile.TemporaryDirectory(prefix="ragstack-sanity-") as tmp:
        root = Path(tmp) / "ansible_collections"
        collection = root / NAMESPACE / NAME
        for relative in shipped_files():
            target = collection / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / relative, target)
        for name, path in dependencies().items():
            namespace, dependency = name.split(".")
            (root / namespace).mkdir(parents=True, exist_ok=True)
            (root / namespace / dependency).symlink_to(path)

        env = {
            key: value
            for key, value in os.environ.items()
            if key not in ("ANSIBLE_CONFIG", "ANSIBLE_COLLECTIONS_PATH", "PYTHONPATH")
        }
        env["HOME"] = str(SANITY_HOME)
        env["PATH"] = os.pathsep.join(
            [str(Path(sys.executable).parent), str(pythons), env.get("PATH", "")]
        )
        command = [
            str(Path(sys.executable).with_name("ansible-test")),
            "sanity",
            "--local",
            "--color",
            "no",
            *argv,
        ]
        found = ", ".join(v for v, p in interpreters.items() if p)
        print(f"sanity: {' '.join(command[1:])} on ragstack.aws (Pythons found: {found})")
        started = time.monotonic()
        result = subprocess.run(command, cwd=collection, env=env, check=False)
        print(f"sanity: exit {result.returncode} after {time.monotonic() - started:.0f}s")
        return result.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
