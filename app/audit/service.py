"""Appending to and verifying the audit chain.

Each event's hash is SHA-256 over the previous hash and a canonical JSON of its own fields, so an
edited, inserted or deleted row breaks every hash after it. Appends lock the single head row
(`SELECT … FOR UPDATE` on PostgreSQL; SQLite's `BEGIN IMMEDIATE` already serialises writers), so
concurrent writers queue instead of forking the chain. Details must never contain post text.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from app.audit.models import GENESIS_HASH, AuditEvent, AuditHead
from app.db import utcnow


def _canonical_time(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def event_hash(
    *,
    prev_hash: str,
    seq: int,
    occurred_at: dt.datetime,
    actor: str,
    action: str,
    target_type: str,
    target_id: str,
    details: dict[str, Any],
) -> str:
    """Return the chain hash of one event given the hash before it."""
    payload = json.dumps(
        {
            "seq": seq,
            "occurred_at": _canonical_time(occurred_at),
            "actor": actor,
            "action": action,
            "target_type": target_type,
            "target_id": target_id,
            "details": details,
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        default=str,
    )
    return hashlib.sha256((prev_hash + payload).encode()).hexdigest()


_HEAD = AuditHead.__table__  # type: ignore[attr-defined]
_EVENTS = AuditEvent.__table__  # type: ignore[attr-defined]
_LOCK_HEAD = sa.select(_HEAD.c.seq, _HEAD.c.hash).where(_HEAD.c.id == 1).with_for_update()
_INSERT_EVENT = sa.insert(_EVENTS)
_INSERT_HEAD = sa.insert(_HEAD).values(id=1)
_UPDATE_HEAD = sa.update(_HEAD).where(_HEAD.c.id == 1)


def lock_head(session: Session) -> tuple[int, str]:
    """Lock the chain head for the rest of the caller's transaction; return its (seq, hash).

    For writers that must read other rows only after they hold the chain (the screening sealer).
    """
    head = _locked_head(session)
    return (head.seq, head.hash) if head is not None else (0, GENESIS_HASH)


def _locked_head(session: Session) -> sa.Row[Any] | None:
    session.flush()
    return session.execute(_LOCK_HEAD).first()


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    target_type: str,
    target_id: str,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event in the caller's transaction; it commits or rolls back with the change.

    Core statements, not the ORM: this runs on every write request, and reading the locked head
    straight from the database also means a session's stale copy can never be chained onto.
    """
    head = _locked_head(session)
    prev_seq, prev_hash = (head.seq, head.hash) if head is not None else (0, GENESIS_HASH)
    # JSON round trip so what is hashed is exactly what the database gives back.
    clean_details = json.loads(json.dumps(details or {}, default=str))
    row = {
        "seq": prev_seq + 1,
        "occurred_at": utcnow(),
        "actor": actor,
        "action": action,
        "target_type": target_type,
        "target_id": str(target_id),
        "details": clean_details,
        "prev_hash": prev_hash,
    }
    row["hash"] = event_hash(**row)
    # Parameters passed separately so each statement compiles once per process.
    session.execute(_INSERT_EVENT, row)
    if head is None:
        session.execute(_INSERT_HEAD, {"seq": row["seq"], "hash": row["hash"]})
    else:
        session.execute(_UPDATE_HEAD, {"seq": row["seq"], "hash": row["hash"]})
    return AuditEvent(**row)


@dataclass(frozen=True)
class ChainReport:
    """The outcome of verifying the chain."""

    ok: bool
    checked: int
    broken_seq: int | None = None
    reason: str | None = None


def verify(session: Session, *, batch_size: int = 1000) -> ChainReport:
    """Recompute every hash in order and report the first event that does not match."""
    expected_prev = GENESIS_HASH
    expected_seq = 1
    checked = 0
    last_seq = 0
    while True:
        # populate_existing: verify what the database holds, never this session's cached rows.
        events = session.exec(
            select(AuditEvent).where(AuditEvent.seq > last_seq).order_by(AuditEvent.seq).limit(batch_size)  # type: ignore[arg-type]
            .execution_options(populate_existing=True)
        ).all()
        if not events:
            break
        for event in events:
            if event.seq != expected_seq:
                return ChainReport(False, checked, expected_seq, f"event {expected_seq} is missing")
            if event.prev_hash != expected_prev:
                return ChainReport(False, checked, event.seq, "prev_hash does not match the event before")
            recomputed = event_hash(
                prev_hash=event.prev_hash,
                seq=event.seq,
                occurred_at=event.occurred_at,
                actor=event.actor,
                action=event.action,
                target_type=event.target_type,
                target_id=event.target_id,
                details=event.details,
            )
            if recomputed != event.hash:
                return ChainReport(False, checked, event.seq, "content does not match its hash")
            expected_prev, expected_seq = event.hash, event.seq + 1
            checked += 1
        last_seq = events[-1].seq
    head = session.get(AuditHead, 1, populate_existing=True)
    if head is not None and (head.seq != checked or head.hash != expected_prev):
        return ChainReport(False, checked, checked + 1, "the chain head does not match the last event")
    return ChainReport(True, checked)
