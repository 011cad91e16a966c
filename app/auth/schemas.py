"""Request and response models of the token endpoint and client management."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


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


class ClientCreated(BaseModel):
    """A newly registered client; the secret is shown only here."""

    client_id: str
    client_secret: str
    name: str
    scopes: str
