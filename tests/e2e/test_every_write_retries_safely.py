"""Every POST, PUT and PATCH of the three OpenAPIs, sent twice with the same
Idempotency-Key: the repeat gets the first answer and adds no record, no
event, no audit row and no reporting fact. Updates sent again with a stale
If-Match get 409, and without one 428.

A new write route fails ``test_every_write_route_is_walked`` until it has a
request in ``WRITES`` below (or, for a route whose replay discloses data again,
an entry with its reason in ``DISCLOSES``)."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from services.reporting.db import metadata as reporting_metadata
from shared.auth import Role
from shared.idempotency import REPLAYED_HEADER
from shared.taxonomy.capacity import capacity_tools
from shared.taxonomy.fidelity import checklists
from tests.beneficiary.api import (
    beneficiary_body,
    enrol,
    give_consent,
    make_beneficiary,
    open_case,
    record_service,
)
from tests.callers import Caller, Org
from tests.sweep import routes
from tests.training.api import ratings, trainee

WRITE_METHODS = {"POST", "PUT", "PATCH"}
PLATFORM = Org(str(uuid.UUID(int=0)), "platform")


@dataclass
class World:
    """The three services as the first organisation's staff reach them."""

    apps: dict[str, FastAPI]
    clients: dict[str, httpx.AsyncClient]
    issue: Any
    org: Org
    catch_up: Callable[[], Awaitable[int]]

    def caller(self, service: str, *roles: Role, subject: str = "walker") -> Caller:
        made: Caller = self.issue(self.org, *roles, subject=subject)
        return replace(made, client=self.clients[service])


@dataclass
class Write:
    """One request of the walk, and what the first one must write."""

    caller: Caller
    path: str
    body: Any = None
    table: str | None = None
    """The table of the record it creates (one row more), if it creates one."""
    if_match: str | None = None
    """For an update: the version it edits (a stale one is then refused)."""
    stale_body: Any = None
    """What a stale or unversioned request sends, when not ``body``."""
    headers: dict[str, str] = field(default_factory=dict)
    volatile: frozenset[str] = frozenset()
    """Answer fields that may differ in the replay (a secret shown once)."""


Builder = Callable[[World], Awaitable[Write]]
WRITES: dict[tuple[str, str, str], Builder] = {}


def walks(service: str, method: str, template: str) -> Callable[[Builder], Builder]:
    def register(builder: Builder) -> Builder:
        WRITES[(service, method, template)] = builder
        return builder

    return register


REASON = {"X-Access-Reason": "walk of every write route"}


# --- training --------------------------------------------------------------


async def _ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code < 300, response.text
    body: dict[str, Any] = response.json()
    return body


async def _course(trainer: Caller, **criteria: Any) -> dict[str, Any]:
    return await _ok(
        await trainer.post(
            "/v1/courses",
            {
                "title": "IPT-G foundations",
                "approach": "ipt_g",
                "level": "foundational",
                "planned_hours": 20,
                "criteria": criteria,
            },
        )
    )


async def _trainee(trainer: Caller) -> str:
    return str((await _ok(await trainer.post("/v1/trainees", trainee())))["id"])


async def _cohort(trainer: Caller, sessions: int = 0) -> tuple[str, list[str]]:
    """A cohort of two enrolled trainees with ``sessions`` sessions."""
    course = await _course(trainer)
    cohort = await _ok(
        await trainer.post(
            "/v1/cohorts",
            {
                "course_id": course["id"],
                "title": "c1",
                "starts_on": "2026-03-01",
                "ends_on": "2026-03-10",
                "modality": "in_person",
            },
        )
    )
    people = [await _trainee(trainer), await _trainee(trainer)]
    path = f"/v1/cohorts/{cohort['id']}"
    await _ok(await trainer.post(f"{path}/enrolments", {"trainee_ids": people}))
    for number in range(1, sessions + 1):
        await _ok(
            await trainer.post(
                f"{path}/sessions",
                {"number": number, "held_on": f"2026-03-0{number}", "hours": 5},
            )
        )
    return str(cohort["id"]), people


async def _group(
    world: World, trainer: Caller, recorded: bool = False
) -> tuple[str, str]:
    """A practice group of one client: its id and the client's."""
    client = await make_beneficiary(world.caller("beneficiary", Role.case_worker))
    group = await _ok(
        await trainer.post(
            "/v1/practice-groups",
            {
                "name": "g",
                "facilitator_trainee_ids": [await _trainee(trainer)],
                "client_ids": [client["id"]],
                "started_on": "2026-04-01",
            },
        )
    )
    if recorded:
        await _ok(
            await trainer.post(
                f"/v1/practice-groups/{group['id']}/sessions",
                {
                    "number": 1,
                    "phase": "initial",
                    "held_on": "2026-04-08",
                    "attended_client_ids": [client["id"]],
                    "recording_ref": "s3://rec/1.mp3",
                },
            )
        )
    return str(group["id"]), str(client["id"])


def _trainer(world: World) -> Caller:
    return world.caller("training", Role.trainer)


@walks("training", "POST", "/v1/courses")
async def _create_course(world: World) -> Write:
    body = {
        "title": "PM+ foundations",
        "approach": "pm_plus",
        "level": "foundational",
        "planned_hours": 30,
    }
    return Write(_trainer(world), "/v1/courses", body, table="course")


@walks("training", "POST", "/v1/trainees")
async def _register_trainee(world: World) -> Write:
    return Write(_trainer(world), "/v1/trainees", trainee(), table="trainee")


@walks("training", "PATCH", "/v1/trainees/{trainee_id}")
async def _update_trainee(world: World) -> Write:
    trainer = _trainer(world)
    person = await _trainee(trainer)
    return Write(
        trainer, f"/v1/trainees/{person}", {"role": "counsellor"}, if_match='"1"'
    )


@walks("training", "POST", "/v1/trainees/{trainee_id}/erasure")
async def _erase_trainee(world: World) -> Write:
    manager = world.caller("training", Role.programme_manager)
    person = await _trainee(manager)
    return Write(
        manager,
        f"/v1/trainees/{person}/erasure",
        headers=REASON,
        volatile=frozenset({"already_erased"}),  # the replay: erased before it
    )


@walks("training", "POST", "/v1/cohorts")
async def _create_cohort(world: World) -> Write:
    trainer = _trainer(world)
    course = await _course(trainer)
    body = {
        "course_id": course["id"],
        "title": "c2",
        "starts_on": "2026-03-01",
        "ends_on": "2026-03-10",
        "modality": "online",
    }
    return Write(trainer, "/v1/cohorts", body, table="cohort")


