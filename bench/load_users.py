"""Locust users for ``bench/run_load.py`` (the locustfile; run by that script,
not by hand). The seed file named by ``LOAD_SEED`` holds the base URLs, the
tokens and the people, sites and trainees created before the load starts;
``LOAD_SCENARIO`` picks which users run:

- ``mix``: field staff (service records, registrations, sync batches),
  trainers (supervision records) and M&E officers (indicator and overview
  reads), weighted as a programme's day looks;
- ``service-records``, ``registrations``: one kind of single write only;
- ``sync``: devices uploading batches of new people and their services.

Each sync response's per-record outcomes are added up and written to
``LOAD_COUNTS`` when the test stops (locust itself counts requests only).
"""

from __future__ import annotations

import json
import os
import random
import uuid
from collections import Counter
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from locust import FastHttpUser, constant, constant_throughput, events, task

SEED: dict[str, Any] = json.loads(Path(os.environ["LOAD_SEED"]).read_text())
SCENARIO = os.environ.get("LOAD_SCENARIO", "mix")
RATE = float(os.environ.get("LOAD_RATE_PER_USER", "0"))
BATCH_SIZE = int(os.environ.get("LOAD_BATCH_SIZE", "500"))
RECORDS_PER_PERSON = int(os.environ.get("LOAD_RECORDS_PER_PERSON", "4"))
CONSENTS = [
    {"purpose": "registration", "granted": True, "form_version": "2024-1"},
    {"purpose": "services", "granted": True, "form_version": "2024-1"},
]
ACTIVITIES = [
    "pfa",
    "individual_counselling",
    "pm_plus_individual",
    "emotional_support_session",
]
SYNC_OUTCOMES: Counter[str] = Counter()


def _pace() -> Any:
    """Closed loop by default (each user sends its next request as soon as the
    last is answered); a fixed rate per user with ``--rate``."""
    return constant_throughput(RATE) if RATE > 0 else constant(0)


