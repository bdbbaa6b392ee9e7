"""Training events (cohorts): enrolment, sessions and attendance, and each
trainee's hours and attendance share."""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import date
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from services.training.cohorts.models import (
    Attendance,
    Cohort,
    CohortEnrolment,
    CohortSession,
)
from services.training.courses import service as courses_service
from services.training.courses.models import Course
from services.training.db import OutboxEvent
from services.training.references import NamedProject, check_references
from services.training.trainees.models import Trainee
from shared.app import Runtime
from shared.auth import Principal
from shared.contracts.enums import TrainingModality
from shared.contracts.events import AttendanceFacts, EventType
from shared.contracts.text import Text
from shared.db import under
from shared.errors import (
    Conflict,
    FieldError,
    Invalid,
    PreconditionRequired,
    VersionConflict,
)
from shared.outbox import add_event
from shared.pagination import Page, ordered_page
from shared.scoping import get_in_scope

TopicCode = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z0-9_]{2,64}$"),
    Field(
        description="The session's topic as a code (suicide_prevention, "
        "parenting...): what reports count training by topic with."
    ),
]


class CohortCreate(BaseModel):
    """A group of trainees taking one course together."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "course_id": "2e53f332-4de7-450a-aeda-f960575bb1bc",
                    "title": "Duhok cohort 1",
                    "starts_on": "2026-03-01",
                    "ends_on": "2026-03-10",
                    "modality": "hybrid",
                    "location": "Duhok",
                }
            ]
        },
    )

    id: uuid.UUID | None = None
    course_id: uuid.UUID
    title: Text = Field(min_length=2, max_length=200)
    starts_on: date
    ends_on: date
    modality: TrainingModality
    location: Text | None = Field(default=None, max_length=200)
    site_id: uuid.UUID | None = Field(
        default=None,
        description="Where it is held: a site id of the beneficiary service's "
        "location list (reports count by site, district and governorate).",
    )
    partner_organisation_id: uuid.UUID | None = Field(
        default=None,
        description="The partner organisation the cohort trains for: an "
        "organisation of the beneficiary service's list (422 otherwise).",
    )
    project_id: uuid.UUID | None = Field(
        default=None,
        description="A project of the beneficiary service (GET /v1/projects "
        "there) your organisation leads or is a listed partner in, whose "
        "period overlaps the cohort's dates; checked there when the cohort "
        "is created (422 otherwise, another organisation's project "
        "included; 503 while that service is down).",
    )
    facilitator_trainee_ids: list[uuid.UUID] = Field(
        default_factory=list, max_length=20
    )

    @model_validator(mode="after")
    def _dates(self) -> CohortCreate:
        if self.ends_on < self.starts_on:
            raise ValueError("ends_on is before starts_on")
        return self


class CohortSessionCreate(BaseModel):
    """One session of a cohort: date, hours and topic."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"number": 1, "held_on": "2026-01-05", "hours": 6}]
        },
        extra="forbid",
    )

    number: int = Field(ge=1, le=500)
    held_on: date
    hours: float = Field(gt=0, le=24)
    topic: Text | None = Field(default=None, max_length=200)
    topic_code: TopicCode | None = None


class EnrolmentWrite(BaseModel):
    """Trainees to enrol in a cohort; enrolling someone twice changes nothing."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "trainee_ids": [
                        "0b6f1c1e-6a3f-4f55-9d8e-2f1f7c9d4a10",
                        "5d2e8a44-91b7-4c1a-8f0e-7b3c2a6d9e21",
                    ]
                }
            ]
        },
    )

    trainee_ids: list[uuid.UUID] = Field(max_length=1000)


class AttendanceWrite(BaseModel):
    """Who was present; every other enrolled trainee is marked absent."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"present": ["5e6e4556-eb83-4291-8485-5aad2ebb73cf"]}]
        },
        extra="forbid",
    )

    present: list[uuid.UUID] = Field(max_length=1000)


class AttendanceRead(BaseModel):
    """Who was present at a training session; the version guards later changes."""

    present: list[uuid.UUID] = Field(description="Everyone else enrolled: absent.")
    version: int = Field(description="Send it back as If-Match to change it.")


class TraineeProgress(BaseModel):
    """A trainee's attendance in a cohort so far."""

    trainee_id: uuid.UUID
    sessions_attended: int
    hours_completed: float
    attendance_share: float


