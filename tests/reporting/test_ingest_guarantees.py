"""Ingestion is idempotent and order-tolerant: the same events applied
many times, in any order, leave the same facts; the schema is migrated from
empty and matches the models."""

from __future__ import annotations

import random
import uuid
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import inspect, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from services.beneficiary.outbox.jobs import publish_outbox
from services.reporting.db import metadata
from services.reporting.engine.store import FactStore
from services.reporting.facts.models import BeneficiaryFact, SupervisionFact
from services.reporting.ingest.jobs import ingest
from services.reporting.migrations.runner import MIGRATIONS
from shared.auth import Role
from shared.contracts.events import EventFeedPage
from shared.db import make_engine
from tests.beneficiary.api import (
    make_beneficiary,
    record_service,
    withdraw_registration,
)
from tests.callers import Caller
from tests.databases import insert_as_stored, recreate_database
from tests.reporting.helpers import by_value, values


async def test_the_same_events_count_once_in_any_order(
    alice: Caller,
    issue: Any,
    orgs: Any,
    beneficiary_app: FastAPI,
    beneficiary_client: httpx.AsyncClient,
    reporting_app: FastAPI,
    reporting_client: httpx.AsyncClient,
) -> None:
    people = [await make_beneficiary(alice, sex=s) for s in ("female", "male", "male")]
    for i, person in enumerate(people):
        record = await record_service(
            alice, person["id"], service_date=f"2026-02-0{i + 1}"
        )
    await alice.post(
        f"/v1/service-records/{record['id']}/void", {"reason": "wrong person"}
    )
    await publish_outbox({"runtime": beneficiary_app.state.runtime})
    feed = await issue(orgs["a"], Role.me_officer).get(
        "/v1/events", params={"limit": 5000}
    )
    events = EventFeedPage.model_validate(feed.json()).items
    runtime = reporting_app.state.runtime
    shuffled = list(events)
    random.Random(7).shuffle(shuffled)
    for batch in (events, events, list(reversed(events)), shuffled[:4], shuffled):
        for one in batch:  # one at a time, out of order, repeated
            await ingest(runtime, "beneficiary", [one])
        await ingest(runtime, "beneficiary", batch)
    reader = issue(orgs["a"], Role.me_officer)
    reached = await values(reporting_client, reader, "people_reached", by="sex")
    assert by_value(reached) == {"female": 1, "male": 1}
    delivered = await values(reporting_client, reader, "services_delivered")
    assert delivered["total"]["value"] == 2
    registered = await values(reporting_client, reader, "new_beneficiaries")
    assert registered["total"]["value"] == 3


async def test_an_update_or_erasure_resends_exactly_the_persons_months(
    alice: Caller,
    issue: Any,
    orgs: Any,
    reporting_client: httpx.AsyncClient,
    catch_up: Any,
) -> None:
    one = await make_beneficiary(alice, sex="female", registration_date="2026-01-10")
    other = await make_beneficiary(alice, sex="male", registration_date="2026-02-10")
    for day in ("2026-03-05", "2026-03-20", "2026-05-20"):
        await record_service(alice, one["id"], service_date=day)
    await record_service(alice, other["id"], service_date="2026-04-02")
    await catch_up()
    reader = issue(orgs["a"], Role.me_officer)

    async def months_since(cursor: int) -> tuple[list[str], int]:
        r = await reporting_client.get(
            "/v1/feeds/people_reached",
            params={"cursor": cursor},
            headers=reader.headers(),
        )
        assert r.status_code == 200, r.text
        rows = [row["period_start"] for row in r.json()["rows"]]
        return rows, int(r.headers["X-Feed-Cursor"])

    everything, cursor = await months_since(0)
    assert everything == [f"2026-0{m}-01" for m in (1, 2, 3, 4, 5)]

    r = await alice.patch(
        f"/v1/beneficiaries/{one['id']}",
        {"sex": "male"},
        headers={"If-Match": f'"{one["version"]}"'},
    )
    assert r.status_code == 200, r.text
    await catch_up()
    changed, cursor = await months_since(cursor)
    assert changed == ["2026-01-01", "2026-03-01", "2026-05-01"]

    r = await withdraw_registration(issue, orgs["a"], one["id"])
    assert r.status_code in (200, 201), r.text
    await catch_up()
    changed, _ = await months_since(cursor)
    assert changed == ["2026-01-01", "2026-03-01", "2026-05-01"]
    reached = await values(reporting_client, reader, "people_reached", by="sex")
    assert by_value(reached) == {"male": 1}


async def test_empty_postgres_upgrades_to_head_and_back() -> None:
    engine = make_engine(await recreate_database("mhpss_test_reporting_migrations"))
    try:
        await MIGRATIONS.upgrade(engine)
        async with engine.connect() as conn:
            tables = set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
        assert set(metadata.tables) <= tables
        await MIGRATIONS.downgrade_to_base(engine)
        async with engine.connect() as conn:
            left = set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
        assert left <= {"alembic_version"}
        await MIGRATIONS.upgrade(engine)
    finally:
        await engine.dispose()


async def test_schema_matches_the_models(reporting_app: FastAPI) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    def diff(connection: Connection) -> list[object]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))

    async with reporting_app.state.engine.connect() as conn:
        assert await conn.run_sync(diff) == []


