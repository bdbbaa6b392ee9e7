from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict
from sqlalchemy import select
from sqlmodel import col

from services.beneficiary.access import Auditor
from services.beneficiary.audit.models import AuditEntry
from shared.db import SessionDep
from shared.pagination import MAX_LIMIT

router = APIRouter(prefix="/v1/audit", tags=["audit"])


class AuditEntryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    at: datetime
    subject: str
    action: str
    entity_type: str
    entity_id: uuid.UUID
    reason: str | None
    request_id: str | None


@router.get("", response_model=list[AuditEntryRead])
async def list_audit_entries(
    session: SessionDep,
    principal: Auditor,
    entity_id: uuid.UUID | None = None,
    subject: Annotated[str | None, Query(max_length=255)] = None,
    since: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
) -> list[AuditEntryRead]:
    """Who read or changed which record of your organisation, newest first."""
    statement = (
        select(AuditEntry)
        .where(col(AuditEntry.organisation_id) == principal.organisation_id)
        .order_by(col(AuditEntry.at).desc())
        .limit(limit)
    )
    if entity_id is not None:
        statement = statement.where(col(AuditEntry.entity_id) == entity_id)
    if subject is not None:
        statement = statement.where(col(AuditEntry.subject) == subject)
    if since is not None:
        since = since if since.tzinfo else since.replace(tzinfo=UTC)
        statement = statement.where(col(AuditEntry.at) >= since)
    async with session.begin():
        rows = (await session.execute(statement)).scalars().all()
    return [AuditEntryRead.model_validate(r) for r in rows]
