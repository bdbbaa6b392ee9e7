"""The embedded default's in-process queue behaves as the worker does: JSON
payloads, retries on arq's Retry, coalescing by job id, periodic jobs, a
prompt stop, and jobs for another service's queue in the same process."""

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

    queue = InlineQueue({}, "flaky_service")
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

    queue = InlineQueue({}, "ticking_service")
    queue.run_periodically(tick, every_seconds=0.01)
    await asyncio.sleep(0.05)
    await asyncio.wait_for(queue.close(), 1)
    count = len(runs)
    assert count >= 2
    await asyncio.sleep(0.03)
    assert len(runs) == count


async def test_a_job_for_a_live_queue_runs_there_as_json() -> None:
    received: list[tuple[Any, ...]] = []

    async def ingest(ctx: dict[str, Any], *, source: str, events: Any) -> None:
        received.append((ctx["me"], source, events))

    producer = InlineQueue({"me": "producer"}, "producer")
    consumer = InlineQueue({"me": "consumer"}, "consumer")
    consumer.register([ingest])
    await producer.enqueue(
        "ingest",
        job_id="chunk-1-2",
        queue_name="consumer",
        source="producer",
        events=({"position": 1},),
    )
    await producer.enqueue(
        "ingest",
        job_id="chunk-1-2",
        queue_name="consumer",
        source="producer",
        events=({"position": 1},),
    )  # coalesced on the consumer's queue
    await consumer.drain()
    assert received == [("consumer", "producer", [{"position": 1}])]
    await consumer.close()
    await producer.close()


async def test_a_job_for_a_queue_not_in_this_process_is_dropped() -> None:
    runs: list[int] = []

    async def ingest(ctx: dict[str, Any], **kwargs: Any) -> None:
        runs.append(1)

    consumer = InlineQueue({}, "closed_consumer")
    consumer.register([ingest])
    await consumer.close()
    producer = InlineQueue({}, "lonely_producer")
    producer.register([ingest])
    await producer.enqueue("ingest", queue_name="closed_consumer")
    await producer.enqueue("ingest", queue_name="never_started")
    await producer.drain()
    await consumer.drain()
    assert runs == []
    await producer.enqueue("ingest", queue_name="lonely_producer")  # its own name
    await producer.drain()
    assert runs == [1]
    await producer.close()
