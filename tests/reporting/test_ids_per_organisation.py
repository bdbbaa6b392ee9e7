"""Two organisations may hold the same beneficiary-service ids (decision
0006): reporting keeps their facts apart, each organisation's figures count
its own person and service, and erasing one person erases no one else."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import text

from shared.auth import Role
from tests.beneficiary.api import (
    assess,
    intake,
    make_beneficiary,
    phq9,
    record_service,
    withdraw_registration,
)
from tests.callers import Caller
from tests.reporting.helpers import by_value, values


async def _facts(reporting_app: FastAPI, table: str) -> int:
    async with reporting_app.state.engine.connect() as connection:
        found = await connection.execute(
            text(f"SELECT count(*) FROM {table} WHERE NOT erased")
            if table == "beneficiary_fact"
            else text(f"SELECT count(*) FROM {table} WHERE alive")
        )
        return int(found.scalar_one())


async def test_the_same_ids_in_two_organisations_are_two_people_and_two_services(
    alice: Caller,
    bob: Caller,
    issue: Any,
    orgs: Any,
    reporting_app: FastAPI,
    reporting_client: httpx.AsyncClient,
    catch_up: Any,
) -> None:
    person_id, record_id = str(uuid.uuid4()), str(uuid.uuid4())
    for caller, sex in ((alice, "female"), (bob, "male")):
        await make_beneficiary(caller, id=person_id, sex=sex)
        await record_service(caller, person_id, id=record_id)
    await catch_up()

    assert await _facts(reporting_app, "beneficiary_fact") == 2
    assert await _facts(reporting_app, "service_fact") == 2
    readers = {
        "a": issue(orgs["a"], Role.me_officer),
        "b": issue(orgs["b"], Role.me_officer),
    }
    seen = {}
    for org, reader in readers.items():
        people = await values(reporting_client, reader, "people_reached", by="sex")
        services = await values(reporting_client, reader, "services_delivered")
        seen[org] = (by_value(people), services["total"]["value"])
    assert seen == {"a": ({"female": 1}, 1), "b": ({"male": 1}, 1)}

    assert (await withdraw_registration(issue, orgs["a"], person_id)).status_code == 201
    await catch_up()
    await record_service(bob, person_id, service_date="2026-02-02")
    await catch_up()  # a later event about B's person: still B's person
    people = await values(reporting_client, readers["b"], "people_reached", by="sex")
    services = await values(reporting_client, readers["b"], "services_delivered")
    assert (by_value(people), services["total"]["value"]) == ({"male": 1}, 2)
    assert await _facts(reporting_app, "beneficiary_fact") == 1


async def test_a_lead_sees_its_partners_case_apart_from_its_own_under_one_id(
    alice: Caller,
    issue: Any,
    orgs: Any,
    reporting_client: httpx.AsyncClient,
    catch_up: Any,
) -> None:
    """Improvement pairs a case's baseline with its follow-up by case: a
    partner's case under the lead's case id is another case."""
    case_id = str(uuid.uuid4())
    partner = issue(orgs["partner"], Role.case_worker)
    for caller, follow_up in (
        (alice, phq9(1, 1, 1, 1, 1, 1, 1, 1, 0)),
        (partner, None),
    ):
        person = await make_beneficiary(caller)
        r = await caller.post("/v1/cases", intake(person["id"], id=case_id))
        assert r.status_code == 201, r.text
        baseline = phq9(3, 3, 2, 2, 2, 2, 2, 1, 0)
        answers = [("baseline", "2026-01-15", baseline)]
        answers.append(("follow_up", "2026-02-20", follow_up or baseline))
        for timepoint, day, responses in answers:
            r = await assess(
                caller, case_id, "phq9", responses, timepoint=timepoint, on=day
            )
            assert r.status_code == 201, r.text
    await catch_up()
    lead = issue(orgs["a"], Role.me_officer)
    body = await values(reporting_client, lead, "reliable_improvement_phq9_srq20")
    assert body["total"]["value"] == 50.0
