"""``Idempotency-Key`` on every write: a retried request gets the answer of
the first one instead of acting again.

Only the key, a keyed fingerprint of the request and the id of the resource the
first request created or acted on are kept (never the response body, which may
hold PII); a replay re-reads that resource. The record commits in the same
transaction as the write, so a key is remembered exactly when its effect
happened. A replay is not a new act: the caller adds no audit row, no event and
no job for it (docs/decisions/0007-a-replay-is-not-a-new-act.md).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Annotated, Any, Protocol, TypeVar

from fastapi import Header, Request, Response
from pydantic import BaseModel
from pydantic_core import to_json
from sqlalchemy import bindparam, delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel, col

from shared.app import Runtime
from shared.audit import AccessReason, Actor, Trail, actor_of
from shared.auth import PrincipalDep, Role
from shared.crypto import KeyRing
from shared.db import (
    SessionDep,
    UTCDateTime,
    append_row,
    fetch_rows,
    get_session,
    utcnow,
)
from shared.errors import FieldError, Invalid
from shared.outbox import announce_writes, staged_events
from shared.queue import send_deferred_jobs

MAX_KEY_LENGTH = 200
KEEP = timedelta(days=7)
"""How long a key is remembered: a client retries within minutes or days."""
REPLAYED_HEADER = "Idempotent-Replayed"
T = TypeVar("T")
R = TypeVar("R")


class Versioned(Protocol):
    @property
    def version(self) -> int: ...


V = TypeVar("V", bound=Versioned)

IdempotencyKey = Annotated[
    str | None,
    Header(
        description="Any unique string (a UUID) the client keeps for this "
        "request: sent again with the same body, the request is not done again "
        "and gets the first answer (with Idempotent-Replayed: true); with "
        "another body, 422 `idempotency_key_reused`. Kept a week.",
    ),
]
"""The header every POST, PUT and PATCH takes."""


class Requester(Protocol):
    """Whose keys these are: a person's token (``Principal``) or a reporting
    caller (token or API key)."""

    @property
    def organisation_id(self) -> uuid.UUID: ...

    @property
    def subject(self) -> str: ...


class IdempotencyRecordBase(SQLModel):
    """Subclasses add ``UniqueConstraint("organisation_id", "subject", "key")``."""

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    organisation_id: uuid.UUID
    subject: str = Field(max_length=255)
    key: str = Field(max_length=MAX_KEY_LENGTH)
    route: str = Field(max_length=255)
    fingerprint: str = Field(max_length=64)
    resource_id: uuid.UUID
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


def fingerprints(keyring: KeyRing, route: str, body: Any) -> list[str]:
    """What a stored fingerprint of this request may be, the one to store
    first: an HMAC under each blind-index key (the body holds names and phone
    numbers, which an unkeyed hash would let anyone test guesses against),
    then the unkeyed SHA-256 that records made before the HMAC may still
    hold (their records are purged a week after they were made)."""
    dumped = (
        body.model_dump_json(exclude_unset=True)
        if isinstance(body, BaseModel)
        else to_json(body).decode()
    )
    message = route + "\0" + dumped
    return [*keyring.digests(message), hashlib.sha256(message.encode()).hexdigest()]


def check_key(key: str | None) -> str | None:
    if key is not None and not (0 < len(key) <= MAX_KEY_LENGTH and key.isprintable()):
        raise Invalid(
            "The Idempotency-Key header is empty, too long or not printable.",
            errors=[
                FieldError(
                    loc=["header", "Idempotency-Key"],
                    msg=f"1 to {MAX_KEY_LENGTH} printable characters",
                    type="value_error",
                )
            ],
        )
    return key


_LOOKUPS: dict[type[IdempotencyRecordBase], Any] = {}


def _lookup(model: type[IdempotencyRecordBase]) -> Any:
    """The key's look-up, built once per table (building it is a good part
    of a small write's Python); the three columns a replay needs (route,
    fingerprint, resource id, in that order), as a plain row (no ORM
    instance to build)."""
    statement = _LOOKUPS.get(model)
    if statement is None:
        table = model.__table__  # type: ignore[attr-defined]
        statement = _LOOKUPS[model] = select(
            table.c.route, table.c.fingerprint, table.c.resource_id
        ).where(
            table.c.organisation_id == bindparam("org"),
            table.c.subject == bindparam("sub"),
            table.c.key == bindparam("key"),
        )
    return statement


async def find_replay(
    session: AsyncSession,
    model: type[IdempotencyRecordBase],
    principal: Requester,
    key: str,
    route: str,
    request_fingerprints: list[str],
) -> uuid.UUID | None:
    """The resource created by an earlier request with this key, if any.

    The same key with a different request is a client bug: 422, nothing written.
    """
    params = {"org": principal.organisation_id, "sub": principal.subject, "key": key}
    rows = await fetch_rows(session, _lookup(model), params)
    if not rows:
        return None
    record = rows[0]
    if record[0] != route or record[1] not in request_fingerprints:
        raise Invalid(
            "This Idempotency-Key was already used for a different request.",
            errors=[
                FieldError(
                    loc=["header", "Idempotency-Key"],
                    msg="reused with another body or route",
                    type="idempotency_key_reused",
                )
            ],
        )
    return uuid.UUID(bytes=record[2].bytes)  # asyncpg's own UUID type, as Python's


def remember(
    session: AsyncSession,
    model: type[IdempotencyRecordBase],
    principal: Requester,
    key: str,
    route: str,
    request_fingerprint: str,
    resource_id: uuid.UUID,
) -> None:
    append_row(
        session,
        model,
        id=uuid.uuid4(),
        organisation_id=principal.organisation_id,
        subject=principal.subject,
        key=key,
        route=route,
        fingerprint=request_fingerprint,
        resource_id=resource_id,
        created_at=utcnow(),
    )


async def create_once(
    session: AsyncSession,
    model: type[IdempotencyRecordBase],
    principal: Requester,
    keyring: KeyRing,
    key: str | None,
    route: str,
    body: Any,
    create: Callable[[], Awaitable[T]],
    load: Callable[[uuid.UUID], Awaitable[T]],
    identify: Callable[[T], uuid.UUID | None] | None = None,
) -> tuple[T, bool]:
    """Run ``create`` once per Idempotency-Key; a retry gets ``load`` of the
    first result. Returns the resource and whether it was a replay.

    ``route`` names the request with its path ids (so a key reused on another
    record is refused); ``identify`` gives the id to re-read from a result
    that is not itself a row with an ``id`` (``None``: nothing to replay, the
    key is not kept). An action whose answer is read
    afresh after it returns the id it acted on, with ``acted_on`` as ``load``.
    """
    key = check_key(key)
    if key is None:
        return await create(), False
    request_fingerprints = fingerprints(keyring, route, body)
    existing = await find_replay(
        session, model, principal, key, route, request_fingerprints
    )
    if existing is not None:
        return await load(existing), True
    resource = await create()
    resource_id: object
    if identify is not None:
        resource_id = identify(resource)
        if resource_id is None:  # nothing was made that a retry could get
            return resource, False
    elif isinstance(resource, uuid.UUID):
        resource_id = resource
    else:
        resource_id = getattr(resource, "id", None)
    assert isinstance(resource_id, uuid.UUID)
    remember(
        session, model, principal, key, route, request_fingerprints[0], resource_id
    )
    return resource, False


def mark_replay(response: Response, replayed: bool) -> None:
    """Tell the client its request was answered from the first one."""
    if replayed:
        response.headers[REPLAYED_HEADER] = "true"


async def acted_on(resource_id: uuid.UUID) -> uuid.UUID:
    """``load`` for an action that returns the id it acted on and whose
    answer the handler reads afresh after it, replay or not."""
    return resource_id


@dataclass(frozen=True)
class Once:
    """A write request's Idempotency-Key with what acting once needs: the
    request's session and response, the service's key table and runtime.
    Handlers get it from their service's ``OnceDep``."""

    session: AsyncSession
    response: Response
    runtime: Runtime
    model: type[IdempotencyRecordBase]
    key: str | None

    async def act(
        self,
        requester: Requester,
        route: str,
        body: Any,
        act: Callable[[], Awaitable[T]],
        load: Callable[[uuid.UUID], Awaitable[T]],
        identify: Callable[[T], uuid.UUID | None] | None = None,
        *,
        commits_itself: bool = False,
    ) -> tuple[T, bool]:
        """``create_once`` inside the handler's transaction (or, for an act
        that ``commits_itself`` in batches, ``run_once``), and the replay
        header on the answer."""
        once_per_key = (
            run_once if commits_itself else partial(create_once, identify=identify)
        )
        result, replayed = await once_per_key(
            self.session,
            self.model,
            requester,
            self.runtime.keyring,
            self.key,
            route,
            body,
            act,
            load,
        )
        mark_replay(self.response, replayed)
        return result, replayed

    async def answer_versioned(
        self,
        requester: Requester,
        route: str,
        body: Any,
        act: Callable[[], Awaitable[T]],
        load: Callable[[uuid.UUID], Awaitable[T]],
        render: Callable[[T], Awaitable[V]],
        *,
        audit: Trail[T] | None,
        identify: Callable[[T], uuid.UUID | None] | None = None,
    ) -> V:
        """``answer``, with the answer's version as its ``ETag`` (what an
        edit sends back as ``If-Match``)."""
        read = await self.answer(
            requester, route, body, act, load, render, audit=audit, identify=identify
        )
        self.response.headers["ETag"] = f'"{read.version}"'
        return read

    async def answer(
        self,
        requester: Requester,
        route: str,
        body: Any,
        act: Callable[[], Awaitable[T]],
        load: Callable[[uuid.UUID], Awaitable[T]],
        render: Callable[[T], Awaitable[R]],
        *,
        audit: Trail[T] | Sequence[Trail[T]] | None,
        identify: Callable[[T], uuid.UUID | None] | None = None,
        replays_act: bool = False,
    ) -> R:
        """A write handler's whole transaction: ``act`` once per key with its
        ``audit`` rows (a trail per entity type it audits; ``None`` only where
        the act stages its own), the answer rendered inside the transaction,
        then, after the commit and only for a first request, the deferred
        jobs sent and, if it staged events, the outbox announced. A replay is
        not a new act: no rows, no jobs. ``identify`` as for ``create_once``,
        for a result that is not a row with an id. ``replays_act``: ``load``
        applies the act again rather than re-reading (a sync batch, harmless
        to repeat), so a replay leaves the rows, jobs and announce of what it
        did, as a request without a key would."""
        staged_events(self.session)  # only this write's events count
        async with self.session.begin():
            result, replayed = await self.act(
                requester, route, body, act, load, identify
            )
            acted = replays_act or not replayed
            if audit is not None and acted:
                for trail in (audit,) if isinstance(audit, Trail) else audit:
                    trail.write(self.session, result)
            answer = await render(result)
        if acted:
            await send_deferred_jobs(self.session, self.runtime.queue)
            if staged_events(self.session):  # nothing to sequence: no announce
                await announce_writes(self.runtime)
        return answer


