"""A webhook receiver for risk alerts and a worker run to deliver them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

import uvicorn
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from services.beneficiary.worker import make_worker
from tests.ports import free_port

SECRET = "test-webhook-secret"


class Receiver:
    """A webhook endpoint that fails its first ``failures`` calls."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.calls: list[tuple[dict[str, str], bytes]] = []

    async def endpoint(self, request: Request) -> JSONResponse:
        self.calls.append((dict(request.headers), await request.body()))
        if len(self.calls) <= self.failures:
            return JSONResponse({"error": "down"}, status_code=503)
        return JSONResponse({"ok": True})


@asynccontextmanager
async def serving(receiver: Receiver) -> AsyncIterator[str]:
    port = free_port()
    app = Starlette(routes=[Route("/alerts", receiver.endpoint, methods=["POST"])])
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    )
    task = asyncio.create_task(server.serve())
    for _ in range(500):  # up to 10 s
        if server.started:
            break
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}/alerts"
    finally:
        server.should_exit = True
        await task


@contextmanager
def webhook(app: FastAPI, url: str | None, attempts: int = 4) -> Iterator[None]:
    settings = app.state.runtime.settings
    saved = (
        settings.risk_webhook_url,
        settings.risk_webhook_secret,
        settings.risk_webhook_max_attempts,
        settings.risk_webhook_backoff_seconds,
    )
    settings.risk_webhook_url = url
    settings.risk_webhook_secret = SECRET
    settings.risk_webhook_max_attempts = attempts
    settings.risk_webhook_backoff_seconds = 0.05
    try:
        yield
    finally:
        (
            settings.risk_webhook_url,
            settings.risk_webhook_secret,
            settings.risk_webhook_max_attempts,
            settings.risk_webhook_backoff_seconds,
        ) = saved


async def run_worker(app: FastAPI) -> None:
    worker = make_worker(app.state.runtime, burst=True)
    try:
        await asyncio.wait_for(worker.main(), 30)
    finally:
        await worker.close()
