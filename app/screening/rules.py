"""Exact-evidence rules: combine detector signals into findings for the structured clauses.

Only the clauses whose evidence is exact stay here: an organisation email used to register, a
credential or where keys are kept, a child or family identified with personal data, and saying where
one works. Each finding carries the spans of its evidence. The clauses that are about meaning
(debate, relationships, reputation, complaint) are decided by the clause classifiers
(``app/screening/learned``), which read these findings and every detector signal as features and may
overrule them in either direction (``app/screening/learned/fusion.py``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from app.policy.pack import PolicyPack
from app.screening.detectors.base import Signal
from app.screening.detectors.personal_data import name_extent
from app.screening.types import (
    INSIDER_ROLES,
    AuthorRole,
    Explanation,
    Finding,
    ScreenContext,
    Severity,
    Span,
    Verdict,
)

#: Signals whose text is redacted in evidence and suggested_text.
REDACT_ALWAYS = frozenset(
    {
        "pii.phone",
        "pii.email",
        "pii.postcode",
        "pii.nhs",
        "pii.ni_number",
        # A name given with an age is a young person's identity whatever the post is about.
        "pii.name_age",
        "pii.dob",
        "pii.address",
        "secret.credential",
        "secret.spelled_code",
        "protected.child_name",
        "protected.family_name",
        "protected.code_name",
        "protected.access_code",
    }
)
#: Signals that only redact: no exact rule reads them and the clause model does not see them (the
#: shipped model was trained without them; making one a feature is a change for `make train`).
REDACTION_ONLY = frozenset({"secret.spelled_code"})
#: Names are redacted only when a finding is about people (a colleague's name in a thank-you is fine).
REDACT_WITH_PEOPLE = frozenset({"pii.name", "pii.name_family", "pii.school", "protected.staff_name"})
#: Placeholders of names: a redacted name takes its surname and an adjacent age with it.
_NAME_PLACEHOLDERS = frozenset({"[NAME]"})


_NO_SIGNALS: list[Signal] = []  # shared and never mutated


def _text_order(s: Signal) -> tuple[int, int, str]:
    return (s.span.start, s.span.end, s.kind)


class Signals:
    """Signals indexed by kind, with proximity helpers (offsets in the original text)."""

    def __init__(self, signals: Iterable[Signal]) -> None:
        self.all = list(signals)
        self._memo: dict[tuple[str, ...], list[Signal]] = {}
        self.by_kind: dict[str, list[Signal]] = {}
        for s in self.all:
            self.by_kind.setdefault(s.kind, []).append(s)

    def get(self, *kinds: str) -> list[Signal]:
        """Return the signals of any of ``kinds``, in text order (a fresh list)."""
        by_kind = self.by_kind
        if len(kinds) == 1:
            found = by_kind.get(kinds[0])
            return list(found) if found else []
        if by_kind.keys().isdisjoint(kinds):  # fast path: most kinds are absent from most posts
            return []
        return list(self._sorted(kinds))

    def _sorted(self, kinds: tuple[str, ...]) -> list[Signal]:
        """Return the shared, memoised list for ``kinds`` (callers must not mutate it)."""
        if len(kinds) == 1:
            return self.by_kind.get(kinds[0], _NO_SIGNALS)  # one kind: already in emission order
        cached = self._memo.get(kinds)
        if cached is None:
            cached = []
            for k in kinds:
                cached.extend(self.by_kind.get(k, ()))
            if len(cached) > 1:
                cached.sort(key=_text_order)
            self._memo[kinds] = cached
        return cached

    def has(self, *kinds: str) -> bool:
        """Return True if any signal of ``kinds`` exists."""
        return not self.by_kind.keys().isdisjoint(kinds)

    def near(self, anchor: Signal, kinds: Iterable[str], window: int) -> Signal | None:
        """Return the closest signal of ``kinds`` within ``window`` characters of ``anchor``."""
        best: tuple[int, Signal] | None = None
        for s in self._sorted(tuple(kinds)):
            if s is anchor:
                continue
            gap = max(s.span.start - anchor.span.end, anchor.span.start - s.span.end, 0)
            if gap <= window and (best is None or gap < best[0]):
                best = (gap, s)
        return best[1] if best else None


@dataclass(frozen=True, slots=True)
class RuleInput:
    """Everything a rule may look at."""

    signals: Signals
    context: ScreenContext
    pack: PolicyPack
    text_length: int
    text: str = ""

    @property
    def insider(self) -> bool:
        """Return True for staff, volunteers and trustees."""
        return self.context.author_role in INSIDER_ROLES


ORG_ANY = ("org.explicit", "org.public_contact", "org.implicit")
WORK = ("org.explicit", "org.public_contact", "org.implicit", "org.workplace", "affil.claim",
        "affil.work_email", "secret.work")  # fmt: skip
ADULT_ROLE_WORDS = ("rel.target_specific", "affil.claim")


class _Builder:
    """Makes findings with consistent confidence, evidence and explanation."""

    def __init__(self, data: RuleInput, redact: Callable[[int, int], str]) -> None:
        self.data = data
        self.redact = redact

    def make(
        self,
        evidence: str,
        action: Verdict,
        primary: Signal,
        reason: str,
        *,
        support: Signal | None = None,
        extra: Iterable[Signal] = (),
    ) -> Finding:
        pack = self.data.pack
        th = pack.thresholds
        clause = pack.clause_for_evidence(evidence)
        assert clause is not None, "rules run only for the evidence kinds the pack maps to a clause"
        rule_id = clause.rule_id
        base = round(primary.score, 4)
        boost = min(th.context_boost, th.context_cap) if support is not None else 0.0
        score = base + boost
        if action is Verdict.BLOCK:
            score = max(score, th.block)
        elif action is Verdict.REVIEW:
            score = min(max(score, th.review), th.block - 0.01)
        score = round(min(1.0, max(0.0, score)), 4)
        explanation = Explanation(
            detector=primary.detector,
            base_score=base,
            context_boost=round(score - base, 4),
            supporting_word=_describe(support),
            validation=primary.validation,
            pattern_name=primary.pattern_name,
        )
        spans = sorted({s.span for s in (primary, support, *extra) if s is not None and s.span.end > s.span.start})
        evidence = self.redact(spans[0].start, spans[-1].end) if spans else ""
        return Finding(
            rule_id=rule_id,
            clause=clause.text,
            severity=Severity(clause.severity),
            confidence=explanation.final_score,
            spans=tuple(spans),
            evidence=evidence,
            reason=reason,
            remediation=clause.remediation,
            explanation=explanation,
            action=action,
        )


def _describe(signal: Signal | None) -> str | None:
    if signal is None:
        return None
    if signal.entry and signal.entry.startswith("name:"):
        return signal.pattern_name or signal.kind  # a name's lookup key is never stored
    return signal.entry or signal.pattern_name or signal.kind


# --------------------------------------------------------------------------------------------
# One function per rule. Each returns at most one finding (the strongest evidence), which keeps
# per-rule output stable and easy to explain.
# --------------------------------------------------------------------------------------------


def rule_org_email(d: RuleInput, b: _Builder) -> Finding | None:
    """``org_email``: registering with an organisation address, look-alikes, or saying so."""
    s = d.signals
    if s.has("orgemail.registration"):
        return b.make("org_email", Verdict.BLOCK, s.get("orgemail.registration")[0],
                      "The account is being registered with an organisation email address.")  # fmt: skip
    if s.has("orgemail.lookalike"):
        return b.make("org_email", Verdict.REVIEW, s.get("orgemail.lookalike")[0],
                      "The registration address imitates the organisation's email domain.")  # fmt: skip
    if s.has("orgemail.signup") and s.has("affil.work_email"):
        return b.make("org_email", Verdict.REVIEW, s.get("affil.work_email")[0],
                      "The post mentions signing up next to an organisation email address.",
                      support=s.get("orgemail.signup")[0])  # fmt: skip
    if s.has("orgemail.said"):
        return b.make("org_email", Verdict.REVIEW, s.get("orgemail.said")[0],
                      "The post says a work email address was used to sign up.")  # fmt: skip
    return None


#: Kinds every ``access`` finding is made from: without one of them the rule has nothing to say,
#: which is most posts, so it returns before gathering context.
_ACCESS_EVIDENCE = ("secret.credential", "secret.location", "secret.hint")


def rule_access(d: RuleInput, b: _Builder) -> Finding | None:
    """``access``: published credentials, where keys are kept, guessable schemes."""
    s = d.signals
    if not s.has(*_ACCESS_EVIDENCE):
        return None
    personal = s.has("secret.personal")
    work = s.has(*WORK) or (d.insider and s.has("secret.premises"))
    support = next(iter(s.get(*WORK)), None)
    creds = s.get("secret.credential")
    guest = [h for h in s.get("secret.hint") if h.entry and ("guest" in h.entry or "visitor" in h.entry)]
    for cred in creds:
        if guest and s.near(cred, ("secret.hint",), 40) in guest:
            return b.make("access", Verdict.REVIEW, cred,
                          "The post shares a guest Wi-Fi key; check it gives no access to work "
                          "systems.")  # fmt: skip
        strong_shape = cred.pattern_name in ("assignment", "token_shape", "protected_code")
        premises = cred.pattern_name == "premises_code_terms"
        if strong_shape or work or (premises and not personal):
            return b.make("access", Verdict.BLOCK, cred,
                          "The post publishes an access credential (code, password, login or key).",
                          support=support)  # fmt: skip
    for cred in creds:
        if not personal:
            return b.make("access", Verdict.REVIEW, cred,
                          "The post publishes what looks like a password or code; check whose it is.")  # fmt: skip
    for loc in s.get("secret.location"):
        if work or not personal:
            action = Verdict.BLOCK if work else Verdict.REVIEW
            return b.make("access", action, loc,
                          "The post says where keys, codes or passwords are kept.", support=support)  # fmt: skip
    hints = s.get("secret.hint")
    if hints and s.has("secret.keyword", "secret.premises") and not (personal and not work):
        return b.make("access", Verdict.REVIEW, hints[0],
                      "The post hints at how a work credential is made or where access is weak.",
                      support=support)  # fmt: skip
    return None


def _child_identifiers(d: RuleInput) -> list[Signal]:
    """Names or faces that identify a child or family who (may) use the service."""
    s = d.signals
    out = s.get("pii.name_age", "pii.name_family", "pii.photo_faces")
    context_kinds = ("pii.child_word", "pii.health", "pii.incident")
    for name in s.get("pii.name"):
        # A child word right before the name ("little Ruby") outweighs a role word nearby.
        child_named = s.near(name, ("pii.child_word",), 1) is not None
        if child_named or (s.near(name, context_kinds, 30) and not s.near(name, ADULT_ROLE_WORDS, 30)):
            out.append(name)
    if d.context.author_role in (AuthorRole.FAMILY_MEMBER, *INSIDER_ROLES):
        # A parent (or a member of staff) writing about their own child shares their own news.
        own_refs = s.get("pii.own_child")
        own_names = {i.entry for i in out if i.entry and _own_child(d, i)}
        out = [
            i
            for i in out
            if not (own_refs and (i.entry in own_names or i.kind == "pii.photo_faces")) and not _own_child(d, i)
        ]
    return out


#: A name introduced to the reader ("... is called Sam", "a lad named Sam"): the author is
#: presenting someone the readers do not know, not writing about their own child.
_INTRODUCED = re.compile(r"\b(?:called|named|name is|name's|goes by)\s*$", re.IGNORECASE)
_OWN_ADJACENT = 15


def _own_child(d: RuleInput, ident: Signal) -> bool:
    """Return True if ``ident`` names the author's own child ("my son Sam", "Sam, my daughter").

    An own-child reference close by counts, unless it is not right next to the name and the name
    is introduced as someone else ("the boy who pushed my son ... is called Sam").
    """
    own = d.signals.near(ident, ("pii.own_child",), 40)
    if own is None:
        return False
    gap = max(own.span.start - ident.span.end, ident.span.start - own.span.end, 0)
    if gap <= _OWN_ADJACENT:
        return True
    before = d.text[max(0, ident.span.start - 16) : ident.span.start]
    return _INTRODUCED.search(before) is None


#: Kinds every ``confidential`` finding is made from (its primary evidence); see _ACCESS_EVIDENCE.
_CONFIDENTIAL_EVIDENCE = (
    "protected.child_name", "protected.family_name", "protected.code_name", "pii.nhs", "pii.ni_number",
    "pii.name_age", "pii.name_family", "pii.photo_faces", "pii.name",  # child identifiers
    "pii.dob", "pii.address", "pii.school", "pii.phone", "pii.postcode",  # personal details
    "internal.specific", "internal.hint", "safeguarding.term", "safeguarding.substance",
    "pii.su_ref", "pii.photo_nofaces",
)  # fmt: skip


def rule_confidential(d: RuleInput, b: _Builder) -> Finding | None:
    """``confidential``: people who use the service, internal matters, safeguarding."""
    s = d.signals
    if not s.has(*_CONFIDENTIAL_EVIDENCE):
        return None
    for kind in ("protected.child_name", "protected.family_name", "protected.code_name"):
        if s.has(kind):
            return b.make("confidential", Verdict.BLOCK, s.get(kind)[0],
                          "The post names a protected person or internal code name.")  # fmt: skip
    if s.has("pii.nhs"):
        return b.make("confidential", Verdict.BLOCK, s.get("pii.nhs")[0],
                      "The post discloses an NHS number.", extra=s.get("pii.dob", "pii.name"))  # fmt: skip
    if s.has("pii.ni_number"):
        return b.make("confidential", Verdict.BLOCK, s.get("pii.ni_number")[0],
                      "The post discloses a National Insurance number.")  # fmt: skip
    link = s.get(*ORG_ANY, "pii.su_ref", "pii.service_place") or (
        s.get("org.workplace", "affil.claim") if d.insider else []
    )
    own = s.has("pii.own_child")
    identifiers = _child_identifiers(d)
    details = s.get("pii.dob", "pii.address", "pii.school", "pii.phone", "pii.postcode")
    if identifiers and link:
        return b.make("confidential", Verdict.BLOCK, identifiers[0],
                      "The post identifies a child or family member and ties them to the service.",
                      support=link[0], extra=identifiers[1:] + details)  # fmt: skip
    aged = [i for i in identifiers if i.kind in ("pii.name_age", "pii.name_family")]
    health = s.get("pii.health", "pii.incident")
    if aged and health and not own:
        return b.make("confidential", Verdict.BLOCK, aged[0],
                      "The post names a child with their age and a health or behaviour detail.",
                      support=health[0])  # fmt: skip
    if details and (s.has("pii.su_ref") or (identifiers and link)):
        return b.make("confidential", Verdict.BLOCK, details[0],
                      "The post gives personal details of someone who uses the service.",
                      support=link[0] if link else None)  # fmt: skip
    for name in s.get("pii.name", "pii.name_family"):
        detail = s.near(name, ("pii.address", "pii.postcode", "pii.dob", "pii.school"), 100)
        if detail is not None and not _own_child(d, name):
            return b.make("confidential", Verdict.BLOCK, detail,
                          "The post gives a named person's address, date of birth or school.",
                          support=name)  # fmt: skip
    tie = s.get(*ORG_ANY, "org.workplace", "affil.claim")
    specific = s.get("internal.specific")
    if specific and tie and s.has("internal.rumour"):
        return b.make("confidential", Verdict.REVIEW, specific[0],
                      "The post repeats a rumour about an internal matter.", support=tie[0])  # fmt: skip
    if specific and tie:
        return b.make("confidential", Verdict.BLOCK, specific[0],
                      "The post discloses an internal matter (finances, restructure, disciplinary "
                      "or board business).", support=tie[0])  # fmt: skip
    sg_terms = s.get("safeguarding.term")
    sg_substance = s.get("safeguarding.substance")
    people = s.get("pii.su_ref", "pii.family_ref")
    if sg_substance and (people or link) and (sg_terms or len(sg_substance) >= 2):
        return b.make("confidential", Verdict.BLOCK, (sg_terms or sg_substance)[0],
                      "The post describes the substance of a safeguarding matter.",
                      support=sg_substance[-1])  # fmt: skip
    # Review: hints and unidentified incidents.
    hints = s.get("internal.hint")
    if hints and (tie or d.insider):
        return b.make("confidential", Verdict.REVIEW, hints[0],
                      "The post hints at confidential internal matters.")  # fmt: skip
    specific_sg = [t for t in sg_terms if t.entry != "safeguarding"]
    if (sg_terms and people) or (specific_sg and d.insider):
        return b.make("confidential", Verdict.REVIEW, sg_terms[0],
                      "The post refers to a safeguarding matter.")  # fmt: skip
    incidents = s.get("pii.incident", "pii.health")
    su = s.get("pii.su_ref")
    if sg_substance and s.has("pii.family_ref") and (su or link):
        return b.make("confidential", Verdict.REVIEW, sg_substance[0],
                      "The post describes what may be a safeguarding matter.")  # fmt: skip
    person_su = [x for x in su if s.near(x, ("pii.incident", "pii.health"), 60)]
    if incidents and person_su:
        return b.make("confidential", Verdict.REVIEW, person_su[0],
                      "The post describes an incident or health detail of someone who uses the "
                      "service.", support=incidents[0])  # fmt: skip
    if s.has("pii.photo_nofaces") and link:
        return b.make("confidential", Verdict.REVIEW, s.get("pii.photo_nofaces")[0],
                      "The post shares a photo from the service; check nobody is identifiable.")  # fmt: skip
    # A child's first name with no clear link to the centre is a review; from staff, volunteers
    # and trustees (who meet children through work) a described, named child is one as well.
    child = d.insider and any(s.near(i, ("pii.child_word",), 30) for i in identifiers)
    if identifiers and not own and (child or s.has("pii.name_age", "pii.photo_faces")):
        return b.make("confidential", Verdict.REVIEW, identifiers[0],
                      "The post names a child; check they are not someone who uses the service.")  # fmt: skip
    return None


def rule_affiliation(d: RuleInput, b: _Builder) -> Finding | None:
    """``affiliation`` (informational): an insider says they work there and the org is identifiable."""
    s = d.signals
    if not d.insider:
        return None
    claims = [
        c for c in s.get("affil.claim", "affil.work_email", "affil.first_person") if c.pattern_name != "role_mailbox"
    ]
    org = [o for o in s.get(*ORG_ANY) if o.pattern_name != "org_implicit_weak"]
    if claims and org:
        return b.make("affiliation", Verdict.ALLOW, claims[0],
                      "The author says they work or volunteer for the organisation; that is "
                      "allowed if nothing else in the post breaches the policy.", support=org[0])  # fmt: skip
    return None


#: Rules in evaluation order; each is independent of the others' output.
RULES: tuple[tuple[str, Callable[[RuleInput, _Builder], Finding | None]], ...] = (
    ("org_email", rule_org_email),
    ("access", rule_access),
    ("confidential", rule_confidential),
    ("affiliation", rule_affiliation),
)


def apply_rules(data: RuleInput, redact: Callable[[int, int], str]) -> list[Finding]:
    """Run every rule over the signals.

    Args:
        data: Signals, context and pack.
        redact: ``redact(start, end)`` returns a redacted excerpt of the original text.

    Returns:
        Findings sorted deterministically (strongest first).

    """
    builder = _Builder(data, redact)
    pack = data.pack
    findings = [
        f
        for kind, rule in RULES
        if pack.clause_for_evidence(kind) is not None and (f := rule(data, builder)) is not None
    ]
    if data.context.author_role is AuthorRole.CORPORATE:  # defensive: engine short-circuits first
        return []
    findings.sort(key=Finding.sort_key)
    return findings


def verdict_of(findings: Iterable[Finding]) -> Verdict:
    """Combine findings into a verdict: the strongest action (an informational finding's is allow).

    Args:
        findings: The post's findings.

    Returns:
        block, review or allow.

    """
    verdict = Verdict.ALLOW
    for f in findings:
        if f.action.rank > verdict.rank:
            verdict = f.action
    return verdict


def redacts_people(findings: Iterable[Finding], people_clauses: frozenset[str]) -> bool:
    """Return True if ``findings`` concern people, so names are redacted too (REDACT_WITH_PEOPLE).

    Args:
        findings: The post's findings.
        people_clauses: Rule ids of the clauses about people (the pack's ``concerns_people``).

    """
    return any(f.rule_id in people_clauses for f in findings)


def spans_to_redact(signals: Signals, people: bool, text: str = "") -> list[tuple[Span, str]]:
    """Return ``(span, placeholder)`` pairs to replace in suggested text, non-overlapping, sorted.

    Args:
        signals: All signals of the post.
        people: A finding concerns people, so names are redacted as well.
        text: The original post; a name's replacement then also covers its surname and age.

    Returns:
        Replacement list.

    """
    kinds = REDACT_ALWAYS | (REDACT_WITH_PEOPLE if people else frozenset())
    candidates = [
        (s.span, s.placeholder or "[REDACTED]") for s in signals.all if s.kind in kinds and s.span.end > s.span.start
    ]
    if text:
        candidates = [
            (Span(*name_extent(text, sp.start, sp.end)), ph) if ph in _NAME_PLACEHOLDERS else (sp, ph)
            for sp, ph in candidates
        ]
    candidates.sort(key=lambda c: (c[0].start, -(c[0].end - c[0].start), c[1]))
    out: list[tuple[Span, str]] = []
    last_end = -1
    for span, placeholder in candidates:
        if span.start >= last_end:
            out.append((span, placeholder))
            last_end = span.end
    return out
