"""Helpers for the tests of deploy/: the scripts run as an operator runs them,
against the test PostgreSQL server (TEST_DATABASE_URL)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import IO

import httpx
import pytest
from sqlalchemy.engine import make_url

from shared.auth import LocalSigningKey, Role
from tests.databases import ADMIN_URL
from tests.ports import free_port

REPO = Path(__file__).resolve().parents[2]


DEPLOY = REPO / "deploy"


PYTHON_BIN = str(Path(sys.executable).parent)


def pg_environment() -> dict[str, str]:
    """libpq's variables for the test server, as backup.sh and restore.sh read them."""
    url = make_url(ADMIN_URL)
    env = {
        **os.environ,
        "PGHOST": url.host or "127.0.0.1",
        "PGPORT": str(url.port or 5432),
        "PGUSER": url.username or "postgres",
        "PATH": f"{PYTHON_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    if url.password:
        env["PGPASSWORD"] = url.password
    return env


def run(
    *args: str | Path, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in args],
        env=env or pg_environment(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def start_caddy(
    root: Path, upstreams: Mapping[str, int], env: Mapping[str, str], log: IO[bytes]
) -> tuple[subprocess.Popen[bytes], str]:
    """deploy/Caddyfile in Caddy on a free port, each service's prefix routed
    to its API on 127.0.0.1:<port> (upstreams: service -> port); returns the
    process and the site's base URL."""
    caddy = shutil.which("caddy")
    assert caddy, "caddy is required (scripts/test-deps installs it)"
    site = f":{free_port()}"
    caddy_env = {
        **env,
        "HOME": str(root),
        "XDG_DATA_HOME": str(root / "caddy-data"),
        "XDG_CONFIG_HOME": str(root / "caddy-config"),
        "MHPSS_SITE_ADDRESS": site,
        "MHPSS_HEALTH_ADDRESS": f":{free_port()}",
    }
    for service, port in upstreams.items():
        caddy_env[f"{service.upper()}_UPSTREAM_HOST"] = "127.0.0.1"
        caddy_env[f"{service.upper()}_UPSTREAM_PORT"] = str(port)
    process = subprocess.Popen(
        [caddy, "run", "--adapter", "caddyfile", "--config", str(DEPLOY / "Caddyfile")],
        env=caddy_env,
        cwd=root,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    return process, f"http://127.0.0.1{site}"


def wait_until_up(
    url: str, processes: list[subprocess.Popen[bytes]], seconds: float = 90
) -> None:
    """Until ``url`` answers 200; fails as soon as one of ``processes`` exits."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for process in processes:
            assert process.poll() is None, f"{process.args!r} exited"
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    pytest.fail(f"{url} did not come up")


def stop(processes: list[subprocess.Popen[bytes]]) -> None:
    """SIGTERM to each, then SIGKILL to those still running after 30 s."""
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def bearer(key_dir: Path, organisation: uuid.UUID, role: Role) -> dict[str, str]:
    """Authorization with a token signed by the local key in ``key_dir``, as
    the image's ``token`` command issues them."""
    token = LocalSigningKey.load_or_create(key_dir).issue(
        subject="ops",
        organisation_id=organisation,
        roles=[role],
        issuer="mhpss-local",
        audience="mhpss",
    )
    return {"Authorization": f"Bearer {token}"}
