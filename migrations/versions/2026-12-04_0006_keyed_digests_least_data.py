"""keyed digests and least data: screening.text_hmac, idempotency_record.request_fingerprint

An unkeyed SHA-256 of a post lets anyone holding the database confirm a guessed post (10,000
guesses of a door-code template), so it is erased, not kept beside its replacement: screenings
get `text_hmac` (HMAC-SHA256 under a key derived from POLICY_SECRET_KEY), empty for rows stored
before this revision, whose text is gone and cannot be re-digested. Idempotency records keep a
keyed fingerprint of the request instead of an unkeyed one (empty for records made before; they
still replay), and no longer keep the method and path, which the fingerprint already covers.

Erasing a sealed column changes what the seals covered, so the upgrade says so in the audit chain
itself: one `screenings.seals_voided` event names the last seal it voids, the screenings are marked
unsealed, and the sealer seals them again as they now are (verify-audit skips voided seals only).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04 18:00:00+00:00
"""

import datetime as dt
import hashlib
import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import app.db

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


VOID_ACTION = "screenings.seals_voided"
_EVENTS = sa.table(
    "audit_event",
    sa.column("seq", sa.Integer), sa.column("occurred_at", app.db.UTCDateTime()), sa.column("actor", sa.String),
    sa.column("action", sa.String), sa.column("target_type", sa.String), sa.column("target_id", sa.String),
    sa.column("details", sa.JSON), sa.column("prev_hash", sa.String), sa.column("hash", sa.String),
)  # fmt: skip
_HEAD = sa.table("audit_head", sa.column("id", sa.Integer), sa.column("seq", sa.Integer), sa.column("hash", sa.String))


def _chain_hash(prev_hash: str, event: dict[str, Any]) -> str:
    # The chain's formula as of revision 0005 (app/audit/service.py), frozen here: a migration
    # must append what the chain held at its own revision, whatever later code computes.
    fields = {k: event[k] for k in ("seq", "actor", "action", "target_type", "target_id", "details")}
    fields["occurred_at"] = event["occurred_at"].strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    payload = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256((prev_hash + payload).encode()).hexdigest()


def _void_seals(bind: sa.Connection) -> None:
    """Record in the chain that the seals so far no longer match their rows, and unseal the rows."""
    sealed = bind.execute(sa.text("SELECT count(*) FROM screening WHERE audit_seq IS NOT NULL")).scalar_one()
    if not sealed:
        return
    last_seal = bind.execute(
        sa.text("SELECT max(seq) FROM audit_event WHERE action = 'screenings.sealed'")
    ).scalar_one()
    head = bind.execute(sa.select(_HEAD.c.seq, _HEAD.c.hash).where(_HEAD.c.id == 1)).first()
    prev_seq, prev_hash = (head.seq, head.hash) if head is not None else (0, "0" * 64)
    event = {
        "seq": prev_seq + 1,
        "occurred_at": dt.datetime.now(dt.UTC),
        "actor": "system:migration",
        "action": VOID_ACTION,
        "target_type": "screening",
        "target_id": "0006",
        "details": {"through_seq": last_seal, "screenings": sealed,
                    "reason": "revision 0006 erased the unkeyed text digests the seals covered"},
    }  # fmt: skip
    event["hash"] = _chain_hash(prev_hash, event)
    bind.execute(_EVENTS.insert().values(**event, prev_hash=prev_hash))
    if head is None:
        bind.execute(_HEAD.insert().values(id=1, seq=event["seq"], hash=event["hash"]))
    else:
        bind.execute(_HEAD.update().where(_HEAD.c.id == 1).values(seq=event["seq"], hash=event["hash"]))
    bind.execute(sa.text("UPDATE screening SET audit_seq = NULL"))


def upgrade() -> None:
    with op.batch_alter_table("screening", schema=None) as batch_op:
        batch_op.alter_column("text_sha256", new_column_name="text_hmac", existing_type=sa.String(length=64))
    op.execute(sa.text("UPDATE screening SET text_hmac = ''"))
    _void_seals(op.get_bind())
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
