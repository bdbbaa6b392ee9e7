from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.beneficiary.api import (
    count_rows,
    give_consent,
    make_beneficiary,
    record_service,
    withdraw_registration,
)
from tests.callers import Caller


class TestConsent:
    async def test_withdrawing_services_stops_new_service_records(
        self, alice: Caller
    ) -> None:
        b = await make_beneficiary(alice)
        await record_service(alice, b["id"])
        r = await alice.post(
            f"/v1/beneficiaries/{b['id']}/consents",
            [{"purpose": "services", "granted": False, "form_version": "2024-1"}],
        )
        assert r.status_code == 201
        r = await alice.post(
            "/v1/service-records",
            {
                "beneficiary_id": b["id"],
                "activity_code": "pfa",
                "service_date": "2026-02-02",
            },
        )
        assert r.status_code == 409
        assert r.json()["type"].endswith("consent-missing")
        ledger = (await alice.get(f"/v1/beneficiaries/{b['id']}/consents")).json()
        assert [(e["purpose"], e["granted"]) for e in ledger] == [
            ("registration", True),
            ("services", True),
            ("services", False),
        ]
        current = (await alice.get(f"/v1/beneficiaries/{b['id']}")).json()
        assert current["consents"]["services"]["granted"] is False

    async def test_withdrawing_registration_erases_pii(
        self, alice: Caller, issue: Any, beneficiary_engine: AsyncEngine
    ) -> None:
        b = await make_beneficiary(
            alice, full_name="To Be Forgotten", phone="0770 123 4567"
        )
        r = await withdraw_registration(issue, alice.org, b["id"])
        assert r.status_code == 201
        after = (await alice.get(f"/v1/beneficiaries/{b['id']}")).json()
        assert after["full_name"] is None
        assert after["phone"] is None
        assert after["pii_erased"] is True
        assert after["version"] == b["version"] + 1
        async with beneficiary_engine.connect() as conn:
            row = (
                (
                    await conn.execute(
                        text("SELECT * FROM beneficiary WHERE id = :id"),
                        {"id": b["id"]},
                    )
                )
                .mappings()
                .one()
            )
        assert row["full_name_enc"] is None
        assert row["name_index"] is None
        assert row["phone_index"] is None
        search = await alice.get("/v1/beneficiaries", params={"phone": "0770 123 4567"})
        assert search.json()["items"] == []

    async def test_an_entry_sent_twice_is_recorded_once(self, alice: Caller) -> None:
        b = await make_beneficiary(alice)
        entry = {
            "id": "5b0f5d0e-3c1a-4a57-9a55-0d4f4f7f0a01",
            "purpose": "referral",
            "granted": True,
            "form_version": "2024-1",
            "agency": "Legal aid partner",
        }
        path = f"/v1/beneficiaries/{b['id']}/consents"
        first = await give_consent(alice, b["id"], entry)
        again = await give_consent(alice, b["id"], entry)
        assert first.status_code == again.status_code == 201
        assert again.json()[0]["id"] == entry["id"]
        ledger = (await alice.get(path)).json()
        assert [e["purpose"] for e in ledger].count("referral") == 1

    async def test_referral_agency_only_on_referral(self, alice: Caller) -> None:
        b = await make_beneficiary(alice)
        r = await give_consent(
            alice,
            b["id"],
            {
                "purpose": "research",
                "granted": True,
                "form_version": "1",
                "agency": "X",
            },
        )
        assert r.status_code == 422


