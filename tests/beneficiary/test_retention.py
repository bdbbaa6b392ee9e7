from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import Date, text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.beneficiary.db import metadata
from services.beneficiary.protection.retention import service as retention
from services.beneficiary.protection.retention.schemas import RecordType
from services.beneficiary.protection.retention.service import (
    apply_policies,
    apply_retention,
    platform_defaults,
)
from services.beneficiary.worker import make_worker
from shared.auth import Role
from shared.db import UTCDateTime, utcnow
from tests.beneficiary.alerts import run_worker
from tests.beneficiary.api import (
    CONSENTS,
    beneficiary_body,
    count_rows,
    intake,
    make_beneficiary,
    phq9,
    record_service,
)
from tests.callers import Caller, Org

EIGHT_YEARS = 8 * 366
BY_PERSON = "beneficiary_id = :id"
BY_CASE = "case_id IN (SELECT id FROM case_file WHERE beneficiary_id = :id)"
PERSON_ROWS = {
    "beneficiary": "id = :id",
    "consent_entry": BY_PERSON,
    "service_record": BY_PERSON,
    "case_file": BY_PERSON,
    "assessment": BY_PERSON,
    "referral": BY_PERSON,
    "enrolment": BY_PERSON,
    "risk_alert": BY_PERSON,
    "follow_up": BY_CASE,
    "case_plan": BY_CASE,
    "safety_plan": BY_CASE,
}


def ago(*, years: int = 0, days: int = 0) -> str:
    return (utcnow().date() - timedelta(days=365 * years + days)).isoformat()


async def backdate(engine: AsyncEngine, person_id: str, days: int) -> None:
    """Everything recorded about the person happened ``days`` earlier."""
    async with engine.begin() as conn:
        for table, where in PERSON_ROWS.items():
            shifts = []
            for column in metadata.tables[table].columns:
                if column.name == "date_of_birth":
                    continue
                name = f'"{column.name}"'
                if isinstance(column.type, UTCDateTime):
                    shifts.append(
                        f"{name} = {name} - make_interval(days => CAST(:days AS int))"
                    )
                elif isinstance(column.type, Date):
                    shifts.append(f"{name} = {name} - CAST(:days AS int)")
            await conn.execute(
                text(f"UPDATE {table} SET {', '.join(shifts)} WHERE {where}"),
                {"id": person_id, "days": days},
            )


async def sql(engine: AsyncEngine, statement: str, **params: Any) -> list[Any]:
    async with engine.begin() as conn:
        result = await conn.execute(text(statement), params)
        return list(result.mappings()) if result.returns_rows else []


async def close(caller: Caller, case: dict[str, Any], on: str) -> None:
    r = await caller.post(
        f"/v1/cases/{case['id']}/transitions",
        {"status": "closed", "on": on, "closure_reason": "goals_met"},
        headers={"If-Match": f'"{case["version"]}"'},
    )
    assert r.status_code == 200, r.text


async def closed_case(caller: Caller, opened_on: str, closed_on: str) -> str:
    """A case with notes everywhere, closed on ``closed_on``."""
    person = await make_beneficiary(caller, registration_date=opened_on)
    r = await caller.post("/v1/cases", intake(person["id"], opened_on=opened_on))
    assert r.status_code == 201, r.text
    case = r.json()
    path = f"/v1/cases/{case['id']}"
    r = await caller.client.put(
        f"{path}/plan", json={"goals": ["sleep again"]}, headers=caller.headers()
    )
    assert r.status_code == 200, r.text
    r = await caller.post(f"{path}/safety-plans", {"warning_signs": ["insomnia"]})
    assert r.status_code == 201, r.text
    r = await caller.post(
        f"{path}/follow-ups", {"on": opened_on, "notes": "Talked about the camp."}
    )
    assert r.status_code == 201, r.text
    r = await caller.post(
        f"{path}/assessments",
        {
            "instrument": "phq9",
            "timepoint": "baseline",
            "administered_on": opened_on,
            "responses": phq9(2, 2, 1, 1, 0, 0, 0, 0, 0),
        },
    )
    assert r.status_code == 201, r.text
    await close(caller, case, closed_on)
    return str(case["id"])


