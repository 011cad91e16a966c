"""Damage to working relationships: negative statements about colleagues, families, users, partners."""

from __future__ import annotations

import re
from typing import ClassVar

from app.policy.pack import PolicyPack
from app.screening.detectors.base import Doc, LexiconDetector, Signal
from app.screening.types import ScreenContext, Span

# A named business ("Spotless Windows Ltd", "Acme Care Agency") identifies a business contact.
# (``[A-Z](?<!\w[A-Z])`` is ``\b[A-Z]`` written so that ``re`` can skip to capital letters.)
_BUSINESS = re.compile(
    r"[A-Z](?<!\w[A-Z])[\w&'\-]{1,30} (?:[A-Z][\w&'\-]{1,30} ){0,3}"
    r"(?:Ltd|Limited|plc|PLC|LLP|& Co|& Sons|Services|Agency|"
    r"Contractors|Cleaning|Catering|Transport|Coaches|Taxis|Cars|Cabs|Travel|Minibuses|Builders|"
    r"Solutions|Care|Recruitment|Staffing|Electrical|Electrics|Plumbing|Heating|Maintenance|Security|"
    r"Facilities|Joinery|Roofing|Decorators|Decorating|Hire|Logistics|Caterers|Kitchens|Supplies|Buses)\b\.?"
)
# A determiner that makes a role noun point at one identifiable person ("my manager", "that
# coordinator", "our new trustee") or at the organisation's own supplier ("our caterers"). A bare
# article ("the", "la", "y") is enough only for roles there is one of (``rel_lead_roles`` in the pack:
# a manager, a trustee), not for roles anyone meets anywhere (a driver, a nurse).
_DETERMINERS = (
    " my ",
    " our ",
    " that ",
    " this ",
    " her ",
    " his ",
    " my new ",
    " our new ",
    " the new ",
    " that new ",
    " this new ",
    " their ",
    " your ",
    " my old ",
    " our old ",
    " mi ",
    " mon ",
    " ma ",
    " moja ",
    " mój ",
    " moj ",
    " nasz ",
    " nasza ",
    " notre ",
    " nuestro ",
    " nuestra ",
    " fy ",
)
_ARTICLES = (" the ", "'r ", " y ", " yr ", " la ", " el ", " le ")


class RelationshipsDetector(LexiconDetector):
    """Find who is talked about and how negatively.

    Signals: ``rel.target`` (a group: "some parents", "a colleague"), ``rel.target_specific``
    (an identifying reference: "my manager", "her parents", "senior staff", or any role noun of
    ``rel_role_nouns`` behind a possessive or demonstrative: "that coordinator", "mi jefa"; a bare
    article is enough for the one-of-a-kind roles of ``rel_lead_roles``: "the treasurer"),
    ``rel.business`` (a named company, or "our caterers"), ``rel.business_role`` (a kind of
    supplier: "the cleaners", "the agency carers"), ``rel.negative`` (disparaging words). The rule
    pairs targets with negativity and upgrades to block when the target is identifiable.

    Args:
        pack: The policy pack.

    """

    name: ClassVar[str] = "relationships"
    version: ClassVar[str] = "2"
    categories: ClassVar[frozenset[str]] = frozenset({"people"})
    lexicons: ClassVar[tuple[str, ...]] = (
        "rel_targets",
        "rel_targets_specific",
        "rel_negative",
        "rel_role_nouns",
        "rel_business_roles",
    )
    signal_table: ClassVar[dict[str, tuple[str, float]]] = {
        "rel_targets": ("rel.target", 0.5),
        "rel_targets_specific": ("rel.target_specific", 0.8),
        "rel_negative": ("rel.negative", 0.6),
        "rel_business_roles": ("rel.business_role", 0.6),
    }

    def __init__(self, pack: PolicyPack) -> None:
        super().__init__(pack)
        self._lead_roles = frozenset(pack.lexicon("rel_lead_roles"))

    def extra(self, doc: Doc, *, context: ScreenContext) -> list[Signal]:
        """Named businesses (read from the original text: capitalisation matters)."""
        out: list[Signal] = []
        for kind, category in (("rel.target_specific", "rel_role_nouns"), ("rel.business", "rel_business_roles")):
            for hit in doc.get(category):
                before = " " + doc.text[max(0, hit.start - 12) : hit.start]
                owned = before.endswith(_DETERMINERS) or (
                    category == "rel_role_nouns" and hit.entry in self._lead_roles and before.endswith(_ARTICLES)
                )
                if owned:
                    out.append(Signal(kind, doc.span(hit.start, hit.end), 0.8, self.name, "role_with_determiner",
                                      hit.entry))  # fmt: skip
        text = doc.original
        if len(text) > 20000:  # names of businesses are a short-post concern; bound the scan
            text = text[:20000]
        out.extend(
            Signal("rel.business", Span(m.start(), m.end()), 0.8, self.name, "business_name")
            for m in _BUSINESS.finditer(text)
        )
        return out
