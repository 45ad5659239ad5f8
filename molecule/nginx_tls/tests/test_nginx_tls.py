"""Behaviour of ragstack.aws.nginx_tls on a converged Debian 13 host."""

import json

import pytest

HTTPS = "https://127.0.0.1"
KEY = "/etc/nginx/tls/ragstack.key"
CERT = "/etc/nginx/tls/ragstack.crt"
LE_LIVE = "/etc/letsencrypt/live/le.ragstack.test"
ACCESS_LOG = "/var/log/nginx/access.log"


def journal(host):
    return host.run("journalctl -u nginx --no-pager -n 80").stdout


def curl_headers(host, url, *extra):
    """Status line and headers (lower-cased names) of one request."""
    out = host.check_output(f"curl -ksS -o /dev/null -D - {' '.join(extra)} {url}")
    lines = [line.strip() for line in out.splitlines() if line.strip()]
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers


def s_client(host, *options):
    return host.run(
        "openssl s_client -connect 127.0.0.1:443 -servername localhost "
        + " ".join(options)
        + " </dev/null"
    )


def test_nginx_active_and_enabled(host):
    nginx = host.service("nginx")
    assert nginx.is_running, f"nginx is not active:\n{journal(host)}"
    assert nginx.is_enabled


def test_nginx_config_test_is_clean(host):
    result = host.run("nginx -t")
    assert result.rc == 0, result.stderr
    assert "test is successful" in result.stderr


def test_distro_default_site_removed(host):
    assert not host.file("/etc/nginx/sites-enabled/default").exists


@pytest.mark.parametrize("version", ["tls1_3", "tls1_2"])
def test_modern_tls_versions_accepted(host, version):
    result = s_client(host, f"-{version}")
    assert result.rc == 0, result.stdout + result.stderr
    expected = {"tls1_3": "TLSv1.3", "tls1_2": "TLSv1.2"}[version]
    assert f"Protocol: {expected}" in result.stdout, result.stdout


def test_tls_1_1_refused_by_the_server(host):
    # SECLEVEL=0 lets this client offer TLS 1.1, so a failure is the server's refusal.
    result = s_client(host, "-tls1_1", "-cipher", "'DEFAULT:@SECLEVEL=0'")
    assert result.rc != 0, result.stdout
    # Alert 70 is the server saying it does not speak that version.
    assert "alert protocol version" in result.stderr, result.stdout + result.stderr


def kind(host):
    """self_signed, provided or letsencrypt, from the instance name."""
    name = host.backend.get_hostname()
    for suffix in ("provided", "letsencrypt"):
        if name.endswith(f"-{suffix}"):
            return suffix
    return "self_signed"


def served_certificate_path(host):
    if kind(host) == "letsencrypt":
        return f"{LE_LIVE}/fullchain.pem"
    return CERT


def test_certificate_names_and_key(host):
    text = host.check_output(f"openssl x509 -in {served_certificate_path(host)} -noout -text")
    key = host.file(KEY)
    if kind(host) == "provided":
        # The RSA certificate prepare.yml stored in SSM, not a self-signed one.
        assert "Subject: CN=provided.test" in text
        assert "Public-Key: (2048 bit)" in text
        assert "DNS:localhost" not in text
    elif kind(host) == "letsencrypt":
        # Issued by the ACME server through HTTP-01, not the bootstrap certificate.
        assert "Issuer: CN=Pebble Intermediate CA" in text
        assert "DNS:le.ragstack.test" in text
        key = host.file(host.file(f"{LE_LIVE}/privkey.pem").linked_to)
    else:
        assert "DNS:localhost" in text
        assert "DNS:ragstack.test" in text
        assert "IP Address:127.0.0.1" in text
        assert "id-ecPublicKey" in text
        assert "prime256v1" in text
    assert key.mode == 0o600
    assert key.user == "root"


def test_served_certificate_is_the_installed_one(host):
    fingerprint = "openssl x509 -noout -fingerprint -sha256"
    served = host.check_output(
        f"openssl s_client -connect 127.0.0.1:443 </dev/null 2>/dev/null | {fingerprint}"
    )
    assert served == host.check_output(f"{fingerprint} -in {served_certificate_path(host)}")


