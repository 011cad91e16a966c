"""Derogatory-post incidents recorded by HR about a subject."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import Column, Index, Text, text
from sqlmodel import Field, SQLModel

from app.audit.coverage import sealed_in_batches
from app.db import UTCDateTime, utcnow
from app.escalation import models as _escalation_models  # noqa: F401  (FK target in the metadata)


@sealed_in_batches("audit_seq", "audit_digest")
class Incident(SQLModel, table=True):
    """One recorded incident; the evidence is HR's own record and only read with incidents:read.

    The request stores the row with its keyed digest; the sealer (`app.incidents.sealing`) records
    it in the audit chain in a batch a few seconds later, so writers never queue on the chain head.
    """

    __tablename__ = "incident"
    __table_args__ = (
        Index("ix_incident_created_at_id", "created_at", "id"),
        Index("ix_incident_subject_id_created_at", "subject_id", "created_at"),
        # The sealer's scan: only pending rows are in it, oldest first.
        Index(
            "ix_incident_pending_created_at_id",
            "created_at",
            "id",
            postgresql_where=text("audit_seq IS NULL"),
            sqlite_where=text("audit_seq IS NULL"),
        ),
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
    # Seq of the `incidents.sealed` event that records the row (NULL until sealed; 0 = refused).
    audit_seq: int | None = Field(default=None)
    # Keyed digest of the row as the service wrote it (`app.audit.coverage`): a pending row is checked against it.
    audit_digest: str | None = Field(default=None, max_length=64)
