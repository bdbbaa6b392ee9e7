"""The rules of recording a service: the person in the caller's scope and
consenting (their row locked so a withdrawal cannot slip in between), the
activity from the taxonomy, the site in scope, direct or partner delivery fixed
at the time, and the ``service_record.*`` events reporting counts. Functions
flush; the handler commits.
"""

from __future__ import annotations

import uuid
from collections.abc import Container, Sequence
from datetime import date
from typing import Any

from pydantic import ValidationError
from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from services.beneficiary.access import is_supervisor
from services.beneficiary.beneficiaries import service as beneficiaries_service
from services.beneficiary.beneficiaries.models import Beneficiary, age_on
from services.beneficiary.consent import service as consent_service
from services.beneficiary.db import OutboxEvent
from services.beneficiary.locations import service as locations_service
from services.beneficiary.organisations import service as organisations_service
from services.beneficiary.organisations.models import Organisation
from services.beneficiary.projects import service as projects_service
from services.beneficiary.protection.grants import service as grants
from services.beneficiary.service_records.models import (
    AnonymousService,
    GroupActivity,
    GroupSeries,
    ServiceRecord,
)
from services.beneficiary.service_records.schemas import (
    AnonymousCountIn,
    AnonymousServiceCreate,
    AnonymousServiceFields,
    DeliveryTags,
    GroupActivityCreate,
    GroupActivityFields,
    GroupActivityRead,
    GroupSeriesCreate,
    GroupSeriesRead,
    OrganisationParticipantsIn,
    ServiceRecordCreate,
    ServiceRecordFields,
    ServiceRecordRead,
    ServiceRecordUpdate,
    first_topic_replaced,
    topic_code_alone,
)
from services.beneficiary.teams import service as teams_service
from shared.auth import Principal
from shared.bulk import Rows, answered
from shared.contracts.enums import ConsentPurpose
from shared.contracts.events import (
    AnonymousCount,
    AnonymousServiceFacts,
    EventType,
    GroupActivityFacts,
    GroupSeriesFacts,
    OrganisationParticipants,
    ServiceRecordFacts,
)
from shared.db import add_appended, get_cached, new_id, new_row, pin, utcnow
from shared.errors import (
    Conflict,
    FieldError,
    Forbidden,
    Invalid,
    NotFound,
    VersionConflict,
)
from shared.outbox import add_event
from shared.pagination import Page, keyset_page, ordered_page
from shared.scoping import get_in_scope
from shared.taxonomy.activities import ActivityKind, get_activity

SERVICE_CONSENTS = (ConsentPurpose.registration, ConsentPurpose.services)


async def delivery(
    session: AsyncSession,
    principal: Principal,
    activity_code: str,
    site_id: uuid.UUID | None,
    kind: ActivityKind,
    *,
    on: date,
    tags: DeliveryTags,
) -> dict[str, Any]:
    """Columns that say who delivered what where, when and how: the activity
    must exist in the taxonomy and suit the record kind; the site must be in
    the caller's scope; the team one of the organisation's (a team-scoped
    caller's own); the project one it takes part in, running ``on`` that
    day. Direct or partner is frozen now, from the partnerships covering
    the record."""
    activity = get_activity(activity_code)
    fits = activity is not None and (
        kind == ActivityKind.any or activity.kind in (ActivityKind.any, kind)
    )
    if activity is None or not fits:
        reason = "unknown activity" if activity is None else f"not a {kind} activity"
        raise Invalid(
            f"Activity {activity_code!r}: {reason}.",
            errors=[
                FieldError(loc=["body", "activity_code"], msg=reason, type="activity")
            ],
        )
    await locations_service.require_site(session, site_id, ["body", "site_id"])
    if not principal.can_see_site(site_id):
        raise Forbidden("You may only record services at the sites you work at.")
    lead, through = await organisations_service.delivery_of(
        session,
        principal.organisation_id,
        on=on,
        site_id=site_id,
        activity_code=activity.code,
    )
    return {
        "organisation_id": principal.organisation_id,
        "lead_organisation_id": lead,
        "delivered_through": through,
        "activity_code": activity.code,
        "iasc_layer": activity.iasc_layer,
        "site_id": site_id,
        "team_id": await teams_service.team_of_record(
            session, principal, tags.team_id, ["body", "team_id"]
        ),
        "delivery_mode": tags.delivery_mode,
        "project_id": await projects_service.project_of_record(
            session, principal, tags.project_id, on, ["body", "project_id"]
        ),
        "created_by": principal.subject,
    }


def check_after_birth(beneficiary: Beneficiary, service_date: date) -> None:
    if beneficiary.date_of_birth and service_date < beneficiary.date_of_birth:
        raise Invalid(
            "The service date is before the person's birth.",
            errors=[
                FieldError(
                    loc=["body", "service_date"],
                    msg="before date_of_birth",
                    type="before_birth",
                )
            ],
        )


def scoped(statement: Any, principal: Principal, model: Any = ServiceRecord) -> Any:
    """Every read of services starts here: own organisation, sites, team."""
    statement = statement.where(col(model.organisation_id) == principal.organisation_id)
    if principal.site_ids is not None:
        statement = statement.where(col(model.site_id).in_(principal.site_ids))
    if principal.team_id is not None:
        statement = statement.where(col(model.team_id) == principal.team_id)
    return statement


