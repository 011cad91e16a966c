"""Internal confidential matters: finances, restructures, disciplinaries, board business, safeguarding."""

from __future__ import annotations

import re
from typing import ClassVar

from app.screening.detectors.base import Doc, LexiconDetector, Signal
from app.screening.types import ScreenContext

# The lookbehind anchors each candidate at the first digit, keeping the scan linear.
_MONEY = re.compile(r"[£$€]\s?\d[\d,.]{0,20}\s?(?:k|m|bn|million|grand)?|(?<![\d,.])\d[\d,.]{0,20}\s?(?:k|grand)\b")
# A sum has a currency sign or ends in "k"/"grand" after a figure; most posts with digits have
# neither, and these checks are much cheaper than trying _MONEY at every position.
_CURRENCY = ("£", "$", "€")
_THOUSANDS = re.compile(r"[\d,.]\s?(?:k|grand)\b")


class InternalMattersDetector(LexiconDetector):
    """Find disclosures and hints of internal matters.

    Signals: ``internal.specific`` (redundancies, mergers, suspensions, deficits, board votes),
    ``internal.hint`` ("big changes coming", "difficult board meeting"), ``internal.money`` (a sum),
    ``safeguarding.term`` (referrals, social services) and ``safeguarding.substance`` (what
    happened: drunk at pick-up, bruises, police called).

    Args:
        pack: The policy pack.

    """

    name: ClassVar[str] = "internal_matters"
    version: ClassVar[str] = "1"
    categories: ClassVar[frozenset[str]] = frozenset({"SM-CONFIDENTIAL"})
    lexicons: ClassVar[tuple[str, ...]] = (
        "internal_specific",
        "internal_hint",
        "safeguarding_terms",
        "safeguarding_substance",
        "internal_rumour",
    )
    signal_table: ClassVar[dict[str, tuple[str, float]]] = {
        "internal_specific": ("internal.specific", 0.8),
        "internal_hint": ("internal.hint", 0.55),
        "safeguarding_terms": ("safeguarding.term", 0.6),
        "safeguarding_substance": ("safeguarding.substance", 0.6),
        "internal_rumour": ("internal.rumour", 0.0),
    }

    def extra(self, doc: Doc, *, context: ScreenContext) -> list[Signal]:
        """Find sums of money (a figure makes a finance disclosure specific)."""
        base = doc.base
        if not doc.has_digit or not (any(c in base for c in _CURRENCY) or _THOUSANDS.search(base)):
            return []
        return [
            Signal("internal.money", doc.base_span(m.start(), m.end()), 0.5, self.name, "money")
            for m in _MONEY.finditer(doc.base)
        ]
