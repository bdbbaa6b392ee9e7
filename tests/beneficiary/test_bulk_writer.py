"""The bulk writer behind ``POST /v1/sync`` writes exactly what the one-by-one
path writes: the same columns, the same events, nothing for a refused record,
and only the clashing record set aside when another transaction takes an id
while the batch is being written."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from shared.auth import Role
from shared.contracts.enums import (
    DisplacementStatus,
    MaritalStatus,
    RegistrationChannel,
    Sex,
    WashingtonGroupAnswer,
)
from tests.beneficiary.api import (
    CONSENTS,
    count_rows,
    embedded,
    make_beneficiary,
    offline_person,
)
from tests.callers import Caller

INDIVIDUAL = [
    "pfa",
    "remote_pfa",
    "individual_counselling",
    "psychiatric_consultation",
    "family_psychoeducation",
    "case_management_follow_up",
]
MODALITIES = ["in_person", "remote_phone", "remote_video", "remote_messaging"]
IGNORED = {"id", "created_at", "updated_at"}
PERSON_IGNORED = {
    *IGNORED,
    "code",  # drawn at random
    "full_name_enc",  # a fresh nonce each time: compared decrypted, by reads
    "phone_enc",
    "address_enc",
}
IGNORED_ENTRY = {"id", "recorded_at"}


def random_record(rng: random.Random, person_id: str, site_id: str) -> dict[str, Any]:
    """A valid individual service record with each optional field present or
    absent at random."""
    data: dict[str, Any] = {
        "beneficiary_id": person_id,
        "activity_code": rng.choice(INDIVIDUAL),
        "service_date": str(date(2026, 1, 10) + timedelta(days=rng.randrange(300))),
        "modality": rng.choice(MODALITIES),
    }
    if rng.random() < 0.5:
        data["site_id"] = site_id
    if rng.random() < 0.5:
        data["staff_id"] = f"staff-{rng.randrange(99)}"
    if rng.random() < 0.5:
        data["duration_minutes"] = rng.randrange(5, 180)
    if rng.random() < 0.5:
        data["topic_code"] = rng.choice(["stress_management", "parenting"])
    if rng.random() < 0.5:
        data["language"] = rng.choice(["ar", "ckb"])
    if rng.random() < 0.5:
        data["delivery_mode"] = rng.choice(["centre", "mobile_team"])
    return data


def random_person(rng: random.Random, site_id: str) -> dict[str, Any]:
    """A valid registration with each optional field present or absent at
    random (birth date or age, Washington Group answers or a disability)."""
    data: dict[str, Any] = {
        "full_name": f"Person {rng.randrange(10**6)}",
        "sex": rng.choice(list(Sex)).value,
        "registration_channel": rng.choice(list(RegistrationChannel)).value,
        "registration_date": str(date(2026, 1, 10) + timedelta(rng.randrange(200))),
    }
    if rng.random() < 0.5:
        data["date_of_birth"] = str(date(1950, 1, 1) + timedelta(rng.randrange(20000)))
    else:
        data["estimated_age"] = rng.randrange(1, 90)
    if rng.random() < 0.5:
        answers = list(WashingtonGroupAnswer)
        domains = ["seeing", "hearing", "walking", "remembering", "self_care"]
        data["washington_group"] = {
            d: rng.choice(answers).value for d in [*domains, "communicating"]
        }
    else:
        data["disability"] = rng.choice(["yes", "no"])
    optional: dict[str, Any] = {
        "phone": f"+9647{rng.randrange(10**9):09d}",
        "address": f"Street {rng.randrange(99)}",
        "marital_status": rng.choice(list(MaritalStatus)).value,
        "displacement_status": rng.choice(list(DisplacementStatus)).value,
        "nationality": rng.choice(["IRQ", "SYR"]),
        "site_id": site_id,
    }
    for name, value in optional.items():
        if rng.random() < 0.5:
            data[name] = value
    return data


async def people_as_written(
    engine: AsyncEngine, caller: Caller, ids: list[str]
) -> list[dict[str, Any]]:
    """Each person's columns, consent entries, events and duplicate flags
    (ids, codes, timestamps and ciphertexts left out) and what a read shows."""
    found = []
    async with engine.connect() as connection:
        for person_id in ids:
            key = {"id": uuid.UUID(person_id)}
            row = (
                (
                    await connection.execute(
                        text("SELECT * FROM beneficiary WHERE id = :id"), key
                    )
                )
                .mappings()
                .one()
            )
            consents = (
                (
                    await connection.execute(
                        text(
                            "SELECT * FROM consent_entry WHERE beneficiary_id = :id "
                            "ORDER BY sequence"
                        ),
                        key,
                    )
                )
                .mappings()
                .all()
            )
            events = (
                await connection.execute(
                    text(
                        "SELECT type, data FROM outbox_event WHERE entity_id = :id "
                        "ORDER BY type, data->>'purpose'"
                    ),
                    key,
                )
            ).all()
            flags = (
                await connection.execute(
                    text(
                        "SELECT candidate_id, reasons FROM duplicate_candidate "
                        "WHERE beneficiary_id = :id"
                    ),
                    key,
                )
            ).all()
            read = (await caller.get(f"/v1/beneficiaries/{person_id}")).json()
            read["consents"] = {
                purpose: {k: v for k, v in entry.items() if k not in IGNORED_ENTRY}
                for purpose, entry in read["consents"].items()
            }
            found.append(
                {
                    "row": {k: v for k, v in row.items() if k not in PERSON_IGNORED},
                    "consents": [
                        {
                            k: v
                            for k, v in c.items()
                            if k not in {*IGNORED_ENTRY, "beneficiary_id"}
                        }
                        for c in consents
                    ],
                    "events": [
                        (e.type, {**e.data, "beneficiary_id": None}) for e in events
                    ],
                    "flags": {str(f.candidate_id): f.reasons for f in flags},
                    "read": {
                        k: v
                        for k, v in read.items()
                        if k not in {*PERSON_IGNORED, "possible_duplicates"}
                    },
                }
            )
    return found


async def rows_and_events(
    engine: AsyncEngine, ids: list[str]
) -> list[tuple[dict[str, Any], dict[str, Any], str]]:
    """Each record's columns (ids and timestamps left out) and its event."""
    found = []
    async with engine.connect() as connection:
        for record_id in ids:
            row = (
                (
                    await connection.execute(
                        text("SELECT * FROM service_record WHERE id = :id"),
                        {"id": uuid.UUID(record_id)},
                    )
                )
                .mappings()
                .one()
            )
            event = (
                await connection.execute(
                    text("SELECT type, data FROM outbox_event WHERE entity_id = :id"),
                    {"id": uuid.UUID(record_id)},
                )
            ).one()
            data = dict(event.data)
            data.pop("service_record_id")
            found.append(
                ({k: v for k, v in row.items() if k not in IGNORED}, data, event.type)
            )
    return found


