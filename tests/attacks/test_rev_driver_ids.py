"""Review of sync's sixth pass (wt-rev): ids in asyncpg's ``UUID`` class
(``new_id``, ``DriverId``, a batch's principal) and the batch's lock and
prefetch statements built once per caller. Attacked where an id goes in
Python (sorting, pickling, JSON, validation errors, fingerprints) and
through the API on PostgreSQL and the embedded SQLite default: scope
between callers, the lock under concurrent batches, replays after a
withdrawal or an erasure, and answers to ids in every accepted spelling."""

from __future__ import annotations

import asyncio
import copy
import json
import os
import pickle
import random
import re
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI
from fastapi.encoders import jsonable_encoder
from pydantic import TypeAdapter, ValidationError
from sqlalchemy import (
    Column,
    MetaData,
    Table,
    Uuid,
    bindparam,
    create_engine,
    select,
    text,
)
from sqlalchemy.ext.asyncio import AsyncEngine

from services.beneficiary.service_records.schemas import ServiceRecordCreate
from services.beneficiary.sync.schemas import SyncBatch
from shared import db as db_module
from shared.auth import Principal, Role
from shared.db import DriverId, as_driver_id, dump_json, new_id, sorted_ids
from shared.idempotency import REPLAYED_HEADER, fingerprints
from shared.queue import deserialize_job, serialize_job
from tests.beneficiary.api import (
    CONSENTS,
    ERASURE_REASON,
    WITHDRAW_REGISTRATION,
    break_glass,
    count_rows,
    embedded,
    offline_batch,
    offline_person,
    offline_record,
    withdraw_registration,
)
from tests.beneficiary.test_sync_groups import anonymous
from tests.beneficiary.test_sync_groups import group as sync_group
from tests.callers import Caller, Org

STANDARD = TypeAdapter(uuid.UUID)
DRIVER: TypeAdapter[uuid.UUID] = TypeAdapter(DriverId)


def _pair() -> tuple[uuid.UUID, uuid.UUID]:
    """One random id in each class."""
    made = new_id()
    return made, uuid.UUID(str(made))


def _statuses(answer: dict[str, Any]) -> list[tuple[str, str]]:
    return [(x["id"], x["status"]) for x in answer["results"]]


# -- the class, where an id goes in Python -------------------------------------


def test_rev_mixed_classes_order_as_their_numbers() -> None:
    """Comparisons across the two classes (a batch's driver ids beside ids
    parsed elsewhere) order as the numbers, in every direction, so a mixed
    list sorts as a list of standard ids does."""
    rng = random.Random(20261205)
    made = [new_id() for _ in range(300)]
    standard = [uuid.UUID(int=rng.getrandbits(128)) for _ in range(300)]
    mixed = made + standard + [uuid.UUID(str(x)) for x in made[:50]]
    rng.shuffle(mixed)
    for x, y in zip(mixed, mixed[1:], strict=False):
        assert (x < y) == (x.int < y.int)
        assert (x <= y) == (x.int <= y.int)
        assert (x > y) == (x.int > y.int)
        assert (x >= y) == (x.int >= y.int)
        assert (x == y) == (x.int == y.int)
    assert [x.int for x in sorted(mixed)] == sorted(x.int for x in mixed)
    assert [x.int for x in sorted_ids(mixed)] == sorted({x.int for x in mixed})
    assert min(mixed).int == min(x.int for x in mixed)
    assert max(mixed).int == max(x.int for x in mixed)


def test_rev_mixed_classes_find_each_other_in_sets_dicts_and_scopes() -> None:
    driver, standard = _pair()
    other = new_id()
    assert {driver, standard, as_driver_id(standard)} == {standard}
    assert len({driver: 1, standard: 2}) == 1
    assert frozenset([standard]) == frozenset([driver])
    principal = Principal(
        subject="s",
        organisation_id=uuid.uuid4(),
        roles=frozenset([Role.case_worker]),
        site_ids=frozenset([standard]),
    )
    assert principal.can_see_site(driver)
    assert not principal.can_see_site(other)
    driven = principal.model_copy(update={"site_ids": frozenset([driver])})
    assert driven == principal
    assert hash(driven) == hash(principal)
    assert driven.can_see_site(standard)


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_rev_pickled_and_copied_ids_stay_the_same_id(protocol: int) -> None:
    driver, standard = _pair()
    nested: dict[str, Any] = {"ids": [driver, (driver,)], "by": {str(driver): driver}}
    for value in (
        pickle.loads(pickle.dumps(driver, protocol=protocol)),
        copy.copy(driver),
        copy.deepcopy(driver),
        copy.deepcopy(nested)["ids"][0],
        pickle.loads(pickle.dumps(nested, protocol=protocol))["by"][str(driver)],
    ):
        assert value == standard == driver
        assert hash(value) == hash(standard)
        assert (str(value), repr(value), value.hex) == (
            str(standard),
            repr(standard),
            standard.hex,
        )
        assert (value.int, value.bytes, value.bytes_le, value.fields) == (
            standard.int,
            standard.bytes,
            standard.bytes_le,
            standard.fields,
        )
        assert isinstance(value, uuid.UUID)


def test_rev_every_json_writer_writes_the_ids_text() -> None:
    """The same text as for the standard class wherever JSON is made, and
    refused where it was refused (``json.dumps`` without a default, a value
    ``dump_json`` gives to ``json.dumps``)."""
    driver, standard = _pair()

    def value(x: uuid.UUID) -> dict[str, Any]:
        return {"id": x, "ids": [x, x], "in": {"deep": [{"x": x}]}, "n": 1.5}

    assert dump_json(value(driver)) == dump_json(value(standard))
    assert serialize_job(value(driver)) == serialize_job(value(standard))
    assert deserialize_job(serialize_job(value(driver)))["ids"] == [str(driver)] * 2
    assert json.dumps(value(driver), default=str) == json.dumps(
        value(standard), default=str
    )
    assert jsonable_encoder(value(driver)) == jsonable_encoder(value(standard))
    anything: TypeAdapter[Any] = TypeAdapter(dict[str, Any])
    assert anything.dump_json(value(driver)) == anything.dump_json(value(standard))
    assert STANDARD.dump_json(driver) == STANDARD.dump_json(standard)
    assert STANDARD.dump_python(driver, mode="json") == str(standard)
    for x in (driver, standard):
        with pytest.raises(TypeError, match="not JSON serializable"):
            json.dumps({"id": x})
        with pytest.raises(TypeError):  # orjson refuses the int, json.dumps the id
            dump_json({"id": x, "n": 2**70})
        with pytest.raises(TypeError):  # a datetime is refused as before
            dump_json({"id": x, "at": datetime.now(UTC)})
    with pytest.raises(TypeError):
        serialize_job({"at": datetime.now(UTC), "s": {1}})
    assert orjson.loads(dump_json([driver])) == [str(standard)]


