"""The screening engine: text and context in, ScreenResult out. Pure: no I/O, no framework.

Pipeline: normalise (with offset map) -> one Aho-Corasick pass over every lexicon -> run the
registered detectors (each reads the keyword hits and runs only the patterns they call for) ->
protected-term n-gram lookup -> rules combine signals into findings -> verdict, risk score,
redacted suggested text.
"""

from __future__ import annotations

import bisect
import copy
import dataclasses
import re
from collections.abc import Callable
from dataclasses import dataclass

from app.policy.pack import PolicyPack
from app.screening.detectors import DetectorRegistry, Doc, Signal, default_registry
from app.screening.learned.features import context_features, signal_features, symbols
from app.screening.learned.fusion import BLOCK_HEAD, FLAG_HEAD, decide, specs_of
from app.screening.learned.model import ClauseModel, ModelError, load_model
from app.screening.lexicon import Lexicon
from app.screening.normalize import normalize
from app.screening.protected import ProtectedTermMatcher
from app.screening.rules import (
    REDACTION_ONLY,
    RuleInput,
    Signals,
    apply_rules,
    redacts_people,
    spans_to_redact,
    verdict_of,
)
from app.screening.types import (
    INSIDER_ROLES,
    AuthorRole,
    Explanation,
    Finding,
    ScreenContext,
    ScreenResult,
    Severity,
    Span,
    Verdict,
)

ENGINE_VERSION = "2.0.0"

