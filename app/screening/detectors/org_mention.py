"""Organisation mention: explicit names in any disguise, contact details, and implicit references."""

from __future__ import annotations

import re
from typing import ClassVar

from rapidfuzz import fuzz

from app.policy.pack import PolicyPack
from app.screening.detectors.base import BaseDetector, Doc, Signal, covered
from app.screening.normalize import normalize_text
from app.screening.types import ScreenContext, Span

_UPPER_IP = re.compile(r"(?<![A-Za-z])I\.?\s?P\.?(?![A-Za-z])")
#: Optional trunk prefix of a public phone number ("+44 (0)", "0") and its longest match.
_TRUNK_PREFIX = r"(?:\+?44\s?\(?0?\)?|0)?"
_TRUNK_PREFIX_LEN = len("+44 (0)")


class OrgMentionDetector(BaseDetector):
    """Find references to the organisation.

    Emits ``org.explicit`` (name, alias, hashtag, handle, website, email domain, fuzzy
    misspelling), ``org.public_contact`` (its public phone or company number, which identify it but
    are not confidential), ``org.implicit`` ("the centre", "I.P.", "a charity round here") and
    ``org.workplace`` ("my work", "at work": the author's workplace, not necessarily identified).
    Same-words-other-sense phrases (the pack's ``not_references``: a holiday, an IP address, a leisure centre) suppress
    overlapping matches.

    Args:
        pack: The policy pack (organisation identity and lexicons).

    """

    name: ClassVar[str] = "org_mention"
    version: ClassVar[str] = "1"
    categories: ClassVar[frozenset[str]] = frozenset({"org_mention"})
    lexicons: ClassVar[tuple[str, ...]] = (
        "org_names",
        "org_implicit",
        "org_implicit_weak",
        "org_workplace",
        "org_not_references",
    )

    def __init__(self, pack: PolicyPack) -> None:
        super().__init__(pack)
        org = pack.organisation
        self._name_parts = normalize_text(org.name).split()
        self._joined = "".join(self._name_parts)
        self._threshold = pack.thresholds.fuzzy_name_score
        # _fuzzy only looks at tokens that start like the name and are nearly as long as its
        # first word; a text with no such run of word characters cannot have one.
        first = self._name_parts[0] if self._name_parts else ""
        reach = max(0, len(first) - 4)
        self._fuzzy_hint = re.compile(re.escape(first[:1]) + rf"[\w']{{{reach}}}") if first else None
        digits = [re.sub(r"\D", "", p) for p in org.phones]
        if org.company_number:
            digits.append(re.sub(r"\D", "", org.company_number))
        # Public numbers with any spacing; UK numbers may also appear as +44 without the 0.
        alts = []
        bodies = []
        for d in digits:
            body = d[1:] if d.startswith("0") else d
            bodies.append(r"[\s\-]?".join(body))
            alts.append(_TRUNK_PREFIX + bodies[-1])
        self._public_numbers = re.compile("|".join(alts)) if alts else None
        # The numbers without their optional prefix: starting with a digit, ``re`` finds them fast,
        # and a full match starts at most _TRUNK_PREFIX_LEN characters before one.
        self._public_bodies = re.compile("|".join(bodies)) if bodies else None

    def detect(self, doc: Doc, *, context: ScreenContext) -> list[Signal]:
        """Find explicit and implicit references to the organisation.

        Args:
            doc: The prepared post.
            context: Unused; references do not depend on the author.

        Returns:
            ``org.*`` signals.

        """
        negatives = [doc.span(h.start, h.end) for h in doc.get("org_not_references")]
        out = self.hits_to_signals(doc, "org_names", "org.explicit", 1.0)
        out += self._fuzzy(doc, [s.span for s in out])
        body = self._public_bodies.search(doc.base) if self._public_bodies is not None and doc.has_digit else None
        if body is not None and self._public_numbers is not None:  # both None or neither (same digits)
            for m in self._public_numbers.finditer(doc.base, max(0, body.start() - _TRUNK_PREFIX_LEN)):
                out.append(
                    Signal("org.public_contact", doc.base_span(m.start(), m.end()), 0.9,
                           self.name, "public_number", placeholder=None)
                )  # fmt: skip
        for hit in doc.get("org_implicit"):
            span = doc.span(hit.start, hit.end)
            if covered(span, negatives) or covered(span, [s.span for s in out]):
                continue
            score = 0.6
            if hit.entry in ("ip", "i.p.", "i p"):
                # "ip" only counts when written in capitals ("IP", "I.P.") in the original.
                if not _UPPER_IP.search(doc.original, span.start, span.end + 1):
                    continue
                score = 0.7
            out.append(Signal("org.implicit", span, score, self.name, "org_implicit", hit.entry))
        for hit in doc.get("org_implicit_weak"):
            span = doc.span(hit.start, hit.end)
            if not covered(span, negatives) and not covered(span, [s.span for s in out]):
                out.append(Signal("org.implicit", span, 0.45, self.name, "org_implicit_weak",
                                  hit.entry))  # fmt: skip
        for hit in doc.get("org_workplace"):
            span = doc.span(hit.start, hit.end)
            if not covered(span, negatives):
                out.append(Signal("org.workplace", span, 0.4, self.name, "org_workplace", hit.entry))
        return out

    def _fuzzy(self, doc: Doc, known: list[Span]) -> list[Signal]:
        """Misspelt names: token pairs close to the name's words, or one token close to it joined."""
        if self._fuzzy_hint is not None and self._fuzzy_hint.search(doc.text) is None:
            return []
        toks = doc.tokens
        first, rest = self._name_parts[0], self._name_parts[1:]
        out: list[Signal] = []
        for i, (start, end, tok) in enumerate(toks):
            if tok[0] != first[0] or len(tok) < len(first) - 3:
                continue
            if len(tok) >= len(self._joined) - 3:
                if fuzz.ratio(tok, self._joined) >= self._threshold + 4:
                    span = doc.span(start, end)
                    if not covered(span, known):
                        out.append(Signal("org.explicit", span, 0.9, self.name, "fuzzy_name"))
                continue
            if not rest or i + len(rest) >= len(toks) + 0:
                continue
            if fuzz.ratio(tok, first) < self._threshold:
                continue
            tail = toks[i + 1 : i + 1 + len(rest)]
            if len(tail) == len(rest) and all(
                fuzz.ratio(t[2], w) >= self._threshold - 6 or t[2] == w[: len(t[2])] and len(t[2]) >= 4
                for t, w in zip(tail, rest, strict=True)
            ):
                span = doc.span(start, tail[-1][1])
                if not covered(span, known):
                    out.append(Signal("org.explicit", span, 0.9, self.name, "fuzzy_name"))
        return out
