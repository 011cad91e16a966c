"""`POST /v1/auth/token`: OAuth2 client credentials for machine clients."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request

from app.auth import service
from app.auth.schemas import TokenResponse
from app.auth.scopes import parse_scopes
from app.auth.tokens import create_access_token
from app.db import SessionDep
from app.errors import BadRequest, TooManyRequests, Unauthorized, problem_responses

router = APIRouter(prefix="/v1/auth", tags=["auth"])


@router.post(
    "/token",
    operation_id="issueToken",
    summary="Issue an access token (OAuth2 client credentials)",
    response_model=TokenResponse,
    responses=problem_responses(400, 401, 413, 422, 429),
    openapi_extra={
        "security": [],
        "requestBody": {
            "content": {
                "application/x-www-form-urlencoded": {
                    "example": {
                        "grant_type": "client_credentials",
                        "client_id": "hr-system",
                        "client_secret": "s3cr3t-shown-once-at-create-client",
                        "scope": "incidents:write escalations:write",
                    }
                }
            }
        },
    },
)
def issue_token(
    request: Request,
    session: SessionDep,
    grant_type: Annotated[
        str, Form(min_length=1, description="Must be `client_credentials`.", examples=["client_credentials"])
    ],
    client_id: Annotated[str, Form(min_length=1, max_length=64, description="From `python -m app create-client`.")],
    client_secret: Annotated[str, Form(min_length=1, max_length=200, description="Shown once at client creation.")],
    scope: Annotated[
        str | None,
        Form(max_length=1000, description="Space-separated subset of the client's scopes; all of them if omitted."),
    ] = None,
) -> TokenResponse:
    """Exchange a registered client's id and secret for a signed JWT.

    Failed attempts are counted per client id and per address across all workers; past the limit
    the endpoint answers 429 with `Retry-After`.
    """
    settings = request.app.state.settings
    if grant_type != "client_credentials":
        raise BadRequest("Only grant_type=client_credentials is supported.", error="unsupported_grant_type")
    address = request.client.host if request.client else "unknown"
    keys = [f"client:{client_id}", f"ip:{address}"]
    attempt = service.reserve_attempt(session=session, keys=keys)
    session.commit()
    # The count includes this attempt and every concurrent one already reserved.
    if service.recent_failures(session=session, keys=keys) > settings.token_failures_per_minute:
        service.release_attempt(session=session, ids=attempt)
        session.commit()
        raise TooManyRequests(
            "Too many failed attempts; wait a minute before retrying.",
            headers={"Retry-After": "60"},
            error="invalid_client",
        )
    client = service.authenticate_client(
        session=session, client_id=client_id, client_secret=client_secret, pepper=settings.secret_key
    )
    if client is None:
        raise Unauthorized("The client id or secret is wrong, or the client is disabled.", error="invalid_client")
    service.release_attempt(session=session, ids=attempt)
    session.commit()
    allowed = frozenset(client.scopes.split())
    try:
        requested = parse_scopes(scope) if scope else allowed
    except ValueError as exc:
        raise BadRequest(str(exc), error="invalid_scope") from exc
    if not requested <= allowed:
        extra = ", ".join(sorted(requested - allowed))
        raise BadRequest(f"The client may not request: {extra}.", error="invalid_scope")
    token = create_access_token(settings, sub=client.client_id, scopes=requested, client_id=client.client_id)
    return TokenResponse(
        access_token=token,
        expires_in=settings.access_token_ttl_seconds,
        scope=" ".join(sorted(requested)),
    )
