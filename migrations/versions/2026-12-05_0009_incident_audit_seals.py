"""incident audit seals: incident.audit_seq and incident.audit_digest

Incidents are recorded in the audit chain in batches (`incidents.sealed` events, one per batch,
listing each incident's keyed digest) instead of one event per request, which queued every
writer on the chain head. A request stores the row with its keyed digest (`audit_digest`);
the sealer marks it with the sealing event's seq (`audit_seq`). Incidents stored before this
revision are already covered by their own `incident.created` event: they are marked with its seq
so the sealer leaves them alone. Neither column is part of a row's digest, so events recorded
before and after this revision verify the same way.

Downgrading drops both columns; an incident still pending then has no event and verification
names it, so seal everything first (stop the service gracefully: its last pass seals what is pending).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05 12:00:00+00:00
"""

import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_INCIDENT = sa.table("incident", sa.column("id", sa.Uuid()), sa.column("audit_seq", sa.Integer()))
_CREATED = sa.table("audit_event", sa.column("seq", sa.Integer()), sa.column("action"), sa.column("target_id"))


def _mark_recorded_incidents() -> None:
    connection = op.get_bind()
    recorded = connection.execute(
        sa.select(_CREATED.c.seq, _CREATED.c.target_id).where(_CREATED.c.action == "incident.created")
    ).all()
    # The latest event per incident (there is one; an idempotent retry never records twice).
    params = {target_id: seq for seq, target_id in recorded}
    if params:
        connection.execute(
            sa.update(_INCIDENT)
            .where(_INCIDENT.c.id == sa.bindparam("incident_id"))
            .values(audit_seq=sa.bindparam("seq")),
            [{"incident_id": uuid.UUID(target_id), "seq": seq} for target_id, seq in params.items()],
        )


def upgrade() -> None:
    with op.batch_alter_table("incident", schema=None) as batch_op:
        batch_op.add_column(sa.Column("audit_seq", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("audit_digest", sa.String(length=64), nullable=True))
    op.create_index(
        "ix_incident_pending_created_at_id",
        "incident",
        ["created_at", "id"],
        unique=False,
        postgresql_where=sa.text("audit_seq IS NULL"),
        sqlite_where=sa.text("audit_seq IS NULL"),
    )
    _mark_recorded_incidents()


def downgrade() -> None:
    op.drop_index("ix_incident_pending_created_at_id", table_name="incident")
    with op.batch_alter_table("incident", schema=None) as batch_op:
        batch_op.drop_column("audit_digest")
        batch_op.drop_column("audit_seq")