async def record_service(
    session: AsyncSession,
    principal: Principal,
    data: ServiceRecordCreate,
    *,
    locked: bool = False,
) -> ServiceRecord:
    """Record one service to a consenting beneficiary of the caller's scope.

    The person's row is locked (``locked``: the caller did it already), so a
    consent withdrawal cannot commit between the check and the insert."""
    columns, beneficiary = await _checked_columns(
        session, principal, data, data.id, locked
    )
    record = new_row(ServiceRecord, **columns)
    emit_service_record(session, record, beneficiary, EventType.service_record_recorded)
    await add_appended(session, record)  # with its event, audit row and key
    pin(session, record)
    return record


async def stage_service_row(
    session: AsyncSession,
    principal: Principal,
    data: ServiceRecordFields,
    record_id: uuid.UUID | None,
    rows: Rows,
    *,
    locked: bool = False,
    consenting: Container[uuid.UUID] = (),
    id_free: bool = False,
) -> uuid.UUID:
    """``record_service`` for a bulk writer: the same checks, then the
    record and its event as plain rows in ``rows``; returns the record's id.
    The fields and the id come apart (a sync change's, validated already,
    need no creation model built). ``consenting``: people whose consent the
    writer checked for the whole batch (``consent_service.consenting``);
    anyone else is checked here. ``id_free``: the writer found no record
    with ``record_id`` a moment ago (it looks each id up before staging)."""
    kept = rows.answers
    columns, beneficiary = await _checked_columns(
        session, principal, data, record_id, locked, consenting, kept, id_free
    )
    rows.add(ServiceRecord.__table__, columns)  # type: ignore[attr-defined]
    add_event(
        session,
        OutboxEvent,
        type=EventType.service_record_recorded,
        organisation_id=columns["organisation_id"],
        entity_type="service_record",
        entity_id=columns["id"],
        facts=_fact_data(columns, beneficiary, kept),
    )
    record: uuid.UUID = columns["id"]  # a UUID already: no text round trip
    return record


async def _checked_columns(
    session: AsyncSession,
    principal: Principal,
    data: ServiceRecordFields,
    record_id: uuid.UUID | None,
    locked: bool,
    consenting: Container[uuid.UUID] = (),
    kept: dict[Any, Any] | None = None,
    id_free: bool = False,
) -> tuple[dict[str, Any], Beneficiary]:
    """A new record's every column once every check passed: the person in
    scope (locked unless ``locked``) and consenting, born before the
    service, the id free, the activity and the site allowed.
    ``kept``: a bulk writer's answers for its batch (``Rows.answers``):
    a person found in scope and consenting, ``delivery``'s columns, by what
    they depend on (the caller, and the batch's records, do not change
    them)."""
    beneficiary = await answered(
        kept,
        ("person", data.beneficiary_id),
        lambda: _consenting_person(
            session, principal, data.beneficiary_id, locked, consenting
        ),
    )
    check_after_birth(beneficiary, data.service_date)
    if (
        record_id is not None
        and not id_free
        and await get_cached(
            session, ServiceRecord, (principal.organisation_id, record_id)
        )
        is not None
    ):
        raise Conflict("A service record with this id exists already.")
    key = (
        "delivery",
        data.activity_code,
        data.site_id,
        data.service_date,
        data.team_id,
        data.delivery_mode,
        data.project_id,
    )
    how = await answered(
        kept,
        key,
        lambda: delivery(
            session,
            principal,
            data.activity_code,
            data.site_id,
            ActivityKind.individual,
            on=data.service_date,
            tags=data,
        ),
    )
    now = utcnow()
    return {
        "id": record_id or new_id(),
        "created_at": now,  # given, not defaulted: a default factory costs more
        "updated_at": now,
        "beneficiary_id": beneficiary.id,
        "service_date": data.service_date,
        "staff_id": data.staff_id,
        "duration_minutes": data.duration_minutes,
        "topic_code": data.topic_code,
        "topic_codes": list(data.topic_codes or []),
        "language": data.language,
        "modality": data.modality,
        "group_activity_id": None,
        "voided": False,
        "void_reason": None,
        "version": 1,
        **how,
    }, beneficiary


async def _consenting_person(
    session: AsyncSession,
    principal: Principal,
    beneficiary_id: uuid.UUID,
    locked: bool,
    consenting: Container[uuid.UUID],
) -> Beneficiary:
    """The person a new record is about, in the caller's scope (locked
    unless ``locked``) and consenting to services."""
    if locked or beneficiary_id in consenting:
        beneficiary = await beneficiaries_service.get_beneficiary(
            session, principal, beneficiary_id, for_update=not locked
        )
        if beneficiary.id not in consenting:
            await consent_service.require_consent(
                session,
                beneficiary.organisation_id,
                [beneficiary.id],
                *SERVICE_CONSENTS,
            )
        return beneficiary
    # the person locked and their consent read in one statement
    return await beneficiaries_service.lock_consenting(
        session, principal, beneficiary_id, *SERVICE_CONSENTS
    )


