"""(b) GPU-less host, role forced, toolkit install off: the runtime is configured."""

import json

from daemon_checks import APT_SOURCE, RUNTIME_FACT, assert_dockerd_healthy, daemon_config

testinfra_hosts = ["ansible://molecule-nvidia-forced"]

NVIDIA_RUNTIME = {"path": "nvidia-container-runtime", "runtimeArgs": []}


def test_daemon_json_has_the_nvidia_runtime(host):
    config = daemon_config(host)
    assert config["runtimes"] == {"nvidia": NVIDIA_RUNTIME}
    # default-runtime is a separate toggle, off by default
    assert "default-runtime" not in config
    # the docker role's own keys are still there: one template renders both
    assert config["log-driver"] == "json-file"
    assert config["live-restore"] is True


def test_dockerd_loaded_the_runtime(host):
    assert_dockerd_healthy(host)
    runtimes = json.loads(host.check_output("docker info --format '{{json .Runtimes}}'"))
    assert runtimes["nvidia"]["path"] == "nvidia-container-runtime"
    assert "runc" in runtimes


def test_runtime_contribution_fact(host):
    fact = host.file(RUNTIME_FACT)
    assert fact.mode == 0o644
    assert json.loads(fact.content_string) == {
        "runtimes": {"nvidia": NVIDIA_RUNTIME},
        "default_runtime": "",
    }


def test_toolkit_install_was_skipped(host):
    assert not host.file(APT_SOURCE).exists
    assert not host.package("nvidia-container-toolkit").is_installed
