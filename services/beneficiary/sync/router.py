"""HTTP API for offline sync: push a batch, pull changes since a cursor, list
and resolve conflicts. Batches are limited in size and in how many are applied
at once, so a crowd of devices coming back online together waits its turn (or
is told to retry) instead of exhausting the connection pool.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from typing import Annotated

from fastapi import APIRouter, Query, Request

from services.beneficiary.access import FieldActor, SupervisorActor
from services.beneficiary.audit.models import audit_log
from services.beneficiary.db import (
    OnceDep,
    OutboxCounter,
    OutboxEvent,
)
from services.beneficiary.settings import BeneficiarySettings, settings_of
from services.beneficiary.sync import service as sync_service
from services.beneficiary.sync.models import ConflictStatus, SyncConflict
from services.beneficiary.sync.schemas import (
    ChangesPage,
    ConflictRead,
    ConflictResolve,
    SyncBatch,
    SyncResponse,
    SyncResult,
    SyncStatus,
)
from shared.app import RuntimeDep
from shared.db import SessionDep
from shared.errors import (
    Conflict,
    Invalid,
    NotFound,
    PayloadTooLarge,
    Unavailable,
    problem_responses,
)
from shared.outbox import sequence_pending_events
from shared.pagination import DEFAULT_LIMIT, CursorQuery, LimitQuery, Page
from shared.scoping import get_in_scope

router = APIRouter(prefix="/v1/sync", tags=["offline sync"])


@router.post(
    "",
    response_model=SyncResponse,
    responses=problem_responses(Invalid, PayloadTooLarge, Unavailable),
)
async def sync_batch(
    body: SyncBatch,
    request: Request,
    session: SessionDep,
    runtime: RuntimeDep,
    actor: FieldActor,
    once: OnceDep,
) -> SyncResponse:
    """Upsert a device's offline batch (people, service records, group
    activities with their attendance, anonymous services) in one transaction
    and answer per record: created, updated, unchanged, conflict (server copy
    returned, yours kept for a supervisor) or rejected (with errors). Group
    activities and anonymous services are recorded once, never edited: other
    content under a known id is a conflict. A batch sent again
    changes nothing: with its Idempotency-Key or without, each record is
    answered as it stands now (``unchanged`` for what the first one applied),
    and only records that changed or conflict are audited."""
    settings = settings_of(runtime)
    limit = settings.sync_batch_limit
    size = (
        len(body.beneficiaries)
        + len(body.service_records)
        + len(body.group_activities)
        + len(body.anonymous_services)
    )
    if size > limit:
        raise PayloadTooLarge(f"Send at most {limit} records per batch.")

    async def apply() -> list[SyncResult]:
        return await sync_service.apply_batch(
            session,
            actor,
            runtime.keyring,
            body,
            confirm_above=settings.anonymous_confirm_above,
        )

    async def apply_again(_: uuid.UUID) -> list[SyncResult]:
        return await apply()

    async def render(results: list[SyncResult]) -> SyncResponse:
        return SyncResponse(results=results)

    async with _turn(request, settings):
        return await once.answer(
            actor.principal,
            "POST /v1/sync",
            body,
            apply,
            apply_again,
            render,
            audit=[
                audit_log.trail(actor, "sync", kind, partial(_touched, kind))
                for kind in AUDITED
            ],
            identify=lambda _: SYNC_BATCH,
            # a replay applies the batch again: what it changes or answers
            # with the server's copy is audited and announced, as without a key
            replays_act=True,
        )


SYNC_BATCH = uuid.UUID("5e7c0b1a-0000-4000-8000-000000000000")
"""What a sync batch's key remembers: a batch creates no one resource, and a
replay applies the batch again (it is replay-safe) rather than re-reading."""
TOUCHED = (SyncStatus.created, SyncStatus.updated, SyncStatus.conflict)
"""Results that wrote, or answered with the server's copy: audited."""
AUDITED = ("beneficiary", "group_activity", "anonymous_service")
"""Kinds whose touched records a batch audits, as their single-write routes
do (a group's server copy names its attendees)."""


