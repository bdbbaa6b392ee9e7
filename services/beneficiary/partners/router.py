"""HTTP API of the partner arc: profiles (and prospective organisations),
mapping exercises, capacity tools and assessments, selection rounds and needs
assessments. Every write is audited, acts once per Idempotency-Key, and is
announced to the outbox after it commits; updates need If-Match."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Header, Query, Response
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from services.beneficiary.access import PartnerManager, PartnerReader, PartnerStaff
from services.beneficiary.audit.models import audit_log
from services.beneficiary.db import OnceDep
from services.beneficiary.partners import selection as selection_service
from services.beneficiary.partners import service as partners_service
from services.beneficiary.partners.models import (
    CapacityAssessment,
    MappingExercise,
    NeedsAssessment,
    SelectionRound,
    SelectionScore,
)
from services.beneficiary.partners.schemas import (
    ApplicationCreate,
    ApplicationRead,
    CapacityAssessmentCreate,
    CapacityAssessmentRead,
    CapacityChange,
    CriteriaUpdate,
    DecisionCreate,
    MappingCreate,
    MappingRead,
    NeedsAssessmentCreate,
    NeedsAssessmentRead,
    ProfileCreate,
    ProfileRead,
    ProfileUpdate,
    Ranking,
    ScoreCreate,
    ScoreRead,
    SelectionRoundCreate,
    SelectionRoundRead,
)
from shared.app import RuntimeDep
from shared.audit import Actor
from shared.concurrency import etag, expected_version
from shared.contracts.text import Text
from shared.crypto import KeyRing
from shared.db import SessionDep
from shared.errors import (
    Conflict,
    Forbidden,
    Invalid,
    NotFound,
    PreconditionRequired,
    VersionConflict,
    problem_responses,
)
from shared.idempotency import Once, Versioned
from shared.pagination import (
    DEFAULT_LIMIT,
    CursorQuery,
    LimitQuery,
    Page,
    listed_page,
)
from shared.scoping import get_in_scope
from shared.taxonomy.capacity import CapacityTool, capacity_tools

router = APIRouter(tags=["partners"])
T = TypeVar("T")
R = TypeVar("R", bound=BaseModel)
V = TypeVar("V", bound=Versioned)
IfMatch = Annotated[str | None, Header()]
WRITE_PROBLEMS = problem_responses(Invalid, Conflict, Forbidden, NotFound)
UPDATE_PROBLEMS = problem_responses(
    Invalid, Conflict, NotFound, VersionConflict, PreconditionRequired
)


async def _write(
    once: Once,
    actor: Actor,
    route: str,
    body: BaseModel | None,
    act: Callable[[], Awaitable[T]],
    load: Callable[[uuid.UUID], Awaitable[T]],
    render: Callable[[T], Awaitable[R]],
    audit: tuple[str, str, Callable[[T], uuid.UUID]],
) -> R:
    """Act once per key, audited, then announce; the answer is ``render``."""
    action, kind, identify = audit
    return await once.answer(
        actor.principal,
        route,
        body,
        act,
        load,
        render,
        audit=audit_log.trail(actor, action, kind, lambda result: [identify(result)]),
    )


def _tagged(response: Response, read: V) -> V:
    """``read`` with its ETag, so the next update can send If-Match."""
    response.headers["ETag"] = etag(read.version)
    return read


def _validated(schema: type[R]) -> Callable[[Any], Awaitable[R]]:
    """A ``render`` for ``_write`` that answers the row as ``schema``."""

    async def render(row: Any) -> R:
        return schema.model_validate(row)

    return render


def _profile_render(
    session: AsyncSession, keyring: KeyRing
) -> Callable[[Any], Awaitable[ProfileRead]]:
    """A ``render`` for ``_write`` that answers a profile (contacts decrypted)."""

    async def render(profile: Any) -> ProfileRead:
        return await partners_service.profile_read(session, profile, keyring)

    return render


async def _own_page(
    session: Any,
    actor: Actor,
    model: type[Any],
    schema: type[R],
    cursor: str | None,
    limit: int,
) -> Page[R]:
    """A page of the caller's organisation's ``model`` rows as ``schema``."""
    async with session.begin():
        page = await partners_service.list_own(
            session, actor.principal, model, cursor, limit
        )
    return page.map(schema.model_validate)


# --- profiles and prospective organisations --------------------------------


@router.post(
    "/v1/partner-profiles",
    status_code=201,
    response_model=ProfileRead,
    responses=WRITE_PROBLEMS,
)
async def create_profile(
    body: ProfileCreate,
    response: Response,
    session: SessionDep,
    runtime: RuntimeDep,
    actor: PartnerManager,
    once: OnceDep,
) -> ProfileRead:
    """Profile your organisation or a partner, or register a prospective
    organisation (``name`` and ``type``, no users) that your organisation keeps."""
    principal = actor.principal
    read = await _write(
        once,
        actor,
        "POST /v1/partner-profiles",
        body,
        lambda: partners_service.create_profile(
            session, principal, runtime.keyring, body
        ),
        lambda existing: partners_service.get_profile(session, principal, existing),
        _profile_render(session, runtime.keyring),
        ("create", "organisation_profile", lambda p: p.organisation_id),
    )
    return _tagged(response, read)


@router.get("/v1/partner-profiles", response_model=Page[ProfileRead])
async def list_profiles(
    session: SessionDep,
    runtime: RuntimeDep,
    actor: PartnerReader,
    programme_status: Annotated[Text | None, Query(max_length=32)] = None,
    cursor: CursorQuery = None,
    limit: LimitQuery = DEFAULT_LIMIT,
) -> Page[ProfileRead]:
    """Profiles of the organisations this organisation stewards (partners and
    prospects)."""

    async def fetch() -> Page[ProfileRead]:
        page = await partners_service.list_profiles(
            session, actor.principal, programme_status, cursor, limit
        )
        items = [
            await partners_service.profile_read(session, p, runtime.keyring)
            for p in page.items
        ]
        return Page(items=items, next_cursor=page.next_cursor)

    return await audit_log.read(
        session,
        actor,
        "list",
        "organisation_profile",
        fetch,
        lambda page: [p.organisation_id for p in page.items],
    )


@router.get(
    "/v1/partner-profiles/{organisation_id}",
    response_model=ProfileRead,
    responses=problem_responses(NotFound),
)
async def get_profile(
    organisation_id: uuid.UUID,
    response: Response,
    session: SessionDep,
    runtime: RuntimeDep,
    actor: PartnerReader,
) -> ProfileRead:
    """One organisation's profile; the contact person is decrypted for the
    steward only."""

    async def fetch() -> ProfileRead:
        profile = await partners_service.get_profile(
            session, actor.principal, organisation_id
        )
        return await partners_service.profile_read(session, profile, runtime.keyring)

    read = await audit_log.read(
        session,
        actor,
        "read",
        "organisation_profile",
        fetch,
        lambda _: [organisation_id],
    )
    return _tagged(response, read)


@router.patch(
    "/v1/partner-profiles/{organisation_id}",
    response_model=ProfileRead,
    responses=UPDATE_PROBLEMS,
)
async def update_profile(
    organisation_id: uuid.UUID,
    body: ProfileUpdate,
    response: Response,
    session: SessionDep,
    runtime: RuntimeDep,
    actor: PartnerManager,
    once: OnceDep,
    if_match: IfMatch = None,
) -> ProfileRead:
    """Edit the version you read (If-Match); a stale edit is 409."""
    version = expected_version(if_match)
    principal = actor.principal
    read = await _write(
        once,
        actor,
        f"PATCH /v1/partner-profiles/{organisation_id} If-Match: {version}",
        body,
        lambda: partners_service.update_profile(
            session, principal, runtime.keyring, organisation_id, body, version
        ),
        lambda existing: partners_service.get_profile(session, principal, existing),
        _profile_render(session, runtime.keyring),
        ("update", "organisation_profile", lambda p: p.organisation_id),
    )
    return _tagged(response, read)


# --- mapping ---------------------------------------------------------------


@router.post(
    "/v1/mapping-exercises",
    status_code=201,
    response_model=MappingRead,
    responses=WRITE_PROBLEMS,
)
async def record_mapping(
    body: MappingCreate, session: SessionDep, actor: PartnerManager, once: OnceDep
) -> MappingRead:
    """A dated mapping: which organisations were found where, and the analysis."""
    principal = actor.principal
    return await _write(
        once,
        actor,
        "POST /v1/mapping-exercises",
        body,
        lambda: partners_service.record_mapping(session, principal, body),
        lambda existing: partners_service.get_mapping(session, principal, existing),
        _validated(MappingRead),
        ("create", "mapping_exercise", lambda r: r.id),
    )


@router.get("/v1/mapping-exercises", response_model=Page[MappingRead])
async def list_mappings(
    session: SessionDep,
    actor: PartnerReader,
    cursor: CursorQuery = None,
    limit: LimitQuery = DEFAULT_LIMIT,
) -> Page[MappingRead]:
    """This organisation's mapping exercises, newest first."""
    return await _own_page(session, actor, MappingExercise, MappingRead, cursor, limit)


