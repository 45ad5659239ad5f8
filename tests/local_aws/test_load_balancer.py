"""The local load balancer standing in for the ALB (tests/harness/load_balancer.py).

A moto through the launcher with the load balancer on a random 127.0.0.1 port, an ALB with
an HTTPS:443 listener and a target group whose own health check is fast (5 s interval, 2
and 2 thresholds, a 6 s deregistration delay), and three throwaway HTTPS backends in
containers labelled with moto instance ids as the instance agent labels instances. Each
answers its name, /slow?s=N after N seconds, and /health with the code in a file the test
writes. The tests run in order on the one fleet (module scope): about 50 s in all.
"""

from __future__ import annotations

import datetime
import http.client
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import moto_kit
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

pytestmark = pytest.mark.docker

BACKEND_IMAGE = "ragstack-local/python:latest"
LB_IMAGE = "ragstack-local/load-balancer:latest"
INTERVAL, HEALTHY, UNHEALTHY, DELAY = 5, 2, 2, 6
BACKEND = r"""
import http.server, pathlib, ssl, sys, time
NAME, HEALTH = sys.argv[1], pathlib.Path("/state/health")

class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        code, body = 200, NAME
        if self.path.startswith("/health"):
            code = int(HEALTH.read_text()) if HEALTH.exists() else 200
        elif self.path.startswith("/slow"):
            time.sleep(float(self.path.split("=", 1)[1]))
            body = "slow " + NAME
        data = body.encode()
        self.send_response(code)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass

server = http.server.ThreadingHTTPServer(("", 443), Handler)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain("/certs/cert.pem", "/certs/key.pem")
server.socket = context.wrap_socket(server.socket, server_side=True)
server.serve_forever()
"""


def docker(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=False)


def self_signed(name: str) -> tuple[bytes, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), False)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM), key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def get(port: int, path: str = "/", timeout: float = 20) -> tuple[int, str]:
    """One request on a new connection (so round robin shows); (0, error) when it failed."""
    context = ssl._create_unverified_context()
    connection = http.client.HTTPSConnection("127.0.0.1", port, timeout=timeout, context=context)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read().decode()
    except (OSError, http.client.HTTPException) as error:
        return 0, repr(error)
    finally:
        connection.close()


@dataclass
class Fleet:
    aws: Callable[..., object]
    lb_port: int
    moto_port: int
    target_group_arn: str
    instances: dict[str, str]  # backend name -> instance id
    state_dirs: dict[str, Path]

    def register(self, *names: str) -> None:
        self.aws("elbv2").register_targets(
            TargetGroupArn=self.target_group_arn,
            Targets=[{"Id": self.instances[n]} for n in names],
        )

    def deregister(self, *names: str) -> None:
        self.aws("elbv2").deregister_targets(
            TargetGroupArn=self.target_group_arn,
            Targets=[{"Id": self.instances[n]} for n in names],
        )

    def health(self) -> dict[str, dict[str, str]]:
        """backend name -> TargetHealth, for every target DescribeTargetHealth lists."""
        names = {i: n for n, i in self.instances.items()}
        described = self.aws("elbv2").describe_target_health(TargetGroupArn=self.target_group_arn)
        return {
            names[d["Target"]["Id"]]: d["TargetHealth"]
            for d in described["TargetHealthDescriptions"]
        }

    def wait_state(self, name: str, state: str, timeout: float = 30) -> float:
        started = time.monotonic()
        while (self.health().get(name) or {}).get("State") != state:
            assert time.monotonic() - started < timeout, (name, state, self.health())
            time.sleep(0.25)
        return time.monotonic() - started

    def set_health(self, name: str, code: int) -> None:
        (self.state_dirs[name] / "health").write_text(str(code))

    def sample(self, count: int = 20) -> list[tuple[int, str]]:
        return [get(self.lb_port) for _ in range(count)]

    def settle(self) -> None:
        """Past the load balancer's next tick and reload (POLL_SECONDS is 0.5)."""
        time.sleep(1.5)


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    for image in (BACKEND_IMAGE, LB_IMAGE):
        if docker("image", "inspect", image).returncode:
            pytest.fail(f"{image} is missing: `make images`")
    root = tmp_path_factory.mktemp("load-balancer")
    lb_port = moto_kit.free_port()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RAGSTACK_HARNESS_LB_PORT", str(lb_port))
        patch.setenv("RAGSTACK_HARNESS_LB_DIR", str(root / "lb"))
        server = moto_kit.moto_server(root / "moto_server.log")
        endpoint = server.__enter__()
    moto_port = int(endpoint.rsplit(":", 1)[1])
    label = f"ragstack.lb-test={moto_port}"
    try:
        yield _build_fleet(moto_kit.client_factory(endpoint), lb_port, moto_port, root, label)
    finally:
        server.__exit__(None, None, None)
        for container in docker("ps", "-aq", "--filter", f"label={label}").stdout.split():
            docker("rm", "-f", container)
        # The launcher is gone; its load balancer container is left to whoever stops it
        # (local_aws.py down for the harness's), here the test.
        for container in docker(
            "ps", "-aq", "--filter", f"label=ragstack.load-balancer={moto_port}"
        ).stdout.split():
            docker("rm", "-f", container)


