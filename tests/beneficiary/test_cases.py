from __future__ import annotations

import json
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.auth import Role
from tests.beneficiary.api import (
    assess,
    count_rows,
    intake,
    make_beneficiary,
    open_case,
    phq9,
    srq20,
)
from tests.callers import Caller


class TestCaseLifecycle:
    async def test_intake_to_closure_with_measured_improvement(
        self, alice: Caller
    ) -> None:
        case = await open_case(alice)
        assert case["status"] == "open"
        assert case["intake_notes"].startswith("Lost two sons")
        cid = case["id"]
        base = await assess(alice, cid, "phq9", phq9(3, 3, 2, 2, 2, 2, 2, 1, 1))
        assert base.status_code == 201, base.text
        assert base.json()["scores"] == {"total": 18.0}
        assert base.json()["bands"] == {"total": "moderately_severe"}
        assert base.json()["risk_flags"] == ["suicide_risk"]
        srq = await assess(alice, cid, "srq20", srq20(11))
        assert srq.json()["bands"]["total"] == "probable_common_mental_disorder"

        r = await alice.post(
            f"/v1/cases/{cid}/transitions",
            {"status": "active", "on": "2026-01-20"},
            headers={"If-Match": '"1"'},
        )
        assert r.status_code == 200, r.text
        for day, answers, yes in [
            ("2026-02-20", phq9(2, 2, 1, 1, 1, 1, 1, 1, 0), 8),
            ("2026-03-20", phq9(1, 1, 1, 1, 1, 1, 0, 0, 0), 4),
        ]:
            follow = await assess(
                alice, cid, "phq9", answers, timepoint="follow_up", on=day
            )
            assert follow.status_code == 201, follow.text
            await assess(alice, cid, "srq20", srq20(yes), timepoint="follow_up", on=day)
        closed = await alice.post(
            f"/v1/cases/{cid}/transitions",
            {"status": "closed", "on": "2026-03-25", "closure_reason": "goals_met"},
            headers={"If-Match": '"2"'},
        )
        assert closed.json()["status"] == "closed"
        assert closed.json()["closed_on"] == "2026-03-25"

        outcomes = {
            o["instrument"]: o
            for o in (await alice.get(f"/v1/cases/{cid}/outcomes")).json()
        }
        phq = outcomes["phq9@1.0"]
        assert (phq["baseline"], phq["latest"], phq["change"]) == (18.0, 6.0, -12.0)
        assert phq["improved"]
        assert phq["reliable"]
        assert phq["meaningful"]
        assert phq["latest_band"] == "mild"
        srq_outcome = outcomes["srq20@1.0"]
        assert (srq_outcome["baseline"], srq_outcome["latest"]) == (11.0, 4.0)
        assert srq_outcome["reliable"] is None  # SRQ-20 defines no threshold

    async def test_illegal_transitions_are_409(self, alice: Caller) -> None:
        case = await open_case(alice)
        path = f"/v1/cases/{case['id']}/transitions"
        r = await alice.post(
            path,
            {"status": "closed", "on": "2026-02-01", "closure_reason": "withdrew"},
            headers={"If-Match": '"1"'},
        )
        assert r.status_code == 200
        again = await alice.post(
            path, {"status": "on_hold", "on": "2026-02-02"}, headers={"If-Match": '"2"'}
        )
        assert again.status_code == 409
        assert "allowed: active" in again.json()["detail"]
        no_reason = await alice.post(
            path, {"status": "closed", "on": "2026-02-02"}, headers={"If-Match": '"2"'}
        )
        assert no_reason.status_code == 422
        stale = await alice.post(
            path, {"status": "active", "on": "2026-02-02"}, headers={"If-Match": '"1"'}
        )
        assert stale.status_code == 409
        assert stale.json()["current"]["status"] == "closed"

    async def test_one_running_case_per_person(self, alice: Caller) -> None:
        case = await open_case(alice)
        r = await alice.post("/v1/cases", intake(case["beneficiary_id"]))
        assert r.status_code == 409

    async def test_unknown_presenting_problem(self, alice: Caller) -> None:
        person = await make_beneficiary(alice)
        r = await alice.post(
            "/v1/cases", intake(person["id"], presenting_problems=["hexed"])
        )
        assert r.status_code == 422


class TestAssessments:
    async def test_incomplete_and_out_of_range_answers_name_each_item(
        self, alice: Caller, beneficiary_engine: AsyncEngine
    ) -> None:
        case = await open_case(alice)
        answers: dict[str, int] = phq9(1, 1, 1, 1, 1, 1, 1, 1, 1)
        answers["4"] = 7
        del answers["9"]
        answers["11"] = 1
        r = await assess(alice, case["id"], "phq9", answers)
        assert r.status_code == 422
        located = {tuple(e["loc"]): e["type"] for e in r.json()["errors"]}
        assert located[("body", "responses", "4")] == "out_of_scale"
        assert located[("body", "responses", "9")] == "missing"
        assert located[("body", "responses", "11")] == "unknown_item"
        assert await count_rows(beneficiary_engine, "assessment") == 0

    async def test_age_range_and_unknown_instrument(self, alice: Caller) -> None:
        case = await open_case(alice)
        sdq = {str(i): 1 for i in range(1, 26)}
        r = await assess(alice, case["id"], "sdq_p4_17", sdq)
        assert r.status_code == 422
        assert "ages 4-17" in r.json()["detail"]
        assert (await assess(alice, case["id"], "bdi", {"1": 1})).status_code == 422

    async def test_events_carry_scores_not_answers_and_notes_are_encrypted(
        self, alice: Caller, issue: Any, beneficiary_engine: AsyncEngine
    ) -> None:
        case = await open_case(alice, intake_notes="Secret intake narrative")
        await assess(alice, case["id"], "phq9", phq9(0, 1, 2, 3, 0, 1, 2, 3, 1))
        reader = issue(alice.org, Role.service)
        events = (await reader.get("/v1/events", params={"limit": 5000})).json()[
            "events"
        ]
        recorded = [e for e in events if e["type"] == "assessment.recorded"]
        assert recorded[0]["data"]["scores"] == {"total": 13.0}
        assert recorded[0]["data"]["risk_flagged"] is True
        assert "responses" not in recorded[0]["data"]
        assert "Secret intake" not in json.dumps(events)
        async with beneficiary_engine.connect() as conn:
            stored = await conn.scalar(text("SELECT intake_notes_enc FROM case_file"))
        assert "Secret" not in stored

    async def test_every_case_read_is_audited(self, alice: Caller, issue: Any) -> None:
        case = await open_case(alice)
        await alice.get(
            f"/v1/cases/{case['id']}", headers={"X-Access-Reason": "supervision"}
        )
        auditor = issue(alice.org, Role.auditor)
        r = await auditor.get("/v1/audit", params={"entity_id": case["id"]})
        log = r.json()["items"]
        assert ("read", "supervision") in [(e["action"], e["reason"]) for e in log]

    async def test_outreach_workers_do_not_see_cases(
        self, alice: Caller, issue: Any
    ) -> None:
        case = await open_case(alice)
        outreach = issue(alice.org, Role.outreach_worker)
        assert (await outreach.get(f"/v1/cases/{case['id']}")).status_code == 403

    async def test_instrument_catalogue(self, alice: Caller) -> None:
        listed = {i["code"] for i in (await alice.get("/v1/instruments")).json()}
        assert {"phq9", "gad7", "srq20", "who5", "whodas12", "sdq_p4_17"} <= listed
