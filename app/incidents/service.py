"""Recording and reading incidents; the first incident of a subject opens their escalation case."""

from __future__ import annotations

import datetime as dt
import operator
import uuid
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from pydantic import TypeAdapter
from sqlalchemy import inspect
from sqlmodel import Session, col, select

from app.audit import coverage
from app.audit import keys as audit_keys
from app.audit import service as audit
from app.db import utcnow
from app.errors import NotFound, Unprocessable
from app.escalation import service as escalation
from app.escalation.models import EscalationCase
from app.incidents.models import Incident
from app.incidents.schemas import POSTED_AT_SLACK, CaseSummary, IncidentCreate, IncidentRead
from app.pagination import keyset_params, keyset_statement, split_page

if TYPE_CHECKING:
    from app.screening.models import Screening


_INCIDENT = Incident.__table__  # type: ignore[attr-defined]
_CASE = EscalationCase.__table__  # type: ignore[attr-defined]
_INSERT = sa.insert(_INCIDENT)


def _screening_model() -> type[Screening] | None:
    try:
        from app.screening.models import Screening
    except ImportError:
        return None
    return Screening


def _check_screening(session: Session, screening_id: uuid.UUID) -> None:
    """422 naming `screening_id` unless a stored screening with that id exists (no FK: retention)."""
    model = _screening_model()
    exists = False
    if model is not None and inspect(session.connection()).has_table(model.__tablename__):
        exists = session.exec(select(col(model.id)).where(col(model.id) == screening_id)).first() is not None
    if not exists:
        raise Unprocessable(
            f"screening_id {screening_id} does not name a stored screening.",
            errors=[{"field": "body.screening_id", "message": "no such screening", "type": "not_found"}],
        )


def create(
    *, session: Session, incident_in: IncidentCreate, actor: str, now: dt.datetime | None = None
) -> tuple[Incident, EscalationCase]:
    """Record an incident (at `now`) and open (or reopen) the subject's case.

    The incident is not appended to the audit chain here (every writer would queue on the chain's
    head): it is stored with its keyed digest and sealed in a batch by the background sealer. A
    change to the case (opened, reopened, role changed) is audited in this transaction.
    """
    now = now or utcnow()
    if incident_in.posted_at > now + POSTED_AT_SLACK:
        raise Unprocessable(
            "posted_at must not be in the future.",
            errors=[
                {"field": "body.posted_at", "message": "posted_at must not be in the future", "type": "value_error"}
            ],
        )
    if incident_in.screening_id is not None:
        _check_screening(session, incident_in.screening_id)
    incident_id = uuid.uuid4()
    opened = escalation.on_incident_recorded(
        session=session,
        subject_id=incident_in.subject.id,
        role=incident_in.subject.role,
        incident_id=incident_id,
        actor=actor,
        now=now,
    )
    last_step = opened.case.last_step_at
    if last_step is not None and now <= last_step:
        # A step committed while this request waited for the case's lock: the incident is recorded
        # after it, so it must count towards the next step ("repeated"), not fall before this one.
        now = last_step + dt.timedelta(microseconds=1)
    values: dict[str, Any] = {
        "id": incident_id,
        "subject_id": incident_in.subject.id,
        "subject_role": incident_in.subject.role.value,
        "platform": incident_in.platform,
        "url": str(incident_in.url) if incident_in.url else None,
        "posted_at": incident_in.posted_at,
        "summary": incident_in.summary,
        "evidence": incident_in.evidence,
        "screening_id": incident_in.screening_id,
        "case_id": opened.case.id,
        "reported_by": actor,
        "created_at": now,
    }
    # The sealer records the incident in the audit chain shortly after (`app.incidents.sealing`);
    # until then the keyed digest stored with it shows it was written by the service, unchanged.
    values["audit_digest"] = coverage.row_digest(audit_keys.current(), "incident", values)
    # One Core INSERT: the ORM's unit of work cost more than the statement for a row never changed again.
    session.execute(_INSERT, values)
    # A snapshot of the stored row for the answer, not tracked by the session (nothing changes it
    # in this transaction): an instrumented instance cost ~40 us more.
    incident = Incident.model_construct(**values)
    if opened.role_changed:
        # The case row changed without a ladder event of its own: record its new state now.
        audit.record(
            session,
            actor=actor,
            action="escalation.role_changed",
            target_type=escalation.AUDIT_TARGET,
            target_id=str(opened.case.id),
            details={"incident_id": str(incident.id), "subject_role": incident.subject_role},
            covers=[("escalation_case", opened.case.id)],
        )
    # Opening or reopening the case is a ladder event (rare: once per subject or resolution).
    opened.audit(session, actor=actor)
    return incident, opened.case


def get(*, session: Session, incident_id: uuid.UUID) -> Incident:
    """Return one incident or raise 404."""
    incident = session.get(Incident, incident_id)
    if incident is None:
        raise NotFound(f"Incident {incident_id} does not exist.")
    return incident


