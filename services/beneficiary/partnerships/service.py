"""Rules for partnerships: the lead's programme manager agrees one with an
organisation that asked it to lead (agreeing approves that request), for a
project it leads, a period, places and activities; lead and partner read
it; only the lead edits it. ``organisations.service.delivery_of`` reads
them to decide, per record, whether it counts under the lead."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from services.beneficiary.locations import service as locations_service
from services.beneficiary.organisations import service as organisations_service
from services.beneficiary.organisations.models import Organisation
from services.beneficiary.partners import service as partners_service
from services.beneficiary.partners.models import OrganisationProfile
from services.beneficiary.partnerships.models import Partnership
from services.beneficiary.partnerships.schemas import (
    PartnershipCreate,
    PartnershipRead,
    PartnershipUpdate,
)
from services.beneficiary.projects.models import Project
from shared.auth import Principal
from shared.db import utcnow
from shared.errors import Forbidden, Invalid, NotFound, VersionConflict
from shared.pagination import Page, aware_datetime, keyset_page
from shared.taxonomy.activities import get_activity


async def _check_scope(
    session: AsyncSession, location_ids: list[uuid.UUID], activity_codes: list[str]
) -> None:
    await locations_service.require_locations(
        session, location_ids, ["body", "location_ids"]
    )
    unknown = [code for code in activity_codes if get_activity(code) is None]
    if unknown:
        raise Invalid.field(
            ["body", "activity_codes"],
            "unknown activity",
            "activity",
            f"Unknown activities: {', '.join(unknown)}.",
        )


async def create_partnership(
    session: AsyncSession, principal: Principal, data: PartnershipCreate
) -> Partnership:
    """Agree a partnership with an organisation that named the caller's as
    its lead (approving that request now if it waits), or with one the
    caller's organisation registered as prospective and selected (agreeing
    is then its request and its approval at once; its profile moves to
    ``partner``); the project, if named, is one the caller's organisation
    leads and lists the partner."""
    partner = await session.get(Organisation, data.partner_organisation_id)
    if partner is None:
        raise Invalid.field(
            ["body", "partner_organisation_id"],
            "unknown organisation",
            "unknown_organisation",
            "The partner organisation is not registered.",
        )
    lead_id = principal.organisation_id
    selected = await _selected_by(session, lead_id, partner)
    if partner.lead_organisation_id != lead_id:
        if partner.requested_lead_organisation_id != lead_id and selected is None:
            raise Forbidden(
                "This organisation has not asked your organisation to lead it, "
                "nor did your organisation register and select it."
            )
        partner.requested_lead_organisation_id = lead_id
        await organisations_service.approve_partner(
            session, principal, partner.id, open_ended=False
        )
    if data.project_id is not None:
        project = await session.get(Project, data.project_id)
        if project is None or project.organisation_id != lead_id:
            raise Invalid.field(
                ["body", "project_id"],
                "unknown project",
                "unknown_project",
                "The project is not one your organisation leads.",
            )
        if str(partner.id) not in project.partner_organisation_ids:
            raise Invalid.field(
                ["body", "project_id"],
                "partner not in project",
                "not_a_project_partner",
                "List the partner among the project's partners first.",
            )
    await _check_scope(session, data.location_ids, data.activity_codes)
    stored = data.model_dump(mode="json")
    partnership = Partnership(
        lead_organisation_id=lead_id,
        partner_organisation_id=partner.id,
        project_id=data.project_id,
        start=data.start,
        end=data.end,
        location_ids=stored["location_ids"],
        activity_codes=stored["activity_codes"],
        created_by=principal.subject,
    )
    session.add(partnership)
    await session.flush()
    if selected is not None:
        await partners_service.note_history(
            session,
            principal,
            partner.id,
            data.start,
            "partnership",
            partnership.id,
            status="partner",
        )
    return partnership


async def _selected_by(
    session: AsyncSession, lead_id: uuid.UUID, partner: Organisation
) -> OrganisationProfile | None:
    """The profile of a prospective organisation the lead keeps and has
    selected, led by no one yet: the lead may agree a partnership with it
    without a request, as it has no users to make one."""
    if partner.lead_organisation_id is not None:
        return None
    profile = await session.get(OrganisationProfile, partner.id)
    if (
        profile is None
        or profile.steward_organisation_id != lead_id
        or profile.programme_status != "selected"
    ):
        return None
    return profile


def _readable(principal: Principal) -> Any:
    """Partnerships the caller's organisation leads or is the partner in."""
    mine = principal.organisation_id
    return select(Partnership).where(
        (col(Partnership.lead_organisation_id) == mine)
        | (col(Partnership.partner_organisation_id) == mine)
    )


async def get_partnership(
    session: AsyncSession,
    principal: Principal,
    partnership_id: uuid.UUID,
    *,
    for_update: bool = False,
) -> Partnership:
    statement = _readable(principal).where(col(Partnership.id) == partnership_id)
    if for_update:
        statement = statement.with_for_update()
    found: Partnership | None = (await session.execute(statement)).scalar_one_or_none()
    if found is None:
        raise NotFound("No such partnership.")
    return found


async def list_partnerships(
    session: AsyncSession,
    principal: Principal,
    *,
    partner_organisation_id: uuid.UUID | None,
    cursor: str | None,
    limit: int,
) -> Page[Partnership]:
    statement = _readable(principal)
    if partner_organisation_id is not None:
        statement = statement.where(
            col(Partnership.partner_organisation_id) == partner_organisation_id
        )
    rows, next_cursor = await keyset_page(
        session,
        statement,
        key=col(Partnership.created_at),
        parse_key=aware_datetime,
        cursor=cursor,
        limit=limit,
    )
    return Page(items=rows, next_cursor=next_cursor)


async def update_partnership(
    session: AsyncSession,
    principal: Principal,
    partnership_id: uuid.UUID,
    data: PartnershipUpdate,
    expected_version: int,
) -> Partnership:
    """The lead changes the period, places or activities (ending one is
    setting its ``end``); records already written keep how they counted."""
    partnership = await get_partnership(
        session, principal, partnership_id, for_update=True
    )
    if partnership.lead_organisation_id != principal.organisation_id:
        raise Forbidden("Only the lead edits a partnership.")
    if partnership.version != expected_version:
        raise VersionConflict(
            f"You edited version {expected_version}; the server has "
            f"version {partnership.version}.",
            current=PartnershipRead.model_validate(partnership).model_dump(mode="json"),
        )
    changes = data.model_dump(mode="json", exclude_unset=True)
    start = data.start if "start" in changes else partnership.start
    end = data.end if "end" in changes else partnership.end
    if start is not None and end is not None and end < start:
        raise Invalid.field(
            ["body", "end"], "before start", "period", "The end is before the start."
        )
    await _check_scope(session, data.location_ids or [], data.activity_codes or [])
    partnership.start, partnership.end = start, end
    for name in ("location_ids", "activity_codes"):
        if name in changes:
            setattr(partnership, name, changes[name] or [])
    partnership.version += 1
    partnership.updated_at = utcnow()
    await session.flush()
    return partnership
