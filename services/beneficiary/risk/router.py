"""HTTP API for risk alerts: a case worker's flag on a case, the organisation's
alerts (open ones first), and the acknowledgement, a supervisor's act. Each is
audited; a new alert's delivery is sent after the commit.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from services.beneficiary.access import CaseActor, SupervisorActor
from services.beneficiary.audit.models import audit_log
from services.beneficiary.beneficiaries import service as beneficiaries_service
from services.beneficiary.cases import service as cases_service
from services.beneficiary.db import OnceDep
from services.beneficiary.protection.grants import service as grants
from services.beneficiary.risk import service as risk_service
from services.beneficiary.risk.models import RiskAlert
from services.beneficiary.risk.service import (
    Acknowledge,
    AlertRead,
    CaseWorkerFlag,
    PersonFlag,
)
from shared.app import RuntimeDep
from shared.audit import Actor, Trail
from shared.contracts.enums import AlertStatus
from shared.db import SessionDep
from shared.errors import (
    Conflict,
    ConsentMissing,
    Forbidden,
    Invalid,
    NotFound,
    problem_responses,
)
from shared.idempotency import Once
from shared.pagination import DEFAULT_LIMIT, CursorQuery, LimitQuery, Page
from shared.scoping import get_in_scope
from shared.taxonomy.activities import risk_types

router = APIRouter(tags=["risk alerts"])


@router.post(
    "/v1/cases/{case_id}/risk-flags",
    status_code=201,
    response_model=AlertRead,
    responses=problem_responses(NotFound),
)
async def flag_risk(
    case_id: uuid.UUID,
    body: CaseWorkerFlag,
    session: SessionDep,
    actor: CaseActor,
    once: OnceDep,
) -> AlertRead:
    """A case worker's high-risk flag: alerts the case's supervisor at once."""
    principal = actor.principal

    async def flag() -> RiskAlert:
        case = await cases_service.get_case(session, principal, case_id)
        alert = risk_service.raise_alert(
            session, principal, case, flag=body.flag, source="case_worker"
        )
        await session.flush()
        return alert

    return await _once(
        once,
        actor,
        f"POST /v1/cases/{case_id}/risk-flags",
        body,
        flag,
        audit_log.trail(actor, "risk_flag", "case", _case_of),
    )


@router.post(
    "/v1/beneficiaries/{beneficiary_id}/risk-flags",
    status_code=201,
    response_model=AlertRead,
    responses=problem_responses(NotFound, Conflict, ConsentMissing),
)
async def flag_person_risk(
    beneficiary_id: uuid.UUID,
    body: PersonFlag,
    session: SessionDep,
    actor: CaseActor,
    once: OnceDep,
) -> AlertRead:
    """A case worker's risk flag on a registered person who may have no case
    (harm to others, violence disclosed, a child-protection concern...):
    alerts the supervisor named and the roles the risk type names at once."""
    return await _once(
        once,
        actor,
        f"POST /v1/beneficiaries/{beneficiary_id}/risk-flags",
        body,
        lambda: risk_service.flag_person(
            session, actor.principal, beneficiary_id, body
        ),
        audit_log.trail(actor, "risk_flag", "beneficiary", _person_of),
    )


@router.get(
    "/v1/risk-alerts",
    response_model=Page[AlertRead],
    responses=problem_responses(Invalid),
)
async def list_alerts(
    session: SessionDep,
    runtime: RuntimeDep,
    actor: CaseActor,
    status: AlertStatus | None = AlertStatus.open,
    flag: Annotated[
        str | None,
        Query(
            description="Only alerts of this risk type: "
            + ", ".join(risk_types())
            + "; another value is a 422 listing them."
        ),
    ] = None,
    cursor: CursorQuery = None,
    limit: LimitQuery = DEFAULT_LIMIT,
) -> Page[AlertRead]:
    """Alerts of your organisation (open ones by default), oldest first, with
    their delivery state (pending, delivered, dead_letter, not_configured)."""
    if flag is not None and flag not in risk_types():
        raise Invalid.field(
            ["query", "flag"],
            "unknown risk type; allowed: " + ", ".join(risk_types()),
            "enum",
            f"Unknown risk type {flag!r}.",
        )

    async def fetch() -> Page[RiskAlert]:
        page = await risk_service.list_alerts(
            session, actor.principal, status, flag, cursor=cursor, limit=limit
        )
        risk_service.audit_people(session, actor, "read_alerts", page.items)
        return page

    page = await audit_log.read(
        session,
        actor,
        "read_alerts",
        "case",
        fetch,
        lambda page: sorted({a.case_id for a in page.items if a.case_id is not None}),
    )
    return page.map(lambda a: risk_service.to_read(a, runtime.keyring))


@router.post(
    "/v1/risk-alerts/{alert_id}/acknowledge",
    response_model=AlertRead,
    responses=problem_responses(NotFound, Conflict, Forbidden),
)
async def acknowledge_alert(
    alert_id: uuid.UUID,
    body: Acknowledge,
    session: SessionDep,
    runtime: RuntimeDep,
    actor: SupervisorActor,
    once: OnceDep,
) -> AlertRead:
    """Close an alert with the action taken: a supervisor's act (the alert
    goes to them), never the case worker's who raised it."""

    async def acknowledge() -> RiskAlert:
        alert = await risk_service.acknowledge(
            session, actor.principal, runtime.keyring, alert_id, body.action_taken
        )
        risk_service.audit_people(session, actor, "acknowledge_alert", [alert])
        return alert

    return await _once(
        once,
        actor,
        f"POST /v1/risk-alerts/{alert_id}/acknowledge",
        body,
        acknowledge,
        audit_log.trail(actor, "acknowledge_alert", "case", _case_of),
    )


def _case_of(alert: RiskAlert) -> list[uuid.UUID]:
    """An alert is audited as an act on its case (one without a case, on its
    person: ``risk_service.audit_people``)."""
    return [alert.case_id] if alert.case_id is not None else []


def _person_of(alert: RiskAlert) -> list[uuid.UUID]:
    return [alert.beneficiary_id]


async def _once(
    once: Once,
    actor: Actor,
    route: str,
    body: BaseModel,
    act: Callable[[], Awaitable[RiskAlert]],
    audit: Trail[RiskAlert] | None,
) -> AlertRead:
    """Run ``act`` once per Idempotency-Key; a replay answers the alert."""
    session = once.session
    principal = actor.principal

    async def render(alert: RiskAlert) -> AlertRead:
        return risk_service.to_read(alert, once.runtime.keyring)

    return await once.answer(
        principal,
        route,
        body,
        act,
        lambda existing: get_in_scope(
            session,
            principal,
            RiskAlert,
            existing,
            team_of=beneficiaries_service.team_of,
            what="risk alert",
            beyond_sites=grants.granted,
        ),
        render,
        audit=audit,
    )
