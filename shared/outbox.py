"""The transactional outbox and its ordered change feed.

A write adds its event row in the same transaction as the data, with no feed
position. Positions are handed out afterwards by ``sequence_pending_events``:
it locks the one-row counter, then numbers every committed, unnumbered event.
Because a sequencing transaction only sees committed rows and the counter lock
makes sequencing transactions commit one after another, a reader that has seen
position P can never later find a new event at or below P. (Numbering inside the
writing transaction would not do: a transaction that took number 7 can commit
after one that took 8, and a reader at 8 would skip 7.)
"""

import asyncio
import uuid
import weakref
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from datetime import datetime
from functools import cache
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, StringConstraints
from sqlalchemy import JSON, BigInteger, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlmodel import Field, SQLModel, col

from shared.app import Runtime, RuntimeDep
from shared.auth import Principal, Role, require
from shared.bulk import collecting
from shared.contracts.events import (
    EVENT_FACTS,
    EventEnvelope,
    EventFeedPage,
    EventType,
)
from shared.contracts.ingest import (
    INGEST_CHUNK,
    INGEST_JOB,
    REPORTING_QUEUE,
    ingest_job_id,
)
from shared.contracts.text import Text
from shared.db import (
    SessionDep,
    UTCDateTime,
    append_row,
    autocommit,
    new_id,
    utcnow,
)
from shared.deprecation import either, renamed_to
from shared.errors import Forbidden

SEQUENCE_BATCH = 5000
PUBLISH_OUTBOX_JOB = "publish_outbox"
"""The name each producer's sequencing job has (its ``worker.JOBS``)."""

log = structlog.get_logger(__name__)


class OutboxEventBase(SQLModel):
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    position: int | None = Field(
        default=None, sa_type=BigInteger, unique=True, index=True
    )
    type: str = Field(max_length=64)
    organisation_id: uuid.UUID = Field(index=True)
    entity_type: str = Field(max_length=64)
    entity_id: uuid.UUID = Field(index=True)
    occurred_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    data: dict[str, Any] = Field(sa_type=JSON)


class OutboxCounterBase(SQLModel):
    id: int = Field(default=1, primary_key=True)
    last_position: int = Field(default=0, sa_type=BigInteger)


EVENTS_STAGED = "outbox_events_staged"
"""``session.info`` key: set once ``add_event`` stages an event, so a write
announces the outbox only when it has something to sequence."""


def staged_events(session: AsyncSession) -> bool:
    """Whether events were staged since the last call; clears the mark."""
    return bool(session.info.pop(EVENTS_STAGED, False))


def add_event(
    session: AsyncSession,
    model: type[OutboxEventBase],
    *,
    type: EventType,
    organisation_id: uuid.UUID,
    entity_type: str,
    entity_id: uuid.UUID,
    facts: BaseModel | dict[str, Any],
) -> None:
    """Stage an event in the caller's transaction; it commits with the data.
    Its payload must be the type's declared one (``EVENT_FACTS``): a model,
    or (a bulk writer's, which skips building one per record) the model's
    JSON form as a dict with exactly its fields, whose values the writer's
    tests compare with the model's."""
    declared = EVENT_FACTS[type]
    if isinstance(facts, dict):
        if facts.keys() != _fields(declared):
            raise TypeError(f"{type} carries {declared.__name__}'s fields")
        data = facts
    elif isinstance(facts, declared):
        data = facts.model_dump(mode="json")
    else:
        raise TypeError(
            f"{type} carries {declared.__name__}, not {facts.__class__.__name__}"
        )
    columns: dict[str, Any] = {
        # given, not defaulted: pydantic inspects a default factory's
        # signature on every call, a third of building the row
        "id": new_id(),
        "occurred_at": utcnow(),
        "type": type,
        "organisation_id": organisation_id,
        "entity_type": entity_type,
        "entity_id": entity_id,
        "data": data,
    }
    session.info[EVENTS_STAGED] = True
    rows = collecting(session)
    if rows is not None:  # a bulk writer's batch: a plain row, no position yet
        columns["position"] = None
        rows.add(model.__table__, columns)  # type: ignore[attr-defined]
    else:
        append_row(session, model, **columns)


@cache
def _fields(model: type[BaseModel]) -> frozenset[str]:
    """A facts model's field names, read once (pydantic's ``model_fields``
    on the class costs more than comparing the keys)."""
    return frozenset(model.model_fields)


