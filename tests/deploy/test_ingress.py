"""The one-host ingress for real: deploy/Caddyfile in Caddy in front of the
three APIs started by deploy/entrypoint.sh (as the containers start them, on
the embedded SQLite default), one signing key shared through
LOCAL_SIGNING_KEY_PATH. Every prefix reaches its service, stripped, and each
API's docs link to its own prefixed OpenAPI document; /metrics is not
reachable through it."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import httpx
import pytest

from shared.auth import LocalSigningKey, Role
from tests.deploy.conftest import DEPLOY, PYTHON_BIN

SERVICES = ("beneficiary", "training", "reporting")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until_up(url: str, processes: list[subprocess.Popen[bytes]]) -> None:
    deadline = time.monotonic() + 90
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


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """Caddy on a free port in front of the three APIs; yields its base URL."""
    caddy = shutil.which("caddy")
    assert caddy, "caddy is required (apt-get install caddy)"
    root = tmp_path_factory.mktemp("ingress")
    key_file = root / "token-signing-key.pem"
    LocalSigningKey.load_or_create(root)
    base_env = {
        k: v
        for k, v in os.environ.items()
        if not k.endswith(("DATABASE_URL", "REDIS_URL")) and k != "AUTH_JWKS_URL"
    }
    base_env["PATH"] = f"{PYTHON_BIN}{os.pathsep}{os.environ['PATH']}"
    processes: list[subprocess.Popen[bytes]] = []
    logs: list[BinaryIO] = []
    caddy_env = {
        **base_env,
        "HOME": str(root),
        "XDG_DATA_HOME": str(root / "caddy-data"),
        "XDG_CONFIG_HOME": str(root / "caddy-config"),
        "MHPSS_SITE_ADDRESS": f":{free_port()}",
        "MHPSS_HEALTH_ADDRESS": f":{free_port()}",
    }
    try:
        for service in SERVICES:
            port = free_port()
            data = root / service
            env = {
                **base_env,
                "DATA_DIR": str(data),
                "HOST": "127.0.0.1",
                "PORT": str(port),
                "LOCAL_SIGNING_KEY_PATH": str(key_file),
                "REPORTING_PULL_FEEDS": "false",
            }
            log = (root / f"{service}.log").open("wb")
            logs.append(log)
            processes.append(
                subprocess.Popen(
                    ["sh", str(DEPLOY / "entrypoint.sh"), "api", service],
                    env=env,
                    cwd=root,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
            caddy_env[f"{service.upper()}_UPSTREAM_HOST"] = "127.0.0.1"
            caddy_env[f"{service.upper()}_UPSTREAM_PORT"] = str(port)
        logs.append((root / "caddy.log").open("wb"))
        processes.append(
            subprocess.Popen(
                [caddy, "run", "--adapter", "caddyfile"]
                + ["--config", str(DEPLOY / "Caddyfile")],
                env=caddy_env,
                cwd=root,
                stdout=logs[-1],
                stderr=subprocess.STDOUT,
            )
        )
        base = f"http://127.0.0.1{caddy_env['MHPSS_SITE_ADDRESS']}"
        for service in SERVICES:
            wait_until_up(f"{base}/{service}/healthz", processes)
        yield base, key_file.parent
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for opened in logs:
            opened.close()


@pytest.mark.parametrize("service", SERVICES)
def test_each_prefix_reaches_its_service(stack: tuple[str, Path], service: str) -> None:
    base, _ = stack
    assert httpx.get(f"{base}/{service}/readyz").json()["status"] == "ok"
    docs = httpx.get(f"{base}/{service}/docs")
    assert docs.status_code == 200
    assert f"/{service}/openapi.json" in docs.text
    spec = httpx.get(f"{base}/{service}/openapi.json").json()
    assert spec["info"]["title"] == f"MHPSS {service} service"
    for hidden in ("metrics", "metrics/", "METRICS", "%6Detrics", "./metrics"):
        outside = httpx.get(f"{base}/{service}/{hidden}")
        assert outside.status_code == 404, hidden
        assert "http_requests_total" not in outside.text


def test_unknown_paths_and_bare_prefixes(stack: tuple[str, Path]) -> None:
    base, _ = stack
    assert httpx.get(f"{base}/elsewhere").status_code == 404
    bare = httpx.get(f"{base}/training")
    assert bare.status_code == 308
    assert bare.headers["location"].endswith("/training/")
    assert httpx.get(f"{base}/reporting/dashboard").status_code == 200


def test_api_calls_through_the_ingress_with_the_shared_key(
    stack: tuple[str, Path],
) -> None:
    base, key_dir = stack
    key = LocalSigningKey.load_or_create(key_dir)

    def bearer(org: uuid.UUID, role: Role) -> dict[str, str]:
        token = key.issue(
            subject="ops",
            organisation_id=org,
            roles=[role],
            issuer="mhpss-local",
            audience="mhpss",
        )
        return {"Authorization": f"Bearer {token}"}

    admin = bearer(uuid.UUID(int=0), Role.platform_admin)
    assert httpx.get(f"{base}/beneficiary/v1/organisations").status_code == 401
    created = httpx.post(
        f"{base}/beneficiary/v1/organisations",
        json={"name": "Through the ingress", "type": "cso"},
        headers=admin,
    )
    assert created.status_code == 201, created.text
    listed = httpx.get(f"{base}/beneficiary/v1/organisations", headers=admin)
    assert created.json()["id"] in [o["id"] for o in listed.json()]
    trainer = bearer(uuid.UUID(created.json()["id"]), Role.trainer)
    courses = httpx.get(f"{base}/training/v1/courses", headers=trainer)
    assert courses.status_code == 200, courses.text
