#!/usr/bin/env python3
"""Run every molecule scenario: test sequence, then a check-mode pass, then destroy.

For each ``molecule/<name>/molecule.yml`` (or only ``--scenario NAME``):

0. ``molecule destroy -s NAME`` (leftovers of an interrupted run).
1. ``molecule test -s NAME --destroy never``: the scenario's test_sequence, which
   includes converge, idempotence and verify.
2. ``molecule converge -s NAME -- --check --diff`` on the converged instances; the
   scenario fails when any PLAY RECAP line of that run reports changed or failed
   tasks (a converged host must not drift in check mode).
3. ``molecule destroy -s NAME``, always, also after a failure or an interrupt.

Prints the wall time of each scenario and exits non-zero when any scenario failed.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MOLECULE_DIR = ROOT / "molecule"
COLLECTION_LINK = ROOT / ".collections" / "ansible_collections" / "ragstack" / "aws"
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
RECAP = re.compile(
    r"^\s*(?P<host>\S+)\s*:\s*ok=(?P<ok>\d+)\s+changed=(?P<changed>\d+)\s+"
    r"unreachable=(?P<unreachable>\d+)\s+failed=(?P<failed>\d+)"
)


@dataclass
class Result:
    name: str
    seconds: float = 0.0
    failures: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures


def discover() -> list[str]:
    return sorted(p.parent.name for p in MOLECULE_DIR.glob("*/molecule.yml"))


def molecule_env() -> dict[str, str]:
    env = dict(os.environ)
    # molecule shells out to ansible-playbook, ansible-config and pytest by name.
    venv_bin = str(Path(sys.executable).parent)
    env["PATH"] = os.pathsep.join([venv_bin, env.get("PATH", "")])
    env.setdefault("ANSIBLE_CONFIG", str(ROOT / "ansible.cfg"))
    env["ANSIBLE_FORCE_COLOR"] = "0"
    env["PY_COLORS"] = "0"
    env["NO_COLOR"] = "1"
    return env


def run(args: list[str]) -> tuple[int, str]:
    """Run molecule, streaming its output, and return (rc, plain-text output)."""
    cmd = [sys.executable, "-m", "molecule", *args]
    print(f"\n$ {' '.join(cmd[2:])}", flush=True)
    lines: list[str] = []
    with subprocess.Popen(  # noqa: S603 - fixed argv: this interpreter + molecule
        cmd,
        cwd=ROOT,
        env=molecule_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
    ) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            sys.stdout.write(line)
            lines.append(ANSI.sub("", line))
        rc = proc.wait()
    sys.stdout.flush()
    return rc, "".join(lines)


def check_mode_drift(output: str) -> list[str]:
    """Problems found in the PLAY RECAP of a ``--check --diff`` converge."""
    recaps = [m.groupdict() for line in output.splitlines() if (m := RECAP.match(line))]
    if not recaps:
        return ["check-mode converge printed no PLAY RECAP"]
    return [
        f"check mode on converged host {r['host']}: changed={r['changed']} "
        f"failed={r['failed']} unreachable={r['unreachable']}"
        for r in recaps
        if int(r["changed"]) or int(r["failed"]) or int(r["unreachable"])
    ]


def run_scenario(name: str) -> Result:
    result = Result(name)
    start = time.monotonic()
    try:
        # `--destroy never` also skips the sequence's leading destroy: clear
        # leftovers of an interrupted earlier run ourselves.
        run(["destroy", "-s", name, "--no-command-borders"])
        rc, _ = run(["test", "-s", name, "--destroy", "never", "--no-command-borders"])
        if rc:
            result.failures.append(f"molecule test exited {rc}")
            return result
        rc, output = run(
            ["converge", "-s", name, "--no-command-borders", "--", "--check", "--diff"]
        )
        if rc:
            result.failures.append(f"check-mode converge exited {rc}")
        result.failures.extend(check_mode_drift(output))
        return result
    finally:
        rc, _ = run(["destroy", "-s", name, "--no-command-borders"])
        if rc:
            result.failures.append(f"molecule destroy exited {rc}")
        result.seconds = time.monotonic() - start


def preflight() -> list[str]:
    problems = []
    if not COLLECTION_LINK.exists():
        problems.append(f"{COLLECTION_LINK.relative_to(ROOT)} missing: run `make setup`")
    return problems


def _terminate(signum: int, _frame: object) -> None:
    # Turn SIGTERM (CI timeout) into an exception so `finally` destroys instances.
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--scenario",
        action="append",
        metavar="NAME",
        help="run only this scenario (repeatable); default: every molecule/*/molecule.yml",
    )
    args = parser.parse_args(argv)

    available = discover()
    names = args.scenario or available
    unknown = sorted(set(names) - set(available))
    if unknown:
        parser.error(f"unknown scenario(s) {', '.join(unknown)}; have: {', '.join(available)}")
    problems = preflight()
    if problems:
        print("\n".join(problems), file=sys.stderr)
        return 2
    if not names:
        print("no molecule scenarios found", file=sys.stderr)
        return 1

    signal.signal(signal.SIGTERM, _terminate)
    results = []
    try:
        for name in names:
            results.append(run_scenario(name))
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130

    print("\nmolecule scenarios:")
    for r in results:
        status = "ok" if r.ok else "FAILED"
        print(f"  {r.name:<20} {status:<7} {r.seconds:7.1f}s")
        for failure in r.failures:
            print(f"      - {failure}")
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
