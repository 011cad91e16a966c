"""keyed, append-only audit chain: audit_event.keyed and triggers refusing UPDATE and DELETE

Events already stored keep their plain SHA-256 hashes (`keyed` false): rehashing them under the
key would need the service secret here, and would erase the evidence the old chain is. The
service appends an `audit.keyed` switch-over event before its first keyed event, and verification
checks the legacy prefix with the old rule (see app/audit/service.py). From this revision on the
database itself refuses to change or remove an audit event, on SQLite and PostgreSQL alike.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 18:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_MESSAGE = "audit_event is append-only"

_SQLITE_TRIGGERS = {
    "audit_event_no_update": "UPDATE",
    "audit_event_no_delete": "DELETE",
}


def _create_guards() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION audit_event_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN RAISE EXCEPTION '{_MESSAGE}' USING ERRCODE = 'insufficient_privilege'; END $$"
        )
        op.execute(
            "CREATE TRIGGER audit_event_no_change BEFORE UPDATE OR DELETE ON audit_event "
            "FOR EACH ROW EXECUTE FUNCTION audit_event_refuse_change()"
        )
        op.execute(
            "CREATE TRIGGER audit_event_no_truncate BEFORE TRUNCATE ON audit_event "
            "FOR EACH STATEMENT EXECUTE FUNCTION audit_event_refuse_change()"
        )
        return
    for name, event in _SQLITE_TRIGGERS.items():
        op.execute(f"CREATE TRIGGER {name} BEFORE {event} ON audit_event BEGIN SELECT RAISE(ABORT, '{_MESSAGE}'); END")


def _drop_guards() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_event_no_truncate ON audit_event")
        op.execute("DROP TRIGGER IF EXISTS audit_event_no_change ON audit_event")
        op.execute("DROP FUNCTION IF EXISTS audit_event_refuse_change()")
        return
    for name in _SQLITE_TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {name}")


def upgrade() -> None:
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.add_column(sa.Column("keyed", sa.Boolean(), server_default=sa.false(), nullable=False))
    # After the column: on SQLite, batch mode rebuilds the table, which would drop the triggers.
    _create_guards()


def downgrade() -> None:
    _drop_guards()
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.drop_column("keyed")