#: Exact evidence that decides its clause whatever the classifiers say: a registered protected
#: term (keyed-hash match), an NHS number that passes its checksum, or a National Insurance number
#: with a prefix HMRC issues.
AUTHORITATIVE_VALIDATIONS = frozenset({"hmac_match", "nhs_mod11_ok", "ni_prefix_ok"})
#: Signal kinds that make an exact finding authoritative, by evidence kind (a sign-up on the org's domain).
AUTHORITATIVE_KINDS = {"org_email": ("orgemail.registration",)}
#: Sentence boundaries in normalised text, for the span a learned finding points at.
_SENTENCE = re.compile(r"[^.!?\n]+[.!?\n]*")

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
class Analysis:
    """The deterministic layer's view of one post (input to the clause model and the fusion).

    Attributes:
        text: The post as written.
        context: Its context.
        doc: Normalised views, tokens and lexicon hits.
        signals: Every detector signal, indexed by kind.
        findings: The exact-evidence rules' findings (spans into ``text``).
        notes: Detector failures and timeouts.
        meta: Meta features for the clause model (context and signal kinds).
        redact: ``redact(start, end)`` returns a redacted excerpt of ``text``.
        replacements: What ``redact`` replaces (personal data and secrets, not names).

    """

    text: str
    context: ScreenContext
    doc: Doc
    signals: Signals
    findings: tuple[Finding, ...]
    notes: tuple[str, ...]
    meta: list[str]
    redact: Callable[[int, int], str]
    replacements: list[_Replacement]


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
        model: The pack's clause model; ``None`` runs the deterministic layer alone (the regex
            floor of the benchmark, and the features of training).

    Raises:
        ModelError: if ``model`` was trained with another version of the pack.

    """

    def __init__(
        self,
        pack: PolicyPack,
        *,
        registry: DetectorRegistry | None = None,
        protected: ProtectedTermMatcher | None = None,
        model: ClauseModel | None = None,
    ) -> None:
        self.pack = pack
        self.registry = registry if registry is not None else default_registry(pack)
        keys = sorted(self.registry.lexicon_keys())
        self._lexicon = Lexicon({k: pack.lexicon(k) for k in keys})
        self._detectors = list(self.registry)
        self.protected = protected
        self.model = model
        self._org_email_domains = tuple(d.lower() for d in pack.organisation.email_domains)
        self._specs = specs_of(pack.clauses)
        self._people_clauses = frozenset(c.rule_id for c in pack.clauses if c.concerns_people)
        self._authoritative_kinds = {
            c.rule_id: AUTHORITATIVE_KINDS[c.evidence] for c in pack.clauses if c.evidence in AUTHORITATIVE_KINDS
        }
        self.engine_version = ENGINE_VERSION
        if model is not None:
            if model.pack_version != pack.policy_version:
                raise ModelError(
                    f"clause model was trained with policy pack {model.pack_version}, "
                    f"but the pack is {pack.policy_version}: run `make train`"
                )
            missing = {c.rule_id for c in pack.clauses} - set(model.heads)
            if missing or FLAG_HEAD not in model.heads or BLOCK_HEAD not in model.thresholds:
                raise ModelError(f"clause model lacks heads {sorted(missing)}: run `make train`")
            self._thresholds = dict(model.thresholds)
            self.engine_version = f"{ENGINE_VERSION}+{model.version}"

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

    def analyse(self, text: str, context: ScreenContext | None = None) -> Analysis:
        """Run the deterministic layer: normalise, detect, match protected terms, exact rules.

        Args:
            text: The post as written.
            context: Author role, platform, account, prior authority, registration email.

        Returns:
            Everything the learned layer and the fusion need (see :class:`Analysis`).

        Raises:
            TypeError: if ``text`` is not a string.

        """
        if not isinstance(text, str):
            raise TypeError("text must be a str")
        context = context or ScreenContext()
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
        replacements = [_Replacement(sp, ph) for sp, ph in spans_to_redact(indexed, False, text)]

        def redact(start: int, end: int) -> str:
            return _excerpt(text, replacements, start, end)

        findings = apply_rules(data, redact)
        meta = context_features(context, self._org_email_domains) + signal_features(
            [k for k in indexed.by_kind if k not in REDACTION_ONLY], [(f.rule_id, f.action.value) for f in findings]
        )
        return Analysis(text, context, doc, indexed, tuple(findings), tuple(notes), meta, redact, replacements)

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
            return ScreenResult(Verdict.ALLOW, 0.0, (), text, policy_version, self.engine_version,
                                (self.pack.out_of_scope_note,))  # fmt: skip
        a = self.analyse(text, context)
        notes = list(a.notes)
        findings = list(a.findings) if self.model is None else self._fuse(a)
        verdict = verdict_of(findings)
        if notes and verdict is Verdict.ALLOW and any("failed" in n for n in notes):
            verdict = Verdict.REVIEW  # fail safe: a person looks when a detector broke
        # Names are redacted only when a finding is about people (a colleague thanked by name is fine).
        people = redacts_people(findings, self._people_clauses)
        replacements = (
            [_Replacement(sp, ph) for sp, ph in spans_to_redact(a.signals, True, text)] if people else a.replacements
        )
        suggested = _apply(text, replacements, 0, len(text))
        findings = [_redacted(f, text, replacements) for f in findings]
        risk = max((f.confidence for f in findings if f.action is not Verdict.ALLOW), default=0.0)
        return ScreenResult(verdict, risk, tuple(findings), suggested, policy_version,
                            self.engine_version, tuple(notes))  # fmt: skip

    def probabilities(self, analysis: Analysis) -> dict[str, float]:
        """Return the clause model's calibrated probability per head for an analysed post."""
        if self.model is None:
            raise ModelError("this screener has no clause model")
        words = analysis.doc.words
        probs = self.model.probabilities(words, symbols(analysis.doc.text), analysis.meta)
        return dict(zip(self.model.heads, probs.tolist(), strict=True))

    def forced(self, a: Analysis) -> dict[str, Verdict]:
        """Return the clauses exact evidence decides whatever the classifiers say, with their action."""
        return {
            f.rule_id: f.action
            for f in a.findings
            if f.explanation.validation in AUTHORITATIVE_VALIDATIONS
            or a.signals.has(*self._authoritative_kinds.get(f.rule_id, ()))
        }

    def _fuse(self, a: Analysis) -> list[Finding]:
        probs = self.probabilities(a)
        exact = {f.rule_id: f for f in a.findings}
        decision = decide(
            probs,
            self._thresholds,
            self._specs,
            insider=a.context.author_role in INSIDER_ROLES,
            prior_authority=a.context.prior_authority,
            forced=self.forced(a),
        )
        learned = [r for r in decision.clauses if r not in exact]
        carriers = self._carriers(a, learned) if learned else {}
        out = [
            self._finding(a, rule_id, action, confidence, exact.get(rule_id), carriers.get(rule_id))
            for rule_id, (action, confidence) in decision.clauses.items()
        ]
        out.sort(key=Finding.sort_key)
        return out

    def _finding(
        self, a: Analysis, rule_id: str, action: Verdict, confidence: float, base: Finding | None, span: Span | None
    ) -> Finding:
        """Return the finding for a clause the fusion listed, with the action and confidence it gave."""
        if base is not None:  # exact evidence: keep its spans, evidence and reason
            explanation = Explanation(
                detector=f"{base.explanation.detector}+clause_model",
                base_score=confidence,
                supporting_word=base.explanation.supporting_word,
                validation=base.explanation.validation,
                pattern_name=base.explanation.pattern_name,
            )
            return Finding(rule_id, base.clause, base.severity, explanation.final_score, base.spans,
                           base.evidence, base.reason, base.remediation, explanation, action)  # fmt: skip
        clause = self.pack.clause(rule_id)
        span = span or Span(0, 0)
        explanation = Explanation(detector="clause_model", base_score=confidence,
                                  pattern_name=f"{self.model.version if self.model else ''}:{rule_id}")  # fmt: skip
        return Finding(
            rule_id=rule_id,
            clause=clause.text,
            severity=Severity(clause.severity),
            confidence=explanation.final_score,
            spans=(span,) if span.end > span.start else (),
            evidence=a.redact(span.start, span.end) if span.end > span.start else "",
            reason=clause.learned_reason or clause.title,
            remediation=clause.remediation,
            explanation=explanation,
            action=action,
        )

    def _carriers(self, a: Analysis, rule_ids: list[str]) -> dict[str, Span]:
        """Return, per clause, the span of the sentence that carries it most (one pass per sentence)."""
        assert self.model is not None
        text = a.doc.text
        pieces = [(m.start(), m.end()) for m in _SENTENCE.finditer(text) if m.group().strip()]
        if not pieces:
            return {}
        if len(pieces) == 1:
            whole = Span(*a.doc.norm.text.to_original(*pieces[0]))
            return dict.fromkeys(rule_ids, whole)
        columns = [self.model.head(r) for r in rule_ids]
        # Tokens never cross a sentence boundary (.!? and newlines are not word characters), so each
        # sentence's words are the post's tokens that start inside it: no second tokenisation.
        tokens = a.doc.tokens
        starts = [t[0] for t in tokens]
        bounds = [bisect.bisect_left(starts, s) for s, _ in pieces] + [len(tokens)]
        words = a.doc.words
        weights = self.model.sentence_weights([words[bounds[k] : bounds[k + 1]] for k in range(len(pieces))], columns)
        best = weights.argmax(axis=0)
        return {r: Span(*a.doc.norm.text.to_original(*pieces[int(best[j])])) for j, r in enumerate(rule_ids)}

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


