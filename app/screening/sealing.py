"""Sealing stored screenings into the audit chain in batches, off the request path.

Storing a screening is one INSERT; it does not take the audit chain's head lock, which would
serialise every screening in every worker. Instead a sealer (a background task in each worker,
see `Sealer`) periodically takes the head lock, reads the screenings not yet sealed, appends one
`screenings.sealed` event carrying their count and a SHA-256 digest of their stored content, and
marks them with that event's `seq`. From then on, editing, deleting or re-labelling a sealed
screening breaks its seal, and `python -m app verify-audit` names the seal (`verify_seals`).

A screening is unprotected only between its commit and the next seal (the interval, seconds).
Retention and erasure remove sealed screenings legitimately: their audit event carries, for each
seal they shrank, the count and digest of the screenings it still covers (`reseal`), and
verification checks each seal against its latest such entry.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import groupby
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Engine
from sqlmodel import Session, col

from app.audit import service as audit
from app.audit.models import RESEAL_ACTIONS, AuditEvent
from app.periodic import BatchSealer, drain
from app.screening.models import CONTENT_COLUMNS, Screening

log = logging.getLogger(__name__)

SEAL_ACTION = "screenings.sealed"
#: A chain event saying the seals up to `through_seq` no longer match their rows because a
#: migration changed the sealed columns (0006 erased unkeyed text digests); the rows were
#: unsealed and sealed again as they now are.
VOID_ACTION = "screenings.seals_voided"
#: Rows per seal transaction: short enough that SQLite's write lock is held for milliseconds.
SEAL_BATCH_SIZE = 250

_TABLE = Screening.__table__  # type: ignore[attr-defined]
_ORDER = (_TABLE.c.created_at, _TABLE.c.id)
_PENDING = sa.select(*CONTENT_COLUMNS).where(_TABLE.c.audit_seq.is_(None)).order_by(*_ORDER)
_MARK = audit.seal_marker(_TABLE)


def _canonical(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return value


def row_digest(rows: Iterable[sa.RowMapping]) -> tuple[int, str]:
    """Return (count, SHA-256) over the canonical JSON of each row's sealed columns, in order."""
    digest = hashlib.sha256()
    count = 0
    for row in rows:
        fields = {c.name: _canonical(row[c.name]) for c in CONTENT_COLUMNS}
        digest.update(json.dumps(fields, sort_keys=True, separators=(",", ":"), default=str).encode())
        digest.update(b"\n")  # JSON never holds a raw newline, so rows cannot run together
        count += 1
    return count, digest.hexdigest()


def seal_pending(session: Session, *, batch_size: int = SEAL_BATCH_SIZE) -> int:
    """Seal up to `batch_size` unsealed screenings in the caller's transaction; return how many.

    The head lock is taken before the pending rows are read, so two sealers (two workers) never
    seal the same rows: the second one reads after the first has committed and finds them sealed.
    """
    audit.lock_head(session)
    rows = session.execute(_PENDING.limit(batch_size)).mappings().all()
    if not rows:
        return 0
    count, digest = row_digest(rows)
    event = audit.record(
        session,
        actor="system:sealer",
        action=SEAL_ACTION,
        target_type="screening",
        target_id=str(rows[0]["id"]),
        details={"count": count, "digest": digest, "first_id": str(rows[0]["id"]), "last_id": str(rows[-1]["id"])},
    )
    session.execute(_MARK, {"ids": [r["id"] for r in rows], "seq": event.seq})
    return count


def seal_all(engine: Engine, *, batch_size: int = SEAL_BATCH_SIZE) -> int:
    """Seal every pending screening, one short transaction per batch; return how many."""
    return drain(engine, lambda session, size: seal_pending(session, batch_size=size), batch_size)


