"""The policy pack: the organisation's identity, the clause catalogue and the detector lexicons.

A pack is one TOML file validated by pydantic. ``load_pack()`` reads the bundled pack by name or any
TOML file by path; a malformed pack raises :class:`PackError` naming the offending entry, so a bad
pack fails at start-up rather than during a request.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import tomllib
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

PACKS_DIR = Path(__file__).parent / "packs"


def default_pack_name() -> str:
    """Return the bundled pack used when POLICY_POLICY_PACK is unset: the only one shipped.

    The organisation is named in its pack, never in Python; with several bundled packs the
    deployment must choose one.
    """
    names = sorted(path.stem for path in PACKS_DIR.glob("*.toml"))
    if len(names) != 1:
        raise PackError(f"POLICY_POLICY_PACK must name one of the bundled packs {names}")
    return names[0]


#: The shape of a clause id (``SM-ACCESS``, ``HYC-WORK-EMAIL``): the ids themselves are the pack's.
RULE_ID_PATTERN = r"^[A-Z][A-Z0-9]*(?:-[A-Z0-9]+){1,4}$"
RULE_ID_MAX_LENGTH = 40
_RULE_ID = re.compile(RULE_ID_PATTERN)
LADDER_STAGES = ("spoken_to", "legal_letter", "attendance_denied", "disciplinary_referral", "resolved")


class PackError(ValueError):
    """A policy pack could not be found, parsed or validated."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Organisation(_Frozen):
    """Who the organisation is, and how posts may refer to it."""

    name: str
    aliases: list[str] = Field(default_factory=list)
    domains: list[str] = Field(default_factory=list)
    email_domains: list[str] = Field(default_factory=list)
    website: str | None = None
    public_email: str | None = None
    phones: list[str] = Field(default_factory=list)
    company_number: str | None = None
    handles: list[str] = Field(default_factory=list)
    hashtags: list[str] = Field(default_factory=list)
    implicit_references: list[str] = Field(default_factory=list)
    not_references: list[str] = Field(default_factory=list)


class Clause(_Frozen):
    """One rule of the policy with the sentence it enforces."""

    rule_id: str
    title: str
    text: str
    severity: Literal["low", "medium", "high"]
    remediation: str
    informational: bool = Field(False, description="noted, never a breach (e.g. saying where you work)")
    waived_by_authority: bool = Field(False, description="not listed when a manager's prior authority is cited")
    insiders_only: bool = Field(False, description="binds staff, volunteers and trustees only")
    learned_reason: str | None = Field(None, description="reason shown when the clause model found the breach")
    evidence: Literal["org_email", "access", "confidential", "affiliation"] | None = Field(
        None, description="which exact-evidence rule of the engine produces findings for this clause"
    )
    concerns_people: bool = Field(False, description="its findings are about people: names are redacted too")

    @field_validator("rule_id")
    @classmethod
    def _rule_id_shape(cls, value: str) -> str:
        if not _RULE_ID.fullmatch(value) or len(value) > RULE_ID_MAX_LENGTH:
            raise ValueError(f"rule id {value!r} must be upper-case words joined by hyphens, such as SM-ACCESS")
        return value


class ReviewMeta(_Frozen):
    """Review status of the policy document."""

    title: str
    organisation: str
    last_reviewed: dt.date
    label: str
    version: str
    interval_months: int = 12


class LadderStep(_Frozen):
    """One stage of the escalation ladder with the policy's own wording."""

    stage: Literal["spoken_to", "legal_letter", "attendance_denied", "disciplinary_referral", "resolved"]
    wording: str
    roles: list[str]


class LadderMeta(_Frozen):
    """The escalation ladder of the "Derogatory Posts and Comments" section."""

    steps: list[LadderStep]
    incident_rule: str = Field(
        description="the clause a recorded derogatory post breaches; the legal letter quotes it first"
    )

    def step(self, stage: str) -> LadderStep:
        """Return the step for ``stage`` or raise KeyError."""
        for step in self.steps:
            if step.stage == stage:
                return step
        raise KeyError(stage)


class Thresholds(_Frozen):
    """Score cut-offs for turning findings into verdicts, and context-boost settings."""

    block: float = Field(0.75, ge=0, le=1)
    review: float = Field(0.4, ge=0, le=1)
    context_window: int = Field(8, ge=1, le=50)
    context_boost: float = Field(0.15, ge=0, le=1)
    context_cap: float = Field(0.3, ge=0, le=1)
    fuzzy_name_score: float = Field(84.0, ge=50, le=100)
    regex_timeout_s: float = Field(0.05, gt=0, le=5)

    @model_validator(mode="after")
    def _ordered(self) -> Thresholds:
        if self.review > self.block:
            raise ValueError("thresholds.review must not exceed thresholds.block")
        return self


class ExternalLabel(_Frozen):
    """How one class of an external labelled set maps onto this pack's labels."""

    verdict: Literal["allow", "review", "block"]
    rules: list[str] = Field(default_factory=list)


