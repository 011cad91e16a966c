"""HTTP routes of the policy domain: review status, clauses, review history, acknowledgements."""

from __future__ import annotations

import uuid
from functools import partial
from typing import Annotated

import anyio
from fastapi import APIRouter, Body, Query, Request, Response
from fastapi.responses import JSONResponse

from app.auth.dependencies import require
from app.auth.scopes import Scope
from app.auth.tokens import Principal
from app.db import SessionDep
from app.errors import COMMON_ERRORS, Forbidden, created_response, location_header, problem_responses
from app.idempotency import IdempotencyDep
from app.pagination import DEFAULT_LIMIT, Cursor, Limit
from app.policy import service
from app.policy.dependencies import PackDep, TodayDep
from app.policy.schemas import (
    AcknowledgementCreate,
    AcknowledgementPage,
    AcknowledgementRead,
    OutstandingPage,
    PolicyClauseList,
    PolicyReviewCreate,
    PolicyReviewPage,
    PolicyReviewRead,
    PolicyStatusRead,
)
from app.policy.schemas import PersonId as PersonIdType
from app.policy.schemas import VersionLabel as VersionLabelType
from app.responses import model_response

router = APIRouter(prefix="/v1/policy", tags=["policy"])

Reader = Annotated[Principal, require(Scope.POLICY_READ)]
Writer = Annotated[Principal, require(Scope.POLICY_WRITE)]
# Acknowledging yourself needs only policy:read; HR (policy:write) may acknowledge for others.
Acknowledger = Annotated[Principal, require(Scope.POLICY_READ, Scope.POLICY_WRITE)]

ACKNOWLEDGEMENT_LOCATION = "/v1/policy/acknowledgements/{acknowledgement_id}"


@router.get(
    "",
    operation_id="getPolicyStatus",
    summary="Read the policy's review status",
    response_model=PolicyStatusRead,
    responses=problem_responses(*COMMON_ERRORS),
)
async def get_policy_status(
    principal: Reader, request: Request, session: SessionDep, pack: PackDep, today: TodayDep
) -> JSONResponse:
    """Return whether the policy is current, due soon or overdue, and how many people have acknowledged it.

    Each worker reuses its answer for `POLICY_STATUS_CACHE_SECONDS` (default 5): the counts may
    lag that long behind acknowledgements and people recorded through other workers.
    """
    # Async: a cached answer costs no thread-pool hop (a quarter of this route's CPU); only the
    # database work of a miss runs in a worker thread.
    cache = request.app.state.policy_status_cache
    body = cache.get(today)
    if body is None:
        settings = request.app.state.settings
        status = await anyio.to_thread.run_sync(
            partial(
                service.get_status,
                session=session,
                pack=pack,
                today=today,
                interval_months=settings.review_interval_months,
                due_soon_days=settings.review_due_soon_days,
            )
        )
        body = status.model_dump(mode="json")
        cache.put(today, body)
    return JSONResponse(body)


@router.get(
    "/clauses",
    operation_id="listPolicyClauses",
    summary="List the policy's clauses",
    response_model=PolicyClauseList,
    responses=problem_responses(*COMMON_ERRORS),
)
def list_policy_clauses(principal: Reader, pack: PackDep) -> Response:
    """List every clause with its rule id, the policy's own sentence, severity and remediation."""
    return model_response(service.list_clauses(pack=pack))


@router.post(
    "/reviews",
    operation_id="createPolicyReview",
    summary="Record a review of the policy",
    response_model=PolicyReviewRead,
    status_code=201,
    responses={
        **created_response(
            "Recorded; `Location` names the review, which is now the current version.",
            "/v1/policy/reviews/{review_id}",
        ),
        **problem_responses(*COMMON_ERRORS, 409),
    },
)
def create_policy_review(
    request: Request,
    review_in: PolicyReviewCreate,
    principal: Writer,
    session: SessionDep,
    pack: PackDep,
    today: TodayDep,
    idem: IdempotencyDep,
) -> Response:
    """Record a completed review under a new version label; the status becomes `current`."""
    if (replayed := idem.replay(session)) is not None:
        return replayed
    review = service.create_review(session=session, pack=pack, review_in=review_in, today=today, actor=principal.sub)
    location = {"Location": f"/v1/policy/reviews/{review.id}"}
    response = idem.commit(session, status_code=201, body=review, headers=location)
    request.app.state.policy_status_cache.clear()
    return response


@router.get(
    "/reviews",
    operation_id="listPolicyReviews",
    summary="List the policy's review history",
    response_model=PolicyReviewPage,
    responses=problem_responses(*COMMON_ERRORS),
)
def list_policy_reviews(
    principal: Reader, session: SessionDep, pack: PackDep, limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None
) -> Response:
    """List every review newest first, ending with the review printed in the policy itself."""
    return model_response(service.list_reviews(session=session, pack=pack, cursor=cursor, limit=limit))