@walks("training", "POST", "/v1/cohorts/{cohort_id}/enrolments")
async def _enrol(world: World) -> Write:
    trainer = _trainer(world)
    cohort, _ = await _cohort(trainer)
    body = {"trainee_ids": [await _trainee(trainer)]}
    return Write(
        trainer, f"/v1/cohorts/{cohort}/enrolments", body, table="cohort_enrolment"
    )


@walks("training", "POST", "/v1/cohorts/{cohort_id}/sessions")
async def _add_session(world: World) -> Write:
    trainer = _trainer(world)
    cohort, _ = await _cohort(trainer)
    body = {"number": 1, "held_on": "2026-03-02", "hours": 4}
    return Write(
        trainer, f"/v1/cohorts/{cohort}/sessions", body, table="cohort_session"
    )


@walks("training", "PUT", "/v1/cohorts/{cohort_id}/sessions/{number}/attendance")
async def _record_attendance(world: World) -> Write:
    trainer = _trainer(world)
    cohort, people = await _cohort(trainer, sessions=1)
    path = f"/v1/cohorts/{cohort}/sessions/1/attendance"
    await _ok(
        await trainer.client.put(
            path, json={"present": people}, headers=trainer.headers()
        )
    )
    return Write(trainer, path, {"present": people[:1]}, if_match='"1"')


@walks("training", "POST", "/v1/cohorts/{cohort_id}/knowledge-tests")
async def _record_tests(world: World) -> Write:
    trainer = _trainer(world)
    cohort, people = await _cohort(trainer)
    body = {
        "kind": "post",
        "taken_on": "2026-03-10",
        "results": [{"trainee_id": p, "score": 80} for p in people],
    }
    return Write(trainer, f"/v1/cohorts/{cohort}/knowledge-tests", body)


@walks("training", "POST", "/v1/competency-assessments")
async def _assess_competency(world: World) -> Write:
    trainer = _trainer(world)
    body = {
        "trainee_id": await _trainee(trainer),
        "tool": "helping_skills_core@1.0",
        "mode": "role_play",
        "context": "post",
        "assessed_on": "2026-03-05",
        "ratings": ratings(3),
    }
    return Write(
        trainer, "/v1/competency-assessments", body, table="competency_assessment"
    )


@walks("training", "POST", "/v1/cohorts/{cohort_id}/certify")
async def _certify(world: World) -> Write:
    trainer = _trainer(world)
    cohort, people = await _cohort(trainer, sessions=1)
    path = f"/v1/cohorts/{cohort}/sessions/1/attendance"
    await _ok(
        await trainer.client.put(
            path, json={"present": people}, headers=trainer.headers()
        )
    )
    body = {"on": "2026-03-11", "trainee_ids": people}
    return Write(trainer, f"/v1/cohorts/{cohort}/certify", body)


@walks("training", "POST", "/v1/practice-groups")
async def _create_group(world: World) -> Write:
    trainer = _trainer(world)
    client = await make_beneficiary(world.caller("beneficiary", Role.case_worker))
    body = {
        "name": "g",
        "facilitator_trainee_ids": [await _trainee(trainer)],
        "client_ids": [client["id"]],
        "started_on": "2026-04-01",
    }
    return Write(trainer, "/v1/practice-groups", body, table="practice_group")


@walks("training", "POST", "/v1/practice-groups/{group_id}/sessions")
async def _record_practice_session(world: World) -> Write:
    """Linked to the group activity it was recorded as (checked with the
    beneficiary service), whose attendance it takes."""
    trainer = _trainer(world)
    group, client = await _group(world, trainer)
    held = await _ok(
        await world.caller("beneficiary", Role.case_worker).post(
            "/v1/group-activities",
            {
                "activity_code": "ipt_group_session",
                "activity_date": "2026-04-08",
                "attendee_ids": [client],
            },
        )
    )
    body = {
        "number": 1,
        "phase": "initial",
        "held_on": "2026-04-08",
        "group_session_id": held["id"],
    }
    return Write(
        trainer,
        f"/v1/practice-groups/{group}/sessions",
        body,
        table="practice_session",
    )


@walks(
    "training",
    "POST",
    "/v1/practice-groups/{group_id}/sessions/{number}/fidelity-reviews",
)
async def _review_fidelity(world: World) -> Write:
    trainer = _trainer(world)
    group, _ = await _group(world, trainer, recorded=True)
    items = [i.id for i in checklists()["ipt_g_fidelity@1.0"].items]
    body = {"reviewed_on": "2026-04-10", "ratings": dict.fromkeys(items, 2)}
    return Write(
        trainer,
        f"/v1/practice-groups/{group}/sessions/1/fidelity-reviews",
        body,
        table="fidelity_review",
    )


@walks("training", "POST", "/v1/feedback-responses")
async def _trainee_feedback(world: World) -> Write:
    trainer = world.caller("training", Role.trainer)
    cohort, _ = await _cohort(trainer, sessions=1)
    body = {
        "form": "trainee_satisfaction@1.0",
        "cohort_id": cohort,
        "session_number": 1,
        "answers": {"overall_satisfied": 4, "would_recommend": True},
    }
    return Write(trainer, "/v1/feedback-responses", body, table="trainee_feedback")


@walks("training", "POST", "/v1/supervision-sessions")
async def _record_supervision(world: World) -> Write:
    supervisor = world.caller("training", Role.supervisor)
    body = {
        "kind": "individual",
        "mode": "virtual",
        "held_on": "2026-04-03",
        "duration_minutes": 30,
        "supervisee_trainee_ids": [await _trainee(supervisor)],
    }
    return Write(
        supervisor, "/v1/supervision-sessions", body, table="supervision_session"
    )


# --- reporting -------------------------------------------------------------


@walks("reporting", "POST", "/v1/exports")
async def _request_export(world: World) -> Write:
    officer = world.caller("reporting", Role.me_officer)
    body = {
        "indicator": "people_reached",
        "start": "2026-01-01",
        "end": "2026-12-31",
        "format": "csv",
    }
    return Write(officer, "/v1/exports", body, table="export")


@walks("reporting", "POST", "/v1/api-keys")
async def _issue_key(world: World) -> Write:
    manager = world.caller("reporting", Role.programme_manager)
    return Write(
        manager,
        "/v1/api-keys",
        {"name": "HMIS"},
        table="api_key",
        volatile=frozenset({"key"}),
    )


# --- beneficiary -----------------------------------------------------------


def _worker(world: World) -> Caller:
    return world.caller("beneficiary", Role.case_worker)


