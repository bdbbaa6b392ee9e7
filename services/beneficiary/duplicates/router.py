"""HTTP API for duplicate review: the open candidate pairs in the caller's
scope, and the merge of one record into another under ``If-Match`` (the
kept person's version) and ``Idempotency-Key``. Supervisors and programme
managers only; every list and merge is audited."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Response

from services.beneficiary.access import SupervisorActor
from services.beneficiary.audit.models import audit_log
from services.beneficiary.beneficiaries import service as beneficiaries_service
from services.beneficiary.beneficiaries.models import Beneficiary
from services.beneficiary.beneficiaries.schemas import BeneficiaryRead
from services.beneficiary.db import OnceDep
from services.beneficiary.duplicates import service as duplicates_service
from services.beneficiary.duplicates.schemas import DuplicatePair, MergeRequest
from shared.app import RuntimeDep
from shared.concurrency import etag, expected_version
from shared.db import SessionDep
from shared.errors import (
    Conflict,
    Invalid,
    NotFound,
    PreconditionRequired,
    VersionConflict,
    problem_responses,
)
from shared.pagination import DEFAULT_LIMIT, CursorQuery, LimitQuery, Page

router = APIRouter(tags=["duplicates"])


@router.get("/v1/duplicates", response_model=Page[DuplicatePair])
async def list_duplicates(
    session: SessionDep,
    actor: SupervisorActor,
    cursor: CursorQuery = None,
    limit: LimitQuery = DEFAULT_LIMIT,
) -> Page[DuplicatePair]:
    """Pairs registration flagged as likely the same person, newest first:
    only pairs whose two people are in your scope and neither merged nor
    erased. Ids only; read each person to compare them."""
    return await audit_log.read(
        session,
        actor,
        "list_duplicates",
        "beneficiary",
        lambda: duplicates_service.list_pairs(session, actor.principal, cursor, limit),
        lambda page: dict.fromkeys(
            i for p in page.items for i in (p.beneficiary_id, p.candidate_id)
        ),
    )


@router.post(
    "/v1/beneficiaries/{beneficiary_id}/merge",
    response_model=BeneficiaryRead,
    responses=problem_responses(
        NotFound, VersionConflict, PreconditionRequired, Conflict, Invalid
    ),
)
async def merge_beneficiary(
    beneficiary_id: uuid.UUID,
    body: MergeRequest,
    response: Response,
    session: SessionDep,
    runtime: RuntimeDep,
    actor: SupervisorActor,
    once: OnceDep,
    if_match: Annotated[str | None, Header()] = None,
) -> BeneficiaryRead:
    """Merge ``duplicate_id`` into this person, reviewed on the version in
    If-Match (this person's ETag; 428 without it, 409 with the current copy
    when it changed since). Every service, case, assessment, referral,
    enrolment and alert of the duplicate moves here; its consents join this
    ledger, and a withdrawal on either record wins over a grant on the other.
    The duplicate stays, marked merged, and takes no new writes; reporting
    counts the person once. Both people must be in your scope and neither
    erased. A replay (same Idempotency-Key) answers the first merge."""
    version = expected_version(if_match)
    principal = actor.principal

    async def merge() -> Beneficiary:
        return await duplicates_service.merge(
            session,
            principal,
            runtime.keyring,
            beneficiary_id,
            body.duplicate_id,
            version,
        )

    read = await once.answer(
        principal,
        f"POST /v1/beneficiaries/{beneficiary_id}/merge If-Match: {version}",
        body,
        merge,
        lambda existing: beneficiaries_service.get_beneficiary(
            session, principal, existing
        ),
        lambda kept: beneficiaries_service.to_read(
            session, runtime.keyring, kept, principal
        ),
        audit=audit_log.trail(
            actor, "merge", "beneficiary", lambda kept: [kept.id, body.duplicate_id]
        ),
    )
    response.headers["ETag"] = etag(read.version)
    return read
