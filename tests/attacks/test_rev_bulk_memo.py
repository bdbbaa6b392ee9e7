"""Review of the bulk writer's per-batch passes (wt-rev on wt-final): what a
batch's memo (``shared.bulk.memo``), the hand-attached people
(``shared.bulk.attach``) and the ledgers built without ORM state
(``shared.bulk.unsaved``) must still refuse, through POST /v1/sync."""

from __future__ import annotations

import uuid
from typing import Any

from shared.auth import Role
from tests.beneficiary.api import (
    CONSENTS,
    offline_batch,
    offline_person,
    offline_record,
    withdraw_registration,
)
from tests.callers import Caller, Org


def _statuses(body: dict[str, Any], kind: str) -> list[str]:
    return [x["status"] for x in body["results"] if x["entity_type"] == kind]


async def _listed(caller: Caller, person_id: str) -> list[Any]:
    r = await caller.get("/v1/service-records", params={"beneficiary_id": person_id})
    assert r.status_code == 200, r.text
    items: list[Any] = r.json()["items"]
    return items


async def test_rev_a_person_registered_then_withdrawn_in_one_batch_gets_no_record(
    alice: Caller,
) -> None:
    """The person's new ledger is staged without ORM state and read back
    from the session's cache; their withdrawal later in the same batch
    must still stop every service record of the batch."""
    batch = offline_batch()
    person = batch["beneficiaries"][0]
    withdrawn = [CONSENTS[0], {**CONSENTS[1], "granted": False}]
    batch["beneficiaries"].append(
        {**person, "base_version": 1, "consent_version": 2, "consents": withdrawn}
    )
    batch["service_records"] = [
        offline_record(person["id"]),
        offline_record(person["id"]),
    ]
    r = await alice.post("/v1/sync", batch)
    assert r.status_code == 200, r.text
    assert _statuses(r.json(), "beneficiary") == ["created", "updated"]
    assert _statuses(r.json(), "service_record") == ["rejected"] * 2
    assert await _listed(alice, person["id"]) == []
    r = await alice.get(f"/v1/beneficiaries/{person['id']}/consents")
    assert r.status_code == 200, r.text
    ledger = r.json()
    entries = ledger["items"] if isinstance(ledger, dict) else ledger
    assert [(e["purpose"], e["granted"]) for e in entries] == [
        ("registration", True),
        ("services", True),
        ("services", False),
    ]


async def test_rev_a_refusal_is_made_again_for_each_record_between_passes(
    alice: Caller,
) -> None:
    """A person found consenting is kept for the batch; one who is not is
    refused for every record, however the records interleave."""
    batch = offline_batch()
    consenting = batch["beneficiaries"][0]["id"]
    refusing = str(uuid.uuid4())
    batch["beneficiaries"].append(
        {"id": refusing, "data": offline_person(), "consents": [CONSENTS[0]]}
    )
    batch["service_records"] = [
        offline_record(consenting),
        offline_record(refusing),
        offline_record(consenting),
        offline_record(refusing),
        offline_record(consenting),
    ]
    r = await alice.post("/v1/sync", batch)
    assert r.status_code == 200, r.text
    assert _statuses(r.json(), "service_record") == [
        "created",
        "rejected",
        "created",
        "rejected",
        "created",
    ]
    assert len(await _listed(alice, consenting)) == 3
    assert await _listed(alice, refusing) == []


async def test_rev_a_team_refused_once_is_refused_with_the_same_delivery(
    alice: Caller,
) -> None:
    """How a service was delivered is kept per batch by everything it
    depends on: a record naming an unknown team is refused, before and
    after records of the same activity, site and day that pass."""
    batch = offline_batch()
    person = batch["beneficiaries"][0]["id"]
    unknown_team = str(uuid.uuid4())
    batch["service_records"] = [
        offline_record(person),
        offline_record(person, team_id=unknown_team),
        offline_record(person),
        offline_record(person, team_id=unknown_team),
    ]
    r = await alice.post("/v1/sync", batch)
    assert r.status_code == 200, r.text
    assert _statuses(r.json(), "service_record") == [
        "created",
        "rejected",
        "created",
        "rejected",
    ]
    assert {x["team_id"] for x in await _listed(alice, person)} == {None}


async def test_rev_a_site_out_of_scope_is_refused_between_sites_in_scope(
    issue: Any, orgs: dict[str, Org], site_ids: list[str]
) -> None:
    """Each site a batch's people are registered at is checked once, and
    only a check that passed is kept."""
    inside, outside = site_ids[0], site_ids[1]
    worker = issue(orgs["a"], Role.case_worker, sites=[inside])
    people = [
        {"id": str(uuid.uuid4()), "data": offline_person(site_id=site)}
        for site in (inside, outside, inside, outside)
    ]
    r = await worker.post(
        "/v1/sync",
        {"beneficiaries": [{**p, "consents": CONSENTS} for p in people]},
    )
    assert r.status_code == 200, r.text
    assert _statuses(r.json(), "beneficiary") == [
        "created",
        "rejected",
        "created",
        "rejected",
    ]
    admin = issue(orgs["a"], Role.admin)
    for person, found in zip(people, (200, 404, 200, 404), strict=True):
        r = await admin.get(f"/v1/beneficiaries/{person['id']}")
        assert r.status_code == found, r.text


