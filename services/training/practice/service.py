"""Supervised practice: groups of real clients run by trainees, their
sessions by phase, recordings as metadata, fidelity reviews."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import String, cast, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from services.training.cohorts import service as cohorts_service
from services.training.db import OutboxEvent
from services.training.practice.models import (
    FidelityReview,
    PracticeGroup,
    PracticeSession,
)
from services.training.settings import TrainingSettings
from shared.app import Runtime
from shared.auth import Principal
from shared.contracts.erasure import (
    ClientParticipation,
    PracticeGroupParticipation,
    PracticeSessionAttended,
)
from shared.contracts.events import EventType, PracticeFacts
from shared.contracts.text import Text
from shared.db import under
from shared.errors import Conflict, FieldError, Invalid
from shared.outbox import add_event
from shared.pagination import Page, ordered_page
from shared.scoping import get_in_scope
from shared.taxonomy.fidelity import checklists

Phase = Literal["pre_group", "initial", "middle", "termination"]


class GroupCreate(BaseModel):
    """A supervised practice group run by trainees for their clients."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "Group 1",
                    "cohort_id": "1d76975c-fd39-4ace-8d52-ebbc7a2b7896",
                    "facilitator_trainee_ids": [
                        "037a980a-8c84-467d-ae10-92ccb7880456",
                        "0b081473-7e5e-4716-b316-96d45fad8a11",
                    ],
                    "client_ids": [
                        "87a462e1-ef81-40b2-9568-7037f62a30e4",
                        "328947c0-e559-4052-befa-0aed8b80823f",
                    ],
                    "started_on": "2026-02-15",
                }
            ]
        },
        extra="forbid",
    )

    id: uuid.UUID | None = None
    cohort_id: uuid.UUID | None = None
    name: Text = Field(min_length=1, max_length=100)
    approach: str = Field(default="ipt_g", pattern=r"^[a-z_]{2,32}$")
    facilitator_trainee_ids: list[uuid.UUID] = Field(min_length=1, max_length=4)
    client_ids: list[uuid.UUID] = Field(
        min_length=1, max_length=20, description="Pseudonymous beneficiary ids."
    )
    started_on: date


class PracticeSessionCreate(BaseModel):
    """A session of a practice group and who attended."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "number": 1,
                    "phase": "initial",
                    "held_on": "2026-04-01",
                    "attended_client_ids": ["1958160a-0725-4189-92fb-f2e56eb88ad6"],
                    "recording_ref": "recordings/group-1/session-1.m4a",
                    "recording_sha256": (
                        "9f2b6c1e8d4a7f3b0c5e2d9a6b1f8c4e"
                        "7d3a0b5f2e9c6d1a8b4f7e3c0d5a2b9f"
                    ),
                }
            ]
        },
        extra="forbid",
    )

    number: int = Field(ge=0, le=100)
    phase: Phase
    held_on: date
    attended_client_ids: list[uuid.UUID] | None = Field(
        default=None,
        max_length=20,
        description="Required unless group_session_id is given: then it is "
        "that group session's attendance (and, if sent, must be the same).",
    )
    group_session_id: uuid.UUID | None = Field(
        default=None,
        description="The group activity (POST /v1/group-activities of the "
        "beneficiary service) this session was recorded as, held the same "
        "day at a site of yours: its clients are counted there, once, and "
        "their Group IPT enrolments follow it. One practice session per "
        "group session.",
    )
    recording_ref: Text | None = Field(
        default=None,
        min_length=1,
        max_length=500,
        description="Where the media is kept. Read back empty once erased "
        "with a client or facilitator of the group (it was recorded).",
    )
    recording_sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")


class ReviewCreate(BaseModel):
    """A fidelity review of a practice session against a checklist."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "8536d604-3be1-46d3-b4c8-14838bda0928",
                    "reviewed_on": "2026-04-10",
                    "ratings": {
                        "session_structure": 2,
                        "symptom_review": 2,
                        "problem_area_link": 2,
                        "group_participation": 2,
                        "empathy_between_members": 2,
                        "collaborative_problem_solving": 2,
                        "homework": 2,
                        "therapeutic_communication": 2,
                        "time_management": 2,
                        "risk_check": 2,
                    },
                    "feedback": "Good structure",
                }
            ]
        },
        extra="forbid",
    )

    id: uuid.UUID | None = None
    checklist: Text = Field(default="ipt_g_fidelity@1.0", max_length=64)
    reviewed_on: date
    ratings: dict[str, int] = Field(max_length=100)
    feedback: Text | None = Field(default=None, max_length=5000)