BAD_IDS: list[Any] = [
    "",
    "not-an-id",
    "0" * 31,
    "0" * 33,
    "g" * 32,
    "12345678-1234-1234-1234-12345678901",
    "{12345678-1234-1234-1234-123456789012",
    " 12345678-1234-1234-1234-123456789012",
    "12345678-1234-1234-1234-123456789012\u0000",
    12,
    1.5,
    None,
    [],
    {},
    True,
]


@pytest.mark.parametrize("bad", BAD_IDS, ids=repr)
def test_rev_a_bad_id_is_refused_as_the_standard_class_refuses_it(bad: Any) -> None:
    for validate in ("validate_python", "validate_json"):
        sent = json.dumps(bad) if validate == "validate_json" else bad
        with pytest.raises(ValidationError) as standard:
            getattr(STANDARD, validate)(sent)
        with pytest.raises(ValidationError) as driver:
            getattr(DRIVER, validate)(sent)
        assert driver.value.errors(include_url=False) == standard.value.errors(
            include_url=False
        )


@pytest.mark.parametrize(
    "spelling",
    [
        str.upper,
        lambda s: "{" + s + "}",
        lambda s: "urn:uuid:" + s,
        lambda s: s.replace("-", ""),
    ],
    ids=["upper", "braces", "urn", "hex"],
)
def test_rev_every_accepted_spelling_is_the_same_id(spelling: Any) -> None:
    standard = uuid.uuid4()
    sent = spelling(str(standard))
    for parsed in (DRIVER.validate_python(sent), DRIVER.validate_json(f'"{sent}"')):
        assert parsed == standard
        assert str(parsed) == str(standard)
        assert type(parsed) is not uuid.UUID


def _with_standard_ids(batch: SyncBatch) -> SyncBatch:
    """The batch as the standard class held it before this pass."""
    return batch.model_copy(
        update={
            "service_records": [
                c.model_copy(
                    update={
                        "id": uuid.UUID(str(c.id)),
                        "data": c.data.model_copy(
                            update={
                                "beneficiary_id": uuid.UUID(str(c.data.beneficiary_id))
                            }
                        ),
                    }
                )
                for c in batch.service_records
            ],
            "beneficiaries": [
                c.model_copy(update={"id": uuid.UUID(str(c.id))})
                for c in batch.beneficiaries
            ],
        }
    )


def test_rev_an_idempotency_key_kept_before_the_pass_still_matches(
    beneficiary_app: FastAPI,
) -> None:
    """A request's fingerprint (what a kept Idempotency-Key is matched on)
    is the one the standard class gave: a retry after the upgrade replays."""
    keyring = beneficiary_app.state.runtime.keyring
    body = offline_batch()
    body["service_records"][0]["data"]["beneficiary_id"] = body["beneficiaries"][0][
        "id"
    ].upper()
    batch = SyncBatch.model_validate(body)
    assert type(batch.service_records[0].id) is not uuid.UUID
    before = _with_standard_ids(batch)
    assert type(before.service_records[0].id) is uuid.UUID
    route = "POST /v1/sync"
    assert fingerprints(keyring, route, batch) == fingerprints(keyring, route, before)
    single = ServiceRecordCreate.model_validate(body["service_records"][1]["data"])
    old = single.model_copy(
        update={"beneficiary_id": uuid.UUID(str(single.beneficiary_id))}
    )
    route = "POST /v1/service-records"
    assert fingerprints(keyring, route, single) == fingerprints(keyring, route, old)


# -- ids through the API on PostgreSQL ------------------------------------------


def _uuid_error(path: list[str | int], bad: str) -> dict[str, Any]:
    """The standard class's refusal of ``bad`` at ``path``, as the API words it."""
    with pytest.raises(ValidationError) as refused:
        STANDARD.validate_python(bad)
    [error] = refused.value.errors()
    return {"loc": ["body", *path], "msg": error["msg"], "type": error["type"]}


@pytest.mark.parametrize(
    ("where", "bad"),
    [
        ("record", "not-an-id"),
        ("record_person", "1234"),
        ("person", "zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz"),
        ("single", "12345678-1234-1234-1234-12345678901"),
    ],
)
async def test_rev_a_bad_id_gets_the_same_problem(
    alice: Caller, beneficiary_engine: AsyncEngine, where: str, bad: str
) -> None:
    batch = offline_batch()
    person = batch["beneficiaries"][0]["id"]
    path: list[str | int]
    if where == "record":
        batch["service_records"][1]["id"] = bad
        path = ["service_records", 1, "id"]
    elif where == "record_person":
        batch["service_records"][0]["data"]["beneficiary_id"] = bad
        path = ["service_records", 0, "data", "beneficiary_id"]
    elif where == "person":
        batch["beneficiaries"][0]["id"] = bad
        path = ["beneficiaries", 0, "id"]
    if where == "single":
        body = {**offline_record(person)["data"], "beneficiary_id": bad}
        r = await alice.post("/v1/service-records", body)
        path = ["beneficiary_id"]
    else:
        r = await alice.post("/v1/sync", batch)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["errors"] == [_uuid_error(path, bad)]
    assert await count_rows(beneficiary_engine, "outbox_event") == 0


