"""The policy's own words for the ladder and the clauses, read from the policy pack when it loads.

The pack (``app.policy.pack.load_pack``) is the one place the wording lives. Until a pack ships (or
when it cannot be loaded) the sentences below, quoted verbatim from the policy's source text, are
used instead, so the ladder never speaks in paraphrase.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

logger = logging.getLogger("app.escalation")

# Verbatim from ../shared/policy/social-media-policy.md ("Derogatory Posts and Comments").
FALLBACK_LADDER: Mapping[str, str] = {
    "spoken_to": (
        "an Independence Project representative will, in the first instance, speak directly with "
        "you and ask that you refrain from such actions"
    ),
    "legal_letter": (
        "If it is repeated a legal letter detailing Independence Project concerns will be activated."
    ),
    "attendance_denied": (
        "Continued actions of this nature will result in your attendance at Independence Project "
        "being denied."
    ),
    "disciplinary_referral": (
        "Contravention of this policy could lead to disciplinary procedures or legal sanctions for "
        "all parties whether staff, volunteer or trustee."
    ),
}
# Our own descriptions for the actions the policy does not word (fair-process steps).
PROCESS_WORDING: Mapping[str, str] = {
    "resolve": "Close the case: no further action is needed at this stage.",
    "lodge_appeal": "Record an appeal against the latest step (fair process, ACAS Code of Practice).",
    "uphold_appeal": "Decide the pending appeal: the step stands.",
    "overturn_appeal": "Decide the pending appeal: the step is overturned and the case returns "
    "to the stage before it.",
}
FALLBACK_ORGANISATION = "Independence Project"

# The clause catalogue, verbatim from the policy, keyed by the fixed rule ids (DESIGN section 3).
FALLBACK_CLAUSES: Mapping[str, str] = {
    "SM-DEBATE": "You must not enter into any public debate on any issues that relate to "
    "Independence Project.",
    "SM-RELATIONSHIPS": "You must not allow your interaction on these websites to damage working "
    "relationships between members of staff, service users or their families, or business "
    "contacts of Independence Project.",
    "SM-REPUTATION": "You should not make any comments / statements or use language that could "
    "potentially undermine or damage the reputation of Independence Project even if there is no "
    "direct mention of Independence Project.",
    "SM-ACCESS": "You must ensure that no information is made available that could provide a "
    "person with unauthorised access to confidential Independence Project information.",
    "SM-CONFIDENTIAL": "You must not record or disclose any confidential information regarding "
    "Independence Project, the children who use the centre or their families on any social media "
    "website.",
    "SM-ORG-EMAIL": "You must not use your Independence Project email address to register on such "
    "sites.",
    "SM-AFFILIATION": "If you tell others that you work for Independence Project as might be "
    "required or appropriate, you must ensure that by doing you do not breach any of the above.",
    "SM-COMPLAINT": "It is requested that Social Media is not used as the platform to raise "
    "complaints or concerns on any Independence Project related matters whether explicitly or "
    "implicitly.",
}


@dataclass(frozen=True)
class PolicyText:
    """Wording for the ladder and the clause catalogue, with where it came from."""

    ladder: Mapping[str, str]
    clauses: Mapping[str, str]
    organisation: str
    source: str
    policy_version: str | None = None

    def wording(self) -> dict[str, str]:
        """Return the text per stage and per action, as the pure ladder expects it."""
        return {**PROCESS_WORDING, **self.ladder}


def _fallback() -> PolicyText:
    return PolicyText(
        ladder=dict(FALLBACK_LADDER),
        clauses=dict(FALLBACK_CLAUSES),
        organisation=FALLBACK_ORGANISATION,
        source="builtin",
    )


@lru_cache(maxsize=8)
def policy_text(pack_source: str | None = None) -> PolicyText:
    """Return the ladder and clause wording from the policy pack, or the built-in quotes."""
    try:
        from app.policy.pack import load_pack
    except ImportError:
        return _fallback()
    try:
        pack = load_pack(pack_source)
    except (ValueError, OSError) as exc:  # PackError is a ValueError
        logger.warning(
            "policy pack unavailable; using built-in ladder wording", extra={"error": str(exc)}
        )
        return _fallback()
    ladder = dict(FALLBACK_LADDER)
    for step in pack.ladder.steps:
        # The pack words the closed state ("resolved"); the ladder names the action ("resolve").
        ladder["resolve" if step.stage == "resolved" else step.stage] = step.wording
    clauses = dict(FALLBACK_CLAUSES)
    clauses.update({clause.rule_id: clause.text for clause in pack.clauses})
    return PolicyText(
        ladder=ladder,
        clauses=clauses,
        organisation=pack.organisation.name,
        source="pack",
        policy_version=pack.policy_version,
    )
