"""The dashboard page never takes a bearer token from its address, where it
would stay in proxy logs, the browser's history and Referer headers: the
person pastes it into the page (the script keeps it in sessionStorage and
sends it as Authorization). tests/smoke/test_dashboard.py drives the page."""

from __future__ import annotations

import httpx
import pytest

from shared.errors import PROBLEM_MEDIA_TYPE


@pytest.mark.parametrize("parameter", ["token", "access_token"])
async def test_a_token_in_the_address_is_refused(
    reporting_client: httpx.AsyncClient, parameter: str
) -> None:
    secret = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"
    r = await reporting_client.get(
        "/dashboard", params={parameter: secret, "start": "2026-01-01"}
    )
    assert r.status_code == 400, r.text
    assert r.headers["content-type"] == PROBLEM_MEDIA_TYPE
    assert secret not in r.text
    assert r.headers["cache-control"] == "no-store"


async def test_the_page_takes_the_token_from_the_person_only(
    reporting_client: httpx.AsyncClient,
) -> None:
    r = await reporting_client.get("/dashboard", params={"start": "2026-01-01"})
    assert r.status_code == 200, r.text
    assert r.headers["referrer-policy"] == "no-referrer"
    page = r.text
    assert "params.get('token')" not in page
    assert 'id="token" type="password"' in page
    assert 'name="token"' not in page  # a form submitted without script sends none
