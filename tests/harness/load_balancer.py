"""The stack's Application Load Balancer, locally: Debian 13's HAProxy, driven from moto.

Runs inside the moto launcher (moto_server.py, RAGSTACK_HARNESS_LB_PORT set) next to the
instance agent and reads moto's ELBv2 backend in-process. Every POLL_SECONDS it:

- finds the load balancer it stands in for: the application load balancer named
  RAGSTACK_HARNESS_LB_NAME, else the first one with an HTTPS listener on 443, and the
  target group that listener forwards to. No such listener: no container (as no ALB on
  AWS: nothing answers);
- health-checks every registered target with the target group's OWN settings (protocol,
  path, port or traffic-port, interval, timeout, healthy and unhealthy thresholds,
  matcher), from this host to the target's container on Docker's bridge (instance id ->
  container by its label, instance_agent.container_addresses). A new target is `initial`
  until it passed `healthy threshold` checks in a row and gets no traffic until then;
  `unhealthy threshold` failures in a row take it out;
- writes the HAProxy configuration with exactly the healthy registered targets as
  servers, checks it (`haproxy -c`) and reloads it gracefully (SIGUSR2 to the master,
  which keeps the listening socket: no connection is refused). The old worker finishes
  its in-flight requests and is stopped after the deregistration delay at the latest
  (`hard-stop-after`): that is the drain of a deregistered target;
- serves the health it measured back through moto (reflect_health_into_moto, a named
  moto fix: moto reports every registered target `healthy` at once), so
  DescribeTargetHealth reports initial / healthy / unhealthy / draining with AWS's
  reasons, and a deregistered target stays `draining` for the delay.

The container (ragstack-local/load-balancer, built by scripts/build_images.py) publishes
its 8443 on 127.0.0.1:RAGSTACK_HARNESS_LB_PORT only and terminates TLS with the
listener's certificate and key as moto's ACM holds them (the one local_aws.py seeded).
Like the ALB it does not verify the targets' certificates. `local_aws.py down` removes it
(label ragstack.load-balancer); a new launcher replaces a stale one of its own.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import http.client
import os
import ssl
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

POLL_SECONDS = 0.5
IMAGE = os.environ.get("RAGSTACK_HARNESS_LB_IMAGE", "ragstack-local/load-balancer:latest")
BIND_ADDRESS = "127.0.0.1"
LB_DIR = Path(os.environ.get("RAGSTACK_HARNESS_LB_DIR", ".cache/local-aws/lb")).resolve()
LB_NAME = os.environ.get("RAGSTACK_HARNESS_LB_NAME", "")
LABEL = "ragstack.load-balancer"
# Inside the container: where the configuration directory is mounted, the port HAProxy binds.
MOUNT = "/etc/ragstack-lb"
CONTAINER_PORT = 8443
# AWS's defaults where a target group leaves them out (moto stores them as given).
DEFAULT_DELAY = 300
USER_AGENT = "ELB-HealthChecker/2.0"


def log(message: str) -> None:
    print(f"[load-balancer] {message}", file=sys.stderr, flush=True)


def docker(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=False)


@dataclass(frozen=True)
class HealthCheck:
    protocol: str
    port: str  # "traffic-port" or a number
    path: str
    interval: float
    timeout: float
    healthy: int
    unhealthy: int
    codes: str

    @classmethod
    def of(cls, tg: Any) -> HealthCheck:
        return cls(
            protocol=(tg.health_check_protocol or tg.protocol or "HTTP").upper(),
            port=str(tg.health_check_port or "traffic-port"),
            path=tg.health_check_path or "/",
            interval=float(tg.health_check_interval_seconds or 30),
            timeout=float(tg.health_check_timeout_seconds or 5),
            healthy=int(tg.healthy_threshold_count or 5),
            unhealthy=int(tg.unhealthy_threshold_count or 2),
            codes=str((tg.matcher or {}).get("HttpCode", "200")),
        )


@dataclass(frozen=True)
class Route:
    """The listener the local load balancer plays and the target group behind it."""

    target_group_arn: str
    protocol: str  # towards the targets
    health: HealthCheck
    delay: int  # deregistration_delay.timeout_seconds
    certificate: bytes  # PEM: certificate then private key
    targets: dict[str, int]  # registered target id -> port


def code_matches(code: int, matcher: str) -> bool:
    """The target group's Matcher HttpCode: "200", "200,202", "200-299"."""
    for part in matcher.replace(" ", "").split(","):
        low, _, high = part.partition("-")
        if low.isdigit() and int(low) <= code <= int(high or low):
            return True
    return False


