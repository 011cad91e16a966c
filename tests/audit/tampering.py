"""What an attacker with write access to the database (but not the service secret) can do.

The append-only triggers stop the service's own role; a database owner can drop them first, so
the tamper tests do exactly that before editing the chain. Inside a test's rolled-back
transaction the triggers come back with the rollback.
"""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import Connection, text
from sqlmodel import Session

from app.audit import service as audit
from app.audit.keys import derive


def drop_append_only_guards(connection: Connection | Session) -> None:
    """Drop the triggers that refuse UPDATE and DELETE on audit_event (as a database owner could)."""
    dialect = connection.get_bind().dialect.name if isinstance(connection, Session) else connection.dialect.name
    if dialect == "postgresql":
        connection.execute(text("DROP TRIGGER IF EXISTS audit_event_no_change ON audit_event"))
        connection.execute(text("DROP TRIGGER IF EXISTS audit_event_no_truncate ON audit_event"))
    else:
        connection.execute(text("DROP TRIGGER IF EXISTS audit_event_no_update"))
        connection.execute(text("DROP TRIGGER IF EXISTS audit_event_no_delete"))


def rehash_without_key(connection: Connection | Session, *, keyed_with: bytes | None = None) -> None:
    """Recompute every event hash and the head after an edit, with the old unkeyed rule or a guessed key.

    This is the attack a keyed chain exists to defeat: without the service secret the forger either
    falls back to plain SHA-256 (marking events unkeyed) or uses a key of their own.
    """
    drop_append_only_guards(connection)
    rows = (
        connection.execute(
            text(
                "SELECT seq, occurred_at, actor, action, target_type, target_id, details FROM audit_event ORDER BY seq"
            )
        )
        .mappings()
        .all()
    )
    prev = audit.GENESIS_HASH
    for row in rows:
        fields = dict(row)
        if isinstance(fields["details"], str):
            fields["details"] = json.loads(fields["details"])
        occurred = fields["occurred_at"]
        occurred = dt.datetime.fromisoformat(occurred) if isinstance(occurred, str) else occurred
        fields["occurred_at"] = occurred if occurred.tzinfo else occurred.replace(tzinfo=dt.UTC)
        if keyed_with is None:
            new = audit.event_hash(prev_hash=prev, **fields)
        else:
            new = audit.event_hash(prev_hash=prev, **fields, keyed=True, keys=derive(keyed_with.decode()))
        connection.execute(
            text("UPDATE audit_event SET prev_hash = :p, hash = :h, keyed = :k WHERE seq = :s"),
            {"p": prev, "h": new, "k": keyed_with is not None, "s": row["seq"]},
        )
        prev = new
    connection.execute(text("UPDATE audit_head SET seq = :s, hash = :h WHERE id = 1"), {"s": len(rows), "h": prev})
