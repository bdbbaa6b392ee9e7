"""What tracing costs a request: the beneficiary app in process (SQLite in a
temporary folder, jobs inline), timed over N requests of two kinds: the
liveness probe (middleware only) and an authenticated list of organisations
(auth, a SQL query, JSON), logging at INFO as a deployment does. Time is
this process's CPU time (the machine may be shared), per request, the best
of 10 batches. The last line printed is JSON, in microseconds.

    python -m bench.tracing_overhead [--on] [--requests 2000] | tail -1

``--on`` traces every request into an in-memory exporter behind the batch
processor (the SDK's work without a network). For an A/B against code before
tracing existed, run the same file with PYTHONPATH set to a checkout of it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
import uuid
from pathlib import Path

import httpx
from asgi_lifespan import LifespanManager

from services.beneficiary.app import create_app
from services.beneficiary.settings import BeneficiarySettings
from shared.auth import LocalSigningKey, Role

BATCHES = 10


async def measure(requests: int, on: bool) -> dict[str, float]:
    if on:
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
            InMemorySpanExporter,
        )

        from shared import tracing

        tracing.start_tracing(InMemorySpanExporter())
    with tempfile.TemporaryDirectory() as folder:
        settings = BeneficiarySettings(data_dir=Path(folder))
        app = create_app(settings)
        async with LifespanManager(app):
            token = LocalSigningKey.load_or_create(settings.data_dir).issue(
                subject="bench",
                organisation_id=uuid.uuid4(),
                roles=[Role.admin],
                issuer=settings.auth_issuer,
                audience=settings.auth_audience,
            )
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(
                transport=transport,
                base_url="http://bench",
                headers={"Authorization": f"Bearer {token}"},
            ) as client:
                return {
                    path: await per_request(client, path, requests)
                    for path in ("/healthz", "/v1/organisations")
                }


async def per_request(client: httpx.AsyncClient, path: str, requests: int) -> float:
    """The best batch's CPU time per request, in microseconds."""
    for _ in range(requests // 10):  # warm up
        (await client.get(path)).raise_for_status()
    batch = requests // BATCHES
    means = []
    for _ in range(BATCHES):
        started = time.process_time()
        for _ in range(batch):
            (await client.get(path)).raise_for_status()
        means.append((time.process_time() - started) / batch * 1e6)
    return round(min(means), 1)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--on", action="store_true", help="trace every request")
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()
    found = asyncio.run(measure(args.requests, args.on))
    print(json.dumps({"tracing": "on" if args.on else "off", **found}))  # noqa: T201


if __name__ == "__main__":
    main()
