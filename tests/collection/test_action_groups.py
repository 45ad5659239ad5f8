"""meta/runtime.yml's action group `aws`: `module_defaults: {group/ragstack.aws.aws: ...}`
must reach every module here that takes the AWS connection options, and nothing else.

A module takes them when it is built on amazon.aws's AnsibleAWSModule (which adds region,
endpoint_url, access_key, ... to its argument spec) or documents them through amazon.aws's
common docs fragment. The static test reads that off the modules' source; the end-to-end
test has Ansible resolve the group and checks what each module was given.
"""

from __future__ import annotations

import ast
import socket
import sys
from pathlib import Path

import pytest
import yaml
from ansible_json import run_playbook_json

REPO = Path(__file__).resolve().parents[2]
MODULES = REPO / "plugins" / "modules"
GROUP = "aws"
FQ_GROUP = f"group/ragstack.aws.{GROUP}"
# The amazon.aws docs fragments that document the connection options.
AWS_FRAGMENTS = {"amazon.aws.common.modules", "amazon.aws.region.modules", "amazon.aws.aws"}
# A placeholder per option type, for a module's required options.
PLACEHOLDERS = {"str": "ragstack-test", "int": 1, "float": 1.0, "bool": False, "list": []}


def _documentation(tree: ast.Module) -> dict:
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(target, ast.Name) and target.id == "DOCUMENTATION" for target in node.targets
        ):
            return yaml.safe_load(node.value.value)
    return {}


def _builds_aws_module(tree: ast.Module) -> bool:
    return any(
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "AnsibleAWSModule"
        for node in ast.walk(tree)
    )


def _takes_aws_connection_options(path: Path) -> bool:
    tree = ast.parse(path.read_text(), filename=str(path))
    fragments = _documentation(tree).get("extends_documentation_fragment") or []
    if isinstance(fragments, str):
        fragments = [fragments]
    return _builds_aws_module(tree) or bool(AWS_FRAGMENTS & set(fragments))


def _modules() -> list[Path]:
    return sorted(p for p in MODULES.glob("*.py") if p.name != "__init__.py")


def _group() -> list[str]:
    runtime = yaml.safe_load((REPO / "meta" / "runtime.yml").read_text())
    return runtime.get("action_groups", {}).get(GROUP, [])


def test_the_modules_are_read():
    """Guard against a vacuous pass: the collection has AWS modules."""
    assert [p for p in _modules() if _takes_aws_connection_options(p)]


def test_every_aws_module_is_in_the_group():
    aws_modules = {p.stem for p in _modules() if _takes_aws_connection_options(p)}
    missing = sorted(aws_modules - set(_group()))
    assert missing == [], f"add to meta/runtime.yml action_groups.{GROUP}: {missing}"


def test_the_group_names_only_aws_modules_of_this_collection():
    """Short names (Ansible resolves them in ragstack.aws), each an AWS module here, once."""
    members = _group()
    assert all(isinstance(m, str) and "." not in m for m in members), members
    assert len(members) == len(set(members)), members
    aws_modules = {p.stem for p in _modules() if _takes_aws_connection_options(p)}
    assert sorted(set(members) - aws_modules) == []


def _closed_port() -> int:
    """A loopback port nothing listens on: any call the modules make is refused at once."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _required_arguments(path: Path) -> dict:
    options = _documentation(ast.parse(path.read_text())).get("options") or {}
    return {
        name: PLACEHOLDERS.get(spec.get("type", "str"), "ragstack-test")
        for name, spec in options.items()
        if spec.get("required")
    }


def test_ansible_gives_every_module_of_the_group_its_defaults(tmp_path, monkeypatch):
    """One play, module_defaults only for the group: each module's invocation shows the
    group's region and endpoint. The endpoint is a closed 127.0.0.1 port and the tasks run in
    check mode, so each module fails at its first AWS call (or at its own argument checks)."""
    endpoint = f"http://127.0.0.1:{_closed_port()}"
    aws_modules = [p for p in _modules() if _takes_aws_connection_options(p)]
    tasks = [
        {
            "name": path.stem,
            f"ragstack.aws.{path.stem}": _required_arguments(path),
            "check_mode": True,
            "ignore_errors": True,
        }
        for path in aws_modules
    ]
    play = [
        {
            "hosts": "localhost",
            "connection": "local",
            "gather_facts": False,
            "module_defaults": {
                FQ_GROUP: {
                    "region": "eu-west-3",
                    "endpoint_url": endpoint,
                    "access_key": "testing",
                    "secret_key": "testing",
                    "aws_config": {"retries": {"max_attempts": 1}},
                }
            },
            "tasks": tasks,
        }
    ]
    # No shared config, credentials or instance metadata: only what the group gives.
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    _, report = run_playbook_json(
        yaml.safe_dump(play, sort_keys=False),
        tmp_path,
        "-i",
        "localhost,",
        "-e",
        f"ansible_python_interpreter={sys.executable}",
    )
    results = {t["task"]["name"]: t["hosts"]["localhost"] for t in report["plays"][0]["tasks"]}
    assert sorted(results) == sorted(p.stem for p in aws_modules)
    given = {
        name: {
            key: result.get("invocation", {}).get("module_args", {}).get(key)
            for key in ("region", "endpoint_url")
        }
        for name, result in results.items()
    }
    wanted = {"region": "eu-west-3", "endpoint_url": endpoint}
    assert given == {name: wanted for name in results}, given
    # They did fail: nothing answered on the closed port.
    assert all(result.get("failed") for result in results.values()), results


@pytest.mark.parametrize("path", _modules(), ids=lambda p: p.stem)
def test_each_module_has_documentation(path):
    """The static checks above read DOCUMENTATION; a module without it would slip past."""
    assert _documentation(ast.parse(path.read_text())).get("module") == path.stem