async def get_service_record(
    session: AsyncSession,
    principal: Principal,
    record_id: uuid.UUID,
    *,
    for_update: bool = False,
) -> ServiceRecord:
    """One record in the caller's scope (locked with ``for_update``)."""
    return await get_in_scope(
        session,
        principal,
        ServiceRecord,
        record_id,
        what="service record",
        for_update=for_update,
        cached=True,
        beyond_sites=grants.granted,
    )


def delivery_tags(
    row: ServiceRecord | GroupActivity | AnonymousService,
) -> dict[str, Any]:
    """Who delivered it and how, as every read, sync state and event
    states it (the columns of ``DeliveryTags``)."""
    return {
        "team_id": row.team_id,
        "delivery_mode": row.delivery_mode,
        "project_id": row.project_id,
    }


def current_fields(record: ServiceRecord) -> ServiceRecordFields:
    return ServiceRecordFields.model_construct(
        beneficiary_id=record.beneficiary_id,
        activity_code=record.activity_code,
        service_date=record.service_date,
        site_id=record.site_id,
        modality=record.modality,
        staff_id=record.staff_id,
        duration_minutes=record.duration_minutes,
        topic_code=record.topic_code,
        topic_codes=list(record.topic_codes),
        language=record.language,
        **delivery_tags(record),
    )


async def update_service_record(
    session: AsyncSession,
    principal: Principal,
    record_id: uuid.UUID,
    data: ServiceRecordUpdate,
    expected_version: int,
) -> ServiceRecord:
    """Correct a record edited at ``expected_version`` (409 with the server's
    copy when stale)."""
    record = await get_service_record(session, principal, record_id, for_update=True)
    if record.version != expected_version:
        raise VersionConflict(
            f"You edited version {expected_version}; the server has "
            f"version {record.version}.",
            current=read_dict(record),
        )
    if record.voided:
        raise Conflict("A voided service record cannot be edited.")
    given = data.model_dump(exclude_unset=True)
    current = current_fields(record).model_dump()
    if topic_code_alone(data):  # an old client: its one topic is the first
        given["topic_codes"] = first_topic_replaced(record.topic_codes, data.topic_code)
    if "topic_code" in given or "topic_codes" in given:
        # either field replaces the list; the one not sent follows it
        current.pop("topic_code")
        current.pop("topic_codes")
    merged = current | given
    try:
        fields = ServiceRecordFields.model_validate(merged)
    except ValidationError as exc:
        raise Invalid(
            "The edit leaves the record invalid.",
            errors=[
                FieldError(loc=["body", *e["loc"]], msg=e["msg"], type=e["type"])
                for e in exc.errors()
            ],
        ) from None
    await apply_fields(session, principal, record, fields)
    return record


async def apply_fields(
    session: AsyncSession,
    principal: Principal,
    record: ServiceRecord,
    fields: ServiceRecordFields,
) -> None:
    """Write a full state onto an existing record and emit the update."""
    if fields.beneficiary_id != record.beneficiary_id:
        raise Invalid(
            "A service record cannot move to another beneficiary; void it instead.",
            errors=[
                FieldError(
                    loc=["body", "beneficiary_id"], msg="immutable", type="immutable"
                )
            ],
        )
    kind = ActivityKind.group if record.group_activity_id else ActivityKind.individual
    columns = await delivery(
        session,
        principal,
        fields.activity_code,
        fields.site_id,
        kind,
        on=fields.service_date,
        tags=fields,
    )
    for name in (
        "activity_code",
        "iasc_layer",
        "site_id",
        "team_id",
        "delivery_mode",
        "project_id",
    ):
        setattr(record, name, columns[name])
    beneficiary = await session.get(
        Beneficiary, (record.organisation_id, record.beneficiary_id)
    )
    assert beneficiary is not None
    check_after_birth(beneficiary, fields.service_date)
    record.service_date = fields.service_date
    record.modality = fields.modality
    record.staff_id = fields.staff_id
    record.duration_minutes = fields.duration_minutes
    record.topic_code = fields.topic_code
    record.topic_codes = list(fields.topic_codes or [])
    record.language = fields.language
    record.version += 1
    record.updated_at = utcnow()
    emit_service_record(session, record, beneficiary, EventType.service_record_updated)
    await session.flush()


async def void_service_record(
    session: AsyncSession, principal: Principal, record_id: uuid.UUID, reason: str
) -> ServiceRecord:
    """Void a record entered in error; it stops counting everywhere. Voiding
    twice changes nothing."""
    record = await get_service_record(session, principal, record_id, for_update=True)
    if record.voided:
        return record
    record.voided = True
    record.void_reason = reason
    record.version += 1
    record.updated_at = utcnow()
    beneficiary = await session.get(
        Beneficiary, (record.organisation_id, record.beneficiary_id)
    )
    assert beneficiary is not None
    emit_service_record(session, record, beneficiary, EventType.service_record_voided)
    await session.flush()
    if record.group_activity_id is not None:
        await resend_group_activity(session, record)
    return record


