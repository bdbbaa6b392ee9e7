"""Training migration 0016 on a database with data: client-chosen ids
become unique per organisation (decision 0006) and every row is kept."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import inspect, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession
from sqlmodel import col

from services.training.cohorts.models import Attendance, Cohort, CohortSession
from services.training.migrations.runner import MIGRATIONS
from services.training.models import (
    CohortEnrolment,
    KnowledgeTest,
    PracticeSession,
    PublishedResult,
    Trainee,
)
from shared.db import make_engine
from tests.databases import insert_as_stored, recreate_database

TABLES: list[tuple[str, dict[str, Any]]] = [
    # (table, the values of its own columns: a name is that row's id),
    # parents first
    ("trainee", {"audience": "ngo", "sex": "female"}),
    ("course", {"approach": "ipt_g", "level": "foundational"}),
    ("cohort", {"course_id": "course", "modality": "online"}),
    ("cohort_session", {"cohort_id": "cohort", "number": 1}),
    ("cohort_enrolment", {"cohort_id": "cohort", "trainee_id": "trainee"}),
    (
        "attendance",
        {"session_id": "cohort_session", "trainee_id": "trainee", "present": True},
    ),
    ("knowledge_test", {"cohort_id": "cohort", "trainee_id": "trainee", "kind": "pre"}),
    ("certification", {"cohort_id": "cohort", "trainee_id": "trainee"}),
    ("published_result", {"cohort_id": "cohort", "trainee_id": "trainee"}),
    ("competency_assessment", {"cohort_id": "cohort", "trainee_id": "trainee"}),
    ("practice_group", {"cohort_id": "cohort"}),
    ("practice_session", {"group_id": "practice_group", "number": 1}),
    ("fidelity_review", {"session_id": "practice_session"}),
    ("supervision_session", {}),
    ("mentoring_plan", {"trainee_id": "trainee"}),
    ("mentoring_visit", {"plan_id": "mentoring_plan"}),
    ("action_point", {"plan_id": "mentoring_plan", "visit_id": "mentoring_visit"}),
]


def _value(column: Any) -> Any:
    """Something a required column of this type takes."""
    kind = column.type
    if isinstance(kind, sa.Enum) and kind.enums:
        return kind.enums[0]
    python = kind.python_type if not isinstance(kind, sa.JSON) else list
    return {
        uuid.UUID: uuid.uuid4(),
        str: "x",
        int: 1,
        float: 1.0,
        bool: False,
        date: date(2026, 2, 1),
        datetime: datetime.now(UTC),
        list: [],
        dict: {},
    }[python]


def _reflect(connection: Connection, table: str) -> sa.Table:
    return sa.Table(table, sa.MetaData(), autoload_with=connection)


async def _data_at_0014(connection: AsyncConnection) -> dict[str, uuid.UUID]:
    """One row of every training table, all of one organisation."""
    ids = {table: uuid.uuid4() for table, _ in TABLES} | {"org": uuid.uuid4()}
    for table, own in TABLES:
        reflected = await connection.run_sync(_reflect, table)
        values: dict[str, Any] = {"id": ids[table]}
        for column in reflected.columns:
            if column.name == "organisation_id":
                values[column.name] = ids["org"]
            elif column.name in own:
                given = own[column.name]
                values[column.name] = ids.get(given, given)
            elif column.name not in values and not column.nullable:
                values[column.name] = _value(column)
        await insert_as_stored(connection, table, **values)
    return ids


@pytest.mark.parametrize("backend", ["postgresql", "sqlite"])
async def test_ids_per_organisation_keep_the_data_of_0014(
    backend: str, tmp_path: Path
) -> None:
    """Every id is kept, the children take their parent's organisation, the
    same id may then name another organisation's row, and a child cannot
    name another organisation's parent."""
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'training.db'}"
    else:
        url = await recreate_database("mhpss_test_training_migrations")
    engine: AsyncEngine = make_engine(url)
    try:
        await MIGRATIONS.upgrade_schema(engine, "0014")
        async with engine.begin() as connection:
            ids = await _data_at_0014(connection)
        await MIGRATIONS.upgrade(engine)
        org, other = ids["org"], uuid.uuid4()
        async with AsyncSession(engine) as session:
            trainee = await session.get(Trainee, (org, ids["trainee"]))
            cohort = await session.get(Cohort, (org, ids["cohort"]))
            assert trainee is not None
            assert cohort is not None
            for model in (
                CohortSession,
                CohortEnrolment,
                Attendance,
                KnowledgeTest,
                PublishedResult,
                PracticeSession,
            ):
                owners = (
                    await session.execute(select(col(model.organisation_id)))
                ).all()
                assert owners == [(org,)], model
        async with AsyncSession(engine) as session, session.begin():
            session.add(
                Trainee.model_validate(
                    {**trainee.model_dump(), "organisation_id": other}
                )
            )
        async with engine.connect() as connection:
            keys = await connection.run_sync(
                lambda c: inspect(c).get_pk_constraint("trainee")
            )
            assert keys["constrained_columns"] == ["organisation_id", "id"]
            with pytest.raises(IntegrityError):
                await insert_as_stored(
                    connection,
                    "cohort_enrolment",
                    id=uuid.uuid4(),
                    organisation_id=other,
                    cohort_id=ids["cohort"],  # A's cohort, for B's trainee
                    trainee_id=ids["trainee"],
                    created_at=datetime.now(UTC),
                )
            await connection.rollback()
    finally:
        await engine.dispose()
