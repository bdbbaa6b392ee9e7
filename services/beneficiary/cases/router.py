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
    Outcome,
)
from services.beneficiary.db import OnceDep
from services.beneficiary.outbox.jobs import announce_writes
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
from shared.queue import send_deferred_jobs
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
    response: Response,
    session: SessionDep,
    runtime: RuntimeDep,
    actor: CaseActor,
    once: OnceDep,
) -> CaseRead:
    """Intake: open a case for a registered, consenting person."""
    principal = actor.principal
    async with session.begin():
        case, replayed = await once.act(
            principal,
            "POST /v1/cases",
            body,
            lambda: cases_service.open_case(session, principal, runtime.keyring, body),
            lambda existing: cases_service.get_case(session, principal, existing),
        )
        if not replayed:
            audit_log.record(session, actor, "create", "case", [case.id])
        read = cases_service.to_read(case, runtime.keyring)
    if not replayed:
        await announce_writes(runtime)
    response.headers["ETag"] = etag(read.version)
    return read


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
    async with session.begin():
        page = await cases_service.list_cases(
            session,
            actor.principal,
            beneficiary_id=beneficiary_id,
            status=status,
            cursor=cursor,
            limit=limit,
        )
        audit_log.record(session, actor, "list", "case", [c.id for c in page.items])
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
    async with session.begin():
        case = await cases_service.get_case(session, actor.principal, case_id)
        audit_log.record(session, actor, "read", "case", [case.id])
    response.headers["ETag"] = etag(case.version)
    return cases_service.to_read(case, runtime.keyring)


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
    response: Response,
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

    async def move() -> Case:
        case = await cases_service.transition_case(
            session, principal, runtime.keyring, case_id, body, version
        )
        audit_log.record(session, actor, f"status:{case.status}", "case", [case.id])
        return case

    async with session.begin():
        case, replayed = await once.act(
            principal,
            f"POST /v1/cases/{case_id}/transitions If-Match: {version}",
            body,
            move,
            lambda existing: cases_service.get_case(session, principal, existing),
        )
        read = cases_service.to_read(case, runtime.keyring)
    if not replayed:
        await announce_writes(runtime)
    response.headers["ETag"] = etag(read.version)
    return read


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

    async def record() -> tuple[Assessment | None, Problem | None]:
        done = await cases_service.record_assessment(session, principal, case_id, body)
        audit_log.record(session, actor, "assessment", "case", [case_id])
        return done

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

    async with session.begin():
        (assessment, problem), replayed = await once.act(
            principal,
            f"POST /v1/cases/{case_id}/assessments",
            body,
            record,
            load,
            identify=lambda done: done[0].id if done[0] is not None else None,
        )
    if not replayed:
        await send_deferred_jobs(session, runtime.queue)
        await announce_writes(runtime)
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
    async with session.begin():
        rows = await cases_service.list_assessments(session, actor.principal, case_id)
        audit_log.record(session, actor, "read_assessments", "case", [case_id])
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
    async with session.begin():
        result = await cases_service.outcomes(session, actor.principal, case_id)
        audit_log.record(session, actor, "read_outcomes", "case", [case_id])
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