#: What a listed incident shows: its own fields and where its case stands (IncidentRead).
_READ_FIELDS = [name for name in IncidentRead.model_fields if name != "case"]
_READ_ITEMS = TypeAdapter(list[IncidentRead])
# Core, not the ORM: a page is read far more often than anything else here, and building 2 x 21
# tracked instances (identity map, attribute state) cost more than the query itself.
_LIST = sa.select(*(_INCIDENT.c[name] for name in _READ_FIELDS), _CASE.c.stage, _CASE.c.version, _CASE.c.status).join(
    _CASE, _CASE.c.id == _INCIDENT.c.case_id
)


#: The list's filters: (column, comparison) by parameter name.
_FILTERS: dict[str, tuple[Any, Callable[[Any, Any], Any]]] = {
    "subject_id": (_INCIDENT.c.subject_id, operator.eq),
    "platform": (_INCIDENT.c.platform, operator.eq),
    "posted_from": (_INCIDENT.c.posted_at, operator.ge),
    "posted_to": (_INCIDENT.c.posted_at, operator.lt),
    "created_from": (_INCIDENT.c.created_at, operator.ge),
    "created_to": (_INCIDENT.c.created_at, operator.lt),
}


@lru_cache(maxsize=2 ** (len(_FILTERS) + 1))
def _list_statement(filters: tuple[str, ...], after: bool) -> Any:
    # One statement per filter shape, reused with bind parameters: building it and its cache key
    # per request cost about as much as running the query.
    statement = _LIST
    for name in filters:
        column, compare = _FILTERS[name]
        statement = statement.where(compare(column, sa.bindparam(f"filter_{name}", type_=column.type)))
    return keyset_statement(statement, _INCIDENT.c.created_at, _INCIDENT.c.id, after=after)


def list_(
    *,
    session: Session,
    subject_id: str | None = None,
    platform: str | None = None,
    posted_from: dt.datetime | None = None,
    posted_to: dt.datetime | None = None,
    created_from: dt.datetime | None = None,
    created_to: dt.datetime | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> tuple[list[IncidentRead], str | None]:
    """Return one page of incidents matching the filters, newest recorded first, each with its case.

    One query for both, evidence included (the caller holds incidents:read).
    """
    given = {
        "subject_id": subject_id,
        "platform": platform,
        "posted_from": posted_from,
        "posted_to": posted_to,
        "created_from": created_from,
        "created_to": created_to,
    }
    filters = tuple(name for name, value in given.items() if value is not None)
    params = keyset_params(cursor=cursor, limit=limit)
    params.update((f"filter_{name}", given[name]) for name in filters)
    statement = _list_statement(filters, bool(cursor))
    # Plain tuples on the session's connection: the ORM's result handling and mapping rows cost more
    # than shaping the 21 rows, which pydantic validates in one call rather than one per model.
    rows = session.connection().execute(statement, params).all()
    items = _READ_ITEMS.validate_python(
        [
            {
                **dict(zip(_READ_FIELDS, row, strict=True)),
                "case": {"stage": stage, "version": version, "status": status},
            }
            for *row, stage, version, status in rows
        ]
    )
    return split_page(items, limit)


class CaseIncidents:
    """The incidents of escalation cases, as escalation reads them (`app.escalation.service.IncidentSource`)."""

    def recorded_since(self, *, session: Session, case_id: uuid.UUID, after: dt.datetime | None) -> list[Incident]:
        """Return the case's incidents recorded after `after` (all when None), oldest recorded first."""
        statement = select(Incident).where(Incident.case_id == case_id)
        if after is not None:
            statement = statement.where(Incident.created_at > after)
        return list(session.exec(statement.order_by(col(Incident.created_at), col(Incident.id))).all())

    def of_case(self, *, session: Session, case_id: uuid.UUID) -> list[Incident]:
        """Return every incident of the case, oldest posting first."""
        statement = select(Incident).where(Incident.case_id == case_id)
        return list(session.exec(statement.order_by(col(Incident.posted_at), col(Incident.id))).all())

    def by_ids(self, *, session: Session, ids: Sequence[uuid.UUID]) -> list[Incident]:
        """Return the incidents with these ids (unknown ids are left out)."""
        return list(session.exec(select(Incident).where(col(Incident.id).in_(list(ids)))).all())


#: The one instance the routes and flows hand to escalation.
CASE_INCIDENTS = CaseIncidents()


def cases_for(*, session: Session, incidents: Sequence[Incident]) -> dict[uuid.UUID, EscalationCase]:
    """Return the cases of `incidents`, by id, in one query."""
    ids = {i.case_id for i in incidents}
    if not ids:
        return {}
    rows = session.exec(
        select(EscalationCase).where(col(EscalationCase.id).in_(ids)).execution_options(populate_existing=True)
    ).all()
    return {row.id: row for row in rows}


def to_read(incident: Incident, case: EscalationCase, *, show_evidence: bool) -> IncidentRead:
    """Shape an incident for the API; the evidence only for callers allowed to read it."""
    return IncidentRead(
        id=incident.id,
        subject_id=incident.subject_id,
        subject_role=incident.subject_role,  # type: ignore[arg-type]
        platform=incident.platform,
        url=incident.url,
        posted_at=incident.posted_at,
        summary=incident.summary,
        evidence=incident.evidence if show_evidence else None,
        screening_id=incident.screening_id,
        reported_by=incident.reported_by,
        created_at=incident.created_at,
        case=CaseSummary(stage=case.stage, version=case.version, status=case.status),  # type: ignore[arg-type]
    )
