"""The release contract on the local default: built once, named by content, deployed by id.

Shares the session's deployment (tests/e2e/conftest.py). What a release is: a manifest
releases/<id>.json in the account's release bucket (image digests, artifact hashes, git
sha, who, when), the env's pointer /ragstack/<env>/release/current, and the same id on
the stack, on every host and in both services' health.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import urllib.request

from conftest import (
    PUBLIC_URL,
    REPO_ROOT,
    STACK_NAME,
    Deployment,
    moto_requests,
    playbook,
)
from test_ec2_local import host_sh

RELEASE_ID = re.compile(r"^r-[0-9a-f]{12}$")
POINTER = "/ragstack/dev/release/current"
SERVICES = {"ragstack/embedding-service", "ragstack/orchestrator"}


def _bucket(aws) -> str:
    account = aws("sts").get_caller_identity()["Account"]
    return f"ragstack-releases-{account}-us-east-1"


def _pointer(aws) -> str:
    return aws("ssm").get_parameter(Name=POINTER)["Parameter"]["Value"]


def _manifest(aws, release_id: str) -> dict:
    body = aws("s3").get_object(Bucket=_bucket(aws), Key=f"releases/{release_id}.json")["Body"]
    return json.loads(body.read())


def _get_json(url: str) -> dict:
    import ssl

    context = ssl._create_unverified_context()  # self-signed on purpose: local nginx_tls
    with urllib.request.urlopen(url, timeout=30, context=context) as response:
        return json.loads(response.read())


def _host_health(host: str, service: str, url: str) -> dict:
    container = host_sh(
        host, f"docker ps -q --filter label=com.docker.compose.service={service}"
    ).strip()
    if service == "orchestrator":
        probe = f"fetch('{url}').then(r => r.text()).then(console.log)"
        command = f'docker exec {container} node -e "{probe}"'
    else:
        probe = f"import urllib.request as u; print(u.urlopen('{url}', timeout=10).read().decode())"
        command = f'docker exec {container} python3 -c "{probe}"'
    return json.loads(host_sh(host, command))


def test_manifest_names_what_was_built(deployment: Deployment, aws) -> None:
    release_id = _pointer(aws)
    assert RELEASE_ID.match(release_id), release_id
    manifest = _manifest(aws, release_id)
    assert manifest["id"] == release_id
    assert manifest["schema"] == 1
    head = subprocess.run(
        ["git", "-C", str(REPO_ROOT), "rev-parse", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    assert manifest["git_sha"] == head
    assert isinstance(manifest["git_dirty"], bool)
    assert manifest["built_by"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", manifest["built_at"])
    assert set(manifest["images"]) == SERVICES
    assert all(re.fullmatch(r"sha256:[0-9a-f]{64}", d) for d in manifest["images"].values())
    # Every artifact is in S3 under its own sha256, and its bytes have that hash.
    assert set(manifest["artifacts"]) == {"host-bundle", "collection"}
    for name, artifact in manifest["artifacts"].items():
        assert artifact["bucket"] == _bucket(aws)
        assert artifact["key"] == f"artifacts/{name}/{artifact['sha256']}.tar.gz"
        body = aws("s3").get_object(Bucket=artifact["bucket"], Key=artifact["key"])["Body"].read()
        assert hashlib.sha256(body).hexdigest() == artifact["sha256"]
        assert len(body) == artifact["bytes"]
    # The id is the content's: digests and artifact hashes, not who or when.
    content = {
        "artifacts": {n: a["sha256"] for n, a in manifest["artifacts"].items()},
        "images": manifest["images"],
    }
    digest = hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()
    assert release_id == f"r-{digest[:12]}"


def test_release_id_shows_on_the_stack_the_hosts_and_the_services(
    deployment: Deployment, aws
) -> None:
    release_id = _pointer(aws)
    manifest = _manifest(aws, release_id)
    (stack,) = aws("cloudformation").describe_stacks(StackName=STACK_NAME)["Stacks"]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    assert outputs["ReleaseId"] == release_id
    assert {t["Key"]: t["Value"] for t in stack["Tags"]}["ragstack:release"] == release_id
    # Through the public URL (nginx -> orchestrator), and each service on each host.
    assert _get_json(f"{PUBLIC_URL}/api/health")["release"] == release_id
    for host in deployment.instance_ids:
        assert (
            _host_health(host, "orchestrator", "http://127.0.0.1:5000/api/health")["release"]
            == release_id
        )
        assert (
            _host_health(host, "embedding", "http://127.0.0.1:8000/health")["release"] == release_id
        )
        record = json.loads(host_sh(host, "cat /opt/ragstack/releases/current.json"))
        assert record["release"] == release_id
        assert record["git_sha"] == manifest["git_sha"]
        assert host_sh(host, "readlink /opt/ragstack/ui").strip() == (
            f"/opt/ragstack/bundles/{release_id}/ui"
        )
        # What runs is what the manifest names, digest for digest.
        running = [
            host_sh(host, f"docker inspect --format '{{{{.Config.Image}}}}' {container}").strip()
            for container in host_sh(host, "docker ps --format '{{.ID}}'").split()
        ]
        assert sorted(ref.split("@")[1] for ref in running) == sorted(manifest["images"].values())


def test_a_named_release_deploys_without_building_anything(deployment: Deployment, aws) -> None:
    release_id = _pointer(aws)
    build_tasks = (
        "TASK [ragstack.aws.ecr_images : Build each image",
        "TASK [ragstack.aws.ecr_images : Push each image]",
        "TASK [ragstack.aws.release : Write the manifest]",
    )
    # Positive control: the first deploy built, so the same check sees a build.
    assert all(task in deployment.first.output for task in build_tasks)
    run = playbook("site.yml", "-e", "arch=ec2", "-e", f"ragstack_release={release_id}")
    assert run.returncode == 0, run.output[-4000:]
    assert [task for task in build_tasks if task in run.output] == []
    assert f"Release: {release_id}" in run.output
    recap = run.recap()
    print(f"\nredeploy of {release_id} by id: {run.seconds:.0f}s, recap {recap}")
    assert all(r["changed"] == 0 and r["failed"] == 0 for r in recap.values()), recap


def test_current_resolves_to_the_deployed_release(deployment: Deployment) -> None:
    # In --check the stack's parameters are compared: `current` must name the same
    # release, so nothing would change (test_check_mode_shows_a_stack_change is the
    # positive control: the same check reports a parameter that differs).
    run = playbook(
        "site.yml", "-e", "arch=ec2", "-e", "ragstack_release=current", "--check", "--tags", "never"
    )
    assert run.returncode == 0, run.output[-4000:]
    assert run.recap()["localhost"]["changed"] == 0, run.recap()


def _aws_state(aws) -> dict:
    """What a run could have written: the stack, every parameter, the release bucket."""
    (stack,) = aws("cloudformation").describe_stacks(StackName=STACK_NAME)["Stacks"]
    parameters = aws("ssm").describe_parameters(MaxResults=50)["Parameters"]
    objects = aws("s3").list_objects_v2(Bucket=_bucket(aws)).get("Contents", [])
    return {
        "stack": (stack["StackStatus"], str(stack.get("LastUpdatedTime"))),
        "parameters": sorted((p["Name"], p["Version"]) for p in parameters),
        "objects": sorted((o["Key"], o["ETag"]) for o in objects),
    }


def test_unknown_release_is_refused_before_any_write(deployment: Deployment, aws) -> None:
    before = _aws_state(aws)
    run = playbook("site.yml", "-e", "arch=ec2", "-e", "ragstack_release=r-000000000000")
    assert run.returncode != 0
    assert "Release r-000000000000 (ragstack_release) has no manifest" in " ".join(
        run.output.split()
    )
    assert _aws_state(aws) == before
    # Positive control: the same snapshot sees a write when there is one.
    ssm = aws("ssm")
    ssm.put_parameter(Name="/ragstack/e2e/control", Value="x", Type="String")
    try:
        assert _aws_state(aws) != before
    finally:
        ssm.delete_parameter(Name="/ragstack/e2e/control")


def test_malformed_release_is_refused_before_any_aws_call(deployment: Deployment) -> None:
    before = moto_requests()
    run = playbook("site.yml", "-e", "arch=ec2", "-e", "ragstack_release=latest")
    assert run.returncode != 0
    assert "release_id (ragstack_release)=latest is not a release id" in " ".join(
        run.output.split()
    )
    assert moto_requests() == before, "the run talked to AWS before refusing its input"


def test_a_tampered_host_bundle_is_refused_then_replaced(deployment: Deployment, aws) -> None:
    host = deployment.instance_ids[0]
    bundle = _manifest(aws, _pointer(aws))["artifacts"]["host-bundle"]
    archive = f"/opt/ragstack/artifacts/host-bundle-{bundle['sha256']}.tar.gz"
    host_sh(host, f"test -s {archive} && echo tampered > {archive}")
    refused = playbook("site.yml", "-e", "arch=ec2", "--tags", "app")
    assert refused.returncode != 0
    flat = " ".join(refused.output.split())
    assert f"not the {bundle['sha256']} release" in flat, refused.output[-3000:]
    assert host_sh(host, f"test -e {archive} && echo present || echo absent").strip() == "absent"
    # The next run downloads the release's bytes again.
    healed = playbook("site.yml", "-e", "arch=ec2", "--tags", "app")
    assert healed.returncode == 0, healed.output[-4000:]
    data = subprocess.run(
        ["docker", "exec", host, "cat", archive], capture_output=True, check=True
    ).stdout
    assert hashlib.sha256(data).hexdigest() == bundle["sha256"]


def test_switching_release_stops_serving_the_old_ui(deployment: Deployment, aws) -> None:
    """A host on an older release (its own bundle, a file the new build dropped) switches whole."""
    host = deployment.instance_ids[0]
    release_id = _pointer(aws)
    old = "/opt/ragstack/bundles/r-000000000000"
    stale = "assets/index-0000stale.js"
    host_sh(
        host,
        f"mkdir -p {old}/ui/assets && cp -a /opt/ragstack/ui/. {old}/ui/ "
        f"&& echo old > {old}/ui/{stale} && ln -sfn {old}/ui /opt/ragstack/ui",
    )

    def served() -> str:
        # The body, not the status: the UI's routes fall back to index.html.
        return subprocess.run(
            ["curl", "-ksS", f"{PUBLIC_URL}/{stale}"], capture_output=True, text=True
        ).stdout

    assert served() == "old\n"  # positive control: the old release's file is served
    run = playbook("site.yml", "-e", "arch=ec2", "--tags", "app_configure")
    assert run.returncode == 0, run.output[-4000:]
    assert host_sh(host, "readlink /opt/ragstack/ui").strip() == (
        f"/opt/ragstack/bundles/{release_id}/ui"
    )
    assert served() != "old\n"
    index = subprocess.run(
        ["curl", "-ksS", f"{PUBLIC_URL}/config.json"], capture_output=True, text=True
    ).stdout
    assert "apiBaseUrl" in json.loads(index)
    # Only the switched host changed.
    assert {h: r["changed"] for h, r in run.recap().items() if h.startswith("i-")} == {
        h: int(h == host) for h in deployment.instance_ids
    }, run.recap()
    host_sh(host, f"rm -rf {old}")


def test_pointer_history_is_the_release_history(deployment: Deployment, aws) -> None:
    history = aws("ssm").get_parameter_history(Name=POINTER)["Parameters"]
    assert history, "the pointer has no history"
    assert all(RELEASE_ID.match(h["Value"]) for h in history)
    assert history[-1]["Value"] == _pointer(aws)


MARKER = "zebra-quokka-7781"


def _query(question: str) -> dict:
    request = urllib.request.Request(
        f"{PUBLIC_URL}/api/query",
        data=json.dumps({"question": question}).encode(),
        headers={"Content-Type": "application/json"},
    )
    import ssl

    context = ssl._create_unverified_context()  # self-signed on purpose: local nginx_tls
    with urllib.request.urlopen(request, timeout=60, context=context) as response:
        return json.loads(response.read())


def _instances(aws) -> list[str]:
    reservations = aws("ec2").describe_instances(
        Filters=[
            {"Name": "tag:ragstack:stack", "Values": [STACK_NAME]},
            {"Name": "instance-state-name", "Values": ["running"]},
        ]
    )["Reservations"]
    return sorted(i["InstanceId"] for r in reservations for i in r["Instances"])


def test_a_new_release_updates_in_place_and_rolls_back_by_id(
    deployment: Deployment, aws, tmp_path
) -> None:
    """Day 2: a changed checkout is a new release, deployed over the running stack; then back."""
    first = _pointer(aws)
    instances = _instances(aws)
    assert instances == sorted(deployment.instance_ids)
    # The checkout with one corpus document changed: same images, a new host bundle.
    source = tmp_path / "checkout"
    source.mkdir()
    skip = shutil.ignore_patterns("node_modules", "__pycache__", ".pytest_cache", "coverage")
    for part in ("services", "scripts"):
        shutil.copytree(REPO_ROOT / part, source / part, ignore=skip, symlinks=True)
    document = source / "services" / "corpus" / "tls.md"
    document.write_text(
        document.read_text() + f"\n\nThe {MARKER} rotation renews certificates every 60 days.\n"
    )
    update = playbook("site.yml", "-e", "arch=ec2", "-e", f"ragstack_source_dir={source}")
    assert update.returncode == 0, update.output[-5000:]
    second = _pointer(aws)
    assert RELEASE_ID.match(second)
    assert second != first
    old, new = _manifest(aws, first), _manifest(aws, second)
    assert new["images"] == old["images"]
    assert new["artifacts"]["host-bundle"]["sha256"] != old["artifacts"]["host-bundle"]["sha256"]
    # Updated in place through a change set: the same hosts, the stack says which release.
    (stack,) = aws("cloudformation").describe_stacks(StackName=STACK_NAME)["Stacks"]
    assert stack["StackStatus"] == "UPDATE_COMPLETE"
    assert {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}["ReleaseId"] == second
    assert _instances(aws) == instances
    assert _get_json(f"{PUBLIC_URL}/api/health")["release"] == second
    answer = _query(f"What is the {MARKER} rotation?")
    assert MARKER in json.dumps(answer), answer
    # Roll back by id: nothing is built, the first release serves again on the same hosts.
    rollback = playbook("site.yml", "-e", "arch=ec2", "-e", f"ragstack_release={first}")
    assert rollback.returncode == 0, rollback.output[-5000:]
    assert "TASK [ragstack.aws.ecr_images : Push each image]" not in rollback.output
    assert _pointer(aws) == first
    assert _get_json(f"{PUBLIC_URL}/api/health")["release"] == first
    assert _instances(aws) == instances
    assert MARKER not in json.dumps(_query(f"What is the {MARKER} rotation?"))
    history = [h["Value"] for h in aws("ssm").get_parameter_history(Name=POINTER)["Parameters"]]
    assert history[-3:] == [first, second, first], history
    print(
        f"\nnew release {second}: {update.seconds:.0f}s, rollback to {first}: "
        f"{rollback.seconds:.0f}s, recaps {update.recap()} / {rollback.recap()}"
    )
