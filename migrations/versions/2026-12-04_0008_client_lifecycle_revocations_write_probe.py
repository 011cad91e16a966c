"""client lifecycle, token revocations, write probe

api_client gains the previous secret (valid for a grace period after a rotation) and unique names;
revoked_token is the jti denylist; write_probe is the row `/readyz` rewrites to prove writes land.
Clients that already share a name are renamed "<name> (<client_id>)" before the unique index.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 18:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import app.db

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _rename_duplicate_names() -> None:
    connection = op.get_bind()
    rows = connection.execute(sa.text("SELECT client_id, name FROM api_client ORDER BY created_at, client_id")).all()
    seen: set[str] = set()
    for client_id, name in rows:
        if name in seen:
            connection.execute(
                sa.text("UPDATE api_client SET name = :name WHERE client_id = :client_id"),
                {"name": f"{name[:170]} ({client_id})", "client_id": client_id},
            )
        seen.add(name)


def upgrade() -> None:
    _rename_duplicate_names()
    with op.batch_alter_table("api_client", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("previous_secret_hash", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True)
        )
        batch_op.add_column(sa.Column("previous_secret_expires_at", app.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_unique_constraint(batch_op.f("uq_api_client_name"), ["name"])

    op.create_table(
        "revoked_token",
        sa.Column("jti", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("expires_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("jti", name=op.f("pk_revoked_token")),
    )
    with op.batch_alter_table("revoked_token", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_revoked_token_expires_at"), ["expires_at"], unique=False)

    op.create_table(
        "write_probe",
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=50), nullable=False),
        sa.Column("written_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_write_probe")),
    )


def downgrade() -> None:
    op.drop_table("write_probe")
    with op.batch_alter_table("revoked_token", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_revoked_token_expires_at"))
    op.drop_table("revoked_token")
    with op.batch_alter_table("api_client", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_api_client_name"), type_="unique")
        batch_op.drop_column("previous_secret_expires_at")
        batch_op.drop_column("previous_secret_hash")
