"""The bulk writer binds a column's values all at once exactly as the
column type's bind processor binds each (what an INSERT would send), for
every column of the tables a sync or an import writes."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import Boolean, Enum
from sqlalchemy.dialects.postgresql.asyncpg import PGDialect_asyncpg
from sqlalchemy.types import JSON, TypeEngine

from services.beneficiary.audit.models import AuditEntry
from services.beneficiary.beneficiaries.models import Beneficiary
from services.beneficiary.consent.models import ConsentEntry
from services.beneficiary.db import OutboxEvent
from services.beneficiary.service_records.models import ServiceRecord
from shared.bulk import _bound
from shared.db import UTCDateTime, dump_json

DIALECT = PGDialect_asyncpg(json_serializer=dump_json)  # type: ignore[no-untyped-call]
MODELS: list[Any] = [Beneficiary, ConsentEntry, ServiceRecord, OutboxEvent, AuditEntry]
TABLES = [model.__table__ for model in MODELS]


def some_values(kind: TypeEngine[Any], rng: random.Random) -> list[Any]:
    if isinstance(kind, Enum):
        choices: list[Any] = [*kind.enum_class, None] if kind.enum_class else []
        choices += kind.enums  # names too, as a string is bound as it is
    elif isinstance(kind, Boolean):
        choices = [True, False, None]
    elif isinstance(kind, UTCDateTime):
        now = datetime.now(UTC)
        choices = [now, now.astimezone(timezone(timedelta(hours=3))), None]
    elif isinstance(kind, JSON):
        choices = [None, {"a": [1, None, "ب"]}, ["x"], {}]
    else:
        choices = [uuid.uuid4(), "text", 7, date(2026, 1, 2), None]
    return [rng.choice(choices) for _ in range(200)]


@pytest.mark.parametrize("table", TABLES, ids=lambda t: t.name)
def test_each_column_binds_as_its_type_binds_each_value(table: Any) -> None:
    rng = random.Random(table.name)
    for column in table.columns:
        kind: TypeEngine[Any] = column.type
        process = kind._cached_bind_processor(DIALECT)
        for _ in range(5):
            values = some_values(kind, rng)
            expected = values if process is None else [process(v) for v in values]
            bound = _bound(kind, DIALECT, list(values))
            assert bound == expected, column.name
            assert [type(v) for v in bound] == [type(v) for v in expected]


def test_values_the_types_refuse_are_refused() -> None:
    table = Beneficiary.__table__  # type: ignore[attr-defined]
    with pytest.raises(LookupError):
        _bound(table.c.sex.type, DIALECT, [next(iter(table.c.sex.type.enum_class)), 3])
    with pytest.raises(ValueError, match="naive"):
        _bound(table.c.created_at.type, DIALECT, [datetime(2026, 1, 1)])  # noqa: DTZ001
    with pytest.raises(ValueError, match="None, True, or False"):
        _bound(table.c.date_of_birth_estimated.type, DIALECT, [True, 2])


def test_an_integer_for_a_boolean_is_bound_as_a_bool() -> None:
    kind = Beneficiary.__table__.c.date_of_birth_estimated.type  # type: ignore[attr-defined]
    assert [type(v) for v in _bound(kind, DIALECT, [1, 0, None])] == [
        bool,
        bool,
        type(None),
    ]
