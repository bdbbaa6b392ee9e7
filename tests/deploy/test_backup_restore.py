"""Backup and restore as docs/deploy.md tells it, for the beneficiary and the
training databases: data made through the API, ``deploy/backup.sh``,
``deploy/restore.sh`` into an empty database, ``migrate`` on the restored
database changing nothing, and the service started on it (as in production,
without auto-migration) reading everything back, encrypted fields and
blind-index search included, and taking new writes."""

from __future__ import annotations

import asyncio
import sys
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from sqlalchemy.engine import make_url

from services.beneficiary.app import create_app as create_beneficiary
from services.beneficiary.settings import BeneficiarySettings
from services.training.app import create_app as create_training
from services.training.settings import TrainingSettings
from shared.auth import LocalSigningKey, Role
from tests.databases import ADMIN_URL, DB_SUFFIX, database_url, recreate_database
from tests.deploy.processes import DEPLOY, pg_environment, run

CONSENTS = [
    {"purpose": "registration", "granted": True, "form_version": "2024-1"},
    {"purpose": "services", "granted": True, "form_version": "2024-1"},
]


async def admin_connection() -> asyncpg.Connection:
    url = make_url(ADMIN_URL)
    return await asyncpg.connect(
        host=url.host,
        port=url.port or 5432,
        user=url.username,
        password=url.password,
        database=url.database,
    )


async def drop_database(name: str) -> None:
    connection = await admin_connection()
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


async def fingerprint(name: str) -> dict[str, Any]:
    """Schema version, every column and every table's row count."""
    url = make_url(ADMIN_URL)
    connection = await asyncpg.connect(
        host=url.host,
        port=url.port or 5432,
        user=url.username,
        password=url.password,
        database=name,
    )
    try:
        columns = await connection.fetch(
            "SELECT table_name, column_name, data_type FROM information_schema.columns"
            " WHERE table_schema = 'public' ORDER BY 1, 2"
        )
        tables = sorted({row["table_name"] for row in columns})
        counts = {
            t: await connection.fetchval(f'SELECT count(*) FROM "{t}"') for t in tables
        }
        version = await connection.fetchval("SELECT version_num FROM alembic_version")
    finally:
        await connection.close()
    return {"version": version, "columns": [tuple(c) for c in columns], **counts}


@asynccontextmanager
async def serve(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with (
        LifespanManager(app, startup_timeout=120, shutdown_timeout=60),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://test"
        ) as client,
    ):
        yield client


def bearer(data_dir: Path, org: uuid.UUID, *roles: Role) -> dict[str, str]:
    token = LocalSigningKey.load_or_create(data_dir).issue(
        subject=f"user-{uuid.uuid4().hex[:6]}",
        organisation_id=org,
        roles=roles,
        issuer="mhpss-local",
        audience="mhpss",
    )
    return {"Authorization": f"Bearer {token}"}


async def back_up_and_restore(
    service: str, source: str, target: str, tmp_path: Path
) -> None:
    """The operator's procedure: backup.sh, restore.sh into a new database,
    restore.sh refusing a database that is not empty, migrate as a no-op."""
    started = time.monotonic()
    backup = await asyncio.to_thread(run, DEPLOY / "backup.sh", "-o", tmp_path, source)
    assert backup.returncode == 0, backup.stderr
    dump = tmp_path / f"{source}.dump"
    assert dump.stat().st_size > 0
    assert dump.name in (tmp_path / "SHA256SUMS").read_text()
    restore = await asyncio.to_thread(run, DEPLOY / "restore.sh", dump, target)
    assert restore.returncode == 0, restore.stderr
    print(  # noqa: T201
        f"{service}: backup and restore of {dump.stat().st_size} bytes took "
        f"{time.monotonic() - started:.1f} s"
    )
    again = await asyncio.to_thread(run, DEPLOY / "restore.sh", dump, target)
    assert again.returncode == 65
    assert "not empty" in again.stderr

    before = await fingerprint(target)
    env = {
        **pg_environment(),
        f"{service.upper()}_DATABASE_URL": database_url(target),
        f"{service.upper()}_DATA_DIR": str(tmp_path / "migrate-data"),
    }
    migrate = await asyncio.to_thread(
        run, sys.executable, "-m", f"services.{service}", "migrate", env=env
    )
    assert migrate.returncode == 0, migrate.stderr
    assert await fingerprint(target) == before


