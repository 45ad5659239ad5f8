"""EC2's data plane for the local AWS: one Debian 13 systemd container per running instance.

Runs inside the moto launcher (moto_server.py, RAGSTACK_HARNESS_INSTANCES=1) and reads
moto's EC2 backend in-process, so it adds no request to moto's log (the e2e tests count
those). Every POLL_SECONDS it makes the containers match the instances moto has running:

- a running instance without a container gets one, from the image standing in for the AMI
  (ragstack-local/ec2-host: sshd, cloud-init, user `admin` with passwordless sudo, as on
  Debian's AMI), named after the instance id and labelled with its private IP. Before it
  starts, cloud-init's NoCloud seed gets what EC2's metadata gives it (the instance id and
  the launch template's user data, which moto keeps on the instance), so cloud-init runs
  the same user data at first boot as on EC2; then the instance's key pair (KeyName) goes
  into admin's authorized_keys, as cloud-init does there;
- a container whose instance is no longer running (terminated, replaced by the Auto Scaling
  group, or forgotten by a moto reset or restart) is removed with its Docker volume.

The controller reaches an instance by its private IP through an SSH ProxyCommand that
finds the container by that label (inventories/local): real SSH, no network route to
the VPC's addresses. Instances reach the local AWS and the registry standing in for ECR
on their own 127.0.0.1 (units baked into the host image), through Unix sockets this agent
serves in a directory mounted into every instance, much like VPC endpoints.
"""

from __future__ import annotations

import base64
import io
import os
import socket
import socketserver
import subprocess
import sys
import tarfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

POLL_SECONDS = 1.0
HOST_IMAGE = os.environ.get("RAGSTACK_HARNESS_HOST_IMAGE", "ragstack-local/ec2-host:latest")
BIND_ADDRESS = "127.0.0.1"
REGISTRY_PORT = int(os.environ.get("RAGSTACK_HARNESS_REGISTRY_PORT", "5055"))
VPC_DIR = Path(os.environ.get("RAGSTACK_HARNESS_VPC_DIR", ".cache/local-aws/vpc")).resolve()
# Inside every instance (tests/harness/ec2-host/): 127.0.0.1:5001 and :5055 lead to these.
VPC_MOUNT = "/mnt/ragstack-vpc"
LABEL_HARNESS = "ragstack.harness"
LABEL_INSTANCE = "ragstack.instance-id"
LABEL_STACK = "ragstack.stack"
LABEL_PRIVATE_IP = "ragstack.private-ip"
AMI_USER = "admin"
# Which agent made a container: the port of its moto (set by start_in_background).
AGENT_ID = ""


@dataclass(frozen=True)
class Instance:
    instance_id: str
    private_ip: str
    stack: str
    public_key: str


def log(message: str) -> None:
    print(f"[instance-agent] {message}", file=sys.stderr, flush=True)


def docker(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["docker", *args], input=stdin, capture_output=True, text=True, check=False
    )


def running_instances() -> dict[str, Instance]:
    """Every running instance in every account and region moto has touched."""
    from moto.ec2.models import ec2_backends

    found: dict[str, Instance] = {}
    for account_id in list(ec2_backends.keys()):
        regions = ec2_backends[account_id]
        # keys(): only the regions already in use; indexing would create the others.
        for region in list(regions.keys()):
            backend = regions[region]
            for reservation in list(backend.reservations.values()):
                for instance in list(reservation.instances):
                    if instance.state != "running":
                        continue
                    tags = {t["key"]: t["value"] for t in instance.get_tags()}
                    key = backend.key_pairs.get(instance.key_name) if instance.key_name else None
                    found[instance.id] = Instance(
                        instance_id=instance.id,
                        private_ip=instance.private_ip or "",
                        stack=tags.get(
                            "ragstack:stack", tags.get("aws:cloudformation:stack-name", "")
                        ),
                        public_key=_public_key(key),
                    )
    return found


def _public_key(key_pair: object | None) -> str:
    material = getattr(key_pair, "material_public", b"") or b""
    return material.decode() if isinstance(material, bytes) else str(material)


