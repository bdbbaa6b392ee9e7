from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import inspect, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlmodel import col

from services.beneficiary.beneficiaries.models import Beneficiary
from services.beneficiary.cases.models import CasePlan, FollowUp, SafetyPlan
from services.beneficiary.db import OutboxEvent, metadata
from services.beneficiary.interventions.models import SessionAttendance
from services.beneficiary.migrations.runner import MIGRATIONS
from services.beneficiary.service_records.models import ServiceRecord
from shared.contracts.events import (
    EnrolmentFacts,
    GroupActivityFacts,
    MaterialDistributionFacts,
)
from shared.db import make_engine
from tests.beneficiary.api import make_beneficiary
from tests.callers import Caller
from tests.databases import insert_as_stored, recreate_database


@pytest.mark.long
async def test_empty_postgres_upgrades_to_head_and_back() -> None:
    url = await recreate_database("mhpss_test_migrations")
    engine = make_engine(url)
    try:
        await MIGRATIONS.upgrade(engine)
        async with engine.connect() as conn:
            tables = set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
            governorates = (
                await conn.execute(
                    text("SELECT count(*) FROM location WHERE level = 'governorate'")
                )
            ).scalar_one()
        assert set(metadata.tables) <= tables
        assert governorates == 18
        await MIGRATIONS.upgrade(engine)  # idempotent, reference data not doubled

        await MIGRATIONS.downgrade_to_base(engine)
        async with engine.connect() as conn:
            left = set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
        assert left <= {"alembic_version"}
        await MIGRATIONS.upgrade(engine)
    finally:
        await engine.dispose()


