"""``/v1/api-keys``: integrators' keys, issued and revoked by a programme
manager of the organisation whose figures they read. A key carries its
issuer's site scope; a site-limited manager sees and revokes only keys
within their own sites."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from services.reporting.access.models import ApiKey
from services.reporting.access.service import (
    hash_secret,
    loaded_sites,
    new_secret,
    stored_sites,
)
from services.reporting.catalogue.catalogue import indicators
from services.reporting.db import OnceDep
from shared.auth import Principal, RateLimiter, Role, require
from shared.contracts.text import Text
from shared.db import SessionDep, utcnow
from shared.errors import FieldError, Forbidden, Invalid, NotFound, problem_responses
from shared.pagination import DEFAULT_LIMIT, CursorQuery, LimitQuery, Page, listed_page

router = APIRouter(prefix="/v1/api-keys", tags=["integrator API keys"])
KEY_MANAGEMENT_PER_MINUTE = 30
KEY_MANAGEMENT = RateLimiter("api-key-management")


async def key_manager(
    request: Request,
    principal: Annotated[Principal, Depends(require(Role.programme_manager))],
) -> Principal:
    """A programme manager, at most KEY_MANAGEMENT_PER_MINUTE key requests a
    minute per organisation: issuing keys in bulk is not a use. A key keeps
    a site scope but no team scope, so a team-scoped manager issues none."""
    if principal.team_id is not None:
        raise Forbidden("A token limited to one team cannot manage API keys.")
    await KEY_MANAGEMENT.hit(
        request,
        str(principal.organisation_id),
        KEY_MANAGEMENT_PER_MINUTE,
        f"More than {KEY_MANAGEMENT_PER_MINUTE} API-key requests a minute.",
    )
    return principal


Manager = Annotated[Principal, Depends(key_manager)]


class ApiKeyCreate(BaseModel):
    """A key for an integrator's feed, limited to some indicators and a rate."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "MoH DHIS2",
                    "indicators": ["people_reached", "services_delivered"],
                    "rate_per_minute": 60,
                }
            ]
        }
    )

    name: Text = Field(min_length=1, max_length=200, description="Who uses it.")
    indicators: list[Annotated[Text, Field(max_length=64)]] | None = Field(
        default=None, description="Indicators it may read; omit for all."
    )
    rate_per_minute: int = Field(default=60, ge=1, le=6000)


class ApiKeyRead(BaseModel):
    """An integrator's key, without its secret."""

    id: uuid.UUID
    name: str
    indicators: list[str] | None
    site_ids: list[uuid.UUID] | None = Field(
        description="The sites it reads, its issuer's; null: every site."
    )
    rate_per_minute: int
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None


class ApiKeyIssued(ApiKeyRead):
    """A new key; the secret is shown this once and never stored in clear."""

    key: str | None = Field(
        description="Shown once; send it as the X-API-Key header. Null in the "
        "answer to a retried request (same Idempotency-Key)."
    )


def _read(key: ApiKey) -> ApiKeyRead:
    return ApiKeyRead.model_validate(key, from_attributes=True)


def _within_scope(key: ApiKey, principal: Principal) -> bool:
    """A key of the manager's organisation whose sites are all theirs."""
    if key.organisation_id != principal.organisation_id:
        return False
    if principal.site_ids is None:
        return True
    sites = loaded_sites(key.site_ids)
    return sites is not None and sites <= principal.site_ids


@router.post(
    "",
    status_code=201,
    response_model=ApiKeyIssued,
    responses=problem_responses(Invalid),
)
async def issue_key(
    body: ApiKeyCreate,
    session: SessionDep,
    principal: Manager,
    once: OnceDep,
) -> ApiKeyIssued:
    """Issue a key. A retry with the same Idempotency-Key answers the same
    key without its secret (``key`` null), which is shown only once: if the
    first answer was lost, revoke that key and issue another."""
    if body.indicators is not None:
        unknown = [i for i in body.indicators if i not in indicators()]
        if unknown:
            raise Invalid(
                "Unknown indicators: " + ", ".join(unknown),
                errors=[
                    FieldError(loc=["body", "indicators"], msg=i, type="unknown")
                    for i in unknown
                ],
            )
    secret = new_secret()

    async def issue() -> ApiKey:
        key = ApiKey(
            organisation_id=principal.organisation_id,
            name=body.name,
            secret_hash=hash_secret(secret),
            indicators=body.indicators,
            site_ids=stored_sites(principal.site_ids),
            rate_per_minute=body.rate_per_minute,
            created_by=principal.subject,
        )
        session.add(key)
        return key

    async def load(existing: uuid.UUID) -> ApiKey:
        key = await session.get(ApiKey, existing)
        if key is None:
            raise NotFound("There is no such key.")
        return key

    # not Once.answer: it announces to an outbox, and reporting has none
    async with session.begin():
        key, replayed = await once.act(
            principal,
            "POST /v1/api-keys",
            body,
            issue,
            load,
        )
    return ApiKeyIssued(**_read(key).model_dump(), key=None if replayed else secret)


@router.get("", response_model=Page[ApiKeyRead])
async def list_keys(
    session: SessionDep,
    principal: Manager,
    cursor: CursorQuery = None,
    limit: LimitQuery = DEFAULT_LIMIT,
) -> Page[ApiKeyRead]:
    """The organisation's keys within the caller's sites, the oldest first."""
    async with session.begin():
        rows = await session.execute(
            select(ApiKey)
            .where(ApiKey.organisation_id == principal.organisation_id)  # type: ignore[arg-type]
            .order_by(ApiKey.created_at, ApiKey.id)  # type: ignore[arg-type]
        )
        keys = [_read(k) for k in rows.scalars() if _within_scope(k, principal)]
    return listed_page(keys, key=lambda k: str(k.id), cursor=cursor, limit=limit)


@router.delete(
    "/{key_id}", response_model=ApiKeyRead, responses=problem_responses(NotFound)
)
async def revoke_key(
    key_id: uuid.UUID, session: SessionDep, principal: Manager
) -> ApiKeyRead:
    """Revoke at once: the next request with it is refused."""
    async with session.begin():
        key = await session.get(ApiKey, key_id, with_for_update=True)
        if key is None or not _within_scope(key, principal):
            raise NotFound("There is no such API key.")
        if key.revoked_at is None:
            key.revoked_at = utcnow()
        return _read(key)
