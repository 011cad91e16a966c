"""Prior-authority grants: a manager allows a person to speak publicly on a topic for a while."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlmodel import Field, SQLModel

from app.audit.coverage import cover
from app.db import UTCDateTime, utcnow


@cover
class AuthorityGrant(SQLModel, table=True):
    """One grant; revocation keeps the row and stamps `revoked_at`."""

    __tablename__ = "authority_grant"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    person_id: str = Field(max_length=200, index=True)
    topic: str = Field(max_length=200)
    valid_from: dt.datetime = Field(sa_type=UTCDateTime)
    valid_until: dt.datetime = Field(sa_type=UTCDateTime)
    granted_by: str = Field(max_length=200)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    revoked_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_by: str | None = Field(default=None, max_length=200)
