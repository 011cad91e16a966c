"""HTTP routes of the screening domain."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse

from app.auth.dependencies import require
from app.auth.scopes import Scope
from app.auth.tokens import Principal
from app.db import SessionDep
from app.errors import COMMON_ERRORS, created_response, problem_responses
from app.idempotency import IdempotencyDep
from app.pagination import DEFAULT_LIMIT, Cursor, Limit
from app.policy.pack import RULE_ID_MAX_LENGTH, RULE_ID_PATTERN
from app.screening import service
from app.screening.dependencies import screener_provider
from app.screening.schemas import (
    ScreeningBatchCreate,
    ScreeningBatchRead,
    ScreeningCreate,
    ScreeningPage,
    ScreeningRead,
)
from app.screening.types import Verdict
from app.validation import AwareDatetime

router = APIRouter(prefix="/v1/screenings", tags=["screenings"])

Writer = Annotated[Principal, require(Scope.SCREENINGS_WRITE)]
Reader = Annotated[Principal, require(Scope.SCREENINGS_READ, Scope.SCREENINGS_WRITE)]


def _only_author(principal: Principal) -> str | None:
    # screenings:read sees everything; screenings:write alone sees the caller's own posts only.
    return None if principal.has(Scope.SCREENINGS_READ) else principal.sub


@router.post(
    "",
    operation_id="createScreening",
    summary="Screen one post against the policy",
    status_code=201,
    response_model=ScreeningRead,
    responses={
        **created_response("Screened and stored; `Location` names the screening.", "/v1/screenings/{screening_id}"),
        200: {"model": ScreeningRead, "description": "Screened with `store: false`: nothing kept, `id` is null."},
        **problem_responses(*COMMON_ERRORS),
    },
)
def create_screening(
    request: Request,
    body: ScreeningCreate,
    session: SessionDep,
    principal: Writer,
    idem: IdempotencyDep,
) -> Response:
    """Screen a post: verdict, findings with spans, a redacted suggestion; stored unless `store: false`.

    Only a keyed HMAC of the text (`text_hmac`), the redacted text and the findings are kept, never
    the text; findings' evidence is redacted as `suggested_text` is.
    Text over the limit (default 10,000 characters) or containing control characters other than
    tab, LF and CR is a 422 naming `body.text`. A cited `authority_id` that is not live for this
    author is ignored, and `notes` says why.
    """
    settings = request.app.state.settings
    service.check_text(body.text, limit=settings.max_text_chars, field="body.text")
    provider = screener_provider(request)
    now = request.app.state.clock.now()
    stored = None
    fast_path = body.store and idem.key is None and body.context.authority_id is None
    if fast_path:
        stored = service.store_with_cached_screener(
            session=session, provider=provider, post=body, actor=principal.sub, now=now
        )
    if stored is None:
        if (replayed := idem.replay(session)) is not None:
            return replayed
        # After a failed fast path the cached screener is known stale: no early run.
        early = idem.key is None and not fast_path
        outcomes = service.screen_current(session=session, provider=provider, posts=[body], now=now, early=early)
        if not body.store:
            body_json = service.outcome_json(outcomes[0], explain=body.explain)
            return idem.commit(session, status_code=200, body=body_json, json_ready=True)
        service.store(session=session, outcomes=outcomes, actor=principal.sub)
        stored = outcomes[0]
    return idem.commit(
        session,
        status_code=201,
        body=service.outcome_json(stored, explain=body.explain),
        headers={"Location": f"/v1/screenings/{stored.id}"},
        json_ready=True,
    )


@router.post(
    "/batch",
    operation_id="createScreeningBatch",
    summary="Screen up to 100 posts in one call",
    status_code=201,
    response_model=ScreeningBatchRead,
    responses={
        201: {"description": "Screened and stored; no `Location` (not one resource): each item has its `id`."},
        200: {"model": ScreeningBatchRead, "description": "Screened with `store: false`: nothing kept."},
        **problem_responses(*COMMON_ERRORS),
    },
)
def create_screening_batch(
    request: Request,
    body: ScreeningBatchCreate,
    session: SessionDep,
    principal: Writer,
    idem: IdempotencyDep,
) -> Response:
    """Screen several posts; results come back in request order and are stored in one transaction.

    More than `POLICY_MAX_BATCH_SIZE` (default 100) posts is a 422 naming `body.items` and the
    limit; each text follows the single-post rules (422 naming `body.items.<n>.text`). There is
    no `Location` header (a batch is not one resource): each item carries its own `id`.
    """
    settings = request.app.state.settings
    service.check_batch(body.items, text_limit=settings.max_text_chars, batch_limit=settings.max_batch_size)
    if (replayed := idem.replay(session)) is not None:
        return replayed
    outcomes = service.screen_current(
        session=session,
        provider=screener_provider(request),
        posts=body.items,
        now=request.app.state.clock.now(),
        early=idem.key is None,
    )
    if body.store:
        service.store(session=session, outcomes=outcomes, actor=principal.sub)
    items = [service.outcome_json(o, explain=body.explain) for o in outcomes]
    return idem.commit(
        session, status_code=201 if body.store else 200, body={"items": items, "count": len(items)}, json_ready=True
    )


@router.get(
    "/{screening_id}",
    operation_id="getScreening",
    summary="Read a stored screening",
    response_model=ScreeningRead,
    responses=problem_responses(*COMMON_ERRORS, 404),
)
def get_screening(
    screening_id: uuid.UUID,
    session: SessionDep,
    principal: Reader,
    explain: Annotated[bool, Query(description="Include each finding's `explanation`.")] = False,
) -> JSONResponse:
    """Return one stored screening; with `screenings:write` alone, only your own (else 404)."""
    row = service.get(session=session, screening_id=screening_id, only_author=_only_author(principal))
    return JSONResponse(service.row_json(row, explain=explain))


@router.get(
    "",
    operation_id="listScreenings",
    summary="List stored screenings",
    response_model=ScreeningPage,
    responses=problem_responses(*COMMON_ERRORS),
)
def list_screenings(
    session: SessionDep,
    principal: Reader,
    verdict: Annotated[Verdict | None, Query(description="Only this verdict.")] = None,
    rule_id: Annotated[
        str | None,
        Query(
            pattern=RULE_ID_PATTERN,
            max_length=RULE_ID_MAX_LENGTH,
            description="Only screenings with a finding of this rule.",
        ),
    ] = None,
    author_id: Annotated[str | None, Query(max_length=200, description="Only this author's posts.")] = None,
    platform: Annotated[str | None, Query(max_length=50, description="Only this platform.")] = None,
    created_from: Annotated[AwareDatetime | None, Query(description="Screened at or after (aware).")] = None,
    created_to: Annotated[AwareDatetime | None, Query(description="Screened before (aware).")] = None,
    explain: Annotated[bool, Query(description="Include each finding's `explanation`.")] = False,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> JSONResponse:
    """List stored screenings newest first; `screenings:write` alone lists only your own."""
    filters = service.ScreeningFilters(
        verdict=verdict,
        rule_id=rule_id,
        author_id=author_id,
        platform=platform,
        created_from=created_from,
        created_to=created_to,
    )
    rows, next_cursor = service.list_screenings(
        session=session, filters=filters, only_author=_only_author(principal), cursor=cursor, limit=limit
    )
    return JSONResponse({"items": [service.row_json(r, explain=explain) for r in rows], "next_cursor": next_cursor})
