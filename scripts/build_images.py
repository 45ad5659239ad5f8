#!/usr/bin/env python3
"""Build ragstack's Docker images from Debian packages only, cached by content.

No registry images are used: Debian 13 (trixie) is debootstrapped into
build/base/, imported as ragstack-local/debian13-minbase, and every other
base image is a small Dockerfile under docker/base/ on top of it. The service
images (services/*/Dockerfile) are built on those bases.

Each base image carries a label with a hash of its inputs; a run whose inputs
have not changed does nothing. Service images rely on Docker's layer cache.

    .venv/bin/python scripts/build_images.py            # everything
    .venv/bin/python scripts/build_images.py --only base
    .venv/bin/python scripts/build_images.py --only services --skip-model
    .venv/bin/python scripts/build_images.py --list

Stdlib only, so it runs before (or without) the project's venv.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE_DIR = ROOT / "build" / "base"
DOCKERFILES = ROOT / "docker" / "base"
HASH_LABEL = "org.ragstack.content-hash"

SUITE = "trixie"
MIRROR = "http://deb.debian.org/debian"
MINBASE_INCLUDE = ["ca-certificates"]

# Everything written into the rootfs is part of the minbase hash.
DPKG_NODOC = """\
# Docs, man pages and translations are dead weight in a container image.
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
path-exclude /usr/share/lintian/*
"""
APT_CONF = """\
APT::Install-Recommends "false";
APT::Install-Suggests "false";
Acquire::Languages "none";
Acquire::GzipIndexes "true";
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb || true"; };
"""
# Plain http on purpose: apt verifies signatures itself, and http needs no CA.
APT_SOURCES = f"""\
Types: deb
URIs: {MIRROR}
Suites: {SUITE} {SUITE}-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: {SUITE}-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
"""
SYSTEM_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
# Tools that ignore the system store unless told. Pointing them at Debian's
# bundle is a no-op on an ordinary machine and what makes extra CAs work.
CA_ENV = {
    "SSL_CERT_FILE": SYSTEM_BUNDLE,
    "REQUESTS_CA_BUNDLE": SYSTEM_BUNDLE,
    "PIP_CERT": SYSTEM_BUNDLE,
    "NODE_EXTRA_CA_CERTS": SYSTEM_BUNDLE,
}
IMPORT_CHANGES = [
    "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "ENV LANG=C.UTF-8",
    *(f"ENV {k}={v}" for k, v in CA_ENV.items()),
    'CMD ["/bin/bash"]',
]
MINBASE_RECIPE_VERSION = 1  # bump to force a rebuild after changing the steps below

PEM_RE = re.compile(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", re.S)


@dataclass
class Image:
    name: str
    group: str  # "base" or "services"
    parent: str | None = None
    dockerfile: Path | None = None
    context: Path | None = None
    target: str | None = None
    slow: bool = False
    needs: list[str] = field(default_factory=list)

    @property
    def short(self) -> str:
        return self.name.split("/", 1)[1].rsplit(":", 1)[0]


MINBASE = "ragstack-local/debian13-minbase:latest"
PYTHON = "ragstack-local/python:latest"
PYTHON_TORCH = "ragstack-local/python-torch:latest"
NODE = "ragstack-local/node:latest"
SYSTEMD = "ragstack-local/debian13-systemd:latest"
COMPOSE = "ragstack-local/compose:latest"
NGINX = "ragstack-local/nginx:latest"
REGISTRY = "ragstack-local/registry:latest"
EC2_HOST = "ragstack-local/ec2-host:latest"
LOAD_BALANCER = "ragstack-local/load-balancer:latest"
HARNESS_DIR = ROOT / "tests" / "harness"
REGISTRY_DIR = HARNESS_DIR / "registry"
EC2_HOST_DIR = HARNESS_DIR / "ec2-host"
ALB_DIR = HARNESS_DIR / "alb"
EMBED_DIR = ROOT / "services" / "embedding_service"
ORCH_DIR = ROOT / "services" / "orchestrator"

IMAGES = [
    Image(MINBASE, "base"),
    Image(SYSTEMD, "base", MINBASE, DOCKERFILES / "systemd.Dockerfile"),
    Image(PYTHON, "base", MINBASE, DOCKERFILES / "python.Dockerfile"),
    Image(PYTHON_TORCH, "base", PYTHON, DOCKERFILES / "python-torch.Dockerfile", slow=True),
    Image(NODE, "base", MINBASE, DOCKERFILES / "node.Dockerfile"),
    Image(COMPOSE, "base", MINBASE, DOCKERFILES / "compose.Dockerfile"),
    Image(NGINX, "base", MINBASE, DOCKERFILES / "nginx.Dockerfile"),
    # The local stand-in for ECR's registry endpoint (tests/harness/local_aws.py starts it).
    Image(REGISTRY, "base", MINBASE, REGISTRY_DIR / "Dockerfile", REGISTRY_DIR),
    # The local stand-in for the EC2 AMI (tests/harness/instance_agent.py runs one per instance).
    Image(EC2_HOST, "base", SYSTEMD, EC2_HOST_DIR / "Dockerfile", EC2_HOST_DIR),
    # The local stand-in for the stack's ALB (tests/harness/load_balancer.py runs it).
    Image(LOAD_BALANCER, "base", MINBASE, ALB_DIR / "Dockerfile", ALB_DIR),
    Image(
        "ragstack/embedding-service:slim",
        "services",
        PYTHON,
        EMBED_DIR / "Dockerfile",
        EMBED_DIR,
        target="slim",
    ),
    Image(
        "ragstack/embedding-service:model",
        "services",
        PYTHON_TORCH,
        EMBED_DIR / "Dockerfile",
        EMBED_DIR,
        target="model",
        slow=True,
    ),
    # The model image under the Lambda Runtime Interface Client (a container-image function).
    Image(
        "ragstack/embedding-service:lambda",
        "services",
        PYTHON_TORCH,
        EMBED_DIR / "Dockerfile",
        EMBED_DIR,
        target="lambda",
        slow=True,
    ),
    Image("ragstack/orchestrator:latest", "services", NODE, ORCH_DIR / "Dockerfile", ORCH_DIR),
]
BY_NAME = {i.name: i for i in IMAGES}


class BuildError(Exception):
    pass


def log(msg: str) -> None:
    print(f"[build_images] {msg}", flush=True)


def run(cmd: list[str], check: bool = True, **kw) -> subprocess.CompletedProcess:
    """The one place that spawns processes: fixed argv lists, never a shell."""
    try:
        return subprocess.run(cmd, check=check, **kw)  # noqa: S603
    except subprocess.CalledProcessError as exc:
        raise BuildError(f"command failed ({exc.returncode}): {' '.join(cmd)}") from exc


def capture(cmd: list[str]) -> subprocess.CompletedProcess:
    return run(cmd, check=False, capture_output=True, text=True)


def docker_env() -> dict[str, str]:
    # The legacy builder everywhere: buildx is not packaged for every host
    # this runs on, and one builder keeps the Dockerfiles' feature set honest.
    return {**os.environ, "DOCKER_BUILDKIT": "0"}


def require_docker() -> None:
    if not shutil.which("docker"):
        raise BuildError("docker not found: install it with `apt-get install docker.io`")
    probe = capture(["docker", "info"])
    if probe.returncode != 0:
        raise BuildError(
            "the Docker engine is not reachable (`docker info` failed): start it, e.g. "
            "`systemctl start docker` or, without systemd, "
            "`nohup dockerd >/var/log/dockerd.log 2>&1 &`\n" + probe.stderr.strip()
        )


def require_debootstrap() -> None:
    if not shutil.which("debootstrap"):
        raise BuildError(
            "debootstrap not found (needed once to create the Debian 13 rootfs): "
            "install it with `apt-get install debootstrap`"
        )
    if os.geteuid() != 0:
        raise BuildError("debootstrap needs root: run this script as root (or via sudo)")


def inspect(name: str) -> dict | None:
    out = capture(["docker", "image", "inspect", name])
    if out.returncode != 0:
        return None
    return json.loads(out.stdout)[0]


def label_of(name: str) -> str | None:
    info = inspect(name)
    if info is None:
        return None
    return ((info.get("Config") or {}).get("Labels") or {}).get(HASH_LABEL)


def size_of(name: str) -> str:
    info = inspect(name)
    return f"{info['Size'] / 1e6:.0f} MB" if info else "absent"


def sha256(*parts: str | bytes) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(p.encode() if isinstance(p, str) else p)
        h.update(b"\0")
    return h.hexdigest()


# --- extra CA ---------------------------------------------------------------
# This machine's egress intercepts TLS: pip, npm and curl inside a container
# only reach PyPI/npm when they trust the host's CA bundle, which holds the
# interception CA. Certificates the host trusts and Debian does not are added
# to the image's trust store. On an ordinary machine that set is (nearly)
# empty, so this is safe to leave on; RAGSTACK_EXTRA_CA_BUNDLE=none turns it off.


def extra_ca_bundle() -> Path | None:
    value = os.environ.get("RAGSTACK_EXTRA_CA_BUNDLE", SYSTEM_BUNDLE)
    if value.lower() in ("", "none", "off", "0"):
        return None
    path = Path(value)
    if not path.is_file():
        if "RAGSTACK_EXTRA_CA_BUNDLE" in os.environ:
            raise BuildError(f"RAGSTACK_EXTRA_CA_BUNDLE={value} is not a file")
        return None
    return path


def pem_blocks(text: str) -> dict[str, str]:
    return {re.sub(r"\s", "", b): b for b in PEM_RE.findall(text)}


def add_extra_cas(rootfs: Path, bundle: Path) -> int:
    debian = pem_blocks((rootfs / SYSTEM_BUNDLE.lstrip("/")).read_text())
    extra = {k: v for k, v in pem_blocks(bundle.read_text()).items() if k not in debian}
    target = rootfs / "usr/local/share/ca-certificates"
    target.mkdir(parents=True, exist_ok=True)
    for i, pem in enumerate(extra.values()):
        (target / f"ragstack-extra-{i:03d}.crt").write_text(pem + "\n")
    if extra:
        run(["chroot", str(rootfs), "update-ca-certificates"], stdout=subprocess.DEVNULL)
    return len(extra)


# --- minbase ----------------------------------------------------------------


def minbase_hash(ca: Path | None) -> str:
    return sha256(
        str(MINBASE_RECIPE_VERSION),
        SUITE,
        MIRROR,
        " ".join(MINBASE_INCLUDE),
        DPKG_NODOC,
        APT_CONF,
        APT_SOURCES,
        "\n".join(IMPORT_CHANGES),
        ca.read_bytes() if ca else b"no-extra-ca",
    )


def remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()


def slim_rootfs(rootfs: Path) -> None:
    for pattern in (
        "usr/share/man/*",
        "usr/share/info/*",
        "usr/share/lintian/*",
        "var/lib/apt/lists/*",
        "var/cache/apt/*.bin",
        "var/cache/apt/archives/*.deb",
        "var/cache/debconf/*-old",
        "var/log/*.log",
        "var/log/apt/*",
        "tmp/*",
    ):
        for p in rootfs.glob(pattern):
            remove(p)
    for p in (rootfs / "usr/share/doc").glob("*/*"):
        if p.name != "copyright":
            remove(p)
    for p in (rootfs / "usr/share/locale").glob("*"):
        if p.name != "locale.alias":
            remove(p)
    # Docker bind-mounts these at run time; the build host's copies must not leak.
    (rootfs / "etc/resolv.conf").write_text("")
    (rootfs / "etc/hostname").write_text("localhost\n")


