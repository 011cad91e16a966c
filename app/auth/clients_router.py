"""`/v1/clients` and `/v1/tokens/revocations`: managing machine clients and revoking tokens (scope `admin`).

A client's secret is returned once, by `createClient` or `rotateClientSecret`, and never stored in
clear: an `Idempotency-Key` replay of either returns the same answer with `client_secret: null`.
Disabling, deleting and revoking reach every worker within `POLICY_ACCESS_CACHE_SECONDS`.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Path, Request, Response

from app.auth import service
from app.auth.dependencies import require
from app.auth.schemas import (
    ClientCreate,
    ClientCreated,
    ClientPage,
    ClientRead,
    SecretRotated,
    TokenRevocationCreate,
    TokenRevocationRead,
)
from app.auth.scopes import Scope
from app.auth.tokens import Principal
from app.db import SessionDep
from app.errors import COMMON_ERRORS, created_response, problem_responses
from app.idempotency import IdempotencyDep
from app.pagination import DEFAULT_LIMIT, Cursor, Limit
from app.responses import model_response

router = APIRouter(tags=["clients"])
Admin = Annotated[Principal, require(Scope.ADMIN)]
ClientId = Annotated[
    str,
    Path(min_length=1, max_length=64, description="The client's `client_id`.", examples=["cli_5f2a9c1e7b3d4a60"]),
]
CLIENT_ERRORS = problem_responses(*COMMON_ERRORS, 404)


@router.post(
    "/v1/clients",
    operation_id="createClient",
    summary="Register a machine client (its secret is shown once)",
    status_code=201,
    response_model=ClientCreated,
    responses={
        **created_response("Registered; `Location` names the client.", "/v1/clients/{client_id}"),
        **problem_responses(*COMMON_ERRORS, 409),
    },
)
def create_client(
    request: Request, body: ClientCreate, session: SessionDep, principal: Admin, idem: IdempotencyDep
) -> Response:
    """Register a client for the OAuth2 client-credentials flow; a name already in use is a 409."""
    if (replayed := idem.replay(session)) is not None:
        return replayed
    created = service.create_client(
        session=session,
        name=body.name,
        scopes=" ".join(scope.value for scope in body.scopes),
        pepper=request.app.state.settings.secret_key,
        actor=principal.sub,
    )
    return idem.commit(
        session,
        status_code=201,
        body=created,
        replay_body=created.model_copy(update={"client_secret": None}),
        headers={"Location": f"/v1/clients/{created.client_id}"},
    )


@router.get(
    "/v1/clients",
    operation_id="listClients",
    summary="List machine clients",
    response_model=ClientPage,
    responses=problem_responses(*COMMON_ERRORS),
)
def list_clients(
    session: SessionDep, _principal: Admin, limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None
) -> Response:
    """List clients newest first: ids, names, scopes and status, never secrets."""
    items, next_cursor = service.list_clients(session=session, cursor=cursor, limit=limit)
    return model_response(ClientPage(items=[service.as_read(c) for c in items], next_cursor=next_cursor))


@router.get(
    "/v1/clients/{client_id}",
    operation_id="getClient",
    summary="Read a machine client",
    response_model=ClientRead,
    responses=CLIENT_ERRORS,
)
def get_client(client_id: ClientId, session: SessionDep, _principal: Admin) -> Response:
    """Read one client: name, scopes, status and when its previous secret stops working."""
    return model_response(service.as_read(service.get_client(session=session, client_id=client_id)))


def _set_disabled(
    session: SessionDep, idem: IdempotencyDep, client_id: str, principal: Principal, *, disabled: bool
) -> Response:
    if (replayed := idem.replay(session)) is not None:
        return replayed
    client = service.set_disabled(session=session, client_id=client_id, disabled=disabled, actor=principal.sub)
    return idem.commit(session, status_code=200, body=service.as_read(client))


@router.post(
    "/v1/clients/{client_id}/disable",
    operation_id="disableClient",
    summary="Disable a machine client (its tokens stop working)",
    response_model=ClientRead,
    responses=CLIENT_ERRORS,
)
def disable_client(client_id: ClientId, session: SessionDep, principal: Admin, idem: IdempotencyDep) -> Response:
    """Refuse the client's secret at once and its live tokens within `POLICY_ACCESS_CACHE_SECONDS`; repeatable."""
    return _set_disabled(session, idem, client_id, principal, disabled=True)


