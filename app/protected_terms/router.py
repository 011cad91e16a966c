"""`/v1/protected-terms`: register, list and remove protected names and codes (hashed)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Request, Response

from app.auth.dependencies import require
from app.auth.scopes import Scope
from app.auth.tokens import Principal
from app.db import SessionDep
from app.errors import COMMON_ERRORS, created_response, problem_responses
from app.idempotency import IdempotencyDep
from app.pagination import DEFAULT_LIMIT, Cursor, Limit
from app.protected_terms import service
from app.protected_terms.schemas import ProtectedTermCreate, ProtectedTermPage, ProtectedTermRead
from app.responses import model_response

router = APIRouter(prefix="/v1/protected-terms", tags=["protected-terms"])
TermWriter = Annotated[Principal, require(Scope.PROTECTED_TERMS_WRITE)]
TermId = Annotated[
    uuid.UUID,
    Path(description="The term's `id`, as in `Location`.", examples=["0b9d3c6e-3b51-4e0c-9a55-7d1c2b8f4e10"]),
]


@router.post(
    "",
    operation_id="createProtectedTerm",
    summary="Register a protected name or code",
    status_code=201,
    response_model=ProtectedTermRead,
    responses={
        **created_response("Registered; `Location` names the term.", "/v1/protected-terms/{term_id}"),
        **problem_responses(*COMMON_ERRORS, 409),
    },
)
def create_protected_term(
    request: Request,
    body: ProtectedTermCreate,
    session: SessionDep,
    principal: TermWriter,
    idem: IdempotencyDep,
) -> Response:
    """Store the keyed hash of a name or code so screenings block posts that contain it.

    The value is normalised (case, accents, spacing) and kept only as HMAC-SHA256 under the server
    key; it is never stored or returned. Registering the same normalised value twice is a 409
    carrying `existing_id`. Every worker picks the change up on its next screening.
    """
    if (replayed := idem.replay(session)) is not None:
        return replayed
    key = request.app.state.settings.secret_key.encode()
    term = service.create(session=session, term_in=body, key=key, actor=principal.sub)
    return idem.commit(
        session,
        status_code=201,
        body=ProtectedTermRead.model_validate(term),
        headers={"Location": f"/v1/protected-terms/{term.id}"},
    )


@router.get(
    "",
    operation_id="listProtectedTerms",
    summary="List protected terms (ids and kinds only)",
    response_model=ProtectedTermPage,
    responses=problem_responses(*COMMON_ERRORS),
)
def list_protected_terms(
    session: SessionDep,
    _principal: TermWriter,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Response:
    """List registered terms newest first: ids, kinds and creation times, never values."""
    items, next_cursor = service.list_terms(session=session, cursor=cursor, limit=limit)
    page = ProtectedTermPage(items=[ProtectedTermRead.model_validate(t) for t in items], next_cursor=next_cursor)
    return model_response(page)


@router.get(
    "/{term_id}",
    operation_id="getProtectedTerm",
    summary="Read one protected term (id and kind only)",
    response_model=ProtectedTermRead,
    responses=problem_responses(*COMMON_ERRORS, 404),
)
def get_protected_term(term_id: TermId, session: SessionDep, _principal: TermWriter) -> Response:
    """Return a registered term's id, kind and creation time; the value is never stored, so never returned."""
    return model_response(ProtectedTermRead.model_validate(service.get(session=session, term_id=term_id)))


@router.delete(
    "/{term_id}",
    operation_id="deleteProtectedTerm",
    summary="Remove a protected term",
    status_code=204,
    response_class=Response,
    responses=problem_responses(*COMMON_ERRORS, 404),
)
def delete_protected_term(term_id: TermId, session: SessionDep, principal: TermWriter) -> Response:
    """Delete a term; screenings stop matching it on every worker from their next request."""
    service.delete(session=session, term_id=term_id, actor=principal.sub)
    session.commit()
    return Response(status_code=204)
