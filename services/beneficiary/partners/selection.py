"""Selection rounds: weighted criteria, applications or nominations, each
reviewer's scores, a deterministic ranking and a decision that gives every
organisation not selected its reason.

The ranking: each criterion's score is the mean over reviewers, divided by
its maximum; the total is the weighted mean of those, times 100, rounded to
2 places. Ties are broken by the criteria in order of weight (heaviest first,
then by code), then by the candidate organisation's id, so the same inputs
always give the same order. Unscored applications come last."""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from services.beneficiary.db import under
from services.beneficiary.partners.models import (
    SelectionApplication,
    SelectionRound,
    SelectionScore,
)
from services.beneficiary.partners.schemas import (
    ApplicationCreate,
    CriteriaUpdate,
    DecisionCreate,
    RankedApplication,
    Ranking,
    ScoreCreate,
    SelectionRoundCreate,
)
from services.beneficiary.partners.service import (
    announce,
    invalid,
    note_history,
    require_concern,
    sent_before,
)
from shared.auth import Principal
from shared.contracts.events import EventType, SelectionFacts, SelectionOutcome
from shared.errors import Conflict, FieldError, Invalid, VersionConflict
from shared.scoping import get_in_scope

TIE_BREAK = (
    "weighted total (2 places) descending; then each criterion's normalised "
    "mean, heaviest weight first (then by code), descending; then the "
    "candidate organisation id ascending; unscored applications last"
)


async def open_round(
    session: AsyncSession, principal: Principal, data: SelectionRoundCreate
) -> SelectionRound:
    """Open a call with its criteria and weights (criteria version 1)."""
    existing = await sent_before(session, principal, SelectionRound, data.id)
    if existing is not None:
        return existing
    row_id = data.id or uuid.uuid4()
    row = SelectionRound(
        id=row_id,
        organisation_id=principal.organisation_id,
        title=data.title,
        opened_on=data.opened_on,
        criteria=[c.model_dump(mode="json") for c in data.criteria],
    )
    session.add(row)
    await session.flush()
    return row


async def get_round(
    session: AsyncSession,
    principal: Principal,
    round_id: uuid.UUID,
    *,
    for_update: bool = False,
) -> SelectionRound:
    return await get_in_scope(
        session,
        principal,
        SelectionRound,
        round_id,
        what="selection round",
        for_update=for_update,
    )


def _still_open(row: SelectionRound) -> None:
    if row.status != "open":
        raise Conflict("This selection round is decided; open a new round.")


def _checked_version(row: SelectionRound, expected: int) -> None:
    if row.version != expected:
        raise VersionConflict(
            f"You edited version {expected}; the server has version {row.version}."
        )


async def revise_criteria(
    session: AsyncSession,
    principal: Principal,
    round_id: uuid.UUID,
    data: CriteriaUpdate,
    expected_version: int,
) -> SelectionRound:
    """New criteria or weights, as a new criteria version: only before any
    application is scored, so no score was given against other criteria."""
    row = await get_round(session, principal, round_id, for_update=True)
    _checked_version(row, expected_version)
    _still_open(row)
    scored = await session.execute(
        select(func.count())
        .select_from(SelectionScore)
        .join(
            SelectionApplication,
            (col(SelectionApplication.id) == col(SelectionScore.application_id))
            & (
                col(SelectionApplication.organisation_id)
                == col(SelectionScore.organisation_id)
            ),
        )
        .where(under(col(SelectionApplication.round_id), row))
    )
    if scored.scalar_one():
        raise Conflict("Applications are scored already; the criteria are fixed.")
    codes = [c.code for c in data.criteria]
    if len(set(codes)) != len(codes):
        raise invalid(["body", "criteria"], "criterion codes must be unique", "unique")
    row.criteria = [c.model_dump(mode="json") for c in data.criteria]
    row.criteria_version += 1
    row.version += 1
    await session.flush()
    return row


