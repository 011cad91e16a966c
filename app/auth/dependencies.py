"""Authentication and scope checks as FastAPI dependencies."""

from typing import Any

import anyio
from fastapi import Request, Security
from fastapi.security import HTTPBearer

from app.auth.tokens import Principal, TokenError
from app.errors import Forbidden, Unauthorized

SCHEME_NAME = "bearerAuth"
SCHEME_DESCRIPTION = "JWT access token from `POST /v1/auth/token` or `python -m app token`."


class ScopedBearer(HTTPBearer):
    """The bearer scheme, the token check and the scope check as one dependency.

    One dependency rather than a chain (scheme -> principal -> scope check): FastAPI resolves each
    link on every request, and this runs on every protected request. Being an `HTTPBearer`, it
    still puts the `bearerAuth` scheme in the OpenAPI document.
    """

    def __init__(self, scopes: frozenset[str], *, all_required: bool = False) -> None:
        super().__init__(auto_error=False, scheme_name=SCHEME_NAME, description=SCHEME_DESCRIPTION)
        self.scopes = scopes
        self.all_required = all_required
        self._label = (" and " if all_required else " or ").join(sorted(scopes))

    async def __call__(self, request: Request) -> Principal:  # type: ignore[override]
        """Return the verified caller; 401 without a valid bearer token, 403 without a scope."""
        # async although it does no I/O: short CPU work on the event loop is cheaper than the
        # thread-pool hop FastAPI makes for every synchronous dependency.
        credentials = await super().__call__(request)
        if credentials is None:
            raise Unauthorized("A bearer token is required: send `Authorization: Bearer <token>`.")
        state = request.app.state
        limit = state.settings.max_token_chars
        if len(credentials.credentials) > limit:
            raise Unauthorized(f"The bearer token is longer than {limit} characters; no token issued here is.")
        guard = state.access_guard
        try:
            principal = state.token_verifier.verify(credentials.credentials)
            if guard.needs_refresh(principal):
                await anyio.to_thread.run_sync(guard.refresh)
            guard.check(principal)
        except TokenError as exc:
            raise Unauthorized(str(exc)) from exc
        missing = not (self.scopes <= principal.scopes if self.all_required else principal.scopes & self.scopes)
        if missing:
            noun = "scopes" if self.all_required else "scope"
            raise Forbidden(f"This operation needs the {noun} {self._label}.", required_scopes=sorted(self.scopes))
        request.state.principal = principal
        return principal


def require(*scopes: str) -> Any:
    """Return a dependency marker admitting a token that carries any one of `scopes`.

    Use it as `Annotated[Principal, require(...)]` or in `dependencies=[require(...)]`. It is a
    `Security(...)` marker so FastAPI lists the scopes in the operation's OpenAPI security
    requirement, where generated clients and openapi.md read them.
    """
    wanted = frozenset(scopes)
    return Security(ScopedBearer(wanted), scopes=sorted(wanted))


def require_all(*scopes: str) -> Any:
    """Return a dependency marker admitting only a token that carries every one of `scopes`.

    For operations that disclose another domain's data (the draft letter quotes incident
    summaries), so one scope alone does not reach it.
    """
    wanted = frozenset(scopes)
    return Security(ScopedBearer(wanted, all_required=True), scopes=sorted(wanted))
