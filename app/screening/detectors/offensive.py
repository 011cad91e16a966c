"""Offensive, abusive, discriminatory or extremist language, and boasts of misconduct at work."""

from __future__ import annotations

from typing import ClassVar

from app.screening.detectors.base import Doc, LexiconDetector, Signal
from app.screening.types import ScreenContext

_NEGATIONS = ("not ", "n't ", "never ", "no ", "nobody ", "isn't ")


class OffensiveDetector(LexiconDetector):
    """Find language that could damage the organisation's reputation.

    The lexicons are curated in the policy pack (slurs, abuse, extremist slogans, degrading
    descriptions of people, discriminatory generalisations, misconduct boasts), because a
    disability charity's line differs from a general toxicity model's, and a lexicon is auditable,
    deterministic and fast. A discriminatory phrase directly negated ("are not a burden") and a
    slur quoted to condemn it ("called me a ..., not OK") are discounted.

    Args:
        pack: The policy pack.
    """

    name: ClassVar[str] = "offensive"
    version: ClassVar[str] = "1"
    categories: ClassVar[frozenset[str]] = frozenset({"SM-REPUTATION", "SM-RELATIONSHIPS"})
    lexicons: ClassVar[tuple[str, ...]] = (
        "offensive_slurs",
        "offensive_abuse",
        "offensive_profanity",
        "offensive_extremist",
        "offensive_discriminatory",
        "offensive_degrading",
        "misconduct_boast",
        "misconduct_soft",
        "misconduct_generic",
        "edgy_humour",
        "slur_condemnation",
    )
    signal_table: ClassVar[dict[str, tuple[str, float]]] = {
        "offensive_slurs": ("offensive.slur", 0.9),
        "offensive_abuse": ("offensive.abuse", 0.8),
        "offensive_profanity": ("offensive.profanity", 0.3),
        "offensive_extremist": ("offensive.extremist", 0.9),
        "offensive_degrading": ("offensive.degrading", 0.85),
        "misconduct_boast": ("conduct.boast", 0.8),
        "misconduct_soft": ("conduct.soft", 0.55),
        "misconduct_generic": ("conduct.generic", 0.5),
        "edgy_humour": ("offensive.edgy", 0.5),
        "slur_condemnation": ("offensive.condemnation", 0.0),
    }

    def extra(self, doc: Doc, *, context: ScreenContext) -> list[Signal]:
        """Discriminatory phrases unless negated just before."""
        out = []
        for hit in doc.get("offensive_discriminatory"):
            before = doc.text[max(0, hit.start - 14) : hit.start]
            if any(neg in before for neg in _NEGATIONS):
                continue
            out.append(
                Signal("offensive.discriminatory", doc.span(hit.start, hit.end), 0.85, self.name,
                       "offensive_discriminatory", hit.entry)
            )  # fmt: skip
        return out