async def sequence_pending_events(
    engine: AsyncEngine,
    model: type[OutboxEventBase],
    counter: type[OutboxCounterBase],
) -> int:
    """Give feed positions to committed events that have none; returns how many.

    Looks first without the counter's lock: most calls (each feed read,
    each publish job) find nothing, and the lock is an UPDATE, a row
    version written and committed. An event committed after the look is
    sequenced by the next call, as it is when it commits after the locked
    read."""
    async with autocommit(engine).connect() as conn:
        unsequenced = select(col(model.id)).where(col(model.position).is_(None))
        if (await conn.execute(unsequenced.limit(1))).first() is None:
            return 0
    total = 0
    while True:
        async with AsyncSession(engine) as session, session.begin():
            locked = await session.execute(
                update(counter)
                .where(col(counter.id) == 1)
                .values(last_position=col(counter.last_position))
                .returning(col(counter.last_position))
            )
            last = locked.scalar_one()
            pending = (
                (
                    await session.execute(
                        select(col(model.id))
                        .where(col(model.position).is_(None))
                        .order_by(col(model.occurred_at), col(model.id))
                        .limit(SEQUENCE_BATCH)
                    )
                )
                .scalars()
                .all()
            )
            if not pending:
                return total
            table = model.__table__  # type: ignore[attr-defined]
            await session.execute(
                update(table)
                .where(table.c.id == bindparam("event_id"))
                .values(position=bindparam("new_position")),
                [
                    {"event_id": event_id, "new_position": last + i}
                    for i, event_id in enumerate(pending, start=1)
                ],
            )
            await session.execute(
                update(counter)
                .where(col(counter.id) == 1)
                .values(last_position=last + len(pending))
            )
            total += len(pending)
        if len(pending) < SEQUENCE_BATCH:
            return total


async def read_feed(
    session: AsyncSession,
    model: type[OutboxEventBase],
    *,
    source: str,
    after: int,
    limit: int,
    organisation_id: uuid.UUID | None = None,
    types: Sequence[str] = (),
    up_to: int | None = None,
) -> list[EventEnvelope]:
    """Sequenced events after a position, in feed order (only ``types``, and
    none past ``up_to``, when given)."""
    statement = (
        select(model)
        .where(col(model.position) > after)
        .order_by(col(model.position))
        .limit(limit)
    )
    if organisation_id is not None:
        statement = statement.where(col(model.organisation_id) == organisation_id)
    if types:
        statement = statement.where(col(model.type).in_(types))
    if up_to is not None:
        statement = statement.where(col(model.position) <= up_to)
    rows = (await session.execute(statement)).scalars().all()
    return [
        EventEnvelope(
            id=row.id,
            position=row.position or 0,
            type=row.type,
            source=source,
            organisation_id=row.organisation_id,
            entity_id=row.entity_id,
            occurred_at=row.occurred_at,
            data=row.data,
        )
        for row in rows
    ]


async def last_position(engine: AsyncEngine, counter: type[OutboxCounterBase]) -> int:
    """The highest feed position handed out so far."""
    async with AsyncSession(engine) as session:
        position = await session.scalar(
            select(col(counter.last_position)).where(col(counter.id) == 1)
        )
    return position or 0


async def send_to_reporting(
    runtime: Runtime,
    model: type[OutboxEventBase],
    *,
    source: str,
    after: int,
) -> int:
    """Enqueue the events sequenced after ``after`` on reporting's queue, in
    chunks with ids that a repeated publish cannot queue twice. Returns how
    many events were sent."""
    sent = 0
    while True:
        async with AsyncSession(runtime.engine) as session:
            events = await read_feed(
                session, model, source=source, after=after, limit=INGEST_CHUNK
            )
        if not events:
            return sent
        first, last = events[0].position, events[-1].position
        await runtime.queue.enqueue(
            INGEST_JOB,
            job_id=ingest_job_id(source, first, last),
            queue_name=REPORTING_QUEUE,
            source=source,
            events=[e.model_dump(mode="json") for e in events],
        )
        sent += len(events)
        if len(events) < INGEST_CHUNK:
            return sent
        after = last


def make_publish_job(
    model: type[OutboxEventBase], counter: type[OutboxCounterBase]
) -> Callable[..., Coroutine[Any, Any, int]]:
    """The service's ``publish_outbox`` job (enqueued by that name)."""

    async def publish_outbox(ctx: dict[str, Any]) -> int:
        """Sequence every committed event that has no feed position yet, then
        send what was sequenced to reporting's queue (the fast path; the
        change feed stays the source of truth)."""
        runtime: Runtime = ctx["runtime"]
        before = await last_position(runtime.engine, counter)
        sequenced = await sequence_pending_events(runtime.engine, model, counter)
        if sequenced and runtime.settings.publish_to_reporting:
            await send_to_reporting(
                runtime, model, source=runtime.settings.service_name, after=before
            )
        return sequenced

    publish_outbox.__qualname__ = "publish_outbox"  # arq registers by qualname
    return publish_outbox


