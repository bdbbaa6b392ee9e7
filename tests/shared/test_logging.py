"""Log lines never carry what a URL's query string holds."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from shared.http import make_client
from shared.observability import configure_logging


async def test_an_outbound_call_logs_no_query_string(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """httpx logs each call's full URL at INFO; a search by name would leak it."""
    configure_logging("INFO")
    app = FastAPI()

    @app.get("/lookup")
    async def lookup(name: str) -> dict[str, str]:
        return {"found": "no"}

    async with make_client(
        base_url="http://beneficiary", transport=httpx.ASGITransport(app=app)
    ) as client:
        response = await client.get("/lookup", params={"name": "Layla Haddad"})
    assert response.status_code == 200
    output = capsys.readouterr()
    assert "Layla" not in output.out + output.err
