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
# Restructure and funding losses phrased with a quantity or a qualifier between the verb and the
# noun, which fixed lexicon phrases miss: "cutting four posts", "axing 3 more roles",
# "losing £84k of council money", "lost the big grant". Hours are left out: "lost two hours".
_CUTS = re.compile(
    r"\b(?:cut(?:s|ting)?|axe[sd]?|axing|scrap(?:s|ped|ping)?|los(?:e|es|ing|t)|shed(?:ding)?)\s+"
    r"(?:[\w'£$€.,]+\s+){1,3}(?:posts|jobs|roles|positions|funding|grants?|council money|contracts?)\b"
)
_CUT_VERBS = ("cut", "axe", "axing", "scrap", "los", "shed")


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
    categories: ClassVar[frozenset[str]] = frozenset({"confidential"})
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
        """Find sums of money (a figure makes a finance disclosure specific) and quantified cuts."""
        base = doc.base
        out = []
        if any(v in base for v in _CUT_VERBS):
            out += [
                Signal("internal.specific", doc.base_span(m.start(), m.end()), 0.8, self.name, "quantified_cut")
                for m in _CUTS.finditer(base)
            ]
        if doc.has_digit and (any(c in base for c in _CURRENCY) or _THOUSANDS.search(base)):
            out += [
                Signal("internal.money", doc.base_span(m.start(), m.end()), 0.5, self.name, "money")
                for m in _MONEY.finditer(base)
            ]
        return out
