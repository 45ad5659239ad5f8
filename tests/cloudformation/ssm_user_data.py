"""The launch template's user data in cloudformation/ec2.yaml: the first-boot script (AWS's SSM
agent on the Debian AMI with ConnectionMode=ssm, then the host configures itself), rendered here
as CloudFormation renders it (Fn::Sub, then Fn::Base64), and the signing key and fingerprint it
embeds."""

from __future__ import annotations

import re
from typing import Any

from cfn_eval import TEMPLATE_PATH, load_template

REPO_ROOT = TEMPLATE_PATH.parents[1]
# AWS's "SSM Agent <ssm-agent-signer@amazon.com>" key, shipped with the role that creates
# the stack; the template embeds the same text (user data must be self-contained).
KEY_FILE = REPO_ROOT / "roles" / "ec2_stack" / "files" / "amazon-ssm-agent.gpg"
# As gpg --fingerprint prints it. The current key (rsa4096, created 2026-06-04, expires
# 2027-11-25) of AWS's page "Verifying the signature of SSM Agent" (#verify-agent-signature-
# current); the armored text is byte for byte the one AWS ships in aws/eks-hybrid
# internal/ssm/source.go (commit d5bd0d04, "updating ssm installer gpg keys"), and the same
# key packets are in aws/amazon-ecs-agent scripts/amazon-ssm-agent.gpg (commit 6c11ae9b,
# next to AWS's older SSM Agent keys, all expired).
DOCUMENTED_FINGERPRINT = "1C5B 395C BE5E 74E2 F1CA  2159 2784 DBF3 88D1 9D46"
DOCUMENTED_FINGERPRINT_HEX = DOCUMENTED_FINGERPRINT.replace(" ", "")
KEY_UID = "SSM Agent <ssm-agent-signer@amazon.com>"

_SUB_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_EMBEDDED_KEY = re.compile(
    r"^SSM_AGENT_KEY='(-----BEGIN PGP PUBLIC KEY BLOCK-----\n.*?\n"
    r"-----END PGP PUBLIC KEY BLOCK-----)'$",
    re.MULTILINE | re.DOTALL,
)
_PINNED_FINGERPRINT = re.compile(r"^SSM_AGENT_KEY_FINGERPRINT=([0-9A-F]{40})$", re.MULTILINE)
_URL = re.compile(r"^SSM_AGENT_URL=(\S+)$", re.MULTILINE)


def user_data(template: dict[str, Any] | None = None) -> Any:
    """The LaunchTemplateData.UserData node, as written in the template."""
    template = template or load_template()
    data = template["Resources"]["LaunchTemplate"]["Properties"]["LaunchTemplateData"]
    return data["UserData"]


def script_source(template: dict[str, Any] | None = None) -> str:
    """The Fn::Sub source of the first-boot script (UserData: Base64(Sub[script, variables]))."""
    node = user_data(template)
    assert set(node) == {"Fn::Base64"}
    assert set(node["Fn::Base64"]) == {"Fn::Sub"}
    source, variables = node["Fn::Base64"]["Fn::Sub"]
    assert isinstance(source, str)
    assert variables == {"InstallSsmAgent": {"Fn::If": ["InstallSsmAgent", "yes", "no"]}}
    return source


def render_sub(source: str, variables: dict[str, str]) -> str:
    """Fn::Sub: ${Name} from variables, ${!Literal} -> ${Literal}; an unknown name is an error."""

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        if name.startswith("!"):
            return "${" + name[1:] + "}"
        if name not in variables:
            raise KeyError(f"Fn::Sub variable ${{{name}}} has no value here")
        return variables[name]

    return _SUB_VARIABLE.sub(substitute, source)


# The template values a host in the tests' stack receives, besides the pseudo parameters.
SCRIPT_VARIABLES = {
    "AWS::StackName": "ragstack-dev",
    "EnvironmentName": "dev",
    "ReleaseBucket": "ragstack-releases-123456789012-eu-west-1",
    "HealthCheckPath": "/api/ready",
    "TargetGroup": (
        "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/ragstack-dev/0123456789abcdef"
    ),
}


def rendered_script(
    region: str = "eu-west-1",
    url_suffix: str = "amazonaws.com",
    install_ssm_agent: str = "yes",
    **variables: str,
) -> str:
    """The script a Debian host in region receives."""
    return render_sub(
        script_source(),
        {
            "AWS::Region": region, "AWS::URLSuffix": url_suffix,
            "InstallSsmAgent": install_ssm_agent, **SCRIPT_VARIABLES, **variables,
        },
    )  # fmt: skip


def sub_variables(source: str) -> set[str]:
    return {name for name in _SUB_VARIABLE.findall(source) if not name.startswith("!")}


def embedded_key(script: str) -> str:
    (key,) = _EMBEDDED_KEY.findall(script)
    return key


def pinned_fingerprint(script: str) -> str:
    (fingerprint,) = _PINNED_FINGERPRINT.findall(script)
    return fingerprint


def agent_url(script: str) -> str:
    (url,) = _URL.findall(script)
    return url


def key_file_text() -> str:
    return KEY_FILE.read_text()
