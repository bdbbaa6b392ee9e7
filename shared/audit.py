"""Append-only access log: who read or changed which record, when and why.

Each service has its own table (a subclass of ``AuditEntryBase``); rows are
only ever inserted. On PostgreSQL a trigger from the migrations refuses UPDATE
and DELETE, so not even a bug in the application can rewrite history.
"""

import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Header, Request
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel

from shared.auth import Principal, PrincipalDep, Role, holding
from shared.contracts.text import Text
from shared.db import UTCDateTime, append_row, new_id, utcnow
from shared.errors import FieldError, Invalid

APPEND_ONLY_SQL = (
    """CREATE OR REPLACE FUNCTION refuse_audit_change() RETURNS trigger AS $$
    BEGIN
      RAISE EXCEPTION 'the audit log is append-only';
    END;
    $$ LANGUAGE plpgsql""",
    """CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}
    FOR EACH ROW EXECUTE FUNCTION refuse_audit_change()""",
)
T = TypeVar("T")
BREAK_GLASS = "break-glass:"
_BREAK_GLASS_REASON = "break_glass_reason"


class AuditEntryBase(SQLModel):
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    organisation_id: uuid.UUID = Field(index=True)
    subject: str = Field(max_length=255, index=True)
    action: str = Field(max_length=32)
    entity_type: str = Field(max_length=64)
    entity_id: uuid.UUID = Field(index=True)
    reason: str | None = Field(default=None, max_length=500)
    request_id: str | None = Field(default=None, max_length=128)


class Actor(BaseModel):
    """The caller plus why they are acting (the ``X-Access-Reason`` header)."""

    principal: Principal
    reason: str | None
    request_id: str | None


def acting(*roles: Role) -> Callable[..., Awaitable[Actor]]:
    """Dependency: the caller, who must hold one of ``roles``, and their reason."""

    async def dependency(
        request: Request, principal: PrincipalDep, x_access_reason: AccessReason = None
    ) -> Actor:
        return actor_of(request, principal, x_access_reason, roles)

    return dependency


AccessReason = Annotated[Text | None, Header(max_length=500)]
"""The ``X-Access-Reason`` header an actor's dependency reads."""


def actor_of(
    request: Request,
    principal: Principal,
    reason: str | None,
    roles: tuple[Role, ...],
) -> Actor:
    """``acting``'s checks and its actor, for a dependency that reads the
    principal and the reason itself (``shared.idempotency.acting_once``)."""
    holding(principal, roles)
    if reason and reason.strip().lower().startswith(BREAK_GLASS):
        raise Invalid(
            f"Reasons starting with {BREAK_GLASS!r} are written by the "
            "server for access through a grant (POST /v1/break-glass).",
            errors=[
                FieldError(
                    loc=["header", "x-access-reason"], msg="reserved", type="value"
                )
            ],
        )
    return Actor(
        principal=principal,
        reason=reason,
        request_id=getattr(request.state, "request_id", None),
    )


def note_break_glass(session: AsyncSession, reason: str) -> None:
    """This request reaches a record through a break-the-glass grant: every
    audit row it writes says so (``break-glass: <grant reason>``), with the
    caller's own reason, if any, after it."""
    session.info.setdefault(_BREAK_GLASS_REASON, reason)


def audit_reason(session: AsyncSession, actor: Actor) -> str | None:
    """What the audit rows of this request give as the reason."""
    granted = session.info.get(_BREAK_GLASS_REASON)
    if granted is None:
        return actor.reason
    reason = f"{BREAK_GLASS} {granted}"
    if actor.reason:
        reason += f" | {actor.reason}"
    return reason[:500]


def record_access(
    session: AsyncSession,
    model: type[AuditEntryBase],
    actor: Actor,
    *,
    action: str,
    entity_type: str,
    entity_ids: Iterable[uuid.UUID],
) -> None:
    """Stage audit rows in the caller's transaction (no access without a trace)."""
    reason = audit_reason(session, actor)
    for entity_id in entity_ids:
        append_row(
            session,
            model,
            id=new_id(),
            at=utcnow(),
            organisation_id=actor.principal.organisation_id,
            subject=actor.principal.subject,
            action=action,
            entity_type=entity_type,
            entity_id=entity_id,
            reason=reason,
            request_id=actor.request_id,
        )


def own_id(record: Any) -> list[uuid.UUID]:
    """The audited ids of a result that is one row: its own."""
    return [record.id]


@dataclass(frozen=True)
class AuditLog:
    """A service's audit table, bound once: the one way its routes leave a
    trace. ``record`` stages rows in the caller's transaction; ``read`` is a
    read's whole transaction, rows included; ``trail`` says which rows a
    write leaves, for ``Once.answer`` to stage with a first request's act."""

    model: type[AuditEntryBase]

    def record(
        self,
        session: AsyncSession,
        actor: Actor,
        action: str,
        entity_type: str,
        entity_ids: Iterable[uuid.UUID],
    ) -> None:
        record_access(
            session,
            self.model,
            actor,
            action=action,
            entity_type=entity_type,
            entity_ids=entity_ids,
        )

    async def read(
        self,
        session: AsyncSession,
        actor: Actor,
        action: str,
        entity_type: str,
        fetch: Callable[[], Awaitable[T]],
        ids: Callable[[T], Iterable[uuid.UUID]] = own_id,
    ) -> T:
        """Fetch in a transaction that also stages the read's audit rows, so
        what was read and the trace of reading it commit together."""
        async with session.begin():
            found = await fetch()
            self.record(session, actor, action, entity_type, ids(found))
        return found

    def trail(
        self,
        actor: Actor,
        action: str,
        entity_type: str | Callable[[T], str],
        ids: Callable[[T], Iterable[uuid.UUID]] = own_id,
    ) -> "Trail[T]":
        return Trail(self, actor, action, entity_type, ids)


@dataclass(frozen=True)
class Trail(Generic[T]):
    """The audit rows a write leaves, from the result of its act; the
    entity type too where the result names it (a sync conflict resolved is
    audited on the record it was about)."""

    log: AuditLog
    actor: Actor
    action: str
    entity_type: str | Callable[[T], str]
    ids: Callable[[T], Iterable[uuid.UUID]]

    def write(self, session: AsyncSession, result: T) -> None:
        kind = self.entity_type
        self.log.record(
            session,
            self.actor,
            self.action,
            kind if isinstance(kind, str) else kind(result),
            self.ids(result),
        )
