"""Escalation cases (one per subject) and their append-only event history."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import JSON, Column, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.audit.coverage import cover
from app.db import UTCDateTime, utcnow


@cover
class EscalationCase(SQLModel, table=True):
    """Where a subject stands on the ladder; `version` guards every change (If-Match)."""

    __tablename__ = "escalation_case"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    subject_id: str = Field(max_length=200, unique=True)
    subject_role: str = Field(max_length=30)
    stage: str = Field(default="none", max_length=30)
    status: str = Field(default="open", max_length=20)
    version: int = Field(default=1)
    disciplinary_referred: bool = Field(default=False)
    appeal_pending: bool = Field(default=False)
    pending_appeal_id: uuid.UUID | None = Field(default=None)
    appealable: bool = Field(default=False)
    previous_stage: str | None = Field(default=None, max_length=30)
    # Incidents recorded after this instant count as "repeated" for the next step.
    last_step_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


@cover
class EscalationEvent(SQLModel, table=True):
    """One thing that happened to a case; never updated or deleted."""

    __tablename__ = "escalation_event"
    # One event per case version: two writers can never both record the same step.
    __table_args__ = (UniqueConstraint("case_id", "version"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    case_id: uuid.UUID = Field(foreign_key="escalation_case.id", index=True)
    version: int = Field(description="The case version this event produced.")
    kind: str = Field(max_length=30)
    from_stage: str = Field(max_length=30)
    to_stage: str = Field(max_length=30)
    actor: str = Field(max_length=200)
    reason: str = Field(sa_column=Column(Text, nullable=False))
    incident_ids: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    appeal_id: uuid.UUID | None = Field(default=None, description="The appeal a decision answers.")
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