async def test_rev_ids_in_any_spelling_are_answered_and_replayed_as_one(
    alice: Caller, beneficiary_engine: AsyncEngine
) -> None:
    batch = offline_batch()
    person = batch["beneficiaries"][0]["id"]
    canonical = [person] + [c["id"] for c in batch["service_records"]]
    spelt = copy.deepcopy(batch)
    spelt["beneficiaries"][0]["id"] = person.upper()
    spelt["service_records"][0]["id"] = "{" + canonical[1] + "}"
    spelt["service_records"][0]["data"]["beneficiary_id"] = "urn:uuid:" + person
    spelt["service_records"][1]["id"] = canonical[2].replace("-", "").upper()
    spelt["service_records"][1]["data"]["beneficiary_id"] = person.replace("-", "")
    r = await alice.post("/v1/sync", spelt)
    assert r.status_code == 200, r.text
    assert _statuses(r.json()) == [(i, "created") for i in canonical]
    events = await count_rows(beneficiary_engine, "outbox_event")
    for again in (batch, spelt):
        r = await alice.post("/v1/sync", again)
        assert _statuses(r.json()) == [(i, "unchanged") for i in canonical]
    assert await count_rows(beneficiary_engine, "outbox_event") == events
    assert await count_rows(beneficiary_engine, "service_record") == 2
    listed = await alice.get("/v1/service-records", params={"beneficiary_id": person})
    assert sorted(x["id"] for x in listed.json()["items"]) == sorted(canonical[1:])
    assert {x["beneficiary_id"] for x in listed.json()["items"]} == {person}
    async with beneficiary_engine.connect() as connection:
        facts = (
            await connection.execute(
                text(
                    "SELECT entity_id::text, data->>'beneficiary_id' FROM outbox_event "
                    "WHERE entity_type = 'service_record'"
                )
            )
        ).all()
    assert sorted(facts) == sorted((i, person) for i in canonical[1:])


async def test_rev_server_made_ids_are_random_version_4_and_distinct(
    alice: Caller, issue: Any, beneficiary_engine: AsyncEngine
) -> None:
    """Every id the server makes on the sync and single-write paths (events,
    audit rows, consent entries, records, duplicate flags, conflicts)."""
    batch = offline_batch()
    twin = {
        "id": str(uuid.uuid4()),
        "data": {**batch["beneficiaries"][0]["data"]},
        "consents": CONSENTS,
    }
    batch["beneficiaries"].append(twin)  # a duplicate flag
    r = await alice.post("/v1/sync", batch)
    assert [s for _, s in _statuses(r.json())] == ["created"] * 4, r.text
    person = batch["beneficiaries"][0]["id"]
    single = await alice.post("/v1/service-records", offline_record(person)["data"])
    assert single.status_code == 201, single.text
    stale = {**batch["service_records"][0], "base_version": 1}
    online = await alice.patch(
        f"/v1/service-records/{stale['id']}",
        {"duration_minutes": 30},
        headers={"If-Match": '"1"'},
    )
    assert online.status_code == 200, online.text
    stale["data"] = {**stale["data"], "duration_minutes": 45}
    r = await alice.post("/v1/sync", {"service_records": [stale]})
    assert _statuses(r.json())[0][1] == "conflict", r.text
    supervisor = issue(alice.org, Role.supervisor)
    assert (await supervisor.get(f"/v1/beneficiaries/{person}")).status_code == 200
    made: dict[str, list[uuid.UUID]] = {}
    async with beneficiary_engine.connect() as connection:
        for table, where in (
            ("outbox_event", "true"),
            ("audit_entry", "true"),
            ("consent_entry", "true"),
            ("service_record", f"id = '{single.json()['id']}'"),
            ("duplicate_candidate", "true"),
            ("sync_conflict", "true"),
        ):
            rows = await connection.execute(
                text(f"SELECT id FROM {table} WHERE {where}")
            )
            made[table] = [uuid.UUID(str(i)) for (i,) in rows]
    assert all(made.values()), {k: len(v) for k, v in made.items()}
    every = [i for ids in made.values() for i in ids]
    assert len(set(every)) == len(every)
    for made_id in every:
        assert (made_id.version, made_id.variant) == (4, uuid.RFC_4122)


# -- the lock and prefetch statements, kept per caller ---------------------------


async def test_rev_two_organisations_sending_the_same_ids_each_get_their_own(
    alice: Caller, bob: Caller, beneficiary_engine: AsyncEngine
) -> None:
    batch = offline_batch()
    ids = [batch["beneficiaries"][0]["id"]] + [
        c["id"] for c in batch["service_records"]
    ]
    first = await asyncio.gather(
        alice.post("/v1/sync", batch), bob.post("/v1/sync", batch)
    )
    for r in first:
        assert _statuses(r.json()) == [(i, "created") for i in ids], r.text
    person = batch["beneficiaries"][0]
    edit = {
        **person,
        "base_version": 1,
        "data": {**person["data"], "marital_status": "widowed"},
    }
    r = await bob.post("/v1/sync", {"beneficiaries": [edit]})
    assert _statuses(r.json()) == [(ids[0], "updated")]
    again = await asyncio.gather(
        alice.post("/v1/sync", batch), bob.post("/v1/sync", batch)
    )
    assert _statuses(again[0].json()) == [(i, "unchanged") for i in ids]
    # bob's device still sends version 1's content: his newer version stays
    assert again[1].json()["results"][0]["status"] == "conflict"
    mine = (await alice.get(f"/v1/beneficiaries/{ids[0]}")).json()
    theirs = (await bob.get(f"/v1/beneficiaries/{ids[0]}")).json()
    assert (mine["version"], mine["marital_status"]) == (1, "married")
    assert (theirs["version"], theirs["marital_status"]) == (2, "widowed")
    assert mine["organisation_id"] != theirs["organisation_id"]
    assert await count_rows(beneficiary_engine, "beneficiary") == 2
    assert await count_rows(beneficiary_engine, "service_record") == 4


