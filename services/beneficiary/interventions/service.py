"""Enrolment in structured interventions: sessions attended against the
protocol, dose, completion by the intervention's rule, drop-out, and the
follow-up windows for outcome measures."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import and_, delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from services.beneficiary.beneficiaries import service as beneficiaries_service
from services.beneficiary.beneficiaries.schemas import RecordDate
from services.beneficiary.cases import service as cases_service
from services.beneficiary.db import OutboxEvent
from services.beneficiary.interventions.models import Enrolment, SessionAttendance
from services.beneficiary.protection.grants import service as grants
from services.beneficiary.service_records import service as records_service
from services.beneficiary.service_records.models import GroupActivity, ServiceRecord
from services.beneficiary.service_records.schemas import (
    GroupActivityCreate,
    ServiceRecordCreate,
)
from shared.auth import Principal
from shared.contracts.enums import (
    ConsentPurpose,
    EnrolmentStatus,
    Modality,
    ProblemArea,
)
from shared.contracts.events import EnrolmentFacts, EnrolmentSession, EventType
from shared.contracts.text import Text
from shared.errors import Conflict, FieldError, Invalid
from shared.outbox import add_event
from shared.pagination import Page, ordered_page
from shared.scoping import get_in_scope
from shared.taxonomy.interventions import (
    Intervention,
    get_intervention,
    interventions,
)


class EnrolmentCreate(BaseModel):
    """A person enrolled in a structured intervention such as PM+ or Group IPT."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "beneficiary_id": "81bb90a8-efe9-49dc-ae33-a9fddce37fce",
                    "intervention": "pm_plus",
                    "enrolled_on": "2026-02-01",
                }
            ]
        },
    )

    id: uuid.UUID | None = None
    beneficiary_id: uuid.UUID
    intervention: str = Field(pattern=r"^[a-z0-9_]{2,32}$")
    version: Text | None = Field(default=None, max_length=16)
    case_id: uuid.UUID | None = None
    enrolled_on: RecordDate
    problem_area: ProblemArea | None = Field(
        default=None,
        description="For interpersonal therapy (IPT): the problem area the "
        "client works on.",
    )


class SessionAttended(BaseModel):
    """An individual session is recorded here; a group session points at the
    group activity whose attendance list already counts the person."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"session_number": 1, "attended_on": "2026-02-02"}]
        },
        extra="forbid",
    )

    session_number: int = Field(ge=0, le=100)
    attended_on: RecordDate | None = None
    modality: Modality = Modality.in_person
    duration_minutes: int | None = Field(default=None, ge=1, le=600)
    group_activity_id: uuid.UUID | None = None


class EndedOn(BaseModel):
    """The date an enrolment finished or was dropped."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"on": "2026-03-05"}]}, extra="forbid"
    )

    on: RecordDate


class Window(BaseModel):
    """When a follow-up is due."""

    name: str
    opens_on: date
    closes_on: date


