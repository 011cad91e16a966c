"""The screening engine: text and context in, ScreenResult out. Pure: no I/O, no framework.

Pipeline: normalise (with offset map) -> one Aho-Corasick pass over every lexicon -> run the
registered detectors (each reads the keyword hits and runs only the patterns they call for) ->
protected-term n-gram lookup -> rules combine signals into findings -> verdict, risk score,
redacted suggested text.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

from app.policy.pack import PolicyPack
from app.screening.detectors import DetectorRegistry, Doc, Signal, default_registry
from app.screening.lexicon import Lexicon
from app.screening.normalize import normalize
from app.screening.protected import ProtectedTermMatcher
from app.screening.rules import RuleInput, Signals, apply_rules, redacts_people, spans_to_redact, verdict_of
from app.screening.types import AuthorRole, ScreenContext, ScreenResult, Span, Verdict

ENGINE_VERSION = "1.2.0"

_PROTECTED_KIND = {
    "child_name": ("protected.child_name", "[NAME]"),
    "family_name": ("protected.family_name", "[NAME]"),
    "staff_name": ("protected.staff_name", "[NAME]"),
    "code_name": ("protected.code_name", "[CODE]"),
    "access_code": ("protected.access_code", "[CODE]"),
}
_EVIDENCE_MARGIN = 40
#: Signals kept per kind and detector: enough evidence for any rule, and a bound that keeps the
#: rules' pairwise proximity checks cheap on adversarial 100 KB posts.
_MAX_SIGNALS_PER_KIND = 100


@dataclass(frozen=True, slots=True)
class _Replacement:
    span: Span
    placeholder: str


class Screener:
    """Screens posts against one policy pack.

    Construction compiles everything (lexicon automaton, detector patterns); ``screen`` never
    mutates shared state, so one Screener can serve many threads.

    Args:
        pack: The validated policy pack.
        registry: Detectors to run; defaults to :func:`default_registry`.
        protected: Matcher of registered protected terms (names, codes), if any.

    """

    def __init__(
        self,
        pack: PolicyPack,
        *,
        registry: DetectorRegistry | None = None,
        protected: ProtectedTermMatcher | None = None,
    ) -> None:
        self.pack = pack
        self.registry = registry if registry is not None else default_registry(pack)
        keys = sorted(self.registry.lexicon_keys())
        self._lexicon = Lexicon({k: pack.lexicon(k) for k in keys})
        self._detectors = list(self.registry)
        self.protected = protected

    def with_protected(self, matcher: ProtectedTermMatcher | None) -> Screener:
        """Return a copy using ``matcher``, sharing every compiled structure with this one.

        Args:
            matcher: The protected-term matcher (e.g. rebuilt after HR registered a name).

        Returns:
            A new Screener; this one is unchanged.

        """
        clone = copy.copy(self)
        clone.protected = matcher
        return clone

    def screen(self, text: str, context: ScreenContext | None = None) -> ScreenResult:
        """Screen one post.

        Args:
            text: The post as written (any length; the API caps it).
            context: Author role, platform, account, prior authority, registration email.

        Returns:
            The verdict, findings with spans into ``text``, and a redacted suggestion.

        Raises:
            TypeError: if ``text`` is not a string.

        """
        if not isinstance(text, str):
            raise TypeError("text must be a str")
        context = context or ScreenContext()
        policy_version = self.pack.policy_version
        if context.account == "corporate" or context.author_role is AuthorRole.CORPORATE:
            return ScreenResult(Verdict.ALLOW, 0.0, (), text, policy_version, ENGINE_VERSION,
                                (self.pack.out_of_scope_note,))  # fmt: skip
        norm = normalize(text)
        doc = Doc(text, norm, self._lexicon.scan(norm.text.text))
        signals: list[Signal] = []
        notes: list[str] = []
        for detector in self._detectors:
            try:
                found = detector.detect(doc, context=context)
                if len(found) > _MAX_SIGNALS_PER_KIND:
                    found = _cap(found)
                signals.extend(found)
            except Exception as exc:  # noqa: BLE001 - one faulty detector must not lose the post
                notes.append(f"detector {detector.name} failed: {type(exc).__name__}")
        signals.extend(self._protected_signals(doc))
        indexed = Signals(signals)
        notes.extend(
            f"detector {s.detector} timed out on pattern {s.pattern_name}"
            for s in indexed.by_kind.get("detector.timeout", ())
        )
        data = RuleInput(indexed, context, self.pack, len(text), text)
        replacements = [_Replacement(sp, ph) for sp, ph in spans_to_redact(indexed, ())]

        def redact(start: int, end: int) -> str:
            lo = max(0, start - _EVIDENCE_MARGIN)
            hi = min(len(text), end + _EVIDENCE_MARGIN)
            excerpt = _apply(text, replacements, lo, hi)
            return ("…" if lo > 0 else "") + excerpt.strip() + ("…" if hi < len(text) else "")

        findings = apply_rules(data, redact)
        verdict = verdict_of(findings)
        if notes and verdict is Verdict.ALLOW and any("failed" in n for n in notes):
            verdict = Verdict.REVIEW  # fail safe: a person looks when a detector broke
        final = replacements  # names are redacted as well only when a finding is about people
        if redacts_people(findings):
            final = [_Replacement(sp, ph) for sp, ph in spans_to_redact(indexed, findings)]
        suggested = _apply(text, final, 0, len(text))
        risk = max((f.confidence for f in findings if f.rule_id != "SM-AFFILIATION"), default=0.0)
        return ScreenResult(verdict, risk, tuple(findings), suggested, policy_version,
                            ENGINE_VERSION, tuple(notes))  # fmt: skip

    def _protected_signals(self, doc: Doc) -> list[Signal]:
        if self.protected is None or not len(self.protected):
            return []
        toks = doc.tokens
        out = []
        for match in self.protected.find(doc.words):
            kind, placeholder = _PROTECTED_KIND[match.kind]
            span = doc.span(toks[match.first][0], toks[match.last][1])
            out.append(Signal(kind, span, 0.95, "protected_terms", match.kind,
                              placeholder=placeholder, validation="hmac_match"))  # fmt: skip
        if any(s.kind == "protected.access_code" for s in out):
            out.extend(
                Signal("secret.credential", s.span, 0.95, "protected_terms", "protected_code",
                       placeholder="[CODE]", validation="hmac_match")
                for s in out
                if s.kind == "protected.access_code"
            )  # fmt: skip
        return out


def _cap(signals: list[Signal]) -> list[Signal]:
    """Keep the first ``_MAX_SIGNALS_PER_KIND`` signals of each kind, in order."""
    counts: dict[str, int] = {}
    kept = []
    for s in signals:
        n = counts.get(s.kind, 0)
        if n < _MAX_SIGNALS_PER_KIND:
            counts[s.kind] = n + 1
            kept.append(s)
    return kept


def _apply(text: str, replacements: list[_Replacement], lo: int, hi: int) -> str:
    """Return ``text[lo:hi]`` with replacements applied (those overlapping the window)."""
    parts: list[str] = []
    pos = lo
    for r in replacements:
        if r.span.end <= lo or r.span.start >= hi:
            continue
        start = max(r.span.start, lo)
        if start < pos:
            continue
        parts.append(text[pos:start])
        parts.append(r.placeholder)
        pos = min(r.span.end, hi)
    parts.append(text[pos:hi])
    return "".join(parts)
