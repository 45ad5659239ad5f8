"""ragstack.aws.ssm_parameters_info against moto: values, or names only.

With values=false the module lists what exists under a path and returns no value at all,
so the secrets role's existence check never brings a stored secret to the controller. The
positive control is the same call with values=true: it returns the canary, and the same
search of the run's whole JSON report that finds it there finds nothing with values=false.
"""

from __future__ import annotations

import json

import pytest
from ansible_json import run_playbook_json

CANARY = "sk-ragstack-canary-ssm-info-7d1e"
PATH = "/ragstack/infotest"


@pytest.fixture(scope="module")
def stored(moto_endpoint, aws):
    ssm = aws("ssm")
    ssm.put_parameter(Name=f"{PATH}/openai_api_key", Value=CANARY, Type="SecureString")
    ssm.put_parameter(Name=f"{PATH}/mongodb_uri", Value="mongodb+srv://x", Type="SecureString")
    # Not one level under PATH, or elsewhere: never listed.
    ssm.put_parameter(Name=f"{PATH}/nested/deeper", Value="no", Type="String")
    ssm.put_parameter(Name="/ragstack/other/openai_api_key", Value="no", Type="String")
    return moto_endpoint


def run(tmp_path, endpoint: str, **options: object) -> tuple[dict, str]:
    play = f"""
- hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - ragstack.aws.ssm_parameters_info:
        path: {PATH}
        endpoint_url: {endpoint}
        access_key: testing
        secret_key: testing
        region: us-east-1
        {chr(10).join(f"        {k}: {json.dumps(v)}" for k, v in options.items()).strip()}
      register: found
"""
    result, report = run_playbook_json(play, tmp_path)
    assert result.returncode == 0, result.stdout[-3000:]
    (task,) = report["plays"][0]["tasks"]
    return task["hosts"]["localhost"], result.stdout


def test_values_are_read_by_short_name(stored, tmp_path):
    found, _ = run(tmp_path, stored)
    assert found["parameters"] == {"mongodb_uri": "mongodb+srv://x", "openai_api_key": CANARY}
    assert found["names"] == ["mongodb_uri", "openai_api_key"]


def test_names_only_returns_no_value(stored, tmp_path):
    found, report = run(tmp_path, stored, values=False)
    assert found["names"] == ["mongodb_uri", "openai_api_key"]
    assert found["parameters"] == {}
    assert CANARY not in report
    # The control: the same report search sees the canary when values are read.
    _, with_values = run(tmp_path, stored, values=True)
    assert CANARY in with_values


def test_names_filter(stored, tmp_path):
    found, _ = run(tmp_path, stored, values=False, names=["openai_api_key", "absent"])
    assert found["names"] == ["openai_api_key"]