class TestSameAsOneByOne:
    async def test_random_records_write_the_same_rows_and_events(
        self, alice: Caller, beneficiary_engine: AsyncEngine, site_ids: list[str]
    ) -> None:
        rng = random.Random(20261204)
        people = [(await make_beneficiary(alice))["id"] for _ in range(3)]
        bodies = [
            random_record(rng, rng.choice(people), rng.choice(site_ids))
            for _ in range(40)
        ]
        one_by_one = []
        for body in bodies:
            r = await alice.post("/v1/service-records", body)
            assert r.status_code == 201, r.text
            one_by_one.append(r.json()["id"])
        ids = [str(uuid.uuid4()) for _ in bodies]
        batch = [{"id": i, "data": body} for i, body in zip(ids, bodies, strict=True)]
        r = await alice.post("/v1/sync", {"service_records": batch})
        assert r.status_code == 200, r.text
        assert [x["status"] for x in r.json()["results"]] == ["created"] * 40
        assert [x["version"] for x in r.json()["results"]] == [1] * 40
        single = await rows_and_events(beneficiary_engine, one_by_one)
        bulk = await rows_and_events(beneficiary_engine, ids)
        assert bulk == single

    async def test_a_refused_record_leaves_nothing_and_later_ones_are_written(
        self, alice: Caller, beneficiary_engine: AsyncEngine
    ) -> None:
        person = (await make_beneficiary(alice, date_of_birth="2000-01-01"))["id"]
        good = {"beneficiary_id": person, "activity_code": "pfa"}
        batch = [
            {"id": str(uuid.uuid4()), "data": {**good, "service_date": "2026-02-01"}},
            {"id": str(uuid.uuid4()), "data": {**good, "service_date": "1999-02-01"}},
            {"id": str(uuid.uuid4()), "data": {**good, "service_date": "2026-03-01"}},
        ]
        events = await count_rows(beneficiary_engine, "outbox_event")
        r = await alice.post("/v1/sync", {"service_records": batch})
        statuses = [x["status"] for x in r.json()["results"]]
        assert statuses == ["created", "rejected", "created"]
        assert await count_rows(beneficiary_engine, "service_record") == 2
        assert await count_rows(beneficiary_engine, "outbox_event") == events + 2

    async def test_consent_checked_for_the_batch_refuses_as_one_by_one(
        self, alice: Caller, beneficiary_engine: AsyncEngine
    ) -> None:
        """A batch checks its people's consent once: a person without
        services consent gets each record refused with the single write's
        answer, the others' records are written."""
        ok = (await make_beneficiary(alice))["id"]
        no = (await make_beneficiary(alice, consents=CONSENTS[:1]))["id"]
        body = {"activity_code": "pfa", "service_date": "2026-02-01"}
        single = await alice.post("/v1/service-records", {**body, "beneficiary_id": no})
        assert single.status_code == 409, single.text
        batch = [
            {"id": str(uuid.uuid4()), "data": {**body, "beneficiary_id": person}}
            for person in (ok, no, ok, no)
        ]
        r = await alice.post("/v1/sync", {"service_records": batch})
        results = r.json()["results"]
        assert [x["status"] for x in results] == [
            "created",
            "rejected",
            "created",
            "rejected",
        ]
        assert results[1]["detail"] == single.json()["detail"]
        assert await count_rows(beneficiary_engine, "service_record") == 2

    async def test_a_record_created_then_edited_in_one_batch(
        self, alice: Caller
    ) -> None:
        """The second change of an id finds the row the bulk writer wrote."""
        person = (await make_beneficiary(alice))["id"]
        record_id = str(uuid.uuid4())
        data = {"beneficiary_id": person, "activity_code": "pfa"}
        batch = [
            {"id": record_id, "data": {**data, "service_date": "2026-02-01"}},
            {
                "id": record_id,
                "base_version": 1,
                "data": {**data, "service_date": "2026-02-02"},
            },
        ]
        r = await alice.post("/v1/sync", {"service_records": batch})
        assert [(x["status"], x["version"]) for x in r.json()["results"]] == [
            ("created", 1),
            ("updated", 2),
        ]