class CohortRead(BaseModel):
    """A cohort with its enrolment and sessions so far."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "dd175b34-d2c0-4834-9ca2-21dd075695d5",
                    "course_id": "701a46b1-ce06-421b-ab75-3713dc69a9c2",
                    "title": "Foundational IPT-G, Duhok, March 2026",
                    "starts_on": "2026-03-01",
                    "ends_on": "2026-03-03",
                    "modality": "online",
                    "location": None,
                    "site_id": None,
                    "partner_organisation_id": None,
                    "project_id": None,
                    "facilitator_trainee_ids": [],
                    "enrolled": 1,
                    "sessions": 1,
                    "hours_delivered": 2.0,
                }
            ]
        }
    )

    id: uuid.UUID
    course_id: uuid.UUID
    title: str
    starts_on: date
    ends_on: date
    modality: TrainingModality
    location: str | None
    site_id: uuid.UUID | None
    partner_organisation_id: uuid.UUID | None
    project_id: uuid.UUID | None
    facilitator_trainee_ids: list[uuid.UUID]
    enrolled: int
    sessions: int
    hours_delivered: float


async def create_cohort(
    session: AsyncSession, principal: Principal, runtime: Runtime, data: CohortCreate
) -> Cohort:
    """A cohort of a course; its partner organisation and project, when
    named, are checked at the beneficiary service (``references``)."""
    await courses_service.get_course(session, data.course_id)
    await own_trainees(
        session, principal, data.facilitator_trainee_ids, "facilitator_trainee_ids"
    )
    cohort_id = data.id or uuid.uuid4()
    if await session.get(Cohort, (principal.organisation_id, cohort_id)) is not None:
        raise Conflict("A cohort with this id exists already.")
    await check_references(
        runtime,
        principal.organisation_id,
        organisations=[
            (["body", "partner_organisation_id"], data.partner_organisation_id)
        ],
        project=NamedProject(
            ["body", "project_id"], data.project_id, data.starts_on, data.ends_on
        ),
    )
    cohort = Cohort(
        id=cohort_id,
        organisation_id=principal.organisation_id,
        created_by=principal.subject,
        **data.model_dump(exclude={"id", "facilitator_trainee_ids"}),
        facilitator_trainee_ids=[str(t) for t in data.facilitator_trainee_ids],
    )
    session.add(cohort)
    await session.flush()
    return cohort


async def get_cohort(
    session: AsyncSession,
    principal: Principal,
    cohort_id: uuid.UUID,
    *,
    lock: bool = False,
) -> Cohort:
    return await get_in_scope(
        session, principal, Cohort, cohort_id, what="cohort", for_update=lock
    )


async def list_cohorts(
    session: AsyncSession,
    principal: Principal,
    *,
    course_id: uuid.UUID | None,
    start: date | None,
    end: date | None,
    cursor: str | None,
    limit: int,
) -> Page[Cohort]:
    """The organisation's cohorts, the latest to start first; with a period,
    those that run on at least one of its days."""
    statement = select(Cohort).where(
        col(Cohort.organisation_id) == principal.organisation_id
    )
    if course_id is not None:
        statement = statement.where(col(Cohort.course_id) == course_id)
    if start is not None:
        statement = statement.where(col(Cohort.ends_on) >= start)
    if end is not None:
        statement = statement.where(col(Cohort.starts_on) <= end)
    return await ordered_page(
        session,
        statement,
        keys=[(col(Cohort.starts_on), date.fromisoformat)],
        cursor=cursor,
        limit=limit,
        descending=True,
    )


async def enrol(
    session: AsyncSession,
    principal: Principal,
    cohort_id: uuid.UUID,
    trainee_ids: list[uuid.UUID],
) -> Cohort:
    """Enrol trainees of the caller's organisation; enrolling twice is a no-op."""
    cohort = await get_cohort(session, principal, cohort_id, lock=True)
    await own_trainees(session, principal, trainee_ids, "trainee_ids")
    enrolled = await enrolled_trainees(session, cohort)
    for trainee_id in dict.fromkeys(trainee_ids):
        if trainee_id not in enrolled:
            session.add(
                CohortEnrolment(
                    organisation_id=cohort.organisation_id,
                    cohort_id=cohort.id,
                    trainee_id=trainee_id,
                )
            )
    await session.flush()
    return cohort


