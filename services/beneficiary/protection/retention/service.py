"""Retention: policies per record type and organisation, applied by a
scheduled job (or a dry run that only lists what would be affected).

What a ``pseudonymise`` policy does, per record type, once ``keep_days`` have
passed:

- ``beneficiary``: a person with no activity at all (registration, edit,
  service record, case work, consent change, referral, enrolment, risk alert)
  and no case or risk alert still open loses their PII exactly as when they
  withdraw consent to registration; the facts reports count stay.
- ``closed_case``: a case closed that long ago loses its free text (intake
  notes, follow-up notes, plan goals, safety plans, feedback of its referrals,
  actions noted on its alerts); status, dates, scores and codes stay.
- ``sync_conflict``: a device's losing copy is deleted, counted from its
  resolution (or its arrival, when nobody resolved it).
- ``anonymous_service``: counts with no person behind them; only ``keep``.

An organisation's own policy beats the platform default
(``retention_defaults.json``). A run handles one record type after another in
batches, each batch its own transaction that locks its rows and checks them
again, so a record that became active meanwhile is left alone and a second run
finds nothing more to do. Conflicts go first and the people last, so a real
run does exactly what the dry run before it listed."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy import ColumnElement, Select, and_, delete, exists, or_, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlmodel import col

from services.beneficiary.audit.models import AuditEntry
from services.beneficiary.beneficiaries.models import (
    Beneficiary,
)
from services.beneficiary.cases.models import (
    Assessment,
    Case,
    CasePlan,
    FollowUp,
    SafetyPlan,
)
from services.beneficiary.consent.models import ConsentEntry
from services.beneficiary.interventions.models import Enrolment
from services.beneficiary.organisations.models import Organisation
from services.beneficiary.outbox.jobs import announce_writes
from services.beneficiary.protection.retention.models import (
    RetentionAction,
    RetentionPolicy,
    RetentionRun,
)
from services.beneficiary.protection.retention.schemas import (
    DefaultPolicy,
    DefaultsFile,
    PolicySource,
    RecordType,
    RetentionPolicyRead,
    RetentionPolicyWrite,
    RetentionRunSummary,
)
from services.beneficiary.referrals.models import Referral
from services.beneficiary.risk.models import RiskAlert
from services.beneficiary.service_records.models import ServiceRecord
from services.beneficiary.subject_rights.erasure import erase_person
from services.beneficiary.sync.models import SyncConflict
from shared.app import Runtime
from shared.auth import Principal
from shared.contracts.enums import AlertStatus, CaseStatus
from shared.db import utcnow
from shared.errors import (
    FieldError,
    Invalid,
    VersionConflict,
)
from shared.pagination import Page, aware_datetime, keyset_page
from shared.queue import JobContext
from shared.scoping import get_in_scope

log = structlog.get_logger(__name__)


DEFAULTS_FILE = Path(__file__).with_name("retention_defaults.json")


JOB_SUBJECT = "retention-job"


BATCH_SIZE = 200


RETENTION_SLICE_SECONDS = 40.0
"""How long one retention job works before it queues the rest (its timeout
is 60 s)."""


@dataclass(frozen=True)
class RecordRule:
    """What retention means for one record type, and the bounds of its policy
    (a floor on ``keep_days`` so a slip such as 0 or 7 cannot erase a caseload)."""

    applies_to: str
    actions: frozenset[RetentionAction]
    min_keep_days: int


BOTH = frozenset(RetentionAction)


RULES: dict[RecordType, RecordRule] = {
    RecordType.beneficiary: RecordRule(
        "People with no activity for keep_days and no case or risk alert open: "
        "PII erased as on withdrawal of registration consent (name, phone, "
        "address, exact date of birth, free text of their cases); sex, birth "
        "year, disability, displacement, site and services stay.",
        BOTH,
        30,
    ),
    RecordType.closed_case: RecordRule(
        "Cases closed more than keep_days ago: intake and follow-up notes, plan "
        "goals, safety plans, referral feedback and alert actions erased; "
        "status, dates, scores and codes stay.",
        BOTH,
        30,
    ),
    RecordType.sync_conflict: RecordRule(
        "A device's losing copy, keep_days after it was resolved (or arrived, "
        "if nobody resolved it): deleted.",
        BOTH,
        7,
    ),
    RecordType.anonymous_service: RecordRule(
        "Counts of people served without registration: no PII, kept.",
        frozenset({RetentionAction.keep}),
        0,
    ),
}


ORDER = (  # each step leaves what the later ones select unchanged
    RecordType.sync_conflict,
    RecordType.closed_case,
    RecordType.beneficiary,
    RecordType.anonymous_service,
)


@cache
def platform_defaults() -> dict[RecordType, DefaultPolicy]:
    """The defaults file, checked against the same rules as an organisation's
    policies; a broken file stops the service rather than erase by mistake."""
    parsed = DefaultsFile.model_validate(json.loads(DEFAULTS_FILE.read_text()))
    missing = set(RecordType) - set(parsed.policies)
    errors = [
        e for t, p in parsed.policies.items() for e in check_policy(t, p, loc="file")
    ]
    if missing or errors:
        raise RuntimeError(f"{DEFAULTS_FILE.name}: missing {missing}, {errors}")
    return parsed.policies


def check_policy(
    record_type: RecordType, data: RetentionPolicyWrite, *, loc: str = "body"
) -> list[FieldError]:
    """The rules a policy must follow for its record type."""
    rule = RULES[record_type]
    errors = []
    if data.action not in rule.actions:
        errors.append(
            FieldError(
                loc=[loc, "action"],
                msg=f"{record_type} allows only: {', '.join(sorted(rule.actions))}",
                type="enum",
            )
        )
    if data.keep_days is not None and data.keep_days < rule.min_keep_days:
        errors.append(
            FieldError(
                loc=[loc, "keep_days"],
                msg=f"at least {rule.min_keep_days} days for {record_type}",
                type="greater_than_equal",
            )
        )
    return errors


@dataclass(frozen=True)
class EffectivePolicy:
    record_type: RecordType
    keep_days: int | None
    action: RetentionAction
    source: PolicySource
    updated_by: str | None = None
    updated_at: datetime | None = None
    version: int = 0

    @property
    def enforced(self) -> bool:
        return (
            self.action == RetentionAction.pseudonymise and self.keep_days is not None
        )

    def read(self) -> RetentionPolicyRead:
        return RetentionPolicyRead(
            record_type=self.record_type,
            keep_days=self.keep_days,
            action=self.action,
            source=self.source,
            applies_to=RULES[self.record_type].applies_to,
            updated_by=self.updated_by,
            updated_at=self.updated_at,
            version=self.version,
        )


async def effective_policies(
    session: AsyncSession, organisation_id: uuid.UUID
) -> dict[RecordType, EffectivePolicy]:
    """The organisation's own policy per record type, else the platform's."""
    rows = await session.execute(
        select(RetentionPolicy).where(
            col(RetentionPolicy.organisation_id) == organisation_id
        )
    )
    own = {r.record_type: r for r in rows.scalars()}
    policies = {}
    for record_type, default in platform_defaults().items():
        row = own.get(record_type)
        policies[record_type] = (
            EffectivePolicy(
                record_type,
                row.keep_days,
                RetentionAction(row.action),
                PolicySource.organisation,
                row.updated_by,
                row.updated_at,
                row.version,
            )
            if row is not None
            else EffectivePolicy(
                record_type,
                default.keep_days,
                default.action,
                PolicySource.platform_default,
            )
        )
    return policies


async def set_policy(
    session: AsyncSession,
    principal: Principal,
    record_type: RecordType,
    data: RetentionPolicyWrite,
    expected_version: int,
) -> RetentionPolicy:
    """Create or replace the organisation's policy for one record type, as
    edited at ``expected_version`` (0: the platform default); a stale edit
    is a 409 with the policy in force, so a late request never undoes a
    newer decision."""
    errors = check_policy(record_type, data)
    if errors:
        raise Invalid("The policy breaks the rules of its record type.", errors=errors)
    row = (
        await session.execute(
            select(RetentionPolicy)
            .where(
                col(RetentionPolicy.organisation_id) == principal.organisation_id,
                col(RetentionPolicy.record_type) == record_type,
            )
            .with_for_update()
        )
    ).scalar_one_or_none()
    current = 0 if row is None else row.version
    if current != expected_version:
        policies = await effective_policies(session, principal.organisation_id)
        raise VersionConflict(
            f"You edited version {expected_version} of this policy; the server "
            f"has version {current}.",
            current=policies[record_type].read().model_dump(mode="json"),
        )
    if row is None:
        row = RetentionPolicy(
            organisation_id=principal.organisation_id,
            record_type=record_type,
            updated_by=principal.subject,
            version=0,
        )
        session.add(row)
    row.version = current + 1
    row.keep_days = data.keep_days
    row.action = data.action
    row.updated_by = principal.subject
    row.updated_at = utcnow()
    await session.flush()
    return row


async def reset_policy(
    session: AsyncSession, principal: Principal, record_type: RecordType
) -> uuid.UUID | None:
    """Drop the organisation's own policy, so the platform default applies."""
    row = (
        await session.execute(
            select(RetentionPolicy).where(
                col(RetentionPolicy.organisation_id) == principal.organisation_id,
                col(RetentionPolicy.record_type) == record_type,
            )
        )
    ).scalar_one_or_none()
    if row is None:
        return None
    await session.delete(row)
    await session.flush()
    return row.id