class GroupRead(BaseModel):
    """A supervised practice group."""

    id: uuid.UUID
    name: str
    approach: str
    cohort_id: uuid.UUID | None
    facilitator_trainee_ids: list[uuid.UUID]
    clients: int
    started_on: date


class ReviewRead(BaseModel):
    """A fidelity review with its adherence score."""

    id: uuid.UUID
    session_id: uuid.UUID
    checklist: str
    reviewer: str
    reviewed_on: date
    adherence_score: float


class LookupAnswer(BaseModel):
    """The beneficiary service's answer to a client check: id -> organisation."""

    found: dict[str, str]


async def check_clients(
    runtime: Runtime, organisation_id: uuid.UUID, client_ids: list[uuid.UUID]
) -> None:
    """Every client must be a beneficiary of this organisation, asked of the
    beneficiary service over HTTP by pseudonymous id (nothing else crosses)."""
    settings = runtime.settings
    assert isinstance(settings, TrainingSettings)
    found = (
        await settings.beneficiary.post(
            runtime,
            "/v1/beneficiaries/lookup",
            LookupAnswer,
            json={"ids": [str(c) for c in client_ids]},
            organisation_id=organisation_id,
        )
    ).found
    bad = [
        i for i, c in enumerate(client_ids) if found.get(str(c)) != str(organisation_id)
    ]
    if bad:
        raise Invalid(
            "Some clients are not beneficiaries of your organisation.",
            errors=[
                FieldError(
                    loc=["body", "client_ids", i], msg="unknown client", type="client"
                )
                for i in bad
            ],
        )


class GroupSessionSeen(BaseModel):
    """A group session as the beneficiary service answers a link check:
    where and when, and its attendees' pseudonymous ids."""

    site_id: uuid.UUID | None
    activity_code: str
    activity_date: date
    attendee_ids: list[uuid.UUID]


class GroupLookupAnswer(BaseModel):
    """The beneficiary service's answer to a group session check."""

    found: dict[str, GroupSessionSeen]


async def check_group_session(
    runtime: Runtime, principal: Principal, group_session_id: uuid.UUID
) -> GroupSessionSeen:
    """The group session must be the organisation's and at a site the caller
    may see, asked of the beneficiary service over HTTP (pseudonymous ids
    only cross)."""
    settings = runtime.settings
    assert isinstance(settings, TrainingSettings)
    seen = (
        await settings.beneficiary.post(
            runtime,
            "/v1/group-activities/lookup",
            GroupLookupAnswer,
            json={"ids": [str(group_session_id)]},
            organisation_id=principal.organisation_id,
        )
    ).found.get(str(group_session_id))
    if seen is None or not principal.can_see_site(seen.site_id):
        raise Invalid.field(
            ["body", "group_session_id"],
            "unknown group session",
            "group_session",
            "No such group session of your organisation at your sites.",
        )
    return seen


def _attendance(
    data: PracticeSessionCreate, seen: GroupSessionSeen | None
) -> list[uuid.UUID]:
    """Who attended: sent, or the linked group session's attendance list
    (sent as well, it must be the same people)."""
    if seen is None:
        if data.attended_client_ids is None:
            raise Invalid.field(
                ["body", "attended_client_ids"],
                "required",
                "missing",
                "Send attended_client_ids, or the group_session_id whose "
                "attendance this session is.",
            )
        return data.attended_client_ids
    if seen.activity_date != data.held_on:
        raise Invalid.field(
            ["body", "held_on"],
            "not the group session's",
            "date",
            f"The group session was held on {seen.activity_date}.",
        )
    if data.attended_client_ids is not None and set(data.attended_client_ids) != set(
        seen.attendee_ids
    ):
        raise Invalid.field(
            ["body", "attended_client_ids"],
            "not the group session's attendance",
            "attendance",
            "The attendance differs from the group session's.",
        )
    return seen.attendee_ids