def _delay(tg: Any) -> int:
    value = tg.attributes.get("deregistration_delay.timeout_seconds", DEFAULT_DELAY)
    try:
        return int(value)
    except (TypeError, ValueError):
        return DEFAULT_DELAY


def find_route() -> Route | None:
    """The ALB this process stands in for, read from moto's backends in-process."""
    from moto.acm.models import acm_backends
    from moto.elbv2.models import elbv2_backends

    for account_id in list(elbv2_backends.keys()):
        # keys(): only the regions already in use; indexing would create the others.
        for region in list(elbv2_backends[account_id].keys()):
            backend = elbv2_backends[account_id][region]
            for balancer in list(backend.load_balancers.values()):
                if balancer.type != "application" or (LB_NAME and balancer.name != LB_NAME):
                    continue
                for listener in list(balancer.listeners.values()):
                    if listener.protocol != "HTTPS" or str(listener.port) != "443":
                        continue
                    arns = [
                        arn
                        for action in listener.default_actions
                        if action.type == "forward"
                        for arn in backend._get_target_group_arns_from(action.data)
                    ]
                    tg = backend.target_groups.get(arns[0]) if arns else None
                    if tg is None or not listener.certificate:
                        continue
                    bundle = acm_backends[account_id][region].get_certificate(listener.certificate)
                    return Route(
                        target_group_arn=tg.arn,
                        protocol=(tg.protocol or "HTTP").upper(),
                        health=HealthCheck.of(tg),
                        delay=_delay(tg),
                        certificate=bundle.cert.rstrip(b"\n") + b"\n" + bundle.key,
                        targets={t["Id"]: int(t["Port"]) for t in list(tg.targets.values())},
                    )
    return None


# --- what the load balancer measured, as moto reports it ---------------------------------

_lock = threading.Lock()
# (target group ARN, target id) -> (state, reason, description): written by the health checks.
HEALTH: dict[tuple[str, str], tuple[str, str | None, str | None]] = {}
# (target group ARN, target id) -> (monotonic deadline, port): deregistered, still draining.
DRAINING: dict[tuple[str, str], tuple[float, int]] = {}
# Targets registered again since the last tick: their health starts over.
REREGISTERED: set[tuple[str, str]] = set()
INITIAL = ("initial", "Elb.RegistrationInProgress", "Target registration is in progress")
CHECKING = ("initial", "Elb.InitialHealthChecking", "Initial health checks in progress")


def _managed(target_group: Any) -> bool:
    """Only the target group behind the played listener has measured health; any other
    keeps moto's answers (no load balancer measures it here)."""
    route = _current_route
    return route is not None and route.target_group_arn == target_group.arn