def _eligible(
    record_type: RecordType, organisation_id: uuid.UUID, before: datetime
) -> tuple[Any, list[ColumnElement[bool]]]:
    """The id column and the conditions of the records a policy applies to
    when its retention period started before ``before``."""
    day = before.date()
    if record_type == RecordType.sync_conflict:
        return col(SyncConflict.id), [
            col(SyncConflict.organisation_id) == organisation_id,
            or_(
                col(SyncConflict.resolved_at) < before,
                and_(
                    col(SyncConflict.resolved_at).is_(None),
                    col(SyncConflict.created_at) < before,
                ),
            ),
        ]
    if record_type == RecordType.closed_case:

        def of_case(model: type[Any]) -> ColumnElement[bool]:
            return and_(
                col(model.organisation_id) == organisation_id,
                col(model.case_id) == col(Case.id),
            )

        return col(Case.id), [
            col(Case.organisation_id) == organisation_id,
            col(Case.status) == CaseStatus.closed,
            col(Case.closed_on) < day,
            or_(
                col(Case.intake_notes_enc).is_not(None),
                _any(FollowUp, of_case(FollowUp), _set(FollowUp.notes_enc)),
                _any(CasePlan, of_case(CasePlan)),
                _any(SafetyPlan, of_case(SafetyPlan)),
                _any(Referral, of_case(Referral), _set(Referral.feedback_enc)),
                _any(RiskAlert, of_case(RiskAlert), _set(RiskAlert.action_taken_enc)),
            ),
        ]
    if record_type == RecordType.beneficiary:
        return col(Beneficiary.id), [
            col(Beneficiary.organisation_id) == organisation_id,
            col(Beneficiary.pii_erased_at).is_(None),
            col(Beneficiary.registration_date) < day,
            col(Beneficiary.created_at) < before,
            col(Beneficiary.updated_at) < before,
            *(~sign for sign in _signs_of_life(day, before)),
        ]
    raise ValueError(f"{record_type} has nothing to apply")


