"""Profiles, mapping exercises, capacity assessments and needs assessments.

Whose concern an organisation is decides what a caller may write about it:
its own organisation, one whose profile it stewards (a prospective
organisation it registered), or a partner that named it as lead. Any other
organisation named in a body is refused as unknown (422), never revealed."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from datetime import date
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from services.beneficiary.db import OutboxEvent
from services.beneficiary.locations.models import Location
from services.beneficiary.organisations.models import Organisation
from services.beneficiary.partners.models import (
    CapacityAssessment,
    MappingExercise,
    NeedsAssessment,
    OrganisationProfile,
)
from services.beneficiary.partners.schemas import (
    CapacityAssessmentCreate,
    CapacityAssessmentRead,
    CapacityChange,
    CapacityItemScore,
    ContactPerson,
    DomainChange,
    MappingCreate,
    NeedsAssessmentCreate,
    OrganisationChange,
    ProfileCreate,
    ProfileRead,
    ProfileUpdate,
)
from services.beneficiary.projects.service import project_of_record
from shared.auth import Principal
from shared.contracts.events import (
    CapacityFacts,
    EventType,
    MappingFacts,
    NeedsAssessmentFacts,
)
from shared.crypto import KeyRing
from shared.db import utcnow
from shared.errors import (
    BadRequest,
    Conflict,
    FieldError,
    Forbidden,
    Invalid,
    NotFound,
    VersionConflict,
)
from shared.outbox import add_event
from shared.pagination import (
    Page,
    aware_datetime,
    decode_cursor,
    encode_cursor,
    keyset_page,
)
from shared.scoping import get_in_scope
from shared.taxonomy.activities import activities
from shared.taxonomy.capacity import capacity_tools

M = TypeVar("M")


async def sent_before(
    session: AsyncSession,
    principal: Principal,
    model: type[M],
    client_id: uuid.UUID | None,
) -> M | None:
    """The caller's own record with this client-chosen id: a device's retry
    gets it back (another organisation's id is simply free here, as ids are
    unique per organisation)."""
    if client_id is None:
        return None
    return await session.get(model, (principal.organisation_id, client_id))


def invalid(loc: list[str | int], msg: str, kind: str) -> Invalid:
    return Invalid(msg, errors=[FieldError(loc=loc, msg=msg, type=kind)])


async def concerns(
    session: AsyncSession, principal: Principal, organisation_id: uuid.UUID
) -> bool:
    """The organisation is the caller's own, stewarded by it, or its partner."""
    if organisation_id == principal.organisation_id:
        return True
    found = await session.get(Organisation, organisation_id)
    if found is None:
        return False
    if principal.organisation_id == found.lead_organisation_id:
        return True  # a requested lead gains nothing until its admin approves
    profile = await session.get(OrganisationProfile, organisation_id)
    return profile is not None and profile.steward_organisation_id == (
        principal.organisation_id
    )


async def require_concern(
    session: AsyncSession,
    principal: Principal,
    organisation_ids: Iterable[uuid.UUID],
    loc: list[str | int],
) -> None:
    """422 for any organisation that is not the caller's concern (an
    unknown one and another's look the same)."""
    for organisation_id in organisation_ids:
        if not await concerns(session, principal, organisation_id):
            raise invalid(loc, "unknown organisation", "organisation")


async def require_organisations(
    session: AsyncSession, organisation_ids: Iterable[uuid.UUID], loc: list[str | int]
) -> None:
    """Organisations named in a mapping: any on the platform (the directory
    is public), never one that does not exist."""
    wanted = set(organisation_ids)
    found = await session.execute(
        select(col(Organisation.id)).where(col(Organisation.id).in_(wanted))
    )
    if wanted - set(found.scalars()):
        raise invalid(loc, "unknown organisation", "organisation")


async def require_locations(
    session: AsyncSession,
    location_ids: Iterable[uuid.UUID | None],
    loc: list[str | int],
) -> None:
    wanted = {i for i in location_ids if i is not None}
    if not wanted:
        return
    found = await session.execute(
        select(col(Location.id)).where(col(Location.id).in_(wanted))
    )
    if wanted - set(found.scalars()):
        raise invalid(loc, "unknown location", "location")


def require_activities(codes: Iterable[str], loc: list[str | int]) -> None:
    unknown = sorted(set(codes) - set(activities()))
    if unknown:
        raise invalid(loc, f"unknown activity codes: {', '.join(unknown)}", "activity")


LIST_FIELDS = frozenset(
    {
        "area_location_ids",
        "iasc_layers",
        "activity_codes",
        "languages",
        "staff",
        "network_memberships",
    }
)


