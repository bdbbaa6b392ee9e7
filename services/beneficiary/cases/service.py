"""Case management: intake, an explicit state machine, and outcomes measured
with standard instruments."""

from __future__ import annotations

import uuid
from collections import defaultdict

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from services.beneficiary.beneficiaries import service as beneficiaries_service
from services.beneficiary.beneficiaries.models import age_on
from services.beneficiary.cases.models import Assessment, Case
from services.beneficiary.cases.schemas import (
    AssessmentCreate,
    CaseOpen,
    CaseRead,
    CaseTransition,
    CaseUpdate,
    Outcome,
)
from services.beneficiary.consent import service as consent_service
from services.beneficiary.db import OutboxEvent
from services.beneficiary.protection.grants import service as grants
from services.beneficiary.risk import service as risk_service
from shared.auth import Principal
from shared.contracts.enums import (
    CaseStatus,
    ClosureReason,
    ConsentPurpose,
    Timepoint,
)
from shared.contracts.events import AssessmentFacts, CaseFacts, EventType
from shared.crypto import KeyRing
from shared.db import utcnow
from shared.errors import Conflict, FieldError, Invalid, VersionConflict
from shared.instruments import assess_change, get_instrument, score
from shared.outbox import add_event
from shared.pagination import Page, aware_datetime, keyset_page
from shared.scoping import get_in_scope

TRANSITIONS: dict[CaseStatus, set[CaseStatus]] = {
    CaseStatus.open: {CaseStatus.active, CaseStatus.on_hold, CaseStatus.closed},
    CaseStatus.active: {CaseStatus.on_hold, CaseStatus.closed},
    CaseStatus.on_hold: {CaseStatus.active, CaseStatus.closed},
    CaseStatus.closed: {CaseStatus.active},  # reopened
}
CASE_CONSENTS = (ConsentPurpose.registration, ConsentPurpose.services)


def _context(case_id: uuid.UUID) -> str:
    return f"case:{case_id}:intake_notes"


async def open_case(
    session: AsyncSession, principal: Principal, keyring: KeyRing, data: CaseOpen
) -> Case:
    """Open a case for a consenting person who has no case open already."""
    beneficiary = await beneficiaries_service.lock_consenting(
        session, principal, data.beneficiary_id, *CASE_CONSENTS
    )
    running = await session.execute(
        select(col(Case.id)).where(
            col(Case.organisation_id) == beneficiary.organisation_id,
            col(Case.beneficiary_id) == beneficiary.id,
            col(Case.status) != CaseStatus.closed,
        )
    )
    if running.first() is not None:
        raise Conflict("This person already has a case that is not closed.")
    case_id = data.id or uuid.uuid4()
    if await session.get(Case, (principal.organisation_id, case_id)) is not None:
        raise Conflict("A case with this id exists already.")
    case = Case(
        id=case_id,
        organisation_id=principal.organisation_id,
        beneficiary_id=beneficiary.id,
        site_id=beneficiary.site_id,
        presenting_problems=data.presenting_problems,
        risk_level=data.risk_level,
        iasc_layer_needed=data.iasc_layer_needed,
        case_worker=data.case_worker,
        supervisor=data.supervisor,
        intake_notes_enc=keyring.encrypt(data.intake_notes, _context(case_id)),
        opened_on=data.opened_on,
    )
    session.add(case)
    _emit(session, case, EventType.case_opened)
    await session.flush()
    return case


async def get_case(
    session: AsyncSession,
    principal: Principal,
    case_id: uuid.UUID,
    *,
    for_update: bool = False,
) -> Case:
    """A case of the caller's organisation and sites; anything else is 404."""
    return await get_in_scope(
        session,
        principal,
        Case,
        case_id,
        what="case",
        for_update=for_update,
        beyond_sites=grants.granted,
        team_of=beneficiaries_service.team_of,
    )


