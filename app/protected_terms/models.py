"""Protected names and codes, stored only as keyed hashes, plus the change counter workers poll."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlmodel import Field, SQLModel

from app.audit.coverage import cover
from app.db import UTCDateTime, utcnow


@cover
class ProtectedTerm(SQLModel, table=True):
    """One registered term: its kind and the HMAC-SHA256 of its normalised value, never the value."""

    __tablename__ = "protected_term"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    kind: str = Field(max_length=20)
    digest: str = Field(max_length=64, unique=True)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    created_by: str = Field(max_length=200)


class ProtectedTermState(SQLModel, table=True):
    """A single row whose `version` moves with every change, so each worker knows to rebuild."""

    __tablename__ = "protected_term_state"

    id: int = Field(default=1, primary_key=True)
    version: int = Field(default=0)
    #: Bitmask of the registered terms' lengths in words (bit n-1 for n words), for all terms
    #: together; NULL when not known (terms registered before it was kept): every length.
    ngram_sizes: int | None = Field(default=0, nullable=True)
