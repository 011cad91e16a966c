"""HTTP routes of the incidents domain."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response

from app.auth.dependencies import require
from app.auth.scopes import Scope
from app.auth.tokens import Principal
from app.clock import ClockDep
from app.db import SessionDep
from app.errors import COMMON_ERRORS, created_response, problem_responses
from app.idempotency import IdempotencyDep
from app.incidents import service
from app.incidents.schemas import IncidentCreate, IncidentPage, IncidentRead
from app.pagination import DEFAULT_LIMIT, Cursor, Limit
from app.responses import model_response
from app.validation import AwareDatetime

router = APIRouter(prefix="/v1/incidents", tags=["incidents"])

Writer = Annotated[Principal, require(Scope.INCIDENTS_WRITE)]
Reader = Annotated[Principal, require(Scope.INCIDENTS_READ)]


@router.post(
    "",
    operation_id="createIncident",
    summary="Record a derogatory-post incident",
    response_model=IncidentRead,
    status_code=201,
    responses={
        **created_response(
            "Recorded; `Location` names the incident, `case` is the subject's case.", "/v1/incidents/{incident_id}"
        ),
        **problem_responses(*COMMON_ERRORS, 412),
    },
)
def create_incident(
    incident_in: IncidentCreate, principal: Writer, session: SessionDep, idem: IdempotencyDep, clock: ClockDep
) -> Response:
    """Record an incident about a subject; the first one opens their escalation case at `none`."""
    if (replayed := idem.replay(session)) is not None:
        return replayed
    incident, case = service.create(session=session, incident_in=incident_in, actor=principal.sub, now=clock.now())
    body = service.to_read(incident, case, show_evidence=principal.has(Scope.INCIDENTS_READ)).model_dump(mode="json")
    return idem.commit(
        session, status_code=201, body=body, headers={"Location": f"/v1/incidents/{incident.id}"}, json_ready=True
    )


@router.get(
    "/{incident_id}",
    operation_id="getIncident",
    summary="Read one incident",
    response_model=IncidentRead,
    responses=problem_responses(*COMMON_ERRORS, 404),
)
def get_incident(incident_id: uuid.UUID, principal: Reader, session: SessionDep) -> Response:
    """Return one incident with its evidence and the subject's case."""
    incident = service.get(session=session, incident_id=incident_id)
    case = service.cases_for(session=session, incidents=[incident])[incident.case_id]
    return model_response(service.to_read(incident, case, show_evidence=True))


@router.get(
    "",
    operation_id="listIncidents",
    summary="List incidents",
    response_model=IncidentPage,
    responses=problem_responses(*COMMON_ERRORS),
)
def list_incidents(
    principal: Reader,
    session: SessionDep,
    subject_id: Annotated[str | None, Query(max_length=200, description="Only this subject's incidents.")] = None,
    platform: Annotated[str | None, Query(max_length=50, examples=["facebook"])] = None,
    posted_from: Annotated[AwareDatetime | None, Query(description="Posted at or after (inclusive).")] = None,
    posted_to: Annotated[AwareDatetime | None, Query(description="Posted before (exclusive).")] = None,
    created_from: Annotated[AwareDatetime | None, Query(description="Recorded at or after (inclusive).")] = None,
    created_to: Annotated[AwareDatetime | None, Query(description="Recorded before (exclusive).")] = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Response:
    """List incidents, newest recorded first, filtered by subject, platform or date range."""
    items, next_cursor = service.list_(
        session=session,
        subject_id=subject_id,
        platform=platform,
        posted_from=posted_from,
        posted_to=posted_to,
        created_from=created_from,
        created_to=created_to,
        cursor=cursor,
        limit=limit,
    )
    return model_response(IncidentPage(items=items, next_cursor=next_cursor))
