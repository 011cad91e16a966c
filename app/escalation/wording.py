"""The policy's own words for the ladder and the clauses, read from the policy pack.

The pack (``app.policy.pack.load_pack``) is the one place the wording lives. There is no built-in
copy: a pack that does not load, or lacks a stage's wording, stops start-up (``app.main``) rather
than letting the ladder speak in words the organisation never wrote.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

from app.escalation.ladder import ORDER, Action
from app.policy.pack import load_pack

# Our own descriptions for the actions the policy does not word (fair-process steps).
PROCESS_WORDING: Mapping[str, str] = {
    "resolve": "Close the case: no further action is needed at this stage.",
    "lodge_appeal": "Record an appeal against the latest step (fair process, ACAS Code of Practice).",
    "uphold_appeal": "Decide the pending appeal: the step stands.",
    "overturn_appeal": "Decide the pending appeal: the step is overturned and the case returns to the stage before it.",
}


@dataclass(frozen=True)
class PolicyText:
    """Wording for the ladder and the clause catalogue, with where it came from."""

    ladder: Mapping[str, str]
    clauses: Mapping[str, str]
    organisation: str
    incident_rule: str  # the clause a derogatory post breaches (the pack's ladder.incident_rule)
    source: str
    policy_version: str | None = None

    def wording(self) -> dict[str, str]:
        """Return the text per stage and per action, as the pure ladder expects it."""
        return {**PROCESS_WORDING, **self.ladder}


class PolicyWordingError(ValueError):
    """The policy pack cannot word the ladder; the service must not start without it."""


@lru_cache(maxsize=8)
def policy_text(pack_source: str | None = None) -> PolicyText:
    """Return the ladder and clause wording from the policy pack.

    Raises:
        PackError: the pack does not load (the message names the pack and the entry).
        PolicyWordingError: the pack lacks the wording of a ladder stage.

    """
    pack = load_pack(pack_source)
    ladder: dict[str, str] = {}
    for step in pack.ladder.steps:
        # The pack words the closed state ("resolved"); the ladder names the action ("resolve").
        ladder["resolve" if step.stage == "resolved" else step.stage] = step.wording
    worded = [stage.value for stage in ORDER[1:]] + [Action.DISCIPLINARY_REFERRAL.value]
    missing = [key for key in worded if key not in ladder]
    if missing:
        raise PolicyWordingError(f"policy pack {pack.name!r} has no ladder wording for {', '.join(missing)}")
    return PolicyText(
        ladder=ladder,
        clauses={clause.rule_id: clause.text for clause in pack.clauses},
        organisation=pack.organisation.name,
        incident_rule=pack.ladder.incident_rule,
        source="pack",
        policy_version=pack.policy_version,
    )