async def add_session(
    session: AsyncSession,
    principal: Principal,
    cohort_id: uuid.UUID,
    data: CohortSessionCreate,
) -> CohortSession:
    cohort = await get_cohort(session, principal, cohort_id, lock=True)
    if not cohort.starts_on <= data.held_on <= cohort.ends_on:
        raise Invalid(
            "The session is outside the cohort's dates.",
            errors=[
                FieldError(loc=["body", "held_on"], msg="outside dates", type="date")
            ],
        )
    taken = await session.execute(
        select(col(CohortSession.id)).where(
            under(col(CohortSession.cohort_id), cohort),
            col(CohortSession.number) == data.number,
        )
    )
    if taken.first() is not None:
        raise Conflict(f"Session {data.number} exists already.")
    row = CohortSession(
        organisation_id=cohort.organisation_id,
        cohort_id=cohort.id,
        **data.model_dump(),
    )
    session.add(row)
    await session.flush()
    return row


async def get_session(
    session: AsyncSession,
    cohort: Cohort,
    number: int,
    loc: tuple[str | int, ...] = ("path", "number"),
) -> CohortSession:
    """Session ``number`` of the cohort, else a 422 at ``loc``."""
    held = (
        await session.execute(
            select(CohortSession).where(
                under(col(CohortSession.cohort_id), cohort),
                col(CohortSession.number) == number,
            )
        )
    ).scalar_one_or_none()
    if held is None:
        raise Invalid.field(
            list(loc),
            "unknown session",
            "session",
            f"The cohort has no session {number}.",
        )
    return held


async def _attendance(session: AsyncSession, held: CohortSession) -> AttendanceRead:
    present = await session.execute(
        select(col(Attendance.trainee_id))
        .where(
            col(Attendance.session_id) == held.id,
            col(Attendance.present).is_(True),
        )
        .order_by(col(Attendance.trainee_id))
    )
    return AttendanceRead(
        present=list(present.scalars()), version=held.attendance_version
    )


async def get_attendance(
    session: AsyncSession, principal: Principal, cohort_id: uuid.UUID, number: int
) -> AttendanceRead:
    cohort = await get_cohort(session, principal, cohort_id)
    return await _attendance(session, await get_session(session, cohort, number))


async def record_attendance(
    session: AsyncSession,
    principal: Principal,
    cohort_id: uuid.UUID,
    number: int,
    data: AttendanceWrite,
    expected_version: int | None,
) -> int:
    """Set who attended a session (replacing any earlier list), with one
    event per trainee whose attendance changed; returns the attendance's
    version. Changing recorded attendance needs the version it was read at
    (If-Match): an old or repeated request must not undo a newer one."""
    cohort = await get_cohort(session, principal, cohort_id, lock=True)
    held = await get_session(session, cohort, number)
    if expected_version is None and held.attendance_version > 0:
        raise PreconditionRequired(
            "This session's attendance is recorded already: send If-Match with "
            "the version you are changing (the ETag of GET .../attendance)."
        )
    if expected_version is not None and expected_version != held.attendance_version:
        current = await _attendance(session, held)
        raise VersionConflict(
            f"You changed version {expected_version} of this attendance; the "
            f"server has version {held.attendance_version}.",
            current=current.model_dump(mode="json"),
        )
    course = await courses_service.get_course(session, cohort.course_id)
    enrolled = await enrolled_trainees(session, cohort)
    strangers = [t for t in data.present if t not in enrolled]
    if strangers:
        raise Invalid(
            "Some trainees are not enrolled in this cohort.",
            errors=[
                FieldError(
                    loc=["body", "present", data.present.index(t)],
                    msg="not enrolled",
                    type="enrolment",
                )
                for t in strangers
            ],
        )
    earlier = {
        a.trainee_id: a
        for a in (
            await session.execute(
                select(Attendance).where(col(Attendance.session_id) == held.id)
            )
        ).scalars()
    }
    present = set(data.present)
    changed = False
    for trainee_id in sorted(enrolled):
        now_present = trainee_id in present
        row = earlier.get(trainee_id)
        if row is not None and row.present == now_present:
            continue
        changed = True
        if row is None:
            session.add(
                Attendance(
                    organisation_id=held.organisation_id,
                    session_id=held.id,
                    trainee_id=trainee_id,
                    present=now_present,
                )
            )
        else:
            row.present = now_present
        add_event(
            session,
            OutboxEvent,
            type=EventType.attendance_recorded,
            organisation_id=cohort.organisation_id,
            entity_type="cohort",
            entity_id=cohort.id,
            facts=AttendanceFacts(
                cohort_id=cohort.id,
                session_id=held.id,
                trainee_id=trainee_id,
                organisation_id=cohort.organisation_id,
                held_on=held.held_on,
                hours=held.hours,
                present=now_present,
                **training_dimensions(course, cohort, held),
                project_id=cohort.project_id,
            ),
        )
    if changed or held.attendance_version == 0:
        held.attendance_version += 1
    await session.flush()
    return held.attendance_version


