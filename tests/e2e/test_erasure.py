"""The right to erasure end to end: a person recorded in every service
(beneficiary, training, reporting) is erased on request, the erasure travels
by events, and then no table of any of the three databases holds their
name, phone, address, the blind indexes of them, or (outside the beneficiary
service's own pseudonymised record) their id; the indicators still count
their services. The same for a trainee."""

from __future__ import annotations

import random
import uuid
from typing import Any

import httpx
from fastapi import FastAPI
from redis.asyncio import Redis
from sqlalchemy import text

from services.beneficiary.outbox.jobs import publish_outbox
from services.reporting.ingest.jobs import ingest
from services.training.practice.jobs import pull_beneficiary_erasures
from services.training.settings import TrainingSettings
from services.training.worker import make_worker as training_worker
from shared.auth import Role
from shared.contracts.events import EventEnvelope, EventFeedPage
from shared.crypto import normalise_name, normalise_phone
from shared.taxonomy.competency import competency_tools
from shared.taxonomy.fidelity import checklists
from tests.beneficiary.api import (
    make_beneficiary,
    record_service,
    withdraw_registration,
)
from tests.callers import Caller, Org
from tests.e2e.person import ADDRESS, NAME, PHONE, SISTER_PHONE, ok, record_person
from tests.e2e.traces import ciphertexts_of, needles, scan
from tests.reporting.helpers import values
from tests.training.api import token

REASON = {"X-Access-Reason": "written request received 2026-03-01, ref DP-7"}
# The person's id may stay only in the beneficiary service, where it is the
# primary key of their pseudonymised record and ties its non-identifying
# facts together; these are the tables that hold it there.
OWN_RECORD = {
    "beneficiary",
    "consent_entry",
    "service_record",
    "case_file",
    "assessment",
    "referral",
    "risk_alert",
    "enrolment",
    "audit_entry",
    "outbox_event",
}


def person_needles(app: FastAPI, person: str) -> dict[str, str]:
    keyring = app.state.runtime.keyring
    return needles(
        {
            "name": NAME,
            "name, normalised": normalise_name(NAME),
            "family name": "Qaraghuli",
            "phone": PHONE,
            "phone, digits": normalise_phone(PHONE),
            "sister's phone": SISTER_PHONE,
            "address": ADDRESS,
            "address, street": "Seven Fountains",
            "name blind index": keyring.blind_index("name", normalise_name(NAME)),
            "phone blind index": keyring.blind_index("phone", normalise_phone(PHONE)),
            "id": person,
            "id, hex": uuid.UUID(person).hex,
        }
    )


async def feed(caller: Caller) -> list[EventEnvelope]:
    page = await caller.get("/v1/events", params={"limit": 5000})
    return EventFeedPage.model_validate(page.json()).events


async def run_training_worker(training: FastAPI) -> None:
    worker = training_worker(training.state.runtime, burst=True)
    try:
        await worker.main()
    finally:
        await worker.close()