@router.get(
    "/v1/mapping-exercises/{exercise_id}",
    response_model=MappingRead,
    responses=problem_responses(NotFound),
)
async def get_mapping(
    exercise_id: uuid.UUID, session: SessionDep, actor: PartnerReader
) -> MappingRead:
    """One mapping exercise with its findings."""
    async with session.begin():
        row = await partners_service.get_mapping(session, actor.principal, exercise_id)
    return MappingRead.model_validate(row)


# --- capacity --------------------------------------------------------------


@router.get("/v1/capacity-tools", response_model=Page[CapacityTool])
async def list_capacity_tools(
    _: PartnerReader, cursor: CursorQuery = None, limit: LimitQuery = DEFAULT_LIMIT
) -> Page[CapacityTool]:
    """The shipped organisational capacity tools (data, versioned)."""
    tools = capacity_tools()
    return listed_page(
        [tools[key] for key in sorted(tools)],
        key=lambda tool: f"{tool.code}@{tool.version}",
        cursor=cursor,
        limit=limit,
    )


@router.post(
    "/v1/capacity-assessments",
    status_code=201,
    response_model=CapacityAssessmentRead,
    responses=WRITE_PROBLEMS,
)
async def record_capacity_assessment(
    body: CapacityAssessmentCreate,
    session: SessionDep,
    runtime: RuntimeDep,
    actor: PartnerStaff,
    once: OnceDep,
) -> CapacityAssessmentRead:
    """A baseline or follow-up; a follow-up may name the mentoring plan it
    measures."""
    principal = actor.principal

    async def render(row: CapacityAssessment) -> CapacityAssessmentRead:
        return partners_service.capacity_read(row, runtime.keyring)

    return await _write(
        once,
        actor,
        "POST /v1/capacity-assessments",
        body,
        lambda: partners_service.record_capacity_assessment(
            session, principal, runtime.keyring, body
        ),
        lambda existing: partners_service.get_capacity_assessment(
            session, principal, existing
        ),
        render,
        ("create", "capacity_assessment", lambda r: r.id),
    )


