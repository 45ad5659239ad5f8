"""Behaviour of ragstack.aws.docker on a converged Debian 13 host."""

import json
import re

import pytest

DAEMON_JSON = "/etc/docker/daemon.json"
REGISTRY = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"
IMAGE = "ragstack-test/busybox:local"


def journal(host):
    return host.run("journalctl -u docker --no-pager -n 100").stdout


def docker_json(host, command):
    return json.loads(host.check_output(command))


def test_dockerd_active_and_enabled(host):
    service = host.service("docker")
    assert service.is_running, f"dockerd is not active:\n{journal(host)}"
    assert service.is_enabled


def test_compose_v2_plugin_is_recent_enough(host):
    version = host.check_output("docker compose version --short")
    match = re.match(r"v?(\d+)\.(\d+)", version)
    assert match, f"unparseable compose version {version!r}"
    # community.docker.docker_compose_v2 needs compose >= 2.18.
    assert (int(match[1]), int(match[2])) >= (2, 18), version


def test_daemon_json_is_valid_with_expected_keys(host):
    config = json.loads(host.file(DAEMON_JSON).content_string)
    assert config["log-driver"] == "json-file"
    assert config["log-opts"] == {"max-size": "20m", "max-file": "5"}
    assert config["live-restore"] is True
    assert config["default-address-pools"] == [{"base": "172.80.0.0/16", "size": 24}]
    assert "runtimes" not in config
    assert "default-runtime" not in config
    result = host.run(f"dockerd --validate --config-file {DAEMON_JSON}")
    assert result.rc == 0, result.stderr
    assert host.file(DAEMON_JSON).mode == 0o644


def test_docker_info_reflects_daemon_json(host):
    info = docker_json(host, "docker info --format '{{json .}}'")
    assert info["LoggingDriver"] == "json-file"
    assert info["LiveRestoreEnabled"] is True


@pytest.fixture(scope="module")
def container(host):
    """A container from an image imported locally: no registry is reachable."""
    host.run_expect(
        [0],
        "set -e; d=$(mktemp -d); mkdir -p $d/bin; cp /bin/busybox $d/bin/busybox; "
        "ln -s busybox $d/bin/sleep; tar -C $d -c . | docker import - " + IMAGE + "; rm -rf $d",
    )
    # The nested dockerd cannot set up bridge networking (read-only /proc/sys).
    container_id = host.check_output(f"docker run -d --network none {IMAGE} /bin/sleep 3600")
    yield container_id
    host.run(f"docker rm -f {container_id}")
    host.run(f"docker image rm {IMAGE}")


def test_container_gets_the_daemon_log_options(host, container):
    log_config = docker_json(
        host, f"docker inspect -f '{{{{json .HostConfig.LogConfig}}}}' {container}"
    )
    assert log_config == {"Type": "json-file", "Config": {"max-size": "20m", "max-file": "5"}}


def test_container_survives_dockerd_restart(host, container):
    before = docker_json(host, f"docker inspect -f '{{{{json .State}}}}' {container}")
    assert before["Running"] is True
    host.run_expect([0], "systemctl restart docker")
    assert host.service("docker").is_running, f"dockerd is not active:\n{journal(host)}"
    after = docker_json(host, f"docker inspect -f '{{{{json .State}}}}' {container}")
    assert after["Running"] is True
    # Same process, not a restart by a restart policy: live-restore kept it.
    assert after["Pid"] == before["Pid"]
    assert after["StartedAt"] == before["StartedAt"]


def test_ecr_credential_helper_runs(host):
    result = host.run("docker-credential-ecr-login version")
    assert result.rc == 0, result.stderr
    assert re.search(r"\d+\.\d+", result.stdout)


@pytest.mark.parametrize(("user", "home"), [("root", "/root"), ("deploy", "/home/deploy")])
def test_ecr_credential_helper_configured(host, user, home):
    config_file = host.file(f"{home}/.docker/config.json")
    assert config_file.user == user
    assert config_file.mode == 0o600
    config = json.loads(config_file.content_string)
    assert config["credHelpers"] == {REGISTRY: "ecr-login"}
    assert "credsStore" not in config


def test_docker_users_can_use_docker(host):
    assert "docker" in host.user("deploy").groups
    result = host.run("runuser -u deploy -- docker version --format '{{.Server.Version}}'")
    assert result.rc == 0, result.stderr
