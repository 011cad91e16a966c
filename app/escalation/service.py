"""Escalation cases: opening them with a first incident, applying ladder actions, reading them.

Every change is a conditional ``UPDATE escalation_case … WHERE id = :id AND version = :expected``:
when it touches no row somebody else changed the case first, and the caller gets 412. That works
the same on PostgreSQL (row lock, re-checked predicate under READ COMMITTED) and SQLite (writers
serialised by ``BEGIN IMMEDIATE``). Services flush, never commit; the audit event is the last write.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import bindparam, inspect, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from app.audit import service as audit
from app.db import utcnow
from app.errors import Unprocessable
from app.escalation import ladder
from app.escalation.exceptions import AppealNotFound, CaseNotFound, StaleVersion, StepNotAllowed
from app.escalation.ladder import Action, CaseState, EventKind, Role, Stage, Status
from app.escalation.letter import LetterIncident, LetterInput
from app.escalation.models import EscalationCase, EscalationEvent
from app.escalation.schemas import (
    CaseRead,
    EventRead,
    IncidentRef,
    NextActionRead,
    PendingAppeal,
)
from app.escalation.wording import PolicyText

AUDIT_TARGET = "escalation_case"


class CaseIncident(Protocol):
    """The fields of a recorded incident that the ladder and the letter read."""

    @property
    def id(self) -> uuid.UUID: ...  # noqa: D102
    @property
    def case_id(self) -> uuid.UUID: ...  # noqa: D102
    @property
    def platform(self) -> str: ...  # noqa: D102
    @property
    def url(self) -> str | None: ...  # noqa: D102
    @property
    def summary(self) -> str: ...  # noqa: D102
    @property
    def evidence(self) -> str | None: ...  # noqa: D102
    @property
    def screening_id(self) -> uuid.UUID | None: ...  # noqa: D102
    @property
    def posted_at(self) -> dt.datetime: ...  # noqa: D102
    @property
    def created_at(self) -> dt.datetime: ...  # noqa: D102


class IncidentSource(Protocol):
    """How escalation reads incidents; `app.incidents` provides it (it depends on escalation, not back)."""

    def recorded_since(
        self, *, session: Session, case_id: uuid.UUID, after: dt.datetime | None
    ) -> Sequence[CaseIncident]:
        """Return the case's incidents recorded after `after` (all when None), oldest recorded first."""
        ...

    def of_case(self, *, session: Session, case_id: uuid.UUID) -> Sequence[CaseIncident]:
        """Return every incident of the case, oldest posting first."""
        ...

    def by_ids(self, *, session: Session, ids: Sequence[uuid.UUID]) -> Sequence[CaseIncident]:
        """Return the incidents with these ids (unknown ids are left out)."""
        ...


# populate_existing: the conditional UPDATE bypasses the identity map, so never trust a cached row.
# Built once with a bind parameter: building the select per call cost a tenth of recording an incident.
_FIND = (
    select(EscalationCase)
    .where(col(EscalationCase.subject_id) == bindparam("subject_id"))
    .execution_options(populate_existing=True)
)
# FOR NO KEY UPDATE (PostgreSQL; SQLite's BEGIN IMMEDIATE already serialises writers): the incident
# inserts' foreign-key checks (KEY SHARE) do not wait for it, ladder writers do.
_FIND_LOCKED = _FIND.with_for_update(key_share=True)


def _find(session: Session, subject_id: str, *, lock: bool = False) -> EscalationCase | None:
    statement = _FIND_LOCKED if lock else _FIND
    return session.exec(statement, params={"subject_id": subject_id}).first()


def get_by_subject(*, session: Session, subject_id: str, lock: bool = False) -> EscalationCase:
    """Return the subject's case or raise 404; `lock` holds its row until the transaction ends."""
    case = _find(session, subject_id, lock=lock)
    if case is None:
        raise CaseNotFound(f"No incident has been recorded for subject {subject_id!r}, so there is no case.")
    return case