def reseal(session: Session, seqs: Iterable[int]) -> dict[str, dict[str, Any]]:
    """Return, per seal, the count and digest of the screenings it covers now (after removals).

    Keys are strings because they travel in an audit event's JSON details.
    """
    resealed: dict[str, dict[str, Any]] = {}
    for seq in sorted(set(seqs)):
        rows = session.execute(sa.select(*CONTENT_COLUMNS).where(_TABLE.c.audit_seq == seq).order_by(*_ORDER))
        count, digest = row_digest(rows.mappings())
        resealed[str(seq)] = {"count": count, "digest": digest}
    return resealed


def _seal_expectations(session: Session) -> dict[int, dict[str, Any]]:
    """Each seal's expected count and digest: from its event, or the latest event that resealed it."""
    seals: dict[int, dict[str, Any]] = {}
    events = session.execute(
        sa.select(col(AuditEvent.seq), col(AuditEvent.action), col(AuditEvent.details))
        .where(col(AuditEvent.action).in_((SEAL_ACTION, *RESEAL_ACTIONS)))
        .order_by(col(AuditEvent.seq))
    )
    for seq, action, details in events:
        if action == SEAL_ACTION:
            seals[seq] = details
        else:
            for sealed_by, expected in (details.get("reseal") or {}).items():
                if int(sealed_by) in seals:
                    seals[int(sealed_by)] = expected
    return seals


@dataclass(frozen=True)
class SealReport:
    """The outcome of checking every seal against the screenings it covers."""

    ok: bool
    seals: int
    sealed: int
    pending: int
    broken_seq: int | None = None
    reason: str | None = None


def verify_seals(session: Session) -> SealReport:
    """Recompute each seal's count and digest from the screenings that carry its `seq`.

    Detects a sealed screening edited, deleted, or moved to another seal, and a screening that
    claims a seal which does not exist. Pending (not yet sealed) screenings are only counted.
    """
    seals = _seal_expectations(session)
    sealed_rows = session.execute(
        sa.select(_TABLE.c.audit_seq, *CONTENT_COLUMNS)
        .where(_TABLE.c.audit_seq.is_not(None))
        .order_by(_TABLE.c.audit_seq, *_ORDER)
        .execution_options(yield_per=1000)
    ).mappings()
    found = {seq: row_digest(group) for seq, group in groupby(sealed_rows, key=lambda r: r["audit_seq"])}
    voided_through = max(
        (int(d.get("through_seq") or 0) for d in session.execute(
            sa.select(col(AuditEvent.details)).where(col(AuditEvent.action) == VOID_ACTION)
        ).scalars()),
        default=0,
    )  # fmt: skip
    pending = session.execute(sa.select(sa.func.count()).where(_TABLE.c.audit_seq.is_(None))).scalar_one()
    sealed = sum(count for count, _ in found.values())
    for seq in sorted(set(seals) | set(found)):
        expected = seals.get(seq)
        if expected is None:
            reason = f"screenings claim seal {seq}, which is not a seal event"
            return SealReport(False, len(seals), sealed, pending, seq, reason)
        count, digest = found.get(seq) or row_digest(())
        if count == 0 and seq <= voided_through:
            continue  # voided by a migration, its rows sealed again since (the chain records it)
        if count != expected["count"]:
            return SealReport(
                False, len(seals), sealed, pending, seq,
                f"seal {seq} covered {expected['count']} screenings; {count} now carry it (deleted or re-labelled)",
            )  # fmt: skip
        if digest != expected["digest"]:
            return SealReport(False, len(seals), sealed, pending, seq, f"a screening sealed by event {seq} was edited")
    return SealReport(True, len(seals), sealed, pending)


class Sealer(BatchSealer):
    """A worker's background task: seal pending screenings every `interval` seconds."""

    name = "screening-sealer"

    def seal_all(self, engine: Engine) -> int:
        """Seal every pending screening."""
        return seal_all(engine)


def pending_ids(session: Session) -> Sequence[Any]:
    """Return the ids of screenings not yet sealed, oldest first (for tests and operators)."""
    return session.execute(sa.select(_TABLE.c.id).where(_TABLE.c.audit_seq.is_(None)).order_by(*_ORDER)).scalars().all()
