"""A user with a token, for readable tests: ``await alice.get(...)``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx


@dataclass
class Org:
    id: str
    name: str


@dataclass
class Caller:
    """A user with a token, for readable tests: ``await alice.get(...)``."""

    client: httpx.AsyncClient
    token: str
    org: Org
    subject: str

    def headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", **(extra or {})}

    async def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.client.get(
            path, headers=self.headers(kwargs.pop("headers", None)), **kwargs
        )

    async def post(self, path: str, json: Any = None, **kwargs: Any) -> httpx.Response:
        return await self.client.post(
            path, json=json, headers=self.headers(kwargs.pop("headers", None)), **kwargs
        )

    async def patch(self, path: str, json: Any = None, **kwargs: Any) -> httpx.Response:
        return await self.client.patch(
            path, json=json, headers=self.headers(kwargs.pop("headers", None)), **kwargs
        )

    async def put(self, path: str, json: Any = None, **kwargs: Any) -> httpx.Response:
        return await self.client.put(
            path, json=json, headers=self.headers(kwargs.pop("headers", None)), **kwargs
        )


async def ok(response: httpx.Response) -> Any:
    """The JSON of a write or read that succeeded (200 or 201); the request
    and the problem otherwise, to see which of many calls failed."""
    assert response.status_code in (200, 201), (
        response.request.method,
        response.request.url,
        response.text,
    )
    return response.json()
