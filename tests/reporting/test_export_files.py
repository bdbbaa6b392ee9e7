"""Export files hold figures of one organisation, unsuppressed for record-level
readers: they are for the service's own user only, whatever its umask."""

from __future__ import annotations

import stat
from typing import Any

import httpx
from fastapi import FastAPI

from services.reporting.exports.jobs import export_dir, run_export
from shared.auth import Role
from tests.beneficiary.conftest import Caller
from tests.reporting.helpers import one_service_counted


async def test_an_export_file_is_readable_by_its_owner_only(
    open_umask: None,
    alice: Caller,
    issue: Any,
    orgs: Any,
    reporting_app: FastAPI,
    reporting_client: httpx.AsyncClient,
    catch_up: Any,
) -> None:
    await one_service_counted(alice, catch_up)
    settings = reporting_app.state.settings
    folder = settings.data_dir / settings.export_dir_name
    folder.mkdir(mode=0o755, exist_ok=True)
    folder.chmod(0o755)  # as an older version left it
    manager = issue(orgs["a"], Role.programme_manager, subject="manager")
    asked = await reporting_client.post(
        "/v1/exports",
        json={
            "start": "2026-01-01",
            "end": "2026-12-31",
            "indicator": "people_reached",
        },
        headers=manager.headers(),
    )
    export_id = asked.json()["id"]
    await run_export({"runtime": reporting_app.state.runtime}, export_id)
    status = await reporting_client.get(
        f"/v1/exports/{export_id}", headers=manager.headers()
    )
    assert status.json()["status"] == "ready", status.text
    assert export_dir(settings) == folder
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    files = list(folder.glob(f"{export_id}.*"))
    assert len(files) == 1
    assert stat.S_IMODE(files[0].stat().st_mode) == 0o600
