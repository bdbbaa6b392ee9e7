"""The bad-credential limit and requests from chosen addresses."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from shared.errors import PROBLEM_MEDIA_TYPE

LIMIT = 4
"""The bad-credential limit the ``low_limit`` fixture sets."""


def assert_too_many(response: httpx.Response) -> None:
    assert response.status_code == 429, response.text
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    assert 0 < int(response.headers["retry-after"]) <= 60


def from_address(target: FastAPI, address: str) -> httpx.AsyncClient:
    """A client at ``address`` that sees a crash as the 500 a caller gets."""
    transport = httpx.ASGITransport(
        app=target, client=(address, 40000), raise_app_exceptions=False
    )
    return httpx.AsyncClient(transport=transport, base_url="http://test")