async def test_rev_a_site_scoped_worker_reaches_only_its_sites_as_its_scope_changes(
    alice: Caller, issue: Any, site_ids: list[str]
) -> None:
    """A worker's site scope is its token's: the statement kept for one scope
    never serves another, whichever came first, for people and records."""
    near, far = site_ids[0], site_ids[1]
    batch = offline_batch()
    person = batch["beneficiaries"][0]
    person["data"]["site_id"] = far
    for change in batch["service_records"]:
        change["data"]["site_id"] = far
    r = await alice.post("/v1/sync", batch)
    assert [s for _, s in _statuses(r.json())] == ["created"] * 3, r.text
    record = batch["service_records"][0]

    def edits(version: int, status: str) -> dict[str, Any]:
        return {
            "beneficiaries": [
                {
                    **person,
                    "base_version": version,
                    "data": {**person["data"], "marital_status": status},
                }
            ],
            "service_records": [
                {
                    **record,
                    "base_version": version,
                    "data": {**record["data"], "duration_minutes": 10 + version},
                }
            ],
        }

    def worker(*sites: str) -> Caller:
        caller: Caller = issue(
            alice.org, Role.case_worker, subject="walid", sites=list(sites)
        )
        return caller

    version = 1
    for sites, reaches in (
        ((near,), False),
        ((near, far), True),
        ((near,), False),
        ((far,), True),
        ((near,), False),
    ):
        status = ["single", "widowed", "divorced", "separated", "single"][version]
        r = await worker(*sites).post("/v1/sync", edits(version, status))
        assert r.status_code == 200, r.text
        statuses = [s for _, s in _statuses(r.json())]
        if reaches:
            assert statuses == ["updated", "updated"], (sites, r.text)
            version += 1
        else:
            assert statuses == ["rejected", "rejected"], (sites, r.text)
        # the unscoped caller between them is not narrowed by the worker's
        read = await alice.get(f"/v1/beneficiaries/{person['id']}")
        assert read.json()["version"] == version
    assert version == 3
    listed = await worker(near).get(
        "/v1/service-records", params={"beneficiary_id": person["id"]}
    )
    assert listed.status_code in (200, 404)
    assert listed.status_code == 404 or not listed.json()["items"]


async def test_rev_a_team_scoped_worker_reaches_only_its_teams_records(
    alice: Caller, issue: Any
) -> None:
    """Two workers differing only in their team are two scopes."""
    manager = issue(alice.org, Role.programme_manager)
    teams = []
    for name in ("Mobile 1", "Mobile 2"):
        r = await manager.post("/v1/teams", {"name": name, "kind": "mobile"})
        assert r.status_code == 201, r.text
        teams.append(r.json()["id"])
    mine = issue(alice.org, Role.case_worker, subject="tara", team=teams[0])
    theirs = issue(alice.org, Role.case_worker, subject="tara", team=teams[1])
    batch = offline_batch()
    r = await mine.post("/v1/sync", batch)
    assert [s for _, s in _statuses(r.json())] == ["created"] * 3, r.text
    person = batch["beneficiaries"][0]
    edit = {
        **person,
        "base_version": 1,
        "data": {**person["data"], "marital_status": "widowed"},
    }
    r = await theirs.post("/v1/sync", {"beneficiaries": [edit]})
    assert _statuses(r.json()) == [(person["id"], "rejected")], r.text
    r = await mine.post("/v1/sync", {"beneficiaries": [edit]})
    assert _statuses(r.json()) == [(person["id"], "updated")], r.text


async def test_rev_concurrent_edits_of_one_person_by_one_caller_lose_nothing(
    alice: Caller, beneficiary_engine: AsyncEngine
) -> None:
    """The batch's kept lock statement still locks: two batches of the same
    caller editing the same version of a person and of a record at once
    give one update and one conflict each, never two updates."""
    batch = offline_batch()
    r = await alice.post("/v1/sync", batch)
    assert r.status_code == 200, r.text
    person = batch["beneficiaries"][0]
    record = batch["service_records"][0]
    for round_ in range(3):
        version = round_ + 1

        def edit(phone: str, minutes: int) -> dict[str, Any]:
            return {
                "beneficiaries": [
                    {
                        **person,
                        "base_version": version,  # noqa: B023
                        "data": {**person["data"], "phone": phone},
                    }
                ],
                "service_records": [
                    {
                        **record,
                        "base_version": version,  # noqa: B023
                        "data": {**record["data"], "duration_minutes": minutes},
                    }
                ],
            }

        answers = await asyncio.gather(
            alice.post("/v1/sync", edit(f"0770 100 00{round_}1", 20 + round_)),
            alice.post("/v1/sync", edit(f"0770 100 00{round_}2", 40 + round_)),
        )
        for r in answers:
            assert r.status_code == 200, r.text
        for n in range(2):
            outcomes = sorted(a.json()["results"][n]["status"] for a in answers)
            assert outcomes == ["conflict", "updated"], (round_, outcomes)
    read = (await alice.get(f"/v1/beneficiaries/{person['id']}")).json()
    assert read["version"] == 4
    assert await count_rows(beneficiary_engine, "sync_conflict") == 6


async def test_rev_a_wider_caller_after_a_narrow_one_still_locks_its_rows(
    alice: Caller, issue: Any, site_ids: list[str]
) -> None:
    """The lock's scope is the caller's own: after a worker of one site sent
    a batch, the same worker given a second site (a new token) locks that
    site's people and records too, so two of its batches at once editing
    the same version give one update and one conflict, never two updates
    (a statement kept for the narrower scope would lock nothing there)."""
    near, far = site_ids[0], site_ids[1]
    person: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "data": offline_person(site_id=far),
    }
    record = offline_record(person["id"], site_id=far)
    # written one by one: the worker's is the organisation's first batch
    body = {"id": person["id"], **person["data"], "consents": CONSENTS}
    r = await alice.post("/v1/beneficiaries", body)
    assert r.status_code == 201, r.text
    r = await alice.post("/v1/service-records", {"id": record["id"], **record["data"]})
    assert r.status_code == 201, r.text
    narrow = issue(alice.org, Role.case_worker, subject="walid", sites=[near])
    wide = issue(alice.org, Role.case_worker, subject="walid", sites=[near, far])

    def edit(version: int, phone: str, minutes: int) -> dict[str, Any]:
        return {
            "beneficiaries": [
                {
                    **person,
                    "base_version": version,
                    "data": {**person["data"], "phone": phone},
                }
            ],
            "service_records": [
                {
                    **record,
                    "base_version": version,
                    "data": {**record["data"], "duration_minutes": minutes},
                }
            ],
        }

    for version in (1, 2, 3):
        r = await narrow.post("/v1/sync", edit(version, "0770 200 0000", 5))
        assert [s for _, s in _statuses(r.json())] == ["rejected"] * 2, r.text
        answers = await asyncio.gather(
            wide.post(
                "/v1/sync", edit(version, f"0770 200 00{version}1", 20 + version)
            ),
            wide.post(
                "/v1/sync", edit(version, f"0770 200 00{version}2", 40 + version)
            ),
        )
        for n in range(2):
            outcomes = sorted(a.json()["results"][n]["status"] for a in answers)
            assert outcomes == ["conflict", "updated"], (version, outcomes)
    read = await alice.get(f"/v1/beneficiaries/{person['id']}")
    assert read.json()["version"] == 4


