"""HTTP API for referrals: refer, list, and record the receiver's answer or the
outcome. Each write is audited and announced to the outbox after it commits.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Header

from services.beneficiary.access import CaseActor
from services.beneficiary.audit.models import audit_log
from services.beneficiary.db import OnceDep
from services.beneficiary.referrals import service as referrals_service
from services.beneficiary.referrals.models import Referral
from services.beneficiary.referrals.service import (
    ReferralCreate,
    ReferralRead,
    ReferralUpdate,
)
from shared.app import RuntimeDep
from shared.concurrency import expected_version
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
    session: SessionDep,
    runtime: RuntimeDep,
    actor: CaseActor,
    once: OnceDep,
) -> ReferralRead:
    """Refer a person (internal unit or external provider) with their consent."""
    principal = actor.principal

    async def render(referral: Referral) -> ReferralRead:
        return referrals_service.to_read(referral, runtime.keyring)

    return await once.answer_versioned(
        principal,
        "POST /v1/referrals",
        body,
        lambda: referrals_service.refer(session, principal, body),
        lambda existing: referrals_service.get_referral(session, principal, existing),
        render,
        audit=audit_log.trail(
            actor, "refer", "beneficiary", lambda done: [done.beneficiary_id]
        ),
    )


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
    page = await audit_log.read(
        session,
        actor,
        "list",
        "referral",
        lambda: referrals_service.list_referrals(
            session,
            actor.principal,
            beneficiary_id=beneficiary_id,
            case_id=case_id,
            cursor=cursor,
            limit=limit,
        ),
        lambda found: [r.id for r in found.items],
    )
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
    session: SessionDep,
    runtime: RuntimeDep,
    actor: CaseActor,
    once: OnceDep,
    if_match: Annotated[str | None, Header()] = None,
) -> ReferralRead:
    """sent -> accepted | declined | no_response; accepted -> completed."""
    version = expected_version(if_match)
    principal = actor.principal

    async def render(referral: Referral) -> ReferralRead:
        return referrals_service.to_read(referral, runtime.keyring)

    return await once.answer_versioned(
        principal,
        f"POST /v1/referrals/{referral_id}/status If-Match: {version}",
        body,
        lambda: referrals_service.update_referral(
            session, principal, runtime.keyring, referral_id, body, version
        ),
        lambda existing: referrals_service.get_referral(session, principal, existing),
        render,
        audit=audit_log.trail(actor, "referral_status", "referral"),
    )
