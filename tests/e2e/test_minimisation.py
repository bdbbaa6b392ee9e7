"""Data minimisation, checked on everything that leaves a producer's tables.

A programme is recorded through the HTTP APIs of the three services, wired
together in-process, with synthetic PII that cannot occur by chance (see
``tests/e2e/pii.py``): names (Latin and Arabic script), phones (Arabic-Indic
digits too), emails, addresses, exact dates of birth and free text in every
field meant for notes. The producers' jobs run through real arq workers on
Redis. Then every copy the platform made outside the producers' own tables is
searched for any form of that PII: every outbox event and change-feed page of
both producers, every job payload and key that reached Redis (read before a
worker took it), every log line the apps and their jobs emitted, every metric
name and label, every table and column of reporting's database, every
response reporting served (indicators, overview, feeds, an export) and the
bodies of the webhooks (risk alerts to the supervisor, notices to the data
protection focal point).

The workload also exercises the data-responsibility routes: reads with a
reason, break-the-glass, a sharing agreement and an export under it, subject
access, erasure on request and by withdrawn consent, a trainee's erasure and
a retention run. The PII legitimately sits in the producers' responses and
tables; the test checks it finds it there, so a pass cannot be vacuous.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.beneficiary.outbox.jobs import publish_outbox as publish_beneficiary
from services.beneficiary.worker import make_worker as beneficiary_worker
from services.reporting.worker import make_worker as reporting_worker
from services.training.outbox.jobs import publish_outbox as publish_training
from services.training.settings import TrainingSettings
from services.training.worker import make_worker as training_worker
from shared.auth import Role
from shared.db import utcnow
from shared.taxonomy.competency import competency_tools
from shared.taxonomy.fidelity import checklists
from tests.beneficiary.alerts import Receiver, serving, webhook
from tests.beneficiary.api import (
    CONSENTS,
    ERASURE_REASON,
    WITHDRAW_REGISTRATION,
    beneficiary_body,
    focal_point,
    give_consent,
    make_beneficiary,
    phq9,
    record_service,
    srq20,
)
from tests.callers import Caller, Org
from tests.e2e.pii import Pii, Scan
from tests.fixtures.logs import Json, LogLine
from tests.training.api import token, trainee
from tests.workers import run_burst

START, END = "2026-01-01", "2026-06-30"
CANARY = "control canary:"
"""The start of a line the test itself logs with a name in it, to show the
log scan finds what is there."""


class RedisTap:
    """Every key of the test's Redis database and its value, read at
    moments chosen by the test (before a worker takes the jobs)."""

    def __init__(self, redis: Redis) -> None:
        self.redis: Any = redis  # its stubs type every reply as maybe-awaitable
        self.values: dict[tuple[str, bytes], str] = {}
        self.jobs: dict[str, str] = {}
        """arq job key -> function."""
        self.queued_events: set[str] = set()
        """Ids of the events that ingest jobs carried."""

    async def snapshot(self, moment: str) -> None:
        async for raw in self.redis.scan_iter(count=1000):
            key = raw.decode()
            kind = (await self.redis.type(raw)).decode()
            if kind == "string":
                value = await self.redis.get(raw) or b""
            elif kind == "zset":
                value = b"\n".join(await self.redis.zrange(raw, 0, -1))
            elif kind == "list":
                value = b"\n".join(await self.redis.lrange(raw, 0, -1))
            elif kind == "set":
                value = b"\n".join(sorted(await self.redis.smembers(raw)))
            elif kind == "hash":
                pairs = await self.redis.hgetall(raw)
                value = b"\n".join(k + b"=" + v for k, v in sorted(pairs.items()))
            elif kind == "stream":
                entries = await self.redis.xrange(raw)
                value = repr(entries).encode()
            else:  # gone between SCAN and TYPE
                continue
            self.values.setdefault((key, value), moment)
            if key.startswith("arq:job:"):
                job = json.loads(value)
                self.jobs[key] = job["f"]
                if job["f"] == "ingest_events":
                    self.queued_events.update(e["id"] for e in job["k"]["events"])

    def items(self) -> Iterator[tuple[str, bytes]]:
        for (key, value), moment in self.values.items():
            yield f"{key} ({kind_of(key)}, {moment})", key.encode() + b"\n" + value


def kind_of(key: str) -> str:
    if key.startswith("arq:job:"):
        return "job payload"
    if key in ("beneficiary", "training", "reporting"):
        return "queue"
    return "key"


async def ok(response: Awaitable[httpx.Response], *codes: int) -> Any:
    r = await response
    assert r.status_code in (codes or (200, 201)), (r.request.url, r.text)
    return r.json() if "json" in r.headers.get("content-type", "") else r.text


@dataclass
class Recorded:
    """Ids the later steps need."""

    people: dict[str, str] = field(default_factory=dict)
    trainees: list[str] = field(default_factory=list)
    controls: list[tuple[str, str]] = field(default_factory=list)
    """Responses that must hold the PII, to prove the scanner finds it."""


async def record_beneficiaries(
    pii: Pii,
    alice: Caller,
    bob: Caller,
    issue: Any,
    orgs: dict[str, Org],
    site: str,
    publish: Callable[[], Awaitable[int]],
) -> Recorded:
    """Registration, duplicates, search, updates, offline sync with a
    conflict, services, groups, a case with every kind of note, risk alerts,
    referrals, an intervention, and a withdrawal of consent that erases."""
    done = Recorded()

    async def control(path: str) -> None:
        r = await alice.get(path)
        assert r.status_code == 200, r.text
        done.controls.append((f"GET {path}", r.text))

    sam = issue(orgs["a"], Role.supervisor, subject="sam")
    pat = issue(orgs["partner"], Role.case_worker, subject="pat")
    with_referral = [
        *CONSENTS,
        {
            "purpose": "referral",
            "granted": True,
            "form_version": "2024-1",
            "agency": pii.text("consent's agency", "Dr {} at the Zakho clinic"),
        },
    ]

    p1_name, p1_phone = pii.name("p1"), pii.phone("p1")
    p1 = await make_beneficiary(
        alice,
        full_name=p1_name,
        phone=p1_phone,
        address=pii.address("p1"),
        date_of_birth=pii.date_of_birth("p1", 1987),
        site_id=site,
        consents=with_referral,
    )
    local_phone = "0" + p1_phone.removeprefix("+964 ")
    again = await make_beneficiary(
        alice,
        full_name="  " + p1_name.upper().replace(" ", "  "),
        phone=local_phone,
        date_of_birth="1987-01-01",
        site_id=site,
    )
    assert again["possible_duplicates"] == [p1["id"]]
    for params in ({"name": p1_name.lower()}, {"phone": local_phone}):
        found = await ok(alice.get("/v1/beneficiaries", params=params))
        assert p1["id"] in [x["id"] for x in found["items"]]

    p2_body = beneficiary_body(
        full_name=pii.name("p2", "Omar"),
        phone=pii.phone("p2", arabic_digits=True),
        sex="male",
        date_of_birth=pii.date_of_birth("p2", 1979),
        site_id=site,
    )
    key = {"Idempotency-Key": uuid.uuid4().hex}
    p2 = await ok(alice.post("/v1/beneficiaries", p2_body, headers=key))
    retried = await ok(alice.post("/v1/beneficiaries", p2_body, headers=key))
    assert retried["id"] == p2["id"]
    updated = await alice.patch(
        f"/v1/beneficiaries/{p2['id']}",
        {"phone": pii.phone("p2 (new)"), "address": pii.address("p2 (new)")},
        headers={"If-Match": '"1"'},
    )
    assert updated.status_code == 200, updated.text
    p3_name = pii.arabic_name("p3")
    p3 = await make_beneficiary(
        alice,
        full_name=p3_name,
        date_of_birth=pii.date_of_birth("p3", 2011),
        marital_status=None,
        site_id=site,
    )
    found = await ok(alice.get("/v1/beneficiaries", params={"name": p3_name}))
    assert [x["id"] for x in found["items"]] == [p3["id"]]
    for registered in (p1, p2, p3):
        await control(f"/v1/beneficiaries/{registered['id']}")
    p8 = await make_beneficiary(
        alice,
        full_name=pii.name("p8", "Layla"),
        date_of_birth=None,
        estimated_age=40,
        site_id=site,
    )
    p5 = await make_beneficiary(
        pat, full_name=pii.name("p5", "Hawre"), phone=pii.phone("p5"), sex="male"
    )
    p7 = await make_beneficiary(
        bob,
        full_name=pii.name("p7", "Rasha"),
        phone=pii.phone("p7"),
        address=pii.address("p7"),
        date_of_birth=pii.date_of_birth("p7", 1995),
    )
    refused = await alice.post(
        "/v1/beneficiaries",
        beneficiary_body(
            full_name=pii.name("a refused registration", "Dilan"),
            phone=pii.text("a refused phone", "call {}"),
        ),
    )
    assert refused.status_code == 422, refused.text
    done.people.update(p1=p1["id"], p2=p2["id"], p3=p3["id"], p8=p8["id"])

    offline = str(uuid.uuid4())
    on_device = beneficiary_body(
        full_name=pii.name("p6 (offline)", "Shilan"),
        phone=pii.phone("p6 (offline)"),
        address=pii.address("p6 (offline)"),
        date_of_birth=pii.date_of_birth("p6 (offline)", 1968),
        site_id=site,
    )
    on_device.pop("consents")
    batch = {
        "device_id": "tablet-12",
        "beneficiaries": [{"id": offline, "data": on_device, "consents": CONSENTS}],
        "service_records": [
            {
                "id": str(uuid.uuid4()),
                "data": {
                    "beneficiary_id": offline,
                    "activity_code": "remote_pfa",
                    "service_date": "2026-02-10",
                    "modality": "remote_phone",
                },
            }
        ],
    }
    for _ in range(2):
        await ok(alice.post("/v1/sync", batch))
    await ok(
        alice.patch(
            f"/v1/beneficiaries/{offline}",
            {"marital_status": "divorced"},
            headers={"If-Match": '"1"'},
        )
    )
    stale = {
        "id": offline,
        "base_version": 1,
        "data": {**on_device, "phone": pii.phone("p6 (offline edit)")},
    }
    synced = await ok(
        alice.post("/v1/sync", {"device_id": "tablet-12", "beneficiaries": [stale]})
    )
    [conflict] = synced["results"]
    assert conflict["status"] == "conflict"
    await ok(
        sam.post(
            f"/v1/sync/conflicts/{conflict['conflict_id']}/resolve",
            {"resolution": "apply_client"},
        )
    )
    await publish()  # as the worker does every second, before a device pulls
    await ok(alice.get("/v1/sync/changes"))  # (sequences what is pending)

    for person_id, code in [
        (p1["id"], "individual_counselling"),
        (p2["id"], "psychiatric_consultation"),
        (p8["id"], "pfa"),
    ]:
        await record_service(alice, person_id, activity_code=code, site_id=site)
    wrong = await record_service(alice, p2["id"], service_date="2026-02-02")
    await ok(
        alice.post(
            f"/v1/service-records/{wrong['id']}/void",
            {"reason": pii.text("reason for a void", "Recorded for {} by mistake")},
        )
    )
    await record_service(pat, p5["id"], activity_code="pfa")
    await record_service(bob, p7["id"])
    group = await ok(
        alice.post(
            "/v1/group-activities",
            {
                "activity_code": "ipt_group_session",
                "activity_date": "2026-02-08",
                "site_id": site,
                "facilitator_staff_ids": ["staff-q"],
                "attendee_ids": [p1["id"], p3["id"]],
                "anonymous_attendees": [
                    {"sex": "female", "age_group": "adult", "count": 3}
                ],
            },
        )
    )
    assert group["served_total"] == 5
    await ok(
        alice.post(
            "/v1/anonymous-services",
            {
                "activity_code": "awareness_session",
                "service_date": "2026-03-20",
                "site_id": site,
                "counts": [{"sex": "male", "age_group": "adult", "count": 9}],
            },
        )
    )
    enrolment = await ok(
        alice.post(
            "/v1/enrolments",
            {
                "beneficiary_id": p2["id"],
                "intervention": "pm_plus",
                "enrolled_on": "2026-02-01",
            },
        )
    )
    for number, day in [(1, "2026-02-02"), (2, "2026-02-09")]:
        await ok(
            alice.post(
                f"/v1/enrolments/{enrolment['id']}/sessions",
                {"session_number": number, "attended_on": day},
            )
        )

    case_id = await record_case(pii, alice, sam, p1["id"], p1_name)
    for path in ("", "/safety-plans", "/plan", "/follow-ups"):
        await control(f"/v1/cases/{case_id}{path}")
    await control("/v1/referrals")
    case = await ok(
        alice.post(
            "/v1/cases",
            {
                "beneficiary_id": p8["id"],
                "presenting_problems": ["grief"],
                "risk_level": "high",
                "iasc_layer_needed": "focused_non_specialized",
                "case_worker": "alice",
                "supervisor": "sam",
                "intake_notes": pii.text("p8's intake notes", "Neighbours: {}"),
                "opened_on": "2026-02-01",
            },
        )
    )
    await ok(alice.post(f"/v1/cases/{case['id']}/risk-flags", {"flag": "suicide_risk"}))

    withdrawn = await sam.post(
        f"/v1/beneficiaries/{p3['id']}/consents",
        [WITHDRAW_REGISTRATION],
        headers=ERASURE_REASON,
    )
    assert withdrawn.status_code in (200, 201), withdrawn.text
    return done


async def record_case(
    pii: Pii, alice: Caller, sam: Caller, person: str, name: str
) -> str:
    """Intake to closure: notes, answers with a positive item 9, the alert
    acknowledged, a safety plan naming a relative, a plan, a referral with
    feedback, follow-ups."""
    given = name.split()[0]
    case = await ok(
        alice.post(
            "/v1/cases",
            {
                "beneficiary_id": person,
                "presenting_problems": ["low_mood", "grief"],
                "risk_level": "high",
                "iasc_layer_needed": "focused_non_specialized",
                "case_worker": "alice",
                "supervisor": "sam",
                "intake_notes": pii.text(
                    "p1's intake notes", given + " lost her son; {} sleeps badly"
                ),
                "opened_on": "2026-01-15",
            },
        )
    )
    path = f"/v1/cases/{case['id']}"

    async def assess(instrument: str, answers: Json, on: str, when: str) -> Json:
        body = {
            "instrument": instrument,
            "timepoint": when,
            "administered_on": on,
            "responses": answers,
        }
        result: Json = await ok(alice.post(f"{path}/assessments", body))
        return result

    baseline = await assess(
        "phq9", phq9(3, 3, 2, 2, 2, 2, 2, 2, 2), "2026-01-15", "baseline"
    )
    assert baseline["risk_flags"] == ["suicide_risk"]
    await assess("srq20", srq20(12), "2026-01-15", "baseline")
    [alert, *_] = (await ok(sam.get("/v1/risk-alerts")))["items"]
    await ok(
        sam.post(
            f"/v1/risk-alerts/{alert['id']}/acknowledge",
            {"action_taken": pii.text("action on a risk alert", "Called {} at once")},
        )
    )
    relative = pii.name("p1's brother (safety contact)", "Karim")
    await ok(
        alice.post(
            f"{path}/safety-plans",
            {
                "warning_signs": [pii.text("warning sign", "talks of {}")],
                "coping_strategies": [pii.text("coping strategy", "walk to {}")],
                "contacts": [
                    {
                        "name": relative,
                        "relation": "brother",
                        "phone": pii.phone("p1's brother (safety contact)"),
                    }
                ],
                "means_restriction": [pii.text("means restriction", "pills at {}")],
            },
        )
    )
    plan = await alice.client.put(
        f"{path}/plan",
        json={
            "goals": [pii.text("a plan's goal", "visit {} again")],
            "planned_activities": ["pm_plus_individual"],
        },
        headers=alice.headers(),
    )
    assert plan.status_code == 200, plan.text
    await ok(
        alice.post(
            f"{path}/transitions",
            {"status": "active", "on": "2026-01-20"},
            headers={"If-Match": '"1"'},
        )
    )
    referral = await ok(
        alice.post(
            "/v1/referrals",
            {
                "beneficiary_id": person,
                "case_id": case["id"],
                "kind": "external",
                "area": "legal",
                "receiving_party": pii.text("referral's receiver", "Lawyer {}"),
                "sent_on": "2026-01-21",
            },
        )
    )
    await ok(
        alice.post(
            f"/v1/referrals/{referral['id']}/status",
            {
                "status": "accepted",
                "on": "2026-01-25",
                "feedback": pii.text("referral feedback", "Met {} on Sunday"),
            },
            headers={"If-Match": '"1"'},
        )
    )
    for day, answers in [
        ("2026-02-20", phq9(2, 2, 1, 1, 1, 1, 1, 1, 0)),
        ("2026-03-20", phq9(1, 1, 1, 0, 1, 0, 0, 0, 0)),
    ]:
        await ok(
            alice.post(
                f"{path}/follow-ups",
                {"on": day, "notes": pii.text("follow-up notes", given + " and {}")},
            )
        )
        await assess("phq9", answers, day, "follow_up")
    await ok(alice.get(f"{path}/outcomes"))
    await ok(
        alice.post(
            f"{path}/transitions",
            {"status": "closed", "on": "2026-03-25", "closure_reason": "goals_met"},
            headers={"If-Match": '"2"'},
        )
    )
    return str(case["id"])


async def record_training(
    pii: Pii, client: httpx.AsyncClient, headers: dict[str, str], done: Recorded
) -> None:
    """Trainees with contact details, a cohort to certification, competency,
    a practice group with clients and fidelity feedback, supervision notes."""

    async def call(path: str, body: Any, method: str = "POST") -> Any:
        return await ok(client.request(method, path, json=body, headers=headers))

    for i, given in enumerate(["Rana", "Soran", "Nasrin", "Ahmad"]):
        who = f"trainee t{i + 1}"
        body = trainee(
            full_name=pii.name(who, given),
            phone=pii.phone(who),
            email=pii.email(who),
            affiliation=pii.text(f"{who}'s affiliation", "Dr {}'s practice"),
            role=pii.text(f"{who}'s role", "assistant to {}"),
            profession=pii.text(f"{who}'s profession", "nurse with {}"),
            staff_id="staff-q" if i == 0 else None,
        )
        done.trainees.append((await call("/v1/trainees", body))["id"])
        path = f"/v1/trainees/{done.trainees[-1]}"
        done.controls.append((f"GET {path}", json.dumps(await call(path, None, "GET"))))
    t = done.trainees
    course = await call(
        "/v1/courses",
        {
            "title": "IPT-G foundational",
            "approach": "ipt_g",
            "level": "foundational",
            "planned_hours": 12,
            "criteria": {"min_attendance_share": 0.5},
        },
    )
    cohort = await call(
        "/v1/cohorts",
        {
            "course_id": course["id"],
            "title": "IPT-G 2026",
            "starts_on": "2026-02-09",
            "ends_on": "2026-02-10",
            "modality": "in_person",
        },
    )
    path = f"/v1/cohorts/{cohort['id']}"
    await call(f"{path}/enrolments", {"trainee_ids": t})
    for number, day in [(1, "2026-02-09"), (2, "2026-02-10")]:
        await call(f"{path}/sessions", {"number": number, "held_on": day, "hours": 6})
        await call(
            f"{path}/sessions/{number}/attendance", {"present": t[:3]}, method="PUT"
        )
    for kind, on, score in [("pre", "2026-02-09", 40), ("post", "2026-02-10", 80)]:
        await call(
            f"{path}/knowledge-tests",
            {
                "kind": kind,
                "taken_on": on,
                "results": [{"trainee_id": x, "score": score} for x in t],
            },
        )
    tool = "helping_skills_core@1.0"
    await call(
        "/v1/competency-assessments",
        {
            "trainee_id": t[0],
            "cohort_id": cohort["id"],
            "tool": tool,
            "mode": "live",
            "context": "post",
            "assessed_on": "2026-02-10",
            "ratings": {i.id: 3 for i in competency_tools()[tool].items},
        },
    )
    await call(f"{path}/certify", {"on": "2026-02-14"})
    await call(f"{path}/results", None, method="GET")

    clients = [done.people["p1"], done.people["p2"]]
    group = await call(
        "/v1/practice-groups",
        {
            "name": "Qadia women's group",
            "facilitator_trainee_ids": t[:2],
            "client_ids": clients,
            "started_on": "2026-03-10",
        },
    )
    sessions = f"/v1/practice-groups/{group['id']}/sessions"
    await call(
        sessions,
        {
            "number": 1,
            "phase": "initial",
            "held_on": "2026-03-10",
            "attended_client_ids": clients,
            "recording_ref": "recordings/1.mp3",
            "recording_sha256": "c" * 64,
        },
    )
    items = [i.id for i in checklists()["ipt_g_fidelity@1.0"].items]
    await call(
        f"{sessions}/1/fidelity-reviews",
        {
            "reviewed_on": "2026-03-11",
            "ratings": dict.fromkeys(items, 2),
            "feedback": pii.text("fidelity feedback", "Rana let {} speak at length"),
        },
    )
    await call(
        "/v1/supervision-sessions",
        {
            "kind": "group",
            "mode": "virtual",
            "held_on": "2026-03-20",
            "duration_minutes": 90,
            "supervisee_trainee_ids": t[:2],
            "cases_discussed": 2,
            "notes": pii.text("supervision notes", "Discussed Zahraa and {}"),
        },
    )


async def exercise_rights(
    pii: Pii,
    alice: Caller,
    issue: Any,
    orgs: dict[str, Org],
    site_ids: list[str],
    trainings: httpx.AsyncClient,
    settings: TrainingSettings,
    done: Recorded,
) -> None:
    """Reads with a reason, break-the-glass, a sharing agreement and an
    export under it, subject access, erasure on request (a beneficiary who
    is a practice-group client, a trainee), and a retention run."""
    org = uuid.UUID(orgs["a"].id)
    sam = issue(orgs["a"], Role.supervisor, subject="sam")
    maria = issue(orgs["a"], Role.programme_manager, subject="maria")

    def why(what: str) -> dict[str, str]:
        return {"X-Access-Reason": pii.text(what, "asked by {} (DP-9)")}

    p1 = done.people["p1"]
    await ok(alice.get(f"/v1/beneficiaries/{p1}", headers=why("a read's reason")))
    lina = issue(orgs["a"], Role.case_worker, subject="lina", sites=[site_ids[1]])
    grant = await ok(
        lina.post(
            "/v1/break-glass",
            {
                "beneficiary_id": p1,
                "reason": pii.text("break-glass reason", "{} came to us in crisis"),
                "minutes": 30,
            },
        )
    )
    await ok(
        lina.get(f"/v1/beneficiaries/{p1}", headers=why("a break-glass read's reason"))
    )
    await ok(sam.post(f"/v1/break-glass/{grant['id']}/revoke"))

    await ok(
        give_consent(
            alice,
            p1,
            {"purpose": "data_sharing", "granted": True, "form_version": "2024-1"},
        )
    )
    today = utcnow().date()
    agreement = await ok(
        maria.post(
            "/v1/sharing-agreements",
            {
                "partner": "Cash Partner NGO",
                "purpose": "Multi-purpose cash for people referred by MHPSS teams",
                "fields": ["pseudonym", "sex", "age_group", "full_name", "phone"],
                "valid_from": today.isoformat(),
                "expires_on": (today + timedelta(days=90)).isoformat(),
            },
            headers=why("a sharing agreement's reason"),
        )
    )
    shared = await ok(
        maria.post(
            f"/v1/sharing-agreements/{agreement['id']}/exports",
            headers=why("a sharing export's reason"),
        )
    )
    done.controls.append(("a sharing export", json.dumps(shared)))

    access = await ok(
        sam.get(
            f"/v1/beneficiaries/{p1}/subject-access",
            headers=why("a subject access request's reason"),
        )
    )
    done.controls.append(("p1's subject access export", json.dumps(access)))
    erased = await ok(
        maria.post(
            f"/v1/beneficiaries/{done.people['p2']}/erasure",
            headers=why("an erasure request's reason"),
        )
    )
    assert erased["already_erased"] is False

    manager = token(settings, org, Role.programme_manager)
    t1, t4 = done.trainees[0], done.trainees[3]
    await ok(
        trainings.get(
            f"/v1/trainees/{t1}/subject-access",
            headers=manager | why("a trainee's subject access reason"),
        )
    )
    await ok(
        trainings.post(
            f"/v1/trainees/{t4}/erasure",
            headers=manager | why("a trainee's erasure reason"),
        )
    )

    await ok(
        maria.client.put(
            "/v1/retention/policies/closed_case",
            json={"keep_days": 30, "action": "pseudonymise"},
            headers=maria.headers(
                why("a retention policy's reason") | {"If-Match": '"0"'}
            ),
        )
    )
    run = await ok(
        maria.post(
            "/v1/retention/runs",
            {"dry_run": False},
            headers=why("a retention run's reason"),
        )
    )
    assert run["affected"]["closed_case"]["count"] == 1, run


async def read_reporting(
    client: httpx.AsyncClient, me: Caller, manager: Caller, scan: Scan
) -> str:
    """What reporting serves: indicators, the overview, feeds in every format,
    an API key's reads; returns the id of an export it was asked for."""
    period = {"start": START, "end": END}

    async def read(path: str, headers: dict[str, str], **params: Any) -> None:
        r = await client.get(path, params=params, headers=headers)
        assert r.status_code == 200, (path, r.text)
        scan.check("reporting responses", f"GET {path} {params}", r.text)

    indicators = (await ok(client.get("/v1/indicators", headers=me.headers())))["items"]
    assert len(indicators) >= 5
    for indicator in indicators:
        await read(f"/v1/indicators/{indicator['id']}/values", me.headers(), **period)
    await read("/v1/indicators/people_reached/values", me.headers(), **period, by="sex")
    await read("/v1/overview", me.headers(), **period)
    await read("/v1/overview/document", me.headers(), **period)
    for fmt in ("json", "hxl", "adx"):
        await read("/v1/feeds/services_delivered", me.headers(), cursor=0, format=fmt)
    issued = await ok(
        client.post(
            "/v1/api-keys",
            json={"name": "MoH DHIS2", "indicators": ["people_reached"]},
            headers=manager.headers(),
        )
    )
    await read(
        "/v1/indicators/people_reached/values", {"X-API-Key": issued["key"]}, **period
    )
    await read("/v1/api-keys", manager.headers())
    export = await ok(
        client.post(
            "/v1/exports",
            json={
                "indicator": "services_delivered",
                **period,
                "by": ["sex", "activity"],
                "format": "csv",
            },
            headers=me.headers(),
        ),
        202,
    )
    return str(export["id"])


