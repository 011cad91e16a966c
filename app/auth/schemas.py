"""Request and response models of the token endpoint, client management and token revocation."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.config import JsonDict

from app.auth.scopes import Scope
from app.validation import single_line

CLIENT_EXAMPLE: JsonDict = {
    "client_id": "cli_5f2a9c1e7b3d4a60",
    "name": "hr-system",
    "scopes": ["incidents:read", "incidents:write"],
    "status": "active",
    "created_at": "2026-12-04T09:00:00Z",
    "disabled_at": None,
    "previous_secret_expires_at": None,
}


class TokenResponse(BaseModel):
    """An OAuth2 access token (RFC 6749 section 5.1)."""

    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "access_token": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9…",
                "token_type": "Bearer",
                "expires_in": 3600,
                "scope": "incidents:write screenings:write",
            }
        }
    )

    access_token: str
    token_type: str = "Bearer"
    expires_in: int = Field(description="Seconds until the token expires.")
    scope: str = Field(description="Space-separated scopes granted.")


class ClientCreate(BaseModel):
    """A machine client to register."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"example": {"name": "hr-system", "scopes": ["incidents:read"]}}
    )

    name: Annotated[str, single_line(200)] = Field(
        description="Unique among clients; a second client of this name is a 409."
    )
    scopes: list[Scope] = Field(min_length=1, max_length=len(Scope), description="Scopes the client may request.")


class ClientRead(BaseModel):
    """A registered client; its secret is never shown again after creation or rotation."""

    model_config = ConfigDict(json_schema_extra={"example": CLIENT_EXAMPLE})

    client_id: str
    name: str
    scopes: list[str]
    status: Literal["active", "disabled"] = Field(description="A disabled client's tokens are refused.")
    created_at: dt.datetime
    disabled_at: dt.datetime | None = None
    previous_secret_expires_at: dt.datetime | None = Field(
        default=None, description="Until then the secret before the last rotation still works."
    )


class ClientCreated(ClientRead):
    """A newly registered client; the secret is shown only here."""

    model_config = ConfigDict(json_schema_extra={"example": {**CLIENT_EXAMPLE, "client_secret": "q3V…"}})

    client_secret: str | None = Field(
        description="Shown once: store it in a secret manager. Null in an `Idempotency-Key` replay, which never "
        "repeats a secret (rotate it to get a new one)."
    )


class SecretRotated(BaseModel):
    """A client's new secret (shown only here) and how long the old one keeps working."""

    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "client_id": "cli_5f2a9c1e7b3d4a60",
                "client_secret": "Zx8…",
                "previous_secret_expires_at": "2026-12-04T10:00:00Z",
            }
        }
    )

    client_id: str
    client_secret: str | None = Field(
        description="Shown once: store it in a secret manager. Null in an `Idempotency-Key` replay, which never "
        "repeats a secret (rotate again to get a new one)."
    )
    previous_secret_expires_at: dt.datetime | None = Field(
        description="The old secret works until then (`POLICY_CLIENT_SECRET_GRACE_SECONDS`); null: not at all."
    )


class ClientPage(BaseModel):
    """One page of clients, newest first."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": [
                        {"client_id": "cli_3f9a0c1d2e4b5a69", "name": "hr-system", "scopes": ["incidents:write"],
                         "status": "active", "created_at": "2026-11-25T09:00:00Z", "disabled_at": None,
                         "previous_secret_expires_at": None}
                    ],
                    "next_cursor": None,
                }
            ]
        }
    )  # fmt: skip

    items: list[ClientRead]
    next_cursor: str | None = None


class TokenRevocationCreate(BaseModel):
    """The token to refuse from now on: its `jti`, or the token itself (its signature is checked)."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"example": {"jti": "4f1c2b9e8d7a4c3b9e1f0a2b3c4d5e6f"}}
    )

    jti: Annotated[str, single_line(64)] | None = Field(default=None, description="The token's `jti` claim.")
    token: Annotated[str, single_line(4096)] | None = Field(default=None, description="The whole access token.")

    @model_validator(mode="after")
    def _one_of(self) -> TokenRevocationCreate:
        if (self.jti is None) == (self.token is None):
            raise ValueError("send exactly one of jti and token")
        return self


class TokenRevocationRead(BaseModel):
    """A revoked token's `jti`; the entry is dropped once the token would have expired anyway."""

    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "jti": "4f1c2b9e8d7a4c3b9e1f0a2b3c4d5e6f",
                "expires_at": "2026-12-05T09:00:00Z",
                "revoked_at": "2026-12-04T09:30:00Z",
            }
        }
    )

    jti: str
    expires_at: dt.datetime
    revoked_at: dt.datetime