class ExternalSource(_Frozen):
    """A public labelled set (CSV) used for training, with a held-out share kept for measuring."""

    name: str
    path: str = Field(description="relative to the repository root")
    sha256: str
    text_column: str
    label_column: str
    labels: dict[str, ExternalLabel]
    train_share: float = Field(0.6, gt=0, lt=1)


class LearnedConfig(_Frozen):
    """Where the clause model learns from and what its thresholds aim for."""

    corpus: str = Field(description="corpus folder relative to the repository root (train/ and test/ inside)")
    C: float = Field(8.0, gt=0, description="inverse regularisation strength, chosen by grouped CV")
    folds: int = Field(5, ge=2)
    max_false_block: float = Field(0.02, ge=0, le=1)
    min_block_flagged: float = Field(0.97, ge=0, le=1)
    external: list[ExternalSource] = Field(default_factory=list)


class PolicyPack(_Frozen):
    """A validated policy pack (immutable)."""

    name: str
    version: str
    content_hash: str = Field(description="sha256 of the TOML file content, hex")
    organisation: Organisation
    clauses: list[Clause]
    review: ReviewMeta
    ladder: LadderMeta
    complaint_channel: str
    out_of_scope_note: str
    thresholds: Thresholds = Field(default_factory=Thresholds)
    lexicons: dict[str, list[str]] = Field(default_factory=dict)
    patterns: dict[str, str] = Field(default_factory=dict)
    learned: LearnedConfig | None = None

    @model_validator(mode="after")
    def _complete(self) -> PolicyPack:
        ids = [c.rule_id for c in self.clauses]
        if not ids:
            raise ValueError("clauses: the pack names no clause")
        dupes = sorted({r for r in ids if ids.count(r) > 1})
        if dupes:
            raise ValueError(f"clauses: duplicate rule ids {dupes}")
        kinds = [c.evidence for c in self.clauses if c.evidence]
        shared = sorted({k for k in kinds if kinds.count(k) > 1})
        if shared:
            raise ValueError(f"clauses: evidence {shared} is given to more than one clause")
        if self.ladder.incident_rule not in ids:
            raise ValueError(f"ladder.incident_rule: {self.ladder.incident_rule!r} is not one of the clauses {ids}")
        for key, words in self.lexicons.items():
            for word in words:
                if not word.strip():
                    raise ValueError(f"lexicons.{key}: empty entry")
        for key, pattern in self.patterns.items():
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"patterns.{key}: invalid regex: {exc}") from exc
        return self

    @property
    def policy_version(self) -> str:
        """Return ``"<version>+<8 hex of the content hash>"``, stamped on every result."""
        return f"{self.version}+{self.content_hash[:8]}"

    @cached_property
    def _clause_index(self) -> dict[str, Clause]:
        return {c.rule_id: c for c in self.clauses}

    def clause(self, rule_id: str) -> Clause:
        """Return the clause for ``rule_id``.

        Args:
            rule_id: One of the fixed rule ids.

        Returns:
            The clause.

        Raises:
            KeyError: if the pack has no such clause.

        """
        return self._clause_index[rule_id]

    @cached_property
    def _evidence_index(self) -> dict[str, Clause]:
        return {c.evidence: c for c in self.clauses if c.evidence}

    def clause_for_evidence(self, kind: str) -> Clause | None:
        """Return the clause an exact-evidence rule (``org_email``, ``access``, ...) reports under, if any."""
        return self._evidence_index.get(kind)

    def lexicon(self, key: str) -> list[str]:
        """Return lexicon ``key``; raise PackError naming it when the pack lacks it."""
        try:
            return self.lexicons[key]
        except KeyError:
            raise PackError(f"policy pack {self.name!r} has no lexicon {key!r}") from None


def _resolve(source: str | None) -> Path:
    if source is None:
        source = default_pack_name()
    if "/" in source or "\\" in source or source.endswith(".toml"):
        path = Path(source)
    else:
        if not re.fullmatch(r"[A-Za-z0-9_\-]+", source):
            raise PackError(f"invalid pack name {source!r}")
        path = PACKS_DIR / f"{source}.toml"
    if not path.is_file():
        raise PackError(f"policy pack not found: {source!r}")
    return path


def _format_error(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"])
        parts.append(f"{loc or '<pack>'}: {err['msg']}")
    return "; ".join(parts)


@lru_cache(maxsize=16)
def load_pack(source: str | None = None) -> PolicyPack:
    """Load and validate a policy pack.

    Args:
        source: ``None`` for the default bundled pack, a bare name for a bundled pack, or a path to
            a TOML file.

    Returns:
        The validated, immutable pack.

    Raises:
        PackError: if the pack is missing, is not valid TOML, or fails validation; the message
            names the bad entry.

    """
    path = _resolve(source)
    raw = path.read_bytes()
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise PackError(f"policy pack {path.name}: not valid TOML: {exc}") from exc
    data.setdefault("name", path.stem)
    data["content_hash"] = hashlib.sha256(raw).hexdigest()
    try:
        return PolicyPack.model_validate(data)
    except ValidationError as exc:
        raise PackError(f"policy pack {path.name}: {_format_error(exc)}") from exc
