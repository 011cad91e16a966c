"""Request and response models of the screening API."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.config import JsonDict

from app.pagination import examples_of, page_example
from app.screening.types import AuthorRole, Severity, Verdict
from app.validation import MULTI_LINE_PATTERN, single_line

_POST_EXAMPLE: JsonDict = {
    "text": "Great day volunteering at the centre! Call me on 07700 900123 about the raffle.",
    "author": {"id": "vol-2201", "role": "volunteer"},
    "platform": "facebook",
    "context": {"account": "personal"},
    "store": True,
    "explain": False,
}


class Author(BaseModel):
    """Who wrote the post."""

    model_config = ConfigDict(extra="forbid")

    id: Annotated[str, single_line(200)] = Field(description="The author's id in your HR system.")
    role: AuthorRole = Field(description="The author's relationship to the organisation.")


class PostContext(BaseModel):
    """Facts about the post that are not in its text."""

    model_config = ConfigDict(extra="forbid")

    account: Literal["personal", "corporate"] = Field(
        default="personal",
        description="`corporate` = the organisation's own account posting for business (out of scope).",
    )
    authority_id: uuid.UUID | None = Field(
        default=None,
        description="A prior-authority grant (`POST /v1/authorities`) the author relies on.",
    )
    registration_email: str | None = Field(
        default=None,
        max_length=254,
        pattern=r"^[^@\s]+@[^@\s]+$",
        description="The email the author registered the social account with (sign-up checks).",
    )


class PostIn(BaseModel):
    """One post to screen (inside a batch)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [_POST_EXAMPLE]})

    text: str = Field(
        min_length=1,
        json_schema_extra={"pattern": MULTI_LINE_PATTERN},
        description="The post as it would be published. At most `POLICY_MAX_TEXT_CHARS` (default "
        "10,000) characters; control characters other than tab, LF and CR are rejected (422).",
    )
    author: Author
    platform: Annotated[str, single_line(50)] = Field(examples=["facebook", "x", "instagram"])
    context: PostContext = Field(default_factory=PostContext)


class ScreeningCreate(PostIn):
    """One post to screen, with storage and explanation options."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [_POST_EXAMPLE]})

    store: bool = Field(
        default=True, description="Keep the result (201 with an id); false keeps nothing (200, `id: null`)."
    )
    explain: bool = Field(default=False, description="Include each finding's `explanation`.")


class ScreeningBatchCreate(BaseModel):
    """Up to `POLICY_MAX_BATCH_SIZE` (default 100) posts screened and stored in one transaction."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "items": [
                        {k: v for k, v in _POST_EXAMPLE.items() if k not in ("store", "explain")},
                        {
                            "text": "The door code at the centre is 4821, don't tell anyone.",
                            "author": {"id": "vol-2202", "role": "volunteer"},
                            "platform": "x",
                        },
                    ],
                    "store": True,
                    "explain": False,
                }
            ]
        },
    )

    items: list[PostIn] = Field(min_length=1, description="The posts, answered in the same order.")
    store: bool = Field(default=True, description="Keep the results (201); false keeps nothing (200).")
    explain: bool = Field(default=False, description="Include each finding's `explanation`.")


class SpanOut(BaseModel):
    """Half-open character offsets `[start, end)` into the text as submitted."""

    start: int
    end: int


class ExplanationOut(BaseModel):
    """How a finding's confidence was reached (returned only with `explain: true`)."""

    detector: str
    base_score: float
    context_boost: float
    supporting_word: str | None = None
    validation: str | None = None
    pattern_name: str | None = None


class FindingOut(BaseModel):
    """One clause the post breaches (or, for SM-AFFILIATION, touches)."""

    rule_id: str = Field(examples=["SM-CONFIDENTIAL"])
    clause: str = Field(description="The policy sentence the rule enforces.")
    severity: Severity
    confidence: float = Field(ge=0, le=1)
    spans: list[SpanOut]
    evidence: str = Field(
        description="An excerpt around the spans, redacted exactly as `suggested_text` is: it never holds "
        "what was redacted."
    )
    categories: list[str] = Field(
        default_factory=list,
        description="Kinds of data redacted from the evidence (`name`, `phone`, `code`, `ni_number`, …).",
        examples=[["name", "phone"]],
    )
    reason: str
    remediation: str
    explanation: ExplanationOut | None = Field(
        default=None, description="Present only when the request set `explain: true`."
    )


class ScreeningRead(BaseModel):
    """The result of screening one post (stored, or not when `id` is null)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "3f2a9c1e-8b7d-4e6f-a5c4-1d2e3f4a5b6c",
                    "verdict": "review",
                    "risk_score": 0.55,
                    "findings": [
                        {
                            "rule_id": "SM-AFFILIATION",
                            "clause": "If you tell others that you work for {organisation}…",
                            "severity": "low",
                            "confidence": 0.9,
                            "spans": [{"start": 25, "end": 35}],
                            "evidence": "…volunteering at the centre! Call me on [PHONE]…",
                            "categories": ["phone"],
                            "reason": "The post says the author is connected with the organisation.",
                            "remediation": "Make sure nothing else in the post breaches the policy.",
                        }
                    ],
                    "suggested_text": "Great day volunteering at the centre! Call me on [PHONE] about the raffle.",
                    "policy_version": "2019.11+1a2b3c4d",
                    "engine_version": "2.0.0+model.5d1c0e9a7b42",
                    "notes": [],
                    "created_at": "2026-01-05T10:15:00Z",
                    "author": {"id": "vol-2201", "role": "volunteer"},
                    "platform": "facebook",
                    "account": "personal",
                    "authority_id": None,
                    "text_hmac": "5c0e6f2b9d0a4f3e8c1b7a6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f",
                }
            ]
        }
    )

    id: uuid.UUID | None = Field(description="Null when the request set `store: false`.")
    verdict: Verdict
    risk_score: float = Field(ge=0, le=1)
    findings: list[FindingOut]
    suggested_text: str = Field(description="The post with personal data and secrets replaced.")
    policy_version: str = Field(description="The policy pack's version and a short hash of its content.")
    engine_version: str = Field(
        description="The screening engine's version and the clause model it used (`model.` + the first 12 hex "
        "of the artifact's SHA-256), so a decision can be reproduced later."
    )
    notes: list[str]
    created_at: dt.datetime = Field(description="When the post was screened.")
    author: Author
    platform: str
    account: Literal["personal", "corporate"]
    authority_id: uuid.UUID | None = None
    text_hmac: str = Field(
        description="HMAC-SHA256 (hex) of the UTF-8 text under a key derived from the service secret: the "
        "service can tell whether two screenings were of the same text, but nobody can confirm a guessed "
        "post from it. The text itself is never kept. Empty for screenings stored before keyed digests."
    )


class ScreeningBatchRead(BaseModel):
    """The results of a batch, in the order of the request."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"items": examples_of(ScreeningRead), "count": 1}]})

    items: list[ScreeningRead]
    count: int


class ScreeningPage(BaseModel):
    """One page of stored screenings, newest first."""

    model_config = ConfigDict(json_schema_extra={"examples": [page_example(ScreeningRead)]})

    items: list[ScreeningRead]
    next_cursor: str | None = Field(default=None, description="Pass as `cursor` for the next page.")
