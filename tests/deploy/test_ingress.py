"""The one-host ingress for real: deploy/Caddyfile in Caddy in front of the
three APIs started by deploy/entrypoint.sh (as the containers start them, on
the embedded SQLite default), one signing key shared through
LOCAL_SIGNING_KEY_PATH. Every prefix reaches its service, stripped, and each
API's docs link to its own prefixed OpenAPI document; /metrics is not
reachable through it."""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from types import SimpleNamespace
from typing import BinaryIO

import httpx
import pytest

from shared.auth import LocalSigningKey, Role
from tests.deploy.processes import (
    DEPLOY,
    PYTHON_BIN,
    bearer,
    start_caddy,
    stop,
    wait_until_up,
)
from tests.ports import free_port

SERVICES = ("beneficiary", "training", "reporting")
http = SimpleNamespace(
    get=partial(httpx.get, timeout=60), post=partial(httpx.post, timeout=60)
)
"""A loaded machine builds a service's first OpenAPI in more than httpx's 5 s."""


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """Caddy on a free port in front of the three APIs; yields its base URL."""
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
    ports = {service: free_port() for service in SERVICES}
    try:
        for service in SERVICES:
            env = {
                **base_env,
                "DATA_DIR": str(root / service),
                "HOST": "127.0.0.1",
                "PORT": str(ports[service]),
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
        logs.append((root / "caddy.log").open("wb"))
        caddy, base = start_caddy(root, ports, base_env, logs[-1])
        processes.append(caddy)
        for service in SERVICES:
            wait_until_up(f"{base}/{service}/healthz", processes)
        yield base, key_file.parent
    finally:
        stop(processes)
        for opened in logs:
            opened.close()


@pytest.mark.parametrize("service", SERVICES)
def test_each_prefix_reaches_its_service(stack: tuple[str, Path], service: str) -> None:
    base, _ = stack
    assert http.get(f"{base}/{service}/readyz").json()["status"] == "ok"
    docs = http.get(f"{base}/{service}/docs")
    assert docs.status_code == 200
    assert f"/{service}/openapi.json" in docs.text
    spec = http.get(f"{base}/{service}/openapi.json").json()
    assert spec["info"]["title"] == f"MHPSS {service} service"
    for hidden in ("metrics", "metrics/", "METRICS", "%6Detrics", "./metrics"):
        outside = http.get(f"{base}/{service}/{hidden}")
        assert outside.status_code == 404, hidden
        assert "http_requests_total" not in outside.text


def test_unknown_paths_and_bare_prefixes(stack: tuple[str, Path]) -> None:
    base, _ = stack
    assert http.get(f"{base}/elsewhere").status_code == 404
    bare = http.get(f"{base}/training")
    assert bare.status_code == 308
    assert bare.headers["location"].endswith("/training/")
    assert http.get(f"{base}/reporting/dashboard").status_code == 200


def test_api_calls_through_the_ingress_with_the_shared_key(
    stack: tuple[str, Path],
) -> None:
    base, key_dir = stack
    admin = bearer(key_dir, uuid.UUID(int=0), Role.platform_admin)
    assert http.get(f"{base}/beneficiary/v1/organisations").status_code == 401
    created = http.post(
        f"{base}/beneficiary/v1/organisations",
        json={"name": "Through the ingress", "type": "cso"},
        headers=admin,
    )
    assert created.status_code == 201, created.text
    listed = http.get(
        f"{base}/beneficiary/v1/organisations", params={"limit": 500}, headers=admin
    )
    assert created.json()["id"] in [o["id"] for o in listed.json()["items"]]
    trainer = bearer(key_dir, uuid.UUID(created.json()["id"]), Role.trainer)
    courses = http.get(f"{base}/training/v1/courses", headers=trainer)
    assert courses.status_code == 200, courses.text