@router.post(
    "/v1/clients/{client_id}/enable",
    operation_id="enableClient",
    summary="Re-enable a disabled machine client",
    response_model=ClientRead,
    responses=CLIENT_ERRORS,
)
def enable_client(client_id: ClientId, session: SessionDep, principal: Admin, idem: IdempotencyDep) -> Response:
    """Let a disabled client get tokens again (tokens issued before it was disabled work again too)."""
    return _set_disabled(session, idem, client_id, principal, disabled=False)


@router.post(
    "/v1/clients/{client_id}/rotate",
    operation_id="rotateClientSecret",
    summary="Rotate a machine client's secret (the new one is shown once)",
    response_model=SecretRotated,
    responses=CLIENT_ERRORS,
)
def rotate_client_secret(
    request: Request, client_id: ClientId, session: SessionDep, principal: Admin, idem: IdempotencyDep
) -> Response:
    """Issue a new secret; the old one keeps working for `POLICY_CLIENT_SECRET_GRACE_SECONDS`, then stops."""
    if (replayed := idem.replay(session)) is not None:
        return replayed
    settings = request.app.state.settings
    secret, secret_hash = service.new_secret_and_hash(settings.secret_key)
    client = service.rotate_secret(
        session=session,
        client_id=client_id,
        new_hash=secret_hash,
        grace=dt.timedelta(seconds=settings.client_secret_grace_seconds),
        actor=principal.sub,
        now=request.app.state.clock.now(),
    )
    rotated = SecretRotated(
        client_id=client.client_id, client_secret=secret, previous_secret_expires_at=client.previous_secret_expires_at
    )
    return idem.commit(
        session, status_code=200, body=rotated, replay_body=rotated.model_copy(update={"client_secret": None})
    )


@router.delete(
    "/v1/clients/{client_id}",
    operation_id="deleteClient",
    summary="Delete a machine client (its tokens stop working)",
    status_code=204,
    response_class=Response,
    responses={204: {"description": "Deleted."}, **CLIENT_ERRORS},
)
def delete_client(client_id: ClientId, session: SessionDep, principal: Admin) -> Response:
    """Delete the client; its live tokens are refused within `POLICY_ACCESS_CACHE_SECONDS`."""
    service.delete_client(session=session, client_id=client_id, actor=principal.sub)
    session.commit()
    return Response(status_code=204)


@router.post(
    "/v1/tokens/revocations",
    operation_id="revokeToken",
    summary="Revoke one access token (by its jti, or the token itself)",
    response_model=TokenRevocationRead,
    responses=problem_responses(*COMMON_ERRORS),
)
def revoke_token(
    request: Request, body: TokenRevocationCreate, session: SessionDep, principal: Admin, idem: IdempotencyDep
) -> Response:
    """Refuse one token from now on (every worker within `POLICY_ACCESS_CACHE_SECONDS`); repeating it is harmless.

    With `token`, its signature is checked and its `exp` bounds how long the entry is kept; with
    `jti` alone, the entry is kept for the longest lifetime a token may have.
    """
    if (replayed := idem.replay(session)) is not None:
        return replayed
    revoked = service.revoke(
        session=session, settings=request.app.state.settings, jti=body.jti, token=body.token, actor=principal.sub
    )
    return idem.commit(session, status_code=200, body=TokenRevocationRead.model_validate(revoked, from_attributes=True))