def once_for(
    model: type[IdempotencyRecordBase],
) -> Callable[..., Awaitable[Once]]:
    """The FastAPI dependency of a service's ``Once`` (it reads the header)."""

    async def once(  # async: a plain def would run in a worker thread
        session: SessionDep,
        request: Request,
        response: Response,
        idempotency_key: IdempotencyKey = None,
    ) -> Once:
        # the runtime read here, not through RuntimeDep: one dependency
        # fewer to solve on every write
        runtime: Runtime = request.app.state.runtime
        return Once(session, response, runtime, model, idempotency_key)

    return once


@dataclass(frozen=True)
class Acting:
    """A write's caller (``acting``'s actor) and its ``Once``."""

    actor: Actor
    once: Once


def acting_once(
    model: type[IdempotencyRecordBase], *roles: Role
) -> Callable[..., Awaitable[Acting]]:
    """One dependency for a write's actor (``shared.audit.acting(*roles)``),
    session and ``Once`` (``once_for(model)``), which read the same
    headers, in the same order, so the OpenAPI document is the same. FastAPI
    solving three dependencies and the session's twice cost a small write
    more than the one (bench/RESULTS.md, seventh pass)."""

    async def acting(
        request: Request,
        response: Response,
        principal: PrincipalDep,
        x_access_reason: AccessReason = None,
        idempotency_key: IdempotencyKey = None,
    ) -> Acting:
        actor = actor_of(request, principal, x_access_reason, roles)
        runtime: Runtime = request.app.state.runtime
        session = await get_session(request)
        return Acting(actor, Once(session, response, runtime, model, idempotency_key))

    return acting