async def test_an_erased_person_leaves_no_trace_in_any_database(
    beneficiary_app: FastAPI,
    alice: Caller,
    issue: Any,
    orgs: dict[str, Org],
    linked_training: FastAPI,
    training_client: httpx.AsyncClient,
    training_settings: TrainingSettings,
    reporting_app: FastAPI,
    reporting_client: httpx.AsyncClient,
    catch_up: Any,
) -> None:
    org = uuid.UUID(orgs["a"].id)
    trainer = token(training_settings, org, Role.trainer)
    recorded = await record_person(alice, issue, training_client, trainer)
    await catch_up()
    engines = {
        "beneficiary": beneficiary_app.state.engine,
        "training": linked_training.state.engine,
        "reporting": reporting_app.state.engine,
    }
    search = person_needles(beneficiary_app, recorded.person)
    before = {name: await scan(engine, search) for name, engine in engines.items()}
    # the scan finds what is there: the id in training and reporting, the
    # name and phone typed into a void reason, the blind indexes
    assert "id" in before["training"]["practice_group"]
    assert "id" in before["training"]["practice_session"]
    assert "id" in before["reporting"]["beneficiary_fact"]
    assert {"name", "phone"} <= before["beneficiary"]["service_record"]
    assert {"name blind index", "phone blind index"} <= before["beneficiary"][
        "beneficiary"
    ]
    reader = issue(orgs["a"], Role.me_officer)
    services = await values(reporting_client, reader, "services_delivered")
    people = await values(reporting_client, reader, "people_reached")
    machine = issue(orgs["a"], Role.service)
    history = await feed(machine)

    manager = issue(orgs["a"], Role.programme_manager, subject="maryam")
    erased = await ok(
        await manager.post(
            f"/v1/beneficiaries/{recorded.person}/erasure", headers=REASON
        )
    )
    assert erased["already_erased"] is False
    assert erased["code"] != recorded.code
    await catch_up()  # publish (and tell training), then reporting pulls
    await run_training_worker(linked_training)  # forget_beneficiary, by queue

    runtime = reporting_app.state.runtime
    late = list(history)
    random.Random(3).shuffle(late)
    for batch in (history, late, list(reversed(history))):  # old events again
        await ingest(runtime, "beneficiary", batch)
    for event in late[:40]:
        await ingest(runtime, "beneficiary", [event])
    await ingest(runtime, "beneficiary", await feed(machine))

    after = {name: await scan(engine, search) for name, engine in engines.items()}
    assert after["training"] == {}
    assert after["reporting"] == {}
    assert set(after["beneficiary"]) <= OWN_RECORD
    assert all(found <= {"id"} for found in after["beneficiary"].values())
    assert await ciphertexts_of(beneficiary_app.state.engine, recorded.ids()) == {}

    async with linked_training.state.engine.connect() as conn:
        group = (
            await conn.execute(
                text("SELECT client_ids FROM practice_group WHERE id = :id"),
                {"id": recorded.group},
            )
        ).one()
        attended = (
            await conn.execute(
                text("SELECT attended_client_ids FROM practice_session"),
            )
        ).one()
    assert len(group.client_ids) == 2  # still two clients, one of no one
    assert len(attended.attended_client_ids) == 2

    again = await values(reporting_client, reader, "services_delivered")
    assert again["total"]["value"] == services["total"]["value"]  # still counted
    reached = await values(reporting_client, reader, "people_reached")
    assert reached["total"]["value"] == people["total"]["value"] - 1

    auditor = issue(orgs["a"], Role.auditor)
    log = await ok(
        await auditor.get("/v1/audit", params={"entity_id": recorded.person})
    )
    [entry] = [e for e in log["items"] if e["action"] == "erase"]
    assert (entry["subject"], entry["reason"]) == ("maryam", REASON["X-Access-Reason"])
    read = await ok(await alice.get(f"/v1/beneficiaries/{recorded.person}"))
    assert (read["full_name"], read["phone"], read["address"]) == (None, None, None)
    assert read["pii_erased"] is True


async def test_a_rebuilt_read_model_never_links_an_erased_person(
    beneficiary_app: FastAPI,
    alice: Caller,
    issue: Any,
    orgs: dict[str, Org],
    reporting_app: FastAPI,
    reporting_client: httpx.AsyncClient,
    catch_up: Any,
) -> None:
    kept = await make_beneficiary(alice, sex="male")
    gone = await make_beneficiary(alice, sex="female")
    for person in (kept, gone):
        await record_service(alice, person["id"], service_date="2026-02-03")
    manager = issue(orgs["a"], Role.programme_manager)
    path = f"/v1/beneficiaries/{gone['id']}/erasure"
    await ok(await manager.post(path, headers=REASON))
    await publish_outbox({"runtime": beneficiary_app.state.runtime})
    history = await feed(issue(orgs["a"], Role.service))
    assert "beneficiary.erased" in {e.type for e in history}
    runtime = reporting_app.state.runtime
    reader = issue(orgs["a"], Role.me_officer)
    shuffled = list(history)
    random.Random(11).shuffle(shuffled)
    for order in (list(reversed(history)), shuffled, history):
        for event in order:  # one at a time: the erasure before or after the rest
            await ingest(runtime, "beneficiary", [event])
        search = needles({"id": gone["id"]})
        assert await scan(reporting_app.state.engine, search) == {}
        delivered = await values(reporting_client, reader, "services_delivered")
        assert delivered["total"]["value"] == 2
        reached = await values(reporting_client, reader, "people_reached", by="sex")
        assert {c["dims"]["sex"]: c["value"] for c in reached["cells"]} == {"male": 1}
        async with reporting_app.state.engine.begin() as conn:
            await conn.execute(
                text(
                    "TRUNCATE beneficiary_fact, service_fact, erased_subject, "
                    "touched_period, feed_cursor"
                )
            )
        reporting_app.state.fact_store = None