def reflect_health_into_moto() -> None:
    """moto fix (moto 5.2): DescribeTargetHealth reports every registered target `healthy`
    the moment it is registered, and a deregistered one disappears at once. AWS reports
    `initial` until the health checks pass, `unhealthy` after they fail, and `draining`
    for the deregistration delay. The target group the local load balancer serves
    reports what it measured instead (tests/local_aws/test_load_balancer.py)."""
    from moto.elbv2.models import ELBv2Backend, FakeHealthStatus, FakeTargetGroup

    health_for = FakeTargetGroup.health_for
    if getattr(health_for, "ragstack_fix", False):
        return
    register, deregister = FakeTargetGroup.register, FakeTargetGroup.deregister
    describe = ELBv2Backend.describe_target_health

    def health_for_measured(self: Any, target: dict[str, Any], ec2_backend: Any) -> Any:
        status = health_for(self, target, ec2_backend)
        if not _managed(self):
            return status
        key = (self.arn, target["Id"])
        with _lock:
            draining = DRAINING.get(key)
            measured = HEALTH.get(key, INITIAL)
        if target["Id"] not in self.targets:
            if draining and draining[0] > time.monotonic():
                return FakeHealthStatus(
                    target["Id"], str(draining[1]), self.health_check_port, "draining",
                    "Target.DeregistrationInProgress", "Target deregistration is in progress",
                )  # fmt: skip
            return status
        if status.status != "healthy":  # moto's own verdicts (a stopped instance) stand
            return status
        return FakeHealthStatus(target["Id"], status.port, self.health_check_port, *measured)

    def register_starting_over(self: Any, targets: list[dict[str, Any]]) -> None:
        # RegisterTargets on a target that is already registered changes nothing on AWS
        # (moto's Auto Scaling group registers all its instances again on every change):
        # only a new or draining target starts over as `initial`.
        new = [target for target in targets if target["Id"] not in self.targets]
        register(self, targets)
        with _lock:
            for target in new:
                key = (self.arn, target["Id"])
                DRAINING.pop(key, None)
                HEALTH[key] = INITIAL
                REREGISTERED.add(key)

    def deregister_draining(self: Any, targets: list[dict[str, Any]]) -> None:
        ids = [target["Id"] for target in targets]
        ports = {t: int(self.targets[t]["Port"]) for t in ids if t in self.targets}
        deregister(self, targets)
        if _managed(self):
            deadline = time.monotonic() + _delay(self)
            with _lock:
                for target_id, port in ports.items():
                    DRAINING[(self.arn, target_id)] = (deadline, port)
                    HEALTH.pop((self.arn, target_id), None)

    def describe_including_draining(
        self: Any, target_group_arn: str, targets: list[dict[str, Any]]
    ) -> list[Any]:
        tg = self.target_groups.get(target_group_arn)
        if not targets and tg is not None and _managed(tg):
            now = time.monotonic()
            with _lock:
                draining = [
                    {"Id": key[1], "Port": port}
                    for key, (deadline, port) in DRAINING.items()
                    if key[0] == target_group_arn and deadline > now and key[1] not in tg.targets
                ]
            targets = [*list(tg.targets.values()), *draining]
        return describe(self, target_group_arn, targets)

    for fix in (
        health_for_measured,
        register_starting_over,
        deregister_draining,
        describe_including_draining,
    ):
        fix.ragstack_fix = True
    FakeTargetGroup.health_for = health_for_measured
    FakeTargetGroup.register = register_starting_over
    FakeTargetGroup.deregister = deregister_draining
    ELBv2Backend.describe_target_health = describe_including_draining


# --- health checks -------------------------------------------------------------------------


def check(address: str, port: int, health: HealthCheck) -> tuple[bool, str | None, str | None]:
    """One health check as the ALB makes it; (passed, reason, description) as AWS words them."""
    if not address:
        return False, "Target.FailedHealthChecks", "Health checks failed"
    check_port = port if health.port == "traffic-port" else int(health.port)
    if health.protocol == "HTTPS":
        # The ALB does not verify the target's certificate (the instances' are self-signed).
        context = ssl._create_unverified_context()
        connection: http.client.HTTPConnection = http.client.HTTPSConnection(
            address, check_port, timeout=health.timeout, context=context
        )
    else:
        connection = http.client.HTTPConnection(address, check_port, timeout=health.timeout)
    try:
        connection.request("GET", health.path, headers={"User-Agent": USER_AGENT})
        code = connection.getresponse().status
    except TimeoutError:
        return False, "Target.Timeout", "Request timed out"
    except (OSError, http.client.HTTPException):
        return False, "Target.FailedHealthChecks", "Health checks failed"
    finally:
        connection.close()
    if code_matches(code, health.codes):
        return True, None, None
    return False, "Target.ResponseCodeMismatch", f"Health checks failed with these codes: [{code}]"