class EnrolmentRead(BaseModel):
    """An enrolment with its dose, status and the next session due."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "12e00026-1808-431b-b59b-3901405c6329",
                    "beneficiary_id": "5d163806-d7e5-4cb4-ace6-1db73cbf94eb",
                    "case_id": None,
                    "intervention": "pm_plus@1.0",
                    "problem_area": None,
                    "enrolled_on": "2026-02-01",
                    "status": "enrolled",
                    "status_on": "2026-02-01",
                    "sessions_planned": 5,
                    "sessions_attended": [],
                    "dose": 0.0,
                    "completed": False,
                    "next_session": 1,
                    "follow_up_windows": [],
                    "version": 2,
                }
            ]
        }
    )

    id: uuid.UUID
    beneficiary_id: uuid.UUID
    case_id: uuid.UUID | None
    intervention: str
    enrolled_on: date
    status: EnrolmentStatus
    status_on: date
    problem_area: ProblemArea | None
    sessions_planned: int
    sessions_attended: list[int]
    dose: float = Field(description="Share of the protocol's sessions attended.")
    completed: bool = Field(description="Dose reaches the intervention's rule.")
    next_session: int | None
    follow_up_windows: list[Window]
    version: int


async def enrol(
    session: AsyncSession, principal: Principal, data: EnrolmentCreate
) -> Enrolment:
    beneficiary = await beneficiaries_service.lock_consenting(
        session,
        principal,
        data.beneficiary_id,
        ConsentPurpose.registration,
        ConsentPurpose.services,
    )
    intervention = get_intervention(data.intervention, data.version)
    if intervention is None:
        raise Invalid(
            "Unknown intervention or version.",
            errors=[
                FieldError(loc=["body", "intervention"], msg="unknown", type="unknown")
            ],
        )
    if data.case_id is not None:
        case = await cases_service.get_case(session, principal, data.case_id)
        if case.beneficiary_id != beneficiary.id:
            raise Invalid(
                "The case belongs to someone else.",
                errors=[
                    FieldError(loc=["body", "case_id"], msg="other person", type="case")
                ],
            )
    running = await session.execute(
        select(col(Enrolment.id)).where(
            col(Enrolment.organisation_id) == beneficiary.organisation_id,
            col(Enrolment.beneficiary_id) == beneficiary.id,
            col(Enrolment.intervention) == intervention.key,
            col(Enrolment.status) == EnrolmentStatus.enrolled,
        )
    )
    if running.first() is not None:
        raise Conflict("This person is already enrolled in this intervention.")
    enrolment = Enrolment(
        id=data.id or uuid.uuid4(),
        organisation_id=principal.organisation_id,
        beneficiary_id=beneficiary.id,
        case_id=data.case_id,
        site_id=beneficiary.site_id,
        intervention=intervention.key,
        enrolled_on=data.enrolled_on,
        status_on=data.enrolled_on,
        problem_area=data.problem_area,
        created_by=principal.subject,
    )
    session.add(enrolment)
    await session.flush()
    await _emit(session, enrolment)
    return enrolment


async def get_enrolment(
    session: AsyncSession,
    principal: Principal,
    enrolment_id: uuid.UUID,
    *,
    for_update: bool = False,
) -> Enrolment:
    return await get_in_scope(
        session,
        principal,
        Enrolment,
        enrolment_id,
        what="enrolment",
        for_update=for_update,
        beyond_sites=grants.granted,
        team_of=beneficiaries_service.team_of,
    )


async def list_enrolments(
    session: AsyncSession,
    principal: Principal,
    *,
    beneficiary_id: uuid.UUID | None,
    case_id: uuid.UUID | None,
    status: EnrolmentStatus | None,
    cursor: str | None,
    limit: int,
) -> Page[Enrolment]:
    """Enrolments in the caller's scope (a break-the-glass grant widens it
    for its person), the latest enrolled first."""
    principal = await grants.listing_scope(session, principal, beneficiary_id)
    statement = select(Enrolment).where(
        col(Enrolment.organisation_id) == principal.organisation_id
    )
    if principal.site_ids is not None:
        statement = statement.where(col(Enrolment.site_id).in_(principal.site_ids))
    statement = beneficiaries_service.in_team(statement, principal, Enrolment)
    if beneficiary_id is not None:
        statement = statement.where(col(Enrolment.beneficiary_id) == beneficiary_id)
    if case_id is not None:
        statement = statement.where(col(Enrolment.case_id) == case_id)
    if status is not None:
        statement = statement.where(col(Enrolment.status) == status)
    return await ordered_page(
        session,
        statement,
        keys=[(col(Enrolment.enrolled_on), date.fromisoformat)],
        cursor=cursor,
        limit=limit,
        descending=True,
    )


async def attend_session(
    session: AsyncSession,
    principal: Principal,
    enrolment_id: uuid.UUID,
    data: SessionAttended,
) -> Enrolment:
    """Mark a protocol session attended, counted by exactly one service
    record: a new one for an individual session, the group's for a group one."""
    enrolment = await get_enrolment(session, principal, enrolment_id, for_update=True)
    if enrolment.status != EnrolmentStatus.enrolled:
        raise Conflict(f"The enrolment is {enrolment.status}.")
    intervention = _definition(enrolment)
    protocol_session = intervention.session(data.session_number)
    if protocol_session is None:
        raise Invalid(
            f"{intervention.name} has no session {data.session_number}.",
            errors=[
                FieldError(
                    loc=["body", "session_number"],
                    msg="not in protocol",
                    type="session",
                )
            ],
        )
    earlier = (
        await session.execute(
            select(SessionAttendance, col(ServiceRecord.voided))
            .join(ServiceRecord, _counted_by)
            .where(
                col(SessionAttendance.organisation_id) == enrolment.organisation_id,
                col(SessionAttendance.enrolment_id) == enrolment.id,
                col(SessionAttendance.session_number) == data.session_number,
            )
        )
    ).first()
    if earlier is not None:
        attendance, voided = earlier
        if not voided:
            raise Conflict(f"Session {data.session_number} is recorded already.")
        await session.delete(attendance)  # its record was voided: enter it again
        await session.flush()
    if intervention.is_group_session(data.session_number):
        record = await _group_record(
            session, principal, enrolment, data, protocol_session.activity
        )
    else:
        if data.attended_on is None:
            raise Invalid(
                "An individual session needs attended_on.",
                errors=[
                    FieldError(
                        loc=["body", "attended_on"], msg="required", type="missing"
                    )
                ],
            )
        record = await records_service.record_service(
            session,
            principal,
            ServiceRecordCreate(
                beneficiary_id=enrolment.beneficiary_id,
                activity_code=protocol_session.activity,
                service_date=data.attended_on,
                site_id=enrolment.site_id,
                modality=data.modality,
                staff_id=principal.subject[:100],
                duration_minutes=data.duration_minutes,
            ),
        )
    if record.service_date < enrolment.enrolled_on:
        raise Invalid(
            "The session is before the enrolment.",
            errors=[
                FieldError(
                    loc=["body", "attended_on"], msg="before enrolled_on", type="date"
                )
            ],
        )
    await _count(session, enrolment, intervention, data.session_number, record)
    return enrolment