async def resend_group_activity(session: AsyncSession, record: ServiceRecord) -> None:
    """The group activity of a record that stopped counting, with the
    attendees who still count: reporting's attendance follows."""
    group = await session.get(
        GroupActivity, (record.organisation_id, record.group_activity_id)
    )
    assert group is not None
    registered = await session.scalar(
        select(func.count()).where(
            col(ServiceRecord.organisation_id) == group.organisation_id,
            col(ServiceRecord.group_activity_id) == group.id,
            col(ServiceRecord.voided).is_(False),
        )
    )
    anonymous = await session.scalar(
        select(func.coalesce(func.sum(AnonymousService.total), 0)).where(
            col(AnonymousService.organisation_id) == group.organisation_id,
            col(AnonymousService.group_activity_id) == group.id,
            col(AnonymousService.voided).is_(False),
        )
    )
    emit_group_activity(
        session, group, registered=int(registered or 0), anonymous=int(anonymous or 0)
    )


async def list_service_records(
    session: AsyncSession,
    principal: Principal,
    *,
    beneficiary_id: uuid.UUID | None,
    start: date | None,
    end: date | None,
    cursor: str | None,
    limit: int,
) -> Page[ServiceRecord]:
    principal = await grants.listing_scope(session, principal, beneficiary_id)
    statement = scoped(select(ServiceRecord), principal)
    if beneficiary_id is not None:
        statement = statement.where(col(ServiceRecord.beneficiary_id) == beneficiary_id)
    if start is not None:
        statement = statement.where(col(ServiceRecord.service_date) >= start)
    if end is not None:
        statement = statement.where(col(ServiceRecord.service_date) <= end)
    rows, next_cursor = await keyset_page(
        session,
        statement,
        key=col(ServiceRecord.service_date),
        parse_key=date.fromisoformat,
        cursor=cursor,
        limit=limit,
    )
    return Page(items=rows, next_cursor=next_cursor)


async def record_group_activity(
    session: AsyncSession, principal: Principal, data: GroupActivityCreate
) -> GroupActivity:
    """One group session: a service record per registered attendee (each is
    served) and one anonymous count for the unregistered ones."""
    group_id = data.id or uuid.uuid4()
    if (
        await session.get(GroupActivity, (principal.organisation_id, group_id))
        is not None
    ):
        raise Conflict("A group activity with this id exists already.")
    columns = await delivery(
        session,
        principal,
        data.activity_code,
        data.site_id,
        ActivityKind.group,
        on=data.activity_date,
        tags=data,
    )
    attendees = await _attendees(session, principal, data.attendee_ids)
    await _known_organisations(
        session, [p.organisation_id for p in data.participants_by_organisation]
    )
    series = await _series_of(session, principal, data)
    await consent_service.require_consent(
        session, principal.organisation_id, data.attendee_ids, *SERVICE_CONSENTS
    )
    group = GroupActivity(
        id=group_id,
        activity_date=data.activity_date,
        duration_minutes=data.duration_minutes,
        facilitator_staff_ids=data.facilitator_staff_ids,
        group_series_id=series,
        topic_code=data.topic_code,
        language=data.language,
        protocol_session=data.protocol_session,
        participants_by_organisation=[
            p.model_dump(mode="json") for p in data.participants_by_organisation
        ],
        modality=data.modality,
        **columns,
    )
    session.add(group)
    await session.flush()
    staff = data.facilitator_staff_ids[0] if data.facilitator_staff_ids else None
    for beneficiary in attendees:
        check_after_birth(beneficiary, data.activity_date)
        record = ServiceRecord(
            beneficiary_id=beneficiary.id,
            service_date=data.activity_date,
            staff_id=staff,
            duration_minutes=data.duration_minutes,
            group_activity_id=group_id,
            group_series_id=series,
            topic_code=data.topic_code,
            topic_codes=[data.topic_code] if data.topic_code else [],
            language=data.language,
            modality=data.modality,
            **columns,
        )
        session.add(record)
        emit_service_record(
            session, record, beneficiary, EventType.service_record_recorded
        )
    if data.anonymous_attendees:
        anonymous = _anonymous_service(
            uuid.uuid4(),
            columns,
            data.activity_date,
            data.modality,
            staff,
            data.anonymous_attendees,
            group_id,
            series,
        )
        session.add(anonymous)
        emit_anonymous(session, anonymous)
    emit_group_activity(
        session,
        group,
        registered=len(attendees),
        anonymous=sum(c.count for c in data.anonymous_attendees),
    )
    await session.flush()
    return group


async def _series_of(
    session: AsyncSession, principal: Principal, data: GroupActivityCreate
) -> uuid.UUID | None:
    """The series a session belongs to: one the caller can see, of the same
    activity."""
    if data.group_series_id is None:
        return None
    series = await get_group_series(session, principal, data.group_series_id, 422)
    if series.activity_code != data.activity_code:
        raise Invalid(
            f"The series is of {series.activity_code!r}, not {data.activity_code!r}.",
            errors=[
                FieldError(
                    loc=["body", "activity_code"],
                    msg=f"the series is of {series.activity_code}",
                    type="activity",
                )
            ],
        )
    return series.id