async def create_group(
    session: AsyncSession, principal: Principal, runtime: Runtime, data: GroupCreate
) -> PracticeGroup:
    if data.cohort_id is not None:
        await cohorts_service.get_cohort(session, principal, data.cohort_id)
    await cohorts_service.own_trainees(
        session, principal, data.facilitator_trainee_ids, "facilitator_trainee_ids"
    )
    await check_clients(runtime, principal.organisation_id, data.client_ids)
    group_id = data.id or uuid.uuid4()
    if await session.get(PracticeGroup, (principal.organisation_id, group_id)):
        raise Conflict("A practice group with this id exists already.")
    group = PracticeGroup(
        id=group_id,
        organisation_id=principal.organisation_id,
        cohort_id=data.cohort_id,
        name=data.name,
        approach=data.approach,
        facilitator_trainee_ids=[str(t) for t in data.facilitator_trainee_ids],
        client_ids=[str(c) for c in dict.fromkeys(data.client_ids)],
        started_on=data.started_on,
    )
    session.add(group)
    await session.flush()
    return group


async def get_group(
    session: AsyncSession,
    principal: Principal,
    group_id: uuid.UUID,
    *,
    lock: bool = False,
) -> PracticeGroup:
    return await get_in_scope(
        session,
        principal,
        PracticeGroup,
        group_id,
        what="practice group",
        for_update=lock,
    )


async def list_groups(
    session: AsyncSession,
    principal: Principal,
    *,
    cohort_id: uuid.UUID | None,
    cursor: str | None,
    limit: int,
) -> Page[PracticeGroup]:
    """The organisation's practice groups, the latest started first."""
    statement = select(PracticeGroup).where(
        col(PracticeGroup.organisation_id) == principal.organisation_id
    )
    if cohort_id is not None:
        statement = statement.where(col(PracticeGroup.cohort_id) == cohort_id)
    return await ordered_page(
        session,
        statement,
        keys=[(col(PracticeGroup.started_on), date.fromisoformat)],
        cursor=cursor,
        limit=limit,
        descending=True,
    )


async def record_session(
    session: AsyncSession,
    principal: Principal,
    runtime: Runtime,
    group_id: uuid.UUID,
    data: PracticeSessionCreate,
) -> PracticeSession:
    group = await get_group(session, principal, group_id, lock=True)
    seen = None
    if data.group_session_id is not None:
        linked = await session.execute(
            select(col(PracticeSession.id)).where(
                col(PracticeSession.organisation_id) == principal.organisation_id,
                col(PracticeSession.group_session_id) == data.group_session_id,
            )
        )
        if linked.first() is not None:
            raise Conflict("That group session is linked to a practice session.")
        seen = await check_group_session(runtime, principal, data.group_session_id)
    attended = _attendance(data, seen)
    strangers = [i for i, c in enumerate(attended) if str(c) not in group.client_ids]
    if strangers:
        raise Invalid(
            "Some attendees are not clients of this group.",
            errors=[
                FieldError(
                    loc=[
                        "body",
                        "attended_client_ids" if seen is None else "group_session_id",
                        *([i] if seen is None else []),
                    ],
                    msg="not in group",
                    type="client",
                )
                for i in strangers
            ],
        )
    if data.held_on < group.started_on:
        raise Invalid(
            "The session is before the group started.",
            errors=[
                FieldError(
                    loc=["body", "held_on"], msg="before started_on", type="date"
                )
            ],
        )
    taken = await session.execute(
        select(col(PracticeSession.id)).where(
            under(col(PracticeSession.group_id), group),
            col(PracticeSession.number) == data.number,
        )
    )
    if taken.first() is not None:
        raise Conflict(f"Session {data.number} is recorded already.")
    row = PracticeSession(
        organisation_id=group.organisation_id,
        group_id=group.id,
        number=data.number,
        phase=data.phase,
        held_on=data.held_on,
        attended_client_ids=[str(c) for c in dict.fromkeys(attended)],
        recording_ref=data.recording_ref,
        recording_sha256=data.recording_sha256,
        group_session_id=data.group_session_id,
    )
    session.add(row)
    _emit(session, group, row, EventType.practice_session_recorded, None)
    await session.flush()
    return row


