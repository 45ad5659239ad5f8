#!/usr/bin/env python3
"""The local AWS the local default deploys to: test harness, never part of the collection.

    python tests/harness/local_aws.py up     # moto (+ EC2 data plane), registry, seeds
    python tests/harness/local_aws.py down   # instance containers, registry, moto: gone

`up` is idempotent and leaves, in the cache directory (default .cache/local-aws):
- moto on 127.0.0.1:5001 through moto_server.py (fidelity fixes), playing EC2's data
  plane too (instance_agent.py: a systemd container per running instance), with its
  pidfile and log (moto_server.log);
- Debian's docker-registry on 127.0.0.1:5055, standing in for ECR's registry endpoint;
- the stack's ALB on 127.0.0.1:8443: HAProxy in a container, started by the moto process
  (load_balancer.py) once an application load balancer with an HTTPS:443 listener exists,
  routing to the healthy registered targets of its target group;
- what a real account already has before the first deploy, seeded into moto: the EC2 key
  pair `ragstack-local` (private key in ssh/id_ed25519) and an ACM certificate for the
  load balancers (its ARN in certificate_arn). inventories/local reads both files.

Everything runs on 127.0.0.1 only; moto accepts the fixed credentials testing/testing.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import boto3
import botocore.config
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import NameOID

HARNESS_DIR = Path(__file__).resolve().parent
REPO_ROOT = HARNESS_DIR.parents[1]
MOTO_LAUNCHER = HARNESS_DIR / "moto_server.py"
DEFAULT_CACHE = REPO_ROOT / ".cache" / "local-aws"
HOST = "127.0.0.1"
MOTO_PORT = 5001
REGISTRY_PORT = 5055
REGISTRY_NAME = "ragstack-local-registry"
REGISTRY_IMAGE = "ragstack-local/registry:latest"
REGISTRY_LABEL = "ragstack.local-registry"
# The load balancer standing in for the ALB (load_balancer.py, inside the moto process).
LB_PORT = int(os.environ.get("RAGSTACK_HARNESS_HTTPS_PORT", "8443"))
LB_IMAGE = "ragstack-local/load-balancer:latest"
LB_LABEL = "ragstack.load-balancer"
KEY_NAME = "ragstack-local"
CERTIFICATE_TAG = "ragstack-local"
REGION = "us-east-1"
START_TIMEOUT = 60.0
# moto's ECS reports this many running tasks: without it a deployment never reaches steady
# state (arch=fargate's wait). tests/moto_kit.py starts the tests' moto with it too.
MOTO_ENV = {"MOTO_ECS_SERVICE_RUNNING": "2"}


def log(message: str) -> None:
    print(f"local_aws: {message}", flush=True)


def answers(url: str) -> bool:
    """True when url answers 200 within a second (tests/moto_kit.py waits for moto with it)."""
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return response.status == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


def wait_for(url: str, what: str, timeout: float = START_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not answers(url):
        if time.monotonic() > deadline:
            raise SystemExit(f"local_aws: {what} did not answer on {url} within {timeout:.0f}s")
        time.sleep(0.3)


def client(endpoint: str, service: str, region: str = REGION):
    """A boto3 client bound to the local endpoint; explicit credentials, never a real profile."""
    return boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=region
    ).client(
        service,
        endpoint_url=endpoint,
        config=botocore.config.Config(retries={"max_attempts": 3}),
    )


def start_moto(cache: Path, port: int = MOTO_PORT, instances: bool = True) -> str:
    endpoint = f"http://{HOST}:{port}"
    if answers(f"{endpoint}/moto-api/"):
        return endpoint
    cache.mkdir(parents=True, exist_ok=True, mode=0o700)
    env = {**os.environ, **MOTO_ENV, "RAGSTACK_HARNESS_VPC_DIR": str(cache / "vpc")}
    if instances:
        env["RAGSTACK_HARNESS_INSTANCES"] = "1"
        env["RAGSTACK_HARNESS_REGISTRY_PORT"] = str(REGISTRY_PORT)
        env["RAGSTACK_HARNESS_LB_PORT"] = str(LB_PORT)
        env["RAGSTACK_HARNESS_LB_DIR"] = str(cache / "lb")
    with (cache / "moto_server.log").open("ab") as log_file:
        process = subprocess.Popen(
            [sys.executable, str(MOTO_LAUNCHER), "-H", HOST, "-p", str(port)],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )
    (cache / "moto_server.pid").write_text(f"{process.pid}\n")
    wait_for(f"{endpoint}/moto-api/", "moto")
    log(f"moto on {endpoint} (pid {process.pid}, log {cache / 'moto_server.log'})")
    return endpoint


def stop_moto(cache: Path) -> None:
    pidfile = cache / "moto_server.pid"
    if not pidfile.exists():
        return
    with contextlib.suppress(ValueError, ProcessLookupError, PermissionError):
        os.killpg(int(pidfile.read_text().strip()), signal.SIGTERM)
        log("moto stopped")
    pidfile.unlink(missing_ok=True)


def docker(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=False)


def start_registry(name: str = REGISTRY_NAME, port: int = REGISTRY_PORT) -> str:
    """Debian's docker-registry on 127.0.0.1:port (Docker pushes to loopback over plain HTTP)."""
    address = f"{HOST}:{port}"
    if docker("image", "inspect", REGISTRY_IMAGE).returncode:
        raise SystemExit(f"local_aws: {REGISTRY_IMAGE} is missing: `make images`")
    state = docker("inspect", "--format", "{{.State.Running}}", name).stdout.strip()
    if state == "false":
        docker("start", name)
    elif not state:
        started = docker(
            "run", "-d", "--name", name, "--read-only", "--cap-drop", "ALL",
            "--security-opt", "no-new-privileges", "--tmpfs", "/tmp",
            # A named volume: the pushed images survive a re-created container.
            "-v", f"{name}-data:/var/lib/docker-registry",
            "-p", f"{address}:5000", "--label", f"{REGISTRY_LABEL}={name}",
            REGISTRY_IMAGE,
        )  # fmt: skip
        if started.returncode:
            raise SystemExit(f"local_aws: registry did not start: {started.stderr.strip()}")
    wait_for(f"http://{address}/v2/", "the registry", timeout=30)
    return address


