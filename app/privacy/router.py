"""`/v1/erasures` and `/v1/subjects/{subject_id}/export`: the UK GDPR rights to erasure and of access."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Path, Request, Response

from app.auth.dependencies import require
from app.auth.scopes import Scope
from app.auth.tokens import Principal
from app.db import SessionDep
from app.errors import COMMON_ERRORS, problem_responses
from app.privacy import service
from app.privacy.schemas import ErasureCreate, ErasureRead, SubjectExport
from app.responses import model_response
from app.validation import SINGLE_LINE_PATTERN

router = APIRouter(prefix="/v1", tags=["privacy"])
Admin = Annotated[Principal, require(Scope.ADMIN)]
SubjectId = Annotated[
    str,
    Path(
        min_length=1,
        max_length=200,
        pattern=SINGLE_LINE_PATTERN,
        description="The person's id (author, subject or person id).",
        examples=["vol-0099"],
    ),
]

RetryKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        pattern=r"^[\x21-\x7e]+$",
        description="Accepted like on every POST, but no reply is stored (it would name the person): "
        "an erasure is idempotent by itself, so a retry erases nothing more and answers 200 with zero counts.",
    ),
]


@router.post(
    "/erasures",
    operation_id="eraseSubject",
    summary="Erase everything held about a person",
    response_model=ErasureRead,
    responses=problem_responses(*COMMON_ERRORS, 409),
)
def erase_subject(
    body: ErasureCreate, session: SessionDep, principal: Admin, _idempotency_key: RetryKey = None
) -> Response:
    """Delete the person's screenings, incidents, escalation case, grants and acknowledgements.

    Answers 200 with the counts erased per record type; nothing about the person is kept, not even
    an erasure record, so there is no resource to point a `Location` at: the audit chain's
    `subject.erased` event (named by `audit_seq`) records the erasure under a keyed pseudonym and
    accounts for every row removed, so `verify-audit` still passes. An unknown person, or a repeated
    request, answers 200 with zero counts (safe to retry; an `Idempotency-Key` is accepted but no
    reply is stored, since a stored reply would name the person). A case under appeal or at an open legal-letter step is
    not erased: 409 with `code` `erasure_blocked_appeal_pending` or `erasure_blocked_open_case`.
    """
    result = service.erase(session=session, subject_id=body.subject_id, actor=principal.sub)
    session.commit()
    return model_response(result)


@router.get(
    "/subjects/{subject_id}/export",
    operation_id="exportSubject",
    summary="Export everything held about a person",
    response_model=SubjectExport,
    responses=problem_responses(*COMMON_ERRORS, 404),
)
def export_subject(subject_id: SubjectId, request: Request, session: SessionDep, _principal: Admin) -> Response:
    """Return one JSON document with every record about the person (subject access); 404 when none."""
    now = request.app.state.clock.now()
    settings = request.app.state.settings
    return model_response(service.export(session=session, subject_id=subject_id, settings=settings, now=now))
