"""Context on records, counted: services by topic and language, cases by
presenting problem (after an edit under If-Match) and nationality, and risk
alerts raised and acknowledged by risk type, counts only."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.auth import Role
from tests.beneficiary.api import count_rows, intake, make_beneficiary, record_service
from tests.callers import Caller
from tests.reporting.helpers import by_value, refused_query, values

YEAR = {"start": "2026-01-01", "end": "2026-12-31"}


def nonzero(body: dict[str, Any]) -> dict[Any, Any]:
    return {k: v for k, v in by_value(body).items() if v}


async def test_services_by_topic_and_language(
    alice: Caller,
    issue: Any,
    orgs: Any,
    reporting_client: httpx.AsyncClient,
    beneficiary_engine: AsyncEngine,
    catch_up: Any,
) -> None:
    """Four individual services (two on anger management in Arabic, one on
    suicide prevention in Sorani, one naming neither) and a parenting
    group of two in Arabic; one record's topic then corrected to sleep."""
    people = [(await make_beneficiary(alice))["id"] for _ in range(3)]
    first = await record_service(
        alice, people[0], topic_code="anger_management", language="ar"
    )
    assert (first["topic_code"], first["language"]) == ("anger_management", "ar")
    await record_service(alice, people[1], topic_code="anger_management", language="ar")
    await record_service(
        alice, people[2], topic_code="suicide_prevention", language="ckb"
    )
    await record_service(alice, people[2], service_date="2026-02-02")
    r = await alice.post(
        "/v1/group-activities",
        {
            "activity_code": "peer_support_group",
            "activity_date": "2026-02-03",
            "attendee_ids": people[:2],
            "topic_code": "parenting",
            "language": "ar",
        },
    )
    assert r.status_code == 201, r.text

    before = await count_rows(beneficiary_engine, "service_record")
    for wrong in ({"topic_code": "anger"}, {"language": "Arabic"}):
        r = await alice.post(
            "/v1/service-records",
            {
                "beneficiary_id": people[0],
                "activity_code": "individual_counselling",
                "service_date": "2026-02-01",
                **wrong,
            },
        )
        assert r.status_code == 422, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        assert list(wrong) == r.json()["errors"][0]["loc"][1:]
        if "topic_code" in wrong:  # the allowed list
            assert "anger_management" in r.text
            assert "stress_management" in r.text
    assert await count_rows(beneficiary_engine, "service_record") == before

    edited = await alice.patch(
        f"/v1/service-records/{first['id']}",
        {"topic_code": "sleep"},
        headers={"If-Match": f'"{first["version"]}"'},
    )
    assert edited.status_code == 200, edited.text
    assert (edited.json()["topic_code"], edited.json()["language"]) == ("sleep", "ar")

    await catch_up()
    reader = issue(orgs["a"], Role.me_officer)
    topics = await values(
        reporting_client, reader, "services_delivered", **YEAR, by="topic"
    )
    assert topics["total"]["value"] == 6
    assert nonzero(topics) == {
        "anger_management": 1,
        "sleep": 1,
        "suicide_prevention": 1,
        "parenting": 2,
        "unknown": 1,
    }
    languages = await values(
        reporting_client, reader, "services_delivered", **YEAR, by="language"
    )
    assert nonzero(languages) == {"ar": 4, "ckb": 1, "unknown": 1}
    both = await values(
        reporting_client, reader, "services_delivered", **YEAR,
        by="language", topic="parenting",
    )  # fmt: skip
    assert nonzero(both) == {"ar": 2}

    text = await refused_query(
        reporting_client, reader, "services_delivered", **YEAR, topic="parentng"
    )
    assert "parenting" in text
    assert "stress_management" in text


async def test_cases_by_presenting_problem_and_nationality(
    alice: Caller,
    issue: Any,
    orgs: Any,
    reporting_client: httpx.AsyncClient,
    catch_up: Any,
) -> None:
    """Three cases: [low_mood, grief] and [anxiety, sleep_problems, grief]
    of two Syrians, [grief] of an Iraqi; the third list then narrowed to
    [anxiety] under If-Match."""
    cases = []
    for nationality, listed in [
        ("SYR", ["low_mood", "grief"]),
        ("IRQ", ["grief"]),
        ("SYR", ["anxiety", "sleep_problems", "grief"]),
    ]:
        person = await make_beneficiary(alice, nationality=nationality)
        r = await alice.post(
            "/v1/cases", intake(person["id"], presenting_problems=listed)
        )
        assert r.status_code == 201, r.text
        cases.append(r.json())
    await catch_up()
    reader = issue(orgs["a"], Role.me_officer)

    async def problems() -> dict[Any, Any]:
        body = await values(
            reporting_client,
            reader,
            "cases_by_presenting_problem",
            **YEAR,
            by="presenting_problem",
        )
        return nonzero(body)

    assert await problems() == {
        "low_mood": 1,
        "grief": 3,
        "anxiety": 1,
        "sleep_problems": 1,
    }

    third = cases[2]
    path = f"/v1/cases/{third['id']}"
    narrowed = {"presenting_problems": ["anxiety"]}
    r = await alice.patch(path, narrowed)
    assert r.status_code == 428, r.text
    r = await alice.patch(path, {"presenting_problems": ["hexed"]}, headers=_at(1))
    assert r.status_code == 422, r.text
    assert "sleep_problems" in r.text  # the allowed list
    r = await alice.patch(path, narrowed, headers=_at(1))
    assert r.status_code == 200, r.text
    assert (r.json()["presenting_problems"], r.json()["version"]) == (["anxiety"], 2)
    assert r.headers["etag"] == '"2"'
    stale = await alice.patch(path, {"presenting_problems": ["grief"]}, headers=_at(1))
    assert stale.status_code == 409, stale.text
    assert stale.json()["current"]["presenting_problems"] == ["anxiety"]

    await catch_up()
    assert await problems() == {"low_mood": 1, "grief": 2, "anxiety": 1}
    opened = await values(
        reporting_client, reader, "cases_opened", **YEAR, by="nationality"
    )
    assert nonzero(opened) == {"SYR": 2, "IRQ": 1}
    text = await refused_query(
        reporting_client,
        reader,
        "cases_by_presenting_problem",
        **YEAR,
        presenting_problem="sadness",
    )
    assert "low_mood" in text


