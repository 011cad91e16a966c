"""Request and response models of the policy API (review status, clauses, reviews, acknowledgements)."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

from app.pagination import examples_of, page_example
from app.policy.status import ReviewStatus

VersionLabel = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=50, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$"),
]
PersonId = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200, pattern=r"^[\x21-\x7e]+$"),
]


def _iso_date_only(value: object) -> object:
    # Pydantic would also take a Unix timestamp or a midnight datetime; a review date is a calendar day.
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return value
    raise ValueError("must be a calendar date written YYYY-MM-DD")


IsoDate = Annotated[dt.date, BeforeValidator(_iso_date_only)]


class ReviewSource(StrEnum):
    """Where a review in the history comes from."""

    PACK = "pack"
    RECORDED = "recorded"


class AcknowledgementCoverage(BaseModel):
    """How many of the people known to the service have acknowledged the current version."""

    version: str = Field(description="The version the counts are for (the current one).", examples=["2019-11"])
    acknowledged: int = Field(ge=0, description="People who acknowledged this version.", examples=[12])
    known_people: int = Field(
        ge=0,
        description="Distinct people known to the service: acknowledgers (any version), screening authors and "
        "incident subjects.",
        examples=[40],
    )
    outstanding: int = Field(ge=0, description="Known people who have not acknowledged this version.", examples=[28])
    share: float | None = Field(
        ge=0, le=1, description="acknowledged / known_people, or null when nobody is known yet.", examples=[0.3]
    )


class PolicyStatusRead(BaseModel):
    """The policy's review status at a glance."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "title": "Social Media",
                    "organisation": "{organisation}",
                    "version": "2019-11",
                    "label": "Reviewed Nov 2019",
                    "last_reviewed": "2019-11-01",
                    "reviewed_by": None,
                    "review_interval_months": 12,
                    "due_soon_days": 60,
                    "next_review_due": "2020-11-01",
                    "status": "overdue",
                    "days_overdue": 1850,
                    "days_until_due": 0,
                    "as_of": "2025-11-25",
                    "clause_count": 8,
                    "policy_pack_version": "1.0.0+d6b2db0c",
                    "acknowledgements": {
                        "version": "2019-11",
                        "acknowledged": 12,
                        "known_people": 40,
                        "outstanding": 28,
                        "share": 0.3,
                    },
                }
            ]
        }
    )

    title: str = Field(description="The policy's title.")
    organisation: str
    version: str = Field(description="Label of the current version (the latest review's).")
    label: str = Field(description="Human label of the latest review, as the document prints it.")
    last_reviewed: dt.date = Field(
        description="Date of the latest review (the pack's, unless a later one is recorded)."
    )
    reviewed_by: str | None = Field(description="Who carried out the latest review; null for the pack's original.")
    review_interval_months: int = Field(description="Months between reviews (`POLICY_REVIEW_INTERVAL_MONTHS`).")
    due_soon_days: int = Field(
        description="Days before the due date that count as due soon (`POLICY_REVIEW_DUE_SOON_DAYS`)."
    )
    next_review_due: dt.date
    status: ReviewStatus = Field(description="`current`, `due_soon` (within the window or on the day) or `overdue`.")
    days_overdue: int = Field(ge=0, description="Days past the due date; 0 unless overdue.")
    days_until_due: int = Field(ge=0, description="Days left until the due date; 0 once due.")
    as_of: dt.date = Field(description="The date (UTC) the status was computed for.")
    clause_count: int = Field(ge=0)
    policy_pack_version: str = Field(description="Version and content hash of the loaded policy pack.")
    acknowledgements: AcknowledgementCoverage


class PolicyClauseRead(BaseModel):
    """One clause of the policy: the rule id, the policy's own sentence, severity and remediation."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "rule_id": "SM-ORG-EMAIL",
                    "title": "Do not register with an organisation email",
                    "text": "You must not use your {organisation} email address to register on such sites.",
                    "severity": "medium",
                    "remediation": "Register with a personal email address instead of your {organisation} one.",
                }
            ]
        }
    )

    rule_id: str = Field(examples=["SM-ORG-EMAIL"])
    title: str
    text: str = Field(description="The policy sentence the rule enforces, quoted verbatim.")
    severity: Literal["low", "medium", "high"]
    remediation: str = Field(description="What the author should do instead.")


class PolicyClauseList(BaseModel):
    """Every clause of the policy pack, in the pack's order."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": examples_of(PolicyClauseRead),
                    "count": 1,
                    "policy_pack_version": "1.1.0",
                }
            ]
        }
    )

    items: list[PolicyClauseRead]
    count: int
    policy_pack_version: str


