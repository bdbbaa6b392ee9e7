"""Helpers for the tests of deploy/: the scripts run as an operator runs them,
against the test PostgreSQL server (TEST_DATABASE_URL)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.deploy.processes import PYTHON_BIN


@pytest.fixture(scope="session", autouse=True)
def venv_tools_on_path() -> Iterator[None]:
    """caddy, hadolint and shellcheck come with the lock into the venv's bin/,
    which make puts on PATH, but not pytest started by its path."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PATH", f"{PYTHON_BIN}{os.pathsep}{os.environ.get('PATH', '')}")
        yield