class TestClash:
    async def test_an_id_taken_meanwhile_refuses_only_that_record(
        self, alice: Caller, beneficiary_engine: AsyncEngine
    ) -> None:
        """Another transaction writes one of the batch's ids after the batch
        looked it up: COPY waits for it, fails, and the batch falls back to
        one record at a time, so only that record is answered otherwise (a
        conflict: the id now holds other content), as one by one would."""
        person = (await make_beneficiary(alice))["id"]
        template = (
            await alice.post(
                "/v1/service-records",
                {
                    "beneficiary_id": person,
                    "activity_code": "pfa",
                    "service_date": "2026-02-01",
                },
            )
        ).json()["id"]
        taken = str(uuid.uuid4())
        batch = [
            {
                "id": record_id,
                "data": {
                    "beneficiary_id": person,
                    "activity_code": "pfa",
                    "service_date": "2026-02-03",
                },
            }
            for record_id in (str(uuid.uuid4()), taken, str(uuid.uuid4()))
        ]
        async with beneficiary_engine.connect() as other:
            columns = (
                await other.execute(
                    text(
                        "SELECT string_agg(column_name, ', ') FROM "
                        "information_schema.columns WHERE table_name = "
                        "'service_record' AND column_name <> 'id'"
                    )
                )
            ).scalar_one()
            await other.execute(
                text(
                    f"INSERT INTO service_record (id, {columns}) "
                    f"SELECT :taken, {columns} FROM service_record "
                    "WHERE id = :template"
                ),
                {"taken": uuid.UUID(taken), "template": uuid.UUID(template)},
            )

            async def commit_later() -> None:
                await asyncio.sleep(1.0)
                await other.commit()

            sent, _ = await asyncio.gather(
                alice.post("/v1/sync", {"service_records": batch}), commit_later()
            )
        results = sent.json()["results"]
        assert [x["status"] for x in results] == ["created", "conflict", "created"]
        assert results[1]["server_copy"]["service_date"] == "2026-02-01"
        assert await count_rows(beneficiary_engine, "service_record") == 4
        assert await count_rows(beneficiary_engine, "sync_conflict") == 1


