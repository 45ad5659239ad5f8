"""Behaviour of ragstack.aws.cloudwatch_agent on converged Debian 13 hosts."""

import json

import pytest

CONFIG = "/opt/aws/amazon-cloudwatch-agent/etc/amazon-cloudwatch-agent.json"
CHECKER = "/usr/local/libexec/ragstack/cloudwatch-agent-config-check"
CALLS = "/var/log/amazon-cloudwatch-agent-ctl.calls"


def is_gpu_host(host):
    return host.backend.get_hostname().endswith("-gpu")


def config(host):
    file = host.file(CONFIG)
    assert file.exists, f"{CONFIG} missing"
    return json.loads(file.content_string)


def groups(cfg):
    entries = cfg["logs"]["logs_collected"]["files"]["collect_list"]
    return {entry["log_group_name"]: entry for entry in entries}


def has_nvidia_pci_device(host):
    out = host.run("cat /sys/bus/pci/devices/*/vendor 2>/dev/null").stdout
    return "0x10de" in out.split()


def test_config_is_json_owned_by_root(host):
    file = host.file(CONFIG)
    assert file.user == "root"
    assert file.mode == 0o644
    assert isinstance(config(host), dict)


def test_log_groups_retention_and_stream(host):
    found = groups(config(host))
    if is_gpu_host(host):
        # This host overrides the log list with one multi-line app log.
        assert list(found) == ["/ragstack/test/app"]
        entry = found["/ragstack/test/app"]
        assert entry["retention_in_days"] == 90
        assert entry["multi_line_start_pattern"] == r"^\d{4}-\d{2}-\d{2}"
        return
    expected = {
        "/ragstack/test/nginx/access": "/var/log/nginx/access.log",
        "/ragstack/test/nginx/error": "/var/log/nginx/error.log",
        "/ragstack/test/docker": "/var/lib/docker/containers/*/*-json.log",
        "/ragstack/test/app": "/var/log/ragstack/*.log",
    }
    assert {name: entry["file_path"] for name, entry in found.items()} == expected
    for entry in found.values():
        assert entry["retention_in_days"] == 14
        assert entry["log_stream_name"] == "{instance_id}"


def test_host_metrics_with_instance_id_dimension(host):
    metrics = config(host)["metrics"]
    assert metrics["append_dimensions"] == {"InstanceId": "${aws:InstanceId}"}
    collected = metrics["metrics_collected"]
    for block in ("cpu", "mem", "disk", "swap"):
        assert block in collected
    assert "mem_used_percent" in collected["mem"]["measurement"]
    assert collected["disk"]["resources"] == ["/"]


def test_gpu_block_follows_the_host(host):
    collected = config(host)["metrics"]["metrics_collected"]
    if is_gpu_host(host):
        assert "utilization_gpu" in collected["nvidia_gpu"]["measurement"]
    else:
        # Default comes from the PCI probe: this container sees no NVIDIA device.
        assert not has_nvidia_pci_device(host)
        assert "nvidia_gpu" not in collected


def installed_agent_version(host):
    """dpkg's version of amazon-cloudwatch-agent when installed, else None (also the
    check tests/test_signature.py uses for the refused packages)."""
    package = host.package("amazon-cloudwatch-agent")
    return package.version if package.is_installed else None


def private_workdirs(host):
    """The role's private download/keyring directories left behind (there must be none)."""
    return host.run("ls -d /tmp/cloudwatch-agent-* 2>/dev/null").stdout.split()


def test_install_path_follows_cloudwatch_agent_install(host):
    if is_gpu_host(host):
        # The signed stand-in .deb verified and installed, service enabled and running.
        assert installed_agent_version(host) == "1.0.0-test"
        agent = host.service("amazon-cloudwatch-agent")
        assert agent.is_enabled
        assert agent.is_running
        # Loaded once on the first converge; the idempotent run did not reload.
        calls = host.file(CALLS).content_string.splitlines()
        assert calls == [f"-a fetch-config -m ec2 -s -c file:{CONFIG}"]
    else:
        # cloudwatch_agent_install: false writes the config and nothing else.
        assert installed_agent_version(host) is None
        assert not host.file(CALLS).exists
        assert not host.file("/opt/aws/amazon-cloudwatch-agent/bin").exists


def test_install_leaves_no_download_or_keyring_behind(host):
    assert private_workdirs(host) == []
    assert host.run("ls /var/cache/amazon-cloudwatch-agent* 2>/dev/null").stdout == ""


def test_second_converge_downloaded_nothing(host):
    # converge + idempotence ran the role twice: the package and its signature were
    # fetched once, the second run saw the pinned version installed and fetched nothing.
    # (The other host installs nothing in converge; test_signature.py uses its server.)
    if not is_gpu_host(host):
        return
    log = host.run("journalctl -u fake-aws-downloads --no-pager -o cat").stdout
    gets = [line for line in log.splitlines() if '"GET /debian/amd64/1.0.0-test/' in line]
    assert len([g for g in gets if "/amazon-cloudwatch-agent.deb " in g]) == 1, gets
    assert len([g for g in gets if "/amazon-cloudwatch-agent.deb.sig " in g]) == 1, gets


BROKEN = {
    "not-json": "{",
    "bad-retention": {
        "logs": {
            "logs_collected": {
                "files": {
                    "collect_list": [
                        {
                            "file_path": "/var/log/x.log",
                            "log_group_name": "/x",
                            "log_stream_name": "{instance_id}",
                            "retention_in_days": 31,
                        }
                    ]
                }
            }
        }
    },
    "no-group": {
        "logs": {
            "logs_collected": {
                "files": {"collect_list": [{"file_path": "/x.log", "log_stream_name": "s"}]}
            }
        }
    },
    "unknown-section": {"logz": {}},
}


def test_checker_accepts_the_live_config(host):
    result = host.run(f"python3 {CHECKER} {CONFIG}")
    assert result.rc == 0, result.stderr


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_checker_rejects_broken_configs(host, name):
    content = BROKEN[name] if isinstance(BROKEN[name], str) else json.dumps(BROKEN[name])
    path = f"/root/broken-{name}.json"
    host.run(f"cat > {path} <<'EOF'\n{content}\nEOF")
    result = host.run(f"python3 {CHECKER} {path}")
    assert result.rc == 1, result.stdout
    assert path in result.stderr
