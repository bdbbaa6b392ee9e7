"""re-send group activities and enrolments to reporting

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 22:20:00.000000

Reporting now counts each group activity as one session or meeting, from a
``group_activity.recorded`` event the service did not write before, and
folds ``enrolment.updated`` only with the dates and protocol sessions it
did not carry. This stages, on the outbox, one event per group activity
and per enrolment as they stand, numbered and sent like any other (the
fold keeps the newest per entity, so a later real event wins). An
enrolment whose intervention definition is gone is left out.
"""

import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

from shared.contracts.enums import (
    DeliveredThrough,
    EnrolmentStatus,
    Modality,
)
from shared.contracts.events import (
    EnrolmentFacts,
    EnrolmentSession,
    EventType,
    GroupActivityFacts,
)
from shared.db import UTCDateTime
from shared.taxonomy.iasc import IascLayer
from shared.taxonomy.interventions import get_intervention

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_outbox = sa.table(
    "outbox_event",
    sa.column("id", sa.Uuid()),
    sa.column("type", sa.String()),
    sa.column("organisation_id", sa.Uuid()),
    sa.column("entity_type", sa.String()),
    sa.column("entity_id", sa.Uuid()),
    sa.column("occurred_at", UTCDateTime()),
    sa.column("data", sa.JSON()),
)
_group = sa.table(
    "group_activity",
    *(sa.column(name, sa.Uuid()) for name in ("id", "organisation_id")),
    sa.column("lead_organisation_id", sa.Uuid()),
    sa.column("site_id", sa.Uuid()),
    *(
        sa.column(name, sa.String())
        for name in ("delivered_through", "activity_code", "iasc_layer", "modality")
    ),
    sa.column("activity_date", sa.Date()),
    sa.column("duration_minutes", sa.Integer()),
    sa.column("facilitator_staff_ids", sa.JSON()),
    sa.column("voided", sa.Boolean()),
)
_record = sa.table(
    "service_record",
    *(
        sa.column(name, sa.Uuid())
        for name in ("id", "organisation_id", "group_activity_id")
    ),
    sa.column("voided", sa.Boolean()),
)
_anonymous = sa.table(
    "anonymous_service",
    sa.column("organisation_id", sa.Uuid()),
    sa.column("group_activity_id", sa.Uuid()),
    sa.column("total", sa.Integer()),
    sa.column("voided", sa.Boolean()),
)
_enrolment = sa.table(
    "enrolment",
    *(
        sa.column(name, sa.Uuid())
        for name in ("id", "organisation_id", "beneficiary_id", "site_id")
    ),
    sa.column("intervention", sa.String()),
    sa.column("status", sa.String()),
    sa.column("enrolled_on", sa.Date()),
    sa.column("status_on", sa.Date()),
)
_attended = sa.table(
    "session_attendance",
    *(
        sa.column(name, sa.Uuid())
        for name in ("organisation_id", "enrolment_id", "service_record_id")
    ),
    sa.column("session_number", sa.Integer()),
    sa.column("attended_on", sa.Date()),
)


def _stage(
    connection: sa.Connection,
    kind: EventType,
    entity_type: str,
    organisation_id: uuid.UUID,
    entity_id: uuid.UUID,
    facts: GroupActivityFacts | EnrolmentFacts,
) -> None:
    connection.execute(
        sa.insert(_outbox).values(
            id=uuid.uuid4(),
            type=kind.value,
            organisation_id=organisation_id,
            entity_type=entity_type,
            entity_id=entity_id,
            occurred_at=datetime.now(UTC),
            data=facts.model_dump(mode="json"),
        )
    )


def _per_group(
    connection: sa.Connection, statement: sa.Select[Any]
) -> dict[tuple[uuid.UUID, uuid.UUID], int]:
    """(organisation, group activity) -> the count the statement selects."""
    return {
        (org, group): int(n or 0) for org, group, n in connection.execute(statement)
    }


def upgrade() -> None:
    connection = op.get_bind()
    registered = _per_group(
        connection,
        sa.select(
            _record.c.organisation_id,
            _record.c.group_activity_id,
            sa.func.count(),
        )
        .where(_record.c.group_activity_id.is_not(None), ~_record.c.voided)
        .group_by(_record.c.organisation_id, _record.c.group_activity_id),
    )
    anonymous = _per_group(
        connection,
        sa.select(
            _anonymous.c.organisation_id,
            _anonymous.c.group_activity_id,
            sa.func.sum(_anonymous.c.total),
        )
        .where(_anonymous.c.group_activity_id.is_not(None), ~_anonymous.c.voided)
        .group_by(_anonymous.c.organisation_id, _anonymous.c.group_activity_id),
    )
    for group in connection.execute(sa.select(_group)).mappings().all():
        owned = (group["organisation_id"], group["id"])
        facts = GroupActivityFacts(
            group_activity_id=group["id"],
            organisation_id=group["organisation_id"],
            lead_organisation_id=group["lead_organisation_id"],
            delivered_through=DeliveredThrough(group["delivered_through"]),
            activity_code=group["activity_code"],
            iasc_layer=IascLayer(group["iasc_layer"]),
            activity_date=group["activity_date"],
            site_id=group["site_id"],
            modality=Modality(group["modality"]),
            duration_minutes=group["duration_minutes"],
            registered_attendees=registered.get(owned, 0),
            anonymous_attendees=anonymous.get(owned, 0),
            facilitators=len(group["facilitator_staff_ids"] or []),
            voided=bool(group["voided"]),
        )
        _stage(
            connection,
            EventType.group_activity_recorded,
            "group_activity",
            group["organisation_id"],
            group["id"],
            facts,
        )

    attended: dict[tuple[uuid.UUID, uuid.UUID], dict[int, date]] = {}
    rows = connection.execute(
        sa.select(
            _attended.c.organisation_id,
            _attended.c.enrolment_id,
            _attended.c.session_number,
            _attended.c.attended_on,
        )
        .join(
            _record,
            sa.and_(
                _record.c.organisation_id == _attended.c.organisation_id,
                _record.c.id == _attended.c.service_record_id,
            ),
        )
        .where(~_record.c.voided)
    )
    for org, enrolment_id, number, on in rows:
        attended.setdefault((org, enrolment_id), {})[number] = on
    for enrolment in connection.execute(sa.select(_enrolment)).mappings().all():
        code, _, version = enrolment["intervention"].partition("@")
        definition = get_intervention(code, version)
        if definition is None:
            continue
        owned = (enrolment["organisation_id"], enrolment["id"])
        done = attended.get(owned, {})
        planned = len(definition.sessions)
        facts = EnrolmentFacts(
            enrolment_id=enrolment["id"],
            beneficiary_id=enrolment["beneficiary_id"],
            organisation_id=enrolment["organisation_id"],
            intervention=enrolment["intervention"],
            status=EnrolmentStatus(enrolment["status"]),
            sessions_attended=len(done),
            sessions_planned=planned,
            completed=round(len(done) / planned, 3) >= definition.completion.min_share,
            enrolled_on=enrolment["enrolled_on"],
            status_on=enrolment["status_on"],
            site_id=enrolment["site_id"],
            sessions=[
                EnrolmentSession(number=s.number, attended_on=done.get(s.number))
                for s in definition.sessions
            ],
        )
        _stage(
            connection,
            EventType.enrolment_updated,
            "enrolment",
            enrolment["organisation_id"],
            enrolment["id"],
            facts,
        )


def downgrade() -> None:
    """The staged events stay: they are facts already sent."""