def _reload(session: Session, case_id: uuid.UUID) -> EscalationCase:
    statement = select(EscalationCase).where(EscalationCase.id == case_id).execution_options(populate_existing=True)
    return session.exec(statement).one()


def incidents_since_last_step(
    *, session: Session, case: EscalationCase, incidents: IncidentSource
) -> list[CaseIncident]:
    """Return the case's incidents recorded after its last ladder step, oldest first."""
    return list(incidents.recorded_since(session=session, case_id=case.id, after=case.last_step_at))


def state_of(case: EscalationCase, *, new_incidents: int) -> CaseState:
    """Build the pure ladder state from a stored case."""
    return CaseState(
        stage=Stage(case.stage),
        role=Role(case.subject_role),
        status=Status(case.status),
        new_incidents=new_incidents,
        disciplinary_referred=case.disciplinary_referred,
        appeal_pending=case.appeal_pending,
        appealable=case.appealable,
        previous_stage=Stage(case.previous_stage) if case.previous_stage else None,
    )


def _audit(session: Session, *, actor: str, case: EscalationCase, event: EscalationEvent) -> None:
    audit.record(
        session,
        actor=actor,
        action=f"escalation.{event.kind}",
        target_type=AUDIT_TARGET,
        target_id=str(case.id),
        details={
            "event_id": str(event.id),
            "version": event.version,
            "from_stage": event.from_stage,
            "to_stage": event.to_stage,
            "incident_ids": list(event.incident_ids),
            "appeal_id": str(event.appeal_id) if event.appeal_id else None,
        },
        covers=[("escalation_case", case.id), ("escalation_event", event.id)],
    )


@dataclass
class Opened:
    """What recording an incident did to the case: the case, and an event to audit if any."""

    case: EscalationCase
    event: EscalationEvent | None
    #: The subject's role changed: the case row was written without a ladder event of its own.
    role_changed: bool = False

    def audit(self, session: Session, *, actor: str) -> None:
        """Append the audit event for the opening or reopening (call after the other writes)."""
        if self.event is not None:
            _audit(session, actor=actor, case=self.case, event=self.event)


def on_incident_recorded(
    *,
    session: Session,
    subject_id: str,
    role: Role,
    incident_id: uuid.UUID,
    actor: str,
    now: dt.datetime | None = None,
) -> Opened:
    """Open the subject's case with its first incident, or reopen a resolved one.

    Recording an incident is not a ladder step: an open case keeps its version (a manager's pending
    `If-Match` stays valid, and the new incident is what lets them advance). Opening a case
    creates version 1; reopening a resolved case is a state change and bumps the version.
    """
    for _attempt in range(5):
        # Locked: a ladder step on this case commits wholly before or after this incident (see
        # `apply_action`), so the incident is either counted by the step or recorded after it.
        case = _find(session, subject_id, lock=True)
        if case is None:
            opened_at = now or utcnow()
            case = EscalationCase(
                subject_id=subject_id, subject_role=role.value, created_at=opened_at, updated_at=opened_at
            )
            event = EscalationEvent(
                case_id=case.id,
                version=1,
                kind=EventKind.OPENED,
                from_stage=Stage.NONE,
                to_stage=Stage.NONE,
                actor=actor,
                reason="first incident recorded",
                incident_ids=[str(incident_id)],
                created_at=case.created_at,
            )
            try:
                # A concurrent first incident for the same subject may win the unique subject_id.
                with session.begin_nested():
                    session.add(case)
                    session.flush()
                    session.add(event)
                    session.flush()
            except IntegrityError:
                continue
            return Opened(case, event)
        role_changed = case.subject_role != role.value
        if role_changed:
            # HR's latest record of the person's role decides who a disciplinary referral covers.
            case.subject_role = role.value
            session.add(case)
        if case.status != Status.RESOLVED:
            session.flush()
            return Opened(case, None, role_changed)
        transition = ladder.apply(state_of(case, new_incidents=1), Action.REOPEN)
        try:
            event = _write(
                session,
                case=case,
                transition=transition,
                expected_version=case.version,
                actor=actor,
                reason="a new incident was recorded after the case was resolved",
                incident_ids=[incident_id],
                now=now,
            )
        except StaleVersion:
            continue
        return Opened(_reload(session, case.id), event)
    raise StaleVersion("The case changed repeatedly while recording the incident; retry.")


