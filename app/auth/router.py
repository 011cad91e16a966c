"""`POST /v1/auth/token`: OAuth2 client credentials for machine clients (RFC 6749 section 4.4).

Built to stay up under a flood of wrong secrets. A request is refused before any database work
when its (client id, address) or its address is already locked out, or when this worker is
already computing `POLICY_TOKEN_HASH_CONCURRENCY` secret hashes (429 with `Retry-After`). The
database is read and written in short transactions on either side of the hash, never across it.
"""

from __future__ import annotations

import base64
import binascii
import random
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import unquote

import anyio
from fastapi import APIRouter, Form, Request

from app.auth import service
from app.auth.exceptions import FORM_MEDIA_TYPE, InvalidClient, NotAForm, OAuthBadRequest, OAuthTooManyRequests
from app.auth.limits import client_address, failure_keys
from app.auth.schemas import TokenResponse
from app.auth.scopes import parse_scopes
from app.auth.tokens import create_access_token
from app.errors import problem_responses

router = APIRouter(prefix="/v1/auth", tags=["auth"])

MAX_CLIENT_ID_CHARS = 64
MAX_SECRET_CHARS = 200
MAX_SCOPE_CHARS = 1000
# A rejected hash-budget request may try again almost at once: the budget frees in milliseconds.
BUSY_RETRY_AFTER_SECONDS = 1

TOKEN_RESPONSES: dict[int | str, dict[str, Any]] = {
    **problem_responses(400, 401, 413, 415, 422, 429, 503),
    400: {
        **problem_responses(400)[400],
        "description": "RFC 6749 `error`: `invalid_request` (a parameter missing, repeated or too long), "
        "`unsupported_grant_type` or `invalid_scope`; `error_description` says which.",
    },
    401: {
        **problem_responses(401)[401],
        "description": "`error: invalid_client`: unknown client, wrong secret or disabled client. With HTTP "
        "Basic client authentication the answer carries `WWW-Authenticate: Basic`.",
    },
    429: {
        **problem_responses(429)[429],
        "description": "`error: temporarily_unavailable`: too many failures from this address (for this client "
        "or in all), or too many secrets being checked at once; retry after `Retry-After` seconds.",
    },
}


@dataclass(frozen=True, slots=True)
class _ClientAuth:
    client_id: str
    client_secret: str
    basic: bool


def _basic_credentials(request: Request) -> _ClientAuth | None:
    """Decode `Authorization: Basic` (RFC 6749 2.3.1: each part form-urlencoded before base64)."""
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        raise OAuthBadRequest("Client authentication must use the Basic scheme or the form fields.")
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise InvalidClient("The Basic credentials are not valid base64 of `id:secret`.", basic=True) from None
    client_id, colon, secret = decoded.partition(":")
    if not colon:
        raise InvalidClient("The Basic credentials must be `id:secret`.", basic=True)
    return _ClientAuth(unquote(client_id.replace("+", " ")), unquote(secret.replace("+", " ")), basic=True)


def _client_auth(request: Request, client_id: str | None, client_secret: str | None) -> _ClientAuth:
    basic = _basic_credentials(request)
    if basic is not None and (client_id is not None and client_id != basic.client_id or client_secret is not None):
        # RFC 6749 2.3: a client uses one authentication method per request.
        raise OAuthBadRequest("Send the client credentials either as HTTP Basic or in the form, not both.")
    auth = basic or _ClientAuth(client_id or "", client_secret or "", basic=False)
    given = (("client_id", auth.client_id), ("client_secret", auth.client_secret))
    missing = [name for name, value in given if not value]
    if missing:
        raise OAuthBadRequest(
            f"Missing {' and '.join(missing)}: send them as HTTP Basic or as form fields.",
            errors=[{"field": f"body.{name}", "message": "Field required", "type": "missing"} for name in missing],
        )
    for name, value, limit in (
        ("client_id", auth.client_id, MAX_CLIENT_ID_CHARS),
        ("client_secret", auth.client_secret, MAX_SECRET_CHARS),
    ):
        if len(value) > limit:
            raise OAuthBadRequest(
                f"{name} is longer than {limit} characters.",
                errors=[{"field": f"body.{name}", "message": f"at most {limit} characters", "type": "string_too_long"}],
            )
    return auth


def _require_form(request: Request) -> None:
    sent = request.headers.get("content-type")
    media_type = (sent or "").split(";", 1)[0].strip().lower()
    has_body = request.headers.get("content-length", "0") != "0" or "transfer-encoding" in request.headers
    if has_body and media_type not in (FORM_MEDIA_TYPE, "multipart/form-data"):
        raise NotAForm(sent)


