"""Client-chosen ids are unique per organisation (decision 0006): an id
another organisation holds answers exactly like a free one, each
organisation reads and changes only its own record under it, and a repeat
inside one organisation behaves as it always did."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.beneficiary.api import (
    give_consent,
    intake,
    make_beneficiary,
    phq9,
    record_service,
)
from tests.callers import Caller

State = dict[str, Any]
"""What a kind made for one caller (its parents' ids)."""


@dataclass(frozen=True)
class Kind:
    """One create route that takes a client id, and how to read and change
    what it made."""

    name: str
    create: Callable[[Caller, str, State], Awaitable[httpx.Response]]
    read: Callable[[Caller, str, State], Awaitable[Any]]
    change: Callable[[Caller, str, State], Awaitable[httpx.Response]] | None
    repeat: int
    """The status of the same organisation sending the same id again."""


async def _person(caller: Caller, state: State) -> str:
    if "person" not in state:
        state["person"] = (await make_beneficiary(caller))["id"]
    return str(state["person"])


async def _case(caller: Caller, state: State) -> str:
    if "case" not in state:
        person = await _person(caller, state)
        r = await caller.post("/v1/cases", intake(person))
        assert r.status_code == 201, r.text
        state["case"] = r.json()["id"]
    return str(state["case"])


async def _get(caller: Caller, path: str) -> Any:
    r = await caller.get(path)
    return r.json() if r.status_code == 200 else None


async def _among(caller: Caller, path: str, record_id: str, **params: str) -> Any:
    r = await caller.get(path, params=params)
    assert r.status_code == 200, r.text
    rows = r.json()
    rows = rows["items"] if isinstance(rows, dict) else rows
    return next((row for row in rows if row["id"] == record_id), None)


async def create_beneficiary(caller: Caller, id: str, state: State) -> httpx.Response:
    from tests.beneficiary.api import beneficiary_body

    return await caller.post("/v1/beneficiaries", beneficiary_body(id=id))


async def create_consent(caller: Caller, id: str, state: State) -> httpx.Response:
    entry = {"id": id, "purpose": "referral", "granted": True, "form_version": "1"}
    return await give_consent(caller, await _person(caller, state), entry)


async def create_service(caller: Caller, id: str, state: State) -> httpx.Response:
    return await caller.post(
        "/v1/service-records",
        {
            "id": id,
            "beneficiary_id": await _person(caller, state),
            "activity_code": "individual_counselling",
            "service_date": "2026-02-01",
        },
    )


async def create_group(caller: Caller, id: str, state: State) -> httpx.Response:
    return await caller.post(
        "/v1/group-activities",
        {
            "id": id,
            "activity_code": "pm_plus_group",
            "activity_date": "2026-03-01",
            "attendee_ids": [await _person(caller, state)],
        },
    )


async def create_anonymous(caller: Caller, id: str, state: State) -> httpx.Response:
    return await caller.post(
        "/v1/anonymous-services",
        {
            "id": id,
            "activity_code": "awareness_session",
            "service_date": "2026-03-02",
            "counts": [{"sex": "female", "age_group": "adult", "count": 3}],
        },
    )


async def create_case(caller: Caller, id: str, state: State) -> httpx.Response:
    """For a new person each time: a person has one running case."""
    person = await make_beneficiary(caller)
    return await caller.post("/v1/cases", intake(person["id"], id=id))


async def create_assessment(caller: Caller, id: str, state: State) -> httpx.Response:
    return await caller.post(
        f"/v1/cases/{await _case(caller, state)}/assessments",
        {
            "id": id,
            "instrument": "phq9",
            "timepoint": "baseline",
            "administered_on": "2026-01-15",
            "responses": phq9(1, 1, 1, 1, 1, 1, 1, 1, 0),
        },
    )


async def create_follow_up(caller: Caller, id: str, state: State) -> httpx.Response:
    return await caller.post(
        f"/v1/cases/{await _case(caller, state)}/follow-ups",
        {"id": id, "on": "2026-02-01"},
    )


async def create_referral(caller: Caller, id: str, state: State) -> httpx.Response:
    person = await _person(caller, state)
    if not state.get("referral_consent"):
        consent = {"purpose": "referral", "granted": True, "form_version": "1"}
        assert (await give_consent(caller, person, consent)).status_code == 201
        state["referral_consent"] = True
    return await caller.post(
        "/v1/referrals",
        {
            "id": id,
            "beneficiary_id": person,
            "kind": "internal",
            "area": "livelihoods",
            "receiving_party": "Livelihoods unit",
            "sent_on": "2026-02-01",
        },
    )


async def create_enrolment(caller: Caller, id: str, state: State) -> httpx.Response:
    """For a new person each time: one running enrolment per intervention."""
    return await caller.post(
        "/v1/enrolments",
        {
            "id": id,
            "beneficiary_id": (await make_beneficiary(caller))["id"],
            "intervention": "pm_plus",
            "enrolled_on": "2026-02-01",
        },
    )


KINDS = [
    Kind(
        "beneficiary",
        create_beneficiary,
        lambda c, i, s: _get(c, f"/v1/beneficiaries/{i}"),
        lambda c, i, s: c.patch(
            f"/v1/beneficiaries/{i}",
            {"marital_status": "single"},
            headers={"If-Match": '"1"'},
        ),
        409,
    ),
    Kind(
        "consent entry",
        create_consent,
        lambda c, i, s: _among(c, f"/v1/beneficiaries/{s['person']}/consents", i),
        None,
        201,  # the person's own entry sent again: a replay
    ),
    Kind(
        "service record",
        create_service,
        lambda c, i, s: _get(c, f"/v1/service-records/{i}"),
        lambda c, i, s: c.post(
            f"/v1/service-records/{i}/void", {"reason": "entered in error"}
        ),
        409,
    ),
    Kind(
        "group activity",
        create_group,
        lambda c, i, s: _get(c, f"/v1/group-activities/{i}"),
        None,
        409,
    ),
    Kind(
        "anonymous service",
        create_anonymous,
        lambda c, i, s: _get(c, f"/v1/anonymous-services/{i}"),
        None,
        409,
    ),
    Kind(
        "case",
        create_case,
        lambda c, i, s: _get(c, f"/v1/cases/{i}"),
        lambda c, i, s: c.post(
            f"/v1/cases/{i}/transitions",
            {"status": "active", "on": "2026-01-20"},
            headers={"If-Match": '"1"'},
        ),
        409,
    ),
    Kind(
        "assessment",
        create_assessment,
        lambda c, i, s: _among(c, f"/v1/cases/{s['case']}/assessments", i),
        None,
        409,
    ),
    Kind(
        "follow-up",
        create_follow_up,
        lambda c, i, s: _among(c, f"/v1/cases/{s['case']}/follow-ups", i),
        None,
        201,  # a retry with the same id returns the first follow-up
    ),
    Kind(
        "referral",
        create_referral,
        lambda c, i, s: _among(c, "/v1/referrals", i),
        lambda c, i, s: c.post(
            f"/v1/referrals/{i}/status",
            {"status": "declined", "on": "2026-02-03"},
            headers={"If-Match": '"1"'},
        ),
        409,
    ),
    Kind(
        "enrolment",
        create_enrolment,
        lambda c, i, s: _get(c, f"/v1/enrolments/{i}"),
        lambda c, i, s: c.post(f"/v1/enrolments/{i}/drop-out", {"on": "2026-03-10"}),
        409,
    ),
]

VOLATILE = {"version", "updated_at", "status", "status_on", "voided", "void_reason"}


def _same(read: Any, created: Any) -> bool:
    """The record read is the one created (their common fields agree; a
    consent route answers the list of entries it recorded)."""
    if isinstance(created, list):
        created = created[-1]
    common = (set(read) & set(created)) - VOLATILE
    return bool(common) and all(read[k] == created[k] for k in common)


def _shape(body: Any) -> Any:
    """A body's shape: its keys, all the way down (values may differ)."""
    if isinstance(body, dict):
        return {k: _shape(v) for k, v in body.items()}
    if isinstance(body, list):
        return [_shape(v) for v in body[:1]]
    return type(body).__name__ if body is not None else None


@pytest.mark.parametrize("kind", KINDS, ids=[k.name for k in KINDS])
async def test_an_id_taken_elsewhere_is_a_free_id_here(
    kind: Kind, alice: Caller, bob: Caller
) -> None:
    taken = str(uuid.uuid4())
    theirs_state: State = {}
    mine_state: State = {}
    theirs = await kind.create(alice, taken, theirs_state)
    assert theirs.status_code == 201, theirs.text

    mine = await kind.create(bob, taken, mine_state)
    free = await kind.create(bob, str(uuid.uuid4()), mine_state)
    assert (mine.status_code, free.status_code) == (201, 201), mine.text
    assert _shape(mine.json()) == _shape(free.json())

    theirs_read = await kind.read(alice, taken, theirs_state)
    mine_read = await kind.read(bob, taken, mine_state)
    assert theirs_read is not None
    assert mine_read is not None
    assert _same(theirs_read, theirs.json())
    assert not _same(theirs_read, mine.json())
    assert _same(mine_read, mine.json())
    assert not _same(mine_read, theirs.json())

    if kind.change is not None:
        changed = await kind.change(bob, taken, mine_state)
        assert changed.status_code == 200, changed.text
        assert await kind.read(alice, taken, theirs_state) == theirs_read
        assert await kind.read(bob, taken, mine_state) != mine_read

    again = await kind.create(alice, taken, theirs_state)
    assert again.status_code == kind.repeat, again.text
    assert await kind.read(bob, taken, mine_state) is not None


async def test_a_child_cannot_name_another_organisations_parent(
    alice: Caller, bob: Caller, beneficiary_engine: AsyncEngine
) -> None:
    """The composite foreign keys: even a write that skipped every check in
    the code could not put a service under another organisation's person."""
    person = await make_beneficiary(alice)
    record = await record_service(alice, person["id"])
    async with beneficiary_engine.connect() as connection:
        with pytest.raises(Exception, match="foreign key"):
            await connection.execute(
                text(
                    "UPDATE service_record SET organisation_id = :other WHERE id = :id"
                ),
                {"other": bob.org.id, "id": record["id"]},
            )
        await connection.rollback()


async def test_a_sync_batch_is_looked_up_in_the_callers_organisation(
    alice: Caller, bob: Caller
) -> None:
    """A device of B sending a new person under an id A holds creates B's
    person, as a free id would; A's person is untouched."""
    from tests.beneficiary.api import beneficiary_body

    theirs = await make_beneficiary(alice, full_name="Amal A")
    fields = {
        k: v
        for k, v in beneficiary_body(full_name="Basma B").items()
        if k != "consents"
    }

    async def sync(person_id: str) -> Any:
        r = await bob.post(
            "/v1/sync",
            {
                "device_id": "tablet-b",
                "beneficiaries": [
                    {
                        "id": person_id,
                        "base_version": None,
                        "data": fields,
                        "consents": [
                            {
                                "purpose": "registration",
                                "granted": True,
                                "form_version": "1",
                            },
                            {
                                "purpose": "services",
                                "granted": True,
                                "form_version": "1",
                            },
                        ],
                    }
                ],
                "service_records": [],
            },
        )
        assert r.status_code == 200, r.text
        return r.json()["results"][0]

    taken, free = await sync(theirs["id"]), await sync(str(uuid.uuid4()))
    assert (taken["status"], free["status"]) == ("created", "created")
    assert taken.keys() == free.keys()
    assert (await alice.get(f"/v1/beneficiaries/{theirs['id']}")).json()[
        "full_name"
    ] == "Amal A"
    mine = (await bob.get(f"/v1/beneficiaries/{theirs['id']}")).json()
    assert (mine["full_name"], mine["organisation_id"]) == ("Basma B", bob.org.id)
    again = await sync(theirs["id"])  # B's own repeat: as before, no new person
    assert again["status"] == "unchanged"


@pytest.mark.parametrize("table", ["beneficiary", "group_activity"])
async def test_a_foreign_key_check_finds_its_row_by_the_key(
    beneficiary_engine: AsyncEngine, table: str
) -> None:
    """A child's foreign key check (``id = $1 AND organisation_id = $2``) is
    planned once per connection, often while the table is still empty, as in
    a new database's first import. The key must be the only index that plan
    can take: with another index starting with the organisation, each check
    read every row of the organisation (an import got slower with each row)."""
    if beneficiary_engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL plans")
    async with beneficiary_engine.connect() as conn:
        await conn.execute(
            text(f"CREATE TEMP TABLE fresh (LIKE {table} INCLUDING INDEXES)")
        )
        await conn.execute(text("SET LOCAL plan_cache_mode = force_generic_plan"))
        await conn.execute(
            text(
                "PREPARE fk_check(uuid, uuid) AS SELECT 1 FROM ONLY fresh x "
                "WHERE id = $1 AND organisation_id = $2 FOR KEY SHARE OF x"
            )
        )
        plan = "\n".join(
            (
                await conn.execute(
                    text(
                        f"EXPLAIN EXECUTE fk_check('{uuid.uuid4()}', '{uuid.uuid4()}')"
                    )
                )
            ).scalars()
        )
        await conn.execute(text("DEALLOCATE fk_check"))
        await conn.rollback()
    assert "Index Cond: ((organisation_id = $2) AND (id = $1))" in plan, plan