def _set(column: Any) -> ColumnElement[bool]:
    return col(column).is_not(None)


def _any(model: type[Any], *conditions: ColumnElement[bool]) -> ColumnElement[bool]:
    return exists(select(col(model.id)).where(*conditions))


def _signs_of_life(day: date, before: datetime) -> list[ColumnElement[bool]]:
    """Anything recorded about the person since ``before``, or still open.
    The person qualifies when none exists (each one a top-level NOT EXISTS, so
    PostgreSQL plans anti-joins; a case's records are reached through its
    indexed ``case_id``)."""

    def of_person(model: type[Any]) -> ColumnElement[bool]:
        return and_(
            col(model.organisation_id) == col(Beneficiary.organisation_id),
            col(model.beneficiary_id) == col(Beneficiary.id),
        )

    def about(model: type[Any], *recent: ColumnElement[bool]) -> ColumnElement[bool]:
        return _any(model, of_person(model), or_(*recent))

    def in_cases(model: type[Any], *recent: ColumnElement[bool]) -> ColumnElement[bool]:
        return exists(
            select(col(model.id))
            .join(
                Case,
                and_(
                    col(Case.organisation_id) == col(model.organisation_id),
                    col(Case.id) == col(model.case_id),
                ),
            )
            .where(of_person(Case), or_(*recent))
        )

    return [
        about(
            Case,
            col(Case.status) != CaseStatus.closed,
            col(Case.opened_on) >= day,
            col(Case.closed_on) >= day,
            col(Case.updated_at) >= before,
        ),
        in_cases(
            RiskAlert,
            col(RiskAlert.status) == AlertStatus.open,
            col(RiskAlert.raised_at) >= before,
            col(RiskAlert.acknowledged_at) >= before,
        ),
        _any(  # a flag on the person without a case (beneficiary 0025)
            RiskAlert,
            of_person(RiskAlert),
            col(RiskAlert.case_id).is_(None),
            or_(
                col(RiskAlert.status) == AlertStatus.open,
                col(RiskAlert.raised_at) >= before,
                col(RiskAlert.acknowledged_at) >= before,
            ),
        ),
        about(
            ServiceRecord,
            col(ServiceRecord.service_date) >= day,
            col(ServiceRecord.created_at) >= before,
            col(ServiceRecord.updated_at) >= before,
        ),
        in_cases(
            Assessment,
            col(Assessment.administered_on) >= day,
            col(Assessment.created_at) >= before,
        ),
        in_cases(FollowUp, col(FollowUp.on) >= day, col(FollowUp.created_at) >= before),
        in_cases(CasePlan, col(CasePlan.created_at) >= before),
        in_cases(SafetyPlan, col(SafetyPlan.created_at) >= before),
        about(ConsentEntry, col(ConsentEntry.recorded_at) >= before),
        about(
            Referral,
            col(Referral.sent_on) >= day,
            col(Referral.status_on) >= day,
            col(Referral.updated_at) >= before,
        ),
        about(
            Enrolment,
            col(Enrolment.enrolled_on) >= day,
            col(Enrolment.status_on) >= day,
            col(Enrolment.created_at) >= before,
        ),
    ]