async def test_rev_one_caller_sending_one_batch_twice_at_once_writes_it_once(
    alice: Caller, beneficiary_engine: AsyncEngine
) -> None:
    """Each record is created by one of the two; the other answers it
    unchanged or refuses it (``CLASH``, as before this pass), and sent
    again every record is unchanged: nothing lost, nothing doubled."""
    people: list[dict[str, Any]] = [
        {"id": str(uuid.uuid4()), "data": offline_person(), "consents": CONSENTS}
        for _ in range(8)
    ]
    records = [offline_record(people[n % 8]["id"]) for n in range(16)]
    batch = {"beneficiaries": people, "service_records": records}
    answers = await asyncio.gather(
        alice.post("/v1/sync", batch), alice.post("/v1/sync", batch)
    )
    for r in answers:
        assert r.status_code == 200, r.text
    ids = [c["id"] for c in people + records]
    for n, record_id in enumerate(ids):
        results = [a.json()["results"][n] for a in answers]
        assert {x["id"] for x in results} == {record_id}
        got = sorted(x["status"] for x in results)
        assert got in (["created", "unchanged"], ["created", "rejected"]), results
        for x in results:
            if x["status"] == "rejected":
                assert x["detail"] in CLASH, x
    r = await alice.post("/v1/sync", batch)
    assert _statuses(r.json()) == [(i, "unchanged") for i in ids]
    assert await count_rows(beneficiary_engine, "beneficiary") == 8
    assert await count_rows(beneficiary_engine, "service_record") == 16
    assert await count_rows(beneficiary_engine, "consent_entry") == 16
    assert await count_rows(beneficiary_engine, "outbox_event") == 8 * 3 + 16


CLASH = (
    "The record clashes with an existing one; send it again.",
    "No such beneficiary.",  # a record whose person clashed in this batch
)
"""Refusals of a record that the other of two batches sent at once created."""


async def test_rev_a_scoped_worker_stays_scoped_among_many_callers(
    alice: Caller, issue: Any, site_ids: list[str]
) -> None:
    """Whoever sent batches before (other workers, the unscoped caller), a
    worker of one site still reaches no one at another, and the unscoped
    caller after it everyone; the statements kept are one per dialect,
    model and lock, whoever calls (the organisation is a parameter)."""
    near, far = site_ids[0], site_ids[1]
    batch = offline_batch()
    person = batch["beneficiaries"][0]
    person["data"]["site_id"] = far
    batch["service_records"] = []
    r = await alice.post("/v1/sync", batch)
    assert r.status_code == 200, r.text
    scoped = issue(alice.org, Role.case_worker, subject="nadia", sites=[near])

    async def edit_by(caller: Caller, version: int) -> str:
        change = {
            **person,
            "base_version": version,
            "data": {**person["data"], "phone": f"0770 000 00{version:02d}"},
        }
        r = await caller.post(
            "/v1/sync",
            {"beneficiaries": [change], "service_records": [offline_record(near)]},
        )
        assert r.status_code == 200, r.text
        status: str = r.json()["results"][0]["status"]
        return status

    assert await edit_by(scoped, 1) == "rejected"
    for n in range(6):
        other = issue(alice.org, Role.case_worker, subject=f"other-{n}", sites=[far])
        await edit_by(other, 99)
    assert await edit_by(scoped, 1) == "rejected"
    assert await edit_by(alice, 1) == "updated"
    assert await edit_by(scoped, 2) == "rejected"
    for dialect, _model, lock in db_module._PREFETCH:  # not one per caller
        assert dialect in ("postgresql", "sqlite")
        assert isinstance(lock, bool)
    locking = {model.__name__ for _, model, lock in db_module._PREFETCH if lock}
    assert locking == {"Beneficiary", "ServiceRecord"}


# -- old and repeated requests ----------------------------------------------------


async def test_rev_an_old_batch_after_a_withdrawal_then_an_erasure_undoes_neither(
    alice: Caller, issue: Any, orgs: dict[str, Org], beneficiary_engine: AsyncEngine
) -> None:
    batch = offline_batch()
    person = batch["beneficiaries"][0]["id"]
    kept = [c["id"] for c in batch["service_records"]]
    r = await alice.post("/v1/sync", batch)
    assert r.status_code == 200, r.text
    path = f"/v1/beneficiaries/{person}/consents"
    withdrawn = {**CONSENTS[1], "granted": False}
    r = await alice.post(path, [withdrawn])
    assert r.status_code == 201, r.text
    late = offline_record(person)
    old = {**batch, "service_records": [*batch["service_records"], late]}
    answers = []
    for key in ("old-1", "old-1", None):
        headers = {"Idempotency-Key": key} if key else {}
        r = await alice.post("/v1/sync", old, headers=headers)
        assert r.status_code == 200, r.text
        answers.append(r.json()["results"])
        consents = (await alice.get(f"/v1/beneficiaries/{person}")).json()["consents"]
        assert consents["services"]["granted"] is False
    assert answers[0] == answers[1] == answers[2]
    statuses = dict(_statuses({"results": answers[0]}))
    assert statuses[late["id"]] == "rejected"
    assert [statuses[i] for i in kept] == ["unchanged", "unchanged"]
    listed = await alice.get("/v1/service-records", params={"beneficiary_id": person})
    assert sorted(x["id"] for x in listed.json()["items"]) == sorted(kept)

    r = await withdraw_registration(issue, orgs["a"], person)
    assert r.status_code == 201, r.text
    entries = await count_rows(beneficiary_engine, "consent_entry")
    events = await count_rows(beneficiary_engine, "outbox_event")
    for key in ("old-2", "old-2", None):
        headers = {"Idempotency-Key": key} if key else {}
        r = await alice.post("/v1/sync", old, headers=headers)
        assert r.status_code == 200, r.text
        statuses = dict(_statuses(r.json()))
        assert statuses[person] == "rejected"
        assert statuses[late["id"]] == "rejected"
    assert await count_rows(beneficiary_engine, "consent_entry") == entries
    assert await count_rows(beneficiary_engine, "outbox_event") == events
    admin = issue(orgs["a"], Role.admin)
    read = (await admin.get(f"/v1/beneficiaries/{person}")).json()
    assert read["full_name"] != batch["beneficiaries"][0]["data"]["full_name"]


