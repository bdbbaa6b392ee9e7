"""What holds for every record whatever is sent: erasure reaches every copy,
offline consent takes effect, crafted input is a clear problem, dates are
plausible, feeds keep their scope, and a failing record leaves nothing."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.auth import Role
from tests.beneficiary.api import (
    CONSENTS,
    beneficiary_body,
    count_rows,
    make_beneficiary,
    offline_batch,
    offline_person,
    withdraw_registration,
)
from tests.callers import Caller


class TestErasureReachesEveryCopy:
    async def test_conflicts_and_fingerprints_go_and_stale_devices_are_refused(
        self, alice: Caller, issue: Any, beneficiary_engine: AsyncEngine
    ) -> None:
        body = beneficiary_body(full_name="Erase Me Completely", phone="0770 000 4444")
        created = await alice.post(
            "/v1/beneficiaries", body, headers={"Idempotency-Key": "e1"}
        )
        person = created.json()
        await alice.patch(
            f"/v1/beneficiaries/{person['id']}",
            {"marital_status": "widowed"},
            headers={"If-Match": '"1"'},
        )
        stale = offline_person(full_name="Erase Me Completely", phone="0770 000 9999")
        sync = {
            "beneficiaries": [{"id": person["id"], "base_version": 1, "data": stale}]
        }
        assert (await alice.post("/v1/sync", sync)).json()["results"][0][
            "status"
        ] == "conflict"
        assert await count_rows(beneficiary_engine, "sync_conflict") == 1

        r = await withdraw_registration(issue, alice.org, person["id"])
        assert r.status_code == 201
        assert await count_rows(beneficiary_engine, "sync_conflict") == 0
        assert await count_rows(beneficiary_engine, "idempotency_record") == 0

        again = (await alice.post("/v1/sync", sync)).json()["results"][0]
        assert again["status"] == "rejected"
        assert "erased" in again["detail"]
        assert await count_rows(beneficiary_engine, "sync_conflict") == 0

    async def test_an_erased_record_can_still_be_corrected(
        self, alice: Caller, issue: Any
    ) -> None:
        person = await make_beneficiary(
            alice, date_of_birth="2020-03-01", registration_date="2020-03-05"
        )
        await withdraw_registration(issue, alice.org, person["id"])
        erased = (await alice.get(f"/v1/beneficiaries/{person['id']}")).json()
        assert erased["date_of_birth"] == "2020-01-01"
        r = await alice.patch(
            f"/v1/beneficiaries/{person['id']}",
            {"displacement_status": "returnee"},
            headers={"If-Match": f'"{erased["version"]}"'},
        )
        assert r.status_code == 200, r.text
        assert r.json()["full_name"] is None
        assert r.json()["date_of_birth"] == "2020-01-01"
        refused = await alice.patch(
            f"/v1/beneficiaries/{person['id']}",
            {"full_name": "Back Again"},
            headers={"If-Match": f'"{r.json()["version"]}"'},
        )
        assert refused.status_code == 409


class TestOfflineConsent:
    async def test_withdrawal_recorded_offline_takes_effect(
        self, alice: Caller
    ) -> None:
        batch = offline_batch()
        await alice.post("/v1/sync", batch)
        person = batch["beneficiaries"][0]
        withdrawn = [CONSENTS[0], {**CONSENTS[1], "granted": False}]
        change = {**person, "base_version": 1, "consents": withdrawn}
        r = await alice.post("/v1/sync", {"beneficiaries": [change]})
        assert r.json()["results"][0]["status"] == "updated"
        replay = await alice.post("/v1/sync", {"beneficiaries": [change]})
        assert replay.json()["results"][0]["status"] == "unchanged"
        ledger = (await alice.get(f"/v1/beneficiaries/{person['id']}/consents")).json()
        assert [(e["purpose"], e["granted"]) for e in ledger][-1] == ("services", False)
        assert len(ledger) == 3
        refused = await alice.post(
            "/v1/service-records",
            {
                "beneficiary_id": person["id"],
                "activity_code": "pfa",
                "service_date": "2026-02-20",
            },
        )
        assert refused.status_code == 409


class TestCraftedInput:
    @pytest.mark.parametrize("value", ['"²"', '"99999999999999999999"', "W/x"])
    async def test_if_match(self, alice: Caller, value: str) -> None:
        b = await make_beneficiary(alice)
        r = await alice.client.patch(
            f"/v1/beneficiaries/{b['id']}",
            json={"sex": "male"},
            headers=[
                (b"authorization", f"Bearer {alice.token}".encode()),
                (b"if-match", value.encode()),
            ],
        )
        assert r.status_code == 400

    @pytest.mark.parametrize(
        ("path", "params"),
        [
            ("/v1/sync/changes", {"cursor": 10**20}),
            ("/v1/beneficiaries", {"cursor": "WyIyMDI2IiwgMV0"}),
            (
                "/v1/beneficiaries",
                {"cursor": "WyIyMDI2LTAxLTAxVDAwOjAwOjAwIiwiYWJjIl0"},
            ),
            ("/v1/service-records", {"cursor": "WyJ4IiwieSJd"}),
        ],
    )
    async def test_cursors(
        self, alice: Caller, path: str, params: dict[str, Any]
    ) -> None:
        r = await alice.get(path, params=params)
        assert r.status_code in {400, 422}, r.text
        assert r.headers["content-type"] == "application/problem+json"

    async def test_feed_position_out_of_range(self, alice: Caller, issue: Any) -> None:
        reader = issue(alice.org, Role.service)
        r = await reader.get("/v1/events", params={"after": 10**20})
        assert r.status_code == 422

    async def test_huge_base_version(self, alice: Caller) -> None:
        batch = offline_batch()
        batch["beneficiaries"][0]["base_version"] = 10**12
        assert (await alice.post("/v1/sync", batch)).status_code == 422


class TestDates:
    async def test_registration_before_1990_is_refused(self, alice: Caller) -> None:
        r = await alice.post(
            "/v1/beneficiaries",
            beneficiary_body(
                date_of_birth=None, estimated_age=5, registration_date="0001-01-01"
            ),
        )
        assert r.status_code == 422
        r = await alice.post(
            "/v1/beneficiaries",
            beneficiary_body(
                date_of_birth=None, estimated_age=0, registration_date="1800-01-01"
            ),
        )
        assert r.status_code == 422

    async def test_service_before_birth_is_refused(self, alice: Caller) -> None:
        b = await make_beneficiary(alice, date_of_birth="2015-05-01")
        r = await alice.post(
            "/v1/service-records",
            {
                "beneficiary_id": b["id"],
                "activity_code": "pfa",
                "service_date": "2010-01-01",
            },
        )
        assert r.status_code == 422
        assert r.json()["errors"][0]["type"] == "before_birth"


class TestScope:
    async def test_site_limited_people_cannot_read_the_feed(
        self, alice: Caller, issue: Any, site_ids: list[str]
    ) -> None:
        local = issue(alice.org, Role.programme_manager, sites=[site_ids[0]])
        assert (await local.get("/v1/events")).status_code == 403

    async def test_group_attendees_outside_the_callers_sites_are_counted_not_named(
        self, alice: Caller, issue: Any, site_ids: list[str]
    ) -> None:
        here = await make_beneficiary(alice, site_id=site_ids[0])
        there = await make_beneficiary(alice, site_id=site_ids[1])
        group = (
            await alice.post(
                "/v1/group-activities",
                {
                    "activity_code": "peer_support_group",
                    "activity_date": "2026-03-01",
                    "site_id": site_ids[0],
                    "attendee_ids": [here["id"], there["id"]],
                },
            )
        ).json()
        local = issue(alice.org, Role.case_worker, sites=[site_ids[0]])
        seen = (await local.get(f"/v1/group-activities/{group['id']}")).json()
        assert seen["attendee_ids"] == [here["id"]]
        assert seen["served_total"] == 2


class TestSavepoints:
    async def test_a_record_failing_after_its_rows_were_written_leaves_nothing(
        self, alice: Caller, beneficiary_engine: AsyncEngine
    ) -> None:
        entry_id = str(uuid.uuid4())
        twice = [{**CONSENTS[0], "id": entry_id}, {**CONSENTS[1], "id": entry_id}]
        bad = {"id": str(uuid.uuid4()), "data": offline_person(), "consents": twice}
        good = {"id": str(uuid.uuid4()), "data": offline_person(), "consents": CONSENTS}
        r = await alice.post("/v1/sync", {"beneficiaries": [bad, good]})
        assert [x["status"] for x in r.json()["results"]] == ["rejected", "created"]
        assert await count_rows(beneficiary_engine, "beneficiary") == 1
        async with beneficiary_engine.connect() as conn:
            leftovers = await conn.scalar(
                text("SELECT count(*) FROM outbox_event WHERE entity_id = :id"),
                {"id": bad["id"]},
            )
        assert leftovers == 0