async def _count(
    session: AsyncSession,
    enrolment: Enrolment,
    intervention: Intervention,
    number: int,
    record: ServiceRecord,
) -> None:
    """Protocol session ``number`` attended, counted by ``record``; the
    enrolment finishes when every session is attended."""
    session.add(
        SessionAttendance(
            organisation_id=enrolment.organisation_id,
            enrolment_id=enrolment.id,
            session_number=number,
            attended_on=record.service_date,
            service_record_id=record.id,
        )
    )
    enrolment.version += 1
    await session.flush()
    if set(await _attended(session, enrolment)) >= {
        s.number for s in intervention.sessions
    }:
        enrolment.status = EnrolmentStatus.finished
        enrolment.status_on = record.service_date
    await _emit(session, enrolment)


async def record_group_activity(
    session: AsyncSession, principal: Principal, data: GroupActivityCreate
) -> GroupActivity:
    """The one way a group activity is written (the API and sync): the
    records of its attendees, then, for a protocol session, their enrolments
    following it."""
    group = await records_service.record_group_activity(session, principal, data)
    if data.protocol_session is not None:
        await follow_group_session(session, group, data.protocol_session)
    return group


async def follow_group_session(
    session: AsyncSession, group: GroupActivity, number: int
) -> int:
    """A group session recorded as protocol session ``number``: each
    registered attendee's running enrolment whose intervention holds that
    group session of the group's activity counts it (once, through the
    attendee's record in the group); how many enrolments followed."""
    holding = [
        i
        for i in interventions().values()
        if i.is_group_session(number)
        and (found := i.session(number)) is not None
        and found.activity == group.activity_code
    ]
    if not holding:
        raise Invalid.field(
            ["body", "protocol_session"],
            "not in any protocol",
            "session",
            f"No intervention has a group session {number} of {group.activity_code}.",
        )
    records = {
        r.beneficiary_id: r
        for r in (
            await session.execute(
                select(ServiceRecord).where(
                    col(ServiceRecord.organisation_id) == group.organisation_id,
                    col(ServiceRecord.group_activity_id) == group.id,
                    col(ServiceRecord.voided).is_(False),
                )
            )
        ).scalars()
    }
    if not records:
        return 0
    running = await session.execute(
        select(Enrolment)
        .where(
            col(Enrolment.organisation_id) == group.organisation_id,
            col(Enrolment.beneficiary_id).in_(list(records)),
            col(Enrolment.intervention).in_([i.key for i in holding]),
            col(Enrolment.status) == EnrolmentStatus.enrolled,
            col(Enrolment.enrolled_on) <= group.activity_date,
        )
        .order_by(col(Enrolment.id))
        .with_for_update()
    )
    counting = set(
        (
            await session.execute(
                select(col(SessionAttendance.service_record_id)).where(
                    col(SessionAttendance.organisation_id) == group.organisation_id,
                    col(SessionAttendance.service_record_id).in_(
                        [r.id for r in records.values()]
                    ),
                )
            )
        ).scalars()
    )
    enrolments = running.scalars().all()
    attended = set(  # the enrolments that count this session already
        (
            await session.execute(
                select(col(SessionAttendance.enrolment_id))
                .join(ServiceRecord, _counted_by)
                .where(
                    col(SessionAttendance.organisation_id) == group.organisation_id,
                    col(SessionAttendance.enrolment_id).in_([e.id for e in enrolments]),
                    col(SessionAttendance.session_number) == number,
                    col(ServiceRecord.voided).is_(False),
                )
            )
        ).scalars()
    )
    followed = 0
    for enrolment in enrolments:
        record = records[enrolment.beneficiary_id]
        if record.id in counting or enrolment.id in attended:
            continue  # counted already, by this record or another session
        await session.execute(  # a session whose record was voided: again
            delete(SessionAttendance).where(
                col(SessionAttendance.organisation_id) == enrolment.organisation_id,
                col(SessionAttendance.enrolment_id) == enrolment.id,
                col(SessionAttendance.session_number) == number,
            )
        )
        counting.add(record.id)
        await _count(
            session,
            enrolment,
            _definition(enrolment),
            number,
            record,
        )
        followed += 1
    return followed


