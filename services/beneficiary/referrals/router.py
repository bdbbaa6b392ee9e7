"""HTTP API for referrals: refer, list, and record the receiver's answer or the
outcome. Each write is audited and announced to the outbox after it commits.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Response

from services.beneficiary.audit.models import AuditEntry
from services.beneficiary.cases.router import CaseActor
from services.beneficiary.outbox.jobs import announce_writes
from services.beneficiary.referrals import service as referrals_service
from services.beneficiary.referrals.service import (
    ReferralCreate,
    ReferralRead,
    ReferralUpdate,
)
from shared.app import RuntimeDep
from shared.audit import record_access
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
) -> ReferralRead:
    """Refer a person (internal unit or external provider) with their consent."""
    async with session.begin():
        referral = await referrals_service.refer(session, actor.principal, body)
        record_access(
            session,
            AuditEntry,
            actor,
            action="refer",
            entity_type="beneficiary",
            entity_ids=[referral.beneficiary_id],
        )
        read = referrals_service.to_read(referral, runtime.keyring)
    await announce_writes(runtime)
    response.headers["ETag"] = etag(read.version)
    return read


@router.get("", response_model=list[ReferralRead])
async def list_referrals(
    session: SessionDep,
    runtime: RuntimeDep,
    actor: CaseActor,
    beneficiary_id: uuid.UUID | None = None,
    case_id: uuid.UUID | None = None,
) -> list[ReferralRead]:
    async with session.begin():
        rows = await referrals_service.list_referrals(
            session, actor.principal, beneficiary_id=beneficiary_id, case_id=case_id
        )
        record_access(
            session,
            AuditEntry,
            actor,
            action="list",
            entity_type="referral",
            entity_ids=[r.id for r in rows],
        )
    return [referrals_service.to_read(r, runtime.keyring) for r in rows]


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
    if_match: Annotated[str | None, Header()] = None,
) -> ReferralRead:
    """sent -> accepted | declined | no_response; accepted -> completed."""
    version = expected_version(if_match)
    async with session.begin():
        referral = await referrals_service.update_referral(
            session, actor.principal, runtime.keyring, referral_id, body, version
        )
        record_access(
            session,
            AuditEntry,
            actor,
            action="referral_status",
            entity_type="referral",
            entity_ids=[referral.id],
        )
        read = referrals_service.to_read(referral, runtime.keyring)
    await announce_writes(runtime)
    response.headers["ETag"] = etag(read.version)
    return read