class TestSQLite:
    async def test_the_embedded_database_takes_a_batch_with_executemany(
        self, tmp_path: Path
    ) -> None:
        async with embedded(tmp_path) as service:
            client = service.client
            org = await service.organisation()
            person = str(uuid.uuid4())
            batch = {
                "beneficiaries": [
                    {"id": person, "data": offline_person(), "consents": CONSENTS}
                ],
                "service_records": [
                    {
                        "id": str(uuid.uuid4()),
                        "data": {
                            "beneficiary_id": person,
                            "activity_code": "pfa",
                            "service_date": "2026-02-03",
                        },
                    }
                    for _ in range(3)
                ],
            }
            r = await client.post(
                "/v1/sync", json=batch, headers=service.bearer(org, Role.case_worker)
            )
            assert [x["status"] for x in r.json()["results"]] == ["created"] * 4
            engine: AsyncEngine = service.app.state.engine
            assert await count_rows(engine, "service_record") == 3
            assert await count_rows(engine, "outbox_event") == 6  # 1 + 2 + 3
            again = await client.post(
                "/v1/sync", json=batch, headers=service.bearer(org, Role.case_worker)
            )
            assert [x["status"] for x in again.json()["results"]] == ["unchanged"] * 4
            assert await count_rows(engine, "outbox_event") == 6


