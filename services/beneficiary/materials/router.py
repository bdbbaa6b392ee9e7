"""HTTP API for materials distributed: record a line on a group activity or
a service record, list and read lines, void one entered in error, and the
materials list. Creates are idempotent (Idempotency-Key, client ids), every
write is audited and announced to the outbox.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from services.beneficiary.access import FieldActor
from services.beneficiary.audit.models import audit_log
from services.beneficiary.db import OnceDep
from services.beneficiary.materials import service as materials_service
from services.beneficiary.materials.models import MaterialDistribution
from services.beneficiary.materials.schemas import (
    MaterialDistributionCreate,
    MaterialDistributionRead,
    MaterialItem,
    MaterialList,
)
from services.beneficiary.service_records.schemas import VoidRequest
from shared.auth import PrincipalDep
from shared.db import SessionDep
from shared.errors import Conflict, Invalid, NotFound, problem_responses
from shared.pagination import DEFAULT_LIMIT, CursorQuery, LimitQuery, Page
from shared.taxonomy.materials import materials

router = APIRouter(tags=["materials"])


async def _render(line: MaterialDistribution) -> MaterialDistributionRead:
    return MaterialDistributionRead.model_validate(line)


@router.post(
    "/v1/material-distributions",
    status_code=201,
    response_model=MaterialDistributionRead,
    responses=problem_responses(NotFound, Conflict, Invalid),
)
async def record_material_distribution(
    body: MaterialDistributionCreate,
    session: SessionDep,
    actor: FieldActor,
    once: OnceDep,
) -> MaterialDistributionRead:
    """Record items handed out at a group activity or with a service (200
    school bags at a recreational activity; 40 leaflets in Sorani): one line
    per item and language. Reports count the quantity, never the people."""
    principal = actor.principal
    return await once.answer_versioned(
        principal,
        "POST /v1/material-distributions",
        body,
        lambda: materials_service.record_distribution(session, principal, body),
        lambda existing: materials_service.get_distribution(
            session, principal, existing
        ),
        _render,
        audit=audit_log.trail(actor, "create", "material_distribution"),
    )


@router.get("/v1/material-distributions", response_model=Page[MaterialDistributionRead])
async def list_material_distributions(
    session: SessionDep,
    actor: FieldActor,
    group_activity_id: uuid.UUID | None = None,
    service_record_id: uuid.UUID | None = None,
    cursor: CursorQuery = None,
    limit: LimitQuery = DEFAULT_LIMIT,
) -> Page[MaterialDistributionRead]:
    """Materials distributed in your scope, the latest first; filter by the
    group activity or service record they were handed out on."""
    async with session.begin():
        page = await materials_service.list_distributions(
            session,
            actor.principal,
            group_activity_id=group_activity_id,
            service_record_id=service_record_id,
            cursor=cursor,
            limit=limit,
        )
    return page.map(MaterialDistributionRead.model_validate)


@router.get(
    "/v1/material-distributions/{distribution_id}",
    response_model=MaterialDistributionRead,
    responses=problem_responses(NotFound),
)
async def get_material_distribution(
    distribution_id: uuid.UUID, session: SessionDep, actor: FieldActor
) -> MaterialDistributionRead:
    """One line of materials distributed in your scope."""
    async with session.begin():
        line = await materials_service.get_distribution(
            session, actor.principal, distribution_id
        )
    return MaterialDistributionRead.model_validate(line)


@router.post(
    "/v1/material-distributions/{distribution_id}/void",
    response_model=MaterialDistributionRead,
    responses=problem_responses(NotFound),
)
async def void_material_distribution(
    distribution_id: uuid.UUID,
    body: VoidRequest,
    session: SessionDep,
    actor: FieldActor,
    once: OnceDep,
) -> MaterialDistributionRead:
    """Void a line entered in error: it stops counting in every indicator.
    Voiding its service record voids it too."""
    principal = actor.principal
    return await once.answer_versioned(
        principal,
        f"POST /v1/material-distributions/{distribution_id}/void",
        body,
        lambda: materials_service.void_distribution(
            session, principal, distribution_id, body.reason
        ),
        lambda existing: materials_service.get_distribution(
            session, principal, existing
        ),
        _render,
        audit=audit_log.trail(actor, "void", "material_distribution"),
    )


@router.get("/v1/taxonomy/materials", response_model=MaterialList, tags=["taxonomy"])
async def list_materials(_: PrincipalDep) -> MaterialList:
    """The items materials distributed may name, with their English names."""
    return MaterialList(
        items=[MaterialItem(code=c, name=n) for c, n in materials().items()]
    )
