"""Review of issue 17's passes (wt-rev), what held: the consent check that
now reads the ledger by the driver itself (``fetch_rows``) or answers from
the session's ledger cache still sees a withdrawal recorded earlier in the
same sync batch, and a new person's ledger staged in the batch."""

from __future__ import annotations

from tests.beneficiary.api import CONSENTS, offline_batch, offline_record
from tests.callers import Caller


async def test_rev_a_withdrawal_earlier_in_the_batch_stops_its_records(
    alice: Caller,
) -> None:
    batch = offline_batch()
    batch["service_records"] = []
    r = await alice.post("/v1/sync", batch)
    assert r.status_code == 200, r.text
    person = batch["beneficiaries"][0]
    withdrawn = [CONSENTS[0], {**CONSENTS[1], "granted": False}]
    r = await alice.post(
        "/v1/sync",
        {
            "beneficiaries": [{**person, "base_version": 1, "consents": withdrawn}],
            "service_records": [
                offline_record(person["id"]),
                offline_record(person["id"]),
            ],
        },
    )
    assert r.status_code == 200, r.text
    statuses = [(x["entity_type"], x["status"]) for x in r.json()["results"]]
    assert ("beneficiary", "updated") in statuses
    assert [s for t, s in statuses if t == "service_record"] == ["rejected"] * 2
    listed = await alice.get(
        "/v1/service-records", params={"beneficiary_id": person["id"]}
    )
    assert listed.json()["items"] == []


async def test_rev_a_new_person_without_services_consent_gets_no_record(
    alice: Caller,
) -> None:
    batch = offline_batch()
    batch["beneficiaries"][0]["consents"] = [CONSENTS[0]]
    r = await alice.post("/v1/sync", batch)
    assert r.status_code == 200, r.text
    statuses = [(x["entity_type"], x["status"]) for x in r.json()["results"]]
    assert statuses[0] == ("beneficiary", "created")
    assert [s for t, s in statuses if t == "service_record"] == ["rejected"] * 2