def feed_router(
    *,
    source: str,
    model: type[OutboxEventBase],
    counter: type[OutboxCounterBase],
) -> APIRouter:
    """``GET /v1/events?cursor=``: the service's ordered change feed (no PII).
    Machine accounts of other services see every organisation; people see
    their own organisation's, with a token not limited to some sites."""
    router = APIRouter(prefix="/v1/events", tags=["change feed"])
    reader = Annotated[
        Principal,
        Depends(require(Role.service, Role.me_officer, Role.programme_manager)),
    ]

    @router.get("", response_model=EventFeedPage)
    async def read_events(
        session: SessionDep,
        runtime: RuntimeDep,
        principal: reader,
        cursor: Annotated[
            int | None,
            Query(
                ge=0,
                le=2**62,
                description="The `next_cursor` you hold; 0 at first.",
            ),
        ] = None,
        limit: Annotated[int, Query(ge=1, le=5000)] = 1000,
        type: Annotated[
            list[Annotated[Text, StringConstraints(max_length=64)]] | None,
            Query(
                max_length=20,
                description="Only events of these types (repeat the parameter); "
                "next_cursor then skips past the events of other types.",
            ),
        ] = None,
        after: Annotated[int | None, renamed_to("cursor", ge=0, le=2**62)] = None,
    ) -> EventFeedPage:
        """The service's change feed: events after a cursor, in commit order, without
        PII."""
        after = either(cursor, after, new="cursor", old="after") or 0
        machine = Role.service in principal.roles
        if not machine and (
            principal.site_ids is not None or principal.team_id is not None
        ):
            raise Forbidden(
                "The change feed covers every site and team of the organisation; "
                "a token limited to some sites or to one team cannot read it."
            )
        await sequence_pending_events(runtime.engine, model, counter)
        async with session.begin():
            # Every position up to the counter's is committed, so a filtered
            # page that comes back short has seen all there is up to it.
            up_to = await session.scalar(
                select(col(counter.last_position)).where(col(counter.id) == 1)
            )
            events = await read_feed(
                session,
                model,
                source=source,
                after=after,
                limit=limit,
                organisation_id=None if machine else principal.organisation_id,
                types=type or (),
                up_to=up_to if type else None,
            )
        if type and len(events) < limit:
            next_cursor = max(after, up_to or 0)
        else:
            next_cursor = events[-1].position if events else after
        return EventFeedPage(
            items=events, next_cursor=next_cursor, has_more=len(events) == limit
        )

    return router


async def announce_writes(runtime: Runtime) -> None:
    """After a commit that added events: ask for them to be sequenced now.
    One job id per service, so a burst of writes coalesces into one job; and
    one enqueue in flight per process, so writes that commit while it is on
    its way share the next one instead of each paying Redis round trips.
    Returns once an enqueue that started after the caller's commit is done."""

    async def send() -> None:
        await runtime.queue.enqueue(
            PUBLISH_OUTBOX_JOB,
            job_id=f"{runtime.settings.service_name}:{PUBLISH_OUTBOX_JOB}",
        )

    await _announcer(runtime.queue).announce(send)


class _Announcer:
    """Coalesces announcements of one queue in one event loop: at most one
    enqueue in flight; every caller waits for the first enqueue that starts
    after it called (an enqueue already on its way may have read the queue
    before the caller's commit, so it does not count for that caller)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self._next: asyncio.Future[None] | None = None
        self._task: asyncio.Task[None] | None = None

    async def announce(self, send: Callable[[], Awaitable[None]]) -> None:
        if self._next is None:
            self._next = self.loop.create_future()
        waiter = self._next
        if self._task is None:
            self._task = self.loop.create_task(self._drain(send))
        await asyncio.shield(waiter)

    async def _drain(self, send: Callable[[], Awaitable[None]]) -> None:
        try:
            while self._next is not None:
                waiter, self._next = self._next, None
                try:
                    await send()
                except Exception as exc:  # the outbox catches up later
                    log.warning("announce_failed", error=repr(exc))
                finally:
                    waiter.set_result(None)
        finally:
            self._task = None
            if self._next is not None:  # cancelled: release who waits
                self._next.set_result(None)
                self._next = None


_announcers: weakref.WeakKeyDictionary[Any, _Announcer] = weakref.WeakKeyDictionary()


def _announcer(queue: Any) -> _Announcer:
    loop = asyncio.get_running_loop()
    announcer = _announcers.get(queue)
    if announcer is None or announcer.loop is not loop:
        announcer = _announcers[queue] = _Announcer(loop)
    return announcer