def _bearer(role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {SEED['tokens'][role]}"}


def person() -> dict[str, Any]:
    """A new person with a unique name, so duplicate detection finds nothing."""
    return {
        "full_name": f"Load {uuid.uuid4().hex[:12]}",
        "phone": None,
        "sex": random.choice(["female", "male"]),
        "date_of_birth": f"{random.randint(1950, 2015)}-04-01",
        "marital_status": "married",
        "disability": "no",
        "displacement_status": "idp",
        "nationality": "IRQ",
        "site_id": random.choice(SEED["site_ids"]),
        "registration_channel": "outreach",
        "registration_date": "2026-01-10",
    }


def service_record(beneficiary_id: str, site_id: str | None = None) -> dict[str, Any]:
    day = date(2026, 2, 1) + timedelta(days=random.randint(0, 200))
    return {
        "beneficiary_id": beneficiary_id,
        "activity_code": random.choice(ACTIVITIES),
        "service_date": day.isoformat(),
        "site_id": site_id or random.choice(SEED["site_ids"]),
        "modality": "in_person",
        "staff_id": f"staff-{random.randint(1, 40)}",
        "duration_minutes": 45,
    }


def post(
    user: FastHttpUser,
    path: str,
    body: dict[str, Any],
    role: str,
    name: str,
    expected: int = 201,
) -> Any:
    """POST counted as a failure unless it answers ``expected``; the parsed
    body of a success, else None."""
    with user.client.post(
        path, json=body, headers=_bearer(role), name=name, catch_response=True
    ) as response:
        if response.status_code != expected:
            response.failure(f"HTTP {response.status_code}: {response.text[:300]}")
            return None
        return response.json()


class FieldStaffBase(FastHttpUser):
    """Case workers and outreach teams on the beneficiary service."""

    abstract = True
    host = SEED["urls"]["beneficiary"]
    wait_time = _pace()
    connection_timeout = 60.0
    network_timeout = 120.0

    def record_service(self) -> None:
        body = service_record(random.choice(SEED["people"]))
        post(self, "/v1/service-records", body, "case_worker", "POST service-record")

    def register(self) -> None:
        body = {**person(), "consents": CONSENTS}
        post(self, "/v1/beneficiaries", body, "case_worker", "POST beneficiary")

    def sync(self) -> None:
        people = max(1, BATCH_SIZE // (1 + RECORDS_PER_PERSON))
        ids = [str(uuid.uuid4()) for _ in range(people)]
        batch = {
            "device_id": f"load-{uuid.uuid4().hex[:8]}",
            "beneficiaries": [
                {"id": i, "data": person(), "consents": CONSENTS} for i in ids
            ],
            "service_records": [
                {"id": str(uuid.uuid4()), "data": service_record(ids[n % people])}
                for n in range(BATCH_SIZE - people)
            ],
        }
        answer = post(self, "/v1/sync", batch, "case_worker", "POST sync batch", 200)
        if answer is not None:
            SYNC_OUTCOMES.update(r["status"] for r in answer["results"])


class Trainer(FastHttpUser):
    """Trainers and supervisors recording supervision on the training service."""

    abstract = SCENARIO != "mix"
    weight = 1
    host = SEED["urls"]["training"]
    wait_time = _pace()

    @task
    def record_supervision(self) -> None:
        body = {
            "kind": "individual",
            "mode": random.choice(["in_person", "virtual", "phone"]),
            "held_on": "2026-03-02",
            "duration_minutes": 60,
            "supervisee_trainee_ids": [random.choice(SEED["trainee_ids"])],
            "cases_discussed": 2,
        }
        post(self, "/v1/supervision-sessions", body, "trainer", "POST supervision")


class Analyst(FastHttpUser):
    """M&E officers reading indicators, and now and then the overview."""

    abstract = SCENARIO != "mix"
    weight = 1
    host = SEED["urls"]["reporting"]
    wait_time = _pace()
    period = {"start": "2026-01-01", "end": "2026-12-31"}

    @task(10)
    def indicator(self) -> None:
        name, by = random.choice(
            [
                ("people_reached", "sex,iasc_layer"),
                ("services_delivered", "activity"),
                ("people_reached", "age_group"),
            ]
        )
        self.client.get(
            f"/v1/indicators/{name}/values",
            params={**self.period, "by": by},
            headers=_bearer("me_officer"),
            name="GET indicator values",
        )

    @task(1)
    def overview(self) -> None:
        self.client.get(
            "/v1/overview",
            params=self.period,
            headers=_bearer("me_officer"),
            name="GET overview",
        )


class FieldStaff(FieldStaffBase):
    """The field's day: mostly services to people already registered, some
    new registrations, and a device syncing now and then."""

    abstract = SCENARIO != "mix"
    weight = 8

    @task(60)
    def service(self) -> None:
        self.record_service()

    @task(10)
    def registration(self) -> None:
        self.register()

    @task(1)
    def batch(self) -> None:
        self.sync()


class SingleKind(FieldStaffBase):
    """The scenarios of one request kind only."""

    abstract = SCENARIO not in ("service-records", "registrations", "sync")

    @task
    def send(self) -> None:
        {
            "service-records": self.record_service,
            "registrations": self.register,
            "sync": self.sync,
        }[SCENARIO]()


def _reset_counts(**_: Any) -> None:
    """Counted from the same moment as locust's own statistics."""
    SYNC_OUTCOMES.clear()


def _write_counts(**_: Any) -> None:
    target = os.environ.get("LOAD_COUNTS")
    if target:
        Path(target).write_text(json.dumps(dict(SYNC_OUTCOMES)))


events.reset_stats.add_listener(_reset_counts)  # type: ignore[no-untyped-call]
events.test_stop.add_listener(_write_counts)  # type: ignore[no-untyped-call]