async def conflict(
    caller: Caller, person_id: str, base: dict[str, Any], phone: str
) -> str:
    r = await caller.post(
        "/v1/sync",
        {
            "device_id": "tablet-3",
            "beneficiaries": [
                {"id": person_id, "base_version": 1, "data": {**base, "phone": phone}}
            ],
        },
    )
    result = r.json()["results"][0]
    assert result["status"] == "conflict", r.text
    return str(result["conflict_id"])


@dataclass
class Programme:
    """Org A's records, and which of them the default policies reach today."""

    old_person: str
    recent_person: str
    open_case_person: str
    returning_person: str
    old_case: str
    recent_case: str
    old_conflict: str
    new_conflict: str
    anonymous_service: str
    other_org_person: str

    def expected(self) -> dict[str, list[str]]:
        return {
            "beneficiary": [self.old_person],
            "closed_case": sorted([self.old_case, self.old_person_case]),
            "sync_conflict": [self.old_conflict],
            "anonymous_service": [],
        }

    old_person_case: str = ""


@pytest.fixture
async def programme(
    alice: Caller, bob: Caller, beneficiary_engine: AsyncEngine
) -> Programme:
    old = await make_beneficiary(
        alice, full_name="Old Person", phone="0770 111 2222", address="Camp 4, C12"
    )
    await record_service(alice, old["id"], service_date=ago(days=30))
    r = await alice.post("/v1/cases", intake(old["id"], opened_on=ago(days=20)))
    assert r.status_code == 201, r.text
    old_person_case = r.json()
    await close(alice, old_person_case, ago(days=10))
    await backdate(beneficiary_engine, old["id"], EIGHT_YEARS)

    recent = await make_beneficiary(alice, full_name="Recent Person")

    open_case = await make_beneficiary(alice, registration_date=ago(days=10))
    r = await alice.post("/v1/cases", intake(open_case["id"], opened_on=ago(days=5)))
    assert r.status_code == 201, r.text
    await backdate(beneficiary_engine, open_case["id"], EIGHT_YEARS)

    returning = await make_beneficiary(alice, registration_date=ago(days=10))
    await backdate(beneficiary_engine, returning["id"], EIGHT_YEARS)
    await record_service(alice, returning["id"], service_date=ago(days=1))

    old_case = await closed_case(alice, ago(years=7), ago(years=6))
    recent_case = await closed_case(alice, ago(years=3), ago(years=2))

    person_id = str(uuid.uuid4())
    data = beneficiary_body(full_name="Synced Person")
    data.pop("consents")
    r = await alice.post(
        "/v1/sync",
        {"beneficiaries": [{"id": person_id, "data": data, "consents": CONSENTS}]},
    )
    assert r.json()["results"][0]["status"] == "created", r.text
    r = await alice.patch(
        f"/v1/beneficiaries/{person_id}",
        {"marital_status": "divorced"},
        headers={"If-Match": '"1"'},
    )
    assert r.status_code == 200, r.text
    old_conflict = await conflict(alice, person_id, data, "0770 000 0001")
    new_conflict = await conflict(alice, person_id, data, "0770 000 0002")
    await sql(
        beneficiary_engine,
        "UPDATE sync_conflict SET created_at = created_at - interval '100 days' "
        "WHERE id = :id",
        id=old_conflict,
    )

    r = await alice.post(
        "/v1/anonymous-services",
        {
            "activity_code": "awareness_session",
            "service_date": ago(years=20),
            "counts": [{"sex": "female", "age_group": "adult", "count": 12}],
        },
    )
    assert r.status_code == 201, r.text

    other = await make_beneficiary(bob, full_name="Other Org Person")
    await backdate(beneficiary_engine, other["id"], EIGHT_YEARS)

    return Programme(
        old_person=old["id"],
        recent_person=recent["id"],
        open_case_person=open_case["id"],
        returning_person=returning["id"],
        old_case=old_case,
        recent_case=recent_case,
        old_conflict=old_conflict,
        new_conflict=new_conflict,
        anonymous_service=r.json()["id"],
        other_org_person=other["id"],
        old_person_case=old_person_case["id"],
    )


