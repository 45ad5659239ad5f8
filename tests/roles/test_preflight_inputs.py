"""The arch registry's `roles` lists (playbooks/vars/arches.yml) are what each arch's run
really uses: preflight validates exactly those roles' arguments before any AWS write, so
a role the run reaches but the list forgets would go unchecked.

The roles a run reaches are found by reading the playbooks and roles themselves: every
`ragstack.aws.<role>` named by `roles:`, `include_role`/`import_role` or a role's
dependencies, from arch_<name>.yml and the playbooks it imports, closed over the roles'
own task files.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
PLAYBOOKS = REPO_ROOT / "playbooks"
ROLES = REPO_ROOT / "roles"
ARCHES = yaml.safe_load((PLAYBOOKS / "vars" / "arches.yml").read_text())["ragstack_arches"]
ROLE_REF = re.compile(r"ragstack\.aws\.([a-z0-9_]+)\b")
# Playbooks and task files a playbook pulls in (paths relative to playbooks/).
IMPORTS = re.compile(r"(?:import_playbook|import_tasks|include_tasks):\s*(\S+)")


def referenced_roles(text: str) -> set[str]:
    """Role names a YAML file names as ragstack.aws.<role> (modules and filters excluded:
    only names that are roles of this collection)."""
    return {name for name in ROLE_REF.findall(text) if (ROLES / name).is_dir()}


def playbook_texts(name: str, seen: set[str] | None = None) -> list[str]:
    seen = seen if seen is not None else set()
    if name in seen:
        return []
    seen.add(name)
    text = (PLAYBOOKS / name).read_text()
    texts = [text]
    for imported in IMPORTS.findall(text):
        texts += playbook_texts(imported.strip("'\""), seen)
    return texts


def role_closure(start: set[str]) -> set[str]:
    found, todo = set(), list(start)
    while todo:
        role = todo.pop()
        if role in found:
            continue
        found.add(role)
        for path in (ROLES / role).glob("*/*.yml"):
            if path.parent.name in {"tasks", "meta", "handlers"}:
                todo += referenced_roles(path.read_text()) - found
    return found


def roles_of_arch(arch: str) -> set[str]:
    direct: set[str] = set()
    for text in playbook_texts(f"arch_{arch}.yml"):
        direct |= referenced_roles(text)
    return role_closure(direct)


@pytest.mark.parametrize("arch", sorted(ARCHES))
def test_the_registry_lists_every_role_the_arch_reaches(arch: str) -> None:
    listed = set(ARCHES[arch]["roles"])
    reached = roles_of_arch(arch)
    assert reached - listed == set(), f"{arch}: used but not validated by preflight"
    assert listed - reached == set(), f"{arch}: listed but never used"


def test_positive_control_the_scan_finds_the_host_roles_through_hosts_yml() -> None:
    """arch_ec2.yml reaches the host roles only through playbooks/hosts.yml, the sibling
    arches reach preflight only through playbooks/tasks/: the scan must follow imports (else
    the test above is vacuous)."""
    direct = referenced_roles((PLAYBOOKS / "arch_ec2.yml").read_text())
    assert "app" not in direct
    assert {"app", "docker", "nginx_tls"} <= roles_of_arch("ec2")
    assert "preflight" not in referenced_roles((PLAYBOOKS / "arch_lambda.yml").read_text())
    assert "preflight" in roles_of_arch("lambda")
    # ... and roles reached only through another role (release builds the Lambda zips).
    assert "lambda_app" in roles_of_arch("ec2")
