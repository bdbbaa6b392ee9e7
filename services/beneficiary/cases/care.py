"""The care inside a case: its plan, follow-up contacts and safety plans.
Free text is encrypted like other PII; plans and safety plans are versioned."""

from __future__ import annotations

import json
import uuid
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from services.beneficiary.beneficiaries.schemas import RecordDate
from services.beneficiary.cases import service as cases_service
from services.beneficiary.cases.models import Case, CasePlan, FollowUp, SafetyPlan
from services.beneficiary.consent import service as consent_service
from services.beneficiary.service_records import service as records_service
from services.beneficiary.service_records.schemas import ServiceRecordCreate
from shared.auth import Principal
from shared.contracts.enums import CaseStatus, ConsentPurpose, Modality
from shared.contracts.text import Text
from shared.crypto import KeyRing
from shared.errors import Conflict, FieldError, Invalid, NotFound
from shared.taxonomy.activities import get_activity

Item = Annotated[Text, Field(max_length=500)]
ContactField = Annotated[Text, Field(max_length=32)]
ContactValue = Annotated[Text, Field(max_length=200)]


class PlanWrite(BaseModel):
    """A care plan to write; a new version replaces the last."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "goals": ["sleep through the night"],
                    "planned_activities": ["pm_plus_individual"],
                }
            ]
        },
        extra="forbid",
    )

    goals: list[Item] = Field(min_length=1, max_length=20)
    planned_activities: list[Annotated[Text, Field(max_length=64)]] = Field(
        default_factory=list, max_length=20
    )
    review_on: RecordDate | None = None

    @field_validator("goals")
    @classmethod
    def _goals(cls, goals: list[str]) -> list[str]:
        if any(not 1 <= len(g.strip()) <= 500 for g in goals):
            raise ValueError("each goal is 1 to 500 characters")
        return goals

    @field_validator("planned_activities")
    @classmethod
    def _activities(cls, codes: list[str]) -> list[str]:
        unknown = [c for c in codes if get_activity(c) is None]
        if unknown:
            raise ValueError(f"unknown activities: {', '.join(unknown)}")
        return codes


class PlanRead(BaseModel):
    """A case's care plan, as last written."""

    version: int
    goals: list[str]
    planned_activities: list[str]
    review_on: date | None
    created_by: str
    created_at: datetime


class FollowUpWrite(BaseModel):
    """A follow-up contact to record in a case."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "on": "2026-02-01",
                    "notes": "Sleeping better; attends the women's group weekly.",
                }
            ]
        },
        extra="forbid",
    )

    id: uuid.UUID | None = None
    on: RecordDate
    modality: Modality = Modality.in_person
    duration_minutes: int | None = Field(default=None, ge=1, le=600)
    notes: Text | None = Field(default=None, max_length=10_000)
    next_follow_up_on: date | None = None


class FollowUpRead(BaseModel):
    """A follow-up contact in a case."""

    id: uuid.UUID
    service_record_id: uuid.UUID
    on: date
    notes: str | None
    next_follow_up_on: date | None
    created_by: str
    created_at: datetime


class SafetyPlanWrite(BaseModel):
    """Modelled on the Stanley-Brown safety plan, as programmes adapt it."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "warning_signs": ["not sleeping", "giving things away"],
                    "coping_strategies": ["walk with neighbour"],
                    "contacts": [
                        {"name": "Sister", "relation": "sister", "phone": "0750"}
                    ],
                    "means_restriction": ["medicines kept by sister"],
                }
            ]
        },
        extra="forbid",
    )

    warning_signs: list[Item] = Field(default_factory=list, max_length=20)
    coping_strategies: list[Item] = Field(default_factory=list, max_length=20)
    contacts: list[dict[ContactField, ContactValue]] = Field(
        default_factory=list,
        max_length=20,
        description="People and services to call: {name, relation, phone}.",
    )
    means_restriction: list[Item] = Field(default_factory=list, max_length=20)


class SafetyPlanRead(SafetyPlanWrite):
    """A case's safety plan, as last written."""

    version: int
    created_by: str
    created_at: datetime


async def write_plan(
    session: AsyncSession,
    principal: Principal,
    keyring: KeyRing,
    case_id: uuid.UUID,
    data: PlanWrite,
) -> PlanRead:
    """Agree or revise the plan: a new version; older ones stay readable."""
    case = await cases_service.get_case(session, principal, case_id, for_update=True)
    if case.status == CaseStatus.closed:
        raise Conflict("The case is closed.")
    await consent_service.require_consent(
        session, case.organisation_id, [case.beneficiary_id]
    )
    version = await _next_version(session, CasePlan, case)
    plan = CasePlan(
        organisation_id=case.organisation_id,
        case_id=case.id,
        version=version,
        goals_enc=_seal(keyring, data.goals, f"case_plan:{case.id}:{version}"),
        planned_activities=data.planned_activities,
        review_on=data.review_on,
        created_by=principal.subject,
    )
    session.add(plan)
    await session.flush()
    return _plan_read(plan, keyring)


async def current_plan(
    session: AsyncSession, principal: Principal, keyring: KeyRing, case_id: uuid.UUID
) -> PlanRead:
    case = await cases_service.get_case(session, principal, case_id)
    plan = await _latest(session, CasePlan, case)
    if plan is None:
        raise NotFound("This case has no plan yet.")
    return _plan_read(plan, keyring)


