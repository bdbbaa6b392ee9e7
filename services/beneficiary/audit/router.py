"""``GET /v1/audit`` for auditors: who read or changed which record of the
organisation, when and why, filtered by record, person, subject, action, period
or break-the-glass use. Reading the log is itself written to it.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, computed_field

from services.beneficiary.access import AuditorActor
from services.beneficiary.audit import service as audit_service
from services.beneficiary.audit.models import AuditEntry, audit_log
from shared.audit import BREAK_GLASS
from shared.contracts.text import Text
from shared.db import SessionDep
from shared.deprecation import either
from shared.errors import BadRequest, problem_responses
from shared.pagination import CursorQuery, LimitQuery, Page
from shared.periods import EndTime, OldEndTime, OldStartTime, StartTime

router = APIRouter(prefix="/v1/audit", tags=["audit"])


class AuditEntryRead(BaseModel):
    """One audited act: who, what, on which record, and why."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    at: datetime
    subject: str
    action: str
    entity_type: str
    entity_id: uuid.UUID
    reason: str | None
    request_id: str | None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def break_glass(self) -> bool:
        """Access through a break-the-glass grant, outside the subject's sites."""
        return bool(self.reason and self.reason.startswith(BREAK_GLASS))


@router.get(
    "", response_model=Page[AuditEntryRead], responses=problem_responses(BadRequest)
)
async def list_audit_entries(
    session: SessionDep,
    actor: AuditorActor,
    entity_id: uuid.UUID | None = None,
    beneficiary_id: Annotated[
        uuid.UUID | None,
        Query(
            description="The person and every record of theirs: cases (with "
            "their assessments and plans), referrals, enrolments, service "
            "records, risk alerts."
        ),
    ] = None,
    subject: Annotated[Text | None, Query(max_length=255)] = None,
    action: Annotated[Text | None, Query(max_length=32)] = None,
    start: StartTime = None,
    end: EndTime = None,
    break_glass: bool | None = None,
    cursor: CursorQuery = None,
    limit: LimitQuery = 100,
    since: OldStartTime = None,
    until: OldEndTime = None,
) -> Page[AuditEntryRead]:
    """Who read or changed which record of your organisation, when and why
    (``reason``: the X-Access-Reason header, or ``break-glass: ...`` for
    access through a grant), newest first. Reading the log is audited too,
    against the person or record filtered on when you can see it, else
    against the organisation. A token limited to some sites sees the entries
    about people and records at those sites only."""
    principal = actor.principal

    async def fetch() -> tuple[Page[AuditEntry], uuid.UUID]:
        """The page, and what reading it is audited against: the filtered
        person or record when the caller can see it, else the organisation."""
        page = await audit_service.list_entries(
            session,
            principal,
            entity_id=entity_id,
            beneficiary_id=beneficiary_id,
            subject=subject,
            action=action,
            start=either(start, since, new="start", old="since"),
            end=either(end, until, new="end", old="until"),
            break_glass=break_glass,
            cursor=cursor,
            limit=limit,
        )
        filtered = [i for i in (beneficiary_id, entity_id) if i is not None]
        named = await audit_service.visible_ids(session, principal, filtered)
        org = principal.organisation_id
        return page, next((i for i in filtered if i in named), org)

    page, _ = await audit_log.read(
        session, actor, "read_audit", "audit_log", fetch, lambda found: [found[1]]
    )
    return page.map(AuditEntryRead.model_validate)
