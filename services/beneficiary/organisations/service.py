from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from services.beneficiary.organisations.models import Organisation
from services.beneficiary.organisations.schemas import OrganisationCreate
from shared.contracts.enums import DeliveredThrough
from shared.db import get_cached
from shared.errors import Conflict, FieldError, Invalid, NotFound


async def create_organisation(
    session: AsyncSession, data: OrganisationCreate
) -> Organisation:
    """Add an organisation; a partner must name an existing lead that is not
    itself a partner (one level, as programmes contract)."""
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
    organisation = Organisation(**data.model_dump(exclude_none=True))
    session.add(organisation)
    await session.flush()
    return organisation


async def get_organisation(
    session: AsyncSession, organisation_id: uuid.UUID
) -> Organisation:
    organisation = await session.get(Organisation, organisation_id)
    if organisation is None:
        raise NotFound("No such organisation.")
    return organisation


async def list_organisations(session: AsyncSession) -> list[Organisation]:
    rows = await session.execute(select(Organisation).order_by(col(Organisation.name)))
    return list(rows.scalars())


async def delivery_of(
    session: AsyncSession, organisation_id: uuid.UUID
) -> tuple[uuid.UUID, DeliveredThrough]:
    """The programme lead and whether work by this organisation is direct or
    through a partner (frozen on each record when it is written)."""
    organisation = await get_cached(session, Organisation, organisation_id)
    if organisation is None:
        raise Invalid("The caller's organisation is not registered on this platform.")
    if organisation.lead_organisation_id is None:
        return organisation.id, DeliveredThrough.direct
    return organisation.lead_organisation_id, DeliveredThrough.partner
