"""Risk alerts: raised by a positive suicide item or a case worker's flag of
a risk type (suicide, harm to others, violence disclosed, child protection),
delivered to the supervisor and the roles the risk type names, open until
acknowledged with the action taken."""

from __future__ import annotations

import uuid
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from services.beneficiary.audit.models import audit_log
from services.beneficiary.beneficiaries import service as beneficiaries_service
from services.beneficiary.cases.models import Case
from services.beneficiary.db import OutboxEvent
from services.beneficiary.protection.grants import service as grants
from services.beneficiary.risk.jobs import deliver_risk_alert
from services.beneficiary.risk.models import AlertDelivery, RiskAlert
from shared.audit import Actor
from shared.auth import Principal
from shared.contracts.enums import AlertStatus, ConsentPurpose
from shared.contracts.events import EventType, RiskAlertFacts
from shared.contracts.text import Text
from shared.crypto import KeyRing
from shared.db import utcnow
from shared.errors import Conflict
from shared.outbox import add_event
from shared.pagination import Page, aware_datetime, ordered_page
from shared.queue import defer_job
from shared.scoping import get_in_scope
from shared.taxonomy.activities import risk_types

ALERTING_FLAGS = {code for code, t in risk_types().items() if t.from_assessments}
"""The risk flags an instrument's answers raise an alert for."""


def _known_risk_type(code: str) -> str:
    if code not in risk_types():
        raise ValueError("unknown risk type; allowed: " + ", ".join(risk_types()))
    return code


RiskTypeCode = Annotated[
    str,
    Field(
        pattern=r"^[a-z_]{2,64}$",
        description="A risk type of shared/taxonomy/risk_types.csv: "
        + ", ".join(risk_types())
        + ".",
    ),
    AfterValidator(_known_risk_type),
]


class AlertRead(BaseModel):
    """A risk alert raised for a case or a person without one, and who has
    acted on it."""

    id: uuid.UUID
    case_id: uuid.UUID | None = Field(
        description="None for a flag on a person who has no case."
    )
    beneficiary_id: uuid.UUID
    flag: str = Field(description="The risk type (shared/taxonomy/risk_types.csv).")
    source: str
    assessment_id: uuid.UUID | None
    supervisor: str
    notify_roles: list[str] = Field(
        default_factory=list,
        description="Roles of the organisation notified besides the "
        "supervisor (the risk type's rule).",
    )
    raised_by: str
    raised_at: str
    status: AlertStatus
    acknowledged_by: str | None
    acknowledged_at: str | None
    action_taken: str | None
    delivery: AlertDelivery
    attempts: int
    last_error: str | None


class Acknowledge(BaseModel):
    """What a supervisor did about a risk alert when taking it on."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "action_taken": "Called the person at once; safety plan reviewed "
                    "with the case worker."
                }
            ]
        },
        extra="forbid",
    )

    action_taken: Text = Field(
        min_length=3,
        max_length=2000,
        description="What was done: called the person, safety plan reviewed, "
        "referred to emergency care ...",
    )


class CaseWorkerFlag(BaseModel):
    """A risk a case worker saw outside an instrument, by type."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"flag": "child_protection"}]},
        extra="forbid",
    )

    flag: RiskTypeCode = "suicide_risk"