def stop_registry(name: str = REGISTRY_NAME) -> None:
    docker("rm", "-f", "-v", name)
    docker("volume", "rm", f"{name}-data")


def _write_private(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_bytes(data)


def key_pair(cache: Path) -> tuple[Path, str]:
    """The controller's SSH key for the local instances (made once), and its public half."""
    private = cache / "ssh" / "id_ed25519"
    if not private.exists():
        key = ed25519.Ed25519PrivateKey.generate()
        _write_private(
            private,
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.OpenSSH,
                serialization.NoEncryption(),
            ),
        )
    key = serialization.load_ssh_private_key(private.read_bytes(), password=None)
    public = key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    return private, public.decode()


def certificate(cache: Path) -> tuple[bytes, bytes]:
    """A self-signed listener certificate (made once): ACM needs one for the HTTPS listeners."""
    cert_path, key_path = cache / "acm.crt", cache / "acm.key"
    if not cert_path.exists() or not key_path.exists():
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ragstack.local")])
        now = datetime.datetime.now(datetime.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=365))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("ragstack.local")]), False)
            .sign(key, hashes.SHA256())
        )
        _write_private(
            key_path,
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
        )
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert_path.read_bytes(), key_path.read_bytes()


def seed(endpoint: str, cache: Path, region: str = REGION) -> dict[str, str]:
    """What an account has before the first deploy: a key pair and an ACM certificate."""
    cache.mkdir(parents=True, exist_ok=True, mode=0o700)
    ec2 = client(endpoint, "ec2", region)
    _, public_key = key_pair(cache)
    pairs = ec2.describe_key_pairs(
        Filters=[{"Name": "key-name", "Values": [KEY_NAME]}], IncludePublicKey=True
    )["KeyPairs"]
    if pairs and pairs[0].get("PublicKey", "").split()[:2] != public_key.split()[:2]:
        ec2.delete_key_pair(KeyName=KEY_NAME)
        pairs = []
    if not pairs:
        ec2.import_key_pair(KeyName=KEY_NAME, PublicKeyMaterial=public_key.encode())

    acm = client(endpoint, "acm", region)
    arn = ""
    for summary in acm.list_certificates()["CertificateSummaryList"]:
        tags = acm.list_tags_for_certificate(CertificateArn=summary["CertificateArn"])["Tags"]
        if {"Key": "Name", "Value": CERTIFICATE_TAG} in tags:
            arn = summary["CertificateArn"]
    if not arn:
        body, key = certificate(cache)
        arn = acm.import_certificate(
            Certificate=body, PrivateKey=key, Tags=[{"Key": "Name", "Value": CERTIFICATE_TAG}]
        )["CertificateArn"]
    (cache / "certificate_arn").write_text(arn + "\n")
    return {"certificate_arn": arn, "key_name": KEY_NAME}


def instance_containers(port: int = MOTO_PORT) -> list[str]:
    """The instance containers of the agent in the moto on this port."""
    listed = docker(
        "ps", "-a", "--filter", f"label=ragstack.harness={port}", "--format", "{{.Names}}"
    )
    return listed.stdout.split()


def stop_load_balancer(port: int = MOTO_PORT) -> None:
    """The load balancer container of the moto on this port (its process may be gone)."""
    # Twice: a tick of the moto process that was just signalled may still start one.
    for attempt in range(2):
        listed = docker("ps", "-aq", "--filter", f"label={LB_LABEL}={port}").stdout.split()
        for container in listed:
            docker("rm", "-f", container)
            log(f"removed load balancer container {container}")
        if not attempt:
            time.sleep(1.0)


def up(cache: Path, instances: bool = True) -> dict[str, str]:
    if instances and docker("image", "inspect", LB_IMAGE).returncode:
        raise SystemExit(f"local_aws: {LB_IMAGE} is missing: `make images`")
    registry = start_registry()
    endpoint = start_moto(cache, instances=instances)
    seeded = seed(endpoint, cache)
    log(f"registry on {registry}; key pair {seeded['key_name']}")
    log(f"certificate {seeded['certificate_arn']}")
    return {**seeded, "endpoint": endpoint, "registry": registry}


def down(cache: Path) -> None:
    stop_moto(cache)
    stop_load_balancer()
    for name in instance_containers():
        docker("rm", "-f", "-v", name)
        docker("volume", "rm", f"{name}-docker")
        log(f"removed instance container {name}")
    stop_registry()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=["up", "down"])
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE)
    args = parser.parse_args(argv)
    cache = args.cache_dir.resolve()
    if args.action == "up":
        up(cache)
    else:
        down(cache)
    return 0


if __name__ == "__main__":
    sys.exit(main())
