"""(a) GPU-less host, role not forced: nothing NVIDIA on it."""

from daemon_checks import APT_SOURCE, RUNTIME_FACT, assert_dockerd_healthy, daemon_config

testinfra_hosts = ["ansible://molecule-nvidia-skip"]


def test_no_gpu_on_the_pci_bus(host):
    # The premise of this scenario: the role's probe must have had nothing to find.
    vendors = host.run("cat /sys/bus/pci/devices/*/vendor").stdout.split()
    assert "0x10de" not in vendors


def test_daemon_json_has_no_nvidia_runtime(host):
    config = daemon_config(host)
    assert "runtimes" not in config
    assert "default-runtime" not in config
    assert config["log-driver"] == "json-file"


def test_nothing_nvidia_was_written(host):
    assert not host.file(RUNTIME_FACT).exists
    assert not host.file(APT_SOURCE).exists
    assert not host.package("nvidia-container-toolkit").is_installed


def test_dockerd_still_healthy(host):
    assert_dockerd_healthy(host)
