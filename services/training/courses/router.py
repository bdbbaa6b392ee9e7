"""HTTP API for the course catalogue: trainers and programme managers add
courses, and any signed-in caller may list and read them.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from services.training.access import CourseKeeper
from services.training.courses import service as courses_service
from services.training.courses.models import Course
from services.training.courses.service import CourseCreate, CourseRead
from services.training.db import OnceDep
from shared.auth import PrincipalDep
from shared.contracts.enums import CourseApproach, CourseLevel
from shared.db import SessionDep
from shared.errors import Conflict, Invalid, NotFound, problem_responses
from shared.pagination import DEFAULT_LIMIT, CursorQuery, LimitQuery, Page

router = APIRouter(prefix="/v1/courses", tags=["courses"])


@router.post(
    "",
    status_code=201,
    response_model=CourseRead,
    responses=problem_responses(Conflict, Invalid),
)
async def create_course(
    body: CourseCreate,
    session: SessionDep,
    principal: CourseKeeper,
    once: OnceDep,
) -> CourseRead:
    """Create a course with its approach, level, hours and completion criteria."""

    async def render(course: Course) -> CourseRead:
        return CourseRead.model_validate(course)

    return await once.answer(
        principal,
        "POST /v1/courses",
        body,
        lambda: courses_service.create_course(session, principal, body),
        lambda existing: courses_service.get_course(session, existing),
        render,
        audit=None,  # no person's record: the catalogue holds no personal data
    )


@router.get("", response_model=Page[CourseRead])
async def list_courses(
    session: SessionDep,
    _: PrincipalDep,
    level: CourseLevel | None = None,
    approach: CourseApproach | None = None,
    cursor: CursorQuery = None,
    limit: LimitQuery = DEFAULT_LIMIT,
) -> Page[CourseRead]:
    """The shared catalogue of curricula (no personal data)."""
    async with session.begin():
        page = await courses_service.list_courses(
            session, level, approach, cursor=cursor, limit=limit
        )
    return page.map(CourseRead.model_validate)


@router.get(
    "/{course_id}", response_model=CourseRead, responses=problem_responses(NotFound)
)
async def get_course(
    course_id: uuid.UUID, session: SessionDep, _: PrincipalDep
) -> CourseRead:
    """One course of the organisation."""
    async with session.begin():
        return CourseRead.model_validate(
            await courses_service.get_course(session, course_id)
        )
