"""Review of the bulk writer (wt-rev on wt-final): a batch whose COPY clashes
with a row another transaction wrote meanwhile is rolled back to its
savepoint and its records applied again alone; the batch's cached passes
(``Rows.answers``) then answer for the records staged after it."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.beneficiary.api import offline_batch
from tests.callers import Caller


def _record(person_id: str, record_id: str | None = None) -> dict[str, Any]:
    return {
        "id": record_id or str(uuid.uuid4()),
        "data": {
            "beneficiary_id": person_id,
            "activity_code": "pfa",
            "service_date": "2026-02-20",
            "modality": "in_person",
        },
    }


async def test_rev_a_clash_at_copy_rejects_one_record_and_keeps_the_rest(
    alice: Caller, beneficiary_engine: AsyncEngine
) -> None:
    batch = offline_batch()
    person = batch["beneficiaries"][0]["id"]
    other = offline_batch()
    r = await alice.post("/v1/sync", batch)
    assert r.status_code == 200, r.text
    r = await alice.post("/v1/sync", other)
    assert r.status_code == 200, r.text
    moved = other["service_records"][0]["id"]
    clash, kept, repeated, late = (str(uuid.uuid4()) for _ in range(4))
    records = [
        _record(person, kept),
        _record(person, clash),
        _record(person, kept),  # a repeat: the staged records are written here
        _record(person, repeated),
        _record(person, late),
    ]
    async with beneficiary_engine.connect() as connection:
        transaction = await connection.begin()
        # another transaction takes the id ``clash`` and holds it uncommitted
        await connection.execute(
            text("UPDATE service_record SET id = :new WHERE id = :old"),
            {"new": clash, "old": moved},
        )
        sent = asyncio.ensure_future(
            alice.post("/v1/sync", {"service_records": records})
        )
        await asyncio.sleep(1.0)
        assert not sent.done(), "the batch waits for the other transaction"
        await transaction.commit()
        r = await sent
    assert r.status_code == 200, r.text
    statuses = [(x["id"], x["status"]) for x in r.json()["results"]]
    assert statuses == [
        (kept, "created"),
        (clash, "rejected"),
        (kept, "unchanged"),
        (repeated, "created"),
        (late, "created"),
    ], statuses
    listed = await alice.get("/v1/service-records", params={"beneficiary_id": person})
    ids = {x["id"] for x in listed.json()["items"]}
    assert ids == {x["id"] for x in batch["service_records"]} | {kept, repeated, late}
    async with beneficiary_engine.connect() as connection:
        events = (
            await connection.execute(
                text(
                    "SELECT entity_id::text, count(*) FROM outbox_event "
                    "WHERE entity_id::text = ANY(:ids) GROUP BY entity_id"
                ),
                {"ids": [kept, clash, repeated, late]},
            )
        ).all()
    assert dict(events) == {kept: 1, repeated: 1, late: 1}


async def test_rev_a_clash_at_copy_of_people_keeps_the_others_and_their_records(
    alice: Caller, beneficiary_engine: AsyncEngine
) -> None:
    """People staged then refused at COPY: applied again alone, the clashing
    one is rejected with every record about them, the rest are created; a
    person staged after the rollback is attached and takes records."""
    other = offline_batch()
    other["service_records"] = []
    r = await alice.post("/v1/sync", other)
    assert r.status_code == 200, r.text
    first, second = offline_batch(), offline_batch()
    clash = str(uuid.uuid4())
    a, b = first["beneficiaries"][0], second["beneficiaries"][0]
    people = [a, {**a, "id": clash}, a, b]
    records = [_record(a["id"]), _record(clash), _record(b["id"])]
    async with beneficiary_engine.connect() as connection:
        transaction = await connection.begin()
        await connection.execute(  # another transaction registers ``clash``
            text(
                "CREATE TEMP TABLE copied ON COMMIT DROP AS "
                "SELECT * FROM beneficiary WHERE id = :other;"
            ),
            {"other": other["beneficiaries"][0]["id"]},
        )
        await connection.execute(
            text("UPDATE copied SET id = :clash, code = 'CLASH'"), {"clash": clash}
        )
        await connection.execute(text("INSERT INTO beneficiary SELECT * FROM copied"))
        sent = asyncio.ensure_future(
            alice.post(
                "/v1/sync", {"beneficiaries": people, "service_records": records}
            )
        )
        await asyncio.sleep(1.0)
        assert not sent.done(), "the batch waits for the other transaction"
        await transaction.commit()
        r = await sent
    assert r.status_code == 200, r.text
    statuses = [(x["id"], x["status"]) for x in r.json()["results"]]
    assert statuses == [
        (a["id"], "created"),
        (clash, "rejected"),
        (a["id"], "unchanged"),
        (b["id"], "created"),
        (records[0]["id"], "created"),
        (records[1]["id"], "rejected"),
        (records[2]["id"], "created"),
    ], statuses
    for person, count in ((a["id"], 1), (b["id"], 1), (clash, 0)):
        listed = await alice.get(
            "/v1/service-records", params={"beneficiary_id": person}
        )
        assert len(listed.json()["items"]) == count, person