async def test_rev_a_single_write_retried_in_another_spelling_is_replayed(
    alice: Caller,
) -> None:
    batch = offline_batch()
    batch["service_records"] = []
    r = await alice.post("/v1/sync", batch)
    assert r.status_code == 200, r.text
    person = batch["beneficiaries"][0]["id"]
    body = offline_record(person)["data"]
    key = {"Idempotency-Key": "single-1"}
    first = await alice.post("/v1/service-records", body, headers=key)
    assert first.status_code == 201, first.text
    again = await alice.post(
        "/v1/service-records", {**body, "beneficiary_id": person.upper()}, headers=key
    )
    assert again.status_code == 201, again.text
    assert again.headers.get(REPLAYED_HEADER) == "true"
    assert again.json() == first.json()
    assert first.json()["beneficiary_id"] == person
    other = await alice.post(
        "/v1/service-records", {**body, "duration_minutes": 5}, headers=key
    )
    assert other.status_code == 422 or other.status_code == 409, other.text


async def test_rev_a_conflict_sent_again_in_another_spelling_is_kept_once(
    alice: Caller, issue: Any, beneficiary_engine: AsyncEngine
) -> None:
    batch = offline_batch()
    r = await alice.post("/v1/sync", batch)
    assert r.status_code == 200, r.text
    record = batch["service_records"][0]
    person = record["data"]["beneficiary_id"]
    online = await alice.patch(
        f"/v1/service-records/{record['id']}",
        {"duration_minutes": 30},
        headers={"If-Match": '"1"'},
    )
    assert online.status_code == 200, online.text
    stale = {
        **record,
        "base_version": 1,
        "data": {**record["data"], "duration_minutes": 45},
    }
    spelt = {
        **stale,
        "id": record["id"].upper(),
        "data": {**stale["data"], "beneficiary_id": "{" + person.upper() + "}"},
    }
    conflicts = set()
    for change in (stale, spelt, stale):
        r = await alice.post("/v1/sync", {"service_records": [change]})
        [result] = r.json()["results"]
        assert (result["id"], result["status"]) == (record["id"], "conflict")
        conflicts.add(result["conflict_id"])
        assert result["server_copy"]["beneficiary_id"] == person
    assert len(conflicts) == 1
    assert await count_rows(beneficiary_engine, "sync_conflict") == 1
    supervisor = issue(alice.org, Role.supervisor)
    [kept] = (await supervisor.get("/v1/sync/conflicts")).json()["items"]
    assert kept["entity_id"] == record["id"]
    assert kept["client_version"]["beneficiary_id"] == person


# -- the embedded SQLite default ------------------------------------------------


async def test_rev_the_embedded_database_keeps_scope_spelling_and_replays(
    tmp_path: Path,
) -> None:
    async with embedded(tmp_path) as service:
        client, bearer = service.client, service.bearer
        org = await service.organisation()
        everyone = bearer(org, Role.case_worker)
        r = await client.get(
            "/v1/locations", params={"level": "site"}, headers=everyone
        )
        near, far = [s["id"] for s in r.json()["items"]][:2]
        person = str(uuid.uuid4())
        data = offline_person(site_id=far)
        records = [offline_record(person, site_id=far) for _ in range(2)]
        new = {"id": person.upper(), "data": data, "consents": CONSENTS}
        edit = {**new, "id": person, "base_version": 1}
        edit["data"] = {**data, "marital_status": "widowed"}
        batch = {"beneficiaries": [new, edit], "service_records": records}
        r = await client.post("/v1/sync", json=batch, headers=everyone)
        assert r.status_code == 200, r.text
        ids = [person, person] + [c["id"] for c in records]
        assert _statuses(r.json()) == list(
            zip(ids, ["created", "updated", "created", "created"], strict=True)
        )
        r = await client.post("/v1/sync", json=batch, headers=everyone)
        assert [s for _, s in _statuses(r.json())][2:] == ["unchanged"] * 2
        again = {
            **edit,
            "base_version": 2,
            "data": {**data, "marital_status": "single"},
        }
        for sites, expected in (
            ([near], "rejected"),
            ([near, far], "updated"),
            ([near], "rejected"),
        ):
            r = await client.post(
                "/v1/sync",
                json={"beneficiaries": [again]},
                headers=bearer(org, Role.case_worker, sites),
            )
            assert _statuses(r.json()) == [(person, expected)], (sites, r.text)
            if expected == "updated":
                again = {**again, "base_version": 3}
        read = await client.get(f"/v1/beneficiaries/{person}", headers=everyone)
        assert (read.json()["version"], read.json()["marital_status"]) == (3, "single")


async def test_rev_a_break_glass_holders_concurrent_edits_lose_nothing(
    alice: Caller, issue: Any, site_ids: list[str]
) -> None:
    """A worker of one site holding a break-glass grant on a person of
    another site may edit them by sync; two of its batches at once editing
    the same version must give one update and one conflict. The batch's
    lock was once scoped by the caller's sites, not its grants: the rows it
    reaches through a grant must be locked too."""
    near, far = site_ids[0], site_ids[1]
    person: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "data": offline_person(site_id=far),
    }
    body = {"id": person["id"], **person["data"], "consents": CONSENTS}
    r = await alice.post("/v1/beneficiaries", body)
    assert r.status_code == 201, r.text
    lina = issue(alice.org, Role.case_worker, subject="lina", sites=[near])
    r = await break_glass(lina, person["id"])
    assert r.status_code == 201, r.text

    def edit(version: int, phone: str) -> dict[str, Any]:
        change = {
            **person,
            "base_version": version,
            "data": {**person["data"], "phone": phone},
        }
        return {"beneficiaries": [change]}

    for version in (1, 2, 3):
        answers = await asyncio.gather(
            lina.post("/v1/sync", edit(version, f"0770 300 00{version}1")),
            lina.post("/v1/sync", edit(version, f"0770 300 00{version}2")),
        )
        outcomes = sorted(a.json()["results"][0]["status"] for a in answers)
        if version == 1 and outcomes == ["rejected", "rejected"]:
            pytest.skip(f"a grant does not open edits by sync: {answers[0].text}")
        assert outcomes == ["conflict", "updated"], (version, outcomes)
    read = await alice.get(f"/v1/beneficiaries/{person['id']}")
    assert read.json()["version"] == 4