def _contact_context(organisation_id: uuid.UUID) -> str:
    return f"organisation_profile:{organisation_id}:contact"


def announce(
    session: AsyncSession,
    principal: Principal,
    event_type: EventType,
    entity_type: str,
    entity_id: uuid.UUID,
    facts: BaseModel,
) -> None:
    """Stage the acting organisation's outbox event for a partner-arc write;
    it commits with the rows."""
    add_event(
        session,
        OutboxEvent,
        type=event_type,
        organisation_id=principal.organisation_id,
        entity_type=entity_type,
        entity_id=entity_id,
        facts=facts,
    )


def _note(profile: OrganisationProfile, on: date, event: str, ref: uuid.UUID) -> None:
    """Append to the organisation's history with the programme."""
    profile.history = [
        *profile.history,
        {"on": on.isoformat(), "event": event, "reference_id": str(ref)},
    ]


async def _stewarded(
    session: AsyncSession, principal: Principal, organisation_id: uuid.UUID
) -> OrganisationProfile | None:
    profile = await session.get(OrganisationProfile, organisation_id)
    if profile is None or principal.organisation_id != profile.steward_organisation_id:
        return None  # the lead's record of the programme is the lead's alone
    return profile


async def note_history(
    session: AsyncSession,
    principal: Principal,
    organisation_id: uuid.UUID,
    on: date,
    event: str,
    ref: uuid.UUID,
    status: str | None = None,
) -> None:
    """Record a step on the profile the caller keeps (if any), and move its
    programme status forward when ``status`` is given."""
    profile = await _stewarded(session, principal, organisation_id)
    if profile is None:
        return
    _note(profile, on, event, ref)
    if status is not None:
        profile.programme_status = status
    profile.version += 1
    profile.updated_at = utcnow()


async def _apply_fields(
    session: AsyncSession,
    keyring: KeyRing,
    profile: OrganisationProfile,
    data: ProfileCreate | ProfileUpdate,
) -> None:
    fields = data.model_dump(exclude_unset=True, exclude={"contact"}, mode="json")
    fields.pop("organisation_id", None)
    fields.pop("name", None)
    fields.pop("type", None)
    if data.area_location_ids:
        await require_locations(
            session, data.area_location_ids, ["body", "area_location_ids"]
        )
    if data.activity_codes:
        require_activities(data.activity_codes, ["body", "activity_codes"])
    for name, value in fields.items():
        if value is None and name in LIST_FIELDS:
            value = []
        if value is not None or name not in {"programme_status"}:
            setattr(profile, name, value)
    if "contact" in data.model_fields_set:
        plain = None if data.contact is None else data.contact.model_dump_json()
        profile.contact_enc = keyring.encrypt(
            plain, _contact_context(profile.organisation_id)
        )


async def create_profile(
    session: AsyncSession, principal: Principal, keyring: KeyRing, data: ProfileCreate
) -> OrganisationProfile:
    """Profile an organisation. Naming one that does not exist, with a name
    and type, registers it as a prospective organisation kept by the
    caller's organisation (it has no users; a platform admin is not needed).
    One profile per organisation: a second is a conflict."""
    organisation_id = data.organisation_id or uuid.uuid4()
    existing = await session.get(Organisation, organisation_id)
    if existing is None:
        if data.name is None or data.type is None:
            raise invalid(
                ["body", "name"],
                "a new (prospective) organisation needs a name and a type",
                "missing",
            )
        clash = await session.execute(
            select(col(Organisation.id)).where(col(Organisation.name) == data.name)
        )
        if clash.first() is not None:
            raise Conflict(f"An organisation named {data.name!r} exists already.")
        session.add(Organisation(id=organisation_id, name=data.name, type=data.type))
        status = "prospective"
    elif not await concerns(session, principal, organisation_id):
        raise Forbidden(
            "Only the organisation itself or its lead may profile an "
            "organisation on the platform."
        )
    else:
        status = "lead" if organisation_id == principal.organisation_id else "partner"
    if await session.get(OrganisationProfile, organisation_id) is not None:
        raise Conflict("This organisation has a profile already; PATCH it.")
    steward = (
        organisation_id
        if organisation_id == principal.organisation_id
        else principal.organisation_id
    )
    profile = OrganisationProfile(
        organisation_id=organisation_id,
        steward_organisation_id=steward,
        programme_status=status,
    )
    await _apply_fields(session, keyring, profile, data)
    _note(profile, utcnow().date(), f"profiled_{status}", organisation_id)
    session.add(profile)
    await session.flush()
    return profile