async def test_beneficiary_database_restores_and_serves(tmp_path: Path) -> None:
    source_url = await recreate_database("mhpss_deploy_backup_beneficiary")
    source = make_url(source_url).database
    assert source is not None
    target = f"mhpss_deploy_restored_beneficiary{DB_SUFFIX}"
    await drop_database(target)
    data_dir = tmp_path / "data"
    settings = BeneficiarySettings(
        database_url=source_url, data_dir=data_dir, auto_migrate=True
    )
    async with serve(create_beneficiary(settings)) as client:
        admin = bearer(data_dir, uuid.UUID(int=0), Role.platform_admin)
        r = await client.post(
            "/v1/organisations",
            json={"name": "Restored NGO", "type": "international_ngo"},
            headers=admin,
        )
        assert r.status_code == 201, r.text
        org = uuid.UUID(r.json()["id"])
        worker = bearer(data_dir, org, Role.case_worker)
        people = {}
        for name in ("Layla Hassan", "Omar Saleh", "Noor Ahmed"):
            r = await client.post(
                "/v1/beneficiaries",
                json={
                    "full_name": name,
                    "phone": "+964 770 123 4567",
                    "sex": "female",
                    "date_of_birth": "1990-04-01",
                    "displacement_status": "idp",
                    "registration_channel": "outreach",
                    "registration_date": "2026-01-10",
                    "consents": CONSENTS,
                },
                headers=worker,
            )
            assert r.status_code == 201, r.text
            people[r.json()["id"]] = name

    await back_up_and_restore("beneficiary", source, target, tmp_path / "backup")

    restored = BeneficiarySettings(
        database_url=database_url(target), data_dir=data_dir, auto_migrate=False
    )
    async with serve(create_beneficiary(restored)) as client:
        assert (await client.get("/readyz")).status_code == 200
        for beneficiary_id, name in people.items():
            r = await client.get(f"/v1/beneficiaries/{beneficiary_id}", headers=worker)
            assert r.status_code == 200, r.text
            assert r.json()["full_name"] == name
            assert r.json()["phone"] == "+964 770 123 4567"
        found = await client.get(
            "/v1/beneficiaries", params={"name": "omar  SALEH"}, headers=worker
        )
        assert [b["id"] for b in found.json()["items"]] == [
            i for i, n in people.items() if n == "Omar Saleh"
        ]
        listed = await client.get("/v1/beneficiaries", headers=worker)
        assert {b["id"] for b in listed.json()["items"]} == set(people)
        r = await client.post(
            "/v1/beneficiaries",
            json={
                "full_name": "After Restore",
                "sex": "male",
                "date_of_birth": "1985-02-03",
                "displacement_status": "host_community",
                "registration_channel": "walk_in",
                "registration_date": "2026-02-01",
                "consents": CONSENTS,
            },
            headers=worker,
        )
        assert r.status_code == 201, r.text
    await drop_database(target)


async def test_training_database_restores_and_serves(tmp_path: Path) -> None:
    source_url = await recreate_database("mhpss_deploy_backup_training")
    source = make_url(source_url).database
    assert source is not None
    target = f"mhpss_deploy_restored_training{DB_SUFFIX}"
    await drop_database(target)
    data_dir = tmp_path / "data"
    settings = TrainingSettings(
        database_url=source_url, data_dir=data_dir, auto_migrate=True
    )
    org = uuid.uuid4()
    trainer = bearer(data_dir, org, Role.trainer)
    trainee = {
        "full_name": "Rana Khalil",
        "phone": "+964 750 000 1234",
        "email": "rana@example.org",
        "audience": "ngo",
        "affiliation": "Local NGO",
        "role": "psychosocial worker",
        "profession": "social worker",
        "sex": "female",
    }
    async with serve(create_training(settings)) as client:
        r = await client.post(
            "/v1/courses",
            json={
                "title": "Foundational PM+ (5 days)",
                "approach": "pm_plus",
                "level": "foundational",
                "planned_hours": 30,
                "target_competencies": ["problem management"],
            },
            headers=trainer,
        )
        assert r.status_code == 201, r.text
        course_id = r.json()["id"]
        r = await client.post("/v1/trainees", json=trainee, headers=trainer)
        assert r.status_code == 201, r.text
        trainee_id = r.json()["id"]

    await back_up_and_restore("training", source, target, tmp_path / "backup")

    restored = TrainingSettings(
        database_url=database_url(target), data_dir=data_dir, auto_migrate=False
    )
    async with serve(create_training(restored)) as client:
        assert (await client.get("/readyz")).status_code == 200
        r = await client.get(f"/v1/trainees/{trainee_id}", headers=trainer)
        assert r.status_code == 200, r.text
        for field in ("full_name", "phone", "email"):
            assert r.json()[field] == trainee[field]
        courses = await client.get("/v1/courses", headers=trainer)
        assert course_id in [c["id"] for c in courses.json()]
        r = await client.post(
            "/v1/trainees", json={**trainee, "full_name": "Sami Daoud"}, headers=trainer
        )
        assert r.status_code == 201, r.text
    await drop_database(target)
