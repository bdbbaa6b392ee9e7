"""The rules of recording materials: the record they were handed out on is
in the caller's scope (organisation, sites, team) and not voided; its date,
activity, site, team and project are copied onto the line; every write
announces a ``material_distribution.*`` event with counts only. Functions
flush; the handler commits.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from services.beneficiary.audit.models import audit_log
from services.beneficiary.db import OutboxEvent
from services.beneficiary.materials.models import MaterialDistribution
from services.beneficiary.materials.schemas import MaterialDistributionCreate
from services.beneficiary.service_records.models import GroupActivity, ServiceRecord
from services.beneficiary.service_records.service import scoped
from shared.audit import Actor
from shared.auth import Principal
from shared.contracts.events import EventType, MaterialDistributionFacts
from shared.db import get_cached
from shared.errors import Conflict, Invalid, NotFound
from shared.outbox import add_event
from shared.pagination import Page, ordered_page
from shared.scoping import get_in_scope


async def after_record(
    session: AsyncSession,
    principal: Principal,
    model: Any,
    client_id: uuid.UUID | None,
    group_activity_id: uuid.UUID | None,
    service_record_id: uuid.UUID | None,
) -> tuple[uuid.UUID, date, dict[str, Any]]:
    """For a new row of ``model`` about a group activity or a service record
    (exactly one is named): its id (the client's, refused when taken), the
    record's date and the columns copied from it. The record must be in the
    caller's scope and not voided."""
    kind: Any = GroupActivity if group_activity_id else ServiceRecord
    field = "group_activity_id" if group_activity_id else "service_record_id"
    # FOR SHARE OF the record: a void running at the same time (it updates
    # the record, then voids its lines) either waits for this line and then
    # voids it too, or commits first and this read sees the record voided.
    record = (
        await session.execute(
            scoped(select(kind), principal, kind)
            .where(col(kind.id) == (group_activity_id or service_record_id))
            .with_for_update(read=True, of=kind)
            .execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()
    if record is None:
        what = "group activity" if group_activity_id else "service record"
        raise NotFound(f"No such {what}.")
    if record.voided:
        raise Invalid.field(
            ["body", field], "voided", "voided", "The record named is voided."
        )
    taken = client_id is not None and await get_cached(
        session, model, (principal.organisation_id, client_id)
    )
    if taken:
        raise Conflict("A record with this id exists already.")
    day = (
        record.activity_date
        if isinstance(record, GroupActivity)
        else record.service_date
    )
    return (
        client_id or uuid.uuid4(),
        day,
        {
            "organisation_id": record.organisation_id,
            "group_activity_id": group_activity_id,
            "service_record_id": service_record_id,
            "lead_organisation_id": record.lead_organisation_id,
            "activity_code": record.activity_code,
            "site_id": record.site_id,
            "team_id": record.team_id,
            "project_id": record.project_id,
            "created_by": principal.subject,
        },
    )


async def record_distribution(
    session: AsyncSession, principal: Principal, data: MaterialDistributionCreate
) -> MaterialDistribution:
    """One line of items handed out, on a record of the caller's scope."""
    new_id, day, copied = await after_record(
        session,
        principal,
        MaterialDistribution,
        data.id,
        data.group_activity_id,
        data.service_record_id,
    )
    line = MaterialDistribution(
        id=new_id,
        item_code=data.item_code,
        quantity=data.quantity,
        language=data.language,
        distributed_on=day,
        **copied,
    )
    session.add(line)
    _emit(session, line, EventType.material_distribution_recorded)
    await session.flush()
    return line


async def get_distribution(
    session: AsyncSession,
    principal: Principal,
    distribution_id: uuid.UUID,
    *,
    for_update: bool = False,
) -> MaterialDistribution:
    """One line in the caller's scope (locked with ``for_update``)."""
    return await get_in_scope(
        session,
        principal,
        MaterialDistribution,
        distribution_id,
        what="material distribution",
        for_update=for_update,
    )


async def list_distributions(
    session: AsyncSession,
    principal: Principal,
    *,
    group_activity_id: uuid.UUID | None,
    service_record_id: uuid.UUID | None,
    cursor: str | None,
    limit: int,
) -> Page[MaterialDistribution]:
    """Lines in the caller's scope, the latest handed out first."""
    statement = scoped(select(MaterialDistribution), principal, MaterialDistribution)
    if group_activity_id is not None:
        statement = statement.where(
            col(MaterialDistribution.group_activity_id) == group_activity_id
        )
    if service_record_id is not None:
        statement = statement.where(
            col(MaterialDistribution.service_record_id) == service_record_id
        )
    return await ordered_page(
        session,
        statement,
        keys=[(col(MaterialDistribution.distributed_on), date.fromisoformat)],
        cursor=cursor,
        limit=limit,
        descending=True,
    )


async def void_distribution(
    session: AsyncSession, principal: Principal, distribution_id: uuid.UUID, reason: str
) -> MaterialDistribution:
    """Void a line entered in error: it stops counting. Twice changes nothing."""
    line = await get_distribution(session, principal, distribution_id, for_update=True)
    if line.voided:
        return line
    _void(session, line, reason)
    await session.flush()
    return line


async def void_with_record(
    session: AsyncSession, actor: Actor, record: ServiceRecord
) -> list[MaterialDistribution]:
    """A voided service record takes its material lines with it, in the same
    transaction: each line still counting is voided with the record's reason,
    audited and announced, so reporting drops it. Lines voided before keep
    their own reason and version (nothing is undone), and a record voided
    twice finds none left, so a replayed void changes nothing."""
    if not record.voided:
        return []
    lines = list(
        (
            await session.execute(
                select(MaterialDistribution)
                .where(
                    col(MaterialDistribution.organisation_id) == record.organisation_id,
                    col(MaterialDistribution.service_record_id) == record.id,
                    col(MaterialDistribution.voided).is_(False),
                )
                .order_by(col(MaterialDistribution.id))
                .with_for_update()
            )
        ).scalars()
    )
    for line in lines:
        _void(session, line, record.void_reason)
    audit_log.record(
        session, actor, "void", "material_distribution", [line.id for line in lines]
    )
    await session.flush()
    return lines


def _void(
    session: AsyncSession, line: MaterialDistribution, reason: str | None
) -> None:
    """Stop a line counting, with why, and announce it."""
    line.voided = True
    line.void_reason = reason
    line.version += 1
    _emit(session, line, EventType.material_distribution_voided)


def _emit(session: AsyncSession, line: MaterialDistribution, kind: EventType) -> None:
    add_event(
        session,
        OutboxEvent,
        type=kind,
        organisation_id=line.organisation_id,
        entity_type="material_distribution",
        entity_id=line.id,
        facts=MaterialDistributionFacts(
            distribution_id=line.id,
            **line.model_dump(
                include={
                    "organisation_id",
                    "group_activity_id",
                    "service_record_id",
                    "item_code",
                    "quantity",
                    "language",
                    "distributed_on",
                    "lead_organisation_id",
                    "activity_code",
                    "site_id",
                    "team_id",
                    "project_id",
                    "voided",
                }
            ),
        ),
    )
