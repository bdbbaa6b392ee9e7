"""Keyset (cursor) pagination: stable under concurrent inserts, no offsets."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, Field
from sqlalchemy import and_, or_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Select
from sqlmodel import col

from shared.errors import BadRequest

T = TypeVar("T")
MAX_LIMIT = 500


class Page(BaseModel, Generic[T]):
    """One page of a list; pass ``next_cursor`` back to get the next page."""

    items: list[T]
    next_cursor: str | None = Field(
        default=None, description="Opaque; absent on the last page."
    )


def encode_cursor(values: list[Any]) -> str:
    raw = json.dumps(values, default=str, separators=(",", ":")).encode()
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


async def keyset_page(
    session: AsyncSession,
    statement: Select[Any],
    *,
    key: Any,
    parse_key: Callable[[str], Any],
    cursor: str | None,
    limit: int,
) -> tuple[list[Any], str | None]:
    """Rows newest first by (``key``, id), resuming after the cursor's row.

    Stable under concurrent inserts: a row is identified by its sort key and
    id, never by an offset."""
    model = statement.column_descriptions[0]["entity"]
    id_column = col(model.id)
    after = decode_cursor(cursor, 2)
    if after is not None:
        try:
            last_key, last_id = parse_key(str(after[0])), uuid.UUID(str(after[1]))
        except (TypeError, ValueError):
            raise BadRequest("The cursor is not one this API issued.") from None
        statement = statement.where(
            or_(key < last_key, and_(key == last_key, id_column < last_id))
        )
    statement = statement.order_by(key.desc(), id_column.desc()).limit(limit + 1)
    rows = list((await session.execute(statement)).scalars())
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    last = rows[-1]
    return rows, encode_cursor([getattr(last, key.key).isoformat(), str(last.id)])


def aware_datetime(value: str) -> datetime:
    """A cursor's timestamp; naive ones were not issued by this API."""
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError("naive timestamp")
    return parsed
