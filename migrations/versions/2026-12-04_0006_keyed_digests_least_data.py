"""keyed digests and least data: screening.text_hmac, idempotency_record.request_fingerprint

An unkeyed SHA-256 of a post lets anyone holding the database confirm a guessed post (10,000
guesses of a door-code template), so it is erased, not kept beside its replacement: screenings
get `text_hmac` (HMAC-SHA256 under a key derived from POLICY_SECRET_KEY), empty for rows stored
before this revision, whose text is gone and cannot be re-digested. Idempotency records keep a
keyed fingerprint of the request instead of an unkeyed one (empty for records made before; they
still replay), and no longer keep the method and path, which the fingerprint already covers.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04 18:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("screening", schema=None) as batch_op:
        batch_op.alter_column("text_sha256", new_column_name="text_hmac", existing_type=sa.String(length=64))
    op.execute(sa.text("UPDATE screening SET text_hmac = ''"))
    with op.batch_alter_table("idempotency_record", schema=None) as batch_op:
        batch_op.alter_column("request_hash", new_column_name="request_fingerprint", existing_type=sa.String(length=64))
        batch_op.drop_column("method")
        batch_op.drop_column("path")
    op.execute(sa.text("UPDATE idempotency_record SET request_fingerprint = ''"))


def downgrade() -> None:
    # The erased digests cannot come back: rows keep an empty value under the old names.
    with op.batch_alter_table("idempotency_record", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("path", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False, server_default="")
        )
        batch_op.add_column(
            sa.Column("method", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False, server_default="")
        )
        batch_op.alter_column("request_fingerprint", new_column_name="request_hash", existing_type=sa.String(length=64))
    op.execute(sa.text("UPDATE idempotency_record SET request_hash = ''"))
    with op.batch_alter_table("screening", schema=None) as batch_op:
        batch_op.alter_column("text_hmac", new_column_name="text_sha256", existing_type=sa.String(length=64))
    op.execute(sa.text("UPDATE screening SET text_sha256 = ''"))
