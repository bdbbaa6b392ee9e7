"""Beneficiary records made through the API, for tests of any suite."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.beneficiary.app import create_app
from services.beneficiary.settings import BeneficiarySettings
from shared.auth import LocalSigningKey, Role
from shared.db import utcnow
from tests.callers import Caller, Org
from tests.databases import REDIS_URL
from tests.lifespan import running

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


async def audit_trail(
    engine: AsyncEngine, *entity_ids: str, not_actions: tuple[str, ...] = ()
) -> list[tuple[str, str, str]]:
    """(action, entity type, entity id) of the audit rows on these records,
    oldest first, but for ``not_actions`` (either service's ``audit_entry``)."""
    async with engine.connect() as connection:
        rows = await connection.execute(
            text(
                "SELECT action, entity_type, entity_id::text FROM audit_entry "
                "WHERE entity_id::text = ANY(:ids) AND action <> ALL(:skip) "
                "ORDER BY at"
            ),
            {"ids": list(entity_ids), "skip": list(not_actions)},
        )
        return [(r[0], r[1], r[2]) for r in rows]


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


def intake(beneficiary_id: str, **overrides: Any) -> dict[str, Any]:
    body = {
        "beneficiary_id": beneficiary_id,
        "presenting_problems": ["low_mood", "grief"],
        "risk_level": "medium",
        "iasc_layer_needed": "focused_non_specialized",
        "case_worker": "alice",
        "supervisor": "sam",
        "intake_notes": "Lost two sons in 2017; sleeps badly since.",
        "opened_on": "2026-01-15",
    }
    body.update(overrides)
    return body


async def assess(
    caller: Caller, case_id: str, instrument: str, responses: dict[str, int], **kw: Any
) -> Any:
    return await caller.post(
        f"/v1/cases/{case_id}/assessments",
        {
            "instrument": instrument,
            "timepoint": kw.get("timepoint", "baseline"),
            "administered_on": kw.get("on", "2026-01-15"),
            "responses": responses,
        },
    )


async def open_case(caller: Caller, **overrides: Any) -> dict[str, Any]:
    person = await make_beneficiary(caller, date_of_birth="1985-06-01")
    r = await caller.post("/v1/cases", intake(person["id"], **overrides))
    assert r.status_code == 201, r.text
    result: dict[str, Any] = r.json()
    return result


def phq9(*answers: int) -> dict[str, int]:
    return {str(i + 1): a for i, a in enumerate(answers)}


def srq20(yes: int) -> dict[str, int]:
    return {str(i): int(i <= yes) for i in range(1, 21)}


def offline_batch() -> dict[str, Any]:
    person_id = str(uuid.uuid4())
    return {
        "device_id": "tablet-7",
        "beneficiaries": [
            {
                "id": person_id,
                "data": offline_person(full_name="Offline Person"),
                "consents": CONSENTS,
            }
        ],
        "service_records": [
            {
                "id": str(uuid.uuid4()),
                "data": {
                    "beneficiary_id": person_id,
                    "activity_code": "pfa",
                    "service_date": "2026-02-03",
                    "modality": "in_person",
                },
            },
            {
                "id": str(uuid.uuid4()),
                "data": {
                    "beneficiary_id": person_id,
                    "activity_code": "remote_pfa",
                    "service_date": "2026-02-05",
                    "modality": "remote_phone",
                },
            },
        ],
    }


def offline_record(person_id: str, **data: Any) -> dict[str, Any]:
    """A new service record for a sync batch: PFA in person for ``person_id``."""
    return {
        "id": str(uuid.uuid4()),
        "data": {
            "beneficiary_id": person_id,
            "activity_code": "pfa",
            "service_date": "2026-02-20",
            "modality": "in_person",
            **data,
        },
    }


def offline_person(**overrides: Any) -> dict[str, Any]:
    data = beneficiary_body(**overrides)
    data.pop("consents")
    return data


async def break_glass(caller: Caller, person_id: str, **overrides: Any) -> Any:
    body = {"beneficiary_id": person_id, "reason": BREAK_GLASS_REASON, "minutes": 30}
    return await caller.post("/v1/break-glass", {**body, **overrides})


@contextmanager
def focal_point(app: FastAPI, url: str | None, attempts: int = 4) -> Iterator[None]:
    settings = app.state.runtime.settings
    saved = (
        settings.dp_webhook_url,
        settings.dp_webhook_secret,
        settings.dp_webhook_max_attempts,
        settings.dp_webhook_backoff_seconds,
    )
    settings.dp_webhook_url = url
    settings.dp_webhook_secret = FOCAL_POINT_SECRET
    settings.dp_webhook_max_attempts = attempts
    settings.dp_webhook_backoff_seconds = 0.05
    try:
        yield
    finally:
        (
            settings.dp_webhook_url,
            settings.dp_webhook_secret,
            settings.dp_webhook_max_attempts,
            settings.dp_webhook_backoff_seconds,
        ) = saved


async def person_with_case(alice: Caller, site: str) -> tuple[dict[str, Any], str]:
    person = await make_beneficiary(
        alice, site_id=site, full_name="Hana Yousef", phone="+964 750 123 4567"
    )
    r = await alice.post("/v1/cases", intake(person["id"]))
    assert r.status_code == 201, r.text
    return person, r.json()["id"]


AGREEMENTS = "/v1/sharing-agreements"


SHARING = {"purpose": "data_sharing", "granted": True, "form_version": "2024-1"}


async def make_agreement(caller: Caller, **overrides: Any) -> dict[str, Any]:
    r = await caller.post(AGREEMENTS, agreement_body(**overrides))
    assert r.status_code == 201, r.text
    result: dict[str, Any] = r.json()
    return result


async def rogue_partner(issue: Any, lead: Org, name: str = "Rogue") -> Org:
    """A partner the platform registered naming ``lead``, not approved."""
    r = await issue(PLATFORM, Role.platform_admin).post(
        "/v1/organisations",
        {"name": name, "type": "cso", "lead_organisation_id": lead.id},
    )
    assert r.status_code == 201, r.text
    assert r.json()["lead_organisation_id"] is None
    assert r.json()["requested_lead_organisation_id"] == lead.id
    return Org(r.json()["id"], name)


async def positive_item_9(alice: Any) -> dict[str, Any]:
    case = await open_case(alice)
    r = await assess(alice, case["id"], "phq9", phq9(1, 1, 0, 0, 0, 0, 0, 0, 1))
    assert r.status_code == 201, r.text
    assert r.json()["risk_flags"] == ["suicide_risk"]
    return case


async def alerts(caller: Any, status: str = "open") -> list[dict[str, Any]]:
    r = await caller.get("/v1/risk-alerts", params={"status": status})
    assert r.status_code == 200, r.text
    result: list[dict[str, Any]] = r.json()["items"]
    return result


FOCAL_POINT_SECRET = "focal-point-secret"

BREAK_GLASS_REASON = "Came to our clinic in crisis; her own site is closed tonight."

PLATFORM = Org(str(uuid.UUID(int=0)), "platform")


def agreement_body(**overrides: Any) -> dict[str, Any]:
    today = utcnow().date()
    body: dict[str, Any] = {
        "partner": "Cash Partner NGO",
        "purpose": "Multi-purpose cash for people referred by MHPSS teams",
        "fields": ["pseudonym", "sex", "age_group", "full_name"],
        "valid_from": today.isoformat(),
        "expires_on": (today + timedelta(days=90)).isoformat(),
    }
    body.update(overrides)
    return body


async def enrol(caller: Caller, person: dict[str, Any], code: str) -> dict[str, Any]:
    r = await caller.post(
        "/v1/enrolments",
        {
            "beneficiary_id": person["id"],
            "intervention": code,
            "enrolled_on": "2026-02-01",
        },
    )
    assert r.status_code == 201, r.text
    result: dict[str, Any] = r.json()
    return result


@dataclass
class Embedded:
    """A beneficiary service on the embedded SQLite default, in this
    process, with its own signing key (``embedded``)."""

    app: FastAPI
    client: httpx.AsyncClient
    settings: BeneficiarySettings
    key: LocalSigningKey

    def bearer(
        self, org: str, role: Role, sites: list[str] | None = None
    ) -> dict[str, str]:
        token = self.key.issue(
            subject="someone",
            organisation_id=uuid.UUID(org),
            roles=[role],
            site_ids=None if sites is None else [uuid.UUID(s) for s in sites],
            issuer=self.settings.auth_issuer,
            audience=self.settings.auth_audience,
        )
        return {"Authorization": f"Bearer {token}"}

    async def organisation(self) -> str:
        """A new organisation's id, made by the platform's administrator."""
        r = await self.client.post(
            "/v1/organisations",
            json={"name": "Embedded", "type": "cso"},
            headers=self.bearer(str(uuid.UUID(int=0)), Role.platform_admin),
        )
        return str(r.json()["id"])


@asynccontextmanager
async def embedded(tmp_path: Path) -> AsyncIterator[Embedded]:
    """The beneficiary service on a new SQLite file under ``tmp_path``."""
    settings = BeneficiarySettings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'b.db'}",
        redis_url=REDIS_URL,
        data_dir=tmp_path / "data",
        auto_migrate=True,
    )
    application = create_app(settings)
    async with (
        running(application),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=application), base_url="http://t"
        ) as client,
    ):
        key = LocalSigningKey.load_or_create(settings.data_dir)
        yield Embedded(application, client, settings, key)
