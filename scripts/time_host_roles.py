"""Time the five host roles together on one fresh Debian 13 systemd container.

Converge, then a no-op re-run that must change nothing: the numbers for the host
roles' issue note, rerunnable by anyone with `make images` done:

    .venv/bin/python scripts/time_host_roles.py

The container gets the same flags as the molecule scenarios (molecule/README.md)
and is removed at the end, also on failure.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
IMAGE = "ragstack-local/debian13-systemd:latest"
ROLES = ("docker", "nvidia_gpu", "nginx_tls", "logrotate", "cloudwatch_agent")
RUN_FLAGS = (
    "--cap-add=SYS_ADMIN",
    "--cap-add=NET_ADMIN",  # the inner dockerd builds its iptables chains
    "--security-opt=seccomp=unconfined",
    "--security-opt=apparmor=unconfined",
    "--cgroupns=host",
    "-v=/sys/fs/cgroup:/sys/fs/cgroup:rw",
    "-v=/var/lib/docker",
    "--tmpfs=/run",
    "--tmpfs=/tmp",
)
# What the local default sets for these roles (inventories/local/group_vars/all/main.yml).
HOST_VARS = """\
      ansible_connection: community.docker.docker
      ansible_pipelining: true
      nginx_tls_mode: self_signed
      nginx_tls_server_names: [localhost]
      nginx_tls_ip_addresses: [127.0.0.1]
      cloudwatch_agent_install: false
      cloudwatch_agent_environment: dev
"""
RECAP = re.compile(
    r"^(?P<host>\S+)\s+:\s+ok=\d+\s+changed=(?P<changed>\d+)\s+.*failed=(?P<failed>\d+)", re.M
)
DOCKER = shutil.which("docker") or "/usr/bin/docker"
PLAYBOOK_CMD = str(Path(sys.executable).with_name("ansible-playbook"))


def run(*cmd: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Every command here is ours, argv-style: no shell."""
    return subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, check=check)  # noqa: S603


def converge(playbook: Path, inventory: Path, host: str) -> tuple[float, int]:
    start = time.monotonic()
    proc = run(PLAYBOOK_CMD, "-i", str(inventory), str(playbook), check=False)
    seconds = time.monotonic() - start
    recap = {m["host"]: m for m in RECAP.finditer(proc.stdout)}
    if proc.returncode != 0 or host not in recap or recap[host]["failed"] != "0":
        sys.stdout.write(proc.stdout[-6000:] + proc.stderr[-2000:])
        raise SystemExit(f"converge failed (exit {proc.returncode})")
    return seconds, int(recap[host]["changed"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", default="ragstack-time-host-roles")
    args = parser.parse_args()

    run(DOCKER, "rm", "-f", "-v", args.name, check=False)
    run(DOCKER, "run", "-d", "--name", args.name, *RUN_FLAGS, IMAGE, "/lib/systemd/systemd")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            inventory = Path(tmp) / "hosts.yml"
            inventory.write_text(f"all:\n  hosts:\n    {args.name}:\n{HOST_VARS}")
            playbook = Path(tmp) / "host_roles.yml"
            roles = "".join(f"    - role: ragstack.aws.{role}\n" for role in ROLES)
            play = "- name: Host roles together\n  hosts: all\n  gather_facts: true\n  roles:\n"
            playbook.write_text(play + roles)
            first, first_changed = converge(playbook, inventory, args.name)
            again, again_changed = converge(playbook, inventory, args.name)
    finally:
        run(DOCKER, "rm", "-f", "-v", args.name, check=False)

    print(f"roles: {', '.join(ROLES)}")
    print(f"converge on a fresh container: {first:6.1f}s  changed={first_changed}")
    print(f"no-op re-run:                  {again:6.1f}s  changed={again_changed}")
    return 0 if again_changed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