async def test_schema_matches_the_models(beneficiary_engine: AsyncEngine) -> None:
    """No model change without a migration."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    def diff(connection: Connection) -> list[object]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))

    async with beneficiary_engine.connect() as conn:
        assert await conn.run_sync(diff) == []


async def test_the_audit_log_is_append_only(
    alice: Caller, beneficiary_engine: AsyncEngine
) -> None:
    await make_beneficiary(alice)
    async with beneficiary_engine.connect() as conn:
        with pytest.raises(DBAPIError, match="append-only"):
            await conn.execute(text("UPDATE audit_entry SET subject = 'someone else'"))
        await conn.rollback()
        with pytest.raises(DBAPIError, match="append-only"):
            await conn.execute(text("DELETE FROM audit_entry"))


def _row(table: str, **values: Any) -> tuple[str, dict[str, Any]]:
    return table, values


async def _data_at_0007(engine: AsyncEngine) -> dict[str, uuid.UUID]:
    """One person of each of two organisations with a case (plan, safety
    plan, follow-up), services and an enrolment with an attended session."""
    ids = {name: uuid.uuid4() for name in ("org", "other", "person", "case")}
    ids |= {name: uuid.uuid4() for name in ("record", "follow_up", "enrolment")}
    now, day = datetime.now(UTC), date(2026, 2, 1)
    made = {"created_at": now}
    rows = [
        _row("organisation", id=ids["org"], name="A", type="cso", **made),
        _row("organisation", id=ids["other"], name="B", type="cso", **made),
        _row(
            "beneficiary",
            id=ids["person"],
            code="B-MIGRATE1",
            organisation_id=ids["org"],
            sex="female",
            date_of_birth_estimated=False,
            disability="no",
            registration_date=day,
            registration_channel="outreach",
            registered_by="alice",
            version=1,
            updated_at=now,
            **made,
        ),
        _row(
            "case_file",
            id=ids["case"],
            organisation_id=ids["org"],
            beneficiary_id=ids["person"],
            status="open",
            presenting_problems=["grief"],
            risk_level="low",
            iasc_layer_needed="focused_non_specialized",
            case_worker="alice",
            supervisor="sam",
            opened_on=day,
            version=1,
            updated_at=now,
            **made,
        ),
        *(
            _row(
                table,
                id=uuid.uuid4(),
                case_id=ids["case"],
                version=1,
                created_by="alice",
                **{column: "sealed"},
                **extra,
                **made,
            )
            for table, column, extra in (
                ("case_plan", "goals_enc", {"planned_activities": ["pm_plus"]}),
                ("safety_plan", "content_enc", {}),
            )
        ),
        _row(
            "service_record",
            id=ids["record"],
            organisation_id=ids["org"],
            lead_organisation_id=ids["org"],
            delivered_through="direct",
            activity_code="pm_plus_individual",
            iasc_layer="focused_non_specialized",
            modality="in_person",
            created_by="alice",
            voided=False,
            version=1,
            updated_at=now,
            beneficiary_id=ids["person"],
            service_date=day,
            **made,
        ),
        _row(
            "follow_up",
            id=ids["follow_up"],
            case_id=ids["case"],
            service_record_id=ids["record"],
            on=day,
            created_by="alice",
            **made,
        ),
        _row(
            "enrolment",
            id=ids["enrolment"],
            organisation_id=ids["org"],
            beneficiary_id=ids["person"],
            intervention="pm_plus@1",
            enrolled_on=day,
            status="enrolled",
            status_on=day,
            version=1,
            created_by="alice",
            **made,
        ),
        _row(
            "session_attendance",
            id=uuid.uuid4(),
            enrolment_id=ids["enrolment"],
            session_number=1,
            attended_on=day,
            service_record_id=ids["record"],
            **made,
        ),
    ]
    async with engine.begin() as connection:
        for table, values in rows:
            await insert_as_stored(connection, table, **values)
    return ids


@pytest.mark.parametrize("backend", ["postgresql", "sqlite"])
async def test_ids_per_organisation_keep_the_data_of_0007(
    backend: str, tmp_path: Path
) -> None:
    """Migration 0008 on a database with data: every id is kept, the
    children take their parent's organisation, and the same id may then
    name a row of another organisation."""
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'beneficiary.db'}"
    else:
        url = await recreate_database("mhpss_test_migrations")
    engine = make_engine(url)
    try:
        await MIGRATIONS.upgrade_schema(engine, "0007")
        ids = await _data_at_0007(engine)
        await MIGRATIONS.upgrade(engine)
        async with AsyncSession(engine) as session:
            person = await session.get(Beneficiary, (ids["org"], ids["person"]))
            assert person is not None
            assert person.code == "B-MIGRATE1"
            for model in (CasePlan, SafetyPlan, FollowUp, SessionAttendance):
                owners = (
                    await session.execute(select(col(model.organisation_id)))
                ).all()
                assert owners == [(ids["org"],)], model
        async with engine.begin() as connection:  # a migrated parent's new child
            await insert_as_stored(
                connection,
                "consent_entry",
                id=uuid.uuid4(),
                beneficiary_id=ids["person"],
                organisation_id=ids["org"],
                purpose="registration",
                granted=True,
                form_version="1",
                recorded_by="alice",
                recorded_at=datetime.now(UTC),
                sequence=1,
            )
        async with AsyncSession(engine) as session, session.begin():
            session.add(
                Beneficiary.model_validate(
                    {
                        **person.model_dump(),
                        "organisation_id": ids["other"],
                        "code": "B-MIGRATE2",
                    }
                )
            )
        async with engine.connect() as connection:
            keys = await connection.run_sync(
                lambda c: inspect(c).get_pk_constraint("beneficiary")
            )
        assert keys["constrained_columns"] == ["organisation_id", "id"]
    finally:
        await engine.dispose()


@pytest.mark.parametrize("backend", ["postgresql", "sqlite"])
async def test_group_activities_and_enrolments_are_sent_again(
    backend: str, tmp_path: Path
) -> None:
    """Migration 0010 stages one event per group activity (its live
    registered and anonymous attendees) and per enrolment (every protocol
    session with its date), so reporting can count what was recorded
    before those events existed."""
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'beneficiary.db'}"
    else:
        url = await recreate_database("mhpss_test_migrations")
    engine = make_engine(url)
    org, person, group, enrolment = (uuid.uuid4() for _ in range(4))
    now, day = datetime.now(UTC), date(2026, 2, 1)
    delivery = {
        "organisation_id": org,
        "lead_organisation_id": org,
        "delivered_through": "direct",
        "iasc_layer": "community_family",
        "modality": "in_person",
        "created_by": "alice",
        "version": 1,
        "updated_at": now,
        "created_at": now,
    }
    records = {n: uuid.uuid4() for n in ("present", "voided", "first", "second")}
    try:
        await MIGRATIONS.upgrade_schema(engine, "0009")
        rows = [
            _row("organisation", id=org, name="A", type="cso", created_at=now),
            _row(
                "beneficiary",
                id=person,
                code="B-RESEND1",
                organisation_id=org,
                sex="female",
                date_of_birth_estimated=False,
                disability="no",
                registration_date=day,
                registration_channel="outreach",
                registered_by="alice",
                version=1,
                updated_at=now,
                created_at=now,
            ),
            _row(
                "group_activity",
                id=group,
                activity_code="peer_support_group",
                activity_date=day,
                facilitator_staff_ids=["s-1", "s-2"],
                voided=False,
                **delivery,
            ),
            *(
                _row(
                    "service_record",
                    id=records[name],
                    beneficiary_id=person,
                    service_date=day,
                    activity_code=activity,
                    group_activity_id=group if activity == "peer_support_group"
                    else None,
                    voided=name == "voided",
                    **{**delivery, "iasc_layer": "focused_non_specialized"},
                )
                for name, activity in [
                    ("present", "peer_support_group"),
                    ("voided", "peer_support_group"),
                    ("first", "pm_plus_individual"),
                    ("second", "pm_plus_individual"),
                ]
            ),
            _row(
                "anonymous_service",
                id=uuid.uuid4(),
                activity_code="peer_support_group",
                service_date=day,
                group_activity_id=group,
                counts=[{"sex": "male", "age_group": "18_plus", "count": 6}],
                total=6,
                voided=False,
                **delivery,
            ),
            _row(
                "enrolment",
                id=enrolment,
                organisation_id=org,
                beneficiary_id=person,
                intervention="pm_plus@1.0",
                enrolled_on=day,
                status="enrolled",
                status_on=date(2026, 2, 8),
                version=1,
                created_by="alice",
                created_at=now,
            ),
            _row(
                "enrolment",
                id=uuid.uuid4(),
                organisation_id=org,
                beneficiary_id=person,
                intervention="retired_protocol@0.1",
                enrolled_on=day,
                status="enrolled",
                status_on=day,
                version=1,
                created_by="alice",
                created_at=now,
            ),
            *(
                _row(
                    "session_attendance",
                    id=uuid.uuid4(),
                    organisation_id=org,
                    enrolment_id=enrolment,
                    session_number=number,
                    attended_on=on,
                    service_record_id=records[name],
                    created_at=now,
                )
                for name, number, on in [
                    ("first", 1, day),
                    ("second", 2, date(2026, 2, 8)),
                ]
            ),
        ]  # fmt: skip
        async with engine.begin() as connection:
            for table, values in rows:
                await insert_as_stored(connection, table, **values)
        await MIGRATIONS.upgrade(engine)
        async with AsyncSession(engine) as session:
            staged = {
                e.type: e
                for e in (await session.execute(select(OutboxEvent))).scalars()
            }
    finally:
        await engine.dispose()
    assert set(staged) == {"group_activity.recorded", "enrolment.updated"}
    held = GroupActivityFacts.model_validate(staged["group_activity.recorded"].data)
    assert (held.group_activity_id, held.organisation_id) == (group, org)
    assert (held.registered_attendees, held.anonymous_attendees) == (1, 6)
    assert (held.facilitators, held.activity_code) == (2, "peer_support_group")
    assert staged["group_activity.recorded"].position is None  # numbered later
    enrolled = EnrolmentFacts.model_validate(staged["enrolment.updated"].data)
    assert enrolled.enrolment_id == enrolment
    assert (enrolled.sessions_attended, enrolled.sessions_planned) == (2, 5)
    assert (enrolled.completed, enrolled.status_on) == (False, date(2026, 2, 8))
    assert [(s.number, s.attended_on) for s in enrolled.sessions or []] == [
        (1, day),
        (2, date(2026, 2, 8)),
        (3, None),
        (4, None),
        (5, None),
    ]


@pytest.mark.parametrize("backend", ["postgresql", "sqlite"])
async def test_a_records_one_topic_becomes_a_list_of_one(
    backend: str, tmp_path: Path
) -> None:
    """Migration 0026: a record's topic is its list of topics (empty for a
    record without one); ``topic_code`` stays the first."""
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'beneficiary.db'}"
    else:
        url = await recreate_database("mhpss_test_migrations")
    engine = make_engine(url)
    org, person = uuid.uuid4(), uuid.uuid4()
    now, day = datetime.now(UTC), date(2026, 2, 1)
    topics = {uuid.uuid4(): "sleep", uuid.uuid4(): None}
    try:
        await MIGRATIONS.upgrade_schema(engine, "0025")
        async with engine.begin() as connection:
            await insert_as_stored(
                connection, "organisation", id=org, name="A", type="cso",
                created_at=now,
            )  # fmt: skip
            await insert_as_stored(
                connection, "beneficiary", id=person, code="B-TOPICS1",
                organisation_id=org, sex="female", date_of_birth_estimated=False,
                disability="no", registration_date=day,
                registration_channel="outreach", registered_by="alice", version=1,
                updated_at=now, created_at=now,
            )  # fmt: skip
            for record, topic in topics.items():
                await insert_as_stored(
                    connection, "service_record", id=record, beneficiary_id=person,
                    service_date=day, activity_code="individual_counselling",
                    organisation_id=org, lead_organisation_id=org,
                    delivered_through="direct", iasc_layer="focused_non_specialized",
                    modality="in_person", created_by="alice", version=1,
                    updated_at=now, created_at=now, voided=False, topic_code=topic,
                )  # fmt: skip
        await MIGRATIONS.upgrade(engine)
        async with AsyncSession(engine) as session:
            found = {
                r.id: (r.topic_code, r.topic_codes)
                for r in (await session.execute(select(ServiceRecord))).scalars()
            }
    finally:
        await engine.dispose()
    assert found == {
        record: (topic, [topic] if topic else []) for record, topic in topics.items()
    }


@pytest.mark.parametrize("backend", ["postgresql", "sqlite"])
async def test_lines_of_records_voided_before_the_cascade_are_voided(
    backend: str, tmp_path: Path
) -> None:
    """Migration 0028: a live material line on a record voided earlier is
    voided with the record's reason and a new version, announced once
    (``material_distribution.voided``) and audited once; a line on a live
    record and a line voided already are left as they are."""
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'beneficiary.db'}"
    else:
        url = await recreate_database("mhpss_test_migrations")
    engine = make_engine(url)
    org, person = uuid.uuid4(), uuid.uuid4()
    now, day = datetime.now(UTC), date(2026, 2, 1)
    voided, live = uuid.uuid4(), uuid.uuid4()
    lines = {name: uuid.uuid4() for name in ("orphaned", "kept", "done")}
    try:
        await MIGRATIONS.upgrade_schema(engine, "0027")
        async with engine.begin() as connection:
            await insert_as_stored(
                connection, "organisation", id=org, name="A", type="cso",
                created_at=now,
            )  # fmt: skip
            await insert_as_stored(
                connection, "beneficiary", id=person, code="B-LINES1",
                organisation_id=org, sex="female", date_of_birth_estimated=False,
                disability="no", registration_date=day,
                registration_channel="outreach", registered_by="alice", version=1,
                updated_at=now, created_at=now,
            )  # fmt: skip
            for record in (voided, live):
                await insert_as_stored(
                    connection, "service_record", id=record, beneficiary_id=person,
                    service_date=day, activity_code="individual_counselling",
                    organisation_id=org, lead_organisation_id=org,
                    delivered_through="direct", iasc_layer="focused_non_specialized",
                    modality="in_person", created_by="alice", version=2,
                    updated_at=now, created_at=now, topic_codes=[],
                    voided=record == voided,
                    void_reason="wrong person" if record == voided else None,
                )  # fmt: skip
            for name, record in (
                ("orphaned", voided),
                ("kept", live),
                ("done", voided),
            ):
                await insert_as_stored(
                    connection, "material_distribution", id=lines[name],
                    organisation_id=org, service_record_id=record,
                    item_code="hygiene_kit", quantity=2, distributed_on=day,
                    lead_organisation_id=org, activity_code="individual_counselling",
                    created_by="alice", voided=name == "done",
                    void_reason="typo" if name == "done" else None,
                    version=3 if name == "done" else 1, created_at=now,
                )  # fmt: skip
        await MIGRATIONS.upgrade(engine)
        async with engine.connect() as connection:
            found = {
                row.id: (row.voided, row.void_reason, row.version)
                for row in await connection.execute(
                    text(
                        "SELECT id, voided, void_reason, version "
                        "FROM material_distribution"
                    )
                )
            }
            audited = (
                await connection.execute(
                    text(
                        "SELECT subject, action, entity_type, entity_id "
                        "FROM audit_entry"
                    )
                )
            ).all()
        async with AsyncSession(engine) as session:
            events = list((await session.execute(select(OutboxEvent))).scalars())
    finally:
        await engine.dispose()
    by_id = {uuid.UUID(str(k)): v for k, v in found.items()}
    assert by_id == {
        lines["orphaned"]: (True, "wrong person", 2),
        lines["kept"]: (False, None, 1),
        lines["done"]: (True, "typo", 3),
    }
    assert [(s, a, t, uuid.UUID(str(i))) for s, a, t, i in audited] == [
        ("migration 0028", "void", "material_distribution", lines["orphaned"])
    ]
    assert [(e.type, e.entity_type, e.entity_id) for e in events] == [
        ("material_distribution.voided", "material_distribution", lines["orphaned"])
    ]
    facts = MaterialDistributionFacts.model_validate(events[0].data)
    assert (facts.distribution_id, facts.service_record_id) == (
        lines["orphaned"],
        voided,
    )
    assert (facts.voided, facts.quantity, facts.item_code) == (True, 2, "hygiene_kit")
    assert events[0].position is None  # numbered by the sequencer, then sent
