"""The embedded default's in-process queue behaves as the worker does: JSON
payloads, retries on arq's Retry, coalescing by job id, periodic jobs, and a
prompt stop."""

from __future__ import annotations

import asyncio
from typing import Any

from arq.worker import Retry

from shared.queue import InlineQueue


async def test_retry_coalescing_and_json_payloads() -> None:
    calls: list[Any] = []

    async def flaky(ctx: dict[str, Any], *, payload: dict[str, Any]) -> None:
        calls.append(payload)
        if len(calls) < 3:
            raise Retry(defer=0.01)

    queue = InlineQueue({})
    queue.register([flaky])
    await queue.enqueue("flaky", job_id="one", payload={"when": (1, 2)})
    await queue.enqueue("flaky", job_id="one", payload={"when": (1, 2)})  # coalesced
    await queue.drain()
    assert calls == [{"when": [1, 2]}] * 3  # tuples become lists, as through Redis
    await queue.enqueue("nobody_registered")  # logged, not raised
    await queue.close()


async def test_periodic_jobs_run_at_once_and_stop_on_close() -> None:
    runs: list[int] = []

    async def tick(ctx: dict[str, Any]) -> None:
        runs.append(1)

    queue = InlineQueue({})
    queue.run_periodically(tick, every_seconds=0.01)
    await asyncio.sleep(0.05)
    await asyncio.wait_for(queue.close(), 1)
    count = len(runs)
    assert count >= 2
    await asyncio.sleep(0.03)
    assert len(runs) == count
