"""Keyset (cursor) pagination: stable under concurrent inserts, no offsets."""

from __future__ import annotations

import base64
import json
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, Field

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