@router.get(
    "/reviews/{review_id}",
    operation_id="getPolicyReview",
    summary="Read one policy review",
    response_model=PolicyReviewRead,
    responses=problem_responses(*COMMON_ERRORS, 404),
)
def get_policy_review(review_id: uuid.UUID, principal: Reader, session: SessionDep, pack: PackDep) -> Response:
    """Return one review of the history."""
    return model_response(service.get_review(session=session, pack=pack, review_id=review_id))


@router.post(
    "/acknowledgements",
    operation_id="createAcknowledgement",
    summary="Acknowledge the current version of the policy",
    response_model=AcknowledgementRead,
    status_code=201,
    responses={
        200: {
            "description": "Already acknowledged: the existing acknowledgement, unchanged; `Location` names it.",
            "model": AcknowledgementRead,
            "headers": location_header(ACKNOWLEDGEMENT_LOCATION),
        },
        **created_response("Recorded; `Location` names the acknowledgement.", ACKNOWLEDGEMENT_LOCATION),
        **problem_responses(*COMMON_ERRORS, 409),
    },
    # The body is optional (none: the caller acknowledges the current version), so FastAPI wraps
    # its schema in anyOf-null; the examples go on the media type where readers look for them.
    openapi_extra={
        "requestBody": {
            "content": {
                "application/json": {
                    "examples": {
                        "self": {"summary": "The caller acknowledges the current version", "value": {}},
                        "for_someone": {
                            "summary": "HR records it for someone else (policy:write)",
                            "value": {"person_id": "vol-0042"},
                        },
                    }
                }
            }
        }
    },
)
def create_acknowledgement(
    request: Request,
    principal: Acknowledger,
    session: SessionDep,
    pack: PackDep,
    idem: IdempotencyDep,
    ack_in: Annotated[AcknowledgementCreate | None, Body()] = None,
) -> Response:
    """Record that a person has read the current version; once per person and version."""
    if (replayed := idem.replay(session)) is not None:
        return replayed
    ack_in = ack_in or AcknowledgementCreate()
    person_id = ack_in.person_id or principal.sub
    if person_id != principal.sub and not principal.has(Scope.POLICY_WRITE):
        raise Forbidden(
            "Acknowledging for someone else needs the scope policy:write; omit person_id to acknowledge yourself.",
            required_scopes=[Scope.POLICY_WRITE.value],
        )
    ack, created = service.acknowledge(
        session=session, pack=pack, person_id=person_id, version=ack_in.version, actor=principal.sub
    )
    response = idem.commit(
        session,
        status_code=201 if created else 200,
        body=ack,
        headers={"Location": f"/v1/policy/acknowledgements/{ack.id}"},
    )
    request.app.state.policy_status_cache.clear()
    return response


@router.get(
    "/acknowledgements",
    operation_id="listAcknowledgements",
    summary="List acknowledgements of a version",
    response_model=AcknowledgementPage,
    responses=problem_responses(*COMMON_ERRORS, 404),
)
def list_acknowledgements(
    principal: Reader,
    session: SessionDep,
    pack: PackDep,
    version: Annotated[
        VersionLabelType | None, Query(description="Version label; the current version when omitted.")
    ] = None,
    person_id: Annotated[PersonIdType | None, Query(description="Only this person's acknowledgement.")] = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Response:
    """List who has acknowledged a version of the policy, newest first."""
    return model_response(
        service.list_acknowledgements(
            session=session, pack=pack, version=version, person_id=person_id, cursor=cursor, limit=limit
        )
    )


@router.get(
    "/acknowledgements/outstanding",
    operation_id="listOutstandingAcknowledgements",
    summary="List people who have not acknowledged the current version",
    response_model=OutstandingPage,
    responses=problem_responses(*COMMON_ERRORS),
)
def list_outstanding_acknowledgements(
    principal: Writer, session: SessionDep, pack: PackDep, limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None
) -> Response:
    """List known people (acknowledgers, authors, incident subjects) yet to acknowledge the current version."""
    return model_response(service.list_outstanding(session=session, pack=pack, cursor=cursor, limit=limit))


@router.get(
    "/acknowledgements/{acknowledgement_id}",
    operation_id="getAcknowledgement",
    summary="Read one acknowledgement",
    response_model=AcknowledgementRead,
    responses=problem_responses(*COMMON_ERRORS, 404),
)
def get_acknowledgement(acknowledgement_id: uuid.UUID, principal: Reader, session: SessionDep) -> Response:
    """Return one acknowledgement."""
    return model_response(service.get_acknowledgement(session=session, acknowledgement_id=acknowledgement_id))