def _touched(entity_type: str, results: list[SyncResult]) -> list[uuid.UUID]:
    """The records of this kind that a batch wrote or answered with the
    server's copy."""
    return [
        r.id for r in results if r.entity_type == entity_type and r.status in TOUCHED
    ]


@asynccontextmanager
async def _turn(request: Request, settings: BeneficiarySettings) -> AsyncIterator[None]:
    """Apply at most ``sync_concurrency`` batches at once: a crowd of devices
    coming back online waits its turn, or is told to retry, instead of all
    batches slowing down together and exhausting the connection pool."""
    gate: asyncio.Semaphore | None = getattr(request.app.state, "sync_gate", None)
    if gate is None:
        gate = request.app.state.sync_gate = asyncio.Semaphore(
            settings.sync_concurrency
        )
    try:
        async with asyncio.timeout(settings.sync_wait_seconds):
            await gate.acquire()
    except TimeoutError:
        raise Unavailable(
            "Too many devices are syncing right now; send the batch again shortly.",
            retry_after=5,
        ) from None
    try:
        yield
    finally:
        gate.release()


@router.get("/changes", response_model=ChangesPage)
async def pull_changes(
    session: SessionDep,
    runtime: RuntimeDep,
    actor: FieldActor,
    cursor: Annotated[int, Query(ge=0, le=2**62)] = 0,
) -> ChangesPage:
    """Records in your scope changed after ``cursor`` (0 for everything), as
    they are now. Keep calling with ``next_cursor`` while ``has_more``."""
    await sequence_pending_events(runtime.engine, OutboxEvent, OutboxCounter)
    return await audit_log.read(
        session,
        actor,
        "sync_pull",
        "beneficiary",
        lambda: sync_service.changes_since(
            session, actor.principal, runtime.keyring, cursor
        ),
        lambda page: [b.id for b in page.beneficiaries],
    )


@router.get("/conflicts", response_model=Page[ConflictRead])
async def list_conflicts(
    session: SessionDep,
    runtime: RuntimeDep,
    actor: SupervisorActor,
    status: ConflictStatus | None = ConflictStatus.open,
    cursor: CursorQuery = None,
    limit: LimitQuery = DEFAULT_LIMIT,
) -> Page[ConflictRead]:
    """Offline edits that lost to a newer version, with the losing content."""

    async def fetch() -> Page[ConflictRead]:
        page = await sync_service.list_conflicts(
            session,
            actor.principal,
            runtime.keyring,
            status,
            cursor=cursor,
            limit=limit,
        )
        return page.map(lambda c: sync_service.conflict_read(c, runtime.keyring))

    return await audit_log.read(
        session,
        actor,
        "read_conflict",
        "sync_conflict",
        fetch,
        lambda page: [c.id for c in page.items],
    )


@router.post(
    "/conflicts/{conflict_id}/resolve",
    response_model=ConflictRead,
    responses=problem_responses(NotFound, Conflict, Invalid),
)
async def resolve_conflict(
    conflict_id: uuid.UUID,
    body: ConflictResolve,
    session: SessionDep,
    runtime: RuntimeDep,
    actor: SupervisorActor,
    once: OnceDep,
) -> ConflictRead:
    """Keep the server's version, or apply the device's as a new version."""
    principal = actor.principal

    async def resolve() -> SyncConflict:
        return await sync_service.resolve_conflict(
            session, actor, runtime.keyring, conflict_id, body.resolution
        )

    async def load(existing: uuid.UUID) -> SyncConflict:
        return await get_in_scope(
            session,
            principal,
            SyncConflict,
            existing,
            what="conflict",
            site_scoped=False,
        )

    async def render(conflict: SyncConflict) -> ConflictRead:
        return sync_service.conflict_read(conflict, runtime.keyring)

    return await once.answer(
        principal,
        f"POST /v1/sync/conflicts/{conflict_id}/resolve",
        body,
        resolve,
        load,
        render,
        # audited on the record the conflict was about
        audit=audit_log.trail(
            actor,
            "resolve_conflict",
            lambda conflict: conflict.entity_type,
            lambda conflict: [conflict.entity_id],
        ),
    )