WITHDRAWN_MEANWHILE = """
INSERT INTO consent_entry
SELECT gen_random_uuid(), beneficiary_id, organisation_id, purpose, false,
       form_version, agency, 'supervisor', now(), sequence + 10
FROM consent_entry WHERE beneficiary_id = :id AND purpose = 'services'
"""
"""Services consent withdrawn, as a withdrawal's transaction writes it."""


@pytest.mark.parametrize("through_a_grant", [False, True], ids=["own_site", "grant"])
async def test_rev_a_withdrawal_committing_meanwhile_stops_the_batchs_record(
    alice: Caller,
    issue: Any,
    site_ids: list[str],
    beneficiary_engine: AsyncEngine,
    through_a_grant: bool,
) -> None:
    """A service recorded by a batch is checked against the person's
    consents under the person's lock (``record_service(locked=True)``, the
    batch's ``_load_batch``): a withdrawal holding that lock when the batch
    arrives is seen once it commits, and the service is refused, whether
    the caller sees the person at their own site or through a break-glass
    grant."""
    near, far = site_ids[0], site_ids[1]
    person = str(uuid.uuid4())
    body = {"id": person, **offline_person(site_id=far), "consents": CONSENTS}
    r = await alice.post("/v1/beneficiaries", body)
    assert r.status_code == 201, r.text
    caller = alice
    if through_a_grant:
        caller = issue(alice.org, Role.case_worker, subject="lina", sites=[near])
        r = await break_glass(caller, person)
        assert r.status_code == 201, r.text
    site = near if through_a_grant else far  # a service where they work
    async with beneficiary_engine.connect() as connection:
        transaction = await connection.begin()
        await connection.execute(
            text("SELECT id FROM beneficiary WHERE id = :id FOR UPDATE"), {"id": person}
        )
        await connection.execute(text(WITHDRAWN_MEANWHILE), {"id": person})
        sent = asyncio.ensure_future(
            caller.post(
                "/v1/sync", {"service_records": [offline_record(person, site_id=site)]}
            )
        )
        await asyncio.sleep(1.0)
        await transaction.commit()
        r = await sent
    assert r.status_code == 200, r.text
    assert _statuses(r.json())[0][1] == "rejected", r.text
    listed = await alice.get("/v1/service-records", params={"beneficiary_id": person})
    assert listed.json()["items"] == [], "a service recorded after the withdrawal"


# -- every answer as before this pass --------------------------------------------

TRANSCRIPT = Path(__file__).parent / "data" / "rev_driver_ids_transcript.json"
"""The scenario's answers as the code before this pass gave them (3030b11),
server-made ids, codes and times replaced by placeholders in the order
they first appear (``REV_WRITE_TRANSCRIPT=1`` writes it instead)."""
_UUID_TEXT = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_TIME_TEXT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d")


def _normal(value: Any, fixed: set[str], names: dict[str, str]) -> Any:
    if isinstance(value, dict):
        return {
            k: "<code>" if k == "code" else _normal(v, fixed, names)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_normal(v, fixed, names) for v in value]
    if isinstance(value, str):
        if _TIME_TEXT.match(value):
            return "<time>"

        def name(found: re.Match[str]) -> str:
            text_ = found.group(0)
            if text_ in fixed:
                return text_
            return names.setdefault(text_, f"<id{len(names)}>")

        return _UUID_TEXT.sub(name, value)
    return value


async def test_rev_every_answer_of_a_scenario_is_the_one_given_before(
    alice: Caller, issue: Any, orgs: dict[str, Org]
) -> None:
    """Creations, replays, edits, conflicts, refusals, a withdrawal and an
    erasure then an old batch, single writes with a key, a bad id: each
    answer (status and body) as before ids changed class."""
    rng = random.Random(20261205)
    made = [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(12)]
    p0, p1, p2, p3, r0, r1, r2, r3, r4, r5, r6, _ = made
    supervisor = issue(orgs["a"], Role.supervisor, subject="sam")
    said: list[Any] = []

    async def say(label: str, r: httpx.Response) -> None:
        said.append([label, r.status_code, r.headers.get(REPLAYED_HEADER), r.json()])

    def person(pid: str, name: str, consents: list[Any]) -> dict[str, Any]:
        data = offline_person(full_name=name, phone=None)
        return {"id": pid, "data": data, "consents": consents}

    def record(rid: str, pid: str, activity: str = "pfa") -> dict[str, Any]:
        return {
            "id": rid,
            "data": {
                "beneficiary_id": pid,
                "activity_code": activity,
                "service_date": "2026-02-20",
                "modality": "in_person",
            },
        }

    people = [
        person(p0, "Huda Kareem", CONSENTS),
        person(p1, "Huda Kareem", CONSENTS),  # a possible duplicate
        person(p2, "No Consent", []),
    ]
    records = [
        record(r0, p0),
        record(r1, p1, "remote_pfa"),
        record(r2, p0, "no_such_activity"),
        record(r3, p2),
    ]
    batch = {"device_id": "tab-1", "beneficiaries": people, "service_records": records}
    await say("first", await alice.post("/v1/sync", batch))
    await say("again", await alice.post("/v1/sync", batch))
    edit = {**people[0], "base_version": 1}
    edit["data"] = {**edit["data"], "marital_status": "widowed"}
    await say("edit", await alice.post("/v1/sync", {"beneficiaries": [edit]}))
    await say("edit again", await alice.post("/v1/sync", {"beneficiaries": [edit]}))
    online = await alice.patch(
        f"/v1/beneficiaries/{p1}",
        {"marital_status": "divorced"},
        headers={"If-Match": '"1"'},
    )
    await say("online edit", online)
    stale = {**people[1], "base_version": 1}
    stale["data"] = {**stale["data"], "phone": "0770 555 6666"}
    for label in ("stale", "stale again"):
        r = await alice.post(
            "/v1/sync", {"device_id": "tab-2", "beneficiaries": [stale]}
        )
        await say(label, r)
    fix = {**records[0], "base_version": 1}
    fix["data"] = {**fix["data"], "duration_minutes": 30}
    await say("record edit", await alice.post("/v1/sync", {"service_records": [fix]}))
    withdrawn = {**CONSENTS[1], "granted": False}
    await say(
        "withdrawal", await alice.post(f"/v1/beneficiaries/{p0}/consents", [withdrawn])
    )
    late = {**batch, "service_records": [*records, record(r4, p0)]}
    await say("old batch", await alice.post("/v1/sync", late))
    erasure = await supervisor.post(
        f"/v1/beneficiaries/{p1}/consents",
        [WITHDRAW_REGISTRATION],
        headers=ERASURE_REASON,
    )
    await say("erasure", erasure)
    await say("old batch erased", await alice.post("/v1/sync", late))
    fresh = person(p3, "Fresh Person", CONSENTS)
    await say("fresh", await alice.post("/v1/sync", {"beneficiaries": [fresh]}))
    key = {"Idempotency-Key": "transcript-1"}
    single = {"id": r5, **record(r5, p3)["data"]}
    for label in ("single", "single again"):
        await say(label, await alice.post("/v1/service-records", single, headers=key))
    other = {"id": r6, **record(r6, p3.upper())["data"]}
    await say("single other", await alice.post("/v1/service-records", other))
    bad = {"service_records": [{**record(r6, p3), "id": "not-an-id"}]}
    await say("bad id", await alice.post("/v1/sync", bad))
    await say("conflicts", await supervisor.get("/v1/sync/conflicts"))
    for pid in (p0, p1, p3):
        listed = await alice.get("/v1/service-records", params={"beneficiary_id": pid})
        await say(f"records of {pid}", listed)
    fixed = set(made)
    transcript = _normal(said, fixed, {})
    if os.environ.get("REV_WRITE_TRANSCRIPT"):
        TRANSCRIPT.parent.mkdir(exist_ok=True)
        TRANSCRIPT.write_text(json.dumps(transcript, indent=1) + "\n")
    before = json.loads(TRANSCRIPT.read_text())
    for now, then in zip(transcript, before, strict=True):
        assert now == then, now[0]