@pytest.fixture
def manager(issue: Any, orgs: dict[str, Org]) -> Caller:
    return issue(orgs["a"], Role.programme_manager, subject="pat")  # type: ignore[no-any-return]


@pytest.fixture
def auditor(issue: Any, orgs: dict[str, Org]) -> Caller:
    return issue(orgs["a"], Role.auditor, subject="audrey")  # type: ignore[no-any-return]


async def put_policy(
    caller: Caller, record_type: str, body: Any, *, if_match: str | None = None
) -> Any:
    """As a client does: If-Match with the version just read, unless given."""
    path = f"/v1/retention/policies/{record_type}"
    if if_match is None:
        read = await caller.get(path)
        if_match = read.headers.get("ETag", '"0"')
    return await caller.client.put(
        path, json=body, headers=caller.headers({"If-Match": if_match})
    )


async def run(caller: Caller, *, dry_run: bool) -> dict[str, Any]:
    r = await caller.post("/v1/retention/runs", {"dry_run": dry_run})
    assert r.status_code == 201, r.text
    result: dict[str, Any] = r.json()
    return result


def ids(run: dict[str, Any]) -> dict[str, list[str]]:
    return {t: sorted(a["ids"]) for t, a in run["affected"].items()}


def counts(run: dict[str, Any]) -> dict[str, int]:
    return {t: a["count"] for t, a in run["affected"].items()}


NOTHING = dict.fromkeys(RecordType, 0)


