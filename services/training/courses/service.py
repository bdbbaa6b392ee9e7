"""The course catalogue: readable by every programme, kept by its owner."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from services.training.courses.models import Course
from shared.auth import Principal
from shared.contracts.enums import CourseApproach, CourseLevel
from shared.errors import Conflict, NotFound


class CourseCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: uuid.UUID | None = None
    title: str = Field(min_length=2, max_length=200)
    approach: CourseApproach
    level: CourseLevel
    planned_hours: float = Field(gt=0, le=2000)
    target_competencies: list[str] = Field(default_factory=list, max_length=50)


class CourseRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    organisation_id: uuid.UUID
    title: str
    approach: CourseApproach
    level: CourseLevel
    planned_hours: float
    target_competencies: list[str]
    created_at: datetime


async def create_course(
    session: AsyncSession, principal: Principal, data: CourseCreate
) -> Course:
    course_id = data.id or uuid.uuid4()
    if await session.get(Course, course_id) is not None:
        raise Conflict("A course with this id exists already.")
    course = Course(
        id=course_id,
        organisation_id=principal.organisation_id,
        created_by=principal.subject,
        **data.model_dump(exclude={"id"}),
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
    session: AsyncSession, level: CourseLevel | None, approach: CourseApproach | None
) -> list[Course]:
    statement = select(Course).order_by(col(Course.title))
    if level is not None:
        statement = statement.where(col(Course.level) == level)
    if approach is not None:
        statement = statement.where(col(Course.approach) == approach)
    return list((await session.execute(statement)).scalars())
