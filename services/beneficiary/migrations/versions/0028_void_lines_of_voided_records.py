"""void the material lines of service records voided before the cascade

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-05 07:40:00.000000

Voiding a service record now voids its material lines
(``materials.service.void_with_record``), but a record voided before that
left its lines live, and reporting still counts them (materials
distributed). This does for each such line what ``void_with_record`` does:
the line is voided with its record's reason and its version bumped, a
``material_distribution.voided`` event with the line's
``MaterialDistributionFacts`` is staged on the outbox, and an audit row
(action ``void``, subject ``migration 0028``) is written.

A migration has no session for ``shared.outbox.add_event``, so the event is
inserted as a plain row of the shape that writer gives it (a new id, the
time, its type, organisation, entity, and the facts dumped as JSON) with no
position: ``sequence_pending_events`` numbers it when the change feed is
next read or the publish job next runs, so reporting folds it like any
other (migration 0010 staged its events the same way). Lines already voided keep their own
reason and version.
"""

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from shared.contracts.events import EventType, MaterialDistributionFacts
from shared.db import UTCDateTime

revision: str = "0028"
down_revision: str | None = "0027"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SUBJECT = "migration 0028"
"""Who the audit rows name: no person voided these lines."""

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
_audit = sa.table(
    "audit_entry",
    sa.column("id", sa.Uuid()),
    sa.column("at", UTCDateTime()),
    sa.column("organisation_id", sa.Uuid()),
    sa.column("subject", sa.String()),
    sa.column("action", sa.String()),
    sa.column("entity_type", sa.String()),
    sa.column("entity_id", sa.Uuid()),
    sa.column("reason", sa.String()),
    sa.column("request_id", sa.String()),
)
_record = sa.table(
    "service_record",
    sa.column("id", sa.Uuid()),
    sa.column("organisation_id", sa.Uuid()),
    sa.column("voided", sa.Boolean()),
    sa.column("void_reason", sa.String()),
)
_line = sa.table(
    "material_distribution",
    *(
        sa.column(name, sa.Uuid())
        for name in (
            "id",
            "organisation_id",
            "group_activity_id",
            "service_record_id",
            "lead_organisation_id",
            "site_id",
            "team_id",
            "project_id",
        )
    ),
    *(sa.column(name, sa.String()) for name in ("item_code", "language")),
    sa.column("activity_code", sa.String()),
    sa.column("quantity", sa.Integer()),
    sa.column("distributed_on", sa.Date()),
    sa.column("voided", sa.Boolean()),
    sa.column("void_reason", sa.String()),
    sa.column("version", sa.Integer()),
)


def upgrade() -> None:
    connection = op.get_bind()
    now = datetime.now(UTC)
    lines = (
        connection.execute(
            sa.select(_line, _record.c.void_reason.label("record_void_reason"))
            .join(
                _record,
                sa.and_(
                    _record.c.organisation_id == _line.c.organisation_id,
                    _record.c.id == _line.c.service_record_id,
                ),
            )
            .where(_record.c.voided, sa.not_(_line.c.voided))
            .order_by(_line.c.organisation_id, _line.c.id)
        )
        .mappings()
        .all()
    )
    for line in lines:
        owned = sa.and_(
            _line.c.organisation_id == line["organisation_id"],
            _line.c.id == line["id"],
        )
        connection.execute(
            sa.update(_line)
            .where(owned)
            .values(
                voided=True,
                void_reason=line["record_void_reason"],
                version=_line.c.version + 1,
            )
        )
        facts = MaterialDistributionFacts(
            distribution_id=line["id"],
            organisation_id=line["organisation_id"],
            group_activity_id=line["group_activity_id"],
            service_record_id=line["service_record_id"],
            item_code=line["item_code"],
            quantity=line["quantity"],
            language=line["language"],
            distributed_on=line["distributed_on"],
            lead_organisation_id=line["lead_organisation_id"],
            activity_code=line["activity_code"],
            site_id=line["site_id"],
            team_id=line["team_id"],
            project_id=line["project_id"],
            voided=True,
        )
        connection.execute(
            sa.insert(_outbox).values(
                id=uuid.uuid4(),
                type=EventType.material_distribution_voided.value,
                organisation_id=line["organisation_id"],
                entity_type="material_distribution",
                entity_id=line["id"],
                occurred_at=now,
                data=facts.model_dump(mode="json"),
            )
        )
        connection.execute(
            sa.insert(_audit).values(
                id=uuid.uuid4(),
                at=now,
                organisation_id=line["organisation_id"],
                subject=SUBJECT,
                action="void",
                entity_type="material_distribution",
                entity_id=line["id"],
                reason="its service record was voided before voids cascaded",
                request_id=None,
            )
        )


def downgrade() -> None:
    """The lines stay voided: their records are voided, and the events are
    facts already sent."""