class TestPolicies:
    async def test_platform_defaults_apply_until_the_organisation_sets_its_own(
        self, manager: Caller, auditor: Caller
    ) -> None:
        r = await auditor.get("/v1/retention/policies")
        assert r.status_code == 200, r.text
        assert [
            (p["record_type"], p["keep_days"], p["action"], p["source"])
            for p in r.json()["items"]
        ] == [
            ("beneficiary", 2557, "pseudonymise", "platform_default"),
            ("closed_case", 1826, "pseudonymise", "platform_default"),
            ("sync_conflict", 90, "pseudonymise", "platform_default"),
            ("anonymous_service", None, "keep", "platform_default"),
        ]
        r = await put_policy(
            manager, "closed_case", {"keep_days": 3650, "action": "pseudonymise"}
        )
        assert r.status_code == 200, r.text
        assert r.json()["source"] == "organisation"
        assert r.json()["updated_by"] == "pat"
        r = await put_policy(manager, "closed_case", {"action": "keep"})
        assert (r.json()["keep_days"], r.json()["action"]) == (None, "keep")
        one = (await auditor.get("/v1/retention/policies/closed_case")).json()
        assert (one["action"], one["source"]) == ("keep", "organisation")

        r = await manager.client.delete(
            "/v1/retention/policies/closed_case", headers=manager.headers()
        )
        assert r.status_code == 200, r.text
        assert (r.json()["keep_days"], r.json()["source"]) == (1826, "platform_default")

    @pytest.mark.parametrize(
        ("record_type", "body"),
        [
            ("closed_case", {"keep_days": -1, "action": "pseudonymise"}),
            ("closed_case", {"keep_days": 10**9, "action": "pseudonymise"}),
            ("closed_case", {"keep_days": "soon", "action": "pseudonymise"}),
            ("closed_case", {"keep_days": 400, "action": "shred"}),
            ("closed_case", {"keep_days": 400, "action": "keep"}),
            ("closed_case", {"action": "pseudonymise"}),
            ("closed_case", {"keep_days": 400}),
            ("closed_case", {"keep_days": 400, "action": "keep", "extra": 1}),
            ("beneficiary", {"keep_days": 0, "action": "pseudonymise"}),
            ("sync_conflict", {"keep_days": 1, "action": "pseudonymise"}),
            ("anonymous_service", {"keep_days": 400, "action": "pseudonymise"}),
            ("cases", {"keep_days": 400, "action": "pseudonymise"}),
        ],
    )
    async def test_bad_input_is_422_and_writes_nothing(
        self,
        manager: Caller,
        beneficiary_engine: AsyncEngine,
        record_type: str,
        body: Any,
    ) -> None:
        audited = await count_rows(beneficiary_engine, "audit_entry")
        r = await put_policy(manager, record_type, body)
        assert r.status_code == 422, r.text
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["errors"]
        assert await count_rows(beneficiary_engine, "retention_policy") == 0
        assert await count_rows(beneficiary_engine, "audit_entry") == audited

    async def test_a_run_request_needs_an_explicit_boolean(
        self, manager: Caller, beneficiary_engine: AsyncEngine
    ) -> None:
        for body in ({}, {"dry_run": "yes"}, {"dry_run": 1}):
            r = await manager.post("/v1/retention/runs", body)
            assert r.status_code == 422, r.text
        assert await count_rows(beneficiary_engine, "retention_run") == 0

    async def test_only_managers_change_policies_or_run_them(
        self, alice: Caller, auditor: Caller, beneficiary_engine: AsyncEngine
    ) -> None:
        body = {"keep_days": 400, "action": "pseudonymise"}
        for caller in (alice, auditor):
            assert (await put_policy(caller, "closed_case", body)).status_code == 403
            r = await caller.client.delete(
                "/v1/retention/policies/closed_case", headers=caller.headers()
            )
            assert r.status_code == 403
            r = await caller.post("/v1/retention/runs", {"dry_run": True})
            assert r.status_code == 403
        assert (await alice.get("/v1/retention/policies")).status_code == 403
        assert (await alice.get("/v1/retention/runs")).status_code == 403
        assert await count_rows(beneficiary_engine, "retention_policy") == 0
        assert await count_rows(beneficiary_engine, "retention_run") == 0

    async def test_a_policy_is_the_callers_organisations_only(
        self, manager: Caller, issue: Any, orgs: dict[str, Org]
    ) -> None:
        b_manager = issue(orgs["b"], Role.programme_manager)
        r = await put_policy(b_manager, "closed_case", {"action": "keep"})
        assert r.status_code == 200, r.text
        ours = (await manager.get("/v1/retention/policies/closed_case")).json()
        assert (ours["action"], ours["source"]) == ("pseudonymise", "platform_default")

    async def test_a_late_edit_never_undoes_a_newer_policy(
        self, manager: Caller
    ) -> None:
        """Two managers read the default; the second one's edit, made on what
        it read, must not replace the first one's newer decision."""
        path = "/v1/retention/policies/closed_case"
        read = await manager.get(path)
        assert read.headers["ETag"] == '"0"'
        assert read.json()["version"] == 0
        first = await put_policy(
            manager,
            "closed_case",
            {"keep_days": 30, "action": "pseudonymise"},
            if_match='"0"',
        )
        assert first.status_code == 200, first.text
        assert first.headers["ETag"] == '"1"'
        late = await put_policy(
            manager,
            "closed_case",
            {"keep_days": None, "action": "keep"},
            if_match='"0"',
        )
        assert late.status_code == 409
        assert late.json()["current"]["keep_days"] == 30
        unversioned = await manager.client.put(
            path,
            json={"keep_days": None, "action": "keep"},
            headers=manager.headers(),
        )
        assert unversioned.status_code == 428
        now = (await manager.get(path)).json()
        assert (now["keep_days"], now["version"]) == (30, 1)

    async def test_the_defaults_file_covers_every_record_type(self) -> None:
        assert set(platform_defaults()) == set(RecordType)