def _at(version: int) -> dict[str, str]:
    return {"If-Match": f'"{version}"'}


async def test_risk_alerts_by_type_raised_and_acknowledged(
    alice: Caller,
    issue: Any,
    orgs: Any,
    reporting_client: httpx.AsyncClient,
    catch_up: Any,
) -> None:
    """Four flags on three cases, one acknowledged; counts by risk type,
    and suppressed below the threshold when asked."""
    flags = [["suicide_risk"], ["child_protection"], ["child_protection"]]
    flags[2].append("violence_disclosed")
    raised: dict[str, list[str]] = {}
    for kinds in flags:
        person = await make_beneficiary(alice)
        r = await alice.post("/v1/cases", intake(person["id"]))
        assert r.status_code == 201, r.text
        for kind in kinds:
            flagged = await alice.post(
                f"/v1/cases/{r.json()['id']}/risk-flags", {"flag": kind}
            )
            assert flagged.status_code == 201, flagged.text
            raised.setdefault(kind, []).append(flagged.json()["id"])
    supervisor = issue(alice.org, Role.supervisor, subject="sam")
    ack = await supervisor.post(
        f"/v1/risk-alerts/{raised['child_protection'][0]}/acknowledge",
        {"action_taken": "Referred to the child-protection agency."},
    )
    assert ack.status_code == 200, ack.text
    await catch_up()
    reader = issue(orgs["a"], Role.me_officer)

    body = await values(
        reporting_client, reader, "risk_alerts_raised", **YEAR, by="risk_type"
    )
    assert body["total"]["value"] == 4
    assert nonzero(body) == {
        "suicide_risk": 1,
        "child_protection": 2,
        "violence_disclosed": 1,
    }
    body = await values(
        reporting_client, reader, "risk_alerts_acknowledged", **YEAR, by="risk_type"
    )
    assert body["total"]["value"] == 1
    assert nonzero(body) == {"child_protection": 1}

    hidden = await values(
        reporting_client, reader, "risk_alerts_raised", **YEAR,
        by="risk_type", suppress="true",
    )  # fmt: skip
    assert hidden["suppression_threshold"] == 5
    assert all(
        c["suppressed"] and c["value"] is None
        for c in hidden["cells"]
        if c["dims"]["risk_type"] in raised
    )
    assert hidden["total"]["value"] is None

    text = await refused_query(
        reporting_client, reader, "risk_alerts_raised", **YEAR, risk_type="suicide"
    )
    assert "suicide_risk" in text
    assert "child_protection" in text


async def test_flags_on_people_without_a_case_are_counted(
    alice: Caller,
    issue: Any,
    orgs: Any,
    site_ids: list[str],
    reporting_client: httpx.AsyncClient,
    catch_up: Any,
) -> None:
    """A flag on a registered person with no case counts in the risk facts
    like a case's: by risk type and site, raised and acknowledged."""
    person = await make_beneficiary(alice, site_id=site_ids[1])
    r = await alice.post("/v1/cases", intake(person["id"]))
    assert r.status_code == 201, r.text
    on_case = await alice.post(
        f"/v1/cases/{r.json()['id']}/risk-flags", {"flag": "harm_to_others"}
    )
    assert on_case.status_code == 201, on_case.text
    caseless = []
    for flag in ("harm_to_others", "violence_disclosed"):
        other = await make_beneficiary(alice, site_id=site_ids[0])
        flagged = await alice.post(
            f"/v1/beneficiaries/{other['id']}/risk-flags",
            {"flag": flag, "supervisor": "sam"},
        )
        assert flagged.status_code == 201, flagged.text
        caseless.append(flagged.json()["id"])
    supervisor = issue(alice.org, Role.supervisor, subject="sam")
    ack = await supervisor.post(
        f"/v1/risk-alerts/{caseless[1]}/acknowledge",
        {"action_taken": "Referred to the women's protection team."},
    )
    assert ack.status_code == 200, ack.text
    await catch_up()
    reader = issue(orgs["a"], Role.me_officer)
    raised = await values(
        reporting_client, reader, "risk_alerts_raised", **YEAR, by="risk_type,site"
    )
    assert raised["total"]["value"] == 3
    assert nonzero(raised) == {
        ("harm_to_others", site_ids[1]): 1,
        ("harm_to_others", site_ids[0]): 1,
        ("violence_disclosed", site_ids[0]): 1,
    }
    acknowledged = await values(
        reporting_client, reader, "risk_alerts_acknowledged", **YEAR, by="risk_type"
    )
    assert nonzero(acknowledged) == {"violence_disclosed": 1}