async def record_follow_up(
    session: AsyncSession,
    principal: Principal,
    keyring: KeyRing,
    case_id: uuid.UUID,
    data: FollowUpWrite,
) -> FollowUpRead:
    """A follow-up contact, recorded once as a case management service (for
    a registered person: an erased one gets no new notes). A retry with the
    same client ``id`` returns the first one."""
    case = await cases_service.get_case(session, principal, case_id, for_update=True)
    if data.id is not None:
        existing = await session.get(FollowUp, (case.organisation_id, data.id))
        if existing is not None and existing.case_id == case.id:
            return _follow_up_read(existing, keyring)
    if case.status == CaseStatus.closed:
        raise Conflict("The case is closed.")
    if data.on < case.opened_on:
        raise Invalid(
            "The follow-up is dated before the case was opened.",
            errors=[
                FieldError(loc=["body", "on"], msg="before opened_on", type="date")
            ],
        )
    record = await records_service.record_service(
        session,
        principal,
        ServiceRecordCreate(
            beneficiary_id=case.beneficiary_id,
            activity_code="case_management_follow_up",
            service_date=data.on,
            site_id=case.site_id,
            modality=data.modality,
            staff_id=principal.subject[:100],
            duration_minutes=data.duration_minutes,
        ),
    )
    follow_up_id = data.id or uuid.uuid4()
    follow_up = FollowUp(
        id=follow_up_id,
        organisation_id=case.organisation_id,
        case_id=case.id,
        service_record_id=record.id,
        on=data.on,
        notes_enc=keyring.encrypt(data.notes, f"follow_up:{follow_up_id}:notes"),
        next_follow_up_on=data.next_follow_up_on,
        created_by=principal.subject,
    )
    session.add(follow_up)
    await session.flush()
    return _follow_up_read(follow_up, keyring)


async def list_follow_ups(
    session: AsyncSession, principal: Principal, keyring: KeyRing, case_id: uuid.UUID
) -> list[FollowUpRead]:
    await cases_service.get_case(session, principal, case_id)
    rows = await session.execute(
        select(FollowUp)
        .where(
            col(FollowUp.organisation_id) == principal.organisation_id,
            col(FollowUp.case_id) == case_id,
        )
        .order_by(col(FollowUp.on), col(FollowUp.created_at))
    )
    return [_follow_up_read(f, keyring) for f in rows.scalars()]


async def write_safety_plan(
    session: AsyncSession,
    principal: Principal,
    keyring: KeyRing,
    case_id: uuid.UUID,
    data: SafetyPlanWrite,
) -> SafetyPlanRead:
    case = await cases_service.get_case(session, principal, case_id, for_update=True)
    await consent_service.require_consent(
        session,
        case.organisation_id,
        [case.beneficiary_id],
        ConsentPurpose.registration,
    )
    version = await _next_version(session, SafetyPlan, case)
    plan = SafetyPlan(
        organisation_id=case.organisation_id,
        case_id=case.id,
        version=version,
        content_enc=_seal(
            keyring, data.model_dump(), f"safety_plan:{case.id}:{version}"
        ),
        created_by=principal.subject,
    )
    session.add(plan)
    await session.flush()
    return _safety_read(plan, keyring)


async def safety_plans(
    session: AsyncSession, principal: Principal, keyring: KeyRing, case_id: uuid.UUID
) -> list[SafetyPlanRead]:
    """Every version, newest first."""
    await cases_service.get_case(session, principal, case_id)
    rows = await session.execute(
        select(SafetyPlan)
        .where(
            col(SafetyPlan.organisation_id) == principal.organisation_id,
            col(SafetyPlan.case_id) == case_id,
        )
        .order_by(col(SafetyPlan.version).desc())
    )
    return [_safety_read(p, keyring) for p in rows.scalars()]


def _seal(keyring: KeyRing, value: Any, context: str) -> str:
    sealed = keyring.encrypt(json.dumps(value, ensure_ascii=False), context)
    assert sealed is not None
    return sealed


def _open(keyring: KeyRing, sealed: str, context: str) -> Any:
    return json.loads(keyring.decrypt(sealed, context) or "null")


def _plan_read(plan: CasePlan, keyring: KeyRing) -> PlanRead:
    return PlanRead(
        version=plan.version,
        goals=_open(
            keyring, plan.goals_enc, f"case_plan:{plan.case_id}:{plan.version}"
        ),
        planned_activities=plan.planned_activities,
        review_on=plan.review_on,
        created_by=plan.created_by,
        created_at=plan.created_at,
    )


def _follow_up_read(follow_up: FollowUp, keyring: KeyRing) -> FollowUpRead:
    return FollowUpRead(
        id=follow_up.id,
        service_record_id=follow_up.service_record_id,
        on=follow_up.on,
        notes=keyring.decrypt(follow_up.notes_enc, f"follow_up:{follow_up.id}:notes"),
        next_follow_up_on=follow_up.next_follow_up_on,
        created_by=follow_up.created_by,
        created_at=follow_up.created_at,
    )


def _safety_read(plan: SafetyPlan, keyring: KeyRing) -> SafetyPlanRead:
    content = _open(
        keyring, plan.content_enc, f"safety_plan:{plan.case_id}:{plan.version}"
    )
    return SafetyPlanRead(
        **content,
        version=plan.version,
        created_by=plan.created_by,
        created_at=plan.created_at,
    )


def _of_case(model: type[CasePlan] | type[SafetyPlan], case: Case) -> Any:
    return and_(
        col(model.organisation_id) == case.organisation_id,
        col(model.case_id) == case.id,
    )


async def _next_version(
    session: AsyncSession, model: type[CasePlan] | type[SafetyPlan], case: Case
) -> int:
    latest = await session.scalar(
        select(func.max(col(model.version))).where(_of_case(model, case))
    )
    return int(latest or 0) + 1


async def _latest(
    session: AsyncSession, model: type[CasePlan], case: Case
) -> CasePlan | None:
    return (
        await session.execute(
            select(model)
            .where(_of_case(model, case))
            .order_by(col(model.version).desc())
            .limit(1)
        )
    ).scalar_one_or_none()