class TestRuns:
    async def test_a_dry_run_lists_exactly_what_a_real_run_then_changes(
        self,
        programme: Programme,
        manager: Caller,
        alice: Caller,
        auditor: Caller,
        beneficiary_engine: AsyncEngine,
    ) -> None:
        events = await count_rows(beneficiary_engine, "outbox_event")
        audit = await count_rows(beneficiary_engine, "audit_entry")
        dry = await run(manager, dry_run=True)
        assert dry["dry_run"] is True
        assert dry["started_by"] == "pat"
        assert dry["finished_at"] is not None
        assert ids(dry) == programme.expected()

        person = (await alice.get(f"/v1/beneficiaries/{programme.old_person}")).json()
        assert person["full_name"] == "Old Person"
        assert person["phone"] == "0770 111 2222"
        case = (await alice.get(f"/v1/cases/{programme.old_case}")).json()
        assert case["intake_notes"] is not None
        assert await count_rows(beneficiary_engine, "sync_conflict") == 2
        assert await count_rows(beneficiary_engine, "outbox_event") == events
        assert (
            await count_rows(beneficiary_engine, "audit_entry") == audit + 2
        )  # the two reads

        real = await run(manager, dry_run=False)
        assert real["dry_run"] is False
        assert ids(real) == ids(dry)
        stored = (await auditor.get(f"/v1/retention/runs/{real['id']}")).json()
        assert ids(stored) == ids(dry)
        assert stored["affected"]["beneficiary"]["keep_days"] == 2557
        assert stored["affected"]["beneficiary"]["source"] == "platform_default"

        again = await run(manager, dry_run=False)
        assert counts(again) == NOTHING
        assert counts(await run(manager, dry_run=True)) == NOTHING

    async def test_a_real_run_pseudonymises_the_inactive_and_keeps_the_facts(
        self,
        programme: Programme,
        manager: Caller,
        alice: Caller,
        beneficiary_engine: AsyncEngine,
    ) -> None:
        before = (await alice.get(f"/v1/beneficiaries/{programme.old_person}")).json()
        await run(manager, dry_run=False)
        after = (await alice.get(f"/v1/beneficiaries/{programme.old_person}")).json()
        assert (after["full_name"], after["phone"], after["address"]) == (None,) * 3
        assert after["pii_erased"] is True
        assert after["version"] == before["version"] + 1
        assert after["date_of_birth"] == before["date_of_birth"][:4] + "-01-01"
        assert after["date_of_birth_estimated"] is True
        for fact in ("sex", "disability", "displacement_status", "site_id"):
            assert after[fact] == before[fact]
        records = await alice.get(
            "/v1/service-records", params={"beneficiary_id": programme.old_person}
        )
        assert len(records.json()["items"]) == 1

        for kept in (
            programme.recent_person,
            programme.open_case_person,
            programme.returning_person,
            programme.other_org_person,
        ):
            rows = await sql(
                beneficiary_engine,
                "SELECT full_name_enc, pii_erased_at FROM beneficiary WHERE id = :id",
                id=kept,
            )
            assert rows[0]["full_name_enc"] is not None
            assert rows[0]["pii_erased_at"] is None
        recent = (
            await alice.get(f"/v1/beneficiaries/{programme.recent_person}")
        ).json()
        assert recent["full_name"] == "Recent Person"

        events = await sql(
            beneficiary_engine,
            "SELECT type, data FROM outbox_event WHERE entity_id = :id "
            "ORDER BY occurred_at DESC",
            id=programme.old_person,
        )
        assert events[0]["type"] == "beneficiary.updated"
        facts = events[0]["data"]
        facts = json.loads(facts) if isinstance(facts, str) else facts
        assert facts["version"] == after["version"]
        assert facts["birth_year"] == int(before["date_of_birth"][:4])
        assert facts["sex"] == before["sex"]
        dumped = json.dumps(facts)
        for pii in ("Old Person", "0770 111 2222", "Camp 4", before["date_of_birth"]):
            assert pii not in dumped
        assert not {"full_name", "phone", "address", "date_of_birth"} & set(facts)

        trail = await sql(
            beneficiary_engine,
            "SELECT subject, entity_type, entity_id FROM audit_entry "
            "WHERE action = 'retention' ORDER BY entity_type",
        )
        assert {
            (t["subject"], t["entity_type"], str(t["entity_id"])) for t in trail
        } == {
            ("pat", "beneficiary", programme.old_person),
            ("pat", "case", programme.old_case),
            ("pat", "case", programme.old_person_case),
            ("pat", "sync_conflict", programme.old_conflict),
        }

    async def test_closed_case_text_goes_after_the_limit_and_scores_stay(
        self, programme: Programme, manager: Caller, alice: Caller
    ) -> None:
        old = f"/v1/cases/{programme.old_case}"
        before = (await alice.get(old)).json()
        scores = (await alice.get(f"{old}/assessments")).json()["items"]
        await run(manager, dry_run=False)

        after = (await alice.get(old)).json()
        assert after["intake_notes"] is None
        for kept in (
            "status",
            "opened_on",
            "closed_on",
            "closure_reason",
            "risk_level",
        ):
            assert after[kept] == before[kept]
        assert (await alice.get(f"{old}/assessments")).json()["items"] == scores
        [follow_up] = (await alice.get(f"{old}/follow-ups")).json()["items"]
        assert follow_up["notes"] is None
        assert follow_up["on"] == before["opened_on"]
        assert (await alice.get(f"{old}/plan")).status_code == 404
        assert (await alice.get(f"{old}/safety-plans")).json()["items"] == []

        recent = f"/v1/cases/{programme.recent_case}"
        assert (await alice.get(recent)).json()["intake_notes"] is not None
        assert (await alice.get(f"{recent}/plan")).json()["goals"] == ["sleep again"]
        [note] = (await alice.get(f"{recent}/follow-ups")).json()["items"]
        assert note["notes"] == "Talked about the camp."

    async def test_old_sync_conflicts_go_and_anonymous_counts_stay(
        self, programme: Programme, manager: Caller, beneficiary_engine: AsyncEngine
    ) -> None:
        anonymous = await sql(beneficiary_engine, "SELECT * FROM anonymous_service")
        await run(manager, dry_run=False)
        left = await sql(beneficiary_engine, "SELECT id FROM sync_conflict")
        assert [str(c["id"]) for c in left] == [programme.new_conflict]
        assert (
            await sql(beneficiary_engine, "SELECT * FROM anonymous_service")
            == anonymous
        )

    async def test_an_organisation_policy_overrides_the_default(
        self, programme: Programme, manager: Caller, alice: Caller
    ) -> None:
        r = await put_policy(
            manager, "closed_case", {"keep_days": 365, "action": "pseudonymise"}
        )
        assert r.status_code == 200, r.text
        r = await put_policy(manager, "beneficiary", {"action": "keep"})
        assert r.status_code == 200, r.text
        result = await run(manager, dry_run=False)
        assert result["affected"]["closed_case"]["source"] == "organisation"
        assert programme.recent_case in result["affected"]["closed_case"]["ids"]
        assert counts(result)["beneficiary"] == 0
        person = (await alice.get(f"/v1/beneficiaries/{programme.old_person}")).json()
        assert person["full_name"] == "Old Person"
        recent = (await alice.get(f"/v1/cases/{programme.recent_case}")).json()
        assert recent["intake_notes"] is None

    async def test_other_organisations_runs_are_invisible(
        self, programme: Programme, manager: Caller, issue: Any, orgs: dict[str, Org]
    ) -> None:
        b_manager = issue(orgs["b"], Role.programme_manager)
        theirs = await run(b_manager, dry_run=True)
        assert ids(theirs)["beneficiary"] == [programme.other_org_person]
        ours = await run(manager, dry_run=True)
        listed = (await manager.get("/v1/retention/runs")).json()["items"]
        assert [r["id"] for r in listed] == [ours["id"]]
        assert (
            await manager.get(f"/v1/retention/runs/{theirs['id']}")
        ).status_code == 404
        missing = f"/v1/retention/runs/{uuid.uuid4()}"
        assert (await manager.get(missing)).status_code == 404

    async def test_runs_are_listed_newest_first_page_by_page(
        self, manager: Caller, auditor: Caller
    ) -> None:
        made = [(await run(manager, dry_run=True))["id"] for _ in range(3)]
        first = (await auditor.get("/v1/retention/runs", params={"limit": 2})).json()
        assert [r["id"] for r in first["items"]] == made[::-1][:2]
        assert first["items"][0]["counts"] == NOTHING
        rest = (
            await auditor.get(
                "/v1/retention/runs",
                params={"limit": 2, "cursor": first["next_cursor"]},
            )
        ).json()
        assert [r["id"] for r in rest["items"]] == [made[0]]
        assert rest["next_cursor"] is None


