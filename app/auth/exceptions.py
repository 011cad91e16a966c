"""Errors of the auth package: RFC 6749 token-endpoint errors and client management conflicts.

Token-endpoint errors are problem+json like every other error, with RFC 6749 section 5.2's
`error` and `error_description` members added, so OAuth client libraries read them as such.
"""

from __future__ import annotations

from typing import Any

from app.errors import BadRequest, Conflict, NotFound, TooManyRequests, Unauthorized


class OAuthBadRequest(BadRequest):
    """400 with an RFC 6749 error code (`invalid_request` unless told otherwise)."""

    def __init__(self, detail: str, *, error: str = "invalid_request", **extra: Any) -> None:
        super().__init__(detail, error=error, error_description=detail, **extra)


class InvalidClient(Unauthorized):
    """401 `invalid_client`; challenges with Basic when the client authenticated that way."""

    def __init__(self, detail: str, *, basic: bool) -> None:
        super().__init__(detail, error="invalid_client", error_description=detail)
        if basic:
            self.headers = {"WWW-Authenticate": 'Basic realm="policy-api", charset="UTF-8"'}
        else:
            self.headers = {}


class OAuthTooManyRequests(TooManyRequests):
    """429 `temporarily_unavailable` with `Retry-After`: never `invalid_client`, which would blame the secret."""

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(
            detail,
            headers={"Retry-After": str(retry_after)},
            error="temporarily_unavailable",
            error_description=detail,
        )


class ClientNameTaken(Conflict):
    """Another client already has this name."""


class ClientNotFound(NotFound):
    """No client has this id."""
