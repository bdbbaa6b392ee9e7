"""Rules for organisations: a partner's lead must exist, only the lead's own
admin approves a partner, and ``delivery_of()`` tells each record whether the
work was direct or through a partner, and under which lead.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from services.beneficiary.access import organisation_wide
from services.beneficiary.organisations.models import Organisation
from services.beneficiary.organisations.schemas import OrganisationCreate
from shared.auth import Principal
from shared.contracts.enums import DeliveredThrough
from shared.db import get_cached, utcnow
from shared.errors import Conflict, FieldError, Forbidden, Invalid, NotFound
from shared.pagination import Page, ordered_page


async def create_organisation(
    session: AsyncSession, data: OrganisationCreate
) -> Organisation:
    """Add an organisation (a platform act); a partner's lead must exist and
    be a lead itself (one level, as programmes contract), and the link only
    counts once that lead approves it (``approve_partner``)."""
    if data.lead_organisation_id is not None:
        lead = await session.get(Organisation, data.lead_organisation_id)
        if lead is None or lead.lead_organisation_id is not None:
            raise Invalid(
                "The lead organisation does not exist or is itself a partner.",
                errors=[
                    FieldError(
                        loc=["body", "lead_organisation_id"],
                        msg="unknown lead organisation",
                        type="lead_organisation",
                    )
                ],
            )
    clash = await session.execute(
        select(col(Organisation.id)).where(col(Organisation.name) == data.name)
    )
    if clash.first() is not None:
        raise Conflict(f"An organisation named {data.name!r} exists already.")
    organisation = Organisation(
        **data.model_dump(exclude_none=True, exclude={"lead_organisation_id"}),
        requested_lead_organisation_id=data.lead_organisation_id,
    )
    session.add(organisation)
    await session.flush()
    return organisation


async def approve_partner(
    session: AsyncSession, principal: Principal, partner_id: uuid.UUID
) -> Organisation:
    """The lead's admin accepts a partner's request: from now on the
    partner's new records count under the lead. Only the requested lead may
    approve, with an organisation-wide token; a lead that has become a
    partner, or a partner that leads others, would make a second level (409)."""
    organisation_wide(principal)
    partner = (
        await session.execute(
            select(Organisation)
            .where(col(Organisation.id) == partner_id)
            .with_for_update()
        )
    ).scalar_one_or_none()
    if partner is None:
        raise NotFound("No such organisation.")
    if partner.requested_lead_organisation_id != principal.organisation_id:
        raise Forbidden("This organisation has not asked your organisation to lead it.")
    lead = await session.get(Organisation, principal.organisation_id)
    leads_others = await session.execute(
        select(col(Organisation.id)).where(
            col(Organisation.lead_organisation_id) == partner.id
        )
    )
    if (
        lead is None
        or lead.lead_organisation_id is not None
        or leads_others.first() is not None
    ):
        raise Conflict("Only a lead that is not a partner may lead, one level deep.")
    partner.lead_organisation_id = partner.requested_lead_organisation_id
    partner.requested_lead_organisation_id = None
    partner.lead_approved_by = principal.subject
    partner.lead_approved_at = utcnow()
    await session.flush()
    return partner


async def get_organisation(
    session: AsyncSession, organisation_id: uuid.UUID
) -> Organisation:
    organisation = await session.get(Organisation, organisation_id)
    if organisation is None:
        raise NotFound("No such organisation.")
    return organisation


async def list_organisations(
    session: AsyncSession, *, cursor: str | None, limit: int
) -> Page[Organisation]:
    """Every registered organisation by name: a partner picks its lead here."""
    return await ordered_page(
        session,
        select(Organisation),
        keys=[(col(Organisation.name), str)],
        cursor=cursor,
        limit=limit,
    )


async def delivery_of(
    session: AsyncSession, organisation_id: uuid.UUID
) -> tuple[uuid.UUID, DeliveredThrough]:
    """The programme lead and whether work by this organisation is direct or
    through a partner (frozen on each record when it is written). Only an
    approved link counts: a pending one is the organisation's own work."""
    organisation = await get_cached(session, Organisation, organisation_id)
    if organisation is None:
        raise Invalid("The caller's organisation is not registered on this platform.")
    if organisation.lead_organisation_id is None:
        return organisation.id, DeliveredThrough.direct
    return organisation.lead_organisation_id, DeliveredThrough.partner
