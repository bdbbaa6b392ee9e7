"""The programme overview (JSON and printable document) shows what issue 14
added: materials distributed by item and language, participants' and
trainees' feedback, and clients reached through supervised practice; in
English, Arabic and Kurdish, words instead of codes, small cells
suppressed like every other table."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

import httpx

from shared.auth import Role
from shared.i18n import catalogue
from tests.beneficiary.api import make_beneficiary
from tests.callers import Caller

YEAR = {"start": "2026-01-01", "end": "2026-12-31"}
NEW_TABLES = [
    ("capacity", "practice_clients_reached", []),
    ("materials", "materials_distributed", ["item", "language"]),
    ("feedback", "feedback_responses", ["form"]),
    ("feedback", "feedback_satisfied_share", ["form", "question"]),
    ("feedback", "feedback_mean_rating", ["form", "question"]),
]
CODES = (
    "school_bag",
    "leaflet",
    "kmr",
    "participant_satisfaction",
    "trainee_satisfaction",
    "overall_satisfied",
    "felt_safe",
    "unknown",
)


async def _ok(caller: Caller, path: str, body: dict[str, Any]) -> dict[str, Any]:
    r = await caller.post(path, body)
    assert r.status_code == 201, r.text
    found: dict[str, Any] = r.json()
    return found


async def _record(alice: Caller, trainer: Caller, site: str) -> None:
    """A peer-support session with 200 school bags and leaflets in three
    languages, three participants' answers, and two trainees' answers."""
    person = (await make_beneficiary(alice, site_id=site))["id"]
    group = await _ok(
        alice,
        "/v1/group-activities",
        {
            "activity_code": "peer_support_group",
            "activity_date": "2026-03-05",
            "site_id": site,
            "attendee_ids": [person],
        },
    )
    lines: list[dict[str, Any]] = [{"item_code": "school_bag", "quantity": 200}]
    lines += [
        {"item_code": "leaflet", "quantity": quantity, "language": language}
        for language, quantity in (("ar", 40), ("ckb", 30), ("kmr", 20))
    ]
    for line in lines:
        await _ok(
            alice,
            "/v1/material-distributions",
            {"group_activity_id": group["id"], **line},
        )
    for answers in (
        {"overall_satisfied": 5, "felt_safe": True},
        {"overall_satisfied": 4, "felt_safe": True},
        {"overall_satisfied": 3, "felt_safe": False},
    ):
        await _ok(
            alice,
            "/v1/feedback-responses",
            {
                "form": "participant_satisfaction@1.0",
                "group_activity_id": group["id"],
                "answers": answers,
            },
        )
    course = await _ok(
        trainer,
        "/v1/courses",
        {
            "title": "PFA",
            "approach": "pfa",
            "level": "foundational",
            "planned_hours": 5,
        },
    )
    cohort = await _ok(
        trainer,
        "/v1/cohorts",
        {
            "course_id": course["id"],
            "title": "Duhok, March",
            "starts_on": "2026-03-01",
            "ends_on": "2026-03-10",
            "modality": "in_person",
            "site_id": site,
        },
    )
    await _ok(
        trainer,
        f"/v1/cohorts/{cohort['id']}/sessions",
        {"number": 1, "held_on": "2026-03-02", "hours": 5},
    )
    for answers in ({"overall_satisfied": 5}, {"overall_satisfied": 2}):
        await _ok(
            trainer,
            "/v1/feedback-responses",
            {
                "form": "trainee_satisfaction@1.0",
                "cohort_id": cohort["id"],
                "session_number": 1,
                "answers": answers,
            },
        )


def _table(overview: dict[str, Any], indicator: str, by: list[str]) -> Any:
    return next(
        t
        for t in overview["tables"]
        if t["values"]["indicator"] == indicator
        and t["values"]["disaggregations"] == by
    )


def _cells(table: dict[str, Any]) -> dict[tuple[str, ...], Any]:
    values = table["values"]
    return {
        tuple(c["dims"][d] for d in values["disaggregations"]): (
            "suppressed" if c["suppressed"] else c["value"]
        )
        for c in values["cells"]
    }


def _body_text(page: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page.split("<body>")[1]))


async def test_the_overview_shows_materials_feedback_and_practice_clients(
    alice: Caller,
    issue: Any,
    orgs: Any,
    site_ids: list[str],
    training_client: httpx.AsyncClient,
    reporting_client: httpx.AsyncClient,
    catch_up: Any,
) -> None:
    trainer = replace(issue(orgs["a"], Role.trainer), client=training_client)
    await _record(alice, trainer, site_ids[0])
    await catch_up()
    me = issue(orgs["a"], Role.me_officer)

    r = await reporting_client.get("/v1/overview", params=YEAR, headers=me.headers())
    assert r.status_code == 200, r.text
    overview = r.json()
    for section, indicator, by in NEW_TABLES:
        assert _table(overview, indicator, by)["section"] == section
    materials = _table(overview, "materials_distributed", ["item", "language"])
    assert materials["title"] == "Materials distributed by item and language"
    assert _cells(materials) == {
        ("school_bag", "unknown"): 200,
        ("leaflet", "ar"): 40,
        ("leaflet", "ckb"): 30,
        ("leaflet", "kmr"): 20,
    }
    assert materials["values"]["total"]["value"] == 290
    assert materials["shares"]["leaflet|ar"] == 13.8  # 40 / 290
    assert materials["values"]["labels"]["language"] == {
        "ar": "Arabic",
        "ckb": "Sorani Kurdish",
        "kmr": "Kurmanji Kurdish (Badini)",
        "unknown": "No language given",  # a school bag's
    }
    responses = _table(overview, "feedback_responses", ["form"])
    assert _cells(responses) == {
        ("participant_satisfaction",): 3,
        ("trainee_satisfaction",): 2,
    }
    satisfied = _table(overview, "feedback_satisfied_share", ["form", "question"])
    assert _cells(satisfied) == {
        ("participant_satisfaction", "overall_satisfied"): 66.6667,
        ("participant_satisfaction", "felt_safe"): 66.6667,
        ("trainee_satisfaction", "overall_satisfied"): 50.0,
    }
    assert satisfied["shares"] == {}, "a share of a percentage means nothing"
    rating = _table(overview, "feedback_mean_rating", ["form", "question"])
    assert _cells(rating) == {
        ("participant_satisfaction", "overall_satisfied"): 4.0,
        ("trainee_satisfaction", "overall_satisfied"): 3.5,
    }
    assert rating["values"]["labels"]["question"]["overall_satisfied"] == (
        "Overall satisfaction"
    )
    practice = _table(overview, "practice_clients_reached", [])
    assert practice["title"] == "Clients reached through supervised practice sessions"
    assert practice["values"]["total"]["value"] == 0

    for _, indicator, by in NEW_TABLES:  # the dashboard's download buttons
        params: list[tuple[str, str | int | float | bool | None]] = [
            ("since", "0"),
            ("format", "xlsx"),
            ("lang", "ar"),
            *(("by", d) for d in by),
        ]
        feed = await reporting_client.get(
            f"/v1/feeds/{indicator}", params=params, headers=me.headers()
        )
        assert feed.status_code == 200, (indicator, feed.text)
        assert feed.content.startswith(b"PK"), indicator

    english = await reporting_client.get(
        "/v1/overview/document", params=YEAR, headers=me.headers()
    )
    page = re.sub(r">\s+<", "><", english.text)
    assert "<h2>Materials distributed</h2>" in page
    assert "<h2>Feedback and satisfaction</h2>" in page
    assert "<tr><td>Leaflet, Kurmanji Kurdish (Badini)</td><td>20</td>" in page
    assert "<tr><td>School bag, No language given</td><td>200</td>" in page
    assert (
        "<tr><td>Participant satisfaction, Felt safe taking part</td>"
        "<td>66.7</td><td></td></tr>"
    ) in page
    assert "<tr><td>Trainee feedback</td><td>2</td><td>40 %</td></tr>" in page

    for lang in ("ar", "ckb"):
        words = catalogue(lang)
        document = await reporting_client.get(
            "/v1/overview/document",
            params={**YEAR, "lang": lang},
            headers=me.headers(),
        )
        assert document.headers["content-language"] == lang
        assert f'<html lang="{lang}" dir="rtl">' in document.text
        text = _body_text(document.text)
        for key in (
            "section.materials",
            "section.feedback",
            "table.materials_distributed.item.language",
            "table.feedback_responses.form",
            "table.feedback_satisfied_share.form.question",
            "table.feedback_mean_rating.form.question",
            "table.practice_clients_reached",
            "item.school_bag",
            "item.leaflet",
            "language.ar",
            "language.ckb",
            "language.kmr",
            "language.unknown",
            "form.participant_satisfaction",
            "form.trainee_satisfaction",
            "question.overall_satisfied",
            "question.felt_safe",
            "definition.materials_distributed",
        ):
            assert str(words[key]) in text, (lang, key)
        for code in CODES:
            assert code not in text, (lang, code)
        assert "٢٠٠" in text, "200 school bags, in Arabic-Indic digits"


async def test_small_feedback_and_material_cells_are_suppressed(
    alice: Caller,
    issue: Any,
    orgs: Any,
    site_ids: list[str],
    training_client: httpx.AsyncClient,
    reporting_client: httpx.AsyncClient,
    catch_up: Any,
) -> None:
    """A reader below record level sees the small counts (three and two
    responses) and the rates resting on them suppressed, as in every table;
    the large material quantities stay."""
    trainer = replace(issue(orgs["a"], Role.trainer), client=training_client)
    await _record(alice, trainer, site_ids[0])
    await catch_up()
    auditor = issue(orgs["a"], Role.auditor)
    r = await reporting_client.get(
        "/v1/overview", params=YEAR, headers=auditor.headers()
    )
    assert r.status_code == 200, r.text
    overview = r.json()
    responses = _table(overview, "feedback_responses", ["form"])
    assert responses["values"]["suppression_threshold"] is not None
    assert set(_cells(responses).values()) == {"suppressed"}
    for indicator in ("feedback_satisfied_share", "feedback_mean_rating"):
        table = _table(overview, indicator, ["form", "question"])
        assert set(_cells(table).values()) == {"suppressed"}, indicator
    # five ratings in all: enough for the mean over them; 3 of 8 answers not
    # satisfied would tell too much about too few
    rating = _table(overview, "feedback_mean_rating", ["form", "question"])
    assert rating["values"]["total"]["value"] == 3.8
    share = _table(overview, "feedback_satisfied_share", ["form", "question"])
    assert share["values"]["total"]["suppressed"]
    materials = _table(overview, "materials_distributed", ["item", "language"])
    assert _cells(materials)[("school_bag", "unknown")] == 200
    document = await reporting_client.get(
        "/v1/overview/document",
        params={**YEAR, "lang": "ar"},
        headers=auditor.headers(),
    )
    text = _body_text(document.text)
    suppressed = str(catalogue("ar")["overview.suppressed"])
    feedback = text.split(str(catalogue("ar")["section.feedback"]))[1]
    assert suppressed in feedback