async def add_application(
    session: AsyncSession,
    principal: Principal,
    round_id: uuid.UUID,
    data: ApplicationCreate,
) -> SelectionApplication:
    """An organisation applies or is nominated; once per round."""
    existing = await sent_before(session, principal, SelectionApplication, data.id)
    if existing is not None:
        return existing
    row_id = data.id or uuid.uuid4()
    selection = await get_round(session, principal, round_id, for_update=True)
    _still_open(selection)
    await require_concern(
        session,
        principal,
        [data.candidate_organisation_id],
        ["body", "candidate_organisation_id"],
    )
    clash = await session.execute(
        select(col(SelectionApplication.id)).where(
            under(col(SelectionApplication.round_id), selection),
            col(SelectionApplication.candidate_organisation_id)
            == data.candidate_organisation_id,
        )
    )
    if clash.first() is not None:
        raise Conflict("This organisation is in this round already.")
    row = SelectionApplication(
        id=row_id,
        organisation_id=principal.organisation_id,
        round_id=selection.id,
        candidate_organisation_id=data.candidate_organisation_id,
        channel=data.channel,
    )
    session.add(row)
    await note_history(
        session,
        principal,
        data.candidate_organisation_id,
        selection.opened_on,
        data.channel,
        selection.id,
        status="applicant",
    )
    await session.flush()
    return row


async def get_application(
    session: AsyncSession, principal: Principal, row_id: uuid.UUID
) -> SelectionApplication:
    return await get_in_scope(
        session, principal, SelectionApplication, row_id, what="application"
    )


async def score_application(
    session: AsyncSession,
    principal: Principal,
    round_id: uuid.UUID,
    data: ScoreCreate,
) -> SelectionScore:
    """One reviewer's scores of one application, against every criterion
    of the round's current criteria version."""
    existing = await sent_before(session, principal, SelectionScore, data.id)
    if existing is not None:
        return existing
    row_id = data.id or uuid.uuid4()
    selection = await get_round(session, principal, round_id, for_update=True)
    _still_open(selection)
    application = await session.get(
        SelectionApplication, (principal.organisation_id, data.application_id)
    )
    if application is None or application.round_id != selection.id:
        raise invalid(["body", "application_id"], "unknown application", "application")
    maxima = {c["code"]: c["max_score"] for c in selection.criteria}
    errors = [
        FieldError(loc=["body", "scores", code], msg="unknown criterion", type="code")
        for code in data.scores
        if code not in maxima
    ] + [
        FieldError(
            loc=["body", "scores", code],
            msg=f"missing, or not between 0 and {top}",
            type="score",
        )
        for code, top in maxima.items()
        if not 0 <= data.scores.get(code, -1) <= top
    ]
    if errors:
        raise Invalid("The scores do not match the round's criteria.", errors=errors)
    clash = await session.execute(
        select(col(SelectionScore.id)).where(
            under(col(SelectionScore.application_id), application),
            col(SelectionScore.reviewer) == principal.subject,
        )
    )
    if clash.first() is not None:
        raise Conflict("You have scored this application already.")
    row = SelectionScore(
        id=row_id,
        organisation_id=principal.organisation_id,
        application_id=application.id,
        reviewer=principal.subject,
        scores=data.scores,
    )
    session.add(row)
    await session.flush()
    return row


@dataclass(frozen=True)
class _Ranked:
    application: SelectionApplication
    score: float | None
    reviewers: int
    means: dict[str, float]


def rank(
    criteria: list[dict[str, object]],
    applications: list[SelectionApplication],
    scores: dict[uuid.UUID, list[dict[str, float]]],
) -> list[_Ranked]:
    """The deterministic order of ``TIE_BREAK`` (a pure function)."""
    weights = {str(c["code"]): float(str(c["weight"])) for c in criteria}
    maxima = {str(c["code"]): float(str(c["max_score"])) for c in criteria}
    order = sorted(weights, key=lambda code: (-weights[code], code))
    total_weight = sum(weights.values())
    ranked = []
    for application in applications:
        given = scores.get(application.id, [])
        if not given:
            ranked.append(_Ranked(application, None, 0, {}))
            continue
        means = {
            code: round(sum(s[code] for s in given) / len(given) / maxima[code], 6)
            for code in weights
        }
        total = round(
            100 * sum(weights[c] * means[c] for c in weights) / total_weight, 2
        )
        ranked.append(_Ranked(application, total, len(given), means))
    return sorted(
        ranked,
        key=lambda r: (
            r.score is None,
            -(r.score or 0.0),
            *(-r.means.get(code, 0.0) for code in order),
            str(r.application.candidate_organisation_id),
        ),
    )


