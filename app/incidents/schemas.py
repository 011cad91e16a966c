"""Request and response models of the incidents API."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
    StringConstraints,
)

from app.escalation.ladder import Role, Stage, Status
from app.pagination import page_example
from app.validation import AwareDatetime, plain_text

SubjectId = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200, pattern=r"^[\x21-\x7e]+$"),
]
Platform = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=50, pattern=r"^[^\x00-\x1f\x7f]+$"),
]


#: How far ahead of the service's clock a `posted_at` may be: HR systems' clocks run a little fast.
POSTED_AT_SLACK = dt.timedelta(minutes=5)


class Subject(BaseModel):
    """The person an incident is about: the id HR knows them by, and their role."""

    model_config = ConfigDict(extra="forbid")

    id: SubjectId = Field(description="External id of the person (HR reference), not a name.", examples=["vol-0042"])
    role: Role = Field(examples=["volunteer"])


class IncidentCreate(BaseModel):
    """A derogatory-post incident as HR records it."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "subject": {"id": "vol-0042", "role": "volunteer"},
                    "platform": "facebook",
                    "url": "https://facebook.com/posts/12345",
                    "posted_at": "2026-11-20T18:30:00Z",
                    "summary": "Public post complaining about the centre's managers instead of raising it with staff.",
                    "evidence": "Screenshot held by HR, ref HR-2026-117.",
                }
            ]
        },
    )

    subject: Subject
    platform: Platform = Field(examples=["facebook"])
    url: HttpUrl | None = Field(default=None, description="Link to the post (http or https).")
    # Not in the future: checked by the service against its clock (`service.create`), not here.
    posted_at: AwareDatetime = Field(description="When the post was published; with a timezone, not in the future.")
    summary: Annotated[str, plain_text(2000)] = Field(description="What was posted, in HR's words.")
    evidence: Annotated[str, plain_text(10_000)] | None = Field(
        default=None,
        description="HR's evidence; returned only to incidents:read.",
    )
    screening_id: uuid.UUID | None = Field(default=None, description="A stored screening of the post.")


class CaseSummary(BaseModel):
    """Where the subject's escalation case stands."""

    stage: Stage
    version: int
    status: Status


class IncidentRead(BaseModel):
    """A recorded incident."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "0b9d8c1e-5f0a-4a57-9a53-2f4f2b0f7d10",
                    "subject_id": "vol-0042",
                    "subject_role": "volunteer",
                    "platform": "facebook",
                    "url": "https://facebook.com/posts/12345",
                    "posted_at": "2026-11-20T18:30:00Z",
                    "summary": "Public post complaining about the centre's managers.",
                    "evidence": "Screenshot held by HR, ref HR-2026-117.",
                    "screening_id": None,
                    "reported_by": "hr-anna",
                    "created_at": "2026-11-21T09:00:00Z",
                    "case": {"stage": "none", "version": 1, "status": "open"},
                }
            ]
        }
    )

    id: uuid.UUID
    subject_id: str
    subject_role: Role
    platform: str
    url: str | None
    posted_at: dt.datetime
    summary: str
    evidence: str | None = Field(description="Present only for tokens with incidents:read.")
    screening_id: uuid.UUID | None
    reported_by: str
    created_at: dt.datetime
    case: CaseSummary


class IncidentPage(BaseModel):
    """One page of incidents, newest first."""

    model_config = ConfigDict(json_schema_extra={"examples": [page_example(IncidentRead)]})

    items: list[IncidentRead]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last.")
