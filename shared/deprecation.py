"""Deprecated query parameters: still read, announced on every answer that
used one (``Deprecation``, RFC 9745; ``Sunset``, RFC 8594; a ``Link`` to the
policy), marked ``deprecated`` in the OpenAPI, and gone after the sunset.

A renamed parameter is declared twice on its route, the new name and the old
one made with ``renamed_to``; ``either`` then reads whichever was sent. The
policy is in docs/api.md, "Versioning and deprecation".
"""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime
from email.utils import format_datetime
from typing import Any, TypeVar
from urllib.parse import parse_qsl

from fastapi import Query
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.errors import BadRequest

T = TypeVar("T")

API_VERSION = "1"
"""The API's major version: in every path (``/v1``), each document's
``info.version`` and every answer's ``API-Version`` header."""

DEPRECATED_ON = date(2026, 12, 4)
"""When this version's renamed parameters were deprecated."""
SUNSET_ON = date(2027, 6, 30)
"""After this day they are refused like any unknown parameter."""
POLICY = "https://mhpss.dev/api#versioning-and-deprecation"
"""The policy's address, in the namespace of the problem types (docs/api.md)."""


def renamed_to(new: str, **constraints: Any) -> Any:
    """The ``Query`` of a parameter's old name: documented as deprecated,
    with the same ``constraints`` as the new one."""
    return Query(
        deprecated=True,
        description=f"Deprecated: send `{new}`. Read until {SUNSET_ON.isoformat()}.",
        **constraints,
    )


def either(new_value: T | None, old_value: T | None, *, new: str, old: str) -> T | None:
    """The value sent under the new name or the old one; both, differing, is
    a mistake the caller must hear about rather than a silent choice."""
    if new_value is not None and old_value is not None and new_value != old_value:
        raise BadRequest(
            f"`{old}` is the deprecated name of `{new}`: send only `{new}`."
        )
    return new_value if new_value is not None else old_value


def deprecated_query_names(dependant: Dependant) -> frozenset[str]:
    """The deprecated query parameters a route reads, its dependencies' too."""
    names = {p.alias for p in dependant.query_params if p.field_info.deprecated}
    for dependency in dependant.dependencies:
        names |= deprecated_query_names(dependency)
    return frozenset(names)


def _deprecated_of(route: APIRoute) -> frozenset[str]:
    found: frozenset[str] | None = getattr(route, "_deprecated_query", None)
    if found is None:
        found = deprecated_query_names(route.dependant)
        route._deprecated_query = found  # type: ignore[attr-defined]
    return found


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


DEPRECATION_HEADERS = {
    "Deprecation": f"@{calendar.timegm(_midnight(DEPRECATED_ON).timetuple())}",
    "Sunset": format_datetime(_midnight(SUNSET_ON), usegmt=True),
    "Link": f'<{POLICY}>; rel="deprecation"',
}


class DeprecationHeaders:
    """Pure ASGI middleware: an answer to a request that used a deprecated
    parameter carries the deprecation headers, whatever kind of response the
    route returns (a model, a file, a 4xx problem)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope.get("query_string"):
            await self.app(scope, receive, send)
            return

        async def announce(message: Message) -> None:
            if message["type"] == "http.response.start":
                route = scope.get("route")
                if isinstance(route, APIRoute) and (
                    deprecated := _deprecated_of(route)
                ):
                    sent = {
                        k
                        for k, _ in parse_qsl(
                            scope["query_string"].decode("latin-1"),
                            keep_blank_values=True,
                        )
                    }
                    if sent & deprecated:
                        headers = MutableHeaders(scope=message)
                        for name, value in DEPRECATION_HEADERS.items():
                            headers.append(name, value)
            await send(message)

        await self.app(scope, receive, announce)