@walks("beneficiary", "POST", "/v1/beneficiaries")
async def _register(world: World) -> Write:
    return Write(
        _worker(world), "/v1/beneficiaries", beneficiary_body(), table="beneficiary"
    )


@walks("beneficiary", "POST", "/v1/service-records")
async def _record_service(world: World) -> Write:
    worker = _worker(world)
    person = await make_beneficiary(worker)
    body = {
        "beneficiary_id": person["id"],
        "activity_code": "individual_counselling",
        "service_date": "2026-02-01",
        "staff_id": "staff-1",
        "duration_minutes": 50,
    }
    return Write(worker, "/v1/service-records", body, table="service_record")


@walks("beneficiary", "POST", "/v1/group-activities")
async def _record_group(world: World) -> Write:
    """A Group IPT session: the attendee's enrolment follows it, once."""
    worker = _worker(world)
    person = await make_beneficiary(worker)
    await enrol(worker, person, "ipt_group")
    body = {
        "activity_code": "ipt_group_session",
        "activity_date": "2026-03-01",
        "attendee_ids": [person["id"]],
        "protocol_session": 1,
    }
    return Write(worker, "/v1/group-activities", body, table="group_activity")


@walks("beneficiary", "POST", "/v1/group-series")
async def _record_series(world: World) -> Write:
    body = {
        "name": "Caregivers",
        "activity_code": "caregiver_session",
        "planned_sessions": 6,
        "starts_on": "2026-03-01",
    }
    return Write(_worker(world), "/v1/group-series", body, table="group_series")


@walks("beneficiary", "POST", "/v1/anonymous-services")
async def _record_anonymous(world: World) -> Write:
    body = {
        "activity_code": "awareness_session",
        "service_date": "2026-03-01",
        "counts": [{"sex": "female", "age_group": "adult", "count": 12}],
    }
    return Write(
        _worker(world), "/v1/anonymous-services", body, table="anonymous_service"
    )


@walks("beneficiary", "POST", "/v1/cases")
async def _open_case(world: World) -> Write:
    worker = _worker(world)
    person = await make_beneficiary(worker)
    body = {
        "beneficiary_id": person["id"],
        "presenting_problems": ["grief"],
        "risk_level": "low",
        "iasc_layer_needed": "focused_non_specialized",
        "case_worker": "alice",
        "supervisor": "sam",
        "opened_on": "2026-03-01",
    }
    return Write(worker, "/v1/cases", body, table="case_file")


async def _case(world: World) -> tuple[Caller, dict[str, Any]]:
    worker = _worker(world)
    return worker, await open_case(worker)


@walks("beneficiary", "POST", "/v1/cases/{case_id}/transitions")
async def _transition_case(world: World) -> Write:
    worker, case = await _case(world)
    return Write(
        worker,
        f"/v1/cases/{case['id']}/transitions",
        {"status": "active", "on": "2026-03-02"},
        if_match='"1"',
    )


@walks("beneficiary", "PATCH", "/v1/cases/{case_id}")
async def _update_case(world: World) -> Write:
    worker, case = await _case(world)
    return Write(
        worker,
        f"/v1/cases/{case['id']}",
        {"presenting_problems": ["grief", "sleep_problems"]},
        if_match='"1"',
    )


@walks("beneficiary", "POST", "/v1/cases/{case_id}/assessments")
async def _record_assessment(world: World) -> Write:
    worker, case = await _case(world)
    body = {
        "instrument": "who5",
        "timepoint": "baseline",
        "administered_on": "2026-03-02",
        "responses": {"1": 3, "2": 3, "3": 3, "4": 3, "5": 3},
    }
    return Write(
        worker, f"/v1/cases/{case['id']}/assessments", body, table="assessment"
    )


@walks("beneficiary", "PUT", "/v1/cases/{case_id}/plan")
async def _write_plan(world: World) -> Write:
    worker, case = await _case(world)
    path = f"/v1/cases/{case['id']}/plan"
    first = await worker.client.put(
        path, json={"goals": ["sleep"]}, headers=worker.headers()
    )
    assert first.status_code == 200, first.text
    return Write(
        worker, path, {"goals": ["sleep", "work"]}, table="case_plan", if_match='"1"'
    )


@walks("beneficiary", "POST", "/v1/cases/{case_id}/follow-ups")
async def _record_follow_up(world: World) -> Write:
    worker, case = await _case(world)
    return Write(
        worker,
        f"/v1/cases/{case['id']}/follow-ups",
        {"on": "2026-03-03"},
        table="follow_up",
    )


@walks("beneficiary", "POST", "/v1/cases/{case_id}/safety-plans")
async def _write_safety_plan(world: World) -> Write:
    worker, case = await _case(world)
    return Write(
        worker,
        f"/v1/cases/{case['id']}/safety-plans",
        {"warning_signs": ["insomnia"]},
        table="safety_plan",
    )


@walks("beneficiary", "POST", "/v1/cases/{case_id}/risk-flags")
async def _flag_risk(world: World) -> Write:
    worker, case = await _case(world)
    return Write(
        worker,
        f"/v1/cases/{case['id']}/risk-flags",
        {"flag": "child_protection"},
        table="risk_alert",
    )


@walks("beneficiary", "POST", "/v1/beneficiaries/{beneficiary_id}/risk-flags")
async def _flag_person_risk(world: World) -> Write:
    worker = _worker(world)
    person = await make_beneficiary(worker)
    return Write(
        worker,
        f"/v1/beneficiaries/{person['id']}/risk-flags",
        {"flag": "violence_disclosed", "supervisor": "sam"},
        table="risk_alert",
    )


@walks("beneficiary", "POST", "/v1/risk-alerts/{alert_id}/acknowledge")
async def _acknowledge_alert(world: World) -> Write:
    worker, case = await _case(world)
    alert = await _ok(await worker.post(f"/v1/cases/{case['id']}/risk-flags", {}))
    supervisor = world.caller("beneficiary", Role.supervisor)
    return Write(
        supervisor,
        f"/v1/risk-alerts/{alert['id']}/acknowledge",
        {"action_taken": "called the person; safe with family"},
    )


async def _referral(world: World) -> tuple[Caller, dict[str, Any]]:
    worker, case = await _case(world)
    person = case["beneficiary_id"]
    await give_consent(
        worker, person, {"purpose": "referral", "granted": True, "form_version": "1"}
    )
    body = {
        "beneficiary_id": person,
        "case_id": case["id"],
        "kind": "external",
        "area": "legal",
        "receiving_party": "Legal aid NGO",
        "sent_on": "2026-03-02",
    }
    return worker, body


@walks("beneficiary", "POST", "/v1/referrals")
async def _refer(world: World) -> Write:
    worker, body = await _referral(world)
    return Write(worker, "/v1/referrals", body, table="referral")