@router.get("/v1/capacity-assessments", response_model=Page[CapacityAssessmentRead])
async def list_capacity_assessments(
    session: SessionDep,
    runtime: RuntimeDep,
    actor: PartnerReader,
    assessed_organisation_id: uuid.UUID | None = None,
    cursor: CursorQuery = None,
    limit: LimitQuery = DEFAULT_LIMIT,
) -> Page[CapacityAssessmentRead]:
    """Capacity assessments this organisation made, filterable by the assessed
    organisation."""
    where = (
        []
        if assessed_organisation_id is None
        else [CapacityAssessment.assessed_organisation_id == assessed_organisation_id]
    )
    page = await audit_log.read(
        session,
        actor,
        "list",
        "capacity_assessment",
        lambda: partners_service.list_own(
            session, actor.principal, CapacityAssessment, cursor, limit, *where
        ),
        lambda page: [r.id for r in page.items],
    )
    return page.map(lambda r: partners_service.capacity_read(r, runtime.keyring))


@router.get(
    "/v1/capacity-assessments/{assessment_id}",
    response_model=CapacityAssessmentRead,
    responses=problem_responses(NotFound),
)
async def get_capacity_assessment(
    assessment_id: uuid.UUID,
    session: SessionDep,
    runtime: RuntimeDep,
    actor: PartnerReader,
) -> CapacityAssessmentRead:
    """One capacity assessment with its domain scores."""
    row = await audit_log.read(
        session,
        actor,
        "read",
        "capacity_assessment",
        lambda: partners_service.get_capacity_assessment(
            session, actor.principal, assessment_id
        ),
    )
    return partners_service.capacity_read(row, runtime.keyring)