async def record_group_series(
    session: AsyncSession, principal: Principal, data: GroupSeriesCreate
) -> GroupSeries:
    """A group and what it plans: an activity of the taxonomy that is held
    in groups, a site in the caller's scope."""
    series_id = data.id or uuid.uuid4()
    if await session.get(GroupSeries, (principal.organisation_id, series_id)):
        raise Conflict("A group series with this id exists already.")
    columns = await delivery(
        session,
        principal,
        data.activity_code,
        data.site_id,
        ActivityKind.group,
        on=data.starts_on,
        tags=DeliveryTags(team_id=data.team_id),
    )
    series = GroupSeries(
        id=series_id,
        organisation_id=principal.organisation_id,
        name=data.name,
        activity_code=columns["activity_code"],
        topic_code=data.topic_code,
        facilitator_staff_ids=data.facilitator_staff_ids,
        site_id=data.site_id,
        team_id=columns["team_id"],
        planned_sessions=data.planned_sessions,
        starts_on=data.starts_on,
        created_by=principal.subject,
    )
    session.add(series)
    await session.flush()
    add_event(
        session,
        OutboxEvent,
        type=EventType.group_series_recorded,
        organisation_id=series.organisation_id,
        entity_type="group_series",
        entity_id=series.id,
        facts=GroupSeriesFacts(
            group_series_id=series.id,
            organisation_id=series.organisation_id,
            activity_code=series.activity_code,
            topic_code=series.topic_code,
            site_id=series.site_id,
            planned_sessions=series.planned_sessions,
            starts_on=series.starts_on,
            facilitators=len(series.facilitator_staff_ids),
        ),
    )
    return series


async def get_group_series(
    session: AsyncSession,
    principal: Principal,
    series_id: uuid.UUID,
    missing: int = 404,
) -> GroupSeries:
    """A series of the caller's organisation, at its sites and team."""
    series: GroupSeries | None = (
        await session.execute(
            scoped(select(GroupSeries), principal, GroupSeries).where(
                col(GroupSeries.id) == series_id
            )
        )
    ).scalar_one_or_none()
    if series is not None:
        return series
    if missing == 422:
        raise Invalid(
            "Unknown group series.",
            errors=[
                FieldError(
                    loc=["body", "group_series_id"],
                    msg="unknown group series",
                    type="group_series",
                )
            ],
        )
    raise NotFound("Group series not found.")


async def group_series_read(
    session: AsyncSession, series: GroupSeries
) -> GroupSeriesRead:
    """The series with its sessions held (not voided) and the registered
    people who attended at least one of them."""
    held = await session.scalar(
        select(func.count()).where(
            col(GroupActivity.organisation_id) == series.organisation_id,
            col(GroupActivity.group_series_id) == series.id,
            col(GroupActivity.voided).is_(False),
        )
    )
    reached = await session.scalar(
        select(func.count(func.distinct(col(ServiceRecord.beneficiary_id)))).where(
            col(ServiceRecord.organisation_id) == series.organisation_id,
            col(ServiceRecord.group_series_id) == series.id,
            col(ServiceRecord.voided).is_(False),
        )
    )
    return GroupSeriesRead(
        id=series.id,
        name=series.name,
        activity_code=series.activity_code,
        topic_code=series.topic_code,
        facilitator_staff_ids=series.facilitator_staff_ids,
        site_id=series.site_id,
        team_id=series.team_id,
        planned_sessions=series.planned_sessions,
        starts_on=series.starts_on,
        sessions_held=int(held or 0),
        people_reached=int(reached or 0),
        version=series.version,
        created_at=series.created_at,
    )


async def _known_organisations(session: AsyncSession, ids: list[uuid.UUID]) -> None:
    """Participants' organisations are references to the list, not free
    text: an unknown one is an error, so reports can name every one."""
    if not ids:
        return
    found = set(
        (
            await session.scalars(
                select(col(Organisation.id)).where(col(Organisation.id).in_(ids))
            )
        ).all()
    )
    unknown = [i for i in ids if i not in found]
    if unknown:
        raise Invalid(
            "Participants' organisations must be on the organisation list.",
            errors=[
                FieldError(
                    loc=["body", "participants_by_organisation", ids.index(u)],
                    msg=f"unknown organisation {u}",
                    type="organisation",
                )
                for u in unknown
            ],
        )


async def _attendees(
    session: AsyncSession, principal: Principal, ids: list[uuid.UUID]
) -> list[Beneficiary]:
    if not ids:
        return []
    rows = await session.execute(
        beneficiaries_service.scoped(select(Beneficiary), principal)
        .where(col(Beneficiary.id).in_(ids))
        .order_by(col(Beneficiary.id))
        .with_for_update()
    )
    found = {b.id: b for b in rows.scalars()}
    unknown = [i for i in ids if i not in found]
    if unknown:
        raise Invalid(
            "Some attendees are not beneficiaries you can record services for.",
            errors=[
                FieldError(
                    loc=["body", "attendee_ids", ids.index(i)],
                    msg="unknown beneficiary",
                    type="unknown_beneficiary",
                )
                for i in unknown
            ],
        )
    return [found[i] for i in ids]


