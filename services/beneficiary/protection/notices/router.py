"""Routes of notices to the data protection focal point."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from services.beneficiary.access import OversightActor
from services.beneficiary.audit.models import audit_log
from services.beneficiary.protection.notices import service as notices
from services.beneficiary.protection.notices.models import NoticeDelivery
from services.beneficiary.protection.notices.schemas import NoticeRead
from shared.contracts.text import Text
from shared.db import SessionDep
from shared.pagination import DEFAULT_LIMIT, CursorQuery, LimitQuery, Page

router = APIRouter(tags=["data protection"])


@router.get("/v1/protection-notices", response_model=Page[NoticeRead])
async def list_notices(
    session: SessionDep,
    actor: OversightActor,
    kind: Annotated[Text | None, Query(max_length=64)] = None,
    delivery: NoticeDelivery | None = None,
    cursor: CursorQuery = None,
    limit: LimitQuery = DEFAULT_LIMIT,
) -> Page[NoticeRead]:
    """Notices to the data protection focal point and whether their webhook
    took them (``dead_letter``: it never did; ``not_configured``: no webhook),
    newest first."""
    principal = actor.principal
    page = await audit_log.read(
        session,
        actor,
        "read_notices",
        "organisation",
        lambda: notices.list_notices(
            session,
            principal,
            kind=kind,
            delivery=delivery,
            cursor=cursor,
            limit=limit,
        ),
        lambda _: [principal.organisation_id],
    )
    return page.map(NoticeRead.model_validate)
