"""imports: mappings, import jobs with their progress, refused rows

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04 22:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

from shared.db import UTCDateTime

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "import_mapping",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organisation_id", sa.Uuid(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column(
            "created_by", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False
        ),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_mapping")),
        sa.UniqueConstraint(
            "organisation_id",
            "name",
            "version",
            name=op.f("uq_import_mapping_organisation_id_name_version"),
        ),
    )
    op.create_index(
        op.f("ix_import_mapping_organisation_id"),
        "import_mapping",
        ["organisation_id"],
    )
    op.create_table(
        "import_job",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organisation_id", sa.Uuid(), nullable=False),
        sa.Column("mapping_id", sa.Uuid(), nullable=False),
        sa.Column("dry_run", sa.Boolean(), nullable=False),
        sa.Column(
            "status",
            sa.Enum("queued", "running", "done", "failed", name="importstatus"),
            nullable=False,
        ),
        sa.Column(
            "source_kind",
            sa.Enum("csv", "xlsx", "kobo", name="sourcekind"),
            nullable=False,
        ),
        sa.Column("source_name", sqlmodel.sql.sqltypes.AutoString(length=255)),
        sa.Column("source_enc", sa.Text()),
        sa.Column("kobo_server", sqlmodel.sql.sqltypes.AutoString(length=255)),
        sa.Column("kobo_asset_uid", sqlmodel.sql.sqltypes.AutoString(length=64)),
        sa.Column("kobo_token_enc", sa.Text()),
        sa.Column(
            "started_by", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False
        ),
        sa.Column("roles", sa.JSON(), nullable=False),
        sa.Column("site_ids", sa.JSON()),
        sa.Column("total", sa.Integer()),
        sa.Column("next_row", sa.Integer(), nullable=False),
        sa.Column("refused", sa.Integer(), nullable=False),
        sa.Column("outcomes", sa.JSON(), nullable=False),
        sa.Column("error", sqlmodel.sql.sqltypes.AutoString(length=2000)),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("started_at", UTCDateTime(timezone=True)),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", UTCDateTime(timezone=True)),
        sa.ForeignKeyConstraint(
            ["mapping_id"],
            ["import_mapping.id"],
            name=op.f("fk_import_job_mapping_id_import_mapping"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_job")),
    )
    op.create_index(
        op.f("ix_import_job_organisation_id"), "import_job", ["organisation_id"]
    )
    op.create_table(
        "import_refusal",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organisation_id", sa.Uuid(), nullable=False),
        sa.Column("import_id", sa.Uuid(), nullable=False),
        sa.Column("row_number", sa.Integer(), nullable=False),
        sa.Column(
            "field", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False
        ),
        sa.Column(
            "reason", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["import_id"],
            ["import_job.id"],
            name=op.f("fk_import_refusal_import_id_import_job"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_refusal")),
    )
    op.create_index(
        op.f("ix_import_refusal_import_id"), "import_refusal", ["import_id"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_import_refusal_import_id"), table_name="import_refusal")
    op.drop_table("import_refusal")
    op.drop_index(op.f("ix_import_job_organisation_id"), table_name="import_job")
    op.drop_table("import_job")
    op.drop_index(
        op.f("ix_import_mapping_organisation_id"), table_name="import_mapping"
    )
    op.drop_table("import_mapping")
    sa.Enum(name="importstatus").drop(op.get_bind(), checkfirst=True)
    sa.Enum(name="sourcekind").drop(op.get_bind(), checkfirst=True)
