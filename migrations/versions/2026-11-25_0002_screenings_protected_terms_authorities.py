"""screenings, protected terms, authority grants

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 20:52:23.208008+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import app.db

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "authority_grant",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("person_id", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("topic", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("valid_from", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("valid_until", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("granted_by", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("created_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", app.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_by", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_authority_grant")),
    )
    with op.batch_alter_table("authority_grant", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_authority_grant_person_id"), ["person_id"], unique=False)

    op.create_table(
        "protected_term",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("digest", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("created_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_protected_term")),
        sa.UniqueConstraint("digest", name=op.f("uq_protected_term_digest")),
    )
    op.create_table(
        "protected_term_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_protected_term_state")),
    )
    # The counter row exists from the start so every change only ever updates it.
    op.bulk_insert(
        sa.table("protected_term_state", sa.column("id", sa.Integer), sa.column("version", sa.Integer)),
        [{"id": 1, "version": 0}],
    )
    op.create_table(
        "screening",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("author_id", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("author_role", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
        sa.Column("platform", sqlmodel.sql.sqltypes.AutoString(length=50), nullable=False),
        sa.Column("account", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("authority_id", sa.Uuid(), nullable=True),
        sa.Column("text_sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("text_length", sa.Integer(), nullable=False),
        sa.Column("suggested_text", sa.Text(), nullable=False),
        sa.Column("verdict", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("risk_score", sa.Float(), nullable=False),
        sa.Column("rule_ids", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("findings", sa.JSON(), nullable=False),
        sa.Column("notes", sa.JSON(), nullable=False),
        sa.Column("policy_version", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("engine_version", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_screening")),
    )
    with op.batch_alter_table("screening", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_screening_author_id"), ["author_id"], unique=False)
        batch_op.create_index("ix_screening_created_at_id", ["created_at", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("screening", schema=None) as batch_op:
        batch_op.drop_index("ix_screening_created_at_id")
        batch_op.drop_index(batch_op.f("ix_screening_author_id"))

    op.drop_table("screening")
    op.drop_table("protected_term_state")
    op.drop_table("protected_term")
    with op.batch_alter_table("authority_grant", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_authority_grant_person_id"))

    op.drop_table("authority_grant")
