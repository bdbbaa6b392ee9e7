"""Signed webhooks with counted tries: the one way this service tells someone
outside it (risk alerts to the supervisor, notices to the data protection
focal point). Each row carries its delivery state, its attempts and the last
error; arq only schedules the tries."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import structlog
from arq.worker import Retry
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from shared.app import Runtime
from shared.db import utcnow

log = structlog.get_logger(__name__)
SIGNATURE_HEADER = "X-MHPSS-Signature"
TIMESTAMP_HEADER = "X-MHPSS-Timestamp"
DONE = ("delivered", "dead_letter")


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """HMAC-SHA256 over ``<timestamp>.<body>``: receivers check it and reject
    stale timestamps, so a captured message cannot be replayed later."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


async def post_signed(
    http: httpx.AsyncClient, url: str, secret: str | None, body: bytes
) -> str | None:
    """The error, or None when the receiver took the message (2xx)."""
    timestamp = str(int(time.time()))
    headers = {"content-type": "application/json", TIMESTAMP_HEADER: timestamp}
    if secret:
        headers[SIGNATURE_HEADER] = sign(secret, timestamp, body)
    try:
        response = await http.post(url, content=body, headers=headers, timeout=10)
    except httpx.HTTPError as exc:
        return f"{type(exc).__name__}: {exc}"
    if 200 <= response.status_code < 300:
        return None
    return f"HTTP {response.status_code}"


async def deliver(
    runtime: Runtime,
    model: type[Any],
    row_id: str,
    *,
    url: str | None,
    secret: str | None,
    max_attempts: int,
    backoff_seconds: float,
    payload: Callable[[Any], dict[str, Any]],
) -> str:
    """Post one row's message (``payload`` of the row, plus the attempt
    number); retry with doubling delays until ``max_attempts``, then
    dead-letter it. A row delivered or dead-lettered already is left alone, so
    a repeated job changes nothing."""
    kind = model.__tablename__
    async with AsyncSession(runtime.engine) as session, session.begin():
        row = await session.get(model, uuid.UUID(row_id))
        if row is None or row.delivery in DONE:
            return "nothing to do"
        states = type(row.delivery)
        if not url:
            row.delivery = states("not_configured")
            return "no webhook configured"
        body = json.dumps(
            {**payload(row), "attempt": row.attempts + 1}, separators=(",", ":")
        ).encode()
    error = await post_signed(runtime.http, url, secret, body)
    retry_in: float | None = None
    async with AsyncSession(runtime.engine) as session, session.begin():
        row = await session.get(model, uuid.UUID(row_id), with_for_update=True)
        assert row is not None
        row.attempts += 1
        if error is None:
            row.delivery = states("delivered")
            row.delivered_at = utcnow()
            row.last_error = None
        elif row.attempts >= max_attempts:
            row.delivery = states("dead_letter")
            row.last_error = error[:500]
            log.error(f"{kind}_dead_letter", id=row_id, error=error)
        else:
            row.last_error = error[:500]
            retry_in = backoff_seconds * 2 ** (row.attempts - 1)
        delivery = str(row.delivery)
    if retry_in is not None:
        log.warning(f"{kind}_retry", id=row_id, in_seconds=retry_in)
        raise Retry(defer=retry_in)
    return delivery


async def redeliver(
    runtime: Runtime, model: type[Any], *, job: str, argument: str, configured: bool
) -> int:
    """Periodic safety net: enqueue ``job`` again for every row still pending
    (a job lost with Redis, a worker killed mid-try), and for rows left
    ``not_configured`` once a URL is ``configured``. Job ids keep one
    delivery per row."""
    resend = ["pending", "not_configured"] if configured else ["pending"]
    async with AsyncSession(runtime.engine) as session, session.begin():
        pending = (
            (
                await session.execute(
                    select(col(model.id)).where(col(model.delivery).in_(resend))
                )
            )
            .scalars()
            .all()
        )
    for row_id in pending:
        await runtime.queue.enqueue(
            job,
            job_id=f"{model.__tablename__}:{row_id}",
            **{argument: str(row_id)},
        )
    return len(pending)
