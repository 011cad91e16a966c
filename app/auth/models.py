"""Tables for machine clients and failed token attempts."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlmodel import Field, SQLModel

from app.db import UTCDateTime, utcnow


class ApiClient(SQLModel, table=True):
    """A registered machine client (an HR system, a script); the secret is stored hashed."""

    __tablename__ = "api_client"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    client_id: str = Field(max_length=64, unique=True, index=True)
    name: str = Field(max_length=200)
    secret_hash: str = Field(max_length=300)
    scopes: str = Field(max_length=1000, description="Space-separated scopes the client may request.")
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    disabled_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)


class AuthFailure(SQLModel, table=True):
    """One failed client-credentials attempt, counted for rate limiting across workers."""

    __tablename__ = "auth_failure"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=200, index=True, description="`client:<id>` or `ip:<address>`.")
    failed_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