async def close_enrolment(
    session: AsyncSession,
    principal: Principal,
    enrolment_id: uuid.UUID,
    status: EnrolmentStatus,
    on: date,
) -> Enrolment:
    """End an enrolment: ``finished`` when the protocol is over (completion is
    judged by the dose against the rule, not by this) or ``dropped_out``."""
    enrolment = await get_enrolment(session, principal, enrolment_id, for_update=True)
    if enrolment.status != EnrolmentStatus.enrolled:
        raise Conflict(f"The enrolment is {enrolment.status}.")
    if on < enrolment.enrolled_on:
        raise Invalid(
            "The date is before the enrolment.",
            errors=[
                FieldError(loc=["body", "on"], msg="before enrolled_on", type="date")
            ],
        )
    enrolment.status = status
    enrolment.status_on = on
    enrolment.version += 1
    await session.flush()
    await _emit(session, enrolment)
    return enrolment


async def to_read(session: AsyncSession, enrolment: Enrolment) -> EnrolmentRead:
    intervention = _definition(enrolment)
    attended = await _attended(session, enrolment)
    planned = len(intervention.sessions)
    dose = round(len(attended) / planned, 3)
    remaining = [s.number for s in intervention.sessions if s.number not in attended]
    last = max(attended.values(), default=None)
    windows = (
        [
            Window(
                name=w.name,
                opens_on=last + timedelta(days=w.from_days),
                closes_on=last + timedelta(days=w.to_days),
            )
            for w in intervention.follow_up_windows
        ]
        if last is not None and enrolment.status != EnrolmentStatus.enrolled
        else []
    )
    return EnrolmentRead(
        id=enrolment.id,
        beneficiary_id=enrolment.beneficiary_id,
        case_id=enrolment.case_id,
        intervention=enrolment.intervention,
        enrolled_on=enrolment.enrolled_on,
        status=enrolment.status,
        status_on=enrolment.status_on,
        problem_area=(
            ProblemArea(enrolment.problem_area) if enrolment.problem_area else None
        ),
        sessions_planned=planned,
        sessions_attended=sorted(attended),
        dose=dose,
        completed=dose >= intervention.completion.min_share,
        next_session=remaining[0]
        if remaining and enrolment.status == EnrolmentStatus.enrolled
        else None,
        follow_up_windows=windows,
        version=enrolment.version,
    )


