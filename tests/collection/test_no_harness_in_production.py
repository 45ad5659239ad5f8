"""Production code never knows it is simulated.

The collection (roles/, playbooks/, plugins/, meta/) must not branch on the local
harness: no backend switch, no harness role or file, no local endpoint, no container
connection. Every local difference is a value in inventories/local or something
tests/harness provides, and each is listed in docs/local-vs-aws.md.

Comments may name moto (they explain a gap); code lines may not name the harness.
The same scanner run over inventories/local and tests/harness must find hits there:
that is the positive control that it sees a harness reference when there is one.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = ("roles", "playbooks", "plugins", "meta")
HARNESS_REFERENCES = {
    "backend switch": re.compile(r"ragstack_instance_backend"),
    "harness role": re.compile(r"\blocal_instances\b"),
    "harness files": re.compile(r"tests/harness|instance_agent|moto_server|local_aws"),
    "local endpoint": re.compile(r"127\.0\.0\.1:(5001|5055|8443)\b|localhost:(5001|5055)\b"),
    "container connection": re.compile(r"community\.docker\.docker\b(?!_)"),
}
# moto may be named in prose (a gap explained); in a condition, an expression or Python
# code it would be a branch.
MOTO = re.compile(r"\bmoto\b", re.IGNORECASE)
EXPRESSION = re.compile(r"^\s*(-\s*)?(when|that|changed_when|failed_when|until):|\{\{|\{%")
SUFFIXES = {".yml", ".yaml", ".py", ".j2", ".json", ".cfg", ".sh"}


def code_lines(path: Path) -> list[tuple[int, str]]:
    """Lines that are not comments (YAML/Python/Jinja comments and docstring-free code)."""
    lines = []
    in_docs = False
    for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
        stripped = line.strip()
        if path.suffix == ".py":
            # Module docs (DOCUMENTATION/EXAMPLES/RETURN strings) and docstrings are prose.
            if stripped.count('"""') + stripped.count("'''") == 1 or re.match(
                r"^(DOCUMENTATION|EXAMPLES|RETURN)\s*=\s*r?['\"]{3}", stripped
            ):
                in_docs = not in_docs
                continue
            if in_docs:
                continue
        if not stripped or stripped.startswith("#") or stripped.startswith("{#"):
            continue
        # A YAML/Python trailing comment or a YAML description is prose too.
        code = re.sub(r"\s#\s.*$", "", line)
        if re.match(r"^\s*(description|short_description|fail_msg|msg):", code):
            continue
        lines.append((number, code))
    return lines


def harness_references(*roots: str, base: Path = REPO_ROOT) -> list[str]:
    found = []
    for root in roots:
        for path in sorted((base / root).rglob("*")):
            if path.suffix not in SUFFIXES or not path.is_file() or "__pycache__" in path.parts:
                continue
            for number, code in code_lines(path):
                kinds = [
                    kind for kind, pattern in HARNESS_REFERENCES.items() if pattern.search(code)
                ]
                if MOTO.search(code) and (path.suffix == ".py" or EXPRESSION.search(code)):
                    kinds.append("moto in code")
                found += [
                    f"{path.relative_to(base)}:{number}: {kind}: {code.strip()}" for kind in kinds
                ]
    return found


def test_production_code_has_no_harness_reference():
    found = harness_references(*PRODUCTION)
    assert found == [], "harness references in production code:\n" + "\n".join(found)


@pytest.mark.parametrize(
    ("root", "kinds"),
    [
        ("inventories/local", {"local endpoint"}),
        ("tests/harness", {"harness files", "moto in code"}),
    ],
)
def test_the_scanner_sees_harness_references_where_they_belong(root, kinds):
    """Positive control: the same scan finds the harness where it legitimately lives."""
    found = {line.split(": ", 2)[1] for line in harness_references(root)}
    assert kinds <= found, found


def test_the_scanner_sees_a_planted_branch(tmp_path):
    planted = tmp_path / "roles" / "app" / "tasks"
    planted.mkdir(parents=True)
    (planted / "main.yml").write_text(
        "# moto is fine in a comment\n"
        "- name: Start the local AWS\n"
        "  ansible.builtin.include_role:\n"
        "    name: ragstack.aws.local_instances\n"
        "  when: ragstack_instance_backend == 'docker'\n"
        "- name: Wait less against the simulator\n"
        "  ansible.builtin.set_fact:\n"
        "    retries: \"{{ 3 if 'moto' in endpoint else 60 }}\"\n"
    )
    found = harness_references("roles", base=tmp_path)
    assert [line.split(": ", 2)[1] for line in found] == [
        "harness role",
        "backend switch",
        "moto in code",
    ]