def training_dimensions(
    course: Course, cohort: Cohort, held: CohortSession
) -> dict[str, Any]:
    """What reports break an attendance down by: the course and how it was
    given, where, on which topic, with which partner (codes and ids only)."""
    return {
        "course_id": course.id,
        "course_approach": course.approach,
        "course_level": course.level,
        "modality": cohort.modality.value,
        "site_id": cohort.site_id,
        "topic_code": held.topic_code,
        "partner_organisation_id": cohort.partner_organisation_id,
    }


async def progress(
    session: AsyncSession, principal: Principal, cohort_id: uuid.UUID
) -> list[TraineeProgress]:
    """Per enrolled trainee: sessions attended, hours completed, share."""
    cohort = await get_cohort(session, principal, cohort_id)
    sessions = list(
        (
            await session.execute(
                select(CohortSession).where(under(col(CohortSession.cohort_id), cohort))
            )
        ).scalars()
    )
    hours = {s.id: s.hours for s in sessions}
    attended: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
    if sessions:
        rows = await session.execute(
            select(Attendance).where(
                col(Attendance.session_id).in_(list(hours)),
                col(Attendance.present).is_(True),
            )
        )
        for a in rows.scalars():
            attended[a.trainee_id].append(a.session_id)
    return [
        TraineeProgress(
            trainee_id=t,
            sessions_attended=len(attended[t]),
            hours_completed=round(sum(hours[s] for s in attended[t]), 2),
            attendance_share=round(len(attended[t]) / len(sessions), 3)
            if sessions
            else 0.0,
        )
        for t in sorted(await enrolled_trainees(session, cohort))
    ]


async def to_read(session: AsyncSession, cohort: Cohort) -> CohortRead:
    sessions = list(
        (
            await session.execute(
                select(CohortSession).where(under(col(CohortSession.cohort_id), cohort))
            )
        ).scalars()
    )
    return CohortRead(
        id=cohort.id,
        course_id=cohort.course_id,
        title=cohort.title,
        starts_on=cohort.starts_on,
        ends_on=cohort.ends_on,
        modality=cohort.modality,
        location=cohort.location,
        site_id=cohort.site_id,
        partner_organisation_id=cohort.partner_organisation_id,
        project_id=cohort.project_id,
        facilitator_trainee_ids=[uuid.UUID(t) for t in cohort.facilitator_trainee_ids],
        enrolled=len(await enrolled_trainees(session, cohort)),
        sessions=len(sessions),
        hours_delivered=round(sum(s.hours for s in sessions), 2),
    )


async def enrolled_trainees(session: AsyncSession, cohort: Cohort) -> set[uuid.UUID]:
    rows = await session.execute(
        select(col(CohortEnrolment.trainee_id)).where(
            under(col(CohortEnrolment.cohort_id), cohort)
        )
    )
    return set(rows.scalars())


async def own_trainees(
    session: AsyncSession, principal: Principal, ids: list[uuid.UUID], field: str
) -> None:
    if not ids:
        return
    found = set(
        (
            await session.execute(
                select(col(Trainee.id)).where(
                    col(Trainee.id).in_(ids),
                    col(Trainee.organisation_id) == principal.organisation_id,
                )
            )
        ).scalars()
    )
    unknown = [i for i in ids if i not in found]
    if unknown:
        raise Invalid(
            "Some trainees are not trainees of your organisation.",
            errors=[
                FieldError(
                    loc=["body", field, ids.index(i)],
                    msg="unknown trainee",
                    type="trainee",
                )
                for i in unknown
            ],
        )
