"""Trainees: registered by one organisation and seen only by it."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from services.training.db import OutboxEvent
from services.training.references import check_references
from services.training.trainees.models import Trainee
from shared.app import Runtime
from shared.auth import Principal
from shared.contracts.enums import Sex, TrainingAudience
from shared.contracts.events import EventType, TraineeFacts
from shared.contracts.text import Text
from shared.crypto import KeyRing
from shared.errors import Conflict, VersionConflict
from shared.outbox import add_event
from shared.pagination import Page, aware_datetime, ordered_page
from shared.scoping import get_in_scope

Short = Annotated[
    Text, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)
]
Long = Annotated[
    Text, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)
]
Phone = Annotated[
    str, StringConstraints(strip_whitespace=True, pattern=r"^\+?[\d\s\-().]{6,32}$")
]
Email = Annotated[
    str, StringConstraints(max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
]


class TraineeCreate(BaseModel):
    """A person to train: staff, volunteer or partner staff."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "full_name": "Rana Khalil",
                    "phone": "+964 750 000 1234",
                    "email": "rana@example.org",
                    "audience": "ngo",
                    "affiliation": "Local NGO",
                    "role": "psychosocial worker",
                    "profession": "social worker",
                    "sex": "female",
                    "staff_id": "staff-7",
                }
            ]
        },
    )

    id: uuid.UUID | None = None
    full_name: Long
    phone: Phone | None = None
    email: Email | None = None
    audience: TrainingAudience
    affiliation: Long
    affiliation_organisation_id: uuid.UUID | None = Field(
        default=None,
        description="Their employer as an organisation id of the beneficiary "
        "service's list (GET /v1/organisations there), when it is on it: "
        "reports count organisations trained by it. Checked there (422 for "
        "an unknown id, 503 while that service is down).",
    )
    role: Short
    profession: Short
    sex: Sex
    staff_id: Short | None = Field(
        default=None,
        description="The staff code the beneficiary service records as "
        "staff_id on this person's service records.",
    )


class TraineeUpdate(BaseModel):
    """The fields to change; a field left out stays as it is. ``phone``,
    ``email`` and ``staff_id`` may be set to null, the others not."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"role": "senior counsellor", "email": "rk@example.org"}]
        },
    )

    full_name: Long | None = None
    phone: Phone | None = None
    email: Email | None = None
    audience: TrainingAudience | None = None
    affiliation: Long | None = None
    affiliation_organisation_id: uuid.UUID | None = None
    role: Short | None = None
    profession: Short | None = None
    sex: Sex | None = None
    staff_id: Short | None = None

    @model_validator(mode="after")
    def _required_stay_set(self) -> TraineeUpdate:
        cleared = [
            name
            for name in REQUIRED_FIELDS
            if name in self.model_fields_set and getattr(self, name) is None
        ]
        if cleared:
            raise ValueError(f"{', '.join(cleared)} cannot be removed, only changed")
        return self


REQUIRED_FIELDS = ("full_name", "audience", "affiliation", "role", "profession", "sex")
SEALED_FIELDS = ("full_name", "phone", "email")


class TraineeSummary(BaseModel):
    """A list row: no name or contact details."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    audience: TrainingAudience
    affiliation: str
    affiliation_organisation_id: uuid.UUID | None = None
    role: str
    profession: str
    sex: Sex
    staff_id: str | None