@walks("beneficiary", "POST", "/v1/referrals/{referral_id}/status")
async def _update_referral(world: World) -> Write:
    worker, body = await _referral(world)
    referral = await _ok(await worker.post("/v1/referrals", body))
    return Write(
        worker,
        f"/v1/referrals/{referral['id']}/status",
        {"status": "accepted", "on": "2026-03-03"},
        if_match='"1"',
    )


async def _enrolment(world: World) -> tuple[Caller, dict[str, Any]]:
    worker = _worker(world)
    person = await make_beneficiary(worker)
    return worker, {
        "beneficiary_id": person["id"],
        "intervention": "pm_plus",
        "enrolled_on": "2026-03-01",
    }


@walks("beneficiary", "POST", "/v1/enrolments")
async def _enrol_in_intervention(world: World) -> Write:
    worker, body = await _enrolment(world)
    return Write(worker, "/v1/enrolments", body, table="enrolment")


async def _enrolled(world: World) -> tuple[Caller, str]:
    worker, body = await _enrolment(world)
    enrolment = await _ok(await worker.post("/v1/enrolments", body))
    return worker, f"/v1/enrolments/{enrolment['id']}"


@walks("beneficiary", "POST", "/v1/enrolments/{enrolment_id}/sessions")
async def _attend_session(world: World) -> Write:
    worker, path = await _enrolled(world)
    body = {"session_number": 1, "attended_on": "2026-03-03"}
    return Write(worker, f"{path}/sessions", body, table="session_attendance")


@walks("beneficiary", "POST", "/v1/enrolments/{enrolment_id}/drop-out")
async def _drop_out(world: World) -> Write:
    worker, path = await _enrolled(world)
    return Write(worker, f"{path}/drop-out", {"on": "2026-03-04"})


@walks("beneficiary", "POST", "/v1/enrolments/{enrolment_id}/finish")
async def _finish(world: World) -> Write:
    worker, path = await _enrolled(world)
    return Write(worker, f"{path}/finish", {"on": "2026-03-04"})


@walks("beneficiary", "PATCH", "/v1/beneficiaries/{beneficiary_id}")
async def _update_beneficiary(world: World) -> Write:
    worker = _worker(world)
    person = await make_beneficiary(worker)
    return Write(
        worker,
        f"/v1/beneficiaries/{person['id']}",
        {"marital_status": "single"},
        if_match='"1"',
    )


@walks("beneficiary", "POST", "/v1/beneficiaries/{beneficiary_id}/consents")
async def _record_consents(world: World) -> Write:
    worker = _worker(world)
    person = await make_beneficiary(worker)
    grant = {"purpose": "referral", "granted": True, "form_version": "1"}
    await _ok(await give_consent(worker, person["id"], grant))
    path = f"/v1/beneficiaries/{person['id']}/consents"
    ledger = (await worker.get(path)).headers["ETag"]
    return Write(
        worker,
        path,
        [{**grant, "granted": False}],
        table="consent_entry",
        if_match=ledger,
        stale_body=[grant],  # an old form: it would grant again what was withdrawn
    )


@walks("beneficiary", "POST", "/v1/beneficiaries/{beneficiary_id}/merge")
async def _merge_beneficiary(world: World) -> Write:
    worker = _worker(world)
    twin = {"full_name": f"Twin {uuid.uuid4().hex[:6]}", "date_of_birth": "1990-01-01"}
    kept = await make_beneficiary(worker, **twin)
    duplicate = await make_beneficiary(worker, **twin)
    await record_service(worker, duplicate["id"])
    return Write(
        world.caller("beneficiary", Role.supervisor),
        f"/v1/beneficiaries/{kept['id']}/merge",
        {"duplicate_id": duplicate["id"]},
        if_match='"1"',
    )


@walks("beneficiary", "POST", "/v1/beneficiaries/{beneficiary_id}/erasure")
async def _request_erasure(world: World) -> Write:
    person = await make_beneficiary(_worker(world))
    return Write(
        world.caller("beneficiary", Role.supervisor),
        f"/v1/beneficiaries/{person['id']}/erasure",
        headers=REASON,
        volatile=frozenset({"already_erased"}),  # the replay: erased before it
    )


async def _service_record(world: World) -> tuple[Caller, str]:
    worker = _worker(world)
    person = await make_beneficiary(worker)
    record = await record_service(worker, person["id"])
    return worker, f"/v1/service-records/{record['id']}"


@walks("beneficiary", "PATCH", "/v1/service-records/{record_id}")
async def _update_service_record(world: World) -> Write:
    worker, path = await _service_record(world)
    return Write(worker, path, {"duration_minutes": 45}, if_match='"1"')


@walks("beneficiary", "POST", "/v1/service-records/{record_id}/void")
async def _void_service_record(world: World) -> Write:
    worker, path = await _service_record(world)
    return Write(worker, f"{path}/void", {"reason": "entered twice"})


async def _materials(world: World) -> tuple[Caller, dict[str, Any]]:
    """A line of 40 leaflets on a new group activity."""
    worker = _worker(world)
    person = await make_beneficiary(worker)
    group = await _ok(
        await worker.post(
            "/v1/group-activities",
            {
                "activity_code": "awareness_session",
                "activity_date": "2026-03-01",
                "attendee_ids": [person["id"]],
            },
        )
    )
    body = {
        "group_activity_id": group["id"],
        "item_code": "leaflet",
        "quantity": 40,
        "language": "ar",
    }
    return worker, body


@walks("beneficiary", "POST", "/v1/material-distributions")
async def _record_materials(world: World) -> Write:
    worker, body = await _materials(world)
    return Write(
        worker, "/v1/material-distributions", body, table="material_distribution"
    )


@walks("beneficiary", "POST", "/v1/feedback-responses")
async def _participant_feedback(world: World) -> Write:
    worker, line = await _materials(world)
    body = {
        "form": "participant_satisfaction@1.0",
        "group_activity_id": line["group_activity_id"],
        "answers": {"overall_satisfied": 5, "felt_safe": True},
    }
    return Write(worker, "/v1/feedback-responses", body, table="feedback_response")


@walks("beneficiary", "POST", "/v1/material-distributions/{distribution_id}/void")
async def _void_materials(world: World) -> Write:
    worker, body = await _materials(world)
    line = await _ok(await worker.post("/v1/material-distributions", body))
    path = f"/v1/material-distributions/{line['id']}/void"
    return Write(worker, path, {"reason": "entered twice"})