async def feed_pages(client: httpx.AsyncClient, headers: dict[str, str]) -> list[Json]:
    """A producer's whole change feed, page by page, as a machine reads it."""
    events: list[Json] = []
    after = 0
    while True:
        page = await ok(
            client.get(
                "/v1/events", params={"cursor": after, "limit": 50}, headers=headers
            )
        )
        events.extend(page["items"])
        if not page["items"]:
            return events
        after = page["next_cursor"]


async def table_rows(engine: AsyncEngine, *names: str) -> dict[str, list[Json]]:
    """Rows of the named tables, or of every table and materialised view."""
    async with engine.connect() as conn:
        if not names:
            names = tuple(
                (
                    await conn.execute(
                        text(
                            "SELECT table_name FROM information_schema.tables "
                            "WHERE table_schema = 'public' "
                            "AND table_type = 'BASE TABLE' "
                            "UNION SELECT matviewname FROM pg_matviews "
                            "WHERE schemaname = 'public'"
                        )
                    )
                ).scalars()
            )
        rows: dict[str, list[Json]] = {}
        for name in names:
            query = text(f'SELECT row_to_json(t)::text FROM "{name}" t')
            found = (await conn.execute(query)).scalars()
            rows[name] = [json.loads(row) for row in found]
        return rows


