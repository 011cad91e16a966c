"""Offensive, abusive, discriminatory or extremist language, and boasts of misconduct at work."""

from __future__ import annotations

import re
from typing import ClassVar

from app.policy.pack import PolicyPack
from app.screening.detectors.base import Doc, LexiconDetector, Signal
from app.screening.types import ScreenContext

_MASKED = re.compile(r"(?<![\w*#%!@$])[^\W\d_]{1,3}[*#%!@$]{1,4}[^\W\d_]{0,8}(?![\w*#%!@$])")
# Every masked word has a symbol right after a letter, at most three characters into the match.
_MASK_HINT = re.compile(r"[*#%!@$](?<=[^\W\d_][*#%!@$])")
# "<pronoun> is <intensifier> mental": the lexicon lists the plain form ("he's mental"); a degree
# word in between ("proper", "totally") does not make it any less of an ableist insult.
_INTENSIFIED_ABLEISM = re.compile(
    r"\b(?:he|she|they|you)(?:'s|'re| is| are| was| were) (?:proper|properly|totally|absolutely|"
    r"completely|utterly|well|so|fully|actually|clinically|bloody|fucking|dead|pure|right|literally) "
    r"(?:mental|psycho|loony|loopy)\b"
)
_ABLEIST_WORDS = ("mental", "psycho", "loony", "loopy")
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
    version: ClassVar[str] = "2"
    categories: ClassVar[frozenset[str]] = frozenset({"abuse", "people"})
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
        "offensive_discriminatory",
        "protected_groups",
        "group_derogation",
        "ability_insults",
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
        "ability_insults": ("offensive.ability_insult", 0.6),
    }

    def __init__(self, pack: PolicyPack) -> None:
        super().__init__(pack)
        # Whole-word slurs and abuse, by length, for matching masked spellings ("c*nt").
        slurs = set(pack.lexicon("offensive_slurs"))
        self._masked_targets: dict[int, list[tuple[str, str]]] = {}
        for raw in [*pack.lexicon("offensive_slurs"), *pack.lexicon("offensive_abuse")]:
            word = raw.rstrip("*")
            if word.isalpha() and len(word) >= 3:
                kind = "offensive.slur" if raw in slurs else "offensive.abuse"
                self._masked_targets.setdefault(len(word), []).append((word, kind))

    def _masked(self, doc: Doc) -> list[Signal]:
        """Find slurs with letters replaced by symbols, keeping first and visible letters."""
        out: list[Signal] = []
        base = doc.base
        hint = _MASK_HINT.search(base)
        if hint is None:
            return out
        for m in _MASKED.finditer(base, max(0, hint.start() - 3)):
            token = m.group(0)
            for word, kind in self._masked_targets.get(len(token), ()):
                if all(t == w or t in "*#%!@$" for t, w in zip(token, word, strict=True)):
                    out.append(Signal(kind, doc.base_span(m.start(), m.end()), 0.85, self.name,
                                      "masked_word", word))  # fmt: skip
                    break
        return out

    def extra(self, doc: Doc, *, context: ScreenContext) -> list[Signal]:
        """Discriminatory phrases unless negated just before; masked slurs."""
        out = self._masked(doc)
        text = doc.text
        if any(w in text for w in _ABLEIST_WORDS):
            for m in _INTENSIFIED_ABLEISM.finditer(text):
                out.append(Signal("offensive.slur", doc.span(m.start(), m.end()), 0.9, self.name,
                                  "intensified_ableism", "mental"))  # fmt: skip
        for hit in doc.get("offensive_discriminatory"):
            before = doc.text[max(0, hit.start - 14) : hit.start]
            if any(neg in before for neg in _NEGATIONS):
                continue
            out.append(
                Signal("offensive.discriminatory", doc.span(hit.start, hit.end), 0.85, self.name,
                       "offensive_discriminatory", hit.entry)
            )  # fmt: skip
        # A sweeping negative claim about a group ("<group> are ruining ..."), unless negated.
        derogations = doc.get("group_derogation")
        if derogations:
            for group in doc.get("protected_groups"):
                after = [d for d in derogations if 0 <= d.start - group.end <= 40]
                if not after:
                    continue
                between = doc.text[group.end : after[0].start]
                if any(neg in between + " " for neg in _NEGATIONS):
                    continue
                out.append(
                    Signal("offensive.discriminatory", doc.span(group.start, after[0].end), 0.85,
                           self.name, "group_derogation", after[0].entry)
                )  # fmt: skip
                break
        return out
