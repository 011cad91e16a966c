"""Derogatory-post incidents recorded by HR about a subject."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import Column, Index, Text
from sqlmodel import Field, SQLModel

from app.audit.coverage import cover
from app.db import UTCDateTime, utcnow
from app.escalation import models as _escalation_models  # noqa: F401  (FK target in the metadata)


@cover
class Incident(SQLModel, table=True):
    """One recorded incident; the evidence is HR's own record and only read with incidents:read."""

    __tablename__ = "incident"
    __table_args__ = (
        Index("ix_incident_created_at_id", "created_at", "id"),
        Index("ix_incident_subject_id_created_at", "subject_id", "created_at"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    subject_id: str = Field(max_length=200)
    subject_role: str = Field(max_length=30)
    platform: str = Field(max_length=50)
    url: str | None = Field(default=None, max_length=2048)
    posted_at: dt.datetime = Field(sa_type=UTCDateTime)
    summary: str = Field(sa_column=Column(Text, nullable=False))
    evidence: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    # No foreign key: retention may purge screenings while the incident must stay.
    screening_id: uuid.UUID | None = Field(default=None)
    case_id: uuid.UUID = Field(foreign_key="escalation_case.id", index=True)
    reported_by: str = Field(max_length=200)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