class PolicyReviewCreate(BaseModel):
    """A review of the policy document, recorded once it has been carried out."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "reviewed_on": "2025-03-14",
                    "reviewer": "hr-lead-07",
                    "summary": "Annual review: clauses unchanged; complaint channel wording clarified.",
                    "version": "2025-03",
                }
            ]
        },
    )

    reviewed_on: IsoDate = Field(
        description="Date the review was carried out (`YYYY-MM-DD`); not in the future, not before the last review."
    )
    reviewer: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$")
    ] = Field(description="Who reviewed it (an id or a role, as your HR system names them).")
    summary: Annotated[
        str,
        # Line breaks and tabs are fine in a summary; other control characters (NUL above all, which
        # PostgreSQL cannot store) are not.
        StringConstraints(
            strip_whitespace=True, min_length=1, max_length=4000, pattern=r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]+$"
        ),
    ] = Field(description="What the review concluded or changed (plain text; line breaks allowed).")
    version: VersionLabel = Field(
        description="Label of the new version (letters, digits, `.`, `_`, `-`); must differ from every earlier one.",
        examples=["2025-03"],
    )


class PolicyReviewRead(BaseModel):
    """One review in the policy's history."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "5b1d2c3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e",
                    "source": "recorded",
                    "version": "2026-11",
                    "previous_version": "2019-11",
                    "reviewed_on": "2026-11-20",
                    "reviewer": "hr-lead",
                    "summary": "Reviewed against current guidance; clauses unchanged.",
                    "recorded_by": "hr-system",
                    "created_at": "2026-11-20T14:02:11Z",
                }
            ]
        }
    )

    id: uuid.UUID = Field(description="Stable id; the pack's original review has a fixed one derived from the pack.")
    source: ReviewSource = Field(description="`pack` for the review printed in the policy, `recorded` for later ones.")
    version: str
    previous_version: str | None = Field(description="The version this review superseded; null for the original.")
    reviewed_on: dt.date
    reviewer: str | None = Field(description="Null for the pack's original review (the document does not say).")
    summary: str
    recorded_by: str | None = Field(description="Token subject that recorded the review; null for the original.")
    created_at: dt.datetime = Field(
        description="When it was recorded; for the original, midnight UTC of its review date."
    )


class PolicyReviewPage(BaseModel):
    """A page of the review history, newest first."""

    model_config = ConfigDict(json_schema_extra={"examples": [page_example(PolicyReviewRead)]})

    items: list[PolicyReviewRead]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")


class AcknowledgementCreate(BaseModel):
    """Acknowledge the current version of the policy (yourself, or with `policy:write` someone else)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{}, {"person_id": "vol-0042"}, {"version": "2019-11"}]},
    )

    person_id: PersonId | None = Field(
        default=None,
        description="Who acknowledges; defaults to the token's subject. Naming someone else needs `policy:write`.",
        examples=["vol-0042"],
    )
    version: VersionLabel | None = Field(
        default=None,
        description="The version the person read; when given it must be the current one (409 otherwise).",
        examples=["2019-11"],
    )


class AcknowledgementRead(BaseModel):
    """One person's acknowledgement of one version."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "8c7b6a59-4d3e-4f2a-9b1c-0d9e8f7a6b5c",
                    "person_id": "vol-0042",
                    "version": "2026-11",
                    "recorded_by": "hr-system",
                    "acknowledged_at": "2026-11-21T09:30:00Z",
                }
            ]
        }
    )

    id: uuid.UUID
    person_id: str
    version: str
    recorded_by: str = Field(description="Token subject that recorded it (the person themselves, or HR).")
    acknowledged_at: dt.datetime


class AcknowledgementPage(BaseModel):
    """A page of acknowledgements of one version, newest first."""

    model_config = ConfigDict(json_schema_extra={"examples": [page_example(AcknowledgementRead, version="2026-11")]})

    version: str = Field(description="The version listed (the current one unless `version` was given).")
    items: list[AcknowledgementRead]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")


class OutstandingPerson(BaseModel):
    """A person known to the service who has not acknowledged the current version."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"person_id": "emp-1042", "last_acknowledged_version": "2019-11"}]}
    )

    person_id: str
    last_acknowledged_version: str | None = Field(
        description="The latest earlier version they acknowledged, or null if none."
    )


class OutstandingPage(BaseModel):
    """Known people who have not acknowledged the current version, ordered by person id."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [page_example(OutstandingPerson, version="2026-11", total=1)]}
    )

    version: str = Field(description="The current version.")
    total: int = Field(ge=0, description="How many people are outstanding in all (not only on this page).")
    items: list[OutstandingPerson]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")
