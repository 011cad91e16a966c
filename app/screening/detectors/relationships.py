"""Damage to working relationships: negative statements about colleagues, families, users, partners."""

from __future__ import annotations

import re
from typing import ClassVar

from app.screening.detectors.base import Doc, LexiconDetector, Signal
from app.screening.types import ScreenContext, Span

# A named business ("Spotless Windows Ltd", "Acme Care Agency") identifies a business contact.
_BUSINESS = re.compile(
    r"\b(?:[A-Z][\w&'\-]{1,30} ){1,4}(?:Ltd|Limited|plc|PLC|LLP|& Co|& Sons|Services|Agency|"
    r"Contractors|Cleaning|Catering|Transport|Coaches|Taxis|Cars|Cabs|Travel|Minibuses|Builders|"
    r"Solutions|Care|Recruitment|Staffing)\b\.?"
)


class RelationshipsDetector(LexiconDetector):
    """Find who is talked about and how negatively.

    Signals: ``rel.target`` (a group: "some parents", "a colleague"), ``rel.target_specific``
    (an identifying reference: "my manager", "her parents", "senior staff"), ``rel.business``
    (a named company), ``rel.negative`` (disparaging words). The rule pairs targets with
    negativity and upgrades to block when the target is identifiable.

    Args:
        pack: The policy pack.

    """

    name: ClassVar[str] = "relationships"
    version: ClassVar[str] = "1"
    categories: ClassVar[frozenset[str]] = frozenset({"SM-RELATIONSHIPS"})
    lexicons: ClassVar[tuple[str, ...]] = ("rel_targets", "rel_targets_specific", "rel_negative")
    signal_table: ClassVar[dict[str, tuple[str, float]]] = {
        "rel_targets": ("rel.target", 0.5),
        "rel_targets_specific": ("rel.target_specific", 0.8),
        "rel_negative": ("rel.negative", 0.6),
    }

    def extra(self, doc: Doc, *, context: ScreenContext) -> list[Signal]:
        """Named businesses (read from the original text: capitalisation matters)."""
        text = doc.original
        if len(text) > 20000:  # names of businesses are a short-post concern; bound the scan
            text = text[:20000]
        return [
            Signal("rel.business", Span(m.start(), m.end()), 0.8, self.name, "business_name")
            for m in _BUSINESS.finditer(text)
        ]
