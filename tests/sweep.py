"""The authorisation sweeps' walk over a service's OpenAPI: every route,
with ids in its path, query and body (tests/*/test_scoping.py)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import FastAPI


@dataclass(frozen=True)
class Route:
    method: str
    template: str
    query: frozenset[str]
    """The names of its query parameters."""

    @property
    def params(self) -> list[str]:
        return re.findall(r"{(\w+)}", self.template)

    def path(self, ids: Mapping[str, str], default: str | None = None) -> str:
        """The template with each ``{name}`` replaced by ``ids[name]``."""
        path = self.template
        for name in self.params:
            value = ids.get(name, default)
            assert value is not None, f"no id for {{{name}}} in {self.template}"
            path = path.replace(f"{{{name}}}", value)
        return path

    def read(self, params: Mapping[str, str]) -> dict[str, str]:
        """The ``params`` the route reads (others are refused with a 400):
        its declared ones, or any on an indicator's values and feed, whose
        filters are named after the indicator's disaggregations."""
        if self.template.endswith("/values") or "/feeds/" in self.template:
            return dict(params)
        return {name: value for name, value in params.items() if name in self.query}

    def query_ids(self, ids: Mapping[str, str]) -> dict[str, str]:
        """Its query parameters that name a record, filled from ``ids``."""
        return {name: ids[name] for name in sorted(self.query) if name in ids}


def routes(app: FastAPI, prefix: str = "/v1/") -> list[Route]:
    """Every operation of the app's API, in the OpenAPI's order."""
    found = []
    for template, operations in app.openapi()["paths"].items():
        if not template.startswith(prefix):
            continue
        for method, operation in operations.items():
            query = frozenset(
                p["name"] for p in operation.get("parameters", []) if p["in"] == "query"
            )
            found.append(Route(method.upper(), template, query))
    return found


@dataclass
class Call:
    """One request of a sweep."""

    path: str
    params: dict[str, str] = field(default_factory=dict)
    body: Any = None


async def assert_refused(
    client: httpx.AsyncClient,
    swept: Iterable[Route],
    callers: Mapping[str, Mapping[str, str]],
    call: Callable[[Route], Call],
    *,
    exempt: Callable[[Route, str], bool] = lambda route, caller: False,
    status: int = 403,
) -> int:
    """Each caller (name: its headers) gets ``status`` on each route but the
    exempt ones, whatever ids the call names; how many requests were checked."""
    checked = 0
    for route in swept:
        request = call(route)
        for name, headers in callers.items():
            if exempt(route, name):
                continue
            response = await client.request(
                route.method,
                request.path,
                params=request.params,
                json=request.body,
                headers=dict(headers),
            )
            assert response.status_code == status, (
                name,
                route.method,
                request.path,
                response.text,
            )
            checked += 1
    return checked


def leaked(text: str, hidden: Iterable[str]) -> list[str]:
    """Which of the hidden values appear in an answer."""
    return [value for value in hidden if value in text]
