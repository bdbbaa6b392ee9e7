"""Keyset (cursor) pagination: stable under concurrent inserts, no offsets."""

from __future__ import annotations

import base64
import enum
import json
import uuid
from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel, ConfigDict, Field, computed_field
from sqlalchemy import and_, false, or_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import ColumnElement, Select
from sqlmodel import col

from shared.contracts.text import Text
from shared.errors import BadRequest

T = TypeVar("T")
U = TypeVar("U")
MAX_LIMIT = 500
DEFAULT_LIMIT = 50

CursorQuery = Annotated[
    Text | None,
    Query(
        max_length=500,
        description="The `next_cursor` of the previous page; absent for the first.",
    ),
]
LimitQuery = Annotated[
    int, Query(ge=1, le=MAX_LIMIT, description="The most items to answer.")
]


def _describe_page(schema: dict[str, Any], model: type) -> None:
    """A parametrised page (``Page_CaseRead_``) has no docstring of its own;
    this gives each one the description a generated client shows."""
    schema.setdefault(
        "description",
        "One page of a list; pass `next_cursor` back as `cursor` to get the next "
        "page. `has_more` is false on the last page.",
    )


class Page(BaseModel, Generic[T]):
    """One page of a list; pass ``next_cursor`` back to get the next page."""

    model_config = ConfigDict(json_schema_extra=_describe_page)

    items: list[T]
    next_cursor: str | None = Field(
        default=None, description="Opaque; null on the last page."
    )

    @computed_field  # type: ignore[prop-decorator]
    @property
    def has_more(self) -> bool:
        """True while another page follows: the same fact as a ``next_cursor``,
        spelt for clients that loop on a boolean."""
        return self.next_cursor is not None

    def map(self, read: Callable[[T], U]) -> Page[U]:
        """The same page with each item turned into what the route answers
        (a row into its read model); the cursor stays."""
        return Page[U](
            items=[read(item) for item in self.items], next_cursor=self.next_cursor
        )


def _cursor_value(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def encode_cursor(values: list[Any]) -> str:
    raw = json.dumps(
        [_cursor_value(v) for v in values], default=str, separators=(",", ":")
    ).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None, arity: int) -> list[Any] | None:
    """The key values of the last row seen, or None for the first page."""
    if cursor is None:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded))
    except ValueError:
        raise BadRequest("The cursor is not one this API issued.") from None
    if not isinstance(values, list) or len(values) != arity:
        raise BadRequest("The cursor is not one this API issued.")
    return values


SortKey = tuple[Any, Callable[[str], Any]]
"""A column to order by and how to read its value back from a cursor."""


def _after(
    keys: Sequence[Any], values: Sequence[Any], descending: bool
) -> ColumnElement[bool]:
    """Rows strictly past ``values`` in the lexicographic order of ``keys``."""
    condition: ColumnElement[bool] = false()
    for column, value in reversed(list(zip(keys, values, strict=True))):
        past = column < value if descending else column > value
        condition = or_(past, and_(column == value, condition))
    return condition


async def ordered_page(
    session: AsyncSession,
    statement: Select[Any],
    *,
    keys: Sequence[SortKey],
    cursor: str | None,
    limit: int,
    descending: bool = False,
) -> Page[Any]:
    """Rows in the order of ``keys`` then id, resuming after the cursor's row.

    Stable under concurrent inserts: a row is identified by its sort keys and
    id, never by an offset. Sort keys must not be null."""
    model = statement.column_descriptions[0]["entity"]
    columns = [column for column, _ in keys] + [col(model.id)]
    parsers = [parse for _, parse in keys] + [uuid.UUID]
    after = decode_cursor(cursor, len(columns))
    if after is not None:
        try:
            values = [parse(str(v)) for parse, v in zip(parsers, after, strict=True)]
        except (TypeError, ValueError):
            raise BadRequest("The cursor is not one this API issued.") from None
        statement = statement.where(_after(columns, values, descending))
    order = [c.desc() if descending else c.asc() for c in columns]
    rows = list(
        (await session.execute(statement.order_by(*order).limit(limit + 1))).scalars()
    )
    if len(rows) <= limit:
        return Page(items=rows)
    rows = rows[:limit]
    last = rows[-1]
    return Page(
        items=rows, next_cursor=encode_cursor([getattr(last, c.key) for c in columns])
    )


async def keyset_page(
    session: AsyncSession,
    statement: Select[Any],
    *,
    key: Any,
    parse_key: Callable[[str], Any],
    cursor: str | None,
    limit: int,
) -> tuple[list[Any], str | None]:
    """Rows newest first by (``key``, id), resuming after the cursor's row."""
    page = await ordered_page(
        session,
        statement,
        keys=[(key, parse_key)],
        cursor=cursor,
        limit=limit,
        descending=True,
    )
    return page.items, page.next_cursor


def listed_page(
    items: Sequence[T], *, key: Callable[[T], str], cursor: str | None, limit: int
) -> Page[T]:
    """A page of a list read whole (a catalogue, one case's assessments, a
    cohort's trainees), in the order given: the cursor names the last item
    by its unique ``key`` and the next page starts after it. Such lists only
    grow at the end, so the item is still there; if it is not, the cursor
    is refused and the client starts again."""
    after = decode_cursor(cursor, 1)
    start = 0
    if after is not None:
        keys = [key(item) for item in items]
        if after[0] not in keys:
            raise BadRequest("The cursor's item is gone: read from the first page.")
        start = keys.index(after[0]) + 1
    page = list(items[start : start + limit])
    if start + limit >= len(items):
        return Page(items=page)
    return Page(items=page, next_cursor=encode_cursor([key(page[-1])]))


def aware_datetime(value: str) -> datetime:
    """A cursor's timestamp; naive ones were not issued by this API."""
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError("naive timestamp")
    return parsed