@walks("beneficiary", "POST", "/v1/organisations")
async def _create_organisation(world: World) -> Write:
    admin: Caller = world.issue(PLATFORM, Role.platform_admin, subject="walker")
    body = {"name": "Org C", "type": "cso"}
    return Write(admin, "/v1/organisations", body, table="organisation")


@walks("beneficiary", "POST", "/v1/organisations/{organisation_id}/lead-approval")
async def _approve_partner(world: World) -> Write:
    platform: Caller = world.issue(PLATFORM, Role.platform_admin)
    partner = await _ok(
        await platform.post(
            "/v1/organisations",
            {"name": "Org D", "type": "cso", "lead_organisation_id": world.org.id},
        )
    )
    admin = world.caller("beneficiary", Role.admin)
    return Write(admin, f"/v1/organisations/{partner['id']}/lead-approval")


@walks("beneficiary", "POST", "/v1/locations/gazetteer")
async def _load_gazetteer(world: World) -> Write:
    """Iraq's first governorate as shipped: nothing changes but the load is
    kept, once."""
    platform: Caller = world.issue(PLATFORM, Role.platform_admin, subject="walker")
    row = {"ADM1_PCODE": "IQG01", "ADM1_EN": "Anbar", "ADM1_AR": "الأنبار"}
    body = {"country": "IQ", "rows": [row]}
    return Write(platform, "/v1/locations/gazetteer", body, table="location_load")


def _manager(world: World) -> Caller:
    return world.caller("beneficiary", Role.programme_manager)


PROJECT = {
    "name": "Resilience",
    "donor": "A ministry",
    "start": "2026-01-01",
    "end": "2026-06-30",
    "targets": [{"indicator": "people_reached", "target": 50}],
}


@walks("beneficiary", "POST", "/v1/teams")
async def _create_team(world: World) -> Write:
    body = {"name": "Mobile 1", "kind": "mobile"}
    return Write(_manager(world), "/v1/teams", body, table="team")


@walks("beneficiary", "PATCH", "/v1/teams/{team_id}")
async def _update_team(world: World) -> Write:
    manager = _manager(world)
    team = await _ok(await manager.post("/v1/teams", {"name": "T", "kind": "mobile"}))
    return Write(manager, f"/v1/teams/{team['id']}", {"name": "T2"}, if_match='"1"')


@walks("beneficiary", "PATCH", "/v1/organisations/{organisation_id}")
async def _update_organisation(world: World) -> Write:
    admin = world.caller("beneficiary", Role.admin)
    path = f"/v1/organisations/{world.org.id}"
    return Write(admin, path, {"default_language": "ar"}, if_match='"1"')


@walks("beneficiary", "POST", "/v1/projects")
async def _create_project(world: World) -> Write:
    return Write(_manager(world), "/v1/projects", PROJECT, table="project")


@walks("beneficiary", "PATCH", "/v1/projects/{project_id}")
async def _update_project(world: World) -> Write:
    manager = _manager(world)
    project = await _ok(await manager.post("/v1/projects", PROJECT))
    path = f"/v1/projects/{project['id']}"
    return Write(manager, path, {"end": "2026-09-30"}, if_match='"1"')


async def _requesting_partner(world: World, name: str) -> str:
    platform: Caller = world.issue(PLATFORM, Role.platform_admin)
    partner = await _ok(
        await platform.post(
            "/v1/organisations",
            {"name": name, "type": "cso", "lead_organisation_id": world.org.id},
        )
    )
    return str(partner["id"])


@walks("beneficiary", "POST", "/v1/partnerships")
async def _create_partnership(world: World) -> Write:
    body = {
        "partner_organisation_id": await _requesting_partner(world, "CSO P"),
        "start": "2026-01-01",
        "end": "2026-03-31",
    }
    return Write(_manager(world), "/v1/partnerships", body, table="partnership")


@walks("beneficiary", "PATCH", "/v1/partnerships/{partnership_id}")
async def _update_partnership(world: World) -> Write:
    manager = _manager(world)
    body = {
        "partner_organisation_id": await _requesting_partner(world, "CSO Q"),
        "start": "2026-01-01",
        "end": "2026-03-31",
    }
    partnership = await _ok(await manager.post("/v1/partnerships", body))
    path = f"/v1/partnerships/{partnership['id']}"
    return Write(manager, path, {"end": "2026-02-28"}, if_match='"1"')


@walks("beneficiary", "POST", "/v1/locations")
async def _create_location(world: World) -> Write:
    manager = world.caller("beneficiary", Role.programme_manager)
    body = {"name": "Test governorate", "level": "governorate"}
    return Write(manager, "/v1/locations", body, table="location")


async def _sites(world: World) -> list[str]:
    sites = await _worker(world).get("/v1/locations", params={"level": "site"})
    return [s["id"] for s in sites.json()["items"]][:2]


async def _grant_body(world: World) -> tuple[Caller, dict[str, Any]]:
    here, there = await _sites(world)
    person = await make_beneficiary(_worker(world), site_id=here)
    elsewhere: Caller = world.issue(
        world.org, Role.case_worker, subject="walker", sites=[there]
    )
    body = {"beneficiary_id": person["id"], "reason": "client in crisis", "minutes": 5}
    return elsewhere, body


@walks("beneficiary", "POST", "/v1/break-glass")
async def _break_glass(world: World) -> Write:
    elsewhere, body = await _grant_body(world)
    return Write(elsewhere, "/v1/break-glass", body, table="access_grant")


@walks("beneficiary", "POST", "/v1/break-glass/{grant_id}/revoke")
async def _revoke_grant(world: World) -> Write:
    elsewhere, body = await _grant_body(world)
    grant = await _ok(await elsewhere.post("/v1/break-glass", body))
    return Write(elsewhere, f"/v1/break-glass/{grant['id']}/revoke")


AGREEMENT = {
    "partner": "Partner",
    "purpose": "Cash assistance follow-up",
    "fields": ["pseudonym", "full_name"],
    "valid_from": "2026-01-01",
    "expires_on": "2099-12-31",
}


@walks("beneficiary", "POST", "/v1/sharing-agreements")
async def _create_agreement(world: World) -> Write:
    manager = world.caller("beneficiary", Role.programme_manager)
    return Write(
        manager, "/v1/sharing-agreements", AGREEMENT, table="sharing_agreement"
    )


@walks("beneficiary", "POST", "/v1/sharing-agreements/{agreement_id}/revoke")
async def _revoke_agreement(world: World) -> Write:
    manager = world.caller("beneficiary", Role.programme_manager)
    agreement = await _ok(await manager.post("/v1/sharing-agreements", AGREEMENT))
    return Write(manager, f"/v1/sharing-agreements/{agreement['id']}/revoke")