@dataclass
class _Context:
    organisation_id: uuid.UUID
    subject: str
    request_id: str | None


async def _apply_batch(
    session: AsyncSession,
    policy: EffectivePolicy,
    ids: list[uuid.UUID],
    before: datetime,
    context: _Context,
) -> list[uuid.UUID]:
    """Lock the batch, keep what still qualifies (a new service record or a
    reopening since the selection saves the record), act on it."""
    id_column, conditions = _eligible(
        policy.record_type, context.organisation_id, before
    )
    await session.execute(
        select(id_column)
        .where(id_column.in_(ids), conditions[0])  # the organisation's rows
        .order_by(id_column)
        .with_for_update()
    )
    if policy.record_type == RecordType.beneficiary:
        people = list(
            (
                await session.execute(
                    select(Beneficiary)
                    .where(id_column.in_(ids), *conditions)
                    .order_by(id_column)
                )
            ).scalars()
        )
        for person in people:
            await _pseudonymise_person(session, person)
        done = [p.id for p in people]
    else:
        done = list(
            (
                await session.execute(
                    select(id_column)
                    .where(id_column.in_(ids), *conditions)
                    .order_by(id_column)
                )
            ).scalars()
        )
        if done and policy.record_type == RecordType.closed_case:
            await _erase_case_text(session, context.organisation_id, done)
        elif done:
            await session.execute(
                delete(SyncConflict).where(col(SyncConflict.id).in_(done))
            )
    reason = (
        f"retention: {policy.record_type} kept {policy.keep_days} days "
        f"({policy.source})"
    )
    for entity_id in done:
        session.add(
            AuditEntry(
                organisation_id=context.organisation_id,
                subject=context.subject,
                action="retention",
                entity_type="case"
                if policy.record_type == RecordType.closed_case
                else str(policy.record_type),
                entity_id=entity_id,
                reason=reason,
                request_id=context.request_id,
            )
        )
    await session.flush()
    return done


