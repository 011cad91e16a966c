"""incidents and escalation: incident, escalation_case, escalation_event

No foreign key to `screening` on purpose: retention may purge screenings an incident cites.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 20:55:00.849717+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import app.db

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "escalation_case",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("subject_id", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("subject_role", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
        sa.Column("stage", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("disciplinary_referred", sa.Boolean(), nullable=False),
        sa.Column("appeal_pending", sa.Boolean(), nullable=False),
        sa.Column("pending_appeal_id", sa.Uuid(), nullable=True),
        sa.Column("appealable", sa.Boolean(), nullable=False),
        sa.Column("previous_stage", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=True),
        sa.Column("last_step_at", app.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_escalation_case")),
        sa.UniqueConstraint("subject_id", name=op.f("uq_escalation_case_subject_id")),
    )
    op.create_table(
        "escalation_event",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
        sa.Column("from_stage", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
        sa.Column("to_stage", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
        sa.Column("actor", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("incident_ids", sa.JSON(), nullable=False),
        sa.Column("appeal_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["escalation_case.id"],
            name=op.f("fk_escalation_event_case_id_escalation_case"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_escalation_event")),
        sa.UniqueConstraint("case_id", "version", name=op.f("uq_escalation_event_case_id_version")),
    )
    with op.batch_alter_table("escalation_event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_escalation_event_case_id"), ["case_id"], unique=False)

    op.create_table(
        "incident",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("subject_id", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("subject_role", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
        sa.Column("platform", sqlmodel.sql.sqltypes.AutoString(length=50), nullable=False),
        sa.Column("url", sqlmodel.sql.sqltypes.AutoString(length=2048), nullable=True),
        sa.Column("posted_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=True),
        sa.Column("screening_id", sa.Uuid(), nullable=True),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("reported_by", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("created_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["escalation_case.id"], name=op.f("fk_incident_case_id_escalation_case")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident")),
    )
    with op.batch_alter_table("incident", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_incident_case_id"), ["case_id"], unique=False)
        batch_op.create_index("ix_incident_created_at_id", ["created_at", "id"], unique=False)
        batch_op.create_index("ix_incident_subject_id_created_at", ["subject_id", "created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("incident", schema=None) as batch_op:
        batch_op.drop_index("ix_incident_subject_id_created_at")
        batch_op.drop_index("ix_incident_created_at_id")
        batch_op.drop_index(batch_op.f("ix_incident_case_id"))

    op.drop_table("incident")
    with op.batch_alter_table("escalation_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_escalation_event_case_id"))

    op.drop_table("escalation_event")
    op.drop_table("escalation_case")
