"""The beneficiary app on a fresh PostgreSQL database and a real Redis queue,
clients for two organisations (and a partner of the first), and API helpers."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.beneficiary.app import create_app
from services.beneficiary.db import metadata
from services.beneficiary.settings import BeneficiarySettings
from shared.auth import LocalSigningKey, Role
from tests.conftest import REDIS_URL, recreate_database, truncate_filled

KEEP_TABLES = {"location", "alembic_version"}


@pytest.fixture(scope="session")
async def settings(data_dir: Path, redis: Redis) -> BeneficiarySettings:
    url = await recreate_database("mhpss_test_beneficiary")
    return BeneficiarySettings(
        database_url=url, redis_url=REDIS_URL, data_dir=data_dir, auto_migrate=True
    )


@pytest.fixture(scope="session")
async def app(settings: BeneficiarySettings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    async with LifespanManager(application):
        yield application


@pytest.fixture(scope="session")
def engine(app: FastAPI) -> AsyncEngine:
    engine: AsyncEngine = app.state.engine
    return engine


@pytest.fixture(autouse=True)
async def clean_tables(engine: AsyncEngine, redis: Redis) -> AsyncIterator[None]:
    """Each test starts from reference data only (and an empty queue)."""
    yield
    tables = [t.name for t in metadata.sorted_tables if t.name not in KEEP_TABLES]
    async with engine.begin() as connection:
        await truncate_filled(connection, tables)
        await connection.execute(
            text("INSERT INTO outbox_counter (id, last_position) VALUES (1, 0)")
        )
        await connection.execute(
            text("DELETE FROM location WHERE pcode IS NULL AND name LIKE 'Test %'")
        )
    await redis.flushdb()


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c


@dataclass
class Org:
    id: str
    name: str


@dataclass
class Caller:
    """A user with a token, for readable tests: ``await alice.get(...)``."""

    client: httpx.AsyncClient
    token: str
    org: Org
    subject: str

    def headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", **(extra or {})}

    async def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.client.get(
            path, headers=self.headers(kwargs.pop("headers", None)), **kwargs
        )

    async def post(self, path: str, json: Any = None, **kwargs: Any) -> httpx.Response:
        return await self.client.post(
            path, json=json, headers=self.headers(kwargs.pop("headers", None)), **kwargs
        )

    async def patch(self, path: str, json: Any = None, **kwargs: Any) -> httpx.Response:
        return await self.client.patch(
            path, json=json, headers=self.headers(kwargs.pop("headers", None)), **kwargs
        )


@pytest.fixture
def signing_key(settings: BeneficiarySettings) -> LocalSigningKey:
    return LocalSigningKey.load_or_create(settings.data_dir)


@pytest.fixture
def issue(
    signing_key: LocalSigningKey,
    settings: BeneficiarySettings,
    client: httpx.AsyncClient,
) -> Any:
    def make(
        org: Org,
        *roles: Role,
        subject: str | None = None,
        sites: list[str] | None = None,
        team: str | None = None,
        ttl: timedelta = timedelta(hours=1),
    ) -> Caller:
        subject = subject or f"user-{uuid.uuid4().hex[:6]}"
        token = signing_key.issue(
            subject=subject,
            organisation_id=uuid.UUID(org.id),
            roles=roles,
            site_ids=[uuid.UUID(s) for s in sites] if sites is not None else None,
            team_id=uuid.UUID(team) if team is not None else None,
            issuer=settings.auth_issuer,
            audience=settings.auth_audience,
            ttl=ttl,
        )
        return Caller(client, token, org, subject)

    return make


@pytest.fixture
async def orgs(issue: Any) -> dict[str, Org]:
    """Lead organisation A, its implementing partner (approved by A), and
    unrelated org B."""
    admin = issue(Org(str(uuid.UUID(int=0)), "platform"), Role.platform_admin)
    created = {}
    for key, body in [
        ("a", {"name": "Org A (lead)", "type": "un_agency"}),
        ("b", {"name": "Org B", "type": "international_ngo"}),
    ]:
        r = await admin.post("/v1/organisations", body)
        assert r.status_code == 201, r.text
        created[key] = Org(r.json()["id"], body["name"])
    r = await admin.post(
        "/v1/organisations",
        {
            "name": "Partner of A",
            "type": "cso",
            "lead_organisation_id": created["a"].id,
        },
    )
    assert r.status_code == 201, r.text
    created["partner"] = Org(r.json()["id"], "Partner of A")
    lead_admin = issue(created["a"], Role.admin)
    partner = created["partner"].id
    r = await lead_admin.post(f"/v1/organisations/{partner}/lead-approval")
    assert r.status_code == 200, r.text
    return created


@pytest.fixture
def alice(issue: Any, orgs: dict[str, Org]) -> Caller:
    """A case worker of org A."""
    return issue(orgs["a"], Role.case_worker, subject="alice")  # type: ignore[no-any-return]


@pytest.fixture
def bob(issue: Any, orgs: dict[str, Org]) -> Caller:
    """A case worker of org B."""
    return issue(orgs["b"], Role.case_worker, subject="bob")  # type: ignore[no-any-return]


@pytest.fixture
async def site_ids(alice: Caller) -> list[str]:
    r = await alice.get("/v1/locations", params={"level": "site"})
    assert r.status_code == 200
    return [s["id"] for s in r.json()][:4]


CONSENTS = [
    {"purpose": "registration", "granted": True, "form_version": "2024-1"},
    {"purpose": "services", "granted": True, "form_version": "2024-1"},
]


def beneficiary_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "full_name": f"Person {uuid.uuid4().hex[:6]}",
        "phone": None,
        "sex": "female",
        "date_of_birth": "1990-04-01",
        "marital_status": "married",
        "disability": "no",
        "displacement_status": "idp",
        "nationality": "IRQ",
        "registration_channel": "outreach",
        "registration_date": "2026-01-10",
        "consents": CONSENTS,
    }
    body.update(overrides)
    return body


async def make_beneficiary(caller: Caller, **overrides: Any) -> dict[str, Any]:
    r = await caller.post("/v1/beneficiaries", beneficiary_body(**overrides))
    assert r.status_code == 201, r.text
    result: dict[str, Any] = r.json()
    return result


async def record_service(
    caller: Caller, beneficiary_id: str, **overrides: Any
) -> dict[str, Any]:
    body = {
        "beneficiary_id": beneficiary_id,
        "activity_code": "individual_counselling",
        "service_date": "2026-02-01",
        "staff_id": "staff-1",
        "duration_minutes": 50,
        **overrides,
    }
    r = await caller.post("/v1/service-records", body)
    assert r.status_code == 201, r.text
    result: dict[str, Any] = r.json()
    return result


async def count_rows(engine: AsyncEngine, table: str) -> int:
    async with engine.connect() as connection:
        return int(
            (
                await connection.execute(text(f"SELECT count(*) FROM {table}"))
            ).scalar_one()
        )


WITHDRAW_REGISTRATION = {
    "purpose": "registration",
    "granted": False,
    "form_version": "2024-1",
}
ERASURE_REASON = {"X-Access-Reason": "written request received on 2026-03-01"}


async def withdraw_registration(issue: Any, org: Org, person_id: str) -> httpx.Response:
    """The person withdraws consent to registration: an erasure, so a
    supervisor records it with a reason."""
    supervisor: Caller = issue(org, Role.supervisor)
    return await supervisor.post(
        f"/v1/beneficiaries/{person_id}/consents",
        [WITHDRAW_REGISTRATION],
        headers=ERASURE_REASON,
    )


async def give_consent(caller: Caller, person_id: str, *entries: Any) -> httpx.Response:
    """An online consent form, filled on the ledger as it is now (its ETag
    sent as If-Match, which a grant needs)."""
    path = f"/v1/beneficiaries/{person_id}/consents"
    version = (await caller.get(path)).headers["etag"]
    return await caller.post(path, list(entries), headers={"If-Match": version})
