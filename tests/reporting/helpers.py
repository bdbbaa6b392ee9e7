"""Reading indicators in tests, as an M&E officer of an organisation, and
starting the fact store as a process does."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from services.reporting.engine.store import FactStore, Snapshots
from tests.beneficiary.api import make_beneficiary, record_service
from tests.callers import Caller


async def one_service_counted(
    recorder: Caller, catch_up: Callable[[], Awaitable[Any]]
) -> None:
    """A person registered and served once, and reporting caught up."""
    person = await make_beneficiary(recorder)
    await record_service(recorder, person["id"])
    await catch_up()


async def awareness_session(recorder: Caller) -> None:
    """An anonymous session: 12 adult women and 7 boys under 18."""
    r = await recorder.post(
        "/v1/anonymous-services",
        {
            "activity_code": "awareness_session",
            "service_date": "2026-02-10",
            "counts": [
                {"sex": "female", "age_group": "adult", "count": 12},
                {"sex": "male", "age_group": "under_18", "count": 7},
            ],
        },
    )
    assert r.status_code == 201, r.text


async def both_sexes_served(
    recorder: Caller, catch_up: Callable[[], Awaitable[Any]]
) -> None:
    """A woman and a man served on two days each, an anonymous session, and
    reporting caught up."""
    for sex, day in (("female", "2026-02-01"), ("male", "2026-03-05")):
        person = await make_beneficiary(recorder, sex=sex)
        await record_service(recorder, person["id"], service_date=day)
        await record_service(recorder, person["id"], service_date="2026-04-01")
    await awareness_session(recorder)
    await catch_up()


async def started_store(
    app: FastAPI, directory: Path | None = None, **snapshots: float
) -> FactStore:
    """A process starting: a new store, with snapshots in ``directory``
    (``Snapshots``' other fields as given), serving the app's requests; its
    first refresh done, any snapshot write ended."""
    store = FactStore(
        app.state.runtime.engine,
        Snapshots(directory, **snapshots) if directory else None,
    )
    app.state.fact_store = store
    await store.refresh()
    await store.settled()
    return store


async def overview(
    client: httpx.AsyncClient,
    reader: Caller,
    start: str = "2020-01-01",
    end: str = "2030-12-31",
) -> Any:
    r = await client.get(
        "/v1/overview", params={"start": start, "end": end}, headers=reader.headers()
    )
    assert r.status_code == 200, r.text
    return r.json()


async def values(
    client: httpx.AsyncClient,
    reader: Caller,
    indicator: str,
    start: str = "2020-01-01",
    end: str = "2030-12-31",
    **params: Any,
) -> dict[str, Any]:
    r = await client.get(
        f"/v1/indicators/{indicator}/values",
        params={"start": start, "end": end, **params},
        headers=reader.headers(),
    )
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def refused_query(
    client: httpx.AsyncClient,
    reader: Caller,
    indicator: str,
    start: str = "2020-01-01",
    end: str = "2030-12-31",
    **params: Any,
) -> str:
    """The problem text of a query with a value no dimension takes (422)."""
    r = await client.get(
        f"/v1/indicators/{indicator}/values",
        params={"start": start, "end": end, **params},
        headers=reader.headers(),
    )
    assert r.status_code == 422, r.text
    return r.text


def by_value(body: dict[str, Any]) -> dict[Any, Any]:
    """Cells keyed by their dim value (one dim) or tuple of values."""
    out = {}
    for cell in body["cells"]:
        key = tuple(cell["dims"][d] for d in body["disaggregations"])
        out[key[0] if len(key) == 1 else key] = cell["value"]
    return out


async def table(
    client: httpx.AsyncClient,
    reader: Caller,
    indicator: str,
    start: str,
    end: str,
    by: str = "",
    names: dict[str, str] | None = None,
    **params: str,
) -> dict[Any, Any]:
    """An indicator's total (``"total"``) and its cells by value, ids of
    places and organisations given by their name in ``names``, as a test
    writes a published table out by hand."""
    body = await values(
        client, reader, indicator, start, end, **({"by": by} if by else {}), **params
    )
    names = names or {}
    cells = {names.get(k, k): v for k, v in by_value(body).items()} if by else {}
    return {"total": body["total"]["value"], **cells}


def cell_time(text: str) -> datetime:
    """A spreadsheet's date or time cell as openpyxl reads it: naive (UTC)."""
    return datetime.fromisoformat(text)