@pytest.mark.long
async def test_no_pii_leaves_the_producers(
    log_lines: list[LogLine],
    redis: Redis,
    beneficiary_app: FastAPI,
    beneficiary_client: httpx.AsyncClient,
    linked_training: FastAPI,
    linked_beneficiary: FastAPI,
    training_client: httpx.AsyncClient,
    training_settings: TrainingSettings,
    reporting_app: FastAPI,
    reporting_client: httpx.AsyncClient,
    catch_up: Callable[[], Awaitable[int]],
    alice: Caller,
    bob: Caller,
    issue: Any,
    orgs: dict[str, Org],
    site_ids: list[str],
) -> None:
    started = time.monotonic()
    pii = Pii()
    scan = Scan(pii)
    tap = RedisTap(redis)
    training = token(
        training_settings, uuid.UUID(alice.org.id), Role.trainer, Role.supervisor
    )
    me = issue(orgs["a"], Role.me_officer)
    manager = issue(orgs["a"], Role.programme_manager)

    beneficiary_ctx = {"runtime": beneficiary_app.state.runtime}

    async def publish() -> int:
        sequenced: int = await publish_beneficiary(beneficiary_ctx)
        await tap.snapshot("after a publish_outbox")
        return sequenced

    done = await record_beneficiaries(
        pii, alice, bob, issue, orgs, site_ids[0], publish
    )
    await record_training(pii, training_client, training, done)
    await exercise_rights(
        pii, alice, issue, orgs, site_ids, training_client, training_settings, done
    )
    pii.add_blind_indexes(beneficiary_app.state.runtime.keyring)
    await tap.snapshot("after the writes")
    assert await publish() > 0
    assert await publish_training({"runtime": linked_training.state.runtime}) > 0
    await tap.snapshot("after publish_outbox")

    receiver = Receiver()
    async with serving(receiver) as url:
        with webhook(beneficiary_app, url), focal_point(beneficiary_app, url):
            await run_burst(beneficiary_worker, beneficiary_app.state.runtime)
    await run_burst(training_worker, linked_training.state.runtime)
    await tap.snapshot("after the producers' workers")
    await run_burst(reporting_worker, reporting_app.state.runtime)
    export_id = await read_reporting(reporting_client, me, manager, scan)
    await tap.snapshot("after an export was asked for")
    await run_burst(reporting_worker, reporting_app.state.runtime)
    export = await ok(
        reporting_client.get(f"/v1/exports/{export_id}", headers=me.headers())
    )
    assert export["status"] == "ready", export
    exported = await reporting_client.get(
        f"/v1/exports/{export_id}/file", headers=me.headers()
    )
    assert exported.status_code == 200
    scan.check("reporting responses", f"export {export_id} file", exported.text)
    await catch_up()
    await tap.snapshot("at the end")

    # Outboxes, as stored and as the change feeds serve them.
    machine = issue(orgs["a"], Role.service).headers()
    training_machine = token(training_settings, uuid.UUID(alice.org.id), Role.service)
    outbox_types: Counter[str] = Counter()
    outbox_ids: set[str] = set()
    for source, producer, reader, headers in [
        ("beneficiary", beneficiary_app, beneficiary_client, machine),
        ("training", linked_training, training_client, training_machine),
    ]:
        [events] = (await table_rows(producer.state.engine, "outbox_event")).values()
        for event in events:
            outbox_types[f"{source}:{event['type']}"] += 1
            outbox_ids.add(event["id"])
            where = f"{source} outbox_event {event['type']} id={event['id']}"
            scan.check("outbox events", where, event)
        feed = await feed_pages(reader, headers)
        assert len(feed) == len(events), source
        for event in feed:
            where = f"GET {source} /v1/events {event['type']} id={event['id']}"
            scan.check("change feeds", where, event)

    scan.check_all("redis", tap.items())
    control = Scan(pii)
    control.check_all("responses", done.controls)
    [people] = (await table_rows(beneficiary_app.state.engine, "beneficiary")).values()
    control.check_all("beneficiary rows", [("", person) for person in people])
    for i, (headers_seen, body) in enumerate(receiver.calls):
        scan.check("webhooks", f"call {i}", [headers_seen, body])

    name = next(needle.text for needle in pii.needles if needle.kind == "name")
    logging.getLogger("control").warning("%s %s", CANARY, name)
    for i, line in enumerate(log_lines):
        if str(line.event.get("event")).startswith(CANARY):
            control.check("log lines", f"line {i}", line.rendered)
            continue
        where = f"line {i} event={line.event.get('event')!r}"
        scan.check("log lines", where, line.rendered)

    label_values: set[str] = set()
    for service, http in [
        ("beneficiary", beneficiary_client),
        ("training", training_client),
        ("reporting", reporting_client),
    ]:
        exposition = (await http.get("/metrics")).text
        for family in text_string_to_metric_families(exposition):
            for sample in family.samples:
                label_values.update(sample.labels.values())
                where = f"{service} /metrics {sample.name}{sample.labels}"
                scan.check("metric samples", where, [sample.name, sample.labels])

    reporting_tables = await table_rows(reporting_app.state.engine)
    for table, rows in reporting_tables.items():
        for n, row in enumerate(rows):
            for column, value in row.items():
                scan.check("reporting rows", f"{table}.{column} row {n}", value)

    if scan.leaks:
        pytest.fail(scan.report(), pytrace=False)

    # The scanner finds what is there: every kind of PII in the producers'
    # own responses, blind indexes in their table, a name in a log line the
    # test wrote itself. And the scans saw the whole workload.
    assert control.kinds_found("responses") == set(pii.kinds) - {"blind index"}
    assert "blind index" in control.kinds_found("beneficiary rows")
    assert "name" in control.kinds_found("log lines")
    assert outbox_ids <= tap.queued_events, "events that never reached Redis"
    assert pii.kinds["name"] >= 12, pii.kinds
    assert pii.kinds["phone"] >= 10, pii.kinds
    assert sum(1 for t in outbox_types if t.startswith("beneficiary:")) >= 10
    for expected in (
        "beneficiary:beneficiary.registered",
        "beneficiary:beneficiary.updated",
        "beneficiary:case.opened",
        "beneficiary:assessment.recorded",
        "beneficiary:referral.status_changed",
        "beneficiary:risk_alert.acknowledged",
        "beneficiary:consent.recorded",
        "beneficiary:service_record.voided",
        "training:trainee.registered",
        "training:supervision.recorded",
        "training:fidelity_review.recorded",
    ):
        assert outbox_types[expected] > 0, (expected, outbox_types)
    jobs = Counter(tap.jobs.values())
    assert jobs["ingest_events"] >= 2, jobs
    assert jobs["publish_outbox"] >= 2, jobs
    assert jobs["deliver_risk_alert"] == 2, jobs
    assert jobs["deliver_protection_notice"] >= 2, jobs  # break-glass, sharing
    assert jobs["forget_beneficiary"] == 2, jobs  # withdrawal, erasure request
    assert jobs["run_export"] == 1, jobs
    delivered = Counter(
        json.loads(body).get("kind", "alert") for _, body in receiver.calls
    )
    assert delivered["alert"] == 2, delivered
    assert delivered["break_glass"] == 1, delivered
    assert (
        delivered.total()
        == jobs["deliver_risk_alert"] + jobs["deliver_protection_notice"]
    ), delivered
    services_logged = {
        line.event.get("service")
        for line in log_lines
        if line.event.get("event") == "request"
    }
    assert services_logged >= {"beneficiary", "training", "reporting"}
    job_lines = [
        line.rendered
        for line in log_lines
        if any(f in line.rendered for f in ("ingest_events(", "deliver_risk_alert("))
    ]
    assert len(job_lines) >= 4, "arq's job lines were not captured"
    assert any(line.event.get("event") == "events_ingested" for line in log_lines)
    assert {"/v1/beneficiaries", "/v1/trainees", "/v1/overview"} <= label_values
    assert sum(map(len, reporting_tables.values())) >= 50
    counts = ", ".join(f"{n} {source}" for source, n in sorted(scan.seen.items()))
    print(  # noqa: T201
        f"scanned {counts}; {len(pii.needles)} forms of {sum(pii.kinds.values())} "
        f"PII values; jobs {dict(jobs)}; {len(reporting_tables)} reporting tables; "
        f"{time.monotonic() - started:.1f} s"
    )
