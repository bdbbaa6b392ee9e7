"""Fixtures of the ops tests: each test gets its own PostgreSQL cluster and
Redis server (seconds to create), so a test that restarts or flushes them
cannot disturb another, and the platform's processes die with the test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.ops.harness import Platform, PrivatePostgres, PrivateRedis


@pytest.fixture
def postgres() -> Iterator[PrivatePostgres]:
    cluster = PrivatePostgres()
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.destroy()


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.kill()


@pytest.fixture
async def platform(
    tmp_path: Path, postgres: PrivatePostgres, redis_server: PrivateRedis
) -> AsyncIterator[Platform]:
    """Configured, not migrated: the test migrates the services it runs,
    then starts their processes."""
    stack = Platform(tmp_path, postgres, redis_server)
    try:
        yield stack
    finally:
        stack.close()