class TestPeople:
    async def test_random_people_write_the_same_rows_ledgers_and_events(
        self, alice: Caller, beneficiary_engine: AsyncEngine, site_ids: list[str]
    ) -> None:
        """People are written as plain rows by COPY in a batch: the same
        columns, blind indexes, readable PII, consent ledger, events and
        duplicate flags as a registration one by one."""
        rng = random.Random(20261205)
        people = [random_person(rng, rng.choice(site_ids)) for _ in range(30)]
        one_by_one = []
        for data in people:
            r = await alice.post("/v1/beneficiaries", {**data, "consents": CONSENTS})
            assert r.status_code == 201, r.text
            one_by_one.append(r.json()["id"])
        ids = [str(uuid.uuid4()) for _ in people]
        batch = [
            {"id": i, "data": data, "consents": CONSENTS}
            for i, data in zip(ids, people, strict=True)
        ]
        r = await alice.post("/v1/sync", {"beneficiaries": batch})
        assert r.status_code == 200, r.text
        assert [(x["status"], x["version"]) for x in r.json()["results"]] == [
            ("created", 1)
        ] * len(people)
        single = await people_as_written(beneficiary_engine, alice, one_by_one)
        bulk = await people_as_written(beneficiary_engine, alice, ids)
        for twin, a, b, data in zip(one_by_one, single, bulk, people, strict=True):
            assert b["row"] == a["row"]
            assert b["consents"] == a["consents"]
            assert b["events"] == a["events"]
            assert b["read"] == a["read"]
            same_name = "same_name_close_birth_year"  # the twin: same name and birth
            reasons = f"same_phone,{same_name}" if "phone" in data else same_name
            assert b["flags"][twin] == reasons

    async def test_a_person_sent_twice_in_a_batch_reads_their_new_ledger(
        self, alice: Caller
    ) -> None:
        """The second copy is answered from the consents the bulk writer
        just wrote (kept in memory for the batch), as one by one would."""
        person: dict[str, Any] = {"id": str(uuid.uuid4()), "data": offline_person()}
        person["consents"] = CONSENTS
        edited = {
            **person,
            "base_version": 1,
            "consent_version": 2,
            "data": {**person["data"], "marital_status": "widowed"},
        }
        r = await alice.post("/v1/sync", {"beneficiaries": [person, edited]})
        assert [(x["status"], x["version"]) for x in r.json()["results"]] == [
            ("created", 1),
            ("updated", 2),
        ]
        read = (await alice.get(f"/v1/beneficiaries/{person['id']}")).json()
        assert read["consent_version"] == 2
        assert {p: e["granted"] for p, e in read["consents"].items()} == {
            "registration": True,
            "services": True,
        }

    async def test_a_stale_copy_in_the_same_batch_gets_the_server_copy(
        self, alice: Caller
    ) -> None:
        person: dict[str, Any] = {"id": str(uuid.uuid4()), "data": offline_person()}
        person["consents"] = CONSENTS
        stale = {
            **person,
            "consent_version": 0,
            "consents": [
                {"purpose": "services", "granted": True, "form_version": "2025-1"}
            ],
        }
        r = await alice.post("/v1/sync", {"beneficiaries": [person, stale]})
        created, conflict = r.json()["results"]
        assert created["status"] == "created"
        assert conflict["status"] == "conflict", conflict
        assert set(conflict["server_copy"]["consents"]) == {"registration", "services"}

    async def test_a_consent_entry_id_is_one_persons_alone(
        self, alice: Caller, bob: Caller, beneficiary_engine: AsyncEngine
    ) -> None:
        """A batch looks its consent entry ids up in one query: an id a
        person of the organisation holds, or one an earlier person of the
        same batch took, refuses the new person; another organisation's id is
        a free one."""
        held, ours, theirs = (str(uuid.uuid4()) for _ in range(3))

        def person(entry_id: str) -> dict[str, Any]:
            consents = [{**CONSENTS[0], "id": entry_id}, CONSENTS[1]]
            return {
                "id": str(uuid.uuid4()),
                "data": offline_person(),
                "consents": consents,
            }

        first = await alice.post("/v1/sync", {"beneficiaries": [person(held)]})
        assert first.json()["results"][0]["status"] == "created"
        assert (await bob.post("/v1/sync", {"beneficiaries": [person(theirs)]})).json()[
            "results"
        ][0]["status"] == "created"
        before = await count_rows(beneficiary_engine, "consent_entry")
        batch = [person(held), person(ours), person(ours), person(theirs)]
        r = await alice.post("/v1/sync", {"beneficiaries": batch})
        statuses = [x["status"] for x in r.json()["results"]]
        assert statuses == ["rejected", "created", "rejected", "created"], r.text
        assert all(
            "consent entry with this id" in x["detail"]
            for x in r.json()["results"]
            if x["status"] == "rejected"
        )
        assert await count_rows(beneficiary_engine, "consent_entry") == before + 4


async def without_statistics(session: Any, table: str) -> None:
    """This transaction's ``table``: the table's own columns and indexes, no
    rows and no statistics, as in a new database (dropped at commit)."""
    await session.execute(
        text(
            f"CREATE TEMP TABLE {table} "
            f"(LIKE public.{table} INCLUDING INDEXES) ON COMMIT DROP"
        )
    )