def _build_fleet(
    aws: Callable[..., object], lb_port: int, moto_port: int, root: Path, label: str
) -> Fleet:
    ec2, elbv2, acm = aws("ec2"), aws("elbv2"), aws("acm")
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.9.{i}.0/24", AvailabilityZone=f"us-east-1{z}")[
            "Subnet"
        ]["SubnetId"]
        for i, z in ((1, "a"), (2, "b"))
    ]
    body, key = self_signed("lb.test")
    certificate = acm.import_certificate(Certificate=body, PrivateKey=key)["CertificateArn"]
    balancer = elbv2.create_load_balancer(Name="lb-test", Subnets=subnets, Type="application")
    target_group = elbv2.create_target_group(
        Name="lb-test",
        Protocol="HTTPS",
        Port=443,
        VpcId=vpc,
        TargetType="instance",
        HealthCheckProtocol="HTTPS",
        HealthCheckPath="/health",
        HealthCheckIntervalSeconds=INTERVAL,
        HealthCheckTimeoutSeconds=2,
        HealthyThresholdCount=HEALTHY,
        UnhealthyThresholdCount=UNHEALTHY,
        Matcher={"HttpCode": "200"},
    )["TargetGroups"][0]["TargetGroupArn"]
    elbv2.modify_target_group_attributes(
        TargetGroupArn=target_group,
        Attributes=[{"Key": "deregistration_delay.timeout_seconds", "Value": str(DELAY)}],
    )
    elbv2.create_listener(
        LoadBalancerArn=balancer["LoadBalancers"][0]["LoadBalancerArn"],
        Protocol="HTTPS",
        Port=443,
        Certificates=[{"CertificateArn": certificate}],
        DefaultActions=[{"Type": "forward", "TargetGroupArn": target_group}],
    )
    image = ec2.describe_images()["Images"][0]["ImageId"]
    reservation = ec2.run_instances(ImageId=image, MinCount=3, MaxCount=3, SubnetId=subnets[0])
    ids = sorted(i["InstanceId"] for i in reservation["Instances"])
    certs = root / "certs"
    certs.mkdir()
    cert, cert_key = self_signed("target")
    (certs / "cert.pem").write_bytes(cert)
    (certs / "key.pem").write_bytes(cert_key)
    (root / "backend.py").write_text(BACKEND)
    instances, state_dirs = {}, {}
    for name, instance_id in zip(("a", "b", "c"), ids, strict=True):
        state = root / f"state-{name}"
        state.mkdir()
        started = docker(
            "run", "-d", "--label", label, "--label", f"ragstack.instance-id={instance_id}",
            "-v", f"{certs}:/certs:ro", "-v", f"{state}:/state:ro",
            "-v", f"{root / 'backend.py'}:/backend.py:ro",
            BACKEND_IMAGE, "python3", "/backend.py", name,
        )  # fmt: skip
        assert started.returncode == 0, started.stderr
        instances[name], state_dirs[name] = instance_id, state
    fleet = Fleet(aws, lb_port, moto_port, target_group, instances, state_dirs)
    # The load balancer answers once its listener exists: 503 with no target registered.
    deadline = time.monotonic() + 30
    while get(lb_port)[0] != 503:
        assert time.monotonic() < deadline, "the load balancer never answered 503"
        time.sleep(0.5)
    return fleet


