"""JSON columns read back what was written, whether the row went through the
ORM or through the bulk writer's COPY; and the stored value is the one
``json.dumps`` (the serialiser before orjson) would have stored."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlmodel import col

from services.beneficiary.db import OutboxEvent
from shared.bulk import Rows
from shared.db import dump_json

FACTS: dict[str, Any] = {
    "name": "مركز الأمل للدعم النفسي",
    "kurdish": "ناوەندی کوردی",
    "missing": None,
    "nested": [[1, 2.5, None, -0.0], {"inner": ["ä", "🙂", [], {}]}],
    "flag": False,
    "largest": 2**63 - 1,
    "smallest": -(2**63),
    "small": 1e-7,
    "quoted": 'a "b" \\ c\n\t/',
    "controls": "\x01\x1f\x7f",
    "separators": "\u2028\u2029",
}
REFUSED_BY_ORJSON: dict[Any, Any] = {"huge": 2**70, 7: "int key"}


def event(data: Any) -> dict[str, Any]:
    return {
        "id": uuid.uuid4(),
        "type": "test.event",
        "organisation_id": uuid.uuid4(),
        "entity_type": "test",
        "entity_id": uuid.uuid4(),
        "occurred_at": datetime.now(UTC),
        "data": data,
        "position": None,
    }


@pytest.mark.parametrize("data", [FACTS, REFUSED_BY_ORJSON, None, [], "text"])
async def test_bulk_and_orm_rows_read_back_what_json_dumps_stored(
    beneficiary_engine: AsyncEngine, data: Any
) -> None:
    bulk, orm = event(data), event(data)
    async with AsyncSession(beneficiary_engine) as session, session.begin():
        rows = Rows()
        rows.add(OutboxEvent.__table__, bulk)  # type: ignore[attr-defined]
        await rows.write(session)
        session.add(OutboxEvent(**orm))
    expected = json.loads(json.dumps(data))
    async with AsyncSession(beneficiary_engine) as session:
        for columns in (bulk, orm):
            read = await session.scalar(
                select(OutboxEvent).where(col(OutboxEvent.id) == columns["id"])
            )
            assert read is not None
            assert read.data == expected
            assert json.dumps(read.data) == json.dumps(data)  # key order too
            same = await session.scalar(
                text(
                    "SELECT data::jsonb = CAST(:old AS jsonb) FROM outbox_event"
                    " WHERE id = :id"
                ),
                {"old": json.dumps(data), "id": columns["id"]},
            )
            assert same is True


def test_what_json_dumps_refused_is_refused() -> None:
    for value in (datetime.now(UTC), {"at": datetime.now(UTC).date()}, {1, 2}):
        with pytest.raises(TypeError):
            json.dumps(value)
        with pytest.raises(TypeError):
            dump_json(value)


def test_what_orjson_refuses_is_written_by_json_dumps() -> None:
    assert dump_json(REFUSED_BY_ORJSON) == json.dumps(REFUSED_BY_ORJSON)
    assert dump_json("\ud800") == json.dumps("\ud800")
