"""Retention purge, erasure and export of what the service holds about a person.

Purge and erasure delete rows (nothing is kept "anonymised": the remaining columns would still
describe one person) and record one audit event each, listing the rows the chain covered as
removed and resealing the screening seals they shrank, so `verify-audit` still passes and can
tell a legitimate removal from a deletion behind the service's back. The events name a person
only by a keyed pseudonym: the chain is append-only and must not keep what erasure removes.
"""

from __future__ import annotations

import datetime as dt
import json
import logging

import sqlalchemy as sa
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from app.audit import keys as audit_keys
from app.audit import service as audit
from app.auth.models import AuthFailure
from app.authorities import service as authorities
from app.authorities.models import AuthorityGrant
from app.clock import SYSTEM_CLOCK, Clock
from app.db import utcnow
from app.errors import NotFound
from app.escalation import service as escalation
from app.escalation.ladder import Stage, Status
from app.escalation.models import EscalationCase
from app.escalation.wording import policy_text
from app.idempotency import IdempotencyRecord
from app.incidents import service as incidents
from app.incidents.models import Incident
from app.periodic import Periodic
from app.policy import service as policy
from app.policy.models import PolicyAcknowledgement
from app.privacy.exceptions import ErasureBlocked
from app.privacy.removal import Removal, delete_cases, delete_rows, delete_screenings
from app.privacy.schemas import ErasureCounts, ErasureRead, SubjectExport
from app.screening.models import Screening
from app.screening.schemas import ScreeningRead
from app.screening.service import row_json
from app.settings import Settings

log = logging.getLogger(__name__)

PURGE_ACTION = "retention.purged"
ERASE_ACTION = "subject.erased"
#: Rows per record type per purge transaction: the purge holds the audit head lock while it runs.
PURGE_BATCH_SIZE = 500

_SCREENINGS = Screening.__table__  # type: ignore[attr-defined]
_IDEMPOTENCY = IdempotencyRecord.__table__  # type: ignore[attr-defined]
_AUTH_FAILURES = AuthFailure.__table__  # type: ignore[attr-defined]


def _delete_limited(
    session: Session, removal: Removal, table: sa.Table, where: sa.ColumnElement[bool], *, label: str, limit: int
) -> None:
    # Tables outside the chain's row coverage (short-lived records): counted only.
    ids = session.execute(sa.select(table.c.id).where(where).limit(limit)).scalars().all()
    if ids:
        session.execute(sa.delete(table).where(table.c.id.in_(ids)))
    removal.add(label, len(ids))


def purge(
    *,
    session: Session,
    settings: Settings,
    actor: str,
    now: dt.datetime | None = None,
    batch_size: int = PURGE_BATCH_SIZE,
) -> Removal:
    """Delete up to `batch_size` expired records of each type and audit it, in the caller's transaction."""
    now = now or utcnow()
    cutoffs = {
        "screenings": now - dt.timedelta(days=settings.retention_screenings_days),
        "closed_cases": now - dt.timedelta(days=settings.retention_closed_cases_days),
        "idempotency_records": now,
        "token_failures": now - dt.timedelta(hours=settings.retention_token_failures_hours),
    }
    audit.lock_head(session)
    removal = Removal()
    delete_screenings(session, removal, _SCREENINGS.c.created_at < cutoffs["screenings"], limit=batch_size)
    closed = session.exec(
        select(EscalationCase.id)
        .where(EscalationCase.status == Status.RESOLVED, col(EscalationCase.updated_at) < cutoffs["closed_cases"])
        .limit(batch_size)
    ).all()
    delete_cases(session, removal, list(closed))
    _delete_limited(
        session, removal, _IDEMPOTENCY, _IDEMPOTENCY.c.expires_at < now, label="idempotency_records", limit=batch_size
    )
    _delete_limited(
        session, removal, _AUTH_FAILURES, _AUTH_FAILURES.c.failed_at < cutoffs["token_failures"],
        label="token_failures", limit=batch_size,
    )  # fmt: skip
    audit.record(
        session,
        actor=actor,
        action=PURGE_ACTION,
        target_type="retention",
        target_id=now.isoformat(),
        details={**removal.audit_details(), "cutoffs": {k: v.isoformat() for k, v in cutoffs.items()}},
        entries=removal.removed,
    )
    return removal


def purge_all(
    engine: Engine,
    settings: Settings,
    *,
    actor: str,
    batch_size: int = PURGE_BATCH_SIZE,
    clock: Clock = SYSTEM_CLOCK,
) -> dict[str, int]:
    """Purge everything expired (as of `clock`), one short transaction and audit event per batch; return the counts."""
    totals: dict[str, int] = {}
    while True:
        with Session(engine) as session:
            removal = purge(session=session, settings=settings, actor=actor, now=clock.now(), batch_size=batch_size)
            session.commit()
        for label, count in removal.counts.items():
            totals[label] = totals.get(label, 0) + count
        if all(count < batch_size for count in removal.counts.values()):
            return totals