@walks("beneficiary", "PUT", "/v1/retention/policies/{record_type}")
async def _set_retention_policy(world: World) -> Write:
    manager = world.caller("beneficiary", Role.programme_manager)
    body = {"keep_days": 3650, "action": "pseudonymise"}
    return Write(
        manager,
        "/v1/retention/policies/closed_case",
        body,
        table="retention_policy",
        if_match='"0"',  # the platform default's version
        headers=REASON,
    )


@walks("beneficiary", "POST", "/v1/retention/runs")
async def _start_retention_run(world: World) -> Write:
    manager = world.caller("beneficiary", Role.programme_manager)
    return Write(
        manager,
        "/v1/retention/runs",
        {"dry_run": True},
        table="retention_run",
        headers=REASON,
    )


IMPORT_PROGRESS = frozenset(
    {
        "status",
        "total",
        "done",
        "refused",
        "outcomes",
        "rows_per_second",
        "seconds_left",
        "error",
        "started_at",
        "finished_at",
    }
)
"""An import's answer is its progress now: the job may move between the two."""


async def _an_import_mapping(manager: Caller) -> str:
    r = await manager.post("/v1/import-mappings", IMPORT_MAPPING)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


IMPORT_MAPPING = {
    "name": "Walk form",
    "spec": {
        "person": {
            "fields": {"full_name": "name", "sex": "sex", "estimated_age": "age"},
            "constants": {"registration_channel": "outreach"},
        }
    },
}


def _import_body(mapping_id: str) -> dict[str, Any]:
    content = base64.b64encode(b"_uuid,name,sex,age\nu-1,Walker,female,30\n")
    return {
        "mapping_id": mapping_id,
        "dry_run": True,
        "file": {"name": "a.csv", "format": "csv", "content_base64": content.decode()},
    }


@walks("beneficiary", "POST", "/v1/import-mappings")
async def _store_import_mapping(world: World) -> Write:
    manager = world.caller("beneficiary", Role.programme_manager)
    return Write(manager, "/v1/import-mappings", IMPORT_MAPPING, table="import_mapping")


@walks("beneficiary", "POST", "/v1/imports")
async def _start_import(world: World) -> Write:
    manager = world.caller("beneficiary", Role.programme_manager)
    body = _import_body(await _an_import_mapping(manager))
    return Write(
        manager, "/v1/imports", body, table="import_job", volatile=IMPORT_PROGRESS
    )


@walks("beneficiary", "POST", "/v1/imports/{import_id}/resume")
async def _resume_import(world: World) -> Write:
    manager = world.caller("beneficiary", Role.programme_manager)
    started = await manager.post(
        "/v1/imports", _import_body(await _an_import_mapping(manager))
    )
    assert started.status_code == 202, started.text
    path = f"/v1/imports/{started.json()['id']}/resume"
    return Write(manager, path, volatile=IMPORT_PROGRESS)


def _synced_person() -> dict[str, Any]:
    body = beneficiary_body()
    consents = body.pop("consents")
    return {"id": str(uuid.uuid4()), "data": body, "consents": consents}


@walks("beneficiary", "POST", "/v1/sync")
async def _sync_batch(world: World) -> Write:
    return Write(
        _worker(world),
        "/v1/sync",
        {"device_id": "tablet-7", "beneficiaries": [_synced_person()]},
        table="beneficiary",
        volatile=frozenset({"results"}),  # each record as it stands now
    )


@walks("beneficiary", "POST", "/v1/sync/conflicts/{conflict_id}/resolve")
async def _resolve_conflict(world: World) -> Write:
    worker = _worker(world)
    change = _synced_person()
    await _ok(await worker.post("/v1/sync", {"beneficiaries": [change]}))
    path = f"/v1/beneficiaries/{change['id']}"
    await _ok(
        await worker.patch(path, {"nationality": "SYR"}, headers={"If-Match": '"1"'})
    )
    stale = {**change, "base_version": 1, "consents": []}
    stale["data"] = {**change["data"], "nationality": "TUR"}
    synced = await _ok(await worker.post("/v1/sync", {"beneficiaries": [stale]}))
    conflict = synced["results"][0]["conflict_id"]
    assert conflict, synced
    return Write(
        world.caller("beneficiary", Role.supervisor),
        f"/v1/sync/conflicts/{conflict}/resolve",
        {"resolution": "apply_client"},
    )


# --- the partner arc -------------------------------------------------------


CRITERIA = [{"code": "reach", "label": "Reach", "weight": 1, "max_score": 5}]


async def _round(world: World) -> tuple[Caller, str]:
    manager = _manager(world)
    body = {"title": "Round", "opened_on": "2026-03-01", "criteria": CRITERIA}
    selection = await _ok(await manager.post("/v1/selection-rounds", body))
    return manager, f"/v1/selection-rounds/{selection['id']}"


async def _application(world: World) -> tuple[Caller, str, str]:
    manager, path = await _round(world)
    body = {"candidate_organisation_id": world.org.id, "channel": "application"}
    application = await _ok(await manager.post(f"{path}/applications", body))
    return manager, path, application["id"]


@walks("beneficiary", "POST", "/v1/partner-profiles")
async def _create_profile(world: World) -> Write:
    body = {"name": "Prospective CSO", "type": "cso", "languages": ["ar"]}
    return Write(
        _manager(world), "/v1/partner-profiles", body, table="organisation_profile"
    )


@walks("beneficiary", "PATCH", "/v1/partner-profiles/{organisation_id}")
async def _update_profile(world: World) -> Write:
    manager = _manager(world)
    profile = await _ok(
        await manager.post("/v1/partner-profiles", {"name": "CSO P", "type": "cso"})
    )
    return Write(
        manager,
        f"/v1/partner-profiles/{profile['organisation_id']}",
        {"languages": ["ku"]},
        if_match='"1"',
    )


@walks("beneficiary", "POST", "/v1/mapping-exercises")
async def _record_mapping(world: World) -> Write:
    body = {
        "title": "Mapping",
        "conducted_from": "2026-03-01",
        "conducted_to": "2026-03-02",
        "method": "desk_review",
        "findings": [{"organisation_id": world.org.id, "relevance": "high"}],
    }
    return Write(
        _manager(world), "/v1/mapping-exercises", body, table="mapping_exercise"
    )


