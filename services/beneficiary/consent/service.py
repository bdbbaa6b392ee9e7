from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from services.beneficiary.beneficiaries.models import (
    Beneficiary,
    beneficiary_facts,
    erase_pii,
)
from services.beneficiary.consent.models import ConsentEntry
from services.beneficiary.consent.schemas import ConsentGiven
from services.beneficiary.db import OutboxEvent
from shared.auth import Principal
from shared.contracts.enums import ConsentPurpose
from shared.contracts.events import ConsentFacts
from shared.db import utcnow
from shared.errors import Conflict, ConsentMissing
from shared.outbox import add_event


async def record_consents(
    session: AsyncSession,
    principal: Principal,
    beneficiary: Beneficiary,
    entries: Sequence[ConsentGiven],
) -> list[ConsentEntry]:
    """Append to the ledger. Withdrawing consent to registration erases the
    person's PII at once: only anonymous facts may be kept without it."""
    last = await session.scalar(
        select(func.max(col(ConsentEntry.sequence))).where(
            col(ConsentEntry.beneficiary_id) == beneficiary.id
        )
    )
    recorded = []
    offset = 0
    for entry in entries:
        if entry.id is not None:
            existing = await session.get(ConsentEntry, entry.id)
            if existing is not None:
                if existing.beneficiary_id != beneficiary.id:
                    raise Conflict("A consent entry with this id exists already.")
                recorded.append(existing)
                continue
        offset += 1
        row = ConsentEntry(
            id=entry.id or uuid.uuid4(),
            beneficiary_id=beneficiary.id,
            organisation_id=beneficiary.organisation_id,
            purpose=entry.purpose,
            granted=entry.granted,
            form_version=entry.form_version,
            agency=entry.agency,
            recorded_by=principal.subject,
            sequence=(last or 0) + offset,
        )
        session.add(row)
        recorded.append(row)
        add_event(
            session,
            OutboxEvent,
            type="consent.recorded",
            organisation_id=beneficiary.organisation_id,
            entity_type="beneficiary",
            entity_id=beneficiary.id,
            facts=ConsentFacts(
                beneficiary_id=beneficiary.id,
                purpose=entry.purpose,
                granted=entry.granted,
            ),
        )
        withdraws_registration = (
            entry.purpose == ConsentPurpose.registration and not entry.granted
        )
        if withdraws_registration and beneficiary.pii_erased_at is None:
            erase_pii(beneficiary)
            beneficiary.version += 1
            beneficiary.updated_at = utcnow()
            add_event(
                session,
                OutboxEvent,
                type="beneficiary.updated",
                organisation_id=beneficiary.organisation_id,
                entity_type="beneficiary",
                entity_id=beneficiary.id,
                facts=beneficiary_facts(beneficiary),
            )
    await session.flush()
    return recorded


async def consents_in_force(
    session: AsyncSession, beneficiary_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, dict[ConsentPurpose, ConsentEntry]]:
    """The newest entry per purpose for each beneficiary."""
    rows = await session.execute(
        select(ConsentEntry)
        .where(col(ConsentEntry.beneficiary_id).in_(beneficiary_ids))
        .order_by(col(ConsentEntry.sequence))
    )
    in_force: dict[uuid.UUID, dict[ConsentPurpose, ConsentEntry]] = {
        b: {} for b in beneficiary_ids
    }
    for entry in rows.scalars():
        in_force[entry.beneficiary_id][entry.purpose] = entry
    return in_force


async def list_consent_ledger(
    session: AsyncSession, beneficiary_id: uuid.UUID
) -> list[ConsentEntry]:
    rows = await session.execute(
        select(ConsentEntry)
        .where(col(ConsentEntry.beneficiary_id) == beneficiary_id)
        .order_by(col(ConsentEntry.sequence))
    )
    return list(rows.scalars())


async def require_consent(
    session: AsyncSession,
    beneficiary_ids: Sequence[uuid.UUID],
    *purposes: ConsentPurpose,
) -> None:
    """Refuse the action unless every person consents to all ``purposes`` now."""
    in_force = await consents_in_force(session, beneficiary_ids)
    for purpose in purposes:
        missing = [
            str(b)
            for b, entries in in_force.items()
            if not (purpose in entries and entries[purpose].granted)
        ]
        if missing:
            raise ConsentMissing(
                f"No consent in force for '{purpose}' from: {', '.join(missing)}."
            )