async def list_cases(
    session: AsyncSession,
    principal: Principal,
    *,
    beneficiary_id: uuid.UUID | None,
    status: CaseStatus | None,
    cursor: str | None,
    limit: int,
) -> Page[Case]:
    statement = select(Case).where(
        col(Case.organisation_id) == principal.organisation_id
    )
    principal = await grants.listing_scope(session, principal, beneficiary_id)
    if principal.site_ids is not None:
        statement = statement.where(col(Case.site_id).in_(principal.site_ids))
    statement = beneficiaries_service.in_team(statement, principal, Case)
    if beneficiary_id is not None:
        statement = statement.where(col(Case.beneficiary_id) == beneficiary_id)
    if status is not None:
        statement = statement.where(col(Case.status) == status)
    rows, next_cursor = await keyset_page(
        session,
        statement,
        key=col(Case.created_at),
        parse_key=aware_datetime,
        cursor=cursor,
        limit=limit,
    )
    return Page(items=rows, next_cursor=next_cursor)


async def update_case(
    session: AsyncSession,
    principal: Principal,
    keyring: KeyRing,
    case_id: uuid.UUID,
    data: CaseUpdate,
    expected_version: int,
) -> Case:
    """Replace the case's presenting problems, edited at ``expected_version``
    (409 with the server's copy when stale)."""
    case = await get_case(session, principal, case_id, for_update=True)
    _check_version(case, keyring, expected_version)
    case.presenting_problems = list(data.presenting_problems)
    case.version += 1
    case.updated_at = utcnow()
    _emit(session, case, EventType.case_updated)
    await session.flush()
    return case


def _check_version(case: Case, keyring: KeyRing, expected_version: int) -> None:
    if case.version != expected_version:
        raise VersionConflict(
            f"You edited version {expected_version}; the server has "
            f"version {case.version}.",
            current=to_read(case, keyring).model_dump(mode="json"),
        )


async def transition_case(
    session: AsyncSession,
    principal: Principal,
    keyring: KeyRing,
    case_id: uuid.UUID,
    data: CaseTransition,
    expected_version: int,
) -> Case:
    """Move the case along the state machine; anything else is a 409 that
    names the moves allowed from here."""
    case = await get_case(session, principal, case_id, for_update=True)
    _check_version(case, keyring, expected_version)
    allowed = TRANSITIONS[case.status]
    if data.status not in allowed:
        raise Conflict(
            f"A case cannot go from {case.status} to {data.status}; allowed: "
            + ", ".join(sorted(allowed))
            + "."
        )
    if data.status == CaseStatus.active and case.status == CaseStatus.closed:
        await _check_reopen(session, case, data)
    if data.on < case.opened_on:
        raise Invalid(
            "The date is before the case was opened.",
            errors=[
                FieldError(loc=["body", "on"], msg="before opened_on", type="date")
            ],
        )
    case.status = data.status
    case.closure_reason = data.closure_reason
    case.closed_on = data.on if data.status == CaseStatus.closed else None
    case.version += 1
    case.updated_at = utcnow()
    _emit(session, case, EventType.case_status_changed)
    await session.flush()
    return case


async def _check_reopen(
    session: AsyncSession, case: Case, data: CaseTransition
) -> None:
    """Reopen only a case whose person is alive, still consents, has no other
    running case, and only on or after the closing date."""
    if case.closure_reason == ClosureReason.deceased:
        raise Conflict("A case closed because the person died cannot be reopened.")
    await consent_service.require_consent(
        session, case.organisation_id, [case.beneficiary_id], *CASE_CONSENTS
    )
    running = await session.execute(
        select(col(Case.id)).where(
            col(Case.organisation_id) == case.organisation_id,
            col(Case.beneficiary_id) == case.beneficiary_id,
            col(Case.status) != CaseStatus.closed,
            col(Case.id) != case.id,
        )
    )
    if running.first() is not None:
        raise Conflict("This person has another case that is not closed.")
    if case.closed_on is not None and data.on < case.closed_on:
        raise Invalid(
            "A case is reopened on or after the day it was closed.",
            errors=[
                FieldError(loc=["body", "on"], msg="before closed_on", type="date")
            ],
        )


