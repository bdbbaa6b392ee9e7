"""Rules for organisations: a partner's lead must exist, only the lead's own
admin approves a partner, and ``delivery_of()`` tells each record whether the
work was direct or through a partner, and under which lead: through a
partner only while a partnership covers the record's date, site and activity
(docs/decisions/0012-projects-teams-partnerships.md).
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

from fastapi import Depends, Request, Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from services.beneficiary.access import organisation_wide
from services.beneficiary.locations.models import Location
from services.beneficiary.organisations.models import Organisation
from services.beneficiary.organisations.schemas import (
    OrganisationCreate,
    OrganisationRead,
    OrganisationUpdate,
)
from services.beneficiary.partnerships.models import Partnership, PartnershipOrigin
from shared.auth import Principal, PrincipalDep
from shared.contracts.enums import DeliveredThrough
from shared.db import SessionDep, get_cached, utcnow
from shared.errors import (
    Conflict,
    FieldError,
    Forbidden,
    Invalid,
    NotFound,
    VersionConflict,
)
from shared.i18n import LangQuery, Language, chosen_language
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
    session: AsyncSession,
    principal: Principal,
    partner_id: uuid.UUID,
    *,
    open_ended: bool = True,
) -> Organisation:
    """The lead's admin accepts a partner's request. Only the requested lead
    may approve, with an organisation-wide token; a lead that has become a
    partner, or a partner that leads others, would make a second level (409).

    ``open_ended``: the approval is also an open-ended partnership over every
    place and activity, so the partner's records count under the lead as
    they did before partnerships existed, until the lead ends it; a
    partnership agreement approves without one (``open_ended=False``)."""
    organisation_wide(principal)
    partner = await get_organisation(session, partner_id, for_update=True)
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
    if open_ended:
        session.add(
            Partnership(
                lead_organisation_id=principal.organisation_id,
                partner_organisation_id=partner.id,
                origin=PartnershipOrigin.lead_approval,
                created_by=principal.subject,
            )
        )
    await session.flush()
    return partner


async def update_organisation(
    session: AsyncSession,
    principal: Principal,
    organisation_id: uuid.UUID,
    data: OrganisationUpdate,
    expected_version: int,
) -> Organisation:
    """The organisation's own admin (organisation-wide) sets its default
    language, edited at ``expected_version``. Reporting copies it with the
    organisation's name (``refresh_dimensions``): no event needed."""
    organisation_wide(principal)
    if organisation_id != principal.organisation_id:
        raise Forbidden("Only an organisation's own admin may change it.")
    organisation = await get_organisation(session, organisation_id, for_update=True)
    if organisation.version != expected_version:
        raise VersionConflict(
            f"You edited version {expected_version}; the server has "
            f"version {organisation.version}.",
            current=OrganisationRead.model_validate(organisation).model_dump(
                mode="json"
            ),
        )
    organisation.default_language = data.default_language.value
    organisation.version += 1
    await session.flush()
    return organisation


async def organisation_language(
    request: Request,
    response: Response,
    session: SessionDep,
    principal: PrincipalDep,
    lang: LangQuery = None,
) -> Language:
    """The language of a document for the caller: ``lang``, else
    Accept-Language, else their organisation's default, else English."""
    async with session.begin():
        organisation = await session.get(Organisation, principal.organisation_id)
    default = None if organisation is None else organisation.default_language
    return chosen_language(request, response, lang, default)


OrganisationLanguage = Annotated[Language, Depends(organisation_language)]


async def get_organisation(
    session: AsyncSession, organisation_id: uuid.UUID, *, for_update: bool = False
) -> Organisation:
    """An organisation by id (locked with ``for_update``), else 404."""
    organisation = await session.get(
        Organisation, organisation_id, with_for_update=for_update
    )
    if organisation is None:
        raise NotFound("No such organisation.")
    return organisation


async def existing_organisations(
    session: AsyncSession, ids: list[uuid.UUID]
) -> list[uuid.UUID]:
    """Which of ``ids`` are organisations on the platform, in the order asked."""
    found = set(
        (
            await session.execute(
                select(col(Organisation.id)).where(col(Organisation.id).in_(ids))
            )
        ).scalars()
    )
    return [i for i in dict.fromkeys(ids) if i in found]


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
    session: AsyncSession,
    organisation_id: uuid.UUID,
    *,
    on: date,
    site_id: uuid.UUID | None,
    activity_code: str,
) -> tuple[uuid.UUID, DeliveredThrough]:
    """The programme lead and whether work by this organisation is direct or
    through a partner (frozen on each record when it is written). A
    partner's work counts under its approved lead only while a partnership
    covers it: its date, its site (under one of the partnership's places)
    and its activity; anything else is the organisation's own work."""
    organisation = await get_cached(session, Organisation, organisation_id)
    if organisation is None:
        raise Invalid("The caller's organisation is not registered on this platform.")
    lead = organisation.lead_organisation_id
    if lead is None:
        return organisation.id, DeliveredThrough.direct
    partnerships = (
        await session.execute(
            select(Partnership).where(
                col(Partnership.lead_organisation_id) == lead,
                col(Partnership.partner_organisation_id) == organisation.id,
            )
        )
    ).scalars()
    places = await _places_of(session, site_id)
    for partnership in partnerships:
        if covers(partnership, on, places, activity_code):
            return lead, DeliveredThrough.partner
    return organisation.id, DeliveredThrough.direct


def covers(
    partnership: Partnership, on: date, places: set[str], activity_code: str
) -> bool:
    """Whether a partnership covers a record of that date, at a site with
    those ``places`` (the site and its ancestors), of that activity."""
    return (
        (partnership.start is None or partnership.start <= on)
        and (partnership.end is None or on <= partnership.end)
        and (
            not partnership.location_ids or bool(places & set(partnership.location_ids))
        )
        and (
            not partnership.activity_codes
            or activity_code in partnership.activity_codes
        )
    )


async def _places_of(session: AsyncSession, site_id: uuid.UUID | None) -> set[str]:
    """The site and every place above it, as strings."""
    found: set[str] = set()
    place_id = site_id
    while place_id is not None and len(found) < 8:
        found.add(str(place_id))
        place = await get_cached(session, Location, place_id)
        place_id = place.parent_id if place is not None else None
    return found