async def facilitated(
    session: AsyncSession, organisation_id: uuid.UUID, cohort_id: uuid.UUID
) -> dict[str, tuple[int, list[float]]]:
    """By trainee id: the sessions they facilitated in the cohort's practice
    groups and the adherence scores of those sessions' fidelity reviews, all
    of the cohort's organisation (ids are unique within one only)."""
    groups = {
        g.id: g
        for g in (
            await session.execute(
                select(PracticeGroup).where(
                    col(PracticeGroup.organisation_id) == organisation_id,
                    col(PracticeGroup.cohort_id) == cohort_id,
                )
            )
        ).scalars()
    }
    if not groups:
        return {}
    held = list(
        (
            await session.execute(
                select(PracticeSession).where(
                    col(PracticeSession.organisation_id) == organisation_id,
                    col(PracticeSession.group_id).in_(list(groups)),
                )
            )
        ).scalars()
    )
    scores: dict[uuid.UUID, list[float]] = {}
    for review in (
        await session.execute(
            select(FidelityReview).where(
                col(FidelityReview.organisation_id) == organisation_id,
                col(FidelityReview.session_id).in_([h.id for h in held]),
            )
        )
    ).scalars():
        scores.setdefault(review.session_id, []).append(review.adherence_score)
    found: dict[str, tuple[int, list[float]]] = {}
    for row in held:
        for trainee_id in groups[row.group_id].facilitator_trainee_ids:
            count, reviewed = found.get(trainee_id, (0, []))
            found[trainee_id] = (count + 1, reviewed + scores.get(row.id, []))
    return found


async def review_session_fidelity(
    session: AsyncSession,
    principal: Principal,
    runtime: Runtime,
    group_id: uuid.UUID,
    number: int,
    data: ReviewCreate,
) -> tuple[FidelityReview, bool]:
    """Review a recorded session against the model checklist. The same client
    id sent again with the same review answers the first one (``False``:
    nothing new); with another review it is a 409."""
    group = await get_group(session, principal, group_id)
    held = (
        await session.execute(
            select(PracticeSession).where(
                under(col(PracticeSession.group_id), group),
                col(PracticeSession.number) == number,
            )
        )
    ).scalar_one_or_none()
    if held is None or held.recording_ref is None:
        raise Invalid(
            "Only a recorded session of this group can be reviewed.",
            errors=[
                FieldError(loc=["path", "number"], msg="no recording", type="recording")
            ],
        )
    checklist = checklists().get(data.checklist)
    if checklist is None:
        raise Invalid(
            "Unknown checklist.",
            errors=[
                FieldError(loc=["body", "checklist"], msg="unknown", type="unknown")
            ],
        )
    problems = checklist.problems(data.ratings)
    if problems:
        raise Invalid(
            "The ratings do not fit the checklist.",
            errors=[
                FieldError(loc=["body", "ratings", item], msg=msg, type="rating")
                for item, msg in problems
            ],
        )
    review_id = data.id or uuid.uuid4()
    existing = await session.get(FidelityReview, (group.organisation_id, review_id))
    if existing is not None:
        if _reviewed(existing, runtime) != _asked(data, held.id, checklist.key):
            raise Conflict("A fidelity review with this id exists already.")
        return existing, False
    review = FidelityReview(
        id=review_id,
        organisation_id=group.organisation_id,
        session_id=held.id,
        checklist=checklist.key,
        reviewer=principal.subject,
        reviewed_on=data.reviewed_on,
        ratings=data.ratings,
        adherence_score=checklist.adherence(data.ratings),
        feedback_enc=runtime.keyring.encrypt(
            data.feedback, f"fidelity:{review_id}:feedback"
        ),
    )
    session.add(review)
    _emit(
        session, group, held, EventType.fidelity_review_recorded, review.adherence_score
    )
    await session.flush()
    return review, True


def _reviewed(review: FidelityReview, runtime: Runtime) -> tuple[object, ...]:
    feedback = runtime.keyring.decrypt(
        review.feedback_enc, f"fidelity:{review.id}:feedback"
    )
    return (
        review.session_id,
        review.checklist,
        review.reviewed_on,
        review.ratings,
        feedback,
    )


def _asked(data: ReviewCreate, session_id: uuid.UUID, key: str) -> tuple[object, ...]:
    return (session_id, key, data.reviewed_on, data.ratings, data.feedback)