@walks("beneficiary", "POST", "/v1/capacity-assessments")
async def _assess_capacity(world: World) -> Write:
    items = capacity_tools()["oca_mhpss@1.0"].domain_of()
    body = {
        "assessed_organisation_id": world.org.id,
        "tool": "oca_mhpss@1.0",
        "timepoint": "baseline",
        "assessed_on": "2026-03-01",
        "items": {i: {"level": 2, "evidence": "seen"} for i in items},
    }
    return Write(
        world.caller("beneficiary", Role.me_officer),
        "/v1/capacity-assessments",
        body,
        table="capacity_assessment",
    )


@walks("beneficiary", "POST", "/v1/selection-rounds")
async def _open_round(world: World) -> Write:
    body = {"title": "Round", "opened_on": "2026-03-01", "criteria": CRITERIA}
    return Write(_manager(world), "/v1/selection-rounds", body, table="selection_round")


@walks("beneficiary", "PUT", "/v1/selection-rounds/{round_id}/criteria")
async def _revise_criteria(world: World) -> Write:
    manager, path = await _round(world)
    body = {"criteria": [{**CRITERIA[0], "weight": 2}]}
    return Write(manager, f"{path}/criteria", body, if_match='"1"')


@walks("beneficiary", "POST", "/v1/selection-rounds/{round_id}/applications")
async def _apply(world: World) -> Write:
    manager, path = await _round(world)
    body = {"candidate_organisation_id": world.org.id, "channel": "nomination"}
    return Write(manager, f"{path}/applications", body, table="selection_application")


@walks("beneficiary", "POST", "/v1/selection-rounds/{round_id}/scores")
async def _score(world: World) -> Write:
    manager, path, application = await _application(world)
    body = {"application_id": application, "scores": {"reach": 4}}
    return Write(manager, f"{path}/scores", body, table="selection_score")


@walks("beneficiary", "POST", "/v1/selection-rounds/{round_id}/decision")
async def _decide(world: World) -> Write:
    manager, path, application = await _application(world)
    await _ok(
        await manager.post(
            f"{path}/scores", {"application_id": application, "scores": {"reach": 4}}
        )
    )
    body = {"decided_on": "2026-03-05", "select_top": 1}
    return Write(manager, f"{path}/decision", body, if_match='"1"')


@walks("beneficiary", "POST", "/v1/needs-assessments")
async def _record_needs(world: World) -> Write:
    body = {
        "conducted_on": "2026-03-01",
        "method": "household_survey",
        "population": "idp",
        "sample_size": 94,
        "sample_unit": "households",
        "findings": [{"topic": "livelihoods", "severity": "high"}],
    }
    return Write(
        _manager(world), "/v1/needs-assessments", body, table="needs_assessment"
    )


PLAN = {  # for the world's organisation: one the beneficiary service knows
    "capacity_tool": "oca_mhpss@1.0",
    "starts_on": "2026-03-01",
    "ends_on": "2026-05-31",
    "goals": [{"code": "sop", "capacity_domain": "mhpss_technical"}],
}
VISIT = {
    "held_on": "2026-03-10",
    "mode": "remote_video",
    "duration_minutes": 60,
    "participants": 2,
    "topics": ["referral_pathways"],
    "observations": "SOP drafted",
    "action_points": [
        {"description": "Adopt", "owner": "Director", "due_on": "2026-03-20"}
    ],
}


def _plan(world: World) -> dict[str, Any]:
    return {**PLAN, "mentored_organisation_id": world.org.id}


@walks("training", "POST", "/v1/mentoring-plans")
async def _create_mentoring_plan(world: World) -> Write:
    return Write(
        _trainer(world), "/v1/mentoring-plans", _plan(world), table="mentoring_plan"
    )


@walks("training", "POST", "/v1/mentoring-plans/{plan_id}/visits")
async def _record_mentoring_visit(world: World) -> Write:
    mentor = _trainer(world)
    plan = await _ok(await mentor.post("/v1/mentoring-plans", _plan(world)))
    return Write(
        mentor,
        f"/v1/mentoring-plans/{plan['id']}/visits",
        VISIT,
        table="mentoring_visit",
    )


@walks("training", "POST", "/v1/action-points/{action_point_id}/status")
async def _follow_action_point(world: World) -> Write:
    mentor = _trainer(world)
    plan = await _ok(await mentor.post("/v1/mentoring-plans", _plan(world)))
    visit = await _ok(
        await mentor.post(f"/v1/mentoring-plans/{plan['id']}/visits", VISIT)
    )
    point = visit["action_points"][0]["id"]
    return Write(
        mentor,
        f"/v1/action-points/{point}/status",
        {"status": "done", "on": "2026-03-15"},
        if_match='"1"',
    )


DISCLOSES: dict[tuple[str, str, str], str] = {
    ("beneficiary", "POST", "/v1/sharing-agreements/{agreement_id}/exports"): (
        "its answer is the shared personal data itself: a replay is the same "
        "export (no second log entry or notice) but what leaves again is "
        "audited again, and whoever withdrew since is left out "
        "(tests/beneficiary/test_sharing.py::TestRetriedExport)"
    ),
}
"""Write routes whose replay discloses personal data again, so it is audited
again: tested on their own, with why."""

READS: dict[tuple[str, str, str], str] = {
    ("beneficiary", "POST", "/v1/beneficiaries/lookup"): (
        "a read sent as POST (up to 1,000 ids): it writes nothing to replay"
    ),
    ("beneficiary", "POST", "/v1/group-activities/lookup"): (
        "a read sent as POST (up to 100 ids): it writes nothing to replay"
    ),
    ("beneficiary", "POST", "/v1/organisations/lookup"): (
        "a read sent as POST (the training service checks names): writes nothing"
    ),
    ("beneficiary", "POST", "/v1/projects/lookup"): (
        "a read sent as POST (the training service checks names): writes nothing"
    ),
}
"""POST routes that only read: sent twice, they write nothing."""


# --- the walk --------------------------------------------------------------


def write_routes(apps: dict[str, FastAPI]) -> set[tuple[str, str, str]]:
    return {
        (service, route.method, route.template)
        for service, app in apps.items()
        for route in routes(app)
        if route.method in WRITE_METHODS
    }


def test_every_write_route_is_walked(apps: dict[str, FastAPI]) -> None:
    found = write_routes(apps)
    listed = [*WRITES, *DISCLOSES, *READS]
    assert len(listed) == len(set(listed)), "a route in two tables"
    assert sorted(found - set(listed)) == [], "walk these routes"
    assert sorted(set(listed) - found) == [], "gone from the API"