async def record_assessment(
    session: AsyncSession,
    principal: Principal,
    case_id: uuid.UUID,
    data: AssessmentCreate,
) -> tuple[Assessment | None, Invalid | None]:
    """Validate every answer against the instrument, score it, and store both
    the answers and the results. Incomplete or out-of-range answers are
    returned as a 422 naming each item, with nothing stored, except one thing:
    an answer that signals suicide risk still raises the alert."""
    case = await get_case(session, principal, case_id, for_update=True)
    await consent_service.require_consent(
        session, case.organisation_id, [case.beneficiary_id], *CASE_CONSENTS
    )
    if data.administered_on < case.opened_on:
        raise Invalid(
            "The assessment is dated before the case was opened.",
            errors=[
                FieldError(
                    loc=["body", "administered_on"], msg="before opened_on", type="date"
                )
            ],
        )
    if case.status == CaseStatus.closed and data.timepoint != Timepoint.closure:
        raise Conflict("The case is closed; only a closure assessment may be added.")
    instrument = get_instrument(data.instrument, data.version)
    if instrument is None:
        raise Invalid(
            "Unknown instrument or version.",
            errors=[
                FieldError(loc=["body", "instrument"], msg="unknown", type="unknown")
            ],
        )
    norm = data.norm or instrument.default_norm
    if data.norm is not None and not any(
        data.norm in s.bands for s in instrument.scores
    ):
        raise Invalid(
            f"{instrument.key} has no norm set {data.norm!r}.",
            errors=[
                FieldError(loc=["body", "norm"], msg="unknown norm", type="unknown")
            ],
        )
    beneficiary = await beneficiaries_service.get_beneficiary(
        session, principal, case.beneficiary_id
    )
    age = age_on(beneficiary.date_of_birth, data.administered_on)
    if age is not None and (
        (instrument.age_min is not None and age < instrument.age_min)
        or (instrument.age_max is not None and age > instrument.age_max)
    ):
        raise Invalid(
            f"{instrument.name} is for ages {instrument.age_min}-"
            f"{instrument.age_max or ''}; the person is {age}.",
            errors=[FieldError(loc=["body", "instrument"], msg="age", type="age")],
        )
    result = score(instrument, data.responses, norm)
    if not result.valid:
        alerting = sorted(set(result.risk_flags) & risk_service.ALERTING_FLAGS)
        for flag in alerting:
            risk_service.raise_alert(
                session, principal, case, flag=flag, source="incomplete_assessment"
            )
        problem = Invalid(
            "The answers do not fit the instrument."
            + (
                " A risk alert was raised anyway: the answers given signal "
                "suicide risk."
                if alerting
                else ""
            ),
            errors=[
                FieldError(loc=["body", "responses", e.item], msg=e.msg, type=e.type)
                for e in result.errors
            ],
        )
        if not alerting:
            raise problem
        await session.flush()
        return None, problem
    assessment = Assessment(
        id=data.id or uuid.uuid4(),
        case_id=case.id,
        organisation_id=case.organisation_id,
        beneficiary_id=case.beneficiary_id,
        instrument=instrument.key,
        timepoint=data.timepoint,
        administered_on=data.administered_on,
        administered_by=principal.subject,
        norm=result.norm,
        responses=dict(data.responses),
        scores=result.scores,
        bands=result.bands,
        risk_flags=result.risk_flags,
    )
    session.add(assessment)
    for flag in sorted(set(result.risk_flags) & risk_service.ALERTING_FLAGS):
        risk_service.raise_alert(
            session,
            principal,
            case,
            flag=flag,
            source="assessment",
            assessment_id=assessment.id,
        )
    add_event(
        session,
        OutboxEvent,
        type=EventType.assessment_recorded,
        organisation_id=case.organisation_id,
        entity_type="case",
        entity_id=case.id,
        facts=AssessmentFacts(
            assessment_id=assessment.id,
            case_id=case.id,
            beneficiary_id=case.beneficiary_id,
            organisation_id=case.organisation_id,
            instrument=instrument.key,
            timepoint=data.timepoint,
            administered_on=data.administered_on,
            scores=result.scores,
            bands=result.bands,
            risk_flagged=bool(result.risk_flags),
        ),
    )
    await session.flush()
    return assessment, None


