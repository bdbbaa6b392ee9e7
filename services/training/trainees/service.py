"""Trainees: registered by one organisation and seen only by it."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from services.training.db import OutboxEvent
from services.training.trainees.models import Trainee
from shared.auth import Principal
from shared.contracts.enums import Sex, TrainingAudience
from shared.contracts.events import EventType, TraineeFacts
from shared.contracts.text import Text
from shared.crypto import KeyRing
from shared.errors import Conflict
from shared.outbox import add_event
from shared.scoping import get_in_scope

Short = Annotated[
    Text, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)
]


class TraineeCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: uuid.UUID | None = None
    full_name: Annotated[
        Text, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)
    ]
    phone: (
        Annotated[
            str,
            StringConstraints(strip_whitespace=True, pattern=r"^\+?[\d\s\-().]{6,32}$"),
        ]
        | None
    ) = None
    email: (
        Annotated[
            str,
            StringConstraints(max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$"),
        ]
        | None
    ) = None
    audience: TrainingAudience
    affiliation: Annotated[
        Text, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)
    ]
    role: Short
    profession: Short
    sex: Sex
    staff_id: Short | None = Field(
        default=None,
        description="The staff code the beneficiary service records as "
        "staff_id on this person's service records.",
    )


class TraineeSummary(BaseModel):
    """A list row: no name or contact details."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    audience: TrainingAudience
    affiliation: str
    role: str
    profession: str
    sex: Sex
    staff_id: str | None


class TraineeRead(TraineeSummary):
    full_name: str = Field(description="Empty once erased.")
    phone: str | None
    email: str | None
    pii_erased: bool = False
    version: int
    created_at: datetime


async def register_trainee(
    session: AsyncSession, principal: Principal, keyring: KeyRing, data: TraineeCreate
) -> Trainee:
    trainee_id = data.id or uuid.uuid4()
    if await session.get(Trainee, trainee_id) is not None:
        raise Conflict("A trainee with this id exists already.")
    trainee = Trainee(
        id=trainee_id,
        organisation_id=principal.organisation_id,
        audience=data.audience,
        affiliation=data.affiliation,
        role=data.role,
        profession=data.profession,
        sex=data.sex,
        staff_id=data.staff_id,
        full_name_enc=keyring.encrypt(data.full_name, _context(trainee_id, "full_name"))
        or "",
        phone_enc=keyring.encrypt(data.phone, _context(trainee_id, "phone")),
        email_enc=keyring.encrypt(data.email, _context(trainee_id, "email")),
        created_by=principal.subject,
    )
    session.add(trainee)
    add_event(
        session,
        OutboxEvent,
        type=EventType.trainee_registered,
        organisation_id=trainee.organisation_id,
        entity_type="trainee",
        entity_id=trainee.id,
        facts=TraineeFacts(
            trainee_id=trainee.id,
            organisation_id=trainee.organisation_id,
            audience=trainee.audience,
            sex=trainee.sex,
            staff_id=trainee.staff_id,
        ),
    )
    await session.flush()
    return trainee


async def get_trainee(
    session: AsyncSession, principal: Principal, trainee_id: uuid.UUID
) -> Trainee:
    """A trainee of the caller's organisation; anyone else's is a 404."""
    return await get_in_scope(
        session, principal, Trainee, trainee_id, what="trainee", site_scoped=False
    )


async def list_trainees(
    session: AsyncSession, principal: Principal, audience: TrainingAudience | None
) -> list[Trainee]:
    statement = (
        select(Trainee)
        .where(col(Trainee.organisation_id) == principal.organisation_id)
        .order_by(col(Trainee.created_at))
    )
    if audience is not None:
        statement = statement.where(col(Trainee.audience) == audience)
    return list((await session.execute(statement)).scalars())


def to_read(trainee: Trainee, keyring: KeyRing) -> TraineeRead:
    return TraineeRead(
        id=trainee.id,
        audience=trainee.audience,
        affiliation=trainee.affiliation,
        role=trainee.role,
        profession=trainee.profession,
        sex=trainee.sex,
        staff_id=trainee.staff_id,
        full_name=keyring.decrypt(
            trainee.full_name_enc, _context(trainee.id, "full_name")
        )
        or "",
        phone=keyring.decrypt(trainee.phone_enc, _context(trainee.id, "phone")),
        email=keyring.decrypt(trainee.email_enc, _context(trainee.id, "email")),
        pii_erased=trainee.pii_erased_at is not None,
        version=trainee.version,
        created_at=trainee.created_at,
    )


def _context(trainee_id: uuid.UUID, field: str) -> str:
    return f"trainee:{trainee_id}:{field}"
