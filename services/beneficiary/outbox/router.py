from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from services.beneficiary.db import OutboxCounter, OutboxEvent
from shared.app import RuntimeDep
from shared.auth import Principal, Role, require
from shared.contracts.events import EventFeedPage
from shared.db import SessionDep
from shared.errors import Forbidden
from shared.outbox import read_feed, sequence_pending_events

router = APIRouter(prefix="/v1/events", tags=["change feed"])


@router.get("", response_model=EventFeedPage)
async def read_events(
    session: SessionDep,
    runtime: RuntimeDep,
    principal: Annotated[
        Principal,
        Depends(require(Role.service, Role.me_officer, Role.programme_manager)),
    ],
    after: Annotated[
        int, Query(ge=0, le=2**62, description="Last position you hold.")
    ] = 0,
    limit: Annotated[int, Query(ge=1, le=5000)] = 1000,
) -> EventFeedPage:
    """The ordered change feed (no PII). Machine accounts of other services see
    every organisation; people see their own organisation's events."""
    if Role.service not in principal.roles and principal.site_ids is not None:
        raise Forbidden(
            "The change feed covers every site of the organisation; a token "
            "limited to some sites cannot read it."
        )
    await sequence_pending_events(runtime.engine, OutboxEvent, OutboxCounter)
    organisation = (
        None if Role.service in principal.roles else principal.organisation_id
    )
    async with session.begin():
        events = await read_feed(
            session,
            OutboxEvent,
            source="beneficiary",
            after=after,
            limit=limit,
            organisation_id=organisation,
        )
    return EventFeedPage(
        events=events, next_after=events[-1].position if events else after
    )
