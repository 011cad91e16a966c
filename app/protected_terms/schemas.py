"""Request and response models for protected terms; the value goes in and never comes out."""

from __future__ import annotations

import datetime as dt
import uuid
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from app.pagination import page_example
from app.validation import single_line


class TermKind(StrEnum):
    """What a protected term is."""

    CHILD_NAME = "child_name"
    FAMILY_NAME = "family_name"
    STAFF_NAME = "staff_name"
    CODE_NAME = "code_name"
    ACCESS_CODE = "access_code"


class ProtectedTermCreate(BaseModel):
    """A name or code to protect; only its keyed hash is kept."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"kind": "child_name", "value": "Amelia Hartwell"}]},
    )

    kind: TermKind
    value: Annotated[str, single_line(200)] = Field(
        description=(
            "The name or code, one to four words once normalised (a longer one is a 422); normalised and "
            "hashed with the server key, never stored or returned."
        ),
    )


class ProtectedTermRead(BaseModel):
    """A registered term: id, kind and when; never the value."""

    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": "0b9d3c6e-3b51-4e0c-9a55-7d1c2b8f4e10",
                    "kind": "child_name",
                    "created_at": "2026-01-05T10:15:00Z",
                }
            ]
        },
    )

    id: uuid.UUID
    kind: TermKind
    created_at: dt.datetime


class ProtectedTermPage(BaseModel):
    """One page of protected terms, newest first."""

    model_config = ConfigDict(json_schema_extra={"examples": [page_example(ProtectedTermRead)]})

    items: list[ProtectedTermRead]
    next_cursor: str | None = Field(default=None, description="Pass as `cursor` for the next page.")