async def test_training_forgets_through_the_feed_when_the_queue_lost_the_job(
    beneficiary_app: FastAPI,
    alice: Caller,
    issue: Any,
    orgs: dict[str, Org],
    redis: Redis,
    linked_training: FastAPI,
    training_client: httpx.AsyncClient,
    training_settings: TrainingSettings,
) -> None:
    org = uuid.UUID(orgs["a"].id)
    trainer = token(training_settings, org, Role.trainer)
    recorded = await record_person(alice, issue, training_client, trainer)
    r = await withdraw_registration(issue, orgs["a"], recorded.person)
    assert r.status_code == 201, r.text  # withdrawal erases the same way
    await publish_outbox({"runtime": beneficiary_app.state.runtime})
    await redis.flushdb()  # the forget_beneficiary job is lost
    await run_training_worker(linked_training)
    search = needles({"id": recorded.person})
    assert await scan(linked_training.state.engine, search) != {}

    context = {"runtime": linked_training.state.runtime}
    assert await pull_beneficiary_erasures(context) == 1
    assert await scan(linked_training.state.engine, search) == {}
    assert await pull_beneficiary_erasures(context) == 0  # the cursor moved


async def test_erasure_requests_are_guarded(
    alice: Caller, bob: Caller, issue: Any, orgs: dict[str, Org]
) -> None:
    person = await make_beneficiary(alice, full_name=NAME, phone=PHONE)
    path = f"/v1/beneficiaries/{person['id']}/erasure"
    manager = issue(orgs["a"], Role.programme_manager)
    assert (await alice.post(path, headers=REASON)).status_code == 403
    other = issue(orgs["b"], Role.programme_manager)
    assert (await other.post(path, headers=REASON)).status_code == 404
    missing = await manager.post(path)
    assert missing.status_code == 422
    assert missing.json()["errors"][0]["loc"] == ["header", "X-Access-Reason"]
    for naming in ("asked by Qaraghuli in person", "call back on 0771 839 2046"):
        refused = await manager.post(path, headers={"X-Access-Reason": naming})
        assert refused.status_code == 422, naming
    read = await ok(await alice.get(f"/v1/beneficiaries/{person['id']}"))
    assert read["full_name"] == NAME  # nothing was erased by a refused request

    first = await ok(await manager.post(path, headers=REASON))
    supervisor = issue(orgs["a"], Role.supervisor)
    repeat = await ok(await supervisor.post(path, headers=REASON))
    assert (first["already_erased"], repeat["already_erased"]) == (False, True)
    assert repeat["code"] == first["code"]
    consents = await ok(await alice.get(f"/v1/beneficiaries/{person['id']}/consents"))
    withdrawn = [c for c in consents if c["purpose"] == "registration"]
    assert [c["granted"] for c in withdrawn] == [True, False]  # recorded once
    refused = await alice.post(
        "/v1/service-records",
        {
            "beneficiary_id": person["id"],
            "activity_code": "individual_counselling",
            "service_date": "2026-02-01",
        },
    )
    assert refused.status_code == 409  # nothing new is recorded for them


TRAINEE = {
    "full_name": "Rasha Haddad-Yonan",
    "phone": "+964 750 442 1187",
    "email": "rasha.haddad@example.org",
    "audience": "ngo",
    "affiliation": "Kurdistan Listening Collective",
    "role": "lay counsellor",
    "profession": "pharmacist",
    "sex": "female",
    "staff_id": "HADDAD-0457",
}


