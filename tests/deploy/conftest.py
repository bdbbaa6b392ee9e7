"""Helpers for the tests of deploy/: the scripts run as an operator runs them,
against the test PostgreSQL server (TEST_DATABASE_URL)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from tests.conftest import ADMIN_URL

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
PYTHON_BIN = str(Path(sys.executable).parent)


@pytest.fixture(scope="session", autouse=True)
def venv_tools_on_path() -> Iterator[None]:
    """caddy, hadolint and shellcheck come with the lock into the venv's bin/,
    which make puts on PATH, but not pytest started by its path."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PATH", f"{PYTHON_BIN}{os.pathsep}{os.environ.get('PATH', '')}")
        yield


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
