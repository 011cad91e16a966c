"""screening audit seals: screening.audit_seq

Screenings are sealed into the audit chain in batches (`screenings.sealed` events) instead of one
event per request. Rows stored before this revision carry their own `screening.created` event and
are sealed again by the first sealer pass, which costs nothing but one more event.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 23:30:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("screening", schema=None) as batch_op:
        batch_op.add_column(sa.Column("audit_seq", sa.Integer(), nullable=True))
        batch_op.create_index("ix_screening_audit_seq_created_at_id", ["audit_seq", "created_at", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("screening", schema=None) as batch_op:
        batch_op.drop_index("ix_screening_audit_seq_created_at_id")
        batch_op.drop_column("audit_seq")
