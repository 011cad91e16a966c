"""The pure ladder: transition table, reasons, and properties over random action sequences."""

from __future__ import annotations

import ast
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.escalation import ladder
from app.escalation.ladder import (
    ORDER,
    TRANSITIONS,
    Action,
    CaseState,
    EventKind,
    IllegalTransition,
    Role,
    Stage,
    Status,
    apply,
    next_actions,
    record_incident,
)
from app.escalation.wording import policy_text


def _with_incident(state: CaseState) -> CaseState:
    return record_incident(state)[0]


def test_ladder_module_is_pure():
    tree = ast.parse(Path(ladder.__file__).read_text())
    imported = {
        (node.module or "") if isinstance(node, ast.ImportFrom) else alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    assert not {m for m in imported if m.split(".")[0] in {"fastapi", "sqlalchemy", "sqlmodel", "app"}}


def test_transition_table_is_one_step_at_a_time():
    for (stage, action), target in TRANSITIONS.items():
        assert action is Action.ADVANCE
        assert ORDER.index(target) == ORDER.index(stage) + 1


def test_first_step_needs_an_incident():
    with pytest.raises(IllegalTransition) as exc:
        apply(CaseState(), Action.ADVANCE)
    assert exc.value.code == "no_new_incident"
    assert "no incident" in exc.value.reason


def test_full_climb_needs_a_new_incident_each_time():
    state = CaseState()
    for expected in (Stage.SPOKEN_TO, Stage.LEGAL_LETTER, Stage.ATTENDANCE_DENIED):
        with pytest.raises(IllegalTransition, match="repeated|no incident"):
            apply(state, Action.ADVANCE)
        state = _with_incident(state)
        transition = apply(state, Action.ADVANCE)
        assert transition.to_stage is expected and transition.event is EventKind.ADVANCED
        assert transition.is_step
        state = transition.state
    state = _with_incident(state)
    with pytest.raises(IllegalTransition) as exc:
        apply(state, Action.ADVANCE)
    assert exc.value.code == "last_stage"


@pytest.mark.parametrize("role", [Role.STAFF, Role.VOLUNTEER, Role.TRUSTEE])
def test_disciplinary_referral_for_staff_after_spoken_to(role):
    state = CaseState(role=role)
    with pytest.raises(IllegalTransition) as exc:
        apply(state, Action.DISCIPLINARY_REFERRAL)
    assert exc.value.code == "not_spoken_to"
    spoken = apply(_with_incident(state), Action.ADVANCE).state
    referred = apply(spoken, Action.DISCIPLINARY_REFERRAL)
    assert referred.to_stage is Stage.SPOKEN_TO and referred.state.disciplinary_referred
    assert not referred.is_step
    with pytest.raises(IllegalTransition) as exc:
        apply(referred.state, Action.DISCIPLINARY_REFERRAL)
    assert exc.value.code == "already_referred"
    # The main ladder is not blocked by the referral.
    assert apply(_with_incident(referred.state), Action.ADVANCE).to_stage is Stage.LEGAL_LETTER


@pytest.mark.parametrize("role", [Role.SERVICE_USER, Role.FAMILY_MEMBER])
def test_disciplinary_referral_wrong_role(role):
    spoken = CaseState(role=role, stage=Stage.SPOKEN_TO)
    with pytest.raises(IllegalTransition) as exc:
        apply(spoken, Action.DISCIPLINARY_REFERRAL)
    assert exc.value.code == "wrong_role" and str(role) in exc.value.reason


def test_resolve_blocks_then_incident_reopens():
    spoken = apply(_with_incident(CaseState()), Action.ADVANCE).state
    resolved = apply(spoken, Action.RESOLVE).state
    assert resolved.status is Status.RESOLVED and resolved.stage is Stage.SPOKEN_TO
    for action in (
        Action.ADVANCE,
        Action.RESOLVE,
        Action.LODGE_APPEAL,
        Action.DISCIPLINARY_REFERRAL,
    ):
        with pytest.raises(IllegalTransition) as exc:
            apply(resolved, action)
        assert exc.value.code == "case_resolved"
    reopened, transition = record_incident(resolved)
    assert transition is not None and transition.event is EventKind.REOPENED
    assert reopened.status is Status.OPEN and reopened.new_incidents == 1
    assert apply(reopened, Action.ADVANCE).to_stage is Stage.LEGAL_LETTER


def test_appeal_upheld_keeps_step():
    letter = apply(_with_incident(apply(_with_incident(CaseState()), Action.ADVANCE).state), Action.ADVANCE).state
    lodged = apply(letter, Action.LODGE_APPEAL).state
    assert lodged.appeal_pending
    for action in (Action.ADVANCE, Action.RESOLVE, Action.LODGE_APPEAL):
        with pytest.raises(IllegalTransition):
            apply(_with_incident(lodged), action)
    upheld = apply(lodged, Action.UPHOLD_APPEAL)
    assert upheld.to_stage is Stage.LEGAL_LETTER and not upheld.state.appeal_pending
    with pytest.raises(IllegalTransition) as exc:
        apply(upheld.state, Action.LODGE_APPEAL)
    assert exc.value.code == "nothing_to_appeal"


def test_appeal_overturned_returns_to_previous_stage_and_needs_a_newer_incident():
    spoken = apply(_with_incident(CaseState()), Action.ADVANCE).state
    letter = apply(_with_incident(spoken), Action.ADVANCE).state
    overturned = apply(apply(letter, Action.LODGE_APPEAL).state, Action.OVERTURN_APPEAL)
    assert (overturned.from_stage, overturned.to_stage) == (Stage.LEGAL_LETTER, Stage.SPOKEN_TO)
    assert overturned.is_step
    with pytest.raises(IllegalTransition) as exc:
        apply(overturned.state, Action.ADVANCE)
    assert exc.value.code == "no_new_incident"


def test_decisions_need_a_pending_appeal():
    for action in (Action.UPHOLD_APPEAL, Action.OVERTURN_APPEAL):
        with pytest.raises(IllegalTransition) as exc:
            apply(CaseState(stage=Stage.SPOKEN_TO), action)
        assert exc.value.code == "no_pending_appeal"


def test_next_actions_quote_the_policy():
    wording = policy_text().wording()
    first = next_actions(_with_incident(CaseState(role=Role.STAFF)), wording)
    advance = next(a for a in first if a.action is Action.ADVANCE)
    assert advance.to_stage is Stage.SPOKEN_TO
    assert "speak directly with you and ask that you refrain from such actions" in advance.wording
    spoken = apply(_with_incident(CaseState(role=Role.STAFF)), Action.ADVANCE).state
    actions = {a.action: a for a in next_actions(_with_incident(spoken), wording)}
    assert "legal letter detailing Independence Project concerns" in actions[Action.ADVANCE].wording
    assert "disciplinary procedures" in actions[Action.DISCIPLINARY_REFERRAL].wording
    denied = replace(spoken, stage=Stage.LEGAL_LETTER, new_incidents=1)
    assert (
        "attendance at Independence Project being denied"
        in {a.action: a for a in next_actions(denied, wording)}[Action.ADVANCE].wording
    )


# --- properties ----------------------------------------------------------------------------------

STEPS = st.lists(
    st.sampled_from(["incident", *[a.value for a in ladder.CLIENT_ACTIONS]]),
    min_size=0,
    max_size=40,
)


@settings(max_examples=300, deadline=None)
@given(role=st.sampled_from(list(Role)), steps=STEPS)
def test_no_sequence_skips_a_stage_or_advances_without_a_new_incident(role, steps):
    state = CaseState(role=role)
    incidents_since_step = 0
    for step in steps:
        before = state
        if step == "incident":
            state, _ = record_incident(state)
            incidents_since_step += 1
            assert state.stage is before.stage
            continue
        try:
            transition = apply(state, Action(step))
        except IllegalTransition as exc:
            assert exc.reason and exc.code
            continue
        state = transition.state
        delta = ORDER.index(state.stage) - ORDER.index(before.stage)
        assert delta in (-1, 0, 1)  # never skips a stage, either way
        if delta == 1:
            assert transition.action is Action.ADVANCE
            assert incidents_since_step >= 1, "advanced without a new incident"
        if delta == -1:
            assert transition.action is Action.OVERTURN_APPEAL
        if transition.is_step:
            incidents_since_step = 0
        if state.disciplinary_referred and not before.disciplinary_referred:
            assert role in ladder.DISCIPLINARY_ROLES and before.stage is not Stage.NONE
        assert state.new_incidents == incidents_since_step


@settings(max_examples=200, deadline=None)
@given(role=st.sampled_from(list(Role)), steps=STEPS)
def test_next_actions_are_exactly_the_accepted_ones(role, steps):
    state = CaseState(role=role)
    for step in steps:
        if step == "incident":
            state, _ = record_incident(state)
            continue
        try:
            state = apply(state, Action(step)).state
        except IllegalTransition:
            pass
    offered = {a.action for a in next_actions(state, {})}
    for action in ladder.CLIENT_ACTIONS:
        try:
            apply(state, action)
            accepted = True
        except IllegalTransition:
            accepted = False
        assert (action in offered) == accepted
