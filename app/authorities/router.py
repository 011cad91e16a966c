"""`/v1/authorities`: prior authority to speak publicly, granted and revoked by managers."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from app.auth.dependencies import require
from app.auth.scopes import Scope
from app.auth.tokens import Principal
from app.authorities import service
from app.authorities.schemas import AuthorityCreate, AuthorityPage, AuthorityRead, GrantStatus
from app.clock import ClockDep
from app.db import SessionDep
from app.errors import COMMON_ERRORS, created_response, problem_responses
from app.idempotency import IdempotencyDep
from app.pagination import DEFAULT_LIMIT, Cursor, Limit
from app.responses import model_response

router = APIRouter(prefix="/v1/authorities", tags=["authorities"])
Manager = Annotated[Principal, require(Scope.AUTHORITIES_WRITE)]
Reader = Annotated[Principal, require(Scope.AUTHORITIES_WRITE, Scope.SCREENINGS_READ)]
AuthorityId = Annotated[
    uuid.UUID,
    Path(description="The grant's `id`, as in `Location`.", examples=["5b0a6c1e-2f43-4b8e-9c1d-3e7f9a2b6d40"]),
]


@router.post(
    "",
    operation_id="createAuthority",
    summary="Grant prior authority to speak publicly on a topic",
    status_code=201,
    response_model=AuthorityRead,
    responses={
        **created_response("Granted; `Location` names the grant.", "/v1/authorities/{authority_id}"),
        **problem_responses(*COMMON_ERRORS),
    },
)
def create_authority(
    body: AuthorityCreate, session: SessionDep, principal: Manager, idem: IdempotencyDep, clock: ClockDep
) -> Response:
    """Record a manager's grant; screenings by that person citing it are not flagged SM-DEBATE.

    `valid_from` defaults to now; both times must carry a timezone and `valid_until` must be later.
    """
    if (replayed := idem.replay(session)) is not None:
        return replayed
    now = clock.now()
    grant = service.create(session=session, grant_in=body, actor=principal.sub, now=now)
    return idem.commit(
        session,
        status_code=201,
        body=service.to_read(grant, now),
        headers={"Location": f"/v1/authorities/{grant.id}"},
    )


@router.get(
    "",
    operation_id="listAuthorities",
    summary="List prior-authority grants",
    response_model=AuthorityPage,
    responses=problem_responses(*COMMON_ERRORS),
)
def list_authorities(
    session: SessionDep,
    _principal: Reader,
    clock: ClockDep,
    person_id: Annotated[str | None, Query(max_length=200, description="Only this person's grants.")] = None,
    status: Annotated[GrantStatus | None, Query(description="Only grants in this state now.")] = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Response:
    """List grants newest first (managers, and screening reviewers who need to see why)."""
    now = clock.now()
    items, next_cursor = service.list_grants(
        session=session, person_id=person_id, status=status, cursor=cursor, limit=limit, now=now
    )
    return model_response(AuthorityPage(items=[service.to_read(g, now) for g in items], next_cursor=next_cursor))


@router.get(
    "/{authority_id}",
    operation_id="getAuthority",
    summary="Read one prior-authority grant",
    response_model=AuthorityRead,
    responses=problem_responses(*COMMON_ERRORS, 404),
)
def get_authority(authority_id: AuthorityId, session: SessionDep, _principal: Reader, clock: ClockDep) -> Response:
    """Return one grant with its status now (revoked grants included)."""
    return model_response(service.to_read(service.get(session=session, grant_id=authority_id), clock.now()))


@router.delete(
    "/{authority_id}",
    operation_id="revokeAuthority",
    summary="Revoke a grant (kept, stamped revoked)",
    response_model=AuthorityRead,
    responses=problem_responses(*COMMON_ERRORS, 404),
)
def revoke_authority(authority_id: AuthorityId, session: SessionDep, principal: Manager, clock: ClockDep) -> Response:
    """Revoke a grant and return it; the row stays for audit and revoking twice is harmless."""
    now = clock.now()
    grant = service.revoke(session=session, grant_id=authority_id, actor=principal.sub, now=now)
    session.commit()
    return model_response(service.to_read(grant, now))
