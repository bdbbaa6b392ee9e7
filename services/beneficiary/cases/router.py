"""HTTP API for cases: open one (once per ``Idempotency-Key``), list, read,
move it along its state machine under ``If-Match``, record and list
assessments, and its outcomes; also ``GET /v1/instruments``. Each handler
audits what it touched, and risk alerts are sent only after the commit.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Response

from services.beneficiary.access import CaseActor
from services.beneficiary.audit.models import audit_log
from services.beneficiary.beneficiaries import service as beneficiaries_service
from services.beneficiary.cases import service as cases_service
from services.beneficiary.cases.models import Assessment, Case
from services.beneficiary.cases.schemas import (
    AssessmentCreate,
    AssessmentRead,
    CaseOpen,
    CaseRead,
    CaseTransition,
    CaseUpdate,
    Outcome,
)
from services.beneficiary.db import OnceDep
from shared.app import RuntimeDep
from shared.auth import PrincipalDep
from shared.concurrency import etag, expected_version
from shared.contracts.enums import CaseStatus
from shared.db import SessionDep
from shared.errors import (
    Conflict,
    ConsentMissing,
    Invalid,
    NotFound,
    PreconditionRequired,
    Problem,
    VersionConflict,
    problem_responses,
)
from shared.instruments import Instrument, instruments
from shared.pagination import (
    DEFAULT_LIMIT,
    CursorQuery,
    LimitQuery,
    Page,
    listed_page,
)
from shared.scoping import get_in_scope

router = APIRouter(tags=["cases"])


@router.post(
    "/v1/cases",
    status_code=201,
    response_model=CaseRead,
    responses=problem_responses(NotFound, ConsentMissing, Conflict, Invalid),
)
async def open_case(
    body: CaseOpen,
    session: SessionDep,
    runtime: RuntimeDep,
    actor: CaseActor,
    once: OnceDep,
) -> CaseRead:
    """Intake: open a case for a registered, consenting person."""
    principal = actor.principal

    async def render(case: Case) -> CaseRead:
        return cases_service.to_read(case, runtime.keyring)

    return await once.answer_versioned(
        principal,
        "POST /v1/cases",
        body,
        lambda: cases_service.open_case(session, principal, runtime.keyring, body),
        lambda existing: cases_service.get_case(session, principal, existing),
        render,
        audit=audit_log.trail(actor, "create", "case"),
    )


@router.get("/v1/cases", response_model=Page[CaseRead])
async def list_cases(
    session: SessionDep,
    runtime: RuntimeDep,
    actor: CaseActor,
    beneficiary_id: uuid.UUID | None = None,
    status: CaseStatus | None = None,
    cursor: CursorQuery = None,
    limit: LimitQuery = DEFAULT_LIMIT,
) -> Page[CaseRead]:
    """Cases in the caller's scope, filterable by status and case worker."""
    page = await audit_log.read(
        session,
        actor,
        "list",
        "case",
        lambda: cases_service.list_cases(
            session,
            actor.principal,
            beneficiary_id=beneficiary_id,
            status=status,
            cursor=cursor,
            limit=limit,
        ),
        lambda found: [c.id for c in found.items],
    )
    return page.map(lambda c: cases_service.to_read(c, runtime.keyring))


@router.get(
    "/v1/cases/{case_id}",
    response_model=CaseRead,
    responses=problem_responses(NotFound),
)
async def get_case(
    case_id: uuid.UUID,
    response: Response,
    session: SessionDep,
    runtime: RuntimeDep,
    actor: CaseActor,
) -> CaseRead:
    """A case with its intake notes; every read is audit-logged with the
    X-Access-Reason header."""
    case = await audit_log.read(
        session,
        actor,
        "read",
        "case",
        lambda: cases_service.get_case(session, actor.principal, case_id),
    )
    response.headers["ETag"] = etag(case.version)
    return cases_service.to_read(case, runtime.keyring)


@router.patch(
    "/v1/cases/{case_id}",
    response_model=CaseRead,
    responses=problem_responses(NotFound, VersionConflict, PreconditionRequired),
)
async def update_case(
    case_id: uuid.UUID,
    body: CaseUpdate,
    session: SessionDep,
    runtime: RuntimeDep,
    actor: CaseActor,
    once: OnceDep,
    if_match: Annotated[str | None, Header()] = None,
) -> CaseRead:
    """Replace the presenting problems recorded at intake (``If-Match``:
    the version you edited); reports count the case under the new list."""
    version = expected_version(if_match)
    principal = actor.principal

    async def render(case: Case) -> CaseRead:
        return cases_service.to_read(case, runtime.keyring)

    return await once.answer_versioned(
        principal,
        f"PATCH /v1/cases/{case_id} If-Match: {version}",
        body,
        lambda: cases_service.update_case(
            session, principal, runtime.keyring, case_id, body, version
        ),
        lambda existing: cases_service.get_case(session, principal, existing),
        render,
        audit=audit_log.trail(actor, "update", "case"),
    )


