"""Recording stored incidents in the audit chain in batches, off the request path.

`POST /v1/incidents` stores the incident with its keyed digest (`Incident.audit_digest`, see
`app.audit.coverage`) and commits; it does not take the chain's head lock, which serialised every
incident in every worker. A sealer (a background task in each worker, `IncidentSealer`) takes the
head lock, reads the pending incidents oldest first, appends one `incidents.sealed` event listing
each one as a `details.rows` entry `[incident, id, digest]`, and marks them with the event's seq.
From then on verification checks each sealed incident against its entry, as it does for rows
recorded one by one: an edit, a deletion or a smuggled-in row is named.

A pending incident is protected by its own digest: a row whose digest does not match (inserted or
edited without the service secret) is never sealed; it is marked refused (`REFUSED_SEQ`) and
verification names it. Two sealers never seal the same rows: the head lock is taken before the
pending rows are read, so the second reads after the first has committed.
"""

from __future__ import annotations

import logging
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Engine
from sqlmodel import Session

from app.audit import coverage
from app.audit import keys as audit_keys
from app.audit import service as audit
from app.incidents.models import Incident
from app.periodic import BatchSealer, drain

log = logging.getLogger(__name__)

SEAL_ACTION = "incidents.sealed"
ROW_TYPE = "incident"
#: Rows per seal transaction: each adds ~120 bytes to the event; short enough that SQLite's write
#: lock is held for milliseconds.
SEAL_BATCH_SIZE = 250

_TABLE = Incident.__table__  # type: ignore[attr-defined]
_ORDER = (_TABLE.c.created_at, _TABLE.c.id)
_PENDING = sa.select(_TABLE).where(_TABLE.c.audit_seq.is_(None)).order_by(*_ORDER)
_MARK = audit.seal_marker(_TABLE)


def seal_pending(session: Session, *, batch_size: int = SEAL_BATCH_SIZE) -> int:
    """Seal up to `batch_size` pending incidents in the caller's transaction; return how many were read.

    Rows whose stored digest does not match are marked refused instead of sealed (and logged by id).
    """
    audit.lock_head(session)
    rows = session.execute(_PENDING.limit(batch_size)).mappings().all()
    if not rows:
        return 0
    keys = audit_keys.current()
    good: list[sa.RowMapping] = []
    refused: list[Any] = []
    for row in rows:
        (good if coverage.matches_own_digest(keys, ROW_TYPE, row) else refused).append(row)
    if refused:
        log.warning(
            "incidents refused by the sealer: their digest does not match (changed outside the service)",
            extra={"incident_ids": [str(r["id"]) for r in refused]},
        )
        session.execute(_MARK, {"ids": [r["id"] for r in refused], "seq": coverage.REFUSED_SEQ})
    if good:
        event = audit.record(
            session,
            actor="system:sealer",
            action=SEAL_ACTION,
            target_type=ROW_TYPE,
            target_id=str(good[0]["id"]),
            details={"count": len(good), "first_id": str(good[0]["id"]), "last_id": str(good[-1]["id"])},
            # The digest stored with each row: it was just checked against the row itself.
            entries=[[ROW_TYPE, str(r["id"]), r["audit_digest"]] for r in good],
            keys=keys,
        )
        session.execute(_MARK, {"ids": [r["id"] for r in good], "seq": event.seq})
    return len(rows)


def seal_all(engine: Engine, *, batch_size: int = SEAL_BATCH_SIZE) -> int:
    """Seal every pending incident, one short transaction per batch; return how many were read."""
    return drain(engine, lambda session, size: seal_pending(session, batch_size=size), batch_size)


def pending_count(session: Session) -> int:
    """Return how many incidents are not sealed yet (for tests, operators and `verify-audit`)."""
    return session.execute(sa.select(sa.func.count()).where(_TABLE.c.audit_seq.is_(None))).scalar_one()


class IncidentSealer(BatchSealer):
    """A worker's background task: seal pending incidents every `interval` seconds."""

    name = "incident-sealer"

    def seal_all(self, engine: Engine) -> int:
        """Seal every pending incident."""
        return seal_all(engine)