def containers() -> dict[str, str]:
    """instance id -> container state, for the containers this agent made (another moto's
    agent, e.g. a test's on another port, keeps its own)."""
    listed = docker(
        "ps", "-a", "--filter", f"label={LABEL_HARNESS}={AGENT_ID}",
        "--format", f'{{{{.Label "{LABEL_INSTANCE}"}}}} {{{{.State}}}}',
    )  # fmt: skip
    return dict(line.split(" ", 1) for line in listed.stdout.splitlines() if " " in line)


def container_addresses() -> dict[str, str]:
    """instance id -> the IP of its container on Docker's bridge, for every container
    labelled with an instance id (whichever agent made it): the load balancer's targets
    (load_balancer.py). Reachable from this host and from other containers, as a private
    IP is from the ALB; the instances publish no port on the host."""
    listed = docker("ps", "-q", "--filter", f"label={LABEL_INSTANCE}").stdout.split()
    if not listed:
        return {}
    inspected = docker(
        "inspect", "--format",
        f'{{{{index .Config.Labels "{LABEL_INSTANCE}"}}}} '
        "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}",
        *listed,
    )  # fmt: skip
    found: dict[str, str] = {}
    for line in inspected.stdout.splitlines():
        instance_id, *addresses = line.split()
        if addresses:
            found[instance_id] = addresses[0]
    return found


def user_data(instance_id: str) -> bytes:
    """The instance's user data as EC2 hands it to cloud-init (decoded): moto keeps the
    launch template's UserData, base64, on every instance the Auto Scaling group launches."""
    from moto.ec2.models import ec2_backends

    for account_id in list(ec2_backends.keys()):
        regions = ec2_backends[account_id]
        for region in list(regions.keys()):
            for reservation in list(regions[region].reservations.values()):
                for instance in list(reservation.instances):
                    if instance.id == instance_id:
                        encoded = instance.user_data
                        if isinstance(encoded, list):  # RunInstances keeps the query's list
                            encoded = encoded[0] if encoded else None
                        if not encoded:
                            return b""
                        # moto's Base64EncodedString, or the str/bytes older versions kept.
                        if hasattr(encoded, "as_bytes"):
                            encoded = encoded.as_bytes()
                        return base64.b64decode(encoded)
    return b""


def nocloud_seed(instance_id: str, data: bytes) -> bytes:
    """A tar of cloud-init's NoCloud seed, as EC2's metadata gives it: the instance id (cloud-init
    runs the user data once per instance id) and the user data."""
    meta = f"instance-id: {instance_id}\nlocal-hostname: {instance_id}\n".encode()
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for name, content in (("meta-data", meta), ("user-data", data)):
            info = tarfile.TarInfo(f"var/lib/cloud/seed/nocloud/{name}")
            info.size, info.mode = len(content), 0o600
            tar.addfile(info, io.BytesIO(content))
    return out.getvalue()


def launch(instance: Instance) -> None:
    """docker create the instance's host, seed cloud-init's NoCloud datasource with its user
    data (cloud-init runs it at first boot, as on EC2), start it, then install the key pair."""
    # No port is published: HTTPS reaches the instances only through the load balancer
    # (load_balancer.py, 127.0.0.1:8443), at their bridge address, as on AWS through the ALB.
    name = instance.instance_id
    # Before the container exists: a failure here leaves nothing half made behind.
    seed_tar = nocloud_seed(name, user_data(name))
    run = docker(
        "create", "--name", name, "--hostname", name,
        "--label", f"{LABEL_HARNESS}={AGENT_ID}",
        "--label", f"{LABEL_INSTANCE}={name}",
        "--label", f"{LABEL_STACK}={instance.stack}",
        "--label", f"{LABEL_PRIVATE_IP}={instance.private_ip}",
        # NET_ADMIN: the host's dockerd creates its iptables chains; SYS_PTRACE: its runc
        # enters the namespaces of containers whose processes run as other users.
        "--cap-add", "SYS_ADMIN", "--cap-add", "NET_ADMIN", "--cap-add", "SYS_PTRACE",
        "--security-opt", "seccomp=unconfined", "--security-opt", "apparmor=unconfined",
        "--cgroupns", "host",
        "-v", "/sys/fs/cgroup:/sys/fs/cgroup:rw",
        # The host's Docker data outlives a re-created container, like an EBS root volume.
        "-v", f"{name}-docker:/var/lib/docker",
        "-v", f"{VPC_DIR}:{VPC_MOUNT}",
        "--tmpfs", "/run", "--tmpfs", "/tmp",
        HOST_IMAGE, "/lib/systemd/systemd",
    )  # fmt: skip
    if run.returncode:
        log(f"{name}: docker create failed: {run.stderr.strip()}")
        return
    seed = subprocess.run(
        ["docker", "cp", "-", f"{name}:/"], input=seed_tar,
        capture_output=True, check=False,
    )  # fmt: skip
    started = docker("start", name)
    if seed.returncode or started.returncode:
        log(f"{name}: seeding or starting failed: {seed.stderr!r} {started.stderr.strip()}")
        # Gone, so the next pass makes it again rather than starting it unseeded.
        docker("rm", "-f", "-v", name)
        return
    log(f"{name}: launched ({instance.private_ip}, stack {instance.stack or '-'})")
    if instance.public_key:
        install_key(name, instance.public_key)


