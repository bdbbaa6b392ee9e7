"""Forgetting an erased beneficiary: their id goes from practice groups'
client lists and session attendance, replaced by a pseudonym that means
nothing outside this service, so the groups' counts stay; the recording
references and review feedback of those groups' sessions are erased.

The beneficiary service's publish job enqueues ``forget_beneficiary`` on
this service's queue for each ``beneficiary.erased`` event (the fast path);
``pull_beneficiary_erasures`` reads the beneficiary change feed for those
events every minute (the repair path). Forgetting is idempotent: once the id
is gone there is nothing left to replace.
"""

from __future__ import annotations

import uuid

import structlog
from sqlalchemy import String, cast, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from services.training.db import FeedCursor
from services.training.practice import service as practice_service
from services.training.practice.models import PracticeGroup, PracticeSession
from services.training.settings import TrainingSettings
from shared.app import Runtime
from shared.contracts.erasure import ERASED_EVENT
from shared.contracts.events import BeneficiaryErasedFacts, EventFeedPage
from shared.db import under, utcnow
from shared.peers import PeerUnavailable
from shared.queue import JobContext

log = structlog.get_logger(__name__)
ERASURES_CURSOR = "beneficiary.erased"  # the feed cursor's name
PULL_PAGE = 1000


async def forget_client(session: AsyncSession, facts: BeneficiaryErasedFacts) -> int:
    """Replace the person's id wherever a practice group of their
    organisation holds it (another organisation's person may have the same
    id), and erase the free text about those groups' sessions (it could name
    them); returns how many groups held it."""
    target = str(facts.beneficiary_id)
    groups = (
        await session.execute(
            select(PracticeGroup)
            .where(
                col(PracticeGroup.organisation_id) == facts.organisation_id,
                cast(PracticeGroup.client_ids, String).contains(target),
            )
            .with_for_update()
        )
    ).scalars()
    pseudonym = str(uuid.uuid4())
    changed: list[uuid.UUID] = []
    for group in groups:
        if target not in group.client_ids:
            continue
        group.client_ids = [pseudonym if c == target else c for c in group.client_ids]
        sessions = await session.execute(
            select(PracticeSession).where(under(col(PracticeSession.group_id), group))
        )
        for held in sessions.scalars():
            if target in held.attended_client_ids:
                held.attended_client_ids = [
                    pseudonym if c == target else c for c in held.attended_client_ids
                ]
        changed.append(group.id)
    await practice_service.forget_session_text(session, facts.organisation_id, changed)
    await session.flush()
    return len(changed)


async def forget_beneficiary(
    ctx: JobContext, beneficiary_id: str, organisation_id: str
) -> int:
    """The fast path: one erasure sent by the beneficiary service."""
    runtime: Runtime = ctx["runtime"]
    facts = BeneficiaryErasedFacts(
        beneficiary_id=uuid.UUID(beneficiary_id),
        organisation_id=uuid.UUID(organisation_id),
    )
    async with AsyncSession(runtime.engine) as session, session.begin():
        changed = await forget_client(session, facts)
    if changed:
        log.info("beneficiary_forgotten", groups=changed)
    return changed


async def pull_beneficiary_erasures(ctx: JobContext) -> int:
    """The repair path (cron): every erasure in the beneficiary change feed
    after this service's cursor, forgotten with the cursor moved in the same
    transaction. Returns how many erasures were read."""
    runtime: Runtime = ctx["runtime"]
    settings = runtime.settings
    assert isinstance(settings, TrainingSettings)
    total = 0
    while True:
        async with AsyncSession(runtime.engine) as session:
            cursor = await session.get(FeedCursor, ERASURES_CURSOR)
            after = cursor.position if cursor else 0
        try:
            page = await settings.beneficiary.get(
                runtime,
                "/v1/events",
                EventFeedPage,
                params={"cursor": after, "limit": PULL_PAGE, "type": ERASED_EVENT},
            )
        except PeerUnavailable as exc:
            log.warning("erasure_pull_failed", error=exc.detail)
            return total
        async with AsyncSession(runtime.engine) as session, session.begin():
            for event in page.items:
                if event.type == ERASED_EVENT:
                    facts = BeneficiaryErasedFacts.model_validate(event.data)
                    await forget_client(session, facts)
            cursor = await session.get(
                FeedCursor, ERASURES_CURSOR, with_for_update=True
            )
            if cursor is None:
                cursor = FeedCursor(source=ERASURES_CURSOR, position=0)
                session.add(cursor)
            cursor.position = max(cursor.position, page.next_cursor)
            cursor.updated_at = utcnow()
        total += len(page.items)
        if not page.has_more:
            return total
