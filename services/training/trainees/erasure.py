"""A trainee's right to erasure: their name, phone, email, what they do and
where (affiliation, role, profession), their staff code and the free text
linked to them (supervision notes, recording references and review feedback
of the groups they facilitated) go; their training facts stay under the same
pseudonymous id, and ``trainee.erased`` makes reporting replace that id with
a pseudonym of its own."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, Field
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import flag_modified
from sqlmodel import col

from services.training.db import IdempotencyRecord, OutboxEvent
from services.training.mentoring import service as mentoring_service
from services.training.practice import service as practice_service
from services.training.practice.models import PracticeGroup
from services.training.supervision.models import SupervisionSession
from services.training.trainees import service as trainees_service
from services.training.trainees.models import Trainee
from shared.audit import Actor
from shared.auth import Principal
from shared.contracts.events import EventType, TraineeErasedFacts
from shared.crypto import KeyRing
from shared.db import utcnow
from shared.errors import NotFound
from shared.outbox import add_event
from shared.subject_rights import refuse_identifying_reason, require_reason

ERASED_TEXT = ""


class TraineeErasureRead(BaseModel):
    """What was erased for a trainee, and when."""

    trainee_id: uuid.UUID
    erased_at: datetime
    already_erased: bool = Field(
        description="Erased before; anything added since was erased now and "
        "reporting was told again."
    )


async def erase_trainee(
    session: AsyncSession,
    principal: Principal,
    keyring: KeyRing,
    trainee_id: uuid.UUID,
    actor: Actor,
) -> TraineeErasureRead:
    """Erase one trainee of the caller's organisation; a repeat is harmless."""
    trainee = await trainees_service.get_trainee(session, principal, trainee_id)
    reason = require_reason(actor)
    read = trainees_service.to_read(trainee, keyring)
    names, phones, emails = [read.full_name or None], [read.phone], [read.email]
    refuse_identifying_reason(reason, names, phones, emails)
    already = trainee.pii_erased_at is not None
    await _forget_free_text(session, trainee)
    await _forget_staff_code(session, trainee)
    await session.execute(
        delete(IdempotencyRecord).where(
            col(IdempotencyRecord.organisation_id) == trainee.organisation_id,
            col(IdempotencyRecord.resource_id) == trainee.id,
        )
    )
    if not already:
        trainee.full_name_enc = trainee.phone_enc = trainee.email_enc = None
        trainee.affiliation = trainee.role = trainee.profession = ERASED_TEXT
        trainee.staff_id = trainee.affiliation_organisation_id = None
        trainee.version += 1
        trainee.pii_erased_at = utcnow()
    add_event(
        session,
        OutboxEvent,
        type=EventType.trainee_erased,
        organisation_id=trainee.organisation_id,
        entity_type="trainee",
        entity_id=trainee.id,
        facts=TraineeErasedFacts(
            trainee_id=trainee.id, organisation_id=trainee.organisation_id
        ),
    )
    await session.flush()
    assert trainee.pii_erased_at is not None
    return TraineeErasureRead(
        trainee_id=trainee.id, erased_at=trainee.pii_erased_at, already_erased=already
    )


async def erasure_of(
    session: AsyncSession, principal: Principal, trainee_id: uuid.UUID
) -> TraineeErasureRead:
    """A done erasure read again (the answer to a replayed request)."""
    trainee = await trainees_service.get_trainee(session, principal, trainee_id)
    if trainee.pii_erased_at is None:
        raise NotFound("No erasure of this trainee is recorded.")
    return TraineeErasureRead(
        trainee_id=trainee.id, erased_at=trainee.pii_erased_at, already_erased=True
    )


async def _forget_free_text(session: AsyncSession, trainee: Trainee) -> None:
    """Notes of every supervision session they were supervised in, and the
    recording references and review feedback of the sessions of practice
    groups they facilitated, go: free text about them can single them out
    without their name in it (a nickname, a misspelling, "the nurse from
    Zakho"), so it is not searched for the name but erased whole."""
    tid = str(trainee.id)
    supervision = await session.execute(
        select(SupervisionSession).where(
            col(SupervisionSession.organisation_id) == trainee.organisation_id,
            col(SupervisionSession.notes_enc).is_not(None),
        )
    )
    for row in supervision.scalars():
        if tid in row.supervisee_trainee_ids:
            row.notes_enc = None
    await mentoring_service.forget_text_about(session, trainee.organisation_id, tid)
    groups = await session.execute(
        select(PracticeGroup).where(
            col(PracticeGroup.organisation_id) == trainee.organisation_id
        )
    )
    await practice_service.forget_session_text(
        session,
        trainee.organisation_id,
        [g.id for g in groups.scalars() if tid in g.facilitator_trainee_ids],
    )


async def _forget_staff_code(session: AsyncSession, trainee: Trainee) -> None:
    """The staff code ties the trainee to the beneficiary service's records of
    who delivered a service: it goes from the feed's history of the trainee
    too (reporting re-reading the feed from the start must not find it)."""
    events = await session.execute(
        select(OutboxEvent).where(
            col(OutboxEvent.organisation_id) == trainee.organisation_id,
            col(OutboxEvent.entity_id) == trainee.id,
            col(OutboxEvent.entity_type) == "trainee",
        )
    )
    for event in events.scalars():
        if any(event.data.get(name) is not None for name in _EMPLOYER):
            event.data = {**event.data, **dict.fromkeys(_EMPLOYER)}
            flag_modified(event, "data")


_EMPLOYER = ("staff_id", "affiliation_organisation_id")
"""What ties a trainee to their workplace in the feed's history of them."""