async def list_assessments(
    session: AsyncSession, principal: Principal, case_id: uuid.UUID
) -> list[Assessment]:
    await get_case(session, principal, case_id)
    rows = await session.execute(
        select(Assessment)
        .where(
            col(Assessment.organisation_id) == principal.organisation_id,
            col(Assessment.case_id) == case_id,
        )
        .order_by(col(Assessment.administered_on), col(Assessment.created_at))
    )
    return list(rows.scalars())


async def outcomes(
    session: AsyncSession, principal: Principal, case_id: uuid.UUID
) -> list[Outcome]:
    """Per instrument: the first assessment (the baseline) against the latest,
    with reliable and meaningful change where the instrument defines them."""
    by_instrument: dict[str, list[Assessment]] = defaultdict(list)
    for assessment in await list_assessments(session, principal, case_id):
        by_instrument[assessment.instrument].append(assessment)
    results = []
    for key, series in sorted(by_instrument.items()):
        code, _, version = key.partition("@")
        instrument = get_instrument(code, version)
        if instrument is None:
            continue
        baselines = [a for a in series if a.timepoint == Timepoint.baseline]
        first, last = (baselines or series)[0], series[-1]
        score_id = (
            instrument.change.score if instrument.change else instrument.primary_score
        )
        before, after = first.scores.get(score_id), last.scores.get(score_id)
        judged: dict[str, object] = (
            assess_change(instrument, before, after)
            if before is not None and after is not None and last is not first
            else {
                "change": None,
                "improved": None,
                "reliable": None,
                "meaningful": None,
            }
        )
        results.append(
            Outcome(
                instrument=key,
                score=score_id,
                baseline=before,
                baseline_on=first.administered_on,
                latest=after,
                latest_on=last.administered_on,
                latest_band=last.bands.get(score_id),
                change=judged["change"],
                improved=judged["improved"],
                reliable=judged["reliable"],
                meaningful=judged["meaningful"],
            )
        )
    return results


def to_read(case: Case, keyring: KeyRing) -> CaseRead:
    return CaseRead(
        id=case.id,
        beneficiary_id=case.beneficiary_id,
        organisation_id=case.organisation_id,
        site_id=case.site_id,
        status=case.status,
        presenting_problems=case.presenting_problems,
        risk_level=case.risk_level,
        iasc_layer_needed=case.iasc_layer_needed,
        case_worker=case.case_worker,
        supervisor=case.supervisor,
        intake_notes=keyring.decrypt(case.intake_notes_enc, _context(case.id)),
        opened_on=case.opened_on,
        closed_on=case.closed_on,
        closure_reason=case.closure_reason,
        version=case.version,
        created_at=case.created_at,
        updated_at=case.updated_at,
    )


def _emit(session: AsyncSession, case: Case, event_type: EventType) -> None:
    add_event(
        session,
        OutboxEvent,
        type=event_type,
        organisation_id=case.organisation_id,
        entity_type="case",
        entity_id=case.id,
        facts=CaseFacts(
            case_id=case.id,
            beneficiary_id=case.beneficiary_id,
            organisation_id=case.organisation_id,
            site_id=case.site_id,
            status=case.status,
            risk_level=case.risk_level,
            iasc_layer_needed=case.iasc_layer_needed,
            presenting_problems=case.presenting_problems,
            opened_on=case.opened_on,
            closed_on=case.closed_on,
            closure_reason=case.closure_reason,
            version=case.version,
        ),
    )
