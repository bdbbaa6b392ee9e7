"""Responses that can carry personal data are never kept by a browser or a
proxy cache: every response of the three services says
``Cache-Control: no-store`` (errors too), but the API docs."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from shared.auth import Role
from tests.beneficiary.api import beneficiary_body
from tests.callers import Caller, Org

READS = {
    "beneficiary": "/v1/beneficiaries",
    "training": "/v1/trainees",
    "reporting": "/v1/indicators",
}


def client_of(target: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=target), base_url="http://test"
    )


async def test_personal_data_is_not_stored(issue: Any, orgs: dict[str, Org]) -> None:
    worker: Caller = issue(orgs["a"], Role.case_worker)
    created = await worker.post("/v1/beneficiaries", beneficiary_body())
    assert created.status_code == 201, created.text
    assert_no_store(created)
    read = await worker.get(f"/v1/beneficiaries/{created.json()['id']}")
    assert read.status_code == 200, read.text
    assert_no_store(read)


@pytest.mark.parametrize("service", ["beneficiary", "training", "reporting"])
async def test_every_api_response_says_no_store(
    service: str,
    apps: dict[str, FastAPI],
    issue: Any,
    orgs: dict[str, Org],
) -> None:
    caller = issue(orgs["a"], Role.programme_manager, Role.trainer)
    async with client_of(apps[service]) as http:
        ok = await http.get(READS[service], headers=caller.headers())
        assert ok.status_code == 200, ok.text
        assert_no_store(ok)
        refused = await http.get(READS[service])
        assert refused.status_code == 401
        assert_no_store(refused)
        missing = await http.get(f"/v1/nothing-here/{uuid.uuid4()}")
        assert_no_store(missing)
        for docs in ("/openapi.json", "/docs", "/redoc"):
            response = await http.get(docs)
            assert response.status_code == 200, docs
            assert "cache-control" not in response.headers, docs


def assert_no_store(response: httpx.Response) -> None:
    assert response.headers.get_list("cache-control") == ["no-store"], response.headers