async def record_trainee(
    call: Any, other: str, client: str
) -> tuple[str, dict[str, str]]:
    """A trainee certified in a cohort, assessed, supervised alone and in a
    group, facilitating a reviewed practice group; returns their id and the
    ids of the rows whose free text is about them."""
    tid = (await call("/v1/trainees", TRAINEE))["id"]
    course = await call(
        "/v1/courses",
        {
            "title": "PM+ foundational",
            "approach": "pm_plus",
            "level": "foundational",
            "planned_hours": 12,
            "criteria": {"min_attendance_share": 0.5},
        },
    )
    cohort = await call(
        "/v1/cohorts",
        {
            "course_id": course["id"],
            "title": "PM+ Qadia 2026",
            "starts_on": "2026-01-05",
            "ends_on": "2026-01-06",
            "modality": "in_person",
        },
    )
    path = f"/v1/cohorts/{cohort['id']}"
    await call(f"{path}/enrolments", {"trainee_ids": [tid, other]})
    for number, day in [(1, "2026-01-05"), (2, "2026-01-06")]:
        await call(f"{path}/sessions", {"number": number, "held_on": day, "hours": 6})
        await call(
            f"{path}/sessions/{number}/attendance", {"present": [tid, other]}, "PUT"
        )
    await call(f"{path}/certify", {"on": "2026-01-10"})
    tool = "helping_skills_core@1.0"
    await call(
        "/v1/competency-assessments",
        {
            "trainee_id": tid,
            "tool": tool,
            "mode": "live",
            "context": "supervision",
            "assessed_on": "2026-01-20",
            "ratings": {i.id: 3 for i in competency_tools()[tool].items},
        },
    )
    notes = {}
    for key, supervisees, text_ in [
        ("alone", [tid], "Rasha is tired; we agreed on a lighter caseload."),
        ("named", [tid, other], "Rasha led the role play well."),
        ("unnamed", [tid, other], "Discussed referral pathways for GBV cases."),
    ]:
        made = await call(
            "/v1/supervision-sessions",
            {
                "kind": "individual" if len(supervisees) == 1 else "group",
                "mode": "virtual",
                "held_on": "2026-02-02",
                "duration_minutes": 60,
                "supervisee_trainee_ids": supervisees,
                "notes": text_,
            },
        )
        notes[key] = made["id"]
    group = await call(
        "/v1/practice-groups",
        {
            "name": "Men's group",
            "facilitator_trainee_ids": [tid],
            "client_ids": [client],
            "started_on": "2026-03-01",
        },
    )
    await call(
        f"/v1/practice-groups/{group['id']}/sessions",
        {
            "number": 0,
            "phase": "pre_group",
            "held_on": "2026-03-01",
            "attended_client_ids": [client],
            "recording_ref": "recordings/0.mp3",
            "recording_sha256": "a" * 64,
        },
    )
    items = [i.id for i in checklists()["ipt_g_fidelity@1.0"].items]
    review = await call(
        f"/v1/practice-groups/{group['id']}/sessions/0/fidelity-reviews",
        {
            "reviewed_on": "2026-03-05",
            "ratings": dict.fromkeys(items, 2),
            "feedback": "Rasha kept to the manual.",
        },
    )
    notes["review"] = review["id"]
    return tid, notes