def test_letsencrypt_renewal_is_wired(host):
    if kind(host) != "letsencrypt":
        assert not host.file("/etc/letsencrypt/renewal").exists
        return
    renewal = host.file("/etc/letsencrypt/renewal/le.ragstack.test.conf").content_string
    assert "authenticator = webroot" in renewal
    assert "server = https://localhost:14000/dir" in renewal
    timer = host.service("certbot.timer")
    assert timer.is_enabled
    assert timer.is_running
    hook = host.file("/etc/letsencrypt/renewal-hooks/deploy/ragstack-nginx-reload")
    assert hook.mode == 0o755
    assert "nginx -t" in hook.content_string
    assert host.run(hook.path).rc == 0
    # The port-80 server still answers ACME challenges instead of redirecting them.
    challenges = "/var/www/letsencrypt/.well-known/acme-challenge"
    host.check_output(f"mkdir -p {challenges} && echo token-ok > {challenges}/probe")
    body = host.check_output("curl -s http://127.0.0.1/.well-known/acme-challenge/probe")
    assert body == "token-ok"


def test_http_redirects_to_https_with_308(host):
    status, headers = curl_headers(host, "http://127.0.0.1/some/page?x=1")
    assert status == 308
    assert headers["location"] == "https://127.0.0.1/some/page?x=1"


def test_hsts_and_security_headers(host):
    status, headers = curl_headers(host, f"{HTTPS}/")
    assert status == 200
    assert headers["strict-transport-security"] == "max-age=63072000"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert headers["referrer-policy"] == "strict-origin-when-cross-origin"
    assert "default-src 'self'" in headers["content-security-policy"]
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert "camera=()" in headers["permissions-policy"]
    assert headers["server"] == "nginx", "server_tokens off hides the version"


def test_ui_served_with_spa_fallback(host):
    assert "ragstack-ui-marker" in host.check_output(f"curl -ksS {HTTPS}/")
    assert "ragstack-ui-marker" in host.check_output(f"curl -ksS {HTTPS}/client/side/route")


def test_config_json_not_cached_and_keeps_security_headers(host):
    status, headers = curl_headers(host, f"{HTTPS}/config.json")
    assert status == 200
    assert headers["cache-control"] == "no-cache"
    assert headers["x-frame-options"] == "DENY"
    assert json.loads(host.check_output(f"curl -ksS {HTTPS}/config.json")) == {"apiBaseUrl": ""}


def test_api_proxied_to_orchestrator(host):
    body = json.loads(host.check_output(f"curl -ksS {HTTPS}/api/health"))
    assert body == {"backend": "fake-orchestrator", "path": "/api/health"}
    post = "curl -ksS -X POST -H 'Content-Type: application/json' -d '{\"question\":\"q\"}'"
    posted = json.loads(host.check_output(f"{post} {HTTPS}/api/query"))
    assert posted["path"] == "/api/query"


def test_embedding_service_not_exposed(host):
    config = host.file("/etc/nginx/nginx.conf").content_string
    assert ":8000" not in config
    status, _ = curl_headers(host, f"{HTTPS}/embed", "-X POST")
    assert status != 200


def test_api_rate_limit_answers_429(host):
    # 5 r/s with burst 10 in the scenario: 40 back-to-back requests overflow it.
    one = f"curl -ks -o /dev/null -w '%{{http_code}}\\n' {HTTPS}/api/health"
    codes = host.check_output(f"for i in $(seq 40); do {one}; done").split()
    assert "200" in codes
    assert "429" in codes, codes
    body = host.run(f"for i in $(seq 30); do curl -ks {HTTPS}/api/health; echo; done").stdout
    assert '"rate_limited"' in body


def test_access_log_lines_are_json(host):
    host.check_output(f"curl -ksS -o /dev/null {HTTPS}/?access-log-probe=1")
    lines = [line for line in host.file(ACCESS_LOG).content_string.splitlines() if line.strip()]
    assert lines, "access log is empty"
    records = [json.loads(line) for line in lines[-50:]]
    probe = [r for r in records if "access-log-probe=1" in r["uri"]]
    assert probe, "probe request not logged"
    assert probe[-1]["status"] == 200
    assert probe[-1]["ssl_protocol"].startswith("TLSv1.")