async def get_group_activity(
    session: AsyncSession, principal: Principal, group_id: uuid.UUID
) -> GroupActivity:
    group: GroupActivity | None = (
        await session.execute(
            scoped(select(GroupActivity), principal, GroupActivity).where(
                col(GroupActivity.id) == group_id
            )
        )
    ).scalar_one_or_none()
    if group is None:
        raise NotFound("No such group activity.")
    return group


async def groups_of(
    session: AsyncSession, principal: Principal, ids: list[uuid.UUID]
) -> list[GroupActivity]:
    """Those of these group sessions the caller may see, not voided."""
    rows = await session.execute(
        scoped(select(GroupActivity), principal, GroupActivity)
        .where(col(GroupActivity.id).in_(ids), col(GroupActivity.voided).is_(False))
        .order_by(col(GroupActivity.id))
    )
    return list(rows.scalars())


async def list_group_activities(
    session: AsyncSession,
    principal: Principal,
    *,
    site_id: uuid.UUID | None,
    start: date | None,
    end: date | None,
    cursor: str | None,
    limit: int,
) -> Page[GroupActivity]:
    """Group sessions at the caller's sites, the latest held first."""
    statement = scoped(select(GroupActivity), principal, GroupActivity)
    if site_id is not None:
        statement = statement.where(col(GroupActivity.site_id) == site_id)
    if start is not None:
        statement = statement.where(col(GroupActivity.activity_date) >= start)
    if end is not None:
        statement = statement.where(col(GroupActivity.activity_date) <= end)
    return await ordered_page(
        session,
        statement,
        keys=[(col(GroupActivity.activity_date), date.fromisoformat)],
        cursor=cursor,
        limit=limit,
        descending=True,
    )


async def attendance_of(
    session: AsyncSession, groups: Sequence[GroupActivity]
) -> dict[uuid.UUID, list[tuple[uuid.UUID, uuid.UUID | None]]]:
    """Each group's registered attendees with their sites (voided attendance
    left out), in one query for all the groups."""
    found: dict[uuid.UUID, list[tuple[uuid.UUID, uuid.UUID | None]]] = {
        g.id: [] for g in groups
    }
    keys = {(g.organisation_id, g.id) for g in groups}  # ids are per organisation
    if not groups:
        return found
    rows = await session.execute(
        select(
            col(ServiceRecord.organisation_id),
            col(ServiceRecord.group_activity_id),
            col(ServiceRecord.beneficiary_id),
            col(Beneficiary.site_id),
        )
        .join(
            Beneficiary,
            and_(
                col(Beneficiary.organisation_id) == col(ServiceRecord.organisation_id),
                col(Beneficiary.id) == col(ServiceRecord.beneficiary_id),
            ),
        )
        .where(
            col(ServiceRecord.group_activity_id).in_(list(found)),
            col(ServiceRecord.organisation_id).in_({org for org, _ in keys}),
            col(ServiceRecord.voided).is_(False),
        )
    )
    for organisation, group_id, person, site in rows.all():
        if group_id is not None and (organisation, group_id) in keys:
            found[group_id].append((person, site))
    return found


async def group_activity_read(
    session: AsyncSession, principal: Principal, group: GroupActivity
) -> GroupActivityRead:
    """The group with who attended (voided attendance left out). Attendees
    registered at sites outside the caller's scope are counted, not named."""
    attended = (await attendance_of(session, [group]))[group.id]
    attendee_ids = [b for b, site in attended if principal.can_see_site(site)]
    anonymous = (
        await session.execute(
            select(AnonymousService).where(
                col(AnonymousService.group_activity_id) == group.id,
                col(AnonymousService.organisation_id) == group.organisation_id,
            )
        )
    ).scalar_one_or_none()
    counts = (
        [AnonymousCountIn.model_validate(c) for c in anonymous.counts]
        if anonymous
        else []
    )
    return GroupActivityRead(
        id=group.id,
        **_group_delivery(group),
        **delivery_tags(group),
        facilitator_staff_ids=group.facilitator_staff_ids,
        group_series_id=group.group_series_id,
        topic_code=group.topic_code,
        language=group.language,
        protocol_session=group.protocol_session,
        participants_by_organisation=[
            OrganisationParticipantsIn.model_validate(p)
            for p in group.participants_by_organisation
        ],
        attendee_ids=attendee_ids,
        anonymous_attendees=counts,
        served_total=len(attended) + sum(c.count for c in counts),
        version=group.version,
        created_at=group.created_at,
    )