def _requested_scopes(scope: str | None) -> frozenset[str] | None:
    if scope is None or not scope.strip():
        return None
    if len(scope) > MAX_SCOPE_CHARS:
        raise OAuthBadRequest(f"scope is longer than {MAX_SCOPE_CHARS} characters.")
    try:
        return parse_scopes(scope)
    except ValueError as exc:
        raise OAuthBadRequest(f"The scope is not valid: {exc}.", error="invalid_scope") from exc


@router.post(
    "/token",
    operation_id="issueToken",
    summary="Issue an access token (OAuth2 client credentials)",
    response_model=TokenResponse,
    responses=TOKEN_RESPONSES,
    openapi_extra={
        "security": [],
        "x-client-authentication": ["client_secret_basic", "client_secret_post"],
        "requestBody": {
            "content": {
                "application/x-www-form-urlencoded": {
                    "example": {
                        "grant_type": "client_credentials",
                        "client_id": "cli_3f9a0c1d2e4b5a69",
                        "client_secret": "shown-once-at-create-client",
                        "scope": "incidents:write escalations:write",
                    }
                }
            }
        },
    },
)
async def issue_token(
    request: Request,
    grant_type: Annotated[
        str | None, Form(description="Must be `client_credentials`.", examples=["client_credentials"])
    ] = None,
    client_id: Annotated[
        str | None,
        Form(description="From `python -m app create-client` (or send id and secret as HTTP Basic instead)."),
    ] = None,
    client_secret: Annotated[str | None, Form(description="Shown once at client creation or rotation.")] = None,
    scope: Annotated[
        str | None, Form(description="Space-separated subset of the client's scopes; all of them if omitted.")
    ] = None,
) -> TokenResponse:
    """Exchange a registered client's id and secret for a signed JWT.

    Client authentication is `client_secret_basic` (HTTP Basic, RFC 6749 section 2.3.1) or
    `client_secret_post` (the form fields). Every failure is an RFC 6749 error body (`error`,
    `error_description`) inside the usual problem+json. Failed attempts are counted per
    (client id, address) and per address across all workers: a client is never locked out by
    failures from other addresses. Addresses come from `X-Forwarded-For` only through the proxies
    listed in `POLICY_TRUSTED_PROXIES`.
    """
    state = request.app.state
    settings = state.settings
    _require_form(request)
    if not grant_type:
        raise OAuthBadRequest("Missing grant_type: send grant_type=client_credentials.")
    if grant_type != "client_credentials":
        raise OAuthBadRequest("Only grant_type=client_credentials is supported.", error="unsupported_grant_type")
    auth = _client_auth(request, client_id, client_secret)
    requested = _requested_scopes(scope)

    address = client_address(
        request.client.host if request.client else None,
        request.headers.getlist("x-forwarded-for"),
        state.trusted_proxies,
    )
    keys = list(failure_keys(auth.client_id, address))
    try:
        locked_for = state.token_lockouts.retry_after(keys)
        if locked_for:
            raise OAuthTooManyRequests("Too many failed attempts from this address; wait before retrying.", locked_for)
        if not state.hash_budget.try_acquire():
            raise OAuthTooManyRequests("Too many client secrets are being checked right now.", BUSY_RETRY_AFTER_SECONDS)
        try:
            credentials = await anyio.to_thread.run_sync(_check_client, state, auth, keys)
        finally:
            state.hash_budget.release()
    except OAuthTooManyRequests:
        # A refused client that retries at once would otherwise keep this worker answering it
        # (150 such connections took an unrelated read past a second); waiting costs one timer.
        # The jitter keeps refused floods from returning in one synchronised wave.
        await anyio.sleep(settings.token_refusal_delay_seconds * random.uniform(0.5, 1.5))  # noqa: S311
        raise

    allowed = credentials.scopes
    granted = requested if requested is not None else allowed
    if not granted <= allowed:
        extra = ", ".join(sorted(granted - allowed))
        raise OAuthBadRequest(f"The client may not request: {extra}.", error="invalid_scope")
    token = create_access_token(
        settings,
        sub=credentials.client_id,
        scopes=granted,
        client_id=credentials.client_id,
        now=state.clock.now().timestamp(),
    )
    return TokenResponse(
        access_token=token, expires_in=settings.access_token_ttl_seconds, scope=" ".join(sorted(granted))
    )


def _check_client(state: Any, auth: _ClientAuth, keys: list[str]) -> service.ClientCredentials:
    """Check the client's secret under the failure limits (runs in a worker thread)."""
    settings = state.settings
    return service.check_client(
        client_id=auth.client_id,
        secret=auth.client_secret,
        keys=keys,
        limits={keys[0]: settings.token_failures_per_minute, keys[1]: settings.token_address_failures_per_minute},
        now=state.clock.now(),
        write_session=state.session_factory,
        read_session=state.read_session_factory,
        lockouts=state.token_lockouts,
        pepper=settings.secret_key,
        basic=auth.basic,
    )