def build_minbase(img: Image, want: str, ca: Path | None) -> None:
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    tarball = CACHE_DIR / f"minbase-{want[:16]}.tar"
    if not tarball.exists():
        require_debootstrap()
        rootfs = CACHE_DIR / "rootfs"
        if rootfs.exists():
            shutil.rmtree(rootfs)
        t0 = time.monotonic()
        log(f"debootstrap {SUITE} minbase into {rootfs.relative_to(ROOT)} (about a minute)")
        debootstrap_log = CACHE_DIR / "debootstrap.log"
        with debootstrap_log.open("w") as out:
            proc = run(
                [
                    "debootstrap",
                    "--variant=minbase",
                    f"--include={','.join(MINBASE_INCLUDE)}",
                    SUITE,
                    str(rootfs),
                    MIRROR,
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                check=False,
            )
        if proc.returncode != 0:
            tail = debootstrap_log.read_text().splitlines()[-20:]
            raise BuildError("debootstrap failed:\n" + "\n".join(tail))
        log(f"  debootstrap took {time.monotonic() - t0:.0f}s")
        (rootfs / "etc/dpkg/dpkg.cfg.d/01-ragstack-nodoc").write_text(DPKG_NODOC)
        (rootfs / "etc/apt/apt.conf.d/01-ragstack").write_text(APT_CONF)
        (rootfs / "etc/apt/sources.list.d/debian.sources").write_text(APT_SOURCES)
        (rootfs / "etc/apt/sources.list").unlink(missing_ok=True)
        if ca:
            log(f"  trusting {add_extra_cas(rootfs, ca)} extra CA certificate(s) from {ca}")
        slim_rootfs(rootfs)
        for old in CACHE_DIR.glob("minbase-*.tar"):
            old.unlink()
        partial = tarball.with_suffix(".partial")
        run(["tar", "-C", str(rootfs), "--numeric-owner", "-cf", str(partial), "."])
        partial.rename(tarball)
        shutil.rmtree(rootfs)
    log(f"docker import {tarball.relative_to(ROOT)} as {img.name}")
    changes = [*IMPORT_CHANGES, f"LABEL {HASH_LABEL}={want}"]
    argv = ["docker", "import"]
    for c in changes:
        argv += ["--change", c]
    run([*argv, str(tarball), img.name], stdout=subprocess.DEVNULL)


# --- derived images ---------------------------------------------------------


def base_hash(img: Image) -> str:
    parent = inspect(img.parent)
    if parent is None:
        raise BuildError(f"{img.parent} is missing; build it first (--only base)")
    # A base with a context of its own (files it COPYs) hashes every file in it.
    context = sorted(p for p in img.context.rglob("*") if p.is_file()) if img.context else []
    files = [part for p in context for part in (str(p.relative_to(img.context)), p.read_bytes())]
    return sha256(img.dockerfile.read_bytes(), *files, parent["Id"])


def docker_build(img: Image, label: str | None = None) -> None:
    context = img.context or img.dockerfile.parent
    argv = ["docker", "build", "-f", str(img.dockerfile), "-t", img.name]
    argv += ["--build-arg", f"BASE_IMAGE={img.parent}"]
    if img.target:
        argv += ["--target", img.target]
    if label:
        argv += ["--label", f"{HASH_LABEL}={label}"]
    run([*argv, str(context)], env=docker_env())


def verify_systemd(name: str) -> None:
    """Boot the image the way molecule will and wait for systemd to settle."""
    cname = f"ragstack-verify-systemd-{os.getpid()}"
    run(
        [
            "docker",
            "run",
            "-d",
            "--name",
            cname,
            "--cap-add",
            "SYS_ADMIN",
            "--security-opt",
            "seccomp=unconfined",
            "--security-opt",
            "apparmor=unconfined",
            "--cgroupns=host",
            "-v",
            "/sys/fs/cgroup:/sys/fs/cgroup:rw",
            "--tmpfs",
            "/run",
            "--tmpfs",
            "/tmp",  # noqa: S108 - a tmpfs inside the container
            name,
            "/lib/systemd/systemd",
        ],
        stdout=subprocess.DEVNULL,
    )
    try:
        # Right after `docker run` there is no bus to ask yet; retry until
        # systemd answers with a final state or the deadline passes.
        deadline = time.monotonic() + 120
        state = ""
        while time.monotonic() < deadline:
            wait = ["timeout", "60", "systemctl", "is-system-running", "--wait"]
            state = capture(["docker", "exec", cname, *wait]).stdout.strip()
            if state in ("running", "degraded", "maintenance", "stopping"):
                break
            time.sleep(1)
        if state not in ("running", "degraded"):
            logs = capture(["docker", "logs", "--tail", "40", cname])
            raise BuildError(
                f"{name} did not boot: systemctl is-system-running says {state!r}\n"
                + logs.stdout
                + logs.stderr
            )
        failed = capture(
            ["docker", "exec", cname, "systemctl", "--failed", "--no-legend", "--plain"]
        )
        failed = " ".join(line.split()[0] for line in failed.stdout.splitlines() if line.strip())
        log(f"  systemd boots: {state}" + (f" (failed units: {failed})" if failed else ""))
    finally:
        capture(["docker", "rm", "-f", cname])


# --- driver -----------------------------------------------------------------


def select(only: str | None, skip_model: bool) -> list[Image]:
    if only in (None, "all"):
        chosen = list(IMAGES)
    elif only in ("base", "services"):
        chosen = [i for i in IMAGES if i.group == only]
    else:
        matches = [i for i in IMAGES if only in (i.name, i.short, i.name.rsplit(":", 1)[0])]
        if not matches:
            names = ", ".join(i.name for i in IMAGES)
            raise BuildError(f"unknown image {only!r}; choose base, services or one of: {names}")
        chosen = matches
    if skip_model:
        # The torch base exists only for the model image; keep it when asked for by name.
        dropped = {"ragstack/embedding-service:model", "ragstack/embedding-service:lambda"}
        if only not in (PYTHON_TORCH, "python-torch", PYTHON_TORCH.rsplit(":", 1)[0]):
            dropped.add(PYTHON_TORCH)
        chosen = [i for i in chosen if i.name not in dropped]
    # Base ancestors come along; they cost nothing when their label matches.
    wanted = {i.name for i in chosen}
    for img in list(chosen):
        parent = img.parent
        while parent:
            wanted.add(parent)
            parent = BY_NAME[parent].parent
    return [i for i in IMAGES if i.name in wanted]


def list_images() -> None:
    for img in IMAGES:
        if img.group == "services" and not img.dockerfile.exists():
            state = "no Dockerfile yet"
        else:
            state = size_of(img.name)
        extra = " (slow)" if img.slow else ""
        print(f"{img.group:9} {img.name:40} {state}{extra}")


def build(images: list[Image], verify: bool) -> None:
    ca = extra_ca_bundle()
    timings: list[tuple[str, str, float]] = []
    t_all = time.monotonic()
    for img in images:
        t0 = time.monotonic()
        if img.group == "services":
            if not img.dockerfile.exists():
                log(f"skip {img.name}: {img.dockerfile.relative_to(ROOT)} does not exist yet")
                continue
            log(f"build {img.name} (Docker layer cache)")
            before = (inspect(img.name) or {}).get("Id")
            docker_build(img)
            outcome = "cached" if before == inspect(img.name)["Id"] else "built"
        else:
            want = minbase_hash(ca) if img.parent is None else base_hash(img)
            if label_of(img.name) == want:
                outcome = "cached"
            else:
                if img.parent is None:
                    build_minbase(img, want, ca)
                else:
                    log(f"build {img.name}")
                    docker_build(img, label=want)
                outcome = "built"
            if img.name in (SYSTEMD, EC2_HOST) and (outcome == "built" or verify):
                verify_systemd(img.name)
        elapsed = time.monotonic() - t0
        timings.append((img.name, outcome, elapsed))
        log(f"{img.name}: {outcome} in {elapsed:.1f}s, {size_of(img.name)}")
    log("summary:")
    for name, outcome, elapsed in timings:
        print(f"  {name:40} {outcome:7} {elapsed:7.1f}s  {size_of(name)}")
    print(f"  {'total':40} {'':7} {time.monotonic() - t_all:7.1f}s", flush=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", help="base, services, or one image name (e.g. python-torch)")
    ap.add_argument(
        "--skip-model",
        action="store_true",
        help="skip ragstack/embedding-service:model and :lambda and their torch base (slow)",
    )
    ap.add_argument("--list", action="store_true", help="list images and their state")
    ap.add_argument(
        "--verify", action="store_true", help="boot-check the systemd image even when cached"
    )
    args = ap.parse_args(argv)
    try:
        require_docker()
        if args.list:
            list_images()
            return 0
        build(select(args.only, args.skip_model), args.verify)
    except BuildError as exc:
        print(f"build_images: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
