"""A small demo data set for the embedded default, loaded through the public
API so it follows every rule real data follows. Names are invented."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx

from shared.auth import LocalSigningKey, Role
from shared.db import utcnow
from shared.pagination import MAX_LIMIT
from shared.settings import ServiceSettings

PEOPLE = [
    ("Layla Hassan Ali", "female", "1990-03-14", "married", "idp", "+964 750 111 2233"),
    ("Omar Khalid Saleh", "male", "1985-07-02", "widowed", "returnee", None),
    ("Shirin Dilshad Amin", "female", "2009-11-20", "single", "idp", "0751 222 3344"),
    ("Yousif Adel Jasim", "male", "1972-01-30", "divorced", "host_community", None),
    ("Noor Salim Mahmoud", "female", "1999-05-05", "separated", "refugee", None),
]
TOKEN_HOURS = 12
"""Lifetime of the demo tokens, written anew at each start of the stack."""
CONSENTS = [
    {"purpose": "registration", "granted": True, "form_version": "2024-1"},
    {"purpose": "services", "granted": True, "form_version": "2024-1"},
]


def demo_tokens(settings: ServiceSettings, orgs: dict[str, str]) -> dict[str, str]:
    """One token per demo user, each of one organisation; no machine account:
    the service role reads every organisation's change feed."""
    key = LocalSigningKey.load_or_create(settings.data_dir)

    def token(sub: str, org: str, *roles: Role) -> str:
        return key.issue(
            subject=sub,
            organisation_id=uuid.UUID(org),
            roles=roles,
            issuer=settings.auth_issuer,
            audience=settings.auth_audience,
            ttl=timedelta(hours=TOKEN_HOURS),
        )

    return {
        "admin": token("demo-admin", orgs["lead"], Role.admin),
        "case_worker": token("demo-case-worker", orgs["lead"], Role.case_worker),
        "supervisor": token("demo-supervisor", orgs["lead"], Role.supervisor),
        "partner_case_worker": token(
            "demo-partner-worker", orgs["partner"], Role.case_worker
        ),
        "auditor": token("demo-auditor", orgs["lead"], Role.auditor),
        "me_officer": token("demo-me-officer", orgs["lead"], Role.me_officer),
        "programme_manager": token(
            "demo-programme-manager", orgs["lead"], Role.programme_manager
        ),
    }


async def seed(client: httpx.AsyncClient, settings: ServiceSettings) -> dict[str, str]:
    """Create the demo organisations, people and services once; return the
    organisation ids by role (lead, partner)."""
    bootstrap = LocalSigningKey.load_or_create(settings.data_dir).issue(
        subject="demo-bootstrap",
        organisation_id=uuid.UUID(int=0),
        roles=[Role.platform_admin],
        issuer=settings.auth_issuer,
        audience=settings.auth_audience,
        ttl=timedelta(minutes=5),
    )
    admin = {"Authorization": f"Bearer {bootstrap}"}
    existing = await client.get(
        "/v1/organisations", params={"limit": MAX_LIMIT}, headers=admin
    )
    by_name = {o["name"]: o["id"] for o in existing.json()["items"]}
    if "IOM Iraq MHPSS (demo)" in by_name:
        return {
            "lead": by_name["IOM Iraq MHPSS (demo)"],
            "partner": by_name["Sunrise Community Organisation (demo)"],
        }
    lead = await _post(
        client,
        "/v1/organisations",
        admin,
        {"name": "IOM Iraq MHPSS (demo)", "type": "un_agency"},
    )
    partner = await _post(
        client,
        "/v1/organisations",
        admin,
        {
            "name": "Sunrise Community Organisation (demo)",
            "type": "cso",
            "lead_organisation_id": lead["id"],
        },
    )
    orgs = {"lead": lead["id"], "partner": partner["id"]}
    tokens = demo_tokens(settings, orgs)
    await _post(  # the lead's admin accepts its partner
        client,
        f"/v1/organisations/{partner['id']}/lead-approval",
        _auth(tokens["admin"]),
        None,
    )
    sites = (
        await client.get(
            "/v1/locations", params={"level": "site"}, headers=_auth(tokens["admin"])
        )
    ).json()["items"]
    site_ids = [s["id"] for s in sites[:3]]
    today = utcnow().date()
    people = []
    for i, (name, sex, born, marital, displacement, phone) in enumerate(PEOPLE):
        worker = tokens["case_worker"] if i < 3 else tokens["partner_case_worker"]
        person = await _post(
            client,
            "/v1/beneficiaries",
            _auth(worker),
            {
                "full_name": name,
                "phone": phone,
                "sex": sex,
                "date_of_birth": born,
                "marital_status": marital,
                "displacement_status": displacement,
                "disability": "no" if i % 2 else "not_disclosed",
                "nationality": "SYR" if displacement == "refugee" else "IRQ",
                "site_id": site_ids[i % len(site_ids)],
                "registration_channel": "outreach",
                "registration_date": str(today - timedelta(days=30 - i)),
                "consents": CONSENTS,
            },
        )
        people.append((person, worker))
    for i, (person, worker) in enumerate(people):
        await _post(
            client,
            "/v1/service-records",
            _auth(worker),
            {
                "beneficiary_id": person["id"],
                "activity_code": ["individual_counselling", "pfa"][i % 2],
                "service_date": str(today - timedelta(days=10 - i)),
                "site_id": person["site_id"],
                "staff_id": "staff-01",
                "duration_minutes": 45,
            },
        )
    await _post(
        client,
        "/v1/group-activities",
        _auth(tokens["case_worker"]),
        {
            "activity_code": "guided_group_discussion",
            "activity_date": str(today - timedelta(days=3)),
            "site_id": site_ids[0],
            "facilitator_staff_ids": ["staff-01"],
            "duration_minutes": 90,
            "attendee_ids": [p["id"] for p, _ in people[:3]],
            "anonymous_attendees": [
                {"sex": "female", "age_group": "18_plus", "count": 4},
            ],
        },
    )
    await _post(
        client,
        "/v1/anonymous-services",
        _auth(tokens["partner_case_worker"]),
        {
            "activity_code": "awareness_session",
            "service_date": str(today - timedelta(days=2)),
            "site_id": site_ids[1],
            "counts": [
                {"sex": "female", "age_group": "18_plus", "count": 23},
                {"sex": "male", "age_group": "18_plus", "count": 17},
                {"sex": "female", "age_group": "0_17", "count": 9},
            ],
        },
    )
    return orgs


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _post(
    client: httpx.AsyncClient, path: str, headers: dict[str, str], body: Any
) -> dict[str, Any]:
    response = await client.post(path, json=body, headers=headers)
    if response.status_code >= 300:
        raise RuntimeError(
            f"demo seed: {path} -> {response.status_code} {response.text}"
        )
    result: dict[str, Any] = response.json()
    return result
