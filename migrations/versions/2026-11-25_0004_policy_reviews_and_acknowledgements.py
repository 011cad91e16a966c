"""policy reviews and acknowledgements: policy_review, policy_acknowledgement

The pack's original review ("Reviewed Nov 2019") is synthesised from the pack, never stored.
`policy_review.previous_version` is unique so two concurrent reviews cannot fork the history.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 21:17:46.558880+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import app.db

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "policy_acknowledgement",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("person_id", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("version", sqlmodel.sql.sqltypes.AutoString(length=50), nullable=False),
        sa.Column("recorded_by", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("created_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_policy_acknowledgement")),
        sa.UniqueConstraint("person_id", "version", name=op.f("uq_policy_acknowledgement_person_id_version")),
    )
    with op.batch_alter_table("policy_acknowledgement", schema=None) as batch_op:
        batch_op.create_index(
            "ix_policy_acknowledgement_version_created_at_id", ["version", "created_at", "id"], unique=False
        )

    op.create_table(
        "policy_review",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("version", sqlmodel.sql.sqltypes.AutoString(length=50), nullable=False),
        sa.Column("previous_version", sqlmodel.sql.sqltypes.AutoString(length=50), nullable=False),
        sa.Column("reviewed_on", sa.Date(), nullable=False),
        sa.Column("reviewer", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("recorded_by", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("created_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_policy_review")),
        sa.UniqueConstraint("previous_version", name=op.f("uq_policy_review_previous_version")),
        sa.UniqueConstraint("version", name=op.f("uq_policy_review_version")),
    )
    with op.batch_alter_table("policy_review", schema=None) as batch_op:
        batch_op.create_index("ix_policy_review_created_at_id", ["created_at", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("policy_review", schema=None) as batch_op:
        batch_op.drop_index("ix_policy_review_created_at_id")
    op.drop_table("policy_review")

    with op.batch_alter_table("policy_acknowledgement", schema=None) as batch_op:
        batch_op.drop_index("ix_policy_acknowledgement_version_created_at_id")
    op.drop_table("policy_acknowledgement")
