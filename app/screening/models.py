"""Stored screenings: a keyed digest of the text, the redacted text and the findings, never the text."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import JSON, Column, Index, Text
from sqlmodel import Field, SQLModel

from app.db import UTCDateTime, utcnow


class Screening(SQLModel, table=True):
    """One stored screening result (DESIGN 5: no post text in plain form)."""

    __tablename__ = "screening"
    __table_args__ = (
        Index("ix_screening_created_at_id", "created_at", "id"),
        # Pending rows (audit_seq NULL) oldest first for the sealer; rows of one seal for verify.
        Index("ix_screening_audit_seq_created_at_id", "audit_seq", "created_at", "id"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    created_by: str = Field(max_length=200, description="Token subject that asked for the screening.")
    author_id: str = Field(max_length=200, index=True)
    author_role: str = Field(max_length=30)
    platform: str = Field(max_length=50)
    account: str = Field(max_length=20)
    authority_id: uuid.UUID | None = Field(default=None)
    text_hmac: str = Field(
        max_length=64,
        description="HMAC-SHA256 (hex) of the UTF-8 text under a key derived from POLICY_SECRET_KEY; "
        "empty for screenings stored before revision 0006, whose unkeyed digest was erased.",
    )
    text_length: int
    suggested_text: str = Field(sa_column=Column(Text, nullable=False))
    verdict: str = Field(max_length=10)
    risk_score: float
    # Space-delimited with a leading and trailing space (" SM-A SM-B ") so `LIKE '% SM-A %'`
    # filters by rule on SQLite and PostgreSQL alike without a child table per finding.
    rule_ids: str = Field(max_length=500)
    findings: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    notes: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    policy_version: str = Field(max_length=100)
    engine_version: str = Field(max_length=100)
    audit_seq: int | None = Field(
        default=None, description="The `screenings.sealed` audit event covering this row; null until sealed."
    )


#: The columns a screening is stored with, i.e. every column but the seal that is stamped on it
#: later: what the hot path inserts and what a seal's digest covers.
CONTENT_COLUMNS = [c for c in Screening.__table__.c if c.name != "audit_seq"]  # type: ignore[attr-defined]