class Purger(Periodic):
    """A worker's background task: purge expired records every `interval` seconds."""

    name = "retention-purge"

    def __init__(self, engine: Engine, settings: Settings, *, clock: Clock = SYSTEM_CLOCK) -> None:
        super().__init__(settings.purge_interval_seconds)
        self._engine = engine
        self._settings = settings
        self._clock = clock

    def run_once(self) -> None:
        """Purge what has expired."""
        counts = purge_all(self._engine, self._settings, actor="system:retention", clock=self._clock)
        log.info("purged expired records", extra={"counts": counts})


def _blocking_code(case: EscalationCase | None) -> str | None:
    if case is None or case.status == Status.RESOLVED:
        return None
    if case.appeal_pending:
        return "erasure_blocked_appeal_pending"
    if case.stage == Stage.LEGAL_LETTER:
        return "erasure_blocked_open_case"
    return None


def _idempotency_ids_naming(session: Session, subject_id: str) -> list[object]:
    # Stored replies are short-lived (hours) and JSON of every shape: scanning them is simpler and
    # more certain than a dialect-specific JSON query.
    needle = json.dumps(subject_id)
    rows = session.execute(sa.select(_IDEMPOTENCY.c.id, _IDEMPOTENCY.c.response_body)).all()
    return [row.id for row in rows if needle in json.dumps(row.response_body)]


def erase(*, session: Session, subject_id: str, actor: str) -> ErasureRead:
    """Erase everything held about `subject_id` and record a tombstone event, in the caller's transaction.

    Raises:
        ErasureBlocked: the person's case is under appeal or at an open legal-letter step (409):
            the process it documents is still running, so erasing it is not silent housekeeping.

    """
    keys = audit_keys.current()
    audit.lock_head(session)
    case = session.exec(select(EscalationCase).where(EscalationCase.subject_id == subject_id)).first()
    if (code := _blocking_code(case)) is not None:
        reason = "an appeal is pending" if case is not None and case.appeal_pending else "a legal letter step is open"
        raise ErasureBlocked(
            f"Subject {subject_id!r} cannot be erased while their escalation case is open and {reason}; "
            "decide the appeal or resolve the case first.",
            code=code,
        )
    removal = Removal()
    screenings = _SCREENINGS.c
    delete_screenings(
        session, removal, sa.or_(screenings.author_id == subject_id, screenings.created_by == subject_id), limit=None
    )
    delete_cases(session, removal, [case.id] if case is not None else [])
    grants = AuthorityGrant.__table__  # type: ignore[attr-defined]
    delete_rows(session, removal, grants, grants.c.person_id == subject_id, label="authority_grants")
    acks = PolicyAcknowledgement.__table__  # type: ignore[attr-defined]
    delete_rows(session, removal, acks, acks.c.person_id == subject_id, label="acknowledgements")
    replies = _idempotency_ids_naming(session, subject_id)
    if replies:
        session.execute(sa.delete(_IDEMPOTENCY).where(_IDEMPOTENCY.c.id.in_(replies)))
    removal.add("idempotency_records", len(replies))
    event = audit.record(
        session,
        actor=actor,
        action=ERASE_ACTION,
        target_type="subject",
        target_id=keys.pseudonym(subject_id),
        details=removal.audit_details(),
        entries=removal.removed,
    )
    return ErasureRead(
        subject_id=subject_id,
        erased=ErasureCounts(**{name: removal.counts.get(name, 0) for name in ErasureCounts.model_fields}),
        audit_seq=event.seq,
        erased_at=event.occurred_at,
    )


def export(*, session: Session, subject_id: str, settings: Settings, now: dt.datetime) -> SubjectExport:
    """Return everything held about `subject_id` as one document, as of `now`; 404 when nothing is held."""
    screening_rows = session.exec(
        select(Screening)
        .where(sa.or_(col(Screening.author_id) == subject_id, col(Screening.created_by) == subject_id))
        .order_by(col(Screening.created_at), col(Screening.id))
    ).all()
    incident_rows = session.exec(
        select(Incident).where(Incident.subject_id == subject_id).order_by(col(Incident.created_at), col(Incident.id))
    ).all()
    case = session.exec(select(EscalationCase).where(EscalationCase.subject_id == subject_id)).first()
    grants = session.exec(
        select(AuthorityGrant).where(AuthorityGrant.person_id == subject_id).order_by(col(AuthorityGrant.created_at))
    ).all()
    acks = session.exec(
        select(PolicyAcknowledgement)
        .where(PolicyAcknowledgement.person_id == subject_id)
        .order_by(col(PolicyAcknowledgement.created_at))
    ).all()
    if not (screening_rows or incident_rows or case or grants or acks):
        raise NotFound(f"Nothing is held about subject {subject_id!r}.")
    return SubjectExport(
        subject_id=subject_id,
        exported_at=now,
        screenings=[ScreeningRead.model_validate(row_json(row, explain=False)) for row in screening_rows],
        incidents=[incidents.to_read(i, case, show_evidence=True) for i in incident_rows if case is not None],
        escalation=escalation.read(
            session=session, case=case, text=policy_text(settings.policy_pack), incidents=incidents.CASE_INCIDENTS
        )
        if case
        else None,
        authorities=[authorities.to_read(g, now) for g in grants],
        acknowledgements=[policy.ack_to_read(a) for a in acks],
    )
