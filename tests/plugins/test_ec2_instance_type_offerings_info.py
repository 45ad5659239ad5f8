"""ragstack.aws.ec2_instance_type_offerings_info against moto: what the region offers, a
typo is not offered, and the call is a read (check mode, changed=false)."""

from __future__ import annotations

import pytest
from ansible_json import run_playbook_json


def offered(tmp_path, endpoint: str, types: list[str], region: str = "us-east-1") -> dict:
    play = f"""
- hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - ragstack.aws.ec2_instance_type_offerings_info:
        instance_types: {types}
        endpoint_url: {endpoint}
        access_key: testing
        secret_key: testing
        region: {region}
      register: offered
"""
    result, report = run_playbook_json(play, tmp_path, "--check")
    assert result.returncode == 0, result.stdout[-3000:]
    (task,) = report["plays"][0]["tasks"]
    return task["hosts"]["localhost"]


@pytest.mark.parametrize("typo", ["t9.bogus", "g5.xlargee"])
def test_a_typo_is_not_offered(tmp_path, moto_endpoint, typo: str) -> None:
    found = offered(tmp_path, moto_endpoint, ["t3.large", typo])
    # The control: the valid type in the same call is offered.
    assert found["instance_types"] == ["t3.large"]
    assert found["missing"] == [typo]
    assert found["changed"] is False
    assert found["offerings"][0] == {
        "instance_type": "t3.large",
        "location_type": "region",
        "location": "us-east-1",
    }


def test_all_offered_types_without_a_filter(tmp_path, moto_endpoint) -> None:
    found = offered(tmp_path, moto_endpoint, [])
    assert {"t3.large", "g5.xlarge", "m6i.large"} <= set(found["instance_types"])
    assert len(found["instance_types"]) > 100
    assert found["missing"] == []