@dataclass
class Target:
    port: int
    state: tuple[str, str | None, str | None] = INITIAL
    passes: int = 0
    failures: int = 0
    next_check: float = 0.0
    pending: concurrent.futures.Future | None = None

    def record(self, passed: bool, reason: str | None, description: str | None, hc: HealthCheck):
        if passed:
            self.passes, self.failures = self.passes + 1, 0
            if self.state[0] != "healthy" and self.passes >= hc.healthy:
                self.state = ("healthy", None, None)
            elif self.state[0] == "initial":
                self.state = CHECKING
        else:
            self.passes, self.failures = 0, self.failures + 1
            if self.state[0] == "unhealthy" or self.failures >= hc.unhealthy:
                self.state = ("unhealthy", reason, description)
            elif self.state[0] == "initial":
                self.state = CHECKING


def render(route: Route, servers: list[tuple[str, str, int]], certificate: str) -> str:
    """HAProxy's configuration: the listener, and the healthy registered targets only."""
    tls = " ssl verify none" if route.protocol == "HTTPS" else ""
    lines = [
        "# Written by tests/harness/load_balancer.py; every change is checked, then reloaded.",
        "global",
        "    master-worker",
        "    user haproxy",
        "    group haproxy",
        # An old worker (after a reload) finishes its requests within the target group's
        # deregistration delay, then stops: the drain of a deregistered target.
        f"    hard-stop-after {max(route.delay, 1)}s",
        "    log stdout format raw local0 notice",
        "defaults",
        "    mode http",
        "    log global",
        "    option dontlognull",
        # The ALB: 10 s to connect to a target, a 60 s idle timeout, no retry elsewhere.
        "    timeout connect 10s",
        "    timeout client 60s",
        "    timeout server 60s",
        "    timeout http-request 60s",
        "    retries 0",
        "frontend https",
        f"    bind :{CONTAINER_PORT} ssl crt {MOUNT}/{certificate}",
        "    option forwardfor",
        "    http-request set-header X-Forwarded-Proto https",
        "    http-request set-header X-Forwarded-Port 443",
        "    default_backend targets",
        "backend targets",
        # The ALB's default routing algorithm (round_robin). No servers: 503, as the ALB
        # answers when no target is healthy.
        "    balance roundrobin",
        *(f"    server {name} {address}:{port}{tls}" for name, address, port in servers),
        "",
    ]
    return "\n".join(lines)


