"""Behaviour of ragstack.aws.logrotate on a converged Debian 13 host."""

import re
import uuid

NGINX_RULE = "/etc/logrotate.d/nginx"
APP_RULE = "/etc/logrotate.d/ragstack-app"


def test_logrotate_dry_run_reads_our_rules(host):
    result = host.run("logrotate -d /etc/logrotate.conf")
    assert result.rc == 0, result.stderr
    output = result.stdout + result.stderr
    # Files under the included directory are named by basename.
    for rule in ("nginx", "ragstack-app", "ragstack-worker"):
        assert f"reading config file {rule}\n" in output
    assert "rotating pattern: /var/log/nginx/*.log after 1 days" in output
    assert "rotating pattern: /var/log/ragstack/*.log 52428800 bytes" in output
    assert "error:" not in output
    assert "duplicate log entry" not in output


def test_timer_enabled_and_active(host):
    timer = host.service("logrotate.timer")
    assert timer.is_enabled
    assert timer.is_running


def test_nginx_rule_directives(host):
    rule = host.file(NGINX_RULE)
    assert rule.mode == 0o644
    text = rule.content_string
    assert text.startswith("# Ansible managed")
    body = [line.strip() for line in text.splitlines()]
    assert "/var/log/nginx/*.log {" in body
    for directive in (
        "daily",
        "rotate 14",
        "compress",
        "delaycompress",
        "missingok",
        "notifempty",
        "create 0640 www-data adm",
        "postrotate",
        "endscript",
    ):
        assert directive in body, directive
    assert "copytruncate" not in body
    assert re.search(r'kill -USR1 "\$\(cat /run/nginx.pid\)"', text)


def test_app_rule_is_size_based_copytruncate(host):
    body = [line.strip() for line in host.file(APP_RULE).content_string.splitlines()]
    assert "/var/log/ragstack/*.log {" in body
    assert "size 50M" in body
    assert "rotate 10" in body
    assert "copytruncate" in body
    assert not [line for line in body if line.startswith("create")]


def test_second_rule_lists_both_paths_and_absent_rule_is_gone(host):
    text = host.file("/etc/logrotate.d/ragstack-worker").content_string
    assert "/var/log/ragstack-worker/jobs.log /var/log/ragstack-worker/errors.log {" in text
    assert "weekly" in text
    assert not host.file("/etc/logrotate.d/ragstack-retired").exists


def test_forced_rotation_rotates_and_truncates_app_log(host):
    host.run("rm -f /var/log/ragstack/app.log*")
    host.check_output("for i in $(seq 200); do echo line $i; done > /var/log/ragstack/app.log")
    result = host.run(f"logrotate -f {APP_RULE}")
    assert result.rc == 0, result.stderr
    rotated = host.file("/var/log/ragstack/app.log.1")
    assert rotated.exists
    assert "line 200" in rotated.content_string
    # copytruncate: same file, now empty, so the writer's handle stays valid.
    assert host.file("/var/log/ragstack/app.log").size == 0


def test_forced_rotation_makes_nginx_reopen_its_log(host):
    before, after = f"before-{uuid.uuid4().hex}", f"after-{uuid.uuid4().hex}"
    host.check_output(f"curl -s -o /dev/null http://127.0.0.1/{before}")
    result = host.run(f"logrotate -f {NGINX_RULE}")
    assert result.rc == 0, result.stderr
    assert before in host.file("/var/log/nginx/access.log.1").content_string
    host.check_output(f"curl -s -o /dev/null http://127.0.0.1/{after}")
    # Without the USR1 in postrotate NGINX would still write to access.log.1.
    assert after in host.file("/var/log/nginx/access.log").content_string
    assert after not in host.file("/var/log/nginx/access.log.1").content_string


BROKEN_RULES = {
    "bad-count": "/var/log/x.log {\\n  missingok\\n  rotate many\\n}\\n",
    "no-endscript": "/var/log/x.log {\\n  missingok\\n  postrotate\\n    true\\n}\\n",
}


def test_dry_run_fails_on_broken_rules(host):
    """What the role's `validate:` relies on: -d exits non-zero on these errors."""
    for name, text in BROKEN_RULES.items():
        host.check_output(f"printf '{text}' > /root/{name} && chmod 0644 /root/{name}")
        result = host.run(f"logrotate -d /root/{name}")
        assert result.rc != 0, f"{name}: {result.stderr}"


def test_dry_run_only_warns_on_unknown_directives(host):
    """Why the role's validator also greps the output for 'unknown option'."""
    host.check_output("printf '/var/log/x.log {\\n  missingok\\n  bogus\\n}\\n' > /root/unknown")
    result = host.run("chmod 0644 /root/unknown && logrotate -d /root/unknown")
    assert "unknown option 'bogus'" in result.stderr