class TestJob:
    async def test_the_job_applies_every_organisations_policies_once(
        self,
        programme: Programme,
        beneficiary_app: FastAPI,
        manager: Caller,
        beneficiary_engine: AsyncEngine,
    ) -> None:
        ctx = {"runtime": beneficiary_app.state.runtime}
        changed = await apply_retention(ctx)
        assert changed == 5  # a person and two cases of A, a conflict, B's person
        assert await apply_retention(ctx) == 0

        runs = await sql(
            beneficiary_engine,
            "SELECT organisation_id, started_by, dry_run, finished_at, affected "
            "FROM retention_run ORDER BY started_at",
        )
        assert len(runs) == 2 * await count_rows(beneficiary_engine, "organisation")
        assert {r["started_by"] for r in runs} == {"retention-job"}
        assert not any(r["dry_run"] for r in runs)
        assert all(r["finished_at"] is not None for r in runs)
        ours = [r for r in runs if str(r["organisation_id"]) == manager.org.id]
        affected = ours[0]["affected"]
        affected = json.loads(affected) if isinstance(affected, str) else affected
        assert {
            t: sorted(a["ids"]) for t, a in affected.items()
        } == programme.expected()
        listed = (await manager.get("/v1/retention/runs")).json()["items"]
        assert len(listed) == 2
        trail = await sql(
            beneficiary_engine,
            "SELECT DISTINCT subject FROM audit_entry WHERE action = 'retention'",
        )
        assert [t["subject"] for t in trail] == ["retention-job"]
        erased = await sql(
            beneficiary_engine,
            "SELECT id FROM beneficiary WHERE pii_erased_at IS NOT NULL ORDER BY id",
        )
        assert sorted(str(e["id"]) for e in erased) == sorted(
            [programme.old_person, programme.other_org_person]
        )

    async def test_a_long_run_goes_on_in_slices_each_getting_further(
        self,
        programme: Programme,
        beneficiary_app: FastAPI,
        manager: Caller,
        beneficiary_engine: AsyncEngine,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """With no time to spare, each job applies one step and queues the
        rest; the worker's jobs finish the work, each record once."""
        monkeypatch.setattr(retention, "RETENTION_SLICE_SECONDS", 0.0)
        ctx = {"runtime": beneficiary_app.state.runtime}
        first = await apply_retention(ctx)
        assert 0 < first < 5
        await run_worker(beneficiary_app)

        runs = await sql(
            beneficiary_engine,
            "SELECT organisation_id, finished_at, affected FROM retention_run "
            "ORDER BY started_at",
        )
        ours = [r for r in runs if str(r["organisation_id"]) == manager.org.id]
        assert len(ours) > 2, "the run went on in several jobs"
        assert [r["finished_at"] is not None for r in ours][-1]
        assert not any(r["finished_at"] for r in ours[:-1])
        applied: dict[str, list[str]] = {t: [] for t in programme.expected()}
        for run in ours:
            affected = run["affected"]
            affected = json.loads(affected) if isinstance(affected, str) else affected
            for record_type, done in affected.items():
                applied[record_type] += done["ids"]
        assert {t: sorted(ids) for t, ids in applied.items()} == programme.expected()
        erased = await sql(
            beneficiary_engine,
            "SELECT id FROM beneficiary WHERE pii_erased_at IS NOT NULL ORDER BY id",
        )
        assert sorted(str(e["id"]) for e in erased) == sorted(
            [programme.old_person, programme.other_org_person]
        )
        assert await apply_retention(ctx) == 0

    async def test_a_job_cancelled_anywhere_stops(
        self, programme: Programme, beneficiary_app: FastAPI
    ) -> None:
        """Shutdown cancels the job: wherever the cancel lands it must end
        the job (recording the run must not turn it into an error that the
        loop over organisations swallows and carries on from)."""
        ctx = {"runtime": beneficiary_app.state.runtime}
        for step in range(40):
            job = asyncio.create_task(apply_retention(ctx))
            await asyncio.sleep(step * 0.002)
            job.cancel()
            try:  # any other exception fails the test
                changed = await job
            except asyncio.CancelledError:
                continue
            assert changed >= 0  # it finished before the cancel landed

    async def test_no_job_holds_a_dead_workers_alerts_past_70_seconds(
        self, beneficiary_app: FastAPI
    ) -> None:
        """arq leaves a dead worker's job (a risk alert's delivery too) until
        the worker's longest job timeout + 10 s has passed."""
        worker = make_worker(beneficiary_app.state.runtime, burst=True)
        try:
            assert worker.in_progress_timeout_s <= 70
        finally:
            await worker.close()

    async def test_the_clock_can_be_set_for_the_job(
        self, beneficiary_app: FastAPI, alice: Caller
    ) -> None:
        closed_on = utcnow().date() - timedelta(days=1826 - 30)
        case = await closed_case(
            alice, (closed_on - timedelta(days=30)).isoformat(), closed_on.isoformat()
        )
        ctx = {"runtime": beneficiary_app.state.runtime}
        assert await apply_retention(ctx) == 0
        later = closed_on + timedelta(days=1826 + 1)
        assert (
            await apply_retention(ctx, now=f"{later.isoformat()}T00:00:00+00:00") == 1
        )
        assert (await alice.get(f"/v1/cases/{case}")).json()["intake_notes"] is None

    async def test_two_runs_at_once_apply_each_record_once(
        self, programme: Programme, beneficiary_engine: AsyncEngine, manager: Caller
    ) -> None:
        runs = await asyncio.gather(
            *(
                apply_policies(
                    beneficiary_engine,
                    organisation_id=uuid.UUID(manager.org.id),
                    started_by=f"run-{n}",
                    dry_run=False,
                    batch_size=1,
                )
                for n in range(2)
            )
        )
        done = [{t: set(a["ids"]) for t, a in run.affected.items()} for run in runs]
        for record_type, expected in programme.expected().items():
            assert done[0][record_type] | done[1][record_type] == set(expected)
            assert not done[0][record_type] & done[1][record_type]
        updates = await sql(
            beneficiary_engine,
            "SELECT count(*) AS n FROM outbox_event "
            "WHERE type = 'beneficiary.updated' AND entity_id = :id",
            id=programme.old_person,
        )
        assert updates[0]["n"] == 1


async def test_organisation_wide_retention_needs_an_organisation_wide_token(
    issue: Any, orgs: dict[str, Org], site_ids: list[str], manager: Caller
) -> None:
    """Review issue 12, finding 3: a site-scoped manager ran and changed the
    whole organisation's retention, and read every site's runs."""
    run = await manager.post("/v1/retention/runs", {"dry_run": True})
    assert run.status_code == 201, run.text
    local = issue(orgs["a"], Role.programme_manager, Role.auditor, sites=site_ids[:1])
    body = {"keep_days": 30, "action": "pseudonymise"}
    refused = [
        await put_policy(local, "closed_case", body),
        await local.client.delete(
            "/v1/retention/policies/closed_case", headers=local.headers()
        ),
        await local.post("/v1/retention/runs", {"dry_run": True}),
        await local.get("/v1/retention/runs"),
        await local.get(f"/v1/retention/runs/{run.json()['id']}"),
    ]
    for response in refused:
        assert response.status_code == 403, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
    assert (await local.get("/v1/retention/policies")).status_code == 200
    runs = (await manager.get("/v1/retention/runs")).json()["items"]
    assert [r["id"] for r in runs] == [run.json()["id"]]


async def test_an_open_alert_without_a_case_keeps_its_person(
    alice: Caller, manager: Caller, issue: Any, beneficiary_engine: AsyncEngine
) -> None:
    """A risk flag on a person with no case is a sign of life while open, as
    a case's alert is: the person is not pseudonymised under it; once
    acknowledged long ago, it no longer holds the person back."""
    flagged = {}
    for name in ("Open Alert", "Closed Alert"):
        person = await make_beneficiary(alice, full_name=name)
        r = await alice.post(
            f"/v1/beneficiaries/{person['id']}/risk-flags",
            {"flag": "harm_to_others", "supervisor": "sam"},
        )
        assert r.status_code == 201, r.text
        flagged[name] = (person["id"], r.json()["id"])
    sam = issue(alice.org, Role.supervisor, subject="sam")
    ack = await sam.post(
        f"/v1/risk-alerts/{flagged['Closed Alert'][1]}/acknowledge",
        {"action_taken": "Spoke with the family."},
    )
    assert ack.status_code == 200, ack.text
    for person_id, _ in flagged.values():
        await backdate(beneficiary_engine, person_id, EIGHT_YEARS)
    dry = await run(manager, dry_run=True)
    assert ids(dry)["beneficiary"] == [flagged["Closed Alert"][0]]