@asynccontextmanager
async def ledger_without_statistics(
    engine: AsyncEngine, entries: str
) -> AsyncIterator[tuple[AsyncSession, uuid.UUID]]:
    """A transaction whose consent ledger has no statistics and holds
    ``entries`` (a SELECT of its columns; ``:o`` is the organisation it
    yields with the session)."""
    if engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL plans")
    organisation = uuid.uuid4()
    async with AsyncSession(engine) as session, session.begin():
        await without_statistics(session, "consent_entry")
        await session.execute(
            text(
                "INSERT INTO consent_entry (id, beneficiary_id, organisation_id, "
                "purpose, granted, form_version, recorded_by, recorded_at, "
                "sequence) " + entries
            ),
            {"o": organisation},
        )
        yield session, organisation


async def test_a_batch_finds_its_rows_by_key_in_a_table_never_analysed(
    beneficiary_engine: AsyncEngine,
) -> None:
    """A batch looks its ids up (``prefetch``) in tables that, in a new
    database's first import, grow from empty with no statistics. Each id must
    be one read of the key: with ``id = ANY(...)`` the plan read every row of
    the organisation and tested it against the array, once per batch, so an
    import got slower with every row it wrote."""
    from services.beneficiary.consent.models import ConsentEntry
    from shared.db import get_cached, prefetch

    async with ledger_without_statistics(
        beneficiary_engine,
        "SELECT gen_random_uuid(), gen_random_uuid(), :o, "
        "'registration', true, 'v1', 'x', now(), 1 "
        "FROM generate_series(1, 3000)",
    ) as (session, organisation):
        held = list(
            (
                await session.execute(text("SELECT id FROM consent_entry LIMIT 5"))
            ).scalars()
        )
        wanted = [*held, *(uuid.uuid4() for _ in range(5))]
        await prefetch(session, ConsentEntry, [(organisation, i) for i in wanted])
        read = await session.scalar(
            text(  # index entries and rows read in this transaction
                "SELECT sum(pg_stat_get_xact_tuples_returned(indexrelid)) "
                "+ pg_stat_get_xact_tuples_returned('consent_entry'::regclass) "
                "FROM pg_index WHERE indrelid = 'consent_entry'::regclass"
            )
        )
        kept = [
            await get_cached(session, ConsentEntry, (organisation, i)) for i in wanted
        ]
    assert read <= 2 * len(wanted), read
    assert [row is not None for row in kept] == [True] * 5 + [False] * 5


async def test_a_batch_reads_the_ledgers_of_its_people_only(
    beneficiary_engine: AsyncEngine,
) -> None:
    """The consents in force of a batch's people (``consents_in_force``), in
    a table with no statistics: each person's entries are read through the
    index on the person, not the whole organisation's ledger per batch."""
    from services.beneficiary.consent.service import consents_in_force

    async with ledger_without_statistics(
        beneficiary_engine,
        "SELECT gen_random_uuid(), p, :o, purpose, "
        "purpose = 'registration' OR n % 2 = 0, 'v1', 'x', now(), n "
        "FROM (SELECT gen_random_uuid() AS p FROM generate_series(1, 1500)) "
        "AS people, (VALUES ('registration'::consentpurpose, 1), "
        "('services', 2), ('services', 3)) AS e(purpose, n)",
    ) as (session, organisation):
        people = list(
            (
                await session.execute(
                    text("SELECT DISTINCT beneficiary_id FROM consent_entry LIMIT 5")
                )
            ).scalars()
        )
        wanted = [*people, uuid.uuid4()]
        counted = text(
            "SELECT sum(pg_stat_get_xact_tuples_returned(indexrelid)) "
            "FROM pg_index WHERE indrelid = 'consent_entry'::regclass"
        )
        before = await session.scalar(counted)
        in_force = await consents_in_force(session, organisation, wanted)
        read = await session.scalar(counted) - before
        in_force_now = {
            b: {p.value: e.granted for p, e in entries.items()}
            for b, entries in in_force.items()
        }
    assert read <= 3 * len(wanted), read  # three entries a person
    # the newest entry of each purpose is the one in force (services: the
    # withdrawal, sequence 3, after the grant, 2)
    assert in_force_now == {
        **{p: {"registration": True, "services": False} for p in people},
        wanted[-1]: {},
    }