async def get_profile(
    session: AsyncSession,
    principal: Principal,
    organisation_id: uuid.UUID,
    *,
    for_update: bool = False,
) -> OrganisationProfile:
    statement = select(OrganisationProfile).where(
        col(OrganisationProfile.organisation_id) == organisation_id,
        or_(
            col(OrganisationProfile.steward_organisation_id)
            == principal.organisation_id,
            col(OrganisationProfile.organisation_id) == principal.organisation_id,
        ),
    )
    if for_update:
        statement = statement.with_for_update()
    profile = (await session.execute(statement)).scalar_one_or_none()
    if profile is None:
        raise NotFound("No such profile.")
    return profile


async def update_profile(
    session: AsyncSession,
    principal: Principal,
    keyring: KeyRing,
    organisation_id: uuid.UUID,
    data: ProfileUpdate,
    expected_version: int,
) -> OrganisationProfile:
    """Edit the version named in If-Match; a stale edit is 409 with ours."""
    profile = await get_profile(session, principal, organisation_id, for_update=True)
    if profile.version != expected_version:
        raise VersionConflict(
            f"You edited version {expected_version}; the server has "
            f"version {profile.version}.",
        )
    if (
        data.programme_status is not None
        and principal.organisation_id != profile.steward_organisation_id
    ):
        raise Forbidden(
            "Only the lead that keeps this profile sets its programme status."
        )
    await _apply_fields(session, keyring, profile, data)
    if data.programme_status is not None:
        _note(profile, utcnow().date(), data.programme_status, organisation_id)
    profile.version += 1
    profile.updated_at = utcnow()
    await session.flush()
    return profile


async def list_profiles(
    session: AsyncSession,
    principal: Principal,
    programme_status: str | None,
    cursor: str | None,
    limit: int,
) -> Page[OrganisationProfile]:
    statement = select(OrganisationProfile).where(
        or_(
            col(OrganisationProfile.steward_organisation_id)
            == principal.organisation_id,
            col(OrganisationProfile.organisation_id) == principal.organisation_id,
        )
    )
    if programme_status is not None:
        statement = statement.where(
            col(OrganisationProfile.programme_status) == programme_status
        )
    after = decode_cursor(cursor, 1)
    if after is not None:
        try:
            last = uuid.UUID(str(after[0]))
        except ValueError:
            raise BadRequest("The cursor is not one this API issued.") from None
        statement = statement.where(col(OrganisationProfile.organisation_id) > last)
    statement = statement.order_by(col(OrganisationProfile.organisation_id)).limit(
        limit + 1
    )
    rows = list((await session.execute(statement)).scalars())
    if len(rows) <= limit:
        return Page(items=rows, next_cursor=None)
    rows = rows[:limit]
    return Page(items=rows, next_cursor=encode_cursor([str(rows[-1].organisation_id)]))


async def profile_read(
    session: AsyncSession, profile: OrganisationProfile, keyring: KeyRing
) -> ProfileRead:
    organisation = await session.get(Organisation, profile.organisation_id)
    assert organisation is not None
    contact = keyring.decrypt(
        profile.contact_enc, _contact_context(profile.organisation_id)
    )
    return ProfileRead.model_validate(
        {
            **profile.model_dump(exclude={"contact_enc"}),
            "name": organisation.name,
            "type": organisation.type,
            "contact": None
            if contact is None
            else ContactPerson.model_validate_json(contact),
        }
    )


async def record_mapping(
    session: AsyncSession, principal: Principal, data: MappingCreate
) -> MappingExercise:
    """A dated mapping; every organisation found goes on its history."""
    existing = await sent_before(session, principal, MappingExercise, data.id)
    if existing is not None:
        return existing
    row_id = data.id or uuid.uuid4()
    found = [f.organisation_id for f in data.findings]
    await require_organisations(session, found, ["body", "findings"])
    await require_locations(
        session,
        [
            data.location_id,
            *(i for f in data.findings for i in f.location_ids),
            *data.analysis.underserved_location_ids,
        ],
        ["body", "findings"],
    )
    require_activities(
        [c for f in data.findings for c in f.activity_codes]
        + data.analysis.service_gaps,
        ["body", "findings"],
    )
    row = MappingExercise(
        id=row_id,
        organisation_id=principal.organisation_id,
        title=data.title,
        conducted_from=data.conducted_from,
        conducted_to=data.conducted_to,
        location_id=data.location_id,
        method=data.method,
        findings=[f.model_dump(mode="json") for f in data.findings],
        analysis=data.analysis.model_dump(mode="json"),
        recorded_by=principal.subject,
    )
    session.add(row)
    for organisation_id in found:
        await note_history(
            session, principal, organisation_id, data.conducted_to, "mapped", row_id
        )
    announce(
        session,
        principal,
        EventType.mapping_exercise_recorded,
        "mapping_exercise",
        row_id,
        MappingFacts(
            exercise_id=row_id,
            organisation_id=principal.organisation_id,
            conducted_on=data.conducted_to,
            location_id=data.location_id,
            mapped_organisation_ids=found,
        ),
    )
    await session.flush()
    return row


