"""``Idempotency-Key`` on POST: a retried request returns the resource the
first one created instead of creating it again.

Only the key, a keyed fingerprint of the request and the created resource's id are
kept (never the response body, which may hold PII); a replay re-reads the
resource. The record commits in the same transaction as the write, so a key is
remembered exactly when its effect happened.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TypeVar

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel, col

from shared.auth import Principal
from shared.crypto import KeyRing
from shared.db import UTCDateTime, utcnow
from shared.errors import FieldError, Invalid

MAX_KEY_LENGTH = 200
T = TypeVar("T")


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


def fingerprints(keyring: KeyRing, route: str, body: BaseModel) -> list[str]:
    """What a stored fingerprint of this request may be, the one to store
    first: an HMAC under each blind-index key (the body holds names and phone
    numbers, which an unkeyed hash would let anyone test guesses against),
    then the unkeyed SHA-256 that records made before the HMAC may still
    hold (their records are purged a week after they were made)."""
    message = route + "\0" + body.model_dump_json(exclude_unset=True)
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


async def find_replay(
    session: AsyncSession,
    model: type[IdempotencyRecordBase],
    principal: Principal,
    key: str,
    route: str,
    request_fingerprints: list[str],
) -> uuid.UUID | None:
    """The resource created by an earlier request with this key, if any.

    The same key with a different request is a client bug: 422, nothing written.
    """
    record = (
        await session.execute(
            select(model).where(
                col(model.organisation_id) == principal.organisation_id,
                col(model.subject) == principal.subject,
                col(model.key) == key,
            )
        )
    ).scalar_one_or_none()
    if record is None:
        return None
    if record.route != route or record.fingerprint not in request_fingerprints:
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
    return record.resource_id


def remember(
    session: AsyncSession,
    model: type[IdempotencyRecordBase],
    principal: Principal,
    key: str,
    route: str,
    request_fingerprint: str,
    resource_id: uuid.UUID,
) -> None:
    session.add(
        model(
            organisation_id=principal.organisation_id,
            subject=principal.subject,
            key=key,
            route=route,
            fingerprint=request_fingerprint,
            resource_id=resource_id,
        )
    )


async def create_once(
    session: AsyncSession,
    model: type[IdempotencyRecordBase],
    principal: Principal,
    keyring: KeyRing,
    key: str | None,
    route: str,
    body: BaseModel,
    create: Callable[[], Awaitable[T]],
    load: Callable[[uuid.UUID], Awaitable[T]],
) -> tuple[T, bool]:
    """Run ``create`` once per Idempotency-Key; a retry gets ``load`` of the
    first result. Returns the resource and whether it was a replay."""
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
    resource_id = getattr(resource, "id", None)
    assert isinstance(resource_id, uuid.UUID)
    remember(
        session, model, principal, key, route, request_fingerprints[0], resource_id
    )
    return resource, False
