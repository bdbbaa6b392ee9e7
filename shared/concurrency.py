"""Optimistic concurrency over HTTP: ETag carries the row version, If-Match
must name the version the client edited."""

from __future__ import annotations

from shared.errors import BadRequest, PreconditionRequired


def etag(version: int) -> str:
    return f'"{version}"'


def expected_version(if_match: str | None) -> int:
    """The version named in If-Match (``"3"``, ``W/"3"`` or ``3``)."""
    if if_match is None:
        raise PreconditionRequired(
            "Send If-Match with the version you edited (the ETag you read)."
        )
    value = if_match.strip().removeprefix("W/").strip('"')
    if not (value.isascii() and value.isdigit() and len(value) <= 9):
        raise BadRequest('If-Match must carry a version number, e.g. "3".')
    return int(value)
