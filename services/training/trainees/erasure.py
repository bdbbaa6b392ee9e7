"""A trainee's right to erasure: their name, phone, email, what they do and
where (affiliation, role, profession), their staff code and the free text
written about them go; their training facts stay under the same pseudonymous
id, and ``trainee.erased`` makes reporting replace that id with a pseudonym
of its own."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, Field
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import flag_modified
from sqlmodel import col

from services.training.db import IdempotencyRecord, OutboxEvent
from services.training.practice.models import (
    FidelityReview,
    PracticeGroup,
    PracticeSession,
)
from services.training.supervision.models import SupervisionSession
from services.training.trainees import service as trainees_service
from services.training.trainees.models import Trainee
from shared.audit import Actor
from shared.auth import Principal
from shared.contracts.events import TraineeErasedFacts
from shared.crypto import KeyRing
from shared.db import utcnow
from shared.outbox import add_event
from shared.subject_rights import (
    mentions,
    refuse_identifying_reason,
    require_reason,
)

ERASED_TEXT = ""


class TraineeErasureRead(BaseModel):
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
    await _forget_free_text(session, keyring, trainee, names, phones, emails)
    await _forget_staff_code(session, trainee)
    await session.execute(
        delete(IdempotencyRecord).where(
            col(IdempotencyRecord.resource_id) == trainee.id
        )
    )
    if not already:
        trainee.full_name_enc = trainee.phone_enc = trainee.email_enc = None
        trainee.affiliation = trainee.role = trainee.profession = ERASED_TEXT
        trainee.staff_id = None
        trainee.version += 1
        trainee.pii_erased_at = utcnow()
    add_event(
        session,
        OutboxEvent,
        type="trainee.erased",
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


async def _forget_free_text(
    session: AsyncSession,
    keyring: KeyRing,
    trainee: Trainee,
    names: list[str | None],
    phones: list[str | None],
    emails: list[str | None],
) -> None:
    """Notes of their individual supervision go; notes of group supervision
    and feedback on practice sessions they facilitated go when they name the
    trainee (checked before the name is erased), since they are others'
    records too."""
    tid = str(trainee.id)
    supervision = await session.execute(
        select(SupervisionSession).where(
            col(SupervisionSession.organisation_id) == trainee.organisation_id,
            col(SupervisionSession.notes_enc).is_not(None),
        )
    )
    for row in supervision.scalars():
        if tid not in row.supervisee_trainee_ids:
            continue
        notes = keyring.decrypt(row.notes_enc, f"supervision:{row.id}:notes")
        alone = len(row.supervisee_trainee_ids) == 1
        if alone or mentions(notes, names, phones, emails):
            row.notes_enc = None
    groups = await session.execute(
        select(PracticeGroup).where(
            col(PracticeGroup.organisation_id) == trainee.organisation_id
        )
    )
    facilitated = [g.id for g in groups.scalars() if tid in g.facilitator_trainee_ids]
    if not facilitated:
        return
    reviews = await session.execute(
        select(FidelityReview)
        .join(PracticeSession, col(PracticeSession.id) == FidelityReview.session_id)
        .where(
            col(PracticeSession.group_id).in_(facilitated),
            col(FidelityReview.feedback_enc).is_not(None),
        )
    )
    for review in reviews.scalars():
        feedback = keyring.decrypt(
            review.feedback_enc, f"fidelity:{review.id}:feedback"
        )
        if mentions(feedback, names, phones, emails):
            review.feedback_enc = None


async def _forget_staff_code(session: AsyncSession, trainee: Trainee) -> None:
    """The staff code ties the trainee to the beneficiary service's records of
    who delivered a service: it goes from the feed's history of the trainee
    too (reporting re-reading the feed from the start must not find it)."""
    events = await session.execute(
        select(OutboxEvent).where(
            col(OutboxEvent.entity_id) == trainee.id,
            col(OutboxEvent.entity_type) == "trainee",
        )
    )
    for event in events.scalars():
        if event.data.get("staff_id") is not None:
            event.data = {**event.data, "staff_id": None}
            flag_modified(event, "data")