@pytest.mark.parametrize("backend", ["postgresql", "sqlite"])
async def test_facts_per_organisation_keep_a_placeholder_linked(
    backend: str, tmp_path: Path
) -> None:
    """Reporting migration 0004: a person known so far only through a
    service (registration not ingested yet) takes the service's
    organisation, so the registration, folded by (organisation, id), lands
    on the same fact row and the service stays linked to it."""
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'reporting.db'}"
    else:
        url = await recreate_database("mhpss_test_reporting_migrations")
    engine = make_engine(url)
    organisation, person = uuid.uuid4(), uuid.uuid4()
    try:
        await MIGRATIONS.upgrade_schema(engine, "0003")
        async with engine.begin() as connection:
            await insert_as_stored(
                connection,
                "beneficiary_fact",
                key=7,
                beneficiary_id=person,
                position=0,
                seq=1,
                alive=True,
                erased=False,
            )
            await insert_as_stored(
                connection,
                "service_fact",
                key=1,
                position=3,
                seq=1,
                alive=True,
                record_id=uuid.uuid4(),
                line=0,
                anonymous=False,
                beneficiary_key=7,
                organisation_id=organisation,
                lead_organisation_id=organisation,
                delivered_through="direct",
                activity_code="individual_counselling",
                iasc_layer="focused_non_specialized",
                service_date=date(2026, 2, 1),
                modality="in_person",
                people=1,
            )
        await MIGRATIONS.upgrade(engine)
        async with AsyncSession(engine) as session:
            placeholder = (
                await session.execute(
                    select(BeneficiaryFact).where(col(BeneficiaryFact.key) == 7)
                )
            ).scalar_one()
        assert (placeholder.organisation_id, placeholder.beneficiary_id) == (
            organisation,
            person,
        )
        async with engine.begin() as connection:  # the store loads them too
            await connection.execute(text("UPDATE ingest_counter SET seq = 1"))
        store = FactStore(engine)
        await store.refresh()
        # frames are indexed by key: the service's 1, the person's 7
        assert store.seq == 1
        assert store.frames["services"].size == 2
        assert store.frames["beneficiaries"].size == 8
    finally:
        await engine.dispose()


@pytest.mark.parametrize("backend", ["postgresql", "sqlite"])
async def test_supervision_facts_take_their_purpose_from_capacity_facts(
    backend: str, tmp_path: Path
) -> None:
    """Reporting migration 0030: a supervision fact folded before takes the
    purpose its capacity-building rows carry (coaching, mentoring); one
    with none is supervision, the training service's default."""
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'reporting.db'}"
    else:
        url = await recreate_database("mhpss_test_reporting_migrations")
    engine = make_engine(url)
    organisation, other = uuid.uuid4(), uuid.uuid4()
    sessions = {"coaching": uuid.uuid4(), "supervision": uuid.uuid4()}
    bare = uuid.uuid4()
    try:
        await MIGRATIONS.upgrade_schema(engine, "0029")
        async with engine.begin() as connection:
            for key, session_id in enumerate([*sessions.values(), bare], start=1):
                await insert_as_stored(
                    connection,
                    "supervision_fact",
                    key=key,
                    position=key,
                    seq=key,
                    alive=True,
                    supervision_id=session_id,
                    organisation_id=organisation,
                    held_on=date(2026, 4, 1),
                    duration_minutes=60,
                    supervisee_ids=[],
                )
            rows = [
                (organisation, sessions["coaching"], "coaching"),
                (organisation, sessions["supervision"], "supervision"),
                # another organisation's coaching under the bare session's id
                (other, bare, "coaching"),
            ]
            for key, (org, session_id, component) in enumerate(rows, start=1):
                await insert_as_stored(
                    connection,
                    "capacity_fact",
                    key=key,
                    position=key,
                    seq=key,
                    alive=True,
                    source_id=session_id,
                    trainee_id=uuid.uuid4(),
                    organisation_id=org,
                    component=component,
                    held_on=date(2026, 4, 1),
                )
        await MIGRATIONS.upgrade(engine)
        async with AsyncSession(engine) as session:
            found = {
                fact.supervision_id: fact.purpose
                for fact in (await session.execute(select(SupervisionFact))).scalars()
            }
        assert found == {
            sessions["coaching"]: "coaching",
            sessions["supervision"]: "supervision",
            bare: "supervision",
        }
    finally:
        await engine.dispose()


@pytest.mark.parametrize("backend", ["postgresql", "sqlite"])
async def test_services_folded_before_topic_lines_get_their_one_topic(
    backend: str, tmp_path: Path
) -> None:
    """Reporting migration 0032: each registered service already folded gets
    the line of the topic it had (or one with none), alive as it was;
    anonymous lines get none."""
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'reporting.db'}"
    else:
        url = await recreate_database("mhpss_test_reporting_migrations")
    engine = make_engine(url)
    organisation = uuid.uuid4()
    records = {uuid.uuid4(): ("sleep", True, False), uuid.uuid4(): (None, False, False)}
    anonymous = uuid.uuid4()
    try:
        await MIGRATIONS.upgrade_schema(engine, "0029")
        async with engine.begin() as connection:
            for record, (topic, alive, is_anonymous) in [
                *records.items(),
                (anonymous, (None, True, True)),
            ]:
                await insert_as_stored(
                    connection, "service_fact", position=7, seq=3, alive=alive,
                    record_id=record, line=0, anonymous=is_anonymous,
                    organisation_id=organisation,
                    lead_organisation_id=organisation, delivered_through="direct",
                    activity_code="individual_counselling",
                    iasc_layer="focused_non_specialized",
                    service_date=date(2026, 2, 1), modality="in_person", people=1,
                    topic_code=topic, language="ar",
                )  # fmt: skip
        await MIGRATIONS.upgrade(engine)
        async with engine.connect() as connection:
            rows = (
                await connection.execute(
                    text(
                        "SELECT record_id, line, topic, alive, language, position"
                        " FROM service_topic_fact"
                    )
                )
            ).all()
    finally:
        await engine.dispose()
    found = {uuid.UUID(str(r[0])): tuple(r[1:]) for r in rows}
    assert found == {
        record: (0, topic, alive, "ar", 7)
        for record, (topic, alive, _) in records.items()
    }
