"""Structured interventions in reporting: enrolments, protocol sessions
attended, people completing and drop-outs, by intervention, recorded
through the beneficiary API."""

from __future__ import annotations

from typing import Any

import httpx

from shared.auth import Role
from tests.beneficiary.api import enrol, make_beneficiary
from tests.callers import Caller
from tests.reporting.helpers import by_value, values

YEAR = {"start": "2026-01-01", "end": "2026-12-31"}


async def _ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code in (200, 201), response.text
    found: dict[str, Any] = response.json()
    return found


async def test_enrolments_sessions_completion_and_drop_out(
    alice: Caller,
    issue: Any,
    orgs: Any,
    reporting_client: httpx.AsyncClient,
    catch_up: Any,
) -> None:
    """PM+ completed by one woman (4 of 5 sessions, finished in March),
    dropped by one man after 2; a woman in Group IPT at her pre-group
    session and one group session."""
    finisher = await make_beneficiary(alice, sex="female")
    leaver = await make_beneficiary(alice, sex="male")
    grouped = await make_beneficiary(alice, sex="female")

    done = await enrol(alice, finisher, "pm_plus")
    for number, day in enumerate(["2026-02-02", "2026-02-09", "2026-02-16"], 1):
        await _ok(
            await alice.post(
                f"/v1/enrolments/{done['id']}/sessions",
                {"session_number": number, "attended_on": day},
            )
        )
    last = await _ok(
        await alice.post(
            f"/v1/enrolments/{done['id']}/sessions",
            {"session_number": 5, "attended_on": "2026-02-23"},
        )
    )
    assert last["completed"] is True
    await _ok(
        await alice.post(f"/v1/enrolments/{done['id']}/finish", {"on": "2026-03-05"})
    )

    left = await enrol(alice, leaver, "pm_plus")
    for number, day in [(1, "2026-02-03"), (2, "2026-02-10")]:
        await _ok(
            await alice.post(
                f"/v1/enrolments/{left['id']}/sessions",
                {"session_number": number, "attended_on": day},
            )
        )
    await _ok(
        await alice.post(f"/v1/enrolments/{left['id']}/drop-out", {"on": "2026-03-10"})
    )

    ipt = await enrol(alice, grouped, "ipt_group")
    path = f"/v1/enrolments/{ipt['id']}/sessions"
    await _ok(
        await alice.post(path, {"session_number": 0, "attended_on": "2026-02-04"})
    )
    group = await _ok(
        await alice.post(
            "/v1/group-activities",
            {
                "activity_code": "ipt_group_session",
                "activity_date": "2026-02-11",
                "attendee_ids": [grouped["id"]],
            },
        )
    )
    await _ok(
        await alice.post(path, {"session_number": 1, "group_activity_id": group["id"]})
    )
    await catch_up()
    reader = issue(orgs["a"], Role.me_officer)

    enrolments = await values(
        reporting_client,
        reader,
        "structured_enrolments",
        **YEAR,
        by="intervention,status",
    )
    assert by_value(enrolments) == {
        ("pm_plus", "finished"): 1,
        ("pm_plus", "dropped_out"): 1,
        ("ipt_group", "enrolled"): 1,
    }
    sessions = await values(
        reporting_client,
        reader,
        "structured_sessions_attended",
        **YEAR,
        by="intervention,sex",
    )
    assert by_value(sessions) == {
        ("pm_plus", "female"): 4,
        ("pm_plus", "male"): 2,
        ("ipt_group", "female"): 2,
    }
    february = await values(
        reporting_client,
        reader,
        "structured_sessions_attended",
        start="2026-02-01",
        end="2026-02-09",
    )
    assert february["total"]["value"] == 4  # 2, 3, 4 and 9 February

    completed = await values(
        reporting_client, reader, "structured_completions", **YEAR, by="month"
    )
    assert by_value(completed) == {"2026-03": 1}  # at the finish, not before
    by_intervention = await values(
        reporting_client, reader, "structured_completions", **YEAR, by="intervention"
    )
    assert by_value(by_intervention) == {"pm_plus": 1}
    before = await values(
        reporting_client,
        reader,
        "structured_completions",
        start="2026-02-01",
        end="2026-02-28",
    )
    assert before["total"]["value"] == 0
    dropped = await values(
        reporting_client, reader, "structured_dropouts", **YEAR, by="intervention"
    )
    assert by_value(dropped) == {"pm_plus": 1}

    # a session's service record voided: 3 of 5 sessions no longer complete
    records = await _ok(
        await alice.get(
            "/v1/service-records", params={"beneficiary_id": finisher["id"]}
        )
    )
    fifth = next(x for x in records["items"] if x["service_date"] == "2026-02-23")
    await _ok(
        await alice.post(
            f"/v1/service-records/{fifth['id']}/void", {"reason": "wrong person"}
        )
    )
    await catch_up()
    sessions = await values(
        reporting_client, reader, "structured_sessions_attended", **YEAR
    )
    assert sessions["total"]["value"] == 7
    completed = await values(reporting_client, reader, "structured_completions", **YEAR)
    assert completed["total"]["value"] == 0

    r = await reporting_client.get(
        "/v1/indicators/structured_enrolments/values",
        params={**YEAR, "intervention": "pm_pluss"},
        headers=reader.headers(),
    )
    assert r.status_code == 422, r.text