def install_key(name: str, public_key: str) -> None:
    script = (
        f"install -d -m 0700 -o {AMI_USER} -g {AMI_USER} ~{AMI_USER}/.ssh && "
        f"cat > ~{AMI_USER}/.ssh/authorized_keys && "
        f"chown {AMI_USER}:{AMI_USER} ~{AMI_USER}/.ssh/authorized_keys && "
        f"chmod 0600 ~{AMI_USER}/.ssh/authorized_keys"
    )
    done = docker("exec", "-i", name, "sh", "-c", script, stdin=public_key.strip() + "\n")
    if done.returncode:
        log(f"{name}: installing the key pair failed: {done.stderr.strip()}")


def remove(instance_id: str) -> None:
    docker("rm", "-f", "-v", instance_id)
    docker("volume", "rm", f"{instance_id}-docker")
    log(f"{instance_id}: removed (instance no longer running)")


def reconcile() -> None:
    wanted = running_instances()
    have = containers()
    for instance_id in sorted(set(have) - set(wanted)):
        remove(instance_id)
    for instance_id in sorted(set(wanted) - set(have)):
        launch(wanted[instance_id])
    for instance_id, state in have.items():
        if instance_id in wanted and state != "running":
            docker("start", instance_id)


class _Pump(socketserver.BaseRequestHandler):
    """One Unix-socket connection, piped both ways to 127.0.0.1:<server.target_port>."""

    def handle(self) -> None:
        try:
            upstream = socket.create_connection((BIND_ADDRESS, self.server.target_port), timeout=10)
        except OSError as error:
            log(f"{self.server.name}: {error}")
            return
        upstream.settimeout(None)
        downstream = self.request

        def copy(source: socket.socket, sink: socket.socket) -> None:
            try:
                while chunk := source.recv(65536):
                    sink.sendall(chunk)
            except OSError:
                pass
            finally:
                for sock in (sink, source):
                    try:
                        sock.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass

        back = threading.Thread(target=copy, args=(upstream, downstream), daemon=True)
        back.start()
        copy(downstream, upstream)
        back.join()
        upstream.close()


class _Endpoint(socketserver.ThreadingUnixStreamServer):
    daemon_threads = True

    def __init__(self, name: str, path: Path, target_port: int) -> None:
        self.name = name
        self.target_port = target_port
        path.unlink(missing_ok=True)
        super().__init__(str(path), _Pump)
        path.chmod(0o666)


def serve_endpoints(moto_port: int) -> None:
    VPC_DIR.mkdir(parents=True, exist_ok=True)
    for name, port in (("aws", moto_port), ("ecr", REGISTRY_PORT)):
        server = _Endpoint(name, VPC_DIR / f"{name}.sock", port)
        threading.Thread(target=server.serve_forever, name=f"endpoint-{name}", daemon=True).start()


def loop() -> None:
    while True:
        try:
            reconcile()
        except Exception as error:  # noqa: BLE001 - a bad tick must not end EC2
            log(f"reconcile failed: {error!r}")
        time.sleep(POLL_SECONDS)


def start_in_background(moto_port: int) -> None:
    global AGENT_ID
    AGENT_ID = str(moto_port)
    serve_endpoints(moto_port)
    threading.Thread(target=loop, name="instance-agent", daemon=True).start()
    log(f"running: image {HOST_IMAGE}, endpoints in {VPC_DIR}")