def _write(
    session: Session,
    *,
    case: EscalationCase,
    transition: ladder.Transition,
    expected_version: int,
    actor: str,
    reason: str,
    incident_ids: Sequence[uuid.UUID],
    appeal_id: uuid.UUID | None = None,
    now: dt.datetime | None = None,
) -> EscalationEvent:
    """Store a transition with the conditional update, then its event; 412 when the version moved."""
    now = now or utcnow()
    event_id = uuid.uuid4()
    new = transition.state
    values: dict[str, object] = {
        "stage": new.stage.value,
        "status": new.status.value,
        "disciplinary_referred": new.disciplinary_referred,
        "appeal_pending": new.appeal_pending,
        "appealable": new.appealable,
        "previous_stage": new.previous_stage.value if new.previous_stage else None,
        "version": expected_version + 1,
        "updated_at": now,
    }
    if transition.is_step:
        values["last_step_at"] = now
    if transition.action is Action.LODGE_APPEAL:
        values["pending_appeal_id"] = event_id
    elif transition.action in (Action.UPHOLD_APPEAL, Action.OVERTURN_APPEAL):
        values["pending_appeal_id"] = None
    statement = (
        update(EscalationCase)
        .where(col(EscalationCase.id) == case.id, col(EscalationCase.version) == expected_version)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    result = session.exec(statement)
    if result.rowcount != 1:
        raise StaleVersion(
            "The case was changed by someone else; re-read it and retry with its new ETag.",
            current_version=_current_version(session, case.id),
        )
    event = EscalationEvent(
        id=event_id,
        case_id=case.id,
        version=expected_version + 1,
        kind=transition.event,
        from_stage=transition.from_stage,
        to_stage=transition.to_stage,
        actor=actor,
        reason=reason,
        incident_ids=[str(i) for i in incident_ids],
        appeal_id=appeal_id,
        created_at=now,
    )
    session.add(event)
    session.flush()
    return event


def _current_version(session: Session, case_id: uuid.UUID) -> int | None:
    return session.exec(select(EscalationCase.version).where(EscalationCase.id == case_id)).first()


def _cited_incidents(
    session: Session, *, case: EscalationCase, incident_ids: Sequence[uuid.UUID], incidents: IncidentSource
) -> list[CaseIncident]:
    wanted = list(dict.fromkeys(incident_ids))
    found = {row.id: row for row in incidents.by_ids(session=session, ids=wanted)}
    bad = [str(i) for i in wanted if i not in found or found[i].case_id != case.id]
    if bad:
        raise Unprocessable(
            f"incident_ids must name incidents recorded for subject {case.subject_id!r}: {', '.join(bad)}",
            errors=[
                {
                    "field": "body.incident_ids",
                    "message": f"unknown or another subject's incident: {i}",
                    "type": "value_error",
                }
                for i in bad
            ],
        )
    return [found[i] for i in wanted]


def apply_action(
    *,
    session: Session,
    subject_id: str,
    action: Action,
    expected_version: int,
    actor: str,
    reason: str,
    incidents: IncidentSource,
    incident_ids: Sequence[uuid.UUID] = (),
    appeal_id: uuid.UUID | None = None,
    now: dt.datetime | None = None,
) -> EscalationCase:
    """Apply one ladder action to the subject's case and record it (event + audit).

    Raises:
        CaseNotFound: no case (404); AppealNotFound: unknown appeal (404).
        StaleVersion: `expected_version` is not the current one (412).
        StepNotAllowed: the ladder refuses (409, with the reason and a `code`).
        Unprocessable: a cited incident is unknown or another subject's (422).

    """
    # Locked before the incidents are counted: an incident being recorded for this case commits
    # first (and is counted), or waits and is recorded after this step (`on_incident_recorded`).
    case = get_by_subject(session=session, subject_id=subject_id, lock=True)
    if case.version != expected_version:
        raise StaleVersion(
            f"The case is at version {case.version}, not {expected_version}; re-read it and retry.",
            current_version=case.version,
        )
    new_incidents = incidents_since_last_step(session=session, case=case, incidents=incidents)
    cited = _cited_incidents(session, case=case, incident_ids=incident_ids, incidents=incidents) if incident_ids else []
    if action in (Action.UPHOLD_APPEAL, Action.OVERTURN_APPEAL):
        _check_appeal(session, case=case, appeal_id=appeal_id)
    try:
        transition = ladder.apply(state_of(case, new_incidents=len(new_incidents)), action)
    except ladder.IllegalTransition as exc:
        raise StepNotAllowed(f"{action.value} is not allowed: {exc.reason}.", code=exc.code, stage=case.stage) from exc
    if action is Action.ADVANCE:
        # "If it is repeated": the step rests on incidents recorded after the previous one.
        fresh = {i.id for i in new_incidents}
        old = [str(i.id) for i in cited if i.id not in fresh]
        if old:
            since = case.last_step_at.isoformat() if case.last_step_at else "none"
            raise StepNotAllowed(
                f"Each incident cited must have been recorded after the previous step ({since}): {', '.join(old)}",
                code="incident_before_previous_step",
                incident_ids=old,
            )
        cited = cited or new_incidents
    if transition.is_step and new_incidents:
        # The step's time was read before it waited for the case's lock, so an incident committed
        # in that wait can be stamped later: the step must not end before an incident it counted,
        # or that incident would count again towards the next step.
        now = max(now or utcnow(), new_incidents[-1].created_at)
    event = _write(
        session,
        case=case,
        transition=transition,
        expected_version=expected_version,
        actor=actor,
        reason=reason,
        incident_ids=[i.id for i in cited],
        appeal_id=appeal_id,
        now=now,
    )
    case = _reload(session, case.id)
    _audit(session, actor=actor, case=case, event=event)
    return case


def _check_appeal(session: Session, *, case: EscalationCase, appeal_id: uuid.UUID | None) -> None:
    lodged = session.exec(
        select(EscalationEvent).where(
            EscalationEvent.id == appeal_id,
            EscalationEvent.case_id == case.id,
            EscalationEvent.kind == EventKind.APPEAL_LODGED,
        )
    ).first()
    if lodged is None:
        raise AppealNotFound(f"No appeal {appeal_id} was lodged for subject {case.subject_id!r}.")
    if case.pending_appeal_id != appeal_id:
        raise StepNotAllowed(f"Appeal {appeal_id} has already been decided.", code="appeal_decided")


def history(*, session: Session, case: EscalationCase) -> list[EscalationEvent]:
    """Return every event of the case, oldest first."""
    statement = select(EscalationEvent).where(EscalationEvent.case_id == case.id)
    return list(session.exec(statement.order_by(col(EscalationEvent.version))).all())


def _action_path(subject_id: str, action: Action, appeal_id: uuid.UUID | None) -> str:
    base = f"/v1/escalations/{subject_id}"
    if action in (Action.ADVANCE, Action.DISCIPLINARY_REFERRAL):
        return f"{base}/advance"
    if action is Action.RESOLVE:
        return f"{base}/resolve"
    if action is Action.LODGE_APPEAL:
        return f"{base}/appeals"
    return f"{base}/appeals/{appeal_id}/decision"


def read(*, session: Session, case: EscalationCase, text: PolicyText, incidents: IncidentSource) -> CaseRead:
    """Shape a case for the API: history, incidents since the last step, allowed next actions."""
    events = history(session=session, case=case)
    fresh = incidents_since_last_step(session=session, case=case, incidents=incidents)
    state = state_of(case, new_incidents=len(fresh))
    pending = None
    if case.pending_appeal_id is not None:
        lodged = next((e for e in events if e.id == case.pending_appeal_id), None)
        if lodged is not None:
            pending = PendingAppeal(id=lodged.id, against_stage=Stage(lodged.to_stage), lodged_at=lodged.created_at)
    return CaseRead(
        subject_id=case.subject_id,
        subject_role=Role(case.subject_role),
        stage=Stage(case.stage),
        status=Status(case.status),
        version=case.version,
        disciplinary_referred=case.disciplinary_referred,
        pending_appeal=pending,
        last_step_at=case.last_step_at,
        created_at=case.created_at,
        history=[
            EventRead(
                id=e.id,
                version=e.version,
                kind=EventKind(e.kind),
                from_stage=Stage(e.from_stage),
                to_stage=Stage(e.to_stage),
                actor=e.actor,
                reason=e.reason,
                incident_ids=[uuid.UUID(i) for i in e.incident_ids],
                appeal_id=e.appeal_id,
                created_at=e.created_at,
            )
            for e in events
        ],
        incidents_since_last_step=[
            IncidentRef(id=i.id, platform=i.platform, posted_at=i.posted_at, created_at=i.created_at) for i in fresh
        ],
        next_actions=[
            NextActionRead(
                action=n.action,
                to_stage=n.to_stage,
                wording=n.wording,
                path=_action_path(case.subject_id, n.action, case.pending_appeal_id),
            )
            for n in ladder.next_actions(state, text.wording())
        ],
        wording_source="pack" if text.source == "pack" else "builtin",
    )


def incidents_of(*, session: Session, case: EscalationCase, incidents: IncidentSource) -> list[CaseIncident]:
    """Return every incident of the case, oldest posting first."""
    return list(incidents.of_case(session=session, case_id=case.id))


def step_dates(events: Sequence[EscalationEvent]) -> dict[str, dt.datetime]:
    """Return when each stage was last reached by an advance."""
    return {e.to_stage: e.created_at for e in events if e.kind == EventKind.ADVANCED}


LETTER_STAGES = (Stage.LEGAL_LETTER, Stage.ATTENDANCE_DENIED)


def _screened_rule_ids(session: Session, screening_ids: Sequence[uuid.UUID]) -> set[str]:
    # Screenings are optional and may have been purged; their rule ids only enrich the letter.
    try:
        from app.screening.models import Screening
    except ImportError:
        return set()
    if not screening_ids or not inspect(session.connection()).has_table(Screening.__tablename__):
        return set()
    rows = session.exec(select(Screening.rule_ids).where(col(Screening.id).in_(list(screening_ids)))).all()
    return {rule for row in rows for rule in str(row).split()}


def letter_input(
    *,
    session: Session,
    case: EscalationCase,
    evidence_visible: bool,
    incidents: IncidentSource,
    now: dt.datetime | None = None,
) -> LetterInput:
    """Gather what the draft legal letter (dated `now`) needs; 409 before the case reaches `legal_letter`."""
    if Stage(case.stage) not in LETTER_STAGES:
        raise StepNotAllowed(
            f"The legal letter is available from the legal_letter stage; the case is at {case.stage}.",
            code="letter_not_available",
            stage=case.stage,
        )
    recorded = incidents_of(session=session, case=case, incidents=incidents)
    dates = step_dates(history(session=session, case=case))
    return LetterInput(
        subject_id=case.subject_id,
        subject_role=case.subject_role,
        stage=case.stage,
        spoken_to_at=dates.get(Stage.SPOKEN_TO),
        incidents=[
            LetterIncident(
                posted_at=i.posted_at,
                platform=i.platform,
                url=i.url,
                summary=i.summary,
                evidence=i.evidence,
            )
            for i in recorded
        ],
        rule_ids=sorted(_screened_rule_ids(session, [i.screening_id for i in recorded if i.screening_id])),
        evidence_visible=evidence_visible,
        today=(now or utcnow()).date(),
    )
