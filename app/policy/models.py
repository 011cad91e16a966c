"""Recorded reviews of the policy document and staff acknowledgements of a version."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.audit.coverage import cover
from app.db import UTCDateTime, utcnow


@cover
class PolicyReview(SQLModel, table=True):
    """One recorded review; the pack's own original review is synthesised, never stored."""

    __tablename__ = "policy_review"
    __table_args__ = (
        # One review per version label, and each version superseded at most once: two reviews
        # racing from the same version cannot both land (the history stays a single line).
        UniqueConstraint("version"),
        UniqueConstraint("previous_version"),
        Index("ix_policy_review_created_at_id", "created_at", "id"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    version: str = Field(max_length=50)
    previous_version: str = Field(max_length=50)
    reviewed_on: dt.date
    reviewer: str = Field(max_length=200)
    summary: str = Field(sa_column=Column(Text, nullable=False))
    recorded_by: str = Field(max_length=200)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


@cover
class PolicyAcknowledgement(SQLModel, table=True):
    """A person's statement that they have read one version of the policy."""

    __tablename__ = "policy_acknowledgement"
    __table_args__ = (
        UniqueConstraint("person_id", "version"),
        Index("ix_policy_acknowledgement_version_created_at_id", "version", "created_at", "id"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    person_id: str = Field(max_length=200)
    version: str = Field(max_length=50)
    recorded_by: str = Field(max_length=200, description="Token subject that recorded it (the person, or HR).")
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
