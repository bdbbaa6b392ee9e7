"""Who is asking: a person's bearer token or an integrator's API key, and
what that lets them see (organisation and site scope, record-level access,
allowed indicators). API keys are rate limited per minute, and bad keys and
tokens per client address (``shared.auth``)."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request, Response
from fastapi.security import APIKeyHeader
from sqlalchemy import Table as CoreTable
from sqlalchemy import select, update
from sqlmodel import col

from services.reporting.access.models import ApiKey
from services.reporting.engine.evaluator import Scope
from services.reporting.facts.models import OrganisationDim
from shared.app import Runtime
from shared.auth import (
    BearerDoc,
    Principal,
    RateLimiter,
    Role,
    count_failure,
    current_principal,
    refuse_blocked_address,
)
from shared.db import utcnow
from shared.errors import Forbidden, Unauthorized
from shared.i18n import LangQuery, Language, asked, chosen_language

KEY_PREFIX = "mhpss_"
READERS = frozenset(
    {
        Role.admin,
        Role.programme_manager,
        Role.me_officer,
        Role.supervisor,
        Role.case_worker,
        Role.auditor,
        Role.trainer,
    }
)
RECORD_LEVEL = frozenset(
    {
        Role.admin,
        Role.programme_manager,
        Role.me_officer,
        Role.supervisor,
        Role.case_worker,
    }
)
"""Roles that see individual records elsewhere: their tables are not
suppressed. Everyone else (auditors, trainers, every API key) gets small
cells suppressed."""


@dataclass(frozen=True)
class Caller:
    organisation_id: uuid.UUID
    scope: Scope
    record_level: bool
    indicators: frozenset[str] | None  # None: every indicator
    subject: str
    api_key_id: uuid.UUID | None = None

    def may_read(self, indicator: str) -> None:
        if self.indicators is not None and indicator not in self.indicators:
            raise Forbidden(f"This API key is not scoped to {indicator!r}.")


def stored_sites(sites: frozenset[uuid.UUID] | None) -> list[str] | None:
    """A site scope as a JSON column keeps it (None: every site)."""
    return sorted(str(s) for s in sites) if sites is not None else None


def loaded_sites(stored: list[str] | None) -> frozenset[uuid.UUID] | None:
    return frozenset(uuid.UUID(s) for s in stored) if stored is not None else None


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_secret() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def caller_from_principal(principal: Principal) -> Caller:
    if not principal.has_any(READERS):
        raise Forbidden("Reading indicators needs a programme, M&E or care role.")
    return Caller(
        organisation_id=principal.organisation_id,
        scope=Scope(
            organisations=frozenset({principal.organisation_id}),
            sites=principal.site_ids,
            teams=None if principal.team_id is None else frozenset({principal.team_id}),
        ),
        record_level=principal.has_any(RECORD_LEVEL),
        indicators=None,
        subject=principal.subject,
    )


API_KEY_USES = RateLimiter("api-key")
API_KEYS: CoreTable = ApiKey.__table__  # type: ignore[attr-defined]


API_KEY = APIKeyHeader(
    name="X-API-Key",
    scheme_name="api_key",
    description="An integrator's key, issued by an organisation's admin at "
    "`POST /v1/api-keys`.",
    auto_error=False,  # current_caller falls back to a bearer token
)
"""Declares the API-key scheme next to the bearer one in the OpenAPI."""


async def current_caller(
    request: Request,
    _key: Annotated[str | None, Depends(API_KEY)] = None,
    _bearer: BearerDoc = None,
) -> Caller:
    """An ``X-API-Key`` header, else a bearer token."""
    secret = request.headers.get("x-api-key")
    if not secret:
        return caller_from_principal(await current_principal(request))
    await refuse_blocked_address(request)
    runtime: Runtime = request.app.state.runtime
    async with runtime.reads.connect() as conn:
        key = (
            await conn.execute(
                select(API_KEYS).where(API_KEYS.c.secret_hash == hash_secret(secret))
            )
        ).one_or_none()
    if key is None or key.revoked_at is not None:
        await count_failure(request)
        raise Unauthorized("This API key is not valid (unknown or revoked).")
    await API_KEY_USES.hit(
        request,
        str(key.id),
        key.rate_per_minute,
        f"More than {key.rate_per_minute} requests a minute with this API key.",
    )
    now = utcnow()
    if key.last_used_at is None or (now - key.last_used_at).total_seconds() > 60:
        async with runtime.engine.begin() as conn:  # at most a write a minute
            await conn.execute(
                update(API_KEYS).where(API_KEYS.c.id == key.id).values(last_used_at=now)
            )
    return Caller(
        organisation_id=key.organisation_id,
        scope=Scope(
            organisations=frozenset({key.organisation_id}),
            sites=loaded_sites(key.site_ids),
        ),
        record_level=False,
        indicators=frozenset(key.indicators) if key.indicators is not None else None,
        subject=f"api-key:{key.id}",
        api_key_id=key.id,
    )


CallerDep = Annotated[Caller, Depends(current_caller)]


async def caller_language(
    request: Request, response: Response, caller: CallerDep, lang: LangQuery = None
) -> Language:
    """The language of what a caller reads: ``lang``, else Accept-Language,
    else their organisation's default language (as last copied from the
    beneficiary service), else English. The default is read only when
    neither ``lang`` nor Accept-Language names a language we have."""
    named = asked(lang, request.headers.get("accept-language"))
    default = (
        None
        if named is not None
        else await default_language(request.app.state.runtime, caller)
    )
    return chosen_language(request, response, lang, default)


async def default_language(runtime: Runtime, caller: Caller) -> str | None:
    """The caller's organisation's default language, as last copied from
    the beneficiary service (None before the first copy)."""
    async with runtime.reads.connect() as conn:
        found: str | None = (
            await conn.execute(
                select(col(OrganisationDim.default_language)).where(
                    col(OrganisationDim.id) == caller.organisation_id
                )
            )
        ).scalar_one_or_none()
    return found


CallerLanguage = Annotated[Language, Depends(caller_language)]
