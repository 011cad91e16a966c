"""Tables for machine clients, failed token attempts and revoked tokens."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlmodel import Field, SQLModel

from app.audit.coverage import cover
from app.db import UTCDateTime, utcnow


@cover
class ApiClient(SQLModel, table=True):
    """A registered machine client (an HR system, a script); the secret is stored hashed."""

    __tablename__ = "api_client"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    client_id: str = Field(max_length=64, unique=True, index=True)
    name: str = Field(max_length=200, unique=True)
    secret_hash: str = Field(max_length=300)
    previous_secret_hash: str | None = Field(
        default=None, max_length=300, description="The secret before the last rotation, valid until the time below."
    )
    previous_secret_expires_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    scopes: str = Field(max_length=1000, description="Space-separated scopes the client may request.")
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    disabled_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)


class AuthFailure(SQLModel, table=True):
    """One failed client-credentials attempt, counted for rate limiting across workers."""

    __tablename__ = "auth_failure"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=200, index=True, description="`client:<id>@<address>` or `ip:<address>`.")
    failed_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)


class RevokedToken(SQLModel, table=True):
    """One access token refused before its expiry, by its `jti`; kept until it would have expired."""

    __tablename__ = "revoked_token"

    jti: str = Field(max_length=64, primary_key=True)
    expires_at: dt.datetime = Field(sa_type=UTCDateTime, index=True)
    revoked_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
