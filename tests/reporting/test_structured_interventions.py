"""Structured interventions in reporting: enrolments, protocol sessions
attended, people completing and drop-outs, by intervention, recorded
through the beneficiary API."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import httpx

from shared.auth import Role
from tests.beneficiary.api import enrol, make_beneficiary, open_case, phq9
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


async def test_group_ipt_problem_areas_and_change_among_completers(
    alice: Caller,
    issue: Any,
    orgs: Any,
    reporting_client: httpx.AsyncClient,
    catch_up: Any,
) -> None:
    """Three Group IPT clients, one problem area each: two complete (7 of
    9 sessions), one drops out after 2. PHQ-9 change among completers is
    follow-up less baseline: -10 (grief) and -3 (role disputes)."""
    clients = {}
    for area, before, after in [
        ("grief", phq9(3, 3, 2, 2, 2, 2, 2, 2, 0), phq9(1, 1, 1, 1, 1, 1, 1, 1, 0)),
        ("role_disputes", phq9(2, 2, 2, 2, 2, 2, 2, 1, 0),
         phq9(2, 2, 2, 2, 1, 1, 1, 1, 0)),
        ("interpersonal_deficits", phq9(3, 3, 3, 3, 2, 2, 2, 2, 0),
         phq9(3, 3, 3, 2, 2, 2, 2, 2, 0)),
    ]:  # fmt: skip
        case = await open_case(alice)
        for timepoint, on, responses in [
            ("baseline", "2026-01-20", before),
            ("follow_up", "2026-03-25", after),
        ]:
            await _ok(
                await alice.post(
                    f"/v1/cases/{case['id']}/assessments",
                    {
                        "instrument": "phq9",
                        "timepoint": timepoint,
                        "administered_on": on,
                        "responses": responses,
                    },
                )
            )
        enrolment = await _ok(
            await alice.post(
                "/v1/enrolments",
                {
                    "beneficiary_id": case["beneficiary_id"],
                    "case_id": case["id"],
                    "intervention": "ipt_group",
                    "enrolled_on": "2026-02-01",
                    "problem_area": area,
                },
            )
        )
        assert enrolment["problem_area"] == area
        await _ok(
            await alice.post(
                f"/v1/enrolments/{enrolment['id']}/sessions",
                {"session_number": 0, "attended_on": "2026-02-02"},
            )
        )
        clients[area] = (case["beneficiary_id"], enrolment["id"])
    r = await alice.post(
        "/v1/enrolments",
        {
            "beneficiary_id": clients["grief"][0],
            "intervention": "pm_plus",
            "enrolled_on": "2026-02-01",
            "problem_area": "griefs",
        },
    )
    assert r.status_code == 422, r.text

    # group sessions 1-6, weekly; the third client only at the first
    for number in range(1, 7):
        present = [a for a in clients if number == 1 or a != "interpersonal_deficits"]
        group = await _ok(
            await alice.post(
                "/v1/group-activities",
                {
                    "activity_code": "ipt_group_session",
                    "activity_date": str(date(2026, 2, 2) + timedelta(weeks=number)),
                    "attendee_ids": [clients[a][0] for a in present],
                },
            )
        )
        for area in present:
            await _ok(
                await alice.post(
                    f"/v1/enrolments/{clients[area][1]}/sessions",
                    {"session_number": number, "group_activity_id": group["id"]},
                )
            )
    for area, end in [("grief", "finish"), ("role_disputes", "finish"),
                      ("interpersonal_deficits", "drop-out")]:  # fmt: skip
        done = await _ok(
            await alice.post(
                f"/v1/enrolments/{clients[area][1]}/{end}", {"on": "2026-03-20"}
            )
        )
        assert done["completed"] is (end == "finish")
    await catch_up()
    reader = issue(orgs["a"], Role.me_officer)

    async def table(indicator: str, by: str) -> dict[Any, Any]:
        body = await values(reporting_client, reader, indicator, **YEAR, by=by)
        return {"total": body["total"]["value"], **by_value(body)}

    assert await table("structured_enrolments", "problem_area") == {
        "total": 3,
        "grief": 1,
        "role_disputes": 1,
        "interpersonal_deficits": 1,
    }
    assert await table("structured_completions", "problem_area") == {
        "total": 2,
        "grief": 1,
        "role_disputes": 1,
    }
    assert await table("structured_dropouts", "problem_area") == {
        "total": 1,
        "interpersonal_deficits": 1,
    }
    change = await values(
        reporting_client, reader, "completer_phq9_change", **YEAR, by="problem_area"
    )
    assert by_value(change) == {"grief": -10.0, "role_disputes": -3.0}
    total = change["total"]
    assert (total["value"], total["numerator"], total["denominator"]) == (
        -6.5,
        -13.0,
        2.0,
    )
    # a period ending before the follow-ups: no change to report
    early = await values(
        reporting_client, reader, "completer_phq9_change",
        start="2026-03-01", end="2026-03-24",
    )  # fmt: skip
    assert early["total"]["denominator"] in (0, 0.0, None)

    r = await reporting_client.get(
        "/v1/indicators/structured_completions/values",
        params={**YEAR, "problem_area": "grie"},
        headers=reader.headers(),
    )
    assert r.status_code == 422, r.text
    assert "role_transitions" in r.text  # the allowed values are listed