@router.get("/v1/capacity-change", response_model=CapacityChange)
async def capacity_change(
    session: SessionDep,
    actor: PartnerReader,
    tool: Annotated[Text, Query(max_length=64)] = "oca_mhpss@1.0",
    assessed_organisation_id: uuid.UUID | None = None,
    mentoring_plan_id: uuid.UUID | None = None,
) -> CapacityChange:
    """Change per domain, baseline to follow-up; with ``mentoring_plan_id``
    the change measured for that plan."""
    async with session.begin():
        return await partners_service.capacity_change(
            session, actor.principal, tool, assessed_organisation_id, mentoring_plan_id
        )


# --- selection rounds ------------------------------------------------------


@router.post(
    "/v1/selection-rounds",
    status_code=201,
    response_model=SelectionRoundRead,
    responses=WRITE_PROBLEMS,
)
async def open_round(
    body: SelectionRoundCreate,
    response: Response,
    session: SessionDep,
    actor: PartnerManager,
    once: OnceDep,
) -> SelectionRoundRead:
    """Open a call with criteria and weights (criteria version 1)."""
    principal = actor.principal
    read = await _write(
        once,
        actor,
        "POST /v1/selection-rounds",
        body,
        lambda: selection_service.open_round(session, principal, body),
        lambda existing: selection_service.get_round(session, principal, existing),
        _validated(SelectionRoundRead),
        ("create", "selection_round", lambda r: r.id),
    )
    return _tagged(response, read)


@router.get("/v1/selection-rounds", response_model=Page[SelectionRoundRead])
async def list_rounds(
    session: SessionDep,
    actor: PartnerReader,
    cursor: CursorQuery = None,
    limit: LimitQuery = DEFAULT_LIMIT,
) -> Page[SelectionRoundRead]:
    """This organisation's selection rounds."""
    return await _own_page(
        session, actor, SelectionRound, SelectionRoundRead, cursor, limit
    )


@router.get(
    "/v1/selection-rounds/{round_id}",
    response_model=SelectionRoundRead,
    responses=problem_responses(NotFound),
)
async def get_round(
    round_id: uuid.UUID, response: Response, session: SessionDep, actor: PartnerReader
) -> SelectionRoundRead:
    """One selection round and its decision."""
    async with session.begin():
        row = await selection_service.get_round(session, actor.principal, round_id)
    response.headers["ETag"] = etag(row.version)
    return SelectionRoundRead.model_validate(row)


@router.put(
    "/v1/selection-rounds/{round_id}/criteria",
    response_model=SelectionRoundRead,
    responses=UPDATE_PROBLEMS,
)
async def revise_criteria(
    round_id: uuid.UUID,
    body: CriteriaUpdate,
    response: Response,
    session: SessionDep,
    actor: PartnerManager,
    once: OnceDep,
    if_match: IfMatch = None,
) -> SelectionRoundRead:
    """New criteria or weights (a new criteria version), before any score."""
    version = expected_version(if_match)
    principal = actor.principal
    read = await _write(
        once,
        actor,
        f"PUT /v1/selection-rounds/{round_id}/criteria If-Match: {version}",
        body,
        lambda: selection_service.revise_criteria(
            session, principal, round_id, body, version
        ),
        lambda existing: selection_service.get_round(session, principal, existing),
        _validated(SelectionRoundRead),
        ("update", "selection_round", lambda r: r.id),
    )
    return _tagged(response, read)


@router.post(
    "/v1/selection-rounds/{round_id}/applications",
    status_code=201,
    response_model=ApplicationRead,
    responses=WRITE_PROBLEMS,
)
async def add_application(
    round_id: uuid.UUID,
    body: ApplicationCreate,
    session: SessionDep,
    actor: PartnerManager,
    once: OnceDep,
) -> ApplicationRead:
    """An organisation applies, or is nominated, while the round is open."""
    principal = actor.principal
    return await _write(
        once,
        actor,
        f"POST /v1/selection-rounds/{round_id}/applications",
        body,
        lambda: selection_service.add_application(session, principal, round_id, body),
        lambda existing: selection_service.get_application(
            session, principal, existing
        ),
        _validated(ApplicationRead),
        ("create", "selection_application", lambda r: r.id),
    )


@router.get(
    "/v1/selection-rounds/{round_id}/applications",
    response_model=Page[ApplicationRead],
    responses=problem_responses(NotFound),
)
async def list_applications(
    round_id: uuid.UUID,
    session: SessionDep,
    actor: PartnerReader,
    cursor: CursorQuery = None,
    limit: LimitQuery = DEFAULT_LIMIT,
) -> Page[ApplicationRead]:
    """Every application of the round with its outcome and reason."""
    async with session.begin():
        ranked = await selection_service.ranking(session, actor.principal, round_id)
        rows = [
            await selection_service.get_application(
                session, actor.principal, r.application_id
            )
            for r in ranked.ranking
        ]
    return listed_page(
        [ApplicationRead.model_validate(r) for r in rows],
        key=lambda a: str(a.id),
        cursor=cursor,
        limit=limit,
    )


