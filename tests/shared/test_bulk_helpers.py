"""A batch's ids sorted by number give the order ``sorted`` gives (rows are
locked in it, so two writers never deadlock); a record refused half-way
leaves none of its rows in the batch."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import MetaData, Table, inspect
from sqlalchemy.exc import InvalidRequestError
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from sqlalchemy.orm.exc import UnmappedInstanceError
from sqlmodel import Field, SQLModel

from shared.bulk import ROWS_KEY, Rows, answered, attach, collect, unsaved
from shared.db import make_registry, new_row, sorted_ids


def test_uuids_sort_as_sorted_sorts_them() -> None:
    ids = [uuid.uuid4() for _ in range(500)]
    assert sorted_ids([*ids, *ids[:50]]) == sorted(set(ids))


def test_other_ids_sort_as_they_are() -> None:
    assert sorted_ids(["b", "a", "b"]) == ["a", "b"]
    assert sorted_ids([]) == []


class _Session:
    info: dict[str, object]

    def __init__(self) -> None:
        self.info = {}


def test_a_record_refused_half_way_leaves_no_rows() -> None:
    session, rows = _Session(), Rows()
    table, other = Table("t", MetaData()), Table("u", MetaData())
    with collect(session, rows):  # type: ignore[arg-type]
        rows.add(table, {"n": 1})
    try:
        with collect(session, rows) as collecting:  # type: ignore[arg-type]
            assert session.info[ROWS_KEY] is rows
            collecting.add(table, {"n": 2})
            collecting.add(other, {"n": 3})
            raise ValueError("refused")
    except ValueError:
        pass
    assert rows.tables == {table: [{"n": 1}], other: []}
    assert session.info[ROWS_KEY] is None


class _Base(SQLModel, registry=make_registry()):
    pass


class _Row(_Base, table=True):
    __tablename__ = "bulk_helpers_row"

    id: int = Field(primary_key=True)
    name: str


async def test_an_attached_row_is_the_sessions_as_if_read_back() -> None:
    """Found without a query, its edit flushed as an UPDATE, attached once;
    another instance of its key is refused, and so is an unsaved one."""
    engine = create_async_engine("sqlite+aiosqlite://")
    async with engine.begin() as connection:
        await connection.run_sync(_Row.__table__.create)  # type: ignore[attr-defined]
    async with AsyncSession(engine) as session, session.begin():
        rows = Rows()
        rows.add(_Row.__table__, {"id": 1, "name": "a"})  # type: ignore[attr-defined]
        await rows.write(session)
        row = new_row(_Row, id=1, name="a")
        attach(session, row)
        attach(session, row)
        assert inspect(row).persistent
        assert await session.get(_Row, 1) is row
        assert not session.dirty
        row.name = "b"
        await session.flush()
        session.expire(row)
        assert await session.get(_Row, 1) is row
        assert row.name == "b"
        with pytest.raises(InvalidRequestError):
            attach(session, new_row(_Row, id=1, name="c"))
        with pytest.raises(UnmappedInstanceError):
            session.add(unsaved(_Row, {"id": 2, "name": "d"}))
    await engine.dispose()


async def test_a_batch_keeps_answers_and_never_a_refusal() -> None:
    """``answered`` finds an answer once per batch, finds it each time
    without one, and keeps no refusal: the next record is checked again."""
    calls: list[str] = []

    async def site_exists() -> bool:
        calls.append("site")
        return True

    async def team_unknown() -> bool:
        calls.append("team")
        raise ValueError("unknown team")

    answers = Rows().answers
    for _ in range(3):
        assert await answered(answers, ("site", 1), site_exists) is True
        with pytest.raises(ValueError, match="unknown team"):
            await answered(answers, ("team", 2), team_unknown)
    assert calls == ["site", "team", "team", "team"]
    assert ("team", 2) not in answers
    calls.clear()
    for _ in range(2):
        await answered(None, ("site", 1), site_exists)
    assert calls == ["site", "site"]