async def test_a_service_about_two_topics_counts_under_each_and_once_in_all(
    alice: Caller,
    issue: Any,
    orgs: Any,
    reporting_client: httpx.AsyncClient,
    beneficiary_engine: AsyncEngine,
    catch_up: Any,
) -> None:
    """topic_codes lists several topics; an old client's topic_code still
    works (alone it is a list of one; in an edit it replaces the first topic,
    keeping the others);
    services_by_topic counts a record once under each topic and once in the
    total, a record without a topic under unknown."""
    people = [(await make_beneficiary(alice))["id"] for _ in range(2)]
    two = await record_service(
        alice, people[0], topic_codes=["anger_management", "sleep"], language="ar"
    )
    assert (two["topic_codes"], two["topic_code"]) == (
        ["anger_management", "sleep"],
        "anger_management",
    )
    old = await record_service(alice, people[1], topic_code="anger_management")
    assert old["topic_codes"] == ["anger_management"]
    await record_service(alice, people[1], service_date="2026-02-02")
    shrunk = await record_service(
        alice, people[0], topic_codes=["sleep", "grief_and_loss"]
    )
    edited = await alice.patch(
        f"/v1/service-records/{shrunk['id']}",
        {"topic_code": "anger_management"},
        headers={"If-Match": '"1"'},
    )
    assert edited.status_code == 200, edited.text
    assert edited.json()["topic_codes"] == ["anger_management", "grief_and_loss"]
    widened = await alice.patch(
        f"/v1/service-records/{old['id']}",
        {"topic_codes": ["anger_management", "coping_skills"]},
        headers={"If-Match": '"1"'},
    )
    assert widened.status_code == 200, widened.text
    assert widened.json()["topic_code"] == "anger_management"
    group = await alice.post(
        "/v1/group-activities",
        {
            "activity_code": "peer_support_group",
            "activity_date": "2026-02-03",
            "attendee_ids": people,
            "topic_code": "parenting",
        },
    )
    assert group.status_code == 201, group.text

    before = await count_rows(beneficiary_engine, "service_record")
    base = {
        "beneficiary_id": people[0],
        "activity_code": "individual_counselling",
        "service_date": "2026-02-01",
    }
    refused: dict[str, dict[str, Any]] = {
        "unknown": {"topic_codes": ["sleep", "anger"]},
        "twice": {"topic_codes": ["sleep", "sleep"]},
        "too many": {"topic_codes": sorted(["sleep", "grief_and_loss", "self_care",
                                            "life_skills", "livelihoods", "other"])},
        "disagreeing": {"topic_code": "sleep", "topic_codes": ["anger_management"]},
    }  # fmt: skip
    for why, wrong in refused.items():
        r = await alice.post("/v1/service-records", {**base, **wrong})
        assert r.status_code == 422, (why, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
    r = await alice.post("/v1/service-records", {**base, **refused["unknown"]})
    assert r.json()["errors"][0]["loc"][1:] == ["topic_codes", 1]
    assert "anger_management" in r.text
    assert "stress_management" in r.text
    bad_edit = await alice.patch(
        f"/v1/service-records/{two['id']}",
        {"topic_codes": ["angry"]},
        headers={"If-Match": '"1"'},
    )
    assert bad_edit.status_code == 422, bad_edit.text
    assert await count_rows(beneficiary_engine, "service_record") == before

    await catch_up()
    reader = issue(orgs["a"], Role.me_officer)
    topics = await values(
        reporting_client, reader, "services_by_topic", **YEAR, by="topic"
    )
    assert nonzero(topics) == {
        "anger_management": 3,
        "sleep": 1,
        "coping_skills": 1,
        "grief_and_loss": 1,
        "parenting": 2,
        "unknown": 1,
    }
    assert topics["total"]["value"] == 6  # each record once
    delivered = await values(reporting_client, reader, "services_delivered", **YEAR)
    assert delivered["total"]["value"] == 6
    arabic = await values(
        reporting_client, reader, "services_by_topic", **YEAR,
        by="topic", language="ar",
    )  # fmt: skip
    assert nonzero(arabic) == {"anger_management": 1, "sleep": 1}
    assert arabic["total"]["value"] == 1
    text = await refused_query(
        reporting_client, reader, "services_by_topic", **YEAR, topic="slep"
    )
    assert "sleep" in text