class TestServiceRecords:
    async def test_layer_comes_from_the_taxonomy(self, alice: Caller) -> None:
        b = await make_beneficiary(alice)
        record = await record_service(
            alice, b["id"], activity_code="psychiatric_consultation"
        )
        assert record["iasc_layer"] == "specialized"
        assert record["delivered_through"] == "direct"
        assert record["lead_organisation_id"] == alice.org.id

    async def test_partner_delivery(self, issue: Any, orgs: dict[str, Any]) -> None:
        from shared.auth import Role

        partner = issue(orgs["partner"], Role.case_worker)
        b = await make_beneficiary(partner)
        record = await record_service(partner, b["id"])
        assert record["delivered_through"] == "partner"
        assert record["lead_organisation_id"] == orgs["a"].id
        assert record["organisation_id"] == orgs["partner"].id

    async def test_unknown_activity_and_wrong_kind(self, alice: Caller) -> None:
        b = await make_beneficiary(alice)
        r = await alice.post(
            "/v1/service-records",
            {
                "beneficiary_id": b["id"],
                "activity_code": "astrology",
                "service_date": "2026-01-01",
            },
        )
        assert r.status_code == 422
        assert r.json()["errors"][0]["loc"] == ["body", "activity_code"]
        r = await alice.post(
            "/v1/service-records",
            {
                "beneficiary_id": b["id"],
                "activity_code": "guided_group_discussion",
                "service_date": "2026-01-01",
            },
        )
        assert r.status_code == 422

    async def test_correct_and_void(self, alice: Caller) -> None:
        b = await make_beneficiary(alice)
        record = await record_service(alice, b["id"])
        path = f"/v1/service-records/{record['id']}"
        r = await alice.patch(
            path, {"activity_code": "pfa"}, headers={"If-Match": '"1"'}
        )
        assert r.status_code == 200, r.text
        assert r.json()["iasc_layer"] == "focused_non_specialized"
        r = await alice.post(f"{path}/void", {"reason": "entered twice"})
        assert r.json()["voided"] is True
        again = await alice.post(f"{path}/void", {"reason": "entered twice"})
        assert again.json()["version"] == r.json()["version"]
        r = await alice.patch(
            path,
            {"duration_minutes": 5},
            headers={"If-Match": f'"{again.json()["version"]}"'},
        )
        assert r.status_code == 409

    async def test_group_activity_counts_each_attendee(
        self, alice: Caller, beneficiary_engine: AsyncEngine, site_ids: list[str]
    ) -> None:
        people = [await make_beneficiary(alice) for _ in range(3)]
        body = {
            "activity_code": "pm_plus_group",
            "activity_date": "2026-03-01",
            "site_id": site_ids[0],
            "facilitator_staff_ids": ["staff-7"],
            "duration_minutes": 120,
            "attendee_ids": [p["id"] for p in people],
            "anonymous_attendees": [{"sex": "male", "age_group": "adult", "count": 2}],
        }
        r = await alice.post(
            "/v1/group-activities", body, headers={"Idempotency-Key": "g1"}
        )
        assert r.status_code == 201, r.text
        group = r.json()
        assert group["served_total"] == 5
        assert sorted(group["attendee_ids"]) == sorted(p["id"] for p in people)
        replay = await alice.post(
            "/v1/group-activities", body, headers={"Idempotency-Key": "g1"}
        )
        assert replay.json()["id"] == group["id"]
        assert await count_rows(beneficiary_engine, "service_record") == 3
        records = (
            await alice.get(
                "/v1/service-records", params={"beneficiary_id": people[0]["id"]}
            )
        ).json()
        assert records["items"][0]["group_activity_id"] == group["id"]

    async def test_group_without_consent_is_refused_whole(
        self, alice: Caller, beneficiary_engine: AsyncEngine
    ) -> None:
        ok = await make_beneficiary(alice)
        withdrawn = await make_beneficiary(alice)
        await alice.post(
            f"/v1/beneficiaries/{withdrawn['id']}/consents",
            [{"purpose": "services", "granted": False, "form_version": "1"}],
        )
        r = await alice.post(
            "/v1/group-activities",
            {
                "activity_code": "peer_support_group",
                "activity_date": "2026-03-01",
                "attendee_ids": [ok["id"], withdrawn["id"]],
            },
        )
        assert r.status_code == 409
        assert withdrawn["id"] in r.json()["detail"]
        assert await count_rows(beneficiary_engine, "group_activity") == 0
        assert await count_rows(beneficiary_engine, "service_record") == 0

    async def test_anonymous_service(self, alice: Caller) -> None:
        r = await alice.post(
            "/v1/anonymous-services",
            {
                "activity_code": "awareness_session",
                "service_date": "2026-03-02",
                "counts": [
                    {"sex": "female", "age_group": "adult", "count": 12},
                    {"sex": "male", "age_group": "under_18", "count": 8},
                ],
            },
        )
        assert r.status_code == 201, r.text
        assert r.json()["total"] == 20
        assert r.json()["iasc_layer"] == "basic_services"
        dup = await alice.post(
            "/v1/anonymous-services",
            {
                "activity_code": "awareness_session",
                "service_date": "2026-03-02",
                "counts": [
                    {"sex": "female", "age_group": "adult", "count": 1},
                    {"sex": "female", "age_group": "adult", "count": 2},
                ],
            },
        )
        assert dup.status_code == 422

    async def test_taxonomy_lists_every_layer(self, alice: Caller) -> None:
        r = await alice.get("/v1/taxonomy/activities")
        layers = {a["iasc_layer"] for a in r.json()["activities"]}
        assert layers == {
            "basic_services",
            "community_family",
            "focused_non_specialized",
            "specialized",
        }