def test_a_new_target_gets_no_traffic_until_it_passed_the_healthy_threshold(fleet: Fleet):
    fleet.register("a")
    assert fleet.health()["a"]["State"] == "initial"
    assert fleet.health()["a"]["Reason"] in {
        "Elb.RegistrationInProgress",
        "Elb.InitialHealthChecking",
    }
    while_initial = []
    while fleet.health()["a"]["State"] == "initial":
        while_initial.append(get(fleet.lb_port)[0])
        time.sleep(0.3)
    assert fleet.health()["a"]["State"] == "healthy"
    assert len(while_initial) >= 5, while_initial
    assert set(while_initial) == {503}, while_initial
    fleet.settle()
    assert fleet.sample(5) == [(200, "a")] * 5  # the positive control: a gets traffic now

    fleet.register("b")
    assert fleet.health()["b"]["State"] == "initial"
    during = fleet.sample(10)
    assert fleet.health()["b"]["State"] == "initial"
    assert during == [(200, "a")] * 10
    elapsed = fleet.wait_state("b", "healthy")
    assert elapsed >= INTERVAL * (HEALTHY - 1) - 4
    fleet.settle()
    assert {body for _, body in fleet.sample(10)} == {"a", "b"}
    # c was never registered: it never answers, and moto does not list it.
    assert "c" not in fleet.health()

    # Registering a registered target again (moto's Auto Scaling group does it on every
    # change) is a no-op, as on AWS: it stays healthy and keeps its traffic (the control
    # is b above: a target that was not registered starts `initial`).
    fleet.register("a", "b")
    assert fleet.health()["a"]["State"] == "healthy"
    fleet.settle()
    assert {fleet.health()[n]["State"] for n in ("a", "b")} == {"healthy"}
    assert {body for _, body in fleet.sample(10)} == {"a", "b"}


def test_an_unhealthy_target_is_taken_out_after_the_unhealthy_threshold(fleet: Fleet):
    assert {body for _, body in fleet.sample(6)} == {"a", "b"}  # the control: b serves
    fleet.set_health("b", 500)
    started = time.monotonic()
    while (state := fleet.health()["b"])["State"] != "unhealthy":
        assert time.monotonic() - started < 30, state
        time.sleep(0.25)
    elapsed = time.monotonic() - started
    # UNHEALTHY failures in a row, an interval apart: one failure alone does not do it.
    assert elapsed >= INTERVAL * (UNHEALTHY - 1) - 1, f"unhealthy after {elapsed:.1f}s"
    assert state["Reason"] == "Target.ResponseCodeMismatch"
    assert "[500]" in state["Description"]
    fleet.settle()
    assert fleet.sample(10) == [(200, "a")] * 10

    fleet.set_health("b", 200)
    fleet.wait_state("b", "healthy")
    fleet.settle()
    assert {body for _, body in fleet.sample(6)} == {"a", "b"}


def test_deregistration_drains_in_flight_requests_and_sends_new_ones_elsewhere(fleet: Fleet):
    assert {body for _, body in fleet.sample(6)} == {"a", "b"}  # the control: b serves
    results: list[tuple[int, str]] = []

    def slow() -> None:
        results.append(get(fleet.lb_port, f"/slow?s={DELAY - 2}"))

    # Round robin: of four in flight, two are on b when it is deregistered.
    threads = [threading.Thread(target=slow) for _ in range(4)]
    for thread in threads:
        thread.start()
        time.sleep(0.05)
    time.sleep(0.5)
    fleet.deregister("b")
    deregistered = time.monotonic()
    assert fleet.health()["b"]["State"] == "draining"
    assert fleet.health()["b"]["Reason"] == "Target.DeregistrationInProgress"
    fleet.settle()
    assert fleet.sample(10) == [(200, "a")] * 10  # no new request reaches b
    for thread in threads:
        thread.join(timeout=DELAY + 10)
    assert sorted(results) == [(200, "slow a")] * 2 + [(200, "slow b")] * 2
    assert time.monotonic() - deregistered < DELAY + 1
    # After the delay b is gone from the target group's list.
    while "b" in fleet.health():
        assert time.monotonic() - deregistered < DELAY + 3, fleet.health()
        time.sleep(0.25)
    assert time.monotonic() - deregistered >= DELAY - 1