async def test_rev_the_same_ids_in_two_organisations_stay_apart(
    alice: Caller, bob: Caller
) -> None:
    """One organisation's batch, then another's with the very same person
    and record ids: each organisation gets its own person and records, and
    nothing of the first batch answers for the second."""
    batch = offline_batch()
    person = batch["beneficiaries"][0]["id"]
    r = await alice.post("/v1/sync", batch)
    assert r.status_code == 200, r.text
    assert {x["status"] for x in r.json()["results"]} == {"created"}
    withheld = {**batch, "beneficiaries": [{**batch["beneficiaries"][0]}]}
    withheld["beneficiaries"][0]["consents"] = [CONSENTS[0]]
    r = await bob.post("/v1/sync", withheld)
    assert r.status_code == 200, r.text
    assert _statuses(r.json(), "beneficiary") == ["created"]
    assert _statuses(r.json(), "service_record") == ["rejected"] * 2
    assert await _listed(bob, person) == []
    assert len(await _listed(alice, person)) == 2


async def test_rev_a_week_old_batch_after_an_erasure_records_nothing(
    alice: Caller, issue: Any, orgs: dict[str, Org]
) -> None:
    """A device offline for a week sends its batch again with records the
    server never got; the person withdrew registration meanwhile (an
    erasure): the person is refused and every new record with them, each
    one (the batch's passes keep no refusal, and no pass for them)."""
    batch = offline_batch()
    person = batch["beneficiaries"][0]["id"]
    r = await alice.post("/v1/sync", batch)
    assert r.status_code == 200, r.text
    r = await withdraw_registration(issue, orgs["a"], person)
    assert r.status_code == 201, r.text
    late = [offline_record(person), offline_record(person)]
    r = await alice.post(
        "/v1/sync", {**batch, "service_records": batch["service_records"] + late}
    )
    assert r.status_code == 200, r.text
    assert _statuses(r.json(), "beneficiary") == ["rejected"]
    assert _statuses(r.json(), "service_record")[2:] == ["rejected"] * 2
    admin = issue(orgs["a"], Role.admin)
    listed = await _listed(admin, person)
    assert {x["id"] for x in listed} <= {x["id"] for x in batch["service_records"]}


async def test_rev_a_person_written_by_copy_reads_back_in_the_same_batch(
    alice: Caller,
) -> None:
    """A person staged, written by COPY and attached by hand, with a ledger
    held without ORM state, is read back within the same request (the
    server copy of a conflict on them) as a later request reads them."""
    batch = offline_batch()
    person = batch["beneficiaries"][0]
    other = {**person, "data": {**person["data"], "full_name": "Someone Else"}}
    batch["beneficiaries"].append(other)
    r = await alice.post("/v1/sync", batch)
    assert r.status_code == 200, r.text
    results = [x for x in r.json()["results"] if x["entity_type"] == "beneficiary"]
    assert [x["status"] for x in results] == ["created", "conflict"]
    copy = results[1]["server_copy"]
    r = await alice.get(f"/v1/beneficiaries/{person['id']}")
    assert r.status_code == 200, r.text
    read = r.json()
    assert copy["full_name"] == read["full_name"] == "Offline Person"
    assert copy["version"] == read["version"] == 1
    shared = set(copy) & set(read)
    assert {k: copy[k] for k in shared} == {k: read[k] for k in shared}


async def test_rev_a_consent_entry_id_staged_for_one_person_is_refused_to_the_next(
    alice: Caller,
) -> None:
    """Ledgers staged in one pass per person still count their entry ids as
    taken: a second new person of the batch reusing one is refused, and
    the first person's ledger is theirs alone."""
    entry_id = str(uuid.uuid4())
    consents = [{**CONSENTS[0], "id": entry_id}, CONSENTS[1]]
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    r = await alice.post(
        "/v1/sync",
        {
            "beneficiaries": [
                {"id": first, "data": offline_person(), "consents": consents},
                {"id": second, "data": offline_person(), "consents": consents},
            ]
        },
    )
    assert r.status_code == 200, r.text
    assert _statuses(r.json(), "beneficiary") == ["created", "rejected"]
    r = await alice.get(f"/v1/beneficiaries/{second}")
    assert r.status_code == 404, r.text
    r = await alice.get(f"/v1/beneficiaries/{first}/consents")
    assert r.status_code == 200, r.text
    ledger = r.json()
    entries = ledger["items"] if isinstance(ledger, dict) else ledger
    assert entry_id in {e["id"] for e in entries}
