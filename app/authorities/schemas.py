"""Request and response models for prior-authority grants."""

from __future__ import annotations

import datetime as dt
import uuid
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.pagination import page_example
from app.validation import AwareDatetime, single_line


class GrantStatus(StrEnum):
    """Where a grant stands right now."""

    ACTIVE = "active"
    PENDING = "pending"
    EXPIRED = "expired"
    REVOKED = "revoked"


class AuthorityCreate(BaseModel):
    """A manager's grant of prior authority to speak publicly on a topic."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "person_id": "emp-1042",
                    "topic": "Fundraising appeals (standing spokesperson)",
                    "valid_from": "2026-01-05T09:00:00Z",
                    "valid_until": "2099-12-31T17:00:00Z",
                }
            ]
        },
    )

    person_id: Annotated[str, single_line(200)] = Field(description="The author id screenings cite.")
    topic: Annotated[str, single_line(200)] = Field(description="What the person may speak about.")
    valid_from: AwareDatetime | None = Field(default=None, description="Start (aware); now when omitted.")
    valid_until: AwareDatetime = Field(description="End (aware, exclusive); after `valid_from`.")

    @model_validator(mode="after")
    def _until_after_from(self) -> AuthorityCreate:
        # Without valid_from the start is the service's "now", checked there (`service.create`).
        if self.valid_from is not None and self.valid_until <= self.valid_from:
            raise ValueError("valid_until must be after valid_from")
        return self


class AuthorityRead(BaseModel):
    """A grant as stored, with its current status."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "5b0a6c1e-2f43-4b8e-9c1d-3e7f9a2b6d40",
                    "person_id": "emp-1042",
                    "topic": "Fundraising appeals (standing spokesperson)",
                    "valid_from": "2026-01-05T09:00:00Z",
                    "valid_until": "2099-12-31T17:00:00Z",
                    "granted_by": "manager-7",
                    "created_at": "2026-01-05T08:55:00Z",
                    "revoked_at": None,
                    "revoked_by": None,
                    "status": "active",
                }
            ]
        }
    )

    id: uuid.UUID
    person_id: str
    topic: str
    valid_from: dt.datetime
    valid_until: dt.datetime
    granted_by: str
    created_at: dt.datetime
    revoked_at: dt.datetime | None = None
    revoked_by: str | None = None
    status: GrantStatus


class AuthorityPage(BaseModel):
    """One page of grants, newest first."""

    model_config = ConfigDict(json_schema_extra={"examples": [page_example(AuthorityRead)]})

    items: list[AuthorityRead]
    next_cursor: str | None = Field(default=None, description="Pass as `cursor` for the next page.")