async def test_rev_an_erasure_in_a_batch_stops_the_records_after_it(
    alice: Caller, issue: Any, beneficiary_engine: AsyncEngine
) -> None:
    """A supervisor's device erases a person (registration withdrawn, with a
    reason) and, in the same batch, records a service for them under the
    id spelt otherwise: the service is refused, and the batch sent again
    (with its key, and without) records nothing and gives nothing back."""
    batch = offline_batch()
    batch["service_records"] = []
    r = await alice.post("/v1/sync", batch)
    assert r.status_code == 200, r.text
    person = batch["beneficiaries"][0]
    sam = issue(alice.org, Role.supervisor, subject="sam")
    erase = {
        **person,
        "base_version": 1,
        "consents": [WITHDRAW_REGISTRATION, CONSENTS[1]],
    }
    late = offline_record(person["id"].upper())
    body = {"beneficiaries": [erase], "service_records": [late]}
    answers = []
    for key in ("erase-1", "erase-1", None):
        headers = {**ERASURE_REASON, **({"Idempotency-Key": key} if key else {})}
        r = await sam.post("/v1/sync", body, headers=headers)
        assert r.status_code == 200, r.text
        answers.append(_statuses(r.json()))
    assert answers[0][1] == (late["id"], "rejected"), answers
    for later in answers[1:]:
        assert later[1] == (late["id"], "rejected"), answers
    read = (await sam.get(f"/v1/beneficiaries/{person['id']}")).json()
    assert read["pii_erased"] is True
    assert await count_rows(beneficiary_engine, "service_record") == 0


async def test_rev_groups_and_counts_under_spelt_ids_are_one_record_each(
    alice: Caller, beneficiary_engine: AsyncEngine
) -> None:
    """A group's attendees (standard ids) beside a new person of the batch
    (a driver id), the person spelt otherwise in each; a group and a count
    sent again under another spelling are unchanged, never a second one."""
    batch = offline_batch()
    person = batch["beneficiaries"][0]["id"]
    group = sync_group(person.upper())
    count = anonymous()
    batch["group_activities"] = [group]
    batch["anonymous_services"] = [count]
    r = await alice.post("/v1/sync", batch)
    assert [s for _, s in _statuses(r.json())] == ["created"] * 5, r.text
    events = await count_rows(beneficiary_engine, "outbox_event")
    spelt = copy.deepcopy(batch)
    spelt["group_activities"][0]["id"] = group["id"].upper()
    spelt["group_activities"][0]["data"]["attendee_ids"] = ["{" + person + "}"]
    spelt["anonymous_services"][0]["id"] = "urn:uuid:" + count["id"]
    r = await alice.post("/v1/sync", spelt)
    assert [s for _, s in _statuses(r.json())] == ["unchanged"] * 5, r.text
    assert [i for i, _ in _statuses(r.json())][-2:] == [group["id"], count["id"]]
    assert await count_rows(beneficiary_engine, "outbox_event") == events
    assert await count_rows(beneficiary_engine, "group_activity") == 1
    # the count, and the group's anonymous attendees (a row of their own)
    assert await count_rows(beneficiary_engine, "anonymous_service") == 2


def test_rev_sqlite_stores_and_finds_a_driver_id_as_a_standard_one() -> None:
    """SQLAlchemy's ``Uuid`` on SQLite (text, by ``.hex``): a driver id is
    stored as the standard one is, read back equal, and found by either
    class, alone, in a list, or as an expanding parameter."""
    engine = create_engine("sqlite://")
    table = Table("t", MetaData(), Column("id", Uuid(), primary_key=True))
    table.metadata.create_all(engine)
    made = [new_id() for _ in range(5)]
    standard = [uuid.UUID(str(x)) for x in made]
    with engine.begin() as connection:
        connection.execute(table.insert(), [{"id": x} for x in made])
        stored = connection.execute(text("SELECT id FROM t ORDER BY id")).scalars()
        assert list(stored) == sorted(x.hex for x in standard)
        read = connection.execute(select(table.c.id)).scalars().all()
        assert sorted(read) == sorted(standard)
        for wanted in (made[0], standard[0]):
            found = connection.execute(select(table.c.id).where(table.c.id == wanted))
            assert found.scalar_one() == made[0]
        for ids in (made[:3], standard[:3]):
            expanding = select(table.c.id).where(
                table.c.id.in_(bindparam("ids", expanding=True))
            )
            rows = connection.execute(expanding, {"ids": ids}).scalars().all()
            assert sorted(rows) == sorted(standard[:3])
    engine.dispose()
