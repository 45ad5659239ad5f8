import json

DAEMON_JSON = "/etc/docker/daemon.json"
RUNTIME_FACT = "/etc/ansible/facts.d/docker_runtimes_nvidia_gpu.fact"
APT_SOURCE = "/etc/apt/sources.list.d/nvidia-container-toolkit.sources"


def journal(host):
    return host.run("journalctl -u docker --no-pager -n 100").stdout


def daemon_config(host):
    return json.loads(host.file(DAEMON_JSON).content_string)


def assert_dockerd_healthy(host):
    assert host.service("docker").is_running, f"dockerd is not active:\n{journal(host)}"
    result = host.run(f"dockerd --validate --config-file {DAEMON_JSON}")
    assert result.rc == 0, result.stderr
