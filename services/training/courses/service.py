"""The course catalogue: readable by every programme, kept by its owner."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from services.training.courses.models import Course
from shared.auth import Principal
from shared.contracts.enums import CourseApproach, CourseLevel
from shared.contracts.text import Text
from shared.errors import Conflict, FieldError, Invalid, NotFound
from shared.pagination import Page, ordered_page
from shared.taxonomy.competency import competency_tools


class CourseCriteria(BaseModel):
    """Explicit, per-course rules: completion needs the attendance share and
    post-test score; certification also needs the competency level (with no
    harmful behaviour observed) and, for a course with supervised practice,
    the sessions facilitated, their mean fidelity and supervision hours."""

    model_config = ConfigDict(extra="forbid")

    min_attendance_share: float = Field(default=0.8, ge=0, le=1)
    min_post_test_score: float | None = Field(default=None, ge=0, le=100)
    min_competency_level: int | None = Field(default=None, ge=1, le=4)
    competency_tool: Text | None = Field(
        default=None,
        max_length=64,
        description="code@version from the competency tools.",
    )
    min_supervised_sessions: int | None = Field(
        default=None,
        ge=1,
        le=1000,
        description="Certification needs this many supervised practice "
        "sessions facilitated in the cohort's practice groups.",
    )
    min_mean_fidelity: float | None = Field(
        default=None,
        ge=0,
        le=100,
        description="Certification needs this mean adherence score over the "
        "fidelity reviews of those sessions (at least one review).",
    )
    min_supervision_hours: float | None = Field(
        default=None,
        gt=0,
        le=2000,
        description="Certification needs this many hours of clinical "
        "supervision received from the cohort's start.",
    )


class CourseCreate(BaseModel):
    """A course: approach, level, planned hours and what completing it requires."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "title": "IPT-G foundations",
                    "approach": "ipt_g",
                    "level": "foundational",
                    "planned_hours": 60,
                    "criteria": {"min_attendance_share": 0.8},
                }
            ]
        },
    )

    id: uuid.UUID | None = None
    title: Text = Field(min_length=2, max_length=200)
    approach: CourseApproach
    level: CourseLevel
    planned_hours: float = Field(gt=0, le=2000)
    target_competencies: list[Annotated[Text, Field(max_length=200)]] = Field(
        default_factory=list, max_length=50
    )
    criteria: CourseCriteria = Field(default_factory=CourseCriteria)


class CourseRead(BaseModel):
    """A course offered by an organisation."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "95f682b4-47a5-4444-8722-5a6736973ccf",
                    "organisation_id": "d0f635e4-8bb8-49d1-93cd-b0bde012f209",
                    "title": "Foundational IPT-G (10 days)",
                    "approach": "ipt_g",
                    "level": "foundational",
                    "planned_hours": 60.0,
                    "target_competencies": ["group facilitation", "problem areas"],
                    "criteria": {
                        "min_attendance_share": 0.8,
                        "min_post_test_score": None,
                        "min_competency_level": None,
                        "competency_tool": None,
                    },
                    "created_at": "2026-01-10T09:14:39.615115Z",
                }
            ]
        },
        from_attributes=True,
    )

    id: uuid.UUID
    organisation_id: uuid.UUID
    title: str
    approach: CourseApproach
    level: CourseLevel
    planned_hours: float
    target_competencies: list[str]
    criteria: CourseCriteria
    created_at: datetime


async def create_course(
    session: AsyncSession, principal: Principal, data: CourseCreate
) -> Course:
    course_id = data.id or uuid.uuid4()
    if await session.get(Course, course_id) is not None:
        raise Conflict("A course with this id exists already.")
    if data.criteria.competency_tool and (
        data.criteria.competency_tool not in competency_tools()
    ):
        raise Invalid(
            "Unknown competency tool.",
            errors=[
                FieldError(
                    loc=["body", "criteria", "competency_tool"],
                    msg="unknown",
                    type="unknown",
                )
            ],
        )
    course = Course(
        id=course_id,
        organisation_id=principal.organisation_id,
        created_by=principal.subject,
        **data.model_dump(exclude={"id", "criteria"}),
        criteria=data.criteria.model_dump(),
    )
    session.add(course)
    await session.flush()
    return course


async def get_course(session: AsyncSession, course_id: uuid.UUID) -> Course:
    course = await session.get(Course, course_id)
    if course is None:
        raise NotFound("No such course.")
    return course


async def list_courses(
    session: AsyncSession,
    level: CourseLevel | None,
    approach: CourseApproach | None,
    *,
    cursor: str | None,
    limit: int,
) -> Page[Course]:
    """The shared catalogue by title."""
    statement = select(Course)
    if level is not None:
        statement = statement.where(col(Course.level) == level)
    if approach is not None:
        statement = statement.where(col(Course.approach) == approach)
    return await ordered_page(
        session,
        statement,
        keys=[(col(Course.title), str)],
        cursor=cursor,
        limit=limit,
    )