async def _pseudonymise_person(session: AsyncSession, person: Beneficiary) -> None:
    """The erasure of a person, unannounced: their facts stay linked for
    the reports (see ``erase_person``)."""
    await erase_person(session, person, announce=False)


async def _erase_case_text(
    session: AsyncSession, organisation_id: uuid.UUID, case_ids: list[uuid.UUID]
) -> None:
    """Free text goes; what indicators use (status, dates, scores) stays. Plans
    and safety plans are their text, so their rows go, as on erasure."""

    def of_cases(column: Any) -> ColumnElement[bool]:
        return and_(
            column.class_.organisation_id == organisation_id, column.in_(case_ids)
        )

    await session.execute(
        update(Case).where(of_cases(Case.id)).values(intake_notes_enc=None)
    )
    await session.execute(
        update(FollowUp).where(of_cases(FollowUp.case_id)).values(notes_enc=None)
    )
    await session.execute(delete(CasePlan).where(of_cases(CasePlan.case_id)))
    await session.execute(delete(SafetyPlan).where(of_cases(SafetyPlan.case_id)))
    await session.execute(
        update(Referral).where(of_cases(Referral.case_id)).values(feedback_enc=None)
    )
    await session.execute(
        update(RiskAlert)
        .where(of_cases(RiskAlert.case_id))
        .values(action_taken_enc=None)
    )


async def _next_ids(
    session: AsyncSession,
    policy: EffectivePolicy,
    organisation_id: uuid.UUID,
    before: datetime,
    after: uuid.UUID | None,
    limit: int,
) -> list[uuid.UUID]:
    id_column, conditions = _eligible(policy.record_type, organisation_id, before)
    statement: Select[Any] = select(id_column).where(*conditions)
    if after is not None:
        statement = statement.where(id_column > after)
    rows = await session.execute(statement.order_by(id_column).limit(limit))
    return list(rows.scalars())


async def apply_policies(
    engine: AsyncEngine,
    *,
    organisation_id: uuid.UUID,
    started_by: str,
    dry_run: bool,
    now: datetime | None = None,
    request_id: str | None = None,
    batch_size: int = BATCH_SIZE,
    deadline: float | None = None,
) -> RetentionRun:
    """Apply (or, dry, only list) one organisation's policies as of ``now``,
    and record the run. Each batch commits on its own: a run cut short keeps
    what it did, and the next one carries on. Past ``deadline``
    (``time.monotonic()``) it stops, unfinished, after a batch that changed
    something, so a run carried on in slices always gets further."""
    now = now or utcnow()
    context = _Context(organisation_id, started_by, request_id)
    async with AsyncSession(engine, expire_on_commit=False) as session:
        async with session.begin():
            policies = await effective_policies(session, organisation_id)
            run = RetentionRun(
                organisation_id=organisation_id,
                dry_run=dry_run,
                started_by=started_by,
                started_at=utcnow(),
            )
            session.add(run)
        run_id = run.id  # a rollback below expires ``run``; no lazy load then
        affected: dict[str, dict[str, Any]] = {}
        finished = False
        try:
            for record_type in ORDER:
                policy = policies[record_type]
                before = (
                    now - timedelta(days=policy.keep_days)
                    if policy.enforced and policy.keep_days is not None
                    else None
                )
                ids: list[uuid.UUID] = []
                affected[record_type] = {
                    "count": 0,
                    "ids": [],
                    "keep_days": policy.keep_days,
                    "action": str(policy.action),
                    "source": str(policy.source),
                    "before": before.isoformat() if before else None,
                }
                after = None
                while before is not None:
                    async with session.begin():
                        batch = await _next_ids(
                            session, policy, organisation_id, before, after, batch_size
                        )
                        if batch and not dry_run:
                            ids += await _apply_batch(
                                session, policy, batch, before, context
                            )
                        elif batch:
                            ids += batch
                    session.expunge_all()
                    if len(batch) < batch_size or (ids and _past(deadline)):
                        break
                    after = batch[-1]
                affected[record_type].update(count=len(ids), ids=[str(i) for i in ids])
                if ids and _past(deadline):  # stops only after some progress
                    break
            else:
                finished = True
        finally:
            # recorded even when cut short (an error, or the task cancelled at
            # shutdown), but failing to record must not hide why it stopped
            try:
                async with session.begin():
                    stored = await session.get(RetentionRun, run_id)
                    assert stored is not None
                    stored.affected = affected
                    if finished:
                        stored.finished_at = utcnow()
                run = stored
            except Exception:
                if finished:
                    raise
                log.exception("retention_run_not_recorded", run_id=str(run_id))
    log.info(
        "retention_applied",
        organisation_id=str(organisation_id),
        dry_run=dry_run,
        counts={t: a["count"] for t, a in affected.items()},
    )
    return run


