"""gpg for the tests that read a shipped signing key or sign a test package with a throwaway
key: a fresh home (0700) per test, never the user's keyring. tests/conftest.py registers the
`gnupg` fixture; new_key makes a throwaway key pair in its home."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

Gnupg = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def gnupg(tmp_path: Path) -> Iterator[Gnupg]:
    """gpg with a throwaway home (0700), never the user's keyring: gnupg(*args) runs
    `gpg --batch --homedir <home> *args` (checked, text output); the agent is stopped after."""
    gpg = shutil.which("gpg")
    assert gpg, "gpg is needed (Debian package gpg)"
    home = tmp_path / "gnupg"
    home.mkdir(mode=0o700)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [gpg, "--batch", "--homedir", str(home), *args],
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        )

    yield run
    subprocess.run(
        ["gpgconf", "--homedir", str(home), "--kill", "all"], check=False, capture_output=True
    )


def colon_records(output: str, kind: str) -> list[list[str]]:
    """The fields of each `kind:` record of gpg's --with-colons output."""
    return [line.split(":") for line in output.splitlines() if line.startswith(kind + ":")]


@dataclass(frozen=True)
class Key:
    uid: str
    fingerprint: str  # the primary key's, 40 hex digits
    armored: str  # the public key, as `gpg --armor --export` writes it


def new_key(gnupg: Gnupg, name: str, *spec: str, faked_time: str | None = None) -> Key:
    """A throwaway key pair without passphrase, uid "ragstack test <name> <<name>@ragstack.test>".

    spec is what --quick-gen-key takes after the uid: algo [usage [expire]]; faked_time
    (gpg's --faked-system-time, e.g. "20200101T000000") makes it in the past.
    """
    uid = f"ragstack test {name} <{name}@ragstack.test>"
    when = ["--faked-system-time", faked_time] if faked_time else []
    gnupg(*when, "--pinentry-mode", "loopback", "--passphrase", "", "--quick-gen-key", uid, *spec)
    listed = gnupg("--with-colons", "--fingerprint", uid).stdout
    fingerprint = colon_records(listed, "fpr")[0][9]
    return Key(uid, fingerprint, gnupg("--armor", "--export", fingerprint).stdout)
