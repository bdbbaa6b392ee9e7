"""Supervision sessions: who supervised whom, how, for how long, and how
many cases were discussed (the notes are encrypted; events carry counts)."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from services.training.cohorts.service import own_trainees
from services.training.db import OutboxEvent
from services.training.supervision.models import SupervisionSession
from shared.auth import Principal
from shared.contracts.enums import SupervisionPurpose
from shared.contracts.events import EventType, SupervisionFacts
from shared.contracts.text import Text
from shared.crypto import KeyRing
from shared.outbox import add_event
from shared.pagination import Page, ordered_page
from shared.scoping import get_in_scope


class SupervisionWrite(BaseModel):
    """A supervision session: who, how, how long and about how many cases."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "kind": "group",
                    "mode": "in_person",
                    "held_on": "2026-04-03",
                    "duration_minutes": 90,
                    "supervisee_trainee_ids": [
                        "2e53f332-4de7-450a-aeda-f960575bb1bc",
                        "6de441c2-2574-4ba8-b6a9-0b3662631976",
                    ],
                    "cases_discussed": 2,
                    "notes": "Grief work; pacing the middle phase.",
                }
            ]
        },
    )

    id: uuid.UUID | None = None
    kind: Literal["individual", "group"]
    purpose: SupervisionPurpose = SupervisionPurpose.supervision
    mode: Literal["in_person", "virtual", "phone"]
    held_on: date
    duration_minutes: int = Field(ge=5, le=600)
    supervisee_trainee_ids: list[uuid.UUID] = Field(min_length=1, max_length=50)
    cases_discussed: int = Field(default=0, ge=0, le=100)
    notes: Text | None = Field(default=None, max_length=10_000)

    @model_validator(mode="after")
    def _kind(self) -> SupervisionWrite:
        if self.kind == "individual" and len(self.supervisee_trainee_ids) != 1:
            raise ValueError("individual supervision has exactly one supervisee")
        return self


class SupervisionRead(BaseModel):
    """A supervision session."""

    id: uuid.UUID
    supervisor: str
    kind: str
    purpose: SupervisionPurpose
    mode: str
    held_on: date
    duration_minutes: int
    supervisee_trainee_ids: list[uuid.UUID]
    cases_discussed: int
    notes: str | None


async def record_supervision(
    session: AsyncSession,
    principal: Principal,
    keyring: KeyRing,
    data: SupervisionWrite,
) -> SupervisionSession:
    """Record a session; sending the same client id again returns the first
    (another organisation's id is a free id here, as for every client-chosen
    id: docs/decisions/0006-ids-per-organisation.md)."""
    if data.id is not None:
        existing = await session.get(
            SupervisionSession, (principal.organisation_id, data.id)
        )
        if existing is not None:
            return existing
    await own_trainees(
        session, principal, data.supervisee_trainee_ids, "supervisee_trainee_ids"
    )
    row_id = data.id or uuid.uuid4()
    row = SupervisionSession(
        id=row_id,
        organisation_id=principal.organisation_id,
        supervisor=principal.subject,
        kind=data.kind,
        purpose=data.purpose,
        mode=data.mode,
        held_on=data.held_on,
        duration_minutes=data.duration_minutes,
        supervisee_trainee_ids=[str(t) for t in data.supervisee_trainee_ids],
        cases_discussed=data.cases_discussed,
        notes_enc=keyring.encrypt(data.notes, f"supervision:{row_id}:notes"),
    )
    session.add(row)
    add_event(
        session,
        OutboxEvent,
        type=EventType.supervision_recorded,
        organisation_id=row.organisation_id,
        entity_type="supervision_session",
        entity_id=row.id,
        facts=SupervisionFacts(
            supervision_id=row.id,
            organisation_id=row.organisation_id,
            kind=row.kind,
            purpose=SupervisionPurpose(row.purpose),
            mode=row.mode,
            held_on=row.held_on,
            duration_minutes=row.duration_minutes,
            supervisees=len(row.supervisee_trainee_ids),
            supervisee_ids=[uuid.UUID(t) for t in row.supervisee_trainee_ids],
            cases_discussed=row.cases_discussed,
        ),
    )
    await session.flush()
    return row


async def get_supervision(
    session: AsyncSession, principal: Principal, row_id: uuid.UUID
) -> SupervisionSession:
    return await get_in_scope(
        session, principal, SupervisionSession, row_id, what="supervision session"
    )


async def list_supervision(
    session: AsyncSession,
    principal: Principal,
    start: date | None,
    end: date | None,
    *,
    cursor: str | None,
    limit: int,
) -> Page[SupervisionSession]:
    """The organisation's supervision sessions, the earliest held first."""
    statement = select(SupervisionSession).where(
        col(SupervisionSession.organisation_id) == principal.organisation_id
    )
    if start is not None:
        statement = statement.where(col(SupervisionSession.held_on) >= start)
    if end is not None:
        statement = statement.where(col(SupervisionSession.held_on) <= end)
    return await ordered_page(
        session,
        statement,
        keys=[(col(SupervisionSession.held_on), date.fromisoformat)],
        cursor=cursor,
        limit=limit,
    )


def to_read(row: SupervisionSession, keyring: KeyRing) -> SupervisionRead:
    return SupervisionRead(
        id=row.id,
        supervisor=row.supervisor,
        kind=row.kind,
        purpose=SupervisionPurpose(row.purpose),
        mode=row.mode,
        held_on=row.held_on,
        duration_minutes=row.duration_minutes,
        supervisee_trainee_ids=[uuid.UUID(t) for t in row.supervisee_trainee_ids],
        cases_discussed=row.cases_discussed,
        notes=keyring.decrypt(row.notes_enc, f"supervision:{row.id}:notes"),
    )


async def supervision_hours(
    session: AsyncSession, organisation_id: uuid.UUID, since: date
) -> dict[str, float]:
    """Hours of clinical supervision (not coaching or mentoring) each trainee
    received from ``since``, by trainee id."""
    rows = await session.execute(
        select(SupervisionSession).where(
            col(SupervisionSession.organisation_id) == organisation_id,
            col(SupervisionSession.purpose) == SupervisionPurpose.supervision,
            col(SupervisionSession.held_on) >= since,
        )
    )
    hours: dict[str, float] = {}
    for row in rows.scalars():
        for trainee_id in row.supervisee_trainee_ids:
            hours[trainee_id] = hours.get(trainee_id, 0.0) + row.duration_minutes / 60
    return hours