def _definition(enrolment: Enrolment) -> Intervention:
    code, _, version = enrolment.intervention.partition("@")
    intervention = get_intervention(code, version)
    assert intervention is not None, f"definition {enrolment.intervention} removed"
    return intervention


_counted_by = and_(
    col(ServiceRecord.organisation_id) == col(SessionAttendance.organisation_id),
    col(ServiceRecord.id) == col(SessionAttendance.service_record_id),
)
"""A session attendance's service record (of the same organisation)."""


async def _attended(session: AsyncSession, enrolment: Enrolment) -> dict[int, date]:
    rows = await session.execute(
        select(
            col(SessionAttendance.session_number), col(SessionAttendance.attended_on)
        )
        .join(ServiceRecord, _counted_by)
        .where(
            col(SessionAttendance.organisation_id) == enrolment.organisation_id,
            col(SessionAttendance.enrolment_id) == enrolment.id,
            col(ServiceRecord.voided).is_(False),
        )
    )
    return dict(rows.all())


async def _group_record(
    session: AsyncSession,
    principal: Principal,
    enrolment: Enrolment,
    data: SessionAttended,
    activity: str,
) -> ServiceRecord:
    """The person's record in that group session's attendance list."""
    if data.group_activity_id is None:
        raise Invalid(
            "A group session is recorded as a group activity; give its id.",
            errors=[
                FieldError(
                    loc=["body", "group_activity_id"], msg="required", type="missing"
                )
            ],
        )
    group = await records_service.get_group_activity(
        session, principal, data.group_activity_id
    )
    record = (
        await session.execute(
            select(ServiceRecord).where(
                col(ServiceRecord.organisation_id) == group.organisation_id,
                col(ServiceRecord.group_activity_id) == group.id,
                col(ServiceRecord.beneficiary_id) == enrolment.beneficiary_id,
                col(ServiceRecord.voided).is_(False),
            )
        )
    ).scalar_one_or_none()
    if record is None or group.activity_code != activity:
        raise Invalid(
            "The person is not on that group session's attendance list, or the "
            f"group's activity is not {activity}.",
            errors=[
                FieldError(
                    loc=["body", "group_activity_id"],
                    msg="not attended",
                    type="attendance",
                )
            ],
        )
    return record


async def record_voided(session: AsyncSession, record: ServiceRecord) -> None:
    """A voided service record takes its protocol session away: the
    enrolment it counted for is sent again as it now stands."""
    enrolment = (
        await session.execute(
            select(Enrolment)
            .join(
                SessionAttendance,
                and_(
                    col(SessionAttendance.organisation_id)
                    == col(Enrolment.organisation_id),
                    col(SessionAttendance.enrolment_id) == col(Enrolment.id),
                ),
            )
            .where(
                col(SessionAttendance.organisation_id) == record.organisation_id,
                col(SessionAttendance.service_record_id) == record.id,
            )
            .with_for_update()
        )
    ).scalar_one_or_none()
    if enrolment is not None:
        await _emit(session, enrolment)


async def _emit(session: AsyncSession, enrolment: Enrolment) -> None:
    read = await to_read(session, enrolment)
    attended = await _attended(session, enrolment)
    add_event(
        session,
        OutboxEvent,
        type=EventType.enrolment_updated,
        organisation_id=enrolment.organisation_id,
        entity_type="enrolment",
        entity_id=enrolment.id,
        facts=EnrolmentFacts(
            enrolment_id=enrolment.id,
            beneficiary_id=enrolment.beneficiary_id,
            organisation_id=enrolment.organisation_id,
            intervention=enrolment.intervention,
            status=enrolment.status,
            sessions_attended=len(read.sessions_attended),
            sessions_planned=read.sessions_planned,
            completed=read.completed,
            enrolled_on=enrolment.enrolled_on,
            status_on=enrolment.status_on,
            site_id=enrolment.site_id,
            problem_area=(
                ProblemArea(enrolment.problem_area) if enrolment.problem_area else None
            ),
            sessions=[
                EnrolmentSession(number=s.number, attended_on=attended.get(s.number))
                for s in _definition(enrolment).sessions
            ],
        ),
    )