async def run_once(
    session: AsyncSession,
    model: type[IdempotencyRecordBase],
    requester: Requester,
    keyring: KeyRing,
    key: str | None,
    route: str,
    body: Any,
    act: Callable[[], Awaitable[T]],
    load: Callable[[uuid.UUID], Awaitable[T]],
) -> tuple[T, bool]:
    """``create_once`` for an act that commits its own transactions (in
    batches): the key is looked up before it and remembered after it, each in
    a transaction of ``session``. A retry that arrives between the two runs
    the act again, so only an act that is itself harmless to repeat (a
    retention run) may use this."""
    key = check_key(key)
    if key is None:
        return await act(), False
    request_fingerprints = fingerprints(keyring, route, body)
    async with session.begin():
        existing = await find_replay(
            session, model, requester, key, route, request_fingerprints
        )
        if existing is not None:
            return await load(existing), True
    result = await act()
    resource_id = getattr(result, "id", None)
    assert isinstance(resource_id, uuid.UUID)
    async with session.begin():
        remember(
            session,
            model,
            requester,
            key,
            route,
            request_fingerprints[0],
            resource_id,
        )
    return result, False


def make_purge_job(
    model: type[IdempotencyRecordBase],
) -> Callable[..., Coroutine[Any, Any, int]]:
    """The service's ``purge_idempotency_keys`` job (enqueued by that name)."""

    async def purge_idempotency_keys(ctx: dict[str, Any]) -> int:
        """Forget keys older than ``KEEP``: the table must not grow for ever."""
        runtime: Runtime = ctx["runtime"]
        async with AsyncSession(runtime.engine) as session, session.begin():
            result = await session.execute(
                delete(model).where(col(model.created_at) < utcnow() - KEEP)
            )
        return int(getattr(result, "rowcount", 0) or 0)

    purge_idempotency_keys.__qualname__ = "purge_idempotency_keys"
    return purge_idempotency_keys