async def group_activity_fields(
    session: AsyncSession, group: GroupActivity
) -> GroupActivityFields:
    """The group as it was recorded (what a sync sends): every attendee it
    was recorded with, a voided attendance included, so an old copy sent
    again matches it rather than bringing the attendance back."""
    attendee_ids = (
        await session.execute(
            select(col(ServiceRecord.beneficiary_id)).where(
                col(ServiceRecord.group_activity_id) == group.id,
                col(ServiceRecord.organisation_id) == group.organisation_id,
            )
        )
    ).scalars()
    anonymous = (
        await session.execute(
            select(AnonymousService).where(
                col(AnonymousService.group_activity_id) == group.id,
                col(AnonymousService.organisation_id) == group.organisation_id,
            )
        )
    ).scalar_one_or_none()
    return GroupActivityFields.model_construct(
        activity_code=group.activity_code,
        activity_date=group.activity_date,
        site_id=group.site_id,
        modality=group.modality,
        duration_minutes=group.duration_minutes,
        facilitator_staff_ids=list(group.facilitator_staff_ids),
        attendee_ids=list(attendee_ids),
        anonymous_attendees=[
            AnonymousCountIn.model_validate(c)
            for c in (anonymous.counts if anonymous else [])
        ],
        group_series_id=group.group_series_id,
        topic_code=group.topic_code,
        language=group.language,
        participants_by_organisation=[
            OrganisationParticipantsIn.model_validate(p)
            for p in group.participants_by_organisation
        ],
        protocol_session=group.protocol_session,
        **delivery_tags(group),
    )


def anonymous_service_fields(record: AnonymousService) -> AnonymousServiceFields:
    """An anonymous service as it was recorded (what a sync sends)."""
    return AnonymousServiceFields.model_construct(
        activity_code=record.activity_code,
        service_date=record.service_date,
        site_id=record.site_id,
        modality=record.modality,
        staff_id=record.staff_id,
        counts=[AnonymousCountIn.model_validate(c) for c in record.counts],
        **delivery_tags(record),
    )


def confirm_large_count(
    principal: Principal, counts: Sequence[AnonymousCountIn], confirm_above: int
) -> None:
    """A large anonymous count moves the headline figures at once, so above
    ``confirm_above`` people it needs a supervisor's hand."""
    total = sum(c.count for c in counts)
    if total > confirm_above and not is_supervisor(principal):
        raise Forbidden(
            f"{total} unregistered people in one record is more than "
            f"{confirm_above}: a supervisor or programme manager records it, "
            "confirming the figure."
        )


async def record_anonymous_service(
    session: AsyncSession, principal: Principal, data: AnonymousServiceCreate
) -> AnonymousService:
    """Count people served without registering them (no consent to keep
    their identity is needed for a count)."""
    record_id = data.id or new_id()
    if (
        await session.get(AnonymousService, (principal.organisation_id, record_id))
        is not None
    ):
        raise Conflict("An anonymous service with this id exists already.")
    columns = await delivery(
        session,
        principal,
        data.activity_code,
        data.site_id,
        ActivityKind.any,
        on=data.service_date,
        tags=data,
    )
    record = _anonymous_service(
        record_id,
        columns,
        data.service_date,
        data.modality,
        data.staff_id,
        data.counts,
        None,
    )
    session.add(record)
    emit_anonymous(session, record)
    await session.flush()
    return record


async def get_anonymous_service(
    session: AsyncSession, principal: Principal, record_id: uuid.UUID
) -> AnonymousService:
    record: AnonymousService | None = (
        await session.execute(
            scoped(select(AnonymousService), principal, AnonymousService).where(
                col(AnonymousService.id) == record_id
            )
        )
    ).scalar_one_or_none()
    if record is None:
        raise NotFound("No such anonymous service.")
    return record


def _anonymous_service(
    record_id: uuid.UUID,
    columns: dict[str, Any],
    service_date: date,
    modality: Any,
    staff_id: str | None,
    counts: list[AnonymousCountIn],
    group_id: uuid.UUID | None,
    series_id: uuid.UUID | None = None,
) -> AnonymousService:
    return AnonymousService(
        id=record_id,
        service_date=service_date,
        modality=modality,
        staff_id=staff_id,
        group_activity_id=group_id,
        group_series_id=series_id,
        counts=[c.model_dump(mode="json") for c in counts],
        total=sum(c.count for c in counts),
        **columns,
    )


def read_dict(record: ServiceRecord) -> dict[str, Any]:
    return ServiceRecordRead.model_validate(record).model_dump(mode="json")


def emit_service_record(
    session: AsyncSession,
    record: ServiceRecord,
    beneficiary: Beneficiary,
    event_type: EventType,
) -> None:
    add_event(
        session,
        OutboxEvent,
        type=event_type,
        organisation_id=record.organisation_id,
        entity_type="service_record",
        entity_id=record.id,
        facts=_facts(
            {name: getattr(record, name) for name in FACT_COLUMNS}, beneficiary
        ),
    )


def _group_delivery(group: GroupActivity) -> dict[str, Any]:
    """Who held a group activity, what, where and how: what its read model
    and its event share."""
    return group.model_dump(
        include={
            "organisation_id",
            "lead_organisation_id",
            "delivered_through",
            "activity_code",
            "iasc_layer",
            "activity_date",
            "site_id",
            "modality",
            "duration_minutes",
        }
    )


