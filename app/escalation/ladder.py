"""The escalation ladder of the policy's "Derogatory Posts and Comments" section, as pure data.

No FastAPI, database or policy-pack imports: the service builds a :class:`CaseState` from its rows,
asks :func:`apply` for the next state and writes it. The policy's wording is passed in as data
(see ``app.escalation.wording``) so there is one place it is read from.

Stages (one step at a time)::

    none -> spoken_to -> legal_letter -> attendance_denied

- ``advance`` moves one stage up, and needs an incident recorded after the previous step
  ("If it is repeated"); the first step needs at least one incident.
- ``disciplinary_referral`` is a flag, not a stage: for staff, volunteers and trustees, once the
  person has been spoken to. It leaves the stage (and the main ladder) untouched and is raised once.
- ``resolve`` closes the case at its current stage; a later incident reopens it (``reopen``).
- ``lodge_appeal`` challenges the latest ladder step (one appeal per step); while it is pending the
  case can neither advance nor be resolved. ``uphold_appeal`` keeps the step; ``overturn_appeal``
  returns to the stage before it, and counts as a step, so advancing again needs a newer incident.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import StrEnum


class Stage(StrEnum):
    """Rungs of the ladder, lowest first."""

    NONE = "none"
    SPOKEN_TO = "spoken_to"
    LEGAL_LETTER = "legal_letter"
    ATTENDANCE_DENIED = "attendance_denied"


class Status(StrEnum):
    """Whether the case is being worked or has been closed."""

    OPEN = "open"
    RESOLVED = "resolved"


class Role(StrEnum):
    """The subject's relationship to the organisation."""

    STAFF = "staff"
    VOLUNTEER = "volunteer"
    TRUSTEE = "trustee"
    SERVICE_USER = "service_user"
    FAMILY_MEMBER = "family_member"


class Action(StrEnum):
    """Everything that can happen to a case."""

    ADVANCE = "advance"
    DISCIPLINARY_REFERRAL = "disciplinary_referral"
    RESOLVE = "resolve"
    REOPEN = "reopen"
    LODGE_APPEAL = "lodge_appeal"
    UPHOLD_APPEAL = "uphold_appeal"
    OVERTURN_APPEAL = "overturn_appeal"


class EventKind(StrEnum):
    """The kind of a recorded history event (one per applied action, plus the opening)."""

    OPENED = "opened"
    ADVANCED = "advanced"
    DISCIPLINARY_REFERRAL = "disciplinary_referral"
    RESOLVED = "resolved"
    REOPENED = "reopened"
    APPEAL_LODGED = "appeal_lodged"
    APPEAL_UPHELD = "appeal_upheld"
    APPEAL_OVERTURNED = "appeal_overturned"


# The main ladder as data: (current stage, action) -> next stage. Nothing else changes a stage,
# except an overturned appeal, which returns to the stage recorded before the appealed step.
TRANSITIONS: Mapping[tuple[Stage, Action], Stage] = {
    (Stage.NONE, Action.ADVANCE): Stage.SPOKEN_TO,
    (Stage.SPOKEN_TO, Action.ADVANCE): Stage.LEGAL_LETTER,
    (Stage.LEGAL_LETTER, Action.ADVANCE): Stage.ATTENDANCE_DENIED,
}
ORDER: tuple[Stage, ...] = (
    Stage.NONE,
    Stage.SPOKEN_TO,
    Stage.LEGAL_LETTER,
    Stage.ATTENDANCE_DENIED,
)
LAST_STAGE = ORDER[-1]
DISCIPLINARY_ROLES: frozenset[Role] = frozenset({Role.STAFF, Role.VOLUNTEER, Role.TRUSTEE})

EVENT_FOR_ACTION: Mapping[Action, EventKind] = {
    Action.ADVANCE: EventKind.ADVANCED,
    Action.DISCIPLINARY_REFERRAL: EventKind.DISCIPLINARY_REFERRAL,
    Action.RESOLVE: EventKind.RESOLVED,
    Action.REOPEN: EventKind.REOPENED,
    Action.LODGE_APPEAL: EventKind.APPEAL_LODGED,
    Action.UPHOLD_APPEAL: EventKind.APPEAL_UPHELD,
    Action.OVERTURN_APPEAL: EventKind.APPEAL_OVERTURNED,
}


class IllegalTransition(Exception):
    """The action is not allowed from this state; `reason` says why in plain English."""

    def __init__(self, action: Action, reason: str, *, code: str) -> None:
        super().__init__(reason)
        self.action = action
        self.reason = reason
        self.code = code


@dataclass(frozen=True)
class CaseState:
    """Everything the ladder needs to know about one case.

    Attributes:
        stage: Current rung.
        role: The subject's role (decides whether a disciplinary referral is possible).
        status: Open or resolved.
        new_incidents: Incidents recorded after the previous ladder step (or ever, before the first).
        disciplinary_referred: Whether a disciplinary referral has been raised.
        appeal_pending: Whether an appeal against the latest step awaits a decision.
        appealable: Whether the latest step may still be appealed (one appeal per step).
        previous_stage: The stage before the latest step (where an overturn returns to).

    """

    stage: Stage = Stage.NONE
    role: Role = Role.SERVICE_USER
    status: Status = Status.OPEN
    new_incidents: int = 0
    disciplinary_referred: bool = False
    appeal_pending: bool = False
    appealable: bool = False
    previous_stage: Stage | None = None


@dataclass(frozen=True)
class Transition:
    """The outcome of applying an action: the new state and the event to record."""

    action: Action
    event: EventKind
    from_stage: Stage
    to_stage: Stage
    state: CaseState

    @property
    def is_step(self) -> bool:
        """True when the stage changed, which resets the incidents counted as new."""
        return self.from_stage != self.to_stage


