"""Removing rows legitimately, in a way the audit chain can account for (used by purge and erasure).

Each helper deletes rows and returns what the audit event must say about them: `removed` row
entries for the tables the chain covers row by row, and `reseal` entries for screening seals
that now cover fewer screenings. Callers hold the audit head lock first (`audit.lock_head`), so a
sealer cannot seal or re-read the screenings being removed halfway.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from app.audit import coverage
from app.escalation.models import EscalationCase, EscalationEvent
from app.incidents.models import Incident
from app.screening import sealing
from app.screening.models import Screening

_SCREENINGS = Screening.__table__  # type: ignore[attr-defined]
_CASES = EscalationCase.__table__  # type: ignore[attr-defined]
_EVENTS = EscalationEvent.__table__  # type: ignore[attr-defined]
_INCIDENTS = Incident.__table__  # type: ignore[attr-defined]


@dataclass
class Removal:
    """What one purge or erasure removed: counts per record type and what the audit must record."""

    counts: dict[str, int] = field(default_factory=dict)
    removed: list[coverage.RowEntry] = field(default_factory=list)
    reseal: dict[str, dict[str, Any]] = field(default_factory=dict)

    def add(self, record_type: str, count: int) -> None:
        """Count `count` more removed records of `record_type`."""
        self.counts[record_type] = self.counts.get(record_type, 0) + count

    def audit_details(self) -> dict[str, Any]:
        """Return the event details: counts, and the new state of any seal that shrank."""
        details: dict[str, Any] = {"counts": dict(self.counts)}
        if self.reseal:
            details["reseal"] = self.reseal
        return details


def delete_screenings(session: Session, removal: Removal, where: sa.ColumnElement[bool], *, limit: int | None) -> int:
    """Delete the screenings matching `where` (at most `limit`) and reseal the seals they were in."""
    select = sa.select(_SCREENINGS.c.id, _SCREENINGS.c.audit_seq).where(where).order_by(_SCREENINGS.c.created_at)
    rows = session.execute(select.limit(limit) if limit else select).all()
    if rows:
        session.execute(sa.delete(_SCREENINGS).where(_SCREENINGS.c.id.in_([r.id for r in rows])))
        removal.reseal.update(sealing.reseal(session, {r.audit_seq for r in rows if r.audit_seq is not None}))
    removal.add("screenings", len(rows))
    return len(rows)


def delete_cases(session: Session, removal: Removal, case_ids: Sequence[uuid.UUID]) -> None:
    """Delete escalation cases with their history and incidents (children first, for the foreign keys)."""
    delete_rows(session, removal, _EVENTS, _EVENTS.c.case_id.in_(case_ids), label="escalation_events")
    delete_rows(session, removal, _INCIDENTS, _INCIDENTS.c.case_id.in_(case_ids), label="incidents")
    delete_rows(session, removal, _CASES, _CASES.c.id.in_(case_ids), label="escalation_cases")


def delete_rows(
    session: Session, removal: Removal, table: sa.Table, where: sa.ColumnElement[bool], *, label: str
) -> None:
    """Delete the rows of a table the chain covers that match `where`, recording each as removed."""
    ids = session.execute(sa.select(table.c.id).where(where)).scalars().all()
    if ids:
        session.execute(sa.delete(table).where(table.c.id.in_(ids)))
    removal.removed.extend(coverage.removed(table.name, ids))
    removal.add(label, len(ids))
