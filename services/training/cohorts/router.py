"""HTTP API for cohorts: create and read one, enrol trainees (twice changes
nothing), add sessions, read and record attendance (a change to recorded
attendance needs ``If-Match``), and each trainee's hours.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Response

from services.training.access import TrainingActor
from services.training.cohorts import service as cohorts_service
from services.training.cohorts.models import Cohort
from services.training.cohorts.service import (
    AttendanceRead,
    AttendanceWrite,
    CohortCreate,
    CohortRead,
    CohortSessionCreate,
    EnrolmentWrite,
    TraineeProgress,
)
from services.training.db import OnceDep, audit_log
from shared.app import RuntimeDep
from shared.concurrency import etag, expected_version
from shared.db import SessionDep
from shared.errors import (
    Conflict,
    Invalid,
    NotFound,
    PreconditionRequired,
    Unavailable,
    VersionConflict,
    problem_responses,
)
from shared.idempotency import acted_on
from shared.pagination import DEFAULT_LIMIT, CursorQuery, LimitQuery, Page, listed_page
from shared.periods import EndDate, StartDate

router = APIRouter(prefix="/v1/cohorts", tags=["cohorts"])


@router.post(
    "",
    status_code=201,
    response_model=CohortRead,
    responses=problem_responses(NotFound, Conflict, Invalid, Unavailable),
)
async def create_cohort(
    body: CohortCreate,
    session: SessionDep,
    runtime: RuntimeDep,
    actor: TrainingActor,
    once: OnceDep,
) -> CohortRead:
    """A training event: a run of a course with dates, modality and facilitators."""
    principal = actor.principal
    return await once.answer(
        principal,
        "POST /v1/cohorts",
        body,
        lambda: cohorts_service.create_cohort(session, principal, runtime, body),
        lambda existing: cohorts_service.get_cohort(session, principal, existing),
        lambda cohort: cohorts_service.to_read(session, cohort),
        audit=None,  # no person's record: the row keeps who made it
    )


@router.get("", response_model=Page[CohortRead])
async def list_cohorts(
    session: SessionDep,
    actor: TrainingActor,
    course_id: uuid.UUID | None = None,
    start: StartDate = None,
    end: EndDate = None,
    cursor: CursorQuery = None,
    limit: LimitQuery = DEFAULT_LIMIT,
) -> Page[CohortRead]:
    """Your organisation's cohorts, the latest to start first; with ``start``
    and ``end``, those running on at least one day of the period."""
    async with session.begin():
        page = await cohorts_service.list_cohorts(
            session,
            actor.principal,
            course_id=course_id,
            start=start,
            end=end,
            cursor=cursor,
            limit=limit,
        )
        items = [await cohorts_service.to_read(session, c) for c in page.items]
    return Page(items=items, next_cursor=page.next_cursor)


@router.get(
    "/{cohort_id}", response_model=CohortRead, responses=problem_responses(NotFound)
)
async def get_cohort(
    cohort_id: uuid.UUID, session: SessionDep, actor: TrainingActor
) -> CohortRead:
    """One cohort with its enrolment and sessions."""
    async with session.begin():
        cohort = await cohorts_service.get_cohort(session, actor.principal, cohort_id)
        return await cohorts_service.to_read(session, cohort)


@router.post(
    "/{cohort_id}/enrolments",
    response_model=CohortRead,
    responses=problem_responses(NotFound, Invalid),
)
async def enrol(
    cohort_id: uuid.UUID,
    session: SessionDep,
    actor: TrainingActor,
    once: OnceDep,
    body: EnrolmentWrite,
) -> CohortRead:
    """Enrol trainees (enrolling someone twice changes nothing)."""
    principal = actor.principal
    trainee_ids = body.trainee_ids

    return await once.answer(
        principal,
        f"POST /v1/cohorts/{cohort_id}/enrolments",
        {"trainee_ids": trainee_ids},
        lambda: cohorts_service.enrol(session, principal, cohort_id, trainee_ids),
        lambda existing: cohorts_service.get_cohort(session, principal, existing),
        lambda cohort: cohorts_service.to_read(session, cohort),
        audit=audit_log.trail(actor, "enrol", "trainee", lambda _: trainee_ids),
    )


@router.post(
    "/{cohort_id}/sessions",
    status_code=201,
    response_model=CohortRead,
    responses=problem_responses(NotFound, Conflict, Invalid),
)
async def add_session(
    cohort_id: uuid.UUID,
    body: CohortSessionCreate,
    session: SessionDep,
    actor: TrainingActor,
    once: OnceDep,
) -> CohortRead:
    """Add a session to a cohort: date, hours and topic."""
    principal = actor.principal

    async def add() -> Cohort:
        await cohorts_service.add_session(session, principal, cohort_id, body)
        return await cohorts_service.get_cohort(session, principal, cohort_id)

    return await once.answer(
        principal,
        f"POST /v1/cohorts/{cohort_id}/sessions",
        body,
        add,
        lambda existing: cohorts_service.get_cohort(session, principal, existing),
        lambda cohort: cohorts_service.to_read(session, cohort),
        audit=None,  # no person's record: the session row is the trace
    )


@router.get(
    "/{cohort_id}/sessions/{number}/attendance",
    response_model=AttendanceRead,
    responses=problem_responses(NotFound, Invalid),
)
async def get_attendance(
    cohort_id: uuid.UUID,
    number: int,
    response: Response,
    session: SessionDep,
    actor: TrainingActor,
) -> AttendanceRead:
    """Who attended the session, and its version (also the ETag)."""
    async with session.begin():
        read = await cohorts_service.get_attendance(
            session, actor.principal, cohort_id, number
        )
    response.headers["ETag"] = etag(read.version)
    return read


@router.put(
    "/{cohort_id}/sessions/{number}/attendance",
    response_model=list[TraineeProgress],
    responses=problem_responses(
        NotFound, Invalid, VersionConflict, PreconditionRequired
    ),
)
async def record_attendance(
    cohort_id: uuid.UUID,
    number: int,
    body: AttendanceWrite,
    response: Response,
    session: SessionDep,
    actor: TrainingActor,
    once: OnceDep,
    if_match: Annotated[str | None, Header()] = None,
) -> list[TraineeProgress]:
    """Who attended the session; everyone else enrolled is marked absent.
    Once recorded, a change needs If-Match with the version it was read at
    (428 without it; 409 with the server's copy when it is stale). A retry
    with the same Idempotency-Key gets the first answer, not a 409."""
    expected = expected_version(if_match) if if_match is not None else None
    principal = actor.principal

    async def record() -> uuid.UUID:
        await cohorts_service.record_attendance(
            session, principal, cohort_id, number, body, expected
        )
        return cohort_id

    async def render(_: uuid.UUID) -> list[TraineeProgress]:
        attendance = await cohorts_service.get_attendance(
            session, principal, cohort_id, number
        )
        response.headers["ETag"] = etag(attendance.version)
        return await cohorts_service.progress(session, principal, cohort_id)

    return await once.answer(
        principal,
        f"PUT /v1/cohorts/{cohort_id}/sessions/{number}/attendance "
        f"If-Match: {if_match}",
        body,
        record,
        acted_on,
        render,
        audit=None,  # attendance keeps no audit row (it never did)
    )


@router.get(
    "/{cohort_id}/progress",
    response_model=Page[TraineeProgress],
    responses=problem_responses(NotFound),
)
async def progress(
    cohort_id: uuid.UUID,
    session: SessionDep,
    actor: TrainingActor,
    cursor: CursorQuery = None,
    limit: LimitQuery = DEFAULT_LIMIT,
) -> Page[TraineeProgress]:
    """Per trainee: sessions attended, hours completed, attendance share."""
    async with session.begin():
        rows = await cohorts_service.progress(session, actor.principal, cohort_id)
    return listed_page(
        rows, key=lambda p: str(p.trainee_id), cursor=cursor, limit=limit
    )