async def get_mapping(
    session: AsyncSession, principal: Principal, row_id: uuid.UUID
) -> MappingExercise:
    return await get_in_scope(
        session, principal, MappingExercise, row_id, what="mapping exercise"
    )


async def list_own(
    session: AsyncSession,
    principal: Principal,
    model: type[Any],
    cursor: str | None,
    limit: int,
    *where: Any,
) -> Page[Any]:
    """One page of the caller's organisation's rows of ``model``."""
    statement = select(model).where(
        col(model.organisation_id) == principal.organisation_id, *where
    )
    rows, next_cursor = await keyset_page(
        session,
        statement,
        key=col(model.created_at),
        parse_key=aware_datetime,
        cursor=cursor,
        limit=limit,
    )
    return Page(items=rows, next_cursor=next_cursor)


def _evidence_context(row_id: uuid.UUID) -> str:
    return f"capacity_assessment:{row_id}:evidence"


async def record_capacity_assessment(
    session: AsyncSession,
    principal: Principal,
    keyring: KeyRing,
    data: CapacityAssessmentCreate,
) -> CapacityAssessment:
    """Score an organisation with a shipped tool version; domain scores are
    the means of their items' levels (evidence is kept encrypted)."""
    existing = await sent_before(session, principal, CapacityAssessment, data.id)
    if existing is not None:
        return existing
    row_id = data.id or uuid.uuid4()
    tool = capacity_tools().get(data.tool)
    if tool is None:
        raise invalid(["body", "tool"], "unknown capacity tool", "tool")
    levels = {item: score.level for item, score in data.items.items()}
    problems = tool.score_errors(levels)
    if problems:
        raise Invalid(
            "The items do not match the tool.",
            errors=[
                FieldError(loc=["body", "items", item], msg=msg, type="item")
                for item, msg in problems
            ],
        )
    await require_concern(
        session,
        principal,
        [data.assessed_organisation_id],
        ["body", "assessed_organisation_id"],
    )
    project_id = await project_of_record(
        session, principal, data.project_id, data.assessed_on, ["body", "project_id"]
    )
    evidence = {i: s.evidence for i, s in data.items.items() if s.evidence}
    row = CapacityAssessment(
        id=row_id,
        organisation_id=principal.organisation_id,
        assessed_organisation_id=data.assessed_organisation_id,
        tool=tool.key,
        timepoint=data.timepoint,
        assessed_on=data.assessed_on,
        levels=levels,
        domain_scores=tool.domain_scores(levels),
        evidence_enc=keyring.encrypt(
            json.dumps(evidence, sort_keys=True) if evidence else None,
            _evidence_context(row_id),
        ),
        mentoring_plan_id=data.mentoring_plan_id,
        project_id=project_id,
        assessor=principal.subject,
    )
    session.add(row)
    await note_history(
        session,
        principal,
        data.assessed_organisation_id,
        data.assessed_on,
        f"capacity_{data.timepoint}",
        row_id,
    )
    announce(
        session,
        principal,
        EventType.capacity_assessment_recorded,
        "capacity_assessment",
        row_id,
        CapacityFacts(
            assessment_id=row_id,
            organisation_id=principal.organisation_id,
            assessed_organisation_id=row.assessed_organisation_id,
            tool=row.tool,
            timepoint=row.timepoint,
            assessed_on=row.assessed_on,
            domain_scores=row.domain_scores,
            mentoring_plan_id=row.mentoring_plan_id,
            project_id=row.project_id,
        ),
    )
    await session.flush()
    return row


async def get_capacity_assessment(
    session: AsyncSession, principal: Principal, row_id: uuid.UUID
) -> CapacityAssessment:
    return await get_in_scope(
        session, principal, CapacityAssessment, row_id, what="capacity assessment"
    )