@router.post(
    "/v1/selection-rounds/{round_id}/scores",
    status_code=201,
    response_model=ScoreRead,
    responses=WRITE_PROBLEMS,
)
async def score_application(
    round_id: uuid.UUID,
    body: ScoreCreate,
    session: SessionDep,
    actor: PartnerStaff,
    once: OnceDep,
) -> ScoreRead:
    """Your scores of one application, against every criterion."""
    principal = actor.principal

    async def load(existing: uuid.UUID) -> Any:
        return await get_in_scope(
            session, principal, SelectionScore, existing, what="score"
        )

    return await _write(
        once,
        actor,
        f"POST /v1/selection-rounds/{round_id}/scores",
        body,
        lambda: selection_service.score_application(session, principal, round_id, body),
        load,
        _validated(ScoreRead),
        ("create", "selection_score", lambda r: r.id),
    )


@router.get(
    "/v1/selection-rounds/{round_id}/ranking",
    response_model=Ranking,
    responses=problem_responses(NotFound),
)
async def ranking(
    round_id: uuid.UUID, session: SessionDep, actor: PartnerReader
) -> Ranking:
    """The deterministic ranking (its tie-break is in the answer)."""
    async with session.begin():
        return await selection_service.ranking(session, actor.principal, round_id)


@router.post(
    "/v1/selection-rounds/{round_id}/decision",
    response_model=SelectionRoundRead,
    responses=UPDATE_PROBLEMS,
)
async def decide(
    round_id: uuid.UUID,
    body: DecisionCreate,
    response: Response,
    session: SessionDep,
    actor: PartnerManager,
    once: OnceDep,
    if_match: IfMatch = None,
) -> SelectionRoundRead:
    """Decide the round (If-Match: the round's version): who is selected,
    and every other organisation's reason."""
    version = expected_version(if_match)
    principal = actor.principal
    read = await _write(
        once,
        actor,
        f"POST /v1/selection-rounds/{round_id}/decision If-Match: {version}",
        body,
        lambda: selection_service.decide(session, principal, round_id, body, version),
        lambda existing: selection_service.get_round(session, principal, existing),
        _validated(SelectionRoundRead),
        ("decide", "selection_round", lambda r: r.id),
    )
    return _tagged(response, read)


# --- needs assessments -----------------------------------------------------


@router.post(
    "/v1/needs-assessments",
    status_code=201,
    response_model=NeedsAssessmentRead,
    responses=WRITE_PROBLEMS,
)
async def record_needs_assessment(
    body: NeedsAssessmentCreate, session: SessionDep, actor: PartnerStaff, once: OnceDep
) -> NeedsAssessmentRead:
    """A light needs assessment with coded findings."""
    principal = actor.principal
    return await _write(
        once,
        actor,
        "POST /v1/needs-assessments",
        body,
        lambda: partners_service.record_needs_assessment(session, principal, body),
        lambda existing: partners_service.get_needs_assessment(
            session, principal, existing
        ),
        _validated(NeedsAssessmentRead),
        ("create", "needs_assessment", lambda r: r.id),
    )


@router.get("/v1/needs-assessments", response_model=Page[NeedsAssessmentRead])
async def list_needs_assessments(
    session: SessionDep,
    actor: PartnerReader,
    cursor: CursorQuery = None,
    limit: LimitQuery = DEFAULT_LIMIT,
) -> Page[NeedsAssessmentRead]:
    """This organisation's needs assessments."""
    return await _own_page(
        session, actor, NeedsAssessment, NeedsAssessmentRead, cursor, limit
    )


@router.get(
    "/v1/needs-assessments/{needs_assessment_id}",
    response_model=NeedsAssessmentRead,
    responses=problem_responses(NotFound),
)
async def get_needs_assessment(
    needs_assessment_id: uuid.UUID, session: SessionDep, actor: PartnerReader
) -> NeedsAssessmentRead:
    """One needs assessment with its coded findings."""
    async with session.begin():
        row = await partners_service.get_needs_assessment(
            session, actor.principal, needs_assessment_id
        )
    return NeedsAssessmentRead.model_validate(row)
