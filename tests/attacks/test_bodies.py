"""Every operation that takes a JSON body, on the three services: JSON nested
100,000 levels deep or in invalid UTF-8 is a cheap 400 malformed-json, a
deep-but-parsable body a 4xx, and a body over the limit a 413, announced by
Content-Length or sent chunked; all problem+json, never a 500."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from shared.auth import Role
from shared.errors import PROBLEM_MEDIA_TYPE, TYPE_BASE
from tests.attacks.openapi_bodies import operations
from tests.callers import Org

DEEP = 100_000
ROLES = (Role.admin, Role.programme_manager, Role.case_worker, Role.trainer)


def problem(response: httpx.Response, status: int, slug: str | None = None) -> str:
    """'' when the response is that problem, else what it is instead."""
    media = response.headers.get("content-type", "").split(";")[0]
    body = response.json() if media == PROBLEM_MEDIA_TYPE else {}
    if (
        response.status_code == status
        and media == PROBLEM_MEDIA_TYPE
        and (slug is None or body.get("type") == TYPE_BASE + slug)
    ):
        return ""
    return f"{response.status_code} {media} {response.text[:200]}"


async def chunks(size: int) -> AsyncIterator[bytes]:
    sent = 0
    while sent < size:
        yield b" " * 65536
        sent += 65536


@pytest.mark.parametrize("service", ["beneficiary", "training", "reporting"])
async def test_hostile_bodies_are_refused_before_they_cost(
    service: str,
    beneficiary_app: FastAPI,
    training_app: FastAPI,
    reporting_app: FastAPI,
    issue: Any,
    orgs: dict[str, Org],
) -> None:
    target = {
        "beneficiary": beneficiary_app,
        "training": training_app,
        "reporting": reporting_app,
    }[service]
    caller = issue(orgs["a"], *ROLES)
    headers = {**caller.headers(), "Content-Type": "application/json"}
    limit: int = target.state.settings.max_body_bytes
    spec = target.openapi()
    with_body = [op for op in operations(spec) if op.body is not None]
    assert with_body
    failures: list[str] = []
    slowest = 0.0
    transport = httpx.ASGITransport(app=target, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        for op in with_body:
            url = op.path.replace("{", "").replace("}", "")
            for name, content, status, slug in [
                ("deep", b"[" * DEEP + b"]" * DEEP, 400, "malformed-json"),
                (
                    "deep object",
                    b'{"a":' * DEEP + b"1" + b"}" * DEEP,
                    400,
                    "malformed-json",
                ),
                ("invalid utf-8", b'{"name": "\xff\xfe"}', 400, "malformed-json"),
                ("too large", b" " * (limit + 1), 413, "payload-too-large"),
            ]:
                started = time.perf_counter()
                r = await http.request(op.method, url, content=content, headers=headers)
                slowest = max(slowest, time.perf_counter() - started)
                if wrong := problem(r, status, slug):
                    failures.append(f"{op.label} {name}: {wrong}")
            r = await http.request(
                op.method, url, content=chunks(limit + 1), headers=headers
            )
            if wrong := problem(r, 413, "payload-too-large"):
                failures.append(f"{op.label} chunked: {wrong}")
            nested = b"[" * 500 + b"]" * 500
            r = await http.request(op.method, url, content=nested, headers=headers)
            if r.status_code >= 500 or not 400 <= r.status_code < 500:
                failures.append(f"{op.label} 500 deep: {r.status_code} {r.text[:200]}")
    assert not failures, "\n".join(failures)
    assert slowest < 1.0, f"a hostile body took {slowest:.2f} s"
