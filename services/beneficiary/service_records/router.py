"""HTTP API for services delivered: record, list, read, correct under
``If-Match`` and void a service record; group activities; anonymous services;
and the activity taxonomy. Creates retried by offline clients are idempotent,
and every write is audited and then announced to the outbox.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import APIRouter, Header, Response
from pydantic import BaseModel

from services.beneficiary.access import FieldActor, FieldWrite
from services.beneficiary.audit.models import audit_log
from services.beneficiary.db import OnceDep
from services.beneficiary.interventions import service as interventions_service
from services.beneficiary.materials import service as materials_service
from services.beneficiary.service_records import service as records_service
from services.beneficiary.service_records.models import (
    AnonymousService,
    GroupActivity,
    ServiceRecord,
)
from services.beneficiary.service_records.schemas import (
    AnonymousServiceCreate,
    AnonymousServiceRead,
    GroupActivityCreate,
    GroupActivityRead,
    GroupAttendance,
    GroupLookupRequest,
    GroupLookupResult,
    GroupSeriesCreate,
    GroupSeriesRead,
    ServiceRecordCreate,
    ServiceRecordRead,
    ServiceRecordUpdate,
    VoidRequest,
)
from services.beneficiary.settings import settings_of
from shared.app import RuntimeDep
from shared.audit import Actor, Trail
from shared.auth import MachineDep, PrincipalDep
from shared.concurrency import etag, expected_version
from shared.db import SessionDep
from shared.deprecation import either
from shared.errors import (
    Conflict,
    ConsentMissing,
    Forbidden,
    Invalid,
    NotFound,
    PreconditionRequired,
    VersionConflict,
    problem_responses,
)
from shared.idempotency import Once
from shared.pagination import DEFAULT_LIMIT, CursorQuery, LimitQuery, Page
from shared.periods import EndDate, OldEndDate, OldStartDate, StartDate
from shared.taxonomy.activities import (
    ACTIVITY_TAXONOMY_VERSION,
    Activity,
    activities,
)

router = APIRouter(tags=["service records"])


@router.post(
    "/v1/service-records",
    status_code=201,
    response_model=ServiceRecordRead,
    responses=problem_responses(NotFound, ConsentMissing, Conflict, Forbidden, Invalid),
)
async def record_service(
    body: ServiceRecordCreate, write: FieldWrite
) -> ServiceRecordRead:
    """Record a service given to one registered, consenting beneficiary."""
    actor, once = write.actor, write.once
    session, principal = once.session, actor.principal
    read = await _record_once(
        once,
        actor,
        "POST /v1/service-records",
        body,
        lambda: records_service.record_service(session, principal, body),
        audit_log.trail(actor, "create", "service_record"),
    )
    once.response.headers["ETag"] = etag(read.version)
    return read


@router.get("/v1/service-records", response_model=Page[ServiceRecordRead])
async def list_service_records(
    session: SessionDep,
    actor: FieldActor,
    beneficiary_id: uuid.UUID | None = None,
    start: StartDate = None,
    end: EndDate = None,
    cursor: CursorQuery = None,
    limit: LimitQuery = DEFAULT_LIMIT,
    date_from: OldStartDate = None,
    date_to: OldEndDate = None,
) -> Page[ServiceRecordRead]:
    """Service records in your scope, the latest service date first."""
    start = either(start, date_from, new="start", old="date_from")
    end = either(end, date_to, new="end", old="date_to")
    page = await audit_log.read(
        session,
        actor,
        "list",
        "service_record",
        lambda: records_service.list_service_records(
            session,
            actor.principal,
            beneficiary_id=beneficiary_id,
            start=start,
            end=end,
            cursor=cursor,
            limit=limit,
        ),
        lambda page: [r.id for r in page.items],
    )
    return page.map(ServiceRecordRead.model_validate)


@router.get(
    "/v1/service-records/{record_id}",
    response_model=ServiceRecordRead,
    responses=problem_responses(NotFound),
)
async def get_service_record(
    record_id: uuid.UUID, response: Response, session: SessionDep, actor: FieldActor
) -> ServiceRecordRead:
    """One service record in the caller's scope; the ETag guards corrections."""
    record = await audit_log.read(
        session,
        actor,
        "read",
        "service_record",
        lambda: records_service.get_service_record(session, actor.principal, record_id),
    )
    response.headers["ETag"] = etag(record.version)
    return ServiceRecordRead.model_validate(record)


