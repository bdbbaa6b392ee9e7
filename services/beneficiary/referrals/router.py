"""HTTP API for referrals: refer, list, and record the receiver's answer or the
outcome. Each write is audited and announced to the outbox after it commits.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Response

from services.beneficiary.access import CaseActor
from services.beneficiary.audit.models import audit_log
from services.beneficiary.db import OnceDep
from services.beneficiary.outbox.jobs import announce_writes
from services.beneficiary.referrals import service as referrals_service
from services.beneficiary.referrals.models import Referral
from services.beneficiary.referrals.service import (
    ReferralCreate,
    ReferralRead,
    ReferralUpdate,
)
from shared.app import Runtime, RuntimeDep
from shared.concurrency import etag, expected_version
from shared.db import SessionDep
from shared.errors import (
    Conflict,
    ConsentMissing,
    Invalid,
    NotFound,
    PreconditionRequired,
    VersionConflict,
    problem_responses,
)
from shared.pagination import DEFAULT_LIMIT, CursorQuery, LimitQuery, Page

router = APIRouter(prefix="/v1/referrals", tags=["referrals"])


@router.post(
    "",
    status_code=201,
    response_model=ReferralRead,
    responses=problem_responses(NotFound, ConsentMissing, Conflict, Invalid),
)
async def refer(
    body: ReferralCreate,
    response: Response,
    session: SessionDep,
    runtime: RuntimeDep,
    actor: CaseActor,
    once: OnceDep,
) -> ReferralRead:
    """Refer a person (internal unit or external provider) with their consent."""
    principal = actor.principal

    async def create() -> Referral:
        referral = await referrals_service.refer(session, principal, body)
        audit_log.record(
            session, actor, "refer", "beneficiary", [referral.beneficiary_id]
        )
        return referral

    async with session.begin():
        referral, replayed = await once.act(
            principal,
            "POST /v1/referrals",
            body,
            create,
            lambda existing: referrals_service.get_referral(
                session, principal, existing
            ),
        )
        read = referrals_service.to_read(referral, runtime.keyring)
    return await _answer(response, runtime, read, replayed)


@router.get("", response_model=Page[ReferralRead])
async def list_referrals(
    session: SessionDep,
    runtime: RuntimeDep,
    actor: CaseActor,
    beneficiary_id: uuid.UUID | None = None,
    case_id: uuid.UUID | None = None,
    cursor: CursorQuery = None,
    limit: LimitQuery = DEFAULT_LIMIT,
) -> Page[ReferralRead]:
    """Referrals in the caller's scope, filterable by person, status and area."""
    async with session.begin():
        page = await referrals_service.list_referrals(
            session,
            actor.principal,
            beneficiary_id=beneficiary_id,
            case_id=case_id,
            cursor=cursor,
            limit=limit,
        )
        audit_log.record(session, actor, "list", "referral", [r.id for r in page.items])
    return page.map(lambda r: referrals_service.to_read(r, runtime.keyring))


@router.post(
    "/{referral_id}/status",
    response_model=ReferralRead,
    responses=problem_responses(
        NotFound, Conflict, VersionConflict, PreconditionRequired, Invalid
    ),
)
async def update_referral(
    referral_id: uuid.UUID,
    body: ReferralUpdate,
    response: Response,
    session: SessionDep,
    runtime: RuntimeDep,
    actor: CaseActor,
    once: OnceDep,
    if_match: Annotated[str | None, Header()] = None,
) -> ReferralRead:
    """sent -> accepted | declined | no_response; accepted -> completed."""
    version = expected_version(if_match)
    principal = actor.principal

    async def update() -> Referral:
        referral = await referrals_service.update_referral(
            session, principal, runtime.keyring, referral_id, body, version
        )
        audit_log.record(session, actor, "referral_status", "referral", [referral.id])
        return referral

    async with session.begin():
        referral, replayed = await once.act(
            principal,
            f"POST /v1/referrals/{referral_id}/status If-Match: {version}",
            body,
            update,
            lambda existing: referrals_service.get_referral(
                session, principal, existing
            ),
        )
        read = referrals_service.to_read(referral, runtime.keyring)
    return await _answer(response, runtime, read, replayed)


async def _answer(
    response: Response, runtime: Runtime, read: ReferralRead, replayed: bool
) -> ReferralRead:
    if not replayed:
        await announce_writes(runtime)
    response.headers["ETag"] = etag(read.version)
    return read
