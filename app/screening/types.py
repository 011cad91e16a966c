"""Value types of the screening engine: pure, immutable, no I/O.

Frozen dataclasses rather than pydantic models: a screening creates dozens of these per post and the
engine's speed budget (sub-millisecond per post) makes validation overhead matter. Pydantic (and
FastAPI) serialise dataclasses natively, so the HTTP layer can still use them in schemas.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal


class Verdict(StrEnum):
    """Outcome of a screening, ordered allow < review < block."""

    ALLOW = "allow"
    REVIEW = "review"
    BLOCK = "block"

    @property
    def rank(self) -> int:
        """Return 0 for allow, 1 for review, 2 for block (for max())."""
        return _VERDICT_RANK[self]


_VERDICT_RANK = {Verdict.ALLOW: 0, Verdict.REVIEW: 1, Verdict.BLOCK: 2}


class AuthorRole(StrEnum):
    """Who wrote the post, in the policy's terms."""

    STAFF = "staff"
    VOLUNTEER = "volunteer"
    TRUSTEE = "trustee"
    SERVICE_USER = "service_user"
    FAMILY_MEMBER = "family_member"
    CORPORATE = "corporate"
    UNKNOWN = "unknown"


#: Roles the policy binds as members of the organisation (affiliation, debate, discipline).
INSIDER_ROLES = frozenset({AuthorRole.STAFF, AuthorRole.VOLUNTEER, AuthorRole.TRUSTEE})


class Severity(StrEnum):
    """Default severity of a clause."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


@dataclass(frozen=True, slots=True, order=True)
class Span:
    """Half-open character offsets ``[start, end)`` into the ORIGINAL text."""

    start: int
    end: int

    def __post_init__(self) -> None:
        if self.start < 0 or self.end < self.start:
            raise ValueError(f"invalid span [{self.start}, {self.end})")


@dataclass(frozen=True, slots=True)
class Explanation:
    """Why a finding has the confidence it has (audit trail, modelled on presidio's).

    Attributes:
        detector: Name of the detector whose signal decided the finding.
        base_score: Score of that signal before context.
        context_boost: Additive boost from supporting context (already capped).
        supporting_word: The context word or signal that gave the boost, if any.
        validation: Result of a checksum or validity check (e.g. ``"nhs_mod11_ok"``), if any.
        pattern_name: Name of the lexicon category or pattern that matched.

    """

    detector: str
    base_score: float
    context_boost: float = 0.0
    supporting_word: str | None = None
    validation: str | None = None
    pattern_name: str | None = None

    @property
    def final_score(self) -> float:
        """Return the bounded score; always equal to the finding's confidence."""
        return round(min(1.0, max(0.0, self.base_score + self.context_boost)), 4)


@dataclass(frozen=True, slots=True)
class Finding:
    """One breached (or, for SM-AFFILIATION, noted) clause of the policy.

    Attributes:
        rule_id: Fixed rule id such as ``"SM-ACCESS"``.
        clause: The verbatim policy sentence the rule enforces.
        severity: The clause's default severity.
        confidence: 0..1; equals ``explanation.final_score``.
        spans: Where in the original text the evidence is (sorted, half-open).
        evidence: A redacted excerpt around the first span.
        reason: Plain-English reason for the author.
        remediation: What the author should do instead.
        explanation: Internal audit detail of the score.
        action: What this finding alone asks for (block, review or allow).
        categories: Kinds of data redacted from the evidence (``"name"``, ``"phone"``, ``"code"``...),
            so a reader knows what was found without seeing it.

    """

    rule_id: str
    clause: str
    severity: Severity
    confidence: float
    spans: tuple[Span, ...]
    evidence: str
    reason: str
    remediation: str
    explanation: Explanation
    action: Verdict = Verdict.REVIEW
    categories: tuple[str, ...] = ()

    def sort_key(self) -> tuple[Any, ...]:
        """Return the deterministic ordering key (strongest first, then rule id, then position)."""
        first = self.spans[0] if self.spans else Span(0, 0)
        return (-self.action.rank, -self.confidence, self.rule_id, first.start, first.end)


@dataclass(frozen=True, slots=True)
class ScreenContext:
    """Facts about a post that are not in its text."""

    author_role: AuthorRole = AuthorRole.UNKNOWN
    platform: str | None = None
    account: Literal["personal", "corporate"] = "personal"
    prior_authority: bool = False
    registration_email: str | None = None

    def __post_init__(self) -> None:
        # Accept plain strings from callers (JSON) but store the enum.
        if not isinstance(self.author_role, AuthorRole):
            object.__setattr__(self, "author_role", AuthorRole(str(self.author_role)))
        if self.account not in ("personal", "corporate"):
            raise ValueError("account must be 'personal' or 'corporate'")


@dataclass(frozen=True, slots=True)
class ScreenResult:
    """The outcome of screening one post."""

    verdict: Verdict
    risk_score: float
    findings: tuple[Finding, ...]
    suggested_text: str
    policy_version: str
    engine_version: str
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def rule_ids(self) -> tuple[str, ...]:
        """Return the distinct rule ids found, sorted."""
        return tuple(sorted({f.rule_id for f in self.findings}))