def build_screener(pack: PolicyPack, **kwargs: object) -> Screener:
    """Return a Screener for ``pack`` with its shipped clause model (loaded once per process).

    Raises:
        ModelError: if the pack has no model, or the model was trained with another pack version.

    """
    return Screener(pack, model=load_model(pack.name), **kwargs)  # type: ignore[arg-type]


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


def _excerpt(text: str, replacements: list[_Replacement], start: int, end: int) -> str:
    """Return the redacted excerpt of ``text`` around ``[start, end)``, with ellipses where cut."""
    lo = max(0, start - _EVIDENCE_MARGIN)
    hi = min(len(text), end + _EVIDENCE_MARGIN)
    excerpt = _apply(text, replacements, lo, hi)
    return ("…" if lo > 0 else "") + excerpt.strip() + ("…" if hi < len(text) else "")


def _redacted(finding: Finding, text: str, replacements: list[_Replacement]) -> Finding:
    """Return ``finding`` with evidence redacted exactly as suggested_text is, and what it redacted.

    Evidence made while the rules ran knew only the always-redacted data; names are redacted once
    the findings say the post is about people, so every excerpt is rebuilt with the final list.
    """
    if not finding.spans:
        return dataclasses.replace(finding, evidence="", categories=())
    start, end = finding.spans[0].start, finding.spans[-1].end
    lo, hi = max(0, start - _EVIDENCE_MARGIN), min(len(text), end + _EVIDENCE_MARGIN)
    categories = sorted(
        {r.placeholder.strip("[]").lower() for r in replacements if r.span.start < hi and lo < r.span.end}
    )
    return dataclasses.replace(finding, evidence=_excerpt(text, replacements, start, end), categories=tuple(categories))


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
