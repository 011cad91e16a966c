"""Errors of the auth package: RFC 6749 token-endpoint errors and client management conflicts.

Token-endpoint errors are problem+json like every other error, with RFC 6749 section 5.2's
`error` and `error_description` members added, so OAuth client libraries read them as such.
"""

from __future__ import annotations

from typing import Any

from app.errors import BadRequest, Conflict, NotFound, TooManyRequests, Unauthorized, UnsupportedMediaType

FORM_MEDIA_TYPE = "application/x-www-form-urlencoded"


class OAuthBadRequest(BadRequest):
    """400 with an RFC 6749 error code (`invalid_request` unless told otherwise)."""

    def __init__(self, detail: str, *, error: str = "invalid_request", **extra: Any) -> None:
        super().__init__(detail, error=error, error_description=detail, **extra)


class NotAForm(UnsupportedMediaType):
    """415 `invalid_request`: the token endpoint takes a form (RFC 6749 section 4.4.2), not JSON."""

    def __init__(self, sent: str | None) -> None:
        said = f"was sent as {sent}" if sent else "has no Content-Type"
        detail = f"The body {said}; send it as {FORM_MEDIA_TYPE}."
        super().__init__(
            detail,
            headers={"Accept-Post": FORM_MEDIA_TYPE},
            accepted_media_type=FORM_MEDIA_TYPE,
            error="invalid_request",
            error_description=detail,
        )


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
