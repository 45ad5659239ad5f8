"""The Secrets Manager source of provided mode, against the scenario's moto.

The provided-mode instance reads SSM; this runs the role's tls_provided.yml
alone on the controller (check mode, connection local) with a secret in moto's
Secrets Manager, so the other lookup path is exercised too.
"""

import datetime
import json
import sys
import uuid

import boto3
from ansible_json import messages, run_playbook_json
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

MOTO = "http://127.0.0.1:45123"  # started by prepare.yml

PLAY = """
- name: Secrets Manager source
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Read certificate and key through the role
      ansible.builtin.include_role:
        name: ragstack.aws.nginx_tls
        tasks_from: tls_provided.yml
    - name: Report what was read
      ansible.builtin.debug:
        msg: "CN {{ _nginx_tls_provided_certificate_info.subject.commonName }}"
"""


def make_pem_pair(common_name):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return cert.public_bytes(serialization.Encoding.PEM).decode(), key_pem


def test_certificate_and_key_from_a_secretsmanager_secret(tmp_path):
    cert_pem, key_pem = make_pem_pair("secret.test")
    secret_id = f"ragstack/test/tls-{uuid.uuid4().hex[:8]}"
    boto3.client(
        "secretsmanager",
        endpoint_url=MOTO,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    ).create_secret(Name=secret_id, SecretString=json.dumps({"crt": cert_pem, "key": key_pem}))

    # The files already hold what the secret holds, so check mode reports no
    # change and notifies no NGINX handler on this controller.
    cert_file, key_file = tmp_path / "tls.crt", tmp_path / "tls.key"
    cert_file.write_text(cert_pem.strip() + "\n")
    key_file.write_text(key_pem.strip() + "\n")
    cert_file.chmod(0o644)
    key_file.chmod(0o600)
    role_vars = {
        "nginx_tls_provided_source": "secretsmanager",
        "nginx_tls_secretsmanager_secret_id": secret_id,
        "nginx_tls_secretsmanager_certificate_key": "crt",
        "nginx_tls_secretsmanager_private_key_key": "key",
        "nginx_tls_aws_region": "us-east-1",
        "nginx_tls_aws_endpoint_url": MOTO,
        "nginx_tls_aws_access_key": "testing",
        "nginx_tls_aws_secret_key": "testing",
        "nginx_tls_certificate_path": str(cert_file),
        "nginx_tls_private_key_path": str(key_file),
        "ansible_python_interpreter": sys.executable,
    }
    result, report = run_playbook_json(
        PLAY,
        tmp_path,
        "-i",
        "localhost,",
        "-c",
        "local",
        "--check",
        "-e",
        json.dumps(role_vars),
    )
    assert result.returncode == 0, json.dumps(report["stats"])
    assert "CN secret.test" in messages(report, "localhost"), messages(report, "localhost")
    assert report["stats"]["localhost"]["changed"] == 0, report["stats"]
    assert key_pem not in result.stdout, "the private key leaked into the output"