def capacity_read(row: CapacityAssessment, keyring: KeyRing) -> CapacityAssessmentRead:
    plain = keyring.decrypt(row.evidence_enc, _evidence_context(row.id))
    evidence: dict[str, str] = json.loads(plain) if plain else {}
    return CapacityAssessmentRead(
        id=row.id,
        assessed_organisation_id=row.assessed_organisation_id,
        tool=row.tool,
        timepoint=row.timepoint,
        assessed_on=row.assessed_on,
        items={
            item: CapacityItemScore(level=level, evidence=evidence.get(item))
            for item, level in row.levels.items()
        },
        domain_scores=row.domain_scores,
        mentoring_plan_id=row.mentoring_plan_id,
        project_id=row.project_id,
        assessor=row.assessor,
        created_at=row.created_at,
    )


async def capacity_change(
    session: AsyncSession,
    principal: Principal,
    tool: str,
    assessed_organisation_id: uuid.UUID | None,
    mentoring_plan_id: uuid.UUID | None,
) -> CapacityChange:
    """Per organisation, its first baseline against its latest follow-up
    (of one tool version), and per domain the mean over the organisations
    that have both. With ``mentoring_plan_id``, only follow-ups naming that
    plan count: the change a mentoring plan is judged by."""
    statement = (
        select(CapacityAssessment)
        .where(
            col(CapacityAssessment.organisation_id) == principal.organisation_id,
            col(CapacityAssessment.tool) == tool,
        )
        .order_by(col(CapacityAssessment.assessed_on), col(CapacityAssessment.id))
    )
    if assessed_organisation_id is not None:
        statement = statement.where(
            col(CapacityAssessment.assessed_organisation_id) == assessed_organisation_id
        )
    rows = list((await session.execute(statement)).scalars())
    baseline: dict[uuid.UUID, CapacityAssessment] = {}
    follow_up: dict[uuid.UUID, CapacityAssessment] = {}
    for row in rows:
        who = row.assessed_organisation_id
        if row.timepoint == "baseline":
            baseline.setdefault(who, row)
        elif mentoring_plan_id is None or row.mentoring_plan_id == mentoring_plan_id:
            follow_up[who] = row
    pairs = sorted(
        (who, baseline[who], follow_up[who])
        for who in baseline.keys() & follow_up.keys()
        if follow_up[who].assessed_on >= baseline[who].assessed_on
    )
    definition = capacity_tools().get(tool)
    domains = [d.code for d in definition.domains] if definition else []
    changes = [
        OrganisationChange(
            organisation_id=who,
            baseline_id=b.id,
            follow_up_id=f.id,
            change={
                d: round(f.domain_scores[d] - b.domain_scores[d], 2) for d in domains
            },
        )
        for who, b, f in pairs
    ]
    summary = []
    for d in domains:
        if not pairs:
            break
        before = sum(b.domain_scores[d] for _, b, _ in pairs) / len(pairs)
        after = sum(f.domain_scores[d] for _, _, f in pairs) / len(pairs)
        summary.append(
            DomainChange(
                domain=d,
                organisations=len(pairs),
                mean_baseline=round(before, 4),
                mean_follow_up=round(after, 4),
                mean_change=round(after - before, 4),
            )
        )
    return CapacityChange(tool=tool, domains=summary, organisations=changes)


async def record_needs_assessment(
    session: AsyncSession, principal: Principal, data: NeedsAssessmentCreate
) -> NeedsAssessment:
    """A light needs assessment whose findings are coded topics."""
    existing = await sent_before(session, principal, NeedsAssessment, data.id)
    if existing is not None:
        return existing
    row_id = data.id or uuid.uuid4()
    await require_locations(session, [data.location_id], ["body", "location_id"])
    row = NeedsAssessment(
        id=row_id,
        organisation_id=principal.organisation_id,
        conducted_on=data.conducted_on,
        method=data.method,
        location_id=data.location_id,
        population=data.population,
        sample_size=data.sample_size,
        sample_unit=data.sample_unit,
        findings=[f.model_dump(mode="json") for f in data.findings],
        recorded_by=principal.subject,
    )
    session.add(row)
    announce(
        session,
        principal,
        EventType.needs_assessment_recorded,
        "needs_assessment",
        row_id,
        NeedsAssessmentFacts(
            needs_assessment_id=row_id,
            organisation_id=principal.organisation_id,
            conducted_on=data.conducted_on,
            method=data.method,
            location_id=data.location_id,
            sample_size=data.sample_size,
            topics=sorted({f.topic for f in data.findings}),
        ),
    )
    await session.flush()
    return row


async def get_needs_assessment(
    session: AsyncSession, principal: Principal, row_id: uuid.UUID
) -> NeedsAssessment:
    return await get_in_scope(
        session, principal, NeedsAssessment, row_id, what="needs assessment"
    )
