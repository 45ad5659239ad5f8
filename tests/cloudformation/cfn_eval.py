"""Load cloudformation/ec2.yaml and evaluate its Conditions and Rules in Python.

moto ignores the Rules section and evaluates Conditions only for the one parameter
set a stack is created with, so the tests evaluate both here, over every parameter
combination that matters, with the subset of intrinsic functions the template uses.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cfnlint.decode import decode

TEMPLATE_PATH = Path(__file__).resolve().parents[2] / "cloudformation" / "ec2.yaml"


def load_template(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    """The template as plain JSON-compatible data (cfn-lint's loader understands !Ref & co)."""
    template, matches = decode(str(path))
    if matches:
        raise AssertionError(f"{path} does not parse: {matches}")
    # cfn-lint returns its own str/dict subclasses; plain types compare and serialise simply.
    return json.loads(json.dumps(template))


def parameter_values(template: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, str]:
    """Defaults merged with overrides, as the strings CloudFormation hands to functions."""
    values = {
        name: str(spec["Default"])
        for name, spec in template["Parameters"].items()
        if "Default" in spec
    }
    values.update({name: str(value) for name, value in overrides.items()})
    return values


class Evaluator:
    """Evaluate condition and rule expressions for one parameter set."""

    def __init__(self, template: Mapping[str, Any], params: Mapping[str, str]) -> None:
        self.template = template
        self.params = params
        self._conditions: dict[str, bool] = {}

    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            self._conditions[name] = bool(self.value(self.template["Conditions"][name]))
        return self._conditions[name]

    def value(self, node: Any) -> Any:
        if not isinstance(node, dict):
            return node
        if len(node) != 1:
            raise ValueError(f"not an intrinsic function: {node!r}")
        ((function, args),) = node.items()
        if function == "Ref":
            if args not in self.params:
                raise KeyError(f"parameter {args} has no value and no default")
            return self.params[args]
        if function == "Condition":
            return self.condition(args)
        if function == "Fn::Equals":
            left, right = (self.value(arg) for arg in args)
            return str(left) == str(right)
        if function == "Fn::Not":
            return not self.value(args[0])
        if function == "Fn::And":
            return all(self.value(arg) for arg in args)
        if function == "Fn::Or":
            return any(self.value(arg) for arg in args)
        if function == "Fn::Contains":
            haystack, needle = args
            return self.value(needle) in [self.value(item) for item in haystack]
        if function == "Fn::Split":
            separator, source = args
            return str(self.value(source)).split(separator)
        if function == "Fn::Select":
            index, items = args
            return self.value(items)[int(index)]
        if function == "Fn::If":
            name, when_true, when_false = args
            return self.value(when_true if self.condition(name) else when_false)
        raise ValueError(f"{function} is not supported by this evaluator")

    def failed_rules(self) -> dict[str, list[str]]:
        """Rule name -> AssertDescriptions of the assertions that fail."""
        failures: dict[str, list[str]] = {}
        for name, rule in self.template.get("Rules", {}).items():
            if "RuleCondition" in rule and not self.value(rule["RuleCondition"]):
                continue
            for assertion in rule["Assertions"]:
                if not self.value(assertion["Assert"]):
                    failures.setdefault(name, []).append(assertion["AssertDescription"])
        return failures