async def get_review(
    session: AsyncSession, principal: Principal, review_id: uuid.UUID
) -> FidelityReview:
    return await get_in_scope(
        session, principal, FidelityReview, review_id, what="fidelity review"
    )


def to_review_read(review: FidelityReview) -> ReviewRead:
    return ReviewRead(
        id=review.id,
        session_id=review.session_id,
        checklist=review.checklist,
        reviewer=review.reviewer,
        reviewed_on=review.reviewed_on,
        adherence_score=review.adherence_score,
    )


ERASED_REFERENCE = ""
"""A recording reference erased: the session was recorded (it still counts
as recorded and can be reviewed), where the media is kept is not said."""


async def forget_session_text(
    session: AsyncSession, organisation_id: uuid.UUID, group_ids: Sequence[uuid.UUID]
) -> None:
    """Erase what was written about these groups' sessions: recording
    references and fidelity-review feedback can name any client or
    facilitator, and training never holds a client's name to check them
    for it (nor every way a trainee is called), so they go with any of them."""
    if not group_ids:
        return
    sessions = await session.execute(
        select(PracticeSession).where(
            col(PracticeSession.organisation_id) == organisation_id,
            col(PracticeSession.group_id).in_(group_ids),
        )
    )
    held = list(sessions.scalars())
    for row in held:
        if row.recording_ref is not None:
            row.recording_ref = ERASED_REFERENCE
    reviews = await session.execute(
        select(FidelityReview).where(
            col(FidelityReview.organisation_id) == organisation_id,
            col(FidelityReview.session_id).in_([row.id for row in held]),
            col(FidelityReview.feedback_enc).is_not(None),
        )
    )
    for review in reviews.scalars():
        review.feedback_enc = None


def to_group_read(group: PracticeGroup) -> GroupRead:
    return GroupRead(
        id=group.id,
        name=group.name,
        approach=group.approach,
        cohort_id=group.cohort_id,
        facilitator_trainee_ids=[uuid.UUID(t) for t in group.facilitator_trainee_ids],
        clients=len(group.client_ids),
        started_on=group.started_on,
    )


def _emit(
    session: AsyncSession,
    group: PracticeGroup,
    held: PracticeSession,
    event_type: EventType,
    score: float | None,
) -> None:
    add_event(
        session,
        OutboxEvent,
        type=event_type,
        organisation_id=group.organisation_id,
        entity_type="practice_group",
        entity_id=group.id,
        facts=PracticeFacts(
            group_id=group.id,
            session_id=held.id,
            organisation_id=group.organisation_id,
            held_on=held.held_on,
            phase=held.phase,
            clients_attended=len(held.attended_client_ids),
            recorded=held.recording_ref is not None,
            facilitator_ids=[uuid.UUID(t) for t in group.facilitator_trainee_ids],
            adherence_score=score,
            group_session_id=held.group_session_id,
        ),
    )


async def client_participation(
    session: AsyncSession, organisation_id: uuid.UUID, beneficiary_id: uuid.UUID
) -> ClientParticipation:
    """The practice groups of one organisation that a beneficiary is a client
    of, with the sessions they attended (a subject access export)."""
    target = str(beneficiary_id)
    groups = await session.execute(
        select(PracticeGroup)
        .where(
            col(PracticeGroup.organisation_id) == organisation_id,
            cast(PracticeGroup.client_ids, String).contains(target),
        )
        .order_by(col(PracticeGroup.started_on))
    )
    found = []
    for group in groups.scalars():
        if target not in group.client_ids:
            continue
        sessions = await session.execute(
            select(PracticeSession)
            .where(under(col(PracticeSession.group_id), group))
            .order_by(col(PracticeSession.number))
        )
        found.append(
            PracticeGroupParticipation(
                group_id=group.id,
                name=group.name,
                approach=group.approach,
                started_on=group.started_on,
                sessions=[
                    PracticeSessionAttended(
                        number=s.number,
                        phase=s.phase,
                        held_on=s.held_on,
                        attended=target in s.attended_client_ids,
                    )
                    for s in sessions.scalars()
                ],
            )
        )
    return ClientParticipation(beneficiary_id=beneficiary_id, practice_groups=found)