def test_no_request_fails_across_reloads(fleet: Fleet):
    logs_before = docker("logs", f"ragstack-local-lb-{fleet.moto_port}").stderr
    stop = threading.Event()

    def reload_again_and_again() -> None:
        while not stop.is_set():
            docker("kill", "--signal", "USR2", f"ragstack-local-lb-{fleet.moto_port}")
            time.sleep(0.2)

    reloader = threading.Thread(target=reload_again_and_again)
    reloader.start()
    try:
        statuses = [get(fleet.lb_port)[0] for _ in range(200)]
    finally:
        stop.set()
        reloader.join()
    logs = docker("logs", f"ragstack-local-lb-{fleet.moto_port}").stderr
    reloads = logs.count("Reloading HAProxy") - logs_before.count("Reloading HAProxy")
    assert reloads >= 5, logs[-2000:]
    assert statuses.count(200) == 200, {s: statuses.count(s) for s in set(statuses)}
    # The positive control: the same request counts a refused connection as a failure.
    assert get(moto_kit.free_port())[0] == 0


def test_a_broken_configuration_is_refused_and_the_running_one_kept(fleet: Fleet, tmp_path):
    """The check before every reload: HAProxy's own `haproxy -c` in the container."""
    from harness import load_balancer

    balancer = load_balancer.LoadBalancer(
        host_port=fleet.lb_port, agent_id=str(fleet.moto_port), directory=tmp_path
    )
    lb_dir = Path(
        docker(
            "inspect", "--format", "{{range .Mounts}}{{.Source}}{{end}}",
            f"ragstack-local-lb-{fleet.moto_port}",
        ).stdout.strip()
    )  # fmt: skip
    balancer.directory = lb_dir
    running = (lb_dir / "haproxy.cfg").read_text()
    assert not balancer.apply(running.replace("balance roundrobin", "balance no-such-algorithm"))
    assert (lb_dir / "haproxy.cfg").read_text() == running
    assert fleet.sample(3) == [(200, "a")] * 3


def test_plain_moto_reports_a_registered_target_healthy_at_once(plain_moto):
    """The gap reflect_health_into_moto closes: remove the fix once this fails."""
    ec2, elbv2 = plain_moto("ec2"), plain_moto("elbv2")
    vpc = ec2.create_vpc(CidrBlock="10.8.0.0/16")["Vpc"]["VpcId"]
    target_group = elbv2.create_target_group(
        Name="plain", Protocol="HTTPS", Port=443, VpcId=vpc, HealthCheckPath="/health"
    )["TargetGroups"][0]["TargetGroupArn"]
    image = ec2.describe_images()["Images"][0]["ImageId"]
    instance = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1)["Instances"][0]
    elbv2.register_targets(TargetGroupArn=target_group, Targets=[{"Id": instance["InstanceId"]}])
    (described,) = elbv2.describe_target_health(TargetGroupArn=target_group)[
        "TargetHealthDescriptions"
    ]
    assert described["TargetHealth"]["State"] == "healthy", (
        "moto no longer reports a new target healthy at once: reflect_health_into_moto in "
        "tests/harness/load_balancer.py may go"
    )
    elbv2.deregister_targets(TargetGroupArn=target_group, Targets=[{"Id": instance["InstanceId"]}])
    listed = elbv2.describe_target_health(TargetGroupArn=target_group)["TargetHealthDescriptions"]
    assert listed == [], "moto now lists a draining target: the draining part of the fix may go"
