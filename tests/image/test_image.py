"""The image `make image` built, smoke-tested where no container can be
started (the sandbox refuses `podman run`): its filesystem is mounted
read-only and each process starts from it as a container would, with the
image's entrypoint, user, environment and working folder, in its own mount
namespace where only /tmp, DATA_DIR and /run are writable, on the host's
network. Migrations, the three APIs and the three workers run against the
test PostgreSQL and Redis (their own databases and Redis database), behind
deploy/Caddyfile; the checks go through Caddy's routes.

Not exercised here: PID, user and network namespaces, cgroups (CPU and
memory limits), seccomp, and the runtime calling the HEALTHCHECK on its own.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import secrets
import stat
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx
import pytest
from redis import Redis

from shared.auth import LocalSigningKey, Role
from tests.beneficiary.api import beneficiary_body
from tests.databases import REDIS_URL, recreate_database
from tests.deploy.processes import (
    PYTHON_BIN,
    REPO,
    bearer,
    start_caddy,
    stop,
    wait_until_up,
)
from tests.ports import free_port

IMAGE = os.environ.get("MHPSS_IMAGE", "localhost/mhpss-platform:latest")
IMAGE_SCRIPT = REPO / "scripts" / "image"
SERVICES = ("beneficiary", "training", "reporting")
DEV_TOOLS = ("pytest", "hypothesis", "ruff", "mypy", "schemathesis")

PRIVATE_KEY = re.compile(rb"-----BEGIN [A-Z ]*PRIVATE KEY-----\r?\n[A-Za-z0-9+/=]{40}")
"""A PEM private key itself, not the marker that TLS libraries hold as text."""

# Run as root on the host, in a new mount namespace: the image's tree mounted
# read-only, tmpfs where a container runtime gives writable space, the
# secrets folder read-only at /run/secrets, then chroot as the image's user.
LAUNCH = r"""
set -eu
view=$1 rootfs=$2 secrets=$3 uid=$4 gid=$5 data=$6 workdir=$7
shift 7
mount --bind -o ro "$rootfs" "$view"
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$view/tmp"
mount -t tmpfs -o "mode=0700,uid=$uid,gid=$gid,nosuid,nodev" tmpfs "$view$data"
mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs "$view/run"
mkdir "$view/run/secrets"
mount --bind -o ro "$secrets" "$view/run/secrets"
mount -t proc proc "$view/proc"
mount -t tmpfs -o mode=0755,nosuid tmpfs "$view/dev"
for node in null zero full random urandom; do
  touch "$view/dev/$node"
  mount --bind "/dev/$node" "$view/dev/$node"