def emit_group_activity(
    session: AsyncSession, group: GroupActivity, *, registered: int, anonymous: int
) -> None:
    """The session or meeting itself, once: reporting counts it as one unit
    however many attended (their services are events of their own)."""
    add_event(
        session,
        OutboxEvent,
        type=EventType.group_activity_recorded,
        organisation_id=group.organisation_id,
        entity_type="group_activity",
        entity_id=group.id,
        facts=GroupActivityFacts(
            group_activity_id=group.id,
            **_group_delivery(group),
            registered_attendees=registered,
            anonymous_attendees=anonymous,
            facilitators=len(group.facilitator_staff_ids),
            group_series_id=group.group_series_id,
            topic_code=group.topic_code,
            language=group.language,
            participants_by_organisation=[
                OrganisationParticipants.model_validate(p)
                for p in group.participants_by_organisation
            ],
            voided=group.voided,
            **delivery_tags(group),
        ),
    )


FACT_COLUMNS = (
    "id",
    "beneficiary_id",
    "organisation_id",
    "lead_organisation_id",
    "delivered_through",
    "activity_code",
    "iasc_layer",
    "service_date",
    "site_id",
    "modality",
    "staff_id",
    "duration_minutes",
    "group_activity_id",
    "group_series_id",
    "topic_code",
    "topic_codes",
    "language",
    "voided",
    "version",
    "team_id",
    "delivery_mode",
    "project_id",
)


def _facts(columns: dict[str, Any], beneficiary: Beneficiary) -> ServiceRecordFacts:
    """What reporting learns of a record, from its columns (a row or a dict)."""
    return ServiceRecordFacts(
        service_record_id=columns["id"],
        beneficiary_id=columns["beneficiary_id"],
        organisation_id=columns["organisation_id"],
        lead_organisation_id=columns["lead_organisation_id"],
        delivered_through=columns["delivered_through"],
        activity_code=columns["activity_code"],
        iasc_layer=columns["iasc_layer"],
        service_date=columns["service_date"],
        site_id=columns["site_id"],
        modality=columns["modality"],
        staff_id=columns["staff_id"],
        duration_minutes=columns["duration_minutes"],
        group_activity_id=columns["group_activity_id"],
        group_series_id=columns.get("group_series_id"),
        topic_code=columns.get("topic_code"),
        topic_codes=list(columns.get("topic_codes") or []),
        language=columns.get("language"),
        age_at_service=age_on(beneficiary.date_of_birth, columns["service_date"]),
        voided=columns["voided"],
        version=columns["version"],
        team_id=columns["team_id"],
        delivery_mode=columns["delivery_mode"],
        project_id=columns["project_id"],
    )


def _fact_data(
    columns: dict[str, Any], beneficiary: Beneficiary, texts: dict[Any, Any]
) -> dict[str, Any]:
    """``_facts(columns, beneficiary)`` in its JSON form, built without the
    model (a bulk writer's many records; tests/beneficiary/test_bulk_writer.py
    compares the two). ``texts``: the batch's ids and enums as text, each
    made once (the organisation, its lead, a site, a person's records)."""

    def text(value: Any) -> str | None:
        if value is None:
            return None
        found: str | None = texts.get(value)
        if found is None:
            found = texts[value] = str(value)
        return found

    return {
        "service_record_id": str(columns["id"]),
        "beneficiary_id": text(columns["beneficiary_id"]),
        "organisation_id": text(columns["organisation_id"]),
        "lead_organisation_id": text(columns["lead_organisation_id"]),
        "delivered_through": str(columns["delivered_through"]),
        "activity_code": columns["activity_code"],
        "iasc_layer": str(columns["iasc_layer"]),
        "service_date": columns["service_date"].isoformat(),
        "site_id": text(columns["site_id"]),
        "modality": str(columns["modality"]),
        "staff_id": columns["staff_id"],
        "duration_minutes": columns["duration_minutes"],
        "group_activity_id": text(columns["group_activity_id"]),
        "group_series_id": text(columns.get("group_series_id")),
        "topic_code": columns.get("topic_code"),
        "topic_codes": list(columns.get("topic_codes") or []),
        "language": columns.get("language"),
        "age_at_service": age_on(beneficiary.date_of_birth, columns["service_date"]),
        "voided": columns["voided"],
        "version": columns["version"],
        "team_id": text(columns["team_id"]),
        "delivery_mode": None
        if columns["delivery_mode"] is None
        else str(columns["delivery_mode"]),
        "project_id": text(columns["project_id"]),
    }


def emit_anonymous(session: AsyncSession, record: AnonymousService) -> None:
    add_event(
        session,
        OutboxEvent,
        type=EventType.anonymous_service_recorded,
        organisation_id=record.organisation_id,
        entity_type="anonymous_service",
        entity_id=record.id,
        facts=AnonymousServiceFacts(
            anonymous_service_id=record.id,
            organisation_id=record.organisation_id,
            lead_organisation_id=record.lead_organisation_id,
            delivered_through=record.delivered_through,
            activity_code=record.activity_code,
            iasc_layer=record.iasc_layer,
            service_date=record.service_date,
            site_id=record.site_id,
            modality=record.modality,
            staff_id=record.staff_id,
            group_activity_id=record.group_activity_id,
            group_series_id=record.group_series_id,
            counts=[AnonymousCount.model_validate(c) for c in record.counts],
            voided=record.voided,
            **delivery_tags(record),
        ),
    )
