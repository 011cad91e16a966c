"""HTTP routes of the escalation domain."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Request, Response
from sqlmodel import Session

from app.auth.dependencies import require, require_all
from app.auth.scopes import Scope
from app.auth.tokens import Principal
from app.db import SessionDep
from app.errors import COMMON_ERRORS, PreconditionFailed, PreconditionRequired, problem_responses
from app.escalation import letter, service
from app.escalation.ladder import Action
from app.escalation.schemas import (
    AdvanceRequest,
    AppealDecisionRequest,
    AppealOutcome,
    AppealRequest,
    CaseRead,
    ResolveRequest,
)
from app.escalation.wording import PolicyText, policy_text
from app.idempotency import Idempotency, IdempotencyDep
from app.responses import model_response

router = APIRouter(prefix="/v1/escalations", tags=["escalations"])

Reader = Annotated[Principal, require(Scope.ESCALATIONS_READ)]
Writer = Annotated[Principal, require(Scope.ESCALATIONS_WRITE)]
# The letter quotes incident summaries (which may hold a phone number or an address): reading a
# case is not enough to read what HR recorded about the incidents.
LetterReader = Annotated[Principal, require_all(Scope.ESCALATIONS_READ, Scope.INCIDENTS_READ)]
SubjectId = Annotated[
    str,
    Path(
        min_length=1,
        max_length=200,
        description="The subject's external id.",
        examples=["vol-0042"],
    ),
]
IfMatch = Annotated[
    str | None,
    Header(
        alias="If-Match",
        description='The case version from the ETag, e.g. `"3"` (required; 428 without it, 412 when stale).',
    ),
]

ETAG_HEADER = {
    "ETag": {
        "description": 'The case version as a strong entity tag, e.g. `"3"`.',
        "schema": {"type": "string"},
    }
}
ACTION_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The updated case; `ETag` carries its new version.",
        "headers": ETAG_HEADER,
    },
    **problem_responses(*COMMON_ERRORS, 404, 409, 412, 428),
}


def _text(request: Request) -> PolicyText:
    return policy_text(request.app.state.settings.policy_pack)


def _incidents(request: Request) -> service.IncidentSource:
    # Set by the app factory: app.incidents depends on escalation, so it is handed in, not imported.
    return request.app.state.case_incidents


def _etag(version: int) -> str:
    return f'"{version}"'


def expected_version(if_match: str | None) -> int:
    """Parse `If-Match` (`"3"`, or a bare `3`); 428 when absent, 412 when it names no version."""
    if if_match is None or not if_match.strip():
        raise PreconditionRequired(
            'This operation needs If-Match with the case version from the ETag, e.g. If-Match: "3".'
        )
    for candidate in if_match.split(","):
        tag = candidate.strip()
        if tag.startswith('"') and tag.endswith('"') and len(tag) >= 2:
            tag = tag[1:-1]
        if tag.isascii() and tag.isdigit() and len(tag) <= 9:
            return int(tag)
    raise PreconditionFailed(f"If-Match {if_match[:40]!r} does not name a case version.")


def _act(
    *,
    request: Request,
    session: Session,
    idem: Idempotency,
    principal: Principal,
    subject_id: str,
    if_match: str | None,
    action: Action,
    reason: str,
    incident_ids: list[uuid.UUID] | None = None,
    appeal_id: uuid.UUID | None = None,
) -> Response:
    # A retry of a request that already succeeded must replay, even though the version moved on.
    if (replayed := idem.replay(session)) is not None:
        return replayed
    version = expected_version(if_match)
    case = service.apply_action(
        session=session,
        subject_id=subject_id,
        action=action,
        expected_version=version,
        actor=principal.sub,
        reason=reason,
        incidents=_incidents(request),
        incident_ids=incident_ids or [],
        appeal_id=appeal_id,
        now=request.app.state.clock.now(),
    )
    body = service.read(session=session, case=case, text=_text(request), incidents=_incidents(request))
    return idem.commit(session, status_code=200, body=body, headers={"ETag": _etag(case.version)})


@router.get(
    "/{subject_id}",
    operation_id="getEscalation",
    summary="Read a subject's escalation case",
    response_model=CaseRead,
    responses={
        200: {"description": "The case; `ETag` carries its version.", "headers": ETAG_HEADER},
        **problem_responses(*COMMON_ERRORS, 404),
    },
)
def get_escalation(
    subject_id: SubjectId,
    principal: Reader,
    session: SessionDep,
    request: Request,
) -> Response:
    """Return the stage, version, history, incidents since the last step and the next allowed actions."""
    case = service.get_by_subject(session=session, subject_id=subject_id)
    body = service.read(session=session, case=case, text=_text(request), incidents=_incidents(request))
    return model_response(body, headers={"ETag": _etag(case.version)})


@router.post(
    "/{subject_id}/advance",
    operation_id="advanceEscalation",
    summary="Take the next step on the ladder",
    response_model=CaseRead,
    responses=ACTION_RESPONSES,
)
def advance_escalation(
    subject_id: SubjectId,
    body: AdvanceRequest,
    principal: Writer,
    session: SessionDep,
    idem: IdempotencyDep,
    request: Request,
    if_match: IfMatch = None,
) -> Response:
    """Advance one stage (needs an incident since the previous step), or raise a disciplinary referral."""
    return _act(
        request=request,
        session=session,
        idem=idem,
        principal=principal,
        subject_id=subject_id,
        if_match=if_match,
        action=Action(body.action.value),
        reason=body.reason,
        incident_ids=body.incident_ids,
    )


@router.post(
    "/{subject_id}/resolve",
    operation_id="resolveEscalation",
    summary="Close a case",
    response_model=CaseRead,
    responses=ACTION_RESPONSES,
)
def resolve_escalation(
    subject_id: SubjectId,
    body: ResolveRequest,
    principal: Writer,
    session: SessionDep,
    idem: IdempotencyDep,
    request: Request,
    if_match: IfMatch = None,
) -> Response:
    """Resolve the case at its current stage; a later incident reopens it."""
    return _act(
        request=request,
        session=session,
        idem=idem,
        principal=principal,
        subject_id=subject_id,
        if_match=if_match,
        action=Action.RESOLVE,
        reason=body.reason,
    )


@router.post(
    "/{subject_id}/appeals",
    operation_id="lodgeAppeal",
    summary="Lodge an appeal against the latest step",
    response_model=CaseRead,
    responses=ACTION_RESPONSES,
)
def lodge_appeal(
    subject_id: SubjectId,
    body: AppealRequest,
    principal: Writer,
    session: SessionDep,
    idem: IdempotencyDep,
    request: Request,
    if_match: IfMatch = None,
) -> Response:
    """Record an appeal against the latest ladder step; `pending_appeal.id` names it."""
    return _act(
        request=request,
        session=session,
        idem=idem,
        principal=principal,
        subject_id=subject_id,
        if_match=if_match,
        action=Action.LODGE_APPEAL,
        reason=body.reason,
    )


@router.post(
    "/{subject_id}/appeals/{appeal_id}/decision",
    operation_id="decideAppeal",
    summary="Decide a pending appeal",
    response_model=CaseRead,
    responses=ACTION_RESPONSES,
)
def decide_appeal(
    subject_id: SubjectId,
    appeal_id: uuid.UUID,
    body: AppealDecisionRequest,
    principal: Writer,
    session: SessionDep,
    idem: IdempotencyDep,
    request: Request,
    if_match: IfMatch = None,
) -> Response:
    """Uphold the appealed step (it stands) or overturn it (back to the stage before)."""
    action = Action.UPHOLD_APPEAL if body.outcome is AppealOutcome.UPHELD else Action.OVERTURN_APPEAL
    return _act(
        request=request,
        session=session,
        idem=idem,
        principal=principal,
        subject_id=subject_id,
        if_match=if_match,
        action=action,
        reason=body.reason,
        appeal_id=appeal_id,
    )


LETTER_EXAMPLE = (
    "# DRAFT: letter detailing {organisation} concerns\n\n"
    "Subject reference (as recorded by HR): vol-0042 (volunteer)\n...\n"
)


LETTER_TEXT_EXAMPLE = (
    "DRAFT: letter detailing {organisation} concerns\n"
    "==============================================\n\n"
    "Subject reference (as recorded by HR): vol-0042 (volunteer)\n...\n"
)


@router.get(
    "/{subject_id}/letter",
    operation_id="getEscalationLetter",
    summary="Draft the legal letter",
    response_class=Response,
    responses={
        200: {
            "description": "The draft letter: Markdown by default, plain text when `Accept: text/plain`.",
            "content": {
                "text/markdown": {"schema": {"type": "string"}, "example": LETTER_EXAMPLE},
                "text/plain": {"schema": {"type": "string"}, "example": LETTER_TEXT_EXAMPLE},
            },
        },
        **problem_responses(*COMMON_ERRORS, 404, 409),
    },
)
def get_escalation_letter(
    subject_id: SubjectId,
    principal: LetterReader,
    session: SessionDep,
    request: Request,
) -> Response:
    """Draft the legal letter detailing the organisation's concerns (from `legal_letter` on).

    Markdown by default; send `Accept: text/plain` for plain text. Needs both `escalations:read`
    and `incidents:read`: the letter quotes the incidents' summaries and evidence.
    """
    case = service.get_by_subject(session=session, subject_id=subject_id)
    data = service.letter_input(
        session=session,
        case=case,
        evidence_visible=principal.has(Scope.INCIDENTS_READ),
        incidents=_incidents(request),
        now=request.app.state.clock.now(),
    )
    text = _text(request)
    # Read Accept from the request: OpenAPI 3 ignores an `Accept` header parameter, so content
    # negotiation is documented by the two media types of the 200 response instead.
    if _wants_plain(request.headers.get("accept")):
        return Response(letter.render_text(data, text), media_type="text/plain; charset=utf-8")
    return Response(letter.render_markdown(data, text), media_type="text/markdown; charset=utf-8")


def _wants_plain(accept: str | None) -> bool:
    """Return True when the client prefers text/plain over Markdown."""
    if not accept:
        return False
    best: dict[str, float] = {}
    for part in accept.split(","):
        pieces = [p.strip() for p in part.split(";")]
        media, q = pieces[0].lower(), 1.0
        for param in pieces[1:]:
            if param.startswith("q="):
                try:
                    q = float(param[2:])
                except ValueError:
                    q = 0.0
        best[media] = max(best.get(media, 0.0), q)
    return best.get("text/plain", 0.0) > best.get("text/markdown", 0.0)