@router.post(
    "/v1/cases/{case_id}/transitions",
    response_model=CaseRead,
    responses=problem_responses(
        NotFound, Conflict, VersionConflict, PreconditionRequired, Invalid
    ),
)
async def transition_case(
    case_id: uuid.UUID,
    body: CaseTransition,
    session: SessionDep,
    runtime: RuntimeDep,
    actor: CaseActor,
    once: OnceDep,
    if_match: Annotated[str | None, Header()] = None,
) -> CaseRead:
    """open -> active (plan agreed) <-> on_hold -> closed (with a reason);
    a closed case may be reopened. Other moves are a 409."""
    version = expected_version(if_match)
    principal = actor.principal

    async def render(case: Case) -> CaseRead:
        return cases_service.to_read(case, runtime.keyring)

    return await once.answer_versioned(
        principal,
        f"POST /v1/cases/{case_id}/transitions If-Match: {version}",
        body,
        lambda: cases_service.transition_case(
            session, principal, runtime.keyring, case_id, body, version
        ),
        lambda existing: cases_service.get_case(session, principal, existing),
        render,
        # the case now has the status asked for
        audit=audit_log.trail(actor, f"status:{body.status}", "case"),
    )


@router.post(
    "/v1/cases/{case_id}/assessments",
    status_code=201,
    response_model=AssessmentRead,
    responses=problem_responses(NotFound, Conflict, Invalid),
)
async def record_assessment(
    case_id: uuid.UUID,
    body: AssessmentCreate,
    session: SessionDep,
    runtime: RuntimeDep,
    actor: CaseActor,
    once: OnceDep,
) -> AssessmentRead:
    """Record answers to a standard instrument; the server scores them."""
    principal = actor.principal

    async def load(existing: uuid.UUID) -> tuple[Assessment | None, Problem | None]:
        found = await get_in_scope(
            session,
            principal,
            Assessment,
            existing,
            team_of=beneficiaries_service.team_of,
            what="assessment",
        )
        return found, None

    async def render(
        done: tuple[Assessment | None, Problem | None],
    ) -> tuple[Assessment | None, Problem | None]:
        return done

    assessment, problem = await once.answer(
        principal,
        f"POST /v1/cases/{case_id}/assessments",
        body,
        lambda: cases_service.record_assessment(session, principal, case_id, body),
        load,
        render,
        audit=audit_log.trail(actor, "assessment", "case", lambda _: [case_id]),
        identify=lambda done: done[0].id if done[0] is not None else None,
    )
    if problem is not None:  # incomplete, but the risk alert is committed
        raise problem
    assert assessment is not None
    return AssessmentRead.model_validate(assessment)


@router.get(
    "/v1/cases/{case_id}/assessments",
    response_model=Page[AssessmentRead],
    responses=problem_responses(NotFound),
)
async def list_assessments(
    case_id: uuid.UUID,
    session: SessionDep,
    actor: CaseActor,
    cursor: CursorQuery = None,
    limit: LimitQuery = DEFAULT_LIMIT,
) -> Page[AssessmentRead]:
    """The case's assessments, the first administered first."""
    rows = await audit_log.read(
        session,
        actor,
        "read_assessments",
        "case",
        lambda: cases_service.list_assessments(session, actor.principal, case_id),
        lambda _: [case_id],
    )
    return listed_page(
        [AssessmentRead.model_validate(r) for r in rows],
        key=lambda a: str(a.id),
        cursor=cursor,
        limit=limit,
    )


@router.get(
    "/v1/cases/{case_id}/outcomes",
    response_model=Page[Outcome],
    responses=problem_responses(NotFound),
)
async def case_outcomes(
    case_id: uuid.UUID,
    session: SessionDep,
    actor: CaseActor,
    cursor: CursorQuery = None,
    limit: LimitQuery = DEFAULT_LIMIT,
) -> Page[Outcome]:
    """Change from baseline to the latest assessment, per instrument."""
    result = await audit_log.read(
        session,
        actor,
        "read_outcomes",
        "case",
        lambda: cases_service.outcomes(session, actor.principal, case_id),
        lambda _: [case_id],
    )
    return listed_page(result, key=lambda o: o.instrument, cursor=cursor, limit=limit)


@router.get("/v1/instruments", tags=["instruments"])
async def list_instruments(
    _: PrincipalDep,
    cursor: CursorQuery = None,
    limit: LimitQuery = DEFAULT_LIMIT,
) -> Page[Instrument]:
    """Every instrument definition: items, scales, scores, bands, licence."""
    return listed_page(
        list(instruments().values()),
        key=lambda i: f"{i.code}@{i.version}",
        cursor=cursor,
        limit=limit,
    )