def _past(deadline: float | None) -> bool:
    return deadline is not None and time.monotonic() > deadline


async def apply_retention(
    ctx: JobContext, *, now: str | None = None, from_organisation: str | None = None
) -> int:
    """Apply every organisation's policies (the daily job); ``now`` (ISO 8601,
    tests and catch-up runs) replaces the clock. Returns how many records it
    changed.

    One run works for at most ``RETENTION_SLICE_SECONDS``, then queues the
    rest (same clock, from the organisation it stopped in) as a new job: the
    worker's longest job timeout is how long arq leaves a dead worker's job,
    a risk alert's delivery included, before another worker takes it."""
    runtime: Runtime = ctx["runtime"]
    at = aware_datetime(now) if now else utcnow()
    deadline = time.monotonic() + RETENTION_SLICE_SECONDS
    query = select(col(Organisation.id)).order_by(col(Organisation.id))
    if from_organisation:
        query = query.where(col(Organisation.id) >= uuid.UUID(from_organisation))
    async with AsyncSession(runtime.engine) as session, session.begin():
        organisations = list((await session.execute(query)).scalars())
    total = people = 0
    failed = []
    for organisation_id in organisations:
        try:
            run = await apply_policies(
                runtime.engine,
                organisation_id=organisation_id,
                started_by=JOB_SUBJECT,
                dry_run=False,
                now=at,
                deadline=deadline,
            )
        except Exception:
            log.exception("retention_failed", organisation_id=str(organisation_id))
            failed.append(str(organisation_id))
            continue
        total += sum(a["count"] for a in run.affected.values())
        people += run.affected.get(RecordType.beneficiary, {}).get("count", 0)
        if run.finished_at is None:
            await runtime.queue.enqueue(
                apply_retention.__name__,
                job_id=f"apply_retention:{at.isoformat()}:{run.id}",
                now=at.isoformat(),
                from_organisation=str(organisation_id),
            )
            log.info("retention_continues", organisation_id=str(organisation_id))
            break
    if people:
        await announce_writes(runtime)
    if failed:
        raise RuntimeError(f"retention failed for organisations {', '.join(failed)}")
    return total


def _scoped_runs(principal: Principal) -> Select[Any]:
    return select(RetentionRun).where(
        col(RetentionRun.organisation_id) == principal.organisation_id
    )


async def list_runs(
    session: AsyncSession, principal: Principal, cursor: str | None, limit: int
) -> Page[RetentionRun]:
    rows, next_cursor = await keyset_page(
        session,
        _scoped_runs(principal),
        key=col(RetentionRun.started_at),
        parse_key=aware_datetime,
        cursor=cursor,
        limit=limit,
    )
    return Page(items=rows, next_cursor=next_cursor)


async def get_run(
    session: AsyncSession, principal: Principal, run_id: uuid.UUID
) -> RetentionRun:
    """One run of the caller's organisation; anyone else's is a 404."""
    return await get_in_scope(
        session,
        principal,
        RetentionRun,
        run_id,
        what="retention run",
        site_scoped=False,
    )


def run_summary(run: RetentionRun) -> RetentionRunSummary:
    return RetentionRunSummary(
        id=run.id,
        dry_run=run.dry_run,
        started_at=run.started_at,
        finished_at=run.finished_at,
        started_by=run.started_by,
        counts={t: int(a.get("count", 0)) for t, a in run.affected.items()},
    )
