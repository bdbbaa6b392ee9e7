"""Ingestion jobs: the queue's fast path and the change-feed pull that heals
whatever the queue lost (Redis flushed, a worker killed mid-batch).

The fast path applies the events a producer's publish job sent; the pull
reads each producer's change feed from reporting's cursor. Both go through
``fold.apply``, which is idempotent, so an event seen by both counts once.
The cursor only moves past positions known to be applied with nothing
missing below them.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.reporting.facts.models import FeedCursor, LocationDim, OrganisationDim
from services.reporting.ingest.fold import apply, bump_seq, collect
from services.reporting.settings import ReportingSettings
from shared.app import Runtime
from shared.auth import machine_headers
from shared.contracts.events import EventEnvelope, EventFeedPage
from shared.db import utcnow

log = structlog.get_logger(__name__)
PULL_PAGE = 2000
DIMENSIONS_EVERY_SECONDS = 60.0


async def ingest(runtime: Runtime, source: str, events: list[EventEnvelope]) -> int:
    """Apply events of one source in one transaction; move the cursor when
    they continue it with no gap (a feed page always does; a queued batch
    does unless an earlier one was lost). Returns how many were folded."""
    if not events:
        return 0
    events = sorted(events, key=lambda e: e.position)
    positions = [e.position for e in events]
    consecutive = positions == list(range(positions[0], positions[0] + len(events)))
    batch = collect(events)
    async with (
        AsyncSession(runtime.engine, expire_on_commit=False) as session,
        session.begin(),
    ):
        await apply(session, batch)  # takes the ingestion lock first
        cursor = await session.get(FeedCursor, source, with_for_update=True)
        if cursor is None:
            cursor = FeedCursor(source=source, position=0)
            session.add(cursor)
        if consecutive and positions[0] <= cursor.position + 1:
            cursor.position = max(cursor.position, positions[-1])
            cursor.updated_at = utcnow()
    freshness = (utcnow() - events[-1].occurred_at).total_seconds()
    log.info(
        "events_ingested",
        source=source,
        events=len(events),
        rejected=batch.rejected,
        last_position=positions[-1],
        freshness_seconds=round(freshness, 3),
    )
    return len(events) - batch.rejected


async def ingest_events(ctx: dict[str, Any], source: str, events: list[Any]) -> int:
    """The fast path: events a producer's publish job put on the queue."""
    envelopes = [EventEnvelope.model_validate(e) for e in events]
    return await ingest(ctx["runtime"], source, envelopes)


def _headers(settings: ReportingSettings) -> dict[str, str]:
    """Reporting's machine account reads every organisation's events."""
    return machine_headers(settings, settings.feed_token, subject="reporting-service")


def sources(settings: ReportingSettings) -> dict[str, str]:
    if not settings.pull_feeds:
        return {}
    found = {
        "beneficiary": settings.beneficiary_url,
        "training": settings.training_url,
    }
    return {name: url.rstrip("/") for name, url in found.items() if url}


async def pull_source(runtime: Runtime, source: str, url: str) -> int:
    """Read one producer's feed from the cursor to its end."""
    settings = runtime.settings
    assert isinstance(settings, ReportingSettings)
    headers = _headers(settings)
    total = 0
    while True:
        async with AsyncSession(runtime.engine) as session:
            cursor = await session.get(FeedCursor, source)
            after = cursor.position if cursor else 0
        response = await runtime.http.get(
            f"{url}/v1/events",
            params={"after": after, "limit": PULL_PAGE},
            headers=headers,
        )
        response.raise_for_status()
        page = EventFeedPage.model_validate(response.json())
        if not page.events:
            return total
        await ingest(runtime, source, page.events)
        total += len(page.events)
        if len(page.events) < PULL_PAGE:
            return total


async def refresh_dimensions(runtime: Runtime, url: str) -> None:
    """Locations and organisation names, from the beneficiary service."""
    settings = runtime.settings
    assert isinstance(settings, ReportingSettings)
    headers = _headers(settings)
    locations = await runtime.http.get(f"{url}/v1/locations", headers=headers)
    locations.raise_for_status()
    organisations = await runtime.http.get(f"{url}/v1/organisations", headers=headers)
    organisations.raise_for_status()
    async with AsyncSession(runtime.engine) as session, session.begin():
        known = {
            row.id: row
            for row in (await session.execute(select(LocationDim))).scalars()
        }
        for item in locations.json():
            location_id = uuid.UUID(item["id"])
            parent = uuid.UUID(item["parent_id"]) if item["parent_id"] else None
            row = known.get(location_id)
            if row is None:
                row = LocationDim(
                    id=location_id, name=item["name"], level=item["level"]
                )
            row.name, row.pcode, row.level = (
                item["name"],
                item.get("pcode"),
                item["level"],
            )
            row.parent_id = parent
            session.add(row)
        orgs = {
            row.id: row
            for row in (await session.execute(select(OrganisationDim))).scalars()
        }
        for item in organisations.json():
            organisation_id = uuid.UUID(item["id"])
            org = orgs.get(organisation_id) or OrganisationDim(
                id=organisation_id, name=item["name"]
            )
            org.name = item["name"]
            lead = item.get("lead_organisation_id")
            org.lead_organisation_id = uuid.UUID(lead) if lead else None
            session.add(org)
        await bump_seq(session)  # query caches reload the dimensions


async def pull_feeds(ctx: dict[str, Any]) -> int:
    """The repair path (cron): every producer's feed from the cursor."""
    runtime: Runtime = ctx["runtime"]
    settings = runtime.settings
    assert isinstance(settings, ReportingSettings)
    total = 0
    for source, url in sources(settings).items():
        try:
            if source == "beneficiary":
                last = ctx.get("dimensions_at", 0.0)
                if time.monotonic() - last > DIMENSIONS_EVERY_SECONDS:
                    await refresh_dimensions(runtime, url)
                    ctx["dimensions_at"] = time.monotonic()
            total += await pull_source(runtime, source, url)
        except httpx.HTTPError as exc:
            log.warning("feed_pull_failed", source=source, error=str(exc))
    return total