@router.patch(
    "/v1/service-records/{record_id}",
    response_model=ServiceRecordRead,
    responses=problem_responses(
        NotFound, VersionConflict, PreconditionRequired, Conflict, Invalid
    ),
)
async def update_service_record(
    record_id: uuid.UUID,
    body: ServiceRecordUpdate,
    session: SessionDep,
    actor: FieldActor,
    once: OnceDep,
    if_match: Annotated[str | None, Header()] = None,
) -> ServiceRecordRead:
    """Correct a record; If-Match must name the version you edited."""
    version = expected_version(if_match)

    async def update() -> ServiceRecord:
        record = await records_service.update_service_record(
            session, actor.principal, record_id, body, version
        )
        return record

    read = await _record_once(
        once,
        actor,
        f"PATCH /v1/service-records/{record_id} If-Match: {version}",
        body,
        update,
        audit_log.trail(actor, "update", "service_record"),
    )
    once.response.headers["ETag"] = etag(read.version)
    return read


@router.post(
    "/v1/service-records/{record_id}/void",
    response_model=ServiceRecordRead,
    responses=problem_responses(NotFound),
)
async def void_service_record(
    record_id: uuid.UUID,
    body: VoidRequest,
    session: SessionDep,
    actor: FieldActor,
    once: OnceDep,
) -> ServiceRecordRead:
    """Void a record entered in error: it stops counting in every indicator,
    and so do the materials recorded on it (their lines are voided too)."""

    async def void() -> ServiceRecord:
        record = await records_service.void_service_record(
            session, actor.principal, record_id, body.reason
        )
        await interventions_service.record_voided(session, record)
        await materials_service.void_with_record(session, actor, record)
        return record

    return await _record_once(
        once,
        actor,
        f"POST /v1/service-records/{record_id}/void",
        body,
        void,
        audit_log.trail(actor, "void", "service_record"),
    )


async def _record_once(
    once: Once,
    actor: Actor,
    route: str,
    body: BaseModel,
    act: Callable[[], Awaitable[ServiceRecord]],
    audit: Trail[ServiceRecord] | None,
) -> ServiceRecordRead:
    """Run ``act`` once per Idempotency-Key; a replay answers the record."""
    session = once.session
    principal = actor.principal

    async def render(record: ServiceRecord) -> ServiceRecordRead:
        return ServiceRecordRead.model_validate(record)

    return await once.answer(
        principal,
        route,
        body,
        act,
        lambda existing: records_service.get_service_record(
            session, principal, existing
        ),
        render,
        audit=audit,
    )


@router.post(
    "/v1/group-activities",
    status_code=201,
    response_model=GroupActivityRead,
    responses=problem_responses(ConsentMissing, Conflict, Forbidden, Invalid),
)
async def record_group_activity(
    body: GroupActivityCreate,
    session: SessionDep,
    runtime: RuntimeDep,
    actor: FieldActor,
    once: OnceDep,
) -> GroupActivityRead:
    """Record a group session with its attendance list."""
    principal = actor.principal
    records_service.confirm_large_count(
        principal,
        body.anonymous_attendees,
        settings_of(runtime).anonymous_confirm_above,
    )

    async def record() -> GroupActivity:
        return await interventions_service.record_group_activity(
            session, principal, body
        )

    return await once.answer_versioned(
        principal,
        "POST /v1/group-activities",
        body,
        record,
        lambda existing: records_service.get_group_activity(
            session, principal, existing
        ),
        lambda group: records_service.group_activity_read(session, principal, group),
        audit=audit_log.trail(actor, "create", "group_activity"),
    )


@router.post(
    "/v1/group-series",
    status_code=201,
    response_model=GroupSeriesRead,
    responses=problem_responses(Conflict, Forbidden, Invalid),
)
async def record_group_series(
    body: GroupSeriesCreate,
    session: SessionDep,
    actor: FieldActor,
    once: OnceDep,
) -> GroupSeriesRead:
    """Record a group that meets over several sessions (name, activity,
    topic, facilitators, site, sessions planned); its sessions are group
    activities that name it."""
    principal = actor.principal
    return await once.answer_versioned(
        principal,
        "POST /v1/group-series",
        body,
        lambda: records_service.record_group_series(session, principal, body),
        lambda existing: records_service.get_group_series(session, principal, existing),
        lambda series: records_service.group_series_read(session, series),
        audit=audit_log.trail(actor, "create", "group_series"),
    )


@router.get(
    "/v1/group-series/{series_id}",
    response_model=GroupSeriesRead,
    responses=problem_responses(NotFound),
)
async def get_group_series(
    series_id: uuid.UUID, session: SessionDep, actor: FieldActor
) -> GroupSeriesRead:
    """A series with its sessions held and the people it reached."""
    principal = actor.principal

    async def fetch() -> GroupSeriesRead:
        series = await records_service.get_group_series(session, principal, series_id)
        return await records_service.group_series_read(session, series)

    return await audit_log.read(session, actor, "read", "group_series", fetch)