class PersonFlag(CaseWorkerFlag):
    """A risk seen in a registered person who has no case: with no case
    supervisor to alert, the flag names the supervisor, as opening a case
    does."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"flag": "violence_disclosed", "supervisor": "sam"}]
        },
        extra="forbid",
    )

    supervisor: Text = Field(
        min_length=1,
        max_length=255,
        description="Who must answer the alert (a supervisor's user name).",
    )


def raise_alert(
    session: AsyncSession,
    principal: Principal,
    case: Case,
    *,
    flag: str,
    source: str,
    assessment_id: uuid.UUID | None = None,
) -> RiskAlert:
    """Record the alert with the write that caused it; its delivery job is
    sent once that transaction commits."""
    return _raise(
        session,
        RiskAlert(
            organisation_id=case.organisation_id,
            case_id=case.id,
            beneficiary_id=case.beneficiary_id,
            site_id=case.site_id,
            flag=flag,
            source=source,
            assessment_id=assessment_id,
            supervisor=case.supervisor,
            notify_roles=list(risk_types()[flag].notify_roles),
            raised_by=principal.subject,
        ),
    )


async def flag_person(
    session: AsyncSession,
    principal: Principal,
    beneficiary_id: uuid.UUID,
    data: PersonFlag,
) -> RiskAlert:
    """A case worker's flag on a registered person who may have no case:
    the person is in the caller's scope (sites, team, as for cases), not
    merged away, and still registered (consent to registration, not erased:
    nothing new is recorded about anyone else); the alert follows the risk
    type's rule like a case's. A safety concern is not held back for consent
    to services or case management."""
    person = await beneficiaries_service.lock_consenting(
        session, principal, beneficiary_id, ConsentPurpose.registration
    )
    alert = _raise(
        session,
        RiskAlert(
            organisation_id=person.organisation_id,
            case_id=None,
            beneficiary_id=person.id,
            site_id=person.site_id,
            flag=data.flag,
            source="case_worker",
            supervisor=data.supervisor,
            notify_roles=list(risk_types()[data.flag].notify_roles),
            raised_by=principal.subject,
        ),
    )
    await session.flush()
    return alert


def audit_people(
    session: AsyncSession, actor: Actor, action: str, alerts: list[RiskAlert]
) -> None:
    """Alerts without a case are audited as acts on their person (those
    with one, on their case)."""
    audit_log.record(
        session,
        actor,
        action,
        "beneficiary",
        sorted({a.beneficiary_id for a in alerts if a.case_id is None}),
    )


def _raise(session: AsyncSession, alert: RiskAlert) -> RiskAlert:
    """Stage the alert, its event and its delivery after the commit."""
    session.add(alert)
    _emit(session, alert, EventType.risk_alert_raised)
    defer_job(
        session,
        deliver_risk_alert.__name__,
        alert_id=str(alert.id),
        _job_id=f"risk_alert:{alert.id}",
    )
    return alert


async def list_alerts(
    session: AsyncSession,
    principal: Principal,
    status: AlertStatus | None,
    flag: str | None = None,
    *,
    cursor: str | None,
    limit: int,
) -> Page[RiskAlert]:
    """Alerts in the caller's scope, oldest first, so nothing waits behind
    newer alerts."""
    statement = select(RiskAlert).where(
        col(RiskAlert.organisation_id) == principal.organisation_id
    )
    if principal.site_ids is not None:
        statement = statement.where(col(RiskAlert.site_id).in_(principal.site_ids))
    statement = beneficiaries_service.in_team(statement, principal, RiskAlert)
    if status is not None:
        statement = statement.where(col(RiskAlert.status) == status)
    if flag is not None:
        statement = statement.where(col(RiskAlert.flag) == flag)
    return await ordered_page(
        session,
        statement,
        keys=[(col(RiskAlert.raised_at), aware_datetime)],
        cursor=cursor,
        limit=limit,
    )


async def acknowledge(
    session: AsyncSession,
    principal: Principal,
    keyring: KeyRing,
    alert_id: uuid.UUID,
    action_taken: str,
) -> RiskAlert:
    """Close the alert with what was done about it (once)."""
    alert = await get_in_scope(
        session,
        principal,
        RiskAlert,
        alert_id,
        what="risk alert",
        for_update=True,
        beyond_sites=grants.granted,
        team_of=beneficiaries_service.team_of,
    )
    if alert.status == AlertStatus.acknowledged:
        raise Conflict(f"Acknowledged already by {alert.acknowledged_by}.")
    alert.status = AlertStatus.acknowledged
    alert.acknowledged_by = principal.subject
    alert.acknowledged_at = utcnow()
    alert.action_taken_enc = keyring.encrypt(action_taken, _context(alert.id))
    _emit(session, alert, EventType.risk_alert_acknowledged)
    await session.flush()
    return alert


def to_read(alert: RiskAlert, keyring: KeyRing) -> AlertRead:
    return AlertRead(
        id=alert.id,
        case_id=alert.case_id,
        beneficiary_id=alert.beneficiary_id,
        flag=alert.flag,
        source=alert.source,
        assessment_id=alert.assessment_id,
        supervisor=alert.supervisor,
        notify_roles=list(alert.notify_roles),
        raised_by=alert.raised_by,
        raised_at=alert.raised_at.isoformat(),
        status=alert.status,
        acknowledged_by=alert.acknowledged_by,
        acknowledged_at=alert.acknowledged_at.isoformat()
        if alert.acknowledged_at
        else None,
        action_taken=keyring.decrypt(alert.action_taken_enc, _context(alert.id)),
        delivery=alert.delivery,
        attempts=alert.attempts,
        last_error=alert.last_error,
    )


def _context(alert_id: uuid.UUID) -> str:
    return f"risk_alert:{alert_id}:action_taken"


def _emit(session: AsyncSession, alert: RiskAlert, event_type: EventType) -> None:
    add_event(
        session,
        OutboxEvent,
        type=event_type,
        organisation_id=alert.organisation_id,
        entity_type="risk_alert",
        entity_id=alert.id,
        facts=RiskAlertFacts(
            alert_id=alert.id,
            case_id=alert.case_id,
            organisation_id=alert.organisation_id,
            flag=alert.flag,
            source=alert.source,
            status=alert.status,
            site_id=alert.site_id,
            raised_on=alert.raised_at.date(),
            acknowledged_on=alert.acknowledged_at.date()
            if alert.acknowledged_at
            else None,
        ),
    )
