"""A reader never sees the fact store halfway through a refresh."""

from __future__ import annotations

import asyncio

from fastapi import FastAPI

from services.reporting.engine.store import FactStore


async def test_a_reader_waits_for_a_refresh_under_way(reporting_app: FastAPI) -> None:
    """Even with nothing new to load, a reader that arrives while another
    refresh holds the store (loading chunk by chunk, awaiting the database
    between them) waits until that refresh has finished."""
    store = FactStore(reporting_app.state.runtime.engine)
    await store.refresh()
    assert store.seq == 0  # nothing ingested: a reader would return at once

    async with store._lock:  # another refresh, halfway through its frames
        reader = asyncio.create_task(store.refresh())
        await asyncio.sleep(0.2)
        assert not reader.done(), "the reader went on while frames were loading"
    await asyncio.wait_for(reader, 5)