async def test_a_read_sent_as_post_writes_nothing(world: World) -> None:
    machine: Caller = world.issue(world.org, Role.service, subject="training")
    person = await make_beneficiary(_worker(world))
    write = Write(
        machine,
        "/v1/beneficiaries/lookup",
        {"ids": [person["id"]]},
        headers={"X-Acting-Organisation": world.org.id},
    )
    before = await effects(world, write, "beneficiary")
    answers = [await send(write, "POST", "walk-read", None) for _ in range(2)]
    assert [a.status_code for a in answers] == [200, 200], answers[0].text
    assert answers[0].json() == answers[1].json()
    assert answers[0].json()["found"] == {person["id"]: world.org.id}
    assert await effects(world, write, "beneficiary") == before


async def test_the_lookups_of_names_write_nothing(world: World) -> None:
    """The organisations and projects lookups, sent twice: the same answer,
    nothing written; another organisation's project is not in it."""
    machine: Caller = world.issue(world.org, Role.service, subject="training")
    manager = world.caller("beneficiary", Role.programme_manager)
    period = {"donor": "D", "start": "2026-01-01", "end": "2026-06-30"}
    ours = await _ok(await manager.post("/v1/projects", {"name": "P", **period}))
    unknown = str(uuid.uuid4())
    for path, ids, found in [
        ("/v1/organisations/lookup", [world.org.id, unknown], [world.org.id]),
        (
            "/v1/projects/lookup",
            [ours["id"], unknown],
            {ours["id"]: {"start": "2026-01-01", "end": "2026-06-30"}},
        ),
    ]:
        write = Write(
            machine,
            path,
            {"ids": ids},
            headers={"X-Acting-Organisation": world.org.id},
        )
        before = await effects(world, write, "beneficiary")
        answers = [await send(write, "POST", "walk-read", None) for _ in range(2)]
        assert [a.status_code for a in answers] == [200, 200], answers[0].text
        assert answers[0].json() == answers[1].json() == {"found": found}
        assert await effects(world, write, "beneficiary") == before


def test_every_walked_route_documents_the_idempotency_key(
    apps: dict[str, FastAPI],
) -> None:
    undocumented = []
    for service, method, template in WRITES:
        operation = apps[service].openapi()["paths"][template][method.lower()]
        headers = {
            p["name"].lower(): p for p in operation["parameters"] if p["in"] == "header"
        }
        if "idempotency-key" not in headers or not headers["idempotency-key"].get(
            "description"
        ):
            undocumented.append((service, method, template))
    assert undocumented == []


async def count(app: FastAPI, table: str) -> int:
    async with app.state.engine.connect() as conn:
        return int((await conn.execute(text(f"SELECT count(*) FROM {table}"))).one()[0])


async def effects(world: World, write: Write, service: str) -> dict[str, int]:
    """What a write can leave behind, counted in every service."""
    counted: dict[str, int] = {}
    for name in ("beneficiary", "training"):
        app = world.apps[name]
        counted[f"{name}.outbox_event"] = await count(app, "outbox_event")
        counted[f"{name}.audit_entry"] = await count(app, "audit_entry")
    if write.table is not None:
        counted[write.table] = await count(world.apps[service], write.table)
    return counted


async def figures(world: World) -> tuple[Any, dict[str, list[tuple[Any, ...]]]]:
    """The programme overview (the headline figures, as an M&E officer of
    the organisation reads them) and every fact reporting holds (every
    figure is computed from these)."""
    officer = world.caller("reporting", Role.me_officer, subject="reader")
    overview = await officer.get(
        "/v1/overview", params={"start": "2020-01-01", "end": "2030-12-31"}
    )
    assert overview.status_code == 200, overview.text
    return overview.json(), await reporting_facts(world)


async def reporting_facts(world: World) -> dict[str, list[tuple[Any, ...]]]:
    """Every fact row, as text."""
    app = world.apps["reporting"]
    tables = [
        t.name
        for t in reporting_metadata.sorted_tables
        if t.name.endswith("_fact") or t.name == "touched_period"
    ]
    held = {}
    async with app.state.engine.connect() as conn:
        for table in tables:
            rows = (await conn.execute(text(f"SELECT * FROM {table}"))).all()
            held[table] = sorted(tuple(str(v) for v in row) for row in rows)
    return held


async def send(
    write: Write, method: str, key: str | None, if_match: str | None
) -> httpx.Response:
    headers = dict(write.headers)
    if key is not None:
        headers["Idempotency-Key"] = key
    if if_match is not None:
        headers["If-Match"] = if_match
    return await write.caller.client.request(
        method, write.path, json=write.body, headers=write.caller.headers(headers)
    )


def answer(response: httpx.Response, volatile: frozenset[str]) -> Any:
    body = response.json()
    if isinstance(body, dict):
        return {k: v for k, v in body.items() if k not in volatile}
    return body


@pytest.mark.parametrize("route", sorted(WRITES), ids=lambda r: f"{r[0]} {r[1]} {r[2]}")
async def test_a_write_sent_twice_acts_once(
    route: tuple[str, str, str], world: World
) -> None:
    service, method, _ = route
    write = await WRITES[route](world)
    await world.catch_up()
    before = await effects(world, write, service)
    key = f"walk-{uuid.uuid4()}"

    first = await send(write, method, key, write.if_match)
    assert first.status_code < 300, first.text
    assert REPLAYED_HEADER.lower() not in first.headers
    once = await effects(world, write, service)
    if write.table is not None:
        assert once[write.table] == before[write.table] + 1
    await world.catch_up()
    reported = await figures(world)

    again = await send(write, method, key, write.if_match)
    assert again.status_code == first.status_code, again.text
    assert again.headers[REPLAYED_HEADER] == "true"
    assert answer(again, write.volatile) == answer(first, write.volatile)
    assert await effects(world, write, service) == once
    await world.catch_up()
    assert await figures(world) == reported

    if write.if_match is not None:
        if write.stale_body is not None:
            write.body = write.stale_body
        stale = await send(write, method, f"walk-{uuid.uuid4()}", write.if_match)
        assert stale.status_code == 409, stale.text
        missing = await send(write, method, f"walk-{uuid.uuid4()}", None)
        assert missing.status_code == 428, missing.text
        assert await effects(world, write, service) == once


@pytest.fixture
def world(
    apps: dict[str, FastAPI],
    linked_training: FastAPI,
    beneficiary_client: httpx.AsyncClient,
    training_client: httpx.AsyncClient,
    reporting_client: httpx.AsyncClient,
    issue: Any,
    orgs: dict[str, Org],
    catch_up: Callable[[], Awaitable[int]],
) -> World:
    return World(
        apps=apps,
        clients={
            "beneficiary": beneficiary_client,
            "training": training_client,
            "reporting": reporting_client,
        },
        issue=issue,
        org=orgs["a"],
        catch_up=catch_up,
    )