class TraineeRead(TraineeSummary):
    """A trainee."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "dc0307ea-c779-40f8-a38c-7d27952a4c0b",
                    "audience": "ngo",
                    "affiliation": "Al-Amal Community Association",
                    "affiliation_organisation_id": None,
                    "role": "psychosocial worker",
                    "profession": "social worker",
                    "sex": "female",
                    "staff_id": "AA-017",
                    "full_name": "Rana Saleh",
                    "phone": "+964 750 987 6543",
                    "email": "rana.saleh@example.org",
                    "pii_erased": False,
                    "version": 1,
                    "created_at": "2026-02-01T08:30:00Z",
                }
            ]
        }
    )

    full_name: str = Field(description="Empty once erased.")
    phone: str | None
    email: str | None
    pii_erased: bool = False
    version: int
    created_at: datetime


async def register_trainee(
    session: AsyncSession, principal: Principal, runtime: Runtime, data: TraineeCreate
) -> Trainee:
    """A trainee; their employer, when named, must be an organisation of the
    beneficiary service's directory (422 otherwise, 503 when it is down)."""
    keyring = runtime.keyring
    trainee_id = data.id or uuid.uuid4()
    if await session.get(Trainee, (principal.organisation_id, trainee_id)):
        raise Conflict("A trainee with this id exists already.")
    await _check_employer(runtime, principal, data.affiliation_organisation_id)
    trainee = Trainee(
        id=trainee_id,
        organisation_id=principal.organisation_id,
        audience=data.audience,
        affiliation=data.affiliation,
        affiliation_organisation_id=data.affiliation_organisation_id,
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
    _publish(session, trainee, EventType.trainee_registered)
    await session.flush()
    return trainee


async def get_trainee(
    session: AsyncSession,
    principal: Principal,
    trainee_id: uuid.UUID,
    *,
    lock: bool = False,
) -> Trainee:
    """A trainee of the caller's organisation; anyone else's is a 404."""
    return await get_in_scope(
        session,
        principal,
        Trainee,
        trainee_id,
        what="trainee",
        for_update=lock,
        site_scoped=False,
    )


async def list_trainees(
    session: AsyncSession,
    principal: Principal,
    audience: TrainingAudience | None,
    *,
    cursor: str | None,
    limit: int,
) -> Page[Trainee]:
    """The organisation's trainees in the order they were registered."""
    statement = select(Trainee).where(
        col(Trainee.organisation_id) == principal.organisation_id
    )
    if audience is not None:
        statement = statement.where(col(Trainee.audience) == audience)
    return await ordered_page(
        session,
        statement,
        keys=[(col(Trainee.created_at), aware_datetime)],
        cursor=cursor,
        limit=limit,
    )


async def _check_employer(
    runtime: Runtime, principal: Principal, employer: uuid.UUID | None
) -> None:
    await check_references(
        runtime,
        principal.organisation_id,
        organisations=[(["body", "affiliation_organisation_id"], employer)],
    )


async def update_trainee(
    session: AsyncSession,
    principal: Principal,
    runtime: Runtime,
    trainee_id: uuid.UUID,
    data: TraineeUpdate,
    expected_version: int,
) -> Trainee:
    """Apply a partial edit made on ``expected_version``; a stale edit is a 409
    that carries the server's copy. An erased trainee stays erased: an edit
    would bring back what erasure removed (reporting pseudonymised them). A
    new employer is checked like a new trainee's."""
    keyring = runtime.keyring
    trainee = await get_trainee(session, principal, trainee_id, lock=True)
    if trainee.version != expected_version:
        raise VersionConflict(
            f"You edited version {expected_version}; the server has "
            f"version {trainee.version}.",
            current=to_read(trainee, keyring).model_dump(mode="json"),
        )
    if trainee.pii_erased_at is not None:
        raise Conflict("This trainee's data was erased; the record cannot be edited.")
    patch = data.model_dump(exclude_unset=True)
    if patch.get("affiliation_organisation_id") not in (
        None,
        trainee.affiliation_organisation_id,
    ):
        await _check_employer(runtime, principal, data.affiliation_organisation_id)
    for name, value in patch.items():
        if name in SEALED_FIELDS:
            sealed = keyring.encrypt(value, _context(trainee.id, name))
            setattr(
                trainee, f"{name}_enc", sealed or "" if name == "full_name" else sealed
            )
        else:
            setattr(trainee, name, value)
    trainee.version += 1
    _publish(session, trainee, EventType.trainee_updated)
    await session.flush()
    return trainee


def _publish(session: AsyncSession, trainee: Trainee, type: EventType) -> None:
    """The facts reporting counts a trainee by, as they stand: never a name."""
    add_event(
        session,
        OutboxEvent,
        type=type,
        organisation_id=trainee.organisation_id,
        entity_type="trainee",
        entity_id=trainee.id,
        facts=TraineeFacts(
            trainee_id=trainee.id,
            organisation_id=trainee.organisation_id,
            audience=trainee.audience,
            sex=trainee.sex,
            staff_id=trainee.staff_id,
            affiliation_organisation_id=trainee.affiliation_organisation_id,
        ),
    )


def to_read(trainee: Trainee, keyring: KeyRing) -> TraineeRead:
    return TraineeRead(
        id=trainee.id,
        audience=trainee.audience,
        affiliation=trainee.affiliation,
        affiliation_organisation_id=trainee.affiliation_organisation_id,
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