async def _ranked(session: AsyncSession, selection: SelectionRound) -> list[_Ranked]:
    applications = list(
        (
            await session.execute(
                select(SelectionApplication).where(
                    under(col(SelectionApplication.round_id), selection)
                )
            )
        ).scalars()
    )
    by_application: dict[uuid.UUID, list[dict[str, float]]] = defaultdict(list)
    if applications:
        rows = await session.execute(
            select(SelectionScore)
            .where(
                col(SelectionScore.organisation_id) == selection.organisation_id,
                col(SelectionScore.application_id).in_([a.id for a in applications]),
            )
            .order_by(col(SelectionScore.reviewer))
        )
        for score in rows.scalars():
            by_application[score.application_id].append(score.scores)
    return rank(selection.criteria, applications, by_application)


async def ranking(
    session: AsyncSession, principal: Principal, round_id: uuid.UUID
) -> Ranking:
    """The ranking now (before the decision) or as decided."""
    selection = await get_round(session, principal, round_id)
    return Ranking(
        round_id=selection.id,
        criteria_version=selection.criteria_version,
        tie_break=TIE_BREAK,
        ranking=[
            RankedApplication(
                rank=place,
                application_id=r.application.id,
                candidate_organisation_id=r.application.candidate_organisation_id,
                score=r.score,
                reviewers=r.reviewers,
                criterion_means=r.means,
                outcome=r.application.outcome,
                reason=r.application.reason,
            )
            for place, r in enumerate(await _ranked(session, selection), start=1)
        ],
    )


async def decide(
    session: AsyncSession,
    principal: Principal,
    round_id: uuid.UUID,
    data: DecisionCreate,
    expected_version: int,
) -> SelectionRound:
    """Select down the ranking: an exclusion's reason first, then no scores,
    then below ``min_score``, then beyond ``select_top``; everyone else is
    selected. Each application keeps its rank, score and reason."""
    selection = await get_round(session, principal, round_id, for_update=True)
    _checked_version(selection, expected_version)
    _still_open(selection)
    ranked = await _ranked(session, selection)
    known = {r.application.id for r in ranked}
    excluded = {e.application_id: e for e in data.exclusions}
    if set(excluded) - known:
        raise invalid(["body", "exclusions"], "unknown application", "application")
    chosen = 0
    outcomes = []
    for place, r in enumerate(ranked, start=1):
        application = r.application
        reason: str | None = None
        note: str | None = None
        if application.id in excluded:
            reason, note = (
                excluded[application.id].reason,
                excluded[application.id].note,
            )
        elif r.score is None:
            reason = "not_scored"
        elif data.min_score is not None and r.score < data.min_score:
            reason = "below_minimum_score"
        elif data.select_top is not None and chosen >= data.select_top:
            reason = "ranked_below_cutoff"
        else:
            chosen += 1
        application.rank, application.score = place, r.score
        application.outcome = "not_selected" if reason else "selected"
        application.reason, application.reason_note = reason, note
        await note_history(
            session,
            principal,
            application.candidate_organisation_id,
            data.decided_on,
            application.outcome,
            selection.id,
            status=application.outcome,
        )
        outcomes.append(
            SelectionOutcome(
                candidate_organisation_id=application.candidate_organisation_id,
                selected=reason is None,
                score=r.score or 0.0,
                reason=reason,
            )
        )
    selection.status = "decided"
    selection.decision = data.model_dump(mode="json")
    selection.decided_on = data.decided_on
    selection.decided_by = principal.subject
    selection.version += 1
    announce(
        session,
        principal,
        EventType.selection_round_decided,
        "selection_round",
        selection.id,
        SelectionFacts(
            round_id=selection.id,
            organisation_id=principal.organisation_id,
            decided_on=data.decided_on,
            outcomes=outcomes,
        ),
    )
    await session.flush()
    return selection
