"""Who may do what in the beneficiary service: every route's actor
dependency is declared here, so the roles of a route are read in one place."""

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends

from services.beneficiary.db import IdempotencyRecord
from shared.audit import Actor, acting
from shared.auth import Principal, PrincipalDep, Role, require
from shared.errors import Forbidden
from shared.idempotency import Acting, acting_once

FIELD_STAFF = (
    Role.case_worker,
    Role.outreach_worker,
    Role.supervisor,
    Role.programme_manager,
)
SUPERVISORS = (Role.supervisor, Role.programme_manager)
CASE_STAFF = (Role.case_worker, Role.supervisor, Role.programme_manager)
"""Case management, care and referrals: not outreach workers."""
OVERSIGHT = (Role.programme_manager, Role.auditor)


def is_supervisor(principal: Principal) -> bool:
    """Supervisors' acts (erasure, large anonymous counts) in service code."""
    return principal.has_any((*SUPERVISORS, Role.admin))


FieldActor = Annotated[Actor, Depends(acting(*FIELD_STAFF))]
FieldWrite = Annotated[Acting, Depends(acting_once(IdempotencyRecord, *FIELD_STAFF))]
"""A field write's actor, session and Idempotency-Key in one dependency."""
SupervisorActor = Annotated[Actor, Depends(acting(*SUPERVISORS))]
FieldStaff = Annotated[Principal, Depends(require(*FIELD_STAFF))]
Auditor = Annotated[Principal, Depends(require(Role.auditor))]
AuditorActor = Annotated[Actor, Depends(acting(Role.auditor))]
CaseActor = Annotated[Actor, Depends(acting(*CASE_STAFF))]
ManagerActor = Annotated[Actor, Depends(acting(Role.programme_manager))]
OversightActor = Annotated[Actor, Depends(acting(*OVERSIGHT))]
"""Programme managers and auditors reading what the organisation holds
(sharing agreements, access reviews)."""
Oversight = Annotated[Principal, Depends(require(*OVERSIGHT))]


def organisation_wide(principal: Principal) -> Principal:
    """Acts on or over the whole organisation (its retention, every site's
    runs, its teams and projects) need a token limited to no sites and no team."""
    if principal.site_ids is not None or principal.team_id is not None:
        raise Forbidden(
            "This acts on the whole organisation; a token limited to some sites "
            "or to one team cannot."
        )
    return principal


async def organisation_manager(
    actor: Annotated[Actor, Depends(acting(Role.programme_manager))],
) -> Actor:
    organisation_wide(actor.principal)
    return actor


OrganisationManager = Annotated[Actor, Depends(organisation_manager)]
"""A programme manager acting for the whole organisation (its retention,
its sharing agreements)."""


async def platform_admin(principal: PrincipalDep) -> Principal:
    """Registering organisations is the platform operator's act: the role
    ``platform_admin`` itself, which an organisation's ``admin`` does not imply
    (whatever ``org`` their token names)."""
    if Role.platform_admin not in principal.roles:
        raise Forbidden("Only a platform administrator may register organisations.")
    return principal


PlatformAdmin = Annotated[Principal, Depends(platform_admin)]


PARTNER_MANAGERS = (Role.admin, Role.programme_manager)
"""Who registers prospective organisations, maps, opens selection rounds and
decides them: the lead's admin or programme manager."""
PARTNER_STAFF = (*PARTNER_MANAGERS, Role.me_officer, Role.supervisor)
"""Who also assesses capacity, scores applications and records needs."""


def _whole_organisation(*roles: Role) -> Callable[..., Awaitable[Actor]]:
    """Acts about whole organisations (partner work, an organisation's own
    settings): an organisation-wide token with one of ``roles``."""

    async def actor(actor: Annotated[Actor, Depends(acting(*roles))]) -> Actor:
        organisation_wide(actor.principal)
        return actor

    return actor


PartnerManager = Annotated[Actor, Depends(_whole_organisation(*PARTNER_MANAGERS))]
PartnerStaff = Annotated[Actor, Depends(_whole_organisation(*PARTNER_STAFF))]
PartnerReader = Annotated[
    Actor, Depends(_whole_organisation(*PARTNER_STAFF, Role.auditor))
]
OrganisationAdmin = Annotated[Actor, Depends(_whole_organisation(Role.admin))]
"""An organisation's admin acting for the whole organisation (its default
language), each write audited as the actor's."""


StructureManager = Annotated[Actor, Depends(organisation_manager)]
"""A programme manager (or admin) of the whole organisation: sets up its
teams, projects and partnerships, each write audited as the actor's."""
StructureReader = Annotated[
    Principal,
    Depends(require(*FIELD_STAFF, Role.me_officer, Role.auditor)),
]
"""The organisation's staff reading its teams, projects and partnerships."""
