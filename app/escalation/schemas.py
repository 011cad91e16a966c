"""Request and response models of the escalation API."""

from __future__ import annotations

import datetime as dt
import uuid
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.escalation.ladder import Action, EventKind, Role, Stage, Status
from app.validation import plain_text

Reason = Field(description="Why, in the manager's words (kept in the history).")
ReasonText = Annotated[str, plain_text(2000)]


class AdvanceAction(StrEnum):
    """What `advance` does: the next rung, or the disciplinary referral flag."""

    ADVANCE = "advance"
    DISCIPLINARY_REFERRAL = "disciplinary_referral"


class AppealOutcome(StrEnum):
    """The decision on an appeal."""

    UPHELD = "upheld"
    OVERTURNED = "overturned"


class AdvanceRequest(BaseModel):
    """Take the next step on the ladder (or raise a disciplinary referral)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "reason": "Second public complaint after being spoken to on 2026-11-02.",
                    "incident_ids": ["0b9d8c1e-5f0a-4a57-9a53-2f4f2b0f7d10"],
                },
                {
                    "reason": "Repeated breaches by a member of staff.",
                    "action": "disciplinary_referral",
                    "incident_ids": ["0b9d8c1e-5f0a-4a57-9a53-2f4f2b0f7d10"],
                },
            ]
        },
    )

    reason: ReasonText = Reason
    incident_ids: list[uuid.UUID] = Field(
        default_factory=list,
        max_length=100,
        description="The incidents this step rests on: the subject's, recorded after the previous "
        "step. Empty means every incident recorded since the previous step.",
    )
    action: AdvanceAction = Field(
        default=AdvanceAction.ADVANCE,
        description="`advance` (next stage) or `disciplinary_referral` (a flag; the stage stays).",
    )


class ResolveRequest(BaseModel):
    """Close the case at its current stage."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"reason": "No further posts for six months."}]},
    )

    reason: ReasonText = Reason


class AppealRequest(BaseModel):
    """Lodge an appeal against the latest ladder step."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"reason": "The person says the post was written by someone else."}]},
    )

    reason: ReasonText = Reason


class AppealDecisionRequest(BaseModel):
    """Decide the pending appeal."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"outcome": "overturned", "reason": "The account was shown to be an impersonation."}]
        },
    )

    outcome: AppealOutcome
    reason: ReasonText = Reason


class EventRead(BaseModel):
    """One history event: who, when, why and which incidents."""

    id: uuid.UUID
    version: int = Field(description="The case version this event produced.")
    kind: EventKind
    from_stage: Stage
    to_stage: Stage
    actor: str
    reason: str
    incident_ids: list[uuid.UUID]
    appeal_id: uuid.UUID | None = Field(description="For appeal decisions: the appeal decided.")
    created_at: dt.datetime


class IncidentRef(BaseModel):
    """An incident counted towards the next step (no summary or evidence)."""

    id: uuid.UUID
    platform: str
    posted_at: dt.datetime
    created_at: dt.datetime


class NextActionRead(BaseModel):
    """An action allowed now, with the policy's wording."""

    action: Action
    to_stage: Stage
    wording: str
    method: Literal["POST"] = "POST"
    path: str = Field(description="Where to send it (with `If-Match` set to the case version).")


class PendingAppeal(BaseModel):
    """The appeal awaiting a decision."""

    id: uuid.UUID
    against_stage: Stage
    lodged_at: dt.datetime


class CaseRead(BaseModel):
    """A subject's escalation case. `version` is also the strong ETag."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "subject_id": "vol-0042",
                    "subject_role": "volunteer",
                    "stage": "spoken_to",
                    "status": "open",
                    "version": 2,
                    "disciplinary_referred": False,
                    "pending_appeal": None,
                    "last_step_at": "2026-11-02T10:00:00Z",
                    "history": [],
                    "incidents_since_last_step": [],
                    "next_actions": [
                        {
                            "action": "resolve",
                            "to_stage": "spoken_to",
                            "wording": "Close the case: no further action is needed at this stage.",
                            "method": "POST",
                            "path": "/v1/escalations/vol-0042/resolve",
                        }
                    ],
                    "wording_source": "builtin",
                }
            ]
        }
    )

    subject_id: str
    subject_role: Role
    stage: Stage
    status: Status
    version: int
    disciplinary_referred: bool
    pending_appeal: PendingAppeal | None
    last_step_at: dt.datetime | None = Field(description="When the stage last changed.")
    created_at: dt.datetime
    history: list[EventRead] = Field(description="Every event, oldest first; never rewritten.")
    incidents_since_last_step: list[IncidentRef]
    next_actions: list[NextActionRead]
    wording_source: Literal["pack", "builtin"] = Field(
        description="Whether the wording came from the policy pack or the built-in policy quotes."
    )