@router.get("/v1/group-activities", response_model=Page[GroupActivityRead])
async def list_group_activities(
    session: SessionDep,
    actor: FieldActor,
    site_id: uuid.UUID | None = None,
    start: StartDate = None,
    end: EndDate = None,
    cursor: CursorQuery = None,
    limit: LimitQuery = DEFAULT_LIMIT,
) -> Page[GroupActivityRead]:
    """Group sessions at your sites, the latest held first, each with who
    attended (attendees registered at sites outside your scope counted, not
    named)."""
    principal = actor.principal

    async def fetch() -> Page[GroupActivityRead]:
        page = await records_service.list_group_activities(
            session,
            principal,
            site_id=site_id,
            start=start,
            end=end,
            cursor=cursor,
            limit=limit,
        )
        items = [
            await records_service.group_activity_read(session, principal, group)
            for group in page.items
        ]
        return Page(items=items, next_cursor=page.next_cursor)

    return await audit_log.read(
        session,
        actor,
        "list",
        "group_activity",
        fetch,
        lambda page: [g.id for g in page.items],
    )


@router.get(
    "/v1/group-activities/{group_id}",
    response_model=GroupActivityRead,
    responses=problem_responses(NotFound),
)
async def get_group_activity(
    group_id: uuid.UUID, session: SessionDep, actor: FieldActor
) -> GroupActivityRead:
    """One group session or meeting with its attendance."""
    principal = actor.principal

    async def fetch() -> GroupActivityRead:
        group = await records_service.get_group_activity(session, principal, group_id)
        return await records_service.group_activity_read(session, principal, group)

    return await audit_log.read(session, actor, "read", "group_activity", fetch)


@router.post("/v1/group-activities/lookup", response_model=GroupLookupResult)
async def lookup_group_activities(
    body: GroupLookupRequest, session: SessionDep, principal: MachineDep
) -> GroupLookupResult:
    """For other services acting for an organisation (machine accounts only):
    which of these group sessions are that organisation's, each with its
    registered attendees' pseudonymous ids, so a supervised practice session
    can link one (the training service holds no one's personal data).
    Nothing else is returned, and never another organisation's sessions."""
    async with session.begin():
        groups = await records_service.groups_of(session, principal, body.ids)
        attended = await records_service.attendance_of(session, groups)
    return GroupLookupResult(
        found={
            group.id: GroupAttendance(
                organisation_id=group.organisation_id,
                site_id=group.site_id,
                activity_code=group.activity_code,
                activity_date=group.activity_date,
                attendee_ids=[
                    person
                    for person, site in attended[group.id]
                    if principal.can_see_site(site)
                ],
            )
            for group in groups
        }
    )


@router.post(
    "/v1/anonymous-services",
    status_code=201,
    response_model=AnonymousServiceRead,
    responses=problem_responses(Conflict, Forbidden, Invalid),
)
async def record_anonymous_service(
    body: AnonymousServiceCreate,
    session: SessionDep,
    runtime: RuntimeDep,
    actor: FieldActor,
    once: OnceDep,
) -> AnonymousServiceRead:
    """Count people served without registration, by sex, age group and
    disability. More people than BENEFICIARY_ANONYMOUS_CONFIRM_ABOVE: a
    supervisor or programme manager records it."""
    principal = actor.principal
    records_service.confirm_large_count(
        principal, body.counts, settings_of(runtime).anonymous_confirm_above
    )

    async def render(record: AnonymousService) -> AnonymousServiceRead:
        return AnonymousServiceRead.model_validate(record)

    return await once.answer_versioned(
        principal,
        "POST /v1/anonymous-services",
        body,
        lambda: records_service.record_anonymous_service(session, principal, body),
        lambda existing: records_service.get_anonymous_service(
            session, principal, existing
        ),
        render,
        audit=audit_log.trail(actor, "create", "anonymous_service"),
    )


@router.get(
    "/v1/anonymous-services/{record_id}",
    response_model=AnonymousServiceRead,
    responses=problem_responses(NotFound),
)
async def get_anonymous_service(
    record_id: uuid.UUID, session: SessionDep, actor: FieldActor
) -> AnonymousServiceRead:
    """One anonymous service record; the read is audited like any other."""
    record = await audit_log.read(
        session,
        actor,
        "read",
        "anonymous_service",
        lambda: records_service.get_anonymous_service(
            session, actor.principal, record_id
        ),
    )
    return AnonymousServiceRead.model_validate(record)


@router.get("/v1/taxonomy/activities", tags=["taxonomy"])
async def list_activities(_: PrincipalDep) -> dict[str, object]:
    """The controlled activity list with each activity's IASC layer."""
    items: list[Activity] = list(activities().values())
    return {
        "version": ACTIVITY_TAXONOMY_VERSION,
        "activities": [
            {
                "code": a.code,
                "name": a.name,
                "iasc_layer": a.iasc_layer,
                "iasc_layer_number": a.iasc_layer.number,
                "kind": a.kind,
                "unit": a.unit,
            }
            for a in items
        ],
    }
