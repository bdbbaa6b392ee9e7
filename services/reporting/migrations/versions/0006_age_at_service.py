"""Ages on the service and registration dates; exports keep their bands

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04 19:55:00.000000

``service_record`` events always carried ``age_at_service`` and reporting
dropped it, counting people by their age at the period's end. Rows folded
before this revision have none and are banded by the service year minus the
birth year until their record changes again; registrations likewise, with
``beneficiary`` events now carrying ``age_at_registration``. An export keeps
the age bands it was asked with (none before: the deployment's default).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("service_fact", sa.Column("age_at_service", sa.Integer()))
    op.add_column("beneficiary_fact", sa.Column("age_at_registration", sa.Integer()))
    op.add_column("export", sa.Column("age_bands", sa.String(length=200)))


def downgrade() -> None:
    with op.batch_alter_table("export") as batch:
        batch.drop_column("age_bands")
    with op.batch_alter_table("beneficiary_fact") as batch:
        batch.drop_column("age_at_registration")
    with op.batch_alter_table("service_fact") as batch:
        batch.drop_column("age_at_service")
