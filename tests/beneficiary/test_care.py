from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from tests.beneficiary.api import count_rows, give_consent, make_beneficiary, open_case
from tests.callers import Caller


async def test_plans_and_safety_plans_are_versioned(alice: Caller) -> None:
    case = await open_case(alice)
    path = f"/v1/cases/{case['id']}"
    headers = alice.headers()
    for goals in (["sleep"], ["sleep", "return to work"]):
        r = await alice.client.put(
            f"{path}/plan", json={"goals": goals}, headers=headers
        )
        assert r.status_code == 200, r.text
        headers = alice.headers({"If-Match": r.headers["ETag"]})
    read = await alice.get(f"{path}/plan")
    plan = read.json()
    assert (plan["version"], plan["goals"]) == (2, ["sleep", "return to work"])
    assert read.headers["ETag"] == '"2"'
    unversioned = await alice.client.put(
        f"{path}/plan", json={"goals": ["older form"]}, headers=alice.headers()
    )
    assert unversioned.status_code == 428
    stale = await alice.client.put(
        f"{path}/plan",
        json={"goals": ["older form"]},
        headers=alice.headers({"If-Match": '"1"'}),
    )
    assert stale.status_code == 409
    assert stale.json()["current"]["version"] == 2
    bad = await alice.client.put(
        f"{path}/plan",
        json={"goals": ["x"], "planned_activities": ["astrology"]},
        headers=headers,
    )
    assert bad.status_code == 422
    for signs in (["a"], ["a", "b"]):
        await alice.post(f"{path}/safety-plans", {"warning_signs": signs})
    versions = (await alice.get(f"{path}/safety-plans")).json()
    assert [v["version"] for v in versions] == [2, 1]
    assert versions[0]["warning_signs"] == ["a", "b"]


async def test_a_follow_up_counts_once_as_a_service(
    alice: Caller, beneficiary_engine: AsyncEngine
) -> None:
    case = await open_case(alice)
    r = await alice.post(f"/v1/cases/{case['id']}/follow-ups", {"on": "2026-02-01"})
    assert r.status_code == 201
    records = (
        await alice.get(
            "/v1/service-records", params={"beneficiary_id": case["beneficiary_id"]}
        )
    ).json()
    assert [x["activity_code"] for x in records["items"]] == [
        "case_management_follow_up"
    ]
    assert records["items"][0]["id"] == r.json()["service_record_id"]
    assert await count_rows(beneficiary_engine, "service_record") == 1


async def test_referral_needs_consent_and_follows_its_states(alice: Caller) -> None:
    person = await make_beneficiary(alice)
    body = {
        "beneficiary_id": person["id"],
        "kind": "internal",
        "area": "livelihoods",
        "receiving_party": "Livelihoods unit",
        "sent_on": "2026-02-01",
    }
    assert (await alice.post("/v1/referrals", body)).status_code == 409
    await give_consent(
        alice,
        person["id"],
        {"purpose": "referral", "granted": True, "form_version": "1"},
    )
    referral = (await alice.post("/v1/referrals", body)).json()
    path = f"/v1/referrals/{referral['id']}/status"
    declined = await alice.post(
        path, {"status": "declined", "on": "2026-02-03"}, headers={"If-Match": '"1"'}
    )
    assert declined.status_code == 200
    final = await alice.post(
        path, {"status": "accepted", "on": "2026-02-04"}, headers={"If-Match": '"2"'}
    )
    assert final.status_code == 409
    assert "final" in final.json()["detail"]
    listed = (
        await alice.get("/v1/referrals", params={"beneficiary_id": person["id"]})
    ).json()
    assert [r["status"] for r in listed] == ["declined"]
