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

import structlog
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.reporting.facts.models import FeedCursor, LocationDim, OrganisationDim
from services.reporting.ingest.fold import apply, bump_seq, collect
from services.reporting.settings import ReportingSettings
from shared.app import Runtime
from shared.contracts.events import EventEnvelope, EventFeedPage
from shared.db import utcnow
from shared.peers import Peer, PeerUnavailable

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


async def pull_source(runtime: Runtime, producer: Peer) -> int:
    """Read one producer's feed from the cursor to its end."""
    total = 0
    while True:
        async with AsyncSession(runtime.engine) as session:
            cursor = await session.get(FeedCursor, producer.name)
            after = cursor.position if cursor else 0
        page = await producer.get(
            runtime,
            "/v1/events",
            EventFeedPage,
            params={"cursor": after, "limit": PULL_PAGE},
        )
        if not page.items:
            return total
        await ingest(runtime, producer.name, page.items)
        total += len(page.items)
        if not page.has_more:
            return total


class LocationItem(BaseModel):
    id: uuid.UUID
    name: str
    names: dict[str, str] = {}
    level: str
    pcode: str | None = None
    parent_id: uuid.UUID | None = None


class OrganisationItem(BaseModel):
    id: uuid.UUID
    name: str
    lead_organisation_id: uuid.UUID | None = None
    default_language: str = "en"


async def refresh_dimensions(runtime: Runtime, beneficiary: Peer) -> bool:
    """Locations and organisations (names, leads, default languages), from
    the beneficiary service. Takes an ingestion ``seq`` only when a row is new
    or changed: the seq makes every reader reload its frames and drop what it
    derived, which an unchanged gazetteer (most pulls) need not cost.
    Returns whether anything changed."""
    locations = await beneficiary.get_all(runtime, "/v1/locations", LocationItem)
    organisations = await beneficiary.get_all(
        runtime, "/v1/organisations", OrganisationItem
    )
    async with AsyncSession(runtime.engine) as session, session.begin():
        known = {
            row.id: row
            for row in (await session.execute(select(LocationDim))).scalars()
        }
        for item in locations:
            row = known.get(item.id) or LocationDim(
                id=item.id, name=item.name, level=item.level
            )
            row.name, row.pcode, row.level = item.name, item.pcode, item.level
            row.parent_id, row.names = item.parent_id, dict(item.names)
            session.add(row)
        orgs = {
            row.id: row
            for row in (await session.execute(select(OrganisationDim))).scalars()
        }
        for org_item in organisations:
            org = orgs.get(org_item.id) or OrganisationDim(
                id=org_item.id, name=org_item.name
            )
            org.name = org_item.name
            org.lead_organisation_id = org_item.lead_organisation_id
            org.default_language = org_item.default_language
            session.add(org)
        changed = bool(session.new) or any(
            session.is_modified(row) for row in session.dirty
        )
        if changed:
            await bump_seq(session)  # query caches reload the dimensions
    return changed


async def pull_feeds(ctx: dict[str, Any]) -> int:
    """The repair path (cron): every producer's feed from the cursor."""
    runtime: Runtime = ctx["runtime"]
    settings = runtime.settings
    assert isinstance(settings, ReportingSettings)
    total = 0
    for producer in settings.producers:
        try:
            if producer.name == "beneficiary":
                last = ctx.get("dimensions_at", 0.0)
                if time.monotonic() - last > DIMENSIONS_EVERY_SECONDS:
                    await refresh_dimensions(runtime, producer)
                    ctx["dimensions_at"] = time.monotonic()
            total += await pull_source(runtime, producer)
        except PeerUnavailable as exc:
            log.warning("feed_pull_failed", source=producer.name, error=exc.detail)
    return total