async def test_an_erased_trainee_leaves_no_trace_outside_training(
    beneficiary_app: FastAPI,
    alice: Caller,
    issue: Any,
    orgs: dict[str, Org],
    linked_training: FastAPI,
    training_client: httpx.AsyncClient,
    training_settings: TrainingSettings,
    reporting_app: FastAPI,
    reporting_client: httpx.AsyncClient,
    catch_up: Any,
) -> None:
    org = uuid.UUID(orgs["a"].id)
    trainer = token(training_settings, org, Role.trainer)

    async def call(path: str, body: Any, method: str = "POST") -> Any:
        response = await training_client.request(
            method, path, json=body, headers=trainer
        )
        assert response.status_code in (200, 201), response.text
        return response.json()

    other = (
        await call(
            "/v1/trainees",
            {**TRAINEE, "full_name": "Other Trainee", "phone": None, "email": None,
             "staff_id": None, "affiliation": "Org A", "profession": "nurse"},
        )
    )["id"]  # fmt: skip
    client = await make_beneficiary(alice)
    tid, notes = await record_trainee(call, other, client["id"])
    await record_service(
        alice, client["id"], service_date="2026-02-15", staff_id="HADDAD-0457"
    )
    await catch_up()
    reader = issue(orgs["a"], Role.me_officer)
    figures = {
        name: (await values(reporting_client, reader, name))["total"]
        for name in (
            "people_trained",
            "people_certified",
            "training_hours",
            "supervision_hours_per_provider_month",
            "services_by_qualified_staff",
        )
    }
    assert figures["services_by_qualified_staff"]["numerator"] == 1
    machine = {
        "Authorization": issue(orgs["a"], Role.service).headers()["Authorization"]
    }
    history = EventFeedPage.model_validate(
        (
            await training_client.get(
                "/v1/events", params={"limit": 5000}, headers=machine
            )
        ).json()
    ).events
    trainee_needles = needles(
        {
            "name": TRAINEE["full_name"],
            "name, normalised": normalise_name(TRAINEE["full_name"]),
            "phone": TRAINEE["phone"],
            "phone, digits": normalise_phone(TRAINEE["phone"]),
            "email": TRAINEE["email"],
            "affiliation": TRAINEE["affiliation"],
            "profession": TRAINEE["profession"],
            "staff code": TRAINEE["staff_id"],
            "id": tid,
            "id, hex": uuid.UUID(tid).hex,
        }
    )
    before = await scan(reporting_app.state.engine, trainee_needles)
    assert {"id", "staff code"} <= before["trainee_fact"]

    manager = token(training_settings, org, Role.programme_manager)
    path = f"/v1/trainees/{tid}/erasure"
    refused = await training_client.post(path, headers=trainer | REASON)
    assert refused.status_code == 403  # programme managers only
    assert (await training_client.post(path, headers=manager)).status_code == 422
    erased = await training_client.post(path, headers=manager | REASON)
    assert erased.status_code == 200, erased.text
    await catch_up()
    runtime = reporting_app.state.runtime
    shuffled = list(history)
    random.Random(5).shuffle(shuffled)
    for batch in (history, shuffled):  # late and repeated events
        await ingest(runtime, "training", batch)

    engines = {
        "beneficiary": beneficiary_app.state.engine,
        "training": linked_training.state.engine,
        "reporting": reporting_app.state.engine,
    }
    after = {
        name: await scan(engine, trainee_needles) for name, engine in engines.items()
    }
    # the staff code is the beneficiary service's record of who delivered a
    # service (reporting copies it into the service's fact): it stays there
    assert after["beneficiary"] == {
        "service_record": {"staff code"},
        "outbox_event": {"staff code"},
    }
    assert after["reporting"] == {"service_fact": {"staff code"}}
    assert set(after["training"]) <= {
        "trainee",
        "cohort_enrolment",
        "attendance",
        "knowledge_test",
        "competency_assessment",
        "certification",
        "published_result",
        "supervision_session",
        "practice_group",
        "cohort",
        "audit_entry",
        "outbox_event",
    }
    assert all(found <= {"id"} for found in after["training"].values())

    async with linked_training.state.engine.connect() as conn:
        kept = dict(
            (
                await conn.execute(
                    text(
                        "SELECT id::text, notes_enc IS NOT NULL "
                        "FROM supervision_session"
                    )
                )
            ).all()
        )
        feedback = (
            await conn.execute(text("SELECT feedback_enc FROM fidelity_review"))
        ).scalar_one()
    # every note of a session they were supervised in, named or not
    assert kept == {
        notes["alone"]: False,
        notes["named"]: False,
        notes["unnamed"]: False,
    }
    assert feedback is None

    for name, total in figures.items():
        now = (await values(reporting_client, reader, name))["total"]
        if name == "services_by_qualified_staff":
            # the staff code no longer ties the service to the training
            assert (now["numerator"], now["denominator"]) == (0, 1)
        else:
            assert now == total, name
    read = await training_client.get(f"/v1/trainees/{tid}", headers=manager)
    assert read.json()["full_name"] == ""
    assert read.json()["pii_erased"] is True
