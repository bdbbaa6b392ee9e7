"""The image's entrypoint and container helper, run as the containers run them:
secrets read from files, migrate, the wait for the schema, the health check's
view of process 1, and refusals."""

from __future__ import annotations

import asyncio
import importlib
import sys
from pathlib import Path

from tests.databases import recreate_database
from tests.deploy.processes import DEPLOY, pg_environment, run

sys.path.insert(0, str(DEPLOY))
container = importlib.import_module("container")


def test_health_check_recognises_the_processes() -> None:
    uvicorn = b"/opt/venv/bin/python\0/opt/venv/bin/uvicorn\0--factory\0"
    assert container.detect(uvicorn + b"services.training.app:create_app\0") == (
        "api",
        "training",
    )
    worker = b"python\0-m\0services.reporting\0worker\0"
    assert container.detect(worker) == ("worker", "reporting")
    assert container.detect(b"python\0-m\0services.reporting\0migrate\0") is None


def test_worker_health_keys_are_the_queues() -> None:
    for service in container.SERVICES:
        worker = importlib.import_module(f"services.{service}.worker")
        assert service == worker.QUEUE_NAME


def test_unknown_service_is_refused() -> None:
    result = run("sh", DEPLOY / "entrypoint.sh", "api", "payroll")
    assert result.returncode == 64
    assert "unknown service 'payroll'" in result.stderr


async def test_migrate_from_a_secret_file_then_the_schema_is_ready(
    tmp_path: Path,
) -> None:
    url = await recreate_database("mhpss_deploy_entrypoint_reporting")
    secret = tmp_path / "database_url"
    secret.write_text(url + "\n")
    env = {
        **pg_environment(),
        "REPORTING_DATABASE_URL_FILE": str(secret),
        "DATA_DIR": str(tmp_path),
    }
    entrypoint = DEPLOY / "entrypoint.sh"
    waited = await asyncio.to_thread(
        run, "sh", entrypoint, "wait-for-schema", "reporting", "--timeout", "0", env=env
    )
    assert waited.returncode == 1
    assert "run the migrate job" in waited.stderr
    migrated = await asyncio.to_thread(
        run, "sh", entrypoint, "migrate", "reporting", env=env
    )
    assert migrated.returncode == 0, migrated.stderr
    waited = await asyncio.to_thread(
        run, "sh", entrypoint, "wait-for-schema", "reporting", env=env
    )
    assert waited.returncode == 0, waited.stderr
    assert "schema at head" in waited.stdout