done
exec chroot --userspec="$uid:$gid" --groups="$gid" "$view" env -C "$workdir" "$@"
"""


def podman(*args: str) -> subprocess.CompletedProcess[str]:
    """podman on the store scripts/image builds into."""
    return subprocess.run(
        [str(IMAGE_SCRIPT), "podman", *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@dataclass
class Image:
    """The built image: its configuration and its tree, mounted."""

    config: dict[str, Any]
    root: Path

    @property
    def uid_gid(self) -> tuple[int, int]:
        user = self.config["Config"]["User"]
        match = re.fullmatch(r"(\d+):(\d+)", user)
        assert match, f"USER {user!r} is not uid:gid (runAsNonRoot needs numbers)"
        return int(match[1]), int(match[2])

    @property
    def env(self) -> dict[str, str]:
        pairs = (e.partition("=") for e in self.config["Config"]["Env"])
        return {name: value for name, _, value in pairs}

    @property
    def site_packages(self) -> Path:
        return next((self.root / "opt/venv/lib").glob("python3*/site-packages"))


@pytest.fixture(scope="module")
def image() -> Iterator[Image]:
    inspected = podman("image", "inspect", IMAGE)
    if inspected.returncode != 0:
        pytest.fail(
            f"no image {IMAGE} to test: build it with `make image` "
            f"({inspected.stderr.strip()})",
            pytrace=False,
        )
    mounted = podman("image", "mount", IMAGE)
    assert mounted.returncode == 0, mounted.stderr
    try:
        yield Image(json.loads(inspected.stdout)[0], Path(mounted.stdout.strip()))
    finally:
        podman("image", "unmount", IMAGE)


def files(root: Path) -> Iterator[Path]:
    """Every regular file under root, symbolic links not followed."""
    for folder, _, names in os.walk(root):
        for name in names:
            path = Path(folder, name)
            if stat.S_ISREG(path.lstat().st_mode):
                yield path


def distribution_names(requirements: Path) -> set[str]:
    names = set()
    for line in requirements.read_text().splitlines():
        match = re.match(r"([A-Za-z0-9][A-Za-z0-9._-]*)==", line)
        if match:
            names.add(normalise(match[1]))
    return names


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def certificates(bundle: bytes) -> set[bytes]:
    """The base64 bodies of the PEM certificates in a bundle, one line each."""
    found = re.findall(
        rb"-----BEGIN CERTIFICATE-----\s+(.+?)\s+-----END CERTIFICATE-----",
        bundle,
        re.DOTALL,
    )
    return {b"".join(body.split()) for body in found}


def test_runs_as_its_non_root_user(image: Image) -> None:
    uid, gid = image.uid_gid
    assert uid != 0
    assert gid != 0
    users = {
        int(fields[2]): fields[0]
        for fields in (
            line.split(":")
            for line in (image.root / "etc/passwd").read_text().splitlines()
        )
    }
    assert users[uid] == "mhpss"
    assert image.config["Config"]["Entrypoint"] == ["/app/deploy/entrypoint.sh"]
    assert image.config["Healthcheck"]["Test"][1:] == [
        "/app/deploy/entrypoint.sh",
        "healthcheck",
    ]


def test_application_tree_is_read_only_for_its_user(image: Image) -> None:
    uid, gid = image.uid_gid
    data = image.root / image.env["DATA_DIR"].lstrip("/")
    writable = []
    for top in ("opt/venv", "app"):
        for folder, dirs, names in os.walk(image.root / top):
            if Path(folder) == data.parent and data.name in dirs:
                dirs.remove(data.name)
            for path in [Path(folder)] + [Path(folder, n) for n in names]:
                info = path.lstat()
                if stat.S_ISLNK(info.st_mode):
                    continue
                if (
                    (info.st_uid == uid and info.st_mode & stat.S_IWUSR)
                    or (info.st_gid == gid and info.st_mode & stat.S_IWGRP)
                    or info.st_mode & stat.S_IWOTH
                ):
                    writable.append(str(path.relative_to(image.root)))
    assert writable == []
    assert data.stat().st_uid == uid
    assert list(data.iterdir()) == []


def test_installs_the_runtime_lock_and_nothing_else(image: Image) -> None:
    runtime = distribution_names(REPO / "requirements/runtime.txt")
    dev_only = distribution_names(REPO / "requirements/dev.txt") - runtime
    assert {"pytest", "ruff", "mypy"} <= dev_only
    installed = {
        normalise(path.name.split("-")[0])
        for path in image.site_packages.glob("*.dist-info")
    }
    # the venv's own installers, and the project itself
    assert installed - runtime == {"pip", "setuptools", "mhpss-platform"}
    assert installed & dev_only == set()
    assert installed & set(DEV_TOOLS) == set()
    # markers leave some out (async-timeout: Python < 3.11.3 only)
    missing = runtime - installed
    assert missing <= {"async-timeout"}, missing
    record = next(image.site_packages.glob("mhpss_platform-*.dist-info")) / "RECORD"
    tops = {line.split("/")[0] for line in record.read_text().splitlines()}
    assert {t for t in tops if not t.startswith("mhpss_platform-")} == {
        "shared",
        "services",
    }
    assert sorted(p.name for p in (image.root / "app").iterdir()) == [
        "data",
        "deploy",
    ]


def test_holds_no_secret_nor_the_build_ca_bundle(image: Image) -> None:
    bundle_path = subprocess.run(
        [str(IMAGE_SCRIPT), "ca-bundle"], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert bundle_path, "scripts/image gave the build no CA bundle"
    bundle = Path(bundle_path).read_bytes()
    public = certificates(
        (image.root / "etc/ssl/certs/ca-certificates.crt").read_bytes()
    )
    certifi = next(image.site_packages.glob("certifi/cacert.pem"))
    public |= certificates(certifi.read_bytes())
    # the network's own CAs: in the secret, in no public bundle
    needles = [body[:64] for body in certificates(bundle) - public]
    bundle_digest = hashlib.sha256(bundle).digest()
    found = []
    for path in files(image.root):
        content = path.read_bytes()
        if hashlib.sha256(content).digest() == bundle_digest:
            found.append(f"{path}: the CA bundle")
        found += [f"{path}: {needle!r}" for needle in needles if needle in content]
        # (GnuTLS holds its self-test keys inside its library: files, not ELF)
        if not content.startswith(b"\x7fELF") and PRIVATE_KEY.search(content):
            found.append(f"{path}: a private key")
        if path.name == ".env" or path.name.endswith((".key", ".env")):
            found.append(f"{path}: a key or .env file")
    assert found == []
    assert not (image.root / "run/secrets").exists()
    history = podman("history", "--no-trunc", "--format", "{{.CreatedBy}}", IMAGE)
    assert history.returncode == 0, history.stderr
    assert "BEGIN" not in history.stdout
    assert not any(needle.decode() in history.stdout for needle in needles)
    for name in image.env:
        assert not re.search(r"KEY|TOKEN|SECRET|PASSWORD|DATABASE_URL", name), name


@dataclass
class Stack:
    """The platform's processes started from the image, and Caddy in front."""

    image: Image
    root: Path
    base: str = ""
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    named: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    logs: list[IO[bytes]] = field(default_factory=list)
    ports: dict[str, int] = field(default_factory=dict)
    settings: dict[str, str] = field(default_factory=dict)

    @property
    def secrets(self) -> Path:
        return self.root / "secrets"

    def command(self, *args: str) -> list[str]:
        """The image's entrypoint with args, started as the container would be."""
        view = Path(tempfile.mkdtemp(prefix="view-", dir=self.root))
        uid, gid = self.image.uid_gid
        return [
            "unshare", "--mount", "--propagation", "private", "--",
            "sh", "-c", LAUNCH, "launch", str(view), str(self.image.root),
            str(self.secrets), str(uid), str(gid), self.image.env["DATA_DIR"],
            self.image.config["Config"]["WorkingDir"],
            *self.image.config["Config"]["Entrypoint"], *args,
        ]  # fmt: skip

    def env(self, **extra: str) -> dict[str, str]:
        """The image's environment and the settings, none of this machine's."""
        return {**self.image.env, "HOME": "/app", **self.settings, **extra}

    def run(self, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.command(*args),
            env=self.env(**extra),
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )

    def start(self, name: str, *args: str, **extra: str) -> subprocess.Popen[bytes]:
        log = (self.root / f"{name}.log").open("wb")
        self.logs.append(log)
        process = subprocess.Popen(
            self.command(*args),
            env=self.env(**extra),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.processes.append(process)
        self.named[name] = process
        return process

    def log(self, name: str) -> str:
        return (self.root / f"{name}.log").read_text(errors="replace")[-3000:]

    def token(self, organisation: uuid.UUID, role: Role) -> dict[str, str]:
        return bearer(self.secrets, organisation, role)


def _key() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode()


@pytest.fixture(scope="module")
async def database_urls() -> dict[str, str]:
    """Each service's own database, empty, on the test PostgreSQL server."""
    return {
        service: await recreate_database(f"mhpss_image_{service}")
        for service in SERVICES
    }


@pytest.fixture(scope="module")
def stack(image: Image, database_urls: dict[str, str]) -> Iterator[Stack]:
    # not under pytest's tmp_path: its folders are private to their owner
    root = Path(tempfile.mkdtemp(prefix="mhpss-image-"))
    root.chmod(0o755)
    made = Stack(image, root)
    uid, gid = image.uid_gid
    LocalSigningKey.load_or_create(made.secrets)
    (made.secrets / "pii_keys").write_text(json.dumps({"k1": _key()}))
    (made.secrets / "blind_index_key").write_text(_key())
    # as a runtime mounts secrets: root's, readable by the image's group
    for path, mode in [(p, 0o640) for p in made.secrets.iterdir()] + [
        (made.secrets, 0o750)
    ]:
        os.chown(path, 0, gid)
        path.chmod(mode)
    Redis.from_url(REDIS_URL).flushdb()
    made.ports = {service: free_port() for service in SERVICES}
    made.settings = {
        "REDIS_URL": REDIS_URL,
        "PII_KEYS_FILE": "/run/secrets/pii_keys",
        "BLIND_INDEX_KEY_FILE": "/run/secrets/blind_index_key",
        "LOCAL_SIGNING_KEY_PATH": "/run/secrets/token-signing-key.pem",
        "AUTO_MIGRATE": "false",
        "GRACEFUL_SHUTDOWN_SECONDS": "2",
    }
    for service in SERVICES:
        made.settings[f"{service.upper()}_DATABASE_URL"] = database_urls[service]
        made.settings[f"{service.upper()}_URL"] = (
            f"http://127.0.0.1:{made.ports[service]}"
        )
    for consumer, producer in (
        ("REPORTING", "BENEFICIARY"),
        ("REPORTING", "TRAINING"),
        ("TRAINING", "BENEFICIARY"),
        ("BENEFICIARY", "TRAINING"),
    ):
        made.settings[f"{consumer}_{producer}_URL"] = made.settings[f"{producer}_URL"]
    try:
        migrated = made.run("migrate", "all")
        assert migrated.returncode == 0, migrated.stdout + migrated.stderr
        for service in SERVICES:
            made.start(
                f"{service}-api",
                "api",
                service,
                HOST="127.0.0.1",
                PORT=str(made.ports[service]),
            )
            made.start(f"{service}-worker", "worker", service)
        made.logs.append((root / "caddy.log").open("wb"))
        caddy_env = {"PATH": f"{PYTHON_BIN}{os.pathsep}{os.environ['PATH']}"}
        caddy, made.base = start_caddy(root, made.ports, caddy_env, made.logs[-1])
        made.processes.append(caddy)
        for service in SERVICES:
            wait_until_up(f"{made.base}/{service}/readyz", made.processes)
        yield made
    finally:
        stop(made.processes)
        for log in made.logs:
            log.close()
        subprocess.run(["rm", "-rf", "--one-file-system", str(root)], check=False)


def test_processes_run_as_the_image_user_on_a_read_only_tree(stack: Stack) -> None:
    uid, gid = stack.image.uid_gid
    for process in stack.named.values():
        status = Path(f"/proc/{process.pid}/status").read_text().splitlines()
        ids = {name: value for name, _, value in (s.partition(":") for s in status)}
        assert ids["Uid"].split() == [str(uid)] * 4
        assert ids["Gid"].split() == [str(gid)] * 4
        assert ids["Groups"].split() == [str(gid)]
    for path in ("/opt/venv/x", "/app/x", "/app/deploy/entrypoint.sh"):
        tried = stack.run("touch", path)
        assert tried.returncode != 0, path
        assert re.search("Read-only file system|Permission denied", tried.stderr)
    wrote = stack.run("sh", "-c", 'touch "$DATA_DIR/x" /tmp/x')
    assert wrote.returncode == 0, wrote.stderr


def test_health_and_readiness_through_the_ingress(stack: Stack) -> None:
    assert httpx.get(f"{stack.base}/healthz").status_code == 200
    for service in SERVICES:
        assert httpx.get(f"{stack.base}/{service}/healthz").status_code == 200
        ready = httpx.get(f"{stack.base}/{service}/readyz").json()
        assert ready == {
            "status": "ok",
            "checks": {"database": "ok", "redis": "ok"},
        }, service


@pytest.mark.parametrize("service", SERVICES)
def test_each_worker_passes_the_image_health_check(stack: Stack, service: str) -> None:
    """The image's `healthcheck worker` pings Redis and prints the queue's
    health record, which arq writes once the worker polls: wait for it."""
    deadline = time.monotonic() + 60
    while True:
        checked = stack.run("healthcheck", "worker", service)
        if checked.returncode == 0 and f"{service} worker: " in checked.stdout:
            break
        assert time.monotonic() < deadline, (
            checked.stdout + checked.stderr + stack.log(f"{service}-worker")
        )
        time.sleep(1)
    assert stack.named[f"{service}-worker"].poll() is None


def test_a_write_reaches_an_indicator_through_the_ingress(stack: Stack) -> None:
    admin = stack.token(uuid.UUID(int=0), Role.platform_admin)
    organisations = f"{stack.base}/beneficiary/v1/organisations"
    assert (
        httpx.post(organisations, json={"name": "x", "type": "cso"}).status_code == 401
    )
    created = httpx.post(
        organisations,
        json={"name": "Image smoke", "type": "international_ngo"},
        headers=admin,
    )
    assert created.status_code == 201, created.text
    org = uuid.UUID(created.json()["id"])
    registered = httpx.post(
        f"{stack.base}/beneficiary/v1/beneficiaries",
        json=beneficiary_body(),
        headers=stack.token(org, Role.case_worker),
    )
    assert registered.status_code == 201, registered.text
    reader = stack.token(org, Role.me_officer)
    deadline = time.monotonic() + 120  # seconds usually; minutes on a busy machine
    while True:
        read = httpx.get(
            f"{stack.base}/reporting/v1/indicators/new_beneficiaries/values",
            params={"start": "2020-01-01", "end": "2030-12-31"},
            headers=reader,
        )
        assert read.status_code == 200, read.text
        if read.json()["total"]["value"] == 1:
            break
        assert time.monotonic() < deadline, (
            read.text + stack.log("beneficiary-worker") + stack.log("reporting-worker")
        )
        time.sleep(0.5)
