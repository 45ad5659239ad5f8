"""EC2 secrets end to end: the controller passes names, each host reads its own values.

The session's deployment (conftest.py) ran with OPENAI_API_KEY=CANARY in the controller's
environment and -vvv: ragstack.aws.secrets stored it in SSM (moto) as
/ragstack/dev/openai_api_key, and from then on only the parameter's name travelled.
ragstack-secrets.service on the host read it with the host's credentials (the harness's
stand-in for the instance role: root's ~/.aws in the AMI image) into tmpfs, and compose
mounted it into the embedding service as a file. The local inventory answers
extractively, so the orchestrator gets no OpenAI key at all.

The canary must be nowhere else: not in the run's output, `docker inspect`, the
containers' logs, the journal, the host's disk (Docker's data included) or the
controller's .cache. The positive controls read it where it must be, with the right
owner and mode, and from inside the embedding service's container. Rotation is tested
last (it changes the stored value): once through the unit alone, once through the role.
"""

from __future__ import annotations

import hashlib
import json
import subprocess

from conftest import CANARY, REPO_ROOT, Deployment, playbook

PARAMETER = "/ragstack/dev/openai_api_key"
SECRETS_DIR = "/run/ragstack/secrets"
SECRET_FILE = f"{SECRETS_DIR}/openai_api_key"
UNIT = "ragstack-secrets.service"
PROJECT = "cd /opt/ragstack && docker compose -f docker-compose.yml -f compose.override.yml"
# The embedding service resolves OPENAI_API_KEY as it does at start-up (<VAR>_FILE) and
# prints the digest only, never the value.
SETTINGS_DIGEST = (
    "import hashlib; from embedding_service.config import load_settings; "
    "key = load_settings().openai_api_key or ''; "
    "print(hashlib.sha256(key.encode()).hexdigest() if key else 'unset')"
)
# Bounded: the scan of a host's disk (Docker's images included) takes well under a minute.
DISK_SCAN_SECONDS = 600


def digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def on_host(host: str, command: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """A shell command on the instance, run from outside (the harness's view, not Ansible's)."""
    return subprocess.run(
        ["docker", "exec", host, "sh", "-c", command],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def host_out(host: str, command: str, timeout: float = 120) -> str:
    result = on_host(host, command, timeout)
    assert result.returncode == 0, f"{command}: {result.stderr}"
    return result.stdout


def containers(host: str) -> dict[str, str]:
    """name -> id of every container on the host, running or not."""
    lines = host_out(host, "docker ps -a --format '{{.Names}} {{.ID}}'").split("\n")
    return dict(line.split() for line in lines if line.strip())


def inspect(host: str, container: str) -> dict:
    return json.loads(host_out(host, f"docker inspect {container}"))[0]


def embedding_key_digest(host: str) -> str:
    return host_out(
        host, f"docker exec ragstack-embedding-1 python3 -c {json.dumps(SETTINGS_DIGEST)}"
    ).strip()


def put_secret(aws, value: str) -> int:
    ssm = aws("ssm")
    ssm.put_parameter(Name=PARAMETER, Value=value, Type="SecureString", Overwrite=True)
    return ssm.get_parameter(Name=PARAMETER)["Parameter"]["Version"]


def test_the_run_output_never_shows_the_secret(deployment: Deployment) -> None:
    output = deployment.first.output
    assert CANARY not in output, "the -vvv output shows the OpenAI key"
    # Positive control: the output is the verbose run that stored it and read it on the host.
    assert "ESTABLISH SSH CONNECTION" in output
    assert "TASK [ragstack.aws.secrets : Create the absent secrets that have a value]" in output
    assert "TASK [ragstack.aws.app : Restart ragstack-secrets.service]" in output
    assert PARAMETER in output


def test_the_secret_is_a_tmpfs_file_only_the_containers_user_reads(
    deployment: Deployment,
) -> None:
    for host in deployment.instance_ids:
        assert host_out(host, f"findmnt -n -o FSTYPE -T {SECRETS_DIR}").strip() == "tmpfs"
        assert host_out(host, f"stat -c '%u %g %a %F' {SECRETS_DIR}").split() == [
            "0", "0", "700", "directory"
        ]  # fmt: skip
        # uid/gid 10001: USER of both images (services/*/Dockerfile).
        assert host_out(host, f"stat -c '%u %g %a %F' {SECRET_FILE}").split() == [
            "10001", "10001", "400", "regular", "file"
        ]  # fmt: skip
        assert host_out(host, f"cat {SECRET_FILE}") == CANARY
        assert host_out(host, f"ls -A {SECRETS_DIR}").split() == ["openai_api_key"]
        assert host_out(host, f"systemctl is-enabled {UNIT}").strip() == "enabled"
        assert host_out(host, f"systemctl is-active {UNIT}").strip() == "active"


def test_the_embedding_service_reads_the_key_from_its_file(deployment: Deployment) -> None:
    for host in deployment.instance_ids:
        embedding = inspect(host, "ragstack-embedding-1")
        assert "OPENAI_API_KEY_FILE=/run/secrets/openai_api_key" in embedding["Config"]["Env"]
        assert not [v for v in embedding["Config"]["Env"] if v.startswith("OPENAI_API_KEY=")]
        (mount,) = [m for m in embedding["Mounts"] if m["Destination"].startswith("/run/secrets")]
        assert (mount["Type"], mount["Source"], mount["RW"]) == ("bind", SECRET_FILE, False)
        # As the service's own user, in its container: the key it configures is the canary.
        assert embedding_key_digest(host) == digest(CANARY)


def test_the_orchestrator_gets_no_openai_key_when_answers_are_extractive(
    deployment: Deployment,
) -> None:
    for host in deployment.instance_ids:
        orchestrator = inspect(host, "ragstack-orchestrator-1")
        env = orchestrator["Config"]["Env"]
        assert not [v for v in env if v.startswith("OPENAI_API_KEY_FILE=")], env
        assert not [v for v in env if v.startswith("OPENAI_API_KEY=") and v != "OPENAI_API_KEY="]
        assert not [m for m in orchestrator["Mounts"] if "secrets" in m["Destination"]]
        listening = [
            json.loads(line)
            for line in host_out(host, "docker logs ragstack-orchestrator-1 2>&1").splitlines()
            if '"msg":"listening"' in line
        ]
        assert listening, "the orchestrator never logged its start-up line"
        assert listening[-1]["mode"] == "extractive"
        assert listening[-1]["secrets"] == {"OPENAI_API_KEY": "unset"}


def test_no_container_shows_the_secret_in_inspect_or_logs(deployment: Deployment) -> None:
    for host in deployment.instance_ids:
        found = containers(host)
        assert {"ragstack-embedding-1", "ragstack-orchestrator-1"} <= set(found), found
        for name in found:
            assert CANARY not in host_out(host, f"docker inspect {name}"), name
            assert CANARY not in host_out(host, f"docker logs {name} 2>&1"), name
        assert CANARY not in host_out(host, "journalctl --no-pager -o cat", timeout=300)


def test_no_file_on_the_host_disk_holds_the_secret(deployment: Deployment) -> None:
    """Everything but the kernel's and the tmpfs mounts: /var/lib/docker (images, container
    layers and configs, volumes), /etc, /opt, /var/log, /root, ..."""
    scan = (
        "set --; for d in /*; do case $d in /proc|/sys|/run|/dev|/tmp) continue;; esac; "
        '[ -L "$d" ] || set -- "$@" "$d"; done; '
        f'echo "$@" >&2; timeout {DISK_SCAN_SECONDS} grep -rlsF -D skip -e {CANARY} "$@"'
    )
    for host in deployment.instance_ids:
        # Positive control: a copy planted deep in Docker's data (a volume of its own, like an
        # EBS root volume) is the one file the scan finds.
        volume = host_out(
            host, "docker volume inspect ragstack_embedding-data -f '{{.Mountpoint}}'"
        )
        planted = f"{volume.strip()}/ragstack-e2e-planted"
        host_out(host, f"printf %s {CANARY} > {planted}")
        try:
            result = on_host(host, scan, timeout=DISK_SCAN_SECONDS + 60)
        finally:
            host_out(host, f"rm -f {planted}")
        scanned = result.stderr.split("\n")[0].split()
        assert {"/var", "/etc", "/opt", "/root", "/usr"} <= set(scanned), scanned
        assert result.returncode != 124, "the scan of the host's disk timed out"
        assert result.stdout.split() == [planted], "the secret is on the host's disk"
        # And the same grep, as the same user, finds it where it must be.
        control = on_host(host, f"grep -rlsF -D skip -e {CANARY} {SECRETS_DIR}")
        assert control.stdout.split() == [SECRET_FILE]
        assert CANARY not in host_out(host, "cat /opt/ragstack/.env")


def test_the_controller_keeps_no_secret(deployment: Deployment) -> None:
    found = subprocess.run(
        ["grep", "-rlsF", "-e", CANARY, str(REPO_ROOT / ".cache")],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.split()
    assert found == []


def test_rotation_through_the_unit(deployment: Deployment, aws) -> None:
    """New value in SSM, restart the unit: a new file, the old value gone from the tmpfs;
    restarting the container then gives the service the new key."""
    rotated = "sk-ragstack-rotated-unit-5d0e27c1"
    put_secret(aws, rotated)
    for host in deployment.instance_ids:
        before = host_out(host, f"stat -c %i {SECRET_FILE}").strip()
        host_out(host, f"systemctl restart {UNIT}")
        assert host_out(host, f"cat {SECRET_FILE}") == rotated
        assert host_out(host, f"stat -c '%u %g %a' {SECRET_FILE}").split() == [
            "10001", "10001", "400"
        ]  # fmt: skip
        # Replaced, not rewritten in place: the running container keeps what it started with.
        assert host_out(host, f"stat -c %i {SECRET_FILE}").strip() != before
        assert on_host(host, f"grep -rlsF -e {CANARY} /run/ragstack").stdout == ""
        status = json.loads(host_out(host, "cat /run/ragstack/secrets-status.json"))
        assert status["written"] == ["openai_api_key"]
        assert rotated not in json.dumps(status)
        # Until it restarts, the running container keeps the file (inode) it started with.
        assert embedding_key_digest(host) == digest(CANARY)
        host_out(host, f"{PROJECT} restart embedding", timeout=300)
        assert embedding_key_digest(host) == digest(rotated)
        mounted = host_out(
            host, "docker exec ragstack-embedding-1 sha256sum /run/secrets/openai_api_key"
        )
        assert mounted.split()[0] == digest(rotated)
        assert CANARY not in host_out(host, "journalctl --no-pager -o cat", timeout=300)


def test_rotation_through_the_role(deployment: Deployment, aws) -> None:
    """New value in SSM, re-run the app role: exactly the services using it are recreated."""
    rotated = "sk-ragstack-rotated-role-93b8f4aa"
    version = put_secret(aws, rotated)
    started = {
        host: inspect(host, "ragstack-embedding-1")["Id"] for host in deployment.instance_ids
    }
    run = playbook("site.yml", "-e", "arch=ec2", "--tags", "app")
    assert run.returncode == 0, run.output[-4000:]
    assert rotated not in run.output
    for host in deployment.instance_ids:
        assert run.recap()[host]["changed"] > 0
        assert host_out(host, f"cat {SECRET_FILE}") == rotated
        embedding = inspect(host, "ragstack-embedding-1")
        assert embedding["Id"] != started[host], "the embedding service was not recreated"
        assert embedding["Config"]["Labels"]["org.ragstack.secrets"].startswith(
            f"openai_api_key=v{version} "
        )
        assert embedding_key_digest(host) == digest(rotated)
        for name in containers(host):
            assert rotated not in host_out(host, f"docker inspect {name}"), name
