"""Satisfaction forms: anonymous responses recorded through the APIs after a
group session, a service or a training session, counted by reporting as
responses, mean ratings and shares satisfied per question; answers that do
not fit their form write nothing."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.auth import Role
from tests.beneficiary.api import (
    count_rows,
    make_beneficiary,
    record_service,
    withdraw_registration,
)
from tests.callers import Caller
from tests.reporting.helpers import by_value, values

YEAR = {"start": "2026-01-01", "end": "2026-12-31"}
FORM = "participant_satisfaction@1.0"


async def _respond(caller: Caller, **body: Any) -> dict[str, Any]:
    r = await caller.post("/v1/feedback-responses", {"form": FORM, **body})
    assert r.status_code == 201, r.text
    found: dict[str, Any] = r.json()
    return found


async def _session(caller: Caller, site: str) -> str:
    person = (await make_beneficiary(caller, site_id=site))["id"]
    r = await caller.post(
        "/v1/group-activities",
        {
            "activity_code": "peer_support_group",
            "activity_date": "2026-03-05",
            "site_id": site,
            "attendee_ids": [person],
        },
    )
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def test_participants_answers_become_counts_means_and_shares(
    alice: Caller,
    bob: Caller,
    issue: Any,
    orgs: Any,
    site_ids: list[str],
    reporting_client: httpx.AsyncClient,
    catch_up: Any,
) -> None:
    group = await _session(alice, site_ids[0])
    for answers in (
        {"overall_satisfied": 5, "felt_respected": 4, "felt_safe": True},
        {"overall_satisfied": 3, "felt_respected": 5, "felt_safe": False},
        {"overall_satisfied": 4, "would_recommend": True},
    ):
        await _respond(alice, group_activity_id=group, answers=answers)
    person = (await make_beneficiary(alice, site_id=site_ids[1]))["id"]
    service = await record_service(
        alice, person, service_date="2026-04-02", site_id=site_ids[1]
    )
    await _respond(
        alice,
        service_record_id=service["id"],
        answers={"overall_satisfied": 2, "found_useful": 1},
    )
    await _respond(
        bob,
        group_activity_id=await _session(bob, site_ids[0]),
        answers={"overall_satisfied": 1},
    )
    await catch_up()

    reader = issue(orgs["a"], Role.me_officer)
    responses = await values(
        reporting_client, reader, "feedback_responses", **YEAR, by="month"
    )
    assert by_value(responses) == {"2026-03": 3, "2026-04": 1}
    assert responses["total"]["value"] == 4
    by_activity = await values(
        reporting_client, reader, "feedback_responses", **YEAR, by="activity"
    )
    assert by_value(by_activity) == {
        "peer_support_group": 3,
        "individual_counselling": 1,
    }
    asked = await values(
        reporting_client, reader, "feedback_responses", **YEAR, by="question"
    )
    assert by_value(asked) == {
        "overall_satisfied": 4,
        "felt_respected": 2,
        "felt_safe": 2,
        "would_recommend": 1,
        "found_useful": 1,
    }
    means = await values(
        reporting_client, reader, "feedback_mean_rating", **YEAR, by="question"
    )
    assert by_value(means) == {
        "overall_satisfied": 3.5,
        "felt_respected": 4.5,
        "found_useful": 1.0,
    }
    assert means["total"]["numerator"] == 24
    assert means["total"]["denominator"] == 7
    shares = await values(
        reporting_client, reader, "feedback_satisfied_share", **YEAR, by="question"
    )
    assert by_value(shares) == {
        "overall_satisfied": 50.0,
        "felt_respected": 100.0,
        "felt_safe": 50.0,
        "would_recommend": 100.0,
        "found_useful": 0.0,
    }
    assert (shares["total"]["numerator"], shares["total"]["denominator"]) == (6, 10)
    at_site = await values(
        reporting_client,
        reader,
        "feedback_satisfied_share",
        **YEAR,
        site=site_ids[1],
        form="participant_satisfaction",
    )
    assert at_site["total"]["value"] == 0.0
    strict = await reporting_client.get(
        "/v1/indicators/feedback_responses/values",
        params={**YEAR, "question": "overall"},
        headers=reader.headers(),
    )
    assert strict.status_code == 422, strict.text


async def test_answers_that_do_not_fit_the_form_write_nothing(
    alice: Caller, bob: Caller, site_ids: list[str], beneficiary_engine: AsyncEngine
) -> None:
    group = await _session(alice, site_ids[0])
    bobs = await _session(bob, site_ids[0])
    events = await count_rows(beneficiary_engine, "outbox_event")
    good: dict[str, Any] = {
        "group_activity_id": group,
        "answers": {"overall_satisfied": 4},
    }
    refused: dict[str, dict[str, Any]] = {
        "a trainee form": {**good, "form": "trainee_satisfaction@1.0"},
        "unknown form": {**good, "form": "exit_survey@1.0"},
        "off the scale": {**good, "answers": {"overall_satisfied": 6}},
        "yes as a number": {**good, "answers": {"felt_safe": 1}},
        "a number as yes": {**good, "answers": {"overall_satisfied": True}},
        "free text": {**good, "answers": {"comment": "the facilitator was late"}},
        "no answers": {**good, "answers": {}},
        "no record": {"answers": {"overall_satisfied": 4}},
        "a person": {**good, "beneficiary_id": group},
    }
    for why, body in refused.items():
        r = await alice.post("/v1/feedback-responses", {"form": FORM, **body})
        assert r.status_code == 422, (why, r.text)
        assert r.headers["content-type"] == "application/problem+json", why
    foreign = await alice.post(
        "/v1/feedback-responses",
        {"form": FORM, "group_activity_id": bobs, "answers": {"felt_safe": True}},
    )
    assert foreign.status_code == 404, foreign.text
    assert await count_rows(beneficiary_engine, "feedback_response") == 0
    assert await count_rows(beneficiary_engine, "outbox_event") == events
    key = {"Idempotency-Key": "feedback-1"}
    body = {"form": FORM, **good}
    first = await alice.post("/v1/feedback-responses", body, headers=key)
    again = await alice.post("/v1/feedback-responses", body, headers=key)
    assert (first.status_code, again.status_code) == (201, 201)
    assert first.json() == again.json()
    assert await count_rows(beneficiary_engine, "feedback_response") == 1
    read = await alice.get(f"/v1/feedback-responses/{first.json()['id']}")
    assert read.json()["answers"] == {"overall_satisfied": 4}


async def test_trainees_answers_are_counted_by_course(
    issue: Any,
    orgs: Any,
    alice: Caller,
    site_ids: list[str],
    training_client: httpx.AsyncClient,
    reporting_client: httpx.AsyncClient,
    catch_up: Any,
) -> None:
    trainer = replace(issue(orgs["a"], Role.trainer), client=training_client)

    async def made(path: str, body: dict[str, Any]) -> dict[str, Any]:
        r = await trainer.post(path, body)
        assert r.status_code == 201, r.text
        found: dict[str, Any] = r.json()
        return found

    course = await made(
        "/v1/courses",
        {
            "title": "PFA and suicide prevention",
            "approach": "pfa",
            "level": "foundational",
            "planned_hours": 10,
        },
    )
    cohort = await made(
        "/v1/cohorts",
        {
            "course_id": course["id"],
            "title": "Duhok, March",
            "starts_on": "2026-03-01",
            "ends_on": "2026-03-10",
            "modality": "in_person",
            "site_id": site_ids[0],
        },
    )
    for number in (1, 2):
        await made(
            f"/v1/cohorts/{cohort['id']}/sessions",
            {"number": number, "held_on": f"2026-03-0{number}", "hours": 5},
        )
    form = "trainee_satisfaction@1.0"
    # A participant's response whose id a trainee's response takes too (each
    # service checks its own ids): reporting keeps both, apart by form.
    participants = await _respond(
        alice,
        group_activity_id=await _session(alice, site_ids[0]),
        answers={"overall_satisfied": 1, "would_recommend": False},
    )
    shared_id = participants["id"]
    for session, answers in (
        (1, {"overall_satisfied": 5, "content_relevant": 4, "would_recommend": True}),
        (2, {"overall_satisfied": 4}),
        (None, {"overall_satisfied": 2, "would_recommend": False}),
    ):
        await made(
            "/v1/feedback-responses",
            {
                "form": form,
                "cohort_id": cohort["id"],
                "session_number": session,
                "answers": answers,
                **({"id": shared_id} if session == 1 else {}),
            },
        )
    wrong: dict[str, dict[str, Any]] = {
        "a participant form": {"form": FORM, "answers": {"overall_satisfied": 4}},
        "no such session": {
            "form": form,
            "session_number": 9,
            "answers": {"overall_satisfied": 4},
        },
    }
    for why, body in wrong.items():
        r = await trainer.post(
            "/v1/feedback-responses", {"cohort_id": cohort["id"], **body}
        )
        assert r.status_code == 422, (why, r.text)
    await catch_up()

    reader = issue(orgs["a"], Role.me_officer)
    responses = await values(
        reporting_client, reader, "feedback_responses", **YEAR, by="course,site"
    )
    assert by_value(responses) == {
        (course["id"], site_ids[0]): 3,
        ("unknown", site_ids[0]): 1,  # the participant's: no course
    }
    by_form = await values(
        reporting_client, reader, "feedback_responses", **YEAR, by="form"
    )
    assert by_value(by_form) == {
        "participant_satisfaction": 1,
        "trainee_satisfaction": 3,
    }
    overall = await values(
        reporting_client,
        reader,
        "feedback_mean_rating",
        **YEAR,
        form="trainee_satisfaction",
        question="overall_satisfied",
    )
    assert (overall["total"]["numerator"], overall["total"]["denominator"]) == (11, 3)
    shares = await values(
        reporting_client,
        reader,
        "feedback_satisfied_share",
        **YEAR,
        course=course["id"],
        by="question",
    )
    assert by_value(shares) == {
        "overall_satisfied": pytest.approx(200 / 3),
        "content_relevant": 100.0,
        "would_recommend": 50.0,
    }


async def test_erasure_removes_the_answers_linked_to_the_persons_services(
    alice: Caller,
    issue: Any,
    orgs: Any,
    site_ids: list[str],
    reporting_client: httpx.AsyncClient,
    catch_up: Any,
) -> None:
    """An answer given after a person's service is linked to that person:
    their erasure deletes it here, while the figures (which never held the
    link) keep counting it, and answers after group sessions stay."""
    person = (await make_beneficiary(alice))["id"]
    service = await record_service(alice, person, service_date="2026-04-02")
    linked = await _respond(
        alice, service_record_id=service["id"], answers={"overall_satisfied": 2}
    )
    group = await _respond(
        alice,
        group_activity_id=await _session(alice, site_ids[0]),
        answers={"overall_satisfied": 4},
    )
    await catch_up()
    erased = await withdraw_registration(issue, orgs["a"], person)
    assert erased.status_code in (200, 201), erased.text
    assert (
        await alice.get(f"/v1/feedback-responses/{linked['id']}")
    ).status_code == 404
    assert (await alice.get(f"/v1/feedback-responses/{group['id']}")).status_code == 200
    await catch_up()
    reader = issue(orgs["a"], Role.me_officer)
    responses = await values(reporting_client, reader, "feedback_responses", **YEAR)
    assert responses["total"]["value"] == 2