def _require_open(state: CaseState, action: Action) -> None:
    if state.status is Status.RESOLVED:
        raise IllegalTransition(action, "the case is resolved; a new incident reopens it", code="case_resolved")


def _require_no_pending_appeal(state: CaseState, action: Action) -> None:
    if state.appeal_pending:
        raise IllegalTransition(
            action,
            "an appeal against the latest step is pending; decide it first",
            code="appeal_pending",
        )


def apply(state: CaseState, action: Action) -> Transition:
    """Apply `action` to `state`, or raise :class:`IllegalTransition` saying why not."""
    action = Action(action)
    if action is Action.ADVANCE:
        _require_open(state, action)
        _require_no_pending_appeal(state, action)
        target = TRANSITIONS.get((state.stage, action))
        if target is None:
            raise IllegalTransition(action, f"the case is already at the last stage ({state.stage})", code="last_stage")
        if state.new_incidents < 1:
            reason = (
                "no incident has been recorded for this subject"
                if state.stage is Stage.NONE
                else f"no incident has been recorded since the previous step ({state.stage}); "
                "the policy escalates only if it is repeated"
            )
            raise IllegalTransition(action, reason, code="no_new_incident")
        new = replace(
            state,
            stage=target,
            new_incidents=0,
            appealable=True,
            previous_stage=state.stage,
        )
        return Transition(action, EVENT_FOR_ACTION[action], state.stage, target, new)

    if action is Action.DISCIPLINARY_REFERRAL:
        _require_open(state, action)
        if state.role not in DISCIPLINARY_ROLES:
            raise IllegalTransition(
                action,
                f"a disciplinary referral applies to staff, volunteers and trustees, not {state.role}",
                code="wrong_role",
            )
        if state.stage is Stage.NONE:
            raise IllegalTransition(
                action,
                "a disciplinary referral needs the person to have been spoken to first",
                code="not_spoken_to",
            )
        if state.disciplinary_referred:
            raise IllegalTransition(action, "a disciplinary referral has already been raised", code="already_referred")
        new = replace(state, disciplinary_referred=True)
        return Transition(action, EVENT_FOR_ACTION[action], state.stage, state.stage, new)

    if action is Action.RESOLVE:
        _require_open(state, action)
        _require_no_pending_appeal(state, action)
        new = replace(state, status=Status.RESOLVED)
        return Transition(action, EVENT_FOR_ACTION[action], state.stage, state.stage, new)

    if action is Action.REOPEN:
        if state.status is not Status.RESOLVED:
            raise IllegalTransition(action, "the case is not resolved", code="case_open")
        new = replace(state, status=Status.OPEN)
        return Transition(action, EVENT_FOR_ACTION[action], state.stage, state.stage, new)

    if action is Action.LODGE_APPEAL:
        _require_open(state, action)
        _require_no_pending_appeal(state, action)
        if state.stage is Stage.NONE or not state.appealable:
            raise IllegalTransition(
                action,
                "there is no ladder step to appeal"
                if state.stage is Stage.NONE
                else "the latest step has already been appealed",
                code="nothing_to_appeal",
            )
        new = replace(state, appeal_pending=True, appealable=False)
        return Transition(action, EVENT_FOR_ACTION[action], state.stage, state.stage, new)

    # Appeal decisions.
    if not state.appeal_pending:
        raise IllegalTransition(action, "no appeal is pending", code="no_pending_appeal")
    if action is Action.UPHOLD_APPEAL:
        new = replace(state, appeal_pending=False)
        return Transition(action, EVENT_FOR_ACTION[action], state.stage, state.stage, new)
    back = state.previous_stage if state.previous_stage is not None else _below(state.stage)
    new = replace(
        state,
        stage=back,
        appeal_pending=False,
        appealable=False,
        new_incidents=0,
        previous_stage=_below(back) if back is not Stage.NONE else None,
    )
    return Transition(action, EVENT_FOR_ACTION[action], state.stage, back, new)


def _below(stage: Stage) -> Stage:
    index = ORDER.index(stage)
    return ORDER[max(index - 1, 0)]


def record_incident(state: CaseState) -> tuple[CaseState, Transition | None]:
    """Count a newly recorded incident; a resolved case is reopened (returned as a transition)."""
    counted = replace(state, new_incidents=state.new_incidents + 1)
    if counted.status is Status.RESOLVED:
        transition = apply(counted, Action.REOPEN)
        return transition.state, transition
    return counted, None


# Actions a client chooses from (reopen happens only through a new incident).
CLIENT_ACTIONS: tuple[Action, ...] = (
    Action.ADVANCE,
    Action.DISCIPLINARY_REFERRAL,
    Action.RESOLVE,
    Action.LODGE_APPEAL,
    Action.UPHOLD_APPEAL,
    Action.OVERTURN_APPEAL,
)


@dataclass(frozen=True)
class NextAction:
    """An action allowed now, with the stage it leads to and the wording that describes it."""

    action: Action
    to_stage: Stage
    wording: str


def next_actions(state: CaseState, wording: Mapping[str, str]) -> list[NextAction]:
    """List the actions `apply` would accept now, each with its wording.

    Args:
        state: The case.
        wording: Text per stage name (``spoken_to``…) and per action name (``disciplinary_referral``,
            ``resolve``, ``lodge_appeal``…); the policy's own sentences for the ladder.

    Returns:
        The allowed actions, in the order of :data:`CLIENT_ACTIONS`.

    """
    allowed: list[NextAction] = []
    for action in CLIENT_ACTIONS:
        try:
            transition = apply(state, action)
        except IllegalTransition:
            continue
        key = transition.to_stage.value if action is Action.ADVANCE else action.value
        allowed.append(NextAction(action, transition.to_stage, wording.get(key, "")))
    return allowed