@dataclass
class LoadBalancer:
    host_port: int
    agent_id: str
    directory: Path = LB_DIR
    targets: dict[str, Target] = field(default_factory=dict)
    config: str = ""
    addresses: dict[str, str] = field(default_factory=dict)
    addresses_at: float = 0.0
    reloads: int = 0

    def __post_init__(self) -> None:
        self.name = f"ragstack-local-lb-{self.agent_id}"
        self.pool = concurrent.futures.ThreadPoolExecutor(max_workers=8, thread_name_prefix="hc")

    # -- the container --

    def running(self) -> bool:
        state = docker("inspect", "--format", "{{.State.Running}}", self.name).stdout
        return state.strip() == "true"

    def start(self, config: str) -> bool:
        docker("rm", "-f", self.name)
        (self.directory / "haproxy.cfg").write_text(config)
        started = docker(
            "run", "-d", "--name", self.name, "--label", f"{LABEL}={self.agent_id}",
            "--read-only", "--tmpfs", "/tmp", "--tmpfs", "/run",
            # The master reads the key as root, the workers run as haproxy; KILL: the
            # master soft-stops the old worker (another user) after a reload.
            "--cap-drop", "ALL", "--cap-add", "SETUID", "--cap-add", "SETGID",
            "--cap-add", "KILL",
            "--security-opt", "no-new-privileges",
            "-v", f"{self.directory}:{MOUNT}:ro",
            "-p", f"{BIND_ADDRESS}:{self.host_port}:{CONTAINER_PORT}",
            IMAGE,
        )  # fmt: skip
        if started.returncode:
            log(f"docker run failed: {started.stderr.strip()}")
            return False
        log(f"serving https://{BIND_ADDRESS}:{self.host_port} ({self.name})")
        return True

    def stop(self) -> None:
        if docker("ps", "-aq", "--filter", f"name=^{self.name}$").stdout.strip():
            docker("rm", "-f", self.name)
            log(f"{self.name} removed")
        self.config = ""

    def apply(self, config: str) -> bool:
        """Check the new configuration with HAProxy itself, then reload gracefully."""
        candidate = self.directory / "haproxy.cfg.new"
        candidate.write_text(config)
        checked = docker("exec", self.name, "haproxy", "-c", "-q", "-f", f"{MOUNT}/haproxy.cfg.new")
        if checked.returncode:
            log(f"configuration refused, kept the running one: {checked.stderr.strip()}")
            return False
        os.replace(candidate, self.directory / "haproxy.cfg")
        docker("kill", "--signal", "USR2", self.name)
        self.reloads += 1
        return True

    # -- one tick --

    def container_addresses(self, wanted: set[str]) -> dict[str, str]:
        """Bridge IPs, asked of Docker when a target is new to us and every few seconds
        (a restarted container gets a new one); an IP target is its own address."""
        import instance_agent

        now = time.monotonic()
        if not wanted <= set(self.addresses) or now - self.addresses_at > 5:
            self.addresses = instance_agent.container_addresses()
            self.addresses_at = now
        return {t: (self.addresses.get(t, "") if t.startswith("i-") else t) for t in wanted}

    def tick(self) -> None:
        global _current_route
        route = find_route()
        _current_route = route
        if route is None:
            if self.config:
                self.stop()
                self.targets.clear()
            return
        with _lock:
            restarted = {k[1] for k in REREGISTERED if k[0] == route.target_group_arn}
            REREGISTERED.clear()
        for target_id in list(self.targets):
            if target_id not in route.targets or target_id in restarted:
                del self.targets[target_id]
        for target_id, port in route.targets.items():
            self.targets.setdefault(target_id, Target(port=port))
        addresses = self.container_addresses(set(route.targets))
        now = time.monotonic()
        for target_id, target in self.targets.items():
            if target.pending is not None and target.pending.done():
                target.record(*target.pending.result(), route.health)
                target.pending = None
            if target.pending is None and now >= target.next_check:
                target.next_check = now + route.health.interval
                target.pending = self.pool.submit(
                    check, addresses[target_id], target.port, route.health
                )
        with _lock:
            for target_id, target in self.targets.items():
                HEALTH[(route.target_group_arn, target_id)] = target.state
        servers = [
            (target_id, addresses[target_id], target.port)
            for target_id, target in sorted(self.targets.items())
            if target.state[0] == "healthy" and addresses[target_id]
        ]
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        certificate = f"listener-{hashlib.sha256(route.certificate).hexdigest()[:16]}.pem"
        pem = self.directory / certificate
        if not pem.exists():
            pem.touch(mode=0o600)
            pem.write_bytes(route.certificate)
        config = render(route, servers, certificate)
        if config == self.config and self.running():
            return
        if not self.config or not self.running():
            if self.start(config):
                self.config = config
        elif self.apply(config):
            log(f"reloaded: {len(servers)} healthy target(s) {[s[0] for s in servers]}")
            self.config = config


_current_route: Route | None = None


def loop(balancer: LoadBalancer) -> None:
    while True:
        try:
            balancer.tick()
        except Exception as error:  # noqa: BLE001 - a bad tick must not end the load balancer
            log(f"tick failed: {error!r}")
        time.sleep(POLL_SECONDS)


def start_in_background(moto_port: int, host_port: int) -> LoadBalancer:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    reflect_health_into_moto()
    balancer = LoadBalancer(host_port=host_port, agent_id=str(moto_port))
    balancer.stop()  # a stale one of a launcher on this port that was killed
    threading.Thread(target=loop, args=(balancer,), name="load-balancer", daemon=True).start()
    log(f"running: image {IMAGE}, 127.0.0.1:{host_port}, configuration in {LB_DIR}")
    return balancer
